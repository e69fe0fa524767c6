"""Crash safety (SPEC §4.2, §4.3, §4.4): kill -9 at every durability boundary, then rerun.

Each case runs a real `python -m dvx` with DVX_FAULT=NAME[:N] (see dvx/faults.py), so the
process dies by SIGKILL exactly at that point, as a power cut of the process would stop it.
After the kill we check what a user would find:

- every file that exists is complete: either what it was before the command or what an
  uninterrupted run produces (data, pointers, .gitignore), never a truncated mix; each
  stage's entry in dvx.lock is its old or its new one; an output `repro` removed before
  running its stage again may be missing;
- every object in the cache and on the remote has bytes that hash to its oid (a partial object
  only ever exists under a hidden temporary name);
- the remote never holds a directory manifest whose files are missing;
- `dvx fsck` finds nothing corrupt;
- running the same command again, without the fault, succeeds and leaves exactly what an
  uninterrupted run leaves (files, dvx.lock bytes, objects, run records).

A final test kills `dvx add` of a 50 MB file at random moments with a timer.

CASES is a fast sample; `scripts/crash-matrix` runs every fault point of dvx/ in every
scenario at passes 1-3, with `crash_and_rerun` and `kill_add_at_random_moments` from here.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import xxhash
from conftest import git, make_git_repo, run_dvx, run_dvx_proc, tree_bytes, write

from dvx.errors import DvxError
from dvx.lockfile import parse_lock
from dvx.objects.tree import Tree
from dvx.pointer import parse_pointer
from dvx.remote.packs import (
    PACK_HEADER_SIZE,
    PackBuilder,
    Section,
    index_name,
    pack_name,
    read_index,
    write_index,
)

ALGO = "xxh128"
# What fsutil.temp_name_for and ObjectStore.put_file name in-flight files: hidden, 12 hex, .tmp
TEMP_NAME = re.compile(r"\..+[.~]dvx-[0-9a-f]{12}\.tmp")


# --- what a user can observe ------------------------------------------------------------------


def is_temp(rel: str) -> bool:
    return TEMP_NAME.fullmatch(rel.rsplit("/", 1)[-1]) is not None


def workspace(root: Path) -> dict[str, bytes]:
    """Every regular file of the workspace (not .git, not .dvx), dvx temporaries included."""
    files: dict[str, bytes] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        if Path(dirpath) == root:
            dirnames[:] = [d for d in dirnames if d not in (".git", ".dvx")]
        for name in filenames:
            path = Path(dirpath) / name
            if path.is_file() and not path.is_symlink():
                files[path.relative_to(root).as_posix()] = path.read_bytes()
    return files


def without_temps(files: dict[str, bytes]) -> dict[str, bytes]:
    return {rel: data for rel, data in files.items() if not is_temp(rel)}


def store_objects(root: Path) -> dict[str, bytes]:
    """Every object of an object store (cache or remote), each checked against its oid.

    A file under its final name that is not a valid, matching object is a half-written or
    overwritten object: exactly what must never exist."""
    objects: dict[str, bytes] = {}
    top = root / "files" / ALGO
    if not top.exists():
        return objects
    for path in sorted(top.rglob("*")):
        if path.is_dir() or path.name.startswith("."):
            continue  # a directory, or an in-flight temporary (hidden by construction)
        oid = path.parent.name + path.name
        assert re.fullmatch(r"[0-9a-f]{32}", oid), f"stray file in the object store: {path}"
        data = path.read_bytes()
        assert xxhash.xxh3_128_hexdigest(data) == oid, f"object {oid} is partial or corrupt"
        objects[oid] = data
    return objects


def manifests(objects: dict[str, bytes]) -> dict[str, Tree]:
    found = {}
    for oid, data in objects.items():
        try:
            found[oid] = Tree.from_bytes(data, ALGO, oid)
        except DvxError:
            continue  # a file object
    return found


def packed_objects(root: Path) -> dict[str, bytes]:
    """Every object the pack indexes of a remote name, each checked against its oid. An index
    is complete (it hashes to its name) and names only packs that are there and long enough:
    a killed push or gc must never leave one that does not."""
    objects: dict[str, bytes] = {}
    indexes = root / "indexes"
    if not indexes.exists():
        return objects
    for index in sorted(indexes.glob("*.idx")):
        text = index.read_bytes()
        assert xxhash.xxh3_128_hexdigest(text) + ".idx" == index.name, f"partial index {index}"
        pack = b""
        for line in text.decode().splitlines()[1:]:
            words = line.split()
            if words[0] == "pack":
                pack = (root / "packs" / words[1]).read_bytes()
                assert len(pack) == int(words[2]), f"pack {words[1]} is partial"
            elif words[0] == "loose":
                pack = b""
            elif pack:
                offset, length = int(words[1]), int(words[2])
                data = pack[offset:offset + length]
                assert xxhash.xxh3_128_hexdigest(data) == words[0], f"{words[0]} is corrupt"
                objects[words[0]] = data
    return objects


def check_remote(remote: Path) -> set[str]:
    objects = {**store_objects(remote), **packed_objects(remote)}
    for oid, tree in manifests(objects).items():
        missing = [e.path for e in tree.entries if e.oid not in objects]
        assert not missing, f"remote manifest {oid} is there without its files {missing}"
    return set(objects)


def packed_copies(remote: Path) -> tuple[Counter[str], int]:
    """How many index entries name each packed object, and how many bytes of the packs
    (after their headers) no entry names."""
    named: Counter[str] = Counter()
    unnamed = sum(p.stat().st_size - PACK_HEADER_SIZE for p in (remote / "packs").iterdir()
                  if p.name.endswith(".pack"))
    for index in (remote / "indexes").glob("*.idx"):
        for section in read_index(index.read_bytes().splitlines(keepends=True), ALGO):
            if section.pack is not None:
                named.update(oid for oid, _, _ in section.entries)
                unnamed -= sum(length for _, _, length in section.entries)
    return named, unnamed


def check_pointers(work: Path, files: dict[str, bytes]) -> None:
    """Every pointer is complete and valid, and Git ignores the data it names."""
    for rel, data in files.items():
        if rel.endswith(".dvx") and not is_temp(rel):
            parse_pointer(data, rel)  # raises on a truncated or invalid pointer
            ignored = subprocess.run(["git", "check-ignore", "-q", rel[: -len(".dvx")]],
                                     cwd=work, check=False)
            assert ignored.returncode == 0, f"Git would commit the data of {rel}"


@dataclass
class State:
    code: int
    files: dict[str, bytes]  # workspace, without dvx temporaries
    cache: set[str]
    remote: set[str]
    runs: dict[str, bytes]  # the run-cache's records


def run_records(work: Path) -> dict[str, bytes]:
    root = work / ".dvx/cache/runs"
    return {rel: blob for rel, blob in tree_bytes(root).items() if not is_temp(rel)}


def observe(work: Path, remote: Path, code: int) -> State:
    return State(code, without_temps(workspace(work)), set(store_objects(work / ".dvx/cache")),
                 check_remote(remote), run_records(work))


# --- scenarios --------------------------------------------------------------------------------


def data(seed: int, size: int) -> bytes:
    return random.Random(seed).randbytes(size)


def must(*args: str, cwd: Path) -> None:
    result = run_dvx(*args, cwd=cwd)
    assert result.code == 0, result.output


def write_v1(repo: Path) -> None:
    write(repo / "data/model.bin", data(1, 3 << 20))  # several hashing chunks
    write(repo / "data/labels.csv", "id,label\n1,cat\n2,dog\n")
    for i in range(4):
        write(repo / f"data/images/{i}.png", data(10 + i, 3000 + i))
    write(repo / "data/images/copy-of-0.png", data(10, 3000))  # same content as 0.png


def write_v2(repo: Path) -> None:
    # New files replace the old ones, as `dvx unprotect` would: with cache.type hardlink the
    # old ones are read-only links to cache objects (and the tests may run as root).
    for rel in ("data/model.bin", "data/images/1.png", "data/images/3.png"):
        (repo / rel).unlink()
    write(repo / "data/model.bin", data(2, 3 << 20))
    write(repo / "data/images/1.png", data(21, 3100))
    write(repo / "data/images/new.png", data(22, 3200))


def new_repo(base: Path, link_type: str) -> Path:
    repo = make_git_repo(base / "repo")
    must("init", cwd=repo)
    must("config", "cache.type", link_type, cwd=repo)
    must("remote", "add", "-d", "store", str(base / "remote"), cwd=repo)
    return repo


def tracked_v1(base: Path, link_type: str) -> Path:
    repo = new_repo(base, link_type)
    write_v1(repo)
    must("add", "data/model.bin", "data/labels.csv", "data/images", cwd=repo)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "v1")
    return repo


def setup_add(link_type: str) -> Callable[[Path], Path]:
    def setup(base: Path) -> Path:
        repo = new_repo(base, link_type)
        write_v1(repo)
        return repo
    return setup


def setup_tracked(base: Path) -> Path:
    return tracked_v1(base, "copy")


def setup_commit(base: Path) -> Path:
    repo = tracked_v1(base, "copy")
    write_v2(repo)
    return repo


def setup_checkout(link_type: str) -> Callable[[Path], Path]:
    def setup(base: Path) -> Path:
        repo = tracked_v1(base, link_type)
        write_v2(repo)
        must("commit", cwd=repo)
        git(repo, "commit", "-qam", "v2")
        git(repo, "checkout", "-q", "HEAD~1", "--", "data")  # the v1 pointers, v2 data
        return repo
    return setup


def setup_push(base: Path) -> Path:
    return tracked_v1(base, "copy")


def setup_gc_remote(base: Path) -> Path:
    """v1 pushed, then v2 pushed: gc of the workspace with --remote rewrites the pack that
    holds v1's images (keeping the live objects beside them), drops v1's manifest from its
    pack and deletes v1's model, a loose object."""
    repo = tracked_v1(base, "copy")
    must("push", cwd=repo)
    write_v2(repo)
    must("commit", cwd=repo)
    git(repo, "commit", "-qam", "v2")
    must("push", cwd=repo)
    return repo


