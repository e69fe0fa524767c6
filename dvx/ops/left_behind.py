"""Data whose pointer left Git: `git checkout` of a branch without it, a `git pull` or merge
that deleted or moved it (`dvx move` on another branch), `git rm X.dvx`; and a stage's output
whose dvx.lock entry left Git the same ways. Git removes the
pointer (and mostly the .gitignore entry), but the data stays in the workspace, no longer
ignored, where the next `git add -A` would put it into Git.

The sync record (dvx/syncstate.py) still names such a path. As Git removes a file the new
commit no longer has, `dvx checkout` removes this data when that loses nothing: it still holds
exactly what was synced, every object of it is in this repository's own cache (not a cache
shared with other repositories, whose gc could take the only copy), and only the files dvx
placed go (a file .dvxignore keeps out of the directory stays; of a directory placed in part,
each file must hold a version a checkout placed at its path, or, where none that finished
did, the version one stopped half-way was placing). Anything else stays, its
links into the cache made copies of their own (`_make_own_copies`), and
`dvx status` names it until it is dealt with (deleted, or tracked again with `dvx add`). A
path Git tracks itself (a file, or a directory whose every file is in Git), or whose pointer
Git still has (in the index: deleted by hand, not by Git), or that a stage outputs for Git to
track (`cache: false` in dvx.lock), is not data left behind, nor is a path inside
what dvx tracks now (but the links into the cache of one Git's index took, as `git add -A`
takes what a `git reset` left, become files of their own: a commit must not hold them).
Nor is an output a stage of the workspace's dvx.yaml declares but dvx.lock does not record
yet (moved to a new stage, which has not run; or on a branch whose stage has not run): it
stays, and `dvx status` names the stage that records it. A directory that now
holds files Git tracks or paths dvx tracks (`data/` moved into Git, `data/x.bin` tracked on
its own) is judged by the files dvx placed in it apart
from those, and only they go; data dvx found already there rather than placed (a file `dvx
remove` kept, then checked out at an older commit; not one dvx had placed as an output of its
own) stays. `dvx remove` forgets the record
before it deletes the pointer.
"""

from __future__ import annotations

import contextlib
import functools
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from dvx import fsutil
from dvx.errors import DvxError
from dvx.history import stash_entry_recording
from dvx.lockfile import LOCK_FILE, MAX_LOCK_BYTES, parse_lock, uncached_paths
from dvx.logs import get_logger
from dvx.ops.status import UNCHANGED, output_status
from dvx.ops.sync_layers import holds_a_version_placed, version_tree
from dvx.ops.written_through import object_written_through, set_aside_written
from dvx.outputs import DeclaredOutputs, Output, load_tree, scan_outputs
from dvx.paths import (
    POINTER_SUFFIX,
    at_or_below_any,
    for_command,
    join_posix,
    repo_relpath,
    walk_directory,
)
from dvx.pointer import Pointer, data_path_of, parse_pointer
from dvx.repo import Repo
from dvx.scm import Git, literal
from dvx.syncstate import Synced
from dvx.workspace import (
    REPOSITORY_INSIDE,
    cache_objects_in,
    file_state,
    holding_why,
    prune_empty_dirs,
    repository_held,
)

log = get_logger(__name__)

CHANGED = "changed since dvx placed it"
FOUND = "it was there before dvx synced it (dvx did not place it)"
NEVER_COMMITTED = "no commit records it (its pointer was never committed): it may be the only copy"
# Committed, but the commit was dropped (`git reset`, a rebase): only a reflog still reaches it.
POINTER_DROPPED = ("no branch, tag or experiment holds the commit of its pointer any more (only "
                   "Git's reflog does): it may be the only copy")
LOCK_ENTRY_DROPPED = ("no branch, tag or experiment holds a commit with that entry any more (only "
                      "Git's reflog does): it may be the only copy")
LOCK_ENTRY_GONE = "the dvx.lock entry that recorded it is not in the checked-out commit"
HISTORY_DEPTH = 20  # the latest commits of a pointer (or dvx.lock) looked at for the data
NOT_CACHED = "not all of it is in the cache"
SHARED_CACHE = "the cache is shared with other repositories (whose gc could take the only copy)"


