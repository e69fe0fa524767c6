"""The one worker pool of transfers: many objects in flight at once, each retried on transient
errors, sized and shaped by the store (`Blobs.jobs`, `.batch`, `.processes`).

    run_each(oids, work, ...)   `work(oid)` for every object: threads, objects handed over in
                                batches of `store.batch`, or worker processes for a large
                                batch on a store that suits them (a local directory)
    bounded(items, work, ...)   `work(item)` for each item of an iterator, at most `jobs` in
                                flight (packs: built one at a time, sent while the next is made)

The objects in flight are at most what the process's limit of open files (`ulimit -n`)
leaves room for (`within_open_files`): each holds a file or a connection open, and a -j past
that limit would make most of them fail, each for the same reason.

Nothing stops at the first failure: every failure comes back with its oid and reason, but for
a lost connection that the retries did not make again (LostConnection: an SSH server's, which
every later object would fail on too), which ends the transfer as that one error. Memory stays
bounded by the window of work in flight, however many objects there are. Ctrl-C stops it
within moments: no object starts after it, those in hand get SETTLE_SECONDS to end, and
Interrupted says how many objects were complete, each counted as it completed (not as its
batch was collected), and how many were still in flight, if any.
"""

from __future__ import annotations

import contextlib
import functools
import resource
import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

from dvx import faults
from dvx.errors import NOTHING_HALF_WRITTEN, Interrupted, LostConnection, interruption
from dvx.hashing import OnBytes
from dvx.logs import get_logger
from dvx.objects.blobs import Blobs
from dvx.objects.odb import ObjectStore
from dvx.processes import MIN_ITEMS, map_in_processes
from dvx.remote.retry import (
    check_answering,
    describe,
    is_transient,
    note_if_stalled,
    with_retries,
)
from dvx.remote.transfer_result import Settings, TransferResult
from dvx.threads import result_of

log = get_logger(__name__)

T = TypeVar("T")
R = TypeVar("R")

Work = Callable[[str, OnBytes], int]  # moves one object, telling its progress; its size
Outcome = tuple[str, int, Exception | None]  # oid, size moved, what failed

_PAST = {"Uploading": "uploaded", "Downloading": "downloaded", "Verifying": "verified"}
_DOES = {"Uploading": "uploads", "Downloading": "downloads", "Verifying": "verifies"}


def interrupted(desc: str, done: int, total: int | None = None,
                by: BaseException | None = None, unsure: int | None = 0,
                left: str | None = None) -> Interrupted:
    """What a transfer stopped by Ctrl-C or SIGTERM (`by`: what stopped it) says; `total`
    when the whole of it is known (a command of several transfers counts what all of them
    did, and the whole is not). `unsure`: the objects still in flight as it ended, which may
    have been completed too (None: some, how many is not known). Stopped once every object
    was moved, it says so, and what running the command again still does: `left`, what the
    command had to do after the transfer ("check out the data"; "": nothing; None: not
    known here, so the command "finishes what came after them"). Stopped before any object
    was moved or counted (`done` 0, `total` None), it says that nothing was."""
    exc = interruption(by or KeyboardInterrupt(), *_said(desc, done, total, unsure, left))
    exc.done, exc.total, exc.unsure, exc.moving, exc.left = done, total, unsure, desc, left
    return exc


def _said(desc: str, done: int, total: int | None, unsure: int | None, left: str | None
          ) -> tuple[str, str]:
    """The detail and the hint of `interrupted`."""
    past = _PAST.get(desc, "done")
    if total and done >= total and unsure == 0:
        again = f"it {_DOES.get(desc, 'moves')} none of them again"
        return (f": every object ({done} of {total}) was {past} before it stopped.",
                "Nothing was left half-written, and the command had nothing else left to "
                "do." if left == "" else "Nothing was left half-written; run the command "
                f"again to {left or 'finish what came after them'} ({again}).")
    if done == 0 and total is None and unsure == 0:  # stopped before its first object
        return f": nothing was {past} before it stopped.", NOTHING_HALF_WRITTEN
    of = f" of {total}" if total is not None else ""
    in_flight = ("" if unsure == 0 else ", and some in flight may have been too"
                 if unsure is None else f", and {unsure} more in flight may have been too")
    objects = "object was" if total is None and done == 1 else "objects were"
    return (f": {done}{of} {objects} {past} before it stopped{in_flight}; the others were "
            "not.", NOTHING_HALF_WRITTEN)


