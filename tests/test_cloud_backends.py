"""Options of gs:// and azure:// remotes reach gcsfs and adlfs as meant (the remote contract
suite runs both against emulators: fake-gcs-server and Azurite)."""

from __future__ import annotations

import http.server
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from urllib.parse import urlsplit

import pytest

from dvx.remote.backends import backend_for
from tests.conftest import write
from tests.remotes import clone, commit_all, configure, make_dataset, remote_for


def test_a_gs_remote_with_an_endpoint_speaks_the_json_api_only(fake_gcs):
    """Newer gcsfs asks a gRPC API about each bucket first; an endpoint that has none (an
    emulator, a proxy) would cost a minute per call."""
    import gcsfs

    url = "gs://probe/project"
    fs, root = backend_for(url).build(
        url, {"endpointurl": fake_gcs["endpoint_url"], "anonymous": "true"}, 60.0)
    assert type(fs).__bases__ == (gcsfs.core.GCSFileSystem,) and root == "probe/project"
    assert fs.credentials.token == "anon"  # no credential lookup, no metadata server asked
    assert (fs.requests_timeout.sock_connect, fs.requests_timeout.sock_read) == (30, 60)
    start = time.monotonic()
    fs.mkdir("probe")
    fs.pipe(f"{root}/k", b"x")
    assert fs.cat(f"{root}/k") == b"x" and fs.find(root) == [f"{root}/k"]
    fs.rm(f"{root}/k")
    assert time.monotonic() - start < 10


def test_an_azure_remote_passes_its_timeout_to_the_client():
    pytest.importorskip("adlfs")
    url = "azure://container/project"
    fs, root = backend_for(url).build(url, {"account_name": "a", "account_key": "a2V5"}, 45.0)
    assert root == "container/project"
    assert fs._timeout_kwargs == {"connection_timeout": 30, "read_timeout": 45}


def test_an_azure_url_naming_its_account_after_the_container_reaches_the_container(
        repo, dvx, tmp_path, request):
    """azure://CONTAINER@ACCOUNT.blob.core.windows.net/PATH, as adlfs reads it: the part
    before the '@' is the container, no credential, so it is taken, kept and shown."""
    spec = remote_for("azure", request, tmp_path)
    container = urlsplit(spec.url).netloc
    spec.url = f"azure://{container}@devstoreaccount1.blob.core.windows.net/project"
    make_dataset(repo)
    assert dvx("add", "data").code == 0
    configure(dvx, repo, spec)
    assert f"r\t{spec.url}" in dvx("remote", "list").stdout
    pushed = dvx("push")
    assert pushed.code == 0, pushed.output
    assert spec.list_keys() and f"{container}@" not in "".join(spec.list_keys())
    refused = dvx("remote", "add", "pw", spec.url.replace("@", ":s3cr3t@", 1))
    assert refused.code == 2 and "holds credentials" in refused.stderr, refused.output
    assert f"azure://{container}:***@" in refused.stderr and "s3cr3t" not in refused.output


def _azure_remote_at(dvx, port: int) -> None:
    assert dvx("remote", "add", "-d", "az", "azure://container/project").code == 0
    assert dvx("remote", "modify", "az", "connection_string", (
        "DefaultEndpointsProtocol=http;AccountName=devacct;AccountKey=a2V5;"
        f"BlobEndpoint=http://127.0.0.1:{port}/devacct")).code == 0
    assert dvx("remote", "modify", "az", "retries", "2").code == 0


def _gs_remote_at(dvx, port: int) -> None:
    assert dvx("remote", "add", "-d", "g", "gs://bucket/project").code == 0
    assert dvx("remote", "modify", "g", "endpointurl", f"http://127.0.0.1:{port}").code == 0
    assert dvx("remote", "modify", "g", "anonymous", "true").code == 0
    assert dvx("remote", "modify", "g", "retries", "2").code == 0


def test_an_azure_store_that_refuses_the_connection_is_named_as_the_others_are(repo, dvx):
    """Not an internal error: the host that did not accept the connection, as for S3."""
    pytest.importorskip("adlfs")
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    _azure_remote_at(dvx, port)
    (repo / "f").write_text("f")
    assert dvx("add", "f").code == 0
    for command in (["push"], ["status", "--remote"]):
        result = dvx(*command)
        assert result.code == 1, (command, result.output)
        assert f"remote 'az' (azure://container/project): 127.0.0.1:{port} did not accept the " \
               "connection" in result.stderr, (command, result.stderr)
        assert "internal error" not in result.stderr and "a2V5" not in result.output


