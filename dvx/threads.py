"""Per-file work on a few threads, in order, with bounded memory.

`ThreadPoolExecutor.map` submits every item at once: for 100,000 files that is 100,000 futures
alive together (about 100 MB) and a lock handshake per file. Here items go out in batches, a
few batches in flight at a time, so memory stays flat and the per-item overhead is a function
call. Threads pay off because hashing (xxhash) and file I/O release the GIL.
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, TypeVar

from dvx.errors import stop_status
from dvx.stop_signals import stop_under_way, stops_held

if TYPE_CHECKING:
    from concurrent.futures import Future

T = TypeVar("T")
R = TypeVar("R")

HASH_THREADS = max(2, os.cpu_count() or 2)
# The most a -j runs at once (stages, experiments, transfers or checks), and the most a
# remote's `jobs` may say: far past any machine, and what a queue entry records as its jobs,
# so that no count the command line takes makes it unreadable.
MAX_JOBS = 1 << 16
BATCH_ITEMS = 64  # per batch: enough to make the handshake negligible for 1 KiB files
BATCH_BYTES = 4 << 20  # ...but big files go alone or in small batches, so both threads get work
BATCHES_IN_FLIGHT_PER_THREAD = 4

# The kernel may hand a signal sent to dvx (Ctrl-C, SIGTERM, SIGHUP) to any of its threads.
# Python runs the handler in the main thread, but only once that thread wakes: one blocked
# on a future with no timeout would not stop before the work ends (a stage, hours later).
# So the main thread waits on work in slices this long.
SIGNAL_SLICE = 0.2

# How long the work running still gets to finish once a second stop signal came while a
# stop waited for it (`finish_on_stop`): a big file is mostly done by then, while a read of a
# hung mount never would be.
STOP_GRACE = 3.0


class LeftRunning(KeyboardInterrupt):
    """A stop that ended `map_in_threads` without waiting for all of the work running: a
    second stop signal came, and the work was not done `STOP_GRACE` seconds later. `items`:
    those whose work may not have ended (it may still run until the process ends)."""

    def __init__(self, exit_code: int, items: Sequence[object]) -> None:
        super().__init__()
        self.exit_code = exit_code
        self.items = list(items)


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
                   size_of: Callable[[T], int] | None = None,
                   finish_on_stop: bool = False) -> Generator[R, None, None]:
    """`fn(item)` for each item, results in the order of `items`. `size_of` (bytes of work
    per item) lets cheap items travel in batches. An exception from `fn` is raised here, once
    the batches already running have finished; the rest are not started. A caller that may
    be stopped between results (Ctrl-C) and then reads what `fn` left behind closes the
    generator first (`contextlib.closing`), which waits for the running batches: a second
    stop signal meanwhile ends that wait at once, unless `finish_on_stop` (what `fn` leaves
    must be seen whole by the clean-up after the stop), where it gives the running work
    `STOP_GRACE` seconds more and then raises `LeftRunning`."""
    if threads <= 1 or len(items) <= 1:
        yield from map(fn, items)
        return

    # Imported here: concurrent.futures brings in the logging package, which commands that
    # end up with nothing to hash should not pay for.
    from concurrent.futures import ThreadPoolExecutor

    def run(batch: Sequence[T]) -> list[R]:
        return [fn(item) for item in batch]

    def submit(batch: Sequence[T]) -> None:
        # A stop raised while the pool starts a thread would leave that thread unknown to
        # the pool, or its batch to `in_flight`, never waited for: it takes effect once the
        # batch is in flight.
        with stops_held():
            in_flight.append((pool.submit(run, batch), batch))

    batches = _batches(items, size_of)
    pool = ThreadPoolExecutor(threads)
    in_flight: deque[tuple[Future[list[R]], Sequence[T]]] = deque()
    try:
        for batch in batches:
            submit(batch)
            if len(in_flight) >= threads * BATCHES_IN_FLIGHT_PER_THREAD:
                break
        while in_flight:
            results = result_of(in_flight[0][0])  # in flight until it has come back
            in_flight.popleft()
            following = next(batches, None)
            if following is not None:
                submit(following)
            yield from results
    finally:
        pool.shutdown(wait=False, cancel_futures=True)  # none of the rest starts
        _wait_for_running(in_flight, finish_on_stop)
        pool.shutdown(wait=True)  # their threads, done with their work


def _wait_for_running(in_flight: Iterable[tuple[Future[R], Sequence[T]]],
                      finish_on_stop: bool) -> None:
    """Wait for the batches of `in_flight` that are running, in slices (`result_of`). Not
    `finish_on_stop`: a stop signal meanwhile ends the wait as it comes. Else the wait is
    held (`stops_held`), so the clean-up after a stop sees all the work did; only a second
    stop signal (the first one if the command stops already) ends it, `STOP_GRACE` seconds
    later if the work is still running then, raising `LeftRunning`."""
    from concurrent.futures import wait

    running = list(in_flight)
    pending = [future for future, _ in running if not future.done()]
    if not finish_on_stop:
        while pending:
            _, left = wait(pending, timeout=SIGNAL_SLICE)
            pending = list(left)
        return
    cut_short: int | None = None
    with stops_held() as held:
        stop = stop_under_way()
        deadline: float | None = None
        while pending:
            _, left = wait(pending, timeout=SIGNAL_SLICE)
            pending = list(left)
            if deadline is None and len(held) + (stop is not None) >= 2:
                deadline = time.monotonic() + STOP_GRACE
            if pending and deadline is not None and time.monotonic() >= deadline:
                cut_short = stop_status(stop) if stop is not None else 128 + held[0]
                held.clear()  # said by LeftRunning instead
                break
    if cut_short is not None:
        raise LeftRunning(cut_short, [item for future, batch in running if not future.done()
                                      for item in batch])
