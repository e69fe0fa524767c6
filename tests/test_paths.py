import contextlib
import os
from types import SimpleNamespace

import pytest

from dvx.errors import FormatError, PathError
from dvx.paths import (
    alike_paths,
    check_relpath,
    folders_above,
    for_command,
    repo_relpath,
    safe_dir_join,
    safe_join,
    walk_directory,
)


@pytest.mark.parametrize("good", ["a", "a/b.txt", "ñandú/ü.png", "with space/x", ".hidden/x"])
def test_check_relpath_accepts_ordinary_paths(good):
    assert check_relpath(good) == good


@pytest.mark.parametrize(("rel", "folders"), [
    ("a", []), ("a/b", ["a"]), ("a/b/c.txt", ["a/b", "a"]), ("a b/c d/e", ["a b/c d", "a b"]),
])
def test_folders_above_names_each_folder_holding_a_path_nearest_first(rel, folders):
    """status, commit, pointer look-ups and dvx.yaml's checks all walk up a path this way."""
    assert list(folders_above(rel)) == folders


@pytest.mark.parametrize("bad", [
    "", ".", "..", "../x", "a/../b", "a//b", "/abs", "a/", "./a", "a\\b", "C:x",
    ".git", "a/.git/config", ".GIT/x", ".dvx/cache", "a/.Dvx", "nul\x00byte", None, 5,
])
def test_check_relpath_rejects_unsafe_paths(bad):
    with pytest.raises(FormatError):
        check_relpath(bad)


def test_safe_join_refuses_symlinked_parent(tmp_path):
    (tmp_path / "real").mkdir()
    os.symlink(tmp_path / "real", tmp_path / "link")
    with pytest.raises(PathError, match="symbolic link"):
        safe_join(str(tmp_path), "link/file")
    with pytest.raises(PathError):
        safe_dir_join(str(tmp_path), "link")
    assert safe_join(str(tmp_path), "real/file") == str(tmp_path / "real" / "file")


