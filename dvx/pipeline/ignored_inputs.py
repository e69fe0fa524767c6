"""Data a stage reads that no clone has: the output of a stage gone from dvx.yaml (a
`foreach` item dropped), which `repro` leaves in the workspace still ignored by Git, in a
folder the stage reads. A run on it would record a dependency that a clone, after `dvx
pull`, never matches: `repro` runs no such stage and `status` calls it stale, both naming
the data and the way out.

Such data is a file or folder at or inside one of the stage's dependencies that Git ignores
by the entry dvx writes for data (`/NAME` in the .gitignore beside it), while no pointer, no
output of dvx.yaml and no dvx.lock entry records it, and Git's index holds none of it; and
whose data is an object of the cache, as dvx left it. The user writes that entry too (a
`/scratch` line for a folder of notes, a `/build` line for build products): data of theirs
the cache never held is never taken for a leftover, and the data dvx says to delete is
always data the cache keeps.

Only that entry is looked for, never the user's own patterns (`*.pyc`, `__pycache__/`):
one .gitignore read per folder of the dependencies that dvx does not track itself, Git
asked only when such an entry is found, and only what Git ignores by it hashed (through
the stat cache, as the dependency's own hashing reads it)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

from dvx import gitignore
from dvx.errors import DvxError
from dvx.lockfile import StageLock
from dvx.paths import POINTER_SUFFIX, at_or_below_any
from dvx.pipeline.graph import Dag
from dvx.pipeline.spec import overlaps
from dvx.pipeline.staleness import path_state
from dvx.repo import Repo


def inputs_no_clone_has(repo: Repo, dag: Dag, names: Iterable[str],
                        locks: Mapping[str, StageLock]) -> dict[str, list[str]]:
    """{stage: the data no clone has that it reads} for those of the stages `names` (frozen
    ones left out: never run, never checked) that read any; `locks`: dvx.lock's entries, as
    the run leaves them."""
    if repo.git is None:
        return {}
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
    stray = sorted(p for p in ignored if not any(overlaps(p, t) for t in in_git)
                   and _left_by_dvx(repo, p))
    read = {s.name: [p for p in stray if any(overlaps(p, d) for d in s.deps)] for s in stages}
    return {name: paths for name, paths in read.items() if paths}


def _left_by_dvx(repo: Repo, rel: str) -> bool:
    """Is the data at `rel` an object of the cache (a file's bytes, a folder's manifest):
    what dvx stored as an output, left as it was? A folder holding no file is not: it
    changes no dependency's record. Data dvx cannot read or track is not: the dependency's
    own hashing names it."""
    try:
        state = path_state(repo, rel)
    except (DvxError, OSError):
        return False
    return state is not None and state.nfiles != 0 and repo.cache.exists(state.oid)


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
    pending = [dep]
    while pending:
        folder = pending.pop()
        try:
            with os.scandir(repo.abspath(folder)) as listing:
                entries = [(e.name, e.is_dir(follow_symlinks=False)) for e in listing]
        except OSError:  # gone meanwhile, or unreadable: the dependency's hashing says so
            continue
        entered = set(gitignore.entered_names(repo.abspath(folder), (n for n, _ in entries)))
        for name, is_dir in entries:
            rel = f"{folder}/{name}"
            if name in entered:
                found.append(rel)
            elif is_dir and name != ".git" and not _tracked_by_dvx(repo, rel, recorded):
                pending.append(rel)
    return found


def no_clone_has_reason(paths: list[str]) -> str:
    """What `status` says of a stage reading `paths` (inputs_no_clone_has), with the way
    out."""
    one = len(paths) == 1
    it, its = ("it", "its line") if one else ("them", "their lines")
    return (f"reads data no clone has: {_shown(paths)} (Git ignores {it}, and no stage or "
            f"pointer records {it}: delete {it}, or remove {its} from .gitignore for Git to "
            f"track {it})")


def no_clone_has_error(paths: list[str]) -> str:
    """Why `repro` runs no stage reading `paths` (inputs_no_clone_has), and the way out."""
    one = len(paths) == 1
    it, its = ("it", "its line") if one else ("them", "their lines")
    return (f"it reads {_shown(paths)}, which Git ignores while no stage, dvx.lock entry or "
            f"pointer records {it}, so no clone has {it} and a run on {it} could not be "
            f"reproduced there; nothing was run. Delete {it} (the output of a stage no longer "
            f"in dvx.yaml, say: the cache keeps {it} as dvx stored {it}), or remove {its} from "
            f".gitignore for Git to track {it}; then run `dvx repro`")


def _shown(paths: list[str]) -> str:
    return ", ".join(paths[:10]) + (f" and {len(paths) - 10} more" if len(paths) > 10 else "")
