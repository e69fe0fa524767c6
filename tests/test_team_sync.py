"""A teammate's change survives `git pull`: dvx tells a pointer that moved in Git from data
changed in the workspace, never records the older data over the newer pointer without
--force, and a partial pull never shrinks a directory (SPEC §4.9)."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import xxhash

from dvx.lockfile import read_lock
from tests.conftest import (
    git,
    make_git_repo,
    run_dvx,
    run_dvx_proc,
    run_meanwhile,
    stopped_again,
    stopped_at,
    write,
)
from tests.pipeline_kit import run_and_commit
from tests.team import Team, commit, edit, must, pasted, share
from tests.test_atomicity import run_with_file_size_limit


@pytest.fixture
def team(tmp_path):
    return Team(tmp_path)


def pointer_oid(path) -> str:
    return next(line.split(": ")[1].strip('"') for line in path.read_text().splitlines()
                if line.startswith("oid: "))


def status_of(clone, path: str) -> dict[str, object]:
    doc = json.loads(run_dvx("status", "--json", cwd=clone).stdout)
    return next(o for o in doc["outputs"] if o["path"] == path)


def _founder_sharing_v1(team):
    """Alice, the founder, with data.csv ("v1") added, committed and pushed with its data."""
    alice = team.founder()
    write(alice / "data.csv", "v1\n")
    must("add", "data.csv", cwd=alice)
    share(alice, "v1")
    return alice


def test_after_git_pull_the_moved_pointer_is_recognised_and_never_undone(team):
    alice = _founder_sharing_v1(team)
    old = pointer_oid(alice / "data.csv.dvx")

    bob = team.clone("bob")
    edit(bob, "data.csv", "v2\n")
    must("add", "data.csv", cwd=bob)
    share(bob, "v2")
    new = pointer_oid(bob / "data.csv.dvx")

    git(alice, "pull", "-q", "origin", "main")
    seen = status_of(alice, "data.csv")
    assert seen["workspace"] == "outdated"
    assert (seen["pointer_oid"], seen["synced_oid"]) == (new, old)
    assert seen["moved_in_workspace"] is False
    text = run_dvx("status", cwd=alice)
    assert "pointer changed in Git, data not checked out" in text.stdout
    assert "dvx checkout" in text.stdout and "dvx commit`" not in text.stdout
    assert run_dvx("status", "-q", cwd=alice).code == 1

    skipped = run_dvx("commit", cwd=alice)  # "record whatever changed": nothing did
    assert skipped.code == 0 and "Not recorded data.csv" in skipped.stderr
    for args in (("commit", "data.csv"), ("add", "data.csv")):
        refused = run_dvx(*args, cwd=alice)
        assert refused.code == 1, refused.output
        assert new in refused.stderr and old in refused.stderr and "--force" in refused.stderr
    assert pointer_oid(alice / "data.csv.dvx") == new
    assert git(alice, "status", "--porcelain") == ""

    must("pull", cwd=alice)
    assert (alice / "data.csv").read_text() == "v2\n"
    assert status_of(alice, "data.csv")["workspace"] == "unchanged"
    edit(alice, "data.csv", "v3\n")  # a real local edit is still just that
    assert status_of(alice, "data.csv")["workspace"] == "modified"
    must("commit", cwd=alice)
    assert pointer_oid(alice / "data.csv.dvx") not in (old, new)


def test_a_pointer_file_checked_out_from_another_commit_is_changed_outside_a_commit(team):
    """`git checkout REV -- X.dvx` moves a pointer as a stash applied does: in the workspace,
    where no hook checks its data out. status says so instead of blaming Git, until that
    pointer is committed."""
    alice = team.founder()
    write(alice / "data.csv", "v1\n")
    must("add", "data.csv", cwd=alice)
    commit(alice, "v1")
    edit(alice, "data.csv", "v2\n")
    must("add", "data.csv", cwd=alice)
    commit(alice, "v2")

    git(alice, "checkout", "HEAD~1", "--", "data.csv.dvx")
    seen = status_of(alice, "data.csv")
    assert (seen["workspace"], seen["moved_in_workspace"]) == ("outdated", True)
    text = run_dvx("status", cwd=alice).stdout
    assert "data.csv: pointer changed outside a commit (a stash applied, the pointer file " \
           "checked out or edited), data not checked out" in text
    assert "in Git" not in text
    git(alice, "commit", "-qm", "back to v1")
    assert "data.csv: pointer changed in Git, data not checked out" in run_dvx(
        "status", cwd=alice).stdout
    must("checkout", "data.csv", cwd=alice)
    assert (alice / "data.csv").read_text() == "v1\n"


@pytest.mark.parametrize("undo", [("stash", "-q"), ("reset", "-q", "--hard"),
                                  ("checkout", "--", "data.csv.dvx")],
                         ids=["stash", "reset", "checkout-file"])
def test_an_uncommitted_add_a_stash_or_reset_undid_is_changed_outside_a_commit(team, undo):
    """`git stash` (or `git reset --hard`, `git checkout -- X.dvx`) of an uncommitted `dvx add`
    puts HEAD's pointer back and leaves the new data in place: status and add name that a move
    outside a commit, never in Git, with the ways out: the pointer's data, or yours back (the
    stash's pointer, or your data recorded again)."""
    alice = team.founder()
    write(alice / "data.csv", "v1\n")
    must("add", "data.csv", cwd=alice)
    commit(alice, "v1")
    edit(alice, "data.csv", "v2\n")
    must("add", "data.csv", cwd=alice)
    git(alice, *undo)
    stashed = undo[0] == "stash"
    seen = status_of(alice, "data.csv")
    assert (seen["workspace"], seen["moved_in_workspace"], seen["own_version_undone"],
            seen["stashed"]) == ("outdated", True, True, stashed)
    text = run_dvx("status", cwd=alice).stdout
    assert "data.csv: pointer changed outside a commit (a stash, a reset, the pointer file " \
           "checked out), data not checked out" in text
    assert "in Git" not in text
    yours = "`git stash pop` brings yours back" if stashed else \
        "`dvx add --force data.csv` records yours again"
    assert f"(`dvx checkout data.csv` places the data of the pointer's version; {yours})" in text
    refused = run_dvx("add", "data.csv", cwd=alice)
    assert refused.code == 1 and "'data.csv' changed outside a commit" in refused.stderr
    assert ("`git stash pop`" in refused.stderr) == stashed, refused.stderr

    if stashed:
        git(alice, "stash", "pop", "-q")
        assert (alice / "data.csv").read_text() == "v2\n"
    else:
        must("checkout", "data.csv", cwd=alice)
        assert (alice / "data.csv").read_text() == "v1\n"
    assert run_dvx("status", "-q", cwd=alice).code == 0


@pytest.mark.parametrize("undo", [("stash", "-q"), ("reset", "-q", "--hard"),
                                  ("checkout", "--", "data.csv.dvx")],
                         ids=["stash", "reset", "checkout-file"])
def test_an_undone_add_then_a_teammate_s_change_pulled_is_changed_both_here_and_in_git(
        team, undo):
    """An uncommitted `dvx add` undone by Git (`git stash`, `git reset --hard`, `git checkout
    -- X.dvx`), then `git pull` of a teammate's change to the same file: the workspace holds
    a change made here, and the pointer one made in Git. status and add say so, as of any
    change made on both sides, never that the user's version was merely undone (with `dvx
    add --force` to record it again, which would undo the teammate's change)."""
    alice = _founder_sharing_v1(team)
    old = pointer_oid(alice / "data.csv.dvx")
    bob = team.clone("bob")
    edit(alice, "data.csv", "mine\n")
    must("add", "data.csv", cwd=alice)
    git(alice, *undo)
    edit(bob, "data.csv", "v2\n")
    must("add", "data.csv", cwd=bob)
    share(bob, "v2")
    new = pointer_oid(bob / "data.csv.dvx")

    git(alice, "pull", "-q", "origin", "main")
    seen = status_of(alice, "data.csv")
    assert (seen["workspace"], seen["pointer_oid"], seen["synced_oid"],
            seen["moved_in_workspace"], seen["own_version_undone"]) == (
        "modified", new, old, False, False), seen
    text = run_dvx("status", cwd=alice).stdout
    assert "data.csv: modified, and its pointer changed in Git" in text, text
    assert "(changed both here and in Git: `dvx commit --force PATH` keeps yours, `dvx pull " \
        "--force PATH` takes Git's" in text, text  # Git's version is not in the cache yet
    assert "outside a commit" not in text and "records yours again" not in text, text
    refused = run_dvx("add", "data.csv", cwd=alice)
    assert refused.code == 1 and "'data.csv' changed both here and in Git" in refused.stderr, \
        refused.output
    assert pointer_oid(alice / "data.csv.dvx") == new
    assert (alice / "data.csv").read_text() == "mine\n"
    must("fetch", cwd=alice)
    fetched = run_dvx("status", cwd=alice).stdout
    assert "`dvx checkout --force PATH` takes Git's)" in fetched, fetched


def test_an_undone_add_of_a_directory_then_a_teammate_s_change_pulled_records_both(team):
    """`git checkout -- data.dvx` after an uncommitted `dvx add` of an edited directory, then
    `git pull` of a teammate's change to other files of it: the directory is compared file by
    file with the version the user's was written over, so `dvx add` records the user's file
    beside the teammate's, never the user's whole version over them."""
    alice = team.founder()
    (alice / "data").mkdir()
    for name in "abc":
        write(alice / "data" / name, f"{name} v1\n")
    must("add", "data", cwd=alice)
    share(alice, "v1")
    bob = team.clone("bob")
    edit(alice, "data/a", "a mine\n")
    must("add", "data", cwd=alice)
    git(alice, "checkout", "--", "data.dvx")
    edit(bob, "data/b", "b v2\n")
    write(bob / "data" / "d", "new\n")
    must("add", "data", cwd=bob)
    share(bob, "v2")

    git(alice, "pull", "-q", "origin", "main")
    text = run_dvx("status", cwd=alice).stdout
    assert "outside a commit" not in text and "records yours again" not in text, text
    must("fetch", "data", cwd=alice)
    seen = status_of(alice, "data")
    assert (seen["workspace"], seen["modified"], seen["outdated"], seen["not_pulled"],
            seen["own_version_undone"]) == ("modified", ["a"], ["b"], ["d"], False), seen
    must("add", "data", cwd=alice)
    must("checkout", "data", cwd=alice)
    assert {name: (alice / "data" / name).read_text() for name in "abcd"} == {
        "a": "a mine\n", "b": "b v2\n", "c": "c v1\n", "d": "new\n"}
    assert run_dvx("status", "-q", cwd=alice).code == 0


@pytest.mark.parametrize("staged", [True, False], ids=["stash", "stash-u"])
def test_a_new_file_s_add_a_stash_took_names_the_stash_and_keeps_the_data_out_of_git(team, staged):
    """`git stash` of an uncommitted `dvx add` of a new file (its pointer staged; or `git
    stash -u` of one never staged) takes the pointer and its .gitignore entry and leaves the
    data, which Git no longer ignores: status names the stash entry and its pop, that `git
    add -A` would take the data (the pre-commit hook stops that commit), and that `dvx
    checkout` removes it as it is in the cache; the pop brings it all back, with or
    without that checkout."""
    alice = team.founder()
    must("install", cwd=alice)
    write(alice / "old.csv", "old\n")
    write(alice / "code.py", "print(1)\n")
    must("add", "old.csv", cwd=alice)
    commit(alice, "old")
    write(alice / "new.bin", "new\n")
    must("add", "new.bin", cwd=alice)
    if staged:
        git(alice, "add", "new.bin.dvx", ".gitignore")
    git(alice, "stash", "-q", *([] if staged else ["-u"]))
    assert not (alice / "new.bin.dvx").exists()
    assert git(alice, "status", "--porcelain").split() == ["??", "new.bin"]

    def said() -> str:
        text = run_dvx("status", cwd=alice).stdout
        assert "left Git" not in text and "dvx add" not in text
        return text

    text = said()
    assert "new.bin: no longer tracked, its pointer is in a stash (stash@{0}), and Git does " \
           "not ignore the data meanwhile" in text
    assert "(`git stash pop` brings back the pointer of new.bin, and the .gitignore entries " \
           "the stash took with them)" in text
    assert "(until then `git add -A` would put that data into Git, which the pre-commit hook " \
           "of `dvx install` stops)" in text
    assert "(`dvx checkout` removes that data meanwhile, as it is in the cache; after the pop, " \
           "`dvx checkout` places it again)" in text
    left = json.loads(run_dvx("status", "--json", cwd=alice).stdout)["left_behind"]
    assert [(e["path"], e["removable"], e["ignored_by_git"], e["in_stash"]) for e in left] == \
        [("new.bin", True, False, 0)]
    git(alice, "add", "-A")
    refused = subprocess.run(["git", "commit", "-qm", "wip"], cwd=alice, capture_output=True,
                             text=True)
    assert refused.returncode == 1 and "new.bin: the data of new.bin.dvx" in refused.stderr
    git(alice, "rm", "-q", "--cached", "--", "new.bin")

    if staged:  # another stash on top: the pop names the older entry
        write(alice / "code.py", "print(2)\n")
        git(alice, "stash", "-q")
        assert "(`git stash pop stash@{1}` brings back the pointer of new.bin" in said()
        git(alice, "stash", "pop", "-q")
        git(alice, "commit", "-qam", "code")
    else:  # the data goes, and comes back from the cache after the pop
        must("checkout", cwd=alice)
        assert not (alice / "new.bin").exists()
    git(alice, "stash", "pop", "-q")
    must("checkout", cwd=alice)
    assert (alice / "new.bin").read_text() == "new\n"
    assert run_dvx("status", "-q", cwd=alice).code == 0
    back = git(alice, "status", "--porcelain", "--untracked-files=all").split()
    assert back == (["M", ".gitignore", "A", "new.bin.dvx"] if staged else
                    ["M", ".gitignore", "??", "new.bin.dvx"]), back


def _up_to_date(repo) -> bool:
    doc = json.loads(run_dvx("status", "--json", cwd=repo).stdout)
    return not doc["changed"]


def test_an_uncommitted_repro_whose_dvx_lock_was_checked_out_names_the_ways_out_of_a_stage(
        repo):
    """`git checkout -- dvx.lock` after an uncommitted `dvx repro`: the output holds the run's
    data under HEAD's entry, and status names ways out a stage output takes, `dvx checkout`
    of dvx.lock's version or `dvx repro` of its stage, which records the run again with the
    inputs it was made from; never `dvx add --force`, which refuses a stage output, nor a
    `dvx commit --force`, which would pair it with the inputs HEAD's entry records."""
    write(repo / "dep.txt", "1\n")
    must("stage", "add", "-n", "a", "-d", "dep.txt", "-o", "a.txt", "cp dep.txt a.txt",
         cwd=repo)
    must("repro", cwd=repo)
    commit(repo, "v1")
    write(repo / "dep.txt", "2\n")
    must("repro", cwd=repo)
    git(repo, "checkout", "--", "dvx.lock")
    seen = status_of(repo, "a.txt")
    assert (seen["workspace"], seen["own_version_undone"]) == ("outdated", True), seen
    text = run_dvx("status", cwd=repo).stdout
    assert ("(`dvx checkout a.txt` places the data of the version dvx.lock records; "
            "`dvx repro a` records your run again)") in text
    assert "add --force" not in text and "commit --force" not in text, text
    assert "Restored 'a' from the run-cache" in must("repro", "a", cwd=repo)
    assert (repo / "a.txt").read_text() == "2\n"
    assert _up_to_date(repo)


def _stage_s_reading_in_txt_run(clone: Path) -> None:
    """in.txt ('in1') tracked with `dvx add`, and stage s reading it (`cat in.txt in.txt >
    out.txt`) added and run in `clone`; nothing committed."""
    write(clone / "in.txt", "in1\n")
    must("add", "in.txt", cwd=clone)
    must("stage", "add", "-n", "s", "-d", "in.txt", "-o", "out.txt",
         "cat in.txt in.txt > out.txt", cwd=clone)
    must("repro", cwd=clone)


def test_an_uncommitted_repro_whose_dvx_lock_and_input_were_undone_names_the_input_first(
        repo):
    """`git checkout -- dvx.lock in.txt.dvx` after an uncommitted `dvx repro` on a new
    version of a tracked input: the output's way back is `dvx repro` of its stage after `dvx
    add --force` of the input (until then repro refuses the input), and following it records
    the run with the input it was made from. Taking the input's pointer version instead
    leaves no way that pairs the output with that input: status says so."""
    _stage_s_reading_in_txt_run(repo)
    commit(repo, "v1")
    (repo / "in.txt").unlink()
    write(repo / "in.txt", "in2\n")
    must("repro", cwd=repo)
    git(repo, "checkout", "--", "dvx.lock", "in.txt.dvx")
    text = run_dvx("status", cwd=repo).stdout
    assert ("(`dvx checkout out.txt` places the data of the version dvx.lock records; "
            "`dvx repro s` records your run again, after `dvx add --force in.txt`)") in text
    assert "commit --force" not in text, text
    must("checkout", "--force", "in.txt", cwd=repo)
    text = run_dvx("status", cwd=repo).stdout
    assert ("yours was made from other inputs than the workspace holds now: `dvx repro s` "
            "records it again once they are back)") in " ".join(text.split()), text
    assert "commit --force" not in text, text
    (repo / "in.txt").unlink()
    write(repo / "in.txt", "in2\n")
    must("add", "--force", "in.txt", cwd=repo)
    assert "Restored 's' from the run-cache" in must("repro", "s", cwd=repo)
    assert (repo / "out.txt").read_text() == "in2\nin2\n"
    assert _up_to_date(repo)


def test_an_undone_run_reading_an_undone_upstream_output_names_the_upstream_s_way(repo):
    """train -> eval run on a new param, then `git checkout -- dvx.lock params.yaml`: eval's
    output was made from train's output, itself made from a param the workspace no longer
    holds, so status names for both `dvx repro` once the inputs are back (what a repro of
    eval then does: restores both runs), never `dvx repro eval` now, which would check out
    dvx.lock's versions of both instead."""
    write(repo / "params.yaml", "lr: 1\n")
    run_and_commit(repo, "stages:\n  train:\n    cmd: mkdir -p model && grep lr "
                         "params.yaml > model/w.txt\n    params: [lr]\n    outs: [model]\n"
                         "  eval:\n    cmd: cat model/w.txt > score.txt\n"
                         "    deps: [model]\n    outs: [score.txt]\n", "v1")
    write(repo / "params.yaml", "lr: 2\n")
    must("repro", cwd=repo)
    git(repo, "checkout", "--", "dvx.lock", "params.yaml")
    text = " ".join(run_dvx("status", cwd=repo).stdout.split())
    assert ("(`dvx checkout score.txt` places the data of the version dvx.lock records; yours "
            "was made from other inputs than the workspace holds now: `dvx repro eval` records "
            "it again once they are back)") in text, text
    assert "records your run again" not in text, text
    write(repo / "params.yaml", "lr: 2\n")
    assert "Restored 'eval' from the run-cache" in must("repro", "eval", cwd=repo)
    assert (repo / "score.txt").read_text() == "lr: 2\n"
    assert _up_to_date(repo)


def test_an_edit_committed_whose_dvx_lock_was_checked_out_names_its_commit_again(repo):
    """An edit of a stage output recorded with `dvx commit` (the run-cache's run for the
    inputs dvx.lock records), then `git checkout -- dvx.lock`: `dvx repro` would place
    dvx.lock's version, so status names `dvx commit --force` of it, which pairs it with the
    same inputs as before."""
    write(repo / "dep.txt", "1\n")
    must("stage", "add", "-n", "a", "-d", "dep.txt", "-o", "a.txt", "cp dep.txt a.txt",
         cwd=repo)
    must("repro", cwd=repo)
    commit(repo, "v1")
    must("unprotect", "a.txt", cwd=repo)
    write(repo / "a.txt", "mine\n")
    must("commit", "a.txt", cwd=repo)
    git(repo, "checkout", "--", "dvx.lock")
    text = run_dvx("status", cwd=repo).stdout
    assert ("(`dvx checkout a.txt` places the data of the version dvx.lock records; "
            "`dvx commit --force a.txt` records yours again)") in text
    must("commit", "--force", "a.txt", cwd=repo)
    assert (repo / "a.txt").read_text() == "mine\n"
    assert _up_to_date(repo)


def test_an_uncommitted_repro_on_an_edited_directory_undone_records_it_again_with_add_force(
        repo):
    """`git checkout -- dvx.lock data.dvx` after `dvx add` of an edited tracked directory and
    `dvx repro`: the directory's version is the user's own, not Git's, so `dvx add --force`
    records it again as the workspace holds it (as it does a file), which status names for
    the directory and before the stage's repro; following the hints records the run."""
    _edited_directory_run_then_undone(repo, "data", "cat data/* > o2.txt")
    text = run_dvx("status", cwd=repo).stdout
    assert ("(`dvx checkout data` places the data of the pointer's version; `dvx add --force "
            "data` records yours again)") in text, text
    assert ("`dvx repro s2` records your run again, after `dvx add --force data`)") in text
    refused = run_dvx("add", "data", cwd=repo)
    assert refused.code != 0 and "`--force` records yours again" in refused.stderr, \
        refused.output
    must("add", "--force", "data", cwd=repo)
    assert (repo / "data" / "f1").read_text() == "d9\n"
    assert status_of(repo, "data")["workspace"] == "unchanged"
    assert "Restored 's2' from the run-cache" in must("repro", "s2", cwd=repo)
    assert (repo / "o2.txt").read_text() == "d9\nd2\n"
    assert _up_to_date(repo)


def _edited_directory_run_then_undone(repo, dep: str, cmd: str) -> None:
    """A tracked directory `data` (f1, f2) read by stage s2 (`dep`, `cmd`, output o2.txt),
    run and committed; then data/f1 edited, added and run again, and `git checkout -- dvx.lock
    data.dvx` undoing both records."""
    write(repo / "data" / "f1", "d1\n")
    write(repo / "data" / "f2", "d2\n")
    must("add", "data", cwd=repo)
    must("stage", "add", "-n", "s2", "-d", dep, "-o", "o2.txt", cmd, cwd=repo)
    must("repro", cwd=repo)
    commit(repo, "v1")
    edit(repo, "data/f1", "d9\n")
    must("add", "data", cwd=repo)
    must("repro", cwd=repo)
    git(repo, "checkout", "--", "dvx.lock", "data.dvx")


def test_a_repro_reading_a_file_of_an_edited_directory_undone_names_the_directory_first(
        repo):
    """The same, with the stage reading one file of the directory (`data/f1`): its repro is
    named after `dvx add --force data`, as for a stage reading the whole directory, and
    following the hints records the run."""
    _edited_directory_run_then_undone(repo, "data/f1", "cat data/f1 > o2.txt")
    text = run_dvx("status", cwd=repo).stdout
    assert ("`dvx repro s2` records your run again, after `dvx add --force data`)") in text, \
        text
    must("add", "--force", "data", cwd=repo)
    assert "Restored 's2' from the run-cache" in must("repro", "s2", cwd=repo)
    assert (repo / "o2.txt").read_text() == "d9\n"
    assert _up_to_date(repo)


def test_an_undone_output_of_a_stage_no_longer_declared_names_no_add_force(repo):
    """An output whose own run was undone in dvx.lock, its stage then dropped from dvx.yaml:
    status names `dvx checkout` of dvx.lock's version only, never `dvx add --force`, which
    refuses an output dvx.lock still records."""
    write(repo / "dep.txt", "1\n")
    must("stage", "add", "-n", "a", "-d", "dep.txt", "-o", "a.txt", "cp dep.txt a.txt",
         cwd=repo)
    must("repro", cwd=repo)
    commit(repo, "v1")
    write(repo / "dep.txt", "2\n")
    must("repro", cwd=repo)
    git(repo, "checkout", "--", "dvx.lock")
    write(repo / "dvx.yaml", "stages: {}\n")
    text = run_dvx("status", cwd=repo).stdout
    assert "(`dvx checkout a.txt` places the data of the version dvx.lock records)" in text, \
        text
    assert "add --force" not in text, text
    assert run_dvx("add", "--force", "a.txt", cwd=repo).code != 0


def test_a_stage_output_holding_a_version_gc_took_names_the_ways_out_of_a_stage(repo):
    """A stage output holding a version gc took from the cache, after a checkout of an older
    commit: status and checkout name the stage's ways out, `dvx pull`, `dvx repro --force`
    of its stage and `dvx repro` from the inputs that made it, which records it; never `dvx
    add --force`, which refuses a stage output, nor `dvx commit --force`, which would pair it
    with the inputs dvx.lock records."""
    write(repo / "dep.txt", "1\n")
    must("stage", "add", "-n", "a", "-d", "dep.txt", "-o", "a.txt", "cp dep.txt a.txt",
         cwd=repo)
    must("repro", cwd=repo)
    commit(repo, "v1")
    write(repo / "dep.txt", "2\n")
    must("repro", cwd=repo)
    commit(repo, "v2")
    git(repo, "checkout", "-q", "HEAD~1")
    must("gc", "-w", "-f", "--grace", "0", "--force-last-copy", cwd=repo)
    assert status_of(repo, "a.txt")["outdated_not_cached"] == ["a.txt"]
    text = run_dvx("status", cwd=repo).stdout
    assert ("(`dvx pull a.txt` replaces the version no longer in the cache that a.txt holds, "
            "if the remote holds that version, where `dvx checkout` keeps it; `dvx repro "
            "--force a` runs its stage again instead; `dvx repro a` records it again once the "
            "workspace holds the inputs it was made from)") in " ".join(text.split()), text
    assert "add --force" not in text and "commit --force" not in text, text
    kept = run_dvx("checkout", cwd=repo)
    assert ("`dvx repro a` records it again once the workspace holds the inputs it was made "
            "from") in " ".join(kept.stderr.split()), kept.output
    assert "add --force" not in kept.output and "commit --force" not in kept.output, \
        kept.output
    write(repo / "dep.txt", "2\n")
    must("repro", "a", cwd=repo)
    assert (repo / "a.txt").read_text() == "2\n"
    assert _up_to_date(repo)


def test_a_stash_that_only_saw_a_committed_pointer_is_not_named_for_data_a_switch_left(team):
    """A stash made on a branch holds the pointers that branch commits, unchanged: data a
    `git checkout` of another branch then leaves behind is a pointer that left Git, never
    one `git stash pop` would bring back."""
    alice = team.founder()
    git(alice, "checkout", "-q", "-b", "feature")
    write(alice / "f.bin", "f\n")
    must("add", "f.bin", cwd=alice)
    commit(alice, "f")
    write(alice / "notes.txt", "wip\n")
    git(alice, "stash", "-q", "-u")
    git(alice, "checkout", "-q", "main")
    text = run_dvx("status", cwd=alice).stdout
    assert "f.bin: no longer tracked, its pointer left Git" in text and "stash" not in text
    left = json.loads(run_dvx("status", "--json", cwd=alice).stdout)["left_behind"]
    assert [(e["path"], e["in_stash"]) for e in left] == [("f.bin", None)]


def _shared_stage_reading_in_txt(team: Team) -> tuple[Path, Path]:
    """alice runs stage s reading in.txt (`_stage_s_reading_in_txt_run`) and shares it all,
    and bob clones it. Returns alice and bob."""
    alice = team.founder()
    _stage_s_reading_in_txt_run(alice)
    share(alice, "pipeline")
    return alice, team.clone("bob")


def _run_while_alice_pulls(command: str, alice: Path, point: str = "repro.after_command"
                           ) -> tuple[int, str, str]:
    """`dvx COMMAND` in alice's clone, stopped at the fault point `point` (by default once
    a stage's command has ended) while she pulls what bob shared (Git takes no dvx lock),
    then let go on to its end: its exit status, stdout and stderr."""
    return run_meanwhile(point, command, alice,
                         lambda: git(alice, "pull", "-q", "--ff-only", "origin", "main"))


@pytest.mark.parametrize("point", ["repro.after_command", "repro.before_lock_take_in"])
def test_a_teammate_s_run_pulled_while_repro_runs_the_stage_is_never_undone(team, point):
    """bob's run of a stage, on his new input, arrives by `git pull` while alice's repro runs
    that stage on her older input (Git takes no dvx lock), or once its records were checked
    and its outputs' .gitignore entries written, as dvx.lock is about to be: alice's run is
    not written over bob's dvx.lock entry; the stage fails saying so, and dvx.lock is bob's."""
    alice, bob = _shared_stage_reading_in_txt(team)
    edit(bob, "in.txt", "in2\n")
    must("add", "in.txt", cwd=bob)
    must("repro", cwd=bob)
    share(bob, "in2 and its run")
    pipeline = (alice / "dvx.yaml").read_text()
    write(alice / "dvx.yaml", pipeline.replace("in.txt in.txt", "in.txt in.txt in.txt"))

    code, out, err = _run_while_alice_pulls("repro", alice, point)
    said = " ".join(err.split())
    assert code == 1, out + err
    assert "its dvx.lock entry and 'in.txt.dvx' changed while repro ran" in said, said
    assert (alice / "dvx.lock").read_text() == (bob / "dvx.lock").read_text()
    assert git(alice, "status", "--porcelain", "--", "dvx.lock", "in.txt.dvx") == ""


