"""A pipeline shared by a team: repro commits the tracked inputs it reads when they changed,
so dvx.lock never names data that no pointer and no cache holds, and a teammate's clone
reproduces exactly what was recorded."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pipeline_kit import make_ml_repo, runs

from tests.conftest import git, run_dvx, run_dvx_proc, write
from tests.team import Team, commit, edit, must, share


def pointer_oid(path) -> str:
    return next(line.split(": ")[1].strip('"') for line in path.read_text().splitlines()
                if line.startswith("oid: "))


def lock_dep_oid(root, stage: str, path: str) -> str:
    import yaml

    lock = yaml.safe_load((root / "dvx.lock").read_text())
    return next(d["oid"] for d in lock["stages"][stage]["deps"] if d["path"] == path)


def ml_team(tmp_path):
    team = Team(tmp_path)
    alice = team.founder()
    make_ml_repo(alice)
    must("add", "data/raw.csv", cwd=alice)
    must("repro", cwd=alice)
    share(alice, "pipeline v1")
    return team, alice


def test_repro_commits_a_changed_tracked_input_before_running(tmp_path):
    team, alice = ml_team(tmp_path)
    before = pointer_oid(alice / "data/raw.csv.dvx")
    with (alice / "data/raw.csv").open("a") as f:
        f.write("1,2,3,4,4\n")

    dry = run_dvx("repro", "--dry", cwd=alice)
    assert dry.code == 0 and "Would commit data/raw.csv" in dry.stdout
    assert pointer_oid(alice / "data/raw.csv.dvx") == before  # --dry changes nothing

    ran = run_dvx("repro", cwd=alice)
    assert ran.code == 0, ran.output
    lines = ran.stdout.splitlines()
    committed = next(i for i, line in enumerate(lines) if line.startswith("Committed data/raw"))
    assert committed < next(i for i, line in enumerate(lines) if line.startswith("Running"))
    after = pointer_oid(alice / "data/raw.csv.dvx")
    assert after != before
    assert lock_dep_oid(alice, "prepare", "data/raw.csv") == after
    assert (alice / ".dvx/cache/files/xxh128" / after[:2] / after[2:]).exists()
    hint = ran.stdout.split("git add", 1)[1]
    assert "data/raw.csv.dvx" in hint and "dvx.lock" in hint

    share(alice, "more rows")
    bob = team.clone("bob")
    status = run_dvx("status", cwd=bob)
    assert "changed deps" not in status.stdout, status.stdout
    assert run_dvx("status", "-q", cwd=bob).code == 0
    assert run_dvx("repro", cwd=bob).stdout.count("is up to date") == 5
    assert runs(bob) == []


def test_autostage_stages_the_committed_input_with_the_lock(tmp_path):
    _, alice = ml_team(tmp_path)
    must("config", "core.autostage", "true", cwd=alice)
    commit(alice, "autostage")
    with (alice / "data/raw.csv").open("a") as f:
        f.write("9,9,9,9,27\n")
    must("repro", cwd=alice)
    staged = git(alice, "diff", "--cached", "--name-only").split()
    assert "data/raw.csv.dvx" in staged and "dvx.lock" in staged


def test_repro_refuses_to_run_on_data_older_than_its_pointer(tmp_path):
    team, alice = ml_team(tmp_path)
    bob = team.clone("bob")
    with (bob / "data/raw.csv").open("a") as f:
        f.write("5,5,5,5,15\n")
    must("repro", cwd=bob)
    share(bob, "bob's rows")

    git(alice, "pull", "-q", "origin", "main")  # bob's pointer, alice's old data
    refused = run_dvx("repro", cwd=alice)
    assert refused.code == 1 and "data/raw.csv" in refused.stderr
    # bob's rows are not in alice's cache yet: a pull brings them
    assert "`dvx pull data/raw.csv`" in refused.stderr
    # repro's --force runs every stage: the way to record the older data is commit's
    assert "`dvx commit --force data/raw.csv` records the older data" in refused.stderr
    assert "; `--force`" not in refused.stderr
    assert git(alice, "status", "--porcelain") == ""
    params = (alice / "params.yaml").read_bytes()
    experiment = run_dvx("exp", "run", "--force", "-S", "train.lr=0.5", cwd=alice)
    assert experiment.code == 1 and "`dvx commit --force data/raw.csv`" in experiment.stderr
    assert (alice / "params.yaml").read_bytes() == params  # nothing ran: -S undone
    assert git(alice, "status", "--porcelain") == ""
    pulled = run_dvx("repro", "--pull", cwd=alice)
    assert pulled.code == 0, pulled.output
    doc = json.loads(run_dvx("status", "--json", cwd=alice).stdout)
    assert not doc["changed"], doc


def test_repro_checks_out_a_teammates_run_instead_of_running_over_it(tmp_path):
    team, alice = ml_team(tmp_path)
    bob = team.clone("bob")
    not_fetched = team.clone("carol")
    (alice / "params.yaml").write_text((alice / "params.yaml").read_text()
                                       .replace("split: 0.25", "split: 0.5"))
    must("repro", cwd=alice)
    share(alice, "split 0.5")

    git(bob, "pull", "-q", "origin", "main")
    must("fetch", cwd=bob)  # alice's outputs are in the cache, not yet checked out
    status = run_dvx("status", cwd=bob)
    assert "pointer changed in Git, data not checked out" in status.stdout, status.stdout
    assert "dvx repro" not in status.stdout and "changed outs" not in status.stdout
    repro = run_dvx("repro", cwd=bob)
    assert repro.code == 0, repro.output
    assert "Checked out the outputs dvx.lock records for 'prepare'" in repro.stdout
    assert runs(bob) == []  # nothing ran over alice's run
    assert git(bob, "status", "--porcelain") == ""
    assert (bob / "model.json").read_bytes() == (alice / "model.json").read_bytes()
    assert not json.loads(run_dvx("status", "--json", cwd=bob).stdout)["changed"]

    git(not_fetched, "pull", "-q", "origin", "main")  # alice's outputs are on the remote only
    refused = run_dvx("repro", cwd=not_fetched)
    assert refused.code == 1 and "`dvx pull`" in refused.stderr, refused.output
    assert runs(not_fetched) == [] and git(not_fetched, "status", "--porcelain") == ""
    pulled = run_dvx("repro", "--pull", cwd=not_fetched)
    assert pulled.code == 0 and runs(not_fetched) == [], pulled.output


def _teammate_reran(tmp_path, pipeline: str, bob_runs_first: bool = False,
                    alice_runs: tuple[str, ...] = ()) -> Path:
    """alice runs `pipeline` (reading n.txt, logging its runs to runs.log) and shares it;
    bob clones (and runs it, if `bob_runs_first`); alice changes n.txt, runs `repro
    *alice_runs` and shares that; bob `git pull`s. Bob's clone."""
    team = Team(tmp_path)
    alice = team.founder()
    (alice / "n.txt").write_text("1\n")
    (alice / "dvx.yaml").write_text(pipeline)
    (alice / ".gitignore").write_text("runs.log\n")
    must("repro", cwd=alice)
    share(alice, "pipeline")
    bob = team.clone("bob")
    if bob_runs_first:
        must("repro", cwd=bob)
    (alice / "n.txt").write_text("2\n")
    must("repro", *alice_runs, cwd=alice)
    share(alice, "n=2")
    git(bob, "pull", "-q", "origin", "main")
    return bob


def test_a_teammates_push_false_output_is_rebuilt_not_asked_for(tmp_path):
    bob = _teammate_reran(tmp_path, "stages:\n  s:\n    cmd: cp n.txt big; echo s >> runs.log\n"
                          "    deps: [n.txt]\n    outs:\n      - big:\n"
                          "          push: false\n", bob_runs_first=True)
    status = run_dvx("status", cwd=bob)
    assert "`dvx repro` rebuilds" in status.stdout and "dvx pull" not in status.stdout
    dry = run_dvx("repro", "--dry", cwd=bob)  # says what the real run does
    assert dry.stdout.startswith("Would run stage 's'"), dry.output
    rebuilt = run_dvx("repro", cwd=bob)
    assert rebuilt.code == 0, rebuilt.output
    assert (bob / "big").read_text() == "2\n" and runs(bob) == ["s", "s"]


def test_dry_run_says_a_teammates_run_the_cache_lacks_would_fail_as_repro_does(tmp_path):
    bob = _teammate_reran(tmp_path, "stages:\n  s:\n    cmd: cp n.txt out.txt; echo s >> "
                          "runs.log\n    deps: [n.txt]\n    outs: [out.txt]\n")
    dry = run_dvx("repro", "--dry", cwd=bob)
    assert dry.stdout.startswith("Would fail stage 's': dvx.lock records outputs of another "
                                 "run"), dry.output
    assert "`dvx pull`" in dry.stdout and "Would check out" not in dry.stdout
    refused = run_dvx("repro", cwd=bob)
    assert refused.code == 1 and "`dvx pull`" in refused.stderr and runs(bob) == []
    must("fetch", cwd=bob)
    assert run_dvx("repro", "--dry", cwd=bob).stdout.startswith("Would check out")


