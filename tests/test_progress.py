"""On a terminal, one large file gets a progress bar in bytes (add, push, pull, checkout);
off a terminal, dvx draws nothing."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
from pathlib import Path

from tests.conftest import git, write
from tests.remotes import clone


def _on_a_terminal(cwd: Path, *args: str) -> tuple[int, str]:
    """Run dvx with stderr on a pseudo-terminal; its exit status and what the terminal got."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "dvx", *args], cwd=cwd, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=follower,
                            env={**os.environ, "COLUMNS": "100"})
    os.close(follower)
    seen = b""
    while True:
        ready, _, _ = select.select([leader], [], [], 60)
        if not ready:
            break
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed: the process ended
            break
        if not chunk:
            break
        seen += chunk
    os.close(leader)
    return proc.wait(), seen.decode("utf-8", "replace")


def test_one_large_file_shows_a_bar_in_bytes(repo, dvx, tmp_path):
    data = os.urandom(96 << 20)
    write(repo / "model.bin", data)
    code, screen = _on_a_terminal(repo, "add", "model.bin")
    assert code == 0 and "Adding model.bin" in screen and "B/s" in screen
    assert dvx("remote", "add", "-d", "store", str(tmp_path / "store")).code == 0
    code, screen = _on_a_terminal(repo, "push")
    assert code == 0 and "Uploading" in screen and "B/s" in screen
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "model")
    other = clone(repo, tmp_path)
    code, screen = _on_a_terminal(other, "pull")
    assert code == 0 and "Downloading" in screen and "B/s" in screen
    (other / "model.bin").unlink()
    code, screen = _on_a_terminal(other, "checkout")
    assert code == 0 and "Checking out" in screen and "B/s" in screen
    assert (other / "model.bin").read_bytes() == data


def test_nothing_is_drawn_off_a_terminal(repo, dvx):
    write(repo / "model.bin", os.urandom(40 << 20))
    result = dvx("add", "model.bin")
    assert result.code == 0 and "Adding" not in result.stderr and "%" not in result.stderr
