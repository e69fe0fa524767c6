"""The inputs of a run's stages that no experiment can hold: a dependency or params file Git
ignores and neither Git nor dvx tracks (a machine's own `local.cfg`), and a new file that
neither Git nor dvx tracks yet but that is too large for an experiment's commit, which leaves
it out (over `LARGEST_NEW_FILE`: data, for `dvx add`). An experiment's commit holds what Git
would commit, small new files included, so it lacks them: a queued run, which starts from a
snapshot of the workspace, would not find them (refused when queued,
`refuse_inputs_not_held`); a run in the workspace has them, and its experiment records the
results made from them but not them (warned of, `warn_inputs_not_held`), as does `exp
save`'s. Data dvx tracks (a pointer, a stage's output) is recorded by its pointer or
dvx.lock, or made again by its stage (every output dvx.yaml declares), and a file staged
with `git add` (`-f` too) is Git's. A folder tracked with `dvx add` of which Git's index
holds some files but not all cannot be given to a queued run either: its worktree gets Git's
files from Git, and `dvx checkout` leaves data Git tracks to Git
(`refuse_inputs_git_holds_in_part`)."""

from __future__ import annotations

import os
from collections.abc import Collection

from dvx.errors import PathError, UsageError
from dvx.experiment_refs import new_files_left_out
from dvx.logs import get_logger
from dvx.ops.data_places import tracked_by_git, tracked_by_git_within
from dvx.outputs import all_outputs, load_tree
from dvx.paths import at_or_below_any, for_command, overlaps
from dvx.pipeline.graph import Dag, load_dag
from dvx.pipeline.spec import ParamsSet
from dvx.repo import Repo
from dvx.scm import git_add_command, untrack_command, user_git
from dvx.wording import named_list

log = get_logger(__name__)

_NAMED = 5  # inputs named in a message, with their rules; the rest are counted


def ignored_inputs(repo: Repo, targets: tuple[str, ...] = (),
                   params_set: ParamsSet | None = None) -> dict[str, str]:
    """{path: the rule Git ignores it by} for the dependencies and params files of a run of
    the stages `targets` (with those they depend on; every stage, none named) that the
    workspace has, that Git ignores (itself, or a folder holding it) and that neither Git nor
    dvx tracks. A frozen stage does not run, and is left out. None without a dvx.yaml.
    `params_set`: the params files as the run's -S will have set them, which dvx.yaml's
    `${}` may name the inputs by (spec.parse_pipeline)."""
    dag = load_dag(repo, params_set=params_set)
    if dag is None or repo.git is None:
        return {}
    tracked = _tracked_as_data(repo, dag)
    candidates = [path for path in _run_inputs(repo, dag, targets)
                  if not any(overlaps(data, path) for data in tracked)]
    rules = repo.git.ignore_rules(candidates)
    in_git = tracked_by_git(repo, sorted(rules)) if rules else {}
    return {path: rule for path, rule in sorted(rules.items()) if path not in in_git}


def inputs_too_large(repo: Repo, targets: tuple[str, ...] = (),
                     params_set: ParamsSet | None = None) -> dict[str, str]:
    """{file: the input it is, or is in} for the files that the dependencies and params
    files of a run of the stages `targets` (as `ignored_inputs` picks them) are or hold,
    that neither Git nor dvx tracks nor Git ignores, and that an experiment's commit leaves
    out for their size (`new_files_left_out`): a new `big.bin` a stage reads, not yet added
    with `dvx add`. The input is what to add: a pointer inside a folder a stage reads is
    refused as its data."""
    dag = load_dag(repo, params_set=params_set)
    if dag is None or repo.git is None:
        return {}
    tracked, inputs = set(_tracked_as_data(repo, dag)), _run_inputs(repo, dag, targets)
    new = [path for path in repo.git.untracked_unignored(inputs)
           if not at_or_below_any(path, tracked)]
    return {path: next(read for read in inputs if at_or_below_any(path, {read}))
            for path in new_files_left_out(repo, new)}


def _run_inputs(repo: Repo, dag: Dag, targets: tuple[str, ...]) -> list[str]:
    """The dependencies and params files the workspace has of the stages a run of `targets`
    runs (not frozen ones), each once."""
    read = dict.fromkeys(path for name in dag.select(targets, False, False)
                         if not dag.stages[name].frozen for path in dag.stages[name].inputs)
    return [path for path in read if os.path.lexists(repo.abspath(path))]


def _tracked_as_data(repo: Repo, dag: Dag) -> list[str]:
    """The paths a run has from dvx, whatever Git holds: data tracked with `dvx add`, and
    the outputs its stages make (`_made_by_runs`)."""
    return [output.path for output in all_outputs(repo)] + _made_by_runs(dag)


def _made_by_runs(dag: Dag) -> list[str]:
    """The outputs dvx.yaml declares that a run makes again whether or not the workspace's
    Git holds them: those of the stages that are not frozen. A frozen stage's output never
    runs, so the run has it only as dvx.lock records it (all_outputs), else it stays an
    input like any other."""
    return [out.path for stage in dag.stages.values() if not stage.frozen
            for out in stage.outs]


def refuse_inputs_not_held(repo: Repo, params_set: ParamsSet | None = None) -> None:
    """Refuse to queue a run whose stages read inputs `ignored_inputs` or `inputs_too_large`
    finds: its snapshot would lack them, and the run would fail in its worktree, or run on
    none of them."""
    _refuse_ignored_inputs(repo, params_set)
    _refuse_inputs_too_large(repo, params_set)


