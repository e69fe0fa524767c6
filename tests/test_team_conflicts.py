"""Pointers that cannot be read (a bad edit, a Git merge conflict) block only the commands
that touch them, with one clear message that names the file and how to fix it."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest
import xxhash

from tests.conftest import git, run_dvx, run_dvx_proc, write
from tests.team import Team, commit, edit, must, share


def test_a_bad_pointer_blocks_only_the_commands_that_touch_it(repo, dvx, tmp_path):
    write(repo / "good.csv", "good\n")
    write(repo / "bad.csv", "bad\n")
    assert dvx("add", "good.csv", "bad.csv").code == 0
    assert dvx("remote", "add", "-d", "store", str(tmp_path / "store")).code == 0
    git(repo, "add", "bad.csv.dvx")  # Git has the pointer: restoring it is the way out
    (repo / "bad.csv.dvx").write_text("dvx: 1\ntype: file\n  oid: [unclosed\n")

    everything = dvx("status")
    assert everything.code == 1
    assert everything.stderr.count("ERROR: Skipped bad.csv.dvx") == 1
    assert "line 3" in everything.stderr and "git checkout -- bad.csv.dvx" in everything.stderr
    assert "unicode string" not in everything.stderr and "Traceback" not in everything.output
    assert dvx("status", "good.csv").code == 0
    pushed = dvx("push")
    assert pushed.code == 1 and "Pushed 1 object" in pushed.stdout  # good.csv went
    assert dvx("push", "good.csv").code == 0
    for args in (("checkout", "bad.csv"), ("add", "bad.csv"), ("commit", "bad.csv.dvx")):
        refused = dvx(*args)
        assert refused.code == 1 and refused.stderr.startswith("ERROR:"), args
        assert "bad.csv.dvx" in refused.stderr and "line 3" in refused.stderr, args

    git(repo, "add", "good.csv.dvx", ".gitignore")
    git(repo, "commit", "-qm", "good only")
    (repo / "good.csv").unlink()
    restored = dvx("checkout")
    assert restored.code == 1 and (repo / "good.csv").read_text() == "good\n"


def _diverge(team: Team, installed: bool = False, path: str = "data.csv") -> tuple:
    """alice and bob change the same tracked file (`path`) on two branches; alice merges
    bob's (with `installed`, in a repository whose team ran `dvx install`)."""
    alice = team.founder()
    if installed:
        must("install", cwd=alice)
        share(alice, "install")
    write(alice / path, "v1\n")
    write(alice / "other.csv", "other\n")
    must("add", path, "other.csv", cwd=alice)
    share(alice, "v1")
    bob = team.clone("bob")
    git(bob, "checkout", "-q", "-b", "bob")
    edit(bob, path, "bob's\n")
    must("add", path, cwd=bob)
    share(bob, "bob's version")
    edit(alice, path, "alice's\n")
    must("add", path, cwd=alice)
    share(alice, "alice's version")
    git(alice, "fetch", "-q", "origin")
    merged = subprocess.run(["git", "merge", "-q", "origin/bob"], cwd=alice,
                            capture_output=True, text=True)
    assert merged.returncode != 0  # a conflict in data.csv.dvx
    return alice, bob


@pytest.mark.parametrize("side", ["theirs", "ours"])
def test_a_conflicted_pointer_names_the_commands_that_resolve_it(tmp_path, side):
    """The command printed keeps either side, though this cache never fetched bob's data
    (theirs): `dvx pull` fetches what it lacks, where `dvx checkout` would fail."""
    alice, _ = _diverge(Team(tmp_path))
    status = run_dvx("status", cwd=alice)
    assert status.code == 1
    assert "'data.csv.dvx' holds an unresolved Git merge conflict" in status.stderr
    assert status.stdout == "Everything else is up to date.\n"
    keep = "git checkout --theirs data.csv.dvx && dvx pull data.csv"
    assert f"Keep one side: `{keep}` (or --ours), then `git add data.csv.dvx`." in status.stderr
    assert "other.csv" not in status.stdout  # unchanged, and still checked
    assert run_dvx("status", "other.csv", cwd=alice).code == 0
    for args in (("checkout", "data.csv"), ("add", "data.csv"), ("fetch", "data.csv")):
        refused = run_dvx(*args, cwd=alice)
        assert refused.code == 1 and f"Keep one side: `{keep}`" in refused.stderr, args

    _pasted(keep.replace("--theirs", f"--{side}"), alice)
    assert (alice / "data.csv").read_text() == {"theirs": "bob's\n", "ours": "alice's\n"}[side]
    git(alice, "add", "data.csv.dvx")
    git(alice, "commit", "-qm", "take bob's data")
    assert run_dvx("status", "-q", cwd=alice).code == 0
    assert "`dvx install` adds a merge driver" in status.stderr  # not installed here


def test_during_a_rebase_the_conflict_hint_says_git_s_ours_is_the_upstream(tmp_path):
    """A rebase (as `git pull --rebase` runs) replays alice's commit onto bob's, so Git's
    --ours takes bob's side and --theirs alice's own, the reverse of a merge: the hint says
    so where a rebase is under way, and the message for a side taken alone names it."""
    alice, _ = _diverge(Team(tmp_path))
    note = "A rebase is under way (`git pull --rebase` runs one), so Git's --ours is the upstream"
    assert note not in run_dvx("status", cwd=alice).stderr  # a merge
    git(alice, "merge", "--abort")
    rebased = subprocess.run(["git", "rebase", "origin/bob"], cwd=alice, capture_output=True)
    assert rebased.returncode != 0

    status = run_dvx("status", cwd=alice)
    assert status.code == 1 and "Keep one side: `git checkout --theirs" in status.stderr
    assert note in status.stderr, status.stderr
    _pasted("git checkout --ours data.csv.dvx && dvx pull data.csv", alice)
    assert (alice / "data.csv").read_text() == "bob's\n"
    taken = run_dvx("status", cwd=alice)
    assert "it holds the upstream's side alone" in taken.stderr, taken.stderr
    assert "`git add` now would drop your commit's changes to it" in taken.stderr
    assert note in taken.stderr


def test_a_rebase_stopped_on_a_pointer_names_git_rebase_continue_which_ends_it(tmp_path):
    """In a rebase stopped on a pointer, the hint ends with what goes on with the rebase once
    it is resolved, as a merge's ends with the `git commit` concluding it: pasted with the
    ways out it names, the rebase ends with alice's data replayed onto bob's commit."""
    alice, _ = _diverge(Team(tmp_path))
    merging = run_dvx("status", cwd=alice)
    assert "Once no file is left in conflict, `git commit` concludes the merge." \
        in merging.stderr, merging.stderr
    git(alice, "merge", "--abort")
    assert subprocess.run(["git", "rebase", "origin/bob"], cwd=alice,
                          capture_output=True).returncode != 0

    status = run_dvx("status", cwd=alice)
    going_on = "Once no file is left in conflict, `git rebase --continue` goes on with the rebase."
    assert status.code == 1 and going_on in status.stderr, status.stderr
    assert "`git commit`" not in status.stderr
    keep = re.search(r"Keep one side: `([^`]*)` \(or --ours\), then `([^`]*)`", status.stderr)
    assert keep is not None, status.stderr
    _pasted(keep.group(1), alice)  # --theirs: in a rebase, alice's own commit
    _pasted(keep.group(2), alice)
    _pasted_with_no_editor("git rebase --continue", alice)
    assert not (alice / ".git" / "rebase-merge").exists()
    assert git(alice, "log", "-1", "--format=%s", "HEAD^").strip() == "bob's version"
    assert (alice / "data.csv").read_text() == "alice's\n"
    assert git(alice, "show", "HEAD:data.csv.dvx") == (alice / "data.csv.dvx").read_text()
    assert run_dvx("status", "-q", cwd=alice).code == 0


