"""One writer per repository: an advisory flock(2) on .dvx/tmp/lock.

The kernel drops a flock when its process dies, however it dies, so a crashed dvx can never
leave the repository wedged. Plain fcntl.flock rather than a locking library: this is taken by
every command that writes, and importing filelock (logging, inspect, typing) cost 40 ms of
each such command's start. The holder writes its pid, host and command beside the lock, so
a waiting process can say whom it is waiting for.

The holder's record outlives a holder that was killed (it is removed on release). The next
command that takes the lock keeps it aside (lock.stopped, with those of the commands stopped
before it, the last STOPPED_KEPT distinct ones; a holder stopped by Ctrl-C, SIGTERM or
SIGHUP while it changed tracked paths, or ended by an error once it began writing them
(`began_writing`), keeps its own there as it stops: each file it wrote is whole, but what it
changed may be half-done where nothing else shows it, as a killed one's)
until a command that ends without an error finishes what it left half-done: that command run
again (the same subcommand on the same targets, however written: `dvx add -q data/` after
`dvx add data`; the CLI says what is the same, `Command`; or the very same command line; a
Git hook: any run of that hook), or one whose `Work` covers its own (a checkout of the whole
workspace after a stopped `checkout data`, or after a stopped hook that checks out, which
the notice names as the command to run, or after a stopped `exp apply`, whose outputs it
places as dvx.lock then says; an `add a.txt` after a stopped `remove a.txt.dvx`, which
running that remove again would undo). Until then every command that takes the lock, and
`dvx status`, say which commands were stopped before they finished (an `add` killed between
its .gitignore entry and its pointer leaves a file Git ignores and dvx does not track, which
nothing else would show; a second command killed must not make the first forgotten). A
record from another host (a repository copied while a command ran there) is named with its
host: from here, dvx cannot tell whether it finished. A holder that only writes files whole
while it holds the lock (`dvx status` recording what is in sync) says so in its record
(NOTHING_HALF_DONE): killed, it left nothing half-done, and is never named. The holder notes
in its record the process groups of the commands it runs (a stage's, `note_running`): should
one still run once the holder was killed, the next command that takes the lock waits for it
(its guardian, which the record names too, ends it within seconds), and refuses to go on
while it still runs (its guardian killed too, say), naming it: it may still be writing the
workspace.

The lock is reentrant within one process: a command that holds it (like `repro`) can call
operations that take it themselves (checkout, pull). Only the outermost holder locks the file.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from types import TracebackType

from dvx import faults, fsutil
from dvx.errors import (
    Interrupted,
    LockedPlaceGone,
    LockError,
    interruption,
    note_left_half_done,
    stop_within,
)
from dvx.logs import get_logger
from dvx.process_groups import RecordedGroup, process_alive

log = get_logger(__name__)

_held_guard = threading.Lock()
_held: dict[str, int] = {}  # lock path -> how many times this process holds it
_held_fds: set[int] = set()  # the descriptors holding this process's flocks
_failed_within: set[str] = set()  # lock paths an operation held inside the command failed in
_writing: set[str] = set()  # lock paths whose holder began writing tracked paths (began_writing)
POLL_SECONDS = 0.05  # between attempts while waiting for another process's lock
NEW_HOLDER_SECONDS = 0.5  # for a command that has just taken the lock to record itself
# A killed holder's guardian ends the commands it ran within runner.STOP_GRACE (3) seconds;
# the next command waits that long and more for them before it refuses to go on.
STOPPED_COMMANDS_WAIT = 10.0


HOLDER_FILE = "lock.holder"
STOPPED_FILE = "lock.stopped"  # the holder records of commands killed before they finished
STOPPED_KEPT = 8  # distinct stopped commands named at most, the latest ones
EARLIER = "earlier"  # lock.stopped's key for the records before its own (see _write_stopped)
GROUPS = "groups"  # a holder record's key for the process groups of the commands it runs
MAX_GROUPS = 64  # of a record's groups, those looked at: a bound on what a damaged one costs
# A holder record's key, true when all it writes is written whole (_left_nothing_half_done)
NOTHING_HALF_DONE = "nothing_half_done"
REDO = "redo"  # a holder record's key for Command.redo
# A kept record's key, true when an error ended its command once it began writing (rather
# than a kill or a signal): its notice says so
ENDED_BY_ERROR = "ended_by_error"


WORKSPACE = "workspace"  # Work.state of checkout and pull (with the options that change it)
TRACKING = "tracking"  # Work.state of add, remove, commit and move
PIPELINE = "pipeline"  # Work.state of repro and exp run: `paths` are the stages they run
EXPERIMENT = "experiment"  # Work.state of exp apply: the workspace made one experiment
SAVE = "save"  # Work.state of exp save: the workspace's data recorded, then as an experiment
# A holder record's work's key, true for a command that ends by recording an experiment
RECORDS_EXPERIMENT = "records_experiment"


@dataclass(frozen=True)
class Work:
    """What a command changes, by which one that ends without an error finishes what another,
    stopped, left half-done (`covers`): the `state` it brings its paths to (WORKSPACE: the
    workspace's files matching their pointers, with the options that change how, such as
    `--relink`; TRACKING: each path tracked or not, with its pointer and .gitignore entry
    agreeing; PIPELINE: stages up to date; EXPERIMENT: the workspace's files and outputs
    all one experiment's, which a checkout of every path settles too: its outputs are then
    placed as dvx.lock says, and the files Git tracks are the user's to see to), and those
    `paths` (absolute, a pointer file
    named by its data; for PIPELINE, stage names; None: every tracked path, or every stage).
    `settles`: run to its end, it leaves those paths in that state whatever a
    stopped command left them in (a move moves only what is tracked: it settles nothing).
    `names_everything`: for paths given, whether they hold every tracked path (asked only
    when a stopped command worked on every one). `records_workspace`: it ends by recording
    the whole workspace as an experiment, its data and every stage's outputs committed, as
    an `exp save` does (an `exp run` of every stage in the workspace, no stage's outputs
    changed by hand when it began): it finishes a stopped save too. `records_experiment`:
    it ends by recording an experiment (`exp run`), so, killed, it may have recorded it
    already, and run again it would record it twice: its notice says to look first."""
    state: str
    paths: tuple[str, ...] | None
    settles: bool = True
    names_everything: Callable[[], bool] | None = None
    records_workspace: bool = False
    records_experiment: bool = False

    def covers(self, stopped: Work) -> bool:
        """Does this work, done, leave what the stopped one was changing as it would have
        left it: the same state, on the same paths or paths that hold them?"""
        if self.settles and self.records_workspace and stopped.state == SAVE:
            return True
        if not self.settles or not _state_covers(self.state, stopped.state):
            return False
        if self.paths is None:
            return True
        if stopped.paths is None:
            return self.names_everything is not None and self.names_everything()
        return all(any(path == mine or path.startswith(mine.rstrip(os.sep) + os.sep)
                       for mine in self.paths) for path in stopped.paths)

    @property
    def on_tracked_paths(self) -> bool:
        """Does it change tracked paths (their pointers and .gitignore entries, or their files
        in the workspace), where what it leaves half-done may show nowhere else (a file Git
        ignores that dvx does not track; a save's dvx.lock written, its experiment not
        recorded)? A pipeline's run leaves its stages stale, which their status shows."""
        return self.state in (TRACKING, EXPERIMENT, SAVE) or self.state.startswith(WORKSPACE)

    def as_record(self) -> dict[str, object]:
        record: dict[str, object] = {
            "state": self.state, "paths": None if self.paths is None else list(self.paths)}
        if self.records_experiment:
            record[RECORDS_EXPERIMENT] = True
        return record


def _state_covers(mine: str, stopped: str) -> bool:
    """Does bringing paths to the state `mine` leave them as bringing them to `stopped`
    would: the same state, or the workspace's with the same options or more (a checkout
    with --force places every file a plain one places, and replaces the changes that one
    keeps), or the workspace's after an experiment's?"""
    if mine == stopped or (stopped == EXPERIMENT and mine.startswith(WORKSPACE)):
        return True
    mine_words, stopped_words = mine.split(), stopped.split()
    return mine_words[:1] == stopped_words[:1] == [WORKSPACE] and \
        set(stopped_words[1:]) <= set(mine_words[1:])


def _work_of(record: dict[str, object]) -> Work | None:
    """The work a holder record names (None: it names none, or an older dvx wrote it)."""
    work = record.get("work")
    if not isinstance(work, dict) or not isinstance(work.get("state"), str):
        return None
    paths, experiment = work.get("paths"), work.get(RECORDS_EXPERIMENT) is True
    if paths is None:
        return Work(work["state"], None, records_experiment=experiment)
    if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
        return None
    return Work(work["state"], tuple(paths), records_experiment=experiment)


@dataclass(frozen=True)
class Command:
    """The command holding the lock: as its record shows it (`shown`, its command line),
    what another run must have to be the same command (`same_as`), which finishes what this
    one left half-done if it was stopped, and the `work` it does, by which a run of another
    command can finish it too, or it another."""
    shown: str
    same_as: str
    work: Work | None = None
    # The command a user runs to do this work again, when that is not this one run again
    # (a Git hook's: `dvx checkout`); recorded, for the notice of it stopped to name.
    redo: str | None = None


def this_command() -> Command:
    """This process's command, the same as another only with the same command line (a Git
    hook: any run of that hook); the CLI knows better (`Repo.command`)."""
    shown = " ".join(["dvx", *sys.argv[1:]])[:200]
    return Command(shown, _same_command(shown))


def _let_go_in_child() -> None:
    """A forked child (a worker of dvx/processes.py) shares its parent's flock through the
    descriptor it inherits: it closes it, so that once the parent has ended nothing holds the
    repository locked in its name (the parent's own descriptor keeps the lock while it runs).
    The child holds no lock."""
    for fd in _held_fds:
        with contextlib.suppress(OSError):
            os.close(fd)
    _held_fds.clear()
    _held.clear()
    _writing.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_let_go_in_child)


