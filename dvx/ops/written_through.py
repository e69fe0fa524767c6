"""Files edited in place through their link into the cache (a hard link of an object, or a
symbolic link to it), which wrote the cached object itself: the object then holds bytes its
oid does not name. A command that makes such a file a copy of its own (`unprotect`,
`remove`, the data a pointer leaving Git left behind) keeps the edit in the copy and moves
the object aside, as checkout does, so no command places or sends those bytes under its
oid; the warning says that the cache no longer holds the recorded version."""

from __future__ import annotations

import os
from collections.abc import Sequence

from dvx.logs import get_logger, quoted
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


def set_aside_written(repo: Repo, oid: str, files: Sequence[str],
                      pull_paths: Sequence[str] = ()) -> None:
    """Move aside the object `oid`, changed through a link to it, which each of `files` (full
    paths) was and now is a copy of its own, and say that the cache no longer holds the
    recorded version. `pull_paths`: the tracked paths (as given) the files stay in, where a
    pull can place the recorded version; none if they are tracked no more."""
    moved = set_aside_changed(repo, [oid]).get(oid)
    if moved is None:
        return  # another process set it aside first, and said so
    where, kept = moved
    rels = sorted(repo_relpath(repo.root, file) for file in files)
    log.warning("%s, and the object was moved to %s, so the cache no longer holds the "
                "recorded version: %s.%s", _what_was_edited(rels, oid), where,
                _way_back(repo, pull_paths), kept_message(kept))


def _what_was_edited(rels: Sequence[str], oid: str) -> str:
    """What an edit through a link to the object `oid` did to the files `rels` that linked
    to it: which one it was made through is not known when they are several."""
    if len(rels) == 1:
        return (f"{quoted(rels[0])} was edited in place through its link into the cache, "
                f"which changed the cached object {oid} itself: the edit stays in "
                f"{quoted(rels[0])}, now a file of its own")
    named = ", ".join(quoted(rel) for rel in rels[:-1]) + f" and {quoted(rels[-1])}"
    return (f"{named} linked to one cached object, {oid}, which was edited in place through "
            "one of those links, changing the object itself: the edit stays in each of them, "
            "now files of their own")


def _way_back(repo: Repo, pull_paths: Sequence[str]) -> str:
    """Where the recorded version may still be had (`pull_paths`: the tracked paths, as
    given, a pull can place it at)."""
    remote = repo.has_default_remote
    if not pull_paths:
        return ("only a remote that holds it has it still" if remote
                else "no remote is set, so it is gone unless one holds it")
    named = " ".join(for_command(repo.root, path) for path in pull_paths)
    if remote:
        return (f"`dvx pull --force {named}` fetches it from the remote, if it holds it, in "
                f"place of the edit (`dvx commit {named}` records the edit)")
    return (f"no remote is set, so it is gone unless one holds it (then `dvx pull --force "
            f"{named}` fetches it in place of the edit; `dvx commit {named}` records the "
            "edit)")
