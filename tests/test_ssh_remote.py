"""SSH remotes against a real sshd on loopback: what a user sees when the server refuses
something or does not answer (the remote contract suite covers the round trips)."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import git, make_git_repo, mounted_tmpfs, stopped_at, tree_bytes, write


def _ssh_remote(dvx, sshd, path) -> None:
    url = f"ssh://{sshd['user']}@{sshd['host']}:{sshd['port']}{path}"
    assert dvx("remote", "add", "-d", "s", url).code == 0
    assert dvx("remote", "modify", "s", "keyfile", sshd["keyfile"]).code == 0
    assert dvx("remote", "modify", "s", "known_hosts", sshd["known_hosts"]).code == 0


def test_a_remote_path_under_a_regular_file_is_named(repo, dvx, tmp_path, sshd):
    write(repo / "f", "hi")
    assert dvx("add", "f").code == 0
    plain = tmp_path / "plainfile"
    plain.write_text("not a directory")
    _ssh_remote(dvx, sshd, plain / "store")
    result = dvx("push")
    assert result.code == 1, result.output
    assert f"{plain} is not a directory" in result.stderr
    assert "internal error" not in result.stderr and "Traceback" not in result.output
    assert plain.read_text() == "not a directory"


def test_sftp_failures_become_errors_dvx_reports():
    from asyncssh import sftp

    from dvx.errors import RemoteError
    from dvx.remote.blobs import _sftp_error

    path = "/srv/store/files/ab"
    cases = [(sftp.SFTPNoSuchFile("No such file"), FileNotFoundError),
             (sftp.SFTPPermissionDenied("Permission denied"), PermissionError),
             (sftp.SFTPFailure(f"{path} is not a directory"), NotADirectoryError),
             (sftp.SFTPFileAlreadyExists("File already exists"), FileExistsError),
             (sftp.SFTPConnectionLost("Connection lost"), ConnectionError)]
    for exc, kind in cases:
        error = _sftp_error(exc, path)
        assert isinstance(error, kind), (exc, error)
        if isinstance(error, OSError) and not isinstance(error, ConnectionError):
            # The path is the server's: no filename, which dvx reads as a local file's.
            assert error.filename is None
            assert error.strerror == f"{exc.reason} (on the server: {path})"
    for exc in (sftp.SFTPNoSpaceOnFilesystem("No space left"), sftp.SFTPFailure("Failure")):
        error = _sftp_error(exc, path)
        assert isinstance(error, RemoteError) and path in error.message
        assert exc.reason in error.message and "space" not in error.hint
    written = _sftp_error(sftp.SFTPFailure("Failure"), path, writing="write")
    assert isinstance(written, RemoteError)
    assert f"refused to write {path}: Failure (perhaps its filesystem is read-only, no space" \
        in written.message


@pytest.fixture
def reachable(unprivileged_sshd) -> Iterator[Path]:
    """A folder the unprivileged SSH user can reach (pytest's are this user's alone)."""
    folder = Path(tempfile.mkdtemp(prefix="dvx-test-"))
    folder.chmod(0o755)
    yield folder
    subprocess.run(["chmod", "-R", "u+rwx", str(folder)], check=True)
    shutil.rmtree(folder)


def test_a_server_folder_the_ssh_user_may_not_write_is_named_not_the_cached_object(
        repo, dvx, unprivileged_sshd, reachable):
    write(repo / "big.bin", os.urandom(2_000_000))  # sent as a file of its own
    assert dvx("add", "big.bin").code == 0
    oid = re.search(r"[0-9a-f]{32}", (repo / "big.bin.dvx").read_text()).group(0)
    store = reachable / "store"
    store.mkdir()
    store.chmod(0o777)
    refused = store / "files" / "xxh128" / oid[:2]
    refused.mkdir(parents=True)
    refused.chmod(0o555)
    _ssh_remote(dvx, unprivileged_sshd, store)
    result = dvx("push")
    assert result.code == 1, result.output
    assert f"Failed big.bin ({oid}): Permission denied (on the server: {refused}/{oid[2:]})" \
        in result.stderr
    assert "in the cache may not be read" not in result.stderr and ".dvx/cache" not in \
        result.stderr


def test_a_remote_folder_under_one_the_ssh_user_may_not_write_is_refused_by_name(
        repo, dvx, unprivileged_sshd, reachable):
    """The server's refusal of the first folder push creates, not a missing folder below
    it (asyncssh passes over a refusal of every folder but the last)."""
    write(repo / "f", "hi")
    assert dvx("add", "f").code == 0
    parent = reachable / "parent"
    parent.mkdir()
    parent.chmod(0o555)
    _ssh_remote(dvx, unprivileged_sshd, parent / "sub" / "store")
    result = dvx("push")
    assert result.code == 1, result.output
    assert "Could not write a lock on remote 's'" in result.stderr
    assert f"Permission denied (on the server: {parent}/sub)" in result.stderr
    assert "No such file" not in result.stderr
    assert list(parent.iterdir()) == []


def test_a_full_disk_on_the_server_names_the_path_there_and_says_it_may_be_full(
        repo, dvx, sshd, small_disk):
    for i in range(5):  # 10 MB for an 8 MiB disk
        write(repo / f"b{i}.bin", os.urandom(2_000_000))
    assert dvx("add", *(f"b{i}.bin" for i in range(5))).code == 0
    store = small_disk / "store"
    _ssh_remote(dvx, sshd, store)
    result = dvx("push")
    assert result.code == 1, result.output
    assert f"The SSH server refused to write {store}/files/xxh128/" in result.stderr
    assert "(perhaps its filesystem is read-only, no space or inodes are left on its disk, or " \
        "the SSH user's quota is used up)" in result.stderr
    assert ".dvx/cache" not in result.stderr and ".tmp" not in result.stderr


def test_a_source_s_ssh_remote_refusing_its_reader_s_login_says_how_they_give_their_key(
        tmp_path, dvx, sshd, monkeypatch):
    """The way out is a remote of the same URL in the reader's own config, which its user
    name may be left out of (the messages hide it), not the source's remote or its push."""
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)  # no agent's key logs the reader in
    known = Path(os.environ["HOME"], ".ssh", "known_hosts")  # the server is known: not its key
    write(known, Path(sshd["known_hosts"]).read_text())
    source = make_git_repo(tmp_path / "source")
    assert dvx("init", cwd=source).code == 0
    where = f"{sshd['host']}:{sshd['port']}{tmp_path / 'store'}"
    assert dvx("remote", "add", "-d", "s", f"ssh://{sshd['user']}@{where}", cwd=source).code == 0
    assert dvx("remote", "modify", "--local", "s", "keyfile", sshd["keyfile"],
               cwd=source).code == 0
    write(source / "f", "hi\n")
    for args in (("add", "f"), ("push",)):
        assert dvx(*args, cwd=source).code == 0
    git(source, "add", "-A")
    git(source, "commit", "-qm", "data")
    git(tmp_path, "clone", "-q", "--bare", str(source), "source.git")
    reader = tmp_path / "reader"
    reader.mkdir()
    origin = str(tmp_path / "source.git")
    refused = dvx("get", origin, "f", cwd=reader)
    assert refused.code == 1, refused.output
    assert refused.stderr.startswith(f"ERROR: Cannot read the remote of '{origin}': The server "
                                     "of the remote 's' ("), refused.stderr
    assert f"`dvx remote add --global NAME ssh://{where}`, then `dvx remote modify --global NAME " \
           "keyfile KEYFILE`" in refused.stderr
    assert "pushed there from a clone" not in refused.stderr
    assert dvx("remote", "add", "--global", "mine", f"ssh://{where}", cwd=reader).code == 0
    assert dvx("remote", "modify", "--global", "mine", "keyfile", sshd["keyfile"],
               cwd=reader).code == 0
    got = dvx("get", origin, "f", cwd=reader)
    assert got.code == 0, got.output
    assert (reader / "f").read_text() == "hi\n"


