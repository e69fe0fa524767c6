"""Push logs: a remote's record of which data pushes have just used.

An object's age on a remote is the time it was first uploaded; a push that finds an object
already there cannot make it younger (an object store has no "touch"). So every push that
found anything already on the remote leaves a small log there, `logs/push/<time>-<random>.log`,
naming the data it pushed (files, and directories by their manifests), and `gc --remote` keeps
whatever a log younger than its grace period names: a remote shared by several repositories
never loses data one of them has just started to use. Logs older than the grace period protect
nothing any more, and gc deletes them. The format is in docs/formats.md.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from dvx.hashing import is_valid_oid
from dvx.objects.odb import ObjectStore

KIND = "push"
HEADER = b"dvx push log 1\n"
MAX_LOG_BYTES = 16 << 20


def record(remote: ObjectStore, files: Iterable[str], manifests: Iterable[str],
           now: float | None = None) -> None:
    """Write the logs naming `files` and `manifests`: as many as it takes for each to stay
    within what a reader reads of one (MAX_LOG_BYTES)."""
    lines = [f"f {oid}\n".encode() for oid in sorted(set(files))]
    lines += [f"d {oid}\n".encode() for oid in sorted(set(manifests))]
    stamp = int(now if now is not None else time.time())
    for chunk in _chunks(lines, MAX_LOG_BYTES - len(HEADER)):
        name = f"{stamp:010d}-{os.urandom(8).hex()}.log"
        remote.write_log(KIND, name, b"".join([HEADER, *chunk]))


def _chunks(lines: list[bytes], limit: int) -> Iterator[list[bytes]]:
    chunk: list[bytes] = []
    size = 0
    for line in lines:
        if chunk and size + len(line) > limit:
            yield chunk
            chunk, size = [], 0
        chunk.append(line)
        size += len(line)
    yield chunk  # one log, even naming nothing


@dataclass
class Recent:
    files: set[str] = field(default_factory=set)
    manifests: set[str] = field(default_factory=set)
    expired: list[str] = field(default_factory=list)  # logs older than the cutoff
    # For each manifest, the time of the latest log naming it (None: a log name without one).
    manifests_logged: dict[str, int | None] = field(default_factory=dict)


def recent(remote: ObjectStore, since: float) -> Recent:
    """What the logs written at or after `since` name; and the names of the older logs. A
    log that cannot be read or parsed is treated as recent and names nothing it cannot prove
    (its oids are still kept when valid)."""
    found = Recent()
    for name in remote.list_logs(KIND):
        stamp = name.split("-", 1)[0]
        if stamp.isdigit() and int(stamp) < since:
            found.expired.append(name)
            continue
        data = remote.read_log(KIND, name, MAX_LOG_BYTES)
        written = int(stamp) if stamp.isdigit() else None
        for line in data[len(HEADER):].decode("ascii", "replace").splitlines():
            kind, _, oid = line.partition(" ")
            if not is_valid_oid(oid, remote.algo):
                continue
            if kind != "d":
                found.files.add(oid)
                continue
            found.manifests.add(oid)
            before = found.manifests_logged.get(oid, 0)
            found.manifests_logged[oid] = (None if written is None or before is None
                                           else max(written, before))
    return found
