"""gc keeps the last copy: an object some commit uses, outside the chosen scope, leaves the
cache only if the remote it belongs to holds it (or with --force-last-copy). The matrix:
every kind of reference × every scope keeps exactly the documented set, and a dry run lists
exactly what the real run deletes."""

from __future__ import annotations

import json
import os
import pty
import select
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import xxhash
import yaml

from dvx.remote.backends import backend_for
from dvx.remote.fs import store_identity, store_location
from tests.conftest import git, make_git_repo, run_dvx, write
from tests.remotes import local_spec
from tests.team import publish

CONTENTS = ("old_main", "dir_entry", "tagged", "branch_tip", "reflog_only", "tip_main",
            "orphan", "stashed", "staged", "current")


def _oid(label: str) -> str:
    return xxhash.xxh3_128_hexdigest(label.encode())


def _version(repo: Path, label: str) -> None:
    (repo / "f").unlink(missing_ok=True)
    write(repo / "f", label)
    assert run_dvx("add", "f", cwd=repo).code == 0


def _commit(repo: Path, message: str) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", message)


def _build(repo: Path) -> dict[str, str]:
    """A history holding every kind of reference; label -> the oid it uses."""
    _version(repo, "old_main")
    write(repo / "d" / "x", "dir_entry")
    assert run_dvx("add", "d", cwd=repo).code == 0
    _commit(repo, "an old commit on main, with a directory")
    manifest = yaml.safe_load((repo / "d.dvx").read_text())["oid"]
    assert run_dvx("remove", "d.dvx", cwd=repo).code == 0
    _version(repo, "tagged")
    _commit(repo, "tagged")
    git(repo, "tag", "v1")
    git(repo, "checkout", "-qb", "feature")
    _version(repo, "branch_tip")
    _commit(repo, "the tip of another branch")
    git(repo, "checkout", "-q", "main")
    assert run_dvx("checkout", "--force", cwd=repo).code == 0
    _version(repo, "reflog_only")
    _commit(repo, "reset away: only the reflog reaches it")
    git(repo, "reset", "-q", "--hard", "HEAD~1")
    assert run_dvx("checkout", "--force", cwd=repo).code == 0
    _version(repo, "tip_main")
    _commit(repo, "the tip of main")
    _version(repo, "orphan")  # replaced before anything recorded it
    _version(repo, "stashed")
    git(repo, "stash", "-q")
    assert run_dvx("checkout", "--force", cwd=repo).code == 0
    _version(repo, "staged")
    git(repo, "add", "f.dvx")
    _version(repo, "current")
    oids = {label: _oid(label) for label in CONTENTS}
    oids["manifest"] = manifest
    return oids


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    home = tmp_path_factory.mktemp("home")
    saved = dict(os.environ)
    os.environ.update(HOME=str(home), GIT_CONFIG_NOSYSTEM="1", GIT_AUTHOR_NAME="T",
                      GIT_AUTHOR_EMAIL="t@example.com", GIT_COMMITTER_NAME="T",
                      GIT_COMMITTER_EMAIL="t@example.com")
    try:
        repo = make_git_repo(tmp_path_factory.mktemp("template") / "repo")
        assert run_dvx("init", cwd=repo).code == 0
        git(repo, "add", "-A")
        git(repo, "commit", "-qm", "init")
        oids = _build(repo)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return repo, oids


@pytest.fixture
def history(template, tmp_path) -> tuple[Path, dict[str, str]]:
    source, oids = template
    repo = tmp_path / "repo"
    shutil.copytree(source, repo, symlinks=True)
    return repo, oids


ALWAYS = {"current", "staged", "stashed", "tip_main"}  # a stash's parent: the tip it was on
EVERY_COMMIT = set(CONTENTS) - {"orphan"} | {"manifest"}
SCOPES = {
    "-w": ALWAYS,
    "-a": ALWAYS | {"branch_tip"},
    "-T": ALWAYS | {"tagged"},
    "--rev=v1": ALWAYS | {"tagged"},
    "-A": EVERY_COMMIT,
}


def _cache(repo: Path) -> set[str]:
    return {p.parent.name + p.name for p in (repo / ".dvx/cache/files/xxh128").glob("*/*")}


def _gc(repo: Path, scope: str, *extra: str) -> tuple[dict, dict]:
    """The dry run's and the real run's cache results."""
    args = ["gc", *scope.split("="), "--grace", "0", "--json", *extra]
    dry = run_dvx(*args, "--dry-run", cwd=repo)
    real = run_dvx(*args, "-f", cwd=repo)
    assert dry.code == 0 and real.code == 0, dry.output + real.output
    return json.loads(dry.stdout)[0], json.loads(real.stdout)[0]


@pytest.mark.parametrize("scope", sorted(SCOPES))
def test_without_a_remote_only_what_no_commit_uses_goes(history, scope):
    repo, oids = history
    dry, real = _gc(repo, scope)
    assert dry["removed_oids"] == real["removed_oids"] == [oids["orphan"]]
    kept = {oids[label] for label in EVERY_COMMIT - SCOPES[scope]}
    assert set(real["kept_last_copy_oids"]) == kept
    assert real["last_copy_notes"] == (["no default remote is set"] if kept else [])
    assert _cache(repo) == {oids[label] for label in EVERY_COMMIT}


