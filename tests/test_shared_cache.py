"""Two repositories sharing one cache (`cache.dir`) add identical content at the same moment,
as two real processes: both succeed, the cache holds exactly one valid object per distinct
content, and both repositories are clean afterwards (SPEC §4, concurrency)."""

from __future__ import annotations

import os
import random
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import xxhash
from conftest import (
    dvx_unprivileged,
    git,
    make_git_repo,
    mounted_tmpfs,
    run_dvx,
    stopped_at,
    unprivileged,
    write,
)
from test_crash import store_objects

from dvx.pointer import parse_pointer


def test_two_repositories_sharing_a_cache_add_identical_content_at_once(tmp_path):
    shared = tmp_path / "shared-cache"
    rng = random.Random(5)
    small = [rng.randbytes(200 + i) for i in range(190)]
    small += small[:10]  # duplicates inside the directory too: 200 files, 190 contents
    big = rng.randbytes(20 << 20)
    shared.mkdir()
    link = tmp_path / "cache-link"  # a user's own way there: the warning names the folder
    link.symlink_to(shared, target_is_directory=True)
    repos = []
    for name, named in (("one", link), ("two", shared)):
        repo = make_git_repo(tmp_path / name)
        for args in (["init"], ["config", "cache.dir", str(named)]):
            assert run_dvx(*args, cwd=repo).code == 0
        for i, blob in enumerate(small):
            write(repo / f"data/{i % 7}/f{i:03}.bin", blob)
        write(repo / "big.bin", big)
        repos.append(repo)

    procs = [subprocess.Popen([sys.executable, "-m", "dvx", "add", "data", "big.bin"], cwd=repo,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              stdin=subprocess.DEVNULL) for repo in repos]
    outputs = [proc.communicate(timeout=120) for proc in procs]
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, out + err
        assert "Traceback" not in out + err

    manifests = {parse_pointer((r / "data.dvx").read_bytes(), "data.dvx").oid for r in repos}
    assert len(manifests) == 1  # both repositories recorded the same directory
    contents = {xxhash.xxh3_128_hexdigest(blob) for blob in [*small, big]}
    objects = store_objects(shared)  # each one hashes to its name
    assert set(objects) == contents | manifests
    files = [p for p in (shared / "files/xxh128").rglob("*") if p.is_file()]
    assert len(files) == len(contents) + 1, "a temporary or duplicate is left in the cache"
    assert not [p for p in (shared / "tmp").rglob("*") if p.is_file()]
    for repo in repos:
        local = [p for p in (repo / ".dvx/cache").rglob("*")
                 if p.is_file() and p.name != ".gitignore"]  # init's, keeping Git out
        assert not local, f"objects went to the repository's own cache: {local}"
        assert run_dvx("status", "-q", cwd=repo).code == 0
        assert (repo / "big.bin").read_bytes() == big


def test_gc_in_a_shared_cache_warns_and_keeps_what_named_projects_use(tmp_path):
    shared = tmp_path / "shared-cache"
    shared.mkdir()
    link = tmp_path / "cache-link"  # a user's own way there: the warning names the folder
    link.symlink_to(shared, target_is_directory=True)
    repos = []
    for name, named in (("one", link), ("two", shared)):
        repo = make_git_repo(tmp_path / name)
        for args in (["init"], ["config", "cache.dir", str(named)]):
            assert run_dvx(*args, cwd=repo).code == 0
        write(repo / f"{name}.csv", f"the work of {name}\n")
        assert run_dvx("add", f"{name}.csv", cwd=repo).code == 0  # not committed anywhere
        repos.append(repo)
    one, two = repos
    kept = run_dvx("gc", "-A", "-f", "--grace", "0", "-p", str(two), cwd=one)
    assert kept.code == 0 and "outside this repository" not in kept.stderr, kept.output
    assert run_dvx("status", "-q", cwd=two).code == 0
    bad = run_dvx("gc", "-w", "-f", "-p", str(tmp_path / "nowhere"), cwd=one)
    assert bad.code == 2 and "is not a directory" in bad.stderr
    warned = run_dvx("gc", "-w", "--dry-run", "--grace", "0", cwd=one)
    assert "outside this repository, perhaps shared" in warned.stderr, warned.output
    assert f"The cache ({os.path.realpath(shared)})" in warned.stderr, warned.output
    assert "--projects" in warned.stderr


def test_git_worktrees_share_the_main_worktrees_cache_and_local_config(tmp_path):
    """A linked worktree's commits live in the one Git repository: their data must outlive
    `git worktree remove`, and gc anywhere keeps what every worktree uses."""
    main = make_git_repo(tmp_path / "main")
    assert run_dvx("init", cwd=main).code == 0
    write(main / "data.csv", "v1\n")
    assert run_dvx("add", "data.csv", cwd=main).code == 0
    git(main, "add", "-A")
    git(main, "commit", "-qm", "v1")
    assert run_dvx("remote", "add", "--local", "-d", "store", str(tmp_path / "store"),
                   cwd=main).code == 0
    linked = tmp_path / "linked"
    git(main, "worktree", "add", "-q", str(linked), "-b", "exp")

    assert run_dvx("checkout", cwd=linked).code == 0  # from the main worktree's cache
    assert (linked / "data.csv").read_text() == "v1\n"
    assert run_dvx("remote", "default", cwd=linked).stdout.strip() == "store"
    write(linked / "data.csv", "v2\n")
    assert run_dvx("add", "data.csv", cwd=linked).code == 0
    git(linked, "commit", "-qam", "v2")
    write(linked / "data.csv", "v3, not committed\n")
    assert run_dvx("add", "data.csv", cwd=linked).code == 0

    # gc in either keeps what the other's workspace uses, and does not warn of a shared cache
    for where, other in ((main, linked), (linked, main)):
        result = run_dvx("gc", "-w", "-f", "--grace", "0", cwd=where)
        assert result.code == 0 and "perhaps shared" not in result.stderr, result.output
        assert run_dvx("status", "-q", cwd=other).code == 0

    git(main, "worktree", "remove", "--force", str(linked))
    git(main, "checkout", "-q", "exp")
    assert run_dvx("checkout", cwd=main).code == 0
    assert (main / "data.csv").read_text() == "v2\n"


