"""`dvx freeze`/`unfreeze` and `dvx stage remove`, with dvx.yaml's comments kept."""

from __future__ import annotations

import json
import os
import shutil

import pytest
from pipeline_kit import make_ml_repo, run_and_commit, runs

from dvx.lockfile import read_lock
from tests.conftest import git, write


def test_a_frozen_stage_never_runs_until_unfrozen(repo, dvx):
    make_ml_repo(repo)
    assert dvx("add", "data/raw.csv").code == 0
    assert dvx("repro").code == 0
    # a stage named twice is frozen, and named, once
    assert dvx("freeze", "train", "train").stdout == "Stage 'train' is frozen.\n"
    assert "frozen: true" in (repo / "dvx.yaml").read_text()
    params = repo / "params.yaml"
    params.write_text(params.read_text().replace("epochs: 5", "epochs: 9"))
    before = runs(repo)
    assert dvx("repro").code == 0
    assert runs(repo) == before  # train is frozen, so evaluate has nothing new either
    listed = json.loads(dvx("stage", "list", "--json").stdout)
    assert next(s for s in listed if s["name"] == "train")["frozen"] is True
    assert "already" in dvx("freeze", "train").stdout
    assert dvx("unfreeze", "train").code == 0
    assert "frozen" not in (repo / "dvx.yaml").read_text()
    assert dvx("repro").code == 0
    assert runs(repo)[len(before):] == ["train", "evaluate"]
    missing = dvx("freeze", "evaluate", "nope")  # every name is checked before any changes
    assert missing.code == 2 and "no stage 'nope'" in missing.stderr
    assert "frozen" not in (repo / "dvx.yaml").read_text()


FROZEN_FIRST = """\
stages:
  a:
    cmd: cp raw.txt a.txt
    deps: [raw.txt]
    outs: [a.txt]
    frozen: true
  b:
    cmd: cp a.txt b.txt
    deps: [a.txt]
    outs: [b.txt]
"""


def test_a_frozen_stage_lacking_its_outputs_is_never_called_up_to_date(repo, dvx):
    write(repo / "raw.txt", "r\n")
    write(repo / "dvx.yaml", FROZEN_FIRST)
    alone = dvx("repro", "-f", "a")
    assert alone.code == 0, alone.output
    assert "up to date" not in alone.output
    assert ("WARNING: Stage 'a' is frozen, so repro never runs it, and its outputs are missing: "
            "a.txt. dvx.lock records no run that made it: `dvx unfreeze a` lets repro run it."
            ) in alone.stderr
    assert "Nothing to do" not in dvx("repro", "--dry", "a").output
    downstream = dvx("repro", "-q", "b")
    assert downstream.code == 1
    assert ("Stage 'b' failed: missing dependencies: a.txt (an output of stage 'a', which is "
            "frozen, so repro never runs it; dvx.lock records no run that made it: "
            "`dvx unfreeze a` lets repro run it).") in downstream.stderr

    assert dvx("unfreeze", "a").code == 0 and dvx("repro").code == 0
    assert dvx("freeze", "a").code == 0
    (repo / "a.txt").unlink()
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "a frozen")
    ran = dvx("exp", "run")  # b's dependency is gone: the experiment fails, saying why
    assert ran.code == 1
    assert "`dvx checkout a.txt` (or `dvx pull a.txt` if the cache lacks it) brings what " \
        "dvx.lock records, or `dvx unfreeze a` lets repro run it." in ran.stderr
    assert dvx("checkout", "a.txt").code == 0
    again = dvx("repro")
    assert again.code == 0 and "Pipelines are up to date." in again.stdout
    assert "WARNING" not in again.stderr


