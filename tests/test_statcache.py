import contextlib
import json
import os
import shutil
import sqlite3
import time
from types import SimpleNamespace

import pytest

from dvx.objects.statcache import StatCache
from dvx.paths import Fingerprint
from tests.conftest import write

OID = "b5e9c1ad071b3e7fc779cfaa5e523818"


def _aged_file(path, content=b"data"):
    path.write_bytes(content)
    past = time.time() - 60
    os.utime(path, (past, past))  # mtime in the past; ctime is now, so wait a tick below
    return path


def _fresh_cache(tmp_path):
    return StatCache(str(tmp_path / "db" / "statcache.db"), "xxh128")


def test_entry_is_trusted_only_after_a_later_flush(tmp_path):
    path = _aged_file(tmp_path / "f")
    time.sleep(0.02)  # the file's ctime must be strictly older than the stamp
    cache = _fresh_cache(tmp_path)
    cache.put(str(path), os.stat(path), OID)
    assert cache.get(str(path), os.stat(path)) is None  # not trusted before it is stamped
    cache.flush()
    assert _fresh_cache(tmp_path).get(str(path), os.stat(path)) == OID


def test_a_path_sqlite_cannot_store_is_not_recorded_and_the_others_are(tmp_path):
    latin1 = _aged_file(tmp_path / os.fsdecode(b"bad\xff"))
    path = _aged_file(tmp_path / "f")
    time.sleep(0.02)
    cache = _fresh_cache(tmp_path)
    cache.put(str(latin1), os.stat(latin1), OID)
    cache.put(str(path), os.stat(path), OID)
    cache.put_dir(str(tmp_path / os.fsdecode(b"dir\xff")), Fingerprint("d", 1), OID)
    cache.flush()
    again = _fresh_cache(tmp_path)
    assert again.get(str(path), os.stat(path)) == OID
    assert again.get(str(latin1), os.stat(latin1)) is None


def test_any_change_of_stat_invalidates(tmp_path):
    path = _aged_file(tmp_path / "f")
    time.sleep(0.02)
    cache = _fresh_cache(tmp_path)
    cache.put(str(path), os.stat(path), OID)
    cache.flush()
    path.write_bytes(b"DATA")  # same size, new mtime and ctime
    assert _fresh_cache(tmp_path).get(str(path), os.stat(path)) is None


def test_of_two_records_of_one_path_the_last_made_is_kept(tmp_path):
    """As a symlink-mode add records a file's stat, then its symlink's: whichever inode is
    the larger, the record made last is the one flushed."""
    path = _aged_file(tmp_path / "f")
    time.sleep(0.02)
    st = os.stat(path)
    cache = _fresh_cache(tmp_path)
    cache.put_key(str(path), (st.st_ino + 1000, 1, 2, 3, st.st_dev), "1" * 32)
    cache.put(str(path), st, OID)
    cache.flush()
    assert _fresh_cache(tmp_path).get(str(path), st) == OID


def test_racily_clean_entry_is_not_trusted(tmp_path):
    """A file changed in the same timestamp tick as the stamp could change again unseen."""
    path = tmp_path / "f"
    path.write_bytes(b"data")
    st = os.stat(path)
    cache = _fresh_cache(tmp_path)
    cache.put(str(path), st, OID)
    cache.flush()
    stamp = os.stat(str(tmp_path / "db" / "statcache.db") + ".stamp").st_mtime_ns
    reloaded = _fresh_cache(tmp_path).get(str(path), st)
    if max(st.st_mtime_ns, st.st_ctime_ns) >= stamp:
        assert reloaded is None
    else:
        assert reloaded == OID


def test_corrupt_database_is_rebuilt_not_trusted(tmp_path):
    path = _aged_file(tmp_path / "f")
    db = tmp_path / "db" / "statcache.db"
    db.parent.mkdir()
    db.write_bytes(b"this is not sqlite" * 100)
    cache = StatCache(str(db), "xxh128")
    assert cache.get(str(path), os.stat(path)) is None
    time.sleep(0.02)
    cache.put(str(path), os.stat(path), OID)
    cache.flush()
    assert StatCache(str(db), "xxh128").get(str(path), os.stat(path)) == OID


def test_validated_manifests_are_remembered(tmp_path):
    cache = _fresh_cache(tmp_path)
    assert not cache.is_valid_tree(OID)
    cache.mark_valid_tree(OID)
    cache.flush()
    assert _fresh_cache(tmp_path).is_valid_tree(OID)


