"""The network stores behind the one store interface (dvx/objects/blobs.py): any fsspec
filesystem, SSH (ranged reads through an open file) and S3 (the lean client of s3fast.py,
with s3fs as its fallback). A backend's difference lives in its class, nowhere else.
"""

from __future__ import annotations

import abc
import contextlib
import errno
import json
import os
import posixpath
import re
import threading
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import IO, Any

from dvx import faults, fsutil
from dvx.errors import (
    MODIFY_A_REMOTE,
    CredentialsError,
    DvxError,
    LostConnection,
    MissingBucketError,
    RemoteError,
)
from dvx.fsutil import FileVersion
from dvx.logs import get_logger
from dvx.objects.blobs import (
    Arrived,
    Blobs,
    BytesLike,
    Details,
    OnBytes,
    Sink,
    Upload,
    relative_names,
)
from dvx.remote.backends import (
    S3_MAX_OBJECT_SIZE,
    S3_MAX_PART_SIZE,
    S3_MAX_PARTS,
    S3_PART_SIZE,
    backend_for,
    certificate_refusal,
    credentials_for_source,
    redact_url,
    redact_urls,
    s3_part_size,
)
from dvx.remote.retry import CutOff, is_timeout, note_if_stalled

log = get_logger(__name__)

FAST_S3_BATCH = 16  # objects per batch of requests sent together
FAST_S3_CONNECTIONS = 64  # the lean S3 client's connections, and so its requests in flight
FEW_DELETES = 16  # up to this many: one DELETE each on the lean client (locks, push's own)


def mtime_of(info: dict[str, Any]) -> float | None:
    """A listing entry's modification time, whatever the backend calls it."""
    for key in ("mtime", "LastModified", "last_modified", "updated", "created"):
        value = info.get(key)
        if value is None:
            continue
        if hasattr(value, "timestamp"):
            return float(value.timestamp())
        try:
            return float(value)
        except (TypeError, ValueError):
            continue
    return None


class FsspecBlobs(Blobs):
    """Any fsspec filesystem: SSH, cloud stores, HTTP (read-only: listed only where the server
    shows directory pages). The filesystem is built on first use, once: transfer threads ask
    for it at the same moment, and each client costs a connection pool and credentials."""

    def __init__(self, root: str, make_fs: Callable[[], Any], *, atomic_put: bool,
                 read_only: bool = False, put_options: dict[str, Any] | None = None,
                 read_options: dict[str, Any] | None = None,
                 bucket: tuple[str, str] | None = None, bucket_doubt: str = "",
                 remote_name: str = "", modify: str = MODIFY_A_REMOTE, shown: str = "",
                 url: str = "") -> None:
        super().__init__(root)
        self.remote_name = remote_name  # for messages
        self.modify = modify  # the command that changes the remote's options, for hints
        self.url = url  # the remote's, as shown (redacted): for the hints of messages
        if shown:
            self.shown = shown
        self._make_fs = make_fs
        self._fs: Any = None
        self._fs_lock = threading.Lock()
        # Object stores (S3, GCS, Azure) publish an object only once it is complete; elsewhere
        # a blob is written under a temporary name and renamed.
        self.atomic_put = atomic_put
        self.read_only = read_only
        self.can_list = not read_only
        self.put_options = put_options or {}  # e.g. the multipart part size
        self.read_options = read_options or {}  # e.g. S3: a small object in one request
        # The bucket the root lies in and what the store calls it ("bucket", "container"),
        # on stores that have them.
        self.bucket = bucket
        # Why the bucket's name may be why it is missing (MissingBucketError), for a name
        # its kind of store creates no bucket by; else "".
        self.bucket_doubt = bucket_doubt
        self._bucket_found = False

    @property
    def fs(self) -> Any:
        if self._fs is None:
            with self._fs_lock:
                if self._fs is None:
                    self._fs = self._make_fs()
        return self._fs

    def prepare(self, create: bool) -> None:
        """A folder that is not there (a typo in the URL) is no empty remote; `dvx push`
        creates it. Buckets have no folders: a missing bucket is found by its listing."""
        if create or self.bucket is not None:
            return
        try:  # not isdir: it takes a failed connection for a missing folder
            kind = self.fs.info(self.root).get("type")
        except FileNotFoundError:
            kind = None
        if kind != "directory":
            what = "does not exist" if kind is None else "is not a folder"
            raise RemoteError(f"The folder '{self.root}' of the {self.shown} {what}.",
                              f"Check the remote's URL with `dvx remote list` (fix it with "
                              f"`{self.modify} url URL`); "
                              "`dvx push` creates the folder.")

    def get(self, name: str, start: int = 0, end: int | None = None) -> bytes:
        if not start and end is None:
            return bytes(self.fs.cat_file(self.path(name), **self.read_options))
        return bytes(self.fs.cat_file(self.path(name), start=start, end=end))

    def open(self, name: str, block_size: int | None = None) -> IO[bytes]:
        if block_size is None:
            return self.fs.open(self.path(name), "rb")
        return self.fs.open(self.path(name), "rb", block_size=block_size)

    def put(self, name: str, data: BytesLike) -> None:
        whole = data if isinstance(data, bytes) else bytes(data)  # what every fsspec backend takes
        self._publish(name, lambda target: self.fs.pipe_file(target, whole))

    def put_file(self, name: str, local_path: str, on_bytes: OnBytes | None = None,
                 version: FileVersion | None = None) -> None:
        self._put_local(name, local_path, on_bytes, self.put_options, version)

    def _put_local(self, name: str, local_path: str, on_bytes: OnBytes | None,
                   put_options: dict[str, Any], version: FileVersion | None) -> None:
        options = dict(put_options)
        if on_bytes is not None:
            options["callback"] = _callback(on_bytes)
        self._publish(name, lambda target: self.fs.put_file(local_path, target, **options),
                      lambda: self._still_as_found(local_path, version))

    def _still_as_found(self, local_path: str, version: FileVersion | None) -> None:
        """Raise FileChangedError if the file read for an upload is not the `version` the
        push found (it changed while it was read)."""
        faults.point("put_file.before_check")
        if version is not None:
            version.check(local_path)

    def _publish(self, name: str, write: Callable[[str], None],
                 still_right: Callable[[], None] | None = None) -> None:
        """`write(target)`, at `name` itself where a put is atomic, else at a temporary name
        then renamed: a reader never sees part of a blob. `still_right()`, once it is
        written, raises if what was written may be wrong (a local file that changed while it
        was read): then nothing is renamed, or the blob a put published is deleted."""
        fs, final = self.fs, self.path(name)
        if self.atomic_put:
            write(final)
            if still_right is not None:
                try:
                    still_right()
                except Exception:
                    # The store took it as it came. Content-addressed: a blob of this name
                    # with the wrong bytes is worse than none, which the next push uploads.
                    with contextlib.suppress(Exception):
                        fs.rm_file(final)
                    raise
            return
        fs.makedirs(posixpath.dirname(final), exist_ok=True)
        tmp = fsutil.temp_name_for(final)
        try:
            with _removed_if_stopped(fs, tmp):
                write(tmp)
                faults.point("odb.put.before_rename")
                if still_right is not None:
                    still_right()
                try:
                    fs.mv(tmp, final)
                except OSError:
                    if not fs.exists(final):  # some servers will not rename over a file
                        raise
                    fs.rm_file(tmp)  # another upload of the same blob won the race
        except BaseException:
            self._discard(fs, tmp)
            raise

    def _discard(self, fs: Any, tmp: str) -> None:
        """Delete the temporary `tmp` of a put that failed, if it can be."""
        with contextlib.suppress(Exception):
            fs.rm_file(tmp)

    def exists(self, name: str) -> bool:
        return bool(self.fs.exists(self.path(name)))

    def existing(self, names: Iterable[str]) -> set[str]:
        asked = list(names)
        if len(asked) <= 1:
            return super().existing(asked)
        with ThreadPoolExecutor(min(self.in_flight, len(asked))) as pool:
            found = list(pool.map(self.exists, asked))
        return {name for name, there in zip(asked, found, strict=True) if there}

    def size(self, name: str) -> int:
        return int(self.fs.size(self.path(name)))

    # Whether the remote's endpointurl option names the server (self.server) its bucket is
    # looked for on: a bucket not found there is named with it.
    endpoint_option = False

    @property
    def _bucket_server(self) -> str:
        return (self.server or "") if self.endpoint_option else ""

    def _nothing_listed(self) -> None:
        """A listing found nothing: an empty remote, or no bucket at all, which a listing
        cannot tell apart. Whether the bucket exists is asked once."""
        if self.bucket is None or self._bucket_found:
            return
        name, kind = self.bucket
        if not self.fs.exists(name):
            raise MissingBucketError(name, kind, self.modify, self._bucket_server,
                                     self.bucket_doubt)
        self._bucket_found = True

    def details(self, directory: str) -> Details:
        try:
            infos = self.fs.ls(self.path(directory), detail=True)
        except FileNotFoundError:
            self._nothing_listed()
            return {}
        found: Details = {}
        unsized: list[str] = []  # a listing that gives no sizes (a web server's page)
        for info in infos:
            name = posixpath.basename(str(info.get("name", "")).rstrip("/"))
            if name and not name.startswith(".") and info.get("type") != "directory":
                found[name] = (int(info.get("size") or 0), mtime_of(info))
                if info.get("size") is None:
                    unsized.append(name)
        if unsized:
            with ThreadPoolExecutor(min(self.in_flight, len(unsized))) as pool:
                sizes = pool.map(lambda name: self.size(posixpath.join(directory, name)),
                                 unsized)
                for name, size in zip(unsized, sizes, strict=True):
                    found[name] = (size, found[name][1])
        return found

    def walk(self, directory: str) -> Iterator[str]:
        try:
            paths = self.fs.find(self.path(directory))
        except FileNotFoundError:
            self._nothing_listed()
            return
        yield from relative_names(paths, self.root)

    def walk_details(self, directory: str) -> Details:
        try:
            infos = self.fs.find(self.path(directory), detail=True)
        except FileNotFoundError:
            self._nothing_listed()
            return {}
        prefix = self.root.rstrip("/") + "/"
        return {path[len(prefix):]: (int(info.get("size") or 0), mtime_of(info))
                for path, info in infos.items() if path.startswith(prefix)}

    def move(self, name: str, to: str) -> None:
        target = self.path(to)
        self.fs.makedirs(posixpath.dirname(target), exist_ok=True)
        self.fs.mv(self.path(name), target)

    def delete(self, names: list[str]) -> None:
        paths = [self.path(name) for name in names]
        for start in range(0, len(paths), 1000):
            try:
                self.fs.rm(paths[start:start + 1000])
            except FileNotFoundError:  # some were gone already: delete the rest one by one
                for path in paths[start:start + 1000]:
                    with contextlib.suppress(FileNotFoundError):
                        self.fs.rm(path)


