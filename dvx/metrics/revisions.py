"""The revisions a params, metrics or plots command looks at, and reading files from them.

Params, metrics and plots files are small files that Git tracks, so a revision's copy is
read from Git's objects (`Git.blob_at`), never by checking the revision out; a symbolic link
there leads to the file of the same revision it names. One dvx tracks as data instead (a
cached output the revision's dvx.lock records, a file tracked with `dvx add`, or a file of a
directory tracked either way) is read from the cache, by the oid the revision's dvx.lock
entry or pointer (or the directory's manifest) names, its bytes checked against it. The
workspace's copy is read from disk, unless it is data dvx tracks there that is outdated or
not placed (dvx/metrics/tracked.py). In both, a link leading outside the repository is
refused, and in the workspace a path whose parent is a link too.
"""

from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass, replace

from dvx import fsutil
from dvx.errors import DvxError, OtherAlgorithmError, UsageError
from dvx.experiment_refs import resolve as resolve_revision_or_experiment
from dvx.hashing import hash_bytes
from dvx.history import History, Scope, no_revision_to_compare
from dvx.lockfile import LOCK_FILE
from dvx.metrics.tracked import outdated, why_absent
from dvx.outputs import load_tree
from dvx.paths import (
    check_read_stays_inside,
    check_relpath,
    for_command,
    join_posix,
    make_readable_hint,
)
from dvx.pointer import MAX_POINTER_BYTES, POINTER_SUFFIX, Pointer, parse_pointer
from dvx.repo import Repo

WORKSPACE = "workspace"


@dataclass(frozen=True)
class Revision:
    label: str  # "workspace", the name a user gave, a branch or tag name, or a short sha
    commit: str | None = None  # None for the workspace
    timestamp: int | None = None  # committer time, Unix seconds
    subject: str | None = None  # the commit message's first line

    def to_json(self) -> dict[str, object]:
        return {"commit": self.commit, "timestamp": self.timestamp, "message": self.subject}


