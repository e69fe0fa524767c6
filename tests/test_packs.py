"""Packs: the format and its checks, the store and transfers on an in-memory remote that
counts its requests, hostile indexes, mixed remotes, and teams pushing at the same time."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import fsspec
import pytest
import xxhash
from fsspec.implementations.memory import MemoryFileSystem

from dvx.errors import FormatError, NewerFormatError
from dvx.objects.cache import LocalCache
from dvx.ops import gc
from dvx.remote import leftovers, packs
from dvx.remote.packs import (
    PackBuilder,
    Section,
    check_index,
    coalesce,
    read_index,
    write_index,
)
from dvx.remote.store import RemoteStore
from tests.conftest import (
    git,
    make_git_repo,
    run_dvx,
    run_dvx_proc,
    stopped_at,
    tree_bytes,
    write,
)
from tests.remotes import (
    RemoteSpec,
    clone,
    commit_all,
    configure,
    local_spec,
    pointer_oid,
    remote_for,
)

ALGO = "xxh128"


def oid_of(data: bytes) -> str:
    return xxhash.xxh3_128_hexdigest(data)


# -- the format -------------------------------------------------------------------------------


def _section(*objects: bytes) -> tuple[Section, bytes]:
    builder = PackBuilder()
    for data in objects:
        builder.add(oid_of(data), data)
    data = bytes(builder.finish())
    return Section(packs.pack_name(data, ALGO), len(data), builder.entries), data


def test_a_pack_read_into_a_reused_buffer_holds_exactly_its_objects():
    objects = [b"alpha", b"", b"gamma" * 100]
    room = sum(map(len, objects))
    first = PackBuilder(room)
    for data in objects:
        assert first.add_read(oid_of(data), len(data), _filler(data))
    # a read that comes up short adds nothing, and the next object takes its place
    assert not first.add_read(oid_of(b"zeta"), 4, lambda view: False)
    pack = bytes(first.finish())
    assert len(pack) == packs.PACK_HEADER_SIZE + room
    for (oid, offset, length), data in zip(first.entries, objects, strict=True):
        assert (oid, pack[offset:offset + length]) == (oid_of(data), data)

    # a larger buffer handed on from a pack already sent: the new pack is only its own bytes
    reused = bytearray(b"x" * (len(pack) + 1000))
    second = PackBuilder(5, reused)
    assert second.add_read(oid_of(b"delta"), 5, _filler(b"delta"))
    second.add(oid_of(b"big!"), b"big!")  # beyond the room it was given: the buffer is enough
    view = second.finish()
    assert second.buffer is reused
    assert bytes(view[packs.PACK_HEADER_SIZE:]) == b"deltabig!"
    assert bytes(view[:len(packs.PACK_MAGIC)]) == packs.PACK_MAGIC
    assert bytes(view[:packs.PACK_HEADER_SIZE]) != pack[:packs.PACK_HEADER_SIZE]  # own header
    view.release()


def _filler(data: bytes):
    def read_into(view: memoryview) -> bool:
        view[:] = data
        return True
    return read_into


def test_an_index_round_trips_and_places_every_object_in_its_pack():
    section, pack = _section(b"alpha", b"", b"gamma" * 100)
    loose = Section(None, 0, [(oid_of(b"big"), 0, 3)])
    index = write_index([section, loose], ALGO)
    sections = list(read_index(index.splitlines(keepends=True), ALGO))
    assert [s.pack for s in sections] == [section.pack, None]
    for oid, offset, length in sections[0].entries:
        assert oid_of(pack[offset:offset + length]) == oid
    assert sections[1].entries == [(oid_of(b"big"), 0, 3)]
    assert pack.startswith(packs.PACK_MAGIC) and len(pack) == sections[0].size
    # two packs of the same objects never share a name (a random header)
    assert _section(b"alpha")[0].pack != _section(b"alpha")[0].pack


HOSTILE = {
    "wrong header": lambda oid, name: f"dvx pack index 0 {ALGO}\npack {name} 100\n{oid} 44 1\n",
    "past the end": lambda oid, name: f"dvx pack index 1 {ALGO}\npack {name} 100\n{oid} 90 20\n",
    "overlapping": lambda oid, name: (f"dvx pack index 1 {ALGO}\npack {name} 100\n{oid} 44 10\n"
                                      f"{oid} 50 10\n"),
    "inside the header": lambda oid, name: (f"dvx pack index 1 {ALGO}\npack {name} 100\n"
                                            f"{oid} 0 10\n"),
    "bad oid": lambda oid, name: f"dvx pack index 1 {ALGO}\npack {name} 100\n../../etc 44 1\n",
    "absurd pack size": lambda oid, name: (f"dvx pack index 1 {ALGO}\npack {name} "
                                           f"{1 << 40}\n{oid} 44 1\n"),
    "negative length": lambda oid, name: f"dvx pack index 1 {ALGO}\npack {name} 100\n{oid} 44 -1\n",
    "entry before a pack": lambda oid, name: f"dvx pack index 1 {ALGO}\n{oid} 44 1\n",
    "bad pack name": lambda oid, name: f"dvx pack index 1 {ALGO}\npack ../x.pack 100\n",
    "huge line": lambda oid, name: f"dvx pack index 1 {ALGO}\npack {name} 100\n{'1' * 5000}\n",
}


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_a_hostile_index_is_refused_with_a_clear_error(kind):
    text = HOSTILE[kind](oid_of(b"x"), oid_of(b"pack") + ".pack").encode()
    with pytest.raises(FormatError, match="damaged or hostile") as refused:
        packs.check_index(text.splitlines(keepends=True), ALGO, "test.idx")
    assert "test.idx" in refused.value.message


@pytest.mark.parametrize("header", ["dvx pack index 2 xxh128", "dvx pack index 17 blake3"])
def test_an_index_of_a_newer_format_asks_for_a_newer_dvx(header):
    text = f"{header}\nwhatever the newer format says\n".encode()
    with pytest.raises(NewerFormatError) as refused:
        packs.check_index(text.splitlines(keepends=True), ALGO, "test.idx")
    version = header.split()[3]
    assert refused.value.message == (f"The pack index test.idx was written by a newer dvx "
                                      f"(format {version}).")
    assert refused.value.hint == "Upgrade dvx to read it."


def test_absurd_counts_are_refused(monkeypatch):
    monkeypatch.setattr(packs, "MAX_INDEX_ENTRIES", 3)
    section, _ = _section(b"1", b"2", b"3", b"4")
    with pytest.raises(FormatError, match="entries"):
        packs.check_index(write_index([section], ALGO).splitlines(keepends=True), ALGO)


def test_neighbours_share_a_read_and_most_of_a_pack_is_one_read():
    section = Section(oid_of(b"p") + ".pack", 44 + 10 * 1000,
                      [(oid_of(bytes([i])), 44 + i * 1000, 1000) for i in range(10)])
    one = coalesce(section, section.entries[:1], gap=0, limit=1 << 20)
    assert [(s.start, s.end) for s in one] == [(44, 1044)]
    apart = coalesce(section, [section.entries[0], section.entries[5]], gap=100, limit=1 << 20)
    assert len(apart) == 2
    near = coalesce(section, [section.entries[0], section.entries[2]], gap=1000, limit=1 << 20)
    assert [(s.start, s.end) for s in near] == [(44, 3044)]
    most = coalesce(section, section.entries[:6], gap=0, limit=1 << 20)
    assert [(s.start, s.end) for s in most] == [(0, section.size)]
    capped = coalesce(section, section.entries[:3], gap=1000, limit=2000)
    assert [(s.start, s.end) for s in capped] == [(44, 2044), (2044, 3044)]


def test_an_object_gc_keeps_is_looked_for_at_every_byte_of_a_pack_no_index_names():
    """What a pack no index names may hold is looked for anywhere in its bytes: by the size
    the scope gives an object (every run of that length hashed), or by its bytes when the
    cache holds it. Two objects end to end are the bytes of a third, and an object may start
    inside what looks like another; one of unknown size, or a search over budget, may be
    in any pack; one larger than the pack, or empty, cannot be lost with it."""
    a, b = b"alpha-bytes\n", b"beta-bytes\n"
    _, ab = _section(a, b)  # also the bytes of a + b, and of "a-bytes\nbeta"
    whole, inside, absent = a + b, a[4:] + b[:4], b"gamma-bytes\n"

    def search(sizes=None, cached=None, budget=leftovers.SEARCH_BUDGET):
        held = cached or {}
        sought = leftovers.Sought({oid_of(d): len(d) for d in held}, lambda oid: next(
            (d for d in held if oid_of(d) == oid), None), sizes or {})
        return leftovers.Search(sought, ALGO, budget)

    for data in (whole, inside):
        found = search({oid_of(data): {len(data)}})
        assert found.may_be_in(ab) and found.found == oid_of(data)
        assert search(cached=[data]).may_be_in(ab)
    assert not search({oid_of(absent): {len(absent)}, oid_of(whole): {5, len(ab) + 1},
                       oid_of(b""): {0}}).may_be_in(ab)
    assert not search(cached=[absent]).may_be_in(ab)
    assert search({oid_of(absent): set()}).may_be_in(ab)  # of no known size
    assert search({oid_of(absent): {len(absent)}}, budget=1000).may_be_in(ab)
    unreadable = leftovers.Sought({oid_of(absent): len(absent)}, lambda oid: None, {})
    assert leftovers.Search(unreadable, ALGO).may_be_in(ab)  # its copy changed since


def test_a_pack_the_search_budget_cannot_pay_for_is_not_downloaded():
    """What searching a pack costs follows from the size its listing gives: once that is
    more than the budget left, the pack may hold a sought object, and is not downloaded."""
    _, data = _section(b"alpha-bytes\n", b"beta-bytes\n")
    absent = b"gamma-bytes\n"
    gets: list[str] = []

    class Listed:  # a remote holding the pack under any name, counting its downloads
        pack_size = packs.DEFAULT_PACK_SIZE

        class retried:  # as RemoteStore names it
            @staticmethod
            def get(key: str) -> bytes:
                gets.append(key)
                return data

    one = (len(data) - len(absent) + 1) * (len(absent) + leftovers.HASH_CALL_COST)
    sought = leftovers.Sought(sizes={oid_of(absent): {len(absent)}})
    search = leftovers.Search(sought, ALGO, budget=one + one // 2)
    assert not search.may_hold(Listed(), "first", len(data))  # searched: it is not there
    assert search.may_hold(Listed(), "second", len(data))  # not searched: it may be
    assert gets == ["packs/first"]


# -- the store and transfers, on an in-memory remote that counts requests --------------------


class CountingMemory(MemoryFileSystem):
    """An in-memory filesystem (one per test) that counts the requests made of it; those for
    the remote's locks (locks/) apart, as `lock <kind>`."""
    protocol = ("counting",)
    calls: ClassVar[Counter[str]] = Counter()

    @staticmethod
    def _count(kind: str, path: object) -> None:
        CountingMemory.calls[f"lock {kind}" if "/locks" in str(path) else kind] += 1

    def cat_file(self, path, start=None, end=None, **kwargs):
        self._count("get", path)
        return super().cat_file(path, start=start, end=end, **kwargs)

    def pipe_file(self, path, value, *args, **kwargs):
        self._count("put", path)
        return super().pipe_file(path, value, *args, **kwargs)

    def ls(self, path, detail=True, **kwargs):
        self._count("list", path)
        return super().ls(path, detail=detail, **kwargs)

    def find(self, path, *args, **kwargs):
        self._count("list", path)
        return super().find(path, *args, **kwargs)

    def exists(self, path, **kwargs):
        self._count("exists", path)
        return super().exists(path, **kwargs)

    def _open(self, path, mode="rb", **kwargs):
        self._count("open", path)
        return super()._open(path, mode, **kwargs)


fsspec.register_implementation("counting", CountingMemory, clobber=True)


@pytest.fixture
def counting(repo, dvx):
    """A repository whose default remote lives in memory, in this process."""
    MemoryFileSystem.store.clear()
    MemoryFileSystem.pseudo_dirs[:] = [""]
    CountingMemory.calls.clear()
    assert dvx("remote", "add", "-d", "m", "counting://bucket/project").code == 0
    return repo


def _in_process(repo: Path, *args: str) -> None:
    """Run a dvx command in this process (the in-memory remote lives here)."""
    result = run_dvx(*args, cwd=repo)
    assert result.code == 0, result.output


def test_a_partial_pull_and_a_no_op_push_cost_a_few_requests(counting, tmp_path):
    repo = counting
    for i in range(2000):
        write(repo / "data" / f"{i:04d}.bin", os.urandom(200 + i))
    _in_process(repo, "add", "data")
    _in_process(repo, "push")
    stored = CountingMemory.calls["put"]
    assert stored <= 5  # one pack and its index, the manifest's pack and its index, the mark
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "data")

    CountingMemory.calls.clear()
    _in_process(repo, "push")  # nothing to send: the indexes say so
    data_requests = {k: n for k, n in CountingMemory.calls.items() if not k.startswith("lock")}
    assert sum(data_requests.values()) <= 4, CountingMemory.calls
    # and the push's lock (remote/locks.py): on S3 two listings of locks/, a PUT and a
    # DELETE; fsspec's memory store adds a check to the delete and one to the first listing
    assert sum(CountingMemory.calls.values()) - sum(data_requests.values()) <= 6
    _in_process(repo, "status", "--remote")
    assert CountingMemory.calls["get"] == 0  # the indexes were kept locally

    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(repo), str(clone))
    CountingMemory.calls.clear()
    _in_process(clone, "pull", "data/0007.bin")
    assert (clone / "data/0007.bin").read_bytes() == (repo / "data/0007.bin").read_bytes()
    assert not (clone / "data/0008.bin").exists()
    # the indexes (two), the manifest (one ranged read) and the file (one ranged read)
    assert CountingMemory.calls["get"] <= 4, CountingMemory.calls
    CountingMemory.calls.clear()
    _in_process(clone, "pull")
    assert tree_bytes(clone / "data") == tree_bytes(repo / "data")
    assert CountingMemory.calls["get"] <= 2, CountingMemory.calls  # the one pack, whole


def test_library_upload_and_download_with_packs_and_loose_objects(tmp_path):
    from dvx.objects.cache import LocalCache
    from dvx.progress import NoProgress
    from dvx.remote import transfer
    from dvx.remote.fs import open_store

    source = LocalCache(str(tmp_path / "cache-a"), ALGO)
    small = [os.urandom(100 + i) for i in range(50)]
    large = os.urandom(2 << 20)
    oids = [source.add_bytes_verified(data, oid_of(data)) and oid_of(data)
            for data in [*small, large]]
    remote = open_store(str(tmp_path / "remote"), {"pack_size": str(1 << 20)}, str(tmp_path),
                        ALGO, "r")
    settings = transfer.Settings(4, 2, NoProgress())
    sent = transfer.upload(source, remote, oids, settings)
    assert (sent.transferred, sent.failed) == (51, {})
    assert transfer.absent_from(remote, set(oids), settings) == set()
    assert remote.exists(oid_of(large)) and remote.read_bytes(oid_of(small[3])) == small[3]
    assert remote.locate([oid_of(large)])[oid_of(large)][0] is None  # loose, and indexed
    target = LocalCache(str(tmp_path / "cache-b"), ALGO)
    got = transfer.download(remote, target, oids, settings)
    assert (got.transferred, got.failed) == (51, {})
    assert all(target.verify(oid) for oid in oids)
    again = transfer.upload(source, remote, oids, settings)
    assert (again.transferred, again.already_there) == (0, 51)