PERSISTENT = ("stages:\n  train:\n    cmd: cat n.txt >> ckpt; echo train >> runs.log\n"
              "    deps: [n.txt]\n    outs:\n      - ckpt:\n          persist: true\n")


def test_a_teammates_persistent_output_is_checked_out_before_the_command_continues_from_it(
        tmp_path):
    """A `persist: true` output is what the next run continues from (a checkpoint): after `git
    pull`, the command continues from the teammate's run dvx.lock records, never from the
    older copy here, which would silently drop her run."""
    bob = _teammate_reran(tmp_path, PERSISTENT)  # alice's ckpt: 1, 2; bob's copy: 1
    (bob / "n.txt").write_text("3\n")
    dry = run_dvx("repro", "--dry", cwd=bob)
    assert dry.stdout.startswith("Would fail stage 'train'") and "`dvx pull`" in dry.stdout, \
        dry.output
    refused = run_dvx("repro", cwd=bob)  # the cache lacks alice's ckpt
    assert refused.code == 1 and "`dvx pull`" in refused.stderr, refused.output
    assert runs(bob) == [] and (bob / "ckpt").read_text() == "1\n"

    must("fetch", cwd=bob)
    assert run_dvx("repro", "--dry", cwd=bob).stdout.startswith("Would run stage 'train'")
    repro = run_dvx("repro", cwd=bob)
    assert repro.code == 0, repro.output
    assert runs(bob) == ["train"] and (bob / "ckpt").read_text() == "1\n2\n3\n"
    assert not json.loads(run_dvx("status", "--json", cwd=bob).stdout)["changed"]


def test_a_persistent_output_holding_files_of_a_users_own_is_continued_from_not_refused(
        tmp_path):
    """A `persist: true` output is never deleted by a run, so data of bob's own there (a
    clone that never pulled) is no reason to refuse the stage: `status` names no such
    reason, and `repro` continues from it."""
    team = Team(tmp_path)
    alice = team.founder()
    write(alice / "n.txt", "1\n")
    write(alice / "dvx.yaml", PERSISTENT)
    must("repro", cwd=alice)
    share(alice, "stage train")
    bob = team.clone("bob", pull=False)
    write(bob / "ckpt", "my earlier log\n")
    (bob / "n.txt").write_text("2\n")
    assert "in no cache" not in run_dvx("status", cwd=bob).stdout
    repro = run_dvx("repro", cwd=bob)
    assert repro.code == 0, repro.output
    assert (bob / "ckpt").read_text() == "my earlier log\n2\n"


def test_a_persistent_output_edited_by_hand_after_git_pull_is_continued_from(tmp_path):
    bob = _teammate_reran(tmp_path, PERSISTENT)
    edit(bob, "ckpt", "1\nmine\n")  # an unsaved edit, not what dvx placed: never replaced
    (bob / "n.txt").write_text("3\n")
    repro = run_dvx("repro", cwd=bob)
    assert repro.code == 0, repro.output
    assert "outputs changed both here and in Git: ckpt" in repro.stdout, repro.output
    assert (bob / "ckpt").read_text() == "1\nmine\n3\n"

@pytest.mark.parametrize("out, edited, fetched", [("out.txt", "out.txt", False),
                                                   ("outdir", "outdir/f1", True)])
def test_an_output_edited_after_git_pull_moved_dvx_lock_is_neither_saved_nor_run_over(
        tmp_path, out, edited, fetched):
    """bob `git pull`s alice's run without checking it out and edits his older copy of its
    output: `exp save` would record that copy as a run of alice's inputs, and `repro` would
    run over both; each refuses as `dvx commit` does, and says how to keep the edit."""
    cmd = ("cp n.txt out.txt" if out == "out.txt" else
           "mkdir -p outdir && for i in 1 2 3; do (cat n.txt; echo $i) > outdir/f$i; done")
    bob = _teammate_reran(tmp_path, f"stages:\n  s:\n    cmd: {cmd}; echo s >> runs.log\n"
                          f"    deps: [n.txt]\n    outs: [{out}]\n")
    if fetched:
        must("fetch", cwd=bob)
    edit(bob, edited, "1\nmine\n")
    refused = run_dvx("exp", "save", "-n", "saved", cwd=bob)
    assert refused.code == 1, refused.output
    assert f"Stage 's' has an output changed both here and in Git ({out})" in refused.stderr
    assert f"`dvx checkout --force {out}`" in refused.stderr
    assert f"`dvx commit --force {out}`" in refused.stderr
    assert git(bob, "for-each-ref", "refs/exps") == ""

    status = run_dvx("status", cwd=bob)
    assert "pointer changed in Git" in status.stdout and "dvx repro" not in status.stdout, \
        status.stdout
    dry = run_dvx("repro", "--dry", cwd=bob)
    assert dry.stdout.startswith("Would fail stage 's': dvx.lock records another run of it "
                                 "(from Git)"), dry.output
    for command in (("repro",), ("exp", "run")):
        again = run_dvx(*command, cwd=bob)
        assert again.code == 1 and f"`dvx commit --force {out}`" in again.output, again.output
    assert runs(bob) == [] and (bob / edited).read_text() == "1\nmine\n"

    must("commit", "--force", out, cwd=bob)  # the way to keep the edit
    must("exp", "save", "-n", "saved", cwd=bob)
    assert git(bob, "for-each-ref", "refs/exps") != ""


def test_each_of_many_outputs_edited_after_git_pull_moved_dvx_lock_is_in_the_ways_out(
        tmp_path):
    """The checkout and commit repro advises name every output edited here, past the ten its
    reason lists and with a ', ' in a name, so that running them keeps or drops every edit."""
    outs = [f"o{i}.txt" for i in range(11)] + ["a, b.txt"]
    cmd = "for f in " + " ".join(f"'{o}'" for o in outs) + '; do cp n.txt "$f"; done'
    cmd = json.dumps(cmd + "; echo s >> runs.log")
    bob = _teammate_reran(tmp_path, f"stages:\n  s:\n    cmd: {cmd}\n    deps: [n.txt]\n"
                          f"    outs: {json.dumps(outs)}\n")
    for out in outs:
        edit(bob, out, "1\nmine\n")
    typed = " ".join(outs[:-1]) + " 'a, b.txt'"
    dry = run_dvx("repro", "--dry", cwd=bob)
    assert f"`dvx commit --force {typed}`" in dry.stdout, dry.output
    refused = run_dvx("repro", cwd=bob)
    assert refused.code == 1 and f"`dvx checkout --force {typed}`" in refused.output, \
        refused.output
    assert runs(bob) == []

    must("commit", "--force", *outs, cwd=bob)  # as the message says: every edit is kept
    assert all((bob / out).read_text() == "1\nmine\n" for out in outs)
    assert run_dvx("repro", "--dry", cwd=bob).stdout.startswith("Stage 's' is up to date")


def test_a_frozen_stage_s_output_edited_after_git_pull_moved_dvx_lock_is_named_by_repro(
        tmp_path):
    """bob freezes the stage whose output he edited after `git pull` brought alice's run:
    repro never rebuilds it, and names that output as not what dvx.lock records, never
    calling the pipelines up to date."""
    bob = _teammate_reran(tmp_path, "stages:\n  s:\n    cmd: cp n.txt out.txt; echo s >> "
                          "runs.log\n    deps: [n.txt]\n    outs: [out.txt]\n")
    edit(bob, "out.txt", "1\nmine\n")
    must("freeze", "s", cwd=bob)
    repro = run_dvx("repro", cwd=bob)
    said = " ".join(repro.output.split())
    assert "is frozen, so repro never rebuilds it, and its output is not what dvx.lock " \
        "records: out.txt" in said, said
    assert "up to date" not in said and runs(bob) == []


def dir_team(tmp_path) -> Path:
    """alice runs a stage writing outdir/f1..f3 from n.txt; bob has her first run checked out,
    then she runs it again and shares that."""
    return _teammate_reran(
        tmp_path,
        "stages:\n  gen:\n    cmd: mkdir -p outdir && for i in 1 2 3; do (cat n.txt; echo $i) >"
        " outdir/f$i; done; echo gen >> runs.log\n    deps: [n.txt]\n    outs: [outdir]\n")