def test_the_ways_out_of_a_frozen_stage_name_its_outputs_as_the_shell_takes_them(repo, dvx):
    write(repo / "raw.txt", "r\n")
    write(repo / "dvx.yaml", "stages:\n  a:\n    cmd: cp raw.txt 'a b.txt'\n"
                             "    deps: [raw.txt]\n    outs: [a b.txt]\n")
    assert dvx("repro").code == 0 and dvx("freeze", "a").code == 0
    (repo / "a b.txt").unlink()
    lacking = dvx("repro", "-f", "a")
    assert "`dvx checkout 'a b.txt'` (or `dvx pull 'a b.txt'` if the cache lacks it)" \
        in lacking.stderr, lacking.output


def test_a_foreach_group_is_frozen_and_unfrozen_by_its_name(repo, dvx):
    write(repo / "dvx.yaml", "stages:\n  build:\n    foreach: [us, eu]\n    do:\n"
                             "      cmd: echo ${item} > ${item}.txt\n"
                             "      outs: ['${item}.txt']\n")
    assert dvx("freeze", "build").code == 0
    listed = json.loads(dvx("stage", "list", "--json").stdout)
    assert {s["name"]: s["frozen"] for s in listed} == {"build@us": True, "build@eu": True}
    assert dvx("unfreeze", "build").code == 0
    assert "frozen" not in (repo / "dvx.yaml").read_text()
    assert dvx("repro").code == 0 and (repo / "eu.txt").read_text() == "eu\n"


def test_stage_remove_takes_it_out_of_dvx_yaml_and_dvx_lock(repo, dvx):
    make_ml_repo(repo)
    pipeline = (repo / "dvx.yaml").read_text().replace(
        "  stats:\n", "  # counts the rows of the raw data\n  stats:\n")
    write(repo / "dvx.yaml", pipeline)
    assert dvx("add", "data/raw.csv").code == 0
    assert dvx("repro").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "pipeline")
    removed = dvx("stage", "remove", "evaluate", "--json")
    assert removed.code == 0, removed.output
    doc = json.loads(removed.stdout)
    assert doc["removed"] == ["evaluate"] and "dvx.lock" in doc["to_stage"]
    text = (repo / "dvx.yaml").read_text()
    assert "evaluate:" not in text and "# counts the rows of the raw data" in text
    assert "evaluate" not in (repo / "dvx.lock").read_text()
    assert (repo / "metrics.json").exists()  # kept: without --outs outputs stay
    assert dvx("status", "-q").code == 0
    assert dvx("stage", "remove", "--outs", "stats").code == 0
    assert not (repo / "stats.json").exists()
    assert "/stats.json" not in (repo / ".gitignore").read_text()


def test_stage_remove_prints_the_git_add_that_records_it(repo, dvx):
    write(repo / "raw.txt", "r\n")
    assert dvx("stage", "add", "-n", "a", "-d", "raw.txt", "-o", "out/a.txt",
               "mkdir -p out; cp raw.txt out/a.txt").code == 0
    assert dvx("repro").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "v1")
    removed = dvx("stage", "remove", "a")
    assert removed.code == 0, removed.output
    assert "To record this in Git, run:\n    git add dvx.yaml dvx.lock out/.gitignore" \
        in removed.stdout


def test_stage_remove_names_the_outputs_git_now_sees_and_the_dvx_add_that_tracks_them(
        repo, dvx):
    """Its outputs stay, their .gitignore entries gone: `git add -A` would commit them into
    Git, so the command says so, naming `dvx add`, but not of one a rule of the user's still
    ignores, nor of outputs --outs deleted."""
    write(repo / "raw.txt", "r\n")
    write(repo / ".gitignore", "*.log\n")
    assert dvx("stage", "add", "-n", "a", "-d", "raw.txt", "-o", "out/a.txt", "-o", "run.log",
               "mkdir -p out; cp raw.txt out/a.txt; cp raw.txt run.log").code == 0
    assert dvx("stage", "add", "-n", "b", "-d", "raw.txt", "-o", "b.txt",
               "cp raw.txt b.txt").code == 0
    assert dvx("repro").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "v1")
    removed = dvx("stage", "remove", "a")
    assert removed.code == 0, removed.output
    assert "Note: the output data stays in the workspace, no longer tracked by dvx, and Git " \
        "no longer ignores it (out/a.txt): `git add -A` would commit its files into Git" \
        in removed.stderr, removed.stderr
    assert "track it with dvx again with `dvx add out/a.txt`" in removed.stderr
    assert "run.log" not in removed.stderr
    assert git(repo, "status", "--porcelain", "--", "out/a.txt", "run.log") == "?? out/a.txt\n"
    assert json.loads(dvx("stage", "remove", "--outs", "--json", "b").stdout)["unignored"] == []