def _removed_if_stopped(fs: Any, tmp: str) -> contextlib.AbstractContextManager[None]:
    """While a put writes the temporary `tmp`: a command stopped by Ctrl-C ends its process
    without waiting for the thread writing it, which would leave it on the store, so the
    store is asked to delete it then, as an upload in flight is aborted
    (aio.run_stop_cleanups). Only a filesystem with coroutines (SSH) can be asked then."""
    if not getattr(fs, "async_impl", False):
        return contextlib.nullcontext()
    from dvx.remote import aio

    return aio.cleaned_up_on_stop(lambda: fs._rm_file(tmp))


class SftpBlobs(FsspecBlobs):
    """SSH: sshfs reads whole files only (its cat_file takes no range), so a range is read
    through an open file. asyncssh's SFTP errors, which sshfs passes on mostly as they come,
    are raised as the errors the rest of dvx knows (_SftpErrors).

    The filesystem is one SSH connection, which nothing makes again by itself: once it is
    lost (sshd restarted, a NAT forgot it, the network dropped it) every request on it fails
    at once. The first request after that, a retry's (retry.py, workers.py), connects again
    with `connect_again()` (which raises LostConnection while the server takes no
    connection), once for all the threads that met the loss: they go on on the new one."""

    def __init__(self, root: str, make_fs: Callable[[], Any],
                 connect_again: Callable[[], Any] | None = None, **kwargs: Any) -> None:
        super().__init__(root, lambda: _SftpErrors(make_fs(), self.shown), **kwargs)
        self._connect_again = connect_again
        self._reconnects = 0  # connections tried since the first
        self._last_failure: LostConnection | None = None  # that of the last one tried
        self._left: list[str] = []  # temporaries of puts cut off, deleted once connected

    @property
    def fs(self) -> Any:
        fs = super().fs
        if fs.lost is None or self._connect_again is None:
            return fs
        return self._connected_again(fs)

    def _connected_again(self, lost: _SftpErrors) -> _SftpErrors:
        """A new connection in place of `lost`, made by the first thread here: those that
        wait meanwhile take its outcome, the new filesystem or its failure, instead of each
        trying again at once (a server that does not answer would hold each for its
        connect_timeout). Once an attempt has waited out that timeout, none is made again
        (as for any request: retry.check_answering)."""
        assert self._connect_again is not None and lost.lost is not None
        tried = self._reconnects
        with self._fs_lock:
            if self._fs is not lost:  # made again by another thread
                return self._fs
            failed = self._last_failure
            if failed is not None and (self._reconnects != tried or self.stalled is not None):
                raise LostConnection(self.shown, str(failed.strerror))
            if lost.silent:  # a server that stopped answering would not take a new one in time
                self._last_failure = LostConnection(
                    self.shown, f"{lost.lost.strerror}; not connected to again, since the "
                                f"server stopped answering{self._left_behind()}")
                note_if_stalled(self, TimeoutError(f"the remote stopped answering "
                                                   f"({lost.lost.strerror})"))
                raise self._last_failure from None
            self._reconnects += 1
            try:
                fs = _SftpErrors(self._connect_again(), self.shown)
            except LostConnection as exc:
                note_if_stalled(self, exc.__cause__ or exc)
                self._last_failure = LostConnection(
                    self.shown, f"{lost.lost.strerror}, and connecting to it again failed: "
                                f"{exc.strerror}{self._left_behind()}")
                raise self._last_failure from None
            log.info("Connected again to the %s after: %s", self.shown, lost.lost.strerror)
            # The lost connection is closed by sshfs once nothing holds its filesystem.
            self._fs, self._last_failure = fs, None
            left, self._left = self._left, []
            for tmp in left:
                with contextlib.suppress(Exception):
                    fs.rm_file(tmp)
            return fs

    def _left_behind(self) -> str:
        """What a message adds of the temporaries the lost connection kept from deleting,
        which stay on the server (no new connection to delete them on)."""
        if not self._left:
            return ""
        n = len(self._left)
        return (f" (the temporary file of {n} upload{'' if n == 1 else 's'} cut off stays "
                "there, hidden, until `dvx gc --remote` deletes it once it is older than its "
                "grace period)")

    def _discard(self, fs: Any, tmp: str) -> None:
        """A temporary that the lost connection kept from deleting is deleted on the next."""
        try:
            fs.rm_file(tmp)
        except LostConnection:
            with self._fs_lock:
                if self._fs is fs:  # not connected again yet
                    self._left.append(tmp)
                    return
            super()._discard(self._fs, tmp)
        except Exception:
            pass

    def unfinished_uploads(self) -> list[Upload]:
        """The temporaries of puts never renamed into place, each as the upload of the blob it
        stood in for (its path in `upload_id`, its modification time as when it began): a
        push killed, or cut off from a server that stopped answering (no new connection to
        delete them on), leaves them; `gc --remote` deletes those older than its grace period."""
        return self.walk_details_and_uploads("")[1]

    def walk_details_and_uploads(self, directory: str) -> tuple[Details, list[Upload]]:
        """One listing of the whole store: the blobs below `directory`, and the temporaries
        anywhere in it."""
        try:
            infos = self.fs.find(self.root, detail=True)
        except FileNotFoundError:
            return {}, []
        prefix = self.root.rstrip("/") + "/"
        below = posixpath.join(prefix, directory).rstrip("/") + "/"
        found: Details = {}
        uploads = []
        for path, info in infos.items():
            if not path.startswith(prefix):
                continue
            details = (int(info.get("size") or 0), mtime_of(info))
            if path.startswith(below):
                found[path[len(prefix):]] = details
            folder, _, base = path.rpartition("/")
            target = fsutil.temp_target(base)
            if target is not None:
                name = posixpath.join(folder, target)[len(prefix):]
                uploads.append(Upload(name, path[len(prefix):], details[1]))
        return found, uploads

    def abort_uploads(self, uploads: list[Upload]) -> int:
        aborted = 0
        for upload in uploads:
            with contextlib.suppress(FileNotFoundError):  # renamed or deleted since
                self.fs.rm_file(self.path(upload.upload_id))
                aborted += 1
        return aborted

    def uploads_cleared(self, count: int, where: str, dry_run: bool) -> str:
        return (f"{'Would remove' if dry_run else 'Removed'} {count} temporary "
                f"file{'' if count == 1 else 's'} on the {where} that interrupted pushes left "
                "(written to be renamed into place, and never renamed).")

    def get(self, name: str, start: int = 0, end: int | None = None) -> bytes:
        if not start and end is None:
            return super().get(name)
        fs, path = self.fs, self.path(name)
        with fs.reading(path), fs.open(path, "rb") as f:
            faults.point("sftp.read.after_open")
            f.seek(start)
            if end is None:
                return bytes(f.read())
            pieces, wanted = [], end - start
            while wanted > 0:  # one SFTP read returns at most the server's packet size
                piece = f.read(wanted)
                if not piece:
                    break
                pieces.append(bytes(piece))
                wanted -= len(piece)
            return b"".join(pieces)


