import errno
import json
import os
import shlex
import shutil
import stat
import subprocess
import sys

import pytest
import xxhash
import yaml

from tests.conftest import (
    dvx_unprivileged,
    git,
    read_only_folders,
    run_dvx_proc,
    tree_bytes,
    write,
)


def _commit(repo, message):
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", message)


def test_git_checkout_of_an_older_version_restores_its_bytes(repo, dvx):
    write(repo / "d" / "keep", "keep")
    write(repo / "d" / "old_only", "old")
    write(repo / "d" / "sub" / "changes", "v1")
    write(repo / "model.bin", "model v1")
    dvx("add", "d", "model.bin")
    _commit(repo, "v1")
    git(repo, "tag", "v1")
    v1 = tree_bytes(repo / "d")
    os.unlink(repo / "d" / "old_only")
    write(repo / "d" / "sub" / "changes", "v2")
    write(repo / "d" / "new_only" / "x", "new")
    write(repo / "model.bin", "model v2")
    dvx("add", "d", "model.bin")
    _commit(repo, "v2")
    v2 = tree_bytes(repo / "d")

    git(repo, "checkout", "-q", "v1")
    result = dvx("checkout")
    assert result.code == 0, result.output
    assert tree_bytes(repo / "d") == v1
    assert not (repo / "d" / "new_only").exists()  # emptied directories are pruned
    assert (repo / "model.bin").read_text() == "model v1"

    git(repo, "checkout", "-q", "main")
    assert dvx("checkout").code == 0
    assert tree_bytes(repo / "d") == v2
    assert (repo / "model.bin").read_text() == "model v2"
    assert dvx("status", "-q").code == 0


def test_a_folder_replaced_by_a_symlink_is_skipped_in_one_sentence(repo, dvx):
    write(repo / "d" / "sub" / "a", "a")
    assert dvx("add", "d").code == 0
    shutil.rmtree(repo / "d" / "sub")
    (repo / "elsewhere").mkdir()
    os.symlink("../elsewhere", repo / "d" / "sub")
    result = dvx("checkout")
    assert result.code == 1 and "Skipped d/sub/a: its folder 'd/sub' is a symbolic link" \
        in result.stderr, result.output
    assert "'sub/.'" not in result.stderr  # named from the top, as the file is
    assert "real directory).\n" in result.stderr and "directory.." not in result.stderr
    assert not (repo / "elsewhere" / "a").exists()


@pytest.mark.parametrize("there", ["link", "file"])
def test_a_folder_taken_by_a_link_or_a_file_leaves_no_checkout_unfinished(repo, dvx, there):
    """Files skipped because a link or a file of the user's stands where their folder goes
    are kept as the user's, as the link or file itself is: the checkout exits with status 1
    and says why, but places all it can, so it says nothing of work left half-done, and no
    later command names it as ended by an error."""
    write(repo / "d" / "top.txt", "top")
    write(repo / "d" / "sub" / "a", "a")
    assert dvx("add", "d").code == 0
    os.unlink(repo / "d" / "top.txt")
    shutil.rmtree(repo / "d" / "sub")
    if there == "link":
        (repo / "elsewhere").mkdir()
        os.symlink("../elsewhere", repo / "d" / "sub")
    else:
        write(repo / "d" / "sub", "mine")
    why = "its folder 'd/sub' is a symbolic link" if there == "link" else \
        "a file is where its folder 'd/sub' goes"
    for _ in range(2):
        result = dvx("checkout")
        assert result.code == 1 and f"Skipped d/sub/a: {why}" in result.stderr, result.output
        assert "Only some of its files" not in result.stderr
        assert "ended by an error" not in result.stderr
    assert (repo / "d" / "top.txt").read_text() == "top"
    assert "ended by an error" not in dvx("status").output


def test_a_file_where_a_folder_with_a_subfolder_goes_is_skipped_by_name_placing_the_rest(
        repo, dvx):
    """A file of the user's stands where the folder d/sub goes, which holds a folder of its
    own: checkout, status and pull never stop at the path below that file, which is not a
    folder; the files under it are skipped naming that file, and every other one is placed."""
    write(repo / "d" / "top.txt", "top")
    write(repo / "d" / "sub" / "deep" / "a", "a")
    write(repo / "d" / "sub" / "b", "b")
    write(repo / "e", "e")
    assert dvx("add", "d", "e").code == 0
    os.unlink(repo / "d" / "top.txt")
    os.unlink(repo / "e")
    shutil.rmtree(repo / "d" / "sub")
    write(repo / "d" / "sub", "mine")

    for command in ("checkout", "pull"):
        result = dvx(command)
        assert result.code == 1, result.output
        assert "Skipped d/sub/deep/a: a file is where its folder 'd/sub' goes" \
            in result.stderr, result.output
        assert "Not a directory" not in result.output
    assert (repo / "d" / "top.txt").read_text() == "top"
    assert (repo / "e").read_text() == "e"
    assert (repo / "d" / "sub").read_text() == "mine"
    assert dvx("status").code == 0


def test_a_file_where_a_folder_of_a_stage_output_goes_is_kept_and_named(repo, dvx):
    """A file of the user's stands where the folder of the stage output o/f goes: status
    reads nothing below it, and checkout, `--force` too, keeps it, naming it."""
    write(repo / "dvx.yaml", "stages:\n  s:\n    cmd: mkdir -p o && echo hi > o/f\n"
          "    outs: [o/f]\n")
    assert dvx("repro").code == 0
    shutil.rmtree(repo / "o")
    write(repo / "o", "mine")

    shown = dvx("status")
    assert shown.code == 0 and "o/f: deleted" in shown.stdout, shown.output
    for force in ((), ("--force",)):
        result = dvx("checkout", *force)
        assert result.code == 1, result.output
        assert "Skipped o/f: a file is where its folder 'o' goes" in result.stderr, result.output
    assert (repo / "o").read_text() == "mine"


def test_commit_of_a_stage_output_whose_folder_is_a_file_says_it_is_missing(repo, dvx):
    """A file of the user's stands where the folder of the stage output o/f goes: `dvx commit
    o/f` says the output is missing, as of one deleted, never a raw 'Not a directory', and
    keeps that file."""
    write(repo / "dvx.yaml", "stages:\n  s:\n    cmd: mkdir -p o && echo hi > o/f\n"
          "    outs: [o/f]\n")
    assert dvx("repro").code == 0
    shutil.rmtree(repo / "o")
    write(repo / "o", "mine")

    result = dvx("commit", "o/f")
    assert result.code == 2, result.output
    assert "'o/f' is missing from the workspace" in result.stderr, result.output
    assert "Not a directory" not in result.output
    assert (repo / "o").read_text() == "mine"


def test_a_folder_kept_for_a_change_in_it_where_a_file_goes_leaves_no_checkout_unfinished(
        repo, dvx):
    """The new version of d makes d/sub a file and changes d/top; a file of the user's own
    in the folder d/sub keeps it where that file goes. The checkout places d/top, skips d/sub
    naming the file in it, and exits with status 1, but a run again would do no more: it says
    nothing of work left half-done, and no later command names it as ended by an error."""
    write(repo / "d" / "top", "top v1")
    write(repo / "d" / "sub" / "a", "a")
    assert dvx("add", "d").code == 0
    _commit(repo, "v1")
    shutil.rmtree(repo / "d" / "sub")
    write(repo / "d" / "sub", "a file now")
    write(repo / "d" / "top", "top v2")
    assert dvx("add", "d").code == 0
    _commit(repo, "v2")
    git(repo, "checkout", "-q", "HEAD~1")
    assert dvx("checkout").code == 0
    write(repo / "d" / "sub" / "notes.txt", "my own notes")
    git(repo, "checkout", "-q", "main")
    for _ in range(2):
        result = dvx("checkout")
        message = " ".join(result.stderr.split())
        assert result.code == 1, result.output
        assert ("Skipped d/sub: a directory is in the way, holding 1 file of yours: "
                "'d/sub/notes.txt'") in message, result.output
        assert "ended with an error" not in message and "ended by an error" not in message
    assert (repo / "d" / "top").read_text() == "top v2"
    assert (repo / "d" / "sub" / "notes.txt").read_text() == "my own notes"
    assert not (repo / ".dvx" / "tmp" / "lock.stopped").exists()
    assert "ended by an error" not in dvx("status").output


def test_checkout_never_discards_uncached_changes_without_force(repo, dvx):
    write(repo / "f", "recorded")
    write(repo / "d" / "a", "a")
    dvx("add", "f", "d")
    write(repo / "f", "precious edit")
    write(repo / "d" / "a", "precious a")
    write(repo / "d" / "untracked_new", "precious new")
    result = dvx("checkout")
    assert result.code == 1
    assert (repo / "f").read_text() == "precious edit"
    assert (repo / "d" / "a").read_text() == "precious a"
    assert (repo / "d" / "untracked_new").read_text() == "precious new"
    for path in ("f", "d/a", "d/untracked_new"):
        assert f"Skipped {path}" in result.stderr
    forced = dvx("checkout", "--force")
    assert forced.code == 0, forced.output
    assert (repo / "f").read_text() == "recorded"
    assert tree_bytes(repo / "d") == {"a": b"a"}


def test_checkout_replaces_changes_whose_content_is_cached(repo, dvx):
    write(repo / "f", "v1")
    dvx("add", "f")
    _commit(repo, "v1")
    write(repo / "f", "v2")
    dvx("add", "f")  # v2 is now in the cache too
    git(repo, "checkout", "-q", "HEAD", "--", "f.dvx")
    assert dvx("checkout").code == 0
    assert (repo / "f").read_text() == "v1"