def _holder_record(path: str) -> dict[str, object] | None:
    """The record in `path`; None if there is none dvx can read, damaged however it is (JSON
    nested too deep to read, a value of another type): a notice is never worth an error."""
    try:
        with open(path, encoding="utf-8") as f:
            info = json.load(f)
    except (OSError, ValueError, RecursionError):
        return None
    return info if _is_record(info) else None


def _is_record(info: object) -> bool:
    """A holder record as dvx writes one: an object naming a pid, a host and a command."""
    return (isinstance(info, dict) and "pid" in info and isinstance(info.get("host"), str)
            and isinstance(info.get("command"), str))


def _has_ended(info: dict[str, object]) -> bool:
    """Is the process a holder record names known to be gone (on this host, no such pid)?
    Another host's cannot be checked from here."""
    pid = info["pid"]
    if info["host"] != os.uname().nodename or not isinstance(pid, int) or pid <= 0 \
            or pid == os.getpid():
        return False
    try:
        return not process_alive(pid)
    except OSError:  # a pid the system refuses to ask of: not known to be gone
        return False


def _left_nothing_half_done(info: dict[str, object]) -> bool:
    """Does the holder record `info` name a command that, killed, left nothing half-done: one
    that only wrote files whole while it held the lock (NOTHING_HALF_DONE)? So is any `dvx
    status` (first word of its command line that is no option): an older dvx's status,
    which held the lock for nothing else either, wrote no such key."""
    words = [word for word in str(info["command"]).split()[1:] if not word.startswith("-")]
    return info.get(NOTHING_HALF_DONE) is True or words[:1] == ["status"]


