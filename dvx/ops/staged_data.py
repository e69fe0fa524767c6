"""Data staged for a commit: files Git's index adds or changes that are data dvx keeps out of
Git. The pre-commit hook of `dvx install` refuses such a commit, and its pre-merge-commit hook
the commit `git merge` makes itself, which runs no pre-commit: one side's pointer merged with
the other side's Git-tracked data at its path is data put into Git as any other.

Git ignores the data of every pointer by a `.gitignore` entry dvx writes. When the entry goes
(a merge Git made without dvx's merge driver, one resolved by hand, a hand edit), `git add -A`,
`git add .` and `git commit -a` take the data itself into Git, beside its pointer, until a
`dvx checkout` or `dvx pull` writes the entry again; `git add -f` and a `!` rule do it on
purpose, which contradicts the pointer all the same. Data here is: the file a pointer file in
the index or the workspace tracks (`PATH` of `PATH.dvx`), a file inside a directory one
tracks, and a cached output of a stage (dvx.lock records it, or dvx.yaml declares it, with
`cache: false` in dvx.yaml making it Git's). Where the commit adds a pointer file, or a
dvx.lock recording an output HEAD's does not, the files Git's index holds at that data are
data put into Git too, staged or not: a merge of the side tracking `d` with `dvx add` into the
side whose Git holds `d/...` stages the pointer and its .gitignore entry alone.
A pointer the commit removes (`dvx remove`, then `git add -A`) is in neither the index nor the
workspace: its data is Git's from then on. The commit goes on, but the hook names those files
(`given_to_git`): a teammate whose copy of them Git ignored until then, edits not yet recorded
included, gets them overwritten by the `git pull` of that commit without a word from Git.
Data dvx placed (its sync record names it) whose pointer is in neither the workspace, the index
nor HEAD, but in a commit a branch, tag or stash holds, is refused too: `git stash -u` after a
`dvx add` or `dvx move` not committed yet takes the pointer and the .gitignore entry and leaves
the data, which Git no longer ignores (`left_behind`). Only the bytes of a version dvx placed
are: content of the user's own written at that path is theirs to commit.
Where dvx.lock or dvx.yaml cannot be read (a syntax error, a merge's conflict markers), the
outputs of stages it names cannot be told from the rest: the check says so, and goes on
without them.

Nor may a commit hold a link into the cache, whatever tracks it: a symbolic link leading
into this repository's cache (cache.type symlink), which a clone gets leading nowhere, or a
file that is one of the cache's objects (cache.type hardlink), its bytes the cache's. A `git
reset`, which runs no hook, leaves them where it takes their pointers away, until a `dvx
checkout` makes each a file of its own. A link of the user's own that leads into the cache
(`cp -l` of a hard-linked file, `ln -s` of an object) is refused too, its way out a copy
made in its place, as no dvx command knows of it. A symbolic link to a workspace file (`ln
-s data/v2.csv current.csv`) is judged by its own target, never by the link into the cache
that file may be: it passes.

Nor may a commit add a pointer file that overlaps another pointer's data or a stage's output
(one tracking a path inside a folder the other tracks whole: `git mv` of a pointer file into
a tracked folder): `dvx add` refuses to make such a pair, and every command refuses it once
it is there (dvx/overlapping.py). A pair HEAD already holds (a merge made it) is left to the
ways out those commands name, and so is one the commit concluding a merge, cherry-pick,
revert or rebase takes from the commit it brings in, or the commit `git merge` makes itself
(before Git names the merged commit in MERGE_HEAD, where the others are found).

Nor may a commit hold a pointer file or dvx.lock that still has a merge's conflict markers
(`git add` of a conflict not resolved yet): nothing can read it, so the data of neither
version is pushed (the pre-push hook cannot tell what it names), and the merge driver's two
merged versions name manifests only this clone's cache holds.

It runs at every commit, so it is cheap: Git is asked for the files the index adds or
changes and for the pointer files it holds and deletes, dvx.lock and dvx.yaml are read, and
each staged file and the folders above it are looked up in those (with one stat per folder, for a
pointer file beside it that is not staged yet). Each staged file is stat'ed once; only one
with more than one link (a hard link) is hashed, and a symbolic link's target read from
Git. A hard link whose bytes are no object's (changed through a link, and its object with
them) is looked up by its inode among those the stat cache records, read once for all of
them. Only a staged pointer file or dvx.lock is read from Git, and a file staged where dvx
placed data whose pointer is gone, hashed to tell the version dvx placed from the user's own
content written there. The workspace is never walked.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from dvx.errors import DvxError, MergeConflictError
from dvx.hashing import get_algorithm, hash_file
from dvx.lockfile import (
    LOCK_FILE,
    MAX_LOCK_BYTES,
    OWN_NAMES,
    PIPELINE_FILE,
    parse_lock,
)
from dvx.ops.sync_layers import placed_by_dvx
from dvx.outputs import named_like_a_temporary
from dvx.overlapping import find_overlaps
from dvx.paths import POINTER_SUFFIX, at_or_below_any
from dvx.pointer import holds_merged_versions, parse_pointer
from dvx.repo import Repo
from dvx.scm import SYMLINK_MODE, StagedFile
from dvx.workspace import hard_links_of_objects

# Each output dvx.yaml declares: the stage declaring it, and whether the cache keeps it (else
# Git does); a DvxError when dvx.yaml cannot be read (pipeline/spec.py caching_declared).
DeclaredCaching = Callable[[], Mapping[str, tuple[str, bool]]]


@dataclass(frozen=True)
class Holder:
    """Tracked data that files staged for a commit are, or are inside of."""
    path: str  # the tracked path: a pointer's data, or a stage's output
    pointer: str | None = None  # the pointer file tracking it
    stage: str | None = None  # else the stage that outputs it
    recorded: bool = True  # the stage's: dvx.lock records it (else dvx.yaml only declares it)

    @property
    def recorded_in(self) -> str:
        if self.pointer is not None:
            return self.pointer
        return LOCK_FILE if self.recorded else PIPELINE_FILE


@dataclass(frozen=True)
class StagedData:
    holder: Holder
    files: list[str]  # the files staged: the holder's path, or files inside it


@dataclass(frozen=True)
class StagedLink:
    """A file staged for a commit that is a link into this repository's cache."""
    path: str
    target: str | None  # where a symbolic link leads, as staged; None: an object's hard link
    # Data dvx placed that no pointer tracks any more (a `git reset` took it away): its sync
    # record, which `dvx checkout` settles, names it or a folder above it. Else a link made
    # by hand (`cp -l`, `ln -s` into the cache), which no dvx command knows of.
    left_behind: bool
    # A symbolic link leading to a folder of the cache (a copy in its place is a folder's)
    folder: bool = False


