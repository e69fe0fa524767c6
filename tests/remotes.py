"""Remotes for tests: every kind of remote dvx supports, each as a `RemoteSpec` that gives
dvx's view of it (URL and options) and raw access to its objects, plus the helpers that set a
repository up against one. The `remote` fixture is parametrized over every backend."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import git, write

BACKENDS = ["dir", "seaweedfs", "moto", "ssh", "gs", "azure"]
LAYOUTS = ["packs", "loose"]  # small objects in packs (the default), or every object alone


@dataclass
class RemoteSpec:
    """A remote as dvx sees it (url, options) plus raw access to what it stores, by key
    relative to the remote's root (`files/xxh128/ab/cdef...`, `packs/...`, `indexes/...`).
    The object-level helpers find an object loose or in a pack, reading the indexes with
    their own small parser (docs/formats.md, "Packs")."""
    url: str
    options: dict[str, str]
    get_key: Callable[[str], bytes]
    put_key: Callable[[str, bytes], None]
    list_keys: Callable[[], list[str]]  # every key under the remote root
    delete_key: Callable[[str], None]
    extra: dict[str, str] = field(default_factory=dict)
    layout: str = "packs"

    def list_raw(self) -> list[str]:
        return self.list_keys()

    def packed(self) -> dict[str, tuple[str, int, int]]:
        """oid -> (pack key, offset, length) for every object the indexes place in a pack."""
        found: dict[str, tuple[str, int, int]] = {}
        for key in self.list_keys():
            if not (key.startswith("indexes/") and key.endswith(".idx")):
                continue
            pack = None
            for line in self.get_key(key).decode().splitlines()[1:]:
                words = line.split()
                if words[0] == "pack":
                    pack = f"packs/{words[1]}"
                elif words[0] == "loose":
                    pack = None
                elif pack is not None:
                    found.setdefault(words[0], (pack, int(words[1]), int(words[2])))
        return found

    def loose(self) -> set[str]:
        found = set()
        for key in self.list_keys():
            parts = key.split("/")
            if len(parts) == 4 and parts[0] == "files" and not parts[-1].startswith("."):
                found.add(parts[-2] + parts[-1])
        return found

    def oids(self) -> set[str]:
        return self.loose() | set(self.packed())

    @staticmethod
    def loose_key(oid: str) -> str:
        return f"files/xxh128/{oid[:2]}/{oid[2:]}"

    def read_raw(self, oid: str) -> bytes:
        if oid in self.loose():
            return self.get_key(self.loose_key(oid))
        pack, offset, length = self.packed()[oid]
        return self.get_key(pack)[offset:offset + length]

    def write_raw(self, oid: str, data: bytes) -> None:
        """Replace an object's stored bytes: a loose object by `data`; a packed one in place,
        by `data` cut or padded with zero bytes to its length (a pack's layout stays)."""
        if oid in self.loose() or oid not in self.packed():
            self.put_key(self.loose_key(oid), data)
            return
        pack, offset, length = self.packed()[oid]
        whole = self.get_key(pack)
        piece = (data + bytes(length))[:length]
        self.put_key(pack, whole[:offset] + piece + whole[offset + length:])

    def stored_at(self, oid: str) -> str:
        """The key of the file that holds an object: its own, or its pack's."""
        if oid in self.loose():
            return self.loose_key(oid)
        return self.packed()[oid][0]

    def delete_raw(self, oid: str) -> None:
        self.delete_key(self.loose_key(oid))


@pytest.fixture(autouse=True)
def _no_ambient_aws(monkeypatch):
    for name in ("AWS_DEFAULT_REGION", "AWS_REGION", "AWS_PROFILE", "AWS_CONFIG_FILE",
                 "AWS_SHARED_CREDENTIALS_FILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                 "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)


def local_spec(root: Path, url: str, options: dict[str, str]) -> RemoteSpec:
    def put_key(key: str, data: bytes) -> None:
        p = root / key
        p.parent.mkdir(parents=True, exist_ok=True)
        if p.exists():
            os.chmod(p, 0o644)
        p.write_bytes(data)

    return RemoteSpec(url, options, lambda key: (root / key).read_bytes(), put_key,
                      lambda: [p.relative_to(root).as_posix() for p in root.rglob("*")
                               if p.is_file()] if root.exists() else [],
                      lambda key: (root / key).unlink())


def _s3_spec(server: dict[str, str], request: pytest.FixtureRequest) -> RemoteSpec:
    """A fresh bucket on `server`, dropped when the test ends: SeaweedFS gives every bucket a
    volume of its own, and a session's worth of leftover buckets would use up its volume slots."""
    import boto3

    client = boto3.client("s3", endpoint_url=server["endpoint_url"],
                          aws_access_key_id=server["key"],
                          aws_secret_access_key=server["secret"], region_name="us-east-1")
    bucket = f"t-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=bucket)
    request.addfinalizer(lambda: _drop_bucket(client, bucket))

    def list_keys() -> list[str]:
        keys: list[str] = []
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket,
                                                                     Prefix="project/"):
            keys += [item["Key"][len("project/"):] for item in page.get("Contents", [])]
        return keys

    return RemoteSpec(
        f"s3://{bucket}/project",
        {"endpointurl": server["endpoint_url"], "access_key_id": server["key"],
         "secret_access_key": server["secret"]},
        lambda key: client.get_object(Bucket=bucket, Key=f"project/{key}")["Body"].read(),
        lambda key, data: client.put_object(Bucket=bucket, Key=f"project/{key}", Body=data),
        list_keys,
        lambda key: client.delete_object(Bucket=bucket, Key=f"project/{key}"),
        {"secret": server["secret"], "server": server["name"]})


