"""dvx repro on a real ML-shaped pipeline (prepare -> featurize -> train -> evaluate, plus an
independent branch): it runs what is stale and nothing else, restores past runs from the
run-cache, records a byte-stable dvx.lock, and `dvx status` says what changed."""

from __future__ import annotations

import json
import os
import posixpath
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
from conftest import (
    dvx_unprivileged,
    git,
    run_dvx_proc,
    run_meanwhile,
    stopped_again,
    stopped_at,
    tree_bytes,
    unreadable_files,
    write,
)
from pipeline_kit import commit_copy_stage, make_ml_repo, run_and_commit, runs

from dvx.hashing import hash_file
from dvx.lockfile import read_lock

ALL = ["prepare", "featurize", "train", "evaluate", "stats"]


@pytest.fixture
def ml(repo: Path, dvx) -> Path:
    make_ml_repo(repo)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "pipeline")
    return repo


def set_param(root: Path, old: str, new: str) -> None:
    path = root / "params.yaml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_first_run_runs_everything_in_order_and_records_the_lock(ml, dvx):
    result = dvx("repro")
    assert result.code == 0, result.output
    ran = runs(ml)
    assert sorted(ran) == sorted(ALL)
    for before, after in (("prepare", "featurize"), ("featurize", "train"),
                          ("train", "evaluate")):
        assert ran.index(before) < ran.index(after)
    lock = (ml / "dvx.lock").read_text()
    for name in ALL:
        assert f"\n  {name}:\n" in lock
    assert "Updated dvx.lock." in result.stdout
    # cached outputs are ignored by Git; the metrics file (cache: false) is left to Git
    ignored = git(ml, "status", "--porcelain", "--untracked-files=all")
    assert "model.json" not in ignored and "data/prepared" not in ignored
    assert "metrics.json" in ignored
    assert (ml / "data" / ".gitignore").read_text().splitlines() == ["/prepared", "/features"]


def test_second_run_runs_nothing_and_status_is_clean(ml, dvx):
    assert dvx("repro").code == 0
    lock = (ml / "dvx.lock").read_bytes()
    result = dvx("repro")
    assert result.code == 0, result.output
    assert len(runs(ml)) == len(ALL)
    assert "Pipelines are up to date." in result.stdout
    assert (ml / "dvx.lock").read_bytes() == lock
    assert dvx("status", "-q").code == 0
    assert "up to date" in dvx("status").stdout


def test_a_changed_stage_output_is_rebuilt_by_repro_as_status_says(ml, dvx):
    """A stage output that is not what dvx.lock records (a stage stopped half-way, or an edit
    by hand): status points at repro first, since committing it would record what may be a
    partial output."""
    assert dvx("repro").code == 0
    model = (ml / "model.json").read_bytes()
    (ml / "model.json").unlink()
    write(ml / "model.json", model[: len(model) // 2])  # half-written
    status = dvx("status")
    assert "model.json: modified" in status.stdout
    assert "(`dvx repro` rebuilds changed stage outputs;" in status.stdout
    assert "(`dvx commit` records changes" not in status.stdout
    assert dvx("repro").code == 0
    assert (ml / "model.json").read_bytes() == model


def test_an_edited_output_of_a_frozen_stage_gets_advice_repro_follows(ml, dvx):
    """repro never rebuilds a frozen stage's output: status names the stage as frozen and
    the commands that do act on the edit, never repro."""
    assert dvx("repro").code == 0
    model = (ml / "model.json").read_bytes()
    assert dvx("freeze", "train").code == 0
    edited = json.dumps({"weights": [w + 1 for w in json.loads(model)["weights"]]})
    (ml / "model.json").unlink()
    write(ml / "model.json", edited)
    status = dvx("status")
    assert "model.json: modified" in status.stdout
    assert "rebuilds changed stage outputs" not in status.stdout
    assert ("(stage 'train' is frozen, so `dvx repro` leaves its outputs as they are: "
            "`dvx commit PATH` records an edit of yours, `dvx checkout --force model.json` puts "
            "back what dvx.lock records, `dvx unfreeze train` lets `dvx repro` rebuild them)"
            ) in status.stdout
    assert "is frozen" in dvx("status", "model.json").stdout  # a target: the same advice
    assert dvx("repro").code == 0
    assert (ml / "model.json").read_text() == edited
    assert dvx("checkout", "--force", "model.json").code == 0
    assert (ml / "model.json").read_bytes() == model


def test_repro_never_calls_up_to_date_an_edited_output_of_a_frozen_stage_nor_claims_data(
        repo, dvx):
    """repro never rebuilds a frozen stage's output edited by hand: it names the output and
    the ways out, as status does, never "up to date"; and what it says once every stage is
    up to date claims the pipelines only, not data no stage reads (status checks that)."""
    write(repo / "in.txt", "1\n")
    write(repo / "dvx.yaml", "stages:\n  fz:\n    cmd: cp in.txt fz.txt\n"
                             "    deps: [in.txt]\n    outs: [fz.txt]\n")
    assert dvx("repro").code == 0 and dvx("freeze", "fz").code == 0
    write(repo / "other.bin", "d\n")
    assert dvx("add", "other.bin").code == 0
    (repo / "fz.txt").unlink()
    write(repo / "fz.txt", "edited\n")
    advice = ("WARNING: Stage 'fz' is frozen, so repro never rebuilds it, and its output is not "
              "what dvx.lock records: fz.txt. `dvx commit fz.txt` records an edit of yours, "
              "`dvx checkout --force fz.txt` puts back what dvx.lock records, or `dvx unfreeze "
              "fz` lets repro rebuild it.")
    for args in (("fz",), (), ("--dry",)):
        result = dvx("repro", *args)
        assert result.code == 0 and advice in " ".join(result.stderr.split()), args
        assert "up to date" not in result.stdout, (args, result.stdout)
    assert (repo / "fz.txt").read_text() == "edited\n"
    assert dvx("checkout", "--force", "fz.txt").code == 0
    write(repo / "other.bin", "e\n")
    result = dvx("repro")
    assert result.code == 0 and result.stderr == "", result.output
    assert result.stdout == "Stage 'fz' is frozen; not checked.\nPipelines are up to date.\n"
    assert "other.bin: modified" in dvx("status").stdout


def test_a_param_change_reruns_only_what_depends_on_it_and_reverting_restores(ml, dvx):
    assert dvx("repro").code == 0
    first_lock = (ml / "dvx.lock").read_bytes()
    first_model = (ml / "model.json").read_bytes()
    first_metrics = (ml / "metrics.json").read_bytes()

    set_param(ml, "lr: 0.1", "lr: 0.05")
    status = dvx("status")
    assert "train: changed params: train.lr" in status.stdout
    assert "evaluate" not in status.stdout  # its own inputs have not changed yet
    assert dvx("status", "-q").code == 1
    dry = dvx("repro", "--dry")
    assert "Would run stage 'train': changed params: train.lr" in dry.stdout
    assert "Would run stage 'evaluate': upstream stage 'train' would run first" in dry.stdout
    assert "Stage 'prepare' is up to date." in dry.stdout
    assert len(runs(ml)) == len(ALL), "--dry must not run anything"

    done = len(runs(ml))
    assert dvx("repro").code == 0
    assert runs(ml)[done:] == ["train", "evaluate"]
    assert (ml / "model.json").read_bytes() != first_model

    set_param(ml, "lr: 0.05", "lr: 0.1")
    done = len(runs(ml))
    result = dvx("repro")
    assert result.code == 0, result.output
    assert runs(ml)[done:] == [], "both stages must come from the run-cache"
    assert "Restored 'train' from the run-cache (changed params: train.lr)." in result.stdout
    assert "Restored 'evaluate' from the run-cache" in result.stdout
    assert (ml / "model.json").read_bytes() == first_model
    assert (ml / "metrics.json").read_bytes() == first_metrics
    assert (ml / "dvx.lock").read_bytes() == first_lock  # byte-stable
    assert dvx("status", "-q").code == 0


def test_a_dependency_change_is_reported_and_propagates(ml, dvx):
    assert dvx("repro").code == 0
    with (ml / "data" / "raw.csv").open("a") as f:
        f.write("1,2,3,4,4\n")
    status = dvx("status")
    assert "prepare: changed deps: data/raw.csv" in status.stdout
    assert "stats: changed deps: data/raw.csv" in status.stdout
    done = len(runs(ml))
    assert dvx("repro").code == 0
    assert sorted(runs(ml)[done:]) == sorted(ALL)


def test_an_upstream_rerun_with_identical_outputs_stops_there(ml, dvx):
    assert dvx("repro").code == 0
    set_param(ml, "split: 0.25", "split: 0.251")  # 90 training rows either way
    done = len(runs(ml))
    assert dvx("repro").code == 0
    assert runs(ml)[done:] == ["prepare"]


def test_lock_is_byte_stable_across_forced_runs_and_clones(ml, dvx, tmp_path):
    assert dvx("repro").code == 0
    lock = (ml / "dvx.lock").read_bytes()
    assert dvx("repro", "--force").code == 0
    assert len(runs(ml)) == 2 * len(ALL)
    assert (ml / "dvx.lock").read_bytes() == lock
    text = lock.decode()
    assert text.startswith("# dvx lock file") and "\ndvx: 1\nalgo: xxh128\nstages:\n" in text
    other = tmp_path / "elsewhere"
    git(tmp_path, "clone", "-q", str(ml), str(other))
    assert dvx("repro", cwd=other).code == 0
    assert (other / "dvx.lock").read_bytes() == lock


def test_pipeline_outputs_are_tracked_data(ml, dvx):
    assert dvx("repro").code == 0
    doc = json.loads(dvx("status", "--json").stdout)
    paths = {o["path"] for o in doc["outputs"]}
    assert {"data/prepared", "data/features", "model.json", "stats.json"} <= paths
    assert "metrics.json" not in paths  # cache: false: Git tracks it
    model = (ml / "model.json").read_bytes()
    (ml / "model.json").unlink()
    assert "model.json: deleted" in dvx("status").stdout
    assert dvx("checkout").code == 0
    assert (ml / "model.json").read_bytes() == model
    assert dvx("status", "-q").code == 0


def test_stage_outputs_refuse_add_remove_move_and_commit_records_them(ml, dvx):
    assert dvx("repro").code == 0
    for args in (("add", "model.json"), ("remove", "model.json"),
                 ("move", "model.json", "m.json")):
        result = dvx(*args)
        assert result.code != 0
        assert "output of the pipeline stage 'train'" in result.stderr, args
        assert "Traceback" not in result.output
    (ml / "model.json").chmod(0o644)
    (ml / "model.json").unlink()
    write(ml / "model.json", '{"weights": [1, 2, 3]}')
    assert "train: changed outs: model.json" in dvx("status").stdout
    result = dvx("commit", "model.json")
    assert result.code == 0, result.output
    assert "git add dvx.lock" in result.stdout
    status = dvx("status").stdout
    assert "train:" not in status  # recorded as it is now: train is up to date
    assert "evaluate: changed deps: model.json" in status
    done = len(runs(ml))
    assert dvx("repro").code == 0
    assert runs(ml)[done:] == ["evaluate"]


def test_add_of_a_folder_holding_a_stage_output_names_the_stage_not_a_pointer(repo, dvx):
    """The output of a stage inside a folder given to `dvx add` has no pointer to remove (and
    `dvx remove` refuses outputs): the refusal names the stage and dvx.yaml instead."""
    write(repo / "dvx.yaml", "stages:\n  gen:\n    cmd: mkdir -p out && echo hi > out/a.txt\n"
                             "    outs: [out/a.txt]\n")
    assert dvx("repro").code == 0
    refused = dvx("add", "out")
    assert refused.code == 2, refused.output
    said = " ".join(refused.stderr.split())
    assert "'out' contains 'out/a.txt', an output of the pipeline stage 'gen'" in said, said
    assert "Change the stage in dvx.yaml instead" in said and "dvx remove" not in said
    assert not (repo / "out.dvx").exists()


def test_add_of_a_folder_holding_an_output_of_a_stage_named_for_a_shell_names_no_command_of_it(
        repo, dvx):
    """A dvx.lock (a clone's, edited) whose stage holding an output inside the folder given
    to `dvx add` has a name a shell would expand or split, which no dvx.yaml declares: the
    commands the refusal names are `dvx repro`, which drops that entry, and the add again,
    never one holding that name, so pasted they run nothing it holds."""
    write(repo / "dvx.yaml", "stages:\n  gen:\n    cmd: mkdir -p out && echo hi > out/a.txt\n"
                             "    outs: [out/a.txt]\n")
    assert dvx("repro").code == 0
    lock = repo / "dvx.lock"
    lock.write_text(lock.read_text().replace("\n  gen:\n", "\n  'a b$(touch x)?':\n"))
    refused = dvx("add", "out")
    assert refused.code == 2, refused.output
    said = " ".join(refused.stderr.split())
    commands = re.findall(r"`([^`]*)`", said)
    assert commands == ["dvx repro", "git add", "dvx add out"], said


def test_add_of_a_path_dvx_yaml_declares_as_an_output_is_refused_whether_it_ran_or_git_keeps_it(
        repo, dvx):
    """Every path dvx.yaml declares as an output is its stage's: a `cache: false` one, which
    dvx.lock records but the cache does not keep, one of a stage never run, a path inside one
    and a folder holding one are refused by `dvx add` (exit 2, no pointer written), naming
    the stage, so the pipeline never overlaps a pointer of them."""
    write(repo / "dvx.yaml", "stages:\n  prep:\n    cmd: echo 1 > log.txt\n    outs:\n"
                             "      - log.txt:\n          cache: false\n"
                             "  later:\n    cmd: mkdir -p out && echo x > out/later.txt\n"
                             "    outs: [out/later.txt]\n")
    assert dvx("repro", "prep").code == 0
    write(repo / "out" / "later.txt", "mine\n")
    for path, stage in (("log.txt", "prep"), ("out/later.txt", "later"), ("out", "later")):
        refused = dvx("add", path)
        said = " ".join(refused.stderr.split())
        assert refused.code == 2 and f"the pipeline stage '{stage}'" in said and \
            "declares in dvx.yaml" in said, (path, refused.output)
        assert f"`dvx repro {stage}`" in said and "Traceback" not in refused.output, said
        assert not (repo / (path + ".dvx")).exists()
    write(repo / "log.txt.d" / "x", "1\n")  # a name beginning alike is no part of it
    assert dvx("add", "log.txt.d").code == 0
    ran = dvx("repro")
    assert ran.code == 0, ran.output
    assert (repo / "out" / "later.txt").read_text() == "x\n"


def test_add_and_commit_of_a_frozen_stage_s_declared_output_name_unfreezing_it_first(repo, dvx):
    """`dvx repro` skips a frozen stage: `dvx add` of an output one declares (or of a folder
    holding it) names `dvx unfreeze STAGE` before `dvx repro STAGE`, and so does `dvx
    commit` of it, never `dvx add`, which refuses it; following the hints records it."""
    write(repo / "dvx.yaml", "stages:\n  get:\n    frozen: true\n"
                             "    cmd: mkdir -p models && echo made > models/base.bin\n"
                             "    outs: [models/base.bin]\n")
    write(repo / "models" / "base.bin", "mine\n")
    write(repo / "models" / "notes.txt", "notes\n")
    for path in ("models", "models/base.bin"):
        refused = dvx("add", path)
        said = " ".join(refused.stderr.split())
        assert refused.code == 2 and "`dvx unfreeze get` (`dvx repro` skips a frozen " \
            "stage), then `dvx repro get`, to make and record it" in said, refused.output
    uncommitted = dvx("commit", "models/base.bin")
    said = " ".join(uncommitted.stderr.split())
    assert uncommitted.code != 0 and "the pipeline stage 'get' declares" in said, said
    assert "`dvx unfreeze get` (`dvx repro` skips a frozen stage), then `dvx repro get`, " \
        "to make and record it" in said
    assert "dvx add" not in said, said
    assert dvx("unfreeze", "get").code == 0
    ran = dvx("repro", "get")
    assert ran.code == 0 and "get" in read_lock(str(repo), "xxh128"), ran.output


def test_add_and_commit_of_a_never_run_stage_s_output_the_user_made_say_to_move_it_away_first(
        repo, dvx):
    """The user's own file sits where a stage never run declares its output: `dvx add` and
    `dvx commit` of it say that the stage's first run deletes it, no cache keeping it, and to
    move it away before `dvx repro STAGE`; with nothing there, the hint is `dvx repro STAGE`
    alone."""
    write(repo / "dvx.yaml", "stages:\n  train:\n    cmd: echo placeholder > model.bin\n"
                             "    outs: [model.bin]\n")
    write(repo / "model.bin", "my hand-trained weights\n")
    for command in ("add", "commit"):
        refused = dvx(command, "model.bin")
        said = " ".join(refused.stderr.split())
        assert refused.code != 0 and "Move 'model.bin' out of the way, then run `dvx repro " \
            "train` to make and record it: the stage has never run, and its first run deletes " \
            "what is there" in said, (command, refused.output)
    assert (repo / "model.bin").read_text() == "my hand-trained weights\n"
    (repo / "model.bin").unlink()  # nothing there to delete
    refused = dvx("commit", "model.bin")
    said = " ".join(refused.stderr.split())
    assert refused.code != 0 and "Run `dvx repro train` to make and record it." in said, said


def test_add_of_a_declared_output_is_refused_while_another_stage_of_dvx_yaml_cannot_be_read(
        repo, dvx):
    """A typo in one stage (`outz:`) leaves what the other stages declare known: `dvx add`
    of an output one of them declares is refused all the same, naming that stage. An add the
    stages read do not refuse goes on, with a warning naming the stage that cannot be read;
    with dvx.yaml unreadable as a whole, the warning names dvx.yaml."""
    write(repo / "dvx.yaml", "stages:\n  train:\n    cmd: echo m > model.bin\n"
                             "    outs: [model.bin]\n  eval:\n    cmd: echo e\n"
                             "    deps: [model.bin]\n    outz: [typo.txt]\n")
    write(repo / "model.bin", "mine\n")
    refused = dvx("add", "model.bin")
    said = " ".join(refused.stderr.split())
    assert refused.code == 2 and "the pipeline stage 'train'" in said, refused.output
    assert not (repo / "model.bin.dvx").exists()
    write(repo / "notes.txt", "n\n")
    added = dvx("add", "notes.txt")
    said = " ".join(added.stderr.split())
    assert added.code == 0 and "Did not check 'notes.txt' against the outputs stage 'eval' " \
        "declares" in said and "unknown key 'outz'" in said, added.output
    assert "Did not check" not in " ".join(refused.stderr.split())  # refused: said why
    write(repo / "dvx.yaml", "stages: [\n")
    write(repo / "more.txt", "m\n")
    added = dvx("add", "more.txt")
    said = " ".join(added.stderr.split())
    assert added.code == 0 and "the outputs dvx.yaml declares, since what it declares cannot " \
        "be known" in said, added.output


def test_add_of_an_output_of_a_stage_gone_from_dvx_yaml_names_the_repro_that_frees_it(
        repo, dvx):
    """dvx.lock still records the output of a stage deleted from dvx.yaml (or moved to
    another stage): the refusal names `dvx repro`, which drops (or moves) the entry, never
    `dvx repro GONE`, which fails; after it, the add works."""
    write(repo / "in.txt", "1\n")
    run_and_commit(repo, _TWO_OUTS, "a makes both")
    write(repo / "dvx.yaml", _MOVED)
    moved = dvx("add", "y.out")
    assert moved.code == 2 and "now declares it in stage 'b'" in moved.stderr, moved.output
    assert "Run `dvx repro`, which" in moved.stderr and "dvx repro a" not in moved.stderr
    write(repo / "dvx.yaml", "stages: {}\n")
    gone = dvx("add", "x.out")
    assert gone.code == 2 and "dvx.yaml no longer declares it" in gone.stderr, gone.output
    assert "Run `dvx repro`, which drops it from dvx.lock" in gone.stderr
    assert "dvx repro a" not in gone.stderr and "dvx commit" not in gone.stderr
    assert dvx("repro").code == 0
    assert dvx("add", "x.out").code == 0


def test_add_of_a_folder_holding_an_output_of_a_stage_gone_from_dvx_yaml_names_repro(
        repo, dvx):
    """A folder holding res/a.txt, an output dvx.lock still records for a stage deleted from
    dvx.yaml: the refusal of `dvx add res` names `dvx repro`, which drops that entry, as the
    add of res/a.txt does, never `dvx repro prep` (no such stage) nor a stage to change;
    after it, the add works."""
    write(repo / "in.txt", "1\n")
    write(repo / "dvx.yaml", "stages:\n  prep:\n    cmd: mkdir -p res && cp in.txt res/a.txt\n"
          "    deps: [in.txt]\n    outs: [res/a.txt]\n")
    assert dvx("repro").code == 0
    write(repo / "dvx.yaml", "stages: {}\n")
    refused = dvx("add", "res")
    said = " ".join(refused.stderr.split())
    assert refused.code == 2, refused.output
    assert "'res' contains 'res/a.txt', an output of the pipeline stage 'prep' that dvx.lock " \
        "still records, though dvx.yaml no longer declares that stage." in said, said
    assert "Run `dvx repro`, which drops the entry of stage 'prep' left in dvx.lock that " \
        "dvx.yaml does not declare, and the `git add` it names, then `dvx add res` again." \
        in said, said
    assert "dvx repro prep" not in said and "Change the stage" not in said, said
    write(repo / "other.txt", "o\n")
    both = " ".join(dvx("add", "other.txt", "res").stderr.split())
    assert "then `dvx add other.txt res` again." in both, both  # every path given
    assert dvx("repro").code == 0
    assert dvx("add", "res").code == 0
    assert (repo / "res.dvx").exists()


@pytest.mark.parametrize("users_rule", [False, True])
def test_add_of_a_folder_deletes_the_gitignore_dvx_wrote_there_for_a_gone_stage_s_output(
        repo, dvx, users_rule):
    """After repro dropped the entry of a stage gone from dvx.yaml, its folder res still holds
    res/.gitignore, committed, holding only dvx's entry for the output res/a.txt: `dvx add
    res` deletes it rather than record it as data or refuse res as tracked by Git, and its
    `git add` hint, pasted, records that removal and exits 0. A rule of the user's there
    makes it theirs: kept, and refused as Git's as before."""
    write(repo / "raw.txt", "raw\n")
    write(repo / "dvx.yaml", "stages:\n  prep:\n    cmd: mkdir -p res && cp raw.txt res/a.txt\n"
          "    deps: [raw.txt]\n    outs: [res/a.txt]\n")
    assert dvx("repro").code == 0
    if users_rule:
        with (repo / "res" / ".gitignore").open("a") as f:
            f.write("*.tmp\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "pipeline")
    write(repo / "dvx.yaml", "stages: {}\n")
    assert dvx("repro").code == 0
    git(repo, "add", "dvx.yaml", "dvx.lock")
    git(repo, "commit", "-qm", "drop prep")
    write(repo / "res" / "b.txt", "more\n")
    ignore_file = (repo / "res" / ".gitignore").read_bytes()
    os.mkfifo(repo / "res" / "p")  # refused once the .gitignore is set aside
    added = dvx("add", "res")
    if users_rule:
        said = " ".join(added.stderr.split())
        assert added.code == 2, added.output
        assert "'res' is tracked by Git ('res/.gitignore' is in the Git index)" in said, said
        assert (repo / "res" / ".gitignore").read_bytes() == ignore_file
        assert not (repo / "res.dvx").exists()
        return
    assert added.code == 2 and "'res/p' is not a regular file" in added.stderr, added.output
    assert (repo / "res" / ".gitignore").read_bytes() == ignore_file  # refused: put back
    (repo / "res" / "p").unlink()
    added = dvx("add", "res")
    assert added.code == 0, added.output
    assert not (repo / "res" / ".gitignore").exists()
    listed = dvx("ls", ".", "-R").stdout
    assert "res/a.txt" in listed and "res/b.txt" in listed, listed
    assert "res/.gitignore" not in listed, listed
    hint = added.stdout.split("To record this in Git, run:", 1)[1].strip()
    assert hint == "git add res.dvx .gitignore && git rm --cached -q -- res/.gitignore", hint
    assert subprocess.run(hint, shell=True, cwd=repo).returncode == 0
    git(repo, "commit", "-qm", "res is data")
    assert git(repo, "status", "--porcelain") == ""
    assert dvx("status", "-q").code == 0, dvx("status").output


def test_add_of_a_folder_knows_a_gone_stage_s_gitignore_recorded_before_an_algorithm_switch(
        repo, dvx):
    """The repository switched core.hash to sha256 as its stage prep went from dvx.yaml:
    the only dvx.lock that recorded res/a.txt as an output records it with xxh128. `dvx add
    res` still knows res/.gitignore as dvx's own, deleting it rather than refusing res as
    tracked by Git, and its hint, pasted, records that removal."""
    run_and_commit(repo, "stages:\n  prep:\n    cmd: mkdir -p res && echo a > res/a.txt\n"
                   "    outs: [res/a.txt]\n", "pipeline")
    assert dvx("config", "core.hash", "sha256").code == 0
    write(repo / "dvx.yaml", "stages: {}\n")
    (repo / "dvx.lock").unlink()  # recorded again with sha256 (no stage left to record)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "sha256, prep gone")
    write(repo / "res" / "b.txt", "more\n")
    added = dvx("add", "res")
    assert added.code == 0, added.output
    assert not (repo / "res" / ".gitignore").exists()
    hint = added.stdout.split("To record this in Git, run:", 1)[1].strip()
    assert hint == "git add res.dvx .gitignore && git rm --cached -q -- res/.gitignore", hint
    assert subprocess.run(hint, shell=True, cwd=repo).returncode == 0
    git(repo, "commit", "-qm", "res is data")
    assert "algo: sha256" in (repo / "res.dvx").read_text()
    assert dvx("status", "-q").code == 0, dvx("status").output


def _gone_stage_s_gitignore_in(repo) -> None:
    """res/.gitignore committed holding only dvx's entry for res/a.txt, the output of a stage
    taken out of dvx.yaml, whose dvx.lock entry repro dropped; res/b.txt new data."""
    run_and_commit(repo, "stages:\n  prep:\n    cmd: mkdir -p res && echo a > res/a.txt\n"
                   "    outs: [res/a.txt]\n", "pipeline")
    run_and_commit(repo, "stages: {}\n", "drop prep")
    write(repo / "res" / "b.txt", "more\n")


_REMOVAL = "git rm --cached -q -- res/.gitignore"


@pytest.mark.parametrize("killed", [False, True])
def test_dvx_s_own_gitignore_an_add_deleted_is_named_for_git_rm_until_git_records_it(
        repo, dvx, dvx_proc, killed):
    """Until the `git rm --cached` of res/.gitignore that `dvx add res` named is run, Git's
    index holds that deleted file: status names that removal, never res as tracked by Git
    too, and another add (or an add killed after the deletion, run again) and a commit of
    res record it, each naming the removal again; pasted, the hint leaves nothing to say."""
    _gone_stage_s_gitignore_in(repo)
    if killed:
        stopped = dvx_proc("add", "res", cwd=repo, env={"DVX_FAULT": "cache.before_publish"})
        assert stopped.code == -signal.SIGKILL, stopped.output
        assert not (repo / "res" / ".gitignore").exists() and not (repo / "res.dvx").exists()
    added = dvx("add", "res")
    assert added.code == 0 and _REMOVAL in added.stdout, added.output
    status = dvx("status")
    said = " ".join(status.output.split())
    assert "tracked by Git" not in said, said
    assert f"res/.gitignore: dvx's own .gitignore of a former output, which dvx " \
        f"deleted as no data, is still in the Git index; `{_REMOVAL}` records its removal " \
        "(then `git commit`)" in said, said
    assert json.loads(dvx("status", "--json").stdout)["own_gitignores_in_git"] == \
        ["res/.gitignore"]
    write(repo / "res" / "b.txt", "changed\n")
    again = dvx("add", "res")
    assert again.code == 0 and _REMOVAL in again.stdout, again.output
    write(repo / "res" / "b.txt", "changed again\n")
    committed = dvx("commit", "res")
    assert committed.code == 0 and _REMOVAL in committed.stdout, committed.output
    hint = committed.stdout.split("To record this in Git, run:", 1)[1].strip()
    assert subprocess.run(hint, shell=True, cwd=repo).returncode == 0
    git(repo, "commit", "-qm", "res is data")
    assert git(repo, "status", "--porcelain") == ""
    assert dvx("status", "-q").code == 0, dvx("status").output


def test_a_user_s_gitignore_deleted_in_a_folder_to_add_is_still_git_s(repo, dvx):
    """A .gitignore holding a rule of the user's, gone from the workspace but in Git's
    index, is no removal of dvx's to name: the add of its folder is refused as Git's."""
    _gone_stage_s_gitignore_in(repo)
    with (repo / "res" / ".gitignore").open("a") as f:
        f.write("*.tmp\n")
    git(repo, "commit", "-qam", "a rule of the user's")
    (repo / "res" / ".gitignore").unlink()
    refused = dvx("add", "res")
    said = " ".join(refused.stderr.split())
    assert refused.code == 2, refused.output
    assert "'res' is tracked by Git ('res/.gitignore' is in the Git index)" in said, said


def test_add_of_an_output_while_dvx_yaml_is_missing_names_restoring_it_or_stages_none(
        repo, dvx):
    """With dvx.yaml deleted (a commit gave up the pipeline), `dvx repro` refuses to drop
    every dvx.lock entry: the refusal of `dvx add` of a recorded output names restoring
    dvx.yaml or writing `stages: {}`, never a bare `dvx repro`; following it, the add works."""
    write(repo / "in.txt", "1\n")
    run_and_commit(repo, _TWO_OUTS, "a makes both")
    git(repo, "rm", "-q", "dvx.yaml")
    git(repo, "commit", "-qm", "drop the pipeline")
    refused = dvx("add", "x.out")
    assert refused.code == 2, refused.output
    said = " ".join(refused.stderr.split())
    assert "while dvx.yaml is missing" in said and "Restore dvx.yaml" in said, said
    assert "write a dvx.yaml holding `stages: {}` and run `dvx repro`" in said, said
    assert "Run `dvx repro`" not in said
    write(repo / "dvx.yaml", "stages: {}\n")
    assert dvx("repro").code == 0
    assert dvx("add", "x.out").code == 0


def test_the_run_cache_gives_back_what_commit_recorded_not_the_command_s_output(ml, dvx):
    assert dvx("repro", "train").code == 0
    (ml / "model.json").chmod(0o644)
    (ml / "model.json").unlink()
    write(ml / "model.json", '{"weights": [1, 2, 3]}')  # fixed by hand
    assert dvx("commit", "model.json").code == 0
    lock = (ml / "dvx.lock").read_bytes()
    set_param(ml, "lr: 0.1", "lr: 0.05")
    assert dvx("repro", "train").code == 0
    set_param(ml, "lr: 0.05", "lr: 0.1")
    result = dvx("repro", "train")
    assert "Restored 'train' from the run-cache" in result.stdout, result.output
    assert (ml / "model.json").read_text() == '{"weights": [1, 2, 3]}'
    assert (ml / "dvx.lock").read_bytes() == lock


@pytest.mark.parametrize("args", [("out",), (), ("-f", "out")])
def test_commit_with_an_unreadable_dvx_yaml_refuses_before_writing_anything(repo, dvx, args):
    assert dvx("stage", "add", "-n", "train", "-o", "out",
               "mkdir -p out && echo v1 > out/model.txt").code == 0
    assert dvx("repro").code == 0
    lock = (repo / "dvx.lock").read_bytes()
    write(repo / "out" / "model.txt", "my edit\n")  # an edit to record with `dvx commit`
    with unreadable_files(repo / "dvx.yaml"):
        result = dvx_unprivileged(repo, "commit", *args)
    said = " ".join(result.stderr.split())
    assert result.returncode == 1, said
    assert "Cannot read dvx.yaml: Permission denied. Make it readable (`chmod u+r dvx.yaml`" \
        in said, said
    assert "half-changed" not in said and "Traceback" not in said
    assert (repo / "dvx.lock").read_bytes() == lock
    assert not (repo / ".dvx" / "tmp" / "lock.stopped").exists()
    assert dvx("commit", *args).code == 0  # readable again: the commit records the edit
    assert (repo / "dvx.lock").read_bytes() != lock


@pytest.mark.parametrize("args", [("commit", "-f", "out"), ("checkout", "out"),
                                  ("status", "out"), ("push", "out"), ("push", "train")])
def test_a_stage_s_output_or_name_with_an_unreadable_dvx_lock_names_its_chmod(repo, dvx, args):
    """With a dvx.lock this user may not read, a stage's output (or the stage's name) given
    as a target fails naming `chmod u+r dvx.lock`, as `dvx repro` does: dvx cannot tell what
    dvx.lock records, so never "not tracked by dvx" nor a `dvx repro` of a stage not yet run."""
    assert dvx("stage", "add", "-n", "train", "-o", "out", "echo v1 > out").code == 0
    assert dvx("repro").code == 0
    with unreadable_files(repo / "dvx.lock"):
        result = dvx_unprivileged(repo, *args)
    said = " ".join(result.stderr.split())
    assert result.returncode == 1, said
    assert "Cannot read dvx.lock: Permission denied. Make it readable (`chmod u+r dvx.lock`" \
        in said, said
    assert "not tracked" not in said and "records no output" not in said, said


def test_targets_single_item_and_downstream(ml, dvx):
    assert dvx("repro", "featurize").code == 0
    assert runs(ml) == ["prepare", "featurize"]
    assert dvx("repro", "-f", "-s", "train").code == 0
    assert runs(ml)[2:] == ["train"]
    assert dvx("repro", "-f", "--downstream", "train").code == 0
    assert runs(ml)[3:] == ["train", "evaluate"]
    assert dvx("repro", "-f", "evaluate").code == 0
    assert runs(ml)[5:] == ["prepare", "featurize", "train", "evaluate"]
    result = dvx("repro", "nope")
    assert result.code == 2 and "no stage named 'nope'" in result.stderr


def test_a_dry_run_says_a_stage_would_fail_when_its_dependency_s_stage_is_left_out(ml, dvx):
    lacks = ("missing dependencies: data/features (an output of stage 'featurize', which this "
             "run leaves out: `dvx repro train` runs it first).")
    dry = dvx("repro", "--dry", "-s", "train")
    assert dry.code == 0 and dry.stdout == f"Would fail stage 'train': {lacks}\n"
    dry = dvx("repro", "--dry", "--downstream", "train")
    assert dry.stdout.splitlines() == [f"Would fail stage 'train': {lacks}",
                                       "Would skip stage 'evaluate': upstream stage 'train' "
                                       "would fail."]
    real = dvx("repro", "-s", "train")
    assert real.code == 1 and f"Stage 'train' failed: {lacks}" in real.stderr
    assert runs(ml) == []
    dry = dvx("repro", "--dry", "train")  # featurize would make it first
    assert "Would run stage 'train'" in dry.stdout and "fail" not in dry.stdout


_STAGE = "  {0}:\n    cmd: echo {1} > {1}.txt\n    outs: [{1}.txt]\n"


def test_repro_drops_the_lock_entries_of_stages_gone_from_dvx_yaml(repo, dvx):
    """Only a run of the whole pipeline drops them; their outputs stay ignored by Git, so a
    `git add -A` never commits that data."""
    group = ("  build:\n    foreach: [{}]\n    do:\n      cmd: echo ${{item}} > ${{item}}.txt\n"
             "      outs: ['${{item}}.txt']\n")
    run_and_commit(repo, "stages:\n" + _STAGE.format("keep", "k") + _STAGE.format("gone", "g")
                   + _STAGE.format("old", "o") + group.format("us, eu"), "v1")
    lock = (repo / "dvx.lock").read_bytes()
    ignored = (repo / ".gitignore").read_text()
    write(repo / "dvx.yaml", "stages:\n  keep: [\n")  # unreadable: nothing is dropped
    assert dvx("repro").code != 0 and (repo / "dvx.lock").read_bytes() == lock
    write(repo / "dvx.yaml", "stages:\n" + _STAGE.format("keep", "k")
          + _STAGE.format("renamed", "o") + group.format("us"))
    dropping = "dvx.lock entries of 'build@eu', 'gone', 'old', no longer in dvx.yaml."
    left = ("No stage outputs eu.txt, g.txt any longer: they {} in the workspace, still "
            "ignored by Git, so `git add -A` leaves them out (delete them, or remove their "
            "lines from .gitignore to let Git see them).")
    assert "drop" not in dvx("repro", "--dry", "keep").stdout
    dry = dvx("repro", "--dry")
    assert f"Would drop the {dropping}" in dry.stdout and left.format("would stay") in dry.stdout
    assert (repo / "dvx.lock").read_bytes() == lock
    result = dvx("repro")
    assert result.code == 0, result.output
    assert f"Dropped the {dropping}" in result.stdout and left.format("stay") in result.stdout
    assert result.stdout.endswith("git add dvx.lock\n")
    assert sorted(read_lock(str(repo), "xxh128")) == ["build@us", "keep", "renamed"]
    assert (repo / ".gitignore").read_text() == ignored
    assert git(repo, "status", "--short", "--", "g.txt", "eu.txt") == ""
    assert (repo / "g.txt").read_text() == "g\n" and (repo / "eu.txt").exists()
    (repo / "g.txt").unlink()
    assert "g.txt" not in dvx("status").output
    assert dvx("checkout").code == 0 and not (repo / "g.txt").exists()
    assert (repo / "eu.txt").exists()


def test_repro_json_names_the_outputs_of_dropped_entries_left_ignored_in_the_workspace(repo,
                                                                                    dvx):
    """What the text output says of them a script reads: the outputs no stage has any
    longer, which stay in the workspace still ignored by Git (--dry: would stay)."""
    group = ("stages:\n  build:\n    foreach: [{}]\n    do:\n"
             "      cmd: echo ${{item}} > ${{item}}.txt\n      outs: ['${{item}}.txt']\n")
    write(repo / "dvx.yaml", group.format("us, eu"))
    assert dvx("repro").code == 0
    write(repo / "dvx.yaml", group.format("us"))
    for args in (("--dry",), ()):
        result = dvx("repro", "--json", *args)
        assert result.code == 0, result.output
        doc = json.loads(result.stdout)
        assert (doc["dropped_stages"], doc["left_ignored"]) == (["build@eu"], ["eu.txt"]), args
    assert (repo / "eu.txt").exists() and _ignored(repo, "eu.txt")


def test_outputs_of_dropped_entries_deleted_or_no_longer_ignored_are_not_said_to_stay(
        repo, dvx):
    """An output of a dropped entry that was deleted, or whose .gitignore line is gone, is
    not named as staying in the workspace still ignored by Git; one that does stay is."""
    group = ("stages:\n  build:\n    foreach: [{}]\n    do:\n"
             "      cmd: echo ${{item}} > ${{item}}.txt\n      outs: ['${{item}}.txt']\n")
    write(repo / "dvx.yaml", group.format("us, eu, fr, de"))
    assert dvx("repro").code == 0
    write(repo / "dvx.yaml", group.format("us"))
    (repo / "eu.txt").unlink()
    gitignore = (repo / ".gitignore").read_text()
    write(repo / ".gitignore", gitignore.replace("/fr.txt\n", ""))
    for args in (("--dry",), ()):
        result = dvx("repro", "--json", *args)
        assert result.code == 0, result.output
        doc = json.loads(result.stdout)
        assert doc["dropped_stages"] == ["build@de", "build@eu", "build@fr"], args
        assert doc["left_ignored"] == ["de.txt"], args
    write(repo / "dvx.yaml", group.format("us, de"))
    assert dvx("repro").code == 0
    write(repo / "dvx.yaml", group.format("us"))
    (repo / "de.txt").unlink()
    text = dvx("repro")
    assert text.code == 0 and "stay" not in text.output, text.output


# `build` writes out/ITEM.csv for each item of the list, `merge` reads the folder out/
_ITEMS_MERGED = ("stages:\n  build:\n    foreach: [{}]\n    do:\n"
                 "      cmd: echo ${{item}} > out/${{item}}.csv\n"
                 "      outs: ['out/${{item}}.csv']\n"
                 "  merge:\n    cmd: cat out/*.csv > all.txt\n    deps: [out]\n"
                 "    outs: [all.txt]\n")


def test_a_stage_reading_a_dropped_output_left_ignored_never_runs_on_it_nor_is_up_to_date(
        repo, dvx, tmp_path):
    """A `foreach` item dropped leaves its output in a folder another stage reads, still
    ignored by Git: no clone has it, so that stage is never "up to date" with it, nor run on
    it (its record would never match a clone's); repro and status name it and the way out,
    and once it is deleted the run matches what a fresh clone finds."""
    (repo / "out").mkdir()
    write(repo / "dvx.yaml", _ITEMS_MERGED.format("us, eu"))
    assert dvx("repro").code == 0
    assert dvx("remote", "add", "-d", "store", str(tmp_path / "store")).code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "v1")
    lock = read_lock(str(repo), "xxh128")
    write(repo / "dvx.yaml", _ITEMS_MERGED.format("us"))
    dry = dvx("repro", "--dry")
    assert "Would fail stage 'merge': it reads out/eu.csv, which Git ignores" in dry.stdout
    result = dvx("repro")
    assert result.code == 1, result.output
    said = " ".join(result.stderr.split())
    assert "Stage 'merge' failed: it reads out/eu.csv, which Git ignores" in said, said
    assert "nothing was run. dvx.lock recorded it as the output of a stage dvx.yaml no " \
        "longer has. To keep it, remove its line from .gitignore for Git to track it; or " \
        "delete it; then run `dvx repro`" in said, said
    assert "are up to date" not in result.stdout
    assert (repo / "all.txt").read_text() == "eu\nus\n"
    assert read_lock(str(repo), "xxh128")["merge"] == lock["merge"]
    status = dvx("status")
    assert status.stdout.startswith("merge: reads data no clone has: out/eu.csv (Git ignores "
                                    "it, and no stage or pointer records it: to keep it, "
                                    "remove its line from .gitignore for Git to track it; or "
                                    "delete it)"), status.output
    assert dvx("status", "-q").code == 1
    (repo / "out" / "eu.csv").unlink()
    assert dvx("repro").code == 0 and (repo / "all.txt").read_text() == "us\n"
    assert dvx("status", "-q").code == 0
    assert dvx("push").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "no eu")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(repo), str(clone))
    assert dvx("pull", cwd=clone).code == 0
    fresh = dvx("status", cwd=clone)
    assert fresh.code == 0 and "merge" not in fresh.stdout, fresh.output


