"""Reading tracked data without checking it out: dvx.api.open/read/get_url and the dvx://
filesystem, on a local repository and on a Git URL (cloned into the user's cache), at any
revision, from the cache or streamed from the remote and checked by hash."""

import errno
import gc
import io
import json
import os
import re
import shutil
import signal
import threading
import zipfile
from pathlib import Path

import fsspec
import pytest
import xxhash

import dvx.api
from dvx.errors import CorruptObjectError, DvxError, PathError
from dvx.fs import UnreadableError
from tests.conftest import git, make_git_repo, run_dvx, write
from tests.remotes import local_spec
from tests.team import Team, commit, edit, must, share

CSV_V1 = "a,b\n1,2\n"
CSV_V2 = "a,b\n1,2\n3,4\n"


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A founder's clone with two tagged versions pushed to the shared remote."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user-cache"))
    team = Team(tmp_path)
    alice = team.founder()
    write(alice / "data" / "train.csv", CSV_V1)
    for i in range(3):
        write(alice / "data" / "images" / f"{i}.png", f"image {i}\n")
    write(alice / "params.yaml", "lr: 0.1\n")
    must("add", "data/train.csv", "data/images", cwd=alice)
    share(alice, "v1")
    git(alice, "tag", "v1")
    edit(alice, "data/train.csv", CSV_V2)
    must("add", "data/train.csv", cwd=alice)
    share(alice, "v2")
    git(alice, "push", "-q", "origin", "v1")
    return team, alice


def test_read_any_revision_of_a_local_repository(project, tmp_path, monkeypatch):
    _, alice = project
    monkeypatch.chdir(tmp_path)  # not inside any repository
    assert dvx.api.read("data/train.csv", repo=str(alice), rev="v1") == CSV_V1
    assert dvx.api.read("data/train.csv", repo=str(alice)) == CSV_V2  # the workspace
    assert dvx.api.read("params.yaml", repo=str(alice), rev="v1") == "lr: 0.1\n"  # from Git
    assert dvx.api.read("data/images/2.png", repo=str(alice), mode="rb") == b"image 2\n"
    with dvx.api.open("data/train.csv", repo=str(alice), rev="v1", mode="r") as f:
        assert f.readline() == "a,b\n"
    with pytest.raises(PathError, match="is a directory"):
        dvx.api.read("data/images", repo=str(alice))
    with pytest.raises(PathError):
        dvx.api.read("data/nothing.csv", repo=str(alice))


def test_an_experiment_is_read_by_its_name_as_a_revision(project, tmp_path, monkeypatch):
    _, alice = project
    edit(alice, "data/train.csv", "a,b\n7,7\n")
    must("add", "data/train.csv", cwd=alice)
    must("exp", "save", "-n", "fast", cwd=alice)
    monkeypatch.chdir(tmp_path)
    assert dvx.api.read("data/train.csv", repo=str(alice), rev="fast") == "a,b\n7,7\n"
    assert fsspec.filesystem("dvx", repo=str(alice), rev="fast").cat("data/train.csv") == \
        b"a,b\n7,7\n"
    must("get", str(alice), "data/train.csv", "--rev", "fast", "-o", "got.csv", cwd=tmp_path)
    assert (tmp_path / "got.csv").read_text() == "a,b\n7,7\n"
    with pytest.raises(DvxError, match="Unknown revision 'slow'") as unknown:
        dvx.api.read("data/train.csv", repo=str(alice), rev="slow")
    assert "experiment" in (unknown.value.hint or "")


def test_an_experiment_of_a_cloned_source_is_refused_naming_exp_pull_into_a_clone_of_one_s_own(
        project, tmp_path):
    """dvx's clone of a Git URL (a bare repository too) has no experiments: one pushed there
    is an unknown revision, whose hint says so and names the `dvx exp pull` that brings it
    into a clone of the user's own, never an `exp show -A` there that could not help. dvx
    cannot tell an experiment from a mistyped branch there, so the hint says "if"."""
    team, alice = project
    edit(alice, "data/train.csv", "a,b\n7,7\n")
    must("add", "data/train.csv", cwd=alice)
    must("exp", "save", "-n", "fast", cwd=alice)
    must("exp", "push", "origin", "fast", cwd=alice)
    refused = run_dvx("get", str(team.origin), "data/train.csv", "--rev", "fast", "-o", "got",
                      cwd=tmp_path)
    said = " ".join(refused.stderr.split())
    assert refused.code == 2 and "Unknown revision 'fast'" in said, refused.output
    assert "If 'fast' is an experiment, note that experiments are never read from a " \
        "repository dvx clones" in said, said
    assert "`dvx exp pull origin fast`" in said and "exp show -A" not in said, said
    assert not (tmp_path / "got").exists()
    typo = run_dvx("get", str(team.origin), "data/train.csv", "--rev", "mian", "-o", "got",
                   cwd=tmp_path)
    said = " ".join(typo.stderr.split())
    assert typo.code == 2 and "Name a branch, tag or commit of that repository." in said, said
    assert "If 'mian' is an experiment" in said, said


