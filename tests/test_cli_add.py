import contextlib
import errno
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import xxhash

from dvx.threads import STOP_GRACE
from tests.conftest import (
    git,
    make_git_repo,
    pointer_changed_on_feat,
    run_dvx,
    run_dvx_proc,
    stopped_again,
    write,
)
from tests.pipeline_kit import run_and_commit

OBJECTS = os.path.join(".dvx", "cache", "files", "xxh128")


def object_path(repo, oid):
    return repo / OBJECTS / oid[:2] / oid[2:]


def pointer_field(path, key):
    for line in path.read_text().splitlines():
        if line.startswith(key + ": "):
            return line.split(": ", 1)[1]
    return None


def test_add_file_stores_object_named_by_xxh128_and_writes_pointer(repo, dvx):
    content = os.urandom(300_000)
    write(repo / "data" / "train.csv", content)
    result = dvx("add", "data/train.csv")
    assert result.code == 0, result.output
    oid = xxhash.xxh3_128_hexdigest(content)
    pointer = repo / "data" / "train.csv.dvx"
    assert pointer_field(pointer, "oid") == oid
    assert pointer_field(pointer, "size") == str(len(content))
    assert object_path(repo, oid).read_bytes() == content
    assert not os.stat(object_path(repo, oid)).st_mode & stat.S_IWUSR  # objects are read-only
    assert (repo / "data" / "train.csv").read_bytes() == content  # the user's file is intact
    assert (repo / "data" / ".gitignore").read_text() == "/train.csv\n"


def test_re_adding_unchanged_data_gives_byte_identical_pointer(repo, dvx):
    write(repo / "d" / "a", "a")
    write(repo / "f", "f")
    dvx("add", "d", "f")
    before = {p: (repo / p).read_bytes() for p in ("d.dvx", "f.dvx", ".gitignore")}
    assert dvx("add", "d", "f").code == 0
    assert {p: (repo / p).read_bytes() for p in before} == before
    assert (repo / ".gitignore").read_text().count("/d\n") == 1  # appended once


def test_re_adding_changed_file_updates_pointer(repo, dvx):
    write(repo / "f", "one")
    dvx("add", "f")
    write(repo / "f", "two")
    assert dvx("add", "f").code == 0
    assert pointer_field(repo / "f.dvx", "oid") == xxhash.xxh3_128_hexdigest(b"two")


def test_add_directory_with_awkward_names(repo, dvx):
    files = {"a.txt": b"a", "nested/deep/x.bin": os.urandom(5000), "empty": b"",
             "with space/ñandú ü.txt": b"unicode", "dup1": b"same", "dup2": b"same"}
    for rel, content in files.items():
        write(repo / "ds" / rel, content)
    os.chmod(repo / "ds" / "a.txt", 0o755)
    result = dvx("add", "ds")
    assert result.code == 0, result.output
    pointer = repo / "ds.dvx"
    assert pointer_field(pointer, "type") == "dir"
    assert pointer_field(pointer, "nfiles") == str(len(files))
    manifest = object_path(repo, pointer_field(pointer, "oid")).read_text()
    assert '["a.txt","' in manifest and ',1,true]' in manifest  # exec bit recorded
    assert '"with space/ñandú ü.txt"' in manifest
    for content in files.values():
        assert object_path(repo, xxhash.xxh3_128_hexdigest(content)).exists()


def test_autostage_adds_pointer_and_gitignore(repo, dvx):
    dvx("config", "core.autostage", "true")
    write(repo / "m.bin", "model")
    added = dvx("add", "m.bin")
    assert added.code == 0 and "Staged in Git: m.bin.dvx .gitignore" in added.stdout
    staged = git(repo, "diff", "--cached", "--name-only").split()
    assert set(staged) >= {"m.bin.dvx", ".gitignore"}
    for args in (("move", "m.bin", "n.bin"), ("remove", "n.bin")):  # each says what it staged
        done = dvx(*args)
        assert done.code == 0 and "Staged in Git:" in done.stdout, done.output
        assert "To record this in Git" not in done.stdout


def test_a_gitignore_starting_with_a_byte_order_mark_keeps_it_and_one_entry(repo, dvx):
    """Git skips the mark, so dvx's entry on the first line is its entry there."""
    write(repo / "one.bin", "1")
    write(repo / "two.bin", "2")
    write(repo / ".gitignore", b"\xef\xbb\xbf/one.bin\n")
    assert dvx("add", "one.bin", "two.bin").code == 0
    assert (repo / ".gitignore").read_bytes() == b"\xef\xbb\xbf/one.bin\n/two.bin\n"
    assert dvx("remove", "one.bin.dvx").code == 0
    assert (repo / ".gitignore").read_bytes() == b"\xef\xbb\xbf/two.bin\n"


def test_a_rule_taking_the_data_back_into_git_is_followed_by_its_entry_and_named(repo, dvx):
    """A `!` rule after the entry (a teammate's) makes Git see the data: `git add -A` would
    commit it. Tracking the path puts the entry after the rule, with a warning naming it;
    status names such a rule of data placed for a pointer, and `commit` does the same."""
    write(repo / ".gitignore", "/data.bin\n!/data.bin\n")
    write(repo / "models" / ".gitignore", "/weights.bin\n!*.bin\n/other\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "the team's rules")
    write(repo / "data.bin", "secret\n")
    write(repo / "models" / "weights.bin", "w\n")
    added = dvx("add", "data.bin", "models/weights.bin")
    assert added.code == 0, added.output
    assert ("WARNING: The rule '!/data.bin' in .gitignore:2 took 'data.bin' back into Git, "
            "where `git add -A` would commit the data itself: its entry is written again after "
            "that rule") in added.stderr
    assert "The rule '!*.bin' in models/.gitignore:2 took 'models/weights.bin' back" \
        in added.stderr
    assert (repo / ".gitignore").read_text() == "!/data.bin\n/data.bin\n"
    assert (repo / "models" / ".gitignore").read_text() == "!*.bin\n/other\n/weights.bin\n"
    git(repo, "add", "-A")
    assert git(repo, "diff", "--cached", "--name-only").split() == [
        ".gitignore", "data.bin.dvx", "models/.gitignore", "models/weights.bin.dvx"]
    git(repo, "commit", "-qm", "tracked")

    write(repo / ".gitignore", "/data.bin\n!/data.bin\n")  # the teammate's rule again
    assert dvx("status", "-q").code == 1
    shown = dvx("status")
    assert ("data.bin: not ignored by Git (the rule '!/data.bin' in .gitignore:2 takes it back "
            "in), so `git add` would take the data itself; `dvx commit data.bin` writes the "
            "entry again after that rule (or remove the rule)") in shown.stdout
    assert json.loads(dvx("status", "--json").stdout)["taken_back_by_rule"] == {
        "data.bin": "'!/data.bin' in .gitignore:2"}
    committed = dvx("commit", "data.bin")
    assert committed.code == 0 and "The rule '!/data.bin' in .gitignore:2" in committed.stderr
    assert dvx("status", "-q").code == 0
    assert git(repo, "check-ignore", "data.bin").strip() == "data.bin"


def test_commit_of_a_stage_output_a_rule_takes_back_into_git_writes_its_entry_after_it(
        repo, dvx):
    """A `!` rule after a stage output's entry (`!*.txt` appended): `dvx commit OUT`, as
    status advises, puts the entry after the rule, as for data tracked by a pointer."""
    run_and_commit(repo, "stages:\n  s:\n    cmd: echo o > out.txt\n    outs: [out.txt]\n", "stage")
    with (repo / ".gitignore").open("a") as rules:
        rules.write("!*.txt\n")
    assert "`dvx commit out.txt` writes the entry again after that rule" in dvx("status").stdout
    committed = dvx("commit", "out.txt")
    assert committed.code == 0 and "The rule '!*.txt' in .gitignore" in committed.stderr
    assert git(repo, "check-ignore", "out.txt").strip() == "out.txt"
    assert dvx("status", "-q").code == 0


@pytest.mark.parametrize("char", ["\x0b", "\x0c", "\x1c", "\x1e", "\x85", "\u2028", "\u2029"])
def test_a_name_with_what_python_calls_a_line_break_stays_ignored_by_git(repo, dvx, char):
    name = f"report{char}final.csv"  # Git splits .gitignore lines at "\n" only
    write(repo / name, "secret")
    write(repo / "src" / "final.csv", "print(1)")
    write(repo / ".gitignore", "# mine\r\n/build\r\n")
    assert dvx("add", name).code == 0
    write(repo / "other.csv", "other")
    assert dvx("add", "other.csv").code == 0  # rewrites the .gitignore
    assert (repo / ".gitignore").read_bytes() == (
        f"# mine\r\n/build\r\n/{name}\r\n/other.csv\r\n".encode())
    git(repo, "add", "-A")
    staged = git(repo, "diff", "--cached", "--name-only", "-z").split("\0")
    assert name not in staged and f"{name}.dvx" in staged
    assert "src/final.csv" in staged
    assert dvx("remove", name).code == 0
    assert (repo / ".gitignore").read_bytes() == b"# mine\r\n/build\r\n/other.csv\r\n"


@pytest.mark.parametrize("name", [".gitignore", "sub/.gitignore", ".dvxignore",
                                  "sub/.gitattributes"])
def test_files_that_tell_git_or_dvx_how_to_treat_others_are_never_data(repo, dvx, name):
    write(repo / name, "*.pyc\n")
    write(repo / "data.csv", "data")
    refused = dvx("add", "data.csv", name)
    assert refused.code == 2 and refused.stderr.startswith("ERROR:"), refused.output
    assert f"'{name}'" in refused.stderr and "Traceback" not in refused.output
    assert (repo / name).read_text() == "*.pyc\n"  # nothing written, not even data.csv's entry
    assert not (repo / "data.csv.dvx").exists()
    assert dvx("add", "data.csv").code == 0
    before = (repo / name).read_bytes()
    moved = dvx("move", "data.csv", name)
    assert moved.code == 2 and f"'{name}'" in moved.stderr
    assert (repo / "data.csv.dvx").exists() and (repo / name).read_bytes() == before


@pytest.mark.parametrize("name", ["dvx.yaml", "dvx.lock"])
def test_the_pipeline_files_are_never_data(repo, dvx, name):
    write(repo / name, "stages: {}\n")
    refused = dvx("add", name)
    assert refused.code == 2 and "dvx's own pipeline file" in refused.stderr, refused.output
    assert not (repo / f"{name}.dvx").exists() and not (repo / ".gitignore").exists()


def test_a_gitignore_inside_a_tracked_directory_is_data_and_a_dvxignore_is_not(repo, dvx):
    write(repo / "d" / ".gitignore", "x\n")  # Git does not look inside an ignored directory
    write(repo / "d" / ".dvxignore", "*.tmp\n")
    added = dvx("add", "d", "--json")
    assert added.code == 0 and json.loads(added.stdout)["added"][0]["nfiles"] == 1
    assert (repo / "d" / ".gitignore").read_text() == "x\n"


@pytest.mark.parametrize("link_type", ["hardlink", "symlink", "copy"])
def test_link_types_on_add(repo, dvx, link_type):
    dvx("config", "cache.type", link_type)
    content = os.urandom(10_000)
    write(repo / "f", content)
    assert dvx("add", "f").code == 0
    oid = xxhash.xxh3_128_hexdigest(content)
    workspace = repo / "f"
    assert workspace.read_bytes() == content
    if link_type == "hardlink":
        assert os.path.samefile(workspace, object_path(repo, oid))
        assert not os.stat(workspace).st_mode & stat.S_IWUSR
    elif link_type == "symlink":
        assert workspace.is_symlink()
        assert os.path.realpath(workspace) == str(object_path(repo, oid))
    else:
        assert not os.path.samefile(workspace, object_path(repo, oid))
    assert dvx("status", "-q").code == 0
    assert dvx("add", "f").code == 0  # re-adding a linked file is a no-op
    assert workspace.read_bytes() == content


@pytest.mark.parametrize("link_type", ["hardlink", "copy"])
def test_many_small_files_are_added_by_worker_processes(repo, dvx, link_type):
    """Above processes.MIN_ITEMS small files, add forks workers: everything they store and
    link is the same as a one-process add, and their stat records reach the stat cache."""
    from dvx.processes import MIN_ITEMS

    dvx("config", "cache.type", link_type)
    files = {f"d/{i % 7}/f{i}": os.urandom(64 + i % 500) for i in range(MIN_ITEMS + 100)}
    files["d/exe"] = b"#!/bin/sh\n"
    for rel, content in files.items():
        write(repo / rel, content)
    os.chmod(repo / "d" / "exe", 0o755)
    assert dvx("add", "d").code == 0
    for rel, content in files.items():
        oid = xxhash.xxh3_128_hexdigest(content)
        assert object_path(repo, oid).read_bytes() == content
        assert (repo / rel).read_bytes() == content
        linked = os.path.samefile(repo / rel, object_path(repo, oid))
        assert linked == (link_type == "hardlink" and rel != "d/exe")
    assert os.access(repo / "d" / "exe", os.X_OK)
    assert dvx("status", "-q").code == 0
    from dvx.objects.statcache import StatCache

    cache = StatCache(str(repo / ".dvx" / "tmp" / "statcache.db"), "xxh128")
    sample = repo / "d" / "3" / "f10"
    assert cache.get(str(sample), os.lstat(sample)) == xxhash.xxh3_128_hexdigest(files["d/3/f10"])


@pytest.mark.parametrize("setup, target, message", [
    (lambda r: None, "missing.txt", "does not exist"),
    (lambda r: None, "/etc/hostname", "outside the repository"),
    (lambda r: None, ".git/config", "never tracks"),
    (lambda r: None, ".dvx/config", "never tracks"),
    (lambda r: (write(r / "t.txt", "x"), git(r, "add", "t.txt")), "t.txt", "tracked by Git"),
    (lambda r: os.symlink("/etc/hostname", r / "link"), "link", "symbolic link"),
    (lambda r: (write(r / "d" / "f", "x"), os.symlink("/etc", r / "d" / "etc")), "d",
     "symbolic link"),
    (lambda r: git(r, "init", "-q", "d"), "d", "a Git repository of its own"),
    (lambda r: (write(r / "d" / ".git" / "config", "x")), "d", "'.git'"),  # no repository
    (lambda r: (write(r / "d" / "e" / ".git" / "config", "x")), "d", "'.git'"),
    (lambda r: write(r / "x.dvx", "dvx: 1\n"), "x.dvx", "pointer file"),
])
def test_add_refuses_with_a_clear_message(repo, dvx, setup, target, message):
    setup(repo)
    result = dvx("add", target)
    assert result.code != 0
    assert "ERROR:" in result.stderr and message in result.stderr, result.stderr
    assert not (repo / (target + ".dvx")).exists() or target.endswith(".dvx")


def test_the_hint_for_a_file_git_tracks_runs_from_inside_the_git_directory(repo, dvx_proc):
    """`dvx add` runs inside .git, where Git runs no `git rm` nor `git commit` ("must be run in
    a work tree"): the hint runs both at the top, as the `git add` hint does; so does the
    one for dvx's private files that Git tracks."""
    write(repo / "f.txt", "x\n")
    git(repo, "add", "f.txt")
    git(repo, "commit", "-qm", "f.txt in Git")
    hooks = repo / ".git" / "hooks"
    refused = dvx_proc("add", "../../f.txt", cwd=hooks)
    assert refused.code == 2, refused.output
    hint = " ".join(refused.stderr.split()).split("first: ")[1].removesuffix(".")
    assert hint == f"git -C {repo} rm -r --cached -- f.txt && git -C {repo} commit"
    subprocess.run(hint + " -qm untracked", shell=True, check=True, cwd=hooks)
    assert git(repo, "ls-files", "--", "f.txt") == "" and (repo / "f.txt").exists()
    write(repo / ".dvx" / "config.local", "[core]\n")
    git(repo, "add", "-f", ".dvx/config.local")
    refused = dvx_proc("add", "../../f.txt", cwd=hooks)
    assert refused.code == 2, refused.output
    untrack = f"git -C {repo} rm -r --cached -- .dvx/config.local"
    assert f"If the repository is yours: `{untrack}`" in " ".join(refused.stderr.split())
    subprocess.run(untrack, shell=True, check=True, cwd=hooks, capture_output=True)
    assert git(repo, "ls-files", "--", ".dvx/config.local") == ""


@pytest.mark.parametrize("name", ["*", "data?.csv", "[d]ata1.csv", "-rf", ":x", "it's.csv"])
def test_the_hint_for_a_file_git_tracks_untracks_that_file_only(repo, dvx, name):
    for other in ("README", "data1.csv", "dataX.csv", "d", "x", name):
        write(repo / other, other)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "code and data")
    refused = dvx("add", "--", name)
    assert refused.code == 2, refused.output
    hint = " ".join(refused.stderr.split()).split("first: ")[1]
    assert hint.startswith("git rm -r --cached -- ") and hint.endswith(" && git commit.")
    subprocess.run(["sh", "-c", hint.removesuffix(" && git commit.")], cwd=repo, check=True,
                   capture_output=True)
    gone = git(repo, "diff", "--cached", "--name-only", "--diff-filter=D", "-z").split("\0")
    assert gone == [name, ""]
    assert (repo / name).read_text() == name  # the file stays, only Git stops tracking it