def setup_gc_remote_copies(base: Path) -> Path:
    """As gc-remote, with every packed object packed a second time, as by another clone that
    pushed the same data at once: gc also deletes the second copies (the objects only the
    rewritten packs hold are copied once), keeping one copy of each object."""
    repo = setup_gc_remote(base)
    remote = base / "remote"
    builder = PackBuilder()
    for oid, data in sorted(packed_objects(remote).items()):
        builder.add(oid, data)
    pack = bytes(builder.finish())
    section = Section(pack_name(pack, ALGO), len(pack), builder.entries)
    (remote / "packs" / str(section.pack)).write_bytes(pack)
    index = write_index([section], ALGO)
    (remote / "indexes" / index_name(index, ALGO)).write_bytes(index)
    return repo


def setup_pull(base: Path) -> Path:
    origin = tracked_v1(base, "copy")
    must("push", cwd=origin)
    git(base, "clone", "-q", str(origin), "clone")
    return base / "clone"


def setup_gc(base: Path) -> Path:
    """v1 and then v2 committed: gc of the workspace deletes v1's model, two images and its
    manifest, one after the other."""
    repo = tracked_v1(base, "copy")
    write_v2(repo)
    must("commit", cwd=repo)
    git(repo, "commit", "-qam", "v2")
    return repo


