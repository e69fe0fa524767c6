"""The transfer engine: copy objects between the local cache and another ObjectStore.

    plan:  which objects the destination lacks (batched: a listing, or concurrent checks)
    run:   many objects in flight at once (-j), each retried on transient errors (workers.py)
    check: every download is hashed while it is written to a temporary file and enters the
           cache only if it matches its oid; the rest of the batch carries on

Nothing stops at the first failure: every failure comes back with its oid and reason.
Directory manifests are uploaded by the caller only after all of their files, so a remote
never holds a manifest whose files are missing. Memory stays bounded by the number of jobs.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Collection, Iterable, Mapping
from collections.abc import Set as AbstractSet
from concurrent.futures import ThreadPoolExecutor
from functools import partial

from dvx import faults
from dvx.errors import (
    CorruptObjectError,
    DvxError,
    Interrupted,
    MissingBucketError,
    MissingObjectError,
    RemoteError,
)
from dvx.fsutil import FileChangedError, FileVersion, read_small_file
from dvx.hashing import OnBytes, hash_bytes
from dvx.logs import get_logger
from dvx.objects.cache import (
    LocalCache,
    ObjectVersion,
    kept_message,
    unreadable_object,
)
from dvx.objects.layout import PACKS_DIR
from dvx.objects.odb import ObjectStore
from dvx.remote.retry import describe, is_timeout, with_retries
from dvx.remote.staging import (
    STAGED_OBJECT,
    StagedReads,
    in_rounds,
    staging_for,
    store_verified,
)
from dvx.remote.store import RemoteStore
from dvx.remote.transfer_result import (
    NOT_ON_REMOTE,
    Settings,
    TransferResult,
    pack_not_on_remote,
    set_aside_changed,
)
from dvx.remote.workers import FirstTries, in_processes, interrupted, redacted, run_each

log = get_logger(__name__)

SMALL_OBJECT = 4 << 20  # fetched in one request and hashed in memory; larger ones stream
BATCHED_OBJECT = 1 << 20  # sent in a batch of requests (a batch's bytes are all in memory)
LISTING_THRESHOLD = 64  # more candidates than this: list the remote instead of asking each


def present_on(store: ObjectStore, oids: Iterable[str], settings: Settings) -> set[str]:
    """The subset of `oids` that `store` has."""
    wanted: AbstractSet[str] = oids if isinstance(oids, (set, frozenset)) else set(oids)
    return set(wanted - absent_from(store, wanted, settings))


def confirmed_on(store: ObjectStore, oids: Iterable[str], settings: Settings) -> set[str]:
    """The subset of `oids` that `store` really holds, not only by its indexes' word (a copy
    deleted by hand stays named): a packed copy counts if its pack is there and reaches the
    copy's end (one request per pack, or a listing of the packs for many: of a pack cut
    short, the copies before the cut count), any other if its loose object exists. For gc,
    before it deletes the cache's copy of what it thinks held."""
    wanted = set(oids)
    if not isinstance(store, RemoteStore) or not wanted:
        return present_on(store, wanted, settings)
    try:  # the inventory retries each of its requests: no second layer of retries here
        packs = _packs_holding(store, wanted)
        sizes = _pack_sizes(store, {pack: size for pack, (size, _) in packs.items()}, settings)
    except Exception as exc:
        raise unreachable(store, exc) from None
    held: set[str] = set()
    for pack, (size, inside) in packs.items():
        if pack in sizes:
            ends = min(size, sizes[pack])
            held |= {oid for oid, end in inside if end <= ends}
    return held | (wanted - held - _absent_loose(store, wanted - held, settings))


def _packs_holding(store: RemoteStore, oids: AbstractSet[str]
                   ) -> dict[str, tuple[int, set[tuple[str, int]]]]:
    """pack -> (its size by its index, (oid, where it ends) of each of `oids` the indexes
    place in it)."""
    found: dict[str, tuple[int, set[tuple[str, int]]]] = {}
    for _, section in store.inventory.sections():
        if section.pack is not None:
            inside = {(oid, offset + length) for oid, offset, length in section.entries
                      if oid in oids}
            if inside:
                found.setdefault(section.pack, (section.size, set()))[1].update(inside)
    return found