@pytest.mark.parametrize("name, why", [("a\nb", "line break"), ("a\\b", "backslash"),
                                       (b"a\xffb", "not valid UTF-8")])
def test_a_name_a_manifest_cannot_hold_is_a_path_error_naming_the_file(repo, dvx_proc, name,
                                                                        why):
    write(repo / "d" / "ok", "ok")
    (repo / "d").joinpath(os.fsdecode(name)).write_text("x")
    refused = dvx_proc("add", "d", cwd=repo)
    assert refused.code == 2 and refused.stderr.startswith("ERROR: 'd/a"), refused.output
    assert why in refused.stderr and "manifest '" not in refused.stderr
    assert refused.stderr.count("'") == 2  # quoted once
    assert not (repo / "d.dvx").exists()


def test_a_file_whose_name_is_not_utf8_is_refused_before_anything_is_written(repo, dvx_proc):
    name = os.fsdecode(b"legacy-\xe9.bin")
    (repo / name).write_text("x")
    refused = dvx_proc("add", name, cwd=repo)
    assert refused.code == 2 and "not valid UTF-8" in refused.stderr, refused.output
    assert refused.stderr.startswith("ERROR: 'legacy-\\351.bin' has a name")  # as Git writes it
    assert sorted(p.name for p in repo.iterdir() if p.name.startswith("legacy")) == [name]
    assert not (repo / ".gitignore").exists()


@pytest.mark.parametrize("link_type", ["hardlink", "symlink"])
def test_a_file_is_never_linked_to_an_object_that_no_longer_holds_its_bytes(repo, dvx,
                                                                             link_type):
    dvx("config", "cache.type", link_type)
    write(repo / "f.txt", "hello\n")
    dvx("add", "f.txt")
    obj = os.path.realpath(repo / "f.txt")
    os.chmod(obj, 0o644)  # what a write as root, or a chmod and an edit, gets through
    with open(repo / "f.txt", "a") as f:
        f.write("CORRUPT\n")
    write(repo / "g.txt", "hello\n")  # the same bytes f.txt was added with
    assert dvx("add", "g.txt").code == 0
    assert (repo / "g.txt").read_text() == "hello\n"
    assert "0 corrupt" in dvx("fsck").stdout  # the damaged object was moved aside
    assert list((repo / ".dvx" / "cache" / "quarantine").iterdir())


def _rewritten_keeping_size_and_times(path, data):
    """Write `data`, of the file's size, into it in place and set its times back, as `cp -p`
    of a new version over it does: only its ctime tells."""
    before = os.stat(path)
    os.chmod(path, 0o644)  # root, or the user's `chmod u+w`: through a link, the object's mode
    with open(path, "r+b") as f:
        f.write(data)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))


@pytest.mark.parametrize("second", ["a new file", "a file added before, unchanged"])
def test_bytes_added_in_copy_mode_never_take_an_object_written_through_a_link_for_theirs(
        repo, dvx, second):
    """A symlink to an object is written through, same size, times set back. The same bytes
    the object held are then added in copy mode (or a file added with them before, unchanged,
    is added again): the object is hashed, moved aside, and the bytes stored again, so the
    pointer never names an object that holds other bytes."""
    if second == "a file added before, unchanged":
        write(repo / "g.txt", "hello\n")
        assert dvx("add", "g.txt").code == 0
    dvx("config", "cache.type", "symlink")
    write(repo / "f.txt", "hello\n")
    assert dvx("add", "f.txt").code == 0
    _rewritten_keeping_size_and_times(repo / "f.txt", b"HELLO\n")
    dvx("config", "cache.type", "copy")
    write(repo / "g.txt", "hello\n")
    added = dvx("add", "g.txt")
    assert added.code == 0 and "no longer held its bytes" in added.output, added.output
    (repo / "g.txt").unlink()
    assert dvx("checkout", "g.txt").code == 0
    assert (repo / "g.txt").read_text() == "hello\n"
    assert "0 corrupt" in dvx("fsck").stdout
    assert list((repo / ".dvx" / "cache" / "quarantine").iterdir())  # the edit, kept


@pytest.mark.parametrize("sets_aside", ["fsck", "add the edited file", "add the same bytes"])
def test_an_edit_through_a_symlink_stays_in_every_file_linked_to_the_object_set_aside(
        repo, dvx, sets_aside):
    dvx("config", "cache.type", "symlink")
    for path in ("f.txt", "g.txt", "d/a"):
        write(repo / path, "one\n")
    write(repo / "d" / "b", "two\n")
    dvx("add", "f.txt", "g.txt", "d")
    os.chmod(os.path.realpath(repo / "f.txt"), 0o644)  # what a write as root gets through
    with open(repo / "f.txt", "a") as f:
        f.write("edit\n")
    if sets_aside == "fsck":
        result = dvx("fsck")
        assert result.code == 1
    elif sets_aside == "add the edited file":
        result = dvx("add", "f.txt")
    else:
        write(repo / "h.txt", "one\n")
        result = dvx("add", "h.txt")
    assert list((repo / ".dvx" / "cache" / "quarantine").iterdir())
    kept = ["g.txt", "d/a"] + ([] if sets_aside == "add the edited file" else ["f.txt"])
    for path in kept:  # files of their own, holding what the links showed
        assert not (repo / path).is_symlink() and (repo / path).read_text() == "one\nedit\n"
        assert f"'{path}'" in result.stderr, result.stderr
    assert (repo / "f.txt").read_text() == "one\nedit\n"
    status = dvx("status").stdout
    assert "g.txt: modified" in status and "d: modified" in status, status
    assert dvx("add", "f.txt", "g.txt", "d").code == 0
    assert dvx("status", "-q").code == 0 and dvx("fsck").code == 0
    for path in ("f.txt", "g.txt", "d/a"):
        assert (repo / path).read_text() == "one\nedit\n"


@pytest.mark.parametrize("tracked", ["f.txt", "d"])
def test_an_edit_through_a_symlink_into_the_cache_is_seen_and_added(repo, dvx, tracked):
    dvx("config", "cache.type", "symlink")
    write(repo / "f.txt", "one\n")
    write(repo / "d" / "a", "one\n")
    write(repo / "d" / "b", "two\n")
    dvx("add", tracked)
    path = repo / ("f.txt" if tracked == "f.txt" else "d/a")
    assert path.is_symlink()
    assert dvx("status", "-q").code == 0  # recorded at link time: no hashing needed
    os.chmod(os.path.realpath(path), 0o644)  # what a write as root gets through
    with open(path, "a") as f:
        f.write("more\n")
    assert "modified" in dvx("status").stdout
    assert dvx("status", "-q").code != 0
    checkout = dvx("checkout", tracked)  # the changed bytes are in no object of their own
    assert checkout.code != 0 and path.read_text() == "one\nmore\n"
    assert dvx("add", tracked).code == 0
    assert path.is_symlink() and path.read_text() == "one\nmore\n"
    assert dvx("status", "-q").code == 0
    if tracked == "f.txt":
        assert xxhash.xxh128(b"one\nmore\n").hexdigest() in (repo / "f.txt.dvx").read_text()
    fsck = dvx("fsck")
    assert fsck.code == 0 and "0 corrupt" in fsck.stdout  # the changed object was set aside
    assert list((repo / ".dvx" / "cache" / "quarantine").iterdir())
    assert dvx("status", "-q").code == 0 and path.read_text() == "one\nmore\n"


@pytest.mark.parametrize("tracked", ["f.txt", "d"])
def test_an_edit_through_a_hard_link_into_the_cache_is_added_and_its_object_set_aside(
        repo, dvx, tmp_path, tracked):
    dvx("config", "cache.type", "hardlink")
    dvx("remote", "add", "-d", "store", str(tmp_path / "store"))
    write(repo / "f.txt", "one\n")
    write(repo / "d" / "a", "one\n")
    write(repo / "d" / "b", "two\n")
    write(repo / "g.txt", "one\n")  # another pointer to the same object
    assert dvx("add", tracked, "g.txt").code == 0
    path = repo / ("f.txt" if tracked == "f.txt" else "d/a")
    old = object_path(repo, xxhash.xxh3_128_hexdigest(b"one\n"))
    assert os.path.samefile(path, old) and os.path.samefile(repo / "g.txt", old)
    os.chmod(path, 0o644)  # what a write as root gets through
    with open(path, "a") as f:
        f.write("more\n")
    assert "modified" in dvx("status").stdout  # hashed again: the stat cache has the new oid
    added = dvx("add", tracked)
    assert added.code == 0 and "changed through a link" in added.stderr
    new = object_path(repo, xxhash.xxh3_128_hexdigest(b"one\nmore\n"))
    assert path.read_text() == "one\nmore\n" and os.path.samefile(path, new)
    assert not old.exists()  # no oid names bytes its object no longer holds
    assert list((repo / ".dvx" / "cache" / "quarantine").iterdir())
    assert "g.txt: modified, not in cache" in dvx("status").stdout
    checkout = dvx("checkout", "g.txt")  # nothing holds its recorded bytes: it is not "restored"
    assert checkout.code != 0 and "g.txt" in checkout.stdout + checkout.stderr
    assert (repo / "g.txt").read_text() == "one\nmore\n"
    fsck = dvx("fsck")
    assert fsck.code == 0 and "0 corrupt" in fsck.stdout
    push = dvx("push")
    assert push.code != 0 and "Failed g.txt" in push.stdout + push.stderr
    assert dvx("status", tracked).code == 0


@pytest.mark.parametrize("tracked", ["big.csv", "d"])
def test_a_file_hard_linked_from_outside_the_repository_is_stored_as_a_copy(
        repo, dvx, tmp_path, tracked):
    dvx("config", "cache.type", "hardlink")
    outside = write(tmp_path / "outside" / "big.csv", "dataset v1\n")
    os.chmod(outside, 0o664)
    rel = "big.csv" if tracked == "big.csv" else "d/big.csv"
    (repo / rel).parent.mkdir(exist_ok=True)
    os.link(outside, repo / rel)  # data shared with another tool by a hard link
    assert dvx("add", tracked).code == 0
    obj = object_path(repo, xxhash.xxh3_128_hexdigest(b"dataset v1\n"))
    assert os.path.samefile(repo / rel, obj)  # linked to its object as usual
    assert not os.path.samefile(outside, obj)
    assert stat.S_IMODE(outside.stat().st_mode) == 0o664  # the outside file is left alone
    with open(outside, "a") as f:
        f.write("more rows\n")
    assert obj.read_text() == (repo / rel).read_text() == "dataset v1\n"
    assert dvx("status", "-q").code == 0
    assert "0 corrupt" in dvx("fsck").stdout
    assert outside.read_text() == "dataset v1\nmore rows\n"


