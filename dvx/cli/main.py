"""The `dvx` entry point: global options, error rendering, and the command groups."""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Any

import click

from dvx import __version__, faults
from dvx.cli.common import QUIET_HELP, refuse_quiet_with_verbose
from dvx.cli.scrub import scrubbed
from dvx.errors import (
    NOTHING_HALF_WRITTEN,
    STOP_CHAIN_DEPTH,
    STOPPED_BY,
    Interrupted,
    left_half_done,
    stop_status,
    stop_within,
)
from dvx.errors import quoted_by_libraries as _quoted_by_libraries
from dvx.logs import printable, shown_path

EXIT_INTERNAL = 255


# Commands whose targets may be directories, each covering everything tracked below it.
_DIRECTORY_TARGETS = {"add", "commit", "status", "checkout", "push", "pull", "fetch", "remove",
                      "unprotect"}
_STAGE_TARGETS = {"repro", "exp run"}  # targets are stage names


def _instead_of_recursive(where: str) -> str | None:
    """What a DVC user's -R on the command `where` ("dvx repro") is done with in dvx; None
    where the command takes no targets it would apply to."""
    command = where.removeprefix("dvx ")
    if command in _DIRECTORY_TARGETS:
        return ("A directory given as a target covers everything below it, so DVC's -R is "
                "not needed: name the directory.")
    if command in _STAGE_TARGETS:
        return (f"The targets of `{where}` are stages, not directories. DVC's -R ran the "
                f"pipelines of every dvc.yaml below a directory; dvx has one dvx.yaml, and "
                f"`{where}` without targets runs all of its stages (name stages to run only "
                "them and what they depend on).")
    return None