@pytest.fixture
def read_only_disk(tmp_path) -> Iterator[Path]:
    """A real tmpfs mounted read-only (root only)."""
    yield from mounted_tmpfs(tmp_path / "read-only", "ro,size=1m")


def test_a_remote_folder_the_server_cannot_create_is_its_refusal_not_something_in_the_way(
        repo, dvx, sshd, read_only_disk):
    """OpenSSH says only `Failure` of a folder it cannot create on a read-only filesystem
    (or with no inode left), which asyncssh's makedirs takes for a file in the way."""
    write(repo / "f", "hi")
    assert dvx("add", "f").code == 0
    store = read_only_disk / "store"
    _ssh_remote(dvx, sshd, store)
    result = dvx("push")
    assert result.code == 1, result.output
    assert f"The SSH server refused to create the folder {store}: Failure (perhaps its " \
           "filesystem is read-only" in result.stderr
    assert "is not a directory" not in result.stderr


@pytest.mark.parametrize("option", ["timeout", "connect_timeout"])
def test_a_server_that_never_answers_fails_within_the_timeout(repo, dvx, tmp_path, option):
    write(repo / "f", "hi")
    assert dvx("add", "f").code == 0
    with socket.socket() as silent:  # accepts the connection (the kernel does), says nothing
        silent.bind(("127.0.0.1", 0))
        silent.listen(5)
        port = silent.getsockname()[1]
        assert dvx("remote", "add", "-d", "s", f"ssh://root@127.0.0.1:{port}/store").code == 0
        assert dvx("remote", "modify", "s", "known_hosts", "ignore").code == 0
        assert dvx("remote", "modify", "s", option, "1").code == 0
        started = time.monotonic()
        result = dvx("push")
        took = time.monotonic() - started
    assert result.code == 1, result.output
    assert "127.0.0.1 stopped answering (timed out after 1 s)" in result.stderr
    assert took < 10  # not asyncssh's two-minute login timeout


def test_a_hash_in_the_path_is_refused_unless_percent_encoded(repo, dvx, tmp_path, sshd):
    """A '#' would cut the path: `store#p1` and `store#p2` would both be `store`, whose
    `gc --remote` in one project deletes the other's objects. '%23' names a real '#'."""
    write(repo / "f", "hi")
    assert dvx("add", "f").code == 0
    _ssh_remote(dvx, sshd, tmp_path / "store%23p1")
    assert dvx("push").code == 0
    assert (tmp_path / "store#p1" / "indexes").is_dir() and not (tmp_path / "store").exists()
    url = f"ssh://{sshd['user']}@{sshd['host']}:{sshd['port']}{tmp_path}/store#p2"
    refused = dvx("remote", "modify", "s", "url", url)
    assert refused.code == 2 and "holds '#'" in refused.stderr, refused.output
    config = repo / ".dvx" / "config"  # written by hand, or by a teammate
    config.write_text(config.read_text().replace("store%23p1", "store#p2"))
    for command in (("push",), ("status", "--remote"), ("gc", "-w", "--remote", "s", "-f")):
        result = dvx(*command)
        assert result.code == 1 and "holds '#'" in result.stderr, (command, result.output)
        assert "dvx remote modify s url URL" in result.stderr
    assert not (tmp_path / "store").exists()


def test_a_source_url_reads_a_hash_as_a_remote_url_does(repo, dvx, tmp_path, sshd):
    """import-url and get-url refuse a '#' or '?' in an ssh:// URL, which would cut its path,
    and read '%23' as a '#' in the file's name, as a remote's URL is read."""
    ssh = Path(os.environ["HOME"]) / ".ssh"  # where the client looks, as for any source
    ssh.mkdir(parents=True)
    shutil.copy(sshd["keyfile"], ssh / "id_ed25519")
    shutil.copy(sshd["known_hosts"], ssh / "known_hosts")
    (tmp_path / "x#y").write_text("hashy\n")
    os.utime(tmp_path / "x#y", (1_000_000_000, 1_000_000_000))  # a time that tells a change
    base = f"ssh://{sshd['user']}@{sshd['host']}:{sshd['port']}{tmp_path}"
    for command in (("import-url", f"{base}/x#y", "a"), ("import-url", f"{base}/x?y", "b"),
                    ("get-url", f"{base}/x#y", "c")):
        result = dvx(*command)
        assert result.code == 2, (command, result.output)
        assert "which starts a" in result.stderr and "percent-encoded" in result.stderr
        assert "internal error" not in result.stderr
    assert dvx("import-url", f"{base}/x%23y", "a").code == 0
    assert (repo / "a").read_text() == "hashy\n"
    assert dvx("update", "a.dvx").stdout == "a: up to date\n"
    assert dvx("get-url", f"{base}/x%23y", str(tmp_path / "c")).code == 0
    assert (tmp_path / "c").read_text() == "hashy\n"


