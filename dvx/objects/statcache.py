"""Stat cache: remembers which oid a file had when it had a given stat, so unchanged files
are never re-hashed.

An entry is found by path, matches only the same (inode, size, mtime_ns, ctime_ns), and is
trusted only when it is not "racily clean" (git's rule): entries are written together with a
timestamp read from the filesystem itself (the mtime of a stamp file touched at that moment,
so it has the same clock and granularity as the files), and a file whose last change (max of
mtime and ctime) is not strictly older than that stamp could have been rewritten within the
same timestamp tick, so it is hashed again next time. The stamp lives on .dvx/tmp's
filesystem; a file on another one (a disk mounted inside the workspace) may tick far more
coarsely (1 s for ext4 with small inodes, 2 s for FAT), so its entry is trusted only if its
last change is at least COARSEST_TICK_NS older than the stamp. The cache is a sqlite database
under .dvx/tmp; it is only an accelerator, so a damaged or unwritable database is rebuilt or
bypassed, never trusted. So is a damaged row (a bit flipped on disk): every value read is
checked (its type, an oid's form and a CRC-32 stored beside it, a folder digest's JSON), and a
row that fails is a miss, deleted at the next write.

It also remembers, by oid, the stat each object of the cache had when dvx last knew its bytes
hash to its oid (`object_stat`): push and checkout trust an object without reading it only
while its stat is still that one, its ctime included (dvx/objects/cache.py `known_intact`).
Those rows follow the racy-clean rule too.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import zlib
from collections.abc import Collection, Iterable, Iterator
from operator import itemgetter

from dvx.hashing import is_valid_oid
from dvx.logs import get_logger
from dvx.paths import Fingerprint

log = get_logger(__name__)

StatKey = tuple[int, int, int, int, int]  # inode, size, mtime_ns, ctime_ns, device


def stat_key(st: os.stat_result) -> StatKey:
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_dev)


# FAT's mtime granularity, the coarsest of any filesystem: a file on another filesystem than
# the stamp's is trusted only once its timestamp tick is surely over by the stamp's clock.
COARSEST_TICK_NS = 2_000_000_000

SCHEMA_VERSION = 7  # 6's rows have no check of their oid, whose bits may have flipped
# path, ino, size, mtime, ctime, oid, stamp, oid_check
Entry = tuple[str, int, int, int, int, str, int, int]
ENTRY_COLUMNS = "path, ino, size, mtime_ns, ctime_ns, oid, recorded_ns, oid_check"


def oid_check(oid: str) -> int:
    """The CRC-32 stored beside an oid: a bit flipped on disk that leaves another well-formed
    oid (a '0' made a '1') would make an unchanged file look modified, and no check of the
    oid's form finds it."""
    return zlib.crc32(oid.encode("ascii"))


def storable(path: str) -> bool:
    """Can `path` be a row's key? SQLite keeps text as UTF-8, which a name that is not valid
    UTF-8 (its bytes surrogate-escaped by os.fsdecode) cannot be written as."""
    if path.isascii():
        return True
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _path_text(row: tuple[object, object]) -> str:
    """A row's path as text, to sort by: a damaged row's may be of another type."""
    return str(row[0])


def _exists(path: object) -> bool:
    """Is there something at a row's path? Not at a damaged row's that is no text."""
    return isinstance(path, str) and os.path.lexists(path)


def _folder_digests(text: str) -> dict[str, str] | None:
    """The folder digests (Fingerprint.parts) stored as JSON; None if damaged."""
    try:
        parts = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if not isinstance(parts, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in parts.items()):
        return None
    return parts


def trusted_oid(entry: Entry, st: os.stat_result) -> str | None:
    """The entry's oid if the file still has exactly the recorded stat and the record was
    made after its last change (not racy), else None."""
    # Written out rather than via stat_key: this runs once per file per status.
    if (entry[1] != st.st_ino or entry[2] != st.st_size or entry[3] != st.st_mtime_ns
            or entry[4] != st.st_ctime_ns or max(entry[3], entry[4]) >= entry[6]):
        return None
    return entry[5]


