"""Named fault points at durability boundaries, for crash tests.

Set DVX_FAULT=NAME (optionally NAME:N to fire at the N-th pass) and the process kills itself
with SIGKILL when it reaches that point, exactly as a power cut or `kill -9` would stop it.
In normal runs a point costs one dictionary lookup.
"""

from __future__ import annotations

import os
import signal

_spec = os.environ.get("DVX_FAULT", "")
_target, _, _count = _spec.partition(":")
_remaining = {_target: int(_count or "1")} if _target else {}


def point(name: str) -> None:
    if name in _remaining:
        _remaining[name] -= 1
        if _remaining[name] <= 0:
            os.kill(os.getpid(), signal.SIGKILL)