@dataclass(frozen=True)
class LeftBehind:
    path: str  # repo-relative POSIX path of the data
    why_kept: str | None  # None: checkout removes it
    # Paths in the directory that Git or dvx track now (files, or tracked data): never removed.
    tracked_inside: frozenset[str] = frozenset()
    # The stage of dvx.yaml that declares it as its output but has not recorded it in
    # dvx.lock yet: not left behind at all, it stays for that stage.
    declared_by: str | None = None
    # A stage's output that a dvx.lock entry recorded (in a commit a ref or a reflog reaches),
    # not data a pointer tracked: `dvx add` is no advice for it.
    stage_output: bool = False
    # Git's rules still ignore it, as when its pointer went (by hand, by `git clean`) and its
    # .gitignore entry stayed: `git add -A` would not take it. Known for what is kept, and
    # for what a stash holds the pointer of, only.
    ignored: bool = False
    # The stash entry holding its pointer (0: the latest), as `git stash` of an uncommitted
    # `dvx add` leaves it: `git stash pop` of that entry brings the pointer back.
    in_stash: int | None = None

    @property
    def removable(self) -> bool:
        return self.why_kept is None and self.declared_by is None


def find_left_behind(repo: Repo, declared: DeclaredOutputs) -> list[LeftBehind]:
    """The synced data in the workspace that no pointer or dvx.lock entry names any more
    (with the outputs dvx.yaml declares that dvx.lock does not record yet, `declared_by` their
    stage). Nothing when dvx.lock or dvx.yaml cannot be read: what they name is then
    unknown; a pointer that cannot be read keeps only the data at its own path out."""
    return _scan(repo, declared).left


def settle_left_behind(repo: Repo, declared: DeclaredOutputs) -> list[str]:
    """Remove the data left behind that can go without loss, forget the records of what is
    gone or Git tracks itself (its links into the cache made files of their own first), and
    return the removed paths. Under the repository lock."""
    scan = _scan(repo, declared)
    left, stale = scan.left, scan.stale
    kept = [item for item in left if item.declared_by is None and not item.removable]
    _make_own_copies(repo, [*scan.given_to_git,
                            *((item.path, item.tracked_inside) for item in kept)])
    removed = []
    for item in left:
        if item.declared_by is not None:
            continue  # its stage's next run records it
        if not item.removable:
            log.warning("%s: %s, but %s, so it stays. %s", item.path,
                        LOCK_ENTRY_GONE if item.stage_output else "its pointer is no longer in Git",
                        item.why_kept, _what_to_do(repo.root, item))
            if _the_user_s_own(item.why_kept):
                stale.append(item.path)  # said once: no longer dvx's business
            continue
        synced = repo.syncstate.get(item.path)
        assert synced is not None
        remove_placed(repo, item.path, synced.oid, item.tracked_inside, synced)
        removed.append(item.path)
    for path in [*removed, *stale]:
        repo.syncstate.forget(path)
    repo.syncstate.flush()
    return removed


def _the_user_s_own(why_kept: str | None) -> bool:
    """Does `why_kept` make data left behind the user's own: there before dvx synced it, or
    holding a repository of theirs (`repository_held`)?"""
    return why_kept is not None and (why_kept == FOUND or why_kept.startswith(REPOSITORY_INSIDE))


