"""`dvx stage remove`, `dvx freeze`, `dvx unfreeze`: changing the stages of dvx.yaml, with
dvx.lock, .gitignore entries and (if asked) the outputs kept in step."""

from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass, field

from dvx import gitignore
from dvx.errors import PathError, UsageError
from dvx.lockfile import LOCK_FILE, LockedPath, StageLock, write_lock
from dvx.ops.data_places import data_among, held_by_git_within, tracked_by_git
from dvx.ops.manage import make_kept_files_own, recoverable, seen_by_git
from dvx.ops.status import output_status
from dvx.outputs import Output
from dvx.pipeline import editor
from dvx.pipeline.gone_outputs import make_users_own, outputs_of_gone, pointed_paths
from dvx.pipeline.graph import Dag, load_dag
from dvx.pipeline.spec import PIPELINE_FILE, Out, Stage, no_pipeline_error, stage_target
from dvx.pipeline.staleness import out_state
from dvx.pointer import Pointer
from dvx.repo import Repo
from dvx.workspace import delete_tracked_data


@dataclass
class Changed:
    stages: list[str] = field(default_factory=list)  # the stages (items of a group) changed
    deleted: list[str] = field(default_factory=list)  # outputs deleted from the workspace
    kept: list[str] = field(default_factory=list)  # files .dvxignore kept out of them
    # files Git's index holds in the cached outputs deleted, kept as they are (edits too)
    kept_in_git: list[str] = field(default_factory=list)
    touched: list[str] = field(default_factory=list)  # files Git tracks that changed
    # outputs dvx.lock recorded that dvx.yaml no longer declared, left in the workspace
    undeclared: list[str] = field(default_factory=list)
    # cached outputs left in the workspace whose .gitignore entry went, that Git now sees
    unignored: list[str] = field(default_factory=list)


def _stages_named(repo: Repo, name: str, removing: bool = False) -> tuple[Dag, list[Stage]]:
    """The pipeline, and its stage `name` or every item of the foreach/matrix stage `name`;
    `removing` them, a pointer file inside their outputs does not stop the pipeline's load."""
    dag = load_dag(repo, name if removing else None)
    if dag is None:
        raise no_pipeline_error(repo, f"There is no {PIPELINE_FILE} in {repo.root}.", None)
    found = [s for n, s in dag.stages.items() if n == name or n.partition("@")[0] == name]
    if not found:
        raise UsageError(f"There is no stage '{name}' in {PIPELINE_FILE}.",
                         "`dvx stage list` lists them.")
    return dag, found


def freeze(repo: Repo, name: str, frozen: bool = True) -> bool:
    """A frozen stage is never run by `repro` (nor checked: its outputs stay as recorded)."""
    check_named(repo, name)
    return editor.set_frozen(repo, name, frozen)


def check_named(repo: Repo, name: str) -> None:
    """Refuse a name no stage (or foreach/matrix group) of dvx.yaml has."""
    _stages_named(repo, name.partition("@")[0])


def remove(repo: Repo, name: str, delete_outputs: bool = False, force: bool = False
           ) -> Changed:
    """Take a stage out of dvx.yaml and its entry out of dvx.lock; its cached outputs (those
    dvx.lock records that dvx.yaml no longer declares too) are no longer ignored by Git, and
    files of their own, no links into the cache (or, with `delete_outputs`, deleted: only if
    they are as recorded and in the cache, or for a `cache: false` one committed in Git as
    it is, unless `force`; files .dvxignore keeps out of them stay, and so do the files Git's
    index holds in a cached one, `--force` or not: `kept_in_git`). A deleted output Git
    tracks (`cache: false`) is among the files to record in Git (`git add` of it records its
    deletion); a cached one left that Git now sees (no rule of the user's ignores it) is in
    `unignored`: `git add -A` would commit it."""
    name = stage_target(name)
    # A pointer a Git merge brought inside an output (dvx/overlapping.py) leaves the output
    # in the workspace, and the stage's removal ends that overlap; deleting the output
    # would delete the pointer's data and the pointer with it, so --outs is refused then.
    dag, stages = _stages_named(repo, name, removing=not delete_outputs)
    changed = Changed([s.name for s in stages])
    with repo.lock():
        locks = repo.read_lock()
        outs = _outputs_of(repo, dag, stages, locks)
        in_git = set(tracked_by_git(repo, [o.path for s in stages for o in outs[s.name]
                                           if not o.cache]))
        # What Git's index holds in a cached output, a .dvxignore of the team's too: the
        # delete keeps it all, and names it as Git's; of that, only what would be data
        # holds Git's data.
        held_all = held_by_git_within(repo, [o.path for s in stages for o in outs[s.name]
                                             if o.cache]) if delete_outputs else {}
        git_held = data_among(repo, held_all)
        if delete_outputs and not force:
            committed = _committed_as_they_are(repo, in_git)
            for stage in stages:
                _refuse_unsaved(repo, stage, outs[stage.name], locks.get(stage.name), in_git,
                                committed, git_held)
        for path, held in git_held.items():  # kept by the delete: the user's own first
            make_kept_files_own(repo, path, held)
        if not delete_outputs:  # first, so a copy that cannot be made stops it here; their
            # sync records go only once dvx.lock no longer records them (the loop below)
            make_users_own(repo, [o.path for s in stages for o in outs[s.name] if o.cache],
                           ignored_by_git=False)
        manifests = {o.path: o.oid for s in stages if s.name in locks
                     for o in locks[s.name].outs if o.nfiles is not None}
        editor.remove_stage(repo, name)
        changed.touched.append(PIPELINE_FILE)
        if any(s.name in locks for s in stages):
            for stage in stages:
                locks.pop(stage.name, None)
            write_lock(repo.root, locks, repo.algo, fsync=repo.fsync)
            changed.touched.append(LOCK_FILE)
        for stage in stages:
            for out in outs[stage.name]:
                full = repo.abspath(out.path)
                if out.cache and gitignore.remove_entry(full):
                    changed.touched.append(posixpath.join(posixpath.dirname(out.path),
                                                          ".gitignore"))
                repo.syncstate.forget(out.path)
                if delete_outputs and os.path.lexists(full):
                    held = held_all.get(out.path, set())
                    # As `dvx remove --outs` passes it: the data Git's index holds, made the
                    # user's own above; a .dvxignore, never data, no delete touches anyway
                    kept = delete_tracked_data(repo, out.path, manifests.get(out.path),
                                               git_held.get(out.path, set()))
                    changed.kept += [p for p in kept if not _given(p, out.path, held)]
                    changed.kept_in_git += [p for p in kept if _given(p, out.path, held)]
                    if "" not in held:  # Git's index holding the output, it stays whole
                        changed.deleted.append(out.path)
                    if out.path in in_git:
                        changed.touched.append(out.path)
                elif out not in stage.outs and os.path.lexists(full):
                    changed.undeclared.append(out.path)
        repo.syncstate.flush()
        if not delete_outputs:
            changed.unignored = seen_by_git(repo, [
                o.path for s in stages for o in outs[s.name]
                if o.cache and os.path.lexists(repo.abspath(o.path))])
    # Without Git there is nothing to record the changes in
    changed.touched = list(dict.fromkeys(changed.touched)) if repo.git is not None else []
    return changed