def _pasted_with_no_editor(command: str, cwd) -> None:
    """Run the Git `command` as pasted, with an editor that keeps the message Git offers."""
    subprocess.run(shlex.split(command), cwd=cwd, check=True, capture_output=True,
                   env={**os.environ, "GIT_EDITOR": "true"})


@pytest.mark.parametrize("installed", [False, True])
def test_a_stash_pop_stopped_on_a_pointer_says_the_stash_is_kept_and_how_to_drop_it(
        tmp_path, installed):
    """`git stash pop` records no operation, and Git keeps the stash entry when applying it
    conflicts: the hint says which side --theirs takes there (the stashed version) and that
    `git stash drop` drops the entry once resolved. Pasted, the ways out leave alice's
    stashed data in place, recorded by the pointer, and no stash entry behind."""
    team = Team(tmp_path)
    alice = team.founder()
    if installed:
        must("install", cwd=alice)
    write(alice / "data.csv", "v1\n")
    must("add", "data.csv", cwd=alice)
    share(alice, "v1")
    bob = team.clone("bob")
    edit(bob, "data.csv", "bob's\n")
    must("add", "data.csv", cwd=bob)
    share(bob, "bob's version")
    edit(alice, "data.csv", "alice's\n")
    must("add", "data.csv", cwd=alice)  # not committed: stashed before a pull
    git(alice, "stash", "-q")
    git(alice, "pull", "-q")
    must("pull", cwd=alice)
    popped = subprocess.run(["git", "stash", "pop"], cwd=alice, capture_output=True, text=True)
    assert popped.returncode != 0 and "The stash entry is kept" in popped.stdout, popped.stdout

    status = run_dvx("status", cwd=alice)
    assert status.code == 1, status.output
    assert ("The conflict comes from applying a stash entry (`git stash pop` or `apply`), so "
            "Git's --theirs is the stashed version and --ours the commit it was applied to. Git "
            "keeps the entry when applying it conflicts: once resolved, `git stash drop` "
            "drops it.") in status.stderr, status.stderr
    keep = re.search(r"Keep one side: `([^`]*)` \(or --ours\), then `([^`]*)`", status.stderr)
    assert keep is not None, status.stderr
    _pasted(keep.group(1), alice)
    _pasted(keep.group(2), alice)
    _pasted("git stash drop", alice)
    assert git(alice, "stash", "list") == ""
    assert (alice / "data.csv").read_text() == "alice's\n"
    assert xxhash.xxh3_128_hexdigest(b"alice's\n") in (alice / "data.csv.dvx").read_text()
    assert run_dvx("status", "-q", cwd=alice).code == 0


def test_a_stash_pop_stopped_on_several_pointers_asks_git_for_its_entries_once(tmp_path):
    """A `git stash pop` stopped on several pointers: every hint says the conflict comes from
    the stash entry, and dvx status reads the stash entries and the versions they hold once
    for all of them (a `git log -g` and a `git cat-file`), whether the pointers hold conflict
    markers or hold one side without them; one taken with --theirs is left out."""
    team = Team(tmp_path)
    alice = team.founder()
    names = ("a.csv", "b.csv", "c.csv")
    for name in names:
        write(alice / name, "v1\n")
    must("add", *names, cwd=alice)
    share(alice, "v1")
    bob = team.clone("bob")
    for name in names:
        edit(bob, name, f"bob's {name}\n")
    must("add", *names, cwd=bob)
    share(bob, "bob's versions")
    for name in names:
        edit(alice, name, f"alice's {name}\n")
    must("add", *names, cwd=alice)
    git(alice, "stash", "-q")
    git(alice, "pull", "-q")
    must("pull", cwd=alice)
    popped = subprocess.run(["git", "stash", "pop"], cwd=alice, capture_output=True, text=True)
    assert popped.returncode != 0 and "The stash entry is kept" in popped.stdout, popped.stdout

    def status_asking_git() -> tuple[str, int, int]:
        trace = tmp_path / "trace"
        trace.unlink(missing_ok=True)
        status = run_dvx_proc("status", cwd=alice, env={"GIT_TRACE": str(trace)})
        asked = trace.read_text()
        return (" ".join(status.stderr.split()), asked.count("git log -g"),
                asked.count("--batch-check=%(objectname)"))

    said, listed, read = status_asking_git()
    assert said.count("The conflict comes from applying a stash entry") == 3, said
    assert (listed, read) == (1, 1)
    git(alice, "checkout", "--ours", "a.csv.dvx", "b.csv.dvx")  # no markers, still unmerged
    git(alice, "checkout", "--theirs", "c.csv.dvx")  # a choice: no conflict
    said, listed, read = status_asking_git()
    assert said.count("The conflict comes from applying a stash entry") == 2, said
    assert "a.csv.dvx" in said and "b.csv.dvx" in said and "c.csv.dvx" not in said, said
    assert (listed, read) == (1, 1)


def test_a_conflict_no_operation_or_stash_left_names_neither_a_commit_nor_a_stash_drop(
        tmp_path):
    """`git checkout -m` of another branch over a pointer changed here leaves a conflict no
    Git operation records and no stash entry holds: its hint goes on with neither."""
    alice, _ = _diverge(Team(tmp_path))
    git(alice, "merge", "--abort")
    edit(alice, "other.csv", "stashed\n")
    must("add", "other.csv", cwd=alice)
    git(alice, "stash", "-q")  # a stash entry, of another file
    edit(alice, "data.csv", "alice's, not committed\n")
    must("add", "data.csv", cwd=alice)
    switched = subprocess.run(["git", "checkout", "-m", "origin/bob"], cwd=alice,
                              capture_output=True, text=True)
    assert "data.csv.dvx" in git(alice, "diff", "--name-only", "--diff-filter=U"), \
        switched.stderr
    status = run_dvx("status", cwd=alice)
    assert status.code == 1 and "Keep one side: `git checkout --theirs" in status.stderr
    assert "stash" not in status.stderr and "Once no file is left" not in status.stderr


def test_the_side_kept_is_placed_from_the_cache_while_the_remote_is_out_of_reach(tmp_path):
    """Offline (the shared remote out of reach), the command a conflicted pointer's message
    suggests keeps a side whose data the cache holds (bob's, fetched before going offline):
    the pull asks no remote."""
    team = Team(tmp_path)
    alice, _ = _diverge(team)
    fetched = run_dvx("fetch", "--rev", "origin/bob", cwd=alice)
    assert "Fetched 1 object" in fetched.stdout, fetched.output
    team.store.rename(tmp_path / "store-unplugged")
    status = run_dvx("status", cwd=alice)
    keep = re.search(r"Keep one side: `([^`]*)`", status.stderr)
    assert keep is not None and keep.group(1).endswith("&& dvx pull data.csv"), status.stderr
    _pasted(keep.group(1), alice)
    assert (alice / "data.csv").read_text() == "bob's\n"
    assert not team.store.exists()


def _pasted(command: str, cwd) -> None:
    """Run `command` as a shell would split it, in `cwd`: Git's part and dvx's part."""
    for part in command.split(" && "):
        program, *args = shlex.split(part)
        if program == "git":
            git(cwd, *args)
        else:
            must(*args, cwd=cwd)


def test_the_conflict_hint_names_a_pointer_from_the_current_directory_quoted(tmp_path):
    """Run in a folder whose name has a space, the commands a conflicted pointer's message
    suggests name it from there, quoted, and pasted as they are they resolve it."""
    alice, _ = _diverge(Team(tmp_path), path="d d/x y.txt")
    status = run_dvx("status", cwd=alice / "d d")
    assert status.code == 1 and "'d d/x y.txt.dvx' holds an unresolved" in status.stderr
    keep = re.search(r"Keep one side: `([^`]*)`", status.stderr)
    assert keep is not None
    assert keep.group(1) == "git checkout --theirs 'x y.txt.dvx' && dvx pull 'x y.txt'"
    _pasted(keep.group(1), alice / "d d")
    assert (alice / "d d" / "x y.txt").read_text() == "bob's\n"
    # The side taken as advised, not yet `git add`ed, is a choice made, not a conflict.
    after = run_dvx("status", cwd=alice / "d d")
    assert after.code == 0 and "unresolved" not in after.stderr, after.output


