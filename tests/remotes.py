"""Remotes for tests: every kind of remote dvx supports, each as a `RemoteSpec` that gives
dvx's view of it (URL and options) and raw access to its objects, plus the helpers that set a
repository up against one. The `remote` fixture is parametrized over every backend."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import git, write

BACKENDS = ["dir", "seaweedfs", "moto", "ssh"]


@dataclass
class RemoteSpec:
    """A remote as dvx sees it (url, options) plus raw access to its objects for the test."""
    url: str
    options: dict[str, str]
    read_raw: Callable[[str], bytes]
    write_raw: Callable[[str, bytes], None]
    list_raw: Callable[[], list[str]]  # every object key/path under the remote root
    extra: dict[str, str] = field(default_factory=dict)
    delete_raw: Callable[[str], None] = lambda oid: None

    def oids(self) -> set[str]:
        found = set()
        for key in self.list_raw():
            parts = key.split("/")
            if len(parts) >= 3 and parts[-3] == "xxh128" and not parts[-1].startswith("."):
                found.add(parts[-2] + parts[-1])
        return found


@pytest.fixture(autouse=True)
def _no_ambient_aws(monkeypatch):
    for name in ("AWS_DEFAULT_REGION", "AWS_REGION", "AWS_PROFILE", "AWS_CONFIG_FILE",
                 "AWS_SHARED_CREDENTIALS_FILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                 "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)


def _local_spec(root: Path, url: str, options: dict[str, str]) -> RemoteSpec:
    def path(oid: str) -> Path:
        return root / "files" / "xxh128" / oid[:2] / oid[2:]

    def write_raw(oid: str, data: bytes) -> None:
        p = path(oid)
        if p.exists():
            os.chmod(p, 0o644)
        p.write_bytes(data)

    return RemoteSpec(url, options, lambda oid: path(oid).read_bytes(), write_raw,
                      lambda: [p.relative_to(root).as_posix() for p in root.rglob("*")
                               if p.is_file()],
                      delete_raw=lambda oid: path(oid).unlink())


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

    def key(oid: str) -> str:
        return f"project/files/xxh128/{oid[:2]}/{oid[2:]}"

    def list_raw() -> list[str]:
        keys: list[str] = []
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            keys += [item["Key"] for item in page.get("Contents", [])]
        return keys

    return RemoteSpec(
        f"s3://{bucket}/project",
        {"endpointurl": server["endpoint_url"], "access_key_id": server["key"],
         "secret_access_key": server["secret"]},
        lambda oid: client.get_object(Bucket=bucket, Key=key(oid))["Body"].read(),
        lambda oid, data: client.put_object(Bucket=bucket, Key=key(oid), Body=data),
        list_raw, {"secret": server["secret"], "server": server["name"]},
        delete_raw=lambda oid: client.delete_object(Bucket=bucket, Key=key(oid)))


def _drop_bucket(client, bucket: str) -> None:
    try:
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
            if keys:
                client.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
        client.delete_bucket(Bucket=bucket)
    except Exception:  # a server a test stopped or broke keeps its bucket
        pass


@pytest.fixture(params=BACKENDS)
def remote(request, tmp_path) -> RemoteSpec:
    kind = request.param
    if kind == "dir":
        return _local_spec(tmp_path / "store", str(tmp_path / "store"), {})
    if kind == "seaweedfs":
        return _s3_spec(request.getfixturevalue("seaweed_s3"), request)
    if kind == "moto":  # moto accepts any credentials: use a secret unlike anything else
        return _s3_spec({**request.getfixturevalue("moto_s3"), "secret": uuid.uuid4().hex},
                        request)
    server = request.getfixturevalue("sshd")
    root = tmp_path / "ssh-store"
    url = f"ssh://{server['user']}@{server['host']}:{server['port']}{root}"
    return _local_spec(root, url, {"keyfile": server["keyfile"],
                                   "known_hosts": server["known_hosts"]})


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


def pointer_oid(path: Path) -> str:
    return next(line.split(": ")[1].strip('"') for line in path.read_text().splitlines()
                if line.startswith("oid: "))
