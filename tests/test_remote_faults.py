"""Transient errors, dropped connections and in-flight corruption, injected by a wrapping
filesystem (tests/faulty_fs.py), a read-only HTTP remote, and an S3 endpoint that is not S3."""

from __future__ import annotations

import base64
import contextlib
import http.server
import json
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import fsspec
import pytest
import xxhash

from tests.conftest import git, tree_bytes, write
from tests.faulty_fs import FaultyFileSystem
from tests.remotes import commit_all, local_spec
from tests.servers import self_signed_cert, serving, tls_in_front

fsspec.register_implementation("faulty", FaultyFileSystem, clobber=True)


@dataclass
class Faults:
    """The faults file of a faulty store, and the layout its objects are pushed in."""
    path: Path
    layout: str
    store: Path

    def write_text(self, text: str) -> None:
        self.path.write_text(text)

    def read_text(self) -> str:
        return self.path.read_text()


@pytest.fixture(params=["packs", "loose"])
def faulty(request, repo, dvx, tmp_path):
    """The repo with a default remote on a faulty store, its small objects in packs or each
    alone."""
    faults = Faults(tmp_path / "faults.json", request.param, tmp_path / "store")
    faults.write_text("{}")
    assert dvx("remote", "add", "-d", "r", f"faulty://{faults.store}").code == 0
    assert dvx("remote", "modify", "r", "faults", str(faults.path)).code == 0
    assert dvx("remote", "modify", "r", "retries", "4").code == 0
    if faults.layout == "loose":
        assert dvx("remote", "modify", "r", "pack_threshold", "0").code == 0
    for i in range(6):
        write(repo / "d" / f"{i}", f"content {i}" * 100)
    dvx("add", "d")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "v1")
    return faults


def _clone(repo, tmp_path):
    """A clone of `repo`, with its user's own settings there too (.dvx/config.local: a faulty
    store's `faults` option, which a generic remote takes from the user's config only)."""
    target = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(repo), str(target))
    if (repo / ".dvx" / "config.local").exists():
        shutil.copy(repo / ".dvx" / "config.local", target / ".dvx" / "config.local")
    return target


def test_transient_failures_are_retried(repo, dvx, faulty):
    faulty.write_text(json.dumps({"fail_times": 3}))
    result = dvx("push", "-v")
    assert result.code == 0, result.output
    assert "Retrying" in result.stderr
    assert json.loads(faulty.read_text())["fail_times"] == 0


def test_persistent_failures_are_listed_and_exit_non_zero(repo, dvx, faulty):
    faulty.write_text(json.dumps({"fail_puts": 1000}))
    result = dvx("push", "--json")
    assert result.code == 1
    summary = json.loads(result.stdout)
    assert len(summary["failed"]) == 6 and summary["transferred"] == 0
    assert all("injected" in f["reason"] for f in summary["failed"])
    assert "manifest was not pushed" in " ".join(summary["problems"])


def test_an_unreachable_remote_is_one_clear_error(repo, dvx, faulty):
    faulty.write_text(json.dumps({"fail_times": 1000}))
    result = dvx("push")
    assert result.code == 1
    assert result.stderr.startswith("ERROR:") and "injected" in result.stderr
    assert "Traceback" not in result.output


def test_dropped_connection_mid_download_is_retried(repo, dvx, faulty, tmp_path):
    assert dvx("push").code == 0
    target = _clone(repo, tmp_path)
    faulty.write_text(json.dumps({"drop_times": 2, "drop_after_bytes": 10}))
    result = dvx("pull", cwd=target)
    assert result.code == 0, result.output
    assert tree_bytes(target / "d") == tree_bytes(repo / "d")
    assert not list((target / ".dvx/cache/tmp").glob("*"))


@pytest.mark.parametrize("fault", ["corrupt", "truncate"])
def test_objects_damaged_in_flight_never_enter_the_cache(repo, dvx, faulty, tmp_path, fault):
    assert dvx("push").code == 0
    bad = xxhash.xxh3_128_hexdigest((repo / "d" / "2").read_bytes())
    target = _clone(repo, tmp_path)
    if faulty.layout == "loose":
        faulty.write_text(json.dumps({fault: [bad]}))
    else:  # one byte of the object, inside its pack, is damaged on every read
        spec = local_spec(faulty.store, str(faulty.store), {})
        pack, offset, _ = spec.packed()[bad]
        where = offset if fault == "corrupt" else offset + 5
        faulty.write_text(json.dumps({"corrupt_at": {pack.split("/")[-1]: where}}))
    result = dvx("pull", cwd=target)
    assert result.code == 1 and bad in result.stderr
    assert not (target / "d" / "2").exists()
    assert (target / "d" / "3").read_bytes() == (repo / "d" / "3").read_bytes()
    assert not (target / ".dvx/cache/files/xxh128" / bad[:2] / bad[2:]).exists()