class _TranslatedFs(abc.ABC):
    """An fsspec filesystem whose every method call goes through `_call`, where a subclass
    turns what its client raises into the errors the rest of dvx knows; its other
    attributes are the filesystem's own."""

    def __init__(self, fs: Any) -> None:
        self._fs = fs

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._fs, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            return self._call(name, attr, args, kwargs)

        return call

    @abc.abstractmethod
    def _call(self, name: str, method: Callable[..., Any], args: tuple[Any, ...],
              kwargs: dict[str, Any]) -> Any:
        """`method` (the filesystem's `name`) called with `args` and `kwargs`, its client's
        errors raised as dvx's."""


class _SftpErrors(_TranslatedFs):
    """An sshfs filesystem whose calls raise asyncssh's SFTP errors as built-in OSErrors
    (FileNotFoundError, PermissionError, NotADirectoryError, ... whose reason names the
    path: `_on_the_server`), a dropped connection however it shows (asyncssh's
    ConnectionLost, sshfs's pool that can open no session, a reset or broken socket) as
    LostConnection naming the remote (`shown`) and what was being done (tried again), and
    any other refusal of the server as one RemoteError naming the path. The path named is
    the one on the server (never the local file an upload reads); a temporary written in a
    blob's place is named by the blob."""

    def __init__(self, fs: Any, shown: str) -> None:
        super().__init__(fs)
        self._shown = shown
        self.lost: LostConnection | None = None  # the loss of its connection, once met
        self.silent = False  # lost as the server stopped answering (its keep-alive probes)

    def _call(self, name: str, method: Callable[..., Any], args: tuple[Any, ...],
              kwargs: dict[str, Any]) -> Any:
        from asyncssh import ChannelOpenError, ConnectionLost
        from asyncssh.sftp import SFTPConnectionLost, SFTPError, SFTPNoConnection

        try:
            return method(*args, **kwargs)
        except (SFTPConnectionLost, SFTPNoConnection, ConnectionLost,
                ChannelOpenError) as exc:
            raise self._lost(name, args, str(exc.reason or type(exc).__name__)) from None
        except SFTPError as exc:
            path = _server_path(name, args)
            error = _sftp_error(exc, path, _REFUSED_WRITES.get(name))
            if name == "makedirs" and path is not None and isinstance(error, NotADirectoryError):
                # asyncssh's makedirs says so of a folder the server failed to create for
                # any reason (a read-only filesystem, no inode left): find out which.
                return self._make_folders_one_by_one(path)
            raise error from None
        except FileNotFoundError as exc:  # sshfs's, for asyncssh's SFTPNoSuchFile: no path
            if exc.filename is not None:  # a local file's
                raise
            path = _server_path(name, args)
            if name == "makedirs" and path is not None:
                return self._make_folders_one_by_one(path)
            raise FileNotFoundError(exc.errno, _on_the_server(str(exc.strerror), path)) from None
        except LostConnection:
            raise
        except ConnectionError as exc:
            raise self._lost(name, args, str(exc.strerror or exc)) from None
        except ValueError as exc:
            if "SFTP connections" not in str(exc):  # sshfs: no session could be opened
                raise
            raise self._lost(name, args, "no SFTP session could be opened") from None

    @contextlib.contextmanager
    def reading(self, path: str) -> Iterator[None]:
        """The reads of the file `path` open on the server, which are no calls of the
        filesystem: its connection lost is raised as a call's is, and made again."""
        from asyncssh import ChannelOpenError, ConnectionLost
        from asyncssh.sftp import SFTPConnectionLost, SFTPNoConnection

        try:
            yield
        except LostConnection:  # opening it, a call
            raise
        except (SFTPConnectionLost, SFTPNoConnection, ConnectionLost,
                ChannelOpenError) as exc:
            raise self._lost("cat_file", (path,), str(exc.reason or type(exc).__name__)) \
                from None
        except ConnectionError as exc:
            raise self._lost("cat_file", (path,), str(exc.strerror or exc)) from None

    def _make_folders_one_by_one(self, path: str) -> None:
        """Make `path` and the folders above it that are missing, one at a time, so that a
        refusal is the server's own, naming its folder: asyncssh's makedirs passes over a
        refused folder but the last, whose creation then fails for a missing parent, and
        takes any other failure for something there that is not a directory. Something that
        is on the way is named as such."""
        missing, folder = [], path
        while folder not in ("", "/") and not self.isdir(folder):
            if self.exists(folder):
                raise NotADirectoryError(errno.ENOTDIR, _on_the_server(
                    f"{folder} is not a directory", path))
            missing.append(folder)
            folder = posixpath.dirname(folder)
        for folder in reversed(missing):
            self.mkdir(folder, create_parents=False)

    def _lost(self, call: str, args: tuple[Any, ...], reason: str) -> LostConnection:
        """The loss of the connection, remembered: SftpBlobs connects again."""
        doing = _DOING.get(call, "asking it about")
        target = _server_argument(call, args)
        what = _server_path(call, args) if isinstance(target, str) else \
            f"{len(target)} files" if isinstance(target, list) else "its files"
        lost = LostConnection(self._shown, f"the connection was lost while {doing} {what} "
                                           f"({reason})")
        if self.lost is None:
            self.lost = lost
            self.silent = "keepalive" in reason  # asyncssh's "Server not responding to ..."
        return lost


