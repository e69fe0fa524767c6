import errno
import json
import os
import re
import shutil
import subprocess

import pytest

from tests.conftest import dvx_unprivileged, git, pointer_changed_on_feat, write


def test_remove_keeps_data_and_unignores(repo, dvx):
    write(repo / "data" / "f", "x")
    dvx("add", "data/f")
    result = dvx("remove", "data/f.dvx")
    assert result.code == 0, result.output
    assert not (repo / "data" / "f.dvx").exists()
    assert (repo / "data" / "f").read_text() == "x"
    assert not (repo / "data" / ".gitignore").exists()
    assert "data/f" in git(repo, "status", "--porcelain", "--untracked-files=all")


def test_remove_says_the_data_it_keeps_is_no_longer_ignored_by_git(repo, dvx):
    """The data `dvx remove` keeps is what `git add -A` would commit into Git once its
    .gitignore entry is gone: remove says so, naming it, unless Git still ignores it by a
    rule of its own, or the data was deleted (--outs)."""
    write(repo / "d" / "g", "g1")
    write(repo / "logs" / "run.log", "log")
    write(repo / "gone", "gone")
    write(repo / ".gitignore", "*.log\n")
    dvx("add", "d", "logs/run.log", "gone")
    result = dvx("remove", "d.dvx", "logs/run.log.dvx")
    assert result.code == 0, result.output
    assert "Git no longer ignores it (d): `git add -A` would commit its files into Git" \
        in result.stderr and "run.log" not in result.stderr, result.stderr
    assert "a teammate's `git pull` of that commit overwrites" in result.stderr
    assert json.loads(dvx("remove", "--outs", "--json", "gone.dvx").stdout)["unignored"] == []


def test_a_gitignore_that_is_not_utf8_keeps_its_bytes_through_add_move_and_remove(repo, dvx):
    write(repo / "data.csv", "d")
    write(repo / "old.csv", "o")
    assert dvx("add", "data.csv", "old.csv").code == 0
    mine = b"/caf\xe9.txt\n"  # a Latin-1 name in a rule of the user's
    write(repo / ".gitignore", (repo / ".gitignore").read_bytes() + mine)
    write(repo / "other.csv", "e")
    for args in (("add", "other.csv"), ("move", "data.csv", "data2.csv"),
                 ("remove", "old.csv")):
        done = dvx(*args)
        assert done.code == 0, done.output
    assert (repo / ".gitignore").read_bytes() == b"/caf\xe9.txt\n/other.csv\n/data2.csv\n"
    assert not (repo / "old.csv.dvx").exists() and (repo / "old.csv").read_text() == "o"
    assert dvx("status", "-q").code == 0


@pytest.mark.parametrize("link", ["hardlink", "symlink"])
def test_removed_data_is_the_user_s_own_copy_in_link_modes(repo, dvx, link):
    dvx("config", "cache.type", link)
    write(repo / "notes.txt", "precious\n")
    write(repo / "d" / "a", "a\n")
    dvx("add", "notes.txt", "d")
    assert os.path.islink(repo / "notes.txt") or os.stat(repo / "notes.txt").st_nlink == 2
    assert dvx("remove", "notes.txt.dvx", "d.dvx").code == 0
    for path in (repo / "notes.txt", repo / "d" / "a"):
        assert not path.is_symlink() and os.stat(path).st_nlink == 1
        assert os.access(path, os.W_OK)
    with open(repo / "notes.txt", "a") as f:
        f.write("my edit\n")  # an ordinary file now: the cache never sees this
    assert "0 corrupt" in dvx("fsck").stdout
    assert dvx("gc", "-w", "-f", "--grace", "0").code == 0
    assert (repo / "notes.txt").read_text() == "precious\nmy edit\n"
    assert (repo / "d" / "a").read_text() == "a\n"


def reach_cache_through_a_link(repo, dvx, tmp_path, how):
    """Put the cache on 'another disk' reached through a symbolic link: `.dvx/cache` itself
    a link, or cache.dir set to a path through a linked directory."""
    disk = tmp_path / "bigdisk"
    (disk / "cache").mkdir(parents=True)
    if how == "cache-is-a-link":
        shutil.rmtree(repo / ".dvx" / "cache")  # holds its own .gitignore
        os.symlink(disk / "cache", repo / ".dvx" / "cache")
    else:
        os.symlink(disk, tmp_path / "shared")
        assert dvx("config", "--local", "cache.dir", str(tmp_path / "shared" / "cache")).code == 0
    assert dvx("config", "cache.type", "symlink").code == 0


@pytest.mark.parametrize("how", ["cache-is-a-link", "cache-dir-through-a-link"])
def test_dvx_knows_its_links_into_a_cache_reached_through_a_link(repo, dvx, tmp_path, how):
    reach_cache_through_a_link(repo, dvx, tmp_path, how)
    write(repo / "d" / "x", "x\n")
    write(repo / "f", "precious\n")
    write(repo / "g", "g\n")
    assert dvx("add", "d", "f", "g").code == 0
    assert os.path.islink(repo / "f")
    write(repo / "d" / "y", "y\n")
    added = dvx("add", "d")
    assert added.code == 0, added.output
    write(repo / "d" / "z", "z\n")
    committed = dvx("commit")
    assert committed.code == 0, committed.output
    unprotected = dvx("unprotect", "g")
    assert unprotected.code == 0, unprotected.output
    assert not os.path.islink(repo / "g") and os.access(repo / "g", os.W_OK)
    assert dvx("remove", "f.dvx").code == 0
    assert not os.path.islink(repo / "f") and os.access(repo / "f", os.W_OK)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "f untracked")
    assert dvx("gc", "-w", "-f", "--grace", "0").code == 0
    assert (repo / "f").read_text() == "precious\n"


def test_remove_and_unprotect_in_a_moved_repository_give_copies_from_its_cache(
        repo, dvx, tmp_path, monkeypatch):
    assert dvx("config", "cache.type", "symlink").code == 0
    write(repo / "f", "precious\n")
    write(repo / "g", "g\n")
    write(repo / "d" / "a", "a\n")
    assert dvx("add", "f", "g", "d").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "v1")
    moved = tmp_path / "moved"
    os.rename(repo, moved)
    monkeypatch.chdir(moved)
    assert str(repo) in os.readlink(moved / "f")  # a link into the cache where it was
    assert dvx("unprotect", "g").code == 0
    assert dvx("remove", "f.dvx", "d.dvx").code == 0
    for path in (moved / "f", moved / "g", moved / "d" / "a"):
        assert not path.is_symlink() and os.access(path, os.W_OK)
    git(moved, "add", "-A")
    git(moved, "commit", "-qm", "f and d untracked")
    assert dvx("gc", "-w", "-f", "--grace", "0").code == 0
    assert (moved / "f").read_text() == "precious\n"
    assert (moved / "d" / "a").read_text() == "a\n"


def test_remove_refuses_a_moved_repository_s_link_whose_object_this_cache_lacks(
        repo, dvx, tmp_path, monkeypatch):
    assert dvx("config", "cache.type", "symlink").code == 0
    write(repo / "f", "precious\n")
    assert dvx("add", "f").code == 0
    moved = tmp_path / "moved"
    os.rename(repo, moved)
    monkeypatch.chdir(moved)
    link = os.readlink(moved / "f")
    os.unlink(moved / ".dvx" / "cache" / os.path.relpath(link, repo / ".dvx" / "cache"))
    for verb in ("remove", "unprotect"):
        refused = dvx(verb, "f.dvx" if verb == "remove" else "f")
        assert refused.code == 2 and "this repository's cache lacks" in refused.stderr, \
            refused.output
        assert "dvx pull" in refused.stderr and "Stopped tracking" not in refused.stdout
    assert (moved / "f.dvx").exists() and os.readlink(moved / "f") == link


