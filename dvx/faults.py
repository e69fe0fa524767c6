"""Named fault points at durability boundaries, for crash tests.

Set DVX_FAULT=NAME (optionally NAME:N to fire at the N-th pass; several such, comma-separated,
each fire) and the process kills itself with SIGKILL when it reaches that point, exactly as a
power cut or `kill -9` would stop it.
With DVX_FAULT_ACTION=stop it stops itself instead (SIGSTOP), like a process that is slow
right there, until a test lets it go on with SIGCONT (once: later passes go on). With
DVX_FAULT_ACTION=enospc it raises the OSError a full disk gives instead, once, as a write
there would. With DVX_FAULT_ACTION=hang the thread that reaches it waits for ever (a read
that never returns), first creating the file DVX_FAULT_REACHED names, if set, so a test
knows the point is reached.
In normal runs a point costs one dictionary lookup.
"""

from __future__ import annotations

import errno
import os
import signal
import threading
import time

_remaining = {name: int(count or "1") for name, _, count in (
    part.partition(":") for part in os.environ.get("DVX_FAULT", "").split(",") if part)}
_action = os.environ.get("DVX_FAULT_ACTION", "")
_signal = signal.SIGSTOP if _action == "stop" else signal.SIGKILL


def point(name: str) -> None:
    if name not in _remaining:
        return
    _remaining[name] -= 1
    if _remaining[name] != 0:  # the N-th pass only: a process let go on is not stopped again
        return
    if _action == "enospc":
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    if _action == "hang":
        reached = os.environ.get("DVX_FAULT_REACHED")
        if reached:
            open(reached, "w").close()
        threading.Event().wait()
    # To this thread: a signal to the process goes to its main thread first, and a worker
    # thread that reached the point would go on past it until that one stops.
    signal.pthread_kill(threading.get_ident(), _signal)
    if _action == "stop":
        # Let go on: a signal sent while it was stopped may be taken by another thread, whose
        # handler the main thread runs at its next check; a moment here lets that check
        # come before the point is passed, as for a signal the main thread took itself.
        time.sleep(0.1)