def test_stage_remove_outs_of_a_metrics_file_git_tracks_records_its_deletion(repo, dvx):
    """A `cache: false` output Git tracks: committed as it is, Git keeps it, so --outs deletes
    it as it deletes a cached output the cache keeps, and the `git add` printed (and --json's
    to_stage) records its deletion; with changes Git has not committed, or untracked, it is
    kept nowhere else, and that is what the refusal says."""
    write(repo / "raw.txt", "r\n")
    assert dvx("stage", "add", "-n", "a", "-d", "raw.txt", "-o", "model.bin", "-m", "m.json",
               "-m", "loose.json", "cp raw.txt model.bin; echo '{\"x\": 1}' | tee m.json "
               "> loose.json").code == 0
    assert dvx("repro").code == 0
    write(repo / ".gitignore", (repo / ".gitignore").read_text() + "/loose.json\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "v1")
    refused = dvx("stage", "remove", "--outs", "a")
    assert refused.code == 2
    assert refused.stderr.startswith(
        "ERROR: 'loose.json', an output of stage 'a', is kept nowhere else: Git does not track "
        "it, and dvx keeps no copy of it (cache: false); refusing to delete it."), refused.stderr
    (repo / "loose.json").unlink()
    write(repo / "m.json", '{"x": 2}\n')
    refused = dvx("stage", "remove", "--outs", "a")
    assert refused.code == 2
    assert "'m.json', an output of stage 'a', has changes Git has not committed, and dvx keeps "\
        "no copy of it (cache: false); refusing" in refused.stderr, refused.stderr
    git(repo, "checkout", "--", "m.json")
    removed = dvx("stage", "remove", "--outs", "--json", "a")
    assert removed.code == 0, removed.output
    assert json.loads(removed.stdout)["to_stage"] == ["dvx.yaml", "dvx.lock", ".gitignore",
                                                      "m.json"]
    assert not (repo / "m.json").exists() and not (repo / "model.bin").exists()
    git(repo, "add", "dvx.yaml", "dvx.lock", ".gitignore", "m.json")  # as printed
    git(repo, "commit", "-qm", "no stage a")
    assert git(repo, "status", "--porcelain") == "" and git(repo, "ls-files", "m.json") == ""


@pytest.mark.parametrize("rule_in", [".gitignore", "info/exclude", "core.excludesFile"])
def test_stage_remove_outs_keeps_a_cache_false_folder_holding_a_file_git_ignores(repo, dvx,
                                                                               rule_in):
    """A file Git ignores in a committed `cache: false` output folder is kept by neither Git
    nor dvx, wherever the rule is: the folder is not committed as it is, so --outs refuses
    to delete it without -f."""
    write(repo / "in.txt", "x\n")
    write(repo / "dvx.yaml", "stages:\n  s:\n    cmd: mkdir -p nd && cp in.txt nd/b\n"
                             "    deps: [in.txt]\n    outs:\n    - nd: {cache: false}\n")
    if rule_in == ".gitignore":
        write(repo / ".gitignore", "*.log\n")
    elif rule_in == "info/exclude":
        write(repo / ".git" / "info" / "exclude", "*.log\n")
    else:
        git(repo, "config", "core.excludesFile",
            str(write(repo.parent / "excludes", "*.log\n")))
    assert dvx("repro").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "v1")
    write(repo / "nd" / "notes.log", "my precious notes\n")
    refused = dvx("stage", "remove", "--outs", "s")
    assert refused.code == 2
    assert "ERROR: 'nd', an output of stage 's', has changes Git has not committed, and dvx " \
        "keeps no copy of it (cache: false); refusing to delete it." in refused.stderr
    assert "s:" in (repo / "dvx.yaml").read_text()
    assert dvx("gc", "-w", "-f", "--grace", "0").code == 0
    assert (repo / "nd" / "notes.log").read_text() == "my precious notes\n"
    forced = dvx("stage", "remove", "--outs", "-f", "s")
    assert forced.code == 0 and not (repo / "nd").exists(), forced.output