@pytest.mark.parametrize("error", ["EPERM", "EACCES", "EROFS", "EOPNOTSUPP"])
def test_a_stored_file_that_cannot_become_a_symlink_is_named_unless_symlinks_are_unsupported(
        repo, dvx, monkeypatch, error):
    from dvx import fsutil

    def refused(src: str, dst: str) -> None:  # an immutable directory gives EPERM, say
        code = getattr(errno, error)
        raise OSError(code, os.strerror(code))

    dvx("config", "cache.type", "symlink")
    write(repo / "d" / "a", "a\n")
    monkeypatch.setitem(fsutil.LINKERS, "symlink", refused)
    result = dvx("add", "d")
    assert result.code == 0 and not (repo / "d" / "a").is_symlink()
    assert (repo / "d" / "a").read_text() == "a\n"
    warned = "'d/a' stays a copy of the cached object" in result.stderr
    assert warned == (error != "EOPNOTSUPP"), result.stderr
    assert "dvx checkout --relink" in result.stderr or not warned


def test_in_symlink_mode_files_left_copies_are_linked_by_a_later_add_without_rehashing(
        repo, dvx, monkeypatch):
    """cache.type symlink: files an add left copies of their objects (links refused then)
    are unchanged for the stat cache, so the next add and commit never read them again: a
    commit with links still refused leaves them as they are, and an add once links work makes
    them links."""
    from dvx import fsutil
    from dvx.objects.cache import LocalCache

    def refused(src: str, dst: str) -> None:
        raise OSError(errno.EPERM, os.strerror(errno.EPERM))

    dvx("config", "cache.type", "symlink")
    write(repo / "f.bin", os.urandom(2000))
    for name in ("a", "b"):
        write(repo / "d" / name, os.urandom(2000))
    with monkeypatch.context() as links:
        links.setitem(fsutil.LINKERS, "symlink", refused)
        assert dvx("add", "f.bin", "d").code == 0
    files = [repo / "f.bin", repo / "d" / "a", repo / "d" / "b"]
    assert not any(path.is_symlink() for path in files)
    time.sleep(0.05)  # the stat cache's stamp strictly newer than every file
    assert dvx("status", "-q").code == 0
    read: list[str] = []
    copy = LocalCache._add_by_copy
    monkeypatch.setattr(LocalCache, "_add_by_copy",
                        lambda self, path, *rest: read.append(path) or copy(self, path, *rest))
    with monkeypatch.context() as links:
        links.setitem(fsutil.LINKERS, "symlink", refused)
        assert dvx("commit", "f.bin", "d").code == 0
    assert read == [] and not any(path.is_symlink() for path in files)
    assert dvx("add", "f.bin", "d").code == 0
    assert read == [] and all(path.is_symlink() for path in files)
    assert dvx("status", "-q").code == 0


def _cached_bytes(repo):
    return {p.read_bytes() for p in (repo / ".dvx" / "cache" / "files").rglob("*")
            if p.is_file()}


@pytest.mark.parametrize("link_type", ["reflink,copy", "copy", "symlink"])
def test_add_and_commit_refused_for_one_directory_store_none_of_the_other_targets(
        repo, dvx, link_type):
    """What storing a directory would refuse part-way (a FIFO in it, a repository of its own)
    is refused before any target is stored, in every cache.type: no object of the others is
    left in the cache that no pointer names."""
    dvx("config", "cache.type", link_type)
    write(repo / "f.csv", "mine\n")
    write(repo / "d" / "a", "a\n")
    os.mkfifo(repo / "d" / "pipe")
    refused = dvx("add", "f.csv", "d")
    assert refused.code == 2 and "'d/pipe' is not a regular file" in refused.stderr, \
        refused.output
    assert b"mine\n" not in _cached_bytes(repo) and not (repo / "f.csv.dvx").exists()

    (repo / "d" / "pipe").unlink()
    assert dvx("add", "f.csv", "d").code == 0
    (repo / "f.csv").unlink()  # a symlink to its object in symlink mode: never written through
    write(repo / "f.csv", "changed\n")
    git(repo / "d", "init", "-q")
    refused = dvx("commit", "f.csv", "d")
    assert refused.code == 2 and "'d' holds 'd/.git'" in refused.stderr, refused.output
    assert b"changed\n" not in _cached_bytes(repo)


def test_a_linked_file_made_executable_gets_a_copy_of_its_own(repo, dvx):
    dvx("config", "cache.type", "hardlink")
    write(repo / "run.sh", "echo hi\n")
    dvx("add", "run.sh")
    os.chmod(repo / "run.sh", 0o555)  # chmod +x of a hard link: of the object too
    assert dvx("commit", "run.sh").code == 0
    objects = [p for p in (repo / ".dvx" / "cache" / "files").rglob("*") if p.is_file()]
    assert len(objects) == 1 and stat.S_IMODE(objects[0].stat().st_mode) == 0o444
    assert os.stat(repo / "run.sh").st_nlink == 1
    assert os.access(repo / "run.sh", os.X_OK)
    write(repo / "same.sh", "echo hi\n")  # the same bytes, not executable
    dvx("add", "same.sh")
    assert not os.access(repo / "same.sh", os.X_OK)
    assert dvx("status", "-q").code == 0
    assert dvx("checkout", "--relink").code == 0
    assert not [p for p in os.listdir(repo) if p.endswith(".tmp")]


def test_a_symlinked_file_made_executable_is_modified_and_add_records_its_bit(repo, dvx):
    dvx("config", "cache.type", "symlink")
    for name in ("run.sh", "other.sh", "reset.sh"):
        write(repo / name, "echo hi\n")
    assert dvx("add", "run.sh", "other.sh", "reset.sh").code == 0
    os.chmod(repo / "run.sh", 0o555)  # through the link: the object's mode, every link's
    status = dvx("status", "--json")
    assert '"workspace": "unchanged"' not in status.stdout, status.stdout
    assert dvx("add", "run.sh").code == 0
    assert "exec: true" in (repo / "run.sh.dvx").read_text()
    assert not (repo / "run.sh").is_symlink() and os.access(repo / "run.sh", os.X_OK)
    objects = [p for p in (repo / ".dvx" / "cache" / "files").rglob("*") if p.is_file()]
    assert len(objects) == 1 and stat.S_IMODE(objects[0].stat().st_mode) == 0o444
    assert not os.access(repo / "other.sh", os.X_OK)
    assert dvx("status", "-q").code == 0
    os.chmod(repo / "reset.sh", 0o555)
    assert dvx("checkout", "--force", "reset.sh").code == 0  # discards the chmod
    assert stat.S_IMODE(objects[0].stat().st_mode) == 0o444
    assert dvx("status", "-q").code == 0


def test_where_git_reads_no_exec_bit_the_recorded_bits_are_kept_and_new_files_not_executable(
        repo, dvx):
    """On exFAT or FAT every file reads as executable, and `git clone` sets core.filemode
    false there: dvx then reads no executable bit either, as Git does, so a fresh clone is
    not all "modified" and a commit records no `exec: true` for a teammate on Linux."""
    for name, mode in (("run.sh", 0o755), ("data.txt", 0o644), ("d/x.sh", 0o755),
                       ("d/a", 0o644)):
        write(repo / name, name)
        os.chmod(repo / name, mode)
    assert dvx("add", "run.sh", "data.txt", "d").code == 0
    git(repo, "config", "core.filemode", "false")
    for name in ("run.sh", "data.txt", "d/x.sh", "d/a"):
        os.chmod(repo / name, 0o777)  # as exFAT reads every file
    assert dvx("status", "-q").code == 0
    assert dvx("checkout", "--force").code == 0 and dvx("status", "-q").code == 0
    for name in ("run.sh", "data.txt", "d/a"):
        write(repo / name, "edited")
    os.chmod(repo / "run.sh", 0o644)  # the recorded bit stands, whatever the file reads
    for name in ("d/new", "new.txt"):
        write(repo / name, "new")
        os.chmod(repo / name, 0o777)
    assert dvx("commit").code == 0 and dvx("add", "new.txt").code == 0
    assert pointer_field(repo / "run.sh.dvx", "exec") == "true"
    assert pointer_field(repo / "data.txt.dvx", "exec") is None
    assert pointer_field(repo / "new.txt.dvx", "exec") is None
    oid = pointer_field(repo / "d.dvx", "oid")
    rows = [json.loads(line) for line in object_path(repo, oid).read_text().splitlines()[1:]]
    assert {path: executable for path, _, _, executable in rows} == {
        "a": False, "new": False, "x.sh": True}
    assert dvx("status", "-q").code == 0
    git(repo, "config", "core.filemode", "true")  # where the bits are read again
    assert dvx("status", "-q").code == 1


def test_hard_links_to_a_cache_on_another_filesystem_warn_once_that_the_files_stay_copies(
        repo, dvx):
    """cache.type hardlink with the cache on another filesystem: checkout refuses, and add,
    which stores the data safely all the same, says that the files stay copies, once."""
    import shutil
    import tempfile

    if not os.path.isdir("/dev/shm") or os.stat("/dev/shm").st_dev == os.stat(repo).st_dev:
        pytest.skip("needs a folder on another filesystem")
    elsewhere = tempfile.mkdtemp(dir="/dev/shm")
    try:
        cache = os.path.join(elsewhere, "cache")
        assert dvx("config", "cache.dir", cache).code == 0
        assert dvx("config", "cache.type", "hardlink").code == 0
        write(repo / "a.bin", os.urandom(1000))
        write(repo / "d" / "b.bin", os.urandom(1000))
        result = dvx("add", "a.bin", "d")
        assert result.code == 0, result.output
        assert result.stderr.count("stays a copy of its own") == 1, result.stderr
        assert f"the cache ({cache}) on the one mounted at /dev/shm" in result.stderr
        assert "cache.type to symlink, or to hardlink,copy" in result.stderr
        assert os.stat(repo / "a.bin").st_nlink == os.stat(repo / "d" / "b.bin").st_nlink == 1
        assert dvx("config", "cache.type", "hardlink,copy").code == 0
        write(repo / "c.bin", "c")
        assert "stays a copy" not in dvx("add", "c.bin").stderr
    finally:
        shutil.rmtree(elsewhere)


def test_what_lies_inside_a_folder_is_told_from_paths_that_only_start_like_it(repo, dvx):
    """Tracked paths sort as 'd-x', 'd.y', 'd/...', 'd0': only those below 'd/' are inside."""
    for path in ("d-x/f", "d.y", "d0/f", "dd/f", "e-x", "e/deep/f", "e0"):
        write(repo / path, path)
    assert dvx("add", "d-x/f", "d.y", "d0/f", "dd/f", "e-x", "e/deep/f", "e0").code == 0
    write(repo / "d" / "f", "new")
    assert dvx("add", "d").code == 0
    write(repo / "e" / "other", "new")
    refused = dvx("add", "e")
    assert refused.code != 0 and "'e' contains 'e/deep/f'" in refused.stderr
    again = dvx("add", "d", "d-x/f", "d.y", "d0/f", "dd/f", "e-x", "e/deep/f", "e0")
    assert again.code == 0, again.output  # every tracked path added again in one call


def test_add_refuses_nesting_in_either_direction(repo, dvx):
    write(repo / "d" / "inner" / "f", "x")
    assert dvx("add", "d/inner").code == 0
    outer = dvx("add", "d")
    assert outer.code != 0 and "already tracks" in outer.stderr
    write(repo / "e" / "f", "x")
    assert dvx("add", "e").code == 0
    inner = dvx("add", "e/f")
    assert inner.code != 0 and "inside 'e'" in inner.stderr
    write(repo / "s" / "e" / "f", "not tracked")
    here = repo / "s"  # from here 'e' names s/e: the hints name the tracked paths from here
    assert "Run `dvx commit ../e` to record" in dvx("add", "../e/f", cwd=here).stderr
    assert "Run `dvx remove ../d/inner.dvx` first" in dvx("add", "../d", cwd=here).stderr
    assert dvx("commit", "../e", cwd=here).code == 0


@pytest.mark.parametrize("order", [("d", "d/x"), ("d/x", "d")])
def test_add_refuses_nested_paths_named_together_before_writing(repo, dvx, order):
    write(repo / "d" / "x", "x")
    result = dvx("add", *order)
    assert result.code == 2 and "'d/x' is inside 'd', which is named too" in result.stderr
    assert sorted(p.name for p in (repo / "d").iterdir()) == ["x"]
    assert not (repo / "d.dvx").exists()


def test_add_refuses_symlinked_parent_directory(repo, dvx, tmp_path):
    outside = tmp_path / "outside"
    write(outside / "secret", "s")
    os.symlink(outside, repo / "via")
    result = dvx("add", "via/secret")
    assert result.code != 0 and "symbolic link" in result.stderr
    assert not (repo / ".dvx" / "cache" / "files").exists()


def test_absolute_paths_through_a_link_to_the_repository_work_as_relative_ones(repo, dvx,
                                                                               tmp_path):
    link = tmp_path / "link"
    os.symlink(repo, link)
    write(repo / "g", "g")
    assert dvx("add", str(link / "g"), cwd=link).code == 0
    assert (repo / "g.dvx").is_file()
    for command in (("status",), ("checkout",), ("unprotect",)):
        result = dvx(*command, str(link / "g"), cwd=link)
        assert result.code == 0, result.output
    assert dvx("remove", str(link / "g.dvx"), cwd=link).code == 0
    assert not (repo / "g.dvx").exists()
    outside = tmp_path / "outside"  # a symlinked folder inside the repository: still refused
    write(outside / "secret", "s")
    os.symlink(outside, repo / "via")
    result = dvx("add", str(link / "via" / "secret"), cwd=link)
    assert result.code != 0 and "symbolic link" in result.stderr
    assert dvx("add", str(tmp_path / "outside" / "secret"), cwd=link).code == 2