def also_left(exc: Interrupted, what: str) -> Interrupted:
    """`exc`, but where it stopped a transfer once every object was moved, with `what` (as
    `interrupted`'s `left`) also left for running the command again to do, after what it
    named already; any other stop as it is."""
    if not exc.every_object_moved:
        return exc
    left = what if not exc.left else f"{exc.left} and {what}"
    return interrupted(exc.moving, exc.done, exc.total, exc, exc.unsure, left)


def ends_command(exc: Interrupted, then: str = "") -> Interrupted:
    """`exc`, as the command it stopped says it: `then`, what the command does after its
    transfers (as `interrupted`'s `left`; "": nothing), added to what they left undone; a
    transfer that knew of nothing left after it, in a command with nothing after it, left
    nothing to do. Any stop but one after every object was moved, as it is."""
    if then:
        return also_left(exc, then)
    if exc.every_object_moved and exc.left is None:
        return interrupted(exc.moving, exc.done, exc.total, exc, exc.unsure, "")
    return exc


# An object in flight holds a few files open (its file in the cache, the connection it goes
# over, a temporary): a quarter of the process's limit is theirs, the rest the command's own.
OPEN_FILES_PER_OBJECT = 4


def within_open_files(jobs: int, asked: bool) -> int:
    """`jobs` objects in flight, or as many as fit the process's limit of open files (the
    soft RLIMIT_NOFILE, read once here for the transfers of a remote), if fewer. Lowering a
    count the user `asked` for (-j, or the remote's `jobs`) is said once a command; lowering
    what suits the store is not."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or jobs * OPEN_FILES_PER_OBJECT <= soft:
        return jobs
    fitting = max(1, soft // OPEN_FILES_PER_OBJECT)
    if asked:
        _say_lowered(jobs, fitting, soft)
    return fitting


@functools.cache  # once a command, however many remotes and transfers it has
def _say_lowered(jobs: int, fitting: int, limit: int) -> None:
    log.warning("Moving at most %d objects at once, not the %d asked for (-j, or the remote's "
                "`jobs`): each holds files open, and this process may have %d open (`ulimit "
                "-n`). Raise that limit (`ulimit -n %d`) before the command to have more in "
                "flight.", fitting, jobs, limit, jobs * OPEN_FILES_PER_OBJECT)


def redacted(text: str, store: ObjectStore) -> str:
    for secret in store.secrets:
        if len(secret) >= 4:  # shorter ones would blank out ordinary words
            text = text.replace(secret, "***")
    return text


def bounded(items: Iterable[T], work: Callable[[T], R], jobs: int,
            done: Callable[[T, R | BaseException], None], window_size: int = 0) -> None:
    """`work(item)` for each item, `jobs` at a time, each outcome (a result, or the exception)
    handed to `done` in the order the items came; at most `window_size` (default `jobs`)
    items taken from `items` and not yet done. Ctrl-C stops it at once. A lost connection
    is raised once the items in flight are over: the items not started would each fail on
    it, and be reported each on its own (a folder or a pack apiece)."""
    jobs = max(1, jobs)
    window_size = max(jobs, window_size)
    pool = ThreadPoolExecutor(jobs)
    window: deque[tuple[T, Future[R]]] = deque()

    def settle(item: T, future: Future[R]) -> None:
        try:
            outcome: R | BaseException = result_of(future)
        except LostConnection:
            raise
        except Exception as exc:  # every other failure is reported, none aborts the rest
            outcome = exc
        done(item, outcome)

    try:
        for item in items:
            window.append((item, pool.submit(work, item)))
            if len(window) >= window_size:
                settle(*window.popleft())
        while window:
            settle(*window.popleft())
    except KeyboardInterrupt:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    except LostConnection:
        pool.shutdown(wait=True, cancel_futures=True)  # no thread left writing to the cache
        raise
    pool.shutdown(wait=True)


SETTLE_SECONDS = 2.0  # at most, for the objects in hand to end once Ctrl-C stopped a transfer


class _Tally:
    """The objects of a transfer complete at their destination, each counted as it is (its
    batch is collected only once all of it is done, which an interrupted transfer may never
    do), and those in hand: what an interrupted transfer says it did. Once `stopping` is set
    no object starts (`begin`)."""

    def __init__(self, stopping: threading.Event) -> None:
        self.stopping = stopping
        self._complete = 0
        self._in_hand = 0
        self._changed = threading.Condition()

    def begin(self, count: int) -> bool:
        """Take `count` objects in hand; False, and none taken, once stopping."""
        with self._changed:
            if self.stopping.is_set():
                return False
            self._in_hand += count
            return True

    def end(self, count: int, complete: int) -> None:
        """`count` objects in hand are over, `complete` of them at their destination."""
        with self._changed:
            self._in_hand -= count
            self._complete += complete
            self._changed.notify_all()

    def stop(self) -> tuple[int, int]:
        """Stop the transfer, and give the objects in hand SETTLE_SECONDS to end (one blocked
        for good, on a hung mount or a server that stopped answering, must not keep a stopped
        command alive; another Ctrl-C ends the wait): the objects complete, and those still
        in hand."""
        with self._changed:
            self.stopping.set()
        with contextlib.suppress(KeyboardInterrupt), self._changed:  # Terminated, HungUp too
            self._changed.wait_for(lambda: not self._in_hand, SETTLE_SECONDS)
        with self._changed:
            return self._complete, self._in_hand


class _Stall:
    """Notices a remote that stopped answering: once one object has failed for want of an
    answer (after its retries), the objects not yet started fail at once instead of each
    waiting out the timeout again, and so do the later steps of the command (the store
    remembers it: retry.check_answering)."""

    def __init__(self, blobs: Blobs) -> None:
        self.blobs = blobs

    def check(self) -> None:
        check_answering(self.blobs)

    def note(self, exc: BaseException) -> None:
        note_if_stalled(self.blobs, exc)


class _Meter:
    """The bytes of one object, told to the progress bar as they move (so a single large
    object shows progress), and taken back when an attempt fails and starts over."""

    def __init__(self, advance: Callable[[int], None], in_bytes: bool) -> None:
        self.advance, self.in_bytes, self.told = advance, in_bytes, 0

    def __call__(self, n: int) -> None:
        if self.in_bytes:
            self.told += n
            self.advance(n)

    def restart(self) -> None:
        if self.told:
            self.advance(-self.told)
            self.told = 0

    def finish(self, size: int) -> None:
        self.advance(size - self.told if self.in_bytes else 1)


def _ignore(_: int) -> None:
    pass


def in_processes(store: ObjectStore, oids: Sequence[str]) -> bool:
    """Whether `run_each(..., file_work=True)` runs these objects in worker processes (which
    report objects, not bytes)."""
    return store.blobs.processes and len(oids) >= MIN_ITEMS


@dataclass(frozen=True)
class FirstTries:
    """The first attempt at a batch of objects at once, for stores that send a batch's
    requests together (`Blobs.concurrent_batch`): `run(batch)` gives each object of the batch
    it tried the size moved or what failed; `suits(oid)`: whether an object goes in a batch
    (a small one: a batch's bytes are all in memory)."""
    run: Callable[[list[str]], Mapping[str, int | Exception]]
    suits: Callable[[str], bool]


def run_each(oids: list[str], work: Work, settings: Settings, desc: str,
             total_bytes: int | None, store: ObjectStore, file_work: bool = False,
             first_tries: FirstTries | None = None) -> TransferResult:
    """`work(oid)` for every oid, `settings.jobs` at a time, each retried on transient errors.
    `file_work`: `work` changes only files (no state in this process), so it may run in
    worker processes where the store suits them. `first_tries(batch)`: the first attempt at
    some objects of a batch at once (the size moved, or what failed), for stores that send a
    batch's requests together (`Blobs.concurrent_batch`); `work` retries what failed."""
    result = TransferResult()
    if not oids:
        return result
    with store.blobs.session():
        if file_work and in_processes(store, oids):
            return _run_in_processes(oids, work, settings, desc, store)
        return _run_in_threads(oids, work, settings, desc, total_bytes, store, first_tries)


def _run_in_threads(oids: list[str], work: Work, settings: Settings, desc: str,
                    total_bytes: int | None, store: ObjectStore,
                    first_tries: FirstTries | None) -> TransferResult:
    result = TransferResult()
    stall = _Stall(store.blobs)
    stopping = threading.Event()
    tally = _Tally(stopping)
    with settings.progress.task(desc, total_bytes or len(oids),
                                "B" if total_bytes else "object") as advance:

        def attempt(oid: str, tried: Mapping[str, int | Exception]) -> int:
            stall.check()
            meter = _Meter(advance, bool(total_bytes))

            def once() -> int:
                meter.restart()
                return work(oid, meter)

            first = tried.get(oid)
            if first is None:
                size = with_retries(once, settings.retries, f"object {oid}")
            elif isinstance(first, Exception):
                if not is_transient(first) or settings.retries <= 1:
                    raise first
                size = with_retries(once, settings.retries - 1, f"object {oid}")
            else:
                size = first
            faults.point("transfer.after_object")
            meter.finish(size)
            return size

        def attempt_each(batch: list[str], together: bool) -> list[Outcome]:
            outcomes: list[Outcome] = []
            tried: Mapping[str, int | Exception] = {}
            if together and first_tries is not None and tally.begin(len(batch)):
                try:
                    stall.check()
                    tried = first_tries.run(batch)
                except Exception:  # each object is tried on its own below
                    tried = {}
                finally:
                    tally.end(len(batch), sum(not isinstance(outcome, Exception)
                                              for outcome in tried.values()))
            for oid in batch:
                if not tally.begin(1):  # stopping
                    break
                complete = 0
                try:
                    outcomes.append((oid, attempt(oid, tried), None))
                    # One that the first try of its batch moved was counted with the batch.
                    complete = int(not isinstance(tried.get(oid), int))
                except LostConnection:  # after its retries: the other objects would fail too
                    stopping.set()
                    raise
                except Exception as exc:  # every other failure is reported
                    stall.note(exc)
                    outcomes.append((oid, 0, exc))
                finally:
                    tally.end(1, complete)
            return outcomes

        def collect(_: list[str], outcomes: list[Outcome] | BaseException) -> None:
            assert not isinstance(outcomes, BaseException)  # caught, or raised by `bounded`
            _collect(outcomes, result, store)

        # `jobs` objects in flight: a thread each (several objects per task on a local disk),
        # or, for the objects a store sends in batches of requests, a batch per thread (one
        # handover between threads per batch).
        groups = [(oids, store.blobs.batch, settings.jobs, False)]
        together = store.blobs.concurrent_batch
        if first_tries is not None and together:
            batched = [oid for oid in oids if first_tries.suits(oid)]
            alone = [oid for oid in oids if not first_tries.suits(oid)]
            groups = [(batched, together, -(-settings.jobs // together), True),
                      (alone, 1, settings.jobs, False)]
        try:
            for group, size, threads, in_batches in groups:
                batches = (group[start:start + size] for start in range(0, len(group), size))
                # Four batches per thread in the window: no thread waits while a slow one is
                # collected.
                bounded(batches, functools.partial(attempt_each, together=in_batches),
                        max(1, threads), collect, 4 * threads)
        except KeyboardInterrupt as exc:  # the threads stop after the object in hand
            complete, in_hand = tally.stop()
            raise interrupted(desc, complete, len(oids), exc, in_hand) from None
    return result


def _run_in_processes(oids: list[str], work: Work, settings: Settings, desc: str,
                      store: ObjectStore) -> TransferResult:
    result = TransferResult()
    with settings.progress.task(desc, len(oids), "object") as advance:
        def attempt_one(oid: str) -> int | Exception:
            """The size moved, or what failed: a small answer per object, since a million
            of them wait in a list for the parent."""
            try:
                size = with_retries(lambda: work(oid, _ignore), settings.retries,
                                    f"object {oid}")
            except Exception as exc:  # every failure is reported, none aborts the rest
                return exc
            faults.point("transfer.after_object")
            return size

        done = [0]

        def counted(n: int) -> None:
            done[0] += n
            advance(n)

        try:
            outcomes = map_in_processes(attempt_one, oids, counted)
            for oid, outcome in zip(oids, outcomes, strict=True):
                if isinstance(outcome, Exception):
                    _collect([(oid, 0, outcome)], result, store)
                else:
                    result.bytes += outcome
                    result.transferred += 1
        except KeyboardInterrupt as exc:  # the workers were killed: the objects they had
            # done of the batches they had not reported yet are not counted
            raise interrupted(desc, done[0], len(oids), exc, unsure=None) from None
    return result


def _collect(outcomes: list[Outcome], result: TransferResult, store: ObjectStore) -> None:
    for oid, size, exc in outcomes:
        if exc is None:
            result.bytes += size
            result.transferred += 1
        else:
            result.failed[oid] = redacted(describe(exc), store)
            log.debug("transfer of %s failed", oid, exc_info=exc)