def test_gc_keeps_what_a_linked_worktree_s_links_lead_to_past_their_pointer(tmp_path):
    """A `dvx add` in a linked worktree whose pointer `git reset --hard` put back leaves that
    worktree's file linked (cache.type symlink) to an object no pointer names: gc run in the
    main worktree keeps it, so the link never dangles."""
    main = make_git_repo(tmp_path / "main")
    assert run_dvx("init", cwd=main).code == 0
    assert run_dvx("config", "cache.type", "symlink", cwd=main).code == 0
    write(main / "x", "x1\n")
    assert run_dvx("add", "x", cwd=main).code == 0
    git(main, "add", "-A")
    git(main, "commit", "-qm", "v1")
    linked = tmp_path / "linked"
    git(main, "worktree", "add", "-q", str(linked), "-b", "exp")
    assert run_dvx("checkout", cwd=linked).code == 0
    (linked / "x").unlink()
    write(linked / "x", "precious, in the linked worktree only\n")
    assert run_dvx("add", "x", cwd=linked).code == 0
    git(linked, "reset", "-q", "--hard")
    assert (linked / "x").is_symlink()
    result = run_dvx("gc", "-w", "-f", "--grace", "0", cwd=main)
    assert result.code == 0, result.output
    assert (linked / "x").read_text() == "precious, in the linked worktree only\n"


def test_gc_deletes_nothing_while_a_worktree_sharing_the_cache_has_an_unreadable_config(
        tmp_path):
    """A worktree whose .dvx/config cannot be parsed (a typo, a merge's conflict markers) may
    use this cache: what its index and workspace use is unknown, so gc, in the cache and on a
    remote alike, deletes nothing and says which worktree to fix."""
    main = make_git_repo(tmp_path / "main")
    assert run_dvx("init", cwd=main).code == 0
    _commit_all(main, "dvx init")
    git(main, "checkout", "-q", "-b", "other")
    assert run_dvx("remote", "add", "one", str(tmp_path / "one"), cwd=main).code == 0
    _commit_all(main, "remote one")
    git(main, "checkout", "-q", "main")
    assert run_dvx("remote", "add", "--local", "store", str(tmp_path / "store"),
                   cwd=main).code == 0
    linked = tmp_path / "linked"
    git(main, "worktree", "add", "-q", str(linked), "-b", "feature")
    assert run_dvx("remote", "add", "two", str(tmp_path / "two"), cwd=linked).code == 0
    _commit_all(linked, "remote two")
    write(linked / "model.bin", "precious\n")  # in the workspace alone
    assert run_dvx("add", "model.bin", cwd=linked).code == 0
    assert run_dvx("push", "-r", "store", "model.bin", cwd=linked).code == 0
    subprocess.run(["git", "-C", str(linked), "merge", "-q", "other"], capture_output=True)
    assert git(linked, "status", "--porcelain", ".dvx/config").startswith("UU")

    pushed = sorted((tmp_path / "store").rglob("*"))
    for scope in (["-w"], ["-w", "-c", "store"]):
        refused = run_dvx("gc", *scope, "-f", "--grace", "0", cwd=main)
        assert refused.code == 1 and "Nothing was deleted" in refused.stderr, refused.output
        assert str(linked) in refused.stderr and "merge conflict" in refused.stderr
        assert len(store_objects(main / ".dvx" / "cache")) == 1
        assert sorted((tmp_path / "store").rglob("*")) == pushed

    (linked / ".dvx" / "config").write_text("[core]\n")  # resolved
    assert run_dvx("gc", "-w", "-c", "store", "-f", "--grace", "0", cwd=main).code == 0
    assert (linked / "model.bin").read_text() == "precious\n"
    assert run_dvx("status", "-q", cwd=linked).code == 0


def test_gc_keeps_what_the_linked_worktrees_of_a_named_project_use(tmp_path):
    """A project named with --projects keeps its linked worktrees' work as gc run in it
    would: a pointer staged there survives gc in another repository sharing the cache, and
    a worktree of it whose config cannot be read stops gc before anything is deleted."""
    shared = tmp_path / "shared"
    one, two = make_git_repo(tmp_path / "one"), make_git_repo(tmp_path / "two")
    for repo in (one, two):
        for args in (["init"], ["config", "--local", "cache.dir", str(shared)]):
            assert run_dvx(*args, cwd=repo).code == 0
    assert run_dvx("config", "--local", "cache.type", "symlink", cwd=two).code == 0
    _commit_all(two, "dvx init")
    linked = tmp_path / "linked"
    git(two, "worktree", "add", "-q", str(linked), "-b", "feature")
    write(linked / "staged.csv", "staged in a worktree of the named project\n")
    assert run_dvx("add", "staged.csv", cwd=linked).code == 0
    git(linked, "add", "staged.csv.dvx")

    kept = run_dvx("gc", "-w", "-f", "--grace", "0", "-p", str(two), cwd=one)
    assert kept.code == 0 and "Removed 0 objects" in kept.stdout, kept.output
    assert (linked / "staged.csv").read_text() == "staged in a worktree of the named project\n"

    (linked / ".dvx" / "config").write_text("[core\n")
    refused = run_dvx("gc", "-w", "-f", "--grace", "0", "-p", str(two), cwd=one)
    assert refused.code == 1 and "Nothing was deleted" in refused.stderr, refused.output
    assert str(linked) in refused.stderr and f"'{two}' (--projects)" in refused.stderr
    assert len(store_objects(shared)) == 1


def test_gc_skips_a_worktree_before_dvx_init_and_refuses_one_whose_dvx_is_left_out(tmp_path):
    """A worktree on a commit from before `dvx init` uses no cache; one whose sparse checkout
    leaves out .dvx has dvx set up with a config gc cannot read there."""
    main = make_git_repo(tmp_path / "main")
    write(main / "code.py", "code\n")
    _commit_all(main, "before dvx")
    git(main, "branch", "old")
    assert run_dvx("init", cwd=main).code == 0
    _commit_all(main, "dvx init")
    write(main / "gone.bin", "unused\n")
    assert run_dvx("add", "gone.bin", cwd=main).code == 0
    (main / "gone.bin.dvx").unlink()
    git(main, "worktree", "add", "-q", str(tmp_path / "old"), "old")
    swept = run_dvx("gc", "-w", "-f", "--grace", "0", cwd=main)
    assert swept.code == 0 and "Removed 1 object" in swept.stdout, swept.output

    sparse = tmp_path / "sparse"
    git(main, "worktree", "add", "-q", str(sparse), "-b", "sparse")
    git(sparse, "sparse-checkout", "set", "--no-cone", "/*", "!/.dvx/")
    assert not (sparse / ".dvx").exists()
    refused = run_dvx("gc", "-w", "-f", "--grace", "0", cwd=main)
    assert refused.code == 1 and str(sparse) in refused.stderr, refused.output
    assert "git sparse-checkout add .dvx" in refused.stderr