def _stopped_records(path: str) -> list[dict[str, object]]:
    """The records lock.stopped keeps, the latest first: its own (the one record an older
    dvx wrote and reads) and those under EARLIER; none of a command that left nothing
    half-done."""
    latest = _holder_record(path)
    if latest is None:
        return []
    earlier = latest.pop(EARLIER, [])
    if not isinstance(earlier, list):
        earlier = []
    return [info for info in (latest, *earlier)
            if _is_record(info) and not _left_nothing_half_done(info)]


def _write_stopped(path: str, records: list[dict[str, object]]) -> None:
    """Keep `records` (the latest first) in lock.stopped: the latest as the file's own record,
    which is all an older dvx reads, the others under EARLIER. None: no file."""
    if not records:
        fsutil.remove_quietly(path)
        return
    latest = {**records[0], EARLIER: records[1:]} if len(records) > 1 else records[0]
    fsutil.atomic_write(path, json.dumps(latest).encode(), fsync=False)


def _same_run(one: dict[str, object], other: dict[str, object]) -> bool:
    """Do the records `one` and `other` name the same command (a run of one finishes the
    other)?"""
    if "same_as" in one and "same_as" in other:
        return one["same_as"] == other["same_as"]
    return _same_command(str(one["command"])) == _same_command(str(other["command"]))


def _kept_with(died: dict[str, object], stopped: list[dict[str, object]]
               ) -> list[dict[str, object]]:
    """The records lock.stopped keeps once the holder that died is kept aside, the latest
    first: its own, then the others stopped before (a run of the same command replaces its
    older record), STOPPED_KEPT in all."""
    return [died, *(each for each in stopped if not _same_run(each, died))][:STOPPED_KEPT]


def began_writing(tmp_dir: str) -> None:
    """The command holding the lock of the repository whose temporary directory is `tmp_dir`
    has begun writing the tracked paths of its work (placed a file, written a pointer or an
    experiment's params): ended by an error from now on, it may leave that work half-done,
    and is named as a stopped one is (`RepoLock.release`). Before, an error (a refusal)
    left everything as it was."""
    path = os.path.join(tmp_dir, "lock")
    with _held_guard:
        if _held.get(path):
            _writing.add(path)


def wrote_whole(tmp_dir: str) -> None:
    """What the command holding the lock of the repository whose temporary directory is
    `tmp_dir` wrote since `began_writing` is whole (each target it began to record recorded,
    or taken back): ended by an error now (a refusal of the rest of its work), it leaves
    nothing half-done, as before it began writing."""
    path = os.path.join(tmp_dir, "lock")
    with _held_guard:
        _writing.discard(path)


