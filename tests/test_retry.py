import contextlib

import pytest

from dvx.errors import CorruptObjectError, MissingObjectError
from dvx.remote.retry import with_retries


def _flaky(failures, exc):
    calls = []

    def call():
        calls.append(1)
        if len(calls) <= failures:
            raise exc
        return "ok"

    return call, calls


def test_transient_errors_are_retried_until_success():
    call, calls = _flaky(3, ConnectionError("reset"))
    assert with_retries(call, 5, "x", sleep=lambda s: None) == "ok"
    assert len(calls) == 4


def test_attempts_are_bounded():
    call, calls = _flaky(10, ConnectionError("reset"))
    with pytest.raises(ConnectionError):
        with_retries(call, 3, "x", sleep=lambda s: None)
    assert len(calls) == 3


def test_a_timeout_is_tried_once_more_only():
    """Each attempt waited out the whole timeout: two are enough to call the remote stuck."""
    call, calls = _flaky(10, TimeoutError("no byte moved"))
    with pytest.raises(TimeoutError):
        with_retries(call, 5, "x", sleep=lambda s: None)
    assert len(calls) == 2


@pytest.mark.parametrize("exc", [FileNotFoundError("gone"), PermissionError("no"),
                                 MissingObjectError("not on the remote")])
def test_permanent_errors_fail_at_once(exc):
    call, calls = _flaky(10, exc)
    with pytest.raises(type(exc)):
        with_retries(call, 5, "x", sleep=lambda s: None)
    assert len(calls) == 1


def test_corrupt_downloads_are_retried():
    call, _calls = _flaky(1, CorruptObjectError("truncated"))
    assert with_retries(call, 3, "x", sleep=lambda s: None) == "ok"


def test_backoff_is_bounded():
    delays = []
    call, _ = _flaky(6, ConnectionError())
    with_retries(call, 7, "x", sleep=delays.append)
    assert len(delays) == 6 and max(delays) <= 3.0


def test_credential_errors_are_not_retried():
    class PartialCredentialsError(Exception):  # the name is what counts: no botocore import
        pass

    call, calls = _flaky(10, PartialCredentialsError("missing: aws_access_key_id"))
    with pytest.raises(PartialCredentialsError):
        with_retries(call, 5, "x", sleep=lambda s: None)
    assert len(calls) == 1


def _certificate_refused(wrap) -> Exception:
    """A real certificate failure (a TLS handshake with a server whose certificate no CA
    signed), as the client library `wrap` raises it."""
    import socket
    import ssl
    import tempfile
    import threading
    from pathlib import Path

    from tests.servers import self_signed_cert

    with tempfile.TemporaryDirectory() as directory:
        cert, key = self_signed_cert(Path(directory))
        server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        server_context.load_cert_chain(cert, key)
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        client, _ = listener.accept()
        with contextlib.suppress(OSError):
            server_context.wrap_socket(client, server_side=True)
        client.close()

    threading.Thread(target=serve, daemon=True).start()
    try:
        with socket.create_connection(listener.getsockname()) as raw:
            ssl.create_default_context().wrap_socket(raw, server_hostname="127.0.0.1")
    except ssl.SSLCertVerificationError as exc:
        try:
            wrap(exc)
        except Exception as wrapped:
            return wrapped
    finally:
        listener.close()
    raise AssertionError("the handshake did not fail")


def _botocore(exc: Exception) -> None:
    from botocore.exceptions import SSLError

    raise SSLError(endpoint_url="https://127.0.0.1/", error=exc)  # as aiobotocore does


def _aiohttp(exc: Exception) -> None:
    from aiohttp import ClientConnectorCertificateError

    raise ClientConnectorCertificateError(None, exc) from exc  # type: ignore[arg-type]


def _as_is(exc: Exception) -> None:
    raise exc


@pytest.mark.parametrize("wrap", [_as_is, _botocore, _aiohttp])
def test_a_refused_certificate_is_not_retried_however_the_client_wraps_it(wrap):
    """The same certificate comes back every time: one attempt, and a reason that says what
    to do (the general S3 client raised botocore's SSLError, retried as a network error)."""
    from dvx.remote.retry import describe

    refused = _certificate_refused(wrap)
    call, calls = _flaky(10, refused)
    with pytest.raises(type(refused)):
        with_retries(call, 5, "x", sleep=lambda s: None)
    assert len(calls) == 1
    assert "self-signed certificate" in describe(refused) and "ssl_verify" in describe(refused)


def test_what_the_pack_indexes_hold_is_asked_with_one_layer_of_retries(tmp_path, monkeypatch):
    """Each request of the inventory is retried on its own: a layer of retries around it all
    would make `retries` times `retries` attempts."""
    import errno

    from dvx.progress import NoProgress
    from dvx.remote import retry, transfer
    from dvx.remote.fs import open_store

    monkeypatch.setattr(retry, "BASE_DELAY", 0.0)
    remote = open_store(str(tmp_path / "remote"), {"retries": "3"}, str(tmp_path), "xxh128", "r")
    listings = []

    def failing(directory: str) -> list[str]:
        listings.append(directory)
        raise OSError(errno.EIO, "Input/output error")  # transient, and no ConnectionError

    monkeypatch.setattr(remote.blobs, "names", failing)
    with pytest.raises(Exception, match="Input/output error"):
        transfer.absent_from(remote, {"0" * 32}, transfer.Settings(1, 3, NoProgress()))
    assert listings == ["indexes"] * 3