def test_http_remote_is_read_only_and_pulls(repo, dvx, tmp_path, http_server):
    write(repo / "d" / "a", "a" * 1000)
    write(repo / "big", b"b" * (5 << 20))
    dvx("add", "d", "big")
    served = http_server["root"] / "project"
    assert dvx("remote", "add", "local", str(served)).code == 0
    assert dvx("push", "-r", "local").code == 0
    assert list((served / "packs").iterdir())  # d/a and the manifest: read with Range requests
    assert dvx("remote", "add", "-d", "web", f"{http_server['url']}/project").code == 0
    refused = dvx("push")
    assert refused.code != 0 and "read-only" in refused.stderr
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "v1")
    target = _clone(repo, tmp_path)
    result = dvx("pull", cwd=target)
    assert result.code == 0, result.output
    assert tree_bytes(target / "d") == tree_bytes(repo / "d")
    assert (target / "big").read_bytes() == (repo / "big").read_bytes()
    shutil.rmtree(served)


def test_an_http_remote_that_does_not_answer_is_an_error_not_an_empty_remote(repo, dvx):
    from tests.servers import free_port

    write(repo / "f", "x")
    dvx("add", "f")
    # A free port on loopback: nothing listens there.
    assert dvx("remote", "add", "-d", "web", f"http://127.0.0.1:{free_port()}/x").code == 0
    shutil.rmtree(repo / ".dvx" / "cache")  # what the cache holds, pull asks of no remote
    for args in (("status", "--remote"), ("fetch",), ("pull",), ("fsck", "--remote", "web")):
        result = dvx(*args)
        assert result.code == 1, (args, result.output)
        assert "Cannot reach the HTTP remote" in result.stderr, (args, result.output)
        assert "not on the remote" not in result.output


def test_an_https_remote_checks_the_certificate_against_the_ssl_verify_bundle(repo, dvx,
                                                                             tmp_path,
                                                                             http_server):
    """Only `false` turns the check off: a CA bundle that does not trust the server's
    certificate is refused as no bundle is, and a value that is neither is refused outright."""
    write(repo / "f", "x")
    assert dvx("add", "f").code == 0
    served = http_server["root"] / "tls"
    assert dvx("remote", "add", "local", str(served)).code == 0
    assert dvx("push", "-r", "local").code == 0
    port = int(http_server["url"].rsplit(":", 1)[1])
    with tls_in_front(port, tmp_path / "tls") as (tls_port, cert):
        assert dvx("remote", "add", "-d", "web", f"https://127.0.0.1:{tls_port}/tls").code == 0
        other, _ = self_signed_cert(tmp_path / "other")
        for verify in (None, other):
            if verify is not None:
                assert dvx("remote", "modify", "web", "ssl_verify", verify).code == 0
            refused = dvx("status", "-c")
            assert refused.code == 1, (verify, refused.output)
            assert "self-signed certificate" in refused.stderr, refused.stderr
            assert "ssl_verify" in refused.stderr and "in sync" not in refused.stdout
        assert dvx("remote", "modify", "web", "ssl_verify", "ture").code == 2
        for verify in (cert, "false"):
            assert dvx("remote", "modify", "web", "ssl_verify", verify).code == 0
            in_sync = dvx("status", "-c")
            assert in_sync.code == 0 and "in sync" in in_sync.stdout, (verify, in_sync.output)