_DOING = {"ls": "listing", "find": "listing", "walk": "listing", "glob": "listing",
          "cat_file": "reading", "open": "opening", "get_file": "reading",
          "pipe_file": "writing", "put_file": "writing", "rm": "deleting",
          "rm_file": "deleting", "mv": "moving", "makedirs": "creating", "mkdir": "creating",
          "exists": "looking for", "info": "looking up", "size": "looking up",
          "isdir": "looking up", "isfile": "looking up"}


# The calls that write on the server (what each does, for its refusal to say), and those
# whose first argument is the local file read (the path on the server comes second).
_REFUSED_WRITES = {"put_file": "write", "put": "write", "pipe_file": "write",
                   "mkdir": "create the folder"}
_LOCAL_FIRST = frozenset({"put_file", "put"})


def _server_argument(call: str, args: tuple[Any, ...]) -> Any:
    """What a filesystem call works on on the server: a path, or a list of them."""
    at = 1 if call in _LOCAL_FIRST else 0
    return args[at] if len(args) > at else None


def _server_path(call: str, args: tuple[Any, ...]) -> str | None:
    """The path on the server a filesystem call works on, a temporary written in a blob's
    place named by the blob (it is gone by the time the message is read)."""
    path = _server_argument(call, args)
    if not isinstance(path, str):
        return None
    folder, name = posixpath.split(path)
    target = fsutil.temp_target(name)
    return path if target is None else posixpath.join(folder, target)


def _on_the_server(reason: str, path: str | None) -> str:
    """An SSH server's reason for refusing `path`, naming it. The path is no OSError's
    filename, which dvx takes for a local file's (whose disk, whose permissions)."""
    return f"{reason} (on the server: {path})" if path else reason


def _sftp_error(exc: Any, path: str | None, writing: str | None = None) -> Exception:
    """The error dvx reports for asyncssh's SFTP error `exc` about `path` on the server, of a
    call that writes there (`writing`: what it does, "write" or "create the folder")."""
    from asyncssh import sftp

    reason = str(exc.reason or type(exc).__name__)
    kinds: list[tuple[type, type[OSError], int]] = [
        (sftp.SFTPNoSuchFile, FileNotFoundError, errno.ENOENT),
        (sftp.SFTPNoSuchPath, FileNotFoundError, errno.ENOENT),
        (sftp.SFTPPermissionDenied, PermissionError, errno.EACCES),
        (sftp.SFTPWriteProtect, PermissionError, errno.EROFS),
        (sftp.SFTPNotADirectory, NotADirectoryError, errno.ENOTDIR),
        (sftp.SFTPFileIsADirectory, IsADirectoryError, errno.EISDIR),
        (sftp.SFTPFileAlreadyExists, FileExistsError, errno.EEXIST)]
    for sftp_kind, kind, number in kinds:
        if isinstance(exc, sftp_kind):
            return kind(number, _on_the_server(reason, path))
    if reason.endswith("is not a directory"):  # OpenSSH says it with a plain failure
        return NotADirectoryError(errno.ENOTDIR, _on_the_server(reason, path))
    if isinstance(exc, (sftp.SFTPConnectionLost, sftp.SFTPNoConnection)):
        return ConnectionError(reason)
    where = f" ({path})" if path else ""
    if writing and isinstance(exc, sftp.SFTPFailure) and reason == "Failure":
        # OpenSSH's server says no more than this of a read-only filesystem, a full disk or
        # a quota used up.
        return RemoteError(f"The SSH server refused to {writing} {path}: {reason} (perhaps "
                           "its filesystem is read-only, no space or inodes are left on its "
                           "disk, or the SSH user's quota is used up).",
                           "Check on the server that the filesystem is mounted read-write, "
                           "its free space and inodes, and the quota (`df -h`, `df -i`, "
                           "`quota`); free some, then run the command again.")
    return RemoteError(f"The SSH server refused: {reason}{where}.",
                       "Check the remote's path and what the SSH user may do there.")


class AzureBlobs(FsspecBlobs):
    """Azure Blob Storage (adlfs, through dvx/remote/azure.py). The Azure SDK's errors for a
    request that never reached the service, or got no whole answer, are raised as the
    errors the other stores' clients raise for that (_AzureErrors): a store that cannot be
    reached is one error naming it, as theirs is, never an internal error."""

    delete_right = "on Azure: a SAS with the d (delete) permission, or a role that may " \
                   "delete blobs, as Storage Blob Data Contributor"

    def __init__(self, root: str, make_fs: Callable[[], Any], **kwargs: Any) -> None:
        super().__init__(root, lambda: _AzureErrors(make_fs(), self), **kwargs)

    def put_file(self, name: str, local_path: str, on_bytes: OnBytes | None = None,
                 version: FileVersion | None = None) -> None:
        """A file of one block goes up in one request, read whole first; a larger one as
        blocks staged as they are read (a few blocks in memory, whatever its size), then
        committed. Either way it is checked to be the `version` the push found once read,
        before the blob is published: a blob is never there with other bytes."""
        from dvx.remote.azure import BLOCK_SIZE, block_size_for

        target = self.path(name)
        size = version.size if version is not None else os.path.getsize(local_path)
        if size <= BLOCK_SIZE:
            with open(local_path, "rb") as f:
                data = f.read()
            self._still_as_found(local_path, version)
            self.fs.pipe_file(target, data)
            if on_bytes is not None:
                on_bytes(len(data))
            return
        blocks = self.fs.stage_file(local_path, target, block_size_for(size), on_bytes)
        self._still_as_found(local_path, version)
        self.fs.commit_blocks(target, blocks)

    def delete(self, names: list[str]) -> None:
        """Each blob by a request of its own, whose answer is read: one gone already is
        deleted; a refusal (PermissionError: credentials that may not delete) is raised
        before any other error, whichever blob it met."""
        paths = [self.path(name) for name in names]
        for start in range(0, len(paths), 1000):
            batch = paths[start:start + 1000]
            failures = [self.fs.translated(answer, path)
                        for path, answer in zip(batch, self.fs.delete_each(batch), strict=True)
                        if answer is not None]
            failures = [exc for exc in failures if not isinstance(exc, FileNotFoundError)]
            if failures:
                raise next((exc for exc in failures if isinstance(exc, PermissionError)),
                           failures[0])

    def bad_key(self, exc: Exception) -> CredentialsError:
        """The Azure client could not sign a request with the remote's account key (not
        base64: a character lost or added in a copy): no request was sent."""
        name = self.remote_name or "NAME"
        reason = redact_urls(str(exc).splitlines()[0]) if str(exc) else type(exc).__name__
        return CredentialsError(
            f"The account key of the {self.shown} is not valid, so no request could be "
            f"signed with it: {reason}.",
            "An account key is the base64 text (88 characters, ending in '==') that the Azure "
            "portal shows under Access keys. Copy it again into `dvx remote modify --local "
            f"{name} account_key ...` (or the AccountKey of `... connection_string ...`).",
            credentials_for_source(backend_for(self.url), self.url) if self.url else None)