# Two stages, a directory output feeding a file output; v1 is run and committed, then the
# inputs change so that both stages run again.
PIPELINE = """\
stages:
  split:
    cmd: mkdir -p parts && cp in/*.txt parts/
    deps: [in]
    outs: [parts]
  join:
    cmd: cat parts/*.txt > joined.txt
    deps: [parts]
    outs: [joined.txt]
"""
REPRO_OUTPUTS = ("parts", "joined.txt")


def setup_repro(base: Path) -> Path:
    repo = new_repo(base, "copy")
    write(repo / "dvx.yaml", PIPELINE)
    for name in "abc":
        write(repo / f"in/{name}.txt", f"{name} v1\n" * 1000)
    must("repro", cwd=repo)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "v1")
    write(repo / "in/b.txt", "b v2\n" * 1000)
    write(repo / "in/d.txt", "d v2\n" * 1000)
    return repo


@dataclass(frozen=True)
class Scenario:
    setup: Callable[[Path], Path]
    args: tuple[str, ...]
    outputs: tuple[str, ...] = ()  # removed by the command before it makes them again


ADD = ("add", "data/model.bin", "data/labels.csv", "data/images")
SCENARIOS = {
    "add-copy": Scenario(setup_add("copy"), ADD),
    "add-hardlink": Scenario(setup_add("hardlink"), ADD),
    "commit": Scenario(setup_commit, ("commit",)),
    "checkout-copy": Scenario(setup_checkout("copy"), ("checkout",)),
    "checkout-hardlink": Scenario(setup_checkout("hardlink"), ("checkout",)),
    "push": Scenario(setup_push, ("push", "-j", "1")),
    "pull": Scenario(setup_pull, ("pull", "-j", "1")),
    "gc": Scenario(setup_gc, ("gc", "-w", "-f", "--grace", "0", "--force-last-copy")),
    "gc-remote": Scenario(setup_gc_remote, ("gc", "-w", "-c", "store", "-f", "--grace", "0",
                                            "--force-last-copy")),
    "gc-remote-copies": Scenario(setup_gc_remote_copies, ("gc", "-w", "-c", "store", "-f",
                                                          "--grace", "0", "--force-last-copy")),
    "repro": Scenario(setup_repro, ("repro",), REPRO_OUTPUTS),
    "move": Scenario(setup_tracked, ("move", "data/images", "pictures")),
    "remove": Scenario(setup_tracked, ("remove", "data/labels.csv.dvx")),
}

