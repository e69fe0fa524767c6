"""A stage deletes its outputs before it runs, `cache: false` ones too: those are Git's to
keep, so a folder of them Git tracks (a folder of code declared an output by mistake) may hold
edits Git has not committed, which nothing could bring back. `repro` refuses those before
anything runs.

What may be deleted of such a folder, and what stops the run:

    committed in Git as it is            -> deleted (`git checkout -- PATH` brings it back)
    as the stage's dvx.lock entry
    records it (its last run wrote it)   -> deleted (the run writes it again)
    otherwise: a file Git tracks changed
    or staged, or a new one Git does not
    ignore                               -> refused, naming those files

An output that is a single file is the stage's to write, whatever it holds (what a stopped
run left in a metrics file cannot be told from an edit, and the run is to replace it). A
refusal names `git checkout -- PATH`, and `git clean -fd -- PATH` when new files are among
those named (a checkout leaves them): what puts back Git's version after a stopped run. Files
Git ignores are not looked at, nor folders Git tracks no file of (the stage's own, as a cached
output is); persistent outputs are never deleted, and frozen stages never run.
"""

from __future__ import annotations

from dataclasses import dataclass

from dvx.errors import PathError
from dvx.lockfile import StageLock
from dvx.paths import at_or_below_any, for_command
from dvx.pipeline.graph import Dag
from dvx.pipeline.spec import Out
from dvx.pipeline.staleness import out_state
from dvx.repo import Repo
from dvx.scm import literal
from dvx.wording import named_list


@dataclass(frozen=True)
class UncommittedOutput:
    """The `cache: false` output folder `path` of stage `stage`, which a run of it would
    delete with the `edits` Git has not committed, of which `new` are files Git does not
    track."""
    stage: str
    path: str
    edits: list[str]
    new: list[str]


def uncommitted_outputs(repo: Repo, dag: Dag, selected: list[str],
                        locks: dict[str, StageLock]) -> list[UncommittedOutput]:
    """The output folders of the stages `selected` whose run `repro` refuses (module
    docstring), by path: the one rule `repro` and `status` follow."""
    if repo.git is None:
        return []
    owners = {o.path: (name, o) for name in selected if not dag.stages[name].frozen
              for o in dag.stages[name].outs if not o.cache and not o.persist}
    tracked = set(repo.git.tracked_under(sorted(owners)))
    in_git = {path for path in owners if any(f.startswith(path + "/") for f in tracked)}
    if not in_git:
        return []
    present = repo.git.workspace_files(*literal(sorted(in_git)))  # a file gone is not lost
    changed = repo.git.changed(present) if present else []
    found = []
    for path in sorted(in_git):
        edits = [f for f in changed if at_or_below_any(f, {path})]
        name, out = owners[path]
        if edits and not _as_last_run_left_it(repo, out, locks.get(name)):
            found.append(UncommittedOutput(name, path, edits,
                                           [f for f in edits if f not in tracked]))
    return found


def refuse_uncommitted_outputs(repo: Repo, dag: Dag, selected: list[str],
                               locks: dict[str, StageLock]) -> None:
    """Refuse the run (PathError) when a stage of `selected` would delete, with a `cache:
    false` output folder, changes Git has not committed (module docstring)."""
    found = uncommitted_outputs(repo, dag, selected, locks)
    if found:
        raise _refusal(repo, found[0])


def _as_last_run_left_it(repo: Repo, out: Out, locked: StageLock | None) -> bool:
    """Does the workspace hold `out` as the stage's dvx.lock entry records it?"""
    recorded = {o.path: o for o in locked.outs} if locked is not None else {}
    current = out_state(repo, out)
    return current is not None and current.same_data(recorded.get(out.path))


def putting_back(repo: Repo, found: UncommittedOutput) -> str:
    """The commands that put back Git's version of the folder, and what they do (`git
    checkout` leaves new files where they are)."""
    typed = for_command(repo.root, found.path)
    if not found.new:
        return f"`git checkout -- {typed}` puts back Git's version of the files it tracks"
    if len(found.new) < len(found.edits):
        return (f"`git checkout -- {typed}` and `git clean -fd -- {typed}` put back Git's "
                "version, deleting the files Git does not track")
    return f"`git clean -fd -- {typed}` deletes the files Git does not track"


def moving_away(repo: Repo, found: UncommittedOutput) -> str:
    """Short of committing them, what lets the stage's run go on: `putting_back`."""
    return (f"move them elsewhere ({putting_back(repo, found)}: all it takes when a run of "
            "the stage made the change, stopped or undone in dvx.lock)")


def to_json(repo: Repo, found: UncommittedOutput) -> dict[str, object]:
    """`found` as `status --json` gives it: what plain status says of it (`holding_changes`,
    `putting_back`), field by field."""
    return {"stage": found.stage, "path": found.path, "changes": found.edits,
            "untracked": found.new, "putting_back": putting_back(repo, found)}


def holding_changes(found: UncommittedOutput) -> str:
    """'its output 'plots' (cache: false) holds changes Git has not committed (plots/a.txt)'"""
    return (f"its output '{found.path}' (cache: false) holds changes Git has not committed "
            f"({named_list(found.edits, most=5)})")


def _refusal(repo: Repo, found: UncommittedOutput) -> PathError:
    """The refusal of stage `found.stage`'s run over the changes of its output folder."""
    return PathError(
        f"Stage '{found.stage}': {holding_changes(found)}, and a stage deletes its outputs "
        "before it runs, so nothing was run.",
        f"Commit them, or {moving_away(repo, found)}; or, if '{found.path}' is not the stage's to "
        "delete, declare another output in dvx.yaml.")
