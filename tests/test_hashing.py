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
