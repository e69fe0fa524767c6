"""map_in_threads: results in order, errors surface, and only a bounded number of batches are
ever in flight, whatever the number of items."""

import contextlib
import os
import signal
import sys
import threading
import time

import pytest

from dvx import threads
from dvx.threads import map_in_threads


def test_results_come_back_in_order_with_and_without_sizes():
    items = list(range(1000))
    assert list(map_in_threads(lambda x: x * 2, items)) == [x * 2 for x in items]
    assert list(map_in_threads(lambda x: x * 2, items, size_of=lambda _: 10)) == [
        x * 2 for x in items]


def test_small_items_travel_in_batches_and_large_ones_alone():
    batches = list(threads._batches(list(range(200)), size_of=lambda _: 1))
    assert [len(b) for b in batches] == [64, 64, 64, 8]
    big = threads.BATCH_BYTES
    assert [len(b) for b in threads._batches([1, 2, 3], size_of=lambda _: big)] == [1, 1, 1]


def test_an_error_is_raised_and_later_batches_are_not_started():
    started = []

    def work(x):
        started.append(x)
        if x == 0:
            raise ValueError("boom")
        return x

    with pytest.raises(ValueError, match="boom"):
        list(map_in_threads(work, list(range(10_000)), size_of=lambda _: 1))
    assert len(started) < 10_000


def test_in_flight_batches_stay_bounded():
    lock = threading.Lock()
    running = {"now": 0, "peak": 0}
    submitted = []
    real_batches = threads._batches

    def counting_batches(items, size_of):
        for batch in real_batches(items, size_of):
            submitted.append(batch)
            yield batch

    def work(x):
        with lock:
            running["now"] += 1
            running["peak"] = max(running["peak"], running["now"])
        with lock:
            running["now"] -= 1
        return x

    threads._batches = counting_batches
    try:
        results = map_in_threads(work, list(range(5_000)), threads=2, size_of=lambda _: 1)
        first = next(results)
        # One batch consumed: at most the window plus the one submitted to replace it.
        assert first == 0
        assert len(submitted) <= 2 * threads.BATCHES_IN_FLIGHT_PER_THREAD + 1
        assert list(results) == list(range(1, 5_000))
    finally:
        threads._batches = real_batches
    assert running["peak"] <= 2


@pytest.fixture
def ctrl_c_raises():
    """Ctrl-C as the `dvx` process has it: KeyboardInterrupt."""
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, before)


def _main_thread_in(name: str) -> bool:
    frame = sys._current_frames().get(threading.main_thread().ident)
    while frame is not None:
        if frame.f_code.co_name == name:
            return True
        frame = frame.f_back
    return False


@pytest.mark.parametrize("where", ["as the map waits", "in the caller"])
def test_a_second_ctrl_c_does_not_cut_short_the_wait_for_the_work_running(ctrl_c_raises,
                                                                         where):
    """`finish_on_stop` (files to give back): Ctrl-C, then another while the work already
    running is waited for (a big file hashed and linked): the first stop comes out, and only
    once that work is done, so the clean-up after it sees all the work did. The first
    Ctrl-C lands as the map waits for a result, or in the caller's loop, which then closes
    the map."""
    finished: list[int] = []
    seen: list[int] = []
    started, let_go = threading.Event(), threading.Event()

    def work(x):
        if x == 1:
            return x
        started.set()
        if where == "as the map waits":
            os.kill(os.getpid(), signal.SIGINT)
        while not _main_thread_in("_wait_for_running"):
            time.sleep(0.01)
        os.kill(os.getpid(), signal.SIGINT)
        let_go.wait(1)  # set at once by a stop that came out before the work was done
        finished.append(x)
        return x

    items = [0, 1] if where == "as the map waits" else [1, 0]
    stop = None
    try:
        with contextlib.closing(map_in_threads(work, items, threads=2,
                                               finish_on_stop=True)) as results:
            for _ in results:
                started.wait(30)  # not cancelled before it starts
                raise KeyboardInterrupt
    except KeyboardInterrupt as exc:
        stop = exc
        seen.extend(finished)
    finally:
        let_go.set()
    assert seen == [0]
    assert stop is not None and stop.__context__ is None  # the first, not a second on top


@pytest.mark.parametrize("finish_on_stop", [True, False])
def test_a_second_ctrl_c_ends_the_wait_for_work_that_never_returns(ctrl_c_raises, monkeypatch,
                                                                   finish_on_stop):
    """Work that never returns (a read of a hung mount): Ctrl-C, then another while it is
    waited for, ends the wait. Where the work is to be finished for a clean-up
    (`finish_on_stop`), it gets STOP_GRACE more and the stop names what it left running
    (LeftRunning, with the first stop's exit status); else the second stop comes out at
    once, the first under it."""
    monkeypatch.setattr(threads, "STOP_GRACE", 0.5)
    started, never = threading.Event(), threading.Event()

    def work(x):
        if x == 1:
            return x
        started.set()
        never.wait(60)
        return x

    def ctrl_c_twice():
        started.wait(30)
        os.kill(os.getpid(), signal.SIGINT)
        while not _main_thread_in("_wait_for_running"):
            time.sleep(0.01)
        os.kill(os.getpid(), signal.SIGINT)

    stopping = threading.Thread(target=ctrl_c_twice)
    stopping.start()
    try:
        with pytest.raises(KeyboardInterrupt) as stop:
            list(map_in_threads(work, [0, 1], threads=2, finish_on_stop=finish_on_stop))
    finally:
        never.set()
        stopping.join()
    if finish_on_stop:
        assert isinstance(stop.value, threads.LeftRunning)
        assert stop.value.items == [0] and stop.value.exit_code == 130
    else:
        assert not isinstance(stop.value, threads.LeftRunning)
        assert isinstance(stop.value.__context__, KeyboardInterrupt)  # the first, under it
