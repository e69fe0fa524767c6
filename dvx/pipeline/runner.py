"""Running a stage's commands: each with `/bin/sh -c` in the stage's working directory, one
after the other, stopping at the first that fails.

Output either goes straight to dvx's own stdout and stderr (one stage at a time: a terminal
stays a terminal, so progress bars work), or is read line by line and handed to a callback
(parallel stages: the CLI prefixes each line with the stage name).

Each command runs in a session (so a process group) of its own: stopping it (Ctrl-C, SIGTERM
or SIGHUP to dvx) stops everything it started too, and a stage never goes on writing its
outputs after dvx has ended: should dvx end without stopping them (`kill -9`), the run's
guardian does (dvx/guardian.py); `repro` notes the groups running, and the guardian's, in
the repository lock's holder record, so the next command waits for them to end (and refuses
to go on while one still runs). Ctrl-C on a terminal reaches
dvx only, which then passes it on to the commands. A command is done only once its whole
group is gone: what it leaves running (a job started with `&` and not waited for) has
LEFTOVER_GRACE seconds to end, then is stopped, and the command counts as failed, as that
process may still have been writing the stage's outputs.
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

from dvx.errors import EXIT_HUNG_UP, stop_status, stop_within
from dvx.guardian import Guardian
from dvx.logs import get_logger
from dvx.process_groups import RecordedGroup, describe_members, group_alive

log = get_logger(__name__)

SHELL = "/bin/sh"
STOP_GRACE = 3.0  # seconds a stopped command has to end before it gets SIGKILL
KILL_WAIT = 5.0  # seconds to wait for killed processes to disappear
LEFTOVER_GRACE = 2.0  # seconds a command's leftover processes have to end once its shell exited


@dataclass(frozen=True)
class CommandResult:
    exit_code: int  # 0 on success; negative: killed by that signal
    failed_cmd: str | None = None
    # processes failed_cmd left running past LEFTOVER_GRACE, which dvx then stopped
    left_running: tuple[str, ...] = ()


class Runner:
    """Starts commands and remembers the running ones, so an interrupt can stop them all, and
    its guardian those left running if dvx is killed; `close` it once done. `on_running`
    hears the process groups running each time one starts (to record them; one that ended
    since is left out then: a reader asks each recorded group whether it still runs)."""

    def __init__(self, on_running: Callable[[tuple[RecordedGroup, ...]], None]
                 = lambda groups: None, on_close: Callable[[], None] = lambda: None) -> None:
        self._running: set[subprocess.Popen[bytes]] = set()
        self._guard = threading.Lock()
        self._stopping = False
        self._guardian = Guardian(STOP_GRACE, _unguarded)
        self._groups: dict[int, RecordedGroup] = {}  # of self._running, by id
        self._guardian_group: RecordedGroup | None = None
        self._on_running = on_running
        self._on_close = on_close

    def run(self, cmds: tuple[str, ...], cwd: str,
            on_line: Callable[[str], None] | None = None,
            on_command: Callable[[str], None] | None = None) -> CommandResult:
        """Run `cmds` one after the other until one fails; `on_command` is told of each just
        before it starts, so a command after a failing one is never said to run."""
        for cmd in cmds:
            if on_command is not None:
                on_command(cmd)
            code, left = self._run_one(cmd, cwd, on_line)
            if code != 0 or left:
                return CommandResult(code, cmd, left)
        return CommandResult(0)

    def _run_one(self, cmd: str, cwd: str, on_line: Callable[[str], None] | None
                 ) -> tuple[int, tuple[str, ...]]:
        """The command's exit status and the processes it left running that had to be
        stopped; returns once nothing of its process group is left."""
        with self._guard:
            if self._stopping:
                return -2, ()
            self._guardian.start()
            if on_line is None:
                proc = subprocess.Popen([SHELL, "-c", cmd], cwd=cwd, start_new_session=True)
            else:
                proc = subprocess.Popen([SHELL, "-c", cmd], cwd=cwd, stdin=subprocess.DEVNULL,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        start_new_session=True)
            self._running.add(proc)
            self._guardian.watch(proc.pid)
            self._groups[proc.pid] = RecordedGroup.of(proc.pid, cwd)
            self._on_running(self._guardian_groups() + tuple(self._groups.values()))
        reader = None
        try:
            if on_line is not None:
                reader = _forward_lines(proc, on_line)
            code = proc.wait()
            left = end_leftovers(proc)  # while in self._running, so stop_all covers them
            if reader is not None:  # its pipe is closed once the group is gone
                reader.join(KILL_WAIT)
            return code, left
        finally:
            if proc.stdout is not None and (reader is None or not reader.is_alive()):
                proc.stdout.close()  # else a process that left the group still holds it
            with self._guard:
                self._running.discard(proc)
                if not group_alive(proc.pid, proc):  # else (waiting for it failed) the
                    self._guardian.forget(proc.pid)  # guardian ends it once the run is over
                    del self._groups[proc.pid]

    def _guardian_groups(self) -> tuple[RecordedGroup, ...]:
        """The guardian's group, once it started: recorded with the commands', it tells a
        later command that the commands of a killed run may not have ended yet."""
        if self._guardian_group is None and self._guardian.pid is not None:
            self._guardian_group = RecordedGroup.of(self._guardian.pid, None)
        return () if self._guardian_group is None else (self._guardian_group,)

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

    def close(self) -> None:
        """The run is over (every command has returned): let the guardian go, and tell
        `on_close` (no group is noted after)."""
        self._on_close()
        self._guardian.close()

    def __enter__(self) -> Runner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _unguarded(why: str) -> None:
    log.debug("Stage commands run without a guardian, so a dvx killed with SIGKILL would "
              "leave them running: %s", why)


def _forward_lines(proc: subprocess.Popen[bytes], on_line: Callable[[str], None]
                   ) -> threading.Thread:
    """Hand each line of the command's output to `on_line` until every process holding the
    pipe has closed it, in a thread: a leftover process holding it must not keep the command
    from being seen to end."""
    def forward() -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            on_line(raw.decode("utf-8", errors="replace").rstrip("\r\n"))

    reader = threading.Thread(target=forward, name=f"output of {proc.pid}", daemon=True)
    reader.start()
    return reader


def end_leftovers(leader: subprocess.Popen[bytes]) -> tuple[str, ...]:
    """Once the group's leader (the command's shell) has exited: give what it left running
    LEFTOVER_GRACE seconds to end, then SIGTERM, then SIGKILL after STOP_GRACE. Returns the
    processes that had to be stopped (empty if none was left), once they are gone."""
    groups = {leader.pid: leader}
    _wait_for_groups(groups, LEFTOVER_GRACE)
    if not group_alive(leader.pid, leader):
        return ()
    left = tuple(describe_members(leader.pid)) or ("one or more processes",)
    _signal_groups(groups, signal.SIGTERM)
    _wait_for_groups(groups, STOP_GRACE)
    _signal_groups(groups, signal.SIGKILL)
    _wait_for_groups(groups, KILL_WAIT)
    return left


def end_group(leader: subprocess.Popen[bytes], seconds: float) -> None:
    """Return once every process of the group `leader` leads (a session started with
    `start_new_session`) has ended: what is left after `seconds` gets SIGKILL."""
    groups = {leader.pid: leader}
    _wait_for_groups(groups, seconds)
    _signal_groups(groups, signal.SIGKILL)
    _wait_for_groups(groups, KILL_WAIT)


def _signal_groups(groups: dict[int, subprocess.Popen[bytes]], signum: int) -> None:
    for group in list(groups):
        if not group_alive(group, groups[group]):
            del groups[group]
            continue
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signum)


def _wait_for_groups(groups: dict[int, subprocess.Popen[bytes]], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while any(group_alive(group, proc) for group, proc in groups.items()):
        if time.monotonic() >= deadline:
            return
        time.sleep(0.02)


def signal_of(exc: BaseException) -> int:
    """The signal to pass on to the commands when `exc` stops dvx: the one dvx got (SIGINT
    for Ctrl-C, SIGHUP for a closed terminal), SIGTERM for anything else."""
    stop = stop_within(exc)  # the stop itself, where an error wraps it
    if type(stop) is KeyboardInterrupt:
        return signal.SIGINT
    return signal.SIGHUP if stop is not None and stop_status(stop) == EXIT_HUNG_UP \
        else signal.SIGTERM
