"""One writer at a time (SPEC §4.8): a second dvx process that would change the repository
waits for the lock or, with core.lock_wait 0, fails naming the holder; readers are not
blocked; and a lock held by a process that was killed never blocks the next command."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import dvx_unprivileged, git, stopped_at, write

HOLD_LOCK = """
import sys
from dvx.lock import RepoLock
lock = RepoLock(".dvx/tmp", 0)
lock.acquire()
print("locked", flush=True)
sys.stdin.read()  # hold the lock until the test closes our stdin
lock.release()
"""


@pytest.fixture
def holder(repo: Path) -> Iterator[subprocess.Popen]:
    """Another process holding the repository lock (released when its stdin is closed)."""
    proc = subprocess.Popen([sys.executable, "-c", HOLD_LOCK], cwd=repo, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert proc.stdout is not None and proc.stdout.readline() == "locked\n"
    yield proc
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=10)


def release(proc: subprocess.Popen) -> None:
    assert proc.stdin is not None
    proc.stdin.close()
    assert proc.wait(timeout=10) == 0


def test_a_second_writer_fails_fast_naming_the_holder(repo, dvx, dvx_proc, holder):
    assert dvx("config", "core.lock_wait", "0").code == 0
    write(repo / "data.csv", "a,b\n1,2\n")
    result = dvx_proc("add", "data.csv", cwd=repo)
    assert result.code == 3
    assert result.stderr.startswith("ERROR:") and "Traceback" not in result.output
    assert f"locked by pid {holder.pid}" in " ".join(result.stderr.split())
    assert "core.lock_wait" in result.stderr  # says how to wait longer
    assert not (repo / "data.csv.dvx").exists()
    assert (repo / "data.csv").read_text() == "a,b\n1,2\n"

    release(holder)
    assert dvx_proc("add", "data.csv", cwd=repo).code == 0


def test_a_second_writer_waits_for_the_holder_then_proceeds(repo, holder):
    write(repo / "data.csv", "a,b\n1,2\n")
    waiter = subprocess.Popen([sys.executable, "-m", "dvx", "add", "data.csv"], cwd=repo,
                              text=True, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE)
    try:
        assert waiter.stderr is not None
        first_line = waiter.stderr.readline()  # printed while it waits, before it can proceed
        assert "Waiting" in first_line and f"pid {holder.pid}" in first_line, first_line
        assert waiter.poll() is None and not (repo / "data.csv.dvx").exists()
        release(holder)
        _, err = waiter.communicate(timeout=60)
    finally:
        if waiter.poll() is None:
            waiter.kill()
    assert waiter.returncode == 0, err
    assert (repo / "data.csv.dvx").exists()


@pytest.mark.parametrize("signum, code, said", [(signal.SIGINT, 130, "Interrupted."),
                                                  (signal.SIGTERM, 143, "Terminated."),
                                                  (signal.SIGHUP, 129, "Hung up.")])
def test_ctrl_c_or_sigterm_while_waiting_for_the_lock_stops_cleanly(repo, holder, signum, code,
                                                                     said):
    """Ctrl-C, `kill PID`, a CI timeout or the terminal closing: a message, its exit status,
    nothing written."""
    write(repo / "data.csv", "a,b\n1,2\n")
    waiter = subprocess.Popen([sys.executable, "-m", "dvx", "add", "data.csv"], cwd=repo,
                              text=True, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE)
    assert waiter.stderr is not None
    assert "Waiting" in waiter.stderr.readline()
    waiter.send_signal(signum)
    _, err = waiter.communicate(timeout=60)
    assert waiter.returncode == code
    assert err.startswith(f"ERROR: {said}") and "Traceback" not in err
    assert not (repo / "data.csv.dvx").exists()
    assert (repo / "data.csv").read_text() == "a,b\n1,2\n"


def test_a_second_ctrl_c_while_the_command_stops_cuts_nothing_short(repo, holder):
    """An impatient second Ctrl-C, while the command is stopping for the first (saying so,
    removing its temporaries), is ignored: it ends as one Ctrl-C does, never with click's
    "Aborted!" and exit status 1."""
    write(repo / "data.csv", "a,b\n1,2\n")
    waiter = subprocess.Popen([sys.executable, "-m", "dvx", "add", "data.csv"], cwd=repo,
                              text=True, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE,
                              env={**os.environ, "DVX_FAULT": "main.stopping",
                                   "DVX_FAULT_ACTION": "stop"})
    assert waiter.stderr is not None
    assert "Waiting" in waiter.stderr.readline()
    waiter.send_signal(signal.SIGINT)
    _wait_until_stopped(waiter)  # at main.stopping: its clean-up ahead
    waiter.send_signal(signal.SIGINT)
    waiter.send_signal(signal.SIGCONT)
    _, err = waiter.communicate(timeout=60)
    assert waiter.returncode == 130, err
    assert err.startswith("ERROR: Interrupted.") and err.count("ERROR:") == 1, err
    assert "Aborted!" not in err and "Traceback" not in err
    assert not (repo / "data.csv.dvx").exists()


def _wait_until_stopped(proc: subprocess.Popen) -> None:
    """Until `proc` has stopped itself at a fault point (DVX_FAULT_ACTION=stop)."""
    import time

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        with open(f"/proc/{proc.pid}/stat") as f:
            if f.read().rpartition(")")[2].split()[0] == "T":
                return
        time.sleep(0.05)
    raise AssertionError(f"pid {proc.pid} did not stop: {proc.poll()}")


def test_ctrl_c_just_before_the_command_runs_ends_as_any_ctrl_c_does(repo):
    """Ctrl-C once the command line is read, just before the command starts: `ERROR:
    Interrupted.` and exit status 130, never click's "Aborted!" and 1."""
    write(repo / "data.csv", "a,b\n1,2\n")
    starting = stopped_at("main.before_command", "add data.csv", repo)
    starting.send_signal(signal.SIGINT)
    starting.send_signal(signal.SIGCONT)
    _, err = starting.communicate(timeout=60)
    assert starting.returncode == 130, err
    assert err.lstrip("\n").startswith("ERROR: Interrupted.")  # after click's line break
    assert "Aborted!" not in err
    assert "Traceback" not in err
    assert not (repo / "data.csv.dvx").exists()


@pytest.mark.parametrize("command, signum", [("status", signal.SIGTERM),
                                             ("add data.csv", signal.SIGTERM),
                                             ("add data.csv", signal.SIGHUP),
                                             ("add data.csv", signal.SIGINT)])
def test_sigterm_after_the_command_ended_exits_143_quietly(repo, command, signum):
    """SIGTERM once the command has done its work (while Python exits): exit status 143,
    never 0, and no traceback (SIGHUP: 129; Ctrl-C: 130)."""
    write(repo / "data.csv", "a,b\n1,2\n")
    ended = stopped_at("main.after_command", command, repo)
    ended.send_signal(signum)
    ended.send_signal(signal.SIGCONT)
    _, err = ended.communicate(timeout=60)
    assert ended.returncode == 128 + signum, err
    assert "Traceback" not in err and "Exception ignored" not in err, err


def test_exp_save_waits_for_a_writer(repo, dvx, dvx_proc, holder):
    """The workspace is recorded as no command is half-way through writing it."""
    git(repo, "commit", "-q", "--allow-empty", "-m", "baseline")
    assert dvx("config", "core.lock_wait", "0").code == 0
    saved = dvx_proc("exp", "save", "-n", "e1", cwd=repo)
    assert saved.code == 3 and f"locked by pid {holder.pid}" in " ".join(saved.stderr.split())
    release(holder)
    assert dvx_proc("exp", "save", "-n", "e1", cwd=repo).code == 0


