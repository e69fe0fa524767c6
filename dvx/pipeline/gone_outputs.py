"""Outputs no stage has any longer: the cached outputs of dvx.lock entries that `repro` (and
`exp run`) drops for stages gone from dvx.yaml, and those `stage remove` leaves to Git. They
stay in the workspace as the user's own data, no longer dvx's; those repro drops keep their
.gitignore entries, for a `git add -A` must not commit that data, but one holding an output
dvx.yaml declares (`holding_outputs`), whose entry would keep that output's folder from Git.

Copies are made before dvx.lock stops recording the outputs, sync records are forgotten only
after: a command stopped between the two leaves an output dvx.lock still records with its
record, and once dvx.lock no longer records it, no link into the cache is left behind."""

from __future__ import annotations

import os
from collections.abc import Collection, Iterable, Mapping
from dataclasses import replace

from dvx.lockfile import StageLock
from dvx.logs import get_logger
from dvx.ops.manage import make_own_copies
from dvx.outputs import pointer_files
from dvx.paths import overlaps
from dvx.pipeline.graph import Dag
from dvx.pipeline.spec import Stage
from dvx.pointer import data_path_of
from dvx.repo import Repo

log = get_logger(__name__)


def outputs_of_gone(dag: Dag, locks: dict[str, StageLock], gone: list[str],
                    pointed: Collection[str] = ()) -> list[str]:
    """The cached outputs the dvx.lock entries of stages `gone` from dvx.yaml record, and no
    stage of dvx.yaml has: once the entries are dropped, no longer dvx's data. Not those at
    or inside data a pointer tracks (`pointed`, the data paths of the pointer files found):
    that stays dvx's, ignored by Git, and what dvx placed there stays known. One holding
    such data is handed over as any other, so no file of it is left a link nothing records."""
    outputs = {o.path for s in dag.stages.values() for o in s.outs}
    return sorted({o.path for n in gone for o in locks[n].outs
                   if o.cache and o.path not in outputs
                   and not any(o.path == path or o.path.startswith(path + "/")
                               for path in pointed)})


def gone_entries(dag: Dag, locks: Mapping[str, StageLock]) -> list[StageLock]:
    """The entries of `locks` (dvx.lock's) of stages gone from dvx.yaml, not yet dropped."""
    return [entry for name, entry in locks.items() if name not in dag.stages]


def with_outputs_of_gone(stage: Stage, own: StageLock | None, gone: Iterable[StageLock]
                         ) -> StageLock | None:
    """The dvx.lock entry `own` of `stage`, with the outputs the entries `gone` (of stages
    gone from dvx.yaml) record at, inside or around one of its outputs: a stage renamed
    whose output changed (`s` with `res/a.txt` become `t` with `res`) is run and recorded as
    when it keeps its name, its old outputs there those it no longer declares, so what dvx
    wrote for them (their .gitignore entries) is never taken for data of the new output.
    None when neither has any."""
    known = {o.path for o in own.outs} if own is not None else set()
    extra = {o.path: o for entry in gone for o in entry.outs if o.path not in known
             and any(overlaps(o.path, path) for path in stage.out_paths)}
    if not extra:
        return own
    if own is None:
        return StageLock((), (), {}, tuple(extra.values()))
    return replace(own, outs=own.outs + tuple(extra.values()))


def holding_outputs(repo: Repo, paths: Collection[str], declared: Collection[str]
                    ) -> dict[str, list[str]]:
    """{path: the outputs of `declared` (dvx.yaml's) inside it} for those of `paths`
    (outputs no stage has any longer) that are folders holding one (`res`, whose stage now
    outputs `res/a.txt`). Its .gitignore entry would make Git ignore that output's folder,
    and the .gitignore dvx writes there for it, which a clone needs: repro takes the entry
    out, and Git sees the rest of it, as the user's own. A file where such a folder goes
    is in that output's way instead, and keeps its entry."""
    held = {path: sorted(o for o in declared if o.startswith(path + "/")) for path in paths
            if os.path.isdir(repo.abspath(path)) and not os.path.islink(repo.abspath(path))}
    return {path: inside for path, inside in held.items() if inside}


def pointed_paths(repo: Repo) -> list[str]:
    """The data paths of the workspace's pointer files (`dvx add`, imports)."""
    return [data_path_of(pointer) for pointer in pointer_files(repo)]


def make_users_own(repo: Repo, paths: list[str], ignored_by_git: bool) -> None:
    """Make the outputs at `paths` the user's own (copies, as `dvx remove` leaves data),
    before dvx.lock stops recording them: a link into the cache would dangle once gc takes
    its object. A link into another dvx cache whose object this cache lacks cannot become a
    copy: handed to Git (`stage remove`), it stops the command, as it stops `dvx remove`,
    for Git would commit the link; still ignored by Git (`ignored_by_git`: repro keeps the
    .gitignore entries) it stays, with a warning, so that data no longer dvx's never stops
    a repro."""
    for path in paths:
        for link in make_own_copies(repo, path, keep_foreign_links=ignored_by_git):
            log.warning("'%s' stays a symbolic link to an object of another dvx cache (a "
                        "moved or copied repository's) that this repository's cache lacks, "
                        "so no copy of it was made; dvx no longer tracks it. Replace it by a "
                        "copy of the file it leads to if you need it, or delete it.", link)


def no_longer_data(repo: Repo, paths: list[str]) -> None:
    """Once dvx.lock no longer records the outputs at `paths`, they are no longer dvx's data:
    their sync records go, so no checkout takes them for data left behind."""
    if not paths:
        return
    for path in paths:
        repo.syncstate.forget(path)
    repo.syncstate.flush()
