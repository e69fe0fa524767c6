"""Remotes whose credentials allow only part of what dvx does (an append-only CI key that may
not delete, a read-only key), on a moto server that enforces IAM policies (and on Azurite,
which enforces a SAS's permissions, and fake-gcs-server behind a proxy answering as GCS
does): a command refused a step says so as the remote's refusal, and leaves nothing
half-done behind."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import xxhash

from tests.conftest import dvx_unprivileged, git, run_dvx, write
from tests.remotes import RemoteSpec, configure, remote_for
from tests.servers import azurite_without_delete, gcs_without_delete


def oid_of(data: bytes) -> str:
    return xxhash.xxh3_128_hexdigest(data)


@pytest.fixture(autouse=True)
def _no_ambient_aws(monkeypatch):
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)


class Bucket:
    """The remote's folder in moto_iam's bucket, seen with the admin's key."""

    def __init__(self, server: dict[str, Any]) -> None:
        import boto3

        key, secret = server["keys"]["admin"]
        self.client = boto3.client("s3", endpoint_url=server["endpoint_url"],
                                   aws_access_key_id=key, aws_secret_access_key=secret,
                                   region_name="us-east-1")
        self.name = server["bucket"]
        self.prefix = f"p-{uuid.uuid4().hex[:12]}"

    def listed(self, folder: str = "") -> list[str]:
        found = self.client.list_objects_v2(Bucket=self.name, Prefix=f"{self.prefix}/{folder}")
        return sorted(item["Key"][len(self.prefix) + 1:] for item in found.get("Contents", []))


def _remote(repo: Path, server: dict[str, Any], user: str, bucket: Bucket) -> None:
    """The default remote `storage`, used with the key of `user`."""
    for args in (("remote", "add", "-d", "storage", f"s3://{bucket.name}/{bucket.prefix}"),
                 ("remote", "modify", "storage", "endpointurl", server["endpoint_url"])):
        assert run_dvx(*args, cwd=repo).code == 0
    _use_key(repo, server, user)


def _use_key(repo: Path, server: dict[str, Any], user: str) -> None:
    key, secret = server["keys"][user]
    for option, value in (("access_key_id", key), ("secret_access_key", secret)):
        assert run_dvx("remote", "modify", "--local", "storage", option, value,
                       cwd=repo).code == 0


def _pushed_then_untracked(repo, dvx) -> None:
    """20 files pushed (more than are deleted one request each), then no longer tracked and
    committed so: all unused, for gc to delete."""
    for i in range(20):
        write(repo / f"f{i}.txt", f"old {i}")
    assert dvx("add", *[f"f{i}.txt" for i in range(20)]).code == 0
    assert dvx("push").code == 0
    for i in range(20):
        assert dvx("remove", f"f{i}.txt.dvx").code == 0
        (repo / f"f{i}.txt").unlink()
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "nothing tracked")


def test_gc_with_a_key_that_may_not_delete_stops_before_deleting_anything(repo, dvx,
                                                                          moto_iam):
    bucket = Bucket(moto_iam)
    _remote(repo, moto_iam, "admin", bucket)
    assert dvx("remote", "modify", "storage", "pack_threshold", "0").code == 0  # loose
    _pushed_then_untracked(repo, dvx)
    cached = sorted((repo / ".dvx/cache").rglob("*"))
    before = bucket.listed()
    _use_key(repo, moto_iam, "nodelete")

    refused = dvx("gc", "-w", "-c", "storage", "--grace", "0", "-f")
    assert refused.code == 1, refused.output
    assert "The remote 'storage'" in refused.stderr and "refused access" in refused.stderr
    assert "may not delete" in refused.stderr and "Nothing was deleted" in refused.stderr
    assert "permissions" not in refused.stderr  # no local file's
    # Nothing deleted anywhere, and no gc lock or index of its own left on the remote: only
    # the clock probe it could not delete (which goes stale, like a lock).
    assert sorted((repo / ".dvx/cache").rglob("*")) == cached
    after = bucket.listed()
    assert [key for key in after if key not in before
            ] == [key for key in after if key.startswith("locks/clock-")]
    assert len(after) == len(before) + 1

    dry = dvx("gc", "-w", "-c", "storage", "--grace", "0", "--dry-run")
    assert dry.code == 0 and "may not delete" in dry.stderr and "20" in dry.stdout
    _use_key(repo, moto_iam, "admin")
    done = dvx("gc", "-w", "-c", "storage", "--grace", "0", "-f")
    assert done.code == 0, done.output
    assert [key for key in bucket.listed() if key.startswith("files/")] == []


@contextlib.contextmanager
def _may_not_delete(kind: str, spec: RemoteSpec, request: pytest.FixtureRequest
                    ) -> Iterator[dict[str, str]]:
    """Options of the remote `spec` with credentials that may read, list and write there
    but not delete: on Azurite, a SAS without d (which it enforces); on fake-gcs-server,
    which checks no credentials, GCS's answer to them from a proxy in front of it."""
    if kind == "azure":
        yield {"connection_string": azurite_without_delete(request.getfixturevalue(
            "azurite"), urlsplit(spec.url).netloc)}
        return
    with gcs_without_delete(spec.options["endpointurl"]) as proxy:
        yield {"endpointurl": proxy}


