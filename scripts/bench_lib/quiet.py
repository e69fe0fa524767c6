"""Wait for a quiet machine before each timed command.

On a 2-core machine, background work left by the previous step (a server still busy with the
previous requests, the kernel writing back or discarding blocks, another tool's leftovers)
would take a core away from whatever is timed next. The bench therefore samples the machine's
CPU use and starts a timed command only once the machine is idle, or after a bounded wait.
"""

from __future__ import annotations

import time

from .proc import log

SAMPLE = 0.25          # seconds per CPU sample
BUSY_THRESHOLD = 0.10  # fraction of all cores' time: 10 % (a fifth of one core on two)
MAX_WAIT = 30.0


def _cpu_times() -> tuple[int, int]:
    """(busy, total) jiffies of all cores since boot, from /proc/stat."""
    with open("/proc/stat") as fh:
        fields = [int(v) for v in fh.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    total = sum(fields[:8])  # guest time is already counted in user
    return total - idle, total


def busy_fraction(interval: float = SAMPLE) -> float:
    busy0, total0 = _cpu_times()
    time.sleep(interval)
    busy1, total1 = _cpu_times()
    return (busy1 - busy0) / max(1, total1 - total0)


def wait_until_quiet(threshold: float = BUSY_THRESHOLD, max_wait: float = MAX_WAIT) -> float:
    """Return once the machine's CPU use over one sample is below `threshold` (or after
    `max_wait` seconds); returns the seconds waited beyond the first sample."""
    start = time.monotonic()
    busy = busy_fraction()
    while busy > threshold and time.monotonic() - start < max_wait:
        busy = busy_fraction()
    waited = time.monotonic() - start - SAMPLE
    if waited > 0.5:
        state = "quiet" if busy <= threshold else f"still {busy:.0%} busy"
        log(f"  [quiet] waited {waited:.1f}s for background work ({state})")
    return waited
