"""dvx/scm.py's readers of Git objects: the long-lived `git cat-file`s, one per kind, replaced
when they end, and the one-shot batch of many small blobs."""

from __future__ import annotations

import os
import signal

from dvx.scm import Git
from tests.conftest import git, make_git_repo, write


def test_a_reader_killed_while_idle_is_replaced_before_it_is_asked(tmp_path):
    """A Ctrl-C at a terminal reaches the whole process group: the `git cat-file`s die with
    it, the one that was reading and the idle one. The next read starts new ones."""
    repo = make_git_repo(tmp_path / "repo")
    write(repo / "a.txt", "a\n")
    git(repo, "add", "a.txt")
    git(repo, "commit", "-qm", "a")
    reader = Git(str(repo))
    try:
        assert reader.blob_at("HEAD", "a.txt", 100) == b"a\n"  # starts both kinds
        for batch in list(reader._batches.values()):
            os.kill(batch._proc.pid, signal.SIGINT)
            batch._proc.wait()
        assert reader.blob_at("HEAD", "a.txt", 100) == b"a\n"
        assert reader.mode_at("HEAD", "a.txt") == "100644"
    finally:
        reader.close()


def test_a_reader_that_stops_says_why_in_git_s_own_words(tmp_path):
    """A partial clone (`--filter=blob:none`) fetches old blobs from its Git remote when they
    are read: with that remote unreachable, `git cat-file` stops, and Git's reason is the
    error's, not just that it stopped."""
    import pytest

    from dvx.errors import DvxError

    origin = make_git_repo(tmp_path / "origin")
    git(origin, "config", "uploadpack.allowFilter", "true")
    for version in ("v1", "v2"):
        write(origin / "a.txt", f"{version}\n")
        git(origin, "add", "a.txt")
        git(origin, "commit", "-qm", version)
    git(tmp_path, "clone", "-q", "--filter=blob:none", f"file://{origin}", "partial")
    origin.rename(tmp_path / "offline")
    reader = Git(str(tmp_path / "partial"))
    try:
        with pytest.raises(DvxError) as stopped:
            reader.blob_at("HEAD~1", "a.txt", 100)
        assert str(stopped.value).startswith("git cat-file stopped unexpectedly: ")
        assert "from promisor remote" in str(stopped.value)
    finally:
        reader.close()


def test_head_is_none_only_before_the_first_commit_and_else_git_s_error(tmp_path, monkeypatch):
    """A repository Git refuses (owned by another user: safe.directory) has no HEAD to read,
    which is Git's error with its advice, not "no commit yet"."""
    import pytest

    from dvx.errors import DvxError

    root = make_git_repo(tmp_path / "repo")
    assert Git(str(root)).head() is None
    write(root / "a.txt", "a\n")
    git(root, "add", "a.txt")
    git(root, "commit", "-qm", "a")
    assert Git(str(root)).head() == git(root, "rev-parse", "HEAD").strip()
    monkeypatch.setenv("GIT_TEST_ASSUME_DIFFERENT_OWNER", "1")  # as Git's own tests do
    with pytest.raises(DvxError) as refused:
        Git(str(root)).head()
    assert refused.value.message.startswith("git rev-parse failed: fatal: detected dubious "
                                            "ownership in repository at ")
    assert refused.value.hint == ("To add an exception for this directory, call: git config "
                                  f"--global --add safe.directory {root}")