@pytest.mark.parametrize("kind", ["gs", "azure"])
def test_gc_on_gcs_or_azure_with_credentials_that_may_not_delete_stops_before_deleting(
        repo, dvx, kind, request, tmp_path):
    spec = remote_for(kind, request, tmp_path)
    spec.options = {**spec.options, "pack_threshold": "0"}  # loose
    configure(dvx, repo, spec, "storage")
    _pushed_then_untracked(repo, dvx)
    cached = sorted((repo / ".dvx/cache").rglob("*"))
    before = sorted(spec.list_keys())

    with _may_not_delete(kind, spec, request) as options:
        for option, value in options.items():
            assert dvx("remote", "modify", "storage", option, value).code == 0
        refused = dvx("gc", "-w", "-c", "storage", "--grace", "0", "-f")
        assert refused.code == 1, refused.output
        assert "The remote 'storage'" in refused.stderr and "refused access" in refused.stderr
        assert "may not delete" in refused.stderr and "Nothing was deleted" in refused.stderr
        assert {"gs": "storage.objects.delete",
                "azure": "AuthorizationPermissionMismatch"}[kind] in refused.stderr
        assert {"gs": "right to delete there (on GCS: storage.objects.delete)",
                "azure": "right to delete there (on Azure: a SAS with the d (delete) "
                         "permission"}[kind] in refused.stderr
        # Nothing deleted anywhere: on the remote, only the clock probe it could not delete.
        assert sorted((repo / ".dvx/cache").rglob("*")) == cached
        after = sorted(spec.list_keys())
        assert [key for key in after if key not in before] == [
            key for key in after if key.startswith("locks/clock-")]
        assert len(after) == len(before) + 1

        dry = dvx("gc", "-w", "-c", "storage", "--grace", "0", "--dry-run")
        assert dry.code == 0 and "may not delete" in dry.stderr and "20" in dry.stdout

    for option in options:  # back to credentials that may delete
        assert dvx("remote", "modify", "storage", option, spec.options[option]).code == 0
    done = dvx("gc", "-w", "-c", "storage", "--grace", "0", "-f")
    assert done.code == 0, done.output
    assert [key for key in spec.list_keys() if key.startswith("files/")] == []


def test_a_push_with_a_key_that_may_not_delete_merges_no_indexes_and_says_so(repo, dvx,
                                                                             moto_iam,
                                                                             monkeypatch):
    """A merge publishes one index for all, then deletes those it replaces: refused that,
    every push would add a copy of all the others. And the push's own lock, which it may not
    delete either, is named as left behind for that reason."""
    from dvx.remote import packed

    bucket = Bucket(moto_iam)
    _remote(repo, moto_iam, "nodelete", bucket)
    for i in range(3):
        write(repo / f"f{i}.txt", f"pushed {i}")
        assert dvx("add", f"f{i}.txt").code == 0
        assert dvx("push").code == 0
    indexes = bucket.listed("indexes/")
    monkeypatch.setattr(packed, "MAX_INDEXES", 2)
    write(repo / "last.txt", "last")
    assert dvx("add", "last.txt").code == 0

    pushed = dvx("push")
    assert pushed.code == 0, pushed.output
    assert "may not delete there" in pushed.stderr and "not merged" in pushed.stderr
    added = [name for name in bucket.listed("indexes/") if name not in indexes]
    assert len(added) == 1  # the push's own, and no merged copy of them all
    left = [line for line in pushed.stderr.splitlines() if "Left the lock" in line]
    assert len(left) == 1 and "may not delete" in left[0] and "gc --remote" in left[0]


def test_a_push_with_a_read_only_key_says_only_that_it_could_not_write_its_lock(repo, dvx,
                                                                               moto_iam):
    """The lock's write is refused, so no lock was stored: none is said to be left behind,
    holding up gc elsewhere (its delete, refused too, is no such sign)."""
    bucket = Bucket(moto_iam)
    _remote(repo, moto_iam, "readonly", bucket)
    write(repo / "f.txt", "pushed")
    assert dvx("add", "f.txt").code == 0

    refused = dvx("push")
    assert refused.code == 1, refused.output
    assert "Could not write a lock on remote 'storage'" in refused.stderr
    assert "dvx cannot write there" in refused.stderr
    assert "Left the lock" not in refused.stderr and "left behind" not in refused.stderr
    assert "Traceback" not in refused.stderr
    assert bucket.listed() == []


