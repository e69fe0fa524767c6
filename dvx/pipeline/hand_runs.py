"""`dvx exp save` of stages run by hand: a stage whose outputs the workspace changed (its
command run outside dvx, or an output edited) is recorded as having run on the dependencies
and params the workspace has now, as DVC's `exp save` does, unless no run could have left the
workspace so. Every such stage is checked, and its outputs stored in the cache, before
anything is written: dvx.lock then records them all at once, or none."""

from __future__ import annotations

import posixpath

from dvx.errors import ConflictError, DvxError, Interrupted, UsageError
from dvx.lockfile import LOCK_FILE, LockedPath, StageLock
from dvx.logs import shell_quote
from dvx.objects.tree import Tree, TreeEntry
from dvx.ops.commit import (
    Linked,
    StoredInLock,
    ToLink,
    check_storable,
    given_back_unless_recorded,
    prepare,
    write_stage_outputs,
)
from dvx.ops.data_places import stage_for_git, tracked_by_git
from dvx.ops.staged_data import blob_oid_and_size
from dvx.ops.status import UNCHANGED, never_placed, output_status
from dvx.outputs import Output, in_cache
from dvx.paths import for_command
from dvx.pipeline.graph import Dag, load_dag
from dvx.pipeline.params import ParamsReader
from dvx.pipeline.spec import Out, Stage
from dvx.pipeline.staleness import StageState, compare_outs, out_state, stage_state
from dvx.pointer import Pointer
from dvx.repo import Repo
from dvx.scm import EXECUTABLE_MODE, REGULAR_MODE
from dvx.syncstate import Synced
from dvx.workspace import repository_inside_error


def check_hand_runs(repo: Repo) -> None:
    """Raise what `commit_hand_runs` would raise before it stores anything, writing nothing:
    for a command that writes more besides (`exp save`), which runs every check before any
    write."""
    dag = load_dag(repo)
    if dag is None:
        return
    chosen = _run_by_hand(repo, dag, repo.read_lock())
    check_storable(repo, [o.path for stage, _ in chosen for o in stage.outs if o.cache])


def outputs_changed_by_hand(repo: Repo) -> bool:
    """Has any stage of dvx.yaml, frozen or not, outputs the workspace changed against
    dvx.lock (run by hand, or edited), as `exp save` would record them? A run of the stages
    either overwrites them or, a frozen stage's, leaves them unrecorded. True too when that
    cannot be told (dvx.yaml or dvx.lock unreadable): the caller then promises nothing."""
    try:
        dag = load_dag(repo)
        if dag is None:
            return False
        locks = repo.read_lock()
        for stage in dag.stages.values():
            _, changed, outdated, conflicted, holding, _ = compare_outs(
                repo, stage, locks.get(stage.name))
            if (changed and not _only_not_pulled(repo, stage, locks, changed)) or \
                    outdated or conflicted or holding:
                return True
    except Interrupted:
        raise
    except DvxError:
        return True
    return False


def commit_hand_runs(repo: Repo) -> list[str]:
    """Record every stage whose outputs the workspace changed (run by hand, or edited) as
    having run on the dependencies and params the workspace has now: its cached outputs go
    into the cache and its dvx.lock entry names them with those inputs. The run-cache is not
    told (the stage's command did not make them). Refused, before anything is recorded,
    when such a stage lacks an output, a dependency or a param, or has outputs not checked
    out since dvx.lock moved in Git: no run leaves that; when any stage lacks an output its
    dvx.lock entry records (changed or not) that the experiment would drop
    (`_lost_outputs`); when an output was edited here while dvx.lock moved in Git
    (CONFLICTED_OUTS): it would be recorded as a run of the inputs Git brought; when an
    output cannot be stored (`prepare`); and when dvx.lock changed since it was read (a `git
    pull` meanwhile), checked again last before it is replaced (`_refuse_moved_lock`). Under
    core.autostage, dvx.lock is staged in Git with what it names that Git records (outputs
    with `cache: false`, the .gitignore entries of the others), as `repro` stages a run's;
    without it nothing is named for `git add`: the caller's commit (`exp save`) holds them.
    The stages recorded."""
    dag = load_dag(repo)
    if dag is None:
        return []
    with repo.lock(stages_in_git=True):
        locks = repo.read_lock()
        chosen = _run_by_hand(repo, dag, locks)
        with given_back_unless_recorded(repo) as linked:
            stored = _store(repo, locks, chosen, linked)
            write_stage_outputs(repo, stored, linked,
                                refuse=lambda: _refuse_moved_lock(repo, locks))
        repo.statcache.flush()
        repo.syncstate.flush()
        if chosen:
            stage_for_git(repo, [LOCK_FILE, *_recorded_for_git(chosen)], named=False)
    return [stage.name for stage, _ in chosen]


