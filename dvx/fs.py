"""The `dvx://` filesystem: what a dvx repository tracks (and the files Git tracks beside it),
at a revision, through fsspec.

    import fsspec, pandas
    fs = fsspec.filesystem("dvx", repo="https://github.com/org/project", rev="v1")
    fs.ls("data")
    pandas.read_csv("dvx://data/train.csv", storage_options={"repo": ".", "rev": "v1"})

Registered with fsspec under the `dvx` protocol by an entry point. Reading goes through
dvx.api (the cache when it has the data, else the remote, checked by hash); the filesystem is
read-only. Each instance reads the repository as it is when it is made (not cached by fsspec,
so that each `fsspec.open` of a workspace or a branch sees it as it is now), and may be shared
by threads. What dvx tracks but cannot read (a directory whose manifest is missing from the
remote or corrupt) raises `UnreadableError`, an OSError naming why, from ls, find, walk, get,
info and open alike, never listed as an empty directory. Every other failure to read a file
(a corrupt object, a remote that cannot be reached) is an OSError too, when opened as when read.
"""

from __future__ import annotations

import errno
import io
import os
import posixpath
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

from fsspec.callbacks import DEFAULT_CALLBACK
from fsspec.spec import AbstractFileSystem
from fsspec.utils import isfilelike

from dvx import api, fsutil
from dvx.errors import DvxError


class UnreadableError(OSError):
    """A path dvx tracks but cannot read, or one inside it (errno EIO; the message says why)."""


def _io_error(error: DvxError, kind: type[OSError] = OSError) -> OSError:
    """`error` as the OSError (errno EIO) fsspec's callers catch, with its message and hint."""
    return kind(errno.EIO, str(error))


@contextmanager
def _reading() -> Iterator[None]:
    """A DvxError raised within (a corrupt object found by a read or a seek) as an OSError."""
    try:
        yield
    except DvxError as exc:
        raise _io_error(exc) from None


class _File(io.BufferedIOBase):
    """A file of the filesystem: dvx.api's reader (checked by hash as it is read), whose
    failures are raised as OSError. It serves no byte ranges, so fsspec's blockcache::, which
    fetches them, is refused with the way out rather than failing inside fsspec."""

    def __init__(self, raw: IO[bytes], path: str) -> None:
        super().__init__()
        self._raw, self.path = raw, path
        self.size: int | None = getattr(raw, "size", None)  # asked by fsspec's caches
        if isinstance(raw, io.BytesIO):
            self.size = raw.getbuffer().nbytes

    @property
    def blocksize(self) -> int:
        raise io.UnsupportedOperation(
            f"'{self.path}' cannot be read in blocks: a dvx:// file is read in order and "
            "checked by hash, so fsspec's blockcache::, which fetches byte ranges, cannot serve "
            "it. Open it without blockcache::, or read it whole (`io.BytesIO(fs.cat(path))`).")

    def read(self, size: int | None = -1) -> bytes:
        with _reading():
            return self._raw.read(-1 if size is None else size)

    read1 = read

    def readline(self, size: int | None = -1) -> bytes:
        """The reader's own (buffered) readline: io's default reads a byte at a time, and is
        what iterating the lines of a file calls (once a line: no context manager here)."""
        try:
            return self._raw.readline(-1 if size is None else size)
        except DvxError as exc:
            raise _io_error(exc) from None

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return self._raw.seekable()

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        with _reading():  # a cached file is checked whole before its first seek
            return self._raw.seek(offset, whence)

    def tell(self) -> int:
        return self._raw.tell()

    def close(self) -> None:
        self._raw.close()
        super().close()


def _raise_unreadable(error: OSError) -> None:
    """walk's handler of a directory it cannot list: a missing one is left out, as fsspec
    does, but one dvx cannot read is raised rather than walked as an empty one."""
    if isinstance(error, UnreadableError):
        raise error