def test_fsck_of_an_http_remote_reports_and_moves_nothing(repo, dvx, http_server):
    write(repo / "d" / "a", "a" * 1000)
    write(repo / "d" / "b", "b" * 1000)
    dvx("add", "d")
    served = http_server["root"] / "fsck-loose"
    assert dvx("remote", "add", "local", str(served)).code == 0
    assert dvx("remote", "modify", "local", "pack_threshold", "0").code == 0
    assert dvx("push", "-r", "local").code == 0
    assert dvx("remote", "add", "web", f"{http_server['url']}/fsck-loose").code == 0
    clean = dvx("fsck", "--remote", "web")
    assert clean.code == 0, clean.output
    assert "0 corrupt, 0 missing" in clean.stdout
    bad = xxhash.xxh3_128_hexdigest(b"a" * 1000)
    damaged = served / "files" / "xxh128" / bad[:2] / bad[2:]
    damaged.write_bytes(b"x" * 1000)
    result = dvx("fsck", "--remote", "web")
    assert result.code == 1, result.output
    assert f"Corrupt {bad}" in result.stderr and "read-only" in result.stderr
    assert "internal error" not in result.stderr and "moved to" not in result.stderr
    said = " ".join(result.stderr.split())
    assert "`dvx push --repair -r NAME`, NAME being the remote that writes to the store " \
        "'web' serves" in said and "-r web" not in said, said  # a push there is refused
    assert damaged.read_bytes() == b"x" * 1000  # reported, left where it is
    assert not (served / "locks").exists() or not list((served / "locks").iterdir())
    shutil.rmtree(served)


def test_fsck_and_status_of_an_http_remote_lacking_an_object_name_a_push_that_works(
        repo, dvx, http_server):
    """fsck --remote and status --remote alike (and, with a default remote elsewhere, the
    line of each missing object): never `dvx push -r web`, which is refused."""
    served = http_server["root"] / "fsck-missing"
    assert dvx("remote", "add", "-d", "local", str(served)).code == 0
    assert dvx("remote", "add", "web", f"{http_server['url']}/fsck-missing").code == 0
    write(repo / "a.txt", "a")
    assert dvx("add", "a.txt").code == 0 and dvx("push", "-r", "local").code == 0
    write(repo / "b.txt", "b")
    assert dvx("add", "b.txt").code == 0
    result = dvx("fsck", "--remote", "web")
    status = dvx("status", "-c", "-r", "web")
    assert result.code == 1 and "b.txt needs it" in result.stderr, result.output
    assert "`dvx push` sends it to the default remote local" in result.stderr
    assert "1 object not on the remote" in status.stdout and "b.txt" in status.stdout
    for told in (result.stderr, status.stdout):
        assert "dvx push -r web" not in told  # refused: the remote is read-only
        assert "`dvx push -r NAME`, NAME being the remote that writes to the store" in told
    assert "'web' serves (it is read-only)" in result.stderr
    assert "'web' is read-only" in status.stdout
    assert "dvx push -r local" in dvx("fsck", "--remote", "local").stderr
    assert "(`dvx push -r local`)" in dvx("status", "-c", "-r", "local").stdout
    shutil.rmtree(served)


def test_packs_are_read_from_a_server_that_ignores_range(repo, dvx, tmp_path, http_server):
    # python -m http.server answers a ranged GET with 200 and the whole pack
    for i in range(4):
        write(repo / "d" / f"{i}", f"file {i}\n")
    dvx("add", "d")
    served = http_server["root"] / "no-range"
    assert dvx("remote", "add", "local", str(served)).code == 0
    assert dvx("push", "-r", "local").code == 0
    assert list((served / "packs").iterdir())
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "v1")
    target = _clone(repo, tmp_path)
    assert dvx("remote", "add", "-d", "web", f"{http_server['url']}/no-range",
               cwd=target).code == 0
    one = dvx("pull", "d/2", cwd=target)  # a range inside a pack
    assert one.code == 0, one.output
    assert (target / "d" / "2").read_text() == "file 2\n"
    whole = dvx("pull", cwd=target)
    assert whole.code == 0, whole.output
    assert tree_bytes(target / "d") == tree_bytes(repo / "d")
    checked = dvx("fsck", "--remote", "web", cwd=target)
    assert checked.code == 0, checked.output
    assert "5 objects in the remote web: 0 corrupt, 0 missing" in checked.stdout
    shutil.rmtree(served)


