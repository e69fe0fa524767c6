"""dvx status: how the workspace and the cache differ from what the pointers record."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from dvx import get_scratch, gitignore
from dvx.errors import (
    DvxError,
    FormatError,
    LockError,
    PathError,
    UnreadableError,
    unreadable_error,
)
from dvx.fsutil import FileChangedError, describe, too_long_here
from dvx.history import (
    brought_by_git,
    commit_recording,
    recorded_at,
    recorded_by_git,
    recorded_in_stash,
    recorded_lately,
)
from dvx.lockfile import LOCK_FILE, uncached_paths
from dvx.logs import get_logger, quoted
from dvx.objects.tree import Tree, TreeEntry
from dvx.ops.data_places import (
    data_among,
    first_within,
    held_by_git_within,
    not_ignored,
    own_gitignores_left,
    submodules_within,
    warn_ignored_by_git,
)
from dvx.ops.kept_for_left_out import left_out_inside
from dvx.ops.sync_layers import (
    compare_with_layers,
    dvx_s_data_inside,
    holds_what_was_placed,
    placed_by_dvx,
    records_a_file,
    version_tree,
)
from dvx.ops.tree_compare import Differences, compare_folders, compare_with_tree, held_as_alike
from dvx.outputs import Output, Target, load_tree, pointers_left_out, tracked_data_left_out
from dvx.paths import (
    Fingerprint,
    Walk,
    fingerprint_directory,
    folders_above,
    for_command,
    from_here,
    join_posix,
    walk_directory,
)
from dvx.pointer import Pointer, WrongCounts
from dvx.repo import Repo
from dvx.scm import Git, find_git_root, literal_pathspec
from dvx.syncstate import Synced, placed_here
from dvx.workspace import (
    FileState,
    file_state,
    reads_named,
    repository_anywhere_inside,
    repository_inside,
    scan_directory,
    stale_link_oid,
    temporaries_beside,
    temporaries_inside,
    too_long_error,
    unreadable_found,
    warn_untrackable,
)

if TYPE_CHECKING:
    from dvx.lock import StoppedCommand

log = get_logger(__name__)

UNCHANGED, MODIFIED, DELETED = "unchanged", "modified", "deleted"
# The pointer moved in Git since this workspace was synced, and the workspace still holds what
# it was synced to: the data the pointer names must be fetched (`dvx checkout`, `dvx pull`).
OUTDATED = "outdated"
# Absent, and never placed in this workspace (a fresh clone, a teammate's new data): not a
# deletion; `dvx pull` brings it.
NOT_PULLED = "not_pulled"
# What the pointer records, through symbolic links to the objects of another dvx cache, as a
# repository moved or copied with cache.type symlink keeps: `dvx checkout --relink` links
# them to this repository's cache.
LINKED_ELSEWHERE = "linked_elsewhere"
# A directory holding the `.git` or `.dvx` of another repository (a clone, a submodule, a dvx
# project: `OutputStatus.repository_inside`), whose files are that one's: checkout leaves it as
# it is, --force or not, and commit refuses it, a commit without targets too. So is such a
# folder standing where a tracked file goes.
HOLDS_REPOSITORY = "holds_repository"
# Where the pointer of a directory outdated in part changed when it did not move since the
# workspace was synced, but HEAD records other data (`OutputStatus.moved_in_workspace`)
WRITTEN_HERE = ("here, not committed yet (a `dvx add` or `dvx commit` that kept files as "
                "the pointer named them, say)")


@dataclass(frozen=True)
class MissingVersion:
    """A version of a directory the workspace was synced to whose manifest is no longer in
    the cache (deleted by hand, the cache cleared)."""
    path: str  # the directory
    oid: str
    parts: tuple[str, ...]  # what of it that version placed (repo paths)
    commit: str | None  # a commit HEAD was at lately that records it
    record_file: str  # its pointer file, or dvx.lock

    def fetch_command(self, root: str) -> str:
        """How to fetch it again, named from where the user is."""
        parts = " ".join(for_command(root, part) for part in self.parts)
        if self.commit is not None:
            return f"`dvx fetch --rev {self.commit[:10]} {parts}`"
        file = literal_pathspec(from_here(root, self.record_file))
        return (f"`dvx fetch --rev REV {parts}`, REV a commit whose {self.record_file} names "
                f"{self.oid} (`git log -p -- {file}` shows them)")


@dataclass
class OutputStatus:
    path: str
    kind: str
    # UNCHANGED, MODIFIED, DELETED, OUTDATED, NOT_PULLED, LINKED_ELSEWHERE or HOLDS_REPOSITORY
    workspace: str
    in_cache: bool  # the recorded data (and, for a directory, all of its files) is cached
    added: list[str] = field(default_factory=list)
    modified: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    not_pulled: list[str] = field(default_factory=list)  # never placed here: not deletions
    # Files of a directory placed in part at its newer version that still hold the older
    # version they were synced to (its newer parts are not checked out): not changes.
    outdated: list[str] = field(default_factory=list)
    pointer_oid: str = ""
    synced_oid: str | None = None  # set when the pointer moved since the workspace was synced
    # That move is not Git's (HEAD records other data than the pointer): a stash applied, the
    # pointer file checked out or edited (`moved_in_workspace`); or one back to HEAD's pointer
    # from the user's own version, which no commit records (`own_version_undone`). Of a
    # directory outdated in part whose pointer did not move since (`outdated`, no
    # `synced_oid`): the pointer was written here and not committed (a `dvx add` or `dvx
    # commit` that kept files as the pointer named them, newer than the workspace holds)
    moved_in_workspace: bool = False
    # The pointer is HEAD's again, and the workspace still holds data of the user's own
    # version of it, which `git stash`, `git reset --hard` or `git checkout -- X.dvx` undid
    own_version_undone: bool = False
    # That version of the pointer is in the latest stash: `git stash pop` brings it back
    stashed: bool = False
    # Of a directory whose own version was undone: the workspace holds it whole (placed or
    # recorded here whole), so `dvx add --force` (`commit --force`) records it again as it is
    own_version_whole: bool = False
    current_oid: str | None = None  # what the workspace holds, when known and not the pointer's
    # The stopped `dvx exp apply` (as named) that wrote its record, moved off HEAD's, and had
    # not checked out the data yet: the cause status names, not a stash or a `dvx add`
    applying: str | None = None
    pushed: bool = True  # False: a `push: false` stage output, which no remote holds
    stage: str | None = None  # the pipeline stage whose output it is
    # An import: `dvx update` fetches the version its source has now, this data while the
    # source has not moved on
    imported: bool = False
    # Files of a directory changed both here and in Git since they were placed (a conflict)
    conflicts: list[str] = field(default_factory=list)
    # Its pointer arrived in Git where nothing was tracked (`brought_by_git`: a pull, a merge,
    # a checkout) over data of the user's own that no dvx placed here (no sync record): what
    # the workspace holds and differs from it, a file or a directory's files present on both
    # sides (`conflicts`), changed both here and in Git, which no commit records over it
    # without --force
    brought_over_own: bool = False
    # A directory whose pointer moved, compared file by file with the versions placed before
    # (ops/sync_layers.py): `synced_oid` is set only for a conflict, or when nothing changed here
    by_file: bool = False
    # A directory changed here whose pointer moved in Git to a version whose manifest is not
    # in the cache: which changes are whose cannot be told until it is fetched
    new_manifest_missing: bool = False
    # A directory changed here whose pointer moved, whose record keeps as many versions as
    # dvx tracks (syncstate.MAX_LAYERS: many partial pulls): which changes are whose cannot
    # be told until a full `dvx pull` places the pointer's version
    past_versions_kept: bool = False
    # A directory whose pointer moved, when the manifest of a version it was synced to before
    # (that oid) is no longer in the cache: which of its files changed here cannot be told
    synced_manifest_missing: MissingVersion | None = None
    # Not in the cache, but the workspace holds all of it, unchanged (the cache was deleted,
    # say): `dvx commit` stores it again, where `dvx pull` needs a remote that has it
    only_in_workspace: bool = False
    # Of an outdated output, the files (repo paths) holding an older version the cache no
    # longer has (gc deleted it): checkout keeps them, a pull replaces them if the remote
    # holds that version
    outdated_not_cached: list[str] = field(default_factory=list)
    # Of a directory, the temporaries an interrupted dvx left in it (`temporaries_inside`):
    # named apart, never data
    temporaries: list[str] = field(default_factory=list)
    # Of a directory, the folders a get builds in found in it (repo paths), never data:
    # status names those a killed get left (`_interrupted_gets`)
    scratch_folders: list[str] = field(default_factory=list)
    # Of a directory, its symbolic links that lead nowhere (relpaths): into the cache
    # (cache.type symlink), to an object deleted since, they hold none of its data
    dangling_links: tuple[str, ...] = ()
    # HOLDS_REPOSITORY: the `.git` or `.dvx` found in the folder (a repository path)
    repository_inside: str | None = None
    # Of a modified output, the files (repo paths) changed through their link into the cache
    # (`changed_in_its_object`): the cache no longer holds the version recorded for them, so
    # `checkout --force` cannot put it back; `pull --force` fetches it if a remote has it
    changed_in_cache: list[str] = field(default_factory=list)
    # What its pointer file records wrongly of the data its oid names (its size, its number
    # of files), as a stat of the file tells, or the directory's manifest when read anyway
    wrong_counts: WrongCounts | None = None
    # Of a directory, its deleted files where a folder stands holding a file .dvxignore
    # leaves out of the data (`left_out_inside`), with that file: no checkout replaces it
    kept_for_left_out: list[tuple[str, str]] = field(default_factory=list)
    # Of a directory, its deleted files a killed `dvx get --force` moved aside into its
    # folder's `old` (get_scratch.moved_aside): never deletions, which `dvx commit` refuses
    # to record; shown apart from `deleted`, which holds them too
    moved_aside: list[str] = field(default_factory=list)
    # Of a directory, its deleted files or files not pulled where a folder stands holding a
    # folder a killed `dvx get --force` left with what it moved aside (`old`), which no
    # checkout replaces, --force or not: (that file, that get's folder as a repository path,
    # the name of the path the get replaced beside it, "" when not known)
    kept_for_a_get: list[tuple[str, str, str]] = field(default_factory=list)
    # Of a file or a directory absent whole: a killed `dvx get --force` moved it aside into
    # its folder's `old` (get_scratch.moved_aside), as `moved_aside` says of a directory's
    # files: no deletion, nor data never pulled
    moved_aside_whole: bool = False
    # Of a directory, the folders in it (repository paths) of the user's named as the folder
    # a get builds in (`get_scratch.named_folders`), whose files are listed as added: `dvx
    # commit` and `dvx add` refuse the directory while it holds one (`check_entry_name`)
    named_as_a_get_s: list[str] = field(default_factory=list)
    # Of a file where a folder stands: the folder in it (a repository path) a killed `dvx get
    # --force` left holding what it moved aside, which dvx never deletes: checkout leaves the
    # folder as it is, --force or not, until that is moved out of it
    get_folder_inside: str | None = None
    # The name of the path that get replaced, beside its folder ("" when not known)
    get_replaced: str = ""

    @property
    def deleted_here(self) -> list[str]:
        """The deleted files but those moved aside: what status says is deleted."""
        aside = set(self.moved_aside)
        return [rel for rel in self.deleted if rel not in aside]

    @property
    def changed(self) -> bool:
        """The workspace does not hold what the pointer records, all of it, with it cached
        (files not pulled count: the data is not all there, cached or not), or the pointer
        records its size or number of files wrongly."""
        return self.workspace != UNCHANGED or not self.in_cache or bool(self.not_pulled) \
            or self.wrong_counts is not None

    @property
    def in_the_way(self) -> list[str]:
        """Of a directory, the paths in it of the user's own, with changes not in the cache,
        where files not pulled go (a folder where a file goes, a file where a folder goes):
        a checkout or a pull keeps them and skips those files, a `--force` discards them."""
        changed = set(self.added + self.modified)
        around_changed = {parent for path in changed for parent in folders_above(path)}
        return sorted({path for path in self.not_pulled if path in around_changed}
                      | {parent for path in self.not_pulled for parent in folders_above(path)
                         if parent in changed})

    def stands_in_place_of(self, path: str) -> str:
        """What the `in_the_way` path `path` stands where: "file" (a folder of the user's
        where a file not pulled goes) or "folder" (a file of the user's where files not
        pulled go inside)."""
        return "file" if path in self.not_pulled else "folder"

    def ways_past_in_the_way(self, root: str) -> str:
        """How the files not pulled are placed where the `in_the_way` paths stand: moved
        away first, then a checkout (a pull, where the cache lacks them: a checkout places
        nothing the cache lacks) places them all; or a forced one of those paths alone
        discards them (of the directory, it would discard the user's other changes in it
        too), but for a folder holding a file .dvxignore leaves out (`kept_for_left_out`),
        which every checkout keeps: only moving it away gets past it. The one wording of
        status's hint and of commit's and add's refusal."""
        verb = "checkout" if self.in_cache else "pull"
        it = "it" if len(self.in_the_way) == 1 else "them"
        ways = (f"move {it} away, then `dvx {verb} {for_command(root, self.path)}` places "
                "them all")
        left_out = dict(self.kept_for_left_out)
        forced = [path for path in self.in_the_way if path not in left_out]
        if forced:
            typed = " ".join(for_command(root, join_posix(self.path, path)) for path in forced)
            ways += (f", or `dvx {verb} --force {typed}` discards "
                     f"{'it' if len(forced) == 1 else 'them'}")
        kept = [path for path in self.in_the_way if path in left_out]
        if kept:
            one = len(kept) == 1
            folders = ", ".join(quoted(f"{self.path}/{path}") for path in kept)
            ways += (f"; checkout keeps {folders}, "
                     f"--force or not: {'it holds' if one else 'they hold'} "
                     f"{', '.join(repr(left_out[path]) for path in kept)}, which .dvxignore "
                     "leaves out of the data")
        return ways

    @property
    def pointer_moved(self) -> bool:
        return self.synced_oid is not None or self.brought_over_own

    @property
    def moved_where(self) -> str:
        """Where the pointer moved since the workspace was synced, as messages say it: never
        "in Git" (a teammate's change, to a user) for the user's own uncommitted one."""
        if self.applying is not None:
            return f"by the stopped {self.applying}"
        if self.own_version_undone:
            return "outside a commit (a stash, a reset, the pointer file checked out)"
        if self.brought_over_own:
            return "in Git, over data of yours no dvx placed here"
        if not self.moved_in_workspace:
            return "in Git"
        return ("outside a commit (a stash applied, the pointer file checked out or edited)"
                if self.pointer_moved else WRITTEN_HERE)

    @property
    def moved_since_synced(self) -> str:
        """`moved_where` with when, as messages say it: "... since this workspace was
        synced", but not of a pointer written here, which synced the workspace (it moved
        before, not since)."""
        where = self.moved_where
        return where if where == WRITTEN_HERE or self.brought_over_own \
            else f"{where} since this workspace was synced"

    @property
    def record_name(self) -> str:
        """What messages call the record naming its data: a stage's is in dvx.lock."""
        return "pointer" if self.stage is None else "dvx.lock entry"

    def to_json(self) -> dict[str, object]:
        doc: dict[str, object] = {"path": self.path, "type": self.kind,
                                  "workspace": self.workspace, "in_cache": self.in_cache,
                                  "pointer_oid": self.pointer_oid, "synced_oid": self.synced_oid,
                                  "moved_in_workspace": self.moved_in_workspace,
                                  "own_version_undone": self.own_version_undone,
                                  "stashed": self.stashed,
                                  "brought_over_own": self.brought_over_own,
                                  "only_in_workspace": self.only_in_workspace,
                                  "outdated_not_cached": self.outdated_not_cached,
                                  "changed_in_cache": self.changed_in_cache,
                                  "wrong_counts": None if self.wrong_counts is None
                                  else self.wrong_counts.to_json()}
        if self.kind == "dir":
            doc.update(added=self.added, modified=self.modified, deleted=self.deleted_here,
                       moved_aside=self.moved_aside, moved_aside_whole=self.moved_aside_whole,
                       named_as_a_get_s=self.named_as_a_get_s,
                       not_pulled=self.not_pulled, outdated=self.outdated,
                       in_the_way=self.in_the_way,
                       kept_for_left_out=[{"path": rel, "left_out": left_out}
                                          for rel, left_out in self.kept_for_left_out],
                       kept_for_a_get=[{"path": rel, "get_folder": folder}
                                       for rel, folder, _ in self.kept_for_a_get],
                       repository_inside=self.repository_inside)
        else:
            # The keys a directory's has: paths below the entry's, the file itself being ""
            doc.update(moved_aside=[""] if self.moved_aside_whole else [],
                       moved_aside_whole=self.moved_aside_whole)
            if self.repository_inside is not None:  # a folder where the file goes
                doc.update(repository_inside=self.repository_inside)
            if self.get_folder_inside is not None:
                doc.update(get_folder_inside=self.get_folder_inside)
        return doc


