"""Running coroutines on fsspec's I/O loop from synchronous code.

fsspec's filesystems and the lean S3 path (s3fast.py) run on one event loop in a thread of
its own. `run` hands a coroutine to that loop and waits for it; on Ctrl-C it cancels the
coroutine (every request in flight is abandoned, its `finally` blocks run) and re-raises at once,
so an interrupted transfer stops within moments instead of finishing what was in flight.
Code already on the loop must await filesystems' coroutines (`fs._put_file`, ...) and never
call their blocking wrappers, which would wait for the very loop they are blocking.

A command stopped by Ctrl-C, SIGTERM or SIGHUP ends its process at once, without waiting for
the threads still sending (dvx/cli/main.py); what a store must still be told then (abort
this multipart upload, whose parts it would otherwise keep, and bill) is registered with
`cleaned_up_on_stop` while it is owed, and `run_stop_cleanups` sends it, for a moment, first.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from typing import TypeVar

T = TypeVar("T")

# What each piece of work in flight owes a store should the process stop at once.
_stop_cleanups: set[Callable[[], Awaitable[object]]] = set()
_ending = False  # set once the process is stopping at once: nothing new starts


def io_loop() -> asyncio.AbstractEventLoop:
    from fsspec.asyn import get_loop

    return get_loop()


def run(work: Callable[[], Awaitable[T]]) -> T:
    """`await work()` on the I/O loop, from a thread that is not that loop's. Once the
    process is stopping at once (`run_stop_cleanups`), work cancelled or not started raises
    KeyboardInterrupt in every thread: none is tried again meanwhile."""

    async def runner() -> T:
        return await work()

    if _ending:
        raise KeyboardInterrupt()
    coroutine: Coroutine[object, object, T] | None = None
    future: concurrent.futures.Future[T] | None = None
    try:
        loop = io_loop()
        coroutine = runner()
        future = asyncio.run_coroutine_threadsafe(coroutine, loop)
        while not future.done():
            concurrent.futures.wait([future], timeout=0.5)  # short waits: Ctrl-C gets through
    except BaseException:  # a Ctrl-C, wherever it lands
        if future is not None:
            future.cancel()  # the loop cancels the coroutine; its `finally` blocks run there
        elif coroutine is not None:
            # Not handed over: dropped unstarted, Python would warn it was never awaited.
            coroutine.close()
        raise
    if future.cancelled() and _ending:
        raise KeyboardInterrupt()
    return future.result()


@contextlib.contextmanager
def cleaned_up_on_stop(cleanup: Callable[[], Awaitable[object]]) -> Iterator[None]:
    """Inside this block, `await cleanup()` runs on the loop should the process stop at once
    (`run_stop_cleanups`)."""
    _stop_cleanups.add(cleanup)
    try:
        yield
    finally:
        _stop_cleanups.discard(cleanup)


def run_stop_cleanups(budget: float) -> None:
    """Run every registered clean-up at once on the loop, and wait for them `budget` seconds
    at most: a store that does not answer must not keep a stopped command alive."""
    global _ending
    _ending = True
    cleanups = list(_stop_cleanups)
    if not cleanups:
        return

    async def all_of() -> None:
        await asyncio.wait_for(asyncio.gather(*(cleanup() for cleanup in cleanups),
                                              return_exceptions=True), budget)

    future = asyncio.run_coroutine_threadsafe(all_of(), io_loop())
    with contextlib.suppress(Exception):  # not in time: the store expires them, or gc does
        future.result(budget + 0.5)