class _AzureErrors(_TranslatedFs):
    """An adlfs filesystem whose calls raise the Azure SDK's errors that adlfs passes on as
    the errors the rest of dvx knows: ServiceRequestError (no request sent: the connection
    failed) and ServiceResponseError (the connection failed during the answer) as the
    built-in error at their root (ConnectionRefusedError, socket.gaierror, a timeout...),
    else as ConnectionError or TimeoutError, tried again as those are and reported with the
    host that did not answer; an answer that is an error (HttpResponseError) by its status,
    as the lean S3 client does; an account key that signs nothing as the remote's
    CredentialsError."""

    def __init__(self, fs: Any, blobs: AzureBlobs) -> None:
        super().__init__(fs)
        self._blobs = blobs

    def _call(self, name: str, method: Callable[..., Any], args: tuple[Any, ...],
              kwargs: dict[str, Any]) -> Any:
        from azure.core.exceptions import (
            HttpResponseError,
            ServiceRequestError,
            ServiceResponseError,
        )

        try:
            return method(*args, **kwargs)
        except (ServiceRequestError, ServiceResponseError, HttpResponseError) as exc:
            path = args[0] if args and isinstance(args[0], str) else None
            raise self.translated(exc, path) from None

    def translated(self, exc: BaseException, path: str | None) -> BaseException:
        """The error dvx knows for what the Azure SDK raised for a request about `path`
        (any other error as it is)."""
        from azure.core.exceptions import (
            HttpResponseError,
            ServiceRequestError,
            ServiceResponseError,
        )

        if isinstance(exc, (ServiceRequestError, ServiceResponseError)):
            return _connection_failure(exc)
        if not isinstance(exc, HttpResponseError):
            return exc
        if type(exc).__name__ == "AzureSigningError":  # raised before anything is sent
            return self._blobs.bad_key(exc)
        return _azure_answer(exc, path)


def _azure_answer(exc: Any, path: str | None) -> Exception:
    """The error an Azure answer that is one stands for, by its HTTP status."""
    if exc.status_code is None:  # no answer: the client itself refused to send the request
        reason = redact_urls(str(exc).splitlines()[0]) if str(exc) else type(exc).__name__
        return RemoteError(f"The Azure client could not send a request: {reason}.",
                           "Check the remote's credentials with `dvx remote list`.")
    words = (exc.reason or "").rstrip(".")
    # Its error code tells a refusal for want of a right (AuthorizationPermissionMismatch:
    # a SAS or role without it) from one of the account's network rules, for instance.
    code = getattr(exc, "error_code", None)
    if code and code not in words:
        words = f"{words} ({code})".lstrip()
    return _store_answer("Azure", exc.status_code, words, path)


def _store_answer(store: str, status: int, words: str, path: str | None) -> Exception:
    """The error an answer of a `store` ("Azure", "GCS") with the HTTP `status` (and its
    `words`) stands for: a missing object, a refusal, a passing error (tried again), or
    a request the store refused."""
    reason = f"the store answered {status} {words}".rstrip()
    if status == 404:
        return FileNotFoundError(errno.ENOENT, "not on the remote", path)
    if status in (401, 403):
        return PermissionError(errno.EACCES, f"{reason}: access denied", path)
    if status in (408, 429) or status >= 500:
        return ConnectionError(f"{reason}, a passing error")
    where = f" ({path})" if path else ""
    return RemoteError(f"The {store} store refused a request: {reason}{where}.",
                       "Check the remote's URL and options with `dvx remote list`.")


class GcsBlobs(FsspecBlobs):
    """Google Cloud Storage (gcsfs). gcsfs raises an answer that is an error as its own
    HttpError, and a connection dropped during an answer as aiohttp's error: both are raised
    as the errors the other stores' clients raise for that (_GcsErrors), so that a store
    that fails is tried again and named as theirs is, never an internal error."""

    delete_right = "on GCS: storage.objects.delete"
    endpoint_option = True

    def __init__(self, root: str, make_fs: Callable[[], Any], **kwargs: Any) -> None:
        super().__init__(root, lambda: _GcsErrors(make_fs()), **kwargs)


class _GcsErrors(_TranslatedFs):
    """A gcsfs filesystem whose calls raise gcsfs's HttpError, and the plain OSError it
    raises for some answers (`_gcsfs_answer`), by its status (as Azure's answers are), and
    aiohttp's errors that are no OSError (a server that disconnected, an answer cut short)
    as ConnectionError."""

    def _call(self, name: str, method: Callable[..., Any], args: tuple[Any, ...],
              kwargs: dict[str, Any]) -> Any:
        import aiohttp
        from gcsfs.retry import HttpError

        path = args[0] if args and isinstance(args[0], str) else None
        try:
            return method(*args, **kwargs)
        except HttpError as exc:
            words = str(exc.message or "").rsplit(f", {exc.code}", 1)[0]
            if not isinstance(exc.code, int):
                raise RemoteError(f"The GCS store refused a request: {words or exc}.",
                                  "Check the remote's URL and options with `dvx remote "
                                  "list`.") from None
            raise _store_answer("GCS", exc.code, redact_urls(words), path) from None
        except aiohttp.ClientError as exc:
            if isinstance(exc, OSError):  # a connection refused, a name not found
                raise
            raise ConnectionError(f"{type(exc).__name__}: {redact_urls(str(exc))}") from None
        except OSError as exc:
            answer = _gcsfs_answer(exc, path)
            if answer is None:
                raise
            raise answer from None


def _gcsfs_answer(exc: OSError, path: str | None) -> Exception | None:
    """The error an answer stands for that gcsfs raises as a plain OSError, which would be
    taken for a passing error (tried again, then named as a failure of the network), by its
    status: a 403 to any request ("Forbidden: PATH\nWHY"), and each object a batch delete
    did not delete (gcsfs asks Google's own service so): GCS's error as JSON, or "PATH:
    STATUS". None for any other OSError (one with an errno: the connection's)."""
    if type(exc) is not OSError or exc.errno is not None or len(exc.args) != 1 \
            or not isinstance(exc.args[0], str):
        return None
    text = exc.args[0]
    if text.startswith("Forbidden: "):
        return _store_answer("GCS", 403, redact_urls(text.partition("\n")[2].strip()), path)
    with contextlib.suppress(ValueError):
        error = json.loads(text)
        if isinstance(error, dict) and isinstance(error.get("code"), int):
            words = redact_urls(str(error.get("message") or ""))
            return _store_answer("GCS", error["code"], words, path)
    status = re.fullmatch(r"(.+): ([1-5][0-9][0-9])", text)
    if status is not None:
        return _store_answer("GCS", int(status[2]), "", status[1])
    return None


