"""What a stage's dependencies, params and outputs are now, and why it is stale.

Dependencies and outputs are hashed through the stat cache (dvx/workspace.py), so checking an
unchanged pipeline costs about one stat per file. A directory is identified by the oid of its
canonical manifest, exactly as `dvx commit` would record it (.dvxignore included).
"""

from __future__ import annotations

import os
from bisect import bisect_left
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

from dvx.errors import DvxError, FormatError, PathError
from dvx.history import recorded_lately
from dvx.lockfile import LOCK_FILE, LockedPath, StageLock
from dvx.objects.tree import Tree, TreeEntry
from dvx.ops.status import not_pulled_whole, part_never_placed
from dvx.ops.sync_layers import holds_what_was_placed
from dvx.outputs import LeftOut, Output, adding_to_sparse_checkout, load_output, load_tree
from dvx.paths import at_or_below_any, file_in_place_of, folders_above, nearest_parent_in
from dvx.pipeline.former_algorithm import algorithm_holding
from dvx.pipeline.params import MISSING, ParamsReader, get_param, param_value, same_value
from dvx.pipeline.spec import Out, Stage
from dvx.pointer import Pointer, pointer_path_of
from dvx.repo import Repo
from dvx.syncstate import Synced
from dvx.wording import named_list
from dvx.workspace import (
    SeenFiles,
    file_state,
    manifest_of_scan,
    recorded_below,
    repository_held,
    scan_directory,
    unreadable_found,
)


@dataclass
class StageState:
    """The current dependencies (hashed) and params values of a stage."""
    deps: tuple[LockedPath, ...]
    params: dict[str, dict[str, Any]]
    missing_deps: list[str] = field(default_factory=list)
    missing_params: list[str] = field(default_factory=list)
    # Inside another stage's output that is not checked out, whose manifest the cache lacks:
    # what a checkout brings there is not known, so they count as changed.
    unknown_deps: list[str] = field(default_factory=list)
    # stage_state(watch=True): the files of the deps as hashed, for deps_after_run
    seen: SeenFiles | None = None
    # stage_state(watch=True): each folder dependency's files as hashed, by relative path
    dep_files: dict[str, dict[str, TreeEntry]] = field(default_factory=dict)


def path_state(repo: Repo, rel: str, seen: SeenFiles | None = None) -> LockedPath | None:
    """The data at `rel` now (None if nothing is there), as `dvx commit` would record it: a
    folder without the files .dvxignore leaves out, but for those the tracked data there
    records (a rule added since leaves them tracked). `seen`: the files this command hashed
    before, not read again while their stat is unchanged; told what is hashed."""
    return _scanned(repo, rel, seen)[0]


def _scanned(repo: Repo, rel: str, seen: SeenFiles | None
             ) -> tuple[LockedPath | None, dict[str, TreeEntry] | None]:
    """path_state, with the files of a folder by relative path (None for a file). A file or
    folder there that dvx may not read is named (UnreadableError): what it holds, and so
    whether the stage is up to date, cannot be told."""
    full = repo.abspath(rel)
    try:
        if os.path.isdir(full) and not os.path.islink(full):
            entries = scan_directory(repo, full, rel, recorded=recorded_below(repo, rel),
                                     seen=seen)
            tree = manifest_of_scan(repo, entries.values(), rel)
            return LockedPath(rel, tree.oid(), tree.size, tree.nfiles), entries
        state = file_state(repo, full, rel, seen=seen)
    except PermissionError as exc:
        raise unreadable_found(repo.root, exc, rel, inside=False) from None
    if state is None:
        return None, None
    return LockedPath(rel, state.oid, state.size, executable=state.executable), None


def current_params(repo: Repo, stage: Stage, reader: ParamsReader
                   ) -> tuple[dict[str, dict[str, Any]], list[str]]:
    values: dict[str, dict[str, Any]] = {}
    missing: list[str] = []
    for dep in stage.params:
        try:
            doc = reader.doc(dep.file)
        except FormatError:
            if not os.path.lexists(repo.abspath(dep.file)):
                missing.append(dep.file)
                continue
            raise
        found = values.setdefault(dep.file, {})
        if not dep.keys:
            found.update({str(k): param_value(v) for k, v in doc.items()})
        for key in dep.keys:
            value = get_param(doc, key)
            if value is MISSING:
                missing.append(f"{key} ({dep.file})")
            else:
                found[key] = value
    return values, missing


