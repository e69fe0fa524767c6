"""dvx checkout: make the workspace match the pointers, linking data from the cache.

Checkout plans first and then applies. A workspace file is replaced or deleted only when its
current content is itself in the cache (so nothing is lost) and is not a change made here
since it was last synced (dvx/syncstate.py: else no pointer may name it, and gc would take
it), or with --force; everything else is skipped and reported. The checkout of a pull may
also replace a file whose content a remote holds (`HeldElsewhere`): nothing is lost either.
Files that the target version of a directory no longer has are removed, and directories left
empty by that are pruned.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import os
import stat
from array import array
from bisect import bisect_left
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence, Set
from dataclasses import dataclass, field, replace
from typing import TypeGuard

from dvx import faults, fsutil, get_scratch, gitignore
from dvx.errors import CorruptObjectError, DvxError, PathError
from dvx.hashing import OnBytes
from dvx.ignore import is_ignore_file
from dvx.lock import began_writing
from dvx.logs import get_logger, quoted, shell_quote
from dvx.objects.cache import kept_message, unreadable_object
from dvx.objects.statcache import StatKey, stat_key
from dvx.objects.tree import Tree
from dvx.ops.data_places import (
    SUBMODULE_HERE,
    in_git_note,
    not_ignored,
    submodule_why,
    submodules_within,
    tracked_by_git,
    tracked_by_git_ways,
    tracked_by_git_within,
)
from dvx.ops.kept_for_left_out import FOLDER_IN_THE_WAY, kept_for_left_out_why, left_out_inside
from dvx.ops.left_behind import settle_left_behind
from dvx.ops.status import changed_in_its_object, synced_lately
from dvx.ops.sync_layers import (
    NeverRecorded,
    changed_here,
    dvx_s_data_inside,
    kept_as_placed,
    never_recorded_here,
    never_recorded_inside,
    placed_by_dvx,
    placed_whole,
    records_a_file,
    written_by_git,
)
from dvx.ops.written_through import object_written_through
from dvx.outputs import DeclaredOutputs, Output, Target, load_tree, without_invalid_manifests
from dvx.paths import (
    Walk,
    alike_paths,
    file_in_place_of,
    for_command,
    from_here,
    is_reserved_name,
    join_posix,
    safe_dir_join,
    symlinked_parent,
    walk_directory,
)
from dvx.pointer import recorded_wrongly
from dvx.processes import map_in_processes
from dvx.progress import byte_progress
from dvx.repo import Repo
from dvx.syncstate import Synced
from dvx.threads import map_in_threads
from dvx.unmerged import unmerged_without_markers
from dvx.wording import counted, named_list
from dvx.workspace import (
    REPOSITORY_INSIDE,
    FileState,
    file_state,
    held_why,
    keep_links_on_set_aside,
    prune_empty_dirs,
    reads_named,
    remove_temporaries,
    remove_temporaries_beside,
    repository_anywhere_inside,
    repository_inside,
    stale_link_oid,
)

log = get_logger(__name__)


class PathList:
    """Workspace paths, those of a directory's files held as indices into its manifest: a
    checkout of a million files reports them without a million strings."""

    def __init__(self) -> None:
        self._paths: list[str] = []
        self._runs: list[tuple[str, Tree, array[int]]] = []  # (directory, manifest, indices)

    def append(self, path: str) -> None:
        self._paths.append(path)

    def add_entry(self, directory: str, tree: Tree, index: int) -> None:
        if not self._runs or self._runs[-1][0] != directory or self._runs[-1][1] is not tree:
            self._runs.append((directory, tree, array("l")))
        self._runs[-1][2].append(index)

    def __len__(self) -> int:
        return len(self._paths) + sum(len(indices) for _, _, indices in self._runs)

    def __iter__(self) -> Iterator[str]:
        yield from self._paths
        for directory, tree, indices in self._runs:
            for index in indices:
                yield f"{directory}/{tree.paths[index]}"


@dataclass
class CheckoutResult:
    restored: PathList = field(default_factory=PathList)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    # Of the unchanged files, those dvx did not place before (as an output of their own): what
    # tells data found already there from data dvx left from another version.
    unchanged_found: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, why)
    missing: list[str] = field(default_factory=list)  # paths whose data is not in the cache
    # Of those, the paths whose object was in it, found damaged and moved aside (the remote
    # may well have it: `dvx pull` fetches it again).
    damaged: list[str] = field(default_factory=list)
    # Of those, the files that keep the changed bytes (changed through their link), as a
    # command names them: a plain pull skips them as changes, `dvx pull --force` replaces them
    kept_changed: list[str] = field(default_factory=list)
    # Outputs in the workspace whose .gitignore entry was gone, written again (`_ignore_again`)
    ignored_again: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.skipped and not self.missing

    @property
    def left_only_what_the_user_keeps(self) -> bool:
        """Did it place everything but the files it kept as the user's (changes made here,
        versions only the workspace holds, links of their own)? A run again would do no
        more, where a file it could not write (a disk full) or data it lacks is work left."""
        return not self.missing and all(_kept_as_the_user_s(why) for _, why in self.skipped)

    @property
    def lacked_only_data(self) -> bool:
        """Is all it left undone data the cache lacks (a teammate's not pushed yet)? Status
        names each such path as not in the cache: no stopped command need name it, and no
        run again does more until the data comes."""
        return bool(self.missing) and all(_kept_as_the_user_s(why) for _, why in self.skipped)

    def to_json(self) -> dict[str, object]:
        return {"restored": list(self.restored), "removed": self.removed,
                "unchanged": self.unchanged,
                "skipped": [{"path": p, "reason": r} for p, r in self.skipped],
                "missing": self.missing, "ignored_again": self.ignored_again}


OBJECT_MISSING = "its object is not in the cache"
CHANGED_OBJECT = "its object in the cache was changed after it was stored"
NOT_CACHED = "it has changes that are not in the cache (use --force to discard them)"
CHANGED_HERE = ("it has changes made here since the last checkout (`dvx commit` records them; "
                "use --force to discard them)")
# A link shows whatever its object holds: who wrote through a link to it is not known here
CHANGED_THROUGH_A_LINK = (
    "the object it links to was changed through a link to it since the last checkout, here "
    "or by a repository sharing the cache, and moved aside with the bytes it showed (named "
    "above): if they are a change of yours, `dvx commit` records them; if not, --force links "
    "the recorded version again (they stay set aside)")
# --force of add records it over the pointer's version, undoing the change that brought it;
# `_name_what_records` names the tracked path to add once the file's output is known
_RECORD_OVER = ("`dvx add --force` records it again, over the version the pointer names (undoing "
                "the change that brought that version, a teammate's say)")
GONE_FROM_CACHE = ("the version it holds, which dvx placed or recorded there, is no longer in "
                   "the cache (gc deleted it, say): `dvx pull` replaces it if the remote holds "
                   f"that version; {_RECORD_OVER}; use --force to discard it")
ONLY_HERE = ("the version it holds is neither in the cache nor on the remote "
             f"({_RECORD_OVER}; use --force to discard it)")
_NOT_CACHED = (NOT_CACHED, GONE_FROM_CACHE)
# How the reason starts that names a file edited in place through its link into the cache
WRITTEN_THROUGH = "it was edited in place through its link into the cache"


def written_through(root: str, display: str) -> str:
    """Why the file `display`, whose edit wrote the very object its record names
    (`changed_in_its_object`), is kept: no checkout, --force or not, can put back a version
    the cache no longer holds; status's ways on are named, for that file."""
    named = for_command(root, display)
    return (f"{WRITTEN_THROUGH}, which changed the cached object itself, so the cache no "
            f"longer holds the recorded version and --force cannot put it back: `dvx commit "
            f"{named}` records the edit, `dvx pull --force {named}` fetches the recorded "
            "version if a remote has it")


def written_through_older(root: str, display: str, oid: str) -> str:
    """Why the file `display` is kept whose edit wrote the object `oid` of the version a
    checkout placed there before its record moved (a `git pull` or `git checkout` since):
    --force places the recorded version, which the cache holds, and moves `oid` aside."""
    named = for_command(root, display)
    return (f"{WRITTEN_THROUGH}, which changed the cached object {oid} of the version placed "
            f"there before its record moved: `dvx commit --force {named}` records the edit, "
            f"`dvx checkout --force {named}` discards it (and moves that object, which no "
            "longer holds the bytes its oid names, aside)")


def rerun_from_its_inputs(stage: str) -> str:
    """What records again a stage output's version the cache no longer has: a run of its
    stage from the inputs that made it, never a commit, which would pair it with the inputs
    dvx.lock records."""
    return (f"`dvx repro {shell_quote(stage)}` records it again once the workspace holds the "
            "inputs it was made from")

# Given an output and the oids of workspace files of it that checkout would keep because the
# cache lacks their bytes, those a remote holds (replacing them loses nothing); None when
# that could not be asked.
HeldElsewhere = Callable[[Output, Collection[str]], "set[str] | None"]
_Ask = Callable[[Collection[str]], "set[str] | None"]


def checkout(repo: Repo, targets: list[Target] | Callable[[], list[Target]],
             force: bool = False, relink: bool = False, settle: DeclaredOutputs | None = None,
             held_elsewhere: HeldElsewhere | None = None, lock_records_later: bool = False
             ) -> CheckoutResult:
    """`targets`, or a function that reads them once the repository lock is held (what the
    pointers name may have changed since the caller last read them).
    `relink`: place again the files that already match, so that each is placed as
    cache.type now says (after it changed: a symlink becomes a copy, a copy a link); those
    placed so already are left as they are.
    `settle` (the targets are every output): data whose pointer left Git goes too, when that
    loses nothing (dvx/ops/left_behind.py), but for the outputs it says dvx.yaml declares.
    `held_elsewhere` (a pull's): asked about the files kept as the cache lacks their bytes;
    those a remote holds are replaced, unless they are changes made here.
    `lock_records_later` (a restore from the run-cache, of stage outputs dvx.lock records
    only after): what the workspace then holds of each target is pending until dvx.lock
    names it (`SyncState.expect_in_lock`), so that a restore killed before that write leaves
    the outputs compared with what dvx.lock named before, as changes of the stage's, the way
    a run killed there leaves them; never as data dvx.lock once named and no longer does."""
    result = CheckoutResult()
    skipped_by_output: list[tuple[Output, int]] = []  # (output, its first in result.skipped)
    with repo.lock() as lock:
        if callable(targets):
            targets = targets()
        targets = without_invalid_manifests(repo, targets)
        remove_temporaries_beside(repo.root, [t.output.path for t in targets])
        targets = _hold_back_alike_targets(repo, targets, result)
        targets = _hold_back_unignorable_targets(repo, targets, result)
        left_to_git = _left_to_git(repo, [t.output for t in targets])
        _refuse_folders_not_writable(
            repo, [t for t in targets if t.output.path not in left_to_git], force, relink,
            held_elsewhere)
        done = False
        try:
            # Written ahead, once for all: a checkout stopped half-way, even by kill -9,
            # leaves records under which its absent files are not pulled, never deleted.
            records_before = {}
            # Per directory, the record its first target's write-ahead went over.
            written_over: dict[str, Synced | None] = {}
            # The directories a target of which did not finish in this checkout: it may have
            # removed files of theirs that a part finished after it never places again.
            stopped_in: set[str] = set()
            # Data already there with no record: found, not placed, should it match. In a
            # directory, what dvx placed there as outputs of their own does not count.
            recorded = sorted(repo.syncstate.paths())
            found_there = {target: _placed_inside(recorded, target.output)
                           for target in targets if target.subpath is None
                           and repo.syncstate.get(target.output.path) is None
                           and os.path.lexists(repo.abspath(target.output.path))}
            for target in targets:
                if target.output.pointer.is_dir and not lock_records_later:
                    records_before[target] = repo.syncstate.get(target.output.path)
                    _record_the_version_held(repo, target.output)
                    written_over.setdefault(target.output.path,
                                            repo.syncstate.get(target.output.path))
                    _remember_synced(repo, target, complete=False, ahead=True)
            repo.syncstate.flush()
            repo.cache.known_stats.read_objects(
                t.output.pointer.oid for t in targets if not t.output.pointer.is_dir)
            for target in targets:
                problems = len(result.skipped) + len(result.missing)
                skipped_from, missing = len(result.skipped), len(result.missing)
                skipped_by_output.append((target.output, skipped_from))
                found = result.unchanged_found
                ask = None if held_elsewhere is None else _asking(held_elsewhere, target.output)
                git_why = left_to_git.get(target.output.path)
                placed = True
                with reads_named(repo.root, target.output.path):
                    if target.output.pointer.is_dir:
                        placed = _checkout_dir(repo, target.output, target.subpath, force,
                                               result, relink, found_there.get(target, ()),
                                               ask, git_why)
                    else:
                        _checkout_file(repo, target.output, force, result, relink, ask,
                                       git_why)
                if not placed:
                    # nothing of this version placed: the workspace holds what it did
                    if target in records_before:
                        _restore_record(repo, target.output.path, records_before[target])
                    continue
                if lock_records_later:
                    _expect_in_lock(repo, target, complete=len(result.skipped)
                                    + len(result.missing) == problems)
                    continue
                kept = [path for path, _ in result.skipped[skipped_from:]] \
                    if len(result.missing) == missing else None
                complete = len(result.skipped) + len(result.missing) == problems
                _remember_synced(repo, target, complete=complete, kept=kept,
                                 earlier=written_over.get(target.output.path),
                                 after_unfinished=target.output.path in stopped_in)
                if not complete:
                    stopped_in.add(target.output.path)
                if target in found_there and result.unchanged_found > found:
                    # Some of it was there, matching (a folder that was there is not enough)
                    _mark_found(repo, target.output)
            result.ignored_again = _ignore_again(
                repo, list(dict.fromkeys(t.output.path for t in targets)))
            if settle is not None:
                result.removed += settle_left_behind(repo, settle)
            done = True
        finally:
            # Lacking only data is no work left undone once all the rest is done, never
            # when an error cut the rest short.
            if (len(result.restored) or result.removed) \
                    and not (done and result.lacked_only_data):
                began_writing(repo.tmp_dir)  # an error now leaves it half-done
            repo.statcache.flush()
            repo.syncstate.flush()
        if not result.left_only_what_the_user_keeps:  # work not done: a stopped one stays
            lock.failed()
    _name_what_records(repo.root, result.skipped, skipped_by_output)
    return result


def _refuse_folders_not_writable(repo: Repo, targets: list[Target], force: bool,
                                 relink: bool, held_elsewhere: HeldElsewhere | None) -> None:
    """Refuse, before anything is placed, targets that would place, replace or delete a file
    in a folder dvx may not write in (or enter): each would fail there, after the others were
    placed. Only the folders of the files to place are asked about, once each, and the
    folders of a tracked directory that is there are listed (no file's stat) for the files
    its checkout deletes; a file is looked at only where its folder refuses, and judged as
    the checkout judges it (`force`, `relink`, and a pull's `held_elsewhere` asked about the
    files there kept as the cache lacks their bytes), so what it keeps (a change made here,
    data it lacks, a folder of the user's where a file goes) asks nothing of its folder; `targets`
    leave out those it leaves to Git, where it writes nothing. Every such folder is named from
    the current directory with the chmod that lets dvx write there."""
    fixes: dict[str, fsutil.AccessFix | None] = {}
    refused: dict[str, _Refused] = {}

    def refuses(folder: str) -> fsutil.AccessFix | None:
        if folder not in fixes:
            fix = fsutil.access_fix(folder)
            # a folder it may not list is named by the reading that needs it (reads_named)
            fixes[folder] = None if fix is None or fix.mode == "u+rx" else fix
        return fixes[folder]

    for target in targets:
        ask = None if held_elsewhere is None else _asking(held_elsewhere, target.output)
        for fix, display, deleted in _writes_refused(repo, target, force, relink, ask,
                                                     refuses):
            held = refused.setdefault(fix.path, _Refused(fix))
            (held.deleted if deleted else held.placed).append(display)
    if refused:
        raise _folders_refused(repo.root, [refused[folder] for folder in sorted(refused)])


@dataclass
class _Refused:
    """A folder dvx may not write in (`fix`), and the files a checkout would place and delete
    there."""
    fix: fsutil.AccessFix
    placed: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)