def test_an_index_on_the_remote_counts_its_objects_uploaded_whatever_its_local_copy_meets(
        tmp_path):
    """The copy of a pushed index kept here cannot be written (a full disk, say): the index
    is on the remote, so its objects count as uploaded, never as failed, and a later listing
    downloads the copy."""
    from dvx.progress import NoProgress
    from dvx.remote import transfer
    from dvx.remote.fs import open_store

    source = LocalCache(str(tmp_path / "cache-a"), ALGO)
    datas = [os.urandom(500 + i) for i in range(20)]
    oids = [oid_of(data) for data in datas]
    for data, oid in zip(datas, oids, strict=True):
        source.add_bytes_verified(data, oid)
    remote = open_store(str(tmp_path / "remote"), {}, str(tmp_path), ALGO, "r")

    def disk_full(name: str, data: bytes, replace: bool = False) -> None:
        raise OSError(28, "No space left on device")

    remote.inventory.keep_copy = disk_full  # type: ignore[method-assign]
    sent = transfer.upload(source, remote, oids, transfer.Settings(2, 2, NoProgress()))
    assert (sent.transferred, sent.failed) == (20, {})
    fresh = open_store(str(tmp_path / "remote"), {}, str(tmp_path), ALGO, "r")
    assert transfer.absent_from(fresh, set(oids), transfer.Settings(2, 2, NoProgress())) == set()


def _pack_cut_in_half(tmp_path: Path) -> tuple[RemoteStore, list[str], set[str]]:
    """Thirty objects pushed in one pack to a directory remote, whose pack is then cut to
    its first half: (the remote, the oids, those whose bytes lie wholly before the cut)."""
    from dvx.progress import NoProgress
    from dvx.remote import transfer
    from dvx.remote.fs import open_store

    source = LocalCache(str(tmp_path / "cache-a"), ALGO)
    datas = [os.urandom(1000 + 37 * i) for i in range(30)]
    oids = [oid_of(data) for data in datas]
    for data, oid in zip(datas, oids, strict=True):
        source.add_bytes_verified(data, oid)
    remote = open_store(str(tmp_path / "remote"), {}, str(tmp_path), ALGO, "r")
    assert transfer.upload(source, remote, oids, transfer.Settings(2, 2, NoProgress())
                           ).failed == {}
    [pack] = (tmp_path / "remote" / "packs").iterdir()
    cut = pack.stat().st_size // 2
    pack.chmod(0o644)
    os.truncate(pack, cut)
    places = remote.locate(oids)
    whole = {oid for oid, (_, offset, length) in places.items() if offset + length <= cut}
    assert 0 < len(whole) < len(oids)
    return open_store(str(tmp_path / "remote"), {}, str(tmp_path), ALGO, "r"), oids, whole


def test_a_pack_cut_short_still_gives_the_objects_that_lie_wholly_before_the_cut(tmp_path):
    """Bytes that hash to their oid are the object (formats.md): whole reads, partial
    reads, and fsck's check (hashing or --fast) fail only the objects the cut runs through
    or past."""
    from dvx.progress import NoProgress
    from dvx.remote import pack_reads, transfer

    remote, oids, whole = _pack_cut_in_half(tmp_path)
    settings = transfer.Settings(2, 1, NoProgress())
    everything = LocalCache(str(tmp_path / "cache-b"), ALGO)
    got = transfer.download(remote, everything, oids, settings)
    assert got.transferred == len(whole) and set(got.failed) == set(oids) - whole
    assert all("is shorter than its index says" in why for why in got.failed.values())
    assert all(everything.verify(oid) for oid in whole)
    for oid in oids[:1] + oids[-1:]:  # one alone: a ranged read of it only
        alone = LocalCache(str(tmp_path / f"cache-{oid}"), ALGO)
        got = transfer.download(remote, alone, [oid], settings)
        assert (got.transferred == 1) == (oid in whole), got.failed
    for fast in (False, True):
        check = pack_reads.verify(remote, settings, fast)
        assert check.checked == set(oids)
        assert set(check.corrupt) == set(oids) - whole, fast
        assert {copy[1] for copy in check.bad_copies} == set(oids) - whole
        assert all("ends before this object does" in why for why in check.corrupt.values())


def test_a_merge_after_a_push_and_gc_name_the_copies_a_pack_cut_short_no_longer_holds(
        tmp_path, monkeypatch, capsys):
    """A pack cut short on a directory remote, then a push of more data: gc's plan and the
    merge of the indexes after the push (another command: the store opened anew) give the
    pack its real size, and both warn, naming the pack, how many copies lay past its end,
    and the commands that send them again. The merged index names only the copies the pack
    holds, so the next push uploads the others and a fresh cache downloads every object."""
    from dvx.progress import NoProgress
    from dvx.remote import packed, repack, transfer
    from dvx.remote.fs import open_store

    remote, oids, whole = _pack_cut_in_half(tmp_path)
    [pack] = (p.name for p in (tmp_path / "remote" / "packs").iterdir())
    source = LocalCache(str(tmp_path / "cache-a"), ALGO)
    settings = transfer.Settings(2, 1, NoProgress())
    more = [source.add_bytes(os.urandom(900))]
    assert transfer.upload(source, remote, more, settings).failed == {}
    capsys.readouterr()
    warning = (f"Pack {pack} on the remote is "
               f"{(tmp_path / 'remote' / 'packs' / pack).stat().st_size} bytes, shorter than "
               f"its indexes say: {len(oids) - len(whole)} of the copies they place in it lie "
               "past its end")

    repack.plan(remote, oids + more, time.time() + 3600, ())
    planned = " ".join(capsys.readouterr().err.split())
    remote = open_store(str(tmp_path / "remote"), {}, str(tmp_path), ALGO, "r")
    monkeypatch.setattr(packed, "MAX_INDEXES", 1)
    assert packed.consolidate_if_many(remote, settings)
    merged = " ".join(capsys.readouterr().err.split())

    for said in (planned, merged):
        assert warning in said and "`dvx fsck --remote`" in said, said
        assert "`dvx push --repair`" in said, said
    remote = open_store(str(tmp_path / "remote"), {}, str(tmp_path), ALGO, "r")
    assert {oid for oid, (named, _, _) in remote.locate(oids).items() if named == pack} == whole
    repack.plan(remote, oids + more, time.time() + 3600, ())
    assert "shorter than its indexes say" not in capsys.readouterr().err
    again = transfer.upload(source, remote, oids, settings)
    assert (again.transferred, again.failed) == (len(oids) - len(whole), {})
    fresh = LocalCache(str(tmp_path / "cache-b"), ALGO)
    got = transfer.download(remote, fresh, oids + more, settings)
    assert got.failed == {} and all(fresh.verify(oid) for oid in oids + more)


def test_gc_warns_once_of_a_pack_cut_short_however_many_of_its_steps_find_it(
        repo, dvx, tmp_path):
    """gc plans, then plans again under the remote's lock, then merges the indexes: each
    step finds the pack cut short, and the command warns of it once. Another command that
    finds it (the dry run before) warns of it too."""
    store = tmp_path / "store"
    _pushed_directory(repo, dvx, store, 30, 40)
    commit_all(repo, "v1")
    pack = min((store / "packs").iterdir(), key=lambda p: p.stat().st_size)  # the files'
    pack.chmod(0o644)
    os.truncate(pack, 100)
    (repo / "d" / "0.bin").unlink()
    assert dvx("commit", "d").code == 0 and dvx("push").code == 0
    commit_all(repo, "v2")
    warning = f"Pack {pack.name} on the remote is 100 bytes, shorter than its indexes say"

    planned = dvx("gc", "--cloud", "-w", "--grace", "0", "--dry-run")
    assert planned.code == 0, planned.output
    assert planned.stderr.count(warning) == 1, planned.stderr
    collected = dvx("gc", "--cloud", "-w", "--grace", "0", "-f")
    assert collected.code == 0, collected.output
    assert collected.stderr.count(warning) == 1, collected.stderr
    assert "shorter than its indexes say" not in dvx("gc", "--cloud", "-w", "--grace", "0",
                                                     "--dry-run").stderr


def _index_naming_one_copy_a_byte_short(store: Path) -> tuple[str, str, int, int]:
    """A second index on the directory remote `store` naming one object of its largest
    index at the same pack and offset, one byte short: (pack, oid, offset, length)."""
    files_index = max((store / "indexes").glob("*.idx"), key=lambda p: p.stat().st_size)
    [section] = [s for s in read_index(files_index.read_bytes().splitlines(keepends=True), ALGO)
                 if s.pack is not None]
    oid, offset, length = section.entries[1]
    index = write_index([Section(section.pack, section.size, [(oid, offset, length - 1)])],
                        ALGO)
    (store / "indexes" / packs.index_name(index, ALGO)).write_bytes(index)
    return str(section.pack), oid, offset, length


def test_a_wrong_length_named_for_a_whole_copy_retires_only_that_entry(tmp_path):
    """Two indexes placing one object at the same pack and offset, one with a wrong length:
    verify finds the object whole, and only the entry with the wrong length is a bad copy;
    retiring it leaves the whole copy named, so the object still downloads."""
    from dvx.progress import NoProgress
    from dvx.remote import pack_reads, packed, transfer
    from dvx.remote.fs import open_store

    source = LocalCache(str(tmp_path / "cache-a"), ALGO)
    datas = [os.urandom(1000 + 37 * i) for i in range(10)]
    oids = [source.add_bytes(data) for data in datas]
    settings = transfer.Settings(2, 1, NoProgress())
    remote = open_store(str(tmp_path / "remote"), {}, str(tmp_path), ALGO, "r")
    assert transfer.upload(source, remote, oids, settings).failed == {}
    pack, oid, offset, length = _index_naming_one_copy_a_byte_short(tmp_path / "remote")
    remote = open_store(str(tmp_path / "remote"), {}, str(tmp_path), ALGO, "r")

    check = pack_reads.verify(remote, settings)
    assert check.corrupt == {} and check.lost == set()
    assert check.bad_copies == {(pack, oid, offset, length - 1)}
    packed.retire_copies(remote, settings, check.bad_copies)

    remote = open_store(str(tmp_path / "remote"), {}, str(tmp_path), ALGO, "r")
    named = [(s.pack, *entry) for _, s in remote.inventory.sections() for entry in s.entries
             if entry[0] == oid]
    assert named == [(pack, oid, offset, length)]
    fresh = LocalCache(str(tmp_path / "cache-b"), ALGO)
    got = transfer.download(remote, fresh, oids, settings)
    assert got.failed == {} and all(fresh.verify(each) for each in oids)


def test_merging_indexes_that_disagree_on_a_length_writes_an_index_readers_accept(tmp_path):
    """Two indexes naming one object at the same pack and offset with different lengths (one
    never checked): merging them into one index keeps both entries readable (the overlapping
    one in a second section for the pack), so a fresh cache still downloads every object."""
    from dvx.progress import NoProgress
    from dvx.remote import packed, transfer
    from dvx.remote.fs import open_store

    source = LocalCache(str(tmp_path / "cache-a"), ALGO)
    oids = [source.add_bytes(os.urandom(1000 + 37 * i)) for i in range(10)]
    settings = transfer.Settings(2, 1, NoProgress())
    remote = open_store(str(tmp_path / "remote"), {}, str(tmp_path), ALGO, "r")
    assert transfer.upload(source, remote, oids, settings).failed == {}
    _index_naming_one_copy_a_byte_short(tmp_path / "remote")
    remote = open_store(str(tmp_path / "remote"), {}, str(tmp_path), ALGO, "r")

    packed.rewrite_indexes(remote, settings, lambda copy: True)

    [index] = (tmp_path / "remote" / "indexes").glob("*.idx")
    assert check_index(index.read_bytes().splitlines(keepends=True), ALGO) == 11
    remote = open_store(str(tmp_path / "remote"), {}, str(tmp_path), ALGO, "r")
    fresh = LocalCache(str(tmp_path / "cache-b"), ALGO)
    got = transfer.download(remote, fresh, oids, settings)
    assert got.failed == {} and all(fresh.verify(each) for each in oids)


def _upload_packs(tmp_path: Path, *counts: int) -> tuple[list[list[str]], Any]:
    """Upload `counts[i]` small random objects by the i-th upload (a pack each) to the
    directory remote tmp_path/remote: the oids of each upload, and the settings used."""
    from dvx.progress import NoProgress
    from dvx.remote import transfer
    from dvx.remote.fs import open_store

    source = LocalCache(str(tmp_path / "cache-a"), ALGO)
    settings = transfer.Settings(2, 1, NoProgress())
    uploads = []
    for count in counts:
        oids = [source.add_bytes(os.urandom(1000 + 37 * i)) for i in range(count)]
        remote = open_store(str(tmp_path / "remote"), {}, str(tmp_path), ALGO, "r")
        assert transfer.upload(source, remote, oids, settings).failed == {}
        uploads.append(oids)
    return uploads, settings


def _pack_section(store: Path, oids: list[str]) -> Section:
    """The section of the pack holding `oids`, as the index its upload wrote names it."""
    for index in (store / "indexes").glob("*.idx"):
        for section in read_index(index.read_bytes().splitlines(keepends=True), ALGO):
            if section.pack is not None and {e[0] for e in section.entries} == set(oids):
                return section
    raise AssertionError("no index names that pack")


def _index_read_first(store: Path, variants: Iterator[list[Section]]) -> str:
    """Write the first of the `variants` (the sections of an index) whose name sorts before
    every index on `store`: the one a merge reads first. Its name."""
    first = min(p.name for p in (store / "indexes").glob("*.idx"))
    for sections in variants:
        data = write_index(sections, ALGO)
        name = packs.index_name(data, ALGO)
        if name < first:
            (store / "indexes" / name).write_bytes(data)
            return name
    raise AssertionError("no variant sorts first")


def _sizes_named(store: Path) -> dict[str, set[int]]:
    """pack -> the sizes the indexes on `store` give it."""
    sizes: dict[str, set[int]] = {}
    for index in (store / "indexes").glob("*.idx"):
        for section in read_index(index.read_bytes().splitlines(keepends=True), ALGO):
            if section.pack is not None:
                sizes.setdefault(section.pack, set()).add(section.size)
    return sizes


