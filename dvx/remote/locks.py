"""Remote locks: `gc --remote` never runs beside a push to the same remote.

A push that finds an object already on the remote counts on it staying there, and only its
push log (pushlog.py), written as it ends, tells gc so; a push also merges the remote's pack
indexes, which gc rewrites. So a push and gc each hold a lock on the remote while they run:

    locks/<kind>-<seconds>-<random>.lock    kind: push (shared) or gc (exclusive)

Taking one: write our own lock, then list locks/. A push gives way to a live gc lock, gc to
any other live lock. Whoever gives way deletes its own lock, waits and tries again (up to
core.lock_wait seconds). Two that start together never both go ahead: the later of the two to
write its lock lists after the other's write, and every supported store lists what was
written before (S3, GCS and Azure are strongly consistent, as are SSH and directories).

A lock is live until its holder deletes it. A holder that dies cannot, so a lock is stale,
and ignored, once its process is known to be gone (the same machine and pid namespace, and no
such pid) or once it has not been renewed for STALE_SECONDS: a holder writes a new lock (and
deletes its old one) every RENEW_SECONDS from a background thread. gc deletes the stale locks
it ignored. On a full disk a lock is written empty (`_put`). The format is in
docs/formats.md.

Every age here is measured on the store's own clock, never on this machine's, which may run
hours ahead or behind: "now" is the time the store's listing gives the file just written (our
lock, or the probe `store_time` writes), and a lock's age is the time the store gave it.
"""

from __future__ import annotations

import errno
import json
import os
import random
import socket
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, wait
from dataclasses import dataclass
from functools import partial
from types import TracebackType

from dvx.errors import LockError, RemoteError
from dvx.fsutil import FULL_DISK_ERRNOS, describe
from dvx.logs import get_logger
from dvx.objects.blobs import Blobs, Details
from dvx.objects.layout import LOCKS_DIR, is_probe_name, lock_kind_and_time, lock_name, probe_name
from dvx.threads import result_of

log = get_logger(__name__)

PUSH, GC = "push", "gc"
RENEW_SECONDS = 300.0
STALE_SECONDS = 1800.0
CLOCK_SKEW = 300.0  # a name's seconds (its writer's clock) may be this far off the store's
POLL_SECONDS = 1.0  # between attempts while another holds the remote (with jitter)
# After a failure or Ctrl-C: how long removing the lock, or ending its write, may take; a
# write that ends later still deletes the lock it wrote, if dvx is still running then.
RELEASE_WAIT = 2.0
MAX_LOCK_BYTES = 4096
# A remote's full disk: gc --remote, which frees one, needs room for an empty file there
NO_ROOM = "Free a little room on that disk (room for an empty file), then try again."


class WriteRefused(RemoteError):
    """The store refused a write (no permission, or a read-only filesystem): this user may
    only read there, which no retry or network changes."""


class DeleteRefused(RemoteError):
    """The store refused a delete to credentials that may write there (an append-only key):
    gc cannot run, and locks and probes written stay until they go stale. `written`: the
    store's clock, read by the probe whose delete was refused."""

    def __init__(self, refusal: RemoteError, written: float | None = None) -> None:
        super().__init__(refusal.message, refusal.hint)
        self.written = written


@dataclass(frozen=True)
class Holder:
    """Another lock found on the remote: who wrote it, and when it was last renewed."""
    name: str
    kind: str
    host: str
    process_space: str  # machine and pid namespace: where `pid` means something
    pid: int
    command: str
    renewed: float

    def describe(self) -> str:
        if not self.pid:  # its record could not be read
            return f"another dvx {self.kind}"
        command = f"`{self.command}`, " if self.command else ""
        return f"a dvx {self.kind} ({command}pid {self.pid} on {self.host or 'an unknown host'})"


def process_space() -> str:
    """Where a pid names this very process: the host, its boot, and the pid namespace."""
    parts = [socket.gethostname()]
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as f:
            parts.append(f.read().strip())
        parts.append(str(os.stat("/proc/self/ns/pid").st_ino))
    except OSError:
        return ""  # no way to tell: such a lock goes stale by age only
    return "/".join(parts)


def _pid_is_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OverflowError, ValueError):
        return False
    return False