_Refuses = Callable[[str], "fsutil.AccessFix | None"]


def _writes_refused(repo: Repo, target: Target, force: bool, relink: bool, ask: _Ask | None,
                    refuses: _Refuses) -> Iterator[tuple[fsutil.AccessFix, str, bool]]:
    """(the fix of its folder, path from the root, deleted or placed) of each file the
    checkout of `target` would place, replace or delete in a folder that `refuses`: the
    output itself, or the files of its manifest in scope and those it deletes; a directory
    not there at all (or a file or link where it goes, replaced) is named whole (each of its
    files would go in a folder made for it). `ask` (a pull's) is asked once about the files
    there kept as the cache lacks their bytes: those a remote holds are replaced or deleted."""
    # (fix, path, state, oid to place or None, deleted) of each file to ask about
    asked: list[tuple[fsutil.AccessFix, str, FileState, str | None, bool]] = []
    lacking: list[FileState] | None = None if ask is None else []
    output = target.output
    full = repo.abspath(output.path)
    if not output.pointer.is_dir or os.path.islink(full) or not os.path.isdir(full):
        fix = refuses(os.path.dirname(full))
        if fix is None:
            return
        if output.pointer.is_dir:
            placed = _would_place(repo, full, output.path, output.pointer.oid, False, force,
                                  relink, None)
            never_recorded: NeverRecorded | None = None
        else:
            never_recorded = _never_recorded_file(repo, output)
            # a folder where the file goes is deleted only when there is a file to place
            placed = repo.cache.exists(output.pointer.oid) and (
                _would_place(repo, full, output.path, output.pointer.oid,
                             output.pointer.executable, force, relink, never_recorded,
                             lacking)
                or _folder_goes(repo, full, output.path, _ways_out_of(output), force,
                                _never_recorded_folder(repo, output)))
        if placed:
            yield fix, output.path, False
        elif lacking:
            asked.append((fix, output.path, lacking.pop(), output.pointer.oid, False))
        yield from _held_elsewhere(repo, ask, asked, never_recorded)
        return
    tree = load_tree(repo, output.pointer, output.recorded_in)
    if tree is None:  # nothing to place
        return
    in_lock = output.stage is not None
    never_recorded = never_recorded_inside(repo, output.path, in_lock, tree)
    dvx_s = dvx_s_data_inside(repo, output.path, in_lock)
    for index in _scope(tree, target.subpath):
        rel = tree.paths[index]
        path, display = join_posix(full, rel), f"{output.path}/{rel}"
        fix = refuses(os.path.dirname(path))
        # through a symlinked folder, nothing is placed (the checkout says why)
        if fix is not None and symlinked_parent(full, rel) is None and (
                _would_place(repo, path, display, tree.oid_at(index),
                             tree.entry(index).executable, force, relink, never_recorded,
                             lacking)
                or _folder_goes(repo, path, display, _WaysOut(output.path, recordable=False),
                                force, never_recorded, dvx_s)):
            yield fix, display, False
        elif fix is not None and lacking:
            asked.append((fix, display, lacking.pop(), tree.oid_at(index), False))
    for fix, rel, path in _unrecorded_in_refusing_folders(repo, output.path, full, tree,
                                                          target.subpath, refuses):
        display = f"{output.path}/{rel}"
        state, why = (None, None) if force else _state_and_why(repo, path, display, False,
                                                               None, never_recorded)
        if why is None:
            yield fix, display, True
        elif why in _NOT_CACHED and ask is not None and state is not None:
            asked.append((fix, display, state, None, True))
    yield from _held_elsewhere(repo, ask, asked, never_recorded)


def _held_elsewhere(repo: Repo, ask: _Ask | None,
                    asked: list[tuple[fsutil.AccessFix, str, FileState, str | None, bool]],
                    never_recorded: NeverRecorded | None
                    ) -> Iterator[tuple[fsutil.AccessFix, str, bool]]:
    """Of the files `asked` about (as `_writes_refused` collects them), those `ask` finds a
    remote holds the bytes of, which the checkout replaces or deletes (`_judged_elsewhere`)."""
    if ask is None or not asked:
        return
    whys = _judged_elsewhere(repo, ask, [(display, state, wanted)
                                         for _, display, state, wanted, _ in asked],
                             never_recorded)
    for (fix, display, _, _, deleted), why in zip(asked, whys, strict=True):
        if why is None:
            yield fix, display, deleted


def _would_place(repo: Repo, full: str, display: str, oid: str, executable: bool, force: bool,
                 relink: bool, never_recorded: NeverRecorded | None,
                 lacking: list[FileState] | None = None) -> bool:
    """Would a checkout write the object `oid` at `full`: the cache holds it, and the file is
    not there, or holds other bytes that it replaces (with `force`, or as `_replaceable` lets
    it, `never_recorded` as it takes it), or holds them but is placed again (`_placed_again`)?
    A directory not there is placed. With `lacking`, a file kept as the cache lacks its bytes
    is added to it, its state, for a pull to ask a remote about."""
    if not repo.cache.exists(oid):
        return False  # reported as not in the cache, nothing written
    if not os.path.lexists(full):
        return True
    if os.path.isdir(full) and not os.path.islink(full):
        return False  # judged by the checkout itself (a folder in the way)
    state, why = _state_and_why(repo, full, display, force, oid, never_recorded)
    if _holds(state, oid):
        return _placed_again(repo, full, state, executable, relink)
    if why in _NOT_CACHED and lacking is not None and state is not None:
        lacking.append(state)
        return False
    return force or why is None


