"""The folder `dvx get` (and `get-url`) builds its copy in, beside the path it writes:
`.dvx-get-<random>/`, holding `new` (the copy being built), `old` (with --force, what was at
the path, moved aside just before `new` takes its place) and `held`, a file locked while the
command runs (`fsutil.hold`) that names the path written.

A command killed (kill -9, a power cut) leaves the folder behind, and so does one stopped
(Ctrl-C, SIGTERM) that could not put `old` back at the path, something new being there.
Git ignores it (`gitignore.GET_SCRATCH_PATTERN`, in the clone's exclude file), and a later
get, import or status finds it: one without `old` holds only a partial copy and is removed;
one with `old` holds what the user had at that path, which dvx never deletes: it is named,
with where that is and what to do.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
import time
from dataclasses import dataclass

from dvx import fsutil
from dvx.logs import quoted, shell_quote

PREFIX = ".dvx-get-"
BUILT = "new"
FORMER = "old"
HELD = "held"


# The random part `tempfile.mkdtemp` gives a name: 8 of these characters.
_RANDOM_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_")
_NAME_LENGTH = len(PREFIX) + 8


def is_scratch_name(name: str) -> bool:
    """Is `name` one a scratch folder gets (`.dvx-get-` and 8 random characters)? Never a
    folder of data: a manifest listing files below one is refused."""
    return (len(name) == _NAME_LENGTH and name.startswith(PREFIX)
            and set(name[len(PREFIX):]) <= _RANDOM_CHARS)


def is_scratch_folder(path: str, name: str) -> bool:
    """Is the folder `path` (named `name`) one a get builds in, running or killed at any
    moment? So named, and laid out as only a get lays it out: empty (just made), holding
    only `held` (its name not written yet), or `held` naming a path beside `new` and `old`
    (a get names its path before writing anything else there, and deletes `held` last).
    A workspace walk leaves such a folder out, never data; any other so named is the
    user's, which the walk enters and `dvx add` refuses (`workspace.check_entry_name`)."""
    if not is_scratch_name(name):
        return False
    try:
        inside = set(os.listdir(path))
        if inside <= {HELD}:
            return True
        return inside <= {BUILT, FORMER, HELD} and _read_held(os.path.join(path, HELD)) != ""
    except OSError:
        return False  # gone, not a folder, or `held` unreadable: the walk sees what is there


@dataclass(frozen=True)
class LeftFolder:
    """A folder an interrupted get left: `path` (absolute), the path it wrote (`target`, ""
    when it is not known), and whether it holds what was there before (`FORMER` inside)."""
    path: str
    target: str
    holds_former: bool


