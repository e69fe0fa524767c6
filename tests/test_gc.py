import json
import os

import xxhash

from tests.conftest import git, make_git_repo, run_dvx, write


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


def test_workspace_scope_removes_only_unused_objects(repo, dvx):
    _two_versions(repo, dvx)
    old = {xxhash.xxh3_128_hexdigest(b"v1"), xxhash.xxh3_128_hexdigest(b"a1")}
    dry = json.loads(dvx("gc", "-w", "--dry-run", "--grace", "0", "--json").stdout)[0]
    assert old <= set(dry["removed_oids"]) and old <= _objects(repo)
    young = json.loads(dvx("gc", "-w", "-f", "--json").stdout)[0]
    assert young["removed"] == 0 and young["kept_young"] == 3  # within the grace period
    assert dvx("gc", "-w", "-f", "--grace", "0").code == 0
    assert not old & _objects(repo)
    assert dvx("status", "-q").code == 0
    assert (repo / "f").read_text() == "v2"


def test_history_scopes_keep_what_old_commits_need(repo, dvx):
    _two_versions(repo, dvx)
    before = _objects(repo)
    for scope in (["--all-commits"], ["--all-tags"], ["--rev", "v1"], ["--all-branches"]):
        result = dvx("gc", *scope, "-f", "--grace", "0")
        assert result.code == 0, result.output
        if scope != ["--all-branches"]:
            assert _objects(repo) == before, scope
    git(repo, "checkout", "-q", "v1")
    assert dvx("checkout").code == 1  # --all-branches dropped v1's objects
    assert "Not in the cache" in dvx("checkout").stderr


def test_unreadable_scope_deletes_nothing(repo, dvx):
    _two_versions(repo, dvx)
    assert dvx("gc", "-w", "-f", "--grace", "0").code == 0  # drops v1's manifest
    before = _objects(repo)
    write(repo / "orphan", "still needed?")
    dvx("add", "orphan")
    refused = dvx("gc", "--all-tags", "-f", "--grace", "0")
    assert refused.code == 1 and "Nothing was deleted" in refused.stderr
    assert _objects(repo) >= before


def test_bad_revision_is_refused(repo, dvx):
    _two_versions(repo, dvx)
    for rev in ("-oops", "no-such-branch"):
        result = dvx("gc", "--rev", rev, "-f")
        assert result.code == 2 and "revision" in result.stderr.lower()


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
    on_remote = {p.parent.name + p.name for p in (store / "files/xxh128").glob("*/*")}
    assert old in on_remote
    assert dvx("gc", "-w", "--remote", "s", "-f", "--grace", "0").code == 0
    after = {p.parent.name + p.name for p in (store / "files/xxh128").glob("*/*")}
    assert old not in after and xxhash.xxh3_128_hexdigest(b"v2") in after


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
    assert reflogged in gone  # only -A reaches what only a reflog reaches
    everything = json.loads(dvx("gc", "-A", "--dry-run", "--grace", "0", "--json").stdout)[0]
    assert not set(everything["removed_oids"]) & {staged, current, stashed, reflogged}
    real = dvx("gc", "-A", "-f", "--grace", "0", "--json")
    assert json.loads(real.stdout)[0]["removed_oids"] == everything["removed_oids"]
    assert {staged, current, stashed, reflogged} <= _objects(repo)

    git(repo, "reset", "-q", "--hard")
    git(repo, "stash", "pop", "-q")  # the stashed pointer comes back, and its data is there
    assert dvx("checkout", "--force").code == 0
    assert (repo / "f").read_text() == "stashed work"
