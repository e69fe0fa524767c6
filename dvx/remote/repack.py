"""gc --remote for packed objects: keep what is live, rewrite packs that hold what nothing needs.

    plan:     from the indexes and a listing of packs/, which packed objects are dead (not
              kept, not named by a recent push log, in a pack older than the grace period);
              which bytes of the old packs nothing needs (a second copy of an object another
              kept pack holds, a copy no index names any more); packs left by interrupted
              pushes (named by no index) that are old enough
    execute:  1. copy the needed objects of the packs that hold dead objects or unnamed
                 bytes (or mostly second copies) into new packs
              2. publish one index naming everything live
              3. log what leaves with the packs to delete (gclog.py), delete the indexes read
                 in the plan, then the packs nothing names any more, then the log

Killed at any point, the remote stays whole: until step 2 the old indexes name every live
object in the old packs; after it both the new and the old indexes do, and both sets of packs
exist; old packs are deleted only once no index names them. A gc stopped before it deleted
them leaves them named by no index, and the next one counts the objects that leave with them
from the log.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field

from dvx import faults
from dvx.errors import DvxError
from dvx.fsutil import FULL_DISK_ERRNOS
from dvx.hashing import hash_bytes
from dvx.logs import get_logger, shell_quote
from dvx.objects.layout import INDEXES_DIR, PACKS_DIR
from dvx.remote import gclog, leftovers
from dvx.remote.pack_reads import READ_GAP, read_span
from dvx.remote.packed import (
    PACK_ENTRIES,
    deduplicated,
    fitted_to_pack,
    mark_indexes_folder,
    merge_into,
    publish_index,
)
from dvx.remote.packs import PACK_HEADER_SIZE, PackBuilder, Section, coalesce, pack_name
from dvx.remote.store import RemoteStore
from dvx.remote.transfer_result import Settings

log = get_logger(__name__)

SPARSE = 0.5  # a pack whose needed objects fill less than this share of it is rewritten
CONSOLIDATE_ABOVE = 8  # more indexes than this: gc merges them even if nothing is deleted

Entry = tuple[str, int, int]  # (oid, offset, length) in a pack


class IndexesLacking(DvxError):
    """Objects gc keeps are named by no pack index, while a pack no index names, which gc
    would delete, may hold them: the remote looks damaged, unless a push is between its pack
    and its index (which only the remote's lock tells)."""


@dataclass
class RepackPlan:
    indexes: list[str] = field(default_factory=list)  # read now, replaced by the new index
    loose_only: list[str] = field(default_factory=list)  # those of them that name no pack
    keep: list[Section] = field(default_factory=list)  # packs kept as they are
    rewrite: list[Section] = field(default_factory=list)  # deleted packs' entries to copy
    # Deleted packs' entries of objects a kept pack holds too (`held_copies`): copied only
    # if that copy turns out damaged.
    spared: list[Section] = field(default_factory=list)
    held_copies: list[Section] = field(default_factory=list)
    delete_packs: list[str] = field(default_factory=list)
    dead: dict[str, int] = field(default_factory=dict)  # packed oid -> bytes freed
    young: int = 0  # dead objects kept because their pack, or a push logging them, is recent
    loose: dict[str, int] = field(default_factory=dict)  # live loose entries of the indexes
    held_live: set[str] = field(default_factory=set)  # live oids in a pack that is there
    # Objects gc keeps that the indexes name only in packs gone from the remote, and not
    # stored loose either: lost. Those entries stay named (`keep`), so that a pull says
    # lost, until `fsck --remote` or `push --repair` takes them out.
    lost: set[str] = field(default_factory=set)
    gone: list[str] = field(default_factory=list)  # the named packs that held them
    unindexed: dict[str, int] = field(default_factory=dict)  # deleted packs no index names
    # Of `dead`, the objects leaving with those of `unindexed` that an interrupted gc was
    # deleting (its gc log names them), and their bytes.
    unindexed_dead: dict[str, int] = field(default_factory=dict)
    # Of `unindexed_dead`, where those the log places lie: oid -> (pack, offset, length).
    unindexed_at: dict[str, tuple[str, int, int]] = field(default_factory=dict)
    logged_unindexed: int = 0  # of `unindexed`, the packs an interrupted gc's log names
    # pack -> {oid: length} of the dead objects each deleted pack the indexes name holds:
    # what the gc log written before the indexes are replaced names (gclog.py).
    leaving: dict[str, dict[str, int]] = field(default_factory=dict)
    leaving_at: dict[str, dict[str, int]] = field(default_factory=dict)  # their offsets
    finished_logs: list[str] = field(default_factory=list)  # gc logs deleted once this is done
    # Bytes of the deleted named packs that are neither copied nor dead objects: second
    # copies of an object, copies taken out of the indexes as damaged.
    copies_freed: int = 0

    @property
    def changes(self) -> bool:
        return bool(self.rewrite or self.delete_packs or self.dead)


@dataclass
class _OldPack:
    """A pack older than the grace period: its entries to keep and those that are dead."""
    section: Section
    kept: list[Entry]
    dead: list[Entry]

    @property
    def payload(self) -> int:
        return self.section.size - PACK_HEADER_SIZE

    @property
    def rewritten_anyway(self) -> bool:
        """Whether it holds what nothing may keep: a dead object, or bytes no index names
        (a damaged copy `fsck --remote` took out of the indexes)."""
        named = sum(length for _, _, length in self.section.entries)
        return bool(self.dead) or named < self.payload


def plan(remote: RemoteStore, live: Collection[str], cutoff: float,
         dead_loose: Collection[str], pushed: Collection[str] = frozenset(),
         stored_loose: Collection[str] | None = None,
         seek: Callable[[set[str]], leftovers.Sought] | None = None) -> RepackPlan:
    """What gc would do to the packs of `remote`, keeping `live` oids, and as young the
    `pushed` ones (a push newer than `cutoff` logged them) and whatever sits in a pack younger
    than `cutoff`; `dead_loose` are the loose objects gc deletes; `stored_loose`, the loose
    objects a listing of the remote found (listed here when needed, if not given); `seek`,
    how the `live` objects no index names are looked for in the packs no index names (none:
    any such pack may hold them). An old
    pack is rewritten when it holds a dead object or bytes no index names (a damaged copy
    taken out of the indexes), or when the objects only it holds fill less than SPARSE of it
    (the rest being second copies of objects a kept pack holds). A pack the indexes name that
    the remote lacks holds nothing: what gc keeps that only it held is `lost`, and counts as
    named by no index, so a pack no index names that may hold it is not deleted."""
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
    named_loose: list[Section] = []
    for index, section in inventory.sections(result.indexes):
        if section.pack is None:
            named_loose.append(section)
            for oid, _, length in section.entries:
                if oid not in dead_loose:
                    result.loose[oid] = length
            continue
        naming_packs.add(index)
        merge_into(merged, section, section.entries)
    holders: dict[str, tuple[Section, Entry]] = {}  # oid -> a copy in a pack that stays
    old: list[_OldPack] = []
    gone: list[Section] = []
    present: list[Section] = []  # of the packs the listing has, at their real sizes
    for pack, section in sorted(merged.items()):
        section = fitted_to_pack(remote, section, packs_listed)
        size_and_time = packs_listed.get(pack)
        if size_and_time is None:  # named, but gone: it holds nothing to rely on
            gone.append(section)
            continue
        present.append(section)
        if size_and_time[1] is None or size_and_time[1] > cutoff:
            young.update(e[0] for e in section.entries if e[0] not in live)
            result.keep.append(section)
            result.held_live.update(e[0] for e in section.entries if e[0] in live)
            _hold(holders, section, section.entries)
            continue
        result.held_live.update(e[0] for e in section.entries if e[0] in live)
        kept = [e for e in section.entries if e[0] in live or e[0] in pushed]
        dead = [e for e in section.entries if not (e[0] in live or e[0] in pushed)]
        young.update(e[0] for e in kept if e[0] not in live)
        old.append(_OldPack(section, kept, dead))
    if gone:
        stored_loose = _lost_in(remote, gone, present, live, pushed, stored_loose, result)
    deleted = _keep_the_fullest(old, holders, result)
    _delete(deleted, holders, result)
    for pack, (size, mtime) in packs_listed.items():
        if pack not in merged and mtime is not None and mtime <= cutoff:
            result.delete_packs.append(pack)  # left by an interrupted push or gc
            result.unindexed[pack] = size
    logged = gclog.read(remote)
    if result.unindexed:
        _refuse_if_unindexed_needed(remote, live, [*present, *named_loose], result,
                                    stored_loose, seek, logged)
    for oid in list(result.dead):  # an object also in a kept pack is not freed
        if oid in live or oid in young:
            del result.dead[oid]
    copied = {oid: length for section in result.rewrite for oid, _, length in section.entries}
    result.copies_freed = max(0, sum(p.payload for p in deleted) - sum(copied.values())
                              - sum(result.dead.values()))
    result.leaving = {pack: still for pack, objects in result.leaving.items()
                      if (still := {oid: n for oid, n in objects.items() if oid in result.dead})}
    held = {oid for section in [*present, *named_loose] for oid, _, _ in section.entries}
    stored_loose = _left_by_gc(remote, logged, result, held | set(live) | set(pushed) | young,
                               stored_loose)
    result.dead.update(result.unindexed_dead)
    logged_packs = set().union(*logged.logs.values())
    result.logged_unindexed = len(result.unindexed.keys() & logged_packs)
    lingering = {pack for pack in packs_listed if pack not in merged} - result.unindexed.keys()
    result.finished_logs = [name for name, packs in logged.logs.items()
                            if not packs & lingering]
    result.keep.sort(key=lambda section: section.pack or "")
    result.young = len(young)
    result.loose_only = [name for name in result.indexes if name not in naming_packs]
    return result


def _left_by_gc(remote: RemoteStore, logged: gclog.Logged, result: RepackPlan,
                kept: set[str], stored_loose: Collection[str] | None
                ) -> Collection[str] | None:
    """The objects leaving with the packs no index names that gc deletes, as the logs of an
    interrupted gc name them (`unindexed_dead`): those no index names now, that gc does not
    keep, and that are not stored loose either. Returns the listing of the loose objects,
    made here if none was given and one was needed."""
    leaving = {oid: n for pack in result.unindexed for oid, n in logged.leaving.get(
        pack, {}).items() if oid not in kept}
    if leaving:
        stored_loose = set(remote.list_loose()) if stored_loose is None else stored_loose
        result.unindexed_dead = {oid: n for oid, n in leaving.items() if oid not in stored_loose}
        result.unindexed_at = {oid: (pack, offset, logged.leaving[pack][oid])
                               for pack in result.unindexed
                               for oid, offset in logged.offsets.get(pack, {}).items()
                               if oid in result.unindexed_dead}
    return stored_loose


def _lost_in(remote: RemoteStore, gone: list[Section], present: list[Section],
             live: Collection[str], pushed: Collection[str],
             stored_loose: Collection[str] | None, result: RepackPlan
             ) -> Collection[str] | None:
    """Plan the named packs `gone` from the remote: of their entries, those of objects gc
    keeps (`live` or `pushed`) that no pack there (`present`) holds, nor a loose copy, are
    lost, and stay named as they are; the others are named no more. Returns the listing of
    the loose objects, made here if none was given and one was needed."""
    there = {oid for section in present for oid, _, _ in section.entries}
    wanted = {oid for section in gone for oid, _, _ in section.entries
              if (oid in live or oid in pushed) and oid not in there}
    if wanted:
        stored_loose = set(remote.list_loose()) if stored_loose is None else stored_loose
        wanted.difference_update(stored_loose)
    for section in gone:
        entries = [entry for entry in section.entries if entry[0] in wanted]
        if entries:
            assert section.pack is not None
            result.keep.append(Section(section.pack, section.size, entries))
            result.gone.append(section.pack)
    result.lost = wanted
    return stored_loose


def _refuse_if_unindexed_needed(remote: RemoteStore, live: Collection[str],
                                named: list[Section], result: RepackPlan,
                                stored_loose: Collection[str] | None,
                                seek: Callable[[set[str]], leftovers.Sought] | None,
                                logged: gclog.Logged) -> None:
    """Refuse to delete the packs no index names while objects the scope needs are named by
    no index (of those `named`) and not stored loose either, and one of those packs may hold
    them (leftovers.py): the remote then looks damaged (indexes lost, say to a copy that
    missed some), unless the log of an interrupted gc (`logged`) names them all as leaving
    with those packs (a gc whose scope left out what this one keeps). Needed objects that
    were never pushed there (a teammate's unpushed commit) are in no such pack, which gc
    then deletes once it has looked."""
    needed = set(live).difference(*({oid for oid, _, _ in s.entries} for s in named))
    if needed:
        needed -= set(remote.list_loose() if stored_loose is None else stored_loose)
    if not needed:
        return
    by_gc = {oid: pack for pack in sorted(result.unindexed, reverse=True)
             for oid in logged.leaving.get(pack, {}) if oid in needed}
    if by_gc.keys() == needed:
        raise _left_by_a_stopped_gc(by_gc, remote.name or "NAME")
    sought = seek(needed) if seek is not None else leftovers.Sought(
        sizes={oid: set() for oid in needed})
    search = leftovers.Search(sought, remote.algo)
    unknown: list[str] = []  # the packs that may hold them
    holding: str | None = None  # the first found to hold one
    for pack, size in sorted(result.unindexed.items()):
        if search.may_hold(remote, pack, size):
            unknown.append(pack)
            holding = holding or (pack if search.found is not None else None)
    if not unknown:
        return
    count, packs, name = len(needed), len(unknown), remote.name or "NAME"
    shown = unknown[0] if holding is None else f"{holding}, which holds {search.found}"
    if needed & result.lost:
        raise _lost_with_a_pack(needed & result.lost, result, search.found, packs, shown, name)
    raise IndexesLacking(
        f"Nothing was deleted from the remote: {count} object{'' if count == 1 else 's'} "
        f"that gc keeps (such as {search.found or min(needed)}) "
        f"{'is' if count == 1 else 'are'} named by none of its pack indexes and not stored "
        f"loose there, while {packs} pack{'' if packs == 1 else 's'} that no index names "
        f"(such as {shown}) would be deleted, which may hold them: the remote looks "
        "damaged (indexes lost, as by a copy of it that missed some).",
        f"Look at it with `dvx fsck --remote {shell_quote(name)}`, and put back the indexes it "
        "lacks; if those objects were never pushed (a push stopped early), `dvx push` them first.")


def _left_by_a_stopped_gc(by_gc: dict[str, str], name: str) -> IndexesLacking:
    """The refusal of `_refuse_if_unindexed_needed` when an interrupted gc's log names every
    object gc keeps that no index names, as leaving with a pack (`by_gc`: oid -> pack) that
    gc replaced the indexes of and did not delete: those packs hold them, but nothing says
    where in them (a pack says nothing of its objects), so they are uploaded again."""
    count, (oid, pack) = len(by_gc), min(by_gc.items())
    return IndexesLacking(
        f"Nothing was deleted from the remote: {count} object{'' if count == 1 else 's'} "
        f"that gc keeps (such as {oid}) {'was' if count == 1 else 'were'} being deleted with "
        f"pack {pack} by an interrupted `dvx gc --remote` whose scope left "
        f"{'it' if count == 1 else 'them'} out (its log on the remote names "
        f"{'it' if count == 1 else 'them'}), and no index names "
        f"{'it' if count == 1 else 'them'} any more.",
        f"Run `dvx push -r {shell_quote(name)}` (with the same -a/-T/-A/--rev options) from a "
        f"clone whose cache has {'it' if count == 1 else 'them'} to upload "
        f"{'it' if count == 1 else 'them'} again; gc then deletes the packs no index names.")


def _lost_with_a_pack(lost: set[str], result: RepackPlan, found: str | None, packs: int,
                      shown: str, name: str) -> IndexesLacking:
    """The refusal of `_refuse_if_unindexed_needed` when objects gc keeps were named only in
    packs gone from the remote: a pack no index names may be their one copy left."""
    count, gone = len(lost), len(result.gone)
    named_in = (f"pack {result.gone[0]}, which is" if gone == 1 else
                f"{gone} packs (such as {result.gone[0]}), which are")
    return IndexesLacking(
        f"Nothing was deleted from the remote: {count} object{'' if count == 1 else 's'} "
        f"that gc keeps (such as {found if found in lost else min(lost)}) "
        f"{'is' if count == 1 else 'are'} named by its pack indexes only in {named_in} gone "
        f"from the remote, and not stored loose there, while {packs} "
        f"pack{'' if packs == 1 else 's'} that no index names (such as {shown}) would be "
        "deleted, which may hold them: the remote lost data (a pack deleted outside dvx, or "
        "missed by a copy of the remote).",
        f"{repair_advice(name)} Then gc deletes what no index names.")


def repair_advice(name: str) -> str:
    """How the objects gc keeps that packs gone from the remote `name` held are uploaded
    again, for gc's refusal and its report of lost packs."""
    return (f"Run `dvx push --repair -r {shell_quote(name)}` (with the same -a/-T/-A/--rev "
            "options) from a clone whose cache has the data: it takes what is gone out of the "
            f"indexes and uploads it again (`dvx fsck --remote {shell_quote(name)}` lists what "
            "the remote lacks).")


def _hold(holders: dict[str, tuple[Section, Entry]], section: Section,
          entries: list[Entry]) -> None:
    for entry in entries:
        holders.setdefault(entry[0], (section, entry))


def _keep_the_fullest(old: list[_OldPack], holders: dict[str, tuple[Section, Entry]],
                      result: RepackPlan) -> list[_OldPack]:
    """Keep the old packs not rewritten anyway whose objects no kept pack holds yet fill
    SPARSE of them, fullest first, so that of an object packed twice the copy in the pack
    kept anyway stays; the others, to be deleted."""
    deleted: list[_OldPack] = []
    by_worth = sorted(old, key=lambda p: (p.rewritten_anyway, -sum(e[2] for e in p.kept),
                                          p.section.pack or ""))
    for pack in by_worth:
        own = {oid: length for oid, _, length in pack.kept if oid not in holders}
        if pack.rewritten_anyway or sum(own.values()) < SPARSE * pack.payload:
            deleted.append(pack)
            continue
        result.keep.append(pack.section)
        _hold(holders, pack.section, pack.kept)
    return sorted(deleted, key=lambda p: p.section.pack or "")


def _delete(deleted: list[_OldPack], holders: dict[str, tuple[Section, Entry]],
            result: RepackPlan) -> None:
    """Plan the deletion of `deleted`: their dead objects go, the objects a kept pack holds
    too are spared (that copy is checked first), the rest are copied."""
    held: dict[str, Section] = {}
    for pack in deleted:
        name, size = pack.section.pack, pack.section.size
        for oid, _, length in pack.dead:
            result.dead[oid] = length
        assert name is not None
        result.leaving[name] = {oid: length for oid, _, length in pack.dead}
        result.leaving_at[name] = {oid: offset for oid, offset, _ in pack.dead}
        needed = [e for e in pack.kept if e[0] not in holders]
        spared = [e for e in pack.kept if e[0] in holders]
        if needed:
            result.rewrite.append(Section(name, size, needed))
        if spared:
            result.spared.append(Section(name, size, spared))
        for oid, _, _ in spared:
            holder, entry = holders[oid]
            assert holder.pack is not None
            into = held.setdefault(holder.pack, Section(holder.pack, holder.size))
            into.entries.append(entry)
        assert name is not None
        result.delete_packs.append(name)
    result.held_copies = [deduplicated(section) for _, section in sorted(held.items())]


def execute(remote: RemoteStore, plan: RepackPlan, settings: Settings,
            dead_loose: Collection[str]) -> None:
    """Carry out `plan`, then the index no longer names `dead_loose` (deleted by the caller
    after this returns)."""
    if not plan.changes and not dead_loose and len(plan.indexes) <= CONSOLIDATE_ABOVE:
        _delete_logs(remote, plan.finished_logs)
        return
    with remote.blobs.session():
        fresh = _copy_live(remote, plan.rewrite + _unless_held(remote, plan, settings),
                           settings)
        loose = [(oid, 0, n) for oid, n in sorted(plan.loose.items()) if oid not in dead_loose]
        sections = plan.keep + fresh + ([Section(None, 0, loose)] if loose else [])
        if not sections:
            mark_indexes_folder(remote)
        published = _publish(remote, sections, settings, plan.loose_only) if sections else None
        faults.point("gc.repack.after_index")
        # The new index may have the very bytes, and so the name, of one it replaces.
        replaced = [f"{INDEXES_DIR}/{name}" for name in plan.indexes if name != published]
        named = {section.pack for section in sections}  # never delete what the index names
        doomed = [pack for pack in plan.delete_packs if pack not in named]
        # Once the indexes are replaced, only this log says what leaves with those packs.
        written = gclog.record(remote, {pack: plan.leaving[pack] for pack in doomed
                                        if plan.leaving.get(pack)},
                               plan.leaving_at) if replaced else []
        if replaced:
            remote.retried.delete(replaced)
        faults.point("gc.repack.after_old_indexes")
        if doomed:
            remote.retried.delete([f"{PACKS_DIR}/{pack}" for pack in doomed])
        _delete_logs(remote, written + plan.finished_logs)
    remote.forget_locations()


def _delete_logs(remote: RemoteStore, names: list[str]) -> None:
    """Delete the gc logs `names`, whose packs are gone: one left is only read again."""
    if names:
        remote.delete_logs(gclog.KIND, names)


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


def _unless_held(remote: RemoteStore, plan: RepackPlan, settings: Settings
                 ) -> list[Section]:
    """The spared entries whose copy in a kept pack is damaged: those are copied after all
    (when the spared copy is whole), so that gc never leaves only a damaged copy named."""
    damaged = {oid: pack for pack, oid, piece in _pieces(remote, plan.held_copies, settings)
               if piece is None}
    for oid, pack in sorted(damaged.items()):
        log.warning("gc: object %s is damaged in pack %s, which stays: its copy in a pack "
                    "gc deletes is kept instead; `dvx fsck --remote` takes the damaged one out "
                    "of the indexes", oid, pack)
    spared = [Section(s.pack, s.size, [e for e in s.entries if e[0] in damaged])
              for s in plan.spared]
    return [section for section in spared if section.entries]


def _pieces(remote: RemoteStore, sections: list[Section], settings: Settings
            ) -> Iterator[tuple[str, str, bytes | None]]:
    """(pack, oid, bytes) of each entry of `sections`, read in coalesced ranges; bytes None
    for a copy that is cut short or does not hash to its oid."""
    for section in sections:
        for span in coalesce(section, section.entries, READ_GAP, remote.pack_size):
            data = read_span(remote, span, settings)
            for oid, offset, length in span.entries:
                piece = span.piece(data, offset, length)
                whole = len(piece) == length and hash_bytes(piece, remote.algo) == oid
                yield span.pack, oid, piece if whole else None


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

    for pack, oid, piece in _pieces(remote, sections, settings):
        if oid in copied:
            continue
        if piece is None:
            damaged[oid] = pack
            continue
        if builder.entries and (builder.size + len(piece) > remote.pack_size
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