# (scenario, fault). Counts: the lock holder file is atomic write #1, then `add` writes each
# output's .gitignore entry and pointer in turn; it publishes 6 distinct files (a duplicate is
# found in the cache and not written again) and then the images manifest (#7); push uploads
# 6 files and then the manifest (#7); pull downloads and publishes the manifest (#1) and
# 6 files, then places 7 files.
CASES = [
    ("add-copy", "cache.copy.after_temp_write"),
    ("add-copy", "cache.copy.after_temp_write:5"),
    ("add-copy", "cache.before_publish:3"),
    ("add-copy", "cache.before_publish:7"),
    ("add-copy", "atomic_write.after_temp_write:2"),
    ("add-copy", "atomic_write.before_rename:4"),
    ("add-copy", "atomic_write.before_rename:6"),
    ("add-hardlink", "cache.hardlink.after_link"),
    ("add-hardlink", "cache.hardlink.after_link:4"),
    ("add-hardlink", "place.before_rename"),
    ("add-hardlink", "cache.before_publish"),
    ("add-hardlink", "atomic_write.before_rename:3"),
    ("commit", "cache.copy.after_temp_write"),
    ("commit", "cache.before_publish:3"),
    ("commit", "atomic_write.after_temp_write:2"),
    ("commit", "atomic_write.before_rename:3"),
    ("checkout-copy", "copy.after_temp_write"),
    ("checkout-copy", "place.before_rename:2"),
    ("checkout-copy", "place.before_rename:3"),
    ("checkout-hardlink", "place.before_rename"),
    ("checkout-hardlink", "place.before_rename:2"),
    # push: the model alone (it is above the pack threshold), the small files in one pack
    # and its index, then the manifest in a pack and an index of its own
    ("push", "odb.put.before_rename"),
    ("push", "packs.after_pack"),
    ("push", "packs.before_index"),
    ("push", "packs.after_index"),
    ("push", "push.before_manifests"),
    ("push", "packs.after_pack:2"),
    # gc --remote: copies the live objects of the packs that hold dead ones into a new pack,
    # publishes one index, deletes the old indexes, then the old packs, then the dead model
    ("gc-remote", "gc.repack.after_pack"),
    ("gc-remote", "packs.after_index"),
    ("gc-remote", "gc.repack.after_index"),
    ("gc-remote", "gc.repack.after_old_indexes"),
    ("pull", "cache.before_publish"),
    ("pull", "transfer.after_object:3"),
    ("pull", "cache.before_publish:4"),
    ("pull", "cache.before_publish:7"),
    ("pull", "copy.after_temp_write:3"),
    ("pull", "place.before_rename:7"),
    # gc deletes 4 objects (after writing its lock holder file and a new cache generation)
    ("gc", "atomic_write.before_rename:2"),
    ("gc", "gc.before_delete"),
    ("gc", "gc.after_delete:2"),
    ("gc", "gc.after_delete:4"),
    # repro runs split, then join; each stage's outputs are cached, then their records are
    # written as pending (synced.json, #2), then dvx.lock is replaced (#3), then its run is
    # recorded in the run-cache
    ("repro", "repro.after_command"),
    ("repro", "cache.copy.after_temp_write:2"),
    ("repro", "repro.before_lock_write"),
    ("repro", "atomic_write.before_rename:3"),  # dvx.lock: the rerun removes its temporary
    ("repro", "repro.before_run_record"),
    ("repro", "repro.after_command:2"),
    ("repro", "repro.before_lock_write:2"),
    # move marks the move begun (#2), adds the .gitignore entry (#3), writes the new pointer
    # (#4), renames the data, records the move (#5), takes out the old entry (#6), deletes
    # the old pointer and clears the mark (#7: the move done, the rerun finds it so)
    ("move", "atomic_write.before_rename:2"),
    ("move", "atomic_write.before_rename:3"),
    ("move", "atomic_write.before_rename:4"),
    ("move", "atomic_write.before_rename:5"),
    ("move", "atomic_write.before_rename:6"),
    ("move", "atomic_write.before_rename:7"),
    # remove forgets the record and marks the removal begun (#2), deletes the pointer, takes
    # out the .gitignore entry (#3), stages (or names) what it changed, then clears the mark
    # (#4)
    ("remove", "atomic_write.before_rename:2"),
    ("remove", "atomic_write.before_rename:3"),
    ("remove", "remove.before_stage"),
    ("remove", "atomic_write.before_rename:4"),
]

_references: dict[str, State] = {}


def reference(name: str, base: Path) -> State:
    """What an uninterrupted run leaves (computed once per scenario and process)."""
    if name not in _references:
        work = SCENARIOS[name].setup(base)
        result = run_dvx(*SCENARIOS[name].args, cwd=work)
        assert result.code == 0, result.output
        _references[name] = observe(work, base / "remote", result.code)
    return _references[name]


def run_with_fault(work: Path, args: tuple[str, ...], fault: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dvx", *args], cwd=work, capture_output=True,
                          text=True, env={**os.environ, "DVX_FAULT": fault}, timeout=120,
                          stdin=subprocess.DEVNULL)


def check_lock(old: bytes | None, new: bytes | None, now: bytes | None) -> None:
    """dvx.lock parses, and each stage's entry is its old or its new one."""
    if now is None:
        assert old is None, "dvx.lock disappeared"
        return
    before, after = parse_lock(old or b"", ALGO), parse_lock(new or b"", ALGO)
    for name, entry in parse_lock(now, ALGO).items():
        assert entry in (before.get(name), after.get(name)), f"dvx.lock: stage {name} is mixed"