@dataclass(frozen=True)
class StagedConflict:
    """A pointer file or dvx.lock staged with a merge's conflict markers in it."""
    path: str
    merged_versions: bool  # the merge driver's two merged versions, not ours against theirs


@dataclass(frozen=True)
class StagedOverlap:
    """Two tracked paths, one inside the folder the other tracks whole, that the commit
    would make so, by a pointer file it adds (`git mv` of one into a tracked folder): each
    by its data path, with the stage outputting it (None: a pointer file's)."""
    outer: str
    outer_stage: str | None
    inner: str
    inner_stage: str | None
    added: str  # the pointer file the commit adds, of one of the two


@dataclass
class StagedCheck:
    found: list[StagedData] = field(default_factory=list)
    links: list[StagedLink] = field(default_factory=list)  # but those of `found`
    # dvx.yaml or dvx.lock, where it could not be read, and why: the outputs of stages it
    # names were not looked for among the files staged.
    unread: dict[str, DvxError] = field(default_factory=dict)
    # The files staged that are data whose pointer the commit removes, by that pointer's
    # data: Git's from then on, not stopped, but named.
    given_to_git: list[StagedData] = field(default_factory=list)
    conflicted: list[StagedConflict] = field(default_factory=list)
    # The files staged that are data dvx placed here whose pointer a `git stash -u` (or a
    # `git checkout` of another branch) took away, by that data (`_left_behind`).
    left_behind: list[StagedData] = field(default_factory=list)
    overlaps: list[StagedOverlap] = field(default_factory=list)