def _make_own_copies(repo: Repo, data: list[tuple[str, frozenset[str]]]) -> None:
    """Make the data at each path of `data`, which stays in the workspace untracked, the
    user's own, as `dvx remove` does: each file of it that is a cache object itself (a
    symlink into the cache, a hard link of an object's inode) becomes a copy of that object,
    so a gc taking the object leaves the file whole and an edit of the file never reaches the
    cache. Copies and the user's own files are not copied again; those at or below the paths
    paired with a path are tracked now. An object an edit in place wrote through a link (a
    hard link is told by the oids its sync record gives it) holds the edit, and so does every
    file linked to it: each is copied before the object is moved aside, once
    (`set_aside_written`), as `dvx remove` does, so none is left a link to nothing."""
    for oid, files in _files_by_object(repo, data).items():
        written = next((oid for file in files
                        if object_written_through(repo, file, oid) is not None), None)
        source = repo.cache.oid_path(oid)
        if os.path.exists(source):  # else dangling links: nothing left to copy
            for file in files:
                fsutil.place(source, file, ("copy",),
                             exec_bit=fsutil.is_executable(os.stat(source).st_mode))
        if written is not None:
            set_aside_written(repo, written, files)


def _files_by_object(repo: Repo, data: list[tuple[str, frozenset[str]]]
                     ) -> dict[str, list[str]]:
    """The files (full paths) of the data at the paths of `data` that are cache objects
    themselves, by oid: linked to one object, they hold the same bytes, an edit through any
    of their links included."""
    by_object: dict[str, list[str]] = {}
    for path, tracked_inside in data:
        for file, oid in _linked_objects(repo, path, tracked_inside).items():
            by_object.setdefault(oid, []).append(file)
    return by_object


def _linked_objects(repo: Repo, path: str, tracked_inside: frozenset[str]) -> dict[str, str]:
    """The files (full paths) of the data at `path`, but those in `tracked_inside`, that are
    cache objects themselves, with the oid of each: a symlink into the cache, a hard link of
    an object's inode, or one whose bytes an edit through it changed (not the oid of its
    bytes any more, but of a version its sync records say was placed there)."""
    linked = dict(cache_objects_in(repo, path, tracked_inside, hard_links=True))
    for file in _maybe_links(repo.abspath(path)):
        if file in linked or at_or_below_any(repo_relpath(repo.root, file), tracked_inside):
            continue
        written = object_written_through(repo, file, None)
        if written is not None:
            linked[file] = written
    return linked


def _maybe_links(full: str) -> list[str]:
    """The files at or below `full` that may be a cache object themselves: symlinks, and
    regular files with more than one link (a copy, with one, never is one)."""
    try:
        st = os.lstat(full)
    except OSError:
        return []
    if stat.S_ISDIR(st.st_mode):
        walk = walk_directory(full)
        return [*(e.path for e in walk.files if e.stat.st_nlink > 1),
                *(join_posix(full, rel) for rel in walk.symlinks)]
    return [full] if stat.S_ISLNK(st.st_mode) or st.st_nlink > 1 else []


def objects_linked_from_untracked_data(repo: Repo) -> set[str]:
    """The objects that symbolic links in data no pointer or dvx.lock entry tracks any more
    still lead to (data left behind by a `git pull` that no `dvx checkout` followed, which
    would make it files of its own): gc keeps them, or those links would dangle. Only the
    paths synced once and tracked no more are walked."""
    untracked = [p for p in repo.syncstate.paths()
                 if not os.path.lexists(repo.abspath(p) + POINTER_SUFFIX)
                 and os.path.lexists(repo.abspath(p))]
    if untracked:  # mostly a stage's outputs, which dvx.lock names
        try:
            staged = {o.path for lock in repo.read_lock().values()
                      for o in lock.outs}
        except DvxError:
            staged = set()  # gc refuses an unreadable dvx.lock anyway
        untracked = [p for p in untracked if p not in staged]
    return {oid for path in untracked
            for _, oid in cache_objects_in(repo, path)}


def _what_to_do(root: str, item: LeftBehind) -> str:
    typed = for_command(root, item.path)  # the commands run where the user is
    if item.stage_output:
        return ("Delete it once you no longer need it; a commit that `git reflog` lists may "
                "still record it.")
    if item.in_stash is not None:  # a new pointer of `dvx add` would stop the pop
        pop = "git stash pop" + (f" stash@{{{item.in_stash}}}" if item.in_stash else "")
        return f"`{pop}` brings back its pointer, which that stash holds."
    if item.why_kept is not None and item.why_kept.startswith(REPOSITORY_INSIDE):
        return "It stays as it is: its files are that repository's, never dvx's to delete."
    if item.tracked_inside:
        way = ways_beside_tracked(typed)
        return f"{way[0].upper()}{way[1:]}."
    return f"Delete it, or track it again with `dvx add {typed}`."