def test_readers_are_not_blocked_by_a_writer(repo, dvx, dvx_proc, holder):
    assert dvx("config", "core.lock_wait", "0").code == 0
    result = dvx_proc("status", cwd=repo)
    assert result.code == 0, result.output


def test_status_records_what_it_finds_in_sync_only_when_no_writer_holds_the_lock(repo, dvx):
    """A workspace with no record of what it was synced to is recorded by `status` as it
    finds it, but status never waits for a writer (core.lock_wait is 30 s here): it leaves
    the record to a later command."""
    write(repo / "data.csv", "a,b\n1,2\n")
    assert dvx("add", "data.csv").code == 0
    record = repo / ".dvx/tmp/synced.json"
    record.unlink()
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK], cwd=repo, text=True,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        result = dvx("status")
        assert result.code == 0 and "Waiting" not in result.stderr, result.output
        assert not record.exists()
    finally:
        release(holder)
    assert dvx("status").code == 0
    assert '"data.csv"' in record.read_text()


@pytest.mark.parametrize("fault", ["cache.before_publish", "atomic_write.before_rename:2"])
def test_a_lock_left_by_a_killed_process_does_not_block(repo, dvx, fault):
    assert dvx("config", "core.lock_wait", "0").code == 0
    write(repo / "data.csv", "a,b\n1,2\n")
    killed = subprocess.run([sys.executable, "-m", "dvx", "add", "data.csv"], cwd=repo,
                            env={**os.environ, "DVX_FAULT": fault}, capture_output=True,
                            stdin=subprocess.DEVNULL, timeout=60)
    assert killed.returncode == -signal.SIGKILL
    assert (repo / ".dvx/tmp/lock.holder").exists()  # it died holding the lock

    result = subprocess.run([sys.executable, "-m", "dvx", "add", "data.csv"], cwd=repo,
                            capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "locked" not in result.stderr
    assert (repo / "data.csv.dvx").exists()


def test_concurrent_writers_both_succeed_one_after_the_other(repo):
    for name in ("a", "b", "c"):
        write(repo / f"{name}.bin", os.urandom(1 << 20))
    procs = [subprocess.Popen([sys.executable, "-m", "dvx", "add", f"{name}.bin"], cwd=repo,
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE) for name in ("a", "b", "c")]
    for proc in procs:
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
    for name in ("a", "b", "c"):
        assert (repo / f"{name}.bin.dvx").exists()
    gitignore = (repo / ".gitignore").read_text().splitlines()
    assert sorted(gitignore) == ["/a.bin", "/b.bin", "/c.bin"]  # no lost update


def _run_behind_a_stopped_add(repo, args: list[str]) -> None:
    """`dvx add data.csv` stopped inside the lock, just before it stores the new data; `dvx
    ARGS` started then, which must wait for it; both let run to their end, successfully."""
    adding = stopped_at("cache.before_publish", "add data.csv", repo)
    waiter = subprocess.Popen([sys.executable, "-m", "dvx", *args], cwd=repo, text=True,
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE)
    try:
        assert waiter.stderr is not None
        assert "Waiting" in waiter.stderr.readline()
    finally:
        adding.send_signal(signal.SIGCONT)
    assert adding.wait(timeout=60) == 0
    out, err = waiter.communicate(timeout=60)
    assert waiter.returncode == 0, out + err


@pytest.mark.parametrize("command", ["checkout", "checkout data.csv", "move data.csv moved.csv"])
def test_a_writer_acts_on_the_pointers_as_they_are_once_it_holds_the_lock(repo, dvx, command):
    """`dvx add` of new data holds the lock while another command starts and waits for it:
    that command then works from the new pointer, never from the one it would have read
    before the add wrote it (a checkout would put the older data back under it)."""
    write(repo / "data.csv", "v1\n")
    assert dvx("add", "data.csv").code == 0
    (repo / "data.csv").unlink()
    write(repo / "data.csv", "v2\n")
    _run_behind_a_stopped_add(repo, command.split())
    status = dvx("status", "-q")
    assert status.code == 0, status.output  # every pointer names what its path holds
    data = repo / ("moved.csv" if command.startswith("move") else "data.csv")
    assert data.read_text() == "v2\n"


def test_a_repro_that_waited_for_an_add_keeps_the_add_s_sync_record(repo, dvx, dvx_proc):
    """`repro` reads the sync records to load its stages before it waits for the lock: once
    it holds it, it works from the records the `add` it waited for wrote, never writing its
    older copy back (the next `add` of the path would call the new pointer a change from Git
    and refuse, its advice discarding the user's edit)."""
    write(repo / "data.csv", "v1\n")
    assert dvx("add", "data.csv").code == 0
    assert dvx("stage", "add", "-n", "copy", "-d", "data.csv", "-o", "out.csv",
               "cp data.csv out.csv").code == 0
    assert dvx("repro").code == 0
    write(repo / "data.csv", "v2\n")
    _run_behind_a_stopped_add(repo, ["repro"])
    assert (repo / "out.csv").read_text() == "v2\n"

    write(repo / "data.csv", "v3\n")
    status = dvx_proc("status", cwd=repo)
    assert "changed in Git" not in status.output
    added = dvx_proc("add", "data.csv", cwd=repo)
    assert added.code == 0, added.output
    assert (repo / "data.csv").read_text() == "v3\n"


FORK_THEN_DIE = """
import os, signal, sys, time
from dvx.lock import RepoLock
lock = RepoLock(".dvx/tmp", 0)
lock.acquire()
child = os.fork()
if child == 0:
    time.sleep(60)  # a helper outliving its parent
    os._exit(0)
print(child, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_forked_child_of_a_killed_holder_does_not_keep_the_repository_locked(repo, dvx_proc):
    """A process forked by the lock's holder (a worker, dvx/processes.py) shares the flock
    through the descriptor it inherits unless it lets it go: after `kill -9` of the holder
    it would keep the repository locked in the dead holder's name."""
    assert dvx_proc("config", "core.lock_wait", "0", cwd=repo).code == 0
    holder = subprocess.Popen([sys.executable, "-c", FORK_THEN_DIE], cwd=repo, text=True,
                              stdout=subprocess.PIPE)
    assert holder.stdout is not None
    child = int(holder.stdout.readline())
    try:
        assert holder.wait(timeout=10) == -signal.SIGKILL
        os.kill(child, 0)  # still running
        write(repo / "data.csv", "a\n")
        result = dvx_proc("add", "data.csv", cwd=repo)
        assert result.code == 0, result.output
        assert "locked" not in result.stderr
    finally:
        os.kill(child, signal.SIGKILL)


def _ended_pid() -> int:
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait(timeout=10)
    return ended.pid


def test_a_holder_record_of_an_ended_process_is_not_named_as_the_holder(repo, dvx_proc, holder):
    """While the lock is held, its record may still be that of a killed holder (the command
    that has just taken the lock has yet to write its own): the refusal never names the dead
    process as holding the lock."""
    dead = _ended_pid()
    (repo / ".dvx/tmp/lock.holder").write_text(
        f'{{"pid": {dead}, "host": "{os.uname().nodename}", "command": "dvx add data"}}')
    assert dvx_proc("config", "core.lock_wait", "0", cwd=repo).code == 0
    write(repo / "data.csv", "a\n")
    result = dvx_proc("add", "data.csv", cwd=repo)
    said = " ".join(result.stderr.split())
    assert result.code == 3
    assert f"locked by pid {dead}" not in said
    assert f"the lock's record names pid {dead} on" in said and "which has ended" in said


def test_a_killed_holder_is_named_with_the_file_that_holds_its_record(repo, dvx_proc):
    """`status` right after a writer was killed (its record still in lock.holder) names the
    file there is to delete, and that the next writer moves it to lock.stopped; after the
    next writer it is lock.stopped."""
    write(repo / "data.csv", "a\n")
    killed = subprocess.run([sys.executable, "-m", "dvx", "add", "data.csv"], cwd=repo,
                            env={**os.environ, "DVX_FAULT": "cache.before_publish"},
                            capture_output=True, stdin=subprocess.DEVNULL, timeout=60)
    assert killed.returncode == -signal.SIGKILL
    said = " ".join(dvx_proc("status", cwd=repo).stderr.split())
    assert "`dvx add data.csv` in this repository was stopped before it finished" in said
    assert "once you have seen to it, delete .dvx/tmp/lock.holder, where its record stays " \
        "until the next command that takes the lock moves it to .dvx/tmp/lock.stopped)" in said
    assert (repo / ".dvx/tmp/lock.holder").exists()
    write(repo / "other.txt", "b\n")
    assert dvx_proc("add", "other.txt", cwd=repo).code == 0
    said = " ".join(dvx_proc("status", cwd=repo).stderr.split())
    assert "once you have seen to it, delete .dvx/tmp/lock.stopped)" in said
    assert (repo / ".dvx/tmp/lock.stopped").exists()


def test_the_same_command_written_otherwise_finishes_a_stopped_one(repo, dvx_proc):
    """`dvx add data` killed half-way is named until an add of the same targets ends, however
    written: options left out (`-q`), the path normalized (`../data/` from a subfolder).
    An add of other targets finishes nothing of it."""
    write(repo / "data" / "a.csv", "a\n")
    killed = subprocess.run([sys.executable, "-m", "dvx", "add", "data"], cwd=repo,
                            env={**os.environ, "DVX_FAULT": "cache.before_publish"},
                            capture_output=True, stdin=subprocess.DEVNULL, timeout=60)
    assert killed.returncode == -signal.SIGKILL
    said = "`dvx add data` in this repository was stopped before it finished"
    write(repo / "other.txt", "b\n")
    assert dvx_proc("add", "other.txt", cwd=repo).code == 0
    assert said in " ".join(dvx_proc("status", cwd=repo).stderr.split())
    (repo / "sub").mkdir()
    again = dvx_proc("add", "-q", "../data/", cwd=repo / "sub")
    assert again.code == 0, again.output
    assert "stopped before it finished" not in dvx_proc("status", cwd=repo).stderr


def test_a_command_with_other_options_finishes_nothing_of_a_stopped_one(repo, dvx_proc):
    """`dvx checkout --relink` killed half-way is named until a checkout with --relink ends:
    a plain checkout, which relinks nothing, leaves the files it did not reach as copies, so
    the notice stays. Options that change only the output (-q) make no difference."""
    for i in range(5):
        write(repo / "data" / f"f{i}", f"c{i}\n")
    assert dvx_proc("add", "data", cwd=repo).code == 0
    assert dvx_proc("config", "cache.type", "symlink", cwd=repo).code == 0
    killed = subprocess.run([sys.executable, "-m", "dvx", "checkout", "--relink"], cwd=repo,
                            env={**os.environ, "DVX_FAULT": "checkout.after_file:2"},
                            capture_output=True, stdin=subprocess.DEVNULL, timeout=60)
    assert killed.returncode == -signal.SIGKILL
    said = "`dvx checkout --relink` in this repository was stopped before it finished"
    assert dvx_proc("checkout", cwd=repo).code == 0
    assert said in " ".join(dvx_proc("status", cwd=repo).stderr.split())
    assert len([p for p in (repo / "data").iterdir() if p.is_symlink()]) < 5
    assert dvx_proc("checkout", "-q", "--relink", cwd=repo).code == 0
    assert "stopped before it finished" not in dvx_proc("status", cwd=repo).stderr
    assert all(p.is_symlink() for p in (repo / "data").iterdir())


def _killed(repo: Path, command: str, point: str) -> None:
    killed = subprocess.run([sys.executable, "-m", "dvx", *command.split()], cwd=repo,
                            env={**os.environ, "DVX_FAULT": point},
                            capture_output=True, stdin=subprocess.DEVNULL, timeout=60)
    assert killed.returncode == -signal.SIGKILL


def test_a_later_command_that_settles_the_same_paths_finishes_a_stopped_one(repo, dvx_proc):
    """`dvx remove a.txt.dvx` killed once it deleted the pointer, then `dvx add a.txt` (the
    user changed their mind): the remove is no longer named, since running it again would
    untrack what the user tracked again. Until then the notice says what may be half-done and
    leaves running it again to the user. A stopped add is finished by a remove of its path,
    never by an add of another path."""
    write(repo / "a.txt", "hello\n")
    assert dvx_proc("add", "a.txt", cwd=repo).code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "a")
    _killed(repo, "remove a.txt.dvx", "remove.before_stage")
    said = " ".join(dvx_proc("status", cwd=repo).stderr.split())
    assert "`dvx remove a.txt.dvx` in this repository was stopped before it finished" in said
    assert "the pointers and .gitignore entries of its paths may be left half-changed" in said
    assert "Run it again if you still want it done" in said
    assert "run it again to finish" not in said
    write(repo / "b.txt", "b\n")
    assert dvx_proc("add", "b.txt", cwd=repo).code == 0  # another path: still named
    assert _named_stopped(repo, dvx_proc) == ["dvx remove a.txt.dvx"]
    again = dvx_proc("add", "a.txt", cwd=repo)
    assert again.code == 0, again.output
    assert _named_stopped(repo, dvx_proc) == []
    assert (repo / "a.txt.dvx").exists()

    write(repo / "b.txt", "b, changed\n")
    _killed_add(repo, "b.txt")
    assert _named_stopped(repo, dvx_proc) == ["dvx add b.txt"]
    assert dvx_proc("remove", "./b.txt.dvx", cwd=repo).code == 0  # no longer tracked
    assert _named_stopped(repo, dvx_proc) == []
    assert "/b.txt" not in (repo / ".gitignore").read_text()


