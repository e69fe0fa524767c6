"""The cache objects a stage's command could write into through its dependencies.

With cache.type symlink or hardlink, tracked data in the workspace is links to its cache
objects: a command that rewrites its own input in place (pandas' `to_csv` over the CSV it
read) writes into the object, often the only copy of that data here. Read-only files stop
neither root nor a program that changes permissions. So before a stage's command runs,
`linked_inputs` notes the objects its dependencies link to, and after it `written_inputs`
finds those whose bytes no longer hash to their oid (one stat of an object known intact, a
hash of any other; or that another stage running beside it set aside): the stage fails,
and records nothing its command read. The other worktrees of the Git repository share the
cache (a queued run's temporary one, and the workspace it was queued from): `linked_elsewhere`
finds their files that linked to such an object, which no longer hold the data their pointers
record.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from dvx.errors import DvxError
from dvx.ops.worktrees import worktrees_sharing_the_cache
from dvx.outputs import Output, all_outputs, load_tree
from dvx.paths import join_posix, overlaps
from dvx.repo import Repo


@dataclass(frozen=True)
class LinkedInput:
    path: str  # the dependency's file (repo-relative) that links to the object
    oid: str


def linked_inputs(repo: Repo, deps: Iterable[str]) -> list[LinkedInput]:
    """The objects the tracked data at or inside `deps` links to: one look at each file (and
    at its object), the manifests of tracked directories read from the cache."""
    wanted = list(deps)
    found: dict[str, LinkedInput] = {}
    for output in all_outputs(repo):
        if not any(overlaps(output.path, dep) for dep in wanted):
            continue
        for path, oid in _files_of(repo, output):
            if oid not in found and any(overlaps(path, dep) for dep in wanted) \
                    and _links_to(repo, path, oid, repo.cache.oid_path(oid)):
                found[oid] = LinkedInput(path, oid)
    return list(found.values())


def written_inputs(repo: Repo, linked: Iterable[LinkedInput]) -> list[LinkedInput]:
    """Those of `linked` whose object no longer holds the bytes its oid names (`intact`: a
    write in place, even one that sets the mtime back, moves its ctime from the one known
    intact, and the object is hashed), written by the command or, before or while it ran, by
    a stage running beside it. One gone from the cache since was set aside, found written
    by such a stage: which of the two wrote it, no stat tells, so it counts for both."""
    written = []
    for item in linked:
        try:
            now = os.stat(repo.cache.oid_path(item.oid))
        except FileNotFoundError:
            written.append(item)
            continue
        if not repo.cache.intact(item.oid, now):
            written.append(item)
    return written


@dataclass(frozen=True)
class LinkedElsewhere:
    workspace: str  # the root of another worktree of the Git repository, sharing the cache
    paths: tuple[str, ...]  # its files (relative to it) linked to objects set aside


def linked_elsewhere(repo: Repo, moved: dict[str, str | None]) -> list[LinkedElsewhere]:
    """The files of the Git repository's other worktrees that share this cache and link to
    the objects `moved` (oid -> where it was set aside; None: set aside by another process,
    so a hard link to it cannot be told) by worktree: a symbolic link names the object, a
    hard link is the moved file itself. None where the worktrees cannot be read: what is
    asked is only for a message."""
    try:
        others = worktrees_sharing_the_cache(repo)
    except (DvxError, OSError):
        return []
    found = []
    for other in others:
        try:
            paths = tuple(path for output in all_outputs(other)
                          for path, oid in _files_of(other, output)
                          if oid in moved and _links_to(other, path, oid, moved[oid]))
        except (DvxError, OSError):
            continue
        if paths:
            found.append(LinkedElsewhere(other.root, paths))
    return found


def _files_of(repo: Repo, output: Output) -> Iterator[tuple[str, str]]:
    """(repo-relative path, oid) of each file of the tracked output, as recorded."""
    pointer = output.pointer
    if not pointer.is_dir:
        yield output.path, pointer.oid
        return
    tree = load_tree(repo, pointer, output.recorded_in)
    if tree is not None:
        for entry in tree.entries:
            yield join_posix(output.path, entry.path), entry.oid


def _links_to(repo: Repo, path: str, oid: str, object_file: str | None) -> bool:
    """Is the workspace file at `path` a link to the object `oid`: a symbolic link to its
    place in the cache, or a hard one to `object_file` (its file in the cache, or where it
    was moved aside; None: it has none)?"""
    full = repo.abspath(path)
    try:
        st = os.lstat(full)
        if stat.S_ISLNK(st.st_mode):
            target = os.path.join(os.path.dirname(full), os.readlink(full))
            return repo.cache.object_for_symlink(target) == oid
        return object_file is not None and os.path.samestat(st, os.stat(object_file))
    except (FileNotFoundError, NotADirectoryError):
        return False