def note_running(tmp_dir: str, groups: tuple[RecordedGroup, ...]) -> None:
    """Note in the holder record of the lock this process holds, in the repository whose
    temporary directory is `tmp_dir`, the process groups of the commands it runs now: what
    the next command names if this one is killed while they run (`stopped_message`). Best
    effort, as the record itself is."""
    path = os.path.join(tmp_dir, HOLDER_FILE)
    info = _holder_record(path)
    if info is None or info["pid"] != os.getpid():
        return
    info[GROUPS] = [group.as_record() for group in groups]
    try:
        fsutil.atomic_write(path, json.dumps(info).encode(), fsync=False)
    except OSError as exc:
        log.debug("running commands not recorded: %s", exc)


NOTE_DELAY = 0.5  # seconds a new process group waits at most to be noted in the record


class RunningNotes:
    """note_running of the groups running: the first at once, for it names the run's
    guardian, then at most once every NOTE_DELAY seconds: a record rewritten per stage
    costs a rename each (milliseconds on some filesystems), and only a command that outlives
    a killed dvx and its guardian needs naming, which one that ran for less than that seldom
    does. `close` before the lock is released: no note is written after."""

    def __init__(self, tmp_dir: str) -> None:
        self.tmp_dir = tmp_dir
        self._latest: tuple[RecordedGroup, ...] = ()
        self._timer: threading.Timer | None = None
        self._guard = threading.Lock()
        self._closed = False
        self._noted = False

    def __call__(self, groups: tuple[RecordedGroup, ...]) -> None:
        with self._guard:
            self._latest = groups
            if not self._noted and not self._closed:
                # The first at once: it names the guardian (dvx/guardian.py), which outlives
                # every command of the run, so the next command knows to wait for them.
                self._noted = True
                note_running(self.tmp_dir, groups)
            elif self._timer is None and not self._closed:
                self._timer = threading.Timer(NOTE_DELAY, self._write)
                self._timer.daemon = True
                self._timer.start()

    def _write(self) -> None:
        with self._guard:  # so `close` waits for a note being written
            self._timer = None
            if not self._closed:
                note_running(self.tmp_dir, self._latest)

    def close(self) -> None:
        with self._guard:
            self._closed = True
            if self._timer is not None:
                self._timer.cancel()


@dataclass(frozen=True)
class StoppedCommand:
    """A command that held the repository lock and was stopped before it released it, as
    its record (kept in .dvx/tmp/`record`) names it: what `dvx status` reports."""
    command: str
    pid: object  # as the record holds it: an int, unless a damaged record says otherwise
    host: str
    record: str  # HOLDER_FILE or STOPPED_FILE
    work: Work | None
    notice: str  # what it may have left half-done, and what to do (stopped_message)
    redo: str | None = None  # the command that does its work again, if not itself (Command)
    by_error: bool = False  # an error ended it (ENDED_BY_ERROR), not a kill or a signal

    @property
    def named(self) -> str:
        """The command as a notice names it: its command line, and for a Git hook's, which
        hook it is."""
        return _named(self.command)


def _stopped_command(info: dict[str, object], file: str) -> StoppedCommand:
    return StoppedCommand(str(info["command"]), info["pid"], str(info["host"]), file,
                          _work_of(info), stopped_message(info, file), _redo_of(info),
                          _ended_by_error(info))


def _ended_by_error(info: dict[str, object]) -> bool:
    """Did an error end the command of the holder record `info` (ENDED_BY_ERROR)?"""
    return info.get(ENDED_BY_ERROR) is True


def _redo_of(info: dict[str, object]) -> str | None:
    """The command the holder record `info` says does its work again, if not itself."""
    redo = info.get(REDO)
    return redo if isinstance(redo, str) else None


def stopped_commands(tmp_dir: str) -> list[StoppedCommand]:
    """The commands that held the lock of the repository whose temporary directory is
    `tmp_dir` and were stopped before they released it, not run again since, the latest
    first: for a reader that takes no lock (`dvx status`). A holder that died is named with
    what the next writer keeps (_kept_with), so status names no command that writer forgets."""
    kept = _stopped_records(os.path.join(tmp_dir, STOPPED_FILE))
    info = _holder_record(os.path.join(tmp_dir, HOLDER_FILE))
    if info is None or not _has_ended(info) or _left_nothing_half_done(info):
        return [_stopped_command(each, STOPPED_FILE) for each in kept]
    died, *earlier = _kept_with(info, kept)  # the latest, not yet kept aside
    return [_stopped_command(died, HOLDER_FILE),
            *(_stopped_command(each, STOPPED_FILE) for each in earlier)]