def test_a_directory_where_the_pointer_goes_is_named(repo, dvx):
    write(repo / "X", "x")
    (repo / "X.dvx").mkdir()
    result = dvx("add", "X")
    assert result.code == 2 and "'X.dvx' is a directory" in result.stderr
    assert ".tmp" not in result.stderr and not (repo / ".gitignore").exists()


@pytest.mark.parametrize("nested", ["clone", "submodule-like"])
def test_add_and_move_refuse_a_path_inside_a_nested_git_repository(repo, dvx, tmp_path, nested):
    lib = repo / "lib"
    if nested == "clone":
        make_git_repo(lib)
    else:  # a submodule's checkout: .git is a file naming its Git directory elsewhere
        lib.mkdir()
        git(lib, "init", "-q", "--separate-git-dir", str(tmp_path / "lib.git"))
    write(lib / "sub" / "big.bin", "lib weights\n")
    write(repo / "mine.bin", "mine\n")
    assert dvx("add", "mine.bin").code == 0
    for args in (("add", "lib/sub/big.bin"), ("move", "mine.bin", "lib/mine.bin")):
        refused = dvx(*args, cwd=repo)
        assert refused.code == 2, refused.output
        assert "inside 'lib', a Git repository of its own" in refused.stderr
        assert "dvx init" in refused.stderr
    refused = dvx("add", "big.bin", cwd=lib / "sub")  # from inside: not this project's at all
    assert refused.code == 2, refused.output
    assert f"is in the Git repository '{lib}', which has no dvx set up" in refused.stderr
    assert f"Run `dvx init` in '{lib}'" in refused.stderr
    assert sorted(p.name for p in lib.rglob("*") if ".git" not in p.parts) == ["big.bin", "sub"]
    assert (repo / "mine.bin.dvx").exists()


def _with_submodule(repo, tmp_path, dvx_init_in_it=False):
    """`repo` with the Git repository 'libs/sub' added as a submodule, committed."""
    sub = make_git_repo(tmp_path / "sub")
    write(sub / "README", "sub\n")
    if dvx_init_in_it:
        assert run_dvx("init", cwd=sub).code == 0
        write(sub / "a.txt", "a\n")
        assert run_dvx("add", "a.txt", cwd=sub).code == 0
    git(sub, "add", "-A")
    git(sub, "commit", "-qm", "sub")
    git(repo, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(sub), "libs/sub")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "with a submodule")
    return repo


def test_add_and_move_refuse_a_path_inside_a_submodule_not_checked_out(repo, dvx, tmp_path):
    """A clone made without --recurse-submodules has an empty folder where the submodule
    goes, with no .git: Git's index still names it (a gitlink), and Git would refuse the
    pointer, and the submodule's checkout the folder, had dvx written there."""
    _with_submodule(repo, tmp_path)
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(repo), str(clone))
    lib = clone / "libs" / "sub"
    assert lib.is_dir() and not (lib / ".git").exists()
    write(lib / "x", "data\n")
    write(clone / "mine.bin", "mine\n")
    assert dvx("add", "mine.bin", cwd=clone).code == 0
    for args, cwd in ((("add", "libs/sub/x"), clone), (("add", "x"), lib),
                      (("add", "libs/sub/x", "mine.bin"), clone),
                      (("move", "mine.bin", "libs/sub/"), clone)):
        refused = dvx(*args, cwd=cwd)
        assert refused.code == 2, refused.output
        assert ("inside 'libs/sub', a submodule of this Git repository, not checked out"
                in refused.stderr)
        assert "git submodule update --init -- libs/sub" in refused.stderr
    refused = dvx("add", "libs/sub", cwd=clone)
    assert refused.code == 2 and "'libs/sub' is a submodule" in refused.stderr
    assert "git rm" not in refused.stderr
    assert sorted(p.name for p in lib.iterdir()) == ["x"]
    assert (clone / "mine.bin.dvx").exists()
    os.remove(lib / "x")
    git(clone, "-c", "protocol.file.allow=always", "submodule", "update", "-q", "--init")
    assert (lib / "README").read_text() == "sub\n"


def test_add_of_a_submodule_or_of_a_folder_holding_one_says_it_is_a_repository_of_its_own(
        repo, dvx, tmp_path):
    """Not that Git tracks it, with `git rm -r --cached` advice: that would unregister the
    submodule, and its checkout would still be refused."""
    _with_submodule(repo, tmp_path)
    write(repo / "libs" / "notes.txt", "notes\n")
    for target, said in (("libs/sub", "'libs/sub' is a Git repository of its own (a submodule"),
                         ("libs", "'libs' holds 'libs/sub', a Git repository of its own")):
        refused = dvx("add", target)
        assert refused.code == 2, refused.output
        assert said in refused.stderr
        assert "dvx init` in 'libs/sub'" in refused.stderr and "git rm" not in refused.stderr
    git(repo, "rm", "-q", "-r", "--cached", "--", "libs/sub")  # a clone of its own now
    refused = dvx("add", "libs/sub")
    assert refused.code == 2 and "'libs/sub' is a Git repository of its own" in refused.stderr


def test_add_inside_a_submodule_that_is_a_dvx_project_says_to_run_dvx_there(
        repo, dvx, tmp_path):
    """A checked-out submodule with a .dvx of its own is named as a submodule, and as the dvx
    project it is: the way out is to run dvx there (`cd` to it), never `dvx init` again."""
    _with_submodule(repo, tmp_path, dvx_init_in_it=True)
    lib = repo / "libs" / "sub"
    write(lib / "s.bin", "s\n")
    for target, cwd, said, then in (
            ("libs/sub/s.bin", repo, "'libs/sub/s.bin' is inside 'libs/sub', a Git repository "
             "of its own (a submodule):", "(`cd libs/sub`, then `dvx add s.bin`)"),
            ("sub/s.bin", repo / "libs", "'sub/s.bin' is inside 'libs/sub', a Git repository "
             "of its own (a submodule):", "(`cd sub`, then `dvx add s.bin`)"),
            ("libs/sub", repo, "'libs/sub' is a Git repository of its own (a submodule):",
             "(`cd libs/sub` and run dvx there)")):
        refused = dvx("add", target, cwd=cwd)
        assert refused.code == 2, refused.output
        message = " ".join(refused.stderr.split())
        assert said in message and "(a submodule, say)" not in message, message
        assert (f"'libs/sub' is a dvx project already: track data there with dvx in it {then}; "
                "or choose a path outside it.") in message, message
        assert "dvx init" not in message, message
    assert not (lib / "s.bin.dvx").exists()
    assert dvx("add", "s.bin", cwd=lib).code == 0 and (lib / "s.bin.dvx").is_file()


def test_a_new_name_for_a_file_while_it_is_hashed_is_no_change(repo, dvx):
    """A link(2) of the file being hashed (hard-link mode links files of one inode into the
    cache on other threads) changes its ctime and no byte: the add goes on."""
    import signal

    from tests.conftest import stopped_at

    assert dvx("config", "cache.type", "copy").code == 0  # hashed as it is copied
    write(repo / "big.bin", os.urandom(3 << 20))
    adding = stopped_at("hash_copy.after_open", "add big.bin", repo)
    os.link(repo / "big.bin", repo / "other-name.bin")
    os.kill(adding.pid, signal.SIGCONT)
    out, err = adding.communicate(timeout=60)
    assert adding.returncode == 0, out + err
    assert (repo / "big.bin.dvx").exists()


def test_add_of_a_file_rewritten_while_it_is_copied_is_refused_never_recorded_as_zeros(repo):
    """Another program truncates and rewrites the file once dvx has taken its size: the
    copy in the cache would hold zeros the file never held. The add fails, and records
    nothing."""
    import signal

    from tests.conftest import stopped_at

    data = b"\xab" * (2 << 20)
    write(repo / "data.bin", data)
    adding = stopped_at("hash_copy.after_open", "add data.bin", repo)
    with open(repo / "data.bin", "r+b") as f:
        f.truncate(0)
        f.write(data)
    os.kill(adding.pid, signal.SIGCONT)
    out, err = adding.communicate(timeout=60)
    assert adding.returncode == 1, out + err
    assert "changed while it was being read" in err and "data.bin" in err
    assert "let any program writing to it finish and run the command again" in err
    assert "Traceback" not in err
    assert not (repo / "data.bin.dvx").exists()
    objects = [p for p in (repo / ".dvx" / "cache" / "files").rglob("*") if p.is_file()]
    assert all(p.read_bytes().strip(b"\0") for p in objects)
    assert (repo / "data.bin").read_bytes() == data


def _two_branches_of_data(repo, dvx):
    """'data' tracked on main, and on the branch feat with another data/f1.txt; main checked
    out again, its data in the workspace: the feat pointer's bytes."""
    for i in (1, 2, 3):
        write(repo / "data" / f"f{i}.txt", f"file {i}\n")
    assert dvx("add", "data").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "base")
    git(repo, "switch", "-qc", "feat")
    write(repo / "data" / "f1.txt", "feat\n")
    assert dvx("add", "data").code == 0
    git(repo, "commit", "-qam", "feat")
    feat = (repo / "data.dvx").read_bytes()
    git(repo, "switch", "-q", "main")
    assert dvx("checkout", "data").code == 0
    return feat


@pytest.mark.parametrize("command", ["add", "commit"])
def test_a_git_switch_while_data_is_read_makes_add_and_commit_record_nothing(
        repo, dvx, command):
    """`git switch` takes no dvx lock: it changes the pointer while the command reads the
    workspace's data, the older branch's. Written, the pointer would undo the other branch's
    change; the command refuses, and the pointer stays the branch's."""
    import signal

    from tests.conftest import stopped_at

    feat = _two_branches_of_data(repo, dvx)
    write(repo / "data" / "f2.txt", "mine\n")
    recording = stopped_at("hash_file.after_open", f"{command} data", repo)
    git(repo, "switch", "-q", "feat")
    os.kill(recording.pid, signal.SIGCONT)
    out, err = recording.communicate(timeout=60)
    assert recording.returncode == 1, out + err
    assert f"'data.dvx' changed while dvx {command} ran (a `git checkout`" in err
    assert f"dvx {command} recorded nothing" in err and f"`dvx {command} data` again" in err
    assert "Traceback" not in err
    assert (repo / "data.dvx").read_bytes() == feat
    assert git(repo, "status", "--porcelain", "--", "data.dvx") == ""


def test_a_git_switch_while_exp_save_records_an_input_names_exp_save(repo, dvx):
    """`exp save` records a changed `dvx add`-tracked input of the pipeline first: a `git
    switch` that changes its pointer meanwhile makes exp save, named as such, record
    nothing of it."""
    import signal

    from tests.conftest import stopped_at

    feat = _two_branches_of_data(repo, dvx)
    write(repo / "dvx.yaml", "stages:\n  s:\n    cmd: ls data > o.txt\n    deps: [data]\n"
                             "    outs: [o.txt]\n")
    write(repo / "data" / "f2.txt", "mine\n")
    recording = stopped_at("track.stored", "exp save", repo)
    git(repo, "switch", "-q", "feat")
    os.kill(recording.pid, signal.SIGCONT)
    out, err = recording.communicate(timeout=60)
    assert recording.returncode == 1, out + err
    assert "'data.dvx' changed while dvx exp save ran" in err, err
    assert "dvx exp save did not record 'data'" in err and "Traceback" not in err
    assert (repo / "data.dvx").read_bytes() == feat


@pytest.mark.parametrize("typed", ["exp run -n e1", "exp save -n kept"])
def test_a_git_switch_while_an_experiment_records_an_input_names_it_and_how_to_run_it_again(
        repo, dvx, typed):
    """The same refusal of `exp run -n NAME` or `exp save -n NAME` names the command that
    ran, and says to run it again as typed, its name included."""
    import signal

    from tests.conftest import stopped_at

    feat = _two_branches_of_data(repo, dvx)
    write(repo / "dvx.yaml", "stages:\n  s:\n    cmd: ls data > o.txt\n    deps: [data]\n"
                             "    outs: [o.txt]\n")
    write(repo / "data" / "f2.txt", "mine\n")
    recording = stopped_at("track.stored", typed, repo)
    git(repo, "switch", "-q", "feat")
    os.kill(recording.pid, signal.SIGCONT)
    out, err = recording.communicate(timeout=60)
    said = " ".join(err.split())
    command = " ".join(typed.split()[:2])
    assert recording.returncode == 1, out + err
    assert f"'data.dvx' changed while dvx {command} ran" in said, said
    assert f"then `dvx {typed}` again" in said and "Traceback" not in said, said
    assert (repo / "data.dvx").read_bytes() == feat


def test_a_git_switch_while_a_stage_output_is_read_makes_commit_record_nothing(repo, dvx):
    """The same for a pipeline output: the dvx.lock the switch brought stays."""
    import signal

    from tests.conftest import stopped_at
    from tests.pipeline_kit import commit_copy_stage

    commit_copy_stage(repo, dvx, "pipeline")
    git(repo, "switch", "-qc", "feat")
    write(repo / "data" / "in.txt", "v2\n")
    assert dvx("add", "data/in.txt").code == 0
    assert dvx("repro").code == 0
    git(repo, "commit", "-qam", "feat")
    feat = (repo / "dvx.lock").read_bytes()
    git(repo, "switch", "-q", "main")
    assert dvx("checkout").code == 0
    write(repo / "out.txt", "mine\n")
    committing = stopped_at("hash_file.after_open", "commit out.txt", repo)
    git(repo, "switch", "-q", "feat")
    os.kill(committing.pid, signal.SIGCONT)
    out, err = committing.communicate(timeout=60)
    assert committing.returncode == 1, out + err
    assert "dvx.lock changed while dvx commit ran" in err and "Traceback" not in err
    assert (repo / "dvx.lock").read_bytes() == feat