class _IndexFaults(http.server.SimpleHTTPRequestHandler):
    """Serves a directory with Range, and answers for pack indexes as `mode` says: "500",
    "cut" (half the body, then the connection closes) or "hang" (no answer)."""
    mode = "ok"

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        path = Path(self.translate_path(self.path))
        index = path.name.endswith(".idx")
        if index and self.mode == "500":
            return self.send_error(500)
        if index and self.mode == "hang":
            time.sleep(5)
            return None
        if not path.is_file():
            return super().do_GET()
        data = path.read_bytes()
        start, end = 0, len(data)
        if self.headers.get("Range"):
            first, _, last = self.headers["Range"].removeprefix("bytes=").partition("-")
            start, end = int(first), int(last) + 1 if last else len(data)
        body = data[start:end]
        self.send_response(206 if self.headers.get("Range") else 200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[:len(body) // 2] if index and self.mode == "cut" else body)
        self.close_connection = True
        return None


@pytest.mark.parametrize("mode", ["500", "cut", "hang"])
def test_an_index_the_server_fails_to_send_is_one_clear_error(repo, dvx, tmp_path, mode):
    for i in range(3):
        write(repo / "d" / f"{i}", f"file {i}\n")
    dvx("add", "d")
    served = tmp_path / "www"
    assert dvx("remote", "add", "local", str(served / "store")).code == 0
    assert dvx("push", "-r", "local").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "v1")
    target = _clone(repo, tmp_path)
    handler = type("Handler", (_IndexFaults,), {"mode": mode})
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), lambda *a: handler(*a, directory=str(served)))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/store"
        assert dvx("remote", "add", "-d", "web", url, cwd=target).code == 0
        assert dvx("remote", "modify", "web", "timeout", "1", cwd=target).code == 0
        assert dvx("remote", "modify", "web", "retries", "2", cwd=target).code == 0
        result = dvx("pull", cwd=target)
    finally:
        server.shutdown()
        server.server_close()
    assert result.code == 1, result.output
    assert result.stderr.startswith("ERROR: The pack index indexes/"), result.stderr
    assert "could not be read from the remote" in result.stderr
    assert {"500": "500", "cut": "payload", "hang": "timed out"}[mode] in result.stderr
    assert "internal error" not in result.stderr and "Traceback" not in result.output


class _TokenChecked(http.server.SimpleHTTPRequestHandler):
    """Serves a directory to requests that carry `?token=SECRETQ` (as a signed URL does), and
    answers 500 to every request when `broken`."""
    broken = False
    seen: ClassVar[list[str]] = []

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.seen.append(self.path)
        if self.broken:
            return self.send_error(500)
        if not self.path.endswith("?token=SECRETQ"):
            return self.send_error(403)
        return super().do_GET()

    do_HEAD = do_GET


@contextlib.contextmanager
def _token_server(served: Path, broken: bool = False) -> Iterator[tuple[str, list[str]]]:
    seen: ClassVar[list[str]] = []
    handler = type("Handler", (_TokenChecked,), {"broken": broken, "seen": seen})
    with serving(handler, served) as url:
        yield url, seen


def test_the_query_of_an_http_remote_url_goes_on_every_request(repo, dvx, tmp_path):
    write(repo / "d" / "a", "a" * 1000)  # packed
    write(repo / "big", b"b" * (2 << 20))  # loose
    assert dvx("add", "d", "big").code == 0
    served = tmp_path / "www"
    assert dvx("remote", "add", "local", str(served / "store")).code == 0
    assert dvx("push", "-r", "local").code == 0
    commit_all(repo, "v1")
    target = _clone(repo, tmp_path)
    with _token_server(served) as (url, seen):
        assert dvx("remote", "add", "-d", "web", f"{url}/store?token=SECRETQ",
                   cwd=target).code == 0
        pulled = dvx("pull", cwd=target)
    assert pulled.code == 0, pulled.output
    assert (target / "big").read_bytes() == (repo / "big").read_bytes()
    assert tree_bytes(target / "d") == tree_bytes(repo / "d")
    assert seen and all(path.startswith("/store/") and path.endswith("?token=SECRETQ")
                        for path in seen), seen


def test_the_token_and_password_of_a_url_never_show_in_messages(repo, dvx, tmp_path):
    write(repo / "f", "x")
    assert dvx("add", "f").code == 0
    shutil.rmtree(repo / ".dvx/cache")
    with _token_server(tmp_path, broken=True) as (url, _):  # 500 to every request
        assert dvx("remote", "add", "-d", "web", f"{url}/store?token=SECRETQ").code == 0
        fetched = dvx("fetch")
        imported = dvx("import-url", f"{url}/f?token=SECRETQ", "g")  # a password is refused
        got = dvx("get-url", f"http://u:SECRETPW@{url[7:]}/f?token=SECRETQ", "g")
    assert fetched.code == 1 and "500" in fetched.stderr, fetched.output
    for result in (imported, got):
        assert result.code == 1, result.output
        assert "answered 500" in result.stderr and "Nothing at" not in result.stderr
    for result in (fetched, imported, got):
        assert "SECRET" not in result.output and "Traceback" not in result.output