def test_records_below_a_directory_come_in_path_order_a_batch_at_a_time(tmp_path, monkeypatch):
    import dvx.objects.statcache as statcache

    monkeypatch.setattr(statcache, "ROWS_AT_ONCE", 3)
    cache = _fresh_cache(tmp_path)
    st = os.stat(_aged_file(tmp_path / "f"))
    top = str(tmp_path / "d")
    inside = [f"{top}/{name}" for name in ("a", "a-b", "a/x", "b/c/d", "é", "z", "z0", "zz")]
    for path in [*inside, f"{top}-x/a", f"{top}0", f"{tmp_path}/c", top]:
        cache.put(path, st, OID)
    cache.flush()
    assert [path for path, _ in cache.oids_below(top)] == sorted(inside)
    # a flush between batches (a long status hashing) neither waits for nor breaks the walk
    walked = []
    for path, _ in cache.oids_below(top):
        walked.append(path)
        cache.put(f"{top}/new-{len(walked)}", st, OID)
        cache.flush()
    assert walked[:3] == sorted(inside)[:3] and set(sorted(inside)) <= set(walked)


def test_forgetting_what_a_walk_missed_reads_and_drops_only_the_rows_below_its_directory(
        tmp_path, monkeypatch):
    """An `add` of many directories forgets, for each, the entries of files its walk no longer
    found: only that directory's rows are read (not every entry, once per directory) and
    dropped; a path beside it, or one it holds, stays."""
    cache = _fresh_cache(tmp_path)
    st = os.stat(_aged_file(tmp_path / "f"))
    top = str(tmp_path / "d")
    inside = [f"{top}/{name}" for name in ("a", "a-b", "b/c/d", "é", "z")]
    beside = [f"{top}-x/a", f"{top}0", f"{top}.dvx", f"{tmp_path}/c", top]
    for path in [*inside, *beside]:
        cache.put(path, st, OID)
    cache.flush()

    def whole_table_read():
        raise AssertionError("every entry was read to forget those below one directory")

    walked = _fresh_cache(tmp_path)
    monkeypatch.setattr(walked, "_load", whole_table_read)
    walked.forget_missing_below(top, {f"{top}/a", f"{top}/z"})
    walked.flush()
    monkeypatch.undo()
    recorded = [path for path, _ in _fresh_cache(tmp_path).oids_below(str(tmp_path))]
    assert recorded == sorted([f"{top}/a", f"{top}/z", *beside])


def test_a_cache_deleted_and_made_again_is_a_new_generation(tmp_path):
    """Facts remembered about a cache's contents (a directory's files all in it) hold for
    one generation: `rm -rf .dvx/cache` starts another, even where the folder made again
    gets the inode number the old one freed."""
    from dvx.objects.cache import LocalCache

    root = tmp_path / "cache"
    seen = set()
    for _ in range(5):
        root.mkdir()
        seen.add(LocalCache(str(root), "xxh128").generation())
        shutil.rmtree(root)
    assert len(seen) == 5

def _stat_on_another_filesystem(path, changed_ns):
    """The stat of `path` as a disk mounted inside the workspace with whole-second
    timestamps (ext4 with small inodes, exFAT) would give it: another device than .dvx/tmp's,
    and a last change at the start of the second `changed_ns` falls in."""
    st = os.stat(path)
    tick = changed_ns - changed_ns % 1_000_000_000
    return SimpleNamespace(st_ino=st.st_ino, st_size=st.st_size, st_mtime_ns=tick,
                           st_ctime_ns=tick, st_dev=st.st_dev + 1)


def test_entry_of_a_file_on_a_coarser_filesystem_is_racy_for_its_whole_tick(tmp_path):
    """.dvx/tmp's clock ticks in nanoseconds, the data disk's in seconds: a file rewritten
    (same size) later in the second its entry was recorded keeps the recorded stat, so the
    entry must not be trusted until that second is surely over."""
    path = _aged_file(tmp_path / "f")
    cache = _fresh_cache(tmp_path)
    # written at the start of this second, recorded a moment later in the same second
    st = _stat_on_another_filesystem(path, time.time_ns())
    cache.put(str(path), st, OID)
    cache.flush()
    assert _fresh_cache(tmp_path).get(str(path), st) is None
    # changed 3 s before the record: that tick was over, on any filesystem's clock
    st = _stat_on_another_filesystem(path, time.time_ns() - 3_000_000_000)
    cache.put(str(path), st, OID)
    cache.flush()
    assert _fresh_cache(tmp_path).get(str(path), st) == OID


def test_directory_on_a_coarser_filesystem_is_racy_for_its_whole_tick(tmp_path):
    """As for files: a directory whose fingerprint spans another filesystem than .dvx/tmp's
    (None: several) is trusted only once its newest change is 2 s (FAT's tick) older."""
    top = tmp_path / "d"
    top.mkdir()
    cache = _fresh_cache(tmp_path)
    here = os.stat(tmp_path).st_dev  # .dvx/tmp's, as the stamp's
    for device, age_ns, trusted in ((here, 1_000_000, True), (here + 1, 500_000_000, False),
                                    (None, 500_000_000, False), (here + 1, 3_000_000_000, True)):
        fingerprint = Fingerprint(f"digest {device} {age_ns}", time.time_ns() - age_ns,
                                  device=device)
        cache.put_dir(str(top), fingerprint, OID)
        cache.flush()
        recorded = _fresh_cache(tmp_path).get_dir(str(top), fingerprint.digest)
        assert recorded == (OID if trusted else None), (device, age_ns)


