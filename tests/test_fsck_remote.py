"""`dvx fsck --remote` finds what is wrong on a remote: corrupt objects (the remote contract
suite), objects the workspace or history needs that the remote lacks, and things that only
look like objects; and it uses one client for the whole command."""

from __future__ import annotations

import json
import shutil
import threading
import time
from pathlib import Path

import xxhash

from tests.conftest import git, write
from tests.pipeline_kit import run_and_commit
from tests.remotes import commit_all, configure, make_dataset, pointer_oid
from tests.team import Team, commit, must


def test_objects_the_workspace_needs_and_the_remote_lacks_are_reported(repo, dvx, remote):
    make_dataset(repo)
    assert dvx("add", "data", "model.pt").code == 0
    configure(dvx, repo, remote)
    assert dvx("push").code == 0
    assert dvx("fsck", "--remote", "r").code == 0
    image = xxhash.xxh3_128_hexdigest((repo / "data/images/05.bin").read_bytes())
    model = pointer_oid(repo / "model.pt.dvx")
    if remote.layout == "loose":
        remote.delete_raw(image)
        remote.delete_raw(model)
        lost = {image, model}
    else:  # the pack holding both (and the other files) is gone; its index still names it
        pack = remote.packed()[image][0]
        assert remote.packed()[model][0] == pack
        remote.delete_key(pack)
        lost = {oid for oid, (where, _, _) in remote.packed().items() if where == pack}
    found = dvx("fsck", "--remote", "r", "--json")
    assert found.code == 1
    missing = {row["oid"]: row["path"] for row in json.loads(found.stdout)["missing"]}
    assert set(missing) == lost
    assert (missing[image], missing[model]) == ("data/images/05.bin", "model.pt")
    text = dvx("fsck", "--remote", "r")
    assert "Missing " + model + ": model.pt needs it" in text.stderr
    assert dvx("push").code == 0  # what was missing goes up again
    assert dvx("fsck", "--remote", "r").code == 0


def test_history_is_checked_with_revision_options(repo, dvx, tmp_path):
    store = tmp_path / "store"
    assert dvx("remote", "add", "-d", "s", str(store)).code == 0
    write(repo / "f", "old")
    assert dvx("add", "f").code == 0
    commit_all(repo, "old")
    git(repo, "tag", "v1")
    (repo / "f").unlink()
    write(repo / "f", "new")
    assert dvx("add", "f").code == 0
    commit_all(repo, "new")
    assert dvx("push").code == 0  # the workspace's only
    checked = dvx("fsck", "--remote", "s")
    assert checked.code == 0 and "Checked 1 object in the remote" in checked.stdout
    tagged = dvx("fsck", "--remote", "s", "-T", "--json")
    assert tagged.code == 1
    assert [row["path"] for row in json.loads(tagged.stdout)["missing"]] == ["f"]


def test_a_remote_named_is_checked_for_data_a_plain_push_sends_to_another(repo, dvx, tmp_path):
    """After `remote default new` and `dvx push -A`, the versions of an output whose
    `remote:` names the old remote are on the old one only: `status -c -A -r new` and `fsck
    --remote new -A` name each of them, as `push -A -r new` uploads them, instead of calling
    the new remote complete."""
    assert dvx("remote", "add", "-d", "old", str(tmp_path / "old-store")).code == 0
    write(repo / "raw.txt", "raw")
    assert dvx("add", "raw.txt").code == 0
    write(repo / "dvx.yaml", "stages:\n  train:\n    cmd: cp in.txt model.txt\n"
                             "    deps: [in.txt]\n    outs:\n    - model.txt: {remote: old}\n")
    for version in ("one", "two"):
        write(repo / "in.txt", version)
        assert dvx("repro").code == 0
        commit_all(repo, version)
        assert dvx("push").code == 0
    git(repo, "tag", "v1", "HEAD~1")
    assert dvx("remote", "add", "new", str(tmp_path / "new-store")).code == 0
    assert dvx("remote", "default", "new").code == 0
    assert dvx("push", "-A").code == 0  # raw.txt to `new`; model.txt's versions to `old`
    status = dvx("status", "-c", "-A", "-r", "new")
    assert status.code == 0, status.output
    assert "2 objects not on the remote (`dvx push -A -r new`):\n" \
           "    model.txt  (in " in status.stdout, status.stdout
    assert "model.txt  (in the workspace)" in status.stdout
    fsck = dvx("fsck", "--remote", "new", "-A", "--json")
    assert fsck.code == 1, fsck.output
    assert [(m["path"], m["pushed_to"]) for m in json.loads(fsck.stdout)["missing"]] == [
        ("model.txt", "old"), ("model.txt", "old")]
    assert dvx("push", "-A", "-r", "new").code == 0  # what they named
    assert "in sync" in dvx("status", "-c", "-A", "-r", "new").stdout
    assert dvx("fsck", "--remote", "new", "-A").code == 0