def test_the_conflict_hint_stages_a_pointer_outside_the_sparse_checkout_with_sparse(tmp_path):
    """A merge writes a conflicted pointer outside the sparse checkout's set into the work
    tree, where a plain `git add` of it refuses: the hint's `git add` says --sparse, and the
    commands pasted as they are resolve it."""
    team = Team(tmp_path)
    alice = team.founder()
    write(alice / "far" / "d.csv", "v1\n")
    must("add", "far/d.csv", cwd=alice)
    share(alice, "v1")
    bob = team.clone("bob")
    edit(bob, "far/d.csv", "bob's\n")
    must("add", "far/d.csv", cwd=bob)
    share(bob, "bob's version")
    edit(alice, "far/d.csv", "alice's\n")
    must("add", "far/d.csv", cwd=alice)
    commit(alice, "alice's version")
    git(alice, "sparse-checkout", "set", "near", ".dvx")
    git(alice, "fetch", "-q", "origin")
    merged = subprocess.run(["git", "merge", "-q", "origin/main"], cwd=alice,
                            capture_output=True, text=True)
    assert merged.returncode != 0 and (alice / "far" / "d.csv.dvx").is_file()
    status = run_dvx("status", cwd=alice)
    hint = re.search(r"Keep one side: `([^`]*)` \(or --ours\), then `([^`]*)`", status.stderr)
    assert hint is not None, status.stderr
    assert hint.group(2) == "git add --sparse far/d.csv.dvx"
    _pasted(hint.group(1), alice)
    _pasted(hint.group(2), alice)
    assert run_dvx("status", cwd=alice).code == 0
    assert (alice / "far" / "d.csv").read_text() == "bob's\n"


def test_the_conflict_hint_names_dvx_lock_from_the_current_directory(repo, dvx):
    write(repo / "in.txt", "base\n")
    write(repo / "s" / "notes.txt", "notes\n")
    must("stage", "add", "-n", "copy", "-d", "in.txt", "-o", "out.txt", "cp in.txt out.txt",
         cwd=repo)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "base")
    for checkout, text in ((("-b", "A"), "a\n"), (("-",), "ours\n")):
        git(repo, "checkout", "-q", *checkout)
        write(repo / "in.txt", text)
        must("repro", cwd=repo)
        git(repo, "add", "-A")
        git(repo, "commit", "-qm", text)
    merged = subprocess.run(["git", "merge", "-q", "A"], cwd=repo, capture_output=True)
    assert merged.returncode != 0  # both recorded the stage anew in dvx.lock

    status = run_dvx("status", cwd=repo / "s")
    assert status.code == 1 and "dvx.lock holds an unresolved Git merge conflict" in (
        status.stderr)
    assert "`git checkout --theirs ../dvx.lock`" in status.stderr
    assert "`git add ../dvx.lock`" in status.stderr
    git(repo / "s", "checkout", "--theirs", "../dvx.lock")
    assert b"<<<<<<<" not in (repo / "dvx.lock").read_bytes()


def test_with_dvx_install_the_conflict_message_does_not_suggest_it(tmp_path):
    alice, _ = _diverge(Team(tmp_path), installed=True)
    status = run_dvx("status", cwd=alice)
    assert status.code == 1 and "git checkout --theirs data.csv.dvx" in status.stderr
    assert "dvx install" not in status.stderr


def _stage(clone, name: str) -> None:
    must("stage", "add", "-n", name, "-d", "in.txt", "-o", f"{name}.txt",
         f"cp in.txt {name}.txt", cwd=clone)


def test_a_conflicted_dvx_yaml_is_named_and_the_data_still_reported(repo, dvx):
    write(repo / "raw.csv", "raw\n")
    write(repo / "in.txt", "in\n")
    assert dvx("add", "raw.csv").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "base")
    git(repo, "checkout", "-q", "-b", "A")
    _stage(repo, "sA")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "A")
    git(repo, "checkout", "-q", "-")
    _stage(repo, "sB")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "B")
    merged = subprocess.run(["git", "merge", "-q", "A"], cwd=repo, capture_output=True)
    assert merged.returncode != 0  # both added a stage at the end of dvx.yaml
    edit(repo, "raw.csv", "changed\n")

    status = dvx("status")
    assert status.code == 1
    assert "raw.csv" in status.stdout and "modified" in status.stdout
    assert "dvx.yaml holds an unresolved Git merge conflict" in status.stderr
    assert "git checkout --ours dvx.yaml" in status.stderr and "git add dvx.yaml" in (
        status.stderr)
    assert "not valid YAML" not in status.stderr and "dvx install" not in status.stderr
    (repo / "sub").mkdir()
    from_sub = run_dvx("status", cwd=repo / "sub")
    assert "git checkout --ours ../dvx.yaml" in from_sub.stderr and "git add ../dvx.yaml" in (
        from_sub.stderr)
    for args in (("repro",), ("stage", "list"), ("params", "diff"), ("metrics", "show"),
                 ("exp", "show"), ("plots", "show")):
        refused = dvx(*args)
        assert refused.code == 1 and "unresolved Git merge conflict" in refused.stderr, args


@pytest.mark.parametrize(("params", "ours", "theirs"), [
    ("params.yaml", "a: 1\nb: 2\n", "a: 2\nb: 1\n"),
    ("params.json", '{"a": 1,\n "b": 2}\n', '{"a": 2,\n "b": 1}\n')])
def test_a_conflicted_params_file_is_named_and_the_data_still_reported(repo, dvx, params,
                                                                         ours, theirs):
    write(repo / "raw.csv", "raw\n")
    assert dvx("add", "raw.csv").code == 0
    write(repo / params, ours.replace("2", "1"))
    assert dvx("stage", "add", "-n", "s", "-p", f"{params}:a,b", "-o", "o.txt",
               "echo ran > o.txt").code == 0
    assert dvx("repro").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "base")
    git(repo, "checkout", "-q", "-b", "A")
    write(repo / params, theirs)
    git(repo, "commit", "-qam", "A")
    git(repo, "checkout", "-q", "-")
    write(repo / params, ours)
    git(repo, "commit", "-qam", "B")
    merged = subprocess.run(["git", "merge", "-q", "A"], cwd=repo, capture_output=True)
    assert merged.returncode != 0  # both changed neighbouring lines of the params file
    edit(repo, "raw.csv", "changed\n")

    status = dvx("status")
    assert status.code == 1
    assert "raw.csv" in status.stdout and "modified" in status.stdout
    assert f"Skipped {params}: {params} holds an unresolved Git merge conflict" in (
        status.stderr)
    assert f"git checkout --ours {params}" in status.stderr and f"git add {params}" in (
        status.stderr)
    assert "not valid" not in status.stderr and "dvx install" not in status.stderr
    refused = dvx("repro")
    assert refused.code == 1 and f"{params} holds an unresolved Git merge conflict" in (
        refused.stderr)
    assert not refused.stdout


