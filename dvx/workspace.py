"""Reading the workspace: what oid a tracked file or directory has right now.

The stat cache answers for files whose stat has not changed, so an unchanged workspace is
checked with about one stat per file. Files that must be hashed are hashed in parallel
threads (the hash functions release the GIL while they work).

Symbolic-link policy: a symlink that points at an object of this repository's cache is what
`cache.type symlink` creates, and stands for that object. Any other symlink, whether named on
the command line or met inside a tracked directory, is refused with a clear error: dvx never
silently ingests content from wherever a link points.
"""

from __future__ import annotations

import contextlib
import functools
import os
import stat
from bisect import bisect_left
from collections.abc import Callable, Collection, Container, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from dvx import fsutil
from dvx.errors import (
    DvxError,
    FormatError,
    PathError,
    UnreadableError,
    left_half_done,
    unreadable_error,
)
from dvx.fsutil import PATH_MAX, is_executable
from dvx.get_scratch import is_scratch_name
from dvx.hashing import hash_file, is_valid_oid
from dvx.logs import get_logger, quoted
from dvx.objects.statcache import COARSEST_TICK_NS, StatKey, stat_key
from dvx.objects.tree import Tree, TreeEntry
from dvx.outputs import all_outputs, load_tree
from dvx.paths import (
    POINTER_SUFFIX,
    RESERVED_NAMES,
    WalkEntry,
    at_or_below_any,
    for_command,
    from_here,
    join_posix,
    relpath_problem,
    symlinked_parent,
    walk_directory,
    walked_size,
)
from dvx.pointer import Pointer
from dvx.repo import Repo
from dvx.scm import held_in_index
from dvx.threads import map_in_threads

log = get_logger(__name__)



@dataclass(frozen=True)
class FileState:
    oid: str  # of the bytes there now (a cache link's: of what its object holds now)
    size: int
    executable: bool
    is_cache_link: bool  # a symlink into the cache (cache.type symlink)
    linked_oid: str | None = None  # the object a cache link points at
    dangling: bool = False  # a cache link whose object is not in the cache: it holds nothing
    # Where the bytes of a cache link are, if not at its object's path: the inode it led to,
    # set aside since as changed through a link to it (`set_aside_state`).
    kept_in: str | None = None

    @property
    def holds_its_own_bytes(self) -> bool:
        """Is this file more than a link to an intact object? A cache link whose object was
        changed through a link to it holds the only copy of those bytes."""
        return not self.is_cache_link or self.oid != self.linked_oid


def symlink_error(display: str) -> PathError:
    return PathError(
        f"'{display}' is a symbolic link, and dvx does not follow links to track what they "
        "point at (they could lead outside the repository).",
        "Track the link's target itself, or replace the link with a copy of the data.",
    )


def unreadable_found(root: str, exc: PermissionError, rel: str, inside: bool | None = None
                     ) -> UnreadableError:
    """The error naming what `exc` (met reading `rel`, relative to `root`) could not read:
    the file or folder it names (or the folder on the way to it that may not be entered),
    else `rel` itself, by its path from the current directory. `inside`: whether it is
    inside a tracked directory (None: whenever it is not `rel`)."""
    where, is_dir = rel, False
    if isinstance(exc.filename, str):
        fix = fsutil.access_fix(exc.filename)
        full = fix.path if fix is not None and fix.reading else os.path.abspath(exc.filename)
        where = os.path.relpath(full, root).replace(os.sep, "/")
        is_dir = os.path.isdir(full)
    return unreadable_error(from_here(root, where), is_dir,
                            where != rel if inside is None else inside, path=where)


@contextlib.contextmanager
def reads_named(root: str, rel: str) -> Iterator[None]:
    """Within it, a file or folder of the output `rel` (relative to `root`) that dvx may not
    read is named with its chmod (`unreadable_found`, an UnreadableError); a write refused
    (the folder it writes in: `fsutil.access_fix`) is left as it is, for what the command
    says of a write."""
    try:
        yield
    except PermissionError as exc:
        if not isinstance(exc.filename, str) or left_half_done(exc) is not None:
            raise
        fix = fsutil.access_fix(exc.filename)
        if fix is None or not fix.reading:
            raise
        raise unreadable_found(root, exc, rel) from None


def too_long_error(display: str) -> DvxError:
    return DvxError(
        f"'{display}' cannot be placed or read here: File name too long (its full path is "
        f"longer than the system allows, {PATH_MAX} bytes).",
        "Move the repository to a folder with a shorter path (or clone it there) and run the "
        "command again.",
    )


def stale_link_error(display: str, target: str) -> PathError:
    return PathError(
        f"'{display}' is a symbolic link to '{target}', an object of another dvx cache, not "
        "of this repository's: a repository moved or copied with cache.type symlink keeps "
        "links to the cache where it was.",
        "`dvx checkout --relink` links it to this repository's cache (after `dvx pull`, "
        "if the object is not there).",
    )


def cache_link_target(repo: Repo, path: str, display: str) -> str:
    """The oid of the object the symlink at `path` points at; any other link is refused."""
    target = os.path.join(os.path.dirname(path), os.readlink(path))
    oid = repo.cache.object_for_symlink(target)
    if oid is None:
        raise untrackable_link_error(repo, path, display)
    return oid