def _connection_failure(exc: Exception) -> OSError:
    import socket

    from azure.core.exceptions import ServiceRequestTimeoutError, ServiceResponseTimeoutError

    root: BaseException | None = exc
    seen: set[int] = set()
    while root is not None and id(root) not in seen:  # what the SDK's and aiohttp's wrap
        if isinstance(root, OSError) and type(root) in (
                ConnectionRefusedError, ConnectionResetError, ConnectionAbortedError,
                TimeoutError, socket.gaierror, OSError) and root.args:
            return root
        seen.add(id(root))
        root = root.__cause__ or getattr(root, "inner_exception", None)
    reason = redact_urls(str(exc).splitlines()[0]) if str(exc) else type(exc).__name__
    if isinstance(exc, (ServiceRequestTimeoutError, ServiceResponseTimeoutError)):
        return TimeoutError(reason)
    return ConnectionError(reason)


class Refused(CredentialsError):
    """A web server refused dvx's request: 401 (it asks for credentials) or 403."""

    def __init__(self, message: str, hint: str | None = None, source_hint: str | None = None,
                 status: int = 0) -> None:
        super().__init__(message, hint, source_hint)
        self.status = status

    def __reduce__(self) -> tuple[type[DvxError], tuple[str, str | None]]:
        return type(self), (self.message, self.hint, self.source_hint,  # type: ignore[return-value]
                            self.status)


class HttpBlobs(FsspecBlobs):
    """HTTP(S), read-only. fsspec reports a server it cannot reach as a missing file, which
    would make the remote look empty: the server is asked once, first, whether it answers.
    A refusal (401, 403) is an error naming the options that give credentials, never a
    missing object; a 404 to every request (a wrong URL, most likely) is noted (found_nothing).
    A query string in the URL (a signed URL's token) goes on every request, after the path
    of the object or folder asked for."""

    def __init__(self, root: str, make_fs: Callable[[], Any], **kwargs: Any) -> None:
        base, _, self.query = root.partition("?")
        super().__init__(base.rstrip("/"), lambda: _HttpAnswers(make_fs(), self), **kwargs)
        self.answered = False  # some request found something (_HttpAnswers)

    def found_nothing(self) -> bool:
        return not self.answered

    def refused(self, status: int) -> Refused:
        options = "which dvx sends from the remote's user and password options"
        if status == 401:
            message = (f"The web server of the {self.shown} refused dvx (401 Unauthorized): "
                       f"it asks for credentials, {options}.")
        else:
            message = (f"The web server of the {self.shown} refused to serve an object "
                       f"(403 Forbidden): it may need credentials, {options}.")
        expired = " If the URL is a signed one, its token may have expired." if self.query \
            else ""
        url = f"{self.root}?{self.query}" if self.query else self.root
        return Refused(message, f"Set them with `{self.modify} user USER` and "
                                f"`{self.modify} password PASSWORD` (a secret: never written "
                                f"to the tracked config), or correct them.{expired}",
                       f"{credentials_for_source(backend_for(url), url)}{expired}", status)

    def exists(self, name: str) -> bool:
        # strict: only a 404 is "not there"; fsspec's own answer is False for any error
        return bool(self.fs.exists(self.path(name), strict=True))

    def details(self, directory: str) -> Details:
        import aiohttp

        try:
            return super().details(directory)
        except aiohttp.ClientResponseError as exc:
            if exc.status >= 500:  # the server failed (tried again): no refusal to list
                raise ConnectionError(f"the server answered {exc.status} ({exc.message}) to "
                                      f"the listing of {directory}") from exc
            # A web server that shows no directory listing (403, ...): it has no packs to
            # offer, and its loose objects are read as before.
            log.info("No listing of %s (%s): reading loose objects only", directory, exc)
            return {}
        except TimeoutError:
            raise
        except aiohttp.ClientError as exc:  # a dropped connection, as aiohttp names it
            raise ConnectionError(f"{type(exc).__name__}: {exc}") from exc

    def path(self, name: str) -> str:
        path = super().path(name)
        return f"{path}?{self.query}" if self.query else path

    def prepare(self, create: bool) -> None:
        self.check_reachable()

    def get(self, name: str, start: int = 0, end: int | None = None) -> bytes:
        if end is None and start:  # a server that ignores Range would send all, unmarked
            return super().get(name)[start:]
        data = super().get(name, start, end)
        if end is not None and len(data) > end - start:
            # More than the range asked for: the server ignored Range and answered with the
            # whole blob (200, as `python -m http.server` does); the range is in it.
            return data[start:end]
        return data

    def check_reachable(self) -> None:
        import asyncio

        import aiohttp

        try:
            self.fs.info(self.path(""))
            return
        except Refused as exc:
            if exc.status == 401:
                raise
            return  # a folder it declines to list (403): its objects may still be served
        except FileNotFoundError as exc:
            failure: BaseException | None = exc.__cause__
        except (OSError, aiohttp.ClientError, asyncio.TimeoutError) as exc:
            failure = exc
        if failure is None or isinstance(failure, aiohttp.ClientResponseError):
            return  # the server answered (a folder's URL may well be a 404)
        why = certificate_refusal(failure) or str(failure) or type(failure).__name__
        raise RemoteError(f"Cannot reach the HTTP remote {redact_url(self.root)}: {why}.",
                          "Check the URL with `dvx remote list`, and the network.")


def _refusal_status(exc: BaseException) -> int | None:
    """401 or 403 if `exc`, or the error fsspec turned into a missing file, is a web
    server's refusal; else None."""
    import aiohttp

    for failure in (exc, exc.__cause__):
        if isinstance(failure, aiohttp.ClientResponseError) and failure.status in (401, 403):
            return failure.status
    return None


_LISTINGS = frozenset({"ls", "find", "walk", "glob"})  # a 403 there: no listing offered


class _HttpAnswers(_TranslatedFs):
    """An fsspec HTTP filesystem whose calls raise a refusal as the remote's Refused (a
    403 to a listing excepted: servers decline to list folders they serve files from), and
    that tells its HttpBlobs when a call found something (`answered`)."""

    def __init__(self, fs: Any, blobs: HttpBlobs) -> None:
        super().__init__(fs)
        self._blobs = blobs

    def _call(self, name: str, method: Callable[..., Any], args: tuple[Any, ...],
              kwargs: dict[str, Any]) -> Any:
        try:
            result = method(*args, **kwargs)
        except Exception as exc:
            status = _refusal_status(exc)
            if status is None or (status == 403 and name in _LISTINGS):
                raise
            raise self._blobs.refused(status) from None
        if result or name not in ("exists", *_LISTINGS):  # not "nothing there"
            self._blobs.answered = True
        return result