def _checkout_killed_half_way(repo: Path, dvx_proc) -> None:
    """imgs/ (8 files) and other.txt tracked and gone from the workspace; a `dvx checkout`
    of them killed once it placed 3 files."""
    for i in range(8):
        write(repo / "imgs" / f"{i}", f"v{i}\n")
    write(repo / "other.txt", "o\n")
    assert dvx_proc("add", "imgs", "other.txt", cwd=repo).code == 0
    shutil.rmtree(repo / "imgs")
    (repo / "other.txt").unlink()
    _killed(repo, "checkout", "checkout.after_file:3")


def test_a_checkout_of_every_tracked_path_finishes_a_stopped_checkout(repo, dvx_proc):
    """A checkout killed half-way is finished by a checkout (or pull) that ends on the same
    paths or more: `dvx checkout imgs` once imgs is all that is tracked; one of a part of
    them (`dvx checkout imgs` beside other.txt) finishes nothing of it."""
    _checkout_killed_half_way(repo, dvx_proc)
    assert _named_stopped(repo, dvx_proc) == ["dvx checkout"]
    said = " ".join(dvx_proc("status", cwd=repo).stderr.split())
    assert "only some of its files may have been placed in the workspace" in said
    assert dvx_proc("checkout", "imgs", cwd=repo).code == 0
    assert _named_stopped(repo, dvx_proc) == ["dvx checkout"]  # other.txt is not placed
    assert not (repo / "other.txt").exists()
    assert dvx_proc("checkout", "imgs", "other.txt.dvx", cwd=repo).code == 0
    assert _named_stopped(repo, dvx_proc) == []

    assert dvx_proc("remove", "other.txt.dvx", cwd=repo).code == 0
    shutil.rmtree(repo / "imgs")
    _killed(repo, "checkout", "checkout.after_file:3")
    assert dvx_proc("checkout", "imgs/", cwd=repo).code == 0  # all that is tracked now
    assert _named_stopped(repo, dvx_proc) == []
    assert sorted(os.listdir(repo / "imgs")) == [str(i) for i in range(8)]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