def test_checkout_keeps_changes_made_here_though_their_bytes_are_in_the_cache(repo, dvx):
    write(repo / "f", "f v1")
    write(repo / "d" / "a", "a v1")
    write(repo / "d" / "b", "b")
    dvx("add", "f", "d")
    _commit(repo, "v1")
    write(repo / "f", "f v2")
    write(repo / "d" / "a", "a v2")
    dvx("add", "f", "d")
    _commit(repo, "v2")
    write(repo / "f", "f v1")  # reverted to an older version, not recorded
    write(repo / "d" / "a", "a v1")
    write(repo / "d" / "copy", "b")  # a copy of another tracked file, not recorded
    result = dvx("checkout")
    assert result.code == 1, result.output
    for path in ("f", "d/a", "d/copy"):
        assert f"Skipped {path}: it has changes made here since the last checkout" \
            in result.stderr, result.output
    assert (repo / "f").read_text() == "f v1"
    assert tree_bytes(repo / "d") == {"a": b"a v1", "b": b"b", "copy": b"b"}
    assert "--force" in result.stderr and "`dvx commit`" in result.stderr
    forced = dvx("checkout", "--force")
    assert forced.code == 0, forced.output
    assert (repo / "f").read_text() == "f v2"
    assert tree_bytes(repo / "d") == {"a": b"a v2", "b": b"b"}


def test_without_a_sync_record_changes_whose_bytes_are_cached_are_replaced(repo, dvx):
    write(repo / "f", "f v1")
    dvx("add", "f")
    _commit(repo, "v1")
    write(repo / "f", "f v2")
    dvx("add", "f")
    _commit(repo, "v2")
    write(repo / "f", "f v1")
    (repo / ".dvx" / "tmp" / "synced.json").unlink()  # nothing tells a change from a version
    result = dvx("checkout")
    assert result.code == 0, result.output
    assert (repo / "f").read_text() == "f v2"


def test_checkout_restores_deleted_and_reports_missing(repo, dvx):
    write(repo / "f", "x")
    write(repo / "g", "y")
    dvx("add", "f", "g")
    os.unlink(repo / "f")
    os.unlink(repo / "g")
    for obj in (repo / ".dvx" / "cache" / "files").rglob("*"):
        if obj.is_file() and obj.read_bytes() == b"y":
            obj.unlink()
    result = dvx("checkout")
    assert result.code == 1
    assert (repo / "f").read_text() == "x"
    assert "Not in the cache" in result.stderr and "g" in result.stderr


def test_checkout_single_file_of_a_directory(repo, dvx):
    write(repo / "d" / "a", "a")
    write(repo / "d" / "b", "b")
    dvx("add", "d")
    os.unlink(repo / "d" / "a")
    os.unlink(repo / "d" / "b")
    assert dvx("checkout", "d/a").code == 0
    assert (repo / "d" / "a").read_text() == "a"
    assert not (repo / "d" / "b").exists()


def test_targets_that_overlap_count_each_file_once(repo, dvx, tmp_path):
    write(repo / "d" / "a", "a")
    write(repo / "d" / "b", "b")
    write(repo / "d" / "sub" / "c", "c")
    dvx("add", "d")
    assert dvx("checkout", "d", "d/a").stdout == "Checkout: 0 restored, 3 unchanged.\n"
    assert dvx("checkout", "d/sub/c", "d/sub", "d/sub").stdout == (
        "Checkout: 0 restored, 1 unchanged.\n")
    os.unlink(repo / "d" / "a")
    assert dvx("checkout", "d/a", "d").stdout == "Checkout: 1 restored, 2 unchanged.\n"
    assert dvx("remote", "add", "-d", "store", str(tmp_path / "store")).code == 0
    assert dvx("push").code == 0
    shutil.rmtree(repo / "d")
    pulled = dvx("pull", "d", "d/a", "d/sub/c")
    assert pulled.code == 0 and "Checkout: 3 restored, 0 unchanged." in pulled.stdout


@pytest.mark.parametrize("link_type", ["hardlink", "symlink", "copy"])
def test_checkout_link_types_and_protection(repo, dvx, link_type):
    write(repo / "d" / "data", "data")
    write(repo / "d" / "tool.sh", "#!/bin/sh\n")
    os.chmod(repo / "d" / "tool.sh", 0o755)
    dvx("add", "d")
    dvx("config", "cache.type", link_type)
    import shutil

    shutil.rmtree(repo / "d")
    assert dvx("checkout").code == 0
    data = repo / "d" / "data"
    assert data.read_text() == "data"
    tool = os.lstat(repo / "d" / "tool.sh")
    assert stat.S_ISREG(tool.st_mode) and tool.st_mode & stat.S_IXUSR  # executables: copies
    if link_type == "hardlink":
        assert os.stat(data).st_nlink == 2 and not os.stat(data).st_mode & stat.S_IWUSR
    elif link_type == "symlink":
        assert data.is_symlink()
    else:
        assert os.stat(data).st_nlink == 1 and os.stat(data).st_mode & stat.S_IWUSR
    assert dvx("status", "-q").code == 0
    assert dvx("unprotect", "d").code == 0
    assert not data.is_symlink() and os.stat(data).st_nlink == 1
    data.write_text("edited")  # writable now, and the cache is untouched
    assert dvx("checkout", "--force").code == 0
    assert data.read_text() == "data"


def test_checkout_fixes_executable_bit(repo, dvx):
    write(repo / "run.sh", "#!/bin/sh\n")
    os.chmod(repo / "run.sh", 0o755)
    dvx("add", "run.sh")
    os.chmod(repo / "run.sh", 0o644)
    assert dvx("status", "-q").code == 1
    assert dvx("checkout").code == 0
    assert os.stat(repo / "run.sh").st_mode & stat.S_IXUSR


@pytest.mark.parametrize("umask, plain, executable", [(0o077, 0o600, 0o700),
                                                       (0o002, 0o664, 0o775)])
def test_checked_out_copies_follow_the_umask_as_git_s_files_do(repo, dvx, umask, plain,
                                                                executable):
    """A private umask keeps placed data private; a group one makes it group-writable. The
    cache's objects keep their read-only mode."""
    import subprocess

    write(repo / "small.csv", "records\n")
    write(repo / "large.bin", os.urandom(3 << 20))  # copied by the kernel, not unnamed
    write(repo / "run.sh", "#!/bin/sh\n")
    os.chmod(repo / "run.sh", 0o755)
    assert dvx("config", "cache.type", "copy").code == 0
    assert dvx("add", "small.csv", "large.bin", "run.sh").code == 0
    for name in ("small.csv", "large.bin", "run.sh"):
        os.unlink(repo / name)
    proc = subprocess.run([sys.executable, "-m", "dvx", "checkout"], cwd=repo,
                          capture_output=True, text=True, umask=umask)
    assert proc.returncode == 0, proc.stderr
    modes = {n: stat.S_IMODE(os.stat(repo / n).st_mode) for n in ("small.csv", "large.bin",
                                                                    "run.sh")}
    assert modes == {"small.csv": plain, "large.bin": plain, "run.sh": executable}
    objects = [p for p in (repo / ".dvx" / "cache" / "files").rglob("*") if p.is_file()]
    assert objects and all(not os.stat(p).st_mode & 0o222 for p in objects)


def test_checkout_of_many_files_by_worker_processes_links_and_records_them(repo, dvx):
    """Above processes.MIN_ITEMS files, checkout forks workers; links are made as configured
    and the stat cache learns every placed file (status then hashes nothing)."""
    from dvx.processes import MIN_ITEMS

    dvx("config", "cache.type", "hardlink")
    files = {f"d/{i % 11}/f{i}": os.urandom(16 + i % 200) for i in range(MIN_ITEMS + 30)}
    for rel, content in files.items():
        write(repo / rel, content)
    assert dvx("add", "d").code == 0
    shutil.rmtree(repo / "d")
    result = dvx("checkout")
    assert result.code == 0, result.output
    for rel, content in files.items():
        assert (repo / rel).read_bytes() == content
        assert os.stat(repo / rel).st_nlink == 2  # a hard link to the cached object
    from dvx.objects.statcache import StatCache

    cache = StatCache(str(repo / ".dvx" / "tmp" / "statcache.db"), "xxh128")
    sample = repo / "d" / "4" / "f15"
    assert cache.get(str(sample), os.lstat(sample)) is not None
    assert dvx("status", "-q").code == 0


def test_relink_places_files_again_as_the_new_cache_type_says(repo, dvx):
    write(repo / "model.bin", b"weights")
    write(repo / "images" / "a.png", b"a")
    write(repo / "images" / "b.png", b"b")
    assert dvx("config", "cache.type", "symlink").code == 0
    assert dvx("add", "model.bin", "images").code == 0
    linked = [repo / "model.bin", repo / "images/a.png", repo / "images/b.png"]
    assert all(p.is_symlink() for p in linked)

    assert dvx("config", "cache.type", "copy").code == 0
    kept = dvx("checkout")  # content matches: nothing to do without --relink
    assert kept.code == 0 and all(p.is_symlink() for p in linked)
    relinked = dvx("checkout", "--relink")
    assert relinked.code == 0, relinked.output
    assert not any(p.is_symlink() for p in linked)
    assert [p.read_bytes() for p in linked] == [b"weights", b"a", b"b"]
    (repo / "model.bin").chmod(0o644)
    (repo / "model.bin").write_bytes(b"edited in place")  # a copy: the cache is untouched
    assert dvx("fsck").code == 0
    assert dvx("status", "-q").code == 1


@pytest.mark.parametrize("link_type", ["symlink", "hardlink", "copy"])
def test_relink_leaves_files_already_placed_as_the_cache_type_says(repo, dvx, link_type):
    assert dvx("config", "cache.type", link_type).code == 0
    write(repo / "model.bin", b"weights")
    write(repo / "images" / "a.png", b"a")
    assert dvx("add", "model.bin", "images").code == 0
    placed = [repo / "model.bin", repo / "images/a.png"]
    def placement(path):  # what writing it again changes (reading it moves its atime only)
        st = os.lstat(path)
        return st.st_ino, st.st_mode, st.st_mtime_ns, st.st_ctime_ns

    before = [placement(p) for p in placed]
    relinked = dvx("checkout", "--relink")
    assert relinked.code == 0 and "0 restored, 2 unchanged" in relinked.stdout, relinked.output
    assert [placement(p) for p in placed] == before  # not written again: no inode, no ctime moved