@pytest.mark.parametrize(("kind", "package", "remote_at"), [("gs", "gcsfs", _gs_remote_at),
                                                            ("azure", "adlfs", _azure_remote_at)])
def test_a_request_is_tried_as_often_as_the_remote_s_retries_say(repo, dvx, kind, package,
                                                                 remote_at):
    """The client retries nothing itself: the Azure client's three retries, 15 seconds and
    more apart, or gcsfs's five, up to 32 seconds apart, of each of dvx's attempts would make
    a store that is down take minutes."""
    pytest.importorskip(package)
    asked = []

    class Unavailable(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.path)
            self.send_response(503)  # a passing error, which every client retries
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), Unavailable) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        remote_at(dvx, server.server_address[1])
        (repo / "f").write_text("f")
        assert dvx("add", "f").code == 0
        result = dvx("push")
        server.shutdown()
    assert result.code == 1 and ("remote 'az'" if kind == "azure" else "remote 'g'") \
        in result.stderr, result.output
    assert "internal error" not in result.stderr
    assert len(asked) == 2, asked  # `retries 2`: the one request (a listing), tried twice


def test_an_azure_upload_reads_the_file_in_blocks_as_it_sends_them(tmp_path, request,
                                                                   monkeypatch):
    """A push's memory grows with neither the file's size nor its number of blocks: adlfs
    hands the Azure SDK the open file with up to 2,500 blocks in flight, all read at once.
    The blob is published, made of those blocks, once the file is checked."""
    from azure.storage.blob import BlobServiceClient

    from dvx.fsutil import FileVersion
    from dvx.remote import azure
    from dvx.remote.fs import open_store

    spec = remote_for("azure", request, tmp_path)
    data = os.urandom(2 * azure.BLOCK_SIZE + 1000)
    path = tmp_path / "model.bin"
    path.write_bytes(data)
    asked: list[int] = []

    class Counted:  # the file an upload opens, counting what is asked of it
        def __init__(self, name: str, mode: str) -> None:
            self.file = open(name, mode)  # noqa: SIM115 (closed by __exit__)

        def read(self, size: int = -1) -> bytes:
            asked.append(size)
            return bytes(self.file.read(size))

        def __enter__(self) -> Counted:
            return self

        def __exit__(self, *exc: object) -> None:
            self.file.close()

    monkeypatch.setattr(azure, "open", Counted, raising=False)
    blobs = open_store(spec.url, spec.options, str(tmp_path), "xxh128", "az").blobs
    sent: list[int] = []
    blobs.put_file("model.bin", str(path), sent.append, FileVersion.of(os.stat(path)))
    assert asked == [azure.BLOCK_SIZE] * 4  # three blocks, and the end of the file
    assert sum(sent) == len(data) and spec.get_key("model.bin") == data
    container = urlsplit(spec.url).netloc
    blob = BlobServiceClient.from_connection_string(spec.options["connection_string"]) \
        .get_blob_client(container, "project/model.bin")
    committed, _ = blob.get_block_list("committed")
    assert [block.size for block in committed] == [azure.BLOCK_SIZE] * 2 + [1000]


@pytest.mark.parametrize("kind", ["seaweedfs", "moto", "gs", "azure"])
def test_a_remote_in_a_bucket_that_does_not_exist_is_named_as_such(repo, dvx, tmp_path, request,
                                                                   kind):
    """A listing of a missing bucket would look like an empty remote: `status --remote` would
    call everything unpushed, and a push would fail once per object."""
    spec = remote_for(kind, request, tmp_path)
    missing = f"t-missing-{uuid.uuid4().hex[:8]}"
    spec.url = spec.url.replace(urlsplit(spec.url).netloc, missing, 1)
    make_dataset(repo)
    dvx("add", "data")
    configure(dvx, repo, spec)
    commit_all(repo)
    target = clone(repo, tmp_path)
    endpoint = spec.options.get("endpointurl")  # named: a bucket of another server, maybe
    at = f" at its endpoint {urlsplit(endpoint).netloc}" if endpoint else ""
    for command, where in ((["status", "--remote"], repo), (["push"], repo),
                           (["fetch"], target), (["fsck", "--remote", "r"], repo),
                           (["gc", "--remote", "r", "-f", "-w"], repo)):
        result = dvx(*command, cwd=where)
        assert result.code != 0, (command, result.output)
        word = "container" if kind == "azure" else "bucket"  # as the store calls it
        assert f"{word} that does not exist ('{missing}'){at}." in result.output or (
            f"The {word} '{missing}' does not exist{at}." in result.output), \
            (command, result.output)
        assert "`dvx remote modify r url ...`" in result.output, (command, result.output)
        assert "Traceback" not in result.output and result.output.count(missing) <= 2


