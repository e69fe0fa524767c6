import errno
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import xxhash

from dvx.objects.blobs import DirectoryBlobs
from dvx.remote.locks import GC, RemoteLock
from tests.conftest import (
    git,
    make_git_repo,
    mounted_tmpfs,
    run_dvx,
    run_dvx_proc,
    tree_bytes,
    write,
)
from tests.conftest import stopped_at as _stopped_at
from tests.remotes import local_spec
from tests.team import publish


def _objects(repo):
    return {p.parent.name + p.name for p in (repo / ".dvx/cache/files/xxh128").glob("*/*")}


def _two_versions(repo, dvx):
    write(repo / "f", "v1")
    write(repo / "d" / "a", "a1")
    dvx("add", "f", "d")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "v1")
    git(repo, "tag", "v1")
    write(repo / "f", "v2")
    write(repo / "d" / "a", "a2")
    dvx("add", "f", "d")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "v2")


def test_gc_refuses_without_a_scope_or_confirmation(repo, dvx):
    _two_versions(repo, dvx)
    before = _objects(repo)
    none = dvx("gc", "-f")
    assert none.code == 2 and "explicit scope" in none.stderr
    unconfirmed = dvx("gc", "--workspace")  # no terminal to ask on
    assert unconfirmed.code == 2 and "-f" in unconfirmed.stderr
    assert _objects(repo) == before


def test_gc_workspace_keeps_what_links_in_data_left_behind_lead_to(repo, dvx):
    """Data whose pointer left Git with no `dvx checkout` since (which would make it files of
    its own) may still be symbolic links into the cache: gc -w keeps their objects, so the
    links never dangle and `dvx add` tracks the data again."""
    assert dvx("config", "--local", "cache.type", "symlink").code == 0
    write(repo / "d" / "a", "a1")
    write(repo / "d" / "b", "b1")
    dvx("add", "d")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "d")
    git(repo, "rm", "-q", "d.dvx")  # as a pulled `dvx remove` takes it away
    git(repo, "commit", "-qm", "d no longer tracked")
    assert (repo / "d" / "a").is_symlink()
    assert dvx("gc", "-w", "-f", "--grace", "0", "--force-last-copy").code == 0
    assert (repo / "d" / "a").read_text() == "a1" and (repo / "d" / "b").read_text() == "b1"
    assert dvx("add", "d").code == 0


def _put_pointer_back(repo, how):
    """Put the committed pointer back over an uncommitted `dvx add`, as Git does it."""
    if how == "restore":
        git(repo, "restore", ".")
    elif how == "reset":
        git(repo, "reset", "-q", "--hard")
    else:  # a stash, dropped: the pointer is in no commit any ref reaches
        git(repo, "stash", "-q")
        git(repo, "stash", "drop", "-q")


@pytest.mark.parametrize("how", ["restore", "reset", "stash"])
def test_gc_workspace_keeps_what_links_of_tracked_data_lead_to_past_their_pointer(
        repo, dvx, how):
    """A `dvx add` of a new version whose pointer Git put back (`git restore`, `git reset
    --hard`, `git stash`) leaves the workspace linked (cache.type symlink) to objects no
    pointer names and no commit records: gc -w keeps them, so the links never dangle and
    the data is not lost."""
    assert dvx("config", "--local", "cache.type", "symlink").code == 0
    write(repo / "x", "x1")
    write(repo / "d" / "a", "a1")
    dvx("add", "x", "d")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "v1")
    for path in (repo / "x", repo / "d" / "a"):
        path.unlink()
    write(repo / "x", "precious x2")
    write(repo / "d" / "a", "precious a2")
    write(repo / "d" / "b", "precious b2")
    assert dvx("add", "x", "d").code == 0
    _put_pointer_back(repo, how)
    assert (repo / "x").is_symlink() and (repo / "d" / "b").is_symlink()
    result = dvx("gc", "-w", "-f", "--grace", "0", "--json")
    assert result.code == 0, result.output
    # Nothing: the new manifest, which no link leads to, is what d was synced to (its sync
    # record), which status compares d with.
    assert json.loads(result.stdout)[0]["removed"] == 0
    assert (repo / "x").read_text() == "precious x2"
    assert (repo / "d" / "a").read_text() == "precious a2"
    assert (repo / "d" / "b").read_text() == "precious b2"


def test_gc_workspace_keeps_what_a_killed_restore_from_the_run_cache_linked(repo, dvx):
    """A repro killed once it restored a directory from the run-cache (cache.type symlink),
    before dvx.lock records it: its sync record is still of dvx.lock's version, yet gc -w
    keeps the objects its links lead to, so they never dangle; the rerun records them."""
    assert dvx("config", "--local", "cache.type", "symlink").code == 0
    write(repo / "dep.txt", "1\n")
    assert dvx("stage", "add", "-n", "a", "-d", "dep.txt", "-o", "out",
               "mkdir -p out && cp dep.txt out/f").code == 0
    assert dvx("repro").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "v1")
    write(repo / "dep.txt", "2\n")
    assert dvx("repro").code == 0  # the run-cache now knows dep.txt 2
    git(repo, "checkout", "-q", "--", ".")
    assert dvx("checkout", "--force").code == 0
    write(repo / "dep.txt", "2\n")
    killed = run_dvx_proc("repro", cwd=repo, env={"DVX_FAULT": "repro.before_lock_write"})
    assert killed.code == -9, killed.output
    assert (repo / "out" / "f").is_symlink()
    result = dvx("gc", "-w", "-f", "--grace", "0")
    assert result.code == 0, result.output
    assert (repo / "out" / "f").read_text() == "2\n"
    assert dvx("repro").code == 0
    assert (repo / "out" / "f").read_text() == "2\n"
    assert run_dvx("status", "-q", cwd=repo).code == 0


def test_gc_workspace_keeps_only_the_manifests_the_workspace_was_synced_to(repo, dvx):
    """After a pointer moved back (`git checkout v1 -- ...`), the sync record names the
    versions the workspace holds: gc keeps the directory's manifest, which status compares
    the directory with, but neither its files nor a file's data (even from a record that
    does not say it is a file's)."""
    _two_versions(repo, dvx)
    d_v2 = json.loads((repo / ".dvx/tmp/synced.json").read_text())["outputs"]["d"]["oid"]
    git(repo, "checkout", "v1", "--", "f.dvx", "d.dvx")  # no hook: the data stays v2
    record = repo / ".dvx/tmp/synced.json"
    doc = json.loads(record.read_text())
    doc["outputs"]["f"].pop("exec", None)  # as a dvx that kept no executable bit wrote it
    record.write_text(json.dumps(doc))
    assert dvx("gc", "-w", "-f", "--grace", "0", "--force-last-copy").code == 0
    left = _objects(repo)
    assert d_v2 in left
    assert not left & {_oid("v2"), _oid("a2")}
    status = dvx("status", "--json")
    assert status.code == 0
    shown = {o["path"]: o["workspace"] for o in json.loads(status.stdout)["outputs"]}
    assert shown == {"f": "outdated", "d": "outdated"}


@pytest.mark.parametrize("grace", ["nan", "inf", "-1"])
def test_a_grace_period_that_is_not_a_finite_number_is_refused(repo, dvx, grace):
    _two_versions(repo, dvx)
    before = _objects(repo)
    result = dvx("gc", "-w", "-f", "--grace", grace, "--force-last-copy")
    assert result.code == 2 and "Invalid value for '--grace'" in result.stderr
    assert _objects(repo) == before


def test_workspace_scope_removes_only_unused_objects(repo, dvx):
    _two_versions(repo, dvx)
    old = {xxhash.xxh3_128_hexdigest(b"v1"), xxhash.xxh3_128_hexdigest(b"a1")}
    force = ("--force-last-copy",)  # tag v1 uses them, and no remote holds them
    dry = json.loads(dvx("gc", "-w", "--dry-run", "--grace", "0", "--json", *force).stdout)[0]
    assert old <= set(dry["removed_oids"]) and old <= _objects(repo)
    young = json.loads(dvx("gc", "-w", "-f", "--json", *force).stdout)[0]
    assert young["removed"] == 0 and young["kept_young"] == 3  # within the grace period
    assert dvx("gc", "-w", "-f", "--grace", "0", *force).code == 0
    assert not old & _objects(repo)
    assert dvx("status", "-q").code == 0
    assert (repo / "f").read_text() == "v2"


def test_gc_workspace_works_in_a_repository_without_git(tmp_path, dvx):
    """Without Git there is no index nor stash to keep: -w is the whole scope, and only a
    scope of revisions is refused."""
    root = tmp_path / "plain"
    root.mkdir()
    assert dvx("init", "--no-scm", cwd=root).code == 0
    write(root / "kept", "kept")
    write(root / "dropped", "dropped")
    assert dvx("add", "kept", "dropped", cwd=root).code == 0
    assert dvx("remove", "dropped.dvx", cwd=root).code == 0
    dropped = xxhash.xxh3_128_hexdigest(b"dropped")
    dry = dvx("gc", "-w", "--dry-run", "--grace", "0", "--json", cwd=root)
    assert dry.code == 0 and json.loads(dry.stdout)[0]["removed_oids"] == [dropped], dry.output
    done = dvx("gc", "-w", "-f", "--grace", "0", cwd=root)
    assert done.code == 0 and "Removed 1 object" in done.stdout, done.output
    assert _objects(root) == {xxhash.xxh3_128_hexdigest(b"kept")}
    history = dvx("gc", "-a", "-f", cwd=root)
    assert history.code == 2 and "no Git history" in history.stderr


def test_gc_deletes_what_killed_commands_left_in_the_cache_s_tmp_once_an_hour_old(repo, dvx):
    """A killed add of a large file leaves its temporary in .dvx/cache/tmp: gc deletes the
    ones an hour old, as fetch and pull do, and leaves the younger ones (a command may be
    writing them) and what is not named as dvx names its temporaries."""
    tmp = repo / ".dvx" / "cache" / "tmp"
    left = write(tmp / ".big.bin.dvx-0123456789ab.tmp", "half an object")
    young = write(tmp / ".big.bin.dvx-ba9876543210.tmp", "being written")
    mine = write(tmp / "notes.txt", "not dvx's")
    two_hours_ago = time.time() - 7200
    for path in (left, mine):
        os.utime(path, (two_hours_ago, two_hours_ago))
    assert dvx("gc", "-w", "-f").code == 0
    assert not left.exists()
    assert young.exists() and mine.exists()


def test_gc_frees_space_on_a_full_disk_and_still_moves_the_cache_generation(repo, dvx):
    """gc moves the cache to a new generation before deleting anything (facts remembered
    about the cache's contents then no longer hold); on a full disk, where no file can be
    written, it does so without taking space, and deletes."""
    from dvx.objects.cache import LocalCache

    def cache():
        return LocalCache(str(repo / ".dvx/cache"), "xxh128")

    full_disk = {"DVX_FAULT": "cache.generation.before_write", "DVX_FAULT_ACTION": "enospc"}
    gc = ("gc", "-w", "-f", "--grace", "0", "--force-last-copy")
    write(repo / "f", "v2")
    assert dvx("add", "f").code == 0
    seen = [cache().generation()]
    for version in ("v3", "v4", "v5"):  # rewritten in place, twice, then after a whole new one
        if version == "v5":
            assert dvx(*gc).code == 0  # room again: a whole new generation file
            seen.append(cache().generation())
        write(repo / "f", version)
        assert dvx("add", "f").code == 0
        freed = run_dvx_proc(*gc, cwd=repo, env=full_disk)
        assert freed.code == 0, freed.stderr
        assert _objects(repo) == {xxhash.xxh3_128_hexdigest(version.encode())}
        seen.append(cache().generation())
    assert len(set(seen)) == len(seen), seen
    assert dvx("status", "-q").code == 0


def test_a_cache_has_its_generation_file_from_the_first_command_that_uses_it(repo, dvx):
    """Made while there is room, so that a gc on a full disk only rewrites it in place: on
    XFS, making a file takes space even when it is empty."""
    generation = repo / ".dvx" / "cache" / "generation"
    write(repo / "f", "v1")
    assert dvx("add", "f").code == 0
    assert generation.is_file()
    generation.unlink()  # a cache an older dvx made, and never gc'ed
    assert dvx("status", "-q").code == 0
    assert generation.is_file()


def test_without_room_for_a_generation_file_a_new_generation_moves_the_cache_folder(
        tmp_path, monkeypatch):
    """A cache with no generation file, on a full disk where none can be made: gc still
    moves the cache to a new generation (facts remembered about its contents must expire
    before an object goes), without taking space, and so can free some."""
    import errno

    from dvx import fsutil
    from dvx.objects.cache import LocalCache

    cache = LocalCache(str(tmp_path / "cache"), "xxh128")
    cache.add_bytes(b"data")

    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    real_open = os.open
    monkeypatch.setattr(fsutil, "atomic_write", full_disk)
    monkeypatch.setattr(fsutil, "write_whole", full_disk)
    monkeypatch.setattr(os, "open", lambda path, flags, *args: full_disk() if (
        str(path).endswith("generation") and flags & os.O_CREAT) else real_open(path, flags,
                                                                                 *args))
    seen = [cache.generation()]
    assert cache.generation() == seen[0]  # a read moves nothing
    for _ in range(2):
        cache.new_generation()
        seen.append(cache.generation())
    monkeypatch.undo()
    assert not os.path.exists(tmp_path / "cache" / "generation")
    cache.new_generation()  # room again
    seen.append(cache.generation())
    assert len(set(seen)) == len(seen) == 4, seen


def test_history_scopes_keep_what_old_commits_need(repo, dvx):
    _two_versions(repo, dvx)
    before = _objects(repo)
    for scope in (["--all-commits"], ["--all-tags"], ["--rev", "v1"], ["--all-branches"]):
        result = dvx("gc", *scope, "-f", "--grace", "0", "--force-last-copy")
        assert result.code == 0, result.output
        if scope != ["--all-branches"]:
            assert _objects(repo) == before, scope
    git(repo, "checkout", "-q", "v1")
    assert dvx("checkout").code == 1  # --all-branches dropped v1's objects
    assert "Not in the cache" in dvx("checkout").stderr