def staged_data(repo: Repo, declared: DeclaredCaching,
                made_by_merge: bool = False) -> StagedCheck:
    """The tracked data that the commit being made would put into Git, with the files of it
    that Git's index adds or changes, in the order of their paths; and the other files it
    adds or changes that are links into the cache. `made_by_merge`: the commit is the one
    `git merge` makes itself (its pre-merge-commit hook), so all the index holds otherwise
    than HEAD the merge brought."""
    check = StagedCheck()
    if repo.git is None:
        return check
    staged = repo.git.staged_additions()
    check.conflicted = _conflicted(repo, staged)
    if not made_by_merge:  # a pair of overlapping pointers a merge makes is the merge's
        check.overlaps = _overlaps_added(repo, staged)
    outputs: set[str] = set()  # every output dvx.lock or dvx.yaml names, Git's too
    maybe_data = [file.path for file in staged if _may_be_data(file.path)]
    holders = (_stage_outputs(repo, declared, check.unread, outputs)
               if maybe_data or any(file.path == LOCK_FILE for file in staged) else {})
    check.found = _joined(_tracked_data(repo, holders, maybe_data),
                          _in_git_at_added(repo, staged, holders))
    named = {path for item in check.found for path in item.files}
    check.links = _links_into_cache(repo, [file for file in staged if file.path not in named])
    blobs = {file.path: file.blob for file in staged
             if file.path not in named and _may_be_data(file.path)}
    given = _given_to_git(repo, blobs)
    named |= {link.path for link in check.links}
    named |= {path for item in given for path in item.files}
    # The files a merged commit gives to Git were named to that commit's author; the merge
    # only brings them.
    check.given_to_git = [] if made_by_merge else _not_merged(repo, given, blobs)
    if not check.unread:  # else which outputs are a stage's is not known
        check.left_behind = _left_behind(repo, outputs, {
            file.path: file.blob for file in staged
            if file.path not in named and _may_be_data(file.path)})
    with contextlib.suppress(OSError):  # what was hashed, so the next commit reads it back
        repo.statcache.flush()
    return check


_FILE_MODES = ("100644", "100755")  # Git's regular files: not a link, nor a submodule


def _conflicted(repo: Repo, staged: list[StagedFile]) -> list[StagedConflict]:
    """The pointer files and dvx.lock among the `staged` files that hold a merge's conflict
    markers, as dvx reads them (a pointer or dvx.lock otherwise unreadable is not this
    check's business: `dvx status` names it)."""
    assert repo.git is not None
    found = []
    for file in sorted(staged, key=lambda file: file.path):
        if file.mode not in _FILE_MODES or not (file.path == LOCK_FILE
                                                or file.path.endswith(POINTER_SUFFIX)):
            continue
        data = repo.git.object_data(file.blob)[1]
        try:
            if file.path == LOCK_FILE:
                parse_lock(data, repo.algo)
            else:
                parse_pointer(data, file.path)
        except MergeConflictError:
            found.append(StagedConflict(file.path, holds_merged_versions(data)))
        except DvxError:
            continue
    return found


def _overlaps_added(repo: Repo, staged: list[StagedFile]) -> list[StagedOverlap]:
    """The overlaps (overlapping.find_overlaps) among the pointer files of Git's index and
    the outputs dvx.lock records that a pointer file the commit adds (one HEAD lacks) is
    part of: every dvx command would refuse the pair. One a merge, cherry-pick, revert or
    rebase Git stopped in brings (its head holds it) is not added by this commit: the pair
    is left to the commands, as one HEAD holds is. Git is asked for the index's pointer
    files only when the commit adds one."""
    assert repo.git is not None
    added = {file.path for file in staged if file.mode in _FILE_MODES
             and file.path.endswith(POINTER_SUFFIX)
             and file.path.rpartition("/")[2] != POINTER_SUFFIX}
    if added and repo.git.head() is not None:
        added -= set(repo.git.modes_at("HEAD", sorted(added)))
    for head in (repo.git.operation_heads() if added else ()):
        added -= set(repo.git.modes_at(head, sorted(added)))
    if not added:
        return []
    tracked: dict[str, str | None] = {
        pointer[:-len(POINTER_SUFFIX)]: None
        for pointer in repo.git.ls_files("--", f"*{POINTER_SUFFIX}")
        if pointer.rpartition("/")[2] != POINTER_SUFFIX}
    with contextlib.suppress(DvxError):  # unreadable: the other checks say so
        for name, lock in repo.read_lock().items():
            for out in lock.outs:
                tracked.setdefault(out.path, name)
    found = []
    for outer, inner in find_overlaps(tracked):
        new = [path + POINTER_SUFFIX for path in (inner, outer)
               if tracked[path] is None and path + POINTER_SUFFIX in added]
        if new:
            found.append(StagedOverlap(outer, tracked[outer], inner, tracked[inner], new[0]))
    return found


