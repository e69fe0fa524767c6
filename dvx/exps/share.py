"""`dvx exp push` / `dvx exp pull`: experiments travel as Git refs through a Git remote, and
their data (the outputs their dvx.lock records) through the dvx remote."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from dvx.errors import DvxError, UsageError
from dvx.exps.refs import PREFIX, Experiment, experiments, find, git_of, head
from dvx.history import Scope, scope_targets
from dvx.ops.sync import SyncResult, fetch, push
from dvx.outputs import Target
from dvx.repo import Repo


@dataclass
class Shared:
    experiments: list[str]  # names
    data: SyncResult | None  # the data push or fetch (None: no data to move)


def push_experiments(repo: Repo, git_remote: str, names: list[str],
                     dvx_remote: str | None = None) -> Shared:
    """Push the data of the experiments `names` (none given: every experiment of HEAD) to the
    dvx remote first, then their refs to `git_remote`: a ref never arrives before its data."""
    chosen = [find(repo, n) for n in names] if names else experiments(repo, head(repo))
    if not chosen:
        raise UsageError("There are no experiments to push.", "Run `dvx exp run` first.")
    data = _sync(repo, chosen, dvx_remote, push)
    if data is not None and not data.ok:
        return Shared([], data)
    refspecs = [f"{e.ref}:{e.ref}" for e in chosen]
    _git(repo, "push", "--quiet", "--", git_remote, *refspecs)
    return Shared([e.name for e in chosen], data)


def pull_experiments(repo: Repo, git_remote: str, names: list[str],
                     dvx_remote: str | None = None) -> Shared:
    """Fetch experiment refs from `git_remote` (the named ones, or all of them), then their
    data from the dvx remote."""
    before = {e.ref for e in experiments(repo)}
    _git(repo, "fetch", "--quiet", "--", git_remote, f"+{PREFIX}/*:{PREFIX}/*")
    after = experiments(repo)
    fetched = [e for e in after if e.name in names] if names else [
        e for e in after if e.ref not in before]
    missing = set(names) - {e.name for e in fetched}
    if missing:
        raise UsageError(f"'{git_remote}' has no experiment called "
                         f"{', '.join(sorted(missing))}.")
    data = _sync(repo, fetched, dvx_remote, fetch) if fetched else None
    return Shared([e.name for e in fetched], data)


Move = Callable[[Repo, list[Target], str | None], SyncResult]


def _sync(repo: Repo, chosen: list[Experiment], remote: str | None, move: Move
          ) -> SyncResult | None:
    targets, _ = scope_targets(repo, Scope(workspace=False,
                                           revs=tuple(e.commit for e in chosen)))
    return move(repo, targets, remote) if targets else None


def _git(repo: Repo, *args: str) -> None:
    try:
        git_of(repo).run(*args)
    except DvxError as exc:
        raise DvxError(f"{exc.message}", "Check the Git remote's name or URL and your access "
                       "to it.") from None