def test_tags_that_name_a_blob_or_a_tree_are_passed_over(repo, dvx):
    """`git tag key <blob>` is legitimate (git.git has such tags); a tag that leads to no
    commit holds no pointers, and the tags that do still keep what they need."""
    _two_versions(repo, dvx)
    before = _objects(repo)
    blob = subprocess.run(["git", "hash-object", "-w", "--stdin"], cwd=repo, input=b"key",
                          capture_output=True, check=True).stdout.decode().strip()
    git(repo, "tag", "key", blob)
    git(repo, "tag", "-a", "-m", "key", "signed-key", blob)
    git(repo, "tag", "tree", git(repo, "rev-parse", "HEAD^{tree}").strip())
    git(repo, "tag", "-a", "-m", "v1 again", "v1-annotated", "v1")
    git(repo, "tag", "-d", "v1")
    for command in (["gc", "-T", "-f", "--grace", "0", "--force-last-copy"],
                    ["push", "-T", "-r", "s"]):
        if command[0] == "push":
            assert dvx("remote", "add", "s", str(repo.parent / "store")).code == 0
        result = dvx(*command)
        assert result.code == 0, result.output
    assert _objects(repo) == before  # v1's data, kept through the annotated tag


def test_unreadable_scope_deletes_nothing(repo, dvx):
    _two_versions(repo, dvx)
    # drops v1's manifest
    assert dvx("gc", "-w", "-f", "--grace", "0", "--force-last-copy").code == 0
    before = _objects(repo)
    write(repo / "orphan", "still needed?")
    dvx("add", "orphan")
    refused = dvx("gc", "--all-tags", "-f", "--grace", "0")
    assert refused.code == 1 and "Nothing was deleted" in refused.stderr
    assert _objects(repo) >= before


def test_a_corrupt_cached_manifest_of_an_old_commit_is_named_with_that_commit_and_its_fetch(
        repo, dvx, tmp_path):
    """The cache's copy of an old directory version's manifest is damaged: gc names the
    commit (and its tag) recording it and the fetch of that revision that downloads it again
    (a plain `dvx fetch` reads the workspace's pointers, which record the newer version)."""
    assert dvx("remote", "add", "-d", "s", str(tmp_path / "store")).code == 0
    _two_versions(repo, dvx)
    assert dvx("push", "-A").code == 0
    v1 = git(repo, "rev-parse", "v1").strip()
    oid = git(repo, "show", "v1:d.dvx").split("oid: ")[1].split()[0]
    cached = repo / ".dvx/cache/files/xxh128" / oid[:2] / oid[2:]
    cached.chmod(0o644)
    cached.write_text("[]\n")
    refused = dvx("gc", "-T", "-f", "--grace", "0")
    said = " ".join(refused.stderr.split())
    assert refused.code == 1 and "Nothing was deleted" in said, refused.output
    assert f"d (in {v1[:10]} (v1)): The directory manifest {oid} is corrupt" in said, said
    assert f"(`dvx fetch --rev {v1[:10]} d` downloads it again)" in said
    assert "Run `dvx fetch` to download it again" not in said
    assert dvx("fetch", "--rev", v1[:10], "d").code == 0
    assert dvx("gc", "-T", "-f", "--grace", "0").code == 0


def test_a_manifest_only_an_old_commit_needs_is_named_with_that_commit_and_a_fetch_of_it(
        tmp_path):
    """In a fresh clone, gc -A lacks the manifests of older directory versions: it names the
    commit (and its tag) recording each, and a fetch of that revision that brings it; one no
    clone pushed is named as well, the advice covering that case (this gc asks no remote)."""
    from tests.team import Team, commit, must, share

    team = Team(tmp_path)
    alice = team.founder()
    write(alice / "imgs" / "a", "1\n")
    must("add", "imgs", cwd=alice)
    share(alice, "v1")
    git(alice, "tag", "v1")
    v1 = git(alice, "rev-parse", "HEAD").strip()
    write(alice / "imgs" / "b", "2\n")
    must("add", "imgs", cwd=alice)
    commit(alice, "v2, never pushed")
    unpushed = git(alice, "rev-parse", "HEAD").strip()
    write(alice / "imgs" / "c", "3\n")
    must("add", "imgs", cwd=alice)
    share(alice, "v3")
    git(alice, "push", "-q", "origin", "v1")
    bob = team.clone("bob")

    refused = run_dvx("gc", "-A", "--dry-run", cwd=bob)
    assert refused.code == 1, refused.output
    assert f"imgs (in {v1[:10]} (v1)): its directory manifest" in refused.stderr
    assert f"imgs (in {unpushed[:10]}): its directory manifest" in refused.stderr
    assert "this gc asks no remote" in refused.stderr
    assert "else only a clone whose cache has it can upload it, with `dvx push --rev " in (
        refused.stderr)
    must("fetch", "--rev", v1[:10], "imgs", cwd=bob)  # the command it names, as given
    assert f"`dvx fetch --rev {v1[:10]} imgs` brings it" in refused.stderr
    again = run_dvx("gc", "-A", "--dry-run", cwd=bob)
    assert again.code == 1 and f"(in {v1[:10]} (v1))" not in again.stderr, again.output
    must("push", "--rev", unpushed[:10], "imgs", cwd=alice)  # what it says alice can do
    must("fetch", "--rev", unpushed[:10], "imgs", cwd=bob)
    assert run_dvx("gc", "-A", "--dry-run", cwd=bob).code == 0


def test_data_whose_pointer_a_sparse_checkout_leaves_out_is_named_with_what_brings_it(
        tmp_path):
    """gc's scope holds the index's pointers, those a sparse checkout leaves out too: the
    `dvx fetch` of such a path that gc suggests, a `dvx pull` of it and a stage reading it
    say that the sparse checkout leaves it out, and what they name works."""
    from tests.team import Team, must, share

    team = Team(tmp_path)
    alice = team.founder()
    write(alice / "A" / "x.txt", "a1\n")
    write(alice / "B" / "y.txt", "b1\n")
    write(alice / "B" / "dir" / "f", "bd\n")
    must("add", "A/x.txt", "B/y.txt", "B/dir", cwd=alice)
    must("stage", "add", "-n", "s1", "-d", "B/y.txt", "-o", "A/out.txt",
         "cat B/y.txt > A/out.txt", cwd=alice)
    must("repro", cwd=alice)
    share(alice, "data")
    sparse = team.clone("sparse", pull=False)
    git(sparse, "sparse-checkout", "set", "--cone", "A", ".dvx")
    must("pull", cwd=sparse)

    refused = run_dvx("gc", "-w", "-f", "--grace", "0", cwd=sparse)
    assert refused.code == 1 and "B/dir (in the index): its directory manifest" in refused.stderr
    assert "`dvx fetch B/dir` brings it" in refused.stderr  # the index's pointer: its path
    for command in (["fetch", "B/dir"], ["pull", "B/y.txt"]):
        left_out = run_dvx(*command, cwd=sparse)
        assert left_out.code == 2 and "not tracked" not in left_out.stderr, left_out.output
        assert "this sparse checkout leaves it out" in left_out.stderr
        assert "`git sparse-checkout add B`" in left_out.stderr
    fetch = left_out.stderr.split("(`")[1].split("`")[0]
    assert fetch == "dvx fetch --rev HEAD B/y.txt"
    must("fetch", "--rev", "HEAD", "B/dir", cwd=sparse)
    assert run_dvx("gc", "-w", "-f", "--grace", "0", cwd=sparse).code == 0

    stage = run_dvx("repro", "s1", cwd=sparse)
    assert stage.code == 2 and "leaves it out of the workspace" in stage.stderr, stage.output
    assert "`git sparse-checkout add B`, then `dvx pull B/y.txt`" in stage.stderr
    git(sparse, "sparse-checkout", "add", "B")
    must("pull", "B/y.txt", cwd=sparse)
    must("repro", "s1", cwd=sparse)
    assert (sparse / "A" / "out.txt").read_text() == "b1\n"


def test_bad_revision_is_refused(repo, dvx):
    _two_versions(repo, dvx)
    for rev in ("-oops", "no-such-branch"):
        result = dvx("gc", "--rev", rev, "-f")
        assert result.code == 2 and "revision" in result.stderr.lower()


def test_a_full_commit_id_that_names_no_object_is_an_unknown_revision(repo, dvx):
    """Git takes any 40 hex digits for an object id; one naming nothing is unknown, as its
    short form is, not "a Git object, not a commit"."""
    _two_versions(repo, dvx)
    absent = "1" * 40
    for args in (("gc", "--rev", absent, "-f"), ("diff", absent),
                 ("get", ".", "f", "--rev", absent, "-o", "copy.txt")):
        refused = dvx(*args)
        assert refused.code == 2, (args, refused.output)
        assert f"Unknown revision '{absent}'" in refused.stderr, refused.stderr
        assert "not a commit" not in refused.stderr
    assert not (repo / "copy.txt").exists()


def test_a_range_or_exclusion_is_refused_and_any_form_naming_one_commit_is_taken(repo, dvx):
    """--rev takes what names one commit in any of Git's forms (`:/message`, a tag, a reflog
    entry); a range, an exclusion or a tree is refused by name, deleting nothing."""
    _two_versions(repo, dvx)
    for rev in ("^HEAD", "v1..HEAD", "HEAD^@"):
        refused = dvx("gc", "--rev", rev, "-f", "--grace", "0")
        assert refused.code == 2, refused.output
        assert f"Invalid revision '{rev}': it names a range or an exclusion" in refused.stderr
        assert "missing" not in refused.stderr
    tree = dvx("gc", "--rev", "HEAD^{tree}", "-f", "--grace", "0")
    assert tree.code == 2 and "it names a Git tree, not a commit" in tree.stderr, tree.output
    for rev, used in ((":/v1", 6), ("v1", 6), ("HEAD@{0}", 3)):  # v1's and the workspace's
        kept = dvx("gc", "--rev", rev, "--dry-run", "--grace", "0")
        assert kept.code == 0 and f"kept {used} in use" in kept.stdout, kept.output
    # A short id a blob's id begins with too names the commit, as in `git log`.
    prefix = git(repo, "rev-parse", "HEAD").strip()[:4]
    blob = next(text for n in range(1 << 20) for text in [f"{n}\n".encode()]
                if hashlib.sha1(b"blob %d\0%s" % (len(text), text)).hexdigest()
                .startswith(prefix))
    subprocess.run(["git", "hash-object", "-w", "--stdin"], cwd=repo, input=blob, check=True,
                   capture_output=True)
    kept = dvx("gc", "--rev", prefix, "--dry-run", "--grace", "0")
    assert kept.code == 0 and "kept 3 in use" in kept.stdout, kept.output


def test_remote_gc_deletes_unused_remote_objects(repo, dvx, tmp_path):
    store = tmp_path / "store"
    dvx("remote", "add", "-d", "s", str(store))
    _two_versions(repo, dvx)
    dvx("push")
    git(repo, "checkout", "-q", "v1")
    dvx("checkout")
    assert dvx("push").code == 0
    git(repo, "checkout", "-q", "main")
    dvx("checkout")
    old = xxhash.xxh3_128_hexdigest(b"v1")
    remote = local_spec(store, str(store), {})
    assert old in remote.oids()
    packs_before = {key for key in remote.list_keys() if key.startswith("packs/")}
    assert dvx("gc", "-w", "--remote", "s", "-f", "--grace", "0").code == 0
    after = remote.oids()
    assert old not in after and xxhash.xxh3_128_hexdigest(b"v2") in after
    # v1's pack held nothing else live: it is gone, and one index names what is left
    assert remote.packed()[xxhash.xxh3_128_hexdigest(b"v2")][0] in packs_before
    assert len([key for key in remote.list_keys() if key.endswith(".idx")]) == 1
    assert dvx("fsck", "--remote", "s").code == 0
    assert old in _objects(repo)  # tag v1 uses it: the cache now has its last copy