def test_params_diff_show_and_exp_show_name_a_conflicted_params_file(repo, dvx):
    """As for any params file they cannot read, its row shows why and the command goes on
    (exit 0); but the why is the merge to finish, not YAML that cannot be parsed."""
    write(repo / "params.yaml", "lr: 1\nepochs: 1\n")
    write(repo / "other.yaml", "depth: 1\n")
    assert dvx("stage", "add", "-n", "train", "-p", "lr,epochs", "-p", "other.yaml:depth",
               "-o", "out.txt", "cat params.yaml other.yaml > out.txt").code == 0
    assert dvx("repro").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "base")
    git(repo, "checkout", "-q", "-b", "A")
    write(repo / "params.yaml", "lr: 2\nepochs: 1\n")
    write(repo / "other.yaml", "depth: 2\n")
    git(repo, "commit", "-qam", "A")
    git(repo, "checkout", "-q", "-")
    write(repo / "params.yaml", "lr: 3\nepochs: 1\n")
    git(repo, "commit", "-qam", "B")
    merged = subprocess.run(["git", "merge", "-q", "A"], cwd=repo, capture_output=True)
    assert merged.returncode != 0  # both changed lr; other.yaml merged cleanly

    conflict = "params.yaml holds an unresolved Git merge conflict: both sides changed it."
    resolve = "git checkout --ours params.yaml"
    diff = dvx("params", "diff")
    assert diff.code == 0 and re.search(r"other\.yaml +depth +1 +2 ", diff.stdout)
    assert f"workspace: {conflict}" in diff.stdout and resolve in diff.stdout
    shown = dvx("params", "show", "--json")
    assert shown.code == 0
    workspace = json.loads(shown.stdout)["workspace"]["data"]
    assert workspace["other.yaml"] == {"data": {"depth": 2}}
    assert workspace["params.yaml"]["error"]["msg"].startswith(conflict)
    exps = dvx("exp", "show")
    assert exps.code == 0 and "main" in exps.stdout
    assert f"WARNING: workspace: params.yaml: {conflict}" in exps.stderr
    assert resolve in exps.stderr
    for run in (diff, shown, exps):
        assert "not valid YAML" not in run.output

    # A dvx.yaml that takes values from it cannot be read: that command stops, naming it.
    write(repo / "dvx.yaml", (repo / "dvx.yaml").read_text().replace("out.txt", "${lr}.txt"))
    refused = dvx("params", "diff")
    assert refused.code == 1 and conflict in refused.stderr and resolve in refused.stderr


def test_gc_refusing_a_conflicted_pointer_says_why_in_one_clean_paragraph(tmp_path):
    alice, _ = _diverge(Team(tmp_path))
    refused = run_dvx("gc", "-w", "-f", "--grace", "0", cwd=alice)
    assert refused.code != 0 and "Nothing was deleted" in refused.stderr, refused.output
    assert "'data.csv.dvx' holds an unresolved Git merge conflict" in refused.stderr
    assert ".." not in refused.stderr and ".;" not in refused.stderr, refused.stderr


def test_a_pointer_kept_after_one_side_removed_it_gets_its_gitignore_entry_back(tmp_path):
    """bob removed a file alice changed; Git's merge drops its .gitignore entry (only bob's
    side changed that file, so no merge driver runs), and keeping alice's pointer leaves the
    data for `git add -A` to take into Git, unless the pull that places it writes the entry."""
    team = Team(tmp_path)
    alice = team.founder()
    write(alice / "data" / "a.csv", "v1\n")
    must("add", "data/a.csv", cwd=alice)
    share(alice, "v1")
    bob = team.clone("bob")
    edit(alice, "data/a.csv", "alice's\n")
    must("add", "data/a.csv", cwd=alice)
    share(alice, "alice's version")
    must("remove", "--outs", "data/a.csv.dvx", cwd=bob)
    commit(bob, "no more a.csv")
    merged = subprocess.run(["git", "pull", "-q", "--no-rebase", "--no-edit", "origin", "main"],
                            cwd=bob, capture_output=True, text=True)
    assert "CONFLICT (modify/delete)" in merged.stdout + merged.stderr
    git(bob, "add", "data/a.csv.dvx")  # keep alice's, as Git's message suggests
    git(bob, "commit", "-qm", "keep alice's a.csv")

    pulled = must("pull", cwd=bob)
    assert (bob / "data" / "a.csv").read_text() == "alice's\n"
    assert "Wrote again the .gitignore entry a merge or `git mv` dropped" in pulled
    assert pulled.rstrip().endswith("(commit the .gitignore): data/a.csv.")
    assert run_dvx("status", "-q", cwd=bob).code == 0  # not "not ignored by Git"
    git(bob, "add", "-A")
    assert git(bob, "ls-files", "data").split() == ["data/.gitignore", "data/a.csv.dvx"]


def test_the_side_that_kept_its_changed_pointer_gets_the_gitignore_entry_back_too(tmp_path):
    """bob removed a file alice changed, and pushed first; alice's pull conflicts and she
    keeps her pointer, with bob's .gitignore. Her data matches the pointer already, so the
    checkout places nothing: it writes the entry of the data it finds there all the same."""
    team = Team(tmp_path)
    alice = team.founder()
    write(alice / "data" / "a.csv", "v1\n")
    write(alice / "data" / "b.csv", "b\n")
    must("add", "data/a.csv", "data/b.csv", cwd=alice)
    share(alice, "v1")
    bob = team.clone("bob")
    must("remove", "--outs", "data/a.csv.dvx", cwd=bob)
    commit(bob, "no more a.csv")
    git(bob, "push", "-q", "origin", "main")
    edit(alice, "data/a.csv", "alice's\n")
    must("add", "data/a.csv", cwd=alice)
    commit(alice, "alice's version")
    must("push", cwd=alice)
    merged = subprocess.run(["git", "pull", "-q", "--no-rebase", "--no-edit", "origin", "main"],
                            cwd=alice, capture_output=True, text=True)
    assert "CONFLICT (modify/delete)" in merged.stdout + merged.stderr
    git(alice, "add", "data/a.csv.dvx")  # keep hers, as Git's message suggests
    git(alice, "commit", "-qm", "keep alice's a.csv")
    assert git(alice, "status", "--porcelain").splitlines() == ["?? data/a.csv"]

    checked = must("checkout", cwd=alice)
    assert checked.splitlines() == [
        "Checkout: 0 restored, 2 unchanged.",
        "Wrote again the .gitignore entry a merge or `git mv` dropped, so that `git add` "
        "leaves the data out of Git (commit the .gitignore): data/a.csv."]
    assert (alice / "data" / "a.csv").read_text() == "alice's\n"
    assert (alice / "data" / ".gitignore").read_text() == "/b.csv\n/a.csv\n"
    assert run_dvx("status", "-q", cwd=alice).code == 0  # not "not ignored by Git"
    assert must("pull", cwd=alice).splitlines()[-1] == "Checkout: 0 restored, 2 unchanged."
    git(alice, "add", "-A")
    assert git(alice, "ls-files", "data").split() == [
        "data/.gitignore", "data/a.csv.dvx", "data/b.csv.dvx"]


def _installed_pair_sharing_two_files(tmp_path: Path, b_text: str) -> tuple[Path, Path]:
    """Alice and Bob, hooks and merge driver installed, sharing data/a.csv ("v1") and
    data/b.csv (`b_text`)."""
    team = Team(tmp_path)
    alice = team.founder()
    must("install", cwd=alice)
    write(alice / "data" / "a.csv", "v1\n")
    write(alice / "data" / "b.csv", b_text)
    must("add", "data/a.csv", "data/b.csv", cwd=alice)
    share(alice, "v1")
    bob = team.clone("bob")
    must("install", cwd=bob)
    return alice, bob


