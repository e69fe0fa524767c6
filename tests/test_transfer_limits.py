"""Transfers always end: many large objects and many small ones go through on every backend at
any -j; a server that stops answering fails the command in bounded time with a clear message;
one Ctrl-C ends a transfer within moments, says what was complete, and leaves no partial
download behind."""

from __future__ import annotations

import contextlib
import http.client
import http.server
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import pytest
import xxhash

from tests.conftest import make_git_repo, run_dvx_proc, stopped_at, tree_bytes, write
from tests.remotes import clone, commit_all, configure
from tests.servers import serving

MiB = 1 << 20


def _round_trip(dvx, repo: Path, tmp_path: Path, remote, jobs: str | None) -> None:
    configure(dvx, repo, remote)
    commit_all(repo)
    extra = ["-j", jobs] if jobs else []
    pushed = dvx("push", *extra)
    assert pushed.code == 0, pushed.output
    target = clone(repo, tmp_path, f"clone-{jobs}")
    pulled = dvx("pull", *extra, cwd=target)
    assert pulled.code == 0, pulled.output
    assert tree_bytes(target / "data") == tree_bytes(repo / "data")


def _one_jobs_value_is_enough(remote, jobs: str | None, kinds: tuple[str, ...]) -> None:
    """Each extra -j value is a full round trip: only some backends run them all."""
    if jobs and not remote.url.startswith(kinds):
        pytest.skip("the other -j values run on the S3 backends")


def _one_layout_on_emulators(remote) -> None:
    """The GCS and Azure emulators run these load tests with packs only: large objects travel
    alone either way, and 10,000 loose objects take 30-50 s on an emulator."""
    if remote.url.startswith(("gs://", "azure://")) and remote.layout == "loose":
        pytest.skip("the GCS and Azure emulators run the packs layout only")


@pytest.mark.parametrize("jobs", [None, "1"])
def test_many_large_objects_go_through_at_any_jobs(repo, dvx, tmp_path, remote, jobs):
    _one_jobs_value_is_enough(remote, jobs, ("s3://",))
    _one_layout_on_emulators(remote)
    # More objects above the multipart size than a default thread pool has threads; on S3 the
    # smallest part size keeps them multipart at 11 MiB (and the suite's disk use down).
    if remote.url.startswith("s3://"):
        remote.options = {**remote.options, "chunksize": str(5 * MiB)}
    for i in range(20):
        write(repo / "data" / f"big{i:02d}.bin", os.urandom(11 * MiB))
    assert dvx("add", "data").code == 0
    _round_trip(dvx, repo, tmp_path, remote, jobs)


@pytest.mark.parametrize("jobs", [None, "2"])
def test_many_small_objects_go_through_at_any_jobs(repo, dvx, tmp_path, remote, jobs):
    """10,000 objects; 2,000 where each is a request of its own to a server slow per object
    (moto, SFTP): still more than any pool has workers, or a process file descriptors."""
    slow_per_object = "seaweedfs" not in remote.extra.get("server", "")
    if jobs and slow_per_object:
        pytest.skip("the other -j value runs on SeaweedFS (moto and SFTP are slow per object)")
    _one_layout_on_emulators(remote)
    count = 2_000 if slow_per_object and remote.layout == "loose" and \
        remote.url.startswith(("s3://", "ssh://")) else 10_000
    for i in range(count):
        write(repo / "data" / f"{i // 100:03d}" / f"{i:05d}.txt", f"object {i}\n" * 3)
    assert dvx("add", "data").code == 0
    _round_trip(dvx, repo, tmp_path, remote, jobs)


# -- a server that stops answering, and Ctrl-C --------------------------------------------------


def _s3_repo(dvx, repo: Path, server: dict[str, object], timeout: str) -> None:
    for args in (("remote", "add", "-d", "s3", "s3://stalls/project"),
                 ("remote", "modify", "s3", "endpointurl", str(server["endpoint"])),
                 ("remote", "modify", "--local", "s3", "access_key_id", "testing"),
                 ("remote", "modify", "--local", "s3", "secret_access_key", "testing"),
                 ("remote", "modify", "s3", "timeout", timeout)):
        assert dvx(*args, cwd=repo).code == 0


def _pushed_once_it_answers(dvx, repo: Path) -> Any:
    """`dvx push` once the stopped server goes on: with a timeout that lets it first work
    off what it received while stopped (no answer comes meanwhile), as a rerun is meant to
    complete, not to race that."""
    assert dvx("remote", "modify", "s3", "timeout", "60", cwd=repo).code == 0
    return dvx("push", cwd=repo)


def _dvx_process(cwd: Path, *args: str, env: dict[str, str] | None = None
                 ) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "dvx", *args], cwd=cwd, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, env={**os.environ, **(env or {})})


