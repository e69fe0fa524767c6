"""Blobs: the store interface under every object store, local or remote. A store holds named,
immutable files (objects, packs, indexes, logs, run records) and offers a few operations:

    get(name, start, end)         the bytes [start, end) of a blob (end None: to its end)
    get_each(names, arrived)      many small blobs whole, each handed over as it arrives
    read_into(name, sink)         stream a blob into `sink.write(chunk)` (large objects)
    open(name)                    a readable file of the blob (`dvx.api.open`, manifests)
    put(name, data)               publish a complete blob: a reader never sees part of one
    put_file(name, path)          the same, from a local file, telling `on_bytes` its progress;
                                  given the file's `version`, nothing is published if what
                                  was read of it may be another (FileChangedError)
    exists(name) / existing(names) / size(name) / is_directory(name)
    details(directory)            the blobs directly in a directory, with size and mtime
    walk(directory)               the names of every blob below a directory (a listing)
    walk_details(directory)       the same, with size and mtime
    move(name, to) / delete(names)     (a name already gone is no error for delete)
    unfinished_uploads() / abort_uploads(uploads)   uploads begun and never finished (S3's
                                  multipart uploads, whose parts the store keeps until aborted;
                                  SSH's temporaries never renamed into place);
                                  uploads_cleared(...) words what abort_uploads cleared
    walk_details_and_uploads(directory)   both walk_details and unfinished_uploads: one
                                  listing of the root, where the uploads are files in it

and declares what it suits: `jobs` (transfers in flight), `batch` (objects per task handed to
a worker thread), `concurrent_batch` (requests `put_many` sends at once),
`processes` (a large batch may run in worker processes), `reads_in_flight`
(large reads at once), `read_only` and `can_list`. Names are relative to the store's root
(`files/xxh128/ab/cdef...`, `packs/<hash>.pack`). Every call may run in any thread;
`session()` brackets a command's calls (a network client keeps its connections for it). A
missing blob raises FileNotFoundError. Retries are the caller's (remote/workers.py,
remote/retry.py).

This module has the interface and the local directory (the cache; a directory remote);
remote/blobs.py has the network stores.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import shutil
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from typing import IO, Any, Protocol, TypeVar

from dvx import faults, fsutil
from dvx.errors import RemoteError
from dvx.fsutil import BytesLike, FileVersion
from dvx.hashing import CHUNK_SIZE, OnBytes
from dvx.logs import get_logger
from dvx.threads import map_in_threads

log = get_logger(__name__)

T = TypeVar("T")
Details = dict[str, tuple[int, float | None]]  # name -> (size, mtime or None)


class CredentialsRefused(PermissionError):
    """The store refused the credentials themselves (a wrong secret, an access key it does
    not know, an expired token), not what they may do there: other credentials are the way
    out, never other rights. Its strerror says which, in the store's terms."""
Arrived = Callable[[int, "bytes | Exception"], bool]  # (index, blob or failure) -> go on?
STREAM_BLOCK = 8 << 20  # bytes per read of a large object
DEFAULT_JOBS = 16  # requests in flight on a network store: latency-bound, so more than cores


@dataclass(frozen=True)
class Upload:
    """An upload begun and neither completed nor aborted (an S3 multipart upload left by a
    killed push): the store keeps, and bills, the parts it received until it is aborted."""
    name: str  # of the blob it was to make
    upload_id: str
    started: float | None  # a POSIX time; None if the store does not say


class Sink(Protocol):
    def write(self, chunk: bytes) -> Any: ...