def test_the_commit_concluding_a_conflicted_merge_checks_the_data_out(tmp_path):
    """Git runs no post-merge hook for a merge stopped by a conflict: dvx's post-commit hook
    checks out after the commit that concludes it, placing the other side's new data and
    writing the .gitignore entry the merge dropped, and after no other commit."""
    alice, bob = _installed_pair_sharing_two_files(tmp_path, "b\n")
    must("remove", "--outs", "data/a.csv.dvx", cwd=bob)
    edit(bob, "data/b.csv", "bob's b\n")
    must("add", "data/b.csv", cwd=bob)
    share(bob, "no more a.csv, bob's b.csv")
    edit(alice, "data/a.csv", "alice's\n")
    must("add", "data/a.csv", cwd=alice)
    commit(alice, "alice's version")
    git(alice, "fetch", "-q", "origin")
    must("fetch", "--rev", "origin/main", cwd=alice)  # bob's b.csv, into the cache
    merged = subprocess.run(["git", "merge", "--no-edit", "origin/main"], cwd=alice,
                            capture_output=True, text=True)
    assert "CONFLICT (modify/delete)" in merged.stdout + merged.stderr
    assert "Checkout:" not in merged.stdout + merged.stderr  # Git ran no hook
    git(alice, "add", "data/a.csv.dvx")  # keep hers, as Git's message suggests

    concluded = subprocess.run(["git", "commit", "--no-edit"], cwd=alice, capture_output=True,
                               text=True)
    assert concluded.returncode == 0, concluded.stderr
    assert "Checkout: 1 restored, 1 unchanged." in concluded.stderr
    assert (alice / "data" / "b.csv").read_text() == "bob's b\n"
    assert (alice / "data" / ".gitignore").read_text() == "/b.csv\n/a.csv\n"
    assert run_dvx("status", "-q", cwd=alice).code == 0  # nothing left for a hand checkout

    (alice / "data" / "b.csv").unlink()  # a checkout would bring it back
    write(alice / "notes.txt", "notes\n")
    git(alice, "add", "notes.txt")
    ordinary = subprocess.run(["git", "commit", "-m", "notes"], cwd=alice, capture_output=True,
                              text=True)
    assert ordinary.returncode == 0 and "Checkout:" not in ordinary.stdout + ordinary.stderr
    assert not (alice / "data" / "b.csv").exists()


def test_git_add_a_of_data_whose_entry_a_merge_dropped_is_refused_by_the_pre_commit_hook(
        tmp_path):
    """Bob removed a pointer alice changed: the merge conflicts and drops its .gitignore
    entry, and `git add -A` to resolve it stages alice's data too. Her `git commit` is
    refused, naming the data and the way out, which leaves it out of Git."""
    team = Team(tmp_path)
    alice = team.founder()
    must("install", cwd=alice)
    write(alice / "data" / "a.csv", "v1\n")
    must("add", "data/a.csv", cwd=alice)
    share(alice, "v1")
    bob = team.clone("bob")
    must("install", cwd=bob)
    must("remove", "--outs", "data/a.csv.dvx", cwd=bob)
    share(bob, "no more a.csv")
    edit(alice, "data/a.csv", "alice's\n")
    must("add", "data/a.csv", cwd=alice)
    commit(alice, "alice's version")
    git(alice, "fetch", "-q", "origin")
    merged = subprocess.run(["git", "merge", "--no-edit", "origin/main"], cwd=alice,
                            capture_output=True, text=True)
    assert "CONFLICT (modify/delete)" in merged.stdout + merged.stderr
    git(alice, "add", "-A")  # keep hers, and everything else
    assert "data/a.csv" in git(alice, "diff", "--cached", "--name-only").split()

    refused = subprocess.run(["git", "commit", "--no-edit"], cwd=alice, capture_output=True,
                             text=True)
    assert refused.returncode == 1 and "dvx stopped the commit" in refused.stderr
    assert "    data/a.csv: the data of data/a.csv.dvx\n" in refused.stderr
    assert "`git rm -r --cached -- data/a.csv`" in refused.stderr
    assert "`dvx checkout --force data/a.csv`" in refused.stderr
    git(alice, "rm", "-q", "--cached", "--", "data/a.csv")  # the way out it names
    must("checkout", "--force", "data/a.csv", cwd=alice)
    git(alice, "add", "-A")
    concluded = subprocess.run(["git", "commit", "--no-edit"], cwd=alice, capture_output=True,
                               text=True)
    assert concluded.returncode == 0, concluded.stderr
    assert git(alice, "ls-tree", "-r", "--name-only", "HEAD", "data").split() == [
        "data/.gitignore", "data/a.csv.dvx"]
    assert (alice / "data" / "a.csv").read_text() == "alice's\n"


def test_a_conflict_committed_with_its_markers_says_a_later_commit_must_fix_it(repo, dvx):
    """A pointer or dvx.lock read from a commit cannot be resolved in that commit: its hint
    names the commit and the commands that fix it in a later one, never `git checkout
    --theirs`, which takes a path of the workspace, not COMMIT:PATH."""
    write(repo / "data" / "a.csv", "a\n")
    assert dvx("add", "data/a.csv").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "a")
    pointer = (repo / "data" / "a.csv.dvx").read_text()
    write(repo / "data" / "a.csv.dvx", f"<<<<<<< HEAD\n{pointer}=======\n{pointer}>>>>>>> b\n")
    write(repo / "dvx.lock", "<<<<<<< HEAD\ndvx: 1\n=======\n>>>>>>> b\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "markers")
    bad = git(repo, "rev-parse", "HEAD").strip()[:10]

    shown = dvx("diff", "HEAD~1", "HEAD", cwd=repo / "data")
    assert "checkout --theirs" not in shown.stderr and f"{bad}:data/a.csv\n" not in shown.stderr
    assert (f"The pointer file '{bad}:data/a.csv.dvx' holds an unresolved Git merge conflict: "
            f"both sides changed it. Commit {bad} holds it so, and a commit cannot change: a "
            "later commit must fix it. Where the current commit holds the markers too, keep "
            "one version in a.csv.dvx (delete the other and the marker lines), run `dvx pull "
            "a.csv`, then `git add a.csv.dvx` and commit.") in shown.stderr
    assert (f"{bad}:dvx.lock: dvx.lock holds an unresolved Git merge conflict: both sides "
            f"changed it. Commit {bad} holds it so") in shown.stderr
    assert "run `dvx repro`, then `git add ../dvx.lock` and commit." in shown.stderr
    # The workspace's dvx.lock, read with no merge under way: the same, never `--theirs`.
    status = dvx("status", cwd=repo / "data")
    assert status.code == 1 and "checkout --theirs" not in status.stderr, status.stderr
    assert (f"dvx.lock holds an unresolved Git merge conflict: both sides changed it. Commit "
            f"{bad} holds it so") in " ".join(status.stderr.split()), status.stderr


def test_add_of_another_path_beside_a_committed_conflict_succeeds_and_names_the_commit(
        repo, dvx):
    """A pointer a teammate committed with its markers does not fail the add of a path that
    does not need it (`dvx add x && git commit` goes on); the warning, as status's error,
    names the commit that holds the markers, not a merge no one is making."""
    write(repo / "d.txt", "v1\n")
    assert dvx("add", "d.txt").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "v1")
    write(repo / "d.txt.dvx", "<<<<<<< ours\noid: a\n=======\noid: b\n>>>>>>> theirs\n")
    git(repo, "commit", "-q", "--no-verify", "-am", "a teammate's bad merge")
    bad = git(repo, "rev-parse", "HEAD").strip()[:10]
    write(repo / "sub" / "other.txt", "x\n")

    added = dvx("add", "other.txt", cwd=repo / "sub")
    assert added.code == 0, added.output
    assert (repo / "sub" / "other.txt.dvx").exists()
    said = " ".join(added.stderr.split())
    assert "Went on without d.txt.dvx, which cannot be read" in said, said
    assert "ERROR" not in said and "index holds no side" not in said
    assert (f"Commit {bad} holds it so, and a commit cannot change: a later commit must fix "
            "it. Where the current commit holds the markers too, keep one version in "
            "../d.txt.dvx (delete the other and the marker lines), run `dvx pull ../d.txt`, "
            "then `git add ../d.txt.dvx` and commit.") in said
    status = dvx("status")
    assert status.code == 1 and f"Commit {bad} holds it so" in status.stderr
    assert "index holds no side" not in status.stderr
    refused = dvx("add", "d.txt")
    assert refused.code == 1 and f"Commit {bad} holds it so" in refused.stderr


def _the_hint_for(pointer: str, stderr: str) -> str:
    line = next(line for line in stderr.splitlines() if f"'{pointer}' holds" in line)
    return line.partition("; ")[0] if line.startswith(" index:") else line