def test_an_sftp_time_not_older_than_the_download_is_recorded_as_no_version(
        repo, dvx, tmp_path, sshd):
    """SFTP's modification times are in whole seconds: the one of a file written just
    before its download cannot tell a rewrite of the same size within that second, so it is
    recorded as none (status warns, update compares), until it is old enough to tell."""
    ssh = Path(os.environ["HOME"]) / ".ssh"
    ssh.mkdir(parents=True)
    shutil.copy(sshd["keyfile"], ssh / "id_ed25519")
    shutil.copy(sshd["known_hosts"], ssh / "known_hosts")
    served = write(tmp_path / "data.csv", "v1\n")
    url = f"ssh://{sshd['user']}@{sshd['host']}:{sshd['port']}{served}"
    assert dvx("import-url", url, "data.csv").code == 0
    assert 'etag: "3-None"' in (repo / "data.csv.dvx").read_text()
    assert "whether its source URL changed cannot be told" in dvx("status").stderr
    os.utime(served, (1_000_000_000, 1_000_000_000))  # as seen long after
    updated = dvx("update")
    assert updated.code == 0 and "the data is the same" in updated.stdout, updated.output
    assert 'etag: "3-2001-09-09 01:46:40+00:00"' in (repo / "data.csv.dvx").read_text()
    assert dvx("update").stdout == "data.csv: up to date\n"