def test_going_back_to_a_file_where_the_directory_it_became_is_synced(repo, dvx):
    write(repo / "f", "the file\n")
    dvx("add", "f")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "a file")
    os.unlink(repo / "f")
    write(repo / "f" / "g", "in the directory\n")
    assert dvx("commit", "f").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "now a directory")
    git(repo, "checkout", "-q", "HEAD~1")
    status = dvx("status", "--json")
    assert '"outdated"' in status.stdout, status.output
    assert dvx("checkout").code == 0  # the directory is in the cache: nothing is lost
    assert (repo / "f").read_text() == "the file\n"
    git(repo, "checkout", "-q", "-")
    assert dvx("checkout").code == 0
    write(repo / "f" / "mine", "not in any cache\n")
    git(repo, "checkout", "-q", "HEAD~1")
    refused = dvx("checkout")
    assert refused.code == 1 and "f/mine" in refused.output
    assert (repo / "f" / "mine").read_text() == "not in any cache\n"


def test_a_file_s_record_under_a_folder_placed_in_part_is_never_read_as_its_manifest(repo, dvx):
    """A part of a folder checked out where a tracked file was, over a record of that file as
    an older dvx wrote it (no executable bit) while the cache lacked the file's data: once the
    cache holds that data again and the folder's pointer moves, status and checkout take the
    file's record for no version of the folder, never reading the file's bytes as a
    manifest."""
    write(repo / "d" / "sub" / "a", "1\n")
    write(repo / "d" / "other" / "b", "2\n")
    assert dvx("add", "d").code == 0
    _commit(repo, "v1")
    write(repo / "d" / "sub" / "a", "1b\n")
    assert dvx("add", "d").code == 0
    _commit(repo, "v2")
    shutil.rmtree(repo / "d")
    write(repo / "d", "a file now\n")
    assert dvx("add", "d").code == 0
    _commit(repo, "now a file")
    record = repo / ".dvx" / "tmp" / "synced.json"
    doc = json.loads(record.read_text())
    doc["outputs"]["d"].pop("exec")  # as a dvx that kept no executable bit wrote it
    record.write_text(json.dumps(doc))
    oid = doc["outputs"]["d"]["oid"]
    file_object = repo / ".dvx" / "cache" / "files" / "xxh128" / oid[:2] / oid[2:]
    kept = repo.parent / "kept-object"
    shutil.move(file_object, kept)  # the cache lacks the file's data

    git(repo, "checkout", "HEAD~2", "--", "d.dvx")  # v1, by hand: no hook ran
    os.unlink(repo / "d")
    assert dvx("checkout", "d/sub").code == 0
    shutil.move(kept, file_object)  # fetched again, say
    git(repo, "checkout", "HEAD~1", "--", "d.dvx")  # v2

    status = dvx("status", "--json")
    assert status.code == 0, status.output
    [shown] = json.loads(status.stdout)["outputs"]
    assert shown["not_pulled"] == ["other/b"] and shown["modified"] == [], shown
    assert dvx("checkout", "d").code == 0
    assert (repo / "d" / "sub" / "a").read_text() == "1b\n"
    assert (repo / "d" / "other" / "b").read_text() == "2\n"
    assert dvx("status").stdout == "Data and pointers are up to date.\n"


def _commit_a_directory_then_a_file(repo, dvx) -> None:
    """Two commits: `d` a tracked directory, then `d` a tracked file."""
    write(repo / "d" / "a", "in the directory\n")
    assert dvx("add", "d").code == 0
    _commit(repo, "a directory")
    shutil.rmtree(repo / "d")
    write(repo / "d", "the file\n")
    assert dvx("add", "d").code == 0
    _commit(repo, "now a file")


def test_a_directory_stays_when_the_file_git_made_of_it_is_not_in_the_cache(repo, dvx):
    _commit_a_directory_then_a_file(repo, dvx)
    git(repo, "checkout", "-q", "HEAD~1")
    assert dvx("checkout").code == 0
    file_object = repo / ".dvx/cache/files/xxh128" / _oid_path("the file\n")
    file_object.unlink()  # as in a clone that never fetched the file
    git(repo, "checkout", "-q", "-")
    missing = dvx("checkout", "d")
    assert missing.code == 1 and "Not in the cache" in missing.output, missing.output
    assert (repo / "d" / "a").read_text() == "in the directory\n"
    assert _workspace_status(dvx, "d") == "outdated"


def _oid_path(content: str) -> str:
    oid = xxhash.xxh3_128_hexdigest(content.encode())
    return f"{oid[:2]}/{oid[2:]}"


def _workspace_status(dvx, path):
    doc = json.loads(dvx("status", "--json").stdout)
    return next(o["workspace"] for o in doc["outputs"] if o["path"] == path)


@pytest.mark.parametrize("link_type", ["copy", "hardlink", "symlink"])
def test_data_git_made_a_file_or_a_directory_is_outdated_while_it_holds_what_was_synced(
        repo, dvx, link_type):
    assert dvx("config", "cache.type", link_type).code == 0
    _commit_a_directory_then_a_file(repo, dvx)

    git(repo, "checkout", "-q", "HEAD~1")  # the pointer names a directory, a file is here
    assert _workspace_status(dvx, "d") == "outdated"
    skipped = dvx("commit")
    assert skipped.code == 0 and "Not recorded d" in skipped.output, skipped.output
    assert dvx("checkout").code == 0
    assert (repo / "d" / "a").read_text() == "in the directory\n"

    git(repo, "checkout", "-q", "main")  # a file, and the directory checkout placed is here
    assert _workspace_status(dvx, "d") == "outdated"
    skipped = dvx("commit")
    assert skipped.code == 0 and "Not recorded d" in skipped.output, skipped.output
    os.unlink(repo / "d" / "a")  # not through a link: that would edit the cache object
    write(repo / "d" / "a", "edited\n")
    assert _workspace_status(dvx, "d") == "modified"


def test_a_directory_of_dvx_s_own_cache_links_is_replaced_without_force(repo, dvx, tmp_path):
    assert dvx("config", "cache.type", "symlink").code == 0
    write(repo / "f", "the file\n")
    assert dvx("add", "f").code == 0
    _commit(repo, "a file")
    os.unlink(repo / "f")
    write(repo / "f" / "x", "in the directory\n")
    assert dvx("add", "f").code == 0
    _commit(repo, "now a directory")
    assert os.path.islink(repo / "f" / "x")

    git(repo, "checkout", "-q", "HEAD~1")
    done = dvx("checkout")
    assert done.code == 0, done.output
    assert (repo / "f").read_text() == "the file\n"

    git(repo, "checkout", "-q", "main")
    assert dvx("checkout").code == 0
    write(tmp_path / "elsewhere", "not dvx's\n")
    os.symlink(tmp_path / "elsewhere", repo / "f" / "mine")
    git(repo, "checkout", "-q", "HEAD~1")
    refused = dvx("checkout")
    assert refused.code == 1 and "f/mine" in refused.output, refused.output
    assert os.path.islink(repo / "f" / "mine")


@pytest.mark.parametrize(("relink", "how"), [(True, "move"), (False, "move"), (True, "copy")])
def test_links_of_a_moved_repository_are_named_and_linked_again(repo, dvx, tmp_path,
                                                                  monkeypatch, relink, how):
    """Unchanged data whose links lead into the cache where the repository was: status
    gives it its own state with the relink on stdout, never `modified` (which would send
    the user to a commit that refuses, or a `checkout --force`); commit and add refuse it,
    naming the relink."""
    assert dvx("config", "cache.type", "symlink").code == 0
    write(repo / "t.txt", "top\n")
    write(repo / "d" / "a", "in the directory\n")
    write(repo / "d" / "b", "b\n")
    assert dvx("add", "t.txt", "d").code == 0
    _commit(repo, "v1")
    moved = tmp_path / "moved"
    shutil.move(repo, moved) if how == "move" else shutil.copytree(repo, moved, symlinks=True)
    monkeypatch.chdir(moved)
    assert str(repo) in os.readlink(moved / "t.txt")  # absolute: into the old cache

    status = dvx("status")
    assert "t.txt: linked to another dvx cache" in status.stdout, status.output
    assert "d: linked to another dvx cache" in status.stdout
    assert "(`dvx checkout --relink` links the data to this repository's cache)" in \
        status.stdout
    assert "modified" not in status.output and "dvx commit" not in status.output
    doc = json.loads(dvx("status", "--json").stdout)
    assert {o["path"]: o["workspace"] for o in doc["outputs"]} == {
        "d": "linked_elsewhere", "t.txt": "linked_elsewhere"}
    assert dvx("status", "-q").code == 1
    assert dvx("commit").code == 0  # nothing here to record
    for refused in (dvx("commit", "t.txt"), dvx("add", "t.txt"), dvx("add", "d")):
        assert refused.code == 2 and "another dvx cache" in refused.stderr, refused.output
        assert "dvx checkout --relink" in refused.stderr
    write(moved / "d" / "c", "new\n")  # a change too: that is what it is
    assert "d: modified" in dvx("status").stdout
    os.unlink(moved / "d" / "c")
    done = dvx("checkout", "--relink") if relink else dvx("checkout")
    assert done.code == 0 and "3 restored" in done.output, done.output
    for path in (moved / "t.txt", moved / "d" / "a"):
        assert os.readlink(path).startswith(str(moved / ".dvx" / "cache"))
    assert (moved / "t.txt").read_text() == "top\n"
    assert dvx("status", "-q").code == 0


def test_a_link_of_your_own_is_not_taken_for_a_moved_repository_s(repo, dvx, tmp_path):
    assert dvx("config", "cache.type", "symlink").code == 0
    write(repo / "t.txt", "top\n")
    assert dvx("add", "t.txt").code == 0
    os.unlink(repo / "t.txt")
    mine = write(tmp_path / "files" / "xxh128" / "ab" / ("0" * 30), "mine\n")  # no object here
    os.symlink(mine, repo / "t.txt")
    refused = dvx("checkout")
    assert refused.code == 1 and "did not create" in refused.output, refused.output
    assert (repo / "t.txt").read_text() == "mine\n"


@pytest.mark.parametrize("link_type", ["hardlink", "reflink"])
def test_a_link_type_that_cannot_be_made_is_named_with_the_copy_fallback(repo, dvx,
                                                                          monkeypatch, link_type):
    from dvx import fsutil

    def across_filesystems(src: str, dst: str) -> None:  # the cache is on another filesystem
        raise OSError(errno.EXDEV, os.strerror(errno.EXDEV))

    assert dvx("config", "cache.type", link_type).code == 0
    monkeypatch.setitem(fsutil.LINKERS, link_type, across_filesystems)
    write(repo / "f", "data\n")
    assert dvx("add", "f").code == 0
    os.unlink(repo / "f")
    skipped = dvx("checkout")
    assert skipped.code == 1, skipped.output
    assert (f"Skipped f: no usable link type among {link_type} "
            f"({os.strerror(errno.EXDEV)}); set cache.type to {link_type},copy") \
        in skipped.output, skipped.output
    assert dvx("config", "cache.type", f"{link_type},copy").code == 0
    assert dvx("checkout").code == 0 and (repo / "f").read_text() == "data\n"