def test_a_stage_refused_just_before_dvx_lock_is_written_leaves_every_record_as_it_was(team):
    """alice renames stage s to t, its output switched to `cache: false` and a new cached
    one added, and runs t while bob's run of s arrives by `git pull` just before dvx.lock is
    written: t fails, and nothing of its record is left. The .gitignore entry of the output
    and its sync record are back, no record of the new output waits for a dvx.lock naming
    it, and s's entry, kept in dvx.lock as bob wrote it, is not said to be dropped."""
    alice, bob = _shared_stage_reading_in_txt(team)
    edit(bob, "in.txt", "in2\n")
    must("add", "in.txt", cwd=bob)
    must("repro", cwd=bob)
    share(bob, "in2 and its run")
    write(alice / "dvx.yaml", "stages:\n  t:\n    cmd: cat in.txt in.txt > out.txt && echo x > "
                              "extra.txt\n    deps: [in.txt]\n    outs: [{out.txt: {cache: "
                              "false}}, extra.txt]\n")
    synced = json.loads((alice / ".dvx/tmp/synced.json").read_text())
    assert "out.txt" in synced["outputs"]

    code, out, err = _run_while_alice_pulls("repro t", alice, "repro.before_lock_write")
    said = " ".join(err.split())
    assert code == 1, out + err
    assert "Stage 't' failed: the dvx.lock entry of 's' and 'in.txt.dvx' changed" in said, said
    assert "Dropped" not in out and "no longer in dvx.yaml" not in out, out
    assert (alice / "dvx.lock").read_text() == (bob / "dvx.lock").read_text()
    assert git(alice, "status", "--porcelain", "--", "dvx.lock", ".gitignore") == ""
    records = json.loads((alice / ".dvx/tmp/synced.json").read_text())
    assert records["outputs"]["out.txt"] == synced["outputs"]["out.txt"], records
    assert not records.get("pending"), records


@pytest.mark.parametrize("command", ["repro -f", "exp run -f"])
def test_a_teammate_s_run_pulled_while_a_rerun_makes_the_same_outputs_is_never_undone(
        team, command):
    """bob's run of a stage with his new script arrives by `git pull` while alice's `repro
    -f` reruns that stage with her older script, making the outputs her dvx.lock entry
    already records: her run is no more recorded than one making other outputs would be
    (bob's entry would be undone); the stage fails saying so, dvx.lock stays bob's, and the
    output stays as her command left it, a writable file of its own."""
    alice = team.founder()
    must("config", "--local", "cache.type", "hardlink", cwd=alice)
    write(alice / "gen.sh", "echo one > out.txt\n")
    write(alice / "dvx.yaml", "stages:\n  make:\n    cmd: sh gen.sh\n    deps: [gen.sh]\n"
                               "    outs: [out.txt]\n")
    must("repro", cwd=alice)
    share(alice, "pipeline")
    bob = team.clone("bob")
    write(bob / "gen.sh", "echo two > out.txt\n")
    must("repro", cwd=bob)
    share(bob, "bob's gen.sh and its run")

    code, out, err = _run_while_alice_pulls(command, alice)
    said = " ".join(err.split())
    name = command.removesuffix(" -f")
    assert code == 1, out + err
    assert f"Stage 'make' failed: its dvx.lock entry changed while {name} ran" in said, said
    again = "repro make" if name == "repro" else command  # exp run as typed
    assert f"then `dvx {again}` again" in said, said
    assert "Stage 'make' done" not in out + err
    assert (alice / "dvx.lock").read_text() == (bob / "dvx.lock").read_text()
    assert (alice / "out.txt").read_text() == "one\n"  # as the command left it
    now = os.lstat(alice / "out.txt")
    assert now.st_nlink == 1 and now.st_mode & 0o200


def test_a_teammate_s_desc_of_an_input_pulled_while_repro_runs_the_stage_is_no_change(team):
    """bob only describes the input (`desc:` in its pointer, the same data), and alice
    pulls that while her repro runs the stage that reads it: recording the run undoes
    nothing, so it is recorded, and the pointer keeps bob's description."""
    alice, bob = _shared_stage_reading_in_txt(team)
    with open(bob / "in.txt.dvx", "a") as pointer:
        pointer.write('desc: "the raw input, v1"\n')
    share(bob, "describe in.txt")
    pipeline = (alice / "dvx.yaml").read_text()
    write(alice / "dvx.yaml", pipeline.replace("in.txt in.txt", "in.txt in.txt in.txt"))

    code, out, err = _run_while_alice_pulls("repro", alice)
    assert code == 0, out + err
    assert (alice / "out.txt").read_text() == "in1\n" * 3
    assert read_lock(str(alice), "xxh128")["s"].cmd == ("cat in.txt in.txt in.txt > out.txt",)
    assert (alice / "in.txt.dvx").read_text() == (bob / "in.txt.dvx").read_text()


@pytest.mark.parametrize("command", ["repro", "exp run"])
def test_a_teammate_s_run_pulled_while_j2_runs_it_is_never_undone_by_a_stage_recorded_first(
        team, command):
    """`-j2` runs stages a and b at once; bob's run of b arrives by `git pull` while they
    run, and a is recorded first, taking bob's entry into dvx.lock: b, run on what alice had
    before, still fails, never written over bob's entry, as when it runs alone."""
    alice = team.founder()
    write(alice / ".gitignore", "go\n")  # b's command waits for it, and copies it
    write(alice / "a.in", "a1\n")
    write(alice / "b.in", "b1\n")
    write(alice / "dvx.yaml", "stages:\n  a:\n    cmd: cp a.in a.out\n    deps: [a.in]\n"
                               "    outs: [a.out]\n  b:\n    cmd: while [ ! -e go ]; do sleep "
                               "0.05; done; cat b.in go > b.out\n    deps: [b.in]\n"
                               "    outs: [b.out]\n")
    write(alice / "go", "alice\n")
    must("repro", cwd=alice)
    share(alice, "pipeline")
    bob = team.clone("bob")
    write(bob / "go", "bob\n")
    must("repro", "-f", "-s", "b", cwd=bob)
    share(bob, "bob ran b")
    (alice / "go").unlink()
    write(alice / "a.in", "a2\n")
    write(alice / "b.in", "b2\n")

    running = subprocess.Popen(
        [sys.executable, "-m", "dvx", *command.split(), "-j2"], cwd=alice,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL,
        env={**os.environ, "DVX_FAULT": "repro.after_command,repro.before_run_record",
             "DVX_FAULT_ACTION": "stop"})
    try:
        stopped_again(running, "repro.after_command")  # a's command ended, b's waits
        git(alice, "pull", "-q", "--ff-only", "origin", "main")
        running.send_signal(signal.SIGCONT)
        stopped_again(running, "repro.before_run_record")  # a recorded
        write(alice / "go", "alice\n")
    finally:
        running.send_signal(signal.SIGCONT)
    out, err = running.communicate(timeout=60)
    said = " ".join(err.split())
    assert running.returncode == 1, out + err
    assert f"Stage 'b' failed: its dvx.lock entry changed while {command} ran" in said, said
    locks = read_lock(str(alice), "xxh128")
    assert locks["b"] == read_lock(str(bob), "xxh128")["b"]
    assert locks["a"].deps[0].oid == xxhash.xxh3_128_hexdigest(b"a2\n")
    assert (alice / "b.out").read_text() == "b2\nalice\n"  # as the command left it


def test_a_failed_write_of_the_record_keeps_the_teammate_s_change_from_being_undone(team):
    """A full disk while dvx rewrites what was checked out (.dvx/tmp/synced.json) keeps the
    previous record: after `git pull` the teammate's pointer is still outdated data here."""
    alice = team.founder()
    write(alice / "data.txt", "v1 by alice\n")
    must("add", "data.txt", cwd=alice)
    share(alice, "v1")
    bob = team.clone("bob")
    edit(alice, "data.txt", "v2 by alice\n")
    must("add", "data.txt", cwd=alice)
    share(alice, "v2")

    record = bob / ".dvx/tmp/synced.json"
    before = record.read_bytes()
    write(bob / "copy.txt", "v1 by alice\n")  # cached already: only records are written
    failed = run_with_file_size_limit(["add", "copy.txt"], bob, 0)
    assert failed.returncode == 1 and "Traceback" not in failed.stderr, failed.stderr
    assert record.read_bytes() == before
    (bob / "copy.txt").unlink()

    git(bob, "pull", "-q", "origin", "main")
    assert status_of(bob, "data.txt")["workspace"] == "outdated"
    skipped = run_dvx("commit", cwd=bob)
    assert skipped.code == 0 and "Not recorded data.txt" in skipped.stderr, skipped.output
    assert pointer_oid(bob / "data.txt.dvx") == pointer_oid(alice / "data.txt.dvx")


def test_checking_out_an_older_commit_then_back_is_not_a_change(team):
    alice = _founder_sharing_v1(team)
    edit(alice, "data.csv", "v2\n")
    must("add", "data.csv", cwd=alice)
    share(alice, "v2")

    carol = team.clone("carol", pull=False)
    git(carol, "checkout", "-q", "HEAD~1")
    must("pull", cwd=carol)
    git(carol, "checkout", "-q", "main")
    assert status_of(carol, "data.csv")["workspace"] == "outdated"
    refused = run_dvx("commit", "data.csv", cwd=carol)
    assert refused.code == 1 and "dvx pull data.csv" in refused.stderr  # v2 is not cached
    assert git(carol, "status", "--porcelain") == ""
    must("pull", cwd=carol)
    assert (carol / "data.csv").read_text() == "v2\n"


def _bob_s_change_pulled_by_alice_without_record(team) -> tuple[Path, Path]:
    """Alice's workspace with no record of what it was synced to (as after an upgrade from a
    dvx that kept none, or `rm .dvx/tmp/synced.json`) when `git pull` brings bob's new
    data.txt, imgs/ and the run of the stage reading data.txt."""
    alice = team.founder()
    write(alice / "data.txt", "v1\n")
    for i in range(3):
        write(alice / "imgs" / f"{i}.png", f"png {i}\n")
    must("add", "data.txt", "imgs", cwd=alice)
    must("stage", "add", "-n", "copy", "-d", "data.txt", "-o", "out.txt",
         "cat data.txt > out.txt", cwd=alice)
    must("repro", cwd=alice)
    share(alice, "v1")
    bob = team.clone("bob")
    edit(bob, "data.txt", "v2 by bob\n")
    edit(bob, "imgs/1.png", "png 1 by bob\n")
    must("add", "data.txt", "imgs", cwd=bob)
    must("repro", cwd=bob)
    share(bob, "v2")
    (alice / ".dvx/tmp/synced.json").unlink()
    git(alice, "pull", "-q", "origin", "main")
    return alice, bob


def test_without_the_record_status_and_commit_take_a_pointer_git_pull_moved_for_outdated(team):
    """What HEAD's recent commits recorded stands in for the record: the workspace still
    holding the pointer's version from before `git pull` is outdated, never recorded."""
    alice, _ = _bob_s_change_pulled_by_alice_without_record(team)
    for rel in ("data.txt", "imgs", "out.txt"):
        seen = status_of(alice, rel)
        assert seen["workspace"] == "outdated", seen
        assert seen["pointer_oid"] != seen["synced_oid"] is not None, seen
    text = run_dvx("status", cwd=alice).stdout
    assert "data.txt: pointer changed in Git, data not checked out" in text
    assert "outputs not checked out: out.txt" in text and "changed outs" not in text

    skipped = run_dvx("commit", cwd=alice)
    assert skipped.code == 0, skipped.output
    for rel in ("data.txt", "imgs", "out.txt"):
        assert f"Not recorded {rel}" in skipped.stderr
    refused = run_dvx("commit", "data.txt", cwd=alice)
    assert refused.code == 1 and "dvx pull data.txt" in refused.stderr, refused.output
    assert git(alice, "status", "--porcelain") == ""  # bob's pointers and dvx.lock stand
    must("pull", cwd=alice)
    assert (alice / "imgs/1.png").read_text() == "png 1 by bob\n"
    assert (alice / "out.txt").read_text() == "v2 by bob\n"
    assert run_dvx("status", "-q", cwd=alice).code == 0


def test_without_the_record_repro_never_records_older_data_over_a_pointer_git_pull_moved(team):
    alice, _ = _bob_s_change_pulled_by_alice_without_record(team)
    refused = run_dvx("repro", cwd=alice)
    assert refused.code == 1, refused.output
    assert "'data.txt' changed in Git since this workspace was synced" in refused.stderr
    assert git(alice, "status", "--porcelain") == ""
    assert (alice / "out.txt").read_text() == "v1\n"  # nothing ran
    must("pull", cwd=alice)
    must("repro", cwd=alice)
    assert (alice / "out.txt").read_text() == "v2 by bob\n"
    assert git(alice, "status", "--porcelain") == ""


def test_without_the_record_a_moved_path_stays_outdated(team):
    """`dvx move` of data that holds the version from before `git pull` takes along what
    Git's history of the old path told (the new path has none): the new path is outdated
    too, never recorded over bob's pointer."""
    alice, bob = _bob_s_change_pulled_by_alice_without_record(team)
    must("move", "data.txt", "moved.txt", cwd=alice)
    must("move", "imgs", "pics", cwd=alice)
    for rel in ("moved.txt", "pics"):
        seen = status_of(alice, rel)
        assert seen["workspace"] == "outdated", seen
    skipped = run_dvx("commit", cwd=alice)
    assert skipped.code == 0 and "Not recorded moved.txt" in skipped.stderr, skipped.output
    refused = run_dvx("commit", "moved.txt", cwd=alice)
    assert refused.code == 1 and "dvx pull moved.txt" in refused.stderr, refused.output
    for old, new in (("data.txt", "moved.txt"), ("imgs", "pics")):
        assert pointer_oid(alice / f"{new}.dvx") == pointer_oid(bob / f"{old}.dvx")
    must("pull", "moved.txt", "pics", cwd=alice)
    assert (alice / "moved.txt").read_text() == "v2 by bob\n"
    assert (alice / "pics/1.png").read_text() == "png 1 by bob\n"


def test_data_moved_after_git_pull_brought_its_pointer_is_changed_in_git_at_the_new_path(team):
    """`dvx move` of data outdated by `git pull`: the new path, which Git's history does not
    know yet, is outdated as the old one was, its pointer changed in Git, never outside a
    commit (a stash applied, the pointer file checked out), until the move is committed."""
    alice = team.founder()
    write(alice / "x.bin", "v1\n")
    must("add", "x.bin", cwd=alice)
    share(alice, "v1")
    bob = team.clone("bob")
    edit(bob, "x.bin", "v2\n")
    must("add", "x.bin", cwd=bob)
    share(bob, "v2")
    git(alice, "pull", "-q", "origin", "main")
    assert "x.bin: pointer changed in Git, data not checked out" in run_dvx(
        "status", cwd=alice).stdout

    must("move", "x.bin", "moved.bin", cwd=alice)
    seen = status_of(alice, "moved.bin")
    assert (seen["workspace"], seen["moved_in_workspace"]) == ("outdated", False), seen
    text = run_dvx("status", cwd=alice).stdout
    assert "moved.bin: pointer changed in Git, data not checked out" in text, text
    assert "outside a commit" not in text, text
    commit(alice, "moved")
    assert "moved.bin: pointer changed in Git, data not checked out" in run_dvx(
        "status", cwd=alice).stdout
    must("pull", "moved.bin", cwd=alice)
    assert (alice / "moved.bin").read_text() == "v2\n"


def test_without_the_record_an_edit_made_here_is_still_committed(team):
    """Only a version HEAD's recent commits recorded is taken for outdated: new data is a
    change, which commit and repro record."""
    alice, bob = _bob_s_change_pulled_by_alice_without_record(team)
    for rel in ("data.txt", "imgs/0.png"):
        edit(alice, rel, f"{rel} by alice\n")
    assert status_of(alice, "data.txt")["workspace"] == "modified"
    must("repro", cwd=alice)  # commits the changed input, then runs on it
    assert (alice / "out.txt").read_text() == "data.txt by alice\n"
    (alice / ".dvx/tmp/synced.json").unlink()
    seen = status_of(alice, "imgs")
    assert seen["workspace"] == "modified" and seen["synced_oid"] is None, seen
    # bob's manifest is not here: which of its files alice lacks cannot be told, nor kept
    refused = run_dvx("commit", cwd=alice)
    assert refused.code == 1 and "dvx fetch imgs/" in refused.stderr, refused.output
    must("fetch", "imgs/0.png", cwd=alice)
    must("commit", cwd=alice)
    commit(alice, "alice's")
    assert git(alice, "show", "HEAD:imgs.dvx") != git(bob, "show", "HEAD:imgs.dvx")


def test_data_you_added_and_committed_then_edited_without_the_record_is_committed(team):
    """A pointer the user's own `git commit` brought (after `dvx add` of new data) is never
    taken for one Git brought over data of theirs when the record of what was synced is
    gone: the edit made since is a change, which add and commit record without --force."""
    alice = team.founder()
    for rel in ("data.txt", "imgs/0.png"):
        write(alice / rel, f"{rel} v1\n")
    must("add", "data.txt", "imgs", cwd=alice)
    commit(alice, "alice's data")
    for rel in ("data.txt", "imgs/0.png"):
        edit(alice, rel, f"{rel} v2\n")
    (alice / ".dvx/tmp/synced.json").unlink()
    seen = status_of(alice, "imgs")
    assert seen["workspace"] == "modified" and not seen["brought_over_own"], seen
    must("add", "data.txt", cwd=alice)
    must("commit", "imgs", cwd=alice)
    assert run_dvx("status", "-q", cwd=alice).code == 0


def test_status_records_what_it_finds_in_sync_so_a_later_git_pull_is_recognised(team):
    """A workspace no dvx of this version synced is recorded as `dvx status` finds it
    (holding what its pointers record), so a pointer `git pull` moves afterwards is
    outdated even once Git's reflog no longer tells what HEAD was at before."""
    alice = team.founder()
    write(alice / "data.txt", "v1\n")
    must("add", "data.txt", cwd=alice)
    share(alice, "v1")
    old = pointer_oid(alice / "data.txt.dvx")
    bob = team.clone("bob")
    edit(bob, "data.txt", "v2 by bob\n")
    must("add", "data.txt", cwd=bob)
    share(bob, "v2")

    (alice / ".dvx/tmp/synced.json").unlink()
    assert run_dvx("status", "-q", cwd=alice).code == 0
    record = json.loads((alice / ".dvx/tmp/synced.json").read_text())["outputs"]
    assert record["data.txt"]["oid"] == old
    git(alice, "pull", "-q", "origin", "main")
    git(alice, "reflog", "expire", "--expire=now", "--all")
    git(alice, "update-ref", "-d", "ORIG_HEAD")
    seen = status_of(alice, "data.txt")
    assert (seen["workspace"], seen["synced_oid"]) == ("outdated", old)
    assert run_dvx("commit", cwd=alice).code == 0
    assert git(alice, "status", "--porcelain") == ""


def test_a_change_made_both_here_and_in_git_needs_force(team):
    alice = _founder_sharing_v1(team)
    bob = team.clone("bob")
    edit(bob, "data.csv", "bob's\n")
    must("add", "data.csv", cwd=bob)
    share(bob, "bob")

    edit(alice, "data.csv", "alice's\n")  # edited, not yet recorded...
    git(alice, "pull", "-q", "origin", "main")  # ...when bob's version arrives
    seen = status_of(alice, "data.csv")
    assert seen["workspace"] == "modified" and seen["synced_oid"] is not None
    assert "changed both here and in Git" in run_dvx("status", cwd=alice).stdout
    bobs = pointer_oid(alice / "data.csv.dvx")
    for args in (("commit",), ("commit", "data.csv")):
        refused = run_dvx(*args, cwd=alice)
        assert refused.code == 1 and "changed both here and in Git" in refused.stderr
    assert pointer_oid(alice / "data.csv.dvx") == bobs
    must("commit", "--force", "data.csv", cwd=alice)
    assert pointer_oid(alice / "data.csv.dvx") != bobs
    assert (alice / "data.csv").read_text() == "alice's\n"


def test_an_edit_of_a_file_a_teammate_made_a_folder_needs_force_after_a_pull(team):
    """The pull skips the edited file where the folder goes, and places nothing of the
    folder: the file is still a change both here and in Git, as for a file made another file."""
    alice = team.founder()
    write(alice / "data/f1", "one\n")
    must("add", "data/f1", cwd=alice)
    share(alice, "v1")
    bob = team.clone("bob")
    must("remove", "data/f1.dvx", cwd=bob)
    (bob / "data/f1").unlink()
    write(bob / "data/f1/p", "p\n")
    must("add", "data/f1", cwd=bob)
    share(bob, "f1 is now a folder")

    edit(alice, "data/f1", "alice's\n")  # edited, not yet recorded...
    git(alice, "pull", "-q", "origin", "main")  # ...when bob's folder arrives
    folder = pointer_oid(alice / "data/f1.dvx")
    pulled = run_dvx("pull", cwd=alice)
    assert pulled.code == 1 and "Skipped data/f1:" in pulled.output
    assert "data/f1: modified, and its pointer changed in Git" in run_dvx(
        "status", cwd=alice).stdout
    refused = run_dvx("commit", "data/f1", cwd=alice)
    assert refused.code == 1 and "changed both here and in Git" in refused.stderr
    assert pointer_oid(alice / "data/f1.dvx") == folder
    assert (alice / "data/f1").read_text() == "alice's\n"


@pytest.mark.parametrize("moved_by", ["a teammate's file", "a teammate's folder",
                                      "git checkout", "git checkout, an older dvx's record"])
def test_a_folder_of_yours_where_a_file_was_then_its_pointer_moved_is_changed_on_both_sides(
        team, moved_by):
    """bob makes the tracked file data.csv a folder of his own, then its pointer moves in Git
    (a teammate's version of it pulled, a file or a folder, or an older commit checked out).
    The sync record names the file bob had, no directory (told by its executable bit, or,
    in a record of a dvx that kept none, by the object's first bytes): status and commit
    read no manifest from it, and call data.csv modified here and changed in Git, which
    only --force records as bob's."""
    alice = _founder_sharing_v1(team)
    bob = team.clone("bob")
    if moved_by.startswith("git checkout"):
        edit(bob, "data.csv", "bob's v2\n")
        must("add", "data.csv", cwd=bob)
        commit(bob, "v2")
    else:
        if moved_by == "a teammate's folder":
            must("remove", "data.csv.dvx", cwd=alice)
            (alice / "data.csv").unlink()
            write(alice / "data.csv/t", "alice's\n")
        else:
            edit(alice, "data.csv", "v2\n")
        must("add", "data.csv", cwd=alice)
        share(alice, "v2")
    (bob / "data.csv").unlink()
    write(bob / "data.csv/mine", "bob's\n")
    if moved_by.startswith("git checkout"):
        git(bob, "checkout", "-q", "HEAD~1")
    else:
        git(bob, "pull", "-q", "origin", "main")
    if moved_by.endswith("an older dvx's record"):  # which kept no executable bit
        record = bob / ".dvx/tmp/synced.json"
        synced = json.loads(record.read_text())
        del synced["outputs"]["data.csv"]["exec"]
        record.write_text(json.dumps(synced))

    text = run_dvx("status", cwd=bob)
    assert text.code == 0 and "data.csv: modified, and its pointer changed in Git" in text.stdout
    assert json.loads(run_dvx("status", "--json", cwd=bob).stdout)["unreadable"] == []
    refused = run_dvx("commit", "data.csv", cwd=bob)
    assert refused.code == 1 and "changed both here and in Git" in refused.stderr
    must("commit", "--force", "data.csv", cwd=bob)
    assert status_of(bob, "data.csv")["workspace"] == "unchanged"
    assert (bob / "data.csv/mine").read_text() == "bob's\n"


def test_a_folder_of_one_s_own_where_a_teammate_s_file_pointer_lands_is_kept(team):
    """bob's own folder m, never tracked, whose file's bytes the cache holds (bob tracks the
    same bytes elsewhere), stands where alice's new file m goes: no version of m recorded
    lately held it, so the pull keeps it and names it, and only --force replaces it. A
    folder dvx placed (d tracked as a folder before alice made it a file) is replaced."""
    alice = team.founder()
    write(alice / "d/p", "p\n")
    write(alice / "same.csv", "bob's\n")
    must("add", "d", "same.csv", cwd=alice)
    share(alice, "d is a folder")
    bob = team.clone("bob")  # the pull puts the bytes of same.csv in bob's cache
    write(bob / "m/x", "bob's\n")  # bob's own, never tracked
    write(alice / "m", "alice's\n")
    must("add", "m", cwd=alice)
    must("remove", "--outs", "d.dvx", cwd=alice)
    write(alice / "d", "now a file\n")
    must("add", "d", cwd=alice)
    share(alice, "m is a file, and so is d")

    git(bob, "pull", "-q", "origin", "main")
    pulled = run_dvx("pull", cwd=bob)
    assert pulled.code == 1 and "Skipped m:" in pulled.output, pulled.output
    assert "'m/x'" in pulled.output and "Skipped d" not in pulled.output, pulled.output
    assert (bob / "m/x").read_text() == "bob's\n"
    assert (bob / "d").read_text() == "now a file\n"  # the folder dvx placed is replaced
    must("pull", "--force", "m", cwd=bob)
    assert (bob / "m").read_text() == "alice's\n"


def test_the_commands_a_conflict_suggests_name_paths_from_where_they_are_run(team):
    """From a subdirectory that has a path of the same name, the suggested command pasted
    as it is acts on the conflicted data, never on the other path."""
    alice = team.founder()
    write(alice / "model", "v1\n")
    write(alice / "s" / "model", "s-v1\n")
    must("add", "model", "s/model", cwd=alice)
    share(alice, "v1")
    bob = team.clone("bob")
    edit(bob, "model", "bob's\n")
    must("add", "model", cwd=bob)
    share(bob, "bob")
    edit(alice, "model", "alice's\n")
    edit(alice, "s/model", "alice's own, never recorded\n")
    git(alice, "pull", "-q", "origin", "main")
    must("fetch", cwd=alice)
    refused = run_dvx("commit", "../model", cwd=alice / "s")
    assert refused.code == 1 and "changed both here and in Git" in refused.stderr
    take_gits = re.search(r"take Git's with `([^`]*)`", refused.stderr)
    assert take_gits is not None and take_gits.group(1) == "dvx checkout --force ../model"
    must(*shlex.split(take_gits.group(1))[1:], cwd=alice / "s")
    assert (alice / "model").read_text() == "bob's\n"
    assert (alice / "s" / "model").read_text() == "alice's own, never recorded\n"


def test_records_read_before_the_lock_are_read_again_once_it_is_held(tmp_path):
    """A command reads synced.json before it takes the lock (settling an add's pending record
    whose pointer is not written yet), then another command finishes; once it holds the lock
    it reads the records again and never writes its stale copy back."""
    from dvx.syncstate import SyncState

    path = tmp_path / "synced.json"
    old, new = "a" * 32, "b" * 32
    path.write_text(json.dumps({"version": 1, "algo": "xxh128", "outputs": {"d": {"oid": old}},
                                "pending": {"d": {"record": {"oid": new},
                                                  "pointer": "0" * 64}}}))
    state = SyncState(str(path), "xxh128", str(tmp_path))
    assert state.get("d").oid == old  # the add has not written its pointer yet
    path.write_text(json.dumps({"version": 1, "algo": "xxh128",
                                "outputs": {"d": {"oid": new}}}))  # now it has, and recorded
    state.reload()
    assert state.get("d").oid == new
    state.flush()
    assert json.loads(path.read_text())["outputs"]["d"]["oid"] == new


def test_a_record_written_by_a_newer_dvx_is_left_as_it_is(team):
    """A synced.json of another format version (a newer dvx's) is read as no record and
    never written over: status says nothing of it, a writing command says once that it
    leaves it alone, and what HEAD's recent commits recorded still tells a pointer `git
    pull` moved."""
    alice = team.founder()
    write(alice / "data.txt", "v1\n")
    must("add", "data.txt", cwd=alice)
    share(alice, "v1")
    bob = team.clone("bob")
    edit(bob, "data.txt", "v2 by bob\n")
    must("add", "data.txt", cwd=bob)
    share(bob, "v2")
    record = alice / ".dvx/tmp/synced.json"
    newer = json.dumps({"version": 2, "algo": "xxh128", "outputs": {}, "more": ["kept"]})
    record.write_text(newer)

    quiet = run_dvx("status", cwd=alice)  # finds data.txt in sync, which it would record
    assert quiet.code == 0 and quiet.stderr == "", quiet.output
    assert record.read_text() == newer
    git(alice, "pull", "-q", "origin", "main")
    assert status_of(alice, "data.txt")["workspace"] == "outdated"
    write(alice / "other.txt", "mine\n")
    added = run_dvx("add", "other.txt", cwd=alice)
    assert added.code == 0, added.output
    assert added.stderr.count("written by a newer dvx (format version 2)") == 1, added.stderr
    refused = run_dvx("commit", "data.txt", cwd=alice)
    assert refused.code == 1 and "dvx pull data.txt" in refused.stderr, refused.output
    must("pull", cwd=alice)
    assert (alice / "data.txt").read_text() == "v2 by bob\n"
    assert record.read_text() == newer