def test_tracked_under_finds_the_same_files_asked_about_few_paths_or_many(tmp_path):
    """Asked about a few paths, Git matches them; about many, its index is listed whole and
    matched here: either way, names of glob or magic characters are names, a folder holds
    what is below it only, a file a sparse checkout leaves out is still tracked, and a
    submodule is its own entry with nothing of Git's below it."""
    sub = make_git_repo(tmp_path / "sub")
    write(sub / "inner.txt", "inner\n")
    git(sub, "add", "-A")
    git(sub, "commit", "-qm", "sub")
    repo = make_git_repo(tmp_path / "repo")
    tracked = ["*.csv", ":magic", "[ab].txt", "-dash", "d/x y", "d/é.txt", "dd/z", "d-x/w",
               "out/a", "out/b/c"]
    for name in [*tracked, "a.txt", "other/kept"]:
        write(repo / name, "x\n")
    git(repo, "add", "-A")
    git(repo, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(sub), "libs/sub")
    git(repo, "commit", "-qm", "files")
    git(repo, "sparse-checkout", "set", "--no-cone", "/*", "!/out/")
    assert not (repo / "out").exists()
    asked = ["*.csv", ":magic", "[ab].txt", "-dash", "d", "dd/z", "out", "libs/sub",
             "libs/sub/inner.txt", "x.csv", "nothing"]
    expected = sorted([*(p for p in tracked if p != "d-x/w"), "libs/sub"])
    few = Git(str(repo)).tracked_under(asked)
    many = Git(str(repo)).tracked_under([*asked, *(f"absent/{i}" for i in range(200))])
    assert sorted(few) == sorted(many) == expected


def test_tracked_under_asks_about_more_paths_than_one_command_line_holds(tmp_path):
    """`status` asks about every tracked output at once: past what one command line holds,
    Git is asked in batches, and every tracked path is still found."""
    repo = make_git_repo(tmp_path / "repo")
    names = [f"{'x' * 240}{i:05d}" for i in range(10000)]  # 2.5 MB: more than ARG_MAX
    for name in names[::1000]:
        write(repo / name, "x\n")
    git(repo, "add", "-A")
    assert sorted(Git(str(repo)).tracked_under(names)) == names[::1000]


def test_a_conflicted_side_s_blob_larger_than_a_pointer_is_never_read_whole(tmp_path):
    """status reads both index sides of a conflicted pointer: one larger than any pointer is
    refused by its size, before its bytes are read."""
    from dvx.pointer import MAX_POINTER_BYTES
    from dvx.scm import blob_content

    repo = make_git_repo(tmp_path / "repo")
    write(repo / "small.dvx", "small\n")
    write(repo / "big.dvx", "x" * (MAX_POINTER_BYTES + 1))
    small, big = (git(repo, "hash-object", "-w", name).strip()
                  for name in ("small.dvx", "big.dvx"))
    assert blob_content(str(repo), small, MAX_POINTER_BYTES) == b"small\n"
    assert blob_content(str(repo), big, MAX_POINTER_BYTES) is None


def test_small_blobs_reads_many_at_once_leaving_out_large_missing_and_non_blobs(tmp_path):
    """The batch read the hook uses for every pointer file of the index gives what
    small_blob gives for each: a blob up to the limit, never a larger one, a tree or a
    sha Git lacks; empty and binary contents come whole, and a sha asked twice once."""
    repo = make_git_repo(tmp_path / "repo")
    contents = {"a.txt": b"a\n", "empty": b"", "bin": b"\0\n\nx\n", "big": b"b" * 50}
    for name, data in contents.items():
        (repo / name).write_bytes(data)
    os.mkdir(repo / "sub")
    write(repo / "sub/c", "c\n")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "v1")
    reader = Git(str(repo))
    try:
        shas = {path: sha for path, sha in reader.staged_blobs(("",))}
        tree = git(repo, "rev-parse", "HEAD:sub").strip()
        asked = [*shas.values(), shas["a.txt"], tree, "0" * 40]
        read = reader.small_blobs(asked, max_bytes=10)
        expected = {shas[name]: data for name, data in contents.items() if len(data) <= 10}
        expected[shas["sub/c"]] = b"c\n"
        assert read == expected
        assert all(reader.small_blob(sha, 10) == data for sha, data in read.items())
        assert reader.small_blob(shas["big"], 10) is None and reader.small_blobs([], 10) == {}
    finally:
        reader.close()
