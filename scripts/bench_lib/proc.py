"""Running one command: wall time, peak RSS (os.wait4), timeout, no stray children."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass

CMD_TIMEOUT = 3600.0
# Output that means "this command or option does not exist (yet)".
NA_MARKERS = ("No such command", "No such option", "invalid choice", "unrecognized arguments")


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


@dataclass
class Result:
    rc: int
    seconds: float
    rss_mb: float
    stdout: str = ""
    stderr: str = ""
    timed_out: bool = False
    # Where the time went, for reading a slow run: CPU of the command's process tree (its
    # waited-for children included) and what it read from disk rather than the page cache.
    user_s: float = 0.0
    sys_s: float = 0.0
    disk_read_mb: float = 0.0


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def run(argv, cwd=None, env=None, timeout=CMD_TIMEOUT, discard_stdout=False) -> Result:
    """Run one command in its own process group; wall time, peak RSS, CPU time and disk
    reads via os.wait4."""
    argv = [str(a) for a in argv]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        stdout = subprocess.DEVNULL if discard_stdout else out
        fired = []
        t0 = time.perf_counter()
        try:
            proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                    stdout=stdout, stderr=err, start_new_session=True)
        except OSError as exc:
            return Result(127, 0.0, 0.0, "", f"{argv[0]}: {exc}")
        timer = threading.Timer(timeout, lambda: (fired.append(1), _kill_group(proc.pid)))
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        except BaseException:
            _kill_group(proc.pid)
            proc.wait()
            raise
        finally:
            timer.cancel()
        seconds = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        _kill_group(proc.pid)  # never leave stray children of the command behind
        out.seek(0)
        err.seek(0)
        return Result(proc.returncode, seconds, usage.ru_maxrss / 1024.0,
                      out.read(1 << 16).decode(errors="replace"),
                      err.read(1 << 16).decode(errors="replace"), bool(fired),
                      usage.ru_utime, usage.ru_stime, usage.ru_inblock * 512 / 1e6)


def first_error_line(res: Result) -> str:
    """The most telling line of a failed command's output, for the report."""
    if res.timed_out:
        return "timed out"
    lines = [ln.strip() for ln in (res.stderr or res.stdout).splitlines() if ln.strip()]
    if not lines:
        return f"exit code {res.rc}"
    for pick in (lambda ln: any(m in ln for m in NA_MARKERS),
                 lambda ln: ln.lower().startswith("error")):
        if found := [ln for ln in lines if pick(ln)]:
            return found[0][:160]
    return (lines[-1] if lines[0].startswith("Traceback") else lines[0])[:160]


def checked(argv, what: str, **kw) -> Result:
    """Run an untimed setup command; raise StepError if it fails."""
    res = run(argv, **kw)
    if res.rc != 0 or res.timed_out:
        status = "n/a" if any(m in res.stderr + res.stdout for m in NA_MARKERS) else "FAILED"
        raise StepError(status, f"{what}: {first_error_line(res)}")
    return res


class StepError(Exception):
    def __init__(self, status: str, message: str):
        super().__init__(message)
        self.status, self.message = status, message

