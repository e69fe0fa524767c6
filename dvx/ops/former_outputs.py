"""Outputs dvx.lock recorded once: the entry of a stage gone from dvx.yaml that `repro`
dropped leaves behind what dvx wrote for them, the entries in the .gitignore of the folder
holding them. Such a .gitignore, holding nothing but those entries, is dvx's own, never the
user's data: `dvx add` of the folder deletes it rather than track it (or refuse it as
tracked by Git), as `repro` does for an output become its folder. One holding any other line
is the user's, and stays theirs. Once deleted, Git's index may hold it until its removal is
recorded (`git rm --cached`): that entry, its indexed version dvx's own, is the removal to
name, never data Git holds (`own_gitignores_gone`).

Whether dvx.lock recorded a path as an output is asked of dvx.lock in the workspace, in
Git's index and in the commits HEAD reaches (one `git log -S` of dvx.lock per path)."""

from __future__ import annotations

import contextlib
import os
import posixpath
import stat
from collections.abc import Collection, Iterable, Iterator

from dvx import fsutil, gitignore
from dvx.errors import DvxError
from dvx.lockfile import LOCK_FILE, MAX_LOCK_BYTES, parse_lock_as_recorded, path_as_written
from dvx.paths import walk_readable
from dvx.repo import Repo


class OutputsRecorded:
    """Whether dvx.lock recorded a path as an output: among `known` (what the caller read of
    it: the entries a run dropped, dvx.lock as it is), in Git's index, or in a commit HEAD
    reaches."""

    def __init__(self, repo: Repo, known: Collection[str] = ()) -> None:
        self.repo, self.known = repo, set(known)
        self._index: set[str] | None = None

    def recorded(self, path: str) -> bool:
        if path in self.known or path in self._in_index():
            return True
        git = self.repo.git
        if git is None:
            return False
        commits = git.commits_changing_count(LOCK_FILE, path_as_written(path))
        return any(path in self._outputs_at(commit) for commit in commits)

    def _in_index(self) -> set[str]:
        if self._index is None:
            self._index = self._outputs_at("")  # "" names the index (`git show :dvx.lock`)
        return self._index

    def _outputs_at(self, commit: str) -> set[str]:
        """The outputs the dvx.lock of `commit` records, whatever algorithm it records them
        with (one from before the repository switched algorithm); none if it has none or it
        does not parse (a conflict committed, an older format)."""
        git = self.repo.git
        if git is None:
            return set()
        try:
            data = git.blob_at(commit, LOCK_FILE, MAX_LOCK_BYTES)
            locks = parse_lock_as_recorded(data, self.repo.algo) if data is not None else {}
        except DvxError:
            return set()
        return {out.path for lock in locks.values() for out in lock.outs}


def own_gitignores(repo: Repo, folders: list[str]) -> list[str]:
    """The .gitignore files inside `folders` (data to track whole) that hold nothing but
    the entries dvx writes for data, each for a path dvx.lock recorded as an output: every
    one below each folder, whether Git's index holds it or not (a run wrote it beside an
    output in a subfolder, and nobody committed it). Repo-relative, sorted."""
    found = {posixpath.join(folder, rel) for folder in folders
             for rel in _gitignores_below(repo.abspath(folder))}
    if not found:
        return []
    history = OutputsRecorded(repo, _recorded_now(repo))
    own = []
    for path in sorted(found):
        names = gitignore.entries_only(repo.abspath(path))
        folder = posixpath.dirname(path)
        if names and all(history.recorded(posixpath.join(folder, name)) for name in names):
            own.append(path)
    return own


# A .gitignore in Git's index larger than this is no file of dvx's entries alone, unread
_INDEXED_GITIGNORE_MAX = 1 << 20
_REGULAR_MODES = ("100644", "100755")  # a symbolic link's entry is no file of dvx's


def own_gitignores_gone(repo: Repo, indexed: Iterable[str]) -> list[str]:
    """Those of `indexed` (paths Git's index holds, repo-relative) that are .gitignore files
    gone from the workspace whose version in the index is dvx's own (`own_gitignores`): the
    add that deleted it leaves its removal for Git to record (`git rm --cached`), and until
    it is recorded the entry is that removal to name, never data Git holds beside the
    folder's pointer. Sorted. Git's index is read only for such .gitignore files."""
    gone = sorted(path for path in indexed if posixpath.basename(path) == ".gitignore"
                  and not os.path.lexists(repo.abspath(path)))
    if repo.git is None or not gone:
        return []
    entries = repo.git.index_entries(gone)
    blobs = repo.git.small_blobs([oid for mode, oid in entries.values()
                                  if mode in _REGULAR_MODES], _INDEXED_GITIGNORE_MAX)
    history = OutputsRecorded(repo, _recorded_now(repo))
    own = []
    for path, (mode, oid) in sorted(entries.items()):
        text = blobs.get(oid) if mode in _REGULAR_MODES else None
        names = gitignore.entries_only_in(text) if text is not None else None
        folder = posixpath.dirname(path)
        if names and all(history.recorded(posixpath.join(folder, name)) for name in names):
            own.append(path)
    return own


def _gitignores_below(top: str) -> Iterator[str]:
    """The regular .gitignore files below `top`, relative to it, in the folders a workspace
    walk enters (`walk_readable`: a folder that may not be read is passed over, for the
    command's own read of the data names it, as it names any)."""
    for folder in walk_readable(top):
        for entry in folder.others:
            if entry.name == ".gitignore" and entry.is_file(follow_symlinks=False):
                yield folder.rel + entry.name


def _recorded_now(repo: Repo) -> set[str]:
    """The outputs dvx.lock in the workspace records (none if it cannot be read)."""
    try:
        return {o.path for lock in repo.read_lock().values() for o in lock.outs}
    except DvxError:
        return set()


@contextlib.contextmanager
def deleted_unless_failing(repo: Repo, paths: list[str]) -> Iterator[None]:
    """Delete the files at `paths` (repo-relative; own_gitignores) for the block, each put
    back as it was if the block raises: a refused add leaves the folder as it found it, its
    files still ignored by Git."""
    kept: dict[str, tuple[bytes, int]] = {}
    for path in paths:
        full = repo.abspath(path)
        with open(full, "rb") as f:
            kept[full] = (f.read(), stat.S_IMODE(os.fstat(f.fileno()).st_mode))
        os.unlink(full)
    try:
        yield
    except BaseException:
        for full, (data, mode) in kept.items():
            if not os.path.lexists(full):
                fsutil.atomic_write(full, data, mode=mode)
        raise