def _pack_sizes(store: RemoteStore, expected: Mapping[str, int], settings: Settings
                ) -> dict[str, int]:
    """The size on the remote of each pack of `expected` that is there."""
    if not expected:
        return {}
    if len(expected) > LISTING_THRESHOLD and store.can_list:
        listed = store.list_packs()
        return {pack: listed[pack][0] for pack in expected if pack in listed}

    def size(pack: str) -> int | None:
        try:
            return store.retried.size(f"{PACKS_DIR}/{pack}")
        except FileNotFoundError:
            return None

    with ThreadPoolExecutor(min(settings.jobs, len(expected))) as pool:
        sizes = dict(zip(expected, pool.map(size, expected), strict=True))
    return {pack: n for pack, n in sizes.items() if n is not None}


def absent_from(store: ObjectStore, oids: Collection[str], settings: Settings) -> set[str]:
    """Those of `oids` (unique) that `store` lacks: one listing for many, concurrent checks
    for few. Only the absent are kept, usually few: a listing of millions is filtered as it
    comes, never held."""
    if not oids:
        return set()
    if isinstance(store, RemoteStore):  # what its indexes name is there: no request per object
        try:  # the inventory retries each of its requests: no second layer of retries here
            oids = store.inventory.absent(oids)
        except Exception as exc:
            raise unreachable(store, exc) from None
        if not oids:
            return set()
    return _absent_loose(store, oids, settings)


def _absent_loose(store: ObjectStore, oids: Collection[str], settings: Settings) -> set[str]:
    """Those of `oids` (unique) of which `store` has no loose object (a file of its own)."""
    if not oids:
        return set()
    if isinstance(store, LocalCache) or len(oids) <= LISTING_THRESHOLD or not store.can_list:
        by_name = {store.oid_name(oid): oid for oid in oids}
        try:
            found = with_retries(lambda: store.blobs.existing(by_name), settings.retries,
                                 "checks")
        except Exception as exc:
            raise unreachable(store, exc) from None
        return {oid for name, oid in by_name.items() if name not in found}

    def listing() -> set[str]:
        absent = set(oids)
        loose = store.list_loose() if isinstance(store, RemoteStore) else store.list_oids()
        for oid in loose:
            absent.discard(oid)
        return absent

    try:
        return with_retries(listing, settings.retries, "listing")
    except Exception as exc:
        raise unreachable(store, exc) from None


def unreachable(store: ObjectStore, exc: Exception, reading: str | None = None) -> RemoteError:
    """One error for a remote that could not be asked anything, naming it and the way out;
    `reading`: what was being read from it (an object, named with its source), whose stream
    may also have stopped half-way."""
    from dvx.remote.backends import access_refused, network_failure
    from dvx.remote.fs import is_credentials_error, no_credentials

    shown = f"remote '{store.name}' ({store.url})" if store.name else f"remote at '{store.url}'"
    if is_credentials_error(exc):
        return no_credentials(shown, store.name, redacted(describe(exc), store), store.url,
                              modify=store.modify)
    if isinstance(exc, MissingBucketError):
        return RemoteError(f"The {shown} names a {exc.kind} that does not exist "
                           f"('{exc.bucket}'){exc.where(exc.at)}.",
                           exc.way_out(exc.kind, store.modify, exc.at, exc.doubt))
    if isinstance(exc, RemoteError):  # says all already (the client could not be set up)
        return exc
    if isinstance(exc, PermissionError):
        return access_refused(store.blobs, exc, shown, redacted(describe(exc), store))
    reason = network_failure(exc, store.url, store.blobs.server) if isinstance(
        exc, OSError) and not isinstance(exc, TimeoutError) else describe(exc)
    if reading is not None:
        return RemoteError(f"Could not read {reading} from the {shown}: "
                           f"{redacted(reason, store)}.",
                           "Check the network and the server, then try again.")
    return RemoteError(f"Could not find out what the {shown} holds: "
                       f"{redacted(reason, store)}.",
                       "Check the URL, the credentials and the network, then try again.")