def conflicts(ours: str, theirs: str) -> bool:
    """Whether a lock of kind `ours` gives way to a live one of kind `theirs`. A kind this dvx
    does not know (a newer dvx's) counts as shared, like push: gc never runs beside it. (A
    newer dvx that needs a remote to itself takes a gc lock, which every version respects.)"""
    return GC in (ours, theirs)


class RemoteLock:
    """A push (`PUSH`, shared) or gc (`GC`, exclusive) lock on the remote `blobs`, for the
    time of a `with` block; `describe` names the remote in messages."""

    def __init__(self, blobs: Blobs, kind: str, describe: str, wait_seconds: float) -> None:
        self.blobs = blobs
        self.kind = kind
        self.remote = describe
        self.wait_seconds = wait_seconds
        self.name: str | None = None
        self.stale: list[Holder] = []  # locks of dead holders found while taking ours
        self._named_stale: set[str] = set()  # those said to be ignored: once, not every poll
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None
        self._left_behind: list[str] = []  # our own locks a renewal or write left unsure
        # The renewer thread and release() both change `name` and `_left_behind`.
        self._names = threading.Lock()
        self._old_probes: list[str] = []  # `store_time` probes a killed process left
        self._space = process_space()
        self._store_now = 0.0  # the store's clock as of the latest listing
        self._delete_refused = False  # the store refused to delete one of our locks

    def __enter__(self) -> RemoteLock:
        self.acquire()
        self._renewer = threading.Thread(target=self._renew_until_released,
                                         name="dvx-remote-lock", daemon=True)
        self._renewer.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        # Ended by a failure or Ctrl-C, perhaps of a store that stopped answering: try to
        # remove the lock, but do not hold the user up for it (left, it goes stale).
        self.release(None if exc_type is None else RELEASE_WAIT)

    def acquire(self) -> None:
        deadline = time.monotonic() + self.wait_seconds
        warned = False
        self._listed()  # a listing names a missing bucket; a first write might create one
        while True:
            try:
                self._write()
                blocking = self._blocking()
            except BaseException:
                self.release(RELEASE_WAIT)
                raise
            if not blocking:
                if self.kind == GC:
                    self._remove_stale()
                return
            self._delete(self.name)
            self.name = None
            if time.monotonic() >= deadline:
                raise self._in_use(blocking)
            if not warned:
                log.warning("Waiting up to %gs for %s on remote %s to finish...",
                            self.wait_seconds, blocking.describe(), self.remote)
                warned = True
            time.sleep(POLL_SECONDS * random.uniform(0.5, 1.5))

    def in_use(self, now: float) -> LockError | None:
        """Without writing a lock: the error taking it would end with, were the remote's
        locks to stay as they are now, or None if none keeps ours from going ahead. `now`:
        the store's clock, by which the locks found are stale or not."""
        blocking = self._blocking(now)
        return None if blocking is None else self._in_use(blocking)

    def _in_use(self, blocking: Holder) -> LockError:
        return LockError(
            f"Remote {self.remote} is in use by {blocking.describe()}, whose lock was "
            f"written {_ago(blocking.renewed, self._store_now)}; {self._why()}.",
            "Try again when it has finished (core.lock_wait sets how long dvx waits). "
            f"A lock not renewed for {STALE_SECONDS / 60:.0f} minutes, or whose "
            "process is gone, is ignored.")

    def release(self, wait: float | None = None) -> None:
        """Delete the lock; with `wait`, give up on that after `wait` seconds."""
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join(wait)
            self._renewer = None
        with self._names:
            names = [*([self.name] if self.name else []), *self._left_behind]
            self.name, self._left_behind = None, []
        if not names:
            return
        if wait is None:
            self._delete_all(names)
            return
        deleting = threading.Thread(target=self._delete_all, args=(names,), daemon=True)
        deleting.start()
        deleting.join(wait)
        if deleting.is_alive():
            log.warning("The lock %s on remote %s was left behind: on this machine it is "
                        "ignored once this process has exited, elsewhere after %.0f minutes.",
                        names[0], self.remote, STALE_SECONDS / 60)

    def renew(self) -> None:
        """Write a fresh lock, then delete the one it replaces: the lock is never absent. One
        that cannot be deleted now is tried again on release."""
        old = self.name
        if not self._write():
            return
        if old is not None and not self._delete(old):
            with self._names:
                self._left_behind.append(old)

    def _renew_until_released(self) -> None:
        while not self._stop.wait(RENEW_SECONDS):
            try:
                self.renew()
            except Exception as exc:  # the next renewal may succeed
                log.warning("Could not renew the lock on remote %s: %s", self.remote, exc)

    def _why(self) -> str:
        if self.kind == GC:
            return "gc does not run while anything else uses the remote, so that it never " \
                   "deletes what a push is counting on"
        return "a push waits for gc to finish, so that gc never deletes what it counts on"

    def _write(self) -> bool:
        """Write a lock of ours and take its name; False if the lock was released meanwhile
        (a renewal the release did not wait for), the lock just written deleted again."""
        now = time.time()
        name = lock_name(self.kind, int(now), os.urandom(8).hex())
        record = {"kind": self.kind, "host": socket.gethostname(), "space": self._space,
                  "pid": os.getpid(), "command": " ".join(["dvx", *sys.argv[1:]])[:200],
                  "written": now}
        # Named for release() before it is sent: a Ctrl-C once the store has it, its answer
        # not read yet, would leave it otherwise. A write the store refused stored nothing,
        # and is no longer named: its delete would be refused too, and said to leave a lock.
        with self._names:
            self._left_behind.append(name)
        try:
            _put_to_its_end(self.blobs, name, json.dumps(record).encode(), self.remote,
                            partial(self._still_named, name))
        except OSError as exc:
            if stored_nothing(exc):  # no lock to delete, nor to warn of as left behind
                with self._names:
                    if name in self._left_behind:
                        self._left_behind.remove(name)
            message = f"Could not write a lock on remote {self.remote}: {describe(exc)}."
            if refuses_writes(exc):
                raise WriteRefused(message, "dvx cannot write there: it changes a remote "
                                            "only with write access to it.") from exc
            raise RemoteError(message, NO_ROOM if exc.errno in FULL_DISK_ERRNOS else None
                              ) from exc
        with self._names:
            released = name not in self._left_behind
            if not released:
                self._left_behind.remove(name)
                self.name = name
        if released:
            self._delete(name)
        return not released

    def _still_named(self, name: str) -> bool:
        """Whether a release to come deletes the lock `name` (or it is the one held)."""
        with self._names:
            return name in self._left_behind or name == self.name

    def _blocking(self, now: float | None = None) -> Holder | None:
        """A live lock that keeps ours from going ahead (stale ones noted in `self.stale`);
        `now`: the store's clock, when no lock of ours was written to read it from."""
        listed = self._listed()
        self.stale, self._old_probes = [], []
        now = self._store_now = _store_clock(listed, self.name) if now is None else now
        for name, (_, mtime) in sorted(listed.items()):
            if is_probe_name(name) and mtime is not None and now - mtime > STALE_SECONDS:
                self._old_probes.append(name)
            # A name of no lock's form is not dvx's: neither waited for nor deleted.
            kind, stamp = lock_kind_and_time(name) or (None, 0.0)
            if name == self.name or kind is None or not conflicts(self.kind, kind):
                continue
            if stamp > now + CLOCK_SKEW:  # a clock far ahead, or a forged name: the store's
                stamp = 0.0               # own time of writing decides
            holder = self._read(name, kind, max(stamp, mtime or 0.0))
            if holder is None:
                continue  # released meanwhile
            why_stale = self._why_stale(holder, now)
            if why_stale:
                if name not in self._named_stale:
                    self._named_stale.add(name)
                    log.warning("Ignoring a lock on remote %s left by %s: %s.", self.remote,
                                holder.describe(), why_stale)
                self.stale.append(holder)
                continue
            return holder
        return None

    def _listed(self) -> Details:
        return _list_locks(self.blobs, self.remote)

    def _read(self, name: str, kind: str, renewed: float) -> Holder | None:
        try:
            data = self.blobs.get(f"{LOCKS_DIR}/{name}", 0, MAX_LOCK_BYTES)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise RemoteError(f"Could not read the lock {name} on remote {self.remote}: "
                              f"{exc}") from exc
        try:
            record = json.loads(data)
            return Holder(name, kind, str(record["host"]), str(record["space"]),
                          int(record["pid"]), str(record["command"]), renewed)
        except (ValueError, KeyError, TypeError):  # unreadable: live until it is old
            return Holder(name, kind, "", "", 0, "", renewed)

    def _why_stale(self, holder: Holder, now: float) -> str | None:
        """Why `holder`'s lock no longer counts; None while it does."""
        if self._space and holder.process_space == self._space and holder.pid > 0 \
                and _pid_is_gone(holder.pid):
            return "its process is gone"
        if now - holder.renewed > STALE_SECONDS:
            return f"not renewed since {_ago(holder.renewed, now)}"
        return None

    def _remove_stale(self) -> None:
        for name in [holder.name for holder in self.stale] + self._old_probes:
            self._delete(name)

    def _delete_all(self, names: list[str]) -> None:
        for name in names:
            self._delete(name)

    def _delete(self, name: str | None) -> bool:
        """Delete a lock; False (and a warning) if that failed: left behind, it goes stale.
        Never raises, so that it never hides why a command ended."""
        if name is None:
            return True
        try:
            self.blobs.delete([f"{LOCKS_DIR}/{name}"])
        except PermissionError as exc:
            self._refused_delete(name, exc)
            return False
        except Exception as exc:
            log.warning("Could not remove the lock %s from remote %s: %s", name, self.remote,
                        describe(exc) if isinstance(exc, OSError) else exc)
            return False
        return True

    def _refused_delete(self, name: str, exc: PermissionError) -> None:
        """Say, once, that the store refuses to delete our locks, and what the ones left
        there hold up."""
        if self._delete_refused:
            return
        self._delete_refused = True
        from dvx.remote.backends import delete_refused

        held_up = "`dvx gc --remote`" if self.kind == PUSH else "a push"
        log.warning("Left the lock %s behind: %s It keeps %s on other machines from running "
                    "until it is %.0f minutes old (on this machine, until this process has "
                    "exited).", name,
                    delete_refused(self.blobs, exc, f"remote {self.remote}").message,
                    held_up, STALE_SECONDS / 60)