@pytest.mark.parametrize("scope", sorted(SCOPES))
def test_force_last_copy_keeps_exactly_the_scope(history, scope):
    repo, oids = history
    dry, real = _gc(repo, scope, "--force-last-copy")
    assert dry["removed_oids"] == real["removed_oids"]
    assert _cache(repo) == {oids[label] for label in SCOPES[scope]}


def test_what_the_remote_holds_goes_and_the_rest_is_reported(history, tmp_path):
    """The advice gc gives for what it keeps works: `dvx push -A` uploads every commit's data
    gc -A keeps, those only a reflog reaches included, and gc then lets it go."""
    repo, oids = history
    assert run_dvx("remote", "add", "-d", "s", str(tmp_path / "store"), cwd=repo).code == 0
    assert run_dvx("push", "-a", "-T", cwd=repo).code == 0  # not the old or reset-away commits
    unpushed = {"old_main", "dir_entry", "manifest", "reflog_only"}
    result = run_dvx("gc", "-w", "-f", "--grace", "0", cwd=repo)
    assert result.code == 0
    assert "Kept 4 objects (" in result.stderr, result.output
    assert "that their remote does not hold" in result.stderr
    assert "`dvx push -A`" in result.stderr and "--force-last-copy" in result.stderr
    assert _cache(repo) == {oids[label] for label in ALWAYS | unpushed}
    quiet = run_dvx("gc", "-w", "-f", "--grace", "0", "-q", cwd=repo)  # a notice, no error
    assert (quiet.code, quiet.stdout, quiet.stderr) == (0, "", "")

    pushed = run_dvx("push", "-A", cwd=repo)
    assert pushed.code == 0 and "Pushed 5 objects" in pushed.stdout, pushed.output  # + stash
    result = run_dvx("gc", "-w", "-f", "--grace", "0", cwd=repo)
    assert result.code == 0 and "Kept" not in result.stderr, result.output
    assert _cache(repo) == {oids[label] for label in ALWAYS}


@pytest.mark.parametrize("damage", ["loose deleted", "pack deleted", "pack truncated"])
def test_a_copy_gone_from_under_the_remote_s_indexes_is_a_last_copy(history, tmp_path, damage):
    repo, oids = history
    store = tmp_path / "store"
    assert run_dvx("remote", "add", "-d", "s", str(store), cwd=repo).code == 0
    if damage == "loose deleted":  # every object loose, and named by an index
        assert run_dvx("remote", "modify", "s", "pack_threshold", "1", cwd=repo).code == 0
    assert run_dvx("push", "--all-commits", cwd=repo).code == 0
    tagged = oids["tagged"]
    if damage == "loose deleted":
        (store / "files/xxh128" / tagged[:2] / tagged[2:]).unlink()
    if damage == "pack truncated":  # cut by hand inside the tagged data's bytes
        where, offset, length = local_spec(store, str(store), {}).packed()[tagged]
        os.truncate(store / where, offset + length - 1)
    for pack in (store / "packs").glob("*"):  # by hand; the indexes still name them
        if damage == "pack deleted":
            pack.unlink()
    result = run_dvx("gc", "-w", "-f", "--grace", "0", "--json", cwd=repo)
    assert result.code == 0, result.output
    cache = json.loads(result.stdout)[0]
    assert tagged in cache["kept_last_copy_oids"] and tagged in _cache(repo)
    assert "remote 's' lost" in cache["last_copy_notes"][0], cache["last_copy_notes"]
    # As the note says: fsck takes it out of the indexes, and the push uploads it again.
    assert run_dvx("fsck", "--remote", "s", "-A", cwd=repo).code == 1
    assert run_dvx("push", "--all-commits", cwd=repo).code == 0
    assert run_dvx("gc", "-w", "-f", "--grace", "0", cwd=repo).code == 0
    assert _cache(repo) == {oids[label] for label in ALWAYS}


def test_an_unreachable_remote_deletes_nothing_a_commit_uses(history):
    repo, oids = history
    url = "ssh://127.0.0.1:1/nowhere"  # nothing listens on port 1
    assert run_dvx("remote", "add", "-d", "s", url, cwd=repo).code == 0
    assert run_dvx("remote", "modify", "s", "timeout", "5", cwd=repo).code == 0
    result = run_dvx("gc", "-w", "-f", "--grace", "0", "--json", cwd=repo)
    assert result.code == 0, result.output
    cache = json.loads(result.stdout)[0]
    assert cache["removed_oids"] == [oids["orphan"]]
    assert "remote 's' could not be asked" in cache["last_copy_notes"][0]
    assert "could not be asked" in result.stderr


def test_what_gc_deletes_from_the_remote_does_not_count_as_held(history, tmp_path):
    repo, oids = history
    store = tmp_path / "store"
    assert run_dvx("remote", "add", "-d", "s", str(store), cwd=repo).code == 0
    assert run_dvx("push", "--all-commits", cwd=repo).code == 0
    publish(repo, tmp_path / "origin.git")
    result = run_dvx("gc", "-T", "--remote", "s", "-f", "--grace", "0", cwd=repo)
    assert result.code == 0, result.output
    on_remote = {p.parent.name + p.name for p in (store / "files/xxh128").glob("*/*")}
    gone_from_remote = {oids[label] for label in {"old_main", "dir_entry", "manifest",
                                                   "branch_tip"}}
    assert not gone_from_remote & on_remote
    assert gone_from_remote <= _cache(repo)  # the cache keeps the copies now the only ones
    assert "that their remote does not hold" in result.stderr


