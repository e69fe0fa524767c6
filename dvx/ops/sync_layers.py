"""Comparing a directory placed in part over older versions of it (dvx/syncstate.py's layered
records) three ways: each file outside the parts placed at the pointer's version against the
versions checkouts placed there before, and against the pointer.

    outdated:  the file holds a version a checkout placed: not a change of yours (a commit
               takes the pointer's version of it)
    a change:  it differs from what was placed, and the pointer kept what was placed
    conflict:  it differs from what was placed, and so does the pointer (commit refuses
               without --force)

A file that no finished checkout placed is compared with the pointer alone; one absent and
never placed is "not pulled". A file whose older version cannot be known (that version's
manifest is no longer in the cache: deleted by hand, the cache cleared) is none of these: the
comparison names the version missing (`missing`), and commit refuses until it is fetched
again, never calling the file a change made here.

The same records tell checkout which workspace files are changes made here (`changed_here`),
which it keeps without --force even when their bytes are in the cache (with no record over a
file, by the versions HEAD's recent commits recorded: `never_recorded_here`, and for a file
inside a tracked directory `never_recorded_inside`), and which hold a
version dvx placed (`placed_by_dvx`), whose bytes gc may have taken from the cache since. A
checkout that did not finish (killed, or short of objects) recorded its version as placed in
no part, though it may have placed any of its files: at a path no finished checkout placed,
a file holding that version counts as one dvx placed, so data whose pointer then left Git
(ops/left_behind.py, the pre-commit check) is told from files of the user's own.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field

from dvx.errors import DvxError, FormatError, PathError
from dvx.history import recorded_lately
from dvx.objects.tree import Tree, TreeEntry, first_line
from dvx.outputs import load_tree
from dvx.paths import join_posix
from dvx.pointer import Pointer
from dvx.repo import Repo
from dvx.syncstate import MAX_LAYERS, Synced
from dvx.workspace import file_state


@dataclass
class LayeredDifferences:
    added: list[str] = field(default_factory=list)
    modified: list[str] = field(default_factory=list)
    not_pulled: list[str] = field(default_factory=list)
    outdated: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    conflict_with: Synced | None = None  # set: a file changed both here and in the pointer
    conflicts: list[str] = field(default_factory=list)  # those files
    # A version the workspace was synced to whose manifest is not in the cache: the files
    # outside the parts placed at the pointer's version cannot be told apart.
    missing: Synced | None = None


def compare_with_layers(repo: Repo, full: str, display: str, tree: Tree, synced: Synced,
                        listed: dict[str, list[str]]) -> LayeredDifferences:
    """The paths `listed` against the pointer's manifest `tree` ("added", "modified",
    "not_pulled"), sorted again by what `synced`'s older layers say of each."""
    moved: dict[str, list[str]] = {name: [] for name in
                                   ("added", "modified", "not_pulled", "outdated", "deleted")}
    found = LayeredDifferences()
    for label, paths in listed.items():
        for path in paths:
            verdict, conflict, missing = _three_way(repo, full, display, tree, synced, path,
                                                    label)
            moved[verdict].append(path)
            found.missing = found.missing or missing
            if conflict:
                found.conflicts.append(path)
                found.conflict_with = (found.conflict_with or synced.layer_for(path)
                                       or synced.base)
    found.added, found.modified = sorted(moved["added"]), sorted(moved["modified"])
    found.not_pulled, found.outdated = moved["not_pulled"], sorted(moved["outdated"])
    found.deleted = moved["deleted"]
    found.conflicts.sort()
    return found