def _placed_again(repo: Repo, full: str, state: FileState, executable: bool, relink: bool
                  ) -> bool:
    """Is the file at `full`, which holds what it should (`state`), placed again all the same,
    as `_checkout_file` and `_plan_dir` judge it: `relink` finds it not placed as configured,
    or its executable bit is not `executable` and it shares its mode with its object?"""
    st = os.lstat(full)
    if relink and not _placed_as_configured(repo, full, state, st, executable):
        return True
    return state.executable != executable and _shares_its_mode(state, st)


def _folder_goes(repo: Repo, full: str, display: str, ways_out: _WaysOut, force: bool,
                 never_recorded: NeverRecorded,
                 keeps_left_out: Callable[[str], bool] | None = None) -> bool:
    """Is `full` a folder where a file goes that the checkout deletes to place the file
    (`_dir_in_the_way` lets it go, taking these arguments)?"""
    return os.path.isdir(full) and not os.path.islink(full) and _dir_in_the_way(
        repo, full, display, ways_out, force, keeps_left_out, never_recorded) is None


def _unrecorded_in_refusing_folders(repo: Repo, display: str, top: str, tree: Tree,
                                    subpath: str | None, refuses: _Refuses
                                    ) -> Iterator[tuple[fsutil.AccessFix, str, str]]:
    """(the fix of its folder, relpath, full path) of each file, link or special file in
    the tracked directory `display` (at `top`) that its version `tree` lacks, in scope, in a
    folder that `refuses`: what its checkout deletes unless it keeps it. The folders are
    listed, never a file's stat; what the checkout leaves out of the directory's data is
    left out (.dvxignore, .git and .dvx, a get's folders, temporaries), and nothing at all
    when it holds another repository (`repository_inside`), which checkout leaves whole."""
    found: list[tuple[fsutil.AccessFix, str, str]] = []
    reserved: list[str] = []
    pending = [(top, "")]
    while pending:
        folder, prefix = pending.pop()
        fix = refuses(folder)
        try:
            with os.scandir(folder) as listed:
                entries = list(listed)
        except OSError:
            continue  # one it may not list: named by the checkout's walk (reads_named)
        for entry in entries:
            name, rel = entry.name, prefix + entry.name
            if name[0] == "." and is_reserved_name(name):
                reserved.append(rel)
            elif entry.is_dir(follow_symlinks=False):
                if (_in_scope(rel, subpath) or (subpath or "").startswith(rel + "/")) \
                        and not (name[0] == "." and get_scratch.is_scratch_folder(entry.path,
                                                                                  name)):
                    pending.append((entry.path, rel + "/"))
            elif fix is not None and rel not in tree and _in_scope(rel, subpath) \
                    and not (name[0] == "." and fsutil.temp_target(name) is not None) \
                    and not is_ignore_file(rel):
                found.append((fix, rel, entry.path))
    if not found or repository_inside(repo, display, reserved) is not None:
        return
    for fix, rel, path in found:
        if repo.dvxignore.check(f"{display}/{rel}") is None:
            yield fix, rel, path


def _folders_refused(root: str, refused: list[_Refused]) -> DvxError:
    """The refusal of the files (`refused`: each folder's fix, and what would be placed and
    deleted in it), naming every folder from the current directory with one chmod that lets
    dvx at all of them."""
    def here(fix: fsutil.AccessFix) -> str:
        return from_here(root, os.path.relpath(fix.path, root).replace(os.sep, "/"))

    def named(paths: list[str]) -> str:
        return named_list([from_here(root, path) for path in paths], most=3,
                          name=lambda path: f"'{path}'")

    folders = [here(each.fix) for each in refused]
    placed = [path for each in refused for path in each.placed]
    deleted = [path for each in refused for path in each.deleted]
    if not deleted:
        what, done = f"{named(placed)} would be placed", "placed"
    elif not placed:
        what, done = f"{named(deleted)} would be deleted", "placed or deleted"
    else:
        what = f"{named(placed)} would be placed and {named(deleted)} deleted"
        done = "placed or deleted"
    modes = list(dict.fromkeys(each.fix.mode for each in refused))
    may_not = " or ".join("enter" if mode == "u+x" else "write in" for mode in modes)
    chmod = " && ".join(
        f"chmod {mode} " + " ".join(shell_quote(here(each.fix)) for each in refused
                                   if each.fix.mode == mode) for mode in modes)
    if len(folders) == 1:
        where, them, owner = f"the folder '{folders[0]}'", "it", "its owner"
    else:
        where = "the folders " + ", ".join(f"'{folder}'" for folder in folders)
        them, owner = "them", "their owner"
    return DvxError(
        f"dvx may not {may_not} {where}, where {what} (permission denied); nothing was "
        f"{done}.",
        f"Let dvx {may_not} {them} (`{chmod}`, as {owner}), then run the command again.")


def _name_what_records(root: str, skipped: list[tuple[str, str]],
                       by_output: list[tuple[Output, int]]) -> None:
    """Name in the reasons of `skipped` that say `dvx add --force` records a file the tracked
    path to add: the file's own, or the directory's that holds it (an add of a file inside
    tracked data is refused); for a stage's output, which add refuses, `dvx repro` of its
    stage from the inputs that made it (a commit of it would pair it with the inputs dvx.lock
    records). `by_output`: each output with the index of the first of `skipped` that is its,
    in order. Done once a checkout's reasons are no longer compared with the kinds of reason
    (`left_only_what_the_user_keeps`)."""
    for at, (output, start) in enumerate(by_output):
        end = by_output[at + 1][1] if at + 1 < len(by_output) else len(skipped)
        named = _RECORD_OVER.replace(
            "`dvx add --force`", f"`dvx add --force {for_command(root, output.path)}`") \
            if output.stage is None else rerun_from_its_inputs(output.stage)
        for i in range(start, end):
            path, why = skipped[i]
            if why in (GONE_FROM_CACHE, ONLY_HERE):
                skipped[i] = (path, why.replace(_RECORD_OVER, named))


def _asking(held_elsewhere: HeldElsewhere, output: Output) -> _Ask:
    return lambda oids: held_elsewhere(output, oids)


def _ignore_again(repo: Repo, outputs: list[str]) -> list[str]:
    """Write again the .gitignore entries of those of `outputs` whose data is in the
    workspace, placed or found there, that lack one, where Git ignores their data no other
    way; those outputs. Git drops an entry when it merges a .gitignore without dvx's merge
    driver (one side removed the pointer, the other changed it: the side that kept it has
    the data already, and nothing is placed) or a `git mv` moves a pointer, and `git add -A`
    would then take the data itself into Git. Data a `!` rule takes back in on purpose, and
    data Git tracks already, are left as they are. Cheap when nothing lacks an entry: each
    folder's .gitignore is read once, and Git is asked only about the outputs lacking one."""
    if repo.git is None:
        return []
    lacking = [os.path.relpath(full, repo.root).replace(os.sep, "/") for full in
               gitignore.lacking_entry([repo.abspath(path) for path in outputs])
               if os.path.lexists(full)]
    exposed = [path for path, rule in not_ignored(repo, lacking).items() if rule is None]
    tracked = tracked_by_git(repo, exposed)
    written = [path for path in exposed if path not in tracked]
    for path in written:
        gitignore.add_entry(repo.abspath(path))
    return written


def blocked(repo: Repo, targets: list[Target]) -> list[tuple[str, str]]:
    """What a checkout of `targets` without --force would skip, and why: the workspace files
    it would overwrite or delete whose content is not in the cache, or is a change made here
    since the last checkout (`_replaceable`). Nothing is changed, so
    a command that writes more than data (exp apply) can refuse before it writes anything.
    Data Git tracks too is not named: the checkout leaves it to Git, overwriting nothing; nor
    is a folder holding another repository, which it leaves as it is."""
    result = CheckoutResult()
    by_output: list[tuple[Output, int]] = []
    in_git = tracked_by_git_within(repo, sorted({t.output.path for t in targets}))
    for target in targets:
        output = target.output
        by_output.append((output, len(result.skipped)))
        full = repo.abspath(output.path)
        git_tracked: Set[str] = in_git.get(output.path, frozenset())
        if not output.pointer.is_dir:
            if git_tracked:
                continue
            if os.path.isdir(full) and not os.path.islink(full):
                why = _dir_in_the_way(repo, full, output.path, _ways_out_of(output),
                                      never_recorded=_never_recorded_folder(repo, output))
            else:
                _, why = _state_and_why(repo, full, output.path, False, output.pointer.oid,
                                        _never_recorded_file(repo, output))
            if why:
                result.skipped.append((output.path, why))
            continue
        tree = load_tree(repo, output.pointer, output.recorded_in)
        if tree is None:
            continue  # missing data: reported by the checkout itself
        if git_tracked:
            continue
        if os.path.lexists(full) and (os.path.islink(full) or not os.path.isdir(full)):
            why = _safe_to_replace(repo, full, output.path, False)
            if why:
                result.skipped.append((output.path, why))
            continue
        _plan_dir(repo, output.path, full, tree, output.pointer.oid, target.subpath, False,
                  result, in_lock=output.stage is not None)
    _name_what_records(repo.root, result.skipped, by_output)
    return [(path, why) for path, why in result.skipped
            if not why.startswith((TRACKED_BY_GIT, *SUBMODULE_HERE, REPOSITORY_INSIDE))]


def changed_in_cache(repo: Repo, targets: list[Target]) -> dict[str, str]:
    """The objects of `targets` that the cache holds changed since they were stored (written
    in place through a link to them, say: only an object not known intact is hashed,
    `LocalCache.changed_since_stored`), each with the path of a target it is data of. One
    missing is not changed: checkout says what is missing."""
    oids: dict[str, str] = {}
    for target in targets:
        pointer = target.output.pointer
        tree = load_tree(repo, pointer) if pointer.is_dir else None
        if tree is not None:
            for entry in tree.entries:
                oids.setdefault(entry.oid, target.output.path)
        elif not pointer.is_dir:
            oids.setdefault(pointer.oid, target.output.path)
    repo.cache.known_stats.read_objects(oids)
    return {oid: path for oid, path in oids.items() if repo.cache.changed_since_stored(oid)}


def held_by_cache(repo: Repo, full: str, display: str) -> bool:
    """Does the cache hold the content of the regular file at `full` (replacing it loses
    nothing)? A link, a directory or anything else is not judged here: False."""
    if os.path.islink(full) or not os.path.isfile(full):
        return False
    try:
        state = file_state(repo, full, display)
    except PathError:
        return False
    return state is not None and repo.cache.exists(state.oid)