def test_a_merge_takes_a_pack_s_size_from_the_remote_not_from_an_index_understating_it(
        tmp_path):
    """Index A gives a pack a smaller size than it has (its one entry fits) and is read
    first; index B names an object of that pack with a wrong length. fsck's check names A as
    misstating the size and B's entry as a bad copy; taking that copy out writes one index
    giving the pack its real size, and a fresh cache downloads every object."""
    from dvx.remote import pack_reads, packed, transfer
    from dvx.remote.fs import open_store

    [oids], settings = _upload_packs(tmp_path, 10)
    store = tmp_path / "remote"
    section = _pack_section(store, oids)
    pack = str(section.pack)
    real = (store / "packs" / pack).stat().st_size
    oid, offset, length = section.entries[4]
    (store / "indexes" / packs.index_name(index := write_index(
        [Section(pack, real, [(oid, offset, length + 5)])], ALGO), ALGO)).write_bytes(index)
    first_end = section.entries[0][1] + section.entries[0][2]
    understated = _index_read_first(store, ([Section(pack, size, section.entries[:1])]
                                            for size in range(first_end, real)))

    remote = open_store(str(store), {}, str(tmp_path), ALGO, "r")
    check = pack_reads.verify(remote, settings)
    assert set(check.misstated) == {understated}
    assert f"but the pack is {real} bytes" in check.misstated[understated]
    assert check.bad_copies == {(pack, oid, offset, length + 5)} and check.corrupt == {}
    packed.retire_copies(remote, settings, check.bad_copies)

    assert _sizes_named(store) == {pack: {real}}
    remote = open_store(str(store), {}, str(tmp_path), ALGO, "r")
    fresh = LocalCache(str(tmp_path / "cache-b"), ALGO)
    got = transfer.download(remote, fresh, oids, settings)
    assert got.failed == {} and all(fresh.verify(each) for each in oids)


def test_an_index_overstating_a_pack_s_size_is_named_and_never_trusted_by_a_merge_or_gc(
        tmp_path):
    """An index giving a small pack the size and entries of a large one (read first): fsck's
    check names it; gc's plan frees no bytes of the small pack it keeps; and a merge gives
    the small pack its real size, naming only entries that fit in it, and every object still
    downloads."""
    from dvx.remote import pack_reads, packed, repack, transfer
    from dvx.remote.fs import open_store

    (large_oids, small_oids), settings = _upload_packs(tmp_path, 10, 2)
    store = tmp_path / "remote"
    large, small = _pack_section(store, large_oids), _pack_section(store, small_oids)
    small_real = (store / "packs" / str(small.pack)).stat().st_size
    hostile = _index_read_first(store, ([Section(small.pack, size, large.entries)]
                                        for size in range(large.size, 2 * large.size)))

    remote = open_store(str(store), {}, str(tmp_path), ALGO, "r")
    check = pack_reads.verify(remote, settings)
    assert set(check.misstated) == {hostile}
    plan = repack.plan(remote, large_oids + small_oids, time.time() + 3600, ())
    assert plan.copies_freed == 0 and plan.delete_packs == []

    packed.rewrite_indexes(remote, settings, lambda copy: True)

    assert _sizes_named(store) == {large.pack: {large.size}, small.pack: {small_real}}
    remote = open_store(str(store), {}, str(tmp_path), ALGO, "r")
    fresh = LocalCache(str(tmp_path / "cache-b"), ALGO)
    got = transfer.download(remote, fresh, large_oids + small_oids, settings)
    assert got.failed == {} and all(fresh.verify(each) for each in large_oids + small_oids)


def test_fsck_replaces_an_index_understating_a_pack_s_size_on_s3(repo, dvx, request,
                                                                  tmp_path):
    """On S3, after a push: index A gives the pack a smaller size (its one entry fits) and
    is listed first, index B names an object of the pack with a wrong length. fsck --remote
    names A, replaces the indexes by one giving the pack its real size, the next fsck finds
    nothing wrong, and a fresh clone pulls everything."""
    spec, _ = _pushed_d_on("seaweedfs", repo, dvx, request, tmp_path)
    section = max((s for k in spec.list_keys() if k.startswith("indexes/") and k.endswith(".idx")
                   for s in read_index(spec.get_key(k).splitlines(keepends=True), ALGO)
                   if s.pack is not None), key=lambda s: len(s.entries))  # the files' pack
    pack = str(section.pack)
    real = len(spec.get_key(f"packs/{pack}"))
    oid, offset, length = section.entries[4]
    wrong_length = write_index([Section(pack, real, [(oid, offset, length + 5)])], ALGO)
    spec.put_key(f"indexes/{packs.index_name(wrong_length, ALGO)}", wrong_length)
    first = min(k for k in spec.list_keys() if k.startswith("indexes/"))
    first_end = section.entries[0][1] + section.entries[0][2]
    for size in range(first_end, real):
        understated = write_index([Section(pack, size, section.entries[:1])], ALGO)
        name = packs.index_name(understated, ALGO)
        if f"indexes/{name}" < first:
            spec.put_key(f"indexes/{name}", understated)
            break
    else:
        raise AssertionError("no size makes the index sort first")

    found = run_dvx_proc("fsck", "--remote", "s", cwd=repo, timeout=120)
    said = " ".join(found.output.split())
    assert found.code == 1, found.output
    assert f"Damaged pack index {name}: it gives pack {pack} a size of {size} bytes, but the " \
           f"pack is {real} bytes. It was replaced" in said, said
    assert "refused to write" not in said and "Traceback" not in said, said
    again = run_dvx_proc("fsck", "--remote", "s", cwd=repo, timeout=120)
    assert again.code == 0, again.output
    sizes = {s.size for k in spec.list_keys() if k.startswith("indexes/") and k.endswith(".idx")
             for s in read_index(spec.get_key(k).splitlines(keepends=True), ALGO)
             if s.pack == pack}
    assert sizes == {real}
    other = clone(repo, tmp_path, "other")
    assert run_dvx_proc("pull", cwd=other, timeout=120).code == 0
    assert tree_bytes(other / "d") == tree_bytes(repo / "d")


def test_fast_fsck_retiring_a_lost_pack_beside_a_wrong_length_entry_leaves_a_pullable_remote(
        repo, dvx, tmp_path):
    """fsck --remote --fast never reads the packs, so an entry with a wrong length stays
    unnoticed while the index naming a lost pack is rewritten: the rewritten index still
    reads, no longer names the lost pack, and a fresh clone pulls the rest."""
    store = tmp_path / "store"
    _pushed_directory(repo, dvx, store, 5, 1000)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "data")
    before = set((store / "packs").iterdir())
    write(repo / "e" / "x.bin", os.urandom(700))
    assert dvx("add", "e").code == 0
    assert dvx("push").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "e")
    _index_naming_one_copy_a_byte_short(store)
    lost = set((store / "packs").iterdir()) - before
    for pack in lost:
        pack.unlink()

    dvx("fsck", "--remote", "s", "--fast")

    lost_names = {p.name for p in lost}
    assert not [entry for entry in _index_entries(store) if entry[0] in lost_names]

    for index in (store / "indexes").glob("*.idx"):
        check_index(index.read_bytes().splitlines(keepends=True), ALGO)
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(repo), str(clone))
    pulled = run_dvx("pull", "d", cwd=clone)
    assert pulled.code == 0, pulled.output
    assert tree_bytes(clone / "d") == tree_bytes(repo / "d")


def test_a_packed_object_that_changed_since_its_size_was_taken_is_set_aside_not_sent(
        tmp_path):
    from dvx.objects.cache import LocalCache
    from dvx.progress import NoProgress
    from dvx.remote import packed, transfer
    from dvx.remote.fs import open_store

    cache = LocalCache(str(tmp_path / "cache"), ALGO)
    good, bad = cache.add_bytes(b"good\n"), cache.add_bytes(b"bad\n")
    os.chmod(cache.oid_path(bad), 0o644)
    with open(cache.oid_path(bad), "ab") as f:  # written through a hard link to it, say
        f.write(b"appended\n")
    remote = open_store(str(tmp_path / "remote"), {}, str(tmp_path), ALGO, "r")
    sizes = {good: 5, bad: 4}  # taken before the write
    sent = packed.upload(cache, remote, [good, bad], sizes.__getitem__,
                         transfer.Settings(2, 1, NoProgress()))
    assert sent.transferred == 1 and list(sent.failed) == [bad]
    assert "changed after it was stored" in sent.failed[bad]
    assert remote.read_bytes(good) == b"good\n" and not remote.in_packs([bad])
    assert not cache.exists(bad) and os.listdir(tmp_path / "cache" / "quarantine")


def _team(tmp_path: Path, remote: Path, names: list[str]) -> list[Path]:
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", str(origin))
    first = make_git_repo(tmp_path / names[0])
    assert run_dvx("init", cwd=first).code == 0
    assert run_dvx("remote", "add", "-d", "s", str(remote), cwd=first).code == 0
    git(first, "add", "-A")
    git(first, "commit", "-qm", "init")
    git(first, "remote", "add", "origin", str(origin))
    git(first, "push", "-q", "origin", "HEAD:main")
    clones = [first]
    for name in names[1:]:
        git(tmp_path, "clone", "-q", "-b", "main", str(origin), name)
        clones.append(tmp_path / name)
    return clones


def test_two_clones_pushing_at_once_keep_each_other_s_objects(tmp_path):
    store = tmp_path / "store"
    alice, bob = _team(tmp_path, store, ["alice", "bob"])
    for who in (alice, bob):
        for i in range(300):
            write(who / f"{who.name}-data" / f"{i}.bin", os.urandom(300))
        write(who / "shared.bin", b"the same bytes in both clones" * 50)
        assert run_dvx("add", f"{who.name}-data", "shared.bin", cwd=who).code == 0
    results: dict[str, int] = {}

    def push(who: Path) -> None:
        results[who.name] = run_dvx_proc("push", "-j", "2", cwd=who).code

    threads = [threading.Thread(target=push, args=(who,)) for who in (alice, bob)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == {"alice": 0, "bob": 0}
    for who in (alice, bob):
        assert run_dvx("fsck", "--remote", "s", cwd=who).code == 0
        assert run_dvx("status", "--remote", "-q", cwd=who).code == 0
    remote = local_spec(store, str(store), {})
    assert len(remote.oids()) == 2 * 300 + 1 + 2  # both datasets, the shared file, manifests


def test_a_remote_holding_loose_objects_and_packs_reads_as_one(repo, dvx, tmp_path):
    store = tmp_path / "store"
    assert dvx("remote", "add", "-d", "s", str(store)).code == 0
    assert dvx("remote", "modify", "s", "pack_threshold", "0").code == 0
    write(repo / "old" / "a.bin", os.urandom(500))
    assert dvx("add", "old").code == 0
    assert dvx("push").code == 0  # loose, as every remote written before packs
    assert dvx("remote", "modify", "s", "--unset", "pack_threshold").code == 0
    write(repo / "new" / "b.bin", os.urandom(500))
    write(repo / "new" / "a.bin", (repo / "old" / "a.bin").read_bytes())  # already there
    assert dvx("add", "new").code == 0
    pushed = json.loads(dvx("push", "--json").stdout)
    assert (pushed["transferred"], pushed["already_there"]) == (2, 2)  # b and a manifest
    remote = local_spec(store, str(store), {})
    assert oid_of((repo / "old/a.bin").read_bytes()) in remote.loose()
    assert oid_of((repo / "new/b.bin").read_bytes()) in remote.packed()
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "data")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(repo), str(clone))
    assert run_dvx("pull", cwd=clone).code == 0
    assert tree_bytes(clone / "old") == tree_bytes(repo / "old")
    assert tree_bytes(clone / "new") == tree_bytes(repo / "new")
    assert run_dvx("fsck", "--remote", "s", cwd=clone).code == 0


def test_a_hostile_index_on_the_remote_names_nothing_and_stops_gc(repo, dvx, tmp_path):
    store = tmp_path / "store"
    assert dvx("remote", "add", "-d", "s", str(store)).code == 0
    write(repo / "d" / "a.bin", b"a" * 300)
    assert dvx("add", "d").code == 0
    assert dvx("push").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "data")
    real = next((store / "indexes").glob("*.idx"))
    a = oid_of(b"a" * 300)
    pack = next((store / "packs").iterdir()).name
    text = f"dvx pack index 1 {ALGO}\npack {pack} 10\n{a} 44 100000\n".encode()
    (store / "indexes" / (oid_of(text) + ".idx")).write_bytes(text)  # names its own hash
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(repo), str(clone))
    pulled = run_dvx("pull", cwd=clone)
    assert pulled.code == 0, pulled.output  # the real index still places every object
    assert "damaged or hostile" in pulled.stderr and "Nothing it names is used" in pulled.stderr
    assert (clone / "d/a.bin").read_bytes() == b"a" * 300
    found = run_dvx("fsck", "--remote", "s", "--json", cwd=clone)
    assert found.code == 1
    assert [row["index"] for row in json.loads(found.stdout)["damaged_indexes"]] == [
        oid_of(text) + ".idx"]
    before = sorted(p.name for p in store.rglob("*"))
    refused = run_dvx("gc", "-w", "-c", "s", "-f", "--grace", "0", cwd=clone)
    assert refused.code == 1 and "Nothing was deleted from the remote" in refused.stderr
    assert sorted(p.name for p in store.rglob("*")) == before
    assert real.exists()


def _hostile_entry(path: Path, kind: str) -> None:
    """Put at `path` something other than a file that can be read."""
    path.unlink()
    if kind == "a link to nothing":
        path.symlink_to(path.parent / "nonexistent")
    elif kind == "a link loop":
        path.symlink_to(path.name)
    elif kind == "a link to /dev/zero":
        path.symlink_to("/dev/zero")
    elif kind == "a folder":
        path.mkdir()
    else:
        os.mkfifo(path)


UNREADABLE = ["a link to nothing", "a link loop", "a link to /dev/zero", "a folder", "a FIFO"]

def _push_and_commit_d(repo, dvx, tmp_path):
    """A directory remote holding the folder d, pushed and committed; the remote's path."""
    store = tmp_path / "store"
    assert dvx("remote", "add", "-d", "s", str(store)).code == 0
    write(repo / "d" / "a.bin", b"a" * 300)
    assert dvx("add", "d").code == 0 and dvx("push").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "data")
    return store