def params_moved(repo: Repo, stage: Stage, before: StageState, reader: ParamsReader
                 ) -> list[str]:
    """The params values of `stage` that are no longer what `before` read (an edit of the
    params file, another command's `exp run -S`, while the stage's command ran), each as
    `key (file)`; one that cannot be read now counts as moved. A params file the stage
    writes itself (one of its outputs, or inside one) is the command's to change."""
    try:
        now, _ = current_params(repo, stage, reader)
    except (DvxError, OSError):
        now = {}
    written = set(stage.out_paths)
    return [f"{key} ({file})" for file, values in before.params.items()
            if not at_or_below_any(file, written)
            for key, value in values.items()
            if key not in now.get(file, {}) or not same_value(now[file][key], value)]


def stage_state(repo: Repo, stage: Stage, reader: ParamsReader | None = None,
                watch: bool = False,
                on_untrackable: Callable[[PathError], None] | None = None) -> StageState:
    """The stage's deps, hashed, and params, read, now. `watch`: keep what each file hashed
    had as its stat, and each folder's files, for deps_after_run to find what changed since
    without reading the rest. A dependency holding what dvx cannot track (a link of one's
    own) is refused, or with `on_untrackable` (status) reported to it and counted unknown,
    so changed."""
    seen = SeenFiles(*repo.statcache.filesystem_now()) if watch else None
    deps = []
    missing = []
    dep_files = {}
    unknown = []
    for rel in stage.deps:
        try:
            state, files = _scanned(repo, rel, seen)
        except PathError as exc:
            if on_untrackable is None:
                raise
            on_untrackable(exc)
            unknown.append(rel)
            continue
        if state is None or _not_pulled_yet(repo, state):
            missing.append(rel)
        else:
            deps.append(state)
        if watch and files is not None:
            dep_files[rel] = files
    params, missing_params = current_params(repo, stage, reader or ParamsReader(repo))
    return StageState(tuple(deps), params, missing, missing_params, unknown, seen=seen,
                      dep_files=dep_files)


def _not_pulled_yet(repo: Repo, state: LockedPath) -> bool:
    """Is the dependency `state`, a folder a pointer tracks or one inside it, not pulled
    yet, as the data status says of the tracked folder (`not_pulled_whole`: only files dvx
    never tracks stand there, placed by Git)? Then it is missing, as a folder absent whole is.
    A part its pointer records nothing in holds what a pull places there: it is not missing."""
    if not state.is_dir or state.nfiles:
        return False
    output = _tracked_output_holding(repo, state.path)
    if output is None:
        return False
    if output.path == state.path:
        return not_pulled_whole(repo, output, holds_data=False) \
            and output.pointer.oid != state.oid
    return _part_not_pulled_yet(repo, output, state.path[len(output.path) + 1:])


def _part_not_pulled_yet(repo: Repo, output: Output, part: str) -> bool:
    """Is the folder `part` inside the tracked folder `output` not pulled yet: its manifest
    records files there and none was ever placed here, whatever a pull of another part of
    the folder placed? Without the manifest in the cache, as the tracked folder is."""
    try:
        tree = load_tree(repo, output.pointer, output.recorded_in)
    except DvxError:  # an invalid manifest is the data status's to name, as a pointer is
        return False
    if tree is None:
        return not_pulled_whole(repo, output, holds_data=False)
    files = tree.paths_inside(part)
    return bool(files) and part_never_placed(repo, output, files)


def _tracked_output_holding(repo: Repo, rel: str) -> Output | None:
    """The output a pointer file tracks that is `rel` or holds it (the nearest folder above
    with a pointer), or None; a pointer that cannot be read is the data status's to name."""
    for tracked in (rel, *folders_above(rel)):
        pointer_file = pointer_path_of(tracked)
        if os.path.isfile(repo.abspath(pointer_file)):
            try:
                return load_output(repo, pointer_file)
            except DvxError:
                return None
    return None


def deps_after_run(repo: Repo, before: StageState
                   ) -> tuple[list[str], tuple[LockedPath, ...]]:
    """The deps that no longer hold what `before` (from stage_state(watch=True)) hashed,
    and the deps as they are now, to record with the run. A dependency moved if its data
    changed, but for a folder whose files changed only in Python bytecode (.pyc/.pyo files in
    a `__pycache__` in it: the command's own, written as it imports from there): they are
    not what it read, and the folder is recorded as the command left it. Any other file
    added, changed or removed moves it: an added one may have been read. One that cannot be
    read now counts as moved. Only the files whose stat moved since are read again: an
    unchanged dependency costs a stat per file."""
    moved, after = [], []
    for dep in before.deps:
        try:
            now, files = _scanned(repo, dep.path, before.seen)
        except (DvxError, OSError):
            now, files = None, None
        had = before.dep_files.get(dep.path)
        if dep.same_data(now):
            after.append(dep)
        elif now is not None and had is not None and files is not None and all(
                _in_bytecode_cache(rel) for rel in _changed_files(had, files)):
            after.append(now)
        else:
            moved.append(dep.path)
            after.append(dep)
    return moved, tuple(after)


