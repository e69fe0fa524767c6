"""Files edited in place through their link into the cache (a hard link of an object, or a
symbolic link to it), which wrote the cached object itself: the object then holds bytes its
oid does not name. A command that makes such a file a copy of its own (`unprotect`,
`remove`, the data a pointer leaving Git left behind) keeps the edit in the copy and moves
the object aside, as checkout does, so no command places or sends those bytes under its
oid; the warning says that the cache no longer holds the recorded version."""

from __future__ import annotations

import os

from dvx.logs import get_logger
from dvx.objects.cache import kept_message
from dvx.ops.status import changed_in_its_object
from dvx.ops.sync_layers import versions_placed
from dvx.paths import for_command, repo_relpath
from dvx.repo import Repo
from dvx.workspace import set_aside_changed

log = get_logger(__name__)


def object_written_through(repo: Repo, path: str, recorded: str | None) -> str | None:
    """The oid of the cache object the file at `path` is itself (a symlink to it, or a hard
    link of the object `recorded` or of one a checkout placed there, an older version a
    `git pull` moved the record from) if an edit through that link changed its bytes
    (`changed_in_its_object`, as status asks)."""
    rel = repo_relpath(repo.root, path)
    if os.path.islink(path):
        candidates = [repo.cache.object_for_symlink(os.path.realpath(path))]
    else:
        candidates = [recorded, *sorted(versions_placed(repo, rel) - {recorded})]
    return next((oid for oid in candidates
                 if oid is not None and changed_in_its_object(repo, rel, oid)), None)


def set_aside_written(repo: Repo, oid: str, path: str, display: str,
                      tracked_after: bool) -> None:
    """Move aside the object `oid`, changed through the link that `path` (of `display`) was
    and now a copy of its own, and say that the cache no longer holds the recorded version.
    `tracked_after`: the path stays tracked, so a pull can place the recorded version."""
    moved = set_aside_changed(repo, [oid]).get(oid)
    if moved is None:
        return  # another process set it aside first, and said so
    where, kept = moved
    rel, named = repo_relpath(repo.root, path), for_command(repo.root, display)
    log.warning("'%s' was edited in place through its link into the cache, which changed the "
                "cached object %s itself: the edit stays in '%s', now a file of its own, and "
                "the object was moved to %s, so the cache no longer holds the recorded "
                "version: %s.%s", rel, oid, rel, where,
                _way_back(repo, named, tracked_after), kept_message(kept))


def _way_back(repo: Repo, named: str, tracked_after: bool) -> str:
    """Where the recorded version of `named` (as the user types it) may still be had."""
    remote = repo.config.get("core", "remote") is not None
    if tracked_after and remote:
        return (f"`dvx pull --force {named}` fetches it from the remote, if it holds it, in "
                f"place of the edit (`dvx commit {named}` records the edit)")
    if tracked_after:
        return (f"no remote is set, so it is gone unless one holds it (then `dvx pull --force "
                f"{named}` fetches it in place of the edit; `dvx commit {named}` records the "
                "edit)")
    return ("only a remote that holds it has it still" if remote
            else "no remote is set, so it is gone unless one holds it")
