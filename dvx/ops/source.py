"""Another dvx repository to read data from (ls, get, import, the Python API, the `dvx://`
filesystem): a local path or a Git URL, at a revision.

A local repository is read in place; a URL is cloned once into the user's cache directory
(`$XDG_CACHE_HOME/dvx/repos`, or `~/.cache/dvx/repos`) and brought up to date with `git fetch`
on later use. A revision's pointers and dvx.lock are read from Git's objects, never checked
out; without a revision, a local repository's workspace pointers are read, a clone's default
branch. Data comes from the source's own cache when it has the object (a local repository),
else from the reader's cache, else from the source's default remote (or the one named), and
goes into the reader's cache: the source repository is never written to.
"""

from __future__ import annotations

import errno
import functools
import hashlib
import io
import os
import posixpath
import re
import stat
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from functools import partial
from typing import IO, Any
from urllib.parse import unquote_to_bytes

from dvx import experiment_refs, fsutil
from dvx.config import Config, ConfigFile, named_from_here
from dvx.errors import (
    ConfigError,
    CorruptManifestError,
    CorruptObjectError,
    CredentialsError,
    DvxError,
    Interrupted,
    PathError,
    RemoteError,
    UnknownRevisionError,
    UnreadableConfigError,
    UsageError,
)
from dvx.hashing import ALGORITHMS, DEFAULT_ALGO, hash_bytes, hash_copy
from dvx.history import History
from dvx.lockfile import LOCK_FILE, MAX_LOCK_BYTES, parse_lock_as_recorded, recorded_algo
from dvx.logs import get_logger, shell_quote
from dvx.objects.cache import LocalCache
from dvx.objects.tree import Tree
from dvx.ops.remote import (
    default_remote,
    open_source_remote,
    own_remote,
    settings_for,
)
from dvx.outputs import Broken, Output, scan_outputs, warn_of_left_out
from dvx.paths import POINTER_SUFFIX, RESERVED_NAMES, check_relpath
from dvx.pointer import MAX_POINTER_BYTES, parse_pointer
from dvx.remote import transfer
from dvx.remote.backends import url_without_login
from dvx.remote.store import RemoteStore
from dvx.repo import DVX_DIR, Repo
from dvx.scm import MAX_GIT_FILE_BYTES, Git, git_environ, holds_git_repository
from dvx.user_dirs import user_cache_dir
from dvx.wording import counted, named_list

log = get_logger(__name__)


def source_path(path: str) -> str:
    """A PATH of a source as typed, repository-relative: a trailing slash and a leading
    `./` (as a shell completes it) dropped; "" for the top (`.`). A `..` stays, to be
    refused; an absolute path is refused (PathError), never read from the top."""
    refuse_absolute_path(path, None, "PATH names", "Name")
    path = path.strip("/")
    while path == "." or path.startswith("./"):
        path = path[2:].lstrip("/")
    return path


def refuse_absolute_path(path: str, local_top: str | None, takes: str, verb: str, *,
                         start: str | None = None, at_top: str | None = None) -> None:
    """Refuse (PathError) an absolute `path` given where a path inside a repository is
    wanted, rather than read it from the repository's top (a path the user never named):
    when it leads into the local repository at `local_top`, the hint names the relative
    path to give instead, from `start` (the folder of that repository the path starts in;
    default: its top). `takes` says what wants the path ("dvx.api takes"), `verb` how to
    give it ("Pass"); `at_top` is the hint when the path is the top itself and the caller
    wants a file or directory in it (None: the top is taken, named as a relative path)."""
    if not os.path.isabs(path):
        return
    # The folder's links resolved, not the file's: a tracked file may link into the cache.
    named = path.rstrip("/") or "/"
    real = os.path.join(os.path.realpath(os.path.dirname(named)), os.path.basename(named))
    begins = "its top"
    hint = None
    if local_top is not None:
        top = os.path.realpath(local_top)
        here = os.path.realpath(start) if start is not None else top
        if here != top:
            begins = f"the folder URL names, '{os.path.relpath(here, top)}'"
        if real == top and at_top is not None:
            hint = at_top
        elif real == top or real.startswith(top + os.sep):
            relative = os.path.relpath(real, here).replace(os.sep, "/")
            if readable_path(os.path.relpath(real, top).replace(os.sep, "/")):
                hint = f"{verb} '{relative}' instead."
    raise PathError(f"'{path}' is an absolute path; {takes} a path inside the repository, "
                    f"relative to {begins}.", hint)


def local_source_top(url: str) -> str | None:
    """The top of the dvx repository a local `url` names and that is read in place, else
    None (a Git URL, a bare repository, a folder that is no dvx repository's top)."""
    return os.path.abspath(file_url_path(url)) if read_in_place(url) else None


def readable_path(path: str) -> bool:
    """Is `path` one a source's files are read by? Not one in its `.dvx/` (dvx's own
    configuration, never data), nor any other with a reserved component: listings leave them
    out, as DVC's leave out `.dvc/`, so that all that is listed can be read."""
    return not any(part.casefold() in RESERVED_NAMES for part in path.split("/"))


Names = dict[str, str]  # what each object is in the source, by oid: "'images/2.png'"


@dataclass(frozen=True)
class Found:
    """A path of the source: the output holding it, and where inside a tracked directory."""
    output: Output
    subpath: str | None  # None: the output itself

    @property
    def path(self) -> str:
        return self.output.path if self.subpath is None else f"{self.output.path}/{self.subpath}"


@dataclass(frozen=True)
class GitDirectory:
    """A directory of the source that Git tracks files in, dvx's outputs inside it too."""
    path: str
    files: list[tuple[str, str]]  # (path in the repository, Git mode) of Git's files
    outputs: list[Output]


_SOURCE_FIX = "It must be fixed in the source repository, and committed there."


def _algo_of_pointer(data: bytes, path: str) -> str | None:
    """The algorithm the pointer file `data` (at `path`) records, None where it cannot be
    read."""
    try:
        return parse_pointer(data, path).algo
    except DvxError:
        return None


def _without_git(url: str, repo: Repo) -> UsageError:
    """The error of a source dvx cannot read through Git. The core.no_scm its committed
    config sets is honoured, Git or not (Repo.works_without_git): the project says Git does
    not record its pointers, so no revision of it says what data it holds (the workspace's
    pointers may be in no commit at all). The fix is the source's, never a `dvx config`
    typed here, which would change the reader's own config."""
    if not repo.works_without_git():
        return UsageError(f"'{url}' is not a Git repository.")
    return UsageError(
        f"'{url}' is a dvx project that works without Git (its config sets core.no_scm), so "
        "dvx cannot read which data its revisions hold.",
        "Copy the files from its workspace; or, if Git does record its pointer files, remove "
        "core.no_scm from the source's .dvx/config there, and commit it.")


def _as_the_source_s(exc: ConfigError, repo: Repo, source: str) -> ConfigError:
    """`exc`, a setting of the source dvx refuses, reworded as the source's to fix where its
    committed config holds it (the error names that file): named as the source's
    .dvx/config (a URL's is in dvx's private clone), with no `dvx config` to type here,
    which would change the reader's config and leave the source as it was. A setting of the
    user's own configs (the global one, a local source's config.local) is theirs, and its
    error, with the command that fixes it, is kept. One the reader may not read keeps its
    fix too: a file mode is never committed, so it is fixed where the file is."""
    path = os.path.join(repo.dvx_dir, "config")
    named = re.compile(r"\b[Tt]he config file '(?:" + re.escape(path) + "|"
                       + re.escape(named_from_here(path)) + ")'")
    if not named.search(exc.message):
        return exc
    message = named.sub("the source's .dvx/config", exc.message)
    fix = exc.hint if isinstance(exc, UnreadableConfigError) else _SOURCE_FIX
    return ConfigError(f"Cannot read {source}: {message[0].lower()}{message[1:]}", fix)