_OUTPUT_A = "stages:\n  s:\n    cmd: cat in > {0}\n    deps: [in]\n    outs: [{0}]\n"


def _run_then_rename_output(repo):
    """Stage s made A and was committed; then dvx.yaml renames its output B, not run since:
    dvx.lock still records A."""
    write(repo / "in", "in\n")
    run_and_commit(repo, _OUTPUT_A.format("A"), "v1")
    write(repo / "dvx.yaml", _OUTPUT_A.format("B"))


def test_stage_remove_outs_deletes_an_output_dvx_lock_records_and_dvx_yaml_no_longer_declares(
        repo, dvx):
    _run_then_rename_output(repo)
    write(repo / "A", "edited\n")
    refused = dvx("stage", "remove", "--outs", "s")
    assert refused.code == 2
    assert "'A', an output of stage 's', is not as dvx.lock records it in the cache" \
        in refused.stderr
    assert (repo / "A").read_text() == "edited\n" and "s:" in (repo / "dvx.yaml").read_text()
    write(repo / "A", "in\n")
    removed = dvx("stage", "remove", "--outs", "--json", "s")
    assert removed.code == 0, removed.output
    assert json.loads(removed.stdout)["deleted"] == ["A"]
    assert not (repo / "A").exists() and not (repo / ".gitignore").exists()


def test_stage_remove_lets_git_see_an_output_dvx_lock_records_and_dvx_yaml_no_longer_declares(
        repo, dvx):
    _run_then_rename_output(repo)
    removed = dvx("stage", "remove", "s")
    assert removed.code == 0, removed.output
    assert "A, which dvx.lock recorded as an output but dvx.yaml no longer declared, stays in " \
        "the workspace, no longer ignored by Git." in removed.stdout
    assert git(repo, "status", "--short", "--", "A") == "?? A\n"
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "no stage s")
    assert dvx("gc", "-w", "-f", "--grace", "0", "--force-last-copy").code == 0
    assert (repo / "A").read_text() == "in\n"
    assert dvx("status", "-q").code == 0


@pytest.mark.parametrize("link", ["symlink", "hardlink"])
def test_stage_remove_leaves_its_outputs_files_of_their_own_not_links_into_the_cache(
        repo, dvx, link):
    """Without --outs the outputs stay for Git to commit: a link into the cache would be
    committed as a link, and gc would take the bytes it leads to."""
    assert dvx("config", "cache.type", link).code == 0
    write(repo / "in", "in\n")
    run_and_commit(repo, "stages:\n  s:\n    cmd: echo model-bytes > model.bin; mkdir -p d;"
                         " echo f > d/f\n    deps: [in]\n    outs: [model.bin, d]\n", "v1")
    assert dvx("stage", "remove", "s").code == 0
    for path in (repo / "model.bin", repo / "d" / "f"):
        assert not path.is_symlink() and os.stat(path).st_nlink == 1, path
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "no stage s")
    assert git(repo, "ls-tree", "HEAD", "model.bin").startswith("100644 blob")
    collected = dvx("gc", "-w", "-f", "--grace", "0", "--force-last-copy")
    assert collected.code == 0 and "Removed 3 objects" in collected.stdout, collected.output
    assert (repo / "model.bin").read_text() == "model-bytes\n"
    assert (repo / "d" / "f").read_text() == "f\n"