def crash_and_rerun(name: str, fault: str, base: Path, expected: State) -> bool:
    """Kill the scenario's command at `fault`, check what it left, rerun it and check that
    the result is an uninterrupted run's. Returns False if the command never reached the
    fault (then it must have finished like an uninterrupted run). Raises AssertionError."""
    scenario = SCENARIOS[name]
    work = scenario.setup(base)
    remote = base / "remote"
    before = workspace(work)
    remote_before = check_remote(remote)

    crashed = run_with_fault(work, scenario.args, fault)
    if crashed.returncode != -signal.SIGKILL:
        assert crashed.returncode == expected.code, crashed.stdout + crashed.stderr
        assert observe(work, remote, crashed.returncode) == expected
        return False

    # Right after the kill: nothing half-written anywhere.
    now = workspace(work)
    for rel in sorted(set(before) | set(expected.files) | set(now)):
        if is_temp(rel) and rel not in before:
            continue  # a hidden in-flight file of the killed process
        old, new = before.get(rel), expected.files.get(rel)
        if rel.endswith(".gitignore") and now.get(rel) is not None:
            # updated one complete entry at a time: only whole lines, each old or new
            lines = set((old or b"").splitlines()) | set((new or b"").splitlines())
            assert now[rel].endswith(b"\n") and set(now[rel].splitlines()) <= lines, rel
            continue
        if rel == "dvx.lock":
            check_lock(old, new, now.get(rel))
            continue
        if rel not in now and any(rel == out or rel.startswith(out + "/")
                                  for out in scenario.outputs):
            continue  # an output removed before its stage runs again
        assert now.get(rel) in (old, new), f"{rel} is neither its old nor its new content"
    check_pointers(work, now)
    store_objects(work / ".dvx/cache")
    # Nothing live ever leaves the remote (gc --remote deletes only what it must).
    assert check_remote(remote) >= (expected.remote if name.startswith("gc-remote")
                                    else remote_before)
    fsck = run_dvx("fsck", cwd=work)
    assert fsck.code == 0 and " 0 corrupt." in fsck.stdout, fsck.output

    # The same command again finishes the job, exactly as an uninterrupted run would.
    rerun = run_dvx(*scenario.args, cwd=work)
    assert rerun.code == 0, rerun.output
    assert "Traceback" not in rerun.output
    after = observe(work, remote, rerun.code)
    assert after.files == expected.files
    assert after.cache == expected.cache
    assert after.remote == expected.remote
    assert after.runs == expected.runs
    leftovers = [rel for rel in workspace(work) if is_temp(rel)]
    assert not leftovers, f"the rerun left the killed run's temporaries: {leftovers}"
    status = run_dvx("status", "--json", cwd=work)
    assert status.code == 0 and '"changed": false' in status.stdout, status.output
    return True


@pytest.mark.parametrize("name, fault", CASES, ids=[f"{n}-{f}" for n, f in CASES])
def test_kill_at_fault_point_then_rerun_converges(name, fault, tmp_path, tmp_path_factory):
    expected = reference(name, tmp_path_factory.mktemp(f"reference-{name}"))
    assert crash_and_rerun(name, fault, tmp_path, expected), f"the fault {fault} was never reached"


@pytest.mark.parametrize("fault", ["gc.repack.after_pack", "packs.after_index",
                                   "gc.repack.after_index", "gc.repack.after_old_indexes"])
def test_gc_remote_killed_while_dropping_second_copies_converges_to_one_copy(
        fault, tmp_path, tmp_path_factory):
    """gc --remote of objects packed twice, killed at each step: the remote stays whole, and
    the rerun leaves one copy of each object and no pack bytes that no index names."""
    name = "gc-remote-copies"
    expected = reference(name, tmp_path_factory.mktemp(f"reference-{name}"))
    assert crash_and_rerun(name, fault, tmp_path, expected), f"the fault {fault} was never reached"
    named, unnamed = packed_copies(tmp_path / "remote")
    assert set(named.values()) == {1} and unnamed == 0, (named, unnamed)


def test_killed_checkout_never_touches_a_change_that_is_not_cached(tmp_path):
    repo = setup_checkout("copy")(tmp_path)
    notes = write(repo / "data/images/my-notes.txt", "unsaved work\n")  # not in any cache
    write(repo / "data/labels.csv", "id,label\n1,cat\n2,dog\n3,unsaved\n")

    crashed = run_with_fault(repo, ("checkout",), "place.before_rename:2")
    assert crashed.returncode == -signal.SIGKILL
    assert notes.read_bytes() == b"unsaved work\n"
    assert (repo / "data/labels.csv").read_text().endswith("3,unsaved\n")

    rerun = run_dvx("checkout", cwd=repo)
    assert rerun.code == 1
    assert "data/images/my-notes.txt" in rerun.stderr and "data/labels.csv" in rerun.stderr
    assert notes.read_bytes() == b"unsaved work\n"
    assert (repo / "data/labels.csv").read_text().endswith("3,unsaved\n")
    assert (repo / "data/model.bin").read_bytes() == data(1, 3 << 20)  # the rest is v1 again


def kill_add_at_random_moments(base: Path, link_type: str, rounds: int,
                               rng: random.Random | None = None) -> None:
    """Kill `dvx add` of a 50 MB file `rounds` times at a random moment, checking each time
    that the file is intact, every object whole and every pointer valid; then add it for
    real. Raises AssertionError."""
    repo = new_repo(base, link_type)
    content = data(7, 50 << 20)
    big = write(repo / "big.bin", content)
    digest = xxhash.xxh3_128_hexdigest(content)
    rng = rng or random.Random()
    for _ in range(rounds):
        proc = subprocess.Popen([sys.executable, "-m", "dvx", "add", "big.bin"], cwd=repo,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                stdin=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.05, 0.4))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        assert xxhash.xxh3_128_hexdigest(big.read_bytes()) == digest
        assert big.stat().st_size == len(content)
        store_objects(repo / ".dvx/cache")
        check_pointers(repo, workspace(repo))
        if (repo / "big.bin.dvx").exists():
            (repo / "big.bin.dvx").unlink()  # start the next round from an untracked file
    result = run_dvx("add", "big.bin", cwd=repo)
    assert result.code == 0, result.output
    assert xxhash.xxh3_128_hexdigest(big.read_bytes()) == digest
    assert digest in set(store_objects(repo / ".dvx/cache"))
    assert parse_pointer((repo / "big.bin.dvx").read_bytes(), "big.bin.dvx").oid == digest