def test_gc_deletes_nothing_while_a_worktree_git_lists_is_moved_or_gone(tmp_path):
    """A worktree moved with `mv`, or on a disk not mounted, is one Git still lists (as
    prunable): its index stages pointers and its links lead into the cache, so gc deletes
    nothing until `git worktree repair` finds it again or `git worktree prune` forgets it."""
    main = make_git_repo(tmp_path / "main")
    assert run_dvx("init", cwd=main).code == 0
    assert run_dvx("config", "cache.type", "symlink", cwd=main).code == 0
    _commit_all(main, "dvx init")
    linked, moved = tmp_path / "linked", tmp_path / "moved"
    git(main, "worktree", "add", "-q", str(linked), "-b", "feature")
    write(linked / "staged.csv", "staged in the linked worktree only\n")
    assert run_dvx("add", "staged.csv", cwd=linked).code == 0
    git(linked, "add", "staged.csv.dvx")
    linked.rename(moved)

    refused = run_dvx("gc", "-w", "-f", "--grace", "0", cwd=main)
    assert refused.code == 1 and "Nothing was deleted" in refused.stderr, refused.output
    assert str(linked) in refused.stderr and "git worktree repair" in refused.stderr
    assert "git worktree prune" in refused.stderr and "Traceback" not in refused.output
    assert len(store_objects(main / ".dvx" / "cache")) == 1
    git(moved, "worktree", "repair")
    assert run_dvx("gc", "-w", "-f", "--grace", "0", cwd=main).code == 0
    assert (moved / "staged.csv").read_text() == "staged in the linked worktree only\n"

    git(main, "worktree", "lock", str(moved))  # on a removable disk, as Git advises
    shutil.rmtree(moved)
    refused = run_dvx("gc", "-w", "-f", "--grace", "0", cwd=main)
    assert refused.code == 1 and str(moved) in refused.stderr, refused.output
    assert f"git worktree unlock {moved}" in refused.stderr
    git(main, "worktree", "unlock", str(moved))
    git(main, "worktree", "prune")
    swept = run_dvx("gc", "-w", "-f", "--grace", "0", cwd=main)
    assert swept.code == 0 and "Removed 1 object" in swept.stdout, swept.output


def _commit_all(repo, message):
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", message)


def test_worktrees_of_a_bare_repository_share_one_cache_in_its_git_directory(tmp_path):
    """A bare repository has no main worktree: every worktree uses dvx/ in the Git directory
    they share, so data committed in one outlives `git worktree remove`."""
    source = make_git_repo(tmp_path / "source")
    assert run_dvx("init", cwd=source).code == 0
    _commit_all(source, "dvx init")
    bare = tmp_path / "proj.git"
    git(tmp_path, "clone", "-q", "--bare", str(source), str(bare))
    main, exp = tmp_path / "main", tmp_path / "exp"
    git(bare, "worktree", "add", "-q", str(main), "main")
    write(main / "base.csv", "base\n")
    assert run_dvx("add", "base.csv", cwd=main).code == 0
    _commit_all(main, "base")
    assert run_dvx("remote", "add", "--local", "-d", "store", str(tmp_path / "store"),
                   cwd=main).code == 0
    git(bare, "worktree", "add", "-q", "-b", "exp", str(exp), "main")

    assert run_dvx("checkout", cwd=exp).code == 0  # from the cache main filled
    assert (exp / "base.csv").read_text() == "base\n"
    assert run_dvx("remote", "default", cwd=exp).stdout.strip() == "store"
    write(exp / "model.bin", "model\n")
    assert run_dvx("add", "model.bin", cwd=exp).code == 0
    _commit_all(exp, "model")
    gc = run_dvx("gc", "-w", "-f", "--grace", "0", cwd=exp)
    assert gc.code == 0 and "perhaps shared" not in gc.stderr, gc.output
    assert len(store_objects(bare / "dvx" / "cache")) == 2
    assert not (main / ".dvx" / "cache").exists() and not (exp / ".dvx" / "cache").exists()

    git(main, "worktree", "remove", str(exp))
    git(main, "checkout", "-q", "exp")
    assert run_dvx("checkout", cwd=main).code == 0
    assert (main / "model.bin").read_text() == "model\n"


def test_a_linked_worktree_uses_the_main_worktrees_cache_whatever_it_has_checked_out(tmp_path):
    """The main worktree on a branch from before `dvx init` (no .dvx there) changes nothing:
    the cache is the one its .dvx holds, hidden from Git there meanwhile."""
    main = make_git_repo(tmp_path / "main")
    write(main / "code.py", "code\n")
    _commit_all(main, "before dvx")
    git(main, "checkout", "-q", "-b", "data")
    assert run_dvx("init", cwd=main).code == 0
    _commit_all(main, "dvx init")
    git(main, "checkout", "-q", "main")
    shutil.rmtree(main / ".dvx")  # what it left untracked: as a clone of main has no .dvx
    linked = tmp_path / "linked"
    git(main, "worktree", "add", "-q", str(linked), "data")

    write(linked / "model.bin", "model\n")
    assert run_dvx("add", "model.bin", cwd=linked).code == 0
    _commit_all(linked, "model")
    assert len(store_objects(main / ".dvx" / "cache")) == 1
    assert git(main, "status", "--porcelain", "--untracked-files=all") == ""

    git(main, "worktree", "remove", str(linked))
    git(main, "checkout", "-q", "data")
    assert run_dvx("checkout", cwd=main).code == 0
    assert (main / "model.bin").read_text() == "model\n"


def _model_added_in_a_linked_worktree(main: Path, tmp_path: Path, committed: str) -> Path:
    """A linked worktree of `main` on a new branch that checks out the data file `committed`
    and adds model.bin: the worktree."""
    linked = tmp_path / "linked"
    git(main, "worktree", "add", "-q", str(linked), "-b", "exp")
    assert run_dvx("checkout", cwd=linked).code == 0
    assert (linked / committed).read_text() == (main / committed).read_text()
    write(linked / "model.bin", "model\n")
    assert run_dvx("add", "model.bin", cwd=linked).code == 0
    return linked


