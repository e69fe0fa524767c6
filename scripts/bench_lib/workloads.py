"""Deterministic workload generation (fixed seed) and content digests for verification."""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from .proc import log

MiB = 1 << 20
GENERATOR_VERSION = 1

SCALES = {
    "full": {"W1": 2 << 30, "W2": 10_000, "W3": 100_000, "W4": 200_000_000},
    "small": {"W1": 64 * MiB, "W2": 1_000, "W3": 5_000, "W4": 10_000_000},
}
WORKLOADS = {  # name -> (tracked path inside the repo, description)
    "W1": ("big.bin", "one large binary file"),
    "W2": ("images", "many 4-64 KiB files in nested directories"),
    "W3": ("small", "many 1 KiB files"),
    "W4": ("table.csv", "a CSV file that later gets 100 rows appended"),
}

def pool_bytes(seed: int, size: int = 16 * MiB) -> bytes:
    return random.Random(seed).randbytes(size)


def write_small_files(root: Path, seed: int, count: int, size_of, path_of) -> None:
    pool = pool_bytes(seed)
    rng = random.Random(seed + 1)
    for i in range(count):
        size = size_of(rng)
        header = f"{root.name}/{i}\n".encode()
        offset = rng.randrange(0, len(pool) - size)
        path = root / path_of(i)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(header + pool[offset:offset + size - len(header)])


def gen_w1(dest: Path, size: int, seed: int) -> None:
    rng = random.Random(seed)
    with open(dest, "wb") as fh:
        left = size
        while left:
            n = min(left, 8 * MiB)
            fh.write(rng.randbytes(n))
            left -= n


def gen_w2(dest: Path, count: int, seed: int) -> None:
    write_small_files(dest, seed, count, lambda r: r.randint(4096, 65536),
                      lambda i: f"d{i % 10}/s{(i // 10) % 20:02}/img{i:05}.bin")


def gen_w3(dest: Path, count: int, seed: int) -> None:
    write_small_files(dest, seed, count, lambda r: 1024,
                      lambda i: f"d{i // 1000:03}/f{i:06}.txt")


CSV_HEADER = "id,timestamp,user,category,amount,score,comment\n"
WORDS = ["alpha", "beta", "gamma", "delta", "omega", "sigma", "kappa", "lambda", "theta", "zeta"]


def csv_rows(rng: random.Random, start: int, count: int) -> str:
    rows = []
    for i in range(start, start + count):
        rows.append(f"{i},{1_600_000_000 + i * 7},user{rng.randrange(100000)},"
                    f"{WORDS[rng.randrange(10)]},{rng.randrange(10**8) / 100:.2f},"
                    f"{rng.random():.6f},{WORDS[rng.randrange(10)]} {WORDS[rng.randrange(10)]}\n")
    return "".join(rows)


def gen_w4(dest: Path, size: int, seed: int) -> int:
    rng = random.Random(seed)
    written, row = 0, 0
    with open(dest, "w", newline="") as fh:
        written += fh.write(CSV_HEADER)
        while written < size:
            written += fh.write(csv_rows(rng, row, 1000))
            row += 1000
    return row


def w4_append_bytes(seed: int, first_row: int) -> bytes:
    return csv_rows(random.Random(seed + 99), first_row, 100).encode()


def tree_digest(path: Path, extra: bytes = b"") -> str:
    """Digest of a file's bytes (plus `extra`), or of every file under a directory."""
    h = hashlib.blake2b(digest_size=16)

    def feed(p: Path) -> None:
        with open(p, "rb") as fh:
            while chunk := fh.read(8 * MiB):
                h.update(chunk)

    if not path.exists():
        return "missing"
    if path.is_file():
        feed(path)
        h.update(extra)
        return h.hexdigest()
    for root, dirs, files in os.walk(path):
        dirs.sort()
        for name in sorted(files):
            p = Path(root, name)
            h.update(f"{p.relative_to(path).as_posix()}\0{p.stat().st_size}\0".encode())
            feed(p)
    return h.hexdigest()


@dataclass
class Workload:
    name: str
    data: Path          # pristine copy of the tracked file/dir
    digest: str
    touch: str          # path (relative to the repo) of the file to touch
    append: bytes = b""
    digest_appended: str = ""


def prepare_workload(name: str, scale: str, seed: int, pristine: Path) -> Workload:
    rel, _ = WORKLOADS[name]
    amount = SCALES[scale][name]
    folder = pristine / name
    stamp_path = pristine / f"{name}.json"
    stamp = {"scale": scale, "seed": seed, "version": GENERATOR_VERSION}
    wseed = seed + int(name[1]) * 1000
    if stamp_path.exists() and json.loads(stamp_path.read_text()).get("key") == stamp:
        info = json.loads(stamp_path.read_text())
        log(f"[gen] {name}: reusing {folder}")
    else:
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        log(f"[gen] {name}: generating ({scale}) ...")
        t0 = time.perf_counter()
        info = {"key": stamp, "rows": 0}
        dest = folder / rel
        if name == "W1":
            gen_w1(dest, amount, wseed)
        elif name == "W2":
            gen_w2(dest, amount, wseed)
        elif name == "W3":
            gen_w3(dest, amount, wseed)
        else:
            info["rows"] = gen_w4(dest, amount, wseed)
        info["digest"] = tree_digest(dest)
        stamp_path.write_text(json.dumps(info))
        log(f"[gen] {name}: done in {time.perf_counter() - t0:.1f}s")
    data = folder / rel
    touch = rel if data.is_file() else min(
        str(p.relative_to(folder)) for p in data.rglob("*") if p.is_file())
    wl = Workload(name, data, info["digest"], touch)
    if name == "W4":
        wl.append = w4_append_bytes(wseed, info["rows"])
        wl.digest_appended = tree_digest(data, wl.append)
    return wl


def set_aside(path: Path, trash: Path) -> None:
    """Move `path` into the folder `trash`, which is deleted at the end of the invocation: on
    some filesystems (ext4 without a journal) creating files soon after deleting many is much
    slower, and the next measurement would pay for the deletion."""
    trash.mkdir(parents=True, exist_ok=True)
    path.rename(trash / f"{len(os.listdir(trash))}-{path.name}")


def remove_path(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, onerror=_force_remove)
    elif path.exists() or path.is_symlink():
        path.unlink()


def _force_remove(func, path, _exc) -> None:
    os.chmod(os.path.dirname(path), 0o755)
    func(path)