def test_a_stage_remove_stopped_by_a_full_disk_keeps_the_record_of_what_dvx_lock_records(
        repo, dvx, dvx_proc, tmp_path):
    """Whichever of its writes a full disk stops (dvx.yaml's, dvx.lock's), a stage remove
    that fails leaves an output dvx.lock still records with the record of what dvx placed
    there (.dvx/tmp/synced.json), as a command that never ran would."""
    write(repo / "in", "in\n")
    run_and_commit(repo, _OUTPUT_A.format("A") + "  t:\n    cmd: cat in > T\n"
                         "    deps: [in]\n    outs: [T]\n", "v1")
    stopped = set()
    for write_number in range(1, 8):
        tried = tmp_path / f"full-disk-at-write-{write_number}"
        shutil.copytree(repo, tried, symlinks=True)
        removed = dvx_proc("stage", "remove", "s", cwd=tried, env={
            "DVX_FAULT": f"atomic_write.before_rename:{write_number}",
            "DVX_FAULT_ACTION": "enospc"})
        if removed.code == 0:
            continue
        assert "No space left on device" in removed.stderr, removed.output
        in_yaml = "  s:" in (tried / "dvx.yaml").read_text()
        in_lock = "s" in read_lock(str(tried), "xxh128")
        stopped.add((in_yaml, in_lock))
        if in_lock:
            records = json.loads((tried / ".dvx/tmp/synced.json").read_text())["outputs"]
            assert "A" in records, (write_number, removed.output)
    assert {(True, True), (False, True)} <= stopped  # at dvx.yaml's write, at dvx.lock's


def test_remove_of_a_stage_name_points_to_stage_remove(repo, dvx):
    write(repo / "dvx.yaml", "stages:\n  build:\n    foreach: [us, eu]\n    do:\n"
                             "      cmd: echo ${item} > ${item}.txt\n"
                             "      outs: ['${item}.txt']\n")
    before = (repo / "dvx.yaml").read_text()
    for target, what in (("build", "a stage"),
                         ("build@us", "an item of the foreach/matrix stage 'build'"),
                         ("dvx.yaml:build@eu", "an item of the foreach/matrix stage 'build'")):
        refused = dvx("remove", target)
        assert refused.code == 2, refused.output
        assert f"'{target}' is not tracked data: it names {what} of dvx.yaml" in refused.stderr
        assert "`dvx stage remove build`" in refused.stderr, refused.stderr
    assert (repo / "dvx.yaml").read_text() == before
    other = dvx("remove", "nothing")
    assert other.code == 2 and "is not tracked by dvx" in other.stderr