class Scratch:
    """A new scratch folder beside the path a get writes, held (locked, naming that path)
    until `drop` deletes it. A kill leaves it whole, for a later get, import or status."""

    def __init__(self, target: str) -> None:
        self.path = tempfile.mkdtemp(prefix=PREFIX, dir=os.path.dirname(target))
        self._kept = False
        try:
            self._fd = os.open(os.path.join(self.path, HELD),
                               os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
            fsutil.hold(self._fd)
            fsutil.write_all(self._fd, os.fsencode(os.path.basename(target)))
        except BaseException:
            _delete(self.path)
            raise

    def keep(self) -> None:
        """Have `drop` leave the folder, as a kill does: it holds what was at the path
        (`FORMER`), which could not go back there."""
        self._kept = True

    def drop(self) -> None:
        """Let the folder go: deleted (never following a link inside) unless kept."""
        os.close(self._fd)
        if not self._kept:
            _delete(self.path)


def left_beside(directory: str) -> list[LeftFolder]:
    """The scratch folders an interrupted get left in `directory` (one scan of it): none a
    running get holds; none for a directory that cannot be listed."""
    try:
        entries = [e for e in os.scandir(directory)
                   if e.name.startswith(PREFIX) and e.is_dir(follow_symlinks=False)]
    except OSError:
        return []
    return [left for left in map(_left, (e.path for e in entries)) if left is not None]


def moved_aside(top: str, missing: list[str]) -> dict[str, LeftFolder]:
    """Of the paths `missing` from the folder `top` ('/'-separated, relative to it), those a
    killed `dvx get --force` moved aside, each with the folder it left: at or below the path
    a left folder beside them (or beside a folder above them, up to `top`) names, whose
    `old` holds it still. One scan per folder above them."""
    folders = {""} | {folder for rel in missing for folder in _folders_above(rel)}
    holding = [(os.path.relpath(left.target, top).replace(os.sep, "/"), left)
               for folder in sorted(folders)
               for left in left_beside(os.path.join(top, folder))
               if left.holds_former and left.target]
    return {rel: left for rel in missing for target, left in holding
            if (rel == target or rel.startswith(target + "/"))
            and _holds_former(left, rel[len(target) + 1:])}


def _holds_former(left: LeftFolder, inside: str) -> bool:
    """Does the `old` of `left` hold what was at `inside` (POSIX, relative to the path it
    was moved aside from; "" for that path itself)? A path deleted from there since is
    deleted, never moved aside."""
    parts = inside.split("/") if inside else []
    return os.path.lexists(os.path.join(left.path, FORMER, *parts))


def _folders_above(rel: str) -> list[str]:
    """The folders holding the POSIX path `rel`, nearest first: 'a/b/c' -> 'a/b', 'a'."""
    parts = rel.split("/")[:-1]
    return ["/".join(parts[:i]) for i in range(len(parts), 0, -1)]


def named_folders(paths: list[str]) -> list[str]:
    """The folders named as scratch folders (`is_scratch_name`) that hold the '/'-separated
    `paths`, the outermost on each path, each once, sorted: a walk enters only such a folder
    of the user's (`is_scratch_folder`), so the files listed in one are the user's."""
    found = set()
    for path in paths:
        parts = path.split("/")
        named = next((i for i, part in enumerate(parts[:-1]) if is_scratch_name(part)), None)
        if named is not None:
            found.add("/".join(parts[:named + 1]))
    return sorted(found)


def left_at(paths: list[str]) -> list[LeftFolder]:
    """Those of the folders at `paths` (named like scratch folders) an interrupted get left."""
    return [left for left in map(_left, paths) if left is not None]


def users_at(paths: list[str]) -> list[str]:
    """Those of the folders at `paths` named as scratch folders that no get laid out
    (`is_scratch_folder`): the user's, whose files nothing versions."""
    return [path for path in paths
            if is_scratch_name(os.path.basename(path)) and os.path.isdir(path)
            and not os.path.islink(path) and not is_scratch_folder(path, os.path.basename(path))]


def _left(path: str) -> LeftFolder | None:
    """The folder at `path` as one a killed get left, None while a get holds it, or may be
    starting to (no name in `held` yet, and made within the hour), and for any folder
    that is not one a get builds in (`is_scratch_folder`: a folder of the user's)."""
    try:
        if (not stat.S_ISDIR(os.lstat(path).st_mode)
                or not is_scratch_folder(path, os.path.basename(path))):
            return None
        target = _read_held(os.path.join(path, HELD))
    except OSError:
        return None  # cannot tell: leave it
    if not target and _recent(path):
        return None
    if target and fsutil.is_held(os.path.join(path, HELD)):
        return None
    if os.sep in target or target in (".", ".."):
        target = ""  # not one a get wrote
    named = os.path.join(os.path.dirname(path), target) if target else ""
    return LeftFolder(path, named, os.path.lexists(os.path.join(path, FORMER)))


def _read_held(held: str) -> str:
    """The name the `held` file holds, "" for none (not written yet, or no such file)."""
    try:
        fd = os.open(held, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except FileNotFoundError:
        return ""
    try:
        return os.fsdecode(os.read(fd, 4096))
    finally:
        os.close(fd)


def _recent(path: str) -> bool:
    try:
        return os.lstat(path).st_mtime > time.time() - fsutil.STALE_TEMP_SECONDS
    except OSError:
        return True  # gone, or cannot tell: leave it


def remove(left: LeftFolder) -> bool:
    """Delete a left folder holding no former content (never following a link inside);
    whether it went. One holding `old` is never deleted."""
    if left.holds_former:
        return False
    _delete(left.path)
    return not os.path.lexists(left.path)


def _delete(path: str) -> None:
    """Delete a get's folder (never following a link inside), `held` last: killed midway, it
    is still one a walk knows as a get's (`is_scratch_folder`), never taken for data."""
    for name in (BUILT, FORMER):
        inside = os.path.join(path, name)
        if os.path.isdir(inside) and not os.path.islink(inside):
            shutil.rmtree(inside, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                os.unlink(inside)
    shutil.rmtree(path, ignore_errors=True)


def what_to_do(left: LeftFolder, shown: str) -> str:
    """The message naming a left folder that holds former content (`shown`: its path as
    the user reads it). Each name is quoted (`quoted`: a name Git commits may hold terminal
    escapes), and the `mv` to paste is shell-quoted after `--`, whatever a name starts with."""
    former = os.path.join(shown, FORMER)
    if not left.target:
        return (f"{quoted(shown)} holds, in {quoted(former)}, what was at the path an "
                f"interrupted `dvx get --force` replaced; dvx never deletes it. To keep it, "
                f"move it where you want it; then delete {quoted(shown)}.")
    target = os.path.join(os.path.dirname(shown), os.path.basename(left.target))
    back = (f"`mv -- {shell_quote(former)} {shell_quote(target)}`"
            if not os.path.lexists(left.target) else f"move {quoted(former)} where you want it")
    return (f"{quoted(shown)} holds, in {quoted(former)}, what was at {quoted(target)} before "
            f"an interrupted `dvx get --force` replaced it; dvx never deletes it. To keep it, "
            f"{back}; then delete {quoted(shown)}.")