def untrackable_link_error(repo: Repo, path: str, display: str) -> PathError:
    """Why the symbolic link at `path`, not into this repository's cache, is not tracked: a
    link into another dvx cache (a moved or copied repository's) is relinked, any other is
    the user's own."""
    if stale_link_oid(repo, path) is not None:
        target = os.path.join(os.path.dirname(path), os.readlink(path))
        return stale_link_error(display, os.path.normpath(target))
    return symlink_error(display)


def warn_untrackable(repo: Repo, exc: PathError) -> None:
    """Warn of a path dvx cannot track (`exc`), once per command: the data's status and the
    status of each stage that depends on it come across the same path."""
    text = f"{exc.message} {exc.hint or ''}".rstrip()
    if text not in repo.warned_untrackable:
        repo.warned_untrackable.add(text)
        log.warning("%s", text)


def stale_link_oid(repo: Repo, path: str) -> str | None:
    """The oid the symbolic link at `path` names if it points at an object of another dvx
    cache (`.../files/<algo>/ab/cdef...`), as the links of a repository moved or copied
    elsewhere do; None for any other link. Nothing is read through it."""
    target = os.path.normpath(os.path.join(os.path.dirname(path), os.readlink(path)))
    parts = target.split(os.sep)
    if len(parts) < 5 or parts[-4:-2] != ["files", repo.algo] or len(parts[-2]) != 2:
        return None
    oid = parts[-2] + parts[-1]
    return oid if is_valid_oid(oid, repo.algo) else None


class SeenFiles:
    """The oid each file hashed by this command had, with the stat it had just before: a
    second look at the same data (a stage's dependencies once its command ended) hashes again
    only the files whose stat moved. The stat cache cannot serve it: it vouches for this
    process's own entries only once they are written with their stamp. An entry is trusted
    while the file keeps that stat and was last changed before `since_ns`, the filesystem's
    clock read before the first look (the racy-clean rule, as the stat cache follows it; a
    file on another filesystem by the coarsest tick)."""

    def __init__(self, since_ns: int, device: int) -> None:
        self.since_ns, self.device = since_ns, device
        self._files: dict[str, tuple[StatKey, str]] = {}

    def get(self, path: str, st: os.stat_result) -> str | None:
        found = self._files.get(path)
        if found is None or found[0] != stat_key(st):
            return None
        limit = self.since_ns if st.st_dev == self.device else self.since_ns - COARSEST_TICK_NS
        return found[1] if max(st.st_mtime_ns, st.st_ctime_ns) < limit else None

    def put(self, path: str, st: os.stat_result, oid: str) -> None:
        self._files[path] = (stat_key(st), oid)


def file_state(repo: Repo, path: str, display: str, st: os.stat_result | None = None,
               seen: SeenFiles | None = None) -> FileState | None:
    """The state of the file at `path`, or None if nothing is there. A cache link is judged
    by its object's stat: an edit or a `chmod +x` through any link to the object shows there,
    and the stat cache vouches for the object's bytes only while that stat is unchanged.
    `seen`: what this command hashed before, asked first; told what is hashed."""
    if st is None:
        try:
            st = os.lstat(path)
        except (FileNotFoundError, NotADirectoryError):  # a file stands where a folder of it goes
            return None
    linked = None
    if stat.S_ISLNK(st.st_mode):
        linked = cache_link_target(repo, path, display)
        aside = set_aside_state(repo, path, display, linked)
        if aside is not None:
            return aside
        try:
            st = os.stat(path)
        except FileNotFoundError:  # its object left the cache: the link still stands for it
            return FileState(linked, 0, False, True, linked, dangling=True)
    elif not stat.S_ISREG(st.st_mode):
        raise not_regular_error(display, "Move it elsewhere.")
    size = st.st_size  # that of the bytes the stat caches vouch for, or of those hashed
    oid = seen.get(path, st) if seen is not None else None
    if oid is None:
        oid = repo.statcache.get(path, st)
    if oid is None:
        log.info("Hashing %s", display)
        try:
            oid, size = hashed_since_stat(repo, path, st, seen)
        except fsutil.NotRegularFileError:  # put there since the lstat
            raise not_regular_error(display, "Move it elsewhere.") from None
        except FileNotFoundError:  # gone since the lstat
            if linked is None:
                return None
            return FileState(linked, 0, False, True, linked, dangling=True)
    executable = is_executable(st.st_mode) if repo.reads_exec_bit else \
        recorded_executable(repo, display)
    return FileState(oid, size, executable, linked is not None, linked)


def hashed_since_stat(repo: Repo, path: str, st: os.stat_result,
                      seen: SeenFiles | None = None) -> tuple[str, int]:
    """The oid and size of the file at `path`, whose stat `st` was taken before, hashed
    now. The size is of what was read, never the stat's: a file rewritten since the stat
    would otherwise pair one version's oid with another's size; for the same reason the
    stat caches (and `seen`) learn the oid only when both sizes agree."""
    oid, size = hash_file(path, repo.algo)
    if size == st.st_size:
        repo.statcache.put(path, st, oid)
        if seen is not None:
            seen.put(path, st, oid)
    return oid, size


