"""Host-backed memory for every timed command, on virtual machines that hand free memory back.

With virtio-balloon free page reporting, the guest kernel reports free memory to the
hypervisor, which discards it; the next write to those pages faults into the host, which
costs about 2 s per GiB on the machine of docs/performance.md (a plain 2 GiB `cp` took 4 s
instead of 0.6-1.1 s). Which command pays depends on what was deleted how long before, so
two runs of the same command, or a tool and its floor, would compare memory states rather
than software. Before each timed command the bench therefore touches and frees as much
memory as the command will write: the kernel hands recently freed pages out first, so the
command writes into backed memory, whichever tool or floor it is. On bare metal there is
nothing to do and nothing is done (unless --warm-memory on).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from .proc import first_error_line, log, run

PAGE = 4096
# MAP_POPULATE: the kernel zeroes every page up front, which is the write the host must back;
# the pages are freed when the process exits.
WARM_SRC = (
    "import mmap, sys\n"
    "mmap.mmap(-1, int(sys.argv[1]), flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS"
    " | mmap.MAP_POPULATE).close()\n"
)
VIRTIO_BALLOON = 0x0005
VIRTIO_BALLOON_F_REPORTING = 5  # feature bit: free page reporting


def free_page_reporting() -> bool:
    """True if a virtio balloon negotiated free page reporting with the host."""
    for dev in Path("/sys/bus/virtio/devices").glob("*"):
        try:
            if int((dev / "device").read_text(), 16) != VIRTIO_BALLOON:
                continue
            features = (dev / "features").read_text().strip()
        except (OSError, ValueError):
            continue
        bit = VIRTIO_BALLOON_F_REPORTING  # the string lists feature bits from bit 0 on
        if features[bit:bit + 1] == "1":
            return True
    return False


def _whole_pages(size: int) -> int:
    return -(-size // PAGE) * PAGE


def footprint(path: Path) -> int:
    """Bytes of page cache a copy of `path` occupies (each file rounded up to whole pages)."""
    if path.is_file():
        return _whole_pages(path.stat().st_size)
    return sum(_whole_pages(os.lstat(os.path.join(root, name)).st_size)
               for root, _dirs, files in os.walk(path) for name in files)


def _available() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024
    return 0


class Warmer:
    """`warm(nbytes)` touches and frees up to `nbytes` of memory (half of what is available
    at most); a no-op when disabled."""

    def __init__(self, mode: str):
        self.enabled = mode == "on" or (mode == "auto" and free_page_reporting())

    def describe(self) -> str:
        state = "on (free memory is handed back to the host here)" if self.enabled else "off"
        return f"memory warm-up before each timed command: {state}; see docs/performance.md"

    def warm(self, nbytes: int) -> None:
        if not self.enabled or nbytes <= 0:
            return
        nbytes = min(nbytes, _available() // 2)
        if nbytes < PAGE:
            log("[memory] too little available memory to warm up; skipped")
            return
        # In a child process: a child's reported peak RSS includes the peak of the process
        # it was forked from, so the bench itself must never hold the block.
        res = run([sys.executable, "-c", WARM_SRC, str(nbytes)])
        if res.rc != 0:
            log(f"[memory] warm-up failed: {first_error_line(res)}")


# What a tool's code is made of: its interpreter (binary and shared library), the standard
# library, its environment's site-packages and its own package (an editable dvx lives outside
# site-packages). Printed one path per line by the tool's own Python; argv[1]: the package.
CODE_PATHS_SRC = (
    "import importlib.util, os, sys, sysconfig\n"
    "paths = sysconfig.get_paths()\n"
    "found = {paths['stdlib'], paths['purelib'], paths['platlib']}\n"
    "found.add(os.path.realpath(sys.executable))\n"
    "lib = sysconfig.get_config_var('LDLIBRARY')\n"
    "if lib: found.add(os.path.join(sysconfig.get_config_var('LIBDIR') or '', lib))\n"
    "spec = importlib.util.find_spec(sys.argv[1])\n"
    "found.update(spec.submodule_search_locations or [] if spec else [])\n"
    "print('\\n'.join(sorted(found)))\n"
)
MAX_CODE_FILE = 16 << 20  # bigger files are data or bundled binaries, not code a command loads


def page_in_code(exe: str, package: str, env: dict) -> None:
    """Read a tool's code into the page cache, untimed, before each sequence of steps. The
    pause between sequences is long enough for this machine's DAMON scheme to evict files idle
    for a minute, so without this the first timed step of every sequence would also page the
    tool's modules in from disk (13-16 MB per command here), whichever tool it is; a user's
    second command finds them cached."""
    python = Path(exe).parent / "python"
    if not python.is_file():
        return
    res = run([str(python), "-c", CODE_PATHS_SRC, package], env=env, timeout=120)
    if res.rc != 0:
        log(f"[page-in] could not locate {package}'s code: {first_error_line(res)}")
        return
    for top in res.stdout.splitlines():
        walk = os.walk(top) if os.path.isdir(top) else [("", [], [top])]
        for root, _dirs, files in walk:
            for name in files:
                _read_whole(os.path.join(root, name))


def _read_whole(path: str) -> None:
    try:
        if os.path.getsize(path) > MAX_CODE_FILE:
            return
        with open(path, "rb") as fh:
            while fh.read(1 << 20):
                pass
    except OSError:
        pass