def test_a_teammates_directory_output_pulled_in_part_is_checked_out_not_run_over(tmp_path):
    bob = dir_team(tmp_path)
    must("pull", "outdir/f1", cwd=bob)  # one file of alice's run; f2 and f3 hold bob's old run
    status = run_dvx("status", cwd=bob)
    assert "changed outs" not in status.stdout and "dvx repro" not in status.stdout, status.stdout
    refused = run_dvx("repro", cwd=bob)
    assert refused.code == 1 and "`dvx pull`" in refused.stderr, refused.output
    assert runs(bob) == [] and git(bob, "status", "--porcelain") == ""

    must("fetch", cwd=bob)
    assert "Would check out" in run_dvx("repro", "--dry", cwd=bob).stdout
    repro = run_dvx("repro", cwd=bob)
    assert repro.code == 0 and "Checked out the outputs" in repro.stdout, repro.output
    assert runs(bob) == [] and git(bob, "status", "--porcelain") == ""
    assert [(bob / "outdir" / f"f{i}").read_text() for i in (1, 2, 3)] == ["2\n1\n", "2\n2\n",
                                                                          "2\n3\n"]
    assert not json.loads(run_dvx("status", "--json", cwd=bob).stdout)["changed"]


def _out_shared(tmp_path) -> tuple[Team, Path]:
    """alice runs a stage writing outdir/f1..f6 and shares it: (the team, alice's clone)."""
    team = Team(tmp_path)
    alice = team.founder()
    (alice / "dvx.yaml").write_text(
        "stages:\n  gen:\n    cmd: mkdir -p outdir && for i in 1 2 3 4 5 6; do echo $i > "
        "outdir/f$i; done\n    outs: [outdir]\n")
    must("repro", cwd=alice)
    share(alice, "six outputs")
    return team, alice


def _outputs_status(clone: Path, path: str) -> dict[str, object]:
    doc = json.loads(run_dvx("status", "--json", cwd=clone).stdout)
    return next(o for o in doc["outputs"] if o["path"] == path)


def _files(top: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(top.iterdir())}


def test_a_pull_killed_half_way_never_shrinks_a_stage_output_directory(tmp_path):
    """As for data tracked with `dvx add`: the files of a stage's output directory that a
    stopped pull never placed are not pulled, and a commit keeps them as dvx.lock records
    them, whether it names the output or not, with or without --force."""
    team, alice = _out_shared(tmp_path)
    recorded = (alice / "dvx.lock").read_text()
    bob = team.clone("bob", pull=False)
    killed = run_dvx_proc("pull", cwd=bob, env={"DVX_FAULT": "checkout.after_file:2"})
    assert killed.code == -9, killed.output
    placed = _files(bob / "outdir")
    assert 0 < len(placed) < 6
    seen = _outputs_status(bob, "outdir")
    assert seen["deleted"] == [] and len(seen["not_pulled"]) == 6 - len(placed), seen
    for args in (("commit",), ("commit", "outdir"), ("commit", "--force", "outdir")):
        must(*args, cwd=bob)
        assert (bob / "dvx.lock").read_text() == recorded, args

    (bob / "outdir/f7").write_text("7, by bob\n")
    must("commit", "outdir", cwd=bob)
    assert "nfiles: 7" in (bob / "dvx.lock").read_text()
    assert len(_outputs_status(bob, "outdir")["not_pulled"]) == 6 - len(placed)
    share(bob, "bob's f7")
    git(alice, "pull", "-q", "origin", "main")
    must("pull", cwd=alice)
    assert _files(alice / "outdir") == {**{f"f{i}": f"{i}\n" for i in range(1, 7)},
                                        "f7": "7, by bob\n"}


def test_a_file_put_in_a_stage_output_never_pulled_is_not_committed_as_the_whole_output(
        tmp_path):
    """A clone that never pulled the output knows the teammate's files only from its
    manifest: without it, `dvx commit` of a file put there by hand refuses rather than
    record that file alone, and names the fetch that brings it, or the run."""
    team, _ = _out_shared(tmp_path)
    bob = team.clone("bob", pull=False)
    recorded = (bob / "dvx.lock").read_text()
    (bob / "outdir").mkdir()
    (bob / "outdir/f7").write_text("7, by bob\n")
    refused = run_dvx("commit", "outdir", cwd=bob)
    assert refused.code == 1, refused.output
    said = " ".join(refused.stderr.split())
    assert "at the version dvx.lock records" in said and "`dvx fetch outdir/<a file in it>`" \
        in said and "`dvx repro gen` records what its command makes" in said, said
    assert "dvx add" not in said and (bob / "dvx.lock").read_text() == recorded
    must("fetch", "outdir/f1", cwd=bob)
    must("commit", "outdir", cwd=bob)
    assert "nfiles: 7" in (bob / "dvx.lock").read_text()


def test_exp_save_keeps_the_files_of_a_stage_output_never_pulled(tmp_path):
    """`exp save` records a stage output edited here as `dvx commit` does: the files of a
    directory pulled in part that were never placed here are kept, and one only pulled in
    part is no change to record."""
    team, _ = _out_shared(tmp_path)
    bob = team.clone("bob", pull=False)
    must("pull", "outdir/f1", "outdir/f2", cwd=bob)
    recorded = (bob / "dvx.lock").read_text()
    saved = run_dvx("exp", "save", "-n", "pulled-in-part", cwd=bob)
    assert saved.code == 0, saved.output
    assert (bob / "dvx.lock").read_text() == recorded
    assert git(bob, "status", "--porcelain") == ""

    (bob / "outdir/f1").unlink()  # placed here, then deleted: a deletion
    edit(bob, "outdir/f2", "2, by bob\n")
    saved = run_dvx("exp", "save", "-n", "edited", cwd=bob)
    assert saved.code == 0, saved.output
    assert "nfiles: 5" in (bob / "dvx.lock").read_text()
    seen = _outputs_status(bob, "outdir")
    assert (seen["workspace"], seen["deleted"], seen["not_pulled"]) == (
        "unchanged", [], ["f3", "f4", "f5", "f6"]), seen


def test_a_stage_reading_a_teammates_run_not_checked_out_is_stale_in_status_dry_and_repro(
        tmp_path):
    team = Team(tmp_path)
    alice = team.founder()
    (alice / "n.txt").write_text("1\n")
    (alice / "dvx.yaml").write_text(
        "stages:\n"
        "  gen:\n    cmd: cp n.txt out.txt; echo gen >> runs.log\n"
        "    deps: [n.txt]\n    outs: [out.txt]\n"
        "  use:\n    cmd: (cat out.txt; echo used) > final.txt; echo use >> runs.log\n"
        "    deps: [out.txt]\n    outs: [final.txt]\n")
    (alice / ".gitignore").write_text("runs.log\n")
    must("repro", cwd=alice)
    share(alice, "pipeline")
    bob = team.clone("bob")
    must("repro", cwd=bob)  # up to date: the run-cache now knows use's run on the old out.txt
    (alice / "n.txt").write_text("2\n")
    must("repro", "-s", "gen", cwd=alice)  # use's dvx.lock entry still names the old out.txt
    share(alice, "n=2, gen only")
    git(bob, "pull", "-q", "origin", "main")
    must("fetch", cwd=bob)

    status = run_dvx("status", cwd=bob)
    assert "use: changed deps: out.txt" in status.stdout, status.stdout
    assert "gen:" not in status.stdout
    dry = run_dvx("repro", "--dry", cwd=bob)
    assert dry.stdout.splitlines() == [
        "Would check out the outputs dvx.lock records for 'gen': outputs not checked out: out.txt",
        "Would run stage 'use': changed deps: out.txt"], dry.output
    repro = run_dvx("repro", cwd=bob)
    assert repro.code == 0, repro.output
    assert "Checked out the outputs dvx.lock records for 'gen'" in repro.stdout
    assert runs(bob) == ["use"] and (bob / "final.txt").read_text() == "2\nused\n"


NESTED = (
    "stages:\n"
    "  gen:\n    cmd: mkdir -p data/d; cp n.txt data/d/f; echo g > data/d/g; echo gen >> runs.log\n"
    "    deps: [n.txt]\n    outs: [data/d]\n"
    "  one:\n    cmd: cp data/d/f one.txt; echo one >> runs.log\n"
    "    deps: [data/d/f]\n    outs: [one.txt]\n"
    "  all:\n    cmd: cat data/d/* > all.txt; echo all >> runs.log\n"
    "    deps: [data]\n    outs: [all.txt]\n")


def _teammate_reran_gen(tmp_path, *alice_runs: str) -> Path:
    """_teammate_reran of NESTED, alice running `repro *alice_runs`."""
    return _teammate_reran(tmp_path, NESTED, alice_runs=alice_runs)


