"""How stages run: in parallel with -j (seen from the stages' own timestamps), with prefixed
live output; a failing stage keeps its dvx.lock entry and caches nothing, and what depends on
it does not run; an interrupted repro (kill -9) leaves dvx.lock whole and a rerun converges."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import pty
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import git, make_git_repo, run_dvx_proc, stopped_at, write
from pipeline_kit import run_and_commit

from dvx.hashing import hash_bytes
from dvx.lockfile import read_lock

# Each stage says it started, then waits until the other has too: they end only if they run
# at the same time, however long either takes to start on a busy machine (run one after the
# other, the first would give up waiting and fail).
TIMESTAMPED = """\
import os, sys, time
name, out = sys.argv[1], sys.argv[2]
start = time.time()
open(f"{name}.here", "w").close()
deadline = time.monotonic() + 60
while not (os.path.exists("left.here") and os.path.exists("right.here")):
    if time.monotonic() > deadline:
        sys.exit(f"{name} ran alone")
    time.sleep(0.01)
print(f"{name} working", flush=True)
open(out, "w").write(f"{start} {time.time()}\\n")
"""


def interval_of(line: str) -> tuple[float, float]:
    start, end = line.split()
    return float(start), float(end)


def interval(path: Path) -> tuple[float, float]:
    return interval_of(path.read_text())


def test_independent_stages_run_in_parallel_with_prefixed_output(repo, dvx_proc):
    write(repo / "stamp.py", TIMESTAMPED)
    write(repo / "dvx.yaml", f"""\
stages:
  left:
    cmd: {sys.executable} stamp.py left left.txt
    deps: [stamp.py]
    outs: [left.txt]
  right:
    cmd: {sys.executable} stamp.py right right.txt
    deps: [stamp.py]
    outs: [right.txt]
  both:
    cmd: cat left.txt right.txt > both.txt
    deps: [left.txt, right.txt]
    outs: [both.txt]
""")
    result = dvx_proc("repro", "-j", "2", cwd=repo)
    assert result.code == 0, result.output
    left, right = interval(repo / "left.txt"), interval(repo / "right.txt")
    assert left[0] < right[1] and right[0] < left[1], "the two stages did not overlap"
    assert "[left] left working" in result.stdout.splitlines()
    assert "[right] right working" in result.stdout.splitlines()
    lines = (repo / "both.txt").read_text().splitlines()  # the join ran after both
    assert [interval_of(line) for line in lines] == [left, right]


FAILING = """\
stages:
  first:
    cmd: echo first >> runs.log; cp in.txt first.txt
    deps: [in.txt]
    outs: [first.txt]
  flaky:
    cmd:  # a list: each command runs after the one before succeeded
    - echo flaky >> runs.log
    - echo partial > flaky.txt
    - test -f ok || exit 7
    - cp first.txt flaky.txt
    deps: [first.txt]
    outs: [flaky.txt]
  after:
    cmd: echo after >> runs.log; cp flaky.txt after.txt
    deps: [flaky.txt]
    outs: [after.txt]
  other:
    cmd: echo other >> runs.log; cp in.txt other.txt
    deps: [in.txt]
    outs: [other.txt]
