"""Moving small objects in packs: upload, download, verification and index rewriting.

    upload:    objects below the remote's pack_threshold are read from the cache into packs
               of about pack_size bytes; each pack is uploaded whole, and an index naming the
               finished packs follows them (every INDEX_EVERY packs, and at the end)
    download:  the indexes say where each wanted object lies; neighbouring objects of one pack
               come in one ranged read (the whole pack when most of it is wanted); each object
               is hashed against its oid before it enters the cache
    rewrite:   one new index replaces several (consolidation, repair, gc): written first, the
               old ones deleted after, so a reader always finds every live object

At most PACKS_IN_FLIGHT packs (or reads of up to pack_size) are in memory at once.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import IO

from dvx import faults
from dvx.errors import CorruptObjectError, Interrupted
from dvx.fsutil import write_all
from dvx.hashing import hash_bytes
from dvx.logs import get_logger
from dvx.objects.cache import LocalCache
from dvx.processes import MIN_ITEMS, map_in_processes, worker_count
from dvx.remote.packs import (
    INDEXES_DIR,
    PACK_HEADER_SIZE,
    PACKS_DIR,
    PackBuilder,
    Section,
    Span,
    coalesce,
    index_bytes,
    index_name,
    pack_name,
    section_bytes,
)
from dvx.remote.retry import describe, with_retries
from dvx.remote.store import RemoteStore
from dvx.remote.transfer_result import Settings, TransferResult
from dvx.remote.workers import bounded

log = get_logger(__name__)

PACKS_IN_FLIGHT = 4
INDEX_EVERY = 32  # packs per index during a long push: a killed push keeps what it indexed
READ_GAP = 256 << 10  # objects closer than this in a pack share one ranged read
MAX_INDEXES = 64  # more indexes than this after a push: merge them into one
# Objects per pack: readers hold one pack's index entries at a time, so this bounds their
# memory however small the objects are.
PACK_ENTRIES = 10_000


# -- upload -----------------------------------------------------------------------------------


class PlannedPack(list[str]):
    """The oids of one pack to be, their objects' `lengths`, and (`size`) their sum."""

    def __init__(self) -> None:
        super().__init__()
        self.lengths: list[int] = []
        self.size = 0


def plan_packs(sizes: Iterator[tuple[str, int]], pack_size: int) -> list[PlannedPack]:
    """Groups of oids of about `pack_size` bytes each, and at most PACK_ENTRIES objects."""
    groups: list[PlannedPack] = []
    current = PlannedPack()
    for oid, size in sizes:
        if current and (current.size + size > pack_size or len(current) >= PACK_ENTRIES):
            groups.append(current)
            current = PlannedPack()
        current.append(oid)
        current.lengths.append(size)
        current.size += size
    if current:
        groups.append(current)
    return groups


@dataclass
class _Built:
    group: PlannedPack
    section: Section
    buffer: bytearray | None = None  # holds the pack's bytes (`section.size` of them) until sent
    failed: dict[str, str] = field(default_factory=dict)
    bytes: int = 0  # of objects


