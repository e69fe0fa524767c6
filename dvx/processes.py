"""Per-file work on every core, in forked worker processes.

Threads cannot spread work made of many small system calls over the cores: for 1 KiB files
(open, read, create, write, link) each call hands the GIL to the other thread, and the
handover costs more than the call. Measured on 2 cores, adding 100,000 files of 1 KiB: 10.0 s
on one thread, 10.6 s on two, 4.0 s for the same loop split between two processes. So large
batches of small files go to forked workers. The items are cut into chunks of consecutive
items (the files of one directory stay together, so workers rarely wait for the same directory
lock); each worker takes the next chunk from a shared queue (a pipe filled before the fork),
runs `fn` on it and sends its results back through its own pipe, until the queue is empty. So a
worker that got cheaper files takes more chunks, and all finish within about one chunk of each
other (with one fixed slice per worker, the second core sat idle for 10% of a 10,000-file add).
Nothing but the results is pickled. Fewer items, or a machine without fork, go to threads
instead (`map_in_threads`).

A worker changes nothing but files: state it builds in memory (caches, counters) dies with
it, so `fn` returns everything the caller must record. A worker killed or failing stops the
others (by SIGKILL: every operation is safe to kill at any point) and the call raises. Workers
die with their parent, however it dies: none goes on changing files once the next command may
hold the repository lock (which they do not hold, dvx/lock.py). Where the kernel cannot end
them with it (prctl(PR_SET_PDEATHSIG) is Linux's, and may be refused), they end before their
next chunk instead.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import selectors
import signal
import struct
import sys
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from dvx.errors import DvxError
from dvx.threads import map_in_threads

T = TypeVar("T")
R = TypeVar("R")

MIN_ITEMS = 2048  # below this, forking (a few ms) costs more than the second core saves
MAX_WORKERS = 8
CHUNKS_PER_WORKER = 32  # enough to even out the workers, few enough to cost nothing
MIN_CHUNK = 64  # items

_HEADER = struct.Struct("!cI")  # message kind, payload length
_RESULTS, _DONE, _ERROR = b"R", b"D", b"E"  # (chunk index, results); queue empty; exception
_INDEX = struct.Struct("!I")  # a chunk index in the queue


def worker_count() -> int:
    if not hasattr(os, "fork") or not sys.platform.startswith("linux"):
        return 1
    return max(1, min(MAX_WORKERS, len(os.sched_getaffinity(0))))


def map_in_processes(fn: Callable[[T], R], items: Sequence[T],
                     advance: Callable[[int], None] = lambda n: None,
                     size_of: Callable[[T], int] | None = None,
                     workers: int | None = None, min_items: int = MIN_ITEMS,
                     on_result: Callable[[T, R], None] = lambda item, result: None,
                     finish_on_stop: bool = False) -> list[R]:
    """`[fn(item) for item in items]`, on `workers` forked processes when there are at least
    `min_items` items, else on threads (`map_in_threads`, with `size_of`); `advance(n)`
    reports progress in this process. `on_result(item, result)` is called in this process
    (on a thread: that thread) as each result comes back, before the call returns or
    raises: a call stopped midway (Ctrl-C, a worker failing) has lost the results of the
    items it was not called for, among them those a killed worker was working on.
    `finish_on_stop`: as `map_in_threads` takes it, on threads."""
    workers = worker_count() if workers is None else workers
    workers = min(workers, len(items))
    if workers <= 1 or len(items) < min_items:

        def run_one(item: T) -> R:
            result = fn(item)
            on_result(item, result)
            advance(1)
            return result

        # Closed here, not when collected: a stop raised while no thread result was awaited
        # must still wait for the running threads, whose `on_result` comes after it.
        with contextlib.closing(map_in_threads(run_one, items, size_of=size_of,
                                               finish_on_stop=finish_on_stop)) as results:
            return list(results)
    size = max(MIN_CHUNK, -(-len(items) // (workers * CHUNKS_PER_WORKER)))
    chunks = [items[start:start + size] for start in range(0, len(items), size)]
    return _Pool(fn, chunks, workers, advance, on_result).run()


class _Pool(Generic[T, R]):
    def __init__(self, fn: Callable[[T], R], chunks: list[Sequence[T]], workers: int,
                 advance: Callable[[int], None], on_result: Callable[[T, R], None]) -> None:
        self.fn, self.chunks, self.workers, self.advance = fn, chunks, workers, advance
        self.on_result = on_result
        self.pids: list[int] = []
        self.finished: list[bool] = [False] * workers
        self.results: list[list[R] | None] = [None] * len(chunks)
        self.error: BaseException | None = None

    def run(self) -> list[R]:
        selector = selectors.DefaultSelector()
        queue = self._fill_queue()
        die_with_parent = _death_signal_setter()
        parent = os.getpid()
        try:
            for index in range(self.workers):
                read_fd, write_fd = os.pipe()
                pid = os.fork()
                if pid == 0:  # the worker: never returns
                    os.close(read_fd)
                    dies_with_parent = die_with_parent(parent)
                    _work(self.fn, self.chunks, queue, write_fd,
                          None if dies_with_parent else parent)
                os.close(write_fd)
                self.pids.append(pid)
                selector.register(read_fd, selectors.EVENT_READ, (index, bytearray()))
            os.close(queue)
            queue = -1
            self._collect(selector)
        except BaseException:
            self._kill_all()
            raise
        finally:
            if queue >= 0:
                os.close(queue)
            for key in list(selector.get_map().values()):
                os.close(key.fd)
            selector.close()
            self._reap()
        if self.error is not None:
            raise self.error
        return [result for part in self.results for result in part or ()]

    def _fill_queue(self) -> int:
        """A pipe holding every chunk index, closed for writing: a worker reading it gets the
        next index (reads of 4 bytes from a pipe never interleave), then end-of-file."""
        read_fd, write_fd = os.pipe()
        try:
            data = b"".join(_INDEX.pack(i) for i in range(len(self.chunks)))
            if len(data) > 65536:  # a pipe's usual capacity; chunks are far fewer than that
                raise ValueError(f"{len(self.chunks)} chunks do not fit in a pipe")
            view = memoryview(data)
            while view:
                view = view[os.write(write_fd, view):]
        except BaseException:
            os.close(read_fd)
            raise
        finally:
            os.close(write_fd)
        return read_fd

    def _collect(self, selector: selectors.BaseSelector) -> None:
        while selector.get_map():
            for key, _ in selector.select():
                index, buffer = key.data
                chunk = os.read(key.fd, 1 << 20)
                if chunk:
                    buffer += chunk
                    self._take_messages(index, buffer)
                    continue
                selector.unregister(key.fd)
                os.close(key.fd)
                if not self.finished[index] and self.error is None:
                    self.error = self._death_of(index)
                if self.error is not None:
                    self._kill_all()

    def _take_messages(self, index: int, buffer: bytearray) -> None:
        while len(buffer) >= _HEADER.size:
            kind, length = _HEADER.unpack_from(buffer)
            if len(buffer) < _HEADER.size + length:
                return
            payload = pickle.loads(bytes(buffer[_HEADER.size:_HEADER.size + length]))
            del buffer[:_HEADER.size + length]
            if kind == _RESULTS:
                chunk_index, results = payload
                self.results[chunk_index] = results
                for item, result in zip(self.chunks[chunk_index], results, strict=True):
                    self.on_result(item, result)
                self.advance(len(results))
            elif kind == _DONE:
                self.finished[index] = True
            elif self.error is None:
                self.error = payload

    def _death_of(self, index: int) -> DvxError:
        _, status = os.waitpid(self.pids[index], 0)
        self.pids[index] = 0  # reaped
        how = (f"was killed by signal {os.WTERMSIG(status)}" if os.WIFSIGNALED(status)
               else f"exited with status {os.waitstatus_to_exitcode(status)}")
        return DvxError(f"A dvx worker process {how} before finishing its files.",
                        "Each file it wrote is whole; run the command again.")

    def _kill_all(self) -> None:
        for pid in self.pids:
            if pid:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)

    def _reap(self) -> None:
        for index, pid in enumerate(self.pids):
            if pid:
                os.waitpid(pid, 0)
                self.pids[index] = 0


def _death_signal_setter() -> Callable[[int], bool]:
    """What a worker calls first to be killed (SIGKILL) when its parent `pid` ends (Linux
    prctl(PR_SET_PDEATHSIG)), or ends at once if the parent already has. False where the
    signal cannot be set (another system, or prctl refused): the worker then looks for its
    parent before each chunk instead (`_work`). Found before the fork, so that each worker
    does not load it again."""
    if not sys.platform.startswith("linux"):
        return lambda pid: False
    import ctypes

    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return lambda pid: False
    set_death_signal = 1  # PR_SET_PDEATHSIG
    unused = ctypes.c_ulong(0)

    def die_with_parent(pid: int) -> bool:
        is_set = prctl(set_death_signal, ctypes.c_ulong(signal.SIGKILL), unused, unused,
                       unused) == 0
        if os.getppid() != pid:  # the parent died before the signal was set
            os._exit(1)
        return is_set

    return die_with_parent


def _work(fn: Callable[[T], R], chunks: list[Sequence[T]], queue: int, write_fd: int,
          parent: int | None = None) -> None:
    """The body of a worker process: take chunks from the queue until it is empty, run, report,
    and leave without running the parent's exit handlers or flushing its buffers (they belong
    to the parent). `parent`: the pid to end with, before the next chunk, where the kernel
    does not end the worker with it (`_death_signal_setter`)."""
    code = 0
    try:
        # Ctrl-C, and a closing terminal's SIGHUP, reach the whole process group: the parent
        # decides, and stops the workers.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)  # the parent's handler is not ours
        while raw := os.read(queue, _INDEX.size):
            if parent is not None and os.getppid() != parent:
                os._exit(1)  # the parent ended: the next command may hold the lock
            (chunk_index,) = _INDEX.unpack(raw)
            _send(write_fd, _RESULTS, (chunk_index, [fn(item) for item in chunks[chunk_index]]))
        _send(write_fd, _DONE, None)
    except BaseException as exc:  # everything goes back to the parent
        code = 1
        try:
            _send(write_fd, _ERROR, exc)
        except BaseException:  # unpicklable: send what it said instead
            _send(write_fd, _ERROR, DvxError(f"{type(exc).__name__}: {exc}"))
    finally:
        os._exit(code)


def _send(fd: int, kind: bytes, payload: object) -> None:
    data = pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL)
    view = memoryview(_HEADER.pack(kind, len(data)) + data)
    while view:
        view = view[os.write(fd, view):]