def test_a_copy_on_another_remote_than_its_own_is_no_copy_and_is_named_so(tmp_path):
    """An output with `remote: archive` pushed to the default remote only (`push -r main`):
    a pull of its commit reads 'archive', so gc keeps it, and says that its remote, not
    every remote, lacks it."""
    repo = make_git_repo(tmp_path / "p")
    assert run_dvx("init", cwd=repo).code == 0
    for name, default in (("main", ("-d",)), ("archive", ())):
        assert run_dvx("remote", "add", *default, name, str(tmp_path / name),
                       cwd=repo).code == 0
    write(repo / "dvx.yaml", "stages:\n  mk:\n    cmd: cp in.txt big.bin\n"
          "    deps: [in.txt]\n    outs:\n    - big.bin: {remote: archive}\n")
    for version in ("one", "two"):
        write(repo / "in.txt", version)
        assert run_dvx("repro", cwd=repo).code == 0
        _commit(repo, version)
        assert run_dvx("push", "-r", "main", cwd=repo).code == 0
    result = run_dvx("gc", "-w", "-f", "--grace", "0", cwd=repo)
    assert result.code == 0, result.output
    assert "that no remote holds" not in result.stderr
    assert ("Kept 1 object (3 B) that their remote does not hold (their output's `remote:`, "
            "else the default remote)") in result.stderr, result.stderr
    assert _oid("one") in _cache(repo)


@pytest.mark.parametrize("other", ["a relative path", "a global remote of the same URL"])
def test_a_store_gc_deletes_from_under_another_name_does_not_count_as_held(tmp_path, other):
    # `storage` and the remote gc deletes from lead to one folder: storage's copy of v1,
    # which an older commit uses, is the one this gc deletes, so the cache keeps its own.
    repo = make_git_repo(tmp_path / "repo")
    store = tmp_path / "store"
    store.mkdir()
    assert run_dvx("init", cwd=repo).code == 0
    assert run_dvx("remote", "add", "-d", "storage", str(store), cwd=repo).code == 0
    alias = (("remote", "add", "alias", "../store") if other == "a relative path" else
             ("remote", "add", "--global", "alias", str(store)))
    assert run_dvx(*alias, cwd=repo).code == 0
    for label in ("v1", "v2"):
        _version(repo, label)
        _commit(repo, label)
        assert run_dvx("push", cwd=repo).code == 0
    gc = ["gc", "-w", "-c", "alias", "--grace", "0", "--json"]
    dry = json.loads(run_dvx(*gc, "--dry-run", cwd=repo).stdout)
    real = run_dvx(*gc, "-f", cwd=repo)
    assert real.code == 0, real.output
    for planned, done in zip(dry, json.loads(real.stdout), strict=True):
        assert planned["removed_oids"] == done["removed_oids"]
    assert dry[0]["removed_oids"] == [] and dry[1]["removed_oids"] == [_oid("v1")]
    assert dry[0]["kept_last_copy_oids"] == [_oid("v1")]
    assert _oid("v1") in _cache(repo)
    git(repo, "checkout", "-q", "HEAD~1")
    assert run_dvx("pull", cwd=repo).code == 0
    assert (repo / "f").read_text() == "v1"


@pytest.mark.parametrize("spelling", ["the host in capitals", "AWS_ENDPOINT_URL"])
def test_one_bucket_under_two_endpoint_spellings_is_one_store(tmp_path, moto_s3, monkeypatch,
                                                              spelling):
    # `storage` gives moto's endpoint as 127.0.0.1 (or, without the option, AWS_ENDPOINT_URL
    # gives it); `alias` as LOCALHOST: the copy of v1 gc deletes through `alias` is storage's.
    import uuid

    import boto3

    endpoint = moto_s3["endpoint_url"]
    for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing")):
        monkeypatch.setenv(name, value)
    bucket = f"spelt-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(
        Bucket=bucket)
    repo = make_git_repo(tmp_path / "repo")
    assert run_dvx("init", cwd=repo).code == 0
    assert run_dvx("remote", "add", "-d", "storage", f"s3://{bucket}/p", cwd=repo).code == 0
    assert run_dvx("remote", "add", "alias", f"s3://{bucket}/p", cwd=repo).code == 0
    assert run_dvx("remote", "modify", "alias", "endpointurl",
                   endpoint.replace("127.0.0.1", "LOCALHOST"), cwd=repo).code == 0
    if spelling == "AWS_ENDPOINT_URL":
        monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    else:
        assert run_dvx("remote", "modify", "storage", "endpointurl", endpoint,
                       cwd=repo).code == 0
    for label in ("v1", "v2"):
        _version(repo, label)
        _commit(repo, label)
        assert run_dvx("push", cwd=repo).code == 0
    real = run_dvx("gc", "-w", "-c", "alias", "--grace", "0", "--json", "-f", cwd=repo)
    assert real.code == 0, real.output
    cache, remote = json.loads(real.stdout)
    assert remote["removed_oids"] == [_oid("v1")]
    assert cache["kept_last_copy_oids"] == [_oid("v1")]
    git(repo, "checkout", "-q", "HEAD~1")
    assert run_dvx("pull", cwd=repo).code == 0
    assert (repo / "f").read_text() == "v1"