def test_a_commit_of_a_stage_output_and_a_pointer_a_git_switch_changed_writes_neither(
        repo, dvx):
    """A commit of a pipeline output beside data whose pointer a `git switch` changes while
    the output is read: the refusal says it recorded nothing, and dvx.lock, written first
    once, is as it was too."""
    import signal

    from tests.conftest import stopped_at
    from tests.pipeline_kit import commit_copy_stage

    write(repo / "model.bin", "v1\n")
    assert dvx("add", "model.bin").code == 0
    commit_copy_stage(repo, dvx, "pipeline")
    git(repo, "switch", "-qc", "feat")
    write(repo / "model.bin", "feat\n")
    assert dvx("add", "model.bin").code == 0
    git(repo, "commit", "-qam", "feat")
    git(repo, "switch", "-q", "main")
    assert dvx("checkout").code == 0
    lock = (repo / "dvx.lock").read_bytes()
    write(repo / "out.txt", "mine\n")
    write(repo / "model.bin", "mine\n")
    committing = stopped_at("hash_file.after_open", "commit out.txt model.bin", repo)
    git(repo, "switch", "-q", "feat")
    os.kill(committing.pid, signal.SIGCONT)
    out, err = committing.communicate(timeout=60)
    assert committing.returncode == 1, out + err
    assert "'model.bin.dvx' changed while dvx commit ran" in err
    assert "dvx commit recorded nothing" in err and "Traceback" not in err
    assert (repo / "dvx.lock").read_bytes() == lock
    assert git(repo, "status", "--porcelain", "--", "dvx.lock", "model.bin.dvx") == ""


@pytest.mark.parametrize("link_type", ["hardlink", "symlink"])
def test_an_add_that_records_nothing_leaves_each_file_a_writable_file_of_its_own(
        repo, dvx, link_type):
    """With cache.type hardlink, storing a file makes it a read-only hard link of its object.
    An add a `git switch` makes record nothing gives each file it linked back as it was: a
    writable file of its own, with its mode and times, never a link of an object no pointer
    names (which gc would take, and an edit through which would change the cache). With
    symlink, no file becomes a link before its pointer is written."""
    import signal

    from tests.conftest import stopped_at

    feat = pointer_changed_on_feat(repo, {"x": "v1\n"}, "x", "v2\n")
    assert dvx("config", "cache.type", link_type).code == 0
    files = {"x": b"mine\n", "y": os.urandom(2 << 20), "data/a.txt": b"a\n",
             "data/b.txt": b"b\n"}
    before = {}
    for name, content in files.items():
        write(repo / name, content)
        os.chmod(repo / name, 0o640 if name == "y" else 0o644)
        os.utime(repo / name, ns=(1_000_000_000, 2_000_000_000))
        before[name] = os.lstat(repo / name)
    adding = stopped_at("hash_file.after_open", "add x y data", repo)
    git(repo, "switch", "-q", "feat")
    os.kill(adding.pid, signal.SIGCONT)
    out, err = adding.communicate(timeout=60)
    assert adding.returncode == 1, out + err
    assert "'x.dvx' changed while dvx add ran" in err and "dvx add recorded nothing" in err
    assert "Traceback" not in err
    assert (repo / "x.dvx").read_bytes() == feat
    for name, content in files.items():
        now = os.lstat(repo / name)
        assert stat.S_ISREG(now.st_mode) and now.st_nlink == 1, name
        assert stat.S_IMODE(now.st_mode) == stat.S_IMODE(before[name].st_mode), name
        assert now.st_mtime_ns == before[name].st_mtime_ns, name
        assert (repo / name).read_bytes() == content, name
    assert not (repo / "y.dvx").exists() and not (repo / "data.dvx").exists()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_an_add_stopped_by_ctrl_c_gives_back_the_files_it_linked(repo, signum):
    """cache.type hardlink: an add stopped by Ctrl-C (or SIGTERM) once it stored one file,
    while it reads the next, records nothing: the file it made a hard link of its object is
    given back as it was, a writable file of its own with its mode and times, as after an
    error."""
    from tests.conftest import stopped_at

    assert run_dvx("config", "cache.type", "hardlink", cwd=repo).code == 0
    before = {}
    for name in ("a", "b"):
        write(repo / name, f"{name} mine\n")
        os.chmod(repo / name, 0o640)
        os.utime(repo / name, ns=(1_000_000_000, 2_000_000_000))
        before[name] = os.lstat(repo / name)
    adding = stopped_at("hash_file.after_open:2", "add a b", repo)
    adding.send_signal(signum)
    adding.send_signal(signal.SIGCONT)
    out, err = adding.communicate(timeout=60)
    assert adding.returncode == 128 + signum, out + err
    assert "Traceback" not in err
    for name in ("a", "b"):
        now = os.lstat(repo / name)
        assert stat.S_ISREG(now.st_mode) and now.st_nlink == 1, name
        assert stat.S_IMODE(now.st_mode) == 0o640, name
        assert now.st_mtime_ns == before[name].st_mtime_ns, name
        assert (repo / name).read_text() == f"{name} mine\n", name
    assert not (repo / "a.dvx").exists() and not (repo / "b.dvx").exists()