class DvxFileSystem(AbstractFileSystem):
    protocol = "dvx"
    root_marker = ""
    cachable = False  # a workspace's pointers and a branch's commit change between calls


    def __init__(self, repo: str | None = None, rev: str | None = None,
                 remote: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.source = api._source(repo, rev, remote)
        self._entries: dict[str, dict[str, Any]] | None = None  # path -> info
        self._lock = threading.RLock()  # the source's Git reader and lazy state are not shared

    @classmethod
    def _strip_protocol(cls, path: Any) -> Any:
        if isinstance(path, list):
            return [cls._strip_protocol(p) for p in path]
        path = str(path)
        if path.startswith("dvx://"):
            path = path[len("dvx://"):]
        return path.strip("/")

    def _index(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            if self._entries is None:
                self._entries = self.source.listing()
            return self._entries

    def _unreadable(self, path: str) -> UnreadableError | None:
        """The error for `path` if it is, or is inside, what dvx tracks but cannot read (a
        directory whose manifest is missing or corrupt, an invalid pointer file)."""
        index = self._index()
        at = path
        while at:
            info = index.get(at)
            if info is not None and "unreadable" in info:
                return UnreadableError(errno.EIO,
                                       f"'{path}' cannot be read: {info['unreadable']}")
            at = posixpath.dirname(at)
        return None

    def ls(self, path: str, detail: bool = True, **kwargs: Any) -> list[Any]:
        path = self._strip_protocol(path)
        index = self._index()
        unreadable = self._unreadable(path)
        if unreadable is not None:
            raise unreadable
        if path and path not in index:
            raise FileNotFoundError(path)
        if path and index[path]["type"] == "file":
            found = [index[path]]
        else:
            found = [info for name, info in sorted(index.items())
                     if posixpath.dirname(name) == path and name]
        return found if detail else [info["name"] for info in found]

    def walk(self, path: str, maxdepth: int | None = None, topdown: bool = True,
             on_error: Any = "omit", **kwargs: Any) -> Any:
        if on_error == "omit":
            on_error = _raise_unreadable
        return super().walk(path, maxdepth, topdown, on_error=on_error, **kwargs)

    def info(self, path: str, **kwargs: Any) -> dict[str, Any]:
        path = self._strip_protocol(path)
        if not path:
            return {"name": "", "size": 0, "type": "directory"}
        info = self._index().get(path)
        if info is None:
            raise self._unreadable(path) or FileNotFoundError(path)
        return info  # an unreadable entry itself is described, with "unreadable": why

    def _open(self, path: str, mode: str = "rb", **kwargs: Any) -> Any:
        if mode != "rb":
            raise OSError(errno.EROFS, "the dvx:// filesystem is read-only", path)
        path = self._strip_protocol(path)
        try:
            with self._lock:
                return _File(api._open_binary(self.source, path), path)
        except DvxError as exc:
            info = self._index().get(path)
            if info is None and self._unreadable(path) is None:
                raise FileNotFoundError(path) from None
            if info is not None and info["type"] == "directory" and "unreadable" not in info:
                raise IsADirectoryError(path) from None
            if self._unreadable(path) is not None:
                raise _io_error(exc, UnreadableError) from None
            raise _io_error(exc) from None

    def get_file(self, rpath: str, lpath: Any = None, callback: Any = DEFAULT_CALLBACK,
                 outfile: Any = None, **kwargs: Any) -> None:
        """Copy a file to `lpath` through a temporary beside it, renamed there once read
        whole and checked: a file that fails its check, or a read that fails, leaves nothing
        at `lpath` (or what was there before), as `dvx get` does, never its bytes so far."""
        if outfile is not None or isfilelike(lpath) or self.isdir(rpath):
            return super().get_file(rpath, lpath, callback, outfile, **kwargs)
        lpath = os.fspath(lpath)
        os.makedirs(os.path.dirname(lpath) or ".", exist_ok=True)
        temporary = fsutil.temp_name_for(lpath)
        try:
            super().get_file(rpath, temporary, callback, **kwargs)
            os.replace(temporary, lpath)
        except BaseException:
            fsutil.remove_quietly(temporary)
            raise
        return None

    def cat_file(self, path: str, start: int | None = None, end: int | None = None,
                 **kwargs: Any) -> bytes:
        with self._open(path) as f:
            data: bytes = f.read()
        return data[start:end]

    def tail(self, path: str, size: int = 1024) -> bytes:
        """The last `size` bytes: through a seek from a cache, or read to the end (and so
        checked by hash) from a remote, whose stream cannot seek; only they are kept."""
        with self._open(path) as f:
            if f.seekable():
                f.seek(0, io.SEEK_END)
                f.seek(max(0, f.tell() - size))
                return bytes(f.read())
            last = b""
            while chunk := f.read(1 << 20):
                last = (last + chunk)[-size:] if size > 0 else b""
            return last
