"""Packs no index names: whether one holds only objects the indexes name elsewhere.

A pack says nothing about its objects (docs/formats.md): it is its header and then its
objects end to end. So what a pack no index names holds is told from its bytes: they are
accounted for when, from the header on, they split into pieces that each hash to an object
the indexes name, of the length they give it. Such a pack loses nothing when it goes: a push
killed between its pack and its index and then run again leaves one. Bytes that split no
such way may be objects no index names: those a lost index named, or those of a push that
never finished.

The split is searched piece by piece: after a piece, first the object that follows it in a
pack an index names (a push run again packs the same objects in the same order) and those
whose oids follow its own (a push packs objects in the order of their oids), then every
length the indexes give an object; a place from which no split reaches the end is not tried
twice, and a search that hashes more than READ_BUDGET times the pack's bytes gives up
(the bytes count as not accounted for).
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from dvx.hashing import hash_bytes
from dvx.objects.layout import PACKS_DIR
from dvx.remote.packs import DEFAULT_PACK_SIZE, PACK_HEADER_SIZE, PACK_MAGIC, Section
from dvx.remote.store import RemoteStore

READ_BUDGET = 64  # bytes hashed per byte of the pack before the search gives up
SMALLEST_BUDGETED = 1 << 20  # a smaller pack gets the budget of one this size
NEXT_IN_ORDER = 32  # objects tried first after one, of those whose oids follow its oid
ATTEMPT_COST = 4096  # what one hash costs beyond its bytes (the call), counted in bytes
# A pack larger than this, and than 4 times the remote's pack_size, is not read: no writer
# makes one, and a hostile store could list one of any size.
LARGEST_READ = 4 * DEFAULT_PACK_SIZE


@dataclass
class Known:
    """The objects the indexes name, their lengths, and which object follows which: in a
    pack, and in the order of their oids (that in which a push packs them)."""
    length_of: dict[str, int] = field(default_factory=dict)
    lengths: list[int] = field(default_factory=list)  # each once, sorted
    oids: list[str] = field(default_factory=list)  # sorted
    following: dict[str, list[int]] = field(default_factory=dict)  # oid -> next lengths
    first: list[int] = field(default_factory=list)  # lengths of the first objects of packs

    @classmethod
    def of(cls, sections: Iterable[Section]) -> Known:
        """What `sections` (of packs, and loose) name."""
        known = cls()
        for section in sections:
            entries = sorted(set(section.entries), key=lambda entry: entry[1])
            previous: str | None = None
            for oid, _, length in entries:
                if length == 0:  # it splits nothing off
                    continue
                known.length_of[oid] = length
                if section.pack is not None:
                    if previous is None:
                        known.first.append(length)
                    else:
                        known.following.setdefault(previous, []).append(length)
                    previous = oid
        known.lengths = sorted(set(known.length_of.values()))
        known.oids = sorted(known.length_of)
        return known

    def next_in_order(self, oid: str) -> list[int]:
        """The lengths of the NEXT_IN_ORDER objects whose oids follow `oid`."""
        start = bisect.bisect_right(self.oids, oid)
        return [self.length_of[o] for o in self.oids[start:start + NEXT_IN_ORDER]]


def holds_only_known(remote: RemoteStore, pack: str, size: int, known: Known) -> bool:
    """Whether the pack `pack` (of `size` bytes, as listed), which no index names, holds only
    objects in `known`; True if it is gone. One too large to have been written with the
    remote's pack_size is not read."""
    if size > max(LARGEST_READ, 4 * remote.pack_size):
        return False
    try:
        data = remote.retried.get(f"{PACKS_DIR}/{pack}")
    except FileNotFoundError:
        return True
    return splits_into_known(data, known, remote.algo)


def splits_into_known(data: bytes, known: Known, algo: str) -> bool:
    """Whether the bytes of a pack, past its header, are objects of `known` end to end."""
    if not data.startswith(PACK_MAGIC) or len(data) < PACK_HEADER_SIZE:
        return False
    end = len(data)
    budget = READ_BUDGET * max(end, SMALLEST_BUDGETED)
    dead_ends: set[int] = set()
    view = memoryview(data)
    stack = [(PACK_HEADER_SIZE, _candidates(known, None, end - PACK_HEADER_SIZE))]
    while stack:
        at, candidates = stack[-1]
        if at == end:
            return True
        for length in candidates:
            if at + length in dead_ends:
                continue
            budget -= length + ATTEMPT_COST
            if budget < 0:
                return False
            oid = hash_bytes(view[at:at + length], algo)
            if known.length_of.get(oid) == length:
                stack.append((at + length, _candidates(known, oid, end - at - length)))
                break
        else:
            dead_ends.add(at)
            stack.pop()
    return False


def _candidates(known: Known, previous: str | None, room: int) -> Iterator[int]:
    """The lengths to try for the next piece, of at most `room` bytes, each once: those of
    the objects that follow `previous` in a pack (or start one) and in the order of oids,
    then all the others."""
    hinted = ([*known.following.get(previous, []), *known.next_in_order(previous)]
              if previous else known.first)
    fitting = itertools.islice(known.lengths, bisect.bisect_right(known.lengths, room))
    tried: set[int] = set()
    for length in itertools.chain(hinted, fitting):
        if length <= room and length not in tried:
            tried.add(length)
            yield length