class DvxGroup(click.Group):
    """Turns every error into one clear paragraph and an exit code; never a traceback
    unless -v asks for one on an unexpected internal error."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        """As click's own, except that a mistake on the command line is one `ERROR:`
        paragraph (exit status 2), as every other error is, instead of click's usage
        block."""
        if not kwargs.get("standalone_mode", True):  # a caller's own handling
            return super().main(*args, **kwargs)
        try:
            result = super().main(*args, **{**kwargs, "standalone_mode": False})
        except click.exceptions.NoArgsIsHelpError as exc:  # `dvx`, `dvx remote`: the help
            exc.show()
            sys.exit(exc.exit_code)
        except click.UsageError as exc:
            where = exc.ctx.command_path if exc.ctx is not None else self._command_path(
                kwargs.get("args", args[0] if args else None))
            hint = f"See `{where} --help`."
            message = " ".join(exc.format_message().split())  # click's lists: one line
            if isinstance(exc, click.NoSuchOption) and exc.option_name in ("-R", "--recursive"):
                # DVC's -R, a habit its users bring: dvx's commands have no such option (`ls`
                # aside); what to do instead depends on what the command's targets are.
                message = f"No such option '{exc.option_name}'"  # not click's `--rev` guess
                hint = " ".join(filter(None, (_instead_of_recursive(where), hint)))
            ended = message.endswith((".", "?", ".)", "?)"))  # click's "(Did you mean ...?)"
            _fail(message if ended else message + ".", hint, exc.exit_code)
        except click.ClickException as exc:
            _fail(exc.format_message(), None, exc.exit_code)
        except click.Abort as exc:
            if isinstance(exc.__cause__, KeyboardInterrupt):  # click's, for one outside invoke
                _stopped_by(exc.__cause__)
            click.echo("Aborted!", err=True)  # a question answered no, or Ctrl-D at it
            sys.exit(1)
        except KeyboardInterrupt as exc:  # while click turned an earlier one into Abort
            _stopped_by(exc)
        sys.exit(result if isinstance(result, int) else 0)  # --help, --version: their status

    def _command_path(self, args: Any) -> str:
        """`dvx push` for `dvx push -j`: the commands named on the command line, for an
        error click raised before it knew which command it was parsing for."""
        words = list(sys.argv[1:] if args is None else args)
        path: list[str] = ["dvx"]
        command: click.Command = self
        for word in words:
            if word.startswith("-") or not isinstance(command, click.Group):
                continue
            sub = command.commands.get(word)
            if sub is None:
                break
            path.append(word)
            command = sub
        return " ".join(path)

    def invoke(self, ctx: click.Context) -> Any:
        from dvx.errors import DvxError, LostConnection

        global _in_command
        _refuse_a_deleted_current_directory()
        faults.point("main.before_command")
        try:
            _in_command = True
            result = super().invoke(ctx)
        except SystemExit as exc:
            if _report_unreadable(ctx) and exc.code in (0, None):
                sys.exit(1)
            raise
        except DvxError as exc:
            _report_unreadable(ctx, besides=exc)
            _fail(exc.message, _hint_of(ctx, exc), exc.exit_code, _quoted_by_libraries(exc))
        except LostConnection as exc:  # a socket's broken pipe too: not our reader's
            _fail(f"Cannot reach the {exc.shown}: {exc.strerror}.",
                  "No object was published half-written; check the network and the server, "
                  "then run the command again.", 1, _quoted_by_libraries(exc))
        except BrokenPipeError:
            _quiet_end_of_pipe()
        except PermissionError as exc:
            message, cure = _permission_refused(ctx, exc)
            _fail(message, _cure_hint(exc, cure), 1, _quoted_by_libraries(exc))
        except OSError as exc:
            from dvx.fsutil import FULL_DISK_ERRNOS, FileChangedError, describe, path_too_long

            cure = "make room there" if exc.errno in FULL_DISK_ERRNOS else \
                "let any program writing to it finish" if isinstance(exc, FileChangedError) else \
                "move the repository to a folder with a shorter path (or clone it there)" \
                if path_too_long(exc) else "fix the cause"
            _fail(f"A filesystem operation failed: {describe(exc)}.", _cure_hint(exc, cure), 1,
                  _quoted_by_libraries(exc))
        except KeyboardInterrupt as exc:  # Ctrl-C; Terminated: SIGTERM or SIGHUP
            _stopped_by(exc)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except Exception as exc:
            if stop_within(exc) is not None:  # the user stopped it: said as stopped
                if not _wrapped_stop(exc):  # a bug met on the way out, which -v shows
                    _show_traceback(exc)
                _stopped_by(exc)
            hint = "Please report it; run again with -v to see the traceback."
            if _show_traceback(exc):
                hint = "Please report it, with the traceback above."
            _fail(f"Unexpected internal error: {type(exc).__name__}: {exc}.", hint,
                  EXIT_INTERNAL, _quoted_by_libraries(exc))
        finally:
            _in_command = False
        if _report_unreadable(ctx):
            sys.exit(1)
        return result


def _wrapped_stop(exc: BaseException) -> bool:
    """Is `exc` a stop that Python's machinery wrapped into another error (a stop reached
    along its causes alone: Python 3.11's `Error calling __set_name__`), not an error raised
    while a stop was handled (a bug in a clean-up), which hides the stop in its context?"""
    current: BaseException | None = exc
    for _ in range(STOP_CHAIN_DEPTH):
        if current is None:
            return False
        if isinstance(current, (KeyboardInterrupt, Interrupted)):
            return True
        current = current.__cause__
    return False


def _show_traceback(exc: BaseException) -> bool:
    """Print the traceback of the unexpected error `exc` if -v asked for it, scrubbed as
    every message is; was it printed?"""
    from dvx import logs

    if not logs.is_enabled_for(logs.INFO):
        return False
    import traceback

    trace = "".join(traceback.format_exception(exc)).rstrip("\n")
    click.echo(printable(scrubbed(trace, (trace,))), err=True)
    return True


# The cure of a permission error whose cause the modes do not tell
_FIX_BY_HAND = ("fix its permissions (or those of the folder holding it), or move it out of "
                "the way")


def _permission_refused(ctx: click.Context, exc: PermissionError) -> tuple[str, str]:
    """What a PermissionError no command named itself says, and what cures it: the file or
    folder by its path from here, with the chmod that lets dvx read it (or enter it), or
    write in the folder it was writing to (`fsutil.access_fix`)."""
    from dvx.fsutil import access_fix
    from dvx.logs import shell_quote

    why = exc.strerror or "permission denied"
    if not isinstance(exc.filename, str):
        return f"A file may not be read or changed ({why}).", _FIX_BY_HAND
    fix = access_fix(exc.filename)
    if fix is None:  # the modes allow it: an ACL, a mount option, a change since
        return (f"'{_from_here(ctx, exc.filename)}' may not be read or changed ({why}).",
                _FIX_BY_HAND)
    shown = _from_here(ctx, fix.path)
    chmod = f"`chmod {fix.mode} {shell_quote(shown)}`, as its owner"
    if fix.mode == "u+x":
        return f"'{shown}' may not be entered ({why}).", f"let dvx enter it ({chmod})"
    if fix.reading:
        return f"'{shown}' may not be read ({why}).", f"let dvx read it ({chmod})"
    where = "in the folder" if os.path.isdir(fix.path) else "to the file"  # a read-only file
    return (f"dvx may not write {where} '{shown}' ({why}).",
            f"let dvx write there ({chmod})")


def _from_here(ctx: click.Context, path: str) -> str:
    """`path` as the user names it from the current directory: relative to it inside the
    repository (or below the current directory), else as it is (a cache elsewhere)."""
    from dvx.paths import from_here

    full = os.path.abspath(path)
    real = os.path.join(os.path.realpath(os.path.dirname(full)), os.path.basename(full))
    repos = (ctx.obj or {}).get("repos", [])
    roots = [os.path.realpath(repos[0].root)] if repos else []
    with contextlib.suppress(OSError):
        roots.append(os.path.realpath(os.getcwd()))
    for root in roots:
        if real == root or real.startswith(root.rstrip(os.sep) + os.sep):
            return from_here(root, os.path.relpath(real, root))
    return full


def _cure_hint(exc: OSError, cure: str) -> str:
    """The hint of a filesystem error: `cure`, then running the command again; and what the
    command may have left half-done, when it had begun writing tracked paths (a checkout
    part-way: `left_half_done`), else that nothing was left half-written."""
    left = left_half_done(exc)
    if left is None:
        return f"Nothing was left half-written; {cure} and run the command again."
    return f"{cure[0].upper()}{cure[1:]}. {left}"


def _stopped_by(exc: BaseException) -> None:
    """End the command stopped by Ctrl-C (`exc`), SIGTERM or SIGHUP (Terminated, HungUp),
    or by an error that one of them was wrapped into (`stop_within`), wherever it landed:
    in the command, or just before it started (parsing its command line, where click would
    turn it into "Aborted!" and exit status 1)."""
    stop = stop_within(exc) or exc
    if isinstance(stop, Interrupted):  # what was complete when it stopped
        _fail(stop.message, stop.hint, stop.exit_code)
    code = stop_status(stop)
    _fail(f"{STOPPED_BY[code]}.", NOTHING_HALF_WRITTEN, code)


def _refuse_a_deleted_current_directory() -> None:
    """Every command starts from the current directory (the repository is found from it, and
    paths are given relative to it): one that no longer exists is said to be gone, not taken
    for a filesystem operation that failed."""
    try:
        os.getcwd()
    except FileNotFoundError:
        _fail("The current directory no longer exists (it was deleted); dvx did nothing.",
              "Change to a directory that exists (`cd \"$PWD\"` enters one made again under "
              "that name) and run the command again.", 2)


def _report_unreadable(ctx: click.Context, besides: Exception | None = None) -> bool:
    """A command that went on without the pointer files it could not read says so at the
    end, one paragraph each (and then exits with status 1); True if there were any. One
    whose error is `besides`, the error that ends the command (said next), is not said
    twice: the file skipped first was then refused."""
    from dvx.paths import from_here

    unreadable: dict[str, Any] = {}
    shown: dict[str, str] = {}  # from the current directory, as the message names it
    for repo in (ctx.obj or {}).get("repos", []):
        unreadable.update(repo.unreadable)
        shown.update((path, from_here(repo.root, path)) for path in repo.unreadable)
    for path, exc in sorted(unreadable.items()):
        if _same_error(exc, besides):
            continue
        hint = _hint_of(ctx, exc)
        text = f"ERROR: Skipped {shown_path(shown[path])}: {exc.message}" + (
            f" {hint}" if hint else "")
        click.echo(printable(scrubbed(text, (exc,))), err=True)
    return bool(unreadable)


def _same_error(skipped: Exception, ending: Exception | None) -> bool:
    """Whether `skipped`, the error of a file a command skipped, says what `ending` does:
    the command read the file again, and refused it this time (its own raise, another
    object)."""
    return type(skipped) is type(ending) and str(skipped) == str(ending)


def _hint_of(ctx: click.Context, exc: Any) -> str | None:
    """The error's hint; for a merge conflict, with a word on `dvx install`'s merge driver
    where that driver does not merge the file yet."""
    from dvx.errors import MergeConflictError

    if not isinstance(exc, MergeConflictError) or not exc.driver_hint:
        return exc.hint
    try:
        from dvx.ops.install import merges_with_dvx
        from dvx.repo import Repo

        repos = (ctx.obj or {}).get("repos", [])
        installed = merges_with_dvx(repos[0] if repos else Repo.find(), exc.path)
    except Exception:  # no repository to ask: say what the driver would do
        installed = False
    if installed:
        return exc.hint
    return f"{exc.hint} {exc.driver_hint}" if exc.hint else exc.driver_hint


EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, as for any program a reader stopped listening to


def _quiet_end_of_pipe() -> None:
    """The reader of our output went away (`dvx status | head`): stop quietly, without
    Python's complaint at exit about the unflushable stdout."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    sys.exit(EXIT_BROKEN_PIPE)


