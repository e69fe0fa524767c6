"""The snapshots `dvx queue start --dask` publishes to a Git remote for its tasks to fetch:
refs/exps-queue/<snapshot>/<name> there. A queue entry records the Git remote while its
snapshot may be there (Entry.published_to), so that whatever ends it (a later `queue start
--dask`, `queue remove`, a new entry taking its name) deletes the ref, or names it with the
`git push --delete` that does: no task needs it once the entry is not being run."""

from __future__ import annotations

from dvx.errors import DvxError
from dvx.experiment_refs import QUEUE_REFS, git_of
from dvx.logs import shell_quote
from dvx.repo import Repo


def published_ref(snapshot: str, name: str) -> str:
    """The ref the snapshot of the queued `name` is published at: named by the snapshot too,
    so teammates sharing a Git remote never replace each other's snapshots of the same name."""
    return f"{QUEUE_REFS}/{snapshot}/{name}"


def unpublish(repo: Repo, git_remote: str, refs: list[str]) -> list[str]:
    """Delete `refs` from `git_remote` (one already gone is passed over); those it could not
    delete (the remote out of reach, or no Git remote of that name any longer): all of them."""
    if not refs or not _is_git_remote(repo, git_remote):
        return refs
    try:
        git_of(repo).run("push", "--quiet", "--", git_remote, *[f":{ref}" for ref in refs])
    except DvxError:
        return refs
    return []


def left_published(repo: Repo, git_remote: str, left: list[str]) -> tuple[str, str]:
    """What to say of the published snapshots `left` on `git_remote`, and how to delete them:
    none of their tasks needs them any more (a `queue start --dask` publishes those still
    queued again). A `git push NAME --delete` is named only while NAME is a Git remote here:
    once it is not, where it pointed is not known here."""
    refs = " ".join(shell_quote(ref) for ref in left)
    said = f"The snapshots published to '{git_remote}' for the tasks may be there still: {refs}."
    if not _is_git_remote(repo, git_remote):
        return (f"{said} '{git_remote}' is no longer a Git remote here, so they could not be "
                "deleted, and may be left in the repository it pointed to.",
                f"`git push URL --delete {refs}`, URL that of the repository '{git_remote}' "
                "pointed to, deletes them (a ref already gone is skipped with a warning).")
    return (said, f"`git push {shell_quote(git_remote)} --delete {refs}` deletes them (a ref "
            "already gone is skipped with a warning).")


def _is_git_remote(repo: Repo, git_remote: str) -> bool:
    """Is `git_remote` the name of a Git remote here (a name, never a URL or path)?"""
    try:
        git_of(repo).run("remote", "get-url", "--", git_remote)
    except DvxError:
        return False
    return True