def _remember_synced(repo: Repo, target: Target, complete: bool,
                     kept: list[str] | None = None, earlier: Synced | None = None,
                     after_unfinished: bool = False, ahead: bool = False) -> None:
    """Record what the workspace now holds of the target's pointer (dvx/syncstate.py). A
    complete checkout placed all of it, or for a part of a directory, that part as well as
    what was placed of it before. An incomplete one of a directory placed an unknown share
    of the part, and may have removed any file its version lacks: none of it counts as
    placed (its files compare as they are; the absent ones are not pulled, or outdated,
    never deleted), and what the rest was synced to before is kept under it, even when that
    is the same version placed in other parts. Recorded as incomplete first, the record of a
    directory moves to complete after; `earlier` is then the record that first write went
    over, and `after_unfinished` says a target of the directory before this one did not
    finish (`_placing_part`). `ahead`: the record written ahead, before any file moved.
    `kept`: the paths a checkout of a whole directory skipped, when it placed everything
    else. If the pointer kept each of them as it was placed, they are changes made here
    alone, and the directory is synced whole (they compare as modified, as they are)."""
    pointer = target.output.pointer
    oid = pointer.oid
    before = repo.syncstate.get(target.output.path)
    if target.subpath is None and (complete or _only_changes_made_here(
            repo, target.output, before, kept)):
        repo.syncstate.record(target.output.path,
                              Synced.whole(oid, pointer.is_dir, pointer.executable))
        return
    if not target.output.pointer.is_dir:
        return  # a file not placed: the record of what it holds stays true
    if before is not None and before.oid == oid:
        if complete and target.subpath is not None:
            after = _placing_part(before, earlier, target.subpath, after_unfinished)
            if after is not None and placed_whole(repo, after):  # every part placed by now
                after = Synced(oid)
            if after is not None:
                repo.syncstate.record(target.output.path, after)
            else:
                _warn_versions_untracked(repo, target.output.path)
        elif not complete and not _placed_already(before, target.subpath):
            unfinished = before.moved_to(oid, ())
            if unfinished is not None:
                repo.syncstate.record(target.output.path, unfinished)
            elif not ahead:  # what it may have removed is not told apart from the rest
                _warn_versions_untracked(repo, target.output.path)
        return
    placed = (target.subpath,) if complete and target.subpath is not None else ()
    synced = (Synced(oid, placed) if before is None or records_a_file(repo, before)
              else before.moved_to(oid, placed))  # a file's record is no older version of it
    if synced is not None:
        repo.syncstate.record(target.output.path, synced)
    elif complete:  # once, when the part is placed (not for the record written ahead)
        _warn_versions_untracked(repo, target.output.path)


def _warn_versions_untracked(repo: Repo, path: str) -> None:
    """Say that the directory `path` holds parts of more versions than its record keeps
    (syncstate.MAX_LAYERS), and what puts it right."""
    typed = for_command(repo.root, path)  # the commands run where the user is
    log.warning("%s now holds parts of more versions than dvx keeps track of; until a full "
                "`dvx pull %s` (or `dvx checkout %s`), status calls it changed both here and "
                "in Git, and commit refuses it.", quoted(path), typed, typed)


def _placed_already(synced: Synced, subpath: str | None) -> bool:
    """Did a finished checkout place the target (the whole directory, or `subpath` of it)
    at the version of `synced`, its top layer?"""
    return synced.placed is None if subpath is None else synced.covers(subpath)


def _placing_part(before: Synced, earlier: Synced | None, subpath: str,
                  after_unfinished: bool) -> Synced | None:
    """The record once `subpath` of the version of `before` (the directory's record now) is
    placed. Where `before` is the unfinished layer of a target of this checkout that did not
    finish (`after_unfinished`), the part goes on top of it: what that target may have
    removed stays outdated under the part. Where `before` is still the layer this checkout
    wrote ahead over `earlier`, a record of that same version, the part goes into `earlier`,
    unless `earlier` is itself the record of a checkout of it that did not finish: what that
    one may have removed stays outdated under the part. None: more layers than are kept; the
    record written ahead stands."""
    if before.unfinished and after_unfinished:
        return before.moved_to(before.oid, (subpath,))
    if before.unfinished and earlier is not None and earlier.oid == before.oid:
        return earlier.moved_to(earlier.oid, (subpath,)) if earlier.unfinished \
            else earlier.with_part(subpath)
    return before.with_part(subpath)


def _record_the_version_held(repo: Repo, output: Output) -> None:
    """With no sync record for the directory `output`, record the older version status
    takes it to hold (`synced_lately`: one HEAD's recent commits recorded, its pointer
    moved since), under the record the checkout writes ahead: the files it then keeps
    (their bytes nowhere to be had, say) compare with that version, as status found them,
    never with the pointer alone, which would call them changes made here for a commit to
    record over the pointer's."""
    if repo.syncstate.get(output.path) is None:
        held = synced_lately(repo, output)
        if held is not None:
            repo.syncstate.record(output.path, held)


def _expect_in_lock(repo: Repo, target: Target, complete: bool) -> None:
    """Record as pending until dvx.lock names it what a complete checkout of a whole output
    placed; nothing for an incomplete one, whose stage is not restored (it runs)."""
    pointer = target.output.pointer
    if complete and target.subpath is None:
        repo.syncstate.expect_in_lock(
            target.output.path, Synced.whole(pointer.oid, pointer.is_dir, pointer.executable))


def _only_changes_made_here(repo: Repo, output: Output, before: Synced | None,
                            kept: list[str] | None) -> bool:
    """Are the paths `kept` (as checkout reports them) files of the directory `output` whose
    version the pointer kept as it was placed, per the record `before`?"""
    if kept is None or before is None or not output.pointer.is_dir or (
            before.oid == output.pointer.oid and before.placed is None):  # whole already
        return False
    tree = load_tree(repo, output.pointer, output.recorded_in)
    prefix = output.path + "/"
    return tree is not None and all(
        path.startswith(prefix) and kept_as_placed(repo, before, tree, path[len(prefix):])
        for path in kept)


def _placed_inside(recorded: list[str], output: Output) -> tuple[str, ...]:
    """The paths in the directory `output` (relative to it) that dvx synced as outputs of
    their own, among the sorted `recorded` paths: a file `data/x.bin` tracked alone on another
    branch, left there by a switch."""
    if not output.pointer.is_dir:
        return ()
    prefix = output.path + "/"
    inside = recorded[bisect_left(recorded, prefix):bisect_left(recorded, output.path + "0")]
    return tuple(other[len(prefix):] for other in inside)


def _mark_found(repo: Repo, output: Output) -> None:
    synced = repo.syncstate.get(output.path)
    if synced is not None and synced.oid == output.pointer.oid and synced.placed is None:
        repo.syncstate.record(output.path, replace(synced, found=True))


def _restore_record(repo: Repo, path: str, before: Synced | None) -> None:
    if before is None:
        repo.syncstate.forget(path)
    else:
        repo.syncstate.restore(path, before)


UNKNOWN_FILE = "it is a symbolic link or special file dvx did not create (use --force)"
_KEPT_AS_THE_USER_S = (NOT_CACHED, CHANGED_HERE, CHANGED_THROUGH_A_LINK, GONE_FROM_CACHE,
                       ONLY_HERE, UNKNOWN_FILE)
# How the reasons start that name what stands where a file's folder goes (`_folder_taken`)
FOLDER_TAKEN = ("its folder '", "a file is where its folder '")
# How the reason starts that names data Git's index holds too (`git add -f` put it there)
TRACKED_BY_GIT = "it is tracked by Git too"
# How the reasons start that name a folder kept where a file goes for what is in it
# (`_dir_in_the_way`): a special file, or files of the user's, each a reason to keep it
DIR_IN_THE_WAY = "a directory is in the way (use --force)"
DIR_IN_THE_WAY_FOR = "a directory is in the way, holding "


def _kept_as_the_user_s(why: str) -> bool:
    """Does the reason `why` keep a path as the user's (a change, a link, data Git tracks,
    another repository)?
    Then a run again would do no more, and the checkout leaves no work undone by it."""
    return why in _KEPT_AS_THE_USER_S or why == DIR_IN_THE_WAY or why.startswith(
        (WRITTEN_THROUGH, DIR_IN_THE_WAY_FOR, TRACKED_BY_GIT, *SUBMODULE_HERE, REPOSITORY_INSIDE,
         *FOLDER_TAKEN, FOLDER_IN_THE_WAY))


def _left_to_git(repo: Repo, outputs: list[Output]) -> dict[str, str]:
    """{path: why checkout leaves it to Git, --force or not} for those of the `outputs` Git's
    index holds too, at their path or below it: a submodule there is named as one
    (`submodule_why`), which `git rm --cached` would unregister."""
    in_git = tracked_by_git_within(repo, sorted({o.path for o in outputs}))
    submodules = submodules_within(repo, sorted(in_git))
    return {o.path: submodule_why(repo.root, o.path, submodules[o.path], o.stage)
            if o.path in submodules else _tracked_by_git_why(repo.root, o)
            for o in outputs if o.path in in_git}


def _tracked_by_git_why(root: str, output: Output) -> str:
    """Why a path of the `output` that Git's index holds too is left as it is, --force or
    not: Git versions it, and placing the pointer's version would overwrite Git's (a commit
    holding both, the data in Git and a pointer to other bytes). Where a merge stopped over
    its pointer file, one side having committed the data into Git (a modify/delete conflict),
    that conflict and its ways out are the reason (dvx/unmerged.py)."""
    conflict = unmerged_without_markers(root).get(output.record_file) \
        if output.stage is None else None
    if conflict is not None:
        told = str(conflict)
        return f"{TRACKED_BY_GIT}, and {told[:1].lower()}{told[1:]}"
    return (f"{TRACKED_BY_GIT} ({in_git_note(root, output.path, 'it')}), so Git versions "
            "the data itself, and checkout leaves it to Git, --force or not; "
            + tracked_by_git_ways(root, output.path, output.stage))


def _safe_to_replace(repo: Repo, path: str, display: str, force: bool) -> str | None:
    """None if the file at `path` (`display`, relative to the root) may be overwritten or
    deleted, else why not."""
    return None if force else _state_and_why(repo, path, display, False, None)[1]


def _state_and_why(repo: Repo, full: str, display: str, force: bool, wanted: str | None,
                   never_recorded: NeverRecorded | None = None
                   ) -> tuple[FileState | None, str | None]:
    """The state of the file at `full` (`display`, relative to the root), and why it may not
    be replaced by the object `wanted` (None: deleted), None when it may; `never_recorded`:
    as `_replaceable` takes it."""
    try:
        state = file_state(repo, full, display)
    except PathError:
        return None, None if force else _why_not_replace_unreadable(repo, full)
    return state, _replaceable(repo, state, force, display, wanted,
                               never_recorded=never_recorded)


def _why_not_replace_unreadable(repo: Repo, path: str) -> str | None:
    """Why the link or special file at `path`, which dvx does not read, may not be replaced;
    None for a link to an object of another dvx cache (a moved or copied repository's) that
    this cache holds too: replacing it loses nothing."""
    if os.path.islink(path):
        oid = stale_link_oid(repo, path)
        if oid is not None and repo.cache.exists(oid):
            return None
    return UNKNOWN_FILE