def _recorded_below(root, folder):
    """The repository paths the stat cache of the repository at `root` holds below `folder`."""
    from dvx.repo import Repo

    cache = Repo(str(root)).statcache
    return sorted(os.path.relpath(path, root) for path, _ in cache.oids_below(str(root / folder)))


def _daily_dump(root, day, files=30):
    """A folder whose file names change every day, as a daily export's do."""
    shutil.rmtree(root / "data", ignore_errors=True)
    (root / "data").mkdir()
    for i in range(files):
        (root / "data" / f"day{day}_{i}.txt").write_text(f"{day} {i}\n")
    return sorted(f"data/day{day}_{i}.txt" for i in range(files))


def test_entries_of_files_gone_from_a_tracked_folder_are_dropped(repo, dvx):
    """A folder whose names change keeps, in the stat cache, only the entries of the files it
    holds: an `add` of it, and a `status` that looks inside it, drop the others, which would
    otherwise pile up for every status to read."""
    for day in range(4):
        names = _daily_dump(repo, day)
        assert dvx("add", "data").code == 0
        assert _recorded_below(repo, "data") == names
    for i in range(15):  # half the files renamed, not added yet
        os.rename(repo / "data" / f"day3_{i}.txt", repo / "data" / f"renamed_{i}.txt")
    assert dvx("status").code == 0
    assert _recorded_below(repo, "data") == sorted(f"data/day3_{i}.txt" for i in range(15, 30))


def test_gc_keeps_in_the_stat_cache_only_what_is_still_of_use(repo, dvx):
    """gc drops the entries of paths gone from the workspace, which no walk meets again, and
    what it knew of manifests it deleted or of the cache's older generations."""
    from dvx.pointer import read_pointer
    from dvx.repo import Repo

    _daily_dump(repo, 1)
    assert dvx("add", "data").code == 0
    first = read_pointer(str(repo / "data.dvx"), "data.dvx").oid
    old_generation = Repo(str(repo)).cache.generation()
    _daily_dump(repo, 2)
    assert dvx("add", "data").code == 0
    latest = read_pointer(str(repo / "data.dvx"), "data.dvx").oid
    before = Repo(str(repo)).statcache
    assert before.is_valid_tree(first) and before.is_complete_tree(latest, old_generation)
    shutil.rmtree(repo / "data")  # deleted by hand, its pointer kept
    assert len(_recorded_below(repo, "data")) == 30
    assert dvx("gc", "-w", "-f", "--grace", "0").code == 0
    assert _recorded_below(repo, "data") == []
    after = Repo(str(repo)).statcache
    assert not after.is_valid_tree(first) and after.is_valid_tree(latest)
    assert not after.is_complete_tree(latest, old_generation)


def _damaged_rows(db):
    """The rows of the stat cache at `db` that are not as dvx writes them."""
    from dvx.hashing import is_valid_oid
    from dvx.objects.statcache import oid_check

    with contextlib.closing(sqlite3.connect(db)) as conn:
        conn.text_factory = bytes
        files = conn.execute("SELECT path, oid, recorded_ns, oid_check FROM stat").fetchall()
        dirs = conn.execute("SELECT path, tree_oid, recorded_ns, parts FROM dir_state").fetchall()
    damaged = [row for row in files if not (
        isinstance(row[1], bytes) and is_valid_oid(row[1].decode(errors="replace"))
        and oid_check(row[1].decode()) == row[3] and isinstance(row[2], int))]
    for row in dirs:
        try:
            assert isinstance(row[2], int) and isinstance(json.loads(row[3] or b"{}"), dict)
        except (AssertionError, ValueError):
            damaged.append(row)
    return damaged


# What one flipped bit, or a damaged page, can leave in a row (a stat cache written by dvx)
DAMAGE = {
    "not an oid": "UPDATE stat SET oid = substr(oid, 1, 3) || '!' || substr(oid, 5)",
    "another oid": "UPDATE stat SET oid = "
                   "(CASE WHEN substr(oid, 1, 1) = '0' THEN '1' ELSE '0' END) || substr(oid, 2)",
    "stamp of another type": "UPDATE stat SET recorded_ns = 'x' || recorded_ns",
    "stamp gone": "UPDATE stat SET recorded_ns = NULL",
    "path of another type": "UPDATE stat SET path = CAST(path AS BLOB)",
    "text not UTF-8": "UPDATE stat SET oid = CAST(X'ff' AS TEXT) || oid",
    "folder digests not JSON": "UPDATE dir_state SET parts = '{\"' || char(1) || substr(parts, 3)",
    "folder digests not a mapping": "UPDATE dir_state SET parts = '[1]'",
    "folder digest of another type": "UPDATE dir_state SET parts = '{\"\": 1}'",
    "manifest not an oid": "UPDATE dir_state SET tree_oid = 'z' || substr(tree_oid, 2)",
    "directory stamp of another type": "UPDATE dir_state SET recorded_ns = 1.5",
}