def upload(cache: LocalCache, remote: ObjectStore, oids: Iterable[str], settings: Settings,
           verify_local: bool = False, sizes: Mapping[str, int] | None = None
           ) -> TransferResult:
    """Upload what the remote lacks of `oids`: small objects in packs where the remote takes
    them, the rest one by one. An object whose size is not the one `sizes` (from pointers
    and manifests) records for it fails and is moved aside (`stored_versions`), and so does
    one written to while it is sent (`_upload_loose`)."""
    unique = oids if isinstance(oids, (set, frozenset, dict)) else set(oids)
    changed: dict[str, str] = {}
    recorded = sizes or {}
    packing = isinstance(remote, RemoteStore) and remote.packs_enabled()
    # --repair (verify_local) checks every object here, so a damaged one is moved aside
    packed_below = (remote.pack_threshold if isinstance(remote, RemoteStore) and packing
                    and not verify_local else 0)
    try:
        todo = sorted(absent_from(remote, unique, settings))
        versions = stored_versions(cache, todo, recorded, changed,
                                   hashed_when_sent_below=packed_below)
    except KeyboardInterrupt as exc:  # before any object went up: a count of none
        raise interrupted("Uploading", 0, by=exc) from None
    already_there = len(unique) - len(todo)
    if changed:
        todo = [oid for oid in todo if oid not in changed]

    def size_of(oid: str) -> int:
        version = versions.get(oid)
        # None: gone since it was looked for; its upload fails, and says so
        return version.size if version is not None else recorded[oid]

    if isinstance(remote, RemoteStore) and packing and todo:
        from dvx.remote import packed

        small: list[str] = []
        large: list[tuple[str, int]] = []
        for oid in todo:
            size = size_of(oid)
            if size < remote.pack_threshold:
                small.append(oid)
            else:
                large.append((oid, size))
        result = TransferResult()
        try:  # counted over both kinds, whichever was going when it stopped
            result.merge(_upload_loose(cache, remote, [oid for oid, _ in large], settings,
                                       verify_local, size_of, versions))
            # An index records what was stored, not what a pointer claims.
            indexed = [(oid, size) for oid, size in large if oid not in result.failed]
            result.merge(packed.upload(cache, remote, small, size_of, settings, verify_local,
                                       indexed))
        except (KeyboardInterrupt, Interrupted) as exc:  # changed ones were not uploaded
            # A stop between the loose objects and the packs' transfer (a look at the
            # remote's indexes) counts the loose ones uploaded, as a stop in either does.
            moved, unsure = (exc.done, exc.unsure) if isinstance(exc, Interrupted) else (0, 0)
            raise interrupted("Uploading", result.transferred + moved,
                              len(todo) + len(changed), exc, unsure) from None
    else:
        try:
            result = _upload_loose(cache, remote, todo, settings, verify_local, size_of,
                                   versions)
        except Interrupted as exc:  # those found changed were not uploaded: counted too
            if not changed:
                raise
            raise interrupted("Uploading", exc.done, (exc.total or 0) + len(changed), exc,
                              exc.unsure) from None
    result.failed.update(changed)
    result.already_there = already_there
    return result


READ_AHEAD = 65_536  # objects whose records are read at once (`stored_versions` and others)


def stored_versions(cache: LocalCache, oids: list[str], recorded: Mapping[str, int],
                    changed: dict[str, str], hashed_when_sent_below: int = 0
                    ) -> dict[str, FileVersion]:
    """The version (`ObjectVersion`) of each of `oids` as the cache holds it, which is what
    its upload sends: one stat each when the cache knows the object intact with that stat
    (`LocalCache.known_intact`), else it is hashed first. One changed since it was stored (a
    write in place through a symbolic or hard link to it, even one that set its mtime back
    or kept its size) no longer hashes to its oid: it is moved aside and named in `changed`
    with the reason, never uploaded under an oid its bytes no longer hash to. One gone since
    it was looked for (that `recorded` gives a size) has no version. An object smaller than
    `hashed_when_sent_below` is not checked here: the upload hashes it as it reads it into a
    pack (`packed.upload`), and sets it aside there if it changed."""
    versions: dict[str, FileVersion] = {}
    for start in range(0, len(oids), READ_AHEAD):
        stats: dict[str, os.stat_result] = {}
        for oid in oids[start:start + READ_AHEAD]:
            try:
                stats[oid] = os.stat(cache.oid_path(oid))
            except FileNotFoundError:
                if oid not in recorded:
                    raise
        checked = [oid for oid, st in stats.items() if st.st_size >= hashed_when_sent_below]
        cache.known_stats.read_objects(checked)
        for oid in checked:
            if not _still_intact(cache, oid, stats[oid]):
                changed[oid] = set_aside_changed(cache, oid)
                del stats[oid]
        for oid, st in stats.items():
            versions[oid] = ObjectVersion.of_object(cache, oid, st)
    return versions