class Blobs(ABC):
    """A store's blobs; each kind of store implements the abstract operations."""

    processes = False  # a large batch of transfers may run in worker processes
    reads_in_flight = 4  # large reads (packs) worth having in flight at once
    read_only = False
    can_list = True
    stalled: str | None = None  # why the store is taken for gone (remote/retry.py)
    # Requests in flight at most, as -j or the remote's `jobs` option asks (settings_for);
    # None: `jobs`, what suits the store.
    request_limit: int | None = None
    server: str | None = None  # the host spoken to, where the URL does not name it (S3)
    on_this_machine = False  # a directory: what refuses access is a file's permissions
    delete_right = ""  # the right to delete, as the store's access policies name it (hints)
    # Where its client takes the credentials it signs with, in words (`AWS_ACCESS_KEY_ID and
    # AWS_SECRET_ACCESS_KEY in the environment`): named when the store refuses them; "" where
    # the kind of store does not tell.
    credentials_from = ""

    def __init__(self, root: str) -> None:
        self.root = root.rstrip("/") or "/"
        self.shown = f"remote at '{self.root}'"  # how messages name it: `remote 'NAME' (URL)`

    @property
    def jobs(self) -> int:
        """Transfers in flight that suit this store, when the user gives no -j."""
        return DEFAULT_JOBS

    @property
    def in_flight(self) -> int:
        """Requests this store's own concurrent work (existence checks, reads of many
        blobs) may have in flight at once."""
        return self.request_limit or self.jobs

    @property
    def batch(self) -> int:
        """Objects per task handed to a worker thread."""
        return 1

    @property
    def concurrent_batch(self) -> int:
        """Objects whose requests `put_many` sends at once (0: one by one)."""
        return 0

    def path(self, name: str) -> str:
        return posixpath.join(self.root, name)

    @contextlib.contextmanager
    def session(self) -> Iterator[None]:
        yield

    def prepare(self, create: bool) -> None:  # noqa: B027 (most stores need nothing)
        """Before a transfer: a store that must exist first is made (`create`) or checked."""

    def check_reachable(self) -> None:  # noqa: B027 (most stores fail loudly by themselves)
        """Raise RemoteError if the store cannot be reached: for a store whose client would
        report every object as missing instead."""

    def found_nothing(self) -> bool:
        """Whether every request so far found nothing there, on a store that cannot tell a
        wrong URL from an empty folder (a web server: a 404 is all either gives). Stores that
        can tell say so themselves (prepare): False."""
        return False

    @abstractmethod
    def get(self, name: str, start: int = 0, end: int | None = None) -> bytes: ...

    @abstractmethod
    def open(self, name: str, block_size: int | None = None) -> IO[bytes]: ...

    def read_into(self, name: str, sink: Sink, on_bytes: OnBytes | None = None) -> int:
        """Stream the blob into `sink` in blocks; its size."""
        size = 0
        with self.open(name, block_size=STREAM_BLOCK) as src:
            while chunk := src.read(CHUNK_SIZE):  # as it comes: a slow disk shows progress
                sink.write(chunk)
                size += len(chunk)
                if on_bytes is not None:
                    on_bytes(len(chunk))
                faults.point("read_into.after_block")
        return size

    def get_each(self, names: Sequence[str], arrived: Arrived) -> None:
        """Each blob whole, `jobs` reads in flight, handed to `arrived(index in names, bytes or
        what failed)` as it comes (from one thread at a time, not always the caller's), until
        `arrived` returns False: then no more are asked for, and those not handed over are
        left (reads in flight may still be). No retries: the caller tries again what failed
        or was left."""
        reads = map_in_threads(partial(_outcome, self.get), names, threads=self.in_flight)
        with contextlib.closing(reads):
            for index, outcome in enumerate(reads):
                if not arrived(index, outcome):
                    return

    @abstractmethod
    def put(self, name: str, data: BytesLike) -> None:
        """Publish `data` whole as `name`. Nothing keeps a reference to `data` once this
        returns or raises: a caller may reuse its buffer (the pack upload does)."""

    def put_many(self, blobs: list[tuple[str, bytes]]) -> list[Exception | None]:
        """Publish each (name, data); what failed, if anything, for each."""
        return [_outcome(self.put, name, data) for name, data in blobs]

    @abstractmethod
    def put_file(self, name: str, local_path: str, on_bytes: OnBytes | None = None,
                 version: FileVersion | None = None) -> None:
        """Publish the file at `local_path` whole as `name`. With `version`, only bytes read
        while the file was that version are published: the file is checked once they are all
        read, before they are (FileChangedError)."""

    @abstractmethod
    def exists(self, name: str) -> bool: ...

    def existing(self, names: Iterable[str]) -> set[str]:
        """Those of `names` the store holds (a network store asks them concurrently)."""
        return {name for name in names if self.exists(name)}

    @abstractmethod
    def size(self, name: str) -> int: ...

    def is_directory(self, name: str) -> bool:
        """A directory where a blob should be (made by hand in a directory store)."""
        return False

    def names(self, directory: str) -> list[str]:
        """The names in `directory`, for a reader that must see every blob there: a directory
        store names whatever stands where a blob should (a folder, a link to nothing, a
        FIFO) too, so that the reader refuses it rather than never learn of it."""
        return sorted(self.details(directory))

    @abstractmethod
    def details(self, directory: str) -> Details: ...

    @abstractmethod
    def walk(self, directory: str) -> Iterator[str]: ...

    @abstractmethod
    def walk_details(self, directory: str) -> Details: ...

    @abstractmethod
    def move(self, name: str, to: str) -> None: ...

    @abstractmethod
    def delete(self, names: list[str]) -> None: ...

    def wrong_credentials(self, exc: PermissionError) -> str | None:
        """Why the store refused the credentials themselves, if that is what its refusal
        `exc` says (CredentialsRefused); None when it refused what they may do."""
        return exc.strerror if isinstance(exc, CredentialsRefused) else None

    def unfinished_uploads(self) -> list[Upload]:
        """The uploads begun under the store's root and neither completed nor aborted; only a
        store that keeps the parts of an upload until it ends has any. PermissionError where
        this user may not list them."""
        return []

    def walk_details_and_uploads(self, directory: str) -> tuple[Details, list[Upload]]:
        """`walk_details(directory)` and `unfinished_uploads()` (none where this user may not
        list them): a store whose unfinished uploads are files among its blobs finds both in
        one listing."""
        found = self.walk_details(directory)
        try:
            return found, self.unfinished_uploads()
        except PermissionError as exc:  # S3 credentials without s3:ListBucketMultipartUploads
            log.info("Unfinished uploads not listed: %s", exc)
            return found, []

    def abort_uploads(self, uploads: list[Upload]) -> int:
        """Abort each of `uploads` (of `unfinished_uploads`): the store drops their parts. How
        many were still there to abort (one may have ended since it was listed)."""
        return 0

    def uploads_cleared(self, count: int, where: str, dry_run: bool) -> str:
        """The report of `abort_uploads` clearing `count` uploads (with `dry_run`, of what it
        would clear) on `where` ("remote 'NAME'"), in the store's own terms."""
        return (f"{'Would abort' if dry_run else 'Aborted'} {count} unfinished upload"
                f"{'' if count == 1 else 's'} on the {where} that interrupted pushes left.")