@pytest.mark.parametrize("kind", UNREADABLE)
def test_an_index_that_cannot_be_read_stops_gc_and_keeps_its_pack(repo, dvx, tmp_path, kind):
    """An index the remote's listing names but that cannot be read is damaged, not gone: gc
    deletes nothing (not the packs only it names, which it would take for left over), and
    names the index and what to do."""
    store = _push_and_commit_d(repo, dvx, tmp_path)
    d_indexes = sorted((store / "indexes").glob("*.idx"))  # d's files, then its manifest
    d_packs = sorted((store / "packs").iterdir())
    write(repo / "o.txt", "other")  # another index and pack, which nothing needs after
    assert dvx("add", "o.txt").code == 0 and dvx("push").code == 0
    assert dvx("remove", "o.txt").code == 0
    shutil.rmtree(repo / ".dvx" / "tmp" / "indexes")  # as in a clone that never read them
    saved = [index.read_bytes() for index in d_indexes]
    for index in d_indexes:
        _hostile_entry(index, kind)
    before = sorted(str(p.relative_to(store)) for p in store.rglob("*") if "locks" not in p.parts)
    refused = run_dvx_proc("gc", "-w", "-c", "s", "-f", "--grace", "0", cwd=repo, timeout=60)
    said = " ".join(refused.stderr.split())
    assert refused.code == 1 and "Nothing was deleted from the remote" in said, refused.output
    assert any(index.name in said for index in d_indexes), said
    assert "dvx fsck --remote" in said, said
    assert sorted(str(p.relative_to(store)) for p in store.rglob("*")
                  if "locks" not in p.parts) == before
    assert all(pack.exists() for pack in d_packs)
    found = run_dvx_proc("fsck", "--remote", "s", "--json", cwd=repo, timeout=60)
    assert found.code == 1, found.output
    assert [row["index"] for row in json.loads(found.stdout)["damaged_indexes"]] == [
        index.name for index in d_indexes]
    shown = " ".join(run_dvx_proc("fsck", "--remote", "s", cwd=repo, timeout=60).stderr.split())
    assert "perhaps by the damaged index above" in shown, shown  # not "gc deletes them"
    for index, data in zip(d_indexes, saved, strict=True):  # put back: nothing of d was lost
        index.rmdir() if index.is_dir() and not index.is_symlink() else index.unlink()
        index.write_bytes(data)
    _assert_a_clone_pulls_d(repo, tmp_path)


@pytest.mark.parametrize("kind", ["a file", "a link to nothing"])
def test_an_indexes_folder_that_cannot_be_listed_stops_gc(repo, dvx, tmp_path, kind):
    """The remote's indexes/ folder replaced: no index is no empty remote, and gc deletes
    none of the packs, which it would take for left over."""
    store = _push_and_commit_d(repo, dvx, tmp_path)
    shutil.rmtree(repo / ".dvx" / "tmp" / "indexes")  # as in a clone that never read them
    (store / "indexes").rename(tmp_path / "indexes")
    if kind == "a file":
        write(store / "indexes", "not a folder")
    else:
        (store / "indexes").symlink_to(tmp_path / "nothing")
    d_packs = sorted((store / "packs").iterdir())
    refused = dvx("gc", "-w", "-c", "s", "-f", "--grace", "0")
    said = " ".join(refused.stderr.split())
    assert refused.code == 1 and "Could not list the pack indexes" in said, refused.output
    assert "Put back the remote's indexes/ folder" in said, said
    assert sorted((store / "packs").iterdir()) == d_packs
    (store / "indexes").unlink()
    (tmp_path / "indexes").rename(store / "indexes")
    _assert_a_clone_pulls_d(repo, tmp_path)


def _pushed_d_on(kind, repo, dvx, request, tmp_path):
    """A remote of `kind` holding the folder d (ten small files, in packs), pushed and
    committed; its spec and, for a remote on this machine's disk, its folder."""
    spec = remote_for(kind, request, tmp_path)
    configure(dvx, repo, spec, name="s")
    for i in range(10):
        write(repo / "d" / f"{i}.bin", os.urandom(300))
    assert dvx("add", "d").code == 0 and dvx("push").code == 0
    commit_all(repo)
    root = {"dir": tmp_path / "store", "ssh": tmp_path / "ssh-store"}.get(kind)
    return spec, root


@pytest.mark.parametrize("kind", ["dir", "ssh", "moto"])
def test_a_remote_whose_indexes_folder_went_missing_stops_every_command(
        repo, dvx, request, tmp_path, kind):
    """A copy of the remote that missed indexes/ (on S3: no key under it) while its packs
    are there: pull, fetch, status -c and push say to put the folder back, instead of
    blaming whoever committed the data, and gc deletes none of the packs, which it would
    take for left over."""
    spec, root = _pushed_d_on(kind, repo, dvx, request, tmp_path)
    saved = {key: spec.get_key(key) for key in spec.list_keys() if key.startswith("indexes/")}
    if root is not None:
        shutil.move(root / "indexes", tmp_path / "indexes.moved")  # the folder itself gone
    else:
        for key in saved:
            spec.delete_key(key)
    packs_there = sorted(key for key in spec.list_keys() if key.startswith("packs/"))
    assert packs_there
    other = clone(repo, tmp_path, "other")
    for args, where in ((["pull"], other), (["fetch"], other), (["status", "-c"], other),
                        (["push"], repo), (["gc", "-w", "-c", "s", "-f", "--grace", "0"], repo)):
        refused = run_dvx_proc(*args, cwd=where, timeout=120)
        said = " ".join(refused.stderr.split())
        assert refused.code == 1, (args, refused.output)
        assert "holds packs, but its indexes/ folder is missing or empty" in said, (args, said)
        assert "Put back the remote's indexes/ folder" in said, said
        assert "without running `dvx push`" not in said and "Traceback" not in said, said
    assert sorted(key for key in spec.list_keys() if key.startswith("packs/")) == packs_there
    for key, data in saved.items():  # put back: nothing of d was lost
        spec.put_key(key, data)
    assert run_dvx_proc("pull", cwd=other, timeout=120).code == 0
    assert tree_bytes(other / "d") == tree_bytes(repo / "d")


@pytest.mark.parametrize("kind", ["dir", "ssh"])
def test_gc_deletes_no_pack_while_objects_it_keeps_are_in_no_index(repo, dvx, request,
                                                                   tmp_path, kind):
    """Some of the remote's indexes lost (the folder is there): the packs only they named
    look left over, but the objects they hold are kept by gc and named nowhere else, so gc
    deletes nothing and says to look at the remote with `dvx fsck --remote`."""
    spec, _ = _pushed_d_on(kind, repo, dvx, request, tmp_path)
    first = {key for key in spec.list_keys() if key.startswith("indexes/")}
    write(repo / "e" / "a.bin", os.urandom(300))
    assert dvx("add", "e").code == 0 and dvx("push").code == 0
    commit_all(repo, "e")
    lost = {key: spec.get_key(key) for key in spec.list_keys()
            if key.startswith("indexes/") and key not in first}
    for key in lost:  # e's indexes
        spec.delete_key(key)
    before = sorted(key for key in spec.list_keys() if not key.startswith("locks/"))
    refused = run_dvx_proc("gc", "-w", "-c", "s", "-f", "--grace", "0", cwd=repo, timeout=120)
    said = " ".join(refused.stderr.split())
    assert refused.code == 1 and "Nothing was deleted from the remote" in said, refused.output
    assert "`dvx fsck --remote s`" in said, said
    assert sorted(key for key in spec.list_keys() if not key.startswith("locks/")) == before
    for key, data in lost.items():
        spec.put_key(key, data)
    other = clone(repo, tmp_path, "other")
    assert run_dvx_proc("pull", cwd=other, timeout=120).code == 0
    assert tree_bytes(other / "e") == tree_bytes(repo / "e")


def _indexes_lost(store: Path, before: set[Path], age: float) -> tuple[dict[Path, bytes],
                                                                          list[str]]:
    """The indexes of `store` not in `before` deleted, and the packs no index names then
    dated `age` seconds back: (each deleted index -> its bytes, those packs)."""
    lost = {index: index.read_bytes() for index in (store / "indexes").iterdir()
            if index not in before}
    for index in lost:
        index.unlink()
    kept = [index.read_text() for index in before if index.name != "KEPT"]
    unnamed = sorted(p.name for p in (store / "packs").iterdir()
                     if not any(p.name in text for text in kept))
    when = time.time() - age
    for name in unnamed:
        os.utime(store / "packs" / name, (when, when))
    return lost, unnamed


def test_data_in_a_pack_whose_index_was_lost_is_not_blamed_on_whoever_committed_it(
        repo, dvx, tmp_path):
    """Some indexes lost, indexes/KEPT still there, their packs older than the grace period:
    pull names those packs and says the remote may be damaged and the data in one of them,
    not just that it was never pushed; fsck --remote says so too, and that gc keeps those
    packs, not that it deletes them after the grace period."""
    store = _push_and_commit_d(repo, dvx, tmp_path)
    first = set((store / "indexes").iterdir())
    write(repo / "e" / "a.bin", os.urandom(300))
    assert dvx("add", "e").code == 0 and dvx("push").code == 0
    commit_all(repo, "e")
    lost, unnamed = _indexes_lost(store, first, age=2 * 3600)  # e's
    assert (store / "indexes" / "KEPT").exists()
    assert unnamed
    other = clone(repo, tmp_path, "other")
    pulled = run_dvx_proc("pull", cwd=other, timeout=120)
    said = " ".join(pulled.stderr.split())
    assert pulled.code == 1 and "Traceback" not in said, said
    assert "Either whoever committed it" not in said, said
    assert f"older than the grace period, {'is' if len(unnamed) == 1 else 'are'} named by " \
        f"no index ({', '.join(unnamed)}). The data may be in " in said, said
    assert "the remote may have lost an index" in said, said
    assert "`dvx fsck --remote s`" in said, said
    checked = run_dvx_proc("fsck", "--remote", "s", cwd=other, timeout=120)
    said = " ".join(checked.stderr.split())
    assert checked.code == 1, checked.output
    assert "after the grace period" not in said, said
    assert "the remote looks damaged" in said and "deletes none of those packs" in said, said
    refused = run_dvx_proc("gc", "-w", "-c", "s", "-f", "--grace", "0", cwd=other, timeout=120)
    assert refused.code == 1 and "Nothing was deleted" in refused.stderr, refused.output
    for index, data in lost.items():  # put back: nothing of e was lost
        index.write_bytes(data)
    assert run_dvx_proc("pull", cwd=other, timeout=120).code == 0
    assert tree_bytes(other / "e") == tree_bytes(repo / "e")


def test_a_pack_a_push_may_be_uploading_now_does_not_hide_data_never_pushed(repo, dvx,
                                                                            tmp_path):
    """A pack no index names, but younger than the grace period (a push stopped a minute ago,
    or uploading now), and a teammate who committed data without `dvx push`: pull says the
    data was never pushed, and names no pack; fsck --remote takes the pack for a push's, not
    for a sign of lost indexes."""
    store = _push_and_commit_d(repo, dvx, tmp_path)
    first = set((store / "indexes").iterdir())
    write(repo / "e" / "a.bin", os.urandom(300))
    assert dvx("add", "e").code == 0 and dvx("push").code == 0
    commit_all(repo, "e")
    _indexes_lost(store, first, age=60)  # as a push stopped between its pack and its index
    checked = run_dvx_proc("fsck", "--remote", "s", cwd=repo, timeout=120)
    said = " ".join(checked.stderr.split())
    assert checked.code == 1 and "Traceback" not in said, checked.output
    assert "looks damaged" not in said, said
    assert "younger than gc's grace period" in said and "a push may be uploading" in said, said
    write(repo / "f.bin", os.urandom(300))
    assert dvx("add", "f.bin").code == 0  # committed, never pushed
    commit_all(repo)
    other = clone(repo, tmp_path, "other")
    pulled = run_dvx_proc("pull", "f.bin", cwd=other, timeout=120)
    said = " ".join(pulled.stderr.split())
    assert pulled.code == 1 and "Traceback" not in said, said
    assert "without running `dvx push`" in said and "named by no index" not in said, said


def test_fsck_counts_the_packs_no_index_names_from_one_listing(repo, dvx, tmp_path):
    """Packs no index names, younger than the grace period, and another, older, that a
    copy brings while fsck --remote checks the remote: the packs no index names, and the
    young ones among them, are counted from the same listing, never the young as the first
    look's count less the old of a later listing."""
    from tests.conftest import run_meanwhile

    store = _push_and_commit_d(repo, dvx, tmp_path)
    first = set((store / "indexes").iterdir())
    write(repo / "e" / "a.bin", os.urandom(300))
    assert dvx("add", "e").code == 0 and dvx("push").code == 0
    commit_all(repo, "e")
    _, young = _indexes_lost(store, first, age=60)  # as a push stopped before its index
    a_pack = sorted((store / "packs").iterdir())[0]
    copied = store / "packs" / ("0" * 32 + ".pack")

    def copy_an_old_pack() -> None:
        shutil.copyfile(a_pack, copied)
        os.utime(copied, (time.time() - 2 * 3600,) * 2)

    code, out, err = run_meanwhile("fsck.before_unindexed_packs", "fsck --remote s --json",
                                   repo, copy_an_old_pack)
    assert code == 1 and "Traceback" not in err, out + err
    summary = json.loads(out)
    assert (summary["unindexed_packs"], summary["young_unindexed_packs"]) == (
        len(young) + 1, len(young)), summary


def test_data_the_workspace_holds_is_committed_again_whatever_packs_no_index_names(
        repo, dvx, tmp_path):
    """The cache lost data never pushed, which the workspace still holds, on a remote holding
    an old pack no index names: push still says that `dvx commit` stores it again, and then
    `dvx push` uploads it."""
    store = _push_and_commit_d(repo, dvx, tmp_path)
    first = set((store / "indexes").iterdir())
    write(repo / "old.bin", os.urandom(300))
    assert dvx("add", "old.bin").code == 0 and dvx("push").code == 0
    _indexes_lost(store, first, age=2 * 3600)
    write(repo / "data.csv", "a,b\n1,2\n")
    assert dvx("add", "data.csv").code == 0
    commit_all(repo)
    shutil.rmtree(repo / ".dvx" / "cache")
    pushed = run_dvx_proc("push", "data.csv", cwd=repo, timeout=120)
    said = " ".join(pushed.stderr.split())
    assert pushed.code == 1, said
    assert "the workspace still holds it unchanged: `dvx commit data.csv` stores it in the " \
        "cache again" in said, said
    assert dvx("commit", "data.csv").code == 0
    assert run_dvx_proc("push", "data.csv", cwd=repo, timeout=120).code == 0


def test_an_index_of_a_newer_dvx_asks_for_an_upgrade_and_gc_deletes_nothing(repo, dvx,
                                                                            tmp_path):
    """A teammate's newer dvx wrote the only index of the remote: it is not damaged, and its
    packs are not left over; gc deletes nothing there (not even loose objects nothing needs)
    until dvx can read it."""
    store = tmp_path / "store"
    assert dvx("remote", "add", "-d", "s", str(store)).code == 0
    write(repo / "gone.bin", b"not needed any more")
    assert dvx("add", "gone.bin").code == 0 and dvx("push").code == 0
    (repo / "gone.bin.dvx").unlink()
    (repo / "gone.bin").unlink()
    write(repo / "d" / "a.bin", b"a" * 300)
    assert dvx("add", "d").code == 0 and dvx("push").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "data")
    for index in (store / "indexes").glob("*.idx"):  # as the newer dvx wrote them
        text = index.read_bytes().replace(b"dvx pack index 1 ", b"dvx pack index 2 ", 1)
        index.unlink()
        (store / "indexes" / (oid_of(text) + ".idx")).write_bytes(text)
    newer = sorted(p.name for p in (store / "indexes").glob("*.idx"))
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(repo), str(clone))
    pulled = run_dvx("pull", cwd=clone)
    assert pulled.code == 1, pulled.output
    said = " ".join(pulled.stderr.split())
    assert "was written by a newer dvx (format 2)" in said and "Upgrade dvx" in said, said
    found = run_dvx("fsck", "--remote", "s", "--json", cwd=clone)
    assert found.code == 1, found.output
    report = json.loads(found.stdout)
    assert [row["index"] for row in report["newer_indexes"]] == newer
    assert report["damaged_indexes"] == []
    shown = run_dvx("fsck", "--remote", "s", cwd=clone)
    said = " ".join(shown.stderr.split())
    assert "upgrade dvx to check it" in said and "gc --remote` deletes them" not in said, said
    before = sorted(str(p.relative_to(store)) for p in store.rglob("*") if "locks" not in p.parts)
    refused = dvx("gc", "-w", "-c", "s", "-f", "--grace", "0")  # the clone whose cache has d
    said = " ".join(refused.stderr.split())
    assert refused.code == 1 and "Nothing was deleted from the remote" in said, said
    assert "written by a newer dvx (format 2)" in said and "Upgrade dvx" in said, said
    assert sorted(str(p.relative_to(store)) for p in store.rglob("*")
                  if "locks" not in p.parts) == before
    for told in (pulled, found, shown, refused):
        assert "damaged" not in told.stderr and "move it out" not in told.stderr