@dataclass
class StatusResult:
    outputs: list[OutputStatus]
    # Data whose pointer (or dvx.lock entry) left Git, still in the workspace: (path, why it
    # is kept, or None when checkout removes it, whether a stage's dvx.lock entry recorded it,
    # whether Git's rules still ignore it)
    left_behind: list[tuple[str, str | None, bool, bool]] = field(default_factory=list)
    # Of those, the ones whose pointer (or dvx.lock entry) a stash entry holds, `git stash`
    # of an uncommitted `dvx add` having taken it: {path: that entry, 0 the latest}
    left_in_stash: dict[str, int] = field(default_factory=dict)
    # Of those, the directories that now hold paths Git or dvx track ({path: those paths}):
    # only the files beside them are the user's to delete or track
    left_beside_tracked: dict[str, list[str]] = field(default_factory=dict)
    # Data an earlier run placed that a stage of dvx.yaml now declares but dvx.lock does not
    # record yet (an output moved to a stage that has not run): (path, that stage)
    unrecorded: list[tuple[str, str]] = field(default_factory=list)
    # Temporary files an interrupted dvx command left beside the outputs (never data)
    temporaries: list[str] = field(default_factory=list)
    # Tracked data in the workspace that Git does not ignore (its .gitignore entry is gone,
    # or a `!` rule takes it back in: those in `taken_back`, {path: that rule})
    unignored: list[str] = field(default_factory=list)
    taken_back: dict[str, str] = field(default_factory=dict)
    # Tracked data that Git's index holds too ({path: the first path of it there}): put
    # into Git with `git add -f`, Git versions the data itself
    tracked_by_git: dict[str, str] = field(default_factory=dict)
    # Of those, the ones at or in which Git's index holds a submodule ({path: the first
    # submodule}): Git versions it as one, and `git rm --cached` would unregister it
    submodules: dict[str, str] = field(default_factory=dict)
    # dvx's own .gitignore files an add deleted inside the data it tracked, whose removal
    # Git's index has still to record (`git rm --cached`): no data Git holds, but a commit
    # without that removal keeps them in Git, and a checkout by Git puts them in the data
    own_gitignores_in_git: list[str] = field(default_factory=list)
    # The pointers Git's index holds that the sparse checkout leaves out, of the paths named
    # (all, with none named): the data is tracked still, and what is on disk there is
    # compared with nothing
    left_out: list[str] = field(default_factory=list)
    # Commands stopped before they finished (killed) while they changed tracked paths,
    # whatever the targets: what they left half-done may show nowhere else (an add killed
    # between its .gitignore entry and its pointer leaves a file Git ignores and dvx does
    # not track), so each counts as a change
    stopped: list[StoppedCommand] = field(default_factory=list)
    # dvx.lock and the `cache: false` outputs it records that Git ignores and does not track
    # ({path: the rule}): said in a warning, as `git add -A` leaves them out of a commit
    ignored_by_git: dict[str, str] = field(default_factory=dict)
    # The folders killed `dvx get`s left: (path, whether it holds what was at the path the
    # get replaced, the user's, which dvx never deletes)
    interrupted_gets: list[tuple[str, bool]] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return (any(o.changed for o in self.outputs) or bool(self.left_behind)
                or bool(self.unrecorded) or bool(self.unignored) or bool(self.tracked_by_git)
                or bool(self.own_gitignores_in_git) or bool(self.stopped))

    def to_json(self) -> dict[str, object]:
        return {"changed": self.changed, "outputs": [o.to_json() for o in self.outputs],
                "left_behind": [{"path": p, "removable": why is None, "kept_because": why,
                                 "stage_output": stage_output, "ignored_by_git": ignored,
                                 "in_stash": self.left_in_stash.get(p),
                                 "tracked_inside": self.left_beside_tracked.get(p, [])}
                                for p, why, stage_output, ignored in self.left_behind],
                "unrecorded": [{"path": p, "stage": stage} for p, stage in self.unrecorded],
                "temporaries": self.temporaries, "unignored": self.unignored,
                "taken_back_by_rule": self.taken_back,
                "tracked_by_git": sorted(self.tracked_by_git), "submodules": self.submodules,
                "own_gitignores_in_git": self.own_gitignores_in_git,
                "left_out": self.left_out,
                "pipeline_files_ignored_by_git": self.ignored_by_git,
                "interrupted_gets": [{"path": p, "holds_former": former}
                                     for p, former in self.interrupted_gets],
                "stopped": [{"command": s.command, "pid": s.pid, "host": s.host,
                             "record": f".dvx/tmp/{s.record}", "ended_by_error": s.by_error}
                            for s in self.stopped]}