class S3Blobs(FsspecBlobs):
    """S3 by the lean client (s3fast.py) for reads, writes, existence checks and listings of
    names; s3fs for the rest, and for everything once the lean client declines the store (a
    redirect, a proxy, an answer it does not expect). Sessions nest and are shared by threads:
    the lean client's connections close when the last one ends."""

    delete_right = "on S3: s3:DeleteObject"
    endpoint_option = True

    def __init__(self, root: str, make_fs: Callable[[], Any], fast: Any, **kwargs: Any
                 ) -> None:
        super().__init__(root, make_fs, **kwargs)
        self.fast: Any = fast  # the lean client (s3fast.FastS3); None once it declined
        self._lock = threading.Lock()
        self._depth = 0
        self._live: Any = None  # the lean client while a session is open
        # A multipart upload above twice this; a single PUT below it.
        self.part_size = int(self.put_options.get("chunksize", S3_PART_SIZE))
        self.max_parts = S3_MAX_PARTS  # tests lower it, rather than send 10,001 parts

    @property
    def jobs(self) -> int:
        # As many as the lean client has connections: a coroutine per request is cheap.
        return FAST_S3_CONNECTIONS if self.fast is not None else super().jobs

    # The lean client sends a batch's requests together from the I/O loop: one handover
    # between threads per batch instead of one per object.
    @property
    def concurrent_batch(self) -> int:
        return FAST_S3_BATCH if self.fast is not None else 0

    @contextlib.contextmanager
    def session(self) -> Iterator[None]:
        from dvx.remote import aio
        from dvx.remote.s3fast import Unsupported

        with self._lock:
            fast = self.fast
            if self._depth == 0 and fast is not None:
                # Its requests wait for one of its connections: as many as -j allows.
                fast.connections = self.in_flight
                try:
                    aio.run(fast.start)
                    self._live = fast
                except Unsupported as exc:
                    self._decline(exc)
            self._depth += 1
        try:
            yield
        finally:
            with self._lock:
                self._depth -= 1
                if self._depth == 0 and self._live is not None:
                    live, self._live = self._live, None
                    aio.run(live.close)

    def wrong_credentials(self, exc: PermissionError) -> str | None:
        # s3fs's refusals carry botocore's error, whose code says as much as the lean client's
        from dvx.remote.s3fast import wrong_credentials

        found = super().wrong_credentials(exc)
        answer = getattr(exc.__cause__, "response", None)
        if found is None and isinstance(answer, dict):
            found = wrong_credentials(answer.get("Error", {}).get("Code"))
        return found

    def _decline(self, exc: Exception) -> None:
        if self.fast is not None:
            log.info("Using the general S3 client from now on: %s", exc)
        self.fast = None

    def _fast(self, work: Callable[[Any], Any]) -> tuple[Any] | None:
        """`(await work(fast),)` on the lean client; None when this store has none (s3fs
        answers)."""
        from dvx.remote import aio
        from dvx.remote.s3fast import NotS3Error, Unsupported

        with self.session():
            fast = self._live
            if fast is None:
                return None

            async def one() -> tuple[Any]:
                return (await work(fast),)

            try:
                return aio.run(one)
            except Unsupported as exc:
                self._decline(exc)
                return None
            except MissingBucketError as exc:
                raise exc.of_remote(self.modify, self._bucket_server, self.bucket_doubt) from None
            except NotS3Error as exc:
                raise exc.of_remote(self.remote_name, self.modify) from None

    def get(self, name: str, start: int = 0, end: int | None = None) -> bytes:
        path = self.path(name)
        if end is None:
            done = self._fast(lambda fast: fast.get(path))
            if done is not None and start:
                return bytes(done[0][start:])
        else:
            done = self._fast(lambda fast: fast.get_range(path, start, end))
        return done[0] if done is not None else super().get(name, start, end)

    def read_into(self, name: str, sink: Sink, on_bytes: OnBytes | None = None) -> int:
        counted = _Counted(sink, on_bytes)  # one streaming GET, handed over as it arrives
        if self._fast(lambda fast: fast.stream(self.path(name), counted)) is None:
            return super().read_into(name, sink, on_bytes)
        return counted.size

    def put(self, name: str, data: BytesLike) -> None:
        path = self.path(name)
        if self._fast(lambda fast: fast.put(path, data)) is None:
            super().put(name, data)

    def get_each(self, names: Sequence[str], arrived: Arrived) -> None:
        # `jobs` coroutines on the I/O loop take the next name as each read ends: no thread
        # waits for a read, and nothing is handed between threads per object.
        import asyncio

        from dvx.remote.s3fast import Unsupported

        told = bytearray(len(names))  # which were handed to `arrived`
        stop: list[BaseException | None] = [None]  # set: take no more names

        async def all_of(fast: Any) -> None:
            todo = iter(range(len(names)))

            async def reader() -> None:
                for index in todo:
                    if stop[0] is not None:
                        return
                    try:
                        data: bytes | Exception = await fast.get(self.path(names[index]))
                    except Unsupported as exc:
                        stop[0] = exc
                        return
                    except Exception as exc:  # reported with its name, tried again by the caller
                        data = exc
                    told[index] = 1
                    if not arrived(index, data):
                        stop[0] = StopIteration()
                        return

            await asyncio.gather(*(reader() for _ in range(min(self.in_flight, len(names)))))
            if isinstance(stop[0], Unsupported):
                raise stop[0]

        if self._fast(all_of) is None:  # the lean client declined: s3fs reads the rest
            rest = [index for index in range(len(names)) if not told[index]]
            super().get_each([names[index] for index in rest],
                             lambda index, data: arrived(rest[index], data))

    def put_many(self, blobs: list[tuple[str, bytes]]) -> list[Exception | None]:
        done = self._fast(lambda fast: _each(fast.put(self.path(name), data)
                                             for name, data in blobs))
        return super().put_many(blobs) if done is None else list(done[0])

    def put_file(self, name: str, local_path: str, on_bytes: OnBytes | None = None,
                 version: FileVersion | None = None) -> None:
        """A single PUT below twice the chunksize (5 GiB at most), else a multipart upload in
        parts of the chunksize, or larger when it takes more than S3's 10,000 parts. The lean
        client reads the file as it sends it (its digests first), and checks `version` at the
        end of each read, before the last of its bytes go; s3fs holds a single PUT's body,
        and up to 10 parts, in memory."""
        from dvx.remote.http1 import FileSpan

        path = self.path(name)
        size = version.size if version is not None else os.path.getsize(local_path)
        if size > S3_MAX_OBJECT_SIZE:
            raise RemoteError(  # before a byte of it goes, not after hours of parts
                f"It is {size} bytes, more than the 5 TiB S3 stores as one object: the "
                f"{self.shown} cannot take it.",
                "Split the file into smaller ones, or keep it on a remote of another kind.")
        part_size = s3_part_size(size, self.part_size, self.max_parts)
        if size < min(2 * self.part_size, S3_MAX_PART_SIZE):  # s3fs's own rule
            done = self._fast(lambda fast: fast.put(path, FileSpan(local_path, 0, size,
                                                                   version)))
            if done is not None and on_bytes is not None:
                on_bytes(size)
        else:
            try:
                done = self._fast(lambda fast: fast.put_file(path, local_path, size, part_size,
                                                             on_bytes, version))
            except Exception as exc:
                cut_off = self._cut_off(path, exc)
                if cut_off is None:
                    raise
                raise cut_off from exc
        if done is None:  # s3fs, in parts of the same size
            self._put_local(name, local_path, on_bytes,
                            {**self.put_options, "chunksize": part_size}, version)

    def _cut_off(self, path: str, exc: Exception) -> CutOff | None:
        """A failure for want of an answer that says what the store kept of `path`: the
        multipart uploads of it that such failures cut off (this attempt's or an earlier
        one's), which are not aborted on a store that stopped answering."""
        left = self.fast.left_uploads(path) if self.fast is not None else 0
        if not left or not is_timeout(exc):
            return None
        uploads, it, stay = (("its multipart upload", "it", "stays") if left == 1 else
                             (f"its {left} multipart uploads", "them", "stay"))
        return CutOff(exc, f"{uploads}, cut off, {stay} unfinished on the remote (the store "
                           f"keeps, and bills, the parts it received) until `dvx gc --remote` "
                           f"aborts {it} once older than its grace period")

    def existing(self, names: Iterable[str]) -> set[str]:
        by_path = {self.path(name): name for name in names}
        done = self._fast(lambda fast: fast.existing(list(by_path)))
        if done is None:
            return super().existing(by_path.values())
        return {by_path[path] for path in done[0]}

    def details(self, directory: str) -> Details:
        done = self._fast(lambda fast: fast.list_details(self.path(directory)))
        if done is None:
            return super().details(directory)
        prefix = self.path(directory).rstrip("/") + "/"
        found: Details = {}
        for path, size, mtime in done[0]:
            name = path[len(prefix):] if path.startswith(prefix) else ""
            # "": the folder's own key (one an S3 console makes), no blob in it
            if name and "/" not in name and not name.startswith("."):
                found[name] = (size, mtime)
        return found

    def delete(self, names: list[str]) -> None:
        if len(names) <= FEW_DELETES:
            paths = [self.path(name) for name in names]
            done = self._fast(lambda fast: _each(fast.delete(path) for path in paths))
            if done is not None:
                failures = [answer for answer in done[0] if isinstance(answer, Exception)]
                if failures:
                    raise failures[0]
                return
        self._delete_in_bulk(names)

    def _delete_in_bulk(self, names: list[str]) -> None:
        """A thousand keys per request (DeleteObjects), whose answer is a success even when
        it deleted none: each key the store would not delete (AccessDenied, for credentials
        that may not delete) is named among its Errors, which s3fs's rm drops."""
        bucket = self.root.partition("/")[0]
        keys = [self.path(name).partition("/")[2] for name in names]
        for start in range(0, len(keys), 1000):
            batch = keys[start:start + 1000]
            answer = self.fs.call_s3("delete_objects", Bucket=bucket, Delete={
                "Objects": [{"Key": key} for key in batch], "Quiet": True})
            for folder in {posixpath.dirname(key) for key in batch}:
                self.fs.invalidate_cache(f"{bucket}/{folder}")
            refusals = answer.get("Errors") or []
            if refusals:
                raise _not_deleted(bucket, refusals, len(batch))

    def walk(self, directory: str) -> Iterator[str]:
        done = self._fast(lambda fast: fast.list_keys(self.path(directory)))
        if done is None:
            yield from super().walk(directory)
            return
        yield from relative_names(done[0], self.root)

    def unfinished_uploads(self) -> list[Upload]:
        done = self._fast(lambda fast: fast.unfinished_uploads(self.root))
        found = done[0] if done is not None else self._unfinished_by_s3fs()
        prefix = self.root.rstrip("/") + "/"
        return [Upload(path[len(prefix):], upload_id, started)
                for path, upload_id, started in found if path.startswith(prefix)]

    def _unfinished_by_s3fs(self) -> list[tuple[str, str, float | None]]:
        from dvx.remote.s3fast import key_prefix

        bucket, _, folder = self.root.partition("/")
        found: list[tuple[str, str, float | None]] = []
        markers: dict[str, str] = {}
        while True:
            page = self.fs.call_s3("list_multipart_uploads", Bucket=bucket,
                                   Prefix=key_prefix(folder), **markers)
            found += [(f"{bucket}/{item['Key']}", item["UploadId"],
                       mtime_of({"created": item.get("Initiated")}))
                      for item in page.get("Uploads", [])]
            if not page.get("IsTruncated") or not page.get("NextKeyMarker"):
                return found
            markers = {"KeyMarker": page["NextKeyMarker"],
                       "UploadIdMarker": page.get("NextUploadIdMarker", "")}

    def abort_uploads(self, uploads: list[Upload]) -> int:
        paths = [(self.path(upload.name), upload.upload_id) for upload in uploads]
        done = self._fast(lambda fast: _each(fast.abort_upload(path, upload_id)
                                             for path, upload_id in paths))
        if done is None:
            aborted = 0
            for path, upload_id in paths:
                bucket, _, key = path.partition("/")
                with contextlib.suppress(FileNotFoundError):  # NoSuchUpload: gone already
                    self.fs.call_s3("abort_multipart_upload", Bucket=bucket, Key=key,
                                    UploadId=upload_id)
                    aborted += 1
            return aborted
        failures = [answer for answer in done[0] if isinstance(answer, Exception)]
        if failures:
            raise failures[0]
        return sum(1 for answer in done[0] if answer)

    def uploads_cleared(self, count: int, where: str, dry_run: bool) -> str:
        return (f"{'Would abort' if dry_run else 'Aborted'} {count} unfinished upload"
                f"{'' if count == 1 else 's'} on the {where} that interrupted pushes left (the "
                "store keeps the parts of an upload until it is aborted).")


