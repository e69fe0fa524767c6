"""Compare a directory in the workspace with its manifest in one sorted pass.

The directory is walked in manifest order (paths.walk_sorted) alongside the manifest and the
stat cache's records below it (read in the same order, a batch at a time), so no per-file
table of the workspace, the manifest or the stat cache is ever built: a directory of a
million files is compared in a few tens of megabytes. Only files whose stat cache record
cannot be trusted are hashed, and only they are held until then.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field

from dvx.fsutil import is_executable, temp_target
from dvx.hashing import hash_file
from dvx.ignore import IGNORE_FILE
from dvx.logs import get_logger
from dvx.objects.statcache import trusted_oid
from dvx.objects.tree import Tree
from dvx.paths import walk_sorted
from dvx.repo import Repo
from dvx.syncstate import Synced
from dvx.threads import map_in_threads
from dvx.workspace import file_state

log = get_logger(__name__)


@dataclass
class Differences:
    added: list[str] = field(default_factory=list)
    modified: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    not_pulled: list[str] = field(default_factory=list)  # never placed here: not deletions

    @property
    def changed(self) -> bool:
        return bool(self.added or self.modified or self.deleted)


def compare_with_tree(repo: Repo, top: str, display: str, tree: Tree,
                      synced: Synced | None) -> Differences | None:
    """How the directory at `top` (repo-relative `display`) differs from `tree`, or None when
    this pass cannot tell and the caller must scan the directory whole: .dvxignore rules
    apply, or something that is neither a file nor a symbolic link is there (the scan names
    it in its error)."""
    if repo.dvxignore.any_rules(display):
        return None
    found = Differences()
    records = repo.statcache.oids_below(top)
    record = next(records, None)
    to_hash: list[tuple[int, str, os.stat_result]] = []
    entries = iter(tree.paths)  # the manifest's paths in order, beside the walk's
    index, entry = 0, next(entries, None)  # entry: the path at index, None past the end

    def gone(rel: str) -> None:
        placed_here = synced is None or synced.covers(rel)
        (found.deleted if placed_here else found.not_pulled).append(rel)

    def compare(i: int, oid: str, executable: bool) -> None:
        if oid != tree.oid_at(i) or executable != tree.executable_at(i):
            found.modified.append(tree.paths[i])

    for rel, path in walk_sorted(top):
        name = rel.rpartition("/")[2]
        if name == IGNORE_FILE:
            return None
        st = os.lstat(path)
        if name[0] == "." and name.endswith(".tmp") and temp_target(name) is not None:
            continue  # an interrupted dvx's file, never data
        if not stat.S_ISREG(st.st_mode) and not stat.S_ISLNK(st.st_mode):
            return None
        while entry is not None and entry < rel:
            gone(entry)
            index, entry = index + 1, next(entries, None)
        if entry != rel:
            found.added.append(rel)
            continue
        i = index
        index, entry = index + 1, next(entries, None)
        if stat.S_ISLNK(st.st_mode):  # a link into the cache (symlink checkouts)
            state = file_state(repo, path, f"{display}/{rel}", st)
            assert state is not None
            compare(i, state.oid, False)
            continue
        while record is not None and record[0] < path:
            record = next(records, None)
        oid = trusted_oid(record[1], st) if record is not None and record[0] == path else None
        if oid is None:
            to_hash.append((i, path, st))
        else:
            compare(i, oid, is_executable(st.st_mode))
    while entry is not None:
        gone(entry)
        entry = next(entries, None)

    def hash_one(item: tuple[int, str, os.stat_result]) -> str:
        i, path, st = item
        log.info("Hashing %s/%s", display, tree.paths[i])
        oid, _ = hash_file(path, repo.algo)
        repo.statcache.put(path, st, oid)
        return oid

    for (i, _, st), oid in zip(to_hash, map_in_threads(hash_one, to_hash,
                                                       size_of=lambda item: item[2].st_size),
                               strict=True):
        compare(i, oid, is_executable(st.st_mode))
    found.modified.sort()
    return found