def _replaceable(repo: Repo, state: FileState | None, force: bool, display: str,
                 wanted: str | None = None, elsewhere: Set[str] = frozenset(),
                 never_recorded: NeverRecorded | None = None) -> str | None:
    """None if the file at `display` (relative to the root), in this state, may be replaced
    by the object `wanted` (None: deleted): it holds that object already; or its content is
    safe in the cache (or it is a link dvx made into the cache to an object that still holds
    its bytes), or among the oids `elsewhere` (a remote holds them), and is not a change made
    here since it was last synced, which no pointer names once replaced; or it is the file a
    commit Git stopped inside a merge with holds there (`written_by_git`). A file the sync
    records know nothing of is judged by where its bytes are alone, unless it is data of a
    pointer or dvx.lock entry, a file of its own or one inside a directory, holding a version
    none of HEAD's recent commits recorded there (`never_recorded`, as
    `_never_recorded_file` or `never_recorded_inside` asks). One kept for its bytes
    being in no cache is told apart by whether dvx placed that version there (gc may have
    taken it from the cache since) or not."""
    if force or state is None or state.oid == wanted or state.dangling:
        return None
    if state.holds_its_own_bytes and written_by_git(repo, display):
        return None  # Git's history keeps it: the file a stopped merge wrote over the data
    if state.holds_its_own_bytes and not repo.cache.exists(state.oid) \
            and state.oid not in elsewhere:
        if wanted is not None and changed_in_its_object(repo, display, wanted):
            return written_through(repo.root, display)
        older = object_written_through(repo, repo.abspath(display), None)
        if older is not None:
            return written_through_older(repo.root, display, older)
        return GONE_FROM_CACHE if placed_by_dvx(repo, display, state.oid) else NOT_CACHED
    if not changed_here(repo, display, state.oid) and not (
            never_recorded is not None and state.holds_its_own_bytes
            and never_recorded(display, state.oid)):
        return None
    return CHANGED_HERE if state.kept_in is None else CHANGED_THROUGH_A_LINK


def _judged_elsewhere(repo: Repo, ask: _Ask,
                      kept: Sequence[tuple[str, FileState, str | None]],
                      never_recorded: NeverRecorded | None = None) -> list[str | None]:
    """Why each of the files `kept` ((display, state, the oid to place or None), each kept
    as the cache lacks its bytes) is still kept, once `ask` tells which of those bytes a
    remote holds: None for one it holds that is no change made here. `never_recorded`: as
    `_replaceable` takes it."""
    held = ask({state.oid for _, state, _ in kept})
    if held is None:  # the remote could not be asked: as checkout alone judges them
        return [_replaceable(repo, state, False, display, wanted,
                             never_recorded=never_recorded)
                for display, state, wanted in kept]
    whys = [_replaceable(repo, state, False, display, wanted, held, never_recorded)
            for display, state, wanted in kept]
    # "records it again" of a version dvx placed or recorded; a change made here keeps its own
    return [ONLY_HERE if why == GONE_FROM_CACHE else why for why in whys]


def _place(repo: Repo, oid: str, path: str, executable: bool, size: int,
           display: str = "") -> StatKey:
    with byte_progress(repo.progress, f"Checking out {display}", size) as on_bytes:
        placed = _link_out(repo, oid, path, executable, on_bytes)
    repo.statcache.put_key(path, placed, oid)
    return placed


def _link_out(repo: Repo, oid: str, path: str, executable: bool,
              on_bytes: OnBytes | None = None) -> StatKey:
    """Place the object at `path`; the stat to record for it (changes only files, so it can
    run in a worker process). CorruptObjectError if the object was changed after it was
    stored; one intact but not the size recorded is placed (`_warn_if_counts_recorded_wrong`)."""
    _, placed = repo.cache.link_to(oid, path, repo.link_types, executable, on_bytes)
    return stat_key(placed)


def _changed_through_link(repo: Repo, path: str, state: FileState | None, oid: str) -> bool:
    """Is the file at `path` a link to the object `oid` (a symbolic or a hard one) whose bytes
    no longer hash to `oid`? Then the object itself was changed, through that link: placing
    it again would put back the change, not the recorded bytes. Not so for a link whose changed
    bytes were moved aside (`FileState.kept_in`): the object's path holds a copy stored since,
    which placing checks as it checks any (`LocalCache.link_to`)."""
    if state is None or state.oid == oid or state.kept_in is not None:
        return False
    if state.is_cache_link:
        return state.linked_oid == oid
    try:
        return os.path.samestat(os.lstat(path), os.stat(repo.cache.oid_path(oid)))
    except (FileNotFoundError, NotADirectoryError):
        return False


def _warn_if_counts_recorded_wrong(root: str, output: Output, size: int,
                                   nfiles: int | None) -> None:
    """Warn if the output's record (its pointer, or dvx.lock) gives the data just placed as
    its oid names it another size or number of files than the `size` bytes in `nfiles` files
    (None for a file) placing found: the record is wrong, not the data."""
    wrong = output.pointer.wrong_counts(size, nfiles)
    if wrong is None:
        return
    log.warning("%s %s: the record is wrong (edited by hand or mis-merged?), not the data, "
                "so '%s' was placed as its oid names it; `dvx commit %s` writes the record "
                "again.", output.recorded_in, recorded_wrongly(wrong), output.path,
                for_command(root, output.path))


def _warn_if_entry_size_recorded_wrong(root: str, entry: str, output: str, oid: str,
                                       size: int, placed: StatKey) -> None:
    """Warn if the object `oid` placed for the entry `entry` of the directory `output` is not
    the `size` bytes its manifest gives: placing found it intact (`LocalCache.intact`), so the
    manifest's size is wrong, not the data."""
    if placed[1] == size:
        return
    log.warning("The manifest of '%s' gives %d bytes as the size of '%s', but its object %s "
                "is %d bytes that still hash to its oid: the size recorded is wrong (edited by "
                "hand or mis-merged?), not the data, which was placed as its oid names it. "
                "`dvx commit %s` records the right size.", output, size, entry, oid, placed[1],
                for_command(root, output))


def _set_aside_changed_object(repo: Repo, oid: str, display: str, result: CheckoutResult,
                              through_link: bool = False) -> None:
    """Move aside the object `oid` of `display`, found changed after it was stored, so it is
    never placed again; the workspace files linked to it keep its changed bytes. `through_link`:
    `display` links to it (else it may as well have been damaged where it is stored)."""
    keep_links_on_set_aside(repo)
    result.missing.append(display)
    result.damaged.append(display)
    how = "was changed through a link to it" if through_link else \
        "was changed or damaged after it was stored"
    pull = "dvx pull"
    if through_link:
        result.kept_changed.append(for_command(repo.root, display))
        pull = f"dvx pull --force {result.kept_changed[-1]}"
    with contextlib.suppress(FileNotFoundError):  # set aside already
        moved, kept = repo.cache.set_aside(oid)
        log.warning("The cached object %s of '%s' %s, so it no longer holds the bytes its oid "
                    "names: moved to %s, and not placed (`%s` fetches the recorded "
                    "version again).%s", oid, display, how, moved, pull, kept_message(kept))


def _set_aside_older_written(repo: Repo, full: str, display: str, state: FileState | None,
                             wanted: str) -> None:
    """The file at `full` (`display`), replaced by `wanted` now (--force), is a link to the
    object of an older version a checkout placed there, which an edit in place wrote
    through (`object_written_through`): that object no longer holds the bytes its oid
    names, so it is moved aside, the discarded edit kept there, before the cache places or
    sends those bytes under its oid."""
    if state is None or not state.holds_its_own_bytes or state.oid == wanted:
        return
    older = object_written_through(repo, full, wanted)
    if older is None or older == wanted:
        return  # the wanted object's own change is `_changed_through_link`'s
    keep_links_on_set_aside(repo, discarding=(display,))
    with contextlib.suppress(FileNotFoundError):  # set aside already (another process)
        moved, kept = repo.cache.set_aside(older)
        if state.is_cache_link:
            return  # named as a discarded edit already (`keep_changed_bytes`)
        log.warning("%s was edited in place through its link into the cache, which changed "
                    "the cached object %s of the version placed there before: --force "
                    "discards the edit, and the object, which no longer holds the bytes its "
                    "oid names, was moved to %s.%s", quoted(display), older, moved,
                    kept_message(kept))


def _checkout_file(repo: Repo, output: Output, force: bool, result: CheckoutResult,
                   relink: bool = False, ask: _Ask | None = None, git_why: str | None = None
                   ) -> None:
    """`git_why`: Git's index holds the output's path (or paths below it), which is left to
    Git, and why (`_left_to_git`)."""
    pointer = output.pointer
    full = repo.abspath(output.path)
    if git_why and os.path.isdir(full) and not os.path.islink(full):
        result.skipped.append((output.path, git_why))
        return
    if os.path.isdir(full) and not os.path.islink(full):
        if not repo.cache.exists(pointer.oid):  # nothing to put in its place: it stays
            result.missing.append(output.path)
            return
        why = _dir_in_the_way(repo, full, output.path, _ways_out_of(output), force,
                              never_recorded=_never_recorded_folder(repo, output))
        if why:
            result.skipped.append((output.path, why))
            return
        fsutil.rmtree(full)
    never_recorded = _never_recorded_file(repo, output)
    state, why = _state_and_why(repo, full, output.path, force, pointer.oid, never_recorded)
    if _holds(state, pointer.oid) and (
            not relink or _placed_as_configured(repo, full, state, None, pointer.executable)
    ) and (
            state.executable == pointer.executable
            or not _shares_its_mode(state, os.lstat(full))):
        _fix_mode(full, pointer.executable, state.is_cache_link)
        result.unchanged += 1
        result.unchanged_found += 1
        return
    if git_why:
        result.skipped.append((output.path, git_why))
        return
    if not repo.cache.exists(pointer.oid):
        result.missing.append(output.path)
        return
    if why in _NOT_CACHED and ask is not None and state is not None:
        why = _judged_elsewhere(repo, ask, [(output.path, state, pointer.oid)],
                                never_recorded)[0]
    if why:
        result.skipped.append((output.path, why))
        return
    through_link = False
    try:
        through_link = _changed_through_link(repo, full, state, pointer.oid)
        if through_link:
            raise CorruptObjectError(f"'{output.path}' links to its object, changed since.")
        _set_aside_older_written(repo, full, output.path, state, pointer.oid)
        fsutil.makedirs(os.path.dirname(full))
        placed = _place(repo, pointer.oid, full, pointer.executable, pointer.size, output.path)
    except CorruptObjectError:
        _set_aside_changed_object(repo, pointer.oid, output.path, result, through_link)
        return
    except OSError as exc:
        if isinstance(exc, FileNotFoundError) and not repo.cache.exists(pointer.oid):
            result.missing.append(output.path)
        elif isinstance(exc, (FileExistsError, NotADirectoryError)) \
                and not os.path.isdir(os.path.dirname(full)):
            # A file of the user's stands where a folder of the output's path goes: never
            # replaced, as nothing says whose it is
            folder = file_in_place_of(repo.root, output.path.rpartition("/")[0])
            result.skipped.append((output.path, f"a file is where its folder '{folder}' goes "
                                   "(move it away, then check it out again)"))
        else:
            result.skipped.append((output.path, _placement_failure(repo, exc, pointer.oid,
                                                                   full)))
        return
    _warn_if_counts_recorded_wrong(repo.root, output, placed[1], None)
    result.restored.append(output.path)


