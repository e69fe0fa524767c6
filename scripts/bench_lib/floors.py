"""Floors: what the hardware and the OS do for the same work, measured in the same run."""

from __future__ import annotations

import os
import shutil
import statistics
import sys
from collections.abc import Callable
from pathlib import Path

from .proc import Result, first_error_line, log, run
from .workloads import remove_path, set_aside

STAT_WALK_SRC = r"""
import os, sys, time
t = time.perf_counter()
def walk(p):
    n = 0
    with os.scandir(p) as it:
        for e in it:
            e.stat(follow_symlinks=False)
            n += walk(e.path) if e.is_dir(follow_symlinks=False) else 1
    return n
n = walk(sys.argv[1])
print(n, time.perf_counter() - t)
"""


F_PY, F_DVX = "python3 -c pass (interpreter start)", "dvx --help (startup)"
F_READ, F_XXH, F_MD5 = "read W1 (cat > /dev/null)", "xxh128sum W1", "md5sum W1"
F_WALK, F_WALK_IN = "stat walk W3 (subprocess)", "stat walk W3 (in-process, no interpreter start)"
F_CPAL = "hard-link copy W3 (cp -al)"
F_CP = "copy W1 (cp)"


def f_copy_tree(workload: str) -> str:
    return f"copy {workload} (cp -r)"


def f_tar_put(workload: str) -> str:
    return f"upload {workload} as one tar object (S3, dvx's client)"


def f_tar_get(workload: str) -> str:
    return f"download {workload} as one tar object (S3, dvx's client)"


def f_tar_unpack(workload: str) -> str:
    return f"download {workload} as one tar object and unpack it (S3, dvx's client, tar -x)"


# One object up or down with dvx's own S3 client (multipart in 8 MiB parts, one streaming
# GET; "unpack": the GET streamed into `tar -x`, which creates the workload's files, as a pull
# must); prints the seconds of the transfer alone.
TAR_TRANSFER_SRC = r"""
import asyncio, os, subprocess, sys, time
from dvx.remote.s3fast import Access, FastS3
endpoint, key, secret, target, path, mode = sys.argv[1:7]
fast = FastS3(lambda: None, Access(endpoint, "us-east-1", key, secret, None), 64, 60.0)
async def main():
    await fast.start()
    try:
        t = time.perf_counter()
        if mode == "put":
            await fast.put_file(target, path, os.path.getsize(path), 8 << 20)
        elif mode == "unpack":
            tar = subprocess.Popen(["tar", "-x", "-C", path], stdin=subprocess.PIPE)
            await fast.stream(target, tar.stdin)
            tar.stdin.close()
            if tar.wait():
                raise SystemExit("tar -x failed")
        else:
            with open(path, "wb") as f:
                await fast.stream(target, f)
        return time.perf_counter() - t
    finally:
        await fast.close()
print(asyncio.run(main()))
"""


def measure_s3_floors(wls: dict, names: list[str], runs: int, python: str, s3,
                      credentials: tuple[str, str], workdir: Path, env: dict,
                      settle: Callable[[str], None] = lambda workload: None) -> dict:
    """The same bytes as S3 steps move, as one uncompressed tar object: {floor: [seconds]}."""
    floors: dict[str, list[float]] = {}
    for name in names:
        tar = workdir / "floors" / f"{name.lower()}.tar"
        tar.parent.mkdir(parents=True, exist_ok=True)
        data = Path(wls[name].data)
        made = run(["tar", "cf", tar, "-C", data.parent, data.name], env=env)
        if made.rc != 0:
            log(f"[floor] tar of {name}: skipped ({first_error_line(made)})")
            continue
        for r in range(runs):
            bucket = f"floor-{name.lower()}-{r}"
            if s3.bucket("create", bucket):
                break
            unpacked = workdir / "floors" / f"{name.lower()}-unpacked-{r}"
            unpacked.mkdir(parents=True, exist_ok=True)
            for mode, label, path in (("put", f_tar_put(name), tar),
                                      ("get", f_tar_get(name), tar.with_suffix(".got")),
                                      ("unpack", f_tar_unpack(name), unpacked)):
                os.sync()  # as before each tool's step: the files of the last one written back
                settle(name)
                res = run([python, "-c", TAR_TRANSFER_SRC, s3.endpoint, *credentials,
                           f"{bucket}/{name}.tar", path, mode], env=env)
                if res.rc != 0:
                    log(f"[floor] {label}: skipped ({first_error_line(res)})")
                    continue
                floors.setdefault(label, []).append(float(res.stdout.split()[-1]))
            remove_path(tar.with_suffix(".got"))
            set_aside(unpacked, workdir / "trash")  # deleted at the end, as the tools' runs
            s3.bucket("drop", bucket)
        remove_path(tar)
        for label in (f_tar_put(name), f_tar_get(name), f_tar_unpack(name)):
            if label in floors:
                log(f"[floor] {label}: {statistics.median(floors[label]):.3f}s")
    return floors