def store_time(blobs: Blobs, remote: str) -> float | None:
    """The store's clock now: the time its listing gives a probe written to locks/ (and
    deleted at once), so that gc measures the age of what the store holds on the clock that
    dated it. None when the store's listings give no times. A probe a killed process leaves
    is no lock to any reader, and gc deletes it once it is stale. WriteRefused when this
    user may only read the store; DeleteRefused when it may write there but not delete
    (the probe stays, and goes stale)."""
    _list_locks(blobs, remote)  # a listing names a missing bucket; a write might create one
    name = probe_name(os.urandom(8).hex())
    try:
        _put(blobs, name, b"dvx clock probe\n")
    except OSError as exc:
        message = (f"Could not write to remote {remote} (a probe of its clock, in "
                   f"{LOCKS_DIR}/): {describe(exc)}.")
        if refuses_writes(exc):
            raise WriteRefused(message, "dvx cannot write there: gc deletes from a remote "
                                        "only with write access to it.") from exc
        raise RemoteError(message, NO_ROOM if exc.errno in FULL_DISK_ERRNOS else
                          "Check the credentials and the network, then try again.") from exc
    try:
        _, written = _list_locks(blobs, remote).get(name, (0, None))
    except BaseException:
        _delete_quietly(blobs, name, remote)
        raise
    try:
        blobs.delete([f"{LOCKS_DIR}/{name}"])
    except PermissionError as exc:
        from dvx.remote.backends import delete_refused

        raise DeleteRefused(delete_refused(
            blobs, exc, f"remote {remote}",
            "Nothing was deleted: `dvx gc --remote` needs that right."), written) from exc
    except Exception as exc:  # left, it goes stale
        log.warning("Could not remove %s from remote %s: %s", name, remote, exc)
    return written