@pytest.mark.parametrize("cache_type", ["copy", "hardlink"])
def test_a_second_ctrl_c_ends_an_add_whose_file_read_never_returns(repo, cache_type):
    """A large file whose read never returns (a hung network mount): Ctrl-C, and Ctrl-C
    again, end `dvx add` (exit 130), never leaving it deaf to every signal but `kill -9`.
    With hardlink, the files done are given back, and the stop names the file it no longer
    waited for, which may be left a read-only link; with copy nothing is given back."""
    import re
    import time

    assert run_dvx("config", "cache.type", cache_type, cwd=repo).code == 0
    for name in ("l1", "l2", "l3"):
        write(repo / "bd" / name, os.urandom(2 << 20))  # large: stored on threads
    point = "hash_copy.after_open:2" if cache_type == "copy" else "hash_file.after_open:2"
    reached = repo.parent / "hung"
    adding = subprocess.Popen(
        [sys.executable, "-m", "dvx", "add", "bd"], cwd=repo, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
        env={**os.environ, "DVX_FAULT": point, "DVX_FAULT_ACTION": "hang",
             "DVX_FAULT_REACHED": str(reached)})

    try:
        for _ in range(600):  # until a read hangs: a Ctrl-C before would stop it cleanly
            if reached.exists() or adding.poll() is not None:
                break
            time.sleep(0.1)
        # Ctrl-C, then Ctrl-C again: the second ends the wait for the hung read STOP_GRACE
        # seconds later. One more only while dvx is still waiting well past that (two that
        # came before it took the first count as one): never while it ends, where a Ctrl-C
        # would cut short the stop that names the file left linked. (A first Ctrl-C alone
        # never ends it: the 1 s spares the second one a collapse into the first, no more.)
        for attempt in range(10):
            adding.send_signal(signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                adding.wait(1 if attempt == 0 else STOP_GRACE + 10)
                break
        out, err = adding.communicate(timeout=30)
    finally:
        adding.kill()
    assert adding.returncode == 130, out + err
    assert "Traceback" not in err
    left = re.search(r"Interrupted while (.*) (?:was|were) still being stored", err)
    if cache_type == "copy":
        assert left is None, err
        return
    assert left is not None and "read-only hard link" in err, err
    named = set(re.findall(r"'bd/(l[123])'", left.group(1)))
    assert named, err  # the file whose read hangs (which one: the threads' order), and its batch
    for name in {"l1", "l2", "l3"} - named:
        assert os.lstat(repo / "bd" / name).st_nlink == 1, name  # given back


def test_a_directory_add_stopped_by_ctrl_c_gives_back_every_file_it_linked(repo):
    """cache.type hardlink: Ctrl-C while `dvx add DIR` stores its large files (on threads,
    once it linked some) records nothing, and every file it made a hard link of its object
    is given back as it was, those whose results were not yet collected too."""
    from tests.conftest import stopped_at

    assert run_dvx("config", "cache.type", "hardlink", cwd=repo).code == 0
    before = {}
    for name in ("big1", "big2", "big3"):
        write(repo / "d" / name, os.urandom((1 << 20) + 1000))
        os.chmod(repo / "d" / name, 0o640)
        os.utime(repo / "d" / name, ns=(1_000_000_000, 2_000_000_000))
        before[name] = (repo / "d" / name).read_bytes()
    adding = stopped_at("cache.hardlink.after_link:2", "add d", repo)
    adding.send_signal(signal.SIGINT)
    adding.send_signal(signal.SIGCONT)
    out, err = adding.communicate(timeout=60)
    assert adding.returncode == 128 + signal.SIGINT, out + err
    assert "Traceback" not in err
    for name, content in before.items():
        now = os.lstat(repo / "d" / name)
        assert stat.S_ISREG(now.st_mode) and now.st_nlink == 1, name
        assert stat.S_IMODE(now.st_mode) == 0o640, name
        assert now.st_mtime_ns == 2_000_000_000, name
        assert (repo / "d" / name).read_bytes() == content, name
    assert not (repo / "d.dvx").exists()


def _stopped_children(pid):
    """How many child processes of `pid` are stopped (SIGSTOP)."""
    stopped = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rpartition(")")[2].split()
            except OSError:  # ended meanwhile (a git command, say)
                continue
            stopped += fields[1] == str(pid) and fields[0] == "T"
    return stopped


def _every_worker_stopped(proc, workers):
    import time

    deadline = time.monotonic() + 60
    while _stopped_children(proc.pid) < workers:
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            raise AssertionError(f"not stopped in every worker: {proc.communicate()}")
        time.sleep(0.05)


@pytest.mark.parametrize("signum, again", [
    (signal.SIGINT, None), (signal.SIGTERM, None),
    (signal.SIGINT, "place.before_rename:2"),  # in the give-back
    (signal.SIGINT, "hash_file.after_open:4"),  # reading the files the workers did not report
    (signal.SIGTERM, "place.before_rename:2"),
], ids=["ctrl-c", "sigterm", "ctrl-c twice", "ctrl-c twice while found", "sigterm twice"])
def test_a_directory_add_stopped_while_worker_processes_link_its_small_files_gives_them_back(
        repo, signum, again):
    """cache.type hardlink: Ctrl-C (or SIGTERM) while `dvx add DIR` stores its many small
    files on worker processes records nothing, and every file a worker made a hard link of
    its object is given back as it was, those whose report the stopped workers never sent
    too. A second Ctrl-C (or SIGTERM) while they are found and given back is ignored: it
    cuts the give-back short for none of them."""
    import subprocess
    import sys

    from dvx.processes import MIN_ITEMS, worker_count

    workers = worker_count()
    if workers < 2:
        pytest.skip("one core: the small files are stored on threads, not worker processes")
    assert run_dvx("config", "cache.type", "hardlink", cwd=repo).code == 0
    names = [f"f{i:04}" for i in range(MIN_ITEMS + 100)]
    for name in names:
        write(repo / "d" / name, f"{name} mine\n")
        os.chmod(repo / "d" / name, 0o640)
        os.utime(repo / "d" / name, ns=(1_000_000_000, 2_000_000_000))
    # Each worker stops once it linked its third file (having read three); the second point
    # is after the first stop, in this process alone: the workers are gone by then.
    adding = subprocess.Popen(
        [sys.executable, "-m", "dvx", "add", "d"], cwd=repo, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL,
        env={**os.environ, "DVX_FAULT": "cache.hardlink.after_link:3"
             + (f",{again}" if again else ""), "DVX_FAULT_ACTION": "stop"})
    _every_worker_stopped(adding, workers)
    assert sum(os.lstat(repo / "d" / name).st_nlink == 2 for name in names) == 3 * workers
    adding.send_signal(signum)
    if again:
        stopped_again(adding, again)
        adding.send_signal(signum)
        adding.send_signal(signal.SIGCONT)
    out, err = adding.communicate(timeout=60)
    assert adding.returncode == 128 + signum, out + err
    assert "Traceback" not in err
    for name in names:
        now = os.lstat(repo / "d" / name)
        assert (repo / "d" / name).read_text() == f"{name} mine\n", name
        assert stat.S_ISREG(now.st_mode) and now.st_nlink == 1, name
        assert stat.S_IMODE(now.st_mode) == 0o640, name
        assert now.st_mtime_ns == 2_000_000_000, name
    assert sorted(os.listdir(repo / "d")) == names  # no temporary left beside them
    assert not (repo / "d.dvx").exists()


def test_a_directory_add_stopped_while_worker_processes_make_files_read_only_gives_back_their_mode(
        repo):
    """cache.type hardlink: a worker process stopped (killed by its command, stopped by
    Ctrl-C) once it made a file read-only to become its object, before linking it, leaves
    no file read-only: the command gives each its mode back, as it gives back the files the
    workers had linked."""
    import subprocess
    import sys

    from dvx.processes import MIN_ITEMS, worker_count

    workers = worker_count()
    if workers < 2:
        pytest.skip("one core: the small files are stored on threads, not worker processes")
    assert run_dvx("config", "cache.type", "hardlink", cwd=repo).code == 0
    names = [f"f{i:04}" for i in range(MIN_ITEMS + 100)]
    for name in names:
        write(repo / "d" / name, f"{name} mine\n")
        os.chmod(repo / "d" / name, 0o640)
    adding = subprocess.Popen(
        [sys.executable, "-m", "dvx", "add", "d"], cwd=repo, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL,
        env={**os.environ, "DVX_FAULT": "cache.hardlink.read_only:3",
             "DVX_FAULT_ACTION": "stop"})
    _every_worker_stopped(adding, workers)
    modes = [stat.S_IMODE(os.lstat(repo / "d" / name).st_mode) for name in names]
    assert modes.count(0o440) == 3 * workers  # two linked, one about to be, each
    adding.send_signal(signal.SIGINT)
    out, err = adding.communicate(timeout=60)
    assert adding.returncode == 130, out + err
    for name in names:
        now = os.lstat(repo / "d" / name)
        assert stat.S_IMODE(now.st_mode) == 0o640 and now.st_nlink == 1, name
    assert not (repo / "d.dvx").exists()


@pytest.mark.parametrize("command, failing, recorded", [
    ("add", 3, ()),  # the .gitignore entry of a.txt
    ("add", 4, ()),  # the pointer of a.txt
    ("add", 6, ("a.txt",)),  # the pointer of b.txt
    ("commit", 3, ()),  # the pointer of a.txt
    ("commit", 4, ("a.txt",)),  # the pointer of b.txt
])
def test_a_full_disk_while_pointers_are_written_gives_back_the_files_not_recorded(
        repo, command, failing, recorded):
    """cache.type hardlink: an add or commit that a full disk stops while it writes the
    .gitignore entries and pointers gives back each file whose pointer it did not write, a
    writable file of its own with its mode and times; a file whose pointer it wrote is
    recorded, and stays the link of its object."""
    if command == "commit":
        write(repo / "a.txt", "A\n")
        write(repo / "b.txt", "B\n")
        assert run_dvx("add", "a.txt", "b.txt", cwd=repo).code == 0
    assert run_dvx("config", "cache.type", "hardlink", cwd=repo).code == 0
    pointers = {name: (repo / f"{name}.dvx").read_bytes() if command == "commit" else None
                for name in ("a.txt", "b.txt")}
    for name in ("a.txt", "b.txt"):
        write(repo / name, f"{name} now\n")
        os.chmod(repo / name, 0o640)
        os.utime(repo / name, ns=(1_000_000_000, 2_000_000_000))
    full = run_dvx_proc(command, "a.txt", "b.txt", cwd=repo,
                   env={"DVX_FAULT": f"atomic_write.before_rename:{failing}",
                        "DVX_FAULT_ACTION": "enospc"})
    assert full.code == 1 and "No space left on device" in full.stderr, full.output
    assert "Traceback" not in full.stderr
    for name in ("a.txt", "b.txt"):
        now = os.lstat(repo / name)
        assert (repo / name).read_text() == f"{name} now\n", name
        pointer = repo / f"{name}.dvx"
        if name in recorded:
            assert now.st_nlink == 2 and pointer.read_bytes() != pointers[name], name
            continue
        assert stat.S_ISREG(now.st_mode) and now.st_nlink == 1, name
        assert stat.S_IMODE(now.st_mode) == 0o640, name
        assert now.st_mtime_ns == 2_000_000_000, name
        assert (pointer.read_bytes() if pointer.exists() else None) == pointers[name], name


@pytest.mark.parametrize("command", ["add", "commit"])
@pytest.mark.parametrize("point", [
    "commit.after_pointer:1",  # a.txt's pointer written (linking a large folder, say)
    "atomic_write.before_rename:2",  # the sync records, written before any pointer
    "atomic_write.before_rename:4",  # b.txt's pointer, about to replace the file
])
def test_a_git_switch_while_pointers_are_written_leaves_the_pointer_it_brought(
        repo, dvx, command, point):
    """A `git switch` (or `git pull`) that changes a target's pointer file while an add or
    commit writes the pointers, after it checked them all, is found just before that
    pointer is written: the switch's pointer stays, that target is not recorded (cache.type
    hardlink: its file is given back, a writable file of its own) and the refusal names it
    and those recorded, which stay recorded. Nothing is left half-done: `dvx status` names
    no stopped command, and shows the target as changed both here and in Git."""
    from tests.conftest import run_meanwhile

    feat = pointer_changed_on_feat(repo, {"a.txt": "a.txt v1\n", "b.txt": "b.txt v1\n"},
                                   "b.txt", "b.txt feat\n")
    assert dvx("config", "cache.type", "hardlink").code == 0
    for name in ("a.txt", "b.txt"):
        write(repo / name, f"{name} mine\n")
        os.chmod(repo / name, 0o640)
        os.utime(repo / name, ns=(1_000_000_000, 2_000_000_000))
    code, out, err = run_meanwhile(point, f"{command} a.txt b.txt", repo,
                                   lambda: git(repo, "switch", "-q", "feat"))
    assert code == 1, out + err
    assert f"'b.txt.dvx' changed while dvx {command} ran" in err, err
    assert f"dvx {command} did not record 'b.txt'" in err and "It recorded 'a.txt'" in err
    assert "Traceback" not in err
    assert (repo / "b.txt.dvx").read_bytes() == feat
    b = os.lstat(repo / "b.txt")
    assert stat.S_ISREG(b.st_mode) and b.st_nlink == 1 and stat.S_IMODE(b.st_mode) == 0o640
    assert b.st_mtime_ns == 2_000_000_000 and (repo / "b.txt").read_text() == "b.txt mine\n"
    assert os.lstat(repo / "a.txt").st_nlink == 2  # recorded: the link of its object
    assert pointer_field(repo / "a.txt.dvx", "oid") == xxhash.xxh3_128_hexdigest(
        b"a.txt mine\n")
    status = dvx("status")
    assert "ended by an error" not in status.output, status.output
    assert "b.txt: modified, and its pointer changed in Git" in status.stdout, status.output
    assert "a.txt" not in status.stdout, status.output


def test_a_pointer_a_git_switch_brought_saying_the_same_leaves_the_target_unrecorded(
        repo, dvx):
    """cache.type hardlink: a `git switch` that brings, just before b.txt's pointer is
    renamed into place, a pointer byte for byte the one the add was about to write is still
    a change the add did not make: b.txt is not recorded and its file is given back, never
    kept a link as if the add had renamed that pointer into place."""
    from tests.conftest import run_meanwhile

    feat = pointer_changed_on_feat(repo, {"a.txt": "a.txt v1\n", "b.txt": "b.txt v1\n"},
                                   "b.txt", "b.txt mine\n")
    assert dvx("config", "cache.type", "hardlink").code == 0
    for name in ("a.txt", "b.txt"):
        write(repo / name, f"{name} mine\n")
    code, out, err = run_meanwhile("atomic_write.before_rename:4", "add a.txt b.txt", repo,
                                   lambda: git(repo, "switch", "-q", "feat"))
    assert code == 1, out + err
    assert "'b.txt.dvx' changed while dvx add ran" in err and "It recorded 'a.txt'" in err
    assert "Traceback" not in err
    assert (repo / "b.txt.dvx").read_bytes() == feat
    assert os.lstat(repo / "b.txt").st_nlink == 1  # given back
    assert (repo / "b.txt").read_text() == "b.txt mine\n"
    assert os.lstat(repo / "a.txt").st_nlink == 2  # recorded: the link of its object


@pytest.mark.parametrize("stop", ["a Ctrl-C", "a failed fsync of the folder"])
def test_an_add_stopped_once_its_pointer_is_in_place_keeps_the_data_recorded(repo, stop):
    """An add that Ctrl-C (or an error) stops once its pointer was renamed into place, as
    it fsyncs the folder, has recorded the data: the .gitignore entry stays, so `git add -A`
    commits the pointer and never the data, and in hardlink mode the files stay the links
    of the objects the pointer names, not given back."""
    from tests.conftest import stopped_at

    assert run_dvx("config", "cache.type", "hardlink", cwd=repo).code == 0
    for name in ("f1.csv", "f2.csv"):
        write(repo / "data" / name, f"{name}\n")
    point = "atomic_write.after_rename:4"  # data.dvx's: after .gitignore's and synced.json's
    if stop == "a Ctrl-C":
        adding = stopped_at(point, "add data", repo)
        adding.send_signal(signal.SIGINT)
        adding.send_signal(signal.SIGCONT)
        out, err = adding.communicate(timeout=60)
        code = adding.returncode
        assert code == 128 + signal.SIGINT, out + err
    else:
        failed = run_dvx_proc("add", "data", cwd=repo,
                              env={"DVX_FAULT": point, "DVX_FAULT_ACTION": "enospc"})
        code, err = failed.code, failed.stderr
        assert code == 1 and "No space left on device" in err, failed.output
    assert "Traceback" not in err
    assert (repo / "data.dvx").exists()
    assert "/data" in (repo / ".gitignore").read_text().splitlines()
    git(repo, "add", "-A")
    staged = git(repo, "diff", "--cached", "--name-only").split()
    assert "data.dvx" in staged and not [path for path in staged if path.startswith("data/")]
    for name in ("f1.csv", "f2.csv"):
        assert os.lstat(repo / "data" / name).st_nlink == 2, name


@pytest.mark.parametrize(("command", "point"), [
    ("commit out.txt", "atomic_write.after_rename:3"),  # dvx.lock's: after synced.json's
    ("repro", "atomic_write.after_rename:5"),  # dvx.lock's, the run's records first
])
def test_a_stage_output_stays_recorded_when_a_stop_lands_once_dvx_lock_is_in_place(
        repo, dvx, command, point):
    """cache.type hardlink: a commit or repro that Ctrl-C stops once dvx.lock, recording a
    stage output, was renamed into place leaves the output the link of the object dvx.lock
    names, not a file given back."""
    from dvx.lockfile import read_lock
    from tests.conftest import stopped_at
    from tests.pipeline_kit import commit_copy_stage

    commit_copy_stage(repo, dvx, "pipeline")
    assert dvx("config", "cache.type", "hardlink").code == 0
    if command == "repro":
        write(repo / "data" / "in.txt", "v2\n")
        assert dvx("add", "data/in.txt").code == 0
    else:
        write(repo / "out.txt", "mine\n")
    before = (repo / "dvx.lock").read_bytes()
    running = stopped_at(point, command, repo)
    running.send_signal(signal.SIGINT)
    running.send_signal(signal.SIGCONT)
    out, err = running.communicate(timeout=60)
    assert running.returncode == 128 + signal.SIGINT, out + err
    assert "Traceback" not in err
    assert (repo / "dvx.lock").read_bytes() != before
    oid = next(out.oid for stage in read_lock(str(repo), "xxh128").values()
               for out in stage.outs if out.path == "out.txt")
    assert os.path.samestat(os.lstat(repo / "out.txt"), os.stat(object_path(repo, oid)))


@pytest.mark.parametrize("point", [
    "hash_file.after_open:2",  # b.txt's data read
    "atomic_write.before_rename:6",  # b.txt's pointer, about to replace the file
])
def test_a_git_switch_while_repro_records_its_inputs_names_the_one_it_did_not_record(
        repo, dvx, point):
    """`dvx repro` records its changed `dvx add`-tracked inputs one after the other: a `git
    switch` that changes the second's pointer while its data is read, or just before its
    pointer is written, leaves that pointer as the switch brought it, and the refusal says
    that input was not recorded (the first was), with no pending sync record of it left."""
    from tests.conftest import run_meanwhile

    write(repo / "dvx.yaml", "stages:\n  s:\n    cmd: cat a.txt b.txt > o.txt\n"
                             "    deps: [a.txt, b.txt]\n    outs: [o.txt]\n")
    feat = pointer_changed_on_feat(repo, {"a.txt": "a.txt v1\n", "b.txt": "b.txt v1\n"},
                                   "b.txt", "b.txt feat\n")
    for name in ("a.txt", "b.txt"):
        write(repo / name, f"{name} mine\n")
    code, out, err = run_meanwhile(point, "repro", repo,
                                   lambda: git(repo, "switch", "-q", "feat"))
    assert code == 1, out + err
    said = " ".join(err.split())
    assert "'b.txt.dvx' changed while dvx repro ran" in said, err
    assert "dvx repro did not record 'b.txt'" in said and "recorded nothing" not in said, err
    assert "Traceback" not in err
    assert (repo / "b.txt.dvx").read_bytes() == feat
    assert pointer_field(repo / "a.txt.dvx", "oid") == xxhash.xxh3_128_hexdigest(
        b"a.txt mine\n")
    records = json.loads((repo / ".dvx" / "tmp" / "synced.json").read_text())
    assert "b.txt" not in records.get("pending", {}), records


def test_a_commit_that_records_nothing_leaves_a_stage_output_a_writable_file_of_its_own(
        repo, dvx):
    """cache.type hardlink: a pipeline output a commit stored, and then did not record
    because a `git switch` changed dvx.lock, is given back as it was, as an add's files are."""
    import signal

    from tests.conftest import stopped_at
    from tests.pipeline_kit import commit_copy_stage

    commit_copy_stage(repo, dvx, "pipeline")
    git(repo, "switch", "-qc", "feat")
    write(repo / "data" / "in.txt", "v2\n")
    assert dvx("add", "data/in.txt").code == 0
    assert dvx("repro").code == 0
    git(repo, "commit", "-qam", "feat")
    git(repo, "switch", "-q", "main")
    assert dvx("checkout").code == 0
    assert dvx("config", "cache.type", "hardlink").code == 0
    write(repo / "out.txt", "mine\n")
    os.chmod(repo / "out.txt", 0o644)
    committing = stopped_at("hash_file.after_open", "commit out.txt", repo)
    git(repo, "switch", "-q", "feat")
    os.kill(committing.pid, signal.SIGCONT)
    out, err = committing.communicate(timeout=60)
    assert committing.returncode == 1, out + err
    assert "dvx.lock changed while dvx commit ran" in err and "Traceback" not in err
    now = os.lstat(repo / "out.txt")
    assert stat.S_ISREG(now.st_mode) and now.st_nlink == 1
    assert stat.S_IMODE(now.st_mode) == 0o644
    assert (repo / "out.txt").read_bytes() == b"mine\n"


@pytest.mark.parametrize("written", ["synced.json", "dvx.lock"])
def test_a_commit_writes_no_dvx_lock_over_one_a_git_switch_brought_meanwhile(
        repo, dvx, written):
    """A `git switch` (or `git pull`) that brings another dvx.lock while `dvx commit` of a
    stage's output writes its records, after the pending sync records or while dvx.lock's
    new bytes wait to replace it: the commit records nothing, the switch's dvx.lock (another
    stage's entry changed in it) stays as it brought it, and nothing is left half-done
    (`dvx status` names no stopped command)."""
    from tests.conftest import stopped_at

    pipeline = ("stages:\n  gen:\n    cmd: echo x > out.txt\n    outs: [out.txt]\n"
                "  other:\n    cmd: echo {} > o.txt\n    outs: [o.txt]\n")
    run_and_commit(repo, pipeline.format("o"), "pipeline")
    git(repo, "switch", "-qc", "feat")
    write(repo / "dvx.yaml", pipeline.format("o2"))
    assert dvx("repro", "other").code == 0
    git(repo, "commit", "-qam", "feat runs other again")
    feat = (repo / "dvx.lock").read_bytes()
    git(repo, "switch", "-q", "main")
    assert dvx("checkout").code == 0
    write(repo / "out.txt", "mine\n")
    # the replacing writes after the lock's record: the pending sync records, then dvx.lock
    point = "atomic_write.before_rename:" + ("2" if written == "synced.json" else "3")
    committing = stopped_at(point, "commit out.txt", repo)
    temps = [p.name for p in (repo / ".dvx" / "tmp").iterdir()] + os.listdir(repo)
    assert any(name.startswith(f".{written}.") for name in temps), temps
    git(repo, "switch", "-q", "feat")
    os.kill(committing.pid, signal.SIGCONT)
    out, err = committing.communicate(timeout=60)
    assert committing.returncode == 1, out + err
    assert "dvx.lock changed while dvx commit ran" in err and "recorded nothing" in err, err
    assert "half-changed" not in err and "Traceback" not in err, err
    assert (repo / "dvx.lock").read_bytes() == feat
    assert git(repo, "status", "--porcelain") == ""
    status = dvx("status")
    assert "ended by an error" not in status.output, status.output
    assert not (repo / ".dvx" / "tmp" / "lock.stopped").exists()


@pytest.mark.parametrize("unreadable", ["newer format", "half written"])
def test_a_commit_writes_no_dvx_lock_over_one_it_cannot_read_meanwhile(
        repo, dvx, unreadable):
    """A dvx.lock that cannot be read while `dvx commit` of a stage's output waits to replace
    it (a newer dvx wrote it, or Git is still writing it) changed too: the commit records
    nothing, takes back the .gitignore entry it wrote, and leaves nothing half-done."""
    from tests.conftest import stopped_at

    write(repo / "dvx.yaml", "stages:\n  gen:\n    cmd: echo x > out.txt\n    outs: [out.txt]\n")
    assert dvx("repro").code == 0
    (repo / ".gitignore").unlink()  # the commit writes the output's entry again
    write(repo / "out.txt", "mine\n")
    lock = (repo / "dvx.lock").read_bytes()
    # the pending sync records, the .gitignore entry, then dvx.lock
    committing = stopped_at("atomic_write.before_rename:4", "commit out.txt", repo)
    assert any(name.startswith(".dvx.lock.") for name in os.listdir(repo))
    assert (repo / ".gitignore").exists()
    theirs = (lock.replace(b"dvx: 1", b"dvx: 99") if unreadable == "newer format"
              else lock[:len(lock) // 2])
    assert theirs != lock
    (repo / "dvx.lock").write_bytes(theirs)
    os.kill(committing.pid, signal.SIGCONT)
    out, err = committing.communicate(timeout=60)
    assert committing.returncode == 1, out + err
    assert "dvx.lock changed while dvx commit ran" in err and "recorded nothing" in err, err
    assert "Traceback" not in err, err
    assert (repo / "dvx.lock").read_bytes() == theirs
    assert not (repo / ".gitignore").exists()
    assert not (repo / ".dvx" / "tmp" / "lock.stopped").exists()


def test_an_add_writes_no_pointer_over_one_a_git_switch_brought_meanwhile(repo, dvx):
    """Data not tracked on this branch but on the one switched to while it is read: the
    pointer the switch wrote stays."""
    import signal

    from tests.conftest import stopped_at

    assert dvx("config", "cache.type", "copy").code == 0  # hashed as it is copied
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "init")
    git(repo, "switch", "-qc", "feat")
    write(repo / "model.bin", "feat\n")
    assert dvx("add", "model.bin").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "feat")
    feat = (repo / "model.bin.dvx").read_bytes()
    git(repo, "switch", "-q", "main")
    write(repo / "model.bin", os.urandom(3 << 20))
    adding = stopped_at("hash_copy.after_open", "add model.bin", repo)
    git(repo, "switch", "-q", "feat")
    os.kill(adding.pid, signal.SIGCONT)
    out, err = adding.communicate(timeout=60)
    assert adding.returncode == 1, out + err
    assert "'model.bin.dvx' was written while dvx add ran" in err
    assert (repo / "model.bin.dvx").read_bytes() == feat


def test_add_in_a_folder_a_sparse_checkout_leaves_out_keeps_its_tracked_gitignore(tmp_path):
    from tests.team import Team, must, share

    team = Team(tmp_path)
    alice = team.founder()
    write(alice / "code" / "run.py", "print(1)\n")
    write(alice / "db" / "y.bin", "teammate's data")
    must("add", "db/y.bin", cwd=alice)
    share(alice, "y")
    sparse = tmp_path / "sparse"
    git(tmp_path, "clone", "-q", "--sparse", f"file://{team.origin}", str(sparse))
    git(sparse, "sparse-checkout", "set", "code", ".dvx")
    assert not (sparse / "db").exists()
    write(sparse / "db" / "z.bin", "mine")
    added = must("add", "db/z.bin", cwd=sparse)
    assert (sparse / "db" / ".gitignore").read_text() == "/y.bin\n/z.bin\n"
    hint = added.split("To record this in Git, run:\n    ")[1].strip()
    assert hint == "git add --sparse db/z.bin.dvx db/.gitignore"
    subprocess.run(hint.split(), cwd=sparse, check=True, capture_output=True)
    assert git(sparse, "show", ":db/.gitignore") == "/y.bin\n/z.bin\n"
    # staged by dvx itself too, and removed again from the tracked lines, not from an empty file
    git(sparse, "commit", "-qm", "z")
    git(sparse, "sparse-checkout", "reapply")  # leaves db/ out again
    must("config", "core.autostage", "true", cwd=sparse)
    assert not (sparse / "db" / ".gitignore").exists()
    write(sparse / "db" / "w.bin", "more")
    assert "Staged in Git: db/w.bin.dvx db/.gitignore" in must("add", "db/w.bin", cwd=sparse)
    assert git(sparse, "show", ":db/.gitignore") == "/y.bin\n/z.bin\n/w.bin\n"


def test_add_refuses_data_whose_pointer_a_sparse_checkout_leaves_in_git_s_index_only(tmp_path):
    """Bob's sparse set leaves the pointers out; `git pull` brings Alice's changes into his
    index, and leaves his older data on disk. Adding it would write that over her change:
    refused, naming the pointer and the `git sparse-checkout add` that brings it back (never
    a `!` rule that would track a file inside tracked data)."""
    from tests.team import Team, edit, must, share

    team = Team(tmp_path)
    alice = team.founder()
    write(alice / "model.bin", "v1\n")
    write(alice / "data" / "f1.txt", "file 1\n")
    write(alice / "raw" / "a.bin", "a\n")
    must("add", "model.bin", "data", "raw/a.bin", cwd=alice)
    share(alice, "v1")
    bob = team.clone("bob")
    git(bob, "sparse-checkout", "set", "--no-cone", "/*", "!/model.bin.dvx", "!/data.dvx",
        "!/raw/a.bin.dvx")
    edit(alice, "model.bin", "v2 alice\n")
    edit(alice, "data/f1.txt", "alice\n")
    must("add", "model.bin", "data", cwd=alice)
    share(alice, "v2")
    git(bob, "pull", "-q")
    write(bob / "data" / "f2.txt", "bob\n")
    for target, said, bring_back in (
            ("model.bin", "'model.bin' is tracked by dvx already, but its pointer file "
             "'model.bin.dvx' is in Git's index only", "/model.bin.dvx"),
            ("data", "'data' is tracked by dvx already, but its pointer file 'data.dvx' is in "
             "Git's index only", "/data.dvx"),
            ("data/f1.txt", "'data/f1.txt' is inside 'data', which dvx already tracks (its "
             "pointer file 'data.dvx' is in Git's index only", "/data.dvx"),
            ("raw", "'raw' contains 'raw/a.bin', which dvx already tracks on its own (its "
             "pointer file 'raw/a.bin.dvx' is in Git's index only", "/raw/a.bin.dvx")):
        refused = run_dvx("add", target, cwd=bob)
        assert refused.code == 2, refused.output
        assert said in refused.stderr
        assert f"`git sparse-checkout add {bring_back}`" in refused.stderr
        assert "!data" not in refused.stderr and "Traceback" not in refused.stderr
    assert not (bob / "model.bin.dvx").exists() and not (bob / "data.dvx").exists()
    assert not (bob / "data" / "f1.txt.dvx").exists() and not (bob / "raw.dvx").exists()


def test_the_sparse_checkout_add_named_for_a_left_out_pointer_brings_it_back_in_non_cone_mode(
        repo, dvx):
    """A non-cone pattern leaves out one pointer file in a folder: adding the folder would
    bring back none of it (the `!` pattern before it names the file), so status and add
    name the pointer itself, and the command they name brings it back."""
    write(repo / "data" / "a" / "x", "x1\n")
    assert dvx("add", "data/a/x").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "base")
    git(repo, "sparse-checkout", "set", "--no-cone", "/*", "!/data/a/x.dvx")
    status = dvx("status")
    refused = dvx("add", "data/a/x")
    assert refused.code == 2, refused.output
    for said in (status.stdout, refused.stderr):
        assert "`git sparse-checkout add /data/a/x.dvx`" in said, said
    git(repo, "sparse-checkout", "add", "/data/a/x.dvx")
    assert (repo / "data" / "a" / "x.dvx").exists()
    assert dvx("status", "-q").code == 0