def upload(cache: LocalCache, remote: RemoteStore, oids: list[str], size_of: Callable[[str], int],
           settings: Settings, verify_local: bool = False,
           loose_done: list[tuple[str, int]] | None = None) -> TransferResult:
    """Upload `oids` (all below the pack threshold) in packs, and index them together with
    `loose_done` (objects this push uploaded loose). This thread reads the objects and builds
    the packs (object files are system calls, which threads only contend for); uploads of
    finished packs run beside it, at most PACKS_IN_FLIGHT at once."""
    result = TransferResult()
    groups = plan_packs(((oid, size_of(oid)) for oid in oids), remote.pack_size)
    finished: list[bytes] = []  # the index sections of the packs uploaded, as bytes
    loose = [(oid, 0, size) for oid, size in loose_done or []]
    spare: list[bytearray] = []  # buffers of packs sent, for the next packs to reuse
    largest = max((group.size for group in groups), default=0)

    def packs() -> Iterator[_Built]:
        for group in groups:
            buffer = spare.pop() if spare else bytearray(PACK_HEADER_SIZE + largest)
            builder = PackBuilder(group.size, buffer)
            built = _Built(group, Section(None))
            for oid, length in zip(group, group.lengths, strict=True):
                if verify_local:
                    data = cache.read_bytes(oid)
                    if hash_bytes(data, cache.algo) != oid:
                        built.failed[oid] = f"the local copy of {oid} is corrupt too; not uploaded"
                        continue
                    builder.add(oid, data)
                elif not builder.add_read(oid, length, partial(cache.read_into, oid)):
                    # Not the size its pointer gives: sent as it is (a fetch checks it by hash).
                    builder.add(oid, cache.read_bytes(oid))
                built.bytes += builder.entries[-1][2]
            if builder.entries:
                with builder.finish() as pack:
                    built.section = Section(pack_name(pack, remote.algo), len(pack),
                                            builder.entries)
                built.buffer = builder.buffer
            else:
                spare.append(builder.buffer)
            yield built

    def send(built: _Built) -> _Built:
        if built.buffer is not None:
            try:
                with memoryview(built.buffer) as whole, whole[:built.section.size] as data:
                    remote.retried.put(f"{PACKS_DIR}/{built.section.pack}", data)
                faults.point("packs.after_pack")
            finally:
                spare.append(built.buffer)  # list.append: safe from any thread
                built.buffer = None
        return built

    def publish(chunks: list[bytes]) -> None:
        """The index of finished packs; if it cannot be written, their objects failed (the
        loose ones are on the remote whatever happens to the index)."""
        try:
            publish_chunks(remote, chunks, settings)
        except Exception as exc:
            reason = f"its pack index could not be written: {describe(exc)}"
            for chunk in chunks:
                lines = chunk.decode("ascii").splitlines()
                if lines[0].startswith("pack "):
                    for line in lines[1:]:
                        result.failed[line.split()[0]] = reason
                    result.transferred -= len(lines) - 1

    total = sum(group.size for group in groups)
    with settings.progress.task("Uploading", total or len(oids), "B" if total else "object"
                                ) as advance, remote.blobs.session():

        def done(built: _Built, outcome: _Built | BaseException) -> None:
            moved = built.group.size if total else len(built.group)
            if isinstance(outcome, BaseException):
                for oid in built.group:
                    result.failed[oid] = describe(outcome)
                advance(moved)
                return
            result.failed.update(outcome.failed)
            if outcome.section.pack is not None:
                finished.append(section_bytes(outcome.section))
                result.transferred += len(outcome.section.entries)
                result.bytes += outcome.bytes
            advance(moved)
            if len(finished) >= INDEX_EVERY:
                faults.point("packs.before_index")
                publish(finished[:])
                finished.clear()

        try:
            bounded(packs(), send, min(PACKS_IN_FLIGHT, settings.jobs), done)
        except KeyboardInterrupt:
            raise Interrupted(f"Interrupted: {result.transferred} of {len(oids)} objects were "
                              "uploaded and indexed before the interruption.",
                              "Nothing was left half-written; run the command again to "
                              "finish.") from None
        if finished or loose:
            faults.point("packs.before_index")
            publish([*finished, *([section_bytes(Section(None, 0, loose))] if loose else [])])
    return result


def publish_index(remote: RemoteStore, sections: list[Section], settings: Settings) -> str:
    """Upload one index naming `sections` (whose packs are complete on the remote)."""
    return publish_chunks(remote, [section_bytes(section) for section in sections], settings)


def publish_chunks(remote: RemoteStore, chunks: list[bytes], settings: Settings) -> str:
    """Upload one index of sections serialized by `section_bytes`."""
    data = index_bytes(chunks, remote.algo)
    name = index_name(data, remote.algo)
    remote.retried.put(f"{INDEXES_DIR}/{name}", data)
    faults.point("packs.after_index")
    remote.inventory.keep_copy(name, data)
    remote.forget_locations()
    return name


# -- download ---------------------------------------------------------------------------------


