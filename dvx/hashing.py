"""Content hashing: streaming digests, hash-while-copy, and the oid format check.

An oid is the lowercase hex digest of an object's raw bytes. The default algorithm is
xxh3-128 (`xxh128`), so `xxh128sum FILE` reproduces an oid by hand; sha256 can be chosen
(`core.hash`) where remotes are untrusted and collisions must be infeasible, not just unlikely.
Every oid read from outside is checked with `check_oid` before a path is built from it.
"""

from __future__ import annotations

import mmap
import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any, Protocol

from dvx import faults
from dvx.errors import InvalidOidError, UsageError
from dvx.fsutil import (
    BytesLike,
    FileChangedError,
    changed_while_read,
    check_unchanged,
    copy_window,
    open_regular,
)

DEFAULT_ALGO = "xxh128"
CHUNK_SIZE = 1 << 20  # 1 MiB: large enough that syscalls and Python overhead vanish
MMAP_WINDOW = 64 << 20  # a multiple of mmap.ALLOCATIONGRANULARITY


class Hasher(Protocol):
    def update(self, data: Any, /) -> None: ...
    def hexdigest(self) -> str: ...


def _xxh128() -> Hasher:
    import xxhash  # imported lazily: keeps `dvx --help` fast

    return xxhash.xxh3_128()


def _sha256() -> Hasher:
    import hashlib  # loading OpenSSL costs milliseconds that xxh128 users need not pay

    return hashlib.sha256()


@dataclass(frozen=True)
class Algorithm:
    name: str
    hex_length: int
    new: Callable[[], Hasher]

    @property
    def pattern(self) -> re.Pattern[str]:
        return re.compile(f"[0-9a-f]{{{self.hex_length}}}")


ALGORITHMS: dict[str, Algorithm] = {
    "xxh128": Algorithm("xxh128", 32, _xxh128),
    "sha256": Algorithm("sha256", 64, _sha256),
}
_PATTERNS = {name: algo.pattern for name, algo in ALGORITHMS.items()}
# The largest size or count a pointer, manifest or dvx.lock may record: no file is larger (a
# file's size is a signed 64-bit number), and a manifest keeps sizes in 64-bit arrays.
MAX_SIZE = 2**63 - 1


def get_algorithm(name: str) -> Algorithm:
    try:
        return ALGORITHMS[name]
    except KeyError:
        known = ", ".join(sorted(ALGORITHMS))
        raise UsageError(f"Unknown hash algorithm {name!r}.", f"Use one of: {known}.") from None


def check_oid(oid: object, algo: str = DEFAULT_ALGO) -> str:
    """Return `oid` if it is exactly the algorithm's lowercase hex, else raise InvalidOidError."""
    pattern = _PATTERNS.get(algo)
    if pattern is None:
        raise InvalidOidError(f"Unknown hash algorithm {algo!r}.")
    if not isinstance(oid, str) or pattern.fullmatch(oid) is None:
        shown = repr(oid)[:80]
        raise InvalidOidError(
            f"Invalid {algo} object id {shown}: expected {ALGORITHMS[algo].hex_length} "
            "lowercase hex digits."
        )
    return oid


def is_valid_oid(oid: object, algo: str = DEFAULT_ALGO) -> bool:
    pattern = _PATTERNS.get(algo)
    return pattern is not None and isinstance(oid, str) and pattern.fullmatch(oid) is not None


def hash_bytes(data: BytesLike, algo: str = DEFAULT_ALGO) -> str:
    hasher = get_algorithm(algo).new()
    hasher.update(data)
    return hasher.hexdigest()


OnBytes = Callable[[int], None]  # told how many more bytes were processed (progress)


def hash_stream(src: IO[bytes], algo: str = DEFAULT_ALGO, on_bytes: OnBytes | None = None
                ) -> tuple[str, int]:
    """(oid, size) of everything `src` yields, read a chunk at a time."""
    hasher = get_algorithm(algo).new()
    buffer = bytearray(CHUNK_SIZE)
    view = memoryview(buffer)
    size = 0
    readinto = getattr(src, "readinto", None)
    while True:
        if readinto is not None:
            n = readinto(buffer)
            if not n:
                break
            chunk: Any = view[:n]
        else:
            data = src.read(CHUNK_SIZE)
            if not data:
                break
            n, chunk = len(data), data
        hasher.update(chunk)
        size += n
        if on_bytes is not None:
            on_bytes(n)
    return hasher.hexdigest(), size