@pytest.mark.parametrize("command, point", [("checkout", "checkout.after_file:3"),
                                            ("pull", "checkout.after_file:3"),
                                            ("add new.txt", "cache.before_publish")])
def test_a_command_stopped_by_ctrl_c_while_changing_tracked_paths_stays_named(
        repo, dvx_proc, command, point, signum):
    """Ctrl-C (or SIGTERM) of a checkout once it placed some files, of a pull once it fetched
    and placed some, of an add before its pointer: each file it wrote is whole, but its work
    is half-done, so it says that, not that nothing was left half-written, and, as after
    kill -9, status names it until it is run again."""
    _pushed_folder_removed(repo, dvx_proc)
    if command == "pull":
        shutil.rmtree(repo / ".dvx" / "cache" / "files")
    write(repo / "new.txt", "n\n")
    stopping = stopped_at(point, command, repo)
    stopping.send_signal(signum)
    stopping.send_signal(signal.SIGCONT)
    _, err = stopping.communicate(timeout=60)
    assert stopping.returncode == 128 + signum, err
    said = " ".join(err.split())
    assert "`dvx status` names the command until it, or a later command that does its work, " \
        "ends without an error. Run the command again to finish" in said, said
    assert "Nothing was left half-written" not in said
    assert _named_stopped(repo, dvx_proc) == [f"dvx {command}"]
    assert dvx_proc(*command.split(), cwd=repo).code == 0
    assert _named_stopped(repo, dvx_proc) == []


@pytest.mark.parametrize("state, kept", [("tracking", True), ("pipeline", False)])
def test_a_transfer_s_interruption_keeps_its_count_and_says_what_the_command_left(
        tmp_path, state, kept):
    """The Interrupted a transfer raised for Ctrl-C under the lock of a command changing
    tracked paths keeps its message (what was transferred) and says what the command left
    half-done, its record kept aside; a pipeline's (its stages stale, which their status
    shows) says, as it did, that nothing was left half-written, and is not named."""
    from dvx.errors import NOTHING_HALF_WRITTEN, Interrupted, interruption
    from dvx.lock import Command, RepoLock, Work, stopped_commands

    tmp = str(tmp_path / "tmp")
    lock = RepoLock(tmp, 0, command=Command("dvx update", "dvx update", Work(state, None)))
    with pytest.raises(Interrupted) as raised, lock:
        raise interruption(KeyboardInterrupt(), ": 2 of 5 objects were downloaded.")
    assert raised.value.message == "Interrupted: 2 of 5 objects were downloaded."
    assert (raised.value.hint == NOTHING_HALF_WRITTEN) != kept
    assert [each.command for each in stopped_commands(tmp)] == (["dvx update"] if kept else [])


def _wrapped_as_python_3_11_wraps(stop: BaseException) -> RuntimeError:
    """The error Python 3.11 raises for a stop landing in a class's __set_name__ (a class
    defining dataclass fields, imported while dvx runs a command): the stop its cause."""
    try:
        raise RuntimeError("Error calling __set_name__ on 'Field' instance 'changed' in "
                           "'OutputStatus'") from stop
    except RuntimeError as exc:
        return exc


@pytest.mark.parametrize("stop_type", ["KeyboardInterrupt", "Terminated", "HungUp"])
def test_a_stop_wrapped_in_another_error_is_found_along_its_chain(stop_type):
    """Ctrl-C, SIGTERM or SIGHUP wrapped by Python (a cause) or met while another error was
    raised (a context) is still the stop that ended the command; an error with none in its
    chain, however long or looped, has none."""
    import dvx.errors
    from dvx.errors import stop_within

    stop = getattr(dvx.errors, stop_type, KeyboardInterrupt)()
    assert stop_within(_wrapped_as_python_3_11_wraps(stop)) is stop
    later = ValueError("while stopping")
    later.__context__ = _wrapped_as_python_3_11_wraps(stop)
    assert stop_within(later) is stop
    looped_a, looped_b = RuntimeError("a"), RuntimeError("b")
    looped_a.__cause__, looped_b.__context__ = looped_b, looped_a
    assert stop_within(looped_a) is None
    deep = RuntimeError("deep")
    deep.__cause__ = stop
    for _ in range(100):
        outer = RuntimeError("outer")
        outer.__cause__ = deep
        deep = outer
    assert stop_within(deep) is None  # a bounded walk: not followed that far
    assert stop_within(RuntimeError("no stop")) is None and stop_within(None) is None


def _raised_while_handling(stop: BaseException, error: BaseException) -> BaseException:
    """`error`, raised while `stop` was handled (its __context__), as a command's clean-up
    raises one on its way out."""
    try:
        try:
            raise stop
        except BaseException:
            raise error  # noqa: B904 - raised while handling, as a clean-up's is
    except BaseException as exc:
        return exc


@pytest.mark.parametrize("stop_type", ["KeyboardInterrupt", "Terminated"])
def test_a_dvx_error_raised_while_a_stop_was_handled_is_said_as_it_is(stop_type):
    """A DvxError other than Interrupted ended the command with what it says, whatever stop
    it was raised while handling: no stop is found within it, so the lock, repro, the stage
    runner, imports and the CLI all say its message, never "Interrupted" in its place. An
    Interrupted is the stop itself; another error wrapping a stop is still stopped by it."""
    import dvx.errors
    from dvx.errors import DvxError, Interrupted, stop_within
    from dvx.pipeline.runner import signal_of

    stop = getattr(dvx.errors, stop_type, KeyboardInterrupt)()
    failed = _raised_while_handling(stop, DvxError("The cache is full.", "Make room."))
    assert failed.__context__ is stop
    assert stop_within(failed) is None
    assert signal_of(failed) == signal.SIGTERM  # what an error ending dvx passes on
    said = _raised_while_handling(stop, Interrupted("Interrupted."))
    assert stop_within(said) is said
    assert stop_within(_raised_while_handling(stop, ValueError("in a clean-up"))) is stop


@pytest.mark.parametrize("stop_type, code", [("KeyboardInterrupt", 130), ("Terminated", 143)])
def test_a_command_stopped_by_a_wrapped_ctrl_c_stays_named_as_stopped_not_as_failed(
        tmp_path, stop_type, code):
    """A Ctrl-C (or SIGTERM) that Python wrapped into a RuntimeError ends a command changing
    tracked paths as a bare one does: an Interrupted with that signal's exit status saying
    what the command left half-done, its record named as stopped, not ended by an error."""
    import dvx.errors
    from dvx.errors import Interrupted
    from dvx.lock import WORKSPACE, Command, RepoLock, Work, began_writing, stopped_commands

    tmp = str(tmp_path / "tmp")
    lock = RepoLock(tmp, 0, command=Command("dvx checkout", "dvx checkout",
                                            Work(WORKSPACE, None)))
    with pytest.raises(Interrupted) as raised, lock:
        began_writing(tmp)
        raise _wrapped_as_python_3_11_wraps(getattr(dvx.errors, stop_type,
                                                    KeyboardInterrupt)())
    assert raised.value.exit_code == code
    assert "ended with an error" not in str(raised.value)
    assert "`dvx status` names the command" in " ".join(str(raised.value).split())
    assert [(each.command, each.by_error) for each in stopped_commands(tmp)] == [
        ("dvx checkout", False)]


