"""push, fetch, pull and status --remote over revisions (-a, -T, -A, --rev, -n): the data of
any commit moves without checking it out, read straight from Git's objects."""

from __future__ import annotations

import json

import xxhash

from tests.conftest import git, write
from tests.remotes import clone, local_spec


def _oid(content: str) -> str:
    return xxhash.xxh3_128_hexdigest(content.encode())


def _commit(repo, dvx, message: str, **files: str) -> None:
    for name, content in files.items():
        (repo / name).unlink(missing_ok=True)
        write(repo / name, content)
        assert dvx("add", name).code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", message)


def _on_remote(store) -> set[str]:
    return local_spec(store, str(store), {}).oids()


def _history(repo, dvx):
    """main: v1 (tagged), v3 after it; branch feature: v2 and a directory."""
    _commit(repo, dvx, "v1", f="v1")
    git(repo, "tag", "v1")
    git(repo, "checkout", "-q", "-b", "feature")
    write(repo / "d" / "a.txt", "feature dir")
    assert dvx("add", "d").code == 0
    _commit(repo, dvx, "v2", f="v2")
    git(repo, "checkout", "-q", "main")
    assert dvx("checkout", "--force").code == 0
    _commit(repo, dvx, "v3", f="v3")


def test_push_takes_the_data_of_the_revisions_asked_for(repo, dvx, tmp_path):
    _history(repo, dvx)
    store = tmp_path / "store"
    assert dvx("remote", "add", "-d", "s", str(store)).code == 0
    assert dvx("push").code == 0
    assert _on_remote(store) == {_oid("v3")}
    assert dvx("push", "-a").code == 0  # every branch's tip: feature's v2 and its directory
    assert {_oid("v2"), _oid("feature dir")} <= _on_remote(store)
    assert _oid("v1") not in _on_remote(store)
    assert dvx("push", "-T").code == 0
    assert _oid("v1") in _on_remote(store)


def test_a_pointer_file_names_its_data_in_every_revision(repo, dvx, tmp_path):
    """`f.dvx` as a target is `f`, in the revisions asked for as in the workspace."""
    store = tmp_path / "store"
    assert dvx("remote", "add", "-d", "s", str(store)).code == 0
    _history(repo, dvx)
    assert dvx("push", "-T", "f.dvx").code == 0
    assert {_oid("v1"), _oid("v3")} <= _on_remote(store)
    other = clone(repo, tmp_path)
    assert dvx("fetch", "--rev", "v1", "f.dvx", cwd=other).code == 0
    cached = {p.parent.name + p.name for p in (other / ".dvx/cache/files/xxh128").glob("*/*")}
    assert _oid("v1") in cached


def test_a_target_only_older_revisions_track_is_pushed_and_fetched_from_them(repo, dvx,
                                                                              tmp_path):
    store = tmp_path / "store"
    assert dvx("remote", "add", "-d", "s", str(store)).code == 0
    _commit(repo, dvx, "v1", old="old data")
    assert dvx("remove", "old.dvx").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "old removed")
    pushed = dvx("push", "--rev", "HEAD~1", "old.dvx")
    assert pushed.code == 0, pushed.output
    assert _oid("old data") in _on_remote(store)
    other = clone(repo, tmp_path)
    assert dvx("fetch", "--rev", "HEAD~1", "old", cwd=other).code == 0
    missing = dvx("push", "-A", "never-tracked")
    assert missing.code == 2 and "not tracked by dvx" in missing.stderr


def test_fetch_of_a_revision_needs_no_checkout(repo, dvx, tmp_path):
    assert dvx("remote", "add", "-d", "s", str(tmp_path / "store")).code == 0
    _history(repo, dvx)
    assert dvx("push", "-A").code == 0
    other = clone(repo, tmp_path)
    git(other, "branch", "-q", "feature", "origin/feature")
    lacking = json.loads(dvx("status", "--remote", "--rev", "feature", "--json",
                             cwd=other).stdout)
    assert {row["path"] for row in lacking["missing_in_cache"]} >= {"f", "d"}
    fetched = dvx("fetch", "--rev", "feature", cwd=other)
    assert fetched.code == 0, fetched.output
    cached = {p.parent.name + p.name for p in (other / ".dvx/cache/files/xxh128").glob("*/*")}
    assert {_oid("v2"), _oid("feature dir"), _oid("v3")} <= cached  # and the workspace's
    assert _oid("v1") not in cached
    assert not (other / "f").exists()  # fetched, not checked out
    assert dvx("pull", "-n", "3", cwd=other).code == 0  # the last 3 commits of main
    assert (other / "f").read_text() == "v3"
    cached = {p.parent.name + p.name for p in (other / ".dvx/cache/files/xxh128").glob("*/*")}
    assert _oid("v1") in cached


def test_a_bad_revision_is_one_clear_error(repo, dvx, tmp_path):
    _history(repo, dvx)
    assert dvx("remote", "add", "-d", "s", str(tmp_path / "store")).code == 0
    for args in (("push", "--rev", "nope"), ("fetch", "--rev", "--all"),
                 ("status", "--remote", "--rev", "nope")):
        result = dvx(*args)
        assert result.code == 2 and result.stderr.startswith("ERROR:"), args
        assert "Traceback" not in result.output


def test_a_folder_inside_a_tracked_directory_takes_only_its_part_of_each_revision(
        repo, dvx, tmp_path):
    """`fetch --rev REV d/x`, d a tracked directory: of each revision's d, only what is in
    d/x is fetched (with the manifests that say what that is), as `fetch d/x` does; so a
    pull of it with the remote out of reach needs nothing the cache lacks."""
    store = tmp_path / "store"
    assert dvx("remote", "add", "-d", "s", str(store)).code == 0
    write(repo / "d" / "x" / "1", "x one")
    write(repo / "d" / "y" / "2", "y two")
    assert dvx("add", "d").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "v1")
    (repo / "d" / "x" / "1").write_text("x one, v2")
    (repo / "d" / "y" / "2").write_text("y two, v2")
    assert dvx("add", "d").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "v2")
    assert dvx("push", "-A").code == 0
    other = clone(repo, tmp_path)
    assert dvx("pull", "d/x", cwd=other).code == 0

    def cached() -> set[str]:
        return {p.parent.name + p.name
                for p in (other / ".dvx/cache/files/xxh128").glob("*/*")}

    for args in (("--rev", "HEAD"), ("--rev", "HEAD~1"), ("-A",), ("-a",)):
        fetched = dvx("fetch", *args, "d/x", cwd=other)
        assert fetched.code == 0, (args, fetched.output)
        assert not {_oid("y two"), _oid("y two, v2")} & cached(), args
    assert {_oid("x one"), _oid("x one, v2")} <= cached()
    store.rename(tmp_path / "store.offline")
    for args in (("--rev", "HEAD"), ("-A",)):
        pulled = dvx("pull", *args, "d/x", cwd=other)
        assert pulled.code == 0, (args, pulled.output)
        assert "no remote was asked" in pulled.stdout
    assert (other / "d" / "x" / "1").read_text() == "x one, v2"
    assert not (other / "d" / "y").exists()
