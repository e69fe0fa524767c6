"""fsutil.write_whole and copy_small_file: a new file appears whole or not at all, on both of
its paths (an unnamed O_TMPFILE file linked to its name, and the named temporary used where
the filesystem has no unnamed files)."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from dvx import fsutil
from tests.conftest import unprivileged


@pytest.fixture(params=["unnamed", "named"])
def write_path(request, monkeypatch) -> str:
    if request.param == "named":
        monkeypatch.setattr(fsutil, "_unnamed_ok", False)
    else:
        monkeypatch.setattr(fsutil, "_unnamed_ok", None)
        if not fsutil._unnamed_supported():
            pytest.skip("no O_TMPFILE or /proc here")
    return request.param


def _umask() -> int:
    old = os.umask(0)
    os.umask(old)
    return old


def test_writes_the_bytes_with_the_mode_and_leaves_no_temporary(tmp_path, write_path):
    target = tmp_path / "sub" / "object"  # the parent is created
    fsutil.write_whole(str(target), b"payload", 0o444, replace=False)
    assert target.read_bytes() == b"payload"
    assert stat.S_IMODE(target.stat().st_mode) == 0o444 & ~_umask()
    assert os.listdir(target.parent) == ["object"]


def test_an_existing_object_is_kept_unless_replace_is_asked(tmp_path, write_path):
    target = tmp_path / "file"
    target.write_bytes(b"old")
    fsutil.write_whole(str(target), b"new", 0o644, replace=False)
    assert target.read_bytes() == b"old"
    fsutil.write_whole(str(target), b"new", 0o644, replace=True)
    assert target.read_bytes() == b"new"
    assert os.listdir(tmp_path) == ["file"]


def test_exact_mode_overrides_the_umask(tmp_path, write_path, monkeypatch):
    monkeypatch.setattr(fsutil, "_umask", None)  # dvx reads the umask once per process
    old = os.umask(0o077)
    try:
        fsutil.write_whole(str(tmp_path / "f"), b"x", 0o644, replace=True, exact_mode=True)
        fsutil.write_whole(str(tmp_path / "g"), b"x", 0o644, replace=True)
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "f").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "g").stat().st_mode) == 0o600


def test_the_named_path_writes_its_temporary_where_asked(tmp_path, monkeypatch):
    monkeypatch.setattr(fsutil, "_unnamed_ok", False)
    seen: list[list[str]] = []
    fsutil.write_whole(str(tmp_path / "objects" / "ab"), b"x", 0o444, replace=False,
                       temp_dir=str(tmp_path / "tmp"),
                       before_name=lambda: seen.append(os.listdir(tmp_path / "tmp")))
    assert len(seen[0]) == 1 and fsutil.temp_target(seen[0][0]) == "ab"
    assert os.listdir(tmp_path / "tmp") == []
    assert (tmp_path / "objects" / "ab").read_bytes() == b"x"


def test_a_directory_without_unnamed_files_falls_back_to_a_named_temporary(tmp_path,
                                                                            monkeypatch):
    monkeypatch.setattr(fsutil, "_NO_UNNAMED", {str(tmp_path)})
    fsutil.write_whole(str(tmp_path / "f"), b"data", 0o644, replace=True)
    assert (tmp_path / "f").read_bytes() == b"data"


@pytest.mark.parametrize("replace", [False, True])
def test_a_process_killed_before_naming_leaves_nothing(tmp_path, replace):
    """Killed after writing, before the file has its name: the unnamed file vanishes with the
    process (no temporary to clean up), and an existing file keeps its old content."""
    target = tmp_path / "file"
    if replace:
        target.write_bytes(b"old")
    script = (
        "import os, signal, sys\n"
        "from dvx import fsutil\n"
        f"fsutil.write_whole(sys.argv[1], b'new' * 1000, 0o644, replace={replace},\n"
        "    before_name=lambda: os.kill(os.getpid(), signal.SIGKILL))\n"
    )
    proc = subprocess.run([sys.executable, "-c", script, str(target)], check=False)
    assert proc.returncode == -signal.SIGKILL
    assert sorted(os.listdir(tmp_path)) == (["file"] if replace else [])
    if replace:
        assert target.read_bytes() == b"old"


@pytest.mark.parametrize("unnamed_ok", [None, False])
def test_a_replacing_write_stopped_by_ctrl_c_before_its_rename_leaves_no_temporary(
        tmp_path, unnamed_ok):
    """A file that replaces another is given a temporary name, then renamed over it. Ctrl-C
    then (the CLI removes the temporaries in flight and ends the process at once, not
    waiting for the thread writing it) leaves the old file whole and no temporary beside it."""
    target = tmp_path / "file"
    target.write_bytes(b"old")
    script = (
        "import os, sys\n"
        "from dvx import fsutil\n"
        f"fsutil._unnamed_ok = {unnamed_ok}\n"
        "def stopped_by_ctrl_c(src, dst):\n"
        "    fsutil.remove_temporaries_in_flight()  # what the CLI's _stop_now does\n"
        "    os._exit(130)\n"
        "fsutil.os.replace = stopped_by_ctrl_c\n"
        "fsutil.write_whole(sys.argv[1], b'new' * 1000, 0o644, replace=True)\n"
    )
    proc = subprocess.run([sys.executable, "-c", script, str(target)], check=False)
    assert proc.returncode == 130
    assert sorted(os.listdir(tmp_path)) == ["file"] and target.read_bytes() == b"old"


def test_place_copies_small_and_large_files_whole(tmp_path: Path):
    small, large = tmp_path / "small", tmp_path / "large"
    small.write_bytes(b"s" * 100)
    large.write_bytes(os.urandom(fsutil.SMALL_FILE + 1))
    for src in (small, large):
        dst = tmp_path / f"copy-of-{src.name}"
        dst.write_bytes(b"in the way")
        assert fsutil.place(str(src), str(dst), ("copy",), exec_bit=True) == "copy"
        assert dst.read_bytes() == src.read_bytes()
        assert stat.S_IMODE(dst.stat().st_mode) == 0o755
    assert sorted(os.listdir(tmp_path)) == ["copy-of-large", "copy-of-small", "large", "small"]


@pytest.mark.parametrize("kernel_copy", ["yes", "refused", "absent"])
def test_copy_small_file_copies_bytes_and_mode(tmp_path, write_path, monkeypatch, kernel_copy):
    """Copied by the kernel, or through a buffer where it refuses (another filesystem, an old
    kernel) or has no copy_file_range (not Linux); an empty file too."""
    if kernel_copy == "refused":
        def refuse(*_args):
            raise OSError(18, "Invalid cross-device link")
        monkeypatch.setattr(fsutil, "_kernel_copy", refuse)
    elif kernel_copy == "absent":
        monkeypatch.setattr(fsutil, "_kernel_copy", fsutil._no_kernel_copy)
    for name, data in (("some", os.urandom(70_000)), ("empty", b"")):
        src, dst = tmp_path / name, tmp_path / "out" / name  # the parent is created
        src.write_bytes(data)
        assert fsutil.copy_small_file(str(src), str(dst), 0o755, replace=False, exact_mode=True)
        assert dst.read_bytes() == data
        assert stat.S_IMODE(dst.stat().st_mode) == 0o755
    assert sorted(os.listdir(tmp_path / "out")) == ["empty", "some"]


def test_copy_small_file_leaves_large_files_to_the_caller(tmp_path):
    src = tmp_path / "large"
    src.write_bytes(b"x" * fsutil.SMALL_FILE)
    assert not fsutil.copy_small_file(str(src), str(tmp_path / "dst"), 0o644, replace=True)
    assert os.listdir(tmp_path) == ["large"]


def test_a_source_that_shrinks_mid_copy_fails_and_leaves_no_file(tmp_path, write_path,
                                                                  monkeypatch):
    src = tmp_path / "src"
    src.write_bytes(b"data" * 100)
    monkeypatch.setattr(fsutil, "copy_range", lambda src_fd, dst_fd, length: length - 1)
    with pytest.raises(fsutil.FileChangedError, match="changed while it was being read"):
        fsutil.copy_small_file(str(src), str(tmp_path / "dst"), 0o644, replace=True)
    assert os.listdir(tmp_path) == ["src"]


def test_read_file_into_fills_a_view_of_exactly_the_files_size(tmp_path):
    path = tmp_path / "object"
    path.write_bytes(b"0123456789")
    buffer = bytearray(b"." * 14)
    with memoryview(buffer) as whole:
        assert fsutil.read_file_into(str(path), whole[2:12])
        # a file of another size than expected is refused, whether longer or shorter
        assert not fsutil.read_file_into(str(path), whole[:9])
        assert not fsutil.read_file_into(str(path), whole[:11])
    assert bytes(buffer[2:12]) == b"0123456789"


def test_a_small_file_written_to_while_it_is_read_is_one_version_or_an_error(tmp_path,
                                                                              monkeypatch):
    """Read for the cache (`one_version`), a file that grew meanwhile is a change, never a
    record of bytes it held at no one moment; read otherwise, it is read to its end."""
    path = tmp_path / "f"
    path.write_bytes(b"first version")
    real_read = os.read

    def append_then_read(fd, n):
        with open(path, "ab") as f:
            f.write(b", and more")
        monkeypatch.setattr(os, "read", real_read)
        return real_read(fd, n)

    monkeypatch.setattr(os, "read", append_then_read)
    with pytest.raises(fsutil.FileChangedError, match="changed while it was being read"):
        fsutil.read_small_file(str(path), 1 << 20, one_version=True)
    monkeypatch.setattr(os, "read", append_then_read)
    assert fsutil.read_small_file(str(path), 1 << 20) == b"first version, and more, and more"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc/self/fd is Linux's")
def test_link_open_file_links_the_file_open_not_what_its_name_became(tmp_path):
    """The file held open is the one linked, even once it was renamed and a new file took
    its name; its folder is made if missing, and an existing name is kept (False)."""
    path = tmp_path / "f"
    path.write_bytes(b"hashed")
    fd = os.open(path, os.O_RDONLY)
    try:
        os.rename(path, tmp_path / "f.old")
        path.write_bytes(b"saved since")
        final = tmp_path / "objects" / "ab" / "cd"
        assert fsutil.link_open_file(fd, str(final)) is True
        assert final.read_bytes() == b"hashed"
        assert os.path.samestat(os.stat(final), os.fstat(fd))
        assert fsutil.link_open_file(fd, str(tmp_path / "f")) is False
        assert path.read_bytes() == b"saved since"
    finally:
        os.close(fd)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc/self/fd is Linux's")
def test_link_open_file_of_a_file_with_no_name_left_is_for_the_caller_to_do(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"x")
    fd = os.open(path, os.O_RDONLY)
    try:
        path.unlink()
        assert fsutil.link_open_file(fd, str(tmp_path / "g")) is None
        assert not (tmp_path / "g").exists()
    finally:
        os.close(fd)


def test_spellings_of_one_file_are_probed_and_nothing_is_left(tmp_path, monkeypatch):
    """On this filesystem letter case counts: no other spelling is the same file. Where a
    name opens another spelling's file (as on exFAT), the probe says so."""
    long = "L" * 250  # too long for a temporary named after it: probed by letter case
    for name, others in (("A.txt", ["a.txt", "A.TXT"]), (long, [long.lower()])):
        assert fsutil.spellings_of_one_file(str(tmp_path), name, others) == []
    assert list(tmp_path.iterdir()) == []

    def folding_case(path: str) -> bool:
        folder, name = os.path.split(path)
        return any(n.lower() == name.lower() for n in os.listdir(folder))

    monkeypatch.setattr(os.path, "lexists", folding_case)
    assert fsutil.spellings_of_one_file(str(tmp_path), "A.txt", ["a.TXT"]) == ["a.TXT"]
    assert list(tmp_path.iterdir()) == []