def _tracked_data(repo: Repo, outputs: dict[str, Holder],
                  staged: list[str]) -> list[StagedData]:
    """The tracked data among the `staged` paths, by what tracks it: a pointer file, or a
    stage of `outputs` (_stage_outputs)."""
    if not staged:
        return []
    assert repo.git is not None
    finder = _HolderFinder(repo, set(repo.git.ls_files("--", f"*{POINTER_SUFFIX}")), outputs)
    found: dict[Holder, list[str]] = {}
    for path in sorted(staged):
        holder = finder.holder_of(path)
        if holder is not None:
            found.setdefault(holder, []).append(path)
    return [StagedData(holder, files) for holder, files in found.items()]


def _in_git_at_added(repo: Repo, staged: list[StagedFile],
                     outputs: dict[str, Holder]) -> list[StagedData]:
    """The files Git's index holds at or below the data of a pointer file the commit adds,
    or of a cached output the dvx.lock it stages records while HEAD's does not: staged or
    not, the commit puts them into Git beside what tracks them. A merge of a side that
    tracks a folder with `dvx add` into one whose Git holds that folder stages the pointer
    and .gitignore alone, the files being Git's already. Git is asked only when the commit
    adds such a pointer or output."""
    assert repo.git is not None
    added: dict[str, Holder] = {
        file.path[:-len(POINTER_SUFFIX)]: Holder(file.path[:-len(POINTER_SUFFIX)],
                                                 pointer=file.path)
        for file in staged if file.mode in _FILE_MODES
        and file.path.endswith(POINTER_SUFFIX)
        and file.path.rpartition("/")[2] != POINTER_SUFFIX}
    if added and repo.git.head() is not None:
        in_head = repo.git.modes_at("HEAD", [holder.pointer or "" for holder in added.values()])
        added = {path: holder for path, holder in added.items() if holder.pointer not in in_head}
    if any(file.path == LOCK_FILE for file in staged):
        recorded = {path: holder for path, holder in outputs.items() if holder.recorded}
        for path in set(recorded) - _outputs_in_head(repo):
            added.setdefault(path, recorded[path])
    if not added:
        return []
    found: dict[Holder, list[str]] = {}
    for path in sorted(repo.git.tracked_under(sorted(added))):
        at = path
        while at and at not in added:
            at = at.rpartition("/")[0]
        if not at or not _may_be_data(path) \
                or (at != path and repo.dvxignore.check(path) is not None):
            continue  # dvx's own files, or kept out of the tracked directory by .dvxignore
        found.setdefault(added[at], []).append(path)
    return [StagedData(holder, files) for holder, files in found.items()]


def _outputs_in_head(repo: Repo) -> set[str]:
    """The outputs HEAD's dvx.lock records (none where it has none, or one dvx cannot
    read)."""
    assert repo.git is not None
    if repo.git.head() is None:
        return set()
    with contextlib.suppress(DvxError):
        data = repo.git.blob_at("HEAD", LOCK_FILE, MAX_LOCK_BYTES)
        if data is not None:
            return {out.path for lock in parse_lock(data, repo.algo).values()
                    for out in lock.outs}
    return set()


def _joined(found: list[StagedData], more: list[StagedData]) -> list[StagedData]:
    """`found` with the files of `more` added, each holder's files once and in order."""
    if not more:
        return found
    files: dict[Holder, set[str]] = {item.holder: set(item.files) for item in found}
    for item in more:
        files.setdefault(item.holder, set()).update(item.files)
    return [StagedData(holder, sorted(paths))
            for holder, paths in sorted(files.items(), key=lambda kv: kv[0].path)]


def _given_to_git(repo: Repo, staged: Mapping[str, str]) -> list[StagedData]:
    """The `staged` files (path -> blob) at or below the data of a pointer file the commit
    removes, by that data: one `git diff` of the index's pointer files, only when a file is
    staged."""
    if not staged:
        return []
    assert repo.git is not None
    removed = {pointer[:-len(POINTER_SUFFIX)]: pointer
               for pointer in repo.git.staged_deletions(f"*{POINTER_SUFFIX}")}
    found: dict[str, list[str]] = {}
    for path in sorted(staged) if removed else ():
        at = path
        while at and at not in removed:
            at = at.rpartition("/")[0]
        if at:
            found.setdefault(at, []).append(path)
    return [StagedData(Holder(data, pointer=removed[data]), files)
            for data, files in found.items()]