def status(repo: Repo, targets: list[Target], named: list[str] | None = None
           ) -> StatusResult:
    """`named`: the repository paths the user named (None: none, the whole project), whose
    pointers the sparse checkout leaves out are named too (`StatusResult.left_out`)."""
    stopped = _stopped_commands(repo)
    results = [r for r in (_status_or_why_not(repo, t.output) for t in targets)
               if r is not None]
    repo.statcache.flush()
    if not stopped:
        _record_what_is_in_sync(repo)
    _name_a_stopped_apply(results, stopped)
    held = held_by_git_within(repo, sorted({t.output.path for t in targets}))
    tracked = first_within(data_among(repo, held))
    changes = _on_tracked_paths(stopped)
    beside = [t.output.path for t in targets] + _paths_worked_on(repo, changes)
    unignored = {p: rule for p, rule in _unignored(repo, targets).items() if p not in tracked}
    inside = [path for r in results for path in r.temporaries]
    return StatusResult(results, temporaries=_temporaries(repo, beside, inside),
                        unignored=list(unignored),
                        taken_back={p: rule for p, rule in unignored.items() if rule},
                        tracked_by_git=tracked,
                        submodules=submodules_within(repo, sorted(tracked)),
                        own_gitignores_in_git=own_gitignores_left(repo, held),
                        left_out=_left_out(repo, named),
                        stopped=changes,
                        ignored_by_git=_pipeline_records_ignored(repo) if named is None else {},
                        interrupted_gets=_interrupted_gets(repo, results, named is None))


def _interrupted_gets(repo: Repo, results: list[OutputStatus], whole: bool
                      ) -> list[tuple[str, bool]]:
    """The folders killed `dvx get`s left in the workspace (dvx/get_scratch.py), each named
    in a warning, with whether it holds what was at the path it replaced: status takes no
    lock, so it deletes nothing. Those inside tracked directories, or holding a tracked path
    moved aside, come from status's own look at the outputs (`results`); the others from Git,
    of the work tree holding the project (a project in a folder of one, `core.no_scm`,
    included), never entering a folder Git ignores: a get into one (no tracked data there)
    is found by the next get there, not by every status. Not `whole` (status of some paths):
    only those of the outputs in `results`, in them or replacing a path at or above one. A
    folder of the user's named as a get's is named too (`_named_as_a_get_s`): inside tracked
    data, always; outside it, by a status of the whole project."""
    inside = {repo.abspath(path) for r in results for path in r.scratch_folders}
    listed = _scratch_folders_git_lists(repo)
    users = [(path, False) for path in get_scratch.users_at(listed)] if whole else []
    users += [(repo.abspath(path), True) for r in results for path in r.named_as_a_get_s]
    for path, in_tracked_data in users:
        shown = from_here(repo.root, os.path.relpath(path, repo.root).replace(os.sep, "/"))
        log.warning("WARNING: %s", _named_as_a_get_s(shown, in_tracked_data))
    if not whole:
        listed = [folder.path for folder in get_scratch.left_at(listed)
                  if _replaced_in(folder, [repo.abspath(r.path) for r in results])]
    left = get_scratch.left_at(sorted({*listed, *inside}))
    for folder in left:
        shown = from_here(repo.root, os.path.relpath(folder.path, repo.root).replace(os.sep, "/"))
        if folder.holds_former:
            log.warning("WARNING: %s", get_scratch.what_to_do(folder, shown))
        else:
            log.warning("%s", _partial_copy_left(shown, folder.path in inside))
    return [(os.path.relpath(f.path, repo.root).replace(os.sep, "/"), f.holds_former)
            for f in left]


def _replaced_in(folder: get_scratch.LeftFolder, outputs: list[str]) -> bool:
    """Did the get that left `folder` replace one of `outputs` (absolute paths), a path in
    one or a folder holding one?"""
    target = folder.target
    return bool(target) and any(
        target == out or target.startswith(out + os.sep) or out.startswith(target + os.sep)
        for out in outputs)


def _named_as_a_get_s(shown: str, in_tracked_data: bool = False) -> str:
    """The warning for a folder of the user's named as a get's scratch folder: outside
    tracked data Git ignores that name (`gitignore.GET_SCRATCH_PATTERN`) and `dvx add`
    refuses it, so nothing versions what is in it; inside a tracked directory status lists
    its files as added, and `dvx commit` and `dvx add` refuse the whole directory while it
    is there. The name is quoted (`quoted`): a folder name Git commits may hold terminal
    escapes."""
    what = f"{quoted(shown)} is named as the folder `dvx get` builds its copy in, but holds " \
        "what no get puts there: "
    if in_tracked_data:
        return what + ("dvx never records a folder so named in a directory's data, so `dvx "
                       "commit` and `dvx add` refuse the directory holding it, with its other "
                       "changes. Rename the folder.")
    return what + ("Git ignores a folder so named and `dvx add` refuses it, so nothing "
                   "versions what is in it. Rename the folder.")


def _partial_copy_left(shown: str, in_tracked_data: bool) -> str:
    """What becomes of a killed get's partial copy: the next get or import into its folder
    removes it, but never inside tracked data (`imports._ours_to_remove`), where a folder so
    named could be the data's."""
    what = f"{quoted(shown)} is the partial copy of an interrupted `dvx get`, never data: "
    if in_tracked_data:
        return what + ("inside tracked data no get removes it (its files could be the "
                       "data's), so it stays until you delete it.")
    return what + "the next `dvx get` or `dvx import` into its folder removes it, or delete it."


def _scratch_folders_git_lists(repo: Repo) -> list[str]:
    """The folders named as a get's scratch folder Git finds outside the folders it ignores
    (absolute paths); none without Git."""
    around = _git_around(repo)
    if around is None:
        return []
    git, under = around
    try:
        found = git.untracked_folders_named(get_scratch.PREFIX, under)
    except DvxError as exc:
        log.debug("interrupted gets not looked for: %s", exc)
        return []
    return [os.path.join(git.root, rel) for rel in found]


def _git_around(repo: Repo) -> tuple[Git, str] | None:
    """The Git work tree holding the project, with the project's folder in it ("" at its
    top); None without one (nor for a project below its top that dvx refuses)."""
    if repo.git is not None:
        return repo.git, ""
    if repo.below_the_top_of_git():
        return None
    top = find_git_root(repo.root)
    if top is None:
        return None
    under = os.path.relpath(repo.root, top).replace(os.sep, "/")
    return Git(top), "" if under == "." else under


def _pipeline_records_ignored(repo: Repo) -> dict[str, str]:
    """dvx.lock and the `cache: false` outputs it records, of those Git ignores and does not
    track, each warned of (`warn_ignored_by_git`). A dvx.lock that cannot be read is said
    elsewhere."""
    try:
        uncached = uncached_paths(repo.read_lock())
    except DvxError:
        uncached = set()
    return warn_ignored_by_git(repo, [LOCK_FILE, *sorted(uncached)], written=False)


def _left_out(repo: Repo, named: list[str] | None) -> list[str]:
    """The pointer files Git's index holds that the sparse checkout leaves out: all of them
    (dvx.lock too) with no path `named`, else those tracking a named path or data inside
    one."""
    if named is None:
        return pointers_left_out(repo)
    found = tracked_data_left_out(repo, named)
    return sorted({pointer for left_out in found.values() for pointer in left_out.pointers})


def _stopped_commands(repo: Repo) -> list[StoppedCommand]:
    """The writing commands killed half-way, each said in a warning, so that they are run
    again."""
    from dvx.lock import stopped_commands

    stopped = stopped_commands(repo.tmp_dir)
    for each in stopped:
        log.warning("%s", each.notice)
    return stopped


def _name_a_stopped_apply(results: list[OutputStatus], stopped: list[StoppedCommand]) -> None:
    """Mark the outputs whose record moved off HEAD's outside Git, when an `exp apply` was
    stopped (the latest, if more were): it writes the experiment's dvx.lock and pointers
    before it places their data, so it left them so, not a stash or a `dvx add`. One whose
    record is HEAD's again (`own_version_undone`) is not the apply's doing."""
    from dvx.lock import EXPERIMENT

    applying = next((each.named for each in stopped
                     if each.work is not None and each.work.state == EXPERIMENT), None)
    if applying is None:
        return
    for result in results:
        if result.moved_in_workspace and not result.own_version_undone:
            result.applying = applying


def _on_tracked_paths(stopped: list[StoppedCommand]) -> list[StoppedCommand]:
    """Those of the stopped commands that were changing tracked paths (add, commit, remove,
    move, checkout, pull, exp apply, exp save), which may leave what no state shows (a file
    Git ignores and no pointer tracks yet): each is a change. What the others left shows
    elsewhere (a repro's stages are stale) or is no tracked path's (a gc's cache): they are
    warnings only."""
    return [each for each in stopped if each.work is not None and each.work.on_tracked_paths]