"""


def ran(repo: Path) -> list[str]:
    log = repo / "runs.log"
    return log.read_text().split() if log.exists() else []


def test_a_failing_stage_keeps_its_lock_entry_caches_nothing_and_stops_what_follows(repo, dvx):
    write(repo / "in.txt", "v1\n")
    write(repo / "ok", "")
    write(repo / "dvx.yaml", FAILING)
    assert dvx("repro").code == 0
    lock_before = read_lock(str(repo), "xxh128")
    (repo / "ok").unlink()
    write(repo / "in.txt", "v2\n")
    del_log = len(ran(repo))

    result = dvx("repro")
    assert result.code == 1
    assert ran(repo)[del_log:] == ["first", "flaky"], "nothing starts after a failure"
    assert "Stage 'flaky' failed: command failed (exit code 7): test -f ok || exit 7" in \
        result.stderr
    assert "1 stage failed: flaky (exit code 7)" in result.stderr
    assert "Skipped stage 'after': upstream stage 'flaky' failed." in result.stderr
    assert "Traceback" not in result.output
    lock = read_lock(str(repo), "xxh128")
    assert lock["flaky"] == lock_before["flaky"], "a failed stage's entry must not change"
    assert lock["first"] != lock_before["first"], "a stage that succeeded is recorded"
    assert lock["after"] == lock_before["after"]
    partial = hash_bytes(b"partial\n", "xxh128")
    assert not (repo / ".dvx" / "cache" / "files" / "xxh128" / partial[:2] / partial[2:]).exists()

    result = dvx("repro", "--keep-going")
    assert result.code == 1
    assert ran(repo)[del_log + 2:] == ["flaky", "other"], "--keep-going runs independent stages"

    write(repo / "ok", "")
    assert dvx("repro").code == 0
    assert ran(repo)[del_log + 4:] == ["flaky", "after"]
    assert (repo / "after.txt").read_text() == "v2\n"


def test_the_closing_line_says_a_stage_refused_before_its_command_ran_wrote_nothing(
        repo, dvx):
    """A stage refused before it starts (its output folder holds a clone of the user's)
    beside one whose command failed: repro's closing line says the refused one ran nothing,
    and only the one that ran wrote what is not recorded; --json says which started."""
    write(repo / "ok", "")
    run_and_commit(repo, "stages:\n  gen:\n    cmd: mkdir -p out && echo 1 > out/r\n"
                         "    outs: [out]\n  flaky:\n    cmd: echo x > f.txt && test "
                         "-f ok || exit 7\n    outs: [f.txt]\n", "run")
    make_git_repo(repo / "out" / "clone")
    (repo / "ok").unlink()
    write(repo / "dvx.yaml", (repo / "dvx.yaml").read_text().replace("echo x", "echo y"))
    alone = dvx("repro", "gen")
    assert alone.code == 1, alone.output
    closing = alone.stderr.strip().splitlines()[-1]
    assert closing == ("ERROR: 1 stage failed: gen, refused before its command ran. Its "
                       "dvx.lock entry is unchanged, and so are its outputs: nothing of it "
                       "ran; fix it and run `dvx repro` again."), closing
    both = dvx("repro", "--keep-going")
    assert both.code == 1, both.output
    closing = both.stderr.strip().splitlines()[-1]
    assert "2 stages failed: flaky (exit code 7), and gen, refused before its command ran. " \
        "Their dvx.lock entries are unchanged: what flaky wrote is not recorded, and nothing " \
        "of gen ran" in closing, closing
    started = {s["name"]: s["started"] for s in json.loads(
        dvx("repro", "--keep-going", "--json").stdout)["stages"]}
    assert started == {"gen": False, "flaky": True}, started


def test_each_command_of_a_list_is_shown_just_before_it_runs(repo, dvx_proc):
    write(repo / "dvx.yaml", """\
stages:
  lst:
    cmd: ["echo out-one; echo one > o.txt", "echo out-two; false", "echo never > n.txt"]
    outs: [o.txt]
""")
    result = dvx_proc("repro", cwd=repo)
    assert result.code == 1
    assert result.stdout.splitlines() == [
        "Running stage 'lst' (never run):", "> echo out-one; echo one > o.txt", "out-one",
        "> echo out-two; false", "out-two"], "a command that never ran is never shown"
    assert not (repo / "n.txt").exists()


def test_a_stage_that_does_not_create_its_output_fails(repo, dvx):
    write(repo / "in.txt", "x")
    write(repo / "dvx.yaml", "stages:\n  lazy:\n    cmd: 'true'\n    deps: [in.txt]\n"
                             "    outs: [never.txt]\n")
    result = dvx("repro")
    assert result.code == 1
    assert "did not create never.txt" in result.stderr
    assert not (repo / "dvx.lock").exists()


def test_outputs_are_removed_before_a_run_unless_they_persist(repo, dvx):
    write(repo / "in.txt", "x\n")
    write(repo / "dvx.yaml", """\
stages:
  grow:
    cmd: cat in.txt >> fresh.txt; cat in.txt >> kept.txt
    deps: [in.txt]
    outs:
    - fresh.txt
    - kept.txt: {persist: true}
""")
    assert dvx("repro").code == 0
    write(repo / "in.txt", "y\n")
    assert dvx("repro").code == 0
    assert (repo / "fresh.txt").read_text() == "y\n"
    assert (repo / "kept.txt").read_text() == "x\ny\n"


def test_a_run_keeps_the_files_dvxignore_keeps_out_of_an_output_directory(repo, dvx):
    """They are no data of the output (never cached): deleting them would lose them for
    good, as `stage remove --outs` knows. What the output holds is deleted before a run."""
    write(repo / "in.txt", "x\n")
    write(repo / "dvx.yaml", """\
stages:
  mk:
    cmd: mkdir -p out/sub && cp in.txt out/sub/$(cat in.txt).txt
    deps: [in.txt]
    outs: [out]
""")
    assert dvx("repro").code == 0
    write(repo / ".dvxignore", "*.tmp\n")
    write(repo / "out" / "sub" / "notes.tmp", "my notes")
    write(repo / "in.txt", "y\n")
    assert dvx("repro").code == 0
    assert sorted(p.name for p in (repo / "out" / "sub").iterdir()) == ["notes.tmp", "y.txt"]
    write(repo / "in.txt", "x\n")
    restored = dvx("repro")
    assert "Restored 'mk' from the run-cache" in restored.output
    assert sorted(p.name for p in (repo / "out" / "sub").iterdir()) == ["notes.tmp", "x.txt"]
    assert (repo / "out" / "sub" / "notes.tmp").read_text() == "my notes"


def test_a_persist_output_is_never_written_through_a_link_into_a_linked_cache(
        repo, dvx, tmp_path):
    (tmp_path / "bigdisk" / "cache").mkdir(parents=True)  # .dvx/cache on another disk
    shutil.rmtree(repo / ".dvx" / "cache")  # holds its own .gitignore
    os.symlink(tmp_path / "bigdisk" / "cache", repo / ".dvx" / "cache")
    assert dvx("config", "cache.type", "symlink").code == 0
    write(repo / "in.txt", "x\n")
    write(repo / "dvx.yaml", "stages:\n  grow:\n    cmd: cat in.txt >> log.txt\n"
                             "    deps: [in.txt]\n    outs:\n    - log.txt: {persist: true}\n")
    assert dvx("repro").code == 0
    assert os.path.islink(repo / "log.txt")
    recorded = os.path.realpath(repo / "log.txt")
    os.unlink(repo / "in.txt")
    write(repo / "in.txt", "y\n")
    rerun = dvx("repro")
    assert rerun.code == 0 and "no longer held its bytes" not in rerun.output, rerun.output
    assert (repo / "log.txt").read_text() == "x\ny\n"
    with open(recorded) as f:
        assert f.read() == "x\n"


# pandas' `df.to_csv(path)` over the CSV `pd.read_csv(path)` read: truncated and rewritten
REWRITES_ITS_INPUT = """\
stages:
  clean:
    cmd: >-
      {python} -c "p = '{data}'; s = open(p).read().replace(' ', '');
      open(p, 'w').write(s); open('clean.csv', 'w').write(s)"
    deps: [{dep}]
    outs: [clean.csv]
"""


@pytest.mark.parametrize("where", ["data.csv", "raw/data.csv"])
@pytest.mark.parametrize("link", ["symlink", "hardlink"])
def test_a_stage_whose_command_writes_into_its_input_through_a_link_fails_and_records_nothing(
        repo, dvx, tmp_path, link, where):
    """A command rewriting its input in place: with a linked cache it writes into the
    cached object, the only copy here of the data the pointer records. The stage fails naming
    the input and how to get the data back, the changed object is moved aside (fsck finds no
    corrupt object), dvx.lock records nothing, and the pushed data comes back from the
    remote."""
    assert dvx("config", "cache.type", link).code == 0
    assert dvx("remote", "add", "-d", "store", str(tmp_path / "store")).code == 0
    tracked = where.partition("/")[0]
    write(repo / where, "id,v\n1, 2\n")
    assert dvx("add", tracked).code == 0
    assert dvx("push").code == 0
    write(repo / "dvx.yaml", REWRITES_ITS_INPUT.format(python=sys.executable, data=where,
                                                      dep=tracked))

    ran = run_dvx_proc("repro", cwd=repo)
    assert ran.code == 1, ran.output
    said = " ".join(ran.stderr.split())
    assert (f"Stage 'clean' failed: '{where}', a link into the cache (cache.type {link}), "
            "was written into while its command ran") in said, said
    assert f"`dvx pull --force {where}`" in said and f"`dvx unprotect {where}`" in said
    assert not (repo / "dvx.lock").exists()
    assert list((repo / ".dvx" / "cache" / "quarantine").iterdir())
    assert run_dvx_proc("fsck", cwd=repo).code == 0  # no object of other bytes than its oid's
    assert (repo / where).read_text() == "id,v\n1,2\n"  # what the command wrote stays

    assert run_dvx_proc("pull", "--force", where, cwd=repo).code == 0
    assert (repo / where).read_text() == "id,v\n1, 2\n"
    assert run_dvx_proc("unprotect", where, cwd=repo).code == 0
    # A copy of its own, its command's to change: the run that changes it records nothing (a
    # dependency changed while the command ran), the next one, which leaves it so, is recorded
    changed = run_dvx_proc("repro", cwd=repo)
    assert changed.code == 1 and "its dependencies changed while its command ran" in \
        changed.stderr, changed.output
    assert run_dvx_proc("repro", cwd=repo).code == 0
    assert run_dvx_proc("status", "-q", cwd=repo).code == 0
    assert run_dvx_proc("fsck", cwd=repo).code == 0


@pytest.mark.parametrize("runs_in", ["main", "linked"])
def test_a_write_into_an_input_through_a_link_names_the_other_worktree_linked_to_it(
        repo, dvx, tmp_path, runs_in):
    """A linked Git worktree shares the cache of the main one: the object a stage's command
    wrote into through its input is the one the other worktree's file links to as well. The
    failure names that file too, and how to get its data back there."""
    assert dvx("config", "cache.type", "symlink").code == 0
    write(repo / "data.csv", "id,v\n1, 2\n")
    assert dvx("add", "data.csv").code == 0
    write(repo / "dvx.yaml", REWRITES_ITS_INPUT.format(python=sys.executable, data="data.csv",
                                                      dep="data.csv"))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "pipeline")
    linked = tmp_path / "linked"
    git(repo, "worktree", "add", "-q", "--detach", str(linked))
    assert run_dvx_proc("checkout", cwd=linked).code == 0
    here, there = (repo, linked) if runs_in == "main" else (linked, repo)

    ran = run_dvx_proc("repro", cwd=here)
    assert ran.code == 1, ran.output
    said = " ".join(ran.stderr.split())
    assert "`dvx unprotect data.csv`" in said, said
    assert (f"In the worktree {os.path.realpath(there)}, 'data.csv' linked to it too, and no "
            "longer holds the data its pointer records: there, `dvx pull --force data.csv` "
            "brings it back") in said, said
    assert (here / "data.csv").read_text() == "id,v\n1,2\n"  # what the command wrote stays


# X writes into its input through its link, while Y, beside it, reads the same input.
WRITER_AND_READER = """\
stages:
  X:
    cmd: echo X >> in.csv; touch written; until [ -e y-done ]; do sleep 0.05; done; echo x > x.txt
    deps: [in.csv]
    outs: [x.txt]
  Y:
    cmd: until [ -e written ]; do sleep 0.05; done; cat in.csv > y.txt; touch y-done
    deps: [in.csv]
    outs: [y.txt]
"""


def test_of_two_stages_running_beside_a_write_into_their_input_neither_is_recorded(repo, dvx):
    """Y, which only reads, ends first and finds the input's object written: it is moved
    aside. X, which wrote it, ends later and finds it gone: no stat tells which of the two
    wrote, so both fail, and dvx.lock records neither."""
    assert dvx("config", "cache.type", "symlink").code == 0
    write(repo / "in.csv", "a,b\n1,2\n")
    assert dvx("add", "in.csv").code == 0
    write(repo / "dvx.yaml", WRITER_AND_READER)
    ran = run_dvx_proc("repro", "-j", "2", "--keep-going", cwd=repo)
    assert ran.code == 1, ran.output
    said = " ".join(ran.stderr.split())
    for stage in ("X", "Y"):
        assert f"Stage '{stage}' failed: 'in.csv', a link into the cache" in said, said
    assert not (repo / "dvx.lock").exists()


SLOW = """\
stages:
  quick:
    cmd: echo quick >> runs.log; cp in.txt quick.txt
    deps: [in.txt]
    outs: [quick.txt]
  slow:
    cmd:
    - echo slow >> runs.log
    - if [ -f slow ]; then echo $$ > slow.pid; exec sleep 60; fi
    - cp quick.txt slow.txt
    deps: [quick.txt]
    outs: [slow.txt]
"""


def repro_once_started(repo: Path, marker: str) -> subprocess.Popen[bytes]:
    """`dvx repro` in a process of its own, returned once its stage has written `marker`."""
    proc = subprocess.Popen([sys.executable, "-m", "dvx", "repro"], cwd=repo,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not (repo / marker).exists() or not (repo / marker).read_text():
        if proc.poll() is not None or time.monotonic() >= deadline:
            proc.kill()
            raise AssertionError("the stage never started")
        time.sleep(0.02)
    return proc


def test_an_interrupted_repro_leaves_the_lock_whole_and_a_rerun_converges(repo, dvx):
    write(repo / "in.txt", "data\n")
    write(repo / "slow", "")
    write(repo / "dvx.yaml", SLOW)
    proc = repro_once_started(repo, "slow.pid")
    try:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
        pid = (repo / "slow.pid").read_text().strip()
        if pid:  # the stage's own process, which the run's guardian ends: not left if it did not
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), signal.SIGKILL)

    lock = read_lock(str(repo), "xxh128")  # parses: never half-written
    assert set(lock) == {"quick"}
    assert not [p for p in os.listdir(repo) if p.endswith(".tmp")]
    (repo / "slow").unlink()
    result = dvx("repro")
    assert result.code == 0, result.output
    assert ran(repo) == ["quick", "slow", "slow"]
    assert set(read_lock(str(repo), "xxh128")) == {"quick", "slow"}
    assert dvx("repro").code == 0
    assert ran(repo) == ["quick", "slow", "slow"]
    assert dvx("status", "-q").code == 0


def processes_in(directory: Path) -> list[int]:
    """The live (not zombie) processes but this one whose working directory is `directory`."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cwd = os.readlink(f"/proc/{pid}/cwd")
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if cwd == str(directory) and state != "Z" and int(pid) != os.getpid():
            found.append(int(pid))
    return found


SAID = {signal.SIGINT: "Interrupted.", signal.SIGTERM: "Terminated.", signal.SIGHUP: "Hung up."}


def _repro_waiting_on_a_fifo(repo: Path, before: str = "") -> subprocess.Popen[str]:
    """`dvx repro` of a stage (`before` its command: traps, say) whose child writes its output
    once it reads a line from the FIFO `go`, which only the test writes, after dvx has stopped:
    a child that outlived dvx would write it then, however slow the machine is. It blocks in
    one call, so no child of its own can take a signal for it. Returned once the child says
    it started, which it does once it runs as its own program: a signal that came while the
    shell was still forking it would reach it under the shell's trap, which the new program
    then drops, and it would wait for the SIGKILL instead of ending."""
    os.mkfifo(repo / "go")
    write(repo / "dvx.yaml", f"""\
stages:
  train:
    cmd: {before}sh -c 'echo $$ > started; read line < go; cp in.txt model.bin'
    deps: [in.txt]
    outs: [model.bin]
""")
    proc = subprocess.Popen([sys.executable, "-m", "dvx", "repro"], cwd=repo,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, text=True)
    deadline = time.monotonic() + 60
    while not (repo / "started").exists() or not (repo / "started").read_text():
        if proc.poll() is not None or time.monotonic() >= deadline:
            proc.kill()
            raise AssertionError("the stage never started")
        time.sleep(0.02)
    return proc


@pytest.mark.parametrize("signum, stage_ignores_it", [
    (signal.SIGINT, False), (signal.SIGTERM, False), (signal.SIGTERM, True),
    (signal.SIGHUP, False)])  # the terminal closed, an ssh connection dropped
def test_an_interrupted_repro_stops_the_stage_command_and_all_it_started(
        repo, dvx, signum, stage_ignores_it):
    """Ctrl-C, SIGTERM or SIGHUP sent to dvx alone (not to the stage's processes) is passed on
    to the stage's whole process group, and a command ignoring it is killed: no output
    appears later."""
    write(repo / "in.txt", "data\n")
    trap = ("trap '' INT TERM; " if stage_ignores_it else
            "trap 'echo INT > got; exit 1' INT; trap 'echo TERM > got; exit 1' TERM; "
            "trap 'echo HUP > got; exit 1' HUP; ")
    proc = _repro_waiting_on_a_fifo(repo, trap)
    try:
        proc.send_signal(signum)
        _, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 128 + signum  # 130 Interrupted, 143 Terminated, 129 Hung up
    assert SAID[signum] in stderr and "Traceback" not in stderr
    # the stage's output, if it wrote any, stays: never "nothing was left half-written"
    assert "Stopped stage 'train'" in stderr and "maybe partial" in stderr, stderr
    assert "half-written" not in stderr
    assert processes_in(repo) == []
    if not stage_ignores_it:
        assert (repo / "got").read_text() == signal.Signals(signum).name[3:] + "\n"
    with pytest.raises(OSError) as no_reader:  # a child still alive would be reading it
        os.close(os.open(repo / "go", os.O_WRONLY | os.O_NONBLOCK))
    assert no_reader.value.errno == errno.ENXIO
    assert not (repo / "model.bin").exists()
    assert "train" not in read_lock(str(repo), "xxh128")
    (repo / "started").unlink()
    (repo / "go").unlink()
    write(repo / "go", "go\n")  # the rerun's stage reads its line at once
    assert dvx("repro").code == 0
    assert (repo / "model.bin").read_text() == "data\n"


def members_of(group: int) -> list[int]:
    """The live (not zombie) processes of the process group `group`."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == group and fields[0] != "Z":
            found.append(int(pid))
    return found


def wait_until_gone(group: int) -> None:
    deadline = time.monotonic() + 30
    while members_of(group):
        assert time.monotonic() < deadline, f"group {group} still runs: {members_of(group)}"
        time.sleep(0.02)


def guardian_of(dvx_pid: int) -> int:
    """The guardian dvx started for its stages (dvx/guardian.py), a child of its own."""
    for pid in filter(str.isdigit, os.listdir("/proc")):
        with contextlib.suppress(OSError):
            ppid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
            if ppid == dvx_pid and b"guardian.py" in Path(f"/proc/{pid}/cmdline").read_bytes():
                return int(pid)
    raise AssertionError(f"dvx (pid {dvx_pid}) has no guardian")


def stage_group_once_recorded(repo: Path) -> int:
    """The process group of the stage `_repro_waiting_on_a_fifo` started, once dvx has told
    its guardian of it and noted it in the lock's holder record (right after starting it,
    which the stage may outrun on a busy machine)."""
    group = os.getpgid(int((repo / "started").read_text()))
    deadline = time.monotonic() + 60
    while f'"group": {group},' not in (repo / ".dvx" / "tmp" / "lock.holder").read_text():
        assert time.monotonic() < deadline, "dvx never recorded the stage's process group"
        time.sleep(0.02)
    return group


def test_a_repro_killed_with_sigkill_leaves_no_stage_command_running(repo, dvx):
    """The OOM killer, a CI job's timeout or a terminal closed hard end dvx with SIGKILL, and
    no handler of its own runs: the stage's command, in a session of its own, is ended all the
    same (by the run's guardian), so it never writes an output the next run records."""
    write(repo / "in.txt", "data\n")
    proc = _repro_waiting_on_a_fifo(repo)
    group = stage_group_once_recorded(repo)
    try:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        wait_until_gone(group)
    finally:
        if proc.poll() is None:
            proc.kill()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGKILL)  # only if the test failed
    with pytest.raises(OSError) as no_reader:  # a child still alive would be reading it
        os.close(os.open(repo / "go", os.O_WRONLY | os.O_NONBLOCK))
    assert no_reader.value.errno == errno.ENXIO
    assert not (repo / "model.bin").exists()

    write(repo / "in.txt", "new\n")
    (repo / "go").unlink()
    write(repo / "go", "go\n")  # the rerun's stage reads its line at once
    rerun = dvx("repro")
    assert rerun.code == 0, rerun.output
    assert "stopped before it finished" in rerun.stderr
    assert "may still be running" not in rerun.stderr
    assert (repo / "model.bin").read_text() == "new\n"
    assert read_lock(str(repo), "xxh128")["train"].outs[0].oid == hash_bytes(b"new\n", "xxh128")
    assert processes_in(repo) == []