class RepoLock:
    def __init__(self, tmp_dir: str, wait_seconds: float,
                 on_acquire: Callable[[], None] | None = None,
                 command: Command | None = None, only_whole_writes: bool = False,
                 place: str | None = None) -> None:
        """`on_acquire`: called once this process has taken the lock (not when it already
        held it), to drop what was read of the repository's state before. `command`: the
        command taking it (default: `this_command()`). `only_whole_writes`: all it writes
        while it holds the lock is written whole (atomically), so killed it leaves nothing
        half-done, and is never named as stopped. `place`: the lock is another repository's
        ("the worktree X"), taken by a command that changes none of its files (gc, keeping
        what it uses): the messages of waiting for it name it, and the commands stopped
        there, which that repository's own commands name, are not; its folder is never made
        here, and should it go before the lock is taken, LockedPlaceGone says so."""
        self.command = command or this_command()
        self.only_whole_writes = only_whole_writes
        self.place = place
        if place is None:
            os.makedirs(tmp_dir, exist_ok=True)
        self.path = os.path.join(tmp_dir, "lock")
        self.holder_path = os.path.join(tmp_dir, HOLDER_FILE)
        self.stopped_path = os.path.join(tmp_dir, STOPPED_FILE)
        self.wait_seconds = wait_seconds
        self.on_acquire = on_acquire
        self._fd: int | None = None
        self._nested = False
        self._failed = False

    def holder(self) -> str:
        """Who holds the lock, as its record says. A record naming a process that has ended
        is the last holder's, killed, while a command that has just taken the lock has yet
        to write its own: that one is waited for, briefly."""
        info = _holder_record(self.holder_path)
        deadline = time.monotonic() + NEW_HOLDER_SECONDS
        while info is not None and _has_ended(info) and time.monotonic() < deadline:
            time.sleep(POLL_SECONDS)
            info = _holder_record(self.holder_path)
        if info is None:
            return "another dvx process"
        who = f"pid {info['pid']} on {info['host']} ({info['command']})"
        if _has_ended(info):
            return f"another process (the lock's record names {who}, which has ended)"
        return who


    def acquire(self) -> None:
        with _held_guard:
            if _held.get(self.path):
                _held[self.path] += 1
                self._nested = True
                return
        if not self._try_lock():
            who = self.holder()
            if self.wait_seconds <= 0:
                raise self._busy(who)
            log.warning("Waiting up to %gs for %s held by %s...", self.wait_seconds,
                        "the repository lock" if self.place is None
                        else f"the lock of {self.place}", who)
            deadline = time.monotonic() + self.wait_seconds
            while not self._try_lock():
                faults.point("lock.waiting")
                if time.monotonic() >= deadline:
                    raise self._busy(self.holder())
                time.sleep(POLL_SECONDS)
        died = _holder_record(self.holder_path)
        if died is not None:  # we hold the lock: its holder died
            self._keep_aside(died)
        self._wait_for_stopped_commands()
        for stopped in _stopped_records(self.stopped_path) if self.place is None else ():
            log.warning("%s", stopped_message(stopped, STOPPED_FILE))
        self._record_holder()
        with _held_guard:
            _held[self.path] = 1
        if self.on_acquire is not None:
            self.on_acquire()

    def _wait_for_stopped_commands(self) -> None:
        """Commands a stopped holder started (a stage's) may still run, writing the workspace
        this command is about to change: their guardian, which the record names too, ends
        them within seconds of the holder's death. Wait for them (STOPPED_COMMANDS_WAIT at
        most); should one still run then (its guardian was killed too), let the lock go and
        refuse, naming it, so that nothing it writes later mixes with what this command
        records."""
        stopped = _still_running_after(_stopped_records(self.stopped_path),
                                       STOPPED_COMMANDS_WAIT)
        if not stopped:
            return
        self._unlock()
        info, running = stopped[0]
        raise LockError(
            f"`{info['command']}` was stopped before it finished, and a command it started "
            f"still runs, writing the workspace: {_described(running)}.",
            f"Let it end, or stop it (`kill -- {_group_ids(running)}`), then run this again "
            f"(if it is no command of this repository's, delete .dvx/tmp/{STOPPED_FILE}).")

    def _unlock(self) -> None:
        if self._fd is not None:
            _held_fds.discard(self._fd)
            os.close(self._fd)  # closing the only descriptor releases the flock
            self._fd = None

    def _record_holder(self) -> None:
        info: dict[str, object] = {"pid": os.getpid(), "host": os.uname().nodename,
                                   "command": self.command.shown,
                                   "same_as": self.command.same_as}
        if self.command.work is not None:
            info["work"] = self.command.work.as_record()
        if self.command.redo is not None:
            info[REDO] = self.command.redo
        if self.only_whole_writes:
            info[NOTHING_HALF_DONE] = True
        try:
            fsutil.atomic_write(self.holder_path, json.dumps(info).encode(), fsync=False)
        except OSError as exc:  # only for messages (a full disk must not stop the command)
            log.debug("lock holder not recorded: %s", exc)

    def working_on(self, work: Work) -> None:
        """What this command works on, known only once it holds the lock (the stages a
        repro selects from dvx.yaml, read under it): recorded, so that, killed, it is named
        with it, and, ended without an error, it finishes the stopped commands that work
        covers. Held already by an outer command, that command's record stands."""
        if self._nested:
            return
        self.command = replace(self.command, work=work)
        self._record_holder()

    def failed(self) -> None:
        """This command ends with an error it reports without raising (a repro whose stages
        failed, a checkout that could not place everything): it finishes no stopped command.
        Held already by an outer command (a pull's checkout, dvx checkout's), that one then
        finishes none either."""
        self._failed = True
        if self._nested:
            with _held_guard:
                _failed_within.add(self.path)

    def _keep_aside(self, died: dict[str, object]) -> None:
        """Keep the record of the holder that died in lock.stopped, with those of the other
        commands stopped before (_kept_with); none of one that left nothing half-done."""
        if _left_nothing_half_done(died):
            fsutil.remove_quietly(self.holder_path)
            return
        try:
            _write_stopped(self.stopped_path,
                           _kept_with(died, _stopped_records(self.stopped_path)))
        except OSError as exc:  # a full disk
            log.debug("stopped commands not all kept: %s", exc)
            if died.get("pid") == os.getpid():
                return  # our own record stays the holder's: read with the others once we end
            with contextlib.suppress(OSError):  # the latest at least, which takes no space
                os.replace(self.holder_path, self.stopped_path)
            return
        fsutil.remove_quietly(self.holder_path)

    def _try_lock(self) -> bool:
        try:
            # The umask decides who else may write it: a group sharing a checkout takes it too
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
        except FileNotFoundError:
            if self.place is None:
                raise
            raise LockedPlaceGone(f"{self.place[0].upper()}{self.place[1:]} is gone.") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        _held_fds.add(fd)
        return True

    def _busy(self, who: str) -> LockError:
        place = "The repository" if self.place is None else \
            f"{self.place[0].upper()}{self.place[1:]}"
        return LockError(
            f"{place} is locked by {who}.",
            "Wait for it to finish and try again (core.lock_wait sets how long dvx waits).",
        )

    def release(self, finished: bool = False, stopped: bool = False) -> dict[str, object] | None:
        """Let the lock go; `finished`: the command that took it ended without an error;
        `stopped`: Ctrl-C, SIGTERM or SIGHUP stopped it. The record of a command so stopped,
        or ended by an error once it began writing (`began_writing`), whose work is on
        tracked paths is kept aside, as the next command keeps a killed one's (what it
        changed may be left half-done where nothing else shows it): returned then."""
        with _held_guard:
            _held[self.path] -= 1
            if self._nested:
                self._nested = False
                return None
            del _held[self.path]
            if self.path in _failed_within:
                _failed_within.discard(self.path)
                finished = False
            wrote = self.path in _writing
            _writing.discard(self.path)
        if finished:
            self._finish_stopped()
        kept = self._keep_own_record(by_error=not stopped) \
            if stopped or (wrote and not finished) else None
        if kept is None:
            fsutil.remove_quietly(self.holder_path)
        self._unlock()
        return kept

    def _keep_own_record(self, by_error: bool) -> dict[str, object] | None:
        """Keep this command's record aside in lock.stopped, if its work is on tracked paths
        (Work.on_tracked_paths) and may be left half-done; the record kept. `by_error`: an
        error ended it, not a signal (ENDED_BY_ERROR)."""
        info = _holder_record(self.holder_path)
        if info is None or info["pid"] != os.getpid() or _left_nothing_half_done(info):
            return None
        work = _work_of(info)
        if work is None or not work.on_tracked_paths:
            return None
        if by_error:
            info[ENDED_BY_ERROR] = True
        self._keep_aside(info)
        return info

    def __enter__(self) -> RepoLock:
        self.acquire()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        """Stopped by Ctrl-C, SIGTERM or SIGHUP (or the Interrupted said for one, or an
        error one of them was wrapped into: `stop_within`), or ended by an error once it
        began writing, with its record kept aside, the command says what it may have left
        half-done, and how to finish it or give it up, instead of that nothing was left
        half-written."""
        stop = stop_within(exc)
        stopped = stop is not None
        kept = self.release(finished=exc_type is None and not self._failed, stopped=stopped)
        if kept is None:
            return
        if exc is None:  # an error it reports without raising (`failed`), said after this
            log.warning("%s ended with an error before doing all of its work. %s",
                        _named(str(kept["command"])), interrupted_notice(kept))
        elif isinstance(exc, Interrupted):
            exc.hint = interrupted_notice(kept)
        elif stop is not None:
            raise interruption(stop, ".", interrupted_notice(kept)) from exc
        else:
            note_left_half_done(exc, interrupted_notice(kept))

    def _finish_stopped(self) -> None:
        """This command ended without an error: the records of the stopped commands whose
        work it finished go (_finishes); the others' stay."""
        stopped = _stopped_records(self.stopped_path)
        left = [each for each in stopped if not self._finishes(each)]
        if len(left) == len(stopped):
            return
        try:
            _write_stopped(self.stopped_path, left)
        except OSError as exc:  # they stay named: better than forgotten
            log.debug("lock.stopped not updated: %s", exc)

    def _finishes(self, stopped: dict[str, object]) -> bool:
        """Has this command, ended without an error, finished what the stopped one whose
        record is `stopped` left half-done? It has when it is that command run again, or
        when its work covers that one's: then that one, run again, would only undo what this
        one did (an `add a.txt` after a stopped `remove a.txt.dvx`), or do it over (a
        checkout of the whole workspace after a stopped `checkout data`)."""
        if self._runs_again(stopped):
            return True
        work, stopped_work = self.command.work, _work_of(stopped)
        return work is not None and stopped_work is not None and work.covers(stopped_work)

    def _runs_again(self, stopped: dict[str, object]) -> bool:
        """Is this command the one the record `stopped` names, run again (so, now finished,
        it finished what that one left half-done)? The same by what the CLI says makes it
        so, or, for a record of an older dvx that says nothing of it, by command line."""
        return stopped.get("same_as") == self.command.same_as or \
            _same_command(str(stopped["command"])) == _same_command(self.command.shown)