def set_aside_state(repo: Repo, path: str, display: str, linked: str) -> FileState | None:
    """The state of the cache link at `path` (`display`), to the object `linked`, if the inode
    it led to when dvx last looked (the stat cache's record) was moved aside since, changed
    through a link to it: by another repository sharing the cache, which cannot make this
    one's links files of their own (`keep_changed_bytes`). The bytes the link showed are
    there alone, whatever the object's path holds now (stored again): the link is modified,
    and `add` records those bytes. None for any other link."""
    entry = repo.statcache.recorded(path)
    kept_in = None if entry is None else repo.cache.set_aside_inode(linked, entry[1])
    if kept_in is None:
        return None
    try:
        oid, size = hash_file(kept_in, repo.algo)
    except OSError:
        return None
    if oid == linked:
        return None  # set aside intact: nothing was changed through the link
    if kept_in not in repo.cache.named_set_aside:
        repo.cache.named_set_aside.add(kept_in)
        log.warning("'%s' links to the object %s, which was changed through a link to it and "
                    "moved aside since (by a repository sharing the cache): the bytes it showed "
                    "are in %s. `dvx add %s` records them; `dvx checkout --force %s` links the "
                    "recorded version again (they stay there).", display, linked, kept_in,
                    for_command(repo.root, display), for_command(repo.root, display))
    executable = is_executable(os.stat(kept_in).st_mode) if repo.reads_exec_bit else \
        recorded_executable(repo, display)
    return FileState(oid, size, executable, True, linked, kept_in=kept_in)


def hard_linked_object(repo: Repo, path: str, display: str, st: os.stat_result) -> str | None:
    """The oid of the cache object that the regular file at `path` (its lstat `st`) is a
    hard link of, if it is one (what cache.type hardlink places): its oid from the stat
    cache, or hashed. A file with one link, or on another filesystem than the cache, is never
    one, and is not read."""
    if st.st_nlink < 2 or st.st_dev != _device_of(repo.cache.root):
        return None
    try:
        state = file_state(repo, path, display, st)
        if state is None:
            return None
        found = os.stat(repo.cache.oid_path(state.oid))
    except (DvxError, OSError):
        return None  # not an object of the cache's
    return state.oid if (found.st_dev, found.st_ino) == (st.st_dev, st.st_ino) else None


def cache_objects_in(repo: Repo, path: str, skip: frozenset[str] = frozenset(),
                     hard_links: bool = False) -> Iterator[tuple[str, str]]:
    """(file, oid) for each file of the data at `path` (but those at or below `skip`) that
    is the cache's object `oid` itself: a symbolic link into the cache or, with `hard_links`,
    a file sharing an object's inode (its oid from the stat cache, or hashed). A file that
    is neither (a copy, the user's own) is never read, only its stat."""
    full = repo.abspath(path)
    top = os.lstat(full)
    files: list[tuple[str, os.stat_result | None]] = [(path, top)]  # None: a symbolic link
    if stat.S_ISDIR(top.st_mode):
        walk = walk_directory(full)
        files = [(f"{path}/{rel}", None) for rel in walk.symlinks]
        if hard_links:
            files += [(f"{path}/{e.relpath}", e.stat) for e in walk.files]
    for rel, st in files:
        if at_or_below_any(rel, skip):
            continue
        file = repo.abspath(rel)
        oid = None
        if st is None or stat.S_ISLNK(st.st_mode):
            oid = repo.cache.object_for_symlink(os.path.join(os.path.dirname(file),
                                                             os.readlink(file)))
        elif hard_links and stat.S_ISREG(st.st_mode):
            oid = hard_linked_object(repo, file, rel, st)
        if oid is not None:
            yield file, oid


def hard_links_of_objects(repo: Repo, files: Mapping[str, tuple[str, os.stat_result]]
                          ) -> set[str]:
    """The files among `files` (repository path -> its full path and lstat; regular files)
    that are hard links of cache objects: by the oid of their bytes (`hard_linked_object`),
    or, for one whose bytes were changed through a link (which changed its object too), by
    its inode: the oids the stat cache recorded with that inode, of a file dvx placed or
    hashed or of an object it checked, each looked up in the cache by its device and inode.
    The stat cache is read once for all of them."""
    found: set[str] = set()
    changed: dict[str, os.stat_result] = {}
    for rel, (full, st) in files.items():
        if hard_linked_object(repo, full, rel, st) is not None:
            found.add(rel)
        elif st.st_nlink > 1 and st.st_dev == _device_of(repo.cache.root):
            changed[rel] = st
    if changed:
        hints = repo.statcache.oids_of_inodes({st.st_ino for st in changed.values()})
        found.update(rel for rel, st in changed.items()
                     if any(_is_object(repo, oid, st) for oid in hints.get(st.st_ino, ())))
    return found


def _is_object(repo: Repo, oid: str, st: os.stat_result) -> bool:
    """Is the file of stat `st` the cache's object `oid`, its very inode?"""
    try:
        found = os.stat(repo.cache.oid_path(oid))
    except (DvxError, OSError):
        return False
    return (found.st_dev, found.st_ino) == (st.st_dev, st.st_ino)