def test_remove_refuses_links_whose_objects_the_cache_lost_until_a_pull_brings_them(
        repo, dvx, tmp_path):
    """cache.type symlink, the objects gone from the cache (another project's gc of a shared
    cache), the remote holding them: `dvx remove` would leave links to nothing as the data
    it says stays, so it refuses before changing anything, naming the `dvx pull` that brings
    the data back; pasted, the remove leaves each file a copy of its own."""
    assert dvx("remote", "add", "-d", "store", str(tmp_path / "store")).code == 0
    assert dvx("config", "cache.type", "symlink").code == 0
    write(repo / "f.txt", "f\n")
    write(repo / "d" / "a", "a\n")
    assert dvx("add", "f.txt", "d").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "v1")
    assert dvx("push").code == 0
    files = repo / ".dvx" / "cache" / "files"
    for folder, _, _ in os.walk(files):
        os.chmod(folder, 0o755)
    shutil.rmtree(files)
    before = {p: os.readlink(repo / p) for p in ("f.txt", "d/a")}
    refused = dvx("remove", "f.txt.dvx", "d.dvx")
    said = " ".join(refused.stderr.split())
    assert refused.code == 2 and "Stopped tracking" not in refused.stdout, refused.output
    assert ("'f.txt', 'd/a' are symbolic links into the cache, which no longer has their "
            "objects" in said and "Nothing was changed" in said), said
    assert (repo / "f.txt.dvx").exists() and (repo / "d.dvx").exists()
    assert {p: os.readlink(repo / p) for p in before} == before
    assert git(repo, "status", "--porcelain") == ""
    pull = re.search(r"`(dvx pull [^`]*)`", said)
    assert pull is not None and pull.group(1) == "dvx pull f.txt d", said
    assert dvx(*pull.group(1).split()[1:]).code == 0  # pasted
    assert dvx("remove", "f.txt.dvx", "d.dvx").code == 0
    for path, text in (("f.txt", "f\n"), ("d/a", "a\n")):
        assert not (repo / path).is_symlink() and (repo / path).read_text() == text


def test_remove_outs_deletes_only_recoverable_data(repo, dvx):
    write(repo / "d" / "a", "a")
    dvx("add", "d")
    write(repo / "d" / "a", "unsaved")
    refused = dvx("remove", "--outs", "d.dvx")
    assert refused.code != 0 and "not in the cache" in refused.stderr
    assert (repo / "d.dvx").exists() and (repo / "d" / "a").read_text() == "unsaved"
    dvx("checkout", "--force")
    assert dvx("remove", "--outs", "d.dvx").code == 0
    assert not (repo / "d").exists() and not (repo / "d.dvx").exists()


def test_remove_outs_deletes_outdated_data_whose_bytes_the_cache_holds(repo, dvx):
    """A pointer Git moved back (here a checkout of the commit before; for a teammate's, a
    `git pull`), its data not checked out: the workspace holds the version dvx placed, no
    change made here, so `--outs` deletes it while the cache has its bytes, and says what
    is true when it does not."""
    write(repo / "x", "v1\n")
    write(repo / "d" / "a", "a1\n")
    write(repo / "d" / "b", "b\n")
    write(repo / "y", "y1\n")
    assert dvx("add", "x", "d", "y").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "v1")
    write(repo / "x", "v2\n")
    write(repo / "d" / "a", "a2\n")
    write(repo / "y", "y2\n")
    assert dvx("add", "x", "d", "y").code == 0
    git(repo, "commit", "-qam", "v2")
    git(repo, "checkout", "-q", "HEAD~1")  # no hook: the workspace keeps v2
    assert "data not checked out" in dvx("status").stdout
    removed = dvx("remove", "--outs", "x.dvx", "d.dvx")
    assert removed.code == 0, removed.output
    assert not (repo / "x").exists() and not (repo / "d").exists()
    for held in (repo / ".dvx" / "cache").rglob("*"):
        if held.is_file() and held.read_bytes() == b"y2\n":
            held.chmod(0o600)
            held.unlink()  # the cache lost the version the workspace holds
    refused = dvx("remove", "--outs", "y.dvx")
    assert refused.code != 0 and "has changes" not in refused.stderr, refused.output
    assert "'y' holds data dvx placed before its pointer moved in Git, and the cache no " \
        "longer has all of it" in refused.stderr
    assert (repo / "y").read_text() == "y2\n" and (repo / "y.dvx").exists()


def test_remove_outs_keeps_the_files_dvxignore_keeps_out_of_the_directory(repo, dvx):
    write(repo / ".dvxignore", "*.tmp\n")
    write(repo / "data" / "images" / "1.png", "img1")
    write(repo / "data" / "images" / "sub" / "2.png", "img2")
    assert dvx("add", "data/images").code == 0
    write(repo / "data" / "images" / "notes.tmp", "my notes, never tracked")
    assert dvx("status", "-q").code == 0  # ignored: not a change of the data
    removed = dvx("remove", "--outs", "data/images.dvx")
    assert removed.code == 0, removed.output
    assert "Kept 1 file dvx does not track" in removed.stderr
    assert "data/images/notes.tmp" in removed.stderr
    assert (repo / "data" / "images" / "notes.tmp").read_text() == "my notes, never tracked"
    assert sorted(p.name for p in (repo / "data" / "images").iterdir()) == ["notes.tmp"]
    assert not (repo / "data" / "images.dvx").exists()
    # forced, and for a removal finished after it stopped half-way, the same holds
    write(repo / "logs" / "a.log", "a")
    assert dvx("add", "logs").code == 0
    write(repo / "logs" / "a.log", "unsaved")
    write(repo / "logs" / "run.tmp", "scratch")
    forced = dvx("remove", "--outs", "--force", "logs", "--json")
    assert forced.code == 0, forced.output
    assert json.loads(forced.stdout)["kept"] == ["logs/run.tmp"]
    assert [p.name for p in (repo / "logs").iterdir()] == ["run.tmp"]


def _data_with_code_git_tracks(repo, dvx):
    """`data` tracked by dvx and committed; then `data/code.py` put in Git (`git add -f`) and
    committed, and edited since (not committed)."""
    write(repo / "data" / "f1", "1\n")
    assert dvx("add", "data").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "data")
    write(repo / "data" / "code.py", "print(1)\n")
    git(repo, "add", "-f", "data/code.py")
    git(repo, "commit", "-qm", "code in data/")
    write(repo / "data" / "code.py", "print(1)\nprint(2)  # my uncommitted edit\n")


@pytest.mark.parametrize("force", [False, True], ids=["plain", "forced"])
def test_remove_outs_keeps_and_names_the_files_git_tracks_in_the_directory(repo, dvx, force):
    """A file Git's index holds inside tracked data is Git's, never the data's: `remove
    --outs` (--force or not) deletes the data around it, keeps it with the user's edit, and
    names it; that file alone is no change refusing the delete, nor one --force is for."""
    _data_with_code_git_tracks(repo, dvx)
    removed = dvx("remove", "--outs", *(["--force"] if force else []), "data.dvx")
    assert removed.code == 0, removed.output
    assert "--force" not in removed.output
    assert "Kept 1 file Git tracks" in removed.stderr and "data/code.py" in removed.stderr
    assert sorted(os.listdir(repo / "data")) == ["code.py"]
    assert (repo / "data" / "code.py").read_text() == \
        "print(1)\nprint(2)  # my uncommitted edit\n"
    assert " D data/code.py" not in git(repo, "status", "--porcelain")
    assert " M data/code.py" in git(repo, "status", "--porcelain")


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_remove_outs_of_a_file_git_tracks_says_it_kept_it(repo, dvx, as_json):
    """A tracked file Git's index holds too (`git add -f`) is Git's: `remove --outs` keeps
    it, and says so, never that it deleted it; its `--json` says no data was deleted."""
    write(repo / "f.csv", "x\n")
    assert dvx("add", "f.csv").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "f")
    git(repo, "add", "-f", "f.csv")
    git(repo, "commit", "-qm", "f in Git")
    removed = dvx("remove", "--outs", *(["--json"] if as_json else []), "f.csv.dvx")
    assert removed.code == 0, removed.output
    assert (repo / "f.csv").read_text() == "x\n"
    if as_json:
        doc = json.loads(removed.stdout)
        assert (doc["deleted_data"], doc["kept_in_git"]) == (False, ["f.csv"]), doc
    else:
        assert "Stopped tracking f.csv and kept it (Git tracks it)" in removed.stdout
        assert "deleted" not in removed.output, removed.output


