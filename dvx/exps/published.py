"""The snapshots `dvx queue start --dask` publishes to a Git remote for its tasks to fetch:
refs/exps-queue/<snapshot>/<name> there. A queue entry records the Git remote while its
snapshot may be there (Entry.published_to), so that whatever ends it (a later `queue start
--dask`, `queue remove`, a new entry taking its name) deletes the ref, or names it with the
`git push --delete` that does: no task needs it once the entry is not being run."""

from __future__ import annotations

import shlex

from dvx.errors import DvxError
from dvx.experiment_refs import QUEUE_REFS, git_of
from dvx.repo import Repo


def published_ref(snapshot: str, name: str) -> str:
    """The ref the snapshot of the queued `name` is published at: named by the snapshot too,
    so teammates sharing a Git remote never replace each other's snapshots of the same name."""
    return f"{QUEUE_REFS}/{snapshot}/{name}"


def unpublish(repo: Repo, git_remote: str, refs: list[str]) -> list[str]:
    """Delete `refs` from `git_remote` (one already gone is passed over); those it could not
    delete (the remote out of reach, or no Git remote of that name any longer): all of them."""
    if not refs:
        return []
    git = git_of(repo)
    try:
        git.run("remote", "get-url", "--", git_remote)  # a remote's name, never a URL or path
        git.run("push", "--quiet", "--", git_remote, *[f":{ref}" for ref in refs])
    except DvxError:
        return refs
    return []


def left_published(git_remote: str, left: list[str]) -> tuple[str, str]:
    """What to say of the published snapshots `left` on `git_remote`, and the command that
    deletes them: none of their tasks needs them any more (a `queue start --dask` publishes
    those still queued again)."""
    refs = " ".join(shlex.quote(ref) for ref in left)
    return (f"The snapshots published to '{git_remote}' for the tasks may be there still: "
            f"{refs}.", f"`git push {shlex.quote(git_remote)} --delete {refs}` deletes them "
            "(a ref already gone is skipped with a warning).")
