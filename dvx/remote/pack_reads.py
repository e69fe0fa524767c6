"""Reading packs: objects downloaded into the cache, and packs verified in place.

    download:  the indexes say where each wanted object lies; neighbouring objects of one pack
               come in one ranged read (the whole pack when most of it is wanted); each object
               is hashed against its oid before it enters the cache
    verify:    every pack the indexes name is read and each object hashed (fsck --remote)
    altered:   which packs no longer hash to their names (damaged since they were written)

At most PACKS_IN_FLIGHT reads of up to pack_size are in memory at once.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial

from dvx.errors import CorruptObjectError
from dvx.hashing import hash_bytes, hash_stream
from dvx.objects.cache import LocalCache
from dvx.objects.layout import PACK_SUFFIX, PACKS_DIR
from dvx.processes import MIN_ITEMS, map_in_processes
from dvx.remote.packed import PACKS_IN_FLIGHT, Copy
from dvx.remote.packs import Section, Span, coalesce
from dvx.remote.retry import describe, with_retries
from dvx.remote.staging import in_rounds, staging_for, store_verified
from dvx.remote.store import RemoteStore
from dvx.remote.transfer_result import (
    Settings,
    TransferResult,
    pack_cut_short,
    pack_not_on_remote,
)
from dvx.remote.workers import bounded, interrupted

READ_GAP = 256 << 10  # objects closer than this in a pack share one ranged read


# -- download ---------------------------------------------------------------------------------


def download(remote: RemoteStore, cache: LocalCache, todo: set[str], settings: Settings
             ) -> TransferResult:
    """Download those of `todo` that the indexes place in packs; they leave `todo`, and what
    remains is for the loose path. Reads are planned a pack at a time as the indexes are
    read, never all at once: a million wanted objects cost no list of a million reads."""
    result = TransferResult()
    listed_before = remote.inventory.listed()
    wanted = len(todo)  # planning takes the packed ones out of `todo`
    spans = _spans_for(remote, todo)
    first = next(spans, None)
    if first is None:
        if not (todo and listed_before):
            return result  # no index names any of them: no bar, the loose path has them all
        remote.forget_locations()  # indexes listed earlier in this command may be out of date
        listed_before = False
        spans = _spans_for(remote, todo)
        first = next(spans, None)
        if first is None:
            return result
    retry: list[Span] = []
    first_round = [True]

    def read(span: Span) -> bytes:
        return read_span(remote, span, settings)

    keep = partial(store_verified, cache)
    # The objects being stored, which a Ctrl-C then may leave whole or not (None: some).
    storing: list[int | None] = [0]

    damaged: set[str] = set()  # oids whose copy read was not theirs: others are tried below
    counting = threading.Lock()  # few objects are stored on threads, each told on its own

    def record(entry: tuple[str, int, int], outcome: int | Exception) -> None:
        """Count one object as its storing ends, so that a Ctrl-C counts all stored before."""
        oid = entry[0]
        with counting:
            if isinstance(outcome, Exception):
                result.failed[oid] = describe(outcome)
                if isinstance(outcome, CorruptObjectError):
                    damaged.add(oid)
            else:
                result.transferred += 1
                result.bytes += outcome

    # Storing an object is system calls, which threads cannot spread over the cores. A store
    # without latency (a directory) is read in this thread, and a large read's objects are
    # stored by forked workers (no other threads run then). Others have several reads in
    # flight while this thread stores what came; but the tiniest objects, whose storing costs
    # more than their reading, are staged (staging.py), then stored by forked workers once the
    # reads are over.
    jobs = min(remote.blobs.reads_in_flight, PACKS_IN_FLIGHT, settings.jobs)
    staged = staging_for(cache, remote.blobs, wanted)
    with settings.progress.task("Downloading", wanted, "object") as advance, \
            remote.blobs.session(), staged or contextlib.nullcontext():

        def store(span: Span, data: bytes) -> None:
            if staged is not None and staged.suits(len(span.entries), span.size):
                try:
                    staged.add(data, span.entries, span.start)
                except OSError:  # no room for the scratch copy: stored here and now instead
                    pass
                else:
                    advance(len(span.entries))  # read; storing them has a bar of its own
                    return

            def one(entry: tuple[str, int, int]) -> int | Exception:
                oid, offset, length = entry
                return keep(oid, span.piece(data, offset, length))

            if remote.blobs.processes and len(span.entries) >= MIN_ITEMS:
                storing[0] = None
                map_in_processes(one, span.entries, on_result=record)
            else:
                for entry in span.entries:  # each counted as it is stored
                    storing[0] = 1
                    record(entry, one(entry))
            storing[0] = 0
            advance(len(span.entries))

        def done(span: Span, outcome: bytes | BaseException) -> None:
            if isinstance(outcome, FileNotFoundError) and first_round[0]:
                retry.append(span)  # repacked meanwhile: the indexes are read again below
                return
            if isinstance(outcome, BaseException):
                why = pack_not_on_remote(span.pack) if isinstance(
                    outcome, FileNotFoundError) else describe(outcome)
                for oid, _, _ in span.entries:
                    result.failed[oid] = why
                    if isinstance(outcome, CorruptObjectError):
                        damaged.add(oid)
                advance(len(span.entries))
            else:
                # A pack cut short still holds whole the objects before the cut: those are
                # stored (each hashed, as always), and only those after it fail.
                whole, cut = span.up_to(span.start + len(outcome))
                for oid, _, _ in cut:
                    result.failed[oid] = pack_cut_short(span.pack)
                    damaged.add(oid)
                if cut:
                    advance(len(cut))
                if whole.entries:
                    store(whole, outcome)

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

        def run(spans: Iterable[Span]) -> None:
            try:
                if staged is None:
                    fetch(spans)
                    return
                for spans_of_round in in_rounds(spans, lambda span: span.size,
                                                 lambda span: len(span.entries)):
                    fetch(spans_of_round)  # every read is over: forking is safe
                    storing[0] = None
                    with settings.progress.task("Storing", len(staged.entries),
                                                "object") as stored:
                        staged.store(keep, stored, on_result=record)
                    storing[0] = 0
            except KeyboardInterrupt as exc:
                raise interrupted("Downloading", result.transferred, None, exc,
                                  storing[0]) from None

        run(itertools.chain([first], spans))
        if todo and listed_before:  # indexes listed earlier in this command may be out of date
            remote.forget_locations()
            run(_spans_for(remote, todo))
        if retry:
            first_round[0] = False
            remote.forget_locations()
            still = {oid for span in retry for oid, _, _ in span.entries}
            run(_spans_for(remote, still))
            # No index names these any more (a gc --remote deleted them on purpose): they are
            # for the loose path, which finds them there or says the remote does not have them.
            todo |= still
        if damaged & result.failed.keys():
            _from_other_copies(remote, damaged & result.failed.keys(), settings, keep, result)
    return result


def _from_other_copies(remote: RemoteStore, oids: set[str], settings: Settings,
                       keep: partial[int | Exception], result: TransferResult) -> None:
    """Objects whose copy was damaged, read from another copy where the indexes name one
    (two clones that pushed the same object at once each packed it): each copy in turn,
    until one hashes to its oid."""
    copies: dict[str, list[Span]] = {}
    for _, section in remote.inventory.sections():
        if section.pack is None:
            continue
        for entry in section.entries:
            if entry[0] in oids:
                single = Section(section.pack, section.size, [entry])
                copies.setdefault(entry[0], []).extend(
                    coalesce(single, single.entries, READ_GAP, remote.pack_size))
    for oid, spans in copies.items():
        if len(spans) < 2:
            continue  # the one copy there is, already read
        for span in spans:
            try:
                data = read_span(remote, span, settings)
            except Exception:
                continue
            outcome = keep(oid, span.piece(data, *span.entries[0][1:]))
            if not isinstance(outcome, Exception):
                del result.failed[oid]
                result.transferred += 1
                result.bytes += outcome
                break


def _spans_for(remote: RemoteStore, todo: set[str]) -> Iterator[Span]:
    """Ranged reads covering the objects of `todo` that indexes place in packs (which leave
    `todo` as their reads are planned): one copy of each, even of one a pack holds twice."""
    for _, section in remote.inventory.sections():
        if not todo:
            return
        if section.pack is None:
            continue
        wanted = []
        for entry in section.entries:
            if entry[0] in todo:
                todo.discard(entry[0])
                wanted.append(entry)
        yield from coalesce(section, wanted, READ_GAP, remote.pack_size)


def _cut_at(section: Section, size: int) -> tuple[Section, list[tuple[str, int, int]]]:
    """The part of a pack's `section` that a copy of the pack cut short to `size` bytes
    still holds (the pack's size as that), and the entries whose bytes run past the cut."""
    whole, cut = Span(str(section.pack), 0, section.size, section.entries).up_to(size)
    return Section(section.pack, size, whole.entries), cut


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
    """What fsck --remote found in the packs. An object may be in several packs (two clones
    pushed it at once), or twice in one (as gc --remote once repacked such an object): it is
    corrupt or lost only if no copy of it is good, while each bad copy is listed, by its
    place, to be taken out of the indexes."""
    checked: set[str] = field(default_factory=set)  # oids that indexes place in packs
    corrupt: dict[str, str] = field(default_factory=dict)  # oid -> what is wrong
    lost: set[str] = field(default_factory=set)  # named by an index, in a pack that is gone
    bad_copies: set[Copy] = field(default_factory=set)  # to retire
    missing_packs: list[str] = field(default_factory=list)
    unindexed_packs: list[str] = field(default_factory=list)  # left by an interrupted push
    # Index name -> how it misstates the size of a pack the remote holds: damaged, though
    # every entry of it that fits in the pack is judged as ever (a merge replaces it).
    misstated: dict[str, str] = field(default_factory=dict)


def _misstated(pack: str, declared: int, actual: int) -> str:
    """How an index misstates a pack's size; a larger one may be the pack's fault instead."""
    return (f"it gives pack {pack} a size of {declared} bytes, but the pack is {actual} bytes"
            + (" (or the pack was cut short)" if actual < declared else ""))


def verify(remote: RemoteStore, settings: Settings, fast: bool = False,
           only: Collection[str] | None = None) -> PackCheck:
    """Check every pack the indexes name: its size (a copy whose bytes run past the end of a
    pack cut short is corrupt, and an index giving the pack another size than it has is
    named), and (unless `fast`) every object's hash; with `only`, just the packed objects
    among those."""
    check = PackCheck()
    on_remote = remote.list_packs()
    spans: list[Span] = []
    named: set[str] = set()
    wrong: dict[str, str] = {}  # oid -> what is wrong with a copy of it
    unread: set[Copy] = set()  # copies whose read failed
    for index, section in remote.inventory.sections():
        pack = section.pack
        if pack is None:
            continue
        named.add(pack)
        if pack in on_remote and section.size != on_remote[pack][0]:
            check.misstated.setdefault(index, _misstated(pack, section.size, on_remote[pack][0]))
        if only is not None:
            section = Section(pack, section.size,
                              [entry for entry in section.entries if entry[0] in only])
            if not section.entries:
                continue
        if pack not in on_remote:
            check.missing_packs.append(pack)
            check.lost.update(oid for oid, _, _ in section.entries)
            check.bad_copies.update(Copy(pack, *entry) for entry in section.entries)
            continue
        check.checked.update(oid for oid, _, _ in section.entries)
        actual, declared = on_remote[pack][0], section.size
        if actual < declared:  # cut short: what lies before the cut is judged as ever
            section, cut = _cut_at(section, actual)
            for oid, offset, length in cut:
                wrong.setdefault(oid, f"its pack {pack} is {actual} bytes, not {declared}: "
                                      "it ends before this object does")
                check.bad_copies.add(Copy(pack, oid, offset, length))
        if not fast:
            spans += coalesce(section, section.entries, READ_GAP, remote.pack_size)
    check.unindexed_packs = sorted(set(on_remote) - named)
    check.lost -= check.checked  # also in a pack that is there

    def read(span: Span) -> int:
        data = read_span(remote, span, settings)  # shorter if the pack was cut meanwhile
        for oid, offset, length in span.entries:
            piece = span.piece(data, offset, length)
            actual = hash_bytes(piece, remote.algo)
            if len(piece) != length:
                wrong[oid] = f"its pack {span.pack} ends before it does"
            elif actual != oid:
                wrong[oid] = f"its {length} bytes in pack {span.pack} hash to {actual}"
            else:
                continue
            check.bad_copies.add(Copy(span.pack, oid, offset, length))
        return len(data)

    def done(span: Span, outcome: int | BaseException) -> None:
        if isinstance(outcome, BaseException):
            for oid, offset, length in span.entries:
                wrong.setdefault(oid, f"could not be read: {describe(outcome)}")
                unread.add(Copy(span.pack, oid, offset, length))

    total = sum(span.size for span in spans)
    with settings.progress.task("Verifying packs", total, "B"), remote.blobs.session():
        bounded(spans, read, min(PACKS_IN_FLIGHT, settings.jobs), done)
    if wrong:  # an object with another copy that read whole is not corrupt
        doubtful = check.bad_copies | unread
        whole = {oid for _, section in remote.inventory.sections()
                 if section.pack in on_remote for oid, offset, length in section.entries
                 if oid in wrong and Copy(section.pack, oid, offset, length) not in doubtful}
        check.corrupt = {oid: why for oid, why in wrong.items() if oid not in whole}
    return check


def altered(remote: RemoteStore, packs: Iterable[str]) -> set[str]:
    """Those of `packs` whose bytes no longer hash to their names. Packs are named by their
    content and a push uploads one whole or not at all (in-flight names start with `.`), so
    such a pack was damaged after it was written: never one a push is uploading or left
    behind. A pack gone meanwhile is none of them."""
    damaged = set()
    for pack in packs:
        try:
            with remote.retried.open(f"{PACKS_DIR}/{pack}") as stream:
                oid, _ = hash_stream(stream, remote.algo)
        except FileNotFoundError:
            continue
        if oid + PACK_SUFFIX != pack:
            damaged.add(pack)
    return damaged
