"""Atomic writes (SPEC §4.2): objects appear whole and are never rewritten; pointers and
workspace files are replaced as a whole, never written into; a failed write (here: a file size
limit, standing in for a full disk) leaves nothing half-done."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import xxhash
from conftest import git, stopped_at, write
from remotes import local_spec

from dvx.pointer import parse_pointer

CACHE = Path(".dvx/cache/files/xxh128")


def object_path(repo: Path, oid: str) -> Path:
    return repo / CACHE / oid[:2] / oid[2:]


def oid_of(repo: Path, pointer: str) -> str:
    return parse_pointer((repo / pointer).read_bytes(), pointer).oid


def fingerprint(path: Path) -> tuple[int, int, int, bytes]:
    st = path.stat()
    return st.st_ino, st.st_mtime_ns, st.st_ctime_ns, path.read_bytes()


def all_cached(repo: Path) -> dict[str, bytes]:
    found = {}
    for path in (repo / CACHE).rglob("*"):
        if path.is_file() and not path.name.startswith("."):
            found[path.parent.name + path.name] = path.read_bytes()
    return found


def assert_cache_sound(repo: Path) -> None:
    for oid, data in all_cached(repo).items():
        assert xxhash.xxh3_128_hexdigest(data) == oid, f"object {oid} is corrupt"


def test_identical_content_reuses_the_object_and_never_rewrites_it(repo, dvx):
    write(repo / "a.bin", b"same bytes" * 1000)
    assert dvx("add", "a.bin").code == 0
    obj = object_path(repo, oid_of(repo, "a.bin.dvx"))
    assert obj.stat().st_mode & 0o222 == 0, "objects are read-only"
    before = fingerprint(obj)

    write(repo / "b.bin", b"same bytes" * 1000)
    os.utime(repo / "a.bin", ns=(1, 1))  # a changed stat forces a re-hash and re-ingest of a.bin
    assert dvx("add", "a.bin", "b.bin").code == 0
    assert oid_of(repo, "b.bin.dvx") == oid_of(repo, "a.bin.dvx")
    ino, mtime_ns, _, content = fingerprint(obj)  # never re-created, opened for writing or
    assert (ino, content) == (before[0], before[3])  # chmodded: only marked as just used
    assert mtime_ns >= before[1] and obj.stat().st_mode & 0o222 == 0


def test_hardlink_mode_links_duplicates_to_the_one_existing_object(repo, dvx):
    assert dvx("config", "cache.type", "hardlink").code == 0
    write(repo / "a.bin", b"dup" * 5000)
    assert dvx("add", "a.bin").code == 0
    obj = object_path(repo, oid_of(repo, "a.bin.dvx"))
    before = fingerprint(obj)
    write(repo / "b.bin", b"dup" * 5000)
    assert dvx("add", "b.bin").code == 0
    ino, mtime_ns, _ctime_ns, content = fingerprint(obj)  # a new link changes only the ctime
    assert (ino, mtime_ns, content) == (before[0], before[1], before[3])
    assert obj.stat().st_ino == (repo / "b.bin").stat().st_ino == (repo / "a.bin").stat().st_ino
    assert (repo / "b.bin").read_bytes() == b"dup" * 5000


def test_a_pointer_is_replaced_as_a_whole_never_written_into(repo, dvx, tmp_path):
    write(repo / "model.bin", b"v1")
    assert dvx("add", "model.bin").code == 0
    old_bytes = (repo / "model.bin.dvx").read_bytes()
    snapshot = tmp_path / "old-pointer"
    os.link(repo / "model.bin.dvx", snapshot)  # a second name for the old pointer's inode

    write(repo / "model.bin", b"v2")
    assert dvx("add", "model.bin").code == 0
    assert snapshot.read_bytes() == old_bytes  # the old inode was not touched
    assert (repo / "model.bin.dvx").stat().st_ino != snapshot.stat().st_ino
    assert oid_of(repo, "model.bin.dvx") == xxhash.xxh3_128_hexdigest(b"v2")


def test_checkout_replaces_workspace_files_and_never_writes_into_a_cache_object(repo, dvx,
                                                                                tmp_path):
    assert dvx("config", "cache.type", "hardlink").code == 0
    write(repo / "data.bin", b"version one")
    assert dvx("add", "data.bin").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "v1")
    (repo / "data.bin").unlink()
    write(repo / "data.bin", b"version two")
    assert dvx("add", "data.bin").code == 0
    outside_link = tmp_path / "another-name-for-v2"
    os.link(repo / "data.bin", outside_link)  # the v2 object's inode, seen from elsewhere

    git(repo, "checkout", "-q", "HEAD", "--", "data.bin.dvx")
    result = dvx("checkout")
    assert result.code == 0, result.output
    assert (repo / "data.bin").read_bytes() == b"version one"
    assert outside_link.read_bytes() == b"version two"  # replaced, not overwritten in place
    assert_cache_sound(repo)


def test_push_and_fetch_never_rewrite_objects_that_are_already_there(repo, dvx, tmp_path):
    store = tmp_path / "store"
    assert dvx("remote", "add", "-d", "s", str(store)).code == 0
    write(repo / "x.bin", b"payload" * 100)
    assert dvx("add", "x.bin").code == 0
    assert dvx("push").code == 0
    oid = oid_of(repo, "x.bin.dvx")
    remote_obj = store / local_spec(store, str(store), {}).stored_at(oid)  # its pack
    remote_before = fingerprint(remote_obj)
    local_before = fingerprint(object_path(repo, oid))

    again = dvx("push")
    assert again.code == 0 and "1 already there" in again.stdout
    assert dvx("fetch").code == 0
    assert fingerprint(remote_obj) == remote_before
    assert fingerprint(object_path(repo, oid)) == local_before


def test_temporaries_of_an_interrupted_run_are_never_tracked_as_data(repo, dvx):
    write(repo / "images/cat.png", b"cat")
    write(repo / "images/dog.png", b"dog")
    assert dvx("add", "images").code == 0
    tracked = (repo / "images.dvx").read_bytes()
    # what a killed checkout leaves: a half-copied file under a hidden temporary name
    leftover = write(repo / "images/.cat.png.dvx-0123456789ab.tmp", b"ca")
    status = dvx("status", "--json")
    assert status.code == 0 and '"changed": false' in status.stdout, status.output
    assert dvx("add", "images").code == 0
    assert (repo / "images.dvx").read_bytes() == tracked  # not part of the directory
    assert not leftover.exists()  # and cleaned up by the next command that holds the lock


def test_only_marked_temporaries_beside_data_are_deleted(repo, dvx, dvx_proc):
    """A file of the user's named as dvx's temporaries once were (`.NAME.<12 hex>.tmp`, without
    the `dvx-` mark) is data like any other: tracked inside a directory, never deleted beside
    tracked data, however old."""
    write(repo / "report", b"data")
    write(repo / "images/cat.png", b"cat")
    mine = write(repo / ".report.2024abcdef01.tmp", b"my own draft")
    mine_inside = write(repo / "images/.cat.png.0123456789ab.tmp", b"my own note")
    killed = write(repo / ".report.dvx-0123456789ab.tmp", b"dat")  # what a killed dvx leaves
    old_form = write(repo / ".report.dvx.0123456789ab.tmp", b"d")  # as an older dvx named one
    for path in (mine, mine_inside, old_form):
        stamp = path.stat().st_mtime - 2 * 3600
        os.utime(path, (stamp, stamp))
    added = dvx_proc("-v", "add", "report", "images", cwd=repo)
    assert added.code == 0, added.output
    assert mine.read_bytes() == b"my own draft" and mine_inside.read_bytes() == b"my own note"
    assert old_form.read_bytes() == b"d"
    assert not killed.exists()
    assert f"Removed '{killed}'" in added.stderr and added.stderr.count("Removed") == 1
    mine_inside.unlink()  # tracked as data: checkout gives it back
    assert dvx("checkout", "images").code == 0
    assert mine_inside.read_bytes() == b"my own note"


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_checkout_stopped_while_it_copies_a_large_file_leaves_no_temporary(repo, dvx,
                                                                            signum):
    """cache.type copy: Ctrl-C (or SIGTERM) while a checkout copies a large file into the
    workspace removes the temporary it was copying into, as a failed write does, instead of
    leaving a hidden file of that size beside the data until a later command clears it."""
    write(repo / "big.bin", os.urandom(3 << 20))
    assert dvx("add", "big.bin").code == 0
    assert dvx("config", "cache.type", "copy").code == 0
    (repo / "big.bin").unlink()
    checking_out = stopped_at("copy.after_temp_write", "checkout", repo)
    checking_out.send_signal(signum)
    checking_out.send_signal(signal.SIGCONT)
    out, err = checking_out.communicate(timeout=60)
    assert checking_out.returncode == 128 + signum, out + err
    assert "Traceback" not in err
    assert sorted(os.listdir(repo)) == [".dvx", ".git", ".gitignore", "big.bin.dvx"]


def run_with_file_size_limit(args: list[str], cwd: Path, limit: int, *, hard: int | None = None
                             ) -> subprocess.CompletedProcess:
    """Run dvx where no file may grow beyond `limit` bytes: writes fail with EFBIG, as they
    fail with ENOSPC on a full disk (Python ignores SIGXFSZ, so the error is an OSError).
    `hard`: a higher hard limit, up to which a child (a stage's command) may raise its own."""

    def limit_file_size() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit if hard is None else hard))

    return subprocess.run([sys.executable, "-m", "dvx", *args], cwd=cwd, capture_output=True,
                          text=True, preexec_fn=limit_file_size, timeout=60,
                          stdin=subprocess.DEVNULL)