def _paths_worked_on(repo: Repo, stopped: list[StoppedCommand]) -> list[str]:
    """The paths in this repository that the stopped commands named (as repository paths):
    beside them are the temporaries of the pointers and .gitignore files they were writing,
    where no pointer may lead status yet (an add killed before its first pointer)."""
    named = [path for each in stopped if each.work is not None
             for path in each.work.paths or ()]  # None: every tracked path, the outputs
    relative = (os.path.relpath(path, repo.root) for path in named)
    return [rel.replace(os.sep, "/") for rel in relative
            if rel != os.curdir and rel.split(os.sep)[0] != os.pardir]


def _record_what_is_in_sync(repo: Repo) -> None:
    """Record the paths found holding what their pointers record that had no record of what
    the workspace was synced to (dvx/syncstate.py), so that a pointer `git pull` moves later
    is told from a change made here. Status waits for no one: with the lock held by another
    command, or a repository it may not write, that is left to the next command."""
    if not repo.syncstate.noted_in_sync:
        return
    try:
        # Writing one file whole: killed, status leaves nothing half-done to name
        with repo.lock(wait=False, only_whole_writes=True):
            repo.syncstate.flush(required=True)  # raised, not warned about: see above
    except (LockError, OSError) as exc:
        log.debug("what is in sync not recorded: %s", exc)


def _unignored(repo: Repo, targets: list[Target]) -> dict[str, str | None]:
    """The tracked data in the workspace that Git does not ignore, each with the `!` rule
    that takes it back in, if one does (`not_ignored`). Data below a .gitignore dvx may not
    read is left out, as Git passes over that file: the file is named at the end
    (`Repo.unreadable`), never its entries as gone."""
    present = sorted({t.output.path for t in targets
                      if os.path.lexists(repo.abspath(t.output.path))})
    unread = gitignore.unreadable_on_the_way(repo.root, present)
    for ignore_file in sorted(set(unread.values())):
        repo.unreadable.setdefault(ignore_file, unreadable_error(
            from_here(repo.root, ignore_file), inside=False, path=ignore_file))
    return not_ignored(repo, [path for path in present if path not in unread])


def _temporaries(repo: Repo, paths: list[str], inside: list[str]) -> list[str]:
    """The temporaries an interrupted command left beside `paths` (the outputs, and those
    stopped commands named), and those found `inside` tracked directories, named in a
    warning: status takes no lock, so it cannot tell them from a running command's and
    leaves them to the next command that writes there (Git ignores them:
    Repo.exclude_temporaries)."""
    found = sorted(set(os.path.relpath(path, repo.root)
                       for path in [*temporaries_beside(repo.root, paths), *inside]))
    for path in found:
        log.warning("'%s' is a temporary file of a dvx command (one that was interrupted, or "
                    "one running now), never data: the next `dvx checkout` or `dvx add` of "
                    "the data it is beside or in removes it.", path)
    return found


def _status_or_why_not(repo: Repo, output: Output) -> OutputStatus | None:
    """One output's status; a path dvx will not read (a symbolic link, a special file, where
    the data was) is modified, said in a warning, and the other outputs are still reported.
    So is one that changed while it was read: it is being written to. One with a file or
    folder dvx may not read is left out, and named at the end (`Repo.unreadable`: the
    command then exits with status 1), as an unreadable pointer is; so is a directory whose
    manifest is invalid (a path with '..', say) or damaged in the cache, under its pointer
    file, as fetch, pull and checkout skip it (`outputs.without_invalid_manifests`)."""
    try:
        result = output_status(repo, output)
    except FormatError as exc:
        repo.unreadable.setdefault(output.record_file, exc)
        return None
    except PathError as exc:
        warn_untrackable(repo, exc)
    except FileChangedError as exc:
        log.info("'%s' changed while it was read: %s", output.path, describe(exc))
    except UnreadableError as exc:
        repo.unreadable[exc.path] = exc
        return None
    except PermissionError as exc:  # one `reads_named` could not name: no path, an ACL, EPERM
        found = unreadable_found(repo.root, exc, output.path)
        repo.unreadable[found.path] = found
        return None
    else:
        _name_paths_too_long(repo, result)
        return result
    return OutputStatus(output.path, "dir" if output.pointer.is_dir else "file", MODIFIED,
                        repo.cache.exists(output.pointer.oid), pointer_oid=output.pointer.oid)


def _name_paths_too_long(repo: Repo, result: OutputStatus) -> None:
    """The files of `result` absent because their full path is longer than the system takes
    (a clone under a longer folder): no checkout can place them there, so each is named at
    the end with why, as an unreadable file is (`Repo.unreadable`), not only as not pulled."""
    if result.kind == "dir":
        absent = [f"{result.path}/{rel}" for rel in result.not_pulled + result.deleted]
    else:
        absent = [result.path] if result.workspace in (NOT_PULLED, DELETED) else []
    for path in absent:
        if too_long_here(repo.abspath(path)):
            repo.unreadable.setdefault(path, too_long_error(path))


def _linked_to_another_cache(repo: Repo, output: Output) -> OutputStatus | None:
    """The status of an output that holds what its pointer records only through symbolic
    links to the objects of another dvx cache (`stale_link_oid`), which dvx reads nothing
    through: LINKED_ELSEWHERE, or None if it holds anything else. A directory whose
    manifest is not in the cache is judged by its pointer's count of files."""
    pointer = output.pointer
    full = repo.abspath(output.path)
    status = OutputStatus(output.path, "dir" if pointer.is_dir else "file", LINKED_ELSEWHERE,
                          repo.cache.exists(pointer.oid), pointer_oid=pointer.oid)
    if os.path.islink(full):
        return status if not pointer.is_dir and stale_link_oid(repo, full) == pointer.oid \
            else None
    if not pointer.is_dir or not os.path.isdir(full):
        return None
    tree = load_tree(repo, pointer, output.recorded_in)
    elsewhere: dict[str, str | None] = {}  # repo-relative path: the oid its link names

    def untrackable(where: str, _: PathError) -> None:
        path = repo.abspath(where)
        elsewhere[where] = stale_link_oid(repo, path) if os.path.islink(path) else None

    try:
        scanned = scan_directory(repo, full, output.path, recorded=tree or (),
                                 on_untrackable=untrackable)
    except (PathError, OSError):  # said by the warning that status gives it then
        return None
    if tree is None:
        return status if _only_links_elsewhere(pointer, scanned, elsewhere) else None
    held = {path: (entry.oid, entry.executable) for path, entry in scanned.items()}
    for where, oid in elsewhere.items():
        if oid is None:
            return None
        held[where[len(output.path) + 1:]] = (oid, False)
    if held != {e.path: (e.oid, e.executable) for e in tree.entries}:
        return None
    status.in_cache = _all_files_cached(repo, pointer.oid, tree)
    return status


def _only_links_elsewhere(pointer: Pointer, scanned: dict[str, TreeEntry],
                          elsewhere: dict[str, str | None]) -> bool:
    """Does a directory whose manifest this cache lacks (a repository copied without its
    cache) hold links to another dvx cache's objects only, as many as its pointer records?
    What each stands for cannot be checked without the manifest, but links hold no change
    `dvx commit` could record: `dvx pull` fetches the manifest, and the relink follows."""
    return (not scanned and bool(elsewhere) and None not in elsewhere.values()
            and pointer.nfiles in (None, len(elsewhere)))


def output_status(repo: Repo, output: Output) -> OutputStatus:
    """The output's status. UnreadableError naming a file or folder of it dvx may not read;
    PathError for a path dvx will not read (a symbolic link of the user's, a special file),
    unless it holds what the pointer records through links to
    another dvx cache's objects (LINKED_ELSEWHERE)."""
    synced = synced_record(repo, output)
    try:
        with reads_named(repo.root, output.path):
            result = _status_against(repo, output, synced)
    except PathError:
        elsewhere = _linked_to_another_cache(repo, output)
        if elsewhere is None:
            raise
        return elsewhere
    if synced is None and result.workspace == UNCHANGED and not result.not_pulled:
        # Not with files never pulled here: a whole record would make them deletions.
        repo.syncstate.note_in_sync(output.path, _record_of(output.pointer),
                                    in_lock=output.stage is not None)
    elif synced is None and result.workspace == MODIFIED:
        earlier = _synced_earlier(repo, output, result)
        if earlier is not None:
            result = earlier[1]
        elif _placed_for_pointers_gone(repo, output, result):
            result = replace(result, workspace=OUTDATED, added=[], modified=[], deleted=[])
        else:
            _note_brought_over_own(repo, output, result)
    if result.pointer_moved or result.workspace == OUTDATED or result.outdated:
        result.moved_in_workspace = moved_in_workspace(repo, output)
        synced_oid = result.synced_oid
        if not result.moved_in_workspace and synced_oid is not None:
            result.own_version_undone = result.moved_in_workspace = own_version_undone(
                repo, output, synced_oid)
            result.stashed = result.own_version_undone and _stash_holds(repo, output, synced_oid)
            result.own_version_whole = result.own_version_undone and synced is not None \
                and synced.placed is None
    if result.workspace == OUTDATED or result.outdated:
        result.outdated_not_cached = _outdated_not_cached(repo, output)
    if result.workspace == MODIFIED:
        result.changed_in_cache = _changed_in_cache(repo, output, result)
    _note_kept_for_left_out(repo, output, result)
    if result.deleted:
        result.moved_aside = sorted(get_scratch.moved_aside(repo.abspath(output.path),
                                                            result.deleted))
    elif result.workspace in (DELETED, NOT_PULLED):
        _note_moved_aside_whole(repo, result)
    if result.added:
        result.named_as_a_get_s = [join_posix(output.path, rel) for rel in
                                   get_scratch.named_folders(result.added)]
    if output.pointer.is_dir and result.in_cache:
        result.in_cache = _cached_for_checkout(repo, output, result)
    if output.stage is None and output.pointer.is_dir and (
            holds_pointers_data(result) or result.workspace in (DELETED, NOT_PULLED)):
        # Not of other data there (the user's, an older version): it says nothing of the pointer
        result.wrong_counts = _wrong_counts_of_directory(repo, output.pointer)
    return result