def download(remote: RemoteStore, cache: LocalCache, todo: set[str], settings: Settings
             ) -> TransferResult:
    """Download those of `todo` that the indexes place in packs; they leave `todo`, and what
    remains is for the loose path. Reads are planned a pack at a time as the indexes are
    read, never all at once: a million wanted objects cost no list of a million reads."""
    result = TransferResult()
    listed_before = remote.inventory.listed()
    retry: list[Span] = []
    first_round = [True]

    def read(span: Span) -> bytes:
        data = read_span(remote, span, settings)
        if len(data) != span.size:
            raise CorruptObjectError(f"pack {span.pack} is shorter than its index says")
        return data

    def keep(oid: str, data: bytes) -> int | Exception:
        """One object into the cache, checked by hash (its size, or why it was refused)."""
        try:
            size = cache.add_bytes_verified(data, oid)
        except Exception as exc:  # one bad object does not spoil its neighbours
            return exc
        faults.point("transfer.after_object")
        return size

    def record(entries: Iterable[tuple[str, int, int]],
               outcomes: Iterable[int | Exception]) -> None:
        for (oid, _, _), outcome in zip(entries, outcomes, strict=True):
            if isinstance(outcome, Exception):
                result.failed[oid] = describe(outcome)
            else:
                result.transferred += 1
                result.bytes += outcome

    # Storing an object is system calls, which threads cannot spread over the cores. A store
    # without latency (a directory) is read in this thread, and a large read's objects are
    # stored by forked workers (no other threads run then). Others have several reads in
    # flight while this thread stores what came; but the tiniest objects, whose storing costs
    # more than their reading, are staged (`_Staged`), then stored by forked workers once the
    # reads are over.
    jobs = min(remote.blobs.reads_in_flight, PACKS_IN_FLIGHT, settings.jobs)
    staged = None if remote.blobs.processes or len(todo) < MIN_ITEMS or worker_count() < 2 \
        else _Staged(cache.scratch_file())
    with settings.progress.task("Downloading", len(todo), "object") as advance, \
            remote.blobs.session(), staged or contextlib.nullcontext():

        def store(span: Span, data: bytes) -> None:
            if staged is not None and staged.suits(span):
                try:
                    staged.add(span, data)
                except OSError:  # no room for the scratch copy: stored here and now instead
                    pass
                else:
                    advance(len(span.entries))  # read; storing them has a bar of its own
                    return

            def one(entry: tuple[str, int, int]) -> int | Exception:
                oid, offset, length = entry
                return keep(oid, span.piece(data, offset, length))

            if remote.blobs.processes and len(span.entries) >= MIN_ITEMS:
                outcomes = map_in_processes(one, span.entries)
            else:
                outcomes = [one(entry) for entry in span.entries]
            record(span.entries, outcomes)
            advance(len(span.entries))

        def done(span: Span, outcome: bytes | BaseException) -> None:
            if isinstance(outcome, FileNotFoundError) and first_round[0]:
                retry.append(span)  # repacked meanwhile: the indexes are read again below
                return
            if isinstance(outcome, BaseException):
                for oid, _, _ in span.entries:
                    result.failed[oid] = describe(outcome)
                advance(len(span.entries))
            else:
                store(span, outcome)

        def fetch(spans: Iterable[Span]) -> None:
            if jobs > 1:
                bounded(spans, read, jobs, done)
                return
            for span in spans:
                try:
                    data: bytes | BaseException = read(span)
                except Exception as exc:
                    data = exc
                done(span, data)

        def run(spans: Iterable[Span], count: int) -> None:
            try:
                if staged is None:
                    fetch(spans)
                    return
                for spans_of_round in staged.rounds(spans):
                    fetch(spans_of_round)  # every read is over: forking is safe
                    with settings.progress.task("Storing", len(staged.entries),
                                                "object") as stored:
                        record(*staged.store(keep, stored))
            except KeyboardInterrupt:
                raise Interrupted(f"Interrupted while downloading {count} objects.",
                                  "Nothing was left half-written; run the command again to "
                                  "finish.") from None

        run(_spans_for(remote, todo), len(todo))
        if todo and listed_before:  # indexes listed earlier in this command may be out of date
            remote.forget_locations()
            run(_spans_for(remote, todo), len(todo))
        if retry:
            first_round[0] = False
            remote.forget_locations()
            still = {oid for span in retry for oid, _, _ in span.entries}
            run(_spans_for(remote, still), len(still))
            for oid in still:
                result.failed[oid] = "its pack is gone from the remote"
    return result


STAGED_BYTES = 256 << 20  # read before their objects are stored: bounds the scratch file
# Reads whose objects average this size or less are staged: storing such an object costs
# more than reading it, so reading first and then storing on every core is faster. Larger
# ones are stored as their reads arrive, overlapping the two (docs/performance.md).
STAGED_OBJECT = 2 << 10


