"""Data whose pointer left Git: `git checkout` of a branch without it, a `git pull` or merge
that deleted or moved it (`dvx move` on another branch), `git rm X.dvx`. Git removes the
pointer (and the .gitignore entry), but the data stays in the workspace, no longer ignored,
where the next `git add -A` would put it into Git.

The sync record (dvx/syncstate.py) still names such a path. As Git removes a file the new
commit no longer has, `dvx checkout` removes this data when it still holds exactly what was
synced and all of it is in the cache: nothing is lost (the old commit names it and the cache
has it). Anything else stays, and `dvx status` names it until it is dealt with (deleted, or
tracked again with `dvx add`). A path Git tracks again, or whose pointer Git still has (in the
index: deleted by hand, not by Git), is not data left behind.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from dvx import fsutil
from dvx.errors import DvxError
from dvx.logs import get_logger
from dvx.ops.status import UNCHANGED, output_status
from dvx.outputs import Output, scan_outputs
from dvx.paths import POINTER_SUFFIX
from dvx.pointer import Pointer
from dvx.repo import Repo

log = get_logger(__name__)


@dataclass(frozen=True)
class LeftBehind:
    path: str  # repo-relative POSIX path of the data
    removable: bool  # holds what was synced, all of it in the cache


def find_left_behind(repo: Repo) -> list[LeftBehind]:
    """The synced data in the workspace that no pointer or dvx.lock entry names any more.
    Nothing when a pointer or dvx.lock cannot be read: what they name is then unknown."""
    return _scan(repo)[0]


def settle_left_behind(repo: Repo) -> list[str]:
    """Remove the data left behind that can go without loss, forget the records of what is
    gone or Git tracks again, and return the removed paths. Under the repository lock."""
    left, stale = _scan(repo)
    removed = []
    for item in left:
        if not item.removable:
            log.warning("%s: its pointer is no longer in Git, but it changed since dvx placed it "
                        "(or not all of it is in the cache), so it stays. Delete it, or track it "
                        "again with `dvx add %s`.", item.path, item.path)
            continue
        full = repo.abspath(item.path)
        if os.path.isdir(full) and not os.path.islink(full):
            fsutil.rmtree(full)
        else:
            os.unlink(full)
        _prune_empty_parents(repo, item.path)
        removed.append(item.path)
    for path in [*removed, *stale]:
        repo.syncstate.forget(path)
    repo.syncstate.flush()
    return removed


def _scan(repo: Repo) -> tuple[list[LeftBehind], list[str]]:
    """(the data left behind, the records that name nothing to look after any more)."""
    records = repo.syncstate.paths()
    if not records:
        return [], []
    outputs, broken = scan_outputs(repo)
    if broken or repo.unreadable:
        return [], []
    current = {o.path for o in outputs}
    candidates = [p for p in records if not _overlaps(p, current)]
    if not candidates or repo.git is None:
        return [], []
    git_has = set(repo.git.tracked_under([*candidates,
                                          *(p + POINTER_SUFFIX for p in candidates)]))
    left, stale = [], []
    for path in candidates:
        if path + POINTER_SUFFIX in git_has:
            continue  # the pointer was deleted by hand, not by Git: it may come back
        if path in git_has or any(g.startswith(path + "/") for g in git_has):
            stale.append(path)  # Git's own file now
        elif not os.path.lexists(repo.abspath(path)):
            stale.append(path)
        else:
            left.append(LeftBehind(path, holds_what_was_synced(repo, path)))
    return left, stale


def holds_what_was_synced(repo: Repo, path: str) -> bool:
    """Does `path` hold exactly the data dvx last placed there, all of it in the cache?"""
    synced = repo.syncstate.get(path)
    if synced is None or synced.placed is not None:
        return False  # a directory placed in part: its other parts are not known here
    full = repo.abspath(path)
    kind = "dir" if os.path.isdir(full) and not os.path.islink(full) else "file"
    try:
        found = output_status(repo, Output(path, Pointer(kind, repo.algo, synced.oid, 0)))
    except DvxError:
        return False
    return found.workspace == UNCHANGED and found.in_cache and not found.not_pulled


def _overlaps(path: str, outputs: set[str]) -> bool:
    """Is `path` an output, inside one, or around one?"""
    if path in outputs:
        return True
    parent = path.rpartition("/")[0]
    while parent:
        if parent in outputs:
            return True
        parent = parent.rpartition("/")[0]
    prefix = path + "/"
    return any(o.startswith(prefix) for o in outputs)


def _prune_empty_parents(repo: Repo, path: str) -> None:
    """Remove the folders the data leaves empty, as Git does for its files."""
    parent = os.path.dirname(repo.abspath(path))
    while parent != repo.root and parent.startswith(repo.root + os.sep):
        try:
            os.rmdir(parent)
        except OSError:
            return
        parent = os.path.dirname(parent)