@pytest.mark.parametrize("kind", ["seaweedfs", "moto"])
def test_a_missing_bucket_whose_name_breaks_s3_s_rules_blames_the_name_not_only_its_creation(
        repo, dvx, tmp_path, request, kind):
    """`remote add` warned of the name (upper case and '_', which current S3 servers refuse
    or rewrite): that it does not exist then says the name may be why, and corrects the URL,
    never only asking to create a bucket no current server makes."""
    spec = remote_for(kind, request, tmp_path)
    odd = f"Team_Data_{uuid.uuid4().hex[:8]}"
    spec.url = spec.url.replace(urlsplit(spec.url).netloc, odd, 1)
    write(repo / "f.txt", "x")
    assert dvx("add", "f.txt").code == 0
    added = dvx("remote", "add", "-d", "r", spec.url)
    assert added.code == 0 and "breaks S3's naming rules" in added.stderr, added.output
    for key, value in spec.options.items():
        assert dvx("remote", "modify", "r", key, value).code == 0
    for command in (["push"], ["status", "--remote"]):
        result = dvx(*command)
        said = " ".join(result.stderr.split())
        assert result.code == 1 and "does not exist" in said and odd in said, (command, said)
        assert "Its name may be the cause: it breaks S3's naming rules" in said, (command, said)
        assert "Create it" not in said and "`dvx remote modify r url ...`" in said, said
        assert f"follows them: {spec.url.replace(odd, odd.lower().replace('_', '-'))}. " \
            in said, said
        assert "Traceback" not in result.output and said.count(odd) <= 2, said


@pytest.mark.parametrize("level", ["project", "local", "global"])
def test_the_hints_of_a_remote_s_errors_name_the_config_level_that_defines_it(
        repo, dvx, tmp_path, request, monkeypatch, level):
    """`dvx remote modify NAME` writes the tracked config, which it refuses for a remote that
    only the local or global config defines: each hint's command gives the flag of the level
    that defines the remote, and works as given."""
    for variable in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        monkeypatch.delenv(variable, raising=False)
    spec = remote_for("moto", request, tmp_path)
    missing = spec.url.replace(urlsplit(spec.url).netloc, f"t-missing-{uuid.uuid4().hex[:8]}")
    flag = [] if level == "project" else [f"--{level}"]
    modify = " ".join(["dvx remote modify", *flag])
    write(repo / "f", "f\n")
    assert dvx("add", "f").code == 0
    assert dvx("remote", "add", *flag, "r", missing).code == 0
    for key, value in spec.options.items():
        assert dvx("remote", "modify", *flag, "r", key, value).code == 0
    pushed = dvx("push", "-r", "r")
    assert pushed.code == 1 and f"`{modify} r url ...`" in pushed.stderr, pushed.output
    assert dvx("remote", "modify", *flag, "r", "url", spec.url).code == 0  # as hinted
    assert dvx("push", "-r", "r").code == 0
    # a hint built before any request: an S3 remote without credentials
    assert dvx("remote", "add", *flag, "bare", spec.url).code == 0
    assert dvx("remote", "modify", *flag, "bare", "endpointurl",
               spec.options["endpointurl"]).code == 0
    bare = dvx("push", "-r", "bare")
    assert bare.code == 1 and f"(`{modify} bare profile NAME`)" in bare.stderr, bare.output
    assert dvx("remote", "modify", *flag, "bare", "profile", "p").code == 0  # as hinted


@pytest.mark.parametrize(("url", "package", "extra"), [("gs://bucket/p", "gcsfs", "gs"),
                                                       ("azure://c/p", "adlfs", "azure")])