def _three_way(repo: Repo, full: str, display: str, tree: Tree, synced: Synced, path: str,
               label: str) -> tuple[str, bool, Synced | None]:
    """Where `path` (listed under `label` against the pointer) belongs, given the older
    versions it was placed at ("outdated", "deleted" or `label`); whether it changed both
    here and in the pointer; and the version it was placed at, if that cannot be told
    because the version's manifest is not in the cache."""
    if synced.covers(path):
        return label, False, None
    if synced.base is None:
        return label, False, None  # never placed here: compared with the pointer alone
    layers = synced.base.layers(down_to=path)
    now = None
    if label != "not_pulled":
        try:
            state = file_state(repo, join_posix(full, path), f"{display}/{path}")
        except PathError:  # a link or special file dvx did not make: a change, surely
            return label, True, None
        now = None if state is None else (state.oid, state.executable)
    versions = [_version_in(repo, layer, path) for layer in layers]
    if now is not None and now in versions:  # as one checkout placed it (an interrupted
        return "outdated", False, None       # one may have placed a newer version)
    if now is None and _removed_unfinished(layers, versions):
        return "outdated", False, None
    covering = layers[-1]
    if not covering.covers(path):
        return label, False, None  # never placed by any checkout that finished: as if not
    unknown = next((layer for layer, version in zip(layers, versions, strict=True)
                    if version is _UNKNOWN), None)
    if unknown is not None:
        return label, False, unknown  # what it was synced to is no longer known here
    was = versions[-1]
    if now == was:
        return label, False, None  # absent as it was placed: not pulled
    wanted = tree.get(path)
    where = label if now is not None else "deleted"
    return where, (None if wanted is None else (wanted.oid, wanted.executable)) != was, None


_UNKNOWN = ("?", False)  # the version of a path in a manifest no longer in the cache


def _removed_unfinished(layers: list[Synced], versions: list[tuple[str, bool] | None]) -> bool:
    """Is a path absent here (its `versions` in `layers`, newest first) as a checkout that did
    not finish left it: one whose version has no such file (or a file where one of its
    folders goes) removes it, as it may have before it stopped? Absent so, it is the older
    version placed, not a deletion of the user's."""
    return any(layer.unfinished and version is None
               for layer, version in zip(layers[:-1], versions[:-1], strict=True))


def holds_a_placed_version(repo: Repo, synced: Synced, path: str, entry: TreeEntry) -> bool:
    """Is `entry` (a workspace file) a version of `path` that a checkout placed, per the
    record `synced`: unchanged here since?"""
    versions = [_version_in(repo, layer, path) for layer in synced.layers(down_to=path)]
    return (entry.oid, entry.executable) in versions


def holds_a_version_placed(repo: Repo, synced: Synced, path: str, oid: str,
                           executable: bool | None) -> bool:
    """Does a file holding `oid` at `path` (inside the directory whose record is `synced`)
    hold a version of it that a finished checkout placed there, so unchanged since, or, at a
    path no finished checkout placed, the version one that did not finish was placing?
    `executable` None: its bit tells nothing (a link into the cache). False for a version no
    longer known here."""
    for layer in synced.layers_placing(path):
        version = _version_in(repo, layer, path)
        if version is not None and version is not _UNKNOWN and version[0] == oid \
                and executable in (None, version[1]):
            return True
    return False


def kept_as_placed(repo: Repo, synced: Synced, tree: Tree, path: str) -> bool:
    """Did the pointer's version (manifest `tree`) keep `path` as a checkout last placed it,
    per the record `synced` (or never placed it, nor has it)? Then what the workspace holds
    there instead is a change made here alone, not one that undoes the pointer's."""
    layer = synced.layer_for(path)
    was = None if layer is None else _version_in(repo, layer, path)
    wanted = tree.get(path)
    return was == (None if wanted is None else (wanted.oid, wanted.executable))


def changed_here(repo: Repo, path: str, oid: str) -> bool:
    """Is the workspace file at `path` (relative to the root), holding `oid`, a change made
    here since dvx placed or recorded what is there? So it is when a sync record (of `path`
    itself, or of a tracked directory holding it) says what was placed there, and `oid` is
    none of the versions any of them placed. With no such record, or one whose versions are
    no longer known here, it cannot be told: False."""
    return _placed_by_dvx(repo, path, oid) is False


