from dvx.entry import main

main()