def _fill(disk) -> None:
    """Fill `disk` (a tmpfs) up: no byte is left free on it."""
    fd = os.open(disk / "filler", os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        while True:
            os.write(fd, bytes(65536))
    except OSError as exc:
        assert exc.errno == errno.ENOSPC
    finally:
        os.close(fd)


def test_remote_gc_frees_a_remote_whose_disk_is_full(repo, dvx, small_disk):
    """A full remote is when gc --remote is run: its clock probe and its lock are written
    empty there (their names and times are all they need), and the indexes it replaces that
    name no pack make room for its own first, so it deletes the version out of scope and
    frees its bytes. The version kept is pulled whole, and no lock is left."""
    store = small_disk / "store"
    assert dvx("remote", "add", "-d", "s", str(store)).code == 0
    for version in (b"1", b"2"):  # above the pack threshold: loose, each push its own index
        write(repo / "model.bin", version * 3_000_000)
        assert dvx("add", "model.bin").code == 0
        assert dvx("push").code == 0
    _fill(small_disk)

    result = dvx("gc", "-w", "-c", "-f", "--grace", "0", "--force-last-copy")
    assert result.code == 0, result.output
    assert shutil.disk_usage(small_disk).free >= 3_000_000
    remote = local_spec(store, str(store), {})
    assert remote.oids() == {xxhash.xxh3_128_hexdigest(b"2" * 3_000_000)}
    assert list((store / "locks").iterdir()) == []
    shutil.rmtree(repo / ".dvx" / "cache")
    (repo / "model.bin").unlink()
    assert dvx("pull").code == 0
    assert (repo / "model.bin").read_bytes() == b"2" * 3_000_000


def test_remote_gc_frees_a_full_remote_whose_leaving_objects_are_packed(repo, dvx, small_disk):
    """On a full remote, the log of what leaves with the packs gc deletes finds no room: gc
    goes on without it (gc is what frees such a remote), deletes the packed directory out of
    scope and the version of the model out of scope, and frees their bytes."""
    store = small_disk / "store"
    assert dvx("remote", "add", "-d", "s", str(store)).code == 0
    for i in range(20):  # small files: packed
        write(repo / "D" / f"{i}.txt", os.urandom(3000))
    write(repo / "model.bin", b"1" * 3_000_000)
    assert dvx("add", "D", "model.bin").code == 0
    assert dvx("push").code == 0
    remote = local_spec(store, str(store), {})
    packed = set(remote.packed())
    assert len(packed) >= 20
    assert dvx("remove", "D.dvx").code == 0
    shutil.rmtree(repo / "D")
    write(repo / "model.bin", b"2" * 3_000_000)
    assert dvx("add", "model.bin").code == 0
    assert dvx("push").code == 0
    _fill(small_disk)

    result = dvx("gc", "-w", "-c", "-f", "--grace", "0", "--force-last-copy")
    assert result.code == 0, result.output
    assert shutil.disk_usage(small_disk).free >= 3_000_000
    assert remote.oids() == {xxhash.xxh3_128_hexdigest(b"2" * 3_000_000)}
    assert not [key for key in remote.list_keys() if key.startswith(("packs/", "logs/gc/"))]
    assert dvx("fsck", "--remote", "s").code == 0


@pytest.fixture
def few_inodes(tmp_path):
    """A real tmpfs with room for 64 files (root only): they run out before its bytes do."""
    yield from mounted_tmpfs(tmp_path / "disk", "size=8m,nr_inodes=64")


def test_remote_gc_on_a_disk_with_no_room_for_an_empty_file_says_it_is_full(repo, dvx,
                                                                            few_inodes):
    """Where not even an empty file can be made (no inode left), gc --remote stops before it
    deletes anything, here or there, saying that the remote's disk is full and to free some
    room on it, never to check the credentials and the network."""
    store = few_inodes / "store"
    assert dvx("remote", "add", "-d", "s", str(store)).code == 0
    for version in ("v1", "v2"):
        write(repo / "f", version)
        assert dvx("add", "f").code == 0
        assert dvx("push").code == 0
    cached, remote = _objects(repo), local_spec(store, str(store), {})
    stored = remote.oids()
    with pytest.raises(OSError) as no_inode:
        for i in range(64):
            (few_inodes / f"filler{i}").touch()
    assert no_inode.value.errno == errno.ENOSPC

    result = dvx("gc", "-w", "-c", "-f", "--grace", "0", "--force-last-copy")
    said = " ".join(result.stderr.split())
    assert result.code == 1, result.output
    assert f"its disk (mounted at {few_inodes}) is full" in said
    assert "Free a little room on that disk" in said and "credentials" not in said
    assert _objects(repo) == cached and len(cached) == 2 and remote.oids() == stored


@pytest.mark.parametrize("spelling", [
    ("-c", "-r", "s"), ("--cloud", "--remote", "s"), ("-c",), ("--cloud",),  # DVC's
    ("-c", "s"), ("--cloud", "s"), ("--remote", "s"), ("-c", "s", "-r", "s"),
    ("--cloud", "--remote", "s"),
], ids=" ".join)
def test_dvc_s_cloud_switch_and_a_remote_s_name_both_have_gc_clean_that_remote(
        repo, dvx, tmp_path, spelling):
    dvx("remote", "add", "-d", "s", str(tmp_path / "store"))
    dvx("remote", "add", "other", str(tmp_path / "other"))
    _two_versions(repo, dvx)
    assert dvx("push", "-A").code == 0 and dvx("push", "-A", "-r", "other").code == 0
    git(repo, "tag", "-d", "v1")  # v1's objects are now unused
    planned = dvx("gc", "-w", *spelling, "--dry-run", "--grace", "0")
    assert planned.code == 0, planned.output
    assert "from the remote 's'" in planned.stdout and "'other'" not in planned.stdout
    done = dvx("gc", "-w", *spelling, "-f", "--grace", "0")
    assert done.code == 0, done.output
    old = xxhash.xxh3_128_hexdigest(b"v1")
    assert old not in local_spec(tmp_path / "store", str(tmp_path / "store"), {}).oids()
    assert old in local_spec(tmp_path / "other", str(tmp_path / "other"), {}).oids()


def test_gc_refuses_two_remotes_or_a_cloud_switch_with_no_default_remote(repo, dvx, tmp_path):
    dvx("remote", "add", "s", str(tmp_path / "store"))
    dvx("remote", "add", "other", str(tmp_path / "other"))
    _two_versions(repo, dvx)
    git(repo, "tag", "-d", "v1")
    before = _objects(repo)
    two = dvx("gc", "-w", "-c", "s", "-r", "other", "-f", "--grace", "0")
    assert two.code == 2 and "-c s and -r other name two remotes" in two.stderr, two.output
    also = dvx("gc", "-w", "--remote", "s", "-r", "other", "-f", "--grace", "0")
    assert also.code == 2 and "--remote s and -r other name two remotes" in also.stderr
    no_default = dvx("gc", "-w", "-c", "-f", "--grace", "0")
    assert no_default.code == 1, no_default.output
    assert "no default remote is set" in no_default.stderr
    assert "dvx remote default NAME" in no_default.stderr
    assert _objects(repo) == before


def test_dvc_s_remote_option_alone_is_refused_deleting_nothing(repo, dvx, tmp_path):
    """`dvc gc -w -r NAME` cleans the cache alone; dvx's --remote NAME also cleans the
    remote: the short spelling alone is refused, so neither reading surprises anyone."""
    dvx("remote", "add", "-d", "s", str(tmp_path / "store"))
    _two_versions(repo, dvx)
    assert dvx("push", "-A").code == 0
    git(repo, "tag", "-d", "v1")
    cached, stored = _objects(repo), local_spec(tmp_path / "store", str(tmp_path / "store"),
                                                {}).oids()
    alone = dvx("gc", "-w", "-r", "s", "-f", "--grace", "0")
    assert alone.code == 2, alone.output
    assert "-r s names the remote that -c cleans" in alone.stderr
    assert "Add -c" in alone.stderr and "Traceback" not in alone.output
    assert _objects(repo) == cached
    assert local_spec(tmp_path / "store", str(tmp_path / "store"), {}).oids() == stored


def test_grace_protects_what_another_repository_just_wrote(tmp_path):
    shared = tmp_path / "shared-cache"
    first, second = make_git_repo(tmp_path / "one"), make_git_repo(tmp_path / "two")
    for root in (first, second):
        assert run_dvx("init", cwd=root).code == 0
        assert run_dvx("config", "cache.dir", str(shared), cwd=root).code == 0
    write(second / "model.bin", os.urandom(1000))
    assert run_dvx("add", "model.bin", cwd=second).code == 0
    oid = xxhash.xxh3_128_hexdigest((second / "model.bin").read_bytes())
    assert run_dvx("gc", "-w", "-f", cwd=first).code == 0  # default grace: one hour
    assert (shared / "files/xxh128" / oid[:2] / oid[2:]).exists()


def _oid(content: str) -> str:
    return xxhash.xxh3_128_hexdigest(content.encode())


def _version(repo, dvx, content: str) -> str:
    (repo / "f").unlink(missing_ok=True)
    write(repo / "f", content)
    assert dvx("add", "f").code == 0
    return _oid(content)


def test_gc_keeps_what_the_index_stashes_and_reflogs_still_need(repo, dvx):
    _version(repo, dvx, "committed")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "base")
    # A commit that only the reflog reaches now (reset away).
    reflogged = _version(repo, dvx, "reset away")
    git(repo, "commit", "-qam", "to be reset")
    git(repo, "reset", "-q", "--hard", "HEAD~1")
    assert dvx("checkout").code == 0
    # Work stashed with `git stash`: the pointer goes into the stash.
    stashed = _version(repo, dvx, "stashed work")
    git(repo, "stash", "-q")
    assert dvx("checkout", "--force").code == 0
    # A version staged in the index, then replaced in the workspace by another.
    staged = _version(repo, dvx, "staged, not committed")
    git(repo, "add", "f.dvx")
    current = _version(repo, dvx, "in the workspace")

    workspace = json.loads(dvx("gc", "-w", "--dry-run", "--grace", "0", "--json").stdout)[0]
    gone = set(workspace["removed_oids"])
    assert not gone & {staged, current, stashed}  # the index and stashes are always kept
    assert reflogged not in gone and reflogged in workspace["kept_last_copy_oids"]
    forced = dvx("gc", "-w", "--dry-run", "--grace", "0", "--json", "--force-last-copy")
    assert reflogged in json.loads(forced.stdout)[0]["removed_oids"]  # -A keeps it in scope
    everything = json.loads(dvx("gc", "-A", "--dry-run", "--grace", "0", "--json").stdout)[0]
    assert not set(everything["removed_oids"]) & {staged, current, stashed, reflogged}
    real = dvx("gc", "-A", "-f", "--grace", "0", "--json")
    assert json.loads(real.stdout)[0]["removed_oids"] == everything["removed_oids"]
    assert {staged, current, stashed, reflogged} <= _objects(repo)

    git(repo, "reset", "-q", "--hard")
    git(repo, "stash", "pop", "-q")  # the stashed pointer comes back, and its data is there
    assert dvx("checkout", "--force").code == 0
    assert (repo / "f").read_text() == "stashed work"


def test_gc_reads_a_pointer_staged_with_git_add_n_as_no_version(repo, dvx):
    """`git add -N` (intent to add) leaves an index entry holding nothing: no version of the
    pointer is staged, so gc keeps what the workspace's pointer names and collects the rest
    instead of refusing to read the index."""
    old = _version(repo, dvx, "old")
    kept = _version(repo, dvx, "kept")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "base")
    write(repo / "g", "new")
    assert dvx("add", "g").code == 0
    git(repo, "add", "-N", "g.dvx")

    for scope in ("-w", "-a", "-A"):
        result = dvx("gc", scope, "--dry-run", "--grace", "0", "--json")
        assert result.code == 0, result.output
        assert json.loads(result.stdout)[0]["removed_oids"] == [old]
    assert dvx("gc", "-w", "-f", "--grace", "0").code == 0
    assert old not in _objects(repo) and {kept, _oid("new")} <= _objects(repo)


def _age(path, seconds: float = 7200) -> None:
    stamp = path.stat().st_mtime - seconds
    os.utime(path, (stamp, stamp))


def test_re_adding_cached_content_makes_it_young_again(tmp_path):
    """Two repositories share a cache: what one adds again is not collected by the other,
    however old the object was."""
    shared = tmp_path / "shared-cache"
    first, second = make_git_repo(tmp_path / "one"), make_git_repo(tmp_path / "two")
    for root in (first, second):
        assert run_dvx("init", cwd=root).code == 0
        assert run_dvx("config", "cache.dir", str(shared), cwd=root).code == 0
    for name, data in (("small.bin", b"s" * 100), ("large.bin", os.urandom(3 << 20))):
        write(first / name, data)
        assert run_dvx("add", name, cwd=first).code == 0
        obj = shared / "files/xxh128" / xxhash.xxh3_128_hexdigest(data)[:2] / \
            xxhash.xxh3_128_hexdigest(data)[2:]
        _age(obj)  # added long ago, then no longer used by the first repository
        write(second / name, data)  # ...and just now by the second
        assert run_dvx("add", name, cwd=second).code == 0
        assert time.time() - obj.stat().st_mtime < 600  # young again
        assert run_dvx("remove", f"{name}.dvx", cwd=first).code == 0
    assert run_dvx("gc", "-w", "-f", cwd=first).code == 0
    assert run_dvx("status", "-q", cwd=second).code == 0  # both objects are still there


@pytest.mark.parametrize("point", ["gc.before_delete", "gc.after_set_aside"])
@pytest.mark.parametrize("cache_type,size", [("symlink", 100), ("hardlink", 100),
                                             ("copy", 3 << 20)])
def test_content_added_while_another_repository_s_gc_deletes_it_survives(
        tmp_path, point, cache_type, size):
    """The second repository adds content whose old object the first one's gc has just
    found unused and is deleting (stopped before it takes the object out, or once it has
    moved it aside): the object stays, or is stored again, and the second keeps its data."""
    shared = tmp_path / "shared-cache"
    first, second = make_git_repo(tmp_path / "one"), make_git_repo(tmp_path / "two")
    for root in (first, second):
        assert run_dvx("init", cwd=root).code == 0
        assert run_dvx("config", "--local", "cache.dir", str(shared), cwd=root).code == 0
    assert run_dvx("config", "--local", "cache.type", cache_type, cwd=second).code == 0
    data = os.urandom(size)
    oid = xxhash.xxh3_128_hexdigest(data)
    obj = shared / "files/xxh128" / oid[:2] / oid[2:]
    write(first / "model.bin", data)
    assert run_dvx("add", "model.bin", cwd=first).code == 0
    assert run_dvx("remove", "model.bin.dvx", cwd=first).code == 0
    time.sleep(1.5)  # older than the grace period of one second, ctime included
    collecting = _stopped_at(point, f"gc -w -f --grace 1 --projects {second}", first)
    try:
        write(second / "model.bin", data)
        added = run_dvx("add", "model.bin", cwd=second)
        assert added.code == 0, added.output
    finally:
        collecting.send_signal(signal.SIGCONT)
        out, err = collecting.communicate(timeout=60)
    assert collecting.returncode == 0, out + err
    assert obj.is_file() and xxhash.xxh3_128_hexdigest(obj.read_bytes()) == oid
    assert (second / "model.bin").read_bytes() == data
    assert run_dvx("status", "-q", cwd=second).code == 0
    assert run_dvx("fsck", cwd=second).code == 0
    assert not list((shared / "tmp").iterdir())  # nothing left aside


