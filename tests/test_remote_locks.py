"""Remote locks (dvx/remote/locks.py), on every kind of store: pushes share a remote, gc has
it alone, a waiting side goes ahead once the holder is done, and a lock whose holder is gone
never blocks anyone for long."""

from __future__ import annotations

import _thread
import errno
import json
import os
import subprocess
import threading
import time

import pytest

from dvx.errors import LockError, RemoteError
from dvx.objects import layout
from dvx.objects.blobs import DirectoryBlobs
from dvx.remote import locks
from dvx.remote.locks import GC, LOCKS_DIR, PUSH, RemoteLock
from tests.test_stores import blobs  # noqa: F401 (the fixture: every kind of store)


def _lock(store, kind: str, wait: float = 0.0) -> RemoteLock:
    return RemoteLock(store, kind, "'r'", wait)


def _planted(store, kind: str, *, pid: int, space: str, written: float) -> str:
    """A lock as another process would have left it."""
    name = f"{kind}-{int(written):010d}-{os.urandom(8).hex()}.lock"
    record = {"kind": kind, "host": "elsewhere", "space": space, "pid": pid,
              "command": f"dvx {kind}", "written": written}
    store.put(f"{LOCKS_DIR}/{name}", json.dumps(record).encode())
    return name


def test_pushes_share_a_remote_and_gc_has_it_alone(blobs):  # noqa: F811
    with _lock(blobs, PUSH), _lock(blobs, PUSH):
        assert len(blobs.names(LOCKS_DIR)) == 2
        with pytest.raises(LockError) as refused:
            _lock(blobs, GC).acquire()
        assert "in use by a dvx push" in str(refused.value)
        assert len(blobs.names(LOCKS_DIR)) == 2  # the refused side took its lock back
    with _lock(blobs, GC):
        for kind in (PUSH, GC):
            with pytest.raises(LockError, match="in use by a dvx gc"):
                _lock(blobs, kind).acquire()
    assert blobs.names(LOCKS_DIR) == []