def _assert_a_clone_pulls_d(repo: Path, tmp_path: Path) -> None:
    """A fresh clone of `repo` pulls its directory d byte for byte."""
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(repo), str(clone))
    pulled = run_dvx("pull", cwd=clone)
    assert pulled.code == 0, pulled.output
    assert tree_bytes(clone / "d") == tree_bytes(repo / "d")


def _pushed_with_its_index(repo: Path, dvx: Any, tmp_path: Path) -> Path:
    """Three files pushed (as one pack) and committed; the remote's index of them, writable
    so a test can damage it."""
    store = tmp_path / "store"
    assert dvx("remote", "add", "-d", "s", str(store)).code == 0
    for i in range(3):
        write(repo / "d" / f"{i}", f"data {i}")
    assert dvx("add", "d").code == 0 and dvx("push").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "data")
    index = max((store / "indexes").glob("*.idx"), key=lambda p: p.stat().st_size)  # the files'
    index.chmod(0o644)
    return index


@pytest.mark.parametrize("damage", ["truncated", "flipped"])
def test_an_index_damaged_on_the_remote_is_found_where_a_copy_of_it_is_kept(
        repo, dvx, tmp_path, damage):
    """The clone that pushed keeps a copy of its index: fsck --remote there still reads the
    remote's bytes, refuses the damaged index as a clone without a copy does, and the push
    --repair that follows uploads again what only it named."""
    index = _pushed_with_its_index(repo, dvx, tmp_path)
    data = index.read_bytes()
    flipped = data[:-2] + (b"1" if data[-2:-1] == b"0" else b"0") + b"\n"
    index.write_bytes(data[:40] if damage == "truncated" else flipped)  # under the same name
    found = dvx("fsck", "--remote", "s", "--json")
    assert found.code == 1, found.output
    report = json.loads(found.stdout)
    assert [row["index"] for row in report["damaged_indexes"]] == [index.name]
    assert {row["path"] for row in report["missing"]} == {f"d/{i}" for i in range(3)}
    repaired = dvx("push", "--repair")
    assert repaired.code == 0 and "Pushed 3 objects" in repaired.stdout, repaired.output
    _assert_a_clone_pulls_d(repo, tmp_path)


def test_a_pull_that_meets_a_damaged_index_says_the_data_may_be_in_its_pack(
        repo, dvx, tmp_path):
    """A clone pulls data that only a damaged index names (its pack intact): the data is not
    called never pushed, but perhaps in that index's pack, with the commands that repair it."""
    index = _pushed_with_its_index(repo, dvx, tmp_path)
    index.write_bytes(index.read_bytes() + b"\n")  # one byte more: refused as a whole
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(repo), str(clone))
    pulled = run_dvx("pull", cwd=clone)
    assert pulled.code == 1 and "Traceback" not in pulled.output
    assert f"damaged ({index.name}, refused above)" in pulled.stderr
    assert "`dvx fsck --remote s`" in pulled.stderr and "`dvx push --repair -r s`" in pulled.stderr
    assert "without running `dvx push`" not in pulled.stderr
    assert dvx("push", "--repair").code == 0
    assert run_dvx("pull", cwd=clone).code == 0
    assert tree_bytes(clone / "d") == tree_bytes(repo / "d")


def test_push_repair_reads_the_remote_s_own_index_not_the_copy_kept_here(repo, dvx, tmp_path):
    """The clone that pushed keeps a copy of its index: push --repair (with no fsck before it)
    still reads the remote's bytes, takes what only the damaged index names for missing and
    uploads it, so a clone that never saw the index can pull."""
    index = _pushed_with_its_index(repo, dvx, tmp_path)
    index.write_bytes(index.read_bytes()[:60])  # damaged on the remote, under the same name
    repaired = dvx("push", "--repair")
    assert repaired.code == 0 and "Pushed 3 objects" in repaired.stdout, repaired.output
    assert index.name in repaired.stderr and "Nothing it names is used" in repaired.stderr
    _assert_a_clone_pulls_d(repo, tmp_path)


def test_a_local_copy_of_an_index_damaged_here_is_replaced_by_fsck(repo, dvx, tmp_path):
    store = tmp_path / "store"
    assert dvx("remote", "add", "-d", "s", str(store)).code == 0
    write(repo / "f", "data")
    assert dvx("add", "f").code == 0 and dvx("push").code == 0
    copies = [p for p in (repo / ".dvx/tmp/indexes").rglob("*") if p.is_file()]
    assert copies
    for copy in copies:
        copy.chmod(0o644)
        copy.write_bytes(copy.read_bytes()[:20])  # damaged on this disk, not on the remote
    assert dvx("fsck", "--remote", "s").code == 0
    assert all(copy.read_bytes() == (store / "indexes" / copy.name).read_bytes()
               for copy in copies)


def _pushed_directory(repo: Path, dvx, store: Path, files: int, size: int) -> None:
    """`files` random files of `size` bytes in d/, added and pushed to the default remote."""
    assert dvx("remote", "add", "-d", "s", str(store)).code == 0
    for i in range(files):
        write(repo / "d" / f"{i}.bin", os.urandom(size))
    assert dvx("add", "d").code == 0
    assert dvx("push").code == 0


def _pushed_with_one_damaged(repo: Path, dvx, store: Path):
    """Five files pushed in one pack, one of them damaged there: (remote, its oid)."""
    _pushed_directory(repo, dvx, store, 5, 1000)
    remote = local_spec(store, str(store), {})
    bad = oid_of((repo / "d/3.bin").read_bytes())
    remote.write_raw(bad, b"\0" * 1000)
    return remote, bad


def test_push_repair_replaces_a_damaged_packed_object(repo, dvx, tmp_path):
    store = tmp_path / "store"
    remote, bad = _pushed_with_one_damaged(repo, dvx, store)
    repaired = dvx("push", "--repair", "--json")
    assert repaired.code == 0, repaired.output
    assert json.loads(repaired.stdout)["repaired"] == [bad]
    assert oid_of(remote.read_raw(bad)) == bad  # a fresh copy in a new pack
    assert dvx("fsck", "--remote", "s").code == 0


def test_push_repair_fails_when_the_local_copy_is_corrupt_too(repo, dvx, tmp_path):
    store = tmp_path / "store"
    _, bad = _pushed_with_one_damaged(repo, dvx, store)
    cached = repo / ".dvx/cache/files/xxh128" / bad[:2] / bad[2:]
    stored = os.stat(cached)
    os.chmod(cached, 0o644)
    cached.write_bytes(b"\1" * 1000)  # damaged here as well: nothing can replace it
    os.utime(cached, ns=(stored.st_atime_ns, stored.st_mtime_ns))  # as by the disk: no write
    repaired = dvx("push", "--repair", "--json")
    assert repaired.code == 1, repaired.output
    found = json.loads(repaired.stdout)
    assert found["repaired"] == [] and [row["oid"] for row in found["failed"]] == [bad]
    # Its ctime moved since it was stored: hashed before it is sent, and moved aside.
    assert "no longer holds the bytes its oid names" in found["failed"][0]["reason"]
    assert not cached.exists()
    assert "Repaired" not in dvx("push", "--repair").output


def test_fsck_takes_out_only_the_damaged_copy_of_an_object_packed_twice(repo, dvx, tmp_path):
    store = tmp_path / "store"
    _pushed_directory(repo, dvx, store, 5, 1000)
    datas = [(repo / "d" / f"{i}.bin").read_bytes() for i in range(5)]
    section, data = _section(*reversed(datas))  # a second copy, as two clones pushing at once
    bad = oid_of(datas[2])
    offset = next(off for oid, off, _ in section.entries if oid == bad)
    damaged = bytearray(data)
    damaged[offset] ^= 0xFF
    (store / "packs" / section.pack).write_bytes(bytes(damaged))
    index = write_index([section], ALGO)
    (store / "indexes" / packs.index_name(index, ALGO)).write_bytes(index)
    os.rename(repo / ".dvx" / "cache", tmp_path / "cache-before")
    fetched = dvx("fetch")  # whichever copy it reads first, the other is there
    assert fetched.code == 0, fetched.output

    checked = dvx("fsck", "--remote", "s")
    assert checked.code == 0 and "another copy of each is whole" in checked.stderr, checked.output
    named = [line.split()[0] for p in (store / "indexes").glob("*.idx")
             for line in p.read_text().splitlines()[1:] if len(line.split()) == 3]
    assert named.count(bad) == 1 and all(named.count(oid_of(d)) == 2 for d in datas
                                         if oid_of(d) != bad)
    os.rename(repo / ".dvx" / "cache", tmp_path / "old-cache")
    fetched = dvx("fetch")
    assert fetched.code == 0, fetched.output
    assert dvx("status", "-q").code == 0


def _index_entries(store: Path) -> list[tuple[str, str]]:
    """(pack, oid) of every packed object every index on `store` names, once per entry."""
    entries = []
    for index in (store / "indexes").glob("*.idx"):
        for section in read_index(index.read_bytes().splitlines(keepends=True), ALGO):
            entries += [(str(section.pack), oid) for oid, _, _ in section.entries
                        if section.pack is not None]
    return entries


def test_fsck_takes_out_only_the_damaged_one_of_two_copies_in_one_pack(repo, dvx, tmp_path):
    """An object at two offsets of one pack (what gc --remote used to write from an object
    packed twice): the index is used as it is, and one damaged copy leaves the indexes while
    the whole one stays named, so every clone can still read the object."""
    store = tmp_path / "store"
    _pushed_directory(repo, dvx, store, 5, 1000)
    files_index = max((store / "indexes").glob("*.idx"), key=lambda p: p.stat().st_size)
    files_pack = files_index.read_text().splitlines()[1].split()[1]
    datas = [(repo / "d" / f"{i}.bin").read_bytes() for i in range(5)]
    bad = oid_of(datas[2])
    section, data = _section(*datas, datas[2])  # d/2.bin twice, at two offsets
    first = min(off for oid, off, _ in section.entries if oid == bad)
    damaged = bytearray(data)
    damaged[first + 10] ^= 0xFF
    (store / "packs" / section.pack).write_bytes(bytes(damaged))
    index = write_index([section], ALGO)
    (store / "indexes" / packs.index_name(index, ALGO)).write_bytes(index)
    files_index.unlink()  # the pack above is the files' only one
    (store / "packs" / files_pack).unlink()

    checked = dvx("fsck", "--remote", "s")
    assert checked.code == 0 and "another copy of each is whole" in checked.stderr, checked.output
    assert _index_entries(store).count((section.pack, bad)) == 1
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "data")
    _assert_a_clone_pulls_d(repo, tmp_path)


def test_fsck_and_gc_remote_keep_a_copy_another_index_names_with_a_wrong_length(
        repo, dvx, tmp_path):
    """A second index naming a whole packed copy with a wrong length: fsck --remote takes
    out only that entry, and gc --remote then keeps the pack, so a fresh clone still pulls
    every file."""
    store = tmp_path / "store"
    _pushed_directory(repo, dvx, store, 5, 1000)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "data")
    pack, oid, _, _ = _index_naming_one_copy_a_byte_short(store)

    checked = dvx("fsck", "--remote", "s")
    assert checked.code == 0 and "another copy of each is whole" in checked.stderr, checked.output
    assert _index_entries(store).count((pack, oid)) == 1
    collected = dvx("gc", "-w", "-c", "s", "-f", "--grace", "0")
    assert collected.code == 0, collected.output
    assert (store / "packs" / pack).exists()
    _assert_a_clone_pulls_d(repo, tmp_path)


def test_gc_remote_writes_an_object_packed_twice_into_its_new_pack_once(repo, dvx, tmp_path):
    store = tmp_path / "store"
    _pushed_directory(repo, dvx, store, 5, 1000)
    datas = [(repo / "d" / f"{i}.bin").read_bytes() for i in range(5)]
    section, data = _section(*reversed(datas))  # a second copy, as two clones pushing at once
    (store / "packs" / section.pack).write_bytes(data)
    index = write_index([section], ALGO)
    (store / "indexes" / packs.index_name(index, ALGO)).write_bytes(index)
    (repo / "d" / "0.bin").unlink()  # both packs now hold a dead object: both are rewritten
    assert dvx("add", "d").code == 0 and dvx("push").code == 0
    collected = dvx("gc", "-w", "-c", "s", "-f", "--grace", "0")
    assert collected.code == 0, collected.output
    named = Counter(oid for _, oid in _index_entries(store))
    assert all(named[oid_of(d)] == 1 for d in datas[1:]), named
    assert oid_of(datas[0]) not in named
    assert dvx("fsck", "--remote", "s").code == 0


def _pack_bytes(spec: RemoteSpec) -> tuple[Counter[str], dict[str, int]]:
    """What a remote's packs hold: how many index entries name each packed object (a gone
    pack's too), and for each pack there its bytes (after the header) that no index entry
    names."""
    named: Counter[str] = Counter()
    unnamed = {key.split("/")[1]: len(spec.get_key(key)) - packs.PACK_HEADER_SIZE
               for key in spec.list_keys() if key.startswith("packs/")}
    for key in spec.list_keys():
        if key.startswith("indexes/") and key.endswith(".idx"):
            for section in read_index(spec.get_key(key).splitlines(keepends=True), ALGO):
                if section.pack is not None:
                    named.update(oid for oid, _, _ in section.entries)
                    if section.pack in unnamed:
                        unnamed[section.pack] -= sum(length for _, _, length in section.entries)
    return named, unnamed


