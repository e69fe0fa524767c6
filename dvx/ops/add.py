"""dvx add: start tracking files and directories (recording goes through ops/commit.py)."""

from __future__ import annotations

import os
import stat

from dvx import gitignore
from dvx.errors import PathError, UsageError
from dvx.lockfile import LOCK_FILE, PIPELINE_FILE
from dvx.logs import get_logger
from dvx.ops.commit import (
    AddResult,
    check_storable,
    finish,
    given_back_unless_recorded,
    plan,
    prepare,
    refuse_changed_pointers,
    refuse_former_output_aside,
    refuse_if_behind,
    refuse_moved_aside_whole,
    refuse_unwritten,
    status_setting_aside,
    write_pointers,
)
from dvx.ops.data_places import (
    TrackedPaths,
    refuse_dvxignored,
    refuse_git_tracked,
    refuse_ignored_pointers,
    refuse_left_out_tracking,
    refuse_long_names,
    refuse_nested_targets,
    refuse_overlap,
)
from dvx.ops.former_outputs import deleted_unless_failing, own_gitignores
from dvx.ops.remote_places import (
    configured_directory_remotes,
    move_the_remote,
    refuse_remote_in_data,
)
from dvx.outputs import (
    Broken,
    DeclaringOutputs,
    DeclaringStage,
    Output,
    StagesDeclaring,
    check_data_path,
    making_hint,
    scan_outputs,
)
from dvx.paths import POINTER_SUFFIX, for_command, overlaps, repo_relpath
from dvx.repo import Repo
from dvx.workspace import remove_temporaries_beside, untrackable_link_error

log = get_logger(__name__)


def add(repo: Repo, paths: list[str] | tuple[str, ...], force: bool = False,
        declared: DeclaringOutputs | None = None) -> AddResult:
    """`declared` (what dvx.yaml declares) lets the refusal of a stage's output name the
    stage that rebuilds it now, or `dvx repro` when dvx.yaml no longer declares it."""
    if not paths:
        raise UsageError("Nothing to add.", "Name the files or directories to track.")
    rels = [_check_addable(repo, p) for p in paths]
    refuse_nested_targets(rels, paths)
    repo.refuse_own_hash_setting()  # before the pointers it makes unreadable are named
    found, broken = scan_outputs(repo)
    for item in broken:
        if any(item.touches(rel) for rel in rels):
            raise item.error
    _warn_of_unrelated(broken)
    outputs = {o.path: o for o in found}
    tracked = TrackedPaths(outputs, {p: o.stage for p, o in outputs.items() if o.stage})
    now = declared() if declared is not None else None
    # The add to run again once an overlap is resolved: of every path given, not the one alone
    again = f"`dvx add {' '.join(for_command(repo.root, rel) for rel in rels)}` again"
    for rel, display in zip(rels, paths, strict=True):
        _refuse_stage_output(repo.root, outputs.get(rel), display, now)
        refuse_overlap(repo.root, rel, display, tracked, again=again)
    _refuse_declared_outputs(repo.root, rels, paths, now)
    refuse_left_out_tracking(repo, rels, paths)  # tracked too, though not in the workspace
    refuse_remote_in_data(configured_directory_remotes(repo),
                          [(rel, "data to add") for rel in rels], "tracking it would record "
                          "the remote's objects as data, and `dvx checkout --force` would "
                          "delete them as changes of it.", move_the_remote(repo.root))
    # dvx's own .gitignore for a former output inside a folder to track is no data of it
    own = own_gitignores(repo, [rel for rel in dict.fromkeys(rels) if rel not in outputs
                                and os.path.isdir(repo.abspath(rel))])
    refuse_git_tracked(repo, rels, paths, pointed=outputs, not_data=own)
    refuse_ignored_pointers(repo, rels)
    with repo.lock(stages_in_git=True), deleted_unless_failing(repo, own):
        remove_temporaries_beside(repo.root, rels)
        statuses = {rel: status_setting_aside(repo, outputs[rel])
                    for rel in dict.fromkeys(rels) if rel in outputs}
        for status in statuses.values():
            refuse_if_behind(repo.root, status, force, command="add")
            refuse_former_output_aside(repo.root, status)
        # Every refusal before any target is stored: a refused add leaves the cache as it was
        planned = {rel: plan(repo, rel, outputs.get(rel), statuses.get(rel), force)
                   for rel in dict.fromkeys(rels)}
        scans = check_storable(repo, planned, new=[rel for rel in planned if rel not in outputs])
        prepared = []
        with given_back_unless_recorded(repo) as linked:
            for rel, planned_one in planned.items():
                prepared.append(prepare(repo, rel, outputs.get(rel), status=statuses.get(rel),
                                        force=force, scanned=scans.get(rel), linked=linked,
                                        planned=planned_one))
            refuse_changed_pointers(repo, prepared, "add")
            written = write_pointers(repo, prepared, linked)
            result = finish(repo, written.added, deleted=own)
            refuse_unwritten(repo, written, result, "add")
        return result


def _warn_of_unrelated(broken: list[Broken]) -> None:
    """Name the pointer files (and dvx.lock) that cannot be read, or that overlap, but that
    none of the paths added needs: the add is whole without them, so they do not fail it."""
    for item in broken:
        hint = f" {item.error.hint}" if item.error.hint else ""
        if item.pair is not None:  # both readable, but in conflict (dvx/overlapping.py)
            log.warning("Went on without %s, which overlap, a conflict a Git merge left that "
                        "no path added needs: %s%s", item.pair, item.error.message, hint)
            continue
        log.warning("Went on without %s, which cannot be read and which no path added needs: "
                    "%s%s", item.path, item.error.message, hint)


