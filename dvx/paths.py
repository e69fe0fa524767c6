"""Path rules for repository content, and walks that never follow a symlinked parent.

Paths that come from pointers, manifests or config are untrusted. A repository-relative path
is POSIX, relative, and made only of ordinary names: never '', '.', '..', '.git' or '.dvx'
(in any letter case, as case-insensitive filesystems would fold them), never a backslash or
NUL. `safe_join` is the only way such a path becomes a filesystem path.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field

from dvx.errors import FormatError, PathError
from dvx.fsutil import temp_target

RESERVED_NAMES = frozenset({".git", ".dvx"})
POINTER_SUFFIX = ".dvx"


def check_relpath(rel: object, what: str = "path") -> str:
    """Return `rel` if it is a safe repository-relative POSIX path, else raise FormatError."""
    if not isinstance(rel, str) or not rel:
        raise FormatError(f"Invalid {what} {rel!r}: it must be a non-empty string.")
    problem = _relpath_problem(rel)
    if problem:
        raise FormatError(f"Invalid {what} {rel!r}: {problem}.")
    return rel


def _relpath_problem(rel: str) -> str | None:
    if "\x00" in rel:
        return "it contains a NUL byte"
    if "\\" in rel:
        return "it contains a backslash"
    if "\n" in rel or "\r" in rel:
        return "it contains a line break"
    if rel.startswith("/") or (len(rel) > 1 and rel[1] == ":"):
        return "it is absolute"
    for part in rel.split("/"):
        if part in ("", ".", ".."):
            return "it has an empty, '.' or '..' component"
        if part.casefold() in RESERVED_NAMES:
            return f"it has a reserved '{part}' component"
    return None


def safe_join(root: str, rel: str, what: str = "path") -> str:
    """Join a checked relative path under `root`, refusing symlinked parent directories."""
    check_relpath(rel, what)
    check_no_symlinked_parent(root, rel)
    return os.path.join(root, *rel.split("/"))


def safe_dir_join(root: str, rel: str, what: str = "directory") -> str:
    """Like safe_join, for a directory: the directory itself must not be a symlink either."""
    check_relpath(rel, what)
    check_no_symlinked_parent(root, rel + "/.")
    return os.path.join(root, *rel.split("/"))


def check_no_symlinked_parent(root: str, rel: str) -> None:
    current = root
    for part in rel.split("/")[:-1]:
        current = os.path.join(current, part)
        try:
            mode = os.lstat(current).st_mode
        except FileNotFoundError:
            return  # nothing below a missing directory can be a symlink yet
        if stat.S_ISLNK(mode):
            raise PathError(
                f"Refusing to use '{rel}': its parent '{os.path.relpath(current, root)}' is a "
                "symbolic link, which could lead outside the repository.",
                "Replace the link with a real directory.",
            )


def to_posix(path: str) -> str:
    return path.replace(os.sep, "/")


def repo_relpath(root: str, path: str) -> str:
    """Turn a user-given path (absolute or relative to the cwd) into a repo-relative POSIX path."""
    full = os.path.normpath(os.path.abspath(path))
    rel = os.path.relpath(full, root)
    if rel == ".":
        raise PathError(f"'{path}' is the repository itself.",
                        "Name the files or directories inside it to track.")
    if rel == os.pardir or rel.startswith(os.pardir + os.sep) or os.path.isabs(rel):
        raise PathError(
            f"'{path}' is outside the repository at {root}.",
            "dvx only tracks paths inside the repository.",
        )
    rel = to_posix(rel)
    for part in rel.split("/"):
        if part.casefold() in RESERVED_NAMES:
            raise PathError(f"'{path}' is inside '{part}', which dvx never tracks.")
    return rel


@dataclass(frozen=True)
class WalkEntry:
    relpath: str  # POSIX, relative to the walked directory
    path: str  # filesystem path
    stat: os.stat_result


@dataclass(frozen=True)
class Walk:
    files: list[WalkEntry]
    symlinks: list[str]  # relpaths of symbolic links met (never followed)
    others: list[str]  # sockets, fifos, devices: never tracked
    temps: list[str] = field(default_factory=list)  # dvx's own in-flight files: never data


def walk_directory(top: str) -> Walk:
    """All regular files below `top`, with their lstat, never following symbolic links."""
    files: list[WalkEntry] = []
    symlinks: list[str] = []
    others: list[str] = []
    temps: list[str] = []
    for relpath, path, st in _scan(top, ""):
        mode = st.st_mode
        if temp_target(relpath.rpartition("/")[2]) is not None:
            temps.append(relpath)
        elif stat.S_ISREG(mode):
            files.append(WalkEntry(relpath, path, st))
        elif stat.S_ISLNK(mode):
            symlinks.append(relpath)
        else:
            others.append(relpath)
    return Walk(files, symlinks, others, temps)


def _scan(directory: str, prefix: str) -> Iterator[tuple[str, str, os.stat_result]]:
    with os.scandir(directory) as entries:
        for entry in entries:
            rel = prefix + entry.name
            if entry.is_dir(follow_symlinks=False):
                yield from _scan(entry.path, rel + "/")
            else:
                yield rel, entry.path, entry.stat(follow_symlinks=False)
