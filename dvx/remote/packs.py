"""Packs and pack indexes: many small objects in one remote object, found through an index.

A pack is a header line (`dvx pack 1 <32 random hex digits>`) followed by the bytes of its
objects, one after another. An index
names, for each pack it covers, the pack's size and where each object lies in it; it may also
list objects stored loose (whole, under files/) that the same push uploaded. Both are named
by the hash of their own bytes and never rewritten:

    <remote>/packs/<hash>.pack
    <remote>/indexes/<hash>.idx

An index is uploaded only after every pack it names is complete, so a reader never sees an
index whose pack is missing or partial. Readers take the union of all indexes. The format is
specified normatively in docs/formats.md ("Packs"); `read_index` refuses anything outside it
before a single object is read through it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from dvx.errors import FormatError, NewerFormatError
from dvx.fsutil import BytesLike
from dvx.hashing import get_algorithm, hash_bytes, is_valid_oid
from dvx.objects.layout import INDEX_SUFFIX, PACK_SUFFIX, is_pack_name

PACK_MAGIC = b"dvx pack 1 "  # then 32 random hex digits and a newline: no two packs alike
PACK_HEADER_SIZE = len(PACK_MAGIC) + 33
INDEX_VERSION = 1
INDEX_HEADER = f"dvx pack index {INDEX_VERSION}"

DEFAULT_THRESHOLD = 1 << 20  # objects below this size go into packs
DEFAULT_PACK_SIZE = 16 << 20  # a pack is closed once it reaches this size
MAX_PACK_SIZE = 4 << 30  # larger packs are refused: no writer makes them
MAX_INDEX_ENTRIES = 50_000_000
MAX_LINE = 256


@dataclass
class Section:
    """One pack of an index and the objects an index places in it; or (pack None) objects
    stored loose, with `offset` 0."""
    pack: str | None
    size: int = 0  # the pack's size in bytes
    entries: list[tuple[str, int, int]] = field(default_factory=list)  # (oid, offset, length)


def pack_name(data: BytesLike, algo: str) -> str:
    return hash_bytes(data, algo) + PACK_SUFFIX


def index_name(data: bytes, algo: str) -> str:
    return hash_bytes(data, algo) + INDEX_SUFFIX


class PackBuilder:
    """Collects objects into one pack's bytes, in one buffer. Given the objects' total size
    up front (`room`), it reads each object straight into its place (`add_read`): no copy per
    object, and none to join them. A `buffer` of a pack already sent may be handed on, so
    its memory is reused rather than allocated (and faulted in) again."""

    def __init__(self, room: int = 0, buffer: bytearray | None = None) -> None:
        # A random header: a pack written again with the same objects (a rerun, a repack)
        # gets a name of its own, never that of a pack another process may be deleting.
        header = PACK_MAGIC + os.urandom(16).hex().encode() + b"\n"
        if buffer is None or len(buffer) < len(header) + room:
            buffer = bytearray(len(header) + room)
        buffer[:len(header)] = header
        self.buffer = buffer
        self.size = PACK_HEADER_SIZE
        self.entries: list[tuple[str, int, int]] = []

    def add(self, oid: str, data: bytes) -> None:
        end = self.size + len(data)
        self.buffer[self.size:end] = data  # grows the buffer if it has no room left
        self.entries.append((oid, self.size, len(data)))
        self.size = end

    def add_read(self, oid: str, length: int, read_into: Callable[[memoryview], bool]) -> bool:
        """Add object `oid` of `length` bytes, which `read_into` writes into the view of the
        pack it is given; False, and nothing added, if `read_into` returns False."""
        end = self.size + length
        if end > len(self.buffer):
            self.buffer.extend(bytes(end - len(self.buffer)))
        with memoryview(self.buffer) as whole, whole[self.size:end] as view:
            if not read_into(view):
                return False
        self.entries.append((oid, self.size, length))
        self.size = end
        return True

    def __len__(self) -> int:
        return len(self.entries)

    def finish(self) -> memoryview:
        """The pack's bytes: a view of `buffer`, which must not change while the view is in
        use (release it before handing the buffer on)."""
        return memoryview(self.buffer)[:self.size]


def write_index(sections: Iterable[Section], algo: str) -> bytes:
    """The bytes of an index naming `sections` (entries sorted by offset within a pack)."""
    return index_bytes((section_bytes(section) for section in sections), algo)


def index_bytes(chunks: Iterable[bytes], algo: str) -> bytes:
    """An index of sections already serialized by `section_bytes`."""
    return b"".join([f"{INDEX_HEADER} {algo}\n".encode("ascii"), *chunks])


def section_bytes(section: Section) -> bytes:
    """One section's lines: a writer may keep these instead of the entries (a third of the
    memory) until it writes the index. Entries of a pack that overlap (indexes that disagreed
    on an object's length, merged) go into further sections for the same pack, which readers
    accept: one section's objects never overlap."""
    if section.pack is None:
        lines = ["loose", *(f"{oid} {length}" for oid, _, length in section.entries)]
    else:
        lines = []
        for layer in _non_overlapping(section.entries):
            lines += [f"pack {section.pack} {section.size}",
                      *(f"{oid} {offset} {length}" for oid, offset, length in layer)]
    return ("\n".join(lines) + "\n").encode("ascii")


def _non_overlapping(entries: list[tuple[str, int, int]]) -> list[list[tuple[str, int, int]]]:
    """`entries` in order of offset (an empty object before the object sharing its offset),
    split into as few lists as keep each one's objects apart: almost always one."""
    layers: list[list[tuple[str, int, int]]] = []
    ends: list[int] = []  # where the last object of each layer ends
    for oid, offset, length in sorted(entries, key=lambda e: (e[1], e[2], e[0])):
        at = next((i for i, end in enumerate(ends) if end <= offset), len(layers))
        if at == len(layers):
            layers.append([])
            ends.append(0)
        layers[at].append((oid, offset, length))
        ends[at] = offset + length
    return layers or [[]]


LOOSE_BATCH = 10_000  # loose entries per Section yielded: a long list is never held whole


def read_index(lines: Iterable[bytes], algo: str, name: str = "index") -> Iterator[Section]:
    """The sections of an index, read line by line, each checked as it comes: a malformed
    line, an object outside its pack, overlapping objects, an absurd count or a bad oid
    raises FormatError. Check a whole index (`check_index`) before acting on any of it."""

    def bad(number: int, why: str) -> FormatError:
        return FormatError(f"The pack index {name} is damaged or hostile: line {number} "
                           f"{why}.", "It was not used. `dvx fsck --remote` lists the "
                           "indexes of a remote; `dvx gc --remote` rewrites them.")

    entry = _entry_pattern(algo)
    numbered = enumerate(lines, 1)
    first = next(numbered, (1, b""))[1].rstrip(b"\n").decode("ascii", "replace")
    if first != f"{INDEX_HEADER} {algo}":
        version = _newer_version(first)
        if version is not None:
            raise NewerFormatError.of(f"The pack index {name}", version)
        raise bad(1, f"is {first[:60]!r}, not the header {INDEX_HEADER!r} with the "
                     f"algorithm {algo}")
    section: Section | None = None
    end = 0  # where the last object of the current pack ends
    count = 0
    for number, raw in numbered:
        if len(raw) > MAX_LINE:
            raise bad(number, "is too long")
        matched = entry.fullmatch(raw) if section is not None and section.pack else None
        if section is not None and matched is not None:  # the common line: one match checks it
            count += 1
            offset, length = int(matched[2]), int(matched[3])
            if count > MAX_INDEX_ENTRIES:
                raise bad(number, f"is past {MAX_INDEX_ENTRIES} entries")
            if offset < end:
                raise bad(number, "overlaps the object before it (or is out of order)")
            if offset + length > section.size:
                raise bad(number, f"runs past the end of its pack ({offset}+{length} > "
                                  f"{section.size})")
            section.entries.append((matched[1].decode("ascii"), offset, length))
            end = offset + length
            continue
        words = raw.decode("ascii", "replace").split()
        if not words:
            raise bad(number, "is empty")
        if words[0] in ("pack", "loose"):
            if section is not None and (section.entries or section.pack is not None):
                yield section
            if words[0] == "loose":
                if len(words) != 1:
                    raise bad(number, "has more than the word 'loose'")
                section = Section(None)
                continue
            if len(words) != 3 or not is_pack_name(words[1], algo) or not _is_count(words[2]):
                raise bad(number, "is not 'pack NAME SIZE'")
            size = int(words[2])
            if not PACK_HEADER_SIZE <= size <= MAX_PACK_SIZE:
                raise bad(number, f"gives a pack size of {size} bytes")
            section, end = Section(words[1], size), PACK_HEADER_SIZE
            continue
        if section is None:
            raise bad(number, "names an object before any 'pack' or 'loose' line")
        count += 1
        if count > MAX_INDEX_ENTRIES:
            raise bad(number, f"is past {MAX_INDEX_ENTRIES} entries")
        oid = words[0]
        if not is_valid_oid(oid, algo):
            raise bad(number, f"names {oid[:80]!r}, which is no {algo} object id")
        if section.pack is None:
            if len(words) != 2 or not _is_count(words[1]):
                raise bad(number, "is not 'OID LENGTH'")
            section.entries.append((oid, 0, int(words[1])))
            if len(section.entries) >= LOOSE_BATCH:
                yield section
                section = Section(None)
            continue
        if len(words) != 3 or not _is_count(words[1]) or not _is_count(words[2]):
            raise bad(number, "is not 'OID OFFSET LENGTH'")
        offset, length = int(words[1]), int(words[2])
        if offset < end:
            raise bad(number, "overlaps the object before it (or is out of order)")
        if offset + length > section.size:
            raise bad(number, f"runs past the end of its pack ({offset}+{length} > "
                              f"{section.size})")
        section.entries.append((oid, offset, length))
        end = offset + length
    if section is not None and (section.entries or section.pack is not None):
        yield section


_HEADER_VERSION = re.compile(r"dvx pack index ([1-9][0-9]{0,8})(?: .*)?")


def _newer_version(header: str) -> int | None:
    """The format number of an index header a newer dvx wrote; None for any other line. Such
    an index is not damaged: taking it away would orphan the packs the newer dvx wrote."""
    matched = _HEADER_VERSION.fullmatch(header)
    version = int(matched[1]) if matched else 0
    return version if version > INDEX_VERSION else None


_ENTRY_PATTERNS: dict[str, re.Pattern[bytes]] = {}


def _entry_pattern(algo: str) -> re.Pattern[bytes]:
    """`OID OFFSET LENGTH` of a pack section, exactly as writers write it."""
    if algo not in _ENTRY_PATTERNS:
        digits = get_algorithm(algo).hex_length
        _ENTRY_PATTERNS[algo] = re.compile(
            rb"([0-9a-f]{%d}) ([0-9]{1,12}) ([0-9]{1,12})\n?" % digits)
    return _ENTRY_PATTERNS[algo]


def _is_count(word: str) -> bool:
    return word.isdigit() and word.isascii() and len(word) <= 12


def check_index(data_lines: Iterable[bytes], algo: str, name: str = "index") -> int:
    """Read a whole index, raising FormatError at the first problem; its entry count."""
    return sum(len(section.entries) for section in read_index(data_lines, algo, name))


@dataclass(frozen=True)
class Span:
    """One ranged read of a pack: bytes [start, end) holding `entries`."""
    pack: str
    start: int
    end: int
    entries: list[tuple[str, int, int]]

    @property
    def size(self) -> int:
        return self.end - self.start

    def piece(self, data: bytes, offset: int, length: int) -> bytes:
        """The entry at pack `offset` in `data`, this read's bytes (shorter if they are)."""
        return data[offset - self.start:offset - self.start + length]

    def up_to(self, end: int) -> tuple[Span, list[tuple[str, int, int]]]:
        """This read ending at `end` (where its pack ends, if that is sooner): the entries
        whose bytes it still holds whole, as a read of their own, and those it cuts off."""
        end = min(self.end, max(self.start, end))
        kept = [entry for entry in self.entries if entry[1] + entry[2] <= end]
        cut = [entry for entry in self.entries if entry[1] + entry[2] > end]
        return Span(self.pack, self.start, end, kept), cut


def coalesce(section: Section, wanted: list[tuple[str, int, int]], gap: int,
             limit: int) -> list[Span]:
    """Ranged reads for the `wanted` entries of one pack (sorted by offset): neighbours less
    than `gap` bytes apart share a read, reads stop growing at `limit` bytes, and when most
    of the pack is wanted the whole pack is one read."""
    assert section.pack is not None
    if not wanted:
        return []
    wanted_bytes = sum(length for _, _, length in wanted)
    if wanted_bytes * 2 >= section.size and section.size <= limit:
        return [Span(section.pack, 0, section.size, wanted)]
    spans: list[Span] = []
    current: list[tuple[str, int, int]] = []
    start = end = 0
    for entry in wanted:
        _, offset, length = entry
        if current and (offset - end > gap or offset + length - start > limit):
            spans.append(Span(section.pack, start, end, current))
            current = []
        if not current:
            start = offset
        current.append(entry)
        end = max(end, offset + length)
    spans.append(Span(section.pack, start, end, current))
    return spans