def _same_command(command: str) -> str:
    """What makes a run of `command` the same command: its whole command line, but for the
    Git hooks and merge driver, whose arguments change with every call (so only their name)."""
    words = command.split()
    return " ".join(words[:3]) if words[1:2] == ["git-hook"] else command


def stopped_message(info: dict[str, object], file: str) -> str:
    """What to say of the holder record `info`, kept in .dvx/tmp/`file`, of a command that
    no longer holds the lock and never released it: what it may have left half-done, and
    that running it again is the user's choice (a later command may have made that moot)."""
    command, host, redo, work = info["command"], info["host"], _redo_of(info), _work_of(info)
    left = _left_half_done(work)
    again = _save_again(work) or _run_again_once(work) or \
        ("Run it again" if redo is None else f"`{redo}` does its work: run it")
    choice = ("`dvx status` names it until it, or a later command that does its work, ends "
              f"without an error. {again} if you still want it done{_given_up(work)} (or, "
              f"once you have seen to it, {_delete(file)}).")
    named = _named(str(command))
    if host != os.uname().nodename:
        return (f"The repository lock was last taken by {named} on the host '{host}' and "
                "never released (the repository was copied from there while it ran, or that "
                "host stopped): dvx cannot tell from here whether it finished. If it did not, "
                f"{left}. {choice}")
    last = named if _hook_of(str(command)) is None else f"run of {named}"
    ended = "was ended by an error before it finished" if _ended_by_error(info) else \
        "was stopped before it finished (its process is gone)"
    return (f"The last {last} in this repository {ended}, so {left}.{_still_running(info)} "
            f"{choice}")