def test_a_missing_client_package_is_named_with_its_install_command(repo, dvx, monkeypatch,
                                                                    url, package, extra):
    monkeypatch.setitem(__import__("sys").modules, package, None)  # as if not installed
    assert dvx("remote", "add", "-d", "r", url).code == 0
    (repo / "f").write_text("f")
    assert dvx("add", "f").code == 0
    pushed = dvx("push")
    assert pushed.code == 1
    # The command installs the client itself: `pip install 'dvx[EXTRA]'` would fetch PyPI's
    # dvx, another project.
    assert pushed.stderr == f"ERROR: This remote needs the Python package '{package}', which " \
                            f"is not installed. Install dvx's '{extra}' extra where dvx is " \
                            f"installed: `pip install '{package}>=2024.2'`.\n"


def test_a_gs_credentials_file_is_read_from_the_repository_root_and_named_when_unusable(
        repo, dvx):
    """gcsfs takes a `credentialpath` that is no file for an access token (then blames the
    network), and says of one that is no JSON only what the parser says. A relative path is
    the repository's, wherever dvx runs, as ssl_verify's is."""
    pytest.importorskip("gcsfs")
    (repo / "f").write_text("f")
    assert dvx("add", "f").code == 0
    assert dvx("remote", "add", "-d", "g", "gs://bucket/project").code == 0
    missing = dvx("remote", "modify", "g", "credentialpath", "keys/sa.json")
    assert missing.code == 2, missing.output
    assert f"'{repo / 'keys' / 'sa.json'}' does not exist" in missing.stderr
    (repo / "keys").mkdir()
    (repo / "keys" / "sa.json").write_text("{'type': 'service_account'}")  # not JSON's quotes
    assert dvx("remote", "modify", "g", "credentialpath", "keys/sa.json").code == 2
    (repo / ".dvx" / "config").write_text(  # by hand: checked before use
        '[remote "g"]\nurl = gs://bucket/project\ncredentialpath = keys/sa.json\n'
        '[core]\nremote = g\n')
    (repo / "sub").mkdir()
    for where in (repo, repo / "sub"):
        pushed = dvx("push", cwd=where)
        assert pushed.code == 1, pushed.output
        assert f"the credentials file '{repo / 'keys' / 'sa.json'}' is not valid JSON " \
               "(Expecting property name enclosed in double quotes" in pushed.stderr, \
            pushed.stderr
        assert "dvx remote modify g credentialpath VALUE" in pushed.stderr
        assert "network" not in pushed.stderr


def test_an_azure_account_key_that_is_not_base64_is_named_as_such(repo, dvx, tmp_path,
                                                                  request):
    """A key with a character lost in a copy: the client cannot sign a request with it, so
    none is sent, and no store answered anything."""
    spec = remote_for("azure", request, tmp_path)
    key = spec.extra["secret"]
    spec.options["connection_string"] = spec.options["connection_string"].replace(
        f"AccountKey={key}", f"AccountKey={key[1:]}")
    configure(dvx, repo, spec)
    (repo / "f").write_text("f")
    assert dvx("add", "f").code == 0
    for command in (["push"], ["status", "--remote"]):
        result = dvx(*command)
        assert result.code == 1, (command, result.output)
        assert result.stderr.startswith(
            "ERROR: The account key of the remote 'r' (azure://"), result.stderr
        assert "is not valid, so no request could be signed with it: Invalid base64" \
               in result.stderr and "`dvx remote modify --local r account_key ...`" \
               in result.stderr, result.stderr
        assert "answered" not in result.stderr and key[1:] not in result.output


