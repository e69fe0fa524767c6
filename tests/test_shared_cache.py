"""Two repositories sharing one cache (`cache.dir`) add identical content at the same moment,
as two real processes: both succeed, the cache holds exactly one valid object per distinct
content, and both repositories are clean afterwards (SPEC §4, concurrency)."""

from __future__ import annotations

import random
import subprocess
import sys

import xxhash
from conftest import make_git_repo, run_dvx, write
from test_crash import store_objects

from dvx.pointer import parse_pointer


def test_two_repositories_sharing_a_cache_add_identical_content_at_once(tmp_path):
    shared = tmp_path / "shared-cache"
    rng = random.Random(5)
    small = [rng.randbytes(200 + i) for i in range(190)]
    small += small[:10]  # duplicates inside the directory too: 200 files, 190 contents
    big = rng.randbytes(20 << 20)
    repos = []
    for name in ("one", "two"):
        repo = make_git_repo(tmp_path / name)
        for args in (["init"], ["config", "cache.dir", str(shared)]):
            assert run_dvx(*args, cwd=repo).code == 0
        for i, blob in enumerate(small):
            write(repo / f"data/{i % 7}/f{i:03}.bin", blob)
        write(repo / "big.bin", big)
        repos.append(repo)

    procs = [subprocess.Popen([sys.executable, "-m", "dvx", "add", "data", "big.bin"], cwd=repo,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              stdin=subprocess.DEVNULL) for repo in repos]
    outputs = [proc.communicate(timeout=120) for proc in procs]
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, out + err
        assert "Traceback" not in out + err

    manifests = {parse_pointer((r / "data.dvx").read_bytes(), "data.dvx").oid for r in repos}
    assert len(manifests) == 1  # both repositories recorded the same directory
    contents = {xxhash.xxh3_128_hexdigest(blob) for blob in [*small, big]}
    objects = store_objects(shared)  # each one hashes to its name
    assert set(objects) == contents | manifests
    files = [p for p in (shared / "files/xxh128").rglob("*") if p.is_file()]
    assert len(files) == len(contents) + 1, "a temporary or duplicate is left in the cache"
    assert not [p for p in (shared / "tmp").rglob("*") if p.is_file()]
    for repo in repos:
        local = [p for p in (repo / ".dvx/cache").rglob("*") if p.is_file()]
        assert not local, f"objects went to the repository's own cache: {local}"
        assert run_dvx("status", "-q", cwd=repo).code == 0
        assert (repo / "big.bin").read_bytes() == big


def test_gc_in_a_shared_cache_warns_and_keeps_what_named_projects_use(tmp_path):
    shared = tmp_path / "shared-cache"
    repos = []
    for name in ("one", "two"):
        repo = make_git_repo(tmp_path / name)
        for args in (["init"], ["config", "cache.dir", str(shared)]):
            assert run_dvx(*args, cwd=repo).code == 0
        write(repo / f"{name}.csv", f"the work of {name}\n")
        assert run_dvx("add", f"{name}.csv", cwd=repo).code == 0  # not committed anywhere
        repos.append(repo)
    one, two = repos
    kept = run_dvx("gc", "-A", "-f", "--grace", "0", "-p", str(two), cwd=one)
    assert kept.code == 0 and "outside this repository" not in kept.stderr, kept.output
    assert run_dvx("status", "-q", cwd=two).code == 0
    bad = run_dvx("gc", "-w", "-f", "-p", str(tmp_path / "nowhere"), cwd=one)
    assert bad.code == 2 and "is not a directory" in bad.stderr
    warned = run_dvx("gc", "-w", "--dry-run", "--grace", "0", cwd=one)
    assert "outside this repository, perhaps shared" in warned.stderr, warned.output
    assert "--projects" in warned.stderr