def test_a_git_url_is_cloned_once_and_data_streams_from_the_remote(project, tmp_path,
                                                                    monkeypatch):
    team, alice = project
    monkeypatch.chdir(tmp_path)
    url = str(team.origin)  # a bare Git repository: read as a URL, cloned into the cache
    assert dvx.api.read("data/train.csv", repo=url, rev="v1") == CSV_V1
    assert dvx.api.read("data/train.csv", repo=url) == CSV_V2
    clones = list((tmp_path / "user-cache" / "dvx" / "repos").iterdir())
    assert len([c for c in clones if c.is_dir()]) == 1
    # A new commit on the origin is seen on the next read (git fetch, not a new clone).
    edit(alice, "data/train.csv", "a,b\n")
    must("add", "data/train.csv", cwd=alice)
    share(alice, "v3")
    assert dvx.api.read("data/train.csv", repo=url) == "a,b\n"
    # A small object is inside a pack: no URL of its own, and the error says what to do.
    with pytest.raises(DvxError, match="inside a pack") as refused:
        dvx.api.get_url("data/train.csv", repo=url)
    assert "pack_threshold 0" in refused.value.hint


def test_a_reader_hashing_with_another_algorithm_reads_through_the_user_cache(
        project, tmp_path, monkeypatch):
    team, alice = project
    reader = tmp_path / "reader"
    reader.mkdir()
    git(reader, "init", "-q")
    must("init", cwd=reader)
    must("config", "core.hash", "sha256", cwd=reader)
    monkeypatch.chdir(reader)  # the API's reader: a sha256 repository
    assert dvx.api.read("data/train.csv", repo=str(alice), rev="v1") == CSV_V1
    assert dvx.api.read("data/train.csv", repo=str(team.origin)) == CSV_V2  # from the remote
    fs = fsspec.filesystem("dvx", repo=str(team.origin), rev="v1")
    assert fs.cat("data/images/1.png") == b"image 1\n"
    assert not (reader / ".dvx" / "cache" / "files").exists()  # nothing of xxh128 went there


def test_tail_relative_and_absolute_paths_and_a_remote_the_source_lacks(project, tmp_path,
                                                                        monkeypatch):
    team, alice = project
    monkeypatch.chdir(tmp_path)
    streamed = fsspec.filesystem("dvx", repo=str(team.origin))  # nothing cached: a stream
    assert streamed.tail("data/train.csv", 4) == b"3,4\n"
    assert fsspec.filesystem("dvx", repo=str(alice)).tail("data/train.csv", 4) == b"3,4\n"
    with pytest.raises(DvxError, match="no remote named 'nosuch'") as unknown:
        dvx.api.read("data/train.csv", repo=str(team.origin), remote="nosuch")
    assert "'nosuch'" in unknown.value.hint and "'shared'" in unknown.value.hint
    monkeypatch.chdir(alice / "data")
    assert dvx.api.read("./data/train.csv") == CSV_V2  # from the top, as any path
    with pytest.raises(PathError, match="is an absolute path") as refused:
        dvx.api.read(str(alice / "data" / "train.csv"))
    assert refused.value.hint == "Pass 'data/train.csv' instead."


def test_a_remote_is_one_of_the_source_s_at_the_revision_read_never_one_of_the_reader_s(
        project, tmp_path, monkeypatch):
    """The source's remotes are those its .dvx/config names at the revision read: a branch's
    new default remote is read there, and the reader's own global remotes are none of them,
    even under a name the source uses; `remote=` refuses them, naming the source's."""
    team, alice = project
    git(alice, "checkout", "-q", "-b", "moved")
    must("remote", "add", "-d", "newstore", str(tmp_path / "newstore"), cwd=alice)
    edit(alice, "data/train.csv", "a,b\n5,6\n")
    must("add", "data/train.csv", cwd=alice)
    share(alice, "a new default remote")  # its data goes there only
    git(alice, "checkout", "-q", "main")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    must("remote", "add", "--global", "mybackup", str(tmp_path / "mine"), cwd=outside)
    must("remote", "add", "--global", "shared", str(tmp_path / "mine"), cwd=outside)
    monkeypatch.chdir(outside)
    assert dvx.api.read("data/train.csv", repo=str(team.origin), rev="moved") == "a,b\n5,6\n"
    assert dvx.api.read("data/train.csv", repo=str(team.origin), rev="v1") == CSV_V1
    with pytest.raises(DvxError, match="no remote named 'mybackup'") as refused:
        dvx.api.read("data/train.csv", repo=str(team.origin), remote="mybackup")
    assert "its remotes are 'shared'." in refused.value.hint