def test_a_file_saved_by_rename_while_it_is_hard_linked_is_never_stored_under_the_old_oid(
        repo, dvx):
    """An editor saves a new version (written aside, renamed over the file) after dvx hashed
    the old one and before it links the file into the cache: the object stored under the
    pointer's oid holds exactly the bytes that oid names."""
    import signal

    from tests.conftest import stopped_at

    assert dvx("config", "cache.type", "hardlink").code == 0
    old, new = os.urandom(64 << 10), os.urandom(64 << 10)
    write(repo / "f", old)
    adding = stopped_at("cache.hardlink.before_link", "add f", repo)
    write(repo / ".f.new", new)
    os.rename(repo / ".f.new", repo / "f")
    os.kill(adding.pid, signal.SIGCONT)
    out, err = adding.communicate(timeout=60)
    assert adding.returncode == 0, out + err
    oid = pointer_field(repo / "f.dvx", "oid")
    assert xxhash.xxh3_128_hexdigest(object_path(repo, oid).read_bytes()) == oid
    assert (repo / "f").read_bytes() == new
    assert dvx("fsck").code == 0


@pytest.mark.parametrize("link_type", ["hardlink", "symlink"])
def test_a_file_another_program_has_open_for_writing_stays_a_copy_it_writes_to(
        repo, dvx, link_type):
    """A log a running program appends to: linking it into the cache would let its next
    writes change the object (hard link) or go to a file no name reaches (symlink). It is
    stored as a copy, left as it is, and a warning says why."""
    import sys

    assert dvx("config", "cache.type", link_type).code == 0
    write(repo / "log.csv", "header\n")
    writer = subprocess.Popen(
        [sys.executable, "-c", "import os, sys\n"
         "fd = os.open('log.csv', os.O_WRONLY | os.O_APPEND)\n"
         "print('open', flush=True); sys.stdin.readline()\n"
         "os.write(fd, b'epoch 2\\n')\n"],
        cwd=repo, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout.readline() == "open\n"
        added = dvx("add", "log.csv")
    finally:
        writer.communicate("go\n", timeout=60)
    assert added.code == 0, added.output
    assert "'log.csv' is open for writing in another program" in added.stderr
    assert not (repo / "log.csv").is_symlink()
    assert (repo / "log.csv").read_bytes() == b"header\nepoch 2\n"
    oid = pointer_field(repo / "log.csv.dvx", "oid")
    assert object_path(repo, oid).read_bytes() == b"header\n"
    status = dvx("status")
    assert "log.csv: modified" in status.stdout, status.output
    assert dvx("fsck").code == 0


def test_symlink_mode_links_every_hard_link_of_a_file_in_a_directory(repo, dvx):
    """Replacing one hard link by a symlink moves the ctime of the others, and no byte: they
    become symlinks too, never copies left behind without a word."""
    assert dvx("config", "cache.type", "symlink").code == 0
    content = os.urandom(100_000)
    write(repo / "d" / "x", content)
    os.link(repo / "d" / "x", repo / "d" / "y")
    added = dvx("add", "d")
    assert added.code == 0, added.output
    for name in ("x", "y"):
        assert (repo / "d" / name).is_symlink(), name
        assert (repo / "d" / name).read_bytes() == content
    assert "up to date" in dvx("status").stdout.lower()


@pytest.mark.parametrize("name", [":data", ":!x", ":(top)y"])
def test_a_name_starting_with_a_colon_is_tracked_and_its_gitignore_entry_seen(repo, dvx, name):
    """Git reads a leading ':' of a pathspec as magic; dvx's own questions to Git do not."""
    write(repo / name, "data")
    added = dvx("add", name)
    assert added.code == 0, added.output
    status = dvx("status")
    assert status.code == 0 and "not ignored by Git" not in status.output, status.output
    assert git(repo, "check-ignore", "--no-index", "--", "./" + name).strip() == "./" + name


def test_autostage_of_a_name_with_glob_characters_stages_that_pointer_only(repo, dvx):
    assert dvx("config", "core.autostage", "true").code == 0
    write(repo / "x", "1")
    write(repo / "[x]", "2")
    assert dvx("add", "x", "[x]").code == 0
    git(repo, "commit", "-qm", "track x and [x]")
    with open(repo / "x.dvx", "a") as f:
        f.write("desc: my draft, not ready\n")  # an edit of another pointer, left unstaged
    write(repo / "[x]", "changed")
    assert dvx("commit", "--", "[x]").code == 0
    staged = git(repo, "diff", "--cached", "--name-only", "-z").split("\0")
    assert staged == ["[x].dvx", ""]


def test_the_printed_git_add_of_names_git_reads_as_globs_or_magic_stages_those_only(
        repo, dvx):
    write(repo / "x", "1")
    write(repo / "[x]", "2")
    write(repo / ":data", "3")
    assert dvx("add", "x", "[x]", ":data").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "track them")
    with open(repo / "x.dvx", "a") as f:
        f.write("desc: my draft, not ready\n")  # an edit of another pointer, left unstaged
    write(repo / "[x]", "changed")
    write(repo / ":data", "changed")
    committed = dvx("commit", "--", "[x]", ":data")
    hint = committed.stdout.splitlines()[-1].strip()
    assert hint.startswith("git add "), committed.output
    subprocess.run(hint, shell=True, cwd=repo, check=True)  # as the user pastes it
    staged = git(repo, "diff", "--cached", "--name-only", "-z").split("\0")
    assert sorted(staged) == ["", ":data.dvx", "[x].dvx"]