def test_the_objects_gc_says_it_kept_are_those_the_place_holds(repo, dvx, tmp_path):
    """Four files in use: a remote holding none of them keeps 0, not 4; once pushed (packed,
    and one large file loose) it keeps all of them, as does a cache that lost one."""
    assert dvx("remote", "add", "-d", "s", str(tmp_path / "store")).code == 0
    (tmp_path / "store").mkdir()
    for name in ("a", "b", "c"):
        write(repo / name, name)
    write(repo / "big", os.urandom(3 << 20).hex())  # above the pack threshold: loose
    assert dvx("add", "a", "b", "c", "big").code == 0
    empty = dvx("gc", "-w", "--remote", "s", "-f")
    assert empty.code == 0, empty.output
    assert "from the cache; kept 4 in use." in empty.stdout
    assert "Removed 0 objects (0 B) from the remote 's'; kept 0 in use." in empty.stdout
    assert dvx("push").code == 0
    (repo / ".dvx/cache/files/xxh128" / _oid("a")[:2] / _oid("a")[2:]).unlink()
    full = dvx("gc", "-w", "--remote", "s", "-f", "--json")
    assert [(r["where"], r["reachable"]) for r in json.loads(full.stdout)] == [
        ("cache", 3), ("remote 's'", 4)]


def _model_pushed_long_ago(tmp_path, data: bytes):
    """Two repositories sharing a directory remote, both tracking the same model.bin, which
    the first pushed long ago: (first, second, store, remote, oid, the pack holding it)."""
    store = tmp_path / "store"
    first, second = make_git_repo(tmp_path / "one"), make_git_repo(tmp_path / "two")
    for root in (first, second):
        assert run_dvx("init", cwd=root).code == 0
        assert run_dvx("remote", "add", "-d", "s", str(store), cwd=root).code == 0
        write(root / "model.bin", data)
        assert run_dvx("add", "model.bin", cwd=root).code == 0
    oid = xxhash.xxh3_128_hexdigest(data)
    remote = local_spec(store, str(store), {})
    assert run_dvx("push", cwd=first).code == 0
    obj = store / remote.packed()[oid][0]  # the pack it went into
    _age(obj)
    return first, second, store, remote, oid, obj


def test_pushing_what_a_remote_has_protects_it_from_another_repository_s_gc(tmp_path):
    first, second, store, remote, oid, obj = _model_pushed_long_ago(tmp_path, os.urandom(5000))
    assert run_dvx("push", cwd=second).code == 0  # used by the second push just now
    logs = list((store / "logs/push").iterdir())
    assert len(logs) == 1 and oid in logs[0].read_text()
    assert run_dvx("remove", "model.bin.dvx", cwd=first).code == 0
    dry = run_dvx("gc", "-w", "--remote", "s", "--dry-run", cwd=first)
    assert "from the remote 's'; kept 0 in use and 1 newer than the grace period." in dry.stdout
    collected = run_dvx("gc", "-w", "--remote", "s", "-f", "--json", cwd=first)
    assert collected.code == 0 and json.loads(collected.stdout)[1]["kept_young"] == 1
    assert obj.exists() and oid in remote.oids()  # the push log kept it
    notes = store / "logs/push/README"  # not dvx's: never read, never deleted
    write(notes, "what these logs are\n")
    for old in (logs[0], notes):
        _age(old)  # of long ago (by the time the remote gave it)
    assert run_dvx("gc", "-w", "--remote", "s", "-f", cwd=first).code == 0
    assert oid not in remote.oids() and list((store / "logs/push").iterdir()) == [notes]
    assert not obj.exists()  # it held nothing else


def _data_and_a_dropped_file_pushed(tmp_path):
    """A repository with a directory `data` and a file `old.bin` pushed to a directory
    remote, then a commit without `old.bin`: (its root, the store, the remote, old.bin's oid)."""
    store = tmp_path / "store"
    first = make_git_repo(tmp_path / "first")
    assert run_dvx("init", cwd=first).code == 0
    assert run_dvx("remote", "add", "-d", "s", str(store), cwd=first).code == 0
    for i in range(3):
        write(first / "data" / f"{i}", f"v1 {i}")
    old = os.urandom(3000)
    write(first / "old.bin", old)
    assert run_dvx("add", "data", "old.bin", cwd=first).code == 0
    git(first, "add", "-A")
    git(first, "commit", "-qm", "v1")
    assert run_dvx("push", cwd=first).code == 0
    assert run_dvx("remove", "old.bin.dvx", cwd=first).code == 0
    git(first, "add", "-A")
    git(first, "commit", "-qm", "no old.bin")
    return first, store, local_spec(store, str(store), {}), xxhash.xxh3_128_hexdigest(old)


def test_a_partial_push_logs_the_files_it_pushed_and_holds_no_gc_up(tmp_path):
    """A push of some files of a tracked directory leaves the directory's new manifest in
    the cache: its push log names those files, not that manifest, so another clone's gc
    --remote keeps them and runs."""
    first, store, remote, old = _data_and_a_dropped_file_pushed(tmp_path)
    second = tmp_path / "second"
    git(tmp_path, "clone", "-q", str(first), str(second))
    assert run_dvx("pull", cwd=second).code == 0
    write(second / "data" / "1", "v2 1")
    assert run_dvx("add", "data", cwd=second).code == 0
    pushed = run_dvx("push", "data/1", "data/2", cwd=second)
    assert pushed.code == 0 and "1 already there" in pushed.stdout, pushed.output
    new, found = xxhash.xxh3_128_hexdigest(b"v2 1"), xxhash.xxh3_128_hexdigest(b"v1 2")
    logs = list((store / "logs/push").iterdir())
    assert len(logs) == 1
    assert logs[0].read_text().splitlines()[1:] == sorted([f"f {new}", f"f {found}"])
    for stored in [*store.glob("packs/*"), *store.glob("files/*/*/*")]:
        _age(stored)  # only the push log keeps what the second clone pushed
    collected = run_dvx("gc", "-w", "--remote", "s", "-f", cwd=first)
    assert collected.code == 0, collected.output
    assert old not in remote.oids() and {new, found} <= remote.oids()


def test_a_push_log_too_long_for_one_read_is_written_as_several(tmp_path, monkeypatch):
    """A push of many files one by one (part of a large directory): every file it names is
    read back, none lost past what a reader reads of one log."""
    from dvx.objects.odb import ObjectStore
    from dvx.remote import pushlog

    monkeypatch.setattr(pushlog, "MAX_LOG_BYTES", 200)
    remote = ObjectStore(DirectoryBlobs(str(tmp_path / "store")), "xxh128")
    files = {xxhash.xxh3_128_hexdigest(str(i).encode()) for i in range(20)}
    manifest = xxhash.xxh3_128_hexdigest(b"manifest")
    pushlog.record(remote, files, [manifest])
    logs = list((tmp_path / "store/logs/push").iterdir())
    assert len(logs) > 1 and all(len(log.read_bytes()) <= 200 for log in logs)
    found = pushlog.recent(remote, time.time() - 60)
    assert found.files == files and found.manifests == {manifest}


@pytest.mark.parametrize("kind", ["gc", "push"])
def test_a_log_deleted_between_the_listing_and_its_read_is_skipped(tmp_path, monkeypatch, kind):
    """fsck --remote reads the gc logs beside a gc that deletes its own once done, and gc
    deletes expired push logs: a log gone after the reader listed it names nothing, and the
    others are still read."""
    from dvx.objects.odb import ObjectStore
    from dvx.remote import gclog, pushlog

    remote = ObjectStore(DirectoryBlobs(str(tmp_path / "store")), "xxh128")
    kept, gone = (xxhash.xxh3_128_hexdigest(name) for name in (b"kept", b"gone"))
    for oid in (kept, gone):
        if kind == "gc":
            gclog.record(remote, {f"{oid}.pack": {oid: 5}})
        else:
            pushlog.record(remote, [oid], [])
    listed = remote.list_logs(kind)
    assert len(listed) == 2
    gone_log = next(name for name in listed
                    if gone in (tmp_path / "store/logs" / kind / name).read_text())

    def list_then_finish(of_kind):
        (tmp_path / "store/logs" / of_kind / gone_log).unlink()  # a teammate's gc finishing
        return listed

    monkeypatch.setattr(remote, "list_logs", list_then_finish)
    if kind == "gc":
        assert gclog.read(remote).leaving == {f"{kept}.pack": {kept: 5}}
    else:
        assert pushlog.recent(remote, time.time() - 60).files == {kept}


def test_a_gc_log_of_a_newer_format_is_neither_counted_nor_deleted(tmp_path):
    """A gc log whose header is not this dvx's names nothing it can read: gc counts none of
    its lines and, not listing it among the logs read, never deletes it."""
    from dvx.objects.odb import ObjectStore
    from dvx.remote import gclog

    remote = ObjectStore(DirectoryBlobs(str(tmp_path / "store")), "xxh128")
    ours, newer = (xxhash.xxh3_128_hexdigest(name) for name in (b"ours", b"newer"))
    (read_log,) = gclog.record(remote, {f"{ours}.pack": {ours: 5}})
    remote.write_log("gc", "1700000000-0123456789abcdef.log",
                     f"dvx gc log 2\np {newer}.pack\no {newer} 5\n".encode())
    found = gclog.read(remote)
    assert found.leaving == {f"{ours}.pack": {ours: 5}}
    assert found.logs == {read_log: {f"{ours}.pack"}}


def test_a_gc_log_places_what_leaves_in_its_pack_in_lines_a_reader_may_skip(tmp_path):
    """A gc log gives where an object leaving with a pack lies in it on an `a` line of its
    own after the object's `o` line: a reader that does not know `a` lines (an older dvx)
    reads the `o` lines as before, and one naming an object no `o` line names places
    nothing."""
    from dvx.objects.odb import ObjectStore
    from dvx.remote import gclog

    remote = ObjectStore(DirectoryBlobs(str(tmp_path / "store")), "xxh128")
    one, two, stray = (xxhash.xxh3_128_hexdigest(name) for name in (b"one", b"two", b"x"))
    (name,) = gclog.record(remote, {f"{one}.pack": {one: 5, two: 7}},
                           {f"{one}.pack": {one: 44}})
    lines = (tmp_path / "store/logs/gc" / name).read_text().splitlines()
    assert lines[lines.index(f"o {one} 5") + 1] == f"a {one} 44"
    with open(tmp_path / "store/logs/gc" / name, "a") as log:
        log.write(f"a {stray} 60\n")
    found = gclog.read(remote)
    assert found.leaving == {f"{one}.pack": {one: 5, two: 7}}
    assert found.offsets == {f"{one}.pack": {one: 44}}


def test_a_push_log_is_as_old_as_the_remote_says_whatever_the_pusher_s_clock(tmp_path,
                                                                             monkeypatch):
    """A pusher whose clock runs two hours behind names its log two hours in the past: the
    log still protects what it names for the grace period, counted from when the remote stored
    it. From a store whose listing gives no times, the name's seconds count, with the clock
    skew allowed for."""
    from dvx.objects.odb import ObjectStore
    from dvx.remote import pushlog
    from dvx.remote.locks import CLOCK_SKEW

    remote = ObjectStore(DirectoryBlobs(str(tmp_path / "store")), "xxh128")
    oid = xxhash.xxh3_128_hexdigest(b"found on the remote")
    pushlog.record(remote, [oid], [], now=time.time() - 7200)
    assert pushlog.recent(remote, time.time() - 3600).files == {oid}
    (log,) = (tmp_path / "store/logs/push").iterdir()
    _age(log)
    assert pushlog.recent(remote, time.time() - 3600).expired == [log.name]
    untimed = {log.name: (1, None)}
    monkeypatch.setattr(remote.blobs, "details", lambda directory: untimed)
    named = int(log.name.split("-")[0])
    assert pushlog.recent(remote, named + CLOCK_SKEW).files == {oid}
    assert pushlog.recent(remote, named + CLOCK_SKEW + 1).expired == [log.name]


@pytest.mark.parametrize("size", [5000, 1_500_000], ids=["packed", "loose"])
def test_remote_gc_on_a_machine_whose_clock_runs_ahead_keeps_what_was_just_pushed(
        tmp_path, monkeypatch, size):
    """gc --remote runs where the clock is two hours ahead of the remote's: an object pushed
    a moment ago is young on the remote's clock, which gc reads there, so neither the dry run
    nor the real run deletes it. The cache's ages stay on this machine's clock."""
    from dvx.history import Scope
    from dvx.ops.gc import gc
    from dvx.repo import Repo

    store = tmp_path / "store"
    first = make_git_repo(tmp_path / "first")
    assert run_dvx("init", cwd=first).code == 0
    assert run_dvx("remote", "add", "-d", "s", str(store), cwd=first).code == 0
    data = os.urandom(size)
    write(first / "model.bin", data)
    assert run_dvx("add", "model.bin", cwd=first).code == 0
    assert run_dvx("push", cwd=first).code == 0
    assert run_dvx("remove", "model.bin.dvx", cwd=first).code == 0  # used by nothing now
    oid, remote = xxhash.xxh3_128_hexdigest(data), local_spec(store, str(store), {})
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + 7200)
    repo = Repo.find(str(first))
    dry = gc(repo, Scope(), "s", dry_run=True)
    done = gc(repo, Scope(), "s")
    assert dry[1].removed == done[1].removed == [] and done[1].kept_young == 1
    assert oid in remote.oids()
    assert done[0].removed == [oid]  # two hours old in the cache, by this machine's clock
    assert not list((store / "locks").iterdir())  # the probe of the remote's clock is gone


