"""Terminal output helpers: messages, JSON and the tqdm progress bar."""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import IO

import click

from dvx.logs import printable, shown_path
from dvx.paths import for_command
from dvx.wording import human_size, named_list


def out(message: str = "", nl: bool = True) -> None:
    click.echo(printable(message), nl=nl)


def warn(message: str, quoting: Iterable[BaseException | str] = ()) -> None:
    """Say `message` on stderr, scrubbed of secrets (`scrubbed`): a warning or a problem may
    quote a library's error; `quoting`: the errors it may quote, or their texts."""
    from dvx.cli.scrub import scrubbed

    click.echo(printable(scrubbed(message, quoting)), err=True)


def report_staging(root: str, staged: list[str], to_stage: list[str]) -> None:
    """What a command staged in Git itself (core.autostage), else the `git add` that records
    what it changed; repository-relative paths."""
    if is_quiet():
        return
    if staged:
        out("Staged in Git: " + " ".join(staged))
        return
    paths = recordable(root, to_stage)  # one `git ls-files` for both: the test and the command
    if paths:
        out(f"To record this in Git, run:\n    {git_add_of_recordable(root, paths)}")


def confirm(question: str) -> bool:
    """Ask `question [y/N]` on stderr, as every message goes, so that stdout stays the
    command's output (`--json | jq`); True only for yes, False for no or end of input
    (Ctrl-D). Ctrl-C, SIGTERM or SIGHUP at the question stop the command as they do anywhere
    else (click's own confirm turns them into "Aborted!" and exit status 1)."""
    while True:
        try:
            click.echo(printable(f"{question} [y/N]: "), nl=False, err=True)
            answer = sys.stdin.readline()
        except KeyboardInterrupt:  # its ERROR: paragraph starts on a line of its own
            click.echo(err=True)
            raise
        if not answer:
            click.echo(err=True)
            return False
        answer = answer.strip().lower()
        if answer in ("y", "yes"):
            return True
        if answer in ("", "n", "no"):
            return False
        click.echo("Please answer y or n.", err=True)


def is_quiet() -> bool:
    """-q: print only errors."""
    ctx = click.get_current_context()
    return bool(ctx.obj and ctx.obj.get("quiet"))


def say_nothing(fmt: str | None, message: str) -> None:
    """That there is nothing to show: on stdout in a text table's place; with --csv or --md on
    stderr, since stdout then gets the table with its header alone, which a reader of the
    format reads as no rows."""
    if not is_quiet():
        (out if fmt is None else warn)(message)


def emit_json(doc: object, sort_keys: bool = True) -> None:
    """`sort_keys=False` keeps an order that means something (revisions, newest first).
    Characters are written as they are (UTF-8), except the surrogate escapes of a file name
    that is not valid UTF-8, which are written as JSON escapes (`"\\udce9"` for the byte
    0xE9): the output stays valid UTF-8, and Python's `os.fsencode(json.loads(...)[...])`
    gives back the name's bytes."""
    text = json.dumps(doc, indent=2, sort_keys=sort_keys, ensure_ascii=False)
    click.echo(_LONE_SURROGATE.sub(lambda m: f"\\u{ord(m[0]):04x}", text))


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")  # only inside strings of json.dumps' text


def recordable(root: str, paths: list[str]) -> list[str]:
    """The repository paths that `git add` can record: those in the work tree, and those
    removed from it that Git's index still has (`git add` records their removal). A path in
    neither (a pointer made and then moved or removed before any commit) has nothing to
    record, and `git add` would refuse it and so stage nothing at all."""
    from dvx.scm import Git

    gone = [p for p in paths if not os.path.lexists(os.path.join(root, p))]
    if not gone:
        return paths
    indexed = set(Git(root).ls_files("--", *(f":(literal){p}" for p in gone)))
    return [p for p in paths if p not in gone or p in indexed
            or any(i.startswith(p.rstrip("/") + "/") for i in indexed)]


def git_add(root: str, paths: list[str]) -> str:
    """The `git add` of repository paths as a command to copy and run here: each path
    relative to the current directory (as Git prints paths), quoted for the shell; when the
    command deleted the current directory (`dvx remove --outs` of the data around it), a
    `git -C ROOT add` of the paths as they are in the repository. Paths with nothing to
    record are left out (`recordable`); names Git would read as globs or magic are literal."""
    return git_add_of_recordable(root, recordable(root, paths))


def git_add_of_recordable(root: str, paths: list[str]) -> str:
    """`git add` of paths already found recordable (scm.git_add_command)."""
    from dvx.scm import git_add_command

    return git_add_command(root, paths)