def test_fsck_with_a_read_only_key_reports_a_damaged_pack_and_changes_nothing(repo, dvx,
                                                                             moto_iam):
    bucket = Bucket(moto_iam)
    _remote(repo, moto_iam, "admin", bucket)
    write(repo / "small.txt", "packed")
    assert dvx("add", "small.txt").code == 0
    assert dvx("push").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "v1")
    [pack] = bucket.listed("packs/")
    key = f"{bucket.prefix}/{pack}"
    data = bucket.client.get_object(Bucket=bucket.name, Key=key)["Body"].read()
    bucket.client.put_object(Bucket=bucket.name, Key=key, Body=data[:-3] + b"XXX")  # bit rot
    before = bucket.listed()
    _use_key(repo, moto_iam, "readonly")

    checked = dvx("fsck", "--remote", "storage", "--json")
    assert checked.code == 1, checked.output
    assert [c["oid"] for c in json.loads(checked.stdout)["corrupt"]] == [oid_of(b"packed")]
    assert bucket.listed() == before  # no lock, no index rewritten

    told = dvx("fsck", "--remote", "storage")
    assert told.code == 1 and f"Corrupt {oid_of(b'packed')}" in told.stderr
    assert "may not be written with these credentials: nothing was moved aside" in told.stderr
    assert ("`dvx fsck --remote storage`, then `dvx push --repair -r storage` repair it"
            in " ".join(told.stderr.split())), told.stderr
    _use_key(repo, moto_iam, "admin")  # credentials that may write: the hint, pasted
    dvx("fsck", "--remote", "storage")
    assert dvx("push", "--repair", "-r", "storage").code == 0
    assert dvx("fsck", "--remote", "storage").code == 0


def test_fsck_of_a_folder_this_user_may_only_read_reports_a_corrupt_object(repo, dvx,
                                                                         tmp_path):
    store = tmp_path / "store"
    assert dvx("remote", "add", "-d", "storage", str(store)).code == 0
    write(repo / "big.bin", os.urandom(1_500_000))  # a loose object on the remote
    assert dvx("add", "big.bin").code == 0
    assert dvx("push").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "v1")
    [loose] = (store / "files").rglob("*/*/*")
    with open(loose, "r+b") as f:  # bit rot
        f.seek(100)
        f.write(b"XXXX")
    oid = loose.parent.name + loose.name
    subprocess.run(["chmod", "-R", "a-w", str(store)], check=True)  # a read-only share
    try:
        checked = dvx_unprivileged(repo, "fsck", "--remote", "storage", "--json")
        told = dvx_unprivileged(repo, "fsck", "--remote", "storage")
    finally:
        subprocess.run(["chmod", "-R", "u+w", str(store)], check=True)
    assert checked.returncode == 1, checked.stderr
    assert [c["oid"] for c in json.loads(checked.stdout)["corrupt"]] == [oid]
    assert f"Corrupt {oid}" in told.stderr and "nothing was moved aside" in told.stderr
    assert told.returncode == 1 and loose.exists() and not (store / "quarantine").exists()


def test_a_push_refused_a_folder_of_the_remote_names_that_folder(repo, dvx, tmp_path):
    store = tmp_path / "store"
    assert dvx("remote", "add", "-d", "storage", str(store)).code == 0
    write(repo / "a.bin", os.urandom(1_500_000))
    assert dvx("add", "a.bin").code == 0
    assert dvx("push").code == 0
    objects = store / "files" / "xxh128"
    write(repo / "b.bin", os.urandom(1_500_000))  # a loose object, in a folder of its own
    assert dvx("add", "b.bin").code == 0
    objects.chmod(0o555)  # nobody may add to it
    try:
        pushed = dvx_unprivileged(repo, "push")
    finally:
        objects.chmod(0o755)
    assert pushed.returncode == 1
    [failed] = [line for line in pushed.stderr.splitlines() if line.startswith("Failed b.bin")]
    assert "Permission denied" in failed and str(objects) in failed, failed


@pytest.mark.parametrize("command", ["fetch", "pull"])
def test_a_fetch_into_a_cache_folder_it_may_not_write_in_is_refused_naming_it(
        repo, dvx, tmp_path, command):
    """A cache whose folder this user may not write in (another user's, mode 555): fetch and
    pull refuse before asking the remote for anything, naming that folder from the current
    directory with the chmod that lets dvx write there, rather than failing each object for
    it; once it may, the same command brings everything."""
    assert dvx("remote", "add", "-d", "storage", str(tmp_path / "store")).code == 0
    write(repo / "data" / "a.bin", "a")
    write(repo / "data" / "d" / "b", "b")
    assert dvx("add", "data/a.bin", "data/d").code == 0
    assert dvx("push").code == 0
    cache = repo / ".dvx" / "cache"
    subprocess.run(["rm", "-rf", str(cache / "files"), str(repo / "data" / "a.bin"),
                    str(repo / "data" / "d")], check=True)
    cache.chmod(0o555)
    try:
        refused = dvx_unprivileged(repo / "data", command)
    finally:
        cache.chmod(0o755)
    assert refused.returncode == 1, refused.stderr
    assert refused.stderr == (
        "ERROR: dvx may not write in the folder '../.dvx/cache' (Permission denied). Nothing "
        "was left half-written; let dvx write there (`chmod u+w ../.dvx/cache`, as its owner) "
        "and run the command again.\n")
    assert not (cache / "files").exists()
    assert dvx("pull").code == 0
    assert (repo / "data" / "d" / "b").read_text() == "b"