def _not_deleted(bucket: str, refusals: list[dict[str, str]], asked: int) -> OSError:
    """The error for the keys of a DeleteObjects request that the store did not delete
    (`refusals`, its answer's Errors): PermissionError when it was refused access to them."""
    first = refusals[0]
    path = f"{bucket}/{first.get('Key', '')}"
    why = f"{len(refusals)} of {asked} objects not deleted: {first.get('Code', 'an error')}" \
          f" ({first.get('Message', 'no reason given')})"
    if first.get("Code") == "AccessDenied":
        return PermissionError(errno.EACCES, why, path)
    return OSError(errno.EIO, why, path)  # a passing error (InternalError, SlowDown): retried


async def _each(requests: Iterable[Awaitable[Any]]) -> list[Any]:
    """Every request's answer, or what it raised (Unsupported: the lean client declines;
    NotS3Error: the endpoint is no S3 store)."""
    import asyncio

    from dvx.remote.s3fast import NotS3Error, Unsupported

    answers = await asyncio.gather(*requests, return_exceptions=True)
    for answer in answers:
        if isinstance(answer, (Unsupported, NotS3Error)):  # says the same of every request
            raise answer
        if isinstance(answer, BaseException) and not isinstance(answer, Exception):
            raise answer  # cancelled (Ctrl-C)
    return answers


class _Counted:
    """A sink that counts what passes and tells `on_bytes`."""

    def __init__(self, sink: Sink, on_bytes: OnBytes | None) -> None:
        self.sink, self.on_bytes, self.size = sink, on_bytes, 0

    def write(self, chunk: bytes) -> None:
        self.sink.write(chunk)
        self.size += len(chunk)
        if self.on_bytes is not None:
            self.on_bytes(len(chunk))


def _callback(on_bytes: OnBytes) -> Any:
    """An fsspec progress callback that tells `on_bytes` of each step."""
    from fsspec.callbacks import Callback

    class Told(Callback):
        def relative_update(self, inc: int = 1) -> None:
            on_bytes(inc)

    return Told()