def _ways_out_of(output: Output) -> _WaysOut:
    """The ways to keep a folder standing where the file `output` goes."""
    return _WaysOut(output.path, recordable=output.stage is None)


def _never_recorded_file(repo: Repo, output: Output) -> NeverRecorded:
    """`never_recorded_here` for the file output `output` (a pointer's or dvx.lock's data)."""
    in_lock = output.stage is not None
    return lambda path, oid: never_recorded_here(repo, path, oid, in_lock)


def _never_recorded_folder(repo: Repo, output: Output) -> NeverRecorded:
    """`never_recorded_inside` for a folder standing where the file output `output` goes:
    its files are the user's own unless a version of that path HEAD's recent commits
    recorded as a tracked folder held them."""
    return never_recorded_inside(repo, output.path, output.stage is not None, None)


def _placement_failure(repo: Repo, exc: OSError, oid: str, full: str) -> str:
    """Why object `oid` could not be placed at `full`: it may not be read, or `full` not be
    written. A link's error names the object first and the link second (`filename2`): a
    link is refused for its folder, never for reading the object."""
    if (exc.errno == errno.EACCES and exc.filename == repo.cache.oid_path(oid)
            and exc.filename2 is None):
        return unreadable_object(exc)  # not EPERM: a chmod of another user's object refused
    return fsutil.write_failure(exc, full)


def _holds(state: FileState | None, oid: str) -> TypeGuard[FileState]:
    """Does the file in this state hold the object `oid`? A link to it whose object left the
    cache holds nothing: it is placed again once the object is back."""
    return state is not None and state.oid == oid and not state.dangling


def _placed_as_configured(repo: Repo, path: str, state: FileState, st: os.stat_result | None,
                          executable: bool) -> bool:
    """Is the file at `path`, which holds what it should (`state`), placed as `--relink`
    would place it now: a link of the first configured type to its object, or with `copy`
    first, a file of its own? Placing it again would change nothing, and could fail (a full
    disk). With `reflink` first a copy cannot be told from a clone: it is placed again."""
    link_types = repo.link_types
    if executable:  # as LocalCache.link_to places it: never a link
        link_types = fsutil.link_types_for_executable(link_types)
    first = link_types[0]
    if state.is_cache_link:
        return first == "symlink" and not state.holds_its_own_bytes
    try:
        shares_the_object = os.path.samestat(st or os.lstat(path),
                                             os.stat(repo.cache.oid_path(state.oid)))
    except (FileNotFoundError, NotADirectoryError):
        shares_the_object = False
    return first == "hardlink" if shares_the_object else first == "copy"


def _dir_in_the_way(repo: Repo, full: str, display: str, ways_out: _WaysOut,
                    force: bool = False, keeps_left_out: Callable[[str], bool] | None = None,
                    never_recorded: NeverRecorded | None = None) -> str | None:
    """None if the directory where a file goes may be deleted: every file in it is in the
    cache, or a link dvx made to a cache object (say, the version of a directory the
    workspace was synced to), and none is a change made here, or `force`; else why not.
    With `never_recorded` (`never_recorded_inside` of the file output, or of the tracked
    directory the folder is in), a file no sync record tells of is the user's own unless a
    version HEAD's recent commits recorded held it: a folder of one's own where `git pull`
    brought a teammate's file pointer, its bytes in the cache or not. One holding another
    repository (`repository_anywhere_inside`: .dvxignore or not, as it would go whole) is
    never deleted, --force or not; nor one holding the folder of a running get, or one a
    killed `get --force` left holding what it moved aside (`_get_folder_kept_why`); nor,
    with `keeps_left_out` (a folder inside a tracked
    directory, whose checkout keeps what .dvxignore leaves out of its data), one holding
    such a file: `keeps_left_out` tells those a version of the directory names (dvx's data,
    `dvx_s_data_inside`), which a rule does not leave out. Every file of the user's in it is
    counted, and the reason offers `ways_out` before --force."""
    walk = walk_directory(full)
    inside = repository_anywhere_inside(display, walk.reserved)
    if inside is not None:
        return held_why(repo.root, display, inside)
    kept_for_a_get = _get_folder_kept_why(repo.root, full, display, walk.scratch)
    if kept_for_a_get is not None:
        return kept_for_a_get
    left_out = None if keeps_left_out is None else \
        left_out_inside(repo, display, walk, keeps_left_out)
    if left_out is not None:
        return kept_for_left_out_why(repo.root, display, left_out)
    if force:
        return None
    if walk.others:
        return DIR_IN_THE_WAY
    files = [(join_posix(full, rel), rel) for rel in walk.symlinks]
    files += [(entry.path, entry.relpath) for entry in walk.files]
    kept: list[tuple[str, str]] = []
    for path, rel in files:
        _, why = _state_and_why(repo, path, f"{display}/{rel}", False, None, never_recorded)
        if why:
            kept.append((f"{display}/{rel}", why))
    return _folder_kept_why(repo.root, display, sorted(kept), ways_out) if kept else None


def _get_folder_kept_why(root: str, full: str, display: str, scratch: list[str]) -> str | None:
    """Why checkout leaves the folder `display` (at `full`) as it is, --force or not: one of
    the get folders in it (`scratch`, relative to it) is a running get's, or holds what a
    killed `get --force` moved aside, which dvx never deletes; None if each holds only a
    killed get's partial copy, never data, which goes with the folder."""
    paths = [join_posix(full, rel) for rel in scratch]
    left = {folder.path: folder for folder in get_scratch.left_at(paths)}
    for path, rel in zip(paths, scratch, strict=True):
        shown = f"{display}/{rel}"
        folder = left.get(path)
        if folder is None:
            return (f"{quoted(display)} holds {quoted(shown)}, which a `dvx get` may still be "
                    f"writing in: checkout leaves {quoted(display)} as it is, --force or not; "
                    f"once no get runs there, move or delete it, then `dvx checkout "
                    f"{for_command(root, display)}` places the data")
        if folder.holds_former:
            return former_output_kept_why(root, display, shown, os.path.basename(folder.target))
    return None


def former_output_kept_why(root: str, display: str, shown: str, replaced: str) -> str:
    """Why checkout leaves `display` as it is: it holds the folder `shown`, whose `old` is
    what a killed `get --force` moved aside from `replaced` beside it ("": not known);
    moved anywhere out of `display`, it is kept."""
    was_at = "the path it replaced" if not replaced else \
        quoted(f"{shown.rpartition('/')[0]}/{replaced}")
    return (f"{quoted(display)} holds {quoted(shown)}, in whose 'old' an interrupted `dvx get "
            f"--force` left what was at {was_at}; dvx never deletes it, so checkout leaves "
            f"{quoted(display)} as it is, --force or not. To keep it, move "
            f"{quoted(shown + '/old')} out of {quoted(display)} (or delete {quoted(shown)} if "
            f"you no longer need it); then `dvx checkout {for_command(root, display)}` places "
            "the data")


# What each reason a file is kept for says of it, named among others in a folder in the way
_KEPT_IN_A_FOLDER = {
    NOT_CACHED: "changes not in the cache",
    CHANGED_HERE: "changes made here since the last checkout",
    CHANGED_THROUGH_A_LINK: "changed through a link to its cache object",
    GONE_FROM_CACHE: "a version the cache no longer holds",
    UNKNOWN_FILE: "a link or special file dvx did not create",
}
# How many of the files kept in a folder in the way its reason names; the rest are counted
_KEPT_NAMED = 3


@dataclass(frozen=True)
class _WaysOut:
    """What a folder standing where a file goes may become, kept: `output`, the tracked path
    it is (or is in), is placed once the folder is moved away; `recordable`, the folder is
    that path and a pointer file records it, so `dvx commit --force` records the folder in
    place of the file (a stage's output is its command's to write; a folder inside a
    tracked directory is a part of it)."""
    output: str
    recordable: bool


def _folder_kept_why(root: str, display: str, kept: list[tuple[str, str]],
                     ways_out: _WaysOut) -> str:
    """Why the folder `display` is kept where a file goes, for its files `kept` ((path, why)
    each): the first few named with what they hold, how many in all, and the ways to keep
    them before the one that discards them all (--force)."""
    def named(item: tuple[str, str]) -> str:
        path, why = item
        return f"'{path}' ({_KEPT_IN_A_FOLDER.get(why, why)})"
    files = counted(len(kept), "file")
    them = "it" if len(kept) == 1 else "them"
    every = "it" if len(kept) == 1 else "them all"
    return (f"{DIR_IN_THE_WAY_FOR}{files} of yours: "
            f"{named_list(kept, most=_KEPT_NAMED, name=named)}; "
            f"{_keep_the_folder(root, display, ways_out, them)}; --force discards {every}")


def _keep_the_folder(root: str, display: str, ways_out: _WaysOut, them: str) -> str:
    """The ways to keep the files of the folder `display` in the way of a file, as commands
    to type where the user is."""
    ways = (f"to keep {them}, move the folder away (`mv {for_command(root, display)} "
            f"{for_command(root, _aside(display, ways_out.output))}`), then `dvx checkout "
            f"{for_command(root, display)}` places the file")
    if ways_out.recordable:
        ways += (f", or `dvx commit --force {for_command(root, display)}` records the folder "
                 "in its place")
    return ways


def _aside(display: str, output: str) -> str:
    """Where the folder `display` in the way of a file is moved to keep it: beside the
    tracked path `output` it is or is in, never inside it, where a checkout would delete it."""
    parent, _, name = output.rpartition("/")
    below = display[len(output):].replace("/", "-")
    return f"{parent}/{name}{below}.mine" if parent else f"{name}{below}.mine"


def _goes_whole(current: dict[str, tuple[str, os.stat_result | None]], whole: Walk,
                top: str, folder: str) -> None:
    """Add to `current` (what the directory at `top` holds as its data) every file of
    `whole` (its walk, .dvxignore or not) in `folder`, which goes whole for the file placed
    there (`_dir_in_the_way`): a file a rule matches there is one a version of the directory
    named (dvx's), which goes with it."""
    inside = folder + "/"
    for entry in whole.files:
        if entry.relpath.startswith(inside):
            current.setdefault(entry.relpath, (entry.path, entry.stat))
    for rel in whole.symlinks + whole.others:
        if rel.startswith(inside):
            current.setdefault(rel, (join_posix(top, rel), None))


