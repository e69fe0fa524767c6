"""Outputs no stage has any longer: the cached outputs of dvx.lock entries that `repro` (and
`exp run`) drops for stages gone from dvx.yaml, and those `stage remove` leaves to Git. They
stay in the workspace as the user's own data, no longer dvx's; those repro drops keep their
.gitignore entries, for a `git add -A` must not commit that data."""

from __future__ import annotations

from dvx.lockfile import StageLock
from dvx.ops.manage import make_own_copies
from dvx.pipeline.graph import Dag
from dvx.repo import Repo


def outputs_of_gone(dag: Dag, locks: dict[str, StageLock], gone: list[str]) -> list[str]:
    """The cached outputs the dvx.lock entries of stages `gone` from dvx.yaml record, and no
    stage of dvx.yaml has: once the entries are dropped, no longer dvx's data."""
    outputs = {o.path for s in dag.stages.values() for o in s.outs}
    return sorted({o.path for n in gone for o in locks[n].outs
                   if o.cache and o.path not in outputs})


def no_longer_data(repo: Repo, paths: list[str]) -> None:
    """Outputs dvx.lock no longer records are no longer dvx's data (no checkout takes them
    for data left behind). They become the user's own, as `dvx remove` leaves data: a link
    into the cache would dangle once gc takes its object."""
    if not paths:
        return
    for path in paths:
        make_own_copies(repo, path)
        repo.syncstate.forget(path)
    repo.syncstate.flush()