@pytest.mark.parametrize("cache_type", ["reflink,hardlink", "reflink,symlink"])
def test_executables_are_copied_where_no_reflink_can_be_made_and_a_shared_link_is_next(
        repo, dvx, monkeypatch, cache_type):
    """Executables are never hard or symbolically linked (they would share the object's mode),
    so where the filesystem makes no reflinks they are copied, as with `cache.type hardlink`
    alone, instead of skipped for want of a link type."""
    from dvx import fsutil

    def not_supported(src: str, dst: str) -> None:  # ext4, say
        raise OSError(errno.EOPNOTSUPP, os.strerror(errno.EOPNOTSUPP))

    monkeypatch.setitem(fsutil.LINKERS, "reflink", not_supported)
    assert dvx("config", "cache.type", cache_type).code == 0
    write(repo / "run.sh", "#!/bin/sh\necho hi\n")
    write(repo / "tools" / "x.sh", "#!/bin/sh\necho x\n")
    write(repo / "tools" / "data.txt", "data\n")
    for tool in (repo / "run.sh", repo / "tools" / "x.sh"):
        os.chmod(tool, 0o755)
    added = dvx("add", "run.sh", "tools")
    assert added.code == 0, added.output
    for tool in (repo / "run.sh", repo / "tools" / "x.sh"):
        os.unlink(tool)
    placed = dvx("checkout")
    assert placed.code == 0, placed.output
    for tool in (repo / "run.sh", repo / "tools" / "x.sh"):
        st = os.lstat(tool)
        assert stat.S_ISREG(st.st_mode) and st.st_nlink == 1 and st.st_mode & stat.S_IXUSR
    assert dvx("status", "-q").code == 0


def test_an_object_at_its_link_limit_is_named_with_the_reason_and_others_still_link(
        repo, dvx, monkeypatch):
    from dvx import fsutil

    assert dvx("config", "cache.type", "hardlink").code == 0
    write(repo / "f1", "full\n")
    write(repo / "f2", "full\n")
    write(repo / "g", "other\n")
    assert dvx("add", "f1", "f2", "g").code == 0
    full = os.stat(repo / "f1")
    for name in ("f1", "f2", "g"):
        os.unlink(repo / name)

    def at_its_limit(src: str, dst: str) -> None:  # ext4 allows 65,000 links to one inode
        if os.path.samestat(os.stat(src), full):
            raise OSError(errno.EMLINK, os.strerror(errno.EMLINK))
        os.link(src, dst)

    monkeypatch.setitem(fsutil.LINKERS, "hardlink", at_its_limit)
    skipped = dvx("checkout")
    assert skipped.code == 1, skipped.output
    for name in ("f1", "f2"):
        assert (f"Skipped {name}: no usable link type among hardlink "
                f"({os.strerror(errno.EMLINK)}); set cache.type to hardlink,copy") \
            in skipped.output, skipped.output
    assert os.stat(repo / "g").st_nlink == 2  # another object links as before


def test_a_symlink_whose_object_left_the_cache_is_reported_not_in_the_cache(repo, dvx):
    import json

    dvx("config", "cache.type", "symlink")
    write(repo / "f", "x")
    write(repo / "d" / "a", "a")
    write(repo / "d" / "b", "b")
    dvx("add", "f", "d")
    assert dvx("checkout").code == 0
    gone = {}
    for obj in (repo / ".dvx" / "cache" / "files").rglob("*"):
        if obj.is_file() and obj.read_bytes() in (b"x", b"a"):  # gc of a shared cache, say
            gone[obj] = obj.read_bytes()
            obj.unlink()
    result = dvx("checkout", "--json")
    assert result.code == 1
    report = json.loads(result.stdout)
    assert sorted(report["missing"]) == ["d/a", "f"] and report["unchanged"] == 1
    for obj, data in gone.items():  # fetched again
        obj.write_bytes(data)
    assert dvx("checkout").code == 0
    assert (repo / "f").read_text() == "x" and (repo / "d" / "a").read_text() == "a"


@pytest.mark.parametrize("link", ["hardlink", "symlink"])
def test_checkout_force_never_links_back_an_object_edited_through_a_link(repo, dvx, tmp_path,
                                                                          link):
    assert dvx("config", "cache.type", link).code == 0
    assert dvx("remote", "add", "-d", "r", str(tmp_path / "remote")).code == 0
    write(repo / "f", "original\n")
    assert dvx("add", "f").code == 0
    os.chmod(repo / "f", 0o644)  # as an editor that writes in place does: the object's mode
    with open(repo / "f", "r+b") as f:
        f.write(b"ORIGINAL\n")  # same size: only its bytes tell
    done = dvx("checkout", "--force", "f")
    assert done.code == 1 and "was changed through a link to it" in done.output, done.output
    assert "`dvx pull --force f` fetches it again): f." in done.output \
        and "1 restored" not in done.output
    assert (repo / "f").read_text() == "ORIGINAL\n"  # the edit stays, in a file of its own
    assert "up to date" not in dvx("status").output
    assert dvx("push").code == 1  # the recorded bytes are nowhere: nothing goes under their oid
    assert not [p for p in (tmp_path / "remote").rglob("*") if p.is_file()]


def test_the_pull_a_checkout_names_for_a_file_edited_through_its_link_puts_it_back(
        repo, dvx, tmp_path):
    """The edited file keeps its changed bytes, a change a plain pull skips: the checkout
    names `dvx pull --force PATH`, which fetches the recorded version and places it."""
    assert dvx("config", "cache.type", "hardlink").code == 0
    assert dvx("remote", "add", "-d", "r", str(tmp_path / "remote")).code == 0
    write(repo / "f", "1\n")
    assert dvx("add", "f").code == 0 and dvx("push").code == 0
    os.chmod(repo / "f", 0o644)
    with open(repo / "f", "a") as f:
        f.write("EDIT\n")
    done = dvx("checkout", "--force")
    said = " ".join(done.output.split())
    assert done.code == 1 and "(`dvx pull --force f` fetches the recorded version again)" \
        in said and "`dvx pull --force f` fetches it again): f." in said, said
    assert "`dvx pull` fetches" not in said, said
    assert dvx("pull", "--force", "f").code == 0
    assert (repo / "f").read_text() == "1\n"


@pytest.mark.parametrize("times", ["as written", "set back"])
@pytest.mark.parametrize("link", ["hardlink", "symlink"])
def test_checkout_never_places_elsewhere_an_object_rewritten_through_a_link(repo, dvx, link,
                                                                          times):
    """Same size: only the object's stat (its ctime moved since it was stored) casts the
    doubt that has it hashed before another path gets it, even where the write set its mtime
    back, as `cp -p` and `rsync -t` do."""
    assert dvx("config", "cache.type", link).code == 0
    write(repo / "f", "original\n")
    assert dvx("add", "f").code == 0
    os.chmod(repo / "f", 0o644)  # the user's `chmod u+w`: the object's mode
    with open(repo / "f", "r+b") as f:
        f.write(b"ORIGINAL\n")
    if times == "set back":
        os.utime(repo / "f", (1_704_067_200, 1_704_067_200))
    shutil.copy(repo / "f.dvx", repo / "copy.dvx")  # the same data under another name
    done = run_dvx_proc("checkout", "copy.dvx", cwd=repo)
    assert done.code == 1 and "was changed or damaged after it was stored" in done.output, \
        done.output
    assert not (repo / "copy").exists()
    assert (repo / "f").read_text() == "ORIGINAL\n"  # the edit stays, in a file of its own


def test_checkout_never_places_an_object_that_is_not_its_recorded_size(repo, dvx):
    assert dvx("config", "cache.type", "hardlink").code == 0
    write(repo / "d" / "a", "a\n")
    assert dvx("add", "d").code == 0
    obj = os.stat(repo / "d" / "a")
    os.unlink(repo / "d" / "a")
    objects = [p for p in (repo / ".dvx" / "cache" / "files").rglob("*")
               if p.is_file() and os.path.samestat(os.stat(p), obj)]
    os.chmod(objects[0], 0o644)
    with open(objects[0], "a") as f:
        f.write("appended through another link\n")
    done = dvx("checkout", "d")
    assert done.code == 1 and "was changed or damaged after it was stored" in done.output, \
        done.output
    assert "`dvx pull` fetches it again): d/a." in done.output
    assert "Not in the cache" not in done.output
    assert not (repo / "d" / "a").exists() and not objects[0].exists()
    assert list((repo / ".dvx" / "cache" / "quarantine").iterdir())


@pytest.mark.parametrize("link", ["copy", "hardlink", "symlink"])
def test_a_pointer_giving_a_wrong_size_never_gets_its_intact_object_moved_aside(repo, dvx,
                                                                                link):
    assert dvx("config", "cache.type", link).code == 0
    write(repo / "a", "hello\n")
    write(repo / "b", "hello\n")
    assert dvx("add", "a", "b").code == 0
    os.unlink(repo / "a")
    os.unlink(repo / "b")
    pointer = (repo / "a.dvx").read_text()
    (repo / "a.dvx").write_text(pointer.replace("size: 6", "size: 7"))  # edited by hand
    done = dvx("checkout")
    assert done.code == 0 and "2 restored" in done.output, done.output
    assert "'a.dvx' records a size of 7 B, where the data it names is 6 B" in done.output
    assert "the record is wrong" in done.output and "changed through" not in done.output
    assert (repo / "a").read_text() == (repo / "b").read_text() == "hello\n"
    assert not (repo / ".dvx" / "cache" / "quarantine").exists()
    assert dvx("commit", "a").code == 0 and "size: 6" in (repo / "a.dvx").read_text()
    assert "0 corrupt" in dvx("fsck").output