def _folders_below(walk: Walk) -> set[str]:
    """Every folder (relative to the walked top) `walk` met: those holding anything, a get's
    folder included, and those holding nothing. Each stands where a file may go."""
    found: set[str] = set(walk.empty)
    for rel in itertools.chain((entry.relpath for entry in walk.files), walk.symlinks,
                               walk.others, walk.temps, walk.reserved, walk.scratch,
                               walk.empty):
        parent = rel.rpartition("/")[0]
        while parent and parent not in found:
            found.add(parent)
            parent = parent.rpartition("/")[0]
    return found


def _clear_folder(full: str) -> None:
    """Remove the folder `full`, where a file goes, once the files it held are deleted
    (`_dir_in_the_way` let it go): what is left holds nothing of the user's, folders holding
    nothing and those a killed get left holding only its partial copy. Anything else (a get
    running there since) keeps it, and placing the file then says so."""
    if os.path.islink(full) or not os.path.isdir(full):
        return  # gone with the files deleted in it
    walk = walk_directory(full)
    for left in get_scratch.left_at([join_posix(full, rel) for rel in walk.scratch]):
        get_scratch.remove(left)
    for folder, _, _ in os.walk(full, topdown=False):
        with contextlib.suppress(OSError):  # not empty: it stays
            os.rmdir(folder)


def _shares_its_mode(state: FileState, st: os.stat_result | None) -> bool:
    """Is the file a link to its cache object (a symbolic one, or a hard link), whose mode it
    cannot change alone? Such a file whose executable bit is wrong is placed again, as a copy
    (an executable file is never linked)."""
    return state.is_cache_link or st is None or st.st_nlink > 1


def _fix_mode(path: str, executable: bool, is_link: bool) -> None:
    if is_link:
        return
    st = os.lstat(path)
    if fsutil.is_executable(st.st_mode) != executable and st.st_nlink == 1:
        mode = stat.S_IMODE(st.st_mode)
        os.chmod(path, (mode | 0o111) if executable else (mode & ~0o111))


def _checkout_dir(repo: Repo, output: Output, subpath: str | None, force: bool,
                  result: CheckoutResult, relink: bool = False,
                  placed_before: tuple[str, ...] = (), ask: _Ask | None = None,
                  git_why: str | None = None) -> bool:
    """Check the directory out; False if nothing of it was placed: its manifest is not in the
    cache, or a file it may not replace (one tracked before, edited here) stands where it
    goes, or it holds another repository (see _plan_dir). `placed_before`: its paths dvx
    placed as outputs of their own (see _plan_dir). `git_why`: Git's index holds its
    path (a submodule's gitlink, a file) or paths in it (code beside the data), and why it
    is left to Git (`_left_to_git`): it is Git's to write, whole, --force or not, as a file
    Git tracks is (`_checkout_file`), so that no data is mixed into Git's files and nothing
    of them is deleted."""
    if git_why:
        result.skipped.append((output.path, git_why))
        return False
    tree = load_tree(repo, output.pointer, output.recorded_in)
    if tree is None:
        result.missing.append(output.path)
        return False
    top = repo.abspath(output.path)
    if os.path.lexists(top) and (os.path.islink(top) or not os.path.isdir(top)):
        why = _safe_to_replace(repo, top, output.path, force)
        if why:
            result.skipped.append((output.path, why))
            return False
        os.unlink(top)
    plan = _plan_dir(repo, output.path, top, tree, output.pointer.oid, subpath, force, result,
                     relink, placed_before, ask, output.stage is not None)
    if plan is None:
        return False
    if plan.place:
        _hold_back_alike_entries(output.path, top, tree, plan, result)
    _apply(repo, output.path, top, tree, plan, result)
    if plan.place:
        _warn_if_counts_recorded_wrong(repo.root, output, *tree.recorded_counts())
    return True


@dataclass
class _DirPlan:
    """What to do in one tracked directory: indices into its manifest, not entries, so a plan
    for a million files costs a few bytes per file."""
    place: array[int] = field(default_factory=lambda: array("l"))
    delete: list[str] = field(default_factory=list)
    chmod: list[int] = field(default_factory=list)
    # folders where a file goes, removed once the files in them are deleted (`_clear_folder`)
    clear: list[str] = field(default_factory=list)


def _in_scope(rel: str, subpath: str | None) -> bool:
    return subpath is None or rel == subpath or rel.startswith(subpath + "/")


def _scope(tree: Tree, subpath: str | None) -> Sequence[int]:
    """The indices of the entries at or below `subpath`. Paths are sorted, so the entries
    below it are one run (from 'subpath/' up to 'subpath0', '0' following '/')."""
    if subpath is None:
        return range(len(tree))
    index = bisect_left(tree.paths, subpath)
    if index < len(tree) and tree.paths[index] == subpath:
        return range(index, index + 1)
    return range(bisect_left(tree.paths, subpath + "/"), bisect_left(tree.paths, subpath + "0"))


class _Known:
    """The relpaths a directory holds now or should hold: what a leftover temporary may have
    stood in for (workspace.remove_temporaries), without a set of every path."""

    def __init__(self, current: Mapping[str, object], tree: Tree) -> None:
        self.current, self.tree = current, tree

    def __contains__(self, rel: object) -> bool:
        return rel in self.current or rel in self.tree

    def __iter__(self) -> Iterator[str]:
        return itertools.chain(self.current, self.tree.paths)

    def __len__(self) -> int:
        return len(self.current) + len(self.tree)


def _missing_objects(repo: Repo, tree_oid: str, tree: Tree, scope: Sequence[int], whole: bool
                     ) -> set[str]:
    # A manifest once found complete stays so until gc or fsck start a new cache generation
    # (an object deleted by hand meanwhile is still reported as missing, when placing it).
    generation = repo.cache.generation()
    if repo.statcache.is_complete_tree(tree_oid, generation):
        return set()
    missing = set(repo.cache.missing(tree.oid_at(i) for i in scope))
    if whole and not missing:
        repo.statcache.mark_complete_tree(tree_oid, generation)
    return missing


def _plan_dir(repo: Repo, display: str, top: str, tree: Tree, tree_oid: str,
              subpath: str | None, force: bool, result: CheckoutResult,
              relink: bool = False, placed_before: tuple[str, ...] = (),
              ask: _Ask | None = None, in_lock: bool = False) -> _DirPlan | None:
    """`placed_before`: relpaths dvx placed as outputs of their own, whose matching files
    are not counted in result.unchanged_found. `ask`: which bytes a remote holds, of the
    files kept as the cache lacks theirs (asked once for all of them). `in_lock`: dvx.lock
    records the directory (`never_recorded_inside`: a file no sync record tells of is the
    user's unless a recent commit recorded it). None, the directory skipped whole, when it
    holds another repository (`repository_inside`): nothing of it is this repository's to
    write or delete, --force or not."""
    plan = _DirPlan()
    never_recorded = never_recorded_inside(repo, display, in_lock, tree)
    dvx_s = dvx_s_data_inside(repo, display, in_lock)
    unsaved: list[tuple[int, FileState]] = []  # files to replace whose bytes no cache holds
    # relpath -> (full path, its lstat when known) of what is there now
    current: dict[str, tuple[str, os.stat_result | None]] = {}
    folders: set[str] = set()  # every folder in it, .dvxignore or not
    if os.path.isdir(top):
        whole = walk_directory(top)
        folders = _folders_below(whole)
        walk = repo.dvxignore.filter_walk(display, whole, tree)
        inside = repository_inside(repo, display, walk.reserved)
        if inside is not None:
            result.skipped.append((display, held_why(repo.root, display, inside)))
            return None
        for e in walk.files:
            current[e.relpath] = (e.path, e.stat)
        for rel in walk.symlinks + walk.others:
            current[rel] = (join_posix(top, rel), None)
        remove_temporaries(top, walk.temps, _Known(current, tree))
    scope = _scope(tree, subpath)
    # A path of the workspace the version lacks is checked out as gone, as the whole
    # directory's checkout would: deleted when dvx placed it, else kept (below).
    if subpath is not None and not scope and not any(_in_scope(rel, subpath) for rel in current):
        raise PathError(f"'{display}/{subpath}' is not in the tracked directory '{display}'.")
    missing_objects = _missing_objects(repo, tree_oid, tree, scope, subpath is None)
    found = 0  # of the manifest's paths in scope, those there now
    # Folders standing where a file goes: those that go whole for it, and those left as they are
    going: set[str] = set()
    staying: set[str] = set()
    for index in scope:
        rel = tree.paths[index]
        why = None
        if rel not in current and rel in folders:
            why = _dir_in_the_way(repo, join_posix(top, rel), f"{display}/{rel}",
                                  _WaysOut(display, recordable=False), force,
                                  keeps_left_out=dvx_s, never_recorded=never_recorded)
            (staying if why else going).add(rel)
            if why:
                result.skipped.append((f"{display}/{rel}", why))
                continue
            _goes_whole(current, whole, top, rel)
            plan.clear.append(rel)
        if rel in current:
            found += 1
            entry = tree.entry(index)
            path, st = current[rel]
            try:
                state = file_state(repo, path, f"{display}/{rel}", st)
            except PathError:
                state, why = None, _why_not_replace_unreadable(repo, path)
            if _holds(state, entry.oid) and (
                    not relink
                    or _placed_as_configured(repo, path, state, st, entry.executable)):
                if state.executable == entry.executable:
                    _count_unchanged(result, rel, placed_before)
                    continue
                if not _shares_its_mode(state, st):
                    plan.chmod.append(index)
                    _count_unchanged(result, rel, placed_before)
                    continue
                # A link shares the cache object's mode: placed again, as a copy.
            why = why or _replaceable(repo, state, force, f"{display}/{rel}", entry.oid,
                                      never_recorded=never_recorded)
            if force:
                why = None
        if missing_objects and tree.oid_at(index) in missing_objects:
            result.missing.append(f"{display}/{rel}")
        elif not why and rel in current and _changed_through_link(
                repo, current[rel][0], state, tree.oid_at(index)):
            _set_aside_changed_object(repo, tree.oid_at(index), f"{display}/{rel}", result,
                                      through_link=True)
        elif why in _NOT_CACHED and ask is not None and state is not None:
            unsaved.append((index, state))
        elif why:
            result.skipped.append((f"{display}/{rel}", why))
        else:
            if force and rel in current:
                _set_aside_older_written(repo, current[rel][0], f"{display}/{rel}", state,
                                         tree.oid_at(index))
            plan.place.append(index)
    unwanted: list[tuple[str, FileState]] = []  # files to delete whose bytes no cache holds
    if subpath is not None or found != len(current):  # else nothing there to delete
        for rel, (path, _) in current.items():
            if not _in_scope(rel, subpath) or rel in tree:
                continue
            folder = _held_under(rel, going | staying)
            if folder is not None:  # judged whole above
                if folder in going:
                    plan.delete.append(rel)
                continue
            state, why = (None, None) if force else _state_and_why(
                repo, path, f"{display}/{rel}", False, None, never_recorded)
            if why in _NOT_CACHED and ask is not None and state is not None:
                unwanted.append((rel, state))
            elif why:
                result.skipped.append((f"{display}/{rel}", why))
            else:
                plan.delete.append(rel)
    if ask is not None and (unsaved or unwanted):
        _plan_unsaved(repo, display, tree, plan, result, ask, unsaved, unwanted, never_recorded)
    return plan


