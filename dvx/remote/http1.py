"""A small HTTP/1.1 client for the lean S3 path (s3fast.py).

A transfer of many small objects is mostly per-request client work, and a general-purpose
client (aiohttp) spends about 200 µs of CPU per request on itself; this one spends a few tens.
It does only what whole-object S3 requests need: persistent connections (keep-alive) in a
bounded pool, a request with a body of known length, and a response body delimited by
Content-Length, by chunked transfer coding or by the end of the connection, over plain TCP or
TLS. A large body (a span of a file, or bytes above a piece) is handed to the transport a piece
at a time, as the network takes them: the transport never copies it whole, and a file is never
in memory whole, however large. A reused connection that the server had already closed is
retried once on a new one (before any byte of a response arrived, so nothing is delivered
twice); every other transport failure surfaces as a ConnectionError or TimeoutError, which the
transfer engine retries with backoff. A request fails with TimeoutError once `timeout` seconds
pass with no byte received and none of the request's bytes taken by the network: a stalled
server is noticed, however large the object.
"""

from __future__ import annotations

import asyncio
import os
import ssl
import sys
import termios
from collections.abc import Callable, Generator, Iterator, Mapping
from dataclasses import dataclass

from dvx.fsutil import BytesLike, FileVersion, changed_while_read

MAX_HEAD = 64 << 10  # a response head larger than this is not from an S3 server
PIECE = 256 << 10  # bytes of a large body handed to the transport at a time

Sink = Callable[[bytes], object]


@dataclass(frozen=True)
class FileSpan:
    """`length` bytes of the file at `path` from `start`, as a request's body: read as it is
    sent, a piece at a time, and again whole for each attempt. With `version`, every read
    is of that version of the file, or fails before its last piece is handed on."""
    path: str
    start: int
    length: int
    version: FileVersion | None = None

    def pieces(self) -> Iterator[bytes]:
        """The span's bytes, PIECE at a time. A file that ends before the span, or is no
        longer `version` once the last piece is read, has changed since its size was taken:
        FileChangedError, raised before that piece is yielded, so that a request whose body
        it is never ends whole (the store keeps nothing of it)."""
        fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            offset, end = self.start, self.start + self.length
            while offset < end:
                piece = os.pread(fd, min(PIECE, end - offset), offset)
                if not piece:
                    raise changed_while_read(self.path)
                offset += len(piece)
                if offset >= end and self.version is not None:
                    self.version.check(self.path, fd)
                yield piece
        finally:
            os.close(fd)


Body = BytesLike | FileSpan  # a request's body: bytes, a view of a buffer, or a file's span


def body_length(body: Body) -> int:
    return body.length if isinstance(body, FileSpan) else len(body)


def _streamed(body: Body) -> bool:
    """Is `body` sent a piece at a time (by `_Connection.stream`), not written at once?"""
    return isinstance(body, FileSpan) or len(body) > PIECE


def _pieces(body: Body) -> Generator[BytesLike, None, None]:
    if isinstance(body, FileSpan):
        yield from body.pieces()
        return
    view = memoryview(body)
    for start in range(0, len(view), PIECE):
        yield view[start:start + PIECE]


class _Malformed(Exception):
    """The bytes received are not a well-formed HTTP/1.1 response."""


def _number(text: bytes, base: int) -> int:
    try:
        return int(text.strip(), base)
    except ValueError:
        raise _Malformed(f"bad number {text[:20]!r}") from None


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]  # names in lower case
    body: bytes  # empty when a sink received it


class _Exchange:
    """Parser state for the one response a connection is waiting for."""

    def __init__(self, head_only: bool, sink: Sink | None) -> None:
        self.head_only = head_only
        self.sink = sink
        self.status = 0
        self.headers: dict[str, str] = {}
        self.state = "head"  # head, length, chunk-size, chunk-data, chunk-end, trailers, close
        self.remaining = 0
        self.parts: list[bytes] = []
        self.reusable = True

    def deliver(self, piece: bytes) -> None:
        if self.sink is not None and 200 <= self.status < 300:
            self.sink(piece)
        else:
            self.parts.append(piece)


