"""Too many open files (SPEC §4, resource exhaustion): `dvx add` of a directory of 300 files
and `dvx pull` of it from a directory remote, in real processes under a low RLIMIT_NOFILE.

dvx never holds many files open at once, so with 16 descriptors (far fewer than the files,
and than the 32 transfer jobs asked for) both succeed; with 8 the interpreter itself is short
of descriptors and the command may fail. Either way the outcome is clean: exit 0, or a non-zero
exit with one `ERROR:` paragraph and no traceback, every object in the cache whole, no
temporary left in the cache, the user's files intact; and a rerun without the limit succeeds.
"""

from __future__ import annotations

import os
import random
import resource
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import Run, git, make_git_repo, run_dvx, tree_bytes, write
from test_crash import store_objects

FILES = 300


def limited(args: list[str], cwd: Path, limit: int) -> Run:
    def lower() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))

    proc = subprocess.run([sys.executable, "-m", "dvx", *args], cwd=cwd, capture_output=True,
                          text=True, preexec_fn=lower, timeout=120, stdin=subprocess.DEVNULL)
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