def test_a_push_whose_pack_index_could_not_be_written_counts_none_of_its_bytes(
        repo, dvx, tmp_path):
    """The objects of a pack uploaded whose index then failed are failed, bytes and all: the
    summary counts none of them as pushed."""
    store = tmp_path / "store"
    assert dvx("remote", "add", "-d", "r", str(store)).code == 0
    for i in range(3):
        write(repo / f"f{i}", f"f{i}\n")
    assert dvx("add", "f0", "f1", "f2").code == 0
    pushing = stopped_at("packs.after_pack", "push", repo)  # listed indexes/, pack is up
    try:
        shutil.rmtree(store / "indexes", ignore_errors=True)
        (store / "indexes").write_text("")  # where the index goes: a file
    finally:
        pushing.send_signal(signal.SIGCONT)
        out, err = pushing.communicate(timeout=60)
    assert pushing.returncode == 1, out + err
    assert "Pushed 0 objects (0 B); 0 already there; 3 failed" in out + err
    assert "its pack index could not be written" in err


@pytest.mark.parametrize("kind", ["dir", "moto"])
def test_gc_remote_keeps_one_copy_of_what_two_pushes_at_once_packed_twice(
        repo, dvx, request, tmp_path, kind):
    """Two clones push the same files at once: each finds nothing there and packs them all.
    Both packs are full of live objects; gc keeps one and deletes the other, and says what
    that freed."""
    spec = remote_for(kind, request, tmp_path)
    configure(dvx, repo, spec)
    commit_all(repo, "remote")
    other = clone(repo, tmp_path, "other")
    for who in (repo, other):
        for i in range(40):
            write(who / "d" / f"{i}.bin", f"file {i} ".encode() * 100)
        assert dvx("add", "d", cwd=who).code == 0
    first = stopped_at("packs.before_index", "push", repo)  # its pack is up, not its index
    try:
        assert run_dvx("push", cwd=other).code == 0
    finally:
        first.send_signal(signal.SIGCONT)
        out, err = first.communicate(timeout=60)
    assert first.returncode == 0, out + err
    named, _ = _pack_bytes(spec)
    files = {oid_of((repo / "d" / f"{i}.bin").read_bytes()) for i in range(40)}
    assert all(named[oid] == 2 for oid in files)
    packs_before = {key for key in spec.list_keys() if key.startswith("packs/")}

    collected = dvx("gc", "-w", "-c", "r", "-f", "--grace", "0", "--json")
    assert collected.code == 0, collected.output
    summary = json.loads(collected.stdout)[1]
    assert summary["removed"] == 0 and summary["unindexed_packs_removed"] == 0
    assert summary["copies_bytes_freed"] == sum(len(f"file {i} ") * 100 for i in range(40))
    named, unnamed = _pack_bytes(spec)
    assert all(named[oid] == 1 for oid in files) and set(unnamed.values()) == {0}
    assert {key for key in spec.list_keys() if key.startswith("packs/")} < packs_before
    assert dvx("fsck", "--remote", "r").code == 0
    shutil.rmtree(other / ".dvx" / "cache")
    assert run_dvx("pull", cwd=other).code == 0
    assert tree_bytes(other / "d") == tree_bytes(repo / "d")


def test_gc_remote_leaves_a_pack_alone_for_a_few_second_copies(repo, dvx, tmp_path):
    """A pack whose objects are mostly its own stays as it is, second copies and all: a
    rewrite would copy the whole pack to free a fifth of it."""
    store = tmp_path / "store"
    _pushed_directory(repo, dvx, store, 10, 1000)
    datas = [(repo / "d" / f"{i}.bin").read_bytes() for i in range(10)]
    more = [os.urandom(1000) for _ in range(8)]
    section, data = _section(*datas[:2], *more)  # two of d's files, packed again
    (store / "packs" / section.pack).write_bytes(data)
    index = write_index([section], ALGO)
    (store / "indexes" / packs.index_name(index, ALGO)).write_bytes(index)
    for i, extra in enumerate(more):
        write(repo / "e" / f"{i}.bin", extra)
    assert dvx("add", "e").code == 0 and dvx("push").code == 0  # e's manifest alone
    packs_before = set(os.listdir(store / "packs"))
    collected = dvx("gc", "-w", "-c", "s", "-f", "--grace", "0")
    assert collected.code == 0, collected.output
    assert set(os.listdir(store / "packs")) == packs_before
    assert "Freed" not in collected.stdout


def test_gc_remote_rewrites_a_pack_holding_a_damaged_copy_fsck_took_out(repo, dvx, tmp_path):
    """A damaged copy that fsck --remote took out of the indexes (and push --repair uploaded
    again) leaves bytes no index names in a pack that is otherwise live: gc rewrites that
    pack, and the damaged bytes are gone."""
    store = tmp_path / "store"
    remote, _ = _pushed_with_one_damaged(repo, dvx, store)
    assert dvx("fsck", "--remote", "s").code == 1
    assert dvx("push", "--repair").code == 0
    damaged_pack = next(p for p in (store / "packs").iterdir() if b"\0" * 1000 in p.read_bytes())
    collected = dvx("gc", "-w", "-c", "s", "-f", "--grace", "0", "--json")
    assert collected.code == 0, collected.output
    summary = json.loads(collected.stdout)[1]
    assert summary["removed"] == 0 and summary["copies_bytes_freed"] == 1000
    assert not damaged_pack.exists()
    assert not any(b"\0" * 1000 in p.read_bytes() for p in (store / "packs").iterdir())
    named, unnamed = _pack_bytes(remote)
    assert set(named.values()) == {1} and set(unnamed.values()) == {0}
    assert dvx("fsck", "--remote", "s").code == 0
    os.rename(repo / ".dvx" / "cache", tmp_path / "old-cache")
    assert dvx("fetch").code == 0 and dvx("status", "-q").code == 0


def test_gc_remote_copies_an_object_whose_copy_in_the_pack_it_keeps_is_damaged(
        repo, dvx, tmp_path):
    """Of an object packed twice, gc deletes the copy in the pack it drops only once the
    copy it keeps is found whole: a damaged one (not yet found by fsck) leaves the whole
    copy to be written into a new pack, so the remote never loses the object."""
    store = tmp_path / "store"
    _pushed_directory(repo, dvx, store, 5, 1000)
    datas = [(repo / "d" / f"{i}.bin").read_bytes() for i in range(5)]
    section, data = _section(*datas[:4])  # four of them again: the smaller pack goes
    (store / "packs" / section.pack).write_bytes(data)
    index = write_index([section], ALGO)
    (store / "indexes" / packs.index_name(index, ALGO)).write_bytes(index)
    remote = local_spec(store, str(store), {})
    bad = oid_of(datas[2])
    kept_pack = next(p for p in (store / "packs").iterdir()
                     if p.name != section.pack and datas[2] in p.read_bytes())
    whole = kept_pack.read_bytes()
    offset = whole.index(datas[2])
    kept_pack.chmod(0o644)
    kept_pack.write_bytes(whole[:offset] + b"\0" * 1000 + whole[offset + 1000:])

    collected = dvx("gc", "-w", "-c", "s", "-f", "--grace", "0")
    assert collected.code == 0, collected.output
    assert f"object {bad} is damaged in pack {kept_pack.name}" in collected.stderr
    assert not (store / "packs" / section.pack).exists()
    named, _ = _pack_bytes(remote)
    assert named[bad] == 2 and all(named[oid_of(d)] == 1 for d in datas if oid_of(d) != bad)
    checked = dvx("fsck", "--remote", "s")
    assert checked.code == 0 and "another copy of each is whole" in checked.stderr, checked.output
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "data")
    _assert_a_clone_pulls_d(repo, tmp_path)


def test_gc_remote_counts_the_packs_no_index_names_that_it_deletes(repo, dvx, tmp_path):
    """A push killed between its pack and its index leaves a pack no index names: once the
    push ran again, gc deletes it when it is older than the grace period, and says so, where
    its summary of objects alone would say it removed none."""
    store = tmp_path / "store"
    assert dvx("remote", "add", "-d", "s", str(store)).code == 0
    for i in range(5):
        write(repo / "d" / f"{i}.bin", os.urandom(1000))
    assert dvx("add", "d").code == 0
    killed = run_dvx_proc("push", cwd=repo, env={"DVX_FAULT": "packs.before_index"})
    assert killed.code == -signal.SIGKILL
    (left,) = (store / "packs").iterdir()
    assert dvx("push").code == 0
    planned = dvx("gc", "-w", "-c", "s", "--grace", "0", "--dry-run", "--json")
    assert planned.code == 0, planned.output
    summary = json.loads(planned.stdout)[1]
    assert (summary["removed"], summary["unindexed_packs_removed"]) == (0, 1)
    assert summary["unindexed_packs_bytes"] == packs.PACK_HEADER_SIZE + 5000 == left.stat().st_size
    collected = dvx("gc", "-w", "-c", "s", "-f", "--grace", "0")
    assert collected.code == 0, collected.output
    assert collected.stdout.splitlines()[1:] == [
        "Removed 0 objects (0 B) from the remote 's'; kept 6 in use.",
        "Deleted 1 pack (4.9 KiB) on the remote 's' that no index named (left by an "
        "interrupted push or `dvx gc --remote`, or holding only copies `dvx fsck --remote` "
        "took out of the indexes as damaged)."]
    assert not left.exists()


def test_gc_remote_reads_a_kept_object_the_cache_holds_once_and_never_one_no_pack_can_hold(
        repo, dvx, tmp_path, monkeypatch):
    """Objects gc keeps that no index names, held by the cache, as two packs two killed
    pushes left are searched for them: one larger than both packs is never read, and one
    that fits is read for each pack, but hashed once for both. Both packs go."""
    store = tmp_path / "store"
    assert dvx("remote", "add", "-d", "s", str(store)).code == 0
    for folder in ("d", "e"):
        for i in range(5):
            write(repo / folder / f"{i}.bin", os.urandom(1000 + i))
        assert dvx("add", folder).code == 0
        killed = run_dvx_proc("push", cwd=repo, env={"DVX_FAULT": "packs.before_index"})
        assert killed.code == -signal.SIGKILL
    left = list((store / "packs").iterdir())
    assert len(left) == 2
    assert dvx("push").code == 0
    write(repo / "small.bin", os.urandom(300))
    write(repo / "large.bin", os.urandom(64 << 10))
    assert dvx("add", "small.bin", "large.bin").code == 0
    commit_all(repo, "data")
    small, large = (pointer_oid(repo / f"{name}.bin.dvx") for name in ("small", "large"))
    read: list[str] = []
    hashed: list[str] = []
    read_bytes, intact, hash_bytes = LocalCache.read_bytes, LocalCache.intact, gc.hash_bytes

    def reading(cache: LocalCache, oid: str) -> bytes:
        read.append(oid)
        return read_bytes(cache, oid)

    def checking(cache: LocalCache, oid: str, st: os.stat_result) -> bool:
        read.append(oid)
        return intact(cache, oid, st)

    def hashing(data: bytes, algo: str) -> str:
        hashed.append(hash_bytes(data, algo))
        return hashed[-1]

    with monkeypatch.context() as patched:
        patched.setattr(LocalCache, "read_bytes", reading)
        patched.setattr(LocalCache, "intact", checking)
        patched.setattr(gc, "hash_bytes", hashing)
        collected = dvx("gc", "-w", "-c", "s", "-f", "--grace", "0")
    assert collected.code == 0, collected.output
    assert "Deleted 2 packs" in collected.stdout, collected.output
    assert not any(pack.exists() for pack in left)
    assert large not in read
    assert hashed.count(small) >= 1 and read.count(small) == 2 * hashed.count(small)  # a pack each


def test_gc_remote_deletes_the_pack_a_killed_push_left_while_it_keeps_data_never_pushed(
        repo, dvx, tmp_path, monkeypatch):
    """A push killed between its pack and its index, then run again, leaves a pack that
    holds only objects the indexes name: gc deletes it, though it keeps objects never pushed
    to that remote (a commit not pushed yet), which no pack can hold. Its plan lists the
    remote's loose objects once, not again to look for those objects."""
    store = tmp_path / "store"
    assert dvx("remote", "add", "-d", "s", str(store)).code == 0
    for i in range(5):
        write(repo / "d" / f"{i}.bin", os.urandom(1000 + i))
    assert dvx("add", "d").code == 0
    killed = run_dvx_proc("push", cwd=repo, env={"DVX_FAULT": "packs.before_index"})
    assert killed.code == -signal.SIGKILL
    (left,) = (store / "packs").iterdir()
    assert dvx("push").code == 0
    write(repo / "unpushed.bin", os.urandom(300))
    assert dvx("add", "unpushed.bin").code == 0
    commit_all(repo, "data")
    listings: list[str | None] = []
    list_loose = RemoteStore.list_loose

    def counted(remote: RemoteStore) -> Iterator[str]:
        listings.append(remote.name)
        return list_loose(remote)

    with monkeypatch.context() as patched:
        patched.setattr(RemoteStore, "list_loose", counted)
        planned = dvx("gc", "-w", "-c", "s", "--grace", "0", "--dry-run")
    assert planned.code == 0 and "Would delete 1 pack" in planned.stdout, planned.output
    assert listings == []  # the listing gc's plan made of the remote serves
    collected = dvx("gc", "-w", "-c", "s", "-f", "--grace", "0")
    assert collected.code == 0, collected.output
    assert "Deleted 1 pack (4.9 KiB) on the remote 's' that no index named" in \
        collected.stdout, collected.output
    assert not left.exists()
    assert dvx("push").code == 0
    other = clone(repo, tmp_path, "other")
    assert run_dvx_proc("pull", cwd=other, timeout=120).code == 0
    assert tree_bytes(other / "d") == tree_bytes(repo / "d")
    assert (other / "unpushed.bin").read_bytes() == (repo / "unpushed.bin").read_bytes()


def test_gc_remote_keeps_the_pack_of_a_killed_push_that_holds_what_it_keeps(repo, dvx,
                                                                            tmp_path):
    """A push killed between its pack and its index, and not run again: its pack holds
    objects gc keeps and no index names, so gc deletes nothing and says to push them; once
    they are pushed, it deletes that pack."""
    store = tmp_path / "store"
    assert dvx("remote", "add", "-d", "s", str(store)).code == 0
    for i in range(5):
        write(repo / "d" / f"{i}.bin", os.urandom(1000))
    assert dvx("add", "d").code == 0
    killed = run_dvx_proc("push", cwd=repo, env={"DVX_FAULT": "packs.before_index"})
    assert killed.code == -signal.SIGKILL
    (left,) = (store / "packs").iterdir()
    refused = dvx("gc", "-w", "-c", "s", "-f", "--grace", "0")
    said = " ".join(refused.stderr.split())
    assert refused.code == 1 and "Nothing was deleted from the remote: 6 objects" in said, \
        refused.output
    assert f"pack that no index names (such as {left.name}, which holds " in said, said
    assert said.count(left.name) == 1, said
    assert "`dvx push` them first" in said, said
    assert left.exists()
    assert dvx("push").code == 0
    collected = dvx("gc", "-w", "-c", "s", "-f", "--grace", "0")
    assert collected.code == 0, collected.output
    assert not left.exists()