def _check_addable(repo: Repo, path: str) -> str:
    rel = repo_relpath(repo.root, path)
    check_data_path(repo, rel, path)
    refuse_long_names(rel, path, "Rename it, or track the directory that holds it.")
    full = repo.abspath(rel)
    try:
        st = os.lstat(full)
    except FileNotFoundError:
        refuse_moved_aside_whole(repo.root, rel)
        raise PathError(f"'{path}' does not exist.") from None
    if stat.S_ISLNK(st.st_mode):
        if repo.cache.object_for_symlink(os.path.realpath(full)) is None:
            raise untrackable_link_error(repo, full, path)
    elif not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
        raise PathError(f"'{path}' is not a regular file or directory.")
    refuse_dvxignored(repo, rel, stat.S_ISDIR(st.st_mode), path, "Change that rule to track "
                      f"it; `dvx check-ignore -d {for_command(repo.root, rel)}` shows what "
                      "ignores a path.")
    gitignore.check_readable(full)  # before anything is stored
    if os.path.isdir(full + POINTER_SUFFIX):
        raise PathError(f"'{rel}{POINTER_SUFFIX}' is a directory, where dvx would write the "
                        f"pointer file of '{path}'.", "Rename or remove that directory first.")
    return rel


def _refuse_stage_output(root: str, output: Output | None, display: str,
                         now: StagesDeclaring | None) -> None:
    if output is None or output.stage is None:
        return
    what = (f"'{display}' is an output of the pipeline stage '{output.stage}' (recorded in "
            "dvx.lock), not data to add")
    declaring = _declaring_now(now, output)
    stage = declaring.name if declaring is not None else None
    again = f"`dvx add {for_command(root, output.path)}` again"
    if stage is None and not os.path.lexists(os.path.join(root, PIPELINE_FILE)):
        # `dvx repro` refuses to drop every entry while dvx.yaml is missing
        raise PathError(f"{what}, while {PIPELINE_FILE} is missing.",
                        f"Restore {PIPELINE_FILE} to keep the pipeline (`dvx status` says "
                        f"how); to give it up, write a {PIPELINE_FILE} holding `stages: {{}}` "
                        f"and run `dvx repro`, which drops it from dvx.lock, then {again}.")
    if stage is None:  # the stage is gone from dvx.yaml, or no longer outputs it
        raise PathError(f"{what}, though dvx.yaml no longer declares it.",
                        f"Run `dvx repro`, which drops it from dvx.lock, then {again}.")
    if stage != output.stage:  # moved to another stage: both stages' entries change
        raise PathError(f"{what}; dvx.yaml now declares it in stage '{stage}'.",
                        "Run `dvx repro`, which records it as that stage's output.")
    rebuild = f"Run `dvx repro {stage}` to rebuild it"
    if declaring is not None and declaring.frozen:  # repro skips a frozen stage
        rebuild = f"Run `dvx unfreeze {stage}`, then `dvx repro {stage}`, to rebuild it"
    raise PathError(f"{what}.", f"{rebuild}, or `dvx commit "
                    f"{for_command(root, output.path)}` to record it as it is now.")


def _declaring_now(now: StagesDeclaring | None, output: Output) -> DeclaringStage | None:
    """The stage dvx.yaml declares `output` in now (None: in none); the stage dvx.lock
    records it in, as it stands, when what dvx.yaml declares is not known."""
    recorded = DeclaringStage(output.stage or "")
    if now is None or now.unreadable is not None:
        return recorded
    declaring = now.outputs.get(output.path)
    if declaring is None and now.unread:  # maybe declared in a stage that cannot be read
        return recorded
    return declaring


def _refuse_declared_outputs(root: str, rels: list[str], displays: list[str] | tuple[str, ...],
                             now: StagesDeclaring | None) -> None:
    """Every path dvx.yaml declares as an output is its stage's, whether a run made it yet or
    not and whether the cache keeps it or Git does (`cache: false`, which dvx.lock records
    but no pointer): a pointer at it, in it or around it would overlap the stage's output,
    and every pipeline command would refuse dvx.yaml. What a stage that cannot be read
    declares is unknown: the add goes on, saying so."""
    if now is None:
        return
    for rel, display in zip(rels, displays, strict=True):
        for out, stage in now.outputs.items():
            if overlaps(out, rel):
                raise PathError(
                    f"'{display}' {_relation(out, rel)} an output the pipeline stage "
                    f"'{stage.name}' declares in {PIPELINE_FILE}, not data to add: the stage "
                    f"makes it, and {LOCK_FILE} records it once the stage has run.",
                    f"{making_hint(root, out, stage)}; to track it as data of its own, take it "
                    f"out of the stage's outs in {PIPELINE_FILE} first.")
    _warn_of_unread_stages(now, displays)


def _warn_of_unread_stages(now: StagesDeclaring, displays: list[str] | tuple[str, ...]) -> None:
    """Name what of dvx.yaml cannot be read, whose outputs the paths added were not checked
    against."""
    added = ", ".join(f"'{display}'" for display in displays)
    if now.unreadable is not None:
        log.warning("Did not check %s against the outputs %s declares, since what it declares "
                    "cannot be known: %s", added, PIPELINE_FILE, now.unreadable)
    for name, why in now.unread.items():
        log.warning("Did not check %s against the outputs stage '%s' declares, since that "
                    "stage of %s cannot be read: %s", added, name, PIPELINE_FILE, why)


def _relation(out: str, rel: str) -> str:
    if out == rel:
        return "is"
    return f"is inside '{out}'," if rel.startswith(out + "/") else f"contains '{out}',"
