"""The `dvx://` filesystem: what a dvx repository tracks (and the files Git tracks beside it),
at a revision, through fsspec.

    import fsspec, pandas
    fs = fsspec.filesystem("dvx", repo="https://github.com/org/project", rev="v1")
    fs.ls("data")
    pandas.read_csv("dvx://data/train.csv", storage_options={"repo": ".", "rev": "v1"})

Registered with fsspec under the `dvx` protocol by an entry point. Reading goes through
dvx.api (the cache when it has the data, else the remote, checked by hash); the filesystem is
read-only.
"""

from __future__ import annotations

import errno
import posixpath
from typing import Any

from fsspec.spec import AbstractFileSystem

from dvx import api
from dvx.errors import DvxError


class DvxFileSystem(AbstractFileSystem):
    protocol = "dvx"
    root_marker = ""

    def __init__(self, repo: str | None = None, rev: str | None = None,
                 remote: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.source = api._source(repo, rev, remote)
        self._entries: dict[str, dict[str, Any]] | None = None  # path -> info

    @classmethod
    def _strip_protocol(cls, path: Any) -> Any:
        if isinstance(path, list):
            return [cls._strip_protocol(p) for p in path]
        path = str(path)
        if path.startswith("dvx://"):
            path = path[len("dvx://"):]
        return path.strip("/")

    def _index(self) -> dict[str, dict[str, Any]]:
        if self._entries is None:
            self._entries = self.source.listing()
        return self._entries

    def ls(self, path: str, detail: bool = True, **kwargs: Any) -> list[Any]:
        path = self._strip_protocol(path)
        index = self._index()
        if path and path not in index:
            raise FileNotFoundError(path)
        if path and index[path]["type"] == "file":
            found = [index[path]]
        else:
            found = [info for name, info in sorted(index.items())
                     if posixpath.dirname(name) == path and name]
        return found if detail else [info["name"] for info in found]

    def info(self, path: str, **kwargs: Any) -> dict[str, Any]:
        path = self._strip_protocol(path)
        if not path:
            return {"name": "", "size": 0, "type": "directory"}
        info = self._index().get(path)
        if info is None:
            raise FileNotFoundError(path)
        return info

    def _open(self, path: str, mode: str = "rb", **kwargs: Any) -> Any:
        if mode != "rb":
            raise OSError(errno.EROFS, "the dvx:// filesystem is read-only", path)
        path = self._strip_protocol(path)
        try:
            return api._open_binary(self.source, path)
        except DvxError as exc:
            if self.info(path)["type"] == "directory":
                raise IsADirectoryError(path) from None
            raise OSError(exc.message) from None

    def cat_file(self, path: str, start: int | None = None, end: int | None = None,
                 **kwargs: Any) -> bytes:
        with self._open(path) as f:
            data: bytes = f.read()
        return data[start:end]