def written_by_git(repo: Repo, path: str) -> bool:
    """While Git stops inside a merge, cherry-pick, revert or rebase: does the workspace file
    at `path` (relative to the root) hold what a commit on either side records at that path
    (HEAD's, or the one the operation brings: MERGE_HEAD's, say)? So it is where a side
    committed the data into Git, and Git wrote its file over the data dvx placed, or kept
    the one it tracks (the merge stopped on a modify/delete conflict over the pointer): no
    change made here, and replacing it loses nothing, as that commit keeps it. False when
    no operation is stopped, or Git cannot say."""
    git = repo.git
    if git is None:
        return False
    try:
        heads = git.operation_heads()
        if not heads:
            return False
        heads = ("HEAD", *heads)
        size = os.lstat(repo.abspath(path)).st_size
        blobs = {blob for head in heads if (blob := git.blob_id_at(head, path, size))}
        return bool(blobs) and git.hash_files([path])[0] in blobs
    except (DvxError, OSError, IndexError):
        return False  # larger there than here, or unreadable: not the same bytes


def never_recorded_here(repo: Repo, path: str, oid: str, in_lock: bool) -> bool:
    """Is the workspace file at `path`, the data of a pointer (with `in_lock`, of a dvx.lock
    entry) that no sync record over it tells of, holding `oid`, a change made here? So it is
    when none of the commits HEAD was at lately recorded `oid` there (`recorded_lately`): no
    dvx command synced that pointer here (`git pull` brought it over a file of the user's
    own), and the file holds no version Git recorded, as status finds it modified. Its bytes
    being in the cache tell nothing: named by no pointer once replaced, gc would delete
    them. A repository without Git cannot tell: False."""
    if repo.git is None or _placed_by_dvx(repo, path, oid) is not None:
        return False
    return all(pointer.oid != oid for pointer in recorded_lately(repo, path, in_lock))


# Given a workspace file's path (relative to the root) and the oid it holds, is it a change
# made here that no sync record tells of (`never_recorded_here`, `never_recorded_inside`)?
NeverRecorded = Callable[[str, str], bool]


def never_recorded_inside(repo: Repo, directory: str, in_lock: bool,
                          placing: Tree | None) -> NeverRecorded:
    """`never_recorded_here` for the files of the tracked directory at `directory` (the
    data of a pointer, with `in_lock` of a dvx.lock entry), of which a checkout places the
    version `placing` (None: a file, which names no file inside): a file in it that no sync
    record over it tells of, holding `oid`, is a change made here when none of the versions
    of the directory HEAD's recent commits recorded held `oid` at its path (a file of the
    user's own, in a folder `git pull` brought a pointer over), as status finds it modified
    or added. A version whose manifest is no longer in the cache (`dvx gc` took it once the
    pointer moved) cannot tell: a file at a path `placing` names may hold that version's
    bytes (a teammate's change `git pull` brought, over data a checkout placed), so it is
    not called a change made here and is replaced; one at a path `placing` does not name is,
    as nothing says dvx placed it, and a checkout never deletes it. The manifests are read
    once, when a file is first asked about, so a directory whose files all hold what its
    pointer records costs nothing."""
    versions: list[Tree] | None = None  # None: not read yet, or not all in the cache
    read = False

    def never_recorded(path: str, oid: str) -> bool:
        nonlocal versions, read
        if repo.git is None or _placed_by_dvx(repo, path, oid) is not None:
            return False
        if not read:
            versions, read = _versions_recorded_lately(repo, directory, in_lock), True
        rel = path[len(directory) + 1:]
        if versions is None:
            return placing is None or placing.get(rel) is None
        return all((entry := tree.get(rel)) is None or entry.oid != oid for tree in versions)

    return never_recorded


def _versions_recorded_lately(repo: Repo, directory: str, in_lock: bool) -> list[Tree] | None:
    """The manifests of the versions of the directory that HEAD's recent commits recorded
    (`recorded_lately`), or None when the cache lacks one of them."""
    found = []
    for pointer in recorded_lately(repo, directory, in_lock):
        if not pointer.is_dir:
            continue  # a file there then: it names no version of a file inside
        try:
            tree = version_tree(repo, pointer.oid)
        except FormatError:
            continue  # an invalid manifest names no file's version
        if tree is None:
            return None
        found.append(tree)
    return found


