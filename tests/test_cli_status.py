import contextlib
import json
import os
import shutil
import subprocess
import time

import pytest

from dvx.hashing import hash_file
from dvx.scm import Git
from tests.conftest import git, make_git_repo, run_dvx, run_dvx_proc, write
from tests.pipeline_kit import commit_copy_stage, run_and_commit
from tests.servers import free_port


def _status_json(dvx, *args, cwd=None):
    result = dvx("status", "--json", *args, cwd=cwd)
    assert result.code == 0, result.output
    return json.loads(result.stdout)


def test_clean_workspace(repo, dvx):
    write(repo / "f", "x")
    write(repo / "d" / "a", "a")
    dvx("add", "f", "d")
    result = dvx("status")
    assert result.code == 0 and "up to date" in result.stdout
    assert dvx("status", "-q").code == 0
    assert _status_json(dvx)["changed"] is False


def test_json_has_every_key_whatever_there_is_to_report(repo, dvx):
    write(repo / "f", "x")
    dvx("add", "f")
    keys = {"changed", "outputs", "stages", "recorded_while_none_declared",
            "uncommitted_outputs", "outputs_in_git", "imports",
            "unreadable", "unignored", "taken_back_by_rule", "left_behind", "unrecorded",
            "temporaries", "tracked_by_git", "submodules", "own_gitignores_in_git", "left_out",
            "stopped",
            "pipeline_files_ignored_by_git", "interrupted_gets"}
    for args in ((), ("f",)):  # no dvx.yaml; a target (stages are not looked at)
        doc = _status_json(dvx, *args)
        assert set(doc) == keys and doc["stages"] == doc["unreadable"] == [], doc
        assert doc["outputs"][0]["synced_oid"] is None
        assert doc["outputs"][0]["pointer_oid"] == hash_file(str(repo / "f"))[0]


def test_modified_deleted_and_directory_entries(repo, dvx):
    write(repo / "f", "x")
    write(repo / "gone", "g")
    for name in ("keep", "change", "remove"):
        write(repo / "d" / name, name)
    dvx("add", "f", "gone", "d")
    write(repo / "f", "y")
    os.unlink(repo / "gone")
    write(repo / "d" / "change", "changed!")
    os.unlink(repo / "d" / "remove")
    write(repo / "d" / "new" / "file", "new")
    doc = _status_json(dvx)
    by_path = {o["path"]: o for o in doc["outputs"]}
    assert doc["changed"] is True
    assert by_path["f"]["workspace"] == "modified"
    assert by_path["gone"]["workspace"] == "deleted"
    d = by_path["d"]
    assert (d["workspace"], d["added"], d["modified"], d["deleted"]) == (
        "modified", ["new/file"], ["change"], ["remove"])
    text = dvx("status").stdout
    assert "d: modified" in text and "added: new/file" in text and "deleted: remove" in text
    quiet = dvx("status", "-q")
    assert quiet.code == 1 and quiet.stdout == "" and quiet.stderr == ""


def test_not_in_cache_is_reported(repo, dvx):
    write(repo / "f", "x")
    dvx("add", "f")
    for obj in (repo / ".dvx" / "cache" / "files").rglob("*"):
        if obj.is_file():
            os.chmod(obj, 0o644)
            obj.unlink()
    doc = _status_json(dvx)
    assert doc["outputs"][0]["in_cache"] is False
    assert "not in cache" in dvx("status").stdout


def _delete_object_by_hand(repo, content: str) -> None:
    """`rm` of the object holding `content` under .dvx/cache, which no gc or fsck sees."""
    oid = hash_file(str(write(repo.parent / "content", content)))[0]
    obj = repo / ".dvx/cache/files/xxh128" / oid[:2] / oid[2:]
    os.chmod(obj, 0o644)
    obj.unlink()


@pytest.mark.parametrize("absent", ["not_pulled", "deleted", "whole", "linked",
                                    "linked_then_copy"])
def test_files_whose_objects_were_deleted_from_the_cache_by_hand_are_hinted_a_pull(
        repo, dvx, tmp_path, absent):
    """The cache found complete for a directory once is taken as such until gc or fsck, but
    an `rm` under .dvx/cache takes objects out too: status looks for the objects of what a
    checkout would place, and names a pull where the cache lacks them, never a checkout,
    which places nothing of them. With cache.type symlink ("linked") a directory placed
    whole holds links, and one to a deleted object holds nothing either, whatever
    cache.type says since."""
    write(repo / "d" / "a", "a\n")
    write(repo / "d" / "b", "b\n")
    assert dvx("remote", "add", "-d", "r", str(tmp_path / "remote")).code == 0
    assert dvx("add", "d").code == 0 and dvx("push").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "d")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(repo), str(clone))
    if absent.startswith("linked"):
        assert dvx("config", "cache.type", "symlink", cwd=clone).code == 0
    assert dvx("fetch", cwd=clone).code == 0
    assert dvx("checkout", "d/a" if absent == "not_pulled" else "d", cwd=clone).code == 0
    assert dvx("status", cwd=clone).code == 0  # the directory known complete in the cache
    if absent == "linked_then_copy":
        assert dvx("config", "cache.type", "copy", cwd=clone).code == 0
    _delete_object_by_hand(clone, "b\n")
    if absent == "deleted":
        (clone / "d" / "b").unlink()
    elif absent == "whole":
        shutil.rmtree(clone / "d")
    shown = dvx("status", cwd=clone)
    assert "not in cache" in shown.stdout.splitlines()[0], shown.output
    assert "dvx checkout" not in shown.stdout, shown.output
    assert "`dvx pull" in shown.stdout, shown.output
    [d] = _status_json(dvx, cwd=clone)["outputs"]
    assert d["in_cache"] is False, d
    assert dvx("pull", cwd=clone).code == 0
    assert (clone / "d" / "b").read_text() == "b\n"
    assert "up to date" in dvx("status", cwd=clone).stdout


@pytest.mark.parametrize("cache_type", ["copy", "hardlink"])
def test_data_the_cache_lost_and_the_workspace_holds_is_stored_again_by_commit(repo, dvx,
                                                                               cache_type):
    """`rm -rf .dvx/cache` before a push: the workspace still holds the recorded bytes, so
    status names `dvx commit` (not a `dvx pull` no remote can serve), plain `dvx commit`
    stores them again, and `dvx remove --outs` says why it refuses."""
    assert dvx("config", "cache.type", cache_type).code == 0
    write(repo / "f", "x\n")
    write(repo / "d" / "a", "a\n")
    assert dvx("add", "f", "d").code == 0
    shutil.rmtree(repo / ".dvx" / "cache")
    result = dvx("status")
    assert "d: not in cache (the workspace holds it)\n" in result.stdout, result.output
    assert "f: not in cache (the workspace holds it)\n" in result.stdout
    assert "`dvx commit` stores in the cache again" in result.stdout
    assert "dvx pull" not in result.stdout
    states = {o["path"]: (o["workspace"], o["in_cache"], o["only_in_workspace"])
              for o in _status_json(dvx)["outputs"]}
    assert states == {"d": ("unchanged", False, True), "f": ("unchanged", False, True)}
    refused = dvx("remove", "--outs", "f.dvx")
    assert refused.code == 2 and "'f' is unchanged, but the cache has lost it" in refused.stderr
    assert "`dvx commit f`" in refused.stderr and "has changes" not in refused.stderr
    committed = dvx("commit")
    assert committed.code == 0, committed.output
    assert "Stored f (2 B) in the cache again, from the workspace" in committed.stdout
    assert "Stored d (1 file, 2 B) in the cache again" in committed.stdout
    assert dvx("status").stdout == "Data and pointers are up to date.\n"
    assert dvx("fsck").code == 0


def test_storing_lost_data_again_asks_nothing_of_git(repo, dvx):
    """The pointers and .gitignore are committed when the cache is lost: `dvx commit` stores
    the data again and changes no file Git records, so it names none to `git add`."""
    write(repo / "f", "x\n")
    assert dvx("add", "f").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "f")
    shutil.rmtree(repo / ".dvx" / "cache")
    committed = dvx("commit")
    assert committed.code == 0, committed.output
    assert "Stored f (2 B) in the cache again" in committed.stdout
    assert "git add" not in committed.output
    assert git(repo, "status", "--porcelain") == ""


def test_status_targets(repo, dvx):
    write(repo / "a", "a")
    write(repo / "b", "b")
    dvx("add", "a", "b")
    write(repo / "b", "changed")
    assert dvx("status", "-q", "a").code == 0
    assert dvx("status", "-q", "b.dvx").code == 1


def test_a_target_in_a_repository_of_its_own_below_the_root_says_so(repo, dvx):
    """A submodule's (or a nested clone's) pointer is that repository's: named from here
    it is neither unreadable nor untracked, it is elsewhere's."""
    lib = make_git_repo(repo / "libs" / "sub")
    assert dvx("init", cwd=lib).code == 0
    write(lib / "a.txt", "a\n")
    assert dvx("add", "a.txt", cwd=lib).code == 0
    for target, cwd in (("libs/sub/a.txt.dvx", repo), ("libs/sub/a.txt", repo),
                        ("sub/a.txt.dvx", repo / "libs")):
        result = dvx("status", target, cwd=cwd)
        assert result.code == 2, result.output
        assert "inside 'libs/sub', a Git repository of its own" in result.stderr
        assert "not a readable" not in result.stderr
    assert dvx("status", "a.txt.dvx", cwd=lib).code == 0


def test_unchanged_files_are_not_rehashed(repo, dvx, monkeypatch):
    for i in range(20):
        write(repo / "d" / f"{i}.bin", os.urandom(1000))
    dvx("add", "d")
    time.sleep(0.05)  # let the stat cache's stamp be strictly newer than every file
    dvx("status")  # records entries whose stamp post-dates the files
    calls = []
    import dvx.ops.tree_compare as tree_compare
    import dvx.workspace as workspace

    for module in (workspace, tree_compare):  # files alone, and files of a directory
        monkeypatch.setattr(module, "hash_file",
                            lambda path, algo: calls.append(path) or hash_file(path, algo))
    assert dvx("status", "-q").code == 0
    assert calls == []
    write(repo / "d" / "3.bin", "changed")
    assert dvx("status", "-q").code == 1
    assert [os.path.basename(c) for c in calls] == ["3.bin"]


def test_same_content_new_mtime_is_unchanged(repo, dvx):
    write(repo / "f", "same")
    dvx("add", "f")
    future = time.time() + 5
    os.utime(repo / "f", (future, future))
    assert dvx("status", "-q").code == 0


def test_status_outside_repo_fails_cleanly(tmp_path, dvx):
    result = dvx("status", cwd=tmp_path)
    assert result.code != 0 and "not inside a dvx repository" in result.stderr


def _settle(dvx):
    """A status long enough after the last change that its records are trusted (racy rule)."""
    time.sleep(0.05)
    assert dvx("status", "-q").code == 0