@pytest.mark.parametrize("link", ["hardlink", "symlink"])
def test_remove_outs_leaves_git_s_files_in_the_data_copies_of_their_own(repo, dvx, link):
    """A file Git's index holds in tracked data, which `remove --outs` keeps, is left no link
    into the cache: an edit of it never changes the cache's object (nor other data sharing
    it), and it stays whole when gc takes the object. The line naming the data says its data
    went, never that all of it did."""
    assert dvx("config", "cache.type", link).code == 0
    write(repo / "d" / "a", "shared\n")
    write(repo / "d" / "b", "b\n")
    write(repo / "other" / "x", "shared\n")
    assert dvx("add", "d", "other").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "data")
    git(repo, "add", "-f", "d/a")
    git(repo, "commit", "-qm", "d/a in Git too")
    removed = dvx("remove", "--outs", "d.dvx")
    assert removed.code == 0, removed.output
    assert "Stopped tracking d and deleted its data, keeping the files Git tracks in it" \
        in removed.stdout, removed.output
    kept = repo / "d" / "a"
    assert not kept.is_symlink() and kept.stat().st_nlink == 1
    assert sorted(os.listdir(repo / "d")) == ["a"]
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "d no longer dvx's")
    kept.chmod(0o644)
    write(kept, "Git's file, edited\n")
    assert (repo / "other" / "x").read_text() == "shared\n"
    assert dvx("fsck").code == 0
    assert dvx("gc", "-w", "-f").code == 0
    assert kept.read_text() == "Git's file, edited\n"


def test_remove_outs_refusing_changed_data_beside_git_s_file_names_only_the_data(repo, dvx):
    _data_with_code_git_tracks(repo, dvx)
    write(repo / "data" / "f1", "unsaved\n")
    refused = dvx("remove", "--outs", "--json", "data.dvx")
    assert refused.code != 0 and "has changes that are not in the cache" in refused.stderr
    forced = dvx("remove", "--outs", "--force", "--json", "data.dvx")
    assert forced.code == 0, forced.output
    assert json.loads(forced.stdout)["kept_in_git"] == ["data/code.py"]
    assert sorted(os.listdir(repo / "data")) == ["code.py"]


@pytest.mark.parametrize("change", ["edited-file", "folder-made-a-file"])
def test_remove_outs_refuses_a_change_status_names_by_no_file(repo, dvx, change):
    """An edited file, or a tracked folder replaced by a file, is a change of the data that
    status lists by no file of a folder: with no file Git's index holds there, `remove
    --outs` refuses it as any unsaved change, and the edit stays."""
    if change == "edited-file":
        write(repo / "data.csv", "v1\n")
    else:
        write(repo / "data.csv" / "part", "v1\n")
    assert dvx("add", "data.csv").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "data")
    if change == "folder-made-a-file":
        shutil.rmtree(repo / "data.csv")
    write(repo / "data.csv", "my unsaved edit\n")
    refused = dvx("remove", "--outs", "data.csv.dvx")
    assert refused.code != 0 and "has changes that are not in the cache" in refused.stderr, \
        refused.output
    assert (repo / "data.csv").read_text() == "my unsaved edit\n"
    assert (repo / "data.csv.dvx").exists()


def test_remove_of_a_path_never_tracked_changes_nothing_whatever_gitignore_says(repo, dvx):
    write(repo / ".gitignore", "/build\n")  # the user's own rule
    write(repo / "build" / "out.bin", "precious, never tracked\n")
    write(repo / "data" / "sub" / "a", "1\n")
    assert dvx("add", "data").code == 0
    write(repo / "data" / ".gitignore", "/sub\n")  # inside tracked data, the user's too
    for args in (("build",), ("--outs", "build"), ("--outs", "--force", "build"),
                 ("--outs", "--force", "build.dvx")):
        refused = dvx("remove", *args)
        assert refused.code == 2 and "is not tracked by dvx" in refused.stderr
    refused = dvx("remove", "--outs", "--force", "data/sub")
    assert refused.code == 2 and "not on files inside them" in refused.stderr
    assert (repo / ".gitignore").read_text() == "/build\n/data\n"
    assert (repo / "build" / "out.bin").read_text() == "precious, never tracked\n"
    assert (repo / "data" / ".gitignore").read_text() == "/sub\n"
    assert (repo / "data" / "sub" / "a").read_text() == "1\n"


def test_remove_outs_of_the_data_around_the_current_directory_finishes(repo, dvx, dvx_proc):
    write(repo / "data" / "sub" / "a", "1\n")
    assert dvx("add", "data").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "v1")
    removed = dvx_proc("remove", "--outs", "../../data", cwd=repo / "data" / "sub")
    assert removed.code == 0, removed.output
    hint = f"git -C {repo} add data.dvx .gitignore"  # the current directory is gone
    assert removed.stdout.splitlines()[-1].strip() == hint
    assert not (repo / "data").exists() and not (repo / "data.dvx").exists()
    subprocess.run(hint, shell=True, check=True, cwd="/")
    assert git(repo, "status", "--porcelain") == "D  .gitignore\nD  data.dvx\n"


def test_add_run_from_inside_the_git_directory_names_a_git_add_that_runs(repo, dvx_proc):
    """Git runs no `git add` inside .git ("must be run in a work tree"): the hint runs it at
    the top, as from a deleted folder."""
    write(repo / "x", "1\n")
    added = dvx_proc("add", "../../x", cwd=repo / ".git" / "hooks")
    assert added.code == 0, added.output
    hint = f"git -C {repo} add x.dvx .gitignore"
    assert added.stdout.splitlines()[-1].strip() == hint
    subprocess.run(hint, shell=True, check=True, cwd=repo / ".git" / "hooks")
    assert git(repo, "diff", "--cached", "--name-only") == ".gitignore\nx.dvx\n"


def test_commands_run_inside_the_git_directory_are_refused_naming_the_work_tree(
        repo, dvx, dvx_proc):
    """Git runs no work-tree command inside .git ("must be run in a work tree"): nor does
    dvx, which would work on the project around it from there, reading or writing; the
    error names the work tree to run it in. Git's hooks run at the top, GIT_DIR set: they
    work as ever."""
    write(repo / "x", "1\n")
    assert dvx("add", "x").code == 0
    (repo / "x").unlink()  # what a checkout or pull would restore
    top = os.path.realpath(repo)
    for cwd in (repo / ".git", repo / ".git" / "hooks"):
        for args in (["status"], ["diff"], ["params", "show"], ["metrics", "show"],
                     ["checkout"], ["pull"], ["gc", "-w", "-f"], ["commit", "-f"]):
            refused = dvx_proc(*args, cwd=cwd)
            assert refused.code == 2, (cwd, args, refused.output)
            named = " ".join(arg for arg in args if not arg.startswith("-"))
            assert f"`dvx {named}` was run in '{os.path.realpath(cwd)}'" in refused.stderr
            assert "Traceback" not in refused.stderr
            assert f"Run it in the work tree: `cd {top}` first." in refused.stderr
    assert not (repo / "x").exists()
    assert "x: deleted" in dvx_proc("status", cwd=repo, env={"GIT_DIR": str(repo / ".git")}).stdout
    assert dvx_proc("checkout", cwd=repo, env={"GIT_DIR": ".git"}).code == 0
    assert (repo / "x").read_text() == "1\n"


