"""Names as long as a filesystem allows, and directories nested deeper than Python's
recursion limit, go through add, push, pull and checkout; what no filesystem could hold is
refused up front, and leaves nothing behind. A name that is not valid UTF-8 is a change no
command records and none fails on."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import git, tree_bytes, write
from tests.remotes import clone


def _commit(repo: Path) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "data")


def test_a_255_byte_name_in_a_tracked_directory_round_trips_in_copy_mode(repo, dvx, tmp_path):
    longest = "n" * 251 + ".bin"  # 255 bytes: the most a file name can have
    write(repo / "data" / longest, b"long name")
    write(repo / "data" / ("é" * 126 + ".x"), b"long in UTF-8")  # 254 bytes, 128 characters
    assert dvx("config", "cache.type", "copy").code == 0
    assert dvx("add", "data").code == 0
    assert dvx("remote", "add", "-d", "store", str(tmp_path / "store")).code == 0
    assert dvx("push").code == 0
    _commit(repo)
    target = clone(repo, tmp_path)
    pulled = dvx("pull", cwd=target)
    assert pulled.code == 0, pulled.output
    assert tree_bytes(target / "data") == tree_bytes(repo / "data")
    (target / "data" / longest).unlink()
    assert dvx("checkout", cwd=target).code == 0
    assert (target / "data" / longest).read_bytes() == b"long name"


def test_a_name_not_utf8_in_a_tracked_folder_is_a_change_checkout_and_pull_keep(
        repo, dvx, dvx_proc, tmp_path):
    """Such a name (a Latin-1 one from an old archive) is a file added to the folder: checkout
    and pull place the rest, skip it as a change not in the cache, and --force deletes it."""
    write(repo / "d" / "a", "a1\n")
    assert dvx("remote", "add", "-d", "store", str(tmp_path / "store")).code == 0
    assert dvx("add", "d").code == 0
    assert dvx("push").code == 0
    _commit(repo)
    target = clone(repo, tmp_path)
    assert dvx_proc("pull", cwd=target).code == 0
    latin1 = target / "d" / os.fsdecode(b"bad\xff")
    latin1.write_text("mine\n")
    for command in (["checkout"], ["checkout", "--relink"]):
        kept = dvx_proc(*command, cwd=target)
        assert kept.code == 1 and "Skipped d/bad\\377: it has changes" in kept.stderr, \
            kept.output
    write(repo / "d" / "a", "a2\n")
    assert dvx("add", "d").code == 0
    assert dvx("push").code == 0
    _commit(repo)
    git(target, "pull", "-q")
    pulled = dvx_proc("pull", cwd=target)
    assert pulled.code == 1 and "Skipped d/bad\\377" in pulled.stderr, pulled.output
    assert (target / "d" / "a").read_text() == "a2\n" and latin1.read_text() == "mine\n"
    refused = dvx_proc("commit", "d", cwd=target)
    assert refused.code == 2 and "'d/bad\\377' has a name that is not valid UTF-8" \
        in refused.stderr, refused.output
    discarded = dvx_proc("checkout", "--force", cwd=target)
    assert discarded.code == 0, discarded.output
    assert not latin1.exists()
    assert "up to date" in dvx_proc("status", cwd=target).stdout


def test_a_stage_whose_input_folder_holds_a_name_not_utf8_fails_naming_the_file(repo, dvx,
                                                                                 dvx_proc):
    write(repo / "in" / "x", "x\n")
    (repo / "in" / os.fsdecode(b"bad\xfe")).write_text("y\n")
    assert dvx("stage", "add", "-n", "s", "-d", "in", "-o", "out", "ls in > out").code == 0
    failed = dvx_proc("repro", cwd=repo)
    assert failed.code == 1 and "Stage 's' failed: 'in/bad\\376' has a name that is not " \
        "valid UTF-8. Rename it" in failed.stderr, failed.output
    assert "manifest" not in failed.stderr and not (repo / "out").exists()


def test_a_file_whose_pointer_name_fits_is_tracked(repo, dvx):
    name = "m" * 234 + ".bin"  # its pointer's name, 242 bytes, and their temporaries fit
    write(repo / name, b"model")
    added = dvx("add", name)
    assert added.code == 0, added.output
    assert (repo / (name + ".dvx")).exists()
    assert f"/{name}" in (repo / ".gitignore").read_text()
    assert git(repo, "status", "--porcelain", "--ignored", "--", name).startswith("!!")


def test_a_name_too_long_for_its_pointer_is_refused_and_nothing_is_written(repo, dvx):
    name = "m" * 248 + ".bin"  # 252 bytes: its pointer's name would be 256
    write(repo / name, b"model")
    refused = dvx("add", name)
    assert refused.code == 2 and refused.stderr.startswith("ERROR:")
    assert "too long" in refused.stderr and "Traceback" not in refused.output
    assert not (repo / ".gitignore").exists()  # the file stays visible to Git
    assert [p.name for p in repo.iterdir() if p.name.endswith(".dvx") and p.is_file()] == []
    assert (repo / name).read_bytes() == b"model"


def test_a_move_to_a_name_too_long_for_its_pointer_is_refused_and_nothing_is_written(
        repo, dvx):
    """As `dvx add` refuses it, before the move is begun: no new .gitignore line, no move
    recorded in .dvx/tmp/synced.json for a later command to finish."""
    write(repo / "a", b"model")
    assert dvx("add", "a").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "a")
    synced = (repo / ".dvx" / "tmp" / "synced.json").read_text()
    for destination in ("m" * 252, "m" * 256 + "/a"):  # its pointer; a folder on the way
        refused = dvx("move", "a", destination)
        assert refused.code == 2, refused.output
        assert "too long" in refused.stderr and "over the limit of 255" in refused.stderr
        assert "half-written" not in refused.stderr
        assert git(repo, "status", "--porcelain") == ""
        assert (repo / ".dvx" / "tmp" / "synced.json").read_text() == synced
        assert (repo / "a").read_bytes() == b"model"


def _tree_just_past_path_max(top: Path) -> None:
    """`top`/.../leaf.txt whose path from `top` fits in PATH_MAX and whose full path is a few
    bytes over it: made through directory descriptors, as no full path reaches the leaf."""
    from dvx.fsutil import PATH_MAX

    names, length = [], len(os.fsencode(str(top)))
    while length + 201 + len("/leaf.txt") < PATH_MAX:
        names.append("d" * 200)
        length += 201
    names.append("e" * (PATH_MAX - length - len("/leaf.txt") + 4))  # 4 bytes too many
    top.mkdir()
    fd = os.open(top, os.O_RDONLY)
    try:
        for name in names:
            os.mkdir(name, dir_fd=fd)
            inner = os.open(name, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = inner
        leaf = os.open("leaf.txt", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
        os.write(leaf, b"leaf\n")
        os.close(leaf)
    finally:
        os.close(fd)


def test_a_full_path_past_path_max_is_named_with_where_to_move_the_repository(repo, dvx):
    """The names fit, and the paths from the top: it is where the repository is that makes
    them too long, so 'fix the cause' would not say which."""
    _tree_just_past_path_max(repo / "data")
    refused = dvx("add", "data")
    assert refused.code == 1, refused.output
    message = " ".join(refused.stderr.split())
    assert "the full path is longer than the system allows (4096 bytes)" in message
    assert "move the repository to a folder with a shorter path" in message
    assert "fix the cause" not in message and not (repo / "data.dvx").exists()


@pytest.fixture
def deep_cleanup(repo):
    """Removes the deep directory afterwards: pytest's own clean-up (shutil.rmtree) recurses
    once per level and would fail on it."""
    yield
    from dvx.fsutil import rmtree

    if (repo / "data").exists():
        rmtree(str(repo / "data"))


def test_a_directory_1000_levels_deep_round_trips(repo, dvx, tmp_path, deep_cleanup):
    here = os.getcwd()
    os.chdir(repo)
    try:  # built one level at a time: os.makedirs itself would recurse too deep
        os.mkdir("data")
        os.chdir("data")
        for _ in range(1000):
            os.mkdir("d")
            os.chdir("d")
        Path("leaf.txt").write_text("deep\n")
    finally:
        os.chdir(here)
    assert dvx("add", "data").code == 0
    assert dvx("remote", "add", "-d", "store", str(tmp_path / "store")).code == 0
    assert dvx("push").code == 0
    _commit(repo)
    target = clone(repo, tmp_path)
    for args in [("pull",), ("status",), ("checkout", "--force")]:
        result = dvx(*args, cwd=target)
        assert result.code == 0, f"{args}: {result.output[-300:]}"
    leaf = target / "data" / Path(*["d"] * 1000) / "leaf.txt"
    assert leaf.read_text() == "deep\n"
    removed = dvx("remove", "--outs", "data.dvx", cwd=target)
    assert removed.code == 0, removed.output[-300:]
    assert not (target / "data").exists()


def _path_that_fits_only_in_the_repo(repo: Path, clone_root: Path, top: str) -> str:
    """A repo-relative path below `top` whose full path fits under `repo` (with room for a
    temporary beside it) and is past PATH_MAX under `clone_root`."""
    from dvx.fsutil import PATH_MAX

    length = PATH_MAX - len(os.fsencode(str(repo))) - 100
    assert len(os.fsencode(str(clone_root))) + length > PATH_MAX + 8
    names, used = [top], len(top)
    while length - used > 250:
        names.append("d" * 200)
        used += 201
    names.append("f" * (length - used - 1 - len(".dvx")))
    return "/".join(names)


def _cloned_where_it_is_too_long(repo: Path, tmp_path: Path, dvx, add: str) -> Path:
    assert dvx("remote", "add", "-d", "store", str(tmp_path / "store")).code == 0
    assert dvx("add", add).code == 0
    assert dvx("push").code == 0
    _commit(repo)
    return clone(repo, tmp_path, name="L" * 150 + "/clone")


def test_a_pointer_past_path_max_in_a_clone_is_named_and_fails_pull_status_and_checkout(
        repo, dvx, tmp_path):
    """Cloned under a longer folder, a pointer whose full path no longer fits is not taken
    for a deleted one (its data silently never placed): each command names it and fails."""
    rel = _path_that_fits_only_in_the_repo(repo, tmp_path / ("L" * 150) / "clone", "data")
    write(repo / "small.txt", b"small\n")
    write(repo / rel, b"deep\n")
    assert dvx("add", "small.txt").code == 0
    target = _cloned_where_it_is_too_long(repo, tmp_path, dvx, rel)
    for args in [("pull",), ("status",), ("checkout",)]:
        result = dvx(*args, cwd=target)
        message = " ".join(result.stderr.split())
        assert result.code == 1, f"{args}: {result.output}"
        assert f"Skipped {rel}.dvx: " in message and "File name too long" in message, args
        assert "move the repository to a folder with a shorter path" in message.lower(), args
        assert "No data is tracked yet" not in result.output, args
    assert (target / "small.txt").read_bytes() == b"small\n"  # the rest is still placed


def test_a_file_of_a_directory_past_path_max_in_a_clone_is_named_by_status(repo, dvx, tmp_path):
    rel = _path_that_fits_only_in_the_repo(repo, tmp_path / ("L" * 150) / "clone", "data")
    write(repo / rel, b"deep\n")
    write(repo / "data" / "small.txt", b"small\n")
    target = _cloned_where_it_is_too_long(repo, tmp_path, dvx, "data")
    pulled = dvx("pull", cwd=target)
    assert pulled.code == 1 and "File name too long" in pulled.stderr, pulled.output
    assert (target / "data" / "small.txt").read_bytes() == b"small\n"
    for args in [("status",), ("status", "data"), ("checkout",)]:
        result = dvx(*args, cwd=target)
        message = " ".join(result.stderr.split())
        assert result.code == 1, f"{args}: {result.output}"
        assert f"Skipped {rel}: " in message and "File name too long" in message, args