def _drop_sessions(sshd) -> None:
    """Kill the server's processes that serve open connections (its children), as a server
    that crashed or a network that dropped them would: the listener stays up."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[1]) == sshd["pid"]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(stat.parent.name), signal.SIGKILL)


def _stop_server(sshd) -> None:
    """Kill the server's sessions, then its listener: a server gone down, which takes no new
    connection either."""
    _drop_sessions(sshd)
    os.kill(sshd["pid"], signal.SIGKILL)


def _assert_one_error_of_a_server_gone(err: str) -> None:
    """The request that met the loss is retried (gc's reading of the push logs too)."""
    error = err[err.index("ERROR: "):]
    assert error.startswith("ERROR: Cannot reach the remote 's' (ssh://"), err
    assert "the connection was lost while" in error and error.count("\n") == 1, err
    assert "and connecting to it again failed: 127.0.0.1 did not accept the connection" \
        in error, err
    assert "internal error" not in err and "Traceback" not in err and "[Errno" not in err


@pytest.mark.parametrize("command, point", [
    ("gc -w --remote s --grace 0 -f", "gc.plan.before_push_logs"),
    ("fsck --remote s", "fsck.after_listing_indexes"),
    ("pull", "inventory.before_listing")])
def test_a_server_gone_mid_command_is_named_as_the_remote(repo, dvx, tmp_path, own_sshd,
                                                          command, point):
    """Its connection lost, and every new one refused for as long as the retries last."""
    for i in range(3):
        write(repo / "d" / f"{i}", f"content {i}")
    assert dvx("add", "d").code == 0
    _ssh_remote(dvx, own_sshd, tmp_path / "store")
    assert dvx("remote", "modify", "s", "pack_threshold", "0").code == 0
    assert dvx("push").code == 0
    shutil.rmtree(repo / ".dvx" / "cache")  # what pull fetches; gc and fsck need none
    proc = stopped_at(point, command, repo)
    _stop_server(own_sshd)
    proc.send_signal(signal.SIGCONT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, (out, err)
    _assert_one_error_of_a_server_gone(err)
    assert err.startswith("ERROR: Cannot reach the remote 's' (ssh://"), err
    assert "the connection was lost while listing" in err


@pytest.mark.parametrize("command", ["push", "pull"])
def test_a_server_gone_mid_transfer_ends_it_as_one_error(repo, dvx, tmp_path, own_sshd,
                                                         command):
    """Every object not yet sent would fail on the lost connection, each in a folder of its
    own: not a line of failures per folder, but the one error that says what happened."""
    for i in range(60):
        write(repo / "d" / f"{i}", f"content {i}")
    assert dvx("add", "d").code == 0
    _ssh_remote(dvx, own_sshd, tmp_path / "store")
    assert dvx("remote", "modify", "s", "pack_threshold", "0").code == 0
    if command == "pull":
        assert dvx("push").code == 0
        shutil.rmtree(repo / ".dvx" / "cache")
    # a pull gets the folder's manifest first: the point's fifth pass is among its files
    proc = stopped_at("transfer.after_object:5", command, repo)
    _stop_server(own_sshd)
    proc.send_signal(signal.SIGCONT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, (out, err)
    _assert_one_error_of_a_server_gone(err)
    # neither a line per object failed nor a summary of them
    assert "Failed" not in out + err and "[remote 's']" not in out + err, (out, err)


def _server_processes(sshd) -> list[int]:
    """The server's listener and the processes serving its open connections."""
    found = [sshd["pid"]]
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError):
            if int(stat.read_text().rpartition(")")[2].split()[1]) == sshd["pid"]:
                found.append(int(stat.parent.name))
    return found


def test_a_server_that_stalls_mid_upload_is_not_connected_to_again_and_gc_removes_the_temporary(
        repo, dvx, tmp_path, own_sshd):
    """The server stops answering (stopped, not gone) as a file goes up: its keep-alive
    probes end the push, which does not wait out a new connection to it as well. The message
    says that the upload's temporary stays there, and `gc --remote` past its grace period
    deletes it; the push run again then completes."""
    write(repo / "big.bin", os.urandom(8 * 1024 * 1024))
    assert dvx("add", "big.bin").code == 0
    _ssh_remote(dvx, own_sshd, tmp_path / "store")
    assert dvx("remote", "modify", "s", "timeout", "2").code == 0
    # the object written, not yet renamed (the first pass is the lock's)
    pushing = stopped_at("odb.put.before_rename:2", "push", repo)
    stalled = _server_processes(own_sshd)
    for pid in stalled:
        os.kill(pid, signal.SIGSTOP)
    try:
        pushing.send_signal(signal.SIGCONT)
        _, err = pushing.communicate(timeout=60)
    finally:
        for pid in stalled:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
    assert pushing.returncode == 1, err
    assert "(Server not responding to keepalive); not connected to again, since the server " \
        "stopped answering (the temporary file of 1 upload cut off stays there, hidden, until " \
        "`dvx gc --remote` deletes it once it is older than its grace period)" in err, err
    assert "Nothing was left half-written" not in err and "Traceback" not in err
    left = list((tmp_path / "store" / "files").rglob(".*.tmp"))
    assert len(left) == 1, left
    young = dvx("gc", "-w", "--remote", "s", "-f")
    assert young.code == 0 and left[0].exists(), young.output
    cleaned = dvx("gc", "-w", "--remote", "s", "--grace", "0", "-f")
    assert cleaned.code == 0, cleaned.output
    assert "Removed 1 temporary file on the remote 's' that interrupted pushes left" \
        in cleaned.stdout and "Aborted" not in cleaned.stdout, cleaned.output
    assert not left[0].exists()
    pushed = dvx("push")
    assert pushed.code == 0, pushed.output
    assert list((tmp_path / "store").rglob(".*.tmp")) == []


def test_the_temporary_of_a_lock_a_killed_push_left_is_removed_by_gc_once_old(
        repo, dvx, tmp_path, sshd):
    """A push killed as it writes its lock leaves the lock's temporary, never renamed into
    place, in locks/: `gc --remote` deletes it as it deletes an upload's, once it is older
    than the grace period, and reports it on the same line."""
    write(repo / "f", "hi")
    assert dvx("add", "f").code == 0
    store = tmp_path / "store"
    _ssh_remote(dvx, sshd, store)
    pushing = stopped_at("odb.put.before_rename:1", "push", repo)  # the lock's, written
    pushing.kill()
    pushing.wait()
    left = list((store / "locks").glob(".push-*.lock.dvx-*.tmp"))
    assert len(left) == 1 and not list((store / "locks").glob("push-*")), \
        list((store / "locks").iterdir())
    young = dvx("gc", "-w", "--remote", "s", "-f")
    assert young.code == 0 and left[0].exists(), young.output
    planned = dvx("gc", "-w", "--remote", "s", "--grace", "0", "--dry-run")
    assert "Would remove 1 temporary file on the remote 's'" in planned.stdout, planned.output
    assert left[0].exists()
    cleaned = dvx("gc", "-w", "--remote", "s", "--grace", "0", "-f")
    assert cleaned.code == 0, cleaned.output
    assert "Removed 1 temporary file on the remote 's' that interrupted pushes left" \
        in cleaned.stdout and "Aborted" not in cleaned.stdout, cleaned.output
    assert list((store / "locks").iterdir()) == []
    pushed = dvx("push")
    assert pushed.code == 0, pushed.output


def test_gc_lists_the_whole_store_once_for_its_objects_and_the_temporaries_left(
        repo, dvx, tmp_path, sshd, monkeypatch):
    """The objects and the temporaries of unfinished uploads come from one listing of the
    store, whose temporaries the deletion under the lock reuses: the other listings are of
    one folder each (locks, logs, packs, indexes)."""
    from dvx.remote import blobs

    write(repo / "big.bin", os.urandom(2_000_000))  # a loose object
    assert dvx("add", "big.bin").code == 0
    _ssh_remote(dvx, sshd, tmp_path / "store")
    assert dvx("push").code == 0
    (repo / "big.bin.dvx").unlink()
    left = tmp_path / "store" / "files" / "xxh128" / "ab" / f".{'c' * 30}.dvx-0123456789ab.tmp"
    left.parent.mkdir(exist_ok=True)
    left.write_bytes(b"part")  # an upload's, cut off
    walks = []
    call = blobs._SftpErrors._call

    def counted(self, name, method, args, kwargs):
        if name == "find":
            walks.append(args[0])
        return call(self, name, method, args, kwargs)

    monkeypatch.setattr(blobs._SftpErrors, "_call", counted)
    cleaned = dvx("gc", "-w", "--remote", "s", "--grace", "0", "-f")
    assert cleaned.code == 0, cleaned.output
    assert "Removed 1 object" in cleaned.stdout.splitlines()[1], cleaned.output
    assert "Removed 1 temporary file on the remote 's' that interrupted pushes left" \
        in cleaned.stdout and "Aborted" not in cleaned.stdout, cleaned.output
    assert not left.exists()
    # (the run records needing a removed object are the run-cache's to find, in runs/)
    assert [w for w in walks if "/runs/" not in w] == [str(tmp_path / "store")], walks


@pytest.mark.parametrize("command, how", [
    ("push", "loose"), ("pull", "loose"), ("pull", "packed"), ("push", "through a jump host")])
def test_a_connection_dropped_mid_transfer_is_made_again(repo, dvx, tmp_path, sshd, jump_sshd,
                                                        command, how):
    """A server whose sessions end (sshd restarted, a NAT's timeout, a network blip) but that
    takes a new connection: one new connection (through the jump host again, where
    ~/.ssh/config names one), the objects in flight sent again whole, and the transfer
    completes with nothing on the remote half-written or left over."""
    for i in range(400):
        write(repo / "d" / f"{i}", f"content {i}")
    assert dvx("add", "d").code == 0
    _ssh_remote(dvx, sshd, tmp_path / "store")
    if how == "through a jump host":
        _via_jump_host(sshd, jump_sshd)
        both = tmp_path / "both_known_hosts"
        both.write_text(Path(sshd["known_hosts"]).read_text()
                        + Path(jump_sshd["known_hosts"]).read_text())
        assert dvx("remote", "modify", "s", "url", f"ssh://target{tmp_path}/store").code == 0
        assert dvx("remote", "modify", "--unset", "s", "keyfile").code == 0
        assert dvx("remote", "modify", "s", "known_hosts", str(both)).code == 0
    if how != "packed":
        assert dvx("remote", "modify", "s", "pack_threshold", "0").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "data")
    if command == "pull":
        assert dvx("push").code == 0
        shutil.rmtree(repo / ".dvx" / "cache")
    # a pack's objects come in ranged reads of a file open on the server
    point = "sftp.read.after_open" if how == "packed" else "transfer.after_object:100"
    proc = stopped_at(point, f"-v {command}", repo)
    _drop_sessions(jump_sshd if how == "through a jump host" else sshd)
    proc.send_signal(signal.SIGCONT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, (out, err)
    assert err.count("Connected again to the remote 's'") == 1, err
    assert "ERROR" not in err and "Traceback" not in err, err
    checked = dvx("fsck", "--remote", "s")
    assert checked.code == 0, checked.output
    assert not [p for p in (tmp_path / "store").rglob(".*")]  # no temporary left
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(repo), str(clone))
    assert dvx("pull", cwd=clone).code == 0
    assert tree_bytes(clone / "d") == tree_bytes(repo / "d")


@pytest.mark.parametrize("command, point", [
    ("pull", "inventory.before_listing"),
    ("fsck --remote s", "fsck.after_listing_indexes")])
def test_a_connection_dropped_while_listing_is_made_again(repo, dvx, tmp_path, sshd, command,
                                                          point):
    """The pack indexes' and the objects' listings go on on a new connection."""
    for i in range(3):
        write(repo / "d" / f"{i}", f"content {i}")
    assert dvx("add", "d").code == 0
    _ssh_remote(dvx, sshd, tmp_path / "store")
    assert dvx("push").code == 0
    shutil.rmtree(repo / "d")
    shutil.rmtree(repo / ".dvx" / "cache")
    if command != "pull":
        assert dvx("pull").code == 0
    proc = stopped_at(point, command, repo)
    _drop_sessions(sshd)
    proc.send_signal(signal.SIGCONT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, (out, err)
    assert "ERROR" not in err and "Traceback" not in err, err
    assert sorted(p.name for p in (repo / "d").iterdir()) == ["0", "1", "2"]


def test_a_remote_folder_that_does_not_exist_is_named_not_taken_for_empty(repo, dvx, tmp_path,
                                                                           sshd):
    """A typo in the path would otherwise read as an empty remote: pull would blame a
    teammate for not pushing, fsck would report everything missing, status --remote would
    call it never pushed."""
    write(repo / "f", "hi")
    assert dvx("add", "f").code == 0
    _ssh_remote(dvx, sshd, tmp_path / "store")
    assert dvx("push").code == 0
    shutil.rmtree(repo / ".dvx" / "cache")
    url = f"ssh://{sshd['user']}@{sshd['host']}:{sshd['port']}{tmp_path}/stor"
    assert dvx("remote", "modify", "s", "url", url).code == 0
    for command in (("pull",), ("fetch",), ("fsck", "--remote", "s"), ("status", "-c")):
        result = dvx(*command)
        assert result.code == 1, (command, result.output)
        assert result.stderr.startswith(f"ERROR: The folder '{tmp_path}/stor' of the remote "
                                        "'s' (ssh://"), (command, result.stderr)
        assert "does not exist" in result.stderr and "dvx remote modify s url" in \
            result.stderr
        assert "not on the remote" not in result.output and "Missing" not in result.output
    assert not (tmp_path / "stor").exists()


def _pushing_without_known_hosts_option(repo, dvx, sshd, store: Path):
    """A remote whose host key is checked against the user's own files (no known_hosts
    option), and a first push to it."""
    write(repo / "f", "hi")
    assert dvx("add", "f").code == 0
    url = f"ssh://{sshd['user']}@{sshd['host']}:{sshd['port']}{store}"
    assert dvx("remote", "add", "-d", "s", url).code == 0
    assert dvx("remote", "modify", "s", "keyfile", sshd["keyfile"]).code == 0
    return dvx("push")


def _user_known_hosts(text: str) -> None:
    ssh = Path(os.environ["HOME"]) / ".ssh"
    ssh.mkdir(parents=True, exist_ok=True)
    (ssh / "known_hosts").write_text(text)


def _impostor_known_hosts(tmp_path, sshd) -> None:
    """~/.ssh/known_hosts records another key for the server: what ssh shows when someone
    intercepts the connection."""
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "other")],
                   check=True)
    kind, key = (tmp_path / "other.pub").read_text().split()[:2]
    _user_known_hosts(f"[{sshd['host']}]:{sshd['port']} {kind} {key}\n")