@pytest.mark.parametrize("one, other, options", [
    ("s3://bkt/team/", "s3://bkt//team", {}),
    ("ssh://bob@host.example/srv/data", "sftp://HOST.example:22/srv/data/", {}),
    ("ssh://host/srv/data", "ssh://host:2222/srv/data", {"port": "2222"}),
    ("azure://box@acct.blob.core.windows.net/p", "azure://box/p", {"account_name": "acct"})])
def test_every_spelling_of_one_network_store_is_one_location(one, other, options):
    assert _location(one, options) == _location(other, options)


@pytest.mark.parametrize("one, other", [("s3://bkt/team", "s3://bkt/teams"),
                                        ("s3://bkt/team", "s3://other/team"),
                                        ("ssh://host/srv/data", "ssh://host:2222/srv/data")])
def test_other_network_stores_are_other_locations(one, other):
    assert _location(one, {}) != _location(other, {})


@pytest.mark.parametrize("one, other", [
    ({"endpointurl": "http://a.example:9000"}, {"endpointurl": "http://b.example:9000"}),
    ({"endpointurl": "http://127.0.0.1:9000"}, {"endpointurl": "http://LOCALHOST:9000"}),
    ({}, {"endpointurl": "http://a.example:9000"})])
def test_one_bucket_and_prefix_is_one_location_whatever_the_endpoint(one, other):
    # Taken for one store, gc keeps in the cache what it deletes through either: the safe way
    # to err when two spellings of one endpoint cannot be told from two endpoints.
    assert _location("s3://bkt/team", one) == _location("s3://bkt/team", other)


@pytest.mark.parametrize("one, other, environ", [
    ({"endpointurl": "HTTP://S3.Example:80/"}, {"endpointurl": "http://s3.example"}, {}),
    ({"endpointurl": "https://s3.example:443"}, {"endpointurl": "https://s3.example"}, {}),
    ({}, {"endpointurl": "http://s3.example:9000"},
     {"AWS_ENDPOINT_URL": "http://S3.example:9000"}),
    ({}, {"endpointurl": "http://s3.example:9000"},
     {"AWS_ENDPOINT_URL_S3": "http://s3.example:9000", "AWS_ENDPOINT_URL": "http://x:1"})])
def test_every_spelling_of_one_endpoint_is_one_store_identity(one, other, environ):
    assert _identity("s3://bkt/team", one, environ) == _identity("s3://bkt/team", other, environ)


@pytest.mark.parametrize("one, other, environ", [
    ({"endpointurl": "http://a.example:9000"}, {"endpointurl": "http://b.example:9000"}, {}),
    ({"endpointurl": "http://a.example:9000"}, {"endpointurl": "https://a.example:9000"}, {}),
    ({}, {"endpointurl": "http://a.example:9000"}, {}),
    ({}, {"endpointurl": "http://a.example:9000"}, {"AWS_ENDPOINT_URL": "http://b.example"}),
    ({"profile": "minio"}, {}, {})])
def test_one_bucket_on_other_endpoints_is_another_store_identity(one, other, environ):
    # Its index copies are kept apart: a refresh deletes the copies its own store lacks.
    assert _identity("s3://bkt/team", one, environ) != _identity("s3://bkt/team", other,
                                                                 environ)


def _location(url: str, options: dict[str, str]) -> str:
    return store_location(url, backend_for(url), options)


def _identity(url: str, options: dict[str, str], environ: dict[str, str]) -> str:
    return store_identity(url, backend_for(url), options, environ)


def _history_with_an_unreadable_pointer(tmp_path: Path, how: str) -> tuple[Path, str]:
    """A clone whose cache holds v1, which only an older commit uses and no remote holds,
    and whose pointer of v1 this dvx cannot read; the pointer file's name with its commit."""
    up = make_git_repo(tmp_path / "up")
    for args in (("init",), ("remote", "add", "-d", "s", str(tmp_path / "store"))):
        assert run_dvx(*args, cwd=up).code == 0
    _version(up, "v1")
    pointer = up / "f.dvx"
    if how == "written by a newer dvx":
        pointer.write_text(pointer.read_text().replace("dvx: 1", "dvx: 2"))
    elif how == "with keys a newer dvx may have written":
        pointer.write_text(pointer.read_text() + "origin: camera 7\n")
    _commit(up, "v1")
    old = git(up, "rev-parse", "HEAD").strip()
    (up / "f.dvx").unlink()  # this dvx records v2 afresh
    _version(up, "v2")
    _commit(up, "v2")
    assert run_dvx("push", cwd=up).code == 0  # v2 only
    if how != "a partial clone offline":
        return up, f"{old[:10]}:f.dvx"
    git(up, "config", "uploadpack.allowFilter", "true")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", "--filter=blob:none", f"file://{up}", str(clone)],
                   check=True)
    shutil.copytree(up / ".dvx/cache", clone / ".dvx/cache")
    git(clone, "remote", "set-url", "origin", f"file://{tmp_path / 'offline'}")
    return clone, f"{old[:10]}:f.dvx"


@pytest.mark.parametrize("how", ["written by a newer dvx", "with keys a newer dvx may have written",
                                 "a partial clone offline"])