def test_a_bug_met_while_a_ctrl_c_was_handled_is_said_as_stopped_and_v_shows_its_traceback(
        repo, dvx, monkeypatch):
    """An unexpected error (a bug) raised while a Ctrl-C was handled still ends the command as
    stopped (`Interrupted.`, 130): the user did stop it. -v then shows that error's
    traceback, which would otherwise be lost; without -v no traceback is printed. A stop
    that Python wrapped into another error prints none, -v or not."""
    def cleans_up_badly(*args, **kwargs):
        try:
            raise KeyboardInterrupt
        finally:
            len(None)  # type: ignore[arg-type] - the bug, raised on the way out

    monkeypatch.setattr("dvx.ops.sync.push", cleans_up_badly)
    for flags in ((), ("-v",)):
        result = dvx(*flags, "push")
        assert result.code == 130 and "ERROR: Interrupted." in result.stderr, result.output
        assert ("Traceback" in result.stderr) == bool(flags), result.stderr
        assert ("TypeError: object of type 'NoneType' has no len()" in result.stderr) \
            == bool(flags), result.stderr
        assert "Unexpected internal error" not in result.stderr

    def wrapped(*args, **kwargs):
        raise _wrapped_as_python_3_11_wraps(KeyboardInterrupt())

    monkeypatch.setattr("dvx.ops.sync.push", wrapped)
    result = dvx("-v", "push")
    assert result.code == 130 and "Traceback" not in result.stderr, result.output


@pytest.mark.parametrize("command", ["checkout", "pull"])
def test_a_checkout_failing_part_way_says_what_it_left_and_stays_named(repo, dvx_proc,
                                                                       command):
    """A checkout (or pull) that placed some files, then met a full disk: it says it ended
    with an error, and that only some of its files may have been placed, not that nothing
    was left half-written, and status names it until it is run again; one that placed
    nothing (its data is in no cache) is not named."""
    _pushed_folder_removed(repo, dvx_proc)
    full = dvx_proc(command, cwd=repo, env={"DVX_FAULT": "place.before_rename:3",
                                            "DVX_FAULT_ACTION": "enospc"})
    assert full.code == 1, full.output
    said = " ".join(full.stderr.split())
    assert f"`dvx {command}` ended with an error before doing all of its work. Only some of " \
        "its files may have been placed in the workspace: `dvx status` names the command " \
        "until it" in said, said
    assert "Nothing was left half-written" not in said
    assert _named_stopped(repo, dvx_proc) == [f"dvx {command}"]
    assert dvx_proc(command, cwd=repo).code == 0
    assert _named_stopped(repo, dvx_proc) == []
    shutil.rmtree(repo / "imgs")
    shutil.rmtree(repo / ".dvx" / "cache" / "files")
    assert dvx_proc("checkout", cwd=repo).code == 1  # nothing to place: nothing half-done
    assert _named_stopped(repo, dvx_proc) == []


@pytest.mark.parametrize("command, point", [
    ("remove a.txt.dvx", "remove.before_stage"),
    ("move a.txt b.txt", "atomic_write.after_temp_write:6")])  # the data moved
def test_a_remove_or_move_failing_part_way_says_what_it_left_and_stays_named(
        repo, dvx_proc, command, point):
    """A remove that deleted the pointer, or a move that moved the data, then met a full
    disk: it says its pointers and .gitignore entries may be left half-changed, not that
    nothing was left half-written, and status names it until it is run again."""
    write(repo / "a.txt", "a\n")
    assert dvx_proc("add", "a.txt", cwd=repo).code == 0
    full = dvx_proc(*command.split(), cwd=repo, env={"DVX_FAULT": point,
                                                     "DVX_FAULT_ACTION": "enospc"})
    assert full.code == 1, full.output
    said = " ".join(full.stderr.split())
    assert "The pointers and .gitignore entries of its paths may be left half-changed" in said
    assert "Nothing was left half-written" not in said and "Traceback" not in said
    assert _named_stopped(repo, dvx_proc) == [f"dvx {command}"]
    assert dvx_proc(*command.split(), cwd=repo).code == 0
    assert _named_stopped(repo, dvx_proc) == []


@pytest.mark.parametrize("ended", ["by an error", "killed"])
def test_status_says_whether_an_error_or_a_kill_ended_a_command(repo, dvx_proc, ended):
    """A checkout ended by a full disk once it placed some files is named as ended by an
    error, its record saying so; one killed as stopped, its process gone."""
    for i in range(8):
        write(repo / "imgs" / f"{i}", f"v{i}\n")
    assert dvx_proc("add", "imgs", cwd=repo).code == 0
    shutil.rmtree(repo / "imgs")
    if ended == "killed":
        _killed(repo, "checkout", "checkout.after_file:3")
    else:
        assert dvx_proc("checkout", cwd=repo, env={"DVX_FAULT": "place.before_rename:3",
                                                    "DVX_FAULT_ACTION": "enospc"}).code == 1
    status = dvx_proc("status", cwd=repo)
    said = " ".join(status.stderr.split())
    by_error = ended == "by an error"
    assert ("The last `dvx checkout` in this repository was ended by an error before it "
            "finished, so only some of its files" in said) == by_error, said
    assert ("The last `dvx checkout` in this repository was stopped before it finished (its "
            "process is gone), so only some of its files" in said) != by_error, said
    how = "ended by an error" if by_error else "stopped"
    assert f"`dvx checkout`: {how} before it finished (pid " in status.stdout, status.stdout
    listed = json.loads(dvx_proc("status", "--json", cwd=repo).stdout)["stopped"]
    assert [(each["command"], each["ended_by_error"]) for each in listed] == [
        ("dvx checkout", by_error)]
    tmp = repo / ".dvx" / "tmp"
    record = tmp / "lock.stopped" if (tmp / "lock.stopped").exists() else tmp / "lock.holder"
    assert json.loads(record.read_text()).get("ended_by_error", False) == by_error


def test_a_pull_lacking_a_teammate_s_data_is_not_named_as_stopped(repo, dvx_proc):
    """A pull that placed what it could and lacks the rest (no remote holds it yet) left no
    work a run again does before the data comes: status names those paths as not in the
    cache, never the pull as stopped."""
    write(repo / "a", "a\n")
    write(repo / "b", "b\n")
    assert dvx_proc("remote", "add", "-d", "store", str(repo.parent / "store"),
                    cwd=repo).code == 0
    assert dvx_proc("add", "a", "b", cwd=repo).code == 0
    assert dvx_proc("push", "a", cwd=repo).code == 0
    for name in ("a", "b"):
        (repo / name).unlink()
    shutil.rmtree(repo / ".dvx" / "cache" / "files")
    pulled = dvx_proc("pull", cwd=repo)
    assert pulled.code == 1 and (repo / "a").read_text() == "a\n", pulled.output
    assert "half" not in pulled.stderr
    assert _named_stopped(repo, dvx_proc) == []