@pytest.mark.parametrize("damage", DAMAGE.values(), ids=DAMAGE.keys())
def test_a_damaged_row_is_a_miss_dropped_never_an_error_or_a_change(repo, dvx, damage):
    """The stat cache is an accelerator: a value in it that dvx did not write (a bit flipped
    on disk) is not trusted, fails no command, and shows no change; the row goes."""
    from dvx.pointer import read_pointer

    (repo / "data" / "dir" / "sub").mkdir(parents=True)
    (repo / "data" / "a.txt").write_text("hello\n")
    (repo / "data" / "dir" / "x").write_text("1\n")
    (repo / "data" / "dir" / "sub" / "y").write_text("2\n")
    assert dvx("add", "data/a.txt", "data/dir").code == 0
    time.sleep(0.05)  # the files' last change strictly before the stat cache's stamp
    assert dvx("status").code == 0 and dvx("status").code == 0
    db = str(repo / ".dvx" / "tmp" / "statcache.db")
    a_txt = str(repo / "data" / "a.txt")
    oid = read_pointer(str(repo / "data" / "a.txt.dvx"), "a.txt.dvx").oid
    assert StatCache(db, "xxh128").get(a_txt, os.stat(a_txt)) == oid  # trusted: it is used
    with contextlib.closing(sqlite3.connect(db)) as conn, conn:
        assert conn.execute("SELECT count(*) FROM dir_state WHERE parts IS NOT NULL"
                            ).fetchone()[0] == 1
        assert conn.execute(damage).rowcount > 0
    for command in (("status",), ("add", "data/a.txt", "data/dir"), ("commit",), ("checkout",),
                    ("status",)):
        result = dvx(*command)
        assert result.code == 0 and result.stderr == "", (command, result.output)
        assert "modified" not in result.stdout, (command, result.output)
    assert _damaged_rows(db) == []
    assert StatCache(db, "xxh128").get(a_txt, os.stat(a_txt)) == oid


def test_records_of_objects_known_intact_are_shared_with_another_workspace_of_the_cache(
        tmp_path):
    """A queued experiment's worktree uses the cache of the repository that queued it: given
    what that repository knows of the cache's objects, its checkout hashes none again."""
    obj = _aged_file(tmp_path / "object")
    time.sleep(0.02)  # the object's ctime strictly older than the records' stamp
    key = (os.stat(obj).st_ino, 4, os.stat(obj).st_mtime_ns, os.stat(obj).st_ctime_ns,
           os.stat(obj).st_dev)
    here = _fresh_cache(tmp_path)
    here.put_object(OID, key)
    worktree = StatCache(str(tmp_path / "worktree" / "statcache.db"), "xxh128")
    assert worktree.object_stat(OID) is None
    here.share_object_records(worktree)
    assert StatCache(str(tmp_path / "worktree" / "statcache.db"), "xxh128").object_stat(OID) == key


@pytest.mark.parametrize("reader", ["scan_directory", "file_state"])
def test_a_file_rewritten_between_its_stat_and_its_hash_is_sized_as_hashed_and_never_cached(
        repo, monkeypatch, reader):
    """A file rewritten (grown) after dvx took its stat but before hashing it: the oid is
    paired with the size of the bytes hashed, never the stat's, and the stat cache is not
    told that oid for the older stat, which would vouch for the wrong bytes later. Listing
    a folder and looking at one file keep one rule."""
    import dvx.workspace as workspace
    from dvx.repo import Repo

    write(repo / "d" / "f", "short\n")
    rewritten = b"rewritten, longer\n"
    real = workspace.hash_file

    def rewrite_then_hash(path, algo):
        with open(path, "wb") as f:
            f.write(rewritten)
        return real(path, algo)

    monkeypatch.setattr(workspace, "hash_file", rewrite_then_hash)
    opened = Repo(str(repo))
    told = []
    monkeypatch.setattr(opened.statcache, "put", lambda *args: told.append(args))
    full = str(repo / "d" / "f")
    st = os.lstat(full)
    if reader == "scan_directory":
        size = workspace.scan_directory(opened, str(repo / "d"), "d")["f"].size
    else:
        state = workspace.file_state(opened, full, "d/f", st=st)
        assert state is not None
        size = state.size
    assert size == len(rewritten)
    assert told == []