def test_a_pointer_both_sides_renamed_and_changed_names_the_commands_that_resolve_it(tmp_path):
    """alice renamed a.csv to x.csv, bob to y.csv, and both changed its data: Git stores the
    pointer with conflict markers as the one side of each new name, so `git checkout
    --theirs` brings the markers back. The message says to edit it, and which names to
    `git rm`; gc names each name's own pointer, by its path in its commands."""
    # install: the driver merges data/.gitignore, which both sides changed
    alice, bob = _installed_pair_sharing_two_files(tmp_path, "other\n")
    for clone, name, text in ((alice, "x", "alice's\n"), (bob, "y", "bob's\n")):
        edit(clone, "data/a.csv", text)
        must("add", "data/a.csv", cwd=clone)
        must("move", "data/a.csv", f"data/{name}.csv", cwd=clone)
    share(alice, "to x")
    commit(bob, "to y")
    merged = subprocess.run(["git", "pull", "-q", "--no-rebase", "--no-edit", "origin", "main"],
                            cwd=bob, capture_output=True, text=True)
    assert "CONFLICT (rename/rename)" in merged.stdout + merged.stderr

    status = run_dvx("status", cwd=bob)
    assert status.code == 1 and "git checkout --theirs" not in status.stderr, status.output
    hint = _the_hint_for("data/x.csv.dvx", status.stderr)
    assert "Git's index holds no side of it to check out" in hint
    found = re.search(r"then `([^`]*)` and `([^`]*)`\.", hint)
    assert found is not None, hint
    assert found.groups() == ("git add data/x.csv.dvx && git rm data/a.csv.dvx data/y.csv.dvx",
                              "dvx pull data/x.csv")
    gc = run_dvx("gc", "-w", "--dry-run", cwd=bob)
    for name in ("x", "y"):
        named = _the_hint_for(f"index:data/{name}.csv.dvx", gc.stderr)
        assert f" index:data/{name}.csv.dvx: The pointer file 'index:data/{name}.csv.dvx'" in (
            named), gc.stderr
        assert f"`git add data/{name}.csv.dvx && git rm" in named
    assert "`git add index:" not in gc.stderr and "--theirs index:" not in gc.stderr

    conflicted = (bob / "data" / "x.csv.dvx").read_text()
    theirs = conflicted.split("=======\n")[1].split(">>>>>>>")[0]
    (bob / "data" / "x.csv.dvx").write_text(theirs)  # alice's side, as the hint says
    _pasted(found.group(1), bob)
    git(bob, "commit", "-qm", "alice's name and data")
    _pasted(found.group(2), bob)
    assert (bob / "data" / "x.csv").read_text() == "alice's\n"
    must("checkout", cwd=bob)  # bob's y.csv, whose pointer went, is in the cache: it goes
    assert run_dvx("status", "-q", cwd=bob).code == 0


def _folder_and_file_in_it(tmp_path) -> tuple[Path, Path]:
    """alice tracks the folder data (and other.csv), bob the file 'data/x y' alone, each
    sharing it; bob's `git pull` merges both pointers without a conflict."""
    team = Team(tmp_path)
    alice = team.founder()
    bob = team.clone("bob")
    write(alice / "data" / "x y", "alice's\n")
    write(alice / "data" / "z", "z\n")
    write(alice / "other.csv", "other\n")
    must("add", "data", "other.csv", cwd=alice)
    share(alice, "alice tracks the folder")
    write(bob / "data" / "x y", "bob's\n")
    must("add", "data/x y", cwd=bob)
    commit(bob, "bob tracks a file in it")
    must("push", cwd=bob)
    git(bob, "pull", "-q", "--no-rebase", "origin", "main")
    assert (bob / "data.dvx").exists() and (bob / "data" / "x y.dvx").exists()
    return alice, bob


@pytest.mark.parametrize("keep", ["data", "data/x y"])
def test_pointers_a_merge_left_overlapping_are_a_conflict_and_neither_s_data_is_written(
        tmp_path, keep):
    """A folder one side tracks and a file in it the other tracks: every command reading
    pointers names the pair as a conflict with both ways out, writes nothing there (never
    deleting the Git-tracked pointer and .gitignore inside the folder) and exits 1, while
    the rest is placed; each way out, pasted, ends it."""
    _, bob = _folder_and_file_in_it(tmp_path)
    said = "The pointer files 'data.dvx' and 'data/x y.dvx' overlap"
    status = run_dvx("status", cwd=bob)
    assert status.code == 1 and said in status.stderr
    assert "git rm -r --cached" not in status.output and "added:" not in status.output
    for args in (("commit",), ("checkout", "--force"), ("pull",), ("pull", "--force"),
                 ("checkout", "data/z"), ("commit", "data"), ("add", "data/x y")):
        refused = run_dvx(*args, cwd=bob)
        assert refused.code == 1 and said in refused.stderr, args
        assert "Traceback" not in refused.output, args
        assert (bob / "data" / "x y").read_text() == "bob's\n", args
        assert not (bob / "data" / "z").exists(), args
        assert git(bob, "status", "--porcelain") == "", args  # nothing of Git's deleted
    assert (bob / "other.csv").read_text() == "other\n"  # the rest was placed

    hint = status.stderr.split(f"eep '{keep}': ", 1)[1]  # Keep ... Or keep ...
    remove, rest = hint.split(" and the `git add` it names, then ", 1)
    _pasted(remove.strip("`"), bob)
    git(bob, "add", "-A")
    _pasted(rest.split("`")[1], bob)
    assert (bob / "data" / "x y").read_text() == \
        {"data": "alice's\n", "data/x y": "bob's\n"}[keep]
    assert (bob / "data" / "x y.dvx").exists() == (keep == "data/x y")
    assert not (bob / "data.dvx").exists() if keep == "data/x y" else \
        (bob / "data" / "z").read_text() == "z\n"
    git(bob, "commit", "-qm", f"keep {keep}")
    assert run_dvx("status", "-q", cwd=bob).code == 0


@pytest.mark.parametrize("keep", ["data", "data/x y"])
def test_a_teammate_s_data_of_the_pointer_a_merge_dropped_is_outdated_not_modified(
        tmp_path, keep):
    """carol pulled one side's pointer; the other side merged both and kept its own (the
    pasted way out). After `git pull`, carol's workspace holds what dvx placed for the
    pointer that went: status calls the kept one outdated, not modified with `dvx commit` to
    record it, a plain commit leaves it, and `dvx pull` brings the kept side's data."""
    team = Team(tmp_path)
    alice = team.founder()
    bob = team.clone("bob")
    carol = team.clone("carol")
    folder_side, file_side = (alice, bob) if keep == "data" else (bob, alice)
    write(folder_side / "data" / "x y", "the folder's\n")
    write(folder_side / "data" / "z", "z\n")
    write(file_side / "data" / "x y", "the file's\n")
    must("add", "data", cwd=folder_side)
    must("add", "data/x y", cwd=file_side)
    first, kept = (file_side, folder_side) if keep == "data" else (folder_side, file_side)
    share(first, "the side carol pulls")
    git(carol, "pull", "-q", "--no-rebase", "origin", "main")
    must("pull", cwd=carol)
    commit(kept, "the side kept")
    must("push", cwd=kept)
    git(kept, "pull", "-q", "--no-rebase", "origin", "main")
    hint = run_dvx("status", cwd=kept).stderr.split(f"eep '{keep}': ", 1)[1]
    remove, rest = hint.split(" and the `git add` it names, then ", 1)
    _pasted(remove.strip("`"), kept)
    git(kept, "add", "-A")
    _pasted(rest.split("`")[1], kept)
    git(kept, "commit", "-qm", f"keep {keep}")
    git(kept, "push", "-q", "origin", "HEAD")

    git(carol, "pull", "-q", "--no-rebase", "origin", "main")
    status = run_dvx("status", cwd=carol)
    said = status.stdout.replace(f"'{keep}'", keep)
    assert f"{keep}: pointer changed in Git, data not checked out" in said, status.output
    assert "modified" not in said and "dvx commit` records" not in said, status.output
    assert run_dvx("commit", cwd=carol).code == 0
    assert (carol / f"{keep}.dvx").read_text() == (kept / f"{keep}.dvx").read_text()
    must("pull", cwd=carol)
    assert (carol / "data" / "x y").read_text() == (kept / "data" / "x y").read_text()
    assert run_dvx("status", "-q", cwd=carol).code == 0