def test_a_dry_run_on_a_remote_this_user_may_only_read_lists_what_gc_would_delete(
        tmp_path, monkeypatch, capsys):
    """The remote refuses every write (a read-only filesystem): the dry run cannot write its
    probe of the remote's clock, so it measures the grace period on this machine's clock and
    says so; the real run, which could not delete there anyway, stops and says why."""
    import errno

    from dvx.errors import RemoteError
    from dvx.history import Scope
    from dvx.ops.gc import gc
    from dvx.repo import Repo

    store = tmp_path / "store"
    first = make_git_repo(tmp_path / "first")
    assert run_dvx("init", cwd=first).code == 0
    assert run_dvx("remote", "add", "-d", "s", str(store), cwd=first).code == 0
    write(first / "model.bin", "unused soon")
    assert run_dvx("add", "model.bin", cwd=first).code == 0
    assert run_dvx("push", cwd=first).code == 0
    assert run_dvx("remove", "model.bin.dvx", cwd=first).code == 0  # used by nothing now
    oid = xxhash.xxh3_128_hexdigest(b"unused soon")

    def refused(self, path, data):
        raise OSError(errno.EROFS, "Read-only file system", path)

    monkeypatch.setattr(DirectoryBlobs, "put", refused)
    repo = Repo.find(str(first))
    dry = gc(repo, Scope(), "s", dry_run=True, grace_seconds=0)
    assert dry[1].removed == [oid] and dry[1].dry_run
    assert "measured on this machine's clock" in capsys.readouterr().err
    with pytest.raises(RemoteError) as real:
        gc(repo, Scope(), "s", grace_seconds=0)
    assert "cannot write there" in real.value.hint and "network" not in real.value.hint
    assert oid in local_spec(store, str(store), {}).oids()


def test_a_logged_manifest_nobody_has_holds_up_only_a_gc_that_would_delete(tmp_path):
    """A push log names a directory manifest that is in neither the cache nor the remote
    (written so by an older dvx after a partial push): which files that push relied on is
    unknown, so gc deletes nothing from the remote while that log counts, but it is no
    reason to stop a gc that would delete nothing there."""
    first, store, remote, old = _data_and_a_dropped_file_pushed(tmp_path)
    for stored in [*store.glob("packs/*"), *store.glob("files/*/*/*")]:
        _age(stored)  # pushed long ago
    unknown = xxhash.xxh3_128_hexdigest(b"a manifest never pushed")
    log = store / "logs/push" / f"{int(time.time()):010d}-{'0' * 16}.log"
    write(log, f"dvx push log 1\nd {unknown}\n")
    publish(first, tmp_path / "origin.git")
    everything = run_dvx("gc", "-A", "--remote", "s", "-f", cwd=first)
    assert everything.code == 0, everything.output  # it would delete nothing there
    refused = run_dvx("gc", "-w", "--remote", "s", "-f", cwd=first)
    assert refused.code == 1 and "Traceback" not in refused.output
    assert unknown in refused.stderr
    assert "From the clone that pushed it" in refused.stderr
    assert "in about 60 minutes" in refused.stderr
    assert old in remote.oids()
    _age(log)
    assert run_dvx("gc", "-w", "--remote", "s", "-f", cwd=first).code == 0
    assert old not in remote.oids() and not list((store / "logs/push").iterdir())


def test_gc_stays_off_a_remote_while_a_push_counts_on_what_is_there(tmp_path):
    """The second repository's push finds the object on the remote (uploaded long ago by the
    first) and relies on it; its push log, which would keep it from gc, is written only as
    the push ends. gc from the first repository meanwhile must not delete it."""
    data = os.urandom(5000)
    first, second, store, remote, oid, obj = _model_pushed_long_ago(tmp_path, data)
    pushing = _stopped_at("push.before_manifests", "push", second)
    try:
        assert run_dvx("remove", "model.bin.dvx", cwd=first).code == 0
        assert run_dvx("config", "core.lock_wait", "0", cwd=first).code == 0
        refused = run_dvx("gc", "-w", "--remote", "s", "-f", cwd=first)
        assert refused.code == 3, refused.output
        assert "in use by a dvx push" in refused.stderr and "Traceback" not in refused.output
        assert obj.exists() and oid in remote.oids()
    finally:
        pushing.send_signal(signal.SIGCONT)
        out, err = pushing.communicate(timeout=60)
    assert pushing.returncode == 0, out + err
    assert run_dvx("gc", "-w", "--remote", "s", "-f", cwd=first).code == 0
    assert obj.exists() and oid in remote.oids()  # the push log, now written, keeps it
    assert not (store / "locks").exists() or not list((store / "locks").iterdir())
    fresh = make_git_repo(tmp_path / "three")
    git(second, "add", "-A")
    git(second, "commit", "-qm", "model")
    git(fresh, "pull", "-q", str(second), "main")
    assert run_dvx("pull", cwd=fresh).code == 0
    assert (fresh / "model.bin").read_bytes() == data


def test_gc_that_cannot_lock_the_remote_deletes_nothing_from_the_cache_either(tmp_path):
    """gc -w -c REMOTE while a push holds the remote's lock fails with exit status 3 having
    changed nothing: the object only the cache holds, which no pointer uses, is still there
    (the remote's lock is taken before gc deletes anything), and a gc run once the push is
    done deletes it."""
    store = tmp_path / "store"
    root = make_git_repo(tmp_path / "repo")
    assert run_dvx("init", cwd=root).code == 0
    assert run_dvx("remote", "add", "-d", "s", str(store), cwd=root).code == 0
    assert run_dvx("config", "core.lock_wait", "0", cwd=root).code == 0
    write(root / "junk.txt", "used by nothing soon")
    assert run_dvx("add", "junk.txt", cwd=root).code == 0
    assert run_dvx("remove", "junk.txt.dvx", cwd=root).code == 0
    write(root / "model.bin", os.urandom(5000))
    assert run_dvx("add", "model.bin", cwd=root).code == 0
    cache = root / ".dvx/cache/files/xxh128"
    junk = xxhash.xxh3_128_hexdigest(b"used by nothing soon")
    before = sorted(p.relative_to(cache) for p in cache.rglob("*") if p.is_file())
    assert (cache / junk[:2] / junk[2:]).exists()
    pushing = _stopped_at("push.before_manifests", "push", root)
    try:
        refused = run_dvx("gc", "-w", "-c", "s", "-f", "--grace", "0", cwd=root)
        assert refused.code == 3, refused.output
        assert "in use by a dvx push" in refused.stderr and "Traceback" not in refused.output
        assert sorted(p.relative_to(cache) for p in cache.rglob("*") if p.is_file()) == before
    finally:
        pushing.send_signal(signal.SIGCONT)
        out, err = pushing.communicate(timeout=60)
    assert pushing.returncode == 0, out + err
    assert run_dvx("gc", "-w", "-c", "s", "-f", "--grace", "0", cwd=root).code == 0
    assert not (cache / junk[:2] / junk[2:]).exists()


def test_a_push_waits_for_gc_and_a_killed_push_does_not_hold_gc_up(tmp_path):
    store = tmp_path / "store"
    root = make_git_repo(tmp_path / "repo")
    assert run_dvx("init", cwd=root).code == 0
    assert run_dvx("remote", "add", "-d", "s", str(store), cwd=root).code == 0
    assert run_dvx("config", "core.lock_wait", "0", cwd=root).code == 0
    write(root / "model.bin", os.urandom(5000))
    assert run_dvx("add", "model.bin", cwd=root).code == 0
    with RemoteLock(DirectoryBlobs(str(store)), GC, "'s'", 0):  # gc elsewhere, under way
        refused = run_dvx("push", cwd=root)
        assert refused.code == 3 and "in use by a dvx gc" in refused.stderr
        assert not (store / "packs").exists()  # nothing was sent
    killed = run_dvx_proc("push", cwd=root, env={"DVX_FAULT": "push.before_manifests"})
    assert killed.code == -signal.SIGKILL
    assert len(list((store / "locks").iterdir())) == 1  # it could not take its lock back
    collected = run_dvx("gc", "-w", "--remote", "s", "-f", cwd=root)
    assert collected.code == 0 and "its process is gone" in collected.stderr
    assert list((store / "locks").iterdir()) == []
    assert run_dvx("push", cwd=root).code == 0


def test_fsck_during_another_clone_s_repack_takes_no_live_object_out(tmp_path):
    store = tmp_path / "store"
    root = make_git_repo(tmp_path / "repo")
    assert run_dvx("init", cwd=root).code == 0
    assert run_dvx("remote", "add", "-d", "s", str(store), cwd=root).code == 0
    for i in range(20):
        write(root / "keep" / f"{i}.bin", os.urandom(500))
        write(root / "drop" / f"{i}.bin", os.urandom(500))
    assert run_dvx("add", "keep", "drop", cwd=root).code == 0
    assert run_dvx("push", cwd=root).code == 0  # one pack holds both
    assert run_dvx("remove", "drop.dvx", cwd=root).code == 0
    checking = _stopped_at("fsck.after_listing_indexes", "fsck --remote s", root)
    try:  # fsck has listed the indexes; the gc replaces them and the pack
        assert run_dvx("gc", "-w", "--remote", "s", "-f", "--grace", "0", cwd=root).code == 0
    finally:
        checking.send_signal(signal.SIGCONT)
        out, err = checking.communicate(timeout=60)
    assert checking.returncode == 0, out + err
    assert "missing" not in err.lower() and "corrupt" not in err.lower(), err
    assert run_dvx("status", "--remote", "-q", cwd=root).code == 0
    os.rename(root / ".dvx" / "cache", tmp_path / "old-cache")
    assert run_dvx("fetch", cwd=root).code == 0


def test_fsck_during_a_gc_on_s3_reports_nothing_the_gc_deleted_as_lost(tmp_path, request):
    """fsck --remote has listed the indexes when a gc deletes an unused loose object and
    repacks a pack that held an unused one: under the remote's lock fsck looks again, and
    reports neither as lost, no pack as named by no index, and counts what is there now."""
    from tests.remotes import _s3_spec, configure

    spec = _s3_spec(request.getfixturevalue("seaweed_s3"), request)
    root = make_git_repo(tmp_path / "repo")
    assert run_dvx("init", cwd=root).code == 0
    configure(lambda *args, cwd: run_dvx(*args, cwd=cwd), root, spec, "s")
    for version in (1, 2):  # v2 of small.bin (packed) and big.bin (loose) leaves v1 unused
        if version == 1:
            write(root / "keep.bin", os.urandom(500))
        write(root / "small.bin", os.urandom(500))
        write(root / "big.bin", os.urandom(1_100_000))
        assert run_dvx("add", "keep.bin", "small.bin", "big.bin", cwd=root).code == 0
        assert run_dvx("push", cwd=root).code == 0
    packs_before = {key for key in spec.list_raw() if key.startswith("packs/")}
    checking = _stopped_at("fsck.after_listing_indexes", "fsck --remote s", root)
    try:
        gc = run_dvx("gc", "-w", "--remote", "s", "-f", "--grace", "0", cwd=root)
        assert gc.code == 0 and "Removed 2 objects" in gc.output, gc.output
        assert not packs_before <= {key for key in spec.list_raw() if key.startswith("packs/")}
    finally:
        checking.send_signal(signal.SIGCONT)
        out, err = checking.communicate(timeout=60)
    assert checking.returncode == 0, out + err
    assert "Checked 3 objects in the remote s: 0 corrupt, 0 missing, 0 lost." in out, out + err
    assert "lost" not in err.lower() and "no index" not in (out + err), out + err


def test_a_pull_reads_through_a_repack_by_another_clone_s_gc(tmp_path):
    """A clone's pull has read the remote's indexes when another clone's gc --remote moves
    the objects it needs into a new pack and deletes the old one: the pull finds them anew."""
    store = tmp_path / "store"
    first = make_git_repo(tmp_path / "one")
    assert run_dvx("init", cwd=first).code == 0
    assert run_dvx("remote", "add", "-d", "s", str(store), cwd=first).code == 0
    for i in range(10):
        write(first / "data" / f"{i}.bin", os.urandom(2000 + i))
    assert run_dvx("add", "data", cwd=first).code == 0
    assert run_dvx("push", cwd=first).code == 0
    for i in range(5):  # dead on the remote once the next version is all that is kept
        (first / "data" / f"{i}.bin").unlink()
    assert run_dvx("add", "data", cwd=first).code == 0
    assert run_dvx("push", cwd=first).code == 0
    git(first, "add", "-A")
    git(first, "commit", "-qm", "five files")
    packs_before = set((store / "packs").iterdir())
    second = tmp_path / "two"
    git(tmp_path, "clone", "-q", str(first), str(second))
    pulling = _stopped_at("fetch.before_files", "pull", second)
    try:
        gc = run_dvx("gc", "-w", "--remote", "s", "--grace", "0", "-f", cwd=first)
        assert gc.code == 0, gc.output
        assert not packs_before <= set((store / "packs").iterdir())  # a pack was rewritten
    finally:
        pulling.send_signal(signal.SIGCONT)
        out, err = pulling.communicate(timeout=60)
    assert pulling.returncode == 0, out + err
    assert tree_bytes(second / "data") == tree_bytes(first / "data")


def test_a_pull_that_listed_the_indexes_before_a_gc_deleted_its_data_says_gc_may_have(
        tmp_path):
    """A clone's pull has listed the remote's indexes when another clone's gc --remote, whose
    scope leaves out the pulled commit, repacks the pack and deletes that commit's data on
    purpose: the indexes read again no longer name it, so the pull says the remote does not
    have it (never pushed, or a gc whose scope left it out), not that it was lost."""
    store = tmp_path / "store"
    first = make_git_repo(tmp_path / "one")
    assert run_dvx("init", cwd=first).code == 0
    assert run_dvx("remote", "add", "-d", "s", str(store), cwd=first).code == 0
    for i in range(10):
        write(first / "data" / f"{i}.bin", f"v1 {i}")
    assert run_dvx("add", "data", cwd=first).code == 0
    assert run_dvx("push", cwd=first).code == 0
    git(first, "add", "-A")
    git(first, "commit", "-qm", "v1")
    second = tmp_path / "two"
    git(tmp_path, "clone", "-q", str(first), str(second))
    pulling = _stopped_at("inventory.listed", "pull", second)
    try:
        write(first / "data" / "0.bin", "v2")  # v1's manifest and 0.bin are dead in v2
        assert run_dvx("add", "data", cwd=first).code == 0
        assert run_dvx("push", cwd=first).code == 0
        git(first, "commit", "-qam", "v2")
        gc = run_dvx("gc", "-w", "--remote", "s", "--grace", "0", "-f", cwd=first)
        assert gc.code == 0, gc.output
    finally:
        pulling.send_signal(signal.SIGCONT)
        out, err = pulling.communicate(timeout=60)
    assert pulling.returncode == 1, out + err
    assert "The remote 's' does not have that data (data.dvx" in err, err
    assert "a `dvx gc --remote` whose scope left out that commit" in err
    assert "lost" not in err and "its pack" not in err, err