@pytest.mark.parametrize("change", ["rename_dir", "same_size_same_mtime", "new_empty_file",
                                    "delete", "chmod_x"])
def test_directory_fast_path_never_hides_a_change(repo, dvx, change):
    for name in ("a", "b"):
        write(repo / "d" / "sub" / name, f"content {name}")
    write(repo / "d" / "top", "top")
    dvx("add", "d")
    _settle(dvx)
    _settle(dvx)  # the second one takes the fingerprint fast path
    target = repo / "d" / "sub" / "a"
    if change == "rename_dir":
        os.rename(repo / "d" / "sub", repo / "d" / "sub2")
    elif change == "same_size_same_mtime":
        st = os.stat(target)
        target.write_text("CONTENT a")
        os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))
    elif change == "new_empty_file":
        write(repo / "d" / "sub" / "new", "")
    elif change == "delete":
        os.unlink(target)
    else:
        os.chmod(target, 0o755)
    assert dvx("status", "-q").code == 1


def test_touching_files_without_changing_them_is_unchanged(repo, dvx):
    write(repo / "d" / "a", "a")
    dvx("add", "d")
    _settle(dvx)
    future = time.time() + 10
    os.utime(repo / "d" / "a", (future, future))
    assert dvx("status", "-q").code == 0


def test_status_of_data_alone_loads_no_code_of_imports_or_of_the_pipeline(repo, dvx,
                                                                        dvx_proc):
    """Start-up is part of every status: with no import among the pointers, and neither
    dvx.yaml nor dvx.lock, a status in its own process loads neither the code of imports
    (which brings the remote layers) nor that of the pipeline, and still says everything is
    up to date."""
    write(repo / "d" / "a", "a")
    assert dvx("add", "d").code == 0
    os.utime(repo / "d" / "a")  # a touched file, as after an editor's save of the same bytes
    result = dvx_proc("status", cwd=repo, env={"PYTHONPROFILEIMPORTTIME": "1"})
    assert result.code == 0 and "up to date" in result.stdout, result.output
    loaded = {line.rpartition("|")[2].strip() for line in result.stderr.splitlines()
              if line.startswith("import time:")}
    assert "dvx.ops.status" in loaded  # the import report is there to inspect
    assert not {m for m in loaded if m == "dvx.ops.imports" or m.startswith(
        ("dvx.remote", "dvx.pipeline"))}, sorted(loaded)


def test_directory_status_with_names_that_sort_around_a_subdirectory(repo, dvx):
    # 'a-b' and 'a.c' sort before 'a/...' and 'a0' after: the sorted walk must pair each
    # workspace file with its manifest entry whatever the names
    names = ["a/x", "a/y", "a-b", "a.c", "a0", "ab/z", "é/1", "Z", "exec.sh"]
    for name in names:
        write(repo / "d" / name, name)
    os.chmod(repo / "d" / "exec.sh", 0o755)
    assert dvx("add", "d").code == 0
    assert _status_json(dvx)["changed"] is False
    time.sleep(0.02)
    write(repo / "d" / "a-b", "changed")
    os.unlink(repo / "d" / "a" / "y")
    write(repo / "d" / "a" / "w", "new")
    write(repo / "d" / "a0a", "new too")
    os.chmod(repo / "d" / "exec.sh", 0o644)
    d = _status_json(dvx)["outputs"][0]
    assert (d["workspace"], d["added"], d["modified"], d["deleted"]) == (
        "modified", ["a/w", "a0a"], ["a-b", "exec.sh"], ["a/y"])
    d = _status_json(dvx)["outputs"][0]  # the same from the stat cache's records
    assert (d["added"], d["modified"], d["deleted"]) == (
        ["a/w", "a0a"], ["a-b", "exec.sh"], ["a/y"])


CHANGES = {  # what a change does -> (added, modified, deleted) that status must list
    "edit_deep": (lambda d: (d / "x" / "y" / "deep").write_text("edited"),
                  ([], ["x/y/deep"], [])),
    "new_folder": (lambda d: write(d / "x" / "new" / "f", "new"), (["x/new/f"], [], [])),
    "drop_folder": (lambda d: shutil.rmtree(d / "x" / "y"), ([], [], ["x/y/deep"])),
    "top_file": (lambda d: write(d / "t2", "t2"), (["t2"], [], [])),
    "move_across": (lambda d: os.rename(d / "x" / "a", d / "z" / "a"),
                    (["z/a"], [], ["x/a"])),
    "file_to_folder": (lambda d: (os.unlink(d / "top"), write(d / "top" / "in", "in")),
                       (["top/in"], [], ["top"])),
    "same_stat_sums": (lambda d: _swap_contents(d / "x" / "a", d / "z" / "b"),
                       ([], ["x/a", "z/b"], [])),
}


def _swap_contents(a, b):
    """Two files of one size trade contents, each keeping its own times: only the ctimes of
    their two folders' entries move."""
    sa, sb = os.stat(a), os.stat(b)
    data_a, data_b = a.read_bytes(), b.read_bytes()
    os.chmod(a, 0o644)
    os.chmod(b, 0o644)
    a.write_bytes(data_b)
    b.write_bytes(data_a)
    os.utime(a, ns=(sa.st_atime_ns, sa.st_mtime_ns))
    os.utime(b, ns=(sb.st_atime_ns, sb.st_mtime_ns))
    os.chmod(a, sa.st_mode & 0o777)
    os.chmod(b, sb.st_mode & 0o777)


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_only_changed_folders_are_compared_and_nothing_is_missed(repo, dvx, change,
                                                                 monkeypatch):
    d = repo / "d"
    for name in ("x/a", "x/y/deep", "z/b", "z/c", "top"):
        write(d / name, f"file {name[-1]}")
    dvx("add", "d")
    _settle(dvx)
    _settle(dvx)  # fast path: records each folder's fingerprint
    import dvx.ops.status as status_module

    def whole(*args):
        raise AssertionError("the whole directory was compared, not the changed folders")

    monkeypatch.setattr(status_module, "compare_with_tree", whole)
    act, (added, modified, deleted) = CHANGES[change]
    act(d)
    for _ in range(2):  # the second from the stat cache's records
        doc = _status_json(dvx)["outputs"][0]
        assert (doc["added"], doc["modified"], doc["deleted"]) == (added, modified, deleted)


def test_a_directory_changed_here_with_no_sync_record_is_listed_once_not_per_version(
        repo, dvx, monkeypatch):
    """With no record of what the workspace was synced to, a directory changed here is
    compared with the versions HEAD's recent commits recorded by its oid, which the first
    comparison gives: it is not listed again for each of them, on every status (a path
    changed here never gets a record). Holding one of them is still outdated."""
    for i in range(4):
        write(repo / "d" / f"{i}.txt", f"{i}\n")
    assert dvx("add", "d").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "v0")
    for version in range(1, 4):
        write(repo / "d" / "0.txt", f"version {version}\n")
        assert dvx("commit", "d").code == 0
        git(repo, "commit", "-qam", f"v{version}")
    write(repo / "d" / "3.txt", "mine\n")
    (repo / ".dvx/tmp/synced.json").unlink()
    import dvx.ops.status as status_module

    listed: list[str] = []

    def counted(name, real):
        def listing(*args, **kwargs):
            listed.append(name)
            return real(*args, **kwargs)
        return listing

    for name in ("scan_directory", "compare_with_tree", "compare_folders"):
        monkeypatch.setattr(status_module, name, counted(name, getattr(status_module, name)))
    doc = _status_json(dvx)["outputs"][0]
    assert (doc["workspace"], doc["modified"], doc["synced_oid"]) == ("modified", ["3.txt"],
                                                                      None)
    assert len(listed) == 1, listed
    write(repo / "d" / "3.txt", "3\n")
    write(repo / "d" / "0.txt", "version 1\n")
    doc = _status_json(dvx)["outputs"][0]
    assert doc["workspace"] == "outdated" and doc["synced_oid"] is not None, doc


def test_a_tracked_file_replaced_by_a_foreign_symlink_is_modified_and_the_rest_reported(
        repo, dvx, tmp_path):
    write(repo / "f", "hi\n")
    write(repo / "g", "g\n")
    assert dvx("add", "f", "g").code == 0
    (repo / "f").unlink()
    write(tmp_path / "elsewhere", "outside\n")
    (repo / "f").symlink_to(tmp_path / "elsewhere")
    (repo / "g").unlink()
    result = dvx("status", "--json")
    assert result.code == 0, result.output
    states = {o["path"]: o["workspace"] for o in json.loads(result.stdout)["outputs"]}
    assert states == {"f": "modified", "g": "deleted"}
    assert "symbolic link" in result.stderr
    assert dvx("status", "-q").code == 1
    restored = dvx("checkout", "--force")
    assert restored.code == 0 and not (repo / "f").is_symlink()
    assert (repo / "f").read_text() == "hi\n"
    assert (tmp_path / "elsewhere").read_text() == "outside\n"  # never written through


@pytest.mark.parametrize("where", ["in the folder", "for the file"])
def test_a_foreign_symlink_in_a_stage_dependency_is_a_warning_and_the_rest_reported(
        repo, dvx, where):
    """A link of one's own inside a tracked folder a stage depends on, or in place of a
    tracked file it depends on (even one to the same bytes): the stage counts as changed,
    the link is named once, and status goes on."""
    write(repo / "data" / "dir" / "a", "a\n")
    write(repo / "other.txt", "other\n")
    write(repo / "same.txt", "other\n")
    assert dvx("add", "data/dir", "other.txt", "same.txt").code == 0
    run_and_commit(repo, "stages:\n  s1:\n    cmd: ls data/dir > n.txt\n"
                         "    deps: [data/dir, same.txt]\n    outs: [n.txt]\n", "v1")
    write(repo / "other.txt", "changed\n")
    if where == "in the folder":
        link, dep = repo / "data" / "dir" / "link", "data/dir"
        link.symlink_to("../../other.txt")
    else:
        link, dep = repo / "same.txt", "same.txt"
        link.unlink()
        write(repo / "copy.txt", "other\n")
        link.symlink_to("copy.txt")
    shown = dvx("status")
    assert shown.code == 0, shown.output
    assert "other.txt: modified" in shown.stdout
    assert f"s1: changed deps: {dep}" in shown.stdout
    assert shown.stderr.count("is a symbolic link") == 1 and "ERROR" not in shown.stderr
    doc = _status_json(dvx)
    assert doc["changed"] is True
    assert doc["stages"] == [{"name": "s1", "stale": True, "frozen": False,
                              "reasons": [f"changed deps: {dep}"], "unknown": None}]
    assert dvx("status", "-q").code == 1
    refused = dvx("repro")
    assert refused.code != 0 and "symbolic link" in refused.stderr


