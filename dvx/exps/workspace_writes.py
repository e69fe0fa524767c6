"""Workspace files written as a Git checkout of a commit writes them (a symlink, an executable
bit; whatever is there replaced, never written through), what stands in their way, and the
.gitignore files written keeping the workspace's dvx entries for data it keeps, and the
.gitattributes keeping the lines `dvx install` wrote there."""

from __future__ import annotations

import os
import posixpath
from collections.abc import Callable, Collection

from dvx import fsutil, gitignore
from dvx.errors import DvxError
from dvx.exps.saved_work import saved_commits
from dvx.generated import ATTRIBUTES_FILE, keeping_installed_attributes
from dvx.ignore import git_lines
from dvx.paths import at_or_below_any, folders_above, walk_directory, walk_sorted
from dvx.repo import Repo
from dvx.scm import MAX_GIT_FILE_BYTES, Git


def ignore_files_keeping_data(repo: Repo, git: Git, sources: dict[str, str],
                              modes: dict[str, str],
                              data_at: Callable[[str], Collection[str]]
                              ) -> dict[str, bytes | None]:
    """What the apply writes for each .gitignore among the `sources` ({path: the commit it
    is taken from}; `modes` as that commit has them): that commit's version, with the
    workspace's dvx entries for data the workspace keeps that the commit does not hold in
    Git (added with `dvx add` since, an output of another experiment's run), so that no data
    is left for `git add -A` to take into Git. Not in a folder at or inside data the commit
    tracks (`data_at(commit)`: its pointers' and dvx.lock's cached outputs, `res` whose old
    output `res/a.txt` had its entry in `res/.gitignore`): that data's own entry keeps the
    folder out of Git, and a .gitignore left there would be a file Git holds in it, which
    stops its checkout. A .gitignore that comes out as the workspace has it is taken out of
    `sources` (nothing to write); `modes` gains a new one's."""
    written: dict[str, bytes | None] = {}
    for rel, commit in list(sources.items()):
        full = repo.abspath(rel)
        if os.path.basename(rel) != ".gitignore" or modes.get(rel) == "120000":
            continue
        ours = _regular_file_bytes(full)
        theirs = git.blob_at(commit, rel, MAX_GIT_FILE_BYTES) if rel in modes else None
        folder = posixpath.dirname(rel)
        in_data = at_or_below_any(folder, set(data_at(commit)))
        kept = (theirs or b"") if in_data else gitignore.keeping_entries(
            theirs or b"", ours or b"", os.path.dirname(full), _not_in(git, commit, folder))
        data = kept if kept or theirs is not None else None
        if data == ours and (ours is not None or not os.path.lexists(full)):
            del sources[rel]
            continue
        written[rel] = data
        if data is None:
            modes.pop(rel, None)
        else:
            modes.setdefault(rel, "100644")
    return written


def attributes_keeping_installed(repo: Repo, git: Git, sources: dict[str, str],
                                 modes: dict[str, str]) -> dict[str, bytes | None]:
    """What the apply writes for the .gitattributes at the top, if it is among the `sources`
    (as `ignore_files_keeping_data` takes them): that commit's version, with the lines `dvx
    install` wrote in the workspace's (this clone's merge driver, not an experiment's). One
    that comes out as the workspace has it is taken out of `sources` (nothing to write)."""
    commit = sources.get(ATTRIBUTES_FILE)
    if commit is None or modes.get(ATTRIBUTES_FILE) == "120000":
        return {}
    ours = _regular_file_bytes(repo.abspath(ATTRIBUTES_FILE))
    theirs = git.blob_at(commit, ATTRIBUTES_FILE, MAX_GIT_FILE_BYTES) \
        if ATTRIBUTES_FILE in modes else None
    data = keeping_installed_attributes(theirs, ours)
    if data == ours and ours is not None:
        del sources[ATTRIBUTES_FILE]
        return {}
    if data is not None:
        modes.setdefault(ATTRIBUTES_FILE, "100644")
    return {ATTRIBUTES_FILE: data}


