"""Work that a stop must not cut in two: Ctrl-C, SIGTERM and SIGHUP held back while it runs.

A command stopped by one of them raises an exception (KeyboardInterrupt, Terminated, HungUp)
wherever its main thread is; a few clean-ups on its way out (giving files back as they were)
leave things wrong if a second one, an impatient Ctrl-C, lands in their middle.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Iterator
from types import FrameType

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _stopping() -> bool:
    """Whether the command already stops for a stop signal: its KeyboardInterrupt
    (Terminated, HungUp too) is being handled, here or by whoever closes the generator
    running this (GeneratorExit, raised as that stop unwinds)."""
    exc = sys.exc_info()[1]
    if isinstance(exc, GeneratorExit):
        exc = exc.__context__
    return isinstance(exc, KeyboardInterrupt)


@contextlib.contextmanager
def stops_held() -> Iterator[None]:
    """Run the block whole: a Ctrl-C, SIGTERM or SIGHUP that arrives meanwhile takes effect
    once it ends (the first of them, as if it arrived then), or not at all if the block runs
    while the command already stops for one (a second Ctrl-C is ignored). A signal the
    process ignores stays ignored, and SIGKILL, which nothing holds back, still ends it.
    Python runs signal handlers in the main thread only: elsewhere the block just runs."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    stopping = _stopping()
    held: list[int] = []

    def hold(signum: int, frame: FrameType | None) -> None:
        held.append(signum)

    before = {}
    for signum in STOP_SIGNALS:
        handler = signal.getsignal(signum)
        if handler is not None and handler != signal.SIG_IGN:  # None: not set by Python
            before[signum] = signal.signal(signum, hold)
    try:
        yield
    finally:
        for signum, handler in before.items():
            signal.signal(signum, handler)
        if held and not stopping:
            signal.raise_signal(held[0])