class _Connection(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.exchange: _Exchange | None = None
        self.waiter: asyncio.Future[Response] | None = None
        self.closed = False
        self.got_bytes = False  # of the current response
        self.last_activity = 0.0  # loop time of the last byte received or sent
        self.written = 0  # bytes handed to the transport, ever
        self.writable = asyncio.Event()  # cleared while the transport asks for no more bytes
        self.writable.set()

    # -- asyncio callbacks ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if self.exchange is None:  # bytes nobody asked for: the connection is out of step
            self.close()
            return
        self.got_bytes = True
        self.last_activity = asyncio.get_running_loop().time()
        self.buffer += data
        try:
            self._advance()
        except _Malformed as exc:
            self._fail(ConnectionError(f"malformed HTTP response: {exc}"))
            self.close()
        except Exception as exc:  # from the sink (a full disk...): the caller's to see, as is
            self._fail(exc)
            self.close()

    def eof_received(self) -> bool:
        return False  # close the transport; connection_lost finishes the work

    def pause_writing(self) -> None:  # the transport holds more than its high-water mark
        self.writable.clear()

    def resume_writing(self) -> None:
        self.writable.set()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.writable.set()  # a body being streamed stops
        exchange = self.exchange
        if exchange is not None and exchange.state == "close":
            self._finish()  # a body delimited by the end of the connection
        else:
            self._fail(ConnectionError("the connection closed before the response was complete"))

    # -- one request and its response --------------------------------------------------------

    def send(self, head: bytes, body: BytesLike, head_only: bool, sink: Sink | None
             ) -> asyncio.Future[Response]:
        assert self.transport is not None and self.exchange is None
        self.exchange = _Exchange(head_only, sink)
        self.got_bytes = False
        loop = asyncio.get_running_loop()
        self.last_activity = loop.time()
        self.waiter = loop.create_future()
        self.transport.write(head)
        if body:
            self.transport.write(body)
        self.written += len(head) + len(body)
        return self.waiter

    async def stream(self, body: Body) -> None:
        """Send `body`, after the head `send` wrote, a piece at a time as the transport takes
        them: it asks to pause above its high-water mark, so it holds about a piece at most.
        Stops once the response came or the request failed, or once a write failed (the
        connection is lost: connection_lost, due soon, fails the request); a file that cannot
        be read fails the request with that error."""
        assert self.transport is not None
        exchange = self.exchange
        pieces = _pieces(body)
        try:
            for piece in pieces:
                # A set event returns without yielding to the loop: only the transport can
                # tell that a write failed since, and each write to it after that is logged.
                await self.writable.wait()
                if self.closed or self.exchange is not exchange or self.transport.is_closing():
                    return
                self.transport.write(piece)
                self.written += len(piece)
        except Exception as exc:
            if self.exchange is exchange:
                self._fail(exc)
            self.close()
        finally:
            pieces.close()

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()

    def time_out(self) -> None:
        self._fail(TimeoutError("the store stopped answering (no byte moved in time)"))
        self.close()

    def taken(self) -> int:
        """Bytes the other side has taken: those handed to the transport, but those still in
        this side's buffer and (Linux) in the kernel's send queue, not yet acknowledged."""
        if self.transport is None:
            return 0
        return self.written - self.transport.get_write_buffer_size() - _kernel_unacked(
            self.transport.get_extra_info("socket"))

    @property
    def reusable(self) -> bool:
        return not self.closed

    def _fail(self, exc: Exception) -> None:
        self.exchange = None
        self.buffer.clear()
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(exc)

    def _finish(self) -> None:
        exchange = self.exchange
        assert exchange is not None
        self.exchange = None
        if not exchange.reusable or self.buffer:
            self.close()
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(Response(exchange.status, exchange.headers,
                                            b"".join(exchange.parts)))

    def _advance(self) -> None:
        exchange = self.exchange
        buffer = self.buffer
        while exchange is not None and self.exchange is exchange:
            state = exchange.state
            if state == "head":
                end = buffer.find(b"\r\n\r\n")
                if end < 0:
                    if len(buffer) > MAX_HEAD:
                        raise _Malformed("response head too large")
                    return
                head = bytes(buffer[:end])
                del buffer[:end + 4]
                self._parse_head(exchange, head)
            elif state == "length":
                if not self._take_counted(exchange):
                    return
                self._finish()
            elif state == "chunk-size":
                end = buffer.find(b"\r\n")
                if end < 0:
                    return
                size = _number(bytes(buffer[:end]).split(b";", 1)[0], 16)
                del buffer[:end + 2]
                exchange.remaining = size
                exchange.state = "chunk-data" if size else "trailers"
            elif state == "chunk-data":
                if not self._take_counted(exchange):
                    return
                exchange.state = "chunk-end"
            elif state == "chunk-end":
                if len(buffer) < 2:
                    return
                if buffer[:2] != b"\r\n":
                    raise _Malformed("chunk not followed by CRLF")
                del buffer[:2]
                exchange.state = "chunk-size"
            elif state == "trailers":
                end = buffer.find(b"\r\n")
                if end < 0:
                    return
                line = bytes(buffer[:end])
                del buffer[:end + 2]
                if not line:
                    self._finish()
            else:  # "close": everything until the end of the connection
                if buffer:
                    exchange.deliver(bytes(buffer))
                    buffer.clear()
                return

    def _take_counted(self, exchange: _Exchange) -> bool:
        """Deliver up to `exchange.remaining` buffered body bytes; True once all have come."""
        take = min(exchange.remaining, len(self.buffer))
        if take:
            exchange.deliver(bytes(self.buffer[:take]))
            del self.buffer[:take]
            exchange.remaining -= take
        return exchange.remaining == 0

    def _parse_head(self, exchange: _Exchange, head: bytes) -> None:
        lines = head.split(b"\r\n")
        version, _, rest = lines[0].partition(b" ")
        if not version.startswith(b"HTTP/1."):
            raise _Malformed(f"not an HTTP/1.x status line: {lines[0][:40]!r}")
        status = _number(rest[:3], 10)
        if 100 <= status < 200:  # an interim answer (100 Continue): the real one follows
            return
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(b":")
            if not sep:
                raise _Malformed("header line without a colon")
            key = name.strip().lower().decode("latin-1")
            text = value.strip().decode("latin-1")
            headers[key] = f"{headers[key]}, {text}" if key in headers else text
        exchange.status, exchange.headers = status, headers
        connection = headers.get("connection", "").lower()
        exchange.reusable = version == b"HTTP/1.1" and "close" not in connection
        if exchange.head_only or status in (204, 304):
            self._finish()
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            exchange.state = "chunk-size"
        elif "content-length" in headers:
            exchange.remaining = _number(headers["content-length"].encode("latin-1"), 10)
            if exchange.remaining < 0:
                raise _Malformed("negative Content-Length")
            if exchange.remaining == 0:
                self._finish()
            else:
                exchange.state = "length"
        else:
            exchange.state, exchange.reusable = "close", False


def _kernel_unacked(sock: object) -> int:
    fileno = getattr(sock, "fileno", None)
    if fileno is None or _OUTQ is None:
        return 0
    import fcntl

    try:
        queued = bytearray(4)
        fcntl.ioctl(fileno(), _OUTQ, queued)
    except OSError:
        return 0
    return int.from_bytes(queued, sys.byteorder)


_OUTQ = getattr(termios, "TIOCOUTQ", None) if sys.platform.startswith("linux") else None


class _Watchdog:
    """Times a request out once `timeout` seconds pass with no progress either way."""

    def __init__(self, connection: _Connection, timeout: float) -> None:
        self.connection, self.timeout = connection, timeout
        self.loop = asyncio.get_running_loop()
        self.taken = connection.taken()
        self.timer = self.loop.call_later(self._interval(), self.check)

    def _interval(self) -> float:
        return max(self.timeout / 4, 0.05)

    def check(self) -> None:
        connection = self.connection
        taken = connection.taken()
        if taken > self.taken:  # the network took more of the request
            self.taken = taken
            connection.last_activity = self.loop.time()
        if self.loop.time() >= connection.last_activity + self.timeout:
            connection.time_out()
        else:
            self.timer = self.loop.call_later(self._interval(), self.check)

    def cancel(self) -> None:
        self.timer.cancel()


class HttpPool:
    """Up to `limit` persistent connections to one origin (scheme, host, port)."""

    def __init__(self, host: str, port: int, limit: int, ssl_context: ssl.SSLContext | None,
                 timeout: float = 60.0) -> None:
        self.host, self.port = host, port
        self.ssl_context = ssl_context
        self.timeout = timeout
        self._slots = asyncio.Semaphore(max(1, limit))
        self._idle: list[_Connection] = []
        self._open: set[_Connection] = set()

    async def request(self, method: str, target: str, headers: Mapping[str, str],
                      body: Body = b"", sink: Sink | None = None) -> Response:
        """Send one request; `sink`, if given, receives a successful response's body piece
        by piece instead of it being collected."""
        lines = [f"{method} {target} HTTP/1.1"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        length = body_length(body)
        if length or method in ("PUT", "POST"):
            lines.append(f"Content-Length: {length}")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        async with self._slots:
            for attempt in (1, 2):
                connection, reused = await self._connection()
                try:
                    response = await self._exchange(connection, head, body, method == "HEAD",
                                                    sink)
                except ConnectionError:
                    self._discard(connection)
                    if reused and not connection.got_bytes and attempt == 1:
                        continue  # the server had closed this idle connection: use a new one
                    raise
                except BaseException:
                    self._discard(connection)
                    raise
                if connection.reusable:
                    self._idle.append(connection)
                else:
                    self._discard(connection)
                return response
        raise AssertionError("unreachable")

    async def _connection(self) -> tuple[_Connection, bool]:
        while self._idle:
            connection = self._idle.pop()
            if connection.reusable:
                return connection, True
            self._discard(connection)
        loop = asyncio.get_running_loop()
        _, connection = await asyncio.wait_for(loop.create_connection(
            _Connection, self.host, self.port, ssl=self.ssl_context,
            server_hostname=self.host if self.ssl_context is not None else None),
            timeout=min(self.timeout, 30.0))
        self._open.add(connection)
        return connection, False

    async def _exchange(self, connection: _Connection, head: bytes, body: Body,
                        head_only: bool, sink: Sink | None) -> Response:
        if _streamed(body):
            waiter = connection.send(head, b"", head_only, sink)
            sender: asyncio.Future[None] | None = asyncio.ensure_future(connection.stream(body))
        else:
            assert not isinstance(body, FileSpan)
            waiter, sender = connection.send(head, body, head_only, sink), None
        watchdog = _Watchdog(connection, self.timeout)
        try:
            return await waiter
        finally:
            watchdog.cancel()
            if sender is not None and not sender.done():
                sender.cancel()
                connection.close()  # answered before its body was all sent: out of step

    def _discard(self, connection: _Connection) -> None:
        connection.close()
        self._open.discard(connection)

    def close(self) -> None:
        for connection in list(self._open):
            self._discard(connection)
        self._idle.clear()


def ssl_context(verify: object, cert_file: object = None) -> ssl.SSLContext:
    """TLS settings as a client was given them (the `ssl_verify` option, or what botocore
    resolved): `verify` is False, True or a CA bundle (file or directory); `cert_file` an
    optional client certificate."""
    if verify is False:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif isinstance(verify, str) and os.path.isdir(verify):
        context = ssl.create_default_context(capath=verify)
    elif isinstance(verify, str):
        context = ssl.create_default_context(cafile=verify)
    else:
        context = ssl.create_default_context()
    if isinstance(cert_file, str):
        context.load_cert_chain(cert_file)
    elif isinstance(cert_file, tuple):
        context.load_cert_chain(*cert_file)
    return context
