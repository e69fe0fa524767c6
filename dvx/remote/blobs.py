"""Blobs: the named, immutable files beside a remote's objects (packs and their indexes), with
the few operations packs need, one class per kind of store behind one interface:

    get(name, start, end)   the bytes [start, end) of a blob (end None: to its end)
    put(name, data)         publish a complete blob (a reader never sees part of one)
    names(directory)        the blobs in a directory: a listing of that prefix only
    details(directory)      the same, with size and modification time
    delete(names)

Names are relative to the remote's root (`packs/<hash>.pack`). Every call may run in any
thread; `session()` brackets a command's calls (the S3 client keeps its connections for it).
A missing blob raises FileNotFoundError.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import Any

from dvx import fsutil
from dvx.logs import get_logger
from dvx.objects.odb import ObjectStore, _mtime_of

log = get_logger(__name__)

Details = dict[str, tuple[int, float | None]]  # name -> (size, mtime or None)


class Blobs(ABC):
    """A store's blobs; each kind of store implements the abstract operations."""

    def __init__(self, root: str) -> None:
        self.root = root.rstrip("/") or "/"

    def path(self, name: str) -> str:
        return posixpath.join(self.root, name)

    @contextlib.contextmanager
    def session(self) -> Iterator[None]:
        yield

    @abstractmethod
    def get(self, name: str, start: int = 0, end: int | None = None) -> bytes: ...

    @abstractmethod
    def put(self, name: str, data: bytes) -> None: ...

    def names(self, directory: str) -> list[str]:
        return sorted(self.details(directory))

    @abstractmethod
    def details(self, directory: str) -> Details: ...

    @abstractmethod
    def delete(self, names: list[str]) -> None: ...