def test_gc_of_a_store_moved_to_another_endpoint_keeps_its_packs_while_the_old_is_read(
        tmp_path, moto_s3, other_moto_s3, monkeypatch):
    """Remotes `old` and `new`: one s3:// URL on two endpoints (a store being moved to another
    provider keeps its bucket's name). A command reading `old`'s indexes, between the listing
    of `new`'s indexes by `gc --remote new` and its reading them, must not make gc take `new`'s
    packs for packs no index names: each store keeps its own copies of its indexes."""
    import uuid

    import boto3

    for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing")):
        monkeypatch.setenv(name, value)
    bucket = f"moved-{uuid.uuid4().hex[:12]}"
    root = make_git_repo(tmp_path / "repo")
    assert run_dvx("init", cwd=root).code == 0
    for name, server in (("old", moto_s3), ("new", other_moto_s3)):
        boto3.client("s3", endpoint_url=server["endpoint_url"], region_name="us-east-1"
                     ).create_bucket(Bucket=bucket)
        assert run_dvx("remote", "add", name, f"s3://{bucket}/project", cwd=root).code == 0
        assert run_dvx("remote", "modify", name, "endpointurl", server["endpoint_url"],
                       cwd=root).code == 0
    for i in range(20):
        write(root / "d" / f"{i}", f"v1 {i}")
    assert run_dvx("add", "d", cwd=root).code == 0
    assert run_dvx("push", "-r", "new", cwd=root).code == 0  # v1: only `new` has its index
    for i in range(5):
        write(root / "d" / f"{i}", f"v2 {i}")
    assert run_dvx("add", "d", cwd=root).code == 0
    for name in ("new", "old"):
        assert run_dvx("push", "-r", name, cwd=root).code == 0
    # The second listing: the plan gc carries out, under the remote's lock.
    collecting = _stopped_at("inventory.listed:2", "gc -w -c new --grace 0 -f "
                             "--force-last-copy", root)
    try:
        assert run_dvx("status", "-c", "-r", "old", "-q", cwd=root).code == 0
    finally:
        collecting.send_signal(signal.SIGCONT)
        out, err = collecting.communicate(timeout=60)
    assert collecting.returncode == 0, out + err
    assert run_dvx("status", "-c", "-r", "new", "-q", cwd=root).code == 0
    checked = run_dvx("fsck", "--remote", "new", cwd=root)
    assert checked.code == 0 and "0 missing" in checked.stdout, checked.output


def test_a_push_that_waited_for_gc_uploads_what_the_gc_deleted(tmp_path):
    """A clone on an old branch pushes while another clone's gc --remote holds the remote:
    before it waits, the push reads the indexes (for a manifest it never fetched), which
    still name the old branch's files. Once it holds the lock it must read them again, and
    upload what the gc deleted meanwhile, not count it as already there."""
    store = tmp_path / "store"
    first = make_git_repo(tmp_path / "first")
    assert run_dvx("init", cwd=first).code == 0
    assert run_dvx("remote", "add", "-d", "s", str(store), cwd=first).code == 0
    for i in range(5):
        write(first / "data" / f"{i}", f"v1 {i}")
        write(first / "side" / f"{i}", f"side {i}")
    assert run_dvx("add", "data", "side", cwd=first).code == 0
    git(first, "add", "-A")
    git(first, "commit", "-qm", "v1")
    git(first, "branch", "old")
    assert run_dvx("push", cwd=first).code == 0
    for i in range(5):
        write(first / "data" / f"{i}", f"v2 {i}")
    assert run_dvx("add", "data", cwd=first).code == 0
    git(first, "commit", "-qam", "v2")
    assert run_dvx("push", cwd=first).code == 0
    second = tmp_path / "second"
    git(tmp_path, "clone", "-q", "-b", "old", str(first), str(second))
    assert run_dvx("pull", "data", cwd=second).code == 0  # side's manifest is not in its cache
    assert run_dvx("config", "core.lock_wait", "60", cwd=second).code == 0
    collecting = _stopped_at("gc.repack.after_pack", "gc -w --remote s -f --grace 0", first)
    try:
        pushing = subprocess.Popen(
            [sys.executable, "-m", "dvx", "push"], cwd=second, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
        assert pushing.stderr is not None
        waiting = pushing.stderr.readline()  # it has read the indexes, and waits for the gc
        assert "Waiting up to" in waiting, waiting + pushing.communicate()[1]
    finally:
        collecting.send_signal(signal.SIGCONT)
        out, err = collecting.communicate(timeout=60)
    assert collecting.returncode == 0, out + err
    out, err = pushing.communicate(timeout=60)
    assert pushing.returncode == 0 and "Pushed 6 objects" in out, out + err
    third = tmp_path / "third"
    git(tmp_path, "clone", "-q", "-b", "old", str(first), str(third))
    assert run_dvx("pull", cwd=third).code == 0
    assert tree_bytes(third / "data") == tree_bytes(second / "data")


def test_a_pointer_git_would_ignore_is_refused_and_an_ignored_one_is_kept(repo, dvx, tmp_path):
    write(repo / ".gitignore", "scratch/\n")
    write(repo / "scratch" / "x.csv", "x")
    refused = dvx("add", "scratch/x.csv")
    assert refused.code == 2 and "'scratch/' in .gitignore:1" in refused.stderr
    assert not (repo / "scratch/x.csv.dvx").exists()
    assert (repo / ".gitignore").read_text() == "scratch/\n"

    write(repo / "data" / "y.csv", "y")
    assert dvx("add", "data/y.csv").code == 0
    write(repo / ".gitignore", "scratch/\ndata/\n")  # a rule added later ignores the pointer
    status = dvx("status", "--json")
    assert "data/y.csv.dvx is ignored by Git" in status.stderr
    assert [o["path"] for o in json.loads(status.stdout)["outputs"]] == ["data/y.csv"]
    assert dvx("remote", "add", "-d", "s", str(tmp_path / "store")).code == 0
    assert "Pushed 1 object" in dvx("push").stdout
    assert dvx("gc", "-w", "-f", "--grace", "0").code == 0
    assert dvx("status", "-q").code == 0  # its object was kept


def test_gc_reads_the_indexes_again_once_it_holds_the_remote(tmp_path):
    """Another clone pushes a new directory after gc planned and before it takes the remote's
    lock: its manifest is in a pack named by an index gc has not seen. What gc decides under
    the lock (the push log's directories, what stays) rests on the indexes listed then."""
    from dvx.history import Scope
    from dvx.ops.gc import gc
    from dvx.repo import Repo

    store = tmp_path / "store"
    first = make_git_repo(tmp_path / "first")
    assert run_dvx("init", cwd=first).code == 0
    write(first / "d" / "a", "a")
    assert run_dvx("add", "d", cwd=first).code == 0
    assert run_dvx("remote", "add", "-d", "s", str(store), cwd=first).code == 0
    git(first, "add", "-A")
    git(first, "commit", "-qm", "d")
    assert run_dvx("push", cwd=first).code == 0
    second = tmp_path / "second"
    git(tmp_path, "clone", "-q", str(first), str(second))
    for i in range(3):
        write(second / "n" / f"{i}", f"new {i}")
    assert run_dvx("add", "n", cwd=second).code == 0

    def push_meanwhile(plans):
        pushed = run_dvx_proc("push", cwd=second)
        assert pushed.code == 0, pushed.output
        return True

    gc(Repo.find(str(first)), Scope(), "s", confirm=push_meanwhile)
    checked = run_dvx("fsck", "--remote", "s", cwd=second)
    assert checked.code == 0 and "0 missing" in checked.stdout, checked.output


def test_a_push_that_ends_while_gc_plans_is_read_with_the_indexes_it_wrote(tmp_path):
    """gc has listed the remote's indexes (for a branch's manifest its cache lacks) when
    another clone's push of a new directory version ends: the push log gc reads next names
    that manifest, which the indexes listed again hold. gc runs, and keeps what it needs."""
    first, store, remote, old = _data_and_a_dropped_file_pushed(tmp_path)
    for stored in [*store.glob("packs/*"), *store.glob("files/*/*/*")]:
        _age(stored)  # pushed long ago
    second = tmp_path / "second"
    git(tmp_path, "clone", "-q", str(first), str(second))
    assert run_dvx("pull", cwd=second).code == 0
    git(second, "checkout", "-qb", "feat")
    write(second / "data" / "0", "feat 0")
    assert run_dvx("add", "data", cwd=second).code == 0
    git(second, "commit", "-qam", "feat")
    assert run_dvx("push", cwd=second).code == 0
    git(first, "fetch", "-q", str(second), "feat:feat")  # its manifest is not in the cache
    publish(first, tmp_path / "origin.git")
    write(second / "data" / "new", "new")
    assert run_dvx("add", "data", cwd=second).code == 0
    planning = _stopped_at("gc.plan.before_push_logs", "gc -a --remote s -f", first)
    try:
        pushed = run_dvx("push", cwd=second)
        assert pushed.code == 0 and "already there" in pushed.stdout, pushed.output
    finally:
        planning.send_signal(signal.SIGCONT)
        out, err = planning.communicate(timeout=60)
    assert planning.returncode == 0, out + err
    assert old not in remote.oids()
    checked = run_dvx("fsck", "--remote", "s", cwd=second)
    assert checked.code == 0 and "0 missing" in checked.stdout, checked.output


@pytest.mark.parametrize("size", [5000, 1_500_000], ids=["packed", "loose"])
def test_objects_a_push_kept_while_gc_waited_count_no_bytes_freed(tmp_path, size):
    """gc planned to delete an object from the remote; another repository's push found it
    there while gc waited for confirmation, so gc keeps it, and reports no bytes for it."""
    from dvx.history import Scope
    from dvx.ops.gc import gc
    from dvx.repo import Repo

    store = tmp_path / "store"
    first, second = make_git_repo(tmp_path / "first"), make_git_repo(tmp_path / "second")
    data = os.urandom(size)
    for root in (first, second):
        assert run_dvx("init", cwd=root).code == 0
        assert run_dvx("remote", "add", "-d", "s", str(store), cwd=root).code == 0
        write(root / "model.bin", data)
        assert run_dvx("add", "model.bin", cwd=root).code == 0
    assert run_dvx("push", cwd=first).code == 0
    for stored in [*store.glob("packs/*"), *store.glob("files/*/*/*")]:
        _age(stored)  # pushed long ago
    assert run_dvx("remove", "model.bin.dvx", cwd=first).code == 0

    def push_meanwhile(plans):
        assert plans[1].removed and plans[1].bytes_freed >= size  # the plan: it goes
        pushed = run_dvx_proc("push", cwd=second)
        assert pushed.code == 0 and "1 already there" in pushed.output, pushed.output
        return True

    results = gc(Repo.find(str(first)), Scope(), "s", confirm=push_meanwhile)
    on_remote = results[1]
    assert (on_remote.removed, on_remote.bytes_freed, on_remote.kept_young) == ([], 0, 1)
    assert run_dvx("fsck", "--remote", "s", cwd=second).code == 0


def test_an_object_a_push_kept_while_gc_waited_is_not_named_as_lost_to_history(tmp_path):
    """gc planned to delete from the remote an object an older commit uses; another
    repository's push found it there while gc waited, so gc keeps it: it no longer says that
    a pull of that commit cannot get it."""
    from dvx.history import Scope
    from dvx.ops.gc import gc
    from dvx.repo import Repo

    store = tmp_path / "store"
    first, second = make_git_repo(tmp_path / "first"), make_git_repo(tmp_path / "second")
    for root in (first, second):
        assert run_dvx("init", cwd=root).code == 0
        assert run_dvx("remote", "add", "-d", "s", str(store), cwd=root).code == 0
        write(root / "model.bin", "used by an older commit\n")
        assert run_dvx("add", "model.bin", cwd=root).code == 0
    git(first, "add", "-A")
    git(first, "commit", "-qm", "model")
    assert run_dvx("push", cwd=first).code == 0
    for stored in [*store.glob("packs/*"), *store.glob("files/*/*/*")]:
        _age(stored)  # pushed long ago
    git(first, "rm", "-q", "model.bin.dvx")
    git(first, "commit", "-qm", "no model")

    def push_meanwhile(plans):
        assert plans[1].removed and plans[1].used_outside_scope == plans[1].removed
        pushed = run_dvx_proc("push", cwd=second)
        assert pushed.code == 0 and "1 already there" in pushed.output, pushed.output
        return True

    results = gc(Repo.find(str(first)), Scope(), "s", confirm=push_meanwhile)
    assert (results[1].removed, results[1].used_outside_scope) == ([], [])
    assert run_dvx("fsck", "--remote", "s", cwd=second).code == 0


def test_a_dry_run_lists_what_it_would_delete_with_a_path_that_used_it(repo, dvx, tmp_path):
    _two_versions(repo, dvx)
    for i in range(60):
        write(repo / "many" / f"{i:02}", f"file {i}")
    assert dvx("add", "many").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "many")
    git(repo, "rm", "-q", "many.dvx")
    git(repo, "commit", "-qm", "no more")
    assert dvx("remote", "add", "-d", "storage", str(tmp_path / "store")).code == 0
    assert dvx("push", "-A").code == 0
    dry = ("gc", "-w", "--dry-run", "--grace", "0", "--force-last-copy")

    cache = dvx(*dry)
    assert cache.code == 0 and "Would remove 64 objects" in cache.stdout  # 2 manifests too
    assert f"{_oid('v1')}" in cache.stdout and "  f\n" in cache.stdout
    assert f"{_oid('a1')}" in cache.stdout and "  d/a\n" in cache.stdout
    listed = [line for line in cache.stdout.splitlines() if line.startswith("    ")]
    assert len(listed) == 51 and listed[-1].strip().startswith("... and 14 more")
    everything = dvx(*dry, "-v")
    assert "... and" not in everything.stdout and f"{_oid('file 59')}" in everything.stdout
    assert "many/59" in everything.stdout or "many/00" in everything.stdout

    remote = dvx("gc", "-w", "--dry-run", "--grace", "0", "-c", "storage")
    lines = remote.stdout.splitlines()
    at = next(i for i, line in enumerate(lines) if "from the remote 'storage'" in line)
    assert _oid("v1") in "\n".join(lines[at:]) and "  f" in "\n".join(lines[at:])
    assert _objects(repo) >= {_oid("v1"), _oid("a1")}  # a dry run deletes nothing