def test_a_host_key_other_than_the_one_recorded_is_refused(repo, dvx, tmp_path, sshd):
    _impostor_known_hosts(tmp_path, sshd)
    result = _pushing_without_known_hosts_option(repo, dvx, sshd, tmp_path / "store")
    assert result.code == 1, result.output
    assert result.stderr.startswith(f"ERROR: Refused the SSH server {sshd['host']} (port "
                                    f"{sshd['port']}): its host key cannot be verified"), \
        result.stderr
    assert "not the one recorded for it" in result.stderr
    assert f"ssh-keygen -R '[{sshd['host']}]:{sshd['port']}'" in result.stderr
    assert "Traceback" not in result.output and "internal error" not in result.stderr
    assert not (tmp_path / "store").exists()


def test_a_changed_host_key_in_the_known_hosts_option_s_file_is_fixed_as_advised(
        repo, dvx, tmp_path, sshd):
    """The remote's `known_hosts` file records another key: the advice acts on that file
    (`ssh-keygen -f FILE -R`, `ssh-keyscan >> FILE`), never on ~/.ssh/known_hosts, and
    following it lets the push through."""
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "other")],
                   check=True)
    kind, key = (tmp_path / "other.pub").read_text().split()[:2]
    stale = tmp_path / "lab known_hosts"  # a space: the commands quote the file
    stale.write_text(f"[{sshd['host']}]:{sshd['port']} {kind} {key}\n")
    _ssh_remote(dvx, sshd, tmp_path / "store")
    assert dvx("remote", "modify", "s", "known_hosts", str(stale)).code == 0
    write(repo / "f", "hi")
    assert dvx("add", "f").code == 0
    refused = dvx("push")
    assert refused.code == 1 and "not the one recorded for it" in refused.stderr, \
        refused.output
    forget = f"ssh-keygen -f '{stale}' -R '[{sshd['host']}]:{sshd['port']}'"
    record = f"ssh-keyscan -p {sshd['port']} {sshd['host']} >> '{stale}'"
    assert f"forget the old one with `{forget}` and record the new one with `{record}`" in \
        refused.stderr, refused.stderr
    assert "~/.ssh" not in refused.stderr
    for command in (forget, record):
        subprocess.run(["bash", "-c", command], check=True, capture_output=True)
    assert not (Path(os.environ["HOME"]) / ".ssh").exists()
    pushed = dvx("push")
    assert pushed.code == 0, pushed.output