@functools.lru_cache(maxsize=8)
def _device_of(folder: str) -> int | None:
    """The device of the filesystem `folder` is on (None: there is none yet), asked once."""
    try:
        return os.stat(folder).st_dev
    except OSError:
        return None


def recorded_executable(repo: Repo, rel: str) -> bool:
    """The executable bit that the workspace's pointer files (or dvx.lock) record for the
    repository path `rel`: a tracked file's, or its entry's in the manifest of the tracked
    directory holding it; False for a path none records. What dvx reads for a file where
    the filesystem keeps no such bit (`Repo.reads_exec_bit`), as Git reads its index's."""
    recorded = _recorded_pointers(repo)
    pointer = recorded.get(rel)
    if pointer is not None:
        return pointer.executable
    top = rel.rpartition("/")[0]
    while top and top not in recorded:
        top = top.rpartition("/")[0]
    pointer = recorded.get(top) if top else None
    tree = load_tree(repo, pointer) if pointer is not None and pointer.is_dir else None
    entry = tree.get(rel[len(top) + 1:]) if tree is not None else None
    return entry is not None and entry.executable


def _recorded_pointers(repo: Repo) -> dict[str, Pointer]:
    """What the workspace's pointer files and dvx.lock record, by data path: read once a
    command, until `forget_recorded` (dvx.lock written again)."""
    recorded = repo.recorded_pointers
    if recorded is None:
        recorded = repo.recorded_pointers = {o.path: o.pointer for o in all_outputs(repo)}
    return recorded


def forget_recorded(repo: Repo) -> None:
    """Have the next question about what is recorded read the pointers and dvx.lock again:
    for a command that has just written dvx.lock (a stage's run) and goes on reading."""
    repo.recorded_pointers = None


def recorded_below(repo: Repo, rel: str) -> Container[str]:
    """The files, by path relative to the repository path `rel`, that the tracked data at,
    around or inside `rel` records (pointer files, dvx.lock): those a .dvxignore rule added
    since leaves tracked (`DvxIgnore.filter_walk`), as `dvx commit` keeps them. Read when
    first asked, which only a folder a rule applies to does."""
    return _RecordedBelow(repo, rel)


class _RecordedBelow(Container[str]):
    def __init__(self, repo: Repo, rel: str) -> None:
        self._repo, self._rel = repo, rel
        self._paths: frozenset[str] | None = None

    def __contains__(self, relpath: object) -> bool:
        if self._paths is None:
            self._paths = frozenset(_recorded_files_below(self._repo, self._rel))
        return relpath in self._paths


def _recorded_files_below(repo: Repo, rel: str) -> Iterator[str]:
    for path, pointer in _recorded_pointers(repo).items():
        if path.startswith(rel + "/"):  # tracked data inside `rel`
            inside = path[len(rel) + 1:]
            if not pointer.is_dir:
                yield inside
            elif (tree := _tree_or_none(repo, pointer)) is not None:
                yield from (f"{inside}/{p}" for p in tree.paths)
        elif path == rel or rel.startswith(path + "/"):  # the tracked directory, or one around
            tree = _tree_or_none(repo, pointer) if pointer.is_dir else None
            if tree is None:
                continue
            if path == rel:
                yield from tree.paths
                continue
            below = rel[len(path) + 1:]
            # The paths below `below/` sort from `below/` up to `below0` ("0" follows "/").
            rows = range(bisect_left(tree.paths, below + "/"), bisect_left(tree.paths, below + "0"))
            yield from (tree.paths[i][len(below) + 1:] for i in rows)


def _tree_or_none(repo: Repo, pointer: Pointer) -> Tree | None:
    """The pointer's manifest; None when the cache lacks it, or when it is damaged (the
    command reading the data names that)."""
    try:
        return load_tree(repo, pointer)
    except DvxError:
        return None


def with_recorded_exec_bits(repo: Repo, display: str, entries: Iterable[TreeEntry]
                            ) -> list[TreeEntry]:
    """The entries, read below the directory at the repository path `display`, with the
    executable bits recorded for them where the filesystem keeps none (`Repo.reads_exec_bit`);
    as they are elsewhere."""
    if repo.reads_exec_bit:
        return list(entries)
    return [TreeEntry(e.path, e.oid, e.size, recorded_executable(repo, f"{display}/{e.path}"))
            for e in entries]


def not_regular_error(display: str, hint: str) -> PathError:
    return PathError(f"'{display}' is not a regular file (a socket, fifo or device), which dvx "
                     "cannot track.", hint)


def set_aside_changed(repo: Repo, oids: Iterable[str]) -> dict[str, tuple[str, list[str]]]:
    """Move aside the cache objects `oids`, found changed since they were stored; the
    workspace files linked to them keep the changed bytes (`keep_links_on_set_aside`). Each
    one moved, with where it went and the paths that kept its bytes (none of one another
    process moved first)."""
    keep_links_on_set_aside(repo)
    moved: dict[str, tuple[str, list[str]]] = {}
    for oid in oids:
        with contextlib.suppress(FileNotFoundError):  # set aside already (another process)
            moved[oid] = repo.cache.set_aside(oid)
    return moved


