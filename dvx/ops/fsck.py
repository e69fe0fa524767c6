"""dvx fsck: re-hash objects in the cache (or on a remote) and move corrupt ones aside.

Corrupt objects are quarantined, never deleted: `<cache>/quarantine/<oid>.<time>` locally,
`<remote>/quarantine/<oid>.<time>` on a remote. A remote object found corrupt is replaced
from a verified local copy by `dvx push --repair` (or by a plain push, now that it is gone).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from dvx import faults
from dvx.errors import FormatError, LockError
from dvx.fsutil import describe
from dvx.logs import get_logger
from dvx.ops.remote import default_remote, lock_remote, open_remote, own_remote, settings_for
from dvx.ops.sync import belonging_on, held_by_workspace, wanted_objects
from dvx.outputs import Target, load_tree, resolve_targets, scan_outputs
from dvx.pointer import WrongCounts
from dvx.remote import gclog, leftovers, locks, pack_reads, packed, transfer
from dvx.remote.store import RemoteStore
from dvx.remote.transfer_result import lost_with_its_pack
from dvx.repo import Repo
from dvx.threads import map_in_threads
from dvx.workspace import keep_changed_bytes

log = get_logger(__name__)


@dataclass
class FsckResult:
    where: str  # "cache" or "remote NAME"
    checked: int = 0
    corrupt: dict[str, str] = field(default_factory=dict)  # oid -> what is wrong
    quarantined: dict[str, str] = field(default_factory=dict)  # oid -> where it went
    # Workspace files that were symlinks to a quarantined object, now files of their own
    # holding its bytes (`keep_changed_bytes`)
    kept: list[str] = field(default_factory=list)
    unchecked: int = 0  # --fast: objects whose size is not recorded anywhere
    missing: dict[str, str] = field(default_factory=dict)  # oid -> a path that needs it
    # Missing ones that a plain `dvx push` sends to another remote than this one (their
    # output's own, `remote:` in dvx.yaml, else the default one): oid -> that remote.
    pushed_to: dict[str, str] = field(default_factory=dict)
    # Missing ones the cache here lacks too (a partial pull): a push from here cannot send
    # them before a fetch brings them.
    uncached: set[str] = field(default_factory=set)
    # Missing ones the cache here lost and the workspace still holds unchanged: oid -> the
    # path as a command run here names it, for `dvx commit PATH` to store again
    held_here: dict[str, str] = field(default_factory=dict)
    default_remote: str | None = None
    # Named by the indexes, and every copy gone (a pack or loose object deleted outside dvx),
    # though nothing checked needs them: those something needs are `missing`.
    lost: set[str] = field(default_factory=set)
    # oid -> what has its name: on a remote, a path that needs it; in the cache, its own path
    not_objects: dict[str, str] = field(default_factory=dict)
    retired: set[str] = field(default_factory=set)  # corrupt packed oids the indexes dropped
    # Of `corrupt`, those no target checked needs (an older commit's data, say): a push of
    # the same targets uploads none of them again.
    unneeded_corrupt: set[str] = field(default_factory=set)
    # Of `unneeded_corrupt`, those no commit needs either (pushed but never committed, or a
    # deleted branch's): no push uploads them again. Looked for only when `fsck_remote` was
    # given `every_commit`.
    uncommitted_corrupt: set[str] = field(default_factory=set)
    damaged_indexes: dict[str, str] = field(default_factory=dict)  # index name -> why
    # Index name -> how it misstates the size of a pack (pack_reads.PackCheck.misstated);
    # `restated`: replaced by one giving each pack the size it has.
    misstated_indexes: dict[str, str] = field(default_factory=dict)
    restated: bool = False
    # Indexes a newer dvx wrote (index name -> what it says): what they name went unchecked,
    # and may be what is reported missing or the packs no index names.
    newer_indexes: dict[str, str] = field(default_factory=dict)
    unindexed_packs: int = 0  # packs no index names (an interrupted push or gc left them)
    # Of `unindexed_packs`, those an interrupted gc was deleting (its gc log names them).
    left_by_gc: int = 0
    # Of `missing`, those no index names either, while such packs are there: an index of
    # them may be lost, and `gc --remote` keeps those packs (repack.py).
    missing_unindexed: int = 0
    # Of those, oid -> the pack no index names that an interrupted gc was deleting it with
    # (its gc log names it): that gc's scope left out what these revisions need.
    missing_left_by_gc: dict[str, str] = field(default_factory=dict)
    # Of `unindexed_packs`, those whose bytes no longer hash to their names: damaged after
    # they were written, so left by no push; a `fsck --remote` took every copy in them out of
    # the indexes as damaged. Looked for only while objects are `missing`.
    damaged_unindexed: int = 0
    # --fast reads no pack whole, so it cannot tell whether any of `unindexed_packs` was
    # damaged after being written (`damaged_unindexed` stays 0).
    unindexed_unhashed: bool = False
    # Of `unindexed_packs` but the damaged ones, those younger than gc's grace period: a push
    # may be uploading them now (leftovers.YOUNG_PACK_SECONDS), so they tell nothing of lost
    # indexes yet.
    young_unindexed_packs: int = 0
    # oid -> why: objects of the cache this user may not read (a teammate's, kept private in
    # a shared cache), so not checked
    unreadable: dict[str, str] = field(default_factory=dict)
    read_only: bool = False  # a remote dvx cannot write to: problems reported, none repaired
    read_only_kind: bool = False  # read-only by its kind (HTTP), not by what this user may do
    algo: str = ""  # the algorithm of the objects checked (core.hash)
    # In the cache: {algorithm: how many objects} of the other algorithms' objects, not
    # checked (core.hash names the one in use)
    other_algorithms: dict[str, int] = field(default_factory=dict)
    # In the cache: path -> what its pointer file records wrongly of the data its oid names
    # (its size or number of files), which the cache tells
    wrong_pointers: dict[str, WrongCounts] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not (self.corrupt or self.missing or self.lost or self.not_objects
                    or self.damaged_indexes or self.misstated_indexes or self.newer_indexes
                    or self.unreadable
                    or self.wrong_pointers)

    def to_json(self) -> dict[str, object]:
        return {"where": self.where, "checked": self.checked, "unchecked": self.unchecked,
                "corrupt": [{"oid": oid, "problem": why, "moved_to": self.quarantined.get(oid),
                             "retired": oid in self.retired}
                            for oid, why in sorted(self.corrupt.items())],
                # `pushed_to`: the remote `dvx push` sends it to when that is not this one
                "missing": [{"oid": oid, "path": path, "pushed_to": self.pushed_to.get(oid),
                             "held_here": self.held_here.get(oid)}
                            for oid, path in sorted(self.missing.items(), key=lambda kv: kv[1])],
                "lost": sorted(self.lost),
                "not_objects": [{"oid": oid, "path": path}
                                for oid, path in sorted(self.not_objects.items())],
                "damaged_indexes": [{"index": name, "problem": why}
                                    for name, why in sorted(self.damaged_indexes.items())],
                "misstated_indexes": [{"index": name, "problem": why,
                                       "replaced": self.restated}
                                      for name, why in sorted(self.misstated_indexes.items())],
                "newer_indexes": [{"index": name, "problem": why}
                                  for name, why in sorted(self.newer_indexes.items())],
                "unindexed_packs": self.unindexed_packs, "left_by_gc": self.left_by_gc,
                "missing_left_by_gc": dict(sorted(self.missing_left_by_gc.items())),
                "young_unindexed_packs": self.young_unindexed_packs,
                "damaged_unindexed_packs": self.damaged_unindexed, "kept": self.kept,
                "algo": self.algo, "other_algorithms": self.other_algorithms,
                "unreadable": [{"oid": oid, "problem": why}
                               for oid, why in sorted(self.unreadable.items())],
                "wrong_pointers": [{"path": path, **wrong.to_json()}
                                   for path, wrong in sorted(self.wrong_pointers.items())]}


def fsck_cache(repo: Repo) -> FsckResult:
    cache = repo.cache
    oids = sorted(cache.list_oids())
    result = FsckResult("cache", checked=len(oids), algo=cache.algo,
                        other_algorithms=cache.objects_of_other_algorithms())
    with repo.lock(), repo.progress.task("Checking the cache", len(oids), "object") as advance:

        def check(oid: str) -> bool | PermissionError:
            try:
                good: bool | PermissionError = cache.verify(oid)
            except PermissionError as exc:  # reported, and the others still checked
                good = exc
            advance(1)
            return good

        for oid, good in zip(oids, map_in_threads(check, oids), strict=True):
            if isinstance(good, PermissionError):
                result.unreadable[oid] = describe(good)
            elif not good:
                if not result.corrupt:
                    cache.new_generation()
                result.corrupt[oid] = "its bytes do not hash to its oid"
                result.quarantined[oid] = cache.quarantine(oid)
        if result.quarantined:
            result.kept = keep_changed_bytes(repo, result.quarantined)
        result.not_objects = cache.directories_with_object_names()
        result.wrong_pointers = _wrong_pointers(repo, set(result.corrupt))
    return result


def _wrong_pointers(repo: Repo, corrupt: set[str]) -> dict[str, WrongCounts]:
    """The pointer files whose size or number of files is not that of the data their oid
    names, as the cache holds it (an object found `corrupt` tells nothing); data the cache
    lacks is not judged, nor a pointer that cannot be read (another algorithm's, say), which
    the commands that read it name."""
    wrong = {}
    for output in scan_outputs(repo)[0]:
        pointer = output.pointer
        if output.stage is not None or pointer.oid in corrupt or not repo.cache.exists(
                pointer.oid):
            continue
        if not pointer.is_dir:
            found = pointer.wrong_counts(repo.cache.size(pointer.oid), None)
        else:
            try:
                tree = load_tree(repo, pointer, output.recorded_in)
            except FormatError:  # an invalid manifest, which the commands reading it name
                continue
            found = None if tree is None else pointer.wrong_counts(*tree.recorded_counts())
        if found is not None:
            wrong[output.path] = found
    return wrong


def fsck_remote(repo: Repo, remote_name: str | None, fast: bool = False,
                jobs: int | None = None, targets: list[Target] | None = None,
                every_commit: Callable[[], list[Target]] | None = None) -> FsckResult:
    """Verify every object on the remote, and find the objects that `targets` (default: the
    workspace's) need and the remote lacks. `every_commit` gives the targets of every commit,
    asked for only when a corrupt object is one `targets` do not need: those no commit needs
    are `uncommitted_corrupt`."""
    name, remote = open_remote(repo, remote_name)
    remote.blobs.prepare(create=False)
    settings = settings_for(repo, name, remote, jobs)
    # What `dvx push -r NAME` uploads there, whatever remote a plain push sends it to
    targets = belonging_on(repo, resolve_targets(repo, []) if targets is None else targets,
                           name)[name]
    # The remote's own index bytes, not this repository's copies of them: one damaged there
    # since is refused here as in a clone that never saw it, and by the commands after.
    remote.inventory.recheck()
    # A directory's files are known from its manifest: fetch the manifests this cache lacks.
    manifests = {t.output.pointer.oid for t in targets if t.output.pointer.is_dir}
    transfer.download(remote, repo.cache, manifests, settings)
    problems: list[str] = []
    wanted = wanted_objects(repo, targets, problems)
    needed = {**wanted.files, **dict.fromkeys(manifests, 0)}
    sizes = dict(wanted.files)
    remote.inventory.index_names()
    faults.point("fsck.after_listing_indexes")  # where another clone's gc may repack
    in_packs = pack_reads.verify(remote, settings, fast)  # what the indexes place in packs
    gone: set[str] = set()  # loose objects the indexes name that are not there
    # A loose copy is checked where no packed copy is whole: it is a copy of its own.
    packed_whole = in_packs.checked - in_packs.corrupt.keys()
    if remote.can_list:
        listed = set(remote.list_loose())
        loose = listed - packed_whole
        gone = _named_loose(remote) - listed
    else:  # e.g. HTTP: only what this workspace refers to can be named
        loose = transfer.present_on(remote, set(needed), settings) - packed_whole
    for oid in loose - sizes.keys():  # sizes of local copies stand in where none is recorded
        if repo.cache.exists(oid):
            sizes[oid] = repo.cache.size(oid)
    result = FsckResult(f"remote {name}",
                        damaged_indexes={name: why for name, why
                                         in remote.inventory.refused.items()
                                         if name not in remote.inventory.newer},
                        newer_indexes={name: remote.inventory.refused[name]
                                       for name in remote.inventory.newer},
                        read_only=remote.read_only, read_only_kind=remote.read_only,
                        algo=remote.algo)
    if fast:
        result.unchecked = len(loose - sizes.keys())
    problems_found = transfer.verify_on(remote, loose, settings, sizes, fast=fast)
    loose_whole = loose - problems_found.keys()
    # A read-only remote (HTTP) is only reported on: dvx moves nothing there, and takes no
    # lock on it, as nothing writes to it through dvx. So is one this user may only read (a
    # read-only share or key), found when the first move is refused.
    repairs = not result.read_only
    for oid, why in sorted(problems_found.items()):
        result.corrupt[oid] = why
        if repairs and not why.startswith("could not be read") and not lost_with_its_pack(why):
            moved = _moved_aside(remote, oid)
            if moved is None:
                result.read_only, repairs = True, False
            else:
                result.quarantined[oid] = moved
    # An index that names a loose object moved aside, or deleted by hand, would make push
    # count it as there.
    moved_but_indexed = packed.indexed_loose(remote, result.quarantined) | gone
    if repairs and (in_packs.corrupt or in_packs.lost or in_packs.bad_copies
                    or in_packs.misstated or moved_but_indexed):
        in_packs = _settle(repo, name, remote, settings, fast, in_packs, moved_but_indexed,
                           loose_whole, result)
    else:
        result.lost |= gone
    # From the second look when there was one: a gc's repack since the first leaves a pack
    # the first look's indexes do not name, and objects they place in a pack now deleted.
    result.checked = len(loose | in_packs.checked)
    result.unindexed_packs = len(in_packs.unindexed_packs)
    if in_packs.unindexed_packs:
        logged = set().union(*gclog.read(remote).logs.values())
        result.left_by_gc = len(logged & set(in_packs.unindexed_packs))
    result.misstated_indexes = in_packs.misstated
    result.lost |= in_packs.lost
    result.corrupt.update((oid, why) for oid, why in in_packs.corrupt.items()
                          if oid not in loose_whole)
    result.unneeded_corrupt = result.corrupt.keys() - needed.keys()
    if result.unneeded_corrupt and every_commit is not None:
        result.uncommitted_corrupt = result.unneeded_corrupt - _needed_by(
            repo, name, remote, settings, every_commit())
    for t in targets:
        wanted.paths.add(t.output)
    lacking = sorted(set(needed) - loose - in_packs.checked)
    paths = wanted.paths.lookup(lacking)
    result.lost -= loose | set(lacking)  # a loose copy is there, or listed as missing
    for oid in lacking:
        path = paths.get(oid, "?")
        if remote.blobs.is_directory(remote.oid_name(oid)):
            result.not_objects[oid] = path  # a directory made by hand has the object's name
        else:
            result.missing[oid] = path
    if result.unindexed_packs and result.missing:
        faults.point("fsck.before_unindexed_packs")  # where a push may leave or index a pack
        remote.inventory.forget()  # as the indexes are now, `_settle` having changed them
        # Counted all from one listing: two, a push or gc in between, would not add up.
        unindexed = remote.unindexed_pack_times()
        young_since = time.time() - leftovers.YOUNG_PACK_SECONDS
        result.unindexed_packs = len(unindexed)
        # A damaged pack is no push's, and fsck found each copy it held damaged: neither
        # tells of an index lost.
        # Hashing each whole is what --fast is asked not to do (it compares sizes).
        damaged = set() if fast else pack_reads.altered(remote, unindexed)
        result.unindexed_unhashed = fast and bool(unindexed)
        result.damaged_unindexed = len(damaged)
        unindexed = {pack: mtime for pack, mtime in unindexed.items() if pack not in damaged}
        result.young_unindexed_packs = sum(1 for mtime in unindexed.values()
                                           if mtime is not None and mtime >= young_since)
        absent = set(remote.inventory.absent(result.missing)) if unindexed else set()
        result.missing_unindexed = len(absent)
        if absent:
            leaving = gclog.read(remote).leaving
            result.missing_left_by_gc = {oid: pack for pack in sorted(unindexed, reverse=True)
                                         for oid in leaving.get(pack, {}) if oid in absent}
    _note_sent_elsewhere(repo, name, targets, result)
    result.uncached = set(repo.cache.missing(result.missing))
    result.held_here = held_by_workspace(repo, targets, result.missing)
    return result


def _needed_by(repo: Repo, name: str, remote: RemoteStore, settings: transfer.Settings,
               targets: list[Target]) -> set[str]:
    """The objects `targets` need on the remote `name`: their files, and the manifests of
    their directories, fetched where the cache lacks them to learn their files."""
    targets = belonging_on(repo, targets, name)[name]
    manifests = {t.output.pointer.oid for t in targets if t.output.pointer.is_dir}
    transfer.download(remote, repo.cache, manifests, settings)
    return manifests | wanted_objects(repo, targets, []).files.keys()


def _moved_aside(remote: RemoteStore, oid: str) -> str | None:
    """Where the corrupt loose object `oid` was moved (RemoteStore.quarantine); None when
    the remote refuses the move because this user may only read there."""
    try:
        return remote.quarantine(oid)
    except OSError as exc:
        if not locks.refuses_writes(exc):
            raise
        log.info("Corrupt %s not moved aside: %s", oid, describe(exc))
        return None


def _note_sent_elsewhere(repo: Repo, name: str, targets: list[Target],
                         result: FsckResult) -> None:
    """Which missing objects a plain `dvx push` sends to another remote than `name`: their
    output's own (`remote:`), else the default one. `push -r NAME` uploads them here."""
    known = set(repo.config.remote_names())
    result.default_remote = default_remote(repo.config)
    for oid, path in result.missing.items():
        for target in targets:
            output = target.output
            if path == output.path or path.startswith(output.path + "/"):
                sent_to = own_remote(output.remote, known) or result.default_remote
                if sent_to is not None and sent_to != name:
                    result.pushed_to[oid] = sent_to
                    break


def _named_loose(remote: RemoteStore) -> set[str]:
    """The oids the indexes name as loose objects (a push indexes those it uploads)."""
    return {oid for _, section in remote.inventory.sections() if section.pack is None
            for oid, _, _ in section.entries}


def _loose_entries(remote: RemoteStore, oids: set[str]) -> set[packed.Copy]:
    """The index entries naming those of `oids` as loose objects, each as the indexes spell
    it (two may name one object with different lengths: both go)."""
    return {packed.Copy(None, oid, offset, length) for _, section in remote.inventory.sections()
            if section.pack is None for oid, offset, length in section.entries if oid in oids}


def _settle(repo: Repo, name: str, remote: RemoteStore, settings: transfer.Settings,
            fast: bool, found: pack_reads.PackCheck, loose_moved: set[str],
            loose_whole: set[str], result: FsckResult) -> pack_reads.PackCheck:
    """Check the packed problems `found` again under the remote's gc lock, with indexes and
    packs listed anew, and only then take the bad copies (and the loose objects moved aside
    or gone) out of the indexes: a gc in another clone may have repacked since the first
    look, and what looked lost or unreadable then is in a new pack now, and a loose object
    gone then may be one it deleted, which the indexes no longer name. Without the lock (a
    push or gc holds it), nothing is taken out and the first look is reported. `loose_whole`:
    the objects whose loose copy is whole, another copy of a packed one. An index misstating
    a pack's size is replaced too: the new one gives each pack the size it has."""
    suspects = set(found.corrupt) | found.lost | {copy.oid for copy in found.bad_copies}
    try:
        with lock_remote(repo, name, remote, locks.GC):  # forgets the indexes seen before
            # With no suspects, this only lists the packs and indexes anew.
            again = pack_reads.verify(remote, settings, fast, only=suspects)
            copies: set[packed.Copy] = {*again.bad_copies}
            by_blob = {remote.oid_name(oid): oid for oid in loose_moved & _named_loose(remote)}
            there = remote.retried.existing(by_blob) if by_blob else set()
            absent = {oid for blob, oid in by_blob.items() if blob not in there}
            copies |= _loose_entries(remote, absent)
            if copies or again.misstated:
                packed.retire_copies(remote, settings, copies)
                result.restated = bool(again.misstated)
    except LockError as exc:
        log.warning("Nothing was taken out of the remote's indexes: %s", exc.message)
        result.lost |= loose_moved - result.quarantined.keys()
        return found
    except locks.WriteRefused as exc:  # this user may only read there: reported only
        log.info("Nothing was taken out of the remote's indexes: %s", exc.message)
        result.read_only = True
        result.lost |= loose_moved - result.quarantined.keys()
        return found
    if lost := absent - result.quarantined.keys():
        result.lost |= lost
        log.warning("The remote lacks %d loose objects that its pack indexes named; "
                    "they were taken out of the indexes, so the next push uploads them again.",
                    len(lost))
    by_pack: dict[str, set[str]] = {}
    for pack, oid, _, _ in again.bad_copies:
        by_pack.setdefault(str(pack), set()).add(oid)
        if oid in again.corrupt and oid not in loose_whole:
            result.retired.add(oid)  # listed with its damage by the command
    for pack, oids in sorted(by_pack.items()):
        whole = sum(oid in loose_whole or (oid not in again.corrupt and oid not in again.lost)
                    for oid in oids)
        gone = "is gone" if pack in again.missing_packs else "holds damaged copies"
        log.warning("Pack %s %s: %d of its objects were taken out of the pack indexes; %s.",
                    pack, gone, len(oids), "another copy of each is whole" if whole == len(
                        oids) else f"{len(oids) - whole} of them have no other copy (a push of "
                                   "data that needs them uploads them again)")
    again.checked |= found.checked - suspects
    return again