def _pointer_merged_inside_a_stage_output(tmp_path, writes: str):
    """alice's stage `make` outputs the folder model (its command `mkdir -p model && WRITES`),
    bob tracks model/a with `dvx add` and pulls alice's commit: bob's clone, merged."""
    team = Team(tmp_path)
    alice = team.founder()
    bob = team.clone("bob")
    write(alice / "dvx.yaml", "stages:\n  make:\n    cmd: mkdir -p model && "
          f"{writes}\n    outs: [model]\n")
    must("repro", cwd=alice)
    share(alice, "a stage outputs model")
    write(bob / "model" / "a", "bob's\n")
    must("add", "model/a", cwd=bob)
    commit(bob, "bob tracks model/a")
    git(bob, "pull", "-q", "--no-rebase", "origin", "main")
    return bob


def test_a_pointer_a_merge_brought_inside_a_stage_s_output_stops_repro_deleting_it(tmp_path):
    """alice's stage outputs the folder model, bob tracks model/a with `dvx add`: after the
    merge, repro names the pointer inside the output instead of deleting the output (and the
    pointer with it), and checkout and pull name the overlap and write nothing there."""
    bob = _pointer_merged_inside_a_stage_output(tmp_path, "echo a > model/a")

    repro = run_dvx("repro", cwd=bob)
    assert repro.code == 1 and "output 'model' overlaps 'model/a'" in repro.stderr
    assert "`dvx remove model/a.dvx`" in repro.stderr
    said = "The pointer file 'model/a.dvx' overlaps an output of stage 'make'"
    for args in (("status",), ("checkout", "--force"), ("pull",)):
        refused = run_dvx(*args, cwd=bob)
        assert refused.code == 1 and said in refused.stderr, args
    assert (bob / "model" / "a").read_text() == "bob's\n"
    assert git(bob, "status", "--porcelain") == ""


@pytest.mark.parametrize("keep", ["model", "model/a"])
def test_each_way_out_of_a_pointer_inside_a_stage_s_output_works_as_pasted(tmp_path, keep):
    """alice's stage outputs the folder model, bob tracks model/a with `dvx add`: the
    commands the conflict names, pasted, keep either one; keeping the pointer takes the
    stage out with `dvx stage remove` (no hand edit of dvx.yaml or dvx.lock), leaving its
    outputs, and bob's pointer and data, where they are."""
    bob = _pointer_merged_inside_a_stage_output(tmp_path, "echo a > model/a && echo b > model/b")

    status = run_dvx("status", cwd=bob)
    assert status.code == 1 and "overlaps an output of stage 'make'" in status.stderr
    ways = status.stderr.split(f"eep '{keep}': ", 1)[1].split(". Or keep ", 1)[0]
    ways = ways.split(". (--force:", 1)[0]
    commands = re.findall(r"`([^`]*)`", ways)
    assert commands[1] == "git add" and commands[-1] == f"dvx pull --force {keep}"
    refused = run_dvx("stage", "remove", "--outs", "make", cwd=bob)  # it would delete bob's
    assert refused.code == 1 and "overlaps 'model/a'" in refused.stderr
    _pasted(commands[0], bob)
    git(bob, "add", "-A")
    _pasted(commands[-1], bob)
    git(bob, "commit", "-qm", f"keep {keep}")

    if keep == "model":
        assert not (bob / "model" / "a.dvx").exists()
        assert (bob / "model" / "a").read_text() == "a\n"
        assert (bob / "model" / "b").read_text() == "b\n"
    else:
        assert "make" not in (bob / "dvx.yaml").read_text()
        assert "make" not in (bob / "dvx.lock").read_text()
        assert (bob / "model" / "a").read_text() == "bob's\n"
        assert (bob / "model" / "a.dvx").exists()
    assert run_dvx("status", "-q", cwd=bob).code == 0
    assert git(bob, "status", "--porcelain") == ""


def test_a_git_mv_of_a_pointer_into_a_tracked_folder_is_stopped_by_the_pre_commit_hook(
        repo, dvx_proc):
    """`git mv f.dvx d/f.dvx` makes the pointer track 'd/f', inside the folder 'd.dvx'
    tracks whole: the pre-commit hook stops that commit, naming the pair and the move back;
    once it is committed all the same (--no-verify), every command names the pair as a
    merge or move leaves it, never as a merge alone. Moved back, the commit goes on."""
    write(repo / "d" / "a", "a\n")
    write(repo / "f", "f\n")
    assert dvx_proc("install", cwd=repo).code == 0
    assert dvx_proc("add", "d", "f", cwd=repo).code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "d and f")
    git(repo, "mv", "f.dvx", "d/f.dvx")

    refused = subprocess.run(["git", "commit", "-m", "moved"], cwd=repo, capture_output=True,
                             text=True)
    said = " ".join(refused.stderr.split())
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "dvx stopped the commit: it adds pointer files that overlap" in said, said
    assert "\n    'd.dvx' and 'd/f.dvx'\n" in refused.stderr
    assert "`git mv -- d/f.dvx DEST`" in said
    assert git(repo, "rev-list", "--count", "HEAD") == "1\n"

    git(repo, "commit", "-qm", "moved", "--no-verify")
    status = dvx_proc("status", cwd=repo)
    assert status.code == 1
    assert "as a Git merge or move leaves them" in " ".join(status.stderr.split()), status.stderr
    git(repo, "mv", "d/f.dvx", "f.dvx")  # the way out it names
    moved_back = subprocess.run(["git", "commit", "-m", "back"], cwd=repo,
                                capture_output=True, text=True)
    assert moved_back.returncode == 0, moved_back.stderr
    assert dvx_proc("status", "-q", cwd=repo).code == 0