def test_of_many_starting_together_at_most_one_holds_gc(blobs):  # noqa: F811
    holding, most, guard = [0], [0], threading.Lock()
    start = threading.Barrier(6)

    def contend() -> None:
        lock = _lock(blobs, GC)
        start.wait()
        try:
            lock.acquire()
        except LockError:
            return
        with guard:
            holding[0] += 1
            most[0] = max(most[0], holding[0])
        time.sleep(0.2)  # long enough for every other contender to look
        with guard:
            holding[0] -= 1
        lock.release()

    threads = [threading.Thread(target=contend) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most[0] <= 1
    assert blobs.names(LOCKS_DIR) == []


def test_the_waiting_side_goes_ahead_once_the_holder_is_done(blobs):  # noqa: F811
    gc = _lock(blobs, GC)
    gc.acquire()
    releasing = threading.Event()

    def finish_gc() -> None:
        time.sleep(1.5)
        releasing.set()  # before: once gc has let go, the waiting side may go ahead at once
        gc.release()

    threading.Thread(target=finish_gc).start()
    with _lock(blobs, PUSH, wait=60):
        assert releasing.is_set()  # it went ahead only once gc was letting go
        assert [n.split("-")[0] for n in blobs.names(LOCKS_DIR)] == [PUSH]


def test_renewing_writes_the_new_lock_before_it_deletes_the_old(blobs):  # noqa: F811
    with _lock(blobs, PUSH) as lock:
        first = lock.name
        lock.renew()
        assert lock.name != first and blobs.names(LOCKS_DIR) == [lock.name]
        with pytest.raises(LockError):  # still held
            _lock(blobs, GC).acquire()


def test_a_lock_whose_process_is_gone_is_ignored_and_gc_removes_it(blobs):  # noqa: F811
    gone = subprocess.Popen(["true"])
    gone.wait()
    here = locks.process_space()
    planted = _planted(blobs, PUSH, pid=gone.pid, space=here, written=time.time())
    with _lock(blobs, GC) as gc:
        assert [h.name for h in gc.stale] == [planted]
        assert blobs.names(LOCKS_DIR) == [gc.name]  # the stale one is gone
    # The same pid on another machine (or in another pid namespace) proves nothing.
    _planted(blobs, PUSH, pid=gone.pid, space="another-machine", written=time.time())
    with pytest.raises(LockError, match="pid"):
        _lock(blobs, GC).acquire()


def test_a_dead_lock_is_named_once_while_another_holder_keeps_us_waiting(tmp_path, monkeypatch,
                                                                         capsys):
    store = DirectoryBlobs(str(tmp_path / "store"))
    gone = subprocess.Popen(["true"])
    gone.wait()
    planted = _planted(store, PUSH, pid=gone.pid, space=locks.process_space(),
                       written=time.time())
    live = _lock(store, PUSH)
    live.acquire()
    polls = []

    def poll(seconds: float) -> None:  # the live push ends after gc looked three times
        polls.append(seconds)
        if len(polls) == 3:
            live.release()

    monkeypatch.setattr(locks.time, "sleep", poll)
    with _lock(store, GC, wait=60) as gc:
        assert [h.name for h in gc.stale] == [planted]
    assert len(polls) == 3
    said = capsys.readouterr().err
    assert said.count("Ignoring a lock") == 1 and "its process is gone" in said, said
    assert said.count("Waiting up to") == 1


def test_a_lock_not_renewed_for_half_an_hour_is_stale(tmp_path):
    store = DirectoryBlobs(str(tmp_path / "store"))
    long_ago = time.time() - locks.STALE_SECONDS - 60
    planted = _planted(store, GC, pid=1, space="another-machine", written=long_ago)
    os.utime(store.path(f"{LOCKS_DIR}/{planted}"), (long_ago, long_ago))
    with _lock(store, PUSH) as push:
        assert [h.name for h in push.stale] == [planted]
    assert store.names(LOCKS_DIR) == [planted]  # only gc tidies others' locks
    # Renewed a minute ago (the listing's time), it is live whatever its name says.
    os.utime(store.path(f"{LOCKS_DIR}/{planted}"), (time.time() - 60,) * 2)
    with pytest.raises(LockError, match="in use by a dvx gc"):
        _lock(store, PUSH).acquire()


def test_a_lock_named_far_in_the_future_goes_stale_by_its_time_of_writing(tmp_path):
    store = DirectoryBlobs(str(tmp_path / "store"))
    name = f"{LOCKS_DIR}/gc-9999999999-{'0' * 16}.lock"
    store.put(name, b"junk")
    three_hours_ago = time.time() - 3 * 3600
    os.utime(store.path(name), (three_hours_ago, three_hours_ago))
    with _lock(store, PUSH) as push:
        assert len(push.stale) == 1
    # Written a minute ago, it counts (a holder whose clock runs fast is still a holder).
    os.utime(store.path(name), (time.time() - 60,) * 2)
    with pytest.raises(LockError, match=r"written 1 minutes ago|written 6\d s ago"):
        _lock(store, PUSH).acquire()


def test_a_lock_s_age_is_measured_on_the_store_s_clock_whatever_the_reader_s(tmp_path,
                                                                            monkeypatch):
    """A gc on a machine whose clock runs two hours ahead finds a push's lock written a
    moment ago: live, not two hours stale (gc would delete it and run beside the push).
    Running two hours behind, it finds a lock left 40 minutes ago: stale, not from the future."""
    store = DirectoryBlobs(str(tmp_path / "store"))
    real_time = time.time
    live = _planted(store, PUSH, pid=1, space="another-machine", written=real_time())
    monkeypatch.setattr(time, "time", lambda: real_time() + 7200)
    with pytest.raises(LockError, match=r"in use by a dvx push .* written \d+ s ago"):
        _lock(store, GC).acquire()
    assert store.names(LOCKS_DIR) == [live]
    store.delete([f"{LOCKS_DIR}/{live}"])
    left = real_time() - 40 * 60
    dead = _planted(store, PUSH, pid=1, space="another-machine", written=left)
    os.utime(store.path(f"{LOCKS_DIR}/{dead}"), (left, left))
    monkeypatch.setattr(time, "time", lambda: real_time() - 7200)
    with _lock(store, GC) as gc:
        assert [h.name for h in gc.stale] == [dead]


def test_the_store_s_clock_is_read_from_a_probe_that_leaves_nothing(blobs):  # noqa: F811
    before = time.time()
    now = locks.store_time(blobs, "'r'")
    assert now is not None and abs(now - before) < 300  # the same machine's clock, here
    assert blobs.names(LOCKS_DIR) == []


def test_a_clock_probe_left_behind_holds_nobody_up_and_gc_removes_it_once_stale(tmp_path):
    store = DirectoryBlobs(str(tmp_path / "store"))
    probe = f"{LOCKS_DIR}/{layout.probe_name('0' * 16)}"
    store.put(probe, b"dvx clock probe\n")  # its gc was killed while reading the clock
    with _lock(store, GC) as gc:
        assert gc.stale == []
    assert store.exists(probe)  # young: another gc's, reading the clock right now, perhaps
    long_ago = time.time() - locks.STALE_SECONDS - 60
    os.utime(store.path(probe), (long_ago, long_ago))
    with _lock(store, PUSH):
        pass
    assert store.exists(probe)  # only gc tidies up
    with _lock(store, GC):
        pass
    assert store.names(LOCKS_DIR) == []


def test_an_unreadable_lock_counts_as_live_until_it_is_old(tmp_path):
    store = DirectoryBlobs(str(tmp_path / "store"))
    store.put(f"{LOCKS_DIR}/gc-{int(time.time()):010d}-{'0' * 16}.lock", b"\x00garbage")
    with pytest.raises(LockError, match="another dvx gc"):
        _lock(store, PUSH).acquire()


def test_a_lock_of_a_kind_only_a_newer_dvx_knows_keeps_gc_out_until_it_is_stale(tmp_path):
    store = DirectoryBlobs(str(tmp_path / "store"))
    planted = _planted(store, "mirror", pid=1, space="another-machine", written=time.time())
    with pytest.raises(LockError, match="in use by a dvx mirror"):
        _lock(store, GC).acquire()
    with _lock(store, PUSH):  # shared, as a push is
        assert len(store.names(LOCKS_DIR)) == 2
    long_ago = time.time() - locks.STALE_SECONDS - 60
    os.utime(store.path(f"{LOCKS_DIR}/{planted}"), (long_ago, long_ago))
    old = planted.replace(planted.split("-")[1], f"{int(long_ago):010d}")
    os.rename(store.path(f"{LOCKS_DIR}/{planted}"), store.path(f"{LOCKS_DIR}/{old}"))
    with _lock(store, GC) as gc:
        assert [h.name for h in gc.stale] == [old]
    assert store.names(LOCKS_DIR) == []  # gc removed it, as it removes any stale lock


class _InterruptedListing(DirectoryBlobs):
    """A store whose second listing is cut short by Ctrl-C (the first finds no bucket
    missing): the moment between writing a lock and looking at the others."""

    listings = 0

    def details(self, directory: str):
        self.listings += 1
        if self.listings == 2:
            raise KeyboardInterrupt
        return super().details(directory)


def test_ctrl_c_while_taking_a_lock_takes_it_back(tmp_path):
    store = _InterruptedListing(str(tmp_path / "store"))
    with pytest.raises(KeyboardInterrupt):
        _lock(store, PUSH).acquire()
    assert store.names(LOCKS_DIR) == []


class _InterruptedOnceStored(DirectoryBlobs):
    """Ctrl-C arrives once the store holds the lock, before its answer is read: in the main
    thread, as a signal does, whichever thread wrote the lock."""

    def put(self, name: str, data: bytes) -> None:
        super().put(name, data)
        _thread.interrupt_main()
        time.sleep(0.2)  # the answer comes after the Ctrl-C has landed


@pytest.mark.parametrize("kind", [PUSH, GC])
def test_ctrl_c_while_writing_a_lock_the_store_took_deletes_it(tmp_path, kind):
    store = _InterruptedOnceStored(str(tmp_path / "store"))
    with pytest.raises(KeyboardInterrupt):
        _lock(store, kind).acquire()
    assert store.names(LOCKS_DIR) == []


class _StoredThenCutOff(DirectoryBlobs):
    """A store that takes a lock's write, but whose answer never arrives: the connection is
    lost once the request was sent."""

    def put(self, name: str, data: bytes) -> None:
        super().put(name, data)
        raise ConnectionResetError(errno.ECONNRESET, "Connection reset by peer")


def test_a_lock_whose_write_got_no_answer_is_deleted_as_it_may_have_been_stored(tmp_path):
    store = _StoredThenCutOff(str(tmp_path / "store"))
    with pytest.raises(RemoteError, match="Could not write a lock"):
        _lock(store, PUSH).acquire()
    assert store.names(LOCKS_DIR) == []


class _StoredAfterTheCtrlC(DirectoryBlobs):
    """A store that takes a lock's write a moment after the request went out, as a server
    still storing the body of a request the client gave up on: a Ctrl-C lands while the
    main thread waits for the answer, and the write lands after it."""

    def put(self, name: str, data: bytes) -> None:
        storing = threading.Thread(target=self._store_later, args=(name, data))
        storing.start()
        threading.Timer(0.05, _thread.interrupt_main).start()
        while storing.is_alive():  # as aio.run waits: in slices a Ctrl-C gets through
            storing.join(0.01)

    def _store_later(self, name: str, data: bytes) -> None:
        time.sleep(0.4)
        super().put(name, data)


def test_ctrl_c_while_the_store_is_still_taking_a_lock_s_write_leaves_no_lock(tmp_path):
    store = _StoredAfterTheCtrlC(str(tmp_path / "store"))
    with pytest.raises(KeyboardInterrupt):
        _lock(store, PUSH).acquire()
    time.sleep(0.6)  # any write still under way has landed
    assert store.names(LOCKS_DIR) == []


class _StoredLongAfterTheCtrlC(_StoredAfterTheCtrlC):
    """A store whose write lands only after the wait a stop gives it has run out."""

    def _store_later(self, name: str, data: bytes) -> None:
        time.sleep(0.6)
        DirectoryBlobs.put(self, name, data)


def test_a_lock_s_write_landing_after_the_stop_gave_up_on_it_is_deleted_when_it_lands(
        tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(locks, "RELEASE_WAIT", 0.1)
    store = _StoredLongAfterTheCtrlC(str(tmp_path / "store"))
    with pytest.raises(KeyboardInterrupt):
        _lock(store, PUSH).acquire()
    assert "may be left behind" in capsys.readouterr().err
    time.sleep(1.0)  # the write has landed, and been deleted
    assert store.names(LOCKS_DIR) == []


def test_a_held_lock_is_renewed_in_the_background(tmp_path, monkeypatch):
    monkeypatch.setattr(locks, "RENEW_SECONDS", 0.05)
    store = DirectoryBlobs(str(tmp_path / "store"))
    with _lock(store, PUSH) as lock:
        first = lock.name
        deadline = time.monotonic() + 30
        while lock.name == first and time.monotonic() < deadline:
            time.sleep(0.02)
        assert lock.name != first
    assert store.names(LOCKS_DIR) == []  # let go: neither the first nor a renewal is left


class _RenewalHeldUp(DirectoryBlobs):
    """The renewal's write reaches the store only once `go_on` is set."""

    def __init__(self, root: str) -> None:
        super().__init__(root)
        self.puts = 0
        self.renewing = threading.Event()
        self.go_on = threading.Event()

    def put(self, name: str, data: bytes) -> None:
        self.puts += 1
        if self.puts == 2:
            self.renewing.set()
            self.go_on.wait(30)
        super().put(name, data)


def test_a_renewal_the_release_did_not_wait_for_leaves_no_lock_and_no_warning(
        tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(locks, "RENEW_SECONDS", 0.05)
    store = _RenewalHeldUp(str(tmp_path / "store"))
    lock = _lock(store, PUSH)
    lock.__enter__()
    renewer = lock._renewer
    assert store.renewing.wait(30)
    lock.release(0.05)  # gives up waiting for the renewal, which then lands
    store.go_on.set()
    renewer.join(30)
    assert not renewer.is_alive()
    assert store.names(LOCKS_DIR) == []
    assert capsys.readouterr().err == ""  # dvx writes its warnings to stderr


class _OneFailedDelete(DirectoryBlobs):
    failed = False

    def delete(self, names: list[str]) -> None:
        if not self.failed:
            self.failed = True
            raise ConnectionError("the store did not answer")
        super().delete(names)


def test_a_lock_a_renewal_could_not_delete_is_deleted_on_release(tmp_path):
    store = _OneFailedDelete(str(tmp_path / "store"))
    with _lock(store, PUSH) as lock:
        lock.renew()  # its old lock stays
        assert len(store.names(LOCKS_DIR)) == 2
    assert store.names(LOCKS_DIR) == []