def interrupted_notice(info: dict[str, object]) -> str:
    """What a command stopped by Ctrl-C, SIGTERM or SIGHUP says once its holder record `info`
    is kept aside: what it may have left half-done, that `dvx status` names it, and how to
    finish it or give it up."""
    work, redo = _work_of(info), _redo_of(info)
    left = _left_half_done(work)
    again = _save_again(work) or \
        ("Run the command again" if redo is None else f"`{redo}` does its work: run it")
    return (f"{left[0].upper()}{left[1:]}: `dvx status` names the command until it, or a "
            f"later command that does its work, ends without an error. {again} to finish"
            f"{_given_up(work)} (or, once you have seen to it, {_delete(STOPPED_FILE)}).")


def _save_again(work: Work | None) -> str:
    """What finishes a stopped `exp save`, which may have recorded its experiment just before
    it stopped: saved again, that one would be there twice. "" for other work."""
    if work is None or work.state != SAVE:
        return ""
    return ("Look for the experiment in `dvx exp show` first: it may have been recorded just "
            "before the save stopped. If it is not there, any `dvx exp save` of this "
            "workspace, under any name, does the save's work: run one")


def _run_again_once(work: Work | None) -> str:
    """What finishes a stopped command that ends by recording an experiment (`exp run`),
    killed maybe just after it recorded it: run again, it would record a second one. ""
    for other work. (Ctrl-C, SIGTERM and SIGHUP are held back from just before the record,
    so only a kill or another host's stop leaves it unsure.)"""
    if work is None or not work.records_experiment:
        return ""
    return ("Look for its experiment in `dvx exp show` first: it may have been recorded just "
            "before the command stopped, and run again it would be recorded twice. If it is "
            "not there, run it again")