def _data_tracked_here_and_a_file_in_it_there(repo, dvx_proc, conflicting: bool) -> None:
    """Ours tracks the folder 'data', theirs (branch `theirs`) adds 'data/sub.dvx' inside it:
    a merge of theirs makes the pair overlap. `conflicting`: both change notes.txt too, so
    the merge stops on it."""
    assert dvx_proc("install", cwd=repo).code == 0
    write(repo / "notes.txt", "base\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "base")
    git(repo, "checkout", "-q", "-b", "theirs")
    write(repo / "data" / "sub", "theirs\n")
    assert dvx_proc("add", "data/sub", cwd=repo).code == 0
    write(repo / "notes.txt", "theirs\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "theirs tracks data/sub")
    git(repo, "checkout", "-q", "-")
    write(repo / "data" / "a", "a\n")
    assert dvx_proc("add", "data", cwd=repo).code == 0
    if conflicting:
        write(repo / "notes.txt", "ours\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "ours tracks data")


def test_the_commit_concluding_a_merge_that_left_overlapping_pointers_passes_the_hook(
        repo, dvx_proc):
    """Ours tracks the folder 'data', theirs adds 'data/sub.dvx' inside it, and the merge
    stops on a conflict elsewhere: the `git commit` concluding it passes the pre-commit hook
    (the pair is the merge's, named by every command with its ways out), where a pointer
    file the commit itself moves into the folder would not."""
    _data_tracked_here_and_a_file_in_it_there(repo, dvx_proc, conflicting=True)
    stopped = subprocess.run(["git", "merge", "theirs"], cwd=repo, capture_output=True,
                             text=True)
    assert stopped.returncode == 1 and "notes.txt" in stopped.stdout, stopped.stdout

    write(repo / "notes.txt", "both\n")
    git(repo, "add", "notes.txt")
    concluded = subprocess.run(["git", "commit", "--no-edit"], cwd=repo, capture_output=True,
                               text=True)
    assert concluded.returncode == 0, concluded.stdout + concluded.stderr
    assert "dvx stopped the commit" not in concluded.stderr
    assert git(repo, "rev-list", "--count", "HEAD") == "4\n"
    status = dvx_proc("status", cwd=repo)
    assert status.code == 1 and "'data.dvx' and 'data/sub.dvx'" in status.stderr


def test_the_commit_git_merge_makes_of_overlapping_pointers_passes_the_hook(repo, dvx_proc):
    """The same pair from a merge that does not stop: the commit `git merge` makes itself
    (its pre-merge-commit hook) is the merge's too, left to the commands' ways out."""
    _data_tracked_here_and_a_file_in_it_there(repo, dvx_proc, conflicting=False)
    merged = subprocess.run(["git", "merge", "--no-edit", "theirs"], cwd=repo,
                            capture_output=True, text=True)
    assert merged.returncode == 0, merged.stdout + merged.stderr
    assert "dvx stopped the commit" not in merged.stderr
    assert git(repo, "rev-parse", "HEAD^2") == git(repo, "rev-parse", "theirs")
    status = dvx_proc("status", cwd=repo)
    assert status.code == 1 and "'data.dvx' and 'data/sub.dvx'" in status.stderr


def test_an_add_beside_pointers_a_merge_left_overlapping_names_them_as_that_conflict(tmp_path):
    """`dvx add` of a path apart from the pair goes on without them, naming both as the
    conflict a merge left (both are readable: not as files that cannot be read)."""
    _, bob = _folder_and_file_in_it(tmp_path)
    write(bob / "new.csv", "new\n")
    added = run_dvx("add", "new.csv", cwd=bob)
    assert added.code == 0 and (bob / "new.csv.dvx").exists()
    assert ("Went on without 'data.dvx' and 'data/x y.dvx', which overlap, a conflict a Git "
            "merge left that no path added needs") in added.stderr
    assert "The pointer files 'data.dvx' and 'data/x y.dvx' overlap" in added.stderr
    assert "cannot be read" not in added.stderr
    assert (bob / "data" / "x y").read_text() == "bob's\n"


def test_push_sends_the_data_of_both_pointers_a_merge_left_overlapping(tmp_path):
    """bob tracks 'data/x y' and merges alice's folder before pushing any data: `dvx push`
    sends his file's data too (harmless on a remote: whichever is kept, the team has it),
    noting the conflict, and exits 0; fetch and pull still leave the pair alone."""
    team = Team(tmp_path)
    alice = team.founder()
    bob = team.clone("bob")
    write(alice / "data" / "x y", "alice's\n")
    write(alice / "data" / "z", "z\n")
    must("add", "data", cwd=alice)
    share(alice, "alice tracks the folder")
    write(bob / "data" / "x y", "bob's\n")
    must("add", "data/x y", cwd=bob)
    commit(bob, "bob tracks a file in it")
    bobs = git(bob, "rev-parse", "HEAD").strip()
    git(bob, "pull", "-q", "--no-rebase", "origin", "main")

    pushed = run_dvx("push", cwd=bob)
    assert pushed.code == 0, pushed.output
    assert "The pointer files 'data.dvx' and 'data/x y.dvx' overlap" in pushed.stderr
    assert "`dvx push` sends the data of both" in pushed.stderr
    assert "Keep 'data': `dvx remove 'data/x y.dvx'`" in pushed.stderr
    for args in (("fetch",), ("pull",)):
        refused = run_dvx(*args, cwd=bob)
        assert refused.code == 1 and "'data/x y.dvx' overlap" in refused.stderr, args
    git(bob, "push", "-q", "origin", "HEAD")

    carol = team.clone("carol", pull=False)
    git(carol, "checkout", "-q", bobs)
    must("pull", cwd=carol)
    assert (carol / "data" / "x y").read_text() == "bob's\n"


def test_gc_keeps_the_data_of_both_pointers_a_merge_left_overlapping(tmp_path):
    """With the pair in the workspace, gc (of the cache, and of the remote) deletes nothing
    and names the overlap; once bob kept his file, gc with the merge commit in scope keeps
    the data of both its pointers, read from Git, and deletes only what nothing uses."""
    _, bob = _folder_and_file_in_it(tmp_path)
    write(bob / "junk.csv", "junk\n")
    must("add", "junk.csv", cwd=bob)
    must("push", "junk.csv", cwd=bob)
    junk = (bob / "junk.csv.dvx").read_text().split("oid: ", 1)[1].split()[0]
    must("remove", "--outs", "junk.csv.dvx", cwd=bob)
    merge = git(bob, "rev-parse", "HEAD").strip()

    for args in ((), ("-c",)):
        refused = run_dvx("gc", "-w", "-f", "--grace", "0", *args, cwd=bob)
        assert refused.code == 1 and "Nothing was deleted" in refused.stderr, args
        assert "The pointer files 'data.dvx' and 'data/x y.dvx' overlap" in refused.stderr

    must("remove", "data.dvx", cwd=bob)  # bob keeps his file
    commit(bob, "keep data/x y")
    must("fetch", "--rev", merge, cwd=bob)  # alice's folder, which the merge names
    collected = run_dvx("gc", "-w", "--rev", merge, "-c", "-f", "--grace", "0", "--json",
                        cwd=bob)
    assert collected.code == 0, collected.output
    assert [r["removed_oids"] for r in json.loads(collected.stdout)] == [[junk], [junk]]

    git(bob, "push", "-q", "origin", "HEAD")
    git(tmp_path, "clone", "-q", str(tmp_path / "origin.git"), "carol")
    carol = tmp_path / "carol"  # each side's data is on the remote
    for parent, content in (("^1", "bob's\n"), ("^2", "alice's\n")):
        git(carol, "checkout", "-q", merge + parent)
        must("pull", "--force", cwd=carol)
        assert (carol / "data" / "x y").read_text() == content, parent
    assert (carol / "data" / "z").read_text() == "z\n"


@pytest.mark.parametrize("how", ["merge", "rebase", "cherry-pick"])
def test_move_of_a_pointer_left_unmerged_holding_one_side_is_refused_naming_the_way_on(
        tmp_path, how):
    """A pointer Git's index lists as unmerged, holding one side alone (as a merge driver that
    could not run leaves it, or `git checkout --ours`): `dvx move` would delete it, and the
    `git add` it names would record that deletion, dropping the other side's changes. It is
    refused before anything is written, with the conflict's ways out, ending with what goes
    on with the merge, rebase or cherry-pick that stopped."""
    alice, _ = _diverge(Team(tmp_path))
    if how != "merge":
        git(alice, "merge", "--abort")
        stopped = subprocess.run(["git", how, "origin/bob"], cwd=alice, capture_output=True)
        assert stopped.returncode != 0, stopped
    git(alice, "checkout", "--ours", "data.csv.dvx")
    pointer = (alice / "data.csv.dvx").read_bytes()
    moved = run_dvx("move", "data.csv", "moved.csv", cwd=alice)
    said = " ".join(moved.stderr.split())
    assert moved.code == 1, moved.output
    assert "'data.csv.dvx' holds an unresolved Git merge conflict" in said, said
    going_on = {"merge": "`git commit` concludes the merge",
                "rebase": "`git rebase --continue` goes on with the rebase",
                "cherry-pick": "`git cherry-pick --continue` goes on with the cherry-pick"}
    assert f"Once no file is left in conflict, {going_on[how]}." in said, said
    assert (alice / "data.csv.dvx").read_bytes() == pointer
    assert (alice / "data.csv").exists()
    assert not (alice / "moved.csv").exists() and not (alice / "moved.csv.dvx").exists()
    assert git(alice, "ls-files", "--unmerged", "data.csv.dvx") != ""