def test_gc_remote_keeps_the_pack_of_a_killed_push_when_the_pack_the_indexes_name_is_gone(
        repo, dvx, tmp_path):
    """A push killed between its pack and its index, run again, then its second pack lost
    (a copy of the remote that missed it): the indexes name the objects only in that gone
    pack, and the pack the killed push left is their one copy there. gc deletes nothing,
    naming both packs and `dvx push --repair`; once that ran, gc deletes the leftover and a
    fresh clone pulls everything."""
    store = tmp_path / "store"
    assert dvx("remote", "add", "-d", "s", str(store)).code == 0
    for i in range(5):
        write(repo / "d" / f"{i}.bin", os.urandom(1000))
    assert dvx("add", "d").code == 0
    commit_all(repo, "data")
    killed = run_dvx_proc("push", cwd=repo, env={"DVX_FAULT": "packs.before_index"})
    assert killed.code == -signal.SIGKILL
    (left,) = (store / "packs").iterdir()
    assert dvx("push").code == 0
    lost = sorted(set((store / "packs").iterdir()) - {left})  # the files', the manifest's
    for pack in lost:
        pack.unlink()
    for extra in (["--dry-run"], ["-f"]):
        refused = dvx("gc", "-w", "-c", "s", "--grace", "0", *extra)
        said = " ".join(refused.stderr.split())
        assert refused.code == 1, refused.output
        assert "Nothing was deleted from the remote: 6 objects that gc keeps" in said, said
        assert "named by its pack indexes only in 2 packs (such as " in said, said
        assert "which are gone from the remote" in said, said
        assert f"(such as {left.name}, which holds " in said, said
        assert "`dvx push --repair -r s`" in said, said
        assert left.exists()
    assert dvx("push", "--repair").code == 0
    collected = dvx("gc", "-w", "-c", "s", "-f", "--grace", "0")
    assert collected.code == 0, collected.output
    assert "Deleted 1 pack" in collected.stdout and "lost" not in collected.output
    assert not left.exists()
    _assert_a_clone_pulls_d(repo, tmp_path)


def test_gc_remote_says_which_pack_the_indexes_name_is_gone_and_leaves_its_lost_data_named(
        repo, dvx, tmp_path):
    """A pack the indexes name, gone from the remote with no pack left over that may hold
    its objects: gc goes on with the rest (a dead object in another pack goes), counts as
    kept only what the remote holds, and names the gone pack, the objects it keeps that only
    it held, and `dvx push --repair`, even with -q. Its new index names those objects there
    still, so a pull says they are lost, never that they were not pushed; the gone pack's
    dead objects are named no more, and not counted as young."""
    store = tmp_path / "store"
    assert dvx("remote", "add", "-d", "s", str(store)).code == 0
    for i in range(3):
        write(repo / "d" / f"{i}.bin", os.urandom(1000))
    write(repo / "e.bin", b"e, first version")
    assert dvx("add", "d", "e.bin").code == 0 and dvx("push").code == 0
    lost = sorted(pack.name for pack in (store / "packs").iterdir())  # files', manifest's
    write(repo / "e.bin", b"e, second version")
    write(repo / "g.bin", b"g, first version")
    assert dvx("add", "e.bin", "g.bin").code == 0 and dvx("push").code == 0
    write(repo / "g.bin", b"g, second version")
    assert dvx("add", "g.bin").code == 0 and dvx("push").code == 0
    commit_all(repo, "data")
    for name in lost:
        (store / "packs" / name).unlink()
    remote = local_spec(store, str(store), {})
    d_oids = sorted([pointer_oid(repo / "d.dvx"), *(
        oid_of((repo / "d" / f"{i}.bin").read_bytes()) for i in range(3))])
    dead = [oid_of(b"e, first version"), oid_of(b"g, first version")]

    collected = dvx("gc", "-w", "-c", "s", "-f", "-q", "--grace", "0", "--json")
    assert collected.code == 0, collected.output
    summary = json.loads(collected.stdout)[1]
    assert (summary["lost_oids"], summary["lost_packs"]) == (d_oids, lost)
    assert (summary["removed_oids"], summary["reachable"]) == ([dead[1]], 2)
    assert summary["kept_young"] == 0
    said = " ".join(collected.stderr.split())
    assert f"The remote 's' lost pack {lost[0]} and 1 more pack (deleted outside" in said, said
    assert "4 objects gc keeps (such as" in said and "`dvx push --repair -r s`" in said, said
    named, _ = _pack_bytes(remote)
    assert all(named[oid] == 1 for oid in d_oids) and not any(named[oid] for oid in dead)

    other = clone(repo, tmp_path, "other")
    pulled = run_dvx("pull", cwd=other)
    assert pulled.code == 1 and "The remote 's' lost that data" in pulled.stderr, pulled.output
    assert dvx("push", "--repair").code == 0
    assert dvx("fsck", "--remote", "s").code == 0
    again = dvx("gc", "-w", "-c", "s", "-f", "--grace", "0")
    assert again.code == 0 and "lost" not in again.output, again.output
    _assert_a_clone_pulls_d(repo, tmp_path)


def test_gc_remote_waits_for_a_push_between_its_pack_and_its_index_not_blaming_damage(
        repo, dvx, tmp_path):
    """A teammate's push stopped between its pack and its index holds the remote's lock:
    gc --grace 0 in another clone, whose scope keeps what that pack holds, says the remote
    is in use by that push (exit 3, as gc says with the default grace), not that the remote
    looks damaged; a dry run names the push too. A gc waiting for it goes ahead once the
    push is done, and that push's data stays."""
    store = tmp_path / "store"
    assert dvx("remote", "add", "-d", "s", str(store)).code == 0
    names = [f"{i}.bin" for i in range(5)]
    for name in names:
        write(repo / name, os.urandom(1000))
    assert dvx("add", *names).code == 0
    commit_all(repo, "files")
    other = clone(repo, tmp_path, "other")
    pushing = stopped_at("packs.before_index", "push", repo)
    try:
        (pack,) = (store / "packs").iterdir()
        assert dvx("config", "core.lock_wait", "0", cwd=other).code == 0
        for extra in ([], ["--dry-run"]):
            refused = dvx("gc", "-a", "-T", "-c", "s", "-f", "--grace", "0", *extra, cwd=other)
            assert refused.code == 3, refused.output
            assert "in use by a dvx push (`dvx push`" in refused.stderr, refused.output
            assert "damaged" not in refused.output and pack.exists()
        assert dvx("config", "core.lock_wait", "120", cwd=other).code == 0
        waiting = subprocess.Popen(
            [sys.executable, "-m", "dvx", "gc", "-a", "-T", "-c", "s", "-f", "--grace", "0"],
            cwd=other, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            stdin=subprocess.DEVNULL)
        assert waiting.stderr is not None
        said = waiting.stderr.readline()
        assert "Waiting up to 120s for a dvx push" in said, said
    finally:
        pushing.send_signal(signal.SIGCONT)
        out, err = pushing.communicate(timeout=60)
    assert pushing.returncode == 0, out + err
    rest, err = waiting.communicate(timeout=120)
    assert waiting.returncode == 0, said + rest + err
    assert pack.exists() and dvx("fsck", "--remote", "s").code == 0
    assert run_dvx_proc("pull", cwd=other).code == 0
    assert all((other / name).read_bytes() == (repo / name).read_bytes() for name in names)


def test_gc_remote_dry_run_names_a_push_between_its_pack_and_its_index_listing_nothing(
        repo, dvx, tmp_path):
    """A teammate's push of data no commit uses yet, stopped between its pack and its
    index, holds the remote's lock: a dry run of gc --grace 0 in another clone, whose scope
    needs nothing of that pack, says the remote is in use by that push and that the real run
    would wait for it (exit 3, as the real run then says), instead of listing the push's
    objects and its pack as left by an interrupted push. Once the push is done, it plans."""
    store = tmp_path / "store"
    assert dvx("remote", "add", "-d", "s", str(store)).code == 0
    write(repo / "kept.bin", os.urandom(1000))
    assert dvx("add", "kept.bin").code == 0 and dvx("push").code == 0
    commit_all(repo, "kept")
    other = clone(repo, tmp_path, "other")
    assert dvx("config", "core.lock_wait", "0", cwd=other).code == 0
    names = [f"wip{i}.bin" for i in range(3)]
    for name in names:
        write(repo / name, os.urandom(1000))
    assert dvx("add", *names).code == 0
    pushing = stopped_at("packs.before_index", "push", repo)
    try:
        for extra in ([], ["--json"]):
            planned = dvx("gc", "-w", "-c", "s", "--grace", "0", "--dry-run", *extra,
                          cwd=other)
            assert planned.code == 3, planned.output
            said = " ".join(planned.stderr.split())
            assert "in use by a dvx push (`dvx push`" in said, planned.output
            assert "a real run would wait for it" in said, planned.output
            assert "Would" not in planned.output and "interrupted" not in planned.output
        refused = dvx("gc", "-w", "-c", "s", "--grace", "0", "-f", cwd=other)
        assert refused.code == 3 and "in use by a dvx push" in refused.stderr, refused.output
    finally:
        pushing.send_signal(signal.SIGCONT)
        out, err = pushing.communicate(timeout=60)
    assert pushing.returncode == 0, out + err
    planned = dvx("gc", "-w", "-c", "s", "--grace", "0", "--dry-run", cwd=other)
    assert planned.code == 0 and "no index named" not in planned.output, planned.output
    assert f"Would remove {len(names)} objects (" in planned.output, planned.output


def _pushed_a_b_and_committed_c(repo, dvx, tmp_path) -> tuple[Path, bytes]:
    """a and b pushed; c, whose bytes are a's then b's, committed (not pushed): the store."""
    store = tmp_path / "store"
    assert dvx("remote", "add", "-d", "s", str(store)).code == 0
    write(repo / "a", b"alpha-bytes\n")
    write(repo / "b", b"beta-bytes\n")
    assert dvx("add", "a", "b").code == 0 and dvx("push").code == 0
    write(repo / "c", b"alpha-bytes\nbeta-bytes\n")
    assert dvx("add", "c").code == 0
    commit_all(repo, "a, b and c")
    return store, (repo / "c").read_bytes()


def test_gc_remote_keeps_a_pack_whose_lost_index_named_an_object_made_of_two_others(
        repo, dvx, tmp_path):
    """c, whose bytes are a's then b's, pushed in a pack of its own whose index is then
    lost: that pack's bytes are objects the indexes name, end to end, and c too, which only
    it holds. gc, from a clone that lacks c, deletes nothing and names c in that pack; once
    the index is put back, a fresh clone pulls c."""
    store, c = _pushed_a_b_and_committed_c(repo, dvx, tmp_path)
    indexes = set((store / "indexes").iterdir())
    assert dvx("push").code == 0
    (index,) = set((store / "indexes").iterdir()) - indexes
    named_c = index.read_bytes()
    index.unlink()
    other = clone(repo, tmp_path, "other")
    packs_before = sorted((store / "packs").iterdir())
    refused = run_dvx_proc("gc", "-a", "-T", "-c", "s", "-f", "--grace", "0", cwd=other,
                           timeout=120)
    said = " ".join(refused.stderr.split())
    assert refused.code == 1 and "Nothing was deleted from the remote: 1 object" in said, \
        refused.output
    (holding,) = [pack.name for pack in packs_before if pack.name in said]
    assert f"(such as {holding}, which holds {oid_of(c)})" in said, said
    assert said.count(holding) == 1, said  # the pack named once
    assert sorted((store / "packs").iterdir()) == packs_before
    index.write_bytes(named_c)
    fresh = clone(repo, tmp_path, "fresh")
    assert run_dvx_proc("pull", cwd=fresh, timeout=120).code == 0
    assert (fresh / "c").read_bytes() == c


def test_gc_remote_keeps_the_pack_of_a_killed_push_of_an_object_made_of_two_others(
        repo, dvx, tmp_path):
    """c, whose bytes are a's then b's, in the pack of a push killed before its index: the
    only copy of c anywhere but the cache of the clone that pushed it. gc from another clone
    deletes nothing; once that push is run again, gc deletes the pack, and a fresh clone
    pulls c."""
    store, c = _pushed_a_b_and_committed_c(repo, dvx, tmp_path)
    packs_before = set((store / "packs").iterdir())
    killed = run_dvx_proc("push", cwd=repo, env={"DVX_FAULT": "packs.before_index"})
    assert killed.code == -signal.SIGKILL
    (left,) = set((store / "packs").iterdir()) - packs_before
    other = clone(repo, tmp_path, "other")
    refused = run_dvx_proc("gc", "-a", "-T", "-c", "s", "-f", "--grace", "0", cwd=other,
                           timeout=120)
    said = " ".join(refused.stderr.split())
    assert refused.code == 1, refused.output
    assert f"(such as {left.name}, which holds {oid_of(c)})" in said, said
    assert said.count(left.name) == 1, said
    assert left.exists()
    assert dvx("push").code == 0
    collected = run_dvx_proc("gc", "-a", "-T", "-c", "s", "-f", "--grace", "0", cwd=other,
                             timeout=120)
    assert collected.code == 0, collected.output
    assert "that no index named" in collected.stdout, collected.output
    assert not left.exists()
    fresh = clone(repo, tmp_path, "fresh")
    assert run_dvx_proc("pull", cwd=fresh, timeout=120).code == 0
    assert (fresh / "c").read_bytes() == c


@pytest.mark.parametrize("packed_copy", ["damaged", "gone"])
def test_a_packed_object_whose_packed_copy_fails_is_read_from_its_loose_copy(
        repo, dvx, tmp_path, packed_copy):
    """A reader looks in the indexes first and then for a loose object (formats.md): a
    remote that holds an object both in a pack that fails (damaged, or gone) and loose, as a
    dvx from before packs pushes it, still gives it, and fsck --remote counts the loose copy
    as another copy."""
    store = tmp_path / "store"
    if packed_copy == "damaged":
        _, bad = _pushed_with_one_damaged(repo, dvx, store)
        loose = [bad]
    else:
        _pushed_directory(repo, dvx, store, 5, 1000)
        max((store / "packs").iterdir(), key=lambda p: p.stat().st_size).unlink()
        loose = [oid_of(p.read_bytes()) for p in (repo / "d").iterdir()]
    for oid in loose:
        write(store / "files" / ALGO / oid[:2] / oid[2:],
              (repo / ".dvx/cache/files" / ALGO / oid[:2] / oid[2:]).read_bytes())
    os.rename(repo / ".dvx" / "cache", tmp_path / "cache-before")
    fetched = dvx("fetch")
    assert fetched.code == 0, fetched.output

    checked = dvx("fsck", "--remote", "s")
    assert checked.code == 0 and "another copy of each is whole" in checked.stderr, checked.output
    assert "0 corrupt, 0 missing, 0 lost" in checked.stdout
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "data")
    _assert_a_clone_pulls_d(repo, tmp_path)


def test_a_pull_names_the_pack_that_is_gone(repo, dvx, tmp_path):
    store = tmp_path / "store"
    _pushed_directory(repo, dvx, store, 5, 1000)
    data_pack = max((store / "packs").iterdir(), key=lambda p: p.stat().st_size)
    data_pack.unlink()
    os.rename(repo / ".dvx" / "cache", tmp_path / "old-cache")
    fetched = dvx("fetch")
    assert fetched.code == 1 and f"its pack {data_pack.name} is not on the remote" in \
        fetched.stderr, fetched.output