def _in_bytecode_cache(rel: str) -> bool:
    """Is the POSIX path `rel` Python bytecode (a .pyc or .pyo file) in a `__pycache__`
    folder? Anything else written there is a file the command may read, as any other."""
    return rel.endswith((".pyc", ".pyo")) and "__pycache__" in rel.split("/")[:-1]


def _changed_files(had: Mapping[str, TreeEntry], now: Mapping[str, TreeEntry]
                   ) -> Iterable[str]:
    """The relative paths added, changed or removed between two scans of a folder."""
    return (rel for rel in had.keys() | now.keys() if had.get(rel) != now.get(rel))


def out_state(repo: Repo, out: Out) -> LockedPath | None:
    state = path_state(repo, out.path)
    if state is None:
        return None
    return LockedPath(state.path, state.oid, state.size, state.nfiles, state.executable,
                      out.cache, out.push, out.remote)


# The stage's dvx.lock entry moved in Git (`git pull`) while the workspace still holds the
# outputs dvx last placed: `dvx checkout` brings the recorded ones; they are not changes.
OUTDATED_OUTS = "outputs not checked out"


# The stage's dvx.lock entry moved in Git since the workspace was synced, and the workspace
# holds an edit of the outputs dvx placed before: neither a checkout nor a run may go over it.
CONFLICTED_OUTS = "outputs changed both here and in Git"


# The stage's dvx.lock entry records outputs where the workspace holds other data, that no
# cache has and no sync record says dvx placed: files of the user's own (made before `git
# pull` brought the stage), which a run would delete and nothing could bring back.
OWN_DATA_OUTS = "outputs holding data in no cache"


# Of those, outputs whose every file the cache holds under the hash algorithm the repository
# named its data with before it moved to the current one (pipeline/former_algorithm.py): a
# run of the stage made here before that move, which a forced run records anew, losing
# nothing. `repro` refuses to run over them all the same, unforced.
FORMER_ALGORITHM_OUTS = "outputs holding data of a former hash algorithm"


# A stage's output folder holds the `.git` or `.dvx` of a repository of its own (a clone of
# the user's): its files are that repository's, so dvx neither records nor deletes them.
HOLDING_OUTS = "outputs holding a repository of their own"


def outputs_holding_a_repository(repo: Repo, stage: Stage) -> dict[str, str]:
    """{output: the `.git` or `.dvx` in it} for the stage's output folders holding a
    repository of its own (HOLDING_OUTS), as `staleness` finds them without comparing."""
    return {out.path: inside for out in stage.outs
            if (inside := repository_held(repo, out.path)) is not None}


# A file of the user's stands where a folder of a stage's output path goes (`o` for the
# output `o/x`): nothing says whose it is, so no run deletes it to make that folder.
FILE_IN_THE_WAY = "files where output folders go"


def outputs_behind_a_file(repo: Repo, stage: Stage, locked: StageLock | None
                          ) -> dict[str, str]:
    """{output: the file standing where a folder of its path goes} (FILE_IN_THE_WAY), for
    the stage's outputs; a look per output whose folder is there. An output the stage's
    dvx.lock entry `locked` records that a run deletes (`dropped_outputs_in_the_way`) is
    not one: it is the stage's own."""
    found = {}
    for out in stage.outs:
        in_the_way = _file_in_the_way(repo, out.path)
        if in_the_way is not None:
            found[out.path] = in_the_way
    if not found:
        return found
    dropped = dropped_outputs_in_the_way(repo, stage, locked)
    return {out: path for out, path in found.items() if path not in dropped}


def _file_in_the_way(repo: Repo, rel: str) -> str | None:
    """The file standing where a folder of the path `rel` goes, if any (`file_in_place_of`)."""
    folder = rel.rpartition("/")[0]
    if not folder or os.path.isdir(repo.abspath(folder)):
        return None
    in_the_way = file_in_place_of(repo.root, folder)
    return in_the_way if os.path.lexists(repo.abspath(in_the_way)) else None


def dropped_outputs_in_the_way(repo: Repo, stage: Stage, locked: StageLock | None
                               ) -> list[str]:
    """The files standing where folders of the stage's outputs go (`res` for the output
    `res/a.txt`) that are cached outputs its dvx.lock entry `locked` records and the stage no
    longer declares, holding dvx's data (`_dropped_and_cached`): a run of the stage deletes
    them, as nothing is lost (a checkout of the commit recording them brings them back)."""
    if locked is None:
        return []
    recorded = {o.path: o for o in locked.outs if o.cache and o.path not in stage.out_paths}
    found: list[str] = []
    for out in stage.outs:
        path = _file_in_the_way(repo, out.path)
        if path in recorded and path not in found and _dropped_and_cached(repo,
                                                                          recorded[path]):
            found.append(path)
    return found


