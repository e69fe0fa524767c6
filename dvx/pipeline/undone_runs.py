"""What records again a run of the user's own whose dvx.lock entry went back to HEAD's
(`git checkout -- dvx.lock`, `git stash`, `git reset --hard` after an uncommitted `dvx repro`).

The workspace still holds the outputs of that run. A `dvx commit --force` of them would pair
them with the inputs HEAD's entry records, not those they were made from, and make that the
run-cache's run for those inputs; so the way back depends on the inputs the workspace holds:

    other than dvx.lock records    -> `dvx repro STAGE` (the run-cache restores the run)
    as dvx.lock records, and the
    run-cache's run for them made
    this very output (dvx commit)  -> `dvx commit --force PATH` (it records that pairing again)
    as dvx.lock records otherwise  -> the run was made from inputs the workspace no longer
                                      holds: `dvx repro STAGE` once they are back

A stage reading an output of an upstream stage whose run was undone too is judged by that
run (`dvx status` asks upstream stages first): made from inputs no longer held, so is its
own; else `dvx repro STAGE` records both, after `dvx commit --force` of an upstream output
whose way is that commit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dvx.errors import DvxError
from dvx.pipeline.runcache import keys_for, lookup
from dvx.pipeline.spec import Stage
from dvx.pipeline.staleness import StageState, stage_state

if TYPE_CHECKING:
    from dvx.lockfile import StageLock
    from dvx.repo import Repo

REPRO = "repro"  # `dvx repro STAGE` records the run again from the inputs the workspace holds
COMMIT = "commit"  # `dvx commit --force PATH`: it is the pairing a commit recorded before
INPUTS_GONE = "inputs-gone"  # made from inputs the workspace no longer holds


def way_back(repo: Repo, stage: Stage, path: str, oid: str) -> str:
    """How the output `path` of `stage`, holding `oid` of the user's own run whose dvx.lock
    entry went back to HEAD's, is recorded again: REPRO, COMMIT or INPUTS_GONE (module
    docstring). REPRO when the inputs cannot be read: a run is what tells."""
    try:
        locked = repo.read_lock().get(stage.name)
        state = stage_state(repo, stage, on_untrackable=lambda exc: None)
    except DvxError:
        return REPRO
    if locked is None or not _inputs_as_locked(stage, locked, state):
        return REPRO
    try:
        record = lookup(repo, *keys_for(repo, stage, state))
    except DvxError:
        record = None
    made_it = record is not None and any(o.path == path and o.oid == oid for o in record.outs)
    return COMMIT if made_it else INPUTS_GONE


def _inputs_as_locked(stage: Stage, locked: StageLock, state: StageState) -> bool:
    """Does the workspace hold the inputs (command, deps, params) dvx.lock records?"""
    recorded = {d.path: d for d in locked.deps}
    return (tuple(locked.cmd) == stage.cmd and not state.missing_deps
            and not state.unknown_deps and not state.missing_params
            and set(recorded) == {d.path for d in state.deps}
            and all(d.same_data(recorded.get(d.path)) for d in state.deps)
            and {f: dict(v) for f, v in locked.params.items()} == state.params)