def test_a_dropped_output_inside_a_folder_a_stage_reads_is_kept_by_git_never_as_dvx_data(
        repo, dvx):
    """Data no clone has inside a folder a stage reads (out/eu.csv of an item dropped, merge
    reading out) is never offered `dvx add`, whose pointer file the folder the stage reads
    cannot hold; the way that keeps it, Git tracking it once its .gitignore line is gone,
    lets repro run the stage and status call it up to date."""
    (repo / "out").mkdir()
    run_and_commit(repo, _ITEMS_MERGED.format("us, eu"), "v1")
    write(repo / "dvx.yaml", _ITEMS_MERGED.format("us"))
    refused = dvx("repro")
    said = " ".join(refused.stderr.split())
    assert refused.code == 1 and "remove its line from .gitignore" in said, said
    status = dvx("status")
    assert "reads data no clone has: out/eu.csv" in status.stdout, status.output
    for text in (said, status.stdout):
        assert "dvx add" not in text, text
    ignored = (repo / "out" / ".gitignore").read_text()
    write(repo / "out" / ".gitignore", ignored.replace("/eu.csv\n", ""))
    git(repo, "add", "out/eu.csv", "out/.gitignore")
    ran = dvx("repro")
    assert ran.code == 0, ran.output
    assert (repo / "all.txt").read_text() == "eu\nus\n"
    status = dvx("status")
    assert status.code == 0 and "merge" not in status.stdout, status.output
    assert dvx("repro").code == 0 and (repo / "out" / "eu.csv").read_text() == "eu\n"


def test_a_stage_reading_a_gone_stage_s_output_whole_is_told_to_track_it_never_to_delete_it(
        repo, dvx):
    """A stage reads res, the whole output of a stage taken out of dvx.yaml: no clone has it,
    so repro runs nothing and status calls the stage stale, both naming `dvx add res` to
    keep it as data, never deleting it, which would leave the stage without its dependency;
    tracked so, the stage runs on it and every clone pulls it."""
    write(repo / "raw.txt", "raw\n")
    run_and_commit(repo, "stages:\n  prep:\n    cmd: mkdir -p res && cp raw.txt res/a.txt\n"
                   "    deps: [raw.txt]\n    outs: [res]\n  train:\n"
                   "    cmd: cat res/a.txt > model.txt\n    deps: [res]\n    outs: [model.txt]\n",
                   "pipeline")
    write(repo / "dvx.yaml", "stages:\n  train:\n    cmd: cat res/a.txt > model.txt\n"
          "    deps: [res]\n    outs: [model.txt]\n")
    way = "to keep it, track it as data with `dvx add res` (and the `git add` it names)"
    status = " ".join(dvx("status").stdout.split())
    assert "train: reads data no clone has: res" in status and way in status, status
    refused = dvx("repro")
    said = " ".join(refused.stderr.split())
    assert refused.code == 1 and f"T{way[1:]}" in said, said
    for text in (status, said):
        assert "delete" not in text.lower(), text
    added = dvx("add", "res")
    assert added.code == 0, added.output
    ran = dvx("repro")
    assert ran.code == 0, ran.output
    assert (repo / "model.txt").read_text() == "raw\n"
    assert dvx("status", "-q").code == 0, dvx("status").output


def test_a_folder_the_user_ignores_with_a_line_like_dvxs_is_read_as_any_other(repo, dvx):
    """The user writes `/NAME` lines too: notes kept beside the code (`/scratch`), build
    products (`/build`) in a folder a stage reads. No stage made them and the cache never
    held them, so they are not a dropped output left behind: repro runs the stage, status
    calls it up to date once run, and neither tells the user to delete their data."""
    write(repo / "src" / "a.py", "code\n")
    write(repo / "src" / "scratch" / "j", "my notes\n")
    write(repo / "src" / "build" / "app.o", "object code\n")
    write(repo / "src" / ".gitignore", "/scratch\n/build\n")
    write(repo / "dvx.yaml", "stages:\n  build:\n    cmd: cat src/a.py > out.txt\n"
                             "    deps: [src]\n    outs: [out.txt]\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "base")
    dry = dvx("repro", "--dry")
    assert dry.code == 0 and "Would fail" not in dry.stdout, dry.output
    result = dvx("repro")
    assert result.code == 0, result.output
    assert "Delete" not in result.output and (repo / "out.txt").read_text() == "code\n"
    status = dvx("status")
    assert status.code == 0 and "no clone has" not in status.output, status.output
    assert (repo / "src" / "scratch" / "j").read_text() == "my notes\n"


def test_status_calls_stale_a_stage_reading_an_item_s_output_as_soon_as_it_is_dropped(
        repo, dvx):
    """Once a `foreach` item leaves dvx.yaml, before any run, status finds its output left
    in a folder another stage reads as repro does: data no clone has, so that stage is
    stale, not up to date while repro fails it."""
    (repo / "out").mkdir()
    run_and_commit(repo, _ITEMS_MERGED.format("us, eu"), "v1")
    write(repo / "dvx.yaml", _ITEMS_MERGED.format("us"))
    status = dvx("status")
    assert "merge: reads data no clone has: out/eu.csv" in status.stdout, status.output
    assert dvx("status", "-q").code == 1
    assert dvx("repro").code == 1


def test_a_dropped_output_left_ignored_is_found_once_gc_took_its_object_or_it_was_edited(
        repo, dvx, tmp_path):
    """What makes data a dropped output is that dvx.lock recorded it as one (in a commit
    HEAD reaches), not that the cache still holds it: after `dvx gc` took its object, or the
    user edited it, a stage reading it is still never run on it nor called up to date."""
    (repo / "out").mkdir()
    write(repo / "dvx.yaml", _ITEMS_MERGED.format("us, eu"))
    assert dvx("repro").code == 0
    assert dvx("remote", "add", "-d", "store", str(tmp_path / "store")).code == 0
    assert dvx("push").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "v1")
    write(repo / "dvx.yaml", _ITEMS_MERGED.format("us"))
    assert dvx("repro").code == 1
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "no eu")
    assert dvx("gc", "-w", "-f", "--grace", "0").code == 0
    eu = hash_file(str(repo / "out" / "eu.csv"))[0]
    assert not (repo / ".dvx" / "cache" / "files" / "xxh128" / eu[:2] / eu[2:]).exists()
    for content in (None, "edited\n"):
        if content is not None:
            write(repo / "out" / "eu.csv", content)
        result = dvx("repro")
        assert result.code == 1, result.output
        assert "it reads out/eu.csv, which Git ignores" in " ".join(result.stderr.split())
        assert (repo / "all.txt").read_text() == "eu\nus\n"
        status = dvx("status")
        assert status.stdout.startswith("merge: ") and \
            "reads data no clone has: out/eu.csv" in status.stdout, status.output


def test_a_file_of_the_users_holding_a_copy_of_tracked_data_is_read_as_any_other(repo, dvx):
    """A file the user has Git ignore with a `/NAME` line of their own, in a folder a stage
    reads, is theirs even when it holds the same bytes as data dvx tracks: no dvx.lock ever
    recorded it as an output, so repro runs the stage and status calls it up to date."""
    write(repo / "data" / "raw" / "big.csv", "1,2,3\n")
    assert dvx("add", "data/raw").code == 0
    write(repo / "src" / "run.py", "code\n")
    write(repo / "src" / ".gitignore", "/local.csv\n")
    write(repo / "src" / "local.csv", "1,2,3\n")
    write(repo / "dvx.yaml", "stages:\n  s:\n    cmd: ls src > res.txt\n"
                             "    deps: [src, data/raw]\n    outs: [res.txt]\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "base")
    result = dvx("repro")
    assert result.code == 0 and "Delete" not in result.output, result.output
    status = dvx("status")
    assert status.code == 0 and "no clone has" not in status.output, status.output
    assert (repo / "src" / "local.csv").read_text() == "1,2,3\n"


def test_an_emptied_dvx_yaml_never_committed_is_not_said_to_be_restored_by_git(repo, dvx):
    """`git restore dvx.yaml` brings back only what Git has: for a dvx.yaml emptied before
    any commit held it, repro says to restore it, naming no Git command that cannot."""
    write(repo / "dvx.yaml", "stages:\n" + _STAGE.format("a", "a"))
    assert dvx("repro").code == 0
    write(repo / "dvx.yaml", "")
    refused = dvx("repro")
    assert refused.code == 2, refused.output
    assert "dvx.yaml declares no stages" in refused.stderr
    assert "git restore" not in refused.stderr and "git checkout" not in refused.stderr
    write(repo / "dvx.yaml", "stages:\n" + _STAGE.format("a", "a"))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "v1")
    write(repo / "dvx.yaml", "")
    assert "`git restore dvx.yaml`" in " ".join(dvx("repro").stderr.split())


def test_a_dvx_yaml_saying_nothing_of_stages_stops_repro_while_dvx_lock_records_some(
        repo, dvx):
    """An emptied dvx.yaml (an editor's crash, a `> dvx.yaml`) is refused as a missing one
    is, before anything changes; `stages: {}` says there are none, and repro drops them,
    naming them."""
    run_and_commit(repo, "stages:\n" + _STAGE.format("a", "a") + _STAGE.format("b", "b"),
                   "v1")
    lock = (repo / "dvx.lock").read_bytes()
    for emptied in ("", "stages:\n", "# all gone\n", "vars: []\n"):
        write(repo / "dvx.yaml", emptied)
        for args in (["repro"], ["repro", "--dry"], ["exp", "run"]):
            refused = dvx(*args)
            assert refused.code == 2, (emptied, args, refused.output)
            message = " ".join(refused.stderr.split())
            assert ("dvx.yaml declares no stages" in message
                    and "dvx.lock records the stages 'a', 'b'" in message), message
            assert "stages: {}" in message
            assert (repo / "dvx.lock").read_bytes() == lock
            assert git(repo, "status", "--porcelain", "--", ":!dvx.yaml") == ""
    write(repo / "dvx.yaml", "stages: {}\n")
    result = dvx("repro")
    assert result.code == 0, result.output
    assert "Dropped the dvx.lock entries of 'a', 'b', no longer in dvx.yaml." in result.stdout
    assert read_lock(str(repo), "xxh128") == {}
    (repo / "dvx.lock").unlink()
    write(repo / "dvx.yaml", "")
    assert dvx("stage", "add", "-n", "c", "-o", "c.txt", "echo c > c.txt").code == 0
    assert dvx("repro").code == 0 and (repo / "c.txt").read_text() == "c\n"