def test_links_to_objects_gone_from_the_cache_are_not_in_cache_not_modified(repo, dvx):
    """Symlink mode, a cache shared with a repository whose `gc` took this one's objects and
    manifests: a tracked directory, like a tracked file, is only not in the cache (links hold
    no data for `dvx commit` to record); a link taken out of the directory or a file put in
    it is still a change."""
    assert dvx("config", "cache.type", "symlink").code == 0
    write(repo / "f", "f\n")
    for name in ("a", "b"):
        write(repo / "d" / name, f"{name}\n")
    assert dvx("add", "f", "d").code == 0
    shutil.rmtree(repo / ".dvx/cache/files")
    result = dvx("status")
    assert result.code == 0, result.output
    assert "d: not in cache\n" in result.stdout and "f: not in cache\n" in result.stdout
    assert "dvx commit" not in result.stdout and "dvx pull" in result.stdout
    states = {o["path"]: (o["workspace"], o["in_cache"]) for o in _status_json(dvx)["outputs"]}
    assert states == {"d": ("unchanged", False), "f": ("unchanged", False)}
    (repo / "d/b").unlink()
    assert _status_json(dvx)["outputs"][0]["workspace"] == "modified"
    (repo / "d/b").symlink_to(os.readlink(repo / "d/a"))
    write(repo / "d/c", "c\n")
    assert _status_json(dvx)["outputs"][0]["workspace"] == "modified"


def test_a_directory_copied_without_its_cache_is_linked_to_another_cache_not_modified(
        repo, dvx, tmp_path, monkeypatch):
    """Symlink mode, the repository copied without .dvx/cache: a tracked directory whose
    manifest the new cache lacks, holding only links into the old cache, is reported as a
    tracked file of that kind is, never `modified` with a `dvx commit` that would refuse;
    a link taken out of it is still a change."""
    assert dvx("config", "cache.type", "symlink").code == 0
    write(repo / "f.txt", "f\n")
    for name in ("a", "b"):
        write(repo / "d" / name, f"{name}\n")
    assert dvx("add", "f.txt", "d").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "v1")
    copy = tmp_path / "copy"
    shutil.copytree(repo, copy, symlinks=True, ignore=shutil.ignore_patterns("cache"))
    monkeypatch.chdir(copy)

    result = dvx("status")
    assert result.code == 0, result.output
    assert ("d: linked to another dvx cache (a moved or copied repository's), not in "
            "cache\n") in result.stdout
    assert "modified" not in result.output and "dvx commit" not in result.output
    assert "dvx checkout --relink" in result.stdout and "dvx pull" in result.stdout
    states = {o["path"]: (o["workspace"], o["in_cache"]) for o in _status_json(dvx)["outputs"]}
    assert states == {"d": ("linked_elsewhere", False), "f.txt": ("linked_elsewhere", False)}
    assert dvx("commit").code == 0  # nothing here to record
    assert str(repo) in os.readlink(copy / "d" / "a")
    (copy / "d" / "b").unlink()
    assert _status_json(dvx)["outputs"][0]["workspace"] == "modified"


def test_tracked_data_git_would_see_is_reported(repo, dvx):
    """`git reset --hard` after an uncommitted add takes the .gitignore entry back out (the
    .gitignore was tracked), while the pointer, untracked, stays: `git add -A` would put the
    data itself into Git, so status says so, and commit writes the entry again."""
    import subprocess

    write(repo / ".gitignore", "*.log\n")
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    subprocess.run(["git", "commit", "-qm", "ignore logs"], cwd=repo, check=True)
    write(repo / "z.csv", "z\n")
    assert dvx("add", "z.csv").code == 0
    subprocess.run(["git", "reset", "-q", "--hard"], cwd=repo, check=True)
    result = dvx("status", "--json")
    doc = json.loads(result.stdout)
    assert doc["changed"] and doc["unignored"] == ["z.csv"]
    assert "z.csv: not ignored by Git" in dvx("status").stdout
    assert dvx("commit", "z.csv").code == 0
    assert dvx("status", "-q").code == 0


def test_an_output_in_a_folder_a_sparse_checkout_leaves_out_is_ignored_by_its_gitignore(
        tmp_path):
    """Git reads the .gitignore of a folder a sparse checkout leaves out from its index: a
    pipeline output pulled there is ignored, and status says nothing of it."""
    from tests.team import Team, must, share

    team = Team(tmp_path)
    alice = team.founder()
    write(alice / "A" / "x.txt", "a1\n")
    must("add", "A/x.txt", cwd=alice)
    (alice / "B").mkdir()
    must("stage", "add", "-n", "s", "-d", "A/x.txt", "-o", "B/res.txt",
         "cat A/x.txt > B/res.txt", cwd=alice)
    must("repro", cwd=alice)
    share(alice, "pipeline")
    sparse = team.clone("sparse", pull=False)
    git(sparse, "sparse-checkout", "set", "--no-cone", "/*", "!/B/")
    must("pull", cwd=sparse)
    assert not (sparse / "B" / ".gitignore").exists()
    assert (sparse / "B" / "res.txt").read_text() == "a1\n"
    assert git(sparse, "status", "--porcelain", "--untracked-files=all") == ""
    status = run_dvx("status", cwd=sparse)
    assert status.code == 0 and "not ignored by Git" not in status.output, status.output
    assert run_dvx("status", "-q", cwd=sparse).code == 0


def test_status_names_a_pointer_a_sparse_checkout_leaves_in_git_s_index_only_beside_the_rest(
        tmp_path):
    """After `git pull` moved a pointer the sparse set leaves out, the data on disk is older
    than what Git's index names: status never calls everything up to date without naming
    it."""
    from tests.team import Team, edit, must, share

    team = Team(tmp_path)
    alice = team.founder()
    write(alice / "a.bin", "a\n")
    write(alice / "model.bin", "v1\n")
    must("add", "a.bin", "model.bin", cwd=alice)
    share(alice, "v1")
    bob = team.clone("bob")
    git(bob, "sparse-checkout", "set", "--no-cone", "/*", "!/model.bin.dvx")
    edit(alice, "model.bin", "v2\n")
    must("add", "model.bin", cwd=alice)
    share(alice, "v2")
    git(bob, "pull", "-q")
    status = run_dvx("status", cwd=bob)
    assert status.code == 0, status.output
    assert status.stdout.splitlines() == [
        "Data and pointers are up to date.",
        "Not compared: model.bin.dvx, pointer file in Git's index only (this sparse checkout "
        "leaves it out of the workspace); its data is tracked still, and whatever is on "
        "disk there may be older. `git sparse-checkout add /model.bin.dvx` brings it back."]


def test_status_of_a_folder_names_the_pointers_inside_it_a_sparse_checkout_leaves_out(
        repo, dvx):
    """A folder named holds data whose pointer is in Git's index only, beside data compared:
    status of the folder names that pointer (in --json under `left_out`) as the whole
    status does, and of a folder holding none, names none."""
    write(repo / "data" / "a" / "x", "x1\n")
    write(repo / "data" / "b" / "y", "y1\n")
    assert dvx("add", "data/a/x", "data/b/y").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "base")
    git(repo, "sparse-checkout", "set", "--no-cone", "/*", "!/data/a/x.dvx")
    write(repo / "data" / "a" / "x", "older\n")  # what Git left on disk, compared with nothing
    status = dvx("status", "data")
    assert status.code == 0, status.output
    assert status.stdout.splitlines()[-1].startswith(
        "Not compared: data/a/x.dvx, pointer file in Git's index only"), status.stdout
    assert json.loads(dvx("status", "--json", "data").stdout)["left_out"] == ["data/a/x.dvx"]
    assert "Not compared" not in dvx("status", "data/b").stdout
    assert json.loads(dvx("status", "--json", "data/b").stdout)["left_out"] == []
    assert json.loads(dvx("status", "--json").stdout)["left_out"] == ["data/a/x.dvx"]


def test_a_sparse_checkout_that_leaves_out_every_pointer_is_not_said_to_track_nothing(
        repo, dvx):
    """The pointers are in Git's index, outside the sparse set: status says so, and what
    brings them back, rather than that nothing is tracked yet."""
    write(repo / "README", "hi\n")
    write(repo / "other" / "d.csv", "x\n")
    assert dvx("add", "other/d.csv").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "base")
    git(repo, "sparse-checkout", "set", "--no-cone", "/*", "!/other/")
    status = dvx("status")
    assert status.code == 0, status.output
    assert "No data is tracked yet" not in status.stdout
    assert "this sparse checkout leaves out the pointer files that Git's index holds " \
           "(other/d.csv.dvx)" in status.stdout
    assert "`git sparse-checkout add /other/d.csv.dvx`" in status.stdout
    git(repo, "sparse-checkout", "add", "/other/d.csv.dvx")
    assert dvx("status").stdout == "Data and pointers are up to date.\n"


def test_a_sparse_checkout_disabled_asks_git_for_nothing_left_out(repo, dvx, tmp_path,
                                                                 monkeypatch):
    """`git sparse-checkout disable` leaves its patterns file, with core.sparseCheckout
    false: status and repro then ask Git for no files left out of the workspace, as where
    the checkout was never sparse. While it is sparse, one `git ls-files` answers a question
    asked again (while the index is unchanged)."""
    commit_copy_stage(repo, dvx, "base")

    def left_out_asked(run):
        trace = tmp_path / "trace"
        trace.unlink(missing_ok=True)
        monkeypatch.setenv("GIT_TRACE", str(trace))
        run()
        monkeypatch.delenv("GIT_TRACE")
        return trace.read_text().count("git ls-files -z -v") if trace.exists() else 0

    def command(name):
        def run():
            result = dvx(name)
            assert result.code == 0, result.output
        return run

    git(repo, "sparse-checkout", "set", "--no-cone", "/*", "!/other/")
    assert [left_out_asked(command(c)) for c in ("status", "repro")] == [1, 1]
    git_of_a_command = Git(str(repo))
    assert left_out_asked(lambda: [git_of_a_command.left_out(["data"]) for _ in range(3)]) == 1
    git(repo, "sparse-checkout", "disable")
    assert (repo / ".git" / "info" / "sparse-checkout").exists()
    assert [left_out_asked(command(c)) for c in ("status", "repro")] == [0, 0]
    assert dvx("status").stdout == "Data, pointers and pipelines are up to date.\n"


