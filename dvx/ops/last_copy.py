"""Which objects gc must not delete from the cache because their remote does not hold them.

An object outside gc's scope may still be used by some commit of the repository (an old
tag, another branch, a commit only a reflog reaches). Deleting the cache's copy is safe only
if the remote that output belongs to (its `remote:` in dvx.yaml, else the default remote)
holds the object, and keeps holding it after this gc (through whatever remote name gc
deletes from that store: ObjectStore.location). The remote's indexes alone are not
believed (they still name a copy deleted by hand): a loose object must exist, and a pack
holding one must be there with the size its index gives. Anything that cannot be confirmed so,
because no remote is set, the remote cannot be reached or it lacks the object, is a last
copy and stays. Outputs marked `push: false` are never on a remote by design (a pipeline
rebuilds them), so they are not protected.

A directory manifest stays while any file it lists is kept as a last copy, even when the
remote holds the manifest: the files of a directory are known only from its cached manifest,
so a later gc could otherwise no longer tell that they are used.

A pointer file (or dvx.lock) of the history that cannot be read yet (written by a newer dvx,
or a blob a partial clone cannot fetch offline) uses objects nobody can name now: any object
gc would delete may be its last copy, so gc deletes nothing, as it does for an unreadable
pointer in its scope, and says which file and how to go on. One whose content is damaged
(not YAML, no valid oid, ...) names no data that anyone will ever know or fetch: gc goes on
without it, as every other command does, and says so with -v.

The same one reading of the history tells `gc --remote` which of the objects it deletes there
commits outside its scope use, so that it can say so. A manifest it deletes there that the
cache lacks (a clone that never fetched that directory version) is read from the remote, so
that the files it lists count too.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection
from dataclasses import dataclass, field

from dvx.errors import DvxError, Interrupted
from dvx.history import Scope, scope_targets
from dvx.logs import get_logger, shell_quote
from dvx.objects.tree import Tree
from dvx.ops.gc_scope import as_clause
from dvx.ops.remote import (
    default_remote,
    open_remote,
    own_remote,
    settings_for,
)
from dvx.outputs import Broken
from dvx.remote.store import RemoteStore
from dvx.remote.transfer import confirmed_on
from dvx.repo import Repo

log = get_logger(__name__)

ReadDeleted = Callable[[str], bytes]  # the bytes of an object gc deletes from a remote

_DEFAULT = ""  # outputs without a `remote:` of their own belong to the default remote


@dataclass
class LastCopies:
    oids: set[str] = field(default_factory=set)
    sizes: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # why some remote could not confirm
    manifests: set[str] = field(default_factory=set)  # held elsewhere; they list kept `oids`

    @property
    def bytes(self) -> int:
        return sum(self.sizes.get(oid, 0) for oid in self.oids)

    @property
    def kept(self) -> set[str]:
        """Everything gc keeps in the cache on their account."""
        return self.oids | self.manifests

    def to_json(self) -> dict[str, object]:
        return {"kept_last_copies": len(self.oids), "kept_last_copy_bytes": self.bytes,
                "kept_last_copy_oids": sorted(self.oids), "last_copy_notes": self.notes,
                "kept_manifest_oids": sorted(self.manifests)}


@dataclass
class UsedByHistory:
    """Of some objects gc would delete, those that a commit of the repository uses (any
    branch, tag, commit, reflog or stash), read once for the cache and the remote."""
    remotes: dict[str, set[str]] = field(default_factory=dict)  # oid -> its outputs' remotes
    listed: dict[str, set[str]] = field(default_factory=dict)  # manifest -> the oids it lists
    notes: list[str] = field(default_factory=list)
    unreadable: list[Broken] = field(default_factory=list)  # what these use is unknown

    @property
    def oids(self) -> set[str]:
        return set(self.remotes)


def used_by_history(repo: Repo, oids: set[str], read_deleted: ReadDeleted | None = None,
                    deleted_there: Collection[str] = ()) -> UsedByHistory:
    """Which of `oids` some commit uses. The files of a directory are known from its
    manifest: the cache's, else, for one of `deleted_there` (what gc deletes from a remote),
    the remote's, as `read_deleted` reads it there (from a pack no index names any more,
    too, where the log of a gc stopped before deleting it places it); any other manifest
    the cache lacks adds itself, not its files."""
    used = UsedByHistory()
    if repo.git is not None and oids:  # no commits: nothing outside the workspace refers
        used.remotes = _used_by_history(repo, oids, used, read_deleted, deleted_there)
    return used


def find_last_copies(repo: Repo, history: UsedByHistory, candidates: set[str],
                     leaving: dict[str, set[str]]) -> LastCopies:
    """The `candidates` (objects gc would delete from the cache) that some commit uses and
    that no remote confirms holding. `history` was read for (at least) the candidates.
    `leaving`: per store location (ObjectStore.location), what this gc deletes there, which
    therefore does not count as held, whichever remote name leads to that store. Refuses
    if a pointer file of some commit cannot be read: any candidate may be what it uses."""
    if history.unreadable:
        raise _unknown_use(history.unreadable)
    found = LastCopies(notes=list(history.notes))
    by_remote: dict[str, set[str]] = {}
    for oid, remotes in history.remotes.items():
        for name in remotes if oid in candidates else ():
            by_remote.setdefault(name, set()).add(oid)
    held: set[str] = set()
    for name, oids in sorted(by_remote.items()):
        held |= _held_by(repo, name, oids, leaving, found.notes)
    found.oids = set().union(*by_remote.values()) - held
    found.manifests = {tree for tree, files in history.listed.items()
                       if tree in candidates and files & found.oids} - found.oids
    for oid in found.kept:
        try:
            found.sizes[oid] = os.lstat(repo.cache.oid_path(oid)).st_size
        except FileNotFoundError:
            found.sizes[oid] = 0
    return found


def _used_by_history(repo: Repo, candidates: set[str], found: UsedByHistory,
                     read_deleted: ReadDeleted | None, deleted_there: Collection[str]
                     ) -> dict[str, set[str]]:
    """candidate oid -> the remotes (names; _DEFAULT) its outputs in any commit belong to.
    Fills `found.listed` (candidate manifest -> the candidates it lists), `found.notes` and
    `found.unreadable`."""
    everything = Scope(workspace=False, all_commits=True, reflogs=True, stashes=True)
    targets, broken = scope_targets(repo, everything, strict=True)
    listed, notes = found.listed, found.notes
    known = set(repo.config.remote_names())
    for item in broken:
        if item.damaged:
            log.info("gc: %s is damaged and names no data, so gc goes on without it: %s",
                     item.path, item.error)
        else:
            log.info("gc: %s cannot be read, so what it uses is not known: %s", item.path,
                     item.error)
            found.unreadable.append(item)
    used: dict[str, set[str]] = {}
    for target in targets:
        output = target.output
        pointer = output.pointer
        if not output.push or pointer.algo != repo.algo:
            continue
        belongs = own_remote(output.remote, known) or _DEFAULT  # where `dvx push -A` sends it
        oids = [pointer.oid]
        if pointer.is_dir:
            tree = _cached_manifest(repo, pointer.oid, output.path, notes)
            if tree is None and read_deleted is not None and pointer.oid in deleted_there:
                tree = _remote_manifest(read_deleted, pointer.oid, output.path, repo.algo)
            listed_here = tree.every_oid() if tree is not None else ()
            files = [oid for oid in listed_here if oid in candidates]
            if files and pointer.oid in candidates:
                listed.setdefault(pointer.oid, set()).update(files)
            oids += files
        for oid in oids:
            if oid in candidates:
                used.setdefault(oid, set()).add(belongs)
    return used


def _unknown_use(unreadable: list[Broken]) -> DvxError:
    first = unreadable[0]
    said = as_clause(first.error.message)
    if first.path not in said:  # Git's own words name the blob, not the commit and file
        said = f"{first.path}: {said}"
    more = f" (and {len(unreadable) - 1} more such files)" if len(unreadable) > 1 else ""
    # No hint of its own: Git could not give the file, which a partial clone fetches.
    way = first.error.hint or ("In a partial clone, run gc again where its Git remote can be "
                               "reached: Git fetches the file then.")
    return DvxError(
        f"Nothing was deleted: what a commit outside the scope uses is unknown ({said}){more}, "
        "and any object gc would delete from the cache may be its only copy.",
        f"{way} Or pass --force-last-copy: gc then deletes what the scope does not use, "
        "whether or not a remote holds it.")


def _cached_manifest(repo: Repo, oid: str, where: str, notes: list[str]) -> Tree | None:
    # A manifest the cache lacks lists files the cache was never given with it: a fetch
    # brings the manifest first and gc deletes it only with, or after, its files (a file
    # kept as a last copy keeps its manifest).
    if not repo.cache.exists(oid):
        return None
    try:
        with repo.cache.open(oid) as src:
            return Tree.from_stream(src, repo.algo, oid)
    except (DvxError, OSError) as exc:
        notes.append(f"the manifest of {where} ({oid}) cannot be read: {exc}")
        return None


def _remote_manifest(read_deleted: ReadDeleted, oid: str, where: str, algo: str
                     ) -> Tree | None:
    """The manifest `oid` from the remote, which gc is about to delete there; None if it
    cannot be read (then it counts alone, as one the cache lacks)."""
    try:
        return Tree.from_bytes(read_deleted(oid), algo, oid)
    except (DvxError, OSError) as exc:
        log.info("gc: the manifest of %s (%s) cannot be read from the remote, so the files "
                 "it lists are not counted as used outside the scope: %s", where, oid, exc)
        return None


def _held_by(repo: Repo, name: str, oids: set[str], leaving: dict[str, set[str]],
             notes: list[str]) -> set[str]:
    """The `oids` the remote `name` (_DEFAULT: the default one) holds and keeps."""
    remote_name = name or default_remote(repo.config)
    if remote_name is None:
        notes.append("no default remote is set")
        return set()
    try:
        opened, store = open_remote(repo, remote_name)
        # Only for what gc would delete: its indexes still name a copy deleted by hand.
        present = confirmed_on(store, oids, settings_for(repo, opened, store, None))
        if isinstance(store, RemoteStore) and (lost := oids - present - store.inventory.absent(
                oids - present)):
            notes.append(f"remote '{opened}' lost {len(lost)} of them that its indexes still "
                         f"name; `dvx fsck --remote {shell_quote(opened)}` then `dvx push -A` "
                         "uploads them again")
    except Interrupted:
        raise
    except DvxError as exc:
        notes.append(f"remote '{remote_name}' could not be asked: {exc.message}")
        return set()
    # By the store, not the name: two remotes (a relative path and an absolute one, a global
    # remote of the same URL) may lead to the one store this gc deletes from.
    return present - leaving.get(store.location, set())