def test_a_pull_lacking_data_that_then_fails_is_named_as_stopped(repo, dvx_proc):
    """A pull that lacks some data (no remote holds it yet) and placed the rest, then met a
    full disk writing a .gitignore entry again: its work is half-done, not only waiting for
    data, so status names it until it is run again."""
    write(repo / "a", "a\n")
    write(repo / "b", "b\n")
    assert dvx_proc("remote", "add", "-d", "store", str(repo.parent / "store"),
                    cwd=repo).code == 0
    assert dvx_proc("add", "a", "b", cwd=repo).code == 0
    assert dvx_proc("push", "b", cwd=repo).code == 0
    for name in ("a", "b"):
        (repo / name).unlink()
    shutil.rmtree(repo / ".dvx" / "cache" / "files")
    (repo / ".gitignore").write_text("/a\n")  # b's entry dropped, as a merge may do
    full = dvx_proc("pull", cwd=repo, env={"DVX_FAULT": "atomic_write.before_rename:2",
                                           "DVX_FAULT_ACTION": "enospc"})
    assert full.code == 1 and (repo / "b").read_text() == "b\n", full.output
    assert ".gitignore could not be written" in full.stderr, full.stderr
    assert "Nothing was left half-written" not in " ".join(full.stderr.split())
    assert _named_stopped(repo, dvx_proc) == ["dvx pull"]


@pytest.mark.parametrize("wrote", [True, False])
def test_an_error_once_a_command_began_writing_keeps_its_record(tmp_path, wrote):
    """An ordinary error (a full disk) that ends a command changing tracked paths once it
    began writing them keeps its record aside, and notes on the error what it may have left
    half-done; the same error before any write (a refusal) leaves nothing named."""
    from dvx.errors import left_half_done
    from dvx.lock import Command, RepoLock, Work, began_writing, stopped_commands

    tmp = str(tmp_path / "tmp")
    lock = RepoLock(tmp, 0, command=Command("dvx add a", "dvx add a", Work("tracking", None)))
    with pytest.raises(OSError) as raised, lock:
        if wrote:
            began_writing(tmp)
        raise OSError(28, "No space left on device")
    assert (left_half_done(raised.value) is not None) == wrote
    assert [each.command for each in stopped_commands(tmp)] == (["dvx add a"] if wrote else [])


def test_a_record_kept_on_a_full_disk_forgets_no_command_stopped_before(tmp_path,
                                                                          monkeypatch):
    """A command ended by an error whose record cannot be written into lock.stopped (the
    disk is full) leaves it as the holder's, read with those stopped before: neither is
    forgotten."""
    import dvx.lock
    from dvx.lock import Command, RepoLock, Work, began_writing, stopped_commands

    tmp = str(tmp_path / "tmp")
    for name, full in (("dvx add a", False), ("dvx checkout", True)):
        if full:
            def no_space(*_args):
                raise OSError(28, "No space left on device")
            monkeypatch.setattr(dvx.lock, "_write_stopped", no_space)
        lock = RepoLock(tmp, 0, command=Command(name, name, Work("tracking", None)))
        with pytest.raises(OSError), lock:
            began_writing(tmp)
            raise OSError(28, "No space left on device")
    monkeypatch.undo()
    holder = Path(tmp) / "lock.holder"  # as once the process ended: its pid gone
    record = json.loads(holder.read_text())
    record["pid"] = _a_pid_gone()
    holder.write_text(json.dumps(record))
    assert [each.command for each in stopped_commands(tmp)] == ["dvx checkout", "dvx add a"]


def _a_pid_gone() -> int:
    """The pid of a process that has ended (and been reaped)."""
    ended = subprocess.Popen(["true"])
    ended.wait()
    return ended.pid


def test_a_checkout_or_pull_that_cannot_place_everything_finishes_no_stopped_checkout(
        repo, dvx_proc):
    """A checkout killed half-way, then a checkout or pull of every path that exits 1 as
    one file's bytes are in neither the cache nor a remote: the killed one stays named (its
    work is not done), until a checkout placing everything ends without an error."""
    _checkout_killed_half_way(repo, dvx_proc)
    obj = repo / ".dvx" / "cache" / "files" / "xxh128"
    kept = repo.parent / "kept"
    other_oid = (repo / "other.txt.dvx").read_text().split("oid: ")[1].split()[0]
    (obj / other_oid[:2] / other_oid[2:]).rename(kept)
    assert dvx_proc("remote", "add", "-d", "store", str(repo.parent / "store"),
                    cwd=repo).code == 0
    for failing in ("checkout", "pull"):
        assert dvx_proc(failing, cwd=repo).code == 1
        assert _named_stopped(repo, dvx_proc) == ["dvx checkout"]
    kept.rename(obj / other_oid[:2] / other_oid[2:])
    assert dvx_proc("checkout", cwd=repo).code == 0
    assert _named_stopped(repo, dvx_proc) == []


def test_a_checkout_keeping_a_change_made_here_finishes_a_stopped_checkout(repo, dvx_proc):
    """A checkout that keeps a file the user changed (exit 1, "Skipped ...: it has changes")
    but places everything else has done all a run of the stopped one could: that one is no
    longer named."""
    _checkout_killed_half_way(repo, dvx_proc)
    placed = next(path for path in (repo / "imgs").iterdir())
    write(placed, "the user's own\n")
    kept = dvx_proc("checkout", cwd=repo)
    assert kept.code == 1 and "it has changes" in kept.stderr, kept.output
    assert _named_stopped(repo, dvx_proc) == []
    assert placed.read_text() == "the user's own\n"


def test_a_checkout_that_could_not_write_a_file_finishes_no_stopped_checkout(repo, dvx_proc):
    """A checkout run again after one was killed, that cannot write a file (the disk full):
    the killed one stays named, its work not done, until a checkout writes everything."""
    _checkout_killed_half_way(repo, dvx_proc)
    full = dvx_proc("checkout", cwd=repo, env={"DVX_FAULT": "place.before_rename",
                                                "DVX_FAULT_ACTION": "enospc"})
    assert full.code == 1, full.output
    assert _named_stopped(repo, dvx_proc) == ["dvx checkout"]
    assert dvx_proc("checkout", cwd=repo).code == 0
    assert _named_stopped(repo, dvx_proc) == []


def _git_killed_in_its_hook(repo: Path, *args: str) -> None:
    """`git ARGS`, whose hook (dvx's checkout) is killed once it placed 3 files."""
    subprocess.run(["git", *args], cwd=repo, capture_output=True, stdin=subprocess.DEVNULL,
                   env={**os.environ, "DVX_FAULT": "checkout.after_file:3"}, timeout=120)


def test_a_hook_killed_while_it_checks_out_is_finished_by_a_full_checkout(repo, dvx_proc):
    """Git's post-checkout hook killed half-way: status and the next writer name it as the
    hook it is, with `dvx checkout` as the command that does its work (nobody runs a hook
    by its name), and status counts it as a change; a `dvx checkout` of every path that ends
    without an error finishes it, and so does any later hook that checks out (a post-checkout
    after a stopped post-merge)."""
    import json

    assert dvx_proc("install", cwd=repo).code == 0
    for version in ("v1", "v2"):
        for i in range(6):
            write(repo / "data" / f"f{i}", f"{version}-{i}\n")
        assert dvx_proc("add", "data", cwd=repo).code == 0
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", version)
    _git_killed_in_its_hook(repo, "checkout", "-q", "HEAD~1")
    status = dvx_proc("status", cwd=repo)
    said = " ".join(status.stderr.split())
    assert "The last run of Git's post-checkout hook (`dvx git-hook post-checkout " in said
    assert "only some of its files may have been placed in the workspace" in said
    assert "`dvx checkout` does its work: run it if you still want it done" in said
    assert "Git's post-checkout hook (`dvx git-hook post-checkout " in status.stdout
    assert "`dvx checkout` does its work: run it if you still want it done" in status.stdout
    assert dvx_proc("status", "-q", cwd=repo).code == 1
    done = dvx_proc("checkout", cwd=repo)
    assert done.code == 0 and "post-checkout hook" in done.stderr, done.output
    status = dvx_proc("status", "--json", cwd=repo)
    assert "stopped before it finished" not in status.stderr
    assert json.loads(status.stdout)["stopped"] == [], status.output
    assert [(repo / "data" / f"f{i}").read_text() for i in range(6)] == \
        [f"v1-{i}\n" for i in range(6)]

    _git_killed_in_its_hook(repo, "merge", "-q", "--ff-only", "main")
    assert "Git's post-merge hook" in dvx_proc("status", cwd=repo).stderr
    git(repo, "checkout", "-q", "HEAD~1")  # its hook checks out every path: the merge's work
    assert "stopped before it finished" not in dvx_proc("status", cwd=repo).stderr
    assert (repo / "data" / "f5").read_text() == "v1-5\n"