@pytest.mark.parametrize("link_type", ["copy", "hardlink"])
def test_add_killed_at_random_moments_never_loses_the_file(link_type, tmp_path):
    kill_add_at_random_moments(tmp_path, link_type, rounds=3)


@pytest.mark.parametrize("layout", ["packs", "loose"])
def test_a_worker_killed_while_pulling_many_tiny_objects_loses_nothing(tmp_path, request, layout):
    """A pull of thousands of tiny objects from S3 reads them (ranges of packs, or loose
    objects) into a scratch file, then stores them in worker processes. One killed as it
    stores makes the pull fail with a clear message; the cache holds only whole objects,
    nothing of the scratch file is left, and running pull again finishes the job."""
    from conftest import run_dvx_proc

    from dvx.processes import MIN_ITEMS
    from tests.remotes import _s3_spec, clone, commit_all, configure

    spec = _s3_spec(request.getfixturevalue("seaweed_s3"), request)
    work = make_git_repo(tmp_path / "repo")
    assert run_dvx("init", cwd=work).code == 0
    files = {f"d/{i % 9}/f{i}": os.urandom(20 + i % 100) for i in range(MIN_ITEMS + 20)}
    for rel, content in files.items():
        write(work / rel, content)
    assert run_dvx("add", "d", cwd=work).code == 0
    configure(lambda *args, cwd: run_dvx(*args, cwd=cwd), work, spec)
    if layout == "loose":
        assert run_dvx("remote", "modify", "r", "pack_threshold", "0", cwd=work).code == 0
    assert run_dvx("push", cwd=work).code == 0
    commit_all(work)
    target = clone(work, tmp_path)

    crashed = run_dvx_proc("pull", cwd=target, env={"DVX_FAULT": "transfer.after_object:40"})
    assert crashed.code == 1, crashed.output
    assert "worker process was killed by signal 9" in crashed.stderr
    assert "Traceback" not in crashed.output
    assert 0 < len(store_objects(target / ".dvx/cache")) < len(files)  # whole objects only
    assert list((target / ".dvx/cache/tmp").iterdir()) == []

    rerun = run_dvx("pull", cwd=target)
    assert rerun.code == 0, rerun.output
    assert tree_bytes(target / "d") == tree_bytes(work / "d")


@pytest.mark.parametrize("fault", ["cache.copy.after_temp_write:40", "cache.before_publish:40"])
def test_a_worker_killed_while_adding_many_files_loses_nothing(tmp_path, fault):
    """With many small files, add runs in worker processes (dvx/processes.py). One killed at a
    durability boundary makes the command fail with a clear message; the user's files and the
    cache stay whole, and running add again finishes the job."""
    from conftest import run_dvx_proc

    from dvx.processes import MIN_ITEMS

    work = make_git_repo(tmp_path / "repo")
    assert run_dvx("init", cwd=work).code == 0
    files = {f"d/{i % 9}/f{i}": os.urandom(20 + i % 100) for i in range(MIN_ITEMS + 20)}
    for rel, content in files.items():
        write(work / rel, content)
    before = workspace(work)

    crashed = run_dvx_proc("add", "d", cwd=work, env={"DVX_FAULT": fault})
    assert crashed.code == 1, crashed.output
    assert "worker process was killed by signal 9" in crashed.stderr
    assert "Traceback" not in crashed.output
    assert {rel: data for rel, data in workspace(work).items() if not is_temp(rel)} == before
    store_objects(work / ".dvx/cache")

    rerun = run_dvx("add", "d", cwd=work)
    assert rerun.code == 0, rerun.output
    assert run_dvx("status", "-q", cwd=work).code == 0
    assert {rel: data for rel, data in workspace(work).items()
            if rel.startswith("d/")} == {rel: files[rel] for rel in files}


def test_a_killed_checkout_leaves_git_nothing_to_stage_and_status_names_its_temporary(tmp_path):
    root = make_git_repo(tmp_path / "repo")
    assert run_dvx("init", cwd=root).code == 0
    assert run_dvx("config", "cache.type", "copy", cwd=root).code == 0
    (root / ".git" / "info" / "exclude").unlink()  # a clone made before dvx wrote it there
    write(root / "big.bin", os.urandom(2_000_000))
    assert run_dvx("add", "big.bin", cwd=root).code == 0
    git(root, "add", "-A")
    git(root, "commit", "-qm", "data")
    os.unlink(root / "big.bin")
    crashed = subprocess.run([sys.executable, "-m", "dvx", "checkout"], cwd=root,
                             capture_output=True, text=True, timeout=120,
                             env={**os.environ, "DVX_FAULT": "place.before_rename"})
    assert crashed.returncode == -signal.SIGKILL
    temps = [name for name in os.listdir(root) if TEMP_NAME.fullmatch(name)]
    assert temps and os.path.getsize(root / temps[0]) == 2_000_000
    git(root, "add", "-A")
    assert git(root, "status", "--porcelain") == ""  # Git never sees it
    status = run_dvx("status", cwd=root)
    assert f"'{temps[0]}' is a temporary file of a dvx command" in status.stderr, status.output
    assert run_dvx("checkout", cwd=root).code == 0
    assert not [name for name in os.listdir(root) if TEMP_NAME.fullmatch(name)]
    assert (root / "big.bin").stat().st_size == 2_000_000