def _still_intact(cache: LocalCache, oid: str, st: os.stat_result | None = None) -> bool:
    """Not found changed: its upload goes on. One gone since, or that this user may not read
    (a teammate's, kept private, in a shared cache), fails there, and says so."""
    try:
        return cache.intact(oid, st or os.stat(cache.oid_path(oid)))
    except (FileNotFoundError, PermissionError):
        return True


def _upload_loose(cache: LocalCache, remote: ObjectStore, todo: list[str], settings: Settings,
                  verify_local: bool, size_of: Callable[[str], int],
                  versions: Mapping[str, FileVersion]) -> TransferResult:
    """Each of `todo` as a file of its own. Every attempt sends the version of the object
    the push found (`versions`), or fails: a retry after a write to the object (through a
    link to it) would otherwise send the new bytes under the old oid. An object found
    written to is then moved aside, unless it still hashes to its oid."""

    def put(oid: str, on_bytes: OnBytes) -> int:
        path = cache.oid_path(oid)
        version = versions.get(oid)
        try:
            if version is not None:
                version.check(path)  # no attempt at another version, however far it goes
            if verify_local and not cache.verify(oid):
                raise CorruptObjectError(f"the local copy of {oid} is corrupt too; not uploaded")
            remote.blobs.put_file(remote.oid_name(oid), path, on_bytes, version)
        except PermissionError as exc:
            if exc.filename != path:  # the remote's refusal
                raise
            raise DvxError(unreadable_object(exc)) from exc
        return size_of(oid)

    def put_first(batch: list[str]) -> dict[str, int | Exception]:
        """The small objects of a batch, sent together; the rest are left to `put`."""
        small = []
        tried: dict[str, int | Exception] = {}
        for oid in batch:
            path = cache.oid_path(oid)
            data = read_small_file(path, BATCHED_OBJECT)
            version = versions.get(oid)
            if data is None or version is None or (
                    verify_local and hash_bytes(data, cache.algo) != oid):
                continue
            try:
                version.check(path)  # what was read is the object as the push found it
            except FileChangedError as exc:
                tried[oid] = exc
                continue
            small.append((oid, data))
        failures = remote.blobs.put_many([(remote.oid_name(oid), data) for oid, data in small])
        tried.update({oid: len(data) if failure is None else failure
                      for (oid, data), failure in zip(small, failures, strict=True)})
        return tried

    def small(oid: str) -> bool:
        return size_of(oid) <= BATCHED_OBJECT

    # Progress in bytes, except in worker processes, which report objects.
    sizes = None if in_processes(remote, todo) else sum(size_of(oid) for oid in todo)
    result = run_each(todo, put, settings, "Uploading", sizes, remote, file_work=True,
                      first_tries=FirstTries(put_first, small))
    for oid in result.failed.keys() & versions.keys():
        if _written_since(cache.oid_path(oid), versions[oid]) and not _still_intact(cache, oid):
            result.failed[oid] = set_aside_changed(cache, oid)
    return result


def _written_since(path: str, version: FileVersion) -> bool:
    try:
        return not version.describes(os.stat(path))
    except FileNotFoundError:  # moved aside already, or deleted: nothing to move
        return False