def ways_beside_tracked(typed: str) -> str:
    """What to do with data kept in a directory that now holds paths Git or dvx track
    (`typed`, as the user types it), checkout's advice and status's: deleting the whole
    directory would take those too, and `dvx add` of it whole is refused."""
    return ("delete the files in it that Git and dvx do not track (`git status "
            f"{typed}` lists them), or track them with `dvx add`")


def holds_what_was_synced(repo: Repo, path: str) -> str | None:
    """None if `path` holds exactly the data dvx last placed there, every object of it in the
    cache (looked at, not remembered); else why not."""
    synced = repo.syncstate.get(path)
    if synced is not None and synced.found:
        return FOUND
    if synced is None:
        return CHANGED
    if synced.placed is not None:
        return _holds_what_was_placed_in_part(repo, path, synced, frozenset())
    full = repo.abspath(path)
    kind = "dir" if os.path.isdir(full) and not os.path.islink(full) else "file"
    pointer = Pointer(kind, repo.algo, synced.oid, 0)
    try:
        found = output_status(repo, Output(path, pointer))
    except DvxError:
        return CHANGED
    if found.workspace != UNCHANGED or found.not_pulled:
        return CHANGED
    tree = load_tree(repo, pointer, path) if kind == "dir" else None
    oids = [synced.oid] if tree is None else [synced.oid, *tree.oids()]
    if (kind == "dir" and tree is None) or repo.cache.missing(oids):
        return NOT_CACHED
    return None


def remove_placed(repo: Repo, path: str, oid: str,
                  tracked_inside: frozenset[str] = frozenset(),
                  record: Synced | None = None) -> None:
    """Delete the data dvx placed at `path` (the file, or the files of the directory's
    manifest `oid`, or those its sync `record` says checkouts placed if it was placed in
    part, but those in `tracked_inside`), and the folders that leaves empty; anything else
    there stays."""
    full = repo.abspath(path)
    if not os.path.isdir(full) or os.path.islink(full):
        os.unlink(full)
    else:
        placed = [rel for rel in _placed_files(repo, path, oid, record)
                  if not at_or_below_any(f"{path}/{rel}", tracked_inside)]
        for rel in placed:
            fsutil.remove_quietly(join_posix(full, rel))
        prune_empty_dirs(full, placed)
        with contextlib.suppress(OSError):  # not empty: what stays there is not dvx's
            os.rmdir(full)
    _prune_empty_parents(repo, path)


@dataclass
class _Scan:
    left: list[LeftBehind] = field(default_factory=list)  # the data left behind
    stale: list[str] = field(default_factory=list)  # records naming nothing to look after now
    # Of those, the data Git's index holds now (a `git add -A` took it), with the paths dvx
    # tracks inside it: Git's, but never as links into the cache, which a `git reset` left.
    given_to_git: list[tuple[str, frozenset[str]]] = field(default_factory=list)