def test_a_failed_write_during_add_leaves_nothing_half_done(repo, dvx):
    content = os.urandom(3 << 20)
    write(repo / "big.bin", content)
    write(repo / "small.txt", b"fits")
    result = run_with_file_size_limit(["add", "small.txt", "big.bin"], repo, 1 << 20)
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith("ERROR:") and "Traceback" not in result.stderr
    assert (repo / "big.bin").read_bytes() == content
    assert not (repo / "big.bin.dvx").exists()
    if (repo / "small.txt.dvx").exists():  # tracked before the failure: Git must ignore it
        assert "small.txt" in git(repo, "check-ignore", "small.txt")
    assert_cache_sound(repo)
    assert not list((repo / ".dvx/cache").rglob("*.tmp")), "temporaries were not cleaned up"

    assert dvx("add", "small.txt", "big.bin").code == 0
    assert oid_of(repo, "big.bin.dvx") == xxhash.xxh3_128_hexdigest(content)
    assert_cache_sound(repo)


@pytest.mark.parametrize("fsync", ["true", "false"])
def test_a_failed_pointer_write_leaves_the_old_pointer_whole(repo, dvx, fsync):
    """The data is cached already, so the only write that fails is the pointer's own: the
    old pointer stays as it was, whether or not dvx fsyncs."""
    assert dvx("config", "core.fsync", fsync).code == 0
    write(repo / "model.txt", b"version one\n")
    assert dvx("add", "model.txt").code == 0
    write(repo / "model.txt", b"version two\n")
    assert dvx("add", "model.txt").code == 0
    pointer = (repo / "model.txt.dvx").read_bytes()
    write(repo / "model.txt", b"version one\n")

    result = run_with_file_size_limit(["add", "model.txt"], repo, 0)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert "Nothing was left half-written" in result.stderr
    assert (repo / "model.txt.dvx").read_bytes() == pointer
    assert not list(repo.glob(".*.tmp")), "the temporary was not cleaned up"


