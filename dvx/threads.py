"""Per-file work on a few threads, in order, with bounded memory.

`ThreadPoolExecutor.map` submits every item at once: for 100,000 files that is 100,000 futures
alive together (about 100 MB) and a lock handshake per file. Here items go out in batches, a
few batches in flight at a time, so memory stays flat and the per-item overhead is a function
call. Threads pay off because hashing (xxhash) and file I/O release the GIL.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, TypeVar

from dvx.stop_signals import stops_held

if TYPE_CHECKING:
    from concurrent.futures import Future

T = TypeVar("T")
R = TypeVar("R")

HASH_THREADS = max(2, os.cpu_count() or 2)
BATCH_ITEMS = 64  # per batch: enough to make the handshake negligible for 1 KiB files
BATCH_BYTES = 4 << 20  # ...but big files go alone or in small batches, so both threads get work
BATCHES_IN_FLIGHT_PER_THREAD = 4

# The kernel may hand a signal sent to dvx (Ctrl-C, SIGTERM, SIGHUP) to any of its threads.
# Python runs the handler in the main thread, but only once that thread wakes: one blocked
# on a future with no timeout would not stop before the work ends (a stage, hours later).
# So the main thread waits on work in slices this long.
SIGNAL_SLICE = 0.2


def result_of(future: Future[R]) -> R:
    """`future.result()`, waited for in slices so that a signal reaches its handler at once."""
    from concurrent.futures import wait

    while not future.done():
        wait([future], timeout=SIGNAL_SLICE)
    return future.result()


def first_done(futures: Iterable[Future[R]]) -> set[Future[R]]:
    """The futures done, once at least one is (`wait(..., FIRST_COMPLETED)`), waited for in
    slices as `result_of` does."""
    from concurrent.futures import FIRST_COMPLETED, wait

    pending = list(futures)
    while True:
        done, _ = wait(pending, timeout=SIGNAL_SLICE, return_when=FIRST_COMPLETED)
        if done or not pending:
            return done


def _batches(items: Sequence[T], size_of: Callable[[T], int] | None) -> Iterator[Sequence[T]]:
    if size_of is None:  # sizes unknown: one item per batch keeps the threads balanced
        for index in range(len(items)):
            yield items[index:index + 1]
        return
    start, weight = 0, 0
    for index, item in enumerate(items):
        weight += size_of(item)
        if index + 1 - start >= BATCH_ITEMS or weight >= BATCH_BYTES:
            yield items[start:index + 1]
            start, weight = index + 1, 0
    if start < len(items):
        yield items[start:]


def map_in_threads(fn: Callable[[T], R], items: Sequence[T], threads: int = HASH_THREADS,
                   size_of: Callable[[T], int] | None = None) -> Generator[R, None, None]:
    """`fn(item)` for each item, results in the order of `items`. `size_of` (bytes of work
    per item) lets cheap items travel in batches. An exception from `fn` is raised here, once
    the batches already running have finished; the rest are not started. A caller that may
    be stopped between results (Ctrl-C) and then reads what `fn` left behind closes the
    generator first (`contextlib.closing`), which waits for the running batches, deaf to a
    second Ctrl-C meanwhile (`stops_held`)."""
    if threads <= 1 or len(items) <= 1:
        yield from map(fn, items)
        return

    # Imported here: concurrent.futures brings in the logging package, which commands that
    # end up with nothing to hash should not pay for.
    from concurrent.futures import ThreadPoolExecutor

    def run(batch: Sequence[T]) -> list[R]:
        return [fn(item) for item in batch]

    def submit(batch: Sequence[T]) -> Future[list[R]]:
        # A stop raised while the pool starts a thread would leave that thread unknown to
        # the pool, never waited for: it takes effect once the thread is the pool's.
        with stops_held():
            return pool.submit(run, batch)

    batches = _batches(items, size_of)
    pool = ThreadPoolExecutor(threads)
    in_flight: deque[Future[list[R]]] = deque()
    try:
        for batch in batches:
            in_flight.append(submit(batch))
            if len(in_flight) >= threads * BATCHES_IN_FLIGHT_PER_THREAD:
                break
        while in_flight:
            results = result_of(in_flight.popleft())
            following = next(batches, None)
            if following is not None:
                in_flight.append(submit(following))
            yield from results
    finally:
        # Whole, even through a second Ctrl-C: cut short, it would leave a thread at work
        # (linking a file, say) that the stop's clean-up, running next, would miss.
        with stops_held():
            pool.shutdown(wait=True, cancel_futures=True)