def keep_links_on_set_aside(repo: Repo, discarding: Collection[str] = ()) -> None:
    """Have the cache keep the changed bytes of an object it sets aside in the workspace files
    linked to it (`keep_changed_bytes`), whenever this command sets one aside. `discarding`:
    the paths (repo-relative) a checkout --force of this command places next."""
    repo.cache.on_set_aside = functools.partial(keep_changed_bytes, repo,
                                                discarding=tuple(discarding))


def keep_changed_bytes(repo: Repo, moved: Mapping[str, str],
                       discarding: Sequence[str] = ()) -> list[str]:
    """Objects changed through a link to them were set aside (`moved`: oid -> the file that
    now holds their bytes): make each symlink of the tracked data that led to one a file of
    its own holding those bytes. An edit made through a link then stays where it was made,
    `status` shows it modified and `add` records it, instead of a link that leads nowhere (or
    to the bytes stored again). The repo-relative paths so kept; a link that cannot be
    replaced is named in a warning, with where its bytes are. One at or below a path of
    `discarding`, which a checkout --force places again next, is named in a warning of its
    own instead, as an edit that checkout discards (kept only in `moved`); the file holds the
    edit until then, should the recorded version not be had."""
    kept: list[str] = []
    for data_path in _data_paths(repo):
        for path, display in _symlinks_of(repo.abspath(data_path), data_path):
            oid = repo.cache.object_for_symlink(
                os.path.join(os.path.dirname(path), os.readlink(path)))
            if oid is None or oid not in moved:
                continue
            try:
                fsutil.place(moved[oid], path, ("copy",))
            except OSError as exc:
                log.warning("'%s' links to the object %s, which was set aside, and could not be "
                            "made a file of its own holding its changed bytes (%s): they are in "
                            "%s.", display, oid, fsutil.write_failure(exc, path), moved[oid])
                continue
            if any(display == path or display.startswith(path + "/") for path in discarding):
                log.warning("'%s' linked to the cached object %s and held an edit made through "
                            "that link: --force places the recorded version there again, "
                            "discarding the edit, whose bytes are kept in %s.", display, oid,
                            moved[oid])
            else:
                kept.append(display)
    return kept


def _data_paths(repo: Repo) -> list[str]:
    """The paths of the tracked data and of the data synced there once and tracked no more
    (its pointer left Git, no checkout has made it files of their own yet): both may hold
    links to any object. Each at most once, none inside another; never a synced path under a
    folder that is now a symbolic link (a checkout of a commit that made it one), which
    could lead out of the repository."""
    synced = (p for p in repo.syncstate.paths() if symlinked_parent(repo.root, p) is None)
    paths = {*(output.path for output in all_outputs(repo)), *synced}
    return sorted(p for p in paths
                  if not any(folder in paths for folder in _folders_around(p)))


def _folders_around(path: str) -> Iterator[str]:
    """The folders `path` (repo-relative, POSIX) is in, innermost first."""
    while "/" in path:
        path = path.rpartition("/")[0]
        yield path


def _symlinks_of(full: str, display: str) -> list[tuple[str, str]]:
    """The symlinks at or below `full`, the data of an output: (path, repo-relative path)."""
    if os.path.islink(full):
        return [(full, display)]
    if not os.path.isdir(full):
        return []
    try:
        walk = walk_directory(full)
    except OSError:
        return []  # unreadable: nothing dvx placed can be found there
    return [(join_posix(full, rel), f"{display}/{rel}") for rel in walk.symlinks]


def scan_directory(repo: Repo, path: str, display: str,
                   on_hashed: Callable[[int], None] | None = None,
                   recorded: Container[str] = (),
                   on_untrackable: Callable[[str, PathError], None] | None = None,
                   seen: SeenFiles | None = None) -> dict[str, TreeEntry]:
    """The entries the directory at `path` (repo-relative `display`) has now, .dvxignore'd
    files left out (except those of `recorded`, its recorded manifest), by relative path.
    They are not validated as a manifest: `Tree.build` does that when they are recorded.
    An entry dvx cannot track (a link dvx did not make, a socket) is refused, or with
    `on_untrackable` (readers such as diff) reported to it, by repo-relative path, and left
    out. A directory holding another repository (`repository_inside`) is refused whole, or
    reported to `on_untrackable` by its own path, with no entries. `seen`: what this command
    hashed before, asked first; told what is hashed."""
    walk = repo.dvxignore.filter_walk(display, walk_directory(path), recorded)
    if walk.reserved:
        refused = repository_inside_error(display, f"{display}/{walk.reserved[0]}")
        if on_untrackable is None:
            raise refused
        on_untrackable(display, refused)
        return {}
    refusals = [(f"{display}/{rel}", not_regular_error(f"{display}/{rel}", _MOVE_OUT))
                for rel in walk.others]
    entries: list[TreeEntry] = []
    for rel in walk.symlinks:
        try:
            state = file_state(repo, join_posix(path, rel), f"{display}/{rel}", seen=seen)
        except PathError as exc:
            refusals.append((f"{display}/{rel}", exc))
            continue
        assert state is not None
        entries.append(TreeEntry(rel, state.oid, state.size, False))
    for where, refusal in refusals:
        if on_untrackable is None:
            raise refusal
        on_untrackable(where, refusal)
    to_hash = []
    get_oid = repo.statcache.get
    seen_oid = seen.get if seen is not None else None
    for entry in walk.files:
        oid = seen_oid(entry.path, entry.stat) if seen_oid is not None else None
        if oid is None:
            oid = get_oid(entry.path, entry.stat)
        if oid is None:
            to_hash.append(entry)
        else:
            entries.append(TreeEntry(entry.relpath, oid, entry.stat.st_size,
                                     is_executable(entry.stat.st_mode)))

    def hash_one(e: WalkEntry) -> TreeEntry | None:
        log.info("Hashing %s/%s", display, e.relpath)
        try:
            oid, size = hashed_since_stat(repo, e.path, e.stat, seen)
        except (FileNotFoundError, NotADirectoryError):
            return None  # deleted since the walk (or its folder made a file): not there
        except fsutil.NotRegularFileError:  # put there since the walk
            refusal = not_regular_error(f"{display}/{e.relpath}", _MOVE_OUT)
            if on_untrackable is None:
                raise refusal from None
            on_untrackable(f"{display}/{e.relpath}", refusal)
            return None
        if on_hashed:
            on_hashed(1)
        return TreeEntry(e.relpath, oid, size, is_executable(e.stat.st_mode))

    entries.extend(e for e in map_in_threads(hash_one, to_hash, size_of=walked_size)
                   if e is not None)
    return {e.path: e for e in with_recorded_exec_bits(repo, display, entries)}