def _drop_bucket(client, bucket: str) -> None:
    try:
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
            if keys:
                client.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
        client.delete_bucket(Bucket=bucket)
    except Exception:  # a server a test stopped or broke keeps its bucket
        pass


def _gcs_spec(server: dict[str, str], request: pytest.FixtureRequest) -> RemoteSpec:
    """A fresh bucket on fake-gcs-server, reached through GCS's JSON API with plain HTTP
    requests (not through gcsfs, the library under test), dropped when the test ends."""
    endpoint = server["endpoint_url"]
    bucket = f"t-{uuid.uuid4().hex[:12]}"

    def call(method: str, path: str, data: bytes | None = None, **params: str) -> bytes:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        req = urllib.request.Request(f"{endpoint}{path}{query}", data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/octet-stream")
        with urllib.request.urlopen(req, timeout=30) as resp:
            return bytes(resp.read())

    def name(key: str) -> str:
        return urllib.parse.quote(f"project/{key}", safe="")

    def list_keys(prefix: str = "project/") -> list[str]:
        keys: list[str] = []
        token = ""
        while True:
            page = json.loads(call("GET", f"/storage/v1/b/{bucket}/o", prefix=prefix,
                                   **({"pageToken": token} if token else {})))
            keys += [item["name"][len(prefix):] for item in page.get("items", [])]
            token = page.get("nextPageToken", "")
            if not token:
                return keys

    def drop() -> None:
        try:
            for key in list_keys(""):
                call("DELETE", f"/storage/v1/b/{bucket}/o/{urllib.parse.quote(key, safe='')}")
            call("DELETE", f"/storage/v1/b/{bucket}")
        except Exception:  # a server a test stopped or broke keeps its bucket
            pass

    def put_key(key: str, data: bytes) -> None:
        call("POST", f"/upload/storage/v1/b/{bucket}/o", data, uploadType="media",
             name=f"project/{key}")

    def delete_key(key: str) -> None:
        call("DELETE", f"/storage/v1/b/{bucket}/o/{name(key)}")

    call("POST", "/storage/v1/b", json.dumps({"name": bucket}).encode(), project="test")
    request.addfinalizer(drop)
    return RemoteSpec(
        f"gs://{bucket}/project", {"endpointurl": endpoint, "anonymous": "true"},
        lambda key: call("GET", f"/storage/v1/b/{bucket}/o/{name(key)}", alt="media"),
        put_key, list_keys, delete_key, {"server": server["name"]})


def _azure_spec(server: dict[str, str], request: pytest.FixtureRequest) -> RemoteSpec:
    """A fresh container on Azurite, reached with Azure's own blob client, dropped when the
    test ends."""
    from azure.storage.blob import BlobServiceClient

    service = BlobServiceClient.from_connection_string(server["connection_string"])
    container = service.create_container(f"t-{uuid.uuid4().hex[:12]}")

    def drop() -> None:
        with contextlib.suppress(Exception):  # a server a test stopped or broke keeps it
            container.delete_container()

    def put_key(key: str, data: bytes) -> None:
        container.upload_blob(f"project/{key}", data, overwrite=True)

    request.addfinalizer(drop)
    return RemoteSpec(
        f"azure://{container.container_name}/project",
        {"connection_string": server["connection_string"]},
        lambda key: container.download_blob(f"project/{key}").readall(), put_key,
        lambda: [blob.name[len("project/"):]
                 for blob in container.list_blobs(name_starts_with="project/")],
        lambda key: container.delete_blob(f"project/{key}"),
        # the account key is public (Azurite's development account), but a secret to dvx
        {"secret": server["key"], "server": server["name"]})


def remote_for(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> RemoteSpec:
    if kind == "dir":
        return local_spec(tmp_path / "store", str(tmp_path / "store"), {})
    if kind == "seaweedfs":
        return _s3_spec(request.getfixturevalue("seaweed_s3"), request)
    if kind == "moto":  # moto accepts any credentials: use a secret unlike anything else
        return _s3_spec({**request.getfixturevalue("moto_s3"), "secret": uuid.uuid4().hex},
                        request)
    if kind == "gs":
        return _gcs_spec(request.getfixturevalue("fake_gcs"), request)
    if kind == "azure":
        return _azure_spec(request.getfixturevalue("azurite"), request)
    server = request.getfixturevalue("sshd")
    root = tmp_path / "ssh-store"
    url = f"ssh://{server['user']}@{server['host']}:{server['port']}{root}"
    return local_spec(root, url, {"keyfile": server["keyfile"],
                                   "known_hosts": server["known_hosts"]})


@pytest.fixture(params=[(kind, layout) for kind in BACKENDS for layout in LAYOUTS],
                ids=lambda param: "-".join(param))
def remote(request, tmp_path) -> RemoteSpec:
    """Every backend, with small objects in packs and with every object loose."""
    kind, layout = request.param
    spec = remote_for(kind, request, tmp_path)
    spec.layout = layout
    if layout == "loose":
        spec.options = {**spec.options, "pack_threshold": "0"}
    return spec


def configure(dvx, repo: Path, spec: RemoteSpec, name: str = "r") -> None:
    assert dvx("remote", "add", "-d", name, spec.url, cwd=repo).code == 0
    for key, value in spec.options.items():
        result = dvx("remote", "modify", name, key, value, cwd=repo)
        assert result.code == 0, result.output


def make_dataset(repo: Path) -> None:
    for i in range(25):
        write(repo / "data" / "images" / f"{i:02d}.bin", os.urandom(500 + 97 * i))
    write(repo / "data" / "images" / "copy.bin", (repo / "data/images/00.bin").read_bytes())
    write(repo / "data" / "empty.txt", b"")
    write(repo / "model.pt", os.urandom(300_000))


def commit_all(repo: Path, message: str = "data") -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", message)


def clone(repo: Path, tmp_path: Path, name: str = "clone") -> Path:
    target = tmp_path / name
    git(tmp_path, "clone", "-q", str(repo), str(target))
    local = repo / ".dvx" / "config.local"
    if local.exists():  # credentials are per machine: the clone gets its own copy
        shutil.copy(local, target / ".dvx" / "config.local")
    return target


def pointer_oid(path: Path, rev: str | None = None) -> str:
    """The oid the pointer file at `path` records: in the workspace, or at the revision
    `rev` of the repository holding it."""
    text = path.read_text() if rev is None else git(path.parent, "show", f"{rev}:./{path.name}")
    return next(line.split(": ")[1].strip('"') for line in text.splitlines()
                if line.startswith("oid: "))