def test_a_stage_name_as_a_target_names_the_stage_s_outputs_never_dvx_add(repo, dvx, tmp_path):
    """`dvx pull train` (DVC takes stage names): refused as a stage of dvx.yaml, naming its
    outputs, which are targets, never with `dvx add`, which finds no file 'train'; a
    foreach stage by its group name too; a stage never run by the `dvx repro` recording
    its outputs."""
    assert dvx("remote", "add", "-d", "store", str(tmp_path / "store")).code == 0
    assert dvx("stage", "add", "-n", "train", "-o", "model.bin", "-o", "weights",
               "echo m > model.bin && mkdir -p weights && echo w > weights/w").code == 0
    write(repo / "dvx.yaml", (repo / "dvx.yaml").read_text()
          + "  build:\n    foreach: [us, eu]\n    do:\n"
            "      cmd: echo ${item} > ${item}.txt\n      outs: ['${item}.txt']\n"
            "  later:\n    cmd: echo l > later.bin\n    outs: [later.bin]\n")
    assert dvx("repro", "train", "build").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "run")
    for target, outputs in (("train", "model.bin, weights"), ("build", "eu.txt, us.txt"),
                            ("build@us", "us.txt")):
        for command in ("pull", "push", "fetch", "status", "checkout", "commit"):
            refused = dvx(command, target)
            said = " ".join(refused.stderr.split())
            assert refused.code == 2, (command, refused.output)
            assert f"'{target}' is a pipeline stage of dvx.yaml, not a path" in said, said
            assert f"Name its outputs instead: {outputs};" in said, (command, said)
            assert "`dvx stage list`" in said and "dvx add" not in said, (command, said)
    never_run = " ".join(dvx("pull", "later").stderr.split())
    assert "'later' is a pipeline stage of dvx.yaml" in never_run, never_run
    assert "`dvx repro later` runs it and records them" in never_run, never_run
    assert dvx("status", "model.bin").code == 0  # its outputs are targets
    write(repo / "train", "a file named as the stage\n")
    assert "'train' is not tracked by dvx" in dvx("pull", "train").stderr  # a path first


def test_an_output_git_tracks_as_a_target_is_named_so_never_offered_to_dvx_add(repo, dvx, tmp_path):
    """A `cache: false` output dvx.lock records (`-m metrics.json`) given to pull, push,
    fetch, status, checkout, commit or remove: refused as an output Git tracks, naming the
    Git commands that show and restore it (which work as typed), never `dvx add`, which
    refuses a stage's output; a folder holding only such outputs is named the same way."""
    assert dvx("remote", "add", "-d", "store", str(tmp_path / "store")).code == 0
    assert dvx("stage", "add", "-n", "train", "-o", "model.bin", "-m", "reports/metrics.json",
               "mkdir -p reports && echo m > model.bin && echo '{\"acc\": 1}' > "
               "reports/metrics.json").code == 0
    assert dvx("repro").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "run")
    for target, what in (("reports/metrics.json", "is"), ("reports", "holds only")):
        for command in ("pull", "push", "fetch", "status", "checkout", "commit", "remove"):
            refused = dvx(command, target)
            said = " ".join(refused.stderr.split())
            assert refused.code == 2, (command, refused.output)
            assert (f"'{target}' {what} an output of stage 'train' that Git tracks (`cache: "
                    "false`): dvx holds no data of it") in said, (command, said)
            assert "dvx add" not in said, (command, said)
            assert "`git checkout -- reports/metrics.json`" in said, (command, said)
    write(repo / "reports" / "metrics.json", "edited\n")
    git(repo, "checkout", "--", "reports/metrics.json")
    assert (repo / "reports" / "metrics.json").read_text() == '{"acc": 1}\n'
    assert dvx("status", "model.bin").code == 0  # the stage's cached output is a target


def test_a_stage_name_whose_outputs_git_tracks_as_a_target_is_not_said_never_run(repo, dvx):
    """`dvx push eval` of a stage that ran and whose outputs are all `cache: false` (or that
    has none): refused as a stage naming the outputs Git tracks, never as a stage dvx.lock
    records no output of yet with a `dvx repro` that finds it up to date."""
    write(repo / "raw.txt", "a\n")
    write(repo / "dvx.yaml", "stages:\n"
          "  eval:\n    cmd: echo 1 > m.json\n    deps: [raw.txt]\n"
          "    metrics:\n      - m.json:\n          cache: false\n"
          "  touch:\n    cmd: echo t\n    deps: [raw.txt]\n")
    assert dvx("repro").code == 0
    for target, hint in (("eval", "dvx.lock records each output of it as kept out of the "
                                  "cache (`cache: false`), for Git to track: m.json, of which "
                                  "dvx holds no data (`git status -- m.json` shows it)"),
                         ("touch", "It has no output dvx or Git tracks.")):
        refused = dvx("push", target)
        said = " ".join(refused.stderr.split())
        assert refused.code == 2 and f"'{target}' is a pipeline stage of dvx.yaml" in said, said
        assert hint in said and "dvx repro" not in said, said