class _Staged:
    """Reads of tiny objects kept in a scratch file until they are stored all at once, by
    forked workers: a process that forks must have no reads in flight, so a pull reads a
    round of up to STAGED_BYTES, stores it, then reads the next. The file is unnamed, so
    nothing of it outlives the process."""

    def __init__(self, file: IO[bytes]) -> None:
        self.file = file
        self.size = 0
        self.entries: list[tuple[str, int, int]] = []  # (oid, offset in the file, length)

    def __enter__(self) -> _Staged:
        return self

    def __exit__(self, *exc: object) -> None:
        self.file.close()

    def rounds(self, spans: Iterable[Span]) -> Iterator[list[Span]]:
        spans_of_round: list[Span] = []
        size = 0
        for span in spans:
            spans_of_round.append(span)
            size += span.size
            if size >= STAGED_BYTES:
                yield spans_of_round
                spans_of_round, size = [], 0
        if spans_of_round:
            yield spans_of_round

    @staticmethod
    def suits(span: Span) -> bool:
        return span.size <= STAGED_OBJECT * len(span.entries)

    def add(self, span: Span, data: bytes) -> None:
        """Stage one read; if writing it fails, nothing of it is staged."""
        fd = self.file.fileno()
        os.lseek(fd, self.size, os.SEEK_SET)  # over what a failed write may have left
        write_all(fd, data)
        for oid, offset, length in span.entries:
            self.entries.append((oid, self.size + offset - span.start, length))
        self.size += len(data)

    def store(self, keep: Callable[[str, bytes], int | Exception],
              advance: Callable[[int], None]
              ) -> tuple[list[tuple[str, int, int]], list[int | Exception]]:
        """`keep(oid, bytes)` for every staged object, in worker processes (or threads, for
        few); the entries and their outcomes. The file is emptied for the next round."""
        entries, self.entries, self.size = self.entries, [], 0
        fd = self.file.fileno()

        def one(entry: tuple[str, int, int]) -> int | Exception:
            oid, offset, length = entry
            return keep(oid, os.pread(fd, length, offset))

        outcomes = map_in_processes(one, entries, advance)
        os.ftruncate(fd, 0)
        return entries, outcomes


def _spans_for(remote: RemoteStore, todo: set[str]) -> Iterator[Span]:
    """Ranged reads covering the objects of `todo` that indexes place in packs (which leave
    `todo` as their reads are planned)."""
    for _, section in remote.inventory.sections():
        if not todo:
            return
        if section.pack is None:
            continue
        wanted = [entry for entry in section.entries if entry[0] in todo]
        for oid, _, _ in wanted:
            todo.discard(oid)
        yield from coalesce(section, wanted, READ_GAP, remote.pack_size)


class _ShortRead(CorruptObjectError):
    """A read that ended early (a dropped connection, or a pack cut short): tried again."""

    def __init__(self, data: bytes) -> None:
        super().__init__("the read ended early")
        self.data = data


def read_span(remote: RemoteStore, span: Span, settings: Settings) -> bytes:
    """The bytes of one ranged read of a pack (none asked for an empty object); fewer than
    asked only if every attempt ended early (the callers name the objects cut off)."""
    if span.size == 0:
        return b""

    def once() -> bytes:
        data = remote.blobs.get(f"{PACKS_DIR}/{span.pack}", span.start, span.end)
        if len(data) < span.size:
            raise _ShortRead(data)
        return data

    try:
        return with_retries(once, settings.retries, f"pack {span.pack}")
    except _ShortRead as short:
        return short.data


# -- verification -----------------------------------------------------------------------------


@dataclass
class PackCheck:
    """What fsck --remote found in the packs."""
    checked: set[str] = field(default_factory=set)  # oids that indexes place in packs
    corrupt: dict[str, str] = field(default_factory=dict)  # oid -> what is wrong
    lost: set[str] = field(default_factory=set)  # named by an index, in a pack that is gone
    missing_packs: list[str] = field(default_factory=list)
    unindexed_packs: list[str] = field(default_factory=list)  # left by an interrupted push