def saved_but_for_kept_entries(repo: Repo, git: Git, rel: str, commit: str,
                               written: bytes | None) -> bool:
    """Whether the workspace's .gitignore (or .gitattributes) `rel` has the lines a commit
    (`commit`, the one it is taken from, HEAD or an experiment of HEAD) has, but for the
    lines of dvx's that `written` (`commit`'s version with those kept,
    `ignore_files_keeping_data`, `attributes_keeping_installed`) keeps: an uncommitted `dvx
    add` (or `dvx install`) is no edit of the user's that writing it would lose."""
    theirs = git_lines(git.blob_at(commit, rel, MAX_GIT_FILE_BYTES) or b"")
    kept = set(git_lines(written or b"")) - set(theirs)
    ours = _regular_file_bytes(repo.abspath(rel))
    if not kept or ours is None:
        return False
    mine = [line for line in git_lines(ours) if line not in kept]
    return any([line for line in git_lines(git.blob_at(saved, rel, MAX_GIT_FILE_BYTES) or b"")
                if line not in kept] == mine
               for saved in saved_commits(repo, commit))


def _not_in(git: Git, commit: str, folder: str) -> Callable[[str], bool]:
    """Whether `commit` lacks a name in `folder` (a file or a folder)."""
    return lambda name: git.mode_at(commit, posixpath.join(folder, name)) is None


def _regular_file_bytes(full: str) -> bytes | None:
    """The bytes of the file at `full`, None if no regular file is there."""
    if os.path.islink(full) or not os.path.isfile(full):
        return None
    with open(full, "rb") as f:
        return f.read()


def write_as_in_git(full: str, data: bytes | None, mode: str | None) -> None:
    """Make `full` what a Git checkout of a blob with that mode makes (None: no file): a
    symlink, or a file executable or not. Whatever is there is replaced, never written
    through (a symlink there is not followed)."""
    if data is None:
        if os.path.lexists(full) and not os.path.isdir(full):
            os.unlink(full)
        return
    fsutil.makedirs(os.path.dirname(full))
    if os.path.isdir(full) and not os.path.islink(full):
        _remove_emptied_directory(full)
    if mode == "120000":
        temporary = fsutil.temp_name_for(full)
        os.symlink(os.fsdecode(data), temporary)
        try:
            os.replace(temporary, full)
        except BaseException:
            fsutil.remove_quietly(temporary)
            raise
        return
    fsutil.write_whole(full, data, 0o755 if mode == "100755" else 0o644, replace=True)


def _remove_emptied_directory(full: str) -> None:
    """Remove the directory at `full`, where a file goes, which holds nothing but empty
    directories (the apply removed its files; `clashing_writes` refused any other, and one
    holding a repository)."""
    left = next(walk_sorted(full), None)
    if left is not None:
        raise DvxError(f"'{left[1]}' is in the way of a file the experiment has.")
    held = _repository_in(full)
    if held is not None:
        raise DvxError(f"'{os.path.join(full, held)}' is in the way of a file the experiment "
                       "has.")
    fsutil.rmtree(full)


def _repository_in(full: str) -> str | None:
    """The first `.git` or `.dvx` below the directory `full` (relative to it; `Walk.reserved`),
    any .dvxignore rule aside: a folder holding one is another repository's, never the
    apply's to delete. None if there is none."""
    return next(iter(walk_directory(full).reserved), None)


def _holds_git_directory(folder: str) -> bool:
    """Does `folder` hold a `.git` (a directory, or the file a worktree or submodule has)?"""
    return os.path.lexists(os.path.join(folder, ".git"))


def clashing_writes(repo: Repo, files: list[str], written: set[str]) -> list[str]:
    """Those of the `written` files that cannot go where they belong, each with why: a
    parent in the workspace is a file or a symlink (nothing is written beyond a link, as
    Git does not), a parent is a folder holding another repository's `.git` (its files are
    that repository's, as Git leaves them), or a directory stands there holding files or
    another repository's `.git` or `.dvx` (never deleted, --force or not). The `files` the
    apply removes count as gone."""
    removed = set(files) - written
    clashes = []
    for rel in sorted(written):
        for parent in reversed([*folders_above(rel)]):  # outermost first
            full = repo.abspath(parent)
            if parent in removed or not os.path.lexists(full):
                continue
            if os.path.islink(full) or not os.path.isdir(full):
                kind = "symlink" if os.path.islink(full) else "file"
                clashes.append(f"{rel} ({parent} is a {kind})")
                break
            if _holds_git_directory(full):
                clashes.append(f"{rel} ({parent} holds '{parent}/.git', a repository of its "
                               "own)")
                break
        else:
            full = repo.abspath(rel)
            if not os.path.isdir(full) or os.path.islink(full):
                continue
            held = _repository_in(full)
            if held is not None:
                clashes.append(f"{rel} (a folder holding '{rel}/{held}', a repository of its "
                               "own)")
            elif any(f"{rel}/{inner}" not in removed for inner, _ in walk_sorted(full)):
                clashes.append(f"{rel} (a directory with files in it)")
    return clashes