def test_get_url_names_the_url_it_downloaded_without_its_secrets(repo, dvx, tmp_path):
    write(tmp_path / "www" / "f", "data")
    with _token_server(tmp_path / "www") as (url, _):
        got = [dvx(*verbose, "get-url", f"http://u:SECRETPW@{url[7:]}/f?token=SECRETQ",
                   str(tmp_path / f"g{len(verbose)}")) for verbose in ((), ("-v",))]
    for result in got:
        assert result.code == 0, result.output
        assert result.stdout.startswith(f"Downloaded http://***@{url[7:]}/f?token=***"), \
            result.stdout
        assert "SECRET" not in result.output
    assert (tmp_path / "g0").read_text() == (tmp_path / "g1").read_text() == "data"


class _Guarded(http.server.SimpleHTTPRequestHandler):
    """Serves a directory with access rules: `refuse` 401 (it asks for credentials, and
    takes user dvx, password pw) or 403 to every request; without `lists`, 403 to a folder's
    URL and the files served (nginx without autoindex)."""
    refuse = 0
    lists = True

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        granted = "Basic " + base64.b64encode(b"dvx:pw").decode()
        if self.refuse == 401 and self.headers.get("Authorization") != granted:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="store"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        folder = os.path.isdir(self.translate_path(self.path))
        if self.refuse == 403 or (folder and not self.lists):
            return self.send_error(403)
        return super().do_GET()

    do_HEAD = do_GET


def _served_clone(repo, dvx, tmp_path) -> tuple[Path, Path]:
    """A clone of `repo` (a file and a directory, committed and pushed, loose, to the
    folder www/store) without the data: the clone and www."""
    write(repo / "f", "f\n")
    write(repo / "d" / "a", "a\n")
    assert dvx("add", "f", "d").code == 0
    served = tmp_path / "www"
    assert dvx("remote", "add", "local", str(served / "store")).code == 0
    assert dvx("remote", "modify", "local", "pack_threshold", "0").code == 0
    assert dvx("push", "-r", "local").code == 0
    commit_all(repo, "v1")
    return _clone(repo, tmp_path), served


@pytest.mark.parametrize("refuse", [401, 403])
def test_an_http_remote_that_refuses_dvx_is_an_error_naming_the_credentials(repo, dvx,
                                                                          tmp_path, refuse):
    """Not an empty remote, nor data a teammate did not push: the server said no."""
    target, served = _served_clone(repo, dvx, tmp_path)
    handler = type("Handler", (_Guarded,), {"refuse": refuse})
    with serving(handler, served) as url:
        assert dvx("remote", "add", "-d", "web", f"{url}/store", cwd=target).code == 0
        for args in (("status", "-c"), ("pull",)):
            refused = dvx(*args, cwd=target)
            assert refused.code == 1, (args, refused.output)
            assert "The web server of the remote 'web'" in refused.stderr, refused.stderr
            assert "refused" in refused.stderr and f"({refuse} " in refused.stderr
            assert "user and password options" in refused.stderr
            assert "not on the remote" not in refused.output
            assert "whoever committed" not in refused.output
        if refuse == 401:
            assert dvx("remote", "modify", "web", "user", "dvx", cwd=target).code == 0
            assert dvx("remote", "modify", "web", "password", "pw", cwd=target).code == 0
            pulled = dvx("pull", cwd=target)
            assert pulled.code == 0, pulled.output
            assert (target / "f").read_text() == "f\n"


def test_an_http_remote_that_lists_no_folder_serves_its_objects(repo, dvx, tmp_path):
    target, served = _served_clone(repo, dvx, tmp_path)
    with serving(type("Handler", (_Guarded,), {"lists": False}), served) as url:
        assert dvx("remote", "add", "-d", "web", f"{url}/store", cwd=target).code == 0
        in_cache = dvx("status", "-c", cwd=target)
        assert in_cache.code == 0 and "not on the remote" not in in_cache.output
        pulled = dvx("pull", cwd=target)
    assert pulled.code == 0, pulled.output
    assert (target / "d" / "a").read_text() == "a\n"