def _scan(repo: Repo, declared: DeclaredOutputs) -> _Scan:
    # A record whose pointer file is there names tracked data: one stat each spares status
    # a second scan of every pointer when nothing was left behind.
    records = [p for p in repo.syncstate.paths()
               if not os.path.lexists(repo.abspath(p) + POINTER_SUFFIX)]
    if not records:
        return _Scan()
    outputs, broken = scan_outputs(repo)
    unread = _named_by_unreadable([*(b.covers or b.path for b in broken), *repo.unreadable])
    if unread is None:
        return _Scan()
    current = {o.path for o in outputs} | unread
    candidates = [p for p in records if not at_or_below_any(p, current)]
    if candidates:
        try:
            current |= _outputs_for_git(repo)
        except DvxError:
            return _Scan()
        candidates = [p for p in candidates if not at_or_below_any(p, current)]
    if not candidates or repo.git is None:
        return _Scan()
    declared_now = declared()
    if declared_now is None:
        return _Scan()
    current |= set(declared_now)  # a directory holding one keeps it, as any tracked path
    git_has = set(repo.git.tracked_under([*candidates,
                                          *(p + POINTER_SUFFIX for p in candidates)]))
    shared = _cache_is_shared(repo)
    outputs_in_history = _LockHistory(repo)
    found = _Scan()
    for path in candidates:
        if path + POINTER_SUFFIX in git_has:
            continue  # the pointer was deleted by hand, not by Git: it may come back
        if not os.path.lexists(repo.abspath(path)):
            found.stale.append(path)
            continue
        if path in git_has:  # Git's own file now
            found.stale.append(path)
            found.given_to_git.append((path, frozenset()))
            continue
        stage = _declaring_stage(path, declared_now)
        if stage is not None:
            found.left.append(LeftBehind(path, None, declared_by=stage))
            continue
        inside = _tracked_inside(repo, path, git_has | current)
        if inside and all(at_or_below_any(f, inside) for f in _all_files_in(repo, path)):
            found.stale.append(path)  # a directory Git (or dvx) tracks all of now: not left behind
            found.given_to_git.append((path, frozenset(t for t in current
                                                       if t.startswith(path + "/"))))
            continue
        held = repository_held(repo, path)
        why = (holding_why(held) if held is not None
               else _holds_what_was_placed_beside(repo, path, inside) if inside
               else holds_what_was_synced(repo, path))
        if why is None and shared:
            why = SHARED_CACHE
        stage_output = outputs_in_history.records(path)
        if why is None and not recorded_in_a_commit(repo, path):
            why = (LOCK_ENTRY_DROPPED if stage_output
                   else POINTER_DROPPED if recorded_in_a_commit(repo, path, ("--reflog",))
                   else NEVER_COMMITTED)
        found.left.append(LeftBehind(path, why, inside, stage_output=stage_output))
    stashes = repo.git.stashes() if any(item.declared_by is None for item in found.left) else []
    if stashes:
        found.left = [item if item.declared_by is not None else replace(
            item, in_stash=_stash_holding(repo, stashes, item)) for item in found.left]
    kept = [item.path for item in found.left
            if item.why_kept is not None or item.in_stash is not None]
    ignored = repo.git.ignore_rules(kept) if kept else {}
    found.left = [replace(item, ignored=True) if item.path in ignored else item
                  for item in found.left]
    return found


def _named_by_unreadable(files: list[str]) -> set[str] | None:
    """The data paths of the pointer files (or folders overlapping ones cover) that cannot be
    read, as a merge's conflict leaves them: a pointer names the data at its own path, so
    what it names is still known, and only that is not judged. None where dvx.lock cannot
    be read: which outputs its stages record is then unknown."""
    if LOCK_FILE in files:
        return None
    return {data_path_of(f) if f.endswith(POINTER_SUFFIX) else f for f in files}


def _stash_holding(repo: Repo, stashes: list[str], item: LeftBehind) -> int | None:
    """The newest of the stash entries (`stashes`) holding the pointer (or dvx.lock entry)
    of the version synced at the path of `item`: where `git stash` put the pointer of an
    uncommitted `dvx add` (`git stash -u`, one never staged)."""
    synced = repo.syncstate.get(item.path)
    if synced is None:
        return None
    return stash_entry_recording(repo, stashes, item.path, item.stage_output, synced.oid)


