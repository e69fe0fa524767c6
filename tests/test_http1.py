"""The lean S3 path's HTTP/1.1 client against a scripted server on loopback: every way a
response body can be delimited, interim answers, keep-alive reuse, a server that closed an idle
connection, a silent server, malformed answers, and a sink that fails. (The S3 cases of
test_remote_contract.py run it against SeaweedFS and moto.)"""

import asyncio
import contextlib
import logging
import os
import socket
import threading

import pytest

from dvx.fsutil import FileChangedError, FileVersion
from dvx.remote.http1 import PIECE, FileSpan, HttpPool
from tests.servers import self_signed_cert


class Script:
    """A loopback server answering each request with the next scripted bytes (or None: close
    the connection without answering). It records the requests it read, and sets `closed`
    once it has closed a connection."""

    def __init__(self, answers, close_after_each=False):
        self.answers = list(answers)
        self.close_after_each = close_after_each
        self.requests = []
        self.connections = 0
        self.closed = asyncio.Event()

    async def handle(self, reader, writer):
        self.connections += 1
        try:
            while self.answers:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                body = await reader.readexactly(length) if length else b""
                self.requests.append((head, body))
                answer = self.answers.pop(0)
                if answer is None:
                    break
                if callable(answer):
                    await answer(writer)
                else:
                    writer.write(answer)
                    await writer.drain()
                if self.close_after_each:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
            self.closed.set()


async def until_the_client_saw_it_close(script, pool):
    """Until the server has closed its end of the kept-alive connection and the pool has read
    that close: its next request must take a fresh connection, not find out by sending."""
    await script.closed.wait()
    while not all(connection.closed for connection in pool._idle):
        await asyncio.sleep(0)  # one turn of the loop: it reads what the socket got