def test_stage_remove_outs_keeps_the_files_dvxignore_keeps_out_of_an_output(repo, dvx):
    write(repo / ".dvxignore", "*.tmp\n")
    assert dvx("stage", "add", "-n", "mk", "-o", "out",
               "mkdir -p out/sub && echo a > out/a && echo b > out/sub/b").code == 0
    assert dvx("repro").code == 0
    write(repo / "out" / "notes.tmp", "my notes")
    removed = dvx("stage", "remove", "--outs", "mk")
    assert removed.code == 0, removed.output
    assert "Kept 1 file dvx does not track" in removed.stderr and "out/notes.tmp" in removed.stderr
    assert [p.name for p in (repo / "out").iterdir()] == ["notes.tmp"]
    assert (repo / "out" / "notes.tmp").read_text() == "my notes"


def _output_with_code_git_tracks(repo, dvx):
    """Stage `mk`'s cached output folder `out`, run and committed; then `out/code.py` put in
    Git (`git add -f`) and committed, and edited since (not committed)."""
    assert dvx("stage", "add", "-n", "mk", "-o", "out", "mkdir -p out && echo a > out/a").code == 0
    assert dvx("repro").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "mk")
    write(repo / "out" / "code.py", "print(1)\n")
    git(repo, "add", "-f", "out/code.py")
    git(repo, "commit", "-qm", "code in out/")
    write(repo / "out" / "code.py", "print(1)\nprint(2)  # my uncommitted edit\n")


@pytest.mark.parametrize("force", [False, True], ids=["plain", "forced"])
def test_stage_remove_outs_keeps_and_names_the_files_git_tracks_in_a_cached_output(
        repo, dvx, force):
    """A file Git's index holds inside a stage's cached output is Git's, never the data's:
    `stage remove --outs` (--force or not) deletes the output around it, keeps it with the
    user's edit, and names it; that file alone is no change refusing the delete."""
    _output_with_code_git_tracks(repo, dvx)
    removed = dvx("stage", "remove", "--outs", *(["--force"] if force else []), "mk")
    assert removed.code == 0, removed.output
    assert "Kept 1 file Git tracks" in removed.stderr and "out/code.py" in removed.stderr
    assert sorted(os.listdir(repo / "out")) == ["code.py"]
    assert (repo / "out" / "code.py").read_text() == \
        "print(1)\nprint(2)  # my uncommitted edit\n"
    assert " M out/code.py" in git(repo, "status", "--porcelain")


@pytest.mark.parametrize("link", ["hardlink", "symlink"])
def test_stage_remove_outs_leaves_git_s_files_in_the_output_copies_of_their_own(repo, dvx,
                                                                                 link):
    """The files Git's index holds in a cached output, which `stage remove --outs` keeps, are
    left no links into the cache: an edit never changes the cache's object, and gc never
    leaves them dangling. The line naming the output says its data went, not all of it."""
    assert dvx("config", "cache.type", link).code == 0
    added = dvx("stage", "add", "-n", "gen", "-o", "out",
                "mkdir -p out && echo shared > out/a && echo b > out/b")
    assert added.code == 0, added.output
    assert dvx("repro", "-q").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "v1")
    git(repo, "add", "-f", "out/a")
    git(repo, "commit", "-qm", "out/a in Git too")
    removed = dvx("stage", "remove", "--outs", "gen")
    assert removed.code == 0, removed.output
    assert "deleted the data of out (keeping the files Git tracks in it)" in removed.stdout
    kept = repo / "out" / "a"
    assert not kept.is_symlink() and kept.stat().st_nlink == 1
    assert sorted(os.listdir(repo / "out")) == ["a"]
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "no stage")
    kept.chmod(0o644)
    write(kept, "Git's file, edited\n")
    assert dvx("fsck").code == 0
    assert dvx("gc", "-w", "-f").code == 0
    assert kept.read_text() == "Git's file, edited\n"