def _holds_what_was_placed_beside(repo: Repo, path: str, tracked_inside: frozenset[str]
                                  ) -> str | None:
    """`holds_what_was_synced` for a directory that now also holds what Git or dvx track
    (`tracked_inside`): None if, apart from those, it holds exactly the files dvx placed
    (or fewer), every object in the cache; else why not."""
    synced = repo.syncstate.get(path)
    if synced is not None and synced.found:
        return FOUND
    if synced is None:
        return CHANGED
    if synced.placed is not None:
        return _holds_what_was_placed_in_part(repo, path, synced, tracked_inside)
    tree = load_tree(repo, Pointer("dir", repo.algo, synced.oid, 0), path)
    if tree is None:
        return NOT_CACHED
    placed = {f"{path}/{e.path}": e for e in tree.entries
              if not at_or_below_any(f"{path}/{e.path}", tracked_inside)}
    for rel in _all_files_in(repo, path):
        if at_or_below_any(rel, tracked_inside):
            continue
        entry = placed.get(rel)
        if entry is None:
            return CHANGED  # a file dvx did not place
        try:
            state = file_state(repo, repo.abspath(rel), rel)
        except DvxError:
            return CHANGED
        if state is None or state.dangling or state.oid != entry.oid or (
                state.executable != entry.executable):
            return CHANGED
    if repo.cache.missing([synced.oid, *(e.oid for e in placed.values())]):
        return NOT_CACHED
    return None


def _holds_what_was_placed_in_part(repo: Repo, path: str, synced: Synced,
                                   tracked_inside: frozenset[str]) -> str | None:
    """`holds_what_was_synced` for a directory placed in part (`synced`, a record of the
    parts placed, maybe over older versions: dvx/syncstate.py): None if, apart from what
    `tracked_inside` names, each file in it holds a version a checkout placed at its path
    (a file may be gone), every such object and every version's manifest in the cache; else
    why not. A file where no checkout placed one (a part never pulled) is the user's, unless
    it holds the version a checkout stopped half-way was placing (holds_a_version_placed)."""
    layers = synced.layers()
    trees = [version_tree(repo, layer.oid) for layer in layers]
    if any(tree is None for tree in trees):
        return NOT_CACHED  # what was placed is no longer known here
    full = repo.abspath(path)
    if os.path.islink(full) or not os.path.isdir(full):
        return CHANGED
    recorded = {rel for tree in trees if tree is not None for rel in tree.paths}
    walk = repo.dvxignore.filter_walk(path, walk_directory(full), recorded)
    if any(not at_or_below_any(f"{path}/{rel}", tracked_inside) for rel in walk.others):
        return CHANGED  # a socket or FIFO: never placed by dvx
    oids = [layer.oid for layer in layers]
    for rel in [*(e.relpath for e in walk.files), *walk.symlinks]:
        where = f"{path}/{rel}"
        if at_or_below_any(where, tracked_inside):
            continue
        try:
            state = file_state(repo, join_posix(full, rel), where)
        except DvxError:
            return CHANGED
        if state is None or not holds_a_version_placed(
                repo, synced, rel, state.oid, None if state.is_cache_link else state.executable):
            return CHANGED
        oids.append(state.oid)
    if repo.cache.missing(oids):
        return NOT_CACHED
    return None


def _placed_files(repo: Repo, path: str, oid: str, record: Synced | None) -> list[str]:
    """The files (relpaths) dvx placed in the directory `path`: those of its manifest `oid`,
    or, for a directory placed in part (`record`), those of its versions at the paths a
    checkout placed."""
    if record is None or record.placed is None:
        tree = load_tree(repo, Pointer("dir", repo.algo, oid, 0), path)
        assert tree is not None  # holds_what_was_synced found it
        return list(tree.paths)
    placed: set[str] = set()
    for layer in record.layers():
        tree = version_tree(repo, layer.oid)
        assert tree is not None  # _holds_what_was_placed_in_part found it
        placed.update(rel for rel in tree.paths if record.may_have_placed(rel))
    return sorted(placed)


def _outputs_for_git(repo: Repo) -> set[str]:
    """The outputs Git is to track (`cache: false`) that dvx.lock records: a stage's output,
    never data left behind. Read only when records remain once the cached outputs are set
    apart, so seldom."""
    return uncached_paths(repo.read_lock())