def test_tracked_data_git_tracks_too_is_reported_and_never_committed(repo, dvx):
    """`git add -f` put the data itself into Git beside its pointer: status says so (one
    `git ls-files` for all outputs) with the `git rm --cached` that undoes it, and commit
    refuses as add does, until Git no longer tracks it."""
    write(repo / "data.csv", "a,b\n1,2\n")
    write(repo / "d" / "a.bin", "a\n")
    write(repo / "my d.csv", "c\n")
    assert dvx("add", "data.csv", "d", "my d.csv").code == 0
    git(repo, "add", "-A")
    git(repo, "add", "-f", "data.csv", "d/a.bin", "my d.csv")
    git(repo, "commit", "-qm", "data into Git too")
    doc = _status_json(dvx)
    assert doc["changed"] and doc["tracked_by_git"] == ["d", "data.csv", "my d.csv"]
    assert doc["unignored"] == []
    text = dvx("status").stdout
    assert "data.csv: tracked by Git too (it is in the Git index" in text, text
    assert "d: tracked by Git too ('d/a.bin' is in the Git index" in text
    assert "`git rm -r --cached -- data.csv` stops that" in text
    assert "`git rm -r --cached -- 'my d.csv'` stops that" in text  # quoted once, pasteable
    assert dvx("status", "-q").code == 1
    pointer = (repo / "data.csv.dvx").read_text()
    write(repo / "data.csv", "a,b\n1,2\n3,4\n")
    for args in (("commit",), ("commit", "data.csv")):
        refused = dvx(*args)
        assert refused.code == 2 and "'data.csv' is tracked by Git too" in refused.stderr
        said = " ".join(refused.stderr.split())
        assert "`git rm -r --cached -- data.csv` stops that and keeps them (then `git " \
            "commit`)" in said, said
    assert (repo / "data.csv.dvx").read_text() == pointer
    git(repo, "rm", "-q", "-r", "--cached", "--", "data.csv", "d", "my d.csv")
    git(repo, "commit", "-qm", "data out of Git")
    assert dvx("commit").code == 0
    assert dvx("status", "-q").code == 0


def test_status_of_a_file_cut_short_while_it_is_hashed_says_modified(repo, dvx):
    """Another program rewrites a large tracked file (truncates it, then writes) while
    status hashes it: the file is being changed, never a crash (SIGBUS, or an internal
    error)."""
    import signal

    from tests.conftest import stopped_at

    write(repo / "big.bin", os.urandom(5 << 20))
    assert dvx("add", "big.bin").code == 0
    os.utime(repo / "big.bin", ns=(1, 1))  # its stat no longer vouches for it: hashed
    checking = stopped_at("hash_file.after_open", "status", repo)
    os.truncate(repo / "big.bin", 1 << 20)
    os.kill(checking.pid, signal.SIGCONT)
    out, err = checking.communicate(timeout=60)
    assert checking.returncode == 0, out + err
    assert "big.bin: modified" in out and "rror" not in err


def test_status_of_a_file_swapped_for_a_fifo_while_it_runs_says_so(repo, dvx, monkeypatch):
    """A FIFO put where a tracked file was, after status found a file there: status says it
    is not a regular file, and that the output is modified, instead of waiting forever."""
    import threading

    from dvx import workspace

    write(repo / "f", os.urandom(2000))
    assert dvx("add", "f").code == 0
    os.utime(repo / "f", ns=(1, 1))  # its stat no longer vouches for it: hashed
    real_hash_file = workspace.hash_file

    def swapped_first(path, *args, **kwargs):
        os.unlink(path)
        os.mkfifo(path)
        return real_hash_file(path, *args, **kwargs)

    def unblock_a_waiting_reader():  # so that a status that waits fails, not hangs
        with contextlib.suppress(OSError):
            os.close(os.open(repo / "f", os.O_WRONLY | os.O_NONBLOCK))

    monkeypatch.setattr(workspace, "hash_file", swapped_first)
    watchdog = threading.Timer(10, unblock_a_waiting_reader)
    watchdog.start()
    try:
        result = dvx("status")
    finally:
        watchdog.cancel()
    assert result.code == 0, result.output
    assert "'f' is not a regular file" in result.output and "f: modified" in result.stdout


def test_status_of_a_directory_whose_files_come_and_go_says_modified(repo, dvx, monkeypatch):
    """A file of a tracked directory deleted between status listing it and reading it is
    gone, a change like any other: status reports it, and does not fail."""
    for name in ("a", "b", "c"):
        write(repo / "d" / name, name)
    assert dvx("add", "d").code == 0
    write(repo / "d" / "scratch", "scratch")
    real_lstat = os.lstat
    gone = {str(repo / "d" / "scratch"), str(repo / "d" / "b")}

    def deleted_once_listed(path, *args, **kwargs):
        if os.fspath(path) in gone:
            gone.discard(os.fspath(path))
            os.unlink(path)
        return real_lstat(path, *args, **kwargs)

    monkeypatch.setattr(os, "lstat", deleted_once_listed)
    doc = _status_json(dvx)
    assert gone == set(), "the walk did not look at the files"
    [output] = doc["outputs"]
    assert output["workspace"] == "modified" and output["deleted"] == ["b"]
    assert output["added"] == []


def test_names_a_terminal_acts_on_are_shown_quoted_as_git_shows_them(repo, dvx):
    write(repo / "d" / "a", "a")
    write(repo / "d" / "x\x1b[2K\x1b[1Ainnocent.csv", "x")
    assert dvx("add", "d").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "d")
    write(repo / "d" / "p\x1b]0;pwned\x07q", "z")
    quoted = '"p\\033]0;pwned\\aq"'
    status = dvx("status")
    assert f"added: {quoted}" in status.stdout and "\x1b" not in status.stdout, status.stdout
    diff = dvx("diff")
    assert '"d/p\\033]0;pwned\\aq"' in diff.stdout and "\x1b" not in diff.stdout, diff.stdout
    listed = dvx("ls", ".", "d")
    assert '"d/x\\033[2K\\033[1Ainnocent.csv"' in listed.stdout, listed.stdout
    assert "p\\u001b]0;pwned\\u0007q" in dvx("status", "--json").stdout  # JSON: the name


def test_add_names_a_file_a_terminal_acts_on_quoted_and_its_git_add_stages_it(repo, dvx):
    name = "e\x1b]0;pwned\x07q"
    write(repo / name, "x")
    added = dvx("add", name)
    assert added.code == 0 and "\x1b" not in added.stdout + added.stderr, added.output
    assert 'Tracked "e\\033]0;pwned\\aq"' in added.stdout
    hint = added.stdout.splitlines()[-1].strip()
    assert hint == "git add $'e\\033]0;pwned\\007q.dvx' .gitignore", hint
    subprocess.run(["bash", "-c", hint], cwd=repo, check=True)  # as the user pastes it
    staged = git(repo, "diff", "--cached", "--name-only", "-z").split("\0")
    assert sorted(staged) == ["", ".gitignore", name + ".dvx"]
    for args in (["unprotect", name], ["move", name, "y" + name], ["remove", "y" + name + ".dvx"]):
        said = dvx(*args)
        assert said.code == 0 and "\x1b" not in said.output and "033]0;pwned" in said.stdout


def test_remote_takes_a_configured_remotes_name_and_leaves_any_other_word_a_target(
        repo, dvx, tmp_path):
    """`status --remote NAME` compares with remote NAME, as in DVC, even where a tracked path
    has that name; `--remote` alone is -c with the default remote; a word after it that no
    remote is named is a target, as before."""
    write(repo / "models" / "m.bin", "w")
    write(repo / "other.bin", "o")
    assert dvx("add", "models", "other.bin").code == 0
    assert dvx("remote", "add", "-d", "storage", str(tmp_path / "store")).code == 0
    assert dvx("remote", "add", "models", str(tmp_path / "models-store")).code == 0
    (tmp_path / "models-store").mkdir()  # an empty remote: nothing pushed there yet
    assert dvx("push").code == 0
    named = dvx("status", "--remote", "models", "--json")
    assert named.code == 0, named.output
    lacking = json.loads(named.stdout)
    assert lacking["remote"] == "models"
    assert {row["path"] for row in lacking["missing_on_remote"]} >= {"models", "other.bin"}
    assert dvx("status", "--remote=models", "-q").code == 1
    assert dvx("status", "--remote", "storage", "-q").code == 0
    assert dvx("status", "--remote", "-q").code == 0  # the default remote
    assert dvx("status", "-c", "-r", "models", "-q").code == 1
    target = json.loads(dvx("status", "--remote", "-r", "models", "other.bin", "--json").stdout)
    assert [row["path"] for row in target["missing_on_remote"]] == ["other.bin"]
    as_target = json.loads(dvx("status", "--remote", "other.bin", "-r", "models",
                               "--json").stdout)
    assert [row["path"] for row in as_target["missing_on_remote"]] == ["other.bin"]
    two = dvx("status", "--remote", "models", "-r", "storage")
    assert two.code == 2 and "--remote models and -r storage name two remotes" in two.stderr


def test_remote_over_revisions_hints_commands_of_that_scope_and_names_each_revision(
        repo, dvx, tmp_path):
    """With -A (or -a, -T, --rev, -n) the hints are `dvx push -A` and `dvx fetch -A`: a plain
    push sends the workspace's data only, so it would leave the status as it was. Each missing
    object names the revisions needing it, so versions of one path can be told apart."""
    assert dvx("remote", "add", "-d", "storage", str(tmp_path / "store")).code == 0
    commits = []
    for version in ("one", "two", "three"):
        write(repo / "model.bin", version)
        assert dvx("add", "model.bin").code == 0
        git(repo, "add", "-A")
        git(repo, "commit", "-qm", version)
        commits.append(git(repo, "rev-parse", "HEAD").strip())
    git(repo, "tag", "v1", commits[0])
    assert dvx("push").code == 0

    lacking = dvx("status", "-c", "-A")
    assert lacking.code == 0, lacking.output
    assert "2 objects not on the remote (`dvx push -A`):" in lacking.stdout, lacking.stdout
    assert f"    model.bin  (in {commits[0][:10]} (v1))" in lacking.stdout
    assert f"    model.bin  (in {commits[1][:10]})" in lacking.stdout
    rows = json.loads(dvx("status", "-c", "-A", "--json").stdout)["missing_on_remote"]
    assert sorted(row["revisions"] for row in rows) == sorted([[commits[0]], [commits[1]]])
    assert [row["revisions_total"] for row in rows] == [1, 1]
    narrowed = dvx("status", "-c", "-T", "--rev", commits[1][:10], "-r", "storage")
    assert "(`dvx push -T --rev " + commits[1][:10] + " -r storage`)" in narrowed.stdout

    assert dvx("push").code == 0  # the workspace's only: nothing changes
    assert dvx("status", "-c", "-A", "-q").code == 1
    assert dvx("push", "-A").code == 0  # the command the hint names
    assert "are in sync" in dvx("status", "-c", "-A").stdout
    shutil.rmtree(repo / ".dvx" / "cache")
    absent = dvx("status", "-c", "-a", "-n", "2")
    assert "2 objects not in the cache (`dvx fetch -a -n 2`):" in absent.stdout, absent.stdout
    assert "model.bin  (in the workspace)" in absent.stdout