def test_the_work_tree_named_from_the_git_directory_is_a_cd_that_runs_for_any_name(
        dvx_proc, tmp_path):
    """A project whose folder name holds a control character is named as `$'...'`, which
    the shell turns back into the very name, and which prints no raw control character."""
    top = tmp_path / "my\tproject"
    git(tmp_path, "init", "-q", "-b", "main", str(top))
    assert dvx_proc("init", cwd=top).code == 0
    refused = dvx_proc("status", cwd=top / ".git")
    assert refused.code == 2, refused.output
    hint = refused.stderr.split("Run it in the work tree: `", 1)[1].split("`", 1)[0]
    assert "\t" not in hint and hint.startswith("cd $'"), hint
    went = subprocess.run(["bash", "-c", f"{hint} && pwd -P"], capture_output=True, text=True,
                          check=True)
    assert went.stdout == os.path.realpath(top) + "\n"


def test_a_command_run_in_a_submodule_s_git_directory_names_the_submodule_s_work_tree(
        repo, dvx_proc, tmp_path):
    """From .git/modules/NAME, Git works on the submodule: dvx would work on the project
    around it, so it refuses, naming both work trees."""
    sub = tmp_path / "sub"
    git(sub.parent, "init", "-q", "-b", "main", str(sub))
    assert dvx_proc("init", cwd=sub).code == 0
    write(sub / "a.txt", "a\n")
    assert dvx_proc("add", "a.txt", cwd=sub).code == 0
    git(sub, "add", "-A")
    git(sub, "commit", "-qm", "sub")
    git(repo, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(sub), "libs/sub")
    modules = repo / ".git" / "modules" / "libs" / "sub"
    refused = dvx_proc("status", cwd=modules)
    assert refused.code == 2, refused.output
    checkout = os.path.realpath(repo / "libs" / "sub")
    assert f"the Git directory of the submodule '{checkout}'" in refused.stderr
    assert (f"`cd {checkout}` for the submodule, or `cd {os.path.realpath(repo)}` for the "
            "project around it") in refused.stderr
    there = dvx_proc("status", cwd=repo / "libs" / "sub")  # the submodule's own data
    assert "a.txt" in there.stdout, there.output


def test_a_command_run_in_a_linked_worktree_s_git_directory_names_that_worktree(
        repo, dvx_proc, tmp_path):
    """.git/worktrees/NAME is the Git directory of the linked worktree its `gitdir` file
    names: the error names that work tree first, then the main one."""
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "dvx")
    git(repo, "worktree", "add", "-q", str(tmp_path / "wt"), "-b", "side")
    checkout, top = os.path.realpath(tmp_path / "wt"), os.path.realpath(repo)
    for cwd in (repo / ".git" / "worktrees" / "wt", repo / ".git" / "worktrees" / "wt" / "logs"):
        refused = dvx_proc("status", cwd=cwd)
        assert refused.code == 2, refused.output
        assert f"the Git directory of the linked worktree '{checkout}'" in refused.stderr
        assert (f"`cd {checkout}` for the linked worktree, or `cd {top}` for the main one"
                ) in refused.stderr, refused.stderr
    assert dvx_proc("status", cwd=tmp_path / "wt").code == 0


def test_an_empty_path_is_refused_without_offering_a_path_the_command_refuses(repo, dvx):
    """`dvx add .` at the top is refused: the hint for an empty path never offers '.'."""
    for args in (["add", ""], ["move", "", "b"], ["checkout", ""], ["import-url", ""]):
        refused = dvx(*args)
        assert refused.code == 2, (args, refused.output)
        assert "An empty path was given" in refused.stderr and "'.'" not in refused.stderr


def test_move_moves_data_pointer_and_ignore_entries(repo, dvx):
    write(repo / "raw.csv", "a,b\n")
    write(repo / "d" / "x", "x")
    dvx("add", "raw.csv", "d")
    (repo / "archive").mkdir()
    assert dvx("move", "raw.csv", "data/train.csv").code == 0
    assert dvx("move", "d", "archive").code == 0
    assert (repo / "data" / "train.csv").read_text() == "a,b\n"
    assert (repo / "data" / "train.csv.dvx").exists() and not (repo / "raw.csv.dvx").exists()
    assert (repo / "data" / ".gitignore").read_text() == "/train.csv\n"
    assert (repo / "archive" / "d" / "x").read_text() == "x"
    assert (repo / "archive" / ".gitignore").read_text() == "/d\n"
    assert not (repo / ".gitignore").exists()
    assert dvx("status", "-q").code == 0


def test_move_puts_the_entry_after_a_rule_taking_the_data_back_into_git(repo, dvx):
    """The destination's .gitignore names the data already, and a teammate's `!` rule
    follows: the move writes the entry after the rule, as add does, and names the rule."""
    write(repo / "models" / ".gitignore", "/w.bin\n!*.bin\n")
    write(repo / "w.bin", "weights\n")
    assert dvx("add", "w.bin").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "tracked")
    moved = dvx("move", "w.bin", "models")
    assert moved.code == 0, moved.output
    assert "The rule '!*.bin' in models/.gitignore:2 took 'models/w.bin' back" in moved.stderr
    assert (repo / "models" / ".gitignore").read_text() == "!*.bin\n/w.bin\n"
    assert git(repo, "check-ignore", "models/w.bin").strip() == "models/w.bin"


def _hint(done) -> str:
    assert done.code == 0, done.output
    return done.stdout.split("To record this in Git, run:\n    ")[1].splitlines()[0]


def test_the_git_add_hint_after_move_and_remove_works_for_pointers_never_committed(repo, dvx):
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "init")
    write(repo / "a.txt", "a")
    write(repo / "z.txt", "z")
    write(repo / "old.txt", "o")
    dvx("add", "a.txt", "z.txt", "old.txt")
    git(repo, "add", "old.txt.dvx")  # only this pointer is in Git's index
    moved = _hint(dvx("move", "a.txt", "b.txt"))
    assert moved == "git add b.txt.dvx .gitignore"
    removed = _hint(dvx("remove", "z.txt"))
    assert removed == "git add .gitignore"
    renamed = _hint(dvx("move", "old.txt", "new.txt"))
    assert renamed == "git add new.txt.dvx .gitignore old.txt.dvx"
    for hint in (moved, removed, renamed):
        subprocess.run(hint, shell=True, check=True, cwd=repo)
    assert git(repo, "status", "--porcelain", "--untracked-files=no") == (
        "A  .gitignore\nA  b.txt.dvx\nA  new.txt.dvx\n")
    # the pointer and the .gitignore it made, both gone and never in Git: nothing to record
    write(repo / "sub" / "c.txt", "c")
    dvx("add", "sub/c.txt")
    last = dvx("remove", "sub/c.txt")
    assert last.code == 0 and not (repo / "sub" / ".gitignore").exists()
    assert "To record this in Git" not in last.stdout, last.output


def _pointers(repo):
    """The pointer files in the workspace, as Git would list them (`git add -A` takes each)."""
    return sorted(p.relative_to(repo).as_posix() for p in repo.rglob("*.dvx")
                  if p.is_file() and p.relative_to(repo).parts[0] not in (".dvx", ".git"))


def test_a_move_the_permissions_would_stop_half_way_is_refused_before_anything_is_written(
        repo, dvx):
    write(repo / "pd" / "f", "f\n")
    write(repo / "pd" / "sub" / "x", "x\n")
    assert dvx("add", "pd/f", "pd/sub").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "tracked")
    (repo / "out").mkdir()
    before = git(repo, "status", "--porcelain", "--ignored")
    for read_only, source, destination, named in (
            ("pd", "pd/f", "g", "'pd' may not be changed"),
            ("out", "pd/f", "out/new/g", "'out' may not be changed"),
            ("pd/sub", "pd/sub", "moved", "'pd/sub' may not be changed")):
        (repo / read_only).chmod(0o555)
        try:
            refused = dvx_unprivileged(repo, "move", source, destination)
        finally:
            (repo / read_only).chmod(0o755)
        assert refused.returncode == 2, refused.stderr
        assert refused.stderr.startswith(f"ERROR: {named} (Permission denied)")
        assert "Nothing was moved" in refused.stderr and "chmod u+w" in refused.stderr
        assert git(repo, "status", "--porcelain", "--ignored") == before, destination
        assert not (repo / "out" / "new").exists()
    assert dvx("move", "pd/f", "h").code == 0
    assert dvx("status", "-q").code == 0
    assert _pointers(repo) == ["h.dvx", "pd/sub.dvx"]


