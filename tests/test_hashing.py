import io
import shutil
import subprocess

import pytest

from dvx import fsutil, hashing
from dvx.errors import InvalidOidError, UsageError
from dvx.hashing import check_oid, get_algorithm, hash_bytes, hash_copy, hash_file, hash_stream


@pytest.mark.skipif(shutil.which("xxh128sum") is None, reason="xxh128sum not installed")
@pytest.mark.parametrize("content", [b"", b"hello", bytes(range(256)) * 5000])
def test_oid_matches_xxh128sum(tmp_path, content):
    path = tmp_path / "f"
    path.write_bytes(content)
    expected = subprocess.run(["xxh128sum", str(path)], capture_output=True, text=True,
                              check=True).stdout.split()[0]
    assert hash_file(str(path))[0] == expected
    assert hash_file(str(path))[1] == len(content)


def test_known_vector():
    assert hash_bytes(b"hello") == "b5e9c1ad071b3e7fc779cfaa5e523818"


def test_hash_stream_covers_every_chunk():
    data = bytes(range(256)) * 20000  # > one chunk
    oid, size = hash_stream(io.BytesIO(data))
    assert (oid, size) == (hash_bytes(data), len(data))


@pytest.mark.parametrize("size", [0, 5, 4 * 1024, 3 * 4096 * 16 + 7])
@pytest.mark.parametrize("kernel_copy", [True, False])
def test_hash_copy_copies_the_bytes_and_hashes_the_copy(tmp_path, monkeypatch, size,
                                                        kernel_copy):
    """Windows are shrunk to 64 KiB so that several go through the copy thread; without
    copy_file_range (another filesystem, an old kernel) the bytes go through a buffer."""
    import os

    monkeypatch.setattr(hashing, "MMAP_WINDOW", 16 * 4096)
    if not kernel_copy:
        def refuse(*_args):
            raise OSError(18, "Invalid cross-device link")
        monkeypatch.setattr(fsutil, "_kernel_copy", refuse)
    data = os.urandom(size)
    (tmp_path / "src").write_bytes(data)
    fd = os.open(tmp_path / "dst", os.O_RDWR | os.O_CREAT | os.O_EXCL)
    try:
        assert hash_copy(str(tmp_path / "src"), fd) == (hash_bytes(data), size)
    finally:
        os.close(fd)
    assert (tmp_path / "dst").read_bytes() == data


def test_sha256_is_available_for_untrusted_remotes():
    import hashlib

    assert hash_bytes(b"x", "sha256") == hashlib.sha256(b"x").hexdigest()


@pytest.mark.parametrize("bad", [
    "B5E9C1AD071B3E7FC779CFAA5E523818",  # uppercase
    "b5e9c1ad071b3e7fc779cfaa5e52381",  # too short
    "b5e9c1ad071b3e7fc779cfaa5e5238180",  # too long
    "../../../../etc/passwd0000000000",
    "b5e9c1ad071b3e7f/779cfaa5e523818",
    "b5e9c1ad071b3e7fc779cfaa5e52381\n",
    None, 123, "",
])
def test_check_oid_rejects_everything_but_lowercase_hex(bad):
    with pytest.raises(InvalidOidError):
        check_oid(bad)


def test_unknown_algorithm_is_a_usage_error():
    with pytest.raises(UsageError, match="md4"):
        get_algorithm("md4")


def test_a_copy_of_a_file_cut_short_meanwhile_is_refused_never_padded_with_zeros(
        tmp_path, monkeypatch):
    """A file truncated (by another program rewriting it) once its size was taken has no data
    left where the copy looks (SEEK_DATA: none): a change, never a hole to fill with zeros
    that the file never held."""
    import os

    src = tmp_path / "src"
    src.write_bytes(b"\xab" * (2 << 20))
    real_copy_window = hashing.copy_window

    def cut_short_first(src_fd, dst_fd, start, end):
        os.truncate(src, 0)
        real_copy_window(src_fd, dst_fd, start, end)

    monkeypatch.setattr(hashing, "copy_window", cut_short_first)
    fd = os.open(tmp_path / "dst", os.O_RDWR | os.O_CREAT | os.O_EXCL)
    try:
        with pytest.raises(fsutil.FileChangedError, match="changed while it was being read"):
            hash_copy(str(src), fd)
    finally:
        os.close(fd)


