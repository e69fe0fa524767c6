"""The transfer engine: copy objects between the local cache and another ObjectStore.

Transfers run many objects at once, never stop at the first failure (every failure is
returned with its oid and reason), and every download is hashed as it is written and only
then moved into the cache. Directory manifests are uploaded only after all of their files
are on the remote, so a remote never holds a manifest whose files are missing.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from dvx.errors import DvxError, MissingObjectError
from dvx.objects.cache import LocalCache
from dvx.objects.odb import ObjectStore
from dvx.progress import Progress

log = logging.getLogger(__name__)


@dataclass
class TransferResult:
    transferred: list[str] = field(default_factory=list)
    already_there: int = 0
    failed: dict[str, str] = field(default_factory=dict)  # oid -> reason
    bytes: int = 0

    def merge(self, other: TransferResult) -> None:
        self.transferred += other.transferred
        self.already_there += other.already_there
        self.failed.update(other.failed)
        self.bytes += other.bytes


def _describe(exc: BaseException) -> str:
    if isinstance(exc, DvxError):
        return str(exc)
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return f"{type(exc).__name__}: {exc}"


def _run(oids: list[str], work: Callable[[str], int], jobs: int, progress: Progress,
         desc: str) -> TransferResult:
    result = TransferResult()
    if not oids:
        return result
    with progress.task(desc, len(oids), "object") as advance, ThreadPoolExecutor(jobs) as pool:
        futures = {oid: pool.submit(work, oid) for oid in oids}
        for oid, future in futures.items():
            try:
                result.bytes += future.result()
                result.transferred.append(oid)
            except Exception as exc:
                result.failed[oid] = _describe(exc)
                log.debug("transfer of %s failed", oid, exc_info=True)
            advance(1)
    return result


def upload(cache: LocalCache, remote: ObjectStore, oids: Iterable[str], jobs: int,
           progress: Progress) -> TransferResult:
    wanted = sorted(set(oids))
    present = remote.existing(wanted)
    todo = [oid for oid in wanted if oid not in present]

    def put(oid: str) -> int:
        path = cache.oid_path(oid)
        remote.put_file(path, oid)
        return os.path.getsize(path)

    result = _run(todo, put, jobs, progress, "Uploading")
    result.already_there = len(present)
    return result


def download(remote: ObjectStore, cache: LocalCache, oids: Iterable[str], jobs: int,
             progress: Progress) -> TransferResult:
    wanted = sorted(set(oids))
    present = cache.existing(wanted)
    todo = [oid for oid in wanted if oid not in present]

    def get(oid: str) -> int:
        try:
            src = remote.open(oid)
        except FileNotFoundError:
            raise MissingObjectError("not on the remote") from None
        with src:
            return cache.add_stream(src, oid)

    result = _run(todo, get, jobs, progress, "Downloading")
    result.already_there = len(present)
    return result
