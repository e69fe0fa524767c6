"""dvx push / fetch / pull: move the objects that pointers need between cache and remote."""

from __future__ import annotations

from dataclasses import dataclass, field

from dvx import faults
from dvx.errors import FormatError, RemoteError
from dvx.objects.odb import ObjectStore
from dvx.objects.tree import Tree
from dvx.ops.checkout import CheckoutResult, checkout
from dvx.ops.remote import open_remote, remote_jobs
from dvx.outputs import Target, load_tree
from dvx.remote import transfer
from dvx.remote.fs import redact_url
from dvx.repo import Repo


@dataclass
class SyncResult:
    remote: str
    transfer: transfer.TransferResult = field(default_factory=transfer.TransferResult)
    problems: list[str] = field(default_factory=list)  # what could not be done, and why
    checkout: CheckoutResult | None = None

    @property
    def ok(self) -> bool:
        return not self.problems and not self.transfer.failed and (
            self.checkout is None or self.checkout.ok)

    def to_json(self) -> dict[str, object]:
        doc: dict[str, object] = {
            "remote": self.remote, "transferred": len(self.transfer.transferred),
            "already_there": self.transfer.already_there, "bytes": self.transfer.bytes,
            "failed": [{"oid": o, "reason": r} for o, r in sorted(self.transfer.failed.items())],
            "problems": self.problems}
        if self.checkout is not None:
            doc["checkout"] = self.checkout.to_json()
        return doc


def _in_scope(path: str, subpath: str | None) -> bool:
    return subpath is None or path == subpath or path.startswith(subpath + "/")


def push(repo: Repo, targets: list[Target], remote_name: str | None = None,
         jobs: int | None = None) -> SyncResult:
    name, remote = open_remote(repo, remote_name)
    result = SyncResult(name)
    files: set[str] = set()
    trees: dict[str, Tree] = {}
    for target in targets:
        pointer = target.output.pointer
        if not pointer.is_dir:
            files.add(pointer.oid)
            continue
        tree = _local_tree(repo, target, result)
        if tree is None:
            continue
        files.update(e.oid for e in tree.entries if _in_scope(e.path, target.subpath))
        if target.subpath is None:
            trees[pointer.oid] = tree
    not_cached = files - repo.cache.existing(files)
    for oid in sorted(not_cached):
        result.transfer.failed[oid] = "not in the local cache"
    _ensure_remote_dir(remote, create=True)
    job_count = remote_jobs(repo, name, jobs)
    result.transfer.merge(transfer.upload(repo.cache, remote, files - not_cached, job_count,
                                          repo.progress))
    # Manifests last, and only those whose every file is now on the remote.
    on_remote = (files - not_cached) - set(result.transfer.failed)
    complete = [oid for oid, tree in trees.items()
                if all(e.oid in on_remote for e in tree.entries)]
    for oid in set(trees) - set(complete):
        result.problems.append(f"the manifest {oid} was not pushed: some of its files failed")
    faults.point("push.before_manifests")
    result.transfer.merge(transfer.upload(repo.cache, remote, complete, job_count,
                                          repo.progress))
    return result


def _local_tree(repo: Repo, target: Target, result: SyncResult) -> Tree | None:
    try:
        tree = load_tree(repo, target.output.pointer)
    except FormatError as exc:
        result.problems.append(f"{target.output.path}: {exc}")
        return None
    if tree is None:
        result.problems.append(f"{target.output.path}: its manifest is not in the cache")
    return tree


def _ensure_remote_dir(remote: ObjectStore, create: bool) -> None:
    if not remote.is_local:
        return
    import os

    if create:
        os.makedirs(remote.root, exist_ok=True)
    elif not os.path.isdir(remote.root):
        raise RemoteError(f"The remote directory '{redact_url(remote.root)}' does not exist.",
                          "Check the remote's URL with `dvx remote list`.")


def fetch(repo: Repo, targets: list[Target], remote_name: str | None = None,
          jobs: int | None = None) -> SyncResult:
    name, remote = open_remote(repo, remote_name)
    _ensure_remote_dir(remote, create=False)
    result = SyncResult(name)
    job_count = remote_jobs(repo, name, jobs)
    # Manifests first: they say which files a directory needs.
    manifests = {t.output.pointer.oid for t in targets if t.output.pointer.is_dir}
    result.transfer.merge(transfer.download(remote, repo.cache, manifests, job_count,
                                            repo.progress))
    files: set[str] = set()
    for target in targets:
        pointer = target.output.pointer
        if not pointer.is_dir:
            files.add(pointer.oid)
            continue
        if pointer.oid in result.transfer.failed:
            continue
        tree = _local_tree(repo, target, result)
        if tree is not None:
            files.update(e.oid for e in tree.entries if _in_scope(e.path, target.subpath))
    result.transfer.merge(transfer.download(remote, repo.cache, files, job_count,
                                            repo.progress))
    return result


def pull(repo: Repo, targets: list[Target], remote_name: str | None = None,
         jobs: int | None = None, force: bool = False) -> SyncResult:
    result = fetch(repo, targets, remote_name, jobs)
    result.checkout = checkout(repo, targets, force=force)
    return result