class Reader:
    """Reads the files of the workspace and of commits of one repository; close() ends the
    `git cat-file` it may have started."""

    def __init__(self, repo: Repo) -> None:
        self.repo = repo
        self._history: History | None = None

    def __enter__(self) -> Reader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        if self._history is not None:
            self._history.close()

    @property
    def history(self) -> History:
        if self._history is None:
            self._history = History(self.repo)
        return self._history

    def workspace_root(self, revision: Revision) -> str | None:
        """The repository's root when `revision` is its workspace, where a file still holding
        Git's conflict markers is a merge to finish (dvx/pipeline/params.py parse_params)."""
        return self.repo.root if revision.commit is None else None

    def read(self, revision: Revision, rel: str, max_bytes: int) -> bytes | None:
        """The bytes of the file `rel` in `revision`, or None if it has no such file. A
        workspace file that holds data dvx tracks as it was before its pointer moved in Git
        (`dvx.metrics.tracked.outdated`) is an error saying so: its values are not the
        revision's."""
        check_relpath(rel)
        if revision.commit is not None:
            return self._read_commit(revision.commit, rel, max_bytes)
        data = self._read_workspace(rel, max_bytes)
        why = None if data is None else outdated(self.repo, rel, data)
        if why is not None:
            raise DvxError(why)
        return data

    def why_absent(self, revision: Revision, rel: str) -> str | None:
        """Why `revision` may have the file `rel` it lacks: the workspace lacks one dvx tracks
        as data (a cached output dvx.lock records, a file tracked with `dvx add` or of a
        directory tracked so) never placed here, or deleted since; a commit's dvx.lock, which
        may record it, cannot be read. Then it is no file a stage has yet to write, and never
        to be read as empty. None for any other absent file."""
        if revision.commit is None:
            return why_absent(self.repo, rel)
        locked = self.history.lock_outputs_at(revision.commit)
        if isinstance(locked, OtherAlgorithmError):  # with the setting that reads it
            return f"its {LOCK_FILE}, which may record it, cannot be read: {locked}"
        if isinstance(locked, DvxError):
            return f"its {LOCK_FILE}, which may record it, cannot be read: {locked.message}"
        return None

    def _read_commit(self, commit: str, rel: str, max_bytes: int) -> bytes | None:
        """The file `rel` of `commit`, following a symbolic link as the workspace does: to
        a file of the same commit inside the repository (one leading outside is refused),
        through at most _MAX_LINKS links."""
        git = self.history.git
        path = rel
        for _ in range(_MAX_LINKS + 1):
            mode = git.mode_at(commit, path)
            if mode is None and path == rel:
                return self._read_tracked(commit, rel, max_bytes)
            if mode != "120000":
                return git.blob_at(commit, path, max_bytes)
            target = os.fsdecode(git.blob_at(commit, path, 4096) or b"")
            path = _link_target(rel, path, target)
        raise DvxError(f"'{rel}' in commit {commit[:10]} leads through more than {_MAX_LINKS} "
                       "symbolic links; refusing to follow them.")

    def _pointer_at(self, commit: str, rel: str) -> Pointer | None:
        """The pointer of the file `rel` that `commit` tracks as data, if it tracks one: its
        own (a pointer file, or its entry in the commit's dvx.lock), else one made of its
        entry in the manifest of the nearest directory above it that `commit` tracks so, read
        from the cache. A directory `rel` is an error naming it so, as in the workspace, and
        so is a manifest the cache lacks, saying how to fetch it. A dvx.lock that cannot be
        read records nothing here (`why_absent` says it)."""
        outputs = self.history.lock_outputs_at(commit)
        locked = {} if isinstance(outputs, DvxError) else {o.path: o.pointer for o in outputs}
        path = rel
        while path:
            pointer = self._pointer_file_at(commit, path)
            where = f"'{commit[:10]}:{path}{POINTER_SUFFIX}'"
            if pointer is None and path in locked:
                pointer, where = locked[path], f"'{commit[:10]}:{LOCK_FILE}'"
            if pointer is not None:
                if path == rel and pointer.is_dir:
                    raise _tracked_directory(rel, commit)
                if path == rel:
                    return pointer
                return self._entry_of(commit, path, pointer, rel[len(path) + 1:], where) \
                    if pointer.is_dir else None
            path = path.rpartition("/")[0]
        return None

    def _pointer_file_at(self, commit: str, rel: str) -> Pointer | None:
        """The pointer `commit` holds for the data at `rel` (a file or a directory), if any."""
        where = f"{commit[:10]}:{rel}{POINTER_SUFFIX}"
        data = self.history.git.blob_at(commit, rel + POINTER_SUFFIX, MAX_POINTER_BYTES)
        if data is None:
            return None
        pointer = parse_pointer(data, where)
        if pointer.algo != self.repo.algo:
            raise self.history.other_algorithm(f"The pointer file '{where}'", pointer.algo)
        return pointer

    def _entry_of(self, commit: str, folder: str, pointer: Pointer, inside: str, where: str
                  ) -> Pointer | None:
        """A pointer to the file `inside` of the directory `folder` that `pointer` (of
        `commit`, read from `where`) records, from its manifest; None if the directory holds
        no such file. A folder of it is an error naming it so, as in the workspace."""
        tree = load_tree(self.repo, pointer, where)
        if tree is None:
            raise DvxError(f"dvx tracks '{folder}' in commit {commit[:10]}, and the cache lacks "
                           f"its manifest (`dvx fetch --rev {commit[:10]}` fetches it).")
        entry = tree.get(inside)
        if entry is None and tree.holds(inside):  # a folder of the directory's files
            raise _tracked_directory(f"{folder}/{inside}", commit)
        if entry is None:
            return None
        return Pointer("file", pointer.algo, entry.oid, entry.size,
                       executable=entry.executable)

    def _read_tracked(self, commit: str, rel: str, max_bytes: int) -> bytes | None:
        """The bytes of the file `rel` that `commit` tracks as data, read from the cache by
        its pointer's oid and checked against it; None if `commit` tracks no file `rel`. One
        whose object the cache lacks is an error saying how to fetch it."""
        pointer = self._pointer_at(commit, rel)
        if pointer is None:
            return None
        if pointer.size > max_bytes:
            raise DvxError(f"'{rel}' in commit {commit[:10]} is larger than {max_bytes} "
                           "bytes; refusing to read it.")
        try:
            with open(self.repo.cache.oid_path(pointer.oid), "rb") as f:
                data = f.read(max_bytes + 1)
        except FileNotFoundError:
            raise DvxError(f"dvx tracks '{rel}' in commit {commit[:10]}, and the cache lacks "
                           f"its data (`dvx fetch --rev {commit[:10]}` fetches it).") from None
        except OSError as exc:
            raise DvxError(f"Cannot read the cached object of '{rel}' in commit "
                           f"{commit[:10]}: {exc.strerror}.") from None
        if len(data) > max_bytes or hash_bytes(data, self.repo.algo) != pointer.oid:
            raise DvxError(f"The cached object of '{rel}' in commit {commit[:10]} does not "
                           f"hold the bytes its pointer names ({pointer.oid}).",
                           "`dvx fsck` moves damaged objects aside.")
        return data

    def _read_workspace(self, rel: str, max_bytes: int) -> bytes | None:
        check_read_stays_inside(self.repo.root, rel, self.repo.cache.files_root)
        path = join_posix(self.repo.root, rel)
        try:
            data = fsutil.read_regular(path, max_bytes + 1)
        except FileNotFoundError:
            return None
        except fsutil.NotRegularFileError:
            if os.path.isdir(path):
                raise DvxError(f"'{rel}' is a directory, not a file.") from None
            raise DvxError(f"Cannot read '{rel}': not a regular file (a FIFO, socket or "
                           "device).") from None
        except PermissionError as exc:  # a mode of its own, never committed: fixed here
            raise DvxError(f"Cannot read '{rel}': {exc.strerror}.",
                           make_readable_hint(for_command(self.repo.root, rel))) from None
        except OSError as exc:
            raise DvxError(f"Cannot read '{rel}': {exc.strerror}.") from None
        if len(data) > max_bytes:
            raise DvxError(f"'{rel}' is larger than {max_bytes} bytes; refusing to read it.")
        return data

    # -- which revisions ------------------------------------------------------------------

    def resolve(self, rev: str) -> Revision:
        """A revision a user named: `workspace`, anything Git resolves to a commit, or else
        an experiment's name (see `dvx.experiment_refs.resolve`)."""
        if rev == WORKSPACE:
            return Revision(WORKSPACE)
        if self.repo.git is None:
            raise no_revision_to_compare(rev)
        git = self.history.git
        if rev == "HEAD" and git.head() is None:
            raise UsageError("This repository has no commit yet to compare with.",
                             "Commit first, or name the revisions to compare.")
        commit, _ = resolve_revision_or_experiment(self.repo, rev)
        return self._described([(rev, commit)])[0]

    def in_scope(self, scope: Scope) -> list[Revision]:
        """The workspace (if in scope), then every commit in scope, newest first; a commit
        is labelled by the name it was asked by (a --rev, a branch or tag), else its sha.
        The word `workspace` always names the workspace: a branch or tag of that name is
        labelled `heads/workspace` or `tags/workspace`, so one label never means two."""
        revs = tuple(r for r in scope.revs if r != WORKSPACE)
        scope = replace(scope, workspace=scope.workspace or len(revs) < len(scope.revs),
                        revs=revs)
        found = [Revision(WORKSPACE)] if scope.workspace else []
        if not scope.has_revisions:
            return found
        git = self.history.git
        names: dict[str, list[str]] = {}
        tips = [resolve_revision_or_experiment(self.repo, rev)[0] for rev in scope.revs]
        for rev, commit in zip(scope.revs, tips, strict=True):
            names.setdefault(commit, []).append(rev)
        for flag, prefix in ((scope.all_branches, "refs/heads"), (scope.all_tags, "refs/tags")):
            if flag:
                for name, commit in git.ref_tips(prefix):
                    label = f"{prefix[len('refs/'):]}/{name}" if name == WORKSPACE else name
                    names.setdefault(commit, []).append(label)
        # A stash entry or a queued run's snapshot is a workspace put aside, whose metrics
        # no commit holds (a queued one's, none its run made): never a revision of -A.
        commits = self.history.commits(Scope(False, scope.all_branches, scope.all_tags,
                                             scope.all_commits, tuple(tips), scope.last_n,
                                             stashed_and_queued=False))
        labelled = [(", ".join(dict.fromkeys(names.get(c, []))) or c[:7], c) for c in commits]
        return found + self._described(labelled)

    def _described(self, labelled: list[tuple[str, str]]) -> list[Revision]:
        """Revisions for (label, commit) pairs, newest first (as `git log` lists them)."""
        labels = {commit: label for label, commit in labelled}
        return [Revision(labels[sha], sha, when, subject)
                for sha, when, subject in self.history.git.commit_log(list(labels))]