@pytest.mark.parametrize("point", ["atomic_write.before_rename:2", "commit.after_pointer"])
def test_a_pointer_this_clone_wrote_is_never_a_change_from_git_after_a_kill(team, point):
    """`dvx add a.txt data` killed before it writes any pointer (after it recorded them as
    pending), or once a.txt's pointer is written and data's is not: each pointer is the old or
    the new one, and neither is taken for a change made in Git."""
    alice = team.founder()
    write(alice / "a.txt", "v1\n")
    write(alice / "data/x", "x1\n")
    must("add", "a.txt", "data", cwd=alice)
    share(alice, "v1")
    old = {rel: pointer_oid(alice / f"{rel}.dvx") for rel in ("a.txt", "data")}
    edit(alice, "a.txt", "v2\n")
    edit(alice, "data/x", "x2\n")
    killed = run_dvx_proc("add", "a.txt", "data", cwd=alice, env={"DVX_FAULT": point})
    assert killed.code == -9, killed.output
    assert pointer_oid(alice / "data.dvx") == old["data"]
    for rel in ("a.txt", "data"):
        seen = status_of(alice, rel)
        written = pointer_oid(alice / f"{rel}.dvx") != old[rel]
        assert seen["workspace"] == ("unchanged" if written else "modified"), seen
    assert "changed both here and in Git" not in run_dvx("status", cwd=alice).stdout
    edit(alice, "a.txt", "v3\n")
    must("add", "a.txt", cwd=alice)
    must("add", "a.txt", "data", cwd=alice)
    assert run_dvx("status", "-q", cwd=alice).code == 0
    assert pointer_oid(alice / "data.dvx") != old["data"]


@pytest.mark.parametrize("command, point", [
    ("repro", "repro.before_run_record"),  # after the first stage's dvx.lock write
    ("repro", "repro.before_lock_write:2"),
    ("repro", "repro.before_run_record:2"),  # after the second's
    ("commit a.txt b.txt", "commit.after_lock_write"),
])
def test_a_dvx_lock_entry_this_clone_wrote_is_never_a_change_from_git_after_a_kill(
        repo, command, point):
    """`repro` of a two-stage pipeline, or `commit` of its outputs, killed between writing
    dvx.lock and recording what the workspace was synced to: no output is taken for one whose
    dvx.lock entry changed in Git, so an edit made after is an edit, never a change made both
    here and in Git (whose way out, `checkout --force`, would throw the edit away)."""
    write(repo / "dep.txt", "1\n")
    must("stage", "add", "-n", "a", "-d", "dep.txt", "-o", "a.txt", "cp dep.txt a.txt",
         cwd=repo)
    must("stage", "add", "-n", "b", "-d", "a.txt", "-o", "b.txt", "cp a.txt b.txt", cwd=repo)
    must("repro", cwd=repo)
    commit(repo, "v1")
    if command == "repro":
        write(repo / "dep.txt", "2\n")
    else:
        for rel in ("a.txt", "b.txt"):
            edit(repo, rel, f"{rel} edited\n")
    killed = run_dvx_proc(*command.split(), cwd=repo, env={"DVX_FAULT": point})
    assert killed.code == -9, killed.output
    assert "changed both here and in Git" not in run_dvx("status", cwd=repo).stdout
    for rel in ("a.txt", "b.txt"):
        edit(repo, rel, f"{rel}: mine\n")
        seen = status_of(repo, rel)
        assert seen["workspace"] == "modified" and seen["synced_oid"] is None, seen
    must("commit", "a.txt", "b.txt", cwd=repo)
    for rel in ("a.txt", "b.txt"):
        assert (repo / rel).read_text() == f"{rel}: mine\n"
        assert status_of(repo, rel)["workspace"] == "unchanged"


@pytest.mark.parametrize("command", ["repro", "exp run -n again"])
def test_a_stage_restored_from_the_run_cache_killed_before_dvx_lock_is_the_stage_s_change(
        repo, command):
    """A `repro` (or `exp run`) that restores a stage from the run-cache, killed before
    dvx.lock records it: the output is modified and the stage stale, as after a run killed
    there, never data whose dvx.lock entry moved outside a commit (whose way out, `dvx add
    --force`, refuses a stage output); the rerun records it."""
    write(repo / "dep.txt", "1\n")
    must("stage", "add", "-n", "a", "-d", "dep.txt", "-o", "a.txt", "cp dep.txt a.txt",
         cwd=repo)
    must("repro", cwd=repo)
    commit(repo, "v1")
    write(repo / "dep.txt", "2\n")
    must("repro", cwd=repo)  # the run-cache now knows dep.txt 2
    git(repo, "checkout", "-q", "--", ".")
    must("checkout", "--force", cwd=repo)
    write(repo / "dep.txt", "2\n")
    killed = run_dvx_proc(*command.split(), cwd=repo,
                          env={"DVX_FAULT": "repro.before_lock_write"})
    assert killed.code == -9, killed.output
    assert (repo / "a.txt").read_text() == "2\n"
    seen = status_of(repo, "a.txt")
    assert (seen["workspace"], seen["synced_oid"], seen["own_version_undone"]) == (
        "modified", None, False), seen
    text = run_dvx("status", cwd=repo).stdout
    assert "a.txt: modified" in text and "a: changed deps: dep.txt; changed outs: a.txt" in text
    assert "outside a commit" not in text and "add --force" not in text
    assert "Restored 'a' from the run-cache" in run_dvx("repro", cwd=repo).output
    assert run_dvx("status", "-q", cwd=repo).code == 0


def test_a_pull_checks_out_what_the_pointers_name_once_it_holds_the_lock(team):
    """`git checkout` (with its hook's `dvx checkout`) while a pull of the older commit is
    still fetching: the pull then checks out what the pointers name now, never the older
    commit's data under the newer pointers."""
    alice = team.founder()
    for version in ("v2", "v3"):
        write(alice / "big.txt", f"big {version}\n")
        write(alice / "d/f", f"f {version}\n")
        must("add", "big.txt", "d", cwd=alice)
        share(alice, version)
    bob = team.clone("bob")  # v3 pulled
    git(bob, "checkout", "-q", "HEAD~1")  # v2, whose data is not cached
    pulling = stopped_at("fetch.before_files", "pull", bob)
    try:
        git(bob, "checkout", "-q", "main")  # back to v3, checked out as the hook would
        must("checkout", cwd=bob)
    finally:
        pulling.send_signal(signal.SIGCONT)
        out, err = pulling.communicate(timeout=60)
    assert pulling.returncode == 0, out + err
    assert (bob / "big.txt").read_text() == "big v3\n"
    assert (bob / "d/f").read_text() == "f v3\n"
    assert run_dvx("status", "-q", cwd=bob).code == 0


def test_a_directory_whose_pointer_moved_is_outdated_not_modified(team):
    alice = team.founder()
    for i in range(3):
        write(alice / "data" / f"f{i}.txt", f"{i}\n")
    must("add", "data", cwd=alice)
    share(alice, "v1")
    bob = team.clone("bob")
    edit(bob, "data/f1.txt", "changed by bob\n")
    write(bob / "data" / "f3.txt", "added by bob\n")
    must("add", "data", cwd=bob)
    share(bob, "v2")

    git(alice, "pull", "-q", "origin", "main")
    assert status_of(alice, "data")["workspace"] == "outdated"
    assert run_dvx("commit", "data", cwd=alice).code == 1
    must("pull", cwd=alice)
    assert (alice / "data/f1.txt").read_text() == "changed by bob\n"
    assert (alice / "data/f3.txt").read_text() == "added by bob\n"


# -- partial pulls --------------------------------------------------------------------------


def test_a_partial_pull_never_shrinks_a_directory(team):
    alice = team.founder()
    for i in range(1, 6):
        write(alice / "data" / "images" / f"img{i}.bin", f"image {i}\n")
    must("add", "data/images", cwd=alice)
    share(alice, "five images")
    five = (alice / "data/images.dvx").read_text()

    dave = team.clone("dave", pull=False)
    must("pull", "data/images/img1.bin", cwd=dave)
    seen = status_of(dave, "data/images")
    assert seen["not_pulled"] == [f"img{i}.bin" for i in range(2, 6)]
    assert seen["deleted"] == [] and seen["workspace"] == "unchanged"
    assert "4 files not pulled" in run_dvx("status", cwd=dave).stdout
    must("commit", "data/images", cwd=dave)
    must("commit", cwd=dave)
    assert (dave / "data/images.dvx").read_text() == five  # still five files

    (dave / "data/images/img1.bin").unlink()  # placed here, then deleted: a deletion
    write(dave / "data/images/img6.bin", "image 6\n")
    seen = status_of(dave, "data/images")
    assert seen["deleted"] == ["img1.bin"] and seen["added"] == ["img6.bin"]
    must("commit", "data/images", cwd=dave)
    assert "nfiles: 5" in (dave / "data/images.dvx").read_text()
    assert status_of(dave, "data/images")["in_cache"] is False  # img2-5 were never fetched
    share(dave, "img1 out, img6 in")

    git(alice, "pull", "-q", "origin", "main")
    must("pull", cwd=alice)
    assert sorted(p.name for p in (alice / "data/images").iterdir()) == [
        "img2.bin", "img3.bin", "img4.bin", "img5.bin", "img6.bin"]
    must("pull", cwd=dave)  # the rest arrives; nothing is "not pulled" any more
    seen = status_of(dave, "data/images")
    assert seen["not_pulled"] == [] and seen["workspace"] == "unchanged"


@pytest.mark.parametrize("how", ["teammate made it a file", "never pulled"])
def test_a_folder_of_yours_where_a_kept_file_goes_is_refused_by_name_and_force_records_it(
        team, how):
    """bob's folder d/sub stands where the recorded d has the file d/sub, never placed here:
    alice made d/sub a file after bob pulled the folder it was, or bob pulled only d/o and
    made the folder himself. `dvx commit` and `dvx add` refuse it by name (recorded, it
    would drop alice's file unseen), never with a manifest error; `--force` records bob's
    folder in the file's place."""
    alice = team.founder()
    if how == "teammate made it a file":
        write(alice / "d/a", "a\n")
        write(alice / "d/sub/s", "s\n")
    else:
        write(alice / "d/a", "a\n")
        write(alice / "d/sub", "alice's file\n")
    must("add", "d", cwd=alice)
    share(alice, "v1")
    bob = team.clone("bob", pull=False)
    if how == "teammate made it a file":
        must("pull", cwd=bob)
        write(bob / "d/sub/mine", "bob's\n")
        shutil.rmtree(alice / "d/sub")
        write(alice / "d/sub", "alice's file\n")
        must("add", "d", cwd=alice)
        share(alice, "v2: sub is a file")
        git(bob, "pull", "-q", "origin", "main")
        assert run_dvx("pull", cwd=bob).code == 1  # keeps the folder, naming it
    else:
        must("pull", "d/a", cwd=bob)
        write(bob / "d/sub/mine", "bob's\n")
    assert "added: sub/mine" in run_dvx("status", cwd=bob).stdout

    for command in ("commit", "add"):
        refused = run_dvx(command, "d", cwd=bob)
        assert refused.code == 1 and "'d/sub', yours, is where files of 'd' not pulled here " \
            "go" in " ".join(refused.stderr.split()), refused.stderr
    must("commit", "--force", "d", cwd=bob)
    must("checkout", "d", cwd=bob)  # takes out d/sub/s, which alice's version deleted
    assert status_of(bob, "d")["workspace"] == "unchanged"
    assert _tree_of(bob, "d") == {"a": "a\n", "sub/mine": "bob's\n"}
    share(bob, "bob's folder")
    git(alice, "pull", "-q", "origin", "main")
    must("pull", "--force", cwd=alice)
    assert _tree_of(alice, "d") == {"a": "a\n", "sub/mine": "bob's\n"}


@pytest.mark.parametrize("cached", [True, False], ids=["files cached", "never fetched"])
def test_the_refusal_of_a_path_in_the_way_names_a_forced_checkout_of_it_alone(team, cached):
    """`dvx commit` and `dvx add` refusing bob's folder d/sub where alice's file goes name
    status's ways past it: a forced checkout of d/sub alone, which keeps bob's other edits
    in d (of d, it would discard them), and a pull, not a checkout, where the cache lacks
    the files not pulled (a checkout places nothing the cache lacks)."""
    alice = team.founder()
    write(alice / "d/a", "a\n")
    write(alice / "d/sub", "alice's file\n")
    must("add", "d", cwd=alice)
    share(alice, "v1")
    bob = team.clone("bob", pull=False)
    if cached:
        must("fetch", cwd=bob)
    must("pull", "d/a", cwd=bob)
    write(bob / "d/sub/mine", "bob's\n")
    write(bob / "d/notes", "bob's notes\n")
    verb = "checkout" if cached else "pull"
    for command in ("commit", "add"):
        refused = run_dvx(command, "d", cwd=bob)
        said = " ".join(refused.stderr.split())
        assert refused.code == 1 and f"Move it away, then `dvx {verb} d` places them all, " \
            f"or `dvx {verb} --force d/sub` discards it;" in said, said
    must(verb, "--force", "d/sub", cwd=bob)
    assert (bob / "d/sub").read_text() == "alice's file\n"
    assert (bob / "d/notes").read_text() == "bob's notes\n"


def test_files_not_pulled_are_reported_though_their_objects_are_cached(team):
    alice = team.founder()
    for i in range(1, 4):
        write(alice / "data" / f"img{i}.bin", f"image {i}\n")
    must("add", "data", cwd=alice)
    share(alice, "three images")

    dave = team.clone("dave", pull=False)
    must("fetch", cwd=dave)  # everything cached, as after a pull that ran out of disk space
    must("pull", "data/img1.bin", cwd=dave)
    doc = json.loads(run_dvx("status", "--json", cwd=dave).stdout)
    assert doc["changed"] is True
    assert doc["outputs"][0]["not_pulled"] == ["img2.bin", "img3.bin"]
    assert doc["outputs"][0]["in_cache"] is True
    text = run_dvx("status", cwd=dave).stdout
    assert "data: 2 files not pulled" in text and "up to date" not in text
    assert "dvx checkout" in text
    assert run_dvx("status", "-q", cwd=dave).code == 1

    must("checkout", "data", cwd=dave)
    assert run_dvx("status", "-q", cwd=dave).code == 0


def test_a_second_partial_pull_adds_to_what_was_placed(team):
    alice = team.founder()
    for name in ("a/1.txt", "a/2.txt", "b/1.txt", "c.txt"):
        write(alice / "data" / name, name)
    must("add", "data", cwd=alice)
    share(alice, "data")
    erin = team.clone("erin", pull=False)
    must("pull", "data/a", cwd=erin)
    must("pull", "data/c.txt", cwd=erin)
    assert status_of(erin, "data")["not_pulled"] == ["b/1.txt"]
    (erin / "data/a/2.txt").unlink()
    assert status_of(erin, "data")["deleted"] == ["a/2.txt"]


# -- a directory placed in part over an older version, or half-way ------------------------


def _images(clone, contents: dict[str, str]) -> None:
    for name, text in contents.items():
        write(clone / "data" / "imgs" / name, text)


def _tree_of(clone, rel: str = "data/imgs") -> dict[str, str]:
    top = clone / rel
    return {p.relative_to(top).as_posix(): p.read_text() for p in sorted(top.rglob("*"))
            if p.is_file()}


def _bob_behind_alice(team, v1: dict[str, str], change) -> tuple[Path, Path, str]:
    """alice shares `v1` of data/imgs, bob pulls it, alice `change`s and shares v2, and bob
    `git pull`s: (alice, bob, v2's oid)."""
    alice = team.founder()
    _images(alice, v1)
    must("add", "data/imgs", cwd=alice)
    share(alice, "v1")
    bob = team.clone("bob")
    change(alice)
    must("add", "data/imgs", cwd=alice)
    share(alice, "v2")
    git(bob, "pull", "-q", "origin", "main")
    return alice, bob, pointer_oid(alice / "data/imgs.dvx")


def test_a_checkout_without_the_new_manifest_leaves_the_directory_outdated(team):
    _, bob, _ = _bob_behind_alice(
        team, {"1.png": "one\n"}, lambda alice: edit(alice, "data/imgs/2.png", "two\n"))
    stopped = run_dvx("checkout", cwd=bob)  # the post-merge hook of `dvx install` does this
    assert stopped.code == 1 and "Not in the cache" in stopped.stderr
    seen = status_of(bob, "data/imgs")
    assert seen["workspace"] == "outdated", seen
    committed = run_dvx("commit", cwd=bob)
    assert committed.code == 0 and "pointer changed in Git" in committed.output
    must("pull", cwd=bob)
    assert sorted(p.name for p in (bob / "data/imgs").iterdir()) == ["1.png", "2.png"]


def test_a_partial_pull_after_git_pull_never_undoes_the_teammate_s_change(team, tmp_path):
    def change(alice):  # alice changes one file and deletes another
        edit(alice, "data/imgs/2.png", "two v2\n")
        (alice / "data/imgs/3.png").unlink()

    _, bob, v2 = _bob_behind_alice(
        team, {"1.png": "one\n", "2.png": "two v1\n", "3.png": "three\n"}, change)
    must("pull", "data/imgs/1.png", cwd=bob)  # only the file bob needs
    seen = status_of(bob, "data/imgs")
    assert seen["workspace"] == "outdated", seen
    assert seen["outdated"] == ["2.png", "3.png"] and seen["modified"] == seen["added"] == []
    assert "pointer changed in Git" in run_dvx("status", cwd=bob).stdout

    write(bob / "data/imgs/4.png", "four, by bob\n")  # bob's own change
    seen = status_of(bob, "data/imgs")
    assert (seen["workspace"], seen["added"]) == ("modified", ["4.png"])
    must("commit", cwd=bob)
    assert pointer_oid(bob / "data/imgs.dvx") != v2
    share(bob, "4.png")

    carol = team.clone("carol")  # alice's change and bob's, nothing undone
    assert _tree_of(carol) == {"1.png": "one\n", "2.png": "two v2\n", "4.png": "four, by bob\n"}
    must("pull", cwd=bob)  # the rest arrives: 2.png at v2, 3.png gone
    assert _tree_of(bob) == _tree_of(carol)
    assert status_of(bob, "data/imgs")["workspace"] == "unchanged"


def test_an_add_after_git_pull_that_keeps_the_teammate_s_files_is_named_as_written_here(team):
    """bob adds a file to the directory alice changed, after `git pull`, without checking
    her change out: his add records his file and keeps hers as the pointer names it. What
    is still to check out is then named as his uncommitted pointer's, not as a change
    Git made since he synced."""
    _, bob, _ = _bob_behind_alice(
        team, {"1.png": "one\n"}, lambda alice: edit(alice, "data/imgs/1.png", "one v2\n"))
    must("fetch", cwd=bob)
    write(bob / "data/imgs/2.png", "two, by bob\n")
    must("add", "data/imgs", cwd=bob)
    shown = run_dvx("status", cwd=bob).stdout
    assert ("data/imgs: pointer changed here, not committed yet (a `dvx add` or `dvx commit` "
            "that kept files as the pointer named them, say), data not checked out, 1 file "
            "outdated") in shown, shown
    assert status_of(bob, "data/imgs")["moved_in_workspace"] is True
    skipped = run_dvx("commit", cwd=bob)
    assert skipped.code == 0 and "Not recorded data/imgs: its pointer changed here, not " \
        "committed yet" in skipped.stderr, skipped.output
    assert "in Git" not in shown + skipped.stderr and "since" not in skipped.stderr
    must("checkout", cwd=bob)
    assert _tree_of(bob) == {"1.png": "one v2\n", "2.png": "two, by bob\n"}
    assert run_dvx("status", "-q", cwd=bob).code == 0


def test_a_file_changed_here_and_by_the_teammate_after_a_partial_pull_needs_force(team):
    _, bob, v2 = _bob_behind_alice(
        team, {"1.png": "one\n", "2.png": "two v1\n"},
        lambda alice: edit(alice, "data/imgs/2.png", "two v2, by alice\n"))
    must("pull", "data/imgs/1.png", cwd=bob)
    edit(bob, "data/imgs/2.png", "two, by bob\n")
    seen = status_of(bob, "data/imgs")
    assert seen["workspace"] == "modified" and seen["modified"] == ["2.png"]
    assert seen["pointer_oid"] == v2 and seen["synced_oid"]  # both changed it
    refused = run_dvx("commit", "data/imgs", cwd=bob)
    assert refused.code == 1 and "--force" in refused.stderr, refused.output
    assert pointer_oid(bob / "data/imgs.dvx") == v2
    must("commit", "--force", "data/imgs", cwd=bob)  # bob keeps his version, on purpose
    share(bob, "bob's 2.png")
    carol = team.clone("carol")
    assert _tree_of(carol) == {"1.png": "one\n", "2.png": "two, by bob\n"}


def test_a_checkout_killed_half_way_never_shrinks_the_directory(team):
    alice = team.founder()
    _images(alice, {f"{i:02}.png": f"image {i}\n" for i in range(12)})
    must("add", "data/imgs", cwd=alice)
    share(alice, "twelve")
    twelve = (alice / "data/imgs.dvx").read_text()

    bob = team.clone("bob", pull=False)
    must("fetch", cwd=bob)
    killed = run_dvx_proc("checkout", cwd=bob, env={"DVX_FAULT": "checkout.after_file:4"})
    assert killed.code == -9, killed.output
    placed = _tree_of(bob)
    assert 0 < len(placed) < 12
    seen = status_of(bob, "data/imgs")
    assert seen["deleted"] == [] and len(seen["not_pulled"]) == 12 - len(placed), seen
    must("commit", cwd=bob)
    must("commit", "data/imgs", cwd=bob)
    assert (bob / "data/imgs.dvx").read_text() == twelve  # still twelve files
    must("checkout", cwd=bob)
    assert len(_tree_of(bob)) == 12
    assert status_of(bob, "data/imgs")["not_pulled"] == []


def test_a_folder_a_killed_pull_never_reached_is_not_pulled_not_deleted(team):
    """A teammate adds two folders; `dvx pull` killed while it places the first never
    reaches the second, though it recorded ahead that it was about to place it. That folder
    is not pulled yet, not deleted: no commit records its removal, and no hint offers one."""
    alice = team.founder()
    for i in range(3):
        write(alice / f"data/audio/{i}.wav", f"sound {i}\n")
        write(alice / f"data/imgs/{i}.png", f"image {i}\n")
    must("add", "data/audio", "data/imgs", cwd=alice)
    share(alice, "audio and images")
    imgs = (alice / "data/imgs.dvx").read_text()

    bob = team.clone("bob", pull=False)
    killed = run_dvx_proc("pull", cwd=bob, env={"DVX_FAULT": "checkout.after_file:1"})
    assert killed.code == -9, killed.output
    assert not (bob / "data/imgs").exists()
    assert status_of(bob, "data/imgs")["workspace"] == "not_pulled"
    status = run_dvx("status", cwd=bob).stdout
    assert "data/imgs: not checked out yet" in status and "deleted" not in status, status
    must("commit", cwd=bob)
    refused = run_dvx("commit", "data/imgs", cwd=bob)
    assert refused.code == 2 and "never placed in this workspace" in refused.stderr
    assert "dvx checkout data/imgs" in refused.stderr and "remove" not in refused.stderr
    assert (bob / "data/imgs.dvx").read_text() == imgs
    assert git(bob, "status", "--porcelain") == ""
    must("checkout", cwd=bob)
    assert _tree_of(bob) == _tree_of(alice)


def test_a_checkout_killed_half_way_to_a_new_version_is_outdated_not_a_change(team):
    alice = team.founder()
    _images(alice, {f"{i:02}.png": f"image {i}\n" for i in range(12)})
    must("add", "data/imgs", cwd=alice)
    share(alice, "v1")
    bob = team.clone("bob")
    for i in range(12):
        edit(alice, f"data/imgs/{i:02}.png", f"image {i} v2\n")
    must("add", "data/imgs", cwd=alice)
    share(alice, "v2")
    v2 = pointer_oid(alice / "data/imgs.dvx")

    git(bob, "pull", "-q", "origin", "main")
    must("fetch", cwd=bob)
    killed = run_dvx_proc("checkout", cwd=bob, env={"DVX_FAULT": "checkout.after_file:4"})
    assert killed.code == -9, killed.output
    seen = status_of(bob, "data/imgs")
    assert seen["workspace"] == "outdated" and seen["modified"] == [], seen
    assert 0 < len(seen["outdated"]) < 12
    skipped = run_dvx("commit", cwd=bob)
    assert skipped.code == 0 and pointer_oid(bob / "data/imgs.dvx") == v2
    must("commit", "data/imgs", cwd=bob)  # records the pointer's version, nothing older
    assert pointer_oid(bob / "data/imgs.dvx") == v2
    must("checkout", cwd=bob)
    assert _tree_of(bob) == _tree_of(alice)


@pytest.mark.parametrize("v1, v2", [({"sub/y": "y1\n"}, {"sub/y/in": "in\n"}),
                                    ({"sub/y/in": "y1\n"}, {"sub/y": "yfile\n"})])
def test_an_unfinished_checkout_of_an_older_commit_is_outdated_never_a_teammate_s_deletion(
        team, v1, v2):
    """After partial pulls over two versions (a teammate turned a file into a folder, or a
    folder into a file), a checkout of the older commit that did not finish (an object not
    in the cache) put that file back; with the newer commit checked out again, the
    teammate's path it removed is outdated, not deleted, and commit refuses to record its
    deletion, as when the file's content alone changed."""
    alice = team.founder()
    for rel, text in {**v1, "z": "z1\n"}.items():
        write(alice / "data" / rel, text)
    must("add", "data", cwd=alice)
    share(alice, "v1")
    bob = team.clone("bob", pull=False)
    must("pull", "data/sub", cwd=bob)
    shutil.rmtree(alice / "data" / "sub")
    for rel, text in {**v2, "z": "z2\n"}.items():
        edit(alice, f"data/{rel}", text)
    must("add", "data", cwd=alice)
    share(alice, "v2")
    git(bob, "pull", "-q", "origin", "main")
    must("pull", "data/sub", cwd=bob)
    v2_pointer = (bob / "data.dvx").read_bytes()
    git(bob, "checkout", "-q", "HEAD~1")
    unfinished = run_dvx("checkout", cwd=bob)
    assert unfinished.code == 1 and "Not in the cache" in unfinished.stderr, unfinished.output
    git(bob, "checkout", "-q", "main")
    seen = status_of(bob, "data")
    assert seen["workspace"] == "outdated" and seen["deleted"] == [], seen
    assert sorted(seen["outdated"]) == ["sub/y", "sub/y/in"], seen
    assert "Deleted" not in must("diff", cwd=bob)
    refused = run_dvx("commit", "data", cwd=bob)
    assert refused.code != 0 and "changed in Git" in refused.stderr, refused.output
    assert (bob / "data.dvx").read_bytes() == v2_pointer


def _bob_back_on_v2_after_an_unfinished_checkout_of_v1_pulled_in_part(team):
    """Alice shares v1 (data/a, data/sub/s, data/c/x) and v2 (a changed, b and sub/t added);
    Bob pulls v2 whole, checks out v1 in Git, pulls its data/sub, runs a checkout of the
    whole directory that stops (a1 not in the cache) after it removed b, and returns to v2
    in Git. Returns Bob's clone and his v2 pointer's bytes."""
    alice = team.founder()
    for rel, text in {"a": "a1\n", "sub/s": "s\n", "c/x": "x\n"}.items():
        write(alice / "data" / rel, text)
    must("add", "data", cwd=alice)
    share(alice, "v1")
    for rel, text in {"a": "a2\n", "b": "b\n", "sub/t": "t\n"}.items():
        edit(alice, f"data/{rel}", text)
    must("add", "data", cwd=alice)
    share(alice, "v2")
    bob = team.clone("bob")
    v2_pointer = (bob / "data.dvx").read_bytes()
    git(bob, "checkout", "-q", "HEAD~1")
    must("pull", "data/sub", cwd=bob)
    unfinished = run_dvx("checkout", cwd=bob)
    assert unfinished.code == 1 and "Not in the cache" in unfinished.stderr, unfinished.output
    assert not (bob / "data" / "b").exists()
    return bob, v2_pointer


def _b_is_the_teammate_s_not_a_deletion(bob, v2_pointer):
    """Back on v2 in Git, data/b (removed by the unfinished checkout of v1) is no deletion
    of Bob's: status says it is to be placed, commit leaves the pointer as it is, and a
    checkout puts it back."""
    git(bob, "checkout", "-q", "main")
    seen = status_of(bob, "data")
    assert seen["deleted"] == [] and "b" in seen["not_pulled"] + seen["outdated"], seen
    assert "deleted" not in run_dvx("status", cwd=bob).stdout
    run_dvx("commit", "data", cwd=bob)
    assert (bob / "data.dvx").read_bytes() == v2_pointer
    must("checkout", "data", cwd=bob)
    assert (bob / "data" / "b").read_text() == "b\n"


def test_an_unfinished_checkout_of_a_version_pulled_in_part_never_makes_a_deletion(team):
    """A checkout of the whole directory at the version a partial pull placed part of, that
    did not finish, may have removed any file that version lacks: back on the newer commit,
    the teammate's file it removed is still to be placed, never a deletion commit records."""
    bob, v2_pointer = _bob_back_on_v2_after_an_unfinished_checkout_of_v1_pulled_in_part(team)
    _b_is_the_teammate_s_not_a_deletion(bob, v2_pointer)