def download(remote: ObjectStore, cache: LocalCache, oids: Iterable[str], settings: Settings,
             sizes: dict[str, int] | None = None) -> TransferResult:
    """Fetch what the cache lacks. `sizes` (from pointers and manifests) lets small objects
    come in one request, and lets a truncated object be named as such."""
    known = sizes or {}
    unique = oids if isinstance(oids, (set, frozenset, dict)) else set(oids)
    lacking = todo = sorted(check_cached_whole(cache, unique))
    already_there = len(unique) - len(todo)
    result = TransferResult()
    try:  # counted over packed and loose objects, whichever were coming when it stopped
        if isinstance(remote, RemoteStore) and todo:
            from dvx.remote import pack_reads

            rest = set(todo)
            result = pack_reads.download(remote, cache, rest, settings)
            # A reader looks in the indexes first and then for a loose object (formats.md):
            # one whose packed copies failed (damaged, or their pack gone) may have a loose
            # copy.
            rest |= result.failed.keys()
            if len(rest) < len(todo):
                todo = [oid for oid in todo if oid in rest]
        loose = _download_loose(remote, cache, todo, settings, known)
    except Interrupted as exc:
        raise interrupted("Downloading", result.transferred + exc.done, len(lacking), exc,
                          exc.unsure) from None
    for oid in list(result.failed):
        if oid in loose.failed:
            del loose.failed[oid]  # its packed copy's failure says more than a loose one's
        else:
            del result.failed[oid]  # its loose copy came
    result.merge(loose)
    result.already_there = already_there
    cache.remember_fetched(oid for oid in lacking if oid not in result.failed)
    return result


def check_cached_whole(cache: LocalCache, oids: Iterable[str]) -> list[str]:
    """Check that the cache holds each of `oids` whole, and return those to download: those
    it lacks, and those it held damaged, no longer hashing to their oid (cut short in a cache
    a CI job restored, written through a link to them), which are moved aside, as a push
    moves them, to be downloaded again rather than found already there. One stat each of an
    object known intact with that stat (`LocalCache.known_intact`); any other is hashed (one
    intact whose size a pointer records wrong stays)."""
    lacking = []
    wanted = list(oids)
    for start in range(0, len(wanted), READ_AHEAD):
        some = wanted[start:start + READ_AHEAD]
        cache.known_stats.read_objects(some)
        for oid, st in cache.stats(some):
            if st is not None and _still_intact(cache, oid, st):
                continue
            if st is not None:
                with contextlib.suppress(FileNotFoundError):  # another process moved it first
                    moved, kept = cache.set_aside(oid)
                    log.warning("The cached object %s was damaged (its %d bytes no longer "
                                "hash to its oid: cut short, or written through a link to it): "
                                "moved to %s; downloading it again.%s", oid, st.st_size, moved,
                                kept_message(kept))
            lacking.append(oid)
    return lacking


def _download_loose(remote: ObjectStore, cache: LocalCache, todo: list[str], settings: Settings,
                    known: Mapping[str, int]) -> TransferResult:
    """Objects no index names, read as files. From a network store, those whose size is known
    and small are read many at once, each handed over as it arrives (`Blobs.get_each`): many
    tiny ones are staged (staging.py), a round read then stored by worker processes, the
    others stored as they come. Then the rest (large objects, unknown sizes, and what failed)
    one by one, with retries."""
    if remote.blobs.processes:  # a directory: object by object in its own worker processes
        return _get_loose(remote, cache, todo, settings, known)
    small = [oid for oid in todo if known.get(oid, BATCHED_OBJECT + 1) <= BATCHED_OBJECT]
    tiny = [oid for oid in small if known[oid] <= STAGED_OBJECT]
    staged = staging_for(cache, remote.blobs, len(tiny))
    result = TransferResult()
    again: list[str] = []  # read again with retries: failed reads, objects that did not hash

    def store_now(data: bytes, oid: str) -> int:
        size = cache.add_bytes_verified(data, oid)
        faults.point("transfer.after_object")
        return size

    if staged is None:
        _read_all(remote, small, known, store_now, settings, result, again)
    else:
        with staged:
            answering = _read_staged(remote, cache, staged, tiny, known, settings, result,
                                     again)
        tiny_ones = set(tiny)
        others = [oid for oid in small if oid not in tiny_ones]
        if answering:
            _read_all(remote, others, known, store_now, settings, result, again)
        else:
            again.extend(others)
    done = set(small) - set(again)
    rest = [oid for oid in todo if oid not in done]
    try:
        result.merge(_get_loose(remote, cache, rest, settings, known))
    except Interrupted as exc:  # those read many at once came before: counted too
        raise interrupted("Downloading", result.transferred + exc.done, None, exc,
                          exc.unsure) from None
    return result