def test_dropping_a_stage_entry_leaves_the_data_a_pointer_tracks_at_its_output_to_dvx(
        repo, dvx):
    """x.txt.dvx (from another branch) tracks x.txt, which a stage gone from dvx.yaml made:
    repro drops the stage's dvx.lock entry, but x.txt stays dvx's data, ignored by Git as
    data a pointer tracks is, so no line says it is no longer dvx's nor to let Git see it,
    and dvx still knows it placed the stage's version there: status says the pointer's data
    is not checked out (never that x.txt was modified), and a checkout places it."""
    git(repo, "commit", "-q", "--allow-empty", "-m", "start")
    main = git(repo, "rev-parse", "--abbrev-ref", "HEAD").strip()
    git(repo, "checkout", "-q", "-b", "data")
    write(repo / "x.txt", "mine\n")
    assert dvx("add", "x.txt").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "data")
    git(repo, "checkout", "-q", main)
    (repo / "x.txt").unlink()
    run_and_commit(repo, "stages:\n  s:\n    cmd: echo made > x.txt\n    outs: [x.txt]\n",
                   "stage")
    git(repo, "checkout", "-q", "data", "--", "x.txt.dvx")
    write(repo / "dvx.yaml", "stages: {}\n")

    for args in (["repro", "--dry"], ["repro"]):
        result = dvx(*args)
        assert "dvx.lock entry of 's'" in result.stdout, result.output
        assert "x.txt any longer" not in result.output and ".gitignore" not in result.output
    assert "/x.txt" in (repo / ".gitignore").read_text().splitlines()
    status = dvx("status")
    assert "x.txt: pointer changed" in status.stdout and "modified" not in status.stdout, \
        status.output
    assert "tracked twice" not in status.output
    assert dvx("checkout", "x.txt").code == 0
    assert (repo / "x.txt").read_text() == "mine\n"


@pytest.mark.parametrize("link", ["symlink", "copy"])
def test_dropping_a_stage_entry_hands_over_an_output_holding_data_a_pointer_tracks(
        repo, dvx, link):
    """A stage gone from dvx.yaml made the folder `d`, and a pointer (from another branch)
    tracks `d/a` inside it: the folder is handed over as any dropped output, so `d/b`, which
    no pointer tracks, becomes a file of the user's that no checkout deletes."""
    assert dvx("config", "cache.type", link).code == 0
    git(repo, "commit", "-q", "--allow-empty", "-m", "start")
    main = git(repo, "rev-parse", "--abbrev-ref", "HEAD").strip()
    git(repo, "checkout", "-q", "-b", "data")
    write(repo / "d" / "a", "mine\n")
    assert dvx("add", "d/a").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "data")
    git(repo, "checkout", "-q", main)
    run_and_commit(repo, "stages:\n  g:\n    cmd: mkdir -p d && echo made > d/a && "
                                      "echo b > d/b\n    outs: [d]\n", "stage")
    git(repo, "checkout", "-q", "data", "--", "d/a.dvx")
    write(repo / "dvx.yaml", "stages: {}\n")

    dropped = dvx("repro")
    assert "dvx.lock entry of 'g'" in dropped.stdout, dropped.output
    assert not (repo / "d" / "b").is_symlink()
    assert (repo / "d" / "b").read_text() == "b\n"
    dvx("checkout")
    assert (repo / "d" / "b").read_text() == "b\n"


def test_status_names_the_stages_dvx_lock_records_while_dvx_yaml_says_nothing_of_stages(
        repo, dvx):
    """Status says what repro refuses: an emptied dvx.yaml, which is no pipeline without
    stages while dvx.lock records some, is a change (-q exits 1), never "up to date"."""
    run_and_commit(repo, "stages:\n" + _STAGE.format("a", "a") + _STAGE.format("b", "b"),
                   "v1")
    for emptied in ("", "stages:\n", "# all gone\n"):
        write(repo / "dvx.yaml", emptied)
        result = dvx("status")
        assert result.code == 0, result.output
        text = " ".join(result.stdout.split())
        assert "up to date" not in text, text
        assert ("dvx.yaml declares no stages (it is empty, or has nothing under `stages`), "
                "while dvx.lock records the stages 'a', 'b': `dvx repro` refuses to run" in text
                and "`stages: {}`" in text), text
        assert dvx("status", "-q").code == 1
        doc = json.loads(dvx("status", "--json").stdout)
        assert doc["changed"] is True and doc["recorded_while_none_declared"] == ["a", "b"]
    write(repo / "dvx.yaml", "stages: {}\n")  # none, said so: repro drops their entries
    doc = json.loads(dvx("status", "--json").stdout)
    assert doc["changed"] is False and doc["recorded_while_none_declared"] == []
    assert dvx("repro").code == 0 and dvx("status", "-q").code == 0


def test_a_missing_dvx_yaml_stops_repro_and_shows_in_status_while_dvx_lock_records_stages(
        repo, dvx):
    """A dvx.yaml deleted (by hand, `git rm`, or a commit pulled in) while dvx.lock records
    stages is no pipeline without stages: status names them as a change, repro and exp run
    refuse before anything changes, each naming the Git command that brings dvx.yaml back."""
    run_and_commit(repo, "stages:\n" + _STAGE.format("a", "a") + _STAGE.format("b", "b"),
                   "v1")
    lock = (repo / "dvx.lock").read_bytes()

    def refused_naming(restore: str) -> None:
        status = dvx("status")
        assert status.code == 0, status.output
        text = " ".join(status.stdout.split())
        assert "up to date" not in text, text
        assert ("dvx.yaml is missing, while dvx.lock records the stages 'a', 'b': `dvx repro` "
                f"refuses to run until you restore dvx.yaml{restore}, or write a dvx.yaml "
                "holding `stages: {}`, and then drops their entries") in text, text
        assert dvx("status", "-q").code == 1
        doc = json.loads(dvx("status", "--json").stdout)
        assert doc["changed"] is True and doc["recorded_while_none_declared"] == ["a", "b"]
        for args in (["repro"], ["repro", "--dry"], ["exp", "run"]):
            refused = dvx(*args)
            assert refused.code == 2, (args, refused.output)
            message = " ".join(refused.stderr.split())
            assert ("dvx.yaml is missing, while dvx.lock records the stages 'a', 'b': `dvx "
                    "repro` would drop their entries, so nothing was changed. Restore "
                    f"dvx.yaml{restore}; to drop the whole pipeline, write a dvx.yaml holding "
                    "`stages: {}`.") in message, message
            assert (repo / "dvx.lock").read_bytes() == lock and not (repo / "dvx.yaml").exists()

    (repo / "dvx.yaml").unlink()
    refused_naming(" (`git checkout HEAD -- dvx.yaml`)")
    git(repo, "rm", "-q", "--cached", "dvx.yaml")  # `git rm`: `git restore` finds none
    refused_naming(" (`git checkout HEAD -- dvx.yaml`)")
    git(repo, "commit", "-qm", "no pipeline")  # as a teammate's commit brings it
    deleting = git(repo, "rev-parse", "--short", "HEAD").strip()
    refused_naming(f", which commit {deleting} deleted (`git checkout {deleting}~1 -- "
                   "dvx.yaml`)")
    git(repo, "checkout", "-q", f"{deleting}~1", "--", "dvx.yaml")
    assert dvx("repro").code == 0 and dvx("status", "-q").code == 0
    (repo / "dvx.yaml").unlink()
    write(repo / "dvx.yaml", "stages: {}\n")  # none, said so: repro drops their entries
    result = dvx("repro")
    assert result.code == 0, result.output
    assert "Dropped the dvx.lock entries of 'a', 'b', no longer in dvx.yaml." in result.stdout


def test_stage_list_and_dag_name_the_stages_dvx_lock_records_while_dvx_yaml_is_missing(
        repo, dvx):
    """With dvx.yaml deleted while dvx.lock records stages, `stage list` and `dag` name
    those stages and the ways out, as status does, never "No stages yet"."""
    write(repo / "in.txt", "1\n")
    run_and_commit(repo, _TWO_OUTS, "a makes both")
    git(repo, "rm", "-q", "dvx.yaml")
    git(repo, "commit", "-qm", "drop the pipeline")
    for args in (["stage", "list"], ["dag"]):
        result = dvx(*args)
        assert result.code == 0, (args, result.output)
        said = " ".join(result.stdout.split())
        assert "No stages yet" not in said, (args, said)
        assert "dvx.yaml is missing, while dvx.lock records the stage" in said, (args, said)
        assert "`stages: {}`" in said, (args, said)


def test_a_dvx_yaml_deleted_by_a_merge_is_restored_from_before_that_merge(repo, dvx):
    """A merge whose conflict was resolved by `git rm dvx.yaml` is the commit that deleted
    it, not an older commit that deleted it before it came back: the advice restores the
    pipeline the merge's first parent had, never an ancient one."""
    write(repo / "in.txt", "1\n")
    write(repo / "dvx.yaml", "stages:\n  ancient:\n    cmd: cat in.txt > old.txt\n"
                             "    deps: [in.txt]\n    outs: [old.txt]\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "v0")
    git(repo, "rm", "-q", "dvx.yaml")
    git(repo, "commit", "-qm", "old deletion")
    stage = "stages:\n  s1:\n    cmd: cat {} > out.txt\n    deps: [in.txt]\n    outs: [out.txt]\n"
    run_and_commit(repo, stage.format("in.txt"), "v1")
    base = git(repo, "rev-parse", "--abbrev-ref", "HEAD").strip()
    git(repo, "checkout", "-q", "-b", "side")
    write(repo / "dvx.yaml", stage.format("./in.txt"))
    git(repo, "commit", "-qam", "side")
    git(repo, "checkout", "-q", base)
    write(repo / "dvx.yaml", stage.format("in.txt in.txt"))
    git(repo, "commit", "-qam", "main")
    assert subprocess.run(["git", "merge", "-q", "side"], cwd=repo, capture_output=True,
                          check=False).returncode != 0
    git(repo, "rm", "-q", "dvx.yaml")
    git(repo, "commit", "-qm", "merge: resolved by deleting dvx.yaml")
    merge = git(repo, "rev-parse", "--short", "HEAD").strip()
    refused = dvx("repro")
    assert refused.code == 2, refused.output
    said = " ".join(refused.stderr.split())
    assert f"which commit {merge} deleted (`git checkout {merge}~1 -- dvx.yaml`)" in said, said
    git(repo, "checkout", "-q", f"{merge}~1", "--", "dvx.yaml")
    assert "s1:" in (repo / "dvx.yaml").read_text()


def test_stage_add_writing_a_new_dvx_yaml_names_the_stages_dvx_lock_records(repo, dvx):
    """`dvx stage add` after dvx.yaml was deleted writes a new one: it warns, even with -q,
    that the stages dvx.lock records are not in it and that repro drops their entries, and
    how to keep them; repro then names the entries it drops."""
    run_and_commit(repo, "stages:\n" + _STAGE.format("a", "a") + _STAGE.format("b", "b"),
                   "v1")
    git(repo, "rm", "-q", "dvx.yaml")
    added = dvx("-q", "stage", "add", "-n", "a", "-o", "c.txt", "echo c > c.txt")
    assert added.code == 0, added.output
    warning = " ".join(added.stderr.split())
    assert warning == (
        "WARNING: There was no dvx.yaml, while dvx.lock records the stage 'b': the dvx.yaml "
        "written now does not declare it, so `dvx repro` will drop its entry. To keep it, "
        "restore dvx.yaml (`git checkout HEAD -- dvx.yaml`) and add stage 'a' to it again."), \
        warning  # 'a' is declared again, by this stage
    result = dvx("repro")
    assert result.code == 0, result.output
    assert "Dropped the dvx.lock entry of 'b', no longer in dvx.yaml." in result.stdout
    again = dvx("stage", "add", "-n", "d", "-o", "d.txt", "echo d > d.txt")
    assert again.code == 0 and again.stderr == "", again.output  # dvx.yaml was there


# Stage s writing {1} into its output {0}.
ONE_STAGE = "stages:\n  s:\n    cmd: echo {1} > {0}\n    deps: [in]\n    outs: [{0}]\n"


def _model_bin_committed(repo, dvx, link: str) -> None:
    """Stage s's model.bin run and committed with cache.type `link`."""
    assert dvx("config", "cache.type", link).code == 0
    write(repo / "in", "in\n")
    run_and_commit(repo, ONE_STAGE.format("model.bin", "model-bytes"), "v1")


def _model_bin_then_its_stage_dropped(repo, dvx, link: str, edit: str) -> None:
    """`_model_bin_committed`, then dvx.yaml edited so no stage outputs model.bin (`edit`:
    the stage deleted, or its output renamed)."""
    _model_bin_committed(repo, dvx, link)
    write(repo / "dvx.yaml", "stages: {}\n" if edit == "stage deleted"
          else ONE_STAGE.format("renamed.bin", "other-bytes"))


@pytest.mark.parametrize("link", ["symlink", "hardlink"])
@pytest.mark.parametrize("edit", ["stage deleted", "output renamed"])
def test_an_output_of_a_dropped_entry_stays_a_file_of_its_own_not_a_link_into_the_cache(
        repo, dvx, link, edit):
    """The output a dvx.lock entry recorded and no stage has any longer stays in the
    workspace: a copy of its own, so gc taking its object never takes its bytes."""
    _model_bin_then_its_stage_dropped(repo, dvx, link, edit)
    ran = dvx("repro")
    assert ran.code == 0 and "No stage outputs model.bin any longer" in ran.stdout, ran.output
    model = repo / "model.bin"
    assert not model.is_symlink() and os.stat(model).st_nlink == 1
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", edit)
    collected = dvx("gc", "-w", "-f", "--grace", "0", "--force-last-copy")
    assert collected.code == 0 and "Removed 1 object" in collected.stdout, collected.output
    assert model.read_text() == "model-bytes\n"


@pytest.mark.parametrize("edit", ["stage deleted", "output renamed"])
def test_a_repro_stopped_by_a_full_disk_before_a_dropped_output_is_a_copy_keeps_its_entry(
        repo, dvx, dvx_proc, edit):
    """The copy a dropped entry's output becomes is made before dvx.lock drops the entry: a
    full disk stops the repro with dvx.lock as it was, and the next repro makes the copy, so
    no link into the cache is left for gc to empty."""
    _model_bin_then_its_stage_dropped(repo, dvx, "symlink", edit)
    stopped = dvx_proc("repro", cwd=repo, env={"DVX_FAULT": "place.before_rename",
                                                "DVX_FAULT_ACTION": "enospc"})
    assert stopped.code != 0 and "No space left on device" in stopped.stderr, stopped.output
    assert "model.bin" in (repo / "dvx.lock").read_text()
    assert dvx("repro").code == 0
    assert not (repo / "model.bin").is_symlink()
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", edit)
    assert dvx("gc", "-w", "-f", "--grace", "0", "--force-last-copy").code == 0
    assert (repo / "model.bin").read_text() == "model-bytes\n"


@pytest.mark.parametrize("edit", ["stage deleted", "output renamed"])
def test_a_dropped_output_linked_into_another_cache_that_this_one_lacks_stays_with_a_warning(
        repo, dvx, tmp_path, monkeypatch, edit):
    """In a copy of a repository with cache.type symlink, an output links into the first
    one's cache; with its object not in this cache, no copy of it can be made. Once no
    stage has it, it stays a link, named in a warning, and repro runs, writes dvx.lock and
    records the new outputs as it would without it."""
    _model_bin_committed(repo, dvx, "symlink")
    copy = tmp_path / "copy"
    shutil.copytree(repo, copy, symlinks=True)
    monkeypatch.chdir(copy)
    target = os.readlink(copy / "model.bin")
    os.unlink(copy / os.path.relpath(target, repo))  # this cache lacks the object
    write(copy / "dvx.yaml", "stages: {}\n" if edit == "stage deleted"
          else ONE_STAGE.format("renamed.bin", "other-bytes"))
    ran = dvx("repro")
    assert ran.code == 0, ran.output
    assert "'model.bin' stays a symbolic link to an object of another dvx cache" in ran.stderr
    assert os.readlink(copy / "model.bin") == target
    assert "model.bin" not in (copy / "dvx.lock").read_text()
    status = dvx("status")
    assert status.code == 0 and "model.bin" not in status.output, status.output
    assert dvx("status", "-q").code == 0


def test_a_repro_of_some_stages_keeps_the_entries_of_stages_commented_out(repo, dvx):
    """A stage taken out of dvx.yaml while debugging another keeps its dvx.lock entry
    through `dvx repro OTHER`, so it is up to date once back; a stage renamed replaces the
    old name's entry when it is recorded, as dvx.lock records an output once."""
    pipeline = "stages:\n" + _STAGE.format("small", "s") + _STAGE.format("big", "b")
    run_and_commit(repo, pipeline, "v1")
    write(repo / "dvx.yaml", "stages:\n" + _STAGE.format("small", "s").replace("echo", "echo  "))
    result = dvx("repro", "small")
    assert result.code == 0, result.output
    assert "Dropped" not in result.stdout and "No stage outputs" not in result.stdout
    assert sorted(read_lock(str(repo), "xxh128")) == ["big", "small"]
    assert git(repo, "status", "--short", "--", "b.txt", ".gitignore") == ""
    write(repo / "dvx.yaml", pipeline)
    assert "big: " not in dvx("status").output
    write(repo / "dvx.yaml", "stages:\n" + _STAGE.format("small", "s")
          + _STAGE.format("large", "b"))
    result = dvx("repro", "large")
    assert result.code == 0, result.output
    assert "Dropped the dvx.lock entry of 'big', no longer in dvx.yaml." in result.stdout
    assert "No stage outputs" not in result.stdout  # large has them
    assert sorted(read_lock(str(repo), "xxh128")) == ["large", "small"]
    assert dvx("status").code == 0


@pytest.mark.parametrize("old,new", [("res", "res/a.txt"), ("res/a.txt", "res")])
def test_a_repro_of_a_renamed_stage_whose_output_overlaps_the_old_one_replaces_its_entry(
        repo, dvx, old, new):
    """`dvx repro t` of stage `s` renamed to `t`, whose output is inside or around the old
    one: `s`'s entry is dropped, as for the same output, since dvx.lock records data once.
    So status is clean, a checkout changes nothing, each time (it never puts `s`'s old data
    over `t`'s fresh output), and the hint names every file to commit, res/.gitignore too."""
    run_and_commit(repo, "stages:\n  s:\n    cmd: mkdir -p res && echo old > res/a.txt"
                   f" && echo b > res/b.txt\n    outs: [{old}]\n", "s")
    if old == "res/a.txt":
        git(repo, "rm", "-rq", "--cached", "--", "res")  # as the refusal to run t says
        git(repo, "commit", "-qm", "res is t's")
    write(repo / "dvx.yaml", "stages:\n  t:\n    cmd: mkdir -p res && echo new > res/a.txt"
          f"\n    outs: [{new}]\n")
    ran = dvx("repro", "t")
    assert ran.code == 0, ran.output
    assert "Dropped the dvx.lock entry of 's', no longer in dvx.yaml." in ran.stdout
    assert list(read_lock(str(repo), "xxh128")) == ["t"]
    assert (repo / "res" / "a.txt").read_text() == "new\n"
    if new == "res/a.txt":
        assert "res/.gitignore" in ran.stdout.splitlines()[-1], ran.output
    for _ in range(2):
        assert dvx("status", "-q").code == 0, dvx("status").output
        checked = dvx("checkout")
        assert checked.code == 0 and "0 restored" in checked.output, checked.output
        assert "removed" not in checked.output, checked.output
    assert (repo / "res" / "a.txt").read_text() == "new\n"


@pytest.mark.parametrize("stop", ["fails", "killed", "interrupted"])
def test_a_renamed_stage_whose_first_run_stops_keeps_the_old_entry_so_a_rerun_succeeds(
        repo, dvx, stop):
    """`dvx repro` of stage `s` (output res/x/a.txt) renamed `t` (output res, persistent)
    whose command fails, or which is killed or stopped by Ctrl-C before its run is
    recorded: `s`'s entry stays until `t` is recorded, and Git still ignores res/x/a.txt
    as that entry says, so the next `dvx repro` still knows res/x/.gitignore as dvx's own
    and runs `t`, rather than refusing res as Git's."""
    run_and_commit(repo, "stages:\n  s:\n    cmd: mkdir -p res/x && echo A > res/x/a.txt"
                   "\n    outs: [res/x/a.txt]\n", "s")
    write(repo / "dvx.yaml", "stages:\n  t:\n    cmd: mkdir -p res && test -e train.py && echo B"
          " > res/b.txt\n    outs:\n      - res:\n          persist: true\n")
    if stop == "killed":
        write(repo / "train.py", "")
        first = run_dvx_proc("repro", cwd=repo, env={"DVX_FAULT": "repro.after_command"})
        assert first.code == -signal.SIGKILL, first.output
    elif stop == "interrupted":
        write(repo / "train.py", "")
        running = stopped_at("repro.after_command", "repro", repo)
        running.send_signal(signal.SIGINT)
        running.send_signal(signal.SIGCONT)
        out, err = running.communicate(timeout=60)
        assert running.returncode == 130 and "Traceback" not in err, out + err
        assert "Dropped" not in out, out + err
    else:
        first = dvx("repro")
        assert first.code == 1 and "Stage 't' failed" in first.output, first.output
    assert list(read_lock(str(repo), "xxh128")) == ["s"]
    if stop != "interrupted":
        assert "Dropped" not in first.stdout, first.output
    assert "res/x/a.txt" not in git(repo, "status", "--porcelain", "-uall"), \
        git(repo, "status", "--porcelain", "-uall")

    write(repo / "train.py", "")
    again = dvx("repro")
    assert again.code == 0, again.output
    assert "Dropped the dvx.lock entry of 's', no longer in dvx.yaml." in again.stdout
    assert list(read_lock(str(repo), "xxh128")) == ["t"]
    assert (repo / "res" / "x" / "a.txt").read_text() == "A\n"
    assert (repo / "res" / "b.txt").read_text() == "B\n"


def test_a_repro_that_waited_for_the_lock_judges_gone_stages_from_dvx_yaml_as_it_is_then(
        repo, dvx):
    """`repro` waits for a command holding the lock while dvx.yaml gets its stage back: it
    reads dvx.yaml once it holds the lock, so that stage's entry is kept."""
    pipeline = "stages:\n" + _STAGE.format("small", "s") + _STAGE.format("big", "b")
    write(repo / "dvx.yaml", pipeline)
    write(repo / "data.csv", "1\n")
    assert dvx("repro").code == 0
    lock = (repo / "dvx.lock").read_bytes()
    write(repo / "dvx.yaml", "stages:\n" + _STAGE.format("small", "s"))
    adding = stopped_at("cache.before_publish", "add data.csv", repo)
    waiter = subprocess.Popen([sys.executable, "-m", "dvx", "repro"], cwd=repo, text=True,
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE)
    try:
        assert waiter.stderr is not None
        assert "Waiting" in waiter.stderr.readline()
        write(repo / "dvx.yaml", pipeline)
    finally:
        adding.send_signal(signal.SIGCONT)
    assert adding.wait(timeout=60) == 0
    out, err = waiter.communicate(timeout=60)
    assert waiter.returncode == 0, out + err
    assert "Dropped" not in out and (repo / "dvx.lock").read_bytes() == lock


def test_a_stage_may_be_named_as_in_dvc_with_its_file(ml, dvx):
    assert dvx("repro", "dvx.yaml:featurize").code == 0
    assert runs(ml) == ["prepare", "featurize"]
    assert dvx("repro", "-f", "-s", "./dvx.yaml:train").code == 0
    assert runs(ml)[2:] == ["train"]
    assert dvx("dag", "--json", "dvx.yaml:train").code == 0
    other = dvx("repro", "sub/dvx.yaml:train")
    assert other.code == 2 and "dvx reads one dvx.yaml, at the repository root" in other.stderr
    unknown = dvx("repro", "dvx.yaml:nope")
    assert unknown.code == 2 and "no stage named 'nope'" in unknown.stderr
    frozen = dvx("freeze", "dvx.yaml:train")
    assert frozen.code == 0 and "Stage 'train' is frozen." in frozen.stdout
    assert dvx("unfreeze", "dvx.yaml:train").code == 0
    removed = dvx("stage", "remove", "dvx.yaml:evaluate")
    assert removed.code == 0 and "evaluate" not in (ml / "dvx.yaml").read_text()


def test_frozen_and_always_changed(repo, dvx):
    write(repo / "in.txt", "x\n")
    write(repo / "dvx.yaml", """\
stages:
  pinned:
    cmd: echo pinned >> runs.log; cp in.txt pinned.txt
    deps: [in.txt]
    outs: [pinned.txt]
    frozen: true
  poll:
    cmd: echo poll >> runs.log; cp in.txt poll.txt
    deps: [in.txt]
    outs: [poll.txt]
    always_changed: true
""")
    result = dvx("repro")
    assert result.code == 0, result.output
    assert "Stage 'pinned' is frozen, so repro never runs it, and its outputs are missing: " \
        "pinned.txt." in result.stderr  # never run: nothing made them
    assert dvx("repro").code == 0
    assert (repo / "runs.log").read_text().split() == ["poll", "poll"]
    assert "poll: always changed" in dvx("status").stdout


def test_a_stage_whose_only_inputs_are_params_is_restored_from_the_run_cache(repo, dvx):
    write(repo / "params.yaml", "n: 1\n")
    write(repo / "dvx.yaml", "stages:\n  gen:\n    cmd: echo run >> runs.log; echo made > "
                             "out.txt\n    params: [n]\n    outs: [out.txt]\n")
    for value in ("1", "2", "1"):
        write(repo / "params.yaml", f"n: {value}\n")
        result = dvx("repro")
        assert result.code == 0, result.output
    assert "Restored 'gen' from the run-cache (changed params: n)." in result.stdout
    assert (repo / "runs.log").read_text().split() == ["run", "run"]


def test_params_changed_while_the_command_ran_record_nothing(repo, dvx):
    """The params file edited while the stage's command runs (here by the command itself,
    after it read the value, as a user's editor or another terminal's `exp run -S` would):
    the outputs may come from either value, so neither dvx.lock nor the run-cache pairs them
    with the one read before; the stage fails, naming the param, and a run once the file is
    left alone records the value it ran with."""
    write(repo / "params.yaml", "lr: 0.5\nother: 1\n")
    write(repo / "dvx.yaml", "stages:\n  train:\n    cmd: cat params.yaml > model.txt && "
                             "sed -i s/0.5/0.9/ params.yaml\n    params: [lr, other]\n"
                             "    outs: [model.txt]\n")
    failed = dvx("repro")
    assert failed.code != 0, failed.output
    assert "its params changed while its command ran (lr (params.yaml))" in failed.stderr, \
        failed.stderr
    assert not (repo / "dvx.lock").exists()
    assert not list((repo / ".dvx" / "cache" / "runs").rglob("*/*"))
    write(repo / "dvx.yaml", "stages:\n  train:\n    cmd: cat params.yaml > model.txt\n"
                             "    params: [lr, other]\n    outs: [model.txt]\n")
    assert dvx("repro").code == 0
    assert "lr: 0.9" in (repo / "dvx.lock").read_text()
    assert (repo / "model.txt").read_text() == "lr: 0.9\nother: 1\n"


@pytest.mark.parametrize("dep, edit", [("in.txt", "echo v2 > in.txt"),
                                       ("data", "echo new > data/a.txt"),
                                       ("data", "rm data/a.txt")])
def test_a_dependency_changed_while_the_command_ran_records_nothing(repo, dvx, dep, edit):
    """A dependency, a file or a file of a folder, edited or deleted while the stage's
    command runs (here by the command itself, after it read it, as a user's editor or a
    `git checkout` in another terminal would): its outputs may come from either version, so
    neither dvx.lock nor the run-cache pairs them with the one hashed before; the stage
    fails, naming it, and a run once it is left alone records the version it ran with."""
    write(repo / "in.txt", "v1\n")
    write(repo / "data" / "a.txt", "a\n")
    write(repo / "data" / "b.txt", "b\n")
    stage = (f"stages:\n  copy:\n    cmd: cat in.txt data/* > out.txt && {edit}\n"
             "    deps: [in.txt, data]\n    outs: [out.txt]\n")
    write(repo / "dvx.yaml", stage)
    failed = dvx("repro")
    assert failed.code != 0, failed.output
    assert f"its dependencies changed while its command ran ({dep})" in failed.stderr, \
        failed.stderr
    assert not (repo / "dvx.lock").exists()
    assert not list((repo / ".dvx" / "cache" / "runs").rglob("*/*"))
    write(repo / "dvx.yaml", stage.replace(f" && {edit}", ""))
    assert dvx("repro").code == 0
    assert dvx("status", "-q").code == 0
    assert (repo / "out.txt").read_text() == (repo / "in.txt").read_text() + "".join(
        (repo / "data" / name).read_text() for name in sorted(os.listdir(repo / "data")))


def _run_records(repo):
    return [json.loads(p.read_text()) for p in (repo / ".dvx" / "cache" / "runs").rglob("*")
            if p.is_file()]


def test_a_file_added_to_a_folder_dependency_while_the_command_ran_fails_the_stage(repo, dvx):
    """A file added to a folder dependency while the command runs (a teammate's download, a
    `git pull`; here the command itself, after it globbed the folder) may or may not have
    been read: the stage fails, naming the folder, and nothing records the folder with a
    file its outputs never saw, so status keeps the stage stale until a run sees it."""
    write(repo / "data" / "1.csv", "a\n")
    stage = ("stages:\n  merge:\n    cmd: cat data/*.csv > out.txt && echo b > data/2.csv\n"
             "    deps: [data]\n    outs: [out.txt]\n")
    write(repo / "dvx.yaml", stage)
    failed = dvx("repro")
    assert failed.code != 0, failed.output
    assert "its dependencies changed while its command ran (data)" in failed.stderr, \
        failed.stderr
    assert "belong in .dvxignore" in failed.stderr, failed.stderr
    assert not (repo / "dvx.lock").exists()
    assert not _run_records(repo)
    assert dvx("status", "-q").code != 0
    write(repo / "dvx.yaml", stage.replace(" && echo b > data/2.csv", ""))
    assert dvx("repro").code == 0
    assert (repo / "out.txt").read_text() == "a\nb\n"
    assert dvx("status", "-q").code == 0


@pytest.mark.parametrize("edit", [
    "mkdir -p data/__pycache__ && echo new > data/__pycache__/b.pyc",
    "echo changed > data/__pycache__/a.pyc",
    "rm data/__pycache__/a.pyc",
    "mkdir -p data/sub/__pycache__ && echo new > data/sub/__pycache__/c.pyc"])
def test_changes_only_in_pycache_while_the_command_ran_are_recorded_with_the_folder(
        repo, dvx, edit):
    """Files added, changed or removed only inside a `__pycache__` of a folder dependency
    while the command runs are Python's bytecode, not what the command read: the run is
    recorded, and dvx.lock and the run-cache both pair its outputs with the folder as the
    command left it, so the next repro finds the stage up to date."""
    write(repo / "data" / "a.txt", "a\n")
    write(repo / "data" / "__pycache__" / "a.pyc", "bytecode\n")
    write(repo / "dvx.yaml", f"stages:\n  copy:\n    cmd: cat data/a.txt > out.txt && {edit}\n"
                             "    deps: [data]\n    outs: [out.txt]\n")
    ran = dvx("repro")
    assert ran.code == 0, ran.output
    (locked,) = read_lock(str(repo), "xxh128")["copy"].deps
    assert [r["deps"] for r in _run_records(repo)] == [[["data", locked.oid]]]
    assert dvx("status", "-q").code == 0  # dvx.lock has the folder as the command left it


def test_a_file_other_than_bytecode_written_into_pycache_while_the_command_ran_fails_it(
        repo, dvx):
    """Only .pyc/.pyo files in a `__pycache__` are Python's: a memo the command writes there
    (and may read next time) is a dependency that changed, as anywhere else."""
    write(repo / "data" / "a.txt", "a\n")
    write(repo / "dvx.yaml", "stages:\n  copy:\n    cmd: cat data/a.txt > out.txt && "
                             "mkdir -p data/__pycache__ && echo memo > data/__pycache__/memo\n"
                             "    deps: [data]\n    outs: [out.txt]\n")
    failed = dvx("repro")
    assert failed.code != 0, failed.output
    assert "its dependencies changed while its command ran (data)" in failed.stderr
    assert not (repo / "dvx.lock").exists() and not _run_records(repo)


def test_a_python_stage_importing_from_its_dependency_folder_is_recorded_with_its_pycache(
        repo, dvx, monkeypatch):
    """`python src/train.py` with `deps: [src]` writes src/__pycache__ as it imports from
    there: its first run is recorded, with the folder as it left it, and the next repro
    runs nothing."""
    monkeypatch.delenv("PYTHONDONTWRITEBYTECODE", raising=False)
    write(repo / "src" / "util.py", "X = 1\n")
    write(repo / "src" / "train.py", "import util\nopen('out.txt', 'w').write(str(util.X))\n")
    write(repo / "dvx.yaml", f"stages:\n  train:\n    cmd: {sys.executable} src/train.py\n"
                             "    deps: [src]\n    outs: [out.txt]\n")
    ran = dvx("repro")
    assert ran.code == 0, ran.output
    assert list((repo / "src" / "__pycache__").iterdir())  # the command wrote it
    (locked,) = read_lock(str(repo), "xxh128")["train"].deps
    assert locked.nfiles == 3
    assert [r["deps"] for r in _run_records(repo)] == [[["src", locked.oid]]]
    again = dvx("repro")
    assert again.code == 0 and "is up to date" in again.output, again.output


def test_a_python_stage_run_again_after_an_edit_of_a_module_it_imports_is_recorded(
        repo, dvx, monkeypatch):
    """Once a module the command imports from its dependency folder is edited, Python
    rewrites its .pyc in src/__pycache__ as the command runs: the run is recorded with the
    folder as it left it, not failed as a dependency changed while its command ran."""
    monkeypatch.delenv("PYTHONDONTWRITEBYTECODE", raising=False)
    write(repo / "src" / "lib.py", "def f(): return 'one'\n")
    write(repo / "src" / "main.py", "import lib\nopen('out.txt', 'w').write(lib.f())\n")
    write(repo / "dvx.yaml", "stages:\n  train:\n    cmd: python3 src/main.py\n"
                             "    deps: [src]\n    outs: [out.txt]\n")
    assert dvx("repro").code == 0
    (pyc,) = (repo / "src" / "__pycache__").iterdir()
    compiled = pyc.read_bytes()
    write(repo / "src" / "lib.py", "def f(): return 'three'\n")  # another size: recompiled
    ran = dvx("repro")
    assert ran.code == 0, ran.output
    assert pyc.read_bytes() != compiled  # the command rewrote it
    assert (repo / "out.txt").read_text() == "three"
    assert dvx("status", "-q").code == 0  # dvx.lock has the folder as the command left it


def test_deps_only_touched_while_the_command_ran_are_recorded_and_read_once(
        repo, dvx, monkeypatch):
    """A command that rewrites its dependencies' stat but not their bytes (`touch`) is no
    edit: its run is recorded. Once the command ends, only the files whose stat moved are
    hashed again; the others of a folder dependency are not read a second time."""
    for i in range(5):
        write(repo / "data" / f"{i}.txt", f"{i}\n")
    write(repo / "in.txt", "v1\n")
    write(repo / "dvx.yaml", "stages:\n  copy:\n    cmd: cat in.txt data/* > out.txt && "
                             "touch in.txt data/3.txt\n    deps: [in.txt, data]\n"
                             "    outs: [out.txt]\n")
    time.sleep(0.05)  # every file older than the clock when repro looks (racy-clean rule)
    import dvx.workspace as workspace
    hashed: list[str] = []
    monkeypatch.setattr(workspace, "hash_file", lambda path, algo: hashed.append(
        os.path.relpath(path, repo)) or hash_file(path, algo))
    ran = dvx("repro")
    assert ran.code == 0, ran.output
    assert "in.txt" in (repo / "dvx.lock").read_text()
    assert sorted(hashed) == sorted(["in.txt", "in.txt", "data/3.txt", "data/3.txt",
                                     *(f"data/{i}.txt" for i in (0, 1, 2, 4))])


def _teammate_ran_fast_while_main_changes_slow_s_input(repo: Path, dvx) -> None:
    """Stages fast (f.in 'f1') and slow (s.in 's1') run and committed on main; on the branch
    teammate, f.in 'f2' and fast run again, committed; back on main, s.in changed to 's2'
    and not run yet: a repro here runs slow while a merge of teammate brings fast's entry."""
    write(repo / "dvx.yaml", "stages:\n  fast:\n    cmd: cp f.in f.out\n    deps: [f.in]\n"
                             "    outs: [f.out]\n  slow:\n    cmd: cp s.in s.out\n"
                             "    deps: [s.in]\n    outs: [s.out]\n")
    write(repo / "f.in", "f1\n")
    write(repo / "s.in", "s1\n")
    assert dvx("repro").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "pipeline")
    git(repo, "checkout", "-qb", "teammate")
    write(repo / "f.in", "f2\n")
    assert dvx("repro").code == 0
    git(repo, "commit", "-qam", "fast on f2")
    git(repo, "checkout", "-q", "-")
    write(repo / "s.in", "s2\n")