def _history_pushed_by_a_teammate(tmp_path):
    """A team whose origin has two commits (tag v1, then main) and a branch, all of whose data
    was pushed to the shared remote: (team, v1's oid, the branch's oid)."""
    from tests.team import Team, must, share

    team = Team(tmp_path)
    alice = team.founder()
    oids = {}
    for version in ("v1", "v2", "feature"):
        if version == "feature":
            git(alice, "checkout", "-q", "-b", "feature")
        write(alice / "data.bin", version)
        must("add", "data.bin", cwd=alice)
        share(alice, version)
        oids[version] = xxhash.xxh3_128_hexdigest(version.encode())
        if version == "v1":
            git(alice, "tag", "v1")
    git(alice, "push", "-q", "origin", "--tags")
    return team, oids["v1"], oids["feature"]


@pytest.mark.parametrize("how", [("--depth", "1"), ("--single-branch",)])
def test_remote_gc_over_history_is_refused_in_a_clone_that_lacks_history(tmp_path, how):
    team, old, branch = _history_pushed_by_a_teammate(tmp_path)
    ci = tmp_path / "ci"
    git(tmp_path, "clone", "-q", *how, "-b", "main", f"file://{team.origin}", str(ci))
    assert run_dvx("pull", cwd=ci).code == 0
    remote = local_spec(team.store, str(team.store), {})
    for scope in (("--all-commits",), ("--all-branches", "--all-tags")):
        refused = run_dvx("gc", *scope, "--remote", "shared", "-f", "--grace", "0", cwd=ci)
        assert refused.code == 2, refused.output
        assert "Nothing was deleted" in refused.stderr
        assert ("shallow clone" if how[0] == "--depth" else
                "remote.origin.fetch is `+refs/heads/main:refs/remotes/origin/main`"
                ) in " ".join(refused.stderr.split())
        assert {old, branch} <= remote.oids()  # every other clone can still pull them
    # the remedy the message names makes the clone whole, and gc runs
    git(ci, "remote", "set-branches", "origin", "*")
    git(ci, "fetch", "-q", *(["--unshallow"] if how[0] == "--depth" else []), "--tags",
        "origin")
    assert run_dvx("gc", "-A", "--remote", "shared", "-f", "--grace", "0", cwd=ci).code == 0
    assert {old, branch} <= remote.oids()


def _a_ref_only_a_teammate_pushed(team, alice, kind):
    """Alice commits data on a branch of its own, pushes it (data, and the branch or a tag on
    it), and goes back to main: only that ref holds the commit. Its data's oid."""
    from tests.team import must

    git(alice, "checkout", "-q", "-b", "wip/x" if kind == "branch" else "release")
    write(alice / "only-there.bin", kind)
    must("add", "only-there.bin", cwd=alice)
    git(alice, "add", "-A")
    git(alice, "commit", "-qm", f"on a {kind} of its own")
    must("push", cwd=alice)
    if kind == "branch":
        git(alice, "push", "-q", "origin", "wip/x")
    else:
        git(alice, "tag", "v1.0")
        git(alice, "push", "-q", "origin", "v1.0")
    git(alice, "checkout", "-q", "main")
    if kind == "tag":
        git(alice, "branch", "-qD", "release")
    return xxhash.xxh3_128_hexdigest(kind.encode())


@pytest.mark.parametrize("how", ["--no-tags", "negative refspec"])
def test_remote_gc_over_history_is_refused_in_a_clone_that_leaves_out_tags_or_some_branches(
        tmp_path, how):
    """A `git clone --no-tags` clone never fetches a release tag on a commit no branch holds;
    one whose fetch refspecs exclude `wip/*` branches never fetches a teammate's wip branch:
    gc --remote over history there would delete their data from the shared remote."""
    from tests.team import Team

    team = Team(tmp_path)
    alice = team.founder()
    ci = tmp_path / "ci"
    git(tmp_path, "clone", "-q", *(["--no-tags"] if how == "--no-tags" else []),
        f"file://{team.origin}", str(ci))
    if how == "negative refspec":
        git(ci, "config", "--add", "remote.origin.fetch", "^refs/heads/wip/*")
    theirs = _a_ref_only_a_teammate_pushed(team, alice, "tag" if how == "--no-tags" else "branch")
    git(ci, "fetch", "-q", "origin")
    remote = local_spec(team.store, str(team.store), {})
    for scope in (("--all-commits",), ("--all-branches", "--all-tags")):
        refused = run_dvx("gc", *scope, "--remote", "shared", "-f", "--grace", "0", cwd=ci)
        assert refused.code == 2, refused.output
        said = " ".join(refused.stderr.split())
        assert "Nothing was deleted" in said
        assert ("remote.origin.tagOpt is --no-tags" if how == "--no-tags" else
                "`^refs/heads/wip/*`") in said, said
        assert theirs in remote.oids()
    # the remedy the message names makes the clone whole, and gc runs and keeps it
    if how == "--no-tags":
        assert "`git config --unset remote.origin.tagOpt` then `git fetch --tags origin`" in said
        git(ci, "config", "--unset", "remote.origin.tagOpt")
    else:
        assert "`git remote set-branches origin '*'` then `git fetch --tags origin`" in said
        git(ci, "remote", "set-branches", "origin", "*")
    git(ci, "fetch", "-q", "--tags", "origin")
    done = run_dvx("gc", "-a", "-T", "--remote", "shared", "-f", "--grace", "0", cwd=ci)
    assert done.code == 0, done.output
    assert theirs in remote.oids()


def test_remote_gc_over_history_is_refused_until_the_clone_has_fetched_what_origin_holds(
        tmp_path):
    """Bob cloned before Alice pushed a branch and a release tag on a commit no branch holds:
    his gc --remote over history asks origin what it holds (`git ls-remote`), finds what he
    has not fetched, and deletes nothing; a plain `git fetch` does not bring such a tag."""
    from tests.team import Team

    team = Team(tmp_path)
    alice = team.founder()
    bob = team.clone("bob")
    branch = _a_ref_only_a_teammate_pushed(team, alice, "branch")
    tag = _a_ref_only_a_teammate_pushed(team, alice, "tag")
    remote = local_spec(team.store, str(team.store), {})
    refused = run_dvx("gc", "-A", "--remote", "shared", "-f", "--grace", "0", cwd=bob)
    said = " ".join(refused.stderr.split())
    assert refused.code == 2 and "Nothing was deleted" in said, refused.output
    assert "has not fetched, or not as they are now (branch wip/x, tag v1.0)" in said, said
    assert "`git fetch --tags origin`" in said
    assert {branch, tag} <= remote.oids()
    git(bob, "fetch", "-q", "origin")  # the branch, but not a tag on no branch's commit
    refused = run_dvx("gc", "-a", "-T", "--remote", "shared", "-f", "--grace", "0", cwd=bob)
    said = " ".join(refused.stderr.split())
    assert refused.code == 2 and "(tag v1.0)" in said, refused.output
    assert {branch, tag} <= remote.oids()
    git(bob, "fetch", "-q", "--tags", "origin")
    done = run_dvx("gc", "-A", "--remote", "shared", "-f", "--grace", "0", cwd=bob)
    assert done.code == 0, done.output
    assert {branch, tag} <= remote.oids()


def test_remote_gc_over_history_asks_every_git_remote_when_no_branch_tracks_one(tmp_path):
    """A clone made with `git init`, `git remote add team URL` and `git push team main`
    (no -u) tracks no remote: gc --remote over history asks each Git remote what it holds,
    so a teammate's branch pushed to 'team' keeps its data until this clone fetches it."""
    from tests.team import must

    team_git = tmp_path / "team.git"
    store = tmp_path / "store"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(team_git))
    alice = make_git_repo(tmp_path / "alice")
    must("init", cwd=alice)
    must("remote", "add", "-d", "shared", str(store), cwd=alice)
    write(alice / "data.bin", "v1")
    must("add", "data.bin", cwd=alice)
    git(alice, "add", "-A")
    git(alice, "commit", "-qm", "v1")
    must("push", cwd=alice)
    git(alice, "remote", "add", "team", str(team_git))
    git(alice, "push", "-q", "team", "main")
    bob = tmp_path / "bob"
    git(tmp_path, "clone", "-q", "-o", "team", str(team_git), str(bob))
    git(bob, "checkout", "-q", "-b", "feat")
    write(bob / "feat.bin", "bob's")
    must("add", "feat.bin", cwd=bob)
    git(bob, "add", "-A")
    git(bob, "commit", "-qm", "feat")
    must("push", cwd=bob)
    git(bob, "push", "-q", "team", "feat")
    bobs = xxhash.xxh3_128_hexdigest(b"bob's")
    remote = local_spec(store, str(store), {})
    refused = run_dvx("gc", "-a", "--remote", "shared", "-f", "--grace", "0", cwd=alice)
    said = " ".join(refused.stderr.split())
    assert refused.code == 2 and "Nothing was deleted" in said, refused.output
    assert "the Git remote 'team' holds branches or tags" in said and "(branch feat)" in said
    assert "`git fetch --tags team`" in said
    assert bobs in remote.oids()
    git(alice, "fetch", "-q", "--tags", "team")
    done = run_dvx("gc", "-a", "--remote", "shared", "-f", "--grace", "0", cwd=alice)
    assert done.code == 0, done.output
    assert bobs in remote.oids()


@pytest.mark.parametrize("tracked", [False, True], ids=["untracked", "tracked"])
def test_remote_gc_over_history_asks_a_git_remote_that_fetches_no_branch(tmp_path, tracked):
    """A Git remote with no fetch refspec (`git remote add --mirror=push`, or the refspec
    unset) still holds what teammates push, whether a branch tracks it or none does: gc
    --remote over history refuses while it holds a branch this clone has not fetched, and
    names the set-branches that gives it a refspec."""
    from tests.team import Team, must, share

    team = Team(tmp_path)
    alice = team.founder()
    write(alice / "data.bin", "v1")
    must("add", "data.bin", cwd=alice)
    share(alice, "v1")
    bob = team.clone("bob")
    git(bob, "checkout", "-q", "-b", "feat")
    write(bob / "feat.bin", "bob's")
    must("add", "feat.bin", cwd=bob)
    share(bob, "feat")
    bobs = xxhash.xxh3_128_hexdigest(b"bob's")
    if not tracked:
        git(alice, "config", "--unset", "branch.main.remote")
    git(alice, "config", "--unset-all", "remote.origin.fetch")
    remote = local_spec(team.store, str(team.store), {})
    refused = run_dvx("gc", "-a", "--remote", "shared", "-f", "--grace", "0", cwd=alice)
    said = " ".join(refused.stderr.split())
    assert refused.code == 2 and "Nothing was deleted" in said, refused.output
    assert "fetches no branch of the Git remote 'origin'" in said
    assert "remote.origin.fetch is not set" in said
    assert "`git remote set-branches --add origin '*'`" in said
    assert bobs in remote.oids()
    git(alice, "remote", "set-branches", "--add", "origin", "*")
    git(alice, "fetch", "-q", "--tags", "origin")
    done = run_dvx("gc", "-a", "--remote", "shared", "-f", "--grace", "0", cwd=alice)
    assert done.code == 0, done.output
    assert bobs in remote.oids()


@pytest.mark.parametrize("tracks", [False, True], ids=["untracked", "tracking-a-url"])
def test_remote_gc_over_history_is_refused_in_a_clone_with_no_git_remote(tmp_path, tracks):
    """A clone that pushes by URL has no Git remote to ask what teammates pushed, even when
    its branch tracks that URL (`git push -u URL main`): gc --remote over history refuses
    rather than delete the data of what it cannot see; gc of named revisions, which asks no
    Git remote, runs."""
    from tests.team import Team, must, share

    team = Team(tmp_path)
    alice = team.founder()
    write(alice / "data.bin", "v1")
    must("add", "data.bin", cwd=alice)
    share(alice, "v1")
    git(alice, "checkout", "-q", "-b", "feat")
    write(alice / "feat.bin", "alice's")
    must("add", "feat.bin", cwd=alice)
    share(alice, "feat")
    git(alice, "checkout", "-q", "main")
    by_url = make_git_repo(tmp_path / "by-url")
    git(by_url, "pull", "-q", str(team.origin), "main")
    if tracks:
        git(by_url, "push", "-q", "-u", str(team.origin), "main")
        assert git(by_url, "config", "branch.main.remote").strip() == str(team.origin)
    assert run_dvx("pull", cwd=by_url).code == 0
    feats = xxhash.xxh3_128_hexdigest(b"alice's")
    remote = local_spec(team.store, str(team.store), {})
    for scope in ("-a", "-T", "-A"):
        refused = run_dvx("gc", scope, "--remote", "shared", "-f", "--grace", "0", cwd=by_url)
        said = " ".join(refused.stderr.split())
        assert refused.code == 2 and "Nothing was deleted" in said, refused.output
        assert "this clone has no Git remote, so it cannot see the branches and tags" in said
        assert "`git remote add origin URL`" in said and "set-branches" not in said
    assert feats in remote.oids()
    named = run_dvx("gc", "-w", "--rev", "HEAD", "--remote", "shared", "-f", "--grace", "0",
                    cwd=by_url)
    assert named.code == 0, named.output