def _read_staged(remote: ObjectStore, cache: LocalCache, staged: StagedReads, tiny: list[str],
                 known: Mapping[str, int], settings: Settings, result: TransferResult,
                 again: list[str]) -> bool:
    """`tiny` in rounds: each read into the scratch file, then stored by worker processes,
    each object counted in `result` as its storing ends (a staged object is not stored yet:
    a Ctrl-C drops it with the scratch file). False if the remote stopped answering: the
    rounds not read then join `again`."""
    answering = True
    counting = threading.Lock()  # few objects are stored on threads, each told on its own

    def stage(data: bytes, oid: str) -> int:
        try:
            staged.add(data, [(oid, 0, len(data))])
        except OSError:  # no room for the scratch copy: stored here and now instead
            size = cache.add_bytes_verified(data, oid)
            with counting:
                result.transferred += 1
                result.bytes += size
        return len(data)

    def stored_one(entry: tuple[str, int, int], outcome: int | Exception) -> None:
        oid = entry[0]
        with counting:
            if not isinstance(outcome, Exception):
                result.transferred += 1
                result.bytes += outcome
            elif isinstance(outcome, CorruptObjectError):
                again.append(oid)  # damaged on the way, maybe: read again
            else:
                result.failed[oid] = redacted(describe(outcome), remote)

    for round_oids in in_rounds(tiny, known.__getitem__):
        if not answering:  # each read would wait out the timeout: the retries decide
            again.extend(round_oids)
            continue
        read = TransferResult()  # the round's reads: its objects count once stored
        try:
            answering = _read_all(remote, round_oids, known, stage, settings, read, again)
        except Interrupted as exc:  # what was stored before counts; the staged ones go
            raise interrupted("Downloading", result.transferred, None, exc,
                              exc.unsure) from None
        try:  # every read of the round is over: forking is safe
            with settings.progress.task("Storing", len(staged.entries), "object") as stored:
                staged.store(partial(store_verified, cache), stored, on_result=stored_one)
        except KeyboardInterrupt as exc:  # those of the round in flight may be stored too
            raise interrupted("Downloading", result.transferred, None, exc, None) from None
    return answering


def _read_all(remote: ObjectStore, oids: list[str], known: Mapping[str, int],
              land: Callable[[bytes, str], int], settings: Settings, result: TransferResult,
              again: list[str]) -> bool:
    """Small objects of known sizes read many at once (`Blobs.get_each`), each handed to
    `land(data, oid)` as it arrives; what fails, or is left once the remote stops answering,
    joins `again`, read later with the usual retries. False if it stopped answering."""
    if not oids:
        return True
    told = bytearray(len(oids))
    answering = [True]
    landing = [0]  # 1 while an object is stored: stopped then, it may be whole

    with settings.progress.task("Downloading", sum(known[oid] for oid in oids), "B") as advance:

        def arrived(index: int, data: bytes | Exception) -> bool:
            oid = oids[index]
            told[index] = 1
            if isinstance(data, Exception):
                again.append(oid)
                if is_timeout(data):  # no answer: ask for no more, the retries will
                    answering[0] = False
                return answering[0]
            try:
                _check_size(oid, known[oid], len(data))
                landing[0] = 1
                size = land(data, oid)
            except Exception:  # cut short, or damaged
                landing[0] = 0
                again.append(oid)
                return True
            landing[0] = 0
            result.transferred += 1
            result.bytes += size
            advance(size)
            return True

        try:
            with remote.blobs.session():
                remote.blobs.get_each([remote.oid_name(oid) for oid in oids], arrived)
        except KeyboardInterrupt as exc:  # stored objects stay; staged go with the scratch
            raise interrupted("Downloading", result.transferred, None, exc,
                              landing[0]) from None
    again.extend(oid for oid, was_told in zip(oids, told, strict=True) if not was_told)
    return answering[0]


