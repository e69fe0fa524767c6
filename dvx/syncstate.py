"""What the workspace was last synced to, per tracked output.

`add`, `commit`, `checkout`, `pull` and `repro` record, for each output they leave matching
its pointer (or dvx.lock entry), the oid the workspace then held; for a directory checked out
only in part (`dvx pull data/images/cat.png`), also which parts were placed. With that, a
pointer that moved in Git since (`git pull`, `git checkout`) is told apart from a change made
in the workspace: the workspace still holding the synced data means "the data must be
fetched", not "record this data", so no command writes the old data over a teammate's new
pointer. And entries of a directory that were never placed here are "not pulled", not
deleted, so a partial pull never shrinks a directory when it is committed.

Stored in `.dvx/tmp/synced.json` (this clone's own state, never tracked), rewritten
atomically under the repository lock. Losing it loses nothing but the distinction: every
output then compares as before (workspace against pointer).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

from dvx import fsutil
from dvx.errors import FormatError
from dvx.hashing import is_valid_oid
from dvx.logs import get_logger
from dvx.paths import check_relpath

log = get_logger(__name__)

FORMAT_VERSION = 1
MAX_BYTES = 64 << 20


@dataclass(frozen=True)
class Synced:
    oid: str  # of the file, or of the directory's manifest
    placed: tuple[str, ...] | None = None  # a directory placed in part: its placed subpaths

    def covers(self, relpath: str) -> bool:
        """Was `relpath` (inside the directory) ever placed in this workspace?"""
        return self.placed is None or any(
            relpath == p or relpath.startswith(p + "/") for p in self.placed)

    def with_part(self, subpath: str) -> Synced:
        """This record after `subpath` (of the same directory version) was placed too."""
        if self.placed is None or self.covers(subpath):
            return self
        return Synced(self.oid, (*self.placed, subpath))


class SyncState:
    def __init__(self, path: str, algo: str) -> None:
        self.path = path
        self.algo = algo
        self._records: dict[str, Synced] | None = None
        self._changed = False

    def _load(self) -> dict[str, Synced]:
        if self._records is None:
            self._records = self._read()
        return self._records

    def _read(self) -> dict[str, Synced]:
        try:
            with open(self.path, "rb") as f:
                doc = json.loads(f.read(MAX_BYTES + 1))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            log.warning("Ignoring the unreadable record of what was checked out (%s): %s",
                        self.path, exc)
            return {}
        records: dict[str, Synced] = {}
        if not isinstance(doc, dict) or doc.get("version") != FORMAT_VERSION \
                or doc.get("algo") != self.algo or not isinstance(doc.get("outputs"), dict):
            return records
        for path, entry in doc["outputs"].items():
            record = _parse(path, entry, self.algo)
            if record is not None:
                records[path] = record
        return records

    def paths(self) -> list[str]:
        return list(self._load())

    def get(self, output_path: str) -> Synced | None:
        return self._load().get(output_path)

    def record(self, output_path: str, synced: Synced) -> None:
        records = self._load()
        if records.get(output_path) != synced:
            records[output_path] = synced
            self._changed = True

    def forget(self, output_path: str) -> None:
        if self._load().pop(output_path, None) is not None:
            self._changed = True

    def move(self, old: str, new: str) -> None:
        records = self._load()
        if old in records:
            records[new] = records.pop(old)
            self._changed = True

    def flush(self) -> None:
        """Write the records if they changed (the caller holds the repository lock)."""
        if not self._changed or self._records is None:
            return
        outputs = {}
        for path, synced in sorted(self._records.items()):
            entry: dict[str, object] = {"oid": synced.oid}
            if synced.placed is not None:
                entry["placed"] = sorted(synced.placed)
            outputs[path] = entry
        doc = {"version": FORMAT_VERSION, "algo": self.algo, "outputs": outputs}
        try:
            fsutil.makedirs(os.path.dirname(self.path))
            fsutil.atomic_write(self.path, json.dumps(doc, sort_keys=True).encode(),
                                fsync=False)
        except OSError as exc:
            log.warning("Could not record what was checked out (%s): %s", self.path,
                        exc.strerror or exc)
            return
        self._changed = False


def _parse(path: object, entry: object, algo: str) -> Synced | None:
    """A record as written by `flush`, or None if it is not one (never trusted blindly: the
    file is this clone's own, but a damaged record must not name paths outside)."""
    if not isinstance(path, str) or not isinstance(entry, dict):
        return None
    oid = entry.get("oid")
    placed = entry.get("placed")
    try:
        check_relpath(path)
        if placed is not None:
            if not isinstance(placed, list):
                return None
            for part in placed:
                check_relpath(part)
    except FormatError:
        return None
    if not isinstance(oid, str) or not is_valid_oid(oid, algo):
        return None
    return Synced(oid, None if placed is None else tuple(placed))
