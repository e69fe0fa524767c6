from dvx.cli.main import main

main()
