"""Shared fixtures: isolated environment, real Git repositories, and ways to run dvx.

`dvx(...)` runs the CLI in-process (fast, same code path as the console script) and returns
its exit code and output; `dvx_proc(...)` runs `python -m dvx` in a real subprocess, for
crash and signal tests.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner


def _let_ctrl_c_through() -> None:
    """A shell starts a background job (CI's, say) with SIGINT ignored, and every process a test
    starts would inherit that: the Ctrl-C tests need dvx to receive the signal as it would
    from a terminal. A Python handler (unlike SIG_IGN) is reset to the default by exec."""
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


_let_ctrl_c_through()


def _tests_run_this_checkout_s_dvx() -> None:
    """`pytest` (unlike `python -m pytest`) and `python -m dvx` in a test's temporary folder
    import dvx from where the virtualenv's editable install points, which for a second
    worktree sharing that virtualenv is another checkout: put this checkout first, in this
    process and its subprocesses, so every test runs the code it sits beside."""
    root = str(Path(__file__).resolve().parent.parent)
    if sys.path[0] == root:  # run already (`from tests.conftest import` loads it twice)
        return
    sys.path.insert(0, root)
    rest = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = root if not rest else os.pathsep.join((root, rest))


_tests_run_this_checkout_s_dvx()


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


@pytest.fixture(autouse=True)
def isolated_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
                 ) -> Iterator[None]:
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    for name, value in {"GIT_AUTHOR_NAME": "Test", "GIT_AUTHOR_EMAIL": "test@example.com",
                        "GIT_COMMITTER_NAME": "Test", "GIT_COMMITTER_EMAIL": "test@example.com",
                        "GIT_CONFIG_NOSYSTEM": "1"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("DVX_FAULT", raising=False)
    # A command run in this process (-q, -v) sets the log level for the process: each test
    # starts from the default, whatever the one before it ran.
    from dvx import logs

    logs.set_level(logs.WARNING)
    yield
    logs.set_level(logs.WARNING)
    shutil.rmtree(home, ignore_errors=True)


# A suite started under nohup (some CI runners) would pass an ignored SIGHUP on to every dvx
# it starts; the tests of what closing a terminal does need its default disposition.
signal.signal(signal.SIGHUP, signal.SIG_DFL)


def git(cwd: Path, *args: str) -> str:
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True)
    return proc.stdout


def run_dvx(*args: str, cwd: Path | None = None) -> Run:
    from dvx.cli.main import cli

    old = os.getcwd()
    if cwd is not None:
        os.chdir(cwd)
    try:
        result = CliRunner().invoke(cli, list(args), prog_name="dvx", catch_exceptions=False)
    finally:
        os.chdir(old)
    return Run(result.exit_code, result.stdout, result.stderr)


DvxRunner = Callable[..., Run]


@pytest.fixture
def dvx() -> DvxRunner:
    """Run dvx in-process: dvx("add", "x", cwd=path) -> Run. Asserts nothing by itself."""
    return run_dvx


def run_dvx_proc(*args: str, cwd: Path, env: dict[str, str] | None = None,
                 timeout: float = 120) -> Run:
    proc = subprocess.run([sys.executable, "-m", "dvx", *args], cwd=cwd, capture_output=True,
                          text=True, env={**os.environ, **(env or {})}, timeout=timeout,
                          stdin=subprocess.DEVNULL)
    return Run(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture
def dvx_proc() -> Callable[..., Run]:
    return run_dvx_proc


def stopped_at(point: str, command: str | list[str], cwd: Path) -> subprocess.Popen[str]:
    """`dvx command` in its own process, stopped (SIGSTOP) at the fault point `point` until
    the caller lets it go on with SIGCONT: a command caught in the middle. `command`: its
    words split at blanks, or a list of them (a name holding a blank)."""
    words = command.split() if isinstance(command, str) else command
    proc = subprocess.Popen(
        [sys.executable, "-m", "dvx", *words], cwd=cwd, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL,
        env={**os.environ, "DVX_FAULT": point, "DVX_FAULT_ACTION": "stop"})
    stopped_again(proc, point)
    return proc


def run_meanwhile(point: str, command: str | list[str], cwd: Path, meanwhile: Callable[[], object],
                  timeout: float = 60) -> tuple[int, str, str]:
    """`dvx command` stopped at the fault point `point` while `meanwhile()` runs (a `git
    switch` under it, say), then let go on to its end: its exit status, stdout and stderr."""
    running = stopped_at(point, command, cwd)
    try:
        meanwhile()
    finally:
        running.send_signal(signal.SIGCONT)
    out, err = running.communicate(timeout=timeout)
    return running.returncode, out, err


def process_state(pid: int) -> str:
    """The state of the process `pid` as /proc tells it: 'T' once it is stopped."""
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rpartition(")")[2].split()[0]


def stopped_again(proc: subprocess.Popen[str], point: str) -> None:
    """Wait until `proc` (a `stopped_at` one, let go on) stops at its next fault point,
    `point`."""
    import time

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if process_state(proc.pid) == "T":
            return
        time.sleep(0.05)
    raise AssertionError(f"{proc.args} did not stop at {point}: {proc.communicate()}")


def unprivileged() -> list[str]:
    """A command prefix under which file modes apply: root reads any file, unless its
    capabilities are dropped."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("root reads any file, and setpriv is not here to drop that")
    return ["setpriv", "--inh-caps=-all", "--bounding-set=-all", "--"]


@contextlib.contextmanager
def unreadable_files(*files: Path) -> Iterator[None]:
    """Within the block, `files` may not be read (mode 000), as for `dvx_unprivileged`;
    readable again (644) however the block ends."""
    for path in files:
        path.chmod(0)
    try:
        yield
    finally:
        for path in files:
            path.chmod(0o644)


@contextlib.contextmanager
def read_only_folders(*folders: Path) -> Iterator[None]:
    """Within the block, `folders` may be read and entered but not written in (mode 555),
    as for `dvx_unprivileged`; writable again (755) however the block ends."""
    for folder in folders:
        folder.chmod(0o555)
    try:
        yield
    finally:
        for folder in folders:
            folder.chmod(0o755)


def dvx_unprivileged(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`dvx args` run in `cwd` under `unprivileged()`, where file modes apply: its result."""
    return subprocess.run([*unprivileged(), sys.executable, "-m", "dvx", *args], cwd=cwd,
                          capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120)


def mounted_tmpfs(mount: Path, options: str) -> Iterator[Path]:
    """A real tmpfs mounted at `mount` with `options` until the test ends (root only)."""
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(mount)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 8 MiB tmpfs, for what happens when a disk is full (root only)."""
    yield from mounted_tmpfs(tmp_path / "disk", "size=8m")


def make_git_repo(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    return path


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh Git repository with dvx initialized; the current directory is its root."""
    root = make_git_repo(tmp_path / "repo")
    result = run_dvx("init", cwd=root)
    assert result.code == 0, result.output
    monkeypatch.chdir(root)
    yield root


def write(path: Path, content: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        content = content.encode()
    path.write_bytes(content)
    return path


def pointer_changed_on_feat(repo: Path, tracked: dict[str, str], name: str, text: str) -> bytes:
    """The files `tracked` (name -> text) added with `dvx add` and committed on main; on a new
    branch feat, `name` changed to `text`, added again and committed; then main switched back
    to, its data checked out. Returns feat's pointer of `name`: what a `git switch` (or `git
    pull`) to feat brings while a command runs."""
    for path, content in tracked.items():
        write(repo / path, content)
    assert run_dvx("add", *tracked, cwd=repo).code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "main")
    git(repo, "switch", "-qc", "feat")
    write(repo / name, text)
    assert run_dvx("add", name, cwd=repo).code == 0
    git(repo, "commit", "-qam", "feat")
    feat = (repo / f"{name}.dvx").read_bytes()
    git(repo, "switch", "-q", "main")
    assert run_dvx("checkout", cwd=repo).code == 0
    return feat


def tree_bytes(root: Path) -> dict[str, bytes]:
    """Every regular file below `root` with its bytes, for byte-exact comparisons."""
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


pytest_plugins = ["tests.servers", "tests.remotes"]