def test_objects_lost_with_their_pack_fail_fsck_though_no_pointer_needs_them(
        repo, dvx, tmp_path):
    """A pack deleted outside dvx held the only copies of what another branch needs: fsck
    --remote on this branch takes them out of the indexes, counts them lost and exits 1."""
    store = tmp_path / "store"
    assert dvx("remote", "add", "-d", "s", str(store)).code == 0
    commit_all(repo, "remote")
    git(repo, "checkout", "-q", "-b", "feature")
    for i in range(3):
        write(repo / "data" / f"{i}", f"feature {i}")
    assert dvx("add", "data").code == 0 and dvx("push").code == 0
    commit_all(repo, "feature data")
    for pack in (store / "packs").iterdir():  # the files' pack, and the manifest's
        pack.unlink()
    git(repo, "checkout", "-q", "main")
    found = dvx("fsck", "--remote", "s")
    assert found.code == 1, found.output
    assert "0 corrupt, 0 missing, 4 lost" in found.stdout  # three files and the manifest
    assert "Lost " in found.stderr and "push -r s -A" in found.stderr
    again = dvx("fsck", "--remote", "s", "--json")  # taken out of the indexes: reported once
    assert again.code == 0 and json.loads(again.stdout)["lost"] == []
    git(repo, "checkout", "-q", "feature")
    assert dvx("push").code == 0 and dvx("fsck", "--remote", "s").code == 0


def test_the_repair_fsck_names_for_a_damaged_copy_an_older_commit_needs_uploads_it(
        repo, dvx, tmp_path):
    """A cut-short pack holding the manifest only an older commit needs: fsck --remote of
    the workspace names the push with -A, which finds it (a push of the workspace's data
    would upload nothing), and once pasted fsck -A finds nothing missing."""
    store = tmp_path / "store"
    assert dvx("remote", "add", "-d", "s", str(store)).code == 0
    for version in ("v1", "v2"):
        for i in range(5):
            write(repo / "d" / f"f{i}", f"{version} {i}\n")
        assert dvx("add", "d").code == 0 and dvx("push").code == 0
        commit_all(repo, version)
    old = pointer_oid(repo / "d.dvx", "HEAD~1")
    _cut_pack_of(store, old)
    found = dvx("fsck", "--remote", "s")
    assert found.code == 1 and "1 corrupt" in found.stdout, found.output
    said = " ".join(found.stderr.split())
    assert "Run `dvx push --repair -r s -A` to upload verified copies: it is needed by none " \
        "of the revisions checked" in said, said
    assert "(a push of data that needs them uploads them again)" in said, said
    assert dvx("push", "--repair", "-r", "s", "-A").code == 0  # the hint, pasted
    assert dvx("fsck", "--remote", "s", "-A").code == 0