@pytest.mark.parametrize("command, meanwhile", [
    ("repro", ("merge", "-q", "--no-edit", "teammate")),
    # HEAD kept where it is: an experiment is of the commit it started on
    ("exp run", ("checkout", "teammate", "--", "dvx.lock", "f.in"))])
def test_a_git_merge_while_repro_runs_keeps_the_entries_it_brought(repo, dvx, command,
                                                                   meanwhile):
    """A `git merge` (or `git pull`) made while repro runs a stage brings a teammate's entry
    for another stage (the post-merge hook waits for the repository lock; Git does not):
    repro writes the entry of the stage it ran into dvx.lock as merged, never its own older
    copy of the others, and says so, as exp run does of a teammate's entry checked out
    meanwhile, naming itself."""
    _teammate_ran_fast_while_main_changes_slow_s_input(repo, dvx)

    code, out, err = run_meanwhile("repro.after_command", command, repo,
                                   lambda: git(repo, *meanwhile))
    assert code == 0, out + err
    assert f"dvx.lock changed on disk while {command} ran" in " ".join(err.split()), err
    locks = read_lock(str(repo), "xxh128")
    assert locks["fast"].deps[0].oid == xxhash.xxh3_128_hexdigest(b"f2\n")  # as merged
    assert locks["slow"].deps[0].oid == xxhash.xxh3_128_hexdigest(b"s2\n")  # this run's


def test_a_git_merge_while_repro_writes_dvx_lock_keeps_the_entries_it_brought(repo, dvx):
    """A `git merge` (or `git pull`) landing while repro writes dvx.lock, its new bytes
    waiting to replace it, brings a teammate's entry for another stage: found last before
    the rename, it is taken in, and dvx.lock written again over it, never the older copy."""
    _teammate_ran_fast_while_main_changes_slow_s_input(repo, dvx)

    # the sixth replacing write: dvx.lock's (after the lock's records and the sync records)
    running = stopped_at("atomic_write.before_rename:6", "repro", repo)
    assert any(name.startswith(".dvx.lock.") for name in os.listdir(repo)), os.listdir(repo)
    git(repo, "merge", "-q", "--no-edit", "teammate")
    running.send_signal(signal.SIGCONT)
    out, err = running.communicate(timeout=60)
    assert running.returncode == 0, out + err
    assert "dvx.lock changed on disk while repro ran" in err, err
    locks = read_lock(str(repo), "xxh128")
    assert locks["fast"].deps[0].oid == xxhash.xxh3_128_hexdigest(b"f2\n")  # as merged
    assert locks["slow"].deps[0].oid == xxhash.xxh3_128_hexdigest(b"s2\n")  # this run's


def _branches_running_s_on_other_inputs(repo: Path, dvx) -> None:
    """Stage s (`cat in.txt in.txt > out.txt`) run and committed on main with in.txt 'in1';
    on the branch other, in.txt 'in2' added and s run again, committed; back on main, its
    data checked out, in.txt 'in3' added but not committed, s not run on it yet."""
    write(repo / "dvx.yaml", "stages:\n  s:\n    cmd: cat in.txt in.txt > out.txt\n"
                             "    deps: [in.txt]\n    outs: [out.txt]\n")
    write(repo / "in.txt", "in1\n")
    assert dvx("add", "in.txt").code == 0
    assert dvx("repro").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "pipeline")
    git(repo, "switch", "-qc", "other")
    (repo / "in.txt").unlink()
    write(repo / "in.txt", "in2\n")
    assert dvx("add", "in.txt").code == 0
    assert dvx("repro").code == 0
    git(repo, "commit", "-qam", "other: in2 and its run")
    git(repo, "switch", "-q", "main")
    assert dvx("checkout").code == 0
    (repo / "in.txt").unlink()
    write(repo / "in.txt", "in3\n")
    assert dvx("add", "in.txt").code == 0


@pytest.mark.parametrize("link, command, again", [
    ("copy", "repro", "repro s"), ("hardlink", "repro", "repro s"),
    ("hardlink", "exp run -n e1", "exp run -n e1")])
def test_a_git_switch_while_repro_runs_a_stage_never_records_it_over_the_branch_s_entry(
        repo, dvx, link, command, again):
    """A `git switch` to a branch that ran the same stage on other data, while repro (or exp
    run) runs it: the run, of the old branch's input, is not written over that branch's
    dvx.lock entry (nor is the input's pointer undone); the stage fails, saying what changed
    and to run it again with the same command (exp run's as typed, which alone records the
    experiment so named), and its output stays as the command left it, a writable file of
    its own."""
    _branches_running_s_on_other_inputs(repo, dvx)
    git(repo, "commit", "-qam", "main: in3")
    assert dvx("config", "cache.type", link).code == 0

    code, out, err = run_meanwhile("repro.after_command", command, repo,
        lambda: git(repo, "switch", "-q", "other"))
    said = " ".join(err.split())
    running = command.split(" -")[0]
    assert code == 1, out + err
    assert "Stage 's' failed: its dvx.lock entry and 'in.txt.dvx' changed while " \
        f"{running} ran" in said, said
    assert f"Run `dvx status` to see where it stands now, then `dvx {again}` again" in said
    assert "git add" not in out + err
    assert git(repo, "status", "--porcelain", "--", "dvx.lock", "in.txt.dvx") == ""
    assert (repo / "out.txt").read_text() == "in3\nin3\n"  # the run's output, as it left it
    now = os.lstat(repo / "out.txt")
    assert stat.S_ISREG(now.st_mode) and now.st_nlink == 1
    assert stat.S_IMODE(now.st_mode) & 0o200


def test_a_git_switch_just_before_dvx_lock_is_written_never_records_the_stage_over_it(
        repo, dvx):
    """A `git switch` to a branch that ran the stage on other data, once the stage's records
    were checked and its outputs' .gitignore entries written, just before dvx.lock is: the
    stage still fails, dvx.lock and the input's pointer stay the branch's, and the .gitignore
    entry it added for a new output is taken back."""
    _branches_running_s_on_other_inputs(repo, dvx)
    write(repo / "dvx.yaml", "stages:\n  s:\n    cmd: cat in.txt in.txt > out.txt && echo x > "
                             "extra.txt\n    deps: [in.txt]\n    outs: [out.txt, extra.txt]\n")
    git(repo, "commit", "-qam", "main: in3, and extra.txt")
    other = git(repo, "show", "other:dvx.lock")

    code, out, err = run_meanwhile("repro.before_lock_write", "repro", repo,
        lambda: git(repo, "switch", "-q", "other"))
    said = " ".join(err.split())
    assert code == 1, out + err
    assert "Stage 's' failed: its dvx.lock entry and 'in.txt.dvx' changed while repro ran" \
        in said, said
    assert "git add" not in out + err
    assert (repo / "dvx.lock").read_text() == other
    assert git(repo, "status", "--porcelain", "--", "dvx.lock", "in.txt.dvx", ".gitignore") == ""
    assert (repo / "extra.txt").read_text() == "x\n"  # the run's output, as it left it


@pytest.mark.parametrize("other", ["lacks the stage", "declares it otherwise"])
def test_a_git_checkout_while_repro_runs_records_nothing_of_a_stage_no_longer_declared(
        repo, dvx, other):
    """A `git checkout` of another branch while repro runs a stage replaces dvx.yaml: the
    stage's run is recorded neither in that branch's dvx.lock (never one made for it) nor in
    its .gitignore, the outputs stay, and repro says so and what to do."""
    write(repo / "dvx.yaml", "stages:\n  s1:\n    cmd: cp p.txt o1.txt\n    deps: [p.txt]\n"
                             "    outs: [o1.txt]\n")
    write(repo / "p.txt", "1\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "pipeline")
    git(repo, "checkout", "-qb", "other")
    if other == "lacks the stage":
        write(repo / "dvx.yaml", "stages:\n  s2:\n    cmd: cp p.txt o2.txt\n"
                                 "    deps: [p.txt]\n    outs: [o2.txt]\n")
    else:
        write(repo / "dvx.yaml", "stages:\n  s1:\n    cmd: cat p.txt p.txt > o1.txt\n"
                                 "    deps: [p.txt]\n    outs: [o1.txt]\n")
        assert dvx("repro").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "other")
    git(repo, "checkout", "-q", "-")
    lock_on_other = git(repo, "show", "other:dvx.lock") if other != "lacks the stage" else None

    code, out, err = run_meanwhile("repro.after_command", "repro", repo,
        lambda: git(repo, "checkout", "-q", "other"))
    assert code == 1, out + err  # a CI script must not take it as recorded
    assert "no longer declares the stage 's1' as run" in err, out + err
    assert "dvx.yaml changed while repro ran" in err and "Run `dvx repro` on the branch" in err
    assert "git add" not in out + err
    assert (repo / "o1.txt").read_text() == "1\n"  # the run's output, left as it was
    if lock_on_other is None:
        assert not (repo / "dvx.lock").exists()
    else:
        assert (repo / "dvx.lock").read_text() == lock_on_other
    assert git(repo, "status", "--porcelain", "--", "dvx.lock", ".gitignore") == ""


def test_with_hardlinks_the_output_of_a_run_not_recorded_is_a_writable_file_of_its_own(
        repo, dvx):
    """cache.type hardlink: storing an output makes it a read-only hard link of its object.
    A run whose stage dvx.yaml no longer declares (a `git checkout` meanwhile) is not
    recorded, so its outputs are given back as the command left them, each a writable file
    of its own with its mode and times, never a link of an object no dvx.lock names (which
    gc would take, and an edit through which would change the cache)."""
    write(repo / "dvx.yaml", "stages:\n  s1:\n    cmd: cp p.txt o1.txt && touch -d @1000000 "
                             "o1.txt\n    deps: [p.txt]\n    outs: [o1.txt]\n")
    write(repo / "p.txt", "1\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "pipeline")
    git(repo, "checkout", "-qb", "other")
    write(repo / "dvx.yaml", "stages:\n  s2:\n    cmd: cp p.txt o2.txt\n"
                             "    deps: [p.txt]\n    outs: [o2.txt]\n")
    git(repo, "commit", "-qam", "other")
    git(repo, "checkout", "-q", "-")
    assert dvx("config", "cache.type", "hardlink").code == 0

    code, out, err = run_meanwhile("repro.after_command", "repro", repo,
        lambda: git(repo, "checkout", "-q", "other"))
    said = " ".join(err.split())
    assert code == 1, out + err
    assert "The outputs its command wrote stay in the workspace as it left them, each a file " \
        "of its own, not a link into the cache: o1.txt." in said, said
    now = os.lstat(repo / "o1.txt")
    assert stat.S_ISREG(now.st_mode) and now.st_nlink == 1
    assert stat.S_IMODE(now.st_mode) & 0o200  # writable, as cp made it
    assert now.st_mtime_ns == 1_000_000 * 1_000_000_000
    assert (repo / "o1.txt").read_text() == "1\n"


@pytest.mark.parametrize("signum, again", [(signal.SIGINT, False), (signal.SIGTERM, False),
                                           (signal.SIGINT, True)],
                         ids=["ctrl-c", "sigterm", "ctrl-c twice"])
def test_with_hardlinks_a_repro_stopped_while_it_stores_the_outputs_gives_back_those_linked(
        repo, dvx, signum, again):
    """cache.type hardlink: Ctrl-C (or SIGTERM) once the stage's command ended, while its
    outputs are stored (the first one made a hard link of its object), records nothing: each
    output it linked is given back as the command left it, a writable file of its own with
    its mode and times, never a read-only link of an object no dvx.lock names. A second
    Ctrl-C while they are given back is ignored: it cuts the give-back short for none."""
    write(repo / "dvx.yaml", "stages:\n  s:\n    cmd: echo a > o1.txt && echo b > o2.txt && "
                             "touch -d @1000000 o1.txt o2.txt\n    outs: [o1.txt, o2.txt]\n")
    assert dvx("config", "cache.type", "hardlink").code == 0
    running = stopped_at("cache.hardlink.after_link"
                         + (",place.before_rename" if again else ""), "repro", repo)
    running.send_signal(signum)
    running.send_signal(signal.SIGCONT)
    if again:
        stopped_again(running, "place.before_rename")
        running.send_signal(signum)
        running.send_signal(signal.SIGCONT)
    out, err = running.communicate(timeout=60)
    assert running.returncode == 128 + signum, out + err
    assert "Traceback" not in err
    if not again:
        assert "Stopped stage 's' after its command ended" in " ".join(err.split()), err
    for name, content in (("o1.txt", "a\n"), ("o2.txt", "b\n")):
        assert (repo / name).read_text() == content, name
        now = os.lstat(repo / name)
        assert stat.S_ISREG(now.st_mode) and now.st_nlink == 1, name
        assert stat.S_IMODE(now.st_mode) & 0o200, name  # writable, as the shell made it
        assert now.st_mtime_ns == 1_000_000 * 1_000_000_000, name
    assert sorted(os.listdir(repo)) == [".dvx", ".git", "dvx.yaml", "o1.txt", "o2.txt"]
    # (no temporary left beside them, no dvx.lock)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_with_hardlinks_a_repro_stopped_before_dvx_lock_records_the_outputs_gives_them_back(
        repo, dvx, signum):
    """cache.type hardlink: Ctrl-C (or SIGTERM) once the stage's outputs are stored, just
    before dvx.lock is written, records nothing, and each output is given back as the
    command left it, a writable file of its own with its mode and times, never a read-only
    link of an object no dvx.lock names; the next repro runs the stage and records it."""
    write(repo / "dvx.yaml", "stages:\n  s:\n    cmd: echo a > o1.txt && echo b > o2.txt && "
                             "touch -d @1000000 o1.txt o2.txt\n    outs: [o1.txt, o2.txt]\n")
    assert dvx("config", "cache.type", "hardlink").code == 0
    running = stopped_at("repro.before_lock_write", "repro", repo)
    running.send_signal(signum)
    running.send_signal(signal.SIGCONT)
    out, err = running.communicate(timeout=60)
    assert running.returncode == 128 + signum, out + err
    assert "Traceback" not in err
    for name, content in (("o1.txt", "a\n"), ("o2.txt", "b\n")):
        assert (repo / name).read_text() == content, name
        now = os.lstat(repo / name)
        assert stat.S_ISREG(now.st_mode) and now.st_nlink == 1, name
        assert stat.S_IMODE(now.st_mode) & 0o200, name  # writable, as the shell made it
        assert now.st_mtime_ns == 1_000_000 * 1_000_000_000, name
    assert not (repo / "dvx.lock").exists()
    again = dvx("repro")
    assert again.code == 0 and "Running stage 's'" in again.output, again.output
    assert os.lstat(repo / "o1.txt").st_nlink == 2  # recorded: the link of its object