def test_a_failed_lock_file_write_leaves_the_old_lock_file_whole(repo, dvx):
    assert dvx("config", "core.fsync", "false").code == 0
    write(repo / "gen.sh", "ulimit -S -f unlimited\necho out-a > a.txt\n")
    assert dvx("stage", "add", "-n", "A", "-d", "gen.sh", "-o", "a.txt", "sh gen.sh").code == 0
    assert dvx("repro").code == 0
    lock = (repo / "dvx.lock").read_bytes()
    write(repo / "gen.sh", "ulimit -S -f unlimited\necho out-a > a.txt\n# touched\n")

    result = run_with_file_size_limit(["repro"], repo, 0, hard=resource.RLIM_INFINITY)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert "dvx.lock" in result.stderr
    assert (repo / "dvx.lock").read_bytes() == lock
    assert dvx("repro").code == 0  # with room again: the stage is recorded


@pytest.mark.parametrize("command", ["add", "commit"])
def test_a_failed_symlink_mode_add_of_a_directory_leaves_every_file_a_file(repo, dvx, command):
    """In symlink mode a file is replaced by a link only once a pointer names its object: a
    directory whose add fails part-way keeps every file as it was, so that nothing is left
    for gc to collect but the objects themselves."""
    assert dvx("config", "cache.type", "symlink").code == 0
    if command == "commit":
        write(repo / "d/first", b"recorded before")
        assert dvx("add", "d").code == 0
    files = {f"d/f{i:02}": os.urandom(2000) for i in range(20)}
    files["d/zz-big"] = os.urandom(3 << 20)  # stored last, and too big to be written
    for name, content in files.items():
        write(repo / name, content)
    pointer_before = (repo / "d.dvx").read_bytes() if command == "commit" else None

    result = run_with_file_size_limit([command, "d"], repo, 1 << 20)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    for name, content in files.items():
        assert not (repo / name).is_symlink(), f"{name} was left a link with no pointer"
        assert (repo / name).read_bytes() == content
    assert (repo / "d.dvx").exists() == (command == "commit")
    if command == "commit":
        assert (repo / "d.dvx").read_bytes() == pointer_before
    assert dvx("gc", "-w", "-f").code == 0
    for name, content in files.items():
        assert (repo / name).read_bytes() == content

    assert dvx(command, "d").code == 0  # with room again: every file becomes a link
    assert all((repo / name).is_symlink() for name in files)
    assert all((repo / name).read_bytes() == content for name, content in files.items())


