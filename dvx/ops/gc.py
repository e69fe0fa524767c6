"""dvx gc: delete objects that nothing in an explicit scope refers to.

The scope is always explicit (the workspace, and optionally branches, tags, all commits or
given revisions): gc refuses to run without one. Everything in scope is read first; if any
pointer or directory manifest in scope cannot be read, nothing at all is deleted. Objects
younger than the grace period are kept, so an object that another process or another
repository sharing the cache has just written, and not yet recorded anywhere, survives.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field, replace

from dvx import faults
from dvx.errors import DvxError, UsageError
from dvx.history import Scope, scope_targets
from dvx.logs import get_logger
from dvx.objects.odb import ObjectStore
from dvx.objects.tree import Tree
from dvx.pointer import Pointer
from dvx.remote import pushlog
from dvx.repo import Repo

log = get_logger(__name__)

DEFAULT_GRACE_SECONDS = 3600


@dataclass
class GcResult:
    where: str
    scope: str
    reachable: int = 0
    removed: list[str] = field(default_factory=list)
    bytes_freed: int = 0
    kept_young: int = 0
    dry_run: bool = False

    def to_json(self) -> dict[str, object]:
        return {"where": self.where, "scope": self.scope, "dry_run": self.dry_run,
                "reachable": self.reachable, "removed": len(self.removed),
                "removed_oids": self.removed, "bytes_freed": self.bytes_freed,
                "kept_young": self.kept_young}


@dataclass
class _Reachable:
    oids: set[str] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)


def _pointers_in_scope(repo: Repo, scope: Scope, problems: list[str]
                       ) -> list[tuple[str, Pointer]]:
    """Every pointer the scope holds: the workspace's, the index's (both sides of a
    conflict), and those of every commit in scope; what cannot be read is a problem."""
    targets, broken = scope_targets(repo, scope, strict=True)
    problems += [f"{item.path}: {item.error}" for item in broken]
    return [(t.output.path, t.output.pointer) for t in targets]


def _reachable(repo: Repo, scope: Scope, remote: ObjectStore | None) -> _Reachable:
    reach = _Reachable()
    for where, pointer in _pointers_in_scope(repo, scope, reach.problems):
        if pointer.algo != repo.algo:
            continue  # stored under another algorithm's directory: out of this gc's reach
        reach.oids.add(pointer.oid)
        if pointer.is_dir:
            tree = _manifest(repo, pointer, remote, where, reach.problems)
            if tree is not None:
                reach.oids.update(e.oid for e in tree.entries)
    return reach


def _manifest(repo: Repo, pointer: Pointer, remote: ObjectStore | None, where: str,
              problems: list[str]) -> Tree | None:
    try:
        if repo.cache.exists(pointer.oid):
            data = repo.cache.read_bytes(pointer.oid)
        elif remote is not None and remote.exists(pointer.oid):
            data = remote.read_bytes(pointer.oid)
        else:
            problems.append(f"{where}: its directory manifest {pointer.oid} is in neither the "
                            "cache nor the remote, so what it needs is unknown")
            return None
        return Tree.from_bytes(data, pointer.algo, pointer.oid)
    except (DvxError, OSError) as exc:
        problems.append(f"{where}: {exc}")
        return None


def _refuse_if_unreadable(reach: _Reachable) -> None:
    if reach.problems:
        shown = "; ".join(reach.problems[:5])
        more = f" (and {len(reach.problems) - 5} more)" if len(reach.problems) > 5 else ""
        raise DvxError(f"Nothing was deleted: part of the scope could not be read: {shown}{more}.",
                       "Fix or fetch what is listed, or narrow the scope, and run gc again.")


def gc(repo: Repo, scope: Scope, remote_name: str | None = None, dry_run: bool = False,
       grace_seconds: float = DEFAULT_GRACE_SECONDS) -> list[GcResult]:
    if not scope.workspace:
        raise UsageError("gc needs an explicit scope of what to keep.",
                         "Use --workspace, --all-branches, --all-tags, --all-commits or --rev.")
    scope = replace(scope, index=True, stashes=True, reflogs=scope.all_commits)
    remote = None
    name = None
    if remote_name is not None:
        from dvx.ops.remote import open_remote

        name, remote = open_remote(repo, remote_name)
        if remote.read_only:
            raise UsageError(f"Remote '{name}' is read-only; gc cannot delete from it.")
    with repo.lock():
        reach = _reachable(repo, scope, remote)
        _refuse_if_unreadable(reach)
        cutoff = time.time() - grace_seconds
        results = [_collect_cache(repo, reach.oids, cutoff, dry_run, scope)]
        if remote is not None:
            results.append(_collect_remote(remote, name or "", reach.oids, cutoff, dry_run,
                                           scope, repo))
    return results


def _collect_cache(repo: Repo, keep: set[str], cutoff: float, dry_run: bool, scope: Scope
                   ) -> GcResult:
    result = GcResult("cache", scope.describe(), reachable=len(keep), dry_run=dry_run)
    if not dry_run:
        repo.cache.new_generation()
    for oid in sorted(set(repo.cache.list_oids()) - keep):
        path = repo.cache.oid_path(oid)
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            continue
        if max(st.st_mtime, st.st_ctime) > cutoff:
            result.kept_young += 1
            continue
        if not dry_run:
            faults.point("gc.before_delete")
            os.unlink(path)
            faults.point("gc.after_delete")
        result.removed.append(oid)
        result.bytes_freed += st.st_size
    log.info("gc: %d objects removed from the cache", len(result.removed))
    return result


def _recently_pushed(repo: Repo, remote: ObjectStore, cutoff: float) -> tuple[set[str],
                                                                               list[str]]:
    """What pushes since `cutoff` used on the remote (their push logs), manifests expanded;
    and the names of the logs older than that, which protect nothing any more."""
    logged = pushlog.recent(remote, cutoff)
    used = logged.files | logged.manifests
    problems: list[str] = []
    for oid in sorted(logged.manifests):
        tree = _manifest(repo, Pointer("dir", repo.algo, oid, 0, 0), remote,
                         f"a recent push's directory {oid}", problems)
        if tree is not None:
            used.update(e.oid for e in tree.entries)
    if problems:
        raise DvxError(f"Nothing was deleted from the remote: a recent push used a directory "
                       f"whose manifest cannot be read ({problems[0]}).",
                       "Run gc again once that push's grace period is over, or push it again.")
    return used, logged.expired


def _collect_remote(remote: ObjectStore, name: str, keep: set[str], cutoff: float,
                    dry_run: bool, scope: Scope, repo: Repo) -> GcResult:
    result = GcResult(f"remote {name}", scope.describe(), reachable=len(keep), dry_run=dry_run)
    pushed, expired_logs = _recently_pushed(repo, remote, cutoff)
    doomed: list[str] = []
    for oid, (size, mtime) in sorted(remote.list_with_details().items()):
        if oid in keep:
            continue
        if mtime is None or mtime > cutoff or oid in pushed:
            result.kept_young += 1  # an unknown age counts as young: never guess old
            continue
        doomed.append(oid)
        result.removed.append(oid)
        result.bytes_freed += size
    if doomed and not dry_run:
        remote.delete(doomed)
    if expired_logs and not dry_run:
        remote.delete_logs(pushlog.KIND, expired_logs)
    return result