def test_copying_past_where_a_file_now_ends_is_a_change_not_a_hole(tmp_path):
    import os

    src = tmp_path / "src"
    src.write_bytes(b"\xab" * (1 << 20))
    with open(src, "rb") as source, open(tmp_path / "dst", "wb") as target:
        os.truncate(src, 4096)
        with pytest.raises(fsutil.FileChangedError):
            fsutil.copy_window(source.fileno(), target.fileno(), 0, 1 << 20)


@pytest.mark.parametrize("change", ["shrink", "grow"])
def test_hashing_a_file_that_changes_meanwhile_is_a_change_never_a_crash(tmp_path, change):
    """Hashing reads the file, never maps it: a file cut short by another program while it
    is hashed would kill a reader of a mapped page past its end (SIGBUS)."""
    import os

    path = tmp_path / "big"
    with open(path, "wb") as f:
        f.truncate(80 << 20)  # sparse: more than one window of the former mapped hashing

    def change_it(_count):
        if change == "shrink":
            os.truncate(path, 1 << 20)
        else:
            with open(path, "ab") as f:
                f.write(b"more")

    with pytest.raises(fsutil.FileChangedError):
        hash_file(str(path), on_bytes=change_it)
    assert hash_file(str(path))[1] == os.path.getsize(path)  # unchanged since: hashed whole


def test_a_copy_of_a_cache_object_marked_used_meanwhile_is_the_object(tmp_path):
    """Marking a cached object used (`LocalCache.refresh`: adding content already cached
    does it, in any repository sharing the cache) moves its mtime and no byte. A copy that
    its caller checks by the oid takes it; one of a file no oid vouches for calls it a
    change."""
    import os

    from dvx.objects.cache import LocalCache

    cache = LocalCache(str(tmp_path / "cache"), "xxh128")
    data = os.urandom(3 << 20)
    oid = cache.add_bytes(data)

    def copy_while_marked_used(name: str, changed_is_error: bool) -> tuple[str, int]:
        fd = os.open(tmp_path / name, os.O_RDWR | os.O_CREAT | os.O_EXCL)
        try:
            return hash_copy(cache.oid_path(oid), fd, on_bytes=lambda _: cache.refresh(oid),
                             changed_is_error=changed_is_error)
        finally:
            os.close(fd)

    assert copy_while_marked_used("checked", changed_is_error=False) == (oid, len(data))
    assert (tmp_path / "checked").read_bytes() == data
    with pytest.raises(fsutil.FileChangedError):
        copy_while_marked_used("unchecked", changed_is_error=True)


@pytest.mark.parametrize("read", [
    "hashing.hash_file(path)",
    "hashing.hash_copy(path, os.open(path + '.copy', os.O_RDWR | os.O_CREAT))",
    "fsutil.read_small_file(path, 1 << 20)",
    "fsutil.reflink(path, path + '.clone')",
])
def test_a_fifo_where_a_file_was_is_refused_never_waited_on(tmp_path, read):
    """A FIFO put where a file was, after a stat said it was a file, would block open(2)
    forever: every reader of a user's file opens it without blocking and checks what it
    opened."""
    import os
    import sys

    fifo = str(tmp_path / "f")
    os.mkfifo(fifo)
    code = (f"import os\nfrom dvx import fsutil, hashing\npath = {fifo!r}\ntry:\n    {read}\n"
            "except fsutil.NotRegularFileError as exc:\n    print('refused:', exc)\n")
    try:
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              timeout=30)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{read} waited on a FIFO")
    assert proc.stdout.startswith("refused: ") and "not a regular file" in proc.stdout, (
        proc.stdout + proc.stderr)
