"""dvx gc: delete objects that nothing in an explicit scope refers to.

The scope is always explicit (the workspace, and optionally branches, tags, all commits,
experiments or given revisions): gc refuses to run without one. The index, stashes and queued
experiments' snapshots are always in it. Everything in scope is read first; if any
pointer or directory manifest in scope cannot be read, nothing at all is deleted. Objects
younger than the grace period are kept, so an object that another process or another
repository sharing the cache has just written, and not yet recorded anywhere, survives. Ages
in the cache are on this machine's clock; on a remote, on the remote's own, which dated what
it holds (a machine whose clock runs ahead would find everything just pushed old).

gc never deletes a last copy by itself: an object outside the scope that some commit of the
repository still uses is deleted from the cache only when the remote it belongs to holds it,
and nothing is if what some commit uses is unknown (`last_copy.py`). The work is planned
first, shown for confirmation, then done: a dry run lists exactly what the real run deletes.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace

from dvx import faults, fsutil
from dvx.errors import DvxError, LockedPlaceGone, LockError, UsageError
from dvx.hashing import hash_bytes
from dvx.history import Scope, scope_targets
from dvx.lock import RepoLock
from dvx.logs import get_logger
from dvx.objects import layout
from dvx.objects.blobs import Upload
from dvx.objects.cache import DELETED, YOUNG
from dvx.objects.odb import ObjectStore
from dvx.objects.tree import Tree
from dvx.ops.clone_history import refuse_history_a_clone_lacks
from dvx.ops.gc_scope import Reachable, as_clause, manifest, reachable, refuse_if_unreadable
from dvx.ops.last_copy import LastCopies, ReadDeleted, find_last_copies, used_by_history
from dvx.ops.remote import lock_remote, open_remote, settings_for
from dvx.ops.worktrees import UnreadableWorktree, worktrees_sharing_the_cache
from dvx.pointer import Pointer
from dvx.remote import leftovers, locks, pushlog, repack
from dvx.remote.backends import delete_refused
from dvx.remote.store import RemoteStore
from dvx.repo import Repo

log = get_logger(__name__)

DEFAULT_GRACE_SECONDS = leftovers.YOUNG_PACK_SECONDS  # what a push under way may still hold
SCOPE_OPTIONS = ("Use --workspace, --all-branches, --all-tags, --all-commits, --all-experiments "
                 "or --rev.")


@dataclass
class GcResult:
    """What gc deletes (or, in a dry run, would delete) from one place."""
    where: str
    scope: str
    reachable: int = 0
    removed: list[str] = field(default_factory=list)
    bytes_freed: int = 0
    kept_young: int = 0
    dry_run: bool = False
    last_copies: LastCopies | None = None  # the cache's: objects kept as nobody else's copy
    sizes: dict[str, int] = field(default_factory=dict)  # of the planned removals
    # A remote's: removed objects that commits outside the scope use (of a directory whose
    # manifest the cache lacks, only the manifest counts).
    used_outside_scope: list[str] = field(default_factory=list)
    # A remote's: uploads begun before the grace period and never finished (an S3 multipart
    # upload of a killed push), aborted so that the store drops the parts it kept.
    uploads_aborted: int = 0
    uploads_report: str = ""  # what clearing them did, in the store's terms (Blobs.uploads_cleared)
    # A remote's: packs no index names (left by killed pushes or gcs), deleted, and their
    # bytes beyond those of the removed objects an interrupted gc's log says they held.
    unindexed_packs: int = 0
    unindexed_bytes: int = 0
    unindexed_by_gc: int = 0  # of those, the packs an interrupted gc's log named
    # A remote's: bytes of deleted packs that no object needed (second copies of an object,
    # copies taken out of the indexes as damaged), beyond the removed objects' own.
    copies_freed: int = 0
    # A remote's: objects gc keeps that its indexes name only in packs gone from it (deleted
    # outside dvx), and those packs: lost there, and left named until a repair.
    lost: list[str] = field(default_factory=list)
    lost_packs: list[str] = field(default_factory=list)
    run_records_removed: int = 0  # run records that needed a removed (or missing) object

    def to_json(self) -> dict[str, object]:
        found: dict[str, object] = {
            "where": self.where, "scope": self.scope, "dry_run": self.dry_run,
            "reachable": self.reachable, "removed": len(self.removed),
            "removed_oids": self.removed, "bytes_freed": self.bytes_freed,
            "kept_young": self.kept_young, "run_records_removed": self.run_records_removed}
        if self.last_copies is not None:
            found.update(self.last_copies.to_json())
        if self.where != "cache":
            found["used_outside_scope_oids"] = self.used_outside_scope
            found["uploads_aborted"] = self.uploads_aborted
            found["unindexed_packs_removed"] = self.unindexed_packs
            found["unindexed_packs_bytes"] = self.unindexed_bytes
            found["unindexed_packs_left_by_gc"] = self.unindexed_by_gc
            found["copies_bytes_freed"] = self.copies_freed
            found["lost_oids"] = self.lost
            found["lost_packs"] = self.lost_packs
        return found


Confirm = Callable[[list[GcResult]], bool]  # shown the plan; False: delete nothing


@dataclass(frozen=True)
class RunRecords:
    """Which run records need one of the objects gc deletes (the run-cache's rule): in the
    cache, their paths (and those of records whose objects the cache lacks already); on a
    remote, their names."""
    in_cache: Callable[[Repo, set[str]], list[str]]
    on_remote: Callable[[Repo, RemoteStore, set[str]], list[str]]


def gc(repo: Repo, scope: Scope, remote_name: str | None = None, dry_run: bool = False,
       grace_seconds: float = DEFAULT_GRACE_SECONDS, force_last_copy: bool = False,
       confirm: Confirm | None = None, projects: tuple[str, ...] = (),
       run_records: RunRecords | None = None) -> list[GcResult]:
    """Delete what `scope` does not use from the cache (and from the remote `remote_name`),
    keeping too what the other repositories `projects` (sharing the cache or the remote) use
    in the same scope. `confirm` sees the plan before anything is deleted; with `dry_run`
    nothing is. The run records that `run_records` names for the objects deleted from a
    store go first: a store holds a record only with all its objects. (The run-cache is the
    pipeline's, which builds on these operations: its rule comes in as functions, and a
    caller that passes none leaves the records, which readers then take for no record.)"""
    if not scope.workspace:
        raise UsageError("gc needs an explicit scope of what to keep.",
                         SCOPE_OPTIONS)
    # A teammate's branch that a fetch brought is in use: -a keeps it as it keeps a local one.
    # A queued experiment's snapshot may hold the only record of its inputs: its run needs it.
    scope = replace(scope, index=True, stashes=True, queued=True, reflogs=scope.all_commits,
                    remote_branches=scope.all_branches)
    remote = None
    name = ""
    if remote_name is not None:
        name, remote = open_remote(repo, remote_name)
        if remote.read_only:
            raise UsageError(f"Remote '{name}' is read-only; gc cannot delete from it.")
    others = [_project(repo, path) for path in projects]
    for each in (repo, *others):
        refuse_history_a_clone_lacks(each, scope, name)
    # Taken before the worktrees are listed: what a run in one made since (a queued
    # experiment's, started meanwhile) writes is younger, and kept.
    cutoff = time.time() - grace_seconds
    listed = _worktrees(repo, others)
    worktrees = [worktree for worktree, _ in listed]
    with _locked(repo, [worktree for worktree, whose in listed if whose is repo]):
        faults.point("gc.locked")
        reach = _reach(repo, scope, remote, others, worktrees)
        refuse_if_unreadable(reach)
        results = []
        remote_cutoff = cutoff
        if remote is not None:
            store_now = _store_now(remote, name, dry_run)
            remote_cutoff = store_now - grace_seconds

            def seek(needed: set[str]) -> leftovers.Sought:
                return _sought(repo, needed, lambda wanted: _reach(
                    repo, scope, remote, others, worktrees, wanted).sizes)

            results.append(_plan_remote_when_free(
                repo, name, remote, dry_run, store_now,
                lambda: _plan_remote(remote, name, reach.oids, remote_cutoff, scope, repo,
                                     seek)))
        cache = _plan_cache(repo, reach.oids | reach.synced_manifests, cutoff, scope)
        history = used_by_history(repo, _asked_of_history(cache, results, scope,
                                                          force_last_copy),
                                  _reader_of_deleted(remote, results),
                                  set(results[0].removed) if results else ())
        if cache.removed and not force_last_copy:
            leaving = {remote.location: set(results[0].removed)} if remote is not None else {}
            cache.last_copies = find_last_copies(repo, history, set(cache.removed), leaving)
            _drop(cache, cache.last_copies.kept)
        for planned in results:  # the remote's
            planned.used_outside_scope = sorted(history.oids & set(planned.removed))
        results.insert(0, cache)
        if cache.removed and not projects and not repo.is_inside(repo.cache_dir) and all(
                _outside(repo.cache_dir, w.root) for w in worktrees):
            log.warning("The cache (%s) is outside this repository, perhaps shared: gc keeps "
                        "only what this repository uses, so what only other repositories "
                        "sharing it use (their uncommitted work, their unpushed commits) goes "
                        "too. Name them with --projects to keep theirs.",
                        os.path.realpath(repo.cache_dir))
        for result in results:
            result.dry_run = dry_run
        if dry_run:  # what the real run deletes, records included
            cache.run_records_removed = len(_cached_records_needing(repo, cache, run_records))
        if dry_run and remote is not None:
            results[1].run_records_removed = len(_records_needing(
                repo, remote, set(results[1].removed), run_records))
            _report_uploads(remote, results[1])
        if dry_run or (confirm is not None and not confirm(results)):
            return results
        with _remote_locked(repo, name, remote):
            _delete_from_cache(repo, cache, cutoff, run_records)
            repo.statcache.prune(cache.removed, repo.cache.generation())
            if remote is not None:
                try:
                    _delete_from_remote(repo, remote, results[1], remote_cutoff, run_records)
                except PermissionError as exc:  # the probe wrote there: a delete was refused
                    raise delete_refused(remote.blobs, exc, f"remote '{name}' ({remote.url})"
                                         ) from exc
    return results


def _reader_of_deleted(remote: RemoteStore | None, results: list[GcResult]
                       ) -> ReadDeleted | None:
    """How gc reads an object it deletes from `remote` (a directory's manifest, to know the
    files it lists): where an index places it, else, for one leaving with a pack no index
    names any more, where the log of the gc stopped before deleting that pack places it."""
    if remote is None or not results:
        return None
    plan = results[0]
    assert isinstance(plan, _RemotePlan)
    left_at = plan.left_at

    def read(oid: str) -> bytes:
        if oid in left_at:
            return remote.read_unindexed(*left_at[oid])
        return remote.read_bytes(oid)
    return read


def _reach(repo: Repo, scope: Scope, remote: RemoteStore | None, others: list[Repo],
           worktrees: list[Repo], sizes_of: set[str] | None = None) -> Reachable:
    """What `scope` uses in this repository, in `others` (their own revisions: --rev names
    this repository's) and in the other `worktrees` (their HEAD and index); with `sizes_of`,
    also the sizes they give those objects."""
    reach = reachable(repo, scope, remote, sizes_of)
    for other in others:
        _add(reach, reachable(other, replace(scope, revs=()), remote, sizes_of), other)
    for worktree in worktrees:  # their branches and tags are their repositories' too
        own = Scope(index=True, revs=("HEAD",) if scope.has_revisions else ())
        try:
            theirs = reachable(worktree, own, remote, sizes_of)
        except (DvxError, OSError):
            if not _gone(worktree):
                raise
            continue
        if theirs.problems and _gone(worktree):
            continue
        _add(reach, theirs, worktree)
    return reach


def _gone(worktree: Repo) -> bool:
    """Has the worktree gone (its folder, or the `.git` file that makes it one, removed)?
    Once gc holds its lock, or found it gone while waiting for it, no command of its own is
    left writing there: a queued run's is removed by `queue start` once the run ended, and
    the run recorded its experiment before letting the lock go, so what it made is in the
    experiment's commit, which gc, reading history after taking the locks, keeps as any
    commit in scope, or else as a last copy. What could not be read of a worktree that went
    is no problem."""
    return not os.path.isfile(os.path.join(worktree.root, ".git"))


def _add(reach: Reachable, theirs: Reachable, where: Repo) -> None:
    reach.oids |= theirs.oids
    reach.synced_manifests |= theirs.synced_manifests
    reach.problems += [f"{where.root}: {problem}" for problem in theirs.problems]
    for oid, sizes in theirs.sizes.items():
        reach.sizes.setdefault(oid, set()).update(sizes)


def _sought(repo: Repo, needed: set[str],
            sizes_of: Callable[[set[str]], dict[str, set[int]]]) -> leftovers.Sought:
    """The objects gc keeps that no index of the remote names, as its packs no index names
    are searched for them: by their bytes where the cache holds them, else by the sizes the
    scope gives them (read again, for these objects only). A cached object is read, and
    hashed once, only when a pack is large enough to hold it: one larger than every pack
    costs nothing, and a copy that does not hash to its oid keeps every such pack."""
    cached = {oid: st.st_size for oid, st in repo.cache.stats(sorted(needed)) if st is not None}
    rest = needed - cached.keys()
    claimed = sizes_of(rest) if rest else {}
    whole: dict[str, bool] = {}  # oid -> whether its copy hashed to it, once read

    def read(oid: str) -> bytes | None:
        try:
            data = repo.cache.read_bytes(oid)
        except (DvxError, OSError):
            return None
        if oid not in whole:
            whole[oid] = hash_bytes(data, repo.algo) == oid
        return data if whole[oid] else None

    return leftovers.Sought(cached, read, {oid: claimed.get(oid, set()) for oid in rest})


def _remote_locked(repo: Repo, name: str, remote: RemoteStore | None
                   ) -> contextlib.AbstractContextManager[object]:
    """The remote's gc lock, so that no push runs while gc deletes from it: taken before
    anything is deleted, from the cache too, so that a gc that cannot have it (a push is
    under way) fails having changed nothing. No remote: nothing to lock."""
    if remote is None:
        return contextlib.nullcontext()
    return lock_remote(repo, name, remote, locks.GC)


def _plan_remote_when_free(repo: Repo, name: str, remote: RemoteStore, dry_run: bool,
                           store_now: float, plan: Callable[[], GcResult]) -> GcResult:
    """The remote's `plan`, made without its lock. One that finds objects gc keeps named by
    no index while a pack no index names may hold them blames damage only once nothing else
    holds the remote: a push between its pack and its index leaves just that. So gc then
    waits for the remote's lock, as it would to delete, and plans again under it. A dry run,
    which takes no lock, names whoever holds it (by the store's clock `store_now`) instead
    of a plan: the real run would wait for them and plan again with what they left."""
    try:
        planned = plan()
    except repack.IndexesLacking:
        if dry_run:
            _refuse_a_dry_run_if_in_use(name, remote, store_now)
            raise
        with _remote_locked(repo, name, remote):
            return plan()
    if dry_run:  # after the plan: a push under way then may have left half its work in it
        _refuse_a_dry_run_if_in_use(name, remote, store_now)
    return planned


def _refuse_a_dry_run_if_in_use(name: str, remote: RemoteStore, store_now: float) -> None:
    """Stop a dry run (exit status 3) when a push, another gc or fsck holds the remote's
    lock: what it is writing would look like leftovers, and the real run would wait for it."""
    busy = locks.RemoteLock(remote.retried, locks.GC, f"'{name}' ({remote.url})",
                            0).in_use(store_now)
    if busy is not None:
        raise LockError(f"{busy.message} A dry run lists nothing meanwhile: a real run would "
                        "wait for it (up to core.lock_wait seconds), then plan with what it "
                        "leaves.", busy.hint) from None


def _store_now(remote: RemoteStore, name: str, dry_run: bool) -> float:
    """The remote's own clock, on which it dates its objects, packs and push logs: this
    machine's may run hours ahead (an object pushed a minute ago would look old) or behind.
    The same time serves the deletion under the lock, later: younger only keeps more. A dry
    run on a remote this user may only read cannot write the probe: it needs no write
    otherwise, so it goes on with this machine's clock (a real run could not delete there).
    A real run stops here, before it deletes anything anywhere, when the remote refuses to
    delete the probe: credentials that may write but not delete."""
    try:
        return locks.store_time(remote.retried, f"'{name}' ({remote.url})") or time.time()
    except locks.WriteRefused:
        if not dry_run:
            raise
        log.warning("dvx cannot write to remote '%s' to read its clock: the grace period is "
                    "measured on this machine's clock.", name)
        return time.time()
    except locks.DeleteRefused as exc:
        if not dry_run:
            raise
        log.warning("%s A real run would stop there.", exc.message)
        return exc.written or time.time()


def _project(repo: Repo, path: str) -> Repo:
    """Another repository whose data gc keeps (--projects), found at or above `path`."""
    if not os.path.isdir(path):
        raise UsageError(f"--projects: '{path}' is not a directory.")
    other = Repo.find(path)
    if other.root == repo.root:
        raise UsageError(f"--projects: '{path}' is this repository.")
    return other


def _worktrees(repo: Repo, others: list[Repo]) -> list[tuple[Repo, Repo]]:
    """The other worktrees (`git worktree add`) of this Git repository and of each of
    `others` that share its cache, each once, with the repository it is a worktree of: a
    teammate's uncommitted work in a worktree of a named project is that project's. One that
    cannot be read stops gc before anything is deleted, whichever repository it belongs to."""
    found: dict[str, tuple[Repo, Repo]] = {}
    for each in (repo, *others):
        try:
            listed = worktrees_sharing_the_cache(each)
        except UnreadableWorktree as exc:
            whose = ("this Git repository" if each is repo
                     else f"the Git repository of '{each.root}' (--projects)")
            raise DvxError(f"Nothing was deleted: gc keeps what every worktree of {whose} "
                           f"uses, and {exc.message[0].lower()}{exc.message[1:]}",
                           f"{exc.hint} Then run gc again.") from None
        for worktree in listed:
            found.setdefault(os.path.realpath(worktree.root), (worktree, each))
    for each in (repo, *others):  # read in their own right already
        found.pop(os.path.realpath(each.root), None)
    return list(found.values())


@contextlib.contextmanager
def _locked(repo: Repo, worktrees: list[Repo]) -> Iterator[None]:
    """Hold this repository's lock, and those of its other worktrees sharing the cache (a
    queued experiment's temporary one included): a command running in one (a queued run
    between caching its outputs and recording them in dvx.lock) may have written objects
    nothing records yet, as one here may. gc waits for each as long as for its own
    (core.lock_wait here), taking them in one order, by path, so that gc's run in two
    worktrees at once never wait for each other. One still held then stops gc before it has
    read or deleted anything; one removed meanwhile (a queued run's, once recorded) has
    ended, and is no longer waited for. (Another repository sharing the cache, --projects, is not
    locked: what its commands write is protected by its age, for the grace period.)"""
    wait = repo.config.get_float("core", "lock_wait", 30.0)
    places = [(os.path.realpath(each.root), each) for each in (repo, *worktrees)]
    with contextlib.ExitStack() as held:
        for _, each in sorted(places, key=lambda found: found[0]):
            if each is repo:
                held.enter_context(repo.lock())
                continue
            if not os.path.isdir(each.tmp_dir):  # no command ever ran there, or it is gone
                continue
            # Killed, gc leaves nothing half-done there: it writes nothing in that worktree.
            lock = RepoLock(each.tmp_dir, wait, command=repo.command, only_whole_writes=True,
                            place=f"the worktree '{each.root}'")
            try:
                held.enter_context(lock)
            except LockedPlaceGone:
                continue  # removed while gc waited: its run has ended, and is recorded
            except LockError as exc:
                raise LockError(f"Nothing was deleted: {exc.message[0].lower()}"
                                f"{exc.message[1:]} gc keeps what is used there, and a "
                                "command running there may have written data to the cache "
                                "that it has not recorded yet.",
                                "Wait for it to finish, then run gc again (core.lock_wait "
                                "sets how long gc waits).") from None
        yield


def _outside(path: str, root: str) -> bool:
    real, top = os.path.realpath(path), os.path.realpath(root)
    return real != top and not real.startswith(top + os.sep)


def _plan_cache(repo: Repo, keep: set[str], cutoff: float, scope: Scope) -> GcResult:
    result = GcResult("cache", scope.describe())
    # The listing is filtered as it comes: a cache of millions is never held as one set.
    # What is kept counts only what the cache holds, not all that the scope uses.
    unused = []
    for oid in repo.cache.list_oids():
        if oid in keep:
            result.reachable += 1
        else:
            unused.append(oid)
    for oid in sorted(unused):
        try:
            st = os.lstat(repo.cache.oid_path(oid))
        except FileNotFoundError:
            continue
        if max(st.st_mtime, st.st_ctime) > cutoff:
            result.kept_young += 1
            continue
        result.removed.append(oid)
        result.sizes[oid] = st.st_size
        result.bytes_freed += st.st_size
    return result


def paths_of(repo: Repo, oids: set[str]) -> dict[str, str]:
    """For each of `oids` that the workspace, the index, a stash, a queued experiment or any
    commit uses, one path that uses it (a file inside a directory by its own path): what a
    dry run names. A directory whose manifest the cache lacks names none of its files."""
    with_git = repo.git is not None  # without Git, the workspace is all there is
    everything = Scope(all_commits=with_git, reflogs=with_git, stashes=True, index=True,
                       queued=True)
    targets, _ = scope_targets(repo, everything, strict=True)
    found: dict[str, str] = {}
    for target in targets:
        output = target.output
        if output.pointer.oid in oids:
            found.setdefault(output.pointer.oid, output.path)
        if not output.pointer.is_dir or not repo.cache.exists(output.pointer.oid):
            continue
        try:
            tree = Tree.from_bytes(repo.cache.read_bytes(output.pointer.oid),
                                   output.pointer.algo, output.pointer.oid)
        except (DvxError, OSError):
            continue  # an invalid manifest names nothing
        for entry in tree.entries:
            if entry.oid in oids:
                found.setdefault(entry.oid, f"{output.path}/{entry.path}")
    return found


def _asked_of_history(cache: GcResult, remotes: list[GcResult], scope: Scope,
                      force_last_copy: bool) -> set[str]:
    """What gc deletes that some commit outside the scope may use: from the cache, unless
    last copies may go; from the remote, unless the scope is every commit."""
    asked = set() if force_last_copy else set(cache.removed)
    for planned in remotes if not scope.all_commits else ():
        asked |= set(planned.removed)
    return asked


def _drop(result: GcResult, kept: set[str]) -> None:
    """Take the last copies (and the manifests listing them) out of the cache's plan."""
    if not kept:
        return
    sizes = result.last_copies.sizes if result.last_copies else {}
    result.removed = [oid for oid in result.removed if oid not in kept]
    result.bytes_freed -= sum(sizes.get(oid, 0) for oid in kept)


def _cached_records_needing(repo: Repo, result: GcResult, run_records: RunRecords | None
                            ) -> list[str]:
    """The cache's run records that need an object gc deletes from it, or one it lacks."""
    return [] if run_records is None else run_records.in_cache(repo, set(result.removed))


def _delete_from_cache(repo: Repo, result: GcResult, cutoff: float,
                       run_records: RunRecords | None) -> None:
    dead = _cached_records_needing(repo, result, run_records)
    for path in dead:
        fsutil.remove_quietly(path)
    result.run_records_removed = len(dead)
    repo.cache.new_generation()
    deleted = []
    for oid in result.removed:
        # Written or used again since the plan (another repository sharing the cache): kept.
        outcome, size = repo.cache.remove_unused(oid, cutoff)
        if outcome == YOUNG:
            result.kept_young += 1
            result.bytes_freed -= size
        if outcome != DELETED:
            continue
        faults.point("gc.after_delete")
        deleted.append(oid)
    result.removed = deleted
    log.info("gc: %d objects removed from the cache", len(result.removed))
    repo.cache.remove_stale_temporaries()  # what killed adds left, an hour old, as fetch does


@dataclass
class _RecentPushes:
    """What pushes since the cutoff used on the remote (their push logs), manifests expanded;
    the logs older than that, which protect nothing any more; and the logged manifests that
    cannot be read, whose files are unknown."""
    used: set[str]
    expired: list[str]
    unreadable: list[str] = field(default_factory=list)  # why, for each such manifest
    # When the latest log naming one of those was written (None: a log of unknown time).
    unreadable_logged: float | None = 0


def _recently_pushed(repo: Repo, remote: ObjectStore, cutoff: float) -> _RecentPushes:
    logged = pushlog.recent(remote, cutoff)
    pushed = _RecentPushes(logged.files | logged.manifests, logged.expired)
    relisted = False
    for oid in sorted(logged.manifests):
        if not relisted and isinstance(remote, RemoteStore) and _lacked_by_old_word(
                repo, remote, oid):
            # Its push ended after the indexes were listed: they are listed again, not taken
            # for the remote's word on what that push wrote.
            remote.forget_locations()
            relisted = True
        problems: list[str] = []
        tree = manifest(repo, Pointer("dir", repo.algo, oid, 0, 0), remote,
                        f"a recent push's directory {oid}", problems)
        if tree is not None:
            pushed.used.update(tree.every_oid())
            continue
        pushed.unreadable += problems
        written, latest = logged.manifests_logged.get(oid), pushed.unreadable_logged
        pushed.unreadable_logged = (None if written is None or latest is None
                                    else max(written, latest))
    return pushed


def _lacked_by_old_word(repo: Repo, remote: RemoteStore, oid: str) -> bool:
    """Whether the cache lacks `oid` and so does `remote`, by indexes listed earlier."""
    return (remote.inventory.listed() and not repo.cache.exists(oid)
            and not remote.exists(oid))


def _refuse_if_unknown(pushed: _RecentPushes, removing: int, cutoff: float) -> None:
    """A recent push used a directory whose manifest cannot be read: any object gc would
    delete may be one of its files, so then nothing is. What gc keeps anyway it cannot lose."""
    if not pushed.unreadable or not removing:
        return
    written = pushed.unreadable_logged
    when = "once that push log is older than the grace period"
    if written is not None:
        minutes = max(1, math.ceil((written - cutoff) / 60))
        when = f"in about {'a minute' if minutes == 1 else f'{minutes} minutes'}, {when}"
    raise DvxError(f"Nothing was deleted from the remote: a recent push used a directory whose "
                   f"manifest cannot be read ({as_clause(pushed.unreadable[0])}), so any object "
                   "gc would delete there may be one that push relies on.",
                   "From the clone that pushed it, `dvx push` of that whole directory puts its "
                   f"manifest on the remote; or run gc again {when}.")


@dataclass
class _RemotePlan(GcResult):
    expired_logs: list[str] = field(default_factory=list)
    keep: set[str] = field(default_factory=set)
    loose_removed: list[str] = field(default_factory=list)
    loose_sizes: dict[str, int] = field(default_factory=dict)  # of loose_removed
    abandoned: list[Upload] = field(default_factory=list)  # the uploads to abort
    # How the objects it keeps that no index names are looked for in packs no index names
    seek: Callable[[set[str]], leftovers.Sought] | None = None
    # Of `removed`, those leaving with a pack no index names, where a gc log places them
    left_at: dict[str, tuple[str, int, int]] = field(default_factory=dict)


def _plan_remote(remote: ObjectStore, name: str, keep: set[str], cutoff: float, scope: Scope,
                 repo: Repo, seek: Callable[[set[str]], leftovers.Sought]) -> GcResult:
    result = _RemotePlan(f"remote '{name}'", scope.describe(), keep=keep, seek=seek)
    faults.point("gc.plan.before_push_logs")
    recent = _recently_pushed(repo, remote, cutoff)
    pushed, result.expired_logs = recent.used, recent.expired
    held = set()  # what is kept counts only what the remote holds, not all the scope uses
    listed, uploads = remote.list_with_uploads()
    for oid, (size, mtime) in sorted(listed.items()):
        if oid in keep:
            held.add(oid)
            continue
        if mtime is None or mtime > cutoff or oid in pushed:
            result.kept_young += 1  # an unknown age counts as young: never guess old
            continue
        result.loose_removed.append(oid)
        result.loose_sizes[oid] = size
        result.sizes[oid] = size
        result.bytes_freed += size
    result.removed = list(result.loose_removed)
    result.abandoned = _abandoned(uploads, remote.algo, cutoff)
    result.uploads_aborted = len(result.abandoned)
    if isinstance(remote, RemoteStore):
        packs = repack.plan(remote, keep, cutoff, set(result.loose_removed), pushed, listed,
                            seek)
        result.kept_young += packs.young
        held |= packs.held_live
        result.removed = sorted(set(result.removed) | packs.dead.keys())
        result.sizes.update(packs.dead)
        result.bytes_freed += sum(packs.dead.values())
        result.left_at = packs.unindexed_at
        _count_packs(result, packs)
    result.reachable = len(held)
    _refuse_if_unknown(recent, len(result.removed), cutoff)
    return result


def _count_packs(result: GcResult, packs: repack.RepackPlan) -> None:
    """What the repacking frees besides the dead objects, and what the remote lost."""
    result.unindexed_packs = len(packs.unindexed)
    result.unindexed_by_gc = packs.logged_unindexed
    # The objects leaving with them that an interrupted gc named are counted as removed.
    result.unindexed_bytes = max(0, sum(packs.unindexed.values())
                                 - sum(packs.unindexed_dead.values()))
    result.copies_freed = packs.copies_freed
    result.lost, result.lost_packs = sorted(packs.lost), packs.gone


def _records_needing(repo: Repo, remote: ObjectStore, gone: set[str],
                     run_records: RunRecords | None) -> list[str]:
    """The remote's run records that need an object of `gone`: none to look for (and no
    record read) when nothing is deleted from the remote."""
    if not gone or run_records is None or not isinstance(remote, RemoteStore):
        return []
    return run_records.on_remote(repo, remote, gone)


def _delete_from_remote(repo: Repo, remote: ObjectStore, result: GcResult, cutoff: float,
                        run_records: RunRecords | None) -> None:
    assert isinstance(result, _RemotePlan)
    # Under the lock now, which forgot the indexes of the plan: what is decided here rests on
    # the indexes listed from here on (a push since then added indexes naming its manifests).
    recent = _recently_pushed(repo, remote, cutoff)  # pushes made while confirming
    pushed = recent.used
    if pushed & set(result.removed):
        result.kept_young += len(pushed & set(result.removed))
        result.removed = [oid for oid in result.removed if oid not in pushed]
    loose = [oid for oid in result.loose_removed if oid not in pushed]
    # The bytes follow what is really removed, not the plan.
    result.bytes_freed = sum(result.loose_sizes[oid] for oid in loose)
    if isinstance(remote, RemoteStore):
        # Planned again with the latest push logs: a pack is rewritten from what is there now.
        packs = repack.plan(remote, result.keep, cutoff, set(loose), pushed,
                            seek=result.seek)
        _refuse_if_unknown(recent, len(set(loose) | packs.dead.keys()), cutoff)
        # Read before anything is deleted: a `jobs` dvx refuses stops gc with the remote whole.
        settings = settings_for(repo, remote.name, remote, None)
        dead = _records_needing(repo, remote, set(loose) | packs.dead.keys(), run_records)
        if dead:
            remote.retried.delete(dead)
        result.run_records_removed = len(dead)
        repack.execute(remote, packs, settings, set(loose))
        result.removed = sorted(set(loose) | packs.dead.keys())
        result.bytes_freed += sum(packs.dead.values())
        _count_packs(result, packs)
    else:
        _refuse_if_unknown(recent, len(loose), cutoff)
    # What history loses is what was removed, not what was planned: a push may have kept some.
    result.used_outside_scope = sorted(set(result.used_outside_scope) & set(result.removed))
    if loose:
        remote.delete(loose)
    if result.expired_logs:
        remote.delete_logs(pushlog.KIND, result.expired_logs)
    # Those of the plan: one begun before the cutoff is older still, and one that ended
    # since is not counted.
    try:
        result.uploads_aborted = remote.blobs.abort_uploads(result.abandoned)
    except PermissionError as exc:
        result.uploads_aborted = 0
        log.warning("Could not abort the %d unfinished uploads on the %s: %s. Their parts "
                    "stay stored until they are aborted (or a lifecycle rule of the bucket "
                    "removes them).", len(result.abandoned), remote.blobs.shown, exc.strerror)
    _report_uploads(remote, result)


def _report_uploads(remote: ObjectStore, result: GcResult) -> None:
    """Word the unfinished uploads `result` clears (or, in a dry run, would) as the store
    names them: S3 aborts multipart uploads, SSH removes temporary files."""
    if result.uploads_aborted:
        result.uploads_report = remote.blobs.uploads_cleared(result.uploads_aborted,
                                                             result.where, result.dry_run)


def _abandoned(uploads: list[Upload], algo: str, cutoff: float) -> list[Upload]:
    """Those of the remote's unfinished `uploads` begun before `cutoff`: a push killed before
    it could abort its multipart upload, or delete the temporary it wrote (kill -9, a lost
    machine), leaves one, which the store keeps, and bills, until it is aborted. Only an
    upload of a name dvx gives what it writes is dvx's: another tool's under the same prefix
    is left alone. One of unknown age counts as young."""
    return [upload for upload in uploads if layout.is_upload_name(upload.name, algo)
            and upload.started is not None and upload.started <= cutoff]