def _cut_pack_of(store: Path, oid: str) -> None:
    """Cut short the pack that the remote's indexes place `oid` in, damaging it."""
    indexes = "".join(p.read_text() for p in (store / "indexes").glob("*.idx"))
    pack = next(line.split()[1] for block in indexes.split("\npack ")[1:]
                for line in [f"pack {block}"] if f"\n{oid} " in block)
    cut = store / "packs" / pack
    cut.chmod(0o644)
    cut.write_bytes(cut.read_bytes()[:-10])


def test_a_pack_an_earlier_fsck_emptied_is_blamed_on_its_damage_not_on_a_push(
        repo, dvx, tmp_path):
    """Once fsck --remote took every copy in a cut-short pack out of the indexes, a later
    fsck names what it did and the push --repair that restores the data, never a push
    still uploading that pack or one stopped before its index."""
    store = tmp_path / "store"
    assert dvx("remote", "add", "-d", "s", str(store)).code == 0
    for i in range(3):
        write(repo / f"f{i}", f"{i}\n")
    assert dvx("add", "f0", "f1", "f2").code == 0 and dvx("push").code == 0
    commit_all(repo, "data")
    _cut_pack_of(store, pointer_oid(repo / "f0.dvx"))
    first = dvx("fsck", "--remote", "s")
    assert first.code == 1 and "3 corrupt" in first.stdout, first.output
    later = dvx("fsck", "--remote", "s", "-A")
    assert later.code == 1 and "3 missing" in later.stdout, later.output
    said = " ".join(later.stderr.split())
    assert "1 pack on the remote is named by no index and no longer hashes to its name" in said
    assert "Either an earlier `dvx fsck --remote` found each copy in it damaged" in said, said
    assert "or a push stopped before writing the index that would name it" in said, said
    assert "Run `dvx push --repair -r s` from a clone" in said, said
    assert "a push may be uploading" not in said and "index lost" not in said, said
    assert json.loads(dvx("fsck", "--remote", "s", "-A", "--json").stdout)[
        "damaged_unindexed_packs"] == 1
    fast = dvx("fsck", "--remote", "s", "-A", "--fast")  # compares sizes: hashes no pack
    said = " ".join(fast.stderr.split())
    assert fast.code == 1 and "3 missing" in fast.stdout, fast.output
    assert "no longer hashes" not in said, said
    assert "--fast did not hash the 1 pack no index names, so it cannot tell" in said, said
    assert dvx("push", "--repair", "-r", "s", "-A").code == 0  # the hint, pasted
    assert dvx("fsck", "--remote", "s", "-A").code == 0


def test_the_repair_fsck_names_leaves_out_damaged_copies_no_commit_needs(repo, dvx, tmp_path):
    """A damaged copy pushed but never committed is needed by no commit: fsck --remote of
    the workspace names push -A only for an older commit's, says no push uploads the other
    again, and once pasted fsck -A passes; when no commit needs any, it names no push."""
    store = tmp_path / "store"
    assert dvx("remote", "add", "-d", "s", str(store)).code == 0

    def pushed(version: str, committed: bool) -> str:
        write(repo / "a", f"{version}\n")
        assert dvx("add", "a").code == 0 and dvx("push").code == 0
        oid = pointer_oid(repo / "a.dvx")
        if committed:
            commit_all(repo, version)
        return oid

    never, older = pushed("v1", False), pushed("v2", True)
    pushed("v3", True)
    _cut_pack_of(store, never)
    _cut_pack_of(store, older)
    found = dvx("fsck", "--remote", "s")
    assert found.code == 1 and "2 corrupt" in found.stdout, found.output
    said = " ".join(found.stderr.split())
    assert "Run `dvx push --repair -r s -A` to upload verified copies: 1 of them is needed " \
        "by none of the revisions checked" in said, said
    assert "1 of them is needed by no commit, so no push uploads it again." in said, said
    assert dvx("push", "--repair", "-r", "s", "-A").code == 0  # the hint, pasted
    assert dvx("fsck", "--remote", "s", "-A").code == 0

    _cut_pack_of(store, pushed("v4", False))
    pushed("v5", True)
    found = dvx("fsck", "--remote", "s")
    assert found.code == 1 and "1 corrupt" in found.stdout, found.output
    said = " ".join(found.stderr.split())
    assert "No commit needs the corrupt object found: no push uploads a copy again, and none " \
        "is needed." in said, said
    assert "push --repair" not in said, said