def test_stage_remove_outs_refusing_a_changed_output_beside_git_s_file_keeps_both(repo, dvx):
    """An edit of the output's own data still refuses the delete without --force; with it,
    the data goes and Git's file stays, edit and all (`kept_in_git` in --json)."""
    _output_with_code_git_tracks(repo, dvx)
    write(repo / "out" / "a", "not as recorded\n")
    refused = dvx("stage", "remove", "--outs", "mk")
    assert refused.code != 0 and "is not as dvx.lock records it" in refused.stderr
    assert sorted(os.listdir(repo / "out")) == ["a", "code.py"]
    forced = dvx("stage", "remove", "--outs", "--force", "--json", "mk")
    assert forced.code == 0, forced.output
    assert json.loads(forced.stdout)["kept_in_git"] == ["out/code.py"]
    assert sorted(os.listdir(repo / "out")) == ["code.py"]
    assert (repo / "out" / "code.py").read_text() == \
        "print(1)\nprint(2)  # my uncommitted edit\n"


def test_an_output_named_like_pathspec_magic_leaves_status_working(repo, dvx):
    write(repo / "dvx.yaml", "stages:\n  s:\n    cmd: echo o > ':!out'\n    outs: [':!out']\n")
    ran = dvx("repro", "-q")
    assert ran.code == 0, ran.output
    status = dvx("status")
    assert status.code == 0 and "up to date" in status.stdout, status.output


def test_an_output_named_like_a_dvx_temporary_is_refused(repo, dvx):
    write(repo / "dvx.yaml", "stages:\n  s:\n    cmd: echo o > .q.dvx-0123456789ab.tmp\n"
                             "    outs: [.q.dvx-0123456789ab.tmp]\n")
    refused = dvx("repro")
    assert refused.code == 1, refused.output
    assert "named like dvx's own temporary files" in refused.stderr
    assert not (repo / ".q.dvx-0123456789ab.tmp").exists()


@pytest.mark.parametrize("outs", [[], ["--outs"]])
def test_stage_remove_leaves_the_data_a_pointer_tracks_at_an_output_its_entry_records_to_dvx(
        repo, dvx, outs):
    """x.txt.dvx (from another branch) tracks x.txt, which the stage made before dvx.yaml
    stopped declaring it: removing the stage, with --outs or not, leaves x.txt the
    pointer's data, ignored by Git and never deleted, and what dvx placed there known, so
    a checkout places the pointer's version."""
    git(repo, "commit", "-q", "--allow-empty", "-m", "start")
    main = git(repo, "rev-parse", "--abbrev-ref", "HEAD").strip()
    git(repo, "checkout", "-q", "-b", "data")
    write(repo / "x.txt", "mine\n")
    assert dvx("add", "x.txt").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "data")
    git(repo, "checkout", "-q", main)
    (repo / "x.txt").unlink()
    run_and_commit(repo, "stages:\n  s:\n    cmd: echo made > x.txt\n    outs: [x.txt]\n", "stage")
    git(repo, "checkout", "-q", "data", "--", "x.txt.dvx")
    write(repo / "dvx.yaml", "stages:\n  s:\n    cmd: echo other > y.txt\n    outs: [y.txt]\n")

    removed = dvx("stage", "remove", *outs, "s")
    assert removed.code == 0, removed.output
    assert "x.txt" not in removed.output, removed.output
    assert (repo / "x.txt").read_text() == "made\n"
    assert "/x.txt" in (repo / ".gitignore").read_text().splitlines()
    status = dvx("status")
    assert "data not checked out" in status.stdout and "modified" not in status.stdout, \
        status.output
    assert dvx("checkout", "x.txt").code == 0
    assert (repo / "x.txt").read_text() == "mine\n"
