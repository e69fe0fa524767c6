"""The transfer engine: copy objects between the local cache and another ObjectStore.

    plan:  which objects the destination lacks (batched: a listing, or concurrent checks)
    run:   many objects in flight at once (-j), each retried on transient errors
    check: every download is hashed while it is written to a temporary file and enters the
           cache only if it matches its oid; the rest of the batch carries on

Nothing stops at the first failure: every failure comes back with its oid and reason.
Directory manifests are uploaded by the caller only after all of their files, so a remote
never holds a manifest whose files are missing. Memory stays bounded by the number of jobs.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping
from collections.abc import Set as AbstractSet
from concurrent.futures import Future, ThreadPoolExecutor

from dvx import faults
from dvx.errors import CorruptObjectError, Interrupted, MissingObjectError, RemoteError
from dvx.fsutil import read_small_file
from dvx.hashing import OnBytes, hash_bytes
from dvx.logs import get_logger
from dvx.objects.cache import LocalCache
from dvx.objects.odb import ObjectStore
from dvx.processes import MIN_ITEMS, map_in_processes
from dvx.remote.retry import describe, is_timeout, with_retries, with_retries_async
from dvx.remote.store import RemoteStore
from dvx.remote.transfer_result import Settings, TransferResult

log = get_logger(__name__)

SMALL_OBJECT = 4 << 20  # fetched in one request and hashed in memory; larger ones stream
STREAM_BLOCK = 8 << 20
LISTING_THRESHOLD = 64  # more candidates than this: list the remote instead of asking each


def _redacted(text: str, store: ObjectStore) -> str:
    for secret in store.secrets:
        if len(secret) >= 4:  # shorter ones would blank out ordinary words
            text = text.replace(secret, "***")
    return text


LOCAL_BATCH = 32  # objects per task when the store is a local directory


def _in_workers(store: ObjectStore, oids: list[str]) -> bool:
    # Copies between two local directories are mostly system calls, which only worker
    # processes spread over the cores (threads hand the GIL over at every call).
    return store.is_local and len(oids) >= MIN_ITEMS


_PAST = {"Uploading": "uploaded", "Downloading": "downloaded", "Verifying": "verified"}


def _interrupted(desc: str, done: int, total: int) -> Interrupted:
    return Interrupted(f"Interrupted: {done} of {total} objects were {_PAST.get(desc, 'done')} "
                       "before the interruption; the others were not.",
                       "Nothing was left half-written; run the command again to finish.")


class _Stall:
    """Notices a remote that stopped answering: once one object has failed for want of an
    answer (after its retries), the objects not yet started fail at once instead of each
    waiting out the timeout again."""

    def __init__(self) -> None:
        self.reason: str | None = None

    def check(self) -> None:
        if self.reason is not None:
            raise RemoteError(f"not attempted: {self.reason}")

    def note(self, exc: BaseException) -> None:
        if self.reason is None and is_timeout(exc):
            self.reason = f"the remote stopped answering ({describe(exc)})"


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


Work = Callable[[str, OnBytes], int]  # moves one object, telling its progress; its size
AsyncWork = Callable[[str, OnBytes], Awaitable[int]]


def _run(oids: list[str], work: Work, settings: Settings, desc: str,
         total_bytes: int | None, store: ObjectStore, file_work: bool = False
         ) -> TransferResult:
    """`work(oid)` for every oid, `settings.jobs` at a time. `file_work`: `work` changes only
    files (no state in this process), so it may run in worker processes. Ctrl-C stops it at
    once, raising Interrupted with what was complete."""
    result = TransferResult()
    if not oids:
        return result
    if file_work and _in_workers(store, oids):
        with settings.progress.task(desc, len(oids), "object") as advance:
            def attempt_one(oid: str) -> int | Exception:
                """The size moved, or what failed: a small answer per object, since a
                million of them wait in a list for the parent."""
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
            except KeyboardInterrupt:
                raise _interrupted(desc, done[0], len(oids)) from None
        return result
    unit = "B" if total_bytes else "object"
    stall = _Stall()
    stopping = threading.Event()
    with settings.progress.task(desc, total_bytes or len(oids), unit) as advance:
        pool = ThreadPoolExecutor(max(1, settings.jobs))

        def attempt(oid: str) -> int:
            stall.check()
            meter = _Meter(advance, bool(total_bytes))

            def once() -> int:
                meter.restart()
                return work(oid, meter)

            size = with_retries(once, settings.retries, f"object {oid}")
            faults.point("transfer.after_object")
            meter.finish(size)
            return size

        def attempt_each(batch: list[str]) -> list[tuple[str, int, Exception | None]]:
            outcomes: list[tuple[str, int, Exception | None]] = []
            for oid in batch:
                if stopping.is_set():
                    break
                try:
                    outcomes.append((oid, attempt(oid), None))
                except Exception as exc:  # every failure is reported, none aborts the batch
                    stall.note(exc)
                    outcomes.append((oid, 0, exc))
            return outcomes

        # A bounded window of submitted work keeps memory flat however many objects there are.
        # Objects on a local disk take a few system calls each: they go in batches, so that
        # handing work to a thread does not cost more than the work.
        size = LOCAL_BATCH if store.is_local else 1
        window: deque[Future[list[tuple[str, int, Exception | None]]]] = deque()
        try:
            for start in range(0, len(oids), size):
                window.append(pool.submit(attempt_each, oids[start:start + size]))
                if len(window) >= settings.jobs * 4:
                    _collect(window.popleft().result(), result, store)
            while window:
                _collect(window.popleft().result(), result, store)
        except KeyboardInterrupt:
            stopping.set()  # the threads stop after the object in hand; nobody waits for them
            pool.shutdown(wait=False, cancel_futures=True)
            raise _interrupted(desc, result.transferred, len(oids)) from None
        pool.shutdown(wait=True)
    return result


def _run_fast(oids: list[str], work: AsyncWork, fallback: Work, settings: Settings, desc: str,
              total_bytes: int | None, store: ObjectStore) -> TransferResult:
    """`_run` as coroutines on the I/O loop, for the lean S3 path (s3fast). If the store
    turns out not to suit that path, the objects not yet done go the usual way."""
    import asyncio  # only for the S3 path: a directory remote need not load it

    from dvx.remote import aio
    from dvx.remote.s3fast import Unsupported

    fast = store.fast
    assert fast is not None
    result = TransferResult()
    done: set[str] = set()
    unit = "B" if total_bytes else "object"
    stall = _Stall()

    async def main() -> None:
        await fast.start()
        try:
            async def one(oid: str) -> None:
                meter = _Meter(advance, bool(total_bytes))

                def once() -> Awaitable[int]:
                    meter.restart()
                    return work(oid, meter)

                try:
                    stall.check()
                    size = await with_retries_async(once, settings.retries, f"object {oid}")
                except Unsupported:
                    raise
                except Exception as exc:  # every failure is reported, none aborts
                    stall.note(exc)
                    result.failed[oid] = _redacted(describe(exc), store)
                    done.add(oid)
                    return
                faults.point("transfer.after_object")
                meter.finish(size)
                result.bytes += size
                result.transferred += 1
                done.add(oid)

            # `jobs` workers share one iterator: always `jobs` requests in flight (no batch
            # boundaries where the pipe drains), and memory stays flat however many objects.
            pending = iter(oids)

            async def worker() -> None:
                for oid in pending:
                    await one(oid)

            await asyncio.gather(*(worker() for _ in range(max(1, min(settings.jobs,
                                                                    len(oids))))))
        finally:
            await fast.close()

    with settings.progress.task(desc, total_bytes or len(oids), unit) as advance:
        try:
            aio.run(main)
        except Unsupported as exc:
            log.info("Using the general S3 client from now on: %s", exc)
            store.fast = None
        except KeyboardInterrupt:
            raise _interrupted(desc, result.transferred, len(oids)) from None
    rest = [oid for oid in oids if oid not in done]
    if rest:
        result.merge(_run(rest, fallback, settings, desc, None, store))
    return result


def _collect(outcomes: list[tuple[str, int, Exception | None]], result: TransferResult,
             store: ObjectStore) -> None:
    for oid, size, exc in outcomes:
        if exc is None:
            result.bytes += size
            result.transferred += 1
        else:
            result.failed[oid] = _redacted(describe(exc), store)
            log.debug("transfer of %s failed", oid, exc_info=exc)


def present_on(store: ObjectStore, oids: Iterable[str], settings: Settings) -> set[str]:
    """The subset of `oids` that `store` has."""
    wanted: AbstractSet[str] = oids if isinstance(oids, (set, frozenset)) else set(oids)
    return set(wanted - absent_from(store, wanted, settings))


def absent_from(store: ObjectStore, oids: Collection[str], settings: Settings) -> set[str]:
    """Those of `oids` (unique) that `store` lacks: one listing for many, concurrent checks
    for few. Only the absent are kept, usually few: a listing of millions is filtered as it
    comes, never held."""
    if not oids:
        return set()
    if isinstance(store, RemoteStore):  # what its indexes name is there: no request per object
        try:
            oids = with_retries(lambda: store.inventory.absent(oids), settings.retries,
                                "reading the pack indexes")
        except Exception as exc:
            raise unreachable(store, exc) from None
        if not oids:
            return set()
    if isinstance(store, LocalCache) or len(oids) <= LISTING_THRESHOLD or not store.can_list:
        wanted: AbstractSet[str] = oids if isinstance(oids, (set, frozenset)) else set(oids)
        if store.fast is not None:
            present = _present_fast(store, wanted, settings)
            if present is not None:
                return set(wanted - present)

        def exists(oid: str) -> bool:
            return with_retries(lambda: store.exists(oid), settings.retries, f"check {oid}")

        ordered = sorted(wanted)
        with ThreadPoolExecutor(max(1, min(settings.jobs, len(ordered)))) as pool:
            try:
                found = list(pool.map(exists, ordered))
            except Exception as exc:
                raise unreachable(store, exc) from None
            return {oid for oid, present in zip(ordered, found, strict=True) if not present}

    def listing() -> set[str]:
        absent = set(oids)
        for oid in store.list_oids():
            absent.discard(oid)
        return absent

    try:
        return with_retries(listing, settings.retries, "listing")
    except Exception as exc:
        raise unreachable(store, exc) from None


def _present_fast(store: ObjectStore, wanted: AbstractSet[str], settings: Settings
                  ) -> set[str] | None:
    """`present_on` by the lean S3 path, or None if the store needs the general client."""
    fast = store.fast
    by_path = {store.oid_path(oid): oid for oid in wanted}
    try:
        found = with_retries(lambda: fast.existing(list(by_path)), settings.retries, "checks")
    except Exception as exc:
        raise unreachable(store, exc) from None
    if found is None:
        store.fast = None  # the general client answers from now on
        return None
    return {by_path[path] for path in found}


CREDENTIAL_ERRORS = ("NoCredentialsError", "PartialCredentialsError", "ProfileNotFound")


def unreachable(store: ObjectStore, exc: Exception) -> RemoteError:
    """One error for a remote that could not be asked anything, naming it and the way out."""
    from dvx.remote.fs import network_failure

    shown = f"remote '{store.name}' ({store.url})" if store.name else f"remote at '{store.url}'"
    if any(cls.__name__ in CREDENTIAL_ERRORS for cls in type(exc).__mro__):
        name = store.name or "NAME"
        return RemoteError(
            f"No credentials for the {shown}: {_redacted(describe(exc), store)}.",
            f"Give them with `dvx remote modify --local {name} access_key_id ...` and "
            f"`... secret_access_key ...`, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in "
            f"the environment, or an AWS profile (`dvx remote modify {name} profile NAME`).")
    if isinstance(exc, PermissionError):
        return RemoteError(f"The {shown} refused access: {_redacted(describe(exc), store)}.",
                           "Check that the credentials may read and write there.")
    reason = network_failure(exc, store.url) if isinstance(exc, OSError) and not isinstance(
        exc, TimeoutError) else describe(exc)
    return RemoteError(f"Could not find out what the {shown} holds: "
                       f"{_redacted(reason, store)}.",
                       "Check the URL, the credentials and the network, then try again.")


def upload(cache: LocalCache, remote: ObjectStore, oids: Iterable[str], settings: Settings,
           verify_local: bool = False, sizes: Mapping[str, int] | None = None
           ) -> TransferResult:
    """Upload what the remote lacks of `oids`: small objects in packs where the remote takes
    them, the rest one by one. `sizes` (from pointers and manifests) saves a stat each."""
    unique = oids if isinstance(oids, (set, frozenset, dict)) else set(oids)
    todo = sorted(absent_from(remote, unique, settings))
    if isinstance(remote, RemoteStore) and remote.packs_enabled() and todo:
        from dvx.remote import packed

        def size_of(oid: str) -> int:
            known = sizes.get(oid) if sizes is not None else None
            return known if known else os.path.getsize(cache.oid_path(oid))

        small: list[str] = []
        large: list[tuple[str, int]] = []
        for oid in todo:  # one size each (a stat, where no pointer or manifest gave it)
            size = size_of(oid)
            if size < remote.pack_threshold:
                small.append(oid)
            else:
                large.append((oid, size))
        result = _upload_loose(cache, remote, [oid for oid, _ in large], settings, verify_local)
        failed = result.failed
        result.merge(packed.upload(cache, remote, small, size_of, settings, verify_local,
                                   [(oid, size) for oid, size in large if oid not in failed]))
        result.already_there = len(unique) - len(todo)
        return result
    result = _upload_loose(cache, remote, todo, settings, verify_local)
    result.already_there = len(unique) - len(todo)
    return result


def _upload_loose(cache: LocalCache, remote: ObjectStore, todo: list[str], settings: Settings,
                  verify_local: bool) -> TransferResult:

    def put(oid: str, on_bytes: OnBytes) -> int:
        path = cache.oid_path(oid)
        if verify_local and not cache.verify(oid):
            raise CorruptObjectError(f"the local copy of {oid} is corrupt too; not uploaded")
        remote.put_file(path, oid, on_bytes)
        return os.path.getsize(path)

    # Progress in bytes, except in worker processes, which report objects.
    sizes = None if _in_workers(remote, todo) else sum(
        os.path.getsize(cache.oid_path(oid)) for oid in todo)
    if remote.fast is not None:
        part_size = int(remote.put_options.get("chunksize", SMALL_OBJECT))
        single_put_limit = 2 * part_size

        async def put_fast(oid: str, on_bytes: OnBytes) -> int:
            path = cache.oid_path(oid)
            data = read_small_file(path, single_put_limit)
            assert remote.fast is not None
            if data is None:  # a multipart upload
                if verify_local and not cache.verify(oid):
                    raise CorruptObjectError(f"the local copy of {oid} is corrupt too; "
                                             "not uploaded")
                await remote.fast.put_file(remote.oid_path(oid), path, part_size, on_bytes)
                return os.path.getsize(path)
            if verify_local and hash_bytes(data, cache.algo) != oid:
                raise CorruptObjectError(f"the local copy of {oid} is corrupt too; not uploaded")
            await remote.fast.put(remote.oid_path(oid), data)
            return len(data)

        return _run_fast(todo, put_fast, put, settings, "Uploading", sizes, remote)
    return _run(todo, put, settings, "Uploading", sizes, remote, file_work=True)


def download(remote: ObjectStore, cache: LocalCache, oids: Iterable[str], settings: Settings,
             sizes: dict[str, int] | None = None) -> TransferResult:
    """Fetch what the cache lacks. `sizes` (from pointers and manifests) lets small objects
    come in one request, and lets a truncated object be named as such."""
    known = sizes or {}
    unique = oids if isinstance(oids, (set, frozenset, dict)) else set(oids)
    todo = sorted(cache.missing(unique))
    already_there = len(unique) - len(todo)
    result = TransferResult()
    if isinstance(remote, RemoteStore) and todo:
        from dvx.remote import packed

        rest = set(todo)
        result = packed.download(remote, cache, rest, settings)
        if len(rest) < len(todo):
            todo = [oid for oid in todo if oid in rest]
    result.merge(_download_loose(remote, cache, todo, settings, known))
    result.already_there = already_there
    return result


def _download_loose(remote: ObjectStore, cache: LocalCache, todo: list[str], settings: Settings,
                    known: Mapping[str, int]) -> TransferResult:
    # Objects no index names: read as files, without looking in the indexes again.
    read_bytes = remote.read_loose if isinstance(remote, RemoteStore) else remote.read_bytes
    open_object = remote.open_loose if isinstance(remote, RemoteStore) else remote.open

    def get(oid: str, on_bytes: OnBytes) -> int:
        expected = known.get(oid)
        try:
            if expected is not None and expected <= SMALL_OBJECT:
                data = read_bytes(oid)
                _check_size(oid, expected, len(data))
                return cache.add_bytes_verified(data, oid)
            with open_object(oid, block_size=STREAM_BLOCK) as src:
                size = cache.add_stream(src, oid, on_bytes)
            if expected is not None:
                _check_size(oid, expected, size)
            return size
        except FileNotFoundError:
            raise MissingObjectError("not on the remote") from None

    total = sum(known.get(oid, 0) for oid in todo) or None
    if remote.fast is not None:

        async def get_fast(oid: str, on_bytes: OnBytes) -> int:
            expected = known.get(oid)
            assert remote.fast is not None
            try:
                if expected is not None and expected <= SMALL_OBJECT:
                    data = await remote.fast.get(remote.oid_path(oid))
                    _check_size(oid, expected, len(data))
                    return cache.add_bytes_verified(data, oid)
                with cache.verified_writer(oid, on_bytes) as writer:  # one streaming GET
                    await remote.fast.stream(remote.oid_path(oid), writer)
                    if expected is not None:
                        _check_size(oid, expected, writer.size)
                    return writer.commit()
            except FileNotFoundError:
                raise MissingObjectError("not on the remote") from None

        return _run_fast(todo, get_fast, get, settings, "Downloading", total, remote)
    return _run(todo, get, settings, "Downloading", total, remote, file_work=True)


def _check_size(oid: str, expected: int, actual: int) -> None:
    if actual != expected:
        raise CorruptObjectError(
            f"Object {oid} is {'truncated' if actual < expected else 'corrupt'}: "
            f"{actual} bytes where {expected} were expected.")


def verify_on(remote: ObjectStore, oids: Iterable[str], settings: Settings,
              sizes: dict[str, int] | None = None, fast: bool = False) -> dict[str, str]:
    """Check objects on the remote: download and hash each (or, `fast`, compare sizes).
    Returns {oid: problem} for those that are corrupt; nothing is stored locally."""
    from dvx.hashing import hash_stream

    known = sizes or {}
    problems: dict[str, str] = {}

    def judge(oid: str, actual_oid: str, size: int) -> int:
        if actual_oid != oid:
            problems[oid] = f"its {size} bytes hash to {actual_oid}"
        elif oid in known and size != known[oid]:
            problems[oid] = f"size {size} where {known[oid]} was expected"
        return size

    def check(oid: str, on_bytes: OnBytes) -> int:
        if fast:
            expected = known.get(oid)
            actual = remote.size(oid)
            if expected is not None and actual != expected:
                problems[oid] = f"size {actual} where {expected} was expected"
            return 1
        opened = remote.open_loose if isinstance(remote, RemoteStore) else remote.open
        with opened(oid, block_size=STREAM_BLOCK) as src:
            actual_oid, size = hash_stream(src, remote.algo, on_bytes)
        return judge(oid, actual_oid, size)

    todo = sorted(set(oids))
    if isinstance(remote, RemoteStore) and todo:
        from dvx.remote import packed

        # One pass over the indexes: where the packed ones are, and the sizes asked below.
        packed_oids = remote.in_packs(todo)
        if packed_oids:
            in_packs = packed.verify(remote, settings, fast, only=packed_oids)
            problems.update(in_packs.corrupt)
            todo = [oid for oid in todo if oid not in in_packs.checked]
    if remote.fast is not None and not fast:
        async def check_fast(oid: str, on_bytes: OnBytes) -> int:
            assert remote.fast is not None
            sink = _HashingSink(remote.algo)  # one streaming GET, hashed as it arrives
            await remote.fast.stream(remote.oid_path(oid), sink)
            return judge(oid, sink.hasher.hexdigest(), sink.size)

        result = _run_fast(todo, check_fast, check, settings, "Verifying", None, remote)
    else:
        result = _run(todo, check, settings, "Verifying", None, remote)
    for oid, reason in result.failed.items():
        problems.setdefault(oid, f"could not be read: {reason}")
    return problems


class _HashingSink:
    def __init__(self, algo: str) -> None:
        from dvx.hashing import get_algorithm

        self.hasher = get_algorithm(algo).new()
        self.size = 0

    def write(self, chunk: bytes) -> None:
        self.hasher.update(chunk)
        self.size += len(chunk)
