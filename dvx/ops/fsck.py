"""dvx fsck: re-hash objects in the cache (or on a remote) and move corrupt ones aside.

Corrupt objects are quarantined, never deleted: `<cache>/quarantine/<oid>.<time>` locally,
`<remote>/quarantine/<oid>.<time>` on a remote. A remote object found corrupt is replaced
from a verified local copy by `dvx push --repair` (or by a plain push, now that it is gone).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dvx.logs import get_logger
from dvx.ops.remote import open_remote
from dvx.ops.sync import settings_for, wanted_objects
from dvx.outputs import resolve_targets
from dvx.remote import transfer
from dvx.repo import Repo
from dvx.threads import map_in_threads

log = get_logger(__name__)


@dataclass
class FsckResult:
    where: str  # "cache" or "remote NAME"
    checked: int = 0
    corrupt: dict[str, str] = field(default_factory=dict)  # oid -> what is wrong
    quarantined: dict[str, str] = field(default_factory=dict)  # oid -> where it went
    unchecked: int = 0  # --fast: objects whose size is not recorded anywhere

    @property
    def ok(self) -> bool:
        return not self.corrupt

    def to_json(self) -> dict[str, object]:
        return {"where": self.where, "checked": self.checked, "unchecked": self.unchecked,
                "corrupt": [{"oid": oid, "problem": why, "moved_to": self.quarantined.get(oid)}
                            for oid, why in sorted(self.corrupt.items())]}


def fsck_cache(repo: Repo) -> FsckResult:
    cache = repo.cache
    oids = sorted(cache.list_oids())
    result = FsckResult("cache", checked=len(oids))
    with repo.lock(), repo.progress.task("Checking the cache", len(oids), "object") as advance:

        def check(oid: str) -> bool:
            good = cache.verify(oid)
            advance(1)
            return good

        for oid, good in zip(oids, map_in_threads(check, oids), strict=True):
            if not good:
                if not result.corrupt:
                    cache.new_generation()
                result.corrupt[oid] = "its bytes do not hash to its oid"
                result.quarantined[oid] = cache.quarantine(oid)
                log.warning("Corrupt object %s moved to %s", oid, result.quarantined[oid])
    return result


def fsck_remote(repo: Repo, remote_name: str | None, fast: bool = False,
                jobs: int | None = None) -> FsckResult:
    name, remote = open_remote(repo, remote_name)
    settings = settings_for(repo, name, remote, jobs)
    wanted = wanted_objects(repo, resolve_targets(repo, []), [])
    sizes = dict(wanted.files)
    if remote.can_list:
        oids = set(remote.list_oids())
    else:  # e.g. HTTP: only what this workspace refers to can be named
        oids = transfer.present_on(remote, set(wanted.files) | set(wanted.trees), settings)
    for oid in oids - sizes.keys():  # sizes of local copies stand in where none is recorded
        if repo.cache.exists(oid):
            sizes[oid] = repo.cache.size(oid)
    result = FsckResult(f"remote {name}", checked=len(oids))
    if fast:
        result.unchecked = len(oids - sizes.keys())
    problems = transfer.verify_on(remote, oids, settings, sizes, fast=fast)
    for oid, why in sorted(problems.items()):
        result.corrupt[oid] = why
        if not why.startswith("could not be read"):
            result.quarantined[oid] = remote.quarantine(oid)
    return result
