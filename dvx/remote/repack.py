"""gc --remote for packed objects: keep what is live, rewrite packs that hold dead objects.

    plan:     from the indexes and a listing of packs/, which packed objects are dead (not
              kept, not named by a recent push log, in a pack older than the grace period);
              packs left by interrupted pushes (named by no index) that are old enough
    execute:  1. copy the live objects of packs that hold dead ones (or are mostly unused)
                 into new packs
              2. publish one index naming everything live
              3. delete the indexes read in the plan, then the packs nothing names any more

Killed at any point, the remote stays whole: until step 2 the old indexes name every live
object in the old packs; after it both the new and the old indexes do, and both sets of packs
exist; old packs are deleted only once no index names them.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

from dvx import faults
from dvx.errors import DvxError
from dvx.fsutil import FULL_DISK_ERRNOS
from dvx.hashing import hash_bytes
from dvx.logs import get_logger
from dvx.objects.layout import INDEXES_DIR, PACKS_DIR
from dvx.remote.pack_reads import READ_GAP, read_span
from dvx.remote.packed import PACK_ENTRIES, deduplicated, publish_index
from dvx.remote.packs import PACK_HEADER_SIZE, PackBuilder, Section, coalesce, pack_name
from dvx.remote.store import RemoteStore
from dvx.remote.transfer_result import Settings

log = get_logger(__name__)

SPARSE = 0.5  # a pack whose live objects fill less than this share of it is rewritten
CONSOLIDATE_ABOVE = 8  # more indexes than this: gc merges them even if nothing is deleted


@dataclass
class RepackPlan:
    indexes: list[str] = field(default_factory=list)  # read now, replaced by the new index
    loose_only: list[str] = field(default_factory=list)  # those of them that name no pack
    keep: list[Section] = field(default_factory=list)  # packs kept as they are
    rewrite: list[Section] = field(default_factory=list)  # their live entries only
    delete_packs: list[str] = field(default_factory=list)
    dead: dict[str, int] = field(default_factory=dict)  # packed oid -> bytes freed
    young: int = 0  # dead objects kept because their pack, or a push logging them, is recent
    loose: dict[str, int] = field(default_factory=dict)  # live loose entries of the indexes
    held_live: set[str] = field(default_factory=set)  # live oids in a pack that is there

    @property
    def changes(self) -> bool:
        return bool(self.rewrite or self.delete_packs or self.dead)


def plan(remote: RemoteStore, live: Collection[str], cutoff: float,
         dead_loose: Collection[str], pushed: Collection[str] = frozenset()) -> RepackPlan:
    """What gc would do to the packs of `remote`, keeping `live` oids, and as young the
    `pushed` ones (a push newer than `cutoff` logged them) and whatever sits in a pack younger
    than `cutoff`; `dead_loose` are the loose objects gc deletes."""
    inventory = remote.inventory
    result = RepackPlan(indexes=inventory.index_names(refresh=True))
    if inventory.newer:  # what its packs hold cannot be told from what nothing needs
        name = min(inventory.newer)
        raise DvxError(f"Nothing was deleted from the remote. {inventory.refused[name]} Until "
                       "dvx can read that index, gc cannot tell what it names from what "
                       "nothing needs.", "Upgrade dvx to run gc on this remote.")
    if inventory.refused:
        name, why = next(iter(inventory.refused.items()))
        raise DvxError(f"Nothing was deleted from the remote: its pack index {name} cannot be "
                       f"used ({why})", "Look at it with `dvx fsck --remote`; move the damaged "
                       "index out of the remote's indexes/ folder once its packs are "
                       "accounted for.")
    packs_listed = remote.list_packs()
    young: set[str] = set()
    merged: dict[str, Section] = {}
    naming_packs: set[str] = set()
    for index, section in inventory.sections(result.indexes):
        if section.pack is None:
            for oid, _, length in section.entries:
                if oid not in dead_loose:
                    result.loose[oid] = length
            continue
        naming_packs.add(index)
        into = merged.setdefault(section.pack, Section(section.pack, section.size))
        into.entries += section.entries
    for pack, section in sorted(merged.items()):
        entries = deduplicated(section).entries
        size_and_time = packs_listed.get(pack)
        recent = size_and_time is None or size_and_time[1] is None or size_and_time[1] > cutoff
        kept = [e for e in entries if e[0] in live or e[0] in pushed or recent]
        dead = [e for e in entries if not (e[0] in live or e[0] in pushed or recent)]
        young.update(e[0] for e in kept if e[0] not in live)
        live_bytes = sum(e[2] for e in kept)
        if size_and_time is None:  # named, but gone: nothing to copy from
            result.keep.append(Section(pack, section.size, entries))
            continue
        result.held_live.update(e[0] for e in entries if e[0] in live)
        payload = section.size - PACK_HEADER_SIZE
        if not dead and (recent or live_bytes >= SPARSE * payload):
            result.keep.append(Section(pack, section.size, entries))
            continue
        for oid, _, length in dead:
            result.dead[oid] = length
        if kept:
            result.rewrite.append(Section(pack, section.size, kept))
        result.delete_packs.append(pack)
    for pack, (_, mtime) in packs_listed.items():
        if pack not in merged and mtime is not None and mtime <= cutoff:
            result.delete_packs.append(pack)  # left by an interrupted push or repack
    for oid in list(result.dead):  # an object also in a kept pack is not freed
        if oid in live or oid in young:
            del result.dead[oid]
    result.young = len(young)
    result.loose_only = [name for name in result.indexes if name not in naming_packs]
    return result


def execute(remote: RemoteStore, plan: RepackPlan, settings: Settings,
            dead_loose: Collection[str]) -> None:
    """Carry out `plan`, then the index no longer names `dead_loose` (deleted by the caller
    after this returns)."""
    if not plan.changes and not dead_loose and len(plan.indexes) <= CONSOLIDATE_ABOVE:
        return
    with remote.blobs.session():
        fresh = _copy_live(remote, plan.rewrite, settings)
        loose = [(oid, 0, n) for oid, n in sorted(plan.loose.items()) if oid not in dead_loose]
        sections = plan.keep + fresh + ([Section(None, 0, loose)] if loose else [])
        published = _publish(remote, sections, settings, plan.loose_only) if sections else None
        faults.point("gc.repack.after_index")
        # The new index may have the very bytes, and so the name, of one it replaces.
        replaced = [f"{INDEXES_DIR}/{name}" for name in plan.indexes if name != published]
        if replaced:
            remote.retried.delete(replaced)
        faults.point("gc.repack.after_old_indexes")
        named = {section.pack for section in sections}  # never delete what the index names
        doomed = [f"{PACKS_DIR}/{pack}" for pack in plan.delete_packs if pack not in named]
        if doomed:
            remote.retried.delete(doomed)
    remote.forget_locations()


def _publish(remote: RemoteStore, sections: list[Section], settings: Settings,
             loose_only: list[str]) -> str:
    """Publish the index naming `sections`. On a full disk (gc is what makes room there), the
    replaced indexes that name no pack are deleted first to make room for it: that loses
    nothing, whenever gc stops, since a loose object is found without an index (and a push
    finds it there, or uploads it again), where an index naming a pack must stay until the
    new one names that pack, or the pack would be taken for one an interrupted push left."""
    try:
        return publish_index(remote, sections, settings)
    except OSError as exc:
        if exc.errno not in FULL_DISK_ERRNOS or not loose_only:
            raise
        log.debug("no room for the new index: deleting %d naming no pack first (%s)",
                  len(loose_only), exc)
    remote.retried.delete([f"{INDEXES_DIR}/{name}" for name in loose_only])
    return publish_index(remote, sections, settings)


def _copy_live(remote: RemoteStore, sections: list[Section], settings: Settings
               ) -> list[Section]:
    """New packs holding the live objects of `sections`, each object once: the first of its
    copies (an object may be in several packs, or twice in one) that is whole by its hash. An
    object with no whole copy is left behind, and said so."""
    fresh: list[Section] = []
    builder = PackBuilder()
    copied: set[str] = set()
    damaged: dict[str, str] = {}  # oid -> a pack holding a damaged copy of it

    def flush() -> None:
        nonlocal builder
        if not builder.entries:
            return
        data = builder.finish()
        name = pack_name(data, remote.algo)
        remote.retried.put(f"{PACKS_DIR}/{name}", data)
        faults.point("gc.repack.after_pack")
        fresh.append(Section(name, len(data), builder.entries))
        builder = PackBuilder()

    for section in sections:
        for span in coalesce(section, section.entries, READ_GAP, remote.pack_size):
            data = read_span(remote, span, settings)
            for oid, offset, length in span.entries:
                if oid in copied:
                    continue
                piece = span.piece(data, offset, length)
                if len(piece) != length or hash_bytes(piece, remote.algo) != oid:
                    damaged[oid] = span.pack
                    continue
                if builder.entries and (builder.size + length > remote.pack_size
                                        or len(builder.entries) >= PACK_ENTRIES):
                    flush()
                builder.add(oid, piece)
                copied.add(oid)
    flush()
    for oid, pack in sorted(damaged.items()):
        if oid not in copied:
            log.warning("gc: object %s in pack %s is damaged and was not kept; "
                        "`dvx push --repair` uploads it again", oid, pack)
    return fresh
