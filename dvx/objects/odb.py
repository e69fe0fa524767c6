"""ObjectStore: one content-addressed layout for the cache and for every remote.

    <root>/files/<algo>/<first 2 hex digits>/<remaining hex digits>

The store sits on any fsspec filesystem, so a remote is just another ObjectStore. Objects are
immutable: once an oid's path exists it is never rewritten. Names starting with '.' in a shard
directory are in-flight temporary files and are never reported as objects.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any

from dvx import faults, fsutil
from dvx.hashing import DEFAULT_ALGO, check_oid, is_valid_oid


def _mtime_of(info: dict[str, Any]) -> float | None:
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


class ObjectStore:
    def __init__(self, fs: Any, root: str, algo: str = DEFAULT_ALGO, *,
                 atomic_put: bool | None = None, read_only: bool = False,
                 can_list: bool = True, secrets: tuple[str, ...] = (),
                 put_options: dict[str, Any] | None = None,
                 read_options: dict[str, Any] | None = None,
                 make_fs: Callable[[], Any] | None = None, local: bool | None = None,
                 url: str | None = None) -> None:
        self._fs = fs
        self._make_fs = make_fs  # builds `fs` on first use, where building it costs time
        self._fs_lock = threading.Lock()
        self.root = root.rstrip("/") or "/"
        self.url = url or self.root  # for messages: the URL as configured, secrets hidden
        self.name = ""  # the remote's name, for messages (set by the code that opens it)
        self.algo = algo
        self._atomic_put = atomic_put
        self.read_only = read_only
        self.can_list = can_list
        self.secrets = secrets  # values never to show in messages
        self.put_options = put_options or {}  # e.g. the multipart part size
        self.read_options = read_options or {}  # e.g. S3: a small object in one request
        self.fast: Any = None  # a lean data path for small objects, where there is one
        self._is_local: bool | None = local
        if local is None and fs is None and make_fs is None:
            self._is_local = True
        self.files_root = posixpath.join(self.root, "files", algo)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.root!r}, algo={self.algo!r})"

    @property
    def fs(self) -> Any:
        """The filesystem, built on first use, once: transfer threads ask for it at the same
        moment, and each client costs a connection pool and credentials of its own."""
        if self._fs is None:
            with self._fs_lock:
                if self._fs is None:
                    self._fs = self._build_fs()
        return self._fs

    def _build_fs(self) -> Any:
        if self._make_fs is not None:
            return self._make_fs()
        # A local directory: created on first use, since the hot paths use os directly and
        # importing fsspec costs more than a no-change `dvx status`.
        from fsspec.implementations.local import LocalFileSystem

        return LocalFileSystem(auto_mkdir=True)

    @property
    def is_local(self) -> bool:
        if self._is_local is None:
            protocol = self.fs.protocol
            protocols = (protocol,) if isinstance(protocol, str) else tuple(protocol)
            self._is_local = "file" in protocols or "local" in protocols
        return self._is_local

    # Objects are put under a temporary name and renamed only where a plain put is not already
    # atomic; object stores (S3, GCS, Azure) publish an object only once it is complete.
    @property
    def put_is_atomic(self) -> bool:
        if self._atomic_put is not None:
            return self._atomic_put
        protocol = str(self.fs.protocol)
        return not (self.is_local or "ssh" in protocol or "sftp" in protocol)

    def oid_path(self, oid: str) -> str:
        check_oid(oid, self.algo)
        return f"{self.files_root}/{oid[:2]}/{oid[2:]}"

    def exists(self, oid: str) -> bool:
        if self.is_local:
            return os.path.isfile(self.oid_path(oid))
        return bool(self.fs.exists(self.oid_path(oid)))

    def existing(self, oids: Iterable[str]) -> set[str]:
        """The subset of `oids` present in the store."""
        wanted = set(oids)
        if not wanted:
            return set()
        if len(wanted) <= 32:
            return {oid for oid in wanted if self.exists(oid)}
        return wanted & set(self.list_oids())

    def _find_paths(self) -> list[str]:
        if self.fast is not None:
            paths: list[str] | None = self.fast.list_all(self.files_root)
            if paths is not None:
                return paths
            self.fast = None  # the lean path declined: the general client answers from now on
        return list(self.fs.find(self.files_root))

    def list_oids(self) -> Iterator[str]:
        if self.is_local:
            yield from self._list_local_oids()
            return
        try:
            paths = self._find_paths()
        except FileNotFoundError:
            return
        prefix_len = len(self.files_root.rstrip("/")) + 1
        for path in paths:
            rel = path[prefix_len:] if path.startswith(self.files_root) else ""
            shard, _, rest = rel.partition("/")
            oid = shard + rest
            if len(shard) == 2 and not rest.startswith(".") and is_valid_oid(oid, self.algo):
                yield oid

    def _list_local_oids(self) -> Iterator[str]:
        # Straight from the directories: fsspec's find() would build an info dict per object.
        try:
            shards = os.scandir(self.files_root)
        except FileNotFoundError:
            return
        with shards:
            for shard in shards:
                if len(shard.name) != 2 or not shard.is_dir(follow_symlinks=False):
                    continue
                with os.scandir(shard.path) as names:
                    for entry in names:
                        oid = shard.name + entry.name
                        # A directory with an object's name (made by hand) is no object.
                        if is_valid_oid(oid, self.algo) and entry.is_file():
                            yield oid

    def quarantine(self, oid: str) -> str:
        """Move a corrupt object aside (never delete it): <root>/quarantine/<oid>.<time>."""
        import time

        target = posixpath.join(self.root, "quarantine", f"{oid}.{time.time_ns()}")
        self.fs.makedirs(posixpath.dirname(target), exist_ok=True)
        self.fs.mv(self.oid_path(oid), target)
        return target

    def list_with_details(self) -> dict[str, tuple[int, float | None]]:
        """{oid: (size, modification time as a POSIX timestamp, or None if unknown)}."""
        try:
            infos = self.fs.find(self.files_root, detail=True)
        except FileNotFoundError:
            return {}
        prefix_len = len(self.files_root.rstrip("/")) + 1
        found: dict[str, tuple[int, float | None]] = {}
        for path, info in infos.items():
            rel = path[prefix_len:] if path.startswith(self.files_root) else ""
            shard, _, rest = rel.partition("/")
            oid = shard + rest
            if len(shard) == 2 and not rest.startswith(".") and is_valid_oid(oid, self.algo):
                found[oid] = (int(info.get("size") or 0), _mtime_of(info))
        return found

    def delete(self, oids: list[str]) -> None:
        """Delete objects (gc only), in batches where the store supports it."""
        paths = [self.oid_path(oid) for oid in oids]
        for start in range(0, len(paths), 1000):
            self.fs.rm(paths[start:start + 1000])

    def _put_local(self, local_path: str, oid: str,
                   on_bytes: Callable[[int], None] | None = None) -> None:
        # A directory remote (a disk, a mount) is written with plain os calls, as the cache is.
        final = self.oid_path(oid)

        def before_name() -> None:
            faults.point("copy.after_temp_write")
            faults.point("odb.put.before_rename")

        if fsutil.copy_small_file(local_path, final, 0o666, replace=False,
                                  before_name=before_name):
            return
        tmp = fsutil.temp_name_for(final)  # a large file: copied by the kernel, then linked
        try:
            try:
                fsutil.copy(local_path, tmp, mode=None, on_bytes=on_bytes)
            except FileNotFoundError:
                if not os.path.exists(local_path):
                    raise
                os.makedirs(os.path.dirname(final), exist_ok=True)
                fsutil.copy(local_path, tmp, mode=None, on_bytes=on_bytes)
            faults.point("odb.put.before_rename")
            fsutil.publish(tmp, final)
        finally:
            fsutil.remove_quietly(tmp)

    # -- logs: small records beside the objects (push logs, read by gc --remote) -------------

    def _log_dir(self, kind: str) -> str:
        return posixpath.join(self.root, "logs", kind)

    def write_log(self, kind: str, name: str, data: bytes) -> None:
        """Store a new, uniquely named log record (never overwriting one)."""
        path = posixpath.join(self._log_dir(kind), name)
        if self.is_local:
            fsutil.write_whole(path, data, 0o644, replace=False)
            return
        self.fs.makedirs(self._log_dir(kind), exist_ok=True)
        self.fs.pipe_file(path, data)

    def list_logs(self, kind: str) -> list[str]:
        directory = self._log_dir(kind)
        try:
            if self.is_local:
                return sorted(entry.name for entry in os.scandir(directory)
                              if entry.is_file(follow_symlinks=False))
            return sorted(posixpath.basename(p) for p in self.fs.ls(directory, detail=False))
        except FileNotFoundError:
            return []

    def read_log(self, kind: str, name: str, limit: int) -> bytes:
        path = posixpath.join(self._log_dir(kind), name)
        if self.is_local:
            with open(path, "rb") as f:
                return f.read(limit + 1)
        with self.fs.open(path, "rb") as f:
            return bytes(f.read(limit + 1))

    def delete_logs(self, kind: str, names: list[str]) -> None:
        paths = [posixpath.join(self._log_dir(kind), name) for name in names]
        if self.is_local:
            for path in paths:
                fsutil.remove_quietly(path)
            return
        for start in range(0, len(paths), 1000):
            self.fs.rm(paths[start:start + 1000])

    def size(self, oid: str) -> int:
        return int(self.fs.size(self.oid_path(oid)))

    def open(self, oid: str, block_size: int | None = None) -> IO[bytes]:
        path = self.oid_path(oid)
        if self.is_local:  # e.g. a manifest, whose size no pointer gives: no fsspec import
            return open(path, "rb", buffering=block_size or -1)
        if block_size is None:
            return self.fs.open(path, "rb")
        return self.fs.open(path, "rb", block_size=block_size)

    def read_bytes(self, oid: str) -> bytes:
        if self.is_local:
            path = self.oid_path(oid)
            data = fsutil.read_small_file(path, fsutil.SMALL_FILE)  # four syscalls, no buffer
            if data is not None:
                return data
            with open(path, "rb") as f:
                return f.read()
        return bytes(self.fs.cat_file(self.oid_path(oid), **self.read_options))

    def put_file(self, local_path: str, oid: str,
                 on_bytes: Callable[[int], None] | None = None) -> None:
        """Upload a local file as object `oid`, never exposing a partial object; `on_bytes`
        is told how far it got."""
        final = self.oid_path(oid)
        parent = posixpath.dirname(final)
        if self.is_local:
            self._put_local(local_path, oid, on_bytes)
            return
        options = dict(self.put_options)
        if on_bytes is not None:
            options["callback"] = _callback(on_bytes)
        if self.put_is_atomic:
            self.fs.put_file(local_path, final, **options)
            return
        tmp = fsutil.temp_name_for(final)
        self.fs.makedirs(parent, exist_ok=True)
        try:
            self.fs.put_file(local_path, tmp, **options)
            faults.point("odb.put.before_rename")
            try:
                self.fs.mv(tmp, final)
            except OSError:
                if not self.fs.exists(final):  # some servers will not rename over a file
                    raise
                self.fs.rm_file(tmp)  # another upload of the same object won the race
        except BaseException:
            with contextlib.suppress(Exception):
                self.fs.rm_file(tmp)
            raise


def _callback(on_bytes: Callable[[int], None]) -> Any:
    """An fsspec progress callback that tells `on_bytes` of each step."""
    from fsspec.callbacks import Callback

    class Told(Callback):
        def relative_update(self, inc: int = 1) -> None:
            on_bytes(inc)

    return Told()
