"""The command line: click only, split by command group. Nothing below this package prints."""
