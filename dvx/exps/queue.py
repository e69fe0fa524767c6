"""The experiment queue: `dvx exp run --queue` records what to run; `dvx queue start -j N`
runs queued experiments N at a time, each in a temporary Git worktree of its own that shares
this repository's cache (and so its run-cache), then removes the worktree.

A queued experiment is a snapshot of the workspace as it was when queued (a commit under
refs/exps-queue/<name>, so uncommitted changes run too) plus the params to set. Its state, a
JSON file (docs/formats.md), and its log live in .dvx/tmp/queue/. A state file is read as
untrusted: one that does not validate is a DAMAGED entry, listed and removable, never run.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import math
import os
import re
import shlex
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from dvx import faults, fsutil
from dvx.errors import DvxError, Interrupted, UsageError
from dvx.experiment_refs import (
    QUEUE_REFS,
    check_name,
    check_new_name,
    experiments,
    git_of,
    git_reads,
    head,
    new_name,
    queued_snapshot,
    ref_of,
    refuse_unmerged,
    refuse_unreadable_files_to_record,
    snapshot_workspace,
)
from dvx.exps import overrides
from dvx.exps.inputs_not_held import refuse_inputs_git_holds_in_part, refuse_inputs_not_held
from dvx.exps.published import left_published, published_ref, unpublish
from dvx.exps.start_stopped import FETCHING, LAUNCHING, Readying, stopped_start
from dvx.exps.workspace_data import check_unread_data, commit_unread_data
from dvx.lock import wait_for_commands_left
from dvx.logs import get_logger, shell_join, shell_quote
from dvx.objects.statcache import StatCache
from dvx.outputs import Output, in_cache
from dvx.paths import overlaps
from dvx.pipeline.graph import load_dag
from dvx.pipeline.outputs_in_git import refuse_outputs_in_git
from dvx.pipeline.repro import commit_changed_inputs, read_by_stages
from dvx.pipeline.runner import end_group
from dvx.pipeline.spec import ParamsSet
from dvx.pipeline.unrecordable_inputs import RUN_QUEUED, Taking
from dvx.process_groups import RecordedGroup, boot_id, process_alive, process_started
from dvx.repo import DVX_DIR, Repo
from dvx.self_command import dvx_argv
from dvx.stop_signals import stops_held
from dvx.threads import MAX_JOBS
from dvx.wording import named_list

log = get_logger(__name__)

# Seconds the other processes of an ended run have to end before SIGKILL: a stopped `exp run`
# first stops its stage (runner.STOP_GRACE, then runner.KILL_WAIT) and then records its state.
END_GRACE = 15.0
QUEUED, RUNNING, DONE, FAILED, STOPPED = "queued", "running", "done", "failed", "stopped"
STATES = (QUEUED, RUNNING, DONE, FAILED, STOPPED)
# Not a state any file records: the entry's state file cannot be read as an entry (`_load`).
# It is listed (its error says why), never run or stopped, and `queue remove NAME` deletes it.
DAMAGED = "damaged"
MAX_STATE_BYTES = 1 << 20  # a state file dvx writes holds well under 1 KiB


@dataclass
class Entry:
    name: str
    baseline: str
    snapshot: str
    sets: list[str] = field(default_factory=list)
    state: str = QUEUED
    pid: int | None = None
    queued_at: float = 0.0
    finished_at: float | None = None
    error: str | None = None
    worktree: str | None = None  # where it runs, while it runs
    # what tells its runner (the process `pid`) from a process given the same id later: when
    # it started (clock ticks after boot) and the machine's boot id; None where /proc is not
    pid_started: int | None = None
    boot_id: str | None = None
    force: bool = False  # `exp run --queue -f`: the run forces every stage
    jobs: int = 1  # `exp run --queue -j N`: stages the run runs at once
    # The paths its stages read (read_by_stages of the snapshot's dvx.yaml, resolved with the
    # params its -S set): the data its run needs in the cache. None in an entry an older dvx
    # queued: all the data its snapshot tracks.
    reads: list[str] | None = None
    # The Git remote `queue start --dask` published its snapshot to (published.published_ref),
    # from before the push until the ref is deleted there; None: published nowhere.
    published_to: str | None = None

    def run_options(self) -> list[str]:
        """The options of `exp run` queued with it, that its run takes too."""
        return ["-f"] * self.force + (["-j", str(self.jobs)] if self.jobs != 1 else [])

    @property
    def queued_as(self) -> tuple[str, float]:
        """Which queuing of its name this entry is. Not the snapshot: the same name queued
        again from an unchanged workspace within a second has the very same snapshot commit
        (its -S values are kept beside it), yet it is another entry, to be run again."""
        return self.name, self.queued_at

    def run_by(self, pid: int | None) -> None:
        """Record the process group that runs the entry on this machine (None: none does),
        with what `_runner_alive` tells it by. Read at once: the process is this one's
        child, so its id is not given to another one before it is waited for."""
        self.pid = pid
        self.pid_started = None if pid is None else process_started(pid)
        self.boot_id = None if self.pid_started is None else boot_id()


def _dir(repo: Repo) -> str:
    return os.path.join(repo.tmp_dir, "queue")


def _path(repo: Repo, name: str) -> str:
    return os.path.join(_dir(repo), f"{name}.json")


def log_path(repo: Repo, name: str) -> str:
    return os.path.join(_dir(repo), f"{name}.log")


def read_log(repo: Repo, name: str) -> bytes:
    """The output of the run of queue entry `name` so far. A name the queue has no entry of
    is refused as such (as `queue remove` refuses it), one that has not started as that."""
    if name not in {e.name for e in entries(repo)}:
        raise UsageError(f"Nothing called {name} in the queue.", "See `dvx queue status`.")
    try:
        with open(log_path(repo, name), "rb") as f:
            return f.read()
    except FileNotFoundError:
        raise UsageError(f"No log for '{name}': it has not started.",
                         "See `dvx queue status`.") from None


def _save(repo: Repo, entry: Entry) -> None:
    os.makedirs(_dir(repo), exist_ok=True)
    fsutil.atomic_write(_path(repo, entry.name), json.dumps(asdict(entry)).encode())


def entries(repo: Repo) -> list[Entry]:
    """Every queued, running and finished entry, oldest first."""
    found = _recorded(repo)
    for entry in found:  # a runner that died (killed, machine restarted) leaves "running"
        if entry.state == RUNNING and entry.pid is not None and not _runner_alive(entry):
            _settle_orphan(repo, entry)
        elif entry.state == STOPPED and entry.pid is not None and _maker_gone(entry) \
                and not _runner_alive(entry):  # its `queue stop` was cut short
            _wait_for_stages_of(repo, entry)
            _clean_up_stopped(repo, entry)
    if any(e.state == RUNNING and e.pid is None for e in found):
        _requeue_abandoned_dask_runs(repo, found)
    _forget_lost_worktrees(repo, found)
    return found


def forget_lost_worktrees(repo: Repo) -> None:
    """Settle the runs whose runner died and make Git forget the worktrees `queue start` made
    whose folder is gone and whose run no longer runs, as every reading of the queue
    (`entries`) does: gc cannot tell what a worktree Git lists but cannot find uses."""
    entries(repo)


def _forget_lost_worktrees(repo: Repo, found: list[Entry]) -> None:
    """Those of the worktrees Git lists whose folder is gone (the temporary directory cleared
    by a restart, say) that a `queue start` no longer running made, no running entry naming
    them: nothing of the user's was ever there. One `git worktree lock`ed is left to its
    locker."""
    if repo.git is None:  # no Git repository: no worktree either
        return
    running = {os.path.realpath(e.worktree) for e in found
               if e.state == RUNNING and e.worktree is not None}
    for listed in repo.git.worktrees():
        made = _made_for(os.path.realpath(listed.path))
        if listed.prunable and not listed.locked and made is not None \
                and not process_alive(made[1]) \
                and os.path.realpath(listed.path) not in running:
            _forget_lost(repo, listed.path, made[0])


def _forget_lost(repo: Repo, worktree: str, name: str) -> None:
    """Make Git forget the queue's worktree whose folder is gone, saying so."""
    if _remove_worktree(repo, worktree):
        log.warning("Removed from Git's list of worktrees %s, which `dvx queue start` made to "
                    "run '%s': its folder is gone and its run no longer runs.", worktree, name)