def _dropped_and_cached(repo: Repo, recorded: LockedPath) -> bool:
    """Does the file at the output `recorded` (dvx.lock's) hold dvx's data, as `_own_data`
    tells it (what dvx.lock records, or where a sync record says dvx placed or recorded
    something), with all of it in the cache? Data no cache holds is never deleted."""
    try:
        current = path_state(repo, recorded.path)
    except PathError:  # a link or special file dvx did not make: not dvx's
        return False
    if current is None or current.is_dir:
        return False
    dvx_s = current.same_data(recorded) or repo.syncstate.get(recorded.path) is not None
    return dvx_s and repo.cache.exists(current.oid)


def only_outdated(reasons: list[str]) -> bool:
    """Is the stage up to date but for outputs a checkout brings?"""
    return len(reasons) == 1 and reasons[0].startswith(OUTDATED_OUTS + ":")


def only_behind_git(reasons: list[str]) -> bool:
    """Is the stage up to date but for outputs whose dvx.lock entry moved in Git since the
    workspace was synced (not checked out, or edited here too)? `dvx status` names those
    with the data, and `repro` never runs the stage over them."""
    return bool(reasons) and all(r.startswith((OUTDATED_OUTS + ":", CONFLICTED_OUTS + ":"))
                                 for r in reasons)


def _placed_elsewhere(repo: Repo, recorded: LockedPath) -> bool:
    """Did dvx place at the path some other version than dvx.lock records? (Sync records
    only, or with no record for the path, the versions HEAD's recent commits recorded:
    the cheap first half of `_outdated`, which hashes nothing.)"""
    synced = repo.syncstate.get(recorded.path)
    if synced is None:
        return any(earlier.oid != recorded.oid for earlier in recorded_lately(
            repo, recorded.path, in_lock=True))
    return any(layer.oid != recorded.oid for layer in synced.layers())


def _outdated(repo: Repo, current: LockedPath, recorded: LockedPath) -> bool:
    """Does the workspace hold only what dvx placed at the path, but not what dvx.lock records
    (a teammate's run came with `git pull`)? A directory placed in part (`dvx pull
    outdir/f1`, a checkout stopped half-way) counts when each file in it is a version a
    checkout placed, as the data status reads it (ops/sync_layers.py), and some of them are
    of another version than dvx.lock records (one that only lacks files is not pulled).
    With no record of what the workspace was synced to (dvx/syncstate.py), when it holds
    what dvx.lock recorded at one of HEAD's recent commits, as status judges it."""
    synced = repo.syncstate.get(current.path)
    if current.oid == recorded.oid or not _placed_elsewhere(repo, recorded):
        return False
    if synced is None:
        return any(earlier.oid == current.oid for earlier in recorded_lately(
            repo, current.path, in_lock=True))
    if synced.placed is None and synced.base is None:
        return synced.oid == current.oid
    full = repo.abspath(current.path)
    if not os.path.isdir(full) or os.path.islink(full):
        return False
    return holds_what_was_placed(repo, scan_directory(repo, full, current.path), synced)


def produced_outputs(locks: Mapping[str, StageLock]) -> dict[str, LockedPath]:
    """Each cached output a stage of `locks` (dvx.lock) records, by path: built once per
    command and handed to `deps_as_checked_out` for every stage."""
    return {o.path: o for lock in locks.values() for o in lock.outs if o.cache}


def deps_as_checked_out(repo: Repo, state: StageState, produced: Mapping[str, LockedPath],
                        pulled: Mapping[str, LockedPath] | None = None) -> StageState:
    """`state` with each dependency that holds an output another stage produced
    (`produced_outputs`) that is not checked out (that stage's dvx.lock entry moved in Git)
    as checking that output out makes it: the output as dvx.lock records it, a path inside it
    as its recorded manifest has it (missing if it lacks it; unknown, so changed, if the
    cache lacks the manifest), a directory around it with its recorded data in place. That is
    what this stage compares, and would run with. `pulled`: tracked data that `repro --pull`
    fetches and checks out first (`repro --dry --pull`: missing from the workspace, or
    holding what its checkout replaces), by path as its pointer or dvx.lock records it, taken
    as in place the same way."""
    deps: list[LockedPath] = []
    missing: list[str] = []
    unknown = list(state.unknown_deps)
    now: dict[str, LockedPath | None] = {d.path: d for d in state.deps}
    now.update(dict.fromkeys(state.missing_deps))
    for rel, current in now.items():
        found = _dep_as_checked_out(repo, rel, current, produced, pulled or {})
        if found is _UNKNOWN:
            unknown.append(rel)
        elif found is None:
            missing.append(rel)
        else:
            assert isinstance(found, LockedPath)
            deps.append(found)
    return replace(state, deps=tuple(deps), missing_deps=missing, unknown_deps=unknown)


