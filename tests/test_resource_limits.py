"""Too many open files (SPEC §4, resource exhaustion): `dvx add` of a directory of 300 files
and `dvx pull` of it from a directory remote, in real processes under a low RLIMIT_NOFILE.

dvx never holds many files open at once, so with 16 descriptors (far fewer than the files,
and than the 32 transfer jobs asked for) both succeed; with 8 the interpreter itself is short
of descriptors and the command may fail. Either way the outcome is clean: exit 0, or a non-zero
exit with one `ERROR:` paragraph and no traceback, every object in the cache whole, no
temporary left in the cache, the user's files intact; and a rerun without the limit succeeds.

A push to S3 (SeaweedFS) with a -j past what the limit leaves room for has fewer objects in
flight, and says so once; one whose objects still run out of descriptors names that cause and
its way out once, never once per object.
"""

from __future__ import annotations

import os
import random
import re
import resource
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import Run, git, make_git_repo, run_dvx, tree_bytes, write
from test_crash import store_objects

FILES = 300


def limited(args: list[str], cwd: Path, limit: int, held: tuple[int, ...] = ()) -> Run:
    """`dvx args` in a process that may have `limit` files open, and inherits the
    descriptors `held` (open already, so fewer are left for it)."""
    def lower() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))

    proc = subprocess.run([sys.executable, "-m", "dvx", *args], cwd=cwd, capture_output=True,
                          text=True, preexec_fn=lower, timeout=300, stdin=subprocess.DEVNULL,
                          pass_fds=held)
    return Run(proc.returncode, proc.stdout, proc.stderr)


def assert_clean(result: Run, must_succeed: bool) -> None:
    assert "Traceback" not in result.output, result.output
    if must_succeed or result.code == 0:
        assert result.code == 0, result.output
        return
    assert result.stderr.startswith("ERROR:"), result.output
    assert "Too many open files" in result.stderr, result.output


def assert_cache_whole(repo: Path) -> None:
    store_objects(repo / ".dvx/cache")  # every object hashes to its name
    tmp = repo / ".dvx/cache/tmp"
    leftovers = os.listdir(tmp) if tmp.exists() else []
    assert not leftovers, f"temporaries left in the cache: {leftovers}"


def many_files(root: Path) -> dict[str, bytes]:
    rng = random.Random(3)
    for i in range(FILES):
        write(root / f"data/{i // 50}/f{i:03}.bin", rng.randbytes(100 + i))
    return tree_bytes(root / "data")


@pytest.mark.parametrize("limit, must_succeed", [(16, True), (8, False)])
def test_add_under_a_low_open_files_limit_is_clean(tmp_path, limit, must_succeed):
    repo = make_git_repo(tmp_path / "repo")
    assert run_dvx("init", cwd=repo).code == 0
    files = many_files(repo)

    result = limited(["add", "data"], repo, limit)
    assert_clean(result, must_succeed)
    assert_cache_whole(repo)
    assert tree_bytes(repo / "data") == files
    if result.code != 0:
        assert not (repo / "data.dvx").exists()

    rerun = run_dvx("add", "data", cwd=repo)
    assert rerun.code == 0, rerun.output
    assert tree_bytes(repo / "data") == files
    assert run_dvx("status", "-q", cwd=repo).code == 0


@pytest.mark.parametrize("limit, must_succeed", [(16, True), (8, False)])
def test_pull_under_a_low_open_files_limit_is_clean(tmp_path, limit, must_succeed):
    origin = make_git_repo(tmp_path / "origin")
    assert run_dvx("init", cwd=origin).code == 0
    files = many_files(origin)
    for args in (["add", "data"], ["remote", "add", "-d", "store", str(tmp_path / "remote")],
                 ["push"]):
        assert run_dvx(*args, cwd=origin).code == 0
    git(origin, "add", "-A")
    git(origin, "commit", "-qm", "data")
    git(tmp_path, "clone", "-q", str(origin), "clone")
    clone = tmp_path / "clone"

    result = limited(["pull", "-j", "32"], clone, limit)
    assert_clean(result, must_succeed)
    assert_cache_whole(clone)
    placed = tree_bytes(clone / "data") if (clone / "data").exists() else {}
    for rel, blob in placed.items():  # whatever is there is complete and right
        assert files.get(rel) == blob, rel

    rerun = run_dvx("pull", cwd=clone)
    assert rerun.code == 0, rerun.output
    assert tree_bytes(clone / "data") == files
    assert run_dvx("status", "-q", cwd=clone).code == 0


def _s3_repo(tmp_path: Path, request: pytest.FixtureRequest, files: int) -> Path:
    """A repository with a folder of `files` tiny files added, and a fresh bucket on
    SeaweedFS as its default remote, every object loose (a request, and a file, each)."""
    from tests.remotes import _s3_spec, configure

    repo = make_git_repo(tmp_path / "repo")
    assert run_dvx("init", cwd=repo).code == 0
    for i in range(files):
        write(repo / "z" / f"{i}", f"{i}\n")
    assert run_dvx("add", "z", cwd=repo).code == 0
    spec = _s3_spec(request.getfixturevalue("seaweed_s3"), request)
    configure(lambda *args, cwd: run_dvx(*args, cwd=cwd), repo, spec)
    assert run_dvx("remote", "modify", "r", "pack_threshold", "0", cwd=repo).code == 0
    return repo


def test_a_push_with_more_jobs_than_open_files_allow_has_fewer_in_flight(tmp_path, request):
    """-j 600 under `ulimit -n 256`: at most 64 objects in flight (a quarter of the limit),
    said once, and every object goes up."""
    repo = _s3_repo(tmp_path, request, 1000)
    pushed = limited(["push", "-j", "600"], repo, 256)
    assert pushed.code == 0, pushed.output
    assert "Too many open files" not in pushed.output, pushed.output
    assert "Pushed 1001 objects" in pushed.stdout, pushed.output
    said = " ".join(pushed.stderr.split())
    assert said.count("Moving at most 64 objects at once, not the 600 asked for") == 1, said
    assert "may have 256 open (`ulimit -n`)" in said, said
    assert "are in sync" in run_dvx("status", "-c", cwd=repo).stdout


def test_a_push_out_of_open_files_names_the_cause_once_not_per_object(tmp_path, request):
    """A process left few descriptors (200 of its 256 taken by files it inherited): the
    objects that fail for want of one are summed up in one line naming the cause and the way
    out, a lower -j or a higher `ulimit -n`; the push uploads the rest, and again, without
    the limit, all."""
    repo = _s3_repo(tmp_path, request, 300)
    held = tuple(os.open(os.devnull, os.O_RDONLY) for _ in range(200))
    try:
        pushed = limited(["push", "-j", "64"], repo, 256, held)
    finally:
        for fd in held:
            os.close(fd)
    assert pushed.code == 1, pushed.output
    assert "Traceback" not in pushed.output, pushed.output
    lines = [line for line in pushed.output.splitlines() if "open files" in line.lower()]
    assert len(lines) == 1, pushed.output
    assert re.match(r"Failed \d+ objects: too many open files, as the objects in flight", lines[0])
    assert "with a lower -j, or raise that limit first, with `ulimit -n 4096`" in lines[0]
    again = run_dvx("push", cwd=repo)
    assert again.code == 0, again.output
    assert "are in sync" in run_dvx("status", "-c", cwd=repo).stdout