def test_absent_tells_nothing_there_from_a_path_that_cannot_be_looked_at(tmp_path):
    (tmp_path / "file").write_bytes(b"x")
    assert fsutil.absent(str(tmp_path / "gone"))
    assert fsutil.absent(str(tmp_path / "file" / "below"))
    assert not fsutil.absent(str(tmp_path / "file"))
    too_long = str(tmp_path) + ("/" + "d" * 200) * (fsutil.PATH_MAX // 200 + 1)
    assert not os.path.lexists(too_long) and not fsutil.absent(too_long)  # not known gone


def test_rewrite_keeps_the_permissions_of_the_file_it_replaces(tmp_path):
    """A file of the user's that dvx edits (params, dvx.yaml, .gitignore) stays executable or
    private, whatever the umask; a new one gets the default mode."""
    for mode in (0o755, 0o600, 0o444):
        path = tmp_path / f"f{mode:o}"
        path.write_bytes(b"old")
        os.chmod(path, mode)
        fsutil.rewrite(str(path), b"new")
        assert path.read_bytes() == b"new" and os.stat(path).st_mode & 0o777 == mode
    fsutil.rewrite(str(tmp_path / "new"), b"x")
    umask = os.umask(0)
    os.umask(umask)
    assert os.stat(tmp_path / "new").st_mode & 0o777 == 0o666 & ~umask


def test_rewrite_keeps_the_permissions_but_never_setuid_setgid_or_sticky(tmp_path):
    """dvx writes new content: a setuid or setgid bit on the file it replaces would hand the
    new bytes its owner's or group's rights, so only the read, write and execute bits stay."""
    path = tmp_path / "run.sh"
    path.write_bytes(b"old")
    os.chmod(path, 0o755 | stat.S_ISUID | stat.S_ISGID | stat.S_ISVTX)
    assert fsutil.regular_file_mode(str(path)) == 0o755
    fsutil.rewrite(str(path), b"new")
    assert path.read_bytes() == b"new" and stat.S_IMODE(os.stat(path).st_mode) == 0o755


def test_access_fix_names_the_chmod_of_a_refused_read_or_of_the_folder_of_a_write(tmp_path):
    """What a PermissionError met on a path is cured by, told from the modes as this user
    (file modes apply: run without root's capabilities): a file it may not read, u+r; a
    folder it may not list, u+rx; a folder on the way it may not enter, u+x; a write in a
    folder it may not write in (of a file there or one to be made), u+w on that folder."""
    write_in = tmp_path / "locked"
    (write_in / "present").parent.mkdir()
    (write_in / "present").write_text("x")
    secret = tmp_path / "secret.bin"
    secret.write_text("x")
    closed = tmp_path / "closed"
    (closed / "inner").mkdir(parents=True)
    unlisted = tmp_path / "unlisted"
    unlisted.mkdir()
    cases = {str(secret): (str(secret), "u+r", True),
             str(unlisted): (str(unlisted), "u+rx", True),
             str(closed / "inner" / "f"): (str(closed), "u+x", True),
             str(write_in / "present"): (str(write_in), "u+w", False),
             str(write_in / "new" / "deeper"): (str(write_in), "u+w", False),
             str(tmp_path / "free"): None}
    script = ("import json, sys\nfrom dvx.fsutil import access_fix\n"
              "fixes = [access_fix(p) for p in sys.argv[1:]]\n"
              "print(json.dumps([f and [f.path, f.mode, f.reading] for f in fixes]))")
    secret.chmod(0)
    unlisted.chmod(0o300)
    closed.chmod(0o600)
    write_in.chmod(0o555)
    try:
        done = subprocess.run([*unprivileged(), sys.executable, "-c", script, *cases],
                              capture_output=True, text=True, timeout=60)
    finally:
        for path in (unlisted, closed, write_in):
            path.chmod(0o755)
    assert done.returncode == 0, done.stderr
    found = [tuple(fix) if fix else None for fix in json.loads(done.stdout)]
    assert found == list(cases.values())