def _outputs_of(repo: Repo, dag: Dag, stages: list[Stage], locks: dict[str, StageLock]
                ) -> dict[str, list[Out]]:
    """{stage name: its outputs}: those dvx.yaml declares, and the cached ones its dvx.lock
    entry records that no stage declares (dvx.yaml edited, the stage not run since), which
    are as much its data, in the workspace and ignored by Git; not one at, inside or
    holding data a pointer tracks, which stays that pointer's (`outputs_of_gone`)."""
    outs = {s.name: list(s.outs) for s in stages}
    recorded = [s.name for s in stages if s.name in locks]
    gone = set(outputs_of_gone(dag, locks, recorded, pointed_paths(repo) if recorded else ()))
    for name in recorded:
        outs[name] += [Out(o.path) for o in locks[name].outs if o.path in gone]
    return outs


def _given(path: str, output: str, git_held: set[str]) -> bool:
    """Is `path`, kept by a delete of `output`, one of the files Git's index holds there
    (`git_held`, relative to `output`, '' for `output` itself)?"""
    return (path[len(output) + 1:] if path != output else "") in git_held


def _refuse_unsaved(repo: Repo, stage: Stage, outs: list[Out], locked: StageLock | None,
                    in_git: set[str], committed: set[str],
                    git_held: dict[str, set[str]]) -> None:
    """`in_git`: the stages' cache: false outputs Git's index holds; `committed`: those of
    them HEAD holds as the workspace has them; `git_held`: the files Git's index holds in
    the cached ones (`tracked_by_git_within`), which the delete keeps, so their changes are
    none of the output's."""
    recorded = {o.path: o for o in locked.outs} if locked is not None else {}
    for out in outs:
        if not os.path.lexists(repo.abspath(out.path)):
            continue
        if not out.cache:  # Git's to keep, or nobody's
            if out.path in committed:
                continue  # `git checkout HEAD -- PATH` brings it back
            why = ("has changes Git has not committed, and dvx keeps no copy of it (cache: "
                   "false)" if out.path in in_git else "is kept nowhere else: "
                   "Git does not track it, and dvx keeps no copy of it (cache: false)")
        else:
            current = out_state(repo, out)
            if current is not None and current.same_data(recorded.get(out.path)) \
                    and repo.cache.exists(current.oid):
                continue
            if _changed_in_git_s_files_only(repo, stage, recorded.get(out.path),
                                            git_held.get(out.path, set())):
                continue
            why = "is not as dvx.lock records it in the cache"
        raise PathError(f"'{out.path}', an output of stage '{stage.name}', {why}; refusing "
                        "to delete it.", "Use --force to delete anyway, or remove the stage "
                                         "without --outs to keep its outputs.")


def _changed_in_git_s_files_only(repo: Repo, stage: Stage, recorded: LockedPath | None,
                                 git_held: set[str]) -> bool:
    """Does the cached output `recorded` (as dvx.lock records it), all of it in the cache,
    differ from it only in the files Git's index holds there (`git_held`), which a delete
    keeps? Git's index holding the output itself, nothing of it is deleted."""
    if not git_held or recorded is None:
        return False
    if "" in git_held:
        return True
    output = Output(recorded.path, Pointer("dir" if recorded.is_dir else "file", repo.algo,
                                           recorded.oid, recorded.size, recorded.nfiles,
                                           recorded.executable), stage.name)
    return recoverable(output_status(repo, output), git_held)


def _committed_as_they_are(repo: Repo, paths: set[str]) -> set[str]:
    """Those of `paths` (which Git's index holds) that HEAD holds as the workspace has them,
    every file of a folder in it, nothing changed or staged since: Git keeps them then, as
    the cache keeps a cached output. A file Git ignores in a folder is kept by nobody, so
    the folder is not. One `git status` for all."""
    if not paths or repo.git is None:
        return set()
    return paths - set(repo.git.changed(sorted(paths), ignored=True))