def test_a_directory_pointer_giving_a_wrong_size_or_file_count_is_warned_about(repo, dvx):
    """As for a file pointer with a wrong size: the data is placed as its manifest names it,
    and a warning says the pointer's totals are wrong and how to record the right ones."""
    write(repo / "d" / "a", "a\n")
    write(repo / "d" / "b", "b\n")
    assert dvx("add", "d").code == 0
    shutil.rmtree(repo / "d")
    pointer = (repo / "d.dvx").read_text()
    (repo / "d.dvx").write_text(pointer.replace("size: 4\n", "size: 999\n")
                                .replace("nfiles: 2\n", "nfiles: 7\n"))  # mis-merged
    done = dvx("checkout")
    assert done.code == 0 and "2 restored" in done.output, done.output
    assert "'d.dvx' records a size of 999 B in 7 files, where the data it names is 4 B in " \
        "2 files" in done.stderr, done.stderr
    assert (repo / "d" / "b").read_text() == "b\n"
    assert dvx("commit", "d").code == 0 and (repo / "d.dvx").read_text() == pointer
    shutil.rmtree(repo / "d")
    again = dvx("checkout")
    assert again.code == 0 and "gives" not in again.stderr, again.output


def test_checkout_names_a_wrong_pointer_in_the_words_status_and_fsck_use(repo, dvx):
    """One wording for a pointer whose totals are not its data's, whichever command finds it,
    with "1 file" for one."""
    write(repo / "d" / "a", "a\n")
    write(repo / "d" / "b", "b\n")
    assert dvx("add", "d").code == 0
    shutil.rmtree(repo / "d")
    pointer = (repo / "d.dvx").read_text()
    (repo / "d.dvx").write_text(pointer.replace("size: 4\n", "size: 999\n")
                                .replace("nfiles: 2\n", "nfiles: 1\n"))  # mis-merged
    words = "records a size of 999 B in 1 file, where the data it names is 4 B in 2 files"
    done = dvx("checkout")
    assert done.code == 0 and f"'d.dvx' {words}: " in done.stderr, done.stderr
    assert "`dvx commit d` writes the record again." in " ".join(done.stderr.split())
    assert f"d: its pointer {words}" in dvx("status").stdout
    assert f"d.dvx {words}: " in dvx("fsck").stderr


def test_a_manifest_giving_a_wrong_size_never_gets_its_intact_object_moved_aside(repo, dvx):
    assert dvx("config", "cache.type", "hardlink").code == 0
    write(repo / "d" / "a", "a\n")
    write(repo / "f", "a\n")
    assert dvx("add", "d", "f").code == 0
    shutil.rmtree(repo / "d")
    os.unlink(repo / "f")
    pointer = (repo / "d.dvx").read_text()
    oid = pointer.split("oid: ")[1].split()[0]
    objects = repo / ".dvx" / "cache" / "files" / "xxh128"
    wrong = (objects / oid[:2] / oid[2:]).read_bytes().replace(b'",2,', b'",3,')
    wrong_oid = xxhash.xxh3_128_hexdigest(wrong)
    (objects / wrong_oid[:2]).mkdir(exist_ok=True)
    (objects / wrong_oid[:2] / wrong_oid[2:]).write_bytes(wrong)
    (repo / "d.dvx").write_text(pointer.replace(oid, wrong_oid))
    done = dvx("checkout")
    assert done.code == 0 and "2 restored" in done.output, done.output
    assert "The manifest of 'd' gives 3 bytes as the size of 'd/a'" in done.output
    assert (repo / "d" / "a").read_text() == (repo / "f").read_text() == "a\n"
    assert not (repo / ".dvx" / "cache" / "quarantine").exists()


def _as_a_filesystem_that_folds_case(monkeypatch) -> None:
    """This filesystem tells letter case apart. What one that does not (exFAT, NTFS, APFS by
    default) answers instead: the probe finds the other spellings there, and a name opens
    what the folder lists under another spelling."""
    from dvx import fsutil
    from dvx.ops import tree_compare

    def listed_spelling(top: str, rel: str) -> str | None:
        spelled, folder = [], top
        for name in rel.split("/"):
            names = os.listdir(folder) if os.path.isdir(folder) else []
            found = [n for n in names if n.lower() == name.lower()]
            if not found:
                return None
            spelled.append(name if name in found else found[0])
            folder = os.path.join(folder, spelled[-1])
        return "/".join(spelled)

    monkeypatch.setattr(fsutil, "spellings_of_one_file", lambda folder, name, others: others,
                        raising=False)
    monkeypatch.setattr(tree_compare, "listed_spelling", listed_spelling, raising=False)


def test_names_alike_but_for_case_are_placed_once_where_the_filesystem_folds_case(
        repo, dvx, tmp_path, monkeypatch):
    """A directory made where letter case counts holds cs/A.txt and cs/a.txt. Pulled where it
    does not, the second would overwrite the first, reported restored, and a commit would
    record the first deleted. The first is placed alone, the second named as skipped (exit
    1); status calls it not pulled, and a commit keeps it. Where case counts, both are."""
    write(repo / "cs" / "A.txt", "upper")
    write(repo / "cs" / "a.txt", "lower")
    write(repo / "cs" / "b.txt", "other")
    assert dvx("add", "cs").code == 0
    assert dvx("remote", "add", "-d", "r", str(tmp_path / "remote")).code == 0
    _commit(repo, "cs")
    assert dvx("push").code == 0
    here, there = tmp_path / "here", tmp_path / "there"
    for clone in (here, there):
        git(tmp_path, "clone", "-q", str(repo), str(clone))
    assert dvx("pull", cwd=here).code == 0  # this filesystem tells them apart
    assert tree_bytes(here / "cs") == tree_bytes(repo / "cs")
    _as_a_filesystem_that_folds_case(monkeypatch)
    pulled = dvx("pull", cwd=there)
    assert pulled.code == 1
    assert ("Skipped cs/a.txt: its name differs from 'cs/A.txt' in letter case only"
            in pulled.stderr), pulled.output
    assert tree_bytes(there / "cs") == {"A.txt": b"upper", "b.txt": b"other"}
    (found,) = json.loads(dvx("status", "--json", cwd=there).stdout)["outputs"]
    assert (found["deleted"], found["not_pulled"]) == ([], ["a.txt"])
    write(there / "cs" / "b.txt", "changed")
    assert dvx("commit", "cs", cwd=there).code == 0
    listed = dvx("ls", "cs", cwd=there).stdout
    assert all(f"cs/{name}" in listed for name in ("A.txt", "a.txt", "b.txt")), listed
    again = dvx("checkout", cwd=there)
    assert again.code == 1 and "Skipped cs/a.txt" in again.stderr


def test_a_file_held_under_another_spelling_of_its_manifest_is_no_deletion(repo, dvx,
                                                                          monkeypatch):
    """cs/A.txt is not listed where the filesystem folds case, for cs/a.txt holds its name
    (placed over it by an older dvx): status calls it not pulled, not deleted, a commit
    records nothing, and checkout does not place it over cs/a.txt."""
    write(repo / "cs" / "A.txt", "upper")
    write(repo / "cs" / "a.txt", "lower")
    assert dvx("add", "cs").code == 0
    _commit(repo, "cs")
    (repo / "cs" / "A.txt").unlink()
    _as_a_filesystem_that_folds_case(monkeypatch)
    (found,) = json.loads(dvx("status", "--json").stdout)["outputs"]
    assert (found["workspace"], found["deleted"], found["not_pulled"]) == (
        "unchanged", [], ["A.txt"])
    assert dvx("commit", "cs").code == 0
    assert git(repo, "status", "--porcelain") == ""  # nothing recorded
    checked = dvx("checkout")
    assert checked.code == 1 and "Skipped cs/A.txt" in checked.stderr
    assert "'cs/a.txt'" in checked.stderr and tree_bytes(repo / "cs") == {"a.txt": b"lower"}


def test_tracked_files_alike_but_for_case_are_placed_once_where_the_filesystem_folds_case(
        repo, dvx, monkeypatch):
    write(repo / "A.bin", "upper")
    write(repo / "a.bin", "lower")
    assert dvx("add", "A.bin", "a.bin").code == 0
    _commit(repo, "two files")
    for name in ("A.bin", "a.bin"):
        (repo / name).unlink()
    _as_a_filesystem_that_folds_case(monkeypatch)
    checked = dvx("checkout")
    assert checked.code == 1
    assert "Skipped a.bin: its name differs from 'A.bin' in letter case only" in checked.stderr
    assert (repo / "A.bin").read_text() == "upper" and not (repo / "a.bin").exists()


def test_checkout_writes_again_the_gitignore_entry_a_git_mv_of_a_pointer_left_behind(repo, dvx):
    """`git mv` moves a pointer but not its .gitignore entry: the checkout that places the
    data at the new path writes the entry there, and says so, so `git add -A` never takes
    the data into Git. Data a `!` rule takes back in on purpose is left as it is."""
    write(repo / "data" / "a.csv", "a\n")
    write(repo / "shown" / "s.csv", "s\n")
    assert dvx("add", "data/a.csv", "shown/s.csv").code == 0
    write(repo / "shown" / ".gitignore", "!/s.csv\n")  # the user's choice
    git(repo, "add", ".dvx", "data", "shown/s.csv.dvx", "shown/.gitignore")
    git(repo, "commit", "-qm", "track")
    (repo / "raw").mkdir()
    git(repo, "mv", "data/a.csv.dvx", "raw/a.csv.dvx")
    git(repo, "commit", "-qm", "moved with git mv")
    (repo / "shown" / "s.csv").unlink()

    placed = dvx("checkout")
    assert placed.code == 0, placed.output
    assert (repo / "raw" / "a.csv").read_text() == "a\n"
    assert (repo / "shown" / "s.csv").read_text() == "s\n"
    assert placed.stdout.splitlines()[1:] == [
        "Wrote again the .gitignore entry a merge or `git mv` dropped, so that `git add` leaves "
        "the data out of Git (commit the .gitignore): raw/a.csv."]
    assert (repo / "raw" / ".gitignore").read_text() == "/a.csv\n"
    assert (repo / "shown" / ".gitignore").read_text() == "!/s.csv\n"
    assert git(repo, "status", "--porcelain").splitlines() == ["?? raw/.gitignore",
                                                               "?? shown/s.csv"]
    again = dvx("checkout", "--json")
    assert json.loads(again.stdout)["ignored_again"] == []