def measure_floors(wls: dict, runs: int, dvx_exe: str | None, workdir: Path, env: dict,
                   settle: Callable[[str], None] = lambda workload: None) -> dict:
    """Return {floor name: [seconds per run]}; a floor that cannot run is left out.
    `settle(workload)` runs right before each timed command, as it does before the tools'."""
    floors: dict[str, list[float]] = {}

    def record(name: str, argv, workload: str = "", **kw) -> list[Result]:
        results = []
        for _ in range(runs):
            if workload:
                settle(workload)
            res = run(argv, env=env, **kw)
            if res.rc != 0:
                log(f"[floor] {name}: skipped ({first_error_line(res)})")
                floors.pop(name, None)
                return []
            floors.setdefault(name, []).append(res.seconds)
            results.append(res)
        log(f"[floor] {name}: {statistics.median(floors[name]):.3f}s")
        return results

    record(F_PY, [sys.executable, "-c", "pass"])
    if dvx_exe:
        record(F_DVX, [dvx_exe, "--help"])
    if "W1" in wls:
        w1 = wls["W1"].data
        record(F_READ, ["cat", w1], "W1", discard_stdout=True)
        if shutil.which("xxh128sum"):
            record(F_XXH, ["xxh128sum", w1], "W1")
        else:
            log("[floor] xxh128sum not on PATH; skipped (apt-get install xxhash)")
        record(F_MD5, ["md5sum", w1], "W1")
        copy_target = workdir / "floors" / "w1-copy"
        for _ in range(runs):
            remove_path(copy_target)
            copy_target.parent.mkdir(parents=True, exist_ok=True)
            os.sync()  # the previous copy's pages are written back before timing the next
            settle("W1")
            res = run(["cp", w1, copy_target], env=env)
            if res.rc == 0:
                floors.setdefault(F_CP, []).append(res.seconds)
        remove_path(copy_target)
    for name in ("W2", "W3"):  # a plain copy of every file: what add and push-dir must at least do
        if name in wls:
            target = workdir / "floors" / f"{name.lower()}-copy"
            for _ in range(runs):
                target.parent.mkdir(parents=True, exist_ok=True)
                os.sync()
                settle(name)
                res = run(["cp", "-r", wls[name].data, target], env=env)
                if res.rc == 0:
                    floors.setdefault(f_copy_tree(name), []).append(res.seconds)
                set_aside(target, workdir / "trash")
    if "W3" in wls:
        for res in record(F_WALK, [sys.executable, "-c", STAT_WALK_SRC, wls["W3"].data], "W3"):
            floors.setdefault(F_WALK_IN, []).append(float(res.stdout.split()[1]))
        target = workdir / "floors" / "w3-links"
        for _ in range(runs):
            remove_path(target)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.sync()
            settle("W3")
            res = run(["cp", "-al", wls["W3"].data, target], env=env)
            if res.rc == 0:
                floors.setdefault(F_CPAL, []).append(res.seconds)
        remove_path(target)
    return floors