def test_stages_reading_inside_or_around_a_teammates_directory_agree_in_status_dry_and_repro(
        tmp_path):
    """`one` reads a file inside gen's directory output, `all` the directory around it: each
    compares as checking gen's recorded output out makes it, in status, --dry and repro."""
    bob = _teammate_reran_gen(tmp_path, "-s", "gen")  # one's and all's entries name the old data
    must("fetch", cwd=bob)
    status = run_dvx("status", cwd=bob).stdout
    assert "one: changed deps: data/d/f" in status and "all: changed deps: data" in status, status
    dry = run_dvx("repro", "--dry", cwd=bob).stdout.splitlines()
    assert dry[1:] == ["Would run stage 'one': changed deps: data/d/f",
                       "Would run stage 'all': changed deps: data"], dry
    repro = run_dvx("repro", cwd=bob)
    assert repro.code == 0, repro.output
    assert "Running stage 'one' (changed deps: data/d/f)" in repro.stdout
    assert sorted(runs(bob)) == ["all", "one"] and (bob / "one.txt").read_text() == "2\n"


def test_stages_reading_inside_a_teammates_directory_she_ran_them_on_are_up_to_date(tmp_path):
    bob = _teammate_reran_gen(tmp_path)  # alice ran every stage on her new data
    not_fetched = run_dvx("status", cwd=bob).stdout  # gen's new manifest: not in the cache
    assert "one: changed deps: data/d/f" in not_fetched, not_fetched
    refused = run_dvx("repro", cwd=bob)
    assert refused.code == 1 and "`dvx pull`" in refused.stderr and runs(bob) == []

    must("fetch", cwd=bob)
    status = run_dvx("status", cwd=bob).stdout
    assert "changed deps" not in status and "dvx repro" not in status, status
    dry = run_dvx("repro", "--dry", cwd=bob).stdout
    assert "Would run" not in dry, dry
    repro = run_dvx("repro", cwd=bob)
    assert repro.code == 0 and runs(bob) == [], repro.output
    assert (bob / "one.txt").read_text() == "2\n"


def _reading_a_tracked_directory(tmp_path):
    """alice tracks d (files a, b) with `dvx add`; stage s reads it whole."""
    team = Team(tmp_path)
    alice = team.founder()
    for name, text in (("a", "1\n"), ("b", "2\n")):
        (alice / "d").mkdir(exist_ok=True)
        (alice / "d" / name).write_text(text)
    must("add", "d", cwd=alice)
    must("stage", "add", "-n", "s", "-d", "d", "-o", "out.txt", "cat d/* > out.txt", cwd=alice)
    must("repro", cwd=alice)
    share(alice, "pipeline")
    return team, alice


def _a_file_more_on_each_side(alice: Path, bob: Path) -> None:
    """alice adds d/c ('3') and shares her repro of it; bob pulls her d.dvx with Git (not
    the data: his d lacks c), then adds a file of his own, d/z ('9')."""
    (alice / "d" / "c").write_text("3\n")
    must("repro", cwd=alice)
    share(alice, "a file more")
    git(bob, "pull", "-q", "origin", "main")
    (bob / "d" / "z").write_text("9\n")


def test_repro_runs_no_stage_on_an_input_lacking_a_teammates_files_and_names_checkout(tmp_path):
    team, alice = _reading_a_tracked_directory(tmp_path)
    bob = team.clone("bob")
    _a_file_more_on_each_side(alice, bob)
    pointer, out = (bob / "d.dvx").read_text(), (bob / "out.txt").read_bytes()

    not_fetched = run_dvx("repro", cwd=bob)
    assert not_fetched.code != 0 and "`dvx fetch d`, then run `dvx repro` again" in \
        not_fetched.stderr, not_fetched.output
    must("fetch", "d", cwd=bob)
    refused = run_dvx("repro", cwd=bob)
    assert refused.code == 1 and "lacks its file 'c', never placed here" in refused.stderr
    assert "Run `dvx checkout d` to place what its pointer names" in refused.stderr
    assert "Committed" not in refused.stdout and "Running" not in refused.stdout
    assert (bob / "d.dvx").read_text() == pointer and (bob / "out.txt").read_bytes() == out

    run_dvx("checkout", "d", cwd=bob)  # places c, keeps z (saying it skipped it)
    assert (bob / "d" / "c").read_text() == "3\n" and (bob / "d" / "z").read_text() == "9\n"
    ran = run_dvx("repro", cwd=bob)
    assert ran.code == 0 and "Committed d" in ran.stdout, ran.output
    assert lock_dep_oid(bob, "s", "d") == pointer_oid(bob / "d.dvx")
    assert (bob / "out.txt").read_text() == "1\n2\n3\n9\n"
    assert not json.loads(run_dvx("status", "--json", cwd=bob).stdout)["changed"]


def test_a_refusal_of_an_input_lacking_files_names_the_repro_as_typed_again(tmp_path):
    """The refusal of an input lacking files a teammate added says to run again the repro the
    user typed, with its targets and the options that decide what runs (`-s`, `--pull`), not
    a bare `dvx repro`, which would run other stages."""
    team, alice = _reading_a_tracked_directory(tmp_path)
    must("stage", "add", "-n", "all", "-d", "d", "-o", "all.txt", "cat d/* > all.txt",
         cwd=alice)
    must("repro", cwd=alice)
    bob = team.clone("bob")
    _a_file_more_on_each_side(alice, bob)
    must("fetch", "d", cwd=bob)
    refused = run_dvx("repro", "-s", "all", cwd=bob)
    assert refused.code == 1 and "lacks its file 'c', never placed here" in refused.stderr
    assert "then run `dvx repro -s all` again" in " ".join(refused.stderr.split()), \
        refused.output
    refused = run_dvx("repro", "--downstream", "-k", "s", "all", cwd=bob)
    assert "then run `dvx repro --downstream -k s all` again" in " ".join(
        refused.stderr.split()), refused.output


def test_repro_runs_no_stage_on_an_input_pulled_in_part_but_one_reading_what_is_there(
        tmp_path):
    team, alice = _reading_a_tracked_directory(tmp_path)
    must("stage", "add", "-n", "one", "-d", "d/a", "-o", "one.txt", "cat d/a > one.txt",
         cwd=alice)
    must("repro", cwd=alice)
    share(alice, "a stage reading one file")
    bob = team.clone("bob", pull=False)
    must("pull", "d/a", cwd=bob)
    edit(bob, "d/a", "5\n")

    one = run_dvx("repro", "one", cwd=bob)  # d/a is all it reads
    assert one.code == 0 and (bob / "one.txt").read_text() == "5\n", one.output
    refused = run_dvx("repro", cwd=bob)
    assert refused.code == 1 and "lacks its file 'b', never placed here" in refused.stderr
    assert "Run `dvx pull d` to fetch and place" in refused.stderr, refused.output
    assert not (bob / "out.txt").exists()

    must("pull", "d", cwd=bob)  # keeps bob's d/a
    ran = run_dvx("repro", cwd=bob)
    assert ran.code == 0 and (bob / "out.txt").read_text() == "5\n2\n", ran.output
    assert lock_dep_oid(bob, "s", "d") == pointer_oid(bob / "d.dvx")


def test_repro_pull_dry_predicts_the_real_run_on_an_input_pulled_in_part_and_edited(tmp_path):
    team, _ = _reading_a_tracked_directory(tmp_path)
    bob = team.clone("bob", pull=False)
    must("pull", "d/a", cwd=bob)
    edit(bob, "d/a", "5\n")

    dry = run_dvx("repro", "--pull", "--dry", cwd=bob)  # the pull places b, keeps bob's a
    assert dry.code == 0, dry.output
    assert "Would fetch from the remote and check out: d" in dry.stdout
    assert "Would commit d" in dry.stdout and "Would run stage 's'" in dry.stdout
    assert not (bob / "d" / "b").exists()
    ran = run_dvx("repro", "--pull", cwd=bob)
    assert ran.code == 0 and "Committed d" in ran.stdout, ran.output
    assert (bob / "out.txt").read_text() == "5\n2\n"


def test_repro_refusing_an_input_lacking_a_teammates_files_names_them_and_keeps_a_deletion(
        tmp_path):
    team, alice = _reading_a_tracked_directory(tmp_path)
    bob = team.clone("bob")
    new = [f"c{n}" for n in range(6)]
    for name in new:
        (alice / "d" / name).write_text(f"{name}\n")
    must("repro", cwd=alice)
    share(alice, "six files more")
    git(bob, "pull", "-q", "origin", "main")
    must("fetch", "d", cwd=bob)
    (bob / "d" / "b").unlink()  # on purpose

    refused = run_dvx("repro", cwd=bob)
    assert refused.code == 1, refused.output
    assert "lacks its files 'c0', 'c1', 'c2', 'c3', 'c4' and 1 more, never placed here" in \
        refused.stderr
    assert "Run `dvx checkout` with each of `d/c0`, `d/c1`, `d/c2`, `d/c3`, `d/c4` and 1 more " \
        "to place the files it lacks (`dvx checkout d` would place them too, but also bring " \
        "back the file you deleted from it, 'b'), then run `dvx repro` again." in \
        " ".join(refused.stderr.split()), refused.stderr
    assert "your own changes in it are kept" not in refused.stderr

    must("checkout", *(f"d/{name}" for name in new), cwd=bob)
    ran = run_dvx("repro", cwd=bob)
    assert ran.code == 0 and "Committed d" in ran.stdout, ran.output
    assert not (bob / "d" / "b").exists()
    assert (bob / "out.txt").read_text() == "1\n" + "".join(f"{n}\n" for n in new)
    assert lock_dep_oid(bob, "s", "d") == pointer_oid(bob / "d.dvx")