def _folder_in_the_way_of_a_file(repo, dvx):
    """A folder 'data' of the user's where the checked-out commit tracks the file 'data': it
    was a tracked directory, one file in it is edited and four are new."""
    for i in (1, 2, 3):
        write(repo / "data" / f"f{i}", f"a{i}")
    assert dvx("add", "data").code == 0
    _commit(repo, "data as a folder")
    assert dvx("remove", "data.dvx").code == 0
    shutil.rmtree(repo / "data")
    write(repo / "data", "now a file")
    assert dvx("add", "data").code == 0
    _commit(repo, "data as a file")
    git(repo, "checkout", "-q", "HEAD~1")
    assert dvx("checkout").code == 0
    write(repo / "data" / "f2", "edited")
    for i in (9, 10, 11, 12):
        write(repo / "data" / f"f{i}", f"new {i}")
    git(repo, "checkout", "-q", "main")
    return {"f1": "a1", "f2": "edited", "f3": "a3", "f9": "new 9", "f10": "new 10",
            "f11": "new 11", "f12": "new 12"}


def _commands_offered(message):
    return message.split("`")[1::2]


def _typed(repo, dvx, command):
    words = shlex.split(command)
    if words[0] == "dvx":
        return dvx(*words[1:]).code
    return subprocess.run(words, cwd=repo).returncode


def test_a_folder_in_the_way_of_a_file_names_every_file_of_the_user_s_and_ways_to_keep_them(
        repo, dvx):
    """A checkout that keeps a folder where a file goes counts all the user's files in it,
    names the first few, and offers the ways to keep them (each works when typed) before the
    --force that discards them all."""
    kept = _folder_in_the_way_of_a_file(repo, dvx)
    result = dvx("checkout")
    message = " ".join(result.stderr.split())
    assert result.code == 1, result.output
    assert "a directory is in the way, holding 5 files of yours: 'data/f10' (" in message
    assert "and 2 more; to keep them, move the folder away" in message, message
    assert message.index("`mv data data.mine`") < message.index("--force discards them all")
    assert _commands_offered(message) == ["mv data data.mine", "dvx checkout data",
                                          "dvx commit --force data"]
    assert tree_bytes(repo / "data") == {k: v.encode() for k, v in kept.items()}

    for command in _commands_offered(message)[:2]:
        assert _typed(repo, dvx, command) == 0, command
    assert (repo / "data").read_text() == "now a file"
    assert tree_bytes(repo / "data.mine") == {k: v.encode() for k, v in kept.items()}


def test_a_folder_in_the_way_of_a_file_is_recorded_in_its_place_as_offered(repo, dvx):
    kept = _folder_in_the_way_of_a_file(repo, dvx)
    message = " ".join(dvx("checkout").stderr.split())
    assert _typed(repo, dvx, _commands_offered(message)[2]) == 0
    assert "type: dir" in (repo / "data.dvx").read_text()
    assert tree_bytes(repo / "data") == {k: v.encode() for k, v in kept.items()}
    assert dvx("status").output.strip() == "Data and pointers are up to date."


def test_a_folder_in_the_way_inside_a_tracked_directory_is_offered_a_move_that_works(
        repo, dvx):
    write(repo / "d" / "sub" / "a", "a")
    assert dvx("add", "d").code == 0
    _commit(repo, "v1")
    shutil.rmtree(repo / "d" / "sub")
    write(repo / "d" / "sub", "a file now")
    assert dvx("add", "d").code == 0
    _commit(repo, "v2")
    git(repo, "checkout", "-q", "HEAD~1")
    assert dvx("checkout").code == 0
    write(repo / "d" / "sub" / "notes.txt", "my own notes")
    git(repo, "checkout", "-q", "main")
    message = " ".join(dvx("checkout").stderr.split())
    assert "holding 1 file of yours: 'd/sub/notes.txt' (changes not in the cache)" in message
    assert "--force discards it" in message
    assert _commands_offered(message) == ["mv d/sub d-sub.mine", "dvx checkout d/sub"]
    for command in _commands_offered(message):
        assert _typed(repo, dvx, command) == 0, command
    assert (repo / "d" / "sub").read_text() == "a file now"
    assert (repo / "d-sub.mine" / "notes.txt").read_text() == "my own notes"


@pytest.mark.parametrize("command", [["checkout"], ["checkout", "--force"], ["pull"]])
@pytest.mark.parametrize("inside", [[], ["empty", "empty/deeper"]])
def test_an_empty_folder_where_a_tracked_directory_has_a_file_gives_way_to_it(
        repo, dvx, tmp_path, command, inside):
    """A folder holding nothing (or only folders holding nothing) where a version of a
    tracked directory has a file holds nothing of the user's: checkout, --force or not, and
    pull remove it and place the file, and status then finds everything up to date."""
    assert dvx("remote", "add", "-d", "r", str(tmp_path / "remote")).code == 0
    write(repo / "data" / "x", "xfile\n")
    write(repo / "data" / "a", "a\n")
    assert dvx("add", "data").code == 0 and dvx("push").code == 0
    _commit(repo, "data")
    os.unlink(repo / "data" / "x")
    (repo / "data" / "x").mkdir()
    for folder in inside:
        (repo / "data" / "x" / folder).mkdir()
    done = dvx(*command)
    assert done.code == 0, done.output
    assert (repo / "data" / "x").read_text() == "xfile\n"
    assert dvx("status").output.strip() == "Data and pointers are up to date."


@pytest.mark.parametrize("link", ["hardlink", "symlink"])
def test_checkout_skipping_a_file_edited_through_its_link_names_the_ways_on_that_work(
        repo, dvx, tmp_path, link):
    """--force cannot undo an edit that wrote the cached object itself: the skip names
    `dvx commit PATH` and `dvx pull --force PATH`, as status does, never --force."""
    assert dvx("config", "cache.type", link).code == 0
    assert dvx("remote", "add", "-d", "r", str(tmp_path / "remote")).code == 0
    write(repo / "f", "f1\n")
    write(repo / "d" / "a", "a1\n")
    write(repo / "d" / "b", "b1\n")
    assert dvx("add", "f", "d").code == 0 and dvx("push").code == 0
    for path in (repo / "f", repo / "d" / "b"):
        os.chmod(path, 0o644)  # an editor saving in place through the link
        with open(path, "r+b") as f:
            f.write(b"X")
    done = dvx("checkout")
    assert done.code == 1, done.output
    assert "use --force" not in done.output
    for path in ("f", "d/b"):
        assert (f"Skipped {path}: it was edited in place through its link into the cache"
                in done.output), done.output
        assert f"`dvx commit {path}`" in done.output
        assert f"`dvx pull --force {path}`" in done.output
    assert (repo / "f").read_text() == "X1\n" and (repo / "d" / "b").read_text() == "X1\n"
    pulled = dvx("pull", "--force", "f", "d/b")
    assert pulled.code == 0, pulled.output
    assert (repo / "f").read_text() == "f1\n" and (repo / "d" / "b").read_text() == "b1\n"
    assert "up to date" in dvx("status").output


def _edited_through_an_older_link(repo, dvx, link):
    """`f` placed at v1 as a link into the cache, its pointer moved to v2 by Git alone, then
    edited in place through the link: v1's object holds the edit."""
    assert dvx("config", "cache.type", link).code == 0
    write(repo / "f", "v1\n")
    assert dvx("add", "f").code == 0
    _commit(repo, "v1")
    git(repo, "tag", "v1")
    os.unlink(repo / "f")
    write(repo / "f", "v2\n")
    assert dvx("add", "f").code == 0
    _commit(repo, "v2")
    git(repo, "checkout", "-q", "v1")
    assert dvx("checkout").code == 0
    git(repo, "checkout", "-q", "main")  # the pointer names v2; the file links v1's object
    os.chmod(os.path.realpath(repo / "f"), 0o644)  # an editor saving in place through it
    with open(repo / "f", "r+b") as f:
        f.write(b"E1\n")


@pytest.mark.parametrize("link", ["hardlink", "symlink"])
def test_checkout_names_an_edit_written_through_the_link_to_an_older_version(repo, dvx,
                                                                            link):
    """The skip says the edit wrote the older version's object, naming the ways on that
    work; --force places the recorded version and moves that object aside, so the cache
    never keeps the edit under the older version's oid."""
    _edited_through_an_older_link(repo, dvx, link)
    done = dvx("checkout")
    said = " ".join(done.output.split())
    assert done.code == 1 and "Skipped f: it was edited in place through its link into the " \
        "cache" in said, said
    assert "`dvx commit --force f` records the edit" in said
    assert "`dvx checkout --force f` discards it" in said
    assert "not in the cache (use --force" not in said
    assert (repo / "f").read_text() == "E1\n"
    forced = dvx("checkout", "--force", "f")
    warned = " ".join(forced.output.split())
    assert forced.code == 0 and ("--force discards the edit" in warned
                                 or "--force places the recorded version there again, "
                                 "discarding the edit" in warned), warned
    assert (repo / "f").read_text() == "v2\n"
    checked = dvx("fsck")
    assert checked.code == 0 and "0 corrupt" in checked.output, checked.output
    assert [p.read_text() for p in (repo / ".dvx" / "cache" / "quarantine").iterdir()] \
        == ["E1\n"]  # the discarded edit, kept aside


@pytest.mark.parametrize("command", [("commit", "--force", "f"), ("unprotect", "f")])
@pytest.mark.parametrize("link", ["hardlink", "symlink"])
def test_an_edit_written_through_the_link_to_an_older_version_stays_and_its_object_goes_aside(
        repo, dvx, link, command):
    """Recording the edit, or making the file a copy of its own, keeps the edit in the file
    and moves the older version's object aside: the cache holds no wrong bytes under it."""
    _edited_through_an_older_link(repo, dvx, link)
    done = dvx(*command)
    assert done.code == 0, done.output
    assert (repo / "f").read_text() == "E1\n"
    checked = dvx("fsck")
    assert checked.code == 0 and "0 corrupt" in checked.output, checked.output


