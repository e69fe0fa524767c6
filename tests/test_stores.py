"""The store interface (dvx/objects/blobs.py, dvx/remote/blobs.py) and the transfers on top of
it, tested directly: every kind of store answers the same operations the same way, and
uploads and downloads on an in-memory store and on the fault-injecting filesystem move every
object, retry what fails for a moment, and keep damaged bytes out of the cache."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import fsspec
import pytest
from fsspec.implementations.memory import MemoryFileSystem

from dvx.errors import RemoteError
from dvx.hashing import hash_bytes
from dvx.objects.blobs import Blobs, DirectoryBlobs
from dvx.objects.cache import LocalCache
from dvx.progress import NoProgress
from dvx.remote import transfer
from dvx.remote.backends import (
    S3_MAX_PARTS,
    S3_MIN_PART_SIZE,
    S3_PART_SIZE,
    access_refused,
    s3_part_size,
)
from dvx.remote.blobs import FsspecBlobs
from dvx.remote.store import RemoteStore
from dvx.remote.transfer_result import Settings
from dvx.remote.workers import FirstTries, bounded, run_each
from tests.faulty_fs import FaultyFileSystem

fsspec.register_implementation("faulty", FaultyFileSystem, clobber=True)

KINDS = ["directory", "memory", "faulty", "seaweedfs"]


def _memory_blobs() -> FsspecBlobs:
    fs = MemoryFileSystem()
    root = f"/stores/{uuid.uuid4().hex}"
    return FsspecBlobs(root, lambda: fs, atomic_put=True)


def _faulty_blobs(tmp_path: Path, faults: Path) -> FsspecBlobs:
    fs = FaultyFileSystem(faults=str(faults))
    # Not atomic: every put goes through a temporary name and a rename.
    return FsspecBlobs(str(tmp_path / "faulty-store"), lambda: fs, atomic_put=False)


def _s3_client(server: dict[str, str]) -> Any:
    import boto3

    return boto3.client("s3", endpoint_url=server["endpoint_url"],
                        aws_access_key_id=server["key"], aws_secret_access_key=server["secret"],
                        region_name="us-east-1")


def _s3_blobs(request: pytest.FixtureRequest, tmp_path: Path, server_name: str = "seaweed_s3",
              **options: str) -> Any:
    from dvx.remote.fs import open_store

    server = request.getfixturevalue(server_name)
    bucket = f"stores-{uuid.uuid4().hex[:12]}"
    _s3_client(server).create_bucket(Bucket=bucket)
    options = {"endpointurl": server["endpoint_url"], "access_key_id": server["key"],
               "secret_access_key": server["secret"], "region": "us-east-1"} | options
    return open_store(f"s3://{bucket}/root", options, str(tmp_path), "xxh128").blobs


@pytest.fixture(params=KINDS)
def blobs(request, tmp_path) -> Blobs:
    if request.param == "directory":
        return DirectoryBlobs(str(tmp_path / "store"))
    if request.param == "memory":
        return _memory_blobs()
    if request.param == "faulty":
        return _faulty_blobs(tmp_path, tmp_path / "faults.json")
    return _s3_blobs(request, tmp_path)


def test_a_blob_reads_back_whole_in_ranges_and_as_a_stream(blobs, tmp_path):
    data = os.urandom(3 * (1 << 20) + 5)  # more than one read block
    with blobs.session():
        blobs.put("packs/a.pack", data)
        assert blobs.get("packs/a.pack") == data
        assert blobs.get("packs/a.pack", 10, 20) == data[10:20]
        assert blobs.get("packs/a.pack", len(data) - 3) == data[-3:]
        sink, told = io.BytesIO(), []
        assert blobs.read_into("packs/a.pack", sink, told.append) == len(data)
        assert sink.getvalue() == data and sum(told) == len(data)
        with blobs.open("packs/a.pack") as f:
            assert f.read() == data
        assert blobs.size("packs/a.pack") == len(data)


def test_a_local_file_is_published_whole_with_its_progress(blobs, tmp_path):
    for size in (0, 1000, 9 << 20):  # empty, small, and above the S3 single-PUT limit
        local = tmp_path / f"f{size}"
        data = os.urandom(size)
        local.write_bytes(data)
        told: list[int] = []
        with blobs.session():
            blobs.put_file(f"files/x/{size}", str(local), told.append)
            assert blobs.get(f"files/x/{size}") == data
        assert sum(told) in (0, size)  # stores that report progress report all of it
    assert sorted(blobs.walk("files")) == ["files/x/0", "files/x/1000", f"files/x/{9 << 20}"]


MiB, GiB, TiB = 1 << 20, 1 << 30, 1 << 40


@pytest.mark.parametrize("size, chunksize, part", [
    (12 * MiB, S3_PART_SIZE, S3_PART_SIZE),
    (10_000 * S3_PART_SIZE, S3_PART_SIZE, S3_PART_SIZE),  # 10,000 parts exactly
    (10_000 * S3_PART_SIZE + 1, S3_PART_SIZE, 9 * MiB),  # 78.1 GiB and a byte
    (100 * GiB, S3_PART_SIZE, 11 * MiB),
    (49 * GiB, S3_MIN_PART_SIZE, 6 * MiB),
    (5 * TiB, S3_PART_SIZE, 525 * MiB),  # S3's largest object
    (5 * TiB, 5 * GiB, 5 * GiB),
])
def test_a_multipart_upload_takes_at_most_s3s_10000_parts(size, chunksize, part):
    """The chunksize, or the fewest whole MiB that keep the parts within 10,000."""
    assert s3_part_size(size, chunksize) == part
    assert -(-size // part) <= S3_MAX_PARTS


@pytest.mark.parametrize("server", ["moto_s3", "seaweed_s3"])
@pytest.mark.parametrize("client", ["lean", "s3fs"])
def test_a_file_needing_more_parts_than_s3_takes_goes_up_in_larger_parts(request, tmp_path,
                                                                         server, client):
    """A 3-part limit stands for S3's 10,000 (no test file of 78 GiB): a 16 MiB file in 5 MiB
    parts would need 4, and goes in 3 parts of 6 MiB, which the store takes (both refuse a
    part below 5 MiB but the last, as S3 does)."""
    blobs = _s3_blobs(request, tmp_path, server, chunksize=str(5 * MiB))
    blobs.max_parts = 3
    if client == "s3fs":
        blobs.fast = None  # as once the lean client declined the store
    data = os.urandom(16 * MiB)
    (tmp_path / "big").write_bytes(data)
    told: list[int] = []
    with blobs.session():
        blobs.put_file("files/big", str(tmp_path / "big"), told.append)
        assert blobs.get("files/big") == data
    assert sum(told) == len(data)
    bucket, _, root = blobs.root.partition("/")
    head = _s3_client(request.getfixturevalue(server)).head_object(
        Bucket=bucket, Key=f"{root}/files/big", PartNumber=1)
    assert head["PartsCount"] == 3 and head["ContentLength"] == 6 * MiB


@pytest.mark.parametrize("client", ["lean", "s3fs"])
@pytest.mark.parametrize("keys, code", [
    ({"secret_access_key": "not-the-secret"}, "SignatureDoesNotMatch"),
    ({"access_key_id": "NOSUCHKEY"}, "InvalidAccessKeyId"),
])
def test_credentials_s3_refuses_are_said_to_be_wrong_by_either_client(request, tmp_path,
                                                                      client, keys, code):
    """A wrong secret, or a key the store does not know, is refused as wrong credentials
    with S3's reason, whichever client met the refusal: not as credentials that may not
    read or write there."""
    blobs = _s3_blobs(request, tmp_path, **keys)
    if client == "s3fs":
        blobs.fast = None  # as once the lean client declined the store
    with blobs.session(), pytest.raises(PermissionError) as refused:
        blobs.get("files/x")
    error = access_refused(blobs, refused.value)
    assert error.message.startswith(f"The {blobs.shown} refused access: the credentials are "
                                    f"wrong ({code}: "), error.message
    assert error.hint == ("Check them; they are taken from the remote's options "
                          "access_key_id and secret_access_key.")


def test_a_file_larger_than_s3s_largest_object_is_refused_before_any_upload(request, tmp_path):
    huge = tmp_path / "huge"
    huge.touch()
    try:
        os.truncate(huge, 5 * TiB + 1)  # sparse: nothing is written, and nothing read
    except OSError:
        pytest.skip("this file system holds no file of 5 TiB")
    blobs = _s3_blobs(request, tmp_path)
    with blobs.session(), pytest.raises(RemoteError, match="more than the 5 TiB S3 stores"):
        blobs.put_file("files/huge", str(huge))
    assert blobs.unfinished_uploads() == [] and list(blobs.walk("files")) == []


def test_listing_existence_moving_and_deleting(blobs, request):
    with blobs.session():
        for name in ("a/1", "a/2", "a/b/3", "c/4"):
            blobs.put(name, name.encode())
        # One level; a directory store names its folders too (what stands where a blob
        # should, for a reader that must see every blob there to refuse).
        folders = ["b"] if isinstance(blobs, DirectoryBlobs) else []
        assert blobs.names("a") == ["1", "2", *folders]
        assert sorted(blobs.details("a")) == ["1", "2"] and blobs.details("a")["1"][0] == 3
        written = blobs.details("a")["1"][1]  # the store's clock: near ours, or not known
        if request.node.callspec.params["blobs"] in ("directory", "seaweedfs"):
            assert written is not None
        assert written is None or abs(written - time.time()) < 600
        assert sorted(blobs.walk("a")) == ["a/1", "a/2", "a/b/3"]
        assert sorted(blobs.walk_details("a")) == ["a/1", "a/2", "a/b/3"]
        assert blobs.walk_details("a")["a/b/3"][0] == 5
        assert blobs.exists("a/1") and not blobs.exists("a/9")
        assert blobs.existing(["a/1", "a/9", "c/4"]) == {"a/1", "c/4"}
        blobs.move("a/1", "q/1")
        assert not blobs.exists("a/1") and blobs.get("q/1") == b"a/1"
        blobs.delete(["a/2", "c/4", "c/never-there"])
        assert blobs.existing(["a/2", "c/4", "a/b/3"]) == {"a/b/3"}
        many = [f"d/{i}" for i in range(40)]  # more than a few: deleted in one batch
        blobs.put_many([(name, b"x") for name in many])
        blobs.delete(many)
        assert blobs.existing(many) == set()
        assert list(blobs.walk("nothing")) == [] and blobs.details("nothing") == {}


@pytest.mark.parametrize("count", [3, 40])  # one DELETE each; one DeleteObjects request
def test_deletes_the_credentials_may_not_make_are_refused_not_counted_done(tmp_path, moto_iam,
                                                                             count):
    """DeleteObjects answers 200 when it deleted nothing, naming each refused key among its
    Errors (as AWS does for a key without s3:DeleteObject): that is a refusal too."""
    from dvx.remote.fs import open_store

    def blobs_of(user: str) -> Any:
        key, secret = moto_iam["keys"][user]
        return open_store(f"s3://{moto_iam['bucket']}/del-{uuid.uuid4().hex[:8]}",
                          {"endpointurl": moto_iam["endpoint_url"], "access_key_id": key,
                           "secret_access_key": secret, "region": "us-east-1"},
                          str(tmp_path), "xxh128").blobs

    appending = blobs_of("nodelete")
    names = [f"d/{i}" for i in range(count)]
    with appending.session():
        appending.put_many([(name, b"x") for name in names])
        with pytest.raises(PermissionError):
            appending.delete(names)
        assert appending.existing(names) == set(names)


def _azure_container(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Any, str]:
    """A fresh container on Azurite: (its remote's spec, its name)."""
    from urllib.parse import urlsplit

    from tests.remotes import remote_for

    spec = remote_for("azure", request, tmp_path)
    return spec, urlsplit(spec.url).netloc


def test_an_azure_sas_that_may_not_delete_is_refused_each_delete_gone_blobs_among_them(
        tmp_path, request):
    """Azurite enforces a SAS's permissions: without d, each delete is refused (403
    AuthorizationPermissionMismatch), which adlfs's rm raised as a RuntimeError."""
    from dvx.remote.fs import open_store
    from tests.servers import azurite_without_delete

    spec, container = _azure_container(request, tmp_path)
    appending = open_store(spec.url, {"connection_string": azurite_without_delete(
        request.getfixturevalue("azurite"), container)}, str(tmp_path), "xxh128").blobs
    names = [f"d/{i}" for i in range(1, 6)]
    appending.put_many([(name, b"x") for name in names])
    with pytest.raises(PermissionError, match="AuthorizationPermissionMismatch"):
        appending.delete(["d/0", *names])  # d/0 was never there
    assert appending.existing(names) == set(names)


def test_an_azure_delete_that_fails_after_a_blob_gone_already_is_not_counted_done(
        tmp_path, request):
    """A blob Azure will not delete (under another client's lease: 412) is named as the
    store's answer, never taken for one gone already (adlfs's rm raised the first error of
    its deletes as a RuntimeError, an internal error to dvx, and none at all when that one
    was a blob gone since it looked)."""
    from azure.storage.blob import BlobServiceClient

    from dvx.remote.fs import open_store

    spec, container = _azure_container(request, tmp_path)
    blobs = open_store(spec.url, spec.options, str(tmp_path), "xxh128").blobs
    blobs.put("d/1", b"x")
    service = BlobServiceClient.from_connection_string(spec.options["connection_string"])
    service.get_blob_client(container, "project/d/1").acquire_lease()
    with pytest.raises(RemoteError, match="412"):
        blobs.delete(["d/0", "d/1"])  # d/0 was never there
    assert blobs.existing(["d/1"]) == {"d/1"}


@pytest.mark.parametrize("batch", [False, True], ids=["alone", "batch"])
def test_a_gcs_delete_the_credentials_may_not_make_is_a_refusal(tmp_path, request,
                                                                 monkeypatch, batch):
    """gcsfs raises GCS's 403 as a plain OSError, which dvx took for a passing error: for a
    delete of its own, and for each object of a batch delete, as it asks Google's own
    service (`on_google`; fake-gcs-server, behind a proxy refusing deletes, is not it)."""
    import gcsfs

    from dvx.remote.fs import open_store
    from tests.remotes import remote_for
    from tests.servers import gcs_without_delete

    spec = remote_for("gs", request, tmp_path)
    if batch:
        monkeypatch.setattr(gcsfs.core.GCSFileSystem, "on_google", property(lambda fs: True))
    names = [f"d/{i}" for i in range(3)]
    with gcs_without_delete(spec.options["endpointurl"]) as proxy:
        appending = open_store(spec.url, {**spec.options, "endpointurl": proxy},
                               str(tmp_path), "xxh128").blobs
        appending.put_many([(name, b"x") for name in names])
        with pytest.raises(PermissionError, match=r"storage\.objects\.delete"):
            appending.delete(names)
    assert sorted(spec.list_keys()) == names


def test_a_batch_of_blobs_goes_and_comes_back_with_each_ones_outcome(blobs):
    items = [(f"b/{i}", os.urandom(i * 100)) for i in range(20)]
    got: dict[int, bytes | Exception] = {}
    with blobs.session():
        assert blobs.put_many(items) == [None] * 20
        blobs.get_each([name for name, _ in items] + ["b/missing"],
                       lambda index, outcome: got.setdefault(index, outcome) is outcome)
    assert [got[i] for i in range(20)] == [data for _, data in items]
    assert isinstance(got[20], FileNotFoundError)


def test_many_blobs_each_arrive_once_and_a_stop_asks_for_no_more(blobs):
    names = [f"b/{i:03d}" for i in range(200)]
    with blobs.session():
        assert blobs.put_many([(name, name.encode()) for name in names[:-3]]) == [None] * 197
        seen: dict[int, bytes | Exception] = {}

        def arrived(index: int, data: bytes | Exception) -> bool:
            assert index not in seen
            seen[index] = data
            return True

        blobs.get_each(names, arrived)
        assert sorted(seen) == list(range(200))
        assert all(seen[index] == names[index].encode() for index in range(197))
        assert all(isinstance(seen[index], FileNotFoundError) for index in range(197, 200))

        told: list[int] = []

        def five_then_stop(index: int, data: bytes | Exception) -> bool:
            told.append(index)
            return len(told) < 5

        blobs.get_each(names, five_then_stop)
    # Reads already in flight still arrive; nothing more is asked for.
    assert 5 <= len(told) <= 5 + blobs.jobs and len(set(told)) == len(told)


def test_a_missing_blob_is_file_not_found(blobs):
    with blobs.session():
        for read in (lambda: blobs.get("no/such"), lambda: blobs.get("no/such", 0, 5),
                     lambda: blobs.size("no/such"),
                     lambda: blobs.read_into("no/such", io.BytesIO())):
            with pytest.raises(FileNotFoundError):
                read()


@pytest.mark.parametrize("kind", ["FIFO", "folder", "link to /dev/zero"])
def test_what_is_no_file_where_a_blob_should_be_is_refused_by_every_read(tmp_path, kind):
    """A directory store (the cache, a directory remote) reads only regular files: a FIFO is
    never waited on, a device never read without end, whether a read is whole, ranged or a
    stream."""
    pack = tmp_path / "store" / "packs" / "a.pack"
    pack.parent.mkdir(parents=True)
    if kind == "FIFO":
        os.mkfifo(pack)
    elif kind == "folder":
        pack.mkdir()
    else:
        pack.symlink_to("/dev/zero")
    code = ("import io\nfrom dvx import fsutil\nfrom dvx.objects.blobs import DirectoryBlobs\n"
            f"blobs = DirectoryBlobs({str(pack.parent.parent)!r})\n"
            "for read in (lambda: blobs.get('packs/a.pack'), lambda: blobs.get('packs/a.pack', "
            "0, 48), lambda: blobs.get('packs/a.pack', 5),\n"
            "             lambda: blobs.read_into('packs/a.pack', io.BytesIO())):\n"
            "    try:\n        read()\n"
            "    except fsutil.NotRegularFileError as exc:\n        print('refused:', exc)\n")
    try:
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail(f"a read waited on, or read without end, a {kind}")
    said = proc.stdout.splitlines()
    assert len(said) == 4 and all(line.startswith("refused: ") for line in said), (
        proc.stdout + proc.stderr)
    assert ("a folder" in said[0]) == (kind == "folder")


def test_a_put_never_leaves_a_temporary_behind(tmp_path):
    faults = tmp_path / "faults.json"
    blobs = _faulty_blobs(tmp_path, faults)
    faults.write_text(json.dumps({"fail_puts": 1}))
    with pytest.raises(ConnectionError):
        blobs.put("packs/p", b"data")
    assert list(blobs.walk("packs")) == [] and not any(
        name.startswith(".") for name in os.listdir(tmp_path / "faulty-store" / "packs"))
    blobs.put("packs/p", b"data")
    assert blobs.get("packs/p") == b"data"


def test_threads_share_one_session_and_one_client(blobs):
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            with blobs.session():
                blobs.put(f"t/{i}", bytes([i]) * 100)
                assert blobs.get(f"t/{i}") == bytes([i]) * 100
        except BaseException as exc:
            errors.append(exc)

    with blobs.session():
        threads = [threading.Thread(target=work, args=(i,)) for i in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert not errors and len(list(blobs.walk("t"))) == 16


# -- the worker pool --------------------------------------------------------------------------


def _settings(jobs: int = 4, retries: int = 3) -> Settings:
    return Settings(jobs, retries, NoProgress())


def test_the_pool_reports_every_failure_and_finishes_the_rest():
    store = RemoteStore(DirectoryBlobs("/nonexistent"), "xxh128", index_dir="/nonexistent")
    store.secrets = ("s3cr3t-value",)
    oids = [f"{i:032x}" for i in range(200)]
    attempts: dict[str, int] = {}
    lock = threading.Lock()

    def work(oid: str, on_bytes) -> int:
        with lock:
            attempts[oid] = attempts.get(oid, 0) + 1
        if int(oid, 16) % 50 == 0:
            raise PermissionError("denied for s3cr3t-value")  # never retried
        if int(oid, 16) % 7 == 0 and attempts[oid] == 1:
            raise ConnectionError("a moment's trouble")  # retried, then fine
        return 10

    result = run_each(oids, work, _settings(), "Uploading", None, store)
    assert result.transferred == 196 and result.bytes == 1960
    assert sorted(result.failed) == [f"{i:032x}" for i in (0, 50, 100, 150)]
    assert all("s3cr3t" not in reason and "***" in reason for reason in result.failed.values())
    assert all(attempts[f"{i:032x}"] == 1 for i in (0, 50, 100, 150))
    assert attempts[f"{7:032x}"] == 2


class _Batching(DirectoryBlobs):
    """A store that says it sends batches of 8 requests at once."""

    @property
    def concurrent_batch(self) -> int:
        return 8


def test_first_tries_of_a_batch_are_finished_by_the_object_s_own_attempts():
    store = RemoteStore(_Batching("/nonexistent"), "xxh128", index_dir="/nonexistent")
    oids = [f"{i:032x}" for i in range(40)]
    retried: list[str] = []

    def first_tries(batch: list[str]) -> dict[str, int | Exception]:
        tried: dict[str, int | Exception] = {}
        for oid in batch:
            n = int(oid, 16)
            tried[oid] = (ConnectionError("dropped") if n % 3 == 0 else
                          PermissionError("denied") if n % 5 == 0 else 7)
        return tried

    def work(oid: str, on_bytes) -> int:
        retried.append(oid)
        return 7

    result = run_each(oids, work, _settings(), "Downloading", None, store,
                      first_tries=FirstTries(first_tries, lambda oid: int(oid, 16) < 35))
    transient = {f"{i:032x}" for i in range(35) if i % 3 == 0}
    denied = {f"{i:032x}" for i in range(35) if i % 3 and i % 5 == 0}
    alone = {f"{i:032x}" for i in range(35, 40)}  # not for batches: tried one by one
    assert set(retried) == transient | alone  # and what failed for a moment, again
    assert set(result.failed) == denied and result.transferred == 40 - len(denied)


def test_bounded_keeps_order_and_a_bounded_window():
    in_flight, most = [0], [0]
    lock = threading.Lock()
    seen: list[int] = []

    def work(item: int) -> int:
        with lock:
            in_flight[0] += 1
            most[0] = max(most[0], in_flight[0])
        with lock:
            in_flight[0] -= 1
        if item == 13:
            raise ValueError("thirteen")
        return item * 2

    def done(item: int, outcome: int | BaseException) -> None:
        seen.append(item)
        assert isinstance(outcome, ValueError) if item == 13 else outcome == item * 2

    bounded(iter(range(100)), work, 3, done)
    assert seen == list(range(100)) and most[0] <= 3


# -- transfers on an in-memory store and on the fault-injecting one ---------------------------


def _cache_with(tmp_path: Path, name: str, count: int, big: int = 0
                ) -> tuple[LocalCache, dict[str, int]]:
    cache = LocalCache(str(tmp_path / name), "xxh128")
    sizes = {}
    for i in range(count):
        data = os.urandom(100 + i)
        sizes[cache.add_bytes(data)] = len(data)
    for _ in range(big):
        data = os.urandom(6 << 20)  # streamed, not read whole
        sizes[cache.add_bytes(data)] = len(data)
    return cache, sizes


def _remote(blobs: Blobs, tmp_path: Path, threshold: int) -> RemoteStore:
    return RemoteStore(blobs, "xxh128", index_dir=str(tmp_path / f"idx-{uuid.uuid4().hex}"),
                       pack_threshold=threshold, retries=3)


@pytest.mark.parametrize("threshold", [1 << 20, 0], ids=["packs", "loose"])
def test_upload_and_download_on_an_in_memory_store(tmp_path, threshold):
    cache, sizes = _cache_with(tmp_path, "a", 300, big=1)
    remote = _remote(_memory_blobs(), tmp_path, threshold)
    pushed = transfer.upload(cache, remote, sizes, _settings(), sizes=sizes)
    assert pushed.transferred == len(sizes) and not pushed.failed
    again = transfer.upload(cache, remote, sizes, _settings(), sizes=sizes)
    assert again.transferred == 0 and again.already_there == len(sizes)
    fresh = LocalCache(str(tmp_path / "b"), "xxh128")
    pulled = transfer.download(remote, fresh, sizes, _settings(), sizes)
    assert pulled.transferred == len(sizes) and not pulled.failed
    for oid in sizes:
        assert hash_bytes(fresh.read_bytes(oid), "xxh128") == oid
    assert transfer.verify_on(remote, sizes, _settings(), sizes) == {}


@pytest.mark.parametrize("kind", ["memory", "s3"])
def test_packs_built_in_reused_buffers_hold_their_own_objects(tmp_path, request, kind):
    cache, sizes = _cache_with(tmp_path, "a", 120)
    blobs = _memory_blobs() if kind == "memory" else _s3_blobs(request, tmp_path)
    remote = RemoteStore(blobs, "xxh128", index_dir=str(tmp_path / "idx"), retries=3,
                         pack_size=1000)  # about 20 packs, so buffers of sent packs are reused
    pushed = transfer.upload(cache, remote, sizes, _settings(), sizes=sizes)
    assert pushed.transferred == len(sizes) and not pushed.failed
    assert len(blobs.names("packs")) > 10
    fresh = LocalCache(str(tmp_path / "b"), "xxh128")
    pulled = transfer.download(remote, fresh, sizes, _settings(), sizes)
    assert pulled.transferred == len(sizes) and not pulled.failed
    assert transfer.verify_on(remote, sizes, _settings(), sizes) == {}


def test_an_object_whose_pointer_gives_another_size_is_packed_whole(tmp_path):
    cache, sizes = _cache_with(tmp_path, "a", 20)
    wrong = dict(sizes)
    odd = next(iter(wrong))
    wrong[odd] += 7  # a pointer edited by hand: the pack is sized by it, the object is not
    remote = _remote(_memory_blobs(), tmp_path, 1 << 20)
    pushed = transfer.upload(cache, remote, list(sizes), _settings(), sizes=wrong)
    assert pushed.transferred == len(sizes) and not pushed.failed
    fresh = LocalCache(str(tmp_path / "b"), "xxh128")
    pulled = transfer.download(remote, fresh, sizes, _settings(), sizes)
    assert pulled.transferred == len(sizes) and not pulled.failed
    assert fresh.read_bytes(odd) == cache.read_bytes(odd)


@pytest.mark.parametrize("meanwhile", ["marked used", "written to"])
def test_an_object_only_marked_used_while_it_is_sent_is_uploaded(tmp_path, monkeypatch,
                                                                  meanwhile):
    """Marking a cached object used (`LocalCache.refresh`, as another repository sharing
    the cache does when it adds the same content) moves its mtime and no byte: the upload
    goes on. A write in place through a link to it is a new version: it fails."""
    cache, sizes = _cache_with(tmp_path, "a", 0, big=1)
    (oid,) = sizes
    remote = _remote(_memory_blobs(), tmp_path, 0)
    put_file = remote.blobs.put_file

    def put_file_while_another_process_uses_it(name, local_path, on_bytes, version=None):
        if meanwhile == "marked used":
            assert cache.refresh(oid)
        else:
            os.chmod(local_path, 0o644)
            with open(local_path, "r+b") as f:
                f.write(b"X")
        put_file(name, local_path, on_bytes, version)

    monkeypatch.setattr(remote.blobs, "put_file", put_file_while_another_process_uses_it)
    pushed = transfer.upload(cache, remote, sizes, _settings(), sizes=sizes)
    if meanwhile == "marked used":
        assert pushed.transferred == 1 and not pushed.failed
        assert remote.exists(oid)
    else:
        assert list(pushed.failed) == [oid] and not remote.exists(oid)


def _staging_at_a_test_s_size(monkeypatch) -> list[int]:
    """Pulls of ten objects or more stage their tiny objects, in rounds of 8000 bytes, and
    store them in two worker processes; the sizes of the rounds stored are listed."""
    from dvx.processes import map_in_processes
    from dvx.remote import staging

    rounds: list[int] = []

    def in_processes(fn, items, advance=lambda n: None, **options):
        rounds.append(len(items))
        return map_in_processes(fn, items, advance, workers=2, min_items=1, **options)

    monkeypatch.setattr(staging, "MIN_ITEMS", 10)
    monkeypatch.setattr(staging, "STAGED_BYTES", 8000)
    monkeypatch.setattr(staging, "worker_count", lambda: 2)
    monkeypatch.setattr(staging, "map_in_processes", in_processes)
    return rounds


def _pushed(tmp_path: Path, cache: LocalCache, sizes: dict[str, int], layout: str
            ) -> tuple[RemoteStore, FsspecBlobs]:
    """`sizes` pushed to an in-memory store, in small packs or as loose objects."""
    blobs = _memory_blobs()
    remote = RemoteStore(blobs, "xxh128", index_dir=str(tmp_path / f"idx-{uuid.uuid4().hex}"),
                         retries=3, pack_size=4000,
                         pack_threshold=1 << 20 if layout == "packs" else 0)
    assert transfer.upload(cache, remote, sizes, _settings(), sizes=sizes).transferred == len(
        sizes)
    assert bool(remote.in_packs(sizes)) == (layout == "packs")
    return remote, blobs


def _damage(remote: RemoteStore, blobs: FsspecBlobs, oid: str) -> None:
    """Flip a byte of the object's stored copy (its size stays)."""
    located = remote.locate([oid]).get(oid)
    name, offset = (f"packs/{located[0]}", located[1]) if located else (remote.oid_name(oid), 0)
    content = bytearray(blobs.get(name))
    content[offset] ^= 0xFF
    blobs.put(name, bytes(content))


LAYOUTS = pytest.mark.parametrize("layout", ["packs", "loose"])


@LAYOUTS
def test_a_large_pull_of_tiny_objects_stages_its_reads_then_stores_them_in_workers(
        tmp_path, monkeypatch, layout):
    rounds = _staging_at_a_test_s_size(monkeypatch)
    cache, sizes = _cache_with(tmp_path, "a", 200)
    remote, blobs = _pushed(tmp_path, cache, sizes, layout)
    damaged = sorted(sizes)[7]
    _damage(remote, blobs, damaged)

    bars: dict[str, list[int]] = {}  # description -> [total, done]

    class Bars:
        @contextlib.contextmanager
        def task(self, desc: str, total: int | None, unit: str = "file"):
            bar = bars.setdefault(desc, [0, 0])
            bar[0] += total or 0

            def advance(n: int) -> None:
                bar[1] += n

            yield advance

    fresh = LocalCache(str(tmp_path / "b"), "xxh128")
    pulled = transfer.download(remote, fresh, sizes, Settings(4, 3, Bars()), sizes)
    assert len(rounds) > 3 and sum(rounds) == 200  # every object staged once, a round at a time
    # The loose bar counts bytes; a loose object that does not hash right is read again, and
    # fails again. A packed one that does not is looked for loose after (absent here), as a
    # loose object is: in a batch, then on its own.
    read = [sum(sizes.values()) + sizes[damaged], sum(sizes.values())] if layout == "loose" \
        else [200 + 2 * sizes[damaged], 200]
    assert bars == {"Downloading": read, "Storing": [200, 200]}  # both bars move
    assert list(pulled.failed) == [damaged] and "hash to" in pulled.failed[damaged]
    assert pulled.transferred == 199 and not fresh.exists(damaged)
    for oid in set(sizes) - {damaged}:
        assert fresh.read_bytes(oid) == cache.read_bytes(oid)
    assert os.listdir(tmp_path / "b" / "tmp") == []  # the scratch file had no name


def test_a_staged_loose_object_damaged_on_the_way_is_read_again(tmp_path, monkeypatch):
    rounds = _staging_at_a_test_s_size(monkeypatch)
    cache, sizes = _cache_with(tmp_path, "a", 200)
    remote, blobs = _pushed(tmp_path, cache, sizes, "loose")
    victim = sorted(sizes)[3]
    reads_of_victim = []
    real_get = blobs.get

    def get(name: str, start: int = 0, end: int | None = None) -> bytes:
        data = real_get(name, start, end)
        if name == remote.oid_name(victim):
            reads_of_victim.append(name)
            if len(reads_of_victim) == 1:  # flipped once, on the way
                return bytes([data[0] ^ 0xFF]) + data[1:]
        return data

    monkeypatch.setattr(blobs, "get", get)
    fresh = LocalCache(str(tmp_path / "b"), "xxh128")
    pulled = transfer.download(remote, fresh, sizes, _settings(), sizes)
    assert pulled.transferred == 200 and not pulled.failed, pulled.failed
    assert sum(rounds) == 200 and len(reads_of_victim) == 2
    assert pulled.bytes == sum(sizes.values())
    assert fresh.read_bytes(victim) == cache.read_bytes(victim)


def test_staged_reads_from_a_remote_that_stopped_answering_stop_at_once(tmp_path, monkeypatch):
    _staging_at_a_test_s_size(monkeypatch)
    cache, sizes = _cache_with(tmp_path, "a", 400)
    remote, blobs = _pushed(tmp_path, cache, sizes, "loose")
    asked: list[str] = []

    def no_answer(name: str, start: int = 0, end: int | None = None) -> bytes:
        asked.append(name)
        raise TimeoutError("timed out waiting for an answer")

    monkeypatch.setattr(blobs, "get", no_answer)
    pulled = transfer.download(remote, LocalCache(str(tmp_path / "b"), "xxh128"), sizes,
                               _settings(), sizes)
    assert pulled.transferred == 0 and sorted(pulled.failed) == sorted(sizes)
    assert any("stopped answering" in why for why in pulled.failed.values())
    # The reads in flight when the first one timed out, then the retries of a few: not 400
    # requests, and not one per attempt of each object.
    assert len(asked) < len(sizes) // 4, len(asked)


def test_a_push_to_a_store_that_stopped_answering_asks_it_nothing_after_it(tmp_path,
                                                                            monkeypatch):
    cache, sizes = _cache_with(tmp_path, "a", 50, big=1)  # packs and a loose object
    blobs = _memory_blobs()
    remote = _remote(blobs, tmp_path, 1 << 20)
    asked: list[str] = []

    def no_answer(*args: object, **kwargs: object) -> None:
        asked.append(str(args[0]) if args else "")
        raise TimeoutError("timed out waiting for an answer")

    for name in ("put", "put_file", "get", "delete"):  # listing still answers, sending not
        monkeypatch.setattr(blobs, name, no_answer)
    pushed = transfer.upload(cache, remote, sizes, _settings(), sizes=sizes)
    assert pushed.transferred == 0 and len(pushed.failed) == len(sizes)
    first = len(asked)
    assert blobs.stalled is not None and "stopped answering" in blobs.stalled
    with pytest.raises(Exception, match="not attempted: the remote stopped answering"):
        remote.retried.names("indexes")  # a later step of the command (a lock, an index)
    again = transfer.upload(cache, remote, sizes, _settings(), sizes=sizes)
    assert all(why.startswith("not attempted") for why in again.failed.values()), again.failed
    assert len(asked) == first  # neither asked the store anything


def test_a_round_of_staged_reads_is_bounded_in_bytes_and_in_objects(monkeypatch):
    from dvx.remote import staging

    monkeypatch.setattr(staging, "STAGED_BYTES", 1000)
    monkeypatch.setattr(staging, "STAGED_ENTRIES", 10)

    def sizes_of_rounds(items, size_of, count_of=lambda item: 1):
        return [len(round_items) for round_items in staging.in_rounds(items, size_of, count_of)]

    assert sizes_of_rounds(range(25), lambda item: 1) == [10, 10, 5]  # tiny: ten objects a round
    assert sizes_of_rounds(range(25), lambda item: 400) == [3] * 8 + [1]  # 1000 bytes a round
    assert sizes_of_rounds(range(9), lambda read: 30, lambda read: 4) == [3, 3, 3]  # 4 per read
    assert sizes_of_rounds([], lambda item: 1) == []


@LAYOUTS
def test_a_read_that_cannot_be_staged_is_stored_as_it_arrives(tmp_path, monkeypatch, layout):
    from dvx.remote import staging

    rounds = _staging_at_a_test_s_size(monkeypatch)
    cache, sizes = _cache_with(tmp_path, "a", 200)
    remote, _ = _pushed(tmp_path, cache, sizes, layout)
    writes = [0]
    lock = threading.Lock()

    def second_write_fails(fd: int, data: bytes, offset: int) -> None:  # a disk full briefly
        with lock:
            writes[0] += 1
            failing = writes[0] == 2
        if failing:
            os.pwrite(fd, data[:10], offset)
            raise OSError(28, "No space left on device")
        os.pwrite(fd, data, offset)

    monkeypatch.setattr(staging, "pwrite_all", second_write_fails)
    fresh = LocalCache(str(tmp_path / "b"), "xxh128")
    pulled = transfer.download(remote, fresh, sizes, _settings(), sizes)
    assert pulled.transferred == 200 and not pulled.failed
    assert 0 < sum(rounds) < 200  # the others were staged, beside the bytes of the failed write
    for oid in sizes:
        assert fresh.read_bytes(oid) == cache.read_bytes(oid)


@LAYOUTS
def test_objects_of_a_few_kib_are_stored_as_their_reads_arrive(tmp_path, monkeypatch, layout):
    rounds = _staging_at_a_test_s_size(monkeypatch)
    cache = LocalCache(str(tmp_path / "a"), "xxh128")
    sizes = {cache.add_bytes(data): len(data)
             for data in (os.urandom(3000 + i) for i in range(40))}
    remote, _ = _pushed(tmp_path, cache, sizes, layout)
    pulled = transfer.download(remote, LocalCache(str(tmp_path / "b"), "xxh128"), sizes,
                               _settings(), sizes)
    assert pulled.transferred == 40 and not pulled.failed and sum(rounds) == 0


@pytest.mark.parametrize("threshold", [1 << 20, 0], ids=["packs", "loose"])
def test_transfers_on_a_faulty_store_retry_and_never_cache_damage(tmp_path, threshold):
    faults = tmp_path / "faults.json"
    cache, sizes = _cache_with(tmp_path, "a", 50, big=1)
    remote = _remote(_faulty_blobs(tmp_path, faults), tmp_path, threshold)
    faults.write_text(json.dumps({"fail_puts": 3, "fail_times": 2}))
    pushed = transfer.upload(cache, remote, sizes, _settings(retries=6), sizes=sizes)
    assert pushed.transferred == len(sizes) and not pushed.failed
    assert json.loads(faults.read_text())["fail_puts"] == 0  # the failures were met, and retried

    big = max(sizes, key=sizes.__getitem__)
    small = min(sizes, key=sizes.__getitem__)
    faults.write_text(json.dumps({"drop_times": 2, "drop_after_bytes": 10,
                                  "corrupt": [small] if threshold == 0 else []}))
    fresh = LocalCache(str(tmp_path / "b"), "xxh128")
    pulled = transfer.download(remote, fresh, sizes, _settings(), sizes)
    assert fresh.exists(big)  # the dropped connections were retried
    if threshold == 0:  # a loose object read damaged every time: named, never cached
        assert list(pulled.failed) == [small] and not fresh.exists(small)
        assert pulled.transferred == len(sizes) - 1
    else:
        assert not pulled.failed and pulled.transferred == len(sizes)


def _lose_indexes(blobs: Blobs) -> None:
    """Take away every blob of indexes/, the mark included, as a copy that missed it."""
    blobs.delete([f"indexes/{name}" for name in blobs.names("indexes")])


@pytest.mark.parametrize("kind", ["directory", "object store"])
def test_a_store_holding_packs_without_its_indexes_is_refused_not_read_as_empty(tmp_path,
                                                                                 kind):
    """Packs with neither an index nor the mark the first push of packs writes: the indexes
    were lost, and the inventory says so rather than that the remote holds nothing (which a
    pull would blame on whoever committed, and gc take the packs for left over); an empty
    store and one whose first push stopped before its index are read as holding nothing."""
    def store() -> RemoteStore:  # as a new command sees it, with no copies of indexes kept
        return _remote(blobs, tmp_path, 1 << 20)

    blobs = (DirectoryBlobs(str(tmp_path / "store")) if kind == "directory"
             else _memory_blobs())
    assert store().inventory.index_names() == []  # a brand-new remote
    cache, sizes = _cache_with(tmp_path, "a", 20)
    pushed = transfer.upload(cache, store(), sizes, _settings(), sizes=sizes)
    assert pushed.transferred == len(sizes) and not pushed.failed
    assert len(store().inventory.index_names()) == 1
    _lose_indexes(blobs)
    lost = store()
    with pytest.raises(RemoteError, match="holds packs, but its indexes/ folder is missing "
                                          "or empty") as raised:
        lost.inventory.index_names()
    assert "Put back the remote's indexes/ folder" in raised.value.hint
    with pytest.raises(RemoteError, match="holds packs"):
        lost.locate(sizes)
    packs = blobs.names("packs")
    with pytest.raises(RemoteError, match="holds packs"):  # no push on top of it either
        transfer.upload(cache, store(), sizes, _settings(), sizes=sizes)
    assert blobs.names("packs") == packs

    blobs.put("indexes/KEPT", b"")  # as a push that stopped after its pack leaves it
    assert store().inventory.index_names() == []


def test_gc_refuses_to_delete_packs_no_index_names_while_what_it_keeps_is_in_none(tmp_path):
    """Some indexes lost (the mark still there): the packs only they named look left over,
    but gc keeps objects no index names and that are not loose either, which those packs
    may hold: it deletes nothing and says to look at the remote."""
    from dvx.errors import DvxError
    from dvx.remote import repack

    blobs = DirectoryBlobs(str(tmp_path / "store"))
    remote = _remote(blobs, tmp_path, 1 << 20)
    first, first_sizes = _cache_with(tmp_path, "a", 10)
    second, second_sizes = _cache_with(tmp_path, "b", 10)
    assert not transfer.upload(first, remote, first_sizes, _settings(), sizes=first_sizes).failed
    kept = set(blobs.names("indexes"))
    assert not transfer.upload(second, remote, second_sizes, _settings(),
                               sizes=second_sizes).failed
    blobs.delete([f"indexes/{name}" for name in set(blobs.names("indexes")) - kept])
    packs = blobs.names("packs")
    live = set(first_sizes) | set(second_sizes)
    later = time.time() + 60  # every pack is older than the grace period
    lost = _remote(blobs, tmp_path, 1 << 20)
    with pytest.raises(DvxError, match="Nothing was deleted from the remote: 10 ") as raised:
        repack.plan(lost, live, later, set())
    assert "dvx fsck --remote" in raised.value.hint
    assert blobs.names("packs") == packs
    # what nothing keeps any more: the pack no index names goes
    assert len(repack.plan(lost, set(first_sizes), later, set()).unindexed) == 1