def test_a_repository_whose_default_remote_is_the_user_s_global_one_is_read_as_pull_reads_it(
        tmp_path, monkeypatch):
    """A repository on this machine is read with the levels `dvx pull` there uses: a default
    remote set in the user's global config is its default, for dvx.api in its own workspace
    and at a revision as for `dvx get` of its path; a clone of its URL has only its committed
    config, which names none."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user-cache"))
    mine = make_git_repo(tmp_path / "mine")
    must("init", cwd=mine)
    must("remote", "add", "--global", "-d", "mystore", str(tmp_path / "store"), cwd=mine)
    write(mine / "a.txt", "hello\n")
    must("add", "a.txt", cwd=mine)
    commit(mine, "data")
    must("push", cwd=mine)
    shutil.rmtree(mine / ".dvx" / "cache")  # as in a fresh clone: read from the remote
    monkeypatch.chdir(mine)
    assert dvx.api.read("a.txt") == "hello\n"
    assert dvx.api.read("a.txt", rev="HEAD") == "hello\n"
    monkeypatch.chdir(tmp_path)
    assert dvx.api.read("a.txt", repo="mine") == "hello\n"
    got = run_dvx("get", "mine", "a.txt", "-o", "got.txt", cwd=tmp_path)
    assert got.code == 0, got.output
    assert (tmp_path / "got.txt").read_text() == "hello\n"
    git(tmp_path, "clone", "-q", "--bare", str(mine), "mine.git")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "another-cache"))  # none read yet
    with pytest.raises(DvxError, match="no default remote is set"):
        dvx.api.read("a.txt", repo=str(tmp_path / "mine.git"))


def test_a_file_missing_on_the_remote_is_named_with_the_remote(project, tmp_path,
                                                               monkeypatch):
    team, alice = project
    must("remote", "modify", "shared", "pack_threshold", "0", cwd=alice)  # stored whole
    write(alice / "model.bin", "weights\n")
    must("add", "model.bin", cwd=alice)
    share(alice, "model")
    oid = xxhash.xxh3_128_hexdigest(b"weights\n")
    local_spec(team.store, "", {}).delete_raw(oid)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DvxError) as missing:
        dvx.api.read("model.bin", repo=str(team.origin), mode="rb")
    assert missing.value.message.startswith(
        f"'model.bin' (object {oid}) is not on the remote 'shared' of ")


def test_a_corrupt_remote_object_is_refused_when_read_to_the_end(project, tmp_path,
                                                                 monkeypatch):
    team, _ = project
    bob = team.clone("bob", pull=False)
    monkeypatch.chdir(bob)
    oid = xxhash.xxh3_128_hexdigest(CSV_V2.encode())
    stored = local_spec(team.store, str(team.store), {})
    assert len(stored.read_raw(oid)) == len(b"a,b\n9,9\n3,4\n")
    stored.write_raw(oid, b"a,b\n9,9\n3,4\n")  # other bytes of the same length, in its pack
    with pytest.raises(DvxError, match="corrupt"):
        dvx.api.read("data/train.csv")
    # Read exactly its size, in one call, as pickle or numpy do: refused by that very read.
    with dvx.api.open("data/train.csv") as f, pytest.raises(DvxError, match="corrupt"):
        f.read(len(CSV_V2))
    with dvx.api.open("data/train.csv") as f, pytest.raises(DvxError, match="corrupt"):
        f.readinto(bytearray(len(CSV_V2)))
    with dvx.api.open("data/train.csv") as f:  # streamed from the remote: no seeking
        assert not f.seekable()
        with pytest.raises(io.UnsupportedOperation, match="read it whole") as refused:
            f.seek(4)
        assert "keeps its first copy" in str(refused.value)  # simplecache:: goes stale


def test_a_copy_cut_short_is_refused_by_the_read_of_its_size(project, tmp_path, monkeypatch):
    team, alice = project
    must("remote", "modify", "shared", "pack_threshold", "0", cwd=alice)  # stored whole
    data = bytes(range(256)) * 64
    write(alice / "model.bin", data)
    must("add", "model.bin", cwd=alice)
    share(alice, "model")
    oid = xxhash.xxh3_128_hexdigest(data)
    bob = team.clone("bob", pull=False)
    stored = local_spec(team.store, str(team.store), {})
    stored.write_raw(oid, data[:1000])  # the remote's copy, cut short
    _damage(alice / ".dvx/cache/files/xxh128" / oid[:2] / oid[2:], data[:1000])  # a cached one
    for reader in (bob, alice):  # streamed from the remote, and read from the cache
        monkeypatch.chdir(reader)
        with dvx.api.open("model.bin") as f, pytest.raises(DvxError, match="corrupt"):
            f.read(len(data))
        with dvx.api.open("model.bin") as f, pytest.raises(DvxError, match="corrupt"):
            f.readinto(bytearray(len(data)))
        with fsspec.open("dvx://model.bin", repo=".") as f, pytest.raises(OSError,
                                                                          match="corrupt"):
            f.read(len(data))


def test_a_read_of_no_bytes_is_no_end_of_the_file(project, tmp_path, monkeypatch):
    team, alice = project
    bob = team.clone("bob", pull=False)
    for reader in (alice, bob):  # read from the cache, and streamed from the remote
        monkeypatch.chdir(reader)
        for opened in (dvx.api.open("data/train.csv"),
                       fsspec.open("dvx://data/train.csv", repo=".").open()):
            with opened as f:
                assert f.read(0) == b"" and f.readinto(bytearray()) == 0
                assert f.read() == CSV_V2.encode()


def test_lines_are_read_from_the_object_in_blocks_not_a_byte_at_a_time(project, monkeypatch):
    """Iterating a binary file's lines reads the object a block at a time (io's default
    readline reads one byte a call: a large file took minutes); still checked at its end."""
    from dvx.ops import source

    _, alice = project
    rows = b"".join(b'{"id": %d}\n' % i for i in range(5000))  # 60 KB
    write(alice / "rows.jsonl", rows)
    must("add", "rows.jsonl", cwd=alice)
    monkeypatch.chdir(alice)
    reads: list[int] = []

    class Counted(io.BufferedReader):
        def read(self, size: int | None = -1) -> bytes:
            reads.append(1)
            return super().read(size)

    opened = source._open_cached
    monkeypatch.setattr(source, "_open_cached",
                        lambda oid, path: Counted(opened(oid, path).detach()))
    def api_lines() -> list[bytes]:
        with dvx.api.open("rows.jsonl") as f:
            return list(f)

    def fsspec_lines() -> list[bytes]:
        with fsspec.open("dvx://rows.jsonl", repo=".") as f:
            return f.readlines()

    for lines in (api_lines, fsspec_lines):
        reads.clear()
        assert lines() == rows.splitlines(keepends=True)
        assert len(reads) <= 3, len(reads)
    oid = xxhash.xxh3_128_hexdigest(rows)
    _damage(alice / ".dvx/cache/files/xxh128" / oid[:2] / oid[2:], rows.replace(b"7", b"8"))
    with pytest.raises(DvxError, match="corrupt"):
        api_lines()
    with pytest.raises(OSError, match="corrupt"):
        fsspec_lines()
    with dvx.api.open("rows.jsonl") as f:  # once refused, refused for good: not an end
        with pytest.raises(DvxError, match="corrupt"):
            f.read()
        with pytest.raises(DvxError, match="corrupt"):
            f.read()


def test_a_cached_file_can_seek_once_the_whole_of_it_is_checked(project, tmp_path,
                                                                monkeypatch):
    _, alice = project
    with zipfile.ZipFile(alice / "archive.zip", "w") as archive:
        archive.writestr("inside.txt", "hello")
    must("add", "archive.zip", cwd=alice)
    monkeypatch.chdir(alice)
    with dvx.api.open("archive.zip") as f:
        assert f.seekable() and zipfile.ZipFile(f).read("inside.txt") == b"hello"
    with fsspec.open("zip://inside.txt::dvx://archive.zip", dvx={"repo": "."}) as f:
        assert f.read() == b"hello"
    assert fsspec.filesystem("dvx", repo=".").tail("archive.zip", 4) == \
        (alice / "archive.zip").read_bytes()[-4:]
    # A cached copy damaged (same size): refused before any seek, and by a read of its size.
    oid = xxhash.xxh3_128_hexdigest((alice / "archive.zip").read_bytes())
    cached = alice / ".dvx/cache/files/xxh128" / oid[:2] / oid[2:]
    damaged = bytearray(cached.read_bytes())
    damaged[10] ^= 0xFF
    cached.chmod(0o644)
    cached.write_bytes(bytes(damaged))
    with dvx.api.open("archive.zip") as f, pytest.raises(DvxError, match="corrupt"):
        f.seek(-4, io.SEEK_END)
    with dvx.api.open("archive.zip") as f, pytest.raises(DvxError, match="corrupt"):
        f.read(len(damaged))


def test_a_dvx_file_that_fails_its_check_raises_oserror_where_dvx_api_raises_dvxerror(
        project, monkeypatch):
    _, alice = project
    monkeypatch.chdir(alice)
    oid = xxhash.xxh3_128_hexdigest(CSV_V2.encode())
    _damage(alice / ".dvx/cache/files/xxh128" / oid[:2] / oid[2:], b"a,b\n9,9\n3,4\n")
    fs = fsspec.filesystem("dvx", repo=".")

    def seek_end() -> None:
        with fs.open("data/train.csv") as f:
            f.seek(-1, io.SEEK_END)

    for read in (lambda: fs.cat("data/train.csv"), seek_end,
                 lambda: fsspec.open("dvx://data/train.csv", repo=".").open().read()):
        with pytest.raises(OSError, match="corrupt") as failed:
            read()
        assert failed.value.errno == errno.EIO and "dvx fsck" in str(failed.value)
    with pytest.raises(CorruptObjectError, match="corrupt"):
        dvx.api.read("data/train.csv")


def test_a_file_that_fails_its_check_is_never_left_where_get_writes_it(project, tmp_path,
                                                                      monkeypatch):
    _, alice = project
    data = bytes(range(256)) * 2000  # 512 KB: copied in several reads, as a large file is
    write(alice / "data.bin", data)
    must("add", "data.bin", cwd=alice)
    oid = xxhash.xxh3_128_hexdigest(data)
    _damage(alice / ".dvx/cache/files/xxh128" / oid[:2] / oid[2:], data[:-1] + b"X")
    monkeypatch.chdir(alice)
    fs = fsspec.filesystem("dvx", repo=".")
    fs.blocksize = 1 << 16
    got = tmp_path / "out"
    with pytest.raises(OSError, match="corrupt"):
        fs.get("data.bin", str(got / "data.bin"))
    assert os.listdir(got) == []  # neither the bytes read before the check nor a temporary
    write(got / "data.bin", "kept\n")
    with pytest.raises(OSError, match="corrupt"):
        fs.get("data.bin", str(got / "data.bin"))
    assert os.listdir(got) == ["data.bin"] and (got / "data.bin").read_text() == "kept\n"
    fs.get("data/train.csv", str(got / "train.csv"))  # a good one is written
    assert (got / "train.csv").read_text() == CSV_V2


def test_fsspec_s_blockcache_of_a_dvx_file_is_refused_with_the_way_out(project, tmp_path,
                                                                       monkeypatch):
    _, alice = project
    monkeypatch.chdir(alice)
    with pytest.raises(io.UnsupportedOperation, match=r"Open it without blockcache::"):
        fsspec.open("blockcache::dvx://data/train.csv", dvx={"repo": "."},
                    blockcache={"cache_storage": str(tmp_path / "blocks")}).open()
    with fsspec.filesystem("dvx", repo=".").open("data/train.csv", block_size=4) as f:
        assert f.read() == CSV_V2.encode()  # a block size asked for is no matter


def _damage(path: Path, data: bytes) -> None:
    """Replace a cached object with other bytes (a new file: a link to it keeps the old)."""
    path.unlink()
    path.write_bytes(data)


def test_a_damaged_copy_is_named_where_it_is_and_the_source_s_cache_falls_back_to_its_remote(
        project, tmp_path, monkeypatch):
    team, alice = project
    monkeypatch.chdir(tmp_path)  # not inside any repository
    objects = alice / ".dvx/cache/files/xxh128"
    manifest = re.search(r"[0-9a-f]{32}", (alice / "data/images.dvx").read_text())
    assert manifest is not None
    _damage(objects / manifest[0][:2] / manifest[0][2:], b"[]\n")
    oid = xxhash.xxh3_128_hexdigest(CSV_V2.encode())
    _damage(objects / oid[:2] / oid[2:], b"a,b\n9,9\n3,4\n")
    # Streamed: named as the source's, with what to run there.
    with pytest.raises(DvxError, match="in the cache of") as streamed:
        dvx.api.read("data/train.csv", repo=str(alice))
    assert f"`dvx fsck` in '{alice}'" in (streamed.value.hint or "")
    # Copied whole: read from the source's remote instead.
    assert dvx.api.read("data/images/1.png", repo=str(alice)) == "image 1\n"
    must("get", str(alice), "data/train.csv", "-o", "got.csv", cwd=tmp_path)
    assert (tmp_path / "got.csv").read_text() == CSV_V2
    # A damaged copy on the source's remote: the remote named, not "was it pushed?".
    stored = local_spec(team.store, str(team.store), {})
    stored.write_raw(xxhash.xxh3_128_hexdigest(b"image 0\n"), b"image 9\n")
    got = run_dvx("get", str(team.origin), "data/images/0.png", cwd=tmp_path)
    assert got.code == 1 and "holds a damaged copy" in got.stderr, got.output
    assert "dvx fsck --remote shared" in got.stderr and "was pushed" not in got.stderr


def test_a_manifest_damaged_in_the_reader_s_cache_is_set_aside_and_read_again(
        project, tmp_path, monkeypatch):
    team, alice = project
    monkeypatch.chdir(tmp_path)  # not inside any repository: the user-level cache
    assert dvx.api.read("data/images/1.png", repo=str(team.origin)) == "image 1\n"
    manifest = re.search(r"[0-9a-f]{32}", (alice / "data/images.dvx").read_text())
    assert manifest is not None
    cache = tmp_path / "user-cache" / "dvx" / "cache"
    _damage(cache / "files" / "xxh128" / manifest[0][:2] / manifest[0][2:], b'["x"]\n')
    assert dvx.api.read("data/images/1.png", repo=str(team.origin)) == "image 1\n"
    assert fsspec.filesystem("dvx", repo=str(team.origin)).ls("data/images", detail=False) == \
        [f"data/images/{i}.png" for i in range(3)]
    assert [p.name.split(".")[0] for p in (cache / "quarantine").iterdir()] == [manifest[0]]


def test_the_dvx_filesystem_lists_and_reads_a_revision(project, tmp_path, monkeypatch):
    team, _ = project
    monkeypatch.chdir(tmp_path)
    fs = fsspec.filesystem("dvx", repo=str(team.origin), rev="v1")
    listed = {info["name"]: info for info in fs.ls("data")}
    assert sorted(listed) == ["data/.gitignore", "data/images", "data/images.dvx",
                              "data/train.csv", "data/train.csv.dvx"]  # Git's files too
    assert listed["data/train.csv"]["dvx"] and not listed["data/train.csv.dvx"]["dvx"]
    assert fs.find("data/images") == [f"data/images/{i}.png" for i in range(3)]
    assert fs.info("data/train.csv")["size"] == len(CSV_V1)
    assert fs.info("data")["type"] == "directory" and fs.isfile("params.yaml")
    assert fs.cat("data/images/1.png") == b"image 1\n"
    fs.get("data/images", str(tmp_path / "got"), recursive=True)
    assert sorted(os.listdir(tmp_path / "got")) == ["0.png", "1.png", "2.png"]
    with fs.open("data/train.csv", "r") as f:
        assert f.read() == CSV_V1
    with pytest.raises(FileNotFoundError):
        fs.info("data/missing.csv")


def test_what_is_listed_can_be_read_and_dvx_s_own_folder_is_neither(project, tmp_path,
                                                                    monkeypatch):
    """Git tracks .dvx/config and .dvx/.gitignore, but they are dvx's own, never read by
    path: left out of listings, as DVC's DVCFileSystem leaves out .dvc/, so a whole
    revision can be copied."""
    team, _ = project
    monkeypatch.chdir(tmp_path)
    fs = fsspec.filesystem("dvx", repo=str(team.origin), rev="v1")
    listed = fs.find("")
    assert "params.yaml" in listed and not [p for p in listed if p.startswith(".dvx")]
    with pytest.raises(FileNotFoundError):
        fs.info(".dvx/config")
    fs.get("", str(tmp_path / "copy") + "/", recursive=True)
    assert sorted(p.relative_to(tmp_path / "copy").as_posix()
                  for p in (tmp_path / "copy").rglob("*") if p.is_file()) == sorted(listed)
    with pytest.raises(PathError, match="never read"):
        dvx.api.read(".dvx/config", repo=str(team.origin))
    shown = run_dvx("ls", str(team.origin), "-R", cwd=tmp_path)
    assert shown.code == 0 and "params.yaml" in shown.stdout
    assert not re.search(r"\s\.dvx/", shown.stdout), shown.stdout


def test_each_dvx_url_opened_sees_the_workspace_and_the_branch_as_they_are_now(
        project, tmp_path, monkeypatch):
    team, alice = project
    monkeypatch.chdir(alice)

    def read_both() -> tuple[str, str]:
        here = fsspec.open("dvx://data/train.csv", "rt", repo=".")
        branch = fsspec.open("dvx://data/train.csv", "rt", repo=str(team.origin), rev="main")
        with here as a, branch as b:
            return a.read(), b.read()

    assert read_both() == (CSV_V2, CSV_V2)
    edit(alice, "data/train.csv", CSV_V1 + "5,6\n")
    must("add", "data/train.csv", cwd=alice)
    share(alice, "v3")
    assert read_both() == (CSV_V1 + "5,6\n", CSV_V1 + "5,6\n")


def test_what_git_tracks_in_dvx_s_private_files_is_asked_again_once_the_index_changes(
        project, monkeypatch):
    _, alice = project
    monkeypatch.chdir(alice)

    def read() -> bytes:
        with fsspec.open("dvx://data/train.csv", repo=".") as f:
            return bytes(f.read())

    assert read() == read() == CSV_V2.encode()
    write(alice / ".dvx" / "config.local", "[core]\n")
    git(alice, "add", "-f", ".dvx/config.local")
    with pytest.raises(PathError, match=r"Git tracks \.dvx/config\.local"):
        read()
    git(alice, "rm", "-q", "--cached", ".dvx/config.local")
    edit(alice, "data/train.csv", CSV_V1)
    must("add", "data/train.csv", cwd=alice)
    assert read() == CSV_V1.encode()


def test_a_tracked_directory_that_cannot_be_read_is_an_error_not_an_empty_one(
        project, tmp_path, monkeypatch):
    team, alice = project
    for i in range(2):
        write(alice / "unpushed" / f"{i}.txt", f"row {i}\n")
    must("add", "unpushed", cwd=alice)
    commit(alice, "data not pushed")
    git(alice, "push", "-q", "origin", "HEAD")
    monkeypatch.chdir(tmp_path)
    fs = fsspec.filesystem("dvx", repo=str(team.origin))
    assert "unreadable" in fs.info("unpushed")  # listed from its parent, marked
    (listed,) = json.loads(run_dvx("ls", str(team.origin), "unpushed", "--json").stdout)
    assert "unreadable" in listed and listed["size"] == 12, "the size its pointer records"
    for call in (lambda: fs.ls("unpushed"), lambda: fs.find("unpushed"),
                 lambda: fs.cat("unpushed/1.txt"), lambda: fs.info("unpushed/1.txt"),
                 lambda: fs.get("unpushed", str(tmp_path / "got"), recursive=True)):
        with pytest.raises(UnreadableError, match="not on the remote"):
            call()
    assert not (tmp_path / "got").exists() or not os.listdir(tmp_path / "got")
    for args in (("unpushed",), ("unpushed", "-R", "--json")):
        listed = run_dvx("ls", str(team.origin), *args, cwd=tmp_path)
        assert listed.code == 1 and "unpushed" in listed.stdout, listed.output
        assert "ERROR: Skipped unpushed: " in listed.stderr and "not on the remote" in \
            listed.stderr


def test_one_dvx_filesystem_is_shared_by_threads(project, tmp_path, monkeypatch):
    team, _ = project
    monkeypatch.chdir(tmp_path)
    fs = fsspec.filesystem("dvx", repo=str(team.origin), rev="v1")

    found: dict[int, bytes] = {}

    def read(first: int) -> None:
        for k in range(first, 48, 8):
            found[k] = bytes(fs.cat(f"data/images/{k % 3}.png"))

    threads = [threading.Thread(target=read, args=(i,), daemon=True) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)  # daemons: one that hangs fails the test, not the run
    assert found == {k: f"image {k % 3}\n".encode() for k in range(48)}


def test_reads_leave_no_git_process_behind(project, tmp_path, monkeypatch):
    """Each read of a file Git tracks asks one `git cat-file`: it ends with the read (a loader
    reading thousands of files must not run out of processes)."""
    def cat_files() -> set[str]:
        children = Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").read_text()
        return {pid for pid in children.split()
                if b"cat-file" in Path(f"/proc/{pid}/cmdline").read_bytes()}

    _, alice = project
    monkeypatch.chdir(tmp_path)
    before = cat_files()
    gc.disable()  # ended by reference counting alone: a cycle would keep them until a collection
    try:
        for _ in range(10):
            with fsspec.open("dvx://params.yaml", repo=str(alice), rev="v1") as f:
                assert f.read() == b"lr: 0.1\n"
            assert dvx.api.read("params.yaml", repo=str(alice), rev="v1") == "lr: 0.1\n"
        assert cat_files() - before == set()
    finally:
        gc.enable()


def test_pandas_reads_a_dvx_url(project, tmp_path, monkeypatch):
    pandas = pytest.importorskip("pandas")
    _, alice = project
    monkeypatch.chdir(tmp_path)
    frame = pandas.read_csv("dvx://data/train.csv",
                            storage_options={"repo": str(alice), "rev": "main"})
    assert frame.to_dict("list") == {"a": [1, 3], "b": [2, 4]}


def test_a_source_on_s3_is_read_with_the_readers_own_credentials_for_its_url(
        tmp_path, monkeypatch, seaweed_s3, request):
    from tests.remotes import _s3_spec

    spec = _s3_spec(seaweed_s3, request)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user-cache"))
    team = Team(tmp_path)
    alice = team.clone("alice", pull=False)
    must("init", cwd=alice)
    must("remote", "add", "-d", "storage", spec.url, cwd=alice)
    must("remote", "modify", "storage", "endpointurl", spec.options["endpointurl"], cwd=alice)
    for key in ("access_key_id", "secret_access_key"):  # alice's own: never in Git
        must("remote", "modify", "--local", "storage", key, spec.options[key], cwd=alice)
    write(alice / "data.csv", CSV_V1)
    must("add", "data.csv", cwd=alice)
    share(alice, "data on S3")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DvxError, match=r"[Cc]redentials"):
        dvx.api.read("data.csv", repo=str(team.origin))
    # The reader keeps credentials for that URL under a name of their own, in their own config
    # (set from outside any repository).
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    must("remote", "add", "--global", "team-bucket", spec.url, cwd=outside)
    for key in ("endpointurl", "access_key_id", "secret_access_key"):  # the same store
        must("remote", "modify", "--global", "team-bucket", key, spec.options[key], cwd=outside)
    from dvx.config import global_config_path

    assert spec.options["secret_access_key"] in Path(global_config_path()).read_text()
    assert dvx.api.read("data.csv", repo=str(team.origin)) == CSV_V1


@pytest.mark.parametrize("server", ["stops answering", "goes away"])
def test_a_read_from_a_remote_that_fails_after_the_open_is_dvx_s_error_naming_where(
        tmp_path, monkeypatch, own_moto, server):
    """A file of a source streamed from its S3 remote, whose server stops answering (SIGSTOP)
    or goes away (killed) once the file is open: the read raises dvx's error naming the
    remote, the source and its revision, with what to do (a DvxError from dvx.api, an OSError
    with errno EIO from dvx://), never the S3 client library's own exception."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user-cache"))
    team = Team(tmp_path)
    alice = team.clone("alice", pull=False)
    must("init", cwd=alice)
    for args in (("remote", "add", "-d", "s3", "s3://stalls/project"),
                 ("remote", "modify", "s3", "endpointurl", own_moto["endpoint"]),
                 ("remote", "modify", "s3", "timeout", "1"),
                 ("remote", "modify", "--local", "s3", "access_key_id", "testing"),
                 ("remote", "modify", "--local", "s3", "secret_access_key", "testing")):
        must(*args, cwd=alice)
    write(alice / "model.bin", os.urandom(3 << 20))  # above the pack threshold: streamed
    must("add", "model.bin", cwd=alice)
    share(alice, "model")
    git(alice, "tag", "v1")
    git(alice, "push", "-q", "origin", "v1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")  # the reader's own credentials
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.chdir(tmp_path)
    url = str(team.origin)
    from_api = dvx.api.open("model.bin", repo=url, rev="v1")
    from_fs = fsspec.open("dvx://model.bin", "rb", repo=url, rev="v1").open()
    os.kill(own_moto["pid"], signal.SIGSTOP if server == "stops answering" else signal.SIGKILL)
    with pytest.raises(DvxError) as failed:
        from_api.read()
    with pytest.raises(OSError) as failed_too:
        from_fs.read()
    assert failed_too.value.errno == errno.EIO
    for said in (str(failed.value), str(failed_too.value)):
        assert f"of '{url}' at v1 from the remote 's3' (s3://stalls/project)" in said, said
        assert "Check the network and the server" in said, said