def test_a_move_that_fails_before_its_data_moves_takes_back_what_it_wrote(repo, dvx,
                                                                          monkeypatch):
    """A pointer at a place the data never reached would be data tracked twice, which a
    move to another name later leaves behind for `git add -A` to commit."""
    from dvx.ops import manage

    write(repo / "pd" / "f", "f\n")
    assert dvx("add", "pd/f").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "tracked")
    before = git(repo, "status", "--porcelain", "--ignored")
    rename = os.rename

    def across_disks(src, dst, *args, **kwargs):
        if os.fspath(src) == str(repo / "pd" / "f"):
            raise OSError(errno.EXDEV, "Invalid cross-device link", os.fspath(src))
        return rename(src, dst, *args, **kwargs)

    with monkeypatch.context() as patched:
        patched.setattr(manage.os, "rename", across_disks)
        failed = dvx("move", "pd/f", "new/deeper/g")
    assert failed.code == 1 and "Invalid cross-device link" in failed.stderr, failed.output
    assert git(repo, "status", "--porcelain", "--ignored") == before
    assert not (repo / "new").exists()
    assert "moving" not in json.loads((repo / ".dvx/tmp/synced.json").read_text())
    assert dvx("move", "pd/f", "h").code == 0
    assert (repo / "h").read_text() == "f\n" and dvx("status", "-q").code == 0
    assert _pointers(repo) == ["h.dvx"]


def test_a_move_whose_new_pointer_is_written_when_it_fails_takes_that_pointer_back(
        repo, dvx, monkeypatch):
    """The new pointer renamed into place, then an error before the data moves (the fsync of
    its folder): the pointer is taken back with the rest, never left naming data that did
    not move there."""
    from dvx import fsutil

    write(repo / "pd" / "f", "f\n")
    assert dvx("add", "pd/f").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "tracked")
    before = git(repo, "status", "--porcelain", "--ignored")
    fsync_dir = fsutil.fsync_dir

    def failing_once_the_pointer_is_there(directory):
        if (repo / "new" / "g.dvx").exists():
            raise OSError(errno.EIO, "Input/output error", directory)
        return fsync_dir(directory)

    with monkeypatch.context() as patched:
        patched.setattr(fsutil, "fsync_dir", failing_once_the_pointer_is_there)
        failed = dvx("move", "pd/f", "new/g")
    assert failed.code == 1 and "Input/output error" in failed.stderr, failed.output
    assert not (repo / "new").exists()
    assert git(repo, "status", "--porcelain", "--ignored") == before
    assert (repo / "pd" / "f").read_text() == "f\n" and dvx("status", "-q").code == 0


def test_a_move_whose_pointer_a_git_switch_changes_meanwhile_moves_nothing(repo, dvx):
    """A `git switch` (or `git pull`) that changes the pointer file while `dvx move` is about
    to write it at the new place: the move is refused, its pointer then the one of before,
    and nothing moves; the switch's pointer stays where it was, as its data does."""
    from tests.conftest import run_meanwhile

    feat = pointer_changed_on_feat(repo, {"x": "v1\n"}, "x", "feat\n")
    # the third replacing write: the new pointer's (after the lock's record and the move's mark)
    code, out, err = run_meanwhile("atomic_write.before_rename:3", "move x y", repo,
                                   lambda: git(repo, "switch", "-q", "feat"))
    assert code == 1, out + err
    assert "'x.dvx' changed while dvx move ran" in err and "moved nothing" in err, err
    assert "Traceback" not in err
    assert (repo / "x.dvx").read_bytes() == feat and (repo / "x").read_text() == "v1\n"
    assert not (repo / "y.dvx").exists() and not (repo / "y").exists()
    assert git(repo, "status", "--porcelain") == ""
    assert "moving" not in json.loads((repo / ".dvx/tmp/synced.json").read_text())

def test_a_git_switch_once_a_move_s_data_moved_leaves_the_pointer_it_brought(repo, dvx):
    """A `git switch` (or `git pull`) that changes the pointer file once `dvx move` moved the
    data, before it deletes that pointer: the pointer Git brought stays (with its .gitignore
    entry), the move says so and exits 1, the data and pointer of before at the new place;
    nothing is left half-done, and `dvx checkout` places the data the pointer brought."""
    from tests.conftest import run_meanwhile

    feat = pointer_changed_on_feat(repo, {"x": "v1\n"}, "x", "feat\n")
    v1 = (repo / "x.dvx").read_bytes()
    # the sync records' move, after the data's (the lock's record, the move's mark, the new
    # place's .gitignore entry and pointer before)
    code, out, err = run_meanwhile("atomic_write.before_rename:5", "move x y", repo,
                                   lambda: git(repo, "switch", "-q", "feat"))
    said = " ".join(err.split())
    assert code == 1, out + err
    assert "'x.dvx' changed while dvx move ran" in said and "once the data had moved" in said
    assert "`dvx checkout x`" in said and "Traceback" not in said, said
    assert (repo / "x.dvx").read_bytes() == feat
    assert (repo / "y").read_text() == "v1\n" and (repo / "y.dvx").read_bytes() == v1
    assert git(repo, "check-ignore", "x", "y").split() == ["x", "y"]
    status = dvx("status")
    assert "ended by an error" not in status.output, status.output
    assert "moving" not in json.loads((repo / ".dvx/tmp/synced.json").read_text())
    assert dvx("checkout", "x").code == 0
    assert (repo / "x").read_text() == "feat\n" and (repo / "y").read_text() == "v1\n"


def test_a_move_whose_pointer_a_git_switch_removes_meanwhile_says_nothing_is_left_to_move(
        repo, dvx):
    """A `git switch` that removes the pointer file while `dvx move` runs: the move is
    refused, and its hint does not say to run it again (which would find nothing tracked)."""
    from tests.conftest import run_meanwhile

    write(repo / "x", "v1\n")
    assert dvx("add", "x").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "x")
    git(repo, "switch", "-qc", "gone")
    assert dvx("remove", "x").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "x no longer tracked")
    git(repo, "switch", "-q", "main")
    code, out, err = run_meanwhile("atomic_write.before_rename:3", "move x y", repo,
                                   lambda: git(repo, "switch", "-q", "gone"))
    said = " ".join(err.split())
    assert code == 1, out + err
    assert "'x.dvx' was removed while dvx move ran" in said and "moved nothing" in said, said
    assert "Nothing is left to move" in said and "dvx move x y" not in said, said
    assert (repo / "x").read_text() == "v1\n" and not (repo / "y.dvx").exists()



@pytest.mark.parametrize("brought", ["sub/y.dvx", "sub/y"])
def test_a_move_to_where_a_git_switch_brings_a_file_meanwhile_moves_nothing(
        repo, dvx, brought):
    """A `git switch` (or `git pull`) that brings a pointer, or a file Git tracks, at the
    destination while `dvx move` runs: the move is refused before it writes its pointer
    there, and nothing moves; what the switch brought (with the .gitignore entry of its
    pointer) and the folder holding it stay as it brought them."""
    from tests.conftest import run_meanwhile

    write(repo / "x", "mine\n")
    assert dvx("add", "x").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "x")
    git(repo, "switch", "-qc", "feat")
    write(repo / "sub" / "y", "teammate's\n")
    if brought.endswith(".dvx"):
        assert dvx("add", "sub/y").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "teammate's sub/y")
    feat = (repo / brought).read_bytes()
    git(repo, "switch", "-q", "main")
    shutil.rmtree(repo / "sub", ignore_errors=True)  # the pointer's data, which Git leaves
    # the second replacing write: the .gitignore entry at the new place (after the move's
    # mark); the switch lands before it, and the new pointer's check finds what it brought
    code, out, err = run_meanwhile("atomic_write.before_rename:2", "move x sub/y", repo,
                                   lambda: git(repo, "switch", "-q", "feat"))
    assert code == 1, out + err
    how = "was written" if brought.endswith(".dvx") else "was made"
    assert f"'{brought}' {how} while dvx move ran" in err and "moved nothing" in err, err
    assert "Traceback" not in err
    assert (repo / brought).read_bytes() == feat and (repo / "x").read_text() == "mine\n"
    assert not (repo / "sub" / "y").exists() or not brought.endswith(".dvx")
    assert git(repo, "status", "--porcelain") == ""
    assert "moving" not in json.loads((repo / ".dvx/tmp/synced.json").read_text())
    status = dvx("status")
    assert "ended by an error" not in status.output, status.output