@pytest.mark.parametrize(("command", "cache_type"), [("unprotect big", "hardlink"),
                                                     ("remove big", "symlink"),
                                                     ("checkout", "copy")])
def test_a_temporary_a_killed_command_left_inside_a_tracked_directory_is_named_and_removed(
        tmp_path, command, cache_type):
    """A command killed while it copies a large file of a tracked directory (unprotect's own
    copy of a link, remove's copy of a symlink it leaves as the user's data, checkout's copy
    from the cache) leaves a temporary inside the directory: status names it, and the same
    command run again removes it."""
    root = make_git_repo(tmp_path / "repo")
    assert run_dvx("init", cwd=root).code == 0
    assert run_dvx("config", "cache.type", cache_type, cwd=root).code == 0
    for name in ("b1.bin", "b2.bin"):
        write(root / "big" / name, os.urandom(1_500_000))
    assert run_dvx("add", "big", cwd=root).code == 0
    git(root, "add", "-A")
    git(root, "commit", "-qm", "data")
    if command == "checkout":
        for name in ("b1.bin", "b2.bin"):
            os.unlink(root / "big" / name)
    crashed = run_dvx_proc(*command.split(), cwd=root, env={"DVX_FAULT": "place.before_rename"})
    assert crashed.code == -signal.SIGKILL, crashed.output
    temps = [f"big/{name}" for name in os.listdir(root / "big") if is_temp(name)]
    assert len(temps) == 1 and os.path.getsize(root / temps[0]) == 1_500_000

    status = run_dvx_proc("status", "--json", cwd=root)
    assert json.loads(status.stdout)["temporaries"] == temps, status.output
    plain = run_dvx_proc("status", cwd=root)
    assert f"'{temps[0]}' is a temporary file of a dvx command" in plain.stderr, plain.output

    again = run_dvx_proc(*command.split(), cwd=root)
    assert again.code == 0, again.output
    assert sorted(os.listdir(root / "big")) == ["b1.bin", "b2.bin"]
    assert "temporar" not in run_dvx_proc("status", cwd=root).stderr


@pytest.mark.parametrize(("target", "fault"), [("model.bin", "commit.after_pointer:1"),
                                             ("d", "place.before_rename:1")])
def test_an_add_killed_in_symlink_mode_links_its_files_when_run_again(tmp_path, target, fault):
    """cache.type symlink: an add killed once its objects are stored but before its files
    became links leaves them full copies; the same add run again (after a status, which
    hashed them) makes them links to their objects, as in hardlink mode, instead of saying
    they are unchanged and leaving the copies."""
    root = make_git_repo(tmp_path / "repo")
    assert run_dvx("init", cwd=root).code == 0
    assert run_dvx("config", "cache.type", "symlink", cwd=root).code == 0
    write(root / "model.bin", os.urandom(1_500_000))
    for name in ("a.bin", "b.bin"):
        write(root / "d" / name, os.urandom(1_500_000))
    time.sleep(2.1)  # older than the filesystem's coarsest tick: the stat cache trusts them
    crashed = run_dvx_proc("add", target, cwd=root, env={"DVX_FAULT": fault})
    assert crashed.code == -signal.SIGKILL, crashed.output
    run_dvx_proc("status", cwd=root)  # records what it hashed in the stat cache
    assert run_dvx_proc("add", target, cwd=root).code == 0
    files = [root / "model.bin"] if target == "model.bin" else \
        [root / "d" / "a.bin", root / "d" / "b.bin"]
    assert all(path.is_symlink() for path in files)
    assert run_dvx_proc("status", "-q", cwd=root).code == 0


def test_a_command_killed_half_way_is_named_until_run_again(tmp_path):
    """add killed between its .gitignore entry and its pointer leaves a file Git ignores and
    dvx does not track: status names the stopped command, and so does the next command that
    writes; after it, nothing is said."""
    repo = make_git_repo(tmp_path / "repo")
    assert run_dvx("init", cwd=repo).code == 0
    write(repo / "r.bin", os.urandom(1000))
    killed = subprocess.run([sys.executable, "-m", "dvx", "add", "r.bin"], cwd=repo,
                            env={**os.environ, "DVX_FAULT": "atomic_write.before_rename:4"},
                            capture_output=True, stdin=subprocess.DEVNULL)
    assert killed.returncode == -9
    assert (repo / ".gitignore").read_text() == "/r.bin\n" and not (repo / "r.bin.dvx").exists()
    said = "The last `dvx add r.bin` in this repository was stopped before it finished"
    assert said in run_dvx_proc("status", cwd=repo).stderr
    write(repo / "other.txt", "other")
    other = run_dvx_proc("add", "other.txt", cwd=repo)  # another command: still said
    assert other.code == 0 and said in other.stderr
    assert run_dvx_proc("commit", "-q", cwd=repo).code == 0  # quiet: said later, not now
    assert said in run_dvx_proc("status", cwd=repo).stderr
    refused = run_dvx_proc("add", "missing.bin", cwd=repo)  # an add that fails: not done
    assert refused.code != 0 and said in run_dvx_proc("status", cwd=repo).stderr
    again = run_dvx_proc("add", "r.bin", cwd=repo)
    assert again.code == 0 and said in again.stderr
    assert (repo / "r.bin.dvx").exists()
    assert said not in run_dvx_proc("status", cwd=repo).stderr


