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
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any, Protocol

from dvx.errors import InvalidOidError, UsageError

DEFAULT_ALGO = "xxh128"
CHUNK_SIZE = 1 << 20  # 1 MiB: large enough that syscalls and Python overhead vanish
MMAP_THRESHOLD = 4 << 20  # files from this size up are hashed through mmap
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


def hash_bytes(data: bytes, algo: str = DEFAULT_ALGO) -> str:
    hasher = get_algorithm(algo).new()
    hasher.update(data)
    return hasher.hexdigest()


def hash_stream(src: IO[bytes], algo: str = DEFAULT_ALGO, sink: IO[bytes] | None = None,
                on_chunk: Callable[[int], None] | None = None) -> tuple[str, int]:
    """Hash everything `src` yields, writing each chunk to `sink` if given (hash-while-copy).

    Returns (oid, size). One pass over the bytes, whatever the sink.
    """
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
        if sink is not None:
            sink.write(chunk)
        size += n
        if on_chunk is not None:
            on_chunk(n)
    return hasher.hexdigest(), size


def hash_file(path: str, algo: str = DEFAULT_ALGO, sink: IO[bytes] | None = None
              ) -> tuple[str, int]:
    """Hash a local file (copying it to `sink` if given) in one pass.

    Large files are memory-mapped: hashing straight from the page cache avoids a copy into a
    user buffer and runs at the speed of `xxh128sum`, about twice a read()-loop's.
    """
    with open(path, "rb", buffering=0) as f:
        size = os.fstat(f.fileno()).st_size
        if size < CHUNK_SIZE:  # one read, no buffer to allocate: most files of a dataset
            data = f.read()
            if sink is not None:
                sink.write(data)
            return hash_bytes(data, algo), len(data)
        if size < MMAP_THRESHOLD:
            return hash_stream(f, algo, sink=sink)
        return _hash_mapped(f, size, algo, sink)


def _hash_mapped(f: IO[bytes], size: int, algo: str, sink: IO[bytes] | None
                 ) -> tuple[str, int]:
    # One window at a time, unmapped before the next: resident memory stays at one window
    # however large the file is.
    hasher = get_algorithm(algo).new()
    for start in range(0, size, MMAP_WINDOW):
        length = min(MMAP_WINDOW, size - start)
        with mmap.mmap(f.fileno(), length, access=mmap.ACCESS_READ, offset=start) as mapped:
            mapped.madvise(mmap.MADV_SEQUENTIAL)
            view = memoryview(mapped)
            try:
                hasher.update(view)
                if sink is not None:
                    sink.write(view)
            finally:
                view.release()
    return hasher.hexdigest(), size