def test_a_remote_directory_that_does_not_exist_is_an_error(repo, dvx, tmp_path):
    assert dvx("remote", "add", "-d", "s", str(tmp_path / "nowhere")).code == 0
    result = dvx("fsck", "--remote", "s")
    assert result.code == 1 and "does not exist" in result.stderr
    assert "Checked" not in result.stdout


def test_a_missing_remote_directory_a_reader_needs_is_blamed_on_its_url_or_mount(
        repo, dvx, tmp_path):
    """A pull or `status -c` from a directory remote whose folder is missing (a share not
    mounted) says to check the URL and the mount, and names `dvx push` creating it only for
    a remote that is new: a push there would make an empty folder at the mount point."""
    share = tmp_path / "mnt" / "share" / "proj"
    assert dvx("remote", "add", "-d", "s", str(share)).code == 0
    write(repo / "f", "data")
    assert dvx("add", "f").code == 0
    assert dvx("push").code == 0
    share.rename(tmp_path / "unmounted")
    shutil.rmtree(repo / ".dvx" / "cache")  # for pull to need the remote
    for command in (("pull",), ("status", "-c")):
        result = dvx(*command)
        assert result.code == 1 and "does not exist" in result.stderr, result.output
        assert "mounted" in result.stderr, result.stderr
        assert "if the remote is new, `dvx push` creates it" in result.stderr, result.stderr
    assert not share.exists()


def test_a_remote_directory_that_is_a_file_is_named_as_such(repo, dvx, tmp_path):
    write(tmp_path / "store", "a file, not a directory\n")
    assert dvx("remote", "add", "-d", "s", str(tmp_path / "store")).code == 0
    write(repo / "f", "data")
    assert dvx("add", "f").code == 0
    shutil.rmtree(repo / ".dvx" / "cache")  # for pull to need the remote
    for command in (("fsck", "--remote", "s"), ("pull",), ("push",), ("status", "-c")):
        result = dvx(*command)
        assert result.code == 1, result.output
        assert "is not a directory" in result.stderr and "push` creates it" not in result.stderr
    assert (tmp_path / "store").read_text() == "a file, not a directory\n"


def test_a_manifest_the_cache_lost_before_a_push_is_stored_again_by_commit(repo, dvx,
                                                                           tmp_path):
    """A directory never pushed whose manifest was damaged in the cache: fsck --remote says
    it tried to download it, reports it missing, and names the `dvx commit` that stores it
    again from the workspace rather than a push from some other clone."""
    assert dvx("remote", "add", "-d", "s", str(tmp_path / "store")).code == 0
    (tmp_path / "store").mkdir()
    write(repo / "d/a", "1\n")
    write(repo / "d/b", "2\n")
    assert dvx("add", "d").code == 0
    oid = pointer_oid(repo / "d.dvx")
    cached = repo / ".dvx/cache/files/xxh128" / oid[:2] / oid[2:]
    cached.chmod(0o644)
    with open(cached, "ab") as f:
        f.write(b"garbage\n")
    found = dvx("fsck", "--remote", "s")
    assert found.code == 1, found.output
    message = " ".join(found.stderr.split())
    assert f"Missing {oid}: d needs it" in message, message
    assert "and downloaded again" not in message, message
    assert "`dvx commit d` stores it in the cache again, and `dvx push -r s` then uploads " \
        "it" in message, message
    assert "from a clone whose cache has" not in message, message
    as_json = json.loads(dvx("fsck", "--remote", "s", "--json").stdout)
    assert [(m["path"], m["held_here"]) for m in as_json["missing"]] == [("d", "d")]
    assert dvx("commit", "d").code == 0 and dvx("push").code == 0
    assert dvx("fsck", "--remote", "s").code == 0