def test_remote_gc_over_history_runs_in_a_single_branch_clone_that_lacks_nothing(tmp_path):
    """A `--single-branch` clone of a repository with one branch has every branch and tag
    its remote holds (`git ls-remote` says so): gc --remote over history runs; once a
    teammate pushes another branch, it refuses, naming the fetch refspec."""
    from tests.team import Team, must, share

    team = Team(tmp_path)
    alice = team.founder()
    write(alice / "data.bin", "v1")
    must("add", "data.bin", cwd=alice)
    share(alice, "v1")
    ci = tmp_path / "ci"
    git(tmp_path, "clone", "-q", "--single-branch", f"file://{team.origin}", str(ci))
    assert run_dvx("pull", cwd=ci).code == 0
    done = run_dvx("gc", "-A", "--remote", "shared", "-f", "--grace", "0", cwd=ci)
    assert done.code == 0, done.output
    branch = _a_ref_only_a_teammate_pushed(team, alice, "branch")
    refused = run_dvx("gc", "-A", "--remote", "shared", "-f", "--grace", "0", cwd=ci)
    said = " ".join(refused.stderr.split())
    assert refused.code == 2 and "fetches only some branches" in said, refused.output
    assert "`git remote set-branches origin '*'`" in said
    assert branch in local_spec(team.store, str(team.store), {}).oids()


def _tag_v1_pushed(team: Any) -> Path:
    """The founder (returned) shares data.bin "v1" in a commit tagged v1, tag pushed."""
    from tests.team import must, share

    alice = team.founder()
    write(alice / "data.bin", "v1")
    must("add", "data.bin", cwd=alice)
    share(alice, "v1")
    git(alice, "tag", "v1")
    git(alice, "push", "-q", "origin", "v1")
    return alice


def _tag_v1_moved_to_v2(alice: Path) -> None:
    """Alice shares data.bin "v2", moves tag v1 onto it and force-pushes the tag."""
    from tests.team import must, share

    write(alice / "data.bin", "v2")
    must("add", "data.bin", cwd=alice)
    share(alice, "v2")
    git(alice, "tag", "-f", "v1")
    git(alice, "push", "-q", "-f", "origin", "v1")


def test_remote_gc_over_history_after_a_teammate_moved_a_tag_names_the_fetch_that_moves_it(
        tmp_path):
    """A plain `git fetch --tags` refuses to move a tag this clone holds ("would clobber
    existing tag"): the refusal names the tag as moved and the `--force` fetch that works."""
    from tests.team import Team

    team = Team(tmp_path)
    alice = _tag_v1_pushed(team)
    bob = team.clone("bob")
    _tag_v1_moved_to_v2(alice)
    refused = run_dvx("gc", "-T", "--remote", "shared", "-f", "--grace", "0", cwd=bob)
    said = " ".join(refused.stderr.split())
    assert refused.code == 2 and "(moved tag v1)" in said, refused.output
    assert "Run `git fetch --tags --force origin` first" in said
    assert subprocess.run(["git", "fetch", "-q", "--tags", "origin"], cwd=bob,
                          capture_output=True).returncode != 0  # what Git refuses
    git(bob, "fetch", "-q", "--tags", "--force", "origin")
    done = run_dvx("gc", "-T", "--remote", "shared", "-f", "--grace", "0", cwd=bob)
    assert done.code == 0, done.output
    assert xxhash.xxh3_128_hexdigest(b"v2") in local_spec(team.store, str(team.store), {}).oids()


def test_remote_gc_over_history_is_refused_while_two_git_remotes_disagree_on_a_tag(tmp_path):
    """A fork made before the team moved tag v1 holds the old v1, the team's repository
    (upstream) the new one: no fetch gives this clone both, so gc -T --remote refuses,
    naming both remotes and the push that makes them agree, instead of naming a fetch from
    each in turn."""
    from tests.team import Team

    team = Team(tmp_path)
    alice = _tag_v1_pushed(team)
    fork = tmp_path / "fork.git"
    git(tmp_path, "clone", "-q", "--bare", str(team.origin), str(fork))
    _tag_v1_moved_to_v2(alice)
    mine = tmp_path / "mine"
    git(tmp_path, "clone", "-q", str(fork), str(mine))
    git(mine, "remote", "add", "upstream", str(team.origin))
    git(mine, "fetch", "-q", "upstream")
    remote = local_spec(team.store, str(team.store), {})
    oids = {xxhash.xxh3_128_hexdigest(version) for version in (b"v1", b"v2")}
    for scope in ("-T", "-A"):
        refused = run_dvx("gc", scope, "--remote", "shared", "-f", "--grace", "0", cwd=mine)
        said = " ".join(refused.stderr.split())
        assert refused.code == 2 and "Nothing was deleted" in said, refused.output
        assert "the Git remotes 'origin' and 'upstream' disagree on tag v1" in said, said
        assert "this clone has origin's" in said
        assert "`git fetch --tags --force upstream` then `git push -f origin v1`" in said
        assert oids <= remote.oids()
    git(mine, "fetch", "-q", "--tags", "--force", "upstream")
    git(mine, "push", "-q", "-f", "origin", "v1")
    done = run_dvx("gc", "-T", "--remote", "shared", "-f", "--grace", "0", cwd=mine)
    assert done.code == 0, done.output
    assert xxhash.xxh3_128_hexdigest(b"v2") in remote.oids()


def test_remote_gc_over_history_is_refused_when_the_git_remote_cannot_be_reached(tmp_path):
    from tests.team import Team

    team = Team(tmp_path)
    alice = team.founder()
    write(alice / "data.bin", "v1")
    run_dvx("add", "data.bin", cwd=alice)
    git(alice, "add", "-A")
    git(alice, "commit", "-qm", "v1")
    assert run_dvx("push", cwd=alice).code == 0
    write(alice / "data.bin", "v2")
    run_dvx("add", "data.bin", cwd=alice)  # v1's data is now used by a commit only
    git(alice, "remote", "set-url", "origin", str(tmp_path / "gone.git"))
    remote = local_spec(team.store, str(team.store), {})
    refused = run_dvx("gc", "-A", "--remote", "shared", "-f", "--grace", "0", cwd=alice)
    said = " ".join(refused.stderr.split())
    assert refused.code == 1 and "Nothing was deleted" in said, refused.output
    assert "the Git remote 'origin' that its branches track cannot be reached" in said, said
    assert "gone.git" in said  # Git's own words say why
    assert xxhash.xxh3_128_hexdigest(b"v1") in remote.oids()
    assert run_dvx("gc", "-A", "-f", "--grace", "0", cwd=alice).code == 0  # the cache alone
    assert run_dvx("gc", "-w", "--remote", "shared", "-f", cwd=alice).code == 0  # no history


@pytest.mark.parametrize("leaves_out", [None, "^refs/heads/wip/*"])
def test_remote_gc_over_history_asks_a_forks_upstream_that_fetches_every_branch(tmp_path,
                                                                                leaves_out):
    """In a fork workflow the clone tracks its fork (origin) and fetches the team's repository
    as `upstream` (a plain `git remote add`): gc --remote over history asks upstream too, so
    a teammate's branch pushed there keeps its data until this clone fetches it. An upstream
    whose negative refspec leaves out wip/* branches is asked too, about the branches it
    fetches: a wip branch is its author's, as the branches `git remote add -t` leaves out."""
    from tests.team import Team, must, share

    team = Team(tmp_path)
    alice = team.founder()
    fork = tmp_path / "fork.git"
    git(tmp_path, "clone", "-q", "--bare", str(team.origin), str(fork))
    mine = tmp_path / "mine"
    git(tmp_path, "clone", "-q", str(fork), str(mine))
    git(mine, "remote", "add", "upstream", str(team.origin))
    if leaves_out:
        git(mine, "config", "--add", "remote.upstream.fetch", leaves_out)
        _a_ref_only_a_teammate_pushed(team, alice, "branch")  # wip/x
    git(mine, "fetch", "-q", "upstream")
    git(alice, "checkout", "-q", "-b", "feature")
    write(alice / "results.bin", "alice's")
    must("add", "results.bin", cwd=alice)
    share(alice, "results")
    alices = xxhash.xxh3_128_hexdigest(b"alice's")
    remote = local_spec(team.store, str(team.store), {})
    for scope in ("-a", "-A"):
        refused = run_dvx("gc", scope, "--remote", "shared", "-f", "--grace", "0", cwd=mine)
        said = " ".join(refused.stderr.split())
        assert refused.code == 2 and "Nothing was deleted" in said, refused.output
        assert "the Git remote 'upstream' holds branches or tags" in said, said
        assert "(branch feature)" in said and "`git fetch --tags upstream`" in said
        assert alices in remote.oids()
    git(mine, "fetch", "-q", "--tags", "upstream")
    done = run_dvx("gc", "-A", "--remote", "shared", "-f", "--grace", "0", cwd=mine)
    assert done.code == 0, done.output
    assert alices in remote.oids()


def test_remote_gc_over_history_leaves_out_a_second_git_remote_fetching_tags_alone(tmp_path):
    """A second Git remote whose one fetch refspec brings tags (`+refs/tags/*:refs/tags/*`)
    fetches no branch, as one added with -t fetches one: no branch tracking it, it is no
    one's shared history, and gc --remote over history runs instead of asking for a fetch
    that could never bring its branches."""
    from tests.team import Team, must, share

    team = Team(tmp_path)
    alice = team.founder()
    write(alice / "results.bin", "alice's")
    must("add", "results.bin", cwd=alice)
    share(alice, "results")
    mine = team.clone("mine")
    git(mine, "remote", "add", "--no-tags", "tg", str(team.origin))
    git(mine, "config", "--replace-all", "remote.tg.fetch", "+refs/tags/*:refs/tags/*")
    git(mine, "fetch", "-q", "tg")
    done = run_dvx("gc", "-a", "-T", "--remote", "shared", "-f", "--grace", "0", cwd=mine)
    assert done.code == 0, done.output
    assert xxhash.xxh3_128_hexdigest(b"alice's") in local_spec(team.store, str(team.store),
                                                               {}).oids()


def test_remote_gc_over_history_is_refused_when_a_second_git_remote_cannot_be_reached(
        tmp_path):
    """A second Git remote that fetches every branch counts as shared: while it cannot be
    asked, gc --remote over history deletes nothing and says how to drop it."""
    team, old, branch = _history_pushed_by_a_teammate(tmp_path)
    full = team.clone("full")
    git(full, "remote", "add", "old", str(tmp_path / "gone.git"))
    remote = local_spec(team.store, str(team.store), {})
    refused = run_dvx("gc", "-A", "--remote", "shared", "-f", "--grace", "0", cwd=full)
    said = " ".join(refused.stderr.split())
    assert refused.code == 1 and "Nothing was deleted" in said, refused.output
    assert "the Git remote 'old' (which fetches every branch" in said, said
    assert "`git remote remove old`" in said and "gone.git" in said
    assert {old, branch} <= remote.oids()
    git(full, "remote", "remove", "old")
    done = run_dvx("gc", "-A", "--remote", "shared", "-f", "--grace", "0", cwd=full)
    assert done.code == 0, done.output
    assert {old, branch} <= remote.oids()


def test_remote_gc_over_history_runs_in_a_full_clone_with_an_extra_narrow_remote(tmp_path):
    """Only the Git remote this clone's branches track holds the history teammates share:
    another one added for a single branch (`git remote add -t main`) refuses nothing."""
    team, old, branch = _history_pushed_by_a_teammate(tmp_path)
    full = tmp_path / "full"
    git(tmp_path, "clone", "-q", f"file://{team.origin}", str(full))
    upstream = tmp_path / "upstream.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(upstream))
    git(full, "push", "-q", str(upstream), "main")
    git(full, "remote", "add", "-t", "main", "upstream", str(upstream))
    git(full, "fetch", "-q", "upstream")
    assert run_dvx("pull", cwd=full).code == 0
    remote = local_spec(team.store, str(team.store), {})
    result = run_dvx("gc", "-a", "-T", "--remote", "shared", "-f", "--grace", "0", cwd=full)
    assert result.code == 0, result.output
    assert {old, branch} <= remote.oids()  # a tag's and a branch of origin's: kept


def test_cache_gc_in_a_shallow_clone_says_older_commits_are_not_kept(tmp_path):
    team, _, _ = _history_pushed_by_a_teammate(tmp_path)
    ci = tmp_path / "ci"
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{team.origin}", str(ci))
    result = run_dvx("gc", "-A", "-f", "--grace", "0", cwd=ci)
    assert result.code == 0 and "is a shallow clone: --all-commits keeps only what the " \
        "commits it has use" in result.stderr
    assert run_dvx("gc", "-w", "--remote", "shared", "-f", cwd=ci).code == 0  # its own scope


def test_log_chunks_split_a_gc_log_so_each_part_names_the_pack_of_its_objects():
    """A gc log too large for one file is split so that each part reads on its own: a part
    beginning inside a pack's objects begins with that pack's line again. A push log, with
    no groups, is split as it is, and written once even naming nothing."""
    from dvx.remote.pushlog import log_chunks

    lines = [b"p a\n", b"o 1\n", b"o 2\n", b"p b\n", b"o 3\n"]
    assert list(log_chunks(lines, 9, group=b"p ")) == [
        [b"p a\n", b"o 1\n"], [b"p a\n", b"o 2\n"], [b"p b\n", b"o 3\n"]]
    assert list(log_chunks(lines, 9)) == [
        [b"p a\n", b"o 1\n"], [b"o 2\n", b"p b\n"], [b"o 3\n"]]
    assert list(log_chunks([], 9)) == [[]]