def test_repro_names_the_files_alone_to_check_out_beside_the_folder_with_no_deletion(tmp_path):
    team, alice = _reading_a_tracked_directory(tmp_path)
    bob = team.clone("bob")
    (alice / "d" / "my file").write_text("3\n")
    must("repro", cwd=alice)
    share(alice, "a file more")
    git(bob, "pull", "-q", "origin", "main")
    must("fetch", "d", cwd=bob)
    (bob / "d" / "z").write_text("9\n")  # a file of bob's own, which either command keeps

    refused = run_dvx("repro", cwd=bob)
    assert refused.code == 1 and "Run `dvx checkout d` to place what its pointer names (your " \
        "changes in it are kept), or `dvx checkout 'd/my file'` for the file it lacks alone, " \
        "then run `dvx repro` again." in " ".join(refused.stderr.split()), refused.output


def test_exp_save_leaves_an_unchanged_input_pulled_in_part_as_its_pointer_names(tmp_path):
    team, _ = _reading_a_tracked_directory(tmp_path)
    bob = team.clone("bob", pull=False)
    must("pull", "d/a", "out.txt", cwd=bob)
    pointer = (bob / "d.dvx").read_text()

    saved = run_dvx("exp", "save", "-n", "mine", cwd=bob)  # runs nothing, commits nothing
    assert saved.code == 0 and "Saved experiment 'mine'" in saved.stdout, saved.output
    assert (bob / "d.dvx").read_text() == pointer and not (bob / "d" / "b").exists()

    edit(bob, "d/a", "5\n")  # now committed with the experiment, beside results made without b
    refused = run_dvx("exp", "save", "-n", "edited", cwd=bob)
    assert refused.code == 1 and "lacks its file 'b', never placed here" in refused.stderr
    assert "then run `dvx exp save -n edited` again" in refused.stderr, refused.output
    assert (bob / "d.dvx").read_text() == pointer


def test_exp_save_refused_over_a_stage_it_cannot_store_records_no_stage_before_it(tmp_path):
    """bob, who pulled nothing, runs two stages by hand: a's output he can store, b's folder
    he cannot (its manifest, never fetched, says what of it he never placed). `exp save`
    refuses, and a's run is not recorded either: dvx.lock stays as Git has it."""
    team = Team(tmp_path)
    alice = team.founder()
    must("stage", "add", "-n", "a", "-o", "a.txt", "echo a > a.txt", cwd=alice)
    must("stage", "add", "-n", "b", "-o", "o", "mkdir -p o && echo x > o/x", cwd=alice)
    must("repro", cwd=alice)
    share(alice, "pipeline")
    bob = team.clone("bob", pull=False)
    (bob / "a.txt").write_text("a by hand\n")
    (bob / "o").mkdir()
    (bob / "o" / "y").write_text("y by hand\n")

    refused = run_dvx("exp", "save", "-n", "mine", cwd=bob)
    assert refused.code != 0 and "its manifest is not in the cache" in refused.stderr, \
        refused.output
    assert git(bob, "status", "--porcelain", "--", "dvx.lock", ".gitignore") == ""
    assert "mine" not in run_dvx("exp", "show", "--json", cwd=bob).stdout


def test_exp_save_and_exp_run_refused_over_a_moved_pointer_name_themselves_to_run_again(
        tmp_path):
    team, alice = _reading_a_tracked_directory(tmp_path)
    bob = team.clone("bob")
    (alice / "d" / "c").write_text("3\n")
    must("repro", cwd=alice)
    share(alice, "a file more")
    git(bob, "pull", "-q", "origin", "main")
    edit(bob, "d/a", "11\n")

    for command in (("exp", "save"), ("exp", "run")):
        refused = run_dvx(*command, cwd=bob)
        assert refused.code != 0, refused.output
        assert f"`dvx fetch d`, then run `dvx {' '.join(command)}` again" in refused.stderr, \
            refused.stderr


def test_exp_run_refused_over_an_input_pulled_in_part_names_its_params_to_run_again(tmp_path):
    """`exp run -n e1 -S lr=0.1` refused before any stage runs (an input pulled in part)
    puts params.yaml back as it was, so the command it says to run again sets the params
    again: following it records e1 with lr 0.1, never with the old lr."""
    team = Team(tmp_path)
    alice = team.founder()
    for name, text in (("a", "1\n"), ("b", "2\n")):
        (alice / "d").mkdir(exist_ok=True)
        (alice / "d" / name).write_text(text)
    (alice / "params.yaml").write_text("lr: 0.5\n")
    must("add", "d", cwd=alice)
    must("stage", "add", "-n", "s", "-d", "d", "-p", "lr", "-o", "out.txt",
         "cat d/* params.yaml > out.txt", cwd=alice)
    must("repro", cwd=alice)
    share(alice, "pipeline")
    bob = team.clone("bob", pull=False)
    must("pull", "d/a", "out.txt", cwd=bob)

    refused = run_dvx("exp", "run", "-n", "e1", "-S", "lr=0.1 ", cwd=bob)
    said = " ".join(refused.stderr.split())
    assert refused.code == 1 and "lacks its file 'b', never placed here" in said, said
    assert "then run `dvx exp run -n e1 -S 'lr=0.1 '` again" in said, said
    assert (bob / "params.yaml").read_text() == "lr: 0.5\n"

    must("pull", "d", cwd=bob)
    must("exp", "run", "-n", "e1", "-S", "lr=0.1 ", cwd=bob)
    shown = json.loads(run_dvx("exp", "show", "--json", cwd=bob).stdout)
    e1 = next(row for row in shown if row["name"] == "e1")
    assert e1["params"]["params.yaml"]["lr"] == 0.1, e1


def test_exp_run_queue_takes_an_input_whose_files_the_cache_holds_though_not_placed(tmp_path):
    team, _ = _reading_a_tracked_directory(tmp_path)
    bob = team.clone("bob", pull=False)
    must("pull", "d/a", cwd=bob)

    refused = run_dvx("exp", "run", "--queue", "-n", "q", cwd=bob)  # the cache lacks b too
    assert refused.code == 1 and "never placed here nor fetched into the cache" in \
        refused.stderr, refused.output
    assert "Run `dvx fetch d` to fetch what its pointer names into the cache, then run " \
        "`dvx exp run --queue -n q` again." in " ".join(refused.stderr.split())

    must("fetch", "d", cwd=bob)
    must("exp", "run", "--queue", "-n", "q", cwd=bob)
    must("queue", "start", cwd=bob)
    assert not (bob / "d" / "b").exists()
    shown = run_dvx("exp", "show", "--json", cwd=bob)
    assert '"q"' in shown.stdout, shown.output


def test_exp_run_queue_checks_and_fetches_the_inputs_its_set_params_make_a_stage_read(tmp_path):
    """`deps: ["data/${which}"]` with -S which=b: the queued run reads data/b, not the data/a
    the workspace's params name. Queuing checks data/b as the run will read it (refused
    while the cache lacks part of it, naming the fetch), records it among what the run
    reads, and `queue start` runs on it."""
    team = Team(tmp_path)
    alice = team.founder()
    for folder, files in (("a", {"1": "a1\n"}), ("b", {"1": "b1\n", "2": "b2\n"})):
        for name, text in files.items():
            write(alice / "data" / folder / name, text)
    (alice / "params.yaml").write_text("which: a\n")
    must("add", "data/a", "data/b", cwd=alice)
    (alice / "dvx.yaml").write_text('stages:\n  train:\n    cmd: ls data/${which} > out.txt\n'
                                    '    deps: ["data/${which}"]\n    outs: [out.txt]\n')
    must("repro", cwd=alice)
    share(alice, "pipeline")
    bob = team.clone("bob", pull=False)
    must("pull", "data/a", "data/b/1", cwd=bob)

    refused = run_dvx("exp", "run", "--queue", "-S", "which=b", "-n", "q1", cwd=bob)
    said = " ".join(refused.stderr.split())
    assert refused.code == 1 and "'data/b' is read by the stages" in said, refused.output
    assert "Run `dvx fetch data/b` to fetch what its pointer names into the cache, then run " \
        "`dvx exp run --queue -n q1 -S which=b` again." in said, said
    assert git(bob, "for-each-ref", "refs/exps-queue") == ""
    # The run in a queued run's worktree (which goes once it ends) names the same way out
    head = git(bob, "rev-parse", "HEAD").strip()
    in_worktree = run_dvx("exp", "run", "-n", "q1", "--baseline", head, "-S", "which=b",
                          cwd=bob)
    said = " ".join(in_worktree.stderr.split())
    assert in_worktree.code == 1 and "then run `dvx exp run --queue -n q1 -S which=b` again" \
        in said, said
    assert (bob / "params.yaml").read_text() == "which: a\n"

    must("fetch", "data/b", cwd=bob)
    must("exp", "run", "--queue", "-S", "which=b", "-n", "q1", cwd=bob)
    queued = json.loads(run_dvx("queue", "status", "--json", cwd=bob).stdout)
    assert "data/b" in queued[0]["reads"], queued
    started = run_dvx("queue", "start", cwd=bob)
    assert started.code == 0, started.output + run_dvx("queue", "logs", "q1", cwd=bob).stdout
    ref = git(bob, "for-each-ref", "--format=%(refname)", "refs/exps/*/q1").strip()
    assert git(bob, "show", f"{ref}:params.yaml") == "which: b\n"
    assert "- path: data/b\n" in git(bob, "show", f"{ref}:dvx.lock")