def _refuse_ignored_inputs(repo: Repo, params_set: ParamsSet | None) -> None:
    ignored = ignored_inputs(repo, params_set=params_set)
    if not ignored:
        return
    paths, them = " ".join(for_command(repo.root, path) for path in ignored), _them(ignored)
    git_add = git_add_command(repo.root, list(ignored), force=True)
    raise UsageError(
        f"The queued run's stages read {_with_rules(ignored)}, which Git ignores and neither "
        f"Git nor dvx tracks: a queued run starts from a snapshot of what Git would commit, "
        f"which lacks {them}, and no experiment could hold {them}. Nothing was queued.",
        f"Let Git track {them} (`{git_add}`, or remove the rule), or track {them} as "
        f"data (`dvx add {paths}`); or run the experiment in this workspace (`dvx exp run` "
        f"without --queue), whose experiment then lacks {them}.")


def _refuse_inputs_too_large(repo: Repo, params_set: ParamsSet | None) -> None:
    large = inputs_too_large(repo, params_set=params_set)
    if not large:
        return
    paths, them = _to_add(repo, large), _them(large)
    raise UsageError(
        f"The queued run's stages read {_quoted(large)}, new and larger than 1 MiB, which "
        f"neither Git nor dvx tracks: a queued run starts from a snapshot of the workspace, "
        f"which leaves out new files of that size, so the run would lack {them}. Nothing was "
        f"queued.",
        f"Track {them} as data (`dvx add {paths}`), then queue the run again: its snapshot "
        f"holds the new pointer (commit it with Git to keep it on your branch); or run the "
        f"experiment in this workspace (`dvx exp run` without --queue), whose experiment "
        f"then lacks {them}.")


def refuse_inputs_git_holds_in_part(repo: Repo, read: list[str]) -> None:
    """Refuse to queue a run whose stages read (`read`) a folder tracked with `dvx add` of
    which Git's index holds some of the files its pointer names, not all: the run's
    worktree would have Git's files alone, as its checkout leaves the folder to Git."""
    folders = [output for output in all_outputs(repo) if output.stage is None
               and output.pointer.is_dir and any(overlaps(output.path, p) for p in read)]
    in_git = tracked_by_git_within(repo, [output.path for output in folders])
    for output in folders:
        held = in_git.get(output.path)
        tree = load_tree(repo, output.pointer, output.recorded_in) if held else None
        if held and "" not in held and (tree is None or set(tree.paths) - held):
            first = f"{output.path}/{min(held)}"
            raise PathError(
                f"The queued run's stages read '{output.path}', of which Git's index holds "
                f"'{first}' too (`git add -f`?): the queued run's worktree gets Git's files "
                f"from Git, and `dvx checkout` leaves data Git tracks to Git, so the run would "
                f"lack the rest of '{output.path}'. Nothing was queued.",
                f"If those files are data put in Git by mistake, "
                f"`{untrack_command(repo.root, output.path)}` stops that and keeps them (then "
                f"`{user_git(repo.root)} commit`); or run the experiment in this workspace "
                "(`dvx exp run` without --queue).")


def warn_inputs_not_held(repo: Repo, targets: tuple[str, ...] = (),
                         reading: str = "This run's stages",
                         params_set: ParamsSet | None = None) -> None:
    """Warn, once each, of the inputs `ignored_inputs` and `inputs_too_large` find of a run
    in the workspace (or of every stage's, for `exp save`: `reading` names whose inputs they
    are; `params_set`: the params files as the run's -S will have set them): the workspace
    has them, but the experiment records the results made from them without them, so `exp
    show` and `exp diff` cannot tell two runs of other versions of them apart."""
    ignored = ignored_inputs(repo, targets, params_set)
    if ignored:
        paths, them = " ".join(for_command(repo.root, path) for path in ignored), \
            _them(ignored)
        log.warning("WARNING: %s read %s, which Git ignores and neither Git nor dvx tracks: "
                    "the experiment will hold the results made from %s but not %s, so `exp "
                    "show` and `exp diff` cannot tell it from a run of other versions of %s. "
                    "For experiments to hold %s, let Git track %s (`%s`) or dvx "
                    "(`dvx add %s`).", reading, _with_rules(ignored), them, them, them, them,
                    them, git_add_command(repo.root, list(ignored), force=True), paths)
    large = inputs_too_large(repo, targets, params_set)
    if large:
        paths, them = _to_add(repo, large), _them(large)
        log.warning("WARNING: %s read %s, new and larger than 1 MiB, which neither Git nor "
                    "dvx tracks: the experiment will hold the results made from %s but not "
                    "%s, as it leaves out new files of that size, so `exp show` and `exp "
                    "diff` cannot tell it from a run of other versions of %s. For experiments "
                    "to hold %s, track %s as data (`dvx add %s`).", reading, _quoted(large),
                    them, them, them, them, them, paths)


def _with_rules(ignored: dict[str, str]) -> str:
    return named_list(list(ignored), most=_NAMED,
                      name=lambda path: f"'{path}' (rule {ignored[path]})")


def _to_add(repo: Repo, large: dict[str, str]) -> str:
    """The inputs holding the files `large` names, for `dvx add`."""
    return " ".join(for_command(repo.root, path) for path in dict.fromkeys(large.values()))


def _quoted(paths: Collection[str]) -> str:
    return named_list(list(paths), most=_NAMED, name=lambda path: f"'{path}'")


def _them(paths: Collection[str]) -> str:
    return "it" if len(paths) == 1 else "them"