def test_push_repair_calls_a_copy_whose_pack_is_gone_missing_not_corrupt(repo, dvx, tmp_path):
    store = tmp_path / "store"
    _pushed_directory(repo, dvx, store, 5, 1000)
    data_pack = max((store / "packs").iterdir(), key=lambda p: p.stat().st_size)
    data_pack.unlink()
    repaired = dvx("push", "--repair")
    assert repaired.code == 0 and "Pushed 5 objects" in repaired.stdout, repaired.output
    assert repaired.stderr.count("the remote copy was missing and was uploaded again") == 5
    assert f"is missing (its pack {data_pack.name} is not on the remote)" in repaired.stderr
    assert "corrupt" not in repaired.stderr
    assert dvx("fsck", "--remote", "s").code == 0


def test_a_pull_that_meets_a_pack_cut_short_says_how_to_repair_it(repo, dvx, tmp_path):
    store = tmp_path / "store"
    _pushed_directory(repo, dvx, store, 5, 1000)
    data_pack = max((store / "packs").iterdir(), key=lambda p: p.stat().st_size)
    data_pack.chmod(0o644)
    data_pack.write_bytes(data_pack.read_bytes()[:2000])
    os.rename(repo / ".dvx" / "cache", tmp_path / "old-cache")
    fetched = dvx("fetch")
    assert fetched.code == 1 and "Traceback" not in fetched.output
    assert f"pack {data_pack.name} is shorter than its index says" in fetched.stderr
    assert "`dvx fsck --remote s`" in fetched.stderr and "`dvx push --repair`" in fetched.stderr


@pytest.mark.parametrize("kind", ["dir", "seaweedfs"])
def test_a_pack_cut_short_loses_only_the_objects_past_the_cut_and_push_repair_restores_them(
        repo, dvx, tmp_path, request, kind):
    """What a pack cut short still holds whole is pulled, alone or with the rest; fsck
    --remote names, and takes out of the indexes, only the objects the cut runs through or
    past, and leaves the others readable; `push --repair` from a clone with the data
    uploads those again."""
    spec = remote_for(kind, request, tmp_path)
    configure(dvx, repo, spec)
    for i in range(30):
        write(repo / "d" / f"{i:02d}.bin", os.urandom(1000 + 37 * i))
    assert dvx("add", "d").code == 0 and dvx("push").code == 0
    commit_all(repo)
    places = spec.packed()
    pack = max({pack for pack, _, _ in places.values()}, key=lambda p: len(spec.get_key(p)))
    data = spec.get_key(pack)
    spec.put_key(pack, data[:len(data) // 2])
    file_oid = {f"d/{p.name}": oid_of(p.read_bytes()) for p in (repo / "d").iterdir()}
    kept = {path for path, oid in file_oid.items()
            if places[oid][0] != pack or sum(places[oid][1:]) <= len(data) // 2}
    assert 0 < len(kept) < len(file_oid)
    lost = {file_oid[path] for path in set(file_oid) - kept}
    other = clone(repo, tmp_path)

    one = sorted(kept)[0]
    alone = dvx("pull", one, cwd=other)
    assert alone.code == 0, alone.output
    assert (other / one).read_bytes() == (repo / one).read_bytes()
    past = sorted(set(file_oid) - kept)[-1]  # alone: a ranged read that starts past the cut
    refused = dvx("pull", past, cwd=other)
    assert refused.code == 1 and "is shorter than its index says" in refused.stderr, \
        refused.output
    shutil.rmtree(other / ".dvx" / "cache")
    pulled = dvx("pull", cwd=other)
    assert pulled.code == 1 and "Traceback" not in pulled.output
    assert {f"d/{p.name}" for p in (other / "d").iterdir()} == kept, pulled.output
    assert f"Failed {len(lost)} objects" in pulled.stderr, pulled.output

    checked = dvx("fsck", "--remote", "r", "--json", cwd=other)
    assert checked.code == 1, checked.output
    assert {row["oid"] for row in json.loads(checked.stdout)["corrupt"]} == lost
    shutil.rmtree(other / ".dvx" / "cache")
    shutil.rmtree(other / "d")
    again = dvx("pull", one, cwd=other)  # still named, and read, after fsck
    assert again.code == 0 and (other / one).exists(), again.output

    repaired = dvx("push", "--repair")
    assert repaired.code == 0 and f"Pushed {len(lost)} objects" in repaired.stdout, \
        repaired.output
    pulled = dvx("pull", cwd=other)
    assert pulled.code == 0, pulled.output
    assert tree_bytes(other / "d") == tree_bytes(repo / "d")
    assert dvx("fsck", "--remote", "r", cwd=other).code == 0


@pytest.mark.parametrize("stored", ["packed", "loose"])
def test_a_pull_that_meets_a_damaged_copy_says_the_remote_s_copy_is_damaged_and_how_to_repair(
        repo, dvx, tmp_path, stored):
    store = tmp_path / "store"
    if stored == "loose":  # every object stays loose
        assert dvx("remote", "add", "-d", "s", str(store)).code == 0
        assert dvx("remote", "modify", "s", "pack_threshold", "0").code == 0
        for i in range(5):
            write(repo / "d" / f"{i}.bin", os.urandom(1000))
        assert dvx("add", "d").code == 0
        assert dvx("push").code == 0
        remote = local_spec(store, str(store), {})
        bad = oid_of((repo / "d/3.bin").read_bytes())
        remote.write_raw(bad, b"\0" * 1000)
    else:
        remote, bad = _pushed_with_one_damaged(repo, dvx, store)
    assert (bad in remote.loose()) == (stored == "loose")
    os.rename(repo / ".dvx" / "cache", tmp_path / "old-cache")
    fetched = dvx("fetch")
    assert fetched.code == 1 and "Traceback" not in fetched.output
    said = " ".join(fetched.stderr.split())
    assert f"Failed d/3.bin ({bad}): Object {bad} is corrupt" in said, said
    assert "The copy of that data read from the remote 's' (d.dvx" in said, said
    assert "most likely the remote's copy is damaged" in said
    assert "`dvx fsck --remote s`" in said and "`dvx push --repair`" in said


def test_fsck_takes_nothing_out_while_another_clone_holds_the_remote(repo, dvx, tmp_path):
    from dvx.objects.blobs import DirectoryBlobs
    from dvx.remote.locks import GC, RemoteLock

    store = tmp_path / "store"
    _pushed_with_one_damaged(repo, dvx, store)
    indexes = sorted(p.read_bytes() for p in (store / "indexes").glob("*.idx"))
    assert dvx("config", "core.lock_wait", "0").code == 0
    with RemoteLock(DirectoryBlobs(str(store)), GC, "'s'", 0):  # another clone's gc --remote
        checked = dvx("fsck", "--remote", "s")
    assert checked.code == 1 and "Nothing was taken out" in checked.stderr, checked.output
    assert sorted(p.read_bytes() for p in (store / "indexes").glob("*.idx")) == indexes
    assert dvx("fsck", "--remote", "s").code == 1  # and now it is taken out
    assert sorted(p.read_bytes() for p in (store / "indexes").glob("*.idx")) != indexes


def test_an_index_merged_away_while_it_is_listed_is_found_in_its_successor(tmp_path):
    from dvx.objects.blobs import DirectoryBlobs
    from dvx.remote.inventory import Inventory

    first, _ = _section(b"one", b"two")
    second, _ = _section(b"three")
    old = write_index([first], ALGO)
    merged = write_index([first, second], ALGO)
    indexes = tmp_path / "remote" / "indexes"
    indexes.mkdir(parents=True)
    (indexes / packs.index_name(old, ALGO)).write_bytes(old)

    class MergedMeanwhile(DirectoryBlobs):  # another clone's gc, between listing and reading
        def get(self, name: str, start: int = 0, end: int | None = None) -> bytes:
            if name.endswith(packs.index_name(old, ALGO)):
                (indexes / packs.index_name(merged, ALGO)).write_bytes(merged)
                (indexes / packs.index_name(old, ALGO)).unlink()
            return super().get(name, start, end)

    inventory = Inventory(MergedMeanwhile(str(tmp_path / "remote")), ALGO,
                          str(tmp_path / "local"))
    assert inventory.index_names() == [packs.index_name(merged, ALGO)]
    assert inventory.absent([oid_of(b"one"), oid_of(b"three"), oid_of(b"four")]) == {
        oid_of(b"four")}


def test_an_index_a_read_missed_once_is_read_again_while_it_is_listed(tmp_path):
    """A read that finds nothing while the listings still name the index (a store whose
    listing lags, an index published again) is tried again before the index is refused."""
    from dvx.objects.blobs import DirectoryBlobs
    from dvx.remote.inventory import Inventory

    section, _ = _section(b"one")
    text = write_index([section], ALGO)
    indexes = tmp_path / "remote" / "indexes"
    indexes.mkdir(parents=True)
    (indexes / packs.index_name(text, ALGO)).write_bytes(text)
    reads = []

    class MissedOnce(DirectoryBlobs):
        def get(self, name: str, start: int = 0, end: int | None = None) -> bytes:
            reads.append(name)
            if len(reads) == 1:
                raise FileNotFoundError(name)
            return super().get(name, start, end)

    inventory = Inventory(MissedOnce(str(tmp_path / "remote")), ALGO, str(tmp_path / "local"))
    assert inventory.index_names() == [packs.index_name(text, ALGO)]
    assert len(reads) == 2 and not inventory.refused
    assert inventory.absent([oid_of(b"one")]) == set()


def _copy_deleted_once_listed(tmp_path: Path, monkeypatch, also_on_the_remote: bool):
    """An inventory of a remote with one index naming b"one" and b"two", whose local copy is
    deleted (as by another command's refresh) once the index is listed, before it is read;
    `also_on_the_remote`: the remote's index goes too (merged into another meanwhile)."""
    from dvx import faults
    from dvx.objects.blobs import DirectoryBlobs
    from dvx.remote.inventory import Inventory

    section, _ = _section(b"one", b"two")
    text = write_index([section], ALGO)
    name = packs.index_name(text, ALGO)
    remote = write(tmp_path / "remote" / "indexes" / name, text)
    copy = tmp_path / "local" / name

    def point(where: str) -> None:
        if where == "inventory.listed" and copy.exists():
            copy.unlink()
            if also_on_the_remote:
                remote.unlink()

    monkeypatch.setattr(faults, "point", point)
    return Inventory(DirectoryBlobs(str(tmp_path / "remote")), ALGO, str(copy.parent)), copy


def test_a_copy_of_an_index_deleted_once_listed_is_downloaded_again(tmp_path, monkeypatch):
    """Going on without it would take what it names for missing (and gc --remote its packs
    for packs no index names)."""
    inventory, copy = _copy_deleted_once_listed(tmp_path, monkeypatch, False)
    assert inventory.absent([oid_of(b"one"), oid_of(b"two"), oid_of(b"three")]) == {
        oid_of(b"three")}
    assert copy.exists()


def test_an_index_gone_from_the_remote_and_its_copy_once_listed_stops_the_command(
        tmp_path, monkeypatch):
    from dvx.errors import RemoteError

    inventory, copy = _copy_deleted_once_listed(tmp_path, monkeypatch, True)
    with pytest.raises(RemoteError) as raised:
        inventory.absent([oid_of(b"one")])
    assert f"indexes/{copy.name} is gone from the remote" in raised.value.message
    assert "Run the command again" in str(raised.value.hint)


def test_many_indexes_are_merged_into_one(repo, dvx, tmp_path, monkeypatch):
    from dvx.remote import packed

    store = tmp_path / "store"
    assert dvx("remote", "add", "-d", "s", str(store)).code == 0
    for i in range(4):  # four pushes: eight indexes (files, then the manifest)
        write(repo / f"d{i}" / "f.bin", os.urandom(100))
        assert dvx("add", f"d{i}").code == 0
        assert dvx("push").code == 0
    assert len(list((store / "indexes").glob("*.idx"))) == 8
    monkeypatch.setattr(packed, "MAX_INDEXES", 4)
    write(repo / "last" / "f.bin", os.urandom(100))
    _in_process(repo, "add", "last")
    _in_process(repo, "push")
    assert len(list((store / "indexes").glob("*.idx"))) == 1
    assert len(local_spec(store, str(store), {}).oids()) == 10
    assert dvx("fsck", "--remote", "s").code == 0


def test_gc_remote_keeps_live_objects_of_a_pack_and_drops_the_rest(repo, dvx, tmp_path):
    store = tmp_path / "store"
    _pushed_directory(repo, dvx, store, 10, 2000)
    for i in range(5):  # half the files go; the rest stay, in the same pack
        (repo / "d" / f"{i}.bin").unlink()
    assert dvx("add", "d").code == 0
    assert dvx("push").code == 0
    remote = local_spec(store, str(store), {})
    old_pack = remote.packed()[oid_of((repo / "d/7.bin").read_bytes())][0]
    result = json.loads(dvx("gc", "-w", "-c", "s", "-f", "--grace", "0", "--json").stdout)
    assert result[1]["removed"] == 5 + 1  # five files and the old manifest
    assert not (store / old_pack).exists()
    kept = remote.oids()
    assert all(oid_of((repo / "d" / f"{i}.bin").read_bytes()) in kept for i in range(5, 10))
    assert len(list((store / "indexes").glob("*.idx"))) == 1
    assert dvx("fsck", "--remote", "s").code == 0


def test_an_index_rewritten_to_the_same_bytes_is_not_deleted(repo, dvx, tmp_path):
    """Merging one index into one index gives the same bytes, so the same name: the old one
    must not be deleted after the new one is written (it is the new one)."""
    from dvx.ops.remote import open_remote, settings_for
    from dvx.remote.packed import rewrite_indexes
    from dvx.repo import Repo

    store = tmp_path / "store"
    _pushed_directory(repo, dvx, store, 4, 500)
    everything = local_spec(store, str(store), {}).oids()
    for _ in range(2):  # two indexes into one, then that one into itself
        opened = Repo(str(repo))
        _, remote = open_remote(opened, "s")
        rewrite_indexes(remote, settings_for(opened, "s", remote, None), lambda *_: True)
        assert len(list((store / "indexes").glob("*.idx"))) == 1
        assert local_spec(store, str(store), {}).oids() == everything
    assert dvx("fsck", "--remote", "s").code == 0


def test_packs_are_bounded_in_bytes_and_in_objects():
    from dvx.remote.packed import PACK_ENTRIES, plan_packs

    tiny = plan_packs(((f"{i:032x}", 10) for i in range(25_000)), 16 << 20)
    assert [len(group) for group in tiny] == [PACK_ENTRIES, PACK_ENTRIES, 5_000]
    large = plan_packs(((f"{i:032x}", 600_000) for i in range(10)), 1 << 20)
    assert [len(group) for group in large] == [1] * 10  # never two where they exceed the size