def _put_to_its_end(blobs: Blobs, name: str, data: bytes, remote: str,
                    still_named: Callable[[], bool]) -> None:
    """`_put` a lock, run in a thread of its own that a stop (Ctrl-C, SIGTERM) does not cut
    short: once one lands, the write still gets RELEASE_WAIT seconds to end before the stop
    goes on. A request given up on mid-way may still be stored by the server after the
    lock's delete that follows the stop, which would leave the lock behind, holding up gc
    on other machines for STALE_SECONDS: so a write that succeeds once `still_named` says
    no release will delete it (the release went ahead without it) deletes it itself."""
    outcome: Future[None] = Future()

    def write() -> None:
        try:
            _put(blobs, name, data)
        except BaseException as exc:  # handed to the waiting thread, which raises it
            outcome.set_exception(exc)
            return
        if not still_named():
            _delete_quietly(blobs, name, remote)
        outcome.set_result(None)

    threading.Thread(target=write, name="dvx-lock-write", daemon=True).start()
    try:
        result_of(outcome)
    except KeyboardInterrupt:
        wait([outcome], timeout=RELEASE_WAIT)  # a second stop cuts this short
        if not outcome.done():
            log.warning("The lock %s on remote %s may be left behind: its write had not "
                        "ended when dvx stopped (a write that ends while dvx runs deletes "
                        "it); on this machine it is ignored once this process has exited, "
                        "elsewhere after %.0f minutes.", name, remote, STALE_SECONDS / 60)
        raise