def test_a_port_option_that_reaches_no_server_is_named_with_the_option(repo, dvx, tmp_path,
                                                                        sshd):
    """The `port` option, not the URL's port, is the one tried: the error names it and the
    option, not the URL."""
    from tests.servers import free_port

    _ssh_remote(dvx, sshd, tmp_path / "store")
    closed = free_port()
    assert dvx("remote", "modify", "s", "port", str(closed)).code == 0
    write(repo / "f", "hi")
    assert dvx("add", "f").code == 0
    result = dvx("push")
    assert result.code == 1, result.output
    assert f") on port {closed}, which the remote's `port` option sets, not the URL's " \
        f"{sshd['port']}: {sshd['host']} did not accept the connection" in result.stderr, \
        result.stderr
    assert "`dvx remote modify s port PORT`, or `dvx remote modify s port --unset` to take " \
        "the URL's" in result.stderr
    assert "Check the URL" not in result.stderr and "Traceback" not in result.output


def test_a_changed_host_key_behind_an_ssh_config_alias_is_refused_as_changed(
        repo, dvx, tmp_path, sshd):
    """~/.ssh/config names the server by an alias: its key is looked up, and the advice given,
    for the host and port the alias leads to, as for the connection itself."""
    _impostor_known_hosts(tmp_path, sshd)
    (Path(os.environ["HOME"]) / ".ssh" / "config").write_text(
        f"Host databox\n  HostName {sshd['host']}\n  Port {sshd['port']}\n"
        f"  User {sshd['user']}\n  IdentityFile {sshd['keyfile']}\n")
    write(repo / "f", "hi")
    assert dvx("add", "f").code == 0
    assert dvx("remote", "add", "-d", "s", f"ssh://databox{tmp_path}/store").code == 0
    result = dvx("push")
    assert result.code == 1, result.output
    assert result.stderr.startswith(f"ERROR: Refused the SSH server databox ({sshd['host']}, "
                                    f"port {sshd['port']}): its host key cannot be verified, "
                                    "since the key it presented is not the one recorded"), \
        result.stderr
    assert f"ssh-keygen -R '[{sshd['host']}]:{sshd['port']}'" in result.stderr
    assert f"`mkdir -p ~/.ssh && ssh-keyscan -p {sshd['port']} {sshd['host']} >> " \
        "~/.ssh/known_hosts`" in result.stderr
    assert "no key is recorded" not in result.stderr and "keyscan databox" not in result.stderr
    assert not (tmp_path / "store").exists()


def test_an_unknown_host_key_is_refused_with_the_ways_to_trust_it(repo, dvx, tmp_path, sshd):
    """As on a CI runner: no ~/.ssh/known_hosts at all. A source URL is refused as well."""
    result = _pushing_without_known_hosts_option(repo, dvx, sshd, tmp_path / "store")
    assert result.code == 1, result.output
    assert "its host key cannot be verified" in result.stderr, result.stderr
    assert f"`mkdir -p ~/.ssh && ssh-keyscan -p {sshd['port']} {sshd['host']} >> " \
        "~/.ssh/known_hosts`" in result.stderr
    assert "`dvx remote modify s known_hosts FILE`" in result.stderr
    assert "`dvx remote modify s known_hosts ignore` turns the check off, which lets anyone " \
        "who can intercept the connection read and change" in result.stderr
    assert "Traceback" not in result.output and "internal error" not in result.stderr
    assert not (tmp_path / "store").exists()
    (tmp_path / "src").write_text("data\n")
    url = f"ssh://{sshd['user']}@{sshd['host']}:{sshd['port']}{tmp_path}/src"
    refused = dvx("import-url", url, "a")
    assert refused.code == 1 and "its host key cannot be verified" in refused.stderr, \
        refused.output
    assert not (repo / "a").exists()


def test_the_advised_keyscan_works_as_pasted_on_a_machine_without_ssh_folder(repo, dvx,
                                                                            tmp_path, sshd):
    """A fresh CI runner has no ~/.ssh: the command the refusal gives makes it, records the
    key, and the push then goes through."""
    home = Path(os.environ["HOME"])
    assert not (home / ".ssh").exists()
    refused = _pushing_without_known_hosts_option(repo, dvx, sshd, tmp_path / "store")
    assert refused.code == 1, refused.output
    advice = re.search(r"`(mkdir -p ~/.ssh && ssh-keyscan [^`]*)`", refused.stderr)
    assert advice, refused.stderr
    subprocess.run(["bash", "-c", advice.group(1)], check=True, capture_output=True)
    pushed = dvx("push")
    assert pushed.code == 0, pushed.output
    assert (tmp_path / "store" / "indexes").is_dir()


def test_a_host_key_recorded_in_the_users_known_hosts_is_trusted(repo, dvx, tmp_path, sshd):
    _user_known_hosts(Path(sshd["known_hosts"]).read_text())
    result = _pushing_without_known_hosts_option(repo, dvx, sshd, tmp_path / "store")
    assert result.code == 0, result.output
    assert (tmp_path / "store" / "indexes").is_dir()


def test_known_hosts_ignore_turns_the_check_off(repo, dvx, tmp_path, sshd):
    _impostor_known_hosts(tmp_path, sshd)
    write(repo / "f", "hi")
    assert dvx("add", "f").code == 0
    url = f"ssh://{sshd['user']}@{sshd['host']}:{sshd['port']}{tmp_path}/store"
    assert dvx("remote", "add", "-d", "s", url).code == 0
    assert dvx("remote", "modify", "s", "keyfile", sshd["keyfile"]).code == 0
    assert dvx("remote", "modify", "s", "known_hosts", "ignore").code == 0
    result = dvx("push")
    assert result.code == 0, result.output
    assert (tmp_path / "store" / "indexes").is_dir()