def verify(remote: RemoteStore, settings: Settings, fast: bool = False,
           only: Collection[str] | None = None) -> PackCheck:
    """Check every pack the indexes name: its size, and (unless `fast`) every object's hash;
    with `only`, just the packed objects among those."""
    check = PackCheck()
    on_remote = remote.retried.details(PACKS_DIR)
    spans: list[Span] = []
    named: set[str] = set()
    for _, section in remote.inventory.sections():
        pack = section.pack
        if pack is None:
            continue
        named.add(pack)
        if only is not None:
            section = Section(pack, section.size,
                              [entry for entry in section.entries if entry[0] in only])
            if not section.entries:
                continue
        if pack not in on_remote:
            check.missing_packs.append(pack)
            check.lost.update(oid for oid, _, _ in section.entries)
            continue
        check.checked.update(oid for oid, _, _ in section.entries)
        if on_remote[pack][0] != section.size:
            for oid, _, _ in section.entries:
                check.corrupt.setdefault(oid, f"its pack {section.pack} is "
                                              f"{on_remote[pack][0]} bytes, not "
                                              f"{section.size}")
            continue
        if not fast:
            spans += coalesce(section, section.entries, READ_GAP, remote.pack_size)
    check.unindexed_packs = sorted(set(on_remote) - named)
    check.lost -= check.checked  # also in a pack that is there

    def read(span: Span) -> int:
        data = read_span(remote, span, settings)
        for oid, offset, length in span.entries:
            piece = span.piece(data, offset, length)
            actual = hash_bytes(piece, remote.algo)
            if len(piece) != length:
                check.corrupt[oid] = f"its pack {span.pack} ends before it does"
            elif actual != oid:
                check.corrupt[oid] = f"its {length} bytes in pack {span.pack} hash to {actual}"
        return len(data)

    def done(span: Span, outcome: int | BaseException) -> None:
        if isinstance(outcome, BaseException):
            for oid, _, _ in span.entries:
                check.corrupt.setdefault(oid, f"could not be read: {describe(outcome)}")

    total = sum(span.size for span in spans)
    with settings.progress.task("Verifying packs", total, "B"), remote.blobs.session():
        bounded(spans, read, min(PACKS_IN_FLIGHT, settings.jobs), done)
    return check


# -- rewriting indexes ------------------------------------------------------------------------


def retire(remote: RemoteStore, settings: Settings, oids: Collection[str]) -> None:
    """Make the indexes stop naming `oids` in packs (corrupt copies): the next push uploads
    them again, into a new pack. The damaged bytes stay until gc rewrites their pack."""
    doomed = set(oids)
    rewrite_indexes(remote, settings, lambda pack, oid: pack is None or oid not in doomed)


Keep = Callable[[str | None, str], bool]  # (pack or None for loose, oid) -> keep the entry?


def rewrite_indexes(remote: RemoteStore, settings: Settings, keep: Keep,
                    extra: list[Section] | None = None) -> list[str]:
    """Replace every current index by one naming the entries `keep` accepts (and `extra`
    sections): the new index is written before the old ones are deleted. Returns the names
    of the indexes replaced."""
    old = remote.inventory.index_names(refresh=True)
    packs: dict[str, Section] = {}
    loose: dict[str, int] = {}
    for _, section in remote.inventory.sections(old):
        if section.pack is None:
            for oid, _, length in section.entries:
                if keep(None, oid):
                    loose[oid] = length
            continue
        merged = packs.setdefault(section.pack, Section(section.pack, section.size))
        merged.entries += [e for e in section.entries if keep(section.pack, e[0])]
    sections = [deduplicated(s) for s in packs.values() if s.entries] + list(extra or [])
    if loose:
        sections.append(Section(None, 0, [(oid, 0, n) for oid, n in sorted(loose.items())]))
    published = publish_index(remote, sections, settings) if sections else None
    faults.point("packs.before_old_indexes_deleted")
    # The new index may have the very bytes, and so the name, of one it replaces.
    replaced = [f"{INDEXES_DIR}/{n}" for n in old if n != published]
    if replaced:
        remote.retried.delete(replaced)
    remote.forget_locations()
    return old


def deduplicated(section: Section) -> Section:
    """A pack's entries gathered from several indexes: each entry once, in the order of the
    pack (an empty object shares its offset with the object after it, and comes first)."""
    unique = sorted(set(section.entries), key=lambda entry: (entry[1], entry[2], entry[0]))
    return Section(section.pack, section.size, unique)


def consolidate_if_many(remote: RemoteStore, settings: Settings) -> bool:
    """Merge the indexes into one when there are more than MAX_INDEXES."""
    if len(remote.inventory.index_names()) <= MAX_INDEXES or remote.inventory.refused:
        return False
    rewrite_indexes(remote, settings, lambda pack, oid: True)
    return True