def test_remote_hint_from_a_subdirectory_names_the_remote_as_typed(repo, dvx, tmp_path):
    """The remote of -r is a name, not a path: run from a subdirectory, the hint names it as
    it is, and the command it names works there."""
    assert dvx("remote", "add", "-d", "storage", str(tmp_path / "store")).code == 0
    (tmp_path / "store").mkdir()  # an empty remote: nothing pushed there yet
    write(repo / "sub" / "d.txt", "x")
    assert dvx("add", "sub/d.txt").code == 0
    for scope in ((), ("-A",)):
        lacking = dvx("status", "-c", "-r", "storage", *scope, cwd=repo / "sub")
        assert (f"1 object not on the remote (`dvx push{''.join(' ' + o for o in scope)}"
                " -r storage`):") in lacking.stdout, lacking.stdout
    assert dvx("push", "-r", "storage", cwd=repo / "sub").code == 0


def test_remote_followed_by_a_word_that_is_neither_a_remote_nor_a_path_names_the_remotes(
        repo, dvx, tmp_path):
    """A mistyped remote's name after --remote is no target to `dvx add`: it is refused as a
    remote, naming those configured; tracked data not checked out, or tracked only in the
    revisions asked for, stays a target."""
    write(repo / "gone", "old")
    assert dvx("add", "gone").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "gone")
    git(repo, "tag", "v1")
    assert dvx("remove", "--outs", "gone.dvx").code == 0
    assert not (repo / "gone").exists()
    write(repo / "f", "x")
    assert dvx("add", "f").code == 0
    assert dvx("remote", "add", "-d", "storage", str(tmp_path / "store")).code == 0
    (tmp_path / "store").mkdir()  # an empty remote: nothing pushed there yet
    assert dvx("remote", "add", "backup", str(tmp_path / "backup")).code == 0
    typo = dvx("status", "--remote", "bakup")
    assert typo.code == 2, typo.output
    assert typo.stderr.startswith("ERROR: There is no remote named 'bakup'"), typo.stderr
    assert "The remotes are backup, storage" in typo.stderr
    assert "not tracked" not in typo.stderr and "dvx add" not in typo.stderr
    (repo / "f").unlink()  # its pointer still names it: a target, as before
    absent = dvx("status", "--remote", "f", "--json")
    assert absent.code == 0, absent.output
    assert [row["path"] for row in json.loads(absent.stdout)["missing_on_remote"]] == ["f"]
    removed = dvx("status", "--remote", "gone", "-T", "--json")
    assert removed.code == 0, removed.output
    assert [row["path"] for row in json.loads(removed.stdout)["missing_on_remote"]] == ["gone"]


def test_remote_whose_folder_is_gone_is_an_error_naming_it_not_data_never_pushed(
        repo, dvx, tmp_path):
    """A remote retired or renamed (its folder moved away) is the error fetch gives, for
    every scope and for each remote compared (an output's own too), not an empty remote
    whose data all reads as never pushed, with `dvx push` to make it again; the other
    remote compared is still reported."""
    store, archive = tmp_path / "store", tmp_path / "archive"
    assert dvx("remote", "add", "-d", "storage", str(store)).code == 0
    assert dvx("remote", "add", "archive", str(archive)).code == 0
    write(repo / "f", "data")
    assert dvx("add", "f").code == 0
    run_and_commit(repo, "stages:\n  s:\n    cmd: echo big > big.bin\n"
                         "    outs:\n    - big.bin: {remote: archive}\n", "v1")
    assert dvx("push").code == 0
    store.rename(tmp_path / "store.retired")
    for args in ((), ("--json",), ("-A",), ("-q",), ("-r", "storage"), ("f",)):
        gone = dvx("status", "-c", *args)
        assert gone.code == 1, (args, gone.output)
        assert f"The remote directory '{store}' does not exist." in gone.stderr, gone.stderr
        assert "not on the remote" not in gone.output
        if args in ((), ("-A",)):  # and archive, compared for big.bin
            assert gone.stdout == "Cache and remote 'archive' are in sync.\n", gone.stdout
        elif args == ("--json",):
            assert json.loads(gone.stdout)["remote_errors"][0]["remote"] == "storage"
        else:
            assert gone.stdout == "", (args, gone.stdout)
    (tmp_path / "store.retired").rename(store)
    archive.rename(tmp_path / "archive.retired")
    own = dvx("status", "-c")  # one of the two remotes compared: named
    assert own.code == 1 and own.stdout == "Cache and remote 'storage' are in sync.\n"
    assert own.stderr.startswith(
        f"ERROR: Could not compare with the remote 'archive': The remote directory "
        f"'{archive}' does not exist."), own.stderr
    assert "in sync" in dvx("status", "-c", "f").stdout  # what the other remote holds


def test_a_remote_of_several_that_cannot_be_compared_leaves_the_others_reported(
        repo, dvx, tmp_path):
    """Of the remotes compared (an output's own, and the default one), one whose folder is
    gone is the error naming it, after what the other lacks is reported, in text and in
    --json (printed all the same, naming the remote that failed), as push and fetch do."""
    store, archive = tmp_path / "store", tmp_path / "archive"
    assert dvx("remote", "add", "-d", "storage", str(store)).code == 0
    assert dvx("remote", "add", "archive", str(archive)).code == 0
    write(repo / "dvx.yaml", "stages:\n  s:\n    cmd: echo big > big.bin\n"
                             "    outs:\n    - big.bin: {remote: archive}\n")
    assert dvx("repro").code == 0
    write(repo / "f", "pushed")
    assert dvx("add", "f").code == 0
    assert dvx("push").code == 0
    write(repo / "extra.csv", "never pushed")
    assert dvx("add", "extra.csv").code == 0
    archive.rename(tmp_path / "archive.retired")
    gone = f"Could not compare with the remote 'archive': The remote directory '{archive}' " \
        "does not exist."
    text = dvx("status", "-c")
    assert text.code == 1, text.output
    assert text.stdout.splitlines() == ["1 object not on the remote (`dvx push`):",
                                        "    extra.csv"], text.stdout
    assert text.stderr.startswith(f"ERROR: {gone}"), text.stderr
    as_json = dvx("status", "-c", "--json")
    assert as_json.code == 1, as_json.output
    doc = json.loads(as_json.stdout)
    assert (doc["remotes"], doc["in_sync"]) == (["storage", "archive"], False)
    assert [row["path"] for row in doc["missing_on_remote"]] == ["extra.csv"]
    assert [e["remote"] for e in doc["remote_errors"]] == ["archive"]
    assert doc["remote_errors"][0]["error"].startswith(gone)
    assert gone in as_json.stderr
    quiet = dvx("status", "-c", "-q")
    assert quiet.code == 1 and quiet.stdout == "" and gone in quiet.stderr
    assert dvx("push", "-r", "storage", "extra.csv").code == 0
    synced = dvx("status", "-c")
    assert synced.code == 1, synced.output
    assert synced.stdout == "Cache and remote 'storage' are in sync.\n", synced.stdout
    assert gone in synced.stderr


@pytest.mark.parametrize("unreadable", ["folder gone", "server down"])
def test_json_of_the_only_remote_that_cannot_be_compared_is_printed_naming_it(
        repo, dvx, tmp_path, unreadable):
    """The only remote compared that cannot be read gives the --json document all the same
    (nothing compared, the remote named in remote_errors), the error on stderr and exit 1,
    as when it is one of several; the text output is the error alone."""
    store = tmp_path / "store"
    assert dvx("remote", "add", "-d", "storage", str(store)).code == 0
    write(repo / "f", "data")
    assert dvx("add", "f").code == 0
    assert dvx("push").code == 0
    if unreadable == "folder gone":
        shutil.rmtree(store)
        error = f"The remote directory '{store}' does not exist."
    else:  # a closed loopback port: refused at once
        for option, value in (("url", "s3://bucket/project"),
                              ("endpointurl", f"http://127.0.0.1:{free_port()}"),
                              ("access_key_id", "key"), ("secret_access_key", "secret"),
                              ("retries", "1")):
            assert dvx("remote", "modify", "storage", option, value).code == 0
        error = "did not accept the connection"
    as_json = dvx("status", "-c", "--json")
    assert as_json.code == 1, as_json.output
    doc = json.loads(as_json.stdout)
    assert (doc["remotes"], doc["in_sync"], doc["missing_on_remote"]) == (["storage"], False, [])
    assert [e["remote"] for e in doc["remote_errors"]] == ["storage"]
    assert error in doc["remote_errors"][0]["error"] and error in as_json.stderr
    text = dvx("status", "-c")
    assert (text.code, text.stdout) == (1, ""), text.output
    assert text.stderr.startswith("ERROR: ") and error in text.stderr, text.stderr


def test_remote_names_data_neither_the_cache_nor_the_remote_holds_once(repo, dvx, tmp_path):
    """Data a teammate pushed to another remote only: `status -c -r B` lists it once, as in
    neither the cache nor B, with the check and the fetch of the other remote configured (not
    asked: it is never said to hold it), never under `dvx fetch -r B`, which cannot bring it."""
    for name in ("a", "b"):
        assert dvx("remote", "add", *(["-d"] if name == "a" else []), name,
                   str(tmp_path / f"store-{name}")).code == 0
    write(repo / "first.txt", "first")
    assert dvx("add", "first.txt").code == 0
    assert dvx("push").code == 0 and dvx("push", "-r", "b").code == 0
    write(repo / "second.txt", "second")
    assert dvx("add", "second.txt").code == 0
    assert dvx("push").code == 0  # to a only
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "data")
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(repo), str(other))
    status = dvx("status", "-c", "-r", "b", cwd=other)
    assert status.code == 0, status.output
    assert status.stdout == (
        "1 object not in the cache (`dvx fetch -r b`):\n    first.txt\n"
        "1 object in neither the cache nor the remote (another remote, not checked, may hold "
        "it: `dvx status -c -r a` checks, `dvx fetch -r a` fetches; or ask whoever committed "
        "it to run `dvx push` in their clone):\n    second.txt\n"), status.stdout
    checked = dvx("status", "-c", "-r", "a", cwd=other)  # the check the hint names
    assert checked.stdout == "2 objects not in the cache (`dvx fetch -r a`):\n" \
                             "    first.txt\n    second.txt\n", checked.stdout
    as_json = json.loads(dvx("status", "-c", "-r", "b", "--json", cwd=other).stdout)
    assert [[row["path"] for row in as_json[key]] for key in (
        "missing_on_remote", "missing_in_cache", "missing_from_both")] == [
        [], ["first.txt"], ["second.txt"]]
    assert as_json["in_sync"] is False
    assert dvx("fetch", "-r", "a", cwd=other).code == 0  # the fetch the hint names
    moved = dvx("status", "-c", "-r", "b", cwd=other)
    assert moved.stdout == "1 object not on the remote (`dvx push -r b`):\n" \
                           "    second.txt\n", moved.stdout
    alone = tmp_path / "alone"  # no other remote to name: only whoever committed it
    git(tmp_path, "clone", "-q", str(repo), str(alone))
    assert dvx("remote", "remove", "a", cwd=alone).code == 0
    assert dvx("remote", "default", "b", cwd=alone).code == 0
    lacking = dvx("status", "-c", cwd=alone)
    assert "1 object in neither the cache nor the remote (ask whoever committed it to run " \
           "`dvx push` in their clone):\n    second.txt\n" in lacking.stdout, lacking.stdout
    past = dvx("status", "-c", "-A", cwd=alone)  # a past revision's: their push needs -A
    assert "(ask whoever committed it to run `dvx push -A` in their clone):" in past.stdout, \
        past.stdout