def test_a_part_pulled_after_an_unfinished_checkout_never_makes_what_it_removed_a_deletion(
        team):
    """A partial pull that finishes after a checkout of the same version that did not
    leaves what that checkout may have removed still to be placed, never a deletion."""
    bob, v2_pointer = _bob_back_on_v2_after_an_unfinished_checkout_of_v1_pulled_in_part(team)
    shutil.rmtree(bob / "data" / "c", ignore_errors=True)
    must("pull", "data/c", cwd=bob)
    _b_is_the_teammate_s_not_a_deletion(bob, v2_pointer)


def _bob_with_v1_and_v2_of_data(team):
    """Alice shares v1 (data/b/s, data/c/x) and v2 (b/s changed, b/t added); Bob clones it.
    Returns Bob's clone and his v2 pointer."""
    alice = team.founder()
    for rel, text in {"b/s": "s1\n", "c/x": "x\n"}.items():
        write(alice / "data" / rel, text)
    must("add", "data", cwd=alice)
    share(alice, "v1")
    for rel, text in {"b/s": "s2\n", "b/t": "t\n"}.items():
        edit(alice, f"data/{rel}", text)
    must("add", "data", cwd=alice)
    share(alice, "v2")
    bob = team.clone("bob")
    return bob, (bob / "data.dvx").read_bytes()


def _bob_back_on_v2_after_a_checkout_of_two_parts_of_v1_one_unfinished(team, pull_c: bool):
    """Alice shares v1 (data/b/s, data/c/x) and v2 (b/s changed, b/t added); Bob pulls v2
    whole, checks out v1 in Git, pulls its data/c (or only fetches it), runs `dvx checkout
    data/b data/c`, whose data/b stops (s1 not in the cache) after it removed b/t and whose
    data/c finishes, and returns to v2 in Git. Returns Bob's clone and his v2 pointer."""
    bob, v2_pointer = _bob_with_v1_and_v2_of_data(team)
    git(bob, "checkout", "-q", "HEAD~1")
    must("pull" if pull_c else "fetch", "data/c", cwd=bob)  # v1's manifest, and c's files
    unfinished = run_dvx("checkout", "data/b", "data/c", cwd=bob)
    assert unfinished.code == 1 and "Not in the cache" in unfinished.stderr, unfinished.output
    assert not (bob / "data" / "b" / "t").exists()
    git(bob, "checkout", "-q", "main")
    return bob, v2_pointer


@pytest.mark.parametrize("pull_c", [True, False], ids=["part-pulled-before", "fetched-only"])
def test_a_part_finished_beside_an_unfinished_one_never_makes_what_it_removed_a_deletion(
        team, pull_c):
    """One checkout of two parts of a directory, one stopped after it removed a file its
    version lacks and one finished: the finished part never hides what the other may have
    removed. Back on the newer commit, the teammate's file is still to be placed, never a
    deletion commit records."""
    bob, v2_pointer = _bob_back_on_v2_after_a_checkout_of_two_parts_of_v1_one_unfinished(
        team, pull_c)
    seen = status_of(bob, "data")
    assert seen["deleted"] == [] and "b/t" in seen["not_pulled"] + seen["outdated"], seen
    run_dvx("commit", "data", cwd=bob)
    assert (bob / "data.dvx").read_bytes() == v2_pointer
    must("checkout", "data", cwd=bob)
    assert (bob / "data" / "b" / "t").read_text() == "t\n"


def test_an_unfinished_checkout_past_the_versions_kept_warns_and_commit_refuses(team):
    """A checkout of a part that stops, over a record that keeps as many versions as dvx
    tracks, cannot record what it may have removed: it says so, and back on the newer
    commit, commit refuses the directory rather than record a deletion."""
    from dvx.repo import Repo
    from dvx.syncstate import MAX_LAYERS, Synced

    bob, v2_pointer = _bob_with_v1_and_v2_of_data(team)
    git(bob, "checkout", "-q", "HEAD~1")
    must("fetch", "data/c", cwd=bob)  # v1's manifest, not b/s of v1
    repo = Repo(str(bob))
    v1, v2 = _oid_of((bob / "data.dvx").read_bytes()), _oid_of(v2_pointer)
    layer = Synced(v2)
    while layer.depth < MAX_LAYERS - 1:  # parts of v1 and v2 pulled one after another
        layer = Synced(v1, ("c",), layer) if layer.oid == v2 else Synced(v2, ("b",), layer)
    with repo.lock():
        repo.syncstate.record("data", Synced(v1, ("c",), layer))
        repo.syncstate.flush(required=True)
    unfinished = run_dvx("checkout", "data/b", cwd=bob)
    assert unfinished.code == 1 and "Not in the cache" in unfinished.stderr, unfinished.output
    assert not (bob / "data" / "b" / "t").exists()
    assert "'data' now holds parts of more versions than dvx keeps track of" in " ".join(
        unfinished.stderr.split()), unfinished.output
    git(bob, "checkout", "-q", "main")
    assert run_dvx("commit", "data", cwd=bob).code != 0
    assert (bob / "data.dvx").read_bytes() == v2_pointer


def _oid_of(pointer: bytes) -> str:
    return next(line.split(": ")[1] for line in pointer.decode().splitlines()
                if line.startswith("oid: "))


def test_a_checkout_missing_one_object_never_drops_it_from_the_directory(team):
    alice = team.founder()
    _images(alice, {"1.bin": "one\n", "2.bin": "two\n", "3.bin": "three\n"})
    must("add", "data/imgs", cwd=alice)
    share(alice, "three")
    three = (alice / "data/imgs.dvx").read_text()

    bob = team.clone("bob", pull=False)
    must("fetch", cwd=bob)
    lost = next(p for p in (bob / ".dvx/cache/files").rglob("*")
                if p.is_file() and p.read_bytes() == b"three\n")
    lost.unlink()  # as if a teammate's push had left it out
    assert run_dvx("checkout", cwd=bob).code != 0
    write(bob / "data/imgs/4.bin", "four\n")
    seen = status_of(bob, "data/imgs")
    assert (seen["not_pulled"], seen["deleted"], seen["added"]) == (["3.bin"], [], ["4.bin"])
    must("commit", cwd=bob)
    assert "nfiles: 4" in (bob / "data/imgs.dvx").read_text()
    assert (bob / "data/imgs.dvx").read_text() != three


def _six_files(team):
    """alice's directory d of a/, b/ and c/, two files each, shared."""
    alice = team.founder()
    for folder in "abc":
        for i in (1, 2):
            write(alice / "d" / folder / f"{i}.txt", f"{folder}{i} v1\n")
    must("add", "d", cwd=alice)
    share(alice, "v1")
    return alice


def _publish(clone, message: str) -> None:
    must("commit", cwd=clone)
    share(clone, message)


def test_commit_force_after_a_partial_pull_keeps_the_files_never_pulled(team):
    alice = _six_files(team)
    bob = team.clone("bob", pull=False)
    must("pull", "d/a", cwd=bob)
    edit(alice, "d/a/1.txt", "a1 v2\n")
    _publish(alice, "v2")
    git(bob, "pull", "-q", "origin", "main")
    unknown = run_dvx("commit", "--force", "d", cwd=bob)  # v2's manifest is not here yet
    assert unknown.code != 0 and "`dvx fetch d/<a file in it>`" in unknown.stderr
    assert "nfiles: 6" in (bob / "d.dvx").read_text()
    must("fetch", "d/a", cwd=bob)  # the new manifest, and a/'s files
    edit(bob, "d/a/2.txt", "a2 by bob\n")
    must("commit", "d", cwd=bob)  # a1 changed in Git, a2 here: no file changed on both sides
    merged = (bob / "d.dvx").read_text()
    must("commit", "--force", "d", cwd=bob)
    assert (bob / "d.dvx").read_text() == merged and "nfiles: 6" in merged
    share(bob, "bob's a2")
    carol = team.clone("carol")
    assert _tree_of(carol, "d")["a/1.txt"] == "a1 v2\n"
    assert _tree_of(carol, "d")["a/2.txt"] == "a2 by bob\n"


def _bob_pulled_a_of_v2(team) -> tuple[Path, Path]:
    """bob synced v1, then after alice's v2 (a/1.txt and b/1.txt changed) pulled only a/."""
    alice = _six_files(team)
    bob = team.clone("bob")
    edit(alice, "d/a/1.txt", "a1 v2\n")
    edit(alice, "d/b/1.txt", "b1 v2\n")
    _publish(alice, "v2")
    git(bob, "pull", "-q", "origin", "main")
    must("pull", "d/a", cwd=bob)
    return alice, bob


def test_a_second_pointer_move_over_a_partial_pull_is_outdated_not_a_change(team):
    alice, bob = _bob_pulled_a_of_v2(team)
    edit(alice, "d/c/1.txt", "c1 v3\n")
    _publish(alice, "v3")
    git(bob, "pull", "-q", "origin", "main")
    assert status_of(bob, "d")["workspace"] == "outdated"
    skipped = run_dvx("commit", cwd=bob)
    assert skipped.code == 0 and "Not recorded d" in skipped.stderr, skipped.output
    must("pull", cwd=bob)
    assert _tree_of(bob, "d") == _tree_of(alice, "d")


def test_a_checkout_killed_then_a_second_move_keeps_what_it_placed_outdated(team):
    alice = _six_files(team)
    bob = team.clone("bob")
    for rel in ("d/b/1.txt", "d/b/2.txt", "d/c/1.txt", "d/c/2.txt"):
        edit(alice, rel, (alice / rel).read_text() + "v2\n")
    _publish(alice, "v2")
    git(bob, "pull", "-q", "origin", "main")
    killed = run_dvx_proc("pull", cwd=bob, env={"DVX_FAULT": "checkout.after_file:3"})
    assert killed.code == -9, killed.output
    for rel in ("d/a/1.txt", "d/b/1.txt", "d/c/2.txt"):
        edit(alice, rel, (alice / rel).read_text() + "v3\n")
    _publish(alice, "v3")
    git(bob, "pull", "-q", "origin", "main")
    must("pull", "d/a", cwd=bob)
    seen = status_of(bob, "d")
    assert seen["workspace"] == "outdated" and seen["modified"] == [], seen
    must("pull", cwd=bob)
    assert _tree_of(bob, "d") == _tree_of(alice, "d")


def _bob_pulled_a_of_v2_and_deleted_c1(team) -> tuple[Path, Path]:
    """bob synced v1, then after alice's v2 (a/1.txt changed) pulled only a/, and deleted
    c/1.txt himself."""
    alice = _six_files(team)
    bob = team.clone("bob")
    edit(alice, "d/a/1.txt", "a1 v2\n")
    _publish(alice, "v2")
    git(bob, "pull", "-q", "origin", "main")
    must("pull", "d/a", cwd=bob)
    (bob / "d/c/1.txt").unlink()
    return alice, bob


def test_a_deletion_committed_after_a_partial_pull_is_not_undone_later(team):
    alice, bob = _bob_pulled_a_of_v2_and_deleted_c1(team)
    must("commit", cwd=bob)
    share(bob, "c1 out")
    git(alice, "pull", "-q", "origin", "main")
    must("pull", cwd=alice)
    write(alice / "d/c/1.txt", "c1 added again\n")
    edit(alice, "d/a/2.txt", "a2 v4\n")
    _publish(alice, "v4")
    git(bob, "pull", "-q", "origin", "main")
    must("pull", "d/a", cwd=bob)
    seen = status_of(bob, "d")
    assert seen["not_pulled"] == ["c/1.txt"] and seen["deleted"] == [], seen
    must("commit", cwd=bob)
    assert "nfiles: 6" in (bob / "d.dvx").read_text()


def _bob_edited_part_of_d_after_alice_changed_it(team) -> tuple[Path, Path, str]:
    """bob pulled only a/ and b/ of v1; alice changed a/1.txt and deleted a/2.txt (v2); bob
    changed b/1.txt, then `git pull`ed v2 and fetched it, without checking it out: (alice,
    bob, the oid of v1, which bob's workspace was synced to)."""
    alice = _six_files(team)
    v1 = pointer_oid(alice / "d.dvx")
    bob = team.clone("bob", pull=False)
    must("pull", "d/a", "d/b", cwd=bob)
    edit(alice, "d/a/1.txt", "a1 v2\n")
    (alice / "d/a/2.txt").unlink()
    _publish(alice, "v2")
    edit(bob, "d/b/1.txt", "b1 by bob\n")
    git(bob, "pull", "-q", "origin", "main")
    must("fetch", "d", cwd=bob)
    return alice, bob, v1


def _commit_keeps_alice_s_change_and_bob_s(team, bob) -> None:
    seen = status_of(bob, "d")
    assert (seen["modified"], seen["added"], sorted(seen["outdated"])) == (
        ["b/1.txt"], [], ["a/1.txt", "a/2.txt"]), seen
    must("commit", "d", cwd=bob)
    share(bob, "bob's b1")
    carol = team.clone("carol")
    assert _tree_of(carol, "d") == {
        "a/1.txt": "a1 v2\n", "b/1.txt": "b1 by bob\n", "b/2.txt": "b2 v1\n",
        "c/1.txt": "c1 v1\n", "c/2.txt": "c2 v1\n"}


def test_gc_keeps_the_manifest_of_the_version_a_partly_pulled_directory_was_synced_to(team):
    """Without it, the files alice changed in the part bob pulled could not be told from
    his own change; only the manifest is kept, not the files of that version."""
    _, bob, v1 = _bob_edited_part_of_d_after_alice_changed_it(team)
    must("gc", "-w", "-f", "--grace", "0", cwd=bob)
    cache = bob / ".dvx/cache/files/xxh128"
    assert (cache / v1[:2] / v1[2:]).is_file()
    a1_v1 = xxhash.xxh3_128_hexdigest(b"a1 v1\n")  # in no version the workspace uses
    assert not (cache / a1_v1[:2] / a1_v1[2:]).exists()
    _commit_keeps_alice_s_change_and_bob_s(team, bob)


def test_a_commit_that_keeps_outdated_files_as_in_the_pointer_s_version_says_so(team):
    """alice changed a/1.txt and deleted a/2.txt: the one is recorded as her version has
    it, the other left out, each said as it is."""
    _, bob, _ = _bob_edited_part_of_d_after_alice_changed_it(team)
    committed = run_dvx("commit", "d", cwd=bob)
    assert committed.code == 0, committed.output
    assert ("d/a/1.txt: recorded as in the pointer's version, where the workspace holds the "
            "older version synced here before the pointer changed (`dvx checkout d` places "
            "the pointer's)") in committed.stdout, committed.output
    assert ("d/a/2.txt: left out, as the pointer's version deleted it, where the workspace "
            "holds the older version synced here before the pointer changed (`dvx checkout "
            "d` deletes it)") in committed.stdout, committed.output
    assert "Recorded" not in committed.stderr
    assert json.loads(run_dvx("commit", "d", "--json", cwd=bob).stdout)["added"][0][
        "deleted_in_pointer"] == ["d/a/2.txt"]
    must("checkout", "d", cwd=bob)
    assert not (bob / "d/a/2.txt").exists()


def test_a_commit_leaves_unread_the_outdated_files_whose_version_gc_took_and_says_so(team):
    """Read, their bytes would be stored again and named by nothing: a checkout would then
    replace them, and the next gc delete them."""
    _, bob, _ = _bob_edited_part_of_d_after_alice_changed_it(team)
    must("gc", "-w", "-f", "--grace", "0", cwd=bob)
    committed = run_dvx("commit", "d", cwd=bob)
    assert committed.code == 0, committed.output
    assert ("Recorded d/a/1.txt as in the pointer's version, not as the workspace holds "
            "it") in committed.stderr, committed.output
    assert ("Left d/a/2.txt out of the record, as the pointer's version deleted it, rather "
            "than record it as the workspace holds it") in committed.stderr, committed.output
    assert "`dvx pull d` deletes it if the remote holds that version" in committed.stderr
    assert "`dvx commit --force d` records it" in committed.stderr
    assert not _cached(bob, "a1 v1\n") and not _cached(bob, "a2 v1\n")
    assert "2 files hold a version no longer in the cache" in run_dvx("status", cwd=bob).stdout
    assert run_dvx("checkout", "d", cwd=bob).code == 1
    assert (bob / "d/a/1.txt").read_text() == "a1 v1\n"
    must("pull", "d", cwd=bob)  # the remote holds their older versions, as the hint says
    assert (bob / "d/a/1.txt").read_text() == "a1 v2\n" and not (bob / "d/a/2.txt").exists()


def test_without_the_manifest_it_was_synced_to_commit_refuses_and_names_how_to_fetch_it(
        team):
    """The manifest deleted by hand: which files bob changed cannot be told, so none is
    called a change of his, nor is `commit --force` offered, which would undo alice's."""
    _, bob, v1 = _bob_edited_part_of_d_after_alice_changed_it(team)
    (bob / ".dvx/cache/files/xxh128" / v1[:2] / v1[2:]).unlink()
    shown = run_dvx("status", cwd=bob).stdout
    assert ("d: its pointer changed in Git, and which of its files changed here is unknown "
            "(the version it was synced to is no longer in the cache)") in shown, shown
    assert "modified:" not in shown and "--force" not in shown
    refused = run_dvx("commit", "d", cwd=bob)
    assert refused.code == 1, refused.output
    assert f"the version it was synced to ({v1}) is no longer in the cache" in refused.stderr
    assert "changed both here and in Git" not in refused.stderr
    assert "--force" not in refused.stderr
    fetch = re.search(r"Fetch that version again with `(dvx fetch --rev \S+ d/a d/b)`",
                      refused.stderr)
    assert fetch is not None, refused.stderr
    assert fetch.group(1) in shown
    assert "nfiles: 5" in (bob / "d.dvx").read_text()  # v2's, as alice recorded it
    must(*shlex.split(fetch.group(1))[1:], cwd=bob)
    _commit_keeps_alice_s_change_and_bob_s(team, bob)


def test_a_file_added_to_a_partly_pulled_directory_can_be_deleted_later(team):
    _six_files(team)
    bob = team.clone("bob", pull=False)
    must("pull", "d/a", cwd=bob)
    write(bob / "d/b/new.txt", "mine\n")
    must("commit", cwd=bob)
    assert "nfiles: 7" in (bob / "d.dvx").read_text()
    (bob / "d/b/new.txt").unlink()
    assert status_of(bob, "d")["deleted"] == ["b/new.txt"]
    must("commit", cwd=bob)
    assert "nfiles: 6" in (bob / "d.dvx").read_text()
    (bob / ".dvx/tmp/synced.json").unlink()  # without the record: nothing counts as placed
    seen = status_of(bob, "d")
    assert (seen["deleted"], len(seen["not_pulled"])) == ([], 4), seen


@pytest.mark.parametrize("command", ["commit", "add"])
def test_a_file_put_in_a_directory_never_pulled_keeps_the_teammate_s_files(team, command):
    """carol never pulled d, then put a file of her own in it: no checkout placed alice's
    files there, so they are not pulled, never deletions her commit would record."""
    alice = _six_files(team)
    carol = team.clone("carol", pull=False)
    write(carol / "d/b/new.txt", "carol's\n")
    refused = run_dvx(command, "d", cwd=carol)  # d's manifest was never fetched here
    assert refused.code == 1 and "`dvx fetch d/<a file in it>`" in refused.stderr, \
        refused.output
    assert "nfiles: 6" in (carol / "d.dvx").read_text()
    diff = json.loads(must("diff", "--json", cwd=carol))
    assert ([a["path"] for a in diff["added"]], diff["deleted"]) == (["d/b/new.txt"], [])
    must("fetch", "d/a/1.txt", cwd=carol)
    seen = status_of(carol, "d")
    assert (seen["added"], seen["deleted"], len(seen["not_pulled"])) == (
        ["b/new.txt"], [], 6), seen
    must(command, "d", cwd=carol)
    assert "nfiles: 7" in (carol / "d.dvx").read_text()
    assert len(status_of(carol, "d")["not_pulled"]) == 6
    share(carol, "carol's file")
    must("pull", cwd=carol)
    git(alice, "pull", "-q", "origin", "main")
    must("pull", cwd=alice)
    assert _tree_of(alice, "d") == _tree_of(carol, "d")
    assert _tree_of(alice, "d")["b/new.txt"] == "carol's\n"
    assert len(_tree_of(alice, "d")) == 7


@pytest.mark.parametrize("command", ["commit", "add"])
def test_a_teammate_s_pointer_git_pull_brings_over_data_of_yours_is_changed_on_both_sides(
        team, command):
    """bob tracked data/raw and pushed it; alice had a folder data/raw of her own, never
    added. `git pull` brings bob's pointer over it: no dvx placed her files, so a file both
    hold that differs changed both here and in Git, as in a synced folder. status says so,
    and commit and add refuse it without --force (which keeps bob's file alice lacks)."""
    team.founder("bob")
    alice = team.clone("alice")
    bob = team.base / "bob"
    write(bob / "data/raw/b1", "bob1\n")
    write(bob / "data/raw/s", "shared-bob\n")
    write(bob / "f.csv", "bob's\n")
    must("add", "data/raw", "f.csv", cwd=bob)
    share(bob, "bob: data/raw")
    write(alice / "data/raw/a1", "alice1\n")
    write(alice / "data/raw/s", "shared-alice\n")
    write(alice / "f.csv", "alice's\n")
    git(alice, "pull", "-q", "origin", "main")
    must("fetch", cwd=alice)
    seen = status_of(alice, "data/raw")
    assert (seen["workspace"], seen["brought_over_own"], seen["added"], seen["modified"],
            seen["not_pulled"]) == ("modified", True, ["a1"], ["s"], ["b1"]), seen
    assert status_of(alice, "f.csv")["brought_over_own"] is True
    text = run_dvx("status", cwd=alice).stdout
    assert "data/raw: modified, and its pointer changed in Git, over data of yours" in text
    assert "(changed both here and in Git: `dvx commit --force PATH` keeps yours" in text
    for path in ("data/raw", "f.csv"):
        refused = run_dvx(command, path, cwd=alice)
        assert refused.code == 1 and "changed both here and in Git" in refused.stderr \
            and f"`dvx commit --force {path}`" in refused.stderr, refused.output
    assert git(alice, "status", "--porcelain") == ""  # bob's pointers stand
    must("commit", "--force", "data/raw", cwd=alice)
    must("checkout", "data/raw", cwd=alice)
    assert _tree_of(alice, "data/raw") == {"a1": "alice1\n", "b1": "bob1\n",
                                           "s": "shared-alice\n"}


def test_files_put_in_a_fresh_clone_s_folder_never_pulled_are_yours_to_record(team):
    """carol cloned with d.dvx in it and put her own d/s there, never pulling: Git brought
    no pointer over it (HEAD recorded d.dvx all along), so commit records her file."""
    alice = team.founder()
    write(alice / "d/s", "alice's\n")
    must("add", "d", cwd=alice)
    share(alice, "d")
    carol = team.clone("carol", pull=False)
    write(carol / "d/s", "carol's\n")
    must("fetch", cwd=carol)
    assert status_of(carol, "d")["brought_over_own"] is False
    must("commit", "d", cwd=carol)
    assert _tree_of(carol, "d") == {"s": "carol's\n"}
    assert status_of(carol, "d")["workspace"] == "unchanged"


@pytest.mark.parametrize("link", ["hardlink", "symlink"])
def test_a_teammate_s_executable_bit_arrives_in_a_linked_workspace(team, link):
    import os
    import stat

    alice = _six_files(team)
    write(alice / "tool.sh", "#!/bin/sh\n")
    must("add", "tool.sh", cwd=alice)
    share(alice, "tool")
    bob = team.clone("bob", pull=False)
    must("config", "--local", "cache.type", link, cwd=bob)
    must("pull", cwd=bob)
    for rel in ("d/a/1.txt", "tool.sh"):
        os.chmod(alice / rel, 0o755)
    must("add", "d", "tool.sh", cwd=alice)
    share(alice, "executable")
    git(bob, "pull", "-q", "origin", "main")
    assert status_of(bob, "tool.sh")["workspace"] == "outdated"  # a link is never executable
    must("pull", cwd=bob)
    for rel in ("d/a/1.txt", "tool.sh"):
        mode = os.stat(bob / rel).st_mode
        assert mode & stat.S_IXUSR and not (bob / rel).is_symlink(), rel
    assert json.loads(run_dvx("status", "--json", cwd=bob).stdout)["changed"] is False
    must("commit", cwd=bob)
    assert git(bob, "status", "--porcelain") == ""  # nothing undone


def test_a_teammate_s_executable_bit_alone_is_outdated_and_never_undone(team):
    import os

    alice = team.founder()
    write(alice / "run.sh", "#!/bin/sh\necho hi\n")
    os.chmod(alice / "run.sh", 0o755)
    must("add", "run.sh", cwd=alice)
    share(alice, "add")
    bob = team.clone("bob")
    os.chmod(alice / "run.sh", 0o644)
    must("commit", cwd=alice)
    share(alice, "not executable")

    git(bob, "pull", "-q", "origin", "main")
    assert status_of(bob, "run.sh")["workspace"] == "outdated"
    skipped = run_dvx("commit", cwd=bob)
    assert skipped.code == 0 and "Not recorded run.sh" in skipped.stderr
    for args in (("commit", "run.sh"), ("add", "run.sh")):
        refused = run_dvx(*args, cwd=bob)
        assert refused.code == 1 and "executable bit" in refused.stderr, refused.output
    assert git(bob, "status", "--porcelain") == ""  # alice's change stands
    must("checkout", cwd=bob)
    assert not os.stat(bob / "run.sh").st_mode & 0o111
    assert status_of(bob, "run.sh")["workspace"] == "unchanged"

    os.chmod(alice / "run.sh", 0o755)
    must("commit", cwd=alice)
    share(alice, "executable again")
    edit(bob, "run.sh", "#!/bin/sh\necho bob\n")  # changed here too
    git(bob, "pull", "-q", "origin", "main")
    assert "changed both here and in Git" in run_dvx("status", cwd=bob).stdout
    refused = run_dvx("commit", cwd=bob)
    assert refused.code == 1 and "executable bit" in refused.stderr, refused.output

    record = json.loads((bob / ".dvx/tmp/synced.json").read_text())
    del record["outputs"]["run.sh"]["exec"]  # as a version without the bit wrote it
    (bob / ".dvx/tmp/synced.json").write_text(json.dumps(record))
    edit(bob, "run.sh", "#!/bin/sh\necho hi\n")
    assert status_of(bob, "run.sh")["workspace"] == "modified"  # workspace against pointer


def test_a_directory_pulled_part_by_part_version_after_version_stays_one_record(team):
    alice = _six_files(team)
    bob = team.clone("bob")
    for version in range(2, 11):
        edit(alice, "d/a/1.txt", f"a1 v{version}\n")
        edit(alice, "d/b/1.txt", f"b1 v{version}\n")
        _publish(alice, f"v{version}")
        git(bob, "pull", "-q", "origin", "main")
        for part in ("d/a", "d/b", "d/c"):
            must("pull", part, cwd=bob)
    record = json.loads((bob / ".dvx/tmp/synced.json").read_text())["outputs"]["d"]
    assert "base" not in record and "placed" not in record  # whole again, each time
    edit(bob, "d/c/2.txt", "c2 by bob\n")
    must("commit", cwd=bob)  # a plain change of bob's: no conflict
    share(bob, "c2")
    carol = team.clone("carol")
    assert (carol / "d/a/1.txt").read_text() == "a1 v10\n"
    assert (carol / "d/c/2.txt").read_text() == "c2 by bob\n"


def test_a_full_pull_skipping_only_edits_made_here_leaves_one_record_past_the_limit(team):
    """Past the versions a record keeps (partial pulls after each `git pull`), a full pull
    that skips only bob's own edit (the pointer kept what was placed there) leaves one whole
    record: his edit is a change of his, committed beside all of alice's."""
    alice = _six_files(team)
    bob = team.clone("bob")
    edit(bob, "d/c/2.txt", "c2 by bob\n")
    for version in range(2, 12):
        edit(alice, "d/a/1.txt", f"a1 v{version}\n")
        edit(alice, "d/b/1.txt", f"b1 v{version}\n")
        _publish(alice, f"v{version}")
        git(bob, "pull", "-q", "origin", "main")
        run_dvx("pull", "d/b", cwd=bob)
    pulled = run_dvx("pull", "d", cwd=bob)
    assert pulled.code == 1 and "Skipped d/c/2.txt" in pulled.stderr, pulled.output
    record = json.loads((bob / ".dvx/tmp/synced.json").read_text())["outputs"]["d"]
    assert "base" not in record and "placed" not in record, record
    seen = status_of(bob, "d")
    assert (seen["workspace"], seen["modified"]) == ("modified", ["c/2.txt"]), seen
    seen_by_carol = _committed_shared_and_cloned(team, bob, "bob's c2")
    assert seen_by_carol["a/1.txt"] == "a1 v11\n" and seen_by_carol["c/2.txt"] == "c2 by bob\n"


def _committed_shared_and_cloned(team, who, message: str) -> dict[str, str]:
    """`who` commits d and shares it; d's files as a new clone (carol's) pulls them."""
    must("commit", "d", cwd=who)
    share(who, message)
    return _tree_of(team.clone("carol"), "d")


def test_a_full_pull_skipping_a_file_changed_on_both_sides_keeps_it_a_conflict(team):
    _, bob = _bob_pulled_a_of_v2(team)
    edit(bob, "d/b/1.txt", "b1 by bob\n")  # alice changed it in v2 too
    skipped = run_dvx("pull", "d", cwd=bob)
    assert skipped.code == 1 and "Skipped d/b/1.txt" in skipped.stderr, skipped.output
    refused = run_dvx("commit", "d", cwd=bob)
    assert refused.code == 1 and "'b/1.txt' was changed here, and in Git" in refused.stderr


