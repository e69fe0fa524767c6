"""`dvx exp run` and `dvx exp save`: run the pipeline with changed params and record the
result as an experiment; `exp apply`, `exp branch` and `exp remove` act on recorded ones."""

from __future__ import annotations

import os
from dataclasses import dataclass

from dvx.errors import DvxError, UsageError
from dvx.exps import overrides as params
from dvx.exps.refs import (
    Experiment,
    check_name,
    experiments,
    find,
    git_of,
    head,
    new_name,
    record,
)
from dvx.ops.checkout import CheckoutResult, checkout
from dvx.outputs import Target, all_outputs
from dvx.pipeline.repro import Reporter, ReproOptions, ReproResult, repro
from dvx.repo import Repo
from dvx.scm import Git


@dataclass
class RunResult:
    experiment: Experiment | None  # None when the pipeline failed
    repro: ReproResult


def run(repo: Repo, sets: list[str], name: str | None = None, force: bool = False,
        jobs: int = 1, reporter: Reporter | None = None, baseline: str | None = None
        ) -> RunResult:
    """Set the params `sets` ([FILE:]KEY=VALUE), reproduce the pipeline in the workspace and
    record the workspace as an experiment of `baseline` (default: HEAD). The workspace keeps
    the experiment's results; nothing is committed to the branch."""
    parent = head(repo)
    baseline = baseline or parent
    taken = {e.name for e in experiments(repo, baseline)}
    if name is not None and check_name(name) in taken:
        raise UsageError(f"An experiment called '{name}' of this baseline exists already.",
                         "Pick another -n, or `dvx exp remove` it first.")
    changes = [params.parse(text) for text in sets]
    params.apply(repo, changes)
    result = repro(repo, ReproOptions(force=force, jobs=jobs), reporter)
    if not result.ok:
        return RunResult(None, result)
    return RunResult(record(repo, baseline, name or new_name(taken), parent), result)


def save(repo: Repo, name: str | None = None) -> Experiment:
    """Record the workspace as it is as an experiment of HEAD (nothing runs)."""
    baseline = head(repo)
    taken = {e.name for e in experiments(repo, baseline)}
    if name is not None and check_name(name) in taken:
        raise UsageError(f"An experiment called '{name}' of this baseline exists already.")
    return record(repo, baseline, name or new_name(taken))


@dataclass
class Applied:
    experiment: Experiment
    files: list[str]  # workspace files written or removed
    checkout: CheckoutResult


def apply(repo: Repo, name: str, force: bool = False) -> Applied:
    """Bring the experiment's files (params, code, dvx.lock, metrics) into the workspace and
    check its outputs out. A file with changes Git does not have is kept unless `force`."""
    exp = find(repo, name)
    git = git_of(repo)
    files = git.changed_between("HEAD", exp.commit)
    dirty = _unsaved(repo, git.changed(files) if files else [])
    if dirty and not force:
        shown = ", ".join(sorted(dirty)[:5])
        raise UsageError(f"Applying '{exp.name}' would overwrite changes not committed to Git: "
                         f"{shown}.", "Commit or stash them first, or use --force.")
    for rel in files:
        full = repo.abspath(rel)
        data = git.blob_at(exp.commit, rel, 1 << 30)
        if data is None:
            if os.path.lexists(full):
                os.unlink(full)
            continue
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "wb") as f:
            f.write(data)
    targets = [Target(o) for o in all_outputs(repo)]
    return Applied(exp, files, checkout(repo, targets, force=force))


def _unsaved(repo: Repo, changed: list[str]) -> list[str]:
    """Those of the `changed` workspace files whose content no experiment of HEAD recorded
    (a file as an `exp run` left it is saved in that experiment: it may be replaced)."""
    if not changed:
        return []
    git = git_of(repo)
    commits = [e.commit for e in experiments(repo, head(repo))]
    unsaved = []
    for rel in changed:
        full = repo.abspath(rel)
        if not os.path.isfile(full):
            unsaved.append(rel)
            continue
        blob = git.run("hash-object", "--", full).decode().strip()
        if not any(_blob_in(git, commit, rel) == blob for commit in commits):
            unsaved.append(rel)
    return unsaved


def _blob_in(git: Git, commit: str, rel: str) -> str | None:
    try:
        return git.run("rev-parse", "--verify", "--quiet", f"{commit}:{rel}").decode().strip()
    except DvxError:
        return None


def branch(repo: Repo, name: str, branch_name: str) -> Experiment:
    exp = find(repo, name)
    try:
        git_of(repo).run("branch", "--", branch_name, exp.commit)
    except DvxError as exc:
        raise UsageError(f"Cannot create the branch '{branch_name}': {exc.message}") from None
    return exp


def remove(repo: Repo, names: list[str], everything: bool = False) -> list[Experiment]:
    """Delete experiments (their refs; their data stays in the cache until `dvx gc`)."""
    chosen = experiments(repo, head(repo)) if everything else [find(repo, n) for n in names]
    git = git_of(repo)
    for exp in chosen:
        git.delete_ref(exp.ref)
    return chosen