def test_with_hardlinks_an_output_that_cannot_be_stored_gives_back_those_stored_before(
        repo, dvx):
    """cache.type hardlink: a run whose second output cannot be stored (a FIFO in its
    directory) fails, recording nothing, and the first output, which storing made a hard
    link of its object, is given back a writable file of its own."""
    write(repo / "dvx.yaml", "stages:\n  s:\n    cmd: echo a > o1.txt && mkdir -p d && "
                             "mkfifo d/p\n    outs: [o1.txt, d]\n")
    assert dvx("config", "cache.type", "hardlink").code == 0
    ran = dvx("repro")
    assert ran.code == 1 and "'d/p' is not a regular file" in ran.output, ran.output
    now = os.lstat(repo / "o1.txt")
    assert stat.S_ISREG(now.st_mode) and now.st_nlink == 1
    assert stat.S_IMODE(now.st_mode) & 0o200
    assert (repo / "o1.txt").read_text() == "a\n"
    assert not (repo / "dvx.lock").exists()


def test_with_hardlinks_a_run_whose_uncached_output_fills_the_disk_gives_back_the_cached(
        repo, dvx, dvx_proc):
    """cache.type hardlink: a run whose `cache: false` output cannot be copied into the cache
    for the run-cache (the disk fills) fails, recording nothing, and its cached output, which
    storing made a hard link of its object, is given back a writable file of its own."""
    write(repo / "dvx.yaml", "stages:\n  s:\n    cmd: cp p.txt model.bin && echo 1 > "
                             "metrics.json\n    deps: [p.txt]\n    outs: [model.bin, "
                             "{metrics.json: {cache: false}}]\n")
    write(repo / "p.txt", "a\n")
    assert dvx("config", "cache.type", "hardlink").code == 0
    ran = dvx_proc("repro", cwd=repo, env={"DVX_FAULT": "cache.copy.after_temp_write",
                                           "DVX_FAULT_ACTION": "enospc"})
    assert ran.code == 1 and "Traceback" not in ran.stderr, ran.output
    now = os.lstat(repo / "model.bin")
    assert stat.S_ISREG(now.st_mode) and now.st_nlink == 1
    assert stat.S_IMODE(now.st_mode) & 0o200
    assert (repo / "model.bin").read_text() == "a\n"
    assert not (repo / "dvx.lock").exists()


def test_with_hardlinks_a_merge_conflict_in_dvx_lock_while_a_stage_runs_records_nothing(
        repo, dvx):
    """cache.type hardlink: a `git merge` that leaves conflict markers in dvx.lock while a
    stage runs: the stage fails, saying dvx.lock changed, with no traceback; its output stays
    as the command left it, a writable file of its own, never a read-only link of an object
    no dvx.lock names."""
    write(repo / "dvx.yaml", "stages:\n  s:\n    cmd: cp p.txt o.txt\n    deps: [p.txt]\n"
                             "    outs: [o.txt]\n")
    write(repo / "p.txt", "1\n")
    assert dvx("repro").code == 0
    write(repo / "p.txt", "2\n")
    assert dvx("config", "cache.type", "hardlink").code == 0
    running = stopped_at("repro.after_command", "repro", repo)
    try:
        conflicted = "<<<<<<< HEAD\n" + (repo / "dvx.lock").read_text() + "=======\n>>>>>>> b\n"
        write(repo / "dvx.lock", conflicted)
    finally:
        running.send_signal(signal.SIGCONT)
    out, err = running.communicate(timeout=60)
    said = " ".join(err.split())
    assert running.returncode == 1, out + err
    assert "Traceback" not in err
    assert "Stage 's' failed: dvx.lock" in said and "changed while repro ran" in said, said
    assert (repo / "dvx.lock").read_text() == conflicted
    now = os.lstat(repo / "o.txt")
    assert stat.S_ISREG(now.st_mode) and now.st_nlink == 1
    assert stat.S_IMODE(now.st_mode) & 0o200
    assert (repo / "o.txt").read_text() == "2\n"


def test_a_stage_refused_once_dvx_yaml_declares_it_again_stops_the_run_as_any_failure(
        repo, dvx):
    """A stage that finished while dvx.yaml did not declare it as it ran, and whose input's
    pointer changed meanwhile, is refused once dvx.yaml declares it again: without
    --keep-going, no independent stage starts after it, as after any failure."""
    write(repo / "in.txt", "2\n")
    assert dvx("add", "in.txt").code == 0
    other = (repo / "in.txt.dvx").read_bytes()
    write(repo / "in.txt", "1\n")
    assert dvx("add", "in.txt").code == 0
    declared = ("stages:\n  a:\n    cmd: cp in.txt a.txt\n    deps: [in.txt]\n"
                "    outs: [a.txt]\n  b:\n    cmd: echo b > b.txt\n    outs: [b.txt]\n")
    write(repo / "dvx.yaml", declared)
    running = subprocess.Popen(
        [sys.executable, "-m", "dvx", "repro"], cwd=repo, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL,
        env={**os.environ, "DVX_FAULT": "repro.after_command,repro.before_run_record",
             "DVX_FAULT_ACTION": "stop"})
    try:
        stopped_again(running, "repro.after_command")
        write(repo / "dvx.yaml", declared.replace("cp in.txt", "cat in.txt >"))
        (repo / "in.txt.dvx").write_bytes(other)
        running.send_signal(signal.SIGCONT)
        stopped_again(running, "repro.before_run_record")
        write(repo / "dvx.yaml", declared)
    finally:
        running.send_signal(signal.SIGCONT)
    out, err = running.communicate(timeout=60)
    said = " ".join((out + err).split())
    assert running.returncode == 1, out + err
    assert "Stage 'a' failed: 'in.txt.dvx' changed while repro ran" in said, said
    assert "Running stage 'b'" not in said and not (repo / "b.txt").exists(), said
    assert "not started: stage 'a' failed" in said, said


def test_a_pointer_for_a_folder_around_an_untracked_dep_written_while_it_runs_is_not_undone(
        repo, dvx):
    """A stage reads data/x.csv, tracked by nothing when repro starts; a `git pull` brings
    data.dvx, tracking the folder around it, while the stage runs: the run, of what was there
    before, is not recorded."""
    write(repo / "data" / "x.csv", "1\n")
    assert dvx("add", "data").code == 0
    pulled = (repo / "data.dvx").read_bytes()
    (repo / "data.dvx").unlink()
    write(repo / "dvx.yaml", "stages:\n  s:\n    cmd: cp data/x.csv o.txt\n"
                             "    deps: [data/x.csv]\n    outs: [o.txt]\n")
    running = stopped_at("repro.after_command", "repro", repo)
    try:
        (repo / "data.dvx").write_bytes(pulled)
    finally:
        running.send_signal(signal.SIGCONT)
    out, err = running.communicate(timeout=60)
    said = " ".join(err.split())
    assert running.returncode == 1, out + err
    assert "Stage 's' failed: 'data.dvx' was written while repro ran" in said, said
    assert "s" not in read_lock(str(repo), "xxh128")


def test_an_input_s_pointer_removed_while_the_stage_runs_is_said_removed(repo, dvx):
    """A `git switch` to a branch that does not track the input the stage reads removes its
    pointer while the stage runs: the stage fails, saying the pointer was removed, its
    dvx.lock entry said to have changed as well when it did."""
    write(repo / "in.txt", "1\n")
    write(repo / "other.txt", "1\n")
    assert dvx("add", "in.txt", "other.txt").code == 0
    pointer = (repo / "in.txt.dvx").read_bytes()
    write(repo / "dvx.yaml", "stages:\n  s:\n    cmd: cat in.txt other.txt > o.txt\n"
                             "    deps: [in.txt, other.txt]\n    outs: [o.txt]\n")
    code, out, err = run_meanwhile("repro.after_command", "repro", repo,
        lambda: (repo / "in.txt.dvx").unlink())
    said = " ".join(err.split())
    assert code == 1, out + err
    assert "Stage 's' failed: 'in.txt.dvx' was removed while repro ran" in said, said
    write(repo / "in.txt.dvx", pointer)
    assert dvx("repro").code == 0
    write(repo / "dvx.yaml", (repo / "dvx.yaml").read_text().replace("other.txt >",
                                                                      "in.txt >"))
    code, out, err = run_meanwhile("repro.after_command", "repro", repo, lambda: (
        (repo / "in.txt.dvx").unlink(), (repo / "other.txt.dvx").unlink(),
        (repo / "dvx.lock").unlink()))
    said = " ".join(err.split())
    assert code == 1, out + err
    assert "Stage 's' failed: its dvx.lock entry changed and 'in.txt.dvx' and 'other.txt.dvx' " \
        "were removed while repro ran" in said, said


def test_a_stage_whose_desc_alone_changed_while_it_ran_is_recorded(repo, dvx):
    """A description written into dvx.yaml while the stage runs changes nothing its run or
    its dvx.lock entry reads: the run is recorded."""
    write(repo / "dvx.yaml", "stages:\n  s1:\n    cmd: cp p.txt o1.txt\n    deps: [p.txt]\n"
                             "    outs: [o1.txt]\n")
    write(repo / "p.txt", "1\n")
    running = stopped_at("repro.after_command", "repro", repo)
    try:
        write(repo / "dvx.yaml", "stages:\n  s1:\n    desc: copies p\n    cmd: cp p.txt o1.txt\n"
                                 "    deps: [p.txt]\n    outs: [o1.txt]\n")
    finally:
        running.send_signal(signal.SIGCONT)
    out, err = running.communicate(timeout=60)
    assert running.returncode == 0, out + err
    assert "no longer declares" not in err
    assert "s1" in read_lock(str(repo), "xxh128")
    assert dvx("status").code == 0


@pytest.mark.parametrize("half", ["head -c 20", "head -n 4"], ids=["unparsable", "lacking it"])
def test_a_stage_finishing_while_another_rewrites_dvx_yaml_is_recorded(repo, half):
    """A stage that finishes while another stage's command is half-way through rewriting
    dvx.yaml with the same bytes (unparsable for now, or declaring only the stages before it)
    is recorded once that command is done, as dvx.yaml declares it as it ran."""
    write(repo / "dvx.yaml", "stages:\n  gen:\n    cmd: cp dvx.yaml whole && " + half
          + " whole > dvx.yaml && touch half && until [ -e go ]; do sleep 0.05; done && cat "
          "whole > dvx.yaml && echo g > g.txt\n    outs: [g.txt]\n  quick:\n    cmd: until "
          "[ -e half ]; do sleep 0.05; done && echo q > q.txt\n    outs: [q.txt]\n")
    before = (repo / "dvx.yaml").read_bytes()
    # Stopped once the first stage to finish, quick, was looked at; gen waits for `go`.
    running = stopped_at("repro.before_run_record", "repro -j 2", repo)
    try:
        assert (repo / "q.txt").exists() and not (repo / "g.txt").exists()
        write(repo / "go", "")
    finally:
        running.send_signal(signal.SIGCONT)
    out, err = running.communicate(timeout=60)
    assert running.returncode == 0, out + err
    assert "no longer declares" not in err
    assert (repo / "dvx.yaml").read_bytes() == before
    assert {"gen", "quick"} <= set(read_lock(str(repo), "xxh128"))


def test_ctrl_c_while_dvx_yaml_no_longer_declares_a_stage_done_names_it_unrecorded(repo):
    """Ctrl-C while a stage's command has dvx.yaml half rewritten, lacking a stage that
    finished meanwhile: the stop says that stage's run is not recorded, and why, instead of
    counting it among the stages done before, which are."""
    write(repo / "dvx.yaml", "stages:\n  gen:\n    cmd: cp dvx.yaml whole && head -n 4 whole "
          "> dvx.yaml && touch half && until [ -e go ]; do sleep 0.05; done && cat whole > "
          "dvx.yaml && echo g > g.txt\n    outs: [g.txt]\n  quick:\n    cmd: until [ -e "
          "half ]; do sleep 0.05; done && echo q > q.txt\n    outs: [q.txt]\n")
    running = stopped_at("repro.before_run_record", "repro -j 2", repo)
    try:
        assert (repo / "q.txt").exists() and not (repo / "g.txt").exists()
        running.send_signal(signal.SIGINT)
    finally:
        running.send_signal(signal.SIGCONT)
    out, err = running.communicate(timeout=60)
    said = " ".join(err.split())
    assert running.returncode == 130, out + err
    assert "no longer declares the stage 'quick' as run" in said, said
    assert "the stages done before are recorded in dvx.lock, but for those dvx.yaml no " \
        "longer" in said
    assert "`dvx repro -j 2` runs the stopped stages again" in said, said
    assert not (repo / "dvx.lock").exists()


def test_a_stage_reading_params_from_its_own_output_may_change_them(repo, dvx):
    """A params file the stage writes itself (a counter it persists from run to run) is the
    command's to change: its run is recorded, never failed as params changed meanwhile."""
    write(repo / "state.yaml", "n: 1\n")
    write(repo / "dvx.yaml", "stages:\n  count:\n    cmd: sed -i s/1/2/ state.yaml\n"
                             "    params: [state.yaml: [n]]\n"
                             "    outs: [state.yaml: {persist: true, cache: false}]\n")
    ran = dvx("repro")
    assert ran.code == 0, ran.output
    assert (repo / "dvx.lock").exists()


def test_add_of_a_folder_deletes_dvx_s_untracked_gitignore_of_a_gone_output_in_a_subfolder(
        repo, dvx):
    """res/sub/.gitignore, never committed, holds only dvx's entry for res/sub/a.txt, the
    output of a stage gone from dvx.yaml: `dvx add res` deletes it as dvx's own, as it does
    the one at the top of the folder, never recording it as data."""
    write(repo / "raw.txt", "raw\n")
    write(repo / "dvx.yaml", "stages:\n  prep:\n    cmd: mkdir -p res/sub && cp raw.txt "
          "res/sub/a.txt\n    deps: [raw.txt]\n    outs: [res/sub/a.txt]\n")
    assert dvx("repro").code == 0
    assert (repo / "res" / "sub" / ".gitignore").read_text() == "/a.txt\n"
    git(repo, "add", "dvx.yaml", "dvx.lock", "raw.txt")  # not res/sub/.gitignore
    git(repo, "commit", "-qm", "pipeline")
    write(repo / "dvx.yaml", "stages: {}\n")
    assert dvx("repro").code == 0
    added = dvx("add", "res")
    assert added.code == 0, added.output
    assert not (repo / "res" / "sub" / ".gitignore").exists()
    listed = dvx("ls", ".", "-R").stdout
    assert "res/sub/a.txt" in listed and "res/sub/.gitignore" not in listed, listed


def test_a_restore_from_the_run_cache_has_git_add_the_gitignore_it_wrote(repo, dvx):
    """As after a run, the .gitignore made for the restored output is in the `git add` hint
    and staged under core.autostage, with the dvx.lock recording that output."""
    write(repo / "in.txt", "a\n")
    write(repo / "dvx.yaml", "stages:\n  s:\n    cmd: mkdir -p models && cp in.txt "
                             "models/m.bin\n    deps: [in.txt]\n    outs: [models/m.bin]\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "pipeline, not run yet")
    assert dvx("repro").code == 0  # into the run-cache

    def clean() -> None:  # back to the commit, keeping the cache and its run records
        git(repo, "clean", "-qfdx", "-e", ".dvx")

    clean()
    restored = dvx("repro")
    assert "Restored 's' from the run-cache" in restored.stdout, restored.output
    assert "git add models/.gitignore dvx.lock" in restored.stdout, restored.stdout
    clean()
    assert dvx("config", "core.autostage", "true").code == 0
    staged = dvx("repro")
    assert "Restored 's' from the run-cache" in staged.stdout, staged.output
    assert "Staged in Git: models/.gitignore dvx.lock" in staged.stdout, staged.stdout
    assert git(repo, "diff", "--cached", "--name-only").split() == ["dvx.lock",
                                                                    "models/.gitignore"]


@pytest.mark.parametrize(("rules", "out", "rule"), [
    ({"out/.gitignore": "/model.bin\n!model.bin\n"}, "out/model.bin",
     "'!model.bin' in out/.gitignore:2"),
    ({"out/.gitignore": "/model.bin\n!*.bin\n"}, "out/model.bin",
     "'!*.bin' in out/.gitignore:2"),
    ({".gitignore": "/out\n!out/\n"}, "out", "'!out/' in .gitignore:2"),
    # A parent folder's rules weigh less than the entry beside the output: no warning
    ({".gitignore": "!out/\n!*.bin\n!out/model.bin\n", "out/.gitignore": "/model.bin\n"},
     "out/model.bin", None),
])
def test_repro_puts_an_output_s_entry_after_a_rule_taking_it_back_into_git(
        repo, dvx, rules, out, rule):
    """A teammate's `!` rule after an output's entry makes Git see the data a run makes:
    repro, as add and commit, writes the entry again after the rule and names it, so `git
    add -A` never commits the output, and the .gitignore is in the `git add` hint."""
    write(repo / "dvx.yaml", "stages:\n  s:\n    cmd: mkdir -p out && echo run > out/model.bin"
                             f"\n    outs: [{out}]\n")
    for name, text in rules.items():
        write(repo / name, text)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "the team's rules")
    ran = dvx("repro")
    assert ran.code == 0, ran.output
    if rule is None:
        assert "took" not in ran.stderr
    else:
        assert (f"WARNING: The rule {rule} took '{out}' back into Git, where `git add -A` "
                "would commit the data itself") in ran.stderr
        assert posixpath.join(posixpath.dirname(out), ".gitignore") in ran.stdout
    changed = {line[3:] for line in git(repo, "status", "--porcelain", "-uall").splitlines()}
    assert changed == {"dvx.lock"} | (
        set() if rule is None else {posixpath.join(posixpath.dirname(out), ".gitignore")})
    assert dvx("status", "-q").code == 0


def test_repro_puts_the_entry_of_an_up_to_date_stage_s_output_after_a_rule_taking_it_back(
        repo, dvx):
    """A `!` rule added after a run takes the output of a stage that need not run again back
    into Git: repro, which runs nothing, still writes its entry again after the rule and
    names it, so `git add -A` never commits the data."""
    write(repo / "in.txt", "1\n")
    run_and_commit(repo, "stages:\n  f:\n    cmd: mkdir -p data/features && cp in.txt "
                   "data/features/x\n    deps: [in.txt]\n    outs: [data/features]\n", "v1")
    with open(repo / "data" / ".gitignore", "a") as rules:
        rules.write("!features/\n")
    assert "data/features/x" in git(repo, "status", "--porcelain", "-uall")
    ran = dvx("repro")
    assert ran.code == 0 and "Stage 'f' is up to date." in ran.stdout, ran.output
    assert ("WARNING: The rule '!features/' in data/.gitignore:2 took 'data/features' back "
            "into Git, where `git add -A` would commit the data itself") in ran.stderr
    assert "git add data/.gitignore" in ran.stdout
    changed = {line[3:] for line in git(repo, "status", "--porcelain", "-uall").splitlines()}
    assert changed == {"data/.gitignore"}
    assert dvx("status", "-q").code == 0


def test_gc_deletes_the_run_records_whose_outputs_it_deletes_from_the_cache(repo, dvx,
                                                                             tmp_path):
    """Local gc, like `gc --remote`, deletes the run records that need an object it deletes
    (first: a store holds a record only with all its objects), and those whose objects the
    cache lacks already (as an older dvx's gc left them); the run records of what it keeps
    stay, and a stage whose record went simply runs again."""
    write(repo / "dvx.yaml", "stages:\n  gen:\n    cmd: echo run >> runs.log; cat params.yaml "
                             "> out.txt\n    params: [n]\n    outs: [out.txt]\n")
    for value in ("1", "2", "3"):
        write(repo / "params.yaml", f"n: {value}\n")
        assert dvx("repro").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "n 3")
    records = repo / ".dvx" / "cache" / "runs" / "xxh128"
    shutil.copytree(records, tmp_path / "records-before-gc")
    assert len(list(records.glob("*/*"))) == 3
    planned = dvx("gc", "-w", "--dry-run", "--grace", "0")
    assert "Would remove 2 run records of the run-cache from the cache" in planned.stdout
    assert len(list(records.glob("*/*"))) == 3
    collected = dvx("gc", "-w", "-f", "--grace", "0")
    assert collected.code == 0, collected.output
    assert "Removed 2 run records of the run-cache from the cache" in collected.stdout
    assert len(list(records.glob("*/*"))) == 1
    shutil.copytree(tmp_path / "records-before-gc", records, dirs_exist_ok=True)
    again = dvx("gc", "-w", "-f", "--grace", "0")  # objects gone already: records go too
    assert "Removed 2 run records of the run-cache from the cache" in again.stdout
    assert len(list(records.glob("*/*"))) == 1
    write(repo / "params.yaml", "n: 1\n")
    ran = dvx("repro")
    assert ran.code == 0, ran.output
    assert "run record" not in ran.output
    assert runs(repo) == ["run"] * 4
    assert (repo / "out.txt").read_text() == "n: 1\n"


def test_a_param_gone_from_its_file_is_reported_missing_once(repo, dvx):
    write(repo / "params.yaml", "layers: [1, 2]\nlr: 1\n")
    write(repo / "dvx.yaml", "stages:\n  s:\n    cmd: echo x > out.txt\n"
                             "    params: [layers.0, lr]\n    outs: [out.txt]\n")
    assert dvx("repro").code == 0
    write(repo / "params.yaml", "layers: []\nlr: 2\n")
    assert "s: missing params: layers.0 (params.yaml); changed params: lr\n" in dvx(
        "status").stdout
    (repo / "params.yaml").unlink()
    assert "s: missing params: params.yaml\n" in dvx("status").stdout


def test_a_params_file_linked_outside_the_repository_is_never_read_or_recorded(repo, dvx,
                                                                                tmp_path):
    """The rule of `params diff`: a params file that is a link leading outside the repository
    is refused by repro and status, before anything runs or dvx.lock is written; a link to a
    file inside the repository is read through."""
    write(tmp_path / "outside" / "creds.yaml", "aws_secret: hunter2\n")
    (repo / "params.yaml").symlink_to(tmp_path / "outside" / "creds.yaml")
    write(repo / "dvx.yaml", "stages:\n  s:\n    cmd: echo x > out.txt\n"
                             "    params:\n    - params.yaml:\n    outs: [out.txt]\n")
    for command in ("repro", "status"):
        refused = dvx(command)
        assert refused.code == 2, refused.output
        assert refused.stderr.startswith("ERROR: 'params.yaml' is a symbolic link to a file "
                                         "outside the repository; refusing to read it.")
        assert "Traceback" not in refused.output
    assert not (repo / "dvx.lock").exists() and not (repo / "out.txt").exists()

    (repo / "params.yaml").unlink()
    write(repo / "conf" / "real.yaml", "lr: 1\n")
    (repo / "params.yaml").symlink_to("conf/real.yaml")
    assert dvx("repro").code == 0
    assert "lr: 1\n" in (repo / "dvx.lock").read_text()


def test_a_params_file_linked_into_a_cache_outside_the_repository_is_read_through(
        repo, dvx, tmp_path):
    """A params file `dvx add` tracks with `cache.type symlink` and `cache.dir` outside the
    repository (a shared cache; a linked worktree's, or a queued run's, is the main one's)
    links out of the repository, into the cache's objects: status and repro read it as they
    read one linked into `.dvx/cache`. A link to any other file of that cache's folder is
    still refused."""
    shared = tmp_path / "shared-cache"
    for args in (("cache.dir", str(shared)), ("cache.type", "symlink")):
        assert dvx("config", *args).code == 0
    write(repo / "params.yaml", "lr: 1\n")
    assert dvx("add", "params.yaml").code == 0
    assert os.path.realpath(repo / "params.yaml").startswith(str(shared / "files") + os.sep)
    write(repo / "dvx.yaml", "stages:\n  s:\n    cmd: echo x > out.txt\n"
                             "    params: [lr]\n    outs: [out.txt]\n")
    ran = dvx("repro")
    assert ran.code == 0, ran.output
    assert "lr: 1\n" in (repo / "dvx.lock").read_text()
    assert dvx("status").stdout == "Data, pointers and pipelines are up to date.\n"

    write(shared / "notes.yaml", "lr: 2\n")
    (repo / "params.yaml").unlink()
    (repo / "params.yaml").symlink_to(shared / "notes.yaml")
    refused = dvx("status")
    assert refused.code == 2, refused.output
    assert ("ERROR: 'params.yaml' is a symbolic link to a file outside the repository; "
            "refusing to read it.") in refused.stderr, refused.output


@pytest.mark.parametrize("value", ["1.0", "true"])
def test_a_param_changed_to_a_value_python_calls_equal_is_recorded_as_changed(repo, dvx,
                                                                              value):
    """1, 1.0 and true are different params (status compares them as JSON text); dvx.lock,
    written after each stage, records the new one even after another stage wrote it first."""
    write(repo / "in.txt", "a\n")
    write(repo / "params.yaml", "lr: 1\n")
    write(repo / "dvx.yaml", "stages:\n  a_prep:\n    cmd: cp in.txt prep.txt\n"
                             "    deps: [in.txt]\n    outs: [prep.txt]\n"
                             "  b_train:\n    cmd: echo x > model.txt\n    params: [lr]\n"
                             "    outs: [model.txt]\n")
    assert dvx("repro").code == 0
    write(repo / "in.txt", "b\n")  # a_prep finishes, and writes dvx.lock, first
    write(repo / "params.yaml", f"lr: {value}\n")
    assert dvx("repro").code == 0
    assert f"lr: {value}\n" in (repo / "dvx.lock").read_text()
    assert "up to date" in dvx("status").stdout


