"""Running a stage's commands: each with `/bin/sh -c` in the stage's working directory, one
after the other, stopping at the first that fails.

Output either goes straight to dvx's own stdout and stderr (one stage at a time: a terminal
stays a terminal, so progress bars work), or is read line by line and handed to a callback
(parallel stages: the CLI prefixes each line with the stage name).

Each command runs in a session (so a process group) of its own: stopping it (Ctrl-C or SIGTERM
to dvx) stops everything it started too, and a stage never goes on writing its outputs after
dvx has ended. Ctrl-C on a terminal reaches dvx only, which then passes it on to the commands.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

SHELL = "/bin/sh"
STOP_GRACE = 3.0  # seconds a stopped command has to end before it gets SIGKILL
KILL_WAIT = 5.0  # seconds to wait for killed processes to disappear


@dataclass(frozen=True)
class CommandResult:
    exit_code: int  # 0 on success; negative: killed by that signal
    failed_cmd: str | None = None


class Runner:
    """Starts commands and remembers the running ones, so an interrupt can stop them all."""

    def __init__(self) -> None:
        self._running: set[subprocess.Popen[bytes]] = set()
        self._guard = threading.Lock()
        self._stopping = False

    def run(self, cmds: tuple[str, ...], cwd: str,
            on_line: Callable[[str], None] | None = None) -> CommandResult:
        for cmd in cmds:
            code = self._run_one(cmd, cwd, on_line)
            if code != 0:
                return CommandResult(code, cmd)
        return CommandResult(0)

    def _run_one(self, cmd: str, cwd: str, on_line: Callable[[str], None] | None) -> int:
        with self._guard:
            if self._stopping:
                return -2
            if on_line is None:
                proc = subprocess.Popen([SHELL, "-c", cmd], cwd=cwd, start_new_session=True)
            else:
                proc = subprocess.Popen([SHELL, "-c", cmd], cwd=cwd, stdin=subprocess.DEVNULL,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        start_new_session=True)
            self._running.add(proc)
        try:
            if proc.stdout is not None and on_line is not None:
                for raw in proc.stdout:
                    on_line(raw.decode("utf-8", errors="replace").rstrip("\r\n"))
            return proc.wait()
        finally:
            if proc.stdout is not None:
                proc.stdout.close()
            with self._guard:
                self._running.discard(proc)

    def stop_all(self, signum: int = signal.SIGTERM) -> None:
        """Stop every running command with all it started (its process group): `signum` (the
        one dvx got, so a command's own clean-up on Ctrl-C runs), then SIGKILL for what is
        left after STOP_GRACE seconds. Returns once they are gone; no new command starts."""
        with self._guard:
            self._stopping = True
            groups = {proc.pid: proc for proc in self._running}
        _signal_groups(groups, signum)
        try:
            _wait_for_groups(groups, STOP_GRACE)
        finally:  # also when a second Ctrl-C cuts the grace short
            _signal_groups(groups, signal.SIGKILL)
            _wait_for_groups(groups, KILL_WAIT)


def end_group(leader: subprocess.Popen[bytes], seconds: float) -> None:
    """Return once every process of the group `leader` leads (a session started with
    `start_new_session`) has ended: what is left after `seconds` gets SIGKILL."""
    groups = {leader.pid: leader}
    _wait_for_groups(groups, seconds)
    _signal_groups(groups, signal.SIGKILL)
    _wait_for_groups(groups, KILL_WAIT)


def _signal_groups(groups: dict[int, subprocess.Popen[bytes]], signum: int) -> None:
    for group in list(groups):
        if not _group_alive(group, groups[group]):
            del groups[group]
            continue
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signum)


def _wait_for_groups(groups: dict[int, subprocess.Popen[bytes]], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while any(_group_alive(group, proc) for group, proc in groups.items()):
        if time.monotonic() >= deadline:
            return
        time.sleep(0.02)


def _group_alive(group: int, leader: subprocess.Popen[bytes]) -> bool:
    """Is any process of the command's group left? Its leader counts until it is reaped (by
    the thread waiting for it), as its id names the group until then."""
    if leader.poll() is None:
        return True
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def signal_of(exc: BaseException) -> int:
    """The signal to pass on to the commands when `exc` stops dvx."""
    return signal.SIGINT if type(exc) is KeyboardInterrupt else signal.SIGTERM
