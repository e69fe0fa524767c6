"""Push logs: a remote's record of which data pushes have just used.

An object's age on a remote is the time it was first uploaded; a push that finds an object
already there cannot make it younger (an object store has no "touch"). So every push that
found anything already on the remote leaves a small log there, `logs/push/<time>-<random>.log`,
naming the data it pushed (files, and directories by their manifests), and `gc --remote` keeps
whatever a log younger than its grace period names: a remote shared by several repositories
never loses data one of them has just started to use. Logs older than the grace period protect
nothing any more, and gc deletes them. The format is in docs/formats.md.

A log's age is the time the store gave it, on the store's clock as gc's cutoff is; the seconds
in its name are the pusher's clock, trusted (with CLOCK_SKEW to spare) only from a store whose
listing gives no times.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from dvx.hashing import is_valid_oid
from dvx.objects.layout import is_log_name, log_name
from dvx.objects.odb import ObjectStore
from dvx.remote.locks import CLOCK_SKEW

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
    for chunk in log_chunks(lines, MAX_LOG_BYTES - len(HEADER)):
        name = log_name(stamp, os.urandom(8).hex())
        remote.write_log(KIND, name, b"".join([HEADER, *chunk]))


def log_chunks(lines: list[bytes], limit: int, group: bytes | None = None
               ) -> Iterator[list[bytes]]:
    """`lines` in chunks of at most `limit` bytes, one log each; at least one, even naming
    nothing. With `group`, a line starting with it opens a group (a gc log's pack), and a
    chunk that starts inside a group starts with that group's line again, so each log reads
    on its own."""
    chunk: list[bytes] = []
    size = 0
    opened = b""
    for line in lines:
        opens = group is not None and line.startswith(group)
        if opens:
            opened = line
        if chunk and size + len(line) > limit:
            yield chunk
            chunk, size = ([opened], len(opened)) if opened and not opens else ([], 0)
        chunk.append(line)
        size += len(line)
    yield chunk


@dataclass
class Recent:
    files: set[str] = field(default_factory=set)
    manifests: set[str] = field(default_factory=set)
    expired: list[str] = field(default_factory=list)  # logs older than the cutoff
    # For each manifest, the time of the latest log naming it (None: a log of unknown time).
    manifests_logged: dict[str, float | None] = field(default_factory=dict)


def recent(remote: ObjectStore, since: float) -> Recent:
    """What the logs written at or after `since` (the store's clock) name; and the names of
    the older logs. A log that cannot be read or parsed is treated as recent and names
    nothing it cannot prove (its oids are still kept when valid); one deleted since the listing
    is skipped. A file without a log's name is not dvx's: neither read nor deleted."""
    found = Recent()
    for name, (_, stored) in sorted(remote.list_logs(KIND).items()):
        if not is_log_name(name):
            continue
        written = _written(name, stored)
        if written is not None and written < since:
            found.expired.append(name)
            continue
        try:
            data = remote.read_log(KIND, name, MAX_LOG_BYTES)
        except FileNotFoundError:  # deleted since the listing, by a gc that found it expired
            continue
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


def _written(name: str, stored: float | None) -> float | None:
    """When the log `name` was written, on the store's clock: the time the store gave it; else
    its name's seconds, written by the pusher's clock and so taken as CLOCK_SKEW later (a
    pusher whose clock runs behind loses no protection); None if it has neither."""
    if stored is not None:
        return stored
    stamp = name.split("-", 1)[0]
    return int(stamp) + CLOCK_SKEW if stamp.isdigit() else None