def recorded_in_a_commit(repo: Repo, path: str, scope: tuple[str, ...] = ("--all",)) -> bool:
    """Does a commit some ref reaches (a branch, a tag, a stash, an experiment) record the
    data synced at `path`, in its pointer or in dvx.lock? If not, the pointer was only ever
    staged (and `git reset --hard` took it away): nothing but the workspace names the data,
    and gc would not keep its objects. `scope` ("--reflog",): a commit a reflog reaches."""
    synced = repo.syncstate.get(path)
    git = repo.git
    if synced is None or git is None:
        return False
    for file in (path + POINTER_SUFFIX, LOCK_FILE):
        try:
            commits = _commits_changing(git, file, scope)
            for commit in commits:
                if _records(git.blob_at(commit, file, MAX_LOCK_BYTES), file, path, synced.oid,
                            repo.algo):
                    return True
        except DvxError:
            continue  # unreadable history counts as none
    return False


def _commits_changing(git: Git, file: str, scope: tuple[str, ...]) -> list[str]:
    """The latest commits of `scope` ("--all", "--reflog", or both) that changed `file`."""
    # --full-history: a merge that deleted the pointer hides, by default, the commits of the
    # side that changed it.
    return git.run("log", *scope, "--full-history", "--format=%H",
                   f"-n{HISTORY_DEPTH}", "--", *literal([file])).decode().split()


class _LockHistory:
    """The outputs (path, oid) that dvx.lock recorded in its latest commits a ref or a reflog
    reaches: whether data left behind was a stage's output. Read once, when first asked."""

    def __init__(self, repo: Repo) -> None:
        self.repo = repo

    def records(self, path: str) -> bool:
        synced = self.repo.syncstate.get(path)
        return synced is not None and (path, synced.oid) in self._outputs

    @functools.cached_property
    def _outputs(self) -> set[tuple[str, str]]:
        git = self.repo.git
        found: set[tuple[str, str]] = set()
        if git is None:
            return found
        try:
            for commit in _commits_changing(git, LOCK_FILE, ("--all", "--reflog")):
                data = git.blob_at(commit, LOCK_FILE, MAX_LOCK_BYTES)
                if data is not None:
                    found |= {(out.path, out.oid) for stage in
                              parse_lock(data, self.repo.algo).values() for out in stage.outs}
        except DvxError:
            pass  # unreadable history counts as none
        return found


def _records(data: bytes | None, file: str, path: str, oid: str, algo: str) -> bool:
    if data is None:
        return False
    if file == LOCK_FILE:
        return any(out.path == path and out.oid == oid
                   for stage in parse_lock(data, algo).values() for out in stage.outs)
    return parse_pointer(data, file).oid == oid


def _declaring_stage(path: str, declared: Mapping[str, str]) -> str | None:
    """The stage declaring `path`, or the directory holding it, as its output."""
    while path:
        if path in declared:
            return declared[path]
        path = path.rpartition("/")[0]
    return None


def _tracked_inside(repo: Repo, path: str, tracked: set[str]) -> frozenset[str]:
    """The paths of `tracked` inside the folder `path`; none where a file (or link) stands
    there instead, as where a stage's output folder goes over a dropped output's file."""
    full = repo.abspath(path)
    if not os.path.isdir(full) or os.path.islink(full):
        return frozenset()
    return frozenset(t for t in tracked if t.startswith(path + "/"))


def _all_files_in(repo: Repo, path: str) -> set[str]:
    """The repo-relative paths of the files (and symlinks) under the directory `path`."""
    walk = walk_directory(repo.abspath(path))
    return {f"{path}/{rel}" for rel in [*(e.relpath for e in walk.files), *walk.symlinks]}


def _cache_is_shared(repo: Repo) -> bool:
    """Is the cache outside this repository (and the .dvx its worktrees share)?"""
    return not repo.is_inside(repo.cache_dir)


def _prune_empty_parents(repo: Repo, path: str) -> None:
    """Remove the folders the data leaves empty, as Git does for its files."""
    parent = os.path.dirname(repo.abspath(path))
    while parent != repo.root and parent.startswith(repo.root + os.sep):
        try:
            os.rmdir(parent)
        except OSError:
            return
        parent = os.path.dirname(parent)