class DirectoryBlobs(Blobs):
    """A local or mounted directory, with plain os calls (no fsspec import)."""

    processes = True  # system calls spread over the cores only from worker processes
    on_this_machine = True
    reads_in_flight = 1  # no latency to hide: a read costs less than handing it over

    def __init__(self, root: str, shared: bool = False, shown: str = "") -> None:
        super().__init__(root)
        if shown:
            self.shown = shown
        # Used by the users of a group (cache.shared, a directory remote's `shared` option):
        # every folder made here lets the group add and remove entries, and every blob is
        # readable by all, whatever each user's umask (fsutil.SHARED_*_MODE).
        self.shared = shared
        self._folders_made: set[str] = set()  # by this process: not looked for again

    def make_folder(self, path: str) -> None:
        """Make the folder `path` (a full path) and those above it that are missing, shared
        with the group if the store is."""
        if path not in self._folders_made:
            fsutil.makedirs(path, fsutil.SHARED_FOLDER_MODE if self.shared else None)
            self._folders_made.add(path)

    def _ready_for(self, path: str) -> None:
        """In a shared store, make the folder of `path` first, shared: else it is made as
        the blob is written, with the umask's mode."""
        if self.shared:
            self.make_folder(os.path.dirname(path))

    @property
    def jobs(self) -> int:
        return 4 * (os.cpu_count() or 2)

    @property
    def batch(self) -> int:
        return 32  # a few system calls per object: handing one to a thread would cost more

    def prepare(self, create: bool) -> None:
        self.check_reachable()
        if create:
            try:
                self.make_folder(self.root)
            except OSError as exc:  # a file on its way, no permission: the remote's to fix
                where = "" if exc.filename in (None, self.root) else f" ('{exc.filename}')"
                raise RemoteError(f"Cannot create the folder of the {self.shown}: "
                                  f"{exc.strerror or exc}{where}.",
                                  "Check the remote's URL with `dvx remote list`: something "
                                  "on its path may be a file, or a folder you may not write "
                                  "to.") from None
        elif not os.path.isdir(self.root):
            # Only a writer creates it: to a reader, a remote that has data somewhere is more
            # often a URL mistyped or a share not mounted than a new one.
            raise RemoteError(f"The remote directory '{self.root}' does not exist.",
                              "Check the remote's URL with `dvx remote list`, and that the "
                              "share or disk it is on is mounted; if the remote is new, "
                              "`dvx push` creates it.")

    def check_reachable(self) -> None:
        """A file where the directory should be is no empty remote (a missing directory is
        one: `dvx push` creates it)."""
        if os.path.lexists(self.root) and not os.path.isdir(self.root):
            raise RemoteError(f"The remote directory '{self.root}' is not a directory.",
                              "Check the remote's URL with `dvx remote list`, or move what "
                              "is there away.")

    def get(self, name: str, start: int = 0, end: int | None = None) -> bytes:
        path = self.path(name)
        if not start and end is None:
            data = fsutil.read_small_file(path, fsutil.SMALL_FILE)  # four syscalls, no buffer
            if data is not None:
                return data
        with self.open(name) as f:
            if start:
                f.seek(start)
            return f.read() if end is None else f.read(end - start)

    def open(self, name: str, block_size: int | None = None) -> IO[bytes]:
        # A FIFO put where a blob should be would block the open forever, a device be read
        # without end: only a regular file is a blob.
        fd, _ = fsutil.open_regular(self.path(name))
        return open(fd, "rb", buffering=block_size or -1)

    def put(self, name: str, data: BytesLike) -> None:
        path = self.path(name)
        self._ready_for(path)
        # Content-addressed or uniquely named: a blob already there has these very bytes.
        fsutil.write_whole(path, data, 0o444, replace=False, exact_mode=self.shared)

    def put_file(self, name: str, local_path: str, on_bytes: OnBytes | None = None,
                 version: FileVersion | None = None) -> None:
        final = self.path(name)
        self._ready_for(final)

        def before_name() -> None:
            faults.point("copy.after_temp_write")
            faults.point("odb.put.before_rename")
            if version is not None:
                version.check(local_path)

        mode = fsutil.SHARED_FILE_MODE if self.shared else 0o666
        if fsutil.copy_small_file(local_path, final, mode, replace=False,
                                  exact_mode=self.shared, before_name=before_name):
            return
        # A large file: copied by the kernel, then linked. Its temporary is tracked: a
        # command stopped by Ctrl-C, which does not wait for this thread, removes it.
        tmp = fsutil.track_temporary(fsutil.temp_name_for(final))
        exact = fsutil.SHARED_FILE_MODE if self.shared else None
        try:
            try:
                fsutil.copy(local_path, tmp, mode=exact, on_bytes=on_bytes)
            except FileNotFoundError:
                if not os.path.exists(local_path):
                    raise
                os.makedirs(os.path.dirname(final), exist_ok=True)
                fsutil.copy(local_path, tmp, mode=exact, on_bytes=on_bytes)
            faults.point("odb.put.before_rename")
            if version is not None:
                version.check(local_path)
            fsutil.publish(tmp, final)
        finally:
            fsutil.drop_temporary(tmp)

    def exists(self, name: str) -> bool:
        return os.path.isfile(self.path(name))

    def size(self, name: str) -> int:
        return os.path.getsize(self.path(name))

    def is_directory(self, name: str) -> bool:
        return os.path.isdir(self.path(name))

    def details(self, directory: str) -> Details:
        found: Details = {}
        try:
            entries = os.scandir(self.path(directory))
        except (FileNotFoundError, NotADirectoryError):
            return found
        with entries:
            for entry in entries:
                if entry.name.startswith(".") or not entry.is_file(follow_symlinks=False):
                    continue
                with contextlib.suppress(FileNotFoundError):  # deleted meanwhile
                    st = entry.stat(follow_symlinks=False)
                    found[entry.name] = (st.st_size, st.st_mtime)
        return found

    def names(self, directory: str) -> list[str]:
        path = self.path(directory)
        try:
            found = os.listdir(path)
        except FileNotFoundError:
            if os.path.lexists(path):  # a link to nothing where the folder should be
                raise
            return []
        return sorted(name for name in found if not name.startswith("."))  # not a temporary

    def walk(self, directory: str) -> Iterator[str]:
        # Straight from the directories: a million objects cost one scandir entry each.
        pending = [directory]
        while pending:
            current = pending.pop()
            try:
                entries = os.scandir(self.path(current))
            except (FileNotFoundError, NotADirectoryError):
                continue
            prefix = f"{current}/" if current else ""
            with entries:
                for entry in entries:
                    if entry.is_dir(follow_symlinks=False):
                        pending.append(prefix + entry.name)
                    elif entry.is_file():
                        yield prefix + entry.name

    def walk_details(self, directory: str) -> Details:
        found: Details = {}
        for name in self.walk(directory):
            with contextlib.suppress(FileNotFoundError):  # deleted meanwhile
                st = os.stat(self.path(name))
                found[name] = (st.st_size, st.st_mtime)
        return found

    def move(self, name: str, to: str) -> None:
        target = self.path(to)
        self.make_folder(os.path.dirname(target))
        shutil.move(self.path(name), target)

    def delete(self, names: list[str]) -> None:
        for name in names:
            fsutil.remove_quietly(self.path(name))


def _outcome(call: Callable[..., T], *args: Any) -> T | Exception:
    try:
        return call(*args)
    except Exception as exc:  # each one's own failure, reported with it
        return exc


def relative_names(paths: Iterable[str], root: str) -> Iterator[str]:
    """`paths` (full, as a listing gives them) relative to `root`; others are left out."""
    prefix = root.rstrip("/") + "/"
    for path in paths:
        if path.startswith(prefix):
            yield path[len(prefix):]