def dvx_s_data_inside(repo: Repo, directory: str, in_lock: bool) -> Callable[[str], bool]:
    """Is the file at `path` (relative to the root) inside the tracked directory at
    `directory` (the data of a pointer, with `in_lock` of a dvx.lock entry) at a path a
    version of it names: one a sync record says a checkout placed there, or one HEAD's recent
    commits recorded (its manifest in the cache)? Such a file is dvx's data, never one
    .dvxignore leaves out of it, whatever rule was added since. The recent versions are read
    once, when first needed."""
    versions: list[Tree] | None = None

    def named(path: str) -> bool:
        nonlocal versions
        if _named_by_a_placed_version(repo, path):
            return True
        if versions is None:
            versions = _versions_recorded_lately(repo, directory, in_lock) or []
        rel = path[len(directory) + 1:]
        return any(tree.get(rel) is not None for tree in versions)

    return named


def _named_by_a_placed_version(repo: Repo, path: str) -> bool:
    """Does a version a checkout placed, per the sync record of a folder holding `path`,
    name a file at `path`?"""
    for record_path, rel in _records_over(path)[1:]:
        synced = repo.syncstate.get(record_path)
        if synced is None or rel is None:
            continue
        for layer in synced.layers_placing(rel):
            try:
                version = _version_in(repo, layer, rel)
            except FormatError:
                continue
            if version not in (None, _UNKNOWN):
                return True
    return False


def placed_by_dvx(repo: Repo, path: str, oid: str) -> bool:
    """Does a sync record say that dvx placed or recorded `oid` at `path` (relative to the
    root), a version that is then no change made here? False when none tells."""
    return _placed_by_dvx(repo, path, oid) is True


def _placed_by_dvx(repo: Repo, path: str, oid: str) -> bool | None:
    """True if a sync record over `path` says `oid` was placed there; False if some say what
    was placed and none placed `oid`; None if none tells."""
    told: bool | None = None
    for record_path, rel in _records_over(path):
        synced = repo.syncstate.get(record_path)
        if synced is None:
            continue
        placed = _placed_at(synced, oid) if rel is None else _placed_there(repo, synced, rel, oid)
        if placed:
            return True
        if placed is False:
            told = False
    return told


def versions_placed(repo: Repo, path: str) -> set[str]:
    """The oids the sync records over `path` (relative to the root) say a checkout placed or
    dvx recorded there, in every version they keep: a hard link of one of those objects
    that an edit wrote through holds none of them any more, and is told by its inode. A
    version whose manifest the cache lacks tells none."""
    found: set[str] = set()
    for record_path, rel in _records_over(path):
        synced = repo.syncstate.get(record_path)
        if synced is None:
            continue
        if rel is None:
            found.update(layer.oid for layer in synced.layers())
            continue
        for layer in synced.layers_placing(rel):
            with contextlib.suppress(FormatError):  # a file's record, by an older dvx
                version = _version_in(repo, layer, rel)
                if version is not None and version is not _UNKNOWN:
                    found.add(version[0])
    return found


def _records_over(path: str) -> list[tuple[str, str | None]]:
    """The paths whose sync record may tell what was placed at `path`: itself (None), then
    each folder holding it, with `path` relative to that folder."""
    found: list[tuple[str, str | None]] = [(path, None)]
    parent = path.rpartition("/")[0]
    while parent:
        found.append((parent, path[len(parent) + 1:]))
        parent = parent.rpartition("/")[0]
    return found


def _placed_at(synced: Synced, oid: str) -> bool | None:
    """Is `oid` what the record `synced` of a path placed there (a version of a directory
    that placed nothing, as a checkout records one ahead, aside)? None if none placed
    anything."""
    placed = [layer.oid for layer in synced.layers() if layer.placed != ()]
    return oid in placed if placed else None