def _note_brought_over_own(repo: Repo, output: Output, result: OutputStatus) -> None:
    """Sets `brought_over_own` (and of a directory, `conflicts`) of `result`, the status of
    data changed here with no record of what the workspace was synced to, if Git brought its
    pointer lately (`brought_by_git`) over what the workspace holds differing from it: a
    file, or a directory's files both hold (a directory's files only one side holds are an
    addition here, kept, or a teammate's, not pulled). Data of the user's own put where a
    pointer already was (files put by hand into a folder never pulled, in a fresh clone) is
    not: HEAD recorded that pointer all along; nor data where an earlier version was
    tracked, which may be an edit of it. Not of a stage's output, which a run makes."""
    if output.stage is not None or (output.pointer.is_dir and not result.modified):
        return
    if brought_by_git(repo, output.path, output.pointer):
        result.brought_over_own = True
        result.conflicts = list(result.modified)


def _note_moved_aside_whole(repo: Repo, result: OutputStatus) -> None:
    """Sets `moved_aside_whole` of `result`, a file or directory absent whole, if a killed
    `dvx get --force` moved it aside, with the get's folder among `scratch_folders`, which
    status names in a warning with the `mv` that puts it back, whether or not Git lists that
    folder, and whatever paths status was given."""
    aside = get_scratch.moved_aside(repo.root, [result.path]).get(result.path)
    if aside is not None:
        result.moved_aside_whole = True
        result.scratch_folders = [os.path.relpath(aside.path, repo.root).replace(os.sep, "/")]


def _cached_for_checkout(repo: Repo, output: Output, result: OutputStatus) -> bool:
    """Does the cache hold, each looked for, the files a checkout of the directory `output`
    would place (`_placed_by_checkout`)? A manifest once found complete is taken as complete
    until gc or fsck start a new cache generation (`is_complete_tree`), which an object
    deleted by hand meanwhile does not: status would then hint a checkout that places
    nothing, where a pull is the way. So whatever status names as a checkout's to place is
    looked for, a stat each; a directory that holds its data costs nothing more, unless a
    symbolic link in it leads nowhere (`dangling_links`): one into the cache (cache.type
    symlink) to an object deleted since holds none of its data, which a pull brings back."""
    placing = _placed_by_checkout(result)
    if result.workspace == UNCHANGED and result.dangling_links:
        return False
    if placing is not None and not placing:
        return True
    tree = load_tree(repo, output.pointer, output.recorded_in)
    if tree is None:
        return False
    if placing is None:
        oids = [entry.oid for entry in tree.entries]
    else:
        recorded = tree.by_path()
        oids = [recorded[rel].oid for rel in placing if rel in recorded]
    return not repo.cache.missing(oids)


def _placed_by_checkout(result: OutputStatus) -> list[str] | None:
    """The files (relative to the directory) a checkout of the directory `result` names
    would place: those absent, changed or outdated; None for all of them (absent whole, a
    file where it goes, or changed as a whole, its manifest compared by oid); none for a
    folder holding another repository, which checkout leaves as it is."""
    if result.workspace == HOLDS_REPOSITORY:
        return []
    files = [*result.deleted, *result.not_pulled, *result.modified, *result.outdated]
    return files if result.workspace == UNCHANGED or result.added else files or None


def _note_kept_for_left_out(repo: Repo, output: Output, result: OutputStatus) -> None:
    """Sets `kept_for_left_out` of `result`, a directory's status, from its files absent
    (deleted, or not pulled)."""
    if result.deleted or result.not_pulled:
        result.kept_for_left_out = _kept_for_left_out(
            repo, output, [*result.deleted, *result.not_pulled])
        result.kept_for_a_get = _kept_for_a_get(
            repo, output, [*result.deleted, *result.not_pulled])


def _kept_for_a_get(repo: Repo, output: Output, absent: list[str]
                    ) -> list[tuple[str, str, str]]:
    """Of the files `absent` from the directory `output`, those where a folder stands that
    holds a folder a killed `dvx get --force` left with what it moved aside, which checkout
    never deletes (`checkout._get_folder_kept_why`), each with that get's folder (the first,
    by name; a repository path) and the name of the path it replaced."""
    full = repo.abspath(output.path)
    kept = []
    for rel in _folders_standing(full, absent):
        folder = join_posix(full, rel)
        scratch = walk_directory(folder).scratch
        left = [each for each in get_scratch.left_at([join_posix(folder, s) for s in scratch])
                if each.holds_former]
        if left:
            first = min(left, key=lambda each: each.path)
            inside = os.path.relpath(first.path, folder).replace(os.sep, "/")
            kept.append((rel, f"{output.path}/{rel}/{inside}", os.path.basename(first.target)))
    return kept


def _kept_for_left_out(repo: Repo, output: Output, absent: list[str]) -> list[tuple[str, str]]:
    """Of the files `absent` from the directory `output` (deleted, or not pulled), those where
    a folder stands that a checkout keeps, --force or not, for a file in it .dvxignore leaves
    out of the data (as `_dir_in_the_way` of checkout finds it), each with that file. Only
    an absent file's path is looked at, and the folder holding it once: files not pulled by
    whole folders cost a look per folder."""
    full = repo.abspath(output.path)
    dvx_s = None
    kept = []
    for rel in _folders_standing(full, absent):
        if dvx_s is None:
            dvx_s = dvx_s_data_inside(repo, output.path, output.stage is not None)
        folder = join_posix(full, rel)
        left_out = left_out_inside(repo, f"{output.path}/{rel}", walk_directory(folder), dvx_s)
        if left_out is not None:
            kept.append((rel, left_out))
    return kept


def _folders_standing(full: str, rels: list[str]) -> list[str]:
    """Of the paths `rels` in the directory `full`, those where a folder (never a link to
    one) stands; a path whose parent folder is absent is not looked at itself."""
    parents: dict[str, bool] = {"": True}
    found = []
    for rel in rels:
        parent = rel.rpartition("/")[0]
        if parent not in parents:
            parents[parent] = _is_folder(join_posix(full, parent))
        if parents[parent] and _is_folder(join_posix(full, rel)):
            found.append(rel)
    return found


def _is_folder(path: str) -> bool:
    return os.path.isdir(path) and not os.path.islink(path)


def holds_pointers_data(result: OutputStatus) -> bool:
    """Does the workspace hold the data the pointer names, nothing of the user's in the way?
    Only then does `dvx commit` write a pointer recording it wrongly again from that data,
    where otherwise it would fail (deleted, not pulled) or record other data (the user's,
    or an older version over a change in Git)."""
    return result.workspace == UNCHANGED and not result.in_the_way


def _wrong_counts_of_directory(repo: Repo, pointer: Pointer) -> WrongCounts | None:
    """What the pointer records wrongly of its directory, if this command read its manifest
    (never read for this alone: a directory that last matched its pointer is not listed)."""
    tree = repo.loaded_trees.get((pointer.algo, pointer.oid))
    return None if tree is None else pointer.wrong_counts(*tree.recorded_counts())


def _changed_in_cache(repo: Repo, output: Output, result: OutputStatus) -> list[str]:
    """The files of the modified `output` changed through their link into the cache
    (`changed_in_its_object`). Only the files found modified are looked at: an unchanged
    output costs nothing more."""
    pointer = output.pointer
    if not pointer.is_dir:
        found = changed_in_its_object(repo, output.path, pointer.oid)
        return [output.path] if found else []
    tree = load_tree(repo, pointer, output.recorded_in) if result.modified else None
    recorded = {} if tree is None else tree.by_path()
    return [join_posix(output.path, rel) for rel in result.modified if rel in recorded
            and changed_in_its_object(repo, join_posix(output.path, rel), recorded[rel].oid)]


def changed_in_its_object(repo: Repo, path: str, oid: str) -> bool:
    """Is the file at `path` (a repo path) the cache's object `oid` itself, through a hard
    link or a symbolic link to it, and does it hold other bytes than `oid` now? Then an edit
    in place wrote the object: the cache no longer holds that version (checkout would move
    the object aside and place nothing), and only a remote can give it back."""
    full = repo.abspath(path)
    try:
        if not os.path.samestat(os.stat(full), os.stat(repo.cache.oid_path(oid))):
            return False
        state = file_state(repo, full, path)  # hashed already, by this status
    except (PathError, OSError):
        return False
    # A link whose changed inode was set aside holds bytes the object's path no longer does
    return state is not None and state.kept_in is None and state.oid != oid


def _outdated_not_cached(repo: Repo, output: Output) -> list[str]:
    """The files of the outdated `output` that a checkout would replace or delete, holding a
    version dvx placed or recorded there whose bytes the cache no longer has (so it keeps
    them, as `checkout._replaceable` does); an edit made here is a change, not one of them."""
    full = repo.abspath(output.path)
    is_dir = os.path.isdir(full) and not os.path.islink(full)
    if output.pointer.is_dir != is_dir:
        return []  # a file where a directory goes, or the other way: not sorted out here
    if not is_dir:
        paths = [output.path]
    else:
        tree = load_tree(repo, output.pointer, output.recorded_in)
        try:
            current = scan_directory(repo, full, output.path, recorded=tree or ())
        except PathError:
            return []
        wanted = {} if tree is None else tree.by_path()
        paths = sorted(join_posix(output.path, rel) for rel, entry in current.items()
                       if (rel not in wanted) or wanted[rel].oid != entry.oid)
    return holding_uncached_versions(repo, paths, output.pointer.oid)


def holding_uncached_versions(repo: Repo, paths: list[str], pointer_oid: str | None = None
                              ) -> list[str]:
    """Those of the files at `paths` (repo paths) that hold a version dvx placed or recorded
    there whose bytes the cache no longer has, other than `pointer_oid`: the workspace holds
    their only copy here, so a checkout keeps them and a commit records them, never the
    pointer's version over them."""
    found = []
    for path in paths:
        try:
            state = file_state(repo, repo.abspath(path), path)
        except PathError:
            continue
        if state is not None and state.holds_its_own_bytes and not state.dangling \
                and state.oid != pointer_oid and not repo.cache.exists(state.oid) \
                and placed_by_dvx(repo, path, state.oid):
            found.append(path)
    return found


