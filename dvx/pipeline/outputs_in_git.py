"""A stage deletes its outputs before it runs, and dvx keeps its cached ones out of Git: a
cached output whose files Git's index holds (a folder of code declared an output by mistake,
data taken into a commit with `git add -f`) is never deleted by a run. `repro` refuses to run
the stages it selects while one of their cached outputs is such a one (DVC refuses those
outputs too), before anything runs, whether that stage is stale or not; `status` names the
same refusal under the stale stages, for the outputs of every stage (those a plain `dvx
repro` selects).
`cache: false` outputs, such as metrics, are Git's to track (uncommitted_outputs.py).
"""

from __future__ import annotations

import posixpath
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from dvx import gitignore
from dvx.errors import PathError
from dvx.lockfile import StageLock
from dvx.ops.former_outputs import own_gitignores_gone
from dvx.pipeline.gone_outputs import gone_entries, with_outputs_of_gone
from dvx.pipeline.graph import Dag
from dvx.repo import Repo
from dvx.scm import untrack_command


@dataclass(frozen=True)
class OutputInGit:
    """The cached output `path` of stage `stage`, of which Git's index holds the files
    `tracked` (in the index's order); `persist`: the output is `persist: true`."""
    stage: str
    path: str
    tracked: list[str]
    persist: bool = False


def outputs_in_git(repo: Repo, dag: Dag, selected: Collection[str],
                   locks: Mapping[str, StageLock]) -> list[OutputInGit]:
    """The cached outputs of the stages `selected`, frozen ones left out, that Git's index
    holds files of, in the stages' order: the one rule `repro` and `status` follow. The
    .gitignore dvx wrote for outputs the stage's dvx.lock entry (in `locks`) records is dvx's
    own, not one of them (`ignores_recorded_outputs_only`): the run deletes it, with the
    output or, from a `persist` one, alone. So is one written for outputs there of a stage
    gone from dvx.yaml (renamed: `with_outputs_of_gone`), and one a command deleted already,
    its removal not yet in Git's index (`own_gitignores_gone`): what Git holds of it is that
    removal to record, never files of the output. One `git ls-files` for all."""
    if repo.git is None:
        return []
    owners = {o.path: (name, o.persist) for name in selected if not dag.stages[name].frozen
              for o in dag.stages[name].outs if o.cache}
    tracked = repo.git.tracked_under(sorted(owners))
    removed = set(own_gitignores_gone(repo, tracked))
    gone = gone_entries(dag, locks)
    entries = {name: with_outputs_of_gone(dag.stages[name], locks.get(name), gone)
               for name in {name for name, _ in owners.values()}}
    found = []
    for path, (name, persist) in owners.items():
        files = [f for f in tracked if (f == path or f.startswith(path + "/"))
                 and f not in removed
                 and not ignores_recorded_outputs_only(repo, f, entries[name])]
        if files:
            found.append(OutputInGit(name, path, files, persist))
    return found


def own_gitignores_removed(repo: Repo, outputs: list[str]) -> list[str]:
    """dvx's own .gitignore files at or below `outputs` (cached outputs a run records) that
    a command deleted, Git's index still holding them (`own_gitignores_gone`): the run names
    their removal for Git with its other changes (`git rm --cached`, or staged with them
    under core.autostage), as the run that deleted them did."""
    if repo.git is None or not outputs:
        return []
    return own_gitignores_gone(repo, repo.git.tracked_under(outputs))


def ignores_recorded_outputs_only(repo: Repo, tracked: str, locked: StageLock | None) -> bool:
    """Is the file `tracked` a .gitignore holding only the entries dvx wrote for cached
    outputs in its folder that the stage's dvx.lock entry `locked` records (`res/.gitignore`
    of the output `res/a.txt` that became `res`)? Nothing of the user's is lost when the run
    deletes it: its removal is for the user to commit, as the entries of dropped outputs."""
    folder, name = posixpath.split(tracked)
    if name != ".gitignore" or locked is None:
        return False
    names = [posixpath.basename(o.path) for o in locked.outs
             if o.cache and posixpath.dirname(o.path) == folder]
    return bool(names) and gitignore.holds_only_entries(repo.abspath(tracked), names)


def refuse_outputs_in_git(repo: Repo, dag: Dag, selected: Collection[str],
                          locks: Mapping[str, StageLock],
                          outcome: str = "nothing was run") -> None:
    """Refuse the run (PathError) when a stage of `selected` has a cached output Git's index
    holds files of, naming the first; `outcome`: what the refusal left undone."""
    found = outputs_in_git(repo, dag, selected, locks)
    if found:
        raise PathError(f"Stage '{found[0].stage}': {in_the_index(found[0])}, and "
                        f"{what_a_run_does(found[0])}, so {outcome}.",
                        _capitalized(stop_tracking(repo, found[0])) + ".")


def what_a_run_does(found: OutputInGit) -> str:
    """Why Git's files in the output `found` stop a run: it deletes its outputs first, but a
    `persist: true` one, which it keeps and records whole, Git's files in it as its data."""
    if found.persist:
        return ("a run keeps a persistent output (persist: true) and records all it holds "
                "as the stage's data, Git's files too")
    return "a stage deletes its outputs before it runs"


def in_the_index(found: OutputInGit) -> str:
    """'output 'src' is tracked by Git ('src/main.py' is in the Git index)'"""
    return (f"output '{found.path}' is tracked by Git ('{found.tracked[0]}' is in the Git "
            "index)")


def untracking(repo: Repo, found: OutputInGit) -> str:
    """The commands that stop Git tracking the output, keeping its files, and commit that."""
    return untrack_command(repo.root, found.path, then_commit=True)


def stop_tracking(repo: Repo, found: OutputInGit) -> str:
    """What lets the stage run: Git no longer tracking the output, or another output path."""
    return (f"stop tracking it in Git first ({untracking(repo, found)}), or choose another "
            "output path")


def to_json(repo: Repo, found: OutputInGit) -> dict[str, object]:
    """`found` as `status --json` gives it: what plain status says of it, field by field."""
    return {"stage": found.stage, "path": found.path, "tracked": found.tracked,
            "untracking": untracking(repo, found)}


def _capitalized(text: str) -> str:
    return text[:1].upper() + text[1:]