def test_repo_relpath_refuses_outside_and_reserved(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert repo_relpath(str(tmp_path), "sub/x") == "sub/x"
    for bad in ("..", "/etc/passwd", ".git/config", ".dvx/config", "."):
        with pytest.raises(PathError):
            repo_relpath(str(tmp_path), bad)


def test_walk_never_follows_symlinks(tmp_path):
    (tmp_path / "d" / "sub").mkdir(parents=True)
    (tmp_path / "d" / "sub" / "f").write_text("x")
    os.symlink("/etc", tmp_path / "d" / "etc")
    os.symlink("/etc/hostname", tmp_path / "d" / "host")
    walk = walk_directory(str(tmp_path / "d"))
    assert [e.relpath for e in walk.files] == ["sub/f"]
    assert sorted(walk.symlinks) == ["etc", "host"]


def test_a_walk_with_directories_gives_the_same_fingerprint(tmp_path):
    """add fingerprints a directory from its one walk; status from a walk of its own: both
    must agree, whatever the directory holds."""
    from dvx.paths import fingerprint_directory, fingerprint_of_walk, walk_directory

    top = tmp_path / "d"
    for rel in ("a", "sub/b", "sub/deeper/c", "sub/.c.dvx-0123456789ab.tmp"):
        (top / rel).parent.mkdir(parents=True, exist_ok=True)
        (top / rel).write_text(rel)
    (top / "empty").mkdir()
    os.symlink("a", top / "link")
    os.mkfifo(top / "fifo")
    top_stat = os.lstat(top)
    walk = walk_directory(str(top), with_dirs=True)
    walked, listed = fingerprint_of_walk(top_stat, walk), fingerprint_directory(str(top))
    assert walked == listed and walked.parts == listed.parts
    assert sum(f.entries for f in walk.folders.values()) == 10  # and what the link points at


def test_a_fingerprint_names_its_filesystem_unless_it_spans_several(tmp_path):
    """The racy-clean rule asks whose clock a directory's times come from: none single when
    a link below leads to another filesystem (as a disk mounted below would be)."""
    from dvx.paths import fingerprint_directory, fingerprint_of_walk, walk_directory

    elsewhere = "/dev/shm"
    if not os.path.isdir(elsewhere) or os.stat(elsewhere).st_dev == os.stat(tmp_path).st_dev:
        pytest.skip("needs a folder on another filesystem")
    top = tmp_path / "d"
    (top / "sub").mkdir(parents=True)
    (top / "sub" / "f").write_text("f")
    assert fingerprint_directory(str(top)).device == os.stat(tmp_path).st_dev
    os.symlink(elsewhere, top / "sub" / "link")
    assert fingerprint_directory(str(top)).device is None
    walk = walk_directory(str(top), with_dirs=True)
    assert fingerprint_of_walk(os.lstat(top), walk).device is None


class _TimelessEntry:
    """A directory entry whose stat has the times of none of its changes, as exFAT through
    FUSE gives after a rename: neither the file's ctime nor its folders' mtimes move."""

    def __init__(self, entry):
        self.name, self.path, self._entry = entry.name, entry.path, entry

    def is_dir(self, follow_symlinks=True):
        return self._entry.is_dir(follow_symlinks=follow_symlinks)

    def is_symlink(self):
        return self._entry.is_symlink()

    def stat(self, follow_symlinks=True):
        return _timeless(self._entry.stat(follow_symlinks=follow_symlinks))


def _timeless(st):
    return SimpleNamespace(st_ino=st.st_ino, st_size=st.st_size, st_dev=st.st_dev,
                           st_mode=st.st_mode, st_mtime_ns=0, st_ctime_ns=0)


def test_a_move_or_rename_that_moves_no_time_still_moves_the_fingerprint(tmp_path, monkeypatch):
    from dvx.paths import fingerprint_directory

    top = tmp_path / "d"
    for name in ("cat/1.png", "dog/2.png", "a", "b"):
        (top / name).parent.mkdir(parents=True, exist_ok=True)
        (top / name).write_text(name[-1])  # all the same size
    scandir, lstat = os.scandir, os.lstat
    monkeypatch.setattr(os, "scandir", lambda path: contextlib.nullcontext(
        [_TimelessEntry(e) for e in scandir(path)]))
    monkeypatch.setattr(os, "lstat", lambda path: _timeless(lstat(path)))
    before = fingerprint_directory(str(top))
    os.rename(top / "cat" / "1.png", top / "dog" / "1.png")  # relabelled
    moved = fingerprint_directory(str(top))
    assert moved.digest != before.digest
    assert sorted(f for f in before.parts if before.parts[f] != moved.parts[f]) == ["cat", "dog"]
    for was, now in (("a", "t"), ("b", "a"), ("t", "b")):  # a and b swap names
        os.rename(top / was, top / now)
    swapped = fingerprint_directory(str(top))
    assert swapped.digest != moved.digest
    assert [f for f in moved.parts if moved.parts[f] != swapped.parts[f]] == [""]


def test_a_sorted_walk_lists_paths_in_manifest_order(tmp_path):
    from dvx.paths import walk_sorted

    top = tmp_path / "d"
    names = ["a", "a-b", "a.c/x", "ab/y", "a0", "b/a/z", "b/a-z", "b/a.z", "é/1", "z", "Z",
             "deep/" + "/".join("n" for _ in range(300)) + "/leaf"]
    for name in names:
        if name == "a":
            continue  # 'a' stays a directory: a/x and a/y below it
        (top / name).parent.mkdir(parents=True, exist_ok=True)
        (top / name).write_text(name)
    for name in ("a/x", "a/y"):
        (top / name).parent.mkdir(parents=True, exist_ok=True)
        (top / name).write_text(name)
    (top / "empty").mkdir()
    walked = [rel for rel, _ in walk_sorted(str(top))]
    assert walked == sorted(e.relpath for e in walk_directory(str(top)).files)
    assert all(path == f"{top}/{rel}" for rel, path in walk_sorted(str(top)))


def test_a_change_moves_the_fingerprint_of_its_own_folder_only(tmp_path):
    import time

    from dvx.paths import fingerprint_directory, fingerprint_of_walk

    top = tmp_path / "d"
    for name in ("a/x", "a/b/y", "c/z", "t"):
        (top / name).parent.mkdir(parents=True, exist_ok=True)
        (top / name).write_text(name)
    before = fingerprint_directory(str(top))
    assert sorted(before.parts) == ["", "a", "a/b", "c"]
    assert before.digest == fingerprint_of_walk(
        os.lstat(top), walk_directory(str(top), with_dirs=True)).digest  # what add records
    time.sleep(0.01)
    (top / "a" / "b" / "y").write_text("changed")
    after = fingerprint_directory(str(top))
    assert after.digest != before.digest
    assert [f for f in before.parts if before.parts[f] != after.parts[f]] == ["a/b"]


def test_a_path_for_a_suggested_command_is_relative_to_where_it_runs(tmp_path, monkeypatch):
    root = tmp_path / "repo"
    (root / "s").mkdir(parents=True)
    monkeypatch.chdir(root / "s")
    assert for_command(str(root), "model") == "../model"
    assert for_command(str(root), "s/my data") == "'my data'"
    assert for_command(str(root), "s/-x") == "./-x"
    monkeypatch.chdir(tmp_path)  # outside the repository: as the repository names it
    assert for_command(str(root), "s/model") == "s/model"


def test_walks_skip_what_is_deleted_once_listed(tmp_path, monkeypatch):
    """A file (or folder) deleted between its directory's listing and its lstat is not
    there: every walk leaves it out, instead of failing as a whole."""
    from dvx.paths import fingerprint_directory, walk_sorted

    for rel in ("keep", "gone", "sub/gone", "sub/keep"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(rel)
    (tmp_path / "emptied" / "deep").mkdir(parents=True)
    real_scandir = os.scandir

    def listed_then_deleted(directory):
        entries = list(real_scandir(directory))
        for entry in entries:
            if entry.name == "gone":
                os.unlink(entry.path)
            elif entry.name == "deep":
                os.rmdir(entry.path)
        return contextlib.nullcontext(iter(entries))

    def recreate():
        for rel in ("gone", "sub/gone"):
            (tmp_path / rel).write_text(rel)
        (tmp_path / "emptied" / "deep").mkdir(exist_ok=True)

    monkeypatch.setattr(os, "scandir", listed_then_deleted)
    walk = walk_directory(str(tmp_path), with_dirs=True)
    assert sorted(e.relpath for e in walk.files) == ["keep", "sub/keep"]
    recreate()
    # Names only (the caller takes their lstat): a folder deleted once listed has none.
    assert [rel for rel, _ in walk_sorted(str(tmp_path))] == ["gone", "keep", "sub/gone",
                                                            "sub/keep"]
    recreate()
    assert fingerprint_directory(str(tmp_path)).parts.keys() == {"", "sub", "emptied"}


def test_names_a_case_folding_filesystem_takes_for_one_are_grouped_by_folder():
    paths = sorted(["cs/A.txt", "cs/a.txt", "cs/b.txt", "Data/x", "data/y", "other/A.txt",
                    "e\u0301.png", "\u00e9.png", "Stra\u00dfe/1", "strasse/2"])
    assert alike_paths(paths) == [["Data", "data"], ["Stra\u00dfe", "strasse"],
                                  ["cs/A.txt", "cs/a.txt"], ["e\u0301.png", "\u00e9.png"]]
    assert alike_paths(["cs/A.txt", "cs/b.txt", "other/a.txt"]) == []  # other folders
    assert alike_paths(["a", "b/c"]) == []


def test_a_link_to_a_file_where_a_folder_goes_is_no_symlinked_parent(tmp_path):
    """Nothing can be read or written through a link to a file as a folder: it is a file in
    the way. A link to a directory, or a dangling one (its target may become one), is
    refused."""
    (tmp_path / "file").write_text("x")
    os.symlink(tmp_path / "file", tmp_path / "to_file")
    assert safe_join(str(tmp_path), "to_file/a.txt") == str(tmp_path / "to_file" / "a.txt")
    os.symlink(tmp_path / "nowhere", tmp_path / "dangling")
    with pytest.raises(PathError, match="symbolic link"):
        safe_join(str(tmp_path), "dangling/a.txt")
    (tmp_path / "real").mkdir()
    os.symlink("real", tmp_path / "to_dir")
    with pytest.raises(PathError, match="symbolic link"):
        safe_join(str(tmp_path), "to_dir/a.txt")


_LIST_WALKED = """
import sys
from dvx.paths import walk_readable
for folder in walk_readable(sys.argv[1]):
    folder.folders[:] = [e for e in folder.folders if e.name != "pruned"]
    print(folder.rel + "|" + ",".join(sorted(e.name for e in folder.others)))
"""


def test_a_search_walk_passes_over_a_folder_it_may_not_read_at_any_depth(tmp_path):
    """walk_readable (the searches for pointers, for dvx's own .gitignore files, for data no
    clone has): every folder a workspace walk enters, 1000 levels deep too (it never
    recurses), never `.git` or `.dvx` in any letter case nor a get's scratch folder, nor a
    folder the caller drops; one dvx may not list is passed over, the others still walked."""
    import subprocess
    import sys

    import dvx
    from dvx.fsutil import rmtree
    from dvx.get_scratch import PREFIX
    from tests.conftest import unprivileged

    top = tmp_path / "top"
    for rel in ("a/f", "a/locked/secret", ".git/HEAD", ".DVX/config", "pruned/x",
                f"{PREFIX}abcdefgh/held", "b/.gitignore"):
        (top / rel).parent.mkdir(parents=True, exist_ok=True)
        (top / rel).write_text(rel)
    (top / "locked").mkdir()
    deep = str(top / "deep")
    os.mkdir(deep)
    for _ in range(1000):  # one level at a time: os.makedirs recurses
        deep = os.path.join(deep, "d")
        os.mkdir(deep)
    with open(os.path.join(deep, "leaf"), "w") as f:
        f.write("leaf")
    (top / "a" / "locked").chmod(0)
    (top / "locked").chmod(0)
    try:
        walked = subprocess.run(
            [*unprivileged(), sys.executable, "-c", _LIST_WALKED, str(top)],
            capture_output=True, text=True, timeout=120, check=True,
            env={**os.environ, "PYTHONPATH": os.path.dirname(os.path.dirname(dvx.__file__))})
    finally:
        (top / "a" / "locked").chmod(0o755)
        (top / "locked").chmod(0o755)
        rmtree(str(top / "deep"))
    lines = walked.stdout.splitlines()
    deepest = "deep/" + "d/" * 1000
    assert len(lines) == 1004, walked.stdout[-300:]
    assert {line for line in lines if not line.startswith("deep/d/")} == {
        "|", "a/|f", "b/|.gitignore", "deep/|"}
    assert f"{deepest}|leaf" in lines and "Traceback" not in walked.stderr
