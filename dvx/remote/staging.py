"""Tiny objects read first and stored after, on every core.

Storing a tiny object in the cache (create, write, hash, link) costs more than reading it
from a network store, and threads cannot spread those system calls over the cores; forked
worker processes can. But a process must not fork while its threads have reads in flight. So
a download of many tiny objects from a store without worker processes of its own goes in
rounds: it reads up to STAGED_BYTES (or STAGED_ENTRIES objects) into an unnamed scratch file
in the cache's temporary directory, waits until every read of the round is over, then stores
the round's objects in worker processes (`map_in_processes`), and reads the next round.

The scratch file has no name, so nothing of it outlives the process, whatever kills it.
Only objects of STAGED_OBJECT bytes or less (on average, for a read of several) are staged:
for larger ones storing as the reads arrive, overlapping the two, is faster (measured in
docs/performance.md, "Tiny objects stored on every core").
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import IO, TypeVar

from dvx import faults
from dvx.fsutil import pwrite_all
from dvx.objects.blobs import Blobs
from dvx.objects.cache import LocalCache
from dvx.processes import MIN_ITEMS, map_in_processes, worker_count

T = TypeVar("T")

STAGED_BYTES = 256 << 20  # read before their objects are stored: bounds the scratch file
STAGED_ENTRIES = 65_536  # objects per round: bounds the memory of their entries
STAGED_OBJECT = 2 << 10

Entry = tuple[str, int, int]  # oid, offset, length
Keep = Callable[[str, bytes], "int | Exception"]  # stores one object: its size, or why not


def store_verified(cache: LocalCache, oid: str, data: bytes) -> int | Exception:
    """One object into the cache, checked by hash: its size, or why it was refused (one bad
    object does not spoil the others of its round)."""
    try:
        size = cache.add_bytes_verified(data, oid)
    except Exception as exc:
        return exc
    faults.point("transfer.after_object")
    return size


def staging_for(cache: LocalCache, blobs: Blobs, count: int) -> StagedReads | None:
    """A scratch file for a download of `count` objects from `blobs`, if staging pays: enough
    objects for worker processes, at least two cores, and a store that does not already
    store in worker processes of its own (a directory)."""
    if blobs.processes or count < MIN_ITEMS or worker_count() < 2:
        return None
    return StagedReads(cache.scratch_file())


def in_rounds(items: Iterable[T], size_of: Callable[[T], int],
              count_of: Callable[[T], int] = lambda item: 1) -> Iterator[list[T]]:
    """`items` in consecutive rounds of about STAGED_BYTES or STAGED_ENTRIES objects each
    (an item being `count_of` objects of `size_of` bytes in all)."""
    round_items: list[T] = []
    size = count = 0
    for item in items:
        round_items.append(item)
        size += size_of(item)
        count += count_of(item)
        if size >= STAGED_BYTES or count >= STAGED_ENTRIES:
            yield round_items
            round_items, size, count = [], 0, 0
    if round_items:
        yield round_items


class StagedReads:
    """The objects of a round's reads, kept in a scratch file until `store`. Safe to `add`
    to from several threads."""

    def __init__(self, file: IO[bytes]) -> None:
        self.file = file
        self.size = 0
        self.entries: list[Entry] = []  # (oid, offset in the file, length)
        self._lock = threading.Lock()

    def __enter__(self) -> StagedReads:
        return self

    def __exit__(self, *exc: object) -> None:
        self.file.close()

    @staticmethod
    def suits(count: int, size: int) -> bool:
        """Whether a read of `count` objects and `size` bytes is staged."""
        return size <= STAGED_OBJECT * count

    def add(self, data: bytes, entries: Iterable[Entry], start: int = 0) -> None:
        """Stage one read, whose `entries` lie at their offset less `start` in `data`; if
        writing it fails (a full disk), nothing of it is staged."""
        with self._lock:  # the read's place in the file; threads write theirs side by side
            at = self.size
            self.size += len(data)
        pwrite_all(self.file.fileno(), data, at)  # a failed write leaves bytes no entry names
        placed = [(oid, at + offset - start, length) for oid, offset, length in entries]
        with self._lock:
            self.entries += placed

    def store(self, keep: Keep, advance: Callable[[int], None],
              on_result: Callable[[Entry, int | Exception], None] = lambda entry, outcome: None
              ) -> tuple[list[Entry], list[int | Exception]]:
        """`keep(oid, bytes)` for every staged object, in worker processes (or threads, for
        few); the entries and their outcomes. `on_result(entry, outcome)` is told each
        outcome as it comes back, so that a store stopped midway (Ctrl-C) has counted what
        was stored before. The file is emptied for the next round. Call it only once the
        round's reads are over."""
        entries, self.entries, self.size = self.entries, [], 0
        fd = self.file.fileno()

        def one(entry: Entry) -> int | Exception:
            oid, offset, length = entry
            return keep(oid, os.pread(fd, length, offset))

        outcomes = map_in_processes(one, entries, advance, on_result=on_result)
        os.ftruncate(fd, 0)
        return entries, outcomes
