"""Data a stage reads that no clone has: the output of a stage gone from dvx.yaml (a
`foreach` item dropped), which `repro` leaves in the workspace still ignored by Git, in a
folder the stage reads. A run on it would record a dependency that a clone, after `dvx
pull`, never matches: `repro` runs no such stage and `status` calls it stale, both naming
the data and the way out.

Such data is a file or folder at or inside one of the stage's dependencies that Git ignores
by the entry dvx writes for data (`/NAME` in the .gitignore beside it), while no pointer, no
output of dvx.yaml and no dvx.lock entry records it now, and Git's index holds none of it;
and that dvx.lock recorded as an output: in a commit HEAD reaches, in Git's index, or
before this run dropped its entry. What it holds does not matter (`dvx gc` may have taken
its object, the user may have edited it). The user writes that entry too (a `/scratch` line
for a folder of notes, a `/build` line for build products, a copy of tracked data of
theirs): data no dvx.lock ever recorded as an output is never taken for a leftover.

Only that entry is looked for, never the user's own patterns (`*.pyc`, `__pycache__/`):
one .gitignore read per folder of the dependencies that dvx does not track itself, Git
asked only when such an entry is found, and dvx.lock's history searched only for what Git
ignores by it (one `git log -S` each)."""

from __future__ import annotations

import os
from collections.abc import Collection, Iterable, Mapping

from dvx import gitignore
from dvx.errors import DvxError
from dvx.lockfile import StageLock
from dvx.ops.former_outputs import OutputsRecorded
from dvx.paths import POINTER_SUFFIX, at_or_below_any, for_command, overlaps, walk_readable
from dvx.pipeline.graph import Dag
from dvx.pipeline.staleness import path_state
from dvx.repo import Repo
from dvx.wording import named_list


def inputs_no_clone_has(repo: Repo, dag: Dag, names: Iterable[str],
                        locks: Mapping[str, StageLock], dropped: Collection[str] = ()
                        ) -> dict[str, list[str]]:
    """{stage: the data no clone has that it reads} for those of the stages `names` (frozen
    ones left out: never run, never checked) that read any; `locks`: dvx.lock's entries;
    `dropped`: those of them a run of the whole pipeline drops (stages dvx.yaml no longer
    declares), whose outputs are leftovers, as the run leaves them."""
    if repo.git is None:
        return {}
    dropped_outs = [o.path for n in dropped for o in locks[n].outs]
    locks = {n: entry for n, entry in locks.items() if n not in dropped}
    stages = [dag.stages[n] for n in names if not dag.stages[n].frozen and dag.stages[n].deps]
    recorded = {o.path for s in dag.stages.values() for o in s.outs}
    recorded |= {o.path for lock in locks.values() for o in lock.outs}
    found: set[str] = set()
    for dep in dict.fromkeys(d for s in stages for d in s.deps):
        if not _tracked_by_dvx(repo, dep, recorded):
            found.update(_entered_at_or_inside(repo, dep, recorded))
    # A folder holding what dvx records (an output of its own inside) is left alone.
    candidates = [p for p in found if not _tracked_by_dvx(repo, p, recorded)
                  and not any(r.startswith(p + "/") for r in recorded)
                  and repo.dvxignore.check(p, os.path.isdir(repo.abspath(p))) is None]
    if not candidates:
        return {}
    ignored = set(repo.git.ignore_rules(candidates))
    in_git = repo.git.tracked_under(sorted(ignored)) if ignored else []
    history = OutputsRecorded(repo, dropped_outs)  # before this run dropped their entries
    stray = sorted(p for p in ignored if not any(overlaps(p, t) for t in in_git)
                   and _holds_files(repo, p) and history.recorded(p))
    read = {s.name: [p for p in stray if any(overlaps(p, d) for d in s.deps)] for s in stages}
    return {name: paths for name, paths in read.items() if paths}


def _holds_files(repo: Repo, rel: str) -> bool:
    """Does the data at `rel` hold a file? A folder holding none changes no dependency's
    record. Data dvx cannot read or track does not count: the dependency's own hashing
    names it."""
    try:
        state = path_state(repo, rel)
    except (DvxError, OSError):
        return False
    return state is not None and state.nfiles != 0


