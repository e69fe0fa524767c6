"""The `dvx` command's entry point, kept apart from the command line so that a Ctrl-C while the
commands' modules load ends as one anywhere else does: `ERROR: Interrupted.` and exit status
130, not a Python traceback. It also sets up the process before anything else runs: Python's
UTF-8 mode, and standard streams that never fail on a character."""

from __future__ import annotations

import codecs
import os
import sys

EXIT_INTERRUPTED = 130  # as dvx.errors says; not imported, since that too may be interrupted
EXIT_FAILED = 1


def main() -> None:
    _run_in_utf8_mode()
    _write_any_character()
    try:
        from dvx.cli.main import main as run_command_line
    except KeyboardInterrupt:
        sys.stderr.write("ERROR: Interrupted.\n")
        sys.stderr.flush()
        os._exit(EXIT_INTERRUPTED)
    run_command_line()


def _run_in_utf8_mode() -> None:
    """dvx records file names as their UTF-8 bytes, whatever the locale. Outside its UTF-8
    mode Python reads names (and writes them) in the locale's encoding, so in a Latin-1 or
    ASCII locale the interpreter starts again in that mode (`-X utf8`). The option holds for
    this process alone: the environment that Git and stage commands see stays the user's."""
    if os.name != "posix" or sys.flags.utf8_mode or _reads_names_as_utf8():
        return
    try:
        os.execv(sys.executable, [sys.executable, "-X", "utf8", *sys.orig_argv[1:]])
    except OSError as exc:
        sys.stderr.write(f"ERROR: Cannot start Python in its UTF-8 mode ({exc.strerror}), which "
                         "dvx needs to read file names in this locale. Run dvx in a UTF-8 "
                         "locale, or with PYTHONUTF8=1 set.\n")
        sys.stderr.flush()
        os._exit(EXIT_FAILED)


def _reads_names_as_utf8() -> bool:
    return (codecs.lookup(sys.getfilesystemencoding()).name == "utf-8"
            and sys.getfilesystemencodeerrors() == "surrogateescape")


def _write_any_character() -> None:
    """A character stdout's or stderr's encoding cannot hold (PYTHONIOENCODING=latin-1, say)
    is written as a Python escape (`\\u2603`) rather than ending the command half-way
    through its report."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")
