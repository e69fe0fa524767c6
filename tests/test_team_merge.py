"""`dvx install`: Git merges pointers and dvx.lock by meaning, checks data out after it changes
branches or pulls, and pushes the data of what it pushes."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys

import pytest
import xxhash

from dvx.scm import Git, unmerged_entries
from dvx.self_command import dvx_argv
from tests.conftest import git, make_git_repo, run_dvx, run_dvx_proc, unprivileged, write
from tests.remotes import local_spec
from tests.team import Team, commit, edit, must, pasted, share


def _merge(clone, branch: str) -> subprocess.CompletedProcess[str]:
    git(clone, "fetch", "-q", "origin")
    return subprocess.run(["git", "merge", "--no-edit", branch], cwd=clone,
                          capture_output=True, text=True)


def _merge_local(clone, branch: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "merge", "--no-edit", branch], cwd=clone,
                          capture_output=True, text=True)


def _installed_team(tmp_path) -> tuple[Team, object]:
    team = Team(tmp_path)
    alice = team.founder()
    must("install", cwd=alice)
    for i in range(1, 6):
        write(alice / "images" / f"f{i}.txt", f"image {i}\n")
    write(alice / "raw.csv", "v1\n")
    must("add", "images", "raw.csv", cwd=alice)
    share(alice, "five images")
    return team, alice


def _bob(team: Team):
    bob = team.clone("bob")
    must("install", cwd=bob)
    git(bob, "checkout", "-q", "-b", "bob")
    return bob


def _images_changed_on_both_sides(tmp_path) -> tuple[Team, object]:
    """bob changes images/f1.txt and f3.txt and shares them on his branch bob; alice changes
    f1.txt and f2.txt and commits them on main, unshared: a merge or rebase of origin/bob
    then conflicts on f1.txt."""
    team, alice = _installed_team(tmp_path)
    bob = _bob(team)
    edit(bob, "images/f1.txt", "bob's f1\n")
    edit(bob, "images/f3.txt", "bob's f3\n")
    must("add", "images", cwd=bob)
    share(bob, "bob")
    edit(alice, "images/f1.txt", "alice's f1\n")
    edit(alice, "images/f2.txt", "alice's f2\n")
    must("add", "images", cwd=alice)
    commit(alice, "alice")
    return team, alice


def test_install_is_idempotent_keeps_existing_hooks_and_uninstalls(repo, dvx):
    hooks = repo / ".git" / "hooks"
    write(hooks / "post-checkout",
          "#!/bin/sh\necho \"$@\" >> \"$(git rev-parse --git-dir)/mine\"\n")
    os.chmod(hooks / "post-checkout", 0o755)
    first = dvx("install")
    assert first.code == 0 and "Your existing post-checkout hook still runs" in first.stdout
    assert dvx("install").code == 0
    write(hooks / "post-checkout", "#!/bin/sh\necho a second hook of mine\n")  # over ours
    refused = dvx("install")
    assert refused.code == 2 and "post-checkout.dvx-chained" in refused.stderr
    assert "mine" in (hooks / "post-checkout.dvx-chained").read_text()  # the first one kept
    os.unlink(hooks / "post-checkout")
    assert dvx("install").code == 0
    attributes = (repo / ".gitattributes").read_text()
    assert attributes == "*.dvx merge=dvx\n/dvx.lock merge=dvx\n.gitignore merge=dvx\n"
    assert "git-hook merge-driver" in git(repo, "config", "merge.dvx.driver")
    for name in ("post-checkout", "post-commit", "post-merge", "post-rewrite", "pre-commit",
                 "pre-merge-commit", "pre-push"):
        assert os.access(hooks / name, os.X_OK)
    os.unlink(hooks / "post-commit")  # a clone set up by a dvx that had no such hook
    assert dvx("install").stdout.startswith("Installed: hooks/post-commit\n")
    git(repo, "commit", "-q", "--allow-empty", "-m", "one")
    git(repo, "checkout", "-q", "-b", "other")
    assert (repo / ".git" / "mine").read_text().count("\n") == 1  # the user's hook ran
    uninstalled = dvx("install", "--uninstall")
    assert uninstalled.code == 0
    assert "git add" not in uninstalled.stdout  # .gitattributes never committed: nothing to add
    assert not (repo / ".gitattributes").exists()
    assert "echo" in (hooks / "post-checkout").read_text()  # the user's own hook is back
    assert not (hooks / "pre-push").exists() and not (hooks / "post-commit").exists()
    assert not (hooks / "pre-commit").exists() and not (hooks / "pre-merge-commit").exists()
    assert subprocess.run(["git", "config", "merge.dvx.driver"], cwd=repo).returncode == 1


def test_install_in_a_submodule_names_the_git_config_it_writes(tmp_path):
    """A submodule's `.git` is a file: its config and exclude file are in the
    superproject's `.git/modules/NAME`, and `dvx install` there names those files, where Git
    reads them, never a `.git/config` that does not exist."""
    sub = make_git_repo(tmp_path / "sub")
    assert run_dvx("init", cwd=sub).code == 0
    commit(sub, "sub")
    top = make_git_repo(tmp_path / "top")
    git(top, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(sub), "S")
    commit(top, "with a submodule")
    inside = top / "S"
    installed = run_dvx_proc("install", cwd=inside)
    assert installed.code == 0, installed.output
    git_dir = os.path.realpath(top / ".git" / "modules" / "S")
    assert f'{git_dir}/config [merge "dvx"]' in installed.stdout, installed.stdout
    assert f"{git_dir}/info/exclude (dvx's temporary files)" in installed.stdout
    assert ".git/config" not in installed.stdout.replace(f"{git_dir}/config", "")
    written = git(inside, "config", "--show-origin", "--get", "merge.dvx.name")
    assert written.startswith(f"file:{git_dir}/config\t"), written


def test_the_hook_script_is_pinned_so_hooks_installed_earlier_stay_dvx_s():
    """A changed `_script` without its present form kept in WRITTEN_SCRIPTS would make every
    hook installed before it look edited by its user, and install refuse to replace it."""
    from dvx.ops.install import WRITTEN_SCRIPTS, _as_dvx_wrote_it, _script

    marker = "# dvx: installed by `dvx install`; `dvx install --uninstall` removes it.\n"
    assert _script("post-checkout", "DVX") == (
        '#!/bin/sh\n' + marker + 'if [ -x "$0.dvx-chained" ]; then\n'
        '    "$0.dvx-chained" "$@" || exit $?\nfi\nexec DVX git-hook post-checkout "$@"\n')
    assert _script("post-commit", "DVX") == (
        '#!/bin/sh\n' + marker + 'if [ -x "$0.dvx-chained" ]; then\n'
        '    "$0.dvx-chained" "$@" || exit $?\nfi\n'
        "git rev-parse -q --verify 'HEAD^2' >/dev/null || exit 0\n"
        'exec DVX git-hook post-commit "$@"\n')
    assert _script("pre-commit", "DVX") == (
        '#!/bin/sh\n' + marker + 'if [ -x "$0.dvx-chained" ]; then\n'
        '    "$0.dvx-chained" "$@" || exit $?\nfi\nexec DVX git-hook pre-commit "$@"\n')
    assert _script in WRITTEN_SCRIPTS
    for script in WRITTEN_SCRIPTS:
        for name in ("pre-push", "post-commit", "pre-commit", "pre-merge-commit"):
            assert _as_dvx_wrote_it(script(name, "/opt/venv/bin/dvx").encode(), name)


def _git_commit(clone, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "commit", *args], cwd=clone, capture_output=True, text=True)


def test_pre_commit_refuses_data_git_no_longer_ignores_and_passes_code(repo, dvx):
    """Data whose .gitignore entries went (a hand edit here), taken by `git add -A` or `git
    commit -a`, is refused, each tracked path named with the way out; a commit of code
    passes, and so does --no-verify."""
    assert dvx("install").code == 0
    write(repo / "data" / "a.csv", "a\n")
    for i in range(1, 6):
        write(repo / "images" / f"f{i}.png", f"{i}\n")
    assert dvx("add", "data/a.csv", "images").code == 0
    write(repo / "train.py", "print('v1')\n")
    commit(repo, "v1")  # pointers, .gitignore files and code
    write(repo / "train.py", "print('v2')\n")
    assert _git_commit(repo, "-qam", "code").returncode == 0

    (repo / "data" / ".gitignore").write_text("")
    (repo / ".gitignore").write_text("")
    git(repo, "add", "-A")
    before = git(repo, "rev-parse", "HEAD")
    refused = _git_commit(repo, "-m", "oops")
    assert refused.returncode == 1 and git(repo, "rev-parse", "HEAD") == before
    assert "dvx stopped the commit" in refused.stderr
    assert "    data/a.csv: the data of data/a.csv.dvx\n" in refused.stderr
    assert ("    images: the data of images.dvx; staged: images/f1.png, images/f2.png, "
            "images/f3.png and 2 more\n") in refused.stderr
    assert "`git rm -r --cached -- data/a.csv images`" in refused.stderr
    assert "`dvx checkout data/a.csv images`" in refused.stderr
    assert "`git commit --no-verify`" in refused.stderr

    git(repo, "rm", "-r", "-q", "--cached", "--", "data/a.csv", "images")  # the way out
    checkout = dvx("checkout", "data/a.csv", "images")
    assert checkout.code == 0 and "Wrote again the .gitignore entry" in checkout.output
    git(repo, "add", "-A")
    assert git(repo, "status", "--porcelain") == ""  # as committed: nothing for Git

    git(repo, "add", "-f", "data/a.csv")  # on purpose: contradicts the pointer all the same
    assert "data/a.csv.dvx" in _git_commit(repo, "-m", "forced").stderr
    assert _git_commit(repo, "-q", "--no-verify", "-m", "forced").returncode == 0
    assert git(repo, "ls-files", "data").split() == ["data/.gitignore", "data/a.csv",
                                                     "data/a.csv.dvx"]
    edit(repo, "data/a.csv", "a, changed\n")
    refused = _git_commit(repo, "-am", "a changed")  # Git tracks it now: -a stages it
    assert refused.returncode == 1 and "data/a.csv: the data of" in refused.stderr


def _folder_in_git_here_and_tracked_by_dvx_there(repo, dvx) -> str:
    """Branch `theirs` commits the folder d to Git (d/f1, d/f2); main, after it, tracks its
    own d with `dvx add` (d/f1, d/f3). Returns main's commit: a merge of theirs into main
    holds the pointer d.dvx and Git-tracked files at d."""
    assert dvx("install").code == 0
    write(repo / "notes.txt", "base\n")
    commit(repo, "base")
    git(repo, "checkout", "-q", "-b", "theirs")
    write(repo / "d" / "f1", "one\n")
    write(repo / "d" / "f2", "two\n")
    commit(repo, "d in Git")
    git(repo, "checkout", "-q", "main")
    write(repo / "d" / "f1", "one\n")
    write(repo / "d" / "f3", "three\n")
    assert dvx("add", "d").code == 0
    commit(repo, "d tracked by dvx")
    return git(repo, "rev-parse", "HEAD")


def test_a_merge_commit_holding_a_pointer_and_git_tracked_data_at_its_path_is_stopped(
        repo, dvx):
    """The commit `git merge` makes itself runs no pre-commit hook but pre-merge-commit:
    dvx's stops it as pre-commit stops any other (same message, same way out), Git keeps the
    merge going, and the `git commit` that follows the way out concludes it."""
    before = _folder_in_git_here_and_tracked_by_dvx_there(repo, dvx)
    stopped = _merge_local(repo, "theirs")
    assert stopped.returncode == 1, stopped.stdout + stopped.stderr
    assert git(repo, "rev-parse", "HEAD") == before
    assert "ERROR: dvx stopped the commit: it would put into Git data that dvx tracks" \
        in stopped.stderr
    assert "    d: the data of d.dvx; staged: d/f1, d/f2\n" in stopped.stderr
    assert "`git rm -r --cached -- d`" in stopped.stderr
    assert (repo / ".git" / "MERGE_HEAD").exists()  # still merging: `git commit` concludes
    refused = _git_commit(repo, "--no-edit")  # the same check, by pre-commit this time
    assert refused.returncode == 1 and "    d: the data of d.dvx" in refused.stderr

    git(repo, "rm", "-r", "-q", "--cached", "--", "d")  # the way out named, keeping dvx's d
    assert dvx("commit", "d").code == 0  # d as the merge left it: f1, f2 and f3
    git(repo, "add", "-A")
    concluded = _git_commit(repo, "--no-edit")
    assert concluded.returncode == 0, concluded.stderr
    assert git(repo, "rev-parse", "HEAD^2") == git(repo, "rev-parse", "theirs")
    assert git(repo, "ls-files", "d").split() == []
    assert dvx("status", "-q").code == 0


@pytest.mark.parametrize("way", ["checkout", "abort"])
def test_a_stopped_merge_s_ways_out_keep_the_pointer_s_data_as_named(repo, dvx, way):
    """The stopped merge names `dvx checkout --force d` (a plain checkout leaves theirs d/f2
    as a change not in the cache), and `git merge --abort`, after which `dvx checkout`
    places again the d/f1 the abort deleted: each, run as named, leaves d as the pointer
    records it."""
    _folder_in_git_here_and_tracked_by_dvx_there(repo, dvx)
    stopped = _merge_local(repo, "theirs")
    assert stopped.returncode == 1
    assert "`dvx checkout --force d` (which places the recorded data" in stopped.stderr
    assert "`git merge --abort` undoes the merge instead, then `dvx checkout` places again " \
        "the data the abort deleted." in stopped.stderr
    if way == "checkout":
        git(repo, "rm", "-r", "-q", "--cached", "--", "d")
        assert dvx("checkout", "--force", "d").code == 0
        git(repo, "add", "-A")
        concluded = _git_commit(repo, "--no-edit")
        assert concluded.returncode == 0, concluded.stderr
        assert git(repo, "rev-parse", "HEAD^2") == git(repo, "rev-parse", "theirs")
        assert git(repo, "show", "theirs:d/f2") == "two\n"  # theirs stays in Git's history
    else:
        git(repo, "merge", "--abort")
        assert dvx("checkout", "d").code == 0
    assert sorted(os.listdir(repo / "d")) == ["f1", "f3"]
    assert git(repo, "ls-files", "d").split() == []
    assert dvx("status", "-q").code == 0


def test_a_cherry_pick_s_commit_of_data_dvx_tracks_names_the_cherry_pick_s_ways_out(
        repo, dvx):
    """A cherry-pick of the commit putting d into Git, stopped on another file: the commit
    `git cherry-pick --continue` makes is stopped as a merge's is, with `dvx checkout
    --force d` (a plain checkout leaves its d/f2 as a change not in the cache) and the
    cherry-pick's own abort; each, pasted, leaves d as the pointer records it."""
    _folder_in_git_here_and_tracked_by_dvx_there(repo, dvx)
    git(repo, "checkout", "-q", "theirs")
    write(repo / "notes.txt", "theirs\n")
    git(repo, "commit", "-qa", "--amend", "--no-edit")
    git(repo, "checkout", "-q", "main")
    write(repo / "notes.txt", "main\n")
    commit(repo, "notes on main")
    picked = subprocess.run(["git", "cherry-pick", "theirs"], cwd=repo, capture_output=True,
                            text=True)
    assert picked.returncode == 1 and "notes.txt" in picked.stdout, picked.stdout
    write(repo / "notes.txt", "both\n")
    git(repo, "add", "notes.txt")
    env = {**os.environ, "GIT_EDITOR": "true"}
    stopped = subprocess.run(["git", "cherry-pick", "--continue"], cwd=repo,
                             capture_output=True, text=True, env=env)
    assert stopped.returncode == 1, stopped.stdout + stopped.stderr
    said = " ".join(stopped.stderr.split())
    assert "    d: the data of d.dvx; staged: d/f1, d/f2\n" in stopped.stderr, said
    assert "`dvx checkout --force d` (which places the recorded data, replacing what the " \
        "cherry-pick left there" in said, said
    assert "`git cherry-pick --abort` undoes the cherry-pick instead, then `dvx checkout` " \
        "places again the data the abort deleted." in said, said
    assert "git merge --abort" not in said, said

    git(repo, "rm", "-r", "-q", "--cached", "--", "d")
    assert dvx("checkout", "--force", "d").code == 0
    git(repo, "add", "-A")
    went_on = subprocess.run(["git", "cherry-pick", "--continue"], cwd=repo,
                             capture_output=True, text=True, env=env)
    assert went_on.returncode == 0, went_on.stdout + went_on.stderr
    assert git(repo, "ls-files", "d").split() == []
    assert sorted(os.listdir(repo / "d")) == ["f1", "f3"]
    assert dvx("status", "-q").code == 0


def test_a_merge_of_a_pointer_into_the_side_whose_git_holds_its_data_is_stopped(repo, dvx):
    """The other direction: theirs tracks d with `dvx add`, main has d/f1 and d/f2 in Git.
    The merge stages only d.dvx and .gitignore, Git holding the files already: the pointer
    the merge adds is checked against the files Git's index holds at its data."""
    assert dvx("install").code == 0
    write(repo / "notes.txt", "base\n")
    commit(repo, "base")
    git(repo, "checkout", "-q", "-b", "theirs")
    write(repo / "d" / "f1", "one\n")
    write(repo / "d" / "f3", "three\n")
    assert dvx("add", "d").code == 0
    commit(repo, "d tracked by dvx")
    git(repo, "checkout", "-q", "main")  # its hook takes d away
    write(repo / "d" / "f1", "one\n")
    write(repo / "d" / "f2", "two\n")
    commit(repo, "d in Git")
    before = git(repo, "rev-parse", "HEAD")
    stopped = _merge_local(repo, "theirs")
    assert stopped.returncode == 1, stopped.stdout + stopped.stderr
    assert git(repo, "rev-parse", "HEAD") == before
    assert "    d: the data of d.dvx; staged: d/f1, d/f2\n" in stopped.stderr
    assert "`git rm -r --cached -- d`" in stopped.stderr
    assert (repo / ".git" / "MERGE_HEAD").exists()


def _file_in_git_on_one_side_and_tracked_by_dvx_on_the_other(repo, dvx, dvx_side: str
                                                             ) -> None:
    """The file 'f c.csv' committed to Git on one branch and tracked with `dvx add` on the
    other (`dvx_side`: "main" or "theirs"); main is checked out, to merge theirs."""
    assert dvx("install").code == 0
    write(repo / "notes.txt", "base\n")
    commit(repo, "base")
    for branch in ("theirs", "main"):
        git(repo, "checkout", "-q", *(["-b"] if branch == "theirs" else []), branch)
        if branch == dvx_side:
            write(repo / "f c.csv", "dvx's\n")
            assert dvx("add", "f c.csv").code == 0
        else:
            write(repo / "f c.csv", "Git's\n")
        commit(repo, f"f c.csv on {branch}")


@pytest.mark.parametrize("way", ["checkout", "commit"])
@pytest.mark.parametrize("dvx_side", ["main", "theirs"])
def test_a_modify_delete_conflict_over_data_git_held_names_the_merge_s_ways_out(
        repo, dvx, dvx_side, way):
    """'f c.csv', in Git at the merge base, changed in Git on one side and tracked with `dvx
    add` on the other: the merge stops on a modify/delete conflict, Git's index holding the
    file unmerged. `dvx status` and `dvx checkout` name it as such, with the ways out the
    pre-commit hook names for such a merge, never `git add -f` nor renaming the pointer
    (named once quoted); pasted, each concludes the merge with the file out of Git."""
    assert dvx("install").code == 0
    write(repo / "f c.csv", "base\n")
    commit(repo, "f c.csv in Git")
    for branch in ("theirs", "main"):
        git(repo, "checkout", "-q", *(["-b"] if branch == "theirs" else []), branch)
        if branch == dvx_side:
            git(repo, "rm", "-q", "--cached", "f c.csv")
            write(repo / "f c.csv", "dvx's\n")
            assert dvx("add", "f c.csv").code == 0
        else:
            write(repo / "f c.csv", "Git's\n")
        commit(repo, f"f c.csv on {branch}")
    stopped = _merge_local(repo, "theirs")
    assert stopped.returncode == 1 and "CONFLICT (modify/delete)" in stopped.stdout, \
        stopped.stdout + stopped.stderr
    ways = ("`git rm -r --cached -- 'f c.csv'` takes it out of Git and keeps the files, then "
            "`dvx checkout --force 'f c.csv'` places the recorded data (replacing what the "
            "merge left there, which Git's history keeps) or `dvx commit 'f c.csv'` records "
            "what the merge left there as the data; `git add` the .gitignore they change, then "
            "`git commit` concludes the merge; or `git merge --abort` undoes the merge, then "
            "`dvx checkout` places the data again")
    unmerged = ("tracked by Git too (it is unmerged in the Git index: a merge stopped over it, "
                "one side tracking it with dvx and the other committing it to Git)")
    for command in (("status",), ("checkout", "f c.csv")):
        said = " ".join(dvx(*command).output.split())
        assert unmerged in said and ways in said, said
        assert "git add -f" not in said and "git mv" not in said and "''" not in said, said
    named = re.findall(r"`((?:git rm|dvx checkout|dvx commit) [^`]*)`", ways)
    pasted(named[0], repo)
    pasted(named[1 if way == "checkout" else 2], repo)
    git(repo, "add", ".gitignore")
    concluded = _git_commit(repo, "--no-edit")
    assert concluded.returncode == 0, concluded.stdout + concluded.stderr
    assert git(repo, "ls-files", "f c.csv") == ""
    assert (repo / "f c.csv").read_text() == ("dvx's\n" if way == "checkout" else "Git's\n")
    assert dvx("status", "-q").code == 0, dvx("status").output


_STOPPED_OVER = {
    "rebase": ("`git rebase --continue` goes on with the rebase", "`git rebase --abort` undoes "
               "the rebase"),
    "cherry-pick": ("`git cherry-pick --continue` goes on with the cherry-pick",
                    "`git cherry-pick --abort` undoes the cherry-pick")}


@pytest.mark.parametrize("way", ["go on", "abort"])
@pytest.mark.parametrize("how", ["rebase", "cherry-pick"])
def test_a_rebase_or_cherry_pick_stopped_over_data_git_held_names_its_own_ways_out(
        repo, dvx, how, way):
    """'f c.csv', in Git at the base, changed in Git on theirs and tracked with `dvx add` on
    main: a rebase of main onto theirs, or a cherry-pick of theirs onto main, stops on a
    modify/delete conflict as a merge does. `dvx status`, `dvx checkout` and `dvx move` name
    the operation that stopped and its own ways on and out, never the merge's (`git merge
    --abort` fails there); pasted, each ends the operation with the file out of Git."""
    assert dvx("install").code == 0
    write(repo / "f c.csv", "base\n")
    commit(repo, "f c.csv in Git")
    git(repo, "checkout", "-q", "-b", "theirs")
    write(repo / "f c.csv", "Git's\n")
    commit(repo, "f c.csv changed in Git")
    git(repo, "checkout", "-q", "main")
    git(repo, "rm", "-q", "--cached", "f c.csv")
    write(repo / "f c.csv", "dvx's\n")
    assert dvx("add", "f c.csv").code == 0
    commit(repo, "f c.csv tracked by dvx")
    stopped = subprocess.run(["git", how, "theirs"], cwd=repo, capture_output=True, text=True)
    assert stopped.returncode == 1 and "CONFLICT (modify/delete)" in stopped.stdout, \
        stopped.stdout + stopped.stderr
    go_on, abort = _STOPPED_OVER[how]
    unmerged = (f"is unmerged in the Git index: a {how} stopped over it, one side tracking it "
                "with dvx and the other committing it to Git)")
    ways = (f"`dvx checkout --force 'f c.csv'` places the recorded data (replacing what the "
            f"{how} left there, which Git's history keeps) or `dvx commit 'f c.csv'` records "
            f"what the {how} left there as the data; `git add` the .gitignore they change, "
            f"then {go_on}; or {abort}, then `dvx checkout` places the data again")
    for command in (("status",), ("checkout", "f c.csv"), ("move", "f c.csv", "g.csv")):
        said = " ".join(dvx(*command).output.split())
        assert unmerged in said and ways in said, (command, said)
        assert "merge" not in said.replace("merged", ""), (command, said)
    assert not (repo / "g.csv.dvx").exists()

    if way == "abort":
        pasted(re.search(r"`(git \S+ --abort)`", abort).group(1), repo)
        assert dvx("checkout").code == 0
    else:
        pasted("git rm -r --cached -- 'f c.csv'", repo)
        # The cherry-picked commit's change is Git's version: recorded as the data, it is
        # what the commit brings (the recorded data placed would leave it empty)
        pasted("dvx checkout --force 'f c.csv'" if how == "rebase" else "dvx commit 'f c.csv'",
               repo)
        git(repo, "add", ".gitignore", "f c.csv.dvx")  # as the command's own output says
        went_on = subprocess.run(shlex.split(re.search(r"`([^`]*)`", go_on).group(1)),
                                 cwd=repo, capture_output=True, text=True,
                                 env={**os.environ, "GIT_EDITOR": "true"})
        assert went_on.returncode == 0, went_on.stdout + went_on.stderr
        assert git(repo, "log", "-1", "--format=%s", "HEAD^").strip() == \
            ("f c.csv changed in Git" if how == "rebase" else "f c.csv tracked by dvx")
    assert not (repo / ".git" / "CHERRY_PICK_HEAD").exists()
    assert not (repo / ".git" / "rebase-merge").exists()
    assert git(repo, "ls-files", "f c.csv") == ""
    kept = "Git's\n" if (how, way) == ("cherry-pick", "go on") else "dvx's\n"
    assert (repo / "f c.csv").read_text() == kept
    assert dvx("status", "-q").code == 0, dvx("status").output


def test_a_commit_at_a_rebase_s_edit_stop_is_not_offered_a_forced_checkout_of_the_user_s_files(
        repo, dvx):
    """A rebase stopped at an `edit` line brings no other side's files: a file the user
    stages into tracked data there is theirs, so the pre-commit hook names the plain `dvx
    checkout` that keeps it, never the `--force` that would delete it (as for a merge's)."""
    assert dvx("install").code == 0
    write(repo / "d" / "a.txt", "a\n")
    assert dvx("add", "d").code == 0
    commit(repo, "d")
    write(repo / "notes.txt", "n\n")
    commit(repo, "notes")
    edit_first = "sed -i '1s/^pick/edit/'"
    stopped = subprocess.run(["git", "rebase", "-q", "-i", "HEAD~1"], cwd=repo, text=True,
                             capture_output=True, env={**os.environ,
                                                       "GIT_SEQUENCE_EDITOR": edit_first})
    assert stopped.returncode == 0 and (repo / ".git" / "rebase-merge").exists(), stopped.stderr
    write(repo / "d" / "mine.txt", "mine, never committed\n")
    git(repo, "add", "-f", "d/mine.txt")
    refused = subprocess.run(["git", "commit", "-qm", "mine"], cwd=repo, capture_output=True,
                             text=True)
    said = " ".join(refused.stderr.split())
    assert refused.returncode == 1 and "`dvx checkout d`" in said, said
    assert "--force" not in said and "rebase --abort" not in said, said
    git(repo, "rebase", "--abort")


@pytest.mark.parametrize("way", ["checkout", "commit"])
@pytest.mark.parametrize("dvx_side", ["main", "theirs"])
def test_a_merge_stopped_over_a_file_names_ways_out_that_work_as_pasted(repo, dvx, dvx_side,
                                                                        way):
    """A file tracked by dvx on one side of a merge and committed to Git on the other: what
    the merge leaves there is Git's version, a change a plain `dvx checkout` refuses to
    discard. The stopped merge names `dvx checkout --force` (the recorded data) and `dvx
    commit` (Git's version as the data), in both directions; each, pasted with the `git rm`
    before it, concludes the merge with the file out of Git."""
    _file_in_git_on_one_side_and_tracked_by_dvx_on_the_other(repo, dvx, dvx_side)
    stopped = _merge_local(repo, "theirs")
    said = " ".join(stopped.stderr.split())
    assert stopped.returncode == 1 and "    f c.csv: the data of f c.csv.dvx\n" in \
        stopped.stderr, stopped.stdout + stopped.stderr
    named = re.findall(r"`((?:git rm|dvx checkout|dvx commit) [^`]*)`", said)
    assert named == ["git rm -r --cached -- 'f c.csv'", "dvx checkout --force 'f c.csv'",
                     "dvx commit 'f c.csv'"], said
    pasted(named[0], repo)
    pasted(named[1 if way == "checkout" else 2], repo)
    git(repo, "add", ".gitignore")
    concluded = _git_commit(repo, "--no-edit")
    assert concluded.returncode == 0, concluded.stderr
    assert git(repo, "rev-parse", "HEAD^2") == git(repo, "rev-parse", "theirs")
    assert git(repo, "ls-files", "f c.csv") == ""
    assert (repo / "f c.csv").read_text() == ("dvx's\n" if way == "checkout" else "Git's\n")
    assert dvx("status", "-q").code == 0


def test_a_merge_commit_of_data_dvx_tracks_goes_on_with_no_verify(repo, dvx):
    """The merge the pre-merge-commit hook stops is made as it is by `git merge --no-verify`,
    which runs no hook: dvx stops nothing and says nothing of it."""
    before = _folder_in_git_here_and_tracked_by_dvx_there(repo, dvx)
    stopped = _merge_local(repo, "theirs")
    assert stopped.returncode == 1 and "dvx stopped" in stopped.stderr
    git(repo, "merge", "--abort")
    merged = subprocess.run(["git", "merge", "--no-edit", "--no-verify", "theirs"], cwd=repo,
                            capture_output=True, text=True)
    assert merged.returncode == 0, merged.stderr
    assert "dvx stopped" not in merged.stderr
    assert git(repo, "rev-parse", "HEAD^1") == before
    assert git(repo, "rev-parse", "HEAD^2") == git(repo, "rev-parse", "theirs")


def test_pre_commit_refuses_cached_stage_outputs_and_passes_those_git_keeps(repo, dvx):
    """A stage's cached output (recorded in dvx.lock, or declared in dvx.yaml by a stage not
    run yet) is data dvx keeps; a `cache: false` one is Git's."""
    assert dvx("install").code == 0
    write(repo / "in.txt", "1\n")
    write(repo / "dvx.yaml",
          "stages:\n  a:\n    cmd: cp in.txt model.bin && cp in.txt metrics.json\n"
          "    deps: [in.txt]\n    outs: [model.bin, {metrics.json: {cache: false}}]\n"
          "  b:\n    cmd: cp in.txt later.bin\n    deps: [in.txt]\n    outs: [later.bin]\n")
    assert dvx("repro", "a").code == 0
    commit(repo, "a ran")
    assert "metrics.json" in git(repo, "ls-files").split()
    write(repo / "metrics.json", "2\n")  # Git's, changed
    assert _git_commit(repo, "-qam", "metrics").returncode == 0

    write(repo / "later.bin", "by hand\n")  # b's, made without dvx
    (repo / ".gitignore").write_text("")
    git(repo, "add", "-A")
    refused = _git_commit(repo, "-m", "oops")
    assert refused.returncode == 1
    assert "    model.bin: an output of stage 'a' (dvx.lock)\n" in refused.stderr
    assert "    later.bin: an output of stage 'b' (dvx.yaml)\n" in refused.stderr
    assert "metrics.json" not in refused.stderr
    assert "`dvx checkout model.bin` (or" in refused.stderr
    assert "`dvx repro b`, which records its outputs" in refused.stderr


def test_pre_commit_says_why_a_stage_output_not_run_yet_is_refused(repo, dvx):
    """The output of a stage no run recorded never had a .gitignore entry to lose."""
    assert dvx("install").code == 0
    write(repo / "dvx.yaml", "stages:\n  train:\n    cmd: echo w > model.bin\n"
          "    outs: [model.bin]\n")
    commit(repo, "pipeline")
    write(repo / "model.bin", "made by hand\n")
    git(repo, "add", "model.bin")
    refused = _git_commit(repo, "-m", "model")
    assert refused.returncode == 1
    assert ("it would put into Git outputs of stages that no run recorded yet, which dvx keeps "
            "out of Git all the same (it writes the .gitignore entry of a stage's output when "
            "the stage runs):\n") in refused.stderr
    assert "dropped its .gitignore entry" not in refused.stderr
    assert "write its .gitignore entries with `dvx repro train`" in refused.stderr


def test_pre_commit_warns_and_lets_the_commit_go_on_when_it_cannot_read_dvx_yaml_or_lock(
        repo, dvx):
    """Where dvx cannot tell what is a stage's output, it says so and stops nothing."""
    assert dvx("install").code == 0
    write(repo / "dvx.yaml", "stages:\n  train:\n    cmd: echo w > model.bin\n"
          "    deps: [train.py\n    outs: [model.bin]\n")  # the bracket left open
    commit(repo, "pipeline")
    write(repo / "model.bin", "made by hand\n")
    git(repo, "add", "model.bin")
    done = _git_commit(repo, "-qm", "model")
    assert done.returncode == 0, done.stderr
    assert done.stderr.startswith(
        "WARNING: dvx could not read dvx.yaml, so it did not check whether this commit puts "
        "into Git the stage outputs dvx.yaml declares: The pipeline file ")
    assert "is not valid YAML" in done.stderr and done.stderr.count("\n") == 1
    assert "model.bin" in git(repo, "ls-tree", "--name-only", "HEAD").split()

    write(repo / "dvx.lock", "<<<<<<< HEAD\nschema: '2.0'\n=======\n>>>>>>> other\n")
    write(repo / "model.bin", "made again\n")
    git(repo, "add", "model.bin")
    done = _git_commit(repo, "-qm", "model again")
    assert done.returncode == 0, done.stderr
    assert "WARNING: dvx could not read dvx.lock, " in done.stderr
    assert "dvx.lock holds an unresolved Git merge conflict" in done.stderr


def test_pre_commit_refuses_a_pointer_or_dvx_lock_staged_with_conflict_markers(repo, dvx):
    """A conflict `git add` marked resolved while its markers stay: each file is named, with
    the commands that resolve it, from the folder the commit was made in."""
    assert dvx("install").code == 0
    write(repo / "data" / "a.csv", "a\n")
    assert dvx("add", "data/a.csv").code == 0
    commit(repo, "a.csv")
    pointer = (repo / "data" / "a.csv.dvx").read_text()
    write(repo / "data" / "a.csv.dvx",
          f"<<<<<<< HEAD\n{pointer}=======\n{pointer.replace('size: 2', 'size: 3')}"
          ">>>>>>> theirs\n")
    write(repo / "dvx.lock", "<<<<<<< HEAD\ndvx: 1\n=======\n>>>>>>> theirs\n")
    git(repo, "add", "data/a.csv.dvx", "dvx.lock")
    refused = _git_commit(repo / "data", "-qm", "resolved?")
    assert refused.returncode == 1
    assert "files that still hold a merge's conflict markers" in refused.stderr
    assert ("    data/a.csv.dvx: this side's version and the other side's\n"
            "    dvx.lock: this side's version and the other side's\n") in refused.stderr
    assert ("Keep one version of each (delete the other and the marker lines), run `dvx pull "
            "a.csv` (which fetches the data of the version kept and places it) and `dvx "
            "repro` (which brings dvx.lock up to date), `git add -- a.csv.dvx ../dvx.lock`, "
            "and commit again.") in refused.stderr
    assert git(repo, "log", "--format=%s", "-1").strip() == "a.csv"
    assert _git_commit(repo, "-qnm", "as it is").returncode == 0  # --no-verify


def test_pre_commit_passes_data_whose_pointer_the_same_commit_removes(repo, dvx):
    """`dvx remove` keeps the data and drops its pointer and .gitignore entry: committing
    the data with the pointer's removal moves it into Git. The hook names those files, and
    the risk for teammates: their `git pull` overwrites unrecorded changes Git ignored."""
    assert dvx("install").code == 0
    write(repo / "data" / "a.csv", "a\n")
    for i in range(1, 5):
        write(repo / "images" / f"f{i}.png", f"{i}\n")
    assert dvx("add", "data/a.csv", "images").code == 0
    commit(repo, "tracked by dvx")
    write(repo / "code.py", "print('v1')\n")
    git(repo, "add", "code.py")
    quiet = _git_commit(repo, "-qm", "code")
    assert quiet.returncode == 0 and "WARNING" not in quiet.stderr, quiet.stderr
    assert dvx("remove", "data/a.csv.dvx", "images.dvx").code == 0
    git(repo, "add", "-A")
    done = _git_commit(repo, "-qm", "into Git")
    assert done.returncode == 0, done.stderr
    assert git(repo, "ls-files", "data").split() == ["data/a.csv"]  # the .gitignore went too
    assert "WARNING: this commit puts into Git the files of data dvx tracked until now" \
        in done.stderr
    assert "    data/a.csv: the data of data/a.csv.dvx; staged: data/a.csv\n" in done.stderr
    assert ("    images: the data of images.dvx; staged: images/f1.png, images/f2.png, "
            "images/f3.png and 1 more\n") in done.stderr
    assert "A teammate's `git pull` of this commit overwrites" in done.stderr
    assert "`git rm -r --cached -- data/a.csv images`" in done.stderr


@pytest.mark.parametrize("conflict", [False, True])
def test_a_merge_of_a_commit_that_gave_data_to_git_gives_no_warning(repo, dvx, conflict):
    """A teammate's commit that gave images to Git (`dvx remove images.dvx`, `git add -A`)
    warned its author; merging it, cleanly or by the `git commit` concluding a merge stopped
    on another file, only brings those files, and warns nobody."""
    assert dvx("install").code == 0
    for i in range(1, 3):
        write(repo / "images" / f"f{i}.png", f"{i}\n")
    write(repo / "notes.txt", "base\n")
    assert dvx("add", "images").code == 0
    commit(repo, "images tracked by dvx")
    git(repo, "checkout", "-q", "-b", "bob")
    assert dvx("remove", "images.dvx").code == 0
    write(repo / "notes.txt", "bob\n")
    git(repo, "add", "-A")
    given = _git_commit(repo, "-qm", "images into Git")
    assert "WARNING: this commit puts into Git" in given.stderr, given.stderr
    git(repo, "checkout", "-q", "main")
    write(repo / "notes.txt", "main\n" if conflict else "base\n")
    write(repo / "other.txt", "main\n")
    commit(repo, "main")
    merged = _merge_local(repo, "bob")
    if conflict:
        assert merged.returncode == 1 and "CONFLICT" in merged.stdout, merged.stdout
        write(repo / "notes.txt", "both\n")
        git(repo, "add", "notes.txt")
        merged = _git_commit(repo, "--no-edit")
    assert merged.returncode == 0, merged.stderr
    assert "WARNING" not in merged.stderr, merged.stderr
    assert git(repo, "rev-parse", "HEAD^2") == git(repo, "rev-parse", "bob")
    assert git(repo, "ls-files", "images").split() == ["images/f1.png", "images/f2.png"]


def _links_left_by_git_reset(repo, dvx, link: str) -> None:
    """data.csv and d/ added in `link` mode and committed, and the commit undone by `git
    reset --hard`, which runs no hook: their links into the cache stay, tracked by nothing."""
    assert dvx("config", "cache.type", link).code == 0
    assert dvx("install").code == 0
    commit(repo, "dvx set up")
    write(repo / "data.csv", "precious\n")
    write(repo / "d" / "a", "a\n")
    write(repo / "d" / "b", "b\n")
    assert dvx("add", "data.csv", "d").code == 0
    commit(repo, "data")
    git(repo, "reset", "-q", "--hard", "HEAD~1")


@pytest.mark.parametrize(("link", "cache_dir"), [("symlink", None), ("symlink", "elsewhere"),
                                              ("hardlink", None)])
def test_pre_commit_refuses_links_into_the_cache_a_git_reset_left_behind(repo, dvx, tmp_path,
                                                                         link, cache_dir):
    """`git reset --hard` runs no hook: the data of the commit it undoes stays, links into
    the cache that no pointer tracks. `git add -A` takes them, and the commit is refused,
    naming each, wherever cache.dir puts the cache; once `dvx checkout` has made them files
    of their own, they commit. Links and hard links of your own pass."""
    if cache_dir is not None:
        (tmp_path / "disk").mkdir()
        os.symlink(tmp_path / "disk", tmp_path / cache_dir)  # reached through a link too
        assert dvx("config", "cache.dir", str(tmp_path / cache_dir / "cache")).code == 0
    _links_left_by_git_reset(repo, dvx, link)
    write(repo / "code.py", "print(1)\n")
    os.link(repo / "code.py", tmp_path / "a-hard-link-of-yours")
    os.symlink("code.py", repo / "a-link-of-yours")
    git(repo, "add", "-A")
    before = git(repo, "rev-parse", "HEAD")

    refused = _git_commit(repo, "-m", "wip")
    assert refused.returncode == 1 and git(repo, "rev-parse", "HEAD") == before
    assert "dvx stopped the commit: it would put into Git links into dvx's cache" in \
        refused.stderr
    listed = [line.strip().split(": ", 1) for line in refused.stderr.splitlines()
              if line.startswith("    ")]
    assert [path for path, _ in listed] == ["d/a", "d/b", "data.csv"], refused.stderr
    for _, what in listed:
        if link == "symlink":
            assert what.startswith("a symbolic link to /") and "/files/xxh128/" in what
        else:
            assert what.startswith("a hard link of a cache object, ")
        assert what.endswith(", whose pointer is gone (a `git reset` leaves such data)")
    assert "`git rm --cached -- d/a d/b data.csv`, run `dvx checkout`" in refused.stderr

    git(repo, "rm", "-q", "-r", "--cached", "--", "d", "data.csv")  # the way out
    assert dvx("checkout").code == 0
    for name in ("data.csv", "d/a"):
        assert not os.path.islink(repo / name) and os.stat(repo / name).st_nlink == 1
    git(repo, "add", "-A")
    done = _git_commit(repo, "-qm", "wip")
    assert done.returncode == 0, done.stderr
    assert git(repo, "show", "HEAD:data.csv") == "precious\n"


@pytest.mark.parametrize("link", ["symlink", "hardlink"])
def test_checkout_makes_links_a_git_add_took_files_of_their_own(repo, dvx, link):
    """`dvx checkout` run while the links a `git reset` left are staged (before `git rm
    --cached`) leaves the data to Git, as files of its own: the commit passes."""
    _links_left_by_git_reset(repo, dvx, link)
    git(repo, "add", "-A")
    assert _git_commit(repo, "-qm", "wip").returncode == 1
    assert dvx("checkout").code == 0
    for name in ("data.csv", "d/a", "d/b"):
        assert not os.path.islink(repo / name) and os.stat(repo / name).st_nlink == 1
    assert (repo / "d" / "a").read_text() == "a\n"
    git(repo, "add", "-A")
    done = _git_commit(repo, "-qm", "wip")
    assert done.returncode == 0, done.stderr
    assert git(repo, "ls-files", "-s", "data.csv").startswith("100644 ")


def test_pre_commit_refuses_stashed_data_git_converts_line_endings_of_on_staging(repo, dvx):
    """With core.autocrlf, Git stages dvx's CRLF data as other bytes (LF): the staged blob is
    no version dvx placed, but the workspace file is, and the commit is refused all the
    same."""
    assert dvx("install").code == 0
    commit(repo, "dvx set up")
    git(repo, "config", "core.autocrlf", "input")
    write(repo / "data.csv", b"a,b\r\n1,2\r\n")
    assert dvx("add", "data.csv").code == 0
    git(repo, "stash", "-u", "-q")
    git(repo, "add", "-A")
    before = git(repo, "rev-parse", "HEAD")
    refused = _git_commit(repo, "-m", "wip")
    assert refused.returncode == 1 and git(repo, "rev-parse", "HEAD") == before, \
        refused.stderr
    assert "data.csv: the data of data.csv.dvx" in refused.stderr


@pytest.mark.parametrize("moved", [False, True])
def test_pre_commit_refuses_data_whose_pointer_a_git_stash_took(repo, dvx, moved):
    """`git stash -u` after a `dvx add` (or a `dvx move`) not committed yet takes the pointer
    and the .gitignore entry, and leaves the data, which Git no longer ignores: `git add -A`
    takes it, and the commit is refused, naming it and the way out, which commits the
    pointer instead."""
    assert dvx("install").code == 0
    write(repo / "x", "v1\n")
    write(repo / "d" / "f", "1\n")
    if moved:
        assert dvx("add", "x", "d").code == 0
        commit(repo, "data")
        assert dvx("move", "x", "y").code == 0
        assert dvx("move", "d", "e").code == 0
    else:
        commit(repo, "dvx set up")
        write(repo / "y", "v1\n")
        write(repo / "e" / "f", "1\n")
        assert dvx("add", "y", "e").code == 0
    git(repo, "stash", "-u", "-q")
    assert not (repo / "y.dvx").exists() and (repo / "y").exists()
    write(repo / "code.py", "print(1)\n")
    git(repo, "add", "-A")
    before = git(repo, "rev-parse", "HEAD")

    refused = _git_commit(repo, "-m", "wip")
    assert refused.returncode == 1 and git(repo, "rev-parse", "HEAD") == before
    assert "dvx stopped the commit: it would put into Git data that dvx placed here" in \
        refused.stderr
    listed = [line.strip() for line in refused.stderr.splitlines() if line.startswith("    ")]
    assert listed == ["e: the data of e.dvx; staged: e/f", "y: the data of y.dvx"], \
        refused.stderr
    assert "`git rm -r --cached -- e y`; then, if a `git stash` took its pointer, `git " \
        "stash pop` brings" in refused.stderr

    git(repo, "rm", "-q", "-r", "--cached", "--", "e", "y")  # the way out
    git(repo, "stash", "pop", "-q")
    git(repo, "add", "-A")
    done = _git_commit(repo, "-qm", "data")
    assert done.returncode == 0, done.stderr
    committed = git(repo, "ls-tree", "-r", "--name-only", "HEAD").split()
    assert {"e.dvx", "y.dvx", "code.py"} <= set(committed)
    assert not {"y", "e/f"} & set(committed)


def test_pre_commit_passes_content_of_yours_written_where_dvx_placed_data(repo, dvx):
    """A `git checkout` (no hook run) of a branch without the pointers leaves the data dvx
    placed (g, and d's files); content of the user's own written at g and d/1 is theirs, and
    the commit goes on; d/2, staged as dvx placed it, is still refused."""
    assert dvx("install").code == 0
    commit(repo, "dvx set up")
    write(repo / "g", "v1\n")
    write(repo / "d" / "1", "1\n")
    write(repo / "d" / "2", "2\n")
    assert dvx("add", "g", "d").code == 0
    commit(repo, "data")
    git(repo, "-c", "core.hooksPath=/dev/null", "checkout", "-q", "-b", "other", "HEAD~1")
    assert not (repo / "g.dvx").exists() and (repo / "g").exists()
    for own in (repo / "g", repo / "d" / "1"):
        own.unlink()
        write(own, "my own notes, not dvx data\n")
    git(repo, "add", "g", "d/1")
    done = _git_commit(repo, "-qm", "own notes")
    assert done.returncode == 0, done.stderr
    assert {"g", "d/1"} <= set(git(repo, "ls-tree", "-r", "--name-only", "HEAD").split())

    git(repo, "add", "d/2")
    refused = _git_commit(repo, "-m", "placed")
    assert refused.returncode == 1, refused.stderr
    listed = [line.strip() for line in refused.stderr.splitlines() if line.startswith("    ")]
    assert listed == ["d: the data of d.dvx; staged: d/2"], refused.stderr


def test_pre_commit_passes_links_of_yours_to_tracked_data_in_symlink_mode(repo, dvx):
    """A link of yours to a tracked file or folder leads to a workspace path, which a clone
    has once it pulls, not into the cache, though the file it names is a link into the
    cache itself: it is judged by its own target, and commits."""
    assert dvx("config", "cache.type", "symlink").code == 0
    assert dvx("install").code == 0
    write(repo / "data" / "v2.csv", "a,b\n")
    write(repo / "models" / "model_v3.pkl", "weights\n")
    write(repo / "images" / "cat.png", "cat\n")
    assert dvx("add", "data/v2.csv", "models/model_v3.pkl", "images").code == 0
    commit(repo, "data")
    os.symlink("data/v2.csv", repo / "current.csv")
    os.symlink("model_v3.pkl", repo / "models" / "latest.pkl")
    os.symlink("images", repo / "pictures")
    os.symlink("../images/cat.png", repo / "models" / "cat.png")
    os.symlink(repo / "data" / "v2.csv", repo / "absolute.csv")
    git(repo, "add", "-A")

    done = _git_commit(repo, "-qm", "links of mine")
    assert done.returncode == 0, done.stderr
    assert git(repo, "show", "HEAD:current.csv") == "data/v2.csv"
    assert git(repo, "show", "HEAD:models/latest.pkl") == "model_v3.pkl"
    assert git(repo, "show", "HEAD:pictures") == "images"


def test_pre_commit_refuses_links_into_the_cache_spelled_through_a_linked_folder(
        repo, dvx, tmp_path):
    """A link of yours whose target reaches the cache through a folder that is a link (the
    repository spelled by another path, as a home folder that is a link gives it), or through
    a `..` after such a folder, leads into the cache all the same: the system resolves those
    folders, and so does the hook. A link to a workspace file beside them still passes."""
    assert dvx("config", "cache.type", "symlink").code == 0
    assert dvx("install").code == 0
    write(repo / "data.csv", "a,b\n")
    assert dvx("add", "data.csv").code == 0
    commit(repo, "data")
    os.symlink(tmp_path, tmp_path.parent / f"{tmp_path.name}-alias")
    obj = os.path.relpath(os.readlink(repo / "data.csv"), tmp_path)
    os.symlink(tmp_path.parent / f"{tmp_path.name}-alias" / obj, repo / "via-alias.csv")
    (repo / "deep").mkdir()
    os.symlink("../deep", repo / "deep" / "self")
    os.symlink("deep/self/../.dvx/cache/files", repo / "cachefiles")
    os.symlink("data.csv", repo / "current.csv")
    assert (repo / "via-alias.csv").read_text() == "a,b\n" and (repo / "cachefiles").is_dir()
    git(repo, "add", "-A")

    refused = _git_commit(repo, "-m", "links")
    assert refused.returncode == 1, refused.stderr
    listed = [line.strip().split(": ", 1)[0] for line in refused.stderr.splitlines()
              if line.startswith("    ")]
    assert listed == ["cachefiles", "via-alias.csv"], refused.stderr
    git(repo, "rm", "-q", "--cached", "--", "cachefiles", "via-alias.csv")
    done = _git_commit(repo, "-qm", "a link of mine")
    assert done.returncode == 0, done.stderr
    assert git(repo, "show", "HEAD:current.csv") == "data.csv"


def test_pre_commit_refuses_links_into_the_cache_staged_as_a_type_change(repo, dvx):
    """A file Git had, staged again as a symbolic link into the cache (a type change, `T`):
    the mixed `git reset` of the commit that moved data.csv from Git to dvx, then `git add
    -A`, stages its link into the cache; a file of Git's replaced by a copy of such a link
    does too. Both are refused, and the way out named for each passes."""
    assert dvx("config", "cache.type", "symlink").code == 0
    assert dvx("install").code == 0
    write(repo / "data.csv", "a,b\n")
    write(repo / "notes.txt", "mine\n")
    commit(repo, "data.csv in Git")
    git(repo, "rm", "-q", "--cached", "data.csv")
    assert dvx("add", "data.csv").code == 0
    commit(repo, "data.csv moved to dvx")
    git(repo, "reset", "-q", "HEAD~1")
    os.unlink(repo / "notes.txt")
    os.symlink(os.readlink(repo / "data.csv"), repo / "notes.txt")  # a `cp -a` of the link
    git(repo, "add", "-A")
    assert git(repo, "diff", "--cached", "--name-status", "--", "data.csv", "notes.txt") \
        == "T\tdata.csv\nT\tnotes.txt\n"
    before = git(repo, "rev-parse", "HEAD")

    refused = _git_commit(repo, "-m", "data.csv moved to dvx")
    assert refused.returncode == 1 and git(repo, "rev-parse", "HEAD") == before
    assert "    data.csv: the data of data.csv.dvx\n" in refused.stderr
    assert "or Git had it before dvx tracked it" in refused.stderr
    assert "`git rm -r --cached -- data.csv`, write its .gitignore entries with `dvx " \
        "checkout data.csv`" in refused.stderr
    assert "    notes.txt: a symbolic link to /" in refused.stderr
    assert ", made outside dvx (a `cp -a` of a link dvx placed, an `ln -s`)\n" in refused.stderr

    git(repo, "rm", "-q", "-r", "--cached", "--", "data.csv")  # the ways out named
    assert dvx("checkout", "data.csv").code == 0
    subprocess.run(_named_command(refused.stderr, "cp "), shell=True, cwd=repo, check=True)
    git(repo, "add", "-A")
    done = _git_commit(repo, "-qm", "data.csv moved to dvx")
    assert done.returncode == 0, done.stderr
    committed = git(repo, "ls-tree", "--name-only", "HEAD").split()
    assert "data.csv" not in committed and "data.csv.dvx" in committed
    assert git(repo, "ls-files", "-s", "notes.txt").startswith("100644 ")
    assert git(repo, "show", "HEAD:notes.txt") == "a,b\n"
    assert (repo / "data.csv").read_text() == "a,b\n"


@pytest.mark.parametrize("link", ["symlink", "hardlink"])
def test_pre_commit_refuses_links_into_the_cache_of_yours_and_the_copy_it_names_passes(
        repo, dvx, link):
    """A link into the cache made outside dvx (`cp -l` of a hard-linked file, `cp -a` of a
    symbolic link dvx placed), which no dvx command knows of, is refused with a copy made in
    its place as the way out, beside the links a `git reset` left, whose way out is `dvx
    checkout`. Running the commands the message names makes the commit pass, and leaves the
    cache whole."""
    _links_left_by_git_reset(repo, dvx, link)
    write(repo / "tracked.csv", "kept\n")
    assert dvx("add", "tracked.csv").code == 0
    git(repo, "add", "tracked.csv.dvx", ".gitignore")
    git(repo, "commit", "-qm", "tracked.csv")
    place = os.link if link == "hardlink" else lambda src, dst: os.symlink(os.readlink(src), dst)
    for name in ("tests/fixture.csv", "tests/a b.csv"):
        (repo / "tests").mkdir(exist_ok=True)
        place(repo / "tracked.csv", repo / name)
    git(repo, "add", "-A")

    refused = _git_commit(repo, "-m", "fixtures")
    assert refused.returncode == 1, refused.stderr
    mine = (", made outside dvx (a `cp -l` or `ln` of tracked data)" if link == "hardlink"
            else ", made outside dvx (a `cp -a` of a link dvx placed, an `ln -s`)")
    listed = [line.strip() for line in refused.stderr.splitlines() if line.startswith("    ")]
    assert [line.split(": ", 1)[0] for line in listed] == [
        "d/a", "d/b", "data.csv", "tests/a b.csv", "tests/fixture.csv"]
    assert listed[3].endswith(mine) and listed[4].endswith(mine)
    assert "Take those whose pointer is gone out of the commit with `git rm --cached -- d/a " \
        "d/b data.csv`, run `dvx checkout`" in refused.stderr
    copy = _named_command(refused.stderr, "for f in ")
    assert copy == ("for f in 'tests/a b.csv' tests/fixture.csv; do cp \"$f\" \"$f.tmp\" && "
                    "mv -f \"$f.tmp\" \"$f\"; done")

    subprocess.run(_named_command(refused.stderr, "git rm "), shell=True, cwd=repo, check=True)
    assert dvx("checkout").code == 0
    subprocess.run(copy, shell=True, cwd=repo, check=True)
    git(repo, "add", "-A")
    done = _git_commit(repo, "-qm", "fixtures")
    assert done.returncode == 0, done.stderr
    for name in ("tests/fixture.csv", "tests/a b.csv"):
        assert not os.path.islink(repo / name) and os.stat(repo / name).st_nlink == 1
        assert git(repo, "show", f"HEAD:{name}") == "kept\n"
    assert (repo / "tracked.csv").read_text() == "kept\n"
    status = dvx("status")
    assert status.code == 0 and "up to date" in status.stdout, status.output


def test_pre_commit_names_a_copy_of_a_folder_for_a_link_of_yours_to_a_folder_of_the_cache(
        repo, dvx):
    """A symbolic link of yours to a folder of the cache (`ln -s .dvx/cache/...`) is refused
    with a copy of the folder and what it holds as the way out (`cp -RL`, the link removed
    before the copy takes its name: `mv` onto a link to a folder would move the copy into
    the cache), beside a plain `cp` for a link to a file. Running the commands named makes
    the commit pass, and leaves the cache whole."""
    assert dvx("config", "cache.type", "symlink").code == 0
    assert dvx("install").code == 0
    write(repo / "d" / "a", "a\n")
    write(repo / "d" / "b", "b\n")
    assert dvx("add", "d").code == 0
    commit(repo, "d")
    object_a = os.readlink(repo / "d" / "a")
    shard = os.path.relpath(os.path.dirname(object_a), repo)
    os.symlink(shard, repo / "shard")
    os.symlink(shard, repo / "shard two")
    os.symlink(os.readlink(repo / "d" / "b"), repo / "b.txt")
    git(repo, "add", "shard", "shard two", "b.txt")

    refused = _git_commit(repo, "-m", "links")
    assert refused.returncode == 1, refused.stderr
    files = "cp b.txt b.txt.tmp && mv -f b.txt.tmp b.txt"
    folders = "for f in shard 'shard two'; do cp -RL \"$f\" \"$f.tmp\" && rm \"$f\" && " \
        "mv \"$f.tmp\" \"$f\"; done"
    assert f"Make them files and folders of their own, each a copy in its place, with " \
        f"`{files}` for the files and `{folders}` for the folders, `git add` them" in \
        refused.stderr, refused.stderr
    for command in (files, folders):
        subprocess.run(command, shell=True, cwd=repo, check=True)
    git(repo, "add", "-A")
    done = _git_commit(repo, "-qm", "copies")
    assert done.returncode == 0, done.stderr
    name = os.path.basename(object_a)
    for folder in ("shard", "shard two"):
        assert not os.path.islink(repo / folder)
        assert git(repo, "show", f"HEAD:{folder}/{name}") == "a\n"
    assert git(repo, "show", "HEAD:b.txt") == "b\n"
    assert sorted(os.listdir(os.path.dirname(object_a))) == [name]
    status = dvx("status")
    assert status.code == 0 and "up to date" in status.stdout, status.output


def test_pre_commit_refuses_a_hard_link_of_an_object_whose_bytes_changed_through_it(repo, dvx):
    """A `cp -l` of a hard-linked file, edited (made writable, as root needs not): its bytes
    are no object's any more, but its inode still is the cache object's, which the edit
    changed as well; the commit is refused all the same. Hard links of your own between
    files of Git's pass beside it."""
    assert dvx("config", "cache.type", "hardlink").code == 0
    assert dvx("install").code == 0
    write(repo / "data.csv", "1\n2\n")
    assert dvx("add", "data.csv").code == 0
    commit(repo, "data")
    os.link(repo / "data.csv", repo / "mine.csv")
    git(repo, "add", "mine.csv")
    assert _git_commit(repo, "-qm", "mine").returncode == 1
    os.chmod(repo / "mine.csv", 0o644)
    with open(repo / "mine.csv", "a") as edit_through_the_link:
        edit_through_the_link.write("3\n")
    write(repo / "code.py", "print(1)\n")
    os.link(repo / "code.py", repo / "same.py")
    git(repo, "add", "-A")

    refused = _git_commit(repo, "-m", "mine, edited")
    assert refused.returncode == 1, refused.stderr
    listed = [line.strip() for line in refused.stderr.splitlines() if line.startswith("    ")]
    assert listed == ["mine.csv: a hard link of a cache object, made outside dvx (a `cp -l` "
                      "or `ln` of tracked data)"]
    git(repo, "rm", "-q", "--cached", "--", "mine.csv")
    done = _git_commit(repo, "-qm", "code")
    assert done.returncode == 0, done.stderr
    assert git(repo, "ls-tree", "--name-only", "HEAD").split().count("same.py") == 1


def test_pre_commit_refused_in_a_subfolder_names_commands_that_run_there(repo, dvx):
    """Git runs the hook at the top of the work tree, and gives it the folder `git commit`
    ran in: the paths of the ways out a refusal names are that folder's, so its commands,
    run there as written, make the commit pass; the hook run without that folder names
    them from the top, and says so."""
    _links_left_by_git_reset(repo, dvx, "hardlink")
    write(repo / "tracked.csv", "kept\n")
    assert dvx("add", "tracked.csv").code == 0
    git(repo, "add", "tracked.csv.dvx", ".gitignore")
    git(repo, "commit", "-qm", "tracked.csv")
    sub = repo / "sub"
    sub.mkdir()
    os.link(repo / "tracked.csv", sub / "mine.csv")  # a `cp -l` of yours
    git(sub, "add", "-A")

    refused = _git_commit(sub, "-m", "mine")
    assert refused.returncode == 1, refused.stderr
    assert "`git rm --cached -- ../d/a ../d/b ../data.csv`, run `dvx checkout`" in \
        refused.stderr
    copy = _named_command(refused.stderr, "cp ")
    assert copy == "cp mine.csv mine.csv.tmp && mv -f mine.csv.tmp mine.csv"
    assert "from the top of the repository" not in refused.stderr
    untop = subprocess.run([sys.executable, "-m", "dvx", "git-hook", "pre-commit"], cwd=repo,
                           capture_output=True, text=True,
                           env={k: v for k, v in os.environ.items() if k != "GIT_PREFIX"})
    assert untop.returncode == 1 and "with `cp sub/mine.csv sub/mine.csv.tmp && " in \
        untop.stderr and "commit again (from the top of the repository)." in untop.stderr

    subprocess.run(_named_command(refused.stderr, "git rm "), shell=True, cwd=sub, check=True)
    assert dvx("checkout", cwd=sub).code == 0
    subprocess.run(copy, shell=True, cwd=sub, check=True)
    git(sub, "add", "-A")
    done = _git_commit(sub, "-qm", "mine")
    assert done.returncode == 0, done.stderr
    assert os.stat(sub / "mine.csv").st_nlink == 1 and (repo / "tracked.csv").read_text() == \
        "kept\n"

    (repo / ".gitignore").write_text("")  # tracked data, no longer ignored
    git(sub, "add", "-A", "..")
    refused = _git_commit(sub, "-m", "data")
    assert refused.returncode == 1, refused.stderr
    assert "`git rm -r --cached -- ../tracked.csv`, write its .gitignore entries with `dvx " \
        "checkout ../tracked.csv` (or" in refused.stderr
    assert refused.stderr.rstrip().endswith("and commit again. `git commit --no-verify` "
                                             "commits it as it is.")


def _named_command(message: str, start: str) -> str:
    """The command a refusal names as a way out ("with `...`") that begins with `start`."""
    return start + message.split(f"with `{start}", 1)[1].split("`", 1)[0]


def test_a_pre_commit_hook_of_yours_runs_first_and_uninstall_puts_it_back(repo, dvx):
    hook = repo / ".git" / "hooks" / "pre-commit"
    write(hook, "#!/bin/sh\ntest ! -e STOP || { echo 'mine: stopped' >&2; exit 1; }\n")
    os.chmod(hook, 0o755)
    installed = dvx("install")
    assert "Your existing pre-commit hook still runs" in installed.stdout
    write(repo / "STOP", "")
    git(repo, "add", "STOP")
    refused = _git_commit(repo, "-m", "stop")
    assert refused.returncode == 1 and "mine: stopped" in refused.stderr
    assert dvx("install", "--uninstall").code == 0
    assert "mine: stopped" in hook.read_text() and not hook.with_name(
        "pre-commit.dvx-chained").exists()


def test_doctor_names_hooks_an_older_dvx_wrote_that_import_the_repository_s_modules(repo, dvx):
    """Hooks and a merge driver running `python -m dvx` (an older dvx's) would import a `dvx/`
    folder at the repository's top: doctor names them, and `dvx install` writes them anew."""
    assert dvx("install").code == 0
    assert "hooks of an older dvx" not in dvx("doctor").stdout
    old = f"{sys.executable} -m dvx"
    hook = repo / ".git" / "hooks" / "post-checkout"
    hook.write_text(hook.read_text().replace(
        f"exec {shlex.join(dvx_argv())} ", f"exec {old} "))
    git(repo, "config", "merge.dvx.driver", f"{old} git-hook merge-driver %O %A %B %P")
    report = json.loads(dvx("doctor", "--json").stdout)
    assert report["repository"]["unsafe_hooks"] == ["post-checkout", "merge driver"]
    assert "hooks of an older dvx: post-checkout, merge driver" in dvx("doctor").stdout
    assert dvx("install").stdout == 'Installed: .git/config [merge "dvx"], hooks/post-checkout\n'
    assert " -m dvx" not in hook.read_text() + git(repo, "config", "merge.dvx.driver")
    assert json.loads(dvx("doctor", "--json").stdout)["repository"]["unsafe_hooks"] == []


def test_doctor_names_the_hooks_a_clone_set_up_by_an_older_dvx_lacks(repo, dvx):
    assert "hooks missing" not in dvx("doctor").stdout  # no dvx hooks here: none named
    assert dvx("install").code == 0
    assert "hooks missing" not in dvx("doctor").stdout
    for name in ("post-commit", "pre-commit", "pre-merge-commit"):  # an older dvx had none
        os.unlink(repo / ".git" / "hooks" / name)
    assert ("hooks missing: post-commit, pre-commit, pre-merge-commit (`dvx install` adds "
            "them)\n" in dvx("doctor").stdout)
    report = json.loads(dvx("doctor", "--json").stdout)
    assert report["repository"]["missing_hooks"] == ["post-commit", "pre-commit",
                                                     "pre-merge-commit"]
    assert dvx("install").code == 0 and "hooks missing" not in dvx("doctor").stdout


def test_doctor_names_a_driver_line_and_hooks_an_older_dvx_wrote_until_install(repo, dvx,
                                                                               monkeypatch):
    """The driver line an older dvx wrote (no `--` ahead of the paths) and a hook in a form
    of an older dvx's (one WRITTEN_SCRIPTS keeps: an earlier `_script`, put there as the
    next change of `_script` will) are named by doctor, with `dvx install` as the fix, which
    writes them anew; the same line and hook run by another Python are not outdated."""
    from dvx.ops import install as installing

    assert dvx("install").code == 0
    assert "outdated" not in dvx("doctor").stdout
    driver = git(repo, "config", "merge.dvx.driver").strip()
    assert driver.endswith(" git-hook merge-driver -- %O %A %B %P")
    git(repo, "config", "merge.dvx.driver", driver.replace(" -- %O", " %O"))
    report = json.loads(dvx("doctor", "--json").stdout)["repository"]
    assert report["outdated_hooks"] == ["merge driver"] and report["unsafe_hooks"] == []
    assert ("outdated hooks: merge driver (as an older dvx wrote it; `dvx install` writes it "
            "anew)\n") in dvx("doctor").stdout

    def older(name: str, command: str | None = None) -> str:  # an earlier form of a hook
        return installing._script(name, command).replace("exec ", "")

    monkeypatch.setattr(installing, "WRITTEN_SCRIPTS", (installing._script, older))
    hook = repo / ".git" / "hooks" / "pre-commit"
    hook.write_text(older("pre-commit", "/gone/venv/bin/python -m dvx.entry"))
    assert "outdated hooks: pre-commit, merge driver (as an older dvx wrote them; `dvx " \
        "install` writes them anew)\n" in dvx("doctor").stdout
    assert dvx("install").stdout == 'Installed: .git/config [merge "dvx"], hooks/pre-commit\n'
    assert git(repo, "config", "merge.dvx.driver").strip() == driver
    assert json.loads(dvx("doctor", "--json").stdout)["repository"]["outdated_hooks"] == []

    hook.write_text(installing._script("pre-commit", "/other/venv/bin/python -m dvx.entry"))
    git(repo, "config", "merge.dvx.driver",
        "/other/venv/bin/python git-hook merge-driver -- %O %A %B %P")
    assert "outdated" not in dvx("doctor").stdout  # the present forms, another Python's


def test_lines_added_to_dvx_s_hook_are_never_dropped_by_install_or_uninstall(repo, dvx):
    assert dvx("install").code == 0
    hook = repo / ".git" / "hooks" / "post-merge"
    ours = hook.read_text()
    hook.write_text(ours.replace("#!/bin/sh\n", "#!/bin/sh\n/bin/true  # mine\n"))
    for args in (["install"], ["install", "--uninstall"]):
        refused = dvx(*args)
        assert refused.code == 2 and "lines of yours" in refused.stderr
        assert "post-merge.dvx-chained" in refused.stderr
        assert "/bin/true  # mine" in hook.read_text()
    assert (repo / ".gitattributes").exists()  # refused before anything changed
    # A hook dvx wrote with another Python (a virtual environment since moved) is dvx's.
    hook.write_text(ours.replace(sys.executable, "/gone/venv/bin/python"))
    assert dvx("install").code == 0 and hook.read_text() == ours


def test_hooks_in_a_folder_shared_with_other_repositories_do_nothing_where_dvx_is_not(
        repo, dvx, tmp_path):
    shared = tmp_path / "githooks"
    git(repo, "config", "--global", "core.hooksPath", str(shared))  # every repository's
    installed = dvx("install")
    assert installed.code == 0 and str(shared) in installed.stderr
    assert f", {shared / 'pre-push'}" in installed.stdout  # where they went, not .git/hooks
    assert " hooks/" not in installed.stdout
    assert "outside it" in installed.stderr and (shared / "pre-push").exists()
    origin = tmp_path / "plain.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(origin))
    plain = make_git_repo(tmp_path / "plain")  # no dvx here
    write(plain / "x", "x\n")
    git(plain, "add", "x")
    git(plain, "commit", "-qm", "x")
    for command in (["checkout", "-q", "-b", "other"], ["push", "-q", str(origin), "other"]):
        ran = subprocess.run(["git", *command], cwd=plain, capture_output=True, text=True)
        assert ran.returncode == 0 and "dvx" not in ran.stderr, ran.stderr
    assert git(origin, "rev-parse", "other") == git(plain, "rev-parse", "HEAD")


def test_install_writes_no_hooks_into_a_hooks_folder_git_tracks(repo, dvx):
    write(repo / ".githooks" / "pre-commit", "#!/bin/sh\n")  # the team's hooks, shared
    git(repo, "add", ".githooks")
    git(repo, "config", "core.hooksPath", ".githooks")
    refused = dvx("install")
    assert refused.code == 2 and "'.githooks' (core.hooksPath)" in refused.stderr
    assert "--no-hooks" in refused.stderr and "dvx git-hook NAME" in refused.stderr
    assert sorted(p.name for p in (repo / ".githooks").iterdir()) == ["pre-commit"]
    assert not (repo / ".gitattributes").exists()  # refused before anything changed
    assert dvx("install", "--no-hooks").code == 0
    assert "git-hook merge-driver" in git(repo, "config", "merge.dvx.driver")
    assert sorted(p.name for p in (repo / ".githooks").iterdir()) == ["pre-commit"]


def _images_changed_on_two_branches(tmp_path) -> tuple[Team, object]:
    """bob adds images/f6.txt and alice changes f1.txt, each pushing data and commit."""
    team, alice = _installed_team(tmp_path)
    bob = _bob(team)
    write(bob / "images" / "f6.txt", "image 6, bob's\n")
    must("add", "images", cwd=bob)
    share(bob, "bob adds f6")
    edit(alice, "images/f1.txt", "image 1, alice's\n")
    must("add", "images", cwd=alice)
    share(alice, "alice changes f1")
    return team, alice


def test_directory_changes_on_two_branches_merge_entry_by_entry(tmp_path):
    team, alice = _images_changed_on_two_branches(tmp_path)

    merged = _merge(alice, "origin/bob")  # bob's manifest is only on the remote
    assert merged.returncode == 0, merged.stdout + merged.stderr
    assert "merged images.dvx: directory merged entry by entry (6 files)" in merged.stderr
    assert "nfiles: 6" in (alice / "images.dvx").read_text()
    assert git(alice, "status", "--porcelain") == ""
    must("pull", cwd=alice)  # f6's data comes from the remote
    assert (alice / "images/f1.txt").read_text() == "image 1, alice's\n"
    assert (alice / "images/f6.txt").read_text() == "image 6, bob's\n"
    assert run_dvx("status", "-q", cwd=alice).code == 0
    must("push", cwd=alice)  # the merged manifest, made here, goes to the remote too
    git(alice, "push", "-q", "origin", "main")
    carol = team.clone("carol")
    assert sorted(p.name for p in (carol / "images").iterdir()) == [
        f"f{i}.txt" for i in range(1, 7)]


def _folders_changed_on_two_branches(repo, dvx, names: tuple[str, ...]) -> None:
    """Folders `names`, each holding a and b: branch other changes a in each, main changes b."""
    for name in names:
        write(repo / name / "a", "a\n")
        write(repo / name / "b", "b\n")
        assert dvx("add", "--", name).code == 0
    commit(repo, "base")
    for branch, changed in (("other", "a"), ("main", "b")):
        git(repo, "checkout", "-q", *(["-b"] if branch == "other" else []), branch)
        for name in names:
            write(repo / name / changed, f"{changed}2\n")
            assert dvx("add", "--", name).code == 0
        commit(repo, branch)


def test_a_manifest_a_read_only_cache_cannot_take_leaves_the_conflict_markers(repo, dvx,
                                                                               tmp_path):
    """The merge driver fetches a manifest the cache lacks into a cache folder this user may
    not write in: the manifest fails to come as any other failure does, and the pointer is
    left in conflict with both sides between markers, so a later `git add` drops neither."""
    assert dvx("remote", "add", "-d", "store", str(tmp_path / "store")).code == 0
    _folders_changed_on_two_branches(repo, dvx, ("d",))
    assert dvx("push", "-a").code == 0
    assert dvx("install").code == 0
    shutil.rmtree(repo / ".dvx" / "cache" / "files")
    os.chmod(repo / ".dvx" / "cache", 0o555)
    try:
        merged = subprocess.run([*unprivileged(), "git", "merge", "--no-edit", "other"],
                                cwd=repo, capture_output=True, text=True)
    finally:
        os.chmod(repo / ".dvx" / "cache", 0o755)
    assert merged.returncode != 0, merged.stdout + merged.stderr
    assert "Traceback" not in merged.stderr, merged.stderr
    text = (repo / "d.dvx").read_text()
    assert text.startswith("<<<<<<< ") and "=======\n" in text and ">>>>>>> " in text, text


def test_a_pointer_whose_name_starts_with_a_dash_merges_entry_by_entry(repo, dvx):
    """Git hands the driver the pointer's path as one of its arguments: `-d.dvx` is that path,
    never an option of the driver's."""
    assert dvx("install").code == 0
    _folders_changed_on_two_branches(repo, dvx, ("-d", "dd"))

    merged = _merge_local(repo, "other")
    assert merged.returncode == 0, merged.stderr
    assert "merged -d.dvx: directory merged entry by entry (2 files)" in merged.stderr
    assert git(repo, "status", "--porcelain") == ""
    for name in ("-d", "dd"):
        assert (repo / name / "a").read_text() == "a2\n"
        assert (repo / name / "b").read_text() == "b2\n"


def test_install_writes_anew_a_driver_that_took_a_pointer_named_with_a_dash_for_an_option(
        repo, dvx):
    """A clone set up by an older dvx, whose driver line had no `--` ahead of Git's
    arguments: its merge of `-d.dvx` stops on a conflict, `dvx install` writes the driver
    anew, and `git checkout -m` (as status says) then merges it entry by entry."""
    assert dvx("install").code == 0
    driver = git(repo, "config", "merge.dvx.driver")
    git(repo, "config", "merge.dvx.driver", driver.replace(" -- %O", " %O"))
    _folders_changed_on_two_branches(repo, dvx, ("-d",))

    assert _merge_local(repo, "other").returncode != 0
    said = run_dvx("status", cwd=repo).stderr
    assert "`dvx install` (which writes the driver anew), then `git checkout -m ./-d.dvx`" \
        in said, said
    assert dvx("install").stdout == 'Installed: .git/config [merge "dvx"]\n'
    assert git(repo, "config", "merge.dvx.driver") == driver
    git(repo, "checkout", "-m", "./-d.dvx")
    assert "nfiles: 2" in (repo / "-d.dvx").read_text()
    assert dvx("checkout").code == 0
    assert (repo / "-d" / "a").read_text() == "a2\n" and (repo / "-d" / "b").read_text() == "b2\n"


def test_a_merged_directory_whose_teammate_s_files_are_not_cached_hints_a_pull_not_a_checkout(
        tmp_path):
    """After a merge of a directory's pointer, the merged manifest is in the cache and the
    teammate's new file only on the remote, so the checkout after it cannot finish: status
    says the directory is not in the cache beside the file not pulled, and names the pull
    that brings it, never the checkout, which places nothing the cache lacks."""
    team, alice = _installed_team(tmp_path)
    bob = _bob(team)
    edit(bob, "images/f2.txt", "image 2, bob's\n")
    write(bob / "images" / "f6.txt", "image 6, bob's\n")
    must("add", "images", cwd=bob)
    share(bob, "bob changes f2, adds f6")
    edit(alice, "images/f1.txt", "image 1, alice's\n")
    must("add", "images", cwd=alice)
    commit(alice, "alice changes f1")
    assert _merge(alice, "origin/bob").returncode == 0  # its hook's checkout cannot finish
    assert run_dvx("checkout", "images", cwd=alice).code == 1  # f2, f6 are not in the cache
    doc = json.loads(run_dvx("status", "--json", cwd=alice).stdout)
    (images,) = [o for o in doc["outputs"] if o["path"] == "images"]
    assert (images["outdated"], images["not_pulled"], images["in_cache"]) == (
        ["f2.txt"], ["f6.txt"], False)
    text = run_dvx("status", cwd=alice).stdout
    assert "images: " in text and "1 file outdated, 1 file not pulled, not in cache" in text
    assert "(`dvx pull images` fetches the files not in the cache and places them)" in text
    assert "dvx checkout images" not in text and "`dvx checkout PATH`" not in text

    must("pull", "images", cwd=alice)
    assert (alice / "images/f6.txt").read_text() == "image 6, bob's\n"
    assert run_dvx("status", "-q", cwd=alice).code == 0


def test_a_manifest_the_remote_out_of_reach_could_not_send_is_named_so_by_the_driver(
        tmp_path):
    """bob pushed his manifest, but the remote cannot be reached during alice's merge: the
    driver says so, with the remote's error, not that the manifest is on no remote."""
    team, alice = _images_changed_on_two_branches(tmp_path)
    team.store.rename(tmp_path / "store-unplugged")
    write(team.store, "not a folder\n")  # what stands at the remote's path is no store

    merged = _merge(alice, "origin/bob")
    assert merged.returncode != 0
    assert "the default remote could not be reached (" in merged.stderr, merged.stderr
    assert "in neither the cache nor the default remote" not in merged.stderr


def test_a_directory_conflict_over_a_manifest_not_pushed_yet_says_how_to_keep_both_sides(
        tmp_path):
    """bob committed a change to images/ without pushing its data: the driver cannot merge
    alice's change with it. The hint says that keeping a side drops the other's changes to
    the folder, and how to keep both: once bob pushed, `git checkout -m` merges it again."""
    team, alice = _installed_team(tmp_path)
    bob = _bob(team)
    write(bob / "images" / "f6.txt", "image 6, bob's\n")
    must("add", "images", cwd=bob)
    commit(bob, "bob adds f6")
    git(bob, "push", "-q", "--no-verify", "origin", "HEAD")  # the data stays behind
    edit(alice, "images/f1.txt", "image 1, alice's\n")
    must("add", "images", cwd=alice)
    share(alice, "alice changes f1")

    assert _merge(alice, "origin/bob").returncode != 0
    status = run_dvx("status", cwd=alice)
    assert status.code == 1
    assert "drops the other side's changes to the folder images" in status.stderr
    assert "`git checkout -m images.dvx`" in status.stderr

    must("push", cwd=bob)
    git(alice, "checkout", "-m", "images.dvx")
    must("pull", "images", cwd=alice)
    git(alice, "add", "images.dvx")
    git(alice, "commit", "-qm", "merged bob's")
    assert (alice / "images/f1.txt").read_text() == "image 1, alice's\n"
    assert (alice / "images/f6.txt").read_text() == "image 6, bob's\n"


_ABORTS = {"merge": "or `git merge --abort` and merge again, then `dvx pull images`",
           "rebase": "or `git rebase --abort` and run the rebase (or `git pull --rebase`) "
                     "again, then `dvx pull images`"}


@pytest.mark.parametrize("how", ["merge", "rebase", "stash pop"])
def test_a_manifest_not_pushed_yet_s_hint_names_the_abort_that_works_where_git_stopped(
        tmp_path, how):
    """bob committed a change to images/ without pushing its data, and alice brings it in by
    a merge, a rebase (as `git pull --rebase` runs one) or a `git stash pop` of her own
    change over it: the driver leaves a conflict. Besides `git checkout -m`, the hint names
    the abort of the operation Git stopped in, and none after a stash pop, which records
    none (`git merge --abort` fails there, and during a rebase). Pasted once bob pushed,
    what it names keeps both sides' changes."""
    team, alice = _installed_team(tmp_path)
    bob = _bob(team)
    write(bob / "images" / "f6.txt", "image 6, bob's\n")
    must("add", "images", cwd=bob)
    commit(bob, "bob adds f6")
    git(bob, "push", "-q", "--no-verify", "origin", "HEAD")  # the data stays behind
    edit(alice, "images/f1.txt", "image 1, alice's\n")
    must("add", "images", cwd=alice)
    git(alice, "fetch", "-q", "origin")
    if how == "stash pop":
        git(alice, "stash", "-q")
        git(alice, "merge", "-q", "--ff-only", "origin/bob")
        stopped = subprocess.run(["git", "stash", "pop"], cwd=alice, capture_output=True)
    else:
        commit(alice, "alice changes f1")
        stopped = subprocess.run(["git", how, "origin/bob"], cwd=alice, capture_output=True)
    assert stopped.returncode != 0, stopped

    status = run_dvx("status", cwd=alice)
    assert status.code == 1
    assert "`git checkout -m images.dvx`" in status.stderr
    for other, abort in _ABORTS.items():
        assert (abort in status.stderr) == (other == how), status.stderr
    assert how != "stash pop" or "--abort" not in status.stderr, status.stderr

    must("push", cwd=bob)
    if how == "stash pop":
        git(alice, "checkout", "-m", "images.dvx")
        git(alice, "add", "images.dvx")
    else:
        git(alice, how, "--abort")
        git(alice, how, "origin/bob")
    must("pull", "images", cwd=alice)
    assert (alice / "images/f1.txt").read_text() == "image 1, alice's\n"
    assert (alice / "images/f6.txt").read_text() == "image 6, bob's\n"
    assert run_dvx("status", cwd=alice).code == 0


def test_an_octopus_merge_s_conflict_leads_with_checkout_m_that_runs_the_merge_driver(
        tmp_path):
    """`git merge A B` (an octopus merge) merges every file line by line and never runs
    dvx's merge driver: its markers are Git's own. Keeping one side would drop the other's
    changes to the folder; status leads with `git checkout -m`, which runs the driver and
    keeps both."""
    team, alice = _installed_team(tmp_path)
    bob = _bob(team)
    edit(bob, "images/f1.txt", "image 1, bob's\n")
    must("add", "images", cwd=bob)
    share(bob, "bob changes f1")
    carol = team.clone("carol")
    must("install", cwd=carol)
    git(carol, "checkout", "-q", "-b", "carol")
    edit(carol, "images/f2.txt", "image 2, carol's\n")
    must("add", "images", cwd=carol)
    share(carol, "carol changes f2")

    git(alice, "fetch", "-q", "origin")
    merged = subprocess.run(["git", "merge", "--no-edit", "origin/bob", "origin/carol"],
                            cwd=alice, capture_output=True, text=True)
    assert merged.returncode != 0
    assert "<<<<<<< .merge_file_" in (alice / "images.dvx").read_text()
    status = run_dvx("status", cwd=alice)
    assert status.code == 1
    hint = status.stderr.split("Keep one side")[0]
    assert "merged it line by line, without dvx's merge driver" in hint, status.stderr
    assert "`git checkout -m images.dvx`" in hint, status.stderr

    git(alice, "checkout", "-m", "images.dvx")
    must("pull", "images", cwd=alice)
    assert (alice / "images/f1.txt").read_text() == "image 1, bob's\n"
    assert (alice / "images/f2.txt").read_text() == "image 2, carol's\n"


def test_a_folder_made_a_file_in_an_octopus_merge_names_each_side_s_kind_not_checkout_m(
        tmp_path):
    """bob makes `images` a file, carol changes a file in the folder, and alice merges both
    at once (`git merge A B`, which runs no merge driver): Git's line-by-line markers hold a
    folder and a file, which no merge joins, so status names each side's kind and leads with
    keeping one, never with `git checkout -m` (the driver would leave the same conflict)."""
    team, alice = _installed_team(tmp_path)
    bob = _bob(team)
    must("remove", "--outs", "images.dvx", cwd=bob)
    write(bob / "images", "now one file\n")
    must("add", "images", cwd=bob)
    share(bob, "images a file")
    carol = team.clone("carol")
    must("install", cwd=carol)
    git(carol, "checkout", "-q", "-b", "carol")
    edit(carol, "images/f2.txt", "image 2, carol's\n")
    must("add", "images", cwd=carol)
    share(carol, "carol changes f2")

    git(alice, "fetch", "-q", "origin")
    merged = subprocess.run(["git", "merge", "--no-edit", "origin/bob", "origin/carol"],
                            cwd=alice, capture_output=True, text=True)
    assert merged.returncode != 0
    assert "<<<<<<< .merge_file_" in (alice / "images.dvx").read_text()
    status = run_dvx("status", cwd=alice)
    assert status.code == 1
    said = " ".join(status.stderr.split())
    assert "tracks images as a file, the one marked" in said and "as a folder: keeping " \
        "either drops the other side's data there." in said, said
    assert "checkout -m" not in said and "line by line" not in said, said
    git(alice, "checkout", "--theirs", "images.dvx")
    must("pull", "images", cwd=alice)
    assert (alice / "images/f2.txt").read_text() == "image 2, carol's\n"

def test_the_same_entry_or_file_changed_on_both_sides_stays_a_conflict(tmp_path):
    team, alice = _installed_team(tmp_path)
    bob = _bob(team)
    edit(bob, "images/f2.txt", "bob's f2\n")
    edit(bob, "raw.csv", "bob's raw\n")
    must("add", "images", "raw.csv", cwd=bob)
    share(bob, "bob")
    edit(alice, "images/f2.txt", "alice's f2\n")
    edit(alice, "raw.csv", "alice's raw\n")
    must("add", "images", "raw.csv", cwd=alice)
    share(alice, "alice")

    merged = _merge(alice, "origin/bob")
    assert merged.returncode != 0
    assert "'images/f2.txt' was changed on both sides" in merged.stderr
    assert "raw.csv" in merged.stderr and "left as a conflict" in merged.stderr
    status = run_dvx("status", cwd=alice)
    assert status.code == 1 and "git checkout --theirs raw.csv.dvx" in status.stderr
    git(alice, "checkout", "--theirs", "raw.csv.dvx", "images.dvx")
    must("pull", cwd=alice)
    assert (alice / "raw.csv").read_text() == "bob's raw\n"


def test_a_teammate_s_change_to_a_removed_folder_is_never_merged_into_an_unrelated_one(
        tmp_path):
    """bob stops tracking images/ and, in the same commit, tracks photos/, unrelated files;
    alice adds a file to images/. Git's rename detection pairs images.dvx with photos.dvx
    (pointer files look alike), but photos/ shares no file with images/ by name or
    content: it is no edit of it. The driver leaves a conflict that says so, rather than
    merging alice's file into bob's photos/."""
    team, alice = _installed_team(tmp_path)
    bob = _bob(team)
    must("remove", "images.dvx", cwd=bob)
    shutil.rmtree(bob / "images")
    for name in ("x.png", "y.png"):
        write(bob / "photos" / name, f"photo {name}\n")
    must("add", "photos", cwd=bob)
    share(bob, "bob drops images, adds photos")
    write(alice / "images" / "f6.txt", "image 6, alice's\n")
    must("add", "images", cwd=alice)
    share(alice, "alice adds f6")

    merged = _merge(alice, "origin/bob")
    assert merged.returncode != 0, merged.stdout + merged.stderr
    assert "directory merged entry by entry" not in merged.stderr
    assert ("the other side's folder shares no file, by name or by content, with the "
            "version both sides started from") in merged.stderr
    assert "rename detection" in merged.stderr
    status = run_dvx("status", cwd=alice)
    assert status.code == 1 and "photos.dvx" in status.stderr
    git(alice, "checkout", "--theirs", "photos.dvx")
    git(alice, "add", "photos.dvx")
    must("pull", "photos", cwd=alice)
    assert sorted(p.name for p in (alice / "photos").iterdir()) == ["x.png", "y.png"]


def _folder_regenerated_by_bob_and_added_to_by_alice(tmp_path) -> object:
    """bob regenerates images/ under new names and bytes (as a Spark job writes
    part-<uuid> files); alice adds f6.txt to it. Both changed images.dvx: nothing moved."""
    team, alice = _installed_team(tmp_path)
    bob = _bob(team)
    shutil.rmtree(bob / "images")
    for name in ("part-0-a1", "part-1-a1"):
        write(bob / "images" / name, f"regenerated {name}\n")
    must("add", "images", cwd=bob)
    share(bob, "bob regenerates images")
    write(alice / "images" / "f6.txt", "image 6, alice's\n")
    must("add", "images", cwd=alice)
    share(alice, "alice adds f6")
    return alice


def test_a_folder_regenerated_under_new_names_on_one_side_merges_entry_by_entry(tmp_path):
    """A folder whose files one side all replaced still is the path both sides changed:
    Git paired nothing, so the driver merges it entry by entry, with no conflict."""
    alice = _folder_regenerated_by_bob_and_added_to_by_alice(tmp_path)
    merged = _merge(alice, "origin/bob")
    assert merged.returncode == 0, merged.stdout + merged.stderr
    assert "directory merged entry by entry" in merged.stderr
    must("pull", "images", cwd=alice)
    assert sorted(p.name for p in (alice / "images").iterdir()) == [
        "f6.txt", "part-0-a1", "part-1-a1"]


def test_a_folder_regenerated_upstream_merges_entry_by_entry_in_a_pull_rebase(tmp_path):
    alice = _folder_regenerated_by_bob_and_added_to_by_alice(tmp_path)
    pulled = subprocess.run(["git", "pull", "--rebase", "origin", "bob"], cwd=alice,
                            capture_output=True, text=True)
    assert pulled.returncode == 0, pulled.stdout + pulled.stderr
    assert "directory merged entry by entry" in pulled.stderr
    must("pull", "images", cwd=alice)
    assert sorted(p.name for p in (alice / "images").iterdir()) == [
        "f6.txt", "part-0-a1", "part-1-a1"]


def test_a_folder_moved_on_one_side_gets_the_other_side_s_change_to_it(tmp_path):
    """bob moves images/ to pics/ with `dvx move`; alice adds f6.txt. Git's rename follows
    the move and the pointer bob left as it was takes alice's version: f6.txt is in pics/."""
    team, alice = _installed_team(tmp_path)
    bob = _bob(team)
    must("move", "images", "pics", cwd=bob)
    git(bob, "add", "-A")
    share(bob, "bob moves images to pics")
    write(alice / "images" / "f6.txt", "image 6, alice's\n")
    must("add", "images", cwd=alice)
    share(alice, "alice adds f6")
    merged = _merge(alice, "origin/bob")
    assert merged.returncode == 0, merged.stdout + merged.stderr
    assert "f6.txt" in sorted(p.name for p in (alice / "pics").iterdir())


def _images_dropped_for_photos_sharing_an_empty_file(tmp_path) -> object:
    """images/ and bob's new photos/ both hold an empty .keep; bob stops tracking images/
    and tracks photos/ in one commit, alice adds f6.txt to images/."""
    team, alice = _installed_team(tmp_path)
    write(alice / "images" / ".keep", "")
    must("add", "images", cwd=alice)
    share(alice, "keep images")
    bob = _bob(team)
    must("remove", "images.dvx", cwd=bob)
    shutil.rmtree(bob / "images")
    for name in ("x.png", "y.png", ".keep"):
        write(bob / "photos" / name, "" if name == ".keep" else f"photo {name}\n")
    must("add", "photos", cwd=bob)
    share(bob, "bob drops images, adds photos")
    write(alice / "images" / "f6.txt", "image 6, alice's\n")
    must("add", "images", cwd=alice)
    share(alice, "alice adds f6")
    return alice


def _photos_kept_apart(alice, done: subprocess.CompletedProcess[str]) -> None:
    assert done.returncode != 0, done.stdout + done.stderr
    assert "directory merged entry by entry" not in done.stderr
    assert "Git paired this pointer with another path's" in done.stderr, done.stderr
    assert "f6.txt" not in (alice / "photos.dvx").read_text()
    assert "images/f6.txt" not in git(alice, "ls-files")


def test_a_removed_folder_sharing_a_file_with_an_unrelated_one_is_never_merged_into_it(
        tmp_path):
    """Sharing an empty .keep makes photos/ no edit of images/: photos.dvx is in neither
    the merge base nor alice's commit, so Git paired it, and the driver leaves a conflict."""
    alice = _images_dropped_for_photos_sharing_an_empty_file(tmp_path)
    _photos_kept_apart(alice, _merge(alice, "origin/bob"))


def test_a_removed_folder_sharing_a_file_with_an_unrelated_one_conflicts_in_a_pull_rebase(
        tmp_path):
    alice = _images_dropped_for_photos_sharing_an_empty_file(tmp_path)
    _photos_kept_apart(alice, subprocess.run(["git", "pull", "--rebase", "origin", "bob"],
                                             cwd=alice, capture_output=True, text=True))


def test_a_pointer_git_paired_with_a_removed_one_conflicts_over_the_added_versions_alone(
        tmp_path):
    """bob stops tracking raw.csv and tracks new.bin in one commit; alice changes raw.csv and
    adds a new.bin of her own. Git's rename detection pairs raw.csv.dvx with bob's
    new.bin.dvx, merges alice's raw.csv into it, then that with her new.bin.dvx. The
    conflict left in new.bin.dvx holds the two added pointers, without nested markers, the
    driver says why alice's raw.csv is not among them, and status names raw.csv, whose
    pointer left Git with its .gitignore entry."""
    team, alice = _installed_team(tmp_path)
    bob = _bob(team)
    must("remove", "raw.csv.dvx", cwd=bob)
    (bob / "raw.csv").unlink()
    write(bob / "new.bin", "bob's new\n")
    must("add", "new.bin", cwd=bob)
    share(bob, "bob drops raw.csv, adds new.bin")
    edit(alice, "raw.csv", "alice's raw\n")
    write(alice / "new.bin", "alice's new\n")
    must("add", "raw.csv", "new.bin", cwd=alice)
    share(alice, "alice changes raw.csv, adds new.bin")

    merged = _merge(alice, "origin/bob")
    assert merged.returncode != 0
    text = (alice / "new.bin.dvx").read_text()
    assert text.count("<<<<<<< ") == 1 and text.count("=======\n") == 1, text
    ours, theirs = text.split("=======\n")
    assert xxhash.xxh3_128_hexdigest(b"alice's new\n") in ours
    assert xxhash.xxh3_128_hexdigest(b"bob's new\n") in theirs
    assert xxhash.xxh3_128_hexdigest(b"alice's raw\n") not in text
    assert ("Git paired a pointer the other side removed with the one it added here "
            "(its rename detection") in merged.stderr, merged.stderr
    assert "this side's version of the removed pointer is left out" in merged.stderr
    status = run_dvx("status", cwd=alice)
    assert status.code == 1 and "new.bin.dvx" in status.stderr
    assert "raw.csv: no longer tracked, its pointer left Git" in status.stdout, status.output


def test_a_pointer_paired_with_a_removed_one_in_a_pull_rebase_names_the_upstream_and_yours(
        tmp_path):
    """In a rebase Git's ours is the upstream: the driver's word on the left-out pointer
    names the upstream and your commit, never "this side"."""
    team, alice = _installed_team(tmp_path)
    bob = _bob(team)
    must("remove", "raw.csv.dvx", cwd=bob)
    (bob / "raw.csv").unlink()
    write(bob / "new.bin", "bob's new\n")
    must("add", "new.bin", cwd=bob)
    share(bob, "bob drops raw.csv, adds new.bin")
    edit(alice, "raw.csv", "alice's raw\n")
    write(alice / "new.bin", "alice's new\n")
    must("add", "raw.csv", "new.bin", cwd=alice)
    share(alice, "alice changes raw.csv, adds new.bin")

    pulled = subprocess.run(["git", "pull", "--rebase", "origin", "bob"], cwd=alice,
                            capture_output=True, text=True)
    assert pulled.returncode != 0
    assert "Git paired a pointer your commit removed" not in pulled.stderr
    assert ("Git paired a pointer the upstream removed with the one it added here"
            in pulled.stderr), pulled.stderr
    assert "your commit's version of the removed pointer is left out" in pulled.stderr
    assert "this side" not in pulled.stderr


def test_a_folder_made_a_file_on_one_side_and_changed_on_the_other_names_each_side_s_kind(
        tmp_path):
    """bob makes `images` a file; alice changes a file in the folder. The driver says which
    side made it a file and which changed the folder; status names the version of each
    kind and never offers `git checkout -m`, which would only leave the same conflict."""
    team, alice = _installed_team(tmp_path)
    bob = _bob(team)
    must("remove", "--outs", "images.dvx", cwd=bob)
    write(bob / "images", "now one file\n")
    must("add", "images", cwd=bob)
    share(bob, "images a file")
    edit(alice, "images/f1.txt", "alice's f1\n")
    must("add", "images", cwd=alice)
    share(alice, "alice")

    merged = _merge(alice, "origin/bob")
    assert merged.returncode != 0
    assert "images.dvx: this side changed the folder and the other side made it a file, " \
        "and a folder and a file cannot be merged; left as a conflict" in merged.stderr, \
        merged.stderr
    status = run_dvx("status", cwd=alice)
    assert status.code == 1
    assert "The version marked `ours` tracks images as a folder, the one marked `theirs` as " \
        "a file: keeping either drops the other side's data there." in status.stderr, \
        status.stderr
    assert "checkout -m" not in status.stderr
    git(alice, "checkout", "--theirs", "images.dvx")
    must("pull", "images", cwd=alice)
    assert (alice / "images").read_text() == "now one file\n"


@pytest.mark.parametrize("keep", [0, 1])
def test_a_file_in_a_folder_made_a_folder_on_one_side_and_edited_on_the_other_is_named_so(
        tmp_path, keep):
    """bob replaces images/f2.txt by a folder (f2.txt/q) and changes f3; alice edits f2.txt
    and f1. The driver names the conflict as what each side did to f2.txt, never as a
    manifest listing a name both as a file and a folder, and leaves two merged versions:
    either keeps every other change of both sides, with that side's f2.txt."""
    team, alice = _installed_team(tmp_path)
    bob = _bob(team)
    os.unlink(bob / "images" / "f2.txt")
    write(bob / "images" / "f2.txt" / "q", "bob's q\n")
    edit(bob, "images/f3.txt", "bob's f3\n")
    must("add", "images", cwd=bob)
    share(bob, "bob: f2.txt becomes a folder")
    edit(alice, "images/f2.txt", "alice's f2\n")
    edit(alice, "images/f1.txt", "alice's f1\n")
    must("add", "images", cwd=alice)
    share(alice, "alice")

    merged = _merge(alice, "origin/bob")
    assert merged.returncode != 0
    assert "images.dvx: 'images/f2.txt' is a file on one side and a folder on the other: this " \
        "side changed the file and the other side made it a folder, and a file and a folder " \
        "cannot be merged; left as a conflict between two merged versions" in merged.stderr, \
        merged.stderr
    assert "both as a file and as a directory" not in merged.stderr
    status = run_dvx("status", cwd=alice)
    assert status.code == 1 and "Both versions in the file keep every change" in status.stderr

    text = (alice / "images.dvx").read_text()
    ours, theirs = text.split("\n", 1)[1].split("=======\n")
    (alice / "images.dvx").write_text([ours, theirs.rsplit(">>>>>>> ", 1)[0]][keep])
    must("pull", "images", cwd=alice)
    commit(alice, "resolved images.dvx")
    assert (alice / "images/f1.txt").read_text() == "alice's f1\n"
    assert (alice / "images/f3.txt").read_text() == "bob's f3\n"
    if keep == 0:
        assert (alice / "images/f2.txt").read_text() == "alice's f2\n"
    else:
        assert (alice / "images/f2.txt/q").read_text() == "bob's q\n"
    assert run_dvx("status", cwd=alice).code == 0


def test_a_folder_made_a_file_upstream_and_changed_by_a_commit_a_rebase_replays_names_each(
        tmp_path):
    """As above, but alice pulls with --rebase: Git's ours is then the upstream (bob's), so
    the driver names the upstream and alice's commit, as its conflict labels do, never
    "this side"."""
    team, alice = _installed_team(tmp_path)
    bob = _bob(team)
    must("remove", "--outs", "images.dvx", cwd=bob)
    write(bob / "images", "now one file\n")
    must("add", "images", cwd=bob)
    share(bob, "images a file")
    edit(alice, "images/f1.txt", "alice's f1\n")
    must("add", "images", cwd=alice)
    share(alice, "alice")

    pulled = subprocess.run(["git", "pull", "--rebase", "origin", "bob"], cwd=alice,
                            capture_output=True, text=True)
    assert pulled.returncode != 0
    assert "images.dvx: the upstream made it a file and your commit changed the folder, " \
        "and a folder and a file cannot be merged; left as a conflict" in pulled.stderr, \
        pulled.stderr
    assert "this side" not in pulled.stderr and "other side" not in pulled.stderr


def test_every_file_of_a_directory_changed_on_both_sides_is_named(tmp_path):
    team, alice = _installed_team(tmp_path)
    bob = _bob(team)
    edit(bob, "images/f1.txt", "bob's f1\n")
    (bob / "images/f3.txt").unlink()
    must("add", "images", cwd=bob)
    share(bob, "bob")
    edit(alice, "images/f1.txt", "alice's f1\n")
    edit(alice, "images/f3.txt", "alice's f3\n")
    must("add", "images", cwd=alice)
    share(alice, "alice")

    merged = _merge(alice, "origin/bob")
    assert merged.returncode != 0
    assert ("'images/f1.txt' was changed on both sides; 'images/f3.txt' was removed by the "
            "other side and changed by this side") in merged.stderr, merged.stderr


def test_a_directory_conflict_offers_two_versions_each_with_every_other_change(tmp_path):
    """Both changed f2; Bob also changed f3 and added f6, Alice changed f1. Keeping one
    version of the conflict keeps all of that, with that side's f2 (`git checkout --ours`
    would drop Bob's f3 and f6)."""
    team, alice = _installed_team(tmp_path)
    bob = _bob(team)
    edit(bob, "images/f2.txt", "bob's f2\n")
    edit(bob, "images/f3.txt", "bob's f3\n")
    write(bob / "images/f6.txt", "bob's f6\n")
    must("add", "images", cwd=bob)
    share(bob, "bob")
    edit(alice, "images/f1.txt", "alice's f1\n")
    edit(alice, "images/f2.txt", "alice's f2\n")
    must("add", "images", cwd=alice)
    share(alice, "alice")

    merged = _merge(alice, "origin/bob")
    assert merged.returncode != 0 and "each with every other change" in merged.stderr
    status = run_dvx("status", cwd=alice)
    assert status.code == 1 and "Keep one version" in status.stderr
    assert "then `dvx pull images` and `git add images.dvx`" in status.stderr
    lines = (alice / "images.dvx").read_text().splitlines(keepends=True)
    middle = lines.index("=======\n")
    (alice / "images.dvx").write_text("".join(lines[middle + 1:-1]))  # Bob's version
    must("pull", "images", cwd=alice)  # Bob's f3 and f6: not in this cache
    expected = {"f1.txt": "alice's f1\n", "f2.txt": "bob's f2\n", "f3.txt": "bob's f3\n",
                "f4.txt": "image 4\n", "f5.txt": "image 5\n", "f6.txt": "bob's f6\n"}
    assert {p.name: p.read_text() for p in (alice / "images").iterdir()} == expected
    git(alice, "add", "images.dvx")
    git(alice, "commit", "-qm", "merged")
    assert run_dvx("status", "-q", cwd=alice).code == 0


def _describe(clone, rel: str, desc: str) -> None:
    pointer = clone / rel
    pointer.write_text(pointer.read_text() + f'desc: "{desc}"\n')


def test_a_description_on_one_side_and_new_data_on_the_other_merge_field_by_field(tmp_path):
    team, alice = _installed_team(tmp_path)
    bob = _bob(team)
    _describe(bob, "raw.csv.dvx", "bob's words")
    _describe(bob, "images.dvx", "bob's images")
    share(bob, "bob describes")
    edit(alice, "raw.csv", "v2\n")
    edit(alice, "images/f1.txt", "image 1, alice's\n")
    must("add", "raw.csv", "images", cwd=alice)
    share(alice, "alice's new data")
    new_oid = xxhash.xxh3_128_hexdigest(b"v2\n")

    merged = _merge(alice, "origin/bob")
    assert merged.returncode == 0, merged.stdout + merged.stderr
    assert "merged raw.csv.dvx: data from this side, desc from the other side" in merged.stderr
    for rel, desc in (("raw.csv.dvx", "bob's words"), ("images.dvx", "bob's images")):
        text = (alice / rel).read_text()
        assert f'desc: "{desc}"' in text, text
    assert new_oid in (alice / "raw.csv.dvx").read_text()
    assert run_dvx("status", "-q", cwd=alice).code == 0


def test_in_a_pull_rebase_a_field_by_field_merge_names_the_upstream_and_your_commit(tmp_path):
    """bob describes the data, alice changes it and pulls with --rebase: Git's ours is the
    upstream, so the driver says the data came from your commit (the desc is the upstream's,
    Git's ours), never "this side" or "the other side"."""
    team, alice = _installed_team(tmp_path)
    bob = _bob(team)
    _describe(bob, "raw.csv.dvx", "bob's words")
    share(bob, "bob describes")
    edit(alice, "raw.csv", "v2\n")
    must("add", "raw.csv", cwd=alice)
    share(alice, "alice's new data")

    pulled = subprocess.run(["git", "pull", "--rebase", "origin", "bob"], cwd=alice,
                            capture_output=True, text=True)
    assert pulled.returncode == 0, pulled.stdout + pulled.stderr
    assert "merged raw.csv.dvx: data from your commit." in pulled.stderr, pulled.stderr
    assert "this side" not in pulled.stderr and "other side" not in pulled.stderr
    text = (alice / "raw.csv.dvx").read_text()
    assert 'desc: "bob\'s words"' in text and xxhash.xxh3_128_hexdigest(b"v2\n") in text, text


def test_the_same_field_changed_differently_on_both_sides_stays_a_conflict(tmp_path):
    team, alice = _installed_team(tmp_path)
    bob = _bob(team)
    _describe(bob, "raw.csv.dvx", "bob's words")
    write(bob / "images" / "f6", "a file\n")
    must("add", "images", cwd=bob)
    share(bob, "bob")
    _describe(alice, "raw.csv.dvx", "alice's words")
    write(alice / "images" / "f6" / "inner.txt", "a directory\n")
    must("add", "images", cwd=alice)
    share(alice, "alice")

    merged = _merge(alice, "origin/bob")
    assert merged.returncode != 0
    assert "raw.csv.dvx: its 'desc' was changed on both sides; left as a conflict" in (
        merged.stderr)
    assert "images.dvx: 'images/f6' is a file on one side and a folder on the other: this " \
        "side added it as a folder and the other side added it as a file, and a file and a " \
        "folder cannot be merged; left as a conflict" in merged.stderr, merged.stderr
    assert ".;" not in merged.stderr


def test_a_desc_changed_on_both_sides_keeps_each_side_s_data_changes_in_both_versions(
        tmp_path):
    """Both describe images and raw.csv differently; Alice changed f1 and raw.csv's data,
    Bob f2. Whichever version is kept, both sides' data changes are in it."""
    team, alice = _installed_team(tmp_path)
    bob = _bob(team)
    for clone, name, changed in ((bob, "bob", ["images/f2.txt"]),
                                 (alice, "alice", ["images/f1.txt", "raw.csv"])):
        for rel in changed:
            edit(clone, rel, f"{name}'s {rel}\n")
        must("add", *{rel.split("/")[0] for rel in changed}, cwd=clone)
        _describe(clone, "images.dvx", f"{name}'s images")
        _describe(clone, "raw.csv.dvx", f"{name}'s raw")
        share(clone, name)

    merged = _merge(alice, "origin/bob")
    assert merged.returncode != 0 and "each with every other change" in merged.stderr
    for pointer in ("images.dvx", "raw.csv.dvx"):
        lines = (alice / pointer).read_text().splitlines(keepends=True)
        middle = lines.index("=======\n")
        (alice / pointer).write_text("".join(lines[middle + 1:-1]))  # Bob's version
    must("pull", cwd=alice)
    assert (alice / "images/f1.txt").read_text() == "alice's images/f1.txt\n"
    assert (alice / "images/f2.txt").read_text() == "bob's images/f2.txt\n"
    assert (alice / "raw.csv").read_text() == "alice's raw.csv\n"
    assert "bob's images" in (alice / "images.dvx").read_text()
    assert "bob's raw" in (alice / "raw.csv.dvx").read_text()


def _new_source_version(source, changes: dict[str, str], message: str) -> None:
    for rel, content in changes.items():
        edit(source, rel, content)
    must("add", "imgs", cwd=source)
    commit(source, message)


def test_an_import_updated_to_different_sources_on_two_branches_is_never_mixed(
        tmp_path, monkeypatch):
    """Branch x updates the imported imgs to v2 (1.png changed), main to v3 (1.png back,
    2.png changed): entries of two source revisions would make data no revision had. It is
    a conflict whose sides are whole pointers, each with its source (each with the other
    side's description, when one side also described it); a side that only described the
    import keeps the other side's update with its source."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user-cache"))
    source = make_git_repo(tmp_path / "source")
    must("init", cwd=source)
    write(source / "imgs" / "1.png", "a\n")
    write(source / "imgs" / "2.png", "b\n")
    must("add", "imgs", cwd=source)
    commit(source, "v1")
    project = make_git_repo(tmp_path / "project")
    must("init", cwd=project)
    must("install", cwd=project)
    must("import", str(source), "imgs", cwd=project)
    commit(project, "import v1")
    _new_source_version(source, {"imgs/1.png": "a2\n"}, "v2")
    v2 = git(source, "rev-parse", "HEAD").strip()
    git(project, "checkout", "-q", "-b", "x")
    must("update", cwd=project)
    commit(project, "update to v2")
    git(project, "checkout", "-q", "main")
    _describe(project, "imgs.dvx", "described on main")
    commit(project, "describe")
    described = _merge_local(project, "x")  # main only described it: x's update is kept
    assert described.returncode == 0, described.stderr
    assert f'rev_lock: "{v2}"' in (project / "imgs.dvx").read_text()
    assert "described on main" in (project / "imgs.dvx").read_text()
    git(project, "reset", "-q", "--hard", "HEAD~1")
    _new_source_version(source, {"imgs/1.png": "a\n", "imgs/2.png": "b3\n"}, "v3")
    must("update", cwd=project)
    commit(project, "update to v3")

    merged = _merge_local(project, "x")
    assert merged.returncode != 0
    assert "imgs.dvx: the import was changed on both sides to different sources" in (
        merged.stderr)
    status = run_dvx("status", cwd=project)  # main also described it: two merged versions
    assert status.code == 1 and "Keep one version" in status.stderr
    conflicted = (project / "imgs.dvx").read_text()
    theirs = conflicted.split("=======\n")[1].split(">>>>>>>")[0]
    (project / "imgs.dvx").write_text(theirs)
    must("checkout", "imgs", cwd=project)
    assert {p.name: p.read_text() for p in (project / "imgs").iterdir()} == {
        "1.png": "a2\n", "2.png": "b\n"}  # v2 as it was, with v2 as its source
    assert f'rev_lock: "{v2}"' in (project / "imgs.dvx").read_text()
    assert "described on main" in (project / "imgs.dvx").read_text()
    assert "imgs" in run_dvx("update", cwd=project).stdout  # and it still follows its source
    assert (project / "imgs" / "2.png").read_text() == "b3\n"


def test_files_tracked_in_one_directory_on_two_branches_merge_their_gitignore(tmp_path):
    team, alice = _installed_team(tmp_path)
    write(alice / "data" / ".gitignore", "*.tmp\n# scratch\n*.bak\n")
    share(alice, "user's own ignore lines")
    bob = _bob(team)
    write(bob / "data" / "b.csv", "b\n")
    must("add", "data/b.csv", cwd=bob)
    ignore = bob / "data" / ".gitignore"
    ignore.write_text(ignore.read_text().replace("*.bak\n", ""))  # bob un-ignores *.bak
    share(bob, "bob tracks b.csv")
    write(alice / "data" / "a.csv", "a\n")
    must("add", "data/a.csv", cwd=alice)
    share(alice, "alice tracks a.csv")

    merged = _merge(alice, "origin/bob")
    assert merged.returncode == 0, merged.stdout + merged.stderr
    assert "merged data/.gitignore: lines of both sides kept" in merged.stderr
    lines = (alice / "data" / ".gitignore").read_text().splitlines()
    assert sorted(lines) == sorted(["*.tmp", "# scratch", "/a.csv", "/b.csv"])
    assert git(alice, "status", "--porcelain") == ""


def test_a_gitignore_with_a_negated_pattern_is_merged_by_git_line_by_line(tmp_path):
    team, alice = _installed_team(tmp_path)
    write(alice / "data" / ".gitignore", "*.log\n!keep.log\n\n\n\n\n*.tmp\n")
    share(alice, "user's own ignore lines")
    bob = _bob(team)
    write(bob / "data" / "b.csv", "b\n")
    must("add", "data/b.csv", cwd=bob)
    share(bob, "bob tracks b.csv")
    ignore = alice / "data" / ".gitignore"
    ignore.write_text("*.out\n" + ignore.read_text())
    share(alice, "alice ignores *.out first")

    merged = _merge(alice, "origin/bob")
    assert merged.returncode == 0, merged.stdout + merged.stderr
    assert "negated pattern" in merged.stderr and "merged line by line." in merged.stderr
    assert (alice / "data" / ".gitignore").read_text() == (
        "*.out\n*.log\n!keep.log\n\n\n\n\n*.tmp\n/b.csv\n")


def test_dvx_lock_entries_of_different_stages_merge(tmp_path):
    team, alice = _installed_team(tmp_path)
    write(alice / "dvx.yaml", "stages:\n"
          "  one:\n    cmd: cp raw.csv one.csv\n    deps: [raw.csv]\n    outs: [one.csv]\n"
          "  two:\n    cmd: cp raw.csv two.csv\n    deps: [raw.csv]\n    outs: [two.csv]\n")
    must("repro", cwd=alice)
    share(alice, "pipeline")
    bob = _bob(team)
    write(bob / "dvx.yaml", (bob / "dvx.yaml").read_text().replace(
        "cp raw.csv one.csv", "cat raw.csv raw.csv > one.csv"))
    must("repro", cwd=bob)
    share(bob, "bob changes one")
    write(alice / "dvx.yaml", (alice / "dvx.yaml").read_text().replace(
        "cp raw.csv two.csv", "cat raw.csv raw.csv raw.csv > two.csv"))
    must("repro", cwd=alice)
    share(alice, "alice changes two")
    git(alice, "config", "merge.conflictstyle", "merge")
    merged = _merge(alice, "origin/bob")
    # dvx.yaml itself is merged by Git (different lines); dvx.lock by stage
    assert merged.returncode == 0, merged.stdout + merged.stderr
    assert "merged dvx.lock: stages merged one by one" in merged.stderr
    must("pull", cwd=alice)
    status = run_dvx("status", cwd=alice)
    assert "one:" not in status.stdout and "two:" not in status.stdout, status.stdout


def test_hooks_check_data_out_after_git_checkout_and_push_it_with_git_push(tmp_path):
    team, alice = _installed_team(tmp_path)
    git(alice, "checkout", "-q", "-b", "v2")
    edit(alice, "raw.csv", "v2\n")
    must("add", "raw.csv", cwd=alice)
    git(alice, "add", "-A")
    git(alice, "commit", "-qm", "v2 data, not pushed by hand")
    switched = subprocess.run(["git", "checkout", "-q", "main"], cwd=alice,
                              capture_output=True, text=True)
    assert switched.returncode == 0
    assert (alice / "raw.csv").read_text() == "v1\n"  # post-checkout ran `dvx checkout`

    pushed = subprocess.run(["git", "push", "-q", "origin", "v2"], cwd=alice,
                            capture_output=True, text=True)
    assert pushed.returncode == 0, pushed.stderr
    oid = xxhash.xxh3_128_hexdigest(b"v2\n")
    assert oid in local_spec(team.store, "", {}).oids()  # pre-push sent it

    bob = team.clone("bob")
    must("install", cwd=bob)
    pulled = subprocess.run(["git", "checkout", "-q", "v2"], cwd=bob, capture_output=True,
                            text=True)
    assert pulled.returncode == 0
    assert run_dvx("pull", cwd=bob).code == 0
    assert (bob / "raw.csv").read_text() == "v2\n"


def test_git_pull_rebase_checks_out_the_data_of_the_replayed_commits(tmp_path):
    """A rebase checks the upstream out (post-checkout) and then replays the local commits,
    which no checkout hook sees: post-rewrite brings their data, after a hook of the user's
    that was there before (which gets Git's list of rewritten commits)."""
    team, alice = _installed_team(tmp_path)
    bob = team.clone("bob")
    write(bob / ".git/hooks/post-rewrite",
          "#!/bin/sh\ncat >> \"$(git rev-parse --git-dir)/rewritten\"\n")
    os.chmod(bob / ".git/hooks/post-rewrite", 0o755)
    must("install", cwd=bob)
    edit(bob, "images/f1.txt", "bob's f1\n")
    must("add", "images", cwd=bob)
    commit(bob, "bob changes f1")
    edit(alice, "raw.csv", "v2\n")
    must("add", "raw.csv", cwd=alice)
    share(alice, "alice changes raw.csv")

    pulled = subprocess.run(["git", "pull", "-q", "--rebase"], cwd=bob, capture_output=True,
                            text=True)
    assert pulled.returncode == 0, pulled.stderr
    assert (bob / "images/f1.txt").read_text() == "bob's f1\n"  # not the upstream's f1
    status = run_dvx("status", cwd=bob)
    assert "images" not in status.output and "raw.csv" in status.output  # raw.csv: not fetched
    assert len((bob / ".git/rewritten").read_text().split()) == 2  # old and new commit
    amended = subprocess.run(["git", "commit", "-q", "--amend", "-m", "bob's f1"], cwd=bob,
                             capture_output=True, text=True)
    assert amended.returncode == 0 and "dvx" not in amended.stderr  # an amend changes no file


@pytest.mark.parametrize("pull", [
    [["git", "pull", "-q", "--rebase", "--autostash"]],
    [["git", "pull", "-q", "--no-rebase", "--autostash"]],
    [["git", "stash", "-q"], ["git", "pull", "-q", "--rebase"], ["git", "stash", "pop", "-q"]],
], ids=["rebase-autostash", "merge-autostash", "stash-pull-pop"])
def test_an_uncommitted_add_a_pull_stashes_is_a_change_outside_a_commit_not_git_s(
        tmp_path, pull):
    """An uncommitted `dvx add` is stashed during `git pull --autostash` (or by hand): the
    hooks check out HEAD's data, then Git applies the stashed pointer, which no hook sees.
    status names that pointer changed outside a commit, never in Git (a teammate's change),
    add refuses to record the older data over it, and `dvx checkout` brings the new data."""
    team, alice = _installed_team(tmp_path)
    bob = team.clone("bob")
    write(bob / "code.txt", "bob's code\n")
    commit(bob, "bob's code")
    git(bob, "push", "-q", "origin", "main")
    write(alice / "notes.txt", "alice's notes\n")
    commit(alice, "alice's notes")  # a local commit: the pull rebases or merges it
    edit(alice, "raw.csv", "my new data\n")
    must("add", "raw.csv", cwd=alice)

    for command in pull:
        done = subprocess.run(command, cwd=alice, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
    assert (alice / "code.txt").read_text() == "bob's code\n"
    assert (alice / "raw.csv").read_text() == "v1\n"  # the hooks ran with the pointer stashed
    status = run_dvx("status", cwd=alice)
    assert "raw.csv: pointer changed outside a commit (a stash applied" in status.stdout
    assert "in Git" not in status.stdout, status.stdout
    refused = run_dvx("add", "raw.csv", cwd=alice)
    assert refused.code == 1 and "'raw.csv' changed outside a commit" in refused.stderr
    assert "--force" in refused.stderr and "in Git" not in refused.stderr

    must("checkout", "raw.csv", cwd=alice)
    assert (alice / "raw.csv").read_text() == "my new data\n"
    assert run_dvx("status", cwd=alice).stdout.strip() == "Data and pointers are up to date."


@pytest.mark.parametrize("how", ["merge", "cherry-pick"])
def test_a_pointer_a_merge_stopped_on_another_file_brought_changed_in_git(tmp_path, how):
    """A pull (or cherry-pick) stopped on a conflict in code brings a teammate's pointer
    cleanly while HEAD is not yet the commit that records it: that change is Git's."""
    team, alice = _installed_team(tmp_path)
    bob = team.clone("bob")
    must("install", cwd=bob)
    write(alice / "code.py", "alice\n")
    edit(alice, "raw.csv", "alice's data\n")
    must("add", "raw.csv", cwd=alice)
    share(alice, "alice's data and code")
    write(bob / "code.py", "bob\n")
    commit(bob, "bob's code")
    git(bob, "fetch", "-q", "origin")
    stopped = subprocess.run(["git", "merge", "--no-edit", "origin/main"] if how == "merge"
                             else ["git", "cherry-pick", "origin/main"],
                             cwd=bob, capture_output=True, text=True)
    assert stopped.returncode != 0 and "CONFLICT" in stopped.stdout, stopped.stdout
    status = run_dvx("status", "--json", cwd=bob)
    (raw,) = [o for o in json.loads(status.stdout)["outputs"] if o["path"] == "raw.csv"]
    assert raw["moved_in_workspace"] is False, raw
    shown = run_dvx("status", cwd=bob).stdout
    assert "raw.csv: pointer changed in Git" in shown and "outside a commit" not in shown


def test_a_merge_a_rebase_replays_is_checked_out_once_when_the_rebase_ends(repo, dvx):
    """`git rebase --rebase-merges` commits the merge it replays, which runs post-commit: the
    rebase's post-rewrite checks out where it ends, so post-commit leaves that merge alone."""
    assert dvx("install").code == 0
    write(repo / "a.csv", "a\n")
    assert dvx("add", "a.csv").code == 0
    commit(repo, "base")
    git(repo, "checkout", "-q", "-b", "side")
    write(repo / "b.csv", "b\n")
    assert dvx("add", "b.csv").code == 0
    commit(repo, "b.csv")
    git(repo, "checkout", "-q", "-b", "upstream", "main")
    write(repo / "notes.txt", "notes\n")
    commit(repo, "notes")
    git(repo, "checkout", "-q", "main")
    write(repo / "m.txt", "m\n")
    commit(repo, "m")
    assert _merge_local(repo, "side").returncode == 0

    rebased = subprocess.run(["git", "rebase", "-q", "--rebase-merges", "upstream"], cwd=repo,
                             capture_output=True, text=True)
    assert rebased.returncode == 0, rebased.stderr
    assert [line for line in rebased.stderr.splitlines() if "Checkout:" in line] == [
        "Checkout: 0 restored, 1 removed, 1 unchanged.",  # post-checkout of upstream
        "Checkout: 1 restored, 1 unchanged."]  # post-rewrite: b.csv, merged in again
    assert (repo / "b.csv").read_text() == "b\n"


def test_pre_push_stops_a_push_whose_data_cannot_be_sent(tmp_path):
    _, alice = _installed_team(tmp_path)
    edit(alice, "raw.csv", "v2\n")
    must("add", "raw.csv", cwd=alice)
    git(alice, "add", "-A")
    git(alice, "commit", "-qm", "v2")
    (alice / ".dvx/cache/files/xxh128").rename(alice / "elsewhere")  # the data is gone here
    pushed = subprocess.run(["git", "push", "-q", "origin", "main"], cwd=alice,
                            capture_output=True, text=True)
    assert pushed.returncode != 0
    assert "git push was stopped" in pushed.stderr and "--no-verify" in pushed.stderr
    assert git(alice, "rev-parse", "origin/main") != git(alice, "rev-parse", "main")


def test_in_a_rebase_the_merged_versions_are_labelled_the_upstream_s_and_your_commit_s(
        tmp_path):
    """A rebase (`git pull --rebase`) replays alice's commit onto bob's, so Git's ours is
    bob's side: the driver's two merged versions are labelled as the upstream's and your
    commit's, each holding what it says, where a merge labels them ours and theirs."""
    _, alice = _images_changed_on_both_sides(tmp_path)
    git(alice, "fetch", "-q", "origin")
    rebased = subprocess.run(["git", "rebase", "origin/bob"], cwd=alice, capture_output=True)
    assert rebased.returncode != 0
    text = (alice / "images.dvx").read_text()
    assert text.startswith("<<<<<<< the upstream's, with your commit's other changes\n"), text
    assert ">>>>>>> your commit's, with the upstream's other changes\n" in text, text
    said = run_dvx("status", cwd=alice).stderr
    assert "Keep one version" in said, said
    kept = text.split("\n", 1)[1].split("=======\n")[0]  # the upstream's
    (alice / "images.dvx").write_text(kept)
    must("pull", "images", cwd=alice)
    assert (alice / "images" / "f1.txt").read_text() == "bob's f1\n"
    assert (alice / "images" / "f2.txt").read_text() == "alice's f2\n"
    assert (alice / "images" / "f3.txt").read_text() == "bob's f3\n"


def test_a_cherry_pick_run_while_a_rebase_is_stopped_is_labelled_as_a_merge(repo, dvx):
    """A `git cherry-pick` run by hand while a rebase stops at an `edit`: HEAD is the user's
    own commit, so the sides are labelled ours and theirs, not the rebase's, and status says
    nothing of a rebase's reversed sides once the pick has stopped."""
    assert dvx("install").code == 0
    write(repo / "f", "base\n")
    assert dvx("add", "f").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "base")
    git(repo, "checkout", "-qb", "other")
    write(repo / "f", "other\n")
    assert dvx("add", "f").code == 0
    git(repo, "commit", "-qam", "other")
    git(repo, "checkout", "-q", "main")
    write(repo / "f", "mine\n")
    assert dvx("add", "f").code == 0
    git(repo, "commit", "-qam", "mine")
    env = {**os.environ, "GIT_SEQUENCE_EDITOR": "sed -i '1s/^pick/edit/'"}
    subprocess.run(["git", "rebase", "-qi", "HEAD~1"], cwd=repo, env=env, check=True,
                   capture_output=True)
    picked = subprocess.run(["git", "cherry-pick", "other"], cwd=repo, capture_output=True)
    assert picked.returncode != 0
    text = (repo / "f.dvx").read_text()
    assert text.startswith("<<<<<<< ours\n") and ">>>>>>> theirs\n" in text, text
    assert "Git's --ours is the upstream" not in dvx("status").stderr


def test_a_merge_whose_pointer_keeps_its_conflict_markers_is_neither_committed_nor_pushed(
        tmp_path):
    """The two merged versions between the markers name manifests only this clone's cache
    holds: a commit of them would reach teammates with data on no remote. The pre-commit
    hook stops it, `dvx push` refuses it, and the pre-push hook stops a commit of it that
    skipped the pre-commit hook, each naming the file and the way out."""
    team, alice = _images_changed_on_both_sides(tmp_path)
    assert _merge(alice, "origin/bob").returncode != 0
    head = git(alice, "rev-parse", "HEAD")

    git(alice, "add", "images.dvx")
    committed = subprocess.run(["git", "commit", "-qm", "merge"], cwd=alice,
                               capture_output=True, text=True)
    assert committed.returncode == 1 and git(alice, "rev-parse", "HEAD") == head
    assert "images.dvx: two merged versions" in committed.stderr
    assert ("Keep one version of it (delete the other and the marker lines), run `dvx pull "
            "images`") in committed.stderr
    assert "`git add -- images.dvx`, and commit again" in committed.stderr
    pushed = run_dvx("push", cwd=alice)  # refused for that pointer, as every command is
    assert pushed.code == 1 and "Skipped images.dvx" in pushed.stderr
    assert "Keep one version" in pushed.stderr

    git(alice, "commit", "-qnm", "merge")  # --no-verify
    merge = git(alice, "rev-parse", "HEAD").strip()
    pushed_git = subprocess.run(["git", "push", "-q", "origin", "main"], cwd=alice,
                                capture_output=True, text=True)
    assert pushed_git.returncode != 0 and "git push was stopped" in pushed_git.stderr
    assert (f"'{merge[:10]}:images.dvx' holds an unresolved Git merge conflict"
            in pushed_git.stderr)
    assert "`git commit --amend`" in pushed_git.stderr
    assert git(team.origin, "rev-parse", "main") != git(alice, "rev-parse", "main")

    text = (alice / "images.dvx").read_text()
    (alice / "images.dvx").write_text(text.split("\n", 1)[1].split("=======\n")[0])  # ours
    must("pull", "images", cwd=alice)
    git(alice, "add", "images.dvx")
    git(alice, "commit", "-q", "--amend", "--no-edit")
    git(alice, "push", "-q", "origin", "main")
    carol = team.clone("carol")
    assert {p.name: p.read_text() for p in (carol / "images").iterdir()} == {
        "f1.txt": "alice's f1\n", "f2.txt": "alice's f2\n", "f3.txt": "bob's f3\n",
        "f4.txt": "image 4\n", "f5.txt": "image 5\n"}


def test_pre_push_stops_a_commit_whose_pointer_cannot_be_read(tmp_path):
    _, alice = _installed_team(tmp_path)
    (alice / "raw.csv.dvx").write_text("dvx: 1\ntype: file\noid: not-an-oid\n")
    commit(alice, "a bad hand edit")
    bad = git(alice, "rev-parse", "HEAD").strip()
    write(alice / "notes.txt", "later\n")
    commit(alice, "notes")
    pushed = subprocess.run(["git", "push", "-q", "origin", "main"], cwd=alice,
                            capture_output=True, text=True)
    assert pushed.returncode != 0 and "git push was stopped" in pushed.stderr
    assert f"'{bad[:10]}:raw.csv.dvx'" in pushed.stderr
    assert "git rebase -i" in pushed.stderr
    assert git(alice, "rev-parse", "origin/main") != git(alice, "rev-parse", "main")


def _git_push(clone, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "push", *args], cwd=clone, capture_output=True, text=True)


def test_pre_push_goes_on_past_a_teammates_unreadable_pointer_the_remote_already_has(
        tmp_path):
    """A pointer written by a newer dvx is named, not stopped for: its data is that dvx's to
    push. One a teammate pushed damaged with `--no-verify` is theirs to fix: a later push of
    anyone's commits that leave it as it is goes on without a word of it."""
    team, alice = _installed_team(tmp_path)
    bob = team.clone("bob")
    must("install", cwd=bob)
    (bob / "new.bin.dvx").write_text("dvx: 2\noid: 0123\n")
    commit(bob, "a newer dvx's pointer")
    newer = git(bob, "rev-parse", "HEAD").strip()
    pushed = _git_push(bob, "-q", "origin", "main")
    assert pushed.returncode == 0, pushed.stderr
    assert "WARNING: some of the commits being pushed hold files written by a newer dvx" \
        in pushed.stderr
    assert f"'{newer[:10]}:new.bin.dvx' was written by a newer dvx (format 2)" in pushed.stderr
    pointer = (bob / "raw.csv.dvx").read_text()
    (bob / "raw.csv.dvx").write_text(f"<<<<<<< HEAD\n{pointer}=======\n{pointer}>>>>>>> b\n")
    git(bob, "commit", "-qanm", "markers")  # --no-verify
    git(bob, "push", "-q", "--no-verify", "origin", "main")

    git(alice, "pull", "-q", "--no-rebase")
    write(alice / "notes.txt", "unrelated\n")
    commit(alice, "notes")
    pushed = _git_push(alice, "origin", "main")
    assert pushed.returncode == 0, pushed.stderr
    assert "new.bin.dvx" not in pushed.stderr and "raw.csv.dvx" not in pushed.stderr
    assert git(team.origin, "rev-parse", "main") == git(alice, "rev-parse", "main")


def test_pre_push_and_exp_push_stop_for_a_manifest_dvx_refuses_and_say_why(tmp_path):
    """A teammate's pointer naming a manifest with a '..' path: the data it lists cannot be
    pushed, so the pre-push hook stops the push saying so (and how to push without the data),
    and `dvx exp push` pushes no experiment, naming the pointer file rather than the Git
    remote as the cause."""
    team, alice = _installed_team(tmp_path)
    bad = b'{"algo":"xxh128","format":"dvx-tree","version":1}\n' + json.dumps(
        ["../pwned", xxhash.xxh3_128_hexdigest(b"1\n"), 2, False],
        separators=(",", ":")).encode() + b"\n"
    oid = xxhash.xxh3_128_hexdigest(bad)
    write(team.store / "files/xxh128" / oid[:2] / oid[2:], bad)
    write(alice / "bad.dvx", f"dvx: 1\ntype: dir\nalgo: xxh128\noid: {oid}\nsize: 2\n"
          "nfiles: 1\n")
    git(alice, "add", "bad.dvx")
    git(alice, "commit", "-qnm", "a bad pointer")
    git(alice, "push", "-q", "--no-verify", "origin", "main")
    bob = team.clone("bob", pull=False)
    must("install", cwd=bob)
    write(bob / "dvx.yaml", "stages:\n  s:\n    cmd: echo 1 > o.txt\n    outs: [o.txt]\n")
    commit(bob, "a stage")

    pushed = _git_push(bob, "origin", "main")
    assert pushed.returncode != 0
    message = " ".join(pushed.stderr.split())
    assert "ERROR: dvx could not push the data of the commits being pushed" in message
    assert "bad.dvx: 'bad.dvx' names the directory manifest" in message, message
    assert "it has a '..' component" in message, message
    assert "The git push was stopped" in message and "`git push --no-verify`" in message
    assert message.count("ERROR:") == 1, message

    must("exp", "run", "-n", "e1", cwd=bob)
    exp_pushed = run_dvx("exp", "push", "origin", "e1", cwd=bob)
    assert exp_pushed.code == 1, exp_pushed.output
    message = " ".join(exp_pushed.stderr.split())
    assert "none of them was pushed: e1" in message, message
    assert "ERROR: Skipped bad.dvx: 'bad.dvx' names the directory manifest" in message, message
    assert "name or URL" not in message, message
    assert "refs/exps" not in git(team.origin, "for-each-ref")


def test_pre_push_names_a_damaged_pointer_a_later_pushed_commit_fixed_and_goes_on(tmp_path):
    """Only the commits pushed are judged, against what the remote has: a damaged pointer a
    later commit of the same push fixes is named where it came in; a push of the branch to a
    new remote looks at its tip only, as the history below was published already."""
    team, alice = _installed_team(tmp_path)
    pointer = (alice / "raw.csv.dvx").read_text()
    (alice / "raw.csv.dvx").write_text(f"<<<<<<< HEAD\n{pointer}=======\n{pointer}>>>>>>> b\n")
    git(alice, "commit", "-qanm", "markers")  # --no-verify
    bad = git(alice, "rev-parse", "HEAD").strip()
    (alice / "raw.csv.dvx").write_text(pointer)
    commit(alice, "fixed")
    pushed = _git_push(alice, "origin", "main")
    assert pushed.returncode == 0, pushed.stderr
    assert ("WARNING: some of the commits being pushed hold files dvx cannot read, each "
            "changed or removed by a later commit pushed with them") in pushed.stderr
    assert (f"    The pointer file '{bad[:10]}:raw.csv.dvx' holds an unresolved Git merge "
            "conflict") in pushed.stderr
    assert git(team.origin, "rev-parse", "main") == git(alice, "rev-parse", "main")

    backup = tmp_path / "backup.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(backup))
    git(alice, "remote", "add", "backup", str(backup))
    pushed = _git_push(alice, "backup", "main")
    assert pushed.returncode == 0, pushed.stderr
    assert "raw.csv.dvx" not in pushed.stderr
    assert git(backup, "rev-parse", "main") == git(alice, "rev-parse", "main")


def test_pre_push_stopped_by_the_filesystem_or_no_default_remote_says_how_to_push_anyway(
        tmp_path):
    _, alice = _installed_team(tmp_path)
    edit(alice, "raw.csv", "v2\n")
    must("add", "raw.csv", cwd=alice)
    git(alice, "add", "-A")
    git(alice, "commit", "-qm", "v2")
    write(tmp_path / "a-file", "in the way of the remote's folder\n")
    must("remote", "modify", "shared", "url", str(tmp_path / "a-file" / "store"), cwd=alice)
    pushed = subprocess.run(["git", "push", "-q", "origin", "main"], cwd=alice,
                            capture_output=True, text=True)
    assert pushed.returncode != 0 and "Not a directory" in pushed.stderr
    assert "git push was stopped" in pushed.stderr and "--no-verify" in pushed.stderr
    must("remote", "default", "--unset", cwd=alice)
    pushed = subprocess.run(["git", "push", "-q", "origin", "main"], cwd=alice,
                            capture_output=True, text=True)
    assert pushed.returncode != 0 and "no default dvx remote" in pushed.stderr
    assert "dvx remote default NAME" in pushed.stderr and "-r NAME" not in pushed.stderr
    assert "--no-verify" in pushed.stderr
    assert git(alice, "rev-parse", "origin/main") != git(alice, "rev-parse", "main")


def test_a_forced_push_over_a_tip_this_clone_never_fetched_pushes_its_data(tmp_path):
    team, alice = _installed_team(tmp_path)
    bob = team.clone("bob")
    must("install", cwd=bob)
    edit(alice, "raw.csv", "alice's v2\n")
    must("add", "raw.csv", cwd=alice)
    share(alice, "alice's v2")  # bob never fetches it
    edit(bob, "raw.csv", "bob's rewrite\n")
    must("add", "raw.csv", cwd=bob)
    commit(bob, "bob's rewrite")
    pushed = subprocess.run(["git", "push", "-q", "--force", "origin", "main"], cwd=bob,
                            capture_output=True, text=True)
    assert pushed.returncode == 0, pushed.stderr
    assert "bad object" not in pushed.stderr
    assert xxhash.xxh3_128_hexdigest(b"bob's rewrite\n") in local_spec(team.store, "",
                                                                         {}).oids()
    assert git(team.origin, "rev-parse", "main") == git(bob, "rev-parse", "main")


@pytest.mark.parametrize("how", [["origin", "v1"], ["--tags"], ["--mirror"]])
def test_a_forced_push_of_a_moved_annotated_tag_pushes_its_data(tmp_path, how):
    """Git tells the hook the moved tag's old object, an annotated tag rather than a commit:
    the push measures against the commit it names and sends the data the tag now brings."""
    team, alice = _installed_team(tmp_path)
    git(alice, "tag", "-a", "-m", "release", "v1")
    git(alice, "push", "-q", "origin", "v1")
    edit(alice, "raw.csv", "v2, on no pushed branch\n")
    must("add", "raw.csv", cwd=alice)
    commit(alice, "v2")
    git(alice, "tag", "-f", "-a", "-m", "release, moved", "v1")
    pushed = subprocess.run(["git", "push", "-q", "-f", *how], cwd=alice,
                            capture_output=True, text=True)
    assert pushed.returncode == 0, pushed.stderr
    assert "not a commit" not in pushed.stderr
    assert xxhash.xxh3_128_hexdigest(b"v2, on no pushed branch\n") in local_spec(
        team.store, "", {}).oids()
    assert git(team.origin, "rev-parse", "v1^{commit}") == git(alice, "rev-parse", "HEAD")


def test_a_push_to_an_existing_branch_sends_only_the_data_of_its_new_commits(tmp_path):
    """After `dvx gc -w` dropped an old version from the remote, pushing a code commit neither
    uploads that version again nor stops a teammate whose cache never had it."""
    team, alice = _installed_team(tmp_path)
    edit(alice, "raw.csv", "v2\n")
    must("add", "raw.csv", cwd=alice)
    commit(alice, "v2")
    git(alice, "push", "-q", "origin", "main")  # the hook sends v2
    must("gc", "-w", "-c", "shared", "--grace", "0", "-f", cwd=alice)
    old = xxhash.xxh3_128_hexdigest(b"v1\n")
    assert old not in local_spec(team.store, "", {}).oids()
    write(alice / "train.py", "print('training')\n")
    commit(alice, "code only")
    reader = Git(str(alice))
    try:  # what the hook counts as sent: the one new commit, not the whole history
        sent = reader.commits_to_push("HEAD", git(alice, "rev-parse", "origin/main").strip(),
                                      "origin")
    finally:
        reader.close()
    assert sent == [git(alice, "rev-parse", "HEAD").strip()]
    pushed = subprocess.run(["git", "push", "origin", "main"], cwd=alice, capture_output=True,
                            text=True)
    assert pushed.returncode == 0, pushed.stderr
    assert "Pushed 0 objects" in pushed.stdout
    assert old not in local_spec(team.store, "", {}).oids()  # what gc removed stays removed

    bob = team.clone("bob")  # gets v2; v1 is in no cache of his nor on the remote
    must("install", cwd=bob)
    write(bob / "train.py", "print('more training')\n")
    commit(bob, "bob's code")
    pushed = subprocess.run(["git", "push", "origin", "main"], cwd=bob, capture_output=True,
                            text=True)
    assert pushed.returncode == 0, pushed.stderr
    assert git(team.origin, "rev-parse", "main") == git(bob, "rev-parse", "main")


def test_a_clone_that_never_fetched_the_data_pushes_its_code_commits(tmp_path):
    team, alice = _installed_team(tmp_path)
    bob = team.clone("bob", pull=False)  # works on the code only: no data fetched
    must("install", cwd=bob)
    write(bob / "train.py", "print('training')\n")
    git(bob, "add", "train.py")
    git(bob, "commit", "-qm", "code only")
    pushed = subprocess.run(["git", "push", "-q", "origin", "main"], cwd=bob,
                            capture_output=True, text=True)
    assert pushed.returncode == 0, pushed.stderr  # the pre-push hook found it all there
    assert run_dvx("push", cwd=bob).code == 0
    # Only the manifest came, to learn what the directory needs; no file of it.
    assert not (bob / "images").exists()
    assert len([p for p in (bob / ".dvx/cache/files").rglob("*") if p.is_file()]) == 1

    # A directory whose manifest is on no remote is still named as the problem.
    git(alice, "pull", "-q", "--no-rebase", "origin", "main")
    edit(alice, "images/f1.txt", "changed\n")
    must("add", "images", cwd=alice)
    git(alice, "add", "-A")
    git(alice, "commit", "-qm", "v2 images, never pushed")
    git(alice, "push", "-q", "--no-verify", "origin", "main")
    git(bob, "pull", "-q", "--no-rebase", "origin", "main")
    failed = run_dvx("push", cwd=bob)
    assert failed.code != 0 and "neither the cache nor the remote" in failed.output, failed.output


def test_a_clone_without_the_merge_driver_the_repository_asks_for_is_warned(tmp_path):
    team, _ = _installed_team(tmp_path)
    bob = team.clone("bob")  # .gitattributes came with the clone; the driver did not
    warning = "this clone has not set up"
    for command in (("status",), ("repro",)):
        result = run_dvx(*command, cwd=bob)
        assert result.stderr.count(warning) == 1 and "`dvx install`" in result.stderr, command
    assert warning not in run_dvx("status", "-q", cwd=bob).stderr
    must("install", cwd=bob)
    assert warning not in run_dvx("status", cwd=bob).stderr


def test_a_pointer_git_left_unmerged_when_the_driver_could_not_run_is_a_conflict(tmp_path):
    """The Python the merge driver was set up with is gone (a virtual environment rebuilt):
    Git leaves images.dvx holding our side, without markers, listed as unmerged. status names
    it as a conflict (a `git add` would drop bob's f6), `dvx install` and `git checkout -m`
    merge it again with both sides' changes."""
    _, alice = _images_changed_on_two_branches(tmp_path)
    git(alice, "config", "merge.dvx.driver",
        f"{tmp_path / 'gone' / 'python'} -c pass git-hook merge-driver %O %A %B %P")

    assert _merge(alice, "origin/bob").returncode != 0
    assert b"<<<<<<<" not in (alice / "images.dvx").read_bytes()  # our side, as it was
    status = run_dvx("status", cwd=alice)
    assert status.code == 1
    assert "'images.dvx' holds an unresolved Git merge conflict" in status.stderr
    assert "our side alone" in status.stderr and "drop their changes" in status.stderr
    assert "`git checkout -m images.dvx`" in status.stderr
    assert f"runs {tmp_path / 'gone' / 'python'}, which no longer exists" in status.stderr

    must("install", cwd=alice)
    assert "no longer exists" not in run_dvx("status", cwd=alice).stderr
    git(alice, "checkout", "-m", "images.dvx")
    assert "nfiles: 6" in (alice / "images.dvx").read_text()
    status = run_dvx("status", cwd=alice)  # merged, not yet added
    assert status.code == 1 and "`git add images.dvx`" in status.stderr
    must("pull", "images", cwd=alice)
    git(alice, "add", "images.dvx")
    git(alice, "commit", "-qm", "merged bob's")
    assert (alice / "images/f1.txt").read_text() == "image 1, alice's\n"
    assert (alice / "images/f6.txt").read_text() == "image 6, bob's\n"
    assert run_dvx("status", "-q", cwd=alice).code == 0


def _changed_by_bob_removed_by_alice(tmp_path, tracked: str) -> tuple[object, object]:
    """bob changes the tracked `tracked` (adds images/f6.txt to a folder), alice removes it
    with `dvx remove --outs`; each pushes data and commit."""
    team, alice = _installed_team(tmp_path)
    bob = _bob(team)
    if tracked == "images":
        write(bob / "images" / "f6.txt", "image 6, bob's\n")
    else:
        edit(bob, tracked, "v2, bob's\n")
    must("add", tracked, cwd=bob)
    share(bob, "bob changes it")
    must("remove", "--outs", f"{tracked}.dvx", cwd=alice)
    share(alice, "alice removes it")
    return alice, bob


@pytest.mark.parametrize("tracked, deleted_by, keep", [
    ("raw.csv", "theirs", True), ("images", "ours", True),
    ("raw.csv", "ours", False), ("images", "theirs", False)])
def test_a_pointer_one_side_deleted_and_the_other_changed_is_named_so_with_both_ways_out(
        tmp_path, tracked, deleted_by, keep):
    """A modify/delete conflict never reaches the merge driver: Git's index holds the changed
    side alone, so `git checkout -m` and --ours/--theirs fail. status names who deleted the
    pointer and who changed it, and the two ways out it gives, pasted, resolve it: keep it
    (with its data placed) or accept the deletion (the data leaves the workspace)."""
    alice, bob = _changed_by_bob_removed_by_alice(tmp_path, tracked)
    merger, branch = (bob, "origin/main") if deleted_by == "theirs" else (alice, "origin/bob")
    assert _merge(merger, branch).returncode != 0
    pointer = f"{tracked}.dvx"
    assert {stage for _, stage, _ in unmerged_entries(str(merger))} == (
        {1, 2} if deleted_by == "theirs" else {1, 3})

    status = run_dvx("status", cwd=merger)
    assert status.code == 1, status.output
    deleter, changer = ("their", "our") if deleted_by == "theirs" else ("our", "their")
    assert (f"'{pointer}' holds an unresolved Git merge conflict: {deleter} side deleted it "
            f"and {changer} side changed it (a modify/delete conflict)") in status.stderr
    assert f"`git checkout -m {pointer}`" not in status.stderr
    assert f"`git checkout --ours {pointer}`" not in status.stderr
    assert f"Keep it as changed: `git add {pointer}`, then `dvx pull {tracked}`" in status.stderr
    assert f"Or accept the deletion: `git rm {pointer}`; `dvx checkout` then" in status.stderr
    if keep:
        git(merger, "add", pointer)
        must("pull", tracked, cwd=merger)
        assert ((merger / "images" / "f6.txt").is_file() if tracked == "images" else
                (merger / tracked).read_text() == "v2, bob's\n")
    else:
        git(merger, "rm", "-q", pointer)
        must("checkout", cwd=merger)
        assert not (merger / tracked).exists()
    commit(merger, "resolved")
    assert run_dvx("status", "-q", cwd=merger).code == 0


@pytest.mark.parametrize("deleted_by", ["ours", "theirs"])
def test_a_pointer_kept_whose_deleting_side_put_its_data_into_git_is_untracked_by_git_first(
        tmp_path, deleted_by):
    """alice stopped tracking images with dvx and committed its files into Git; bob changed
    it. Keeping bob's pointer after the modify/delete conflict needs Git to let go of the
    data first: status names that `git rm -r --cached` before the `git add` of the pointer,
    and the commands, pasted in order, leave the pointer alone tracking the data."""
    team, alice = _installed_team(tmp_path)
    bob = _bob(team)
    write(bob / "images" / "f6.txt", "image 6, bob's\n")
    must("add", "images", cwd=bob)
    share(bob, "bob adds f6")
    must("remove", "images.dvx", cwd=alice)  # the files stay, no longer ignored by Git
    share(alice, "alice hands images to Git")
    assert git(alice, "ls-files", "images").split() == [f"images/f{i}.txt" for i in range(1, 6)]
    merger, branch = (bob, "origin/main") if deleted_by == "theirs" else (alice, "origin/bob")
    assert _merge(merger, branch).returncode != 0

    status = run_dvx("status", cwd=merger)
    assert status.code == 1, status.output
    assert ("Keep it as changed: `git rm -r --cached -- images`, then `git add images.dvx`, "
            "then `dvx pull images` places its data") in status.stderr, status.stderr
    git(merger, "rm", "-r", "-q", "--cached", "--", "images")
    git(merger, "add", "images.dvx")
    must("pull", "images", cwd=merger)
    assert (merger / "images" / "f6.txt").read_text() == "image 6, bob's\n"
    assert (merger / "images" / "f1.txt").read_text() == "image 1\n"
    commit(merger, "resolved")
    assert git(merger, "ls-files", "images").split() == []
    assert run_dvx("status", "-q", cwd=merger).code == 0


@pytest.mark.parametrize("edited_in_git", [False, True])
@pytest.mark.parametrize("deleted_by", ["ours", "theirs"])
def test_a_file_kept_whose_deleting_side_put_it_into_git_gets_the_pointer_s_data_as_pasted(
        tmp_path, deleted_by, edited_in_git):
    """bob changed raw.csv with `dvx add`; alice stopped tracking it with dvx and committed it
    into Git (edited first, so that no cache here holds Git's bytes, or not). The merge stops
    on a modify/delete conflict over the pointer, the workspace's raw.csv holding Git's file
    (theirs written over bob's data, or alice's own). `dvx checkout` names that conflict with
    its ways out, never `git add -f` nor `git mv`; its way to keep the pointer, pasted,
    places bob's data over Git's file (which Git's history keeps), never refused as a change
    made here that `dvx commit` would then record."""
    team, alice = _installed_team(tmp_path)
    bob = _bob(team)
    edit(bob, "raw.csv", "v2, bob's\n")
    must("add", "raw.csv", cwd=bob)
    share(bob, "bob changes it")
    must("remove", "raw.csv.dvx", cwd=alice)  # the file stays, no longer ignored by Git
    if edited_in_git:
        edit(alice, "raw.csv", "v1, edited in Git\n")
    share(alice, "alice hands raw.csv to Git")
    in_git = (alice / "raw.csv").read_text()
    merger, branch = (bob, "origin/main") if deleted_by == "theirs" else (alice, "origin/bob")
    assert _merge(merger, branch).returncode != 0
    assert (merger / "raw.csv").read_text() == in_git

    checkout = run_dvx("checkout", "raw.csv", cwd=merger)
    assert checkout.code == 1, checkout.output
    said = " ".join(checkout.output.split())
    assert ("Skipped raw.csv: it is tracked by Git too, and the pointer file 'raw.csv.dvx' "
            "holds an unresolved Git merge conflict") in said, said
    assert "git add -f" not in said and "git mv" not in said, said
    keep = said.split("Keep it as changed: ", 1)[1].split(". Or accept", 1)[0]
    for command in re.findall(r"`([^`]*)`", keep):
        pasted(command, merger)
    assert (merger / "raw.csv").read_text() == "v2, bob's\n"
    commit(merger, "resolved")
    assert git(merger, "ls-files", "raw.csv") == ""
    assert git(merger, "show", "HEAD:raw.csv.dvx") == (merger / "raw.csv.dvx").read_text()
    assert run_dvx("status", "-q", cwd=merger).code == 0, run_dvx("status", cwd=merger).output


@pytest.mark.parametrize("deleted_by", ["ours", "theirs"])
def test_a_deletion_accepted_whose_deleting_side_put_its_data_into_git_leaves_git_its_files(
        tmp_path, deleted_by):
    """alice stopped tracking images with dvx and committed its files into Git; bob changed
    it (added f6). Accepting the deletion after the modify/delete conflict leaves Git its
    files: status says so rather than that checkout removes the data, and the commands,
    pasted, leave images/ holding Git's files alone (bob's f6, which dvx placed and Git
    does not track, goes from the workspace, its object kept in the cache)."""
    team, alice = _installed_team(tmp_path)
    bob = _bob(team)
    write(bob / "images" / "f6.txt", "image 6, bob's\n")
    must("add", "images", cwd=bob)
    share(bob, "bob adds f6")
    must("remove", "images.dvx", cwd=alice)  # the files stay, no longer ignored by Git
    share(alice, "alice hands images to Git")
    merger, branch = (bob, "origin/main") if deleted_by == "theirs" else (alice, "origin/bob")
    assert _merge(merger, branch).returncode != 0

    status = run_dvx("status", cwd=merger)
    assert status.code == 1, status.output
    assert ("Or accept the deletion: `git rm images.dvx`; what Git tracks at images stays in "
            "the workspace as Git's files, and `dvx checkout` then removes any other data dvx "
            "placed there") in status.stderr, status.stderr
    assert "removes the data at images" not in status.stderr
    git(merger, "rm", "-q", "images.dvx")
    must("checkout", cwd=merger)
    git_files = [f"images/f{i}.txt" for i in range(1, 6)]
    assert sorted(f"images/{p.name}" for p in (merger / "images").iterdir()) == git_files
    assert (merger / "images" / "f1.txt").read_text() == "image 1\n"
    commit(merger, "resolved")
    assert git(merger, "ls-files", "images").split() == git_files
    assert git(merger, "status", "--porcelain") == ""
    assert run_dvx("status", "-q", cwd=merger).code == 0


def test_a_pointer_deleted_upstream_and_changed_by_a_commit_a_rebase_replays_is_named_so(
        tmp_path):
    """In a `git pull --rebase`, Git's ours is the upstream: the pointer alice's pushed
    commit removed and bob's replayed commit changed is named so, not the other way round.
    The hint ends with the `git rebase --continue` that goes on once it is resolved: pasted
    after keeping it as changed, the rebase ends with bob's data in place."""
    _, bob = _changed_by_bob_removed_by_alice(tmp_path, "raw.csv")
    git(bob, "branch", "-q", "--set-upstream-to", "origin/main")
    pulled = subprocess.run(["git", "pull", "-q", "--rebase"], cwd=bob, capture_output=True)
    assert pulled.returncode != 0
    status = run_dvx("status", cwd=bob)
    assert status.code == 1
    assert ("holds an unresolved Git merge conflict: the upstream's side deleted it and your "
            "commit's side changed it") in status.stderr, status.stderr
    assert status.stderr.rstrip().endswith(
        "Once no file is left in conflict, `git rebase --continue` goes on with the rebase."), \
        status.stderr
    assert ("Keep it as changed: `git add raw.csv.dvx`, then `dvx pull raw.csv` places its "
            "data and writes its .gitignore entry again, then `git add .gitignore`."
            ) in status.stderr
    git(bob, "add", "raw.csv.dvx")
    must("pull", "raw.csv", cwd=bob)
    git(bob, "add", ".gitignore")  # else `git rebase --continue` refuses the change to it
    subprocess.run(["git", "rebase", "--continue"], cwd=bob, check=True, capture_output=True,
                   env={**os.environ, "GIT_EDITOR": "true"})
    assert git(bob, "log", "-1", "--format=%s", "HEAD^").strip() == "alice removes it"
    assert (bob / "raw.csv").read_text() == "v2, bob's\n"
    assert "/raw.csv" in git(bob, "show", "HEAD:.gitignore").splitlines()
    assert run_dvx("status", "-q", cwd=bob).code == 0


def test_dvx_lock_one_side_deleted_and_the_other_changed_is_named_so_with_both_ways_out(
        tmp_path):
    team, alice = _installed_team(tmp_path)
    write(alice / "dvx.yaml",
          "stages:\n  one:\n    cmd: cp raw.csv one.csv\n    deps: [raw.csv]\n"
          "    outs: [one.csv]\n")
    must("repro", cwd=alice)
    share(alice, "pipeline")
    bob = _bob(team)
    edit(bob, "raw.csv", "v2, bob's\n")
    must("add", "raw.csv", cwd=bob)
    must("repro", cwd=bob)
    share(bob, "bob runs it anew")
    git(alice, "rm", "-q", "dvx.lock")
    git(alice, "commit", "-qm", "alice drops dvx.lock")
    git(alice, "push", "-q", "origin", "main")

    assert _merge(bob, "origin/main").returncode != 0
    status = run_dvx("status", cwd=bob)
    assert status.code == 1, status.output
    assert ("dvx.lock holds an unresolved Git merge conflict: their side deleted it and our "
            "side changed it (a modify/delete conflict)") in status.stderr
    assert "Keep it as changed: `git add dvx.lock`, then `dvx repro`" in status.stderr
    assert "Or accept the deletion: `git rm dvx.lock`; `dvx status` then names" in status.stderr
    git(bob, "rm", "-q", "dvx.lock")
    after = run_dvx("status", cwd=bob)
    assert "one:" in after.stdout and "unresolved" not in after.stderr, after.output


def test_a_pointer_both_sides_added_that_the_driver_could_not_merge_is_named_so(tmp_path):
    """Both sides added the folder new/, each with a file of its own (an add/add conflict:
    no merge base), and the driver could not run: status says both added it, and `git
    checkout -m` after `dvx install` merges it, keeping both files."""
    team, alice = _installed_team(tmp_path)
    bob = _bob(team)
    write(bob / "new" / "b.txt", "bob's\n")
    must("add", "new", cwd=bob)
    share(bob, "bob adds new")
    write(alice / "new" / "a.txt", "alice's\n")
    must("add", "new", cwd=alice)
    share(alice, "alice adds new")
    git(alice, "config", "merge.dvx.driver",
        f"{tmp_path / 'gone' / 'python'} -c pass git-hook merge-driver %O %A %B %P")

    assert _merge(alice, "origin/bob").returncode != 0
    status = run_dvx("status", cwd=alice)
    assert status.code == 1
    assert ("'new.dvx' holds an unresolved Git merge conflict (both sides added it): Git's "
            "index lists it as unmerged, and it holds our side alone") in status.stderr
    assert "`git checkout -m new.dvx`" in status.stderr
    must("install", cwd=alice)
    git(alice, "checkout", "-m", "new.dvx")
    must("pull", "new", cwd=alice)
    git(alice, "add", "new.dvx")
    assert sorted(p.name for p in (alice / "new").iterdir()) == ["a.txt", "b.txt"]


def _keep_version(clone, pointer: str, which: int) -> None:
    """Resolve a conflict the driver left as two merged versions by keeping one (0: ours)."""
    text = (clone / pointer).read_text()
    ours, theirs = text.split("\n", 1)[1].split("=======\n")
    (clone / pointer).write_text([ours, theirs.rsplit(">>>>>>> ", 1)[0]][which])
    must("checkout", pointer.removesuffix(".dvx"), cwd=clone)
    commit(clone, f"resolved {pointer}")


@pytest.mark.parametrize("b_keeps", [0, 1])
def test_a_criss_cross_merge_compares_each_side_with_both_merge_bases(tmp_path, b_keeps):
    """A merges B, B merges A's older commit, each settling the conflict on f1 (B as A did,
    or its own way); then each adds a file. The last merge has two merge bases, which
    conflict: it keeps both new files, and conflicts on f1 only if A and B settled it
    differently, never on a merge base's markers."""
    _, alice = _installed_team(tmp_path)
    for branch, changes in (("A", {"f1": "A's f1\n"}),
                            ("B", {"f1": "B's f1\n", "f2": "B's f2\n"})):
        git(alice, "checkout", "-q", "-b", branch, "main")
        for name, content in changes.items():
            edit(alice, f"images/{name}.txt", content)
        must("add", "images", cwd=alice)
        commit(alice, branch)
    git(alice, "checkout", "-q", "A")
    assert _merge_local(alice, "B").returncode != 0
    _keep_version(alice, "images.dvx", 0)  # A's f1
    git(alice, "checkout", "-q", "B")
    assert _merge_local(alice, "A~1").returncode != 0
    _keep_version(alice, "images.dvx", b_keeps)  # B's f1, or A's as A kept
    for branch in ("A", "B"):
        git(alice, "checkout", "-q", branch)
        write(alice / "images" / f"new-{branch}.txt", f"added on {branch}\n")
        must("add", "images", cwd=alice)
        commit(alice, f"{branch} adds a file")
    git(alice, "checkout", "-q", "A")
    merged = _merge_local(alice, "B")
    assert "merge base" not in merged.stderr and "(base)" not in merged.stderr, merged.stderr
    if b_keeps == 1:
        assert merged.returncode == 0, merged.stderr
    else:
        assert merged.returncode != 0
        assert "'images/f1.txt' was changed on both sides" in merged.stderr
        _keep_version(alice, "images.dvx", 0)
    files = {p.name: p.read_text() for p in (alice / "images").iterdir()}
    assert files["f1.txt"] == "A's f1\n" and files["f2.txt"] == "B's f2\n"
    assert files["new-A.txt"] == "added on A\n" and files["new-B.txt"] == "added on B\n"


def _stage_removed_by_bob_rerun_by_alice(tmp_path) -> object:
    """bob removes the stage two and shares it; alice, on main, reruns it on a new input:
    dvx.yaml and the input merge as lines, dvx.lock conflicts on stage two."""
    team, alice = _installed_team(tmp_path)
    one = "  one:\n    cmd: cp raw.csv one.csv\n    deps: [raw.csv]\n    outs: [one.csv]\n"
    write(alice / "src.txt", "v1\n")
    write(alice / "dvx.yaml", "stages:\n" + one
          + "  two:\n    cmd: cp src.txt two.csv\n    deps: [src.txt]\n    outs: [two.csv]\n")
    must("repro", cwd=alice)
    share(alice, "pipeline")
    bob = _bob(team)
    must("stage", "remove", "two", cwd=bob)
    (bob / "two.csv").unlink()
    share(bob, "bob removes stage two")
    edit(alice, "src.txt", "v2\n")
    must("repro", cwd=alice)
    commit(alice, "alice reruns two")
    git(alice, "fetch", "-q", "origin")
    return alice


def test_a_stage_removed_on_one_side_and_rerun_on_the_other_is_named_so_with_its_sides(
        tmp_path):
    """The merge driver names a stage one side removed and the other changed as such, with
    the side that did which (a rebase's sides as a rebase names them), and status says which
    of `--ours` and `--theirs` keeps the stage."""
    alice = _stage_removed_by_bob_rerun_by_alice(tmp_path)
    merged = _merge_local(alice, "origin/bob")
    assert merged.returncode != 0
    assert ("dvx.lock: stage 'two' was removed by the other side and changed by this side; "
            "left as a conflict") in merged.stderr, merged.stderr
    assert "changed on both sides" not in merged.stderr
    status = run_dvx("status", cwd=alice)
    message = " ".join(status.stderr.split())
    assert ("Stage 'two' was removed on the side `--theirs` takes and changed on the one "
            "`--ours` takes.") in message, message
    git(alice, "merge", "--abort")
    rebased = subprocess.run(["git", "rebase", "origin/bob"], cwd=alice, capture_output=True,
                             text=True)
    assert rebased.returncode != 0
    assert ("dvx.lock: stage 'two' was removed by the upstream and changed by your commit"
            in rebased.stderr), rebased.stderr
    message = " ".join(run_dvx("status", cwd=alice).stderr.split())
    assert ("Stage 'two' was removed on the side `--ours` takes and changed on the one "
            "`--theirs` takes.") in message, message


def test_a_revert_of_a_folder_regenerated_says_it_cannot_tell_a_rename_and_how_to_keep_a_side(
        repo, dvx):
    """A revert names Git no commits, so the driver cannot tell a folder regenerated under
    new names (every file renamed) from another folder Git paired with this one: the
    conflict says so, not that Git paired them, with the ways out (keep a side, or edit it);
    status offers no `git checkout -m`, which would only leave the same conflict again."""
    assert dvx("install").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "install")
    write(repo / "data" / "parts" / "part-a", "a\n")
    write(repo / "data" / "parts" / "part-b", "b\n")
    assert dvx("add", "data/parts").code == 0
    commit(repo, "v1")
    for name in ("part-a", "part-b"):
        (repo / "data" / "parts" / name).unlink()
    write(repo / "data" / "parts" / "part-c", "c\n")
    write(repo / "data" / "parts" / "part-d", "d\n")
    assert dvx("add", "data/parts").code == 0
    commit(repo, "regenerate the parts")
    write(repo / "data" / "parts" / "extra", "e\n")
    assert dvx("add", "data/parts").code == 0
    commit(repo, "add extra")
    reverted = subprocess.run(["git", "revert", "--no-edit", "HEAD~1"], cwd=repo,
                              capture_output=True, text=True)
    assert reverted.returncode != 0, reverted.stdout + reverted.stderr
    assert "its rename detection matches" not in reverted.stderr, reverted.stderr
    assert "cannot tell whether" in reverted.stderr, reverted.stderr
    assert "--ours" in reverted.stderr and "by hand" in reverted.stderr, reverted.stderr
    status = dvx("status")
    assert status.code == 1 and "--theirs data/parts.dvx" in status.output, status.output
    assert "checkout -m" not in status.output, status.output