def test_a_commit_whose_pointer_cannot_be_read_makes_gc_delete_nothing(tmp_path, how):
    repo, pointer = _history_with_an_unreadable_pointer(tmp_path, how)
    for extra in ("--dry-run", "-f"):
        result = run_dvx("gc", "-w", "--grace", "0", extra, cwd=repo)
        assert result.code == 1, result.output
        said = " ".join(result.stderr.split())
        assert "Nothing was deleted: what a commit outside the scope uses is unknown" in said
        assert pointer in said and "--force-last-copy" in said
        assert ("partial clone" if how == "a partial clone offline" else "pgrade dvx") in said
        assert _oid("v1") in _cache(repo)
    assert run_dvx("gc", "-w", "--grace", "0", "-f", "--force-last-copy", cwd=repo).code == 0
    assert _cache(repo) == {_oid("v2")}


def _commit_damaged_then_mended(repo, name: str, damage: str) -> str:
    """Commit `name` (f.dvx or dvx.lock) damaged, then mended (dvx.lock: removed) in the next
    commit; the damaged commit's id."""
    mended = (repo / name).read_text() if name == "f.dvx" else None
    (repo / name).write_text(damage)
    _commit(repo, "a damaged pointer")
    damaged = git(repo, "rev-parse", "HEAD").strip()
    if mended is None:
        (repo / name).unlink()
    else:
        (repo / name).write_text(mended)
    _commit(repo, "the pointer mended")
    return damaged


@pytest.mark.parametrize(("name", "damage"), [
    ("f.dvx", "garbage\n"),
    ("f.dvx", "dvx: 1\ntype: file\nalgo: xxh128\noid: x\n"),
    ("f.dvx", "<<<<<<< HEAD\nours\n=======\ntheirs\n>>>>>>> b\n"),  # each side: a parent's
    ("dvx.lock", "garbage\n"),
])
def test_a_damaged_pointer_in_an_old_commit_names_no_data_and_gc_goes_on(tmp_path, name, damage):
    """Committed damaged, and mended in the next commit: what it named can never be known, by
    any dvx, after any fetch, so it never stops gc. Everything else is judged as ever: an
    object only an older commit uses, which no remote holds, stays."""
    repo = make_git_repo(tmp_path / "r")
    for args in (("init",), ("remote", "add", "-d", "s", str(tmp_path / "store"))):
        assert run_dvx(*args, cwd=repo).code == 0
    _version(repo, "v0")
    _commit(repo, "v0, never pushed")
    _version(repo, "v1")
    _commit(repo, "v1")
    damaged = _commit_damaged_then_mended(repo, name, damage)
    assert run_dvx("push", cwd=repo).code == 0  # v1
    write(repo / "s", "scratch")  # an object no commit uses
    assert run_dvx("add", "s", cwd=repo).code == 0
    (repo / "s.dvx").unlink()
    result = run_dvx("-v", "gc", "-w", "--grace", "0", "-f", cwd=repo)
    assert result.code == 0, result.output
    assert _cache(repo) == {_oid("v0"), _oid("v1")}  # v0: its last copy
    assert f"{damaged[:10]}:{name} is damaged and names no data" in result.stderr


@pytest.mark.parametrize(("name", "damage"), [("f.dvx", "garbage: [\n"),
                                              ("dvx.lock", "garbage\n")])
def test_a_damaged_pointer_of_a_commit_in_scope_is_named_and_history_commands_go_on(
        tmp_path, name, damage):
    """A pointer committed damaged and mended in the next commit is in the scope of -A, and of
    --rev of its commit: gc, fetch and push name the commit and the file and go on (exit 0),
    gc keeping all else the scope uses. One damaged in the workspace can still be mended,
    and stops gc as ever."""
    repo = make_git_repo(tmp_path / "r")
    for args in (("init",), ("remote", "add", "-d", "s", str(tmp_path / "store"))):
        assert run_dvx(*args, cwd=repo).code == 0
    _version(repo, "v1")
    _commit(repo, "v1")
    damaged = _commit_damaged_then_mended(repo, name, damage)
    _version(repo, "v2")
    _commit(repo, "v2")  # v1: an older commit's only
    named = f"Went on without {damaged[:10]}:{name}: it was committed damaged"
    for command in (("push", "-A"), ("fetch", "-A"), ("status", "-c", "-A")):
        result = run_dvx(*command, cwd=repo)
        assert result.code == 0 and named in result.stderr, (command, result.output)
    write(repo / "s", "scratch")  # an object no commit uses
    assert run_dvx("add", "s", cwd=repo).code == 0
    (repo / "s.dvx").unlink()
    everything = run_dvx("gc", "-A", "--grace", "0", "-f", cwd=repo)
    assert everything.code == 0 and named in everything.stderr, everything.output
    assert _cache(repo) == {_oid("v1"), _oid("v2")}
    that_commit = run_dvx("gc", "--rev", damaged[:10], "--grace", "0", "-f", cwd=repo)
    assert that_commit.code == 0 and named in that_commit.stderr, that_commit.output
    (repo / "f.dvx").write_text(damage)
    refused = run_dvx("gc", "-A", "--grace", "0", "-f", cwd=repo)
    assert refused.code == 1 and "Nothing was deleted" in refused.stderr, refused.output
    assert "f.dvx" in refused.stderr


