"""Sparse files keep their holes when copied into the cache, to a directory remote and back
into a workspace, where the filesystem keeps holes (SEEK_DATA/SEEK_HOLE)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import xxhash

from tests.conftest import git
from tests.remotes import clone

MiB = 1 << 20
SIZE = 128 * MiB


def _sparse(path: Path) -> bytes:
    """A 128 MiB file that is 3 MiB of data and the rest holes; its content."""
    chunks = {0: os.urandom(MiB), 64 * MiB: os.urandom(MiB), SIZE - MiB: os.urandom(MiB)}
    with open(path, "wb") as f:
        f.truncate(SIZE)
        for offset, data in chunks.items():
            f.seek(offset)
            f.write(data)
    content = bytearray(SIZE)
    for offset, data in chunks.items():
        content[offset:offset + len(data)] = data
    return bytes(content)


def _allocated(path: Path) -> int:
    return os.stat(path).st_blocks * 512


@pytest.fixture
def sparse_fs(tmp_path):
    probe = tmp_path / "probe"
    _sparse(probe)
    if _allocated(probe) > 16 * MiB:
        pytest.skip("this filesystem does not keep holes")
    probe.unlink()


def test_holes_survive_add_push_pull_and_checkout(repo, dvx, tmp_path, sparse_fs):
    assert dvx("config", "cache.type", "copy").code == 0
    content = _sparse(repo / "disk.img")
    oid = xxhash.xxh3_128_hexdigest(content)
    assert dvx("add", "disk.img").code == 0
    cached = repo / ".dvx/cache/files/xxh128" / oid[:2] / oid[2:]
    assert cached.stat().st_size == SIZE and _allocated(cached) < 16 * MiB
    store = tmp_path / "store"
    assert dvx("remote", "add", "-d", "s", str(store)).code == 0
    assert dvx("push").code == 0
    assert _allocated(store / "files/xxh128" / oid[:2] / oid[2:]) < 16 * MiB
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "image")
    other = clone(repo, tmp_path)
    assert dvx("pull", cwd=other).code == 0
    fetched = other / ".dvx/cache/files/xxh128" / oid[:2] / oid[2:]
    assert _allocated(fetched) < 16 * MiB and _allocated(other / "disk.img") < 16 * MiB
    assert (other / "disk.img").read_bytes() == content
    (other / "disk.img").unlink()
    assert dvx("checkout", cwd=other).code == 0
    assert _allocated(other / "disk.img") < 16 * MiB
    assert xxhash.xxh3_128_hexdigest((other / "disk.img").read_bytes()) == oid


def test_a_small_sparse_object_keeps_its_holes_when_pulled(repo, dvx, tmp_path, sparse_fs):
    size = 3 * MiB  # fetched whole in one read, not streamed
    with open(repo / "disk.img", "wb") as f:
        f.truncate(size)
        f.write(b"head")
    assert dvx("config", "cache.type", "copy").code == 0
    assert dvx("add", "disk.img").code == 0
    assert dvx("remote", "add", "-d", "s", str(tmp_path / "store")).code == 0
    assert dvx("push").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "image")
    other = clone(repo, tmp_path)
    assert dvx("pull", cwd=other).code == 0
    assert _allocated(other / "disk.img") < MiB
    assert (other / "disk.img").read_bytes() == (repo / "disk.img").read_bytes()