def test_a_relative_cache_dir_in_the_tracked_config_is_one_cache_for_every_worktree(tmp_path):
    """A relative cache.dir in .dvx/config starts at the .dvx every worktree shares."""
    main = make_git_repo(tmp_path / "main")
    assert run_dvx("init", cwd=main).code == 0
    assert run_dvx("config", "cache.dir", "cache/objects", cwd=main).code == 0
    write(main / "base.csv", "base\n")
    assert run_dvx("add", "base.csv", cwd=main).code == 0
    _commit_all(main, "base")
    linked = _model_added_in_a_linked_worktree(main, tmp_path, "base.csv")
    _commit_all(linked, "model")
    assert len(store_objects(main / ".dvx" / "cache" / "objects")) == 2

    git(main, "worktree", "remove", str(linked))
    git(main, "checkout", "-q", "exp")
    assert run_dvx("checkout", cwd=main).code == 0
    assert (main / "model.bin").read_text() == "model\n"


def test_objects_in_a_linked_worktrees_own_cache_are_named_with_how_to_move_them(tmp_path):
    """Data a linked worktree kept in its own cache (as dvx once did) is not lost from view:
    every command says where it is and how to move it into the shared cache."""
    main = make_git_repo(tmp_path / "main")
    assert run_dvx("init", cwd=main).code == 0
    _commit_all(main, "dvx init")
    linked = tmp_path / "linked"
    git(main, "worktree", "add", "-q", str(linked), "-b", "exp")
    write(linked / "model.bin", "model\n")
    assert run_dvx("add", "model.bin", cwd=linked).code == 0
    (linked / ".dvx" / "cache").mkdir()
    (main / ".dvx" / "cache" / "files").rename(linked / ".dvx" / "cache" / "files")

    status = run_dvx("status", cwd=linked)
    assert "not in cache" in status.stdout, status.output
    assert "own cache" in status.stderr and "shared cache" in status.stderr
    move = status.stderr.split("Move it over: `")[1].split("`")[0]
    subprocess.run(move, shell=True, check=True)
    quiet = run_dvx("status", cwd=linked)
    assert quiet.code == 0 and "own cache" not in quiet.stderr, quiet.output
    assert "not in cache" not in quiet.stdout


def test_following_the_own_cache_warning_with_symlinks_leaves_the_worktree_clean(tmp_path):
    """With cache.type symlink, the worktree's files link into its own cache: the warning's
    move command, then the `dvx checkout --relink` it names, leaves nothing to commit."""
    main = make_git_repo(tmp_path / "main")
    assert run_dvx("init", cwd=main).code == 0
    assert run_dvx("config", "cache.type", "symlink", cwd=main).code == 0
    _commit_all(main, "dvx init")
    linked = tmp_path / "linked"
    git(main, "worktree", "add", "-q", str(linked), "-b", "exp")
    write(linked / "model.bin", "model\n")
    assert run_dvx("add", "model.bin", cwd=linked).code == 0
    own = linked / ".dvx" / "cache"
    own.mkdir()
    (main / ".dvx" / "cache" / "files").rename(own / "files")
    target = (linked / "model.bin").readlink()
    (linked / "model.bin").unlink()
    (linked / "model.bin").symlink_to(own / target.relative_to(main / ".dvx" / "cache"))

    warned = run_dvx("status", cwd=linked).stderr
    move = warned.split("Move it over: `")[1].split("`")[0]
    assert "then run `dvx checkout --relink`" in warned, warned
    subprocess.run(move, shell=True, check=True)
    assert run_dvx("checkout", "--relink", cwd=linked).code == 0
    clean = run_dvx("status", cwd=linked)
    assert clean.code == 0 and "own cache" not in clean.stderr, clean.output
    assert "up to date" in clean.stdout, clean.output


def test_a_submodules_linked_worktree_shares_the_submodule_checkouts_cache(tmp_path):
    """A submodule's Git directory (.git/modules/NAME) names its main worktree in
    core.worktree: that checkout's .dvx holds the cache its linked worktrees share."""
    sub = make_git_repo(tmp_path / "sub")
    assert run_dvx("init", cwd=sub).code == 0
    _commit_all(sub, "dvx init")
    outer = make_git_repo(tmp_path / "outer")
    git(outer, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(sub), "sm")
    checkout = outer / "sm"
    write(checkout / "data.csv", "data\n")
    assert run_dvx("add", "data.csv", cwd=checkout).code == 0
    _commit_all(checkout, "data")
    _model_added_in_a_linked_worktree(checkout, tmp_path, "data.csv")
    assert len(store_objects(checkout / ".dvx" / "cache")) == 2


def test_worktrees_inside_the_folder_of_the_main_one_or_of_a_bare_git_dir_work(tmp_path):
    """A linked worktree may sit inside the main worktree's folder (`.worktrees/feat`, which
    the main one ignores), or beside a bare repository cloned into `proj/.git`: its own .dvx/tmp
    is its own, and the bare one's worktrees share `proj/.git/dvx`."""
    main = make_git_repo(tmp_path / "proj")
    assert run_dvx("init", cwd=main).code == 0
    write(main / ".gitignore", ".worktrees/\n")
    write(main / "base.csv", "base\n")
    assert run_dvx("add", "base.csv", cwd=main).code == 0
    _commit_all(main, "base")
    nested = main / ".worktrees" / "feat"
    git(main, "worktree", "add", "-q", str(nested), "-b", "feat")
    for args in (["status"], ["checkout"]):
        result = run_dvx(*args, cwd=nested)
        assert result.code == 0, result.output
    assert (nested / "base.csv").read_text() == "base\n"
    assert git(main, "status", "--porcelain", "--untracked-files=all") == ""

    bare = tmp_path / "proj2" / ".git"
    git(tmp_path, "clone", "-q", "--bare", str(main), str(bare))
    beside = tmp_path / "proj2" / "main"
    git(bare, "worktree", "add", "-q", str(beside), "main")
    write(beside / "model.bin", "model\n")
    added = run_dvx("add", "model.bin", cwd=beside)
    assert added.code == 0, added.output
    assert len(store_objects(bare / "dvx" / "cache")) == 1
    assert not (tmp_path / "proj2" / ".dvx").exists()


def _dvx_with_umask(umask: int, *args: str, cwd: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "dvx", *args], cwd=cwd, capture_output=True,
                          text=True, umask=umask, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _modes(top: Path) -> dict[str, set[int]]:
    """{"folders": modes, "files": modes} of everything below `top`, `top` included."""
    found: dict[str, set[int]] = {"folders": {stat.S_IMODE(top.stat().st_mode)}, "files": set()}
    for path in top.rglob("*"):
        found["folders" if path.is_dir() else "files"].add(stat.S_IMODE(path.lstat().st_mode))
    return found


