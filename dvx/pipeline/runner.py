"""Running a stage's commands: each with `/bin/sh -c` in the stage's working directory, one
after the other, stopping at the first that fails.

Output either goes straight to dvx's own stdout and stderr (one stage at a time: a terminal
stays a terminal, so progress bars work), or is read line by line and handed to a callback
(parallel stages: the CLI prefixes each line with the stage name).
"""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass

SHELL = "/bin/sh"


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
                proc = subprocess.Popen([SHELL, "-c", cmd], cwd=cwd)
            else:
                proc = subprocess.Popen([SHELL, "-c", cmd], cwd=cwd, stdin=subprocess.DEVNULL,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
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

    def stop_all(self) -> None:
        """Terminate every running command, and start no new one."""
        with self._guard:
            self._stopping = True
            for proc in self._running:
                if proc.poll() is None:
                    proc.terminate()