def hash_file(path: str, algo: str = DEFAULT_ALGO, on_bytes: OnBytes | None = None,
              changed_is_error: bool = True) -> tuple[str, int]:
    """Hash the regular file at `path` in one pass, read into a buffer this thread reuses.

    Never memory-mapped: another process may shrink the file meanwhile, and reading a mapped
    page past its new end kills the reader (SIGBUS). A file that changed while it was read
    (it ended early, grew, or its mtime moved) is a FileChangedError, since what was read is
    no one version of it; without `changed_is_error` (a cache object: verify tells a change
    by the hash alone), its hash is returned all the same. Anything but a regular file at `path`
    is a NotRegularFileError, never waited on (`open_regular`).
    """
    fd, before = open_regular(path)
    try:
        return hash_open_file(fd, before, path, algo, on_bytes, changed_is_error)
    finally:
        os.close(fd)


def hash_open_file(fd: int, before: os.stat_result, path: str, algo: str = DEFAULT_ALGO,
                   on_bytes: OnBytes | None = None, changed_is_error: bool = True
                   ) -> tuple[str, int]:
    """`hash_file` of the file open at `fd` (from its start), whose fstat when it was opened
    is `before`; `path` names it in errors. The caller keeps `fd`, so what it does next (link
    it into the cache) is done to the very file that was hashed."""
    faults.point("hash_file.after_open")
    hasher = get_algorithm(algo).new()
    buffer = _thread_buffer()
    size = 0
    with memoryview(buffer) as view:
        while True:
            n = os.readv(fd, [buffer])
            if not n:
                break
            hasher.update(view[:n])
            size += n
            if on_bytes is not None:
                on_bytes(n)
            if size == before.st_size and changed_is_error:
                break  # the end, unless it grew: check_unchanged tells
    if changed_is_error:
        check_unchanged(fd, before, size, path)
    return hasher.hexdigest(), size


_buffers = threading.local()


def _thread_buffer() -> bytearray:
    """This thread's read buffer, allocated once (hashing threads each read many files)."""
    buffer: bytearray | None = getattr(_buffers, "buffer", None)
    if buffer is None:
        buffer = _buffers.buffer = bytearray(CHUNK_SIZE)
    return buffer


def hash_copy(path: str, dst_fd: int, algo: str = DEFAULT_ALGO, on_bytes: OnBytes | None = None,
              follow_links: bool = True, changed_is_error: bool = True) -> tuple[str, int]:
    """Copy the file at `path` into the new, empty file `dst_fd` (open for reading and writing)
    and return the (oid, size) of the copy. Without `follow_links`, a symbolic link at `path`
    is an OSError (ELOOP), never read through. A file whose size or mtime moved while it was
    copied is a FileChangedError; without `changed_is_error` (a cache object, whose copy the
    caller checks against its oid: another process marking it used moves its mtime, and no
    byte) the oid of the bytes copied is returned all the same.

    The copy is what gets hashed, from its own pages: the oid describes exactly the bytes
    stored even if the source is written to meanwhile (hashing the source, then writing it,
    would read it twice). The kernel copies (copy_file_range: no bytes through Python) one
    window while the previous window of the copy is hashed, on another core.
    """
    import queue

    hasher = get_algorithm(algo).new()
    windows: queue.SimpleQueue[int | BaseException] = queue.SimpleQueue()
    stop = threading.Event()  # set if hashing stops early (an error, Ctrl-C)
    src, before = open_regular(path, follow_links)
    try:
        faults.point("hash_copy.after_open")
        total = before.st_size

        def copy_windows() -> None:
            try:
                for start in range(0, total, MMAP_WINDOW):
                    if stop.is_set():
                        return
                    end = min(total, start + MMAP_WINDOW)
                    copy_window(src, dst_fd, start, end)  # holes stay holes
                    os.ftruncate(dst_fd, max(end, os.fstat(dst_fd).st_size))
                    windows.put(end - start)
                if total % MMAP_WINDOW == 0:
                    windows.put(0)  # the end of a file of whole windows (or an empty one)
            except BaseException as exc:  # handed to the hashing thread, which raises it
                windows.put(exc)

        copier = threading.Thread(target=copy_windows, name="dvx-copy", daemon=True)
        copier.start()
        size = 0
        try:
            while True:
                copied = windows.get()
                if isinstance(copied, BaseException):
                    raise copied
                if copied:
                    with mmap.mmap(dst_fd, copied, access=mmap.ACCESS_READ,
                                   offset=size) as mapped, memoryview(mapped) as view:
                        hasher.update(view)
                    size += copied
                    if on_bytes is not None:
                        on_bytes(copied)
                if copied < MMAP_WINDOW:
                    break
        finally:
            stop.set()
            copier.join()
        if changed_is_error:
            check_unchanged(src, before, size, path)  # a copy of one version, or none at all
    except FileChangedError as exc:
        raise changed_while_read(path) from exc
    finally:
        os.close(src)
    return hasher.hexdigest(), size