def _not_merged(repo: Repo, given: list[StagedData],
                staged: Mapping[str, str]) -> list[StagedData]:
    """The `given` files but those staged (path -> blob in `staged`) as a merge,
    cherry-pick, revert or rebase Git stopped in brings them (its head holds the same blob
    there): the `git commit` concluding it gives to Git what the commit brought gave, and
    that commit's own hook named them to its author."""
    assert repo.git is not None
    heads = repo.git.operation_heads() if given else ()
    if not heads:
        return given
    paths = [path for item in given for path in item.files]
    brought: set[str] = set()
    for head in heads:
        brought |= {path for path, (_, blob) in repo.git.entries_at(head, paths).items()
                    if staged.get(path) == blob}
    return [StagedData(item.holder, files) for item in given
            if (files := [path for path in item.files if path not in brought])]


def _left_behind(repo: Repo, outputs: set[str], staged: dict[str, str]) -> list[StagedData]:
    """The `staged` files (path -> blob) at or below data dvx placed here (its sync record
    names it, as placed, not found), staged as a version dvx placed (content of the user's
    own written there is theirs), whose pointer is in neither the workspace nor Git's index
    nor HEAD, while a commit a branch, tag or stash holds records it: a `git stash -u` took
    the pointer and its .gitignore entry (or a `git checkout` of a branch without it left the
    data), and Git no longer ignores the data. Data whose pointer only a reflog holds, or
    none (a `git reset`), is left to the user, as `dvx checkout` leaves it; files HEAD has
    are Git's, and an output dvx.lock or dvx.yaml names (in `outputs`) a stage's. Only the
    records above a staged file are looked at, and Git's history only for those."""
    records = set(repo.syncstate.paths()) if staged else set()
    if not records:
        return []
    found: dict[str, list[str]] = {}
    for path in sorted(staged):
        at = path
        while at and at not in records:
            at = at.rpartition("/")[0]
        if at and _placed_without_pointer(repo, at, path, staged[path], outputs):
            found.setdefault(at, []).append(path)
    assert repo.git is not None
    if found and repo.git.head() is not None:
        in_head = repo.git.modes_at("HEAD", [path for files in found.values() for path in files])
        found = {at: kept for at, files in found.items()
                 if (kept := [path for path in files if path not in in_head])}
    if not found:
        return []
    from dvx.ops.left_behind import recorded_in_a_commit  # reads Git's history: seldom needed

    return [StagedData(Holder(at, pointer=at + POINTER_SUFFIX), files)
            for at, files in found.items() if recorded_in_a_commit(repo, at)]


def _placed_without_pointer(repo: Repo, at: str, path: str, blob: str,
                            outputs: set[str]) -> bool:
    """Is `path`, at or below the synced path `at`, staged as the `blob` of a version dvx
    placed there (or, Git having converted it on staging, made from a workspace file that
    is one), where no pointer file of the workspace tracks it, nor a stage's output names it?
    The blob (then the file) is read only when all else says so."""
    synced = repo.syncstate.get(at)
    if synced is None or synced.found or at_or_below_any(at, outputs):
        return False
    if os.path.lexists(repo.abspath(at + POINTER_SUFFIX)):
        return False  # tracked: .dvxignore keeps the file out of the directory
    if path != at and not synced.may_have_placed(path[len(at) + 1:]):
        return False
    if placed_by_dvx(repo, path, blob_oid_and_size(repo, blob)[0]):
        return True
    # Git may have converted it on staging (core.autocrlf, a text attribute): the workspace
    # holds what dvx placed then.
    with contextlib.suppress(DvxError, OSError):
        return placed_by_dvx(repo, path, hash_file(repo.abspath(path), repo.algo)[0])
    return False


def blob_oid_and_size(repo: Repo, blob: str) -> tuple[str, int]:
    """The oid (as dvx hashes data) and size of the content Git holds as `blob`, streamed
    from Git."""
    assert repo.git is not None
    hasher, size = get_algorithm(repo.algo).new(), 0

    def take(chunk: bytes) -> None:
        nonlocal size
        hasher.update(chunk)
        size += len(chunk)

    repo.git.feed_blob(blob, take)
    return hasher.hexdigest(), size


