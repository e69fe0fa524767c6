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
from bisect import bisect_left
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from dvx.errors import PathError
from dvx.fsutil import FileChangedError, NotRegularFileError, is_executable, temp_target
from dvx.hashing import hash_file
from dvx.ignore import is_ignore_file
from dvx.logs import get_logger
from dvx.objects.statcache import Entry, trusted_oid
from dvx.objects.tree import Tree
from dvx.paths import listed_spelling, walk_sorted
from dvx.repo import Repo
from dvx.syncstate import Synced, placed_here
from dvx.threads import map_in_threads
from dvx.workspace import cache_link_target

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
    return _merge(repo, top, display, tree, synced, walk_sorted(top), enumerate(tree.paths),
                  repo.statcache.oids_below(top))


def compare_folders(repo: Repo, top: str, display: str, tree: Tree, synced: Synced | None,
                    folders: Iterable[str]) -> Differences | None:
    """`compare_with_tree` for the files directly in `folders` (paths relative to `top`, ""
    for the top itself) only: the folders whose own entries changed since the directory last
    matched `tree` (Fingerprint.parts), the others being as they were then."""
    if repo.dvxignore.any_rules(display):
        return None
    walked: list[tuple[str, str]] = []
    entries: list[tuple[int, str]] = []
    records: list[tuple[str, Entry]] = []
    for folder in folders:
        prefix = f"{folder}/" if folder else ""
        full = f"{top}/{folder}" if folder else top
        try:
            with os.scandir(full) as found:
                walked += [(prefix + e.name, e.path) for e in found
                           if not e.is_dir(follow_symlinks=False)]
        except (FileNotFoundError, NotADirectoryError):
            pass  # the folder is gone: its files are deletions
        entries += [(i, tree.paths[i]) for i in _children(tree, prefix)]
        records += repo.statcache.oids_in(full)
    walked.sort()
    entries.sort(key=lambda pair: pair[1])
    records.sort()
    return _merge(repo, top, display, tree, synced, iter(walked), iter(entries), iter(records))


def held_as_alike(top: str, rel: str, tree: Tree) -> bool:
    """Is `rel`, which the walk did not list, there all the same as another spelling the
    manifest lists too? A case-insensitive filesystem holds 'A.txt' and 'a.txt' as one file,
    and checkout places one of them only: the other is not a deletion, which a commit would
    record."""
    listed = listed_spelling(top, rel)
    return listed is not None and listed != rel and listed in tree


def _children(tree: Tree, prefix: str) -> Iterator[int]:
    """The indices of the entries directly in the folder `prefix` ("" or ending in '/')."""
    if not prefix:
        return (i for i, path in enumerate(tree.paths) if "/" not in path)
    start = bisect_left(tree.paths, prefix)
    end = bisect_left(tree.paths, prefix[:-1] + "0")  # '0' follows '/'
    return (i for i in range(start, end) if "/" not in tree.paths[i][len(prefix):])


def _merge(repo: Repo, top: str, display: str, tree: Tree, synced: Synced | None,
           walked: Iterator[tuple[str, str]], entries: Iterator[tuple[int, str]],
           records: Iterator[tuple[str, Entry]]) -> Differences | None:
    """The workspace's files (`walked`: (relpath, path)), the manifest's entries ((index,
    relpath)) and the stat cache's records ((path, entry)), each in path order, merged."""
    found = Differences()
    record = next(records, None)
    to_hash: list[tuple[int, str, os.stat_result, bool]] = []
    index, entry = next(entries, (0, None))  # entry: the manifest's next path (None: no more)
    reads_exec_bit = repo.reads_exec_bit  # else the manifest's bits are kept, as Git does

    def gone(rel: str) -> None:
        deleted = placed_here(synced, rel) and not held_as_alike(top, rel, tree)
        (found.deleted if deleted else found.not_pulled).append(rel)

    def compare(i: int, oid: str | None, executable: bool) -> None:
        if oid != tree.oid_at(i) or executable != tree.executable_at(i):
            found.modified.append(tree.paths[i])

    stale: list[Entry] = []  # records of paths the walk did not find: gone
    for rel, path in walked:
        while record is not None and record[0] < path:
            stale.append(record[1])
            record = next(records, None)
        if record is not None and record[0] == path:
            matched, record = record, next(records, None)
        else:
            matched = None
        if is_ignore_file(rel):
            return None
        name = rel.rpartition("/")[2]
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            continue  # deleted since the walk: not there
        if name[0] == "." and name.endswith(".tmp") and temp_target(name) is not None:
            continue  # an interrupted dvx's file, never data
        if not stat.S_ISREG(st.st_mode) and not stat.S_ISLNK(st.st_mode):
            return None
        linked = None
        if stat.S_ISLNK(st.st_mode):  # a link into the cache (symlink checkouts)
            try:
                linked = cache_link_target(repo, path, f"{display}/{rel}")
            except PathError:
                return None  # a link of one's own, which dvx cannot track: the scan names it
        while entry is not None and entry < rel:
            gone(entry)
            index, entry = next(entries, (0, None))
        if entry != rel:
            found.added.append(rel)
            continue
        i = index
        index, entry = next(entries, (0, None))
        if linked is not None:
            try:
                st = os.stat(path)  # its object's, which an edit through a link changes
            except FileNotFoundError:  # its object left the cache: it stands for it still
                compare(i, linked, False)
                continue
        # a link's object is read-only, unless chmodded through a link
        executable = is_executable(st.st_mode) if reads_exec_bit else tree.executable_at(i)
        oid = trusted_oid(matched[1], st) if matched is not None else None
        if oid is None:
            to_hash.append((i, path, st, executable))
        else:
            compare(i, oid, executable)
    while entry is not None:
        gone(entry)
        index, entry = next(entries, (0, None))
    if record is not None:
        stale.append(record[1])
    stale += [each for _, each in records]
    repo.statcache.forget(stale)

    def hash_one(item: tuple[int, str, os.stat_result, bool]) -> str | None:
        """The file's oid; None if it is gone, no longer a regular file, or changed while it
        was read: not what the manifest records, either way."""
        i, path, st, _ = item
        log.info("Hashing %s/%s", display, tree.paths[i])
        try:
            oid, _ = hash_file(path, repo.algo)
        except (FileNotFoundError, NotRegularFileError, FileChangedError):
            return None
        repo.statcache.put(path, st, oid)
        return oid

    for (i, _, _, executable), oid in zip(
            to_hash, map_in_threads(hash_one, to_hash, size_of=lambda item: item[2].st_size),
            strict=True):
        compare(i, oid, executable)
    found.modified.sort()
    return found