def _get_loose(remote: ObjectStore, cache: LocalCache, todo: list[str], settings: Settings,
               known: Mapping[str, int]) -> TransferResult:
    """Each of `todo` read on its own, retried on transient errors: whole if its size is known
    and small, else streamed into the cache."""
    blobs = remote.blobs

    def get(oid: str, on_bytes: OnBytes) -> int:
        expected = known.get(oid)
        name = remote.oid_name(oid)
        try:
            if expected is not None and expected <= SMALL_OBJECT:
                data = blobs.get(name)
                _check_size(oid, expected, len(data))
                return cache.add_bytes_verified(data, oid)
            with cache.verified_writer(oid) as writer:  # one streaming read
                blobs.read_into(name, writer, on_bytes)
                if expected is not None:
                    _check_size(oid, expected, writer.size)
                return writer.commit()
        except FileNotFoundError:
            raise MissingObjectError(NOT_ON_REMOTE) from None

    # Small objects of a network store came through `get_each` before; what is here is large,
    # of unknown size, failed once, or on a directory (worker processes, no batches).
    total = sum(known.get(oid, 0) for oid in todo) or None
    return run_each(todo, get, settings, "Downloading", total, remote, file_work=True)


def _check_size(oid: str, expected: int, actual: int) -> None:
    if actual != expected:
        raise CorruptObjectError(
            f"Object {oid} is {'truncated' if actual < expected else 'corrupt'}: "
            f"{actual} bytes where {expected} were expected.")


def verify_on(remote: ObjectStore, oids: Iterable[str], settings: Settings,
              sizes: dict[str, int] | None = None, fast: bool = False) -> dict[str, str]:
    """Check objects on the remote: download and hash each (or, `fast`, compare sizes).
    Returns {oid: problem} for those that are corrupt, or whose every pack named is gone
    (`lost_with_its_pack` of the problem), and whose loose copy, if any, is no better: as a
    reader looks in the indexes first and then for a loose object (formats.md), an object
    is whole if either copy is. Nothing is stored locally."""
    known = sizes or {}
    problems: dict[str, str] = {}
    # Packed oids with no whole packed copy (damaged, or every pack gone): why, if no loose
    # copy either.
    no_packed_copy: dict[str, str] = {}

    def judge(oid: str, actual_oid: str, size: int) -> int:
        # Bytes that hash to their oid are the object, whatever size a pointer gave it.
        if actual_oid != oid:
            problems[oid] = f"its {size} bytes hash to {actual_oid}" + (
                f" ({known[oid]} bytes were expected)" if known.get(oid, size) != size else "")
        return size

    def check_copy(oid: str, on_bytes: OnBytes) -> int:
        if fast:
            expected = known.get(oid)
            actual = remote.blobs.size(remote.oid_name(oid))
            if expected is not None and actual != expected:
                problems[oid] = f"size {actual} where {expected} was expected"
            return 1
        sink = _HashingSink(remote.algo)  # one streaming read, hashed as it arrives
        remote.blobs.read_into(remote.oid_name(oid), sink, on_bytes)
        return judge(oid, sink.hasher.hexdigest(), sink.size)

    def check(oid: str, on_bytes: OnBytes) -> int:
        try:
            return check_copy(oid, on_bytes)
        except FileNotFoundError:
            if oid not in no_packed_copy:  # no index named it there either: for the caller
                raise
            problems[oid] = no_packed_copy[oid]
            return 0

    todo = sorted(set(oids))
    if isinstance(remote, RemoteStore) and todo:
        from dvx.remote import pack_reads

        # One pass over the indexes: where the packed ones are, and the sizes asked below.
        packed_oids = remote.in_packs(todo)
        if packed_oids:
            in_packs = pack_reads.verify(remote, settings, fast, only=packed_oids)
            no_packed_copy = {oid: pack_not_on_remote(pack)
                              for pack, oid, _, _ in in_packs.bad_copies
                              if oid in in_packs.lost and pack in in_packs.missing_packs}
            no_packed_copy.update(in_packs.corrupt)
            todo = [oid for oid in todo
                    if oid not in in_packs.checked or oid in in_packs.corrupt]
    result = run_each(todo, check, settings, "Verifying", None, remote)
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