def test_a_params_file_a_stage_writes_is_read_as_it_left_it_by_the_stages_after_it(repo, dvx):
    """One repro reads a params file once, but again once a stage rewrote it: the stages after
    that one are decided on, and record, what it wrote, whether the file is its declared
    output or its command rewrote it unasked (to the same size: `lr: 2` over `lr: 1`)."""
    write(repo / "in.txt", "3\n")
    write(repo / "params.yaml", "lr: 1\n")
    write(repo / "dvx.yaml", """stages:
  early:
    cmd: echo x > early.txt
    params: [lr]
    outs: [early.txt]
  bump:
    cmd: "echo 'lr: 2' > params.yaml && echo x > bump.txt"
    deps: [early.txt]
    outs: [bump.txt]
  late:
    cmd: echo x > late.txt
    deps: [bump.txt]
    params: [lr]
    outs: [late.txt]
  gen:
    cmd: 'echo "n: $(cat in.txt)" > gen.yaml'
    deps: [in.txt]
    outs: [gen.yaml]
  use:
    cmd: echo x > use.txt
    params: [{gen.yaml: [n]}]
    outs: [use.txt]
""")
    assert dvx("repro").code == 0
    locks = read_lock(str(repo), "xxh128")
    assert locks["early"].params == {"params.yaml": {"lr": 1}}
    assert locks["late"].params == {"params.yaml": {"lr": 2}}
    assert locks["use"].params == {"gen.yaml": {"n": 3}}
    write(repo / "in.txt", "4\n")
    ran = dvx("repro")
    assert "Running stage 'use' (changed params: n)" in ran.stdout, ran.output
    assert read_lock(str(repo), "xxh128")["use"].params == {"gen.yaml": {"n": 4}}
    assert "up to date" in dvx("status").stdout


@pytest.mark.parametrize(("text", "number"), [("inf", ".inf"), ("-inf", "-.inf"),
                                              ("nan", ".nan")])
def test_a_param_changed_between_a_non_finite_float_and_its_text_is_a_change(repo, dvx,
                                                                          text, number):
    """The float .inf is no more the string 'inf' than 1 is '1': each change runs the stage
    (or restores the run made with that value), and dvx.lock records the float as YAML
    writes it, which reads back equal (even NaN)."""
    write(repo / "params.yaml", f"limit: '{text}'\n")
    write(repo / "dvx.yaml", "stages:\n  s:\n    cmd: cp params.yaml seen.txt\n"
                             "    params: [limit]\n    outs: [seen.txt]\n")
    assert dvx("repro").code == 0
    write(repo / "params.yaml", f"limit: {number}\n")
    assert "s: changed params: limit" in dvx("status").stdout
    ran = dvx("repro")
    assert "Running stage 's' (changed params: limit)" in ran.stdout, ran.output
    assert f"limit: {number}\n" in (repo / "dvx.lock").read_text()
    assert "up to date" in dvx("status").stdout
    write(repo / "params.yaml", f"limit: '{text}'\n")
    restored = dvx("repro")
    assert "Restored 's' from the run-cache (changed params: limit)" in restored.stdout
    assert (repo / "seen.txt").read_text() == f"limit: '{text}'\n"


@pytest.mark.parametrize("link", ["symlink", "hardlink"])
def test_an_object_changed_through_a_link_is_never_restored_from_the_run_cache(repo, dvx,
                                                                               link):
    assert dvx("config", "cache.type", link).code == 0
    write(repo / "in.txt", "x\n")
    write(repo / "dvx.yaml", "stages:\n  train:\n    cmd: echo run >> runs.log; echo good > "
                             "model\n    deps: [in.txt]\n    outs: [model]\n")
    assert dvx("repro").code == 0
    cached = (repo / "model").resolve()
    cached.chmod(0o644)  # what a program running as root does without asking
    with (repo / "model").open("a") as f:
        f.write("tampered in place\n")

    result = dvx("repro")
    assert result.code == 0, result.output
    assert "Restored" not in result.stdout and "no longer holds its bytes" in result.stderr
    assert (repo / "runs.log").read_text().split() == ["run", "run"]
    assert (repo / "model").read_text() == "good\n"
    assert not json.loads(dvx("status", "--json").stdout)["changed"]


def test_a_wrong_size_in_dvx_lock_never_gets_an_intact_object_moved_aside(repo, dvx):
    write(repo / "in.txt", "x\n")
    run_and_commit(repo, "stages:\n  train:\n    cmd: echo run >> runs.log; cat in.txt > "
                                      "model\n    deps: [in.txt]\n    outs: [model]\n", "v1")
    write(repo / "in.txt", "yy\n")
    assert dvx("repro").code == 0
    git(repo, "checkout", "-q", "HEAD", "--", "dvx.lock", "in.txt")  # as a teammate's run
    lock = (repo / "dvx.lock").read_text()
    (repo / "dvx.lock").write_text(lock.replace("size: 2\n", "size: 9\n"))  # mis-merged

    result = dvx("repro")
    assert result.code == 0, result.output
    said = " ".join(result.stderr.split())
    assert "dvx.lock (stage 'train') records a size of 9 B, where the data it names is 2 B" \
        in said and "so 'model' was placed as its oid names it" in said, said
    assert (repo / "model").read_text() == "x\n"
    assert (repo / "runs.log").read_text().split() == ["run", "run"]
    assert not (repo / ".dvx" / "cache" / "quarantine").exists()


def test_a_run_record_whose_output_size_disagrees_with_its_object_is_not_restored(repo,
                                                                                    dvx):
    """A run record may come from a remote (`fetch --run-cache`): one giving an output a size
    its object denies would put that size into dvx.lock. It is ignored, naming the record;
    the stage runs, and its run replaces the record."""
    write(repo / "in.txt", "x\n")
    write(repo / "dvx.yaml", "stages:\n  train:\n    cmd: echo run >> runs.log; cat in.txt > "
                             "model\n    deps: [in.txt]\n    outs: [model]\n")
    assert dvx("repro").code == 0
    [record] = (repo / ".dvx" / "cache" / "runs" / "xxh128").glob("*/*")
    record.write_text(record.read_text().replace('"size":2', '"size":99'))  # still its name
    write(repo / "in.txt", "yy\n")
    assert dvx("repro").code == 0
    write(repo / "in.txt", "x\n")

    result = dvx("repro")
    assert result.code == 0, result.output
    assert "Restored" not in result.stdout
    assert f"Ignoring the run record '{record}': it gives 99 bytes as the size of the output " \
           "'model', but its object" in result.stderr
    assert (repo / "runs.log").read_text().split() == ["run", "run", "run"]
    assert read_lock(repo, "xxh128")["train"].outs[0].size == 2
    write(repo / "in.txt", "yy\n")
    assert dvx("repro").code == 0
    write(repo / "in.txt", "x\n")
    again = dvx("repro")
    assert "Restored 'train' from the run-cache" in again.stdout and not again.stderr


@pytest.mark.parametrize("version", ["1.0", "true"])
def test_a_run_record_whose_version_is_not_the_integer_1_is_not_restored(repo, dvx, version):
    write(repo / "in.txt", "x\n")
    write(repo / "dvx.yaml", "stages:\n  train:\n    cmd: echo run >> runs.log; cat in.txt > "
                             "model\n    deps: [in.txt]\n    outs: [model]\n")
    assert dvx("repro").code == 0
    [record] = (repo / ".dvx" / "cache" / "runs" / "xxh128").glob("*/*")
    record.write_text(record.read_text().replace('"version":1', f'"version":{version}'))
    write(repo / "in.txt", "yy\n")
    assert dvx("repro").code == 0
    write(repo / "in.txt", "x\n")

    result = dvx("repro")
    assert result.code == 0 and "Restored" not in result.stdout, result.output
    assert "unknown format, version or algorithm" in result.stderr
    assert (repo / "runs.log").read_text().split() == ["run", "run", "run"]


def test_a_run_record_that_is_a_directory_is_a_damaged_record_ignored_and_named(repo, dvx,
                                                                               tmp_path):
    """A directory where a record goes (made by hand, or by a disk's damage) is no record:
    repro runs the stage and names it, as other damaged records; push and gc go on."""
    write(repo / "in.txt", "x\n")
    write(repo / "dvx.yaml", "stages:\n  train:\n    cmd: echo run >> runs.log; cat in.txt > "
                             "model\n    deps: [in.txt]\n    outs: [model]\n")
    assert dvx("repro").code == 0
    [record] = (repo / ".dvx" / "cache" / "runs" / "xxh128").glob("*/*")
    record.unlink()
    record.mkdir()
    write(repo / "in.txt", "yy\n")
    assert dvx("repro").code == 0
    write(repo / "in.txt", "x\n")

    result = dvx("repro")
    assert result.code == 0 and "Restored" not in result.stdout, result.output
    assert f"Ignoring a damaged run record: '{record}' is not a file." in result.stderr
    assert f"Not recording the run in the run-cache: '{record}' is a directory" in result.stderr
    assert (repo / "runs.log").read_text().split() == ["run", "run", "run"]
    assert dvx("remote", "add", "-d", "store", str(tmp_path / "store")).code == 0
    pushed = dvx("push", "--run-cache")
    assert pushed.code == 0 and "Pushed 1 run record of" in pushed.stdout, pushed.output
    assert dvx("gc", "-w", "-f").code == 0
    assert record.is_dir()  # not dvx's to delete: named, left as it is


def test_a_run_cache_stage_key_is_what_formats_md_says(repo, dvx):
    """The hash of the canonical JSON without a trailing LF, its cmd a list even for a
    command written as one string: the example of formats.md, found under that name."""
    key = "92d4fee40a57b6cbfbf903b28b92568a"
    canonical = b'{"cmd":["cat in.txt > out.txt"],"deps":["in.txt"],"outs":["out.txt"]}'
    assert xxhash.xxh3_128_hexdigest(canonical) == key
    write(repo / "in.txt", "x\n")
    write(repo / "dvx.yaml", "stages:\n  s:\n    cmd: cat in.txt > out.txt\n"
                             "    deps: [in.txt]\n    outs: [out.txt]\n")
    assert dvx("repro").code == 0
    [record] = (repo / ".dvx" / "cache" / "runs" / "xxh128").glob("*/*")
    assert record.parent.name == key


def test_gc_keeps_the_outputs_that_a_commit_s_dvx_lock_records(ml, dvx):
    assert dvx("repro", "train").code == 0
    git(ml, "add", "-A")
    git(ml, "commit", "-qm", "model v1")
    v1 = (ml / "model.json").read_bytes()
    set_param(ml, "lr: 0.1", "lr: 0.05")
    assert dvx("repro", "train").code == 0
    git(ml, "add", "-A")
    git(ml, "commit", "-qm", "model v2")
    assert dvx("gc", "--all-commits", "--grace", "0", "-f").code == 0
    git(ml, "checkout", "-q", "HEAD~1")
    assert dvx("checkout").code == 0
    assert (ml / "model.json").read_bytes() == v1
    kept = dvx("gc", "--workspace", "--grace", "0", "-f")
    assert kept.code == 0 and "that their remote does not hold" in kept.stderr  # main's v2 is kept
    assert dvx("gc", "--workspace", "--grace", "0", "-f", "--force-last-copy").code == 0
    git(ml, "checkout", "-q", "main")
    result = dvx("checkout")
    assert result.code == 1 and "model.json" in result.stderr  # v2 is gone from the cache


def _ignored(root: Path, path: str) -> bool:
    return subprocess.run(["git", "check-ignore", "-q", path], cwd=root).returncode == 0


def test_an_output_switched_to_cache_false_is_left_to_git_and_back(repo, dvx):
    """A cached output turned into one Git tracks (a metrics file, say) leaves .gitignore
    (only the entry dvx wrote), is named in the `git add` hint, and no checkout takes it for
    data left behind; switched back, Git ignores it again once it stops tracking it."""
    write(repo / "in.txt", "1\n")
    stage = "stages:\n  c:\n    cmd: cat in.txt > c.txt; cp in.txt m.bin\n    deps: [in.txt]\n"
    run_and_commit(repo, stage + "    outs: [c.txt, m.bin]\n", "cached")

    write(repo / "dvx.yaml", stage + "    outs: [{c.txt: {cache: false}}, m.bin]\n")
    result = dvx("repro")
    assert result.code == 0, result.output
    assert "git add .gitignore c.txt dvx.lock" in result.stdout
    assert (repo / ".gitignore").read_text().splitlines() == ["/m.bin"]
    assert not _ignored(repo, "c.txt")
    status = dvx("status")
    assert "c.txt" not in status.output and dvx("status", "-q").code == 0
    assert dvx("checkout").code == 0
    assert (repo / "c.txt").read_text() == "1\n"
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "c.txt in Git")

    write(repo / "dvx.yaml", stage + "    outs: [c.txt, m.bin]\n")
    refused = dvx("repro")
    assert refused.code != 0 and "git rm -r --cached -- c.txt" in refused.output
    git(repo, "rm", "-q", "--cached", "c.txt")
    assert dvx("repro").code == 0
    assert _ignored(repo, "c.txt") and (repo / "c.txt").read_text() == "1\n"


def test_an_output_directory_switched_to_cache_false_runs_its_stage_not_the_run_cache(
        repo, dvx):
    """The run-cache holds the run made while outdir was cached, but Git is to track it now
    and the run-cache cannot give back a directory Git tracks: the stage runs (a dry run says
    so too), outdir is there to `git add`, and the pipeline is up to date after."""
    write(repo / "in.txt", "data\n")
    stage = ("stages:\n  gen:\n    cmd: mkdir -p outdir && cp in.txt outdir/a.txt\n"
             "    deps: [in.txt]\n")
    run_and_commit(repo, stage + "    outs: [outdir]\n", "outdir cached")
    write(repo / "dvx.yaml", stage + "    outs: [{outdir: {cache: false}}]\n")

    assert "would run" in dvx("repro", "--dry").stdout.lower()
    result = dvx("repro")
    assert result.code == 0, result.output
    assert "Restored" not in result.output and "Running stage 'gen'" in result.stdout
    assert (repo / "outdir" / "a.txt").read_text() == "data\n"
    assert "git add .gitignore outdir dvx.lock" in result.stdout
    assert dvx("status", "-q").code == 0
    assert "is up to date" in dvx("repro").stdout


def test_a_cache_false_output_git_does_not_track_is_never_data_left_behind(repo, dvx):
    """Back from a branch where it was cached to one where it is `cache: false` (and ignored
    by a rule of the user's own): it is still the stage's output, so checkout keeps it."""
    write(repo / ".gitignore", "*.log\n")
    write(repo / "in.txt", "1\n")
    stage = "stages:\n  c:\n    cmd: cat in.txt > run.log\n    deps: [in.txt]\n"
    run_and_commit(repo, stage + "    outs: [{run.log: {cache: false}}]\n", "log not cached")
    git(repo, "checkout", "-qb", "cached")
    run_and_commit(repo, stage + "    outs: [run.log]\n", "log cached")
    git(repo, "checkout", "-q", "main")

    assert "pointer left Git" not in dvx("status").output
    assert dvx("checkout").code == 0
    assert (repo / "run.log").read_text() == "1\n"


def test_a_cache_false_output_holding_changes_git_has_not_committed_is_never_deleted(repo, dvx):
    """A teammate's dvx.yaml declares a folder of code as a `cache: false` output: a run
    would delete it first, and with it an edit, or a new file, not committed yet. repro (dry,
    forced, as `exp run` too) refuses before anything runs, naming them; committed, the run
    goes on (Git keeps them), and a persistent output is never deleted, so never refused."""
    write(repo / "params.yaml", "n: 1\n")
    write(repo / "src" / "code.py", "print(1)\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "code")
    write(repo / "dvx.yaml", "stages:\n  report:\n    cmd: mkdir -p src && echo done > "
                             "src/report.txt\n    params: [n]\n    metrics:\n"
                             "      - src: {cache: false}\n")
    for change in ("edit", "new file", "staged"):
        if change == "edit":
            write(repo / "src" / "code.py", "print(1)\n# mine\n")
            named = "src/code.py"
        elif change == "new file":
            git(repo, "checkout", "--", "src")
            write(repo / "src" / "util.py", "mine\n")
            named = "src/util.py"
        else:
            (repo / "src" / "util.py").unlink()
            write(repo / "src" / "code.py", "print(2)\n")
            git(repo, "add", "src/code.py")
            named = "src/code.py"
        before = tree_bytes(repo / "src")
        for args in (["repro"], ["repro", "--force"], ["repro", "--dry"],
                     ["exp", "run", "-S", "n=2"]):
            refused = dvx(*args)
            assert refused.code == 2 and "Traceback" not in refused.output, (change, args)
            text = " ".join(refused.stderr.split())
            way_back = "`git clean -fd -- src`" if change == "new file" else \
                "`git checkout -- src`"
            assert (f"Stage 'report': its output 'src' (cache: false) holds changes Git has "
                    f"not committed ({named})" in text and "nothing was run" in text
                    and way_back in text), text
            assert tree_bytes(repo / "src") == before
            assert not (repo / "dvx.lock").exists()
            assert (repo / "params.yaml").read_text() == "n: 1\n"

    write(repo / "dvx.yaml", "stages:\n  report:\n    cmd: mkdir -p src && echo done > "
                             "src/report.txt\n    params: [n]\n    metrics:\n"
                             "      - src: {cache: false, persist: true}\n")
    assert dvx("repro").code == 0
    assert (repo / "src" / "code.py").read_text() == "print(2)\n"
    assert (repo / "src" / "report.txt").read_text() == "done\n"

    write(repo / "dvx.yaml", "stages:\n  report:\n    cmd: mkdir -p src && echo done > "
                             "src/report.txt\n    params: [n]\n    metrics:\n"
                             "      - src: {cache: false}\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "all of it")
    result = dvx("repro", "--force")
    assert result.code == 0, result.output
    assert git(repo, "status", "--porcelain", "--", "src") == " D src/code.py\n"
    git(repo, "checkout", "--", "src/code.py")
    assert (repo / "src" / "code.py").read_text() == "print(2)\n"


def test_the_refusal_over_an_output_folder_names_commands_that_let_the_run_go_on(repo, dvx):
    """A run stopped half-way leaves in a `cache: false` folder Git tracks a file changed and
    a new one: the refusal names `git checkout` and `git clean` of the folder (a checkout
    alone leaves the new file, and the run refused again), and once they ran the stage
    runs."""
    write(repo / "n.txt", "1\n")
    run_and_commit(repo, "stages:\n  g:\n    cmd: mkdir -p plots && cat n.txt > "
                              "plots/p1.txt\n    deps: [n.txt]\n"
                              "    outs: [plots: {cache: false}]\n", "plots")
    write(repo / "n.txt", "2\n")
    write(repo / "plots" / "p1.txt", "half\n")  # as a stopped run leaves them
    write(repo / "plots" / "p2.txt", "half\n")
    refused = dvx("repro")
    text = " ".join(refused.stderr.split())
    assert refused.code == 2 and "`git checkout -- plots` and `git clean -fd -- plots` put " \
        "back Git's version" in text, text
    git(repo, "checkout", "--", "plots")
    git(repo, "clean", "-fd", "--", "plots")
    assert dvx("repro").code == 0
    assert (repo / "plots" / "p1.txt").read_text() == "2\n"


def test_a_run_stopped_in_a_cache_false_folder_names_what_lets_the_next_run_go_on(repo, dvx):
    """Ctrl-C while a stage writes a `cache: false` folder Git tracks leaves a file changed
    and a new one the next run refuses to delete: the stop message and `dvx status` name
    `git checkout` and `git clean` of the folder before `dvx repro` (as the refusal does),
    never a plain rerun, and once they ran the stage runs."""
    write(repo / "n.txt", "1\n")
    write(repo / ".gitignore", "/go\n/half\n")
    write(repo / "go", "")
    run_and_commit(repo, "stages:\n  g:\n    cmd: mkdir -p plots && cat n.txt > "
                              "plots/p1.txt && cp n.txt plots/p$(cat n.txt).txt && touch "
                              "half && until [ -e go ]; do sleep 0.05; done\n"
                              "    deps: [n.txt]\n"
                              "    outs: [plots: {cache: false}]\n", "plots")
    (repo / "go").unlink()
    (repo / "half").unlink()
    write(repo / "n.txt", "2\n")
    running = subprocess.Popen([sys.executable, "-m", "dvx", "repro"], cwd=repo, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not (repo / "half").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    running.send_signal(signal.SIGINT)
    out, err = running.communicate(timeout=60)
    said = " ".join(err.split())
    assert running.returncode == 130, out + err
    assert "In 'plots' (cache: false) the stopped run left changes Git has not committed " \
        "(plots/p1.txt, plots/p2.txt), which `dvx repro` refuses to delete: `git checkout -- " \
        "plots` and `git clean -fd -- plots` put back Git's version, deleting the files Git " \
        "does not track; then `dvx repro` runs the stopped stages again" in said, said
    status = dvx("status")
    shown = " ".join(status.stdout.split())
    assert "which its run would delete, so `dvx repro` refuses to run it" in shown and \
        "`git clean -fd -- plots`" in shown and "(then `dvx repro` runs the stale stages)" \
        in shown and "(`dvx repro` runs the stale stages)" not in shown, shown
    write(repo / "go", "")
    assert dvx("repro").code == 2
    git(repo, "checkout", "--", "plots")
    git(repo, "clean", "-fd", "--", "plots")
    assert dvx("repro").code == 0
    assert (repo / "plots" / "p1.txt").read_text() == "2\n"


def test_status_names_the_refusal_over_a_cache_false_folder_whose_run_was_undone(repo, dvx):
    """`git checkout -- dvx.lock` after a run that changed a `cache: false` folder Git
    tracks: `dvx status` names the `git checkout` of the folder that `dvx repro` needs
    first, as its refusal does, not a plain `dvx repro`."""
    write(repo / "n.txt", "1\n")
    run_and_commit(repo, "stages:\n  g:\n    cmd: mkdir -p plots && cat n.txt > "
                              "plots/p1.txt\n    deps: [n.txt]\n"
                              "    outs: [plots: {cache: false}]\n", "plots")
    write(repo / "n.txt", "2\n")
    assert dvx("repro").code == 0
    git(repo, "checkout", "--", "dvx.lock")
    shown = " ".join(dvx("status").stdout.split())
    assert "(stage 'g': its output 'plots' (cache: false) holds changes Git has not " \
        "committed (plots/p1.txt), which its run would delete, so `dvx repro` refuses to run " \
        "it: commit them, or move them elsewhere (`git checkout -- plots` puts back Git's " \
        "version" in shown and "(then `dvx repro` runs the stale stages)" in shown, shown
    assert dvx("repro").code == 2
    git(repo, "checkout", "--", "plots")
    assert dvx("repro").code == 0


def test_status_json_names_the_cache_false_folder_whose_changes_repro_refuses_to_delete(
        repo, dvx):
    """What plain `dvx status` says of a `cache: false` folder Git tracks holding changes
    Git has not committed, whose stage's run `repro` refuses, `--json` carries too: the
    stage, the folder, the files changed and new, and what puts back Git's version."""
    write(repo / "n.txt", "1\n")
    run_and_commit(repo, "stages:\n  g:\n    cmd: mkdir -p plots && cat n.txt > "
                              "plots/p1.txt\n    deps: [n.txt]\n"
                              "    outs: [plots: {cache: false}]\n", "plots")
    write(repo / "n.txt", "2\n")
    write(repo / "plots" / "p1.txt", "half\n")
    write(repo / "plots" / "p2.txt", "half\n")
    doc = json.loads(dvx("status", "--json").stdout)
    assert doc["changed"] is True
    assert doc["uncommitted_outputs"] == [{
        "stage": "g", "path": "plots", "changes": ["plots/p1.txt", "plots/p2.txt"],
        "untracked": ["plots/p2.txt"],
        "putting_back": "`git checkout -- plots` and `git clean -fd -- plots` put back Git's "
                        "version, deleting the files Git does not track"}], doc
    git(repo, "checkout", "--", "plots")
    git(repo, "clean", "-fd", "--", "plots")
    assert json.loads(dvx("status", "--json").stdout)["uncommitted_outputs"] == []


def _stage_output_taken_into_git(repo: Path, dvx) -> None:
    """A stage's cached output folder `src`, recorded in dvx.lock, whose file a commit took
    into Git (`git add -f`), then a dependency changed: the stage is stale."""
    write(repo / "n.txt", "1\n")
    write(repo / "dvx.yaml", "stages:\n  build:\n    cmd: mkdir -p src && cp n.txt "
                             "src/main.py\n    deps: [n.txt]\n    outs: [src]\n")
    assert dvx("repro").code == 0
    write(repo / "src" / "main.py", "print('hand written')\n")
    git(repo, "add", "-A")
    git(repo, "add", "-f", "src/main.py")
    git(repo, "commit", "-qm", "pipeline")
    write(repo / "n.txt", "2\n")


def test_status_names_the_refusal_over_a_cached_output_git_tracks_not_a_plain_repro(
        repo, dvx):
    """A stale stage whose cached output holds files Git's index holds: `dvx status` names
    the refusal `dvx repro` gives, with the command that stops Git tracking them, never a
    plain `dvx repro`; repro refuses with the same words, and runs once Git stopped."""
    _stage_output_taken_into_git(repo, dvx)
    shown = " ".join(dvx("status").stdout.split())
    assert "(stage 'build': its output 'src' is tracked by Git ('src/main.py' is in the Git " \
        "index), and a stage deletes its outputs before it runs, so `dvx repro` refuses to " \
        "run: stop tracking it in Git first (git rm -r --cached -- src && git commit), or " \
        "choose another output path)" in shown and "(then `dvx repro` runs the stale " \
        "stages)" in shown and "(`dvx repro` runs the stale stages)" not in shown, shown
    refused = dvx("repro")
    said = " ".join(refused.stderr.split())
    assert refused.code == 2 and "Stage 'build': output 'src' is tracked by Git " \
        "('src/main.py' is in the Git index), and a stage deletes its outputs before it " \
        "runs, so nothing was run. Stop tracking it in Git first (git rm -r --cached -- src " \
        "&& git commit), or choose another output path." in said, said
    assert (repo / "src" / "main.py").read_text() == "print('hand written')\n"
    git(repo, "rm", "-r", "-q", "--cached", "--", "src")
    git(repo, "commit", "-qm", "src is the stage's")
    assert dvx("repro").code == 0
    assert (repo / "src" / "main.py").read_text() == "2\n"
    assert "stale" not in dvx("status").stdout


def test_a_frozen_stage_s_output_git_tracks_stops_no_run(repo, dvx):
    """A frozen stage never runs, so never deletes its outputs: its cached output whose file
    Git's index holds (kept in Git on purpose) lets the stages downstream run, by `repro` and
    `exp run`, and `dvx status` names no refusal."""
    write(repo / "params.yaml", "lr: 1\n")
    write(repo / "dvx.yaml", "stages:\n  download:\n    cmd: echo raw > raw.txt\n"
                             "    outs: [raw.txt]\n  train:\n    cmd: cat raw.txt params.yaml"
                             " > model.txt\n    deps: [raw.txt]\n    params: [lr]\n"
                             "    outs: [model.txt]\n")
    assert dvx("repro").code == 0
    assert dvx("freeze", "download").code == 0
    git(repo, "add", "-A")
    git(repo, "add", "-f", "raw.txt")
    git(repo, "commit", "-qm", "raw kept in Git, download frozen")
    write(repo / "params.yaml", "lr: 2\n")
    doc = json.loads(dvx("status", "--json").stdout)
    assert doc["changed"] is True and doc["outputs_in_git"] == [], doc
    shown = " ".join(dvx("status").stdout.split())
    assert "refuses" not in shown and "(`dvx repro` runs the stale stages)" in shown, shown
    ran = dvx("repro")
    assert ran.code == 0, ran.output
    assert (repo / "model.txt").read_text() == "raw\nlr: 2\n"
    assert (repo / "raw.txt").read_text() == "raw\n"
    experiment = dvx("exp", "run", "-S", "lr=3")
    assert experiment.code == 0, experiment.output
    assert (repo / "model.txt").read_text() == "raw\nlr: 3\n"


def test_status_json_lists_the_cached_outputs_git_tracks_of_stale_stages(repo, dvx):
    """`status --json` carries what plain status says of a stale stage's cached output whose
    files Git's index holds: the stage, the output, those files and the command that stops
    Git tracking them; none once Git stopped."""
    _stage_output_taken_into_git(repo, dvx)
    write(repo / "src" / "util.py", "pass\n")
    git(repo, "add", "-f", "src/util.py")
    doc = json.loads(dvx("status", "--json").stdout)
    assert doc["changed"] is True
    assert doc["outputs_in_git"] == [{
        "stage": "build", "path": "src", "tracked": ["src/main.py", "src/util.py"],
        "untracking": "git rm -r --cached -- src && git commit"}], doc
    assert doc["uncommitted_outputs"] == []
    git(repo, "rm", "-r", "-q", "--cached", "--", "src")
    assert json.loads(dvx("status", "--json").stdout)["outputs_in_git"] == []


def test_an_output_folder_git_tracks_is_run_again_as_its_last_run_left_it(repo, dvx):
    """A `cache: false` folder Git tracks, holding what the stage's last run wrote (as
    dvx.lock records it, not committed), is the stage's to write again; edited by hand since,
    it is refused, and runs again once Git's version is back. A single file output (a metrics
    file) is the stage's to write, whatever it holds."""
    write(repo / "in.txt", "1\n")
    run_and_commit(repo, "stages:\n  m:\n    cmd: mkdir -p out && cat in.txt > out/a.txt"
                              " && cat in.txt > m.json\n    deps: [in.txt]\n"
                              "    outs: [out: {cache: false}]\n"
                              "    metrics: [m.json: {cache: false}]\n", "out")
    for value in ("2\n", "3\n"):
        write(repo / "in.txt", value)
        assert dvx("repro").code == 0
        assert (repo / "out" / "a.txt").read_text() == value
    assert git(repo, "status", "--porcelain", "--", "out") == " M out/a.txt\n"

    write(repo / "m.json", "by hand\n")
    assert dvx("repro").code == 0 and (repo / "m.json").read_text() == "3\n"
    write(repo / "out" / "a.txt", "3 by hand\n")
    refused = dvx("repro", "--force")
    assert refused.code == 2 and "(out/a.txt)" in " ".join(refused.stderr.split())
    assert (repo / "out" / "a.txt").read_text() == "3 by hand\n"
    git(repo, "checkout", "--", "out")
    assert dvx("repro").code == 0
    assert (repo / "out" / "a.txt").read_text() == "3\n"

_TWO_OUTS = ("stages:\n  a:\n    cmd: cp in.txt x.out && cp in.txt y.out\n    deps: [in.txt]\n"
             "    outs: [x.out, y.out]\n")
_MOVED = ("stages:\n  a:\n    cmd: cp in.txt x.out\n    deps: [in.txt]\n    outs: [x.out]\n"
          "  b:\n    cmd: cp in.txt y.out\n    deps: [in.txt]\n    outs: [y.out]\n")


def test_an_output_moved_to_a_stage_not_run_yet_is_never_data_left_behind(repo, dvx):
    """y.out moved from stage a to a new stage b, and only a run: dvx.lock no longer records
    it, but dvx.yaml declares it, so checkout keeps it and status names the stage to run."""
    write(repo / "in.txt", "1\n")
    run_and_commit(repo, _TWO_OUTS, "a makes both")
    write(repo / "dvx.yaml", _MOVED)
    assert dvx("repro", "a").code == 0

    status = dvx("status")
    assert "pointer left Git" not in status.output
    assert "y.out: an output of stage 'b'" in status.output and "`dvx repro b`" in status.output
    assert json.loads(dvx("status", "--json").stdout)["unrecorded"] == [
        {"path": "y.out", "stage": "b"}]
    checkout = dvx("checkout")
    assert checkout.code == 0 and "removed" not in checkout.output
    assert (repo / "y.out").read_text() == "1\n"
    assert dvx("repro").code == 0
    assert "y.out" not in dvx("status").output and (repo / "y.out").read_text() == "1\n"


def test_a_branch_switch_keeps_the_outputs_the_new_dvx_yaml_declares(repo, dvx):
    """With the hooks, `git checkout` of a branch whose dvx.yaml declares the output (in a
    stage not run there) keeps it; of one whose dvx.yaml does not, removes it as before."""
    assert dvx("install").code == 0
    write(repo / "in.txt", "1\n")
    run_and_commit(repo, _TWO_OUTS, "a makes both")
    git(repo, "checkout", "-qb", "moved")
    write(repo / "dvx.yaml", _MOVED)
    assert dvx("repro", "a").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "y.out moved to b, not run")
    git(repo, "checkout", "-q", "main")
    git(repo, "checkout", "-qb", "gone")
    write(repo / "dvx.yaml", _MOVED.split("  b:")[0])
    assert dvx("repro").code == 0
    (repo / "y.out").unlink()
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "y.out dropped")
    git(repo, "checkout", "-q", "main")

    assert (repo / "y.out").read_text() == "1\n"
    git(repo, "checkout", "-q", "moved")
    assert (repo / "y.out").read_text() == "1\n"
    assert dvx("checkout").code == 0 and (repo / "y.out").exists()
    git(repo, "checkout", "-q", "main")
    git(repo, "checkout", "-q", "gone")
    assert not (repo / "y.out").exists()


def test_a_dependency_whose_pointer_a_sparse_checkout_leaves_out_is_refused_though_on_disk(
        repo, dvx):
    """Git leaves the ignored data of a folder the sparse checkout leaves out, so after a
    branch switch it is the other branch's: a stage reading it is never run on it (nor is
    that recorded in dvx.lock), status says why, and what both name brings the branch's."""
    assert dvx("install").code == 0
    commit_copy_stage(repo, dvx, "main")
    git(repo, "checkout", "-qb", "feat")
    (repo / "data" / "in.txt").unlink()
    write(repo / "data" / "in.txt", "v2\n")
    assert dvx("add", "data/in.txt").code == 0
    assert dvx("repro").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "feat")
    git(repo, "checkout", "-q", "main")
    git(repo, "sparse-checkout", "set", "--no-cone", "/*", "!/data/")
    git(repo, "checkout", "-q", "feat")
    assert (repo / "data" / "in.txt").read_text() == "v1\n"  # main's, left there
    lock = (repo / "dvx.lock").read_text()

    status = dvx("status").stdout
    assert ("s: deps left out by the sparse checkout: data/in.txt (`git sparse-checkout add "
            "/data/in.txt.dvx` brings their pointers back)") in status, status
    assert "changed deps" not in status
    for args in (("repro",), ("repro", "-f"), ("repro", "--dry")):
        refused = dvx(*args)
        assert refused.code == 2, refused.output
        assert "may not be what its pointer records" in refused.stderr
        assert ("`git sparse-checkout add /data/in.txt.dvx`, then `dvx pull data/in.txt`"
                in refused.stderr)
    assert (repo / "dvx.lock").read_text() == lock
    assert (repo / "out.txt").read_text() == "v2\n"
    git(repo, "sparse-checkout", "add", "/data/in.txt.dvx")
    assert dvx("checkout", "data/in.txt").code == 0  # the cache has it: no remote to pull from
    assert (repo / "data" / "in.txt").read_text() == "v2\n"
    assert dvx("status").stdout == "Data, pointers and pipelines are up to date.\n"


