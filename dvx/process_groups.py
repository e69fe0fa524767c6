"""The process groups dvx runs commands in (a stage's, a queued experiment's): whether one is
still running, and still the one dvx started rather than another given its id later, and
what runs in it, as the system tells (Linux's /proc; elsewhere less is known, and said).

A group is recorded on disk (`RecordedGroup`) where a later dvx command asks about it: the
queue's state files name the group running an experiment, and the repository lock's holder
record the groups of the stages a command is running, so that the next command after it was
killed can say whether one may still be running.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import subprocess

PROC = "/proc"
MAX_NAMED = 5  # processes of a group named in a message
MAX_BOOT_ID = 100  # characters: Linux's boot ids have 36


def process_alive(pid: int) -> bool:
    """Is there a process `pid` (another user's counts)?"""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's
        return True
    return True


def group_alive(group: int, leader: subprocess.Popen[bytes] | None = None) -> bool:
    """Is any process of the process group `group` left (a zombie aside)? Its `leader`, when
    this process started it, counts until it is reaped (by the thread waiting for it), as its
    id names the group until then."""
    if leader is not None and leader.poll() is None:
        return True
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # an orphan nobody reaps (as under a PID 1 that does not) stays a zombie: it writes nothing
    return _members(group) != [] if proc_shows_ours() else True


def proc_shows_ours() -> bool:
    """Does /proc list this process's namespace (so a process missing from it has ended)?"""
    try:
        return os.readlink(os.path.join(PROC, "self")) == str(os.getpid())
    except OSError:
        return False


def _members(group: int) -> list[tuple[int, bytes]]:
    """The pid and command line of each process of `group` that is not a zombie, as /proc
    (Linux) tells; empty where there is no /proc."""
    found = []
    for pid in _member_ids(group):
        try:
            with open(os.path.join(PROC, str(pid), "cmdline"), "rb") as f:
                found.append((pid, f.read()))
        except OSError:
            continue  # ended meanwhile
    return found


def _member_ids(group: int) -> list[int]:
    """The id of each process of `group` that is not a zombie, as /proc tells."""
    found = []
    with contextlib.suppress(OSError):
        for name in os.listdir(PROC):
            if not name.isdigit():
                continue
            try:
                state, _ppid, pgrp = _stat(int(name))[:3]
            except (OSError, ValueError):
                continue  # ended meanwhile
            if int(pgrp) == group and state != b"Z":
                found.append(int(name))
    return found


def _stat(pid: int) -> list[bytes]:
    """The fields of /proc/PID/stat after the command's name (which may hold spaces and
    parentheses): the process's state first, its 22nd field at index 19."""
    with open(os.path.join(PROC, str(pid), "stat"), "rb") as f:
        stat = f.read()
    return stat[stat.rindex(b")") + 2:].split()


def process_started(pid: int) -> int | None:
    """When the process `pid` started, in clock ticks after the machine booted (the 22nd
    field of /proc/PID/stat): with `boot_id`, what tells it from a process given the same id
    later. None if it has ended, or where /proc does not tell (macOS)."""
    if not proc_shows_ours():
        return None
    try:
        return int(_stat(pid)[19])
    except (OSError, ValueError, IndexError):
        return None


def boot_id() -> str | None:
    """The id Linux gives each boot of the machine; None where there is none to read."""
    try:
        with open(os.path.join(PROC, "sys", "kernel", "random", "boot_id"), "rb") as f:
            return f.read(MAX_BOOT_ID).decode("ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None


def group_works_in(group: int, folder: str) -> bool:
    """Does a process of `group` (a zombie aside) work in `folder` or below, as /proc tells?
    False where it does not tell, and for another user's processes."""
    real = os.path.realpath(folder)
    for pid in _member_ids(group):
        try:
            cwd = os.readlink(os.path.join(PROC, str(pid), "cwd"))
        except OSError:
            continue
        cwd = cwd.removesuffix(" (deleted)")
        if cwd == real or cwd.startswith(real.rstrip(os.sep) + os.sep):
            return True
    return False


def describe_members(group: int) -> list[str]:
    """Each process of `group` (a zombie aside) as `pid N (its command line)`, the first
    MAX_NAMED of them; empty where /proc does not list them."""
    members = sorted(_members(group))
    named = [f"pid {pid} ({_shorten(argv)})" for pid, argv in members[:MAX_NAMED]]
    if len(members) > MAX_NAMED:
        named.append(f"{len(members) - MAX_NAMED} more")
    return named


def _shorten(argv: bytes) -> str:
    """A command line from /proc (NUL after each argument) as one short line."""
    text = argv.rstrip(b"\0").replace(b"\0", b" ").decode("utf-8", errors="replace")
    return text if len(text) <= 80 else text[:77] + "..."


@dataclass(frozen=True)
class RecordedGroup:
    """A process group dvx started, as a later command finds it recorded: its id (its
    leader's pid), what tells its leader from a process given that id later (when it started,
    in clock ticks after boot, and the machine's boot id; None where /proc is not), and the
    folder its processes work in (None: not known)."""
    group: int
    started: int | None
    boot: str | None
    folder: str | None

    @classmethod
    def of(cls, leader: int, folder: str | None) -> RecordedGroup:
        """The group `leader` (a child of this process, not yet waited for, so its id is not
        given to another process meanwhile) leads, working in `folder`."""
        started = process_started(leader)
        return cls(leader, started, None if started is None else boot_id(), folder)

    def as_record(self) -> dict[str, Any]:
        return {"group": self.group, "started": self.started, "boot_id": self.boot,
                "folder": self.folder}

    @classmethod
    def from_record(cls, record: object) -> RecordedGroup | None:
        """The group a record (untrusted JSON) names; None if it is not one `as_record` makes
        (never a group 0 or 1, which would name this process's own group or init's)."""
        if not isinstance(record, dict):
            return None
        group, started = record.get("group"), record.get("started")
        boot, folder = record.get("boot_id"), record.get("folder")
        if type(group) is not int or group <= 1 \
                or not (started is None or type(started) is int) \
                or not (boot is None or (isinstance(boot, str) and len(boot) <= MAX_BOOT_ID)) \
                or not (folder is None or isinstance(folder, str)):
            return None
        return cls(group, started, boot, folder)

    def running(self) -> bool:
        """Is the group still running, and still the one recorded? Its id alone does not say:
        once it ended (the machine restarted, say), another process (a tmux session) may be
        given that id and lead a group of its own, which must never be signalled nor named.
        Its leader's start time and the boot id tell (Linux); with its leader gone (its shell
        killed, what it started going on) or where they were not recorded, a process of the
        group working in the recorded folder does. Where /proc does not tell (macOS), the id
        is trusted."""
        if not group_alive(self.group):
            return False
        if not proc_shows_ours():
            return True
        if self.started is not None:
            if self.boot != boot_id():
                return False
            started = process_started(self.group)
            if started is not None:
                return started == self.started
        return self.folder is not None and group_works_in(self.group, self.folder)

    def described(self) -> str:
        """Its processes, for a message (`describe_members`), or its id where /proc does not
        list them."""
        return ", ".join(describe_members(self.group)) or f"process group {self.group}"