def test_repro_runs_no_stage_on_an_upstream_output_pulled_in_part_naming_every_such_input(
        tmp_path):
    team = Team(tmp_path)
    alice = team.founder()
    for name in ("a", "b"):
        (alice / "d").mkdir(exist_ok=True)
        (alice / "d" / name).write_text(f"{name}\n")
    must("add", "d", cwd=alice)
    (alice / "seed.txt").write_text("seed\n")
    must("stage", "add", "-n", "s", "-d", "seed.txt", "-o", "o",
         "mkdir -p o && echo x > o/x && echo y > o/y", cwd=alice)
    must("stage", "add", "-n", "t", "-d", "o", "-d", "d", "-o", "t.txt",
         "cat o/* d/* > t.txt", cwd=alice)
    must("repro", cwd=alice)
    share(alice, "pipeline")
    bob = team.clone("bob", pull=False)
    must("pull", "o/x", "d/a", cwd=bob)
    lock = (bob / "dvx.lock").read_text()

    refused = run_dvx("repro", "-s", "t", cwd=bob)
    said = " ".join(refused.stderr.split())
    assert refused.code == 1 and "Inputs the stages read are not all in the workspace" in said
    assert "'d' lacks its file 'b'" in said and "'o' lacks its file 'y'" in said, said
    assert "`dvx pull d` to fetch and place" in said and "`dvx pull o` to fetch and place" in said
    assert not (bob / "t.txt").exists() and (bob / "dvx.lock").read_text() == lock

    must("pull", "o", "d", cwd=bob)
    ran = run_dvx("repro", "-s", "t", cwd=bob)
    assert ran.code == 0 and (bob / "t.txt").read_text() == "x\ny\na\nb\n", ran.output


def test_repro_lacking_files_of_a_folder_git_holds_in_part_names_untracking_it_first(tmp_path):
    """A folder the stages read, tracked with `dvx add`, of which Git's index holds a file too
    (`git add -f`): a clone's pull leaves the folder to Git, so it has Git's file alone.
    `dvx checkout` of it or of its files would skip it again, so the refusal names the way
    that works: stop Git tracking it, keeping the files; then the checkout it names places
    the rest and the run goes on."""
    team = Team(tmp_path)
    alice = team.founder()
    for name in ("f1", "f2", "f3"):
        write(alice / "data" / f"{name}.txt", f"{name}\n")
    must("add", "data", cwd=alice)
    write(alice / "dvx.yaml", "stages:\n  count:\n    cmd: cat data/*.txt > all.txt\n"
                              "    deps: [data]\n    outs: [all.txt]\n")
    must("repro", cwd=alice)
    git(alice, "add", "-f", "data/f1.txt")
    share(alice, "pipeline, f1.txt in Git too")
    bob = team.clone("bob", pull=False)
    pulled = run_dvx("pull", cwd=bob)
    assert "Skipped data" in pulled.stderr, pulled.output
    assert sorted(p.name for p in (bob / "data").iterdir()) == ["f1.txt"]
    refused = run_dvx("repro", cwd=bob)
    said = " ".join(refused.stderr.split())
    assert refused.code == 1 and "lacks its files 'f2.txt', 'f3.txt'" in said, refused.output
    assert "Git's index holds 'data/f1.txt' of 'data' too" in said, said
    assert "`git rm -r --cached -- data`" in said, said
    assert "`dvx checkout data/f2.txt data/f3.txt`" in said, said
    git(bob, "rm", "-r", "-q", "--cached", "--", "data")
    git(bob, "commit", "-qm", "data is dvx's alone")
    must("checkout", "data/f2.txt", "data/f3.txt", cwd=bob)
    must("repro", cwd=bob)
    assert (bob / "all.txt").read_text() == "f1\nf2\nf3\n"


def _own_files_at_a_teammates_new_outputs(tmp_path) -> Path:
    """bob keeps model.bin and outdir/keep.txt of his own, never added; alice adds a stage
    writing both, runs it and shares it; bob `git pull`s it."""
    team = Team(tmp_path)
    alice = team.founder()
    bob = team.clone("bob")
    write(bob / "model.bin", "my notes\n")
    write(bob / "outdir" / "keep.txt", "mine\n")
    write(alice / "dvx.yaml", "stages:\n  s:\n    cmd: echo gen > model.bin && mkdir -p outdir"
          " && echo gen > outdir/g.txt\n    outs: [model.bin, outdir]\n")
    must("repro", cwd=alice)
    share(alice, "stage s")
    git(bob, "pull", "-q", "origin", "main")
    return bob


def _still_his(bob: Path) -> bool:
    return ((bob / "model.bin").read_text() == "my notes\n"
            and (bob / "outdir" / "keep.txt").read_text() == "mine\n")


def test_files_of_a_users_own_at_a_teammates_new_stage_outputs_are_never_run_over(tmp_path):
    """bob's own files at the outputs of alice's stage are in no cache, and no sync record
    says dvx placed them: `status` names no plain `dvx repro`, `repro` (and its dry run)
    refuses to delete them, before and after a `dvx pull` that keeps them (which records
    outdir as synced, keep.txt as a change made here), and only `repro --force` runs the
    stage over them."""
    bob = _own_files_at_a_teammates_new_outputs(tmp_path)
    status = run_dvx("status", cwd=bob)
    said = " ".join(status.stdout.split())
    assert "outputs holding data in no cache: model.bin, outdir" in said, said
    assert "`dvx repro` runs the stale stages" not in said, said
    assert "`dvx repro` rebuilds changed stage outputs" not in said, said
    assert "`dvx repro --force s` runs the stage over them" in said, said
    dry = run_dvx("repro", "--dry", cwd=bob)
    assert dry.stdout.startswith("Would fail stage 's'"), dry.output
    assert run_dvx("pull", cwd=bob).code == 1  # skips them: changes not in the cache
    refused = run_dvx("repro", cwd=bob)
    said = " ".join(refused.output.split())
    assert refused.code == 1 and "Its output model.bin: not what dvx.lock records" in said, said
    assert _still_his(bob)

    must("repro", "--force", cwd=bob)  # as the message says: the run replaces them
    assert (bob / "model.bin").read_text() == "gen\n"
    assert not (bob / "outdir" / "keep.txt").exists()


def test_files_of_a_users_own_at_a_teammates_outputs_are_kept_by_the_way_out_repro_names(
        tmp_path):
    """The way out `repro` names keeps bob's files: moved away, `dvx repro` brings alice's
    run, and `status` then names the user's data no more."""
    bob = _own_files_at_a_teammates_new_outputs(tmp_path)
    refused = run_dvx("repro", cwd=bob)
    said = " ".join(refused.output.split())
    assert refused.code == 1 and "move them away (no cache or remote holds a copy), then " \
        "run `dvx repro` again" in said, said
    (bob / "model.bin").rename(tmp_path / "model.bin")
    (bob / "outdir").rename(tmp_path / "outdir")
    must("repro", cwd=bob)
    assert (bob / "model.bin").read_text() == "gen\n"
    assert "in no cache" not in run_dvx("status", cwd=bob).stdout
    assert (tmp_path / "model.bin").read_text() == "my notes\n"


def test_an_exp_run_refused_over_files_of_a_users_own_names_exp_run_and_a_put_back_deleting_them(
        tmp_path):
    """`exp run` refusing to delete bob's own files names itself to run again, and its -f
    (which runs the stage over them), never `dvx repro`; `status` offers no put-back of what
    dvx.lock records without saying it deletes them, with no copy kept."""
    bob = _own_files_at_a_teammates_new_outputs(tmp_path)
    refused = run_dvx("exp", "run", cwd=bob)
    said = " ".join(refused.output.split())
    assert refused.code == 1, said
    assert "then run `dvx exp run` again; or `dvx exp run -f` runs every stage of the run " \
        "again, this one over them, deleting them" in said, said
    assert "dvx repro" not in said, said
    assert _still_his(bob)
    status = " ".join(run_dvx("status", cwd=bob).stdout.split())
    assert "until you move them away (no cache or remote holds a copy)" in status, status
    assert "puts back what dvx.lock records)" not in status, status
    assert "puts back what dvx.lock records, fetching them, deleting them)" in status, status