def _tracked_config_ignoring_an_impostor(repo, dvx, tmp_path, sshd) -> None:
    """f added, and the tracked .dvx/config naming the SSH remote 's' with known_hosts =
    ignore, while known_hosts holds another key for the server (an impostor's, as seen)."""
    _impostor_known_hosts(tmp_path, sshd)
    write(repo / "f", "hi")
    assert dvx("add", "f").code == 0
    url = f"ssh://{sshd['user']}@{sshd['host']}:{sshd['port']}{tmp_path}/store"
    write(repo / ".dvx" / "config", f'[core]\nremote = s\n[remote "s"]\nurl = {url}\n'
                                    f"keyfile = {sshd['keyfile']}\nknown_hosts = ignore\n")


def test_known_hosts_from_the_tracked_config_is_not_used(repo, dvx, tmp_path, sshd):
    """A cloned .dvx/config cannot turn the check off: the server is checked as without the
    option, and dvx says that the option was not used and how to set it for this clone."""
    _tracked_config_ignoring_an_impostor(repo, dvx, tmp_path, sshd)
    result = dvx("push")
    assert result.code == 1, result.output
    said = " ".join(result.stderr.split())
    assert said.startswith("The tracked .dvx/config sets known_hosts = ignore for remote 's', "
                           "which would turn off the check of the server's identity: not "
                           "used"), said
    assert "`dvx remote modify --local s known_hosts ignore`" in said
    assert f"ERROR: Refused the SSH server {sshd['host']}" in said
    assert not (tmp_path / "store").exists()


def test_known_hosts_ignore_in_your_config_local_is_used_without_a_notice_of_the_tracked_one(
        repo, dvx, tmp_path, sshd):
    """The tracked `known_hosts = ignore` set aside, the user follows the notice and sets it in
    config.local: the check is off, as they chose, and no command says the server is checked."""
    _tracked_config_ignoring_an_impostor(repo, dvx, tmp_path, sshd)
    assert dvx("remote", "modify", "--local", "s", "known_hosts", "ignore").code == 0
    for command in (("push",), ("status", "-c")):
        result = dvx(*command)
        assert result.code == 0, result.output
        assert "tracked .dvx/config" not in result.stderr, result.stderr
    assert (tmp_path / "store").is_dir()


def _via_jump_host(sshd, jump_sshd) -> None:
    """~/.ssh/config names the remote's server `target`, reached through `jumpbox`."""
    (Path(os.environ["HOME"]) / ".ssh").mkdir(exist_ok=True)
    (Path(os.environ["HOME"]) / ".ssh" / "config").write_text(
        f"Host jumpbox\n  HostName {jump_sshd['host']}\n  Port {jump_sshd['port']}\n"
        f"  User {jump_sshd['user']}\n  IdentityFile {jump_sshd['keyfile']}\n"
        f"Host target\n  HostName {sshd['host']}\n  Port {sshd['port']}\n"
        f"  User {sshd['user']}\n  IdentityFile {sshd['keyfile']}\n  ProxyJump jumpbox\n")


def test_a_jump_host_s_key_is_checked_as_the_remote_s_and_named_when_refused(
        repo, dvx, tmp_path, sshd, jump_sshd):
    """The jump host's key is checked against the files the remote's is, and a refusal of
    it names the jump host, never the remote's server, whose recorded key is right."""
    _via_jump_host(sshd, jump_sshd)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "other")],
                   check=True)
    kind, key = (tmp_path / "other.pub").read_text().split()[:2]
    jump = f"[{jump_sshd['host']}]:{jump_sshd['port']}"
    _user_known_hosts(Path(sshd["known_hosts"]).read_text() + f"{jump} {kind} {key}\n")
    write(repo / "f", "hi")
    assert dvx("add", "f").code == 0
    assert dvx("remote", "add", "-d", "s", f"ssh://target{tmp_path}/store").code == 0
    refused = dvx("push")
    assert refused.code == 1, refused.output
    assert refused.stderr.startswith(
        f"ERROR: Refused the SSH server jumpbox ({jump_sshd['host']}, port {jump_sshd['port']}), "
        "the ProxyJump host on the way to target: its host key cannot be verified, since the "
        "key it presented is not the one recorded"), refused.stderr
    assert f"ssh-keygen -R '{jump}'" in refused.stderr
    assert str(sshd["port"]) not in refused.stderr
    assert not (tmp_path / "store").exists()
    (tmp_path / "src").write_text("data\n")  # a source URL's jump host, checked the same
    fetched = dvx("get-url", f"ssh://target{tmp_path}/src", str(tmp_path / "copy"))
    assert fetched.code == 1 and fetched.stderr.startswith(
        "ERROR: Refused the SSH server jumpbox"), fetched.output
    assert not (tmp_path / "copy").exists()
    both = tmp_path / "both_known_hosts"  # the remote's known_hosts: the jump host's too
    both.write_text(Path(sshd["known_hosts"]).read_text()
                    + Path(jump_sshd["known_hosts"]).read_text())
    assert dvx("remote", "modify", "s", "known_hosts", str(both)).code == 0
    pushed = dvx("push")
    assert pushed.code == 0, pushed.output
    assert (tmp_path / "store" / "indexes").is_dir()


def _passphrase_key(path: Path, sshd, agent: bool) -> Path:
    """A key the server takes, protected by a passphrase; `agent`: ssh-agent holds it."""
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    with open(sshd["authorized_keys"], "a") as keys:
        keys.write(Path(f"{path}.pub").read_text())
    if agent:
        subprocess.run(["ssh-add", "-q", str(path)], check=True, capture_output=True)
    subprocess.run(["ssh-keygen", "-q", "-p", "-P", "", "-N", "a passphrase", "-f", str(path)],
                   check=True, capture_output=True)
    return path