def run(script, exchange, **pool_options):
    async def main():
        server = await asyncio.start_server(script.handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        pool = HttpPool("127.0.0.1", port, limit=4, ssl_context=None, **pool_options)
        try:
            return await exchange(pool)
        finally:
            pool.close()
            server.close()
            await server.wait_closed()
    return asyncio.run(main())


OK_HELLO = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nETag: x\r\n\r\nhello"


def test_content_length_body_and_keep_alive_reuse():
    script = Script([OK_HELLO, OK_HELLO])

    async def exchange(pool):
        first = await pool.request("GET", "/b/k", {"Host": "h"})
        second = await pool.request("PUT", "/b/k", {"Host": "h"}, b"data")
        return first, second

    first, second = run(script, exchange)
    assert (first.status, first.body, first.headers["etag"]) == (200, b"hello", "x")
    assert second.body == b"hello"
    assert script.connections == 1  # the second request reused the connection
    assert script.requests[1][0].startswith(b"PUT /b/k HTTP/1.1\r\n")
    assert b"Content-Length: 4" in script.requests[1][0] and script.requests[1][1] == b"data"


def test_chunked_body_with_extensions_and_trailers_split_across_writes():
    async def answer(writer):
        for piece in (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhel",
                      b"lo\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n", b"\r\n"):
            writer.write(piece)
            await writer.drain()
            await asyncio.sleep(0.01)

    script = Script([answer, OK_HELLO])

    async def exchange(pool):
        return [await pool.request("GET", "/", {}), await pool.request("GET", "/", {})]

    chunked, after = run(script, exchange)
    assert chunked.body == b"hello world" and after.body == b"hello"
    assert script.connections == 1


def test_body_delimited_by_closing_the_connection():
    script = Script([b"HTTP/1.0 200 OK\r\n\r\nuntil the end"])
    response = run(script, lambda pool: pool.request("GET", "/", {}))
    assert response.body == b"until the end"


def test_interim_100_continue_is_skipped_and_head_has_no_body():
    script = Script([b"HTTP/1.1 100 Continue\r\n\r\n" + OK_HELLO,
                     b"HTTP/1.1 200 OK\r\nContent-Length: 999\r\n\r\n", OK_HELLO])

    async def exchange(pool):
        return [await pool.request("GET", "/", {}), await pool.request("HEAD", "/", {}),
                await pool.request("GET", "/", {})]

    got, head, after = run(script, exchange)
    assert got.body == b"hello" and head.status == 200 and head.body == b""
    assert after.body == b"hello"


def test_a_sink_receives_a_successful_body_but_not_an_error():
    script = Script([b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhello world",
                     b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nNoSuchKey"])
    received = []

    async def exchange(pool):
        ok = await pool.request("GET", "/", {}, sink=received.append)
        missing = await pool.request("GET", "/", {}, sink=received.append)
        return ok, missing

    ok, missing = run(script, exchange)
    assert b"".join(received) == b"hello world" and ok.body == b""
    assert (missing.status, missing.body) == (404, b"NoSuchKey")


def test_an_idle_connection_the_server_closed_is_replaced_transparently():
    script = Script([OK_HELLO, OK_HELLO], close_after_each=True)

    async def exchange(pool):
        first = await pool.request("GET", "/", {})
        await until_the_client_saw_it_close(script, pool)
        return first, await pool.request("GET", "/", {})

    first, second = run(script, exchange)
    assert first.body == second.body == b"hello"
    assert script.connections == 2


def test_a_connection_dropped_mid_body_is_a_connection_error():
    async def answer(writer):
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part")
        await writer.drain()
        writer.transport.abort()

    script = Script([answer])
    with pytest.raises(ConnectionError, match="closed before the response was complete"):
        run(script, lambda pool: pool.request("GET", "/", {}))


def test_a_file_span_goes_as_it_is_read_and_whole_again_on_a_fresh_connection(tmp_path):
    """The second request is sent on the kept-alive connection, and the server closes it
    without answering (as when it closed the idle connection just as the request went): it is
    sent again from the span's start on a new one."""
    data = os.urandom(3 * PIECE + 5000)
    (tmp_path / "f").write_bytes(data)
    span = FileSpan(str(tmp_path / "f"), 1000, 2 * PIECE + 7)  # not piece-aligned
    script = Script([OK_HELLO, None, OK_HELLO])

    async def exchange(pool):
        first = await pool.request("PUT", "/b/k", {}, span)
        return first, await pool.request("PUT", "/b/k", {}, span)

    first, second = run(script, exchange)
    assert first.status == second.status == 200 and script.connections == 2
    assert len(script.requests) == 3  # the second one sent twice, once on each connection
    for head, body in script.requests:
        assert f"Content-Length: {span.length}".encode() in head
        assert body == data[1000:1000 + span.length]


def test_a_file_shorter_than_its_span_fails_the_request_as_changed(tmp_path):
    (tmp_path / "f").write_bytes(os.urandom(PIECE + 10))
    span = FileSpan(str(tmp_path / "f"), 0, 2 * PIECE)  # the file shrank since its size was taken
    with pytest.raises(FileChangedError):
        run(Script([OK_HELLO]), lambda pool: pool.request("PUT", "/b/k", {}, span))


def test_a_span_of_a_file_written_to_since_its_version_never_reaches_the_store_whole(tmp_path):
    """The same size, so only its stat tells: the request fails before its last piece goes,
    and the store, short of the Content-Length, has no body to keep."""
    path = tmp_path / "f"
    path.write_bytes(os.urandom(2 * PIECE + 10))
    span = FileSpan(str(path), 0, 2 * PIECE + 10, FileVersion.of(os.stat(path)))
    with open(path, "r+b") as f:  # in place, after the version was taken
        f.write(b"X" * 10)
    os.utime(path, ns=(0, os.stat(path).st_mtime_ns + 1))  # a tick later, however coarse
    script = Script([OK_HELLO])
    with pytest.raises(FileChangedError):
        run(script, lambda pool: pool.request("PUT", "/b/k", {}, span))
    assert script.requests == []  # no whole body ever arrived


def test_an_answer_before_the_whole_body_went_closes_the_connection():
    """A store may refuse an upload as soon as it has read the head: the rest of the body is
    not sent, and the connection, out of step, is not used again."""
    connections = []

    async def handle(reader, writer):
        connections.append(writer)
        head = await reader.readuntil(b"\r\n\r\n")
        if len(connections) == 1:
            writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()
            while await reader.read(1 << 16):  # until the client closes the connection
                pass
            return
        length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
        await reader.readexactly(length)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()

    async def exchange(pool):
        body = b"z" * (16 << 20)  # more than the socket buffers hold
        return [await pool.request("PUT", "/b/k", {}, body),
                await pool.request("PUT", "/b/k", {}, b"small")]

    refused, stored = _raw_server(handle)(exchange, timeout=5)
    assert (refused.status, stored.status, len(connections)) == (403, 200, 2)


def _read_request(connection: socket.socket) -> bytes:
    """The body of the next request on `connection`, read whole (blocking)."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += connection.recv(1 << 16)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
    while len(body) < length:
        body += connection.recv(1 << 20)
    return body


def test_a_body_sent_on_a_connection_the_server_closed_stops_at_the_first_failed_write(caplog):
    """The server closed a kept-alive connection, and the client, before it has seen that,
    sends a large body on it: the write that fails ends the body there (asyncio would log
    each further write to the lost connection), and the request goes again, whole, on a new
    connection."""
    listener = socket.create_server(("127.0.0.1", 0))
    close_now, closed = threading.Event(), threading.Event()
    received: list[bytes] = []

    def serve() -> None:
        first, _ = listener.accept()
        _read_request(first)
        first.sendall(OK_HELLO)
        close_now.wait(30)
        first.close()  # nothing unread: the client gets an end of stream, then a reset
        closed.set()
        second, _ = listener.accept()
        received.append(_read_request(second))
        second.sendall(OK_HELLO)
        second.close()

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    body = os.urandom(16 << 20)

    async def main():
        pool = HttpPool("127.0.0.1", listener.getsockname()[1], limit=1, ssl_context=None)
        try:
            await pool.request("PUT", "/b/k", {}, b"small")
            close_now.set()
            closed.wait(30)  # blocking the loop: the client reads nothing of the close
            return await pool.request("PUT", "/b/k", {}, body)
        finally:
            pool.close()

    try:
        with caplog.at_level(logging.DEBUG, logger="asyncio"):
            response = asyncio.run(main())
    finally:
        server.join(30)
        listener.close()
    assert response.status == 200 and received == [body]
    assert [r.getMessage() for r in caplog.records if r.name == "asyncio"
            and r.levelno >= logging.WARNING] == []


def test_a_silent_server_times_out():
    async def answer(writer):
        await asyncio.sleep(1)

    script = Script([answer])
    with pytest.raises(TimeoutError):
        run(script, lambda pool: pool.request("GET", "/", {}), timeout=0.2)


def _raw_server(handle):
    """Run `exchange` against a server whose connection handler is `handle(reader, writer)`,
    with a small receive buffer, so that what the client sends waits until the server reads."""
    def runner(exchange, **pool_options):
        async def main():
            listener = socket.socket()
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 << 10)
            listener.bind(("127.0.0.1", 0))
            server = await asyncio.start_server(handle, sock=listener)
            port = server.sockets[0].getsockname()[1]
            pool = HttpPool("127.0.0.1", port, limit=1, ssl_context=None, **pool_options)
            try:
                return await exchange(pool)
            finally:
                pool.close()
                server.close()
        return asyncio.run(main())
    return runner


def test_a_server_that_stops_reading_an_upload_times_out():
    async def handle(reader, writer):
        await reader.readuntil(b"\r\n\r\n")
        await asyncio.sleep(5)  # never reads the body: the client's buffer stays full

    body = b"x" * (64 << 20)  # far more than the kernel's socket buffers hold
    run_it = _raw_server(handle)
    with pytest.raises(TimeoutError, match="stopped answering"):
        run_it(lambda pool: pool.request("PUT", "/b/k", {}, body), timeout=0.5)


def test_a_slow_upload_that_keeps_moving_does_not_time_out():
    """The timeout is for no progress at all, not for the whole request: 2 MiB read slowly,
    over more than twice the timeout, still succeed. The pauses are well short of the timeout:
    the server runs in the test's own process, whose every stall (a busy machine, a garbage
    collection) also holds up its reading."""
    async def handle(reader, writer):
        await reader.readuntil(b"\r\n\r\n")
        received = 0
        while received < (2 << 20):  # at least 16 reads: over 2.4 s
            received += len(await reader.read(128 << 10))
            await asyncio.sleep(0.15)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        writer.close()

    run_it = _raw_server(handle)
    response = run_it(lambda pool: pool.request("PUT", "/b/k", {}, b"y" * (2 << 20)),
                      timeout=1.0)
    assert response.status == 200


@pytest.mark.parametrize("answer", [
    b"SMTP ready\r\n\r\n",
    b"HTTP/1.1 2xx OK\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: ten\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
])
def test_malformed_answers_are_connection_errors(answer):
    with pytest.raises(ConnectionError, match="malformed HTTP response"):
        run(Script([answer]), lambda pool: pool.request("GET", "/", {}))


def test_an_error_raised_by_the_sink_reaches_the_caller_unchanged():
    script = Script([b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"])

    def full_disk(_piece):
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        run(script, lambda pool: pool.request("GET", "/", {}, sink=full_disk))


@pytest.mark.parametrize("trusted", [True, False])
def test_tls_is_verified_against_the_given_bundle(tmp_path, trusted):
    import ssl

    from dvx.remote.http1 import ssl_context

    cert, key = self_signed_cert(tmp_path)
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)
    script = Script([OK_HELLO])
    data = os.urandom(12 * PIECE)  # an upload streamed over TLS, a piece at a time
    (tmp_path / "f").write_bytes(data)
    span = FileSpan(str(tmp_path / "f"), 0, len(data))

    async def main():
        server = await asyncio.start_server(script.handle, "127.0.0.1", 0, ssl=server_context)
        port = server.sockets[0].getsockname()[1]
        client_context = ssl_context(cert if trusted else True)
        pool = HttpPool("127.0.0.1", port, limit=1, ssl_context=client_context)
        try:
            return await pool.request("PUT", "/", {"Host": f"127.0.0.1:{port}"}, span)
        finally:
            pool.close()
            server.close()

    if trusted:
        assert asyncio.run(main()).body == b"hello" and script.requests[0][1] == data
    else:
        with pytest.raises(ssl.SSLCertVerificationError):
            asyncio.run(main())