def _recorded_for_git(chosen: list[tuple[Stage, StageState]]) -> list[str]:
    """The files Git records of the stages `chosen` besides dvx.lock: their outputs with
    `cache: false`, and the .gitignore files holding the entries of the others."""
    return [out.path if not out.cache else posixpath.join(posixpath.dirname(out.path),
                                                          ".gitignore")
            for stage, _ in chosen for out in stage.outs]


def _run_by_hand(repo: Repo, dag: Dag, locks: dict[str, StageLock]
                 ) -> list[tuple[Stage, StageState]]:
    """The stages whose outputs the workspace changed, each with the inputs it has now, once
    none is refused (`commit_hand_runs`); nothing is written."""
    reader = ParamsReader(repo)
    chosen: list[tuple[Stage, StageState]] = []
    lost: dict[str, list[Out]] = {}
    for name in dag.select((), False, False):
        stage = dag.stages[name]
        missing, changed, outdated, conflicted, holding, _ = compare_outs(repo, stage,
                                                                          locks.get(name))
        if holding:  # refused as a commit naming it refuses it
            raise repository_inside_error(*next(iter(holding.items())))
        if conflicted:
            raise ConflictError(*_hand_run_behind_git(repo, name, conflicted))
        if changed and _only_not_pulled(repo, stage, locks, changed):
            changed = []
        if not changed:
            if gone := _lost_outputs(repo, stage, locks, missing):
                lost[name] = gone
            continue
        state = stage_state(repo, stage, reader)
        not_there = missing + state.missing_deps + state.missing_params
        if not_there or outdated:
            gone = [o for o in stage.outs if o.path in missing or o.path in outdated]
            raise UsageError(
                f"Stage '{name}' has outputs that are not what {LOCK_FILE} records "
                f"({', '.join(changed)}), but " + (
                    f"it lacks {', '.join(not_there)}" if not_there else
                    f"{', '.join(outdated)} {'is' if len(outdated) == 1 else 'are'} not "
                    "checked out") + ": no run of it left this, so it cannot be recorded.",
                _run_or_bring_back(repo, locks, name, gone))
        chosen.append((stage, state))
    if lost:
        raise UsageError(*_recorded_outputs_lacking(repo, locks, lost))
    return chosen


def _store(repo: Repo, read: dict[str, StageLock], chosen: list[tuple[Stage, StageState]],
           linked: list[Linked]) -> StoredInLock:
    """Store the cached outputs of the `chosen` stages in the cache (`linked`: the caller's
    `given_back_unless_recorded` list), writing nothing else: dvx.lock (`read`) with each
    stage's entry as a run of its inputs, for `write_stage_outputs`. As `dvx commit` records
    it, a directory pulled in part keeps the files never placed here."""
    locks = dict(read)
    outputs: list[Output] = []
    synced: dict[str, Synced] = {}
    to_link: list[ToLink] = []
    for stage, state in chosen:
        recorded = _cached_outs_as_locked(repo, stage.name, read)
        outs: list[LockedPath] = []
        for out in stage.outs:
            if out.cache:
                prepared = prepare(repo, out.path, recorded.get(out.path), linked=linked)
                p = prepared.pointer
                to_link += prepared.to_link
                synced[out.path] = prepared.synced
                outputs.append(Output(out.path, p, stage.name, out.push, out.remote))
                outs.append(LockedPath(out.path, p.oid, p.size, p.nfiles, p.executable, True,
                                       out.push, out.remote))
            else:
                current = out_state(repo, out)
                assert current is not None
                outs.append(current)
        locks[stage.name] = StageLock(stage.cmd, state.deps, state.params, tuple(outs))
    return StoredInLock(outputs, read, locks, [], synced, to_link)