def test_a_directory_with_an_object_s_name_is_not_taken_for_it(repo, dvx, tmp_path):
    store = tmp_path / "store"
    assert dvx("remote", "add", "-d", "s", str(store)).code == 0
    assert dvx("remote", "modify", "s", "pack_threshold", "0").code == 0  # loose objects
    write(repo / "f", "data")
    assert dvx("add", "f").code == 0
    oid = xxhash.xxh3_128_hexdigest(b"data")
    (store / "files/xxh128" / oid[:2] / oid[2:]).mkdir(parents=True)  # made by hand
    pushed = dvx("push")
    assert pushed.code == 1 and "not a file" in pushed.stderr  # never "already there"
    found = dvx("fsck", "--remote", "s")
    assert found.code == 1 and "Not an object" in found.stderr and "move it out" in found.stderr
    (store / "files/xxh128" / oid[:2] / oid[2:]).rmdir()
    assert dvx("push").code == 0 and dvx("fsck", "--remote", "s").code == 0


def test_a_directory_with_a_cache_object_s_name_is_reported_by_local_fsck(repo, dvx):
    write(repo / "f", "data")
    assert dvx("add", "f").code == 0
    oid = xxhash.xxh3_128_hexdigest(b"data")
    folder = repo / ".dvx/cache/files/xxh128" / oid[:2] / oid[2:]
    folder.unlink()
    folder.mkdir()  # made by hand
    write(folder / "x", "junk")
    found = dvx("fsck")
    assert found.code == 1, found.output
    assert f"Not an object: what has the name of {oid} in the cache" in found.stderr
    assert str(folder) in found.stderr and (folder / "x").read_text() == "junk"
    (folder / "x").unlink()
    folder.rmdir()
    assert dvx("add", "f").code == 0 and dvx("fsck").code == 0


BIG = bytes(range(256)) * 8192  # 2 MiB: above the pack threshold, so loose and indexed


def _pushed_large_object(repo, dvx, tmp_path) -> tuple[str, Path]:
    """big.bin added and pushed to the directory remote 's' (tmp_path/store): its oid, and its
    loose file there."""
    store = tmp_path / "store"
    assert dvx("remote", "add", "-d", "s", str(store)).code == 0
    write(repo / "big.bin", BIG)
    assert dvx("add", "big.bin").code == 0 and dvx("push").code == 0
    oid = xxhash.xxh3_128_hexdigest(BIG)
    return oid, store / "files/xxh128" / oid[:2] / oid[2:]


def test_a_large_object_fsck_moved_aside_is_pushed_again(repo, dvx, tmp_path):
    oid, loose = _pushed_large_object(repo, dvx, tmp_path)
    store = tmp_path / "store"
    assert oid in "".join(p.read_text() for p in (store / "indexes").iterdir())
    loose.write_bytes(BIG[:10])  # damaged on the remote
    found = dvx("fsck", "--remote", "s")
    assert found.code == 1 and "quarantine" in found.output and not loose.exists()
    status = dvx("status", "-r", "s")
    assert "not on the remote" in status.output, status.output  # not "in sync"
    assert dvx("push").code == 0 and loose.read_bytes() == BIG
    assert dvx("fsck", "--remote", "s").code == 0


def test_a_directory_with_a_remote_object_s_name_fails_its_download_named_as_such(repo, dvx,
                                                                                   tmp_path):
    oid, loose = _pushed_large_object(repo, dvx, tmp_path)
    loose.unlink()
    loose.mkdir()  # made by hand
    (repo / ".dvx/cache/files/xxh128" / oid[:2] / oid[2:]).unlink()
    fetched = dvx("fetch")
    assert fetched.code == 1, fetched.output
    assert f"Failed big.bin ({oid}): not an object" in fetched.stderr
    assert "is a directory, not a file" in fetched.stderr and "FIFO" not in fetched.stderr