def test_remote_names_commit_for_data_lost_from_cache_and_remote_the_workspace_holds(
        repo, dvx, tmp_path):
    """The cache deleted and the remote emptied while the workspace holds the data: `status
    -c` names the `dvx commit PATH` that stores it again, then `dvx push`, never a teammate's
    push; data the workspace no longer holds keeps that advice."""
    store = tmp_path / "store"
    assert dvx("remote", "add", "-d", "store", str(store)).code == 0
    write(repo / "f.txt", "data\n")
    write(repo / "d" / "a", "a\n")
    write(repo / "gone.txt", "gone\n")
    assert dvx("add", "f.txt", "d", "gone.txt").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "v1")
    assert dvx("push").code == 0
    shutil.rmtree(repo / ".dvx" / "cache")
    shutil.rmtree(store)
    store.mkdir()
    (repo / "gone.txt").unlink()
    status = dvx("status", "-c")
    assert status.code == 0, status.output
    assert ("objects in neither the cache nor the remote, held by the workspace (`dvx commit "
            "d f.txt` stores it in the cache again, then `dvx push`):\n    d\n    f.txt\n"
            ) in status.stdout, status.stdout
    assert ("1 object in neither the cache nor the remote (ask whoever committed it to run "
            "`dvx push` in their clone):\n    gone.txt\n") in status.stdout, status.stdout
    assert dvx("commit", "d", "f.txt").code == 0 and dvx("push", "d", "f.txt").code == 0
    assert "held by the workspace" not in dvx("status", "-c").stdout


def test_an_edit_of_a_file_both_versions_agree_on_is_a_change_not_an_outdated_version(
        repo, dvx):
    """A pointer moved in the workspace (`git checkout v1 -- d.dvx`) while d/a holds an edit
    never recorded: status names the edit as a change, never as outdated data holding a
    version no longer in the cache, which `dvx pull` would replace."""
    write(repo / "d" / "a", "a1\n")
    write(repo / "d" / "s", "s1\n")
    assert dvx("add", "d").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "v1")
    git(repo, "tag", "v1")
    write(repo / "d" / "s", "s2\n")
    assert dvx("add", "d").code == 0
    git(repo, "commit", "-qam", "v2")
    write(repo / "d" / "a", "my edit\n")
    git(repo, "checkout", "v1", "--", "d.dvx")
    status = dvx("status")
    assert "no longer in the cache" not in status.stdout, status.stdout
    assert "`dvx pull` replaces" not in status.stdout
    doc = json.loads(dvx("status", "--json").stdout)
    assert all(not o.get("outdated_not_cached") for o in doc["outputs"]), doc


def test_a_directory_whose_manifest_is_damaged_in_the_cache_is_named_and_the_rest_reported(
        repo, dvx):
    """A manifest damaged in the cache leaves its directory out of status, named at the end
    with how to get a good copy, not every other change unreported behind one error."""
    write(repo / "d" / "a", "1")
    write(repo / "one.txt", "one")
    assert dvx("add", "d", "one.txt").code == 0
    oid = next(line.split(": ")[1] for line in (repo / "d.dvx").read_text().splitlines()
               if line.startswith("oid: "))
    manifest = repo / ".dvx/cache/files/xxh128" / oid[:2] / oid[2:]
    os.chmod(manifest, 0o644)
    with open(manifest, "ab") as f:
        f.write(b"damage")
    write(repo / "d" / "a", "2")  # read again, so its manifest is read
    (repo / "one.txt").unlink()
    result = dvx("status")
    assert result.code == 1, result.output
    assert "one.txt: deleted" in result.stdout, result.output
    message = " ".join(result.stderr.split())
    assert message.count("ERROR:") == 1, message
    assert f"ERROR: Skipped d.dvx: 'd.dvx' names the directory manifest {oid}" in message
    assert "is corrupt" in message and "`dvx fetch`" in message, message


@pytest.mark.parametrize("link_type", ["hardlink", "symlink"])
def test_an_edit_through_a_link_into_the_cache_is_named_with_a_way_back_that_works(
        repo, dvx, tmp_path, link_type):
    """A file written in place through its hard or symbolic link into the cache (as root,
    who read-only modes do not stop) changed the cached object itself: status says so, for a
    tracked file and a file of a tracked directory, and offers `dvx pull --force`, which
    gets the recorded version back from a remote, never `dvx checkout --force`, which cannot.
    A file of the directory replaced by a new one is an ordinary change."""
    assert dvx("config", "cache.type", link_type).code == 0
    assert dvx("remote", "add", "-d", "store", str(tmp_path / "store")).code == 0
    write(repo / "f", "f\n")
    write(repo / "d" / "x", "x\n")
    write(repo / "d" / "y", "y\n")
    assert dvx("add", "f", "d").code == 0
    assert dvx("push").code == 0
    write(repo / "f", "changed f\n")  # through the link: the object is written
    write(repo / "d" / "x", "changed x\n")
    (repo / "d" / "y").unlink()
    write(repo / "d" / "y", "new y\n")

    shown = dvx("status")
    assert shown.code == 0, shown.output
    assert "f: modified, changed through its link into the cache\n" in shown.stdout
    assert "    modified: x (changed through its link into the cache)\n" in shown.stdout
    assert "    modified: y\n" in shown.stdout
    assert "checkout --force" not in shown.stdout
    assert "`dvx pull --force d f`" in shown.stdout
    changed = {o["path"]: o["changed_in_cache"] for o in _status_json(dvx)["outputs"]}
    assert changed == {"d": ["d/x"], "f": ["f"]}

    assert dvx("pull", "--force", "d", "f").code == 0
    assert (repo / "f").read_text() == "f\n" and (repo / "d" / "x").read_text() == "x\n"
    assert (repo / "d" / "y").read_text() == "y\n"
    assert _status_json(dvx)["changed"] is False


def test_changes_to_data_whose_recorded_version_is_not_cached_are_discarded_by_a_pull(
        repo, dvx, tmp_path):
    """In a clone that pulled one file only, changes to it are discarded by `dvx checkout
    --force`, changes to a file and a directory whose recorded version the cache never had
    by `dvx pull --force`, which fetches it: status names each way for its own data, never a
    checkout that cannot place what the cache lacks."""
    assert dvx("remote", "add", "-d", "store", str(tmp_path / "store")).code == 0
    write(repo / "a.txt", "a\n")
    write(repo / "b.txt", "b\n")
    write(repo / "d" / "x", "x\n")
    write(repo / "d" / "y", "y\n")
    assert dvx("add", "a.txt", "b.txt", "d").code == 0
    assert dvx("push").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "data")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(repo), str(clone))
    assert dvx("pull", "b.txt", cwd=clone).code == 0
    write(clone / "b.txt", "my b\n")
    write(clone / "a.txt", "my a\n")  # made here, the recorded version never fetched
    write(clone / "d" / "x", "my x\n")
    write(clone / "d" / "y", "y\n")

    shown = dvx("status", cwd=clone)
    assert shown.code == 0, shown.output
    assert "a.txt: modified, not in cache\n" in shown.stdout
    assert "d: modified, not in cache\n" in shown.stdout
    assert "(`dvx commit` records changes; `dvx checkout --force b.txt` discards them, "\
           "`dvx pull --force a.txt d` those of data whose recorded version is not in the "\
           "cache)\n" in shown.stdout, shown.stdout
    outputs = {o["path"]: (o["workspace"], o["in_cache"])
               for o in _status_json(dvx, cwd=clone)["outputs"]}
    assert outputs == {"a.txt": ("modified", False), "b.txt": ("modified", True),
                       "d": ("modified", False)}

    assert dvx("checkout", "--force", "b.txt", cwd=clone).code == 0
    lacking = dvx("status", cwd=clone)
    assert "(`dvx commit` records changes; `dvx pull --force a.txt d` discards them, "\
           "fetching them)\n" in lacking.stdout, lacking.stdout
    assert "checkout --force" not in lacking.stdout
    assert dvx("remote", "default", "--unset", cwd=clone).code == 0
    no_remote = " ".join(dvx("status", cwd=clone).stdout.split())
    assert "`dvx pull --force a.txt d` discards them once a default remote is set (`dvx " \
           "remote add -d NAME URL`): the cache lacks them)" in no_remote, no_remote
    assert dvx("remote", "default", "store", cwd=clone).code == 0
    assert dvx("pull", "--force", "a.txt", "d", cwd=clone).code == 0
    assert [(clone / name).read_text() for name in ("a.txt", "b.txt", "d/x")] == \
        ["a\n", "b\n", "x\n"]
    assert _status_json(dvx, cwd=clone)["changed"] is False


def test_changes_to_stage_outputs_whose_recorded_version_is_not_cached_are_discarded_by_a_pull(
        repo, dvx, tmp_path):
    """In a clone that never pulled a stage's output, an output made here by hand is put back
    to what dvx.lock records by `dvx pull --force`, which fetches that version, never by a
    `dvx checkout --force` that places nothing: status names that way, for a frozen stage
    too, and the typed hint puts the recorded version back."""
    assert dvx("remote", "add", "-d", "store", str(tmp_path / "store")).code == 0
    write(repo / "data" / "in.txt", "v1\n")
    assert dvx("add", "data/in.txt").code == 0
    assert dvx("stage", "add", "-n", "s", "-d", "data/in.txt", "-o", "out.txt",
               "tr v w < data/in.txt > out.txt").code == 0
    assert dvx("repro").code == 0 and dvx("push").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "base")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(repo), str(clone))
    assert dvx("pull", "data/in.txt", cwd=clone).code == 0
    write(clone / "out.txt", "mine\n")

    shown = dvx("status", cwd=clone).stdout
    assert "out.txt: modified, not in cache\n" in shown, shown
    assert "`dvx pull --force out.txt` puts back what dvx.lock records, fetching it, " \
        "deleting them)" in shown, shown
    assert "checkout --force" not in shown, shown
    assert dvx("freeze", "s", cwd=clone).code == 0
    frozen = dvx("status", cwd=clone).stdout
    assert "`dvx pull --force out.txt` puts back what dvx.lock records, fetching it, " \
        "`dvx unfreeze s`" in frozen, frozen
    assert "checkout --force" not in frozen, frozen
    warned = " ".join(dvx("repro", "s", cwd=clone).stderr.split())
    assert "`dvx commit out.txt` records an edit of yours, `dvx pull --force out.txt` puts " \
        "back what dvx.lock records, fetching it, or `dvx unfreeze s`" in warned, warned

    assert dvx("pull", "--force", "out.txt", cwd=clone).code == 0
    assert (clone / "out.txt").read_text() == "w1\n"
    assert "out.txt" not in dvx("status", cwd=clone).stdout