def test_a_cache_and_a_directory_remote_shared_by_a_group_stay_its_whatever_the_umask(tmp_path):
    """cache.shared group (and a directory remote's `shared group`): every folder dvx makes
    there is the group's to write in (setgid: new entries take its group), every object and
    record is readable by all and written by none, the generation the group rewrites is the
    group's, even when the user's umask is 077 and a file added in hardlink mode was
    private."""
    repo = make_git_repo(tmp_path / "repo")
    cache, store = tmp_path / "team" / "cache", tmp_path / "team" / "store"
    for args in (["init"], ["config", "cache.shared", "group"],
                 ["config", "cache.dir", str(cache)], ["config", "cache.type", "hardlink,copy"],
                 ["remote", "add", "-d", "store", str(store)],
                 ["remote", "modify", "store", "shared", "group"]):
        assert run_dvx(*args, cwd=repo).code == 0
    for key, value in (("cache.shared", "everyone"), ("remote.store.shared", "true")):
        refused = run_dvx("config", key, value, cwd=repo)
        assert refused.code == 2 and "expected group" in refused.stderr, refused.output
    write(repo / "private.csv", "a private file\n")
    os.chmod(repo / "private.csv", 0o600)
    write(repo / "data" / "big.bin", random.Random(1).randbytes(3 << 20))  # a large copy
    write(repo / "data" / "small.txt", "small\n")
    _dvx_with_umask(0o077, "add", "private.csv", cwd=repo)
    assert run_dvx("config", "cache.type", "copy", cwd=repo).code == 0
    _dvx_with_umask(0o077, "add", "data", cwd=repo)
    _dvx_with_umask(0o077, "push", cwd=repo)

    in_cache = _modes(cache)
    assert in_cache["folders"] == {0o2775}
    assert {stat.S_IMODE(p.stat().st_mode) for p in (cache / "files").rglob("*")
            if p.is_file()} == {0o444}
    assert stat.S_IMODE((cache / "generation").stat().st_mode) == 0o664
    assert _modes(store) == {"folders": {0o2775}, "files": {0o444}}
    assert len(store_objects(cache)) == 4  # the file, the directory's manifest and two files


def test_what_a_teammate_kept_private_in_a_shared_cache_is_named_and_the_rest_still_done(
        tmp_path):
    """An object this user may not read (stored from a teammate's private file) is named by
    checkout, fsck and push, which do the rest; a cache folder this user may not enter is
    named as such, never taken for objects not pulled yet."""
    repo = make_git_repo(tmp_path / "repo")
    store = tmp_path / "store"
    for args in (["init"], ["remote", "add", "-d", "store", str(store)]):
        assert run_dvx(*args, cwd=repo).code == 0
    write(repo / "public.txt", "for everyone\n")
    write(repo / "private.bin", "weights\n")
    assert run_dvx("add", "public.txt", "private.bin", cwd=repo).code == 0
    assert run_dvx("config", "cache.type", "symlink,copy", cwd=repo).code == 0
    shard = repo / ".dvx" / "cache" / "files" / "xxh128" / xxhash.xxh3_128_hexdigest(
        b"weights\n")[:2]
    private = next(shard.iterdir())
    private.chmod(0)
    (repo / "public.txt").unlink()
    (repo / "private.bin").unlink()
    try:
        checkout = dvx_unprivileged(repo, "checkout")
        assert checkout.returncode == 1, checkout.stderr
        assert (f"Skipped private.bin: its object in the cache may not be read: Permission "
                f"denied ({private})") in checkout.stderr
        assert (repo / "public.txt").read_text() == "for everyone\n"
        assert not os.path.lexists(repo / "private.bin")  # no link it could not read through

        fsck = dvx_unprivileged(repo, "fsck")
        assert fsck.returncode == 1, fsck.stderr
        assert "Checked 2 objects in the cache: 0 corrupt, 1 unreadable." in fsck.stdout
        assert f"Unreadable {private.parent.name}{private.name}: Permission denied" in fsck.stderr

        push = dvx_unprivileged(repo, "push")
        assert push.returncode == 1, push.stderr
        assert "Pushed 1 object" in push.stdout, push.stdout
        assert "Failed private.bin" in push.stderr
        assert "its object in the cache may not be read" in push.stderr

        files = repo / ".dvx" / "cache" / "files"
        files.chmod(0)
        for command in ("status", "checkout"):
            refused = dvx_unprivileged(repo, command)
            assert refused.returncode == 1, refused.stderr
            assert f"The cache folder '{files}'" in refused.stderr
            assert "may not be entered (Permission denied)" in refused.stderr
            assert "not pulled" not in refused.stdout + refused.stderr
    finally:
        (repo / ".dvx" / "cache" / "files").chmod(0o755)
        private.chmod(0o444)


def test_a_damaged_object_this_user_may_not_move_aside_is_named_with_the_way_out(tmp_path):
    """An object written in place (same size, times set back) in a cache this user may read
    but not change: adding the same bytes again is refused naming the object, not the cache
    file the refusal came from, and nothing changes."""
    repo = make_git_repo(tmp_path / "repo")
    assert run_dvx("init", cwd=repo).code == 0
    write(repo / "f.txt", "hello-data\n")
    assert run_dvx("add", "f.txt", cwd=repo).code == 0
    oid = xxhash.xxh3_128_hexdigest(b"hello-data\n")
    obj = repo / ".dvx" / "cache" / "files" / "xxh128" / oid[:2] / oid[2:]
    before = obj.stat()
    obj.chmod(0o644)
    with open(obj, "r+b") as f:
        f.write(b"HELLO")
    os.utime(obj, ns=(before.st_atime_ns, before.st_mtime_ns))
    obj.chmod(0o444)
    cache = repo / ".dvx" / "cache"
    read_only = [path for path in (cache, *cache.rglob("*")) if path.is_dir()]
    for path in read_only:
        path.chmod(0o555)
    try:
        write(repo / "g.txt", "hello-data\n")
        added = dvx_unprivileged(repo, "add", "g.txt")
    finally:
        for path in read_only:
            path.chmod(0o755)
    assert added.returncode == 1, added.stderr
    said = " ".join(added.stderr.split())
    assert f"ERROR: The cached object {oid} no longer holds the bytes its oid names" in said
    assert "this user may not move it aside" in said and "`dvx fsck`" in said
    assert obj.read_bytes() == b"HELLO-data\n"