def _plan_unsaved(repo: Repo, display: str, tree: Tree, plan: _DirPlan, result: CheckoutResult,
                  ask: _Ask, unsaved: list[tuple[int, FileState]],
                  unwanted: list[tuple[str, FileState]], never_recorded: NeverRecorded
                  ) -> None:
    """Add to `plan` the files of the directory `display` that `ask` finds a remote holds the
    bytes of: those to replace (`unsaved`, indices into `tree`) and to delete (`unwanted`,
    relpaths); the others are skipped."""
    kept: list[tuple[str, FileState, str | None]] = [
        (f"{display}/{tree.paths[index]}", state, tree.oid_at(index)) for index, state in unsaved]
    kept += [(f"{display}/{rel}", state, None) for rel, state in unwanted]
    whys = iter(_judged_elsewhere(repo, ask, kept, never_recorded))
    for index, _ in unsaved:
        why = next(whys)
        if why:
            result.skipped.append((f"{display}/{tree.paths[index]}", why))
        else:
            plan.place.append(index)
    plan.place = array("l", sorted(plan.place))  # placing holds them in path order
    for rel, _ in unwanted:
        why = next(whys)
        if why:
            result.skipped.append((f"{display}/{rel}", why))
        else:
            plan.delete.append(rel)


def _hold_back_alike_entries(display: str, top: str, tree: Tree, plan: _DirPlan,
                             result: CheckoutResult) -> None:
    """Take out of the plan the entries a case-insensitive filesystem would place over
    another one of the manifest's (see `_held_back`), and report them skipped."""
    held: dict[str, str] = {}  # relpath held back -> the spelling placed instead
    for group in sorted(alike_paths(tree.paths), key=lambda g: g[0].count("/")):
        if _held_under(group[0], held) is None and any(
                _placing(tree, plan.place, member) for member in group):
            held.update(_held_back(top, group))
    if not held:
        return
    place = array("l")
    for index in plan.place:
        rel = _held_under(tree.paths[index], held)
        if rel is None:
            place.append(index)
        else:
            result.skipped.append((f"{display}/{tree.paths[index]}",
                                   _alike_why(f"{display}/{rel}", f"{display}/{held[rel]}")))
    plan.place = place


def _hold_back_alike_targets(repo: Repo, targets: list[Target], result: CheckoutResult
                             ) -> list[Target]:
    """The targets but those a case-insensitive filesystem would place over another target
    (`A.txt` and `a.txt`, tracked on their own), reported skipped."""
    paths = sorted({target.output.path for target in targets})
    held: dict[str, str] = {}
    for group in sorted(alike_paths(paths), key=lambda g: g[0].count("/")):
        held.update(_held_back(repo.root, group))
    kept = []
    for target in targets:
        rel = _held_under(target.output.path, held)
        if rel is None:
            kept.append(target)
            continue
        shown = target.output.path if target.subpath is None else \
            f"{target.output.path}/{target.subpath}"
        result.skipped.append((shown, _alike_why(rel, held[rel])))
    return kept


def _hold_back_unignorable_targets(repo: Repo, targets: list[Target], result: CheckoutResult
                                   ) -> list[Target]:
    """The targets but those whose folder's .gitignore dvx may not read or write (a symbolic
    link, a folder), reported skipped before anything is placed: data placed there could not
    be kept out of Git."""
    kept = []
    for target in targets:
        try:
            gitignore.check_readable(repo.abspath(target.output.path))
        except PathError as exc:
            shown = target.output.path if target.subpath is None else \
                f"{target.output.path}/{target.subpath}"
            result.skipped.append((shown, f"data placed there could not be kept out of Git. {exc}"))
            continue
        kept.append(target)
    return kept


def _held_back(top: str, group: list[str]) -> dict[str, str]:
    """Of `group`, spellings (relative to `top`, in one folder) that differ in letter case or
    Unicode normalisation only: those this folder's filesystem takes for another one of them,
    each with the one that is placed instead, which is the one there already, else the first.
    Placed too, the second would overwrite the first while both were reported restored, and
    a commit would then record the first as deleted. Only such names are ever probed."""
    parent = group[0].rpartition("/")[0]
    folder = join_posix(top, parent) if parent else top
    names = [rel.rpartition("/")[2] for rel in group]
    try:
        listed = set(os.listdir(folder)) & set(names)
    except FileNotFoundError:
        listed = set()
    except OSError:
        return {}  # no folder to place them in: placing fails, and says so
    if len(listed) > 1:
        return {}  # both are there: this filesystem tells them apart
    kept = next(iter(listed)) if listed else names[0]
    others = [name for name in names if name != kept]
    try:
        fsutil.makedirs(folder)
        alike = fsutil.spellings_of_one_file(folder, kept, others)
    except OSError:
        return {}
    prefix = f"{parent}/" if parent else ""
    return {prefix + name: prefix + kept for name in alike}


def _held_under(path: str, held: Collection[str]) -> str | None:
    """The spelling in `held` that `path` is, or is below; None if none."""
    while path:
        if path in held:
            return path
        path = path.rpartition("/")[0]
    return None


def _placing(tree: Tree, place: Sequence[int], rel: str) -> bool:
    """Does the plan `place` (indices, in path order) place `rel` or anything below it?"""
    def path(i: int) -> str:
        return tree.paths[i]

    index = bisect_left(place, rel, key=path)
    if index < len(place) and path(place[index]) == rel:
        return True
    index = bisect_left(place, rel + "/", key=path)  # after 'rel.txt', say
    return index < len(place) and path(place[index]).startswith(rel + "/")


def _alike_why(path: str, kept: str) -> str:
    return (f"its name differs from '{kept}' in letter case only, and this filesystem does not "
            f"tell the two apart: it holds '{kept}' alone (use a case-sensitive filesystem, or "
            "rename one of them)")


def _count_unchanged(result: CheckoutResult, rel: str, placed_before: tuple[str, ...]) -> None:
    result.unchanged += 1
    if not any(_in_scope(rel, placed) for placed in placed_before):
        result.unchanged_found += 1


PLACE_AT_ONCE = 65_536  # files placed per round: their outcomes are held until recorded


def _folder_taken(what: str, remedy: str) -> str:
    """Why the files of a folder are not placed: `what` stands where it goes, which --force
    would `remedy`."""
    return f"{what} (use --force to {remedy})"


def _apply(repo: Repo, display: str, top: str, tree: Tree, plan: _DirPlan,
           result: CheckoutResult) -> None:
    """Carry out `plan`."""
    for rel in plan.delete:
        fsutil.remove_quietly(join_posix(top, rel))
        result.removed.append(f"{display}/{rel}")
    prune_empty_dirs(top, plan.delete)
    for rel in plan.clear:
        _clear_folder(join_posix(top, rel))
    for index in plan.chmod:
        entry = tree.entry(index)
        _fix_mode(join_posix(top, entry.path), entry.executable, False)
    fsutil.makedirs(top)
    blocked: dict[str, str] = {}  # parent directory -> why files cannot be placed in it
    for parent in sorted({tree.paths[i].rpartition("/")[0] for i in plan.place} - {""}):
        link = symlinked_parent(top, parent + "/.")
        if link is not None:
            blocked[parent] = _folder_taken(
                f"its folder '{display}/{link}' is a symbolic link, which could lead outside "
                "the repository", "replace the link with a real directory")
            continue
        try:
            fsutil.makedirs(safe_dir_join(top, parent))
        except (FileExistsError, NotADirectoryError):
            blocked[parent] = _folder_taken(
                f"a file is where its folder '{display}/{file_in_place_of(top, parent)}' "
                "goes", "replace the file")
        except (PathError, OSError) as exc:
            blocked[parent] = str(exc) if isinstance(exc, PathError) else str(exc.strerror)

    def place_one(index: int) -> tuple[str | None, StatKey | None, StatKey | None]:
        """Why the entry could not be placed (None: it was), the stat to record, and the
        stat its object is newly known intact with (`LocalCache.new_record`: a worker's
        records die with it)."""
        entry = tree.entry(index)
        parent = entry.path.rpartition("/")[0]
        if parent in blocked:
            return blocked[parent], None, None
        try:
            placed = _link_out(repo, entry.oid, join_posix(top, entry.path), entry.executable)
            faults.point("checkout.after_file")
            return None, placed, repo.cache.new_record(entry.oid)
        except CorruptObjectError:
            return CHANGED_OBJECT, None, None
        except OSError as exc:
            if isinstance(exc, FileNotFoundError) and not repo.cache.exists(entry.oid):
                return OBJECT_MISSING, None, None
            return _placement_failure(repo, exc, entry.oid,
                                      join_posix(top, entry.path)), None, None

    def record(indices: Sequence[int],
               outcomes: Iterable[tuple[str | None, StatKey | None, StatKey | None]]) -> None:
        for index, (error, placed, known) in zip(indices, outcomes, strict=True):
            if known is not None:
                repo.cache.add_record(tree.oid_at(index), known)
            if error == CHANGED_OBJECT:
                _set_aside_changed_object(repo, tree.oid_at(index),
                                          f"{display}/{tree.paths[index]}", result)
            elif error == OBJECT_MISSING:
                result.missing.append(f"{display}/{tree.paths[index]}")
            elif error:
                result.skipped.append((f"{display}/{tree.paths[index]}", error))
            else:
                if placed is not None:
                    repo.statcache.put_key(join_posix(top, tree.paths[index]), placed,
                                           tree.oid_at(index))
                    _warn_if_entry_size_recorded_wrong(
                        repo.root, f"{display}/{tree.paths[index]}", display,
                        tree.oid_at(index), tree.size_at(index), placed)
                result.restored.add_entry(display, tree, index)

    # Small files are mostly system calls, which only worker processes spread over the cores;
    # large ones mostly copying, which threads do. A round at a time, so the outcomes held at
    # once stay bounded. Workers are handed indices and read the manifest they inherited.
    small = array("l", (i for i in plan.place if tree.size_at(i) < fsutil.SMALL_FILE))
    large = array("l", (i for i in plan.place if tree.size_at(i) >= fsutil.SMALL_FILE))
    with repo.progress.task(f"Checking out {display}", len(plan.place)) as advance:
        for start in range(0, len(small), PLACE_AT_ONCE):
            indices = small[start:start + PLACE_AT_ONCE]
            repo.cache.known_stats.read_objects(tree.oid_at(i) for i in indices)
            record(indices, map_in_processes(place_one, indices, advance,
                                             size_of=tree.size_at))

        def place_large(index: int) -> tuple[str | None, StatKey | None, StatKey | None]:
            outcome = place_one(index)
            advance(1)
            return outcome

        repo.cache.known_stats.read_objects(tree.oid_at(i) for i in large)
        record(large, map_in_threads(place_large, large, size_of=tree.size_at))