def test_a_stage_output_whose_bytes_the_cache_holds_is_run_over_without_a_sync_record(
        tmp_path):
    """An output holding data the cache has (the bytes of a tracked input, here) can be put
    back, so it is no file of the user's own: with no sync record for it, `repro` runs the
    stage over it as it runs over any changed output."""
    team = Team(tmp_path)
    alice = team.founder()
    write(alice / "n.txt", "1\n")
    must("add", "n.txt", cwd=alice)
    write(alice / "dvx.yaml", "stages:\n  s:\n    cmd: (cat n.txt; echo x) > out.txt\n"
          "    deps: [n.txt]\n    outs: [out.txt]\n")
    must("repro", cwd=alice)
    share(alice, "stage s")
    bob = team.clone("bob")
    (bob / ".dvx" / "tmp" / "synced.json").unlink()
    edit(bob, "out.txt", "1\n")
    must("repro", cwd=bob)
    assert (bob / "out.txt").read_text() == "1\nx\n"


def _a_stage_shared_but_never_pulled(tmp_path, script: str) -> Path:
    """alice shares a stage writing out.txt with `sh run.sh`; bob clones, never pulls, and
    changes its input and its script to `script`."""
    team = Team(tmp_path)
    alice = team.founder()
    write(alice / "in.txt", "1\n")
    write(alice / "run.sh", "cat in.txt > out.txt\n")
    write(alice / "dvx.yaml", "stages:\n  s:\n    cmd: sh run.sh\n    deps: [in.txt, run.sh]\n"
          "    outs: [out.txt]\n")
    must("repro", cwd=alice)
    share(alice, "stage s")
    bob = team.clone("bob", pull=False)
    write(bob / "in.txt", "2\n")
    write(bob / "run.sh", script)
    return bob