def _links_into_cache(repo: Repo, staged: list[StagedFile]) -> list[StagedLink]:
    """The staged files that are links into this repository's cache (wherever cache.dir
    puts it), in the order of their paths. A regular file is one only if it has more than
    one link: only those are looked at further, so a commit of code costs one lstat per
    file."""
    assert repo.git is not None
    links: list[tuple[str, str | None]] = []  # (path, a symbolic link's target)
    folders: set[str] = set()  # of those, the links to a folder
    linked: dict[str, tuple[str, os.stat_result]] = {}  # regular files with other links
    for file in sorted(staged, key=lambda file: file.path):
        full = repo.abspath(file.path)
        if file.mode == SYMLINK_MODE:  # as staged, which the workspace's may no longer be
            target = os.fsdecode(repo.git.object_data(file.blob)[1])
            where = _where_written(full, target)
            if repo.cache.holds_path(where):
                links.append((file.path, target))
                if os.path.isdir(where):
                    folders.add(file.path)
            continue
        try:
            st = os.lstat(full)
        except OSError:
            continue  # gone since it was staged: no link of the cache's
        if stat.S_ISREG(st.st_mode) and st.st_nlink > 1:
            linked[file.path] = (full, st)
    links += [(path, None) for path in hard_links_of_objects(repo, linked)]
    links.sort()
    synced = set(repo.syncstate.paths()) if links else set()
    return [StagedLink(path, target, at_or_below_any(path, synced), path in folders)
            for path, target in links]


def _where_written(link: str, target: str) -> str:
    """Where the symbolic link at `link` leads by its own target: the folders of the target,
    joined to the link's, resolved as the system resolves them (a folder that is a link, a
    `..` after one), and its last name kept as it is, not followed. A link of the user's to a
    workspace file (`current.csv -> data/v2.csv`) is judged by that file's path, never by
    the link into the cache that file itself is, which Git does not get from this one."""
    folder, name = os.path.split(target)
    if name in ("", os.curdir, os.pardir):  # names a folder: resolved whole
        folder, name = target, ""
    where = os.path.realpath(os.path.join(os.path.dirname(link), folder))
    return os.path.join(where, name) if name else where


def _may_be_data(path: str) -> bool:
    """Pointer files, the files that tell Git or dvx how to treat the others, and dvx's
    temporaries are never data."""
    name = path.rpartition("/")[2]
    return not (name.endswith(POINTER_SUFFIX) or name in OWN_NAMES
                or named_like_a_temporary(path))


def _stage_outputs(repo: Repo, declared: DeclaredCaching, unread: dict[str, DvxError],
                   named: set[str]) -> dict[str, Holder]:
    """The cached outputs of stages: those dvx.lock records (but for one dvx.yaml now
    declares with `cache: false`, which the next run gives to Git), and those dvx.yaml
    declares that no run recorded yet. A file that cannot be read names none, and goes into
    `unread` with the reason. Every output either names, cached or not, goes into `named`."""
    caching: Mapping[str, tuple[str, bool]] = {}
    try:
        caching = declared()
    except DvxError as exc:  # a syntax error, conflict markers of a merge
        unread[PIPELINE_FILE] = exc
    outputs: dict[str, Holder] = {}
    try:
        recorded = repo.read_lock()
    except DvxError as exc:
        unread[LOCK_FILE] = exc
        recorded = {}
    named |= set(caching)
    named |= {out.path for lock in recorded.values() for out in lock.outs}
    for name, lock in recorded.items():
        for out in lock.outs:
            if out.cache and caching.get(out.path, (name, True))[1]:
                outputs[out.path] = Holder(out.path, stage=name)
    for path, (name, cache) in caching.items():
        if cache and path not in outputs:
            outputs[path] = Holder(path, stage=name, recorded=False)
    return outputs


class _HolderFinder:
    """The tracked data a staged file is, or is inside of; each folder looked at once."""

    def __init__(self, repo: Repo, pointers: set[str], outputs: dict[str, Holder]) -> None:
        self.repo = repo
        self.pointers = pointers  # the pointer files of Git's index
        self.outputs = outputs
        self.known: dict[str, Holder | None] = {}  # path -> what tracks it, as data

    def holder_of(self, path: str) -> Holder | None:
        at = path
        while at:
            holder = self._tracking(at)
            if holder is not None:
                inside = at != path
                if inside and self.repo.dvxignore.check(path) is not None:
                    return None  # .dvxignore keeps it out of the tracked directory
                return holder
            at = at.rpartition("/")[0]
        return None

    def _tracking(self, path: str) -> Holder | None:
        if path not in self.known:
            pointer = path + POINTER_SUFFIX
            if pointer in self.pointers or os.path.isfile(self.repo.abspath(pointer)):
                self.known[path] = Holder(path, pointer=pointer)
            else:
                self.known[path] = self.outputs.get(path)
        return self.known[path]