def test_status_counts_a_stopped_add_as_a_change_and_lists_its_pointer_temporary(tmp_path):
    """An add killed between its .gitignore entry and its first pointer leaves nothing any
    pointer leads to: status --json and -q report it as a change all the same, naming the
    stopped command and the temporary of its pointer, and plain status names it too (never
    "No data is tracked yet"). Run again, it leaves nothing to report."""
    repo = make_git_repo(tmp_path / "repo")
    assert run_dvx("init", cwd=repo).code == 0
    write(repo / "f.txt", "data")
    killed = subprocess.Popen([sys.executable, "-m", "dvx", "add", "f.txt"], cwd=repo,
                              env={**os.environ, "DVX_FAULT": "atomic_write.before_rename:4"},
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    assert killed.wait(timeout=120) == -signal.SIGKILL and not (repo / "f.txt.dvx").exists()
    temps = [name for name in os.listdir(repo) if is_temp(name)]
    assert len(temps) == 1 and temps[0].startswith(".f.txt.dvx.")

    status = run_dvx_proc("status", "--json", cwd=repo)
    doc = json.loads(status.stdout)
    assert doc["changed"] is True and doc["temporaries"] == temps, status.output
    assert [(s["command"], s["pid"]) for s in doc["stopped"]] == [("dvx add f.txt", killed.pid)]
    assert run_dvx_proc("status", "-q", cwd=repo).code == 1
    plain = run_dvx_proc("status", cwd=repo)
    assert "`dvx add f.txt`: stopped before it finished" in plain.stdout, plain.output
    assert "No data is tracked yet" not in plain.stdout

    assert run_dvx_proc("add", "f.txt", cwd=repo).code == 0
    doc = json.loads(run_dvx_proc("status", "--json", cwd=repo).stdout)
    assert (doc["changed"], doc["stopped"], doc["temporaries"]) == (False, [], [])
    assert run_dvx_proc("status", "-q", cwd=repo).code == 0


def test_ctrl_c_while_the_commands_load_ends_without_a_traceback(tmp_path):
    """SIGINT arriving while the entry point imports the command modules (the first tenth of a
    second of every command) ends as any Ctrl-C does."""
    interrupted_while_loading = """
import builtins, os, signal, sys
original = builtins.__import__
def interrupting(name, *args, **kwargs):
    if name.startswith("dvx.cli."):
        os.kill(os.getpid(), signal.SIGINT)
    return original(name, *args, **kwargs)
builtins.__import__ = interrupting
sys.argv = ["dvx", "status"]
from dvx.entry import main
main()
"""
    done = subprocess.run([sys.executable, "-c", interrupted_while_loading], cwd=tmp_path,
                          capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert done.returncode == 130, done.stderr
    assert done.stderr == "ERROR: Interrupted.\n"


@pytest.mark.parametrize("module, loaded_by, said", [
    ("dvx.ops.status", "the command", "ERROR: Interrupted. Nothing was left half-written; run "
                                      "the command again to finish.\n"),
    ("dvx.pointer", "the command line", "ERROR: Interrupted.\n"),
])
def test_ctrl_c_while_a_command_imports_a_dataclass_module_ends_as_any_ctrl_c_does(
        repo, module, loaded_by, said):
    """SIGINT landing while dvx imports a module defining dataclass fields, in a field's
    __set_name__, which Python 3.11 wraps into a RuntimeError, says "Interrupted." with exit
    status 130, never an unexpected internal error nor a traceback: whether the command
    imports it (lazily, as commands import the module of their work) or the command line
    does, as it loads, before any command starts."""
    interrupted_in_set_name = f"""
import dataclasses, os, signal, sys
original = dataclasses.Field.__set_name__
def interrupting(self, owner, name):
    if owner.__module__ == {module!r}:
        os.kill(os.getpid(), signal.SIGINT)  # handled at the next bytecode, in here
        for _ in range(10):
            pass
    return original(self, owner, name)
dataclasses.Field.__set_name__ = interrupting
sys.argv = ["dvx", "status"]
from dvx.entry import main
main()
"""
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, dvx.cli.main; print(list(sys.modules))"],
        capture_output=True, text=True, check=True).stdout
    assert (f"'{module}'" in loaded) == (loaded_by == "the command line")
    done = subprocess.run([sys.executable, "-c", interrupted_in_set_name], cwd=repo,
                          capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert done.returncode == 130, done.stderr
    assert done.stderr == said
