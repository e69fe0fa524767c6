"""Whether what the workspace or Git's index holds of a file is saved elsewhere: in the
commit being applied, HEAD, an experiment of HEAD, or (for a workspace file) the cache. What
nothing else holds is the user's work, which `dvx exp apply` keeps or refuses to overwrite."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable

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
    filemode = git.filemode()
    entries = {rel: entry for rel, entry in git.index_entries(staged).items()
               if entry[1] not in EMPTY_BLOBS}
    if workspace_holds:
        here = _workspace_entries(git, {rel: repo.abspath(rel) for rel in entries})
        entries = {rel: (mode, oid) for rel, (mode, oid) in entries.items()
                   if not (rel in here and here[rel][1] == oid
                           and _same_mode(mode, here[rel][0], filemode))}
    return sorted(_held_by_none(git, saved_commits(repo, applied), entries,
                                lambda held, entry: held == entry))


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
    filemode = git.filemode()
    fulls = {rel: repo.abspath(rel) for rel in changed}
    entries = _workspace_entries(git, fulls)
    unsaved = {rel for rel, full in fulls.items()  # a folder, say: not saved as a file
               if rel not in entries and os.path.lexists(full)}
    unsaved |= {rel for rel in _held_by_none(
        git, saved_commits(repo, applied), entries,
        lambda held, entry: held[1] == entry[1] and _same_mode(held[0], entry[0], filemode))
        if not held_by_cache(repo, repo.abspath(rel), rel)}
    return [rel for rel in changed if rel in unsaved]


def _held_by_none(git: Git, commits: list[str], entries: dict[str, tuple[str, str]],
                  same: Callable[[tuple[str, str], tuple[str, str]], bool]) -> set[str]:
    """Those of `entries` ({path: (mode, blob id)}) that none of `commits` holds, as `same`
    compares a commit's entry with one of them: one `git ls-tree` per commit, of the paths
    no commit before it held."""
    left = dict(entries)
    for commit in commits:
        if not left:
            break
        held = git.entries_at(commit, list(left))
        left = {rel: entry for rel, entry in left.items()
                if rel not in held or not same(held[rel], entry)}
    return set(left)


def _workspace_entries(git: Git, fulls: dict[str, str]) -> dict[str, tuple[str, str]]:
    """{path: (mode, blob id)} as Git would record each of `fulls` ({path: its full path})
    that is a file or a symlink; a few `git hash-object`s for all the files."""
    links = {rel for rel, full in fulls.items() if os.path.islink(full)}
    files = [rel for rel, full in fulls.items() if rel not in links and os.path.isfile(full)]
    blobs = dict(zip(files, git.hash_files([fulls[rel] for rel in files]), strict=True))
    for rel in links:  # Git keeps a symlink as its target's name
        blobs[rel] = git.hash_bytes(os.fsencode(os.readlink(fulls[rel])))
    return {rel: (_workspace_mode(fulls[rel]), blobs[rel]) for rel in fulls if rel in blobs}


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