def test_a_repository_without_commits_has_no_last_copies(tmp_path):
    repo = make_git_repo(tmp_path / "fresh")
    assert run_dvx("init", cwd=repo).code == 0
    _version(repo, "first")
    _version(repo, "second")
    result = json.loads(run_dvx("gc", "-w", "-f", "--grace", "0", "--json", cwd=repo).stdout)
    assert result[0]["removed_oids"] == [_oid("first")]


def _answer_prompt(cwd: Path, answer: bytes | signal.Signals, *args: str,
                   stdout: int | None = None) -> tuple[int, str]:
    """Run dvx on a pseudo-terminal (its stdout too, unless `stdout`), answer its question
    (or send it the signal `answer` then); exit status and the screen."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "dvx", *args], cwd=cwd, stdin=follower,
                            stdout=follower if stdout is None else stdout, stderr=follower)
    os.close(follower)
    seen = b""
    answered = False
    while True:
        ready, _, _ = select.select([leader], [], [], 60)
        if not ready:
            break
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
        if not answered and b"[y/N]" in seen:
            if isinstance(answer, bytes):
                os.write(leader, answer + b"\n")
            else:
                proc.send_signal(answer)
            answered = True
    os.close(leader)
    return proc.wait(), seen.decode("utf-8", "replace")


def test_the_question_names_counts_bytes_and_the_remotes_other_users(history, tmp_path):
    repo, _ = history
    store = tmp_path / "store"
    assert run_dvx("remote", "add", "-d", "s", str(store), cwd=repo).code == 0
    assert run_dvx("push", "--all-commits", cwd=repo).code == 0
    publish(repo, tmp_path / "origin.git")
    before = (_cache(repo), sorted(store.rglob("*")))
    code, screen = _answer_prompt(repo, b"n", "gc", "-T", "--remote", "s", "--grace", "0")
    assert code == 1 and "Aborted" in screen
    question = " ".join(screen.split())
    assert ("Delete 1 object (6 B) from the cache and 5 objects (137 B) from the remote 's'?"
            in question)
    assert "Other repositories that share the remote 's' are not consulted" in question
    assert (_cache(repo), sorted(store.rglob("*"))) == before
    code, screen = _answer_prompt(repo, b"y", "gc", "-T", "--remote", "s", "--grace", "0")
    assert code == 0 and "Removed 5 objects" in screen


def test_the_question_goes_to_the_terminal_and_stdout_stays_json(history, tmp_path):
    """`dvx gc --json | jq` on a terminal: the question is on stderr, where the user sees
    it, and what the pipe gets is the JSON alone."""
    repo, _ = history
    piped = tmp_path / "stdout.json"
    with open(piped, "wb") as stdout:
        code, screen = _answer_prompt(repo, b"y", "gc", "-w", "--grace", "0", "--json",
                                      stdout=stdout.fileno())
    assert code == 0 and "[y/N]" in screen
    assert json.loads(piped.read_text())[0]["removed_oids"]


@pytest.mark.parametrize("signum, code, said", [(signal.SIGINT, 130, "Interrupted."),
                                                (signal.SIGTERM, 143, "Terminated."),
                                                (signal.SIGHUP, 129, "Hung up.")])
def test_ctrl_c_or_sigterm_at_the_question_stops_as_anywhere_else(history, signum, code, said):
    """Not click's "Aborted!" and exit status 1: the message and status of that signal, on a
    line of its own, and nothing deleted."""
    repo, _ = history
    before = _cache(repo)
    stopped, screen = _answer_prompt(repo, signum, "gc", "-w", "--grace", "0")
    assert stopped == code, screen
    assert f"[y/N]: \r\nERROR: {said}" in screen and "Aborted" not in screen
    assert _cache(repo) == before


def test_a_kept_file_of_an_old_directory_stays_protected_on_every_later_gc(tmp_path):
    # The remote holds the old directory's manifest but lost one of its files: the manifest
    # stays in the cache with that file, or the next gc no longer knows the file is used.
    repo = make_git_repo(tmp_path / "repo")
    store = tmp_path / "store"
    for args in (("init",), ("remote", "add", "-d", "s", str(store)),
                 ("remote", "modify", "s", "pack_threshold", "1")):  # every object loose
        assert run_dvx(*args, cwd=repo).code == 0
    write(repo / "D" / "a.txt", "only copy soon")
    write(repo / "D" / "b.txt", "b")
    assert run_dvx("add", "D", cwd=repo).code == 0
    _commit(repo, "D v1")
    git(repo, "tag", "v1")
    old_manifest = yaml.safe_load((repo / "D.dvx").read_text())["oid"]
    assert run_dvx("push", cwd=repo).code == 0
    lost = _oid("only copy soon")
    (store / "files/xxh128" / lost[:2] / lost[2:]).unlink()  # by hand
    (repo / "D" / "a.txt").unlink()
    write(repo / "D" / "b.txt", "v2")
    assert run_dvx("add", "D", cwd=repo).code == 0
    _commit(repo, "D v2")
    for _ in range(2):
        result = run_dvx("gc", "-w", "-f", "--grace", "0", "--json", cwd=repo)
        assert result.code == 0, result.output
        cache = json.loads(result.stdout)[0]
        assert cache["kept_last_copy_oids"] == [lost]
        assert cache["kept_manifest_oids"] == [old_manifest]
        assert {lost, old_manifest} <= _cache(repo)
    assert run_dvx("fsck", "--remote", "s", "-A", cwd=repo).code == 1
    assert run_dvx("push", "--all-commits", cwd=repo).code == 0
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(repo), str(clone)], check=True)
    git(clone, "checkout", "-q", "v1")
    assert run_dvx("pull", cwd=clone).code == 0
    assert (clone / "D" / "a.txt").read_text() == "only copy soon"


def test_gc_of_a_remote_names_what_commits_outside_its_scope_lose_and_pull_says_why(tmp_path):
    # Documented scope behaviour (as DVC): `gc -w -c` deletes from the remote what only an
    # older tag uses. gc says so, and a pull at that tag names this cause beside a missed push.
    repo = make_git_repo(tmp_path / "repo")
    for args in (("init",), ("remote", "add", "-d", "s", str(tmp_path / "store"))):
        assert run_dvx(*args, cwd=repo).code == 0
    for label in ("v1", "v2"):
        _version(repo, label)
        _commit(repo, label)
        git(repo, "tag", label)
    assert run_dvx("push", "-A", cwd=repo).code == 0
    assert run_dvx("gc", "-w", "-f", "--grace", "0", cwd=repo).code == 0  # the remote has v1
    gc = ["gc", "-w", "-c", "s", "--grace", "0"]
    dry = run_dvx(*gc, "--dry-run", "--json", cwd=repo)
    assert json.loads(dry.stdout)[1]["used_outside_scope_oids"] == [_oid("v1")], dry.output
    real = run_dvx(*gc, "-f", cwd=repo)
    assert real.code == 0, real.output
    warning = " ".join(real.stderr.split())
    assert ("1 object removed from the remote 's' is used by commits outside the scope"
            in warning), warning
    assert "`dvx pull` there can no longer get it from that remote" in warning

    git(repo, "checkout", "-q", "v1")
    pulled = run_dvx("pull", cwd=repo)
    assert pulled.code == 1
    said = " ".join(pulled.stderr.split())
    assert "without running `dvx push`" in said
    assert "or a `dvx gc --remote` whose scope left out that commit deleted it" in said
    status = run_dvx("status", cwd=repo)  # v2's data, under v1's pointer
    assert "f: pointer changed in Git, data not checked out, not in cache" in status.stdout
    assert run_dvx("status", "-q", cwd=repo).code == 1


def test_gc_of_a_remote_from_a_clone_without_an_old_directory_counts_its_files_too(tmp_path):
    """A clone that never fetched v1 of a directory lacks its manifest: gc --remote reads it
    from the remote, so the files of v1 it deletes there count as used outside the scope,
    not the manifest alone."""
    repo = make_git_repo(tmp_path / "repo")
    for args in (("init",), ("remote", "add", "-d", "s", str(tmp_path / "store"))):
        assert run_dvx(*args, cwd=repo).code == 0
    for i in range(5):
        write(repo / "d" / f"{i}", f"v1 {i}")
    assert run_dvx("add", "d", cwd=repo).code == 0
    v1 = yaml.safe_load((repo / "d.dvx").read_text())["oid"]
    _commit(repo, "v1")
    for i in range(3):
        write(repo / "d" / f"{i}", f"v2 {i}")
    assert run_dvx("add", "d", cwd=repo).code == 0
    _commit(repo, "v2")
    assert run_dvx("push", "-A", cwd=repo).code == 0
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(repo), str(clone)], check=True)
    gc = run_dvx("gc", "-w", "-c", "s", "-f", "--grace", "0", "--json", cwd=clone)
    assert gc.code == 0, gc.output
    remote = json.loads(gc.stdout)[1]
    lost = sorted([v1, *(_oid(f"v1 {i}") for i in range(3))])
    assert sorted(remote["removed_oids"]) == lost
    assert remote["used_outside_scope_oids"] == lost


def _kept_and_dropped(base: Path) -> Path:
    """A repository whose directory remote packs K and D, whose latest commit no longer
    tracks D (an older one does)."""
    repo = make_git_repo(base)
    for args in (("init",), ("remote", "add", "-d", "s", str(base.parent / f"{base.name}-store"))):
        assert run_dvx(*args, cwd=repo).code == 0
    for name in ("K", "D"):
        for i in range(3):
            write(repo / name / f"{i}.txt", f"{name}{i}")
    assert run_dvx("add", "K", "D", cwd=repo).code == 0
    _commit(repo, "K and D")
    assert run_dvx("push", cwd=repo).code == 0
    assert run_dvx("remove", "D.dvx", cwd=repo).code == 0
    shutil.rmtree(repo / "D")
    _commit(repo, "no D")
    return repo


def test_gc_of_a_remote_killed_after_replacing_its_indexes_counts_what_leaves_on_the_rerun(
        tmp_path):
    """gc --remote killed once it replaced the pack indexes, before it deleted the old packs:
    fsck --remote names the packs no index names as an interrupted gc's, and the rerun counts
    the objects leaving with them as removed, warning that an older commit uses them, as a gc
    that was never stopped says."""
    gc = ["gc", "-w", "-c", "s", "--grace", "0", "-f", "--json"]
    whole = run_dvx(*gc, cwd=_kept_and_dropped(tmp_path / "whole"))
    assert whole.code == 0, whole.output
    expected = json.loads(whole.stdout)[1]
    assert len(expected["removed_oids"]) == 4, expected  # D's three files and its manifest
    assert expected["used_outside_scope_oids"] == expected["removed_oids"]

    repo = _kept_and_dropped(tmp_path / "stopped")
    killed = subprocess.run([sys.executable, "-m", "dvx", *gc], cwd=repo, capture_output=True,
                            text=True, stdin=subprocess.DEVNULL, timeout=120,
                            env={**os.environ, "DVX_FAULT": "gc.repack.after_old_indexes"})
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    checked = run_dvx("fsck", "--remote", "s", cwd=repo)
    said = " ".join(checked.stderr.split())
    assert "named by no index (left by an interrupted `dvx gc --remote`" in said, said
    assert "interrupted push" not in said, said
    rerun = run_dvx(*gc, cwd=repo)
    assert rerun.code == 0, rerun.output
    found = json.loads(rerun.stdout)[1]
    assert found["removed_oids"] == expected["removed_oids"], found
    assert found["used_outside_scope_oids"] == expected["used_outside_scope_oids"]
    assert found["unindexed_packs_removed"] == found["unindexed_packs_left_by_gc"] > 0
    assert "4 of the objects removed from the remote 's' are used by commits outside the " \
        "scope" in " ".join(rerun.stderr.split()), rerun.stderr
    told = " ".join(run_dvx("gc", "-w", "-c", "s", "--grace", "0", "-f", "--dry-run",
                            cwd=repo).output.split())
    assert "Would remove 0 objects (0 B) from the remote 's'" in told, told
    assert not list((tmp_path / "stopped-store" / "logs" / "gc").glob("*"))


def test_the_rerun_of_a_gc_killed_after_replacing_indexes_reads_a_leaving_manifest_from_its_pack(
        tmp_path):
    """The rerun of a gc --remote killed once it replaced the pack indexes, from a clone
    whose cache lacks the old directory's manifest (a CI job's): the manifest, which no index
    names any more, is read where the gc log places it in its pack, so the warning and
    `used_outside_scope_oids` count the directory's files as the stopped gc would have."""
    gc = ["gc", "-w", "-c", "s", "--grace", "0", "-f", "--json"]
    repo = _kept_and_dropped(tmp_path / "stopped")
    killed = subprocess.run([sys.executable, "-m", "dvx", *gc], cwd=repo, capture_output=True,
                            text=True, stdin=subprocess.DEVNULL, timeout=120,
                            env={**os.environ, "DVX_FAULT": "gc.repack.after_old_indexes"})
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    shutil.rmtree(repo / ".dvx" / "cache")
    rerun = run_dvx(*gc, cwd=repo)
    assert rerun.code == 0, rerun.output
    found = json.loads(rerun.stdout)[1]
    assert len(found["removed_oids"]) == 4, found  # D's three files and its manifest
    assert found["used_outside_scope_oids"] == found["removed_oids"], found
    assert "4 of the objects removed from the remote 's' are used by commits outside the " \
        "scope" in " ".join(rerun.stderr.split()), rerun.stderr