def test_an_http_remote_url_with_nothing_behind_it_is_a_wrong_url_not_unpushed_data(
        repo, dvx, tmp_path, http_server):
    """A 404 to every request, its indexes' listing included: a typo in the URL, most
    likely, as a missing folder of a directory or SSH remote is."""
    target, served = _served_clone(repo, dvx, tmp_path)
    shutil.copytree(served / "store", http_server["root"] / "typo")
    assert dvx("remote", "add", "-d", "web", f"{http_server['url']}/tpyo", cwd=target).code == 0
    for args in (("status", "-c"), ("pull",)):
        result = dvx(*args, cwd=target)
        assert result.code == 1, (args, result.output)
        assert "Nothing was found at the URL of the remote 'web'" in result.stderr
        assert "dvx remote modify web url URL" in result.stderr
        assert "whoever committed" not in result.output
    assert dvx("remote", "modify", "web", "url", f"{http_server['url']}/typo",
               cwd=target).code == 0
    assert dvx("pull", cwd=target).code == 0


class _WebPage(http.server.BaseHTTPRequestHandler):
    """A web server on an S3 remote's endpoint (a console, a login page): 200 and the same
    page to every request, or, with `lists`, an empty S3 listing to listings."""
    protocol_version = "HTTP/1.1"
    lists = ""  # the namespace of the S3 listings it answers to listings; "": none, a page
    seen: ClassVar[list[str]] = []

    def __init__(self, *args: object, directory: str = "") -> None:  # serving() passes one
        super().__init__(*args)  # type: ignore[arg-type]

    def log_message(self, *args: object) -> None:
        pass

    def handle(self) -> None:
        with contextlib.suppress(ConnectionError):  # dvx hangs up once it knows: no report
            super().handle()

    def answer(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.seen.append(self.command)
        body, kind = b"<html><body>Welcome to the portal</body></html>", "text/html"
        if self.lists and "list-type=2" in self.path:
            body = (f'<ListBucketResult xmlns="{self.lists}">'.encode()
                    + b"<IsTruncated>false</IsTruncated></ListBucketResult>")
            kind = "application/xml"
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = answer


@pytest.mark.parametrize("lists", [  # a listing in any namespace is one (GCS's XML API has its own)
    "", "http://s3.amazonaws.com/doc/2006-03-01/", "http://doc.s3.amazonaws.com/2006-03-01"],
    ids=["page", "page-but-listings", "page-but-gcs-listings"])
def test_an_s3_endpoint_that_is_a_web_page_is_an_error_not_a_store(repo, dvx, tmp_path,
                                                                   monkeypatch, lists):
    """Pages where a listing belongs would read as an empty remote; writes and existence
    checks answered 200 without an ETag as objects stored and there."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "k")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s")
    for i in range(3):
        write(repo / "d" / f"{i}", f"content {i}" * 100)
    assert dvx("add", "d").code == 0
    handler = type("Handler", (_WebPage,), {"lists": lists, "seen": []})
    with serving(handler, tmp_path) as url:
        assert dvx("remote", "add", "-d", "s3", "s3://team/p").code == 0
        assert dvx("remote", "modify", "s3", "endpointurl", url).code == 0
        results = {command: dvx(*command.split()) for command in
                   ("push", "status --remote", "fsck --remote s3")}
        commit_all(repo, "v1")
        results["pull"] = dvx("pull", cwd=_clone(repo, tmp_path))
    if lists:  # an empty remote, to a listing: its checks and its writes tell
        results = {command: results[command] for command in ("push", "status --remote")}
    for command, result in results.items():
        assert result.code == 1, (command, result.output)
        assert result.stderr.startswith(
            f"ERROR: The remote 's3' does not answer like S3 at its endpoint {url}: "), \
            (command, result.stderr)
        assert "200 (text/html" in result.stderr
        assert "dvx remote modify s3 endpointurl URL" in result.stderr
        assert result.stderr.count("\n") == 1 and "Pushed" not in result.output
    assert "beginning '<html><body>Welcome to the portal" in results["push"].stderr
    if lists:
        assert "without the ETag" in results["push"].stderr
        assert "without the ETag" in results["status --remote"].stderr
        assert "HEAD" in handler.seen


class _QuietFiles(http.server.SimpleHTTPRequestHandler):
    """`python -m http.server` over an empty folder: 404 and its HTML page to every read."""

    def log_message(self, *args: object) -> None:
        pass


class _NotFound(_WebPage):
    """A server that is no S3 store answering 404 to everything with `body` (no S3 error XML):
    a SeaweedFS master's or filer's port (JSON, or nothing)."""
    body = b""
    kind = ""  # its Content-Type; "": none

    def answer(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(404)
        if self.kind:
            self.send_header("Content-Type", self.kind)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(self.body)

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = answer


@pytest.mark.parametrize("handler", [
    _QuietFiles,
    type("Json", (_NotFound,), {"body": b'{"error": "not found"}', "kind": "application/json"}),
    _NotFound], ids=["http.server", "json", "empty"])
def test_an_s3_endpoint_answering_404_without_s3_s_error_is_not_s3_never_a_missing_bucket(
        repo, dvx, tmp_path, monkeypatch, handler):
    """A listing answered 404 without the S3 error XML a missing bucket gets (a plain web
    server, another port of the store) is no S3 store: said so, never a bucket to create."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "k")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s")
    write(repo / "f", "hi")
    assert dvx("add", "f").code == 0
    (tmp_path / "www").mkdir()
    with serving(handler, tmp_path / "www") as url:
        assert dvx("remote", "add", "-d", "s3", "s3://team/p").code == 0
        assert dvx("remote", "modify", "s3", "endpointurl", url).code == 0
        commit_all(repo, "v1")
        results = {"push": dvx("push"), "status --remote": dvx("status", "--remote"),
                   "pull": dvx("pull", cwd=_clone(repo, tmp_path))}
    for command, result in results.items():
        assert result.code == 1, (command, result.output)
        assert result.stderr.startswith(
            f"ERROR: The remote 's3' does not answer like S3 at its endpoint {url}: "), \
            (command, result.stderr)
        assert " 404 (" in result.stderr, (command, result.stderr)
        assert "does not exist" not in result.stderr, (command, result.stderr)
        assert "dvx remote modify s3 endpointurl URL" in result.stderr