# Saves a checkpoint on SIGTERM, taking a second, as a trainer does; run again (`again`
# there), it writes its output at once.
CHECKPOINTS_ON_SIGTERM = """\
stages:
  train:
    cmd: >-
      if [ -e again ]; then echo new > out.txt; exit 0; fi;
      trap 'sleep 1; echo checkpoint >> out.txt; exit 143' TERM;
      echo old > out.txt; echo $$ > started; sleep 60 & wait
    deps: [in.txt]
    outs: [out.txt]
"""


def test_the_next_repro_waits_for_the_commands_a_killed_repro_started_to_end(repo, dvx):
    """The guardian of a repro killed with SIGKILL sends its stage SIGTERM, and the stage
    takes a second to save a checkpoint into its output: the repro run at once waits for it
    to end before it runs the stage again, so what dvx.lock records is the new run's alone."""
    write(repo / "in.txt", "data\n")
    write(repo / "dvx.yaml", CHECKPOINTS_ON_SIGTERM)
    proc = repro_once_started(repo, "started")
    try:
        group = stage_group_once_recorded(repo)
        write(repo / "again", "")
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        rerun = dvx("repro")
    finally:
        if proc.poll() is None:
            proc.kill()
    wait_until_gone(group)
    assert rerun.code == 0, rerun.output
    assert "Waiting up to" in rerun.stderr, rerun.stderr
    assert (repo / "out.txt").read_text() == "new\n"
    assert read_lock(str(repo), "xxh128")["train"].outs[0].oid == hash_bytes(b"new\n", "xxh128")