# A `queue start --dask` holds this file's flock(2), shared, while its entries run on the
# cluster (they record no process of this machine): the kernel drops it when that command
# ends, however it ends.
DASK_CLIENTS = "dask.lock"
ABANDONED = "its `dvx queue start --dask` ended before its task on the Dask cluster reported " \
    "back; `dvx queue start --dask` records it as done if that task pushed its experiment " \
    "to the Git remote, else runs it again"


@contextlib.contextmanager
def dask_waiting(repo: Repo) -> Iterator[None]:
    """Held by `queue start --dask` from before it marks entries running on the cluster
    until it has recorded how each ended."""
    fd = _open_dask_clients(repo)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)


def _open_dask_clients(repo: Repo) -> int:
    os.makedirs(_dir(repo), exist_ok=True)
    return os.open(os.path.join(_dir(repo), DASK_CLIENTS),
                   os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)


def _runner_alive(entry: Entry) -> bool:
    """Is the process group the running entry names still its runner's? Its id alone does not
    say: once the runner died (the machine restarted, say), another process (a tmux session)
    may be given that id and lead a group of its own, which must never be signalled nor keep
    the entry running (`RecordedGroup.running`: for an entry an older dvx recorded without its
    leader's start time, a process of the group working in the entry's worktree tells)."""
    assert entry.pid is not None
    return RecordedGroup(entry.pid, entry.pid_started, entry.boot_id, entry.worktree).running()


def _requeue_abandoned_dask_runs(repo: Repo, found: list[Entry]) -> None:
    """Put back in the queue, with their snapshots, the entries running on a Dask cluster
    (no pid) once no `queue start --dask` waits for them any more (Ctrl-C, killed, its
    machine restarted): whether their tasks pushed their experiments, only the Git remote
    tells, and the next `queue start --dask` asks it (`cluster.start_on_dask`). Done while
    holding the lock exclusively, so no `queue start --dask` marks or settles an entry
    meanwhile."""
    fd = _open_dask_clients(repo)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:  # a `queue start --dask` waits for them
            return
        for entry in found:
            current = _load(repo, entry.name)  # as recorded now that none can change it
            if entry.state == RUNNING and entry.pid is None and current is not None \
                    and current.state == RUNNING and current.pid is None:
                entry.state, entry.error = QUEUED, ABANDONED
                _save(repo, entry)
    finally:
        os.close(fd)


def _recorded(repo: Repo) -> list[Entry]:
    """The entries as their files record them, oldest first (`entries` also settles those
    whose runner died; `start`, whose own runs may have just ended, must not)."""
    found = []
    try:
        names = sorted(os.listdir(_dir(repo)))
    except FileNotFoundError:
        return []
    for file in names:
        if file.endswith(".json"):
            entry = _load(repo, file.removesuffix(".json"))
            if entry is not None:  # None: removed since the listing
                found.append(entry)
    return sorted(found, key=lambda e: e.queued_at)


def warn_damaged(found: list[Entry]) -> None:
    """Say which entries are damaged: a command that runs or stops the queue leaves them."""
    for entry in found:
        if entry.state == DAMAGED:
            log.warning("Skipped the queue entry '%s': %s.", entry.name, entry.error)