def test_an_edited_push_false_output_the_cache_lacks_is_said_made_again_by_repro_only(
        repo, dvx, tmp_path):
    """In a clone, edits to a stage's outputs, one of them `push: false` (no remote holds it,
    nor this cache): status names the checkout of the output the cache holds alone, as a
    checkout places nothing for the other, which, never placed here, holds data of the user's
    own that `dvx repro` refuses to delete; frozen, only the
    frozen stage's hint, never that repro rebuilds it. A checkout, or a pull naming it,
    says `dvx repro` makes it again and exits 1, never a pull that fetches nothing."""
    assert dvx("remote", "add", "-d", "store", str(tmp_path / "store")).code == 0
    write(repo / "in.txt", "v1\n")
    assert dvx("add", "in.txt").code == 0
    write(repo / "dvx.yaml", "stages:\n  s:\n    cmd: cp in.txt model.txt; echo log > log.txt\n"
          "    deps: [in.txt]\n    outs:\n    - model.txt\n    - log.txt:\n        push: false\n")
    assert dvx("repro").code == 0 and dvx("push").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "base")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(repo), str(clone))
    assert dvx("pull", cwd=clone).code == 0
    write(clone / "model.txt", "mine\n")
    write(clone / "log.txt", "my log\n")

    shown = dvx("status", cwd=clone).stdout
    assert "log.txt: modified, not in cache\n" in shown, shown
    assert "`dvx checkout --force model.txt` puts back what dvx.lock records)" in shown, shown
    assert "`dvx checkout --force` puts back" not in shown, shown
    # log.txt was never placed here: data of the user's own, which repro refuses to delete
    assert "(`dvx repro` refuses to delete stage outputs holding data that no cache has, " \
        "until you move them away (no cache or remote holds a copy))" in shown, shown
    assert "(`dvx repro` rebuilds the stage outputs with `push: false`" not in shown, shown
    assert dvx("freeze", "s", cwd=clone).code == 0
    frozen = dvx("status", cwd=clone).stdout
    assert "stage 's' is frozen, so `dvx repro` leaves its outputs as they are" in frozen, frozen
    assert "`dvx repro` rebuilds" not in frozen, frozen
    assert dvx("checkout", "--force", "model.txt", cwd=clone).code == 0
    assert (clone / "model.txt").read_text() == "v1\n"
    assert (clone / "log.txt").read_text() == "my log\n"
    said = "Not in the cache, and no remote holds it (`push: false`: `dvx repro` makes it " \
        "again): log.txt."
    for command in (("checkout", "--force"), ("pull", "--force", "log.txt")):
        ran = dvx(*command, cwd=clone)
        assert ran.code == 1 and said in " ".join(ran.stderr.split()), ran.output
        assert "run `dvx pull`" not in ran.output, ran.output
    assert (clone / "log.txt").read_text() == "my log\n"
    assert dvx("pull", cwd=clone).code == 0  # a pull of everything passes over such outputs


def test_a_file_whose_pointer_is_right_is_never_named_wrong_size_when_rewritten_as_status_reads(
        repo, dvx, monkeypatch):
    """A file rewritten between status's stat of it and its hashing, to the very bytes its
    pointer names: the size status checks is that of the bytes it hashed, so a right pointer
    is never named as recording a wrong size."""
    from dvx import workspace

    write(repo / "f", "the recorded version\n")
    assert dvx("add", "f").code == 0
    write(repo / "f", "short")  # a size of its own, as the stat before hashing sees it
    real_hash_file = workspace.hash_file

    def rewritten_first(path, *args, **kwargs):
        write(repo / "f", "the recorded version\n")
        return real_hash_file(path, *args, **kwargs)

    monkeypatch.setattr(workspace, "hash_file", rewritten_first)
    shown = dvx("status")
    assert shown.code == 0, shown.output
    assert "records a size" not in shown.output, shown.output
    assert shown.stdout == "Data and pointers are up to date.\n", shown.output


def _set_in_pointer(pointer, key: str, value: int) -> None:
    lines = pointer.read_text().splitlines(keepends=True)
    pointer.write_text("".join(f"{key}: {value}\n" if line.startswith(f"{key}: ") else line
                               for line in lines))


def test_a_wrong_pointer_whose_data_is_not_in_the_workspace_is_checked_out_before_commit(
        repo, dvx):
    """A directory's pointer with a wrong nfiles, the directory deleted: status never names
    the commit that would refuse it (nothing to commit) alone, but the checkout that places
    the data first; typed, they write the pointer right. A file of the user's own in its
    place is a change: no hint says a commit writes the pointer again."""
    write(repo / "d" / "a", "1\n")
    write(repo / "f", "hello\n")
    assert dvx("add", "d", "f").code == 0
    _set_in_pointer(repo / "d.dvx", "nfiles", 7)
    _set_in_pointer(repo / "f.dvx", "size", 999)
    shutil.rmtree(repo / "d")
    (repo / "f").unlink()
    (repo / "f").mkdir()
    write(repo / "f" / "mine", "mine\n")

    shown = dvx("status").stdout
    assert "(once `dvx checkout d` places the data, `dvx commit d` writes the pointer again)" \
        in shown, shown
    assert "(`dvx commit d` writes" not in shown, shown
    assert "`dvx commit f` writes" not in shown, shown
    assert dvx("checkout", "d").code == 0
    assert dvx("commit", "d").code == 0
    assert "nfiles: 1\n" in (repo / "d.dvx").read_text()


def test_a_pointer_whose_size_or_nfiles_is_wrong_is_named_and_written_again_by_commit(repo, dvx):
    """A pointer whose size or number of files is not that of the data it names (edited by
    hand, a bad merge) is named by `fsck`, which exits 1, with the `dvx commit PATH` that
    writes it again; `status` names a file's wrong size from a stat (and a directory's when
    it reads its manifest) and says the same, and a bare `dvx commit` writes what it names;
    once committed, both are content."""
    write(repo / "f", "hello\n")
    write(repo / "d" / "a", "1\n")
    write(repo / "d" / "b", "22\n")
    assert dvx("add", "f", "d").code == 0
    assert dvx("status").stdout == "Data and pointers are up to date.\n"
    _set_in_pointer(repo / "f.dvx", "size", 999)
    _set_in_pointer(repo / "d.dvx", "nfiles", 7)

    checked = dvx("fsck")
    assert checked.code == 1, checked.output
    said = " ".join(checked.stderr.split())
    assert "f.dvx records a size of 999 B, where the data it names is 6 B: once the workspace " \
        "holds the data it names (`dvx checkout f`), `dvx commit f` writes it again." in said, said
    assert "d.dvx records 7 files, where the data it names has 2: once the workspace holds the " \
        "data it names (`dvx checkout d`), `dvx commit d` writes it again." in said, said
    assert [p["path"] for p in json.loads(dvx("fsck", "--json").stdout)["wrong_pointers"]] \
        == ["d", "f"]
    shown = dvx("status")
    assert "f: its pointer records a size of 999 B, where the data it names is 6 B\n" \
        in shown.stdout, shown.stdout
    assert "(`dvx commit f` writes the pointer again)" in shown.stdout, shown.stdout
    assert dvx("status", "-q").code == 1
    assert _status_json(dvx)["changed"] is True

    assert dvx("commit").code == 0  # what status names
    assert "size: 6\n" in (repo / "f.dvx").read_text()
    assert dvx("commit", "d").code == 0
    assert "nfiles: 2\n" in (repo / "d.dvx").read_text()
    assert dvx("fsck").code == 0
    assert dvx("status").stdout == "Data and pointers are up to date.\n"


def test_a_directory_pointer_with_wrong_nfiles_stays_named_until_a_bare_commit_writes_it(
        repo, dvx):
    """Once status has read the manifest of a directory whose pointer's `nfiles` is wrong (a
    stat of it changed, as after a pull), it names it on every run, never remembering the
    directory as matching its pointer: the bare `dvx commit` status names writes it again."""
    write(repo / "d" / "a", "1\n")
    write(repo / "d" / "sub" / "b", "22\n")
    assert dvx("add", "d").code == 0
    _set_in_pointer(repo / "d.dvx", "nfiles", 7)
    os.utime(repo / "d" / "a", ns=(1, 1))  # the next status lists the directory

    for _ in range(2):
        shown = dvx("status").stdout
        assert "d: its pointer records 7 files, where the data it names has 2\n" in shown, shown
    assert dvx("commit").code == 0
    assert "nfiles: 2\n" in (repo / "d.dvx").read_text()
    assert dvx("fsck").code == 0
    assert dvx("status").stdout == "Data and pointers are up to date.\n"


def test_a_directory_pointer_with_wrong_nfiles_whose_data_is_not_here_leaves_a_bare_commit_alone(
        repo, dvx):
    """A directory pointer whose `nfiles` is wrong is written again by a bare `dvx commit`
    only while the workspace holds the data it names: with the folder deleted, the bare
    commit records the other outputs' changes and leaves that pointer as it is, and status
    offers no `dvx commit d` alone, which would only fail."""
    write(repo / "d" / "a", "1\n")
    write(repo / "d" / "b", "22\n")
    write(repo / "g", "old\n")
    assert dvx("add", "d", "g").code == 0
    _set_in_pointer(repo / "d.dvx", "nfiles", 7)
    shutil.rmtree(repo / "d")
    write(repo / "g", "new\n")

    shown = dvx("status")
    assert "(`dvx commit d` writes" not in shown.stdout, shown.stdout
    committed = dvx("commit")
    assert committed.code == 0, committed.output
    assert hash_file(str(repo / "g"))[0] in (repo / "g.dvx").read_text()
    assert "nfiles: 7\n" in (repo / "d.dvx").read_text()
    assert not (repo / "d").exists()


def test_data_and_pointer_changed_here_name_a_pull_when_the_pointer_s_version_is_not_cached(
        repo, dvx, tmp_path):
    """In a clone that pulled only v2, the pointer checked out back to v1 (no hook runs) and
    the data edited: the cache lacks v1, so status names `dvx pull --force data.txt`, which
    fetches it (with the remote to set first when no default is set), never a `dvx checkout
    --force` that places nothing; the typed hint takes the pointer's version."""
    assert dvx("remote", "add", "-d", "store", str(tmp_path / "store")).code == 0
    for version in ("v1\n", "v2\n"):
        write(repo / "data.txt", version)
        assert dvx("add", "data.txt").code == 0
        git(repo, "add", "-A")
        git(repo, "commit", "-qm", version)
        assert dvx("push").code == 0
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(repo), str(clone))
    assert dvx("pull", cwd=clone).code == 0
    git(clone, "checkout", "HEAD~1", "--", "data.txt.dvx")
    write(clone / "data.txt", "mine\n")

    shown = dvx("status", cwd=clone).stdout
    assert "(data and pointer both changed here: `dvx commit --force PATH` keeps the data, " \
        "`dvx pull --force data.txt` takes the pointer's, fetching it)" in shown, shown
    assert "checkout --force" not in shown, shown
    assert dvx("remote", "default", "--unset", cwd=clone).code == 0
    unset = " ".join(dvx("status", cwd=clone).stdout.split())
    assert "`dvx pull --force data.txt` takes the pointer's once a default remote is set " \
        "(`dvx remote add -d NAME URL`): the cache lacks it)" in unset, unset
    assert dvx("remote", "default", "store", cwd=clone).code == 0

    assert dvx("pull", "--force", "data.txt", cwd=clone).code == 0
    assert (clone / "data.txt").read_text() == "v1\n"
    assert "data.txt" not in dvx("status", cwd=clone).stdout


