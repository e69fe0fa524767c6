"""One behavioural contract, run against every kind of remote: a directory, two real S3
servers (SeaweedFS and moto), a real sshd, the GCS and Azure Blob emulators fake-gcs-server and
Azurite, and a fault-injecting filesystem."""

from __future__ import annotations

import json
import os

import xxhash

from dvx.objects.layout import INDEXES_MARK, INDEXES_MARK_TEXT
from tests.conftest import run_dvx_proc, tree_bytes, write
from tests.remotes import clone, commit_all, configure, make_dataset, pointer_oid


def test_round_trip_is_byte_exact_and_push_is_idempotent(repo, dvx, tmp_path, remote):
    make_dataset(repo)
    dvx("add", "data", "model.pt")
    configure(dvx, repo, remote)
    commit_all(repo)
    first = dvx("push", "--json")
    assert first.code == 0, first.output
    summary = json.loads(first.stdout)
    # 26 distinct files, the manifest of data/, and model.pt
    assert summary["failed"] == [] and summary["transferred"] == 28
    again = json.loads(dvx("push", "--json").stdout)
    assert (again["transferred"], again["already_there"]) == (0, 28)
    for oid in remote.oids():
        assert xxhash.xxh3_128_hexdigest(remote.read_raw(oid)) == oid
    target = clone(repo, tmp_path)
    pulled = dvx("pull", cwd=target)
    assert pulled.code == 0, pulled.output
    assert tree_bytes(target / "data") == tree_bytes(repo / "data")
    assert (target / "model.pt").read_bytes() == (repo / "model.pt").read_bytes()


def test_status_remote_and_granular_pull(repo, dvx, tmp_path, remote):
    make_dataset(repo)
    configure(dvx, repo, remote)
    assert dvx("push").code == 0  # nothing tracked yet: it makes the remote, empty
    dvx("add", "data", "model.pt")
    before = json.loads(dvx("status", "--remote", "--json").stdout)
    assert before["in_sync"] is False and len(before["missing_on_remote"]) == 28
    assert dvx("status", "--remote", "-q").code == 1
    assert dvx("status", "-c", "-q").code == 1  # DVC's names for --remote
    assert dvx("status", "--cloud", "-q").code == 1
    dvx("push")
    assert json.loads(dvx("status", "--remote", "--json").stdout)["in_sync"] is True
    commit_all(repo)
    target = clone(repo, tmp_path)
    lacking = json.loads(dvx("status", "--remote", "--json", cwd=target).stdout)
    assert [row["path"] for row in lacking["missing_in_cache"]] == ["data", "model.pt"]
    result = dvx("pull", "data/images/07.bin", cwd=target)
    assert result.code == 0, result.output
    assert (target / "data/images/07.bin").read_bytes() == (
        repo / "data/images/07.bin").read_bytes()
    assert not (target / "data/images/08.bin").exists() and not (target / "model.pt").exists()


def test_empty_and_multipart_sized_objects(repo, dvx, tmp_path, remote):
    write(repo / "empty", b"")
    big = os.urandom(12 << 20)  # above the 5 MiB part size set below: a multipart upload
    write(repo / "big.bin", big)
    dvx("add", "empty", "big.bin")
    configure(dvx, repo, remote)
    if remote.url.startswith("s3://"):
        assert dvx("remote", "modify", "r", "chunksize", str(5 << 20)).code == 0
    assert dvx("push").code == 0
    assert remote.read_raw(xxhash.xxh3_128_hexdigest(big)) == big
    assert remote.read_raw(xxhash.xxh3_128_hexdigest(b"")) == b""
    commit_all(repo)
    target = clone(repo, tmp_path)
    assert dvx("pull", cwd=target).code == 0
    assert (target / "big.bin").read_bytes() == big and (target / "empty").read_bytes() == b""