def test_an_azure_remote_without_credentials_says_where_to_give_them(repo, dvx, tmp_path,
                                                                     monkeypatch):
    """As an S3 remote without credentials does: for the repository's own remote, and for
    another repository's, read by `dvx get`, whose options are not the reader's."""
    pytest.importorskip("adlfs")
    for variable in ("AZURE_STORAGE_CONNECTION_STRING", "AZURE_STORAGE_ACCOUNT_NAME"):
        monkeypatch.delenv(variable, raising=False)
    assert dvx("remote", "add", "-d", "az", "azure://container/project").code == 0
    (repo / "f").write_text("f")
    assert dvx("add", "f").code == 0
    commit_all(repo)
    result = dvx("push")
    assert result.code == 1, result.output
    assert result.stderr == (
        "ERROR: No credentials for the remote 'az' (azure://container/project): neither its "
        "options nor the environment give a connection_string or an account_name. Give them "
        "with `dvx remote modify --local az connection_string ...` (or `... account_name ...` "
        "and `... account_key ...`, or `... sas_token ...`), or AZURE_STORAGE_CONNECTION_STRING "
        "in the environment.\n")
    origin = tmp_path / "origin.git"  # a repository without a cache: read from its remote
    subprocess.run(["git", "clone", "-q", "--bare", str(repo), str(origin)], check=True)
    got = dvx("get", str(origin), "f", "-o", str(tmp_path / "f"), cwd=tmp_path)
    assert got.code == 1, got.output
    assert "No credentials for the remote 'az'" in got.stderr, got.stderr
    assert "Give them with AZURE_STORAGE_CONNECTION_STRING in the environment, or in your " \
           "own config, to a remote of the same URL, whose options apply to it: `dvx remote " \
           "add --global NAME azure://container/project`, then `dvx remote modify --global " \
           "NAME connection_string ...`" in got.stderr, got.stderr


def test_a_push_with_a_container_s_sas_prints_no_client_warning(repo, tmp_path, request):
    """adlfs warns, on every push, that a container's SAS cannot read the container's
    properties: Python prints that with its source line. dvx reports what matters itself."""
    import datetime

    from azure.storage.blob import ContainerSasPermissions, generate_container_sas

    from tests.conftest import run_dvx_proc

    spec = remote_for("azure", request, tmp_path)
    container = urlsplit(spec.url).netloc
    now = datetime.datetime.now(datetime.timezone.utc)
    sas = generate_container_sas(
        "devstoreaccount1", container, account_key=spec.extra["secret"],
        permission=ContainerSasPermissions(read=True, write=True, delete=True, list=True,
                                           add=True, create=True),
        start=now - datetime.timedelta(hours=1), expiry=now + datetime.timedelta(hours=1))
    endpoint = spec.options["connection_string"].split("BlobEndpoint=")[1].rstrip(";")
    for args in (("remote", "add", "-d", "az", spec.url),
                 ("remote", "modify", "--local", "az", "connection_string",
                  f"BlobEndpoint={endpoint};SharedAccessSignature={sas}")):
        assert run_dvx_proc(*args, cwd=repo).code == 0
    (repo / "f").write_text("f")
    assert run_dvx_proc("add", "f", cwd=repo).code == 0
    pushed = run_dvx_proc("push", cwd=repo)
    assert pushed.code == 0, pushed.output
    assert pushed.stderr == "" and "Pushed 1 object" in pushed.stdout, pushed.output


@pytest.mark.parametrize("kind", ["gs", "azure"])
def test_get_url_reads_a_file_of_a_gs_or_azure_url_as_the_remotes_reach_it(
        kind, tmp_path, monkeypatch, request):
    """A source URL of either scheme dvx's remotes take is read through the client a remote
    of that kind has (gcsfs's requests tried once, the Azure client's settings)."""
    data = b"a source file\n" * 1000
    if kind == "gs":
        server = request.getfixturevalue("fake_gcs")
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", server["endpoint_url"])
        fs, _ = backend_for("gs://srcbucket/x").build(
            "gs://srcbucket/x", {"endpointurl": server["endpoint_url"], "anonymous": "true"},
            60.0)
        fs.mkdir("srcbucket")
        fs.pipe("srcbucket/raw/data.csv", data)
        url = "gs://srcbucket/raw/data.csv"
    else:
        server = request.getfixturevalue("azurite")
        monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", server["connection_string"])
        from azure.storage.blob import BlobServiceClient

        service = BlobServiceClient.from_connection_string(server["connection_string"])
        service.create_container("srcbox")
        service.get_blob_client("srcbox", "raw/data.csv").upload_blob(data)
        url = "azure://srcbox/raw/data.csv"
    got = subprocess.run([sys.executable, "-m", "dvx", "get-url", url, "got.csv"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert got.returncode == 0, got.stderr
    assert (tmp_path / "got.csv").read_bytes() == data
    assert "Traceback" not in got.stderr and "Could not determine" not in got.stderr