def test_switching_branches_with_an_edit_in_the_way_keeps_the_record_small(team):
    alice = _six_files(team)
    must("install", cwd=alice)
    git(alice, "add", "-A")
    git(alice, "commit", "-qm", "hooks")
    git(alice, "checkout", "-q", "-b", "other")
    edit(alice, "d/a/1.txt", "a1 on other\n")
    must("commit", cwd=alice)
    git(alice, "commit", "-qam", "other")
    git(alice, "checkout", "-q", "main")
    edit(alice, "d/c/2.txt", "c2 edited, not committed\n")  # skipped by every checkout
    for _ in range(10):
        git(alice, "checkout", "-q", "other")
        git(alice, "checkout", "-q", "main")
    record = json.loads((alice / ".dvx/tmp/synced.json").read_text())["outputs"]["d"]
    depth = 0
    while record is not None:
        depth, record = depth + 1, record.get("base")
    assert depth <= 3
    must("commit", cwd=alice)
    assert (alice / "d/a/1.txt").read_text() == "a1 v1\n"


def test_commit_force_after_another_git_pull_keeps_only_bob_s_own_changes(team):
    alice, bob = _bob_pulled_a_of_v2(team)
    edit(bob, "d/a/2.txt", "a2 by bob\n")
    edit(alice, "d/a/2.txt", "a2 v3\n")  # the same file: a conflict bob settles with --force
    edit(alice, "d/c/1.txt", "c1 v3\n")
    _publish(alice, "v3")
    git(bob, "pull", "-q", "origin", "main")
    must("fetch", "d/a", cwd=bob)
    assert run_dvx("commit", "d", cwd=bob).code == 1
    must("commit", "--force", "d", cwd=bob)
    share(bob, "bob's a2")
    carol = team.clone("carol")
    assert _tree_of(carol, "d") == {  # bob's a2; alice's b1 (v2) and c1 (v3) are not undone
        "a/1.txt": "a1 v2\n", "a/2.txt": "a2 by bob\n", "b/1.txt": "b1 v2\n",
        "b/2.txt": "b2 v1\n", "c/1.txt": "c1 v3\n", "c/2.txt": "c2 v1\n"}


def _alice_s_change(alice) -> None:
    """In d/a: a/1.txt edited, a/3.txt deleted, a/4.txt added."""
    edit(alice, "d/a/1.txt", "a1 by alice\n")
    (alice / "d/a/3.txt").unlink()
    write(alice / "d/a/4.txt", "a4 by alice\n")
    _publish(alice, "alice's change")


@pytest.mark.parametrize("pulled", ["d/a", None])
def test_after_git_pull_a_commit_records_the_files_changed_here_and_keeps_git_s(team, pulled):
    """Pulled in part (d/a) or whole, bob edits a/2.txt while alice changes other files of
    d/a: status tells her changes from his, and commit (with or without --force) records his
    edit beside all of hers, a file she added that was never here included."""
    alice = team.founder()
    for name in ("a/1.txt", "a/2.txt", "a/3.txt", "b/1.txt"):
        write(alice / "d" / name, f"{name} v1\n")
    must("add", "d", cwd=alice)
    share(alice, "v1")
    bob = team.clone("bob", pull=False)
    must("pull", *([pulled] if pulled else []), cwd=bob)
    _alice_s_change(alice)
    git(bob, "pull", "-q", "origin", "main")
    must("fetch", cwd=bob)
    edit(bob, "d/a/2.txt", "a2 by bob\n")
    seen = status_of(bob, "d")
    assert (seen["workspace"], seen["modified"], seen["added"], seen["deleted"]) == (
        "modified", ["a/2.txt"], [], []), seen
    assert seen["outdated"] == ["a/1.txt", "a/3.txt"] and "a/4.txt" in seen["not_pulled"]
    assert seen["synced_oid"] is None  # nothing changed on both sides
    must("commit", "--force", "d", cwd=bob)
    merged = (bob / "d.dvx").read_text()
    must("commit", cwd=bob)
    must("commit", "d", cwd=bob)
    assert (bob / "d.dvx").read_text() == merged
    share(bob, "bob's a2")
    carol = team.clone("carol")
    assert _tree_of(carol, "d") == {"a/1.txt": "a1 by alice\n", "a/2.txt": "a2 by bob\n",
                                    "a/4.txt": "a4 by alice\n", "b/1.txt": "b/1.txt v1\n"}
    must("pull", cwd=bob)
    assert _tree_of(bob, "d") == _tree_of(carol, "d")


def test_a_file_changed_on_both_sides_is_named_and_force_keeps_only_it_from_here(team):
    alice = _six_files(team)
    bob = team.clone("bob")
    edit(alice, "d/a/1.txt", "a1 by alice\n")
    edit(alice, "d/b/1.txt", "b1 by alice\n")
    _publish(alice, "alice's change")
    git(bob, "pull", "-q", "origin", "main")
    must("fetch", cwd=bob)
    edit(bob, "d/a/1.txt", "a1 by bob\n")  # the same file as alice
    edit(bob, "d/c/1.txt", "c1 by bob\n")
    seen = status_of(bob, "d")
    assert seen["workspace"] == "modified" and seen["synced_oid"] is not None, seen
    assert "changed both here and in Git" in run_dvx("status", cwd=bob).stdout
    for args in (("commit",), ("commit", "d")):
        refused = run_dvx(*args, cwd=bob)
        assert refused.code == 1, refused.output
        assert "its file 'a/1.txt' was changed here, and in Git" in refused.stderr
        assert "`dvx checkout --force d/a/1.txt`" in refused.stderr
    must("commit", "--force", "d", cwd=bob)
    share(bob, "bob's a1 and c1")
    carol = team.clone("carol")
    assert _tree_of(carol, "d") == {
        "a/1.txt": "a1 by bob\n", "a/2.txt": "a2 v1\n", "b/1.txt": "b1 by alice\n",
        "b/2.txt": "b2 v1\n", "c/1.txt": "c1 by bob\n", "c/2.txt": "c2 v1\n"}


def test_a_directory_changed_here_and_in_git_asks_for_the_new_manifest_first(team):
    """After `git pull` without a fetch, which of bob's changes are his cannot be told: he is
    told to fetch, never offered a --force that fails or discards his edit."""
    alice = _six_files(team)
    bob = team.clone("bob")
    edit(alice, "d/a/1.txt", "a1 by alice\n")
    _publish(alice, "alice's change")
    git(bob, "pull", "-q", "origin", "main")
    edit(bob, "d/c/1.txt", "c1 by bob\n")
    shown = run_dvx("status", cwd=bob).stdout
    assert "`dvx fetch d`" in shown and "--force" not in shown, shown
    for args in (("commit",), ("commit", "d")):
        refused = run_dvx(*args, cwd=bob)
        assert refused.code != 0 and "`dvx fetch d`" in refused.stderr, refused.output
        assert "--force" not in refused.stderr
    must("fetch", "d", cwd=bob)
    seen_by_carol = _committed_shared_and_cloned(team, bob, "bob's c1")
    assert seen_by_carol["a/1.txt"] == "a1 by alice\n"
    assert seen_by_carol["c/1.txt"] == "c1 by bob\n"


def test_a_file_git_deleted_and_changed_here_is_refused_with_advice_to_delete_it(team):
    alice = _six_files(team)
    bob = team.clone("bob")
    (alice / "d/a/1.txt").unlink()
    edit(alice, "d/b/1.txt", "b1 by alice\n")
    _publish(alice, "alice's change")
    git(bob, "pull", "-q", "origin", "main")
    must("fetch", cwd=bob)
    edit(bob, "d/a/1.txt", "a1 by bob\n")  # the file alice deleted
    edit(bob, "d/b/1.txt", "b1 by bob\n")  # the file alice changed
    edit(bob, "d/c/1.txt", "c1 by bob\n")
    refused = run_dvx("commit", "d", cwd=bob)
    assert refused.code == 1, refused.output
    assert "`dvx checkout --force d/b/1.txt`" in refused.stderr
    assert "`rm d/a/1.txt`" in refused.stderr and "--force d/a/1.txt" not in refused.stderr
    must("checkout", "--force", "d/b/1.txt", cwd=bob)  # as advised
    (bob / "d/a/1.txt").unlink()
    must("commit", "d", cwd=bob)
    share(bob, "bob's c1")
    carol = team.clone("carol")
    assert _tree_of(carol, "d") == {
        "a/2.txt": "a2 v1\n", "b/1.txt": "b1 by alice\n", "b/2.txt": "b2 v1\n",
        "c/1.txt": "c1 by bob\n", "c/2.txt": "c2 v1\n"}


def test_data_whose_pointer_left_git_is_removed_when_in_the_cache_else_named(team):
    """As Git removes a file the new commit lacks: a branch switch or a teammate's `dvx move`
    takes the pointer away, and the data it named must not stay behind unignored, where
    `git add -A` would put it into Git. Changed data stays, named by status."""
    alice = team.founder()
    git(alice, "checkout", "-q", "-b", "feature")
    write(alice / "secret.csv", "secret\n")
    write(alice / "images/a.png", "a")
    write(alice / "notes.csv", "notes v1\n")
    must("add", "secret.csv", "images", "notes.csv", cwd=alice)
    share(alice, "data on a branch")
    git(alice, "checkout", "-q", "main")
    doc = json.loads(run_dvx("status", "--json", cwd=alice).stdout)
    assert {e["path"] for e in doc["left_behind"]} == {"secret.csv", "images", "notes.csv"}
    assert doc["changed"] and run_dvx("status", "-q", cwd=alice).code == 1
    edit(alice, "notes.csv", "my own edit\n")
    done = run_dvx("checkout", cwd=alice)
    assert done.code == 0 and "2 removed" in done.stdout, done.output
    assert "notes.csv: its pointer is no longer in Git" in done.stderr
    assert not (alice / "secret.csv").exists() and not (alice / "images").exists()
    assert (alice / "notes.csv").read_text() == "my own edit\n"
    assert "notes.csv: no longer tracked" in run_dvx("status", cwd=alice).stdout
    (alice / "notes.csv").unlink()
    assert run_dvx("status", "-q", cwd=alice).code == 0
    git(alice, "checkout", "-q", "feature")  # and back: all of it from the cache
    must("checkout", cwd=alice)
    assert (alice / "secret.csv").read_text() == "secret\n"

    # A teammate's `dvx move`, pulled: the old place goes, the new one comes.
    bob = team.clone("bob")
    git(bob, "checkout", "-q", "feature")
    must("pull", cwd=bob)
    must("move", "images", "pictures", cwd=bob)
    share(bob, "renamed")
    git(alice, "pull", "-q", "origin", "feature")
    must("pull", cwd=alice)
    assert not (alice / "images").exists()
    assert (alice / "pictures/a.png").read_text() == "a"
    assert git(alice, "status", "--porcelain") == ""

    # A pointer deleted by hand (Git still has it) is not Git's doing: the data stays.
    (alice / "secret.csv.dvx").unlink()
    must("checkout", cwd=alice)
    assert (alice / "secret.csv").read_text() == "secret\n"


def test_data_whose_pointer_git_clean_deleted_is_named_as_git_still_ignores_it(repo, dvx):
    """`git clean -fd` deletes a pointer never committed and keeps the .gitignore entry that
    was: the data stays, named by status, which says that Git no longer ignores it only
    once Git's rules no longer do."""
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "init")
    write(repo / "new.bin", "data\n")
    assert dvx("add", "new.bin").code == 0
    git(repo, "add", ".gitignore")
    git(repo, "commit", "-qm", "ignore")
    git(repo, "clean", "-qfd")
    assert not (repo / "new.bin.dvx").exists() and (repo / "new.bin").exists()
    said = dvx("status").stdout
    assert "new.bin: no longer tracked" in said, said
    assert "(delete what you no longer need, or `dvx add` it again)" in said
    assert "no longer ignores" not in said
    left = json.loads(dvx("status", "--json").stdout)["left_behind"]
    assert [(e["path"], e["ignored_by_git"]) for e in left] == [("new.bin", True)]
    write(repo / ".gitignore", "")  # now Git would take it
    assert "`dvx add` it again: Git no longer ignores it)" in dvx("status").stdout
    left = json.loads(dvx("status", "--json").stdout)["left_behind"]
    assert [(e["path"], e["ignored_by_git"]) for e in left] == [("new.bin", False)]


@pytest.mark.parametrize("refspec", [None, "+refs/heads/*:refs/up/origin/*"],
                         ids=["refs/remotes", "elsewhere"])
def test_gc_all_branches_keeps_a_fetched_teammate_branch_on_the_remote(team, refspec):
    """A teammate's branch a fetch brought is in use wherever the fetch refspec stored it:
    under refs/remotes/ (origin/feature), or elsewhere (refs/up/origin/feature), where
    gc --remote's check that this clone fetched it finds it too."""
    alice = team.founder()
    if refspec:
        git(alice, "config", "remote.origin.fetch", refspec)
    write(alice / "base.csv", "base\n")
    must("add", "base.csv", cwd=alice)
    share(alice, "base")
    bob = team.clone("bob")
    git(bob, "checkout", "-q", "-b", "feature")
    write(bob / "feat.csv", "feat\n")
    must("add", "feat.csv", cwd=bob)
    share(bob, "feature data")
    git(alice, "fetch", "-q", "origin")  # origin/feature: in use, though not a local branch
    for where in ((), ("--remote", "shared")):
        must("gc", "--all-branches", *where, "-f", "--grace", "0", cwd=alice)
    carol = team.clone("carol", pull=False)
    git(carol, "checkout", "-q", "feature")
    must("pull", cwd=carol)
    assert (carol / "feat.csv").read_text() == "feat\n"


def test_fetch_all_branches_brings_what_gc_all_branches_keeps(team):
    """gc -a keeps a teammate's branch that a `git fetch` brought (origin/feature); without
    its directory's manifest it deletes nothing and says that a fetch with the same -a
    brings it: `dvx fetch -a` reads the same branches, so it does."""
    alice = team.founder()
    bob = team.clone("bob")
    git(bob, "checkout", "-q", "-b", "feature")
    write(bob / "imgs" / "a.png", "a\n")
    must("add", "imgs", cwd=bob)
    share(bob, "feature data")
    git(alice, "fetch", "-q", "origin")
    refused = run_dvx("gc", "-a", "-f", "--grace", "0", cwd=alice)
    said = " ".join(refused.stderr.split())
    assert refused.code == 1 and "imgs (in " in said, refused.output
    assert "a `dvx fetch` with the same -a/-T/-A/--rev options fetches every manifest" in said
    fetched = run_dvx("fetch", "-a", cwd=alice)
    assert fetched.code == 0 and "Fetched 2 objects" in fetched.stdout, fetched.output
    assert run_dvx("status", "-c", "-a", cwd=alice).code == 0
    assert run_dvx("push", "-a", cwd=alice).code == 0  # what the cache holds of it: there
    must("gc", "-a", "-f", "--grace", "0", cwd=alice)


def test_push_all_branches_sends_this_clone_s_branches_not_a_teammate_s(team, tmp_path):
    """`push -a` to a second remote: a teammate's branch a `git fetch` brought is theirs to
    push (its data is on their remote, in no cache of this clone); this clone's own
    branches go, and the push succeeds."""
    alice = team.founder()
    bob = team.clone("bob")
    git(alice, "checkout", "-q", "-b", "feature")
    write(alice / "y", "alice's feature\n")
    must("add", "y", cwd=alice)
    share(alice, "feature data")
    git(bob, "fetch", "-q", "origin")
    write(bob / "z", "bob's\n")
    must("add", "z", cwd=bob)
    commit(bob, "z")
    must("remote", "add", "mirror", str(tmp_path / "mirror"), cwd=bob)
    pushed = run_dvx("push", "-a", "-r", "mirror", cwd=bob)
    assert pushed.code == 0, pushed.output
    assert run_dvx("status", "-c", "-r", "mirror", "z", cwd=bob).code == 0
    in_sync = run_dvx("status", "-c", "-a", "-r", "mirror", cwd=bob)  # what push -a sends
    assert in_sync.code == 0 and "push" not in in_sync.output, in_sync.output


def _cached(clone, content: str) -> bool:
    oid = xxhash.xxh3_128_hexdigest(content.encode())
    return (clone / ".dvx/cache/files/xxh128" / oid[:2] / oid[2:]).is_file()


def _alice_s_added_version_collected(team, tracked: str, then_checkout: bool
                                     ) -> tuple[Path, str]:
    """alice adds "precious v1" to `tracked` (d/2 of a directory, or the file x) over the
    shared v0, (checks out,) puts the pointer back with git, and runs a gc, which deletes the
    bytes no commit named: (alice, the path holding them)."""
    alice = team.founder()
    path = "d/2" if tracked == "d" else "x"
    write(alice / path, "v0\n")
    if tracked == "d":
        write(alice / "d/1", "same\n")
    must("add", tracked, cwd=alice)
    share(alice, "v0")
    edit(alice, path, "precious v1\n")
    must("add", tracked, cwd=alice)
    if then_checkout:
        must("checkout", cwd=alice)
    git(alice, "checkout", "--", f"{tracked}.dvx")
    must("gc", "-w", "-f", "--grace", "0", cwd=alice)
    assert not _cached(alice, "precious v1\n")
    return alice, path


@pytest.mark.parametrize("then_checkout", [False, True], ids=["added", "added-checked-out"])
@pytest.mark.parametrize("tracked", ["d", "x"], ids=["directory", "file"])
def test_a_version_only_added_whose_pointer_git_put_back_is_kept_after_gc(
        team, tracked, then_checkout):
    """alice adds a new version, (checks out,) then puts the pointer back with git: no commit
    named that version, so gc deletes its bytes, and checkout and pull keep the file."""
    alice, path = _alice_s_added_version_collected(team, tracked, then_checkout)
    for command, why in (("checkout", "is no longer in the cache"),
                         ("pull", "is neither in the cache nor on the remote")):
        refused = run_dvx(command, cwd=alice)
        assert refused.code == 1, refused.output
        assert f"Skipped {path}: the version it holds" in refused.stderr
        assert why in refused.stderr
        assert f"`dvx add --force {tracked}` records it again" in refused.stderr
        assert (alice / path).read_text() == "precious v1\n"
    must("checkout", "--force", cwd=alice)
    assert (alice / path).read_text() == "v0\n"


@pytest.mark.parametrize("tracked", ["d", "x"], ids=["directory", "file"])
def test_commit_of_all_names_commit_force_for_a_version_whose_bytes_only_the_workspace_holds(
        team, tracked):
    alice, path = _alice_s_added_version_collected(team, tracked, then_checkout=False)
    skipped = run_dvx("commit", cwd=alice)
    assert skipped.code == 0, skipped.output
    assert (f"Not recorded {tracked}: its pointer changed outside a commit (a stash, a reset, "
            "the pointer file checked out) since this workspace was synced, and the workspace "
            "still holds data from before that is no longer in the cache, which a checkout "
            f"keeps; `dvx pull {tracked}` replaces it if the remote holds it, `dvx commit "
            f"--force {tracked}` records it.") in skipped.stderr, \
        skipped.output
    must("commit", "--force", tracked, cwd=alice)
    assert run_dvx("status", "-q", cwd=alice).code == 0
    assert (alice / path).read_text() == "precious v1\n"


def test_status_counts_once_a_file_holding_a_version_gc_took(team):
    """Once a checkout kept it, the file is outdated and holds a version no cache has: one
    file, said once."""
    alice, _ = _alice_s_added_version_collected(team, "d", then_checkout=False)
    assert run_dvx("checkout", cwd=alice).code == 1
    first = run_dvx("status", cwd=alice).stdout.splitlines()[0]
    assert first == ("d: pointer changed in Git, data not checked out, 1 file holds a version "
                     "no longer in the cache"), first


@pytest.mark.parametrize("kept_first", [False, True], ids=["added", "checkout-kept-it"])
@pytest.mark.parametrize("tracked", ["d", "x"], ids=["directory", "file"])
def test_add_force_as_the_hints_say_records_a_version_whose_bytes_only_the_workspace_holds(
        team, tracked, kept_first):
    """The version gc took from the cache is the workspace's only copy: checkout and status
    name `dvx add --force`, which records it. A plain add records nothing of it, says so and
    leaves it unread, so no later checkout replaces it (stored, its bytes would be named by
    nothing, and checkout would take the pointer's version over them)."""
    alice, path = _alice_s_added_version_collected(team, tracked, then_checkout=False)
    status = run_dvx("status", cwd=alice).stdout
    assert "`dvx add --force PATH` records it instead" in status, status
    if kept_first:
        kept = run_dvx("checkout", cwd=alice)
        assert kept.code == 1, kept.output
        # the tracked path an add takes: a file inside tracked data is added with it
        assert f"`dvx add --force {tracked}` records it again" in kept.stderr, kept.output
    plain = run_dvx("add", tracked, cwd=alice)
    if plain.code == 0:  # a directory whose checkout kept the file: the rest is recorded
        assert tracked == "d" and kept_first, plain.output
        assert (f"Recorded {path} as in the pointer's version, not as the workspace holds it"
                in plain.stderr), plain.output
        assert f"`dvx add --force {tracked}` records it" in plain.stderr
    else:
        assert f"'{path}'" in plain.stderr and "no longer in the cache" in plain.stderr
        assert "`--force` records it as the workspace holds it" in plain.stderr, plain.output
    assert not _cached(alice, "precious v1\n")
    assert "holds a version no longer in the cache" in run_dvx("status", cwd=alice).stdout
    assert run_dvx("checkout", cwd=alice).code == 1
    assert (alice / path).read_text() == "precious v1\n"

    forced = run_dvx("add", "--force", tracked, cwd=alice)
    assert forced.code == 0 and f"Tracked {tracked}" in forced.stdout, forced.output
    assert run_dvx("status", "-q", cwd=alice).code == 0
    commit(alice, "v1 recorded again")
    must("gc", "-w", "-f", "--grace", "0", cwd=alice)
    must("checkout", "--force", cwd=alice)
    assert (alice / path).read_text() == "precious v1\n"


def test_a_pull_that_asks_about_an_edit_says_so_and_not_that_add_records_it_again(team):
    """bob edits a file whose new version alice shared and bob fetched: the fetch needs no
    remote, but the pull's checkout asks the remote about bob's edit, so the pull does not
    say that no remote was asked; the edit, never recorded, is a change not in the cache,
    not a version that `dvx add` records again."""
    alice = team.founder()
    write(alice / "f", "v1\n")
    must("add", "f", cwd=alice)
    share(alice, "v1")
    bob = team.clone("bob")
    edit(alice, "f", "v2\n")
    must("add", "f", cwd=alice)
    share(alice, "v2")
    git(bob, "pull", "-q")
    edit(bob, "f", "edited here\n")
    must("fetch", cwd=bob)
    pulled = run_dvx("pull", cwd=bob)
    assert pulled.code == 1, pulled.output
    assert "the cache already holds the 1 object needed" in pulled.stdout
    assert "no remote was asked" not in pulled.output
    assert "Skipped f: it has changes that are not in the cache" in pulled.stderr
    assert "again" not in pulled.stderr
    assert (bob / "f").read_text() == "edited here\n"


def _bob_s_outdated_version_collected(team, tracked: str) -> tuple[Path, str]:
    """bob holds v1 of `tracked` (d/2 of a directory, or the file x); alice shares v2; bob
    runs `git pull`, `dvx fetch` and a gc, which deletes v1's bytes: the remote holds them."""
    alice = team.founder()
    path = "d/2" if tracked == "d" else "x"
    write(alice / path, "v1\n")
    if tracked == "d":
        write(alice / "d/1", "same\n")
        write(alice / "d/3", "only in v1\n")
    must("add", tracked, cwd=alice)
    share(alice, "v1")
    bob = team.clone("bob")
    edit(alice, path, "v2\n")
    if tracked == "d":
        (alice / "d/3").unlink()
    must("add", tracked, cwd=alice)
    share(alice, "v2")
    git(bob, "pull", "-q", "origin", "main")
    must("fetch", cwd=bob)
    must("gc", "-w", "-f", "--grace", "0", cwd=bob)
    assert not _cached(bob, "v1\n")
    return bob, path


@pytest.mark.parametrize("tracked", ["d", "x"], ids=["directory", "file"])
def test_status_and_checkout_say_an_outdated_version_gc_took_is_for_pull_to_replace(
        team, tracked):
    bob, path = _bob_s_outdated_version_collected(team, tracked)
    status = run_dvx("status", cwd=bob)
    assert "a version no longer in the cache" in status.stdout
    assert "`dvx pull` replaces outdated data" in status.stdout
    assert "`dvx checkout` brings" not in status.stdout
    gone = [path, "d/3"] if tracked == "d" else [path]
    assert status_of(bob, tracked)["outdated_not_cached"] == gone
    refused = run_dvx("checkout", cwd=bob)
    assert refused.code == 1, refused.output
    assert f"Skipped {path}: the version it holds, which dvx placed or recorded there, is no " \
           "longer in the cache" in refused.stderr
    assert "`dvx pull` replaces it if the remote holds that version" in refused.stderr
    assert "it has changes" not in refused.stderr
    assert (bob / path).read_text() == "v1\n"


@pytest.mark.parametrize("target", ["d", "d/2", "x"], ids=["directory", "partial", "file"])
def test_pull_replaces_an_outdated_version_gc_took_from_the_cache_as_the_remote_holds_it(
        team, target):
    bob, path = _bob_s_outdated_version_collected(team, target.split("/")[0])
    pulled = run_dvx("pull", target, cwd=bob)
    assert pulled.code == 0, pulled.output
    assert (bob / path).read_text() == "v2\n"
    if target == "d":
        assert not (bob / "d/3").exists()  # as the remote holds it, deleted too
    if target != "d/2":
        assert run_dvx("status", "-q", cwd=bob).code == 0


def test_pull_keeps_an_outdated_file_changed_here_though_the_remote_holds_its_bytes(team):
    bob, path = _bob_s_outdated_version_collected(team, "x")
    alice = team.base / "alice"
    write(alice / "z", "z data\n")
    must("add", "z", cwd=alice)
    share(alice, "z")  # on the remote, never fetched by bob
    edit(bob, path, "z data\n")
    assert not _cached(bob, "z data\n")
    refused = run_dvx("pull", "x", cwd=bob)
    assert refused.code == 1, refused.output
    assert f"Skipped {path}: it has changes made here" in refused.stderr
    assert (bob / path).read_text() == "z data\n"


def _commits_data_without_pushing(clone, files: dict[str, str]):
    """Track `files` (their top-level paths), commit and push the commit, not the data."""
    for rel, content in files.items():
        write(clone / rel, content)
    must("add", *sorted({rel.split("/")[0] for rel in files}), cwd=clone)
    commit(clone, "data, never `dvx push`ed")
    git(clone, "push", "-q", "origin", "main")
    return clone


def test_data_a_teammate_committed_but_never_pushed_is_not_pulled_and_named(team):
    alice = team.founder()
    write(alice / "base.csv", "base\n")
    must("add", "base.csv", cwd=alice)
    share(alice, "base")
    bob = _commits_data_without_pushing(team.clone("bob"), {"raw.csv": "bob's\n",
                                                            "imgs/a.bin": "bob's image\n"})
    git(alice, "pull", "-q", "origin", "main")

    assert status_of(alice, "raw.csv")["workspace"] == "not_pulled"
    status = run_dvx("status", cwd=alice)
    assert "raw.csv: not pulled yet, not in cache" in status.stdout
    assert "deleted" not in status.stdout
    pulled = run_dvx("pull", cwd=alice)
    assert pulled.code == 1 and "not on the remote" in pulled.stderr
    change = git(alice, "log", "-1", "--format=%h (%an)", "--", "raw.csv.dvx").strip()
    assert f"raw.csv.dvx, recorded by commit {change}" in pulled.stderr
    assert "without running `dvx push`" in pulled.stderr
    fetched = json.loads(run_dvx("fetch", "--json", cwd=alice).stdout)
    commit, author = git(alice, "log", "-1", "--format=%h %an", "--", "raw.csv.dvx").split()
    assert {"pointer": "raw.csv.dvx", "oid": pointer_oid(bob / "raw.csv.dvx"),
            "commit": commit, "author": author, "only_in_workspace": False,
            "pushed_to": None} in fetched[
        "never_pushed"]
    assert fetched["lost"] == []
    assert json.loads(run_dvx("fetch", "base.csv", "--json", cwd=alice).stdout)[
        "never_pushed"] == []
    pushed = run_dvx("push", cwd=alice)  # what her pre-push hook runs: it names Bob's too
    assert pushed.code == 1 and "not in the local cache nor on the remote" in pushed.stderr
    assert f"raw.csv.dvx, recorded by commit {change}" in pushed.stderr
    assert f"imgs.dvx, recorded by commit {change}" in pushed.stderr  # a directory too
    assert "without running `dvx push`" in pushed.stderr
    write(alice / "raw.csv.dvx", (bob / "raw.csv.dvx").read_text().replace(
        pointer_oid(bob / "raw.csv.dvx"), "a" * 32))  # an edit of hers, in no commit
    assert "raw.csv.dvx, in no commit" in run_dvx("pull", cwd=alice).stderr
    git(alice, "checkout", "raw.csv.dvx")

    must("push", cwd=bob)
    must("pull", cwd=alice)
    (alice / "raw.csv").unlink()  # placed here, then deleted: a deletion
    assert status_of(alice, "raw.csv")["workspace"] == "deleted"