def test_move_refuses_to_overwrite(repo, dvx):
    write(repo / "a", "a")
    write(repo / "b", "b")
    dvx("add", "a")
    result = dvx("move", "a", "b")
    assert result.code != 0 and "already exists" in result.stderr
    assert (repo / "b").read_text() == "b" and (repo / "a").read_text() == "a"


@pytest.mark.parametrize("committed", [True, False])
def test_move_onto_another_tracked_path_with_the_same_data_is_refused(repo, dvx, committed):
    """Two tracked paths holding the same data are no move stopped half-way (only a move
    marked as begun is finished by running it again): `dvx move x y` is refused as onto
    any other existing path, and both stay tracked."""
    write(repo / "x", "same\n")
    write(repo / "y", "same\n")
    assert dvx("add", "x", "y").code == 0
    if committed:
        git(repo, "add", "-A")
        git(repo, "commit", "-qm", "data")
    result = dvx("move", "x", "y")
    assert result.code != 0 and "'y' already exists" in result.stderr, result.output
    for name in ("x", "x.dvx", "y", "y.dvx"):
        assert (repo / name).exists(), name
    assert dvx("status", "-q").code == 0


@pytest.mark.parametrize("between", [False, True], ids=["rerun", "after-an-add"])
def test_move_killed_once_done_is_finished_by_a_rerun_and_leaves_no_mark(
        repo, dvx, dvx_proc, between):
    """`dvx move x y` killed after it deleted x.dvx, before it ended its move (its last
    write): run again (straight away, or after another command), it says the move is done,
    names the files to record in Git, and the stopped command is named no more; its mark,
    no evidence of a move to finish once x is tracked again, never lets a later `dvx move
    x y` onto a tracked copy at y delete x."""
    write(repo / "x", "same\n")
    assert dvx("add", "x").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "x")
    killed = dvx_proc("move", "x", "y", cwd=repo,
                      env={"DVX_FAULT": "atomic_write.after_temp_write:7"})
    assert killed.code == -9, killed.output
    assert not (repo / "x.dvx").exists() and (repo / "y.dvx").exists()
    if between:
        write(repo / "z", "z\n")
        assert dvx("add", "z").code == 0
    rerun = dvx_proc("move", "x", "y", cwd=repo)
    assert rerun.code == 0 and "Moved x to y" in rerun.stdout, rerun.output
    assert "git add y.dvx .gitignore x.dvx" in rerun.stdout  # the files to record
    status = dvx_proc("status", cwd=repo)
    assert status.code == 0 and "stopped before it finished" not in status.output, \
        status.output
    assert "moving" not in (repo / ".dvx/tmp/synced.json").read_text()

    assert dvx("move", "y", "x").code == 0
    shutil.copy(repo / "x", repo / "y")
    assert dvx("add", "y").code == 0
    refused = dvx("move", "x", "y")
    assert refused.code != 0 and "'y' already exists" in refused.stderr, refused.output
    for name in ("x", "x.dvx", "y", "y.dvx"):
        assert (repo / name).exists(), name


def test_rerunning_a_stopped_move_keeps_an_edit_made_at_the_old_place(repo, dvx, dvx_proc):
    """`dvx move x y` killed once its data moved to y, x's pointer still there: data put
    back at x and edited since is the user's, never the copy the move left behind, so a
    rerun finishes nothing and the edit stays."""
    write(repo / "x", "v1\n")
    assert dvx("add", "x").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "x")
    killed = dvx_proc("move", "x", "y", cwd=repo,
                      env={"DVX_FAULT": "atomic_write.after_temp_write:5"})
    assert killed.code == -9, killed.output
    assert (repo / "x.dvx").exists() and (repo / "y").exists() and not (repo / "x").exists()
    assert dvx("checkout", "x").code == 0
    write(repo / "x", "v1\nmy edit\n")
    rerun = dvx("move", "x", "y")
    assert rerun.code != 0 and "'y' already exists" in rerun.stderr, rerun.output
    assert (repo / "x").read_text() == "v1\nmy edit\n" and (repo / "x.dvx").exists()
    assert (repo / "y").read_text() == "v1\n" and (repo / "y.dvx").exists()


def test_move_refuses_the_places_add_refuses(repo, dvx):
    write(repo / "imgs" / "a", "a")
    write(repo / "f.csv", "f")
    write(repo / ".gitignore", "build/\n")
    write(repo / ".dvxignore", "scratch/\n")
    dvx("add", "imgs", "f.csv")
    for destination, message in (("imgs", "inside 'imgs', which dvx already tracks"),
                                 ("build/f.csv", "is ignored by Git"),
                                 ("scratch/f.csv", "is ignored by .dvxignore"),
                                 (".gitignore/f.csv", "'.gitignore' is a file")):
        result = dvx("move", "f.csv", destination)
        assert result.code == 2 and message in result.stderr, (destination, result.output)
        assert (repo / "f.csv").read_text() == "f" and (repo / "f.csv.dvx").exists()
    assert dvx("status", "-q").code == 0


def test_move_of_data_holding_files_git_tracks_is_refused_before_anything_is_written(
        repo, dvx):
    """A move would carry the files Git's index holds in the data (code beside it, edits
    included) into the new place, which Git ignores: Git would lose them, and status would
    then offer a `dvx checkout --force` deleting them. It is refused, naming the ways out."""
    _data_with_code_git_tracks(repo, dvx)
    before = git(repo, "status", "--porcelain")
    refused = dvx("move", "data", "newdata")
    assert refused.code == 2, refused.output
    said = " ".join(refused.stderr.split())
    assert "'data/code.py' is in the Git index" in said and "Nothing was moved" in said, said
    assert "rename its pointer 'data.dvx' (`git mv`)" in said, said
    assert not (repo / "newdata").exists() and not (repo / "newdata.dvx").exists()
    assert sorted(os.listdir(repo / "data")) == ["code.py", "f1"]
    assert git(repo, "status", "--porcelain") == before == " M data/code.py\n"


def test_move_refused_from_a_subfolder_names_the_pointer_to_git_mv_as_typed_there(repo, dvx):
    """Every path in the ways out is one to type where the user is: `git mv` of the pointer,
    like `dvx remove`, takes it relative to the current folder."""
    write(repo / "lab" / "data" / "f1", "1\n")
    assert dvx("add", "lab/data").code == 0
    write(repo / "lab" / "data" / "code.py", "print(1)\n")
    git(repo, "add", "-A")
    git(repo, "add", "-f", "lab/data/code.py")
    git(repo, "commit", "-qm", "data and its code")
    (repo / "src").mkdir()
    refused = dvx("move", "../lab/data", "../lab/newdata", cwd=repo / "src")
    assert refused.code == 2, refused.output
    said = " ".join(refused.stderr.split())
    assert "rename its pointer '../lab/data.dvx' (`git mv`)" in said, said
    assert "`dvx remove ../lab/data.dvx`" in said, said
    git(repo / "src", "mv", "../lab/data.dvx", "../lab/newdata.dvx")  # as the hint says


