"""Packs no index names: whether one may hold an object gc keeps that no index names.

A pack says nothing about its objects (docs/formats.md): it is its header and then its
objects end to end, in any order, of any lengths. So an object no index names may lie at
any byte of a pack no index names, whatever else its bytes are (two objects the indexes
name, end to end, are also the bytes of a third, which a lost index may have named there).
Such a pack goes only once none of the objects gc keeps that no index names can be in it:

- one the cache holds is looked for by its bytes, anywhere in the pack;
- any other, by hashing every run of the pack's bytes as long as a size the scope gives it
  (a pointer, a directory manifest), from every byte on;
- one larger than the pack cannot be in it, and an empty one has no bytes to lose;
- one of no known size may be in any pack, and so may be what a search costing more than
  SEARCH_BUDGET (all packs together) would look for, or what a pack too large to read holds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from dvx.hashing import hash_bytes
from dvx.objects.layout import PACKS_DIR
from dvx.remote.packs import DEFAULT_PACK_SIZE
from dvx.remote.store import RemoteStore

# gc --remote's default grace period: a pack no index names that is younger may be one a
# push is uploading now, its index still to come.
YOUNG_PACK_SECONDS = 3600
SEARCH_BUDGET = 4 << 30  # what the search of all packs may cost, counted in bytes as below
HASH_CALL_COST = 4096  # what one hash costs beyond its bytes (the call), counted in bytes
# A pack larger than this, and than 4 times the remote's pack_size, is not read: no writer
# makes one, and a hostile store could list one of any size.
LARGEST_READ = 4 * DEFAULT_PACK_SIZE


@dataclass
class Sought:
    """The objects gc keeps that no index names: those the cache holds (oid -> size), read
    by `read` (their bytes, None unless whole by their hash); the others, with the sizes
    the scope gives them (none: unknown)."""
    cached: dict[str, int] = field(default_factory=dict)
    read: Callable[[str], bytes | None] = lambda oid: None
    sizes: dict[str, set[int]] = field(default_factory=dict)

    def unknown(self) -> list[str]:
        """Those of no known size, which any pack may hold."""
        return sorted(oid for oid, sizes in self.sizes.items() if not sizes)


@dataclass
class Search:
    """The search of the packs no index names for the `sought` objects, within one budget;
    `found`, the first object found in one."""
    sought: Sought
    algo: str
    budget: int = SEARCH_BUDGET
    found: str | None = None

    def may_hold(self, remote: RemoteStore, pack: str, size: int) -> bool:
        """Whether the pack `pack` (of `size` bytes, as listed) may hold a sought object:
        False if it holds none, or is gone. One whose search would cost more than the
        budget left is not downloaded."""
        if self.sought.unknown():
            return True
        if size > max(LARGEST_READ, 4 * remote.pack_size) or self._cost(size) > self.budget:
            return True
        try:
            data = remote.retried.get(f"{PACKS_DIR}/{pack}")
        except FileNotFoundError:
            return False
        return self.may_be_in(data)

    def may_be_in(self, data: bytes) -> bool:
        """Whether the bytes `data` may hold a sought object, at any offset."""
        if self.sought.unknown():
            return True
        end = len(data)
        cost = self._cost(end)
        if cost > self.budget:
            return True
        self.budget -= cost
        for oid in sorted(o for o, n in self.sought.cached.items() if 0 < n <= end):
            piece = self.sought.read(oid)
            if piece is None:  # changed in the cache since: not known to be absent
                return True
            if data.find(piece) >= 0:
                self.found = self.found or oid
                return True
        view = memoryview(data)
        for n, oids in sorted(self._by_size(end).items()):
            for at in range(end - n + 1):
                oid = hash_bytes(view[at:at + n], self.algo)
                if oid in oids:
                    self.found = self.found or oid
                    return True
        return False

    def _by_size(self, end: int) -> dict[int, set[str]]:
        """The sought objects the cache does not hold that `end` bytes can hold, by size."""
        by_size: dict[int, set[str]] = {}
        for oid, sizes in self.sought.sizes.items():
            for n in sizes:
                if 0 < n <= end:
                    by_size.setdefault(n, set()).add(oid)
        return by_size

    def _cost(self, end: int) -> int:
        """What searching `end` bytes costs, in the budget's bytes: each cached object that
        fits read, checked by its hash and looked for; every run of each size hashed."""
        cached = sum(end + 2 * n for n in self.sought.cached.values() if 0 < n <= end)
        return cached + sum((end - n + 1) * (n + HASH_CALL_COST) for n in self._by_size(end))