def _tracked_by_dvx(repo: Repo, rel: str, recorded: set[str]) -> bool:
    """Is `rel` at or below an output dvx.yaml or dvx.lock records, or data a pointer
    tracks?"""
    if at_or_below_any(rel, recorded):
        return True
    parts = rel.split("/")
    return any(os.path.lexists(repo.abspath("/".join(parts[:depth])) + POINTER_SUFFIX)
               for depth in range(1, len(parts) + 1))


def _entered_at_or_inside(repo: Repo, dep: str, recorded: set[str]) -> list[str]:
    """The paths at, around or inside the dependency `dep` present in the workspace whose
    .gitignore holds dvx's entry for them (not looking inside those, nor inside what dvx
    tracks)."""
    parts = dep.split("/")
    for depth in range(1, len(parts) + 1):  # an entry for the dependency or a folder around it
        rel = "/".join(parts[:depth])
        full = repo.abspath(rel)
        if os.path.lexists(full) and gitignore.entered_names(os.path.dirname(full),
                                                              [parts[depth - 1]]):
            return [rel]
    full = repo.abspath(dep)
    if not os.path.isdir(full) or os.path.islink(full):
        return []
    found = []
    for listed in walk_readable(full):  # an unreadable folder: the dependency's hashing says so
        folder = f"{dep}/{listed.rel}"
        entries = listed.folders + listed.others
        entered = set(gitignore.entered_names(listed.path, (e.name for e in entries)))
        found += [folder + e.name for e in entries if e.name in entered]
        listed.folders[:] = [e for e in listed.folders if e.name not in entered
                             and not _tracked_by_dvx(repo, folder + e.name, recorded)]
    return found


def no_clone_has_reason(root: str, paths: list[str], deps: Collection[str]) -> str:
    """What `status` says of a stage reading `paths` (inputs_no_clone_has) among its
    dependencies `deps`, with the ways out (`_ways`)."""
    one = len(paths) == 1
    it = "it" if one else "them"
    return (f"reads data no clone has: {_shown(paths)} (Git ignores {it}, and no stage or "
            f"pointer records {it}: {_ways(root, paths, deps)})")


def no_clone_has_error(root: str, paths: list[str], deps: Collection[str]) -> str:
    """Why `repro` runs no stage reading `paths` (inputs_no_clone_has) among its
    dependencies `deps`, and the ways out (`_ways`)."""
    it = "it" if len(paths) == 1 else "them"
    ways = _ways(root, paths, deps)
    return (f"it reads {_shown(paths)}, which Git ignores while no stage, dvx.lock entry or "
            f"pointer records {it}, so no clone has {it} and a run on {it} could not be "
            f"reproduced there; nothing was run. dvx.lock recorded {it} as the output of a "
            f"stage dvx.yaml no longer has. {ways[0].upper()}{ways[1:]}; then "
            "run `dvx repro`")


def _ways(root: str, paths: list[str], deps: Collection[str]) -> str:
    """The ways out for data no clone has at `paths`, which a stage reads among `deps`.
    Data that is a dependency, or holds one, is kept by tracking it as data (every clone
    then pulls it) or by letting Git track it, never deleted (the stage would be left
    without its dependency). Data inside a dependency is kept only by Git, for its pointer
    file would lie inside the folder the stage reads, which a dependency never holds; or
    it is deleted, the stage then reading what a clone has."""
    one = len(paths) == 1
    it, its = ("it", "its line") if one else ("them", "their lines")
    by_git = f"remove {its} from .gitignore for Git to track {it}"
    inside = [any(path.startswith(dep + "/") for dep in deps) for path in paths]
    if not any(inside):
        added = " ".join(for_command(root, path) for path in paths)
        return (f"to keep {it}, track {it} as data with `dvx add {added}` (and the `git add` "
                f"it names), or {by_git}")
    ways = f"to keep {it}, {by_git}"
    if all(inside):
        ways += f"; or delete {it}"
    return ways


def _shown(paths: list[str]) -> str:
    return named_list(paths, most=10)