_MOVE_OUT = "Move it out of the directory."



def remove_temporaries(top: str, temps: Iterable[str], known: Collection[str]) -> None:
    """Delete what an interrupted dvx left below `top`: the temporaries (`temps`, from
    walk_directory) that stood in for one of the `known` relpaths. Hold the repository lock."""
    for rel in not_held_by_git(top, _standing_in_for(temps, known)):
        remove_leftover(join_posix(top, rel))


def not_held_by_git(folder: str, relpaths: list[str]) -> list[str]:
    """Those of `relpaths` (below `folder`, named like dvx's temporaries) that Git's index
    does not hold: a file Git tracks is the repository's, never a temporary, whatever its
    name (a clone can bring one committed with `git add -f`)."""
    held = held_in_index(folder, relpaths)
    return [rel for rel in relpaths if rel not in held]


def _standing_in_for(temps: Iterable[str], known: Collection[str]) -> list[str]:
    """Those of the temporaries `temps` (relpaths) that stood in for one of the `known`
    relpaths: never a file named like one that stood for nothing dvx placed or tracks."""
    found: list[str] = []
    by_parent: dict[str, list[str]] | None = None  # built only for a temporary of a long name
    for rel in temps:
        parent, _, name = rel.rpartition("/")
        target = fsutil.temp_target(name)
        if target is None:
            continue
        if (f"{parent}/{target}" if parent else target) not in known:
            if by_parent is None:
                by_parent = {}
                for path in known:
                    head, _, tail = path.rpartition("/")
                    by_parent.setdefault(head, []).append(tail)
            if not any(fsutil.is_temp_for(name, n) for n in by_parent.get(parent, ())):
                continue
        found.append(rel)
    return found


def temporaries_inside(repo: Repo, rel: str, temps: Iterable[str]) -> list[str]:
    """The paths of those of `temps` (relpaths below the tracked directory at repository path
    `rel`, from a walk of it) that an interrupted dvx left in place of a file the directory
    holds or its manifest records: those a rerun deletes (`remove_temporaries_around`)."""
    top = repo.abspath(rel)
    standing_in = _standing_in_for(temps, _HeldOrRecorded(repo, rel))
    return [join_posix(top, t) for t in not_held_by_git(top, standing_in)]


class _HeldOrRecorded(Collection[str]):
    """The relpaths the directory at repository path `rel` holds now or its manifest records,
    asked one at a time (a lookup each); listed whole (a walk) only for the temporary of a
    name too long to keep whole."""

    def __init__(self, repo: Repo, rel: str) -> None:
        self._top, self._recorded = repo.abspath(rel), recorded_below(repo, rel)
        self._repo, self._rel = repo, rel

    def __contains__(self, relpath: object) -> bool:
        return isinstance(relpath, str) and (
            os.path.lexists(join_posix(self._top, relpath)) or relpath in self._recorded)

    def __iter__(self) -> Iterator[str]:
        try:
            walk = walk_directory(self._top)
        except OSError:
            walk = None  # unreadable: what it holds cannot be listed
        if walk is not None:
            yield from (e.relpath for e in walk.files)
            yield from walk.symlinks
            yield from walk.others
        yield from _recorded_files_below(self._repo, self._rel)

    def __len__(self) -> int:
        return sum(1 for _ in self)


def remove_temporaries_around(repo: Repo, relpaths: Iterable[str]) -> None:
    """Delete the temporaries an interrupted dvx left beside these outputs (their pointers
    and .gitignore files) and inside those that are directories. Hold the repository lock."""
    relpaths = list(relpaths)
    remove_temporaries_beside(repo.root, relpaths)
    for rel in relpaths:
        full = repo.abspath(rel)
        if not os.path.isdir(full) or os.path.islink(full):
            continue
        try:
            temps = walk_directory(full).temps
        except OSError:
            continue  # unreadable: the command names it when it reads the directory
        for path in temporaries_inside(repo, rel, temps):
            remove_leftover(path)