def _refuse_moved_lock(repo: Repo, read: dict[str, StageLock]) -> None:
    """Refuse (ConflictError) to write dvx.lock once it no longer holds `read`, what the save
    read: a `git pull` or `git switch` (Git takes no dvx lock) changed it meanwhile, and
    writing would undo that."""
    if repo.read_lock() == read:
        return
    raise ConflictError(
        f"{LOCK_FILE} changed while dvx exp save ran (a `git checkout` or `git pull`, say), "
        "so no stage run by hand was recorded and nothing was saved: the workspace was read "
        "before that change, and recording it would undo it.",
        "Run `dvx status` to see where it stands now, then `dvx exp save` again.")


def _hand_run_behind_git(repo: Repo, name: str, paths: list[str]) -> tuple[str, str]:
    """Why outputs of stage `name` edited here while dvx.lock moved in Git are not recorded
    as a run of it, and the ways out: the message and hint of the refusal."""
    typed = " ".join(for_command(repo.root, p) for p in paths)
    one = len(paths) == 1
    return (f"Stage '{name}' has {'an output' if one else 'outputs'} changed both here and in "
            f"Git ({', '.join(paths)}): {LOCK_FILE} records another run of it since this "
            f"workspace was synced (a `git pull`, say), and the workspace holds an edit of "
            f"what it recorded before. Recording {'it' if one else 'them'} as a run would "
            f"pair the inputs Git brought with the older {'output' if one else 'outputs'}.",
            f"Take Git's run with `dvx checkout --force {typed}` (`dvx pull --force {typed}` "
            f"if the cache lacks it), then make your edit again; or keep your version as it "
            f"is with `dvx commit --force {typed}`. Then save again.")


def _lost_outputs(repo: Repo, stage: Stage, locks: dict[str, StageLock], missing: list[str]
                  ) -> list[Out]:
    """Those of the `missing` outputs of `stage` (unchanged otherwise) that its dvx.lock entry
    records and that an experiment saved now would drop: a cached one placed here before
    (deleted, or left so by a stopped run), and a `cache: false` one Git tracks (the
    experiment's commit would hold its deletion). Not one never pulled here, nor a `cache:
    false` one Git does not track (ignored, say): the experiment names them by dvx.lock as
    HEAD does, and holds of them what HEAD holds."""
    recorded = {o.path for o in locks[stage.name].outs} if stage.name in locks else set()
    cached = _cached_outs_as_locked(repo, stage.name, locks)
    gone = [o for o in stage.outs if o.path in missing and o.path in recorded]
    tracked = tracked_by_git(repo, [o.path for o in gone if not o.cache])
    return [o for o in gone if (o.path in tracked if not o.cache
                                else o.path in cached and not never_placed(repo, cached[o.path]))]


def _run_or_bring_back(repo: Repo, locks: dict[str, StageLock], name: str, gone: list[Out]
                       ) -> str:
    """The hint of a refused hand run of stage `name` whose outputs `gone` are missing or not
    checked out: run it, or bring back what its dvx.lock entry records where something can."""
    run = f"Run it (`dvx repro {shell_quote(name)}`)"
    if not gone:
        return f"{run}, or bring back what it recorded (`dvx checkout`)."
    ways = _ways_back(repo, locks, gone)
    return f"{run}, or bring back what it recorded: {ways}." if ways else f"{run}."


def _recorded_outputs_lacking(repo: Repo, locks: dict[str, StageLock],
                              lost: dict[str, list[Out]]) -> tuple[str, str]:
    """Why the workspace, lacking the outputs `lost` (by stage) that dvx.lock (`locks`)
    records, is not recorded, and the ways out: the message and hint of the refusal."""
    outs = [out for gone in lost.values() for out in gone]
    stages = ", ".join(f"'{name}'" for name in lost)
    one = len(outs) == 1
    run = f"`dvx repro {' '.join(shell_quote(n) for n in lost)}`"
    ways = _ways_back(repo, locks, outs)
    return (f"The workspace lacks {'an output' if one else 'outputs'} of "
            f"{'stage' if len(lost) == 1 else 'stages'} {stages} that {LOCK_FILE} records "
            f"({', '.join(o.path for o in outs)}): no run leaves that, and the "
            f"experiment would name {'it' if one else 'them'} without holding "
            f"{'it' if one else 'them'}. Nothing was saved.",
            (f"Bring {'it' if one else 'them'} back as {LOCK_FILE} records "
             f"{'it' if one else 'them'}: {ways}; or run the stage again ({run})."
             if ways else f"Run the stage again ({run}): nothing else brings "
             f"{'it' if one else 'them'} back as {LOCK_FILE} records {'it' if one else 'them'}.")
            + " Then save again.")