_UNKNOWN = object()  # what a checkout brings is not known: the cache lacks the manifest


def _dep_as_checked_out(repo: Repo, rel: str, current: LockedPath | None,
                        produced: Mapping[str, LockedPath], pulled: Mapping[str, LockedPath]
                        ) -> LockedPath | object | None:
    """The dependency `rel` (`current`: as the workspace holds it, None if missing) as
    checking out the produced outputs (and pulled data) it is, is inside or holds makes it."""
    if rel in pulled:
        return _as_recorded(pulled[rel])
    around = nearest_parent_in(rel, pulled)
    if around is not None:
        return _recorded_at(repo, rel, around)
    if rel in produced:
        out = produced[rel]
        return _as_recorded(out) if current is not None and _outdated(repo, current,
                                                                        out) else current
    around = nearest_parent_in(rel, produced)
    if around is not None:
        return _recorded_at(repo, rel, around) if _not_checked_out(repo, around) else current
    inside = ([o for path, o in produced.items() if path.startswith(rel + "/")]
              if current is not None and current.is_dir else [])
    outdated = [o for o in inside if _not_checked_out(repo, o)]
    outdated += [o for path, o in pulled.items()
                 if path.startswith(rel + "/") and (current is None or current.is_dir)]
    if not outdated:
        return current
    files = scan_directory(repo, repo.abspath(rel), rel, recorded=recorded_below(repo, rel)
                           ) if current is not None else {}
    for out in outdated:
        below = out.path[len(rel) + 1:]
        files = {p: e for p, e in files.items() if p != below and not p.startswith(below + "/")}
        if not out.is_dir:
            files[below] = TreeEntry(below, out.oid, out.size, out.executable)
            continue
        tree = _recorded_tree(repo, out)
        if tree is None:
            return _UNKNOWN
        files.update((f"{below}/{e.path}", e._replace(path=f"{below}/{e.path}"))
                     for e in tree.entries)
    return _tree_state(repo.algo, rel, files.values())


def _not_checked_out(repo: Repo, out: LockedPath) -> bool:
    if not _placed_elsewhere(repo, out):  # the usual case, known without a scan
        return False
    current = path_state(repo, out.path)
    return current is not None and _outdated(repo, current, out)


def _recorded_tree(repo: Repo, out: LockedPath) -> Tree | None:
    """The manifest dvx.lock records for the directory output, None if the cache lacks it."""
    return load_tree(repo, Pointer("dir", repo.algo, out.oid, out.size, out.nfiles), LOCK_FILE)


def _recorded_at(repo: Repo, rel: str, out: LockedPath) -> LockedPath | object | None:
    """The file or directory `rel` inside the directory output `out` as its recorded
    manifest has it: None if it has nothing there, _UNKNOWN if the cache lacks it."""
    tree = _recorded_tree(repo, out)
    if tree is None:
        return _UNKNOWN
    sub = rel[len(out.path) + 1:]
    entry = tree.get(sub)
    if entry is not None:
        return LockedPath(rel, entry.oid, entry.size, executable=entry.executable)
    # The paths below `sub/` sort from `sub/` up to `sub0` ("0" follows "/").
    rows = range(bisect_left(tree.paths, sub + "/"), bisect_left(tree.paths, sub + "0"))
    below = [tree.entry(i)._replace(path=tree.paths[i][len(sub) + 1:]) for i in rows]
    return _tree_state(repo.algo, rel, below) if below else None


def _tree_state(algo: str, rel: str, entries: Iterable[TreeEntry]) -> LockedPath:
    tree = Tree.build(algo, entries)
    return LockedPath(rel, tree.oid(), tree.size, tree.nfiles)


def _as_recorded(out: LockedPath) -> LockedPath:
    return LockedPath(out.path, out.oid, out.size, out.nfiles, out.executable)


def _flags(p: LockedPath) -> tuple[bool, bool, str | None]:
    return p.cache, p.push, p.remote


def _listed(label: str, paths: list[str]) -> str:
    return f"{label}: {named_list(paths, most=10)}"


class Staleness(NamedTuple):
    """Why a stage must run, and the outputs it names as changed both here and in Git."""
    reasons: list[str]  # short phrases ("changed deps: data/x.csv"); [] if up to date
    conflicted: list[str]  # CONFLICTED_OUTS, each path whole (a reason names only a few)
    # HOLDING_OUTS: {output: the `.git` or `.dvx` in it}, which no run may go over
    holding: Mapping[str, str] = {}
    own_data: Sequence[str] = ()  # OWN_DATA_OUTS, which no run may go over but a forced one
    # FORMER_ALGORITHM_OUTS, among `own_data`: {output: the algorithm the cache holds it under}
    former_algorithm: Mapping[str, str] = {}
    # FILE_IN_THE_WAY: {output: the file where a folder of its path goes}, which no run
    # deletes, forced or not
    behind_a_file: Mapping[str, str] = {}


