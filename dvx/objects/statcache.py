"""Stat cache: remembers which oid a file had when it had a given stat, so unchanged files
are never re-hashed.

An entry is keyed by (inode, size, mtime_ns, ctime_ns) and is trusted only when it is not
"racily clean" (git's rule): entries are written together with a timestamp read from the
filesystem itself (the mtime of a stamp file touched at that moment, so it has the same clock
and granularity as the files), and a file whose last change (max of mtime and ctime) is not
strictly older than that stamp could have been rewritten within the same timestamp tick, so
it is hashed again next time. The cache is a sqlite database under .dvx/tmp; it is only an
accelerator, so a damaged or unwritable database is rebuilt or bypassed, never trusted.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3

log = logging.getLogger(__name__)

StatKey = tuple[int, int, int, int]  # inode, size, mtime_ns, ctime_ns


def stat_key(st: os.stat_result) -> StatKey:
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _is_racy(key: StatKey, recorded_ns: int) -> bool:
    _, _, mtime_ns, ctime_ns = key
    return max(mtime_ns, ctime_ns) >= recorded_ns


class StatCache:
    def __init__(self, db_path: str, algo: str) -> None:
        self.db_path = db_path
        self.algo = algo
        self._entries: dict[int, tuple[int, int, int, str, int]] | None = None
        self._pending: list[tuple[int, int, int, int, str, str]] = []

    def _connect(self) -> sqlite3.Connection:
        os.makedirs(os.path.dirname(self.db_path), exist_ok=True)
        conn = sqlite3.connect(self.db_path, timeout=30)
        conn.execute(
            "CREATE TABLE IF NOT EXISTS stat (ino INTEGER PRIMARY KEY, size INTEGER, "
            "mtime_ns INTEGER, ctime_ns INTEGER, algo TEXT, oid TEXT, recorded_ns INTEGER)"
        )
        return conn

    def _load(self) -> dict[int, tuple[int, int, int, str, int]]:
        if self._entries is None:
            self._entries = {}
            try:
                with contextlib.closing(self._connect()) as conn:
                    rows = conn.execute(
                        "SELECT ino, size, mtime_ns, ctime_ns, oid, recorded_ns FROM stat "
                        "WHERE algo = ?", (self.algo,)
                    )
                    self._entries = {r[0]: r[1:] for r in rows}
            except sqlite3.DatabaseError as exc:
                log.debug("stat cache unreadable (%s); rebuilding it", exc)
                self._reset()
        return self._entries

    def _reset(self) -> None:
        for suffix in ("", "-wal", "-shm", "-journal"):
            with contextlib.suppress(OSError):
                os.unlink(self.db_path + suffix)

    def get(self, st: os.stat_result) -> str | None:
        """The oid recorded for a file with exactly this stat, if it can be trusted."""
        entry = self._load().get(st.st_ino)
        if entry is None:
            return None
        size, mtime_ns, ctime_ns, oid, recorded_ns = entry
        key = stat_key(st)
        if (size, mtime_ns, ctime_ns) != key[1:] or _is_racy(key, recorded_ns):
            return None
        return oid

    def put(self, st: os.stat_result, oid: str) -> None:
        key = stat_key(st)
        self._pending.append((*key, self.algo, oid))
        # Not trusted again in this process: its timestamp is only known at flush.
        self._load()[key[0]] = (key[1], key[2], key[3], oid, 0)

    def _filesystem_now(self) -> int:
        stamp = self.db_path + ".stamp"
        with open(stamp, "ab"):
            pass
        os.utime(stamp)  # the kernel's file clock, with the filesystem's granularity
        return os.stat(stamp).st_mtime_ns

    def flush(self) -> None:
        if not self._pending:
            return
        rows, self._pending = self._pending, []
        try:
            os.makedirs(os.path.dirname(self.db_path), exist_ok=True)
            recorded_ns = self._filesystem_now()
            with contextlib.closing(self._connect()) as conn, conn:
                conn.executemany("INSERT OR REPLACE INTO stat VALUES (?, ?, ?, ?, ?, ?, ?)",
                                 [(*row, recorded_ns) for row in rows])
        except sqlite3.DatabaseError as exc:
            log.debug("stat cache not written (%s); rebuilding it", exc)
            self._reset()
        except OSError as exc:
            log.debug("stat cache not written (%s)", exc)