def moved_in_workspace(repo: Repo, output: Output) -> bool:
    """Is the pointer's data other than what Git records for it (recorded_by_git: HEAD's
    commit's, or, inside a merge, cherry-pick, revert or rebase Git stopped on a conflict,
    what it brings)? Then a move of the pointer since the workspace was synced is not Git's
    (a pull, a merge or a checkout of a commit runs a hook, and brings HEAD's pointer) but
    one in the workspace that no hook sees: a stash applied (`git stash pop`, `git pull
    --autostash` re-applying an uncommitted `dvx add` after the hooks checked out HEAD's
    data), `git checkout -- X.dvx`, an edit. Of data `dvx move` moved to a path Git records
    nothing for yet, what Git records for the path it was moved from. False when Git cannot
    say."""
    in_lock = output.stage is not None
    try:
        recorded = recorded_by_git(repo, output.path, in_lock=in_lock)
        synced = repo.syncstate.get(output.path)
        if not recorded and synced is not None and synced.moved_from is not None:
            recorded = recorded_by_git(repo, synced.moved_from, in_lock=in_lock)
    except DvxError:
        return False
    return _record_of(output.pointer) not in [_record_of(pointer) for pointer in recorded]


def synced_record(repo: Repo, output: Output) -> Synced | None:
    """The record the workspace's data at the output's path is compared with: what it was
    synced to (dvx/syncstate.py); but of the user's own version, taken back by Git's undo
    (`_own_version_taken_back`) before Git brought another pointer (`git pull` after `git
    stash`), the version it was written over (`written_over`). Then the workspace holds a
    change made here, and the pointer one made in Git, as after any change made on both
    sides; never merely an undone version of the user's, which recorded again would undo
    Git's change."""
    synced = repo.syncstate.get(output.path)
    if synced is None or synced.placed is not None or synced.oid == output.pointer.oid:
        return synced
    over = written_over(repo, output, synced)
    if over is None or over == _record_of(output.pointer) \
            or not _own_version_taken_back(repo, output, synced.oid):
        return synced
    return over


def written_over(repo: Repo, output: Output, synced: Synced) -> Synced | None:
    """The record of what HEAD's commit recorded for the output when `synced` was written
    (its `head`): for the user's own version, the version it was written over. None when the
    record names no commit, or that commit records none (or Git no longer has it)."""
    if synced.head is None:
        return None
    pointer = recorded_at(repo, synced.head, output.path, in_lock=output.stage is not None)
    return None if pointer is None else _record_of(pointer)


def own_version_undone(repo: Repo, output: Output, synced_oid: str) -> bool:
    """Is the pointer HEAD's, moved back to it from a version the workspace was synced to
    (`synced_oid`) that none of the commits HEAD was at lately recorded: the user's own, of an
    uncommitted `dvx add`, undone by `git stash`, `git reset --hard` or `git checkout --
    X.dvx`, which move no HEAD and run no hook? Not Git's move, a pull's or a checkout's of a
    commit, which brings the pointer of a commit HEAD was at; nor one after which Git
    brought another pointer than the one the user's version was written over (`git pull`
    after `git stash`: `synced_record`). False when Git cannot say."""
    if not _own_version_taken_back(repo, output, synced_oid):
        return False
    synced = repo.syncstate.get(output.path)
    if synced is None or synced.oid != synced_oid or synced.head is None:
        return True  # a record that names no commit: what HEAD's pointer was is unknown
    return written_over(repo, output, synced) == _record_of(output.pointer)


def _own_version_taken_back(repo: Repo, output: Output, synced_oid: str) -> bool:
    """Is the pointer HEAD's, and `synced_oid` a version none of the commits HEAD was at
    lately recorded, with a pointer file or in dvx.lock (`_recorded_lately_either_way`): the
    user's own, which Git's undo took back? False when Git cannot say."""
    in_lock = output.stage is not None
    try:
        recorded = recorded_by_git(repo, output.path, in_lock=in_lock)
    except DvxError:
        return False
    if _record_of(output.pointer) not in [_record_of(pointer) for pointer in recorded]:
        return False
    return all(pointer.oid != synced_oid for pointer in _recorded_lately_either_way(
        repo, output.path, in_lock))


def _recorded_lately_either_way(repo: Repo, path: str, in_lock: bool) -> list[Pointer]:
    """What the commits HEAD was at lately recorded for the data at `path` (`recorded_lately`),
    as it is tracked now (with `in_lock`, a stage's output in dvx.lock), then the other way:
    data moves between the two (a teammate drops a stage and `dvx add`s its folder, or makes
    a tracked folder a stage's output), and a version either way committed is Git's, one the
    workspace may hold after `git pull`, never the user's own."""
    found = recorded_lately(repo, path, in_lock=in_lock)
    return found + [pointer for pointer in recorded_lately(repo, path, in_lock=not in_lock)
                    if pointer not in found]


def moved_outside_a_commit(repo: Repo, output: Output, synced_oid: str) -> bool:
    """Did the pointer move away from `synced_oid` outside a commit (`moved_in_workspace`,
    `own_version_undone`), not in Git?"""
    return moved_in_workspace(repo, output) or own_version_undone(repo, output, synced_oid)


def _stash_holds(repo: Repo, output: Output, synced_oid: str) -> bool:
    """Does the latest stash hold the pointer of the version the workspace was synced to?"""
    stashed = recorded_in_stash(repo, output.path, in_lock=output.stage is not None)
    return stashed is not None and stashed.oid == synced_oid


def _record_of(pointer: Pointer) -> Synced:
    return Synced.whole(pointer.oid, pointer.is_dir, pointer.executable)


def synced_lately(repo: Repo, output: Output) -> Synced | None:
    """With no sync record for the output's path, the record status takes for one: the
    version HEAD's recent commits recorded that the workspace holds, its pointer having
    moved since (`_synced_earlier`), marked `found` (dvx may not have placed it). None if
    the path has a record, holds no such version, or cannot be read. A command that moves
    the data to another path records it there: Git's history of the new path tells
    nothing."""
    if repo.syncstate.get(output.path) is not None:
        return None
    try:
        first = _status_against(repo, output, None)
        earlier = _synced_earlier(repo, output, first) if first.workspace == MODIFIED else None
    except (PathError, OSError):  # nothing status would take for outdated either
        return None
    return None if earlier is None else replace(earlier[0], found=True)


def _synced_earlier(repo: Repo, output: Output, first: OutputStatus
                    ) -> tuple[Synced, OutputStatus] | None:
    """With no record of what the workspace was synced to (.dvx/tmp/synced.json deleted, or
    last synced by a dvx that kept none), a path that holds what its pointer recorded at one
    of HEAD's recent commits (before `git pull`, `git checkout` or `git merge` moved it) is
    outdated, as with that record: the data the pointer names must be fetched, never the
    older data recorded over it. That version's record and the path's status so, or None
    when it holds no such version (a change made here, which `commit` records). `first` is
    its status found changed with no record: only a version whose oid is that of what the
    workspace holds is looked at, and a directory is not listed again (a path changed here,
    which keeps no record, would otherwise have it listed again for each version on every
    status)."""
    versions = [record for record in (_record_of(earlier) for earlier in
                                      _recorded_lately_either_way(
                                          repo, output.path, in_lock=output.stage is not None))
                if record != _record_of(output.pointer)]
    held = _oid_held(repo, output, first) if versions else None
    for record in versions:
        if record.oid != held:
            continue
        if record.executable is None:  # a directory's version, held exactly: nothing to list
            return record, replace(first, workspace=OUTDATED, current_oid=held, synced_oid=held,
                                   added=[], modified=[], deleted=[])
        found = _status_against(repo, output, record)
        if found.workspace == OUTDATED:
            return record, found
    return None


def _placed_for_pointers_gone(repo: Repo, output: Output, first: OutputStatus) -> bool:
    """With no record of what the workspace was synced to at the output's path, which
    `first` (its status so) found changed: does it hold there only versions dvx placed for
    other pointers, of a folder around it or of paths inside it, that left Git as this one
    came (a merge of two overlapping pointers that kept one)? Then the pointer moved in Git
    and the workspace did not: nothing there is a change made here."""
    path = output.path
    if not any(path.startswith(other + "/") or other.startswith(path + "/")
               for other in repo.syncstate.paths()):
        return False  # no record of another pointer's data here: the directory is not listed
    full = repo.abspath(path)
    if not output.pointer.is_dir:
        held = first.current_oid
        return held is not None and placed_by_dvx(repo, path, held)
    if os.path.islink(full) or not os.path.isdir(full):
        return False
    tree = load_tree(repo, output.pointer, output.recorded_in)
    try:
        current = scan_directory(repo, full, path, recorded=tree or ())
    except (PathError, OSError):
        return False
    wanted = {} if tree is None else tree.by_path()
    changed = {rel: entry for rel, entry in current.items() if rel not in wanted
               or (wanted[rel].oid, wanted[rel].executable) != (entry.oid, entry.executable)}
    return bool(changed) and all(placed_by_dvx(repo, join_posix(path, rel), entry.oid)
                                 for rel, entry in changed.items())


def _oid_held(repo: Repo, output: Output, first: OutputStatus) -> str | None:
    """The oid of what the workspace holds at the output's path, which `first` (its status
    with no record) found changed: a file's is in `first`; a directory's manifest is built
    from the pointer's with the files `first` found added, modified and deleted, reading
    only those (from the stat cache). None when not known (unreadable, gone since)."""
    if first.current_oid is not None:
        return first.current_oid
    full = repo.abspath(output.path)
    is_dir = os.path.isdir(full) and not os.path.islink(full)
    try:
        if is_dir and output.pointer.is_dir:
            tree = load_tree(repo, output.pointer, output.recorded_in)
            return None if tree is None else _tree_oid_now(repo, output, tree, first)
        if is_dir:  # a directory where Git now has a file
            return _manifest_oid(repo, scan_directory(repo, full, output.path))
        state = file_state(repo, full, output.path)  # a file where Git now has a directory
    except PathError:
        return None
    return None if state is None else state.oid


def _tree_oid_now(repo: Repo, output: Output, tree: Tree, first: OutputStatus) -> str | None:
    """The oid of the directory's manifest as it is now: `tree` (its pointer's) with the
    changes `first` found, each file's entry as `scan_directory` makes it."""
    full = repo.abspath(output.path)
    entries = tree.by_path()
    for rel in first.deleted + first.not_pulled:
        entries.pop(rel, None)
    for rel in first.added + first.modified:
        state = file_state(repo, join_posix(full, rel), f"{output.path}/{rel}")
        if state is None:
            return None  # deleted since
        entries[rel] = TreeEntry(rel, state.oid, state.size,
                                 state.executable and not state.is_cache_link)
    return _manifest_oid(repo, entries)