def _ways_back(repo: Repo, locks: dict[str, StageLock], outs: list[Out]) -> str:
    """The commands bringing back the outputs `outs` as dvx.lock (`locks`) records them:
    `dvx checkout` of those the cache holds, `dvx pull` of the other cached ones, `git
    checkout --` of the `cache: false` ones Git's index holds as dvx.lock records them.
    Those nothing brings back (one dvx.lock does not record, a `cache: false` one Git does
    not track, or holds as another run left it) are left out: only a run of their stage
    makes them. Empty when none can be brought back."""
    recorded = {path: output for name in locks
                for path, output in _cached_outs_as_locked(repo, name, locks).items()}
    tracked = _git_holds_as_locked(repo, locks, [o for o in outs if not o.cache])

    def typed(chosen: list[Out]) -> str:
        return " ".join(for_command(repo.root, o.path) for o in chosen)

    cached = [o for o in outs if o.cache and o.path in recorded]
    held = [o for o in cached if in_cache(repo, recorded[o.path])]
    fetched = [o for o in cached if o not in held]
    in_git = [o for o in outs if not o.cache and o.path in tracked]
    back = [f"`dvx checkout {typed(held)}` (from the cache)" if held else "",
            f"`dvx pull {typed(fetched)}` (the cache lacks "
            f"{'it' if len(fetched) == 1 else 'them'})" if fetched else "",
            f"`git checkout -- {typed(in_git)}` (from Git: `cache: false`)" if in_git else ""]
    return " and ".join(way for way in back if way)


def _git_holds_as_locked(repo: Repo, locks: dict[str, StageLock], outs: list[Out]
                         ) -> set[str]:
    """The paths of the `cache: false` outputs `outs` that Git's index holds as dvx.lock
    (`locks`) records them, which `git checkout -- PATH` then brings back: Git's version of
    one that another run made (uncommitted runs since) would pair the inputs dvx.lock
    records with another run's output."""
    locked = {o.path: o for entry in locks.values() for o in entry.outs if not o.cache}
    tracked = tracked_by_git(repo, [o.path for o in outs if o.path in locked])
    return {path for path in tracked if locked[path].same_data(_index_version(repo, path))}


def _index_version(repo: Repo, path: str) -> LockedPath | None:
    """The data Git's index holds at `path` (a file, or the files of a folder), as dvx.lock
    would record it; None when it holds what no output is (a symbolic link, a submodule)."""
    assert repo.git is not None
    entries = repo.git.index_entries([path])
    if any(mode not in (REGULAR_MODE, EXECUTABLE_MODE) for mode, _ in entries.values()):
        return None
    files = [TreeEntry(rel[len(path) + 1:] if rel != path else "", *blob_oid_and_size(
        repo, blob), mode == EXECUTABLE_MODE) for rel, (mode, blob) in entries.items()]
    if [f.path for f in files] == [""]:
        return LockedPath(path, files[0].oid, files[0].size, executable=files[0].executable)
    tree = Tree.build(repo.algo, files)
    return LockedPath(path, tree.oid(), tree.size, tree.nfiles)


def _cached_outs_as_locked(repo: Repo, name: str, locks: dict[str, StageLock]
                           ) -> dict[str, Output]:
    """The cached outputs of stage `name` as its dvx.lock entry in `locks` records them, by
    path."""
    entry = locks.get(name)
    if entry is None:
        return {}
    return {o.path: Output(o.path, Pointer("dir" if o.is_dir else "file", repo.algo, o.oid,
                                           o.size, o.nfiles, o.executable), name, o.push,
                           o.remote)
            for o in entry.outs if o.cache}


def _only_not_pulled(repo: Repo, stage: Stage, locks: dict[str, StageLock], paths: list[str]
                     ) -> bool:
    """Do the outputs `paths` of `stage` differ from what its dvx.lock entry records only by
    files never placed in this workspace (a directory pulled in part), which is no change of
    theirs?"""
    recorded = _cached_outs_as_locked(repo, stage.name, locks)
    return all(path in recorded and path in stage.out_paths and recorded[path].pointer.is_dir
               and (found := output_status(repo, recorded[path])).workspace == UNCHANGED
               and bool(found.not_pulled) for path in paths)