def test_edited_stage_outputs_are_put_back_by_a_checkout_naming_them_that_keeps_other_edits(
        repo, dvx):
    """Two outputs of a stage edited by hand, both cached, beside an edit of data tracked
    with `dvx add`: status names the checkout of those two outputs, never a bare `dvx
    checkout --force` that would discard the other edit too; typed, it puts back what
    dvx.lock records and keeps that edit."""
    write(repo / "in.txt", "v\n")
    write(repo / "data.txt", "d1\n")
    assert dvx("add", "data.txt").code == 0
    write(repo / "dvx.yaml", "stages:\n  s:\n    cmd: cp in.txt a.txt; cp in.txt b.txt\n"
                             "    deps: [in.txt]\n    outs: [a.txt, b.txt]\n")
    assert dvx("repro").code == 0
    for name in ("a.txt", "b.txt", "data.txt"):
        (repo / name).unlink()
        write(repo / name, "mine\n")

    shown = dvx("status").stdout
    assert "`dvx checkout --force a.txt b.txt` puts back what dvx.lock records)" in shown, shown
    assert "`dvx checkout --force` puts back" not in shown, shown
    assert dvx("checkout", "--force", "a.txt", "b.txt").code == 0
    assert [(repo / name).read_text() for name in ("a.txt", "b.txt", "data.txt")] == \
        ["v\n", "v\n", "mine\n"]


def test_data_changed_beside_an_edited_stage_output_is_committed_or_discarded_by_name(
        repo, dvx):
    """Data tracked with `dvx add` and a stage's output both edited: status names the data
    in the commit and the checkout it offers for it, never a bare `dvx commit` that would
    record the stage output as its stage's result, nor a bare `dvx checkout --force` that
    would discard that edit; typed, the commit records the data alone."""
    write(repo / "in.txt", "v\n")
    write(repo / "data.txt", "d1\n")
    assert dvx("add", "data.txt").code == 0
    write(repo / "dvx.yaml", "stages:\n  s:\n    cmd: cp in.txt a.txt\n"
                             "    deps: [in.txt]\n    outs: [a.txt]\n")
    assert dvx("repro").code == 0
    for name in ("a.txt", "data.txt"):
        (repo / name).unlink()
        write(repo / name, "mine\n")

    shown = dvx("status").stdout
    assert "(`dvx commit data.txt` records changes; `dvx checkout --force data.txt` discards " \
        "them)" in shown, shown
    assert "`dvx commit` records" not in shown and "`dvx checkout --force` " not in shown, shown
    assert dvx("commit", "data.txt").code == 0
    after = dvx("status").stdout
    assert "data.txt" not in after and "a.txt: modified" in after, after


def test_a_stage_reading_a_folder_holding_only_a_shared_dvxignore_names_it_as_not_pulled(
        tmp_path):
    """In a fresh clone, a tracked folder a stage reads holds only the .dvxignore Git shares:
    its data is not pulled yet, and the stage's status says so as of a folder absent whole
    (missing deps), never that its dependency changed; `repro` refuses, naming `dvx pull`."""
    from tests.team import Team, must, share

    team = Team(tmp_path)
    alice = team.founder()
    write(alice / "d" / "a", "a\n")
    write(alice / "d" / ".dvxignore", "*.tmp\n")
    must("add", "d", cwd=alice)
    must("stage", "add", "-n", "s", "-d", "d", "-o", "out.txt", "cat d/a > out.txt", cwd=alice)
    must("repro", cwd=alice)
    git(alice, "add", "-A")
    git(alice, "add", "-f", "d/.dvxignore")
    share(alice, "d and a stage reading it")
    bob = team.clone("bob", pull=False)
    assert sorted(p.name for p in (bob / "d").iterdir()) == [".dvxignore"]

    said = " ".join(run_dvx("status", cwd=bob).output.split())
    assert "d: not pulled yet" in said and "s: missing deps: d; missing outs: out.txt" in said, \
        said
    assert "changed deps" not in said, said
    stages = json.loads(run_dvx("status", "--json", cwd=bob).stdout)["stages"]
    assert [s["reasons"] for s in stages] == [["missing deps: d", "missing outs: out.txt"]], \
        stages
    refused = run_dvx("repro", cwd=bob)
    assert refused.code != 0 and "Run `dvx pull d`" in refused.output, refused.output
    assert not (bob / "out.txt").exists()
    must("pull", cwd=bob)
    assert run_dvx("status", "-q", cwd=bob).code == 0


def test_a_stage_reading_a_folder_inside_a_tracked_folder_not_pulled_names_it_as_not_pulled(
        tmp_path):
    """In a fresh clone, a stage reads a folder inside a tracked folder, holding only the
    .dvxignore Git shares: that part of the data is not pulled yet, as the tracked folder is,
    and the stage is stale for a missing dependency, never a changed one, whether the cache
    holds the folder's manifest or not; `repro` refuses, naming the command that places it."""
    from tests.team import Team, must, share

    team = Team(tmp_path)
    alice = team.founder()
    write(alice / "d" / "sub" / "a", "a\n")
    write(alice / "d" / "sub" / ".dvxignore", "*.tmp\n")
    write(alice / "d" / "b", "b\n")
    must("add", "d", cwd=alice)
    must("stage", "add", "-n", "s", "-d", "d/sub", "-o", "out.txt", "cat d/sub/a > out.txt",
         cwd=alice)
    must("repro", cwd=alice)
    git(alice, "add", "-A")
    git(alice, "add", "-f", "d/sub/.dvxignore")
    share(alice, "d and a stage reading a folder of it")
    bob = team.clone("bob", pull=False)
    assert sorted(p.name for p in (bob / "d" / "sub").iterdir()) == [".dvxignore"]

    for fetched in (False, True):
        if fetched:
            must("fetch", cwd=bob)
        said = " ".join(run_dvx("status", cwd=bob).output.split())
        assert "s: missing deps: d/sub; missing outs: out.txt" in said, (fetched, said)
        assert "changed deps" not in said, (fetched, said)
        refused = run_dvx("repro", cwd=bob)
        way_out = "Run `dvx checkout d`" if fetched else "Run `dvx pull d`"
        assert refused.code != 0 and way_out in refused.output, refused.output
        assert not (bob / "out.txt").exists()
    must("pull", cwd=bob)
    assert run_dvx("status", "-q", cwd=bob).code == 0


def test_a_stage_reading_a_folder_inside_a_tracked_folder_whose_manifest_is_invalid_is_judged(
        tmp_path):
    """A stage reads a folder inside a tracked folder not pulled yet whose manifest in the
    cache is damaged: status still judges the stage (the data status names the manifest),
    never failing whole on it."""
    from tests.team import Team, must, share

    team = Team(tmp_path)
    alice = team.founder()
    write(alice / "d" / "sub" / "a", "a\n")
    write(alice / "d" / "sub" / ".dvxignore", "*.tmp\n")
    must("add", "d", cwd=alice)
    must("stage", "add", "-n", "s", "-d", "d/sub", "-o", "out.txt", "cat d/sub/a > out.txt",
         cwd=alice)
    must("repro", cwd=alice)
    git(alice, "add", "-A")
    git(alice, "add", "-f", "d/sub/.dvxignore")
    share(alice, "d and a stage reading a folder of it")
    bob = team.clone("bob", pull=False)
    must("fetch", cwd=bob)
    oid = next(line.split()[-1] for line in (bob / "d.dvx").read_text().splitlines()
               if line.strip().startswith("oid:") or line.strip().startswith("- oid:"))
    manifest = next((bob / ".dvx" / "cache").rglob(oid[2:]))
    manifest.chmod(0o644)
    manifest.write_text("not a manifest\n")
    said = " ".join(run_dvx("status", cwd=bob).output.split())
    assert "s: changed deps: d/sub" in said and "Skipped d.dvx" in said, said
    assert "Traceback" not in said


def test_a_folder_inside_a_tracked_folder_stays_not_pulled_after_a_pull_of_another_part(
        tmp_path):
    """`dvx pull d/other` places nothing of d/sub, which holds only the .dvxignore Git shares:
    a stage reading d/sub is stale for a missing dependency still, never a changed one, until
    a pull places that part too."""
    from tests.team import Team, must, share

    team = Team(tmp_path)
    alice = team.founder()
    write(alice / "d" / "sub" / "a", "a\n")
    write(alice / "d" / "sub" / ".dvxignore", "*.tmp\n")
    write(alice / "d" / "other" / "c", "c\n")
    must("add", "d", cwd=alice)
    must("stage", "add", "-n", "s", "-d", "d/sub", "-o", "out.txt", "cat d/sub/a > out.txt",
         cwd=alice)
    must("repro", cwd=alice)
    git(alice, "add", "-A")
    git(alice, "add", "-f", "d/sub/.dvxignore")
    share(alice, "d and a stage reading a folder of it")
    bob = team.clone("bob", pull=False)
    must("pull", "d/other", cwd=bob)
    assert (bob / "d" / "other" / "c").is_file()
    assert sorted(p.name for p in (bob / "d" / "sub").iterdir()) == [".dvxignore"]

    said = " ".join(run_dvx("status", cwd=bob).output.split())
    assert "s: missing deps: d/sub; missing outs: out.txt" in said, said
    assert "changed deps" not in said, said
    refused = run_dvx("repro", cwd=bob)
    assert refused.code != 0 and "Run `dvx pull d`" in refused.output, refused.output
    assert not (bob / "out.txt").exists()
    must("pull", "d/sub", "out.txt", cwd=bob)
    assert run_dvx("status", "-q", cwd=bob).code == 0


def test_a_pointer_file_that_is_a_fifo_is_skipped_and_named_never_waited_on(repo, dvx):
    """Status reports the rest, and names the pointer file as no regular file at the end."""
    write(repo / "a.bin", "a")
    write(repo / "b.bin", "b")
    assert dvx("add", "a.bin", "b.bin").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "data")
    (repo / "b.bin.dvx").unlink()
    os.mkfifo(repo / "b.bin.dvx")
    result = run_dvx_proc("status", cwd=repo, timeout=60)  # a regression fails, never hangs
    assert result.code == 1, result.output
    assert "Cannot read the pointer file 'b.bin.dvx': not a regular file (a FIFO, socket or " \
           "device)." in result.stderr