def _fail(message: str, hint: str | None, code: int, quoted: tuple[str, ...] = ()) -> None:
    """Say the error and exit with `code`; `quoted`: the text of the libraries' errors the
    message may quote (`scrubbed`)."""
    if code in STOPPED_BY:
        _ignore_ctrl_c()
    text = f"ERROR: {message}" + (f" {hint}" if hint else "")
    click.echo(printable(scrubbed(text, quoted)), err=True)
    if code in STOPPED_BY:
        _stop_now(code)
    sys.exit(code)


_standalone = False  # set by main(): this process is the `dvx` command, not a caller's


def _stop_now(code: int) -> None:
    """After Ctrl-C, SIGTERM or SIGHUP: remove the temporaries in flight and end the process
    at once, without waiting for threads that are still sending or receiving (they would
    finish, or time out, first; one blocked for ever in a read of a hung mount never would).
    Everything dvx writes is complete or not there, so nothing is lost."""
    from dvx import fsutil

    _ignore_ctrl_c()
    faults.point("main.stopping")
    fsutil.remove_temporaries_in_flight()
    if _standalone:
        _tell_the_stores()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


_ctrl_c_interrupted = False  # before _ignore_ctrl_c, Ctrl-C raised KeyboardInterrupt


def _ignore_ctrl_c() -> None:
    """The `dvx` process is stopping (saying why, removing its temporaries): another Ctrl-C,
    an impatient one, must cut neither short. Raised in the middle of them, it would leave
    the temporaries behind and end the process with click's "Aborted!" and exit status 1.
    A caller's own process (not `dvx`: tests, the API) keeps its Ctrl-C."""
    import signal
    import threading

    global _ctrl_c_interrupted
    if _standalone and threading.current_thread() is threading.main_thread():
        before = signal.signal(signal.SIGINT, signal.SIG_IGN)
        _ctrl_c_interrupted = _ctrl_c_interrupted or before is signal.default_int_handler