def test_exp_run_names_itself_when_a_git_checkout_meanwhile_undeclares_its_stage(repo, dvx):
    """As for repro: an `exp run` whose stage a `git checkout` of dvx.yaml no longer
    declares records nothing, and says exp run changed under it and is what to run again,
    with the -S given."""
    write(repo / "params.yaml", "n: 1\n")
    write(repo / "dvx.yaml", "stages:\n  s1:\n    cmd: cp params.yaml o1.txt\n"
                             "    params: [n]\n    outs: [o1.txt]\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "pipeline")
    declared = (repo / "dvx.yaml").read_text()
    code, out, err = run_meanwhile("repro.after_command", "exp run -S n=2", repo,
        lambda: write(repo / "dvx.yaml", declared.replace("s1:", "s2:")))
    said = " ".join(err.split())
    assert code == 1, out + err
    assert "while repro ran" not in said and "`dvx repro`" not in said, said
    assert "run `dvx exp run -S n=2` again" in said, said


@pytest.mark.parametrize("rule, recorded", [("*.lock", "dvx.lock"), ("*.json", "m.json")])
def test_a_run_recorded_in_a_file_git_ignores_is_kept_and_warned_of_naming_the_rule(
        repo, dvx, rule, recorded):
    """A cloned `.gitignore` ignoring dvx.lock (`*.lock`) or a `cache: false` metrics file
    (`*.json`): repro keeps its run, but warns that Git is not recording it, naming the rule
    and `git add -f`, and so does status; `dvx commit` writing an ignored dvx.lock too."""
    write(repo / ".gitignore", rule + "\n")
    write(repo / "dvx.yaml", "stages:\n  s:\n    cmd: echo 1 > m.json && echo r > out.txt\n"
                             "    outs: [out.txt]\n"
                             "    metrics:\n    - m.json:\n        cache: false\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "pipeline")
    ran = dvx("repro")
    assert ran.code == 0, ran.output
    warning = " ".join(ran.stderr.split())
    assert f"WARNING: '{recorded}', written for Git to record, is ignored by Git (rule " \
           f"'{rule}' in .gitignore:1)" in warning, warning
    assert f"`git add -f {recorded}`" in warning, warning
    assert (repo / "dvx.lock").exists() and (repo / "m.json").exists()  # the run is kept
    status = dvx("status")
    assert f"'{recorded}', which Git should record, is ignored by Git (rule" in " ".join(
        status.stderr.split()), status.output
    (repo / "out.txt").unlink()
    write(repo / "out.txt", "edited\n")
    committed = dvx("commit", "out.txt")
    assert committed.code == 0, committed.output
    assert ("'dvx.lock', written for Git to record, is ignored by Git" in " ".join(
        committed.stderr.split())) == (recorded == "dvx.lock"), committed.output
    git(repo, "add", "-f", recorded)
    assert "ignored by Git" not in dvx("status").stderr


def test_files_git_ignores_inside_a_cache_false_output_folder_are_warned_of_naming_each_rule(
        repo, dvx):
    """A `cache: false` output folder Git records file by file: a rule ignoring some files
    inside it (`*.csv`) leaves them out of `git add`, so repro and status name each such file
    and its rule, not just the folder, until Git tracks them."""
    write(repo / ".gitignore", "*.csv\n")
    write(repo / "dvx.yaml", "stages:\n  plot:\n    cmd: mkdir -p plots && echo x,y > "
                             "plots/loss.csv && echo x,y > plots/acc.csv && echo hi > "
                             "plots/notes.txt\n    plots:\n    - plots:\n        cache: false\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "pipeline")
    ran = dvx("repro")
    assert ran.code == 0, ran.output
    warning = " ".join(ran.stderr.split())
    assert ("WARNING: Files inside 'plots', written for Git to record, are ignored by Git "
            "and not tracked: 'plots/acc.csv' (rule '*.csv' in .gitignore:1), 'plots/loss.csv' "
            "(rule '*.csv' in .gitignore:1).") in warning, warning
    assert "`git add -f plots`" in warning, warning
    assert "notes.txt" not in warning
    status = dvx("status")
    said = " ".join(status.stderr.split())
    assert "Files inside 'plots', which Git should record, are ignored by Git" in said, \
        status.output
    assert json.loads(dvx("status", "--json").stdout)["pipeline_files_ignored_by_git"] == {
        "plots/acc.csv": "'*.csv' in .gitignore:1", "plots/loss.csv": "'*.csv' in .gitignore:1"}
    git(repo, "add", "-f", "plots")
    assert "ignored by Git" not in dvx("status").stderr


def test_the_git_add_hint_for_outputs_git_ignores_stages_those_outputs_alone(repo, dvx):
    """A `cache: false` metrics file `m?.json` and plots folder `p*` that Git ignores: the
    `git add -f` each warning names, pasted into a shell, stages them alone, never the
    ignored `m-.json` and `p-/a.csv` that Git's wildcards `?` and `*` would take too."""
    write(repo / ".gitignore", "*.json\n*.csv\n")
    write(repo / "m-.json", "not an output\n")
    write(repo / "p-" / "a.csv", "not an output\n")
    write(repo / "dvx.yaml", "stages:\n  s:\n    cmd: mkdir -p 'p*' && echo 1 > 'm?.json' "
                             "&& echo x > 'p*/a.csv'\n"
                             "    metrics:\n    - 'm?.json':\n        cache: false\n"
                             "    plots:\n    - 'p*':\n        cache: false\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "pipeline")
    ran = dvx("repro")
    assert ran.code == 0, ran.output
    hints = re.findall(r"`(git add -f [^`]*)`", " ".join(ran.stderr.split()))
    assert len(hints) == 2, ran.stderr
    for hint in hints:
        subprocess.run(["sh", "-c", hint], cwd=repo, check=True, capture_output=True)
    assert git(repo, "diff", "--cached", "--name-only", "-z").split("\0") == [
        "m?.json", "p*/a.csv", ""]


def test_repro_records_and_runs_on_a_changed_input_git_tracks_too_as_status_says(repo, dvx):
    """A `dvx add`-tracked input that `git add -f` also put in Git's index, changed: status
    and `repro --dry` say the stage runs, and `repro` records the input's new data in its
    pointer and runs the stage on it, refusing nothing."""
    write(repo / "raw.csv", "a\n")
    assert dvx("add", "raw.csv").code == 0
    write(repo / "dvx.yaml", "stages:\n  s:\n    cmd: cat raw.csv > out.txt\n"
                             "    deps: [raw.csv]\n    outs: [out.txt]\n")
    assert dvx("repro").code == 0
    git(repo, "add", "-A")
    git(repo, "add", "-f", "raw.csv")
    git(repo, "commit", "-qm", "base")
    (repo / "raw.csv").unlink()
    write(repo / "raw.csv", "b\n")
    assert "(`dvx repro` runs the stale stages)" in " ".join(dvx("status").stdout.split())
    assert "Would run stage 's'" in dvx("repro", "--dry").stdout
    ran = dvx("repro")
    assert ran.code == 0, ran.output
    assert (repo / "out.txt").read_text() == "b\n"
    recorded = xxhash.xxh3_128_hexdigest(b"b\n")
    assert f"oid: {recorded}" in (repo / "raw.csv.dvx").read_text()


def test_status_names_the_refusal_an_up_to_date_stage_s_output_git_tracks_gives_a_stale_one(
        repo, dvx):
    """An up-to-date stage's cached output that `git add -f` put in Git's index stops a plain
    `dvx repro` of the pipeline, whose other stage is stale: status names that refusal (and
    `--json` that output), never a plain `dvx repro` that would refuse."""
    write(repo / "pa.txt", "1\n")
    write(repo / "pb.txt", "1\n")
    run_and_commit(repo, "stages:\n  a:\n    cmd: cat pa.txt > a.bin\n    deps: [pa.txt]\n"
                                      "    outs: [a.bin]\n  b:\n    cmd: cat pb.txt > b.bin\n"
                                      "    deps: [pb.txt]\n    outs: [b.bin]\n", "base")
    git(repo, "add", "-f", "a.bin")
    write(repo / "pb.txt", "2\n")
    shown = " ".join(dvx("status").stdout.split())
    assert "(stage 'a': its output 'a.bin' is tracked by Git ('a.bin' is in the Git index), " \
        "and a stage deletes its outputs before it runs, so `dvx repro` refuses to run: stop " \
        "tracking it in Git first (git rm -r --cached -- a.bin && git commit)" in shown, shown
    assert "(`dvx repro` runs the stale stages)" not in shown, shown
    doc = json.loads(dvx("status", "--json").stdout)
    assert [found["path"] for found in doc["outputs_in_git"]] == ["a.bin"], doc
    refused = dvx("repro")
    assert refused.code == 2 and "Stage 'a': output 'a.bin' is tracked by Git" in refused.stderr


def test_a_file_where_an_output_s_folder_goes_is_refused_by_name_before_anything_runs(
        repo, dvx):
    """A file of the user's standing where a folder of an output's path goes (`o` for the
    output `o/x`, `p` for the folder output `p/d`) is nobody's dvx knows of: repro, forced or
    not, dry or not, and exp run refuse the stage naming the file and the way out, before its
    command runs or anything is deleted; status names it among the stage's reasons."""
    write(repo / "in.txt", "v1\n")
    assert dvx("add", "in.txt").code == 0
    write(repo / "dvx.yaml", "stages:\n"
          "  s:\n    cmd: echo s >> runs.log && mkdir -p o && cp in.txt o/x\n"
          "    deps: [in.txt]\n    outs: [o/x]\n"
          "  d:\n    cmd: echo d >> runs.log && mkdir -p p/d && cp in.txt p/d/f\n"
          "    deps: [in.txt]\n    outs: [p/d]\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "pipeline")
    for recorded in (False, True):
        if recorded:  # a run recorded, then its folders replaced by files of the user's
            assert dvx("repro").code == 0
            (repo / "runs.log").unlink()
            shutil.rmtree(repo / "o")
            shutil.rmtree(repo / "p")
        write(repo / "o", "mine\n")
        write(repo / "p", "also mine\n")
        for args in (["repro"], ["repro", "--force"], ["repro", "s"], ["repro", "--dry"],
                     ["repro", "--keep-going"], ["exp", "run"]):
            refused = dvx(*args)
            text = " ".join(refused.output.split())
            assert "Traceback" not in text and "File exists" not in text, (args, text)
            assert (args == ["repro", "--dry"]) == (refused.code == 0), (args, text)
            assert ("a file is where the folder 'o' of its output 'o/x' goes" in text
                    and "Move 'o' away, then run" in text), (args, text)
            if args in (["repro", "--dry"], ["repro", "--keep-going"]):
                assert "a file is where the folder 'p' of its output 'p/d' goes" in text, text
            assert not (repo / "runs.log").exists(), args
            assert (repo / "o").read_text() == "mine\n"
            assert (repo / "p").read_text() == "also mine\n"
        status = " ".join(dvx("status").output.split())
        assert "files where output folders go: o (`dvx repro` refuses to delete it: move it " \
               "away)" in status, status
        (repo / "o").unlink()
        (repo / "p").unlink()


@pytest.mark.parametrize("remote", ["set", "none"])
def test_an_input_not_checked_out_whose_data_the_cache_lacks_is_refused_naming_a_pull(
        repo, dvx, dvx_proc, tmp_path, remote):
    """A checkout of the input stopped half-way, the data it was placing gone from the cache
    since: `dvx checkout` would place nothing, so the refusal leads with `dvx pull PATH`
    (after `dvx remote add -d` where no default remote is set), which then lets repro run."""
    if remote == "set":
        assert dvx("remote", "add", "-d", "r", str(tmp_path / "remote")).code == 0
    for i in range(3):
        write(repo / "d" / str(i), f"{i} v1\n")
    assert dvx("add", "d").code == 0
    run_and_commit(repo, "stages:\n  use:\n    cmd: cat d/* > out\n    deps: [d]\n"
                                      "    outs: [out]\n", "v1")
    git(repo, "tag", "v1")
    assert dvx("unprotect", "d").code == 0
    for i in range(3):
        write(repo / "d" / str(i), f"{i} v2\n")
    assert dvx("add", "d").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "v2")
    if remote == "set":
        assert dvx("push").code == 0
    git(repo, "checkout", "-q", "v1")
    assert dvx("checkout").code == 0
    git(repo, "checkout", "-q", "main")
    stopped = dvx_proc("checkout", "d", cwd=repo, env={"DVX_FAULT": "checkout.after_file:1"})
    assert stopped.code == -9, stopped.output
    for i in (1, 2):  # the versions it had yet to place, damaged: fsck moves them aside
        oid = xxhash.xxh3_128_hexdigest(f"{i} v2\n".encode())
        damaged = repo / ".dvx" / "cache" / "files" / "xxh128" / oid[:2] / oid[2:]
        os.chmod(damaged, 0o644)
        damaged.write_text("damaged\n")
    assert "2 corrupt" in dvx("fsck").output
    refused = dvx("repro")
    said = " ".join(refused.stderr.split()).partition("ERROR: ")[2]  # past the stop's note
    assert refused.code == 1 and "is not checked out as its pointer names" in said, said
    assert "Run `dvx pull d` to fetch and place the data" in said, said
    assert "`dvx checkout d`" not in said, said
    if remote == "none":
        assert "once a default remote is set (`dvx remote add -d NAME URL`)" in said, said
        return
    assert dvx("pull", "d").code == 0
    ran = dvx("repro")
    assert ran.code == 0, ran.output
    assert (repo / "out").read_text() == "0 v2\n1 v2\n2 v2\n"


@pytest.mark.parametrize("force", [False, True])
def test_an_output_file_that_becomes_a_folder_of_the_stage_s_new_output_is_run_over(
        repo, dvx, force):
    """A stage's output changes from the file `res` to `res/a.txt`: the file at `res` is the
    output its dvx.lock entry records, so repro (forced or not, dry or not) runs over it,
    deleting it as its data is in the cache, and records the new output alone. A file there
    holding data no cache holds is still refused by name, before anything runs. Its
    .gitignore entry goes: it would ignore the new output's folder."""
    write(repo / "in.txt", "v1\n")
    assert dvx("add", "in.txt").code == 0
    write(repo / "dvx.yaml", "stages:\n  s:\n    cmd: cp in.txt res\n"
          "    deps: [in.txt]\n    outs: [res]\n")
    assert dvx("repro").code == 0
    recorded = hash_file(str(repo / "res"))[0]
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "res")
    write(repo / "dvx.yaml", "stages:\n  s:\n    cmd: mkdir -p res && cp in.txt res/a.txt\n"
          "    deps: [in.txt]\n    outs: [res/a.txt]\n")
    again = ["repro", "--force"] if force else ["repro"]

    write(repo / "res", "mine\n")  # an edit no cache holds: nothing could bring it back
    refused = dvx(*again)
    assert refused.code != 0 and "a file is where the folder 'res'" in refused.output, \
        refused.output
    assert (repo / "res").read_text() == "mine\n"

    write(repo / "res", "v1\n")  # what dvx.lock records, in the cache
    status = " ".join(dvx("status").output.split())
    assert "dropped outs: res" in status and "files where output folders go" not in status, \
        status
    dry = dvx(*again, "--dry")
    assert dry.code == 0 and "Would fail" not in dry.output, dry.output
    assert (repo / "res").read_text() == "v1\n"
    ran = dvx(*again, "--json")
    assert ran.code == 0 and json.loads(ran.stdout)["left_ignored"] == [], ran.output
    assert (repo / "res" / "a.txt").read_text() == "v1\n"
    lock = (repo / "dvx.lock").read_text()
    assert "path: res/a.txt" in lock and "path: res\n" not in lock, lock
    assert "ignored by Git" not in ran.output, ran.output  # no `/res` entry left in the way
    assert subprocess.run(["git", "check-ignore", "-q", "res/.gitignore"],
                          cwd=repo).returncode == 1
    assert dvx("status", "-q").code == 0, dvx("status").output
    assert (repo / ".dvx" / "cache" / "files" / "xxh128" / recorded[:2] / recorded[2:]).exists()


def test_an_output_dropped_where_another_stage_s_output_folder_goes_is_handed_over(repo, dvx):
    """Stage s's output `res` becomes `other` while a new stage t outputs `res/a.txt`: s's
    run does not delete `res` (no output of s goes inside it), so it is an ordinary dropped
    output, made the user's own with its `.gitignore` entry kept; t is refused by that file's
    name, and status still reads the repository (no raw filesystem error)."""
    write(repo / "in.txt", "v1\n")
    assert dvx("add", "in.txt").code == 0
    run_and_commit(repo, "stages:\n  s:\n    cmd: cp in.txt res\n"
                   "    deps: [in.txt]\n    outs: [res]\n", "res")
    write(repo / "dvx.yaml", "stages:\n  s:\n    cmd: cp in.txt other\n"
          "    deps: [in.txt]\n    outs: [other]\n"
          "  t:\n    cmd: mkdir -p res && cp in.txt res/a.txt\n"
          "    deps: [in.txt]\n    outs: [res/a.txt]\n")
    ran = dvx("repro")
    assert ran.code != 0 and "a file is where the folder 'res'" in ran.output, ran.output
    assert (repo / "res").read_text() == "v1\n"
    assert "/res\n" in (repo / ".gitignore").read_text()
    status = dvx("status")
    assert "filesystem operation failed" not in status.output, status.output
    assert "Traceback" not in status.output and status.code in (0, 1), status.output
    assert "files where output folders go: res" in " ".join(status.output.split()), \
        status.output


def test_data_left_behind_where_an_output_s_folder_goes_is_named_by_status(repo, dvx):
    """A file whose pointer was deleted stands where the folder of a stage's output goes:
    status names it as data left behind and as the file in the stage's way, never failing
    on a file where it looked for a folder."""
    write(repo / "res", "v1\n")
    assert dvx("add", "res").code == 0
    (repo / "res.dvx").unlink()
    write(repo / "dvx.yaml", "stages:\n  t:\n    cmd: mkdir -p res && echo x > res/a.txt\n"
          "    outs: [res/a.txt]\n")
    status = dvx("status")
    said = " ".join(status.output.split())
    assert "res: no longer tracked" in said and "files where output folders go: res" in said, \
        status.output
    assert "filesystem operation failed" not in said and "Traceback" not in said, said
    assert (repo / "res").read_text() == "v1\n"


def test_an_output_placed_as_a_link_that_becomes_a_folder_of_the_new_output_is_run_over(
        repo, dvx):
    """With `cache.type symlink` the output file `res` is a link to its cache object. When the
    stage's output becomes `res/a.txt`, that link is a file in the way, as a copy would be:
    status names `res` a dropped output and repro replaces it with the new output's folder,
    never refusing the project for a symbolic link on the path."""
    assert dvx("config", "cache.type", "symlink").code == 0
    write(repo / "in.txt", "v1\n")
    write(repo / "dvx.yaml", "stages:\n  s:\n    cmd: cp in.txt res\n"
          "    deps: [in.txt]\n    outs: [res]\n")
    assert dvx("repro").code == 0
    assert (repo / "res").is_symlink()
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "res")
    write(repo / "dvx.yaml", "stages:\n  s:\n    cmd: mkdir -p res && cp in.txt res/a.txt\n"
          "    deps: [in.txt]\n    outs: [res/a.txt]\n")

    status = dvx("status")
    assert status.code == 0 and "dropped outs: res" in " ".join(status.output.split()), \
        status.output
    ran = dvx("repro")
    assert ran.code == 0, ran.output
    assert (repo / "res").is_dir() and not (repo / "res").is_symlink()
    assert (repo / "res" / "a.txt").read_text() == "v1\n"
    assert dvx("status", "-q").code == 0, dvx("status").output


@pytest.mark.parametrize("tracked", ["the folder around it", "its path"])
def test_repro_judges_a_pointer_at_a_gone_stage_s_output_on_the_stages_dvx_yaml_defines(
        repo, dvx, tracked):
    """A stage is deleted from dvx.yaml, and a pointer (a merge brought, say) tracks data at
    its output: the folder holding it, or the path itself. repro drops the stage's dvx.lock
    entry, so the pointer overlaps nothing it runs: it reads the pointer's data as any
    other input, and never names a way out (`dvx stage remove` of a stage dvx.yaml lacks)."""
    write(repo / "data" / "keep", "kept\n")
    out = "data/res" if tracked == "the folder around it" else "data"
    write(repo / "dvx.yaml", f"stages:\n  ghost:\n    cmd: mkdir -p data && echo gen > {out}"
          f"/x\n    outs: [{out}]\n" if out == "data" else
          f"stages:\n  ghost:\n    cmd: echo gen > {out}\n    outs: [{out}]\n")
    if out == "data":
        shutil.rmtree(repo / "data")
    assert dvx("repro").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "v1")
    write(repo / "dvx.yaml", "stages:\n  real:\n    cmd: ls data > r.txt\n    deps: [data]\n"
          "    outs: [r.txt]\n")
    # as the teammate's `dvx add data` needs: Git no longer tracks the folder's files
    git(repo, "rm", "-r", "-q", "--cached", "--ignore-unmatch", "data")
    shutil.copytree(repo / "data", repo / "copy")  # a pointer to data, as `dvx add` wrote it
    assert dvx("add", "copy").code == 0
    os.replace(repo / "copy.dvx", repo / "data.dvx")
    shutil.rmtree(repo / "copy")
    ignored = (repo / ".gitignore").read_text().splitlines()  # and its .gitignore entry
    write(repo / ".gitignore", "".join(
        f"{line}\n" for line in dict.fromkeys("/data" if line == "/copy" else line
                                              for line in ignored)))
    result = dvx("repro")
    said = " ".join(result.output.split())
    assert result.code == 0, said
    assert "Dropped the dvx.lock entry of 'ghost', no longer in dvx.yaml." in said, said
    assert "stage remove" not in said and "Skipped" not in said, said
    assert "ghost" not in read_lock(str(repo), "xxh128")
    assert (repo / "r.txt").exists()
    assert dvx("status", "-q").code == 0, dvx("status").output


@pytest.mark.parametrize("cmd", ["cp in.txt res",
                                 "mkdir -p res && cp in.txt res/a.txt && cp in.txt res/b.txt"])
def test_an_output_whose_folder_becomes_the_stage_s_new_output_runs_over_dvx_s_gitignore(
        repo, dvx, cmd):
    """A stage's output changes from `res/a.txt` to `res` (a file, or a folder): the
    `res/.gitignore` dvx wrote for the old output, and said to commit, holds its entry alone,
    so Git tracking it stops no run: repro deletes it with the output and names its removal
    in the `git add` to run, and the old output is neither handed over nor left ignored.
    A rule of the user's in that .gitignore, or another file Git tracks there, still refuses."""
    write(repo / "in.txt", "v1\n")
    assert dvx("add", "in.txt").code == 0
    write(repo / "dvx.yaml", "stages:\n  s:\n    cmd: mkdir -p res && cp in.txt res/a.txt\n"
          "    deps: [in.txt]\n    outs: [res/a.txt]\n")
    first = dvx("repro")
    assert first.code == 0 and "res/.gitignore" in first.output, first.output
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "res/a.txt")
    write(repo / "dvx.yaml", f"stages:\n  s:\n    cmd: {cmd}\n"
          "    deps: [in.txt]\n    outs: [res]\n")

    write(repo / "res" / ".gitignore", "/a.txt\n*.log\n")  # a rule of the user's
    refused = dvx("repro")
    assert refused.code != 0 and "('res/.gitignore' is in the Git index)" in refused.output, \
        refused.output
    write(repo / "res" / ".gitignore", "/a.txt\n")
    write(repo / "res" / "notes.md", "mine\n")
    git(repo, "add", "res/notes.md")
    refused = dvx("repro")
    assert refused.code != 0 and "('res/notes.md' is in the Git index)" in refused.output, \
        refused.output
    git(repo, "rm", "-q", "--cached", "res/notes.md")
    (repo / "res" / "notes.md").unlink()

    status = " ".join(dvx("status").output.split())
    assert "tracked by Git" not in status and "dropped outs: res/a.txt" in status, status
    ran = dvx("repro")
    assert ran.code == 0, ran.output
    assert "No stage outputs" not in ran.output and "ignored by Git" not in ran.output, \
        ran.output
    assert "git add .gitignore dvx.lock && git rm --cached -q -- res/.gitignore" in ran.output, \
        ran.output
    assert not (repo / "res" / ".gitignore").exists()
    lock = (repo / "dvx.lock").read_text()
    assert "path: res\n" in lock and "path: res/a.txt" not in lock, lock
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "res")
    assert git(repo, "ls-files", "res") == ""
    assert dvx("status", "-q").code == 0, dvx("status").output