def test_a_push_to_another_remote_after_a_partial_pull_names_the_fetch_not_a_teammate(team):
    """bob pulled one file of data/ and changed it; a push to the remote 'second' cannot send
    the files he never fetched. It says so, and names the fetch from the default remote that
    holds them, never a teammate who did not push; fsck --remote says to fetch first only
    for the objects this cache lacks."""
    alice = team.founder()
    for i in (1, 2, 3):
        write(alice / "data" / "sub" / f"f{i}", f"a{i}\n")
    must("add", "data", cwd=alice)
    share(alice, "data v1")
    bob = team.clone("bob", pull=False)
    must("remote", "add", "second", str(team.base / "store2"), cwd=bob)
    must("pull", "data/sub/f2", cwd=bob)
    edit(bob, "data/sub/f2", "bob's f2\n")
    must("add", "data", cwd=bob)
    commit(bob, "bob changes f2")

    pushed = run_dvx("push", "-r", "second", cwd=bob)
    assert pushed.code == 1
    assert ("Neither the cache here nor the remote 'second' has that data (data.dvx, "
            "recorded by commit") in pushed.stderr, pushed.stderr
    assert ("`dvx fetch -r shared` (the default remote), then push again (`dvx push -r "
            "second`)") in pushed.stderr
    assert "Either whoever committed it" not in pushed.stderr
    checked = run_dvx("fsck", "--remote", "second", cwd=bob)
    lines = [line for line in checked.stderr.splitlines() if line.startswith("Missing ")]
    f1 = next(line for line in lines if "data/sub/f1 needs it" in line)
    assert ("neither the remote second nor the cache here has it: it may be on the default "
            "remote shared, where a plain `dvx push` sends it") in f1
    assert "`dvx fetch` brings it into the cache from there; then `dvx push -r second`" in f1
    manifest = next(line for line in lines if ": data needs it" in line)
    assert "`dvx fetch`" not in manifest and "`dvx push -r second` uploads it here" in manifest

    must("fetch", cwd=bob)
    must("push", "-r", "second", cwd=bob)
    assert run_dvx("fsck", "--remote", "second", cwd=bob).code == 0


def test_a_pull_from_another_remote_names_the_default_remote_before_blaming_a_teammate(team):
    """alice pushed her data to the default remote; bob's `pull -r second` finds it missing
    there. The message names the default remote, where a plain push sent it, and the pull
    without -r that reads it from there, before it names the causes a teammate answers for;
    fetch says the same."""
    alice = team.founder()
    (team.base / "store2").mkdir()
    must("remote", "add", "second", str(team.base / "store2"), cwd=alice)
    write(alice / "raw.csv", "v1\n")
    must("add", "raw.csv", cwd=alice)
    share(alice, "raw v1")
    bob = team.clone("bob", pull=False)

    for verb in ("pull", "fetch"):
        said = run_dvx(verb, "-r", "second", cwd=bob)
        assert said.code == 1, said.output
        assert ("The remote 'second' does not have that data (raw.csv.dvx, recorded by commit"
                in said.stderr), said.stderr
        hint = ("it may be on the default remote 'shared', where a plain `dvx push` sends it: "
                f"`dvx {verb}` without -r reads it from there.")
        assert hint in said.stderr, said.stderr
        assert said.stderr.index(hint) < said.stderr.index("whoever committed it")
    doc = json.loads(run_dvx("fetch", "-r", "second", "--json", cwd=bob).stdout)
    assert [r["pushed_to"] for r in doc["never_pushed"]] == ["shared"]
    must("pull", cwd=bob)
    assert (bob / "raw.csv").read_text() == "v1\n"


def test_pull_allow_missing_exits_0_when_only_data_the_remote_lacks_failed(team):
    """As DVC's --allow-missing: data a teammate never pushed is still named (stderr), the rest
    is pulled, and the exit status is 0; any other failure still exits 1."""
    alice = team.founder()
    write(alice / "base.csv", "base\n")
    must("add", "base.csv", cwd=alice)
    share(alice, "base")
    _commits_data_without_pushing(team.clone("bob"), {"raw.csv": "bob's\n",
                                                      "imgs/a.bin": "bob's image\n"})
    git(alice, "pull", "-q", "origin", "main")
    (alice / "base.csv").unlink()
    assert run_dvx("pull", cwd=alice).code == 1
    (alice / "base.csv").unlink()
    allowed = run_dvx("pull", "--allow-missing", cwd=alice)
    assert allowed.code == 0, allowed.output
    assert (alice / "base.csv").read_text() == "base\n"
    assert "raw.csv" in allowed.stderr and "not on the remote" in allowed.stderr
    assert ("WARNING: 2 objects the remote 'shared' does not have were left out, as "
            "--allow-missing asks") in allowed.stderr
    assert json.loads(run_dvx("pull", "--allow-missing", "--json", cwd=alice).stdout)[
        "never_pushed"]
    edit(alice, "base.csv", "mine, in no cache\n")  # a change a pull never overwrites
    skipped = run_dvx("pull", "--allow-missing", cwd=alice)
    assert skipped.code == 1 and "Skipped base.csv" in skipped.stderr, skipped.output
    assert (alice / "base.csv").read_text() == "mine, in no cache\n"

def test_data_missing_at_an_older_revision_names_the_commit_that_recorded_it(team):
    """Bob committed v1 of a file and of a directory without pushing their data; Alice
    committed and pushed v2. Pulling the older revision names Bob's commit, not Alice's."""
    alice = team.founder()
    _commits_data_without_pushing(team.clone("bob", pull=False), {"data.csv": "v1\n",
                                                                  "imgs/a.bin": "a1\n"})
    git(alice, "pull", "-q", "origin", "main")
    write(alice / "data.csv", "v2\n")
    write(alice / "imgs/a.bin", "a2\n")
    # --force: over bob's data.csv, never placed here, alice's changed both here and in Git
    unknown = run_dvx("add", "--force", "data.csv", "imgs", cwd=alice)  # which of bob's to keep?
    assert unknown.code == 1 and "`dvx remove imgs.dvx` then `dvx add imgs`" in unknown.stderr
    must("remove", "imgs.dvx", cwd=alice)
    must("add", "--force", "data.csv", "imgs", cwd=alice)
    share(alice, "v2")
    carol = team.clone("carol", pull=False)
    pulled = run_dvx("pull", "--rev", "HEAD~1", cwd=carol)
    assert pulled.code == 1
    bobs = git(carol, "log", "-1", "--format=%h (%an)", "HEAD~1").strip()
    assert f"data.csv.dvx, recorded by commit {bobs}" in pulled.stderr, pulled.stderr
    assert f"imgs.dvx, recorded by commit {bobs}" in pulled.stderr, pulled.stderr


def test_data_missing_from_a_branch_not_checked_out_names_its_pointer_and_each_author(team):
    """Bob and then Carol committed versions of x.bin on a branch without pushing their data.
    A clone on main has no x.bin.dvx: fetching the branch names the pointer the branch has,
    and fetching every commit names each version's own commit and author."""
    alice = team.founder()
    write(alice / "base.csv", "base\n")
    must("add", "base.csv", cwd=alice)
    share(alice, "base")
    git(alice, "checkout", "-q", "-b", "feat")
    for content, author in (("bob's\n", "Bob <bob@example.com>"),
                            ("carol's\n", "Carol <carol@example.com>")):
        write(alice / "x.bin", content)
        must("add", "x.bin", cwd=alice)
        git(alice, "add", "-A")
        git(alice, "commit", "-qm", f"x.bin, {author}", "--author", author)
    git(alice, "push", "-q", "origin", "feat")  # neither ran `dvx push`
    dave = team.clone("dave", pull=False)  # on main: no x.bin.dvx here, no dvx.lock anywhere
    carols, bobs = git(dave, "log", "--format=%h (%an)", "origin/feat", "-2").split("\n")[:2]

    fetched = run_dvx("fetch", "--rev", "origin/feat", cwd=dave)
    assert fetched.code == 1 and "not on the remote" in fetched.stderr
    assert f"x.bin.dvx, recorded by commit {carols}" in fetched.stderr, fetched.stderr
    assert "dvx.lock" not in fetched.stderr and "in no commit" not in fetched.stderr
    git(dave, "checkout", "-q", "feat")  # x.bin.dvx here now, naming Carol's version
    fetched = run_dvx("fetch", "-A", cwd=dave)
    assert fetched.code == 1
    assert f"x.bin.dvx, recorded by commit {bobs}" in fetched.stderr, fetched.stderr
    assert f"x.bin.dvx, recorded by commit {carols}" in fetched.stderr, fetched.stderr


def test_a_shallow_clone_does_not_blame_the_commit_where_its_history_stops(team):
    """Bob committed data without pushing it; Carol then committed code only. A `--depth 1`
    clone sees Carol's commit as the one that put everything there: it names no author."""
    alice = team.founder()
    write(alice / "base.csv", "base\n")
    must("add", "base.csv", cwd=alice)
    share(alice, "base")
    bob = _commits_data_without_pushing(team.clone("bob"), {"raw.csv": "bob's\n"})
    write(bob / "code.py", "print(1)\n")
    git(bob, "add", "code.py")
    git(bob, "-c", "user.name=Carol", "commit", "-qm", "code only", "--author",
        "Carol <carol@example.com>")
    git(bob, "push", "-q", "origin", "main")
    ci = team.base / "ci"
    git(team.base, "clone", "-q", "--depth", "1", f"file://{team.origin}", str(ci))
    pulled = run_dvx("pull", cwd=ci)
    assert pulled.code == 1 and "not on the remote" in pulled.stderr
    boundary = git(ci, "rev-parse", "--short", "HEAD").strip()
    assert (f"raw.csv.dvx, recorded by commit {boundary} or one before it, which this "
            "shallow clone does not have") in pulled.stderr, pulled.stderr
    assert "Carol" not in pulled.stderr
    fetched = json.loads(run_dvx("fetch", "--json", cwd=ci).stdout)
    assert fetched["never_pushed"][0]["author"] is None


@pytest.mark.parametrize("deleted", ["loose", "pack"])
def test_data_deleted_from_the_remote_after_its_push_is_named_as_lost(team, deleted):
    alice = team.founder()
    write(alice / "big.bin", bytes(range(256)) * 8192)  # loose on the remote
    write(alice / "small.csv", "small\n")  # packed
    must("add", "big.bin", "small.csv", cwd=alice)
    share(alice, "data")
    if deleted == "loose":
        gone = [p for p in (team.store / "files").rglob("*") if p.is_file()]
    else:
        gone = list((team.store / "packs").iterdir())
    for path in gone:  # by hand, or a lifecycle rule: the remote's indexes still name them
        path.unlink()
    bob = team.clone("bob", pull=False)
    pulled = run_dvx("pull", cwd=bob)
    assert pulled.code == 1 and "not on the remote" in pulled.stderr
    record = "big.bin.dvx" if deleted == "loose" else "small.csv.dvx"
    assert f"The remote 'shared' lost that data ({record}, recorded by commit" in \
        pulled.stderr, pulled.stderr
    assert "without running `dvx push`" not in pulled.stderr
    assert "`dvx fsck --remote shared`" in pulled.stderr

    assert run_dvx("fsck", "--remote", "shared", cwd=alice).code == 1  # as the message says
    must("push", cwd=alice)
    must("pull", cwd=bob)
    assert (bob / "big.bin").read_bytes() == (alice / "big.bin").read_bytes()


def test_data_left_behind_is_kept_unless_removing_it_loses_nothing(team, tmp_path):
    """Checkout takes only what it placed, only when every object is really in this
    repository's own cache: a .dvxignored file, a cache emptied since, a shared cache or a
    Git file in the directory keep the data where it is, named by status."""
    alice = team.founder()
    git(alice, "checkout", "-q", "-b", "feature")
    write(alice / "data/a.txt", "a")
    write(alice / "gone/b.txt", "b")
    must("add", "data", "gone", cwd=alice)
    share(alice, "data")
    write(alice / "data/.dvxignore", "*.log\n")
    write(alice / "data/notes.log", "never cached\n")
    for objects in (alice / ".dvx/cache/files").rglob("*"):
        if objects.is_file() and objects.read_bytes() == b"b":
            objects.unlink()  # gone from the cache by hand, though a stat cache remembers it
    git(alice, "checkout", "-q", "main")
    must("checkout", cwd=alice)
    assert (alice / "data/notes.log").read_text() == "never cached\n"
    assert not (alice / "data/a.txt").exists()
    assert (alice / "gone/b.txt").read_text() == "b"
    listed = run_dvx("status", cwd=alice).stdout
    assert "gone: no longer tracked, its pointer left Git; not all of it is in the cache" in listed

    # A cache shared with other repositories: their gc could take the only copy.
    bob = team.clone("bob")
    must("config", "--local", "cache.dir", str(tmp_path / "shared-cache"), cwd=bob)
    git(bob, "checkout", "-q", "feature")
    must("pull", cwd=bob)
    git(bob, "checkout", "-q", "main")
    must("checkout", cwd=bob)
    assert (bob / "data/a.txt").read_text() == "a"
    assert "data: no longer tracked, its pointer left Git; the cache is shared" in run_dvx(
        "status", cwd=bob).stdout


def test_a_move_killed_then_checked_out_is_finished_by_running_it_again(team):
    alice = team.founder()
    write(alice / "d/x", "one\n")
    must("add", "d", cwd=alice)
    share(alice, "d")
    crashed = run_dvx_proc("move", "d", "e", cwd=alice,  # once the data moved
                           env={"DVX_FAULT": "atomic_write.before_rename:5"})
    assert crashed.code == -9, crashed.output
    must("checkout", cwd=alice)  # places d again: the data is now at both places
    assert (alice / "d/x").exists() and (alice / "e/x").exists()
    must("move", "d", "e", cwd=alice)
    assert not (alice / "d").exists() and not (alice / "d.dvx").exists()
    assert (alice / "e/x").read_text() == "one\n"
    assert run_dvx("status", "-q", cwd=alice).code == 0


def test_data_git_tracks_or_dvx_found_there_is_never_taken_as_left_behind(team):
    """A directory moved from dvx into Git on a branch is Git's there; a file `dvx remove`
    kept, looked at in an older commit and back, is the user's: checkout takes neither."""
    alice = team.founder()
    write(alice / "d/a", "a")
    write(alice / "notes.csv", "keep me\n")
    must("add", "d", "notes.csv", cwd=alice)
    share(alice, "tracked by dvx")
    git(alice, "checkout", "-q", "-b", "in-git")
    must("remove", "d.dvx", "notes.csv.dvx", cwd=alice)
    git(alice, "add", "-A")
    git(alice, "reset", "-q", "notes.csv")
    git(alice, "commit", "-qm", "d in Git, notes.csv kept untracked")
    git(alice, "checkout", "-q", "main")
    must("checkout", cwd=alice)
    git(alice, "checkout", "-q", "in-git")  # Git writes d/a; notes.csv was there all along
    done = run_dvx("checkout", cwd=alice)
    assert done.code == 0 and "removed" not in done.stdout, done.output
    assert (alice / "d/a").read_text() == "a"
    assert (alice / "notes.csv").read_text() == "keep me\n"
    assert git(alice, "status", "--porcelain") == "?? notes.csv\n"
    assert run_dvx("status", "-q", cwd=alice).code == 0  # said once, then the user's own


def test_data_left_behind_beside_what_git_and_dvx_track_now_is_removed(team):
    """`data` was a tracked directory; the next commit has `data/` in Git and `data/x.bin`
    tracked on its own. Switching to it takes away the files dvx placed at `data` (left,
    they would be unignored, for `git add -A`), and nothing of Git's or of `data/x.bin`;
    with a file of the user's beside them, they stay, named by status."""
    alice = team.founder()
    write(alice / "data/f1", "f1\n")
    write(alice / "data/f2", "f2\n")
    must("add", "data", cwd=alice)
    share(alice, "data tracked whole")
    must("remove", "data.dvx", cwd=alice)
    for name in ("f1", "f2"):
        (alice / "data" / name).unlink()
    write(alice / "data/code.py", "code\n")
    write(alice / "data/x.bin", "x\n")
    must("add", "data/x.bin", cwd=alice)
    share(alice, "data in Git, data/x.bin tracked")

    def files() -> list[str]:
        return sorted(p.name for p in (alice / "data").iterdir())

    for _ in range(2):
        git(alice, "checkout", "-q", "HEAD~1")
        must("checkout", cwd=alice)
        assert files() == ["f1", "f2"]
        git(alice, "checkout", "-q", "main")
        must("checkout", cwd=alice)
        assert files() == [".gitignore", "code.py", "x.bin", "x.bin.dvx"]
        assert git(alice, "status", "--porcelain") == ""
        assert run_dvx("status", "-q", cwd=alice).code == 0

    git(alice, "checkout", "-q", "HEAD~1")
    must("checkout", cwd=alice)
    write(alice / "data/mine.txt", "mine\n")
    git(alice, "checkout", "-q", "main")
    kept = run_dvx("checkout", cwd=alice)
    assert kept.code == 0 and "`git status data` lists them" in kept.stderr, kept.output
    assert files() == [".gitignore", "code.py", "f1", "f2", "mine.txt", "x.bin", "x.bin.dvx"]
    listed = run_dvx("status", cwd=alice)
    assert "data: no longer tracked, its pointer left Git; changed since" in listed.stdout


def test_a_folder_split_into_per_file_pointers_by_a_teammate_names_only_the_user_s_files(team):
    """Bob stops tracking `data` whole and tracks its files one by one; carol, with a file of
    her own in `data/sub`, pulls that. Her folder stays, and status says what checkout
    says: delete (or track) the files Git and dvx do not track there, never the folder nor
    a `dvx add` of it whole, which would take bob's pointers or be refused."""
    alice = team.founder()
    for i in (1, 2, 3):
        write(alice / f"data/sub/f{i}", f"a{i}\n")
    must("add", "data", cwd=alice)
    share(alice, "data whole")
    bob, carol = team.clone("bob"), team.clone("carol")
    must("remove", "data.dvx", cwd=bob)
    must("add", "data/sub/f1", "data/sub/f2", "data/sub/f3", cwd=bob)
    share(bob, "data file by file")
    write(carol / "data/sub/f9", "carol's\n")
    git(carol, "pull", "-q")
    kept = run_dvx("checkout", cwd=carol)
    assert "`git status data` lists them" in kept.stderr, kept.output
    said = run_dvx("status", cwd=carol).stdout
    assert "data: no longer tracked, its pointer left Git; changed since" in said, said
    assert "(data: delete the files in it that Git and dvx do not track (`git status data` " \
        "lists them), or track them with `dvx add`)" in said, said
    assert "`dvx add` it again" not in said, said
    left = json.loads(run_dvx("status", "--json", cwd=carol).stdout)["left_behind"]
    assert [e["path"] for e in left] == ["data"]
    assert {f"data/sub/{name}{suffix}" for name in ("f1", "f2", "f3") for suffix in ("", ".dvx")
            } <= set(left[0]["tracked_inside"])
    assert "data/sub/f9" not in left[0]["tracked_inside"]
    assert (carol / "data/sub/f9").read_text() == "carol's\n"


def test_a_folder_pulled_in_part_whose_pointer_left_git_is_removed_unless_changed(team):
    """A folder `dvx pull d/sub` placed in part (over an older version placed whole, for
    dave), untouched since, then a teammate's `dvx move d e` pulled: the files the pulls
    placed go, as a whole folder's do. A file of the user's in a part never pulled, or a
    placed file edited, keeps the folder as it is, named by status."""
    alice = team.founder()
    write(alice / "d/sub/a", "a1\n")
    write(alice / "d/o/o", "o\n")
    must("add", "d", cwd=alice)
    share(alice, "d")
    dave = team.clone("dave")  # all of d, at its first version
    bob, carol, erin = (team.clone(name, pull=False) for name in ("bob", "carol", "erin"))
    for clone in (bob, carol, erin):
        must("pull", "d/sub", cwd=clone)
    write(carol / "d/o/mine", "mine\n")  # where no pull placed a file
    edit(erin, "d/sub/a", "erin's edit\n")
    edit(alice, "d/sub/a", "a2\n")
    must("add", "d", cwd=alice)
    share(alice, "a2")
    git(dave, "pull", "-q")
    must("pull", "d/sub", cwd=dave)  # d/sub at a2 over d/o as first placed
    must("move", "d", "e", cwd=alice)
    share(alice, "moved")
    for clone in (bob, carol, dave, erin):
        git(clone, "pull", "-q")
        must("pull", cwd=clone)
    for clone in (bob, dave):
        assert not (clone / "d").exists()
        assert run_dvx("status", "-q", cwd=clone).code == 0, run_dvx("status", cwd=clone).output
    assert (dave / "e/sub/a").read_text() == "a2\n"
    assert (carol / "d/o/mine").read_text() == "mine\n"
    assert (carol / "d/sub/a").read_text() == "a1\n"
    assert (erin / "d/sub/a").read_text() == "erin's edit\n"
    for clone in (carol, erin):
        assert "d: no longer tracked, its pointer left Git; changed since" in run_dvx(
            "status", cwd=clone).stdout


def test_a_folder_a_killed_pull_placed_in_part_goes_when_its_pointer_leaves_git(team):
    """`dvx pull` killed half-way through a folder's files, then `git checkout` of a branch
    without the folder: its hook takes away the files the pull placed, as after a partial
    pull (left there, Git would no longer ignore them), and the pull, whose work that
    checkout did, is no longer named. A file of the user's in the folder keeps it, named by
    status, and the pre-commit hook stops a commit of the files the pull placed there."""
    alice = team.founder()
    must("install", cwd=alice)
    commit(alice, "dvx's merge driver")
    git(alice, "branch", "nodata")
    for i in range(6):
        write(alice / "data" / f"f{i}", f"v1-{i}\n")
    must("add", "data", cwd=alice)
    share(alice, "data")
    git(alice, "push", "-q", "origin", "nodata")
    bob, carol = (team.clone(name, pull=False) for name in ("bob", "carol"))
    for clone in (bob, carol):
        must("install", cwd=clone)
        killed = run_dvx_proc("pull", cwd=clone, env={"DVX_FAULT": "checkout.after_file:3"})
        assert killed.code == -9, killed.output
        assert 0 < len(_tree_of(clone, "data")) < 6

    git(bob, "checkout", "-q", "nodata")
    assert not (bob / "data").exists()
    assert git(bob, "status", "--porcelain") == ""
    status = run_dvx("status", cwd=bob)
    assert status.code == 0 and "stopped before it finished" not in status.stderr, status.output
    assert run_dvx("status", "-q", cwd=bob).code == 0

    write(carol / "data/mine.txt", "mine\n")
    git(carol, "checkout", "-q", "nodata")
    assert "mine.txt" in _tree_of(carol, "data")
    assert "data: no longer tracked, its pointer left Git; changed since" in run_dvx(
        "status", cwd=carol).stdout
    git(carol, "add", "-A")
    refused = subprocess.run(["git", "commit", "-qm", "data in Git"], cwd=carol,
                             capture_output=True, text=True)
    assert refused.returncode == 1, refused.stderr
    assert "data: the data of data.dvx; staged: data/f0" in refused.stderr
    assert "mine.txt" not in refused.stderr


@pytest.mark.parametrize("link", ["symlink", "hardlink"])
def test_data_left_behind_in_a_linked_workspace_becomes_files_of_its_own(team, link):
    """A teammate's `dvx remove`, pulled where a file of one's own keeps the directory: the
    checkout leaves it as `dvx remove` does, each linked file a copy of its own, so `gc -w`
    never takes its bytes, an edit never reaches the cache, and `dvx add` tracks it again.
    A file that is no link is never copied, nor is a copy made again."""
    alice = team.founder()
    images = {f"{i}.png": f"img{i}\n" for i in (1, 2, 3)}
    for name, content in images.items():
        write(alice / "data/imgs" / name, content)
    must("add", "data/imgs", cwd=alice)
    share(alice, "images")
    bob = team.clone("bob", pull=False)
    must("config", "--local", "cache.type", link, cwd=bob)
    must("pull", cwd=bob)
    one = bob / "data/imgs/1.png"
    assert one.is_symlink() if link == "symlink" else one.stat().st_nlink == 2
    must("remove", "data/imgs.dvx", cwd=alice)
    git(alice, "add", "data/imgs.dvx", "data/.gitignore")  # the images stay out of Git
    git(alice, "commit", "-qm", "images no longer tracked")
    git(alice, "push", "-q", "origin", "main")
    mine = write(bob / "data/imgs/mine.txt", "mine\n")
    inode = mine.stat().st_ino
    git(bob, "pull", "-q", "origin", "main")
    kept = run_dvx("checkout", cwd=bob)
    assert kept.code == 0 and "data/imgs: its pointer is no longer in Git" in kept.stderr
    for name in images:
        placed = bob / "data/imgs" / name
        assert not placed.is_symlink() and placed.stat().st_nlink == 1, name
    assert mine.stat().st_ino == inode
    copied = one.stat().st_ino
    must("checkout", cwd=bob)
    assert one.stat().st_ino == copied

    with open(bob / "data/imgs/3.png", "w") as rewritten:  # in place, as programs write
        rewritten.write("edited\n")
    cached = {p.read_text() for p in (bob / ".dvx/cache/files").rglob("*") if p.is_file()}
    assert "img3\n" in cached and "edited\n" not in cached
    must("gc", "--workspace", "-f", "--grace", "0", cwd=bob)
    assert {p.name: p.read_text() for p in (bob / "data/imgs").iterdir()} == {
        **images, "3.png": "edited\n", "mine.txt": "mine\n"}
    must("add", "data/imgs", cwd=bob)
    assert run_dvx("status", "-q", cwd=bob).code == 0


def _edit_through_its_link(path) -> None:
    """An editor saving in place through the link into the cache (root ignores the mode)."""
    os.chmod(path, 0o644)
    with open(path, "r+b") as f:
        f.write(b"X")


@pytest.mark.parametrize("link", ["symlink", "hardlink"])
def test_data_left_behind_edited_through_its_link_keeps_the_edit_and_the_object_is_set_aside(
        team, link):
    """A teammate's `dvx remove`, pulled where a file was edited in place through its link
    (which wrote the cached object itself): the file keeps the edit as a file of its own,
    and the object, holding bytes its oid does not name, is moved aside, as `remove` does,
    so no checkout or push takes those bytes for the recorded version."""
    alice = team.founder()
    write(alice / "m.csv", "m1\n")
    write(alice / "d/a", "a1\n")
    write(alice / "d/b", "b1\n")
    must("add", "m.csv", "d", cwd=alice)
    share(alice, "v1")
    bob = team.clone("bob", pull=False)
    must("config", "--local", "cache.type", link, cwd=bob)
    must("pull", cwd=bob)
    must("remove", "m.csv.dvx", "d.dvx", cwd=alice)
    git(alice, "add", "m.csv.dvx", "d.dvx", ".gitignore")  # the data stays out of Git
    git(alice, "commit", "-qm", "no longer tracked")
    git(alice, "push", "-q", "origin", "main")
    for path in (bob / "m.csv", bob / "d/b"):
        _edit_through_its_link(path)
    git(bob, "pull", "-q", "origin", "main")
    kept = run_dvx("checkout", cwd=bob)
    assert kept.code == 0, kept.output
    assert kept.stderr.count("edited in place through its link into the cache") == 2, kept.stderr
    assert "only a remote that holds it has it still" in kept.stderr
    for path in (bob / "m.csv", bob / "d/a", bob / "d/b"):
        assert not path.is_symlink() and path.stat().st_nlink == 1, path
    assert (bob / "m.csv").read_text() == "X1\n" and (bob / "d/b").read_text() == "X1\n"
    assert len(list((bob / ".dvx/cache/quarantine").iterdir())) == 2
    assert "0 corrupt" in run_dvx("fsck", cwd=bob).output
    must("gc", "--workspace", "-f", "--grace", "0", cwd=bob)
    assert (bob / "m.csv").read_text() == "X1\n" and (bob / "d/b").read_text() == "X1\n"
    assert (bob / "d/a").read_text() == "a1\n"