def _status_against(repo: Repo, output: Output, synced: Synced | None) -> OutputStatus:
    """The output's status, `synced` being the record of what the workspace was synced to."""
    # The record of the data the workspace was synced to, if the pointer moved away from it.
    synced_before = synced if synced is not None and _moved_since(output.pointer, synced) \
        else None
    if output.pointer.is_dir:
        result = _dir_status(repo, output, synced, synced_before)
        if synced is not None and synced.base is not None and synced_before is None:
            _apply_layers(repo, output, result, synced)
        elif synced_before is not None and result.workspace == MODIFIED:
            result = _file_by_file(repo, output, synced_before) or result
            # Fetching it tells changes apart only in a directory synced here before.
            result.new_manifest_missing = not result.by_file \
                and not records_a_file(repo, synced_before) \
                and load_tree(repo, output.pointer, output.recorded_in) is None
            result.past_versions_kept = not result.by_file \
                and behind(synced_before, output.pointer) is None
    else:
        result = _file_status(repo, output, synced_before)
    result.pointer_oid = output.pointer.oid
    result.pushed = output.push
    result.stage = output.stage
    result.imported = output.pointer.source is not None
    if synced_before is not None and not result.by_file:
        result.synced_oid = synced_before.oid
    result.only_in_workspace = (not result.in_cache and result.workspace == UNCHANGED
                                and not result.not_pulled
                                and _holds_its_bytes(repo.abspath(output.path)))
    return result


def _holds_its_bytes(full: str) -> bool:
    """Does the data at `full`, found to be what its pointer records, hold its bytes: no cache
    link in it (cache.type symlink) leads to an object gone from the cache?"""
    if os.path.islink(full) or not os.path.isdir(full):
        return os.path.exists(full)
    return all(os.path.exists(join_posix(full, rel))
               for rel in walk_directory(full).symlinks)


def _file_by_file(repo: Repo, output: Output, synced_before: Synced) -> OutputStatus | None:
    """A directory changed here whose pointer moved in Git too, compared file by file three
    ways (ops/sync_layers.py), as if a checkout of the pointer's version had placed none of
    it: a file changed only in Git is outdated, one changed only here is a change of yours,
    and only one changed on both sides is a conflict. None when that cannot be told (the
    pointer's manifest is not in the cache, the record holds as many versions as it keeps,
    or it is a file's: a folder made where a file was holds no file a checkout placed)."""
    full = repo.abspath(output.path)
    if os.path.islink(full) or not os.path.isdir(full) \
            or records_a_file(repo, synced_before):
        return None
    record = behind(synced_before, output.pointer)
    if record is None or load_tree(repo, output.pointer, output.recorded_in) is None:
        return None
    return layered_status(repo, output, record)


def behind(synced: Synced, pointer: Pointer) -> Synced | None:
    """The record of a directory synced to `synced` whose pointer moved to `pointer` since:
    its version placed in no part over what was placed before (None: too many versions)."""
    return synced.moved_to(pointer.oid, ())


def layered_status(repo: Repo, output: Output, record: Synced) -> OutputStatus:
    """The status of a directory against the layered `record` (whose newest layer is the
    pointer's version): each file outside its placed parts compared three ways."""
    result = _dir_status(repo, output, record, None)
    _apply_layers(repo, output, result, record)
    _note_kept_for_left_out(repo, output, result)
    result.by_file = True
    if result.workspace == OUTDATED and result.synced_oid is None:
        result.synced_oid = next((layer.oid for layer in record.layers()
                                  if layer.oid != output.pointer.oid), None)
    return result


def _moved_since(pointer: Pointer, synced: Synced) -> bool:
    """Did the pointer change (in Git) since the workspace was synced to `synced`? For a
    file, a change of its executable bit alone counts."""
    return synced.oid != pointer.oid or (
        synced.executable is not None and not pointer.is_dir
        and synced.executable != pointer.executable)


def _holds_synced(state: FileState, synced: Synced) -> bool:
    """Does the file still hold what it was synced to, its mode too where that is known?"""
    return state.oid == synced.oid and (
        synced.executable is None or state.executable == synced.executable)


def _file_status(repo: Repo, output: Output, synced_before: Synced | None) -> OutputStatus:
    pointer = output.pointer
    full = repo.abspath(output.path)
    in_cache = repo.cache.exists(pointer.oid)
    walk = _folder_where_a_file_goes(full)
    inside = None if walk is None else repository_anywhere_inside(output.path, walk.reserved)
    if inside is not None:  # its files are another repository's: no change to record
        return OutputStatus(output.path, "file", HOLDS_REPOSITORY, in_cache,
                            repository_inside=inside)
    result = _file_status_by(repo, output, synced_before, in_cache)
    if walk is not None and walk.scratch:
        _note_get_folders_inside(repo, result, walk.scratch)
    return result


def _note_get_folders_inside(repo: Repo, result: OutputStatus, scratch: list[str]) -> None:
    """Sets `scratch_folders` of the file `result`, where a folder stands, to the get folders
    in it (`scratch`, relative to it), which status names in a warning (what a killed `get
    --force` moved aside with the `mv` that puts it back); and `get_folder_inside` to the
    first holding what a killed get moved aside, for which checkout leaves the folder."""
    result.scratch_folders = [f"{result.path}/{rel}" for rel in scratch]
    left = get_scratch.left_at([repo.abspath(path) for path in result.scratch_folders])
    holding = sorted(folder.path for folder in left if folder.holds_former)
    if holding:
        first = next(folder for folder in left if folder.path == holding[0])
        result.get_folder_inside = os.path.relpath(first.path, repo.root).replace(os.sep, "/")
        result.get_replaced = os.path.basename(first.target)


def _file_status_by(repo: Repo, output: Output, synced_before: Synced | None, in_cache: bool
                    ) -> OutputStatus:
    """`_file_status` of a file output where no folder holding a repository stands."""
    pointer = output.pointer
    full = repo.abspath(output.path)
    state = file_state(repo, full, output.path) if not os.path.isdir(full) else None
    result = OutputStatus(output.path, "file", UNCHANGED, in_cache)
    if state is None and not os.path.lexists(full):
        result.workspace = _absent(repo, output)
    elif state is not None and state.oid == pointer.oid and state.executable == pointer.executable:
        if output.stage is None and not state.dangling:  # its size, as a stat told it
            result.wrong_counts = pointer.wrong_counts(state.size, None)
    elif state is not None and synced_before is not None and _holds_synced(state, synced_before):
        result.workspace, result.current_oid = OUTDATED, state.oid
    elif state is None and synced_before is not None and _holds_synced_directory(
            repo, output.path, full, synced_before):  # before Git made it a file
        result.workspace, result.current_oid = OUTDATED, synced_before.oid
    else:
        result.workspace = MODIFIED
        result.current_oid = state.oid if state is not None else None
    return result


def _folder_where_a_file_goes(full: str) -> Walk | None:
    """The walk of the folder standing where a tracked file goes (None: no folder there), as
    checkout finds what it holds: a `.git` or `.dvx` whatever .dvxignore says of it
    (`repository_anywhere_inside`), or a get's folder; that folder would go whole, so
    checkout leaves it as it is, --force or not, while it holds either."""
    if os.path.islink(full) or not os.path.isdir(full):
        return None
    return walk_directory(full)


def _holds_synced_directory(repo: Repo, display: str, full: str, synced: Synced) -> bool:
    """Does the directory at `full` hold what it was synced to (its never-placed entries
    aside)? Known at once when its stat fingerprint matched that version, else listed."""
    if os.path.islink(full):
        return False
    if repo.statcache.get_dir(full, fingerprint_directory(full).digest) == synced.oid:
        return True
    try:
        current = scan_directory(repo, full, display)
    except PathError:  # a link or special file dvx did not make: not what it placed
        return False
    return _synced_oid_held(repo, current, synced) == synced.oid


def _holds_synced_file(repo: Repo, display: str, full: str, synced: Synced) -> bool:
    """Does the file at `full` hold what it was synced to, before Git made it a directory?"""
    try:
        state = file_state(repo, full, display)
    except PathError:  # a link or special file dvx did not make: not what it placed
        return False
    return state is not None and state.oid == synced.oid


def _absent(repo: Repo, output: Output) -> str:
    """An absent path was deleted, unless it was never pulled here (`never_placed`)."""
    return NOT_PULLED if never_placed(repo, output) else DELETED


def never_placed(repo: Repo, output: Output) -> bool:
    """Was the output's data, absent from the workspace, never placed here (a fresh clone, a
    teammate's new data: its sync record says so, or it names only versions of a directory
    whose checkout never finished, `Synced.placed_nothing`)? Then it is not pulled yet, not
    deleted."""
    synced = repo.syncstate.get(output.path)
    return synced is None or synced.placed_nothing


def not_pulled_whole(repo: Repo, output: Output, holds_data: bool) -> bool:
    """Is the folder `output`, standing in the workspace, not pulled yet, as a folder absent
    whole is? Only files dvx never tracks (a `.dvxignore` Git shares, say) stand where data
    never placed here goes (`holds_data` false, `never_placed`)."""
    return not holds_data and never_placed(repo, output)


def part_never_placed(repo: Repo, output: Output, files: Iterable[str]) -> bool:
    """Was none of `files` (inside the folder `output`) placed here at any version its sync
    record names? A pull of another part of the folder places none of them: that part is
    not pulled yet, as a folder `never_placed` is."""
    synced = repo.syncstate.get(output.path)
    return synced is None or all(synced.layer_for(path) is None for path in files)


def _dir_status(repo: Repo, output: Output, synced: Synced | None,
                synced_before: Synced | None) -> OutputStatus:
    full = repo.abspath(output.path)
    is_dir = os.path.isdir(full) and not os.path.islink(full)
    fingerprint = fingerprint_directory(full) if is_dir else None
    result = _dir_status_by(repo, output, synced, synced_before, fingerprint)
    if fingerprint is not None and fingerprint.temps:
        result.temporaries = temporaries_inside(repo, output.path, fingerprint.temps)
    if fingerprint is not None:
        result.scratch_folders = [f"{output.path}/{rel}" for rel in fingerprint.scratch]
        result.dangling_links = fingerprint.dangling
    return result