TWO_STAGES_AND_ANOTHER = """\
stages:
  prep:
    cmd: echo p > p.txt
    outs: [p.txt]
  train:
    cmd: test -f ok && cat p.txt > m.txt
    deps: [p.txt]
    outs: [m.txt]
  other:
    cmd: echo o > o.txt
    outs: [o.txt]
"""


def test_a_repro_of_the_same_stages_or_more_finishes_a_stopped_one(repo, dvx_proc):
    """`dvx repro train` killed once prep ran: its stages' status shows what it left stale,
    so it is a warning, never a change of its own (`status -q` exits 0 once they are up to
    date). A repro that ends without an error on train and prep, however asked for, or a
    full repro, finishes it; one of other stages, of fewer, or whose train fails does not."""
    import json

    write(repo / "dvx.yaml", TWO_STAGES_AND_ANOTHER)
    _killed(repo, "repro train", "repro.after_command")
    said = "`dvx repro train` in this repository was stopped before it finished"
    assert said in " ".join(dvx_proc("status", cwd=repo).stderr.split())
    assert dvx_proc("repro", "other", cwd=repo).code == 0
    assert dvx_proc("repro", "prep", cwd=repo).code == 0
    assert dvx_proc("repro", "-f", "train", cwd=repo).code == 1  # train fails: no ok
    write(repo / "ok", "")
    assert dvx_proc("repro", "-s", "train", cwd=repo).code == 0
    status = dvx_proc("status", "--json", cwd=repo)
    assert said in " ".join(status.stderr.split())
    assert json.loads(status.stdout)["stopped"] == [] and status.code == 0, status.output
    assert dvx_proc("status", "-q", cwd=repo).code == 0  # every stage is up to date
    assert dvx_proc("repro", "-f", "train", cwd=repo).code == 0
    assert "stopped before it finished" not in dvx_proc("status", cwd=repo).stderr

    _killed(repo, "repro -f train", "repro.after_command")
    assert _named_stopped(repo, dvx_proc) == ["dvx repro -f train"]
    assert dvx_proc("repro", cwd=repo).code == 0
    assert _named_stopped(repo, dvx_proc) == []


def test_a_status_killed_while_it_records_what_is_in_sync_is_never_named(repo, dvx_proc):
    """`status` holds the lock only to write its record of what is in sync, whole: killed
    there, it left nothing half-done, so neither status nor a writer names it, and `status
    -q` exits 0. So for the record of an older dvx's status, which does not say so."""
    import json

    write(repo / "data.csv", "a\n")
    assert dvx_proc("add", "data.csv", cwd=repo).code == 0
    (repo / ".dvx/tmp/synced.json").unlink()  # status has it to record
    _killed(repo, "status", "atomic_write.before_rename:2")  # its record, then synced.json
    assert '"dvx status"' in (repo / ".dvx/tmp/lock.holder").read_text()
    for command in (("status", "-q"), ("status",), ("checkout",), ("status", "-q")):
        result = dvx_proc(*command, cwd=repo)
        assert result.code == 0 and "stopped" not in result.stderr, (command, result.output)
    assert (repo / ".dvx/tmp/synced.json").exists()

    older = {"pid": _ended_pid(), "host": os.uname().nodename, "command": "dvx -v status",
             "same_as": '["dvx status"]'}
    (repo / ".dvx/tmp/lock.stopped").write_text(json.dumps(older))
    for command in (("status", "-q"), ("status",), ("checkout",)):
        result = dvx_proc(*command, cwd=repo)
        assert result.code == 0 and "stopped" not in result.stderr, (command, result.output)


def _killed_add(repo: Path, path: str) -> None:
    killed = subprocess.run([sys.executable, "-m", "dvx", "add", path], cwd=repo,
                            env={**os.environ, "DVX_FAULT": "cache.before_publish"},
                            capture_output=True, stdin=subprocess.DEVNULL, timeout=60)
    assert killed.returncode == -signal.SIGKILL


def _pushed_folder_removed(repo: Path, dvx_proc) -> None:
    """imgs/, eight files, added and pushed to a directory remote, then deleted from the
    workspace: a checkout or pull has it to place."""
    for i in range(8):
        write(repo / "imgs" / f"{i}", f"v{i}\n")
    assert dvx_proc("remote", "add", "-d", "store", str(repo.parent / "store"),
                    cwd=repo).code == 0
    assert dvx_proc("add", "imgs", cwd=repo).code == 0
    assert dvx_proc("push", cwd=repo).code == 0
    shutil.rmtree(repo / "imgs")


def _named_stopped(repo: Path, dvx_proc) -> list[str]:
    """The commands `dvx status` names as stopped before they finished."""
    said = " ".join(dvx_proc("status", cwd=repo).stderr.split())
    return sorted(part.partition("`")[0] for part in said.split("The last `")[1:]
                  if "was stopped before it finished" in part
                  or "was ended by an error before it finished" in part)


def test_every_command_stopped_is_named_until_its_work_is_done(repo, dvx_proc):
    """Two commands killed one after the other are both named, by status and by the next
    writer; each until that command runs again to its end (or another that does its work:
    test_a_later_command_that_settles_the_same_paths_finishes_a_stopped_one), whatever else
    ran in between."""
    write(repo / "a.csv", "a\n")
    write(repo / "b.csv", "b\n")
    _killed_add(repo, "a.csv")
    _killed_add(repo, "b.csv")
    assert _named_stopped(repo, dvx_proc) == ["dvx add a.csv", "dvx add b.csv"]
    again = dvx_proc("add", "b.csv", cwd=repo)
    assert again.code == 0, again.output
    said = " ".join(again.stderr.split())
    assert "`dvx add a.csv` in this repository was stopped" in said
    assert "`dvx add b.csv` in this repository was stopped" in said
    assert _named_stopped(repo, dvx_proc) == ["dvx add a.csv"]
    write(repo / "b.csv", "b, changed\n")
    _killed_add(repo, "b.csv")  # killed again: named once
    write(repo / "c.csv", "c\n")
    assert dvx_proc("add", "c.csv", cwd=repo).code == 0
    assert _named_stopped(repo, dvx_proc) == ["dvx add a.csv", "dvx add b.csv"]
    assert dvx_proc("add", "a.csv", cwd=repo).code == 0
    assert dvx_proc("add", "b.csv", cwd=repo).code == 0
    assert _named_stopped(repo, dvx_proc) == []
    assert not (repo / ".dvx/tmp/lock.stopped").exists()