@contextlib.contextmanager
def _changing(repo: Repo) -> Iterator[None]:
    """Held while an entry changes state, by one process at a time: `queue stop` and `queue
    remove` never change an entry between `queue start`'s last look at it and its launch.
    Held for moments only: never while a worktree is made or a run goes on (the kernel drops
    it if dvx dies)."""
    os.makedirs(_dir(repo), exist_ok=True)
    fd = os.open(os.path.join(_dir(repo), "lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC,
                 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def waiting(repo: Repo) -> dict[str, Entry]:
    """The entries queued or running, by name: experiments still to be recorded."""
    return {e.name: e for e in entries(repo) if e.state in (QUEUED, RUNNING)}


def _settle_orphan(repo: Repo, entry: Entry) -> None:
    """An entry whose runner died while its run went on or ended: done if the run recorded
    its experiment, else failed; its worktree and queue ref are removed either way."""
    if any(e.name == entry.name for e in experiments(repo, entry.baseline)):
        entry.state, entry.error = DONE, None
    else:
        entry.state, entry.error = FAILED, "its run ended without reporting"
    entry.finished_at = entry.finished_at or time.time()
    entry.run_by(None)
    _clean_up(repo, entry)
    _save(repo, entry)


def _clean_up(repo: Repo, entry: Entry) -> None:
    """Remove what an entry no longer needs once it is not queued: its worktree, its ref."""
    _remove_worktree_of(repo, entry)
    if _is_name(entry.name):  # a damaged entry's file name may not be one a ref can have
        git_of(repo).delete_ref(f"{QUEUE_REFS}/{entry.name}")


def _wait_for_stages_of(repo: Repo, entry: Entry) -> None:
    """A run killed while its stage ran (its `exp run` killed with SIGKILL) leaves that
    stage's process group to its guardian, which ends it within seconds: wait for it, as its
    checkpoint on SIGTERM must not find the worktree gone. One still running then (its
    guardian killed too) is named; the worktree goes all the same. The queue waits meanwhile
    (no other run starts or ends): seconds, and only after a run was killed."""
    if entry.worktree is None or not _registered(repo, entry.worktree):
        return
    left = wait_for_commands_left(os.path.join(entry.worktree, DVX_DIR, "tmp"))
    if left:
        log.warning("The run of '%s' ended, but %s, in its worktree %s, which is removed.",
                    entry.name, left, entry.worktree)


def _remove_worktree_of(repo: Repo, entry: Entry) -> None:
    """Remove the entry's worktree, if it is one a `queue start` made, as Git lists it: the
    entry's state file may name any folder (edited by hand, or damaged), and what else it
    names is left as it is, the entry failed."""
    if entry.worktree is not None:
        if not os.path.isdir(entry.worktree):  # its folder is gone: Git may list it still
            if _registered(repo, entry.worktree):
                _forget_lost(repo, entry.worktree, entry.name)
        elif not (_registered(repo, entry.worktree) and _remove_worktree(repo, entry.worktree)):
            log.warning("Left %s as it is: the queue entry '%s' names it as its worktree (in "
                        "%s), yet it is not one `dvx queue start` made.", entry.worktree,
                        entry.name, _path(repo, entry.name))
            entry.state, entry.error = FAILED, f"its state file named {entry.worktree} as its " \
                "worktree, which `dvx queue start` did not make: left as it is"
        entry.worktree = None


def enqueue(repo: Repo, sets: list[str], name: str | None = None, force: bool = False,
            jobs: int = 1) -> Entry:
    changes = [overrides.parse(text, repo.root) for text in sets]
    again = shell_join(queue_again(name, sets, force, jobs)[1:])  # which a refusal names
    repo.refuse_own_hash_setting()  # the snapshot records data, as the run will
    repo.read_lock()  # one exp run refuses (a link, bad YAML) is refused now
    overrides.check(repo, changes)  # now, not when it runs
    overrides.refuse_behind(repo, changes, again)
    baseline = head(repo)
    refuse_unmerged(repo)
    git_of(repo).require_identity("the queued experiment's snapshot")
    refuse_unreadable_files_to_record(repo)  # its snapshot records them, before data is committed
    known = {e.name: e for e in entries(repo)}
    taken = {e.name for e in experiments(repo, baseline)}
    if name is not None and check_new_name(repo, name) in taken:
        raise UsageError(f"An experiment called '{name}' of this baseline exists already.",
                         "Pick another -n, or `dvx exp remove` it first.")
    waits = {n for n, e in known.items() if e.state in (QUEUED, RUNNING)}
    if name is not None and name in waits:
        raise UsageError(f"A queued experiment called '{name}' is "
                         f"{'running' if known[name].state == RUNNING else 'waiting to run'}.",
                         "Pick another -n" + ("." if known[name].state == RUNNING else
                                              f", or `dvx queue remove {name}` it first."))
    if name is not None and name in known and known[name].state == DAMAGED:
        raise _damaged_name(known[name])
    name = name or new_name(taken | set(known))
    # What the run's stages read: dvx.yaml's `${}` resolved with the params its -S set (a path
    # naming one), checked and recorded as the run will read it.
    params_set = overrides.apply(repo, changes, write=False)
    refuse_inputs_not_held(repo, params_set)
    _refuse_outputs_in_git(repo, params_set)
    read = read_by_stages(repo, params_set=params_set)
    refuse_inputs_git_holds_in_part(repo, read)
    # before the inputs are committed, and as the queued run's -S will leave them
    check_unread_data(repo, read, "exp run --queue", again,
                      setting=[change.file for change in changes])
    # The snapshot must name the data the workspace has now.
    commit_changed_inputs(repo, Taking("exp run --queue", RUN_QUEUED, again), params_set)
    commit_unread_data(repo, read, "exp run --queue", again)
    git = git_of(repo)
    snapshot = snapshot_workspace(repo, baseline, f"dvx queued experiment {name}")
    # the run starts at the top of a worktree: each -S names its file from there
    rooted = [overrides.rooted(text, repo.root) for text in sets]
    entry = Entry(name, baseline, snapshot, rooted, queued_at=time.time(), force=force,
                  jobs=jobs, reads=read)
    with _changing(repo):
        current = _load(repo, name)  # another `exp run --queue -n` may have taken it since
        if current is not None and current.state in (QUEUED, RUNNING):
            raise UsageError(f"A queued experiment called '{name}' was queued meanwhile.",
                             "Pick another -n.")
        if current is not None and current.state == DAMAGED:
            raise _damaged_name(current)
        if current is not None:  # finished: it gives its name (and its log) to the new entry
            log.warning("The %s queue entry '%s' and its log are replaced by this one.",
                        current.state, name)
            _forget(repo, current)
        git.set_ref(f"{QUEUE_REFS}/{name}", snapshot)
        _save(repo, entry)
    if current is not None:
        unpublish_entries(repo, [current])
    overrides.warn_undeclared(repo, changes)  # once queued, nothing refusing it any longer
    return entry


def _refuse_outputs_in_git(repo: Repo, params_set: ParamsSet) -> None:
    """Refuse now the run the queued run's `repro` would refuse over a cached output Git's
    index holds (outputs_in_git): not left to fail when the queue starts it."""
    dag = load_dag(repo, params_set=params_set)
    if dag is not None:
        refuse_outputs_in_git(repo, dag, dag.stages, repo.read_lock(),
                              outcome="nothing was queued")


def queue_again(name: str | None, sets: list[str], force: bool, jobs: int) -> list[str]:
    """The `dvx exp run --queue` that queues a run again (from the workspace as it is now,
    which never held its params), its arguments as typed."""
    return ["dvx", "exp", "run", "--queue", *(["-n", name] if name else []),
            *[arg for text in sets for arg in ("-S", text)], *["-f"] * force,
            *(["-j", str(jobs)] if jobs != 1 else [])]


def _damaged_name(entry: Entry) -> UsageError:
    """A damaged entry keeps its name: what its file held (a run going on?) is not known."""
    return UsageError(f"The queue entry '{entry.name}' is damaged: {entry.error}.",
                      "Pick another -n, or remove it first.")


def start(repo: Repo, jobs: int = 1, say: Callable[[str], None] = lambda text: None
          ) -> list[Entry]:
    """Run the queued entries, `jobs` at a time, until none is left (those queued meanwhile
    too); the entries taken up. Each entry is looked at again right before it starts, so one
    that `queue stop` or `queue remove` dropped meanwhile never starts. An entry whose data
    cannot be fetched stays queued, for the next start. `say` hears when each starts and
    ends. Stopped by Ctrl-C, SIGTERM or SIGHUP, as when it is killed, the runs it started go
    on (each in a process group of its own), and an entry it was readying to run (fetching
    its data, making its worktree) stays queued: the Interrupted raised names both."""
    readying = Readying()
    try:
        return _start(repo, jobs, say, readying)
    except (KeyboardInterrupt, Interrupted) as stopped:  # Interrupted: a fetch's
        going_on = [e.name for e in _recorded(repo) if e.state == RUNNING
                    and e.worktree is not None
                    and _made_for(e.worktree) == (e.name, os.getpid())]
        current = _load(repo, readying.name) if readying.name is not None else None
        # one whose run was launched as the stop came goes on; one dropped meanwhile is gone
        queued = readying if current is not None and current.state == QUEUED else None
        if not going_on and queued is None:
            raise
        raise stopped_start(stopped, going_on, queued) from None


def _start(repo: Repo, jobs: int, say: Callable[[str], None], readying: Readying
           ) -> list[Entry]:
    found = entries(repo)  # settles the runs of a `queue start` that died (none of ours run yet)
    warn_damaged(found)
    if any(e.state == QUEUED for e in found):
        # each run records data here, with this user's config: refused before any starts,
        # so the entries stay queued, as `exp run` and `exp run --queue` refuse
        repo.refuse_own_hash_setting()
    _remove_unrecorded_worktrees(repo)
    running: dict[str, _Run] = {}
    done: list[Entry] = []
    taken_up: set[tuple[str, float]] = set()  # entries' queued_as: a name queued again is new
    while True:
        while len(running) < jobs:
            entry = next((e for e in _recorded(repo) if e.state == QUEUED
                          and e.queued_as not in taken_up), None)
            if entry is None:
                break
            taken_up.add(entry.queued_as)
            taken = name_taken(repo, entry)
            if taken:  # not run: it stays queued, its snapshot kept, for the next start
                kept = keep_queued(repo, entry.name, taken.why)
                if kept is not None:
                    say(f"'{entry.name}' not started: {taken.why} {taken.remedy}")
                    done.append(kept)
                continue
            readying.name, readying.step = entry.name, FETCHING
            unavailable = _fetch_missing_inputs(repo, entry)
            readying.step = LAUNCHING
            launched = None if unavailable else _launch_if_queued(repo, entry.name)
            readying.name = None
            if unavailable:  # as above
                kept = keep_queued(repo, entry.name, unavailable)
                if kept is not None:
                    say(f"'{entry.name}' not started: {unavailable} It stays queued: `dvx "
                        f"queue start` runs it once its data can be fetched (`dvx queue "
                        f"remove {entry.name}` drops it).")
                    done.append(kept)
                continue
            if launched is not None:
                running[entry.name] = launched
                say(f"Started '{entry.name}'.")
        if not running:
            return done
        time.sleep(0.2)
        for name, run in list(running.items()):
            # Whole: a stop meanwhile (held) takes effect once a run whose shell ended is
            # recorded, so that the stop never names it as going on. Half a minute at most:
            # what is left of its process group gets END_GRACE, then SIGKILL and KILL_WAIT;
            # stage commands a killed run left get STOPPED_COMMANDS_WAIT; then the record.
            with stops_held():
                if _ended(repo, run, say, done):
                    del running[name]


def _ended(repo: Repo, run: _Run, say: Callable[[str], None], done: list[Entry]) -> bool:
    """Record the run if its shell ended (False: it goes on): the worktree goes once
    nothing of the run can write there."""
    entry, proc, found_before = run
    code = proc.poll()
    if code is None:
        return False
    end_group(proc, END_GRACE)
    faults.point("queue.run_ended")
    _wait_for_stages_of(repo, entry)
    _record_run(repo, entry, code, found_before, say, done)
    return True


def _record_run(repo: Repo, entry: Entry, code: int, found_before: str | None,
                say: Callable[[str], None], done: list[Entry]) -> None:
    """Record how the entry's run here ended (its exit status `code`), its worktree and
    snapshot ref removed unless it stays queued, say so, and add it to `done`."""
    name = entry.name
    # Whole: a stop meanwhile (held) takes effect once the entry and its snapshot ref agree
    # and its end was said, so that the stop never names a run that ended as going on.
    with stops_held():
        taken = None
        with _changing(repo):
            current = _load(repo, name)
            if current is not None and current.state == STOPPED:
                entry.state, entry.error = STOPPED, "stopped by `dvx queue stop`"
            elif code == 0:
                entry.state = DONE
            elif _recorded_by_its_run(repo, entry, found_before):  # then an error
                entry.state, entry.error = DONE, f"its run exited with status {code} " \
                                                 f"(see `dvx queue logs {name}`)"
            elif taken := name_taken(repo, entry):  # since it started: kept, to run again
                entry.state, entry.error = QUEUED, taken.why
            else:
                entry.state, entry.error = FAILED, f"exit status {code} (see `dvx queue " \
                                                  f"logs {name}`)"
            entry.run_by(None)
            _remove_worktree_of(repo, entry)  # which may fail the entry
            if entry.state != QUEUED:
                entry.finished_at = time.time()
                _clean_up(repo, entry)
                faults.point("queue.run_cleaned_up")
            _save(repo, entry)
        if entry.state == QUEUED and taken is not None:
            say(f"'{name}' not recorded: {taken.why} {taken.remedy}")
        elif entry.state == DONE and entry.error is not None:
            say(f"'{name}' done, but {entry.error}.")
        else:
            say(f"'{name}' {entry.state}." if entry.state != FAILED
                else f"'{name}' failed: {entry.error}")
        done.append(entry)


@dataclass(frozen=True)
class NameTaken:
    """Why a queued entry's run cannot record its experiment under its name, and what
    frees the name; the entry stays queued with its snapshot meanwhile."""
    why: str
    remedy: str


def name_taken(repo: Repo, entry: Entry) -> NameTaken | None:
    """Why the entry's run could not record its experiment, if its name is taken since it
    was queued: by an experiment of its name and baseline (fetched with Git, say: the dvx
    commands that make or pull one leave a queued name alone), or by a branch or tag (or
    another revision) Git would read it as; None if it is free."""
    ref = ref_of(entry.baseline, entry.name)
    if any(e.ref == ref for e in experiments(repo, entry.baseline)):
        return NameTaken(f"an experiment of its name and baseline exists already ({ref}), so "
                         "its run could not record it.", once_free(entry))
    found = git_reads(repo, entry.name)
    if found is None:
        return None
    kind, what = found
    name, rest = entry.name, f"`dvx queue start` runs this one (`dvx queue remove " \
        f"{entry.name}` drops it)."
    if kind == "commit":
        return NameTaken(f"since it was queued, Git reads its name as a revision (the commit "
                         f"{what[:12]}), so an experiment of that name could not be told from "
                         "it.", f"It stays queued with its snapshot: rename or delete what "
                         f"Git reads as '{name}' (`git rev-parse --symbolic-full-name {name}` "
                         f"names a ref), and {rest}")
    rename = f"git branch -m {name} NEW-NAME" if kind == "branch" else \
        f"git tag NEW-NAME {name} && git tag -d {name}"
    return NameTaken(f"a {kind} of this repository took its name since it was queued ({what}), "
                     "so an experiment of that name could not be told from it.",
                     f"It stays queued with its snapshot: rename the {kind} (`{rename}`) or "
                     f"delete it, and {rest}")


def once_free(entry: Entry) -> str:
    """What to do about an entry kept queued because an experiment took its name."""
    ref = ref_of(entry.baseline, entry.name)
    return f"It stays queued with its snapshot: keep that experiment as a branch if you want " \
        f"it (`dvx exp branch {ref} BRANCH`), remove it (`dvx exp remove {ref}`), and `dvx " \
        f"queue start` runs this one (`dvx queue remove {entry.name}` drops it)."


def keep_queued(repo: Repo, name: str, unavailable: str) -> Entry | None:
    """Note on the entry `name`, if it is still queued, why it was not started; the entry
    (None: dropped meanwhile)."""
    with _changing(repo):
        entry = _load(repo, name)
        if entry is None or entry.state != QUEUED:
            return None
        entry.error = unavailable
        _save(repo, entry)
        return entry


# A run `queue start` launched: its entry, its process, and the commit the experiment of its
# name and baseline named at launch (None: none), which tells the experiment the run records.
_Run = tuple[Entry, subprocess.Popen[bytes], str | None]


def _experiment_commit(repo: Repo, entry: Entry) -> str | None:
    """The commit of the experiment of the entry's name and baseline; None if there is none."""
    ref = ref_of(entry.baseline, entry.name)
    return next((e.commit for e in experiments(repo, entry.baseline) if e.ref == ref), None)


def _recorded_by_its_run(repo: Repo, entry: Entry, found_before: str | None) -> bool:
    """Did the entry's run record its experiment, whatever it exited with (an error it gave
    after recording, say)? It did if the experiment of its name and baseline is a commit it
    did not name at launch (`found_before`) that ran from the entry's snapshot (its message
    says so): one another command made meanwhile took the run's name instead."""
    commit = _experiment_commit(repo, entry)
    if commit is None or commit == found_before:
        return False
    try:
        message = git_of(repo).run("show", "-s", "--format=%B", commit)
    except DvxError:
        return False
    return queued_snapshot(message.decode(errors="replace")) == entry.snapshot


def _launch_if_queued(repo: Repo, name: str) -> _Run | None:
    """Start the entry `name` if it is still the one queued, with its snapshot (`queue stop` and
    `queue remove` drop entries while `queue start` runs others); None if not."""
    entry = _load(repo, name)
    if entry is None or entry.state != QUEUED:
        return None
    worktree = _make_worktree(repo, entry)  # before the lock: it can take a while
    launched = False
    try:
        faults.point("queue.worktree_made")
        with _changing(repo):
            current = _load(repo, name)
            if current is None or current.state != QUEUED \
                    or current.queued_as != entry.queued_as \
                    or current.snapshot != entry.snapshot or not _snapshot_kept(repo, current):
                _remove_worktree(repo, worktree)
                return None
            entry = current
            entry.error = None
            found_before = _experiment_commit(repo, entry)
            # Whole: a run launched is recorded running, so a stop meanwhile names it as going
            # on and no later start runs it a second time.
            with stops_held():
                proc = _launch(repo, entry, worktree)
                launched = True
                entry.state, entry.worktree = RUNNING, worktree
                entry.run_by(proc.pid)
                _save(repo, entry)
            return entry, proc, found_before
    except BaseException:  # stopped before its run was launched: it stays queued, as it was
        if not launched:
            _remove_worktree(repo, worktree)
        raise


def mark_running_elsewhere(repo: Repo, entry: Entry) -> bool:
    """Mark the entry running with no process here (its task is on a Dask cluster), if it is
    still the one queued with its snapshot; False, changing nothing, if `queue stop` or
    `queue remove` dropped it meanwhile."""
    with _changing(repo):
        current = _load(repo, entry.name)
        if current is None or current.state != QUEUED or current.queued_as != entry.queued_as \
                or current.snapshot != entry.snapshot or not _snapshot_kept(repo, current):
            return False
        entry.state, entry.error = RUNNING, None
        entry.run_by(None)
        _save(repo, entry)
        return True


def record_outcome(repo: Repo, entry: Entry, state: str, error: str | None = None
                   ) -> Entry | None:
    """Record how the entry's run elsewhere (a Dask task) ended, if the entry is still the
    one queued or running: `state`, and its snapshot ref deleted unless it stays QUEUED. The
    entry as it is then (one `queue stop` stopped meanwhile stays stopped), or None if it
    was removed meanwhile."""
    with _changing(repo):
        current = _load(repo, entry.name)
        if current is None or current.queued_as != entry.queued_as:
            return None
        if current.state not in (QUEUED, RUNNING):
            return current
        current.state, current.error = state, error
        current.run_by(None)
        if state != QUEUED:
            current.finished_at = time.time()
            _clean_up(repo, current)
            faults.point("queue.outcome_cleaned_up")
        _save(repo, current)
        return current


def _snapshot_kept(repo: Repo, entry: Entry) -> bool:
    """Does the entry's queue ref still name its snapshot (removing the entry deletes it)?"""
    try:
        kept = git_of(repo).run("rev-parse", "--verify", "--quiet",
                                f"{QUEUE_REFS}/{entry.name}^{{commit}}")
    except DvxError:
        return False
    return kept.decode().strip() == entry.snapshot


def _fetch_missing_inputs(repo: Repo, entry: Entry) -> str | None:
    """Fetch into the cache what the entry's snapshot tracks and the cache lacks (a gc took
    it, the remote holding it); None if its inputs are all there now, else why not. Inputs
    are the data pointer files track that the stages read: no stage makes them again. What
    a stage's dvx.lock records is fetched whoever reads it (a final model included), so
    that its stage, up to date, is not run again; what cannot be fetched, the run makes
    again. Data of pointer files no stage reads is neither fetched nor needed: the run
    leaves it as its pointer names it, as `exp run` leaves data never pulled
    (workspace_data)."""
    from dvx.history import Scope, scope_targets
    from dvx.ops.sync import fetch

    targets, _ = scope_targets(repo, Scope(workspace=False, revs=(entry.snapshot,)))
    absent = [t for t in targets if _needed_by_its_run(entry, t.output)
              and not in_cache(repo, t.output)]
    if not absent:
        return None
    failure = None
    try:
        fetch(repo, absent)
    except Interrupted:
        raise
    except DvxError as exc:  # no remote, or one that cannot be reached
        failure = exc.message.rstrip(".")
    inputs = sorted(t.output.path for t in absent
                    if t.output.stage is None and not in_cache(repo, t.output))
    if not inputs:
        return None
    shown = named_list(inputs, most=5)
    if failure is not None:
        return f"the cache lacks the data of its input {shown}, and fetching it failed: " \
            f"{failure}."
    return f"neither the cache nor the remote has the data of its input {shown}."


def _needed_by_its_run(entry: Entry, output: Output) -> bool:
    """Whether the entry's run may use the tracked `output`: a stage's output (dvx.lock
    records it), or data a pointer file tracks that its stages read (or a part of it);
    every pointer file's of an entry that does not say what its stages read."""
    return output.stage is not None or entry.reads is None \
        or any(overlaps(output.path, read) for read in entry.reads)


def stop(repo: Repo) -> list[Entry]:
    """End the running experiments (their process groups) and drop the queued ones. A run
    whose `queue start` is gone (killed) has nobody else to clean up after it: once its
    processes have ended, its worktree and snapshot ref are removed here."""
    with _changing(repo):
        stopped = _stop(repo)
    for entry in stopped:
        if entry.pid is not None and _maker_gone(entry):
            _end_run_of(entry)
            _settle_stopped(repo, entry)
    return stopped


def _maker_gone(entry: Entry) -> bool:
    """Has the `queue start` that made the entry's worktree (its folder names its process)
    ended? False for a worktree it did not make: what that is, is not known."""
    made = _made_for(entry.worktree) if entry.worktree is not None else None
    return made is not None and not process_alive(made[1])


def _end_run_of(entry: Entry) -> None:
    """Wait for the entry's run (its process group, signalled to stop) to end: what is left
    of it after END_GRACE seconds gets SIGKILL."""
    assert entry.pid is not None
    group = RecordedGroup(entry.pid, entry.pid_started, entry.boot_id, entry.worktree)
    for signum in (None, signal.SIGKILL):
        if signum is not None and group.running():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(entry.pid, signum)
        deadline = time.monotonic() + END_GRACE
        while group.running() and time.monotonic() < deadline:
            time.sleep(0.05)


def _settle_stopped(repo: Repo, entry: Entry) -> None:
    """Clean up after a stopped entry whose run has ended and whose `queue start` is gone,
    as that `queue start` would have: once its stage commands have ended, its worktree and
    snapshot ref go. Only if it is still the entry stopped (not queued again since)."""
    _wait_for_stages_of(repo, entry)
    with _changing(repo):
        current = _load(repo, entry.name)
        if current is not None and current.queued_as == entry.queued_as \
                and current.state == STOPPED and current.worktree == entry.worktree:
            _clean_up_stopped(repo, current)


def _clean_up_stopped(repo: Repo, entry: Entry) -> None:
    """Record the stopped entry's run as over, its worktree and snapshot ref removed."""
    entry.error = entry.error or "stopped by `dvx queue stop`"
    entry.finished_at = entry.finished_at or time.time()
    entry.run_by(None)
    _clean_up(repo, entry)
    _save(repo, entry)


def _stop(repo: Repo) -> list[Entry]:
    stopped = []
    found = entries(repo)
    warn_damaged(found)
    for entry in found:
        if entry.state == RUNNING and entry.pid is not None:
            entry.state = STOPPED
            _save(repo, entry)
            with contextlib.suppress(ProcessLookupError):  # it just ended
                os.killpg(entry.pid, signal.SIGTERM)
            stopped.append(entry)
        elif entry.state == RUNNING:  # on a Dask cluster: its `queue start` cancels its task
            entry.state, entry.error = STOPPED, "stopped by `dvx queue stop`"
            _save(repo, entry)
            git_of(repo).delete_ref(f"{QUEUE_REFS}/{entry.name}")
            stopped.append(entry)
        elif entry.state == QUEUED:
            entry.state, entry.error = STOPPED, "removed from the queue by `dvx queue stop`"
            _save(repo, entry)
            git_of(repo).delete_ref(f"{QUEUE_REFS}/{entry.name}")
            stopped.append(entry)
    return stopped


def remove(repo: Repo, names: list[str], finished: bool = False) -> list[Entry]:
    """Forget queue entries: those named (queued or finished, not running), or with
    `finished` every one that is done, failed or stopped. Their logs go with them, and so do
    the snapshots a `queue start --dask` published for them (killed before it deleted
    them), or a warning names the command that deletes those."""
    with _changing(repo):
        removed = _remove(repo, names, finished)
    unpublish_entries(repo, removed)
    return removed


def mark_published(repo: Repo, published: list[Entry], git_remote: str | None) -> None:
    """Record on each entry (and in its state file, if it is still that entry) that its
    snapshot is published to `git_remote`, or with None that it was deleted where it was
    (an entry recorded as published nowhere is left as it is)."""
    with _changing(repo):
        for entry in published:
            if git_remote is None and entry.published_to is None:
                continue
            entry.published_to = git_remote
            current = _load(repo, entry.name)
            if current is not None and current.queued_as == entry.queued_as:
                current.published_to = git_remote
                _save(repo, current)


def unpublish_entries(repo: Repo, published: list[Entry]) -> None:
    """Delete from their Git remotes the snapshots published for the entries `published`
    (removed from the queue, say); warn of those that could not be deleted, naming the `git
    push --delete` that deletes them."""
    by_remote: dict[str, list[str]] = {}
    for entry in published:
        if entry.published_to is not None:
            by_remote.setdefault(entry.published_to, []).append(
                published_ref(entry.snapshot, entry.name))
    for git_remote, refs in by_remote.items():
        left = unpublish(repo, git_remote, refs)
        if left:
            log.warning("%s %s", *left_published(repo, git_remote, left))


def _remove(repo: Repo, names: list[str], finished: bool) -> list[Entry]:
    found = {e.name: e for e in entries(repo)}
    _remove_unrecorded_worktrees(repo)
    unknown = [n for n in names if n not in found]
    if unknown:
        raise UsageError(f"Nothing called {', '.join(unknown)} in the queue.",
                         "See `dvx queue status`.")
    chosen = [found[n] for n in names] + ([e for e in found.values() if e.state in (
        DONE, FAILED, STOPPED) and e.name not in names] if finished else [])
    running = [e.name for e in chosen if e.state == RUNNING]
    if running:
        raise UsageError(f"{', '.join(running)} is running.", "Stop it with `dvx queue stop`.")
    for entry in chosen:
        _forget(repo, entry)
    return chosen


def _forget(repo: Repo, entry: Entry) -> None:
    """Remove a finished, queued or damaged entry: its worktree, its ref, its state and its
    log."""
    _clean_up(repo, entry)
    for path in (_path(repo, entry.name), log_path(repo, entry.name)):
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        except OSError as exc:  # a damaged entry's "file" may be a folder
            raise DvxError(f"Could not remove {path}: {exc.strerror or exc}.",
                           "Remove it yourself.") from None


def load_entry(repo: Repo, name: str) -> Entry | None:
    """The entry `name` as its state file records it now (None: it has none)."""
    return _load(repo, name)


def _load(repo: Repo, name: str) -> Entry | None:
    """The entry `name` as its state file records it (None: it has none), or a DAMAGED entry
    saying why the file records none: a file anyone may have edited or cut short (a full
    disk) never stops the queue's other entries, nor makes dvx act on what it names. Only a
    small regular file is read (never a FIFO, device or symbolic link put there)."""
    path = _path(repo, name)
    try:
        data = fsutil.read_small_file(path, MAX_STATE_BYTES + 1, follow_links=False)
        if data is None:
            raise ValueError(f"it is larger than {MAX_STATE_BYTES} bytes")
        return _parse(name, data)
    except FileNotFoundError:
        return None
    except OSError as exc:
        why = "it is a symbolic link" if exc.errno == errno.ELOOP else exc.strerror or str(exc)
    except ValueError as exc:
        why = str(exc)
    return Entry(name, "", "", state=DAMAGED,
                 error=f"its state file {path} cannot be used: {why}; `dvx queue remove "
                       f"{shell_quote(name)}` deletes it")


def _parse(name: str, data: bytes) -> Entry:
    """The entry `name` that a state file's bytes record, or ValueError saying why they record
    none. Keys this version does not know are ignored (formats.md: a newer dvx's)."""
    from dvx.pipeline.params import load_json

    try:
        doc = load_json(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise ValueError("it is not UTF-8 text") from None
    except RecursionError:
        raise ValueError("it nests too deep") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"it is not JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise ValueError("it is not a JSON object")
    known = {f.name: doc[f.name] for f in fields(Entry) if f.name in doc}
    for key in ("name", "baseline", "snapshot"):
        if key not in known:
            raise ValueError(f"it has no {key!r}")
    for key, value in known.items():
        valid, what = _FIELDS[key]
        if not valid(value):
            raise ValueError(f"its {key!r} is not {what}")
    if known["name"] != name:
        raise ValueError(f"it names another entry, {known['name']!r}")
    return Entry(**known)


def _is_name(value: Any) -> bool:
    try:
        check_name(value)
    except DvxError:
        return False
    return True


def _is_time(value: Any) -> bool:
    return type(value) in (int, float) and math.isfinite(value)


_OID = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")  # SHA-1 or SHA-256 Git commit ids
# Every field of Entry: what a state file must hold there, and the words an error says it with.
# Each value goes on to paths, refs, command lines and signals, hence no NUL, no '/' in a name.
_FIELDS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "name": (lambda v: isinstance(v, str) and _is_name(v), "an experiment name"),
    "baseline": (lambda v: isinstance(v, str) and _OID.fullmatch(v) is not None, "a commit id"),
    "snapshot": (lambda v: isinstance(v, str) and _OID.fullmatch(v) is not None, "a commit id"),
    "sets": (lambda v: isinstance(v, list)
             and all(isinstance(s, str) and "\0" not in s for s in v), "a list of texts"),
    "state": (lambda v: isinstance(v, str) and v in STATES, f"one of {', '.join(STATES)}"),
    "pid": (lambda v: v is None or (type(v) is int and 1 < v < 1 << 31), "a process id"),
    "queued_at": (_is_time, "a time"),
    "finished_at": (lambda v: v is None or _is_time(v), "a time"),
    "error": (lambda v: v is None or isinstance(v, str), "a text"),
    "worktree": (lambda v: v is None or (isinstance(v, str) and "\0" not in v
                                         and os.path.isabs(v)), "an absolute path"),
    "pid_started": (lambda v: v is None or (type(v) is int and 0 <= v < 1 << 63),
                    "a number of clock ticks"),
    "boot_id": (lambda v: v is None or (isinstance(v, str) and len(v) <= 100), "a boot id"),
    "force": (lambda v: isinstance(v, bool), "true or false"),
    "jobs": (lambda v: type(v) is int and 1 <= v <= MAX_JOBS, "a number of jobs"),
    "reads": (lambda v: v is None or (isinstance(v, list)
                                      and all(isinstance(p, str) and "\0" not in p for p in v)),
              "a list of paths"),
    "published_to": (lambda v: v is None or (isinstance(v, str) and 0 < len(v) <= 1000
                                             and "\0" not in v and not v.startswith("-")),
                     "a Git remote's name"),
}


# A worktree is made at FOLDER/worktree, FOLDER a new folder of the system's temporary
# directory that only its owner can enter (mkdtemp makes it 0700): the worktree holds a copy of
# config.local, which may hold credentials, and /tmp is shared. FOLDER's name holds the entry's
# name and the id of the process that made it: a `queue start` killed before it recorded the
# worktree in the entry leaves it to the next one to remove (`_remove_unrecorded_worktrees`).
WORKTREE = "worktree"
_FOLDER = re.compile(r"dvx-exp-(.+)-([0-9]+)-[a-z0-9_]{8}")  # mkdtemp adds 8 such characters


def _make_worktree(repo: Repo, entry: Entry) -> str:
    """A worktree of the entry's snapshot whose dvx cache is this repository's."""
    folder = tempfile.mkdtemp(prefix=f"dvx-exp-{entry.name}-{os.getpid()}-")
    worktree = os.path.join(folder, WORKTREE)
    try:
        git_of(repo).run("worktree", "add", "--detach", "--quiet", worktree, entry.snapshot)
        _copy_local_config(repo, worktree)
        # What is known of the shared cache's objects: the run's checkout trusts them unread.
        repo.statcache.share_object_records(
            StatCache(os.path.join(worktree, DVX_DIR, "tmp", "statcache.db"), repo.algo))
    except BaseException:
        _remove_worktree(repo, worktree)
        raise
    return worktree


def _copy_local_config(repo: Repo, worktree: str) -> None:
    """The user's own settings (credentials) apply in the worktree too, and its cache is this
    repository's. The copy is created readable by its owner alone, whatever the original's
    permissions."""
    from dvx.config import ConfigFile

    config = ConfigFile.load(os.path.join(repo.dvx_dir, "config.local"))
    config.path = os.path.join(worktree, ".dvx", "config.local")
    config.set("cache", "dir", repo.cache_dir)
    config.save(mode=0o600)


def _launch(repo: Repo, entry: Entry, worktree: str) -> subprocess.Popen[bytes]:
    """`dvx checkout` (the inputs, from the shared cache) then `dvx exp run` in the worktree,
    in a process group of its own (so `queue stop` ends all of it), output to the log."""
    dvx = dvx_argv()
    run = [*dvx, "exp", "run", "-n", entry.name, "--baseline", entry.baseline,
           *entry.run_options()]
    for text in entry.sets:
        run += ["-S", text]
    # shlex, not list2cmdline (Windows' quoting): sh must pass each -S value on as written,
    # never expand a $ or run a `...` in it
    script = f"{shlex.join([*dvx, 'checkout', '-q'])} ; {shlex.join(run)}"  # noqa: TID251
    log = open(log_path(repo, entry.name), "wb")  # noqa: SIM115 - the child owns it
    try:
        return subprocess.Popen(["/bin/sh", "-c", script], cwd=worktree, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    finally:
        log.close()


def _remove_worktree(repo: Repo, worktree: str) -> bool:
    """Remove a worktree `_make_worktree` made, and the private folder around it; False,
    removing nothing, if `worktree` is not in such a folder (`_in_queue_folder`)."""
    if not _in_queue_folder(repo, worktree):
        return False
    try:
        git_of(repo).run("worktree", "remove", "--force", worktree)
    except DvxError:
        import shutil

        shutil.rmtree(worktree, ignore_errors=True)
        git_of(repo).run("worktree", "prune")
    with contextlib.suppress(OSError):
        os.rmdir(os.path.dirname(worktree))
    return True


def _in_queue_folder(repo: Repo, worktree: str) -> bool:
    """Is `worktree`, symbolic links resolved, FOLDER/worktree with FOLDER a folder of the
    form `_make_worktree` makes right in the temporary directory, and neither this repository
    nor a folder holding it? Nothing else is ever removed as a queued run's worktree."""
    real = os.path.realpath(worktree)
    root = os.path.realpath(repo.root)
    return _made_for(real) is not None \
        and os.path.dirname(os.path.dirname(real)) == os.path.realpath(tempfile.gettempdir()) \
        and root != real and not root.startswith(real + os.sep)


def _registered(repo: Repo, worktree: str) -> bool:
    """Does Git list `worktree` among the Git repository's linked worktrees?"""
    real = os.path.realpath(worktree)
    return any(os.path.realpath(path) == real for path, _ in _worktrees(repo)[1:])


def _made_for(worktree: str) -> tuple[str, int] | None:
    """The entry's name and the id of the process that made `worktree`, if `_make_worktree`
    made it; else None."""
    found = _FOLDER.fullmatch(os.path.basename(os.path.dirname(worktree)))
    if found is None or os.path.basename(worktree) != WORKTREE:
        return None
    return found.group(1), int(found.group(2))


def _remove_unrecorded_worktrees(repo: Repo) -> None:
    """Remove the worktrees (and their copy of config.local) that a `queue start` killed
    between making one and recording it in its entry left behind: those of this queue's
    entries (their name and snapshot; the worktrees of a Git repository's other worktrees'
    queues are theirs) that no running entry names and whose maker is gone."""
    recorded = _recorded(repo)
    snapshots = {(e.name, e.snapshot) for e in recorded}
    running = {os.path.realpath(e.worktree) for e in recorded
               if e.state == RUNNING and e.worktree is not None}
    for worktree, commit in _worktrees(repo):
        made = _made_for(worktree)
        if made is not None and (made[0], commit) in snapshots and not process_alive(made[1]) \
                and os.path.realpath(worktree) not in running:
            _remove_worktree(repo, worktree)


def _worktrees(repo: Repo) -> list[tuple[str, str]]:
    """The Git repository's worktrees: (path, the commit checked out), the main one first."""
    found = []
    listed = git_of(repo).run("worktree", "list", "--porcelain").decode()
    for block in listed.split("\n\n"):
        fields = dict(line.partition(" ")[::2] for line in block.splitlines())
        if "worktree" in fields:
            found.append((fields["worktree"], fields.get("HEAD", "")))
    return found

