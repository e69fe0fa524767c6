"""On a terminal, one large file gets a progress bar in bytes (add, push, pull, checkout);
off a terminal, dvx draws nothing."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
from pathlib import Path

from tests.conftest import git, write
from tests.remotes import clone


def _on_a_terminal(cwd: Path, *args: str, columns: int = 0) -> tuple[int, str]:
    """Run dvx with stderr on a pseudo-terminal (of `columns` columns, if given: else one
    that reports no size); its exit status and what the terminal got."""
    leader, follower = pty.openpty()
    if columns:
        fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 30, columns, 0, 0))
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


def test_a_bar_leaves_room_for_the_echo_of_ctrl_c_and_shortens_a_long_path(repo):
    """On a terminal 100 columns wide every frame takes 98 at most: the terminal's echo of a
    Ctrl-C (`^C`) fits on the bar's line instead of wrapping it, so that clearing the bar
    leaves none of it on the screen. A long path is shortened in its middle, its file name
    kept, so that the percentage and the sizes stay in view."""
    folder = "a_rather/long/directory/name/that/goes/on/and/on/for/quite/a/while"
    write(repo / folder / "model-weights.bin", os.urandom(96 << 20))
    code, screen = _on_a_terminal(repo, "add", f"{folder}/model-weights.bin", columns=100)
    frames = [re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", f) for f in screen.split("\r")]
    bars = [f for f in frames if "%|" in f]
    assert code == 0 and bars, screen
    assert all(len(f.rstrip("\n")) <= 98 for f in frames), frames
    assert all(f.startswith("Adding a_...") and "model-weights.bin:" in f and "B/s" in f
               for f in bars), bars


def test_nothing_is_drawn_off_a_terminal(repo, dvx):
    write(repo / "model.bin", os.urandom(40 << 20))
    result = dvx("add", "model.bin")
    assert result.code == 0 and "Adding" not in result.stderr and "%" not in result.stderr