def staleness(repo: Repo, stage: Stage, locked: StageLock | None, state: StageState,
              produced: Mapping[str, LockedPath] | None = None,
              left_out: Mapping[str, LeftOut] | None = None,
              pulled: Mapping[str, LockedPath] | None = None) -> Staleness:
    """Why `stage` must run, as short phrases ("changed deps: data/x.csv"), none if it is up to
    date; and its outputs changed both here and in Git. Frozen stages are the caller's business.
    With `produced` (`produced_outputs` of all of dvx.lock), a dependency another stage produced
    that is not checked out compares as that stage's dvx.lock entry records it (what checking it
    out brings), not as the workspace holds it. `left_out` (`tracked_data_left_out`):
    dependencies whose pointers the sparse checkout leaves out, named as such rather than
    compared (`dvx repro` refuses them: what is on disk there is no version dvx can tell).
    `pulled`: outputs that `repro --pull` checks out as dvx.lock records them first (see
    compare_outs)."""
    if produced:
        state = deps_as_checked_out(repo, state, produced)
    shut = {dep: left_out[dep] for dep in stage.deps if left_out and dep in left_out}
    if shut:
        state = replace(state, deps=tuple(d for d in state.deps if d.path not in shut),
                        missing_deps=[d for d in state.missing_deps if d not in shut],
                        unknown_deps=[d for d in state.unknown_deps if d not in shut])
    reasons: list[str] = []
    if stage.always_changed:
        reasons.append("always changed")
    if shut:
        reasons.append(_listed("deps left out by the sparse checkout", list(shut)) + " ("
                       f"{adding_to_sparse_checkout(repo.root, list(shut.values()))} brings "
                       "their pointers back)")
    if state.missing_deps:
        reasons.append(_listed("missing deps", state.missing_deps))
    if state.missing_params:
        reasons.append(_listed("missing params", state.missing_params))
    if locked is None:  # nothing to compare, but a run would go over what its outputs hold
        reasons.append("never run")
        holding = outputs_holding_a_repository(repo, stage)
        if holding:
            reasons.append(_holding_reason(holding))
        behind_a_file = outputs_behind_a_file(repo, stage, None)
        if behind_a_file:
            reasons.append(_behind_a_file_reason(behind_a_file))
        return Staleness(reasons, [], holding, behind_a_file=behind_a_file)
    if tuple(locked.cmd) != stage.cmd:
        reasons.append("changed command")
    recorded = {d.path: d for d in locked.deps}
    changed = [d.path for d in state.deps if not d.same_data(recorded.get(d.path))]
    changed += state.unknown_deps
    changed += sorted(set(recorded) - set(stage.deps) - set(state.missing_deps))
    if changed:
        reasons.append(_listed("changed deps", changed))
    params = _changed_params(locked.params, state.params,
                             _missing_now(stage, state, locked.params))
    if params:
        reasons.append(_listed("changed params", params))
    missing_outs, changed_outs, outdated_outs, conflicted, holding, own_data = compare_outs(
        repo, stage, locked, pulled)
    declared = set(stage.out_paths)
    dropped_outs = [p for p in changed_outs if p not in declared]  # not outputs now
    changed_outs = [p for p in changed_outs if p in declared and p not in own_data]
    if missing_outs:
        reasons.append(_listed("missing outs", missing_outs))
    if changed_outs:
        reasons.append(_listed("changed outs", changed_outs))
    if dropped_outs:
        reasons.append(_listed("dropped outs", dropped_outs))
    if outdated_outs:
        reasons.append(_listed(OUTDATED_OUTS, outdated_outs))
    if conflicted:
        reasons.append(_listed(CONFLICTED_OUTS, conflicted))
    if holding:
        reasons.append(_holding_reason(holding))
    former = {path: algo for path in own_data if (algo := algorithm_holding(repo, path))}
    own = [path for path in own_data if path not in former]
    if own:
        reasons.append(_own_data_reason(own))
    if former:
        reasons.append(_former_algorithm_reason(repo, former))
    behind_a_file = outputs_behind_a_file(repo, stage, locked)
    if behind_a_file:
        reasons.append(_behind_a_file_reason(behind_a_file))
    return Staleness(reasons, conflicted, holding, own_data, former, behind_a_file)