def _let_go(proc: subprocess.Popen[str]) -> None:
    """SIGCONT to a process stopped at a fault point, then wait until its main thread sleeps
    again: a signal sent from then on goes to that thread, as a Ctrl-C does to a waiting dvx.
    (One sent while the process is stopped may be taken by any of its threads, and Python
    acts on it only once the main thread wakes, which a stalled server may never let it.)"""
    proc.send_signal(signal.SIGCONT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        with open(f"/proc/{proc.pid}/stat") as f:
            if f.read().rpartition(")")[2].split()[0] == "S":
                return
        time.sleep(0.01)
    raise AssertionError(f"{proc.args} did not go on: {proc.communicate()}")


def test_a_stalled_server_fails_in_bounded_time_and_a_rerun_completes(repo, dvx, own_moto):
    for i in range(8):
        write(repo / "data" / f"big{i}.bin", os.urandom(20 * MiB))
    write(repo / "small.txt", "small\n")
    assert dvx("add", "data", "small.txt").code == 0
    _s3_repo(dvx, repo, own_moto, timeout="2")
    os.kill(own_moto["pid"], signal.SIGSTOP)
    try:
        started = time.monotonic()
        proc = _dvx_process(repo, "push")
        out, err = proc.communicate(timeout=60)
        took = time.monotonic() - started
    finally:
        os.kill(own_moto["pid"], signal.SIGCONT)
    assert proc.returncode == 1, out + err
    assert took < 30  # two attempts of 2 s each, not 300 s per request
    assert "stopped answering" in err and "Traceback" not in err
    again = _pushed_once_it_answers(dvx, repo)
    assert again.code == 0, again.output


def _push_once_the_server_stops(repo: Path, server: dict[str, object],
                                point: str) -> tuple[int, str]:
    """`dvx push` stopped at fault point `point`, `server` stopped (SIGSTOP), the push let
    go on until it ends, then the server too: its exit status and stderr."""
    proc = stopped_at(point, "push", repo)
    pid = int(str(server["pid"]))
    os.kill(pid, signal.SIGSTOP)
    try:
        proc.send_signal(signal.SIGCONT)
        out, err = proc.communicate(timeout=60)
    finally:
        os.kill(pid, signal.SIGCONT)
    return proc.returncode, out + err


def test_a_push_whose_upload_stalled_sends_nothing_after_it(repo, dvx, own_moto):
    """The server stops answering as a multipart upload begins: once that upload has failed
    for want of an answer, the push log is not sent there (it would wait out the timeout
    again) but named as not attempted, and a rerun completes."""
    _s3_repo(dvx, repo, own_moto, timeout="2")
    assert dvx("remote", "modify", "s3", "chunksize", str(5 * MiB)).code == 0
    write(repo / "small.txt", "there already\n")  # named by the push log
    assert dvx("add", "small.txt").code == 0 and dvx("push").code == 0
    write(repo / "big.bin", os.urandom(11 * MiB))
    assert dvx("add", "big.bin").code == 0
    code, err = _push_once_the_server_stops(repo, own_moto, "s3.put.after_digests")
    assert code == 1, err
    assert "Failed big.bin" in err and "stopped answering" in err, err
    assert "could not write the push log on the remote: not attempted: the store stopped " \
           "answering" in err, err
    again = _pushed_once_it_answers(dvx, repo)
    assert again.code == 0, again.output


def _stalls_uploads(server: dict[str, object]) -> Callable[[], dict[str, int]]:
    """What gives the unfinished multipart uploads in `server`'s bucket `stalls`: how many
    parts each one holds, by upload id."""
    import boto3

    client = boto3.client("s3", endpoint_url=str(server["endpoint"]), region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")

    def unfinished() -> dict[str, int]:
        uploads = client.list_multipart_uploads(Bucket="stalls").get("Uploads", [])
        return {u["UploadId"]: len(client.list_parts(
            Bucket="stalls", Key=u["Key"], UploadId=u["UploadId"]).get("Parts", []))
            for u in uploads}

    return unfinished


def test_a_multipart_upload_a_stalled_server_cut_off_is_said_to_stay_until_gc_aborts_it(
        repo, dvx, own_moto):
    """The server stops answering once a part is stored: the push fails without waiting out
    an abort of the upload as well (no answer would come), and says the upload stays; a
    push once the server answers again completes, `fsck --remote` finds nothing wrong, and
    `gc --remote` aborts what the cut-off upload left."""
    _s3_repo(dvx, repo, own_moto, timeout="2")
    assert dvx("remote", "modify", "s3", "chunksize", str(5 * MiB)).code == 0
    write(repo / "big.bin", os.urandom(20 * MiB))
    assert dvx("add", "big.bin").code == 0
    unfinished = _stalls_uploads(own_moto)
    code, err = _push_once_the_server_stops(repo, own_moto, "s3.multipart.after_part")
    assert code == 1, err
    assert "Failed big.bin" in err and "the store stopped answering (no byte moved in " \
        "time); its multipart upload, cut off, stays unfinished on the remote (the store " \
        "keeps, and bills, the parts it received) until `dvx gc --remote` aborts it once " \
        "older than its grace period" in err, err
    lock_line = next(line for line in err.splitlines() if "remove the lock" in line)
    assert lock_line.endswith("not attempted: the store stopped answering (no byte moved in "
                              "time)"), err
    assert "Traceback" not in err
    assert any(unfinished().values())  # the parts the cut-off upload stored
    again = _pushed_once_it_answers(dvx, repo)
    assert again.code == 0, again.output
    checked = dvx("fsck", "--remote", "s3")
    assert checked.code == 0 and "0 corrupt, 0 missing, 0 lost" in checked.stdout, \
        checked.output
    cleaned = dvx("gc", "-w", "--remote", "s3", "--grace", "0", "-f")  # moto's are all old
    assert cleaned.code == 0 and "unfinished upload" in cleaned.stdout, cleaned.output
    assert unfinished() == {}


def test_a_multipart_upload_cut_off_is_aborted_once_its_retry_completes(repo, dvx, own_moto):
    """The server stops answering once a part is stored, and answers again as the upload is
    tried once more: the push completes, and the upload the stall cut off is aborted then,
    so the store keeps none of its parts."""
    _s3_repo(dvx, repo, own_moto, timeout="5")
    assert dvx("remote", "modify", "s3", "chunksize", str(5 * MiB)).code == 0
    write(repo / "big.bin", os.urandom(20 * MiB))
    assert dvx("add", "big.bin").code == 0
    unfinished = _stalls_uploads(own_moto)
    proc = stopped_at("s3.multipart.after_part", "-v push", repo)
    os.kill(own_moto["pid"], signal.SIGSTOP)
    said = []
    try:
        proc.send_signal(signal.SIGCONT)
        assert proc.stderr is not None
        for line in proc.stderr:  # the first attempt failed: the server answers again
            said.append(line)
            if "Retrying object" in line:
                break
    finally:
        os.kill(own_moto["pid"], signal.SIGCONT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, out + "".join(said) + err
    assert "stopped answering" in "".join(said)
    assert unfinished() == {}


@pytest.mark.parametrize("signum, code, said", [(signal.SIGINT, 130, "Interrupted"),
                                                (signal.SIGTERM, 143, "Terminated")])
def test_one_ctrl_c_ends_a_stalled_push_at_once(repo, dvx, own_moto, signum, code, said):
    """The server stops answering once a part is stored, and stays so until the push has
    ended, with a timeout of an hour: a push that ends at all waited for none of its stalled
    requests, and the one signal ended it."""
    for i in range(8):
        write(repo / "data" / f"big{i}.bin", os.urandom(20 * MiB))
    assert dvx("add", "data").code == 0
    _s3_repo(dvx, repo, own_moto, timeout="3600")
    proc = stopped_at("s3.multipart.after_part", "push", repo)  # well into the transfer...
    os.kill(own_moto["pid"], signal.SIGSTOP)  # ...when the server stops answering
    try:
        _let_go(proc)
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=60)
    finally:
        os.kill(own_moto["pid"], signal.SIGCONT)
    assert proc.returncode == code, out + err
    assert said in err and "of 9 objects were uploaded" in err  # with the manifest to come
    assert "stopped answering" not in err and "Traceback" not in err
    again = dvx("push")
    assert again.code == 0, again.output


@pytest.mark.parametrize("where", ["io_loop", "run_coroutine_threadsafe"])
def test_a_ctrl_c_before_the_io_loop_has_the_work_prints_no_python_warning(monkeypatch, where):
    """A Ctrl-C that lands before the I/O loop was handed the work (finding the loop, or
    handing it over): the work never starts, and Python has no coroutine left unawaited to
    warn about on the way out."""
    import gc
    import warnings

    from dvx.remote import aio

    def interrupted(*args: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(aio if where == "io_loop" else aio.asyncio, where, interrupted)
    started = []

    async def work() -> None:
        started.append(1)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(KeyboardInterrupt):
            aio.run(work)
        gc.collect()
    assert started == []
    assert [str(w.message) for w in caught if "never awaited" in str(w.message)] == []


def test_an_interrupted_push_counts_every_object_it_was_to_upload(repo, dvx, tmp_path):
    """Stopped while its one large file goes up, a push of 12 objects (10 small files for a
    pack, the large one, and their directory's manifest) says how many of the 12 were
    uploaded, not of the one large file in hand, nor with the manifests of directories a
    previous push sent."""
    assert dvx("remote", "add", "-d", "store", str(tmp_path / "store")).code == 0
    for name in ("d1", "d2", "d3"):
        write(repo / name / "x.txt", f"{name}\n")
    assert dvx("add", "d1", "d2", "d3").code == 0 and dvx("push").code == 0
    for i in range(10):
        write(repo / "data" / f"small{i}.txt", f"file {i}\n")
    write(repo / "data" / "big.bin", os.urandom(4 * MiB))  # above the pack threshold
    assert dvx("add", "data").code == 0
    pushing = stopped_at("transfer.after_object", "push", repo)  # the large one is up
    pushing.send_signal(signal.SIGINT)
    pushing.send_signal(signal.SIGCONT)
    _, err = pushing.communicate(timeout=60)
    assert pushing.returncode == 130, err
    assert "of 12 objects were uploaded before it stopped" in err, err


def test_a_push_stopped_when_the_remote_s_indexes_then_fail_still_ends_as_stopped(
        repo, dvx, tmp_path, monkeypatch):
    """Ctrl-C while a push's files go up, and the remote's indexes, asked then which
    manifests were still to go, fail with a library's own error (not an OSError): the push
    still ends as stopped (exit 130), counting every manifest, with no traceback."""
    from dvx.ops import sync
    from dvx.remote.inventory import Inventory
    from dvx.remote.workers import interrupted

    assert dvx("remote", "add", "-d", "store", str(tmp_path / "store")).code == 0
    write(repo / "data" / "x.txt", "x\n")
    assert dvx("add", "data").code == 0
    stopping = []
    asked = Inventory.absent

    def absent(self: Inventory, oids: set[str]) -> set[str]:
        if stopping:
            raise ValueError("a library's own error")
        return asked(self, oids)

    def upload(*args: object, **kwargs: object) -> None:
        stopping.append(True)
        raise interrupted("Uploading", 0, 1)

    monkeypatch.setattr(Inventory, "absent", absent)
    monkeypatch.setattr(sync.transfer, "upload", upload)
    pushed = dvx("push")
    assert pushed.code == 130, pushed.output
    assert "0 of 2 objects were uploaded" in pushed.stderr, pushed.output
    assert "Traceback" not in pushed.output


@pytest.mark.parametrize("kind", ["dir", "ssh"])
def test_an_interrupted_pull_says_how_many_objects_were_downloaded(repo, dvx, tmp_path,
                                                                   request, kind):
    """Stopped as its first object is stored, a pull of 5 objects (3 small ones in a pack, 2
    large loose ones) counts over all 5 what its cache holds: those complete, and the one
    being stored then, which may be whole."""
    from tests.remotes import remote_for

    spec = remote_for(kind, request, tmp_path)
    names = [f"small{i}.bin" for i in range(3)] + [f"big{i}.bin" for i in range(2)]
    for name in names:
        write(repo / name, os.urandom(3000 if name.startswith("small") else MiB + 4096))
    assert dvx("add", *names).code == 0
    configure(dvx, repo, spec)
    assert dvx("push").code == 0
    commit_all(repo)
    target = clone(repo, tmp_path)
    pulling = stopped_at("transfer.after_object", "pull", target)
    pulling.send_signal(signal.SIGINT)
    pulling.send_signal(signal.SIGCONT)
    _, err = pulling.communicate(timeout=60)
    assert pulling.returncode == 130, err
    said = re.search(r"Interrupted: (\d+) of 5 objects were downloaded before it stopped"
                     r"(, and 1 more in flight may have been too)?; the others were not\.", err)
    assert said, err
    cached = [path for path in (target / ".dvx" / "cache" / "files").rglob("*")
              if path.is_file()]
    assert int(said[1]) <= len(cached) <= int(said[1]) + bool(said[2])


def _stopped_after_its_last_object(command: str, cwd: Path) -> str:
    """`dvx command` stopped by Ctrl-C once its last object is stored at the other end (it
    stops itself there, is sent SIGINT, then let go on): what it said, exit 130 checked."""
    running = stopped_at("transfer.after_object", command, cwd)
    running.send_signal(signal.SIGINT)
    running.send_signal(signal.SIGCONT)
    _, err = running.communicate(timeout=60)
    assert running.returncode == 130, err
    assert "the others were not" not in err, err
    return " ".join(err.split())


@pytest.mark.parametrize("one_there", [False, True])
def test_a_push_stopped_after_its_last_object_says_every_object_went_and_what_is_left(
        repo, dvx, tmp_path, one_there):
    """Ctrl-C landing once the last object of a push is up: it says every object was
    uploaded, never that others were not. A push that found nothing on the remote left
    nothing to do; one that found an object there had still to write the push log naming
    it, which running it again writes, uploading nothing again."""
    assert dvx("remote", "add", "-d", "store", str(tmp_path / "store")).code == 0
    logs = tmp_path / "store" / "logs" / "push"
    if one_there:
        write(repo / "old.txt", "on the remote already\n")
        assert dvx("add", "old.txt").code == 0 and dvx("push").code == 0
    write(repo / "model.bin", os.urandom(MiB + 4096))  # above the pack threshold: loose
    assert dvx("add", "model.bin").code == 0
    said = _stopped_after_its_last_object("push", repo)
    assert "Interrupted: every object (1 of 1) was uploaded before it stopped." in said, said
    assert dvx("status", "-c").code == 0
    if not one_there:
        assert "Nothing was left half-written, and the command had nothing else left to " \
            "do." in said, said
        return
    assert "run the command again to write the push log naming the 1 object the remote " \
        "already had" in said and "(it uploads none of them again)" in said, said
    assert not logs.exists()
    again = dvx("push")
    assert again.code == 0 and "Pushed 0 objects (0 B); 2 already there" in again.output, \
        again.output
    assert len(list(logs.iterdir())) == 1


def test_a_push_stopped_before_indexing_its_packs_counts_them_as_not_uploaded(
        repo, dvx, tmp_path):
    """Ctrl-C landing once a push's last pack is up but before the index naming it is
    written: no reader (nor the next push) sees those objects, so they are counted as not
    uploaded, never as every object with nothing left to do; the next push uploads them."""
    assert dvx("remote", "add", "-d", "store", str(tmp_path / "store")).code == 0
    for name in ("a", "b"):
        write(repo / name, f"{name}\n")  # small: packed
    assert dvx("add", "a", "b").code == 0
    pushing = stopped_at("packs.before_index", "push", repo)
    pushing.send_signal(signal.SIGINT)
    pushing.send_signal(signal.SIGCONT)
    _, err = pushing.communicate(timeout=60)
    assert pushing.returncode == 130, err
    said = " ".join(err.split())
    assert "Interrupted: 0 of 2 objects were uploaded before it stopped; the others were " \
        "not." in said, said
    assert "every object" not in said, said
    assert "2 objects not on the remote" in dvx("status", "-c").stdout
    again = dvx("push")
    assert again.code == 0 and "Pushed 2 objects" in again.output, again.output
    assert "not on the remote" not in dvx("status", "-c").stdout


def _push_of_a_folder_stopped_at(point: str, dvx, repo: Path, tmp_path: Path) -> str:
    """A push of a folder of one large file and two small ones (packed), and of its
    manifest, stopped by Ctrl-C at the fault point `point`: what it said, exit 130 checked."""
    assert dvx("remote", "add", "-d", "store", str(tmp_path / "store")).code == 0
    write(repo / "d" / "large.bin", os.urandom(MiB + 4096))  # above the pack threshold: loose
    for name in ("a", "b"):
        write(repo / "d" / name, f"{name}\n")
    assert dvx("add", "d").code == 0
    pushing = stopped_at(point, "push", repo)
    pushing.send_signal(signal.SIGINT)
    pushing.send_signal(signal.SIGCONT)
    _, err = pushing.communicate(timeout=60)
    assert pushing.returncode == 130, err
    return " ".join(err.split())


@pytest.mark.parametrize("point", ["packs.after_index", "push.before_manifests"])
def test_a_push_stopped_once_its_files_are_indexed_counts_them_all_as_uploaded(
        repo, dvx, tmp_path, point):
    """Ctrl-C landing just after the index naming a push's packs is written, or after every
    file went up but before the manifests: the packed files count as uploaded beside the
    loose one, as a reader (and the next push) finds them all, out of the files and the
    manifest together; the next push uploads only the manifest."""
    said = _push_of_a_folder_stopped_at(point, dvx, repo, tmp_path)
    assert "Interrupted: 3 of 4 objects were uploaded before it stopped; the others were " \
        "not." in said, said
    again = dvx("push")
    assert again.code == 0 and "Pushed 1 object" in again.output, again.output
    assert "3 already there" in again.output, again.output


@pytest.mark.parametrize("point, said_then, pushed_again", [
    ("inventory.before_listing", "nothing was uploaded before it stopped.", "Pushed 4 objects"),
    ("inventory.before_listing:2", "3 objects were uploaded before it stopped; the others were "
     "not.", "Pushed 1 object")])
def test_a_push_stopped_while_it_looks_at_the_remote_says_what_was_uploaded_by_then(
        repo, dvx, tmp_path, point, said_then, pushed_again):
    """Ctrl-C while a push finds what the remote lacks, before its first upload (the files'),
    or before its manifest goes up: it says that nothing was uploaded yet, or how many
    objects were, never a bare "Interrupted"; running it again finishes."""
    said = _push_of_a_folder_stopped_at(point, dvx, repo, tmp_path)
    assert f"Interrupted: {said_then} Nothing was left half-written; run the command again " \
        "to finish." in said, said
    assert "Traceback" not in said
    again = dvx("push")
    assert again.code == 0 and pushed_again in again.output, again.output
    assert "not on the remote" not in dvx("status", "-c").stdout


def test_a_pull_stopped_after_its_last_object_says_every_object_came_and_the_checkout_is_left(
        repo, dvx, tmp_path):
    """Ctrl-C landing once the last object of a pull is stored: it says every object was
    downloaded and that running it again checks out the data, downloading none again,
    which it then does."""
    assert dvx("remote", "add", "-d", "store", str(tmp_path / "store")).code == 0
    write(repo / "model.bin", os.urandom(MiB + 4096))
    assert dvx("add", "model.bin").code == 0 and dvx("push").code == 0
    commit_all(repo)
    target = clone(repo, tmp_path)
    said = _stopped_after_its_last_object("pull", target)
    assert "Interrupted: every object (1 of 1) was downloaded before it stopped. Nothing was " \
        "left half-written; run the command again to check out the data (it downloads none " \
        "of them again)." in said, said
    assert not (target / "model.bin").exists()
    again = run_dvx_proc("pull", cwd=target)
    assert again.code == 0 and "Fetched 0 objects" in again.output, again.output
    assert (target / "model.bin").read_bytes() == (repo / "model.bin").read_bytes()


def test_a_pull_stopped_after_a_directory_s_manifest_says_its_files_are_still_to_come(
        repo, dvx, tmp_path):
    """Ctrl-C landing once the manifest of a directory is stored, before its files: the pull
    had more to download than the manifest, so it never says every object came; running it
    again downloads the files and checks them out."""
    assert dvx("remote", "add", "-d", "store", str(tmp_path / "store")).code == 0
    assert dvx("remote", "modify", "store", "pack_threshold", "0").code == 0  # all loose
    for name in ("x", "y"):
        write(repo / "d" / name, f"{name}\n")
    assert dvx("add", "d").code == 0 and dvx("push").code == 0
    commit_all(repo)
    target = clone(repo, tmp_path)
    pulling = stopped_at("transfer.after_object", "pull", target)  # the manifest's
    pulling.send_signal(signal.SIGINT)
    pulling.send_signal(signal.SIGCONT)
    _, err = pulling.communicate(timeout=60)
    assert pulling.returncode == 130, err
    said = " ".join(err.split())
    assert "Interrupted: 1 object was downloaded before it stopped; the others were not." \
        in said, said
    assert "every object" not in said, said
    again = run_dvx_proc("pull", cwd=target)
    assert again.code == 0 and "Fetched 2 objects" in again.output, again.output
    assert tree_bytes(target / "d") == tree_bytes(repo / "d")


def _stopped_children(pid: int) -> list[int]:
    """The live child processes of `pid`, once every one of them (at least one) is stopped."""
    children = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            children.append((int(entry), fields[0]))
    return [child for child, _ in children] if children and all(
        state == "T" for _, state in children) else []


def test_an_interrupted_pull_of_many_tiny_packed_objects_counts_those_stored(
        repo, dvx, tmp_path, request):
    """Thousands of tiny packed objects are stored by worker processes after their reads:
    Ctrl-C while they store counts each object whose storing was reported done (the
    directory's manifest with them, over all the pull needed), never 0 while the cache
    holds hundreds; those of the workers stopped then may be there too, and are said to be."""
    from dvx.processes import MIN_ITEMS, worker_count
    from tests.remotes import remote_for

    if worker_count() < 2:
        pytest.skip("one core: tiny objects are stored on threads, as they come")
    count = MIN_ITEMS + 100
    for i in range(count):
        write(repo / "imgs" / f"{i}.bin", os.urandom(100 + i % 400))
    assert dvx("add", "imgs").code == 0
    configure(dvx, repo, remote_for("moto", request, tmp_path))
    assert dvx("push").code == 0
    commit_all(repo)
    target = clone(repo, tmp_path)
    # Each worker stops (SIGSTOP) at its 200th object: three chunks of 64 reported by then.
    # Its own session, so that its stopped workers go with it whatever fails here.
    pulling = subprocess.Popen(
        [sys.executable, "-m", "dvx", "pull"], cwd=target, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL, start_new_session=True,
        env={**os.environ, "DVX_FAULT": "transfer.after_object:200",
             "DVX_FAULT_ACTION": "stop"})
    try:
        deadline = time.monotonic() + 120
        while not _stopped_children(pulling.pid):
            assert time.monotonic() < deadline and pulling.poll() is None
            time.sleep(0.05)
        pulling.send_signal(signal.SIGINT)  # its workers are killed, stopped as they are
        _, err = pulling.communicate(timeout=60)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pulling.pid, signal.SIGKILL)
        pulling.communicate()
    assert pulling.returncode == 130, err
    said = re.search(rf"Interrupted: (\d+) of {count + 1} objects were downloaded before it "
                     r"stopped, and some in flight may have been too; the others were not\.",
                     " ".join(err.split()))
    assert said, err
    cached = [path for path in (target / ".dvx" / "cache" / "files").rglob("*")
              if path.is_file()]
    assert 64 < int(said[1]) <= len(cached) < count, (said[0], len(cached))


def _large_files_to_push(dvx, repo: Path, count: int) -> None:
    """`count` files above the size of a pack's and of an unnamed copy's (1 MiB): each goes
    up alone, under a temporary name, then renamed (directory and SSH remotes)."""
    for i in range(count):
        write(repo / "data" / f"f{i:02d}.bin", os.urandom(MiB + 4096))
    assert dvx("add", "data").code == 0


def _temporaries(spec) -> list[str]:
    return [key for key in spec.list_raw()
            if key.rpartition("/")[2].startswith(".") and key.endswith(".tmp")]


@pytest.mark.parametrize("kind", ["dir", "ssh", "moto"])
def test_an_interrupted_push_says_exactly_how_many_objects_the_remote_holds(
        repo, dvx, tmp_path, request, kind):
    """Ctrl-C in the middle of a batch of objects (a directory remote hands a thread 32 at a
    time): the count is of the objects complete on the remote, each counted as it completed,
    once the ones in hand have ended; none is started after it, and no temporary stays.
    With --json, stdout stays empty: no report of a push that did not finish."""
    from tests.remotes import remote_for

    spec = remote_for(kind, request, tmp_path)
    _large_files_to_push(dvx, repo, 12)
    configure(dvx, repo, spec)
    pushing = stopped_at("transfer.after_object:2", "push --json", repo)
    pushing.send_signal(signal.SIGINT)
    pushing.send_signal(signal.SIGCONT)
    out, err = pushing.communicate(timeout=60)
    assert pushing.returncode == 130 and out == "", out + err
    said = re.search(r"Interrupted: (\d+) of 13 objects were uploaded before it stopped; "
                     r"the others were not\.", err)
    assert said, err
    assert int(said[1]) == len(spec.loose()) >= 2
    assert _temporaries(spec) == []
    again = dvx("push")
    assert again.code == 0 and f"; {said[1]} already there" in again.output, again.output


@pytest.mark.parametrize("kind, point", [("dir", "odb.put.before_rename"),
                                         ("ssh", "put_file.before_check")])
def test_an_upload_still_in_flight_when_a_push_stops_is_said_and_its_temporary_removed(
        repo, dvx, tmp_path, request, kind, point):
    """An upload that does not end when Ctrl-C stops the push (a hung mount, a server that
    stopped answering: here it hangs before its rename) is waited for a moment only; the
    message says it may be on the remote (whole, if so), and its temporary is removed."""
    from tests.remotes import remote_for

    spec = remote_for(kind, request, tmp_path)
    _large_files_to_push(dvx, repo, 3)
    configure(dvx, repo, spec)
    pushing = _dvx_process(repo, "push", "-j", "1", env={
        "DVX_FAULT": f"{point}:2", "DVX_FAULT_ACTION": "hang"})
    try:
        deadline = time.monotonic() + 60
        while not (len(spec.loose()) == 1 and _temporaries(spec)):  # the second one hangs
            assert time.monotonic() < deadline and pushing.poll() is None, spec.list_raw()
            time.sleep(0.02)
        pushing.send_signal(signal.SIGINT)
        _, err = pushing.communicate(timeout=60)
    finally:
        pushing.kill()
    assert pushing.returncode == 130, err
    assert ("Interrupted: 1 of 4 objects were uploaded before it stopped, and 1 more in "
            "flight may have been too; the others were not.") in err, err
    assert len(spec.loose()) == 1
    assert _temporaries(spec) == []
    assert dvx("push").code == 0


@pytest.mark.parametrize("backend, signum, code", [
    ("dir", signal.SIGINT, 130), ("s3", signal.SIGINT, 130),
    ("dir", signal.SIGTERM, 143),  # `kill PID`: the same, reported as Terminated
    ("dir", signal.SIGHUP, 129),  # the terminal closed: the same, reported as Hung up
])
def test_ctrl_c_during_pull_leaves_no_partial_download(repo, dvx, tmp_path, own_moto,
                                                        backend, signum, code):
    data = os.urandom(64 * MiB)
    write(repo / "big.bin", data)
    assert dvx("add", "big.bin").code == 0
    store = tmp_path / "store"
    if backend == "s3":
        _s3_repo(dvx, repo, own_moto, timeout="120")
    else:
        assert dvx("remote", "add", "-d", "store", str(store)).code == 0
    assert dvx("push").code == 0
    commit_all(repo)
    target = clone(repo, tmp_path)
    tmp_dir = target / ".dvx" / "cache" / "tmp"
    point = "s3.stream.after_piece" if backend == "s3" else "read_into.after_block:2"
    proc = stopped_at(point, "pull", target)
    assert list(tmp_dir.iterdir())  # mid-download
    try:
        if backend == "s3":  # the server stops answering: the rest can never come
            os.kill(own_moto["pid"], signal.SIGSTOP)
            _let_go(proc)
            proc.send_signal(signum)
        else:  # a disk does not stall: signalled first, dvx stops before it checks out the
            proc.send_signal(signum)  # file, though it may read the rest before it notices
            proc.send_signal(signal.SIGCONT)
        out, err = proc.communicate(timeout=30)
    finally:
        os.kill(own_moto["pid"], signal.SIGCONT)
    assert proc.returncode == code, out + err
    assert {130: "Interrupted", 143: "Terminated", 129: "Hung up"}[code] in err
    assert "Traceback" not in err
    assert list(tmp_dir.iterdir()) == []
    assert not (target / "big.bin").exists()
    again = dvx("pull", cwd=target)
    assert again.code == 0, again.output
    assert (target / "big.bin").read_bytes() == data


@pytest.mark.parametrize("server", ["moto_s3", "seaweed_s3"])
def test_a_push_killed_mid_multipart_upload_is_finished_by_a_rerun(repo, dvx, tmp_path, request,
                                                                   server):
    """The killed run leaves an unfinished multipart upload on the store; the rerun starts
    its own (never NoSuchUpload), and the object is whole."""
    from tests.remotes import _s3_spec

    spec = _s3_spec(request.getfixturevalue(server), request)
    data = os.urandom(21 * MiB)
    write(repo / "big.bin", data)
    assert dvx("add", "big.bin").code == 0
    configure(dvx, repo, spec)
    assert dvx("remote", "modify", "r", "chunksize", str(5 * MiB)).code == 0
    killed = run_dvx_proc("push", cwd=repo, env={"DVX_FAULT": "s3.multipart.after_part:2"})
    assert killed.code == -9, killed.output
    again = dvx("push")
    assert again.code == 0 and "NoSuchUpload" not in again.output, again.output
    oid = xxhash.xxh3_128_hexdigest(data)
    assert spec.read_raw(oid) == data


def _multipart_push(dvx, repo: Path, server: dict[str, object], request
                    ) -> Callable[[], dict[str, int]]:
    """A repository whose push of one 120 MiB file to a fresh bucket on `server` is a
    multipart upload of 24 parts; what gives the unfinished uploads in that bucket (each
    key with the number of parts stored)."""
    import boto3

    from tests.remotes import _s3_spec

    spec = _s3_spec(server, request)
    write(repo / "big.bin", os.urandom(120 * MiB))
    assert dvx("add", "big.bin").code == 0
    configure(dvx, repo, spec)
    assert dvx("remote", "modify", "r", "chunksize", str(5 * MiB)).code == 0
    client = boto3.client("s3", endpoint_url=server["endpoint_url"],
                          aws_access_key_id=server["key"],
                          aws_secret_access_key=server["secret"], region_name="us-east-1")
    bucket = spec.url.split("/")[2]

    def unfinished() -> dict[str, int]:
        uploads = client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
        return {u["Key"]: len(client.list_parts(Bucket=bucket, Key=u["Key"], UploadId=u[
            "UploadId"]).get("Parts", [])) for u in uploads}

    return unfinished


@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_an_interrupted_push_aborts_its_multipart_upload(repo, dvx, request, seaweed_s3, signum,
                                                         code):
    """Ctrl-C or SIGTERM during a multipart upload: the push stops at once, but first aborts
    the upload, so the store keeps (and bills) none of its parts."""
    unfinished = _multipart_push(dvx, repo, seaweed_s3, request)
    # stopped once a part is stored: a push left to run could store every part (and finish)
    # before the test saw the first one
    proc = stopped_at("s3.multipart.after_part", "push", repo)
    assert any(unfinished().values())
    proc.send_signal(signum)
    proc.send_signal(signal.SIGCONT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert "Traceback" not in err
    assert unfinished() == {}
    assert dvx("status", "-c").stdout  # the push was stopped, not finished: still to push


def test_gc_remote_aborts_the_multipart_uploads_killed_pushes_left(repo, dvx, request,
                                                                   seaweed_s3):
    """A push killed with kill -9 cannot abort its upload: `gc --remote` does, once it is
    older than the grace period, and says so. (SeaweedFS: moto gives every upload the same
    start time, years ago.)"""
    unfinished = _multipart_push(dvx, repo, seaweed_s3, request)
    killed = run_dvx_proc("push", cwd=repo, env={"DVX_FAULT": "s3.multipart.after_part:2"})
    assert killed.code == -9, killed.output
    assert len(unfinished()) == 1
    young = dvx("gc", "-w", "--remote", "r", "-f")  # the default grace period: an hour
    assert young.code == 0 and "unfinished upload" not in young.output, young.output
    assert len(unfinished()) == 1
    planned = dvx("gc", "-w", "--remote", "r", "--dry-run", "--grace", "0")
    assert "Would abort 1 unfinished upload on the remote 'r'" in planned.stdout
    assert len(unfinished()) == 1
    done = dvx("gc", "-w", "--remote", "r", "-f", "--grace", "0", "--json")
    assert done.code == 0, done.output
    assert [r.get("uploads_aborted") for r in json.loads(done.stdout)] == [None, 1]
    assert unfinished() == {}


def test_gc_remote_aborts_only_the_uploads_of_names_dvx_writes(repo, dvx, request, moto_s3):
    """Another tool uploading in parts under the remote's prefix (a backup, beside packs/)
    keeps its upload; a dvx object's, pack's or index's abandoned upload is aborted. (moto
    gives every upload a start years ago: each is older than the grace period.)"""
    import boto3

    from tests.remotes import _s3_spec

    spec = _s3_spec(moto_s3, request)
    write(repo / "a.txt", "hi\n")
    assert dvx("add", "a.txt").code == 0
    configure(dvx, repo, spec)
    commit_all(repo)
    assert dvx("push").code == 0
    client = boto3.client("s3", endpoint_url=moto_s3["endpoint_url"], region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    bucket = spec.url.split("/")[2]
    oid = "ab" * 16
    ours = [f"project/files/xxh128/{oid[:2]}/{oid[2:]}", f"project/packs/{oid}.pack",
            f"project/indexes/{oid}.idx"]
    others = ["project/backups/nightly-db-dump.tar", "project/packs/notes.pack",
              f"project/files/xxh128/{oid[:2]}/{oid[2:]}.tar", "elsewhere/files/a"]
    for key in ours + others:
        client.create_multipart_upload(Bucket=bucket, Key=key)

    def unfinished() -> set[str]:
        return {u["Key"] for u in client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])}

    planned = dvx("gc", "-w", "--remote", "r", "--dry-run", "--json")
    assert [r.get("uploads_aborted") for r in json.loads(planned.stdout)] == [None, 3]
    done = dvx("gc", "-w", "--remote", "r", "-f")
    assert done.code == 0, done.output
    assert "Aborted 3 unfinished uploads on the remote 'r'" in done.stdout
    assert unfinished() == set(others)

class _Counting(http.server.BaseHTTPRequestHandler):
    """Passes each request on to the S3 server at `upstream`, counting those received and
    not yet answered: `peak` is the most at once. A request leaves the count before its
    answer goes out, so a client that waits for each answer is never counted twice."""
    protocol_version = "HTTP/1.1"
    upstream = ""
    lock = threading.Lock()
    counts: ClassVar[dict[str, int]] = {}

    def __init__(self, *args: object, directory: str = "") -> None:  # serving() passes one
        super().__init__(*args)  # type: ignore[arg-type]

    def log_message(self, *args: object) -> None:
        pass

    def forward(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with self.lock:
            self.counts["now"] += 1
            self.counts["peak"] = max(self.counts["peak"], self.counts["now"])
        try:
            connection = http.client.HTTPConnection(self.upstream, timeout=60)
            connection.request(self.command, self.path, body, dict(self.headers.items()))
            answer = connection.getresponse()
            data = answer.read()
            connection.close()
        finally:
            with self.lock:
                self.counts["now"] -= 1
        self.send_response(answer.status)
        for name, value in answer.getheaders():
            if name.lower() not in ("connection", "transfer-encoding", "content-length"):
                self.send_header(name, value)
        length = answer.getheader("Content-Length") if self.command == "HEAD" else None
        self.send_header("Content-Length", length or str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = forward


@pytest.mark.parametrize("how", ["-j", "jobs option"])
def test_jobs_bounds_the_requests_in_flight_on_s3(repo, dvx, moto_s3, how):
    """-j (or the remote's `jobs`) is requests in flight, on the lean S3 client too, whose
    existence checks, batches of small uploads and downloads go out together: a server or
    proxy that takes one request at a time is never sent two."""
    import boto3

    boto3.client("s3", endpoint_url=moto_s3["endpoint_url"], aws_access_key_id="testing",
                 aws_secret_access_key="testing", region_name="us-east-1"
                 ).create_bucket(Bucket="one-at-a-time")
    for i in range(40):
        write(repo / "data" / f"{i:02d}.txt", f"file {i}\n")
    assert dvx("add", "data").code == 0
    counts = {"now": 0, "peak": 0}
    handler = type("Handler", (_Counting,), {
        "upstream": moto_s3["endpoint_url"].split("://")[1], "counts": counts})
    with serving(handler, repo) as url:
        for args in (("remote", "add", "-d", "s3", "s3://one-at-a-time/p"),
                     ("remote", "modify", "s3", "endpointurl", url),
                     ("remote", "modify", "s3", "pack_threshold", "0"),  # a request each
                     ("remote", "modify", "--local", "s3", "access_key_id", "testing"),
                     ("remote", "modify", "--local", "s3", "secret_access_key", "testing")):
            assert dvx(*args).code == 0
        one = ("-j", "1") if how == "-j" else ()
        if how == "jobs option":
            assert dvx("remote", "modify", "s3", "jobs", "1").code == 0
        commit_all(repo)
        for args in (("push", *one), ("status", "-c", *one)):
            result = dvx(*args)
            assert result.code == 0, result.output
        target = clone(repo, repo.parent, "clone")
        pulled = dvx("pull", *one, cwd=target)
        assert pulled.code == 0, pulled.output
        assert counts["peak"] == 1, counts
        if how == "jobs option":
            assert dvx("remote", "modify", "--unset", "s3", "jobs").code == 0
        assert dvx("status", "-c").code == 0  # the default: many at once
    assert counts["peak"] > 1, counts


@pytest.mark.parametrize("command", [("push",), ("pull",), ("fetch",), ("status", "-c"),
                                     ("fsck", "--remote", "store")])
def test_a_jobs_count_past_65536_is_refused_by_every_transfer_as_by_repro(repo, dvx, tmp_path,
                                                                          command):
    """-j of push, pull, fetch, status -c and fsck --remote takes 1 to 65536, as repro's and
    exp run's do, with the same message; so does a remote's `jobs`, which is its default."""
    write(repo / "a.txt", "a\n")
    assert dvx("add", "a.txt").code == 0
    assert dvx("remote", "add", "-d", "store", str(tmp_path / "store")).code == 0
    refused = dvx(*command, "-j", "70000")
    assert refused.code == 2 and "70000" in refused.output, refused.output
    assert "is not in the range 1<=x<=65536" in refused.output, refused.output
    if command != ("push",):  # the remote there, with the data to pull or check
        assert dvx("push").code == 0
    most = dvx(*command, "-j", "65536")
    assert most.code == 0, most.output
    too_many = dvx("remote", "modify", "store", "jobs", "65537")
    assert too_many.code == 2 and "1 to 65536" in too_many.stderr, too_many.output
    assert dvx("remote", "modify", "store", "jobs", "65536").code == 0


@pytest.mark.parametrize("command", [("push",), ("pull",), ("fetch",), ("status", "-c"),
                                     ("fsck", "--remote", "store")])
def test_a_committed_jobs_past_65536_gives_way_to_j_and_is_named_where_it_is_set(
        repo, dvx, tmp_path, command):
    """A remote's `jobs` written before the bound (or by hand) stops no command given -j,
    which wins over it; without -j the command is refused, naming the file that sets it and
    the command that fixes it, which then works."""
    write(repo / "a.txt", "a\n")
    assert dvx("add", "a.txt").code == 0
    assert dvx("remote", "add", "-d", "store", str(tmp_path / "store")).code == 0
    config = repo / ".dvx" / "config"
    config.write_text(config.read_text().replace('[remote "store"]\n',
                                                 '[remote "store"]\njobs = 100000\n'))
    if command != ("push",):  # the remote there, with the data to pull or check
        assert dvx("push", "-j", "4").code == 0
    cache = repo / ".dvx" / "cache"

    def run(*args: str) -> Any:
        if command[0] in ("pull", "fetch"):  # the object to download, from the remote
            shutil.rmtree(cache, ignore_errors=True)
        return dvx(*args)

    given = run(*command, "-j", "4")
    assert given.code == 0, given.output
    refused = run(*command)
    assert refused.code != 0 and "Invalid value '100000' for remote \"store\".jobs" in \
        refused.stderr and "the project config (.dvx/config)" in refused.stderr, refused.output
    said = " ".join(refused.stderr.split())
    assert "Fix it with `dvx remote modify store jobs VALUE`; a command's -j (--jobs) wins " \
        "over it." in said, refused.output
    assert "Traceback" not in refused.output
    assert dvx("remote", "modify", "store", "jobs", "4").code == 0
    fixed = run(*command)
    assert fixed.code == 0, fixed.output


def _jobs_past_the_bound(repo: Path) -> None:
    """The remote 'store' of `repo` given a `jobs` dvx refuses, as a hand edit (or a dvx
    before the bound) wrote it."""
    config = repo / ".dvx" / "config"
    config.write_text(config.read_text().replace('[remote "store"]\n',
                                                 '[remote "store"]\njobs = 100000\n'))


def _named_with_its_config_fix_alone(text: str) -> None:
    """`text` names the bad `jobs`, its file and the command that fixes it, and no -j that
    would win over it: the command that said it has none."""
    said = " ".join(text.split())
    assert "Invalid value '100000' for remote \"store\".jobs" in said, said
    assert "the project config (.dvx/config)" in said, said
    assert "Fix it with `dvx remote modify store jobs VALUE`." in said, said
    assert "-j (--jobs)" not in said and "wins over it" not in said, said
    assert "Traceback" not in said, said


def _two_versions_pushed(repo: Path, dvx, tmp_path: Path) -> None:
    """d, then d with one file more, each committed and pushed to the remote 'store'."""
    assert dvx("remote", "add", "-d", "store", str(tmp_path / "store"), cwd=repo).code == 0
    write(repo / "d" / "a", "a\n")
    assert dvx("add", "d", cwd=repo).code == 0
    commit_all(repo, "v1")
    assert dvx("push", cwd=repo).code == 0
    write(repo / "d" / "b", "b\n")
    assert dvx("add", "d", cwd=repo).code == 0
    commit_all(repo, "v2")
    assert dvx("push", cwd=repo).code == 0


def test_diff_names_a_jobs_past_65536_with_its_config_fix_and_no_j(repo, dvx, tmp_path):
    """`dvx diff`, which has no -j, fetching a manifest the cache lacks names a remote's
    `jobs` past the bound with the config fix alone; fixed, it fetches the manifest."""
    _two_versions_pushed(repo, dvx, tmp_path)
    shutil.rmtree(repo / ".dvx" / "cache")
    _jobs_past_the_bound(repo)
    shown = dvx("diff", "--json", "HEAD~1", "HEAD")
    assert shown.code == 0, shown.output
    problems = json.loads(shown.stdout)["problems"]
    assert problems, shown.stdout
    for problem in problems:
        _named_with_its_config_fix_alone(problem)
    assert dvx("remote", "modify", "store", "jobs", "4").code == 0
    fixed = dvx("diff", "--json", "HEAD~1", "HEAD")
    assert [f["path"] for f in json.loads(fixed.stdout)["added"]] == ["d/b"], fixed.output


def test_gc_of_a_remote_names_a_jobs_past_65536_with_its_config_fix_and_no_j(repo, dvx, tmp_path):
    """`dvx gc --remote`, which has no -j, stops on a remote's `jobs` past the bound naming
    the config fix alone, before it deletes anything there (a run record of the run-cache
    needing an object it would delete goes first, when it goes); fixed, it collects."""
    assert dvx("remote", "add", "-d", "store", str(tmp_path / "store")).code == 0
    write(repo / "dvx.yaml", "stages:\n  gen:\n    cmd: cat params.yaml > out.txt\n"
                             "    params: [n]\n    outs: [out.txt]\n")
    for value in ("1", "2"):
        write(repo / "params.yaml", f"n: {value}\n")
        assert dvx("repro").code == 0
        assert dvx("push", "--run-cache").code == 0
    commit_all(repo, "n 2")
    store = tmp_path / "store"
    stored = sorted(p.relative_to(store) for p in store.rglob("*") if p.is_file())
    assert [p for p in stored if p.parts[0] == "runs"], stored
    _jobs_past_the_bound(repo)
    refused = dvx("gc", "-w", "--remote", "store", "-f", "--grace", "0")
    assert refused.code != 0, refused.output
    _named_with_its_config_fix_alone(refused.stderr)
    assert sorted(p.relative_to(store) for p in store.rglob("*") if p.is_file()) == stored
    assert dvx("remote", "modify", "store", "jobs", "4").code == 0
    collected = dvx("gc", "-w", "--remote", "store", "-f", "--grace", "0")
    assert collected.code == 0, collected.output
    assert "1 run record" in collected.stdout, collected.output


def test_import_and_update_from_a_source_whose_jobs_is_past_65536_use_the_store_s_default(
        repo, dvx, tmp_path):
    """`dvx import` and `update` downloading from a source project's remote whose committed
    `jobs` dvx refuses go on at the store's own default: that setting only tunes speed, and
    the reader cannot fix another project's config."""
    source = make_git_repo(tmp_path / "source")
    assert dvx("init", cwd=source).code == 0
    _two_versions_pushed(source, dvx, tmp_path)
    _jobs_past_the_bound(source)
    commit_all(source, "jobs past the bound")
    write(source / "d" / "c", "c\n")
    assert dvx("add", "d", cwd=source).code == 0
    assert dvx("push", "-j", "4", cwd=source).code == 0
    commit_all(source, "v3")
    shutil.rmtree(source / ".dvx" / "cache")  # the data comes from the source's remote
    imported = dvx("import", str(source), "d", "--out", "d", "--rev", "HEAD~1")
    assert imported.code == 0, imported.output
    assert sorted(p.name for p in (repo / "d").iterdir()) == ["a", "b"]
    updated = dvx("update", "d.dvx", "--rev", "HEAD")
    assert updated.code == 0, updated.output
    assert sorted(p.name for p in (repo / "d").iterdir()) == ["a", "b", "c"]
    assert "jobs" not in imported.output + updated.output


@pytest.mark.parametrize("retries", ["1e9", "-3", "many"])
def test_import_get_and_update_from_a_source_whose_retries_dvx_refuses_use_the_default(
        repo, dvx, tmp_path, retries):
    """A source project's remote whose committed `retries` dvx refuses (a number in a form
    `remote modify` never writes, a negative one, or no number) is read as with no `retries`
    set, as its `jobs` is: the setting only tunes how hard a failing request is tried, and
    the reader cannot fix another project's config."""
    source = make_git_repo(tmp_path / "source")
    assert dvx("init", cwd=source).code == 0
    _two_versions_pushed(source, dvx, tmp_path)
    write(source / "d" / "c", "c\n")
    assert dvx("add", "d", cwd=source).code == 0 and dvx("push", cwd=source).code == 0
    config = source / ".dvx" / "config"
    config.write_text(config.read_text().replace('[remote "store"]\n',
                                                 f'[remote "store"]\nretries = {retries}\n'))
    commit_all(source, "v3, with a retries dvx refuses")
    shutil.rmtree(source / ".dvx" / "cache")  # the data comes from the source's remote
    imported = dvx("import", str(source), "d", "--out", "d")
    assert imported.code == 0, imported.output
    assert sorted(p.name for p in (repo / "d").iterdir()) == ["a", "b", "c"]
    assert dvx("import", str(source), "d", "--out", "e", "--rev", "HEAD~1").code == 0
    updated = dvx("update", "e.dvx", "--rev", "HEAD")
    assert updated.code == 0, updated.output
    assert sorted(p.name for p in (repo / "e").iterdir()) == ["a", "b", "c"]
    got = dvx("get", str(source), "d", "-o", "got")
    assert got.code == 0, got.output
    assert (repo / "got" / "c").read_text() == "c\n"
    assert "retries" not in imported.output + updated.output + got.output


def _source_with_remote_option(dvx, tmp_path: Path, key: str, value: str) -> Path:
    """A source project whose data is pushed to its default remote 'store', and whose
    committed .dvx/config then sets `key = value` for that remote."""
    source = make_git_repo(tmp_path / "source")
    assert dvx("init", cwd=source).code == 0
    _two_versions_pushed(source, dvx, tmp_path)
    config = source / ".dvx" / "config"
    config.write_text(config.read_text().replace('[remote "store"]\n',
                                                 f'[remote "store"]\n{key} = {value}\n'))
    commit_all(source, f"{key} = {value}")
    shutil.rmtree(source / ".dvx" / "cache")  # the data comes from the source's remote
    return source


@pytest.mark.parametrize("timeout", ["abc", "0", "-1", "inf"])
def test_ls_get_import_and_update_from_a_source_whose_timeout_dvx_refuses_use_the_default(
        repo, dvx, tmp_path, timeout):
    """A source project's remote whose committed `timeout` dvx refuses is read as with no
    `timeout` set, as its `retries` and `jobs` are: it only tunes how long a silent request
    waits, and the reader cannot fix another project's config."""
    source = _source_with_remote_option(dvx, tmp_path, "timeout", timeout)
    listed = dvx("ls", str(source), "d")
    assert listed.code == 0, listed.output
    assert dvx("import", str(source), "d", "--out", "d", "--rev", "HEAD~1").code == 0
    updated = dvx("update", "d.dvx", "--rev", "HEAD")
    assert updated.code == 0, updated.output
    assert sorted(p.name for p in (repo / "d").iterdir()) == ["a", "b"]
    got = dvx("get", str(source), "d", "-o", "got")
    assert got.code == 0, got.output
    assert (repo / "got" / "b").read_text() == "b\n"
    assert "timeout" not in listed.output + updated.output + got.output


def test_a_source_s_retries_past_the_default_is_capped_at_the_default(repo, dvx, tmp_path):
    """A source project cannot make a reader try a failing request more often than dvx's
    default: its committed `retries` is obeyed up to that, and no further."""
    from dvx.config import Config
    from dvx.ops.remote import open_source_remote, settings_for
    from dvx.remote.backends import DEFAULT_RETRIES
    from dvx.repo import Repo

    reader = Repo(str(repo))
    for retries, obeyed in (("1000000000", DEFAULT_RETRIES), ("2", 2)):
        source = _source_with_remote_option(dvx, tmp_path / retries, "retries", retries)
        config = Config(str(source / ".dvx"))
        name, store = open_source_remote(reader, config, None, (), str(source),
                                         str(tmp_path / retries / "indexes"))
        assert settings_for(reader, name, store, None, source=config).retries == obeyed


def test_a_source_s_remote_option_dvx_refuses_is_named_as_the_source_s_to_fix(
        repo, dvx, tmp_path):
    """A committed option of a source project's remote that dvx refuses, and cannot read as
    unset, stops the command with a hint that it is fixed in the source repository, not by
    pushing data there, nor with the reader's own `dvx remote`."""
    source = _source_with_remote_option(dvx, tmp_path, "pack_size", "12")
    refused = dvx("get", str(source), "d", "-o", "got")
    assert refused.code == 1, refused.output
    assert "pack_size" in refused.stderr, refused.stderr
    assert "It must be fixed in the source repository's .dvx/config, and committed there" \
        in refused.stderr, refused.stderr
    assert "pushed there" not in refused.stderr and "dvx remote" not in refused.stderr
    assert not (repo / "got").exists()