def test_push_repair_replaces_a_large_object_gone_from_under_its_index(repo, dvx, tmp_path):
    _, loose = _pushed_large_object(repo, dvx, tmp_path)
    loose.unlink()  # deleted by hand; the index still names it
    repaired = dvx("push", "--repair")
    assert repaired.code == 0, repaired.output
    assert loose.read_bytes() == BIG and dvx("fsck", "--remote", "s").code == 0


def test_push_repair_without_local_copies_reports_what_the_remote_lost(repo, dvx, tmp_path):
    store = tmp_path / "store"
    assert dvx("remote", "add", "-d", "s", str(store)).code == 0
    write(repo / "big.bin", BIG)  # loose on the remote; the small one goes into a pack
    write(repo / "small.txt", "small")
    assert dvx("add", "big.bin", "small.txt").code == 0 and dvx("push").code == 0
    for pack in (store / "packs").iterdir():
        pack.unlink()  # deleted by hand, with the loose object; the indexes still name both
    oid = xxhash.xxh3_128_hexdigest(BIG)
    (store / "files/xxh128" / oid[:2] / oid[2:]).unlink()
    shutil.rmtree(repo / ".dvx/cache")  # this clone cannot upload them again
    assert dvx("push").code == 0  # a plain push goes by the indexes' word
    repaired = dvx("push", "--repair")
    assert repaired.code == 1, repaired.output
    assert "0 already there; 2 failed" in repaired.stdout
    assert f"Failed big.bin ({oid}): not in the local cache nor on the remote" in repaired.stderr
    assert "Failed small.txt" in repaired.stderr and "lost that data" in repaired.stderr


def test_a_large_object_deleted_from_under_its_index_is_pushed_again_after_fsck(
        repo, dvx, tmp_path):
    oid, loose = _pushed_large_object(repo, dvx, tmp_path)
    loose.unlink()  # deleted by hand (or a lifecycle rule); the index still names it
    found = dvx("fsck", "--remote", "s")
    assert found.code == 1 and f"Missing {oid}: big.bin needs it" in found.stderr
    assert "taken out of the indexes" in found.stderr, found.stderr
    assert "not on the remote" in dvx("status", "-r", "s").output  # not "in sync"
    pushed = dvx("push")  # as fsck advises
    assert pushed.code == 0 and "Pushed 1 object" in pushed.output, pushed.output
    assert loose.read_bytes() == BIG and dvx("fsck", "--remote", "s").code == 0


def test_a_pointer_giving_a_wrong_size_never_gets_a_good_object_quarantined(repo, dvx,
                                                                            tmp_path):
    store = tmp_path / "store"
    assert dvx("remote", "add", "-d", "s", str(store)).code == 0
    assert dvx("remote", "modify", "s", "pack_threshold", "1").code == 0  # loose, indexed
    write(repo / "f", "hi\n")
    assert dvx("add", "f").code == 0
    pointer = (repo / "f.dvx").read_text()
    (repo / "f.dvx").write_text(pointer.replace("size: 3", "size: 2000000"))  # edited by hand
    assert dvx("push").code == 0
    index = "".join(p.read_text() for p in (store / "indexes").iterdir())
    oid = xxhash.xxh3_128_hexdigest(b"hi\n")
    assert f"{oid} 3" in index and "2000000" not in index  # what was stored
    checked = dvx("fsck", "--remote", "s")
    assert "quarantine" not in checked.output, checked.output
    assert (store / "files/xxh128" / oid[:2] / oid[2:]).read_bytes() == b"hi\n"