def test_corrupt_and_truncated_objects_are_caught_then_repaired(repo, dvx, tmp_path, remote):
    make_dataset(repo)
    dvx("add", "data", "model.pt")
    configure(dvx, repo, remote)
    dvx("push")
    commit_all(repo)
    model = pointer_oid(repo / "model.pt.dvx")
    image = xxhash.xxh3_128_hexdigest((repo / "data/images/03.bin").read_bytes())
    good = remote.read_raw(model)
    remote.write_raw(model, good[:1000])  # truncated
    stored = remote.read_raw(image)
    # One byte flipped (every bit of it: an "X" written over random data is a no-op 1 in 256).
    remote.write_raw(image, bytes([stored[0] ^ 0xFF]) + stored[1:])

    target = clone(repo, tmp_path)
    pulled = dvx("pull", cwd=target)
    assert pulled.code == 1
    # A packed object is damaged in place (its pack keeps its layout): it reads as corrupt.
    assert model in pulled.stderr and ("truncated" if remote.layout == "loose" else
                                       "corrupt") in pulled.stderr
    assert image in pulled.stderr and "corrupt" in pulled.stderr
    assert "Traceback" not in pulled.output
    assert not (target / "model.pt").exists() and not (target / "data/images/03.bin").exists()
    intact = "data/images/04.bin"
    assert (target / intact).read_bytes() == (repo / intact).read_bytes()
    cached = {p.parent.name + p.name for p in (target / ".dvx/cache/files").rglob("*")
              if p.is_file()}
    assert model not in cached and image not in cached

    found = dvx("fsck", "--remote", "r", "--json", cwd=target)
    assert found.code == 1
    assert {row["oid"] for row in json.loads(found.stdout)["corrupt"]} == {model, image}
    assert model not in remote.oids()  # moved aside (loose) or out of the indexes (packed)
    if remote.layout == "loose":
        assert any("quarantine" in key for key in remote.list_raw())
    repaired = dvx("push", "--repair")
    assert repaired.code == 0, repaired.output
    assert remote.read_raw(model) == good
    again = dvx("pull", cwd=target)
    assert again.code == 0, again.output
    assert (target / "model.pt").read_bytes() == good
    assert dvx("fsck", "--remote", "r", cwd=target).code == 0


def test_interrupted_push_and_pull_converge(repo, dvx, tmp_path, remote):
    make_dataset(repo)
    dvx("add", "data", "model.pt")
    configure(dvx, repo, remote)
    commit_all(repo)
    # Killed after six objects, or (packs) after the pack of the files but before its index.
    fault = "transfer.after_object:6" if remote.layout == "loose" else "packs.after_pack"
    killed = run_dvx_proc("push", "-j", "2", cwd=repo, env={"DVX_FAULT": fault})
    assert killed.code == -9, killed.output
    manifest = pointer_oid(repo / "data.dvx")
    assert manifest not in remote.oids()  # never a manifest before all of its files
    if remote.layout == "packs":  # a pack no index names yet: not part of the remote
        assert remote.oids() <= {pointer_oid(repo / "model.pt.dvx")}
        assert any(key.startswith("packs/") for key in remote.list_raw())
    for oid in remote.oids():
        assert xxhash.xxh3_128_hexdigest(remote.read_raw(oid)) == oid
    assert dvx("push").code == 0
    assert manifest in remote.oids()

    target = clone(repo, tmp_path)
    killed = run_dvx_proc("pull", "-j", "2", cwd=target,
                          env={"DVX_FAULT": "transfer.after_object:8"})
    assert killed.code == -9
    for obj in (target / ".dvx/cache/files").rglob("*"):
        if obj.is_file():
            assert xxhash.xxh3_128_hexdigest(obj.read_bytes()) == obj.parent.name + obj.name
    assert dvx("pull", cwd=target).code == 0
    assert tree_bytes(target / "data") == tree_bytes(repo / "data")


def test_secrets_stay_local_and_out_of_messages(repo, dvx, remote):
    configure(dvx, repo, remote)
    tracked = (repo / ".dvx" / "config").read_text()
    secret = remote.extra.get("secret")
    if secret:
        assert secret not in tracked
        assert secret in (repo / ".dvx" / "config.local").read_text()
        for args in (("remote", "list"), ("config", "--list"), ("config", "--list", "--json"),
                     ("status", "--remote", "-v")):
            assert secret not in dvx(*args).output


