"""Writing packs and indexes: upload, and index rewriting (reading them: pack_reads.py).

    upload:    objects below the remote's pack_threshold are read from the cache into packs
               of about pack_size bytes; each pack is uploaded whole, and an index naming the
               finished packs follows them (every INDEX_EVERY packs, and at the end)
    rewrite:   one new index replaces several (consolidation, repair, gc): written first, the
               old ones deleted after, so a reader always finds every live object

At most PACKS_IN_FLIGHT packs are in memory at once.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import NamedTuple

from dvx import faults
from dvx.errors import FormatError, RemoteError, interruption
from dvx.hashing import hash_bytes
from dvx.logs import get_logger
from dvx.objects.blobs import Details
from dvx.objects.cache import LocalCache, unreadable_object
from dvx.objects.layout import INDEXES_DIR, INDEXES_MARK, INDEXES_MARK_TEXT, PACKS_DIR
from dvx.remote.backends import delete_refused
from dvx.remote.packs import (
    PACK_HEADER_SIZE,
    PackBuilder,
    Section,
    check_index,
    index_bytes,
    index_name,
    pack_name,
    section_bytes,
)
from dvx.remote.retry import describe
from dvx.remote.store import RemoteStore
from dvx.remote.transfer_result import (
    Settings,
    TransferResult,
    set_aside_changed,
)
from dvx.remote.workers import bounded

log = get_logger(__name__)

PACKS_IN_FLIGHT = 4
INDEX_EVERY = 32  # packs per index during a long push: a killed push keeps what it indexed
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


def _read_intact(cache: LocalCache, oid: str, view: memoryview) -> bool:
    """Read object `oid` into `view`; whether it filled the view with bytes that hash to
    `oid`. Hashed as it goes into the pack, however the push found it: a small object costs
    little to hash, and nothing else vouches for the bytes read."""
    return cache.read_into(oid, view) and hash_bytes(view, cache.algo) == oid


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

    def add(builder: PackBuilder, oid: str, length: int) -> str | None:
        """Add object `oid` (`length` bytes) to the pack; why it was not, if it was not."""
        if verify_local:
            data = cache.read_bytes(oid)
            if hash_bytes(data, cache.algo) != oid:
                return f"the local copy of {oid} is corrupt too; not uploaded"
            builder.add(oid, data)
        elif not builder.add_read(oid, length, partial(_read_intact, cache, oid)):
            # Not the size it had a moment ago, or written to since the push found it intact
            # (through a link to it): sent only if it is still the object.
            data = cache.read_bytes(oid)
            if hash_bytes(data, cache.algo) != oid:
                return set_aside_changed(cache, oid)
            builder.add(oid, data)
        return None

    def packs() -> Iterator[_Built]:
        for group in groups:
            buffer = spare.pop() if spare else bytearray(PACK_HEADER_SIZE + largest)
            builder = PackBuilder(group.size, buffer)
            built = _Built(group, Section(None))
            for oid, length in zip(group, group.lengths, strict=True):
                try:
                    failure = add(builder, oid, length)
                except PermissionError as exc:  # the others are still sent
                    failure = unreadable_object(exc)
                if failure is not None:
                    built.failed[oid] = failure
                    continue
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

    # The packed objects an index written names: only those are on the remote for a reader
    # (and the next push), so a stop counts these, never the packs still to be indexed.
    indexed = 0

    def publish(chunks: list[bytes]) -> None:
        """The index of finished packs; if it cannot be written, their objects failed (the
        loose ones are on the remote whatever happens to the index)."""

        def written() -> None:  # a stop from now on finds these objects on the remote
            nonlocal indexed
            indexed += _packed_entries(chunks)

        try:
            publish_chunks(remote, chunks, settings, written)
        except Exception as exc:
            reason = f"its pack index could not be written: {describe(exc)}"
            for chunk in chunks:
                lines = chunk.decode("ascii").splitlines()
                if lines[0].startswith("pack "):
                    for line in lines[1:]:
                        oid, _, length = line.split()
                        result.failed[oid] = reason
                        result.bytes -= int(length)  # counted when its pack went up
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

        if groups:
            remote.inventory.index_names()  # a remote that lost its indexes stops the push
            try:
                mark_indexes_folder(remote)
            except Exception as exc:  # as a pack that could not be sent
                result.failed.update(dict.fromkeys(oids, describe(exc)))
                return result
        try:
            bounded(packs(), send, min(PACKS_IN_FLIGHT, settings.jobs), done)
            if finished or loose:
                faults.point("packs.before_index")
                publish([*finished, *([section_bytes(Section(None, 0, loose))] if loose
                                      else [])])
        except KeyboardInterrupt as exc:
            stopped = interruption(exc, f": {indexed} of {len(oids)} objects were uploaded and "
                                   "indexed before it stopped.")
            stopped.done, stopped.total = indexed, len(oids)
            raise stopped from None
    return result


def _packed_entries(chunks: list[bytes]) -> int:
    """The objects in packs that index sections serialized by `section_bytes` name."""
    return sum(not line.startswith(b"pack ") for chunk in chunks if chunk.startswith(b"pack ")
               for line in chunk.splitlines())


def mark_indexes_folder(remote: RemoteStore) -> None:
    """Write the mark of a remote given packs into indexes/ (layout.INDEXES_MARK), unless its
    listing found it there: before a pack goes up, or before the indexes are deleted without
    one replacing them, so that packs left then (a push or gc stopped) are not taken for
    packs whose indexes were lost (inventory.py)."""
    remote.inventory.index_names()
    if not remote.inventory.marked:
        remote.retried.put(f"{INDEXES_DIR}/{INDEXES_MARK}", INDEXES_MARK_TEXT)
        remote.inventory.marked = True


def publish_index(remote: RemoteStore, sections: list[Section], settings: Settings) -> str:
    """Upload one index naming `sections` (whose packs are complete on the remote)."""
    return publish_chunks(remote, [section_bytes(section) for section in sections], settings)


def publish_chunks(remote: RemoteStore, chunks: list[bytes], settings: Settings,
                   written: Callable[[], None] | None = None) -> str:
    """Upload one index of sections serialized by `section_bytes`, once read back as a reader
    would: an index readers refuse must never replace those that name the same objects.
    `written()` is called as soon as the index is on the remote, before anything after it
    (a Ctrl-C then) could stop the caller from learning so."""
    data = index_bytes(chunks, remote.algo)
    name = index_name(data, remote.algo)
    _check_readable(data, name, remote.algo)
    remote.retried.put(f"{INDEXES_DIR}/{name}", data)
    if written is not None:
        written()
    faults.point("packs.after_index")
    with contextlib.suppress(OSError):  # the index is on the remote: a later listing
        remote.inventory.keep_copy(name, data)  # downloads a copy this could not keep
    remote.forget_locations()
    return name


def _check_readable(data: bytes, name: str, algo: str) -> None:
    try:
        check_index(data.splitlines(keepends=True), algo, name)
    except FormatError as exc:
        raise RemoteError(
            f"dvx refused to write the pack index {name}, which it could not read back: "
            f"{exc.message}", "It was not written, and no index was deleted. Please report "
            "this with the output of `dvx fsck --remote`.") from None


# -- rewriting indexes ------------------------------------------------------------------------


def retire(remote: RemoteStore, settings: Settings, oids: Collection[str]) -> None:
    """Make the indexes stop naming `oids` anywhere (corrupt copies, in packs or loose ones
    moved aside): the next push uploads them again. Packed damaged bytes stay until gc
    rewrites their pack."""
    doomed = set(oids)
    rewrite_indexes(remote, settings, lambda copy: copy.oid not in doomed)


class Copy(NamedTuple):
    """One index entry; `pack` None (and `offset` 0) for a loose object. The offset tells
    apart two copies of one object in one pack; the length tells apart two entries naming
    the same place, one of them wrongly: the whole copy is not the damaged one."""
    pack: str | None
    oid: str
    offset: int
    length: int


def retire_copies(remote: RemoteStore, settings: Settings, copies: Collection[Copy]) -> None:
    """Make the indexes stop naming these copies: other copies of the same objects, in the
    same pack too, stay named."""
    doomed = set(copies)
    rewrite_indexes(remote, settings, lambda copy: copy not in doomed)


def indexed_loose(remote: RemoteStore, oids: Collection[str]) -> set[str]:
    """Those of `oids` that an index names as loose objects."""
    return {oid for oid, (pack, _, _) in remote.locate(oids).items() if pack is None}


Keep = Callable[[Copy], bool]  # keep this index entry?


def rewrite_indexes(remote: RemoteStore, settings: Settings, keep: Keep,
                    extra: list[Section] | None = None) -> list[str]:
    """Replace every current index by one naming the entries `keep` accepts (and `extra`
    sections): the new index is written before the old ones are deleted. Returns the names
    of the indexes replaced."""
    old = remote.inventory.index_names(refresh=True)
    listed = remote.list_packs()  # after the indexes: every pack they name is complete
    packs: dict[str, Section] = {}
    loose: dict[str, int] = {}
    for _, section in remote.inventory.sections(old):
        if section.pack is None:
            for oid, _, length in section.entries:
                if keep(Copy(None, oid, 0, length)):
                    loose[oid] = length
            continue
        merge_into(packs, section, [e for e in section.entries if keep(Copy(section.pack, *e))])
    fitted = (fitted_to_pack(remote, s, listed) for s in packs.values())
    sections = [s for s in fitted if s.entries] + list(extra or [])
    if loose:
        sections.append(Section(None, 0, [(oid, 0, n) for oid, n in sorted(loose.items())]))
    if not sections:
        mark_indexes_folder(remote)
    published = publish_index(remote, sections, settings) if sections else None
    faults.point("packs.before_old_indexes_deleted")
    # The new index may have the very bytes, and so the name, of one it replaces.
    replaced = [f"{INDEXES_DIR}/{n}" for n in old if n != published]
    if replaced:
        remote.retried.delete(replaced)
    remote.forget_locations()
    return old


def merge_into(merged: dict[str, Section], section: Section,
               entries: list[tuple[str, int, int]]) -> None:
    """Add `entries` of one index's `section` to the section `merged` holds for its pack,
    whose size is, until `fitted_to_pack` settles it, the largest an index gave the pack."""
    assert section.pack is not None
    into = merged.setdefault(section.pack, Section(section.pack, section.size))
    into.size = max(into.size, section.size)
    into.entries += entries


def fitted_to_pack(remote: RemoteStore, section: Section, listed: Details) -> Section:
    """A pack's merged `section` as an index written from it names the pack (`at_real_size`,
    each entry once), warning of the copies left out as they lie past the end of a pack
    shorter than its indexes say: their objects are on the remote no more, unless elsewhere
    there, until a push from a cache holding them sends them again. Warned of once for each
    pack by the store `remote` (which a command opens once)."""
    fitted = deduplicated(at_real_size(section, listed))
    past = len(deduplicated(section).entries) - len(fitted.entries)
    if past and section.pack not in remote.short_packs_warned:
        remote.short_packs_warned.add(str(section.pack))
        log.warning("Pack %s on the remote is %d bytes, shorter than its indexes say: %d of "
                    "the copies they place in it lie past its end, and the merged index no "
                    "longer names them. `dvx fsck --remote` names the objects this leaves "
                    "missing, and `dvx push --repair` from a clone whose cache holds them "
                    "sends them again.", section.pack, fitted.size, past)
    return fitted


def at_real_size(section: Section, listed: Details) -> Section:
    """A pack's merged `section` at the size the remote's listing gives the pack, without the
    entries running past its end (bytes the pack does not hold): no index is trusted for a
    pack's size, as one giving it a wrong size would make the merged index unreadable, or
    make gc count bytes that are not there. A pack missing from `listed` keeps its size."""
    if section.pack not in listed:
        return section
    size = listed[section.pack][0]
    return Section(section.pack, size, [e for e in section.entries if e[1] + e[2] <= size])


def deduplicated(section: Section) -> Section:
    """A pack's entries gathered from several indexes: each entry once, in the order of the
    pack (an empty object shares its offset with the object after it, and comes first)."""
    unique = sorted(set(section.entries), key=lambda entry: (entry[1], entry[2], entry[0]))
    return Section(section.pack, section.size, unique)


def consolidate_if_many(remote: RemoteStore, settings: Settings) -> bool:
    """Merge the indexes into one when there are more than MAX_INDEXES, unless the store
    refuses this user deletes: the merged index would then be one more, a copy of all the
    others, on every push."""
    count = len(remote.inventory.index_names())
    if count <= MAX_INDEXES or remote.inventory.refused:
        return False
    refusal = _delete_refusal(remote)
    if refusal is not None:
        log.warning("%s Its %d pack indexes, which every command reading it downloads, were "
                    "not merged into one (a merge deletes those it replaces); a push with "
                    "credentials that may delete there merges them.", refusal.message, count)
        return False
    rewrite_indexes(remote, settings, lambda copy: True)
    return True


def _delete_refusal(remote: RemoteStore) -> RemoteError | None:
    """The store's refusal to let this user delete in indexes/, found by deleting a name
    never written there (one request, which leaves nothing behind: an object store checks
    the right to delete before whether there is anything to delete); None if it lets it."""
    try:
        remote.retried.delete([f"{INDEXES_DIR}/.delete-probe-{os.urandom(8).hex()}"])
    except PermissionError as exc:
        return delete_refused(remote.blobs, exc)
    return None