@pytest.mark.parametrize("link", ["symlink", "hardlink", "copy"])
def test_data_left_behind_sharing_an_object_edited_through_a_link_keeps_the_edit_in_every_file(
        team, link):
    """Files left behind that are links to one object (the same bytes, in one directory and
    beside it), one of them edited in place through its link: each becomes a file of its own
    holding the edit, none a link to the object moved aside; the warning names them all, as
    the edit is in each. A copy cache has no link to follow: only the edited file changed."""
    alice = team.founder()
    for path in ("m.csv", "d/a", "d/b"):
        write(alice / path, "s1\n")
    must("add", "m.csv", "d", cwd=alice)
    share(alice, "v1")
    bob = team.clone("bob", pull=False)
    must("config", "--local", "cache.type", link, cwd=bob)
    must("pull", cwd=bob)
    must("remove", "m.csv.dvx", "d.dvx", cwd=alice)
    git(alice, "add", "m.csv.dvx", "d.dvx", ".gitignore")
    git(alice, "commit", "-qm", "no longer tracked")
    git(alice, "push", "-q", "origin", "main")
    _edit_through_its_link(bob / "d/a")
    git(bob, "pull", "-q", "origin", "main")
    kept = run_dvx("checkout", cwd=bob)
    assert kept.code == 0, kept.output
    quarantine = bob / ".dvx/cache/quarantine"
    if link == "copy":
        assert "edited in place" not in kept.stderr, kept.stderr
        assert (bob / "d/a").read_text() == "X1\n" and (bob / "d/b").read_text() == "s1\n"
        assert not quarantine.exists() or not list(quarantine.iterdir())
        return
    warning = " ".join(kept.stderr.split())
    assert warning.count("edited in place through") == 1, kept.stderr
    assert "'d/a'" in warning and "'d/b'" in warning, kept.stderr
    for path in ("d/a", "d/b", "m.csv"):
        assert not (bob / path).is_symlink() and (bob / path).stat().st_nlink == 1, path
        assert (bob / path).read_text() == "X1\n", path
    assert len(list(quarantine.iterdir())) == 1
    assert "0 corrupt" in run_dvx("fsck", cwd=bob).output
    must("gc", "--workspace", "-f", "--grace", "0", cwd=bob)
    assert all((bob / path).read_text() == "X1\n" for path in ("d/a", "d/b", "m.csv"))


@pytest.mark.parametrize("verb", ["add", "unprotect"])
def test_a_tracked_file_edited_through_its_link_leaves_no_link_of_untracked_data_dangling(
        team, verb):
    """A tracked file edited in place through its symlink, its object set aside by `add` or
    `unprotect`: a link to the same object in data whose pointer left Git (no checkout has
    made it a file of its own yet) becomes a file holding those bytes, never a link to
    nothing."""
    alice = team.founder()
    must("config", "--local", "cache.type", "symlink", cwd=alice)
    write(alice / "t", "same\n")
    write(alice / "u", "same\n")
    must("add", "t", "u", cwd=alice)
    commit(alice, "both")
    git(alice, "rm", "-q", "u.dvx")
    git(alice, "commit", "-qm", "u leaves git")
    assert (alice / "u").is_symlink()
    _edit_through_its_link(alice / "t")
    done = run_dvx(verb, "t", cwd=alice)
    assert done.code == 0, done.output
    assert not (alice / "u").is_symlink(), done.output
    assert (alice / "u").read_text() == "Xame\n"


def test_files_dvx_placed_in_a_directory_go_on_the_round_trip_from_a_branch_splitting_it(team):
    """On `split`, `data/small.txt` is in Git and `data/big.bin` (also in `data` on main)
    tracked on its own. Switched to main and back, what dvx placed at `data` on main goes:
    `big.bin`, left there as split's own output, does not make `data` data dvx found."""
    alice = team.founder()
    write(alice / "data/small.txt", "small\n")
    write(alice / "data/big.bin", "big\n")
    write(alice / "data/c.bin", "c\n")
    write(alice / "data/sub/s.txt", "s\n")
    must("add", "data", cwd=alice)
    commit(alice, "data tracked whole")
    git(alice, "checkout", "-q", "-b", "split")
    must("remove", "data.dvx", cwd=alice)
    (alice / "data/c.bin").unlink()
    (alice / "data/sub/s.txt").unlink()
    (alice / "data/sub").rmdir()
    must("add", "data/big.bin", cwd=alice)
    commit(alice, "data/small.txt in Git, data/big.bin tracked")

    git(alice, "checkout", "-q", "main")
    must("checkout", cwd=alice)
    assert (alice / "data/sub/s.txt").read_text() == "s\n"
    git(alice, "checkout", "-q", "split")
    done = run_dvx("checkout", cwd=alice)
    assert done.code == 0 and "did not place" not in done.stderr, done.output
    assert sorted(p.name for p in (alice / "data").iterdir()) == [
        ".gitignore", "big.bin", "big.bin.dvx", "small.txt"]
    assert git(alice, "status", "--porcelain", "--untracked-files=all") == ""
    assert run_dvx("status", "-q", cwd=alice).code == 0


def test_data_whose_pointer_was_never_committed_is_never_taken(team):
    """A pointer only staged, then taken by `git reset --hard`: no commit names the data, so
    the workspace may hold its only copy (gc keeps nothing for it)."""
    alice = team.founder()
    write(alice / "data/a.txt", "the only copy\n")
    must("add", "data", cwd=alice)
    git(alice, "add", "data.dvx", ".gitignore")
    git(alice, "reset", "-q", "--hard")
    done = run_dvx("checkout", cwd=alice)
    assert done.code == 0 and "removed" not in done.stdout, done.output
    assert "no commit records it" in done.stderr
    assert (alice / "data/a.txt").read_text() == "the only copy\n"


def test_data_of_a_commit_git_reset_dropped_is_kept_and_named_for_what_recorded_it(team):
    """`git reset --hard HEAD~1` drops the commit that added a stage (or a pointer): only the
    reflog reaches it, so gc keeps nothing for the data, which stays; the messages say the
    dvx.lock entry (or the pointer's commit) is gone, and give no `dvx add` for an output."""
    alice = team.founder()
    write(alice / "in.txt", "a\n")
    commit(alice, "input")
    must("stage", "add", "-n", "rep", "-d", "in.txt", "-o", "report.txt", "cp in.txt report.txt",
         cwd=alice)
    must("repro", cwd=alice)
    commit(alice, "report stage")
    git(alice, "reset", "-q", "--hard", "HEAD~1")
    listed = run_dvx("status", cwd=alice).stdout
    assert ("report.txt: no longer tracked, the dvx.lock entry that recorded it is not in the "
            "checked-out commit; no branch, tag or experiment holds a commit with that entry "
            "any more (only Git's reflog does)") in listed, listed
    assert "pointer" not in listed and "dvx add" not in listed
    done = run_dvx("checkout", cwd=alice)
    assert done.code == 0 and "removed" not in done.stdout, done.output
    assert "report.txt: the dvx.lock entry that recorded it is not in the checked-out" \
        in done.stderr and "dvx add" not in done.stderr, done.stderr
    assert (alice / "report.txt").read_text() == "a\n"

    write(alice / "d.txt", "d\n")
    must("add", "d.txt", cwd=alice)
    commit(alice, "d")
    git(alice, "reset", "-q", "--hard", "HEAD~1")
    listed = run_dvx("status", cwd=alice).stdout
    assert ("d.txt: no longer tracked, its pointer left Git; no branch, tag or experiment "
            "holds the commit of its pointer any more") in listed, listed
    assert "never committed" not in listed
    assert (alice / "d.txt").read_text() == "d\n"


def test_data_committed_on_a_side_a_merge_moved_away_is_removed_as_after_a_pull(team):
    """Alice moves d to e; Bob changes d and commits; Bob's merge keeps his change at e. His
    commit records d's data (Git's log hides it by default once the merge deleted d.dvx), so
    checkout removes d as after any pull instead of keeping it as a possible only copy."""
    alice = team.founder()
    write(alice / "d/f1", "base1\n")
    write(alice / "d/f2", "base2\n")
    must("add", "d", cwd=alice)
    share(alice, "v1")
    bob = team.clone("bob")
    must("move", "d", "e", cwd=alice)
    share(alice, "move d to e")
    edit(bob, "d/f2", "bob\n")
    must("add", "d", cwd=bob)
    commit(bob, "bob changes d/f2")
    git(bob, "pull", "-q", "--no-rebase", "origin", "main")
    must("checkout", cwd=bob)
    assert not (bob / "d").exists()
    assert (bob / "e/f2").read_text() == "bob\n"
    assert git(bob, "status", "--porcelain") == ""


def test_status_that_cannot_record_what_it_finds_in_sync_says_nothing_of_it(team):
    """Status records what it finds in sync only when it can: on a full disk it reports as
    ever, and the record is left to the next command (checkout still warns that it could
    not record what it checked out)."""
    alice = team.founder()
    write(alice / "data.txt", "v1\n")
    must("add", "data.txt", cwd=alice)
    share(alice, "v1")
    record = alice / ".dvx/tmp/synced.json"
    record.unlink()
    quiet = run_with_file_size_limit(["status"], alice, 0)
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stdout == "Data and pointers are up to date.\n" and quiet.stderr == "", \
        quiet.stderr
    assert not record.exists()
    warned = run_with_file_size_limit(["checkout"], alice, 0)
    assert warned.returncode == 0, warned.stderr
    assert "Could not record what was checked out" in warned.stderr, warned.stderr
    assert run_dvx("status", "-q", cwd=alice).code == 0
    assert json.loads(record.read_text())["outputs"]["data.txt"]["oid"] == \
        pointer_oid(alice / "data.txt.dvx")


def _bob_with_hooks_and_v1_cached(team, files: dict[str, str]) -> tuple[Path, Path]:
    """alice tracks `files` (a directory's or a file alone) at v1, then v2 changes the first
    of them; bob, with dvx's Git hooks, pulled v2 and fetched v1 too (an earlier pull)."""
    alice = team.founder()
    must("install", cwd=alice)
    for rel, content in files.items():
        write(alice / rel, content)
    first = next(iter(files))
    must("add", first.split("/")[0], cwd=alice)
    share(alice, "v1")
    edit(alice, first, files[first].replace("v1", "v2"))
    _publish(alice, "v2")
    bob = team.clone("bob")
    must("install", cwd=bob)
    must("fetch", "--rev", "HEAD~1", cwd=bob)
    return alice, bob


@pytest.mark.parametrize("content", ["labels v1\n", "img\n"], ids=["older", "copy"])
def test_git_pull_and_pull_keep_a_change_made_here_whose_bytes_are_cached(team, content):
    """bob's unrecorded change of a file in a tracked directory holds bytes the cache has (an
    older version of it, a copy of another tracked file); alice changed another file. Once
    replaced, no pointer would name bob's bytes and gc would delete them: the checkout of
    the hook and `dvx pull` keep them, as a change made here."""
    alice, bob = _bob_with_hooks_and_v1_cached(
        team, {"d/labels.txt": "labels v1\n", "d/img.txt": "img\n"})
    edit(alice, "d/img.txt", "img by alice\n")
    _publish(alice, "alice's img")
    edit(bob, "d/labels.txt", content)
    git(bob, "fetch", "-q", "origin")
    must("fetch", "--rev", "origin/main", cwd=bob)  # the hook's checkout has all it needs
    git(bob, "pull", "-q", "origin", "main")
    assert (bob / "d/labels.txt").read_text() == content
    assert (bob / "d/img.txt").read_text() == "img by alice\n"  # placed by the hook
    pulled = run_dvx("pull", cwd=bob)
    assert pulled.code == 1, pulled.output
    assert "Skipped d/labels.txt: it has changes made here" in pulled.stderr, pulled.output
    assert (bob / "d/labels.txt").read_text() == content
    seen = status_of(bob, "d")
    assert (seen["workspace"], seen["modified"]) == ("modified", ["labels.txt"]), seen
    assert _committed_shared_and_cloned(team, bob, "bob's labels") == {
        "labels.txt": content, "img.txt": "img by alice\n"}


def test_pull_keeps_a_tracked_file_reverted_here_to_an_older_cached_version(team):
    alice, bob = _bob_with_hooks_and_v1_cached(team, {"x": "x v1\n"})
    edit(alice, "x", "x v3\n")
    _publish(alice, "v3")
    edit(bob, "x", "x v1\n")  # back to v1, not recorded
    git(bob, "pull", "-q", "origin", "main")
    pulled = run_dvx("pull", cwd=bob)
    assert pulled.code == 1 and "Skipped x: it has changes made here" in pulled.stderr, \
        pulled.output
    assert (bob / "x").read_text() == "x v1\n"
    assert status_of(bob, "x")["workspace"] == "modified"
    must("pull", "--force", "x", cwd=bob)
    assert (bob / "x").read_text() == "x v3\n"


def test_data_whose_name_starts_with_a_dash_is_read_from_git_as_any_other(team):
    """A path whose top name starts with "-" (`-dash`, `-d/x`) is looked up in Git's
    commits as any other: a teammate's `dvx move` of it, pulled, takes the old data away
    (its pointer was committed); and with no record of what was synced, the version HEAD
    recorded before `git pull` makes it outdated, not changed."""
    alice = team.founder()
    write(alice / "-dash", "1\n")
    write(alice / "-d" / "x", "2\n")
    write(alice / "-edited", "v1\n")
    must("add", "./-dash", "./-d", "./-edited", cwd=alice)
    share(alice, "data")
    bob = team.clone("bob")
    carol = team.clone("carol")
    must("move", "./-dash", "renamed", cwd=alice)
    must("move", "./-d", "d2", cwd=alice)
    edit(alice, "-edited", "v2\n")
    must("add", "./-edited", cwd=alice)
    share(alice, "renamed and edited")

    git(bob, "pull", "-q", "origin", "main")
    must("pull", cwd=bob)
    assert not (bob / "-dash").exists() and not (bob / "-d").exists()
    assert (bob / "renamed").read_text() == "1\n" and (bob / "d2" / "x").read_text() == "2\n"
    assert git(bob, "status", "--porcelain") == ""

    (carol / ".dvx/tmp/synced.json").unlink()
    git(carol, "pull", "-q", "origin", "main")
    seen = status_of(carol, "-edited")
    assert seen["workspace"] == "outdated", seen


def _bob_with_his_own_files_where_alice_tracks_raw_and_d(team):
    """alice tracks raw.csv and the directory d and shares them; bob, with dvx's Git hooks,
    had files of his own at both paths, never recorded, when `git pull` brought the
    pointers (whose data his cache lacks)."""
    alice = _founder_sharing_v1(team)
    bob = team.clone("bob")
    must("install", cwd=bob)
    write(alice / "raw.csv", "alice's raw\n")
    write(alice / "d" / "a.txt", "alice's a\n")
    must("add", "raw.csv", "d", cwd=alice)
    share(alice, "raw and d")
    write(bob / "raw.csv", "bob's own raw\n")
    write(bob / "d" / "b.txt", "bob's own b\n")
    git(bob, "pull", "-q", "origin", "main")
    return alice, bob


def _cached_texts(clone) -> set[str]:
    return {p.read_text(errors="replace") for p in (clone / ".dvx/cache/files").rglob("*")
            if p.is_file()}


def test_an_add_refused_for_one_target_stores_none_of_the_others(team):
    """`dvx add raw.csv d` is refused for d (never checked out here, its manifest not in
    the cache): raw.csv, checked first, is not stored either, so no object is left in the
    cache that no pointer names, which a checkout would take for data it may replace."""
    _, bob = _bob_with_his_own_files_where_alice_tracks_raw_and_d(team)
    assert "bob's own raw\n" not in _cached_texts(bob)
    # --force: bob's raw.csv, where `git pull` brought alice's, changed both here and in Git
    refused = run_dvx("add", "--force", "raw.csv", "d", cwd=bob)
    assert refused.code == 1 and "'d' was never checked out here" in refused.stderr, \
        refused.output
    assert "bob's own raw\n" not in _cached_texts(bob)
    assert (bob / "raw.csv").read_text() == "bob's own raw\n"
    pulled = run_dvx("pull", cwd=bob)
    assert pulled.code == 1 and "Skipped raw.csv" in pulled.stderr, pulled.output
    assert (bob / "raw.csv").read_text() == "bob's own raw\n"


def test_pull_keeps_a_file_of_one_s_own_whose_pointer_never_synced_here_though_cached(team):
    """bob's own raw.csv, at a path whose pointer `git pull` brought and no dvx command
    synced here, holds bytes the cache has though no pointer names them (tracked once under
    another name, then no longer): none of HEAD's recent commits recorded them there, so
    it is a change made here, which pull keeps, and gc then keeps its bytes too."""
    _, bob = _bob_with_his_own_files_where_alice_tracks_raw_and_d(team)
    (bob / "copy.csv").write_text("bob's own raw\n")
    must("add", "copy.csv", cwd=bob)
    must("remove", "copy.csv.dvx", cwd=bob)
    assert "bob's own raw\n" in _cached_texts(bob)
    assert status_of(bob, "raw.csv")["workspace"] == "modified"
    pulled = run_dvx("pull", cwd=bob)
    assert pulled.code == 1 and "Skipped raw.csv: it has changes made here" in pulled.stderr, \
        pulled.output
    assert (bob / "raw.csv").read_text() == "bob's own raw\n"
    must("pull", "--force", "raw.csv", cwd=bob)
    assert (bob / "raw.csv").read_text() == "alice's raw\n"


def test_pull_keeps_files_of_one_s_own_in_a_directory_never_synced_here_though_cached(team):
    """bob's own d/a.txt (where alice's pointer has other bytes) and d/b.txt (a path it
    lacks), in a directory whose pointer `git pull` brought and no dvx command synced here,
    hold bytes the cache has though no pointer names them: none of HEAD's recent commits
    recorded them there, so they are changes made here, which pull keeps, as status finds
    them, until `--force`."""
    _, bob = _bob_with_his_own_files_where_alice_tracks_raw_and_d(team)
    write(bob / "d" / "a.txt", "bob's own a\n")
    for name, text in (("copy_a.txt", "bob's own a\n"), ("copy_b.txt", "bob's own b\n")):
        (bob / name).write_text(text)
        must("add", name, cwd=bob)
        must("remove", f"{name}.dvx", cwd=bob)
    assert {"bob's own a\n", "bob's own b\n"} <= _cached_texts(bob)
    must("fetch", cwd=bob)
    seen = status_of(bob, "d")
    assert (seen["workspace"], seen["modified"], seen["added"]) == (
        "modified", ["a.txt"], ["b.txt"]), seen
    pulled = run_dvx("pull", cwd=bob)
    assert pulled.code == 1, pulled.output
    for path in ("d/a.txt", "d/b.txt"):
        assert f"Skipped {path}: it has changes made here" in pulled.stderr, pulled.output
    assert (bob / "d" / "a.txt").read_text() == "bob's own a\n"
    assert (bob / "d" / "b.txt").read_text() == "bob's own b\n"
    checked_out = run_dvx("checkout", "d", cwd=bob)
    assert checked_out.code == 1 and (bob / "d" / "b.txt").exists(), checked_out.output
    must("checkout", "--force", "d", cwd=bob)
    assert (bob / "d" / "a.txt").read_text() == "alice's a\n"
    assert not (bob / "d" / "b.txt").exists()


def _bob_s_own_file_in_d_never_fetched(team, alice_s_d: str) -> Path:
    """bob pulled only e, never d, whose version HEAD was at his cache never held; he then
    put a file of his own in d (bytes his cache has: a copy of e/x) before `git pull`
    brought alice's next d (a change, or a file where the folder was)."""
    alice = team.founder()
    write(alice / "d" / "a", "a1\n")
    write(alice / "d" / "b", "b1\n")
    write(alice / "e" / "x", "e/x v1\n")
    must("add", "d", "e", cwd=alice)
    share(alice, "v1")
    bob = team.clone("bob", pull=False)
    must("pull", "e", cwd=bob)
    if alice_s_d == "changed":
        edit(alice, "d/a", "a2\n")
    else:
        must("remove", "--outs", "d.dvx", cwd=alice)
        write(alice / "d", "d is a file now\n")
    must("add", "d", cwd=alice)
    share(alice, "v2")
    write(bob / "d" / "mine", "e/x v1\n")
    git(bob, "pull", "-q", "origin", "main")
    return bob


def _kept_as_a_change(bob: Path, command: tuple[str, ...], alice_s_d: str) -> None:
    """`command` keeps bob's d/mine, naming it a change made here (or, where alice's d is a
    file now, the folder in its way holding it); status calls d modified."""
    ran = run_dvx(*command, cwd=bob)
    assert ran.code == 1 and "d/mine" in ran.stderr, ran.output
    kept_as = ("it has changes made here" if alice_s_d == "changed"
               else "a directory is in the way, holding 1 file of yours")
    assert kept_as in ran.stderr, ran.output
    assert (bob / "d" / "mine").read_text() == "e/x v1\n"
    assert status_of(bob, "d")["workspace"] == "modified"


@pytest.mark.parametrize("alice_s_d", ["changed", "made-a-file"])
def test_pull_keeps_one_s_own_files_in_a_directory_whose_older_version_was_never_fetched(
        team, alice_s_d):
    """Pull fetches the manifest of the version of d HEAD was at, which bob never fetched,
    to tell: no version recorded his d/mine, so it is a change made here, which pull keeps,
    as it does in a clone that had fetched that version."""
    bob = _bob_s_own_file_in_d_never_fetched(team, alice_s_d)
    _kept_as_a_change(bob, ("pull",), alice_s_d)


@pytest.mark.parametrize("alice_s_d", ["changed", "made-a-file"])
def test_fetch_then_checkout_keeps_one_s_own_files_in_a_directory_never_fetched(
        team, alice_s_d):
    """`dvx fetch` brings the manifests pull would (of the versions of d HEAD's recent
    commits recorded), so the checkout after it tells bob's d/mine from dvx's and keeps it,
    as pull does."""
    bob = _bob_s_own_file_in_d_never_fetched(team, alice_s_d)
    must("fetch", cwd=bob)
    _kept_as_a_change(bob, ("checkout",), alice_s_d)


@pytest.mark.parametrize("alice_s_d", ["changed", "made-a-file"])
def test_a_checkout_that_cannot_tell_keeps_a_file_the_new_version_does_not_name(
        team, alice_s_d):
    """The manifest of the version of d HEAD was at is not in bob's cache (gc took it), so
    which of his files in d a checkout placed cannot be told. A file at a path the version
    placed now names may be replaced (a teammate's change over an older version); d/mine,
    which it does not name, is kept: no record says dvx placed it."""
    bob = _bob_s_own_file_in_d_never_fetched(team, alice_s_d)
    must("fetch", cwd=bob)
    must("gc", "-w", "-f", "--grace", "0", cwd=bob)
    _kept_as_a_change(bob, ("checkout",), alice_s_d)
    if alice_s_d == "changed":
        assert (bob / "d" / "a").read_text() == "a2\n"


def _alice_s_change_to_d_pulled_by_bob_without_record(team) -> tuple[Path, Path]:
    """bob synced alice's directory d (f1..f3) with no record of it (as a dvx that kept
    none left it) when `git pull` brings her change of d/f1; he fetched it, and `dvx gc -w`
    then took the older version's manifest from his cache."""
    alice = team.founder()
    for i in (1, 2, 3):
        write(alice / "d" / f"f{i}", f"v1 {i}\n")
    must("add", "d", cwd=alice)
    share(alice, "v1")
    bob = team.clone("bob")
    (bob / ".dvx/tmp/synced.json").unlink()
    edit(alice, "d/f1", "alice's v2\n")
    must("add", "d", cwd=alice)
    share(alice, "v2")
    git(bob, "pull", "-q", "origin", "main")
    must("fetch", cwd=bob)
    return alice, bob


def test_pull_without_a_record_takes_a_teammate_s_change_after_gc_took_the_older_manifest(
        team):
    """The version of d bob's files hold is no longer in his cache, so which of them are
    his own cannot be told from HEAD's recent commits: none is taken for a change made
    here, and pull places alice's d/f1 over the version a checkout placed."""
    _, bob = _alice_s_change_to_d_pulled_by_bob_without_record(team)
    must("gc", "-w", "-f", "--grace", "0", cwd=bob)
    assert status_of(bob, "d")["workspace"] == "outdated"
    pulled = run_dvx("pull", cwd=bob)
    assert pulled.code == 0, pulled.output
    assert (bob / "d" / "f1").read_text() == "alice's v2\n"
    assert run_dvx("status", "-q", cwd=bob).code == 0


def test_a_pull_keeping_an_older_version_it_has_no_record_of_never_calls_it_a_change(team):
    """bob's d/f1 holds the older version, whose bytes neither his cache nor the remote
    holds any more, so pull keeps it; what it records of d compares it with that version,
    as status did before: never a change made here, for commit to record over alice's."""
    alice, bob = _alice_s_change_to_d_pulled_by_bob_without_record(team)
    must("gc", "-w", "-c", "-f", "--grace", "0", "--force-last-copy", cwd=alice)
    must("gc", "-w", "-f", "--grace", "0", "--force-last-copy", cwd=bob)
    assert status_of(bob, "d")["workspace"] == "outdated"
    pulled = run_dvx("pull", cwd=bob)
    assert pulled.code == 1 and "Skipped d/f1" in pulled.stderr, pulled.output
    assert (bob / "d" / "f1").read_text() == "v1 1\n"
    text = run_dvx("status", cwd=bob).stdout
    assert "modified: f1" not in text and "`dvx commit` records" not in text, text
    assert run_dvx("commit", cwd=bob).code == 1
    assert git(bob, "status", "--porcelain") == ""  # alice's pointer stands


def test_a_directory_past_the_versions_dvx_keeps_names_a_full_pull_never_force(team):
    """bob pulled one file of d at each of nine newer versions (more than a record keeps),
    then edited another: add cannot tell his change from alice's, and `--force` cannot
    record it either, so add and status name a full `dvx pull d`, never `commit --force`
    (refused) or `checkout --force` (which discards his edit). After that pull, add records
    his edit with alice's changes."""
    alice = team.founder()
    for i in range(1, 11):
        write(alice / "d" / f"g{i}.txt", f"g{i} v1\n")
    write(alice / "d" / "h.txt", "h v1\n")
    must("add", "d", cwd=alice)
    share(alice, "v1")
    bob = team.clone("bob")
    for i in range(1, 10):
        if i == 1:
            edit(alice, "d/h.txt", "h by alice\n")
        edit(alice, f"d/g{i}.txt", f"g{i} v2\n")
        _publish(alice, f"g{i}")
        git(bob, "pull", "-q", "origin", "main")
        must("pull", f"d/g{i}.txt", cwd=bob)
    edit(bob, "d/g10.txt", "g10 by bob\n")
    refused = run_dvx("add", "d", cwd=bob)
    assert refused.code == 1, refused.output
    assert "more versions of it than dvx keeps track of" in refused.stderr
    assert "Run a full `dvx pull d` first" in refused.stderr, refused.stderr
    assert "Keep your version with" not in refused.stderr
    status = run_dvx("status", cwd=bob).stdout
    assert "a full `dvx pull d` places Git's version" in status, status
    assert "`dvx commit --force PATH` keeps yours" not in status
    run_dvx("pull", "d", cwd=bob)
    assert (bob / "d/g10.txt").read_text() == "g10 by bob\n"
    must("add", "d", cwd=bob)
    share(bob, "bob's g10")
    assert _tree_of(team.clone("carol"), "d") == {
        **{f"g{i}.txt": f"g{i} v2\n" for i in range(1, 10)},
        "g10.txt": "g10 by bob\n", "h.txt": "h by alice\n"}


def test_a_folder_of_yours_a_pull_kept_where_a_file_now_goes_is_named_with_a_way_that_works(
        team):
    """A teammate adds the file d to a tracked directory where Alice made a folder d of her
    own: the pull keeps the folder, so status never offers the checkout that would skip it
    again; it names the folder and the ways that work (move it away, then a checkout; or a
    forced checkout, which discards it), and typing them places the teammate's file."""
    alice = team.founder()
    write(alice / "data" / "a", "a\n")
    must("add", "data", cwd=alice)
    share(alice, "v1")
    bob = team.clone("bob")
    write(bob / "data" / "d", "bob's file\n")
    must("add", "data", cwd=bob)
    share(bob, "bob adds d")
    write(alice / "data" / "d" / "mine", "mine\n")
    write(alice / "data" / "a", "alice's edit\n")  # what a forced checkout of d must keep
    git(alice, "pull", "-q")
    assert run_dvx("pull", cwd=alice).code == 1
    assert (alice / "data" / "d" / "mine").read_text() == "mine\n"

    said = " ".join(run_dvx("status", cwd=alice).stdout.split())
    assert "`dvx checkout data` places the files not pulled" not in said, said
    assert "records changes" not in said, said
    assert "(data/d, yours, with changes not in the cache, is where a file not pulled goes: " \
        "`dvx checkout data` keeps it, placing only the other files not pulled, and `dvx " \
        "commit` records it there only with --force; move it away, then `dvx checkout data` " \
        "places them " \
        "all, or `dvx checkout --force data/d` discards it)" in said, said
    assert run_dvx("commit", cwd=alice).code == 1
    carol = team.base / "carol"
    shutil.copytree(alice, carol, symlinks=True)
    must("checkout", "--force", "data/d", cwd=carol)
    assert (carol / "data" / "d").read_text() == "bob's file\n"
    assert (carol / "data" / "a").read_text() == "alice's edit\n"
    write(alice / "data" / "a", "a\n")  # her edit undone: the plain checkout places them all
    os.rename(alice / "data" / "d", team.base / "mine")
    must("checkout", "data", cwd=alice)
    assert (alice / "data" / "d").read_text() == "bob's file\n"
    assert (team.base / "mine" / "mine").read_text() == "mine\n"
    assert "Data and pointers are up to date." in run_dvx("status", cwd=alice).stdout