def _placed_there(repo: Repo, synced: Synced, rel: str, oid: str) -> bool | None:
    """Is `oid` a version of `rel` that a checkout placed, per the record `synced` of a
    directory holding it (True also when what was placed is no longer known here, or may
    have been placed past the versions a record keeps)? None when no finished checkout
    placed `rel` (a file's record placed nothing inside it), unless `oid` is the version a
    checkout that did not finish was placing there."""
    if synced.depth >= MAX_LAYERS:
        return True  # later parts were placed unrecorded (Synced.moved_to)
    layers = synced.layers_placing(rel)
    finished = layers != [] and layers[-1].covers(rel)
    if not layers or any(layer.executable is not None for layer in layers):
        return None
    for layer in layers:
        try:
            version = _version_in(repo, layer, rel)
        except FormatError:
            return None  # the record names no manifest (a file's, written by an older dvx)
        if (version is _UNKNOWN and finished) or (
                version not in (None, _UNKNOWN) and version[0] == oid):
            return True
    return False if finished else None


def records_a_file(repo: Repo, synced: Synced) -> bool:
    """Is `synced` known to be the record of a file, not of a directory's version? A file's
    record keeps its executable bit; one written before records kept it looks like a
    directory's, and is told apart by its object's first bytes. One whose object the cache
    lacks is taken for a directory's, whose version is then not known here, as when its
    manifest is gone."""
    if synced.executable is not None:
        return True
    if synced.placed is not None or synced.base is not None:
        return False
    return begins_as_manifest(repo, synced.oid) is False


def begins_as_manifest(repo: Repo, oid: str) -> bool | None:
    """Does the cached object `oid` begin as every directory manifest does (its header
    line)? None if the cache lacks it."""
    if repo.loaded_trees.get((repo.algo, oid)) is not None:
        return True  # read as a manifest already: a check per file opens it no more
    header = first_line(repo.algo)
    try:
        with repo.cache.open(oid) as f:
            return f.read(len(header)) == header
    except (DvxError, OSError):
        return None


def version_tree(repo: Repo, oid: str) -> Tree | None:
    """The manifest of a version of a directory, if it is in the cache."""
    return load_tree(repo, Pointer("dir", repo.algo, oid, 0, 0))


def _version_in(repo: Repo, layer: Synced, path: str) -> tuple[str, bool] | None:
    """(oid, executable) of `path` in the version `layer` records, None if that version has
    no such file, _UNKNOWN if its manifest is not in the cache. A layer recording a file
    (the path was a file then) is no version of the directory: it has no such file."""
    if records_a_file(repo, layer):
        return None
    older = version_tree(repo, layer.oid)
    if older is None:
        return _UNKNOWN
    entry = older.get(path)
    return None if entry is None else (entry.oid, entry.executable)


def placed_whole(repo: Repo, synced: Synced) -> bool:
    """Do the parts `synced` placed cover every path of its version and of every older one
    under it (so no file of an older version is left outside them)? A layer recording a
    file (the path was a file then) is no version of the directory: it has no paths."""
    for layer in synced.layers():
        if records_a_file(repo, layer):
            continue
        tree = version_tree(repo, layer.oid)
        if tree is None or not all(synced.covers(path) for path in tree.paths):
            return False
    return True


def holds_what_was_placed(repo: Repo, current: dict[str, TreeEntry], synced: Synced) -> bool:
    """Does the directory hold only what checkouts placed, per the layered record `synced`
    (each file as one of the versions placed at or above the record that placed its path,
    each placed file still there), so that nothing in it is a change of its own? A layer
    recording a file (the path was a file then) is no version of the directory: it placed
    nothing in it, and its object is never read as a manifest."""
    layers = [layer for layer in synced.layers() if not records_a_file(repo, layer)]
    trees = [version_tree(repo, layer.oid) for layer in layers]
    if any(tree is None for tree in trees):
        return False  # what it was synced to is no longer known here: a change, to be safe
    if not all(holds_a_placed_version(repo, synced, path, entry)
               for path, entry in current.items()):
        return False  # changed here, or a file no checkout placed
    for layer, tree in zip(layers, trees, strict=True):
        for placed in tree.entries if tree is not None else ():
            if placed.path not in current and synced.layer_for(placed.path) is layer:
                return False  # placed, then deleted here
    return True