def test_move_takes_tracked_paths_only_and_folders_as_mv_does(repo, dvx, tmp_path):
    write(repo / "sub" / "a.bin", "a")
    write(repo / "sub" / "README", "notes")
    assert dvx("add", "sub/a.bin").code == 0
    around = dvx("move", "sub", "archive")  # a folder holding one tracked path
    assert around.code == 2 and "is not tracked by dvx: it is a folder holding the tracked " \
        "path sub/a.bin" in around.stderr, around.output
    assert not (repo / "archive").exists() and (repo / "sub" / "a.bin").read_text() == "a"
    itself = dvx("move", "sub/a.bin", "sub/a.bin/")
    assert itself.code == 2 and "is where 'sub/a.bin' already is" in itself.stderr, itself.output
    no_folder = dvx("move", "sub/a.bin", "newdir/")
    assert no_folder.code != 0 and "'newdir/' is not a directory" in no_folder.stderr
    assert not (repo / "newdir").exists()
    top = dvx("move", "a.bin.dvx", "..", cwd=repo / "sub")  # into the repository itself
    assert top.code == 0, top.output
    assert (repo / "a.bin").read_text() == "a" and (repo / "a.bin.dvx").exists()
    assert dvx("move", "a.bin", "sub/").code == 0
    assert (repo / "sub" / "a.bin").read_text() == "a"
    link = tmp_path / "link-to-repo"  # the repository's folder named through a link to it
    link.symlink_to(repo)
    assert dvx("move", "sub/a.bin", f"{link}/").code == 0, "through a link"
    assert (repo / "a.bin").read_text() == "a"
    (repo / "here").symlink_to(".")  # a link inside the repository is no name of its top
    assert dvx("status", "here").code == 2
    assert dvx("status", "-q").code == 0


def test_commit_records_changes_of_tracked_outputs(repo, dvx):
    write(repo / "d" / "a", "a")
    write(repo / "f", "f")
    dvx("add", "d", "f")
    write(repo / "d" / "b", "b")
    assert dvx("status", "-q").code == 1
    result = dvx("commit")
    assert result.code == 0 and "Tracked d" in result.stdout
    assert dvx("status", "-q").code == 0
    os.unlink(repo / "f")
    missing = dvx("commit", "f")
    assert missing.code != 0 and "missing" in missing.stderr


def test_unprotect_of_a_directory_whose_manifest_the_cache_lacks_names_the_pull_that_fetches_it(
        repo, dvx, tmp_path):
    """After a `git pull` brings a new version of a tracked directory, not fetched yet, its
    manifest is not in the cache: unprotect refuses it, naming `dvx pull` of it as the way
    out, which done, unprotect gives its files their own copies."""
    assert dvx("remote", "add", "-d", "store", str(tmp_path / "store")).code == 0
    write(repo / "data" / "a", "a")
    write(repo / "data" / "b", "b")
    assert dvx("add", "data").code == 0 and dvx("push").code == 0
    manifest = next(line.split(": ", 1)[1] for line in
                    (repo / "data.dvx").read_text().splitlines() if line.startswith("oid: "))
    (repo / ".dvx" / "cache" / "files" / "xxh128" / manifest[:2] / manifest[2:]).unlink()
    (repo / "sub").mkdir()
    refused = dvx("unprotect", "../data", cwd=repo / "sub")
    assert refused.code == 2
    assert "ERROR: The manifest of 'data' is not in the cache. Run `dvx pull ../data` to " \
        "fetch it" in " ".join(refused.stderr.split()), refused.stderr
    assert dvx("pull", "data").code == 0
    unprotected = dvx("unprotect", "data")
    assert unprotected.code == 0, unprotected.output
    assert (repo / "data" / "a").read_text() == "a" and os.access(repo / "data" / "a", os.W_OK)


def test_unprotect_refuses_a_link_of_the_users_own_at_a_tracked_path(repo, dvx, tmp_path):
    write(repo / "d" / "a", "a")
    assert dvx("add", "d").code == 0
    outside = tmp_path / "outside"
    write(outside / "keep", "keep")
    (repo / "d" / "a").chmod(0o644)
    for path in sorted((repo / "d").iterdir()):
        path.unlink()
    (repo / "d").rmdir()
    os.symlink(outside, repo / "d")
    result = dvx("unprotect", "d")
    assert result.code == 2 and "symbolic link that does not lead into the cache" in result.stderr
    assert "Unprotected" not in result.stdout and (outside / "keep").read_text() == "keep"


def test_a_remove_that_fails_before_the_pointer_goes_leaves_no_removal_mark(repo, dvx,
                                                                            monkeypatch):
    """The mark tells a rerun that a removal began and its pointer is gone; while the pointer
    stays, a rerun is a remove like the first, and no mark is left behind."""
    from dvx.ops import manage

    write(repo / "d" / "a", "a")
    assert dvx("add", "d").code == 0

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(repo / "d" / "a"))

    delete = manage.delete_tracked_data
    monkeypatch.setattr(manage, "delete_tracked_data", refuse)
    failed = dvx("remove", "--outs", "d")
    assert failed.code == 1 and "Permission denied" in failed.stderr, failed.output
    assert (repo / "d.dvx").exists()
    assert "removing" not in json.loads((repo / ".dvx/tmp/synced.json").read_text())
    monkeypatch.setattr(manage, "delete_tracked_data", delete)
    assert dvx("remove", "--outs", "d").code == 0 and not (repo / "d").exists()


@pytest.mark.parametrize("failing", ["every write", "the .gitignore"])
def test_a_remove_on_a_full_disk_is_finished_by_running_it_again(repo, dvx, monkeypatch,
                                                                 failing):
    """Nothing is deleted before the removal's mark is on disk: when no file can be written
    the pointer stays; when only the .gitignore cannot, the mark lets a rerun finish."""
    from dvx import gitignore
    from tests.test_atomicity import run_with_file_size_limit

    write(repo / "model.bin", "data")
    write(repo / "other.bin", "other")
    assert dvx("add", "model.bin", "other.bin").code == 0
    if failing == "every write":
        result = run_with_file_size_limit(["remove", "model.bin.dvx"], repo, 0)
        code, stderr = result.returncode, result.stderr
        assert (repo / "model.bin.dvx").exists()
    else:
        def full(*args, **kwargs):
            raise OSError(28, "No space left on device", str(repo / ".gitignore"))

        with monkeypatch.context() as patched:
            patched.setattr(gitignore, "remove_entry", full)
            failed = dvx("remove", "model.bin.dvx")
        code, stderr = failed.code, failed.stderr
    assert code == 1 and stderr.startswith("ERROR:") and "Traceback" not in stderr, stderr
    assert "run the command again" in stderr.lower()

    rerun = dvx("remove", "model.bin.dvx")
    assert rerun.code == 0, rerun.output
    assert not (repo / "model.bin.dvx").exists()
    assert (repo / ".gitignore").read_text() == "/other.bin\n"
    assert (repo / "model.bin").read_text() == "data"
    assert "removing" not in json.loads((repo / ".dvx/tmp/synced.json").read_text())


def test_fsck_names_each_corrupt_object_once(repo, dvx_proc):
    write(repo / "f", "a\n")
    assert dvx_proc("add", "f", cwd=repo).code == 0
    obj = next(p for p in (repo / ".dvx" / "cache" / "files").rglob("*") if p.is_file())
    obj.chmod(0o644)
    obj.write_bytes(b"changed\n")
    checked = dvx_proc("fsck", cwd=repo)
    assert checked.code == 1, checked.output
    assert "1 corrupt" in checked.stdout
    assert len(checked.stderr.splitlines()) == 1, checked.stderr
    assert checked.stderr.startswith(f"Corrupt {obj.parent.name + obj.name}:")


def test_remove_stages_or_names_only_what_differs_from_git_s_index(repo, dvx):
    """remove stages under core.autostage, or names for `git add` without it, only the files
    it wrote that Git would record a change of: a pointer Git never held, deleted, or a
    .gitignore back to what the index holds, is neither, as `add` stages only what changed."""
    write(repo / "kept.csv", "kept")
    assert dvx("add", "kept.csv").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "kept")
    write(repo / "new.csv", "new")
    assert dvx("add", "new.csv").code == 0
    named = json.loads(dvx("remove", "--json", "new.csv.dvx").stdout)
    assert named["to_stage"] == [] and named["staged"] == [], named  # .gitignore as in HEAD
    assert dvx("config", "core.autostage", "true").code == 0
    assert dvx("add", "new.csv").code == 0
    git(repo, "reset", "-q", "--", "new.csv.dvx")
    staged = json.loads(dvx("remove", "--json", "new.csv.dvx").stdout)
    assert staged["staged"] == [".gitignore"] and staged["to_stage"] == [], staged
    assert "new.csv.dvx" not in git(repo, "status", "--porcelain")