def test_a_folder_of_yours_in_the_way_is_named_while_other_data_is_not_in_the_cache(team):
    """The hint naming a folder of the user's where a file not pulled goes is given whatever
    else status says: an unrelated output the cache lacks (its `dvx pull` hint) does not
    hide it."""
    alice = team.founder()
    write(alice / "data" / "a", "a\n")
    must("add", "data", cwd=alice)
    share(alice, "v1")
    bob = team.clone("bob")
    write(bob / "data" / "d", "bob's file\n")
    must("add", "data", cwd=bob)
    share(bob, "bob adds d")
    write(bob / "other", "not pushed\n")
    must("add", "other", cwd=bob)
    commit(bob, "bob adds other, its data not pushed")
    git(bob, "push", "-q", "origin", "HEAD")
    write(alice / "data" / "d" / "mine", "mine\n")
    git(alice, "pull", "-q")
    assert run_dvx("pull", cwd=alice).code == 1

    said = " ".join(run_dvx("status", cwd=alice).stdout.split())
    assert "(`dvx pull` fetches what is not in the cache)" in said, said
    assert "(data/d, yours, with changes not in the cache, is where a file not pulled goes" \
        in said, said
    assert (alice / "data" / "d" / "mine").read_text() == "mine\n"


def test_a_file_of_yours_where_a_folder_not_pulled_goes_is_named_as_such(team):
    """A teammate adds files in a folder d of a tracked directory where Alice made a file d
    of her own: status and commit say it is a file of hers where a folder goes, never a
    folder where a file goes."""
    alice = team.founder()
    write(alice / "data" / "a", "a\n")
    must("add", "data", cwd=alice)
    share(alice, "v1")
    bob = team.clone("bob")
    write(bob / "data" / "d" / "x", "bob's file\n")
    must("add", "data", cwd=bob)
    share(bob, "bob adds d/x")
    write(alice / "data" / "d", "mine\n")
    git(alice, "pull", "-q")
    assert run_dvx("pull", cwd=alice).code == 1

    said = " ".join(run_dvx("status", cwd=alice).stdout.split())
    assert "(data/d, yours, with changes not in the cache, is where a folder of files not " \
        "pulled goes" in said, said
    refused = run_dvx("commit", cwd=alice)
    assert refused.code == 1, refused.output
    told = " ".join(refused.stderr.split())
    assert "(a file where a folder goes)" in told and "a folder where a file goes" not in told, \
        told
    assert (alice / "data" / "d").read_text() == "mine\n"


def test_a_folder_of_yours_where_a_file_was_after_a_partial_checkout_is_committed(team):
    """Bob's file `m` became a folder of his, and alice's became another folder; a checkout
    of hers that placed only part of it (a file not in the cache) stacks no record of the
    folder on the record of the file: status, commit and pull read the folder, never the
    file's object as a manifest."""
    alice = team.founder()
    write(alice / "m", "file\n")
    must("add", "m", cwd=alice)
    share(alice, "m, a file")
    bob = team.clone("bob")
    (alice / "m").unlink()
    write(alice / "m" / "a1", "a1\n")
    write(alice / "m" / "a2", "a2\n")
    must("commit", cwd=alice)
    share(alice, "m, a folder")
    (bob / "m").unlink()
    write(bob / "m" / "b1", "b1\n")
    write(bob / "m" / "a1", "a1\n")
    git(bob, "pull", "-q")
    partial = run_dvx("checkout", cwd=bob)
    assert partial.code == 1 and "Not in the cache" in partial.stderr, partial.output

    for args in (("status",), ("commit",), ("pull",)):
        result = run_dvx(*args, cwd=bob)
        assert "manifest" not in result.output and "Traceback" not in result.output, \
            f"dvx {' '.join(args)}: {result.output}"
    must("commit", "--force", "m", cwd=bob)
    assert sorted(p.name for p in (bob / "m").iterdir()) == ["a1", "a2", "b1"]
    assert run_dvx("status", "-q", cwd=bob).code == 0


def test_a_refusal_over_a_teammate_s_change_the_cache_lacks_names_dvx_pull(team):
    """After `git pull` of a teammate's change whose data the cache does not hold yet, `add`,
    `commit` and `repro` lead with `dvx pull PATH`, which brings it; `dvx checkout PATH` alone
    would only say it is not in the cache. Once the data is cached, a checkout is enough."""
    alice = _founder_sharing_v1(team)
    write(alice / "dvx.yaml", "stages:\n  copy:\n    cmd: cp data.csv out.csv\n"
          "    deps: [data.csv]\n    outs: [out.csv]\n")
    must("repro", cwd=alice)
    share(alice, "a stage")
    bob = team.clone("bob")
    edit(bob, "data.csv", "v2\n")
    must("add", "data.csv", cwd=bob)
    share(bob, "v2")
    git(alice, "pull", "-q", "origin", "main")
    for args in (("add", "data.csv"), ("commit", "data.csv"), ("repro",)):
        refused = run_dvx(*args, cwd=alice)
        assert refused.code == 1, refused.output
        assert "Run `dvx pull data.csv` to get the data" in refused.stderr, refused.output
        assert "dvx checkout data.csv" not in refused.stderr, refused.output
    skipped = run_dvx("commit", cwd=alice)
    assert skipped.code == 0, skipped.output
    assert "Not recorded data.csv" in skipped.stderr and "`dvx pull data.csv` brings" \
        in skipped.stderr and "dvx checkout data.csv" not in skipped.stderr, skipped.output
    must("fetch", cwd=alice)
    refused = run_dvx("add", "data.csv", cwd=alice)
    assert refused.code == 1 and "Run `dvx checkout data.csv`" in refused.stderr, \
        refused.output


def test_a_push_of_data_fsck_moved_aside_names_the_quarantine_not_a_teammate(team):
    """Data never pushed whose cached object `dvx fsck` moved aside (edited through its
    hard link): push names the file it went to, not a teammate who never pushed, nor a gc;
    where the workspace still holds the recorded version (a copy), `dvx commit` stores it."""
    alice = team.founder()
    must("config", "--local", "cache.type", "hardlink", cwd=alice)
    write(alice / "d/f1", "one\n")
    write(alice / "d/f2", "two\n")
    write(alice / "m.csv", "m1\n")
    must("add", "d", cwd=alice)
    must("config", "--local", "cache.type", "copy", cwd=alice)
    must("add", "m.csv", cwd=alice)
    commit(alice, "v1")
    _edit_through_its_link(alice / "d/f1")
    m_oid = pointer_oid(alice / "m.csv.dvx")
    m_object = alice / ".dvx/cache/files/xxh128" / m_oid[:2] / m_oid[2:]
    os.chmod(m_object, 0o644)
    m_object.write_text("damaged\n")
    checked = run_dvx("fsck", cwd=alice)
    assert "2 corrupt" in checked.output, checked.output
    pushed = run_dvx("push", cwd=alice)
    said = " ".join(pushed.stderr.split())
    assert pushed.code == 1, pushed.output
    quarantine = alice / ".dvx/cache/quarantine"
    f1_copy = next(p for p in quarantine.iterdir() if not p.name.startswith(m_oid))
    assert f"Failed d/f1 ({f1_copy.name.split('.')[0]}): not on the remote, and the cache " \
        f"here moved it to {f1_copy} as damaged" in said, said
    assert "`dvx commit` records it as a new version" in said
    assert "`dvx commit m.csv` stores it in the cache again" in said, said
    assert "without running `dvx push`" not in said and "gc --remote" not in said, said


def test_a_push_to_a_second_remote_of_data_fsck_moved_aside_names_the_remote_holding_it(
        team, tmp_path):
    """Data pushed to the default remote, then edited through its symbolic link and moved
    aside by `dvx fsck`: a push to a second remote names the fetch from the default one
    that brings the recorded version back, never only a clone's cache; pasted, with the
    push again, it goes through."""
    alice = team.founder()
    must("remote", "add", "second", str(tmp_path / "second"), cwd=alice)
    must("config", "--local", "cache.type", "symlink", cwd=alice)
    write(alice / "d/f1", "one\n")
    must("add", "d", cwd=alice)
    commit(alice, "v1")
    must("push", cwd=alice)
    _edit_through_its_link(alice / "d/f1")
    run_dvx("fsck", cwd=alice)
    pushed = run_dvx("push", "-r", "second", cwd=alice)
    said = " ".join(pushed.stderr.split())
    assert pushed.code == 1, pushed.output
    named = re.search(r"from another remote that holds it \(`(dvx fetch -r [^`]+)` \(the "
                      r"default remote\), then `(dvx push -r [^`]+)` again\)", said)
    assert named is not None and named[1] == "dvx fetch -r shared", said
    assert named[2] == "dvx push -r second", said
    pasted(named[1], alice)
    pasted(named[2], alice)


def test_a_push_of_a_folder_s_file_the_cache_moved_aside_names_dvx_commit_of_the_folder(team):
    """A file inside a tracked folder whose cached object `dvx fsck` moved aside (d), or the
    upload found changed and moved aside (e), while the workspace holds the folder as
    recorded (cache.type copy): push names `dvx commit` of the folder, which stores it again,
    as for a tracked file of its own; never that only another clone has it."""
    alice = team.founder()
    must("config", "--local", "cache.type", "copy", cwd=alice)
    for name in ("d", "e"):
        write(alice / name / "one", f"{name} one\n")
        write(alice / name / "two", f"{name} two\n")
        must("add", name, cwd=alice)
    commit(alice, "v1")
    objects = {}
    for name in ("d", "e"):
        oid = xxhash.xxh3_128_hexdigest(f"{name} two\n".encode())
        objects[name] = (oid, alice / ".dvx/cache/files/xxh128" / oid[:2] / oid[2:])
    os.chmod(objects["d"][1], 0o644)
    objects["d"][1].write_text("damaged\n")
    checked = run_dvx("fsck", cwd=alice)
    assert "1 corrupt" in checked.output, checked.output
    os.chmod(objects["e"][1], 0o644)
    objects["e"][1].write_text("damaged since fsck\n")  # another size: the upload sees it
    pushed = run_dvx("push", cwd=alice)
    said = " ".join(pushed.stderr.split())
    assert pushed.code == 1, pushed.output
    for name in ("d", "e"):
        assert f"Failed {name}/two ({objects[name][0]}): " in said, said
        assert "The workspace still holds the recorded version unchanged: `dvx commit " \
            f"{name}` stores it in the cache again" in said, said
    assert "comes back only from" not in said and "records it as a new version" not in said, \
        said
    must("commit", "d", "e", cwd=alice)  # the way out named, pasted
    again = run_dvx("push", cwd=alice)
    assert again.code == 0 and "0 failed" in again.output, again.output
    assert run_dvx("status", "-c", cwd=alice).code == 0


def test_a_core_hash_of_a_teammate_s_own_config_never_records_data_the_team_cannot_read(team):
    """Bob's .dvx/config.local says sha256 while the team's data is xxh128 (its .dvx/config
    names none): add refuses before writing anything, naming his config.local and the
    command that fixes it there; his status names the same fix for the team's pointers,
    never a `dvx config` of the tracked config, which his config.local would override."""
    alice = team.founder()
    write(alice / "d" / "a", "a\n")
    must("add", "d", cwd=alice)
    share(alice, "d")
    bob = team.clone("bob")
    must("config", "--local", "core.hash", "sha256", cwd=bob)
    write(bob / "newfile", "new\n")
    refused = run_dvx("add", "newfile", cwd=bob)
    assert refused.code == 2, refused.output
    assert refused.stderr.startswith(
        "ERROR: This clone's .dvx/config.local sets core.hash to sha256, but this "
        "repository's data is named by xxh128 (as 'd.dvx' records)"), refused.output
    assert "`dvx config --local --unset core.hash`" in refused.stderr, refused.output
    assert not (bob / "newfile.dvx").exists() and git(bob, "status", "-s") == "?? newfile\n"
    status = run_dvx("status", cwd=bob)
    assert "'d.dvx' uses xxh128, as this repository's data does" in status.stderr, status.output
    assert "`dvx config --local --unset core.hash`" in status.stderr, status.output
    assert "`dvx config core.hash" not in status.output, status.output
    must("config", "--local", "--unset", "core.hash", cwd=bob)  # the fix named, pasted
    must("add", "newfile", cwd=bob)
    assert "algo: xxh128" in (bob / "newfile.dvx").read_text()
    assert run_dvx("status", "-q", cwd=bob).code == 0


def test_a_pointer_of_another_algorithm_is_named_to_add_again_never_the_repository_to_switch(
        team, tmp_path):
    """A pointer a teammate's own core.hash wrote (sha256) into the team's xxh128 data: the
    reader's hint is to add that data again with the repository's algorithm, which works as
    given; never to switch core.hash, which would leave every other pointer unreadable."""
    alice = team.founder()
    write(alice / "d" / "a", "a\n")
    must("add", "d", cwd=alice)
    other = make_git_repo(tmp_path / "other")
    must("init", cwd=other)
    must("config", "core.hash", "sha256", cwd=other)
    write(other / "newfile", "new\n")
    must("add", "newfile", cwd=other)
    shutil.copy(other / "newfile.dvx", alice / "newfile.dvx")
    write(alice / "newfile", "new\n")
    with open(alice / ".gitignore", "a") as ignore:
        ignore.write("/newfile\n")
    commit(alice, "d, and newfile by sha256")
    status = run_dvx("status", cwd=alice)
    assert ("'newfile.dvx' uses sha256, but this repository's data is named by xxh128 (as "
            "'d.dvx' records)" in status.stderr), status.output
    assert "`rm newfile.dvx`, which keeps the data, then `dvx add newfile`" in status.stderr
    assert "Set core.hash" not in status.output and "dvx config core.hash sha256" not in \
        status.output, status.output
    (alice / "newfile.dvx").unlink()
    must("add", "newfile", cwd=alice)
    assert "algo: xxh128" in (alice / "newfile.dvx").read_text()
    assert run_dvx("status", "-q", cwd=alice).code == 0


def test_the_pre_commit_hook_stops_a_pointer_of_another_algorithm_than_the_repository_s_data(
        team, tmp_path):
    """A pointer file of sha256 (written by a dvx whose own config chose it, or copied in)
    staged into a repository whose data is xxh128: the pre-commit hook stops the commit,
    naming it and the way out, which works as given; a first commit of data chooses."""
    alice = team.founder()
    must("install", cwd=alice)
    write(alice / "d" / "a", "a\n")
    must("add", "d", cwd=alice)
    commit(alice, "d")
    other = make_git_repo(tmp_path / "other")
    must("init", cwd=other)
    must("config", "core.hash", "sha256", cwd=other)
    write(other / "newfile", "new\n")
    must("add", "newfile", cwd=other)
    must("install", cwd=other)
    commit(other, "the first data, by sha256")  # nothing else to differ from
    shutil.copy(other / "newfile.dvx", alice / "newfile.dvx")
    write(alice / "newfile", "new\n")
    with open(alice / ".gitignore", "a") as ignore:
        ignore.write("/newfile\n")
    git(alice, "add", "newfile.dvx", ".gitignore")
    refused = subprocess.run(["git", "commit", "-qm", "newfile"], cwd=alice,
                             capture_output=True, text=True)
    said = " ".join(refused.stderr.split())
    assert refused.returncode != 0, refused.stderr
    assert ("dvx stopped the commit: it would put into Git pointer files recording another "
            "hash algorithm than this repository's data is named by (xxh128, as 'd.dvx' "
            "records)" in said), refused.stderr
    assert "`rm newfile.dvx`, which keeps the data, then `dvx add newfile`" in said, said
    (alice / "newfile.dvx").unlink()
    must("add", "newfile", cwd=alice)
    git(alice, "add", "newfile.dvx")
    git(alice, "commit", "-qm", "newfile")
    assert "algo: xxh128" in git(alice, "show", "HEAD:newfile.dvx")


@pytest.mark.parametrize("way", ["set back", "switch"])
def test_the_pre_commit_hook_stops_a_committed_core_hash_the_tracked_data_does_not_record(
        team, way):
    """`dvx config core.hash sha256` in a repository whose data is xxh128, then `git commit
    -a`: every clone would hash with sha256 and skip every pointer, so the hook stops it,
    naming the files and the ways out of both intents. Each, pasted, makes a commit after
    which a teammate pulls the data: the setting set back, or the data added again with the
    new algorithm."""
    alice = team.founder()
    must("install", cwd=alice)
    write(alice / "data c.csv", "v1\n")
    write(alice / "notes.txt", "v1\n")
    must("add", "data c.csv", cwd=alice)
    share(alice, "data")
    must("config", "core.hash", "sha256", cwd=alice)
    write(alice / "notes.txt", "v2\n")
    before = git(alice, "rev-parse", "HEAD")
    refused = subprocess.run(["git", "commit", "-qam", "sha256"], cwd=alice,
                             capture_output=True, text=True)
    said = " ".join(refused.stderr.split())
    assert refused.returncode == 1 and git(alice, "rev-parse", "HEAD") == before, said
    assert ("dvx stopped the commit: its .dvx/config sets core.hash to sha256, which the data "
            "this repository tracks does not record" in said), said
    assert "\n    data c.csv.dvx\n" in refused.stderr, refused.stderr
    named = [c for c in re.findall(r"`((?:dvx|git add|rm) [^`]*)`", said)
             if c != "dvx config core.hash"]  # the check before the steps, not one of them
    assert named == ["dvx config --unset core.hash", "git add -- .dvx/config",
                     "rm 'data c.csv.dvx'", "dvx add 'data c.csv'", "dvx pull"], said
    if way == "set back":
        for command in named[:2]:
            pasted(command, alice)
    else:
        for command in named[2:4]:
            pasted(command, alice)
        git(alice, "add", "data c.csv.dvx")
    done = subprocess.run(["git", "commit", "-qam", "sha256"], cwd=alice, capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr
    must("push", cwd=alice)
    git(alice, "push", "-q", "origin", "HEAD")
    bob = team.clone("bob")  # pulls the data
    assert (bob / "data c.csv").read_text() == "v1\n"
    algo = "sha256" if way == "switch" else "xxh128"
    assert f"algo: {algo}" in (bob / "data c.csv.dvx").read_text()
    assert run_dvx("status", "-q", cwd=bob).code == 0


@pytest.mark.parametrize("way", ["unset", "left out", "unset, a global sha256 kept"])
def test_the_pre_commit_hook_stops_a_commit_leaving_clones_the_default_the_data_does_not_record(
        team, way):
    """A repository whose committed .dvx/config sets core.hash sha256, its data sha256: a
    commit of `dvx config --unset core.hash`, or of an index without .dvx/config (`git rm
    --cached`), would have every clone hash with the default, xxh128, and skip every
    pointer, as an explicit switch would; the hook stops it the same way, naming the
    setting to set back, which pasted makes a commit after which a teammate pulls the data.
    Under a global core.hash sha256, the switch's record-again commands, pasted, record the
    data with xxh128, as clones hash."""
    global_config = Path(os.environ["XDG_CONFIG_HOME"]) / "dvx" / "config"
    alice = team.founder()
    must("install", cwd=alice)
    must("config", "core.hash", "sha256", cwd=alice)
    write(alice / "data.csv", "v1\n")
    must("add", "data.csv", cwd=alice)
    share(alice, "data, by sha256")
    if way.startswith("unset, a global"):
        write(global_config, "[core]\nhash = sha256\n")
    if way.startswith("unset"):
        must("config", "--unset", "core.hash", cwd=alice)
        git(alice, "add", ".dvx/config")
    else:
        git(alice, "rm", "-q", "--cached", ".dvx/config")
    before = git(alice, "rev-parse", "HEAD")
    refused = subprocess.run(["git", "commit", "-qm", way], cwd=alice, capture_output=True,
                             text=True)
    said = " ".join(refused.stderr.split())
    assert refused.returncode == 1 and git(alice, "rev-parse", "HEAD") == before, said
    why = ("its .dvx/config sets no core.hash" if way.startswith("unset")
           else "it has no .dvx/config")
    assert (f"dvx stopped the commit: {why}, leaving the default, xxh128, which the data this "
            "repository tracks does not record" in said), said
    assert "\n    data.csv.dvx\n" in refused.stderr, refused.stderr
    named = re.findall(r"`((?:dvx config|git add|git restore) [^`]*)`", said)
    back = (["dvx config core.hash sha256", "git add -- .dvx/config"] if way.startswith("unset")
            else ["git restore --staged -- .dvx/config"])
    assert named[:len(back)] == back, said
    if way.startswith("unset, a global"):  # the switch meant: the data recorded again
        again = [c for c in re.findall(r"`((?:dvx|rm) [^`]*)`",
                                       said.split("A switch of algorithm")[1])
                 if c != "dvx config core.hash"]  # the check, not a step
        assert again[:3] == ["dvx config --global --unset core.hash", "rm data.csv.dvx",
                             "dvx add data.csv"], said
        for command in again[:3]:
            pasted(command, alice)
        assert "algo: xxh128" in (alice / "data.csv.dvx").read_text()
        git(alice, "add", "data.csv.dvx")
        must("push", cwd=alice)
        back = []
    for command in back:
        pasted(command, alice)
    git(alice, "commit", "-qm", way, "--allow-empty")
    git(alice, "push", "-q", "origin", "HEAD")
    bob = team.clone("bob")  # pulls the data
    assert (bob / "data.csv").read_text() == "v1\n"
    assert run_dvx("status", "-q", cwd=bob).code == 0


def test_a_global_core_hash_reaches_every_clone_through_the_committed_config(team):
    """A global core.hash, a user's default for new projects, is read by no clone: `dvx
    init` under it writes it into the new .dvx/config, which is committed, so a teammate
    without it pulls the data. Set after `dvx init`, `dvx config --global` says no clone
    reads it, and the hook stops the commit of the data it records, naming the setting to
    share, which pasted makes a commit after which a teammate pulls the data."""
    global_config = Path(os.environ["XDG_CONFIG_HOME"]) / "dvx" / "config"
    write(global_config, "[core]\nhash = sha256\n")
    alice = team.founder()  # its init under the global setting
    assert "hash = sha256" in git(alice, "show", "HEAD:.dvx/config")
    must("install", cwd=alice)
    write(alice / "a.csv", "a\n")
    must("add", "a.csv", cwd=alice)
    share(alice, "a, by sha256")
    global_config.unlink()
    bob = team.clone("bob")  # no global setting: the committed one names the data
    assert (bob / "a.csv").read_text() == "a\n"
    assert "algo: sha256" in (bob / "a.csv.dvx").read_text()

    (team.base / "later").mkdir()
    later = Team(team.base / "later")
    carol = later.founder()  # initialized before her global setting
    must("install", cwd=carol)
    told = run_dvx("config", "--global", "core.hash", "sha256", cwd=carol)
    assert told.code == 0 and "which no clone of this repository reads" in told.stderr, \
        told.output
    write(carol / "c.csv", "c\n")
    must("add", "c.csv", cwd=carol)
    git(carol, "add", "-A")
    refused = subprocess.run(["git", "commit", "-qm", "c"], cwd=carol, capture_output=True,
                             text=True)
    said = " ".join(refused.stderr.split())
    assert refused.returncode == 1 and "\n    c.csv.dvx\n" in refused.stderr, said
    assert ("it would put into Git data recorded with sha256 (a core.hash of your own config "
            "chose it, most likely), but every clone hashes with xxh128 (its .dvx/config sets "
            "no core.hash, leaving the default, xxh128)" in said), said
    named = re.findall(r"`((?:dvx config|git add) [^`]*)`", said)
    assert named[:2] == ["dvx config core.hash sha256", "git add -- .dvx/config"], said
    for command in named[:2]:
        pasted(command, carol)
    git(carol, "commit", "-qm", "c")
    must("push", cwd=carol)
    git(carol, "push", "-q", "origin", "HEAD")
    global_config.unlink()
    dave = later.clone("dave")
    assert (dave / "c.csv").read_text() == "c\n"


def test_the_hook_s_way_to_record_again_as_clones_hash_works_pasted_under_a_global_core_hash(
        team):
    """Set after `dvx init`, a global core.hash records new data with sha256, which the hook
    stops: its other way out, recording the data again as clones hash, names first the
    `dvx config --global --unset core.hash` without which the `dvx add` it names records
    sha256 again; pasted in order, the commit goes through with xxh128."""
    global_config = Path(os.environ["XDG_CONFIG_HOME"]) / "dvx" / "config"
    carol = team.founder()
    must("install", cwd=carol)
    write(global_config, "[core]\nhash = sha256\n")
    write(carol / "c.csv", "c\n")
    must("add", "c.csv", cwd=carol)
    git(carol, "add", "-A")
    refused = subprocess.run(["git", "commit", "-qm", "c"], cwd=carol, capture_output=True,
                             text=True)
    said = " ".join(refused.stderr.split())
    assert refused.returncode == 1, said
    again = said[said.index("Else record it again with xxh128"):]
    named = [c for c in re.findall(r"`((?:dvx|rm) [^`]*)`", again)
             if c != "dvx config core.hash"]  # what to check, not to run
    assert named[:3] == ["dvx config --global --unset core.hash", "rm c.csv.dvx",
                         "dvx add c.csv"], said
    for command in named[:3]:
        pasted(command, carol)
    git(carol, "add", "-A")
    git(carol, "commit", "-qm", "c")
    assert "algo" not in (carol / "c.csv.dvx").read_text() or \
        "algo: xxh128" in (carol / "c.csv.dvx").read_text()


def test_a_merge_stopped_over_a_teammate_s_pointer_of_another_algorithm_names_what_works_here(
        team):
    """Alice's own config hashes with sha256, allowed while her clone tracked no data, and
    her clone runs no dvx hook to stop her commit of it (no `dvx install`); bob tracks his
    with the default meanwhile. Bob's `git pull` is stopped over alice's pointer,
    whose data bob never had: the way out named is alice's to add it again and push, and
    bob's to abort the merge, never an `rm` then `dvx add` here. Pasted, the pull after
    alice's push merges, and bob pulls her data."""
    alice = team.founder()
    bob = team.clone("bob")
    must("install", cwd=bob)
    must("config", "--local", "core.hash", "sha256", cwd=alice)
    write(alice / "a c.csv", "a\n")
    must("add", "a c.csv", cwd=alice)
    share(alice, "a")
    write(bob / "b.csv", "b\n")
    must("add", "b.csv", cwd=bob)
    commit(bob, "b")
    stopped = subprocess.run(["git", "pull", "-q", "--no-rebase", "--no-edit"], cwd=bob,
                             capture_output=True, text=True)
    said = " ".join(stopped.stderr.split())
    assert stopped.returncode != 0 and "\n    a c.csv.dvx\n" in stopped.stderr, said
    assert "The data of 'a c.csv.dvx' is not in this workspace" in said, said
    assert "Add their data again" not in said, said
    named = re.findall(r"`((?:git merge|dvx add|rm) [^`]*)`", said)
    assert named == ["rm 'a c.csv.dvx'", "dvx add 'a c.csv'", "git merge --abort"], said
    status = " ".join(run_dvx("status", "a c.csv", cwd=bob).stderr.split())
    assert ("its data is not in this workspace, so whoever has it (who added it, most likely) "
            "adds it again with xxh128 there" in status), status
    pasted(named[2], bob)
    must("config", "--local", "--unset", "core.hash", cwd=alice)  # her `dvx config core.hash`
    pasted(named[0], alice)
    pasted(named[1], alice)
    share(alice, "a again, with xxh128")
    merged = subprocess.run(["git", "pull", "-q", "--no-rebase", "--no-edit"], cwd=bob,
                            capture_output=True, text=True)
    assert merged.returncode == 0, merged.stderr
    must("pull", cwd=bob)
    assert (bob / "a c.csv").read_text() == "a\n" and (bob / "b.csv").read_text() == "b\n"
    assert run_dvx("status", "-q", cwd=bob).code == 0


def test_a_cherry_pick_of_a_teammate_s_pointer_of_another_algorithm_names_its_own_abort(team):
    """As the merge above, but bob cherry-picks alice's commit, stopped on another file: the
    commit `git cherry-pick --continue` makes is stopped over her pointer, naming the
    cherry-pick's own abort beside taking the pointer out of the commit, never `git merge
    --abort`, which fails there. Pasted, the abort leaves bob's branch as it was."""
    alice = team.founder()
    bob = team.clone("bob")
    must("install", cwd=bob)
    must("config", "--local", "core.hash", "sha256", cwd=alice)
    write(alice / "a c.csv", "a\n")
    write(alice / "notes.txt", "alice's\n")
    must("add", "a c.csv", cwd=alice)
    share(alice, "a")
    write(bob / "b.csv", "b\n")
    write(bob / "notes.txt", "bob's\n")
    must("add", "b.csv", cwd=bob)
    commit(bob, "b")
    before = git(bob, "rev-parse", "HEAD")
    git(bob, "fetch", "-q", "origin")
    picked = subprocess.run(["git", "cherry-pick", "origin/main"], cwd=bob,
                            capture_output=True, text=True)
    assert picked.returncode != 0 and "notes.txt" in picked.stdout, picked.stdout
    write(bob / "notes.txt", "both\n")
    git(bob, "add", "notes.txt")
    stopped = subprocess.run(["git", "cherry-pick", "--continue"], cwd=bob,
                             capture_output=True, text=True,
                             env={**os.environ, "GIT_EDITOR": "true"})
    said = " ".join(stopped.stderr.split())
    assert stopped.returncode != 0 and "\n    a c.csv.dvx\n" in stopped.stderr, said
    assert ("here, `git restore --staged -- 'a c.csv.dvx'` takes it out of the commit, or "
            "`git cherry-pick --abort` undoes the cherry-pick." in said), said
    assert "git merge --abort" not in said, said
    pasted("git cherry-pick --abort", bob)
    assert git(bob, "rev-parse", "HEAD") == before
    assert not (bob / "a c.csv.dvx").exists()
    assert not (bob / ".git" / "CHERRY_PICK_HEAD").exists()