def test_the_git_add_hint_after_an_output_became_its_folder_runs_clean_in_a_shell(repo, dvx):
    """The `res/.gitignore` repro deleted with `res/a.txt`, once `res` is the output, is
    ignored by Git: the hint records its removal by `git rm --cached`, so the command, typed,
    exits 0 (a `git add` of it stages all but exits 1) and stages every change."""
    write(repo / "in.txt", "v1\n")
    assert dvx("add", "in.txt").code == 0
    run_and_commit(repo, "stages:\n  s:\n    cmd: mkdir -p res && cp in.txt res/a.txt\n"
                   "    deps: [in.txt]\n    outs: [res/a.txt]\n", "res/a.txt")
    write(repo / "dvx.yaml", "stages:\n  s:\n    cmd: cp in.txt res\n"
          "    deps: [in.txt]\n    outs: [res]\n")
    ran = dvx("repro")
    assert ran.code == 0, ran.output
    hint = ran.output.split("To record this in Git, run:\n", 1)[1].splitlines()[0].strip()
    git(repo, "add", "dvx.yaml")
    typed = subprocess.run(hint, shell=True, cwd=repo, capture_output=True, text=True,
                           check=False)
    assert typed.returncode == 0, (hint, typed.stderr)
    assert git(repo, "diff", "--name-only") == ""  # every change staged
    assert "??" not in git(repo, "status", "--porcelain")
    staged = git(repo, "diff", "--cached", "--name-status").split("\n")
    assert "D\tres/.gitignore" in staged and "M\tdvx.lock" in staged, staged
    assert "M\t.gitignore" in staged, staged


@pytest.mark.parametrize("change", ["a new output", "an output renamed"])
def test_the_git_add_hint_after_a_run_killed_before_dvx_lock_names_its_gitignore(
        repo, dvx, dvx_proc, change):
    """A repro killed after writing the .gitignore entries of its outputs, before dvx.lock:
    the next run, which finds the entries written already, names that .gitignore for `git
    add` with dvx.lock all the same, as Git's index has other entries, so the hint, typed
    and committed, leaves nothing changed. An edit of the user's own alone there is not
    named."""
    write(repo / "in.txt", "v1\n")
    assert dvx("add", "in.txt").code == 0
    stage = "stages:\n  s:\n    cmd: cp in.txt {out}\n    deps: [in.txt]\n    outs: [{out}]\n"
    if change == "an output renamed":
        write(repo / "dvx.yaml", stage.format(out="old.txt"))
        assert dvx("repro").code == 0
    write(repo / "dvx.yaml", stage.format(out="out.txt"))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "stage")
    killed = dvx_proc("repro", cwd=repo, env={"DVX_FAULT": "repro.before_lock_write"})
    assert killed.code == -signal.SIGKILL, killed.output
    assert git(repo, "status", "--porcelain", ".gitignore") != ""
    ran = dvx("repro")
    assert ran.code == 0, ran.output
    hint = ran.output.split("To record this in Git, run:\n", 1)[1].splitlines()[0].strip()
    assert hint == "git add .gitignore dvx.lock", ran.output
    subprocess.run(hint, shell=True, cwd=repo, check=True)
    git(repo, "commit", "-qm", "run")
    assert git(repo, "status", "--porcelain") == ""

    with open(repo / ".gitignore", "a") as f:
        f.write("*.log\n")  # the user's own, not for this run to name
    write(repo / "dvx.yaml", stage.format(out="out.txt").replace("cp ", "cp -p "))
    ran = dvx("repro")
    assert ran.code == 0, ran.output
    assert "To record this in Git, run:\n    git add dvx.lock\n" in ran.output, ran.output


def test_an_output_become_a_file_in_it_takes_its_gitignore_line_out_and_names_the_rest(
        repo, dvx):
    """A stage's output `res` (a folder) becomes `res/a.txt`: `res` is no output any longer,
    but its `/res` line in .gitignore would hide from Git the folder of the new output, and
    the `res/.gitignore` dvx writes there for it. repro takes that line out and names both
    .gitignore files for `git add`; it never calls `res` an output to delete while still
    ignored, but says it holds res/a.txt and that Git sees the rest of it (res/b.txt), which
    stays in the workspace, the user's own."""
    write(repo / "in.txt", "v1\n")
    assert dvx("add", "in.txt").code == 0
    run_and_commit(repo, "stages:\n  s:\n    cmd: mkdir -p res && cp in.txt res/a.txt && "
                   "cp in.txt res/b.txt\n    deps: [in.txt]\n    outs: [res]\n", "res")
    write(repo / "dvx.yaml", "stages:\n  s:\n    cmd: mkdir -p res && cp in.txt res/a.txt\n"
          "    deps: [in.txt]\n    outs: [res/a.txt]\n")
    dry = dvx("repro", "--dry")
    assert dry.code == 0 and "No stage outputs" not in dry.output, dry.output
    ran = dvx("repro")
    said = " ".join(ran.output.split())
    assert ran.code == 0, said
    assert "still ignored by Git" not in said and "git add -f" not in said, said
    assert "No stage outputs res any longer, but it holds the output res/a.txt" in said, said
    assert "Git sees the rest of res too" in said, said
    assert "git add res/.gitignore .gitignore dvx.lock" in said, said
    assert "/res" not in (repo / ".gitignore").read_text().splitlines()
    assert (repo / "res" / ".gitignore").read_text() == "/a.txt\n"
    assert (repo / "res" / "b.txt").read_text() == "v1\n"  # the user's own now
    assert git(repo, "status", "--porcelain", "--untracked-files=all", "res").splitlines() \
        == ["?? res/.gitignore", "?? res/b.txt"]
    assert dvx("status", "-q").code == 0, dvx("status").output
    again = dvx("repro", "-f", "--json")
    assert json.loads(again.stdout)["unignored"] == [], again.output


def _pointer_over_a_gone_stage_s_output(repo: Path, dvx, teammates: str) -> None:
    """Stage 'ghost' made data/res, committed with the folder around it in Git; then a
    teammate's commit deletes the stage, takes the folder out of Git and tracks it with
    data.dvx, holding `teammates` at data/res. The workspace still holds ghost's res."""
    write(repo / "data" / "keep", "kept\n")
    run_and_commit(repo, "stages:\n  ghost:\n    cmd: echo alice > data/res\n"
                   "    outs: [data/res]\n", "v1")
    write(repo / "dvx.yaml", "stages:\n  real:\n    cmd: cat data/res > r.txt\n"
          "    deps: [data]\n    outs: [r.txt]\n")
    git(repo, "rm", "-r", "-q", "--cached", "data")
    write(repo / "copy" / "keep", "kept\n")
    write(repo / "copy" / "res", teammates)
    assert dvx("add", "copy").code == 0
    os.replace(repo / "copy.dvx", repo / "data.dvx")  # a pointer to data, as `dvx add` wrote it
    shutil.rmtree(repo / "copy")
    gitignore = (repo / ".gitignore").read_text()
    write(repo / ".gitignore", gitignore.replace("/copy\n", "/data\n"))


def test_repro_never_commits_a_gone_stage_s_stale_output_into_a_teammate_s_pointer(repo, dvx):
    """The workspace's data/res is what the gone stage last made, while data.dvx records a
    teammate's: repro drops the stage's entry but commits nothing into data.dvx, names
    `dvx pull --force data` (which the entry's drop lets through), and after it runs on the
    teammate's data."""
    _pointer_over_a_gone_stage_s_output(repo, dvx, "bob\n")
    pointer = (repo / "data.dvx").read_bytes()
    dry = dvx("repro", "--dry")
    assert dry.code != 0 and "Once a run without --dry dropped that entry" in dry.output, \
        dry.output
    assert "ghost" in read_lock(str(repo), "xxh128")
    result = dvx("repro")
    said = " ".join(result.output.split())
    assert result.code != 0, said
    assert "it holds 'data/res', the output of stage 'ghost'" in said, said
    assert "Run `dvx pull --force data` to put back the data 'data.dvx' records" in said, said
    assert "Traceback" not in result.output
    assert (repo / "data.dvx").read_bytes() == pointer
    assert (repo / "data" / "res").read_text() == "alice\n"
    assert "ghost" not in read_lock(str(repo), "xxh128")
    assert not (repo / "r.txt").exists()
    assert dvx("pull", "--force", "data").code == 0
    assert (repo / "data" / "res").read_text() == "bob\n"
    assert dvx("repro").code == 0
    assert (repo / "r.txt").read_text() == "bob\n"
    assert (repo / "data.dvx").read_bytes() == pointer
    assert dvx("status", "-q").code == 0, dvx("status").output


def test_repro_of_a_target_refuses_a_pointer_over_an_output_only_dvx_lock_names(repo, dvx):
    """`dvx repro real` keeps the gone stage's entry, so the pointer holding its output is
    the conflict it was: nothing is committed into it, nor run, and the entry stays."""
    _pointer_over_a_gone_stage_s_output(repo, dvx, "alice\n")
    (repo / "data" / "extra").write_text("new\n")
    pointer = (repo / "data.dvx").read_bytes()
    result = dvx("repro", "real")
    said = " ".join(result.output.split())
    assert result.code != 0, said
    assert "overlaps an output of stage 'ghost'" in said, said
    assert (repo / "data.dvx").read_bytes() == pointer
    assert "ghost" in read_lock(str(repo), "xxh128")
    assert not (repo / "r.txt").exists()


@pytest.mark.parametrize("committed", [True, False])
@pytest.mark.parametrize("stage,run", [("s", ()), ("t", ()), ("t", ("t",))],
                         ids=["same-stage", "renamed", "renamed-run-by-name"])
def test_a_persistent_output_over_dvx_s_gitignore_for_its_old_output_keeps_the_data_alone(
        repo, dvx, committed, stage, run):
    """An output `res/a.txt` becomes `res`, `persist: true`, of the same stage or of one it
    was renamed to (`dvx repro`, or `dvx repro t` that keeps other gone stages' entries):
    the run keeps res/a.txt, now data of `res`, but deletes the `res/.gitignore` dvx wrote
    for it (in Git's index or not), so `res` records the data alone, the hint names that
    removal, and res/a.txt is not named as an output no stage has. A rule of the user's in
    it still refuses."""
    write(repo / "in.txt", "v1\n")
    assert dvx("add", "in.txt").code == 0
    write(repo / "dvx.yaml", "stages:\n  s:\n    cmd: mkdir -p res && cp in.txt res/a.txt\n"
          "    deps: [in.txt]\n    outs: [res/a.txt]\n")
    assert dvx("repro").code == 0
    if committed:
        git(repo, "add", "-A")
        git(repo, "commit", "-qm", "res/a.txt")
    write(repo / "dvx.yaml", f"stages:\n  {stage}:\n    cmd: mkdir -p res && cp in.txt "
          "res/b.txt\n    deps: [in.txt]\n    outs:\n    - res:\n        persist: true\n")
    if committed:
        lock = (repo / "dvx.lock").read_bytes()
        write(repo / "res" / ".gitignore", "/a.txt\n*.log\n")  # a rule of the user's
        refused = dvx("repro", *run)
        assert refused.code != 0 and "('res/.gitignore' is in the Git index)" in \
            refused.output, refused.output
        assert (repo / "dvx.lock").read_bytes() == lock
        assert not (repo / "res" / "b.txt").exists()
        write(repo / "res" / ".gitignore", "/a.txt\n")

    ran = dvx("repro", *run)
    assert ran.code == 0, ran.output
    assert list(read_lock(str(repo), "xxh128")) == [stage]
    assert "No stage outputs" not in ran.output, ran.output
    assert not (repo / "res" / ".gitignore").exists()
    assert (repo / "res" / "a.txt").read_text() == "v1\n"  # persisted, not deleted
    listed = dvx("ls", ".", "res")
    assert listed.code == 0 and ".gitignore" not in listed.output, listed.output
    assert "res/a.txt" in listed.output and "res/b.txt" in listed.output, listed.output
    if committed:
        assert "git rm --cached -q -- res/.gitignore" in ran.output, ran.output
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "res")
    assert git(repo, "ls-files", "res") == ""
    assert dvx("status", "-q").code == 0, dvx("status").output


_OLD_STAGE = ("stages:\n  old:\n    cmd: mkdir -p res && cp params.yaml res/a.txt\n"
              "    params: [lr]\n    outs: [res/a.txt]\n")
_RENAMED_PERSISTENT = ("stages:\n  new:\n    cmd: mkdir -p res && cp params.yaml res/b.txt\n"
                       "    params: [lr]\n    outs:\n      - res:\n          persist: true\n")


def _experiment_files(repo: Path, name: str) -> list[str]:
    """The files the commit of experiment `name` holds."""
    ref = [r for r in git(repo, "for-each-ref", "--format=%(refname)", "refs/exps").split()
           if r.endswith("/" + name)]
    assert len(ref) == 1, ref
    return git(repo, "ls-tree", "-r", "--name-only", ref[0]).split()


@pytest.mark.parametrize("first", [("repro",), ("exp", "run", "-n", "e1", "-S", "lr=2")],
                         ids=["repro", "exp-run"])
def test_dvx_s_gitignore_a_renamed_stage_s_run_deleted_stops_no_run_before_git_records_it(
        repo, dvx, first):
    """Stage `old` (output res/a.txt) renamed `new` (output res, `persist: true`), the rename
    committed: the first run deletes dvx's own res/.gitignore, its removal not yet in Git's
    index (an experiment's commit holds it, the workspace's index does not). That deleted
    file is no file of res that Git tracks: the next `exp run` and `repro` run, each
    recording the removal (the experiment's commit holds it; repro's hint names it, or
    core.autostage stages it), and status names it as deleted by dvx. Pasted, the hint
    leaves nothing to say."""
    write(repo / "params.yaml", "lr: 1\n")
    run_and_commit(repo, _OLD_STAGE, "old")
    write(repo / "dvx.yaml", _RENAMED_PERSISTENT)
    git(repo, "commit", "-qam", "rename old -> new")
    ran = dvx(*first)
    assert ran.code == 0, ran.output
    assert not (repo / "res" / ".gitignore").exists()
    assert git(repo, "ls-files", "res").split() == ["res/.gitignore"]  # removal not staged
    status = " ".join(dvx("status").output.split())
    assert "tracked by Git" not in status, status
    assert "res/.gitignore: dvx's own .gitignore of a former output, which dvx deleted as no " \
        f"data, is still in the Git index; `{_REMOVAL}` records its removal" in status, status

    again = dvx("exp", "run", "-n", "e2", "-S", "lr=3")
    assert again.code == 0, again.output
    assert (repo / "res" / "b.txt").read_text() == "lr: 3\n"
    assert "res/.gitignore" not in _experiment_files(repo, "e2")
    write(repo / "params.yaml", "lr: 4\n")
    rerun = dvx("repro")
    assert rerun.code == 0, rerun.output
    assert (repo / "res" / "b.txt").read_text() == "lr: 4\n"
    hint = rerun.stdout.split("To record this in Git, run:", 1)[1].strip()
    assert hint == f"git add .gitignore dvx.lock && {_REMOVAL}", rerun.output
    assert subprocess.run(hint, shell=True, cwd=repo).returncode == 0
    git(repo, "commit", "-qam", "res")
    assert git(repo, "status", "--porcelain") == ""
    assert dvx("status", "-q").code == 0, dvx("status").output


def test_dvx_s_gitignore_a_run_deleted_is_staged_by_the_next_run_under_autostage(repo, dvx):
    """core.autostage set after the run that deleted dvx's own res/.gitignore (an
    experiment's, whose commit alone holds the removal): the next run stages that removal
    with dvx.lock, so the commit that follows leaves nothing to say."""
    write(repo / "params.yaml", "lr: 1\n")
    run_and_commit(repo, _OLD_STAGE, "old")
    write(repo / "dvx.yaml", _RENAMED_PERSISTENT)
    git(repo, "commit", "-qam", "rename old -> new")
    assert dvx("exp", "run", "-n", "e1", "-S", "lr=2").code == 0
    assert dvx("config", "core.autostage", "true").code == 0
    write(repo / "params.yaml", "lr: 3\n")
    ran = dvx("repro")
    assert ran.code == 0, ran.output
    assert "res/.gitignore" in ran.stdout, ran.output
    staged = git(repo, "diff", "--cached", "--name-status").split("\n")
    assert "D\tres/.gitignore" in staged and "M\tdvx.lock" in staged, staged
    git(repo, "commit", "-qam", "res")
    assert git(repo, "status", "--porcelain") == ""
    assert dvx("status", "-q").code == 0, dvx("status").output


def test_a_persistent_output_over_a_gitignore_with_a_rule_of_the_user_s_records_it_as_it_stays(
        repo, dvx):
    """An output `res/sub/a.txt` becomes `res`, `persist: true`, and `res/sub/.gitignore`,
    which Git tracks, holds dvx's `/a.txt` and a rule of the user's: repro refuses, saying a
    run keeps that output and records Git's files in it as its data (not that it deletes
    them). Once Git no longer tracks it, the run takes dvx's entry out of it before `res`
    is recorded, so `res` is recorded as it stays (status is clean after it), and no `git
    add -f` of that file, now data of `res`, is hinted."""
    write(repo / "in.txt", "v1\n")
    assert dvx("add", "in.txt").code == 0
    write(repo / "dvx.yaml", "stages:\n  s:\n    cmd: mkdir -p res/sub && cp in.txt res/sub/a.txt"
          "\n    deps: [in.txt]\n    outs: [res/sub/a.txt]\n")
    assert dvx("repro").code == 0
    with open(repo / "res" / "sub" / ".gitignore", "a") as f:
        f.write("*.tmp\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "res/sub/a.txt")
    write(repo / "dvx.yaml", "stages:\n  s:\n    cmd: mkdir -p res && echo log > res/log.txt\n"
          "    deps: [in.txt]\n    outs:\n    - res:\n        persist: true\n")
    persistent = "a run keeps a persistent output (persist: true) and records all it holds"
    refused = dvx("repro")
    said = " ".join(refused.output.split())
    assert refused.code != 0 and "('res/sub/.gitignore' is in the Git index)" in said, said
    assert persistent in said and "deletes its outputs" not in said, said
    status = " ".join(dvx("status").output.split())
    assert persistent in status and "deletes its outputs" not in status, status

    git(repo, "rm", "-r", "-q", "--cached", "--", "res")
    git(repo, "commit", "-qm", "untrack res")
    ran = dvx("repro")
    assert ran.code == 0, ran.output
    assert "git add -f" not in ran.output and "ignored by Git" not in ran.output, ran.output
    assert (repo / "res" / "sub" / ".gitignore").read_text() == "*.tmp\n"
    assert (repo / "res" / "sub" / "a.txt").read_text() == "v1\n"
    assert dvx("status", "-q").code == 0, dvx("status").output
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "res")
    assert git(repo, "ls-files", "res") == ""
    assert dvx("status", "-q").code == 0, dvx("status").output