class DirectoryBlobs(Blobs):
    """A local or mounted directory, with plain os calls."""

    def get(self, name: str, start: int = 0, end: int | None = None) -> bytes:
        with open(self.path(name), "rb") as f:
            if start:
                f.seek(start)
            return f.read() if end is None else f.read(end - start)

    def put(self, name: str, data: bytes) -> None:
        path = self.path(name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        # Content-addressed: a blob already there has these very bytes, and is kept.
        fsutil.write_whole(path, data, 0o444, replace=False)

    def details(self, directory: str) -> Details:
        found: Details = {}
        try:
            entries = os.scandir(self.path(directory))
        except FileNotFoundError:
            return found
        with entries:
            for entry in entries:
                if entry.name.startswith(".") or not entry.is_file(follow_symlinks=False):
                    continue
                st = entry.stat(follow_symlinks=False)
                found[entry.name] = (st.st_size, st.st_mtime)
        return found

    def delete(self, names: list[str]) -> None:
        for name in names:
            fsutil.remove_quietly(self.path(name))


class FsspecBlobs(Blobs):
    """Any fsspec filesystem: SSH, cloud stores, HTTP (read-only: listed only where the server
    shows directory pages)."""

    def __init__(self, store: ObjectStore) -> None:
        super().__init__(store.root)
        self.store = store

    def get(self, name: str, start: int = 0, end: int | None = None) -> bytes:
        fs = self.store.fs
        if not start and end is None:
            return bytes(fs.cat_file(self.path(name)))
        return bytes(fs.cat_file(self.path(name), start=start, end=end))

    def put(self, name: str, data: bytes) -> None:
        fs, final = self.store.fs, self.path(name)
        if self.store.put_is_atomic:
            fs.pipe_file(final, data)
            return
        fs.makedirs(posixpath.dirname(final), exist_ok=True)
        tmp = fsutil.temp_name_for(final)
        try:
            fs.pipe_file(tmp, data)
            try:
                fs.mv(tmp, final)
            except OSError:
                if not fs.exists(final):  # some servers will not rename over a file
                    raise
        finally:
            with contextlib.suppress(Exception):
                if fs.exists(tmp):
                    fs.rm_file(tmp)

    def details(self, directory: str) -> Details:
        try:
            infos = self.store.fs.ls(self.path(directory), detail=True)
        except FileNotFoundError:
            return {}
        except Exception as exc:
            if not self.store.read_only or isinstance(exc, (ConnectionError, TimeoutError)):
                raise
            # A web server that shows no directory listing (403, ...): it has no packs to
            # offer, and its loose objects are read as before.
            log.info("No listing of %s (%s): reading loose objects only", directory, exc)
            return {}
        found: Details = {}
        for info in infos:
            name = posixpath.basename(str(info.get("name", "")).rstrip("/"))
            if name and not name.startswith(".") and info.get("type") != "directory":
                found[name] = (int(info.get("size") or 0), _mtime_of(info))
        return found

    def delete(self, names: list[str]) -> None:
        paths = [self.path(name) for name in names]
        for start in range(0, len(paths), 1000):
            self.store.fs.rm(paths[start:start + 1000])


class S3Blobs(FsspecBlobs):
    """S3 by the lean client (s3fast.py) for reads, writes and listings of names; s3fs for
    the rest, and for everything once the lean client declines the store. Sessions nest and
    are shared by threads: the client's connections close when the last one ends."""

    def __init__(self, store: ObjectStore) -> None:
        super().__init__(store)
        self._lock = threading.Lock()
        self._depth = 0
        self._live: Any = None  # the lean client while a session is open

    @contextlib.contextmanager
    def session(self) -> Iterator[None]:
        from dvx.remote import aio
        from dvx.remote.s3fast import Unsupported

        with self._lock:
            fast = self.store.fast
            if self._depth == 0 and fast is not None:
                try:
                    aio.run(fast.start)
                    self._live = fast
                except Unsupported:
                    self.store.fast = None
            self._depth += 1
        try:
            yield
        finally:
            with self._lock:
                self._depth -= 1
                if self._depth == 0 and self._live is not None:
                    live, self._live = self._live, None
                    aio.run(live.close)

    def _fast(self, work: Any) -> Any:
        """`(await work(fast),)` on the lean client; None when this store has none (s3fs
        answers)."""
        from dvx.remote import aio
        from dvx.remote.s3fast import Unsupported

        with self.session():
            fast = self._live
            if fast is None:
                return None

            async def one() -> tuple[Any]:
                return (await work(fast),)

            try:
                return aio.run(one)
            except Unsupported:
                self.store.fast = None
                return None

    def get(self, name: str, start: int = 0, end: int | None = None) -> bytes:
        path = self.path(name)
        if end is None:
            done = self._fast(lambda fast: fast.get(path))
            if done is not None and start:
                return bytes(done[0][start:])
        else:
            done = self._fast(lambda fast: fast.get_range(path, start, end))
        return done[0] if done is not None else super().get(name, start, end)

    def put(self, name: str, data: bytes) -> None:
        path = self.path(name)
        if self._fast(lambda fast: fast.put(path, data)) is None:
            super().put(name, data)

    def names(self, directory: str) -> list[str]:
        prefix = self.path(directory)
        done = self._fast(lambda fast: fast.list_keys(prefix))
        if done is None:
            return super().names(directory)
        return sorted(posixpath.basename(key) for key in done[0]
                      if not posixpath.basename(key).startswith("."))


class SftpBlobs(FsspecBlobs):
    """SSH: sshfs reads whole files only (its cat_file takes no range), so a range is read
    through an open file."""

    def get(self, name: str, start: int = 0, end: int | None = None) -> bytes:
        if not start and end is None:
            return super().get(name)
        with self.store.fs.open(self.path(name), "rb") as f:
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


def blobs_of(store: ObjectStore, kind: str) -> Blobs:
    """The blobs of `store`, a remote of backend `kind` (backends.py)."""
    if store.is_local:
        return DirectoryBlobs(store.root)
    if kind == "s3":
        return S3Blobs(store)
    if kind == "ssh":
        return SftpBlobs(store)
    return FsspecBlobs(store)