def _pushed_and_cloned(repo, dvx, tmp_path, big: bytes, small: bytes) -> Path:
    """big.bin and small.bin added, pushed to a directory remote and committed; a clone of
    the repository (its data not pulled)."""
    assert dvx("remote", "add", "-d", "s", str(tmp_path / "store")).code == 0
    write(repo / "big.bin", big)
    write(repo / "small.bin", small)
    assert dvx("add", "big.bin", "small.bin").code == 0
    assert dvx("push").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "data")
    git(tmp_path, "clone", "-q", str(repo), "clone")
    return tmp_path / "clone"


def test_a_failed_download_is_reported_and_leaves_no_partial_object(repo, dvx, tmp_path):
    big, small = os.urandom(3 << 20), b"small file"
    clone = _pushed_and_cloned(repo, dvx, tmp_path, big, small)

    result = run_with_file_size_limit(["pull"], clone, 1 << 20)
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    assert xxhash.xxh3_128_hexdigest(big) in result.stderr  # reported by oid
    assert (clone / "small.bin").read_bytes() == small  # the rest still arrives
    assert not (clone / "big.bin").exists()
    assert_cache_sound(clone)
    assert set(all_cached(clone)) == {xxhash.xxh3_128_hexdigest(small)}

    assert dvx("pull", cwd=clone).code == 0
    assert (clone / "big.bin").read_bytes() == big


def test_a_pull_that_fills_the_disk_frees_it_for_the_rerun(repo, dvx, dvx_proc, tmp_path,
                                                           small_disk):
    """A download a full disk refuses is removed before the command exits (its bytes still
    buffered cannot be written either), and is not tried again: a full disk stays full."""
    big, small = os.urandom(10 << 20), os.urandom(2 << 20)  # the disk takes 8 MiB
    clone = _pushed_and_cloned(repo, dvx, tmp_path, big, small)
    cache = small_disk / "cache"
    assert dvx("config", "--local", "cache.dir", str(cache), cwd=clone).code == 0

    failed = dvx_proc("pull", "-v", "big.bin", cwd=clone)
    assert failed.code == 1 and "Traceback" not in failed.stderr, failed.stderr
    assert f"its disk (mounted at {small_disk}) is full" in failed.stderr
    assert "Retrying" not in failed.stderr
    assert [p.name for p in cache.rglob("*") if p.is_file() and p.name != "generation"] == []

    pulled = dvx_proc("pull", "small.bin", cwd=clone)
    assert pulled.code == 0, pulled.stderr
    assert (clone / "small.bin").read_bytes() == small


