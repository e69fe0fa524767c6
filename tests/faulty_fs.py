"""A fault-injecting fsspec filesystem over a local directory, for the remote-contract tests.

URL: faulty:///abs/path. Its faults are read, at every call, from a JSON file named by the
`faults` option, so a test can change them between commands:

    {"fail_times": N}        the next N opens/puts/existence checks raise ConnectionError
    {"fail_puts": N}         the next N uploads of data raise ConnectionError (a lock, in
                             locks/, is written: the data's failures are what is tested)
    {"corrupt": [OID, ...]}  reads of these objects return one flipped byte
    {"truncate": [OID, ...]} reads of these objects stop half-way
    {"drop_times": K, "drop_after_bytes": N}
                             the next K reads raise ConnectionError after N bytes (a dropped
                             connection)
"""

from __future__ import annotations

import io
import json
import os
import threading
from typing import Any

from fsspec.implementations.local import LocalFileSystem

_LOCK = threading.Lock()


class FaultyFileSystem(LocalFileSystem):
    protocol = ("faulty",)

    def __init__(self, faults: str = "", **kwargs: Any) -> None:
        super().__init__(auto_mkdir=True, **kwargs)
        self.faults_path = faults

    @classmethod
    def _strip_protocol(cls, path: str) -> str:
        if path.startswith("faulty://"):
            path = path[len("faulty://"):]
        return LocalFileSystem._strip_protocol(path)

    def _faults(self) -> dict[str, Any]:
        if not self.faults_path or not os.path.exists(self.faults_path):
            return {}
        with open(self.faults_path) as f:
            return dict(json.load(f))

    def _take(self, counter: str) -> bool:
        """True (and one fewer left) if the fault `counter` still has shots."""
        with _LOCK:  # transfers run in threads
            faults = self._faults()
            if faults.get(counter, 0) <= 0:
                return False
            faults[counter] -= 1
            tmp = self.faults_path + ".tmp"
            with open(tmp, "w") as f:
                json.dump(faults, f)
            os.replace(tmp, self.faults_path)
            return True

    def _maybe_fail(self) -> None:
        if self._take("fail_times"):
            raise ConnectionError("injected transient failure")

    def exists(self, path: str, **kwargs: Any) -> bool:
        self._maybe_fail()
        return bool(super().exists(path, **kwargs))

    def put_file(self, lpath: str, rpath: str, **kwargs: Any) -> None:
        self._maybe_fail()
        if "/locks/" not in rpath and self._take("fail_puts"):
            raise ConnectionError("injected upload failure")
        super().put_file(lpath, rpath, **kwargs)

    def pipe_file(self, path: str, value: bytes, *args: Any, **kwargs: Any) -> None:
        self._maybe_fail()
        if "/locks/" not in path and self._take("fail_puts"):
            raise ConnectionError("injected upload failure")
        super().pipe_file(path, value, *args, **kwargs)

    def cat_file(self, path: str, start: int | None = None, end: int | None = None,
                 **kwargs: Any) -> bytes:
        """The bytes [start, end) of a file; `corrupt_at` ({file name: offset}) flips the
        byte at that offset of the file, if the range holds it (a pack's object)."""
        with self.open(path, "rb") as f:
            data = f.read()
        flip = self._faults().get("corrupt_at", {}).get(os.path.basename(path))
        if flip is not None and flip < len(data):
            data = data[:flip] + bytes([data[flip] ^ 0xFF]) + data[flip + 1:]
        return data[start or 0:len(data) if end is None else end]

    def _open(self, path: str, mode: str = "rb", **kwargs: Any) -> Any:
        if "r" not in mode:
            return super()._open(path, mode, **kwargs)
        self._maybe_fail()
        kwargs.pop("block_size", None)
        with super()._open(path, mode) as f:
            data = f.read()
        oid = os.path.basename(os.path.dirname(path)) + os.path.basename(path)
        faults = self._faults()
        if oid in faults.get("corrupt", []):
            data = bytes([data[0] ^ 0xFF]) + data[1:] if data else b"x"
        if oid in faults.get("truncate", []):
            data = data[: len(data) // 2]
        if self._take("drop_times"):
            return _Dropping(data, faults.get("drop_after_bytes", 0))
        return io.BytesIO(data)


class _Dropping(io.BytesIO):
    """Serves `limit` bytes, then fails as a dropped connection would."""

    def __init__(self, data: bytes, limit: int) -> None:
        super().__init__(data)
        self.limit = limit

    def read(self, size: int | None = -1) -> bytes:
        if self.tell() >= self.limit:
            raise ConnectionError("injected dropped connection")
        room = self.limit - self.tell()
        return super().read(room if size is None or size < 0 else min(size, room))

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)
