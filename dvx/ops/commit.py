"""Recording tracked data: store it in the cache and write what names it (a pointer file, or
for a pipeline output its dvx.lock entry). `dvx add` (ops/add.py), `dvx commit` and `dvx repro`
(pipeline outputs, and the tracked inputs it commits before running) all record through here.

Data whose pointer moved in Git since the workspace was synced is never recorded over it
without `force` (dvx/syncstate.py), and the never-pulled part of a directory pulled in part is
kept in its manifest.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import stat
from collections.abc import Callable, Collection, Container, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace

from dvx import faults, fsutil, get_scratch, gitignore
from dvx.errors import (
    ConflictError,
    CorruptManifestError,
    DvxError,
    MissingObjectError,
    PathError,
    interruption,
    unreadable_error,
)
from dvx.fsutil import SMALL_FILE, make_readonly
from dvx.hashing import OnBytes, hash_file
from dvx.lock import began_writing, wrote_whole
from dvx.lockfile import LOCK_FILE, StageLock, lock_holds, write_lock
from dvx.logs import get_logger, quoted, shell_quote
from dvx.objects.cache import OpenForWriting
from dvx.objects.statcache import StatKey, stat_key
from dvx.objects.tree import Tree, TreeEntry
from dvx.ops.data_places import (
    held_by_git_within,
    ignore_after_rules_taking_back,
    own_gitignores_left,
    refuse_tracked_by_git,
    stage_for_git,
)
from dvx.ops.status import (
    DELETED,
    HOLDS_REPOSITORY,
    MODIFIED,
    NOT_PULLED,
    OUTDATED,
    UNCHANGED,
    OutputStatus,
    behind,
    holding_uncached_versions,
    holds_pointers_data,
    layered_status,
    output_status,
    own_version_undone,
    synced_record,
)
from dvx.ops.sync_layers import records_a_file, versions_placed
from dvx.outputs import (
    Output,
    load_tree_setting_aside,
    pointer_change,
    pointer_written,
    write_pointer,
)
from dvx.paths import (
    POINTER_SUFFIX,
    Fingerprint,
    Walk,
    WalkEntry,
    alike_paths,
    fingerprint_of_walk,
    folders_above,
    for_command,
    from_here,
    join_posix,
    walk_directory,
    walked_size,
)
from dvx.pointer import Pointer
from dvx.processes import map_in_processes
from dvx.progress import byte_progress
from dvx.repo import Repo
from dvx.scm import git_add_command
from dvx.stop_signals import stops_held
from dvx.syncstate import Synced
from dvx.threads import LeftRunning, map_in_threads
from dvx.wording import named_list
from dvx.workspace import (
    FileState,
    check_entry_name,
    file_state,
    keep_links_on_set_aside,
    recorded_executable,
    remove_temporaries,
    remove_temporaries_beside,
    repository_inside_error,
    unreadable_found,
    untrackable_link_error,
    with_recorded_exec_bits,
)

log = get_logger(__name__)


@dataclass(frozen=True)
class Added:
    path: str
    pointer: Pointer
    changed: bool  # the pointer is new or now names different data
    # Files of a directory (repo paths) recorded as the pointer names them, which the
    # workspace holds at the older version they were synced to (`OutputStatus.outdated`)
    kept_outdated: tuple[str, ...] = ()
    # Of those, the ones whose bytes no cache holds (`OutputStatus.outdated_not_cached`):
    # left unread, so a checkout keeps them; `--force` records them as the workspace holds them
    kept_not_cached: tuple[str, ...] = ()
    # Of `kept_outdated`, those the pointer's version no longer has (deleted in Git): left
    # out of the record, not recorded as the workspace holds them
    deleted_in_pointer: tuple[str, ...] = ()


@dataclass(frozen=True)
class ToLink:
    """A file stored as a copy, to be replaced by a symlink to its object (cache.type symlink)
    once a pointer or dvx.lock names the object: before that, a link would be all that is left
    of the file, and a failed add would leave it to gc."""
    path: str
    oid: str
    size: int
    seen: StatKey  # the file's stat before it was read: a file changed since stays as it is

    def unchanged(self, now: os.stat_result) -> bool:
        """Does `now`, the file's lstat, show the bytes that were stored? Its inode, size and
        mtime, not its ctime: replacing another hard link of the same inode by a symlink
        moves that, and no byte."""
        return stat_key(now)[:3] == self.seen[:3]


@dataclass(frozen=True)
class Linked:
    """A workspace file that storing made a read-only hard link of its object (cache.type
    hardlink: storing a file is linking it), which was not one before. Until a pointer or
    dvx.lock names the object, it is the user's file still: a command that records nothing
    gives it back as it was (`give_back`)."""
    path: str
    oid: str
    mode: int  # its permission bits before it was stored
    times_ns: tuple[int, int]  # its access and modification times then


@dataclass(frozen=True)
class StoredFile:
    """What `_store_file` made of one file."""
    oid: str
    size: int
    executable: bool
    seen: StatKey | None  # the stat to record for it in the stat cache (None: nothing new)
    to_symlink: bool  # to become a symlink to its object (`ToLink`)
    linked: Linked | None  # newly made a hard link of its object


@dataclass(frozen=True)
class Scanned:
    """A directory's lstat and then its walk (with every entry's lstat), taken before any of
    it was read: what `check_storable` found, for its ingest to use rather than walk again."""
    top: os.stat_result
    walk: Walk
    checked: Walk | None = None  # what `check_storable` found storable (`walk`, filtered)


@dataclass(frozen=True)
class Stored:
    pointer: Pointer
    to_link: list[ToLink]  # for `link_stored`, once the pointer is recorded


@dataclass(frozen=True)
class AddResult:
    added: list[Added]
    staged: list[str]  # paths `git add`ed (core.autostage)
    to_stage: list[str]  # paths the user should `git add`
    behind: list[str] = field(default_factory=list)  # not recorded: the pointer moved in Git
    # Of each path in `behind`: where and when its pointer moved (OutputStatus.
    # moved_since_synced)
    moved_since_synced: dict[str, str] = field(default_factory=dict)
    # Unchanged, stored in the cache again: the cache had lost them, the workspace had not
    stored_again: list[str] = field(default_factory=list)
    # Of `behind`, those holding a version that no cache holds (`OutputStatus.
    # outdated_not_cached`), which a checkout keeps
    behind_not_cached: list[str] = field(default_factory=list)
    # Of `behind`, those whose pointer's data the cache lacks (a teammate's, not fetched
    # yet): `dvx pull` brings it, where a checkout only says it is not in the cache
    behind_not_pulled: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        return {"added": [{"path": a.path, "changed": a.changed, "type": a.pointer.kind,
                           "oid": a.pointer.oid, "size": a.pointer.size,
                           **({"nfiles": a.pointer.nfiles} if a.pointer.is_dir else {}),
                           **({"kept_outdated": list(a.kept_outdated),
                               "kept_not_cached": list(a.kept_not_cached),
                               "deleted_in_pointer": list(a.deleted_in_pointer)}
                              if a.kept_outdated else {})}
                          for a in self.added],
                "staged": self.staged, "to_stage": self.to_stage, "behind": self.behind,
                "behind_not_cached": self.behind_not_cached,
                "behind_not_pulled": self.behind_not_pulled,
                "stored_again": self.stored_again}


def commit(repo: Repo, outputs: list[Output], force: bool = False,
           only_changed: bool = False, command: str = "commit", again: str = "") -> AddResult:
    """Record the workspace state of already tracked outputs in their pointers (pipeline
    outputs: in dvx.lock). Data whose pointer moved in Git since the workspace was synced is
    never recorded over it without `force`: named outputs raise ConflictError, and with
    `only_changed` (no targets given) the ones whose data only needs fetching are skipped
    and listed in `behind`. `only_changed` records the outputs changed here, and stores again
    those the cache lost that the workspace still holds (`OutputStatus.only_in_workspace`).
    `command`: the dvx command recording them, which a refusal names (another than `commit`
    has no --force of its own: the hint names `dvx commit --force`); `again`: that command as
    typed (without `dvx`), which a refusal says to run again (empty: `command`)."""
    with repo.lock(stages_in_git=True):
        remove_temporaries_beside(repo.root, [o.path for o in outputs])
        # Every refusal before any output is stored: a refused commit leaves the cache as it was
        checked = check_commit(repo, outputs, force, only_changed, command, again)
        behind, statuses = checked.behind, checked.statuses
        staged = [o for o in checked.chosen if o.stage is not None]
        unstaged = [o for o in checked.chosen if o.stage is None]
        planned = checked.planned
        scans = checked.scans
        prepared = []
        with given_back_unless_recorded(repo) as linked:
            # Pipeline outputs are recorded in dvx.lock, not in pointer files.
            in_lock = store_stage_outputs(repo, staged, linked, statuses, force, scans) \
                if staged else None
            for output, planned_one in zip(unstaged, planned, strict=True):
                prepared.append(prepare(repo, output.path, output, statuses[output.path],
                                        force, scans.get(output.path), linked=linked,
                                        planned=planned_one))
            # Every file to write checked before any is: a refusal leaves all as they were.
            if in_lock is not None:
                refuse_changed_lock(repo, in_lock)
            refuse_changed_pointers(repo, prepared, command, again=again)
            # And each again just before it is written (`write_stage_outputs`,
            # `write_pointers`), as a `git pull` may land while others are.
            results = write_stage_outputs(repo, in_lock, linked) if in_lock is not None else []
            written = write_pointers(repo, prepared, linked)
            result = finish(repo, results + written.added)
            refuse_unwritten(repo, written, result, command, again)
        result.behind.extend(found.path for found in behind)
        result.moved_since_synced.update((found.path, found.moved_since_synced)
                                        for found in behind)
        result.behind_not_cached.extend(found.path for found in behind
                                        if found.outdated_not_cached)
        result.behind_not_pulled.extend(found.path for found in behind if not found.in_cache)
        result.stored_again.extend(a.path for a in result.added
                                   if not a.changed and statuses[a.path].only_in_workspace)
        return result


@dataclass(frozen=True)
class CommitChecked:
    """What `check_commit` found: the outputs to record (`chosen`), the statuses of all it
    was given, those skipped as behind Git, and the plans of the `chosen` that pointer
    files record (in their order), and the walks `check_storable` took of the `chosen`."""
    chosen: list[Output]
    statuses: dict[str, OutputStatus]
    behind: list[OutputStatus]
    planned: list[Planned]
    scans: dict[str, Scanned]


def check_commit(repo: Repo, outputs: list[Output], force: bool = False,
                 only_changed: bool = False, command: str = "commit", again: str = "",
                 git_tracked_too: bool = False) -> CommitChecked:
    """Raise what `commit` (same arguments) refuses before it stores anything, storing and
    writing nothing: a command that records data after other writes of its own runs it
    first, so that a refusal finds everything as it was. `git_tracked_too`: data Git's index
    holds too is recorded as `track` records it (a pipeline's changed inputs, which repro
    records as it always has), not refused as `commit` refuses it."""
    chosen: list[Output] = []
    behind: list[OutputStatus] = []
    statuses: dict[str, OutputStatus] = {}
    for output in outputs:
        status = statuses[output.path] = status_setting_aside(repo, output)
        if only_changed and status.workspace == OUTDATED and not force:
            behind.append(status)
            continue
        if only_changed and status.workspace == HOLDS_REPOSITORY:
            refuse_holding_a_repository(repo.root, status, outputs, command, again)
        # A pointer status found to record its size wrongly is written again as well, from
        # the data it names, held in the workspace
        if only_changed and status.workspace != MODIFIED and not status.only_in_workspace \
                and not (status.wrong_counts is not None and holds_pointers_data(status)):
            continue
        refuse_if_behind(repo.root, status, force, own_force=command == "commit",
                         command=again or command)
        refuse_former_output_aside(repo.root, status)
        chosen.append(output)
    if not git_tracked_too:
        refuse_tracked_by_git(repo, chosen, [for_command(repo.root, o.path) for o in chosen])
    unstaged = [o for o in chosen if o.stage is None]
    for output in unstaged:
        if not os.path.lexists(repo.abspath(output.path)):
            raise _absent_error(repo.root, statuses[output.path])
    planned = [plan(repo, o.path, o, statuses[o.path], force) for o in unstaged]
    scans = check_storable(repo, [o.path for o in chosen])
    for output in chosen:  # its entry is written there: refused now, not half-way
        gitignore.check_readable(repo.abspath(output.path))
    return CommitChecked(chosen, statuses, behind, planned, scans)


def _absent_error(root: str, status: OutputStatus) -> PathError:
    """Why an output absent from the workspace has nothing to commit: deleted here, or
    never placed here (a teammate's data not pulled yet, which no hint may offer to drop)."""
    if status.workspace == NOT_PULLED:
        typed = for_command(root, status.path)
        return PathError(
            f"'{status.path}' was never placed in this workspace (not pulled yet); nothing "
            "to commit.", f"Run `dvx checkout {typed}` to place it"
            + ("." if status.in_cache else f" once `dvx pull {typed}` has fetched it."))
    return PathError(f"'{status.path}' is missing from the workspace; nothing to commit.",
                     "Run `dvx checkout` to restore it, or `dvx remove` to stop tracking it.")


def refuse_holding_a_repository(root: str, status: OutputStatus, outputs: list[Output],
                                command: str, again: str) -> None:
    """Refuse a folder holding a repository of its own (HOLDS_REPOSITORY), which no
    comparison of its files tells changed or not, by name, as a commit naming it refuses it:
    a commit without targets (of `outputs`) never passes over it without a word, and says
    how the others are recorded meanwhile; nor does `repro` or an experiment command
    (`command`), which records the changed data as such a commit does: its hint says to run
    `again` (empty: `command`)."""
    assert status.repository_inside is not None
    refused = repository_inside_error(status.path, status.repository_inside)
    assert refused.hint is not None
    if command != "commit":
        raise PathError(f"{refused.message} `dvx {command}` records the tracked data changed "
                        "in the workspace, as `dvx commit` does, and which files of this "
                        "folder changed cannot be told, so it stopped before writing anything.",
                        f"{refused.hint.removesuffix('.')}, then run `dvx {again or command}` "
                        "again.")
    if len(outputs) > 1:
        refused.hint = (f"{refused.hint} Meanwhile `dvx commit PATH...` records the other "
                        f"outputs' changes (a commit without targets refuses while "
                        f"'{for_command(root, status.path)}' holds that repository).")
    raise refused


def refuse_moved_aside_whole(root: str, path: str) -> None:
    """Refuse a file or directory `path` (a repository path), absent, that a killed `dvx get
    --force` moved aside into its folder's `old` (get_scratch): there is nothing here to
    record, and no checkout is the way, which would place the recorded version where the
    `mv` that puts it back goes; the error names that `mv`. --force or not."""
    left = get_scratch.moved_aside(root, [path]).get(path)
    if left is None:
        return
    shown = from_here(root, os.path.relpath(left.path, root).replace(os.sep, "/"))
    raise ConflictError(
        f"{quoted(path)} is not deleted: an interrupted `dvx get --force` moved it aside, so "
        f"there is nothing here to record. {get_scratch.what_to_do(left, shown)}",
        "Put it back (or move it where you want it) first, then record it again.")


def refuse_former_output_aside(root: str, status: OutputStatus) -> None:
    """Refuse to record as deleted a path of a tracked directory that a killed `dvx get
    --force` moved aside into its folder's `old` (get_scratch): it is there still, and the
    error names the `mv` that puts it back. --force or not: the data is the user's. So of
    a tracked file or directory moved aside whole (`refuse_moved_aside_whole`)."""
    if status.moved_aside_whole:
        refuse_moved_aside_whole(root, status.path)
    if status.kind != "dir" or not status.deleted:
        return
    top = os.path.join(root, status.path)
    aside = get_scratch.moved_aside(top, status.deleted)
    if not aside:
        return
    left = aside[min(aside)]
    target = os.path.relpath(left.target, top).replace(os.sep, "/")
    shown = from_here(root, os.path.relpath(left.path, root).replace(os.sep, "/"))
    raise ConflictError(
        f"{quoted(f'{status.path}/{target}')} is not deleted: an interrupted `dvx get --force` "
        f"moved it aside, and recording the directory would record its deletion. "
        f"{get_scratch.what_to_do(left, shown)}",
        "Put it back (or move it where you want it) first, then record the directory "
        "again.")


def refuse_if_behind(root: str, status: OutputStatus, force: bool, own_force: bool = True,
                     command: str = "commit") -> None:
    """Refuse to record workspace data over a pointer that moved in Git since the workspace
    was synced (a teammate's change, brought by `git pull`), unless `force`. Without
    `own_force` the caller's --force means something else (repro: run every stage), so the
    hint names `dvx commit --force`. `command`: the dvx command refused, which a hint says
    to run again."""
    again = "commit again" if command == "commit" else f"run `dvx {command}` again"
    if force or not status.pointer_moved or status.workspace in (UNCHANGED, DELETED):
        return
    path, now, then = status.path, status.pointer_oid, status.synced_oid
    typed = for_command(root, path)  # the suggested commands run where the user is
    record_anyway = "`--force`" if own_force else f"`dvx commit --force {typed}`"
    if status.workspace == OUTDATED and status.outdated_not_cached:  # checkout keeps them
        them = "it" if len(status.outdated_not_cached) == 1 else "them"
        raise ConflictError(_holds_uncached_versions(status), (
            f"`dvx pull {typed}` replaces {them} if the remote holds that version; "
            f"{record_anyway} records {them} as the workspace holds {them}; `dvx checkout "
            f"--force {typed}` discards {them}."))
    if status.workspace == OUTDATED and now == then:  # the executable bit alone changed
        raise ConflictError(
            f"'{path}' changed {status.moved_since_synced}: its "
            f"pointer now records another executable bit for the same data ({now}), and the "
            "workspace file still has the mode it had before. Recording it would undo that "
            "change.",
            f"Run `dvx checkout {typed}` to give it the mode the pointer records; "
            f"{record_anyway} records the older mode anyway.")
    if status.workspace == OUTDATED:
        # A checkout places only what the cache holds: a teammate's data not fetched yet
        # needs a pull.
        place = f"`dvx checkout {typed}`" if status.in_cache else f"`dvx pull {typed}`"
        yours = "Run `git stash pop` to bring back your version of the pointer (it names " \
            f"{then}), or {place}" if status.stashed else \
            f"Run `dvx checkout {typed}` (or `dvx pull {typed}`)" if status.in_cache else \
            f"Run {place}"
        raise ConflictError(
            f"'{path}' changed {status.moved_since_synced}: its "
            f"pointer now names {now}, and the workspace still holds {then}, the data it had "
            "before. Recording it would undo that change.",
            f"{yours} to get the data the pointer names"
            + (f"; {record_anyway} records yours again." if status.own_version_whole else
               "." if status.kind == "dir" else  # whose files --force never undoes
               f"; {record_anyway} records the older data anyway."))
    missing = status.synced_manifest_missing
    if missing is not None:
        raise MissingObjectError(
            f"'{path}' changed in Git since this workspace was synced (its pointer now names "
            f"{now}), and the workspace holds other data than that; but the version it was "
            f"synced to ({missing.oid}) is no longer in the cache, so which of its files "
            "were changed here, and which in Git, cannot be told.",
            f"Fetch that version again with {missing.fetch_command(root)}, then {again}.")
    if status.past_versions_kept:
        raise ConflictError(_past_versions_kept(status), (
            f"Run a full `dvx pull {typed}` first, which places the pointer's version and "
            "skips and names each file changed here whose bytes are not in the cache, then "
            f"{again}. `--force` cannot record it either, and `dvx checkout --force {typed}` "
            "would discard your changes."))
    if status.new_manifest_missing:
        raise MissingObjectError(
            f"'{path}' changed both here and in Git: its pointer now names {now} (it named "
            f"{then} when this workspace was synced), whose manifest is not in the cache, so "
            "the changes made here cannot be told from those made in Git.",
            f"Fetch it first with `dvx fetch {typed}`, then {again}.")
    if status.conflicts:
        raise ConflictError(_files_changed_on_both_sides(root, status), (
            f"Keep your version of {'it' if len(status.conflicts) == 1 else 'them'} with "
            f"`dvx commit --force {typed}` (your other changes are recorded too, and each "
            f"file you did not change takes the pointer's version), or take Git's "
            + _taking_git_s(root, status)
            + f"; your version is lost unless it is in the cache. `dvx checkout {typed}` "
            "places the rest of Git's changes and keeps yours."))
    in_git = (f"its pointer, naming {now}, arrived in Git over data of yours that no dvx "
              "placed here" if status.brought_over_own else
              f"its pointer now names {now} (it named {then} when this workspace was synced)"
              if now != then else f"its pointer now records another executable bit for {now}")
    raise ConflictError(
        f"'{path}' changed both here and in Git: {in_git}, and the workspace holds other data"
        + (f" ({status.current_oid})" if status.current_oid else "") + ". Recording it would "
        "undo the change made in Git.",
        f"Keep your version with `dvx commit --force {typed}`, or take Git's with "
        f"`{_placing_git_s(status)} --force {typed}` (your version is lost unless it is in "
        "the cache).")


def _placing_git_s(status: OutputStatus) -> str:
    """The command placing the data the pointer names: a checkout places only what the
    cache holds, a teammate's data not fetched yet needs a pull."""
    return "dvx checkout" if status.in_cache else "dvx pull"


_NAMED = 5  # files named in a message, of a directory's files that conflict


def _past_versions_kept(status: OutputStatus) -> str:
    """Why a directory whose record keeps as many versions as dvx tracks
    (`OutputStatus.past_versions_kept`) is not recorded, --force or not."""
    return (f"'{status.path}' changed both here and in Git: its pointer now names "
            f"{status.pointer_oid}, and the workspace holds parts of more versions of it than "
            "dvx keeps track of (many partial pulls), so the changes made here cannot be told "
            "from those made in Git. Recording it would undo the change made in Git.")


def _holds_uncached_versions(status: OutputStatus) -> str:
    """Why data holding a version no cache has (`OutputStatus.outdated_not_cached`) is not
    recorded without --force."""
    files = status.outdated_not_cached
    one = len(files) == 1
    names = named_list(files, most=_NAMED, name=lambda name: f"'{name}'")
    where = "" if status.kind == "file" else f" (in '{status.path}')"
    return (f"{names}{where} {'holds a version' if one else 'hold versions'} that dvx placed "
            f"or recorded there and that {'is' if one else 'are'} no longer in the cache (gc "
            f"deleted {'it' if one else 'them'}, say), older than what the pointer names: it "
            f"changed {status.moved_since_synced}. A checkout keeps "
            f"{'it' if one else 'them'}, the workspace holding the only copy here; recording "
            f"{'it' if one else 'them'} would undo that change.")


def _taking_git_s(root: str, status: OutputStatus) -> str:
    """How to take Git's version of the files of a directory that conflict: a checkout of
    those the pointer has, and deleting those it no longer has (a conflict listed as added
    against the pointer), which no checkout names."""
    named = status.conflicts[:_NAMED]
    gone = [name for name in named if name in status.added]
    kept = [name for name in named if name not in gone]
    typed = [" ".join(for_command(root, f"{status.path}/{name}") for name in names)
             for names in (kept, gone)]
    ways = ([f"with `{_placing_git_s(status)} --force {typed[0]}`"] if kept else []) + (
        [f"by deleting what Git deleted (`rm {typed[1]}`)"] if gone else [])
    return " and ".join(ways) + (
        " (and the others likewise)" if len(status.conflicts) > _NAMED else "")


def _files_changed_on_both_sides(root: str, status: OutputStatus) -> str:
    """Which files of a directory changed both here and in Git since they were placed."""
    names = named_list(status.conflicts, most=_NAMED, name=lambda name: f"'{name}'")
    return (f"'{status.path}' changed both here and in Git: "
            + (f"its file {names} was" if len(status.conflicts) == 1 else
               f"its files {names} were")
            + (" yours here, never placed by dvx, when Git brought its pointer (naming "
               f"{status.pointer_oid}) with other data there"
               if status.brought_over_own else
               " changed here, and in Git since this workspace was synced (its pointer now "
               f"names {status.pointer_oid})")
            + ". Recording the directory as it is would undo the change made in Git.")


def finish(repo: Repo, results: list[Added], deleted: list[str] | None = None) -> AddResult:
    """Flush the caches' records and stage (or name for `git add`) the pointers and
    .gitignore files written for `results`, and the removal of the files `deleted` (dvx's
    own .gitignore files an add deleted, ops/former_outputs.py) and of those an earlier add
    deleted inside the folders recorded, which Git's index still holds: it is named until
    Git records it."""
    repo.statcache.flush()
    repo.syncstate.flush()
    folders = [r.path for r in results if r.pointer.is_dir]
    left = own_gitignores_left(repo, held_by_git_within(repo, folders)) if folders else []
    touched: list[str] = list(dict.fromkeys([*(deleted or []), *left]))
    for r in results:
        ignore_file = posixpath.join(posixpath.dirname(r.path), ".gitignore")
        recorded_in = r.path + POINTER_SUFFIX  # or dvx.lock, for a pipeline output
        if not os.path.exists(repo.abspath(recorded_in)):
            recorded_in = "dvx.lock"
        touched += [recorded_in, ignore_file]
    # Data stored again changes nothing Git records; a `*.lock` rule may ignore dvx.lock
    staging = stage_for_git(repo, touched)
    return AddResult(results, staging.staged, staging.to_stage)


@dataclass(frozen=True)
class StoredInLock:
    """Pipeline outputs stored in the cache, whose dvx.lock entries are still to be written
    (`write_stage_outputs`)."""
    outputs: list[Output]  # as the caller found them, their pointers from dvx.lock
    read: dict[str, StageLock]  # dvx.lock as it was before they were stored
    locks: dict[str, StageLock]  # dvx.lock recording them as stored
    added: list[Added]
    synced: dict[str, Synced]  # what the workspace is synced to once dvx.lock is written
    to_link: list[ToLink]


def store_stage_outputs(repo: Repo, outputs: list[Output], linked: list[Linked],
                        statuses: dict[str, OutputStatus] | None = None, force: bool = False,
                        scans: Mapping[str, Scanned] | None = None) -> StoredInLock:
    """Store the workspace state of pipeline outputs in the cache, for their stages'
    dvx.lock entries, writing nothing else (the caller holds the repository lock). As for
    a pointer (`prepare`), a directory checked out in part keeps the files never placed
    here, and those still at an older version placed here, as dvx.lock records them.
    `statuses`: the outputs' statuses, when the caller has just worked them out; `force`:
    as `held_back` takes it; `linked`: the caller's `given_back_unless_recorded` list,
    which `store` adds to; `scans`: the walks `check_storable` took of them."""
    read = repo.read_lock()
    locks = dict(read)
    added = []
    to_link: list[ToLink] = []
    synced: dict[str, Synced] = {}
    for output in outputs:
        assert output.stage is not None
        if not os.path.lexists(repo.abspath(output.path)):
            raise PathError(f"'{output.path}' is missing from the workspace; nothing to "
                            "commit.", "Run `dvx checkout "
                            f"{for_command(repo.root, output.path)}` or `dvx repro "
                            f"{output.stage}`.")
        entry = locks[output.stage]
        prepared = prepare(repo, output.path, output, (statuses or {}).get(output.path),
                           force, (scans or {}).get(output.path), linked=linked)
        pointer = prepared.pointer
        to_link += prepared.to_link
        outs = tuple(replace(o, oid=pointer.oid, size=pointer.size, nfiles=pointer.nfiles,
                             executable=pointer.executable) if o.path == output.path else o
                     for o in entry.outs)
        locks[output.stage] = replace(entry, outs=outs)
        synced[output.path] = prepared.synced
        added.append(Added(output.path, pointer, prepared.changed, prepared.kept_outdated,
                           prepared.kept_not_cached, prepared.deleted_in_pointer))
    return StoredInLock(outputs, read, locks, added, synced, to_link)


def write_stage_outputs(repo: Repo, stored: StoredInLock, linked: list[Linked],
                        refuse: Callable[[], None] | None = None) -> list[Added]:
    """Record the outputs `store_stage_outputs` stored in dvx.lock, with their .gitignore
    entries and sync records; dvx.lock is checked to be still as it was read (`refuse`,
    raising ConflictError; by default `refuse_changed_lock`) before anything is written and
    again last before it is replaced, with nothing recorded if not: the refusal leaves
    nothing half-done (`wrote_whole`). Once dvx.lock is written, their files are taken out
    of `linked` (the caller's `given_back_unless_recorded` list): recorded, they stay
    links."""
    check = refuse or (lambda: refuse_changed_lock(repo, stored))
    began_writing(repo.tmp_dir)
    for output in stored.outputs:
        repo.syncstate.expect_in_lock(output.path, stored.synced[output.path])
    repo.syncstate.flush()  # pending first, as for pointers (`write_pointers`)
    ignored: list[str] = []
    try:
        check()
        for output in stored.outputs:
            added = gitignore.add_entry(repo.abspath(output.path))
            if added is not None:
                ignored.append(repo.abspath(output.path))
        write_lock(repo.root, stored.locks, repo.algo, fsync=repo.fsync, before_rename=check)
        _drop_outputs(linked, repo, stored.outputs)
    except ConflictError:  # refused before the rename: nothing written
        for full in ignored:  # no record, no entry: as it was before
            gitignore.remove_entry(full)
        for output in stored.outputs:
            repo.syncstate.drop_expected(output.path)
        repo.syncstate.flush()
        wrote_whole(repo.tmp_dir)
        raise
    except BaseException:
        with stops_held():  # written once renamed into place, whatever stopped it after
            if lock_holds(repo.root, stored.locks, repo.algo):
                _drop_outputs(linked, repo, stored.outputs)
        raise
    faults.point("commit.after_lock_write")
    for path, record in stored.synced.items():
        repo.syncstate.record(path, record)
    link_stored(repo, stored.to_link)
    ignore_after_rules_taking_back(repo, [output.path for output in stored.outputs])
    return stored.added


def _drop_outputs(linked: list[Linked], repo: Repo, outputs: Iterable[Output]) -> None:
    for output in outputs:
        drop_recorded(linked, repo.abspath(output.path))


def refuse_changed_lock(repo: Repo, stored: StoredInLock) -> None:
    """Refuse (ConflictError) to write dvx.lock if it no longer records what the commit read
    (`stored.read`, and each output as the caller found it): a `git switch` or `git pull`
    (Git takes no dvx lock) changed it while the outputs were stored, and writing would undo
    that, as `refuse_changed_pointers` refuses for pointer files. One it cannot read (a
    newer format, a file Git is still writing) changed too, as for `pointer_change`."""
    try:
        now = repo.read_lock()
    except DvxError:
        now = None
    recorded = {} if now is None else {
        out.path: out for entry in now.values() for out in entry.outs}
    if now == stored.read and all(
            (out := recorded.get(o.path)) is not None
            and (out.oid, out.size, out.nfiles, out.executable)
            == (o.pointer.oid, o.pointer.size, o.pointer.nfiles, o.pointer.executable)
            for o in stored.outputs):
        return
    raise _changed_meanwhile(repo, f"{LOCK_FILE} changed", "commit", "recorded nothing",
                             [o.path for o in stored.outputs])


def track(repo: Repo, rel: str, existing: Output | None, command: str,
          status: OutputStatus | None = None, again: str = "") -> Added:
    """`status`: the output's status, when the caller has just worked it out; `command`: the
    dvx command recording it, and `again` that command as typed (`refuse_changed_pointers`).
    A pointer it does not write (a refusal, an error, a stop) leaves the files storing
    linked given back (`give_back`)."""
    with given_back_unless_recorded(repo) as linked:
        prepared = [prepare(repo, rel, existing, status, force=False, linked=linked)]
        faults.point("track.stored")
        refuse_changed_pointers(repo, prepared, command, f"did not record '{rel}'", again)
        written = write_pointers(repo, prepared, linked)
        if written.changed:  # the caller's earlier writes may be half-done: no wrote_whole
            repo.syncstate.flush()  # the pending record dropped
            raise _unwritten_error(repo, written, None, command, again)
        return written.added[0]


@dataclass(frozen=True)
class Prepared:
    """A target stored in the cache, whose pointer is still to be written
    (`write_pointers`)."""
    rel: str
    pointer: Pointer
    changed: bool  # the pointer is new or now names different data
    synced: Synced  # what the workspace is synced to once the pointer is written
    to_link: list[ToLink]
    was: Pointer | None  # the pointer read before the data was stored (None: there was none)
    kept_outdated: tuple[str, ...] = ()  # Added.kept_outdated
    kept_not_cached: tuple[str, ...] = ()  # Added.kept_not_cached
    deleted_in_pointer: tuple[str, ...] = ()  # Added.deleted_in_pointer


@dataclass(frozen=True)
class Planned:
    """What recording a target takes as recorded rather than from the workspace, worked out
    before anything is stored (`plan`)."""
    held: HeldBack


def plan(repo: Repo, rel: str, existing: Output | None, status: OutputStatus | None = None,
         force: bool = False) -> Planned:
    """What recording `rel` keeps of what is recorded (`held_back`), raising what refuses
    it. A command recording several targets plans them all before it stores any: one
    refused then leaves no object of the others in the cache that no pointer names."""
    synced = repo.syncstate.get(rel) if existing is None else synced_record(repo, existing)
    return Planned(held_back(repo, existing, synced, status, force))


def prepare(repo: Repo, rel: str, existing: Output | None,
            status: OutputStatus | None = None, force: bool = False,
            scanned: Scanned | None = None, *, linked: list[Linked],
            planned: Planned | None = None) -> Prepared:
    """Store the data at `rel` and work out its new pointer; `status`: the output's status,
    when the caller has just worked it out; `force`: as `held_back` takes it; `scanned`: the
    directory's walk, when `check_storable` has just taken it; `linked`: as `store` takes
    it; `planned`: what `plan` made of it, when the caller has just worked it out."""
    if planned is None:
        planned = plan(repo, rel, existing, status, force)
    held = planned.held
    recorded = _recorded_tree(repo, existing) if existing is not None \
        and existing.pointer.is_dir else None
    stored = store(repo, rel, keep=held.keep, replace=held.replace, recorded=recorded or (),
                   was=recorded or (existing.pointer if existing is not None else None),
                   scanned=scanned, linked=linked)
    pointer = stored.pointer if existing is None else existing.pointer.with_data(
        stored.pointer.kind, stored.pointer.oid, stored.pointer.size, stored.pointer.nfiles,
        stored.pointer.executable)
    changed = existing is None or existing.pointer != pointer
    layered = held.layered
    if not (held.keep or held.replace):  # the workspace holds what is recorded, all of it
        layered = None
    if layered is not None and layered.placed is not None and pointer.is_dir:
        # Still in part: the changes recorded from the workspace now count as placed.
        placed = layered.placed + tuple(p for p in held.recorded if not layered.covers(p))
        after = Synced(pointer.oid, placed, layered.base)
    else:
        after = Synced.whole(pointer.oid, pointer.is_dir, pointer.executable)
    return Prepared(rel, pointer, changed, after, stored.to_link,
                    existing.pointer if existing is not None else None,
                    tuple(join_posix(rel, path) for path in sorted(held.replace)),
                    tuple(join_posix(rel, path) for path in sorted(held.not_cached)),
                    tuple(join_posix(rel, path) for path in sorted(held.replace)
                          if recorded is not None and recorded.get(path) is None))


@dataclass(frozen=True)
class Written:
    """What `write_pointers` recorded, and the targets it did not: their pointer file
    changed (`pointer_change`) while the command ran, found just before it was written."""
    added: list[Added]
    changed: list[tuple[str, str]]  # (target, how its pointer file changed), not recorded


class _PointerMoved(Exception):
    """The pointer file of a target changed since `prepare` read it (`how`)."""

    def __init__(self, how: str) -> None:
        super().__init__(how)
        self.how = how


def write_pointers(repo: Repo, prepared: list[Prepared], linked: list[Linked]) -> Written:
    """Write the pointers of targets stored by `prepare`, which the caller has checked
    (`refuse_changed_pointers`). Their sync records are written as pending first, in one
    write, so that a pointer this clone wrote never looks like a change from Git, whenever
    dvx dies (dvx/syncstate.py). Each pointer file is checked again last before it is
    written, after the slow steps (the records, the links of the targets before it): one a
    `git pull` changed meanwhile is left as Git wrote it, its target not recorded
    (`Written.changed`, for `refuse_unwritten`), while the others are. Each target's files
    are taken out of `linked` (the caller's `given_back_unless_recorded` list) once its
    pointer is written: recorded, they stay links, while those of a target whose pointer was
    not written are given back."""
    began_writing(repo.tmp_dir)
    for item in prepared:
        if item.changed:
            repo.syncstate.expect(item.rel, item.synced, item.pointer.to_bytes())
    repo.syncstate.flush()
    added = []
    changed = []
    for item in prepared:
        try:
            added.append(_record(repo, item, linked))
        except _PointerMoved as moved:
            repo.syncstate.drop_expected(item.rel)
            changed.append((item.rel, moved.how))
    ignore_after_rules_taking_back(repo, [a.path for a in added])
    return Written(added, changed)


def refuse_changed_pointers(repo: Repo, prepared: list[Prepared], command: str,
                            outcome: str = "recorded nothing", again: str = "") -> None:
    """Refuse (ConflictError), before any is written, the pointers of targets whose pointer
    file changed since `prepare` read it, while `dvx command` stored their data: a `git
    switch` or `git pull` (Git takes no dvx lock) brought another version, which the data
    stored, the workspace's as it was before, would undo. A change found here leaves every
    target as it was; `write_pointers` checks each again just before writing it.
    `outcome`: what the refusal says the command recorded (for one recording a target after
    others, `track`: that it did not record this one); `again`: the command as typed, which
    it says to run again (`_changed_meanwhile`)."""
    for item in prepared:
        how = pointer_change(repo, item.rel, item.was)
        if how is None:
            continue
        raise _changed_meanwhile(repo, f"'{item.rel}{POINTER_SUFFIX}' {how}", command,
                                 outcome, [item.rel], again=again)


def refuse_unwritten(repo: Repo, written: Written, result: AddResult, command: str,
                     again: str = "") -> None:
    """Refuse (ConflictError) the targets `write_pointers` left unrecorded, their pointer
    file changed just before it was to be written, naming those it recorded (`result`, what
    `finish` made of them) and how they reach Git. What was written is whole then (each
    target recorded or left as it was), so the refusal leaves nothing half-done
    (`wrote_whole`): for a command that began writing in `write_pointers`."""
    if written.changed:
        wrote_whole(repo.tmp_dir)
        raise _unwritten_error(repo, written, result, command, again)


def _unwritten_error(repo: Repo, written: Written, result: AddResult | None, command: str,
                     again: str = "") -> ConflictError:
    """The refusal `refuse_unwritten` raises; `result`: None for a caller recording one
    target after others it wrote itself (`track`), whose refusal names this one alone."""
    changed = [rel for rel, _ in written.changed]
    if len(written.changed) == 1:
        rel, how = written.changed[0]
        what = f"{quoted(rel + POINTER_SUFFIX)} {how}"
    else:
        what = "the pointer files of " + named_list(
            changed, most=_NAMED, name=quoted) + " changed"
    if result is not None and not result.added:
        return _changed_meanwhile(repo, what, command, "recorded nothing", changed,
                                  again=again)
    unrecorded = named_list(changed, most=_NAMED, name=quoted)
    then = "" if result is None else " It recorded " + named_list(
        [a.path for a in result.added], most=_NAMED, name=quoted) + (
        f", staged in Git ({' '.join(result.staged)})." if result.staged else
        f": `{git_add_command(repo.root, result.to_stage)}` records that in Git."
        if result.to_stage
        else ".")
    return _changed_meanwhile(repo, what, command, f"did not record {unrecorded}", changed,
                              then, again)


def _changed_meanwhile(repo: Repo, what: str, command: str, outcome: str,
                       paths: list[str], then: str = "", again: str = "") -> ConflictError:
    """The refusal of `dvx command` to record `paths` because `what` (a pointer file,
    dvx.lock) changed while it ran; `outcome`: what it recorded of them, `then`: what it
    recorded besides, said after. The command to run again is `again`, the command as typed
    (an `exp run`'s -n and -S), else `command`, naming the paths only where it takes them
    (`add`, `commit`)."""
    typed = " ".join(for_command(repo.root, path) for path in paths)
    if again:
        again = f"dvx {again}"
    else:
        again = f"dvx {command} {typed}" if command in ("add", "commit") else f"dvx {command}"
    return ConflictError(
        f"{what} while dvx {command} ran (a `git checkout` or `git pull`, say), so dvx "
        f"{command} {outcome}: what the workspace held was read before that change, and "
        f"recording it would undo it.{then}",
        f"Run `dvx status {typed}` to see where it stands now, then `{again}` "
        "again if the workspace's data is still to be recorded.")


def _record(repo: Repo, item: Prepared, linked: list[Linked]) -> Added:
    """Record `item`: its .gitignore entry, its pointer, its links and sync record, taking
    its files out of `linked` once its pointer is written; raises _PointerMoved, with
    nothing written, if its pointer file changed since `prepare` read it (asked last before
    the pointer is replaced). A pointer not written (that refusal, an error, a stop) takes
    the entry back; one renamed into place is written, whatever stops the write after that
    (a Ctrl-C or a failed fsync of the folder): its entry and links stay."""

    def unmoved() -> None:
        how = pointer_change(repo, item.rel, item.was)
        if how is not None:
            raise _PointerMoved(how)

    full = repo.abspath(item.rel)
    ignored = gitignore.add_entry(full)  # before the pointer: never data left for Git to commit
    try:
        if item.changed:
            write_pointer(repo, item.rel, item.pointer, before_rename=unmoved)
        else:
            unmoved()
        drop_recorded(linked, full)
    except BaseException as exc:
        with stops_held():
            # Refused before the rename, the pointer Git wrote may even say the same.
            if item.changed and not isinstance(exc, _PointerMoved) \
                    and pointer_written(repo, item.rel, item.pointer):
                drop_recorded(linked, full)
            elif ignored:  # no pointer, no entry: the data stays visible to Git, as before
                gitignore.remove_entry(full)
        raise
    if item.changed:
        faults.point("commit.after_pointer")
    link_stored(repo, item.to_link)
    log.info("%s %s (%s)", "Tracked" if item.changed else "Unchanged", item.rel,
             item.pointer.oid)
    repo.syncstate.record(item.rel, item.synced)
    return Added(item.rel, item.pointer, item.changed, item.kept_outdated,
                 item.kept_not_cached, item.deleted_in_pointer)


@dataclass(frozen=True)
class HeldBack:
    """What a commit of a directory checked out in part takes from its recorded manifest
    rather than from the workspace."""
    keep: list[TreeEntry] = field(default_factory=list)  # recorded entries to keep
    # Workspace files that stand for no change: recorded as `keep` has them, never read
    replace: frozenset[str] = frozenset()
    recorded: tuple[str, ...] = ()  # paths whose change here is recorded now
    # The layered record compared with (the pointer's version over those placed before)
    layered: Synced | None = None
    # Of `replace`, the files holding a version whose bytes no cache holds
    not_cached: frozenset[str] = frozenset()


def held_back(repo: Repo, existing: Output | None, synced: Synced | None,
              status: OutputStatus | None = None, force: bool = False) -> HeldBack:
    """A commit keeps, as they are recorded, the entries of a tracked directory checked out
    only in part, or never (no record of it: files were put by hand in a folder never
    pulled), that were never placed in this workspace (a partial pull, or none, never shrinks
    a directory), and those whose file still holds an older version a checkout placed, when
    the pointer's version of it was never checked out (`git pull` then a partial pull or a
    commit never undoes a teammate's change). A file placed here and deleted since is a
    deletion. A directory whose pointer moved in Git since it was synced, whole or in part,
    is compared file by file as if a checkout had placed none of the pointer's version: only
    the files changed here are recorded from the workspace (with `force`, also those
    changed both here and in Git). A file still holding an older version placed here whose
    bytes no cache holds any longer (gc took them) is kept as the pointer names it too, left
    unread so that a checkout keeps it, unless `force` records it as the workspace holds
    it. A directory whose pointer moved back from the user's own version, synced here whole
    (`git checkout -- X.dvx`, a stash, a reset: `own_version_undone`), is no change from Git:
    with `force` it is recorded as the workspace holds it, as a file is. A folder made here
    where a file was synced (`git pull` then brought a directory) holds nothing a checkout
    placed: a change of the whole path, recorded as the workspace holds it. With no record,
    the files changed here that the pointer names too are the user's, recorded from the
    workspace, unless Git brought the pointer over them (`OutputStatus.brought_over_own`):
    then they changed on both sides, refused before this (`refuse_if_behind`) without
    `force`."""
    if existing is None or not existing.pointer.is_dir:
        return HeldBack()
    if synced is not None and records_a_file(repo, synced):
        return HeldBack()
    if force and synced is not None and synced.placed is None \
            and synced.oid != existing.pointer.oid \
            and own_version_undone(repo, existing, synced.oid):
        return HeldBack()
    never_synced = synced is None
    if synced is None:
        status = status if status is not None else output_status(repo, existing)
        if status.workspace == UNCHANGED and not status.not_pulled:
            return HeldBack()  # all of it is there as recorded: nothing to keep
        # No checkout placed any of it: every recorded file absent here is a teammate's.
        synced = Synced(existing.pointer.oid, placed=())
    moved = synced.oid != existing.pointer.oid
    if synced.placed is None and not moved:
        return _kept_as_alike(repo, existing, status)
    typed = for_command(repo.root, existing.path)
    tree = _recorded_tree(repo, existing)
    if tree is None:
        record = "its pointer" if existing.stage is None else LOCK_FILE
        alone = (f"`dvx remove {for_command(repo.root, existing.path + POINTER_SUFFIX)}` "
                 f"then `dvx add {typed}` records what the workspace holds alone"
                 if existing.stage is None else
                 f"`dvx repro {shell_quote(existing.stage)}` records what its command makes")
        raise MissingObjectError(
            f"'{existing.path}' " + ("changed in Git since this workspace was synced" if moved
                                     else f"was never checked out here at the version {record} "
                                     "records" if never_synced
                                     else "was checked out only in part")
            + ", and its manifest is not in the cache, so what the rest of it holds is "
            "unknown here.",
            f"Fetch it first: `dvx fetch {typed}/<a file in it>` brings the manifest "
            "with that one file (`dvx fetch` of the whole directory brings every file). If no "
            f"remote has it (its data was never pushed), {alone}.")
    if moved:
        layered = behind(synced, existing.pointer)
        if layered is None:
            raise ConflictError(
                f"'{existing.path}' holds parts of more versions than dvx keeps track of, "
                "so the changes made here cannot be told from those made in Git.",
                f"Run a full `dvx pull {typed}` (or `dvx checkout {typed}`) first.")
        found = layered_status(repo, existing, layered)
    else:
        # Compares outside the placed parts three ways.
        layered = synced
        found = status if status is not None else output_status(repo, existing)
    # Stored, the bytes of such a file would be named by nothing, and a checkout would then
    # replace the only copy of them.
    only_here = {path[len(existing.path) + 1:] for path in holding_uncached_versions(
        repo, [join_posix(existing.path, rel) for rel in found.outdated])}
    outdated = [path for path in found.outdated if not (force and path in only_here)]
    if not force:
        _refuse_in_the_way(repo.root, found)
    keep = [entry for path in (*found.not_pulled, *outdated)
            if (entry := tree.get(path)) is not None]
    recorded = (*found.added, *found.modified, *found.deleted,
                *(sorted(only_here) if force else ()))
    return HeldBack(keep, frozenset(outdated), recorded, layered,
                    frozenset() if force else frozenset(only_here))


def _refuse_in_the_way(root: str, found: OutputStatus) -> None:
    """A path of the user's own where files of the directory not pulled here go (a folder
    where a file goes, a file where a folder goes) is recorded in their place only with
    --force: else those files, a teammate's, would leave the directory unseen."""
    paths = found.in_the_way
    if not paths:
        return
    names = named_list([join_posix(found.path, path) for path in paths], most=_NAMED,
                       name=lambda name: f"'{name}'")
    one = len(paths) == 1
    cases = {"file": "a folder where a file goes", "folder": "a file where a folder goes"}
    which = ", and ".join(cases[kind] for kind in sorted(
        {found.stands_in_place_of(path) for path in paths}))
    ways = found.ways_past_in_the_way(root)
    raise ConflictError(
        f"{names}, yours, {'is' if one else 'are'} where files of '{found.path}' not pulled "
        f"here go ({which}): recording "
        f"{'it' if one else 'them'} there would drop those files, which Git records.",
        f"{ways[0].upper()}{ways[1:]}; `--force` records yours in their place.")


def status_setting_aside(repo: Repo, output: Output) -> OutputStatus:
    """The status of `output`, about to be stored from the workspace; a damaged manifest of
    its recorded directory, which the comparison cannot read, is moved aside first
    (`_recorded_tree`), for the command to store a good one."""
    try:
        return output_status(repo, output)
    except CorruptManifestError:
        if not output.pointer.is_dir or not os.path.isdir(repo.abspath(output.path)):
            raise
        _recorded_tree(repo, output)  # a damaged manifest of another version fails again
        return output_status(repo, output)


def _recorded_tree(repo: Repo, existing: Output) -> Tree | None:
    """The manifest `existing` records; None if the cache lacks it, or held it damaged and
    moved it aside: what is stored from the workspace then makes a good one again (a
    manifest never pushed has no other copy to fetch), when the workspace holds all of the
    directory (`_stored_again_from_here`)."""
    return load_tree_setting_aside(repo, existing.pointer, existing.recorded_in,
                                   lambda: _stored_again_from_here(repo, existing))


def _stored_again_from_here(repo: Repo, existing: Output) -> str:
    """What becomes of the damaged manifest of `existing`, just moved aside: stored again
    from the workspace when it holds all of the directory at that version (synced whole to
    it, or holding just what it records); else (checked out in part, its pointer moved in
    Git since) the files it lacks are known only from a good copy, which `dvx fetch` brings
    (`held_back` then refuses, saying how)."""
    synced = repo.syncstate.get(existing.path)
    if synced is not None:
        whole = synced.placed is None and synced.oid == existing.pointer.oid
    else:
        try:
            found = output_status(repo, existing)
        except (DvxError, OSError):
            found = None
        whole = found is not None and found.workspace == UNCHANGED and not found.not_pulled
    if whole:
        return "storing it again from the workspace."
    return (f"it cannot be stored again from the workspace, which does not hold all of "
            f"'{existing.path}' as it records (it was checked out in part, say): `dvx fetch` "
            "downloads it again if a remote has it.")


def _kept_as_alike(repo: Repo, existing: Output, status: OutputStatus | None) -> HeldBack:
    """A directory synced whole may lack files only because a case-insensitive filesystem
    holds them under another spelling its manifest lists too ('A.txt' and 'a.txt'; checkout
    places one): status finds them not pulled, not deleted, and the commit keeps them as
    recorded. Only a manifest that lists such names is compared for it."""
    tree = _recorded_tree(repo, existing)
    if tree is None or not alike_paths(tree.paths):
        return HeldBack()
    found = status if status is not None else output_status(repo, existing)
    return HeldBack([entry for path in found.not_pulled if (entry := tree.get(path)) is not None])


def store(repo: Repo, rel: str, keep: list[TreeEntry] | None = None,
          replace: Collection[str] = (), recorded: Container[str] = (),
          was: Pointer | Tree | None = None, scanned: Scanned | None = None, *,
          linked: list[Linked]) -> Stored:
    """Store the file or directory at `rel` in the cache, as `track` does, without writing a
    pointer (pipeline outputs are recorded in dvx.lock); a pointer to what was stored, and the
    files to link once it is recorded. `keep`: manifest entries to record for a directory
    though they are not in the workspace, or in place of its files at `replace`, which are
    not read; `recorded`: the paths of its recorded manifest, which
    stay tracked though .dvxignore now ignores them; `was`: what was recorded for `rel` (a
    file's pointer, a directory's manifest), whose objects a file still hard-linked to them
    may have changed (`_note_changed_object`); `scanned`: the directory's walk, if taken
    already; `linked`: the list (a `given_back_unless_recorded` one) each file storing
    makes a hard link of its object (`Linked`) is added to as soon as it is one, so that a
    stop midway gives back every such file."""
    keep_links_on_set_aside(repo)
    full = repo.abspath(rel)
    _warn_if_no_link_reaches(repo, rel, full)
    if os.path.isdir(full) and not os.path.islink(full):
        tree, fingerprint, to_link = _ingest_directory(
            repo, full, rel, linked, recorded,
            was if isinstance(was, Tree) and was.algo == repo.algo else None, scanned, replace)
        if keep or replace:
            tree = _with_kept(repo.algo, tree, keep or [], replace)
        oid = repo.cache.add_bytes(tree.to_bytes())
        if not (keep or replace):  # else the workspace does not hold what was recorded
            repo.statcache.put_dir(full, fingerprint, oid)
        # Built here, from files all just stored: valid by construction, and complete unless
        # it keeps entries never fetched here (a partial pull's).
        repo.statcache.mark_valid_tree(oid)
        if not keep or not repo.cache.missing(entry.oid for entry in keep):
            repo.statcache.mark_complete_tree(oid, repo.cache.generation())
        repo.cache.set_aside_damaged(rel)
        return Stored(Pointer("dir", repo.algo, oid, tree.size, tree.nfiles, False), to_link)
    st = os.lstat(full)
    was_oid = was.oid if isinstance(was, Pointer) and was.kind == "file" \
        and was.algo == repo.algo else None
    with byte_progress(repo.progress, f"Adding {rel}", st.st_size) as on_bytes:
        oid, size, executable, seen, linked_file = _ingest_file(repo, full, rel, st, on_bytes,
                                                                was_oid)
    if linked_file is not None:
        linked.append(linked_file)
    if not repo.reads_exec_bit:
        executable = recorded_executable(repo, rel)
    repo.cache.set_aside_damaged(rel)
    return Stored(Pointer("file", repo.algo, oid, size, None, executable),
                  [ToLink(full, oid, size, seen)] if seen else [])


def link_stored(repo: Repo, to_link: list[ToLink]) -> None:
    """Replace stored files by symlinks to their objects, now that what names the objects is
    recorded. A file that cannot be linked stays a copy of its object: what was recorded is
    right either way, so that is a warning (and `dvx checkout --relink` links it later)."""
    keep_links_on_set_aside(repo)
    for i, item in enumerate(to_link):
        try:
            if (item.unchanged(os.lstat(item.path))
                    and repo.cache.replace_by_symlink(item.path, item.oid, item.size)):
                # The object was just found to hold these bytes: vouched for at this stat.
                repo.statcache.put(item.path, os.stat(item.path), item.oid)
        except OpenForWriting:
            _warn_open_for_writing(os.path.relpath(item.path, repo.root), "symlink")
        except OSError as exc:
            rest = len(to_link) - i - 1
            log.warning("'%s'%s stays a copy of the cached object it was recorded as, not a "
                        "symlink to it: %s. `dvx checkout --relink` links it later.",
                        os.path.relpath(item.path, repo.root),
                        f" (and {rest} more files)" if rest else "",
                        fsutil.write_failure(exc, item.path))
            return


@contextlib.contextmanager
def given_back_unless_recorded(repo: Repo) -> Iterator[list[Linked]]:
    """A list for the caller to extend with the files it stores that storing made hard links
    of their objects (`Linked`), given back (`give_back`) if the block fails or is stopped
    (Ctrl-C, SIGTERM, SIGHUP): a command that records nothing leaves them as they were, not
    links of objects nothing names. Giving back is a local copy and rename per file, quick;
    a second stop meanwhile is ignored (`give_back`)."""
    linked: list[Linked] = []
    try:
        yield linked
    except BaseException:
        give_back(repo, linked)
        raise


def drop_recorded(linked: list[Linked], full: str) -> None:
    """Take the files of the data at `full` (a file, or a directory's files) out of `linked`
    (a `given_back_unless_recorded` list): a pointer or dvx.lock now names their objects,
    so they stay links of them, whatever fails after."""
    below = full.rstrip(os.sep) + os.sep
    linked[:] = [item for item in linked
                 if item.path != full and not item.path.startswith(below)]


def give_back(repo: Repo, linked: Iterable[Linked]) -> None:
    """Make each file that storing made a read-only hard link of its object, nothing having
    come to name that object, a writable file of its own again, with the mode and times it
    had: left a link, gc would take its object, and an edit through it would change the
    cache. A copy is written first and then renamed over the link, so its bytes are never
    lost; a file that is no longer that link is left as it is. Ctrl-C, SIGTERM and SIGHUP
    wait until every file is given back (`stops_held`): cut short, the rest would stay
    links."""
    with stops_held():
        for item in linked:
            _give_back_one(repo, item)


def _give_back_one(repo: Repo, item: Linked) -> None:
    try:
        if not os.path.samestat(os.lstat(item.path), os.stat(repo.cache.oid_path(item.oid))):
            return
    except (FileNotFoundError, NotADirectoryError):  # deleted since, or taken out of the cache
        return
    try:
        fsutil.place(item.path, item.path, ("copy",))
        os.chmod(item.path, item.mode)
        os.utime(item.path, ns=item.times_ns)
    except OSError as exc:
        log.warning("'%s' stays a read-only hard link of the cached object %s, which "
                    "nothing records: %s. Copy it to a file of its own before editing "
                    "it.", os.path.relpath(item.path, repo.root), item.oid,
                    fsutil.write_failure(exc, item.path))


@contextlib.contextmanager
def _naming_files_left_linking(repo: Repo) -> Iterator[None]:
    """A stop that ended the wait for the files still being stored on threads (a second
    Ctrl-C, SIGTERM or SIGHUP, the work still running `STOP_GRACE` seconds later: a read
    of a hung mount, say) names them: each may be left a read-only hard link of its
    object, which nothing records, as the give-back came before it was done."""
    try:
        yield
    except LeftRunning as stop:
        paths = [os.path.relpath(entry.path, repo.root) for entry in stop.items
                 if isinstance(entry, WalkEntry)]
        one = len(paths) == 1
        names = named_list(paths, most=_NAMED, name=lambda name: f"'{name}'")
        raise interruption(stop, (
            f" while {names} {'was' if one else 'were'} still being stored; the second stop "
            f"ended the wait for {'it' if one else 'them'}, so {'it' if one else 'each'} may "
            "be left a read-only hard link of its cached object, which nothing records."),
            f"Run the command again to record {'it' if one else 'them'}, or copy "
            f"{'it' if one else 'each'} to a file of {'its' if one else 'their'} own before "
            "editing; `dvx status` shows what is left.") from stop


def _left_by_stopped_workers(repo: Repo, entries: Iterable[WalkEntry]) -> list[Linked]:
    """Of the files `entries` (each with its lstat taken before it was stored), whose
    results a worker process stopped midway never reported: those now a hard link of their
    object that were not one before (as `_store_file` tells it), for `give_back`. Only those
    are read, to find their objects. One it made read-only to become its object, stopped
    before linking it, gets its mode back here."""
    found = []
    for entry in entries:
        try:
            now = os.lstat(entry.path)
            if _made_readonly_unlinked(repo, entry.stat, now):
                os.chmod(entry.path, stat.S_IMODE(entry.stat.st_mode))
                continue
            if not stat.S_ISREG(now.st_mode) or now.st_nlink < 2 or (
                    entry.stat.st_nlink > 1 and now.st_ino == entry.stat.st_ino):
                continue
            oid, _ = hash_file(entry.path, repo.algo)
            if not os.path.samestat(os.lstat(entry.path),
                                    os.stat(repo.cache.oid_path(oid))):
                continue
        except OSError:  # gone, or changed while read: no link of an object, or not ours
            continue
        found.append(Linked(entry.path, oid, stat.S_IMODE(entry.stat.st_mode),
                            (entry.stat.st_atime_ns, entry.stat.st_mtime_ns)))
    return found


def _made_readonly_unlinked(repo: Repo, before: os.stat_result, now: os.stat_result) -> bool:
    """Is the file whose lstat was `before` and is `now` the same file, unchanged and linked
    to nothing more, with only the mode an object of it takes (`LocalCache.object_mode`)?"""
    mode = stat.S_IMODE(before.st_mode)
    readonly = repo.cache.object_mode(mode)
    return (stat.S_ISREG(now.st_mode) and os.path.samestat(now, before)
            and now.st_nlink == before.st_nlink
            and (now.st_size, now.st_mtime_ns) == (before.st_size, before.st_mtime_ns)
            and readonly != mode and stat.S_IMODE(now.st_mode) == readonly)


def _with_kept(algo: str, tree: Tree, keep: list[TreeEntry], replace: Collection[str]
               ) -> Tree:
    """`tree` without the files at `replace`, plus the kept entries, except those a workspace
    entry now stands in the way of: a file where a kept entry's directory would be, or a
    folder of files where a kept file would be. The workspace's is the change made here,
    as status reports it, so it is what is recorded."""
    entries = [e for e in tree.entries if e.path not in replace]
    present = {e.path for e in entries}
    folders = {parent for e in entries for parent in folders_above(e.path)}
    kept = [e for e in keep if e.path not in folders and not any(
        parent in present for parent in folders_above(e.path))]
    return Tree.build(algo, [*entries, *kept])


def _linked_object(repo: Repo, path: str, display: str, st: os.stat_result | None = None
                   ) -> FileState:
    """The state of a link into the cache, whose object must still be there: a pointer
    never names data that no cache holds."""
    state = file_state(repo, path, display, st)
    assert state is not None and state.linked_oid is not None
    if state.kept_in is None and not repo.cache.exists(state.linked_oid):
        raise MissingObjectError(
            f"'{display}' is a link to the object {state.linked_oid}, which is no longer in the "
            "cache.", f"Run `dvx pull {for_command(repo.root, display)}` to fetch it, or "
            "replace the link with the data.")
    return state


def _take_back(repo: Repo, path: str, state: FileState) -> os.stat_result:
    """Make the link at `path`, whose object was changed through a link to it, a copy of what
    the object holds now (the file's content, to be stored as any file is); the object, which
    no longer holds the bytes its oid names, is set aside once the add has stored them."""
    assert state.linked_oid is not None
    if state.kept_in is not None:  # moved aside already: its path may hold other bytes now
        fsutil.place(state.kept_in, path, ("copy",), exec_bit=state.executable)
        return os.lstat(path)
    fsutil.place(repo.cache.oid_path(state.linked_oid), path, ("copy",),
                 exec_bit=state.executable)
    repo.cache.damaged.add(state.linked_oid)
    return os.lstat(path)


def _note_changed_object(repo: Repo, st: os.stat_result, oid: str, was_oid: str | None,
                         display: str) -> None:
    """A file (`display`) that was, when it was stored (`st`), the very inode of the object
    recorded for it (`was_oid`, hardlink mode), or of one a checkout placed there (an older
    version, the record moved since by a `git pull`), and held other bytes changed that
    object through the link: the object, which no longer holds the bytes its oid names, is
    noted to be set aside once the add has stored them (`LocalCache.set_aside_damaged`)."""
    if was_oid == oid or st.st_nlink < 2:  # a linked file has 2 or more
        return
    if was_oid is not None and _is_the_object(repo, st, was_oid):
        repo.cache.damaged.add(was_oid)
        return
    placed = next((placed for placed in sorted(versions_placed(repo, display))
                   if placed != oid and _is_the_object(repo, st, placed)), None)
    if placed is not None:
        repo.cache.damaged.add(placed)


def _is_the_object(repo: Repo, st: os.stat_result, oid: str) -> bool:
    """Is the file whose stat is `st` the cache object `oid`'s inode?"""
    try:
        return os.path.samestat(os.stat(repo.cache.oid_path(oid)), st)
    except FileNotFoundError:
        return False


def _already_cached(repo: Repo, full: str, st: os.stat_result, link_types: tuple[str, ...]
                    ) -> str | None:
    """The oid of an unchanged file whose object is cached and linked as configured (the
    object is marked as just used, unless it is the file itself). In symlink mode a regular
    file (`full` is one) is never placed as configured: one unchanged whose object is intact
    is to become a link (`_store_file`), never read again."""
    oid = repo.statcache.get(full, st)
    if oid is None:
        return None
    try:
        cached = os.stat(repo.cache.oid_path(oid))
    except FileNotFoundError:
        return None
    linked = os.path.samestat(st, cached)
    if link_types[0] == "hardlink" and not linked:
        return None
    # Touching a hard-linked object would change the workspace file's stat. An object gc
    # took out since the stat above is stored again, and so is one that no longer holds the
    # bytes its oid names (written through a link to it: hashed unless known intact, and
    # moved aside).
    if not linked and not (repo.cache.kept_if_intact(oid) and repo.cache.refresh(oid)):
        return None
    return oid


def _ingest_file(repo: Repo, full: str, display: str, st: os.stat_result | None = None,
                 on_bytes: OnBytes | None = None, was_oid: str | None = None
                 ) -> tuple[str, int, bool, StatKey | None, Linked | None]:
    """The file's oid, size, executable bit, if it is to become a symlink, its stat when it
    was stored (`ToLink.seen`), and if storing made it a hard link of its object, what it was
    before (`Linked`). `was_oid`: the oid recorded for it."""
    st = st or os.lstat(full)
    if stat.S_ISLNK(st.st_mode):
        state = _linked_object(repo, full, display, st)
        if state.holds_its_own_bytes:
            st = _take_back(repo, full, state)
        elif state.executable and repo.cache.unshare(full, state.oid):  # chmod +x through it
            st = os.lstat(full)  # an executable copy of its own, stored as any file is
        else:
            return state.oid, state.size, False, None, None
    stored = _store_file(repo, full, st, repo.link_types, on_bytes)
    _note_changed_object(repo, st, stored.oid, was_oid, display)
    if stored.seen is not None:
        repo.statcache.put_key(full, stored.seen, stored.oid)
    return (stored.oid, stored.size, stored.executable,
            stat_key(st) if stored.to_symlink else None, stored.linked)


def _store_file(repo: Repo, full: str, st: os.stat_result, link_types: tuple[str, ...],
                on_bytes: OnBytes | None = None) -> StoredFile:
    """Store the regular file `full` (whose lstat is `st`) and link it as configured.
    Changes only files, never this process's state, so it can run in a worker process."""
    executable = bool(st.st_mode & stat.S_IXUSR)
    if executable:  # a shared inode would share the mode: keep executables independent
        link_types = fsutil.link_types_for_executable(link_types)
    oid = _already_cached(repo, full, st, link_types)
    seen: StatKey | None = None
    to_symlink = False
    linked: Linked | None = None
    if oid is not None:
        size = st.st_size
        to_symlink = link_types[0] == "symlink"  # linked once its object is named
    else:
        ingested = repo.cache.add_file(full, link_types, on_bytes)
        oid, size, to_symlink = ingested.oid, ingested.size, ingested.to_symlink
        if ingested.open_for_writing:
            _warn_open_for_writing(os.path.relpath(full, repo.root), link_types[0])
        if ingested.link_type in ("copy", "reflink"):
            # The file was only read, so the stat taken before reading still describes it
            # (and if it changed while being read, that stat no longer matches: it is hashed
            # again).
            seen = stat_key(st)
        elif ingested.link_type == "hardlink":  # linking and chmod moved its ctime
            now = _made_readonly(full)
            seen = stat_key(now)
            # A file with no other link, or replaced by a link to the object, was no link of
            # it before; one with others whose inode stayed was the object already.
            if st.st_nlink == 1 or now.st_ino != st.st_ino:
                linked = Linked(full, oid, stat.S_IMODE(st.st_mode),
                                (st.st_atime_ns, st.st_mtime_ns))
    if executable and st.st_nlink > 1 and repo.cache.unshare(full, oid):
        seen = stat_key(os.lstat(full))  # a copy of its own now
    return StoredFile(oid, size, executable, seen, to_symlink, linked)


def _made_readonly(full: str) -> os.stat_result:
    """The lstat of the file `full`, made read-only first if it is not (a link to an object
    mostly is already)."""
    st = os.lstat(full)
    if st.st_mode & fsutil.WRITE_BITS and not stat.S_ISLNK(st.st_mode):
        make_readonly(full)
        st = os.lstat(full)
    return st


def _warn_if_no_link_reaches(repo: Repo, rel: str, full: str) -> None:
    """Warn, once per command and pair of filesystems, that the files of `rel` (at `full`)
    stay copies of their own, the cache holding a second copy: cache.type names only hard
    links and reflinks, which cannot join the workspace's filesystem to the cache's
    (checkout refuses then; add stores the data safely all the same)."""
    types = repo.link_types
    if "copy" in types or "symlink" in types:
        return
    try:
        here = os.lstat(full).st_dev
    except (FileNotFoundError, NotADirectoryError):
        return
    cache = repo.cache.root
    while not os.path.exists(cache):  # made by the first object stored
        cache = os.path.dirname(cache)
    there = os.stat(cache).st_dev
    if here == there or (here, there) in repo.warned_copies:
        return
    repo.warned_copies.add((here, there))
    links = " or ".join("a hard link" if t == "hardlink" else "a reflink" for t in types)
    log.warning("'%s' stays a copy of its own, and the cache holds a second copy: cache.type is "
                "%s, and %s cannot join two filesystems, while '%s' is on the one mounted at %s "
                "and the cache (%s) on the one mounted at %s. Set cache.dir to a folder on the "
                "first, or cache.type to symlink, or to %s,copy to keep the copies without "
                "this warning.", rel, ",".join(types), links, rel, fsutil.mount_point(full),
                repo.cache.root, fsutil.mount_point(repo.cache.root), ",".join(types))


def _warn_open_for_writing(rel: str, link_type: str) -> None:
    log.warning("'%s' is open for writing in another program: it was stored as a copy and left "
                "as it is, not %s, so that what the program writes next stays in it. `dvx "
                "status` shows such writes as changes; `dvx checkout --relink` links it once "
                "the program is done with it.", rel,
                "replaced by a symlink to the cached object" if link_type == "symlink"
                else "made a hard link to the cached object")


def _refuse_unstorable(repo: Repo, full: str, rel: str, scan: Walk) -> None:
    """Refuse (PathError) a directory `scan` of `full` finds what dvx cannot track in: a
    symlink of one's own, a FIFO, socket or device, a name a manifest cannot record, a
    pointer file, another repository's `.git` or `.dvx`."""
    if scan.reserved:
        raise repository_inside_error(rel, f"{rel}/{scan.reserved[0]}")
    for link in scan.symlinks:
        link_path = join_posix(full, link)
        if repo.cache.object_for_symlink(os.path.realpath(link_path)) is None:
            raise untrackable_link_error(repo, link_path, f"{rel}/{link}")
    if scan.others:
        raise PathError(f"'{rel}/{scan.others[0]}' is not a regular file, which dvx "
                        "cannot track.", "Move it out of the directory.")
    for entry in scan.files:
        check_entry_name(entry.relpath, rel)
        if entry.relpath.endswith(POINTER_SUFFIX):
            raise PathError(f"'{rel}/{entry.relpath}' is a dvx pointer file inside the directory "
                            f"'{rel}'.", "Remove the inner pointer first, or add the parts "
                            "separately.")


def check_storable(repo: Repo, rels: Iterable[str], new: Collection[str] = ()
                   ) -> dict[str, Scanned]:
    """Refuse now (PathError), before any of the targets `rels` is stored, what storing a
    directory among them would refuse part-way, an unreadable file or folder included: a
    refusal half-way would leave objects of the others in the cache that no pointer names
    (taken for data a checkout may replace), and in hardlink mode files made read-only links
    into the cache with nothing tracked. The walk of each directory checked, for `prepare`
    to store it by: storing walks it anyway. `new`: those of `rels` not tracked yet, whose
    unreadable files are named with no word of moving them out of tracked data."""
    scans: dict[str, Scanned] = {}
    for rel in rels:
        full = repo.abspath(rel)
        try:
            top = os.lstat(full)
        except (FileNotFoundError, NotADirectoryError):  # a file of the user's where a folder goes
            continue
        if not stat.S_ISDIR(top.st_mode):
            continue
        try:
            scanned = Scanned(top, walk_directory(full, with_dirs=True))
        except PermissionError as exc:
            raise unreadable_found(repo.root, exc, rel,
                                   inside=False if rel in new else None) from None
        scan = repo.dvxignore.filter_walk(rel, scanned.walk)
        _refuse_unstorable(repo, full, rel, scan)
        euid = os.geteuid()
        for entry in scan.files:
            if not _readable(entry.stat, euid) and not os.access(entry.path, os.R_OK):
                path = f"{rel}/{entry.relpath}"
                raise unreadable_error(from_here(repo.root, path), inside=rel not in new,
                                       path=path)
        scans[rel] = replace(scanned, checked=scan)
    return scans


def _readable(st: os.stat_result, euid: int) -> bool:
    """Is a file so described readable by the user `euid` as far as its owner's mode bits
    tell (they are the owner's access, ACLs or not)? False: ask access(2)."""
    return st.st_uid == euid and bool(st.st_mode & stat.S_IRUSR)


def _walked_paths(full: str, walk: Walk) -> set[str]:
    """The paths of the files and symbolic links that `walk`, of the directory `full`, found."""
    return {entry.path for entry in walk.files} | {join_posix(full, link) for link in walk.symlinks}


STORE_AT_ONCE = 65_536  # small files stored per round (see `_ingest_directory`)


def _ingest_directory(repo: Repo, full: str, rel: str, linked: list[Linked],
                      recorded: Container[str] = (), was: Tree | None = None,
                      scanned: Scanned | None = None, unread: Collection[str] = ()
                      ) -> tuple[Tree, Fingerprint, list[ToLink]]:
    """The directory's manifest, with its files stored, its fingerprint as it was before
    anything was read (any change made while adding moves it, so a stat-cache record made
    with it can only ever vouch for the content that was actually stored), and its files to
    become symlinks; each file storing makes a hard link (`Linked`) is added to `linked` as
    soon as it is one (threads add their own; a worker process's come back with its
    results, or are found by their inodes if it is stopped first). `was`: its
    recorded manifest; `scanned`: its walk, if taken already (before anything was read);
    `unread`: the files to leave out, unread (relative paths)."""

    def was_oid(relpath: str) -> str | None:
        entry = was.get(relpath) if was is not None else None
        return entry.oid if entry is not None else None

    if scanned is None:
        scanned = Scanned(os.lstat(full), walk_directory(full, with_dirs=True))
    top_stat, scan_before = scanned.top, scanned.walk
    fingerprint = fingerprint_of_walk(top_stat, scan_before)
    scan_before = repo.dvxignore.filter_walk(rel, scan_before, recorded)
    if scan_before.temps:
        remove_temporaries(full, scan_before.temps,
                           {e.relpath for e in scan_before.files} | set(scan_before.symlinks))
    if scan_before is not scanned.checked:  # the same walk, unless .dvxignore rules apply
        _refuse_unstorable(repo, full, rel, scan_before)
    if unread:
        scan_before = replace(scan_before,
                              files=[e for e in scan_before.files if e.relpath not in unread],
                              symlinks=[link for link in scan_before.symlinks
                                        if link not in unread])
    entries: list[TreeEntry] = []
    to_link: list[ToLink] = []
    # Small files are mostly system calls, which only worker processes spread over the cores;
    # large ones mostly hashing and copying, which threads do (both release the GIL).
    small = [e for e in scan_before.files if e.stat.st_size < SMALL_FILE]
    large = [e for e in scan_before.files if e.stat.st_size >= SMALL_FILE]
    link_types = repo.link_types
    # Files storing links are given back after a stop: the work on them is waited for.
    links = "hardlink" in link_types
    with repo.progress.task(f"Adding {rel}", len(scan_before.files)) as advance, \
            _naming_files_left_linking(repo):

        def store_small(entry: WalkEntry) -> tuple[StoredFile, StatKey | None]:
            """`_store_file`, and the stat its object is newly known intact with
            (`LocalCache.new_record`: a worker's records die with it)."""
            stored = _store_file(repo, entry.path, entry.stat, link_types)
            return stored, repo.cache.new_record(stored.oid)

        reported: set[str] = set()  # the small files whose results came back

        def take_link(entry: WalkEntry, result: tuple[StoredFile, StatKey | None]) -> None:
            """As each small file's result comes back: a link it made is to give back."""
            reported.add(entry.path)
            if result[0].linked is not None:
                linked.append(result[0].linked)

        repo.statcache.load()  # read once here, shared by the workers
        repo.statcache.forget_missing_below(full, _walked_paths(full, scanned.walk))
        for start in range(0, len(small), STORE_AT_ONCE):
            some = small[start:start + STORE_AT_ONCE]
            # The objects of unchanged files are marked used, and stay known intact
            # (`LocalCache.refresh`): what is known of them is read once for the round.
            repo.cache.known_stats.read_objects(
                oid for e in some if (oid := repo.statcache.get(e.path, e.stat)) is not None)
            try:
                stored = map_in_processes(store_small, some, advance, size_of=walked_size,
                                          on_result=take_link, finish_on_stop=links)
            except BaseException:
                # A worker process stopped midway took its report of the files it was on
                # with it: those it made links are found by their inodes.
                with stops_held():
                    linked.extend(_left_by_stopped_workers(
                        repo, [e for e in some if e.path not in reported]))
                raise
            for entry, (file, known) in zip(some, stored, strict=True):
                if known is not None:
                    repo.cache.add_record(file.oid, known)
                _note_changed_object(repo, entry.stat, file.oid, was_oid(entry.relpath),
                                     f"{rel}/{entry.relpath}")
                if file.seen is not None:
                    repo.statcache.put_key(entry.path, file.seen, file.oid)
                entries.append(TreeEntry(entry.relpath, file.oid, file.size, file.executable))
                if file.to_symlink:
                    to_link.append(ToLink(entry.path, file.oid, file.size,
                                          stat_key(entry.stat)))

        def ingest(entry: WalkEntry) -> tuple[TreeEntry, StatKey | None]:
            oid, size, executable, seen, linked_file = _ingest_file(
                repo, entry.path, f"{rel}/{entry.relpath}", entry.stat,
                was_oid=was_oid(entry.relpath))
            if linked_file is not None:  # here: a stop drops the results not yet taken
                linked.append(linked_file)
            advance(1)
            return TreeEntry(entry.relpath, oid, size, executable), seen

        with contextlib.closing(map_in_threads(ingest, large, size_of=walked_size,
                                               finish_on_stop=links)) as done:
            for entry, (tree_entry, seen) in zip(large, done, strict=True):
                entries.append(tree_entry)
                if seen:
                    to_link.append(ToLink(entry.path, tree_entry.oid, tree_entry.size, seen))
    for link in scan_before.symlinks:
        link_path = join_posix(full, link)
        oid, size, executable, seen, linked_file = _ingest_file(repo, link_path,
                                                                f"{rel}/{link}")
        entries.append(TreeEntry(link, oid, size, executable))
        if seen:  # taken back from a changed object
            to_link.append(ToLink(link_path, oid, size, seen))
        if linked_file is not None:
            linked.append(linked_file)
    return Tree.build(repo.algo, with_recorded_exec_bits(repo, rel, entries)), fingerprint, \
        to_link
