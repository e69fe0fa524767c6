"""The other worktrees of a Git repository (`git worktree add`) that share its dvx cache:
what gc must keep for them, and whose links a change to a shared object leaves broken."""

from __future__ import annotations

import os

from dvx.errors import DvxError
from dvx.logs import shell_quote
from dvx.repo import DVX_DIR, Repo, tracked_but_absent
from dvx.scm import Worktree


class UnreadableWorktree(DvxError):
    """A worktree whose dvx configuration cannot be read: which cache it uses is unknown."""


def worktrees_sharing_the_cache(repo: Repo) -> list[Repo]:
    """The other worktrees of this Git repository (`git worktree add`) that use this cache.
    UnreadableWorktree for one whose cache cannot be known (its config cannot be read, as
    after a merge that left conflict markers in it; its folder moved or not mounted, Git
    still listing it): it may use this one."""
    git = repo.git
    if git is None:
        return []
    cache = os.path.realpath(repo.cache_dir)
    found = []
    for listed in git.worktrees():
        path = listed.path
        if os.path.realpath(path) == os.path.realpath(repo.root):
            continue
        if listed.prunable or not os.path.isdir(path):
            raise _gone(listed)
        other = _worktree(path)
        if other is not None and os.path.realpath(other.cache_dir) == cache:
            found.append(other)
    return found


def _worktree(path: str) -> Repo | None:
    """The worktree at `path`, its cache known; None where dvx is not set up (a commit from
    before `dvx init` is checked out: nothing there uses a cache)."""
    if not os.path.isdir(os.path.join(path, DVX_DIR)):
        absent = tracked_but_absent(path)  # its index has dvx set up: a sparse checkout
        if absent is not None:
            raise _unreadable(path, absent)
        return None
    other = Repo(path)
    try:
        other.cache_dir  # noqa: B018 -- read now: the error is the worktree's
    except DvxError as exc:
        raise _unreadable(path, exc) from None
    return other


def _gone(listed: Worktree) -> UnreadableWorktree:
    """Its index still stages pointers and its HEAD may be a commit no branch holds, and
    its workspace, wherever it went, may link into the cache: nothing tells what it uses."""
    unlock = f"`git worktree unlock {shell_quote(listed.path)}` then " if listed.locked else ""
    return UnreadableWorktree(
        f"The worktree '{listed.path}', which Git still lists, is no longer in that folder "
        "(moved, deleted, or on a disk not mounted now), so which cache it uses, and what "
        "its index and workspace need there, is unknown.",
        "If it was moved, run `git worktree repair` in its new folder; if its disk is not "
        f"mounted, mount it; if it is gone for good, {unlock}`git worktree prune` here makes "
        "Git forget it.")


def _unreadable(path: str, exc: DvxError) -> UnreadableWorktree:
    why = exc.message.rstrip().rstrip(".")
    return UnreadableWorktree(
        f"The dvx configuration of the worktree '{path}' cannot be read ({why}), so which "
        "cache it uses, and what it needs there, is unknown.", exc.hint or "Fix it there.")