class _NoSuchKey(_WebPage):
    """An S3 store that takes every request for a read of a key it lacks: SeaweedFS's answer
    to a listing whose path, past a prefix of the endpoint's own, names another bucket."""

    def answer(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = (b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchKey</Code>'
                b"<Message>The specified key does not exist.</Message></Error>")
        self.send_response(404)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = answer


def test_an_s3_listing_that_finds_no_bucket_names_the_bucket_and_endpoint_not_a_folder(
        repo, dvx, tmp_path, monkeypatch):
    """A listing answered 'no such key' found no bucket where it asked: the bucket and the
    endpoint are named, never the remote's indexes/ folder as lost."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "k")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s")
    write(repo / "f", "hi")
    assert dvx("add", "f").code == 0
    with serving(_NoSuchKey, tmp_path) as url:
        assert dvx("remote", "add", "-d", "s3", "s3://team/p").code == 0
        assert dvx("remote", "modify", "s3", "endpointurl", url).code == 0
        commit_all(repo, "v1")
        results = {"push": dvx("push"), "status --remote": dvx("status", "--remote"),
                   "pull": dvx("pull", cwd=_clone(repo, tmp_path))}
    endpoint = url.split("://", 1)[1]
    for command, result in results.items():
        assert result.code == 1, (command, result.output)
        assert f"'team' does not exist at its endpoint {endpoint}" in result.stderr \
            or f"bucket that does not exist ('team') at its endpoint {endpoint}." \
            in result.stderr, (command, result.stderr)
        assert "dvx remote modify s3 url ...` or its endpointurl" in result.stderr
        assert "indexes" not in result.stderr, (command, result.stderr)


def test_an_s3_store_that_stops_answering_names_the_remote_and_the_listing(repo, dvx, tmp_path,
                                                                          monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "k")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s")
    write(repo / "f", "hi")
    assert dvx("add", "f").code == 0
    with socket.socket() as silent:  # accepts connections (the kernel does), says nothing
        silent.bind(("127.0.0.1", 0))
        silent.listen(5)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        for args in (("remote", "add", "-d", "s3", "s3://team/p"),
                     ("remote", "modify", "s3", "endpointurl", url),
                     ("remote", "modify", "s3", "timeout", "0.5")):
            assert dvx(*args).code == 0
        commit_all(repo, "v1")
        pulled = dvx("pull", cwd=_clone(repo, tmp_path))
    assert pulled.code == 1, pulled.output
    assert pulled.stderr.startswith("ERROR: Could not list the pack indexes on the remote 's3' "
                                    "(s3://team/p): "), pulled.stderr
    assert "stopped answering" in pulled.stderr and "filesystem operation" not in pulled.stderr