@pytest.mark.parametrize("link", ["hardlink", "symlink"])
def test_checkout_force_of_a_directory_moves_aside_an_older_object_its_file_was_edited_through(
        repo, dvx, link):
    assert dvx("config", "cache.type", link).code == 0
    write(repo / "d" / "a", "a\n")
    write(repo / "d" / "b", "v1\n")
    assert dvx("add", "d").code == 0
    _commit(repo, "v1")
    git(repo, "tag", "v1")
    assert dvx("unprotect", "d").code == 0
    write(repo / "d" / "b", "v2\n")
    assert dvx("add", "d").code == 0
    _commit(repo, "v2")
    git(repo, "checkout", "-q", "v1")
    assert dvx("checkout").code == 0
    git(repo, "checkout", "-q", "main")
    os.chmod(os.path.realpath(repo / "d" / "b"), 0o644)
    with open(repo / "d" / "b", "r+b") as f:
        f.write(b"E1\n")
    kept = dvx("checkout")
    assert kept.code == 1 and "`dvx checkout --force d/b` discards it" in " ".join(
        kept.output.split()), kept.output
    assert dvx("checkout", "--force", "d").code == 0
    assert (repo / "d" / "b").read_text() == "v2\n"
    checked = dvx("fsck")
    assert checked.code == 0 and "0 corrupt" in checked.output, checked.output


def _workspace_at_v1_pointer_at_v2(repo, dvx) -> None:
    """d.dvx at v1 (d/a '1', d/old) placed in the workspace, then d.dvx at v2 (d/a '2', no
    d/old) from Git, as a `git pull` without hooks leaves it."""
    write(repo / "d" / "a", "1\n")
    write(repo / "d" / "old", "o\n")
    assert dvx("add", "d").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "v1")
    write(repo / "d" / "a", "2\n")
    (repo / "d" / "old").unlink()
    assert dvx("add", "d").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "v2")
    git(repo, "checkout", "-q", "HEAD~1", "--", "d.dvx")
    assert dvx("checkout", "-q", "d").code == 0
    assert (repo / "d" / "old").exists()
    git(repo, "checkout", "-q", "HEAD", "--", "d.dvx")


def test_a_target_the_workspace_has_but_the_pointer_s_version_lacks_is_checked_out_as_gone(
        repo, dvx):
    """`dvx checkout d/a d/old` where the version d.dvx records lacks d/old: d/old, placed by
    dvx, is deleted to match, as `dvx checkout d` would, with d/a placed, and the checkout
    exits 0; a file of the user's named so (d/mine) is kept, named as kept, and nothing of
    the other targets is left half done."""
    _workspace_at_v1_pointer_at_v2(repo, dvx)
    done = dvx("checkout", "d/a", "d/old")
    assert done.code == 0, done.output
    assert (repo / "d" / "a").read_text() == "2\n"
    assert not (repo / "d" / "old").exists()
    assert dvx("status", "-q").code == 0, dvx("status").output

    write(repo / "d" / "mine", "mine\n")
    kept = dvx("checkout", "d/a", "d/mine")
    assert "is not in the tracked directory" not in kept.output, kept.output
    assert "d/mine" in kept.output, kept.output
    assert (repo / "d" / "mine").read_text() == "mine\n"


@pytest.mark.parametrize("command", ["checkout", "pull"])
def test_data_for_a_folder_dvx_may_not_write_in_is_refused_before_anything_is_placed(
        repo, dvx, tmp_path, command):
    """Tracked data to place in a folder this user may not write in (mode 555): checkout and
    pull refuse before placing anything, naming that folder from the current directory with
    the chmod that lets dvx write there, and leave no stopped command behind; once it may,
    the same command places everything."""
    write(repo / "a" / "x.bin", "x")
    write(repo / "ro" / "y.bin", "y")
    write(repo / "ro" / "d" / "z", "z")
    assert dvx("add", "a/x.bin", "ro/y.bin", "ro/d").code == 0
    assert dvx("remote", "add", "-d", "store", str(tmp_path / "store")).code == 0
    assert dvx("push").code == 0
    for path in ("a/x.bin", "ro/y.bin"):
        os.unlink(repo / path)
    shutil.rmtree(repo / "ro" / "d")
    with read_only_folders(repo / "ro"):
        refused = dvx_unprivileged(repo / "a", command)
    assert refused.returncode == 1, refused.stderr
    assert refused.stderr.endswith(
        "ERROR: dvx may not write in the folder '../ro', where '../ro/d', '../ro/y.bin' would "
        "be placed (permission denied); nothing was placed. Let dvx write in it (`chmod u+w "
        "../ro`, as its owner), then run the command again.\n"), refused.stderr
    assert not (repo / "a" / "x.bin").exists()
    assert not (repo / ".dvx" / "tmp" / "lock.stopped").exists()
    assert dvx(command).code == 0
    assert [(repo / p).read_text() for p in ("a/x.bin", "ro/y.bin", "ro/d/z")] == ["x", "y", "z"]



@pytest.mark.parametrize("command", ["checkout", "pull"])
def test_files_missing_from_tracked_data_that_is_there_are_refused_for_every_read_only_folder(
        repo, dvx, tmp_path, command):
    """A tracked directory that is there, lacking files whose folders (two, one deep) dvx may
    not write in, while another of its folders is writable: checkout and pull refuse before
    placing anything, naming every such folder with one chmod for all, and leave no stopped
    command behind; once they are writable, everything is placed."""
    for path in ("d/top", "d/a/b/q.bin", "d/sub2/deep/z"):
        write(repo / path, path)
    assert dvx("add", "d").code == 0
    assert dvx("remote", "add", "-d", "store", str(tmp_path / "store")).code == 0
    assert dvx("push").code == 0
    for path in ("d/top", "d/a/b/q.bin", "d/sub2/deep/z"):
        os.unlink(repo / path)
    read_only = [repo / "d", repo / "d" / "sub2" / "deep"]
    with read_only_folders(*read_only):
        refused = dvx_unprivileged(repo / "d" / "a", command)
    assert refused.returncode == 1, refused.stderr
    assert refused.stderr.endswith(
        "ERROR: dvx may not write in the folders '..', '../sub2/deep', where '../top', "
        "'../sub2/deep/z' would be placed (permission denied); nothing was placed. Let dvx "
        "write in them (`chmod u+w .. ../sub2/deep`, as their owner), then run the command again.\n"
    ), refused.stderr
    assert not (repo / "d" / "a" / "b" / "q.bin").exists()
    assert not (repo / ".dvx" / "tmp" / "lock.stopped").exists()
    assert dvx(command).code == 0
    assert [(repo / p).read_text() for p in ("d/top", "d/a/b/q.bin", "d/sub2/deep/z")] \
        == ["d/top", "d/a/b/q.bin", "d/sub2/deep/z"]


def test_checkout_force_of_a_file_in_a_read_only_folder_is_refused_before_anything_is_placed(
        repo, dvx):
    """`checkout -f` replacing a changed file in a folder dvx may not write in refuses before
    placing the other data, naming the folder with its chmod; data already in place there, or
    a change kept without --force, asks nothing of the folder."""
    write(repo / "a" / "x.bin", "x")
    write(repo / "ro" / "y.bin", "y")
    assert dvx("add", "a/x.bin", "ro/y.bin").code == 0
    os.unlink(repo / "a" / "x.bin")
    with read_only_folders(repo / "ro"):
        assert dvx_unprivileged(repo, "checkout", "ro/y.bin").returncode == 0
        write(repo / "ro" / "y.bin", "mine")
        refused = dvx_unprivileged(repo / "a", "checkout", "-f")
        kept = dvx_unprivileged(repo, "checkout", "ro/y.bin")
    assert refused.returncode == 1, refused.stderr
    assert refused.stderr.endswith(
        "ERROR: dvx may not write in the folder '../ro', where '../ro/y.bin' would be placed "
        "(permission denied); nothing was placed. Let dvx write in it (`chmod u+w ../ro`, as "
        "its owner), then run the command again.\n"), refused.stderr
    assert not (repo / "a" / "x.bin").exists()
    assert not (repo / ".dvx" / "tmp" / "lock.stopped").exists()
    assert "may not write" not in kept.stderr and "ro/y.bin" in kept.stderr, kept.stderr
    assert (repo / "ro" / "y.bin").read_text() == "mine"
    assert dvx("checkout", "-f").code == 0
    assert [(repo / p).read_text() for p in ("a/x.bin", "ro/y.bin")] == ["x", "y"]


def _placed_from_an_older_version(repo, dvx, tmp_path) -> None:
    """`d` tracked in two versions, both pushed: v1 with d/sub/extra, v2 (main) without it;
    the workspace holds main's pointer with v1's files, extra among them, placed by dvx."""
    for path in ("d/a", "d/sub/b", "d/sub/extra"):
        write(repo / path, path)
    assert dvx("add", "d").code == 0
    assert dvx("remote", "add", "-d", "store", str(tmp_path / "store")).code == 0
    _commit(repo, "v1")
    git(repo, "tag", "v1")
    assert dvx("push").code == 0
    os.unlink(repo / "d" / "sub" / "extra")
    assert dvx("add", "d").code == 0
    _commit(repo, "v2")
    assert dvx("push").code == 0
    git(repo, "checkout", "-q", "v1")
    assert dvx("checkout").code == 0
    git(repo, "checkout", "-q", "main")