def _sharing_a_cache(tmp_path: Path, **cache_types: str) -> list[Path]:
    """Repositories named as `cache_types` says, each using the cache type given, sharing one
    cache (cache.dir)."""
    repos = []
    for name, cache_type in cache_types.items():
        repo = make_git_repo(tmp_path / name)
        for args in (["init"], ["config", "cache.dir", str(tmp_path / "shared-cache")],
                     ["config", "cache.type", cache_type]):
            assert run_dvx(*args, cwd=repo).code == 0
        repos.append(repo)
    return repos


def _object_path(tmp_path: Path, data: bytes) -> Path:
    oid = xxhash.xxh3_128_hexdigest(data)
    return tmp_path / "shared-cache" / "files" / "xxh128" / oid[:2] / oid[2:]


def _appended_unprivileged(path: Path, data: str) -> bool:
    """Could a process to which file modes apply append `data` to `path`?"""
    return subprocess.run([*unprivileged(), "sh", "-c", f'printf "{data}" >> "{path}"'],
                          capture_output=True).returncode == 0


def test_an_add_stopped_in_hardlink_mode_leaves_no_object_a_link_could_change(tmp_path):
    """The file an add in hardlink mode makes the object is read-only before it is the
    object: while that add is stopped, or after it was killed, another repository sharing
    the cache links to the object, and no ordinary write through the first repository's
    file can change what the other committed. Running the add again finishes it."""
    a, b = _sharing_a_cache(tmp_path, a="symlink", b="hardlink")
    write(b / "x", "hello\n")
    stopped = stopped_at("cache.hardlink.after_link", "add x", b)
    try:
        obj = _object_path(tmp_path, b"hello\n")
        assert os.path.samefile(obj, b / "x")
        assert not obj.stat().st_mode & 0o222, oct(obj.stat().st_mode)
        write(a / "x", "hello\n")
        assert run_dvx("add", "x", cwd=a).code == 0
        assert (a / "x").is_symlink() and os.path.samefile(a / "x", obj)
    finally:
        stopped.kill()
        stopped.communicate()
    assert not _appended_unprivileged(b / "x", "more\n")
    assert (a / "x").read_text() == "hello\n"
    assert run_dvx("status", "-q", cwd=a).code == 0

    again = run_dvx("add", "x", cwd=b)
    assert again.code == 0, again.output
    assert os.path.samefile(b / "x", obj) and not (b / "x").stat().st_mode & 0o222
    assert run_dvx("status", "-q", cwd=b).code == 0


def test_an_object_found_writable_is_made_read_only_and_hashed_before_it_is_linked_to(tmp_path):
    """An object some write bit left writable (a chmod through a link, an add stopped by an
    older dvx) is read-only before another file is linked to it, and hashed first: one a
    write through a link changed is moved aside, and the bytes added are stored anew."""
    a, b = _sharing_a_cache(tmp_path, a="symlink", b="hardlink")
    write(b / "x", "hello\n")
    assert run_dvx("add", "x", cwd=b).code == 0
    obj = _object_path(tmp_path, b"hello\n")
    obj.chmod(0o644)
    write(a / "x", "hello\n")
    assert run_dvx("add", "x", cwd=a).code == 0
    assert not obj.stat().st_mode & 0o222, oct(obj.stat().st_mode)
    assert not _appended_unprivileged(b / "x", "more\n")

    obj.chmod(0o644)
    with open(b / "x", "a") as f:  # through B's link
        f.write("more\n")
    write(a / "y", "hello\n")
    added = run_dvx("add", "y", cwd=a)
    assert added.code == 0 and "moved to" in added.stderr, added.output
    assert os.path.samefile(a / "y", obj) and not obj.stat().st_mode & 0o222
    assert (b / "x").read_text() == "hello\nmore\n"
    assert [p.read_text() for p in (tmp_path / "shared-cache" / "quarantine").iterdir()] == [
        "hello\nmore\n"]