def test_a_command_a_killed_repro_left_running_is_named_and_stops_the_next_repro(
        repo, dvx, monkeypatch):
    """Its guardian killed too, nothing ends the stage's command: `dvx status` names it and
    how to stop it, and the next repro waits a while, then refuses, naming it too, and runs
    nothing; once it has ended, status no longer names it, and the repro runs."""
    monkeypatch.setattr("dvx.lock.STOPPED_COMMANDS_WAIT", 0.5)
    write(repo / "in.txt", "data\n")
    proc = _repro_waiting_on_a_fifo(repo)
    group = stage_group_once_recorded(repo)
    try:
        guardian = guardian_of(proc.pid)
        os.kill(guardian, signal.SIGKILL)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        wait_until_gone(guardian)  # a process dies some time after its SIGKILL: until then
        # it still runs, and status rightly names it beside the stage's command
        said = dvx("status").stderr
        assert "`dvx repro` in this repository was stopped before it finished" in said
        assert "may still be running, writing the workspace: pid " in said, said
        assert f"pid {group} (/bin/sh -c " in said and f"(`kill -- -{group}`)" in said, said
        refused = dvx("repro")
        assert refused.code == 3, refused.output
        said = " ".join(refused.stderr.split())
        assert "ERROR: `dvx repro` was stopped before it finished, and a command it started " \
            "still runs, writing the workspace: pid " in said, said
        assert f"(`kill -- -{group}`), then run this again" in said
        assert not (repo / "dvx.lock").exists() and members_of(group)
    finally:
        if proc.poll() is None:
            proc.kill()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGKILL)
    wait_until_gone(group)
    said = dvx("status").stderr
    assert "stopped before it finished" in said and "may still be running" not in said
    (repo / "go").unlink()
    write(repo / "go", "go\n")
    assert dvx("repro").code == 0
    assert (repo / "model.bin").read_text() == "data\n"


