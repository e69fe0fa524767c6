"""The `dvx` command's entry point, kept apart from the command line so that a Ctrl-C while the
commands' modules load ends as one anywhere else does: `ERROR: Interrupted.` and exit status
130, not a Python traceback."""

from __future__ import annotations

import os
import sys

EXIT_INTERRUPTED = 130  # as dvx.errors says; not imported, since that too may be interrupted


def main() -> None:
    try:
        from dvx.cli.main import main as run_command_line
    except KeyboardInterrupt:
        sys.stderr.write("ERROR: Interrupted.\n")
        sys.stderr.flush()
        os._exit(EXIT_INTERRUPTED)
    run_command_line()