def test_an_output_a_stopped_repro_left_in_a_clone_never_pulled_is_run_over_next_time(
        tmp_path):
    """A repro stopped by Ctrl-C while its command wrote half an output leaves dvx's own
    data there, never files of the user's: the next repro runs the stage over it."""
    bob = _a_stage_shared_but_never_pulled(
        tmp_path, "cat in.txt > out.txt\necho started > started\nsleep 60\n")
    proc = subprocess.Popen([sys.executable, "-m", "dvx", "repro"], cwd=bob,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not (bob / "started").exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 128 + signal.SIGINT, stderr
    assert (bob / "out.txt").read_text() == "2\n"
    assert "in no cache" not in run_dvx("status", cwd=bob).stdout
    write(bob / "run.sh", "cat in.txt > out.txt\n")
    rerun = run_dvx("repro", cwd=bob)
    assert rerun.code == 0, rerun.output
    assert (bob / "out.txt").read_text() == "2\n"


def test_an_output_a_failed_command_left_in_a_clone_never_pulled_is_run_over_next_time(
        tmp_path):
    """A stage command that fails after writing part of its output leaves dvx's own data
    there: once the command is fixed, repro runs the stage over it."""
    bob = _a_stage_shared_but_never_pulled(tmp_path, "cat in.txt > out.txt\nexit 1\n")
    assert run_dvx_proc("repro", cwd=bob).code == 1
    write(bob / "run.sh", "cat in.txt > out.txt\n")
    rerun = run_dvx_proc("repro", cwd=bob)
    assert rerun.code == 0, rerun.output
    assert (bob / "out.txt").read_text() == "2\n"


def _curated_by_alice_rerun_by_bob(tmp_path) -> Path:
    """Alice takes stage prep, which made res/a.txt, out of dvx.yaml and tracks the folder
    res whole (res.dvx, her own res/a.txt); Bob, who reran prep meanwhile, merges keeping his
    dvx.lock (as the conflict's hint offers), so it still records prep. Bob's res holds
    prep's output as dvx made it there: an older version than res.dvx names."""
    team = Team(tmp_path)
    alice = team.founder()
    write(alice / "raw.txt", "raw\n")
    must("add", "raw.txt", cwd=alice)
    write(alice / "dvx.yaml", "stages:\n  prep:\n    cmd: mkdir -p res && cp raw.txt res/a.txt\n"
          "    deps: [raw.txt]\n    outs: [res/a.txt]\n  train:\n"
          "    cmd: cat res/a.txt > model.txt\n    deps: [res]\n    outs: [model.txt]\n")
    must("repro", cwd=alice)
    share(alice, "pipeline")
    bob = team.clone("bob")
    write(alice / "dvx.yaml", "stages:\n  train:\n    cmd: cat res/a.txt > model.txt\n"
          "    deps: [res]\n    outs: [model.txt]\n")
    run_dvx("repro", cwd=alice)  # drops prep's entry; res is no stage's output any longer
    git(alice, "rm", "-r", "-q", "--cached", "res")
    shutil.rmtree(alice / "res")
    write(alice / "res" / "a.txt", "alice-curated\n")
    must("add", "res", cwd=alice)
    must("repro", cwd=alice)
    share(alice, "res is curated data now")
    edit(bob, "raw.txt", "raw-bob\n")
    must("add", "raw.txt", cwd=bob)
    must("repro", "prep", cwd=bob)
    commit(bob, "bob's raw data")
    subprocess.run(["git", "pull", "-q", "--no-rebase", "--no-edit"], cwd=bob,
                   capture_output=True, check=False)  # dvx.lock conflicts
    git(bob, "checkout", "-q", "--ours", "dvx.lock")
    git(bob, "add", "dvx.lock")
    git(bob, "commit", "-qm", "merge")
    return bob


def test_of_several_teammate_s_pointers_over_a_gone_stage_s_outputs_an_edited_one_is_named(
        tmp_path):
    """Of two folders a teammate tracks whole, each holding an output of a stage gone from
    dvx.yaml, the first as dvx placed it and the second edited since: repro names the edited
    one, with the commit that keeps the workspace's version among its ways out, whichever
    comes first."""
    team = Team(tmp_path)
    alice = team.founder()
    write(alice / "raw.txt", "raw\n")
    must("add", "raw.txt", cwd=alice)
    write(alice / "dvx.yaml", "stages:\n  prep:\n    cmd: mkdir -p res res2 && cp raw.txt "
          "res/a.txt && cp raw.txt res2/b.txt\n    deps: [raw.txt]\n"
          "    outs: [res/a.txt, res2/b.txt]\n  train:\n"
          "    cmd: cat res/a.txt res2/b.txt > model.txt\n    deps: [res, res2]\n"
          "    outs: [model.txt]\n")
    must("repro", cwd=alice)
    share(alice, "pipeline")
    bob = team.clone("bob")
    write(alice / "dvx.yaml", "stages:\n  train:\n    cmd: cat res/a.txt res2/b.txt > "
          "model.txt\n    deps: [res, res2]\n    outs: [model.txt]\n")
    run_dvx("repro", cwd=alice)
    for folder, name in (("res", "a.txt"), ("res2", "b.txt")):
        git(alice, "rm", "-r", "-q", "--cached", folder)
        shutil.rmtree(alice / folder)
        write(alice / folder / name, "alice-curated\n")
        must("add", folder, cwd=alice)
    must("repro", cwd=alice)
    share(alice, "res and res2 are curated data now")
    edit(bob, "raw.txt", "raw-bob\n")
    must("add", "raw.txt", cwd=bob)
    must("repro", "prep", cwd=bob)
    commit(bob, "bob's raw data")
    subprocess.run(["git", "pull", "-q", "--no-rebase", "--no-edit"], cwd=bob,
                   capture_output=True, check=False)  # dvx.lock conflicts
    git(bob, "checkout", "-q", "--ours", "dvx.lock")
    git(bob, "add", "dvx.lock")
    git(bob, "commit", "-qm", "merge")
    edit(bob, "res2/b.txt", "bob's edit\n")
    refused = run_dvx("repro", cwd=bob)
    said = " ".join(refused.output.split())
    assert refused.code == 1, said
    assert "'res2' changed in the workspace" in said and "(and 1 more like it)" in said, said
    assert "`dvx commit res2` if the workspace's version is the one to keep" in said, said
    assert (bob / "res2" / "b.txt").read_text() == "bob's edit\n"


@pytest.mark.parametrize("keep", ["workspace's", "pointer's"])
def test_each_way_out_repro_names_for_an_edited_gone_output_under_a_teammate_s_pointer_works(
        tmp_path, keep):
    """Alice tracks b.txt, which her stage gen made, with a pointer of her own (gen gone from
    dvx.yaml); Bob, who kept gen's dvx.lock entry through the merge, edited b.txt and never
    fetched Alice's data. repro says b.txt holds gen's output edited since, and names the
    `dvx commit --force` that keeps Bob's version (a plain commit is refused: the pointer
    changed in Git) and the `dvx pull --force` that takes Alice's: each, run as named,
    works, and so does the pull a plain `dvx commit` names to take Git's version."""
    team = Team(tmp_path)
    alice = team.founder()
    write(alice / "raw.txt", "raw\n")
    must("add", "raw.txt", cwd=alice)
    use = "  use:\n    cmd: cat b.txt > u.txt\n    deps: [b.txt]\n    outs: [u.txt]\n"
    write(alice / "dvx.yaml", "stages:\n  gen:\n    cmd: cp raw.txt b.txt\n    deps: [raw.txt]"
          "\n    outs: [b.txt]\n" + use)
    must("repro", cwd=alice)
    share(alice, "pipeline")
    bob = team.clone("bob")
    write(alice / "dvx.yaml", "stages:\n" + use)
    run_dvx("repro", cwd=alice)  # drops gen's entry; b.txt is no stage's output any longer
    write(alice / "b.txt", "curated\n")
    must("add", "b.txt", cwd=alice)
    must("repro", cwd=alice)
    share(alice, "b.txt is curated data now")
    edit(bob, "raw.txt", "raw-bob\n")
    must("add", "raw.txt", cwd=bob)
    must("repro", "gen", cwd=bob)
    commit(bob, "bob's raw data")
    subprocess.run(["git", "pull", "-q", "--no-rebase", "--no-edit"], cwd=bob,
                   capture_output=True, check=False)  # dvx.lock conflicts
    git(bob, "checkout", "-q", "--ours", "dvx.lock")
    git(bob, "add", "dvx.lock")
    git(bob, "commit", "-qm", "merge")
    edit(bob, "b.txt", "bob's edit\n")

    refused = run_dvx("repro", cwd=bob)
    said = " ".join(refused.output.split())
    assert refused.code == 1 and "Traceback" not in refused.output, said
    assert "'b.txt' changed in the workspace: it holds the output of stage 'gen' edited " \
        "since that stage last made it, not the data 'b.txt.dvx' records" in said, said
    assert "as that stage last made it" not in said, said
    assert "`dvx pull --force b.txt` to put back the data 'b.txt.dvx' records" in said, said
    assert "or `dvx commit --force b.txt` if the workspace's version is the one to keep" \
        in said, said
    plain = run_dvx("commit", "b.txt", cwd=bob)
    hint = " ".join(plain.output.split())
    assert plain.code != 0 and "take Git's with `dvx pull --force b.txt`" in hint, hint
    assert (bob / "b.txt").read_text() == "bob's edit\n"
    way = ["commit", "--force", "b.txt"] if keep == "workspace's" else ["pull", "--force",
                                                                         "b.txt"]
    taken = run_dvx(*way, cwd=bob)
    assert taken.code == 0, taken.output
    kept = "bob's edit\n" if keep == "workspace's" else "curated\n"
    assert (bob / "b.txt").read_text() == kept
    ran = run_dvx("repro", cwd=bob)
    assert ran.code == 0, ran.output
    assert (bob / "u.txt").read_text() == kept
    assert run_dvx("status", "-q", cwd=bob).code == 0, run_dvx("status", cwd=bob).output


def test_the_way_out_of_a_teammate_s_pointer_over_a_gone_stage_s_output_leads_out(tmp_path):
    """Every command skipping res.dvx names `dvx repro`; repro drops prep's entry, runs
    nothing on prep's output, and names the pull that then places Alice's data: no way out
    names another that names it back."""
    bob = _curated_by_alice_rerun_by_bob(tmp_path)
    assert (bob / "res" / "a.txt").read_text() == "raw-bob\n"
    pointer = (bob / "res.dvx").read_bytes()
    status = " ".join(run_dvx("status", cwd=bob).output.split())
    assert "Keep 'res': `dvx repro`, which drops the entry of stage 'prep'" in status, status
    refused = run_dvx("repro", cwd=bob)
    said = " ".join(refused.output.split())
    assert refused.code == 1, said
    assert "'res' is read by the stages but is not checked out as its pointer names: it " \
        "holds 'res/a.txt', the output of stage 'prep' as that stage last made it" in said, said
    assert "dvx repro dropped the dvx.lock entry of stage 'prep'" in said, said
    assert "Run `dvx pull --force res` to fetch and place the data 'res.dvx' records" in said
    assert "Traceback" not in refused.output
    assert "prep:" not in (bob / "dvx.lock").read_text()
    assert (bob / "res.dvx").read_bytes() == pointer
    assert (bob / "model.txt").read_text() == "raw\n"  # train did not run on prep's output
    pulled = run_dvx("pull", "--force", "res", cwd=bob)
    assert pulled.code == 0, pulled.output
    assert (bob / "res" / "a.txt").read_text() == "alice-curated\n"
    ran = run_dvx("repro", cwd=bob)
    assert ran.code == 0, ran.output
    assert (bob / "model.txt").read_text() == "alice-curated\n"
    assert (bob / "res.dvx").read_bytes() == pointer
    assert run_dvx("status", "-q", cwd=bob).code == 0, run_dvx("status", cwd=bob).output


def test_a_stage_s_folder_a_teammate_made_tracked_data_is_changed_in_git_after_git_pull(
        tmp_path):
    """The hooks' checkout after `git pull`, short of the teammate's data, puts back the record
    of the old stage output as it was: status says the pointer changed in Git and names `dvx
    pull`, never a version of bob's own to record again over the teammate's data."""
    team = Team(tmp_path)
    alice = team.founder()
    (alice / "dvx.yaml").write_text(
        "stages:\n  s:\n    cmd: mkdir -p feat && echo 1 > feat/a.txt && echo 1 > feat/b.txt\n"
        "    outs: [feat]\n")
    must("repro", cwd=alice)
    share(alice, "stage s")
    bob = team.clone("bob")
    must("install", cwd=bob)

    (alice / "dvx.yaml").write_text("stages: {}\n")
    must("repro", cwd=alice)
    for each in (alice / "feat").iterdir():
        each.chmod(0o644)
    (alice / "feat").chmod(0o755)
    (alice / "feat" / "c.txt").write_text("curated\n")
    must("add", "feat", cwd=alice)
    share(alice, "feat is curated data now")

    git(bob, "pull", "-q")
    status = run_dvx("status", cwd=bob)
    assert status.code == 0, status.output
    assert "feat: pointer changed in Git" in status.stdout, status.stdout
    assert "`dvx pull`" in status.stdout and "--force" not in status.stdout, status.stdout
    must("pull", cwd=bob)
    assert (bob / "feat" / "c.txt").read_text() == "curated\n"


@pytest.mark.parametrize("record_kept", [True, False])
def test_a_stage_s_folder_run_before_the_first_commit_is_changed_in_git_once_made_data(
        tmp_path, record_kept):
    """Alice runs a stage before her first commit (her record of its output names no commit);
    Bob drops the stage and makes its folder tracked data with one more file. After `git
    pull` her folder is the version dvx.lock committed, with or without the record: status
    says the pointer changed in Git and names `dvx pull`, which places Bob's version, never a
    `dvx add --force` that records her old folder over it."""
    team = Team(tmp_path)
    alice = team.clone("alice", pull=False)
    must("init", cwd=alice)
    must("remote", "add", "-d", "shared", str(team.store), cwd=alice)
    must("install", cwd=alice)
    (alice / "dvx.yaml").write_text(
        "stages:\n  prep:\n    cmd: mkdir -p res && echo a > res/a.txt\n    outs: [res]\n")
    must("repro", cwd=alice)
    share(alice, "pipeline")
    bob = team.clone("bob")
    must("install", cwd=bob)

    (bob / "dvx.yaml").write_text("stages: {}\n")
    must("repro", cwd=bob)
    (bob / "res").chmod(0o755)
    (bob / "res" / "b.txt").write_text("b\n")
    must("add", "res", cwd=bob)
    share(bob, "res is data now")
    pointer = (bob / "res.dvx").read_bytes()

    git(alice, "pull", "-q", "--no-rebase", "origin", "main")
    if not record_kept:
        (alice / ".dvx" / "tmp" / "synced.json").unlink()
    status = run_dvx("status", cwd=alice)
    assert status.code == 0, status.output
    assert "res: pointer changed in Git" in status.stdout, status.stdout
    assert "`dvx pull`" in status.stdout and "--force" not in status.stdout, status.stdout
    must("pull", cwd=alice)
    assert sorted(p.name for p in (alice / "res").iterdir()) == ["a.txt", "b.txt"]
    assert (alice / "res" / "b.txt").read_text() == "b\n"
    assert (alice / "res.dvx").read_bytes() == pointer
    assert run_dvx("status", "-q", cwd=alice).code == 0, run_dvx("status", cwd=alice).output