STORE_CLEANUP_SECONDS = 2.0  # at most, for what a stopped command must still tell its stores


def _tell_the_stores() -> None:
    """Before the process ends at once: abort the multipart uploads in flight (a store keeps,
    and bills, their parts until then; `dvx gc --remote` aborts those this could not), for
    STORE_CLEANUP_SECONDS at most. Another Ctrl-C cuts it short."""
    import signal

    aio = sys.modules.get("dvx.remote.aio")  # not loaded: no store was spoken to
    if aio is None:
        return
    with contextlib.suppress(KeyboardInterrupt):  # Terminated and HungUp too
        try:
            if _ctrl_c_interrupted:  # ignored meanwhile (_ignore_ctrl_c)
                signal.signal(signal.SIGINT, signal.default_int_handler)
            aio.run_stop_cleanups(STORE_CLEANUP_SECONDS)
        finally:
            _ignore_ctrl_c()


def _setup_logging(verbose: int, quiet: bool) -> None:
    from dvx import logs

    level = logs.WARNING
    if quiet:
        level = logs.ERROR
    elif verbose:
        level = logs.DEBUG if verbose > 1 else logs.INFO
    logs.set_level(level, with_names=verbose > 1)
    logs.set_scrubber(scrubbed)


CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.group(cls=DvxGroup, context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, "-V", "--version", prog_name="dvx")
@click.option("-v", "--verbose", count=True, help="Show what dvx is doing (-vv: more).")
@click.option("-q", "--quiet", is_flag=True, help=QUIET_HELP)
@click.pass_context
def cli(ctx: click.Context, verbose: int, quiet: bool) -> None:
    """Version large data and model files together with code in Git.

    \b
    Example, the everyday flow:
      git init && dvx init
      dvx add data/train.csv data/images
      git add -A && git commit -m "data v1"
      dvx remote add -d storage /mnt/share/dvx-store
      dvx push
    """
    ctx.obj = {"quiet": quiet, "verbose": verbose}
    refuse_quiet_with_verbose(ctx)
    _setup_logging(verbose, quiet)


