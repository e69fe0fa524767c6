"""map_in_processes: real forked workers give results in order, report progress, send errors
back with their type and hint, and a worker that dies stops the call with a clear error and
leaves no process behind."""

import contextlib
import os
import signal
import subprocess
import sys
import time

import pytest

from dvx.errors import PathError
from dvx.processes import map_in_processes

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")


def test_results_come_back_in_order_and_progress_adds_up():
    progress = []
    items = list(range(5000))
    results = map_in_processes(lambda x: (x * 2, os.getpid()), items, progress.append,
                               workers=2, min_items=1)
    assert [r[0] for r in results] == [x * 2 for x in items]
    assert sum(progress) == len(items)
    assert os.getpid() not in {r[1] for r in results}  # the work ran in other processes
    assert len({r[1] for r in results}) <= 2


def test_workers_share_the_work_when_some_items_cost_more(tmp_path):
    """The first half of the items is slow: with one fixed half per worker, one worker would do
    all of it. Taking chunks from a shared queue, both do some."""
    seen = tmp_path / "seen"

    def work(x):
        if x < 2000:  # slow until both workers work on the first half, however late one starts
            with open(seen, "a") as f:
                f.write(f"{os.getpid()}\n")
            deadline = time.monotonic() + 60
            while len(set(seen.read_text().split())) < 2 and time.monotonic() < deadline:
                time.sleep(0.01)
        return os.getpid()

    pids = map_in_processes(work, list(range(4000)), workers=2, min_items=1)
    assert len(set(pids[:2000])) == 2


def test_few_items_stay_in_this_process():
    results = map_in_processes(lambda _: os.getpid(), [1, 2, 3], workers=2, min_items=10)
    assert results == [os.getpid()] * 3


def test_an_error_comes_back_with_its_type_and_hint():
    def work(x):
        if x == 3000:
            raise PathError("no such thing", "do something else")
        return x

    before = _children()
    with pytest.raises(PathError) as caught:
        map_in_processes(work, list(range(4000)), workers=2, min_items=1)
    assert caught.value.message == "no such thing" and caught.value.hint == "do something else"
    assert _children() == before  # no worker is left behind


def test_a_killed_worker_stops_the_call_and_no_worker_is_left_behind():
    def work(x):
        if x == 10:
            os.kill(os.getpid(), signal.SIGKILL)
        return x

    before = _children()
    with pytest.raises(Exception, match="killed by signal 9"):
        map_in_processes(work, list(range(4000)), workers=2, min_items=1)
    assert _children() == before  # no worker is left behind


def _children() -> set[int]:
    """This process's children (servers other tests started in it included), from /proc."""
    found: set[int] = set()
    for task in os.listdir("/proc/self/task"):
        with open(f"/proc/self/task/{task}/children") as f:
            found.update(int(pid) for pid in f.read().split())
    return found


def test_workers_never_repeat_a_temporary_name():
    from dvx.fsutil import temp_name_for

    names = map_in_processes(lambda _: temp_name_for("/d/obj"), list(range(3000)), workers=2,
                             min_items=1)
    names += [temp_name_for("/d/obj") for _ in range(10)]
    assert len(set(names)) == len(names)


# The end of a script whose two workers print their pids: its main process kills itself
# with SIGKILL once told (a line on its stdin) while they work.
DIE_ONCE_TOLD = """
def die_once_both_work():
    sys.stdin.readline()
    os.kill(os.getpid(), signal.SIGKILL)

threading.Thread(target=die_once_both_work, daemon=True).start()
"""

DIE_WHILE_WORKING = """
import os, signal, sys, threading, time
from dvx.processes import map_in_processes

def work(x):
    if x % 64 == 0:  # the first item of each chunk
        os.write(1, f"{os.getpid()}\\n".encode())  # one write: workers share stdout
        time.sleep(60)
    return x
""" + DIE_ONCE_TOLD + """
map_in_processes(work, list(range(128)), workers=2, min_items=1)
"""


def test_workers_die_with_their_parent_however_it_dies():
    """`kill -9` of a command leaves none of its workers changing files behind it."""
    _kill_the_parent_and_wait_for_its_workers([sys.executable, "-c", DIE_WHILE_WORKING],
                                               seconds=10)


def _kill_the_parent_and_wait_for_its_workers(command: list[str], seconds: float
                                              ) -> list[int]:
    """Run `command`, whose two workers print their pids and whose main process kills itself
    with SIGKILL once told (a line on its stdin); the workers' pids, once both have ended
    (within `seconds`, or the test fails)."""
    parent = subprocess.Popen(command, text=True, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE)
    assert parent.stdin is not None and parent.stdout is not None
    workers = [int(parent.stdout.readline()) for _ in range(2)]
    try:
        parent.stdin.write("\n")
        parent.stdin.flush()
        assert parent.wait(timeout=10) == -signal.SIGKILL
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and any(_running(pid) for pid in workers):
            time.sleep(0.05)
        assert not any(_running(pid) for pid in workers)
    finally:
        for pid in workers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    return workers


def _running(pid: int) -> bool:
    """Is `pid` a process that can still run (not gone, not a zombie awaiting its reaper)?"""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[0] not in ("Z", "X")
    except FileNotFoundError:
        return False


PRCTL_REFUSED = """
import ctypes, os, signal, sys, threading, time
from dvx.processes import map_in_processes

class Refusing:  # a system where prctl(PR_SET_PDEATHSIG) fails (EPERM)
    def __init__(self, *args, **kwargs):
        pass
    def prctl(self, *args):
        ctypes.set_errno(1)
        return -1

ctypes.CDLL = Refusing
starts = sys.argv[1]

def work(x):
    if x % 64 == 0:  # the first item of each chunk
        parent = os.getppid()  # before the test can have it killed
        with open(starts, "a") as f:
            f.write(f"{os.getpid()}\\n")
        os.write(1, f"{os.getpid()}\\n".encode())  # one write: workers share stdout
        while os.getppid() == parent:  # the chunk at hand lasts until the parent died
            time.sleep(0.05)
    return x
""" + DIE_ONCE_TOLD + """
map_in_processes(work, list(range(64 * 64)), workers=2, min_items=1)
"""


def test_workers_the_kernel_cannot_end_with_their_parent_start_no_chunk_after_it_died(
        tmp_path):
    """Where prctl(PR_SET_PDEATHSIG) is refused, a worker still starts no more work once its
    parent is gone: it finishes the chunk at hand and ends."""
    starts = tmp_path / "starts"
    workers = _kill_the_parent_and_wait_for_its_workers(
        [sys.executable, "-c", PRCTL_REFUSED, str(starts)], seconds=20)
    assert sorted(map(int, starts.read_text().split())) == sorted(workers)