@pytest.fixture
def shared_tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A real tmpfs mounted where `_sharing_a_cache` puts the cache (root only)."""
    yield from mounted_tmpfs(tmp_path / "shared-cache", "size=8m")


def test_a_cache_on_a_read_only_mount_with_writable_objects_is_read_as_it_is(tmp_path,
                                                                              shared_tmpfs):
    """A cache restored onto a read-only mount (a CI cache, a read-only NFS export) by a tool
    that kept no modes: its objects cannot be made read-only first, and copy mode needs
    that no more than it needs to write there. Each is hashed and copied out."""
    (a,) = _sharing_a_cache(tmp_path, a="copy")
    write(a / "x", "hello\n")
    assert run_dvx("add", "x", cwd=a).code == 0
    (a / "x").unlink()
    obj = _object_path(tmp_path, b"hello\n")
    obj.chmod(0o644)
    remounted = subprocess.run(["mount", "-o", "remount,ro", str(shared_tmpfs)],
                               capture_output=True)
    assert remounted.returncode == 0, remounted.stderr
    placed = run_dvx("checkout", cwd=a)
    assert placed.code == 0 and "1 restored" in placed.stdout, placed.output
    assert (a / "x").read_text() == "hello\n"
    assert stat.S_IMODE(obj.stat().st_mode) == 0o644  # the mount left it as it was


def test_a_link_to_an_object_another_repository_changed_is_not_called_a_change_made_here(
        tmp_path):
    """B writes through its link into the shared cache, and its add moves the object aside;
    C changed nothing, yet its link showed B's bytes. C's pull fetches the recorded version
    again and keeps the link, saying what happened and both ways on, never that C made
    changes for `dvx commit` to record (which would record B's bytes)."""
    b, c = _sharing_a_cache(tmp_path, b="symlink", c="symlink")
    for clone in (b, c):
        assert run_dvx("remote", "add", "-d", "store", str(tmp_path / "store"),
                       cwd=clone).code == 0
    write(b / "m", "v1\n")
    assert run_dvx("add", "m", cwd=b).code == 0
    assert run_dvx("push", cwd=b).code == 0
    shutil.copy(b / "m.dvx", c / "m.dvx")
    assert run_dvx("checkout", "m", cwd=c).code == 0
    with open(b / "m", "w") as f:  # through B's link, as root may
        f.write("v2\n")
    assert run_dvx("add", "m", cwd=b).code == 0
    pulled = run_dvx("pull", cwd=c)
    said = " ".join(pulled.stderr.split())
    assert pulled.code == 1, pulled.output
    assert "Skipped m: the object it links to was changed through a link to it since the " \
        "last checkout, here or by a repository sharing the cache" in said, said
    assert "changes made here" not in said
    assert (c / "m").read_text() == "v1\n"


def test_an_edit_through_a_symlink_set_aside_by_another_repository_stays_modified(tmp_path):
    """A (symlink) edits its file through its link into the shared cache; B's push moves the
    changed object aside and B's commit stores the recorded bytes again under its name, so
    A's link reads them. A's status still shows the file modified and names where its edit
    went, as it does between the two; checkout skips it; `dvx add` records the edit;
    `checkout --force` discards it."""
    a, b = _sharing_a_cache(tmp_path, a="symlink", b="copy")
    store = tmp_path / "store"
    assert run_dvx("remote", "add", "-d", "store", str(store), cwd=b).code == 0
    write(b / "x", "hello\n")
    assert run_dvx("add", "x", cwd=b).code == 0
    shutil.copy(b / "x.dvx", a / "x.dvx")
    assert run_dvx("checkout", "x", cwd=a).code == 0
    with open(a / "x", "a") as f:  # through the link, as root may
        f.write("A's edit\n")
    assert run_dvx("push", cwd=b).code == 1
    before_commit = run_dvx("status", cwd=a)
    assert "x: modified" in before_commit.stdout, before_commit.output  # not "not in cache"
    assert run_dvx("commit", "x", cwd=b).code == 0
    assert (a / "x").read_text() == "hello\n"  # the recorded bytes, stored again

    status = run_dvx("status", cwd=a)
    assert status.code == 0 and "x: modified" in status.stdout, status.output
    kept = status.stderr.split("the bytes it showed are in ")[1].split(". ")[0]
    assert Path(kept).read_text() == "hello\nA's edit\n"
    assert "`dvx add x` records them" in status.stderr
    skipped = run_dvx("checkout", "x", cwd=a)
    assert skipped.code == 1 and "Skipped x" in skipped.stderr, skipped.output
    assert run_dvx("status", "-q", cwd=a).code == 1

    assert run_dvx("add", "x", cwd=a).code == 0
    assert (a / "x").read_text() == "hello\nA's edit\n"
    assert run_dvx("status", "-q", cwd=a).code == 0
    assert "moved aside" not in run_dvx("status", cwd=a).stderr

    shutil.copy(b / "x.dvx", a / "x.dvx")
    assert run_dvx("checkout", "--force", "x", cwd=a).code == 0
    assert (a / "x").read_text() == "hello\n"
    assert run_dvx("status", "-q", cwd=a).code == 0


def test_a_push_that_sets_aside_an_object_the_workspace_still_holds_advises_commit(tmp_path):
    """B (copy mode) pushes an object A changed through its link: the push fails it and says
    that B's own copy, still as recorded, is stored again by `dvx commit x`, not that only a
    remote (which never had it) brings it back; following that, the next push uploads it."""
    a, b = _sharing_a_cache(tmp_path, a="symlink", b="copy")
    assert run_dvx("remote", "add", "-d", "store", str(tmp_path / "store"), cwd=b).code == 0
    write(b / "x", "hello\n")
    assert run_dvx("add", "x", cwd=b).code == 0
    shutil.copy(b / "x.dvx", a / "x.dvx")
    assert run_dvx("checkout", "x", cwd=a).code == 0
    with open(a / "x", "a") as f:  # through the link, as root may
        f.write("more\n")

    pushed = run_dvx("push", cwd=b)
    assert pushed.code == 1 and "Failed x" in pushed.stderr, pushed.output
    said = " ".join(pushed.stderr.split())
    assert "still holds the recorded version unchanged: `dvx commit x` stores it" in said
    assert "comes back only from a remote" not in said
    assert run_dvx("commit", "x", cwd=b).code == 0
    again = run_dvx("push", cwd=b)
    assert again.code == 0 and "Pushed 1 object" in again.stdout, again.output


def test_checkout_force_of_a_link_to_an_object_set_aside_elsewhere_links_the_one_stored_again(
        tmp_path):
    """A and C link one object by symlink; B writes through its hard link to it (as root
    may) and B's add moves it aside; A's pull stores the recorded bytes again. A's
    `checkout --force`, as its status advises, links those (checked intact): nothing is moved
    aside again, and C's link still reads them."""
    a, b, c = _sharing_a_cache(tmp_path, a="symlink", b="hardlink", c="symlink")
    assert run_dvx("remote", "add", "-d", "store", str(tmp_path / "store"), cwd=a).code == 0
    write(a / "f", "good\n")
    assert run_dvx("add", "f", cwd=a).code == 0
    assert run_dvx("push", cwd=a).code == 0
    write(c / "h", "good\n")
    assert run_dvx("add", "h", cwd=c).code == 0
    write(b / "g", "good\n")
    assert run_dvx("add", "g", cwd=b).code == 0
    os.chmod(b / "g", 0o644)
    with open(b / "g", "a") as f:  # through the hard link into the shared cache
        f.write("bad\n")
    run_dvx("add", "g", cwd=b)
    quarantine = tmp_path / "shared-cache" / "quarantine"
    assert [p.read_text() for p in quarantine.iterdir()] == ["good\nbad\n"]
    run_dvx("pull", cwd=a)
    stored_again = _object_path(tmp_path, b"good\n")
    assert stored_again.read_text() == "good\n"

    forced = run_dvx("checkout", "--force", "f", cwd=a)
    assert forced.code == 0 and "moved to" not in forced.stderr, forced.output
    assert (a / "f").read_text() == "good\n"
    assert stored_again.read_text() == "good\n"
    assert [p.read_text() for p in quarantine.iterdir()] == ["good\nbad\n"]
    assert run_dvx("status", "-q", cwd=a).code == 0
    assert (c / "h").read_text() == "good\n"


def _dvx_with_umask_output(umask: int, *args: str, cwd: Path) -> str:
    proc = subprocess.run([sys.executable, "-m", "dvx", *args], cwd=cwd, capture_output=True,
                          text=True, umask=umask, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stderr


def test_a_cloned_config_s_cache_shared_leaves_the_user_s_own_cache_private(tmp_path):
    """`cache.shared group` in a cloned repository's tracked config applies to that
    project's own cache (.dvx/cache) only: the user's cache elsewhere (a global cache.dir)
    keeps the modes the user's umask gives, so a private file added in hardlink mode stays
    private, and a warning says how to share it on purpose."""
    own = tmp_path / "home-cache"
    upstream = make_git_repo(tmp_path / "upstream")
    assert run_dvx("init", cwd=upstream).code == 0
    with open(upstream / ".dvx" / "config", "a") as config:
        config.write("[cache]\nshared = group\ntype = hardlink\n")
    git(upstream, "add", "-A")
    git(upstream, "commit", "-qm", "shared cache")
    assert run_dvx("config", "--global", "cache.dir", str(own), cwd=upstream).code == 0
    git(tmp_path, "clone", "-q", str(upstream), "clone")
    clone = tmp_path / "clone"
    write(clone / "secret.csv", "private key material\n")
    os.chmod(clone / "secret.csv", 0o600)

    warned = _dvx_with_umask_output(0o077, "add", "secret.csv", cwd=clone)
    assert "cache.shared" in warned and "dvx config --global cache.shared group" in warned, \
        warned  # the global cache.dir is every repository's cache: shared there
    modes = _modes(own)
    assert all(mode & 0o077 == 0 for mode in modes["folders"] | modes["files"]), modes
    assert stat.S_IMODE((clone / "secret.csv").stat().st_mode) & 0o077 == 0

    assert run_dvx("config", "--global", "--unset", "cache.dir", cwd=clone).code == 0
    git(tmp_path, "clone", "-q", str(upstream), "second")
    second = tmp_path / "second"
    write(second / "data.csv", "shared data\n")
    quiet = _dvx_with_umask_output(0o077, "add", "data.csv", cwd=second)
    assert "cache.shared" not in quiet, quiet
    assert _modes(second / ".dvx" / "cache" / "files")["folders"] == {0o2775}


def _cloned_with_tracked_cache(tmp_path: Path, tracked: str) -> Path:
    """A clone of a project whose tracked config holds `tracked` (config lines)."""
    upstream = make_git_repo(tmp_path / "upstream")
    assert run_dvx("init", cwd=upstream).code == 0
    with open(upstream / ".dvx" / "config", "a") as config:
        config.write(tracked)
    git(upstream, "add", "-A")
    git(upstream, "commit", "-qm", "tracked cache settings")
    git(tmp_path, "clone", "-q", str(upstream), "clone")
    return tmp_path / "clone"


def test_a_cloned_config_naming_the_user_s_global_cache_dir_leaves_it_private(tmp_path):
    """A tracked cache.dir naming the very folder the user's global cache.dir names does
    not make that folder the project's: the user's own cache keeps the modes the umask
    gives, whatever the tracked cache.shared says."""
    own = Path(os.environ["HOME"]) / ".cache" / "dvx"
    clone = _cloned_with_tracked_cache(tmp_path, "[cache]\nshared = group\ndir = ~/.cache/dvx\n")
    assert run_dvx("config", "--global", "cache.dir", str(own), cwd=clone).code == 0
    write(clone / "x.txt", "x\n")

    warned = _dvx_with_umask_output(0o077, "add", "x.txt", cwd=clone)
    assert "dvx config --global cache.shared group" in warned, warned
    modes = _modes(own / "files")
    assert all(mode & 0o077 == 0 for mode in modes["folders"] | modes["files"]), modes


def test_a_cache_dir_the_clone_confirmed_locally_takes_the_tracked_cache_shared(tmp_path):
    """The tracked cache.dir, once this clone's config.local names it too, is the
    project's own cache: the tracked cache.shared group applies there, without a warning."""
    team = tmp_path / "team-cache"
    clone = _cloned_with_tracked_cache(tmp_path, f"[cache]\nshared = group\ndir = {team}\n")
    assert run_dvx("config", "--local", "cache.dir", str(team), cwd=clone).code == 0
    write(clone / "x.txt", "x\n")

    quiet = _dvx_with_umask_output(0o077, "add", "x.txt", cwd=clone)
    assert "cache.shared" not in quiet, quiet
    assert _modes(team / "files")["folders"] == {0o2775}


def test_the_way_to_confirm_a_team_cache_keeps_it_shared_with_the_group(tmp_path):
    """The refusal of a cloned cache.dir not confirmed yet names only the confirmation that
    keeps the tracked cache.shared group (this clone's config.local), never a global one,
    which makes the folder the user's own and private: following it, what this user adds
    under umask 077 stays the group's."""
    team = tmp_path / "team-cache"
    team.mkdir()
    os.chmod(team, 0o2775)
    clone = _cloned_with_tracked_cache(tmp_path, f"[cache]\nshared = group\ndir = {team}\n")
    write(clone / "x.txt", "x\n")
    refused = run_dvx("add", "x.txt", cwd=clone)
    assert refused.code == 2 and f"dvx config --local cache.dir {team}; otherwise" in \
        " ".join(refused.stderr.split()), refused.output
    assert "--global" not in refused.stderr
    assert run_dvx("config", "--local", "cache.dir", str(team), cwd=clone).code == 0
    quiet = _dvx_with_umask_output(0o077, "add", "x.txt", cwd=clone)
    assert "cache.shared" not in quiet, quiet
    assert _modes(team / "files")["folders"] == {0o2775}


def test_a_dvx_cache_linked_elsewhere_keeps_the_tracked_cache_shared(tmp_path):
    """.dvx/cache as a symbolic link to a folder elsewhere is still this repository's
    cache: the tracked cache.shared group applies to what dvx makes there, and no warning
    calls it the user's."""
    repo = make_git_repo(tmp_path / "repo")
    assert run_dvx("init", cwd=repo).code == 0
    assert run_dvx("config", "cache.shared", "group", cwd=repo).code == 0
    bigdisk = tmp_path / "bigdisk" / "cache"
    bigdisk.mkdir(parents=True)
    shutil.rmtree(repo / ".dvx" / "cache", ignore_errors=True)
    (repo / ".dvx" / "cache").symlink_to(bigdisk, target_is_directory=True)
    write(repo / "f", "hi\n")

    quiet = _dvx_with_umask_output(0o077, "add", "f", cwd=repo)
    assert "cache.shared" not in quiet, quiet
    modes = _modes(bigdisk / "files")
    assert modes["folders"] == {0o2775} and modes["files"] == {0o444}, modes


def test_no_cache_shared_warning_when_the_user_s_own_config_shares_the_cache(tmp_path):
    """A global cache.shared group shares the user's global cache.dir already: the tracked
    value saying the same is not said to be left unused."""
    team = tmp_path / "team-cache"
    clone = _cloned_with_tracked_cache(tmp_path, "[cache]\nshared = group\n")
    for key, value in (("cache.dir", str(team)), ("cache.shared", "group")):
        assert run_dvx("config", "--global", key, value, cwd=clone).code == 0
    write(clone / "f", "hi\n")

    quiet = _dvx_with_umask_output(0o077, "add", "f", cwd=clone)
    assert "cache.shared" not in quiet, quiet
    assert _modes(team / "files")["folders"] == {0o2775}