def test_pull_never_overwrites_or_deletes_a_change_that_is_not_cached(repo, dvx, tmp_path):
    store = tmp_path / "store"
    assert dvx("remote", "add", "-d", "s", str(store)).code == 0
    write(repo / "model.bin", b"v1")
    write(repo / "images/a.png", b"a1")
    assert dvx("add", "model.bin", "images").code == 0
    assert dvx("push").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "v1")
    git(tmp_path, "clone", "-q", str(repo), "clone")
    clone = tmp_path / "clone"
    assert dvx("pull", cwd=clone).code == 0
    # Upstream moves to v2 ...
    (repo / "model.bin").unlink()
    write(repo / "model.bin", b"v2")
    write(repo / "images/b.png", b"b2")
    assert dvx("add", "model.bin", "images").code == 0
    assert dvx("push").code == 0
    git(repo, "commit", "-qam", "v2")
    # ... while the clone has unsaved work in both outputs.
    (clone / "model.bin").unlink()
    write(clone / "model.bin", b"my own edit")
    write(clone / "images/mine.png", b"my new image")
    git(clone, "pull", "-q")

    result = dvx("pull", cwd=clone)
    assert result.code == 1
    assert "model.bin" in result.stderr and "images/mine.png" in result.stderr
    assert "--force" in result.stderr
    assert (clone / "model.bin").read_bytes() == b"my own edit"
    assert (clone / "images/mine.png").read_bytes() == b"my new image"
    assert (clone / "images/b.png").read_bytes() == b"b2"  # what was safe still happened

    forced = dvx("pull", "--force", cwd=clone)
    assert forced.code == 0, forced.output
    assert (clone / "model.bin").read_bytes() == b"v2"
    assert not (clone / "images/mine.png").exists()


def test_push_withholds_a_manifest_whose_files_did_not_all_upload(repo, dvx, tmp_path):
    store = tmp_path / "store"
    assert dvx("remote", "add", "-d", "s", str(store)).code == 0
    write(repo / "images/a.png", b"a")
    write(repo / "images/b.png", b"b")
    assert dvx("add", "images").code == 0
    lost = object_path(repo, xxhash.xxh3_128_hexdigest(b"b"))
    lost.unlink()  # one file's object is gone from the cache

    result = dvx("push")
    assert result.code == 1
    message = " ".join(result.stderr.split())
    assert "manifest" in message and "not pushed" in message, message
    on_remote = local_spec(store, str(store), {}).oids()
    assert on_remote == {xxhash.xxh3_128_hexdigest(b"a")}  # the file, never the manifest


def test_a_file_named_like_a_temporary_is_refused_and_one_tracked_before_is_kept(repo, dvx):
    """Such a name is never data: `add` says so instead of tracking what a later command would
    delete; one an older dvx let a user track (it has a pointer) is never deleted."""
    name = ".q.dvx-0123456789ab.tmp"
    write(repo / name, b"precious")
    refused = dvx("add", name)
    assert refused.code == 2 and "named like dvx's own temporary files" in refused.stderr
    assert not (repo / (name + ".dvx")).exists()
    write(repo / "x", b"precious")
    assert dvx("add", "x").code == 0
    os.rename(repo / "x", repo / name)
    os.rename(repo / "x.dvx", repo / (name + ".dvx"))
    stamp = (repo / name).stat().st_mtime - 2 * 3600
    os.utime(repo / name, (stamp, stamp))
    write(repo / "q", b"q")
    assert dvx("add", "q").code == 0
    assert (repo / name).read_bytes() == b"precious"
