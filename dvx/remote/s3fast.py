"""A lean S3 data path: whole-object GET and PUT as signed HTTP requests.

Moving many small objects is dominated by per-request client overhead, and the general purpose
client (botocore, behind s3fs) spends most of a small transfer's time on itself. For the hot
path only, dvx signs each request itself (sigv4.py) and sends it over its own small HTTP/1.1
client (http1.py), several times cheaper per object. Large objects go up as multipart uploads
over the same client, whose requests time out when no byte moves either way, so a stalled store
is noticed however large the object. A local file goes up as it is read, never whole in memory:
it is read once for its checksums (which precede the body) and once as it is sent, a piece at a
time; each read ends with a check that the file is still the version the push found, before its
last piece goes, so bytes written to it meanwhile are never stored. Credentials, region and
endpoint are the remote's own options when they give all of them (backends.s3_access);
otherwise they come from s3fs's client, so that botocore resolves them exactly as everywhere
else. Everything else (deletes of many objects, copies, and any request after a fallback) stays
with s3fs. Any answer this path does not expect (a region redirect, an unknown error) turns it
off for the rest of the run, and s3fs takes over.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import ssl
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from dvx import faults
from dvx.errors import MODIFY_A_REMOTE, DvxError, MissingBucketError, RemoteError
from dvx.fsutil import BytesLike, FileVersion
from dvx.logs import get_logger
from dvx.objects.blobs import CredentialsRefused
from dvx.remote import aio
from dvx.remote.http1 import Body, FileSpan, HttpPool, Response, ssl_context
from dvx.remote.sigv4 import EMPTY_SHA256, UNSIGNED_PAYLOAD, SigV4Signer

log = get_logger(__name__)

LIST_PAGE = 1000  # keys per listing request, S3's maximum
PARTS_IN_FLIGHT = 8  # multipart parts being sent at once, across every upload of a run
CHECKSUM_HEADER = "x-amz-checksum-crc32"
USER_AGENT = "dvx"



class Unsupported(DvxError):
    """The store answered in a way this path does not handle: use s3fs instead."""


class NotS3Error(RemoteError):
    """The endpoint answered as no S3 store does: a listing that is not a ListBucketResult, a
    write or an existence check acknowledged without the ETag every S3 store sends. A web
    page (a console, a login page) behind the endpoint would otherwise pass for an empty
    remote, or for one that took and holds every object; no other client would do better."""

    def __init__(self, endpoint: str, answer: str, remote: str = "",
                 modify: str = MODIFY_A_REMOTE) -> None:
        shown = f"The remote '{remote}'" if remote else "The remote"
        super().__init__(f"{shown} does not answer like S3 at its endpoint {endpoint}: "
                         f"{answer}.",
                         "Set its endpointurl to the address of the store's S3 API (not of "
                         f"a web console or a login page): `{modify} endpointurl URL`.")
        self.endpoint, self.answer = endpoint, answer

    def of_remote(self, remote: str, modify: str) -> NotS3Error:
        """The same error, naming the remote (`remote`: its name) and the command that
        changes its options (`modify`)."""
        return NotS3Error(self.endpoint, self.answer, remote, modify)


@dataclass(frozen=True)
class Access:
    """Where the store is and who is asking: all a signed request needs."""
    endpoint: str
    region: str
    access_key: str
    secret_key: str
    token: str | None
    verify: object = True  # False, True, or a CA bundle (file or directory)
    cert_file: object = None  # a client certificate, if any


class FastS3:
    def __init__(self, general_fs: Callable[[], Any], access: Access | None,
                 connections: int, timeout: float) -> None:
        self._general_fs = general_fs  # the remote's s3fs.S3FileSystem, built on first call
        self._access = access  # None: ask botocore, through s3fs's client
        self.connections = connections
        self.timeout = timeout  # seconds without progress before a request fails
        self._pools: dict[str, HttpPool] = {}  # by origin (scheme://host:port)
        self._ssl_context: ssl.SSLContext | None = None
        self._signer: SigV4Signer | None = None
        self._endpoint = ""
        self._https = False
        self._virtual_host = False
        self._part_slots: asyncio.Semaphore | None = None
        # The multipart uploads of a path that a store stopped answering cut off, not aborted
        # then (the abort would wait out the timeout again): aborted once one completes.
        self._left: dict[str, list[str]] = {}

    async def start(self) -> None:
        if self._access is None:  # built off the loop: building it blocks (it connects)
            self._access = await _access_of(await asyncio.to_thread(self._general_fs))
        access = self._access
        self._signer = SigV4Signer(access.access_key, access.secret_key, access.token,
                                   access.region)
        self._endpoint = access.endpoint.rstrip("/")
        self._https = self._endpoint.startswith("https://")
        host = urlsplit(self._endpoint).hostname or ""
        self._virtual_host = host.endswith("amazonaws.com")
        if _proxied(self._endpoint):
            raise Unsupported("a proxy is configured")
        if self._ssl_context is None and self._https:  # loading the CA store takes a while
            self._ssl_context = ssl_context(access.verify, access.cert_file)
        self._part_slots = asyncio.Semaphore(PARTS_IN_FLIGHT)

    async def existing(self, paths: list[str]) -> set[str]:
        """Which of `paths` exist: a HEAD request each, all at once."""
        found = await asyncio.gather(*(self.exists(path) for path in paths))
        return {path for path, there in zip(paths, found, strict=True) if there}

    async def close(self) -> None:
        for pool in self._pools.values():
            pool.close()
        self._pools.clear()

    def _pool(self, url: str) -> tuple[HttpPool, str]:
        """The connection pool for `url`'s origin, and the request target (path and query)."""
        netloc = url.split("://", 1)[1].partition("/")[0]
        pool = self._pools.get(netloc)
        if pool is None:
            pool = self._pools[netloc] = self._new_pool(url, self.connections)
        return pool, self._target(url)

    def _new_pool(self, url: str, connections: int) -> HttpPool:
        parts = urlsplit(url)
        https = parts.scheme == "https"
        return HttpPool(parts.hostname or "", parts.port or (443 if https else 80), connections,
                        self._ssl_context if https else None, self.timeout)

    def _url(self, path: str) -> str:
        bucket, _, key = path.partition("/")
        key = quote(key, safe="/~")
        if self._virtual_host and bucket.replace("-", "").isalnum() and bucket.islower():
            scheme, _, rest = self._endpoint.partition("://")
            return f"{scheme}://{bucket}.{rest}/{key}"
        return f"{self._endpoint}/{quote(bucket)}/{key}"

    def _signed(self, method: str, url: str, body: BytesLike | None,
                headers: dict[str, str], payload: str | None = None) -> dict[str, str]:
        """The headers of a signed request. `payload`: what is signed for the body, when the
        caller worked it out (a file's span, read once for it); else it is worked out here."""
        assert self._signer is not None, "start() first"
        if payload is None:
            payload = self._payload(body, headers)
        signed = self._signer.sign(method, url, headers, payload)
        signed["User-Agent"] = USER_AGENT
        return signed

    def _payload(self, body: BytesLike | None, headers: dict[str, str]) -> str:
        if not body:
            return EMPTY_SHA256
        if self._https and CHECKSUM_HEADER in headers:
            return UNSIGNED_PAYLOAD  # TLS and the checksum protect the body, as botocore does
        return hashlib.sha256(body).hexdigest()

    async def _request(self, method: str, path: str, body: Body | None = None,
                       headers: dict[str, str] | None = None, query: str = "",
                       payload: str | None = None) -> Response:
        url = self._url(path) + (f"?{query}" if query else "")
        assert payload is not None or not isinstance(body, FileSpan), "a span's digest first"
        signed = self._signed(method, url, None if isinstance(body, FileSpan) else body,
                              headers or {}, payload)
        pool, target = self._pool(url)
        return await pool.request(method, target, signed, body or b"")

    async def _send(self, method: str, path: str, body: BytesLike | None = None,
                    headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        response = await self._request(method, path, body, headers)
        return response.status, response.body

    async def get(self, path: str) -> bytes:
        status, data = await self._send("GET", path)
        if status == 200:
            return data
        raise _error(status, data, path)

    async def get_range(self, path: str, start: int, end: int) -> bytes:
        """Bytes [start, end) of an object (a Range request); fewer where it ends sooner."""
        status, data = await self._send("GET", path, None, {"Range": f"bytes={start}-{end - 1}"})
        if status == 206:
            return data
        if status == 200:  # a store that ignores Range sends the whole object
            return data[start:end]
        if status == 416:  # the object ends before `start` (a pack cut short): none of it
            return b""
        raise _error(status, data, path)

    async def stream(self, path: str, sink: Any) -> None:
        """One GET for the whole object, each piece handed to `sink.write` as it arrives."""
        url = self._url(path)
        signed = self._signed("GET", url, None, {})
        pool, target = self._pool(url)

        def write(piece: bytes) -> None:
            sink.write(piece)
            faults.point("s3.stream.after_piece")  # a download caught midway, for tests

        response = await pool.request("GET", target, signed, sink=write)
        if response.status != 200:
            raise _error(response.status, response.body, path)

    async def exists(self, path: str) -> bool:
        response = await self._request("HEAD", path)
        if response.status == 200:
            if "etag" not in response.headers:
                raise self._not_s3(f"asked whether {path} exists, it answered",
                                   response, "without the ETag an S3 object has")
            return True
        if response.status == 404:
            return False
        raise _error(response.status, response.body, path)

    async def list_keys(self, prefix_path: str) -> list[str]:
        """Every key under `bucket/prefix/`, as `bucket/key`, page by page (ListObjectsV2)."""
        return [key for key, _, _ in await self.list_details(prefix_path)]

    async def list_details(self, prefix_path: str) -> list[tuple[str, int, float | None]]:
        """Every key under `bucket/prefix/` as (`bucket/key`, size, modification time)."""
        bucket, _, prefix = prefix_path.partition("/")
        prefix = prefix.rstrip("/") + "/"
        found: list[tuple[str, int, float | None]] = []
        token = None
        while True:
            params = {"list-type": "2", "max-keys": str(LIST_PAGE), "prefix": prefix}
            if token:
                params["continuation-token"] = token
            query = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}"
                             for k, v in sorted(params.items()))
            url = self._url(bucket + "/").rstrip("/") + "/?" + query
            signed = self._signed("GET", url, None, {})
            pool, target = self._pool(url)
            response = await pool.request("GET", target, signed)
            body = response.body
            if response.status == 404 and b"<Error>" in body:
                # A listing finds no key, only no bucket (or, under another name, the
                # bucket the store took the path for): never taken for an empty folder.
                raise MissingBucketError(bucket)
            if response.status == 404:  # every S3 store says why in its error XML
                raise self._not_s3(f"a listing of bucket '{bucket}' came back as", response,
                                   "without the error S3 sends for a bucket it lacks")
            if response.status != 200:
                raise _error(response.status, body, prefix_path)
            root = _xml_root(body)
            # Any namespace: S3-compatible stores do not all use S3's (GCS's XML API has its own)
            namespace = root.tag[: root.tag.index("}") + 1] \
                if root is not None and root.tag.startswith("{") else ""
            if root is None or root.tag != f"{namespace}ListBucketResult":
                raise self._not_s3(f"a listing of bucket '{bucket}' came back as",
                                   response, "not as S3's ListBucketResult")
            for item in root.iter(f"{namespace}Contents"):
                key = item.findtext(f"{namespace}Key")
                if key:
                    found.append((f"{bucket}/{key}", int(item.findtext(f"{namespace}Size") or 0),
                                  _timestamp(item.findtext(f"{namespace}LastModified"))))
            truncated = root.findtext(f"{namespace}IsTruncated") == "true"
            token = root.findtext(f"{namespace}NextContinuationToken")
            if not truncated or not token:
                return found

    async def delete(self, path: str) -> None:
        """Delete one object; one that is not there counts as deleted."""
        status, body = await self._send("DELETE", path)
        if status not in (200, 204) and not (status == 404 and b"NoSuchKey" in body):
            raise _error(status, body, path)

    async def put(self, path: str, data: BytesLike | FileSpan) -> None:
        """Store `data` as `path` in one request: bytes, or a span of a local file (read as it
        is sent)."""
        # The store checks this on arrival and refuses a damaged body (BadDigest). CRC32 is what
        # current AWS SDKs send by default instead of Content-MD5, at a fraction of MD5's cost.
        payload = None
        if isinstance(data, FileSpan):  # in a thread: the file is read to compute them
            crc, sha = await asyncio.to_thread(_digests, data, True, not self._https)
            payload = sha or UNSIGNED_PAYLOAD  # as `_payload`: over TLS, the checksum does
            faults.point("s3.put.after_digests")
        else:
            crc = _crc32(zlib.crc32(data))
        response = await self._request("PUT", path, data, {CHECKSUM_HEADER: crc},
                                       payload=payload)
        if response.status != 200:
            raise _error(response.status, response.body, path)
        if "etag" not in response.headers:
            raise self._not_s3(f"an upload of {path} was acknowledged with", response,
                               "without the ETag an S3 store sends for what it stored")

    def _not_s3(self, asked: str, response: Response, unlike: str) -> NotS3Error:
        """What an answer no S3 store gives was: its status, its Content-Type, and how its
        body begins (a web page names itself there)."""
        kind = response.headers.get("content-type") or "no Content-Type"
        text = " ".join(response.body[:80].decode("utf-8", "replace").split())
        begins = f", beginning '{text}'" if text else ""
        return NotS3Error(self._endpoint,
                          f"{asked} {response.status} ({kind}{begins}), {unlike}")

    # -- multipart upload: large objects, a part at a time ---------------------------------

    async def put_file(self, path: str, local_path: str, size: int, part_size: int,
                       on_bytes: Callable[[int], None] | None = None,
                       version: FileVersion | None = None) -> None:
        """Upload the `size` bytes of the file at `local_path` as `path` in parts of
        `part_size` bytes (the caller keeps them within S3's 10,000), each read as it is
        sent, and each read of `version` of the file, if given (FileSpan). The object appears
        only when the upload completes; a failed or interrupted one is aborted, and the next
        attempt starts a new upload. One cut off by a store that stopped answering (a
        TimeoutError) is not aborted then, but left (`left_uploads`) until an upload of the
        same path completes, which aborts it."""
        upload_id = await self._start_upload(path)
        task = asyncio.current_task()

        async def abort_at_stop() -> None:  # the process is ending, this task with it
            if task is not None:
                task.cancel()  # its parts in flight are dropped, and no other starts
                await asyncio.sleep(0)
            await self.abort_upload(path, upload_id)

        with aio.cleaned_up_on_stop(abort_at_stop):
            try:
                etags = await self._put_parts(path, upload_id, local_path, size, part_size,
                                              on_bytes, version)
                await self._complete_upload(path, upload_id, etags)
            except TimeoutError:  # an abort would wait as long for an answer
                self._left.setdefault(path, []).append(upload_id)
                raise
            except BaseException:
                with contextlib.suppress(Exception):  # else `dvx gc --remote` aborts it
                    await asyncio.wait_for(self.abort_upload(path, upload_id), ABORT_WAIT)
                raise
        await self._abort_left(path)

    def left_uploads(self, path: str) -> int:
        """How many multipart uploads of `path` a store that stopped answering cut off, and
        stay there unfinished (put_file)."""
        return len(self._left.get(path, ()))

    async def _abort_left(self, path: str) -> None:
        """Abort the uploads of `path` left cut off, now that the store answers again; one
        it does not abort stays for `dvx gc --remote`."""
        for upload_id in self._left.pop(path, []):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.abort_upload(path, upload_id), ABORT_WAIT)

    async def abort_upload(self, path: str, upload_id: str) -> bool:
        """Abort the multipart upload `upload_id` of `path`: the store deletes its parts. A
        part the store was still receiving can land after the abort and bring the upload
        back (S3 says to abort again then), so it is aborted until it stays gone (ABORT_TRIES
        times at most). Sent over a connection of its own, as the pool's may all be busy
        sending the upload's parts, or closed as the command ends. False if it was gone
        already (completed or aborted since it was listed)."""
        url = f"{self._url(path)}?{_upload(upload_id)}"
        pool = self._new_pool(url, 1)
        there = True
        try:
            for attempt in range(ABORT_TRIES):
                response = await pool.request("DELETE", self._target(url),
                                              self._signed("DELETE", url, None, {}))
                if b"NoSuchUpload" in response.body:
                    there = there and attempt > 0  # at the first: gone before this abort
                elif response.status not in (200, 204):
                    raise _error(response.status, response.body, path)
                await asyncio.sleep(ABORT_SETTLE)
                listed = f"{url}&max-parts=1"  # ListParts: is it there still?
                response = await pool.request("GET", self._target(listed),
                                              self._signed("GET", listed, None, {}))
                if response.status == 404 or b"NoSuchUpload" in response.body:
                    return there
                if response.status != 200:
                    raise _error(response.status, response.body, path)
        finally:
            pool.close()
        return there

    async def unfinished_uploads(self, prefix_path: str) -> list[tuple[str, str, float | None]]:
        """The multipart uploads under `bucket/prefix/` that were neither completed nor
        aborted, page by page (ListMultipartUploads): (`bucket/key`, upload id, when it
        started)."""
        bucket, _, prefix = prefix_path.partition("/")
        params = {"uploads": "", "prefix": key_prefix(prefix)}
        found: list[tuple[str, str, float | None]] = []
        while True:
            query = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}"
                             for k, v in sorted(params.items()))
            response = await self._request("GET", bucket + "/", query=query)
            if response.status != 200:
                raise _error(response.status, response.body, prefix_path)
            root = _xml_root(response.body)
            namespace = root.tag[: root.tag.index("}") + 1] \
                if root is not None and root.tag.startswith("{") else ""
            if root is None or root.tag != f"{namespace}ListMultipartUploadsResult":
                raise self._not_s3(f"a listing of the uploads in bucket '{bucket}' came back "
                                   "as", response, "not as S3's ListMultipartUploadsResult")
            for item in root.iter(f"{namespace}Upload"):
                key, upload_id = (item.findtext(f"{namespace}Key"),
                                  item.findtext(f"{namespace}UploadId"))
                if key and upload_id:
                    found.append((f"{bucket}/{key}", upload_id,
                                  _timestamp(item.findtext(f"{namespace}Initiated"))))
            markers = {"key-marker": root.findtext(f"{namespace}NextKeyMarker") or "",
                       "upload-id-marker": root.findtext(f"{namespace}NextUploadIdMarker") or ""}
            if root.findtext(f"{namespace}IsTruncated") != "true" or not markers["key-marker"]:
                return found
            params.update(markers)

    @staticmethod
    def _target(url: str) -> str:
        """The request target (path and query) of `url`."""
        return "/" + url.split("://", 1)[1].partition("/")[2]

    async def _start_upload(self, path: str) -> str:
        response = await self._request("POST", path, query="uploads")
        if response.status != 200:
            raise _error(response.status, response.body, path)
        upload_id = _xml_text(response.body, "UploadId")
        if not upload_id:
            raise self._not_s3(f"starting a multipart upload of {path} got", response,
                               "without the UploadId of S3's answer")
        return upload_id

    async def _put_parts(self, path: str, upload_id: str, local_path: str, size: int,
                         part_size: int, on_bytes: Callable[[int], None] | None,
                         version: FileVersion | None) -> list[str]:
        assert self._part_slots is not None, "start() first"
        slots = self._part_slots
        count = max(1, -(-size // part_size))
        etags = [""] * count

        async def put_part(number: int, part: FileSpan) -> None:
            try:  # signed with its SHA-256: S3 refuses a part damaged on the way
                _, payload = await asyncio.to_thread(_digests, part, False, True)
                faults.point("s3.put.after_digests")
                response = await self._request(
                    "PUT", path, part, query=f"partNumber={number}&{_upload(upload_id)}",
                    payload=payload)
                if response.status != 200:
                    raise _error(response.status, response.body, path)
                etag = response.headers.get("etag")
                if not etag:
                    raise self._not_s3(f"part {number} of {path} was acknowledged with",
                                       response, "without the ETag S3 sends for a part")
                etags[number - 1] = etag
                faults.point("s3.multipart.after_part")
                if on_bytes is not None:
                    on_bytes(part.length)
            finally:
                slots.release()

        in_flight: set[asyncio.Task[None]] = set()
        try:
            for number in range(1, count + 1):
                await slots.acquire()
                start = (number - 1) * part_size
                part = FileSpan(local_path, start, min(part_size, size - start), version)
                in_flight.add(asyncio.ensure_future(put_part(number, part)))
                for task in [t for t in in_flight if t.done()]:
                    in_flight.discard(task)
                    task.result()  # a failed part fails the upload now
            await asyncio.gather(*in_flight)
        finally:
            for task in in_flight:
                task.cancel()
        return etags

    async def _complete_upload(self, path: str, upload_id: str, etags: list[str]) -> None:
        from xml.sax.saxutils import escape

        parts = "".join(f"<Part><ETag>{escape(etag)}</ETag><PartNumber>{number}</PartNumber>"
                        "</Part>" for number, etag in enumerate(etags, 1))
        body = (f'<CompleteMultipartUpload xmlns="{S3_XMLNS}">{parts}'
                "</CompleteMultipartUpload>").encode()
        response = await self._request("POST", path, body, query=_upload(upload_id))
        # An error can come with status 200, in the body, once the store has started to answer.
        if response.status != 200 or b"<Error>" in response.body:
            raise _error(500 if response.status == 200 else response.status, response.body,
                         path)


S3_XMLNS = "http://s3.amazonaws.com/doc/2006-03-01/"
ABORT_WAIT = 5.0  # seconds given to aborting a failed upload
ABORT_SETTLE = 0.25  # seconds after an abort for the parts still arriving to land, if they do
ABORT_TRIES = 4


def _crc32(crc: int) -> str:
    """A CRC32 as the x-amz-checksum-crc32 header gives it: big-endian, in base64."""
    return base64.b64encode(crc.to_bytes(4, "big")).decode()


def _digests(span: FileSpan, crc32: bool, sha256: bool) -> tuple[str, str | None]:
    """The CRC32 (as `_crc32`; "" unless asked) and the SHA-256 (hex; None unless asked) of
    a file's span, read through once."""
    crc, sha = 0, hashlib.sha256() if sha256 else None
    for piece in span.pieces():
        if crc32:
            crc = zlib.crc32(piece, crc)
        if sha is not None:
            sha.update(piece)
    return _crc32(crc) if crc32 else "", sha.hexdigest() if sha is not None else None


def key_prefix(folder: str) -> str:
    """The prefix of the keys in `folder` of a bucket ("" for the whole bucket)."""
    folder = folder.strip("/")
    return f"{folder}/" if folder else ""


def _upload(upload_id: str) -> str:
    return f"uploadId={quote(upload_id, safe='')}"


def _xml_root(body: bytes) -> Any:
    """The root element of an XML answer; None if the body is not XML (a web page)."""
    import xml.etree.ElementTree as ElementTree

    try:
        return ElementTree.fromstring(body)
    except ElementTree.ParseError:
        return None


def _xml_text(body: bytes, name: str) -> str | None:
    root = _xml_root(body)
    if root is None:
        return None
    namespace = root.tag[: root.tag.index("}") + 1] if root.tag.startswith("{") else ""
    return root.findtext(f"{namespace}{name}")


async def _access_of(fs: Any) -> Access:
    """The endpoint, region and credentials of an s3fs filesystem's botocore client."""
    await fs.set_session()
    client = fs.s3
    credentials = client._request_signer._credentials
    if credentials is None:
        raise Unsupported("anonymous access")
    frozen = credentials.get_frozen_credentials()
    frozen = await frozen if asyncio.iscoroutine(frozen) else frozen
    http_session = client._endpoint.http_session
    return Access(client.meta.endpoint_url, client.meta.region_name or "us-east-1",
                  frozen.access_key, frozen.secret_key, frozen.token,
                  getattr(http_session, "_verify", True),
                  getattr(http_session, "_cert_file", None))


def _proxied(url: str) -> bool:
    """Would the usual clients reach `url` through a proxy (HTTP(S)_PROXY, NO_PROXY)? This path
    speaks to the store directly, so it then leaves the work to the general client."""
    from urllib.request import getproxies, proxy_bypass

    scheme = url.split("://", 1)[0]
    host = urlsplit(url).hostname or ""
    return scheme in getproxies() and not proxy_bypass(host)


def _timestamp(text: str | None) -> float | None:
    """An ISO 8601 time of a listing (`2026-12-03T21:28:10.763Z`) as a POSIX timestamp."""
    from datetime import datetime

    try:
        return datetime.fromisoformat((text or "").replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


# S3's codes for credentials it refuses as such (a 403, or a 400 for a token), and what each
# means: other credentials are the way out, not other rights.
_WRONG_CREDENTIALS = {
    "SignatureDoesNotMatch": "the secret access key does not match the access key id",
    "InvalidAccessKeyId": "the store knows no such access key id",
    "InvalidToken": "the session token is not valid",
    "ExpiredToken": "the session token has expired",
}


def wrong_credentials(code: str | None) -> str | None:
    """Why S3 refused the credentials themselves, said with its error code `code`; None for
    a code that refuses what they may do (AccessDenied), or none."""
    meaning = _WRONG_CREDENTIALS.get(code or "")
    return None if meaning is None else f"the credentials are wrong ({code}: {meaning})"


def _error(status: int, body: bytes, path: str) -> Exception:
    text = body[:300].decode("utf-8", "replace")
    if status == 404 and b"NoSuchKey" in body:
        return FileNotFoundError(2, "not on the remote", path)
    if status == 404 and b"NoSuchBucket" in body:
        return MissingBucketError(path.partition("/")[0])
    code = _xml_text(body, "Code") if status in (400, 403) and body else None
    wrong = wrong_credentials(code)
    if wrong is not None:
        return CredentialsRefused(13, wrong, path)
    if status == 403:
        why = f" ({code})" if code else ""
        return PermissionError(13, f"access denied by the store{why}", path)
    if status in (500, 502, 503, 504) or b"SlowDown" in body or b"RequestTimeout" in body:
        return ConnectionError(f"the store answered {status}, a passing error")
    if status == 400 and b"BadDigest" in body:
        return ConnectionError("the upload was damaged on the way (BadDigest)")
    return Unsupported(f"unexpected answer {status}: {text}")