def _given_up(work: Work | None) -> str:
    """How to give up the stopped command whose work is `work`, where another command's work
    ends it: "" where none does but itself, run again, or where the notice says which."""
    if work is None or work.state != EXPERIMENT:
        return ""
    return ("; to give it up, set the files Git tracks as you want them (`git checkout -- .` "
            "for HEAD's) and run `dvx checkout`, which places the outputs as dvx.lock says")


def _delete(file: str) -> str:
    """What deleting the record kept in .dvx/tmp/`file` is: the holder's record is kept aside
    in lock.stopped by the next command that takes the lock."""
    if file == HOLDER_FILE:
        return (f"delete .dvx/tmp/{HOLDER_FILE}, where its record stays until the next "
                f"command that takes the lock moves it to .dvx/tmp/{STOPPED_FILE}")
    return f"delete .dvx/tmp/{file}"


def _named(command: str) -> str:
    """A holder record's `command` as a notice names it: a Git hook's, with the hook."""
    hook = _hook_of(command)
    return f"`{command}`" if hook is None else f"Git's {hook} hook (`{command}`)"


def _hook_of(command: str) -> str | None:
    """The Git hook whose run `command` (a holder record's command line) is, if it is one."""
    words = command.split()
    return words[2] if words[1:2] == ["git-hook"] and len(words) > 2 else None


def _still_running(info: dict[str, object]) -> str:
    """What to say of the commands the holder record `info` notes it ran (a stage's) that are
    still running: they may still be writing the workspace. Empty if none is."""
    running = _running(info)
    if not running:
        return ""
    return (" A command it started may still be running, writing the workspace: "
            f"{_described(running)}. Let it end, or stop it (`kill -- {_group_ids(running)}`), "
            f"before running `{info['command']}` again.")


def _still_running_after(records: list[dict[str, object]], seconds: float
                         ) -> list[tuple[dict[str, object], list[RecordedGroup]]]:
    """Those of the holder `records` of stopped commands whose commands (a stage's, their
    guardian's) still run after waiting up to `seconds` for them to end, each with those
    groups. Only a record of this host whose groups' identity is confirmed (when its leader
    started, not only its id: `RecordedGroup.started`) is waited for: another host's, or one
    a reused id may name, is only named (`stopped_message`)."""
    def confirmed(info: dict[str, object]) -> list[RecordedGroup]:
        if info["host"] != os.uname().nodename:
            return []
        return [group for group in _running(info) if group.started is not None]

    running = [(info, groups) for info in records if (groups := confirmed(info))]
    if running:
        log.warning("Waiting up to %gs for the commands the stopped `%s` started to end...",
                    seconds, running[0][0]["command"])
    deadline = time.monotonic() + seconds
    while running and time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)
        running = [(info, groups) for info, _ in running if (groups := confirmed(info))]
    return running


def wait_for_commands_left(tmp_dir: str) -> str:
    """Wait (STOPPED_COMMANDS_WAIT at most) for the commands a killed holder of the lock of
    the repository whose temporary directory is `tmp_dir` started (a queued run's stage, in
    the worktree about to be removed) to end; what to say of those still running (empty:
    none)."""
    info = _holder_record(os.path.join(tmp_dir, HOLDER_FILE))
    if info is None or not _has_ended(info):
        return ""
    left = _still_running_after([info], STOPPED_COMMANDS_WAIT)
    if not left:
        return ""
    running = left[0][1]
    return (f"a command `{info['command']}` started still runs: {_described(running)} "
            f"(`kill -- {_group_ids(running)}` stops it)")


def _running(info: dict[str, object]) -> list[RecordedGroup]:
    """The process groups the holder record `info` notes (its commands', its guardian's) that
    still run."""
    recorded = info.get(GROUPS)
    groups = [RecordedGroup.from_record(each) for each in recorded[:MAX_GROUPS]] \
        if isinstance(recorded, list) else []
    return [group for group in groups if group is not None and group.running()]


def _described(groups: list[RecordedGroup]) -> str:
    return "; ".join(group.described() for group in groups)


def _group_ids(groups: list[RecordedGroup]) -> str:
    return " ".join(f"-{group.group}" for group in groups)


def _left_half_done(work: Work | None) -> str:
    if work is not None and work.state == TRACKING:
        return ("the pointers and .gitignore entries of its paths may be left half-changed "
                "(a file Git ignores that dvx does not track, say)")
    if work is not None and work.state.startswith(WORKSPACE):
        return "only some of its files may have been placed in the workspace"
    if work is not None and work.state == EXPERIMENT:
        return ("the workspace may be left part one experiment, part another (its params and "
                "dvx.lock written, the outputs they record not all checked out)")
    if work is not None and work.state == PIPELINE:
        return "the stages it ran may be left stale (`dvx status` names them)"
    if work is not None and work.state == SAVE:
        return ("the data it was recording may be in the cache without the pointers or "
                "dvx.lock naming it yet, and its experiment recorded or not")
    return "what it was changing may be left half-done"