def test_listing_pages_through_everything(repo, dvx, remote, monkeypatch):
    """The remote's listing (used to plan pushes of more than a few objects) misses nothing,
    however many pages it takes."""
    from dvx.ops.remote import open_remote
    from dvx.remote import s3fast
    from dvx.repo import Repo

    make_dataset(repo)
    dvx("add", "data", "model.pt")
    configure(dvx, repo, remote)
    assert dvx("push").code == 0
    monkeypatch.setattr(s3fast, "LIST_PAGE", 7)  # 28 objects: several pages
    _, store = open_remote(Repo(str(repo)), "r")
    assert set(store.list_oids()) == remote.oids()
    if remote.url.startswith("s3://"):
        assert store.blobs.fast is not None  # the lean path did the listing


def test_gc_remote_keeps_what_the_workspace_needs_and_frees_the_rest(repo, dvx, tmp_path,
                                                                    remote):
    make_dataset(repo)
    dvx("add", "data", "model.pt")
    configure(dvx, repo, remote)
    assert dvx("push").code == 0
    old_model = pointer_oid(repo / "model.pt.dvx")
    (repo / "model.pt").unlink()
    write(repo / "model.pt", os.urandom(1000))
    for i in range(12):  # about half of the images go
        (repo / "data" / "images" / f"{i:02d}.bin").unlink()
    dvx("add", "data", "model.pt")
    assert dvx("push").code == 0
    commit_all(repo)
    gone = json.loads(dvx("gc", "-w", "-c", "r", "-f", "--grace", "0", "--json").stdout)
    assert old_model in gone[1]["removed_oids"]
    stored = remote.oids()
    assert old_model not in stored and pointer_oid(repo / "model.pt.dvx") in stored
    assert dvx("fsck", "--remote", "r").code == 0
    target = clone(repo, tmp_path)
    assert dvx("pull", cwd=target).code == 0
    assert tree_bytes(target / "data") == tree_bytes(repo / "data")


def test_gc_and_fsck_leave_the_files_that_are_not_dvx_s_alone(repo, dvx, remote):
    """Files others put in the remote's folders (a README, an S3 console's folder key) are
    neither counted nor deleted, and the dry run lists what the real run deletes; a pack no
    index names (a killed push's) still goes."""
    write(repo / "small.txt", b"hello\n")
    dvx("add", "small.txt")
    configure(dvx, repo, remote)
    commit_all(repo)
    assert dvx("push").code == 0
    foreign = ["packs/README.md", "logs/push/README", "indexes/README", "locks/README",
               "files/README", "files/xxh128/ab/README"]
    if remote.url.startswith("s3://"):
        foreign += ["packs/", "logs/push/", "files/"]  # the keys a console makes for folders
    for key in foreign:
        remote.put_key(key, b"" if key.endswith("/") else b"not dvx's\n")
    orphan = f"packs/{xxhash.xxh3_128_hexdigest(b'left by a killed push')}.pack"
    remote.put_key(orphan, b"dvx pack 1 " + b"0" * 32 + b"\n")
    remote.put_key(f"indexes/{INDEXES_MARK}", INDEXES_MARK_TEXT)  # that push wrote it first

    checked = dvx("fsck", "--remote", "r", "--json")
    assert checked.code == 0, checked.output
    assert json.loads(checked.stdout)["unindexed_packs"] == 1  # the orphan alone
    planned = dvx("gc", "-w", "-c", "r", "--grace", "0", "--dry-run", "--json")
    assert planned.code == 0, planned.output
    assert {orphan, *foreign} <= set(remote.list_raw())
    done = dvx("gc", "-w", "-c", "r", "--grace", "0", "-f", "--json")
    assert done.code == 0, done.output
    assert json.loads(done.stdout)[1]["removed_oids"] == json.loads(
        planned.stdout)[1]["removed_oids"]
    left = set(remote.list_raw())
    assert set(foreign) <= left and orphan not in left
    assert dvx("fsck", "--remote", "r").code == 0