def _put(blobs: Blobs, name: str, data: bytes) -> None:
    """Write `data` as the lock or probe `name` in locks/; on a full disk (or a used-up
    quota), an empty `name`, which needs no room for data: a full remote is just when `gc
    --remote` is run to free some. Its name and the time the store gives it are all a lock
    or probe needs: a lock's record only names its holder in messages, and tells sooner
    that its process is gone (one that cannot be read is live until it is STALE_SECONDS
    old)."""
    try:
        blobs.put(f"{LOCKS_DIR}/{name}", data)
    except OSError as exc:
        if exc.errno not in FULL_DISK_ERRNOS:
            raise
        log.debug("%s written empty: %s", name, exc)
    else:
        return
    blobs.put(f"{LOCKS_DIR}/{name}", b"")


def refuses_writes(exc: OSError) -> bool:
    """Whether a write failed because this user may only read the store (no permission, or
    a read-only filesystem), which no retry changes."""
    return isinstance(exc, PermissionError) or exc.errno == errno.EROFS


def stored_nothing(exc: OSError) -> bool:
    """Whether a write that failed with `exc` surely stored nothing: the store answered it
    with a refusal (no permission, a read-only filesystem, no room, no such bucket or
    folder). Any other failure (a timeout, a connection lost once the request was sent) may
    have come after the store took the write."""
    return refuses_writes(exc) or exc.errno in FULL_DISK_ERRNOS \
        or isinstance(exc, FileNotFoundError)


def _list_locks(blobs: Blobs, remote: str) -> Details:
    try:
        return blobs.details(LOCKS_DIR)
    except PermissionError as exc:  # the store's, not a local file's
        from dvx.remote.backends import access_refused

        raise access_refused(blobs, exc, f"remote {remote}") from None
    except OSError as exc:
        from dvx.remote.backends import network_failure

        raise RemoteError(f"Could not list the locks on remote {remote}: "
                          f"{network_failure(exc, remote, blobs.server)}.",
                          "Check the URL, the credentials and the network, then try "
                          "again.") from exc


def _delete_quietly(blobs: Blobs, name: str, remote: str) -> None:
    try:
        blobs.delete([f"{LOCKS_DIR}/{name}"])
    except Exception as exc:  # left, it goes stale
        log.warning("Could not remove %s from remote %s: %s", name, remote, exc)


def _store_clock(listed: Details, ours: str | None) -> float:
    """The store's clock as of `listed`: the time it gives `ours`, written just before;
    this machine's clock when it gives none."""
    _, written = listed.get(ours, (0, None)) if ours else (0, None)
    return written if written is not None else time.time()


def _ago(when: float, now: float) -> str:
    seconds = max(0, round(now - when))
    if seconds < 120:
        return f"{seconds} s ago"
    return f"{seconds // 60} minutes ago"