def test_a_signal_the_kernel_gives_a_worker_thread_stops_repro_at_once(repo, dvx):
    """A signal sent to dvx may reach any of its threads (here the one waiting for the stage,
    by its thread id); its handler runs in the main thread all the same, at once, not once the
    stage has ended by itself (this one never would)."""
    write(repo / "in.txt", "data\n")
    proc = _repro_waiting_on_a_fifo(repo)
    try:
        workers = [int(t) for t in os.listdir(f"/proc/{proc.pid}/task") if int(t) != proc.pid]
        assert workers
        os.kill(workers[0], signal.SIGTERM)  # Linux hands it to that thread first
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 143 and "Terminated." in stderr, stderr
    assert "Stopped stage 'train'" in stderr
    assert processes_in(repo) == []


def test_a_repro_stopped_once_the_stage_command_ended_says_its_outputs_are_whole(repo, dvx):
    """SIGTERM once the stage's command has ended (dvx stopped right then, as a slow moment
    would): its output is whole, not "maybe partial", nothing is recorded in dvx.lock, and
    the cache holds the output exactly when the message says it was cached (no output is
    stored once the run is stopping; the one in hand may be)."""
    write(repo / "dvx.yaml", """\
stages:
  make:
    cmd: printf 'made\\n' > out.txt
    outs: [out.txt]
""")
    proc = stopped_at("repro.after_command", "repro", repo)
    proc.send_signal(signal.SIGTERM)
    proc.send_signal(signal.SIGCONT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 143, stderr
    assert ("Terminated. Stopped stage 'make' after its command ended, whose outputs are "
            "whole, and not recorded in dvx.lock") in stderr, stderr
    assert "maybe partial" not in stderr
    assert (repo / "out.txt").read_text() == "made\n"
    oid = hash_bytes(b"made\n", "xxh128")
    cached = (repo / ".dvx" / "cache" / "files" / "xxh128" / oid[:2] / oid[2:]).exists()
    assert cached == ("out.txt (in the cache)." in stderr), stderr
    assert cached or "not recorded in dvx.lock or the cache: out.txt." in stderr
    assert "make" not in read_lock(str(repo), "xxh128")
    assert dvx("repro").code == 0
    assert read_lock(str(repo), "xxh128")["make"].outs[0].oid == oid


def test_a_repro_stopped_while_restoring_from_the_run_cache_names_the_restore(repo, dvx):
    """Ctrl-C while a stage's outputs are restored from the run-cache: no command ran, so the
    message names the restore, never outputs "as the command left them"."""
    write(repo / "dvx.yaml", "stages:\n  prep:\n    cmd: mkdir -p out && cp p.txt out/a\n"
                             "    deps: [p.txt]\n    outs: [out]\n")
    for value in ("1\n", "2\n"):
        write(repo / "p.txt", value)
        assert dvx("repro").code == 0
    write(repo / "p.txt", "1\n")  # a past run the run-cache holds
    proc = stopped_at("place.before_rename", "repro", repo)
    proc.send_signal(signal.SIGINT)
    proc.send_signal(signal.SIGCONT)
    _, stderr = proc.communicate(timeout=60)
    said = " ".join(stderr.split())
    assert proc.returncode == 130, stderr
    assert ("Interrupted. Stopped stage 'prep' once its outputs were restored from the "
            "run-cache (no command ran), whole, and not recorded in dvx.lock: out.") in said, said
    assert "as the command left them" not in said
    assert dvx("repro").code == 0
    assert (repo / "out" / "a").read_text() == "1\n"


def test_closing_the_terminal_stops_the_stage_command_as_sigterm_does(repo, dvx):
    """The terminal dvx runs on closes (a terminal window, an ssh connection): dvx stops the
    stage, which is not in the terminal's session, before it ends with status 129 (writing
    to the closed terminal fails, yet the stop stays clean); no output appears later, and
    the next command finds a clean stop, not one killed half-way."""
    write(repo / "dvx.yaml", """\
stages:
  train:
    cmd: echo $$ > started; sleep 3; echo late > model.bin
    outs: [model.bin]
""")
    pid, leader = pty.fork()  # dvx leads a session whose controlling terminal is the pty
    if pid == 0:
        os.chdir(repo)
        os.execv(sys.executable, [sys.executable, "-m", "dvx", "repro"])
    try:
        deadline = time.monotonic() + 60
        while not (repo / "started").exists() or not (repo / "started").read_text():
            assert time.monotonic() < deadline, "the stage never started"
            with contextlib.suppress(OSError):
                if select.select([leader], [], [], 0.02)[0]:
                    os.read(leader, 65536)
    finally:
        os.close(leader)  # the terminal hangs up: SIGHUP to dvx
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 129
    assert processes_in(repo) == []
    time.sleep(3.5)  # the stage would have written its output by now
    assert not (repo / "model.bin").exists()
    assert "stopped before it finished" not in dvx("status").stderr


FILL_IN_PLACE = """\
import os, sys, time
path, steps = sys.argv[1], int(sys.argv[2])
fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
os.ftruncate(fd, steps << 16)  # full size at once, then filled in place
for i in range(steps):
    time.sleep(0.05)
    os.pwrite(fd, bytes([i + 1]) * (1 << 16), i << 16)
"""


def background_writer_stage(repo: Path, steps: int) -> None:
    """A stage whose command ends while a job it started in the background still writes its
    output (the command ends once the writer has created the file, however long the writer
    takes to start)."""
    write(repo / "fill.py", FILL_IN_PLACE)
    write(repo / "dvx.yaml", f"stages:\n  gen:\n    cmd: {sys.executable} fill.py out.bin "
                             f"{steps} & until [ -e out.bin ]; do sleep 0.01; done\n"
                             "    deps: [fill.py]\n    outs: [out.bin]\n")


def filled(steps: int) -> bytes:
    return b"".join(bytes([i + 1]) * (1 << 16) for i in range(steps))


def test_a_stage_is_recorded_only_once_what_its_command_left_running_has_ended(repo, dvx):
    """With a linked cache the cached object is the output's own inode: were it cached while
    a background job still wrote, the object would stop matching its name."""
    assert dvx("config", "cache.type", "hardlink").code == 0
    background_writer_stage(repo, steps=8)  # ends within the grace

    result = dvx("repro")
    assert result.code == 0, result.output
    oid = read_lock(str(repo), "xxh128")["gen"].outs[0].oid
    assert oid == hash_bytes(filled(8), "xxh128"), "the whole output is recorded"
    obj = repo / ".dvx" / "cache" / "files" / "xxh128" / oid[:2] / oid[2:]
    time.sleep(0.2)
    assert hash_bytes(obj.read_bytes(), "xxh128") == oid
    assert processes_in(repo) == []


@pytest.mark.parametrize("jobs", ["1", "2"])  # with -j 2 the writer also holds the output pipe
def test_a_stage_whose_command_leaves_a_writer_running_fails_and_records_nothing(
        repo, dvx, monkeypatch, jobs):
    monkeypatch.setattr("dvx.pipeline.runner.LEFTOVER_GRACE", 0.3)
    assert dvx("config", "cache.type", "hardlink").code == 0
    background_writer_stage(repo, steps=100)  # would go on for 5 s

    result = dvx("repro", "-j", jobs)
    assert result.code == 1
    assert "Stage 'gen' failed: its command exited but left processes running" in \
        result.stderr
    assert "fill.py out.bin 100)" in result.stderr, "names the process left running"
    assert "`wait`" in result.stderr and "Traceback" not in result.output
    assert processes_in(repo) == [], "what the command left running is stopped"
    assert not (repo / "dvx.lock").exists()
    assert not list((repo / ".dvx" / "cache" / "files").rglob("*")), "nothing is cached"
    partial = (repo / "out.bin").read_bytes()
    time.sleep(0.2)
    assert (repo / "out.bin").read_bytes() == partial, "nothing writes the output any more"
