"""Whether what the workspace or Git's index holds of a file is saved elsewhere: in the
commit being applied, HEAD, an experiment of HEAD, or (for a workspace file) the cache. What
nothing else holds is the user's work, which `dvx exp apply` keeps or refuses to overwrite."""

from __future__ import annotations

import os
import stat

from dvx.errors import DvxError
from dvx.experiment_refs import experiments, git_of, head
from dvx.ops.checkout import held_by_cache
from dvx.repo import Repo
from dvx.scm import EMPTY_BLOBS, Git


def staged_unsaved(repo: Repo, git: Git, staged: list[str], applied: str,
                   workspace_holds: bool = True) -> list[str]:
    """Those of `staged` (files the apply writes, whose entry in Git's index differs from
    HEAD's) whose entry holds a version, with its mode, that neither `applied`, HEAD nor an
    experiment of HEAD holds, nor the workspace where `workspace_holds` (a file set back as
    HEAD has it keeps its workspace version elsewhere; one written as the experiment has it
    does not): a `git add` of a version edited on since, or overwritten with --force.
    Setting the entry back would leave that version nowhere but in a dangling blob, so the
    entry is kept. A staged deletion, or an entry left in conflict (its stages are the
    merged commits'), holds nothing to lose, nor does an empty one (`git add -N`'s intent
    to add)."""
    if not staged:
        return []
    commits = saved_commits(repo, applied)
    filemode = git.filemode()
    kept = []
    for rel, (mode, oid) in git.index_entries(staged).items():
        if oid in EMPTY_BLOBS:
            continue
        full = repo.abspath(rel)
        if workspace_holds and (os.path.islink(full) or os.path.isfile(full)) \
                and _workspace_blob(git, full) == oid \
                and _same_mode(mode, _workspace_mode(full), filemode):
            continue
        if not any(blob_in(git, commit, rel) == oid and git.mode_at(commit, rel) == mode
                   for commit in commits):
            kept.append(rel)
    return sorted(kept)


def may_hold_changes(git: Git, files: list[str]) -> list[str]:
    """Those of `files` whose workspace copy may hold changes Git has not recorded: those
    Git sees as changed, and those Git does not track that exist, ignored ones too (an
    ignore rule of this clone, or one added after the experiment, says nothing of whether
    the file is saved anywhere). A directory where a file goes is `clashing_writes`' to judge."""
    if not files:
        return []
    changed = set(git.changed(files))
    tracked = set(git.tracked_under(files))
    return [rel for rel in files if rel in changed
            or (rel not in tracked and _file_or_link(os.path.join(git.root, rel)))]


def _file_or_link(full: str) -> bool:
    return os.path.islink(full) or (os.path.lexists(full) and not os.path.isdir(full))


def unsaved_files(repo: Repo, changed: list[str], applied: str) -> list[str]:
    """Those of the `changed` workspace files whose content, with its mode as Git records it
    (a `chmod +x` is a change), neither `applied` (the commit being applied), HEAD, any
    experiment of HEAD nor the cache holds (a file as an `exp run` left it is saved in that
    experiment: it may be replaced). A file that is not there holds
    nothing to lose, deleted by hand or by a run: the apply writes the experiment's."""
    if not changed:
        return []
    git = git_of(repo)
    commits = saved_commits(repo, applied)
    filemode = git.filemode()
    unsaved = []
    for rel in changed:
        full = repo.abspath(rel)
        if os.path.islink(full) or os.path.isfile(full):
            blob = _workspace_blob(git, full)
        elif not os.path.lexists(full):
            continue
        else:
            unsaved.append(rel)
            continue
        mode = _workspace_mode(full)
        if not any(blob_in(git, commit, rel) == blob
                   and _same_mode(git.mode_at(commit, rel), mode, filemode)
                   for commit in commits) and not held_by_cache(repo, full, rel):
            unsaved.append(rel)
    return unsaved


def _workspace_blob(git: Git, full: str) -> str:
    """The blob id Git gives the file or symlink at `full`."""
    if os.path.islink(full):  # Git keeps a symlink as its target's name
        return git.hash_bytes(os.fsencode(os.readlink(full)))
    return git.run("hash-object", "--", full).decode().strip()


def saved_commits(repo: Repo, applied: str) -> list[str]:
    """The commits whose files count as saved work: `applied`, HEAD and HEAD's experiments."""
    current = head(repo)
    return [applied, current] + [e.commit for e in experiments(repo, current)]


def _workspace_mode(full: str) -> str:
    """The mode Git records for the file at `full`: a symlink, or a file executable (by its
    owner, as Git reads the bit) or not."""
    if os.path.islink(full):
        return "120000"
    return "100755" if os.stat(full).st_mode & stat.S_IXUSR else "100644"


def _same_mode(recorded: str | None, mode: str, filemode: bool) -> bool:
    """Whether a commit's `recorded` mode is the workspace's `mode`: with core.filemode
    false Git takes no executable bit from the workspace, so a file is a file either way
    (a `chmod +x` there changes nothing Git would commit)."""
    if filemode:
        return recorded == mode
    return (recorded == "120000") == (mode == "120000")


def blob_in(git: Git, commit: str, rel: str) -> str | None:
    try:
        return git.run("rev-parse", "--verify", "--quiet", f"{commit}:{rel}").decode().strip()
    except DvxError:
        return None
