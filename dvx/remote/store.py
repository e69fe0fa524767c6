"""RemoteStore: a remote's object store, whose objects are loose (files/<algo>/...) or inside
packs named by its indexes (packs.py). Every read of one object looks in the indexes first
and then for a loose copy, so remotes written before packs, and remotes holding both, read
the same way. Bulk transfers go through packed.py and pack_reads.py; this class serves
single reads (a manifest, `dvx.api.open`) and the questions fsck and gc ask.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterable, Iterator
from functools import cached_property
from typing import IO, Any

from dvx.objects.blobs import Details
from dvx.objects.layout import PACKS_DIR, is_pack_name
from dvx.objects.odb import ObjectStore
from dvx.remote.inventory import Inventory
from dvx.remote.packs import DEFAULT_PACK_SIZE, DEFAULT_THRESHOLD
from dvx.remote.retry import Retrying

Location = tuple[str | None, int, int]  # (pack name or None for loose, offset, length)


class RemoteStore(ObjectStore):
    def __init__(self, *args: Any, index_dir: str, pack_threshold: int = DEFAULT_THRESHOLD,
                 pack_size: int = DEFAULT_PACK_SIZE, retries: int = 5, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.retries = retries  # attempts for each request of its own (indexes, ...)
        self.index_dir = index_dir  # local copies of the remote's indexes
        self.pack_threshold = pack_threshold  # 0: every object stays loose
        self.pack_size = pack_size
        self._located: dict[str, Location] = {}
        self._unindexed: set[str] = set()
        # The packs found shorter than their indexes say and warned of: a command opens each
        # remote once, and warns of each such pack once, however many of its steps find it (a
        # plan, the plan again under the lock, an index merge). `forget_locations` keeps it.
        self.short_packs_warned: set[str] = set()

    @cached_property
    def retried(self) -> Retrying:
        """The store with every request retried (single requests; transfers retry whole
        objects)."""
        return Retrying(self.blobs, self.retries)

    @property
    def single_requests(self) -> Retrying:
        return self.retried

    @cached_property
    def inventory(self) -> Inventory:
        return Inventory(self.blobs, self.algo, self.index_dir, self.retries)

    def packs_enabled(self) -> bool:
        return self.pack_threshold > 0 and not self.read_only

    def locate(self, oids: Iterable[str]) -> dict[str, Location]:
        """Where the indexes place those of `oids` they name (one pass over the indexes)."""
        asked = list(oids)
        wanted = {oid for oid in asked if oid not in self._located and oid not in self._unindexed}
        if wanted:
            for _, section in self.inventory.sections():
                for oid, offset, length in section.entries:
                    if oid in wanted:
                        self._located[oid] = (section.pack, offset, length)
                        wanted.discard(oid)
                if not wanted:
                    break
            self._unindexed |= wanted  # asked once: no index names them
        return {oid: self._located[oid] for oid in asked if oid in self._located}

    def in_packs(self, oids: Iterable[str]) -> set[str]:
        """Those of `oids` that the indexes place in packs."""
        return {oid for oid, (pack, _, _) in self.locate(oids).items() if pack is not None}

    def forget_locations(self) -> None:
        self._located.clear()
        self._unindexed.clear()
        self.inventory.forget()

    def _packed(self, oid: str) -> Location | None:
        location = self.locate([oid]).get(oid)
        return location if location is not None and location[0] is not None else None

    def exists(self, oid: str) -> bool:
        return oid in self.locate([oid]) or super().exists(oid)

    def size(self, oid: str) -> int:
        location = self.locate([oid]).get(oid)
        return location[2] if location is not None else super().size(oid)

    def read_bytes(self, oid: str) -> bytes:
        location = self._packed(oid)
        if location is None:
            return super().read_bytes(oid)
        pack, offset, length = location
        try:
            return self.blobs.get(f"{PACKS_DIR}/{pack}", offset, offset + length)
        except FileNotFoundError:  # repacked since the index was read: ask again
            self.forget_locations()
            if self._packed(oid) in (None, location):
                raise
            return self.read_bytes(oid)

    def read_unindexed(self, pack: str, offset: int, length: int) -> bytes:
        """The bytes at `offset` of a pack no index names any more, where the log of a gc
        stopped before it deleted the pack places an object (gclog.py); the caller hashes
        them against the object's oid, as every read is."""
        return self.blobs.get(f"{PACKS_DIR}/{pack}", offset, offset + length)

    def open(self, oid: str, block_size: int | None = None) -> IO[bytes]:
        if self._packed(oid) is None:
            return super().open(oid, block_size)
        return io.BytesIO(self.read_bytes(oid))  # packed objects are small

    def list_oids(self) -> Iterator[str]:
        """Loose objects and every object an index names (an oid may come twice)."""
        yield from super().list_oids()
        for _, section in self.inventory.sections():
            for oid, _, _ in section.entries:
                yield oid

    def list_loose(self) -> Iterator[str]:
        return super().list_oids()

    def unindexed_packs(self, older_than: float | None = None) -> list[str]:
        """The packs on the remote that no usable index names: left by a push stopped between
        its pack and its index, or named only by an index the remote lost. With `older_than`
        (a time), only those the remote dates before it, or does not date."""
        return sorted(name for name, mtime in self.unindexed_pack_times().items()
                      if older_than is None or mtime is None or mtime < older_than)

    def unindexed_pack_times(self) -> dict[str, float | None]:
        """{pack name: mtime or None} of the packs `unindexed_packs` names, from one
        listing: for counts of them that must agree (all, and the young)."""
        named = {section.pack for _, section in self.inventory.sections()}
        return {name: mtime for name, (_, mtime) in self.list_packs().items()
                if name not in named}

    def list_packs(self) -> Details:
        """{pack name: (size, mtime or None)} of every pack on the remote. Only a pack's name
        counts: a README in packs/, or the key an S3 console makes for the folder, is no
        pack dvx may count, read or delete."""
        return {name: details for name, details in self.retried.details(PACKS_DIR).items()
                if is_pack_name(name, self.algo)}


def index_dir_for(base: str, identity: str) -> str:
    """Where the copies of the indexes of the store `identity` (one per store, never shared
    by two: fs.store_identity, a directory's real path) are kept, below `base` (a
    repository's .dvx/tmp, say)."""
    from dvx.hashing import hash_bytes

    key = hash_bytes(identity.encode("utf-8"), "xxh128")[:16]
    return os.path.join(base, "indexes", key)