def distinct(revisions: list[Revision]) -> list[Revision]:
    """Each revision once, in the order first named: names of one commit (`HEAD main`, when
    main is HEAD) become one revision labelled with both, as `-a` labels a commit."""
    merged: dict[str | None, Revision] = {}
    for revision in revisions:
        first = merged.get(revision.commit)
        if first is None:
            merged[revision.commit] = revision
        elif revision.label not in first.label.split(", "):
            merged[revision.commit] = replace(first, label=f"{first.label}, {revision.label}")
    return list(merged.values())


_MAX_LINKS = 40  # as Linux follows at most


def _link_target(rel: str, link: str, target: str) -> str:
    """The repository path the link at `link` (reached from `rel`) names with `target`;
    refused if it leads outside the repository or into `.git` or `.dvx`."""
    path = posixpath.normpath(posixpath.join(posixpath.dirname(link), target))
    if target.startswith("/") or path == ".." or path.startswith("../"):
        raise DvxError(f"'{rel}' is a symbolic link to a file outside the repository; "
                       "refusing to read it.")
    try:
        return check_relpath(path)
    except DvxError:
        raise DvxError(f"'{rel}' is a symbolic link to {target!r}, which is no file of the "
                       "repository; refusing to read it.") from None


def diff_pair(reader: Reader, a: str | None, b: str | None) -> tuple[Revision, Revision]:
    """The two revisions a diff compares: A defaults to HEAD, B to the workspace."""
    return (reader.resolve("HEAD" if a is None else a),
            reader.resolve(WORKSPACE if b is None else b))


def _tracked_directory(rel: str, commit: str) -> DvxError:
    """`rel`, read as a file, is a directory dvx tracks in `commit` (or a folder of one)."""
    return DvxError(f"'{rel}' is a directory dvx tracks in commit {commit[:10]}, not a file.")
