"""The `dvx` command's entry point, kept apart from the command line so that a Ctrl-C while the
commands' modules load ends as one anywhere else does: `ERROR: Interrupted.` and exit status
130, not a Python traceback. It also sets up the process before anything else runs: Python's
UTF-8 mode, the standard streams (open, and never failing on a character)."""

from __future__ import annotations

import codecs
import os
import sys
from typing import NoReturn

EXIT_INTERRUPTED = 130  # as dvx.errors says; not imported, since that too may be interrupted
EXIT_FAILED = 1
STOP_CHAIN_DEPTH = 16  # as dvx.errors.STOP_CHAIN_DEPTH: a stop is met within a few links


def main() -> None:
    _open_closed_standard_streams()
    _run_in_utf8_mode()
    _write_any_character()
    try:
        from dvx.cli.main import main as run_command_line
    except Exception as exc:
        if not _stopped_by_ctrl_c(exc):
            raise
        _say_interrupted()
    except KeyboardInterrupt:
        _say_interrupted()
    run_command_line()


def _say_interrupted() -> NoReturn:
    sys.stderr.write("ERROR: Interrupted.\n")
    sys.stderr.flush()
    os._exit(EXIT_INTERRUPTED)


def _stopped_by_ctrl_c(exc: BaseException) -> bool:
    """Was `exc` raised from or while handling a Ctrl-C (along its __cause__ and
    __context__)? Python wraps one landing in some of its own machinery into another error
    (a class defining dataclass fields, imported then: a RuntimeError "Error calling
    __set_name__"). As dvx.errors.stop_within, which may itself be what was interrupted."""
    pending: list[BaseException | None] = [exc]
    seen: set[int] = set()
    while pending and len(seen) < STOP_CHAIN_DEPTH:
        current = pending.pop(0)
        if current is None or id(current) in seen:
            continue
        if isinstance(current, KeyboardInterrupt):
            return True
        seen.add(id(current))
        pending += [current.__cause__, current.__context__]
    return False


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


def _open_closed_standard_streams() -> None:
    """A standard stream closed by the caller (`2>&-`, `<&-`) is opened on /dev/null, as Git
    does: otherwise the next file dvx opens takes its number, and Git, or a stage command,
    would read its input from that file or write its messages into it. Python reading or
    writing it then sees an empty input, or output that goes nowhere, never a terminal."""
    for fd, name, mode in ((0, "stdin", "r"), (1, "stdout", "w"), (2, "stderr", "w")):
        try:
            os.fstat(fd)
        except OSError:
            _open_devnull_as(fd)
        if getattr(sys, name) is None:
            setattr(sys, name, open(fd, mode, closefd=False))  # noqa: SIM115 - the process keeps it


def _open_devnull_as(fd: int) -> None:
    opened = os.open(os.devnull, os.O_RDWR)  # the lowest free number: fd itself, mostly
    if opened == fd:
        os.set_inheritable(fd, True)  # for Git and stage commands, as the caller's would be
    else:
        os.dup2(opened, fd)
        os.close(opened)


def _write_any_character() -> None:
    """A character stdout's or stderr's encoding cannot hold (PYTHONIOENCODING=latin-1, say)
    is written as a Python escape (`\\u2603`) rather than ending the command half-way
    through its report."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")