@pytest.mark.parametrize("command", ["checkout", "pull"])
def test_files_a_checkout_deletes_in_a_read_only_folder_are_refused_before_anything_changes(
        repo, dvx, tmp_path, command):
    """A file the tracked directory's version no longer has, which dvx placed from an older
    one, in a folder dvx may not write in: checkout and pull refuse before placing or
    deleting anything, naming the folder with its chmod, and leave no stopped command behind;
    with --force a file of the user's own there, which they keep without it, is named too.
    Once the folder is writable the same command deletes the first and keeps the second,
    and then, the folder read-only again, that kept file asks nothing of it."""
    _placed_from_an_older_version(repo, dvx, tmp_path)
    write(repo / "d" / "sub" / "mine", "mine")
    os.unlink(repo / "d" / "a")
    with read_only_folders(repo / "d" / "sub"):
        refused = dvx_unprivileged(repo / "d", command)
        forced = dvx_unprivileged(repo / "d", command, "--force")
    assert refused.returncode == 1, refused.stderr
    assert refused.stderr.endswith(
        "ERROR: dvx may not write in the folder 'sub', where 'sub/extra' would be deleted "
        "(permission denied); nothing was placed or deleted. Let dvx write in it (`chmod u+w "
        "sub`, as its owner), then run the command again.\n"), refused.stderr
    assert forced.returncode == 1, forced.stderr
    assert "where 'sub/extra', 'sub/mine' would be deleted" in forced.stderr, forced.stderr
    assert sorted(os.listdir(repo / "d" / "sub")) == ["b", "extra", "mine"]
    assert not (repo / "d" / "a").exists()
    assert not (repo / ".dvx" / "tmp" / "lock.stopped").exists()
    kept = dvx(command)
    assert kept.code == 1 and "Skipped d/sub/mine" in kept.stderr, kept.output
    assert sorted(os.listdir(repo / "d" / "sub")) == ["b", "mine"]
    assert (repo / "d" / "a").read_text() == "d/a"
    os.unlink(repo / "d" / "a")
    with read_only_folders(repo / "d" / "sub"):
        again = dvx_unprivileged(repo / "d", command)
    assert "may not write" not in again.stderr and "Skipped d/sub/mine" in again.stderr, \
        again.stderr
    assert (repo / "d" / "a").read_text() == "d/a"
    assert (repo / "d" / "sub" / "mine").read_text() == "mine"


def test_read_only_folders_a_checkout_writes_nothing_in_ask_nothing_of_it(repo, dvx, tmp_path):
    """Read-only folders holding only what checkout and pull leave as they are: a file of the
    user's own where a pointer `git clone` brought goes, holding bytes the cache has as
    another file's (never recorded there, so kept), a file whose object the cache lacks
    (reported not in the cache), and the sibling of the subfolder or file a command names,
    with --force too and a file there its version lacks. None is refused, and the rest is
    placed."""
    for path in ("a/x.bin", "ro/y.bin", "d/sub/f", "d/ro/h"):
        write(repo / path, path)
    assert dvx("add", "a/x.bin", "ro/y.bin", "d").code == 0
    assert dvx("remote", "add", "-d", "store", str(tmp_path / "store")).code == 0
    _commit(repo, "data")
    assert dvx("push").code == 0
    there = tmp_path / "there"
    git(tmp_path, "clone", "-q", str(repo), str(there))
    assert dvx("fetch", "a/x.bin", "ro/y.bin", "d/sub/f", cwd=there).code == 0
    write(there / "ro" / "y.bin", "a/x.bin")
    write(there / "d" / "ro" / "mine", "mine")
    read_only = [there / "ro", there / "d" / "ro"]
    with read_only_folders(*read_only):
        whole = dvx_unprivileged(there, "checkout")
        os.unlink(there / "d" / "sub" / "f")
        part = dvx_unprivileged(there / "d", "pull", "sub/f")
        forced = dvx_unprivileged(there, "checkout", "--force", "d/sub")
    assert whole.returncode == 1 and "may not write" not in whole.stderr, whole.stderr
    assert "Skipped ro/y.bin: it has changes made here" in whole.stderr, whole.stderr
    assert "Not in the cache (run `dvx pull`): d/ro/h." in whole.stderr, whole.stderr
    assert (there / "a" / "x.bin").read_text() == "a/x.bin"
    assert (there / "ro" / "y.bin").read_text() == "a/x.bin"
    assert part.returncode == 0, part.stderr
    assert forced.returncode == 0, forced.stderr
    assert (there / "d" / "sub" / "f").read_text() == "d/sub/f"
    assert (there / "d" / "ro" / "mine").read_text() == "mine"


def test_checkout_relink_of_a_file_in_a_read_only_folder_is_refused_before_anything_is_placed(
        repo, dvx):
    """`checkout --relink` once cache.type changed places again files that hold their data
    already: one in a folder dvx may not write in refuses before any other is placed again,
    naming the folder with its chmod; once it is writable, every file is a link."""
    assert dvx("config", "cache.type", "copy").code == 0
    write(repo / "a" / "x.bin", "x")
    write(repo / "ro" / "y.bin", "y")
    assert dvx("add", "a/x.bin", "ro/y.bin").code == 0
    assert dvx("config", "cache.type", "symlink").code == 0
    with read_only_folders(repo / "ro"):
        refused = dvx_unprivileged(repo / "a", "checkout", "--relink")
    assert refused.returncode == 1, refused.stderr
    assert refused.stderr.endswith(
        "ERROR: dvx may not write in the folder '../ro', where '../ro/y.bin' would be placed "
        "(permission denied); nothing was placed. Let dvx write in it (`chmod u+w ../ro`, as "
        "its owner), then run the command again.\n"), refused.stderr
    assert not (repo / "a" / "x.bin").is_symlink()
    assert not (repo / ".dvx" / "tmp" / "lock.stopped").exists()
    assert dvx("checkout", "--relink").code == 0
    assert all((repo / path).is_symlink() for path in ("a/x.bin", "ro/y.bin"))


def test_checkout_force_over_a_folder_in_a_read_only_folder_is_refused_before_anything_changes(
        repo, dvx):
    """A folder of the user's where a tracked file goes, in a folder dvx may not write in:
    checkout keeps it and asks nothing of that folder, while `checkout -f`, which would
    delete it to place the file, refuses before deleting or placing anything, naming the
    folder with its chmod; once it is writable, the file is placed."""
    write(repo / "a" / "x.bin", "x")
    write(repo / "ro" / "y.bin", "y")
    assert dvx("add", "a/x.bin", "ro/y.bin").code == 0
    os.unlink(repo / "ro" / "y.bin")
    write(repo / "ro" / "y.bin" / "inner", "mine")
    with read_only_folders(repo / "ro"):
        kept = dvx_unprivileged(repo, "checkout")
        os.unlink(repo / "a" / "x.bin")
        refused = dvx_unprivileged(repo / "a", "checkout", "-f")
    assert "may not write" not in kept.stderr, kept.stderr
    assert "Skipped ro/y.bin: a directory is in the way" in kept.stderr, kept.stderr
    assert refused.returncode == 1, refused.stderr
    assert refused.stderr.endswith(
        "ERROR: dvx may not write in the folder '../ro', where '../ro/y.bin' would be placed "
        "(permission denied); nothing was placed. Let dvx write in it (`chmod u+w ../ro`, as "
        "its owner), then run the command again.\n"), refused.stderr
    assert (repo / "ro" / "y.bin" / "inner").read_text() == "mine"
    assert not (repo / "a" / "x.bin").exists()
    assert not (repo / ".dvx" / "tmp" / "lock.stopped").exists()
    assert dvx("checkout", "-f").code == 0
    assert [(repo / p).read_text() for p in ("a/x.bin", "ro/y.bin")] == ["x", "y"]


def test_checkout_force_of_data_git_tracks_too_asks_nothing_of_its_read_only_folder(repo, dvx):
    """Data whose path Git tracks too is left to Git by checkout, --force or not: in a folder
    dvx may not write in, `checkout -f` names it as left to Git, never the folder as one it
    would write in, and the file stays as Git has it."""
    write(repo / "ro" / "y.bin", "y")
    assert dvx("add", "ro/y.bin").code == 0
    write(repo / "ro" / "y.bin", "in git")
    git(repo, "add", "-f", "ro/y.bin")
    with read_only_folders(repo / "ro"):
        forced = dvx_unprivileged(repo, "checkout", "-f")
    assert "may not write" not in forced.stderr, forced.stderr
    assert "Skipped ro/y.bin: it is tracked by Git too" in forced.stderr, forced.stderr
    assert (repo / "ro" / "y.bin").read_text() == "in git"


def test_pull_refuses_to_delete_a_file_only_the_remote_holds_in_a_read_only_folder(
        repo, dvx, tmp_path):
    """A file dvx placed from an older version, which the tracked directory's version no
    longer has, whose bytes only the remote holds now (its object gone from the cache), in a
    folder dvx may not write in: checkout keeps it and asks nothing of the folder, while pull,
    which deletes it as the remote holds its bytes, refuses before placing or deleting
    anything, naming the folder; once it is writable, pull deletes it."""
    _placed_from_an_older_version(repo, dvx, tmp_path)
    oid = xxhash.xxh128(b"d/sub/extra").hexdigest()
    os.unlink(repo / ".dvx" / "cache" / "files" / "xxh128" / oid[:2] / oid[2:])
    os.unlink(repo / "d" / "a")
    with read_only_folders(repo / "d" / "sub"):
        refused = dvx_unprivileged(repo, "pull")
        kept = dvx_unprivileged(repo, "checkout")
    assert refused.returncode == 1, refused.stderr
    assert refused.stderr.endswith(
        "ERROR: dvx may not write in the folder 'd/sub', where 'd/sub/extra' would be deleted "
        "(permission denied); nothing was placed or deleted. Let dvx write in it (`chmod u+w "
        "d/sub`, as its owner), then run the command again.\n"), refused.stderr
    assert "may not write" not in kept.stderr and "Skipped d/sub/extra" in kept.stderr, \
        kept.stderr
    assert (repo / "d" / "sub" / "extra").read_text() == "d/sub/extra"
    assert (repo / "d" / "a").read_text() == "d/a"
    assert dvx("pull").code == 0
    assert sorted(os.listdir(repo / "d" / "sub")) == ["b"]


def test_a_link_refused_for_its_folder_is_not_blamed_on_the_cache_object(repo, dvx):
    """os.symlink and os.link name the object first and the link second in their error: a
    link refused in its folder (a race past checkout's check of read-only folders) is a
    folder that may not be written, never an object of the cache that may not be read."""
    from dvx.ops.checkout import _placement_failure
    from dvx.repo import Repo

    write(repo / "f.txt", "data\n")
    assert dvx("add", "f.txt").code == 0
    here = Repo(str(repo))
    name = yaml.safe_load((repo / "f.txt.dvx").read_text())["oid"]
    obj = here.cache.oid_path(name)
    link = str(repo / "ro" / "f.txt")
    said = _placement_failure(here, OSError(errno.EACCES, "Permission denied", obj, None,
                                            link), name, link)
    assert said == "Permission denied", said
    read = _placement_failure(here, OSError(errno.EACCES, "Permission denied", obj), name,
                              link)
    assert "may not be read" in read, read