def remove_temporaries_beside(root: str, relpaths: Iterable[str]) -> None:
    """Delete the temporaries an interrupted dvx left beside these outputs, their pointers and
    .gitignore files. Hold the repository lock."""
    for path in temporaries_beside(root, relpaths):
        remove_leftover(path)


def remove_leftover(path: str) -> None:
    """Delete the temporary at `path` (a name dvx marks as its own) if a killed command left
    it: at once (the repository lock keeps every other command from writing there), unless a
    live process holds it."""
    if not fsutil.is_leftover(path):
        return
    try:
        os.unlink(path)
    except (FileNotFoundError, NotADirectoryError):
        return
    log.info("Removed %s, which an interrupted dvx command left", quoted(path))


def temporaries_beside(root: str, relpaths: Iterable[str]) -> list[str]:
    """The temporaries an interrupted dvx left beside these outputs, their pointers and
    .gitignore files (one directory scan per parent)."""
    found: list[str] = []
    names_by_dir: dict[str, set[str]] = {}
    for rel in relpaths:
        parent, _, name = rel.rpartition("/")
        names_by_dir.setdefault(parent, set()).update({name, name + POINTER_SUFFIX, ".gitignore"})
    for parent, names in names_by_dir.items():
        directory = join_posix(root, parent) if parent else root
        # One with a pointer of its own is data a user tracked, never a temporary: kept.
        found += [os.path.relpath(path, root).replace(os.sep, "/")
                  for path in fsutil.temporaries_for(directory, names)
                  if not os.path.lexists(path + POINTER_SUFFIX)]
    return [join_posix(root, rel) for rel in not_held_by_git(root, found)]


# How the reasons start that name a tracked folder holding another repository (`held_why`)
REPOSITORY_INSIDE = "it holds the `.git` or `.dvx` of a repository of its own"


def repository_inside(repo: Repo, display: str, reserved: Iterable[str]) -> str | None:
    """The first of the `.git` and `.dvx` entries `reserved` (relative to the tracked folder
    `display`, as walks find them: `Walk.reserved`) that .dvxignore does not leave out, as a
    repository path; None if none. Its folder is a repository of its own (a clone, a
    submodule, a dvx project): its files are that one's, never data of this one's."""
    for rel in reserved:
        if repo.dvxignore.check(f"{display}/{rel}") is None:
            return f"{display}/{rel}"
    return None


def repository_anywhere_inside(display: str, reserved: Sequence[str]) -> str | None:
    """The first of the `.git` and `.dvx` entries `reserved` (relative to the folder
    `display`: `Walk.reserved`), as a repository path, whatever .dvxignore says; None if
    none. For a folder that would go whole (one standing where a file goes): a rule that
    leaves a `.git` out of a tracked folder's data never makes that repository dvx's to
    delete."""
    return f"{display}/{reserved[0]}" if reserved else None


def _a_repository_of_its_own(entry: str) -> str:
    return (f"('{entry}': a clone, a submodule, a dvx project), whose files are that "
            "repository's, never data of this one")


def held_why(root: str, display: str, entry: str) -> str:
    """Why checkout leaves the tracked folder `display` as it is, --force or not: it holds
    `entry`, another repository's `.git` or `.dvx` (`repository_inside`); at its top, the
    folder itself is that repository, which goes whole."""
    return (f"{REPOSITORY_INSIDE} {_a_repository_of_its_own(entry)}: checkout leaves "
            f"'{display}' as it is, --force or not; {way_out_of_holding(display, entry)}, "
            f"then `dvx checkout {for_command(root, display)}` places the data")


def way_out_of_holding(display: str, entry: str) -> str:
    """What frees the tracked path `display` of `entry`, the `.git` or `.dvx` of another
    repository in the folder there: at the folder's top, the folder is that repository."""
    return "move or rename the folder" if entry.rpartition("/")[0] == display \
        else "move that repository out of it"


def repository_held(repo: Repo, path: str) -> str | None:
    """The `.git` or `.dvx` of another repository that the folder at the repository path
    `path` holds (`repository_inside`), None if it holds none or is no folder: nothing of
    such a folder is dvx's to delete, --force or not."""
    full = repo.abspath(path)
    if os.path.islink(full) or not os.path.isdir(full):
        return None
    return repository_inside(repo, path, walk_directory(full).reserved)


def holding_why(entry: str) -> str:
    """Why a folder holding `entry`, another repository's `.git` or `.dvx`
    (`repository_held`), stays as it is."""
    return f"{REPOSITORY_INSIDE} {_a_repository_of_its_own(entry)}"


def deleting_a_repository_error(display: str, entry: str, way_out: str) -> PathError:
    """The refusal to delete the tracked folder `display`, which holds `entry`, another
    repository's `.git` or `.dvx` (`repository_held`), before anything is changed;
    `way_out`: the hint."""
    return PathError(f"'{display}' holds '{entry}', the `.git` or `.dvx` of a repository of "
                     f"its own {_a_repository_of_its_own(entry)}: dvx deletes nothing of it, "
                     "--force or not.", way_out)