def _not_racy(mtime: int, ctime: int, recorded: int) -> bool:
    """Can an object's record with these times be trusted? A write in the timestamp tick of
    its ctime, after the record, would leave the ctime as it is, but set the mtime to it: a
    record whose mtime is before its ctime (dvx sets an object's mtime before its ctime, and a
    file it links into the cache was last written before that) would no longer match. Else
    the racy-clean rule, as for files."""
    return mtime < ctime or max(mtime, ctime) < recorded


# What reading a damaged database raises: SQLite's errors, and Python's where the damaged text
# is one of SQLite's own messages (a schema's, quoted)
UNREADABLE = (sqlite3.DatabaseError, UnicodeDecodeError)

ROWS_AT_ONCE = 10_000  # read from the database per query by oids_below
OIDS_PER_QUERY = 500  # objects asked about per query by read_objects (SQLite takes 999 values)
SCAN_WHEN_ASKED_OF = 3  # read every object record when asked about a third of them or more
PENDING_ROWS = 50_000  # new entries held before they are written out


class StatCache:
    """Maps a file path to the oid it had when it had a given stat. Also remembers which
    directory manifests were already fully validated, so a manifest whose bytes still hash
    to its oid need not be validated again."""

    def __init__(self, db_path: str, algo: str) -> None:
        self.db_path = db_path
        self.algo = algo
        self._entries: dict[str, Entry] | None = None
        self._valid_trees: set[str] | None = None
        self._complete_trees: set[tuple[str, str]] = set()  # (oid, cache generation)
        self._pending: list[tuple[str, int, int, int, int, int, str]] = []
        self._pending_trees: list[str] = []
        self._pending_complete: list[tuple[str, str]] = []
        self._pending_dirs: list[tuple[str, str, int, str, str | None, int | None]] = []
        self._pending_forget: list[tuple[str, int]] = []  # (path, recorded_ns) of rows to drop
        self._pending_forget_dirs: list[tuple[str, object]] = []  # the same, of dir_state rows
        self._pending_objects: dict[str, StatKey] = {}  # oid -> its stat known intact
        self._read_objects: dict[str, StatKey | None] = {}  # the same, read (None: no record)

    def _connect(self) -> sqlite3.Connection:
        os.makedirs(os.path.dirname(self.db_path), exist_ok=True)
        conn = sqlite3.connect(self.db_path, timeout=30)
        if conn.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
            with conn:
                conn.execute("DROP TABLE IF EXISTS stat")
                conn.execute("DROP TABLE IF EXISTS valid_tree")
                conn.execute(
                    "CREATE TABLE stat (path TEXT PRIMARY KEY, ino INTEGER, size INTEGER, "
                    "mtime_ns INTEGER, ctime_ns INTEGER, oid TEXT, recorded_ns INTEGER, "
                    "algo TEXT, oid_check INTEGER) WITHOUT ROWID")
                conn.execute("CREATE TABLE valid_tree (oid TEXT PRIMARY KEY, algo TEXT) "
                             "WITHOUT ROWID")
                conn.execute("DROP TABLE IF EXISTS complete_tree")
                conn.execute("DROP TABLE IF EXISTS dir_state")
                conn.execute("CREATE TABLE dir_state (path TEXT PRIMARY KEY, digest TEXT, "
                             "newest INTEGER, tree_oid TEXT, algo TEXT, recorded_ns INTEGER, "
                             "parts TEXT) WITHOUT ROWID")
                conn.execute("CREATE TABLE complete_tree (oid TEXT, algo TEXT, generation TEXT, "
                             "PRIMARY KEY (oid, algo, generation)) WITHOUT ROWID")
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        # Added without a new schema version: a database of version 7 keeps its other rows.
        conn.execute("CREATE TABLE IF NOT EXISTS object_stat (oid TEXT, algo TEXT, "
                     "ino INTEGER, size INTEGER, mtime_ns INTEGER, ctime_ns INTEGER, "
                     "device INTEGER, recorded_ns INTEGER, PRIMARY KEY (oid, algo)) "
                     "WITHOUT ROWID")
        return conn

    def _load(self) -> dict[str, Entry]:
        """The per-file entries, read on first use: a status that finds every directory
        unchanged by its fingerprint never needs them."""
        if self._entries is None:
            self._entries = {}
            try:
                with contextlib.closing(self._connect()) as conn:
                    rows = conn.execute(f"SELECT {ENTRY_COLUMNS} FROM stat WHERE algo = ?",
                                        (self.algo,)).fetchall()
                self._entries = {row[0]: row for row in self._sound(rows)}
                for pending in self._pending:
                    self._entries.pop(pending[0], None)
            except UNREADABLE as exc:
                log.debug("stat cache unreadable (%s); rebuilding it", exc)
                self._reset()
        return self._entries

    def _load_trees(self) -> set[str]:
        if self._valid_trees is None:
            self._valid_trees = set()
            try:
                with contextlib.closing(self._connect()) as conn:
                    trees = conn.execute("SELECT oid FROM valid_tree WHERE algo = ?",
                                         (self.algo,)).fetchall()
                    complete = conn.execute("SELECT oid, generation FROM complete_tree WHERE "
                                            "algo = ?", (self.algo,)).fetchall()
                self._valid_trees = {row[0] for row in trees}
                self._complete_trees |= {(row[0], row[1]) for row in complete}
            except UNREADABLE as exc:
                log.debug("stat cache unreadable (%s); rebuilding it", exc)
                self._reset()
        return self._valid_trees

    def _sound(self, rows: list[Entry]) -> list[Entry]:
        """The rows as dvx wrote them: path, oid and stamp of their types, the oid matching
        its check (dvx writes well-formed oids only, so a damaged one fails the check but one
        time in 2**32); the others are forgotten. A damaged database may hold any value in
        any column: a stat value of another type only fails to match a file's. Every row of
        a large folder is read here, so the check is the CRC alone, not the oid's pattern
        too."""
        crc32 = zlib.crc32
        sound = [row for row in rows
                 if type(row[0]) is str and type(row[5]) is str and type(row[6]) is int
                 and crc32(row[5].encode("utf-8", "replace")) == row[7]]
        if len(sound) < len(rows):
            kept = set(map(id, sound))
            damaged = [row for row in rows if id(row) not in kept]
            log.debug("stat cache: %d damaged rows ignored and dropped", len(damaged))
            self.forget(damaged)
        return sound

    def _reset(self) -> None:
        for suffix in ("", "-wal", "-shm", "-journal"):
            with contextlib.suppress(OSError):
                os.unlink(self.db_path + suffix)

    def get(self, path: str, st: os.stat_result) -> str | None:
        """The oid recorded for `path` with exactly this stat, if it can be trusted."""
        entries = self._entries if self._entries is not None else self._load()
        entry = entries.get(path)
        return None if entry is None else trusted_oid(entry, st)

    def recorded(self, path: str) -> Entry | None:
        """What is recorded for `path`, whatever its stat now (not to be trusted as its oid:
        `get` tells that)."""
        entries = self._entries if self._entries is not None else self._load()
        return entries.get(path)

    def oids_below(self, top: str) -> Iterator[tuple[str, Entry]]:
        """(path, entry) of every path recorded below the directory `top`, in path order
        (SQLite's order of UTF-8 text is the order of Python strings), a batch at a time:
        no statement stays open between batches, so a flush meanwhile never waits for one.
        Check an entry against a file's stat with `trusted_oid`."""
        last, end = top + "/", top + "0"  # '0' follows '/': every path below sorts between
        try:
            with contextlib.closing(self._connect()) as conn:
                while True:
                    rows = conn.execute(
                        f"SELECT {ENTRY_COLUMNS} FROM stat "
                        "WHERE algo = ? AND path > ? AND path < ? ORDER BY path LIMIT ?",
                        (self.algo, last, end, ROWS_AT_ONCE)).fetchall()
                    for row in self._sound(rows):
                        yield row[0], row
                    if len(rows) < ROWS_AT_ONCE:
                        return
                    last = rows[-1][0]
        except UNREADABLE as exc:
            log.debug("stat cache unreadable (%s)", exc)  # nothing more is trusted

    def oids_in(self, directory: str) -> list[tuple[str, Entry]]:
        """(path, entry) of the files recorded directly in `directory` (not below its
        subdirectories), in path order."""
        start = directory + "/"
        try:
            with contextlib.closing(self._connect()) as conn:
                rows = conn.execute(
                    f"SELECT {ENTRY_COLUMNS} FROM stat "
                    "WHERE algo = ? AND path > ? AND path < ? AND instr(substr(path, ?), '/') = 0 "
                    "ORDER BY path", (self.algo, start, directory + "0", len(start) + 1)
                ).fetchall()
        except UNREADABLE:
            return []
        return [(row[0], row) for row in self._sound(rows)]

    def load(self) -> None:
        """Read the per-file entries now, e.g. before forking workers that will share them."""
        self._load()

    def put(self, path: str, st: os.stat_result, oid: str) -> None:
        self.put_key(path, stat_key(st), oid)

    def put_key(self, path: str, key: StatKey, oid: str) -> None:
        """Record `oid` for `path` with this stat, at the next flush. A path that is no text
        SQLite can store (a file name not valid UTF-8) is not recorded: it is hashed each time,
        and the rows beside it are still written."""
        if not storable(path):
            return
        self._pending.append((path, *key, oid))
        if len(self._pending) >= PENDING_ROWS:  # a checkout of millions: bounded memory
            self.flush()
        # Not trusted again in this process (its stamp is only known at flush): forgotten,
        # now or when the entries are read (a checkout that only writes never reads them).
        if self._entries is not None:
            self._entries.pop(path, None)

    def forget(self, stale: Iterable[Entry]) -> None:
        """Drop, at the next flush, these entries of paths found gone: a folder whose file
        names change (a daily dump) would otherwise pile up rows that every look inside it
        reads. Only the row as it was read goes: one written again since (the path made anew,
        recorded by another process meanwhile) stays, so no process need hold a lock for this."""
        for entry in stale:
            self._pending_forget.append((entry[0], entry[6]))
            if self._entries is not None:
                self._entries.pop(entry[0], None)

    def forget_missing_below(self, top: str, present: Collection[str]) -> None:
        """Drop the entries below the directory `top` of paths not among `present`, every
        path a walk of it has just found. Only the rows below `top` are read (a range of the
        path index, `oids_below`): an `add` of many directories reads each one's rows, never
        every entry once per directory."""
        self.forget([entry for path, entry in self.oids_below(top) if path not in present])

    def object_stat(self, oid: str) -> StatKey | None:
        """The stat (`stat_key`) the cached object `oid` had when dvx last knew its bytes hash
        to `oid`, if that record can be trusted (racy-clean rule: recorded after the object's
        last change). This process's records are trusted as they are made."""
        key = self._pending_objects.get(oid)
        if key is not None:
            return key
        if oid not in self._read_objects:
            self._read_objects.update(self._query_objects([oid]))
        return self._read_objects.get(oid)

    def oids_of_inodes(self, inodes: Collection[int]) -> dict[int, set[str]]:
        """The oids recorded with one of these inode numbers, of a file or of a cached object,
        whatever the rest of its stat: hints only (an inode number is reused, and is another
        filesystem's too), each to be checked against the object it names. Each table is read
        once, however many inodes are asked about."""
        found: dict[int, set[str]] = {}
        if not inodes:
            return found
        try:
            with contextlib.closing(self._connect()) as conn:
                conn.execute("CREATE TEMP TABLE asked (ino INTEGER PRIMARY KEY)")
                conn.executemany("INSERT OR IGNORE INTO asked VALUES (?)",
                                 [(ino,) for ino in inodes])
                for table in ("stat", "object_stat"):
                    for ino, oid in conn.execute(
                            f"SELECT t.ino, t.oid FROM {table} AS t JOIN asked USING (ino) "
                            "WHERE t.algo = ?", (self.algo,)):
                        if type(ino) is int and is_valid_oid(oid, self.algo):
                            found.setdefault(ino, set()).add(oid)
        except (*UNREADABLE, OSError) as exc:
            log.debug("stat cache unreadable (%s)", exc)
        return found

    def put_object(self, oid: str, key: StatKey) -> None:
        """Record that the cached object `oid` hashed to `oid` when its stat was `key`."""
        if self._pending_objects.get(oid) == key:  # a worker's record of what this one made
            return
        self._pending_objects[oid] = key
        if len(self._pending_objects) >= PENDING_ROWS:
            self.flush()

    def new_object_stat(self, oid: str) -> StatKey | None:
        """The record `put_object` made of the object in this process, not yet written."""
        return self._pending_objects.get(oid)

    def read_objects(self, oids: Iterable[str]) -> None:
        """Read the records of these objects, which are asked about next (`object_stat`),
        instead of those read before: a push or a checkout of millions reads them a round at a
        time, and holds no more."""
        self._read_objects = self._query_objects(
            oid for oid in oids if oid not in self._pending_objects)

    def _query_objects(self, oids: Iterable[str]) -> dict[str, StatKey | None]:
        found: dict[str, StatKey | None] = dict.fromkeys(oids)
        asked = list(found)
        if not asked:
            return found
        try:
            with contextlib.closing(self._connect()) as conn:
                for oid, ino, size, mtime, ctime, device, recorded in self._object_rows(
                        conn, asked):
                    # A damaged value of another type fails to match any object's stat.
                    if type(mtime) is int and type(ctime) is int and type(recorded) is int \
                            and oid in found and _not_racy(mtime, ctime, recorded):
                        found[oid] = (ino, size, mtime, ctime, device)
        except UNREADABLE as exc:
            log.debug("stat cache unreadable (%s); rebuilding it", exc)
            self._reset()
        except OSError as exc:  # no record: the objects are hashed
            log.debug("stat cache unreadable (%s)", exc)
        return found

    def _object_rows(self, conn: sqlite3.Connection, asked: list[str]) -> Iterator[tuple]:
        """The object_stat rows of `asked`, and perhaps others: when they are most of the
        table (a push or checkout of a whole dataset), every row, read in one pass, which
        takes a fraction of the time of looking each one up."""
        columns = "oid, ino, size, mtime_ns, ctime_ns, device, recorded_ns"
        if len(asked) >= OIDS_PER_QUERY:
            (rows,) = conn.execute("SELECT count(*) FROM object_stat").fetchone()
            if len(asked) * SCAN_WHEN_ASKED_OF >= rows:
                yield from conn.execute(f"SELECT {columns} FROM object_stat WHERE algo = ?",
                                        (self.algo,))
                return
        for start in range(0, len(asked), OIDS_PER_QUERY):
            some = asked[start:start + OIDS_PER_QUERY]
            yield from conn.execute(
                f"SELECT {columns} FROM object_stat "
                f"WHERE algo = ? AND oid IN ({', '.join('?' * len(some))})",
                (self.algo, *some)).fetchall()

    def share_object_records(self, other: StatCache) -> None:
        """Give `other`, the stat cache of another workspace of the same cache (a queued
        experiment's worktree), the records of the objects known intact here, so it does not
        hash them again. Best effort: without them it only hashes."""
        self.flush()
        try:
            with contextlib.closing(other._connect()) as conn, conn:
                conn.execute("ATTACH DATABASE ? AS here", (self.db_path,))
                conn.execute("INSERT OR IGNORE INTO object_stat SELECT * FROM here.object_stat "
                             "WHERE algo = ?", (self.algo,))
        except (*UNREADABLE, OSError) as exc:
            log.debug("object records not shared: %s", exc)

    def is_valid_tree(self, oid: str) -> bool:
        return oid in self._load_trees()

    def mark_valid_tree(self, oid: str) -> None:
        valid = self._load_trees()
        if oid not in valid:
            valid.add(oid)
            self._pending_trees.append(oid)

    def is_complete_tree(self, oid: str, generation: str) -> bool:
        """Were all of this manifest's files in the cache, as of this cache generation?"""
        self._load_trees()
        return (oid, generation) in self._complete_trees

    def mark_complete_tree(self, oid: str, generation: str) -> None:
        self._load_trees()
        if (oid, generation) not in self._complete_trees:
            self._complete_trees.add((oid, generation))
            self._pending_complete.append((oid, generation))

    def get_dir(self, path: str, digest: str) -> str | None:
        """The manifest oid recorded for the directory at `path` when its fingerprint was
        `digest`, if that record can be trusted (racy-clean rule, as for files)."""
        row = self._dir_row(path)
        if row is None or row[0] != digest or row[1] >= row[3]:
            return None
        return str(row[2])

    def get_dir_parts(self, path: str, tree_oid: str) -> dict[str, str] | None:
        """The digest of each folder's own entries (Fingerprint.parts) of the directory at
        `path` when it last matched the manifest `tree_oid`, if recorded and trusted."""
        row = self._dir_row(path)
        if row is None or row[2] != tree_oid or row[1] >= row[3] or not row[4]:
            return None
        parts = _folder_digests(row[4])
        if parts is None:
            self._pending_forget_dirs.append((path, row[3]))
        return parts

    def _dir_row(self, path: str) -> tuple[str, int, str, int, str | None] | None:
        """The directory's row, if there is one as dvx wrote it: a damaged one is forgotten."""
        try:
            with contextlib.closing(self._connect()) as conn:
                row = conn.execute("SELECT digest, newest, tree_oid, recorded_ns, parts FROM "
                                   "dir_state WHERE path = ? AND algo = ?",
                                   (path, self.algo)).fetchone()
        except UNREADABLE:
            return None
        if row is None:
            return None
        digest, newest, tree_oid, recorded, parts = row
        if (type(digest) is str and type(newest) is int and is_valid_oid(tree_oid, self.algo)
                and type(recorded) is int and (parts is None or type(parts) is str)):
            return digest, newest, tree_oid, recorded, parts
        self._pending_forget_dirs.append((path, recorded))
        return None

    def put_dir(self, path: str, fingerprint: Fingerprint, tree_oid: str,
                with_parts: bool = False) -> None:
        """Record that the directory at `path` matched the manifest `tree_oid` when its
        fingerprint was `fingerprint` (`with_parts`: and each of its folders' own); not if
        `path` cannot be stored (`storable`)."""
        if not storable(path):
            return
        parts = fingerprint.parts if with_parts else None
        self._pending_dirs.append((path, fingerprint.digest, fingerprint.newest, tree_oid,
                                   json.dumps(parts, sort_keys=True) if parts else None,
                                   fingerprint.device))

    def prune(self, removed: Iterable[str], generation: str) -> None:
        """Keep only what can still be of use once gc has taken the objects `removed` out of
        the cache and moved it to `generation`: no manifest among them is known valid any
        more, none is known complete in an older generation, and no entry stays of a path
        gone from the workspace (a directory deleted, a file a checkout took away: no walk
        meets such a path to drop it). As `forget`, only rows as they were read go."""
        try:
            with contextlib.closing(self._connect()) as conn:
                gone_files = [(path, recorded) for path, recorded in conn.execute(
                    "SELECT path, recorded_ns FROM stat") if not _exists(path)]
                gone_dirs = [(path, recorded) for path, recorded in conn.execute(
                    "SELECT path, recorded_ns FROM dir_state") if not _exists(path)]
                with conn:
                    gone_objects = [(oid,) for oid in removed]
                    conn.executemany("DELETE FROM valid_tree WHERE oid = ?", gone_objects)
                    conn.executemany("DELETE FROM object_stat WHERE oid = ?", gone_objects)
                    conn.execute("DELETE FROM complete_tree WHERE generation != ?",
                                 (generation,))
                    conn.executemany("DELETE FROM stat WHERE path = ? AND recorded_ns IS ?",
                                     gone_files)
                    conn.executemany("DELETE FROM dir_state WHERE path = ? AND recorded_ns IS ?",
                                     gone_dirs)
        except UNREADABLE as exc:
            log.debug("stat cache unreadable (%s); rebuilding it", exc)
            self._reset()
        except OSError as exc:
            log.debug("stat cache not pruned (%s)", exc)
        self._entries = None  # read again if needed: what was read may be gone
        self._valid_trees = None
        self._read_objects = {}
        self._complete_trees = set()

    def filesystem_now(self) -> tuple[int, int]:
        """The time now by the clock of the stamp's filesystem, and that filesystem: what a
        file changed from now on has as its mtime or ctime, or later."""
        stamp = self.db_path + ".stamp"
        os.makedirs(os.path.dirname(stamp), exist_ok=True)
        with open(stamp, "ab"):
            pass
        os.utime(stamp)  # the kernel's file clock, with the filesystem's granularity
        st = os.stat(stamp)
        return st.st_mtime_ns, st.st_dev

    def flush(self) -> None:
        if not (self._pending or self._pending_trees or self._pending_complete
                or self._pending_dirs or self._pending_forget or self._pending_forget_dirs
                or self._pending_objects):
            return
        forget, self._pending_forget = self._pending_forget, []
        forget_dirs, self._pending_forget_dirs = self._pending_forget_dirs, []
        rows, self._pending = self._pending, []
        # By path (in key order, sqlite inserts 100,000 rows about 3× faster), and stable: of
        # two rows of one path, the one recorded last replaces the other.
        rows.sort(key=itemgetter(0))
        trees, self._pending_trees = self._pending_trees, []
        complete, self._pending_complete = self._pending_complete, []
        dirs, self._pending_dirs = self._pending_dirs, []
        objects, self._pending_objects = self._pending_objects, {}
        self._read_objects.update(objects)  # as good as read: asked about again, trusted
        try:
            os.makedirs(os.path.dirname(self.db_path), exist_ok=True)
            recorded_ns, stamp_device = self.filesystem_now()
            # The stamp each entry is recorded with: a file's last change must be strictly
            # older for it to be trusted; on another filesystem (or several: device None),
            # older by the coarsest tick.
            elsewhere_ns = recorded_ns - COARSEST_TICK_NS
            forget.sort(key=_path_text)
            with contextlib.closing(self._connect()) as conn, conn:
                # IS: a damaged row's stamp may be NULL
                conn.executemany("DELETE FROM stat WHERE path = ? AND recorded_ns IS ?", forget)
                conn.executemany("DELETE FROM dir_state WHERE path = ? AND recorded_ns IS ?",
                                 forget_dirs)
                conn.executemany("INSERT OR REPLACE INTO stat VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                                 ((path, ino, size, mtime, ctime, oid,
                                   recorded_ns if device == stamp_device else elsewhere_ns,
                                   self.algo, oid_check(oid))
                                  for path, ino, size, mtime, ctime, device, oid in rows))
                conn.executemany("INSERT OR IGNORE INTO valid_tree VALUES (?, ?)",
                                 [(oid, self.algo) for oid in trees])
                conn.executemany("INSERT OR IGNORE INTO complete_tree VALUES (?, ?, ?)",
                                 [(oid, self.algo, gen) for oid, gen in complete])
                conn.executemany("INSERT OR REPLACE INTO dir_state VALUES "
                                 "(?, ?, ?, ?, ?, ?, ?)",
                                 [(path, digest, newest, tree, self.algo,
                                   recorded_ns if device == stamp_device else elsewhere_ns,
                                   parts)
                                  for path, digest, newest, tree, parts, device in dirs])
                conn.executemany("INSERT OR REPLACE INTO object_stat VALUES "
                                 "(?, ?, ?, ?, ?, ?, ?, ?)",
                                 [(oid, self.algo, *key,
                                   recorded_ns if key[4] == stamp_device else elsewhere_ns)
                                  for oid, key in sorted(objects.items())])
        except UNREADABLE as exc:
            log.debug("stat cache not written (%s); rebuilding it", exc)
            self._reset()
        except OSError as exc:
            log.debug("stat cache not written (%s)", exc)