def test_stopped_commands_are_kept_in_a_file_older_dvx_reads(repo, dvx_proc):
    """lock.stopped keeps the latest stopped command as its one record, which is what an
    older dvx wrote and reads, and the others beside it; a record an older dvx left is
    named as before; only the latest STOPPED_KEPT commands are kept."""
    import json

    from dvx.lock import STOPPED_KEPT, Command, RepoLock

    stopped = repo / ".dvx/tmp/lock.stopped"
    stopped.write_text(json.dumps({"pid": 4242, "host": os.uname().nodename,
                                   "command": "dvx pull"}))  # an older dvx's
    assert _named_stopped(repo, dvx_proc) == ["dvx pull"]
    for i in range(STOPPED_KEPT + 1):  # each killed: its record left in lock.holder
        (repo / ".dvx/tmp/lock.holder").write_text(json.dumps(
            {"pid": _ended_pid(), "host": os.uname().nodename, "command": f"dvx add f{i}",
             "same_as": f"add f{i}"}))
        lock = RepoLock(str(repo / ".dvx/tmp"), 0, command=Command("dvx status", "status"))
        lock.acquire()
        lock.release(finished=True)
    latest = json.loads(stopped.read_text())
    assert latest["command"] == f"dvx add f{STOPPED_KEPT}"  # what an older dvx names
    assert _named_stopped(repo, dvx_proc) == sorted(
        f"dvx add f{i}" for i in range(1, STOPPED_KEPT + 1))


def test_status_names_exactly_the_stopped_commands_the_next_writer_keeps(repo, dvx_proc):
    """With STOPPED_KEPT commands kept in lock.stopped and one more killed (its record still
    in lock.holder), status names the latest STOPPED_KEPT, which are what the next writer
    keeps: no command status names is forgotten by a writer that does not do its work."""
    import json

    from dvx.lock import STOPPED_KEPT, Command, RepoLock

    for i in range(STOPPED_KEPT + 1):
        if i:  # a writer keeps the previous killed command's record aside
            lock = RepoLock(str(repo / ".dvx/tmp"), 0, command=Command("dvx status", "status"))
            lock.acquire()
            lock.release(finished=True)
        (repo / ".dvx/tmp/lock.holder").write_text(json.dumps(
            {"pid": _ended_pid(), "host": os.uname().nodename, "command": f"dvx add f{i}",
             "same_as": f"add f{i}"}))
    latest = sorted(f"dvx add f{i}" for i in range(1, STOPPED_KEPT + 1))
    assert _named_stopped(repo, dvx_proc) == latest
    write(repo / "other.txt", "b\n")
    assert dvx_proc("add", "other.txt", cwd=repo).code == 0
    assert _named_stopped(repo, dvx_proc) == latest


def test_a_holder_record_from_another_host_is_named_with_that_host(repo, dvx_proc):
    """A repository copied while a command ran on another host keeps that command's record:
    the next writer names the host, and never claims to know whether the command finished."""
    (repo / ".dvx/tmp/lock.holder").write_text(
        '{"pid": 4242, "host": "otherbox", "command": "dvx pull"}')
    assert "dvx pull" not in dvx_proc("status", cwd=repo).stderr  # it may be running there
    write(repo / "data.csv", "a\n")
    result = dvx_proc("add", "data.csv", cwd=repo)
    said = " ".join(result.stderr.split())
    assert result.code == 0, result.output
    assert "`dvx pull` on the host 'otherbox'" in said
    assert "cannot tell from here whether it finished" in said
    assert "process is gone" not in said
    assert "cannot tell from here" in " ".join(dvx_proc("status", cwd=repo).stderr.split())


@pytest.mark.parametrize("damaged", [
    b"[" * 100_000,  # JSON nested deeper than a reader recurses
    b'{"pid": 4242, "host": 7, "command": "dvx pull"}',
    b'{"pid": 4242, "host": "box", "command": ["dvx", "pull"]}',
    b'{"pid": 4242, "host": "box", "command": "dvx pull", "earlier": [' + b"[" * 100_000,
    b"\xff\xfe not UTF-8",
], ids=["deep", "host", "command", "deep-earlier", "not-utf-8"])
@pytest.mark.parametrize("file", ["lock.stopped", "lock.holder"])
def test_a_damaged_holder_record_is_no_notice_and_no_error(repo, dvx_proc, file, damaged):
    """dvx writes these files itself, but reads them as what they may have become (a disk's
    damage, an edit): a record it cannot read names no command, and fails none."""
    (repo / ".dvx/tmp" / file).write_bytes(damaged)
    write(repo / "data.csv", "a\n")
    for command in (("status",), ("add", "data.csv"), ("status",)):
        result = dvx_proc(*command, cwd=repo)
        assert result.code == 0 and "Unexpected" not in result.stderr, (command, result.output)
        assert "stopped" not in result.stderr and "lock was last taken" not in result.stderr


@pytest.mark.parametrize("command", [["add", "new.txt"], ["checkout"], ["commit"]])
def test_a_command_that_writes_refuses_a_tmp_folder_it_may_not_write_in(repo, dvx, command):
    """.dvx/tmp, where the lock records its holder and checkout what the workspace holds,
    read-only to this user: a command that changes the repository refuses before writing
    anything, naming the folder from the current directory with its chmod, where it would
    otherwise go on with only a warning that it could not record what it placed (nor is
    Git's exclude file written); status, which only reads, still reports."""
    write(repo / "data.bin", "v1")
    assert dvx("add", "data.bin").code == 0
    write(repo / "data.bin", "v2")
    write(repo / "sub" / "new.txt", "new")
    pointer = (repo / "data.bin.dvx").read_bytes()
    exclude = repo / ".git" / "info" / "exclude"
    write(exclude, "# the user's own\n")
    tmp = repo / ".dvx" / "tmp"
    tmp.chmod(0o555)
    try:
        refused = dvx_unprivileged(repo / "sub", *command)
        excluded = exclude.read_text()
        status = dvx_unprivileged(repo, "status")
    finally:
        tmp.chmod(0o755)
    assert refused.returncode == 1, refused.stderr
    assert refused.stderr == (
        "ERROR: dvx may not write in '../.dvx/tmp' (permission denied), where a command that "
        "changes the repository records that it runs and what it placed; nothing was changed. "
        "Let dvx write there (`chmod u+w ../.dvx/tmp`, as its owner), then run the command "
        "again.\n")
    assert not (repo / "sub" / "new.txt.dvx").exists()
    assert (repo / "data.bin.dvx").read_bytes() == pointer
    assert (repo / "data.bin").read_text() == "v2"
    assert excluded == "# the user's own\n"
    assert status.returncode == 0 and "data.bin: modified" in status.stdout, status.stderr


@pytest.mark.parametrize("owner", ["this user", "another user"])
def test_a_command_that_writes_refuses_a_lock_file_left_read_only(repo, owner):
    """The lock file in .dvx/tmp read-only (a chmod, or another user of a shared checkout
    made it): a command that changes the repository refuses before writing, naming that
    file, not a folder, with the chmod its owner runs: u+w of one's own, a+w of another's."""
    write(repo / "sub" / "new.txt", "new")
    lock_file = repo / ".dvx" / "tmp" / "lock"
    lock_file.touch()
    lock_file.chmod(0o444 if owner == "this user" else 0o644)
    if owner == "another user":
        if os.geteuid() != 0:
            pytest.skip("giving a file to another user takes root")
        os.chown(lock_file, 1001, 1001)
    try:
        refused = dvx_unprivileged(repo / "sub", "add", "new.txt")
    finally:
        if owner == "another user":
            os.chown(lock_file, 0, 0)
        lock_file.chmod(0o644)
    mode = "u+w" if owner == "this user" else "a+w"
    assert refused.returncode == 1, refused.stderr
    assert refused.stderr == (
        "ERROR: dvx may not write to '../.dvx/tmp/lock' (permission denied), where a command "
        "that changes the repository records that it runs and what it placed; nothing was "
        f"changed. Let dvx write there (`chmod {mode} ../.dvx/tmp/lock`, as its owner), then "
        "run the command again.\n")
    assert not (repo / "sub" / "new.txt.dvx").exists()
