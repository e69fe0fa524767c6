"""The guardian: ends the process groups of the commands dvx runs (a stage's) when dvx ends
without ending them itself, however it ends: `kill -9`, the OOM killer, a CI job's timeout.

A stage's command runs in a session of its own (dvx/pipeline/runner.py), so nothing the
system does when dvx dies reaches it, and prctl(PR_SET_PDEATHSIG) on its shell (Linux only)
would not reach what that shell starts (`sh -c 'python train.py && ...'`). So each run of
commands has one guardian: a small process, this file run as a program (by its path, on the
standard library alone, so that it starts in a few milliseconds), in a session of its own
too, so that a kill of dvx's process group or a closed terminal does not reach it. Its stdin
is a pipe whose writing end only dvx holds: dvx writes "+GROUP" once a command's process group
has started and "-GROUP" once it has ended. When the pipe reaches its end, dvx has ended,
however it ended, and the guardian sends SIGTERM to every group still recorded, SIGKILL to
what is left GRACE seconds later, and exits. A dvx that stops its commands itself (Ctrl-C,
SIGTERM) records them as ended first, so its guardian then has nothing to do.

Pipes are POSIX, so this holds on macOS too (which has no PR_SET_PDEATHSIG). Where the
guardian cannot start (no Python executable to run this file with, as in a frozen build),
commands run without one: dvx's own handlers stop them, but a dvx killed
with SIGKILL leaves them running, and the next command says so (dvx/lock.py). Two gaps remain:
a dvx killed between starting a command and writing its "+GROUP" (the next thing it does:
no process's id is known before it starts), and the guardian killed itself (it is small: the
OOM killer picks the biggest process first).

Forked worker processes (dvx/processes.py) inherit the writing end; they die with dvx, and the
guardian sees the end of the pipe once they are gone too. Every other process dvx starts
(`subprocess` closes the descriptors it does not pass on) has none.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable

POLL_SECONDS = 0.05  # between looks at whether the groups have ended
CLOSE_WAIT = 1.0  # seconds `close` waits for a guardian with nothing left to do to exit


class Guardian:
    """The guardian of one run of commands, started before its first command (`start`);
    `close` it once the run is over. Callers serialise their calls (the runner's lock).
    `on_failure` hears why, if commands run without a guardian."""

    def __init__(self, grace: float, on_failure: Callable[[str], None]) -> None:
        self.grace, self.on_failure = grace, on_failure
        self._pipe: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._failed = False

    def start(self) -> None:
        """Start the guardian, if it has not started (or failed to): before the first group
        starts, so that the time a kill of dvx leaves a group unguarded stays a write's."""
        if self._pipe is None and not self._failed:
            self._start()

    @property
    def pid(self) -> int | None:
        """The guardian's process id, which is its process group's too (a session of its
        own); None if it has not started."""
        return None if self._proc is None or self._pipe is None else self._proc.pid

    def watch(self, group: int) -> None:
        """The process group `group` has started: end it if dvx ends before it does."""
        self._send(f"+{group}\n")

    def forget(self, group: int) -> None:
        """The process group `group` has ended: its id may be given to another one now."""
        self._send(f"-{group}\n")

    def close(self) -> None:
        """No more groups to guard: the guardian ends those still recorded (none, unless
        some could not be stopped), then exits."""
        if self._pipe is not None:
            os.close(self._pipe)
            self._pipe = None
        if self._proc is not None:
            # still ending a group dvx could not end: it exits once done
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(CLOSE_WAIT)
            self._proc = None

    def _start(self) -> None:
        program = os.path.abspath(__file__)
        if not sys.executable or not os.path.isfile(program):
            self._fail(f"no Python executable to run {program} with")
            return
        read_end, write_end = os.pipe()  # neither is inherited by the commands dvx starts
        try:
            # -I -S: nothing but the standard library, whatever the environment says
            self._proc = subprocess.Popen(
                [sys.executable, "-I", "-S", program, str(self.grace)], stdin=read_end,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd="/",
                start_new_session=True)
        except OSError as exc:
            os.close(write_end)
            self._fail(f"it could not start: {exc}")
            return
        finally:
            os.close(read_end)
        self._pipe = write_end

    def _send(self, line: str) -> None:
        if self._pipe is None:
            return
        try:
            os.write(self._pipe, line.encode("ascii"))  # far below PIPE_BUF: written whole
        except OSError as exc:  # it died (killed): the commands go on unguarded
            os.close(self._pipe)
            self._pipe = None
            self._fail(f"it ended: {exc}")

    def _fail(self, why: str) -> None:
        self._failed = True
        self.on_failure(why)


# -- the guardian program ---------------------------------------------------------------------

def _groups_left(fd: int) -> set[int]:
    """Read "+GROUP" and "-GROUP" lines from `fd` until its end: the groups started and not
    ended."""
    groups: set[int] = set()
    pending = b""
    while chunk := os.read(fd, 4096):
        *lines, pending = (pending + chunk).split(b"\n")
        for line in lines:
            group = int(line[1:])
            if line.startswith(b"+"):
                groups.add(group)
            else:
                groups.discard(group)
    return groups


def _end(groups: set[int], grace: float) -> None:
    """SIGTERM to `groups`, then SIGKILL to those still there after `grace` seconds."""
    _signal(groups, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while groups and time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)
        _signal(groups, 0)
    _signal(groups, signal.SIGKILL)


def _signal(groups: set[int], signum: int) -> None:
    """Send `signum` to each of `groups` (0: none, only look); drop those that have ended."""
    for group in list(groups):
        try:
            os.killpg(group, signum)
        except ProcessLookupError:
            groups.discard(group)
        except PermissionError:  # not ours (cannot happen to a group dvx started): leave it
            groups.discard(group)


def main(argv: list[str]) -> None:
    grace = float(argv[1])
    _end(_groups_left(0), grace)  # stdin: the pipe


if __name__ == "__main__":
    main(sys.argv)