class Source:
    """One repository at one revision, read-only."""

    def __init__(self, url: str, rev: str | None = None, remote: str | None = None,
                 cache: LocalCache | None = None, reader: Repo | None = None) -> None:
        self.url = url
        self.requested_rev = rev
        self.remote_name = remote
        self.reader = reader  # the repository reading this one, if any
        root = _local_root(url)
        self.is_local = root is not None
        self.repo = Repo(root if root is not None else _cached_clone(clone_url(url), rev),
                         read_only=True)
        if self._git() is None:
            raise _without_git(url, self.repo)
        self.commit: str | None = None
        if rev is not None:
            self.commit = _resolve(self.repo, rev, url, cloned=not self.is_local)
        elif not self.is_local:
            self.commit = _default_commit(self.repo, url)
        self._read_hash_setting()
        self.cache = cache or self._cache_of(reader)
        self._outputs: list[Output] | None = None
        self._broken: list[Broken] = []  # its pointer files that cannot be read
        self._stores: dict[str | None, tuple[str, RemoteStore]] = {}  # by name; None: default

    def _git(self) -> Git | None:
        """The source's Git (None: it works without Git), its config read first: a setting
        of its committed config dvx refuses is the source's to fix (`_as_the_source_s`)."""
        try:
            return self.repo.git
        except ConfigError as exc:
            if self._reads_itself():
                raise
            raise _as_the_source_s(exc, self.repo, self.describe()) from None

    def _read_hash_setting(self) -> None:
        """Read the source's core.hash (its Repo keeps it): its data is named by its own
        committed config (its workspace's with its config.local, read without a revision)
        or the default, never by the reading user's global config or the reader's
        config.local, which name the reader's data only; the reader's own repository
        (`dvx.api` without `repo=`) is read as it reads itself. A value its committed
        config sets that dvx refuses is the source's to fix (`_as_the_source_s`); one of
        the user's own configs keeps its error, with the `dvx config` that fixes it."""
        try:
            if self._reads_itself():
                _ = self.repo.algo
                return
            self.repo.hash_as(self._committed_hash())
        except ConfigError as exc:
            if self._reads_itself():
                raise
            raise _as_the_source_s(exc, self.repo, self.describe()) from None

    def _reads_itself(self) -> bool:
        """Is the source the reader's own repository (`dvx.api` without `repo=`)?"""
        return self.reader is not None and self.is_local and (
            os.path.realpath(self.reader.root) == os.path.realpath(self.repo.root))

    def _cache_of(self, reader: Repo | None) -> LocalCache:
        """Where what is fetched goes: the reader's cache, or the user-level one outside a
        repository or for a reader hashing with another algorithm than the source (its
        cache holds and checks only its own algorithm's objects)."""
        if reader is not None and reader.algo == self.repo.algo:
            return reader.cache
        return LocalCache(os.path.join(user_cache_dir(), "cache"), self.repo.algo)

    # -- what the source tracks ------------------------------------------------------------

    def outputs(self) -> list[Output]:
        """What the source tracks; a pointer file that cannot be read is left out (and kept
        in `_broken`, repository-relative, to name it to whoever asks for its path)."""
        if self._outputs is None:
            if self.commit is None:
                self._outputs, self._broken = scan_outputs(self.repo)
            else:
                with History(self.repo) as history:
                    revision = history.at(self.commit)
                prefix = f"{self.commit[:10]}:"  # how History names where a pointer is
                self._outputs = revision.outputs
                self._broken = [Broken(b.path.removeprefix(prefix), _unprefixed(b.error, prefix))
                                for b in revision.broken]
        return self._outputs

    def find(self, path: str) -> Found:
        """The output at or holding `path` (repository-relative), or PathError. A symbolic
        link Git tracks on its way is followed (`_through_links`): the output found is the
        tracked path it leads to."""
        found = self._find(path)
        if isinstance(found, PathError):
            try:
                raise found
            finally:  # else the error's frame holds the error: a cycle keeping the source's
                del found  # Git processes until a garbage collection
        return found

    def tracks(self, path: str) -> bool:
        """Does the source track data at `path`, as `find` finds it? A path it cannot read
        (a damaged pointer) or a pointer file raises PathError, as there."""
        return not isinstance(self._find(path), PathError)

    def _find(self, path: str) -> Found | PathError:
        """`find`'s answer, the error that the source tracks nothing there returned."""
        asked = source_path(path)
        check_relpath(asked, "path")
        path = self._through_links(asked)
        link = "" if path == asked else f" (through a symbolic link, '{path}')"
        for output in self.outputs():
            if path == output.path:
                return Found(output, None)
            if output.pointer.is_dir and path.startswith(output.path + "/"):
                sub = path[len(output.path) + 1:]
                tree = self.tree(output)
                if tree.get(sub) is None and not any(
                        p.startswith(sub + "/") for p in _from(tree, sub)):
                    break
                return Found(output, sub)
        for broken in self._broken:
            data = broken.data_path
            if data is not None and (path == data or path.startswith(data + "/")):
                raise PathError(f"'{asked}'{link} cannot be read from {self.describe()}: "
                                f"{broken.error.message}",
                                "Its pointer must be fixed in the source repository.")
            if broken.path == LOCK_FILE and self._lock_may_record(broken, path):
                raise PathError(f"'{asked}'{link} cannot be read from {self.describe()}: "
                                f"{broken.error.message}",
                                f"Its {LOCK_FILE} must be fixed in the source repository.")
        self.refuse_pointer_file(asked)
        return PathError(f"'{asked}'{link} is not tracked by dvx in {self.describe()}.",
                         "List what it tracks with `dvx ls URL -R`.")

    def _lock_may_record(self, broken: Broken, path: str) -> bool:
        """Does the source's dvx.lock that cannot be read (`broken`: one recording another
        algorithm than the source's data is named by, say) record an output at or holding
        `path`? True where it cannot be told at all (a damaged one), as its error is then
        why `path` is not found."""
        recorded = self._outputs_of_broken_lock(broken)
        return recorded is None or any(path == out or path.startswith(out + "/")
                                       for out in recorded)

    def _lock_may_record_below(self, broken: Broken, folder: str) -> bool:
        """Does the source's dvx.lock that cannot be read record an output inside `folder`,
        which a copy of the folder would lack? True where it cannot be told at all."""
        recorded = self._outputs_of_broken_lock(broken)
        return recorded is None or any(out.startswith(folder + "/") for out in recorded)

    def _outputs_of_broken_lock(self, broken: Broken) -> list[str] | None:
        """The cached outputs the source's dvx.lock that cannot be read (`broken`) records,
        read with the algorithm it records (`parse_lock_as_recorded`); None where it cannot
        be read at all."""
        git = self.repo.git
        try:
            data = (git.object_data(broken.git_file[1])[1]
                    if broken.git_file is not None and git is not None else
                    fsutil.read_small_file(self.repo.abspath(LOCK_FILE), MAX_LOCK_BYTES + 1,
                                           follow_links=False))
            stages = parse_lock_as_recorded(data or b"", self.repo.algo)
        except (OSError, DvxError):
            return None
        return sorted({out.path for lock in stages.values() for out in lock.outs if out.cache})

    def refuse_pointer_file(self, path: str) -> None:
        """A PathError if `path` (through links, as `find`) is the pointer file of something
        the source tracks: a copy of it would track, where it lands, data that is not there
        (nor in that repository's cache or remote), and an import of it is no data at all.
        One that cannot be read is refused too, saying why, as in a directory got whole."""
        asked = source_path(path)
        path = self._through_links(check_relpath(asked, "path"))
        if not path.endswith(POINTER_SUFFIX):
            return
        data = path[:-len(POINTER_SUFFIX)]
        if not any(o.stage is None and o.path == data for o in self.outputs()):
            for broken in self._broken:
                if broken.path == path:
                    raise PathError(f"'{asked}' in {self.describe()} is a pointer file that "
                                    f"cannot be read: {broken.error.message}",
                                    "Its pointer must be fixed in the source repository.")
            return
        raise PathError(f"'{asked}' is the pointer file of '{data}' in {self.describe()}: a "
                        "copy of it would track data that is not where it lands.",
                        f"Name the data instead: '{data}'.")

    def git_files(self) -> list[tuple[str, int]]:
        """(path, size) of the files Git tracks at the revision (or, in a local workspace,
        of those in Git's index that are on disk). A symbolic link's size is its own (the
        length of its target), as Git records it, never that of the file it leads to."""
        git = self.repo.git
        assert git is not None
        if self.commit is not None:
            return git.ls_tree_files(self.commit)
        found = []
        for path in git.ls_files():
            try:
                found.append((path, os.lstat(self.repo.abspath(path)).st_size))
            except OSError:
                continue  # deleted in the workspace
        return found

    def git_directory(self, path: str) -> GitDirectory | None:
        """The directory `path` (through links, as `find`) if Git tracks files below it, else
        None: Git's files there but the pointer files of dvx's outputs inside it, which are
        listed instead (a copy holds their data, and no pointer that would track it where it
        lands). A pointer file below it that cannot be read is refused, naming it: a copy of
        the directory would lack its data."""
        asked = path.strip("/")
        path = self._through_links(check_relpath(asked, "path"))
        below = [p for p, _ in self.git_files() if p.startswith(path + "/")]
        if not below:
            return None
        for broken in self._broken:
            if broken.path.startswith(path + "/"):
                raise PathError(f"'{broken.path}' in '{asked}' cannot be read from "
                                f"{self.describe()}: {broken.error.message}",
                                "Its pointer must be fixed in the source repository.")
            if broken.path == LOCK_FILE and self._lock_may_record_below(broken, path):
                raise PathError(f"'{asked}' holds an output of {LOCK_FILE} that cannot be read "
                                f"from {self.describe()}: {broken.error.message}",
                                f"Its {LOCK_FILE} must be fixed in the source repository.")
        outputs = [o for o in self.outputs() if o.path.startswith(path + "/")]
        pointers = {o.pointer_path for o in outputs}
        modes = self._git_modes([p for p in below if p not in pointers])
        return GitDirectory(path, [(p, mode) for p, mode in modes.items() if mode != _SUBMODULE],
                            outputs)

    def _git_modes(self, paths: list[str]) -> dict[str, str]:
        """The Git mode of each of `paths` (files Git tracks): at the revision, or of the
        workspace's file (a submodule there is a directory, and left out)."""
        if self.commit is not None:
            git = self.repo.git
            assert git is not None
            return git.modes_at(self.commit, paths)
        modes = {}
        for path in paths:
            st = os.lstat(self.repo.abspath(path))
            if stat.S_ISLNK(st.st_mode):
                modes[path] = _LINK
            elif stat.S_ISREG(st.st_mode):
                modes[path] = "100755" if st.st_mode & 0o100 else "100644"
        return modes

    def git_file(self, path: str, max_bytes: int = MAX_GIT_FILE_BYTES) -> bytes:
        """The content of the file `path` that Git tracks, as Git stores it: a symbolic link's
        is its target, never followed."""
        if self.commit is None:
            full = self.repo.abspath(path)
            if os.path.islink(full):
                return os.fsencode(os.readlink(full))
            return self._workspace_file(path, max_bytes)
        git = self.repo.git
        assert git is not None
        return git.blob_at(self.commit, path, max_bytes) or b""

    def git_blob(self, path: str, max_bytes: int = MAX_GIT_FILE_BYTES) -> bytes | None:
        """The content of the file `path` (through links, as `find`) that Git tracks, or None
        if Git tracks no file there. In a local workspace that is a file Git's index holds,
        as `git_files` lists: one that is ignored, never added or no longer tracked is no
        file of the source's, whatever is on disk. A file larger than `max_bytes` is
        refused, never cut short."""
        git = self.repo.git
        assert git is not None
        path = self._through_links(path)
        if self.commit is None:
            if git.index_modes([path]).get(path) not in _FILE_MODES:
                return None
            if not os.path.isfile(self.repo.abspath(path)):
                return None  # deleted in the workspace
            return self._workspace_file(path, max_bytes)
        return git.blob_at(self.commit, path, max_bytes)

    def _workspace_file(self, path: str, max_bytes: int) -> bytes:
        """The bytes of the workspace's file `path`, refused (as `blob_at` refuses a blob) if
        it holds more than `max_bytes`."""
        with open(self.repo.abspath(path), "rb") as f:
            data = f.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise PathError(f"'{path}' in {self.describe()} is larger than {max_bytes} bytes; "
                            "refusing to read it.")
        return data

    def _through_links(self, path: str) -> str:
        """`path` with the symbolic links on its way resolved, as a path of the repository.
        A link that leads out of it (absolute, or up past its top, or into .git or .dvx) is
        refused, for a local path as for a clone, so that a link committed in a source never
        reads the reader's own files (~/.ssh, say). What dvx tracks is no link of Git's: the
        rest of a path at or inside an output is kept as it is (a local workspace may hold
        its files as links into a cache)."""
        done: list[str] = []
        todo = path.split("/")
        hops = 0
        while todo:
            link = "/".join([*done, todo.pop(0)])
            if self._in_output(link):
                return "/".join([link, *todo])
            target = self._link_target(link)
            if target is None:
                done = link.split("/")
                continue
            hops += 1
            resolved = posixpath.normpath(posixpath.join(posixpath.dirname(link), target))
            if hops > _MAX_LINK_HOPS or not _inside(resolved):
                way = "is" if link == path else f"goes through '{link}', which is"
                raise PathError(f"'{path}' in {self.describe()} {way} a symbolic link to "
                                f"'{target}', outside the repository; dvx does not follow "
                                "it.")
            done, todo = [], ([] if resolved == "." else resolved.split("/")) + todo
        return "/".join(done)

    def _in_output(self, rel: str) -> bool:
        return any(rel == o.path or (o.pointer.is_dir and rel.startswith(o.path + "/"))
                   for o in self.outputs())

    def _link_target(self, rel: str) -> str | None:
        """What the symbolic link at `rel` points to, or None if `rel` is no link."""
        if self.commit is None:
            full = self.repo.abspath(rel)
            return os.readlink(full) if os.path.islink(full) else None
        git = self.repo.git
        assert git is not None
        if git.modes_at(self.commit, [rel]).get(rel) != "120000":
            return None
        return os.fsdecode(git.blob_at(self.commit, rel, 4096) or b"")

    def listing(self) -> dict[str, dict[str, Any]]:
        """Every file and directory of the repository at the revision, by path: Git's files
        and dvx's (the files of tracked directories too, from their manifests), each
        {"name", "type": "file" or "directory", "size", "dvx": tracked by dvx, "oid"}.
        What dvx tracks but cannot read (a pointer file, a directory's manifest) is listed
        with "unreadable": why, and nothing below it, so that the rest is still listed."""
        entries: dict[str, dict[str, Any]] = {}
        for path, size in self.git_files():
            if not readable_path(path):
                continue
            entries[path] = {"name": path, "type": "file", "size": size, "dvx": False}
        for output in self.outputs():
            try:
                files = list(self.files_below(Found(output, None)))
            except Interrupted:
                raise
            except DvxError as exc:  # its files are not known; its size, the pointer's, is
                entries[output.path] = {"name": output.path, "type": "directory",
                                        "size": output.pointer.size, "dvx": True,
                                        "oid": output.pointer.oid, "unreadable": exc.message}
                continue
            for rel, oid, size, _ in files:
                path = f"{output.path}/{rel}" if rel else output.path
                entries[path] = {"name": path, "type": "file", "size": size, "dvx": True,
                                 "oid": oid}
            if output.pointer.is_dir:
                entries[output.path] = {"name": output.path, "type": "directory",
                                        "size": output.pointer.size, "dvx": True,
                                        "oid": output.pointer.oid}
        for broken in self._broken:
            unread = [broken.data_path] if broken.data_path is not None else \
                self._outputs_of_broken_lock(broken) if broken.path == LOCK_FILE else None
            for path in unread or []:
                entries[path] = {"name": path, "type": "file", "size": 0, "dvx": True,
                                 "unreadable": broken.error.message}
        for path in list(entries):
            parent = posixpath.dirname(path)
            while parent and parent not in entries:
                entries[parent] = {"name": parent, "type": "directory", "size": 0,
                                   "dvx": False}
                parent = posixpath.dirname(parent)
        return entries

    def bring(self, oids: list[str], sizes: dict[str, int] | None = None,
              output_remote: str | None = None, names: Names | None = None) -> None:
        """Put `oids` into the reader's cache: copied, verified, from the source's own cache
        when it has them, else downloaded from the source's remote (`output_remote`: the one
        their output names, `_remote_to_read`; `names`: see `_download`)."""
        missing = self.cache.missing(dict.fromkeys(oids))
        downloads = []
        for oid in missing:
            path = self.cached_path(oid)
            if path is None:
                downloads.append(oid)
            else:
                try:
                    with _open_cached(oid, path) as src:
                        self.cache.add_stream(src, oid)  # refuses bytes not hashing to oid
                except CorruptObjectError:
                    downloads.append(oid)  # the source's own copy: its remote may have one
        if downloads:
            self._download(downloads, sizes, output_remote, names)

    def describe(self) -> str:
        at = f" at {self.requested_rev}" if self.requested_rev else ""
        return f"'{self.url}'{at}"

    # -- data ------------------------------------------------------------------------------

    def tree(self, output: Output) -> Tree:
        tree = self._load_tree(output)
        if tree is None:
            self.fetch([output.pointer.oid], output_remote=output.remote,
                       names=_manifest_of(output))
            tree = self._load_tree(output)
        if tree is None:
            raise DvxError(f"The directory manifest of '{output.path}' in {self.describe()} "
                           "is not available.")
        warn_of_left_out(tree, f"{output.recorded_in} in {self.describe()}")
        return tree

    def _load_tree(self, output: Output) -> Tree | None:
        """The manifest of `output` from a cache that has it (`_caches`: never a source's
        cache.dir it may not use), or None: then it is fetched from the source's remote."""
        pointer = output.pointer
        for cache in self._caches():
            if cache.exists(pointer.oid):
                try:
                    with cache.open(pointer.oid) as src:
                        return Tree.from_stream(src, pointer.algo, pointer.oid)
                except CorruptManifestError as exc:
                    if cache is not self.cache:
                        return self._tree_from_remote(output, exc)  # the source's own copy
                    self._set_aside(pointer.oid, exc)  # then read from elsewhere, as pull does
                except DvxError as exc:
                    if cache is self.cache:
                        raise  # its bytes are the oid's: a new download would bring the same
                    return self._tree_from_remote(output, exc)
        return None

    def _set_aside(self, oid: str, damaged: DvxError) -> None:
        """Move aside, as `dvx fsck` and `dvx fetch` do, the object `oid` of the reader's cache
        whose bytes no longer hash to it (`damaged`), for a good copy to take its place."""
        self.cache.new_generation()  # an object leaves the cache
        with suppress(FileNotFoundError):  # another reader moved it first
            moved = self.cache.quarantine(oid)
            log.warning("%s Moved it to %s; reading it again.", damaged.message, moved)

    def _tree_from_remote(self, output: Output, damaged: DvxError) -> Tree:
        """The manifest of `output` downloaded from the source's remote, its copy in the
        source's own cache having failed its checks (`damaged`)."""
        pointer = output.pointer
        try:
            self._download([pointer.oid], output_remote=output.remote,
                           names=_manifest_of(output))
        except Interrupted:
            raise
        except DvxError as exc:
            raise DvxError(f"The directory manifest of '{output.path}' in the cache of "
                           f"{self.describe()} cannot be used: {damaged.message} Nor could it "
                           f"be read from the source's remote: {exc.message}",
                           self._own_cache_hint()) from None
        with self.cache.open(pointer.oid) as src:
            return Tree.from_stream(src, pointer.algo, pointer.oid)

    def _own_cache_hint(self) -> str:
        return (f"The source's cache is damaged: `dvx fsck` in '{self.repo.root}' sets the "
                "damaged copy aside, and it is then read from the source's remote.")

    def _caches(self) -> Iterator[LocalCache]:
        yield self.cache
        if self.is_local:
            try:
                own: LocalCache | None = self.repo.cache  # the source's own, read only
            except DvxError:
                own = None  # an unconfirmed cache.dir: not used
            if own is not None:
                yield own

    def cached_path(self, oid: str) -> str | None:
        """The path of `oid` in a cache that has it, or None."""
        for cache in self._caches():
            if cache.exists(oid):
                return cache.oid_path(oid)
        return None

    def _corrupt_copy(self, oid: str, path: str, actual: str) -> CorruptObjectError:
        """The error for the cached copy of `oid` at `path`, which hashes to `actual`: in the
        source's own cache, or in the reader's."""
        if path == self.cache.oid_path(oid):
            return CorruptObjectError(f"The cached object {oid} at '{path}' is corrupt: its "
                                      f"bytes hash to {actual}.",
                                      "`dvx fsck` in the repository reading it sets it aside; "
                                      "it is then downloaded again.")
        return CorruptObjectError(f"The object {oid} in the cache of {self.describe()} "
                                  f"('{path}') is corrupt: its bytes hash to {actual}.",
                                  self._own_cache_hint())

    def copy_object(self, oid: str, dst: str, output_remote: str | None = None,
                    names: Names | None = None) -> None:
        """Write the object `oid`, from a cache that has it, to the new file `dst`, hashed as
        it is copied (one pass); bytes that do not hash to `oid` are refused. A source's cache
        is as untrusted as its remote, and never followed through a symbolic link.
        `output_remote`: the remote its output names (`_remote_to_read`); `names`: see
        `_download`."""
        path = self.cached_path(oid)
        assert path is not None
        try:
            self._copy_checked(oid, path, dst)
        except CorruptObjectError as damaged:
            if path == self.cache.oid_path(oid):
                raise
            with suppress(FileNotFoundError):  # the source's own copy: try its remote's
                os.unlink(dst)
            try:
                self._download([oid], output_remote=output_remote, names=names)
            except Interrupted:
                raise
            except DvxError as exc:
                raise CorruptObjectError(f"{damaged.message} Nor could it be read from the "
                                         f"source's remote: {exc.message}",
                                         damaged.hint) from None
            self._copy_checked(oid, self.cache.oid_path(oid), dst)

    def _copy_checked(self, oid: str, path: str, dst: str) -> None:
        """Copy the cached `oid` at `path` to the new file `dst`, refusing other bytes."""
        algo = self.repo.algo
        try:
            data = fsutil.read_small_file(path, fsutil.SMALL_FILE, follow_links=False)
            fd = os.open(dst, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
            try:
                if data is not None:
                    actual = hash_bytes(data, algo)
                    fsutil.write_all(fd, data)
                else:
                    # Checked by its oid below, not its mtime: a use of the object (by a
                    # repository sharing the cache) moves that, and no byte.
                    actual, _ = hash_copy(path, fd, algo, follow_links=False,
                                          changed_is_error=False)
            finally:
                os.close(fd)
        except OSError as exc:
            raise _linked_object(exc, oid, path) from None
        if actual != oid:
            raise self._corrupt_copy(oid, path, actual)

    def fetch(self, oids: list[str], sizes: dict[str, int] | None = None,
              output_remote: str | None = None, names: Names | None = None) -> None:
        """Bring `oids` into the reader's cache (copied from the source's cache when it has
        them, else downloaded from its remote: `output_remote`, see `_remote_to_read`);
        DvxError naming what failed (`names`: see `_download`)."""
        wanted = [oid for oid in dict.fromkeys(oids) if self.cached_path(oid) is None]
        if wanted:
            self._download(wanted, sizes, output_remote, names)

    def _download(self, oids: list[str], sizes: dict[str, int] | None = None,
                  output_remote: str | None = None, names: Names | None = None) -> None:
        """Download `oids` from the source's remote into the reader's cache; one that fails
        is named by what it is in the source (`names`: by oid, from `objects_of`), as the
        user knows it, and its oid."""
        name, store = self.remote(output_remote)
        try:
            result = transfer.download(store, self.cache, oids, settings_for(
                self.repo, name, store, None, source=self.config), sizes=sizes)
        except CredentialsError as exc:
            raise exc.for_source(self.describe()) from None
        if result.failed:
            oid, why = next(iter(sorted(result.failed.items())))
            what = f"{names[oid]} ({oid})" if names and oid in names else oid
            raise DvxError(f"Could not download {counted(len(result.failed), 'object')} from "
                           "the remote "
                           f"'{name}' of {self.describe()}: {what}: {why}.",
                           _download_hint(name, why, store.url))

    def remote(self, output_remote: str | None = None) -> tuple[str, RemoteStore]:
        """The source's remote that holds the data of an output naming `output_remote` (its
        `remote:` in dvx.yaml, as dvx.lock records it; None: none), its directory checked to
        exist (a missing one is named as missing, not as an object the remote lacks)."""
        name = self._remote_to_read(output_remote)
        if name not in self._stores:
            try:
                # the reader's remotes of the same URL lend it their options (credentials)
                reader = Config(None) if self.reader is None else self.reader.config
                opened = open_source_remote(self.repo, self.config, name, (reader,),
                                            self._home(), self._index_base())
                opened[1].blobs.prepare(create=False)
            except CredentialsError as exc:  # the way out is the reader's, not the source's
                raise exc.for_source(self.describe()) from None
            except RemoteError as exc:
                raise RemoteError(f"Cannot read the remote of {self.describe()}: {exc.message}",
                                  self._unknown_remote_hint() or _source_hint(exc.hint)
                                  ) from None
            self._stores[name] = opened
        return self._stores[name]

    def _remote_to_read(self, output_remote: str | None) -> str | None:
        """The remote to read an output's data from (None: the source's default): the one
        the caller asked for (`remote=`), else the one the output belongs on in the source,
        where its `dvx push` sent it."""
        if self.remote_name is not None:
            return self.remote_name
        return own_remote(output_remote, self.config.remote_names())

    @functools.cached_property
    def config(self) -> Config:
        """The source's settings as read at its revision, which name its remotes: the
        .dvx/config committed there (the workspace's, read without one). A local source (the
        same user's repository on this machine) is read with the levels a `dvx pull` there
        uses: the user's global config and its own config.local too. A clone is read with
        its committed config only: the reader's global remotes are none of its own, and lend
        their options only to one of the same URL (`remote`)."""
        own = self.repo.config.files
        files = {"project": self._committed_config()}
        if self.is_local:
            files["global"], files["local"] = own["global"], own["local"]
        config = Config.of_files(files)
        if self.commit is not None and default_remote(config) is None:
            # A revision that sets no default remote could not push its data by itself
            # (before the source had a remote, or with `-r`): it went where a later config
            # sends it, so the current one (the workspace's, or the default branch's) gives
            # the default and the remotes the revision does not name.
            files["project"] = files["project"].with_remotes_of(own["project"])
            config = Config.of_files(files)
        return config

    def _committed_hash(self) -> str:
        """The algorithm the source's own .dvx/config names, else the one its data records
        (`_recorded_hash`); one dvx does not know is the source's to fix. A local source
        read in place is read with its own config.local too, as it reads itself: that file
        is the source's, never the reader's."""
        levels = {"project": self._committed_config()}
        if self.commit is None and "local" in self.repo.config.files:
            levels["local"] = self.repo.config.files["local"]
        config = Config.of_files(levels)
        if config.get("core", "hash") is None:
            return self._recorded_hash()
        try:
            return config.hash_algo()
        except ConfigError:
            raise self._unknown_hash(config) from None

    def _unknown_hash(self, config: Config) -> ConfigError:
        """The error for a core.hash of the source's that names no algorithm, naming the
        file that sets it: its committed .dvx/config, or its own config.local (read in
        place), which is not committed."""
        value = config.get("core", "hash")
        if config.where("core", "hash") == "local":
            return ConfigError(
                f"Cannot read {self.describe()}: its .dvx/config.local sets core.hash to "
                f"{value!r}, which is none of the algorithms dvx knows "
                f"({', '.join(sorted(ALGORITHMS))}).",
                "It must be fixed in the source repository's .dvx/config.local, which is its "
                "own and not committed: run `dvx config --local --unset core.hash` there, or "
                "set the algorithm its data was added with.")
        return ConfigError(
            f"Cannot read {self.describe()}: the source's .dvx/config sets core.hash to "
            f"{value!r}, which is none of the algorithms dvx knows "
            f"({', '.join(sorted(ALGORITHMS))}).", _SOURCE_FIX)

    def _recorded_hash(self) -> str:
        """The algorithm the source's data records, for a source whose config names none:
        its owner may set core.hash in a global config of theirs, which no reader sees, and
        every pointer file and dvx.lock records the algorithm of its oids; with none that
        can be read, the default. Files recording different algorithms leave it unknown:
        dvx reads a repository's data by one algorithm (its cache's and remote's objects
        are kept by algorithm), so whichever were taken, the data recorded with another
        would be unreadable, as it is to the source's own dvx; that is refused
        (`_mixed_hashes`), naming the files, for the source to settle."""
        recorded: dict[str, list[str]] = {}
        for path, data in self._recorded_files():
            algo = (recorded_algo(data) if path == LOCK_FILE
                    else _algo_of_pointer(data, path))
            if algo is not None:
                recorded.setdefault(algo, []).append(path)
        if len(recorded) > 1:
            raise self._mixed_hashes(recorded)
        return next(iter(recorded), DEFAULT_ALGO)

    def _mixed_hashes(self, recorded: dict[str, list[str]]) -> ConfigError:
        """The refusal of a source whose config names no algorithm while its pointer files
        and dvx.lock record several (`recorded`: the files recording each). Its fix keeps
        one algorithm: a pointer recording another is deleted and its data added again,
        as `dvx add` over such a pointer refuses it; a dvx.lock recording another is
        written again by the run of its stages. The one kept is named in its config first,
        so the data is added again with it, whichever the source's dvx hashes with."""
        which = "; ".join(f"{algo} by {named_list(sorted(paths), most=3, name=repr)}"
                          for algo, paths in sorted(recorded.items()))
        lock = any(LOCK_FILE in paths for paths in recorded.values())
        files = "pointer files and dvx.lock" if lock else "pointer files"
        hint = ("It must be fixed in the source repository, keeping one of them: there, "
                "name it (`dvx config core.hash ALGO`), delete the pointer files recording "
                "another (`rm PATH.dvx`, which keeps the data), `dvx add` their data again")
        if lock:
            hint += (f" (where {LOCK_FILE} records another, `rm {LOCK_FILE}` and `dvx repro` "
                     "record its stages again)")
        hint += ", `dvx push`, and commit .dvx/config with them"
        return ConfigError(
            f"Cannot read {self.describe()}: its {files} record different hash "
            f"algorithms ({which}), and its .dvx/config sets no core.hash to say which one "
            "names its data. dvx reads a repository's data by one algorithm, so the data "
            "recorded with the other would not be found.", hint + ".")

    def _recorded_files(self) -> Iterator[tuple[str, bytes]]:
        """The source's pointer files and dvx.lock (path, content), read one at a time:
        those committed at the revision read, else its workspace's (a symbolic link or what
        is no regular file there left out, as too large a one)."""
        git = self.repo.git
        assert git is not None
        if self.commit is not None:
            with History(self.repo) as history:
                files = history.files_at(self.commit)
            for path, sha in files:
                yield path, git.object_data(sha)[1]
            return
        # Listed by Git alone: `pointer_files` would open the source's sync state, whose
        # algorithm is the one being found.
        listed = git.workspace_files(f"*{POINTER_SUFFIX}")
        for path in [*listed, LOCK_FILE]:
            limit = MAX_LOCK_BYTES if path == LOCK_FILE else MAX_POINTER_BYTES
            try:
                data = fsutil.read_small_file(self.repo.abspath(path), limit + 1,
                                              follow_links=False)
            except (OSError, DvxError):
                continue
            if data is not None:
                yield path, data

    def _committed_config(self) -> ConfigFile:
        """The source's own .dvx/config: at the revision read, else its workspace's."""
        if self.commit is None:
            return self.repo.config.files["project"]
        return self._config_at()

    def _config_at(self) -> ConfigFile:
        """The .dvx/config committed at the revision (none there: no settings)."""
        git = self.repo.git
        assert git is not None and self.commit is not None
        path = f"{DVX_DIR}/config"
        named = f"'{path}' of {self.describe()}"
        fix = _SOURCE_FIX
        if git.mode_at(self.commit, path) == _LINK:  # as Config refuses one in a workspace
            raise ConfigError(f"The config file {named} is a symbolic link: dvx reads a "
                              "repository's tracked config only from a regular file.", fix)
        try:
            data = git.blob_at(self.commit, path, _MAX_CONFIG_BYTES)
        except DvxError as exc:  # a directory there, or too large to be a config
            raise ConfigError(f"Cannot read the config file {named}: {exc.message}",
                              fix) from None
        return ConfigFile.parse(data or b"", named, fix)

    def _unknown_remote_hint(self) -> str | None:
        """The hint where the caller named a remote the source does not have (`remote=`,
        `--remote`): the names it has, not where the source's own config names one."""
        if self.remote_name is None:
            return None
        names = self.config.remote_names()
        if self.remote_name in names:
            return None
        has = (f"its remotes are {', '.join(repr(n) for n in names)}" if names else
               "it has none")
        return (f"The remote asked for, '{self.remote_name}', must be one of the source's "
                f"(in its .dvx/config): {has}. Without one, its default remote is read.")

    def _index_base(self) -> str:
        """Where the copies of the remote's pack indexes are kept: with the reader's
        temporaries, or the user's cache without one; never in the source."""
        return self.reader.tmp_dir if self.reader is not None else user_cache_dir()

    def _home(self) -> str | None:
        """Where the source is on this machine, for a relative directory remote in its config
        to be resolved from, as from a clone's top: its working tree, or the directory of a
        bare repository (where Git itself resolves a relative path of its config); None for
        a source elsewhere, whose relative remote names nothing here."""
        if self.is_local:
            return self.repo.root
        path = clone_url(self.url)
        return path if os.path.isabs(path) else None

    def open_object(self, oid: str, size: int | None = None, output_remote: str | None = None,
                    path: str | None = None) -> IO[bytes]:
        """A reader of the object `oid` (of `size` bytes, if known; `path`: the file of the
        source it is, to name it), from a cache, seekable, else streamed from the remote
        (`output_remote`: the one its output names, `_remote_to_read`); read to its size or
        its end, it is checked against the oid."""
        cached = self.cached_path(oid)
        if cached is not None:
            at = cached
            return _VerifiedReader(_Verified(
                _open_cached(oid, at), oid, self.repo.algo, size,
                lambda actual: self._corrupt_copy(oid, at, actual), local=True))
        name, store = self.remote(output_remote)
        try:
            stream = store.open(oid)
        except FileNotFoundError:
            what = f"'{path}' (object {oid})" if path is not None else f"Object {oid}"
            raise DvxError(f"{what} is not on the remote '{name}' of {self.describe()}.",
                           "Its data may not have been pushed.") from None
        except Exception as exc:  # named with the remote and the way out
            raise self._unreadable(store, oid, exc) from None
        return _VerifiedReader(_Verified(stream, oid, self.repo.algo, size,
                                         unreadable=partial(self._unreadable, store, oid)))

    def _unreadable(self, store: RemoteStore, oid: str, exc: Exception) -> RemoteError:
        """The error for the object `oid` that the source's remote `store` failed to open, or
        to go on streaming (a server that stopped answering, or went away, half-way), for
        `exc`: naming the remote, the source and its revision, and the way out."""
        error = transfer.unreachable(store, exc, f"the object {oid} of {self.describe()}")
        return error.for_source(self.describe()) if isinstance(error, CredentialsError) \
            else error

    def files_below(self, found: Found) -> Iterator[tuple[str, str, int, bool]]:
        """(path relative to `found`, oid, size, executable) of every file it holds."""
        pointer = found.output.pointer
        if not pointer.is_dir:
            yield "", pointer.oid, pointer.size, pointer.executable
            return
        tree = self.tree(found.output)
        if found.subpath is not None:
            entry = tree.get(found.subpath)
            if entry is not None:
                yield "", entry.oid, entry.size, entry.executable
                return
        prefix = "" if found.subpath is None else found.subpath + "/"
        for entry in tree.entries:
            if entry.path.startswith(prefix):
                yield entry.path[len(prefix):], entry.oid, entry.size, entry.executable


def objects_of(top: str, files: list[tuple[str, str, int, bool]]
               ) -> tuple[list[str], dict[str, int], Names]:
    """The oids of `files` (below the path `top` of the source, as `files_below` gives them),
    their sizes, and the file of the source each is, for an error to name it."""
    names: Names = {}
    for rel, oid, _, _ in files:
        names.setdefault(oid, f"'{top}/{rel}'" if rel else f"'{top}'")
    return [oid for _, oid, _, _ in files], {oid: size for _, oid, size, _ in files}, names


def _manifest_of(output: Output) -> Names:
    return {output.pointer.oid: f"the directory manifest of '{output.path}'"}


def _source_hint(hint: str | None) -> str | None:
    """The hint of an error with a source's remote: one that names a `dvx remote` command is
    about the reader's own remotes, not the source's, and is replaced: by where a value of
    the source's config that dvx refuses is fixed (a `Fix it with`/`Set it with` hint, as
    every such error has), else by where the source's data comes from."""
    if hint is None or "dvx remote" not in hint:
        return hint
    if _CONFIG_FIX.match(hint):
        return ("It must be fixed in the source repository's .dvx/config, and committed "
                "there.")
    return ("The source's .dvx/config names its remote; its data is pushed there from a clone "
            "of it (`dvx push`).")


_CONFIG_FIX = re.compile(r"(Fix|Set) it with `dvx remote modify ")  # a value to change


def _unprefixed(error: DvxError, prefix: str) -> DvxError:
    """`error` without the `commit:` prefix History names a pointer file with: the plain
    path, as the user knows it."""
    return DvxError(error.message.replace(prefix, ""), error.hint)


_LINK, _SUBMODULE = "120000", "160000"  # Git's modes of a symbolic link and a submodule
_FILE_MODES = ("100644", "100755")  # Git's modes of a file, plain and executable
_MAX_CONFIG_BYTES = 1 << 20  # a tracked .dvx/config larger than this is no config
_MAX_LINK_HOPS = 40  # as the kernel's limit on links followed in one path


def _inside(resolved: str) -> bool:
    """Is the normalized link target `resolved` a path of the repository's files?"""
    if resolved == ".":
        return True
    try:
        check_relpath(resolved)
    except DvxError:
        return False  # absolute, '..' at its start, or into .git or .dvx
    return True


def _from(tree: Tree, sub: str) -> Iterator[str]:
    """The tree's paths from the first at or after `sub + '/'` while they start with it."""
    from bisect import bisect_left

    start = bisect_left(tree.paths, sub + "/")
    for index in range(start, len(tree)):
        path = tree.paths[index]
        if not path.startswith(sub + "/"):
            return
        yield path


def _open_cached(oid: str, path: str) -> IO[bytes]:
    """The cached object `oid` at `path`, opened unverified (the caller hashes what it reads):
    a source's cache is as untrusted as its remote, and a link there is never followed."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
    except OSError as exc:
        raise _linked_object(exc, oid, path) from None
    return os.fdopen(fd, "rb")


def _linked_object(exc: OSError, oid: str, path: str) -> Exception:
    """`exc`, raised opening the cached object `oid` at `path` without following a link, as
    the user's error when a link is what was there."""
    if exc.errno != errno.ELOOP or not os.path.islink(path):
        return exc
    return CorruptObjectError(
        f"The cached object {oid} at '{path}' is a symbolic link, not an object; dvx does not "
        "read through it.", "Fix or re-push it at the source.")


def _download_hint(remote: str, why: str, url: str) -> str:
    """What to do when an object could not be downloaded from a source's remote `remote` (at
    `url`, as shown) for `why`."""
    if "corrupt" in why or "truncated" in why:  # there, and readable, but damaged
        return (f"The source's remote '{remote}' holds a damaged copy: `dvx fsck --remote "
                f"{remote}` in a clone of the source sets it aside, and `dvx push` from a "
                "repository that has a good copy replaces it.")
    return ("Check that the source's data was pushed and that you may read its remote: your "
            "credentials for it come from the environment, or from a remote of the same URL in "
            f"your own config (`dvx remote add --global NAME {url_without_login(url)}`, then "
            "`dvx remote modify --global NAME OPTION VALUE`).")


def _corrupt_remote_copy(oid: str, actual: str) -> DvxError:
    return DvxError(f"The remote copy of {oid} is corrupt: its bytes hash to {actual}.",
                    "Push a good copy from a repository that has it.")


_READ_AHEAD = 1 << 17  # what a verified reader reads at a time for small reads and lines


class _Verified(io.RawIOBase):
    """The bytes of an object, hashed as they are read, refusing those that do not hash to the
    expected oid (`corrupt`: the error, given the oid they hash to) with the read that reaches
    the object's `size` (or its end), so a caller that reads exactly its size never gets
    corrupt bytes; once refused, every later read is refused too. A cached object (`local`:
    `src` is a file on this machine) can seek: the first seek away from where hashing stands
    checks the whole file first, then reads go unhashed. Read through `_VerifiedReader`."""

    def __init__(self, src: IO[bytes], oid: str, algo: str, size: int | None,
                 corrupt: Callable[[str], DvxError] | None = None, local: bool = False,
                 unreadable: Callable[[Exception], DvxError] | None = None) -> None:
        from dvx.hashing import ALGORITHMS

        super().__init__()
        self._src, self._oid, self._algo, self.size = src, oid, algo, size
        self._unreadable = unreadable  # the error for a read of `src` that failed, if given
        self._hasher = ALGORITHMS[algo].new()
        self._hashed = 0  # bytes hashed, in order from the start: the position until a seek
        self._checked = False  # their hash was compared (and matched: else it raised)
        self._failed: DvxError | None = None  # why the object was refused
        self._local = local
        self._trusted = False  # the whole file was checked (before a seek)
        self._corrupt = corrupt or (lambda actual: _corrupt_remote_copy(oid, actual))

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        if not view:  # asks for nothing: not the end of the stream, nothing to check
            return 0
        if self._failed is not None:
            raise self._failed
        data = self._read(len(view))
        view[:len(data)] = data
        if self._trusted:
            return len(data)
        self._hasher.update(data)
        if data and self._checked:  # bytes past an end that matched: not the object's
            self._refuse(self._hasher.hexdigest())
        self._hashed += len(data)
        # An empty read is the end: a copy cut short ends there, before its size.
        if not data or (self.size is not None and self._hashed >= self.size):
            self._check()
        return len(data)

    def _read(self, size: int) -> bytes:
        """Up to `size` bytes of `src`. A read that fails (a remote's client library raising
        its own exceptions when the server stalls or goes away) is `unreadable`'s error, and
        so is every later read: bytes after a failed read may not follow those before."""
        try:
            return self._src.read(size)
        except Exception as exc:
            # dvx's own errors say all already, but credentials a remote refused (HTTP's
            # 403 to the read), whose way out is the reader's
            if self._unreadable is None or (isinstance(exc, DvxError)
                                            and not isinstance(exc, CredentialsError)):
                raise
            self._failed = self._unreadable(exc)
            raise self._failed from None

    def _check(self) -> None:
        if not self._checked:
            self._checked = True
            actual = self._hasher.hexdigest()
            if actual != self._oid:
                self._refuse(actual)

    def _refuse(self, actual: str) -> None:
        self._failed = self._corrupt(actual)
        raise self._failed

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return self._local

    def tell(self) -> int:
        return self._src.tell() if self._trusted else self._hashed

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if not self._local:
            raise _no_seek()
        if not self._trusted:
            here = {io.SEEK_SET: 0, io.SEEK_CUR: self._hashed}.get(whence)
            if here is not None and here + offset == self._hashed:
                return self._hashed  # staying where the hashing is: nothing read out of order
            self._check_whole()
        return self._src.seek(offset, whence)

    def _check_whole(self) -> None:
        """Hash the whole cached file, without moving this reader, before a seek: bytes read
        out of order could not be checked as they stream."""
        from dvx.hashing import ALGORITHMS, CHUNK_SIZE

        if self._failed is not None:
            raise self._failed
        hasher, fd, at = ALGORITHMS[self._algo].new(), self._src.fileno(), 0
        while chunk := os.pread(fd, CHUNK_SIZE, at):
            hasher.update(chunk)
            at += len(chunk)
        actual = hasher.hexdigest()
        if actual != self._oid:
            self._refuse(actual)
        self._trusted = True

    def close(self) -> None:
        self._src.close()
        super().close()


class _VerifiedReader(io.BufferedReader):
    """A `_Verified` object read through a buffer, so that lines and small reads take few
    reads of the object (a line at a time through a raw stream would read a byte at a
    time). Bytes read ahead are hashed as they are read: the read that makes it reach the
    object's size or end is checked, and raises if it is corrupt."""

    raw: _Verified

    def __init__(self, raw: _Verified) -> None:
        super().__init__(raw, _READ_AHEAD)

    @property
    def size(self) -> int | None:
        return self.raw.size

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if not self.raw.seekable():  # said with the way out, not as Python's generic error
            raise _no_seek()
        return super().seek(offset, whence)


def _no_seek() -> io.UnsupportedOperation:
    return io.UnsupportedOperation(
        "A file streamed from a remote cannot seek: read it whole "
        "(`io.BytesIO(f.read())`), or bring it into a cache first (`dvx fetch`, `dvx "
        "get`). fsspec's `simplecache::dvx://...` can seek too, but keeps its first copy "
        "for the rest of the process: a later change is not seen through it.")


def file_url_path(url: str) -> str:
    """The path a `file://` URL names, its percent-escapes decoded as Git decodes them
    (`file:///srv/my%20repo` is the folder 'my repo'; a `%` not followed by two hex digits
    stays), so that dvx reads the folder Git would; any other `url` as it is."""
    if not url.startswith("file://"):
        return url
    return os.fsdecode(unquote_to_bytes(url[len("file://"):]))


def _local_root(url: str) -> str | None:
    """The root of the dvx repository at the local path `url`, or None for a Git URL."""
    url = file_url_path(url)
    if "://" in url or (":" in url.split("/", 1)[0] and not os.path.exists(url)):
        return None  # https://..., ssh://..., git@host:path
    if not os.path.isdir(url):
        raise UsageError(f"'{url}' is neither a directory nor a Git URL.")
    root = os.path.abspath(url)
    if os.path.isdir(os.path.join(root, DVX_DIR)):
        return root
    if _is_bare(root):
        return None  # a bare Git repository: cloned like any URL
    top, below = local_top_and_below(url)  # the commands read such a folder from its top
    raise UsageError(f"'{url}' is not the top of a dvx repository (it has no {DVX_DIR}).",
                     f"It is the folder '{below}' of the dvx repository '{top}': name that, "
                     f"with paths from its top ('{below}/...')." if below else None)


def local_top_and_below(url: str) -> tuple[str, str]:
    """A local path inside a dvx repository but not at its top (`.` in its data/ folder) as
    (the path of that top, the path below it: 'data'), as Git takes the current folder;
    (url, "") for anything else: a top, a Git URL, a bare repository, a folder of another Git
    work tree below the dvx repository (a submodule), a path in no dvx repository."""
    path = file_url_path(url)
    if "://" in path or not os.path.isdir(path) or _is_bare(path):
        return url, ""
    here = folder = os.path.abspath(path)
    while not os.path.isdir(os.path.join(folder, DVX_DIR)):
        if holds_git_repository(folder) or os.path.dirname(folder) == folder:
            return url, ""  # the top of a Git work tree with no dvx, or of the filesystem
        folder = os.path.dirname(folder)
    if folder == here:
        return url, ""
    return folder, os.path.relpath(here, folder).replace(os.sep, "/")


def read_in_place(path: str) -> bool:
    """Is the local source at `path` read in place (the top of a dvx repository: its
    workspace, or its Git objects at a revision), rather than cloned like a Git URL (a bare
    repository)?"""
    return os.path.isdir(os.path.join(file_url_path(path), DVX_DIR))


def holds_commit(path: str, commit: str) -> bool | None:
    """Whether the source repository at the local `path` (a dvx repository's top or a bare
    repository) has the commit `commit` (one amended or deleted there, then pruned, it has
    no more); None when that cannot be told (no such repository there)."""
    path = file_url_path(path)
    if not (read_in_place(path) or _is_bare(path)) or commit.startswith("-"):
        return None
    done = _run_git(["git", "-C", path, "rev-parse", "-q", "--verify", "--end-of-options",
                     f"{commit}^{{commit}}"])
    return {0: True, 1: False}.get(done.returncode)


def _is_bare(path: str) -> bool:
    return os.path.isfile(os.path.join(path, "HEAD")) and os.path.isdir(os.path.join(path,
                                                                                    "objects"))


def clone_url(url: str) -> str:
    """What identifies a repository that is cloned (and picks its clone): its absolute path
    if it is on this machine (a bare repository, named by path or `file://` URL), so that
    'data.git' typed in two projects names two repositories, else the URL as given. A local
    repository read in place is named by its absolute path too: the same repository, however
    it is typed, gives the same answer."""
    path = file_url_path(url)
    return os.path.abspath(path) if "://" not in path and os.path.isdir(path) else url


# the clones fetched in the current `fetching_once` scope, with the error if that failed
_fetched: dict[str, UsageError | None] | None = None


@contextmanager
def fetching_once() -> Iterator[None]:
    """Within it, each source's clone is fetched at most once (one `git fetch` per source
    for a command that reads many imports of it; one that failed is not tried again)."""
    global _fetched
    outer, _fetched = _fetched, ({} if _fetched is None else _fetched)
    try:
        yield
    finally:
        _fetched = outer


def _cached_clone(url: str, rev: str | None = None) -> str:
    """A clone of `url` in the user's cache, made once and fetched on each later use (once
    per `fetching_once` scope). It has no local branch, its HEAD detached at the source's
    default branch (at `rev` if the source has none), so that a revision names the source's
    tag or branch as it is now, never a branch of the clone left behind by a rename."""
    base = os.path.join(user_cache_dir(), "repos")
    os.makedirs(base, exist_ok=True)
    target = os.path.join(base, hashlib.sha256(url.encode()).hexdigest()[:24])
    if _fetched is not None and target in _fetched:
        failed = _fetched[target]
        if failed is not None:
            raise failed
        return target
    try:
        _update_clone(url, target, rev)
    except UsageError as exc:
        if _fetched is not None:
            _fetched[target] = exc
        raise
    if _fetched is not None:
        _fetched[target] = None
    return target


def _update_clone(url: str, target: str, rev: str | None) -> None:
    import fcntl

    with open(target + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one clone or fetch at a time; released on close
        if os.path.isdir(os.path.join(target, ".git")):
            # pruned: a branch or tag the source deleted no longer resolves here
            _git(["git", "-C", target, "fetch", "-q", "--prune", "--force", "origin",
                  "+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*"], url)
            _refuse_empty_source(target, url)
            _follow_default_branch(target, url)
        else:
            _git(["git", "clone", "-q", "--no-checkout", "--", url, target], url)
            _refuse_empty_source(target, url)
        _detach(target, url, rev)


def _follow_default_branch(target: str, url: str) -> None:
    """Point origin/HEAD at the source's default branch as it is now (it may have been
    renamed), or remove it when the source's HEAD names a branch the source does not have
    (a bare repository made on `master` that only `main` was pushed to): then only a
    revision that is asked for can be read."""
    done = _run_git(["git", "-C", target, "remote", "set-head", "origin", "-a"])
    if done.returncode == 0:
        return
    if "Cannot determine remote HEAD" not in done.stderr:
        _git(["git", "-C", target, "remote", "set-head", "origin", "-a"], url)
    _run_git(["git", "-C", target, "remote", "set-head", "origin", "-d"])


def _refuse_empty_source(target: str, url: str) -> None:
    """A source repository without a branch or tag (a new bare one) has no commit to read:
    said so, as for a local source without commits, rather than as a broken clone."""
    refs = _run_git(["git", "-C", target, "for-each-ref", "--count=1", "--format=x",
                     "refs/remotes/origin/", "refs/tags/"]).stdout
    if not refs.strip():
        raise UsageError(f"The source '{url}' has no commits yet: there is nothing to read.",
                         "Push a commit there first.")


def _detach(target: str, url: str, rev: str | None) -> None:
    """Check out the clone's origin/HEAD, detached, and delete its local branches. Without an
    origin/HEAD (the source has no default branch), check out `rev` instead, for the settings
    of its work tree (core.hash) to be read from it; without that either, leave the clone's
    HEAD naming a branch that does not exist, so that no stale commit is read as the
    source's. Its remotes are read from the revision's own .dvx/config (`Source.config`)."""
    commit = "origin/HEAD" if _has_default_branch(target) else _commit_of(target, rev)
    if commit is not None:
        _check_out(target, url, commit)
    else:
        _git(["git", "-C", target, "symbolic-ref", "HEAD", "refs/heads/HEAD-of-the-source"],
             url, "update the clone of")
    branches = _run_git(["git", "-C", target, "for-each-ref", "--format=delete %(refname)",
                         "refs/heads/"]).stdout
    if branches:
        _git(["git", "-C", target, "update-ref", "--stdin"], url, "update the clone of",
             branches)


def _check_out(target: str, url: str, commit: str) -> None:
    """Check out `commit` in the clone, detached. One holding a path Git refuses to write
    (`dir/../evil.txt`, from a hostile or damaged source) is checked out in `.dvx` alone:
    its settings are all that is read from the work tree, and everything else is read from
    Git's objects, where such a path is named but never written."""
    done = _run_git(["git", "-C", target, "checkout", "-q", "--force", "--detach", commit])
    if done.returncode == 0:
        return
    if not _git_error(done.stderr).startswith("invalid path"):
        _git(["git", "-C", target, "checkout", "-q", "--force", "--detach", commit], url,
             "update the clone of")  # raises, naming git's error
    _git(["git", "-C", target, "update-ref", "--no-deref", "HEAD", f"{commit}^{{commit}}"],
         url, "update the clone of")
    _git(["git", "-C", target, "rm", "-r", "-q", "--cached", "--ignore-unmatch", "--", "."],
         url, "update the clone of")
    if _run_git(["git", "-C", target, "ls-tree", "-d", commit, "--", ".dvx"]).stdout:
        refused = _run_git(["git", "-C", target, "checkout", "-q", "--force", commit, "--",
                            ".dvx"])
        if refused.returncode != 0:
            raise UsageError(
                f"Could not read the repository '{url}': Git refuses to check out its .dvx "
                f"folder at {commit} ({_git_error(refused.stderr)}), a path no checkout may "
                "write.", "The source's owner must rename it in a new commit.")


def _commit_of(target: str, rev: str | None) -> str | None:
    """The commit `rev` names in the clone (a tag, commit, or the source's branch, as the
    source names them: `_in_clone`), if any."""
    if rev is None or rev.startswith("-"):
        return None
    try:
        candidates = _in_clone(rev, target)
    except UsageError:
        return None  # a name of the clone's own: `_resolve` refuses it
    for candidate in candidates:
        done = _run_git(["git", "-C", target, "rev-parse", "-q", "--verify",
                         "--end-of-options", f"{candidate}^{{commit}}"])
        if done.returncode == 0:
            return done.stdout.strip()
    return None


# Names that only dvx's clone of a source has (its remote-tracking branches, origin/HEAD,
# what its fetches leave), never the source itself: a revision naming one is refused.
_CLONE_ONLY = ("origin", "FETCH_HEAD", "ORIG_HEAD")
_CLONE_ONLY_PREFIXES = ("origin/", "remotes/", "refs/remotes/")


def _in_clone(rev: str, url: str) -> list[str]:
    """The names to try in dvx's clone of the source at `url` for the revision `rev` as the
    source names it: the clone keeps the source's branches as refs/remotes/origin/*, its
    tags as they are. `refs/heads/main` is `refs/remotes/origin/main` there; `main` is the
    tag main, else the branch, as Git finds it in the source (refs/tags before refs/heads);
    anything else (a commit, HEAD: the source's default branch) as it is. A name of the
    clone's own (`origin/main`, `refs/remotes/origin/main`, `origin/HEAD`) is refused: the
    source has none of them, and taking one for a branch of it would let, for one, an import
    of this repository's own tracked branch past its refusal. So is any `@{...}` form
    (`main@{1}`, `HEAD@{1}`, `@{u}`, `@{-1}`): the clone's reflogs and settings, not the
    source's."""
    if "@{" in rev:
        raise UsageError(f"{rev!r} is no revision of '{url}': its '@{{...}}' reads the reflog "
                         "or settings of the copy dvx keeps of it, which tell what dvx fetched "
                         "when, not anything of the repository itself.",
                         "Name a branch, tag or commit of it.")
    base = re.split(r"[~^:]|@\{", rev, maxsplit=1)[0]
    if base.startswith("refs/heads/"):
        return ["refs/remotes/origin/" + rev.removeprefix("refs/heads/")]
    if base.startswith("refs/tags/"):
        return [rev]
    if base in _CLONE_ONLY or base.startswith(_CLONE_ONLY_PREFIXES):
        branch = base.removeprefix("refs/").removeprefix("remotes/").removeprefix("origin")
        branch = branch.lstrip("/")
        named = ("no --rev (its default branch)" if branch in ("", "HEAD") else
                 f"'{branch}' or 'refs/heads/{branch}'")
        raise UsageError(f"{rev!r} is no revision of '{url}': it names a ref of the copy dvx "
                         "keeps of it, which the repository itself does not have.",
                         f"Name its branch as the repository does ({named}), or a tag or "
                         "commit of it.")
    if base.startswith("refs/"):
        return []  # a ref of the source the clone does not fetch
    return [f"refs/tags/{rev}", f"refs/remotes/origin/{rev}", rev]


def _has_default_branch(target: str) -> bool:
    return _run_git(["git", "-C", target, "rev-parse", "-q", "--verify",
                     "refs/remotes/origin/HEAD"]).returncode == 0


def _default_commit(repo: Repo, url: str) -> str:
    """The commit of the default branch of a cloned source, or a UsageError saying that its
    HEAD names a branch it does not have, and which branches it has."""
    if _has_default_branch(repo.root):
        assert repo.git is not None
        return repo.git.resolve_revision("refs/remotes/origin/HEAD")
    branches = _run_git(["git", "-C", repo.root, "for-each-ref", "--format=%(refname)",
                         "refs/remotes/origin/"]).stdout.split()
    names = ", ".join(b.removeprefix("refs/remotes/origin/") for b in branches)
    raise UsageError(f"The source '{url}' has no default branch to read: its HEAD names a "
                     "branch it does not have.",
                     f"Pass --rev with one of its branches ({names}), or a tag or commit."
                     if names else "Pass --rev with one of its tags or commits.")


# The transports Git may use to reach a source (docs/reuse.md: a path, `file://`, `https://`,
# `ssh://`, `git@host:path`; `http://` and `git://` too). Its URL comes from repository content
# (an import's pointer, a `dvx://` URL in a committed script), so no other: not `ext::`, which
# runs a command, nor `fd::`, which talks over the user's terminal, nor any remote helper.
SOURCE_TRANSPORTS = ("file", "git", "http", "https", "ssh")


def _source_git_environ() -> dict[str, str]:
    """The environment of a Git process that reads a source: only SOURCE_TRANSPORTS allowed
    (GIT_ALLOW_PROTOCOL overrides any `protocol.*.allow` configuration; one the user set
    narrows it further), each as if the URL came from a repository rather than the user
    (GIT_PROTOCOL_FROM_USER=0), and never a prompt for a password."""
    allowed = [name for name in SOURCE_TRANSPORTS
               if name in os.environ.get("GIT_ALLOW_PROTOCOL", name).split(":")]
    return git_environ({"GIT_ALLOW_PROTOCOL": ":".join(allowed),
                        "GIT_PROTOCOL_FROM_USER": "0", "GIT_TERMINAL_PROMPT": "0"})


def _run_git(argv: list[str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run Git on a source's clone (or to make one), its output captured: `stdin` as its
    input, else none at all; never the user's terminal, which a transport could read from
    (and wait on forever)."""
    if stdin is None:
        return subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                              env=_source_git_environ())
    return subprocess.run(argv, capture_output=True, text=True, input=stdin,
                          env=_source_git_environ())


def _git(argv: list[str], url: str, doing: str = "fetch", stdin: str | None = None) -> None:
    done = _run_git(argv, stdin)
    if done.returncode != 0:
        raise UsageError(f"Could not {doing} the repository '{url}': "
                         f"{_git_error(done.stderr)}.", "Check the URL and your access to it."
                         if doing == "fetch" else "Delete the clone in "
                         f"{os.path.join(user_cache_dir(), 'repos')} to make it again.")


def _git_error(stderr: str) -> str:
    """What git says went wrong: its first fatal or error line, else its first line."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    for line in lines:
        for prefix in ("fatal: ", "error: "):
            if line.startswith(prefix):
                return line[len(prefix):].rstrip(".")
    return lines[0].rstrip(".") if lines else "git failed"


def _resolve(repo: Repo, rev: str, url: str, cloned: bool) -> str:
    """The commit `rev` names in the source: a Git revision, else the name of an experiment
    made there, as the commands take one (`dvx metrics show --rev`, DVC's
    `dvc.api.open(rev=...)`). A local source's branch is looked up among its remote
    branches too; in dvx's clone of a source (`cloned`), a revision is named as the source
    names it (`_in_clone`)."""
    git = repo.git
    assert git is not None
    invalid = None  # why `rev` as typed names no one commit (a range, a tree), if it does not
    for candidate in _in_clone(rev, url) if cloned else [rev, f"origin/{rev}"]:
        try:
            return git.resolve_revision(candidate)
        except UnknownRevisionError:
            continue
        except UsageError as exc:
            if candidate == rev:
                invalid = exc
    experiment = None if rev.startswith("-") else experiment_refs.named(repo, rev)
    if experiment is not None:
        return experiment.commit
    if invalid is not None:
        raise UsageError(invalid.message,
                         f"Name one branch, tag or commit of the repository at '{url}'.")
    raise UsageError(f"Unknown revision {rev!r} in '{url}'.", _unknown_revision_hint(rev, cloned))


def _unknown_revision_hint(rev: str, cloned: bool) -> str:
    """What names a revision of the source: of a local one, an experiment too; dvx's clone
    of any other has no experiments (only its branches and tags are fetched), so one is
    read from a clone of the user's own that `dvx exp pull` brought it into. Whether `rev`
    is one, or a mistyped branch, dvx cannot tell there: the hint says "if"."""
    if not cloned:
        return ("Name a branch, tag or commit of that repository, or an experiment of it "
                "(`dvx exp show -A` there lists them).")
    return (f"Name a branch, tag or commit of that repository. If {rev!r} is an experiment, "
            "note that experiments are never read from a repository dvx clones: in a clone "
            f"of your own, `dvx exp pull origin {shell_quote(rev)}` brings it, and naming that "
            "clone as the repository reads it.")