def _own_data_reason(paths: list[str]) -> str:
    """The reason naming the outputs holding data of the user's own (OWN_DATA_OUTS), over
    which `repro` refuses to run the stage (`own_data_ways_out` says what to do)."""
    return (_listed(OWN_DATA_OUTS, paths) + " (never placed here by dvx: `dvx repro` refuses "
            f"to delete {'it' if len(paths) == 1 else 'them'})")


def _former_algorithm_reason(repo: Repo, former: Mapping[str, str]) -> str:
    """The reason naming the outputs holding data of a former hash algorithm
    (FORMER_ALGORITHM_OUTS), over which an unforced `repro` refuses to run the stage
    (`former_algorithm_way_out` says what to do)."""
    paths = list(former)
    algos = " and ".join(sorted(set(former.values())))
    return (_listed(FORMER_ALGORITHM_OUTS, paths) + f" (recorded with {algos} before this "
            f"repository moved to {repo.algo}: `dvx repro` refuses to delete "
            f"{'it' if len(paths) == 1 else 'them'})")


def former_algorithm_way_out(repo: Repo, stage: str, former: Mapping[str, str]) -> str:
    """What to do of the outputs of the stage named `stage` holding data of a former hash
    algorithm (FORMER_ALGORITHM_OUTS, `former`: {output: algorithm}): a forced run records
    them anew, the former copy staying in the cache."""
    them = "it" if len(former) == 1 else "them"
    algos = " and ".join(sorted(set(former.values())))
    return (f"`dvx repro --force {stage}` runs the stage over {them} and records {them} "
            f"with {repo.algo}; the {algos} copy stays in the cache")


def _holding_reason(holding: Mapping[str, str]) -> str:
    """The reason naming the `.git` or `.dvx` held by the stage's output folders (HOLDING_OUTS),
    over which `repro` refuses to run it."""
    return (_listed(HOLDING_OUTS, list(holding.values())) + " (`dvx repro` refuses to run it "
            "over them: move that repository out first)")


def _behind_a_file_reason(behind_a_file: Mapping[str, str]) -> str:
    """The reason naming the files standing where folders of the stage's outputs go
    (FILE_IN_THE_WAY), over which `repro` refuses to run it."""
    files = sorted(set(behind_a_file.values()))
    it = "it" if len(files) == 1 else "them"
    return (_listed(FILE_IN_THE_WAY, files)
            + f" (`dvx repro` refuses to delete {it}: move {it} away)")


def own_data_ways_out(stage: str, paths: Sequence[str], again: str = "`dvx repro`",
                      forced: str = "") -> str:
    """What to do of the outputs `paths` of the stage named `stage` holding data of the user's own
    (OWN_DATA_OUTS): keep it elsewhere, then run `again` (the command refused, in backquotes),
    or have a forced run replace it: `forced`, the command that runs the stage over it and
    what else it runs (empty: `dvx repro --force STAGE`)."""
    them = "it" if len(paths) == 1 else "them"
    forcing = (f"{forced} runs every stage of the run again, this one over {them}" if forced
               else f"`dvx repro --force {stage}` runs the stage over {them}")
    return (f"move {them} away (no cache or remote holds a copy), then run {again} "
            f"again; or {forcing}, deleting {them}")


class ComparedOuts(NamedTuple):
    """A stage's outputs against its dvx.lock entry, by what is to be done of each."""
    missing: list[str]
    changed: list[str]  # edited here, or made by a run of the stage here
    outdated: list[str]  # OUTDATED_OUTS: a checkout brings what dvx.lock records
    conflicted: list[str]  # CONFLICTED_OUTS: edited here and moved in Git (_edited_behind)
    holding: dict[str, str]  # HOLDING_OUTS: {output: the `.git` or `.dvx` in it}
    own_data: list[str]  # OWN_DATA_OUTS (_own_data), among `changed`