def _register_commands() -> None:
    from dvx.cli import data, exp, git, metrics, pipeline, project, reuse, sync

    for module in (project, data, sync, reuse, pipeline, metrics, exp, git):
        for command in module.COMMANDS:
            cli.add_command(command)
        for alias, command in getattr(module, "ALIASES", {}).items():
            cli.add_command(command, alias)


_register_commands()


def main() -> None:
    import signal

    global _standalone
    _standalone = True
    signal.signal(signal.SIGTERM, _terminate)
    if signal.getsignal(signal.SIGHUP) != signal.SIG_IGN:  # `nohup dvx ...` keeps running
        signal.signal(signal.SIGHUP, _terminate)
    try:
        try:
            cli(prog_name="dvx")
        finally:
            _stop_quietly_on_ctrl_c()
            faults.point("main.after_command")
    except KeyboardInterrupt as exc:  # Terminated too: as the command ended, past its report
        _stop_now(stop_status(exc))


# SIGTERM stops a running command as an exception, which it reports ("Terminated.") on its
# way out; so does SIGHUP, the terminal closing ("Hung up."). Before or after the command runs
# (while Python exits, say) nothing is left to report: the process ends at once with status
# 143 (129), quietly, never with exit status 0 or a complaint from the interpreter. Ctrl-C
# too, once the command has ended (130); before it, it is said as in the command.
_in_command = False


def _terminate(signum: int, frame: object) -> None:
    import signal

    from dvx.errors import HungUp, Terminated

    hung_up = signum == signal.SIGHUP
    if hung_up:
        _leave_a_closed_terminal()
    stop = HungUp() if hung_up else Terminated() if signum == signal.SIGTERM \
        else KeyboardInterrupt()
    if _in_command:
        raise stop
    _stop_now(stop_status(stop))


def _stop_quietly_on_ctrl_c() -> None:
    """Once the command has ended: a Ctrl-C while the process exits ends it as SIGTERM then
    does (_terminate), not with a traceback or exit status 0; one that `nohup` or the
    shell made the process ignore stays ignored."""
    import signal

    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _terminate)


def _leave_a_closed_terminal() -> None:
    """Once the terminal has closed, writing to it fails (EIO): that would turn a clean stop
    into a filesystem error half-way through it. Standard streams on a terminal that hung up
    are pointed at /dev/null; a terminal still there (`kill -HUP PID`) still gets the
    message."""
    import errno
    import termios

    for fd in (0, 1, 2):
        try:
            termios.tcgetattr(fd)
        except termios.error as exc:
            if exc.args[0] == errno.EIO:  # a hung-up terminal; ENOTTY: no terminal at all
                devnull = os.open(os.devnull, os.O_RDWR)
                os.dup2(devnull, fd)
                os.close(devnull)
