"""Running coroutines on fsspec's I/O loop from synchronous code.

fsspec's filesystems and the lean S3 path (s3fast.py) run on one event loop in a thread of
its own. `run` hands a coroutine to that loop and waits for it; on Ctrl-C it cancels the
coroutine (every request in flight is abandoned, its `finally` blocks run) and re-raises at once,
so an interrupted transfer stops within moments instead of finishing what was in flight.
Code already on the loop must await filesystems' coroutines (`fs._put_file`, ...) and never
call their blocking wrappers, which would wait for the very loop they are blocking.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


def io_loop() -> asyncio.AbstractEventLoop:
    from fsspec.asyn import get_loop

    return get_loop()


def run(work: Callable[[], Awaitable[T]]) -> T:
    """`await work()` on the I/O loop, from a thread that is not that loop's."""

    async def runner() -> T:
        return await work()

    future = asyncio.run_coroutine_threadsafe(runner(), io_loop())
    try:
        while not future.done():
            concurrent.futures.wait([future], timeout=0.5)  # short waits: Ctrl-C gets through
    except KeyboardInterrupt:
        future.cancel()  # the loop cancels the coroutine; its `finally` blocks run there
        raise
    return future.result()