def repository_inside_error(display: str, entry: str) -> PathError:
    """The refusal to record the folder `display`, which holds `entry`, another repository's
    `.git` or `.dvx` (`repository_inside`), as `dvx add` refuses it."""
    name, own = entry.rpartition("/")[2], _a_repository_of_its_own(entry)
    return PathError(f"'{display}' holds '{entry}', and dvx never tracks a '{name}': it is the "
                     f"`.git` or `.dvx` of a repository of its own {own}.",
                     "Move that repository out of the directory (or track its data with dvx "
                     "in it).")


def check_entry_name(rel: str, display: str) -> None:
    parts = rel.split("/")
    for part in parts:
        if part.casefold() in RESERVED_NAMES:
            raise PathError(f"'{display}/{rel}' has a '{part}' component, which dvx never tracks.",
                            "Move it out of the directory before adding it.")
    for i, part in enumerate(parts[:-1]):
        if is_scratch_name(part):  # a manifest listing it is never read (objects/tree.py)
            folder = "/".join([display, *parts[:i + 1]])
            raise PathError(f"'{folder}' is named as the folder `dvx get` builds its copy in "
                            "(.dvx-get- and 8 letters, digits or '_'), a name dvx never "
                            "records in a directory's data.", "Rename the folder.")
    shown = quoted(f"{display}/{rel}")  # its line breaks escaped
    try:
        rel.encode("utf-8")
    except UnicodeEncodeError:
        raise PathError(f"{shown} has a name that is not valid UTF-8.",
                        "Rename it; dvx records names as UTF-8.") from None
    problem = relpath_problem(rel)
    if problem:
        raise PathError(f"{shown} has a name dvx cannot record in a directory manifest: "
                        f"{problem}.", "Rename it, or move it out of the directory.")


def manifest_of_scan(repo: Repo, entries: Collection[TreeEntry], display: str) -> Tree:
    """The manifest of the `entries` scan_directory found in the directory `display`. A name
    no manifest can record is refused as `dvx add` refuses it (PathError from
    check_entry_name), by the file's path in the workspace, not as a malformed manifest."""
    try:
        return Tree.build(repo.algo, entries)
    except FormatError:
        for entry in entries:
            check_entry_name(entry.path, display)
        raise


def delete_tracked_data(repo: Repo, path: str, manifest_oid: str | None = None,
                        git_held: Container[str] = ()) -> list[str]:
    """Delete the data dvx tracks at repo-relative `path`: the file, or the files of the
    directory apart from those .dvxignore keeps out (a file its manifest `manifest_oid`
    records stays data even so), and the folders that leaves empty. What .dvxignore keeps
    out was never in the cache, so it stays, and so do the files Git's index holds,
    `git_held` (relative to `path`, '' for `path` itself: Git's, never the data's, edits
    and all), and any file named like a temporary that Git's index holds: their
    repo-relative paths are returned. A folder holding another repository
    (`repository_inside`) is refused (PathError) before anything is deleted, and no `.git`
    or `.dvx` in it is ever deleted, nor the folder a killed get left in it (get_scratch)."""
    full = repo.abspath(path)
    if not os.path.isdir(full) or os.path.islink(full):
        if "" in git_held:
            return [path]
        os.unlink(full)
        return []
    walk = walk_directory(full)
    inside = repository_inside(repo, path, walk.reserved)
    if inside is not None:
        raise deleting_a_repository_error(path, inside, "Move that repository out of it "
                                          "first.")
    tracked = repo.dvxignore.filter_walk(path, walk, _manifest_paths(repo, path, manifest_oid))
    deleted = [rel for rel in (*(e.relpath for e in tracked.files), *tracked.symlinks)
               if rel not in git_held] + not_held_by_git(full, walk.temps)
    for rel in deleted:
        fsutil.remove_quietly(join_posix(full, rel))
    kept = sorted({*(e.relpath for e in walk.files), *walk.symlinks, *walk.others,
                   *walk.temps} - set(deleted))
    # a `.git` or `.dvx` .dvxignore keeps out stays too, and so does a killed get's folder
    if kept or walk.reserved or walk.scratch:
        prune_empty_dirs(full, deleted)
    else:
        fsutil.rmtree(full)  # only folders are left
    return [f"{path}/{rel}" for rel in kept]


def _manifest_paths(repo: Repo, path: str, oid: str | None) -> set[str]:
    """The relpaths the manifest `oid` records; none if it is not in the cache or unreadable
    (a forced delete then goes by .dvxignore alone)."""
    try:
        tree = None if oid is None else load_tree(repo, Pointer("dir", repo.algo, oid, 0), path)
    except DvxError:
        tree = None
    return set() if tree is None else {e.path for e in tree.entries}


def prune_empty_dirs(top: str, deleted: list[str]) -> None:
    """Remove the folders below `top` that deleting the files `deleted` (relpaths) left
    empty, deepest first; a folder that still holds anything stays."""
    parents = {rel.rpartition("/")[0] for rel in deleted} - {""}
    for parent in sorted(parents, key=lambda p: p.count("/"), reverse=True):
        current = parent
        while current:
            try:
                os.rmdir(join_posix(top, current))
            except OSError:
                break  # not empty (or already gone): leave it
            current = current.rpartition("/")[0]