def test_threads_share_one_client_of_a_store():
    from dvx.remote.blobs import FsspecBlobs

    built = []

    def make_fs():
        built.append(1)
        time.sleep(0.05)  # long enough for every thread to ask while it is being built
        return object()

    store = FsspecBlobs("bucket/prefix", make_fs, atomic_put=True)
    clients = []
    threads = [threading.Thread(target=lambda: clients.append(store.fs)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(built) == 1 and len({id(c) for c in clients}) == 1


def test_a_command_opens_each_remote_once(repo, dvx, tmp_path):
    from dvx.ops.remote import open_remote
    from dvx.repo import Repo

    assert dvx("remote", "add", "-d", "s", str(tmp_path / "store")).code == 0
    opened = Repo(str(repo))
    assert open_remote(opened, None)[1] is open_remote(opened, "s")[1]


MIGRATED_STAGE = """\
stages:
  train:
    cmd: cat params.yaml raw.txt > model.txt
    deps: [raw.txt]
    params: [lr]
    outs:
    - model.txt: {remote: shared}
"""


def test_moving_to_another_remote_as_documented_leaves_nothing_behind(tmp_path):
    """docs/remotes.md, "Moving to another remote", step by step: a tag, a teammate's pushed
    experiment, a run-cache entry and an output with its own `remote:` all reach the new
    remote, the checks say so, and once the old remote's folder is gone a fresh clone pulls
    every tag, applies the experiment and restores the stage from the run-cache."""
    team = Team(tmp_path)  # its remote `shared` is the old one
    alice = team.founder()
    write(alice / "params.yaml", "lr: 1\n")
    write(alice / "raw.txt", "raw\n")
    must("add", "raw.txt", cwd=alice)
    run_and_commit(alice, MIGRATED_STAGE, "v1")
    git(alice, "tag", "v1")
    write(alice / "params.yaml", "lr: 2\n")
    must("repro", cwd=alice)
    commit(alice, "v2")
    git(alice, "tag", "v2")
    must("push", "-A", "--run-cache", cwd=alice)
    git(alice, "push", "-q", "origin", "main", "--tags")
    bob = team.clone("bob")
    must("exp", "run", "-S", "lr=7", "-n", "bobs", cwd=bob)
    must("exp", "push", "origin", "bobs", cwd=bob)

    new = tmp_path / "new-store"  # the migration, in alice's clone
    git(alice, "fetch", "-q", "origin", "--tags")
    must("exp", "pull", "origin", cwd=alice)
    must("fetch", "-A", "--run-cache", cwd=alice)
    must("remote", "add", "new", str(new), cwd=alice)
    must("push", "-A", "-r", "new", "--run-cache", cwd=alice)
    assert "Cache and remote 'new' are in sync." in must("status", "-c", "-A", "-r", "new",
                                                         cwd=alice)
    assert "0 corrupt, 0 missing, 0 lost" in must("fsck", "--remote", "new", "-A", cwd=alice)
    must("remote", "default", "new", cwd=alice)
    write(alice / "dvx.yaml", MIGRATED_STAGE.replace("remote: shared", "remote: new"))
    must("repro", cwd=alice)
    must("remote", "remove", "shared", cwd=alice)
    commit(alice, "Move the data to the remote new")
    git(alice, "push", "-q", "origin", "main")
    team.store.rename(tmp_path / "old-store.retired")

    carol = team.clone("carol")  # `dvx pull`, on the current commit
    assert (carol / "model.txt").read_text() == "lr: 2\nraw\n"
    assert "Fetched 2 run records of the run-cache." in must("pull", "--run-cache", cwd=carol)
    (carol / "model.txt").unlink()
    assert "Restored 'train' from the run-cache" in must("repro", cwd=carol)
    # An old tag's committed config names the old remote: point that name at the new store
    must("remote", "add", "--local", "shared", str(new), cwd=carol)
    for tag, lr in (("v1", 1), ("v2", 2)):
        git(carol, "checkout", "-q", tag)
        must("pull", cwd=carol)
        assert (carol / "model.txt").read_text() == f"lr: {lr}\nraw\n"
    must("exp", "pull", "origin", cwd=carol)  # with its data, from the new remote
    must("exp", "apply", "bobs", cwd=carol)  # on its baseline, v2
    assert (carol / "model.txt").read_text() == "lr: 7\nraw\n"
