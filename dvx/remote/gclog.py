"""gc logs: what a `gc --remote` stopped midway was deleting along with its packs.

A pack says nothing about the objects in it (docs/formats.md): once gc has replaced the
indexes naming a pack it is about to delete, nothing else says which objects leave with
that pack. So before gc deletes those indexes it leaves a log on the remote,
`logs/gc/<time>-<random>.log`, naming, for each such pack, the objects the old indexes
placed in it that no index names any more (the objects it deletes). A gc stopped before it
deleted those packs (kill -9, Ctrl-C) leaves them named by no index; the next gc reads the
log, counts the objects that leave with them as deleted (and warns, as any gc does, about
those that commits outside its scope use: it reads a directory's manifest leaving so, which
no index places any more, where the log says it lies in its pack), and deletes the log once
the packs are gone.
`fsck --remote` names such a pack as one an interrupted gc left. The format is in
docs/formats.md.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from dvx.fsutil import FULL_DISK_ERRNOS
from dvx.hashing import is_valid_oid
from dvx.logs import get_logger
from dvx.objects.layout import is_log_name, is_pack_name, log_name
from dvx.objects.odb import ObjectStore
from dvx.remote.pushlog import log_chunks

KIND = "gc"
HEADER = b"dvx gc log 1\n"
MAX_LOG_BYTES = 16 << 20

log = get_logger(__name__)

Leaving = Mapping[str, Mapping[str, int]]  # pack -> {oid: length} of the objects leaving
Offsets = Mapping[str, Mapping[str, int]]  # pack -> {oid: offset} of some of them


def record(remote: ObjectStore, leaving: Leaving, offsets: Offsets | None = None) -> list[str]:
    """Write the logs naming the objects `leaving` with each pack, each with where it lies in
    its pack where `offsets` says; their names (none when nothing leaves). On a full disk
    the logs not yet written are left out: gc is what frees such a remote, and a gc stopped
    before it deletes those packs then leaves them as it did without a log (the next gc
    deletes them, counting only what no index names)."""
    lines: list[bytes] = []
    for pack, objects in sorted(leaving.items()):
        if objects:
            at = (offsets or {}).get(pack, {})
            lines.append(f"p {pack}\n".encode())
            for oid, length in sorted(objects.items()):
                lines.append(f"o {oid} {length}\n".encode())
                if oid in at:  # a line of its own: a reader that does not know it skips it
                    lines.append(f"a {oid} {at[oid]}\n".encode())
    if not lines:
        return []
    names = []
    for chunk in log_chunks(lines, MAX_LOG_BYTES - len(HEADER), group=b"p "):
        name = log_name(int(time.time()), os.urandom(8).hex())
        try:
            remote.write_log(KIND, name, b"".join([HEADER, *chunk]))
        except OSError as exc:
            if exc.errno not in FULL_DISK_ERRNOS:
                raise
            log.debug("no room for a gc log: going on without it (%s)", exc)
            break
        names.append(name)
    return names


@dataclass
class Logged:
    """What the gc logs on a remote name: the objects leaving with each pack, and the logs."""
    leaving: dict[str, dict[str, int]] = field(default_factory=dict)
    logs: dict[str, set[str]] = field(default_factory=dict)  # log name -> the packs it names
    # pack -> {oid: offset} of the objects leaving whose place in the pack the log gives
    offsets: dict[str, dict[str, int]] = field(default_factory=dict)


def read(remote: ObjectStore) -> Logged:
    """Every gc log of `remote`. A line that does not parse is ignored (it names nothing it
    cannot prove); a log deleted since the listing (by the gc that wrote it, once it deleted
    its packs, which `fsck --remote` runs beside) is skipped; a log of another format (a
    newer dvx's) or a file without a log's name is neither counted nor deleted (gc deletes
    only the logs listed here)."""
    found = Logged()
    for name in sorted(remote.list_logs(KIND)):
        if not is_log_name(name):
            continue
        try:
            data = remote.read_log(KIND, name, MAX_LOG_BYTES)
        except FileNotFoundError:  # deleted since the listing: its packs are gone
            continue
        if not data.startswith(HEADER):  # a newer dvx's: what it says is not known here
            continue
        packs = found.logs.setdefault(name, set())
        pack: str | None = None
        for line in data[len(HEADER):].decode("ascii", "replace").splitlines():
            kind, _, rest = line.partition(" ")
            if kind == "p":
                pack = rest if is_pack_name(rest, remote.algo) else None
                if pack is not None:
                    packs.add(pack)
                continue
            oid, _, number = rest.partition(" ")
            if kind not in ("o", "a") or pack is None or not is_valid_oid(oid, remote.algo) \
                    or not number.isdigit():
                continue
            if kind == "o":
                found.leaving.setdefault(pack, {})[oid] = int(number)
            elif oid in found.leaving.get(pack, {}):
                found.offsets.setdefault(pack, {})[oid] = int(number)
    return found
