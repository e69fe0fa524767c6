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


def stop_under_way() -> KeyboardInterrupt | None:
    """The stop the command already stops for: its KeyboardInterrupt (Terminated, HungUp
    too) being handled, here or by whoever closes the generator running this (GeneratorExit,
    raised as that stop unwinds); None if it stops for none."""
    exc = sys.exc_info()[1]
    if isinstance(exc, GeneratorExit):
        exc = exc.__context__
    return exc if isinstance(exc, KeyboardInterrupt) else None


@contextlib.contextmanager
def stops_held() -> Iterator[list[int]]:
    """Run the block whole: a Ctrl-C, SIGTERM or SIGHUP that arrives meanwhile takes effect
    once it ends (the first of them, as if it arrived then), or not at all if the block runs
    while the command already stops for one (a second Ctrl-C is ignored). A signal the
    process ignores stays ignored, and SIGKILL, which nothing holds back, still ends it.
    Python runs signal handlers in the main thread only: elsewhere the block just runs.
    The block gets the list of the signals held so far; emptied by it, none takes effect
    after it (the block acts on them itself)."""
    held: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield held
        return
    stopping = stop_under_way() is not None

    def hold(signum: int, frame: FrameType | None) -> None:
        held.append(signum)

    before = {}
    try:  # a stop handled while the handlers are set still finds the ones set put back
        for signum in STOP_SIGNALS:
            handler = signal.getsignal(signum)
            if handler is not None and handler != signal.SIG_IGN:  # None: not set by Python
                before[signum] = signal.signal(signum, hold)
        yield held
    finally:
        for signum, handler in before.items():
            signal.signal(signum, handler)
        if held and not stopping:
            signal.raise_signal(held[0])