def _dir_status_by(repo: Repo, output: Output, synced: Synced | None,
                   synced_before: Synced | None, fingerprint: Fingerprint | None
                   ) -> OutputStatus:
    """`_dir_status`, given the directory's fingerprint (None: no directory is there)."""
    pointer = output.pointer
    full = repo.abspath(output.path)
    inside = None if fingerprint is None else \
        repository_inside(repo, output.path, fingerprint.reserved)
    if inside is not None:  # its files are another repository's: none is compared
        return OutputStatus(output.path, "dir", HOLDS_REPOSITORY, _dir_in_cache(repo, pointer),
                            repository_inside=inside)
    partial = synced is not None and synced.placed is not None  # listed, never short-cut
    if fingerprint is not None and not partial and repo.statcache.get_dir(
            full, fingerprint.digest) == pointer.oid:
        # Not a single stat has changed since this directory last matched the pointer.
        if repo.statcache.get_dir_parts(full, pointer.oid) is None:  # recorded by `add`
            repo.statcache.put_dir(full, fingerprint, pointer.oid, with_parts=True)
        return OutputStatus(output.path, "dir", UNCHANGED, _dir_in_cache(repo, pointer))
    tree = load_tree(repo, pointer, output.recorded_in)
    in_cache = tree is not None and _all_files_cached(repo, pointer.oid, tree)
    if not os.path.lexists(full):
        return OutputStatus(output.path, "dir", _absent(repo, output), in_cache)
    if fingerprint is None:
        if synced_before is not None and _holds_synced_file(repo, output.path, full,
                                                            synced_before):
            return OutputStatus(output.path, "dir", OUTDATED, in_cache,
                                current_oid=synced_before.oid)
        return OutputStatus(output.path, "dir", MODIFIED, in_cache)
    result = OutputStatus(output.path, "dir", UNCHANGED, in_cache)
    found = None if tree is None else _compare(repo, output.path, full, tree, pointer.oid,
                                               fingerprint, synced)
    if tree is not None and found is not None and not (found.changed
                                                       and synced_before is not None):
        result.added, result.modified = found.added, found.modified
        result.deleted, result.not_pulled = found.deleted, found.not_pulled
        if found.changed:
            result.workspace = MODIFIED
        elif not found.not_pulled:
            _remember_matched(repo, output, tree, fingerprint, with_parts=True)
        return result
    # Without the recorded manifest, or to tell an outdated directory from a changed one, the
    # directory's current entries are needed whole.
    current = scan_directory(repo, full, output.path, recorded=tree or ())
    if tree is None:  # without the recorded manifest, compare manifest oids
        if _links_to_lost_objects(full, current, pointer.nfiles):
            return result  # unchanged, as a file's link to a lost object is: not in cache
        result.current_oid = _manifest_oid(repo, current)
        if result.current_oid == pointer.oid:
            result.current_oid = None
        elif not_pulled_whole(repo, output, holds_data=bool(current)):
            result.current_oid = None
            result.workspace = NOT_PULLED
        else:
            result.workspace = MODIFIED
            _check_outdated(repo, result, current, synced_before)
        return result
    recorded = tree.by_path()
    for path, entry in current.items():
        old = recorded.get(path)
        if old is None:
            result.added.append(path)
        elif (old.oid, old.executable) != (entry.oid, entry.executable):
            result.modified.append(path)
    for path in recorded:
        if path not in current:
            deleted = placed_here(synced, path) and not held_as_alike(full, path, tree)
            (result.deleted if deleted else result.not_pulled).append(path)
    result.added.sort()
    result.modified.sort()
    if result.added or result.modified or result.deleted:
        result.workspace = MODIFIED
        _check_outdated(repo, result, current, synced_before)
    elif not result.not_pulled:
        _remember_matched(repo, output, tree, fingerprint)
    return result


def _remember_matched(repo: Repo, output: Output, tree: Tree, fingerprint: Fingerprint,
                      with_parts: bool = False) -> None:
    """Record in the stat cache that the directory matched its pointer's manifest `tree`,
    unless the pointer records its size or file count wrongly: the short cut this record
    allows reads no manifest, so it would no longer tell them (`wrong_counts`), and `dvx
    commit` would leave the pointer wrong."""
    pointer = output.pointer
    if output.stage is None and pointer.wrong_counts(*tree.recorded_counts()) is not None:
        return
    repo.statcache.put_dir(repo.abspath(output.path), fingerprint, pointer.oid,
                           with_parts=with_parts)


def _links_to_lost_objects(full: str, current: dict[str, TreeEntry], nfiles: int | None) -> bool:
    """Is the directory, its manifest gone from the cache, only links into the cache, as many
    as the pointer records, some to objects gone too (a `gc` of another repository sharing the
    cache)? Those links' sizes cannot be read, so no manifest can be built to compare; and a
    link holds no data, so nothing here is a change `dvx commit` could record."""
    links = [join_posix(full, rel) for rel in current]
    if nfiles is not None and len(links) != nfiles:
        return False
    return all(map(os.path.islink, links)) and not all(map(os.path.exists, links))


def _compare(repo: Repo, display: str, full: str, tree: Tree, tree_oid: str,
             fingerprint: Fingerprint, synced: Synced | None) -> Differences | None:
    """The directory against its manifest: only the folders whose own entries changed since
    it last matched (by their fingerprints), or all of it when that is not known."""
    before = None if synced is not None and synced.placed is not None else \
        repo.statcache.get_dir_parts(full, tree_oid)
    if before is None:
        return compare_with_tree(repo, full, display, tree, synced)
    now = fingerprint.parts
    changed = sorted({f for f, digest in now.items() if before.get(f) != digest}
                     | (before.keys() - now.keys()))
    return compare_folders(repo, full, display, tree, synced, changed)


def _apply_layers(repo: Repo, output: Output, result: OutputStatus, synced: Synced) -> None:
    """`result` of a directory placed in part over older versions, compared three ways
    (ops/sync_layers.py)."""
    tree = load_tree(repo, output.pointer, output.recorded_in)
    if tree is None:
        return
    found = compare_with_layers(repo, repo.abspath(output.path), output.path, tree, synced,
                                {"added": result.added, "modified": result.modified,
                                 "not_pulled": result.not_pulled})
    result.added, result.modified = found.added, found.modified
    result.not_pulled, result.outdated = found.not_pulled, found.outdated
    result.deleted = sorted(result.deleted + found.deleted)
    result.conflicts = found.conflicts
    if result.added or result.modified or result.deleted or found.conflict_with is not None:
        result.workspace = MODIFIED
    elif result.outdated:
        result.workspace = OUTDATED
    if found.missing is not None and result.workspace == MODIFIED:
        result.synced_manifest_missing = _missing_version(repo, output, found.missing)
        result.synced_oid = found.missing.oid  # `commit` refuses, naming it
    elif found.conflict_with is not None:
        result.synced_oid = found.conflict_with.oid  # `commit` refuses, naming both versions


def _missing_version(repo: Repo, output: Output, layer: Synced) -> MissingVersion:
    """The version `layer` of the directory `output`, whose manifest the cache lacks."""
    in_lock = output.stage is not None
    parts = tuple(join_posix(output.path, part) for part in layer.placed or ()) or (
        output.path,)
    return MissingVersion(output.path, layer.oid, parts,
                          commit_recording(repo, output.path, in_lock, layer.oid),
                          output.record_file)


def _check_outdated(repo: Repo, result: OutputStatus, current: dict[str, TreeEntry],
                    synced_before: Synced | None) -> None:
    """A changed directory that holds exactly what it was last synced to (its never-placed
    entries aside) is outdated, not modified: the pointer moved, the workspace did not."""
    if synced_before is None:
        return
    oid = _synced_oid_held(repo, current, synced_before)
    if oid == synced_before.oid:  # a layered record's data is no one version: no oid
        result.workspace = OUTDATED
        result.current_oid = oid if synced_before.base is None else None
        result.added, result.modified, result.deleted = [], [], []
    elif oid is not None:
        result.current_oid = oid


def _synced_oid_held(repo: Repo, current: dict[str, TreeEntry], synced: Synced) -> str | None:
    """`synced.oid` if the directory entries `current` hold what it was synced to (its
    never-placed entries aside), else the oid of what they hold, or None: not known, or
    not one version (a layered record). Unknown counts as a change, to be safe."""
    if synced.base is not None:
        return synced.oid if holds_what_was_placed(repo, current, synced) else None
    if records_a_file(repo, synced):  # no folder holds that version
        return _manifest_oid(repo, current)
    synced_tree = version_tree(repo, synced.oid)
    if synced_tree is None:
        return None  # what it was synced to is no longer known here
    entries = dict(current)
    for entry in synced_tree.entries:
        if entry.path not in entries and not synced.covers(entry.path):
            entries[entry.path] = entry
    return _manifest_oid(repo, entries)


def _dir_in_cache(repo: Repo, pointer: Pointer) -> bool:
    if repo.statcache.is_complete_tree(pointer.oid, repo.cache.generation()):
        return True
    tree = load_tree(repo, pointer)
    return tree is not None and _all_files_cached(repo, pointer.oid, tree)


def _manifest_oid(repo: Repo, entries: dict[str, TreeEntry]) -> str | None:
    try:
        return Tree.build(repo.algo, entries.values()).oid()
    except FormatError:
        return None  # names no manifest can hold: certainly not the recorded data


def _all_files_cached(repo: Repo, tree_oid: str, tree: Tree) -> bool:
    """Checked once per cache generation: objects only leave the cache through gc or fsck,
    which start a new generation."""
    generation = repo.cache.generation()
    if repo.statcache.is_complete_tree(tree_oid, generation):
        return True
    # The oids come from a validated manifest, so the path is built without re-checking them.
    exists = os.path.exists
    root = repo.cache.files_root + "/"
    if any(not exists(root + e.oid[:2] + "/" + e.oid[2:]) for e in tree.entries):
        return False
    repo.statcache.mark_complete_tree(tree_oid, generation)
    return True