def unignored_note(root: str, paths: list[str], what: str = "the data") -> str:
    """The note for tracked data a command stopped tracking and left in the workspace
    (`paths`, repo paths), whose .gitignore entry it deleted and that no other rule ignores:
    Git sees it now, and `git add -A` would commit it into Git. `what`: what stays, as the
    note names it ("the data", "the output data")."""
    shown = named_list(paths, most=20, name=shown_path)
    add = f"`dvx add {for_command(root, paths[0])}`" if len(paths) == 1 else "`dvx add` it"
    return (f"Note: {what} stays in the workspace, no longer tracked by dvx, and Git no longer "
            f"ignores it ({shown}): `git add -A` would commit its files into Git, which "
            "versions them from then on, and a teammate's `git pull` of that commit "
            "overwrites, without a word, any change of theirs to those files that they have "
            "not recorded with `dvx add` (Git ignored it there). Delete what you no longer "
            f"need, track it with dvx again with {add}, or list it in .gitignore, unless Git "
            "is to version it.")


def kept_untracked(paths: list[str]) -> str:
    """The note for files a delete of tracked data left where they were (.dvxignore keeps
    them out of it: never in the cache, so deleting them would lose them)."""
    shown = named_list(paths, most=20)
    files, them = ("file", "it") if len(paths) == 1 else ("files", "them")
    return f"Kept {len(paths)} {files} dvx does not track (.dvxignore keeps {them} out): {shown}."


def kept_in_git(paths: list[str]) -> str:
    """The note for files a delete of tracked data left where they were as Git's index holds
    them (the team's code, say): Git's files, edits and all, never the data's."""
    shown = named_list(paths, most=20)
    files, them, they_are = (("file", "it", "it is") if len(paths) == 1
                             else ("files", "them", "they are"))
    return (f"Kept {len(paths)} {files} Git tracks (Git's index holds {them}, so {they_are} "
            f"Git's, never the data's): {shown}.")


def objects(count: int, size: int | None = None) -> str:
    """'1 object' / '3 objects (2.0 KiB)'."""
    shown = f"{count} object{'' if count == 1 else 's'}"
    return shown if size is None else f"{shown} ({human_size(size)})"


# Columns a bar leaves free at the end of its line: the terminal's echo of Ctrl-C (`^C`) fits
# there, so the bar's line does not wrap and clearing it leaves nothing of it on the screen.
ECHO_ROOM = 2
DESC_SHARE = 0.3  # of the width, at most, for a bar's description (a long path is shortened)
DESC_MIN = 20
UNSIZED = (80, 24)  # a terminal that reports no size (some emulators, `script`)


class TqdmProgress:
    """Progress bars on stderr, drawn only when stderr is a terminal."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    @contextlib.contextmanager
    def task(self, desc: str, total: int | None, unit: str = "file"
             ) -> Iterator[Callable[[int], None]]:
        if not self.enabled or not total or total < 2:
            yield lambda n: None
            return
        from tqdm import tqdm

        width, lines = _bar_shape(sys.stderr)
        try:
            with tqdm(total=total, desc=_fitted(desc, width), unit=unit, file=sys.stderr,
                      leave=False, ncols=width, nrows=lines, unit_scale=unit == "B",
                      unit_divisor=1024 if unit == "B" else 1000, mininterval=0.2,
                      maxinterval=1.0) as bar:
                if _terminal_width() > 0:
                    bar.dynamic_ncols = _bar_shape  # follows the terminal as it is resized
                yield bar.update
        except KeyboardInterrupt:
            with contextlib.suppress(OSError):  # a terminal gone meanwhile
                sys.stderr.write("\x1b[K")  # the bar is cleared: the echoed ^C after it too
            raise


def _bar_shape(stream: IO[str]) -> tuple[int, int]:
    """The columns and lines a bar on the terminal `stream` may use."""
    import os

    try:
        size = os.get_terminal_size(stream.fileno())
    except OSError:
        return UNSIZED
    if size.columns <= ECHO_ROOM or size.lines <= 0:
        return UNSIZED
    return size.columns - ECHO_ROOM, size.lines - 1


def _fitted(desc: str, width: int) -> str:
    """`desc` (`Adding <path>`), shortened in its middle to a share of the bar's width, so
    that a long path leaves room for the percentage, the sizes and the rate; the end, where
    the file's name is, keeps more."""
    room = max(DESC_MIN, int(width * DESC_SHARE))
    if len(desc) <= room:
        return desc
    tail = (room - 3) * 2 // 3
    return f"{desc[:room - 3 - tail]}...{desc[-tail:]}"


def _terminal_width() -> int:
    import os

    try:
        size = os.get_terminal_size(sys.stderr.fileno())
    except OSError:
        return 0
    return size.columns if size.lines > 0 else 0


def progress_for(quiet: bool) -> TqdmProgress:
    return TqdmProgress(enabled=not quiet and is_terminal(sys.stderr))


def is_terminal(stream: IO[str] | None) -> bool:
    """Is `stream` a terminal? A stream the caller closed (Python's None) is not."""
    return stream is not None and stream.isatty()