def test_gc_of_a_remote_killed_after_replacing_its_indexes_names_what_an_older_commit_needs(
        tmp_path):
    """gc --remote killed once it replaced the pack indexes, before it deleted the packs
    holding what its scope left out; then the workspace goes back to the commit that uses
    those objects. fsck --remote and the next gc say an interrupted gc was deleting them (not
    a push under way, nor lost indexes), and that a push uploads them again: after it, gc
    deletes those packs and a fresh cache pulls the older commit whole."""
    gc = ["gc", "-w", "-c", "s", "--grace", "0", "-f"]
    repo = _kept_and_dropped(tmp_path / "stopped")
    killed = subprocess.run([sys.executable, "-m", "dvx", *gc], cwd=repo, capture_output=True,
                            text=True, stdin=subprocess.DEVNULL, timeout=120,
                            env={**os.environ, "DVX_FAULT": "gc.repack.after_old_indexes"})
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    git(repo, "checkout", "-q", "HEAD~1")
    leaving = {_oid(f"D{i}") for i in range(3)}

    checked = run_dvx("fsck", "--remote", "s", "--json", cwd=repo)
    said = " ".join(checked.stderr.split())
    assert checked.code == 1, checked.output
    assert "were being deleted with pack" in said and "interrupted `dvx gc --remote`" in said
    assert "`dvx push` from a clone whose cache has them uploads them again" in said, said
    assert "may be uploading" not in said and "looks damaged" not in said, said
    assert leaving < json.loads(checked.stdout)["missing_left_by_gc"].keys()
    refused = run_dvx(*gc, cwd=repo)
    said = " ".join(refused.stderr.split())
    assert refused.code == 1, refused.output
    assert "were being deleted with pack" in said and "Run `dvx push -r s`" in said, said
    assert "indexes lost" not in said and "put back the indexes" not in said, said

    assert run_dvx("push", cwd=repo).code == 0
    rerun = run_dvx(*gc, cwd=repo)
    assert rerun.code == 0, rerun.output
    assert run_dvx("fsck", "--remote", "s", cwd=repo).code == 0
    shutil.rmtree(repo / ".dvx" / "cache")
    assert run_dvx("pull", cwd=repo).code == 0
    assert (repo / "D" / "0.txt").read_text() == "D0"