def _edit_through_its_link(path) -> None:
    """An editor saving in place through the link into the cache (root ignores the mode)."""
    os.chmod(path, 0o644)
    with open(path, "r+b") as f:
        f.write(b"X")


@pytest.mark.parametrize("link", ["hardlink", "symlink"])
def test_unprotect_keeps_an_edit_made_through_a_link_and_moves_the_changed_object_aside(
        repo, dvx, tmp_path, link):
    assert dvx("config", "cache.type", link).code == 0
    assert dvx("remote", "add", "-d", "r", str(tmp_path / "remote")).code == 0
    write(repo / "f", "f1\n")
    write(repo / "d" / "a", "a1\n")
    write(repo / "d" / "b", "b1\n")
    assert dvx("add", "f", "d").code == 0 and dvx("push").code == 0
    for path in (repo / "f", repo / "d" / "b"):
        _edit_through_its_link(path)
    done = dvx("unprotect", "f", "d")
    assert done.code == 0, done.output
    assert "edited in place through its link into the cache" in done.output
    assert "`dvx pull --force f`" in done.output and "`dvx pull --force d`" in done.output
    for path in (repo / "f", repo / "d" / "b", repo / "d" / "a"):
        assert not path.is_symlink() and os.stat(path).st_nlink == 1
    assert (repo / "f").read_text() == "X1\n" and (repo / "d" / "b").read_text() == "X1\n"
    assert len(list((repo / ".dvx" / "cache" / "quarantine").iterdir())) == 2
    assert "0 corrupt" in dvx("fsck").output  # no object holds bytes its oid does not name
    pulled = dvx("pull", "--force", "f", "d")
    assert pulled.code == 0, pulled.output
    assert (repo / "f").read_text() == "f1\n" and (repo / "d" / "b").read_text() == "b1\n"
    assert "up to date" in dvx("status").output


@pytest.mark.parametrize("link", ["hardlink", "symlink"])
@pytest.mark.parametrize("command", ["unprotect", "remove"])
def test_files_of_a_directory_sharing_an_object_edited_through_a_link_all_keep_the_edit(
        repo, dvx, link, command):
    """Two files of a directory with the same bytes are links to one object; an edit
    through one link is in both. Made files of their own (`unprotect`, `remove`), each
    holds the edit, none a link to the object moved aside."""
    assert dvx("config", "cache.type", link).code == 0
    write(repo / "d" / "a", "s1\n")
    write(repo / "d" / "b", "s1\n")
    assert dvx("add", "d").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "v1")
    _edit_through_its_link(repo / "d" / "a")
    done = dvx(command, "d" if command == "unprotect" else "d.dvx")
    assert done.code == 0, done.output
    assert "edited in place through one of those links" in done.output
    for path in (repo / "d" / "a", repo / "d" / "b"):
        assert not path.is_symlink() and os.stat(path).st_nlink == 1, path
        assert path.read_text() == "X1\n", path
    assert len(list((repo / ".dvx" / "cache" / "quarantine").iterdir())) == 1
    assert "0 corrupt" in dvx("fsck").output


@pytest.mark.parametrize("link", ["hardlink", "symlink"])
@pytest.mark.parametrize("command", ["unprotect", "remove"])
def test_the_warning_of_an_object_edited_through_a_link_names_every_file_holding_it(
        repo, dvx, link, command):
    """Files with the same bytes link to one object, and an edit through one link is in
    all: made files of their own (`unprotect` of their folder and a file beside it, `remove`
    of the folder), the one warning names each, so the user learns every copy holding the
    edit, and a pull names every path it is in."""
    assert dvx("config", "cache.type", link).code == 0
    write(repo / "d" / "a", "s1\n")
    write(repo / "d" / "b", "s1\n")
    write(repo / "e", "s1\n")
    assert dvx("add", "d", "e").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "v1")
    _edit_through_its_link(repo / "d" / "b")
    targets, named = ((("d", "e"), "'d/a', 'd/b' and 'e'") if command == "unprotect"
                      else (("d.dvx",), "'d/a' and 'd/b'"))
    done = dvx(command, *targets)
    assert done.code == 0, done.output
    said = " ".join(done.stderr.split())
    assert said.count("linked to one cached object") == 1, said
    assert f"{named} linked to one cached object" in said, said
    assert ("`dvx pull --force d e`" in said) == (command == "unprotect"), said
    for path in (repo / "d" / "a", repo / "d" / "b"):
        assert path.read_text() == "X1\n" and os.stat(path).st_nlink == 1, path


@pytest.mark.parametrize("link", ["hardlink", "symlink"])
def test_remove_of_two_outputs_sharing_an_object_edited_through_a_link_names_every_file(
        repo, dvx, link):
    """`dvx remove d.dvx e.dvx`, whose files share one cached object an edit wrote through a
    link: the one warning names every file holding the edit, of both outputs, and none of
    them is said to stay tracked or to be put back by a checkout."""
    assert dvx("config", "cache.type", link).code == 0
    write(repo / "d" / "a", "s1\n")
    write(repo / "d" / "b", "b1\n")
    write(repo / "e" / "a", "s1\n")
    assert dvx("add", "d", "e").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "v1")
    _edit_through_its_link(repo / "d" / "a")
    done = dvx("remove", "d.dvx", "e.dvx")
    assert done.code == 0, done.output
    said = " ".join(done.stderr.split())
    assert said.count("linked to one cached object") == 1, said
    assert "'d/a' and 'e/a' linked to one cached object" in said, said
    assert "dvx checkout" not in said and "dvx status" not in said, said
    for path in (repo / "d" / "a", repo / "e" / "a"):
        assert not path.is_symlink() and os.stat(path).st_nlink == 1, path
        assert path.read_text() == "X1\n", path
    assert len(list((repo / ".dvx" / "cache" / "quarantine").iterdir())) == 1
    assert "0 corrupt" in dvx("fsck").output


@pytest.mark.parametrize("link", ["hardlink", "symlink"])
def test_remove_keeps_an_edit_made_through_a_link_and_says_the_recorded_version_is_gone(
        repo, dvx, link):
    assert dvx("config", "cache.type", link).code == 0
    write(repo / "m", "m1\n")
    assert dvx("add", "m").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "v1")
    _edit_through_its_link(repo / "m")
    done = dvx("remove", "m.dvx")
    assert done.code == 0, done.output
    assert "edited in place through its link into the cache" in done.output
    assert "no remote is set, so it is gone" in done.output
    assert not (repo / "m").is_symlink() and os.stat(repo / "m").st_nlink == 1
    assert (repo / "m").read_text() == "X1\n"
    assert "0 corrupt" in dvx("fsck").output
    assert dvx("gc", "-w", "-f", "--grace", "0").code == 0
    assert (repo / "m").read_text() == "X1\n"


def test_a_move_refused_once_its_data_moved_names_git_add_of_the_new_place_quoted_for_the_shell(
        repo, dvx):
    """A move refused once the data moved (a `git switch` changed the pointer meanwhile)
    names the `git add` that records the new place: a new name holding a blank and a `$`
    is quoted for the shell, so the command pasted stages that very pointer file."""
    from tests.conftest import run_meanwhile

    pointer_changed_on_feat(repo, {"x": "v1\n"}, "x", "feat\n")
    code, out, err = run_meanwhile("atomic_write.before_rename:5", ["move", "x", "y $z"],
                                   repo, lambda: git(repo, "switch", "-q", "feat"))
    said = " ".join(err.split())
    assert code == 1 and "once the data had moved" in said, out + err
    assert "`git add 'y $z.dvx' .gitignore` records the new place in Git" in said, said