def compare_outs(repo: Repo, stage: Stage, locked: StageLock | None,
                 pulled: Mapping[str, LockedPath] | None = None) -> ComparedOuts:
    """The stage's outputs that are missing, changed, not checked out (OUTDATED_OUTS), and
    changed both here and in Git (CONFLICTED_OUTS) against its dvx.lock entry `locked` (None:
    never recorded, so each output there is changed). An output dvx.lock records that the
    stage no longer has counts as changed. `pulled` (`repro --dry --pull`): outputs compared
    as the pull's checkout leaves them, as recorded, rather than as the workspace holds them
    now. An output folder holding a repository of its own (HOLDING_OUTS) is none of these:
    nothing of it is compared. Of the changed outputs, `own_data` names those holding data of
    the user's own (OWN_DATA_OUTS, `_own_data`) that a run would delete: never one that
    persists, which the command continues from."""
    recorded_outs = {o.path: o for o in locked.outs} if locked is not None else {}
    pulled = pulled or {}
    missing_outs, changed_outs, outdated_outs, conflicted, own_data = [], [], [], [], []
    holding: dict[str, str] = {}
    for out in stage.outs:
        try:
            current = (with_declared_flags(pulled[out.path], out) if out.path in pulled
                       else out_state(repo, out))
        except PathError:
            inside = repository_held(repo, out.path)
            if inside is None:
                raise
            holding[out.path] = inside
            continue
        old = recorded_outs.get(out.path)
        if current is None:
            missing_outs.append(out.path)
        elif (old is not None and current.cache and _flags(current) == _flags(old)
              and _outdated(repo, current, old)):  # cache: false outputs are Git's to check out
            outdated_outs.append(out.path)
        elif (old is not None and current.cache and _flags(current) == _flags(old)
              and out.path not in pulled and _edited_behind(repo, current, old)):
            conflicted.append(out.path)
        elif old is None or not current.same_data(old) or _flags(current) != _flags(old):
            changed_outs.append(out.path)
            if (old is not None and not out.persist and out.path not in pulled
                    and _own_data(repo, current, old)):  # a run keeps a persisting output
                own_data.append(out.path)
        elif current.cache and out.path not in pulled:
            _note_in_sync(repo, current, old)
    changed_outs += sorted(set(recorded_outs) - set(stage.out_paths))
    return ComparedOuts(missing_outs, changed_outs, outdated_outs, conflicted, holding,
                        own_data)


def _own_data(repo: Repo, current: LockedPath, recorded: LockedPath) -> bool:
    """Does the workspace hold, at a cached output, data of the user's own: other data than
    dvx.lock records, some of it in no cache, where no sync record says dvx placed or
    recorded anything (files made before `git pull` brought the stage's run)? A run
    deletes its outputs first, and nothing could bring those bytes back. Data the cache
    holds can be put back, and a path dvx synced holds an edit of what it placed there
    (`_edited_behind` tells those)."""
    if (not current.cache or current.same_data(recorded)
            or repo.syncstate.get(current.path) is not None):
        return False
    if not current.is_dir:
        return not repo.cache.exists(current.oid)
    _, entries = _scanned(repo, current.path, None)  # hashed already: the stat cache answers
    return any(not repo.cache.exists(entry.oid) for entry in (entries or {}).values())


def _edited_behind(repo: Repo, current: LockedPath, recorded: LockedPath) -> bool:
    """Does the workspace hold other data than dvx.lock records, where dvx last placed (in
    whole or, for a directory, in part) another version than it records (dvx.lock moved in
    Git since, and the output was edited here)? A run of the stage made here, or an edit
    of what dvx.lock records, was synced to it (dvx/syncstate.py). With no record of what the
    workspace was synced to, an edit cannot be told from Git's change: a change."""
    if current.same_data(recorded):
        return False
    synced = repo.syncstate.get(current.path)
    return synced is not None and any(layer.oid != recorded.oid for layer in synced.layers())


def with_declared_flags(recorded: LockedPath, out: Out) -> LockedPath:
    """`recorded` with the cache, push and remote options dvx.yaml now gives its output."""
    return replace(recorded, cache=out.cache, push=out.push, remote=out.remote)


def _note_in_sync(repo: Repo, current: LockedPath, recorded: LockedPath) -> None:
    """An output found holding what dvx.lock records, with no record of what the workspace
    was synced to: noted, for the next write of the records to record it (dvx/syncstate.py);
    it was hashed already."""
    if repo.syncstate.get(current.path) is None and current.executable == recorded.executable:
        repo.syncstate.note_in_sync(
            current.path, Synced.whole(recorded.oid, recorded.is_dir, recorded.executable),
            in_lock=True)


def _missing_now(stage: Stage, state: StageState, recorded: Any) -> set[tuple[str, str]]:
    """The (file, key) params of `recorded` (dvx.lock) that `missing params` names, as their
    key or their file is gone: not changed params too."""
    gone = {d.file for d in stage.params if d.file not in state.params}
    declared = {(d.file, k) for d in stage.params for k in d.keys}
    return {(file, key) for file, values in recorded.items() for key in values
            if file in gone or ((file, key) in declared
                                and key not in state.params.get(file, {}))}


def _changed_params(old: Any, new: dict[str, dict[str, Any]], missing: set[tuple[str, str]]
                    ) -> list[str]:
    changed = []
    for file in sorted(set(old) | set(new)):
        before, after = old.get(file, {}), new.get(file, {})
        changed += [k for k in sorted(set(before) | set(after)) if (file, k) not in missing
                    and (k not in before or k not in after
                         or not same_value(before[k], after[k]))]
    return changed