def test_a_keyfile_protected_by_a_passphrase_logs_in_through_ssh_agent(repo, dvx, tmp_path,
                                                                       sshd, ssh_agent):
    """As `ssh -i KEY` does; without the agent's copy, the error names the key file and
    the ways out, dvx having no passphrase to ask for."""
    key = _passphrase_key(tmp_path / "pp_key", sshd, agent=True)
    _ssh_remote(dvx, sshd, tmp_path / "store")
    assert dvx("remote", "modify", "s", "keyfile", str(key)).code == 0
    write(repo / "f", "hi")
    assert dvx("add", "f").code == 0
    pushed = dvx("push")
    assert pushed.code == 0, pushed.output
    subprocess.run(["ssh-add", "-D"], check=True, capture_output=True)
    write(repo / "g", "more")
    assert dvx("add", "g").code == 0
    refused = dvx("push")
    assert refused.code == 1, refused.output
    assert refused.stderr.startswith("ERROR: Cannot log in to the remote 's' (ssh://"), \
        refused.stderr
    assert f"its keyfile '{key}' is protected by a passphrase" in refused.stderr
    assert "the agent does not hold the key" in refused.stderr
    assert f"`ssh-add {key}`" in refused.stderr
    assert "`dvx remote modify s keyfile --unset`" in refused.stderr
    assert "Passphrase must be specified" not in refused.stderr
    pem = tmp_path / "pem_key"  # PEM keeps no public key in the file: ssh reads pem_key.pub
    subprocess.run(["ssh-keygen", "-q", "-t", "rsa", "-m", "PEM", "-N", "a passphrase", "-f",
                    str(pem)], check=True)
    os.remove(f"{pem}.pub")
    assert dvx("remote", "modify", "s", "keyfile", str(pem)).code == 0
    unmatched = dvx("push")
    assert unmatched.code == 1, unmatched.output
    assert f"its keyfile '{pem}' is protected by a passphrase" in unmatched.stderr
    assert f"neither in it nor in '{pem}.pub'" in unmatched.stderr
    assert f"`ssh-keygen -y -f {pem} > {pem}.pub`" in unmatched.stderr


def _password_remote(dvx, server, password: str, path) -> None:
    url = f"ssh://{server['user']}:{password}@{server['host']}:{server['port']}{path}"
    assert dvx("remote", "add", "--local", "-d", "p", url).code == 0
    assert dvx("remote", "modify", "--local", "p", "known_hosts", "ignore").code == 0


def test_the_password_of_a_url_given_with_local_logs_in(repo, dvx, tmp_path, password_sshd):
    write(repo / "f", "hi")
    assert dvx("add", "f").code == 0
    # '/' and '@' in a URL's password are written percent-encoded
    _password_remote(dvx, password_sshd, "pa55%2Fw%40rd", tmp_path / "store")
    pushed = dvx("push")
    assert pushed.code == 0 and "Pushed 1 object" in pushed.stdout, pushed.output
    assert any((tmp_path / "store").rglob("*"))


def test_a_refused_login_names_the_user_and_host_not_the_network(repo, dvx, tmp_path,
                                                                 password_sshd):
    write(repo / "f", "hi")
    assert dvx("add", "f").code == 0
    _password_remote(dvx, password_sshd, "not-the-password", tmp_path / "store")
    refused = dvx("push")
    assert refused.code == 1, refused.output
    assert "refused the login" in refused.stderr and "for user alice on host 127.0.0.1" \
        in refused.stderr, refused.stderr
    assert "`dvx remote modify --local p password ...`" in refused.stderr
    assert "Cannot reach" not in refused.stderr and "network" not in refused.stderr
    assert "not-the-password" not in refused.output


def test_an_ssh_config_that_asyncssh_cannot_read_leaves_the_url_s_host_in_the_refusal(
        monkeypatch):
    """The host key refusal reads ~/.ssh/config through asyncssh for its advice: whatever
    that fails with (another asyncssh changed a private signature) gives the URL's host and
    port, not an internal error."""
    import asyncssh
    from asyncssh.config import SSHClientConfig

    from dvx.remote.backends import host_key_refusal

    def changed(*args, **kwargs):
        raise TypeError("load() takes 5 positional arguments but 9 were given")

    (Path(os.environ["HOME"]) / ".ssh").mkdir(exist_ok=True)
    (Path(os.environ["HOME"]) / ".ssh" / "config").write_text("Host databox\n  Port 2200\n")
    monkeypatch.setattr(SSHClientConfig, "load", classmethod(changed))
    refused = host_key_refusal(asyncssh.HostKeyNotVerifiable("no key"),
                               "ssh://alice@databox:2222/store", {}, "s")
    assert refused is not None and "Refused the SSH server databox (port 2222)" in \
        refused.message, refused.message
    assert "mkdir -p ~/.ssh && ssh-keyscan -p 2222 databox >> ~/.ssh/known_hosts" in refused.hint


def test_a_source_url_of_any_kind_that_logs_in_by_ssh_has_its_host_key_checked(monkeypatch):
    """What import-url and get-url read is checked as a remote is, by what its kind declares,
    not by its name: another kind speaking SSH (a second scheme) is checked too."""
    from dataclasses import replace

    from dvx.remote import backends

    ssh = backends.backend_for("ssh://host/path")
    monkeypatch.setitem(backends._BY_SCHEME, "ssh2", replace(ssh, name="ssh2",
                                                             schemes=("ssh2",)))
    asked = []

    def url_to_fs(url, **options):
        asked.append(options)
        return object(), url.partition("://")[2].partition("/")[2]

    monkeypatch.setattr("fsspec.core.url_to_fs", url_to_fs)
    backends.source_fs("ssh2://host/data.csv")
    backends.source_fs("https://host/data.csv")
    assert "known_hosts" in asked[0] and "known_hosts" not in asked[1], asked


@pytest.mark.parametrize("level", ["project", "local"])
def test_a_relative_known_hosts_file_is_taken_from_the_repository_root_wherever_dvx_runs(
        repo, dvx, tmp_path, sshd, level):
    """`.dvx/known_hosts`, committed with the tracked config or set in config.local, is the
    repository's file from a subfolder too, not one of the current folder; so is a relative
    `keyfile`."""
    shutil.copy(sshd["known_hosts"], repo / ".dvx" / "known_hosts")
    _ssh_remote(dvx, sshd, tmp_path / "store")
    flag = ["--local"] if level == "local" else []
    assert dvx("remote", "modify", *flag, "s", "known_hosts", ".dvx/known_hosts").code == 0
    if level == "local":
        assert dvx("remote", "modify", "s", "known_hosts", "--unset").code == 0
        shutil.copy(sshd["keyfile"], repo / ".dvx" / "tmp" / "key")
        assert dvx("remote", "modify", "s", "keyfile", ".dvx/tmp/key").code == 0
    write(repo / "sub" / "f", "hi")
    assert dvx("add", "sub/f").code == 0
    pushed = dvx("push", cwd=repo / "sub")
    assert pushed.code == 0, pushed.output
    status = dvx("status", "-c", cwd=repo / "sub")
    assert status.code == 0 and "host key" not in status.output, status.output