def test_a_name_with_a_colon_second_says_it_looks_like_a_windows_drive(repo, dvx):
    write(repo / "a:b", "x")
    write(repo / "logs" / "1:30.log", "x")
    for target, shown in (("a:b", "'a:'"), ("logs", "'1:'")):
        refused = dvx("add", target)
        assert refused.code == 2 and "Windows drive" in refused.stderr, refused.output
        assert shown in refused.stderr and "it is absolute" not in refused.stderr


@pytest.mark.parametrize("name, why", [("a\\b", "it contains a backslash"),
                                       ("a:b", "as a Windows drive does"),
                                       ("a\nb", "it contains a line break")])
def test_a_name_dvx_cannot_record_given_to_add_or_move_is_a_refused_path(repo, dvx, name, why):
    """The user's own name is a refused path (exit 2, as a FIFO or a symlink is); a pointer
    file of that name that dvx reads stays a malformed file (exit 1)."""
    write(repo / name, "x")
    write(repo / "ok", "ok")
    assert dvx("add", "ok").code == 0
    for command in (("add", name), ("move", "ok", name.replace("a", "m"))):
        refused = dvx(*command)
        assert refused.code == 2, (command, refused.output)
        assert refused.stderr.startswith("ERROR: Invalid path ") and why in refused.stderr, \
            refused.stderr
    assert not (repo / f"{name}.dvx").exists() and (repo / "ok.dvx").exists()
    shutil.copy(repo / "ok.dvx", repo / f"{name}.dvx")
    read = dvx("checkout", name)
    assert read.code == 1 and "Invalid pointer path" in read.stderr, read.output


def test_a_stray_file_named_like_a_pointer_is_said_to_need_a_new_name(repo, dvx):
    write(repo / "x.dvx", "my notes, not a pointer\n")
    write(repo / "other.csv", "a\n")
    added = dvx("add", "other.csv")
    assert (repo / "other.csv.dvx").exists()
    assert "Git does not track it" in added.stderr and "rename it" in added.stderr
    assert "Restore it from Git" not in added.stderr
    git(repo, "add", "x.dvx")  # a pointer Git tracks, broken: Git has the way back
    status = dvx("status")
    assert status.code == 1 and "Restore it from Git" in status.stderr, status.output
    write(repo / "m.dvx" / "f", "1")
    refused = dvx("add", "m.dvx")
    assert refused.code == 2 and "ends in '.dvx'" in refused.stderr and "rename" in refused.stderr


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc/self/fd")
def test_hard_linking_a_file_into_the_cache_links_it_once_with_no_temporary(tmp_path,
                                                                         monkeypatch):
    """Each file hashed is linked as its object through the descriptor it was read by: one
    link per file, no temporary name to make and remove, and the cache's tmp folder made
    at most once."""
    from dvx import fsutil
    from dvx.objects.cache import LocalCache

    cache = LocalCache(str(tmp_path / "cache"), "xxh128")
    files = []
    for i in range(5):
        files.append(tmp_path / f"f{i}")
        files[-1].write_bytes(f"content {i}".encode())
    links: list[str] = []
    real_link = os.link

    def link(src: str, dst: str, **kw: object) -> None:
        real_link(src, dst, **kw)
        links.append(dst)

    monkeypatch.setattr(os, "link", link)
    temps: list[str] = []
    monkeypatch.setattr(fsutil, "temp_name_for", lambda *a: temps.append("") or "unused")
    for f in files:
        ingested = cache.add_file(str(f), ("hardlink",))
        assert ingested.link_type == "hardlink"
        assert os.path.samestat(os.stat(f), os.stat(cache.oid_path(ingested.oid)))
        assert not os.stat(f).st_mode & 0o222
    assert links == [cache.oid_path(xxhash.xxh3_128_hexdigest(f.read_bytes()))
                     for f in files]
    assert temps == []


@pytest.mark.parametrize("replaced_by", ["fifo", "nothing"])
def test_in_symlink_mode_a_file_replaced_right_after_it_was_stored_does_not_abort_the_add(
        repo, dvx, replaced_by):
    """A file deleted, or replaced by a FIFO, once its bytes are in the cache and before it
    becomes a symlink: the add records what it stored, leaves what is there now alone, and
    exits 0, as for any file that changes while it is added."""
    import signal

    from tests.conftest import stopped_at

    assert dvx("config", "cache.type", "symlink").code == 0
    write(repo / "f", "stored")
    adding = stopped_at("cache.copy.after_temp_write", "add f", repo)
    os.unlink(repo / "f")
    if replaced_by == "fifo":
        os.mkfifo(repo / "f")
    os.kill(adding.pid, signal.SIGCONT)
    out, err = adding.communicate(timeout=60)
    assert adding.returncode == 0, out + err
    assert "Traceback" not in err
    oid = pointer_field(repo / "f.dvx", "oid")
    assert object_path(repo, oid).read_bytes() == b"stored"
    if replaced_by == "fifo":
        assert stat.S_ISFIFO(os.lstat(repo / "f").st_mode)
    else:
        assert not os.path.lexists(repo / "f")


@pytest.mark.parametrize("target", ["sub/new.txt", "sub/inner"])
def test_a_gitignore_that_is_a_fifo_is_named_as_no_regular_file_never_waited_on(repo, target):
    """A FIFO where the entry goes would hold the command until some process wrote to it:
    add names it as no regular file, with what to do, as it names a .gitignore that is a
    link or a folder, stores nothing and leaves the FIFO as it is."""
    write(repo / "sub" / "new.txt", "new\n")
    write(repo / "sub" / "inner" / "f", "f\n")
    os.mkfifo(repo / "sub" / ".gitignore")
    added = run_dvx_proc("add", target, cwd=repo, timeout=60)  # a regression fails, never hangs
    said = " ".join(added.stderr.split())
    assert added.code == 2 and "Traceback" not in added.output, added.output
    assert "ERROR: 'sub/.gitignore' is not a regular file (a FIFO, socket or device): Git " \
           "reads no rules from it" in said, said
    assert "Replace it with a file of its own" in said and "filesystem operation" not in said
    assert not (repo / f"{target}.dvx").exists()
    assert stat.S_ISFIFO(os.lstat(repo / "sub" / ".gitignore").st_mode)


def _run_beside_fifo(fifo: Path, *args: str, cwd: Path) -> tuple[int, str]:
    """`dvx args`: its exit status and stderr. Should a Git it runs wait on `fifo` (a
    regression), the test fails instead of hanging: the FIFO is opened for writing and closed
    until the command ends, each time letting a reader waiting there go on."""
    proc = subprocess.Popen([sys.executable, "-m", "dvx", *args], cwd=cwd, text=True,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        _, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        while proc.poll() is None:
            with contextlib.suppress(OSError):  # ENXIO: no reader waiting right now
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
            time.sleep(0.05)
        proc.communicate()
        pytest.fail(f"`dvx {' '.join(args)}` waited on {fifo}")
    return proc.returncode, err


@pytest.mark.parametrize("command", [["status"], ["commit"], ["checkout"], ["diff"],
                                     ["exp", "save"], ["add", "data/f"]])
def test_a_gitignore_beside_tracked_data_made_a_fifo_is_refused_before_git_waits_on_it(
        repo, dvx, command):
    """Git waits for ever on a .gitignore that is a FIFO as it lists the workspace: a command
    refuses the one beside data this workspace tracks before it runs Git, naming it as no
    regular file with what to do (exit 2), and leaves it as it is."""
    write(repo / "data" / "f", "f\n")
    assert dvx("add", "data/f").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "data")
    fifo = repo / "data" / ".gitignore"
    fifo.unlink()
    os.mkfifo(fifo)
    code, err = _run_beside_fifo(fifo, *command, cwd=repo)
    said = " ".join(err.split())
    assert code == 2 and "Traceback" not in said, said
    assert "ERROR: 'data/.gitignore' is not a regular file (a FIFO, socket or device)" in said, \
        said
    assert "Replace it with a file of its own" in said, said
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_add_refuses_a_folder_named_as_a_get_s_before_storing_anything_and_says_to_rename_it(
        repo, dvx):
    """A folder of the user's named as the one `dvx get` builds in (`.dvx-get-` and 8
    characters), holding other things, is a name no manifest records: `add` refuses it
    before storing any object, naming it with the way out, and leaves the files as they were."""
    write(repo / "d" / "a", "a\n")
    write(repo / "d" / ".dvx-get-abcdefgh" / "notes.txt", "notes\n")
    refused = dvx("add", "d")
    assert refused.code == 2, refused.output
    said = " ".join(refused.stderr.split())
    assert "'d/.dvx-get-abcdefgh' is named as the folder `dvx get` builds its copy in" in said
    assert "Rename the folder." in said, said
    assert not (repo / "d.dvx").exists()
    cached = [f for _, _, files in os.walk(repo / ".dvx" / "cache") for f in files
              if f != ".gitignore"]
    assert cached == [], cached
    assert (repo / "d" / ".dvx-get-abcdefgh" / "notes.txt").read_text() == "notes\n"


def test_a_pointer_changed_while_others_are_written_names_git_add_of_those_quoted_for_the_shell(
        repo, dvx):
    """A commit refused for a pointer a `git switch` changed meanwhile names the `git add`
    of the pointers it wrote: a name holding a blank and a `$` is quoted for the shell, so
    the command pasted stages that very pointer file."""
    from tests.conftest import run_meanwhile

    pointer_changed_on_feat(repo, {"a $b.txt": "a v1\n", "c.txt": "c v1\n"}, "c.txt",
                            "c feat\n")
    write(repo / "a $b.txt", "a mine\n")
    write(repo / "c.txt", "c mine\n")
    code, out, err = run_meanwhile("commit.after_pointer:1", ["commit", "a $b.txt", "c.txt"],
                                   repo, lambda: git(repo, "switch", "-q", "feat"))
    said = " ".join(err.split())
    assert code == 1 and "It recorded 'a $b.txt'" in said, out + err
    assert "`git add 'a $b.txt.dvx'` records that in Git." in said, said


def test_a_pointer_changed_while_others_are_written_names_those_recorded_escaped(repo, dvx):
    """The refusal names the data it recorded as every message names a file: one whose name
    holds a tab is shown escaped, never with a raw tab in it."""
    from tests.conftest import run_meanwhile

    pointer_changed_on_feat(repo, {"a\tb.txt": "a v1\n", "c.txt": "c v1\n"}, "c.txt",
                            "c feat\n")
    write(repo / "a\tb.txt", "a mine\n")
    write(repo / "c.txt", "c mine\n")
    code, out, err = run_meanwhile("commit.after_pointer:1", ["commit", "a\tb.txt", "c.txt"],
                                   repo, lambda: git(repo, "switch", "-q", "feat"))
    assert code == 1 and "It recorded 'a\\tb.txt'" in err, out + err
    assert "did not record 'c.txt'" in " ".join(err.split()), err


def test_adding_a_folder_around_tracked_data_names_the_steps_that_let_it_pasted(repo, dvx):
    """`dvx add data` over data/in/x, tracked on its own: refused, naming `dvx remove` of its
    pointer and the `git add` that command names; pasted in order, the folder is added."""
    write(repo / "data" / "in" / "x", "1\n")
    assert dvx("add", "data/in/x").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "x")
    write(repo / "data" / "top", "2\n")
    refused = dvx("add", "data")
    said = " ".join(refused.stderr.split())
    assert refused.code == 2 and "Run `dvx remove data/in/x.dvx` first, then the `git add` it " \
        "names" in said, said
    removed = dvx("remove", "data/in/x.dvx")
    staged = re.search(r"git add ([^\n]+)", removed.stdout)
    assert removed.code == 0 and staged is not None, removed.output
    git(repo, "add", *staged[1].split())
    added = dvx("add", "data")
    assert added.code == 0, added.output
    assert (repo / "data.dvx").exists() and (repo / "data" / "in" / "x").read_text() == "1\n"
