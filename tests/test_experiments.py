"""Experiments: exp run/show/diff/apply/branch/remove/save, the queue in parallel worktrees,
and sharing through a Git remote and a dvx remote; never touching the user's branch."""

import contextlib
import csv
import io
import json
import os
import re
import shlex
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from tests.conftest import (
    dvx_unprivileged,
    git,
    make_git_repo,
    pointer_changed_on_feat,
    run_dvx,
    run_dvx_proc,
    run_meanwhile,
    stopped_at,
    write,
)
from tests.pipeline_kit import run_and_commit
from tests.servers import free_port
from tests.team import Team, must, share

TRAIN = """
import json, os, time, yaml
started = time.time()
p = yaml.safe_load(open("params.yaml"))["train"]
rows = open("data/raw.csv").read().split()
if p.get("sleep"):
    import time; time.sleep(p["sleep"])
while p.get("wait_for") and not os.path.exists(p["wait_for"]):  # until the test says go
    time.sleep(0.05)
if p.get("meet"):  # say it runs, then wait (a minute at most) until another run does too
    open(os.path.join(p["meet"], str(p["lr"])), "w").close()
while p.get("meet") and len(os.listdir(p["meet"])) < 2 and time.time() < started + 60:
    time.sleep(0.05)
if p.get("fail"):
    raise SystemExit(3)
json.dump({"accuracy": round(1 - p["lr"] / (p["epochs"] + 1), 4), "rows": len(rows),
           "started": started, "ended": time.time()}, open("metrics.json", "w"))
open("model.bin", "w").write(f"model lr={p['lr']} epochs={p['epochs']} rows={len(rows)}")
"""

DVX_YAML = f"""stages:
  train:
    cmd: {sys.executable} train.py
    deps: [train.py, data/raw.csv]
    params: [train]
    outs: [model.bin]
    metrics:
      - metrics.json:
          cache: false
"""


def _pipeline(repo):
    write(repo / "params.yaml", "# how to train\ntrain:\n  lr: 0.1  # step size\n  epochs: 3\n")
    write(repo / "train.py", TRAIN)
    write(repo / "dvx.yaml", DVX_YAML)
    write(repo / "data" / "raw.csv", "a\nb\nc\n")
    must("add", "data/raw.csv", cwd=repo)
    must("repro", cwd=repo)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "baseline")


@pytest.fixture
def project(repo):
    _pipeline(repo)
    return repo


def _show(repo, *args):
    result = run_dvx("exp", "show", "--json", *args, cwd=repo)
    assert result.code == 0, result.output
    return {row["name"]: row for row in json.loads(result.stdout)}


def test_an_experiment_is_a_ref_of_its_own_and_the_branch_never_moves(project):
    head = git(project, "rev-parse", "HEAD").strip()
    result = run_dvx("exp", "run", "-S", "train.lr=0.01", "-n", "low", cwd=project)
    assert result.code == 0, result.output
    assert git(project, "rev-parse", "HEAD").strip() == head
    assert git(project, "diff", "--cached", "--name-only") == ""  # the index is untouched
    assert "refs/exps/" + head + "/low" in git(project, "for-each-ref", "refs/exps")
    rows = _show(project)
    assert rows["low"]["params"]["params.yaml"]["train.lr"] == 0.01
    assert rows["low"]["metrics"]["metrics.json"]["accuracy"] == 0.9975
    assert rows["low"]["baseline"] == head
    assert rows["main"]["params"]["params.yaml"]["train.lr"] == 0.1
    assert rows["workspace"]["params"]["params.yaml"]["train.lr"] == 0.01  # results stay
    assert "# step size" in (project / "params.yaml").read_text()  # comments kept
    generated = run_dvx("exp", "run", "-S", "train.epochs=9", cwd=project)
    assert generated.code == 0 and "Ran experiment '" in generated.stdout
    assert len(_show(project)) == 4


@pytest.mark.parametrize("made_by", [("run", "-S", "train.lr=0.01"), ("save",)])
def test_an_experiment_never_commits_an_output_a_rule_takes_back_into_git(project, made_by):
    """A teammate's `!*.bin` after the model's entry: the run (or the save of a model made
    by hand) puts the entry after it, with the warning add gives, so the experiment's commit
    holds the .gitignore, never the model."""
    with (project / ".gitignore").open("a") as rules:
        rules.write("!*.bin\n")
    git(project, "commit", "-qam", "the team's rule")
    if made_by == ("save",):
        write(project / "model.bin", "made by hand\n")
    result = run_dvx("exp", *made_by, "-n", "low", cwd=project)
    assert result.code == 0, result.output
    assert "The rule '!*.bin' in .gitignore:" in result.stderr
    ref = git(project, "for-each-ref", "--format=%(refname)", "refs/exps").strip()
    assert "model.bin" not in git(project, "ls-tree", "--name-only", ref).split()
    assert git(project, "show", f"{ref}:.gitignore").splitlines()[-1] == "/model.bin"
    assert git(project, "check-ignore", "model.bin").strip() == "model.bin"


def test_set_refuses_a_params_file_that_is_a_link_and_changes_nothing(project, tmp_path):
    outside = write(tmp_path / "outside.yaml", "train:\n  lr: 0.1\nsecret: hunter2\n")
    (project / "params.yaml").unlink()
    os.symlink(outside, project / "params.yaml")
    git(project, "add", "-A")
    git(project, "commit", "-qm", "a linked params file")
    result = run_dvx("exp", "run", "-S", "train.lr=0.5", cwd=project)
    assert result.code == 2, result.output
    assert "params file 'params.yaml', which is a symbolic link" in result.stderr
    assert os.readlink(project / "params.yaml") == str(outside)
    assert outside.read_text() == "train:\n  lr: 0.1\nsecret: hunter2\n"
    assert git(project, "for-each-ref", "refs/exps") == ""
    assert git(project, "status", "--porcelain") == ""


def test_set_into_a_params_file_it_may_not_read_names_it_with_the_fix(project):
    """As repro and status name it: the file, from the top of the repository, and the chmod
    that makes it readable (the experiment's check of what its commit records, which comes
    first); nothing is written and no experiment is made."""
    (project / "params.yaml").chmod(0)
    try:
        result = dvx_unprivileged(project, "exp", "run", "-S", "train.lr=0.5")
    finally:
        (project / "params.yaml").chmod(0o644)
    said = " ".join(result.stderr.split())
    assert result.returncode == 1, result.stderr
    assert said.startswith("ERROR: Git may not read 'params.yaml', changed since Git last "
                           "recorded it"), said
    assert "(`chmod u+r params.yaml`, as the owner)" in said, said
    assert git(project, "for-each-ref", "refs/exps") == ""
    assert git(project, "status", "--porcelain") == ""



def _refused_over_unreadable_notes(project: Path, args: tuple[str, ...], status: str) -> str:
    """`dvx args`, run where file modes apply with notes.txt made unreadable: refused (exit
    1) before any stage runs, params.yaml unchanged, no experiment made and Git's status
    `status` (the file as it was); what it said, on one line."""
    params = (project / "params.yaml").read_bytes()
    write(project / "notes.txt", "private\n").chmod(0)
    try:
        result = dvx_unprivileged(project, *args)
    finally:
        (project / "notes.txt").chmod(0o644)
    said = " ".join(result.stderr.split())
    assert result.returncode == 1, said
    assert "git add failed" not in said and "Traceback" not in said
    assert "Running stage" not in result.stdout
    assert (project / "params.yaml").read_bytes() == params
    assert git(project, "for-each-ref", "refs/exps") == ""
    assert git(project, "status", "--porcelain") == status
    return said


@pytest.mark.parametrize("args", [("exp", "run", "-S", "train.lr=0.5"),
                                  ("exp", "run", "--queue", "-S", "train.lr=0.5"),
                                  ("exp", "save")])
def test_a_new_file_git_may_not_read_is_refused_before_anything_runs(project, args):
    """An experiment's commit records the workspace's new files: one this user may not read
    is named with its fix before a stage runs or anything is written, never met by `git add`
    once the run is over."""
    said = _refused_over_unreadable_notes(project, args, "?? notes.txt\n")
    assert "Git may not read 'notes.txt', new in the workspace" in said, said
    assert "Make it readable (`chmod u+r notes.txt`, as the owner), or name what is not the " \
        "project's in .gitignore; then run the command again." in said, said


@pytest.mark.parametrize("args", [("exp", "run", "-S", "train.lr=0.5"),
                                  ("exp", "run", "--queue", "-S", "train.lr=0.5"),
                                  ("exp", "save")])
def test_a_changed_tracked_file_git_may_not_read_is_refused_before_anything_runs(project, args):
    """An experiment's commit reads again the tracked files changed since Git recorded them:
    one made unreadable is refused as a new one is, with `chmod u+r PATH`, before a stage
    runs or anything is written, never met by `git add` with Git's own error."""
    write(project / "notes.txt", "notes\n")
    git(project, "add", "notes.txt")
    git(project, "commit", "-qm", "notes")
    said = _refused_over_unreadable_notes(project, args, " M notes.txt\n")
    assert "Git may not read 'notes.txt', changed since Git last recorded it, which an " \
        "experiment's commit records with the workspace." in said, said
    assert "Make it readable (`chmod u+r notes.txt`, as the owner); then run the command " \
        "again." in said, said


def test_a_tracked_file_a_stage_leaves_unreadable_is_named_with_the_run_s_results_kept(
        repo, dvx):
    """A tracked file the run itself changes and makes unreadable is found as the experiment
    is recorded: named with its fix as a new one is, never with Git's own error."""
    write(repo / "params.yaml", "lr: 0.1\n")
    write(repo / "log.txt", "old\n")
    assert dvx("stage", "add", "-n", "s", "-p", "lr", "-o", "out.txt",
               "echo 1 > out.txt && echo new > log.txt && chmod 000 log.txt").code == 0
    assert dvx("repro").code == 0
    (repo / "log.txt").chmod(0o644)
    write(repo / "log.txt", "old\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "pipeline")
    try:
        result = dvx_unprivileged(repo, "exp", "run", "-S", "lr=0.2")
    finally:
        (repo / "log.txt").chmod(0o644)
    said = " ".join(result.stderr.split())
    assert result.returncode == 1, said
    assert "The run succeeded, but no experiment was recorded: Git may not read " \
        "'log.txt', changed since Git last recorded it" in said, said
    assert "Make it readable (`chmod u+r log.txt`" in said, said
    assert "git add failed" not in said and "Traceback" not in said
    assert git(repo, "for-each-ref", "refs/exps") == ""
    assert "lr: 0.2" in (repo / "params.yaml").read_text()  # the run's results are kept
    assert (repo / "log.txt").read_text() == "new\n"


def test_a_new_file_a_stage_leaves_unreadable_is_named_with_the_run_s_results_kept(repo, dvx):
    """Made by the run itself, it is found as the experiment is recorded: the run's results
    stay in the workspace, the user is told none was recorded, and the fix."""
    write(repo / "params.yaml", "lr: 0.1\n")
    assert dvx("stage", "add", "-n", "s", "-p", "lr", "-o", "out.txt",
               "echo 1 > out.txt && echo x > scratch.txt && chmod 000 scratch.txt").code == 0
    assert dvx("repro").code == 0
    (repo / "scratch.txt").unlink()
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "pipeline")
    try:
        result = dvx_unprivileged(repo, "exp", "run", "-S", "lr=0.2")
    finally:
        if (repo / "scratch.txt").exists():
            (repo / "scratch.txt").chmod(0o644)
    said = " ".join(result.stderr.split())
    assert result.returncode == 1, said
    assert "The run succeeded, but no experiment was recorded: Git may not read " \
        "'scratch.txt'" in said, said
    assert "The run's results are in the workspace. Make it readable (`chmod u+r " \
        "scratch.txt`" in said and "`dvx exp save` records the workspace" in said, said
    assert "git add failed" not in said and "Traceback" not in said
    assert "lr: 0.2" in (repo / "params.yaml").read_text()
    assert git(repo, "for-each-ref", "refs/exps") == ""


def test_show_formats_sorting_and_only_changed_columns(project):
    for lr in ("0.05", "0.2", "0.01"):
        must("exp", "run", "-S", f"train.lr={lr}", "-n", f"lr-{lr}", cwd=project)
    table = run_dvx("exp", "show", "--only-changed", "--sort-by", "accuracy",
                    "--sort-order", "desc", "--csv", cwd=project).stdout
    rows = list(csv.reader(io.StringIO(table)))
    assert rows[0][:4] == ["Experiment", "Created", "train.lr", "accuracy"]  # epochs: same
    assert "train.epochs" not in rows[0] and "rows" not in rows[0]
    assert [r[0] for r in rows[1:]] == ["workspace", "main", "lr-0.01", "lr-0.05", "lr-0.2"]
    hidden = run_dvx("exp", "show", "--only-changed", "--sort-by", "train.epochs", "--csv",
                     cwd=project)  # a column that exists, the same in every row
    assert hidden.code == 0, hidden.output
    assert next(csv.reader(io.StringIO(hidden.stdout))) == rows[0]
    text = run_dvx("exp", "show", cwd=project).stdout
    assert text.splitlines()[0].split()[:2] == ["Experiment", "Created"]
    assert "\n  lr-0.2 " in text  # indented under its baseline, for people only
    markdown = run_dvx("exp", "show", "--md", cwd=project).stdout
    assert "| Experiment |" in markdown and "| lr-0.2 " in markdown
    bad = run_dvx("exp", "show", "--sort-by", "nothing", cwd=project)
    assert bad.code != 0 and "No column 'nothing'" in bad.stderr


def test_show_names_a_key_two_files_share_by_file_and_sorts_rows_without_the_column_last(
        project):
    write(project / "other.yaml", "train:\n  lr: 1\n")
    run_and_commit(project, DVX_YAML.replace("params: [train]",
                                             "params: [train, {other.yaml: }]"),
                   "a second params file")
    must("exp", "run", "-n", "none", cwd=project)
    must("exp", "run", "-S", "+other.yaml:extra=2", "-n", "two", cwd=project)
    must("exp", "run", "-S", "other.yaml:extra=1", "-n", "one", cwd=project)
    table = run_dvx("exp", "show", "--sort-by", "extra", "--csv", cwd=project)
    assert table.code == 0, table.output
    rows = list(csv.reader(io.StringIO(table.stdout)))
    assert rows[0][2:5] == ["params.yaml:train.lr", "train.epochs", "other.yaml:train.lr"]
    assert "extra" in rows[0]
    assert [r[0] for r in rows[1:]] == ["workspace", "main", "one", "two", "none"]


def test_show_sorts_by_a_text_param_numbers_first_then_text_then_rows_without_it(project):
    """A column of names (an optimizer) sorts by its text, either way; where one column mixes
    kinds, numbers come before text and rows without a value stay last in both orders."""
    for name, value in (("sgd", "sgd"), ("adagrad", "adagrad"), ("three", "3"),
                        ("rmsprop", "rmsprop"), ("flag", "true"), ("twelve", "12")):
        git(project, "checkout", "params.yaml")
        must("exp", "run", "-S", f"+params.yaml:opt={value}", "-n", name, cwd=project)
    git(project, "checkout", "params.yaml")
    must("exp", "run", "-n", "none", cwd=project)

    def order(direction):
        table = run_dvx("exp", "show", "--sort-by", "opt", "--sort-order", direction, "--csv",
                        cwd=project)
        assert table.code == 0, table.output
        return [r[0] for r in csv.reader(io.StringIO(table.stdout))][3:]

    assert order("asc") == ["three", "twelve", "adagrad", "rmsprop", "sgd", "flag", "none"]
    assert order("desc") == ["twelve", "three", "flag", "sgd", "rmsprop", "adagrad", "none"]


def test_show_refuses_to_sort_by_a_key_several_columns_share_and_names_each(project):
    write(project / "other.yaml", "train:\n  lr: 5\n")
    run_and_commit(project, DVX_YAML.replace("params: [train]",
                                             "params: [train, {other.yaml: }]"),
                   "a second params file")
    must("exp", "run", "-S", "train.lr=0.3", "-S", "other.yaml:train.lr=1", "-n", "a",
         cwd=project)
    must("exp", "run", "-S", "train.lr=0.2", "-S", "other.yaml:train.lr=9", "-n", "b",
         cwd=project)
    ambiguous = run_dvx("exp", "show", "--sort-by", "train.lr", cwd=project)
    assert ambiguous.code == 2 and ambiguous.stdout == ""
    assert "--sort-by 'train.lr' names 2 columns: params.yaml:train.lr, " \
           "other.yaml:train.lr." in ambiguous.stderr
    for by, order in (("params.yaml:train.lr", ["b", "a"]), ("other.yaml:train.lr", ["a", "b"])):
        table = run_dvx("exp", "show", "--sort-by", by, "--csv", cwd=project)
        assert table.code == 0, table.output
        assert [r[0] for r in csv.reader(io.StringIO(table.stdout))][3:] == order
    write(project / "params.yaml", "train:\n  lr: 0.1\n  epochs: 3\naccuracy: 1\n")
    both = run_dvx("exp", "show", "--sort-by", "accuracy", cwd=project)  # a param, a metric
    assert both.code == 2
    assert "names 2 columns: params.yaml:accuracy, metrics.json:accuracy." in both.stderr


def test_show_and_set_name_a_dotted_key_as_the_pipeline_does(project):
    write(project / "params.yaml", "train:\n  lr: 0.1\n  epochs: 3\ntrain.lr: 7\n"
                                   "opt.decay: 0.5\n")
    git(project, "commit", "-qam", "a key with a dot in it")
    must("exp", "run", "-S", "opt.decay=0.25", "-n", "decay", cwd=project)
    text = (project / "params.yaml").read_text()
    assert "opt.decay: 0.25" in text and "train.lr: 7" in text  # the key as written
    shown = run_dvx("exp", "show", "--json", cwd=project)
    rows = {row["name"]: row["params"]["params.yaml"] for row in json.loads(shown.stdout)}
    assert rows["decay"] == {"train.lr": 0.1, "train.epochs": 3, "opt.decay": 0.25}
    assert shown.stderr.count("WARNING: ") == 1
    assert "params.yaml at workspace, main, decay: two values are named 'train.lr' " \
           "('train' > 'lr' and 'train.lr')" in shown.stderr


def test_show_all_lists_each_baseline_once_with_its_experiments(project):
    import dvx.api

    first = git(project, "rev-parse", "HEAD").strip()
    for lr in ("0.05", "0.2"):
        must("exp", "run", "-S", f"train.lr={lr}", "-n", f"a-{lr}", cwd=project)
    git(project, "commit", "-qam", "second baseline")
    second = git(project, "rev-parse", "HEAD").strip()
    for lr in ("0.3", "0.4", "0.5"):
        must("exp", "run", "-S", f"train.lr={lr}", "-n", f"b-{lr}", cwd=project)
    result = run_dvx("exp", "show", "-A", "--json", cwd=project)
    assert result.code == 0, result.output
    rows = json.loads(result.stdout)
    assert len(rows) == 1 + 2 + 2 + 3, [r["name"] for r in rows]
    assert sorted(r["rev"] for r in rows if r["baseline"] is None and r["rev"]) == \
        sorted([first, second])
    assert dvx.api.exp_show(repo=str(project), all_baselines=True) == rows
    table = run_dvx("exp", "show", "-A", "--csv", cwd=project).stdout
    assert len(list(csv.reader(io.StringIO(table)))) == 1 + len(rows)


def test_diff_apply_branch_and_remove(project):
    must("exp", "run", "-S", "train.lr=0.01", "-n", "low", cwd=project)
    must("exp", "run", "-S", "train.lr=0.3", "-n", "high", cwd=project)
    diff = json.loads(run_dvx("exp", "diff", "low", "high", "--json", cwd=project).stdout)
    changed = diff["params"]["params.yaml"]
    assert list(changed) == ["train.lr"]
    assert (changed["train.lr"]["old"], changed["train.lr"]["new"]) == (0.01, 0.3)
    # One experiment: against the workspace, which holds high's results (as in DVC)
    lr = json.loads(run_dvx("exp", "diff", "low", "--json", cwd=project).stdout)["params"]
    assert (lr["params.yaml"]["train.lr"]["old"], lr["params.yaml"]["train.lr"]["new"]) == (
        0.01, 0.3)
    tables = run_dvx("exp", "diff", "low", "high", "--md", cwd=project).stdout.split("\n\n")
    assert [t.splitlines()[0].split(" | ")[1] for t in tables] == ["Param", "Metric"], tables
    same = run_dvx("exp", "diff", "low", "low", "--md", cwd=project)  # header alone, note aside
    assert same.stdout.count("\n|---") == 2 and "No params or metrics changed" in same.stderr
    # The workspace holds high's results (saved in that experiment): apply may replace them.
    applied = run_dvx("exp", "apply", "low", cwd=project)
    assert applied.code == 0, applied.output
    assert applied.stdout.startswith("Applied experiment 'low': 3 files"), applied.stdout
    assert (project / "model.bin").read_text() == "model lr=0.01 epochs=3 rows=3"
    assert "lr: 0.01" in (project / "params.yaml").read_text()
    assert run_dvx("status", "-q", cwd=project).code == 0  # outputs match dvx.lock
    assert run_dvx("exp", "branch", "high", "try-high", cwd=project).code == 0
    assert "lr: 0.3" in git(project, "show", "try-high:params.yaml")
    assert run_dvx("exp", "remove", "high", cwd=project).code == 0
    assert "high" not in _show(project)
    missing = run_dvx("exp", "apply", "high", cwd=project)
    assert missing.code != 0 and "No experiment called 'high'" in missing.stderr


def test_remove_names_what_it_removed_and_sends_a_queued_name_to_the_queue(project):
    """`exp remove` names each experiment it removed with its baseline: of two called `dup`,
    HEAD's goes first, then the other baseline's, which the second run says. A name only
    the queue has is no experiment: the error names the queue command for it, and nothing
    is removed."""
    first = git(project, "rev-parse", "HEAD").strip()
    must("exp", "run", "-S", "train.lr=0.2", "-n", "dup", cwd=project)
    git(project, "checkout", "-q", "--", ".")
    git(project, "commit", "-q", "--allow-empty", "-m", "next")
    second = git(project, "rev-parse", "HEAD").strip()
    must("exp", "run", "-S", "train.lr=0.3", "-n", "dup", cwd=project)
    must("exp", "run", "-S", "train.lr=0.4", "-n", "other", cwd=project)
    git(project, "checkout", "-q", "--", ".")
    must("exp", "run", "--queue", "-S", "train.lr=0.5", "-n", "qq", cwd=project)
    refs = git(project, "for-each-ref", "refs/exps")
    queued = run_dvx("exp", "remove", "other", "qq", cwd=project)
    assert queued.code == 2, queued.output
    assert queued.stderr == "ERROR: 'qq' is waiting to run in the queue: it is no experiment " \
        "yet. `dvx queue remove qq` takes it out of the queue.\n"
    assert git(project, "for-each-ref", "refs/exps") == refs
    # a name given twice is one experiment, removed and counted once
    assert run_dvx("exp", "remove", "dup", "other", "dup", cwd=project).stdout == \
        f"Removed 2 experiments: dup, other (baseline {second[:7]}).\n"
    assert run_dvx("exp", "remove", "dup", cwd=project).stdout == \
        f"Removed 1 experiment: dup (baseline {first[:7]}).\n"
    assert run_dvx("exp", "remove", "--all", cwd=project).stdout == "Removed 0 experiments.\n"
    must("exp", "run", "--queue", "-S", "+train.fail=true", "-n", "broken", cwd=project)
    assert run_dvx("queue", "start", cwd=project).code == 1  # qq done, broken failed
    failed = run_dvx("exp", "remove", "broken", cwd=project)
    assert (failed.code, failed.stderr) == (2, "ERROR: No experiment called 'broken': its "
                                               "queued run failed. `dvx queue remove broken` "
                                               "forgets its queue entry and log.\n")


def test_contradictory_or_idle_options_are_refused_and_nothing_is_removed(project):
    """`exp remove --all NAME` removed every experiment of HEAD although one was named; and
    options that would be ignored (--sort-order without --sort-by, the table's --sort-by and
    --only-changed with --json, --git-remote without --dask) are refused, not passed over."""
    must("exp", "run", "-S", "train.lr=0.01", "-n", "low", cwd=project)
    must("exp", "run", "-S", "train.lr=0.3", "-n", "high", cwd=project)
    refs = git(project, "for-each-ref", "refs/exps")
    for args, words in [
            (("exp", "remove", "--all", "low"), "--all removes every experiment of HEAD, not "
             "only low: name the experiments, or use --all, not both."),
            (("exp", "show", "--sort-order", "desc"), "--sort-order goes with --sort-by"),
            (("exp", "show", "--json", "--sort-by", "accuracy"), "--sort-by shapes the table"),
            (("exp", "show", "--json", "--only-changed"), "--only-changed shapes the table"),
            (("queue", "start", "--git-remote", "origin"), "--git-remote goes with --dask")]:
        refused = run_dvx(*args, cwd=project)
        assert (refused.code, refused.stdout) == (2, ""), (args, refused.output)
        assert refused.stderr.startswith("ERROR: " + words), (args, refused.stderr)
    assert git(project, "for-each-ref", "refs/exps") == refs
    assert set(_show(project)) == {"workspace", "main", "low", "high"}


def test_an_experiment_ref_naming_a_tag_is_its_commit_and_one_naming_none_is_damaged(project):
    """A ref under refs/exps made by hand or pushed by a teammate: an annotated tag is read
    as the commit it tags, as Git reads it; a tree, a blob, or an object missing from the
    repository is listed as damaged and refused by name, with how to remove it, which
    `exp remove` does, and blocks no other command."""
    head = git(project, "rev-parse", "HEAD").strip()
    git(project, "tag", "-a", "-m", "a tag", "t1", head)
    exps = f"refs/exps/{head}"
    for name, rev in (("tagged", "t1"), ("tree", "HEAD^{tree}"), ("blob", "HEAD:params.yaml")):
        git(project, "update-ref", f"{exps}/{name}", git(project, "rev-parse", rev).strip())
    gone = subprocess.run(["git", "hash-object", "-w", "--stdin"], cwd=project, input=b"gone",
                          capture_output=True, check=True).stdout.decode().strip()
    git(project, "update-ref", f"{exps}/gone", gone)
    os.remove(project / ".git" / "objects" / gone[:2] / gone[2:])
    rows = _show(project)
    baseline = next(row for row in rows.values() if row["rev"] == head and not row["baseline"])
    assert rows["tagged"]["rev"] == head and rows["tagged"]["created"] == baseline["created"]
    assert rows["tagged"]["params"] == baseline["params"] and rows["tagged"]["errors"] == []
    for name, what in (("tree", "a tree"), ("blob", "a blob"),
                       ("gone", "an object missing from the repository")):
        assert rows[name]["errors"] == [
            f"The experiment ref {exps}/{name} names {what}, not an experiment's commit. "
            f"Remove it with `dvx exp remove {exps}/{name}` (or `git update-ref -d "
            f"{exps}/{name}`)."]
    for command in (("exp", "diff", "tagged"), ("params", "diff", "tagged"),
                    ("metrics", "diff", "HEAD", "tagged")):
        assert run_dvx(*command, cwd=project).code == 0, command
    for command in (("exp", "diff", "blob"), ("params", "diff", "gone"),
                    ("metrics", "diff", "HEAD", f"{exps}/tree"), ("exp", "apply", "gone")):
        refused = run_dvx(*command, cwd=project)
        assert refused.code == 2 and f"`git update-ref -d {exps}/" in refused.stderr, (
            command, refused.output)
    gc = run_dvx("gc", "-w", "--all-experiments", "--dry-run", cwd=project)
    assert gc.code == 0 and f"Skipped {exps}/gone: it names an object missing" in gc.stderr
    removed = run_dvx("exp", "remove", "gone", "blob", f"{exps}/tree", cwd=project)
    assert removed.code == 0 and removed.stdout == \
        f"Removed 3 experiments: gone, blob, tree (baseline {head[:7]}).\n", removed.output
    assert git(project, "for-each-ref", "--format=%(refname)", "refs/exps").split() == [
        f"{exps}/tagged"]


def test_apply_keeps_changes_no_experiment_saved(project):
    must("exp", "run", "-S", "train.lr=0.01", "-n", "low", cwd=project)
    git(project, "checkout", "-q", "--", "params.yaml")
    write(project / "params.yaml", "train:\n  lr: 0.7\n  epochs: 3\n")  # by hand, unsaved
    refused = run_dvx("exp", "apply", "low", cwd=project)
    assert refused.code != 0 and "params.yaml" in refused.stderr
    assert "0.7" in (project / "params.yaml").read_text()
    assert run_dvx("exp", "apply", "low", "--force", cwd=project).code == 0


def test_apply_asks_git_whether_edited_files_are_saved_once_for_them_all(project, tmp_path):
    """Whether the workspace files an apply replaces are saved (in the experiment applied,
    HEAD or another experiment of HEAD) is asked of Git for all of them at once: an apply
    over twelve edited files starts no more Git processes than over one, but for the one
    more experiment there is to look in."""
    for i in range(12):
        write(project / "notes" / f"n{i}.txt", f"{i}\n")
    git(project, "add", "notes")
    git(project, "commit", "-qm", "notes")
    must("exp", "run", "-S", "train.lr=0.01", "-n", "A", cwd=project)
    started = []
    for edited in (1, 12):
        git(project, "checkout", "-q", "--", ".")
        must("checkout", cwd=project)
        for i in range(edited):
            write(project / "notes" / f"n{i}.txt", f"{i}, edited\n")
        must("exp", "run", "-n", f"saved{edited}", cwd=project)  # saves the edits
        trace = tmp_path / f"{edited}.trace"
        applied = run_dvx_proc("exp", "apply", "A", cwd=project, env={"GIT_TRACE": str(trace)})
        assert applied.code == 0 and "set back as committed" in applied.stdout, applied.output
        assert (project / "notes" / "n0.txt").read_text() == "0\n"
        started.append(trace.read_text().count("trace: built-in: git "))
    assert started[1] <= started[0] + 1, started


def test_apply_keeps_an_output_changed_here_though_its_bytes_are_in_the_cache(project):
    must("exp", "run", "-S", "train.lr=0.01", "-n", "low", cwd=project)
    must("exp", "run", "-S", "train.lr=0.3", "-n", "high", cwd=project)
    git(project, "checkout", "-q", "--", ".")
    must("checkout", cwd=project)
    high = "model lr=0.3 epochs=3 rows=3"
    (project / "model.bin").unlink()
    write(project / "model.bin", high)  # by hand: high's bytes, which the cache holds
    refused = run_dvx("exp", "apply", "low", cwd=project)
    assert refused.code == 2 and "made here since the last checkout: model.bin" \
        in refused.stderr, refused.output
    assert (project / "model.bin").read_text() == high
    assert "lr: 0.1" in (project / "params.yaml").read_text()  # nothing was written
    assert run_dvx("exp", "apply", "low", "--force", cwd=project).code == 0
    assert (project / "model.bin").read_text() == "model lr=0.01 epochs=3 rows=3"


def test_apply_sets_back_the_code_another_experiment_changed_and_keeps_unsaved_edits(project):
    must("exp", "run", "-S", "train.lr=0.01", "-n", "A", cwd=project)  # params only
    git(project, "checkout", "-q", "--", "params.yaml")
    write(project / "train.py", TRAIN.replace("model lr=", "model v2 lr="))  # code only
    must("exp", "run", "-n", "B", cwd=project)
    applied = run_dvx("exp", "apply", "A", cwd=project)
    assert applied.code == 0, applied.output
    assert "set back as committed, as the experiment does not change them: train.py" \
        in applied.stdout
    assert (project / "train.py").read_text() == TRAIN  # A's code, not B's
    assert (project / "model.bin").read_text() == "model lr=0.01 epochs=3 rows=3"
    assert run_dvx("status", "-q", cwd=project).code == 0  # no stage is stale

    must("exp", "apply", "B", cwd=project)
    with open(project / "dvx.yaml", "a") as spec:
        spec.write("# my notes\n")  # saved nowhere, in a file neither experiment changes
    for args in ((), ("--force",)):  # kept either way: --force is for A's own files
        kept = run_dvx("exp", "apply", "A", *args, cwd=project)
        assert kept.code == 0, kept.output
        assert "WARNING: kept your unsaved changes to dvx.yaml; the workspace is not " \
            "exactly the experiment there." in kept.stderr
        assert (project / "dvx.yaml").read_text() == DVX_YAML + "# my notes\n"
        assert (project / "train.py").read_text() == TRAIN  # the rest is set back
        assert git(project, "status", "--porcelain", "--untracked-files=no") == \
            " M dvx.lock\n M dvx.yaml\n M metrics.json\n M params.yaml\n"


def test_apply_keeps_ignored_the_data_the_workspace_tracks_and_keeps_its_settings(
        project, tmp_path):
    must("exp", "run", "-S", "train.lr=0.01", "-n", "B", cwd=project)
    write(project / "first.bin", "tracked before E")
    must("add", "first.bin", cwd=project)
    must("exp", "save", "-n", "E", cwd=project)  # changes .gitignore: /first.bin
    write(project / "raw.bin", "raw data, tracked since")
    must("add", "raw.bin", cwd=project)
    must("remote", "add", "-d", "store", str(tmp_path / "store"), cwd=project)  # uncommitted
    must("exp", "run", "-S", "train.lr=0.3", "-n", "C", cwd=project)  # saves both

    for name in ("B", "E"):  # a .gitignore set back, and one the experiment changed
        applied = run_dvx("exp", "apply", name, cwd=project)
        assert applied.code == 0, applied.output
        assert ".gitignore" not in applied.stdout and ".dvx/config" not in applied.stdout
        assert "?? raw.bin\n" not in git(project, "status", "--porcelain"), name
        assert git(project, "check-ignore", "raw.bin", "first.bin").split() == [
            "raw.bin", "first.bin"], name
        assert "store" in (project / ".dvx" / "config").read_text(), name
    assert (project / "model.bin").read_text() == "model lr=0.01 epochs=3 rows=3"  # E's


def test_apply_takes_an_uncommitted_dvx_add_s_ignore_entry_as_dvx_s_not_as_an_edit(project):
    write(project / "first.bin", "data the experiment tracks")
    must("add", "first.bin", cwd=project)
    must("exp", "save", "-n", "tracked", cwd=project)  # its .gitignore gains /first.bin
    git(project, "checkout", "-q", "--", ".gitignore")
    for rel in ("first.bin", "first.bin.dvx"):
        (project / rel).unlink()
    write(project / "mine.bin", "my data, not committed yet")
    must("add", "mine.bin", cwd=project)  # an entry in .gitignore that only dvx wrote
    applied = run_dvx("exp", "apply", "tracked", cwd=project)
    assert applied.code == 0, applied.output
    assert (project / "first.bin").read_text() == "data the experiment tracks"
    assert git(project, "check-ignore", "first.bin", "mine.bin").split() == [
        "first.bin", "mine.bin"]

    with open(project / ".gitignore", "a") as ignore:
        ignore.write("*.log\n")  # the user's own edit, saved nowhere
    refused = run_dvx("exp", "apply", "tracked", cwd=project)
    assert refused.code == 2, refused.output
    assert "would overwrite changes not committed to Git: .gitignore" in refused.stderr
    assert (project / ".gitignore").read_text().endswith("/mine.bin\n*.log\n")


@pytest.mark.parametrize("untracked", [False, True], ids=["as-run", "res-untracked-first"])
def test_apply_of_a_renamed_stage_s_queued_run_removes_dvx_s_gitignore_in_its_output(
        repo, untracked):
    """Stage `old` (output res/a.txt) renamed `new` (output res, `persist: true`), the rename
    committed, run as a queued experiment only: its commit removes dvx's own res/.gitignore,
    which the workspace still has. The apply writes that removal with the experiment's other
    files and places res, rather than keep the .gitignore's entry (res's own entry keeps
    res out of Git) and skip res as tracked by Git; so too once `git rm -r --cached -- res`
    left that .gitignore a file of res Git no longer tracks. `git commit -a` then records
    the experiment whole."""
    write(repo / "params.yaml", "lr: 1\n")
    run_and_commit(repo, "stages:\n  old:\n    cmd: mkdir -p res && cp params.yaml res/a.txt\n"
                   "    params: [lr]\n    outs: [res/a.txt]\n", "old")
    write(repo / "dvx.yaml", "stages:\n  new:\n    cmd: mkdir -p res && cp params.yaml res/b.txt"
          "\n    params: [lr]\n    outs:\n      - res:\n          persist: true\n")
    git(repo, "commit", "-qam", "rename old -> new")
    must("exp", "run", "--queue", "-n", "q1", "-S", "lr=2", cwd=repo)
    must("queue", "start", cwd=repo)
    if untracked:
        git(repo, "rm", "-r", "-q", "--cached", "--", "res")
    applied = run_dvx("exp", "apply", "q1", cwd=repo)
    assert applied.code == 0, applied.output
    assert "Skipped" not in applied.output, applied.output
    assert not (repo / "res" / ".gitignore").exists()
    assert (repo / "res" / "b.txt").read_text() == "lr: 2\n"
    assert (repo / "res" / "a.txt").read_text() == "lr: 1\n"  # kept by the persistent run
    assert (repo / "params.yaml").read_text() == "lr: 2\n"
    git(repo, "commit", "-qam", "q1")
    assert git(repo, "status", "--porcelain") == ""
    assert git(repo, "ls-files", "res") == ""
    assert run_dvx("status", "-q", cwd=repo).code == 0, run_dvx("status", cwd=repo).output


def test_apply_keeps_a_mode_change_no_experiment_saved(project):
    write(project / "deploy.sh", "echo deploy\n")
    git(project, "add", "deploy.sh")
    git(project, "commit", "-qm", "deploy")
    must("exp", "run", "-S", "train.lr=0.01", "-n", "low", cwd=project)
    os.chmod(project / "deploy.sh", 0o755)  # saved nowhere
    for args in ((), ("--force",)):
        kept = run_dvx("exp", "apply", "low", *args, cwd=project)
        assert kept.code == 0 and "unsaved changes to deploy.sh" in kept.stderr, kept.output
        assert os.access(project / "deploy.sh", os.X_OK)
    git(project, "config", "core.filemode", "false")  # Git sees no change: nothing to set back
    assert run_dvx("exp", "apply", "low", cwd=project).code == 0
    assert os.access(project / "deploy.sh", os.X_OK)
    git(project, "config", "core.filemode", "true")
    must("exp", "save", "-n", "executable", cwd=project)  # saved now: it may be set back
    assert run_dvx("exp", "apply", "low", cwd=project).code == 0
    assert not os.access(project / "deploy.sh", os.X_OK)


def test_apply_force_keeps_a_new_data_version_and_a_hand_edit_no_experiment_holds(project):
    write(project / "notes.md", "# notes\n")
    git(project, "add", "notes.md")
    git(project, "commit", "-qm", "notes")
    must("exp", "run", "-S", "train.lr=0.01", "-n", "e2", cwd=project)
    git(project, "checkout", "-q", "--", ".")
    must("checkout", cwd=project)
    write(project / "data" / "raw.csv", "a\nb\nc\nd\n")  # a new version, pointer not committed
    must("add", "data/raw.csv", cwd=project)
    pointer = (project / "data" / "raw.csv.dvx").read_text()
    write(project / "notes.md", "# notes\nmine, saved nowhere\n")
    write(project / "params.yaml", "train:\n  lr: 0.7\n  epochs: 3\n")  # in e2's own file
    refused = run_dvx("exp", "apply", "e2", cwd=project)
    assert refused.code == 2 and "params.yaml" in refused.stderr, refused.output
    applied = run_dvx("exp", "apply", "-f", "e2", cwd=project)
    assert applied.code == 0, applied.output
    assert "set back" not in applied.stdout
    assert "kept your unsaved changes to data/raw.csv.dvx, notes.md; the workspace is not " \
        "exactly the experiment there." in applied.stderr
    assert (project / "data" / "raw.csv").read_text() == "a\nb\nc\nd\n"
    assert (project / "data" / "raw.csv.dvx").read_text() == pointer
    assert (project / "notes.md").read_text() == "# notes\nmine, saved nowhere\n"
    assert "lr: 0.01" in (project / "params.yaml").read_text()  # --force: e2's own file
    assert (project / "model.bin").read_text() == "model lr=0.01 epochs=3 rows=3"


def test_apply_force_keeps_data_edited_since_another_experiment_recorded_it(project):
    must("exp", "run", "-S", "train.lr=0.01", "-n", "A", cwd=project)
    git(project, "checkout", "-q", "--", "params.yaml")
    write(project / "data" / "raw.csv", "a\nb\n")
    must("exp", "run", "-n", "B", cwd=project)  # records that version: its pointer is saved
    pointer = (project / "data" / "raw.csv.dvx").read_text()
    write(project / "data" / "raw.csv", "a\nb\nmine\n")  # the cache does not hold this
    for args in ((), ("--force",)):
        applied = run_dvx("exp", "apply", "A", *args, cwd=project)
        assert applied.code == 0, applied.output
        assert "kept your unsaved changes to data/raw.csv;" in applied.stderr
        assert (project / "data" / "raw.csv").read_text() == "a\nb\nmine\n"
        assert (project / "data" / "raw.csv.dvx").read_text() == pointer  # still records B's
        assert (project / "model.bin").read_text() == "model lr=0.01 epochs=3 rows=3"


def test_apply_keeps_a_file_git_ignores_that_no_experiment_saved(project):
    write(project / "notes.md", "the experiment's notes\n")  # untracked: recorded
    write(project / "params.yaml", "train:\n  lr: 0.5\n  epochs: 3\n")
    must("exp", "save", "-n", "tuned", cwd=project)
    git(project, "checkout", "-q", "--", "params.yaml")
    with open(project / ".git" / "info" / "exclude", "a") as exclude:
        exclude.write("notes.md\n")  # this clone's own rule
    write(project / "notes.md", "my private notes\n")
    refused = run_dvx("exp", "apply", "tuned", cwd=project)
    assert refused.code == 2 and "notes.md" in refused.stderr, refused.output
    assert (project / "notes.md").read_text() == "my private notes\n"
    assert "lr: 0.1" in (project / "params.yaml").read_text()  # nothing was written

    write(project / ".gitignore", "*.md\n")  # a rule committed after the experiment
    git(project, "add", ".gitignore")
    git(project, "commit", "-qm", "ignore notes")
    assert run_dvx("exp", "apply", "tuned", cwd=project).code == 2
    assert (project / "notes.md").read_text() == "my private notes\n"
    write(project / "notes.md", "the experiment's notes\n")  # what it recorded: nothing lost
    assert run_dvx("exp", "apply", "tuned", cwd=project).code == 0
    write(project / "notes.md", "my private notes\n")
    assert run_dvx("exp", "apply", "tuned", "--force", cwd=project).code == 0
    assert (project / "notes.md").read_text() == "the experiment's notes\n"


def test_apply_refuses_a_file_where_the_workspace_has_a_directory_before_writing(project):
    write(project / "params.yaml", "train:\n  lr: 0.5\n  epochs: 3\n")
    write(project / "zz" / "x", "the experiment's\n")
    write(project / "foo", "the experiment's\n")
    must("exp", "save", "-n", "tuned", cwd=project)
    git(project, "checkout", "-q", "--", "params.yaml")
    os.unlink(project / "zz" / "x")
    os.rmdir(project / "zz")
    os.unlink(project / "foo")
    write(project / "zz", "mine\n")  # a file where the experiment has a directory
    write(project / "foo" / "mine.txt", "mine\n")  # and a directory where it has a file
    for args in ((), ("--force",)):
        refused = run_dvx("exp", "apply", "tuned", *args, cwd=project)
        assert refused.code == 2, refused.output
        assert "zz/x (zz is a file)" in refused.stderr and "foo (a directory" in refused.stderr
        assert "lr: 0.1" in (project / "params.yaml").read_text()  # nothing was written
    assert (project / "zz").read_text() == (project / "foo" / "mine.txt").read_text() == "mine\n"

    os.unlink(project / "zz")
    shutil.rmtree(project / "foo")
    must("exp", "apply", "tuned", cwd=project)
    git(project, "add", "-A")
    git(project, "commit", "-qm", "zz and foo as the experiment has them")
    git(project, "rm", "-q", "foo", "-r", "zz")
    write(project / "foo" / "a", "a directory now\n")
    write(project / "zz", "a file now\n")
    must("exp", "save", "-n", "swapped", cwd=project)  # a file for a directory, and back
    shutil.rmtree(project / "foo")
    os.unlink(project / "zz")
    git(project, "reset", "-q", "--hard")
    assert run_dvx("exp", "apply", "swapped", cwd=project).code == 0
    assert (project / "foo" / "a").read_text() == "a directory now\n"
    assert (project / "zz").read_text() == "a file now\n"


def test_a_failed_run_records_nothing_and_bad_input_is_refused(project):
    failed = run_dvx("exp", "run", "-S", "+train.fail=true", "-n", "broken", cwd=project)
    assert failed.code == 1 and "not recorded" in failed.stderr
    assert "broken" not in _show(project)
    must("exp", "run", "-S", "train.fail=false", "-n", "taken", cwd=project)  # set by the run above
    for args, message in ((("-S", "train.lr"), "KEY=VALUE"),
                          (("-S", "notes.txt:a=1"), "not a YAML, JSON or TOML"),
                          (("-S", "other.yaml:a=1"), "'other.yaml', which does not exist"),
                          (("-S", "train.lr=[0.1,"), "is not valid YAML"),
                          (("-S", "train.Lr=0.01"), "has no param 'train.Lr'"),
                          (("-S", "train.lr.x=1"), "'train.lr' is not a mapping"),
                          (("-S", "+train.lr=1"), "has that param already"),
                          (("-S", "++train.lr=1"), "are not supported"),
                          (("-S", "train.lr=!!timestamp 2001-12-14"), "is not plain data"),
                          (("-S", "train.lr=[!!binary aGk=]"), "is not plain data"),
                          (("-S", "train.lr={a: !!set {b}}"), "is not plain data"),
                          (("-S", "train.lr={1: x}"), "is not plain data"),
                          (("--queue", "-S", "train.lr=!!timestamp 2001-12-14"),
                           "is not plain data"),
                          (("-n", "taken"), "exists already"),
                          (("-n", "bad name"), "Invalid experiment name"),
                          (("-n", "e."), "Invalid experiment name"),  # not a Git ref name
                          (("-n", "e.lock"), "Invalid experiment name"),
                          (("-n", "e..x"), "Invalid experiment name"),
                          (("-n", "workspace"), "names something else")):
        result = run_dvx("exp", "run", *args, cwd=project)
        assert result.code != 0 and message in result.stderr, result.output
        assert "Running stage" not in result.output  # refused before anything ran
    saved = run_dvx("exp", "save", "-n", "e.", cwd=project)
    assert saved.code == 2 and "Invalid experiment name" in saved.stderr, saved.output


def test_a_run_whose_only_stage_is_refused_before_its_command_ran_puts_the_params_back(
        project):
    """The stage's output folder holds a clone of the user's: it is refused before its
    command runs, so nothing ran. The params file is put back as it was before -S, the
    closing line says nothing ran (never that the workspace keeps what ran), and the command
    to run again is the one typed."""
    run_and_commit(project, DVX_YAML + "  gen:\n    cmd: mkdir -p out && echo 1 > out/r\n"
                                       "    params: [train.lr]\n    outs: [out]\n", "gen")
    make_git_repo(project / "out" / "clone")
    params = (project / "params.yaml").read_bytes()
    refused = run_dvx("exp", "run", "-S", "train.lr=0.2", "gen", cwd=project)
    assert refused.code == 1, refused.output
    assert (project / "params.yaml").read_bytes() == params
    closing = " ".join(refused.stderr.split()).split("ERROR: the experiment")[-1]
    assert "was not recorded: stage gen was refused before its command ran, so nothing " \
        "ran and params.yaml is as it was before -S; fix it and run `dvx exp run -S " \
        "train.lr=0.2 gen` again." in closing, refused.stderr
    assert "keeps what ran" not in refused.stderr
    assert git(project, "for-each-ref", "refs/exps") == ""

@pytest.mark.parametrize("autostage", [False, True])
def test_a_run_refused_before_any_stage_ran_puts_back_the_pointer_of_a_params_file_dvx_tracks(
        repo, autostage):
    """params.yaml is tracked with `dvx add`: repro records its -S value before the only
    stage is refused (its output folder holds a repository of its own). The file goes back
    as it was, and so do its pointer and, under core.autostage, Git's index entry for it:
    status is clean, nothing is staged, and `checkout --force` keeps the value as it was."""
    if autostage:
        must("config", "core.autostage", "true", cwd=repo)
    write(repo / "params.yaml", "lr: 0.1\n")
    must("add", "params.yaml", cwd=repo)
    run_and_commit(repo, "stages:\n  s1:\n    cmd: mkdir -p outd && echo run > outd/o\n"
                         "    params: [lr]\n    outs: [outd]\n", "run")
    make_git_repo(repo / "outd")
    pointer = (repo / "params.yaml.dvx").read_bytes()
    refused = run_dvx("exp", "run", "-S", "lr=0.5", cwd=repo)
    assert refused.code == 1 and "nothing ran" in refused.stderr, refused.output
    assert (repo / "params.yaml").read_text() == "lr: 0.1\n"
    assert (repo / "params.yaml.dvx").read_bytes() == pointer
    assert git(repo, "diff", "--cached", "--name-only") == ""
    status = run_dvx("status", cwd=repo)
    assert status.code == 0 and "params.yaml" not in status.output, status.output
    must("checkout", "--force", "params.yaml", cwd=repo)
    assert (repo / "params.yaml").read_text() == "lr: 0.1\n"


def test_a_refused_run_puts_back_a_params_file_hard_linked_from_the_cache_writable(repo):
    """With cache.type hardlink, a params file tracked with `dvx add` shares the cache
    object's read-only mode. A run refused before any stage ran puts its text back in a
    file of the default mode, as `dvx unprotect` gives it, never the object's read-only
    one, and leaves the cache object as it was."""
    must("config", "cache.type", "hardlink", cwd=repo)
    write(repo / "conf" / "hp.yaml", "lr: 0.1\n")
    must("add", "conf/hp.yaml", cwd=repo)
    assert os.stat(repo / "conf" / "hp.yaml").st_nlink == 2
    write(repo / "dvx.yaml", "stages:\n  s:\n    cmd: cat conf/hp.yaml > out.txt\n"
                             "    deps: [nothere.txt]\n    params: [{conf/hp.yaml: [lr]}]\n"
                             "    outs: [out.txt]\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "hardlinked")
    refused = run_dvx("exp", "run", "-S", "conf/hp.yaml:lr=0.5", cwd=repo)
    assert refused.code != 0 and "nothere.txt" in refused.stderr, refused.output
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(os.stat(repo / "conf" / "hp.yaml").st_mode) == 0o666 & ~umask
    assert (repo / "conf" / "hp.yaml").read_text() == "lr: 0.1\n"
    status = run_dvx("status", "conf/hp.yaml", cwd=repo)
    assert status.code == 0 and "modified" not in status.output, status.output
    assert run_dvx("fsck", cwd=repo).code == 0  # the cache object holds what it did


def test_set_into_a_params_file_hard_linked_and_edited_through_its_link_moves_the_object_aside(
        repo):
    """With cache.type hardlink, a params file tracked with `dvx add` was edited in place
    through its link (by a program ignoring the read-only mode), which wrote the cached
    object itself. -S gives it a copy of its own as `dvx unprotect` does, keeping that edit,
    and moves the changed object aside with a warning, so the cache never holds the edited
    bytes under the recorded oid."""
    must("config", "cache.type", "hardlink", cwd=repo)
    write(repo / "conf" / "hp.yaml", "lr: 0.1\nepochs: 1\n")
    must("add", "conf/hp.yaml", cwd=repo)
    write(repo / "dvx.yaml", "stages:\n  s:\n    cmd: cat conf/hp.yaml > out.txt\n"
                             "    params: [{conf/hp.yaml: [lr, epochs]}]\n"
                             "    outs: [out.txt]\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "hardlinked")
    os.chmod(repo / "conf" / "hp.yaml", 0o644)
    with open(repo / "conf" / "hp.yaml", "r+b") as f:  # in place, through the link
        f.write(b"lr: 0.3")
    ran = run_dvx("exp", "run", "-S", "conf/hp.yaml:epochs=2", cwd=repo)
    assert ran.code == 0, ran.output
    assert "edited in place through its link into the cache" in ran.stderr, ran.stderr
    assert yaml.safe_load((repo / "conf" / "hp.yaml").read_text()) == {"lr": 0.3, "epochs": 2}
    assert len(list((repo / ".dvx" / "cache" / "quarantine").iterdir())) == 1
    assert "0 corrupt" in run_dvx("fsck", cwd=repo).output


def test_a_run_refused_before_any_stage_ran_never_says_it_committed_the_params_file_put_back(
        repo):
    """params.yaml is tracked with `dvx add`: repro records its -S value before the only
    stage is refused, and the run puts its pointer back, with what the workspace was synced
    to. The run never says it committed params.yaml, which did not stay; the next run, whose
    stage starts, goes ahead and says so before the stage runs."""
    write(repo / "params.yaml", "lr: 0.1\n")
    must("add", "params.yaml", cwd=repo)
    run_and_commit(repo, "stages:\n  s1:\n    cmd: mkdir -p outd && echo run > outd/o\n"
                         "    params: [lr]\n    outs: [outd]\n", "run")
    make_git_repo(repo / "outd")
    refused = run_dvx("exp", "run", "-S", "lr=0.5", cwd=repo)
    assert refused.code == 1 and "nothing ran" in refused.stderr, refused.output
    assert "Committed params.yaml" not in refused.output, refused.output
    shutil.rmtree(repo / "outd" / ".git")
    ran = run_dvx("exp", "run", "-S", "lr=0.5", cwd=repo)
    assert ran.code == 0, ran.output
    said = ran.stdout
    assert "Committed params.yaml" in said, said
    assert said.index("Committed params.yaml") < said.index("Running stage 's1'"), said


def test_a_run_refused_before_any_stage_ran_says_what_it_committed_before_the_refusal(repo):
    """data.txt, a `dvx add` input of the only stage, changed here, is recorded by the run,
    which is then refused before the stage ran: "Committed data.txt" comes before the
    stage's refusal, as a run's lines come in the order things happen, and params.yaml,
    whose pointer is put back, is never said committed."""
    write(repo / "params.yaml", "lr: 0.1\n")
    write(repo / "data.txt", "one\n")
    must("add", "params.yaml", "data.txt", cwd=repo)
    run_and_commit(repo, "stages:\n  s1:\n    cmd: mkdir -p outd && cat data.txt > outd/o\n"
                         "    deps: [data.txt]\n    params: [lr]\n    outs: [outd]\n", "run")
    write(repo / "data.txt", "two\n")
    make_git_repo(repo / "outd")
    refused = subprocess.run([sys.executable, "-m", "dvx", "exp", "run", "-S", "lr=0.5"],
                             cwd=repo, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
                             stdin=subprocess.DEVNULL, timeout=120)
    said = refused.stdout
    assert refused.returncode == 1 and "Stage 's1' failed" in said, said
    assert "Committed data.txt" in said and "Committed params.yaml" not in said, said
    assert said.index("Committed data.txt") < said.index("Stage 's1' failed"), said


def test_a_run_refused_before_any_stage_ran_keeps_a_hand_edit_of_a_params_file_dvx_tracks(
        repo):
    """params.yaml is tracked with `dvx add` and edited by hand (not yet committed) when an
    `exp run -S` is refused before its only stage ran: repro recorded the -S value, and the
    record of what the workspace was synced to goes back with the file and its pointer.
    The hand edit is still only a change made here: status says so (never "changed both
    here and in Git"), `dvx commit` records it, and the run typed again records the
    experiment once the refusal's cause is gone."""
    write(repo / "params.yaml", "lr: 1\nep: 2\n")
    must("add", "params.yaml", cwd=repo)
    write(repo / "dvx.yaml", "stages:\n  s:\n    cmd: mkdir -p o && cat params.yaml > o/x\n"
                             "    params: [lr]\n    outs: [o]\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "init")
    must("repro", cwd=repo)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "run")
    write(repo / "params.yaml", "lr: 1\nep: 3\n")
    pointer = (repo / "params.yaml.dvx").read_bytes()
    make_git_repo(repo / "o")
    refused = run_dvx("exp", "run", "-S", "lr=5", "-n", "x1", cwd=repo)
    assert refused.code == 1 and "nothing ran" in refused.stderr, refused.output
    assert (repo / "params.yaml").read_text() == "lr: 1\nep: 3\n"
    assert (repo / "params.yaml.dvx").read_bytes() == pointer
    status = run_dvx("status", cwd=repo)
    said = " ".join(status.output.split())
    assert "params.yaml: modified" in said and "pointer changed" not in said, status.output
    assert "--force params.yaml" not in " ".join(refused.stderr.split()), refused.stderr
    shutil.rmtree(repo / "o")
    must("exp", "run", "-S", "lr=5", "-n", "x1", cwd=repo)
    assert (repo / "params.yaml").read_text() == "lr: 5\nep: 3\n"
    assert "x1" in must("exp", "show", cwd=repo)


def test_a_stage_refused_before_any_stage_ran_names_the_run_as_typed_with_a_param_added(
        project):
    """The only stage of the run is refused before its command ran (its output folder holds
    a repository of its own): the params are put back, so the stage's own line names the
    run as typed, `+KEY=VALUE` still adding the key, never `KEY=VALUE`, which would fail on
    a key the params file no longer has; that command, run once the repository is moved
    out, records the experiment. Refused after another stage ran, which keeps the params
    set, the stage's line names `KEY=VALUE`."""
    run_and_commit(project, DVX_YAML + "  gen:\n    cmd: mkdir -p out && echo 1 > out/r\n"
                                       "    deps: [model.bin]\n    outs: [out]\n", "gen")
    make_git_repo(project / "out" / "clone")
    params = (project / "params.yaml").read_bytes()
    refused = run_dvx("exp", "run", "-S", "+newkey=1", "-n", "x", "gen", cwd=project)
    assert refused.code == 1, refused.output
    assert (project / "params.yaml").read_bytes() == params
    said = " ".join(refused.stderr.split())
    assert "Stage 'gen' failed:" in said, refused.stderr
    assert "then run `dvx exp run -n x -S +newkey=1 gen` again" in said, refused.stderr
    assert "-S newkey=1" not in said, refused.stderr
    shutil.move(project / "out" / "clone", project.parent / "clone")
    assert run_dvx("exp", "run", "-n", "x", "-S", "+newkey=1", "gen", cwd=project).code == 0
    assert "x" in _show(project)

    git(project, "checkout", "-q", "--", "params.yaml")
    make_git_repo(project / "out" / "clone")
    kept = run_dvx("exp", "run", "-S", "+train.other=1", "-n", "y", cwd=project)  # train runs
    assert kept.code == 1, kept.output
    said = " ".join(kept.stderr.split())
    assert "then run `dvx exp run -n y -S train.other=1` again" in said, kept.stderr


def test_a_dvx_lock_that_is_a_link_is_refused_by_run_and_queue_alike_before_anything_is_queued(
        project, tmp_path):
    """dvx.lock a symbolic link (committed so): `exp run --queue` refuses it as `exp run`
    does (exit 2, naming the link), before anything is queued or written, never queues a
    run bound to fail."""
    outside = tmp_path / "outside.lock"
    outside.write_bytes((project / "dvx.lock").read_bytes())
    (project / "dvx.lock").unlink()
    os.symlink(outside, project / "dvx.lock")
    params = (project / "params.yaml").read_bytes()
    for queue in ((), ("--queue",)):
        refused = run_dvx("exp", "run", *queue, "-S", "train.lr=0.5", "-n", "linked",
                          cwd=project)
        assert refused.code == 2, refused.output
        assert "Refusing to read dvx.lock: it is a symbolic link" in refused.stderr
        assert "Queued" not in refused.output
        assert (project / "params.yaml").read_bytes() == params
    assert "linked" not in run_dvx("queue", "status", cwd=project).stdout
    assert git(project, "for-each-ref", "refs/exps", "refs/exps-queue") == ""


@pytest.mark.parametrize("command", [("run", "-S", "train.lr=0.5"), ("save",)])
def test_a_dvx_lock_that_is_a_link_is_refused_in_one_paragraph_by_run_and_save(
        project, tmp_path, command):
    """The refusal of a symbolic-link dvx.lock that ends `exp run` or `exp save` is said
    once: not also as a dvx.lock the command skipped before it refused."""
    outside = tmp_path / "outside.lock"
    outside.write_bytes((project / "dvx.lock").read_bytes())
    (project / "dvx.lock").unlink()
    os.symlink(outside, project / "dvx.lock")
    refused = run_dvx("exp", *command, "-n", "linked", cwd=project)
    assert refused.code == 2, refused.output
    assert refused.stderr.count("it is a symbolic link") == 1, refused.stderr
    assert "ERROR: Refusing to read dvx.lock: it is a symbolic link" in refused.stderr
    assert "Skipped dvx.lock" not in refused.stderr


def _baseline_reading_a_params_file_linked_into_the_cache(repo, link):
    """A committed baseline whose stage reads `q.yaml` (lr: 1), a params file tracked with
    `dvx add` that cache.type `link` links into the cache."""
    must("config", "cache.type", link, cwd=repo)
    write(repo / "q.yaml", "lr: 1\n")
    must("add", "q.yaml", cwd=repo)
    run_and_commit(repo, "stages:\n  train:\n    cmd: cat q.yaml > out.txt\n"
                         "    params:\n    - q.yaml: [lr]\n"
                         "    metrics:\n    - out.txt: {cache: false}\n", "baseline")


@pytest.mark.parametrize("link", ["symlink", "hardlink"])
def test_set_into_a_params_file_linked_into_the_cache_edits_a_copy_never_the_cache(repo, link):
    """A params file tracked with `dvx add` that the cache links into the workspace: -S
    gives it a writable copy of its own first, as `dvx unprotect` does, and sets the param
    there; the cache object stays whole and the experiment records the value set."""
    _baseline_reading_a_params_file_linked_into_the_cache(repo, link)
    ran = run_dvx("exp", "run", "-n", "e1", "-S", "q.yaml:lr=6", cwd=repo)
    assert ran.code == 0, ran.output
    assert "/.dvx/cache" not in ran.output, ran.output
    assert (repo / "q.yaml").read_text() == "lr: 6\n"
    assert run_dvx("fsck", cwd=repo).code == 0  # no cache object was written through
    head = git(repo, "rev-parse", "HEAD").strip()
    assert git(repo, "show", f"refs/exps/{head}/e1:out.txt") == "lr: 6\n"
    git(repo, "checkout", "HEAD", "--", "q.yaml.dvx")
    must("checkout", "--force", "q.yaml", cwd=repo)  # the baseline's bytes, from the cache
    assert (repo / "q.yaml").read_text() == "lr: 1\n"


@pytest.mark.parametrize("link", ["symlink", "hardlink"])
def test_a_queued_run_reads_and_sets_a_params_file_linked_into_the_cache_as_exp_run_does(
        repo, link):
    """A queued run's worktree links its `dvx add`-tracked params file into the cache of the
    workspace it was queued from, outside the worktree: the run reads the params through
    that link as `exp run` in the workspace does, and -S edits a copy of its own there, so
    the cache object and the workspace's file keep the baseline's value."""
    _baseline_reading_a_params_file_linked_into_the_cache(repo, link)
    must("exp", "run", "--queue", "-n", "e1", "-S", "q.yaml:lr=6", cwd=repo)

    started = run_dvx("queue", "start", cwd=repo)
    assert started.code == 0, started.output + run_dvx("queue", "logs", "e1", cwd=repo).stdout
    head = git(repo, "rev-parse", "HEAD").strip()
    assert git(repo, "show", f"refs/exps/{head}/e1:out.txt") == "lr: 6\n"
    assert _show(repo)["e1"]["params"]["q.yaml"]["lr"] == 6
    assert (repo / "q.yaml").read_text() == "lr: 1\n"
    assert os.path.islink(repo / "q.yaml") == (link == "symlink")
    assert run_dvx("fsck", cwd=repo).code == 0  # no cache object was written through


def test_a_changed_import_refusal_names_the_experiment_command_as_typed(project, tmp_path):
    """An import changed here stops `exp run`, `exp run --queue` and `exp save` before they
    record anything (recorded, it would lose its source): the command the refusal says to
    run again is the one typed, its -n and each -S."""
    source = make_git_repo(tmp_path / "source")
    must("init", cwd=source)
    write(source / "one.txt", "one\n")
    must("add", "one.txt", cwd=source)
    git(source, "add", "-A")
    git(source, "commit", "-qm", "source")
    must("import", str(source), "one.txt", "-o", "imp.txt", cwd=project)
    git(project, "add", "-A")
    git(project, "commit", "-qm", "import")
    (project / "imp.txt").unlink()
    write(project / "imp.txt", "mine\n")
    pointer = (project / "imp.txt.dvx").read_text()
    for args, again in (
            (("run", "-n", "low", "-S", "train.lr=0.2"), "dvx exp run -n low -S train.lr=0.2"),
            (("run", "--queue", "-n", "q", "-S", "train.lr=0.3"),
             "dvx exp run --queue -n q -S train.lr=0.3"),
            (("save", "-n", "kept"), "dvx exp save -n kept")):
        refused = run_dvx("exp", *args, cwd=project)
        said = " ".join(refused.stderr.split())
        assert refused.code == 1, refused.output
        assert "'imp.txt' is an import" in said, said
        assert f"then run `{again}` again" in said, said
    assert "train:\n  lr: 0.1" in (project / "params.yaml").read_text()
    assert (project / "imp.txt.dvx").read_text() == pointer
    assert git(project, "for-each-ref", "refs/exps", "refs/exps-queue") == ""


def test_exp_run_checks_the_data_its_set_params_make_no_stage_read_before_it_runs(
        repo, tmp_path):
    """`deps: ["data/${which}"]` with -S which=b: the run reads data/b, and data/a, an import
    changed here, is data no stage reads, which recording the experiment would refuse. It is
    refused before the stage runs, as the run will read them, not after, which would leave
    the run's results unrecorded; the params stay as they were."""
    source = make_git_repo(tmp_path / "source")
    must("init", cwd=source)
    write(source / "one.txt", "one\n")
    must("add", "one.txt", cwd=source)
    git(source, "add", "-A")
    git(source, "commit", "-qm", "source")
    must("import", str(source), "one.txt", "-o", "data/a", cwd=repo)
    write(repo / "data" / "b", "b\n")
    must("add", "data/b", cwd=repo)
    write(repo / "params.yaml", "which: a\n")
    run_and_commit(repo, 'stages:\n  s:\n    cmd: cp data/${which} out.txt\n'
                         '    deps: ["data/${which}"]\n    outs: [out.txt]\n', "pipeline")
    (repo / "out.txt").unlink()
    (repo / "data" / "a").unlink()
    write(repo / "data" / "a", "mine\n")
    refused = run_dvx("exp", "run", "-S", "which=b", "-n", "w", cwd=repo)
    said = " ".join(refused.stderr.split())
    assert refused.code == 1 and "'data/a' is an import" in said, refused.output
    assert "then run `dvx exp run -n w -S which=b` again" in said, said
    assert (repo / "params.yaml").read_text() == "which: a\n"
    assert not (repo / "out.txt").exists()  # the stage never ran
    assert git(repo, "for-each-ref", "refs/exps") == ""


def test_set_into_an_import_or_data_dvx_would_not_record_is_refused_before_anything_runs(
        project, tmp_path):
    """-S into a params file that is an import (recording it changed would drop its source)
    or `dvx add`-tracked data dvx would refuse to record once changed (Git tracks it too) is
    refused, run or queued, whether a stage reads it or not, before anything runs or is
    written: the file, its pointer and the refs stay as they were."""
    source = make_git_repo(tmp_path / "source")
    must("init", cwd=source)
    write(source / "imp.yaml", "k: 1\n")
    must("add", "imp.yaml", cwd=source)
    git(source, "add", "-A")
    git(source, "commit", "-qm", "source")
    must("import", str(source), "imp.yaml", cwd=project)
    write(project / "mine.yaml", "d: 1\n")
    must("add", "mine.yaml", cwd=project)
    git(project, "add", "-f", "mine.yaml")
    for params in ("[train]", "[train, {imp.yaml: [k]}, {mine.yaml: [d]}]"):
        run_and_commit(project, DVX_YAML.replace("params: [train]", f"params: {params}"),
                       f"params {params}")
        files = {name: (project / name).read_bytes()
                 for name in ("imp.yaml", "imp.yaml.dvx", "mine.yaml", "mine.yaml.dvx")}
        for setting, said in (("imp.yaml:k=2", "-S would set params in 'imp.yaml', which is "
                                               "an import ('imp.yaml.dvx' records its source)"),
                              ("mine.yaml:d=2", "'mine.yaml' is tracked by Git too")):
            for queue in ((), ("--queue",)):
                refused = run_dvx("exp", "run", *queue, "-S", setting, "-n", "e", cwd=project)
                assert refused.code == 2, refused.output
                assert said in " ".join(refused.stderr.split()), refused.output
                assert "Running stage" not in refused.output, refused.output
                assert "up to date" not in refused.output, refused.output
                assert {name: (project / name).read_bytes() for name in files} == files
                assert git(project, "status", "--porcelain") == ""
                assert git(project, "for-each-ref", "refs/exps", "refs/exps-queue") == ""


def test_set_into_a_params_file_git_ignores_is_refused_as_no_experiment_could_record_it(project):
    """A params file Git ignores and does not track (a machine's own `local.yaml`) never
    goes into an experiment's commit: -S into it, run or queued, is refused before anything
    is written or queued, naming the rule and `git add -f`; once Git tracks the file, the
    experiment holds the value set."""
    write(project / "local.yaml", "k: 1\n")
    write(project / ".gitignore", "local.yaml\n")
    run_and_commit(project, DVX_YAML.replace("params: [train]",
                                             "params: [train, {local.yaml: [k]}]"), "local params")
    for queue in ((), ("--queue",)):
        refused = run_dvx("exp", "run", *queue, "-S", "local.yaml:k=2", "-n", "k2", cwd=project)
        assert refused.code == 2, refused.output
        message = " ".join(refused.stderr.split())
        assert message.startswith("ERROR: -S would set params in 'local.yaml', which Git "
                                  "ignores (rule 'local.yaml' in .gitignore:1)"), message
        assert "`git add -f local.yaml`" in message, message
        assert "Running stage" not in refused.output
        assert (project / "local.yaml").read_text() == "k: 1\n"
    assert "k2" not in _show(project)
    assert run_dvx("queue", "status", cwd=project).stdout.count("k2") == 0
    git(project, "add", "-f", "local.yaml")
    must("exp", "run", "-S", "local.yaml:k=2", "-n", "k2", cwd=project)
    assert git(project, "show", "refs/exps/" + git(project, "rev-parse", "HEAD").strip()
               + "/k2:local.yaml") == "k: 2\n"


def _reading_inputs_git_ignores(project):
    """The project's stage also reads a dependency and a params file that Git ignores and
    neither Git nor dvx tracks (a machine's own settings), committed as the baseline."""
    write(project / "local.cfg", "X=1\n")
    write(project / "local.yaml", "k: 1\n")
    ignores = project / ".gitignore"
    write(ignores, "local.cfg\nlocal.yaml\n" + (ignores.read_text() if ignores.exists() else ""))
    run_and_commit(project, DVX_YAML.replace("deps: [train.py, data/raw.csv]",
                                             "deps: [train.py, data/raw.csv, local.cfg]")
                   .replace("params: [train]", "params: [train, {local.yaml: [k]}]"),
                   "local inputs")


def test_queueing_a_run_of_inputs_git_ignores_is_refused_before_anything_is_queued(project):
    """A queued run starts from a snapshot of what Git would commit, which lacks a dependency
    or params file Git ignores and neither Git nor dvx tracks: queuing it is refused (exit
    2), naming each with its rule and the ways out, before anything is queued or written.
    Once Git tracks one (`git add -f`) and dvx the other (`dvx add`), the run is queued and
    its experiment holds both."""
    _reading_inputs_git_ignores(project)
    params = (project / "params.yaml").read_bytes()
    refused = run_dvx("exp", "run", "--queue", "-S", "train.lr=0.2", "-n", "q1", cwd=project)
    assert refused.code == 2, refused.output
    said = " ".join(refused.stderr.split())
    assert said.startswith("ERROR: The queued run's stages read 'local.cfg' (rule "
                           "'local.cfg' in .gitignore:1), 'local.yaml' (rule 'local.yaml' "
                           "in .gitignore:2), which Git ignores"), said
    assert "`git add -f local.cfg local.yaml`" in said and "`dvx add" in said, said
    assert said.count("ERROR") == 1, said
    assert (project / "params.yaml").read_bytes() == params
    assert git(project, "status", "--porcelain") == ""
    assert git(project, "for-each-ref", "refs/exps", "refs/exps-queue") == ""
    assert "q1" not in run_dvx("queue", "status", cwd=project).stdout
    git(project, "add", "-f", "local.yaml")
    must("add", "local.cfg", cwd=project)
    git(project, "add", "-A")
    git(project, "commit", "-qm", "track the local inputs")
    must("exp", "run", "--queue", "-S", "train.lr=0.2", "-S", "local.yaml:k=2", "-n", "q1",
         cwd=project)
    must("queue", "start", cwd=project)
    recorded = "refs/exps/" + git(project, "rev-parse", "HEAD").strip() + "/q1"
    assert git(project, "show", f"{recorded}:local.yaml") == "k: 2\n"
    assert "oid: " in git(project, "show", f"{recorded}:local.cfg.dvx")


def test_each_git_add_hint_for_inputs_git_ignores_stages_those_inputs_alone(project):
    """A dependency `a?.cfg` and a params file `a?.local.yaml` that Git ignores: the `git
    add -f` that -S into that file, a queued run and a run in the workspace name, pasted into
    a shell, stages those files alone, never the ignored `a-.cfg` and `a-.local.yaml`
    that Git's wildcard `?` would take too."""
    for name in ("a?.cfg", "a-.cfg"):
        write(project / name, "X=1\n")
    for name in ("a?.local.yaml", "a-.local.yaml"):
        write(project / name, "k: 1\n")
    write(project / ".gitignore", "*.cfg\n*.local.yaml\n")
    run_and_commit(project, DVX_YAML.replace(
        "deps: [train.py, data/raw.csv]", "deps: [train.py, data/raw.csv, 'a?.cfg']").replace(
        "params: [train]", "params: [train, {'a?.local.yaml': [k]}]"), "inputs Git ignores")
    for args, staged in ((("-S", "a?.local.yaml:k=2"), ["a?.local.yaml"]),
                         (("--queue", "-S", "train.lr=0.2"), ["a?.cfg", "a?.local.yaml"]),
                         (("-S", "train.lr=0.3"), ["a?.cfg", "a?.local.yaml"])):
        said = " ".join(run_dvx("exp", "run", *args, cwd=project).stderr.split())
        hints = re.findall(r"`(git add -f [^`]*)`", said)
        assert len(hints) == 1, said
        subprocess.run(["sh", "-c", hints[0]], cwd=project, check=True, capture_output=True)
        assert git(project, "diff", "--cached", "--name-only", "-z").split("\0") == [
            *staged, ""], (args, hints)
        git(project, "reset", "-q")


def test_a_run_of_inputs_git_ignores_warns_once_that_the_experiment_will_not_hold_them(
        project):
    """In the workspace the run has the files, so it runs and is recorded; but the
    experiment holds what Git would commit, not them: one warning names each with its rule.
    Inputs dvx tracks (data, other stages' outputs), which Git ignores too, are no such
    inputs."""
    _reading_inputs_git_ignores(project)
    ran = run_dvx("exp", "run", "-S", "train.lr=0.2", "-n", "w1", cwd=project)
    assert ran.code == 0, ran.output
    said = " ".join(ran.stderr.split())
    assert "WARNING: This run's stages read 'local.cfg' (rule 'local.cfg' in .gitignore:1), " \
        "'local.yaml' (rule 'local.yaml' in .gitignore:2), which Git ignores" in said, said
    assert "the experiment will hold the results made from them but not them" in said, said
    assert said.count("WARNING") == 1 and "data/raw.csv" not in said, said
    assert "w1" in _show(project)
    git(project, "add", "-f", "local.cfg", "local.yaml")
    git(project, "commit", "-qm", "track them")
    ran = run_dvx("exp", "run", "-S", "train.lr=0.3", "-n", "w2", cwd=project)
    assert ran.code == 0 and "WARNING" not in ran.stderr, ran.output


def test_a_save_of_inputs_git_ignores_warns_once_that_the_experiment_does_not_hold_them(
        project):
    """As a run in the workspace warns: the saved experiment holds the results made from a
    dependency and a params file Git ignores and neither Git nor dvx tracks, but not them.
    Once Git tracks them, the save says nothing of them."""
    _reading_inputs_git_ignores(project)
    write(project / "params.yaml", "train:\n  lr: 0.4\n  epochs: 3\n")
    saved = run_dvx("exp", "save", "-n", "s1", cwd=project)
    assert saved.code == 0, saved.output
    said = " ".join(saved.stderr.split())
    assert "WARNING: The pipeline's stages read 'local.cfg' (rule 'local.cfg' in " \
        ".gitignore:1), 'local.yaml' (rule 'local.yaml' in .gitignore:2), which Git " \
        "ignores" in said, said
    assert "the experiment will hold the results made from them but not them" in said, said
    assert said.count("WARNING") == 1 and "data/raw.csv" not in said, said
    assert "s1" in _show(project)
    git(project, "add", "-f", "local.cfg", "local.yaml")
    git(project, "commit", "-qm", "track them")
    saved = run_dvx("exp", "save", "-n", "s2", cwd=project)
    assert saved.code == 0 and "WARNING" not in saved.stderr, saved.output


def _reading_new_files_too_large_for_an_experiment(project):
    """The project's stage also reads `big.bin` and the folder `inputs`, then made new: the
    file and `inputs/more.bin` over 1 MiB, which neither Git nor dvx tracks nor Git ignores
    (an experiment's commit leaves them out), and the small `inputs/small.txt`."""
    write(project / "dvx.yaml", DVX_YAML.replace(
        "deps: [train.py, data/raw.csv]", "deps: [train.py, data/raw.csv, big.bin, inputs]"))
    git(project, "add", "-A")
    git(project, "commit", "-qm", "read big.bin and inputs")
    (project / "big.bin").write_bytes(b"\0" * 1_100_000)
    write(project / "inputs" / "small.txt", "s\n")
    (project / "inputs" / "more.bin").write_bytes(b"\1" * 1_100_000)


def test_queueing_a_run_of_new_inputs_too_large_for_its_snapshot_is_refused(project):
    """A queued run's snapshot leaves out a new file over 1 MiB, so a run whose stages read
    one (itself, or in a folder they read) would fail in its worktree: queuing it is refused
    (exit 2), naming each and `dvx add`, before anything is queued or written. Once dvx
    tracks them, the run is queued, runs on them and its experiment holds their pointers."""
    _reading_new_files_too_large_for_an_experiment(project)
    params = (project / "params.yaml").read_bytes()
    refused = run_dvx("exp", "run", "--queue", "-S", "train.lr=0.2", "-n", "q1", cwd=project)
    assert refused.code == 2, refused.output
    said = " ".join(refused.stderr.split())
    assert said.startswith("ERROR: The queued run's stages read 'big.bin', "
                           "'inputs/more.bin', new and larger than 1 MiB"), said
    assert "`dvx add big.bin inputs`" in said and said.count("ERROR") == 1, said
    assert (project / "params.yaml").read_bytes() == params
    assert git(project, "status", "--porcelain") == "?? big.bin\n?? inputs/\n"
    assert git(project, "for-each-ref", "refs/exps", "refs/exps-queue") == ""
    assert "q1" not in run_dvx("queue", "status", cwd=project).stdout
    must("add", "big.bin", "inputs", cwd=project)
    must("exp", "run", "--queue", "-S", "train.lr=0.2", "-n", "q1", cwd=project)
    started = run_dvx("queue", "start", cwd=project)
    assert started.code == 0, started.output
    recorded = "refs/exps/" + git(project, "rev-parse", "HEAD").strip() + "/q1"
    assert "oid: " in git(project, "show", f"{recorded}:big.bin.dvx")
    assert "oid: " in git(project, "show", f"{recorded}:inputs.dvx")


def test_a_run_of_new_inputs_too_large_for_its_experiment_warns_once_that_it_will_not_hold_them(
        project):
    """In the workspace the run has the files, so it runs and is recorded; but the
    experiment leaves out new files over 1 MiB: one warning, before the run, names those
    its stages read and `dvx add`. `exp save` warns the same."""
    _reading_new_files_too_large_for_an_experiment(project)
    ran = run_dvx("exp", "run", "-S", "train.lr=0.2", "-n", "w1", cwd=project)
    assert ran.code == 0, ran.output
    said = " ".join(ran.stderr.split())
    assert "WARNING: This run's stages read 'big.bin', 'inputs/more.bin', new and larger " \
        "than 1 MiB" in said, said
    assert "the experiment will hold the results made from them but not them" in said, said
    assert "`dvx add big.bin inputs`" in said and said.count("WARNING") == 1, said
    assert "w1" in _show(project)
    saved = run_dvx("exp", "save", "-n", "s1", cwd=project)
    assert saved.code == 0, saved.output
    assert "WARNING: The pipeline's stages read 'big.bin', 'inputs/more.bin', new and " \
        "larger than 1 MiB" in " ".join(saved.stderr.split()), saved.output
    must("add", "big.bin", "inputs", cwd=project)
    ran = run_dvx("exp", "run", "-S", "train.lr=0.3", "-n", "w2", cwd=project)
    assert ran.code == 0 and "WARNING" not in ran.stderr, ran.output


def _reading_a_config_its_params_name(repo, named):
    """A stage reading the config file params.yaml's `cfg` names: the tracked `shared.cfg`,
    or this machine's `local.cfg`, which Git ignores."""
    write(repo / "params.yaml", f"cfg: {named}\n")
    write(repo / "shared.cfg", "shared\n")
    write(repo / "local.cfg", "mine\n")
    write(repo / ".gitignore", "local.cfg\n")
    run_and_commit(repo, "stages:\n  s:\n    cmd: cat ${cfg} > res.txt\n"
                         "    deps: [\"${cfg}\"]\n    outs: [res.txt]\n", f"reads {named}")


def test_the_inputs_git_ignores_are_those_the_params_set_by_s_make_the_run_read(repo):
    """Which inputs of a run Git ignores is judged on dvx.yaml resolved with the params -S
    sets, as the run reads them: queuing a run that -S moves onto the ignored `local.cfg` is
    refused, and a run in the workspace warns; one that -S moves off it to the tracked
    `shared.cfg` is queued, runs, and is not warned of."""
    _reading_a_config_its_params_name(repo, "shared.cfg")
    refused = run_dvx("exp", "run", "--queue", "-S", "cfg=local.cfg", "-n", "qa", cwd=repo)
    said = " ".join(refused.stderr.split())
    assert refused.code == 2 and "read 'local.cfg' (rule 'local.cfg' in .gitignore:1)" in \
        said, refused.output
    assert git(repo, "for-each-ref", "refs/exps", "refs/exps-queue") == ""
    ran = run_dvx("exp", "run", "-S", "cfg=local.cfg", "-n", "wa", cwd=repo)
    said = " ".join(ran.stderr.split())
    assert ran.code == 0 and "WARNING: This run's stages read 'local.cfg'" in said, ran.output
    write(repo / "params.yaml", "cfg: local.cfg\n")
    must("repro", cwd=repo)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "reads local.cfg")
    must("exp", "run", "--queue", "-S", "cfg=shared.cfg", "-n", "qb", cwd=repo)
    must("queue", "start", cwd=repo)
    recorded = "refs/exps/" + git(repo, "rev-parse", "HEAD").strip() + "/qb"
    assert "path: shared.cfg" in git(repo, "show", f"{recorded}:dvx.lock")
    ran = run_dvx("exp", "run", "-S", "cfg=shared.cfg", "-n", "wb", cwd=repo)
    assert ran.code == 0 and "WARNING" not in ran.stderr, ran.output


def test_queueing_a_run_whose_cached_output_git_tracks_is_refused_as_repro_refuses_it(
        project):
    """A stage deletes its outputs before it runs, so `repro` (and `exp run`) refuse a stage
    whose cached output Git's index holds: queuing that run is refused the same way, before
    anything is queued or written, not left to fail when the queue starts it."""
    git(project, "add", "-f", "model.bin")
    git(project, "commit", "-qm", "the model in Git")
    params = (project / "params.yaml").read_bytes()
    refused = run_dvx("exp", "run", "--queue", "-S", "train.lr=0.2", "-n", "q", cwd=project)
    said = " ".join(refused.stderr.split())
    assert refused.code == 2 and "Stage 'train': output 'model.bin' is tracked by Git " \
        "('model.bin' is in the Git index), and a stage deletes its outputs before it runs, " \
        "so nothing was queued." in said and "git rm -r --cached -- model.bin" in said, said
    assert (project / "params.yaml").read_bytes() == params
    assert git(project, "status", "--porcelain") == ""
    assert git(project, "for-each-ref", "refs/exps", "refs/exps-queue") == ""


def test_an_upstream_stage_s_output_git_ignores_is_the_pipeline_s_not_an_input_no_run_has(
        repo):
    """A stage's `cache: false` output that Git ignores (a log) is made by its stage in the
    run, not an input the machine alone has: the run reading it is queued and runs, and a
    run in the workspace gives no warning of it."""
    write(repo / "params.yaml", "a: 1\nb: 2\n")
    write(repo / ".gitignore", "log.txt\n")
    run_and_commit(repo, "stages:\n  prep:\n    cmd: echo a > log.txt\n    params: [a]\n"
                         "    outs:\n      - log.txt:\n          cache: false\n"
                         "  train:\n    cmd: cat log.txt params.yaml > res.txt\n"
                         "    deps: [log.txt]\n    params: [b]\n    outs: [res.txt]\n", "pipeline")
    must("exp", "run", "--queue", "-S", "b=5", "-n", "q1", cwd=repo)
    must("queue", "start", cwd=repo)
    recorded = "refs/exps/" + git(repo, "rev-parse", "HEAD").strip() + "/q1"
    assert git(repo, "show", f"{recorded}:params.yaml") == "a: 1\nb: 5\n"
    ran = run_dvx("exp", "run", "-S", "b=6", "-n", "w1", cwd=repo)
    assert ran.code == 0 and "WARNING" not in ran.stderr, ran.output


def test_a_frozen_stage_s_output_no_run_recorded_is_an_input_the_queued_run_lacks(repo):
    """A frozen stage's cached output put there by hand, which Git ignores and dvx.lock does
    not record: no run makes it and the cache lacks it, so queuing a run reading it is
    refused before anything is queued, and a run in the workspace warns once."""
    write(repo / "params.yaml", "lr: 1\n")
    write(repo / ".gitignore", "/base.bin\n")
    write(repo / "dvx.yaml", "stages:\n  get:\n    frozen: true\n"
                             "    cmd: echo downloaded > base.bin\n    outs: [base.bin]\n"
                             "  train:\n    cmd: cat base.bin > model.txt\n"
                             "    deps: [base.bin]\n    params: [lr]\n    outs: [model.txt]\n")
    write(repo / "base.bin", "made by hand\n")
    must("repro", cwd=repo)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "pipeline")
    refused = run_dvx("exp", "run", "--queue", "-S", "lr=2", "-n", "q1", cwd=repo)
    assert refused.code == 2 and "'base.bin'" in refused.stderr, refused.output
    assert "Nothing was queued" in " ".join(refused.stderr.split()), refused.stderr
    assert run_dvx("queue", "status", cwd=repo).stdout.count("q1") == 0
    ran = run_dvx("exp", "run", "-S", "lr=3", "-n", "w1", cwd=repo)
    assert ran.code == 0 and ran.stderr.count("base.bin") >= 1, ran.output


@pytest.mark.parametrize("command", [("exp", "save", "-n", "s"),
                                     ("exp", "run", "--queue", "-n", "q"),
                                     ("exp", "run", "-n", "w"), ("repro",)])
def test_an_input_folder_holding_a_repository_of_its_own_is_refused_before_anything_is_written(
        repo, command):
    """A tracked folder the stages read that holds a repository of its own (a clone in it):
    which of its files changed cannot be told, so saving, queuing, running or reproducing
    is refused before anything is written, naming it, never an experiment that passes over
    its changes; `status` says `dvx repro` refuses, and why."""
    write(repo / "data" / "a.txt", "a\n")
    must("add", "data", cwd=repo)
    run_and_commit(repo, "stages:\n  count:\n    cmd: ls data > list.txt\n"
                         "    deps: [data]\n    outs: [list.txt]\n", "pipeline")
    make_git_repo(repo / "data" / "inner")
    write(repo / "data" / "b.txt", "b\n")
    shown = " ".join(run_dvx("status", cwd=repo).stdout.split())
    assert "holds 'data/inner/.git'" in shown and "so `dvx repro` refuses to run" in shown \
        and "(`dvx repro` runs the stale stages)" not in shown, shown
    pointer = (repo / "data.dvx").read_bytes()
    refused = run_dvx(*command, cwd=repo)
    said = " ".join(refused.stderr.split())
    assert refused.code == 2 and "'data' holds 'data/inner/.git'" in said and \
        "stopped before writing anything" in said, refused.output
    assert said.count("ERROR") == 1 and "Traceback" not in refused.output, said
    assert (repo / "data.dvx").read_bytes() == pointer
    assert git(repo, "status", "--porcelain") == ""
    assert git(repo, "for-each-ref", "refs/exps", "refs/exps-queue") == ""


def test_queueing_a_run_of_a_folder_git_holds_in_part_is_refused_naming_git_s_files(repo):
    """A folder the stages read, tracked with `dvx add`, of which Git's index holds a file
    too (`git add -f`): a queued run's worktree gets that file from Git, and checkout leaves
    data Git tracks to Git, so the run would lack the rest. Queuing it is refused before
    anything is queued or written, naming the file and the ways out; the run in the
    workspace, which has every file, is not."""
    for name in ("a", "b", "c"):
        write(repo / "data" / f"{name}.txt", f"{name}\n")
    must("add", "data", cwd=repo)
    write(repo / "params.yaml", "n: 1\n")
    write(repo / "dvx.yaml", "stages:\n  count:\n    cmd: cat data/*.txt params.yaml > all.txt\n"
                             "    deps: [data]\n    params: [n]\n    outs: [all.txt]\n")
    must("repro", cwd=repo)
    git(repo, "add", "-A")
    git(repo, "add", "-f", "data/a.txt")
    git(repo, "commit", "-qm", "pipeline, a.txt in Git too")
    refused = run_dvx("exp", "run", "--queue", "-S", "n=2", "-n", "q", cwd=repo)
    said = " ".join(refused.stderr.split())
    assert refused.code == 2 and "'data', of which Git's index holds 'data/a.txt' too" in \
        said and "Nothing was queued" in said, refused.output
    assert "git rm -r --cached -- data" in said and "without --queue" in said, said
    assert git(repo, "status", "--porcelain") == ""
    assert git(repo, "for-each-ref", "refs/exps", "refs/exps-queue") == ""
    ran = run_dvx("exp", "run", "-S", "n=3", "-n", "w", cwd=repo)
    assert ran.code == 0, ran.output
    assert (repo / "all.txt").read_text() == "a\nb\nc\nn: 3\n"


def test_without_a_git_identity_run_save_and_queue_refuse_before_running(project, monkeypatch):
    """Git would refuse the experiment's commit (a fresh CI runner, a container): said before
    the pipeline runs, with Git's advice, and the params file is left as it was."""
    for name in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME",
                 "GIT_COMMITTER_EMAIL", "EMAIL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    if subprocess.run(["git", "var", "GIT_AUTHOR_IDENT"], cwd=project,
                      capture_output=True).returncode == 0:
        pytest.skip("Git finds an identity on this machine (its host name has a domain)")
    params = (project / "params.yaml").read_bytes()
    for args in (("run", "-S", "train.lr=0.2"), ("run", "--queue", "-S", "train.lr=0.2"),
                 ("save",)):
        result = run_dvx("exp", *args, cwd=project)
        assert result.code == 2, result.output
        assert result.stderr.startswith("ERROR: Git knows no identity to make the ")
        assert 'git config --global user.email "you@example.com"' in result.stderr
        assert "Running stage" not in result.output
    assert (project / "params.yaml").read_bytes() == params
    assert git(project, "status", "--porcelain") == ""
    assert git(project, "for-each-ref", "refs/exps") == ""


@pytest.mark.parametrize("typed", ["dvx.yaml:stages.train.cmd=echo", "../dvx.yaml:vars=[]"])
def test_set_into_the_pipeline_file_is_refused_and_writes_nothing(project, typed):
    """dvx.yaml holds the stages: a -S into it would change what runs, not a param, so it is
    refused (as dvx.lock and pointers are), from any folder, before anything is written."""
    pipeline = (project / "dvx.yaml").read_bytes()
    for queued in ([], ["--queue"]):
        refused = run_dvx("exp", "run", *queued, "-S", typed,
                          cwd=project / "data" if typed.startswith("..") else project)
        assert refused.code == 2, refused.output
        assert "dvx.yaml is the pipeline, not a params file" in refused.stderr, refused.output
        assert "Running stage" not in refused.output
        assert (project / "dvx.yaml").read_bytes() == pipeline
        assert git(project, "status", "--porcelain") == ""


def test_set_into_the_pipeline_file_in_other_letter_case_is_refused_where_case_is_ignored(
        project):
    """Where the workspace ignores letter case (core.ignorecase), DVX.yaml is dvx.yaml: a -S
    into it is refused as the pipeline's, never taken for a params file."""
    git(project, "config", "core.ignorecase", "true")
    refused = run_dvx("exp", "run", "-S", "DVX.yaml:stages.train.cmd=echo", cwd=project)
    assert refused.code == 2, refused.output
    assert "is the pipeline, not a params file" in refused.stderr, refused.output
    assert git(project, "status", "--porcelain") == ""


def test_set_param_no_stage_declares_warns_that_the_results_may_not_reflect_it(project):
    """A param no stage of the run declares (a file the code reads, a key of params.yaml
    outside every `params:`) runs nothing again: the run says so, naming the param, as DVC
    sets it without a word. One a stage declares, or a `${}` of what a run reads (its
    command) uses, is no such param."""
    write(project / "model.yaml", "dropout: 0.1\n")
    write(project / "params.yaml", "# how to train\ntrain:\n  lr: 0.1  # step size\n"
          "  epochs: 3\nseed: 1\nname: m\n")
    run_and_commit(project, DVX_YAML.replace("train.py\n", "train.py ${name}\n", 1),
                   "model.yaml, read by the code, not declared")
    for sets in (["model.yaml:dropout=0.5"], ["seed=5"], ["train.lr=0.2", "seed=6"]):
        ran = run_dvx("exp", "run", *(arg for each in sets for arg in ("-S", each)),
                      cwd=project)
        assert ran.code == 0, ran.output
        said = " ".join(ran.stderr.split())
        named = sets[-1].partition("=")[0]
        assert f"WARNING: -S {named} sets a param that no stage of this run declares" \
            in said and "may not reflect it" in said, said
        assert said.count("WARNING: -S") == 1, said
    for sets in (["train.lr=0.3"], ["name=other"]):
        ran = run_dvx("exp", "run", "-S", sets[0], cwd=project)
        assert ran.code == 0 and "WARNING" not in ran.stderr, ran.output
    queued = run_dvx("exp", "run", "--queue", "-n", "q7", "-S", "seed=7", cwd=project)
    assert queued.code == 0 and "WARNING: -S seed sets a param" in queued.stderr, \
        queued.output
    must("queue", "start", cwd=project)  # said once, when queued: not again in its log
    logged = must("queue", "logs", "q7", cwd=project)
    assert "WARNING" not in logged and logged.endswith("\n"), logged  # ends its last line


def test_set_param_sets_a_list_element_by_its_index(project):
    write(project / "params.yaml", "train:\n  lr: 0.1  # step size\n  epochs: 3\n"
                                   "  layers: [8, 4]\n")
    must("exp", "run", "-S", "train.layers.0=32", "-S", "train.layers[1]=2", "-n", "wide",
         cwd=project)
    assert "layers: [32, 2]" in (project / "params.yaml").read_text()  # layout kept
    assert _show(project)["wide"]["params"]["params.yaml"]["train.layers"] == [32, 2]
    for setting, message in (("train.layers.2=1", "has 2 element(s) in 'params.yaml', so "
                                                  "there is no element 2"),
                             ("+train.layers.2=1", "there is no element 2"),
                             ("+train.layers.0=1", "has that param already"),
                             ("train.layers.x=1", "name an element by its index"),
                             ("train.layers[x]=1", "Name a list element by its index")):
        refused = run_dvx("exp", "run", "-S", setting, cwd=project)
        assert refused.code == 2 and message in refused.stderr, refused.output
    assert "layers: [32, 2]" in (project / "params.yaml").read_text()
    assert "-S 'train.layers=[...]'" in run_dvx("exp", "run", "-S", "train.layers.2=1",
                                                 cwd=project).stderr
    write(project / "p.json", '{"a": {"l": [1, 2]}}')  # another file: its name in the hint
    refused = run_dvx("exp", "run", "-S", "p.json:a.l[5]=1", cwd=project)
    assert refused.code == 2 and "-S 'p.json:a.l=[...]'" in refused.stderr, refused.output
    (project / "sub").mkdir()  # from a subfolder: the files as named there
    refused = run_dvx("exp", "run", "-S", "../p.json:a.l[5]=1", cwd=project / "sub")
    assert refused.code == 2 and "-S '../p.json:a.l=[...]'" in refused.stderr, refused.output
    refused = run_dvx("exp", "run", "-S", "../params.yaml:train.layers.4=1",
                      cwd=project / "sub")
    assert "-S '../params.yaml:train.layers=[...]'" in refused.stderr, refused.output


def test_a_run_that_takes_a_foreach_item_away_says_it_dropped_its_entry(repo):
    """-S takes 'eu' out of the items: exp run drops build@eu's dvx.lock entry as repro does,
    and says so, naming the output left in the workspace and still ignored by Git."""
    write(repo / "in.txt", "hi\n")
    write(repo / "params.yaml", "regions: [us, eu]\n")
    run_and_commit(repo, "stages:\n  build:\n    foreach: ${regions}\n    do:\n"
                         "      cmd: echo ${item} > out-${item}.txt\n      deps: [in.txt]\n"
                         "      outs: [\"out-${item}.txt\"]\n", "two regions")
    result = run_dvx("exp", "run", "-S", "regions=[us]", cwd=repo)
    assert result.code == 0, result.output
    assert "Dropped the dvx.lock entry of 'build@eu', no longer in dvx.yaml." in result.stdout
    assert "No stage outputs out-eu.txt any longer" in result.stdout
    assert "build@eu" not in (repo / "dvx.lock").read_text()
    assert (repo / "out-eu.txt").exists()


def test_a_run_of_named_stages_runs_only_them_and_those_they_depend_on(repo):
    """As DVC's `exp run TARGET`, and `repro TARGET`: the other stages stay as they were; an
    unknown stage is refused with the params put back, and the queue takes no stage names."""
    write(repo / "params.yaml", "n: 1\n")
    stage = "  {0}:\n    cmd: echo ${{n}} > {0}.txt\n    params: [n]\n    outs: [{0}.txt]\n"
    run_and_commit(repo, "stages:\n" + stage.format("a") + stage.format("b"), "n=1")
    result = run_dvx("exp", "run", "-S", "n=2", "b", "-n", "only-b", cwd=repo)
    assert result.code == 0, result.output
    assert "Running stage 'b'" in result.stdout and "'a'" not in result.stdout
    assert (repo / "b.txt").read_text() == "2\n" and (repo / "a.txt").read_text() == "1\n"
    assert "only-b" in _show(repo)
    unknown = run_dvx("exp", "run", "-S", "n=3", "nope", cwd=repo)
    assert unknown.code != 0 and "nope" in unknown.stderr, unknown.output
    assert (repo / "params.yaml").read_text() == "n: 2\n"
    queued = run_dvx("exp", "run", "-S", "n=4", "--queue", "b", cwd=repo)
    assert queued.code == 2 and "--queue takes no stage names (b)" in queued.stderr
    assert run_dvx("queue", "status", cwd=repo).stdout.count("n=4") == 0


def test_set_param_adds_a_param_to_a_named_file_with_plus_before_the_key(project):
    write(project / "p.json", '{"j": {"lr": 0.5}}')
    git(project, "add", "p.json")
    git(project, "commit", "-qm", "p.json")
    missing = run_dvx("exp", "run", "-S", "p.json:j.n=1", cwd=project)
    assert missing.code == 2 and "write -S 'p.json:+j.n=...'" in missing.stderr, missing.output
    must("exp", "run", "-S", "p.json:+j.n=1", "-S", "+p.json:j.m=2", "-n", "added", cwd=project)
    assert json.loads((project / "p.json").read_text()) == {"j": {"lr": 0.5, "n": 1, "m": 2}}
    for setting, message in (("p.json:+j.n=3", "has that param already"),
                             ("p.json:~j.lr=1", "are not supported"),
                             ("p.json:++j.lr=1", "are not supported")):
        refused = run_dvx("exp", "run", "-S", setting, cwd=project)
        assert refused.code == 2 and message in refused.stderr, refused.output
    assert json.loads((project / "p.json").read_text()) == {"j": {"lr": 0.5, "n": 1, "m": 2}}


def _strict_json(text):
    """`text` read as JSON by a strict reader (JavaScript's, Go's): no Infinity, no NaN."""
    def refuse(constant):
        raise ValueError(f"not JSON: {constant}")
    return json.loads(text, parse_constant=refuse)


def test_set_param_in_json_changes_the_value_set_alone(project):
    """Every other value keeps its text (`1E400`, `1.50`, `1.0e5`, a big integer, an escaped
    letter), the keys their order, the file its indents and its end (here none)."""
    written = ('{\n    "max_grad": 1E400,\n    "z": 1.50, "big": 123456789012345678901234567890,'
               '\n    "e": 1.0e5,\n    "name": "caf\\u00e9",\n    "x": 1,\n    "opt": {"lr": 0.1,'
               ' "layers": [8, 4]}\n}')
    write(project / "p.json", written)
    git(project, "add", "p.json")
    git(project, "commit", "-qm", "p.json")
    must("exp", "run", "-S", "p.json:x=2", "-S", "p.json:opt.layers.1=5", "-S",
         "p.json:+opt.m=0.9", "-S", "p.json:+new.deep=true", "-n", "j", cwd=project)
    expected = written.replace('"x": 1,', '"x": 2,').replace("[8, 4]", "[8, 5]").replace(
        '"layers": [8, 5]}', '"layers": [8, 5], "m": 0.9}').replace(
        '0.9}\n}', '0.9},\n    "new": {"deep": true}\n}')
    assert (project / "p.json").read_text() == expected
    _strict_json(expected.replace("1E400", "1E300"))


@pytest.mark.parametrize("value", [".inf", "-.inf", ".nan", "{a: .inf}"])
def test_set_param_in_json_refuses_infinity_and_nan_writing_nothing(project, value):
    """JSON has no infinity or NaN: Python would write `Infinity`, which strict readers
    refuse, so -S names the key and leaves the file as it was."""
    written = '{"max_grad": 1E400, "x": 1}\n'
    write(project / "p.json", written)
    refused = run_dvx("exp", "run", "-S", f"p.json:x={value}", "-n", "inf", cwd=project)
    said = " ".join(refused.stderr.split())
    assert refused.code == 2 and "-S cannot set x in 'p.json'" in said, refused.output
    assert "JSON has no infinity or NaN" in said and "Nothing was written" in said
    assert "Traceback" not in refused.output
    assert (project / "p.json").read_text() == written
    assert "inf" not in _show(project)


TOML_PARAMS = """# how to train
[train]  # the optimizer
lr = 0.01  # step size
name = 'adam'
layers = [8, 4]
opt.momentum = 0.9

[[blocks]]
units = 16
"""

TOML_STAGE = """stages:
  t:
    cmd: cat p.toml > o.txt
    params:
      - p.toml: [train, blocks]
    outs: [o.txt]
"""


def test_set_param_edits_a_toml_params_file_and_the_experiment_records_its_values(repo):
    write(repo / "p.toml", TOML_PARAMS)
    run_and_commit(repo, TOML_STAGE, "toml params")
    must("exp", "run", "-S", "p.toml:train.lr=0.1", "-S", "p.toml:train.name=sgd",
         "-S", "p.toml:train.layers[1]=2", "-S", "p.toml:train.opt.momentum=5",
         "-S", "p.toml:blocks.0.units=true", "-S", "p.toml:+train.tags=[a, 1.5]",
         "-n", "toml", cwd=repo)
    expected = TOML_PARAMS.replace("0.01", "0.1").replace("'adam'", "'sgd'") \
        .replace("[8, 4]", "[8, 2]").replace("0.9", "5").replace("16", "true") \
        .replace("= 5\n", '= 5\ntags = ["a", 1.5]\n')
    assert (repo / "p.toml").read_text() == expected  # the stage ran on it
    assert (repo / "o.txt").read_text() == expected
    row = _show(repo)["toml"]["params"]["p.toml"]
    assert (row["train.lr"], row["train.name"], row["train.layers"], row["train.opt.momentum"],
            row["blocks"], row["train.tags"]) == (0.1, "sgd", [8, 2], 5, [{"units": True}],
                                                  ["a", 1.5])
    diff = run_dvx("params", "diff", cwd=repo)
    assert re.search(r"p\.toml\s+train\.lr\s+0\.01\s+0\.1", diff.stdout), diff.output
    null = run_dvx("exp", "run", "-S", "p.toml:train.lr=null", cwd=repo)
    assert null.code == 2 and "TOML has no null" in null.stderr, null.output
    missing = run_dvx("exp", "run", "-S", "p.toml:train.nope=1", cwd=repo)
    assert missing.code == 2 and "write -S 'p.toml:+train.nope=...'" in missing.stderr
    assert (repo / "p.toml").read_text() == expected


def _set_in_toml(repo, text, *settings, data=None):
    """The bytes `overrides.apply` makes of the TOML params file `text` (or `data`) with
    `settings` (-S texts) set, nothing written."""
    from dvx.exps import overrides
    from dvx.repo import Repo

    write(repo / "p.toml", data if data is not None else text)
    changes = [overrides.parse(setting, str(repo)) for setting in settings]
    return overrides.apply(Repo(str(repo)), changes, write=False)["p.toml"]


def test_toml_edit_keeps_comments_quotes_and_windows_line_ends_and_writes_toml_types(repo):
    text = ("# top\r\n[a]\r\nx = 1 # one\r\ns = \"q\"\r\nlit = 'raw'\r\n"
            "when = 1979-05-27\r\n[b]\r\ny = {z = 2}\r\n")
    edited = _set_in_toml(repo, None, "p.toml:a.x=2.5", "p.toml:a.s=yes", "p.toml:a.lit=it's",
                          "p.toml:b.y.z=-.inf", "p.toml:+a.new={k: [1, 2]}", "p.toml:+c=1e-3",
                          data=text.encode())
    # a key of no table goes before the first one, which would take it otherwise
    assert edited.decode() == ("# top\r\nc = 0.001\r\n\r\n[a]\r\nx = 2.5 # one\r\n"
                               "s = \"yes\"\r\nlit = \"it's\"\r\nwhen = 1979-05-27\r\n"
                               "new = {k = [1, 2]}\r\n[b]\r\ny = {z = -inf}\r\n")
    assert (repo / "p.toml").read_bytes() == text.encode()  # nothing written


def test_toml_edit_refuses_a_null_and_a_file_the_pipeline_cannot_read(repo):
    from dvx.errors import UsageError

    for setting, text, message in (
            ("p.toml:a=null", "a = 1\n", "TOML has no null"),
            ("p.toml:a=[1, null]", "a = 1\n", "TOML has no null"),
            ("p.toml:a=2", "a = \n", "not valid TOML"),
            ("p.toml:a=2", "\ufeffa = 1\n", "not valid TOML")):  # as the run refuses it
        with pytest.raises(UsageError, match=message):
            _set_in_toml(repo, text, setting)


def test_toml_edit_replaces_a_table_as_a_table_and_keeps_the_keys_after_it(repo):
    from dvx.pipeline.params import parse_params

    edited = _set_in_toml(repo, "[a]\nx = 1\n\n[b]\ny = 2\n", "p.toml:a={x: 3, w: {v: 1}}",
                          "p.toml:b.y={u: 4}")
    assert parse_params(edited, "p.toml") == {"a": {"x": 3, "w": {"v": 1}}, "b": {"y": {"u": 4}}}
    assert edited.decode().endswith("[b]\ny = {u = 4}\n")


def test_toml_edit_writes_a_date_or_time_set_where_the_file_has_one_as_one_and_a_new_key_as_text(
        repo):
    import datetime

    from dvx.pipeline.params import parse_params

    text = ("[a]\nwhen = 1979-05-27\nat = 1979-05-27T07:32:00Z\nt = 07:32:00\nn = 1\n"
            "dates = [1979-05-27]\nlabel = 1979-05-27\nb = {d = 1979-05-27, e = 2}\n")
    edited = _set_in_toml(repo, text, "p.toml:a.when=2024-01-01",
                          "p.toml:a.at=2024-01-01 08:00:00", "p.toml:a.t=08:00:00.5",
                          "p.toml:a.dates=[1979-05-27, 2024-02-02]", "p.toml:a.label=v2",
                          "p.toml:a.b={d: 1979-05-27, e: 3}", "p.toml:a.n=2024-01-01",
                          "p.toml:+a.new=2024-01-01", "p.toml:+a.more=[2024-01-01]")
    assert edited.decode() == (
        "[a]\nwhen = 2024-01-01\nat = 2024-01-01T08:00:00\nt = 08:00:00.5\nn = \"2024-01-01\"\n"
        "dates = [1979-05-27, 2024-02-02]\nlabel = \"v2\"\nb = {d = 1979-05-27, e = 3}\n"
        "new = \"2024-01-01\"\nmore = [\"2024-01-01\"]\n")
    params = parse_params(edited, "p.toml")["a"]
    assert params["when"] == datetime.date(2024, 1, 1)
    assert params["dates"] == [datetime.date(1979, 5, 27), datetime.date(2024, 2, 2)]
    assert (params["new"], params["n"], params["label"]) == ("2024-01-01", "2024-01-01", "v2")
    # a string that holds more than a date stays a string: no comment or key slips in
    edited = _set_in_toml(repo, text, 'p.toml:a.when="2024-01-01\\nx = 1"')
    assert parse_params(edited, "p.toml")["a"]["when"] == "2024-01-01\nx = 1"


def test_set_param_in_toml_keeps_a_date_a_date_and_refuses_an_integer_toml_cannot_hold(repo):
    text = "[a]\nwhen = 1979-05-27\nn = 1\n"
    write(repo / "p.toml", text)
    run_and_commit(repo, TOML_STAGE.replace("[train, blocks]", "[a]"), "toml params")
    for value in ("9223372036854775808", "-9223372036854775809", "[1, 99999999999999999999]"):
        refused = run_dvx("exp", "run", "-S", f"p.toml:a.n={value}", cwd=repo)
        said = " ".join(refused.stderr.split())
        assert refused.code == 2 and "-S cannot set a.n in 'p.toml'" in said, refused.output
        assert "TOML integers are 64-bit" in said and "Nothing was written" in said
        assert "Traceback" not in refused.output
        assert (repo / "p.toml").read_text() == text
    must("exp", "run", "-S", "p.toml:a.n=9223372036854775807", "-S", "p.toml:a.when=2024-01-01",
         "-n", "dated", cwd=repo)
    assert (repo / "o.txt").read_text() == "[a]\nwhen = 2024-01-01\nn = 9223372036854775807\n"
    row = _show(repo)["dated"]["params"]["p.toml"]
    assert (row["a.when"], row["a.n"]) == ("2024-01-01", 9223372036854775807)


def test_a_toml_refusal_names_an_s_that_works_pasted_where_the_user_is(repo):
    """The -S a refused null or too big integer names to set a string instead works as
    pasted in the folder the user ran from (the file named from there, a new key's `+`
    kept, a key holding a quote quoted); for a list, whose whole value it would replace,
    none is named."""
    text = "[a]\nn = 1\n"
    write(repo / "p.toml", text)
    write(repo / "dvx.yaml", TOML_STAGE.replace("[train, blocks]", "[a]"))
    must("repro", cwd=repo)
    (repo / "sub").mkdir()
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "toml params")
    sub = repo / "sub"
    for setting, value, written in (
            ("../p.toml:+a.big=9223372036854775808", "9223372036854775808",
             'big = "9223372036854775808"'),
            ("../p.toml:+a.it's=null", "null", '"it\'s" = "null"')):
        refused = run_dvx("exp", "run", "-S", setting, cwd=sub)
        said = " ".join(refused.stderr.split())
        assert refused.code == 2 and "Nothing was written" in said, refused.output
        assert (repo / "p.toml").read_text() == text
        pasted = re.search(r"-S ('.*?'(?:\"'\"'.*?')*)\)", said)
        assert pasted is not None, said
        args = shlex.split(pasted.group(1))
        assert args == [setting.partition("=")[0] + f'="{value}"'], said
        ran = run_dvx("exp", "run", "-S", *args, cwd=sub)
        assert ran.code == 0, ran.output
        assert (repo / "p.toml").read_text() == text + written + "\n"
        git(repo, "checkout", "-q", "--", "p.toml")
    for value in ("[1, 9223372036854775808]", "[1, null]"):
        refused = run_dvx("exp", "run", "-S", f"../p.toml:a.n={value}", cwd=sub)
        said = " ".join(refused.stderr.split())
        assert refused.code == 2 and "in its place" in said, refused.output
        assert "-S '" not in said, said


def test_set_param_reads_yaml_1_2_values_and_writes_them_as_yaml_1_1_reads_them(project):
    import yaml

    # the stage computes with lr: a string would fail it
    must("exp", "run", "-S", "train.lr=1e-3", "-S", "+train.country=no", "-S", "+train.big=1E25",
         "-S", "+train.ok=TRUE", "-S", "+train.at=1:30", "-S", "+train.dims=[.5, on]",
         "-S", "+train.keys={no: 1, on: [{1:30: yes}]}", "-n", "sci", cwd=project)
    text = (project / "params.yaml").read_text()
    assert "lr: 0.001" in text and "big: 1.0e+25" in text  # PyYAML wants '.' and a sign
    assert yaml.safe_load(text)["train"] == {"lr": 0.001, "epochs": 3, "country": "no",
                                             "big": 1e25, "ok": True, "at": "1:30",
                                             "dims": [0.5, "on"],
                                             "keys": {"no": 1, "on": [{"1:30": "yes"}]}}
    assert _show(project)["sci"]["params"]["params.yaml"]["train.country"] == "no"


def test_set_param_keeps_the_text_of_the_params_it_does_not_set(project):
    import yaml

    untouched = ("    country: 'no'\n    flag: \"on\"\n    at: '1:30'\n    dims: [8, 4]\n"
                 "    note: \"" + "a long line " * 10 + "\"\n")
    write(project / "params.yaml", "train:\n    lr: 0.1  # step size\n    epochs: 3\n" + untouched)
    must("exp", "run", "-S", "train.lr=0.2", "-n", "kept", cwd=project)
    text = (project / "params.yaml").read_text()
    assert text == "train:\n    lr: 0.2  # step size\n    epochs: 3\n" + untouched
    assert yaml.safe_load(text)["train"]["country"] == "no"  # not YAML 1.1's false
    assert _show(project)["kept"]["params"]["params.yaml"]["train.at"] == "1:30"


def test_set_param_keeps_the_permissions_of_the_params_files_it_edits_and_puts_back(project):
    """An executable params.yaml and a private p.json keep their modes in the workspace and
    in the experiment's commit (Git records no mode change), and after a run refused before
    any stage ran, which puts their text back."""
    write(project / "p.json", '{"b": 1}\n')
    os.chmod(project / "params.yaml", 0o755)
    os.chmod(project / "p.json", 0o600)
    git(project, "add", "-A")
    git(project, "commit", "-qm", "modes")

    def modes():
        return {name: oct(os.stat(project / name).st_mode & 0o777)
                for name in ("params.yaml", "p.json")}

    kept = {"params.yaml": oct(0o755), "p.json": oct(0o600)}
    must("exp", "run", "-S", "train.lr=0.2", "-S", "p.json:b=2", "-n", "modes", cwd=project)
    assert modes() == kept
    ref = git(project, "for-each-ref", "--format=%(refname)", "refs/exps").split()[0]
    assert "mode change" not in git(project, "show", "--summary", "--format=", ref)
    git(project, "checkout", "-q", "--", ".")
    os.chmod(project / "p.json", 0o600)  # Git's checkout writes a file it changes as 0644
    must("checkout", cwd=project)
    write(project / "dvx.yaml", DVX_YAML.replace("deps: [", "deps: [nothere.txt, "))
    refused = run_dvx("exp", "run", "-S", "train.lr=0.3", "-S", "p.json:b=3", cwd=project)
    assert refused.code != 0 and "nothere.txt" in refused.stderr, refused.output
    assert (project / "p.json").read_text() == '{"b": 1}\n' and modes() == kept
    assert "mode change" not in git(project, "diff", "--summary")


def test_set_param_keeps_every_byte_of_the_params_it_does_not_set(project):
    """-S replaces the text of the values it sets, and nothing else: the forms a rewrite of
    the file would respell (`~`, `Null`, `+12`, `1_000.5`, long floats, escapes, a tab,
    `.Inf`, the `---` and `...` markers) stay as written, so no param but those set reads
    changed in dvx.lock or `params diff`."""
    untouched = ('tilde: ~\nnone: Null\nplus: +12\ndecay: 1_000.5\nunder: 1_000.000_1\n'
                 'pi: 3.14159265358979323846\nbig: 12345678901234567.0\n'
                 'esc: "caf\\u00e9"\ntab: "a\tb"\ninf: .Inf\n')
    text = ("---\ntrain:\n  lr: 0.1  # step size\n  epochs: 3\n  layers: [8, 4]\n"
            + untouched + "...\n")
    write(project / "params.yaml", text)
    must("repro", cwd=project)
    git(project, "add", "-A")
    git(project, "commit", "-qm", "forms")
    must("exp", "run", "-S", "train.lr=0.2", "-S", "train.layers.0=16", "-n", "kept",
         cwd=project)
    assert (project / "params.yaml").read_text() == text.replace(
        "lr: 0.1", "lr: 0.2").replace("[8, 4]", "[16, 4]")
    diff = json.loads(run_dvx("params", "diff", "HEAD", "kept", "--json", cwd=project).stdout)
    assert sorted(diff["params.yaml"]) == ["train.layers", "train.lr"], diff


def test_set_param_replaces_null_a_quoted_string_in_a_list_and_a_list_then_its_element_in_place(
        project):
    """`-S KEY=null`, a string that needs quotes inside a flow list, and a list set then
    an element of it (applied in order, the later one on the text the earlier made) each
    replace only their own text: the `1_000.5` a whole-file rewrite would respell, and so
    refuse, stays as written."""
    text = ("train:\n  lr: 0.1  # step size\n  epochs: 3\n  opt: 1\n  tags: [a, b]\n"
            "  layers: [8, 4]\ndecay: 1_000.5\n")
    write(project / "params.yaml", text)
    git(project, "commit", "-qam", "forms")
    must("exp", "run", "-S", "train.opt=null", "-S", "train.tags.0=b,c", "-S",
         "train.layers=[7,8]", "-S", "train.layers.0=100", "-n", "in-place", cwd=project)
    assert (project / "params.yaml").read_text() == text.replace("opt: 1", "opt: null").replace(
        "[a, b]", "['b,c', b]").replace("[8, 4]", "[100, 8]")


def test_set_param_that_must_rewrite_the_file_is_refused_if_another_param_would_read_otherwise(
        project):
    """Adding a param rewrites the whole file, which would respell `1_000.5` (a string to
    dvx) as a number: refused in one paragraph naming that param, nothing written."""
    text = "train:\n  lr: 0.1\n  epochs: 3\ndecay: 1_000.5\n"
    write(project / "params.yaml", text)
    git(project, "commit", "-qam", "decay")
    refused = run_dvx("exp", "run", "-S", "+train.new=1", cwd=project)
    assert refused.code == 2, refused.output
    assert "'decay' would read 1000.5 instead of \"1_000.5\"" in " ".join(
        refused.stderr.split()), refused.stderr
    assert "Traceback" not in refused.output
    assert (project / "params.yaml").read_text() == text
    assert git(project, "for-each-ref", "refs/exps") == ""


def test_set_param_in_a_config_read_only_as_a_dependency_keeps_its_anchors(project):
    """A config a stage reads as a dependency, not as params, may use anchors and merge
    keys: -S sets a value there and keeps them; params.yaml, which the pipeline reads as
    params, is refused with them, naming the file, nothing written."""
    config = "defaults: &d {a: 1}\nmodel:\n  <<: *d\n  b: 2\n"
    write(project / "conf.yaml", config)
    run_and_commit(project, DVX_YAML.replace("deps: [", "deps: [conf.yaml, "), "conf")
    must("exp", "run", "-S", "conf.yaml:model.b=5", "-n", "conf", cwd=project)
    assert (project / "conf.yaml").read_text() == config.replace("b: 2", "b: 5")
    must("exp", "run", "-S", "conf.yaml:model.a=7", "-n", "merged", cwd=project)
    assert yaml.safe_load((project / "conf.yaml").read_text()) == {
        "defaults": {"a": 1}, "model": {"a": 7, "b": 5}}
    assert "&d" in (project / "conf.yaml").read_text()
    params = "base: &b {lr: 0.1}\ntrain:\n  <<: *b\n  epochs: 3\n"
    write(project / "params.yaml", params)
    refused = run_dvx("exp", "run", "-S", "train.epochs=4", cwd=project)
    said = " ".join(refused.stderr.split())
    assert refused.code == 2 and "anchors or aliases" in said, refused.output
    assert "Nothing was written" in said and "under `params:` or `vars:`" in said
    assert (project / "params.yaml").read_text() == params


def _dependency_config(project, text):
    """`conf.yaml` holding `text`, committed, read by the stage as a dependency only."""
    write(project / "conf.yaml", text)
    write(project / "dvx.yaml", DVX_YAML.replace("deps: [", "deps: [conf.yaml, "))
    git(project, "add", "-A")
    git(project, "commit", "-qm", "conf")


def test_set_an_anchored_value_in_a_dependency_config_changes_every_alias_and_merge_of_it(
        project):
    """In a config a stage reads only as a dependency, -S of a value written under an anchor
    sets it in its text, anchor kept: each alias of it and each mapping merging it reads the
    new value, as the file says."""
    config = "defaults: &d\n  lr: 0.1\ndev:\n  <<: *d\n  ep: 5\nseed: &s 1\nother_seed: *s\n"
    _dependency_config(project, config)
    must("exp", "run", "-S", "conf.yaml:defaults.lr=0.3", "-n", "anchored", cwd=project)
    assert (project / "conf.yaml").read_text() == config.replace("0.1", "0.3")
    must("exp", "run", "-S", "conf.yaml:seed=2", "-n", "scalar", cwd=project)
    assert (project / "conf.yaml").read_text() == config.replace("0.1", "0.3").replace(
        "&s 1", "&s 2")


def test_set_inside_an_alias_in_a_dependency_config_is_refused_naming_the_anchored_value(
        project):
    """-S of a key inside an alias (`other.0` where `other: *l`) would change the anchored
    value and every alias of it: refused, naming the value to set instead, as is an anchored
    value in block style set whole (rewritten, it would lose its anchor); nothing written."""
    config = "list: &l [1, 2]\nother: *l\nbase: &b\n  lr: 0.1\nprod: *b\n"
    _dependency_config(project, config)
    for key, anchored in (("other.0", "list.0"), ("prod.lr", "base.lr")):
        refused = run_dvx("exp", "run", "-S", f"conf.yaml:{key}=9", cwd=project)
        said = " ".join(refused.stderr.split())
        assert refused.code == 2, refused.output
        assert "alias" in said and f"-S conf.yaml:{anchored}=" in said, said
        assert "Quote" not in said and "Traceback" not in refused.output
        assert (project / "conf.yaml").read_text() == config
    refused = run_dvx("exp", "run", "-S", "conf.yaml:base={lr: 0.5}", cwd=project)
    said = " ".join(refused.stderr.split())
    assert refused.code == 2 and "anchored as &b" in said and "Quote" not in said, said
    assert (project / "conf.yaml").read_text() == config
    assert git(project, "for-each-ref", "refs/exps") == ""


def test_set_an_alias_or_a_merged_key_in_a_dependency_config_sets_that_key_alone(project):
    """-S of a key whose whole value is an alias, or a key a mapping merges in, sets that key
    alone: the alias is replaced by the value, the merged key written in the merging mapping;
    the anchored value keeps its own."""
    config = "defaults: &d\n  lr: 0.1\ndev:\n  <<: *d\n  ep: 5\nseed: &s 1\nother_seed: *s\n"
    _dependency_config(project, config)
    must("exp", "run", "-S", "conf.yaml:other_seed=2", "-S", "conf.yaml:dev.lr=0.3",
         "-n", "alone", cwd=project)
    assert yaml.safe_load((project / "conf.yaml").read_text()) == {
        "defaults": {"lr": 0.1}, "dev": {"lr": 0.3, "ep": 5}, "seed": 1, "other_seed": 2}
    assert "&d" in (project / "conf.yaml").read_text()


def test_set_param_refusing_a_params_file_for_its_size_names_the_limit_not_anchors(project):
    """A params file over the 1 MiB dvx reads of one, which the run would refuse too: -S
    refuses it naming that limit and how to keep large values out of it, never advising to
    write out anchors or aliases it has none of; nothing is written."""
    params = "train:\n  epochs: 3\nbig: \"" + "x" * (1 << 20) + "\"\n"
    write(project / "params.yaml", params)
    refused = run_dvx("exp", "run", "-S", "train.epochs=4", cwd=project)
    said = " ".join(refused.stderr.split())
    assert refused.code == 2 and "Traceback" not in refused.output, refused.output
    assert "larger than 1048576 bytes" in said and "at most 1 MiB" in said, said
    assert "Nothing was written" in said and "anchors" not in said, said
    assert (project / "params.yaml").read_text() == params


def test_set_the_same_value_twice_in_a_dependency_config_the_later_set_wins(project):
    """Two -S of one value in a config a stage reads as a dependency, the same key twice or a
    mapping then a key inside it: the later one wins, as written, never an internal error."""
    config = "model: {depth: 2, width: 8}\nseed: 1\n"
    _dependency_config(project, config)
    must("exp", "run", "-S", "conf.yaml:seed=2", "-S", "conf.yaml:seed=3", "-n", "twice",
         cwd=project)
    assert (project / "conf.yaml").read_text() == config.replace("seed: 1", "seed: 3")
    ran = run_dvx("exp", "run", "-S", "conf.yaml:model={depth: 3, width: 16}",
                  "-S", "conf.yaml:model.depth=4", "-n", "nested", cwd=project)
    assert ran.code == 0 and "internal error" not in ran.output, ran.output
    assert yaml.safe_load((project / "conf.yaml").read_text()) == {
        "model": {"depth": 4, "width": 16}, "seed": 3}


def test_set_a_tagged_and_anchored_value_in_a_dependency_config_keeps_tag_and_anchor(project):
    """-S of a value written with a tag and an anchor, in either order, replaces the value
    alone: tag and anchor stay, so each alias of it reads the new value."""
    config = "base: !!float &b 1.5\nother: *b\nlast: &l !!float 0.5\nmore: *l\n"
    _dependency_config(project, config)
    must("exp", "run", "-S", "conf.yaml:base=2.5", "-S", "conf.yaml:last=3.5", "-n", "tagged",
         cwd=project)
    assert (project / "conf.yaml").read_text() == config.replace("1.5", "2.5").replace(
        "0.5", "3.5")


def test_set_param_refuses_a_config_whose_aliases_expand_past_a_bound(project):
    """A config a stage reads as a dependency, built as an alias bomb ("billion laughs": ten
    aliases of ten aliases of ...), is refused at once, never expanded; nothing is written."""
    levels = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"] + [
        f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 12)]
    bomb = "\n".join(levels) + "\nmodel:\n  lr: 0.1\n"
    write(project / "conf.yaml", bomb)
    write(project / "dvx.yaml", DVX_YAML.replace("deps: [", "deps: [conf.yaml, "))
    git(project, "add", "-A")
    git(project, "commit", "-qm", "bomb")
    refused = run_dvx_proc("exp", "run", "-S", "conf.yaml:model.lr=0.2", cwd=project, timeout=60)
    said = " ".join(refused.stderr.split())
    assert refused.code == 2 and "more than 1000000 values" in said, refused.output
    assert "aliases" in said and "Nothing was written" in said
    assert "Traceback" not in refused.output
    assert (project / "conf.yaml").read_text() == bomb


def test_set_param_keeps_windows_line_ends_and_a_byte_order_mark(project):
    """A params file committed from Windows changes by the one line -S sets."""
    crlf = "\ufeff# how to train\r\ntrain:\r\n  lr: 0.1  # step size\r\n  epochs: 3\r\n"
    write(project / "params.yaml", crlf)
    write(project / "p.json", '\ufeff{\r\n  "a": 1,\r\n  "b": 2\r\n}\r\n')
    must("exp", "run", "-S", "train.lr=0.2", "-S", "p.json:a=3", "-n", "windows", cwd=project)
    assert (project / "params.yaml").read_bytes() == crlf.replace("0.1", "0.2").encode()
    assert (project / "p.json").read_bytes() == b'\xef\xbb\xbf{\r\n  "a": 3,\r\n  "b": 2\r\n}\r\n'
    assert _show(project)["windows"]["params"]["params.yaml"]["train.lr"] == 0.2


def test_set_param_keeps_each_line_end_of_a_file_mixing_them(project):
    """A file whose lines end some with "\r\n", some with "\n" changes by the value -S sets
    alone: every other line keeps its own end."""
    mixed = "# how to train\r\ntrain:\n  lr: 0.1  # step size\r\n  epochs: 3\n"
    write(project / "params.yaml", mixed)
    must("exp", "run", "-S", "train.lr=0.2", "-n", "mixed", cwd=project)
    assert (project / "params.yaml").read_bytes() == mixed.replace("0.1", "0.2").encode()
    assert _show(project)["mixed"]["params"]["params.yaml"]["train.lr"] == 0.2


def test_a_params_file_that_cannot_be_read_is_one_clear_error(project):
    write(project / "params.yaml", "train:\n  lr: 0.1\n  lr: 0.2\n  epochs: 3\n")
    for args, message in ((("-S", "train.lr=0.3"), "duplicate key"),
                          (("-S", "+p.json:a=1"), "cannot set params in 'p.json'"),
                          (("--queue", "-S", "train.lr=0.3"), "duplicate key")):
        write(project / "p.json", "{bad")
        result = run_dvx("exp", "run", *args, cwd=project)
        assert result.code == 2 and message in result.stderr, result.output
        assert "Traceback" not in result.output and "internal error" not in result.output
    write(project / "p.json", '{"a": 1, "a": 2}')  # json.loads would keep the last
    twice = run_dvx("exp", "run", "-S", "p.json:a=3", cwd=project)
    assert twice.code == 2 and "the key 'a' is twice" in twice.stderr, twice.output
    assert (project / "p.json").read_text() == '{"a": 1, "a": 2}'
    write(project / "params.yaml", "<<<<<<< HEAD\ntrain: {lr: 0.1}\n=======\n"
                                   "train: {lr: 0.2}\n>>>>>>> theirs\n")
    conflicted = run_dvx("exp", "run", "-S", "train.lr=0.3", cwd=project)
    assert conflicted.code == 2 and "conflict markers" in conflicted.stderr


def test_apply_leaves_data_git_does_not_track_and_keeps_unsaved_outputs(project):
    must("exp", "run", "-S", "train.lr=0.01", "-n", "low", cwd=project)
    git(project, "checkout", "-q", "--", ".")
    must("checkout", cwd=project)
    write(project / "data" / "raw.csv", "a\nb\nc\nmy row, in no cache\n")  # an input
    applied = run_dvx("exp", "apply", "low", "--force", cwd=project)
    assert applied.code == 0, applied.output
    assert (project / "data" / "raw.csv").read_text().endswith("my row, in no cache\n")
    assert (project / "model.bin").read_text() == "model lr=0.01 epochs=3 rows=3"

    git(project, "checkout", "-q", "--", ".")
    must("checkout", "model.bin", cwd=project)
    write(project / "model.bin", "tuned by hand")  # an output, in no cache
    refused = run_dvx("exp", "apply", "low", cwd=project)
    assert refused.code == 2 and "model.bin" in refused.stderr
    assert "lr: 0.1" in (project / "params.yaml").read_text()  # nothing was written
    assert git(project, "status", "--porcelain", "--untracked-files=no") == ""


def test_apply_brings_the_metrics_of_the_outputs_it_checks_out(repo):
    write(repo / "make.py", "import json, sys, yaml\nkey = sys.argv[1]\n"
                            "value = yaml.safe_load(open('params.yaml'))[key]\n"
                            "open(key + '.bin', 'w').write(str(value))\n"
                            "if key == 'b':\n    json.dump({'e': value}, open('m.json', 'w'))\n")
    write(repo / "params.yaml", "a: 1\nb: 3\n")
    run_and_commit(repo, f"""stages:
  sa:
    cmd: {sys.executable} make.py a
    params: [a]
    outs: [a.bin]
  sb:
    cmd: {sys.executable} make.py b
    params: [b]
    outs: [b.bin]
    metrics:
      - m.json:
          cache: false
""", "baseline")
    must("exp", "run", "-S", "a=5", "-n", "A", cwd=repo)  # its metrics: the baseline's
    git(repo, "checkout", "-q", "--", ".")
    must("checkout", cwd=repo)
    must("exp", "run", "-S", "b=9", "-n", "B", cwd=repo)
    applied = run_dvx("exp", "apply", "A", cwd=repo)
    assert applied.code == 0, applied.output
    assert (repo / "b.bin").read_text() == "3"  # A's dvx.lock: checked out
    assert json.loads((repo / "m.json").read_text()) == {"e": 3}  # and its metrics with it
    assert run_dvx("status", "-q", cwd=repo).code == 0


def _plots_pipeline(repo, script: str) -> None:
    """A stage writing a plots directory (cache: false, Git tracks it) from the param n."""
    write(repo / "params.yaml", "n: 1\n")
    write(repo / "plot.sh", "n=$(grep n: params.yaml | cut -d' ' -f2); mkdir -p plots\n"
          + script)
    must("stage", "add", "-n", "ev", "-p", "n", "-d", "plot.sh", "--plots", "plots",
         "sh plot.sh", cwd=repo)
    must("repro", cwd=repo)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "baseline")


def test_apply_over_a_file_the_workspace_lacks_loses_nothing_and_goes_ahead(repo):
    _plots_pipeline(repo, "rm -f plots/*; echo $n > plots/p$n.csv\n")
    must("exp", "run", "-S", "n=2", "-n", "e2", cwd=repo)
    must("exp", "run", "-S", "n=3", "-n", "e3", cwd=repo)  # deletes the baseline's p1.csv
    assert not (repo / "plots" / "p1.csv").exists()
    applied = run_dvx("exp", "apply", "e2", cwd=repo)
    assert applied.code == 0, applied.output
    assert (repo / "plots" / "p2.csv").read_text() == "2\n"

    git(repo, "checkout", "-q", "--", ".")
    git(repo, "clean", "-qfd", "plots")
    (repo / "params.yaml").unlink()  # by hand: HEAD has it, nothing to lose
    applied = run_dvx("exp", "apply", "e3", cwd=repo)
    assert applied.code == 0, applied.output
    assert (repo / "params.yaml").read_text() == "n: 3\n"


def test_apply_leaves_a_plots_directory_as_the_experiment_has_it(repo):
    _plots_pipeline(repo, "echo base > plots/base.csv; [ $n = 1 ] || echo $n > plots/p$n.csv\n")
    must("exp", "run", "-S", "n=2", "-n", "e2", cwd=repo)
    must("exp", "run", "-S", "n=3", "-n", "e3", cwd=repo)
    applied = run_dvx("exp", "apply", "e2", cwd=repo)
    assert applied.code == 0, applied.output
    assert sorted(os.listdir(repo / "plots")) == ["base.csv", "p2.csv"]  # e3's p3.csv: gone
    assert run_dvx("status", "-q", cwd=repo).code == 0  # the plots dvx.lock records

    write(repo / "plots" / "mine.csv", "no run made me\n")
    for args in ((), ("--force",)):
        refused = run_dvx("exp", "apply", "e3", *args, cwd=repo)
        assert refused.code == 2 and "plots/mine.csv" in refused.stderr, refused.output
        assert "n: 2" in (repo / "params.yaml").read_text()  # nothing was written
    assert (repo / "plots" / "mine.csv").read_text() == "no run made me\n"
    (repo / "plots" / "mine.csv").unlink()
    assert run_dvx("exp", "apply", "e3", cwd=repo).code == 0
    assert sorted(os.listdir(repo / "plots")) == ["base.csv", "p3.csv"]
    assert run_dvx("status", "-q", cwd=repo).code == 0


@pytest.mark.parametrize("force", [(), ("--force",)])
def test_apply_never_deletes_a_repository_of_yours_where_a_cache_false_output_goes(repo, force):
    """A folder holding a repository of the user's own (`git init`, a commit) where a
    `cache: false` output goes, a file or a directory: the apply is refused before anything
    is written, --force or not, and the repository stays whole."""
    write(repo / "params.yaml", "n: 1\n")
    write(repo / "gen.sh", "n=$(cut -d' ' -f2 params.yaml); echo \"{\\\"n\\\": $n}\" > m.json\n"
          "mkdir -p plots; echo $n > plots/p.csv\n")
    must("stage", "add", "-n", "s", "-p", "n", "-d", "gen.sh", "-m", "m.json", "--plots",
         "plots", "sh gen.sh", cwd=repo)
    must("repro", cwd=repo)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "baseline")
    must("exp", "run", "-S", "n=2", "-n", "e1", cwd=repo)
    git(repo, "checkout", "-q", "--", ".")
    (repo / "m.json").unlink()
    shutil.rmtree(repo / "plots")
    for mine in ("m.json", "plots"):
        git(repo, "init", "-q", mine)
        git(repo / mine, "commit", "-q", "--allow-empty", "-m", "precious")
    refused = run_dvx("exp", "apply", "e1", *force, cwd=repo)
    assert refused.code == 2, refused.output
    assert "m.json/.git" in refused.stderr and "repository of its own" in refused.stderr
    assert (repo / "params.yaml").read_text() == "n: 1\n"  # nothing was written
    for mine in ("m.json", "plots"):
        assert git(repo / mine, "log", "--format=%s").strip() == "precious"

    shutil.rmtree(repo / "m.json")  # the plots folder alone holds a repository now
    refused = run_dvx("exp", "apply", "e1", *force, cwd=repo)
    assert refused.code == 2 and "plots/.git" in refused.stderr, refused.output
    assert git(repo / "plots", "log", "--format=%s").strip() == "precious"


@pytest.mark.parametrize("force", [(), ("--force",)])
def test_apply_never_deletes_a_repository_of_yours_where_the_experiment_has_a_file(project,
                                                                                   force):
    write(project / "notes.md", "the experiment's\n")
    must("exp", "save", "-n", "tuned", cwd=project)
    (project / "notes.md").unlink()
    git(project, "init", "-q", "notes.md")
    git(project / "notes.md", "commit", "-q", "--allow-empty", "-m", "precious")
    refused = run_dvx("exp", "apply", "tuned", *force, cwd=project)
    assert refused.code == 2, refused.output
    assert "notes.md (a folder holding 'notes.md/.git'" in refused.stderr
    assert git(project / "notes.md", "log", "--format=%s").strip() == "precious"


@pytest.mark.parametrize("force", [(), ("--force",)])
def test_apply_never_writes_into_a_repository_of_yours_where_the_experiment_has_a_folder(
        project, force):
    """A folder of the workspace holding a `.git` (a clone, a submodule) is another
    repository's: an experiment with files below that path is refused, naming it, and
    nothing is written into it."""
    write(project / "notes" / "a.md", "the experiment's\n")
    must("exp", "save", "-n", "tuned", cwd=project)
    shutil.rmtree(project / "notes")
    git(project, "init", "-q", "notes")
    git(project / "notes", "commit", "-q", "--allow-empty", "-m", "precious")
    refused = run_dvx("exp", "apply", "tuned", *force, cwd=project)
    assert refused.code == 2, refused.output
    said = " ".join(refused.stderr.split())
    assert "notes/a.md (notes holds 'notes/.git', a repository of its own)" in said, said
    assert not (project / "notes" / "a.md").exists()
    assert git(project / "notes", "status", "--porcelain") == ""


def test_apply_never_undoes_what_head_changed_since_the_experiment(project):
    must("exp", "run", "-S", "train.lr=0.01", "-n", "low", cwd=project)
    git(project, "checkout", "-q", "--", ".")
    must("checkout", cwd=project)
    write(project / "README.md", "notes\n")  # a teammate's commit touching other files
    git(project, "add", "README.md")
    git(project, "commit", "-qm", "readme")
    assert run_dvx("exp", "apply", "low", cwd=project).code == 0
    assert (project / "README.md").read_text() == "notes\n"
    assert "lr: 0.01" in (project / "params.yaml").read_text()

    git(project, "checkout", "-q", "--", ".")
    must("checkout", cwd=project)
    write(project / "params.yaml", "train:\n  lr: 0.1\n  epochs: 4\n")  # the same file
    must("repro", cwd=project)
    git(project, "commit", "-qam", "four epochs")
    refused = run_dvx("exp", "apply", "low", cwd=project)
    assert refused.code == 2 and "since then HEAD changed" in refused.stderr
    assert "epochs: 4" in (project / "params.yaml").read_text()


def test_apply_makes_links_and_modes_as_git_does_and_never_writes_through_a_link(project):
    write(project / "a.yaml", "lr: 1\n")
    write(project / "b.yaml", "lr: 2\n")
    os.symlink("a.yaml", project / "cfg.yaml")
    write(project / "run.sh", "echo hi\n")
    git(project, "add", "-A")
    git(project, "commit", "-qm", "configs")
    os.unlink(project / "cfg.yaml")
    os.symlink("b.yaml", project / "cfg.yaml")
    os.chmod(project / "run.sh", 0o755)
    must("exp", "save", "-n", "switched", cwd=project)
    os.unlink(project / "cfg.yaml")
    os.symlink("a.yaml", project / "cfg.yaml")
    os.chmod(project / "run.sh", 0o644)
    assert run_dvx("exp", "apply", "switched", cwd=project).code == 0
    assert os.readlink(project / "cfg.yaml") == "b.yaml"
    assert os.access(project / "run.sh", os.X_OK)
    assert (project / "a.yaml").read_text() == "lr: 1\n"  # not written through the old link


@pytest.mark.parametrize("fault", ["place.before_rename", "atomic_write.before_rename:3"])
def test_an_apply_killed_while_it_checks_out_is_finished_by_running_it_again(project, fault):
    """`exp apply` killed while it places an output whose dvx.lock entry it had written
    already (the baseline's model, which the workspace's entry now agrees with), or once it
    placed it but before it recorded it placed: status names the apply, and the apply run
    again places the model rather than take the entry's agreement for the data's. Applying
    another experiment after it goes ahead."""
    write(project / "train.py", TRAIN + "# tidied\n")  # the same model, another dvx.lock
    must("exp", "run", "-n", "tidy", cwd=project)
    git(project, "checkout", "-q", "--", "train.py")
    must("exp", "run", "-S", "train.lr=0.01", "-n", "low", cwd=project)
    killed = run_dvx_proc("exp", "apply", "tidy", cwd=project, env={"DVX_FAULT": fault})
    assert killed.code == -signal.SIGKILL, killed.output
    assert "`dvx exp apply tidy`: stopped before it finished" in run_dvx(
        "status", cwd=project).stdout
    assert run_dvx("status", "-q", cwd=project).code == 1
    again = run_dvx("exp", "apply", "tidy", cwd=project)
    assert again.code == 0, again.output
    assert (project / "model.bin").read_text() == "model lr=0.1 epochs=3 rows=3"
    assert (project / "train.py").read_text() == TRAIN + "# tidied\n"
    assert run_dvx("status", "-q", cwd=project).code == 0  # all checked out, nothing stopped
    back = run_dvx("exp", "apply", "low", cwd=project)
    assert back.code == 0, back.output
    assert (project / "model.bin").read_text() == "model lr=0.01 epochs=3 rows=3"


def test_a_save_killed_while_it_stores_the_workspace_is_finished_by_a_later_save(project):
    """`exp save -n first` killed as it stores a model made by hand: status names it, and says
    to look for the experiment before saving it again; a later `exp save -n final` of the
    same workspace does its work, so no command names it any more."""
    write(project / "params.yaml", "train:\n  lr: 0.3\n  epochs: 3\n")
    subprocess.run([sys.executable, "train.py"], cwd=project, check=True)  # a run by hand
    killed = run_dvx_proc("exp", "save", "-n", "first", cwd=project,
                          env={"DVX_FAULT": "cache.before_publish"})
    assert killed.code == -signal.SIGKILL, killed.output
    named = run_dvx("status", cwd=project).output
    assert "`dvx exp save -n first`" in named and "`dvx exp show`" in named, named
    saved = run_dvx("exp", "save", "-n", "final", cwd=project)
    assert saved.code == 0, saved.output
    status = run_dvx("status", cwd=project)
    assert "exp save" not in status.output and status.code == 0, status.output
    assert set(_show(project)) == {"workspace", "main", "final"}
    assert not (project / ".dvx" / "tmp" / "lock.stopped").exists()


def test_a_save_killed_while_it_stores_the_workspace_is_finished_by_a_later_exp_run(project):
    """`exp save -n first` killed as it stores data edited here, no stage's outputs changed
    by hand: a later `exp run` of every stage, ended without an error, records the whole
    workspace as an experiment, that data committed, as a save would, so no command names
    the stopped save any more."""
    write(project / "data" / "raw.csv", "a\nb\nc\nd\n")
    killed = run_dvx_proc("exp", "save", "-n", "first", cwd=project,
                          env={"DVX_FAULT": "cache.before_publish"})
    assert killed.code == -signal.SIGKILL, killed.output
    assert "`dvx exp save -n first`" in run_dvx("status", cwd=project).output
    ran = run_dvx("exp", "run", "-S", "train.lr=0.2", "-n", "final", cwd=project)
    assert ran.code == 0, ran.output
    status = run_dvx("status", cwd=project)
    assert "exp save" not in status.output and status.code == 0, status.output
    assert _show(project)["final"]["params"]["params.yaml"]["train.lr"] == 0.2
    assert _show(project)["final"]["metrics"]["metrics.json"]["rows"] == 4
    assert not (project / ".dvx" / "tmp" / "lock.stopped").exists()


def test_a_save_killed_is_still_named_after_an_exp_run_that_leaves_a_frozen_stage_s_hand_run(
        repo):
    """A frozen stage's output run by hand, and `exp save` killed as it stores it: an
    `exp run` of every stage never runs the frozen one, so it leaves that output
    unrecorded, and the stopped save stays named, its notice asking for a save."""
    write(repo / "data.txt", "raw\n")
    must("add", "data.txt", cwd=repo)
    must("stage", "add", "-n", "prep", "-d", "data.txt", "-o", "prep.txt",
         "cat data.txt > prep.txt", cwd=repo)
    must("stage", "add", "-n", "train", "-d", "prep.txt", "-o", "model.txt",
         "cat prep.txt > model.txt", cwd=repo)
    must("repro", cwd=repo)
    must("freeze", "prep", cwd=repo)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "baseline")
    write(repo / "prep.txt", "hand-run prep\n")
    killed = run_dvx_proc("exp", "save", "-n", "first", cwd=repo,
                          env={"DVX_FAULT": "cache.before_publish"})
    assert killed.code == -signal.SIGKILL, killed.output
    ran = run_dvx("exp", "run", "-n", "later", cwd=repo)
    assert ran.code == 0, ran.output
    assert "any `dvx exp save` of this workspace, under any name, does the save's work" in \
        " ".join(ran.output.split())
    status = run_dvx("status", cwd=repo)
    assert "`dvx exp save -n first`: stopped before it finished" in status.stdout, status.output
    saved = run_dvx("exp", "save", "-n", "final", cwd=repo)
    assert saved.code == 0, saved.output
    assert "exp save" not in run_dvx("status", cwd=repo).output


REPORT_STAGE = "  report:\n    cmd: echo report > report.txt\n    outs: [report.txt]\n"


def _hand_run(project):
    write(project / "params.yaml", "train:\n  lr: 0.3\n  epochs: 3\n")
    subprocess.run([sys.executable, "train.py"], cwd=project, check=True)


def _frozen_and_edited(project):
    write(project / "dvx.yaml", DVX_YAML.replace("  train:\n", "  train:\n    frozen: true\n"))
    git(project, "commit", "-qam", "train frozen")
    write(project / "model.bin", "edited by hand\n")


@pytest.mark.parametrize("left, ran_by", [
    (_hand_run, ("exp", "run", "-S", "train.lr=0.2")),
    (_frozen_and_edited, ("exp", "run", "-S", "train.lr=0.2")),
    (_hand_run, ("exp", "run", "-S", "train.lr=0.2", "report")),
    (_hand_run, ("exp", "run", "--queue", "-S", "train.lr=0.2")),
], ids=["hand-run-stage", "frozen-stage-edited", "some-stages", "queued"])
def test_a_save_killed_stays_named_after_an_exp_run_that_would_not_record_its_work(
        project, left, ran_by):
    """`exp save` killed as it stores a stage's outputs changed by hand: an `exp run` that
    would not record them stays short of the save's work, so the stopped save is still
    named: a run of every stage reruns a stage run by hand (its output overwritten, never
    cached) and leaves a frozen stage's edited output unrecorded; a run of some stages
    leaves the others; a queued run records a worktree of its own."""
    run_and_commit(project, DVX_YAML + REPORT_STAGE, "a report")
    left(project)
    killed = run_dvx_proc("exp", "save", "-n", "first", cwd=project,
                          env={"DVX_FAULT": "cache.before_publish"})
    assert killed.code == -signal.SIGKILL, killed.output
    ran = run_dvx(*ran_by, "-n", "later", cwd=project)
    assert ran.code == 0, ran.output
    if "--queue" in ran_by:
        assert run_dvx("queue", "start", cwd=project).code == 0
    status = run_dvx("status", cwd=project)
    assert "`dvx exp save -n first`" in status.output, status.output
    assert (project / ".dvx" / "tmp" / "lock.stopped").exists()


def test_a_save_stopped_by_ctrl_c_after_it_wrote_dvx_lock_says_to_look_in_exp_show_first(
        project):
    """Ctrl-C of `exp save -n first` once it wrote dvx.lock, before it recorded the
    experiment: it says what it may have left and to look for the experiment in `dvx exp show`
    before saving again, never that nothing was left half-written; status names it, as
    after kill -9, until a later save of the workspace does its work."""
    write(project / "params.yaml", "train:\n  lr: 0.3\n  epochs: 3\n")
    subprocess.run([sys.executable, "train.py"], cwd=project, check=True)  # a run by hand
    saving = stopped_at("commit.after_lock_write", "exp save -n first", project)
    saving.send_signal(signal.SIGINT)
    saving.send_signal(signal.SIGCONT)
    _, err = saving.communicate(timeout=60)
    assert saving.returncode == 128 + signal.SIGINT, err
    said = " ".join(err.split())
    assert "Nothing was left half-written" not in said, said
    assert "its experiment recorded or not" in said, said
    assert "Look for the experiment in `dvx exp show` first" in said, said
    status = run_dvx("status", cwd=project)
    assert "`dvx exp save -n first`: stopped before it finished" in status.stdout, status.output
    assert "look for its experiment in `dvx exp show` first" in status.stdout, status.output
    assert run_dvx("status", "-q", cwd=project).code == 1
    saved = run_dvx("exp", "save", "-n", "final", cwd=project)
    assert saved.code == 0, saved.output
    assert run_dvx("status", "-q", cwd=project).code == 0
    assert set(_show(project)) == {"workspace", "main", "final"}


def test_an_exp_run_killed_once_its_experiment_is_recorded_says_to_look_in_exp_show_first(
        project):
    """`exp run` killed just after it recorded its experiment: status names it and says to
    look for the experiment in `dvx exp show` before running it again (which would record it
    twice), as for a stopped `exp save`, never only to run it again."""
    killed = run_dvx_proc("exp", "run", "-S", "train.lr=0.2", "-n", "first", cwd=project,
                          env={"DVX_FAULT": "exp.ref_made"})
    assert killed.code == -signal.SIGKILL, killed.output
    assert "first" in _show(project)
    status = run_dvx("status", cwd=project)
    said = " ".join(status.output.split())
    assert "`dvx exp run -S train.lr=0.2 -n first` in this repository was stopped" in said, said
    assert "Look for its experiment in `dvx exp show` first: it may have been recorded" in said


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_an_apply_stopped_by_ctrl_c_says_what_it_left_and_stays_named(project, signum):
    """Ctrl-C (SIGTERM, SIGHUP) of `exp apply` once it wrote the experiment's params and
    dvx.lock, before it placed the model they record: it says the workspace may be part one
    experiment, part another, and how to finish or give it up, never that nothing was left
    half-written; status names it, as after kill -9, until it is run again."""
    must("exp", "run", "-S", "train.lr=0.01", "-n", "low", cwd=project)
    must("exp", "run", "-S", "train.lr=0.05", "-n", "mid", cwd=project)
    applying = stopped_at("place.before_rename", "exp apply low", project)
    applying.send_signal(signum)
    applying.send_signal(signal.SIGCONT)
    _, err = applying.communicate(timeout=60)
    assert applying.returncode == 128 + signum, err
    said = " ".join(err.split())
    assert "The workspace may be left part one experiment, part another" in said, said
    assert "Run the command again to finish; to give it up, set the files Git tracks" in said
    assert "Nothing was left half-written" not in said
    assert "lr: 0.01" in (project / "params.yaml").read_text()  # half-applied: low's params
    assert (project / "model.bin").read_text() == "model lr=0.05 epochs=3 rows=3"  # mid's
    assert "`dvx exp apply low`: stopped before it finished" in run_dvx(
        "status", cwd=project).stdout
    assert run_dvx("status", "-q", cwd=project).code == 1
    again = run_dvx("exp", "apply", "low", cwd=project)
    assert again.code == 0, again.output
    assert (project / "model.bin").read_text() == "model lr=0.01 epochs=3 rows=3"
    assert run_dvx("status", "-q", cwd=project).code == 0


@pytest.mark.parametrize("point, said_by", [("apply.after_file:2", "Make room there."),
                                             ("place.before_rename", "Skipped model.bin")])
def test_an_apply_failing_part_way_says_what_it_left_and_stays_named(project, point, said_by):
    """`exp apply` ended by a full disk once it began writing, raised while it writes the
    experiment's files or met as it places the model they record: it says the workspace
    may be part one experiment, part another, never that nothing was left half-written,
    and status names it until it is run again."""
    must("exp", "run", "-S", "train.lr=0.01", "-n", "low", cwd=project)
    must("exp", "run", "-S", "train.lr=0.05", "-n", "mid", cwd=project)
    full = run_dvx_proc("exp", "apply", "low", cwd=project,
                        env={"DVX_FAULT": point, "DVX_FAULT_ACTION": "enospc"})
    assert full.code == 1, full.output
    said = " ".join(full.stderr.split())
    assert said_by in said, said
    assert "The workspace may be left part one experiment, part another" in said, said
    assert "Nothing was left half-written" not in said
    assert (project / "model.bin").read_text() == "model lr=0.05 epochs=3 rows=3"  # mid's
    assert "`dvx exp apply low`: ended by an error before it finished" in run_dvx(
        "status", cwd=project).stdout
    again = run_dvx("exp", "apply", "low", cwd=project)
    assert again.code == 0, again.output
    assert (project / "model.bin").read_text() == "model lr=0.01 epochs=3 rows=3"
    assert run_dvx("status", "-q", cwd=project).code == 0


@pytest.mark.parametrize("fault", ["apply.after_file:2", "place.before_rename:2"])
def test_status_after_a_killed_apply_says_the_apply_left_its_outputs_not_checked_out(repo,
                                                                                     fault):
    """`exp apply` killed after it wrote dvx.lock, before it placed the outputs it records
    (none of a directory's files, or some): status says the stopped apply has not checked
    them out yet, of their dvx.lock entry, never that a pointer changed outside a commit
    or was written by a `dvx add`, and that running it again checks them out."""
    write(repo / "params.yaml", "lr: 0.1\n")
    write(repo / "s.py", "import os, yaml\nlr = yaml.safe_load(open('params.yaml'))['lr']\n"
          "os.makedirs('outdir', exist_ok=True)\nfor n in range(5):\n"
          "    open(f'outdir/{n}.txt', 'w').write(f'{n} {lr}')\n"
          "open('model.bin', 'w').write(f'model {lr}')\n")
    run_and_commit(repo, f"stages:\n  s:\n    cmd: {sys.executable} s.py\n"
                   "    deps: [s.py]\n    params: [lr]\n    outs: [outdir, model.bin]\n",
                   "baseline")
    must("exp", "run", "-S", "lr=0.2", "-n", "e2", cwd=repo)
    must("exp", "run", "-S", "lr=0.3", "-n", "e3", cwd=repo)
    killed = run_dvx_proc("exp", "apply", "e2", cwd=repo, env={"DVX_FAULT": fault})
    assert killed.code == -signal.SIGKILL, killed.output
    said = run_dvx("status", cwd=repo).stdout
    assert "outdir: dvx.lock entry changed by the stopped `dvx exp apply e2`, data not " \
        "checked out" in said, said
    assert "pointer" not in said and "outside a commit" not in said \
        and "not committed yet" not in said, said
    assert "(running `dvx exp apply e2` again checks out the experiment's data)" in said
    assert run_dvx("exp", "apply", "e2", cwd=repo).code == 0
    assert run_dvx("status", "-q", cwd=repo).code == 0


def test_an_apply_refused_before_it_writes_is_not_named(project):
    """`exp apply` refused over unsaved changes writes nothing: it is not named as stopped."""
    must("exp", "run", "-S", "train.lr=0.01", "-n", "low", cwd=project)
    write(project / "params.yaml", "train:\n  lr: 0.7\n  epochs: 3\n")
    refused = run_dvx_proc("exp", "apply", "low", cwd=project)
    assert refused.code == 2 and "Commit or stash them" in refused.stderr, refused.output
    assert "before it finished" not in run_dvx("status", cwd=project).output


def test_a_killed_apply_given_up_with_a_checkout_of_everything_is_no_longer_named(project):
    """`exp apply` killed while it places an output: the notice says how to give it up
    (set the files Git tracks back, then `dvx checkout`), and a `dvx checkout` of every
    output ending without an error, which places them as dvx.lock says, settles it: status
    no longer names it. A checkout of some outputs only does not."""
    must("exp", "run", "-S", "train.lr=0.01", "-n", "low", cwd=project)
    must("exp", "run", "-S", "train.lr=0.05", "-n", "mid", cwd=project)
    killed = run_dvx_proc("exp", "apply", "low", cwd=project,
                          env={"DVX_FAULT": "place.before_rename"})
    assert killed.code == -signal.SIGKILL, killed.output
    said = " ".join(run_dvx("status", cwd=project).stderr.split())
    assert "to give it up, set the files Git tracks as you want them (`git checkout -- .` " \
        "for HEAD's) and run `dvx checkout`, which places the outputs as dvx.lock says" \
        in said, said
    git(project, "checkout", "-q", "--", ".")
    assert run_dvx("checkout", "model.bin", cwd=project).code == 0
    assert "`dvx exp apply low`: stopped" in run_dvx("status", cwd=project).stdout
    assert run_dvx("checkout", cwd=project).code == 0
    status = run_dvx("status", cwd=project)
    assert status.code == 0 and "stopped" not in status.output, status.output
    assert (project / "model.bin").read_text() == "model lr=0.1 epochs=3 rows=3"


def test_apply_waits_for_a_run_and_writes_nothing_until_it_holds_the_lock(project):
    """`exp apply` while `exp run` runs in another terminal: it writes no file before it
    holds the repository lock, so the workspace is never the apply's params beside the
    run's results. Told not to wait, it is refused with the workspace as the run left it;
    once the run is recorded, the apply makes the workspace its experiment."""
    must("exp", "run", "-S", "train.lr=0.3", "-n", "high", cwd=project)
    git(project, "checkout", "-q", "--", ".")
    must("checkout", cwd=project)
    running = stopped_at("repro.after_command", "exp run -S train.epochs=9 -n slow", project)
    try:
        must("config", "core.lock_wait", "0", cwd=project)
        files = {p: (project / p).read_bytes() for p in ("params.yaml", "dvx.lock")}
        refused = run_dvx("exp", "apply", "-f", "high", cwd=project)
        assert refused.code == 3 and "The repository is locked by" in refused.stderr, \
            refused.output
        assert {p: (project / p).read_bytes() for p in files} == files
        assert "epochs: 9" in files["params.yaml"].decode()  # the run's, left as it was
    finally:
        running.send_signal(signal.SIGCONT)
        out, err = running.communicate(timeout=120)
    assert running.returncode == 0, out + err
    applied = run_dvx("exp", "apply", "high", cwd=project)
    assert applied.code == 0, applied.output
    rows = _show(project)
    assert rows["workspace"]["params"] == rows["high"]["params"]
    assert rows["workspace"]["metrics"] == rows["high"]["metrics"]
    assert (project / "model.bin").read_text() == "model lr=0.3 epochs=3 rows=3"


def test_a_stopped_exp_run_names_exp_run_as_what_runs_it_again(project):
    """Ctrl-C once a stage's command of `exp run` ended: nothing of the experiment is
    recorded, and the way out names `dvx exp run` with the name, -S and -j given (a `dvx
    repro` would record the run in the workspace's dvx.lock, no experiment); running it
    records the experiment so named."""
    running = stopped_at("repro.after_command", "exp run -j 2 -S train.lr=0.4 -n stopped",
                         project)
    running.send_signal(signal.SIGINT)
    running.send_signal(signal.SIGCONT)
    _, err = running.communicate(timeout=120)
    said = " ".join(err.split())
    assert running.returncode == 130 and "Traceback" not in said, err
    assert "`dvx exp run -n stopped -S train.lr=0.4 -j 2` runs the stopped stages again, " \
        "with the params the " \
        "workspace holds now, and records the experiment" in said, said
    assert "`dvx repro`" not in said, said
    assert "stopped" not in _show(project)
    assert run_dvx("exp", "run", "-n", "stopped", "-S", "train.lr=0.4", "-j", "2",
                   cwd=project).code == 0
    assert _show(project)["stopped"]["params"] == _show(project)["workspace"]["params"]
    assert _show(project)["stopped"]["params"]["params.yaml"]["train.lr"] == 0.4


def test_a_stopped_exp_run_adding_a_param_names_a_run_that_sets_it(project):
    """Ctrl-C of `exp run -S +train.seed=7`: the workspace keeps the param it added, so the
    run the stop names sets it (`-S train.seed=7`, as adding it again is refused), and that
    run records the experiment so named."""
    running = stopped_at("repro.after_command",
                         "exp run -S +train.seed=7 -S train.lr=0.4 -n seeded", project)
    running.send_signal(signal.SIGINT)
    running.send_signal(signal.SIGCONT)
    _, err = running.communicate(timeout=120)
    said = " ".join(err.split())
    assert running.returncode == 130 and "Traceback" not in said, err
    again = "dvx exp run -n seeded -S train.seed=7 -S train.lr=0.4"
    assert f"`{again}` runs the stopped stages again" in said, said
    rerun = run_dvx(*again.split()[1:], cwd=project)
    assert rerun.code == 0, rerun.output
    assert _show(project)["seeded"]["params"]["params.yaml"]["train.seed"] == 7


def test_a_failed_exp_run_names_the_run_as_typed_that_records_it(project):
    """A stage of `exp run -n NAME -S ...` fails: the command the error names to run once it
    is mended keeps the name and the params (a param added is set, the workspace keeping
    it), and records the experiment so named; a failed queued run names `exp run --queue`
    with its name and params."""
    good = (project / "train.py").read_text()
    write(project / "train.py", "raise SystemExit(3)\n" + good)
    failed = run_dvx("exp", "run", "-n", "mended", "-S", "train.lr=0.2", "-S", "+train.seed=7",
                     cwd=project)
    said = " ".join(failed.stderr.split())
    again = "dvx exp run -n mended -S train.lr=0.2 -S train.seed=7"
    assert failed.code == 1 and f"fix it and run `{again}` again" in said, said
    write(project / "train.py", good)
    assert run_dvx(*again.split()[1:], cwd=project).code == 0
    assert _show(project)["mended"]["params"]["params.yaml"]["train.seed"] == 7

    git(project, "checkout", "-q", "--", ".")
    write(project / "train.py", "raise SystemExit(3)\n" + good)
    must("exp", "run", "--queue", "-n", "queued", "-S", "+train.seed=8", cwd=project)
    assert run_dvx("queue", "start", cwd=project).code == 1
    logs = " ".join(run_dvx("queue", "logs", "queued", cwd=project).stdout.split())
    assert "queue it again with `dvx exp run --queue -n queued -S +train.seed=8`" in logs, logs


def test_apply_sets_back_git_s_index_too_so_commit_a_commits_the_experiment(project):
    """An experiment made after `git rm` of code and `git add` of new files, then another
    applied that does not change them: the files are set back as committed, and so are their
    entries in Git's index (as `git checkout HEAD -- PATH` would), which the apply says, so
    `git commit -am` commits the experiment and not the other's staged deletion. A change
    the user staged to a file the experiment changes stays staged."""
    must("exp", "run", "-S", "train.lr=0.3", "-n", "plain", cwd=project)
    git(project, "checkout", "-q", "--", ".")
    must("checkout", cwd=project)
    write(project / "notes.md", "notes\n")
    git(project, "add", "notes.md")
    write(project / "train2.py", TRAIN)
    git(project, "rm", "-q", "train.py")
    write(project / "dvx.yaml", DVX_YAML.replace("train.py", "train2.py"))
    git(project, "add", "train2.py")
    write(project / "util.py", "pass\n")
    git(project, "add", "-N", "util.py")  # an intent to add: in the index, holding nothing
    must("exp", "run", "-n", "restructured", cwd=project)
    write(project / "params.yaml", "train:\n  lr: 0.5\n  epochs: 3\n")
    git(project, "add", "params.yaml")  # staged by the user: plain's overwrites it (-f)
    applied = run_dvx("exp", "apply", "-f", "plain", cwd=project)
    assert applied.code == 0, applied.output
    assert "set back as committed, as the experiment does not change them: dvx.yaml, " \
        "notes.md, train.py, train2.py, util.py; in Git's index as well (their staged " \
        "changes undone): notes.md, train.py, train2.py, util.py." in applied.stdout, \
        applied.stdout
    assert (project / "train.py").read_text() == TRAIN
    assert not (project / "train2.py").exists() and not (project / "notes.md").exists()
    assert not (project / "util.py").exists()
    assert git(project, "status", "--porcelain") == \
        " M dvx.lock\n M metrics.json\nMM params.yaml\n"
    git(project, "commit", "-qam", "take plain")
    assert git(project, "show", "--name-only", "--format=", "HEAD").split() == [
        "dvx.lock", "metrics.json", "params.yaml"]
    assert "lr: 0.3" in git(project, "show", "HEAD:params.yaml")


def test_apply_keeps_a_staged_version_nothing_else_holds_in_git_s_index(project):
    """A version of a file the user staged, then edited on, so that an experiment recorded
    the edit and not the staged version: applying another experiment that does not change
    the file sets the workspace back as committed (the edit is the experiment's), but keeps
    the staged version in Git's index, with a warning, rather than leave it only as a
    dangling blob. A staged version the workspace holds too is set back in the index."""
    write(project / "README.md", "a\nb\nc\n")
    write(project / "notes.md", "notes\n")
    git(project, "add", "README.md", "notes.md")
    git(project, "commit", "-qm", "readme")
    must("exp", "run", "-S", "train.lr=0.01", "-n", "low", cwd=project)
    git(project, "checkout", "-q", "--", ".")
    must("checkout", cwd=project)
    write(project / "README.md", "staged only\nb\nc\n")
    write(project / "notes.md", "notes, staged and held by mid\n")
    git(project, "add", "README.md", "notes.md")
    write(project / "README.md", "a\nb\nc, edited on\n")
    must("exp", "run", "-S", "train.lr=0.05", "-n", "mid", cwd=project)
    applied = run_dvx("exp", "apply", "low", cwd=project)
    assert applied.code == 0, applied.output
    assert "set back as committed, as the experiment does not change them: README.md, " \
        "notes.md; in Git's index as well (their staged changes undone): notes.md." \
        in applied.stdout, applied.stdout
    assert "WARNING: kept your staged changes to README.md in Git's index, as no commit or " \
        "experiment holds them" in applied.stderr, applied.stderr
    assert git(project, "show", ":README.md") == "staged only\nb\nc\n"
    assert (project / "README.md").read_text() == "a\nb\nc\n"
    assert git(project, "show", ":notes.md") == (project / "notes.md").read_text() == "notes\n"


def test_apply_stages_the_files_head_lacks_so_commit_a_commits_the_experiment(project):
    """A file the experiment has and HEAD does not (a new metrics file, one Git ignores here
    too) is staged in Git's index, and the apply says so: `git commit -am` then commits the
    experiment, not its changed files without its new ones. `git checkout -- .` leaves it."""
    must("exp", "run", "-S", "train.lr=0.3", "-n", "plain", cwd=project)
    git(project, "checkout", "-q", "--", ".")
    must("checkout", cwd=project)
    write(project / "eval" / "extra.json", '{"f1": 0.5}\n')
    write(project / "extra.yaml", "seed: 1\n")
    git(project, "add", "-f", "extra.yaml")
    must("exp", "run", "-S", "train.lr=0.01", "-n", "extra", cwd=project)
    write(project / ".git" / "info" / "exclude", "extra.yaml\n")
    assert run_dvx("exp", "apply", "plain", cwd=project).code == 0
    assert not (project / "extra.yaml").exists()  # plain's index has it not: set back
    applied = run_dvx("exp", "apply", "extra", cwd=project)
    assert applied.code == 0, applied.output
    assert "Staged in Git's index, as HEAD does not have them: eval/extra.json, extra.yaml" \
        in applied.stdout, applied.stdout
    git(project, "checkout", "-q", "--", ".")
    assert (project / "eval" / "extra.json").read_text() == '{"f1": 0.5}\n'
    must("exp", "apply", "extra", cwd=project)
    again = run_dvx("exp", "apply", "extra", cwd=project)
    assert "Staged" not in again.stdout, again.stdout  # as staged already
    git(project, "commit", "-qam", "take extra")
    assert git(project, "show", "--name-only", "--format=", "HEAD").split() == [
        "dvx.lock", "eval/extra.json", "extra.yaml", "metrics.json", "params.yaml"]


def test_apply_stages_the_ignore_and_attributes_files_head_lacks_that_the_workspace_has_too(
        repo):
    """A .gitignore (and a .gitattributes) the experiment has and HEAD lacks is staged too
    when the workspace already has it as the experiment does (another run of a pipeline
    never run at HEAD wrote the same one), so `git commit -am` commits the experiment."""
    write(repo / "params.yaml", "lr: 0.1\n")
    write(repo / "s.py", "import json, os, yaml\nlr = yaml.safe_load(open('params.yaml'))['lr']\n"
          "os.makedirs('models', exist_ok=True)\n"
          "open('models/model.bin', 'w').write(f'model {lr}')\n"
          "json.dump({'score': lr * 2}, open('m.json', 'w'))\n")
    write(repo / "dvx.yaml", f"stages:\n  train:\n    cmd: {sys.executable} s.py\n"
          "    deps: [s.py]\n    params: [lr]\n    outs: [models/model.bin]\n"
          "    metrics: [m.json]\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "the pipeline, not run yet")
    write(repo / ".gitattributes", "*.json text\n")
    must("exp", "run", "-S", "lr=0.2", "-n", "e2", cwd=repo)
    must("exp", "run", "-S", "lr=0.3", "-n", "e3", cwd=repo)
    applied = run_dvx("exp", "apply", "e2", cwd=repo)
    assert applied.code == 0, applied.output
    assert "Staged in Git's index, as HEAD does not have them: .gitattributes, dvx.lock, " \
        "m.json, models/.gitignore" in applied.stdout, applied.stdout
    git(repo, "commit", "-qam", "keep e2")
    e2 = git(repo, "for-each-ref", "--format=%(objectname)", "refs/exps/*/e2").strip()
    assert git(repo, "diff", "--name-only", "HEAD", e2) == ""
    assert git(repo, "status", "--porcelain") == ""


def test_apply_undoes_a_staged_version_of_its_files_that_a_commit_holds(project):
    """A version of a file the experiment changed that the user staged and another
    experiment holds (`git add` after that experiment's run) is set back in Git's index, and
    the apply names it, so a `git commit` without -a never commits it beside the workspace's
    version; one that nothing else holds stays staged, with a warning."""
    must("exp", "run", "-S", "train.lr=0.3", "-n", "plain", cwd=project)
    git(project, "checkout", "-q", "--", ".")
    must("checkout", cwd=project)
    must("exp", "run", "-S", "train.lr=0.01", "-n", "low", cwd=project)
    git(project, "add", "params.yaml", "metrics.json")  # low's
    applied = run_dvx("exp", "apply", "plain", cwd=project)
    assert applied.code == 0, applied.output
    assert "staged changes a commit or experiment holds undone in Git's index, for the " \
        "experiment's versions: metrics.json, params.yaml." in applied.stdout, applied.stdout
    assert "kept your staged" not in applied.stderr
    assert git(project, "status", "--porcelain", "--untracked-files=no") == \
        " M dvx.lock\n M metrics.json\n M params.yaml\n"

    write(project / "params.yaml", "train:\n  lr: 0.7\n  epochs: 3\n")
    git(project, "add", "params.yaml")  # in no commit: kept, as --force overwrites it
    applied = run_dvx("exp", "apply", "--force", "low", cwd=project)
    assert applied.code == 0, applied.output
    assert "WARNING: kept your staged changes to params.yaml in Git's index" in applied.stderr
    assert "lr: 0.7" in git(project, "show", ":params.yaml")
    assert "lr: 0.01" in (project / "params.yaml").read_text()


def test_apply_names_the_inputs_head_changed_since_the_experiment_ran(project):
    """HEAD moved on since the experiment's baseline and changed an input of its stages (code
    it does not change): the apply keeps HEAD's, and a note names it, as the stage is stale
    then. A commit of other files gives no note."""
    must("exp", "run", "-S", "train.lr=0.01", "-n", "low", cwd=project)
    git(project, "checkout", "-q", "--", ".")
    must("checkout", cwd=project)
    write(project / "README.md", "notes\n")
    git(project, "add", "README.md")
    git(project, "commit", "-qm", "readme")
    applied = run_dvx("exp", "apply", "low", cwd=project)
    assert applied.code == 0 and "Note:" not in applied.stderr, applied.output

    git(project, "checkout", "-q", "--", ".")
    must("checkout", cwd=project)
    write(project / "train.py", TRAIN + "# tidied\n")
    git(project, "commit", "-qam", "tidy")
    applied = run_dvx("exp", "apply", "low", cwd=project)
    assert applied.code == 0, applied.output
    baseline = git(project, "rev-parse", "--short=7", "HEAD~2").strip()
    assert f"Note: HEAD has changed train.py since 'low' ran (on {baseline}); the workspace " \
        "keeps HEAD's versions, so the stages using them are stale" in applied.stderr, \
        applied.stderr
    assert (project / "train.py").read_text().endswith("# tidied\n")
    assert "train: changed deps: train.py" in run_dvx("status", cwd=project).stdout


def test_exp_diff_of_a_revision_compares_it_with_the_workspace(project):
    write(project / "params.yaml", "train:\n  lr: 0.2\n  epochs: 3\n")
    diff = run_dvx("exp", "diff", "HEAD", "--json", cwd=project)
    assert diff.code == 0, diff.output
    assert json.loads(diff.stdout)["params"]["params.yaml"]["train.lr"]["new"] == 0.2


def test_exp_diff_compares_head_with_the_workspace_without_revisions_as_dvc_does(project):
    must("exp", "run", "-S", "train.lr=0.01", "-n", "low", cwd=project)  # the workspace: low's
    diff = run_dvx("exp", "diff", cwd=project)
    assert diff.code == 0, diff.output
    assert "HEAD" in diff.stdout and "workspace" in diff.stdout
    lr = json.loads(run_dvx("exp", "diff", "--json", cwd=project).stdout)["params"]
    assert (lr["params.yaml"]["train.lr"]["old"], lr["params.yaml"]["train.lr"]["new"]) == (
        0.1, 0.01)
    same = run_dvx("exp", "diff", "low", cwd=project)
    assert same.code == 0 and "No params or metrics changed between low and workspace" in \
        same.stdout, same.output


def test_exp_diff_takes_workspace_as_either_side(project):
    must("exp", "run", "-S", "train.lr=0.01", "-n", "low", cwd=project)
    write(project / "params.yaml", "train:\n  lr: 0.2\n  epochs: 3\n")
    for a, b, old, new in (("low", "workspace", 0.01, 0.2), ("workspace", "low", 0.2, 0.01)):
        diff = run_dvx("exp", "diff", a, b, "--json", cwd=project)
        assert diff.code == 0, diff.output
        lr = json.loads(diff.stdout)["params"]["params.yaml"]["train.lr"]
        assert (lr["old"], lr["new"]) == (old, new)
    assert "workspace" in run_dvx("exp", "diff", "low", "workspace", cwd=project).stdout


def test_exp_show_warns_of_a_file_it_cannot_read(project):
    write(project / "params.yaml", "train: [1\n")
    shown = run_dvx("exp", "show", cwd=project)
    assert shown.code == 0, shown.output
    assert "WARNING: workspace: params.yaml: The params file 'params.yaml' is not valid YAML" \
        in shown.stderr


def test_an_experiment_never_takes_a_branch_or_tag_name_and_a_branch_wins_over_one(project):
    git(project, "tag", "v1")
    for args, kind in ((("run", "-S", "train.lr=0.5", "-n", "main"), "a branch"),
                       (("run", "-S", "train.lr=0.5", "-n", "v1"), "a tag"),
                       (("run", "--queue", "-n", "main"), "a branch"),
                       (("save", "-n", "v1"), "a tag")):
        refused = run_dvx("exp", *args, cwd=project)
        assert refused.code == 2 and f"'{args[-1]}' is the name of {kind}" in refused.stderr
    assert git(project, "for-each-ref", "refs/exps", "refs/exps-queue") == ""
    assert "lr: 0.1" in (project / "params.yaml").read_text()  # refused before any write
    # A branch made later with an experiment's name: the branch is what `later` means.
    must("exp", "run", "-S", "train.lr=0.5", "-n", "later", cwd=project)
    git(project, "checkout", "-q", "--", "params.yaml", "metrics.json")
    git(project, "branch", "later")
    same = run_dvx("exp", "diff", "later", cwd=project)
    assert same.code == 0 and "No params or metrics changed between later and workspace" in \
        same.stdout, same.output
    ref = git(project, "for-each-ref", "--format=%(refname)", "refs/exps").strip()
    by_ref = json.loads(run_dvx("exp", "diff", ref, "--json", cwd=project).stdout)
    assert by_ref["params"]["params.yaml"]["train.lr"]["old"] == 0.5  # vs the workspace


def test_an_experiment_never_takes_a_name_git_reads_as_a_commit(project):
    full = git(project, "rev-parse", "HEAD").strip()
    for args in (("run", "-S", "train.lr=0.5", "-n", full[:7]), ("run", "--queue", "-n", full[:7]),
                 ("save", "-n", full[:9]), ("save", "-n", full)):
        refused = run_dvx("exp", *args, cwd=project)
        assert refused.code == 2 and f"'{args[-1]}' already names the commit" in \
            refused.stderr, refused.output
    assert git(project, "for-each-ref", "refs/exps", "refs/exps-queue") == ""
    assert "lr: 0.1" in (project / "params.yaml").read_text()  # refused before any write


def test_an_experiment_never_takes_a_name_git_writes_refs_of_itself(project):
    """Free when the experiment is made, taken by Git later (a `git stash`, a `git pull`'s
    ORIG_HEAD and FETCH_HEAD): a revision argument would then mean Git's."""
    for args in (("run", "-S", "train.lr=0.5", "-n", "stash"), ("run", "--queue", "-n", "Stash"),
                 ("save", "-n", "ORIG_HEAD"), ("run", "-n", "FETCH_HEAD"),
                 ("save", "-n", "CHERRY_PICK_HEAD"), ("save", "-n", "AUTO_MERGE")):
        refused = run_dvx("exp", *args, cwd=project)
        assert refused.code == 2 and f"'{args[-1]}' is a name Git gives its own refs" in \
            refused.stderr, refused.output
        assert "Running stage" not in refused.output
    assert git(project, "for-each-ref", "refs/exps", "refs/exps-queue") == ""
    assert "lr: 0.1" in (project / "params.yaml").read_text()  # refused before any write
    must("exp", "save", "-n", "stash-2", cwd=project)  # only the names themselves
    must("exp", "save", "-n", "BASELINE", cwd=project)  # capitals alone are a user's name


def test_no_experiment_records_an_unresolved_merge(project):
    git(project, "checkout", "-q", "-b", "other")
    write(project / "params.yaml", "train:\n  lr: 0.2\n  epochs: 3\n")
    git(project, "commit", "-qam", "other")
    git(project, "checkout", "-q", "-")
    write(project / "params.yaml", "train:\n  lr: 0.3\n  epochs: 3\n")
    git(project, "commit", "-qam", "ours")
    subprocess.run(["git", "merge", "-q", "other"], cwd=project, capture_output=True)
    for args in (("save",), ("run",), ("run", "--queue")):
        refused = run_dvx("exp", *args, cwd=project)
        assert refused.code == 2 and "unresolved merge" in refused.stderr, refused.output
    assert git(project, "for-each-ref", "refs/exps", "refs/exps-queue") == ""


def test_save_records_the_workspace_without_running(project):
    write(project / "params.yaml", "train:\n  lr: 0.4\n  epochs: 3\n")
    assert run_dvx("exp", "save", "-n", "by-hand", cwd=project).code == 0
    assert _show(project)["by-hand"]["params"]["params.yaml"]["train.lr"] == 0.4


def test_save_records_a_run_made_by_hand_and_changed_inputs(project):
    write(project / "params.yaml", "train:\n  lr: 0.4\n  epochs: 3\n")
    write(project / "data" / "raw.csv", "a\nb\nc\nd\n")
    subprocess.run([sys.executable, "train.py"], cwd=project, check=True)
    assert run_dvx("exp", "save", "-n", "manual", cwd=project).code == 0
    assert run_dvx("status", "-q", cwd=project).code == 0  # recorded as a run of these inputs
    git(project, "checkout", "-q", "--", ".")
    must("checkout", "--force", cwd=project)
    assert (project / "model.bin").read_text() == "model lr=0.1 epochs=3 rows=3"
    applied = run_dvx("exp", "apply", "manual", cwd=project)
    assert applied.code == 0, applied.output
    assert (project / "model.bin").read_text() == "model lr=0.4 epochs=3 rows=4"
    assert (project / "data" / "raw.csv").read_text() == "a\nb\nc\nd\n"
    assert run_dvx("status", "-q", cwd=project).code == 0


@pytest.mark.parametrize("autostage", [False, True], ids=["named-nowhere", "autostage"])
def test_save_asks_git_of_what_to_stage_only_under_autostage(project, monkeypatch, autostage):
    """exp save records changed inputs and a run made by hand into the experiment's commit
    and names nothing for `git add`: without core.autostage it asks Git nothing of what to
    stage (a `git status` and a `git check-ignore` each); under it, the pointer and dvx.lock
    it wrote are staged, as `repro` stages them."""
    import dvx.ops.data_places as data_places

    if autostage:
        assert run_dvx("config", "core.autostage", "true", cwd=project).code == 0
    asked: list[list[str]] = []
    real = data_places.warn_ignored_by_git

    def counted(repo, rels, *args, **kwargs):
        asked.append(list(rels))
        return real(repo, rels, *args, **kwargs)

    monkeypatch.setattr(data_places, "warn_ignored_by_git", counted)
    write(project / "data" / "raw.csv", "a\nb\nc\nd\n")
    subprocess.run([sys.executable, "train.py"], cwd=project, check=True)
    assert run_dvx("exp", "save", "-n", "manual", cwd=project).code == 0
    staged = git(project, "diff", "--cached", "--name-only").split()
    if autostage:
        assert asked and {"dvx.lock", "data/raw.csv.dvx"} <= set(staged), (asked, staged)
    else:
        assert asked == [] and staged == []


def _labels_changed_after_commit(repo):
    """labels.csv tracked with `dvx add` and committed, then changed in the workspace: data
    no stage reads."""
    write(repo / "labels.csv", "labels v1\n")
    must("add", "labels.csv", cwd=repo)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "labels")
    write(repo / "labels.csv", "labels v2 (hand-fixed)\n")


@pytest.mark.parametrize("command", [("exp", "save", "-n", "fixed"),
                                     ("exp", "run", "-n", "fixed"),
                                     ("exp", "run", "--queue", "-n", "fixed")])
def test_an_experiment_records_changed_tracked_data_no_stage_reads(project, command):
    """The experiment holds the workspace: data tracked with `dvx add` that no stage reads,
    changed here, goes into the cache and the experiment's pointer names it (a queued one's
    snapshot), as `dvx commit` records it. A `checkout --force` then loses nothing."""
    _labels_changed_after_commit(project)
    done = run_dvx(*command, cwd=project)
    assert done.code == 0, done.output
    queued = "--queue" in command
    ref = "refs/exps-queue/fixed" if queued else \
        git(project, "for-each-ref", "--format=%(refname)", "refs/exps/*/fixed").strip()
    recorded = git(project, "show", f"{ref}:labels.csv.dvx")
    assert recorded == (project / "labels.csv.dvx").read_text() != \
        git(project, "show", "HEAD:labels.csv.dvx")
    assert _cached(project, _oid("labels v2 (hand-fixed)\n")).read_text() == \
        "labels v2 (hand-fixed)\n"
    assert "labels.csv" not in run_dvx("status", cwd=project).stdout
    if not queued:
        git(project, "checkout", "-q", "--", ".")
        must("checkout", "--force", cwd=project)
        assert (project / "labels.csv").read_text() == "labels v1\n"
        applied = run_dvx("exp", "apply", "fixed", cwd=project)
        assert applied.code == 0, applied.output
        assert (project / "labels.csv").read_text() == "labels v2 (hand-fixed)\n"


def test_save_without_a_pipeline_records_changed_tracked_data(repo):
    _labels_changed_after_commit(repo)
    saved = run_dvx("exp", "save", "-n", "fixed", cwd=repo)
    assert saved.code == 0, saved.output
    assert run_dvx("status", "-q", cwd=repo).code == 0, run_dvx("status", cwd=repo).output
    ref = git(repo, "for-each-ref", "--format=%(refname)", "refs/exps/*/fixed").strip()
    assert git(repo, "show", f"{ref}:labels.csv.dvx") == (repo / "labels.csv.dvx").read_text()


@pytest.mark.parametrize("command", ["run", "save"])
def test_under_autostage_run_and_save_stage_every_file_they_write_for_git(project, command):
    """With core.autostage, `exp save` stages in Git what it wrote as `exp run` does: the
    pointer of a changed input it committed, `dvx.lock` with the outputs `cache: false` it
    names, and the pointer of changed data no stage reads; none left changed but unstaged."""
    must("config", "core.autostage", "true", cwd=project)
    git(project, "commit", "-qam", "autostage")
    _labels_changed_after_commit(project)
    write(project / "data" / "raw.csv", "a\nb\nc\nd\n")
    if command == "save":  # a run by hand, which the save records
        write(project / "params.yaml", "train:\n  lr: 0.4\n  epochs: 3\n")
        subprocess.run([sys.executable, "train.py"], cwd=project, check=True)
        done = run_dvx("exp", "save", "-n", "kept", cwd=project)
    else:
        done = run_dvx("exp", "run", "-S", "train.lr=0.4", "-n", "kept", cwd=project)
    assert done.code == 0, done.output
    staged = git(project, "diff", "--cached", "--name-only").split()
    assert {"data/raw.csv.dvx", "dvx.lock", "metrics.json", "labels.csv.dvx"} <= set(staged), \
        staged
    assert git(project, "diff", "--name-only") == "params.yaml\n"  # -S or by hand: not dvx's


def test_save_refuses_tracked_data_changed_both_here_and_in_git_naming_no_save_force(project):
    """Recorded as `dvx commit` records it: data changed here whose pointer a `git pull`
    moved meanwhile is refused, nothing saved; the hint names `dvx commit --force`, as
    `exp save` has no --force."""
    theirs = pointer_changed_on_feat(project, {"labels.csv": "labels v1\n"}, "labels.csv",
                                     "labels v3 (theirs)\n")
    write(project / "labels.csv", "labels v2 (hand-fixed)\n")
    git(project, "checkout", "-q", "feat", "--", "labels.csv.dvx")
    assert (project / "labels.csv.dvx").read_bytes() == theirs
    refused = run_dvx("exp", "save", "-n", "fixed", cwd=project)
    assert refused.code != 0, refused.output
    said = " ".join(refused.stderr.split())
    assert "changed both here and in Git" in said and "`dvx commit --force labels.csv`" \
        in said and "`--force`" not in said.replace("`dvx commit --force labels.csv`", ""), said
    assert git(project, "for-each-ref", "refs/exps") == ""


@pytest.mark.parametrize("queued", [False, True])
def test_a_value_set_into_tracked_data_no_stage_reads_is_what_the_experiment_records(
        project, queued):
    """-S into model.yaml, tracked with `dvx add` and read by no stage: the experiment's
    pointer names the file as -S left it, its data in the cache (a queued run's too, set in
    its worktree), so a `checkout --force` after it loses nothing."""
    write(project / "model.yaml", "lr: 1\n")
    must("add", "model.yaml", cwd=project)
    git(project, "add", "-A")
    git(project, "commit", "-qm", "model")
    queue = ("--queue",) if queued else ()
    done = run_dvx("exp", "run", *queue, "-n", "m", "-S", "model.yaml:lr=2", cwd=project)
    assert done.code == 0, done.output
    if queued:
        started = run_dvx("queue", "start", cwd=project)
        assert started.code == 0, started.output
    ref = git(project, "for-each-ref", "--format=%(refname)", "refs/exps/*/m").strip()
    recorded = git(project, "show", f"{ref}:model.yaml.dvx")
    set_to_2 = _oid("lr: 2\n")
    assert f"oid: {set_to_2}" in recorded, recorded
    assert _cached(project, set_to_2).read_text() == "lr: 2\n"
    if not queued:
        assert (project / "model.yaml").read_text() == "lr: 2\n"
        assert recorded == (project / "model.yaml.dvx").read_text()
        assert "model.yaml" not in run_dvx("status", cwd=project).stdout
        git(project, "checkout", "-q", "--", ".")
        must("checkout", "--force", cwd=project)
        assert must("exp", "apply", "m", cwd=project)
        assert (project / "model.yaml").read_text() == "lr: 2\n"


@pytest.mark.parametrize("how", ["no dvx.yaml", "a dependency missing", "a stage failing"])
def test_a_refused_or_failed_exp_run_leaves_unread_data_s_pointers_alone(project, how):
    """Data no stage reads is recorded once the run succeeded, just before the experiment:
    a run refused (exit 2) or whose stage failed (exit 1) records none, leaving its pointer
    as it was and storing nothing of it."""
    _labels_changed_after_commit(project)
    pointer = (project / "labels.csv.dvx").read_text()
    sets = ["-S", "train.lr=0.2"]
    if how == "no dvx.yaml":
        (project / "dvx.yaml").unlink()
    elif how == "a dependency missing":
        (project / "train.py").unlink()
    else:
        sets = ["-S", "+train.fail=true"]
    refused = run_dvx("exp", "run", *sets, cwd=project)
    assert refused.code == (1 if how == "a stage failing" else 2), refused.output
    assert (project / "labels.csv.dvx").read_text() == pointer
    assert (project / "labels.csv").read_text() == "labels v2 (hand-fixed)\n"
    assert not _cached(project, _oid("labels v2 (hand-fixed)\n")).exists()
    assert git(project, "for-each-ref", "refs/exps") == ""


@pytest.mark.parametrize("command", [("exp", "save"), ("exp", "run"),
                                     ("exp", "run", "--queue")])
def test_an_experiment_refused_over_data_no_stage_reads_has_written_nothing(project,
                                                                             command):
    """labels.csv, read by no stage, changed both here and in Git: the experiment is refused
    before anything is written, so the changed input data/raw.csv, which the experiment
    records first, keeps its pointer, nothing of it stored."""
    pointer_changed_on_feat(project, {"labels.csv": "labels v1\n"}, "labels.csv",
                            "labels v3 (theirs)\n")
    write(project / "labels.csv", "labels v2 (hand-fixed)\n")
    git(project, "checkout", "-q", "feat", "--", "labels.csv.dvx")
    write(project / "data" / "raw.csv", "a\nb\nc\nd\n")
    raw, lock = ((project / name).read_text() for name in ("data/raw.csv.dvx", "dvx.lock"))
    refused = run_dvx(*command, "-n", "fixed", cwd=project)
    said = " ".join(refused.stderr.split())
    assert refused.code == 1, refused.output
    assert "'labels.csv' changed both here and in Git" in said, said
    assert (project / "data" / "raw.csv.dvx").read_text() == raw
    assert (project / "dvx.lock").read_text() == lock
    assert not _cached(project, _oid("a\nb\nc\nd\n")).exists()
    assert git(project, "for-each-ref", "refs/exps", "refs/exps-queue") == ""


@pytest.mark.parametrize("command", [("exp", "save"), ("exp", "run"),
                                     ("exp", "run", "--queue")])
def test_an_experiment_refuses_a_tracked_folder_holding_a_repository_by_name(project,
                                                                             command):
    """`tools`, tracked with `dvx add` and read by no stage, changed here and made a clone
    of the user's: the experiment refuses it by name, as `dvx commit` does, before anything
    is written (the changed input data/raw.csv keeps its pointer), never passing over it
    without a word; the clone stays whole."""
    write(project / "tools" / "a", "a\n")
    must("add", "tools", cwd=project)
    git(project, "add", "-A")
    git(project, "commit", "-qm", "tools")
    write(project / "tools" / "a", "a edited\n")
    make_git_repo(project / "tools")
    write(project / "data" / "raw.csv", "a\nb\nc\nd\n")
    raw, lock, tools = ((project / name).read_text()
                        for name in ("data/raw.csv.dvx", "dvx.lock", "tools.dvx"))
    refused = run_dvx(*command, "-n", "fixed", cwd=project)
    said = " ".join(refused.stderr.split())
    assert refused.code == 2 and "Traceback" not in refused.output, refused.output
    assert "'tools' holds 'tools/.git'" in said, said
    assert f"then run `dvx {' '.join(command)} -n fixed` again" in said, said
    assert (project / "tools.dvx").read_text() == tools
    assert (project / "data" / "raw.csv.dvx").read_text() == raw
    assert (project / "dvx.lock").read_text() == lock
    assert not _cached(project, _oid("a\nb\nc\nd\n")).exists()
    assert (project / "tools" / ".git" / "HEAD").is_file()
    assert (project / "tools" / "a").read_text() == "a edited\n"
    assert git(project, "for-each-ref", "refs/exps", "refs/exps-queue") == ""


def test_save_of_a_run_by_hand_never_writes_over_a_dvx_lock_git_brought_meanwhile(repo):
    """A `git checkout` of another branch's dvx.lock while `exp save` records a stage run
    by hand, last before its dvx.lock replaces the file: the save refuses, recording
    nothing, and dvx.lock stays as Git wrote it."""
    write(repo / "in.txt", "1\n")
    must("stage", "add", "-n", "a", "-d", "in.txt", "-o", "a.txt", "cat in.txt > a.txt",
         cwd=repo)
    must("repro", cwd=repo)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "v1")
    git(repo, "switch", "-qc", "other")
    write(repo / "in.txt", "2\n")
    must("repro", cwd=repo)
    git(repo, "commit", "-qam", "other")
    git(repo, "switch", "-q", "-")
    must("checkout", cwd=repo)
    (repo / "a.txt").unlink()
    write(repo / "a.txt", "by hand\n")

    # the third write of the save is dvx.lock's
    code, out, err = run_meanwhile("atomic_write.before_rename:3", "exp save -n mine", repo,
                                   lambda: git(repo, "checkout", "other", "--", "dvx.lock"))
    assert code == 1, out + err
    assert "dvx.lock changed while dvx exp save ran" in " ".join(err.split()), err
    assert (repo / "dvx.lock").read_text() == git(repo, "show", "other:dvx.lock")
    assert "mine" not in run_dvx("exp", "show", "--json", cwd=repo).stdout


@pytest.mark.parametrize("changed, lacking, way_back", [
    ("metrics.json", "model.bin", "`dvx checkout model.bin` (from the cache)"),
    ("model.bin", "metrics.json", "`git checkout -- metrics.json` (from Git")])
def test_save_refuses_outputs_no_run_left(project, changed, lacking, way_back):
    """Outputs changed and one lacking: the refusal names the stage's repro and what brings
    back the output it lacks, `git checkout --` of a `cache: false` one, which Git holds."""
    write(project / changed, '{"accuracy": 1}')
    (project / lacking).unlink()
    refused = run_dvx("exp", "save", "-n", "half", cwd=project)
    assert refused.code == 2 and f"it lacks {lacking}" in refused.stderr, refused.output
    said = " ".join(refused.stderr.split())
    assert way_back in said and "`dvx repro train`" in said, said
    assert git(project, "for-each-ref", "refs/exps") == ""


def _repository_state(repo):
    """What a refused command must leave as it was: the workspace's files and pointers,
    dvx.lock, the cache's objects and the refs."""
    files = {str(p.relative_to(repo)): p.read_bytes() for p in repo.rglob("*")
             if p.is_file() and ".git" not in p.parts and ".dvx" not in p.parts}
    cache = sorted(str(p) for p in (repo / ".dvx" / "cache").rglob("*") if p.is_file())
    return files, cache, git(repo, "for-each-ref"), git(repo, "status", "--porcelain")


def test_save_refused_by_its_check_of_stages_run_by_hand_records_no_changed_input_first(
        project):
    """A changed input of the pipeline, which `exp save` records, and an output dvx.lock
    records deleted, which its check of stages run by hand refuses: every check comes
    before any write, so the refusal leaves the input's pointer, dvx.lock, the cache and
    the refs as they were."""
    write(project / "data" / "raw.csv", "a\nb\nc\nd\n")
    (project / "model.bin").unlink()
    before = _repository_state(project)
    refused = run_dvx("exp", "save", "-n", "half", cwd=project)
    assert refused.code == 2, refused.output
    assert "lacks an output of stage 'train' that dvx.lock records (model.bin)" in \
        refused.stderr, refused.stderr
    assert _repository_state(project) == before


@pytest.mark.parametrize("command", [("exp", "run", "--queue", "-n", "q"),
                                     ("exp", "save", "-n", "s"), ("exp", "run", "-n", "r"),
                                     ("repro",)])
def test_an_input_that_cannot_be_stored_is_refused_before_any_other_input_is_recorded(
        project, command):
    """Two changed inputs, the second holding what dvx cannot store (a pointer file inside
    the folder): the changed inputs are all checked before any is recorded, so the refusal
    leaves the first one's pointer, the cache, the refs and the queue as they were."""
    write(project / "zdir" / "x", "x\n")
    must("add", "zdir", cwd=project)
    must("stage", "add", "-n", "count", "-d", "zdir", "-o", "count.txt", "ls zdir > count.txt",
         cwd=project)
    must("repro", cwd=project)
    git(project, "add", "-A")
    git(project, "commit", "-qm", "a second input")
    write(project / "data" / "raw.csv", "a\nb\nc\nd\n")
    write(project / "zdir" / "inner.dvx", "not data\n")
    before = _repository_state(project)
    refused = run_dvx(*command, cwd=project)
    assert refused.code != 0, refused.output
    assert "'zdir/inner.dvx' is a dvx pointer file inside the directory" in refused.stderr, \
        refused.stderr
    assert _repository_state(project) == before
    assert run_dvx("queue", "status", cwd=project).stdout == "The queue is empty.\n"


@pytest.mark.parametrize("lacking, uncached, way_back", [
    ("metrics.json", False, "`git checkout -- metrics.json` (from Git"),
    ("model.bin", False, "`dvx checkout model.bin` (from the cache)"),
    ("model.bin", True, "`dvx pull model.bin` (the cache lacks it)")])
def test_save_refuses_a_workspace_lacking_an_output_dvx_lock_records(project, lacking,
                                                                      uncached, way_back):
    """Nothing else changed: the experiment would name the output without holding it, and
    `exp apply` of it would delete the workspace's. The way back named is one that works:
    a pull where the cache lacks it too."""
    if uncached:
        _cached(project, _oid((project / lacking).read_text())).unlink()
    (project / lacking).unlink()
    refused = run_dvx("exp", "save", "-n", "lacking", cwd=project)
    assert refused.code == 2, refused.output
    assert f"lacks an output of stage 'train' that dvx.lock records ({lacking})" in \
        refused.stderr and way_back in refused.stderr, refused.stderr
    assert "`dvx repro train`" in refused.stderr and "Nothing was saved" in refused.stderr
    assert git(project, "for-each-ref", "refs/exps") == ""


def test_save_names_git_checkout_of_an_output_only_when_git_holds_the_run_dvx_lock_records(
        project):
    """A run not committed (lr 0.4) and its metrics file deleted: Git holds the committed
    run's metrics, so `git checkout --` would pair lr 0.4 with lr 0.1's metrics; the refusal
    names only the stage's repro, alone or beside a changed output, and following it saves
    the run's own metrics."""
    write(project / "params.yaml", "train:\n  lr: 0.4\n  epochs: 3\n")
    must("repro", cwd=project)
    ran = (project / "metrics.json").read_text()
    (project / "metrics.json").unlink()
    for changed in (None, "model.bin"):
        if changed is not None:
            write(project / changed, "by hand")
        refused = run_dvx("exp", "save", "-n", "mixed", cwd=project)
        said = " ".join(refused.stderr.split())
        assert refused.code == 2 and "`dvx repro train`" in said, refused.output
        assert "git checkout" not in said, said
    assert run_dvx("repro", "train", cwd=project).code == 0
    assert (project / "metrics.json").read_text() == ran
    assert run_dvx("exp", "save", "-n", "own", cwd=project).code == 0
    row = _show(project)["own"]
    assert row["params"]["params.yaml"]["train.lr"] == 0.4
    assert row["metrics"]["metrics.json"]["accuracy"] == json.loads(ran)["accuracy"]


def test_save_in_a_clone_that_pulled_only_the_inputs_names_the_outputs_by_dvx_lock(tmp_path):
    """An output never pulled here is not one the user deleted: the experiment's dvx.lock
    names it by its hash, as HEAD's does, and applying it elsewhere places that data."""
    team, alice = _shared_pipeline(tmp_path)
    bob = team.clone("bob", pull=False)
    must("pull", "data/raw.csv", cwd=bob)
    saved = run_dvx("exp", "save", "-n", "fresh", cwd=bob)
    assert saved.code == 0, saved.output
    ref = f"refs/exps/{git(bob, 'rev-parse', 'HEAD').strip()}/fresh"
    assert git(bob, "show", f"{ref}:dvx.lock") == git(bob, "show", "HEAD:dvx.lock")
    must("exp", "push", "origin", "fresh", cwd=bob)
    must("exp", "pull", "origin", "fresh", cwd=alice)
    applied = run_dvx("exp", "apply", "fresh", cwd=alice)
    assert applied.code == 0, applied.output
    assert (alice / "model.bin").read_text() == "model lr=0.1 epochs=3 rows=3"
    assert run_dvx("status", "-q", cwd=alice).code == 0
    must("pull", cwd=bob)  # the data the experiment names is the remote's
    assert run_dvx("status", "-q", cwd=bob).code == 0


def test_save_in_a_clone_keeps_a_cache_false_output_git_ignores_as_dvx_lock_names_it(tmp_path):
    """No clone gets an output Git ignores, and no experiment holds it, in the clone that
    made it either: its absence is no reason to refuse, and nothing of it is dropped."""
    team = Team(tmp_path)
    alice = team.founder()
    write(alice / "in.txt", "x\n")
    must("add", "in.txt", cwd=alice)
    write(alice / "dvx.yaml", "stages:\n  log:\n    cmd: cat in.txt > m.json; echo log > run.log\n"
          "    deps: [in.txt]\n    metrics: [{m.json: {cache: false}}]\n"
          "    outs: [{run.log: {cache: false}}]\n")
    with open(alice / ".gitignore", "a") as ignore:
        ignore.write("run.log\n")
    must("repro", cwd=alice)
    share(alice, "a logged stage")
    bob = team.clone("bob")
    assert not (bob / "run.log").exists()
    saved = run_dvx("exp", "save", "-n", "e2", cwd=bob)
    assert saved.code == 0, saved.output
    ref = f"refs/exps/{git(bob, 'rev-parse', 'HEAD').strip()}/e2"
    assert "run.log" not in git(bob, "ls-tree", "-r", "--name-only", ref).split()
    assert git(bob, "show", f"{ref}:dvx.lock") == git(bob, "show", "HEAD:dvx.lock")
    must("exp", "push", "origin", "e2", cwd=bob)
    must("exp", "pull", "origin", "e2", cwd=alice)
    applied = run_dvx("exp", "apply", "e2", cwd=alice)
    assert applied.code == 0, applied.output
    assert (alice / "run.log").read_text() == "log\n"  # the apply leaves it as it is


def test_the_queue_runs_in_parallel_worktrees_sharing_the_cache(project, tmp_path, monkeypatch):
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temporary))  # where the worktrees go
    head = git(project, "rev-parse", "HEAD")
    # Each run waits for another to run too: the first two end only if they run at once,
    # however far apart a busy machine starts them.
    meeting = tmp_path / "meeting"
    meeting.mkdir()
    for lr in ("0.2", "0.3", "0.4"):
        queued = run_dvx("exp", "run", "--queue", "-S", f"train.lr={lr}", "-S",
                         f"+train.meet={meeting}", "-n", f"q{lr}", cwd=project)
        assert queued.code == 0, queued.output
    # queued, not run: nothing changed in the workspace
    assert "lr: 0.1" in (project / "params.yaml").read_text()
    status = json.loads(run_dvx("queue", "status", "--json", cwd=project).stdout)
    assert [e["state"] for e in status] == ["queued"] * 3
    started = run_dvx("queue", "start", "-j", "2", cwd=project)
    assert started.code == 0, started.output
    rows = _show(project)
    assert {rows[f"q{lr}"]["params"]["params.yaml"]["train.lr"] for lr in ("0.2", "0.3", "0.4")
            } == {0.2, 0.3, 0.4}
    first, second = (rows[n]["metrics"]["metrics.json"] for n in ("q0.2", "q0.3"))
    assert max(first["started"], second["started"]) < min(first["ended"], second["ended"])
    assert git(project, "rev-parse", "HEAD") == head  # the branch, index and log: untouched
    assert git(project, "status", "--porcelain") == ""
    for lr in ("0.2", "0.3", "0.4"):  # each a child of its baseline, not of the queue's snapshot
        ref = git(project, "for-each-ref", "--format=%(refname)", f"refs/exps/*/q{lr}").strip()
        assert git(project, "rev-parse", f"{ref}^") == head
    assert rows["q0.2"]["metrics"]["metrics.json"]["rows"] == 3  # its input came from the cache
    assert git(project, "worktree", "list").count("\n") == 1  # every worktree was removed
    assert list(temporary.iterdir()) == []  # with its folder
    assert "Ran experiment 'q0.3'" in run_dvx("queue", "logs", "q0.3", cwd=project).stdout
    # Their outputs are in this repository's cache: apply checks them out without running.
    assert run_dvx("exp", "apply", "q0.4", cwd=project).code == 0
    assert (project / "model.bin").read_text() == "model lr=0.4 epochs=3 rows=3"


def test_a_queued_value_reaches_its_run_as_written_and_no_shell_reads_it(project, tmp_path):
    marker = tmp_path / "ran"
    value = f"costs $HOME `touch {marker}` \"q\" 'r' ; $(touch {marker})"
    must("exp", "run", "--queue", "-S", f"+train.note={value}", "-n", "quoted", cwd=project)
    started = run_dvx("queue", "start", cwd=project)
    assert started.code == 0, started.output
    assert _show(project)["quoted"]["params"]["params.yaml"]["train.note"] == value
    assert not marker.exists()


def test_a_queued_run_takes_the_force_and_jobs_it_was_queued_with(project):
    """`exp run --queue -f -j 2`: the run forces every stage, two at a time, as `exp run -f
    -j 2` would now; one queued without -f runs nothing up to date."""
    must("exp", "run", "--queue", "-f", "-j", "2", "-n", "forced", cwd=project)
    must("exp", "run", "--queue", "-n", "plain", cwd=project)
    status = {e["name"]: e for e in json.loads(run_dvx("queue", "status", "--json",
                                                       cwd=project).stdout)}
    assert (status["forced"]["force"], status["forced"]["jobs"]) == (True, 2)
    assert (status["plain"]["force"], status["plain"]["jobs"]) == (False, 1)
    must("queue", "start", cwd=project)
    forced = must("queue", "logs", "forced", cwd=project)
    assert "(forced)" in forced and "is up to date" not in forced, forced
    plain = must("queue", "logs", "plain", cwd=project)
    assert "(forced)" not in plain and "is up to date" in plain, plain


def test_a_param_of_a_vars_file_that_a_stage_interpolates_is_shown_and_diffed(repo):
    """custom.yaml, listed under `vars:`, gives ${n} to a command: its params are params like
    any other, in exp show, params diff (--deps too) and exp diff; a vars file no `${}` looks
    up a key of is not one."""
    write(repo / "params.yaml", "lr: 0.1\n")
    write(repo / "custom.yaml", "n: 2\nunused: 1\n")
    write(repo / "other.yaml", "k: 1\n")
    write(repo / "w.sh", 'echo lr=$1 n=$2 > out.txt\necho "score: $2" > m.yaml\n')
    run_and_commit(repo, "vars:\n  - custom.yaml\n  - other.yaml\nstages:\n  s:\n"
                         "    cmd: sh w.sh ${lr} ${n}\n    deps: [w.sh]\n"
                         "    outs: [out.txt]\n    metrics: [m.yaml]\n", "a vars file")
    must("exp", "run", "-S", "custom.yaml:n=5", "-n", "v1", cwd=repo)
    rows = _show(repo)
    assert rows["v1"]["params"]["custom.yaml"] == {"n": 5, "unused": 1}
    assert rows["main"]["params"]["custom.yaml"] == {"n": 2, "unused": 1}
    assert "other.yaml" not in rows["v1"]["params"]
    for deps in ((), ("--deps",)):
        diff = run_dvx("params", "diff", "HEAD", "v1", "--json", *deps, cwd=repo)
        assert diff.code == 0, diff.output
        assert json.loads(diff.stdout)["custom.yaml"]["n"]["new"] == 5, diff.output
    exp_diff = run_dvx("exp", "diff", "HEAD", "v1", cwd=repo)
    assert exp_diff.code == 0, exp_diff.output
    assert any(line.split()[:4] == ["custom.yaml", "n", "2", "5"]
               for line in exp_diff.stdout.splitlines()), exp_diff.output


def test_a_vars_file_only_a_foreach_s_own_item_or_meta_names_is_not_a_params_file(repo):
    """cfg.yaml, under `vars:`, has `item` and `note`, but the foreach stage's `${item}` is
    its own item and its `meta` is never interpolated: no stage takes a value from cfg.yaml,
    so exp show and params diff (--deps too) leave it out, as the -S warning says no stage
    reads it, and its stages do not run again."""
    write(repo / "cfg.yaml", "item: 1\nnote: 2\n")
    run_and_commit(repo, "vars: [cfg.yaml]\nstages:\n  build:\n    foreach: [a, b]\n"
                         "    do:\n      cmd: echo ${item} > b-${item}.txt\n"
                         "      outs: [\"b-${item}.txt\"]\n"
                         "      meta: {note: '${note}'}\n", "a vars file no stage reads")
    ran = run_dvx("exp", "run", "-S", "cfg.yaml:item=5", "-n", "v1", cwd=repo)
    assert _warned_of(ran, "cfg.yaml:item") is not None, ran.output
    assert "Running stage" not in ran.output, ran.output
    assert "cfg.yaml" not in _show(repo)["v1"]["params"]
    for deps in ((), ("--deps",)):
        diff = run_dvx("params", "diff", "HEAD", "v1", "--json", *deps, cwd=repo)
        assert diff.code == 0 and "cfg.yaml" not in json.loads(diff.stdout), diff.output


@pytest.mark.parametrize("field", ["stage desc", "output desc", "plot title"])
def test_a_param_only_a_description_or_a_plot_s_drawing_names_is_read_by_no_stage(repo, field):
    """A `${}` in what a run never reads (a stage's or an output's `desc`, a plot's `title`)
    describes the stage, and a change of it runs nothing again (docs/pipelines.md): -S of the
    param it names warns as of one no stage reads, saying that such a `${}` is not one a run
    reads, no stage runs, and exp show and params diff (--deps too) leave out the vars file
    only it names."""
    write(repo / "params.yaml", "lr: 1\n")
    write(repo / "cfg.yaml", "note: 2\n")
    line = {"stage desc": "    desc: trains with ${lr} and ${note}\n    outs: [p.csv]\n",
            "output desc": "    outs:\n      - p.csv: {desc: 'lr ${lr}, ${note}'}\n",
            "plot title": "    plots:\n      - p.csv: {title: 'lr ${lr}, ${note}'}\n"}[field]
    run_and_commit(repo, "vars: [cfg.yaml]\nstages:\n  train:\n"
                         "    cmd: printf 'x,y\\n1,2\\n' > p.csv\n" + line, "described")
    for setting in ("lr=0.5", "cfg.yaml:note=5"):
        ran = run_dvx("exp", "run", "-S", setting, cwd=repo)
        said = _warned_of(ran, setting.partition("=")[0])
        assert said is not None, ran.output
        assert "nor in a `${}` a run reads (a `desc` or a plot's `title` is not one)" in said
        assert "Running stage" not in ran.output, ran.output
    assert "cfg.yaml" not in _show(repo)["main"]["params"]
    for deps in ((), ("--deps",)):
        diff = run_dvx("params", "diff", "HEAD", "--json", *deps, cwd=repo)
        assert diff.code == 0 and "cfg.yaml" not in json.loads(diff.stdout), diff.output


@pytest.mark.parametrize("reads", ["params: [prep.k]", "${}", "foreach"])
def test_set_param_a_stage_outside_the_run_reads_warns_naming_it_and_the_run_with_it(
        repo, reads):
    """`exp run train -S prep.k=5` where only prep, which the run leaves out, reads prep.k
    (under `params:`, or through a `${}` in its command, of a foreach too): train's `${}`
    of another param, and its `meta`, which is never interpolated, do not count for it, so
    the run warns that the results may not reflect it, naming prep (a foreach by its
    group's name) and the run that includes it, which then runs prep with k=5 and warns no
    more."""
    write(repo / "params.yaml", "prep:\n  k: 1\ntrain:\n  lr: 0.1\n")
    prep = {"params: [prep.k]": "    cmd: grep k params.yaml > prep.txt\n"
                                "    params: [prep.k]\n    outs: [prep.txt]\n",
            "${}": "    cmd: echo k=${prep.k} > prep.txt\n    outs: [prep.txt]\n",
            "foreach": "    foreach: [x]\n    do:\n      cmd: echo ${item} k=${prep.k} > "
                       "prep.txt\n      outs: [prep.txt]\n"}[reads]
    run_and_commit(repo, f"stages:\n  prep:\n{prep}"
                         "  train:\n    cmd: echo lr=${train.lr} > train.txt\n"
                         "    outs: [train.txt]\n    meta: {note: '${prep.k}'}\n", "prep and train")
    kept = (repo / "prep.txt").read_text()
    ran = run_dvx("exp", "run", "train", "-S", "prep.k=5", "-S", "train.lr=0.3", "-n", "part",
                  cwd=repo)
    assert ran.code == 0, ran.output
    said = " ".join(ran.stderr.split())
    assert "WARNING: -S prep.k sets a param that no stage of this run declares" in said, said
    assert "Stage 'prep', which this run leaves out, reads it: run it too, with `dvx exp " \
        "run -S prep.k=5 -S train.lr=0.3 train prep`, or every stage, with no stage " \
        "names." in said, said
    assert "declare it there" not in said and said.count("WARNING") == 1, said
    assert (repo / "prep.txt").read_text() == kept  # prep did not run
    again = run_dvx("exp", "run", "-S", "prep.k=5", "-S", "train.lr=0.3", "train", "prep",
                    cwd=repo)
    assert again.code == 0 and "WARNING" not in again.stderr, again.output
    assert kept.strip().endswith("1") and (repo / "prep.txt").read_text().strip().endswith("5")


def _warned_of(ran, setting):
    """The -S warning `ran` gave of the param `setting` names (as typed), on one line."""
    assert ran.code == 0, ran.output
    said = " ".join(ran.stderr.split())
    warned = f"WARNING: -S {setting} sets a param that no stage of this run declares" in said
    return said if warned else None


def test_set_param_a_stage_reads_by_the_same_key_from_another_file_is_matched_by_its_file(
        repo):
    """`${k}` reads the `k` of the file that gives the context its `k`: params.yaml here,
    as `vars` takes only `j` from other.yaml. So `exp run train -S other.yaml:k=5` warns
    (train's `${k}` is params.yaml's), naming prep, which declares other.yaml's `k`, and not
    ev, whose `${k}` is params.yaml's too; -S of params.yaml's `k` or of other.yaml's `j`,
    which train reads, runs train with it, without a word. exp show records each value set."""
    write(repo / "params.yaml", "k: 1\n")
    write(repo / "other.yaml", "k: 2\nj: 3\n")
    run_and_commit(repo, "vars: [other.yaml:j]\nstages:\n"
                         "  train:\n    cmd: echo ${k} ${j} > train.txt\n"
                         "    outs: [train.txt]\n"
                         "  prep:\n    cmd: grep k other.yaml > prep.txt\n"
                         "    params: [{other.yaml: [k]}]\n    outs: [prep.txt]\n"
                         "  ev:\n    cmd: echo ${k} > ev.txt\n    outs: [ev.txt]\n",
                   "train reads params.yaml's k and other.yaml's j")
    said = _warned_of(run_dvx("exp", "run", "train", "-S", "other.yaml:k=5", "-n", "other-k",
                              cwd=repo), "other.yaml:k")
    assert said is not None and "Stage 'prep', which this run leaves out, reads it: run it " \
        "too, with `dvx exp run -S other.yaml:k=5 train prep`" in said, said
    assert (repo / "train.txt").read_text() == "1 3\n"  # train did not run
    assert _show(repo)["other-k"]["params"]["other.yaml"]["k"] == 5
    for setting, name, made in (("k=6", "own-k", "6 3\n"), ("other.yaml:j=7", "j", "6 7\n")):
        ran = run_dvx("exp", "run", "train", "-S", setting, "-n", name, cwd=repo)
        assert _warned_of(ran, setting.partition("=")[0]) is None, ran.output
        assert "WARNING" not in ran.stderr and (repo / "train.txt").read_text() == made, \
            ran.output


def test_set_param_of_a_name_foreach_or_matrix_binds_is_not_read_by_their_stages(repo):
    """`${item}`, `${item.a}` and, over a mapping, `${key}` in the body of a foreach or
    matrix stage are its own items, never params.yaml's `item` or `key`: -S of those runs
    none of its stages again, so it warns, naming none of them as reading it, while its
    `foreach` value (`${regions}`) is a param its stages read, and over a list `${key}` is
    params.yaml's (so `listed` reads it)."""
    write(repo / "params.yaml", "item: 1\nkey: 2\nregions: {us: 1, eu: 2}\n")
    run_and_commit(repo, "stages:\n"
                         "  build:\n    foreach: ${regions}\n    do:\n"
                         "      cmd: echo ${key} ${item} > b-${key}.txt\n"
                         "      outs: [\"b-${key}.txt\"]\n"
                         "  grid:\n    matrix: {a: [x, y]}\n"
                         "    cmd: echo ${item.a} > g-${item.a}.txt\n"
                         "    outs: [\"g-${item.a}.txt\"]\n"
                         "  listed:\n    foreach: [x]\n    do:\n"
                         "      cmd: echo ${item} ${key} > l-${item}.txt\n"
                         "      outs: [\"l-${item}.txt\"]\n"
                         "  other:\n    cmd: echo > o.txt\n    outs: [o.txt]\n",
                   "foreach and matrix stages")
    for targets, setting, hint in (
            (("build", "grid"), "key", "Stage 'listed', which this run leaves out, reads it"),
            (("other",), "item", "declare it there (`params: [item]`)"),
            (("build", "grid"), "item", "declare it there (`params: [item]`)")):
        said = _warned_of(run_dvx("exp", "run", *targets, "-S", f"{setting}=9", cwd=repo),
                          setting)
        assert said is not None and hint in said, said
        assert "'build'" not in said and "'grid'" not in said, said
    for targets, setting in ((("listed",), "key=8"), (("other",), "regions.us=8")):
        ran = run_dvx("exp", "run", *targets, "-S", setting, cwd=repo)
        said = " ".join(ran.stderr.split())
        assert ran.code == 0 and ("WARNING" not in said if targets == ("listed",) else
                                  "Stage 'build', which this run leaves out" in said), said
    assert (repo / "l-x.txt").read_text() == "x 8\n"


def _stage_in_a_subfolder(repo):
    """The stage `s` runs in sub/ and reads sub/params.yaml; the top has a params.yaml too."""
    write(repo / "params.yaml", "lr: 0.1\n")
    write(repo / "sub" / "params.yaml", "lr: 0.1\n")
    run_and_commit(repo, "stages:\n  s:\n    wdir: sub\n    cmd: cp params.yaml m.yaml\n"
                         "    params: [lr]\n    metrics: [m.yaml]\n", "a stage in sub/")


@pytest.mark.parametrize("typed", ["params.yaml:lr=0.5", "lr=0.5"])
def test_set_param_reads_its_file_from_the_current_folder_as_other_paths(repo, typed):
    """From sub/, -S params.yaml:lr (or the default file) sets sub/params.yaml, which the
    stage there reads, so the stage runs with it; the top's params.yaml stays as it was."""
    _stage_in_a_subfolder(repo)
    result = run_dvx("exp", "run", "-S", typed, "-n", "here", cwd=repo / "sub")
    assert result.code == 0, result.output
    assert "no stage of this run declares" not in result.output
    assert (repo / "sub" / "m.yaml").read_text() == "lr: 0.5\n"
    assert (repo / "params.yaml").read_text() == "lr: 0.1\n"
    assert _show(repo)["here"]["params"]["sub/params.yaml"]["lr"] == 0.5


def test_set_param_takes_a_file_above_the_current_folder_and_refuses_one_outside(repo):
    _stage_in_a_subfolder(repo)
    up = run_dvx("exp", "run", "-S", "../params.yaml:lr=0.7", "-n", "up", cwd=repo / "sub")
    assert up.code == 0, up.output
    assert "-S ../params.yaml:lr sets a param that no stage of this run declares" in up.stderr
    assert (repo / "params.yaml").read_text() == "lr: 0.7\n"
    assert (repo / "sub" / "params.yaml").read_text() == "lr: 0.1\n"
    write(repo.parent / "params.yaml", "lr: 0.1\n")
    outside = run_dvx("exp", "run", "-S", "../../params.yaml:lr=0.9", cwd=repo / "sub")
    assert outside.code != 0 and "outside the repository" in outside.stderr, outside.output
    assert (repo.parent / "params.yaml").read_text() == "lr: 0.1\n"


def test_undeclared_param_hint_names_the_file_from_the_stage_s_wdir(repo):
    """The stage runs in sub/, where `params: [lr]` names sub/params.yaml: the hint for the
    top's params.yaml names it from there; with stages in several folders, from each."""
    _stage_in_a_subfolder(repo)
    ran = run_dvx("exp", "run", "-S", "lr=0.7", cwd=repo)
    assert ran.code == 0, ran.output
    said = " ".join(ran.stderr.split())
    assert "declare it there (`params: [{../params.yaml: [lr]}]`)" in said, said
    with (repo / "dvx.yaml").open("a") as f:
        f.write("  top:\n    cmd: echo > t.txt\n    outs: [t.txt]\n")
    ran = run_dvx("exp", "run", "-S", "lr=0.8", cwd=repo)
    assert ran.code == 0, ran.output
    said = " ".join(ran.stderr.split())
    assert "declare it there (`params: [{../params.yaml: [lr]}]` in a stage with wdir: sub, " \
        "`params: [lr]` in a stage at the top)" in said, said


def test_undeclared_param_hint_quotes_a_key_yaml_reads_as_another_type(repo):
    """A params.yaml key `1` or `null`, which YAML would read as a number or as null in
    dvx.yaml: the `params:` the warning offers quotes it, so that, pasted into the stage,
    the run takes it and a change of it runs the stage again."""
    write(repo / "params.yaml", 'a: 1\n"1": 5\n"null": 3\n')
    run_and_commit(repo, "stages:\n  t:\n    cmd: cat params.yaml > m.txt\n"
                         "    params: [a]\n    outs: [m.txt]\n", "t")
    for key in ("1", "null"):
        ran = run_dvx("exp", "run", "-S", f"{key}=9", cwd=repo)
        assert ran.code == 0, ran.output
        said = " ".join(ran.stderr.split())
        assert f"declare it there (`params: ['{key}']`)" in said, said
        git(repo, "checkout", "-q", "--", ".")
    write(repo / "dvx.yaml", "stages:\n  t:\n    cmd: cat params.yaml > m.txt\n"
                             "    params: [a, '1', 'null']\n    outs: [m.txt]\n")
    ran = run_dvx("exp", "run", "-S", "1=7", "-n", "declared", cwd=repo)
    assert ran.code == 0 and "WARNING" not in ran.stderr, ran.output
    assert '"1": 7' in (repo / "m.txt").read_text()


def test_the_params_line_the_warning_offers_for_a_key_with_a_blank_works_as_pasted(repo):
    """`-S 'train.batch size=64'`, and a TOML file's quoted `"odd key"`: a stage's `params:`
    takes every name -S takes, blanks and all, so the line the warning offers, pasted into
    the stage reading it, declares the param: the stage runs again with it, no warning."""
    write(repo / "params.yaml", "train:\n  batch size: 32\n")
    write(repo / "cfg.toml", '"odd key" = 1\n')
    pipeline = ("stages:\n  t:\n    cmd: cat params.yaml > t.txt\n{}    outs: [t.txt]\n"
                "  u:\n    cmd: cat cfg.toml > u.txt\n{}    outs: [u.txt]\n")
    run_and_commit(repo, pipeline.format("", ""), "t and u")
    offered = []
    for setting in ("train.batch size=64", "cfg.toml:odd key=2"):
        said = _warned_of(run_dvx("exp", "run", "-S", setting, cwd=repo),
                          setting.partition("=")[0])
        assert said is not None
        line = re.search(r"declare it there \(`(params: [^`]*)`\)", said)
        assert line is not None, said
        offered.append(f"    {line[1]}\n")
        git(repo, "checkout", "-q", "--", ".")
    assert offered == ["    params: [train.batch size]\n",
                       "    params: [{cfg.toml: [odd key]}]\n"]
    write(repo / "dvx.yaml", pipeline.format(*offered))
    ran = run_dvx("exp", "run", "-S", "train.batch size=64", "-S", "cfg.toml:odd key=2",
                  cwd=repo)
    assert ran.code == 0 and "WARNING" not in ran.stderr, ran.output
    assert "Running stage 't'" in ran.output and "Running stage 'u'" in ran.output
    assert "batch size: 64" in (repo / "t.txt").read_text()
    assert '"odd key" = 2' in (repo / "u.txt").read_text()
    locked = (repo / "dvx.lock").read_text()
    assert "train.batch size: 64" in locked and "odd key: 2" in locked, locked


def test_a_run_queued_from_a_subfolder_sets_the_file_named_from_there(repo):
    _stage_in_a_subfolder(repo)
    must("exp", "run", "--queue", "-S", "params.yaml:lr=0.3", "-n", "queued", cwd=repo / "sub")
    must("queue", "start", cwd=repo)
    row = _show(repo)["queued"]
    assert row["params"]["sub/params.yaml"]["lr"] == 0.3, row
    assert row["params"]["params.yaml"]["lr"] == 0.1, row
    assert row["metrics"]["sub/m.yaml"]["lr"] == 0.3, row


@pytest.mark.parametrize("command", [("exp", "run", "--queue"), ("exp", "run"), ("repro",),
                                     ("queue", "start")])
def test_a_jobs_count_a_queue_entry_could_not_hold_is_refused_before_anything_is_queued(
        project, command):
    """-j takes 1 to 65536 wherever it counts stages or experiments at once: more used to be
    queued as an entry every later `queue start` skipped as damaged."""
    result = run_dvx(*command, "-j", "70000", cwd=project)
    assert result.code == 2 and "70000" in result.output, result.output
    assert "is not in the range 1<=x<=65536" in result.output, result.output
    assert json.loads(run_dvx("queue", "status", "--json", cwd=project).stdout) == []
    must("exp", "run", "--queue", "-j", "65536", "-n", "most", cwd=project)
    status = json.loads(run_dvx("queue", "status", "--json", cwd=project).stdout)
    assert [(e["name"], e["state"], e["jobs"]) for e in status] == [("most", "queued", 65536)]


def test_a_name_waiting_in_the_queue_is_not_taken_by_a_run_or_a_save(project):
    must("exp", "run", "--queue", "-S", "train.lr=0.2", "-n", "foo", cwd=project)
    for args in (("run", "-S", "train.lr=0.4"), ("save",)):
        refused = run_dvx("exp", *args, "-n", "foo", cwd=project)
        assert refused.code == 2 and "queued experiment called 'foo'" in refused.stderr, \
            refused.output
        assert "dvx queue remove foo" in refused.stderr and "Running stage" not in refused.output
    assert "lr: 0.1" in (project / "params.yaml").read_text()
    assert must("queue", "start", cwd=project)
    assert _show(project)["foo"]["params"]["params.yaml"]["train.lr"] == 0.2
    again = run_dvx("exp", "run", "-n", "foo", cwd=project)
    assert again.code == 2 and "exists already" in again.stderr


def test_a_failing_queued_experiment_keeps_its_log_and_the_others_go_on(project):
    must("exp", "run", "--queue", "-S", "+train.fail=true", "-n", "bad", cwd=project)
    must("exp", "run", "--queue", "-S", "train.lr=0.5", "-n", "good", cwd=project)
    waiting = run_dvx("queue", "logs", "good", cwd=project)
    assert (waiting.code, waiting.stderr) == (2, "ERROR: No log for 'good': it has not started. "
                                                 "See `dvx queue status`.\n")
    started = run_dvx("queue", "start", cwd=project)
    assert started.code == 1 and "'bad' failed" in started.stdout
    states = _queue_states(project)
    assert states == {"bad": "failed", "good": "done"}
    assert "exit code 3" in run_dvx("queue", "logs", "bad", cwd=project).stdout
    assert "good" in _show(project) and "bad" not in _show(project)
    assert run_dvx("queue", "remove", "--finished", cwd=project).code == 0
    assert json.loads(run_dvx("queue", "status", "--json", cwd=project).stdout) == []
    gone = run_dvx("queue", "logs", "bad", cwd=project)  # as `queue remove` says it
    assert (gone.code, gone.stderr) == (2, "ERROR: Nothing called bad in the queue. See `dvx "
                                           "queue status`.\n")


def test_a_queued_run_that_records_its_experiment_and_exits_1_is_done_with_its_errors_kept(
        project):
    """A damaged pointer no stage reads: the run records its experiment, then exits 1 with
    an error about that pointer. The entry is done (its experiment is its own, never one
    that took its name), its record keeps that the run reported errors, and `queue start`
    exits 1 as the run did."""
    write(project / "notes.txt", "notes\n")
    must("add", "notes.txt", cwd=project)
    git(project, "add", "-A")
    git(project, "commit", "-qm", "notes")
    write(project / "notes.txt.dvx", "garbage: [\n")
    assert run_dvx("exp", "run", "--queue", "-S", "train.lr=0.3", "-n", "q1",
                   cwd=project).code == 1  # queued, saying what it skipped
    started = run_dvx("queue", "start", cwd=project)
    assert started.code == 1, started.output
    assert "not recorded" not in started.stdout and "exp remove" not in started.stdout
    assert "'q1' done, but its run exited with status 1 (see `dvx queue logs q1`)" in \
        started.stdout, started.output
    assert _queue_states(project) == {"q1": "done"}
    assert git(project, "for-each-ref", "refs/exps-queue") == ""
    assert _show(project)["q1"]["params"]["params.yaml"]["train.lr"] == 0.3
    status = run_dvx("queue", "status", cwd=project).stdout
    assert "its run exited with status 1" in status, status
    assert "Skipped notes.txt.dvx" in run_dvx("queue", "logs", "q1", cwd=project).stdout
    again = run_dvx("queue", "start", cwd=project)
    assert (again.code, again.stdout) == (0, "The queue is empty.\n"), again.output


def test_a_queued_python_stage_importing_from_its_dependency_folder_runs(repo, monkeypatch):
    """A queued run's fresh worktree has no __pycache__: the stage `python src/train.py` with
    `deps: [src]` writes it there as it imports, and the run is recorded, not failed as a
    dependency changed while its command ran; its dvx.lock has the folder as it left it."""
    monkeypatch.delenv("PYTHONDONTWRITEBYTECODE", raising=False)
    write(repo / "src" / "util.py", "X = 1\n")
    write(repo / "src" / "train.py", "import util, yaml\n"
          "lr = yaml.safe_load(open('params.yaml'))['lr']\n"
          "open('out.txt', 'w').write(str(util.X * lr))\n")
    write(repo / "params.yaml", "lr: 1\n")
    write(repo / "dvx.yaml", f"stages:\n  train:\n    cmd: {sys.executable} src/train.py\n"
                             "    deps: [src]\n    params: [lr]\n    outs: [out.txt]\n")
    write(repo / ".gitignore", "__pycache__\n")
    must("repro", cwd=repo)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "baseline")
    for lr in ("2", "3"):
        must("exp", "run", "--queue", "-S", f"lr={lr}", "-n", f"e{lr}", cwd=repo)
    started = run_dvx("queue", "start", cwd=repo)
    assert started.code == 0, started.output + run_dvx("queue", "logs", "e2", cwd=repo).stdout
    assert _queue_states(repo) == {"e2": "done", "e3": "done"}
    for lr in ("2", "3"):
        ref = git(repo, "for-each-ref", "--format=%(refname)", f"refs/exps/*/e{lr}").strip()
        assert "nfiles: 3" in git(repo, "show", f"{ref}:dvx.lock")  # with src/__pycache__
    must("exp", "apply", "e3", cwd=repo)
    assert (repo / "out.txt").read_text() == "3"


def test_a_queued_run_never_imports_the_repository_s_modules(project, tmp_path):
    """A queued run starts dvx in a worktree of the repository: a committed `dvx/` package or
    `platform.py` there is never imported in place of dvx's own modules."""
    canary = tmp_path / "imported"
    code = f"open({str(canary)!r}, 'a').write(__file__ + '\\n')\n"
    write(project / "dvx" / "__init__.py", code)
    write(project / "platform.py", code)
    git(project, "add", "-A")
    git(project, "commit", "-qm", "modules of the project's")
    must("exp", "run", "--queue", "-S", "train.lr=0.2", "-n", "queued", cwd=project)
    started = run_dvx("queue", "start", cwd=project)
    assert started.code == 0, started.output + run_dvx("queue", "logs", "queued",
                                                       cwd=project).stdout
    assert _show(project)["queued"]["params"]["params.yaml"]["train.lr"] == 0.2
    assert not canary.exists(), canary.read_text()


def test_a_failed_queued_experiment_gives_its_name_to_the_next_one(project):
    must("exp", "run", "--queue", "-S", "+train.fail=true", "-n", "tryit", cwd=project)
    assert run_dvx("queue", "start", cwd=project).code == 1
    log = run_dvx("queue", "logs", "tryit", cwd=project).stdout
    assert "temporary worktree, which is removed" in log and "workspace keeps" not in log
    again = run_dvx("exp", "run", "--queue", "-S", "train.lr=0.2", "-n", "tryit", cwd=project)
    assert again.code == 0, again.output
    assert "failed queue entry 'tryit' and its log are replaced" in again.stderr
    must("queue", "start", cwd=project)
    assert _show(project)["tryit"]["params"]["params.yaml"]["train.lr"] == 0.2
    taken = run_dvx("exp", "run", "--queue", "-n", "tryit", cwd=project)
    assert taken.code == 2 and "called 'tryit' of this baseline exists" in taken.stderr


def _queue_states(project) -> dict[str, str]:
    """Each queue entry's state, by name, as `dvx queue status --json` gives it."""
    listed = run_dvx("queue", "status", "--json", cwd=project)
    assert listed.code == 0, listed.output
    return {e["name"]: e["state"] for e in json.loads(listed.stdout)}


def _queue_started(project, name: str, output: int = subprocess.DEVNULL) -> subprocess.Popen:
    """`dvx queue start` in a process of its own, once the queued `name` is running; its
    output to `output` (subprocess.PIPE: read as text)."""
    runner = subprocess.Popen([sys.executable, "-m", "dvx", "queue", "start"], cwd=project,
                              stdout=output, stderr=output, text=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        listed = run_dvx("queue", "status", "--json", cwd=project)
        # a status that fails while the runner starts is asked again until the deadline
        states = json.loads(listed.stdout) if listed.code == 0 else []
        if states and states[0]["state"] == "running" and os.path.exists(
                project / ".dvx" / "tmp" / "queue" / f"{name}.log"):
            break
        time.sleep(0.1)
    return runner


def _processes_in(directory: str) -> dict[int, str]:
    """The command lines of the live processes working in `directory` (or in it after it
    was deleted)."""
    found = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cwd = os.readlink(f"/proc/{pid}/cwd")
            # bytes, as any process's name and arguments may be no UTF-8
            stat = Path(f"/proc/{pid}/stat").read_bytes()
            state = stat.rsplit(b")", 1)[1].split()[0].decode()
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if cwd.removesuffix(" (deleted)") == directory and state != "Z":
            found[int(pid)] = cmdline
    return found


def test_queue_stop_ends_a_running_experiment_and_its_stage_command(project):
    must("exp", "run", "--queue", "-S", "+train.sleep=60", "-n", "slow", cwd=project)
    runner = _queue_started(project, "slow")
    try:
        worktree = json.loads(run_dvx("queue", "status", "--json", cwd=project).stdout)[0][
            "worktree"]
        deadline = time.monotonic() + 30
        while not any("train.py" in cmdline  # the stage's command runs
                      for cmdline in _processes_in(worktree).values()):
            assert time.monotonic() < deadline, "the stage never started"
            time.sleep(0.1)
        assert run_dvx("queue", "stop", cwd=project).code == 0
        assert runner.wait(timeout=30) == 1
        # The runner ends after every process of the run (the stage's command too), and
        # removes the worktree once none of them can write there again.
        assert _processes_in(worktree) == {}
        assert not os.path.exists(worktree)
    finally:
        if runner.poll() is None:
            runner.send_signal(signal.SIGKILL)
    states = json.loads(run_dvx("queue", "status", "--json", cwd=project).stdout)
    assert states[0]["state"] == "stopped"
    assert "slow" not in _show(project)
    log = must("queue", "logs", "slow", cwd=project)  # what is left to do: queue it again
    assert "ERROR: Terminated. The queued run of 'slow' was stopped before it was done, and " \
        "nothing of it was recorded: it ran in a temporary worktree, which is removed" in log
    assert "queue it again (from the workspace as it is now): `dvx exp run --queue -n slow " \
        "-S +train.sleep=60`." in log, log
    assert "dvx repro" not in log and "outputs stay" not in log


def test_queue_stop_after_its_queue_start_was_killed_removes_the_run_s_worktree(project):
    """`queue start` killed with SIGKILL while a run's stage runs: nobody is left to clean up
    after that run but `queue stop`, which ends it, waits for it, then removes its worktree
    and its snapshot ref."""
    must("exp", "run", "--queue", "-S", "+train.sleep=60", "-n", "slow", cwd=project)
    runner = _queue_started(project, "slow")
    worktree = json.loads(run_dvx("queue", "status", "--json", cwd=project).stdout)[0][
        "worktree"]
    deadline = time.monotonic() + 30
    while not any("train.py" in cmdline for cmdline in _processes_in(worktree).values()):
        assert time.monotonic() < deadline, "the stage never started"
        time.sleep(0.1)
    runner.send_signal(signal.SIGKILL)
    runner.wait()
    assert run_dvx("queue", "stop", cwd=project).code == 0
    assert _processes_in(worktree) == {}
    assert not os.path.exists(worktree)
    assert len(git(project, "worktree", "list").splitlines()) == 1
    assert git(project, "for-each-ref", "refs/exps-queue") == ""
    assert _queue_states(project) == {"slow": "stopped"}
    assert "slow" not in _show(project)


def _stopped_in(directory: str) -> int:
    """The process working in `directory` that a fault point stopped (SIGSTOP)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for pid in _processes_in(directory):
            with contextlib.suppress(OSError):
                stat = Path(f"/proc/{pid}/stat").read_text(errors="replace")
                if stat.rpartition(")")[2].split()[0] == "T":
                    return pid
        time.sleep(0.1)
    raise AssertionError(f"no process stopped in {directory}")


def _cache_files(project) -> set[Path]:
    return {p for p in (project / ".dvx" / "cache").rglob("*") if p.is_file()}


def _queued_run_stopped_before_recording(project) -> tuple[subprocess.Popen, str, int]:
    """`late` queued and `queue start` run, its run stopped after caching its outputs, before
    dvx.lock records them: (the queue runner, the run's worktree, the stopped run's pid).
    The runner is killed if the run never starts; the caller kills it otherwise."""
    must("exp", "run", "--queue", "-S", "train.lr=0.7", "-n", "late", cwd=project)
    runner = subprocess.Popen(
        [sys.executable, "-m", "dvx", "queue", "start"], cwd=project, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL,
        env={**os.environ, "DVX_FAULT": "repro.before_lock_write", "DVX_FAULT_ACTION": "stop"})
    try:
        deadline = time.monotonic() + 120
        while not (running := [e for e in json.loads(run_dvx("queue", "status", "--json",
                                                              cwd=project).stdout)
                               if e["worktree"]]):
            assert time.monotonic() < deadline, "the run never started"
            time.sleep(0.1)
        worktree = running[0]["worktree"]
        return runner, worktree, _stopped_in(worktree)
    except BaseException:
        runner.kill()
        raise


def test_gc_waits_for_a_queued_run_and_never_deletes_what_it_is_about_to_record(project):
    """A queued run stopped after caching its outputs, before dvx.lock records them: `gc -w
    --grace 0` in the workspace waits for it as for a command of its own; still held once
    core.lock_wait is over, gc deletes nothing and names the run's worktree. A gc that
    waits until the run is recorded keeps its outputs, so the experiment applies."""
    runner, worktree, recording = _queued_run_stopped_before_recording(project)
    collecting = None
    try:
        cached = _cache_files(project)
        must("config", "--local", "core.lock_wait", "1", cwd=project)
        refused = run_dvx("gc", "-w", "--grace", "0", "-f", cwd=project)
        assert refused.code == 3, refused.output
        assert f"Nothing was deleted: the worktree '{worktree}' is locked by pid {recording} " \
            in refused.stderr, refused.stderr
        assert _cache_files(project) == cached
        must("config", "--local", "core.lock_wait", "600", cwd=project)
        collecting = subprocess.Popen(
            [sys.executable, "-m", "dvx", "gc", "-w", "--grace", "0", "-f"], cwd=project,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
        line = collecting.stderr.readline()
        assert f"lock of the worktree '{worktree}'" in line, (line, collecting.communicate())
        os.kill(recording, signal.SIGCONT)
        out, err = collecting.communicate(timeout=120)
        assert collecting.returncode == 0, out + err
        assert runner.wait(timeout=120) == 0, runner.communicate()
    finally:
        for process in (runner, collecting):
            if process is not None and process.poll() is None:
                process.kill()
    assert _queue_states(project) == {"late": "done"}
    applied = run_dvx("exp", "apply", "late", cwd=project)
    assert applied.code == 0, applied.output
    assert (project / "model.bin").read_text() == "model lr=0.7 epochs=3 rows=3"


def _wait_stopped(pid: int) -> None:
    """Wait until the process `pid` is stopped (SIGSTOP, at a fault point)."""
    deadline = time.monotonic() + 60
    while Path(f"/proc/{pid}/stat").read_text(errors="replace").rpartition(")")[2].split()[0] \
            != "T":
        assert time.monotonic() < deadline, f"pid {pid} never stopped"
        time.sleep(0.1)


@pytest.mark.parametrize("stop_at", ["lock.waiting", "gc.locked"])
def test_gc_finding_gone_the_worktree_of_a_queued_run_it_waited_for_keeps_what_the_run_recorded(
        project, stop_at):
    """gc waits for the lock of a queued run's worktree; the run records its experiment and
    lets the lock go, and `queue start` removes its worktree before gc takes that lock
    (`lock.waiting`: gc stopped between two tries) or before gc reads it (`gc.locked`: gc
    stopped once it holds the locks). gc takes the worktree as ended, never fails, and keeps
    what the run recorded, so the experiment applies."""
    runner, worktree, recording = _queued_run_stopped_before_recording(project)
    collecting = None
    try:
        must("config", "--local", "core.lock_wait", "600", cwd=project)
        collecting = subprocess.Popen(
            [sys.executable, "-m", "dvx", "gc", "-w", "--grace", "0", "-f"], cwd=project,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL,
            env={**os.environ, "DVX_FAULT": stop_at, "DVX_FAULT_ACTION": "stop"})
        line = collecting.stderr.readline()
        assert f"lock of the worktree '{worktree}'" in line, (line, collecting.communicate())
        if stop_at == "lock.waiting":  # stopped before the run lets the lock go
            _wait_stopped(collecting.pid)
        os.kill(recording, signal.SIGCONT)
        _wait_stopped(collecting.pid)
        assert runner.wait(timeout=120) == 0, runner.communicate()
        assert not os.path.exists(worktree)
        assert _queue_states(project) == {"late": "done"}
        os.kill(collecting.pid, signal.SIGCONT)
        out, err = collecting.communicate(timeout=120)
        assert collecting.returncode == 0, out + err
        assert "Traceback" not in err, err
    finally:
        for process in (runner, collecting):
            if process is not None and process.poll() is None:
                process.kill()
    applied = run_dvx("exp", "apply", "late", cwd=project)
    assert applied.code == 0, applied.output
    assert (project / "model.bin").read_text() == "model lr=0.7 epochs=3 rows=3"


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_queue_start_stopped_by_ctrl_c_says_its_runs_go_on_and_how_to_end_them(
        project, tmp_path, signum):
    """Ctrl-C (or SIGTERM) of `queue start` while its run goes on: as when it is killed, the
    run goes on in its own process group and is recorded once it ends. The error says so,
    names the run and `dvx queue stop`, never that nothing was left to finish."""
    go = tmp_path / "go"
    must("exp", "run", "--queue", "-S", f"+train.wait_for={go}", "-n", "on", cwd=project)
    runner = _queue_started(project, "on", subprocess.PIPE)
    try:
        runner.send_signal(signum)
        out, err = runner.communicate(timeout=60)
    finally:
        if runner.poll() is None:
            runner.kill()
    stopped_by = "Interrupted" if signum == signal.SIGINT else "Terminated"
    assert runner.returncode == 128 + signum, out + err
    assert f"ERROR: {stopped_by}. The experiment it started goes on running, in its own " \
        "process group: on." in err, err
    assert "`dvx queue stop` ends it" in err and "half-written" not in err, err
    assert _queue_states(project) == {"on": "running"}
    go.touch()
    deadline = time.monotonic() + 60
    while _queue_states(project) != {"on": "done"}:
        assert time.monotonic() < deadline, _queue_states(project)
        time.sleep(0.2)
    assert "on" in _show(project)


def test_a_ctrl_c_while_queue_start_records_a_run_that_ended_never_says_it_goes_on(project):
    """A Ctrl-C landing while `queue start` records a run that ended (its snapshot ref
    deleted, the entry not saved yet) takes effect once the entry says done and its
    snapshot ref is gone together: the stop never names that run as going on, and the
    entry is never left running without its snapshot."""
    must("exp", "run", "--queue", "-S", "train.lr=0.2", "-n", "quick", cwd=project)
    runner = stopped_at("queue.run_cleaned_up", "queue start", project)
    try:
        runner.send_signal(signal.SIGINT)  # Ctrl-C
        runner.send_signal(signal.SIGCONT)
        out, err = runner.communicate(timeout=60)
    finally:
        if runner.poll() is None:
            runner.kill()
    assert runner.returncode == 130, out + err
    assert "'quick' done." in out, out
    assert "goes on running" not in err, err
    assert _queue_states(project) == {"quick": "done"}
    assert git(project, "for-each-ref", "refs/exps-queue") == ""
    assert _show(project)["quick"]["params"]["params.yaml"]["train.lr"] == 0.2


def test_a_ctrl_c_while_queue_start_ends_a_run_s_process_group_never_says_it_goes_on(project):
    """A Ctrl-C landing after a run's shell ended, while `queue start` waits for the rest of
    its process group and its stage commands to end, takes effect once the run is recorded:
    the stop never names a run that already ended as going on."""
    must("exp", "run", "--queue", "-S", "train.lr=0.3", "-n", "quick", cwd=project)
    runner = stopped_at("queue.run_ended", "queue start", project)
    try:
        runner.send_signal(signal.SIGINT)  # Ctrl-C
        runner.send_signal(signal.SIGCONT)
        out, err = runner.communicate(timeout=60)
    finally:
        if runner.poll() is None:
            runner.kill()
    assert runner.returncode == 130, out + err
    assert "'quick' done." in out, out
    assert "goes on running" not in err and "'quick'" not in err, err
    assert _queue_states(project) == {"quick": "done"}
    assert git(project, "for-each-ref", "refs/exps-queue") == ""
    assert len(git(project, "worktree", "list").splitlines()) == 1
    assert _show(project)["quick"]["params"]["params.yaml"]["train.lr"] == 0.3


def test_entries_dropped_while_the_queue_runs_never_start(project, tmp_path):
    # slow waits for a file nobody makes: it is still running when the queue is stopped
    must("exp", "run", "--queue", "-S", f"+train.wait_for={tmp_path / 'never'}", "-n", "slow",
         cwd=project)
    for name in ("q2", "q3"):
        must("exp", "run", "--queue", "-S", "train.lr=0.2", "-n", name, cwd=project)
    runner = _queue_started(project, "slow")
    try:
        assert run_dvx("queue", "remove", "q3", cwd=project).code == 0
        assert run_dvx("queue", "stop", cwd=project).code == 0
        assert runner.wait(timeout=60) == 1
    finally:
        if runner.poll() is None:
            runner.send_signal(signal.SIGKILL)
    states = _queue_states(project)
    assert states == {"slow": "stopped", "q2": "stopped"}, states
    assert git(project, "for-each-ref", "refs/exps") == ""


def test_queue_start_runs_what_is_queued_while_it_runs(project, tmp_path):
    go = tmp_path / "go"
    must("exp", "run", "--queue", "-S", f"+train.wait_for={go}", "-n", "first", cwd=project)
    runner = _queue_started(project, "first")
    try:
        must("exp", "run", "--queue", "-S", "train.lr=0.2", "-n", "later", cwd=project)
        go.touch()
        assert runner.wait(timeout=60) == 0
    finally:
        if runner.poll() is None:
            runner.send_signal(signal.SIGKILL)
    states = _queue_states(project)
    assert states == {"first": "done", "later": "done"}, states
    assert "later" in _show(project)


def test_a_name_queued_again_while_the_queue_runs_is_run_again(project, tmp_path):
    go = tmp_path / "go"
    must("exp", "run", "--queue", "-S", "+train.fail=true", "-n", "tryit", cwd=project)
    must("exp", "run", "--queue", "-S", f"+train.wait_for={go}", "-n", "slow", cwd=project)
    runner = subprocess.Popen([sys.executable, "-m", "dvx", "queue", "start"], cwd=project,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        states: dict[str, str] = {}
        while time.monotonic() < deadline and states.get("slow") != "running":
            states = _queue_states(project)
            time.sleep(0.1)
        assert states == {"tryit": "failed", "slow": "running"}, states
        must("exp", "run", "--queue", "-S", "train.lr=0.2", "-n", "tryit", cwd=project)
        go.touch()  # slow ends only now: the queue is still running when tryit is queued
        assert runner.wait(timeout=60) == 1  # the first tryit failed
    finally:
        if runner.poll() is None:
            runner.send_signal(signal.SIGKILL)
    states = _queue_states(project)
    assert states == {"tryit": "done", "slow": "done"}, states


def test_a_run_whose_runner_was_killed_is_settled_and_cleaned_up(project, tmp_path):
    go = tmp_path / "go"
    must("exp", "run", "--queue", "-S", f"+train.wait_for={go}", "-n", "orphan", cwd=project)
    runner = _queue_started(project, "orphan")
    runner.send_signal(signal.SIGKILL)  # the runner dies; its run goes on alone
    runner.wait()
    go.touch()  # only now can the run end: never before its runner died
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        states = json.loads(run_dvx("queue", "status", "--json", cwd=project).stdout)
        if states[0]["state"] != "running":
            break
        time.sleep(0.2)
    assert states[0]["state"] == "done", states  # its experiment was recorded
    assert "orphan" in _show(project)
    assert git(project, "for-each-ref", "refs/exps-queue") == ""
    assert len(git(project, "worktree", "list").splitlines()) == 1


def _unrelated_group() -> subprocess.Popen:
    """A program of the user's leading a process group of its own (a tmux session, a job
    started with setsid), the kind that may be given the id of a queue runner that died."""
    return subprocess.Popen(["sleep", "300"], start_new_session=True)


def _started(pid: int) -> int:
    """When the process `pid` started, in clock ticks after boot (/proc/PID/stat)."""
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])


def _run_by(project, name: str, pid: int, **fields) -> None:
    """Make the entry `name` record itself running in the process group `pid`."""
    state = _state_file(project, name)
    state.write_text(json.dumps({**json.loads(state.read_text()), "state": "running",
                                 "pid": pid, **fields}))


@pytest.mark.parametrize("recorded", ["its id given to another process since",
                                      "before the machine restarted", "by an older dvx"])
def test_a_process_given_a_dead_runner_s_id_is_never_stopped_nor_keeps_its_entry_running(
        project, recorded):
    """A runner that died leaves its entry running; its process id may then belong to an
    unrelated process group, which `queue stop` must leave alone."""
    must("exp", "run", "--queue", "-S", "train.lr=0.2", "-n", "q1", cwd=project)
    victim = _unrelated_group()
    try:
        worktree = os.path.join(tempfile.gettempdir(), "dvx-exp-q1-999-abcdefgh", "worktree")
        _run_by(project, "q1", victim.pid, worktree=worktree, **{
            "its id given to another process since": {
                "pid_started": _started(victim.pid) - 1,
                "boot_id": Path("/proc/sys/kernel/random/boot_id").read_text().strip()},
            "before the machine restarted": {
                "pid_started": _started(victim.pid),
                "boot_id": "00000000-0000-4000-8000-000000000000"},
            "by an older dvx": {}}[recorded])
        listed = run_dvx("queue", "status", cwd=project)
        assert listed.code == 0, listed.output
        assert re.search(r"q1 +failed .*its run ended without reporting", listed.stdout)
        stopped = run_dvx("queue", "stop", cwd=project)
        assert stopped.code == 0, stopped.output
        assert "Stopped 0 experiments." in stopped.stdout
        assert victim.poll() is None, "dvx signalled an unrelated process group"
    finally:
        victim.kill()
        victim.wait()


def test_a_running_queue_entry_is_told_from_a_process_given_its_runner_s_id_later(project,
                                                                                  tmp_path):
    go = tmp_path / "go"
    must("exp", "run", "--queue", "-S", f"+train.wait_for={go}", "-n", "slow", cwd=project)
    runner = _queue_started(project, "slow")
    try:
        state = _state_file(project, "slow")
        recorded = json.loads(state.read_text())
        assert _queue_states(project) == {"slow": "running"}
        # as an older dvx recorded it: its process group is still known by its worktree
        state.write_text(json.dumps({k: v for k, v in recorded.items()
                                     if k not in ("pid_started", "boot_id")}))
        assert _queue_states(project) == {"slow": "running"}
        assert run_dvx("queue", "stop", cwd=project).stdout == "Stopped 1 experiment.\n"
        assert runner.wait(timeout=30) == 1
    finally:
        if runner.poll() is None:
            runner.send_signal(signal.SIGKILL)
    assert _queue_states(project) == {"slow": "stopped"}
    # the entry as its runner left it when it died, and its process id given to another one
    victim = _unrelated_group()
    try:
        state.write_text(json.dumps({**recorded, "pid": victim.pid}))
        assert _queue_states(project) == {"slow": "failed"}
        assert run_dvx("queue", "stop", cwd=project).stdout == "Stopped 0 experiments.\n"
        assert victim.poll() is None, "dvx signalled an unrelated process group"
    finally:
        victim.kill()
        victim.wait()


def _private_temporary(tmp_path, monkeypatch) -> Path:
    """A temporary folder for the queue's worktrees, in this process and in dvx processes."""
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temporary))
    monkeypatch.setenv("TMPDIR", str(temporary))
    return temporary


def _mode(path) -> int:
    return os.stat(path).st_mode & 0o777


def test_a_queued_run_s_copy_of_the_local_config_is_readable_by_its_owner_alone(
        project, tmp_path, monkeypatch):
    """The local config holds credentials; the worktree lies in a temporary folder that
    every user of the machine can read."""
    _private_temporary(tmp_path, monkeypatch)
    must("remote", "add", "--local", "st", "s3://bucket/store", cwd=project)
    must("remote", "modify", "st", "secret_access_key", "SEKRIT-123", cwd=project)
    go = tmp_path / "go"
    must("exp", "run", "--queue", "-S", f"+train.wait_for={go}", "-n", "waits", cwd=project)
    runner = _queue_started(project, "waits")
    try:
        worktree = Path(json.loads(run_dvx("queue", "status", "--json", cwd=project).stdout)[0][
            "worktree"])
        copy = worktree / ".dvx" / "config.local"
        assert "SEKRIT-123" in copy.read_text()
        assert _mode(copy) == 0o600 and _mode(worktree.parent) == 0o700
        go.touch()
        assert runner.wait(timeout=60) == 0
    finally:
        if runner.poll() is None:
            runner.send_signal(signal.SIGKILL)
    assert not worktree.parent.exists()


def test_a_worktree_a_killed_queue_start_left_unrecorded_goes_with_the_next_start(
        project, tmp_path, monkeypatch):
    temporary = _private_temporary(tmp_path, monkeypatch)
    must("remote", "add", "--local", "mine", str(tmp_path / "store"), cwd=project)
    must("exp", "run", "--queue", "-S", "train.lr=0.2", "-n", "once", cwd=project)
    killed = run_dvx_proc("queue", "start", cwd=project,
                          env={"DVX_FAULT": "queue.worktree_made"})
    assert killed.code == -signal.SIGKILL
    (left,) = temporary.iterdir()  # made, with its copy of the local config, and not recorded
    assert (left / "worktree" / ".dvx" / "config.local").exists()
    assert _queue_states(project) == {"once": "queued"}
    assert run_dvx("queue", "start", cwd=project).code == 0
    assert _queue_states(project) == {"once": "done"}
    assert list(temporary.iterdir()) == []
    assert len(git(project, "worktree", "list").splitlines()) == 1


def _forgotten(worktree, name: str) -> str:
    """What a command says as Git forgets the queue's worktree whose folder is gone."""
    return f"Removed from Git's list of worktrees {worktree}, which `dvx queue start` made to " \
        f"run '{name}': its folder is gone and its run no longer runs."


@pytest.mark.parametrize("then", [("gc", "-w", "-f", "--grace", "0"), ("queue", "status"),
                                  ("queue", "remove", "lost")])
def test_a_killed_queued_run_s_worktree_lost_with_the_temporary_directory_is_forgotten(
        project, tmp_path, monkeypatch, then):
    """`queue start` and its run killed with SIGKILL, then the temporary directory wiped (a
    restart): Git still lists the run's worktree, its folder gone. Nothing of the user's was
    ever there, so gc and the queue commands make Git forget it, saying so, and gc goes on
    instead of refusing as it does for a worktree of the user's whose folder is gone."""
    temporary = _private_temporary(tmp_path, monkeypatch)
    must("exp", "run", "--queue", "-S", "+train.sleep=60", "-n", "lost", cwd=project)
    runner = _queue_started(project, "lost")
    worktree = json.loads(run_dvx("queue", "status", "--json", cwd=project).stdout)[0][
        "worktree"]
    runner.send_signal(signal.SIGKILL)
    runner.wait()
    deadline = time.monotonic() + 30
    while left := _processes_in(worktree):
        assert time.monotonic() < deadline, left
        for pid in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.1)
    shutil.rmtree(os.path.dirname(worktree))
    assert "prunable" in git(project, "worktree", "list", "--porcelain")

    result = run_dvx_proc(*then, cwd=project)
    assert result.code == 0, result.output
    assert _forgotten(worktree, "lost") in result.stderr, result.output
    assert "Traceback" not in result.output
    assert len(git(project, "worktree", "list").splitlines()) == 1
    assert _queue_states(project) == ({} if "remove" in then else {"lost": "failed"})
    assert list(temporary.iterdir()) == []


def test_a_worktree_a_killed_queue_start_left_unrecorded_and_then_lost_does_not_stop_gc(
        project, tmp_path, monkeypatch):
    """`queue start` killed before it recorded the worktree it made, whose folder then goes
    with the temporary directory: gc makes Git forget it and goes on; the entry stays
    queued."""
    temporary = _private_temporary(tmp_path, monkeypatch)
    write(project / "old.txt", "nothing uses this once it is removed\n")
    must("add", "old.txt", cwd=project)
    (project / "old.txt").unlink()
    (project / "old.txt.dvx").unlink()
    must("exp", "run", "--queue", "-S", "train.lr=0.2", "-n", "once", cwd=project)
    killed = run_dvx_proc("queue", "start", cwd=project,
                          env={"DVX_FAULT": "queue.worktree_made"})
    assert killed.code == -signal.SIGKILL
    (left,) = temporary.iterdir()
    shutil.rmtree(left)

    swept = run_dvx_proc("gc", "-w", "-f", "--grace", "0", cwd=project)
    assert swept.code == 0, swept.output
    assert _forgotten(left / "worktree", "once") in swept.stderr, swept.output
    cache = project / ".dvx" / "cache"
    assert not any(f.is_file() and f.read_bytes() == b"nothing uses this once it is removed\n"
                   for f in cache.rglob("*"))
    assert len(git(project, "worktree", "list").splitlines()) == 1
    assert _queue_states(project) == {"once": "queued"}


def _state_file(project, name: str) -> Path:
    return project / ".dvx" / "tmp" / "queue" / f"{name}.json"


def _dead_pid() -> int:
    """The id of a process (and its process group) that has ended."""
    ended = subprocess.Popen(["true"], start_new_session=True)
    ended.wait()
    return ended.pid


@pytest.mark.parametrize("target", ["a folder of the user's", "the repository",
                                    "a Git worktree of the user's",
                                    "a folder of the queue's form Git does not list"])
def test_a_queue_entry_never_has_a_folder_removed_that_dvx_did_not_make_for_its_run(
        project, tmp_path, monkeypatch, target):
    """An entry whose runner died has its worktree removed: the state file naming it is a
    file anyone can edit, so the folder it names is removed only if it is one `queue start`
    made, as Git lists it."""
    temporary = _private_temporary(tmp_path, monkeypatch)
    must("exp", "run", "--queue", "-S", "train.lr=0.2", "-n", "q1", cwd=project)
    folder = {"a folder of the user's": tmp_path / "thesis",
              "the repository": project,
              "a Git worktree of the user's": tmp_path / "feature",
              "a folder of the queue's form Git does not list":
                  temporary / f"dvx-exp-q1-{_dead_pid()}-abcdefgh" / "worktree"}[target]
    if target == "a Git worktree of the user's":
        git(project, "worktree", "add", "-q", "--detach", str(folder))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "thesis.txt").write_text("years of work")
    state = _state_file(project, "q1")
    state.write_text(json.dumps({**json.loads(state.read_text()), "state": "running",
                                 "pid": _dead_pid(), "worktree": str(folder)}))
    listed = run_dvx("queue", "status", cwd=project)
    assert listed.code == 0, listed.output
    assert (folder / "thesis.txt").read_text() == "years of work"
    assert (project / ".git").is_dir() and (project / "dvx.yaml").is_file()
    assert f"Left {folder} as it is" in listed.stderr and str(state) in listed.stderr
    assert re.search(r"q1 +failed .*which `dvx queue start` did not make", listed.stdout)
    assert run_dvx("queue", "remove", "q1", cwd=project).code == 0
    assert (folder / "thesis.txt").read_text() == "years of work"


def _cut_short(state: Path) -> None:
    state.write_bytes(state.read_bytes()[:20])


def _replace(data: bytes) -> Callable[[Path], None]:
    return lambda state: state.write_bytes(data)


def _fifo(state: Path) -> None:
    state.unlink()
    os.mkfifo(state)


def _link_to_dev_zero(state: Path) -> None:
    state.unlink()
    state.symlink_to("/dev/zero")


def _retyped(state: Path) -> None:
    state.write_text(json.dumps({**json.loads(state.read_text()), "sets": "train.lr=0.2"}))


DAMAGES = {"cut short": _cut_short, "empty": _replace(b""),
           "not UTF-8": _replace(b'{"name": "q1\xff"}'),
           "a NUL": _replace(b'{"name": "q1\x00"}'), "a list": _replace(b"[1, 2]"),
           "a 5000-digit number": _replace(b'{"pid": ' + b"9" * 5000 + b"}"),
           "deep nesting": _replace(b"[" * 100_000 + b"]" * 100_000),
           "a field of the wrong type": _retyped, "a FIFO": _fifo,
           "a link to /dev/zero": _link_to_dev_zero}


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_a_damaged_queue_entry_is_listed_as_such_and_removed_by_name(project, damage):
    must("exp", "run", "--queue", "-S", "train.lr=0.2", "-n", "q1", cwd=project)
    must("exp", "run", "--queue", "-S", "train.lr=0.3", "-n", "q2", cwd=project)
    state = _state_file(project, "q1")
    DAMAGES[damage](state)
    listed = run_dvx_proc("queue", "status", cwd=project, timeout=60)  # a FIFO never blocks
    assert listed.code == 0, listed.output
    assert re.search(rf"q1 +damaged .*its state file {re.escape(str(state))} cannot be used",
                     listed.stdout), listed.stdout
    assert re.search(r"q2 +queued +train.lr=0.3", listed.stdout), listed.stdout
    taken = run_dvx("exp", "run", "--queue", "-n", "q1", cwd=project)
    assert taken.code == 2 and "The queue entry 'q1' is damaged" in taken.stderr, taken.output
    removed = run_dvx("queue", "remove", "q1", cwd=project)
    assert removed.code == 0, removed.output
    assert not os.path.lexists(state)
    assert _queue_states(project) == {"q2": "queued"}
    assert git(project, "for-each-ref", "--format=%(refname)", "refs/exps-queue") == \
        "refs/exps-queue/q2\n"


def test_queue_start_skips_a_damaged_entry_and_reads_a_bom_and_keys_it_does_not_know(project):
    for name in ("cut", "bom", "newer"):
        must("exp", "run", "--queue", "-S", "train.lr=0.2", "-n", name, cwd=project)
    cut = _state_file(project, "cut")
    _cut_short(cut)
    bom = _state_file(project, "bom")
    bom.write_bytes(b"\xef\xbb\xbf" + bom.read_bytes())
    newer = _state_file(project, "newer")
    newer.write_text(json.dumps({"priority": 3, **json.loads(newer.read_text())}))
    started = run_dvx("queue", "start", cwd=project)
    assert started.code == 0, started.output
    assert f"Skipped the queue entry 'cut': its state file {cut} cannot be used" in \
        started.stderr
    assert _queue_states(project) == {"cut": "damaged", "bom": "done", "newer": "done"}
    assert {"bom", "newer"} <= set(_show(project))


def _shared_pipeline(tmp_path):
    """A team whose founder, alice, shared the pipeline (code and data): (team, alice)."""
    team = Team(tmp_path)
    alice = team.founder()
    _pipeline(alice)
    git(alice, "push", "-q", "origin", "main")
    must("push", cwd=alice)
    return team, alice


def test_experiments_travel_through_git_and_the_dvx_remote(tmp_path):
    team, alice = _shared_pipeline(tmp_path)
    must("exp", "run", "-S", "train.lr=0.01", "-n", "low", cwd=alice)
    pushed = run_dvx("exp", "push", "origin", "low", cwd=alice)
    assert pushed.code == 0 and "Pushed 1 experiment: low" in pushed.stdout
    bob = team.clone("bob")
    pulled = run_dvx("exp", "pull", "origin", cwd=bob)
    assert pulled.code == 0 and "low" in pulled.stdout, pulled.output
    assert _show(bob)["low"]["metrics"]["metrics.json"]["accuracy"] == 0.9975
    applied = run_dvx("exp", "apply", "low", cwd=bob)  # its model came from the remote
    assert applied.code == 0, applied.output
    assert (bob / "model.bin").read_text() == "model lr=0.01 epochs=3 rows=3"
    share(bob, "keep low")


def test_experiments_already_on_the_other_side_are_named_up_to_date_named_or_not(tmp_path):
    """An experiment the other side holds already, at the same commit, is named as up to date
    there, never as pushed or pulled again, whether it was named or not; --json says the
    same: what moved under "experiments", the rest under "up_to_date"."""
    team, alice = _shared_pipeline(tmp_path)
    must("exp", "run", "-S", "train.lr=0.01", "-n", "low", cwd=alice)
    must("exp", "push", "origin", "low", cwd=alice)
    again = run_dvx("exp", "push", "origin", "low", cwd=alice)
    assert again.code == 0, again.output
    assert "Pushed 0 experiments." in again.stdout, again.output
    assert "Up to date on 'origin' already, at the same commit: low." in again.stdout
    bob = team.clone("bob")
    must("exp", "pull", "origin", "low", cwd=bob)
    for names in (["low"], []):
        pulled = run_dvx("exp", "pull", "origin", *names, cwd=bob)
        assert pulled.code == 0, pulled.output
        assert "Pulled 0 experiments." in pulled.stdout, (names, pulled.output)
        assert "Up to date here already, at the same commit: low." in pulled.stdout
    must("exp", "run", "-S", "train.lr=0.02", "-n", "lower", cwd=alice)
    pushed = run_dvx("exp", "push", "origin", "--json", cwd=alice)
    assert pushed.code == 0, pushed.output
    doc = json.loads(pushed.stdout)
    assert (doc["git_remote"], doc["experiments"], doc["up_to_date"]) == \
        ("origin", ["lower"], ["low"]), doc
    pulled = run_dvx("exp", "pull", "origin", "--json", cwd=bob)
    assert pulled.code == 0, pulled.output
    doc = json.loads(pulled.stdout)
    assert (doc["experiments"], doc["up_to_date"], doc["left_out"]) == (["lower"], ["low"], None)
    assert doc["data"]["remote"] is not None


def test_apply_refuses_an_experiment_whose_baseline_head_lacks_and_names_that_commit(tmp_path):
    team, alice = _shared_pipeline(tmp_path)
    bob = team.clone("bob")
    write(alice / "train.py", TRAIN.replace("model lr=", "model v2 lr="))
    git(alice, "commit", "-qam", "new model code")  # not pushed: bob never pulls it
    baseline = git(alice, "rev-parse", "HEAD").strip()
    must("exp", "run", "-S", "train.lr=0.01", "-n", "low", cwd=alice)
    must("exp", "push", "origin", "low", cwd=alice)
    must("exp", "pull", "origin", "low", cwd=bob)
    before = {rel: (bob / rel).read_text() for rel in ("params.yaml", "train.py", "model.bin")}

    for step in ("behind", "diverged"):  # HEAD is the baseline's parent, then went its own way
        refused = run_dvx("exp", "apply", "low", cwd=bob)
        assert refused.code == 2, (step, refused.output)
        assert f"'low' started from commit {baseline[:7]}, which HEAD does not contain: HEAD " \
            "lacks its versions of train.py." in refused.stderr, refused.stderr
        assert f"`git merge {baseline[:7]}`" in refused.stderr
        assert "`dvx exp branch low BRANCH`" in refused.stderr
        assert {rel: (bob / rel).read_text() for rel in before} == before  # nothing written
        if step == "behind":
            write(bob / "README.md", "notes\n")
            git(bob, "add", "README.md")
            git(bob, "commit", "-qm", "readme")

    git(bob, "cherry-pick", baseline)  # HEAD has all the baseline has, though not its commit
    applied = run_dvx("exp", "apply", "low", cwd=bob)
    assert applied.code == 0, applied.output
    assert (bob / "model.bin").read_text() == "model v2 lr=0.01 epochs=3 rows=3"
    assert (bob / "README.md").read_text() == "notes\n"
    assert run_dvx("status", "-q", cwd=bob).code == 0  # the code the model was made with


def test_sharing_never_replaces_an_experiment_of_the_same_name_unasked(tmp_path):
    team, alice = _shared_pipeline(tmp_path)
    bob = team.clone("bob")
    must("exp", "run", "-S", "train.lr=0.7", "-n", "tuned", cwd=bob)
    ref = f"refs/exps/{git(bob, 'rev-parse', 'HEAD').strip()}/tuned"
    bobs = git(bob, "rev-parse", ref).strip()
    must("exp", "run", "-S", "train.lr=0.2", "-n", "tuned", cwd=alice)
    must("exp", "push", "origin", cwd=alice)

    pulled = run_dvx("exp", "pull", "origin", cwd=bob)
    assert pulled.code == 2 and "tuned" in pulled.stderr and "--force" in pulled.stderr
    assert git(bob, "rev-parse", ref).strip() == bobs
    pushed = run_dvx("exp", "push", "origin", "tuned", cwd=bob)
    assert pushed.code == 2 and "other experiments under the same names" in pushed.stderr
    assert git(alice, "ls-remote", "origin", ref).split()[0] != bobs

    assert run_dvx("exp", "pull", "origin", "--force", cwd=bob).code == 0
    assert git(bob, "rev-parse", ref).strip() != bobs
    assert _show(bob)["tuned"]["params"]["params.yaml"]["train.lr"] == 0.2


def test_a_name_taken_while_a_run_goes_on_is_kept_and_the_run_takes_the_next_free_one(
        tmp_path):
    team, alice = _shared_pipeline(tmp_path)
    bob = team.clone("bob")
    must("exp", "run", "-S", "train.lr=0.7", "-n", "tuned", cwd=bob)
    must("exp", "push", "origin", "tuned", cwd=bob)
    git(alice, "branch", "tuned-2")  # never an experiment's name
    # Its stage has run, so its name was checked: then bob's of the same name comes in.
    running = stopped_at("repro.after_command", "exp run -S train.lr=0.2 -n tuned", alice)
    pulled = run_dvx("exp", "pull", "origin", "tuned", cwd=alice)
    assert pulled.code == 0, pulled.output
    running.send_signal(signal.SIGCONT)
    out, err = running.communicate(timeout=120)
    assert running.returncode == 0, out + err
    assert "an experiment called 'tuned' of this baseline was made while this run went on" \
        in err and "this run is recorded as 'tuned-3'" in err, err
    assert "Ran experiment 'tuned-3'" in out
    rows = _show(alice)
    assert rows["tuned"]["params"]["params.yaml"]["train.lr"] == 0.7  # bob's, kept
    assert rows["tuned-3"]["params"]["params.yaml"]["train.lr"] == 0.2
    assert "tuned-2" not in rows
    baseline = git(alice, "rev-parse", "HEAD").strip()
    assert git(alice, "log", "-1", "--format=%s%n%P", f"refs/exps/{baseline}/tuned-3"
               ).split() == ["dvx", "experiment", "tuned-3", baseline]


def _other_branch(project):
    """A branch `feat` beside HEAD's (the same dvx.yaml, other code, a file of its own),
    HEAD left where it was."""
    git(project, "checkout", "-qb", "feat")
    write(project / "train.py", TRAIN + "# feat's\n")
    write(project / "feat.txt", "feat only\n")
    git(project, "add", "-A")
    git(project, "commit", "-qm", "feat")
    git(project, "checkout", "-q", "-")


def test_an_exp_run_during_which_head_moves_records_nothing(project):
    """A `git checkout` of another branch while `exp run` goes on leaves that branch's files
    in the workspace: recorded, they would make an experiment of the commit the run started
    from holding another branch's code, which `exp apply` would bring into it. Nothing is
    recorded, and the run fails saying why."""
    _other_branch(project)
    # The params set are carried over by Git.
    code, out, err = run_meanwhile("repro.after_command", "exp run -S train.lr=0.2 -n e1",
                                   project, lambda: git(project, "checkout", "-q", "feat"),
                                   timeout=120)
    assert code == 1, out + err
    assert "HEAD moved from commit" in err and "nothing was recorded" in err, err
    assert "Ran experiment" not in out
    assert git(project, "for-each-ref", "refs/exps") == ""


def test_a_stage_whose_command_moves_head_records_nothing_and_says_so(project):
    """A stage whose own command runs `git commit`: the run records nothing (HEAD moved),
    and the message names the stage's command as what may have moved it, rather than only
    sending the user back to the commit; a queued run's message says its temporary worktree
    is gone, not that the workspace keeps what the run left."""
    write(project / "dvx.yaml", DVX_YAML.replace(
        "train.py\n", "train.py && git commit -q --allow-empty -m 'log run'\n", 1))
    git(project, "commit", "-qam", "a stage that commits")
    ran = run_dvx("exp", "run", "-S", "train.lr=0.2", "-n", "c1", cwd=project)
    assert ran.code == 1, ran.output
    assert "If a stage's own command (one running `git commit`, `git checkout` or `git " \
        "reset`) moved HEAD, an experiment cannot record that pipeline" in ran.stderr, ran.stderr
    assert "(its branch)" not in ran.stderr
    git(project, "reset", "-q", "--hard", "HEAD~1")
    must("checkout", cwd=project)
    must("exp", "run", "--queue", "-S", "train.lr=0.3", "-n", "q1", cwd=project)
    assert run_dvx("queue", "start", cwd=project).code == 1
    log = must("queue", "logs", "q1", cwd=project)
    assert "in the run's temporary worktree while it went on, moved by a stage's own " \
        "command" in log and "The temporary worktree is removed" in log, log
    assert "The workspace keeps" not in log and "Check out" not in log
    assert git(project, "for-each-ref", "refs/exps") == ""


def test_an_exp_save_during_which_head_moves_records_nothing(project):
    """As for `exp run`: the workspace `exp save` would record holds another commit's files
    once HEAD moved while it went on (here while it stores a changed input)."""
    _other_branch(project)
    write(project / "data" / "raw.csv", "a\nb\nc\nd\n")
    saving = stopped_at("cache.before_publish", "exp save -n e1", project)
    try:
        git(project, "checkout", "-q", "feat")
    finally:
        saving.send_signal(signal.SIGCONT)
    out, err = saving.communicate(timeout=120)
    assert saving.returncode == 1, out + err
    assert "HEAD moved from commit" in err and "`dvx exp save` there" in err, err
    assert git(project, "for-each-ref", "refs/exps") == ""


def test_exp_pull_and_push_with_an_unknown_dvx_remote_change_nothing(tmp_path):
    """`-r NAME` no remote is called is refused (exit 2) before Git fetches or pushes any
    experiment: nothing changes on either side."""
    team, alice = _shared_pipeline(tmp_path)
    bob = team.clone("bob")
    must("exp", "run", "-S", "train.lr=0.7", "-n", "tuned", cwd=bob)
    must("exp", "push", "origin", "tuned", cwd=bob)
    refused = run_dvx("exp", "pull", "origin", "tuned", "-r", "nope", cwd=alice)
    assert refused.code == 2 and "no remote named 'nope'" in refused.stderr, refused.output
    assert git(alice, "for-each-ref", "refs/exps") == ""
    must("exp", "run", "-S", "train.lr=0.2", "-n", "mine", cwd=alice)
    refused = run_dvx("exp", "push", "origin", "mine", "-r", "nope", cwd=alice)
    assert refused.code == 2 and "no remote named 'nope'" in refused.stderr, refused.output
    assert "/mine" not in git(alice, "ls-remote", "origin")


def test_a_failed_exp_push_names_the_experiments_not_pushed_and_what_was(tmp_path):
    """Each way an exp push of several experiments fails names those not pushed: the Git
    remote out of reach, the dvx remote out of reach, a Git push the remote refuses in part
    (which names the one it took, and that the data of all went)."""
    team, alice = _shared_pipeline(tmp_path)
    must("exp", "run", "-S", "train.lr=0.2", "-n", "first", cwd=alice)
    must("exp", "run", "-S", "train.lr=0.3", "-n", "second", cwd=alice)
    unreachable = run_dvx("exp", "push", str(tmp_path / "nowhere.git"), cwd=alice)
    assert unreachable.code == 1, unreachable.output
    assert re.search(r"Could not push the experiments (first, second|second, first) to "
                     r"'.*nowhere\.git' \(nothing was pushed\): git ls-remote failed",
                     unreachable.stderr), unreachable.stderr
    must("remote", "add", "away", str(tmp_path / "file" / "store"), cwd=alice)
    write(tmp_path / "file", "a file where the store's folder would be\n")
    no_data = run_dvx("exp", "push", "origin", "first", "-r", "away", cwd=alice)
    assert no_data.code == 1, no_data.output
    assert "Could not push the experiment first to 'origin' (their data could not be pushed, " \
        "so no ref was)" in no_data.stderr, no_data.stderr
    hook = team.origin / "hooks" / "update"
    write(hook, '#!/bin/sh\ncase "$1" in */second) echo "not second" >&2; exit 1;; esac\n')
    hook.chmod(0o755)
    refused = run_dvx("exp", "push", "origin", cwd=alice)
    assert refused.code == 1, refused.output
    assert re.search(r"Could not push the experiment second to 'origin' \(first was pushed; "
                     r"the data of (first, second|second, first) is on the dvx remote\): git "
                     r"push failed: remote: not second", refused.stderr), refused.stderr
    assert "/first" in git(alice, "ls-remote", "origin")
    assert "/second" not in git(alice, "ls-remote", "origin")


def _hand_made_tree(clone: Path, base: str | None, entries: dict[str, tuple[str, bytes]]
                    ) -> str:
    """The tree `base` (None: an empty one) with `entries` (path -> (mode, content)) added, made
    with Git's plumbing, which takes any name ('..', '.git') where dvx and `git add` take none."""
    listed = git(clone, "ls-tree", "-z", base).split("\0") if base else []
    lines = {line.split("\t", 1)[1]: line for line in listed if line}
    below: dict[str, dict[str, tuple[str, bytes]]] = {}
    for path, (mode, content) in entries.items():
        top, _, rest = path.partition("/")
        if rest:
            below.setdefault(top, {})[rest] = (mode, content)
        else:
            blob = _plumbing(clone, ["hash-object", "-w", "--stdin"], content)
            lines[top] = f"{mode} blob {blob}\t{top}"
    for top, inner in below.items():
        old = lines[top].split()[2] if top in lines else None
        lines[top] = f"040000 tree {_hand_made_tree(clone, old, inner)}\t{top}"
    return _plumbing(clone, ["mktree", "-z"], "".join(f"{line}\0" for line in lines.values()))


def _plumbing(clone: Path, args: list[str], given: str | bytes) -> str:
    data = given.encode() if isinstance(given, str) else given
    return subprocess.run(["git", *args], cwd=clone, input=data, capture_output=True,
                          check=True).stdout.decode().strip()


def _shared_hand_made_experiment(clone: Path, name: str,
                                 entries: dict[str, tuple[str, bytes]]) -> str:
    """Replace the experiment `name` of `clone`, pushed, on origin by a commit of the same
    parent whose tree also holds `entries`, as a teammate could push one: its ref."""
    ref = git(clone, "for-each-ref", "--format=%(refname)", f"refs/exps/*/{name}").strip()
    tree = _hand_made_tree(clone, f"{ref}^{{tree}}", entries)
    made = git(clone, "commit-tree", tree, "-p", f"{ref}^", "-m", name).strip()
    git(clone, "push", "-q", "origin", f"+{made}:{ref}")
    return ref


HOSTILE_EXPERIMENT_FILES = [
    (".git/hooks/post-commit", ("100755", b"#!/bin/sh\ntouch PWNED\n")),
    (".GIT/hooks/post-commit", ("100755", b"#!/bin/sh\ntouch PWNED\n")),
    ("../ESCAPED.txt", ("100644", b"written outside\n")),
    (".dvx/config.local", ("100644", b"[core]\n    remote = theirs\n")),
    (".dvx/cache/files", ("120000", b"/elsewhere/.dvx/cache/files")),
    (".dvx/tmp/x", ("100644", b"x\n")),
    (".DVX/Cache/x", ("100644", b"x\n")),
    ("sub/.dvx/config.local", ("100644", b"[core]\n    remote = theirs\n")),
    ("sub/.Dvx/TMP/x", ("100644", b"x\n")),
]


@pytest.mark.parametrize("path, entry", HOSTILE_EXPERIMENT_FILES)
def test_apply_refuses_an_experiment_that_would_write_outside_the_project_s_files(
        tmp_path, path, entry):
    """A teammate's experiment is a commit anyone can make by hand: one whose files reach
    into Git's directory (a hook the next commit would run), out of the project, or into
    this clone's own files in .dvx (credentials, the cache) is refused as a whole, naming
    the experiment and the path, and nothing is written."""
    team, alice = _shared_pipeline(tmp_path)
    must("exp", "run", "-S", "train.lr=0.2", "-n", "tuned", cwd=alice)
    must("exp", "push", "origin", "tuned", cwd=alice)
    ref = _shared_hand_made_experiment(alice, "tuned", {path: entry})
    bob = team.clone("bob")
    git(bob, "fetch", "-q", "origin", f"{ref}:{ref}")  # as `git fetch 'refs/exps/*'` would
    must("fetch", "--rev", ref, cwd=bob)  # its data: nothing else stops the apply
    params = (bob / "params.yaml").read_text()

    refused = run_dvx("exp", "apply", "tuned", cwd=bob)
    assert refused.code == 2, refused.output
    assert "The experiment 'tuned'" in refused.stderr and f"'{path}'" in refused.stderr, \
        refused.stderr
    assert "Traceback" not in refused.output and "git ls-tree" not in refused.stderr
    assert (bob / "params.yaml").read_text() == params
    assert git(bob, "status", "--porcelain") == ""
    assert not (bob / ".git" / "hooks" / "post-commit").exists()
    assert not (tmp_path / "ESCAPED.txt").exists()
    assert not (bob / ".dvx" / "config.local").exists()
    assert not (bob / ".dvx" / "cache" / "files").is_symlink()


@pytest.mark.parametrize("path, entry", HOSTILE_EXPERIMENT_FILES[::3])
def test_pull_leaves_out_an_experiment_that_would_write_outside_the_project_s_files(
        tmp_path, path, entry):
    """`dvx exp pull` checks each experiment before it stores its ref: one whose files reach
    into Git's directory, out of the project or into this clone's own files in .dvx is left
    out, naming it and the path, saying nothing of it was stored and how to delete it from
    the remote; the others are pulled (exit 1), and so they are by every later pull."""
    team, alice = _shared_pipeline(tmp_path)
    must("exp", "run", "-S", "train.lr=0.2", "-n", "tuned", cwd=alice)
    must("exp", "run", "-S", "train.lr=0.3", "-n", "plain", cwd=alice)
    must("exp", "push", "origin", cwd=alice)
    ref = _shared_hand_made_experiment(alice, "tuned", {path: entry})
    bob = team.clone("bob")

    left_out = run_dvx("exp", "pull", "origin", cwd=bob)
    assert left_out.code == 1 and "Pulled 1 experiment: plain." in left_out.stdout, \
        left_out.output
    assert f"Not pulled from 'origin': {ref}, whose commit" in left_out.stderr, left_out.stderr
    assert f"'{path}'" in left_out.stderr and "Nothing of it was stored" in left_out.stderr
    assert f"`dvx exp remove -g origin --force {ref}`" in left_out.stderr, left_out.stderr
    assert "Traceback" not in left_out.output
    assert git(bob, "for-each-ref", "--format=%(refname)", "refs/exps").split() == \
        [ref.replace("/tuned", "/plain")]
    assert run_dvx("exp", "apply", "tuned", cwd=bob).code != 0
    assert not (bob / ".git" / "hooks" / "post-commit").exists()
    again = run_dvx("exp", "pull", "origin", cwd=bob)
    assert again.code == 1 and f"Not pulled from 'origin': {ref}" in again.stderr, again.output
    assert run_dvx("exp", "pull", "origin", "plain", cwd=bob).code == 0
    assert run_dvx("exp", "remove", "-g", "origin", "--force", ref, cwd=bob).code == 0
    assert run_dvx("exp", "pull", "origin", cwd=bob).code == 0


def test_pull_checks_every_file_of_a_baseline_a_hand_made_experiment_brings_along(tmp_path):
    """A hand-made experiment may ship its own baseline as its parent, holding what no
    apply writes (this clone's config.local) while the experiment itself changes only
    params: `exp pull` checks every file of a baseline this clone did not have, and leaves
    it out; `exp apply` of one a plain `git fetch` stored refuses it, never offering to
    `git merge` that baseline."""
    team, alice = _shared_pipeline(tmp_path)
    bob = team.clone("bob")  # before the baseline is made: a local clone copies every object
    must("exp", "run", "-S", "train.lr=0.2", "-n", "tuned", cwd=alice)
    ref = git(alice, "for-each-ref", "--format=%(refname)", "refs/exps/*/tuned").strip()
    head = git(alice, "rev-parse", "HEAD").strip()
    hostile = {".dvx/config.local": ("100644", b"[cache]\n    dir = /elsewhere\n")}
    baseline = git(alice, "commit-tree", _hand_made_tree(alice, "HEAD^{tree}", hostile),
                   "-p", head, "-m", "baseline").strip()
    made = git(alice, "commit-tree", _hand_made_tree(alice, f"{ref}^{{tree}}", hostile),
               "-p", baseline, "-m", "evil").strip()  # config.local as its baseline has it
    evil = f"refs/exps/{baseline}/evil"
    git(alice, "push", "-q", "origin", f"{made}:{evil}")

    left_out = run_dvx("exp", "pull", "origin", "evil", cwd=bob)
    assert left_out.code == 2 and "'.dvx/config.local'" in left_out.stderr, left_out.output
    said = " ".join(left_out.stderr.split())
    assert f"baseline {baseline[:10]}, which this clone did not have, holds files" in said, \
        left_out.stderr
    assert "exp remove" not in said  # the experiment itself changes only params
    assert git(bob, "for-each-ref", "refs/exps") == ""
    git(bob, "fetch", "-q", "origin", f"{evil}:{evil}")  # as `git fetch 'refs/exps/*'` would
    refused = run_dvx("exp", "apply", "evil", cwd=bob)
    assert refused.code == 2 and "'.dvx/config.local'" in refused.stderr, refused.output
    assert "git merge" not in refused.stderr
    assert not (bob / ".dvx" / "config.local").exists()


# Names Git tracks that dvx never writes in a pointer or manifest, but a workspace may hold
ORDINARY_ODD_NAMES = ["notes\\a.txt", "line\nbreak.txt", "C:notes.txt",
                      os.fsdecode(b"caf\xe9-latin1.txt"), "fixtures/proj/.dvx/config"]


@pytest.mark.parametrize("name", ORDINARY_ODD_NAMES)
def test_an_experiment_that_changed_a_tracked_file_of_any_name_git_takes_is_pulled_and_applied(
        tmp_path, name):
    """The experiment path rules refuse only what escapes the project or reaches into Git's
    directory or this clone's own files: a tracked file whose name has a backslash, a line
    break, bytes that are not UTF-8 or a drive-like 'C:' start is the project's, and so is
    a file of a `.dvx` folder deeper down (a dvx project kept as a test fixture): an
    experiment `exp run` made of a change to it is pulled and applied like any other."""
    team, alice = _shared_pipeline(tmp_path)
    write(alice / name, "one\n")
    git(alice, "add", "--", name)
    git(alice, "commit", "-qm", "notes")
    git(alice, "push", "-q", "origin", "main")
    write(alice / name, "two\n")
    must("exp", "run", "-S", "train.lr=0.2", "-n", "odd", cwd=alice)
    must("exp", "push", "origin", "odd", cwd=alice)
    bob = team.clone("bob")
    assert (bob / name).read_text() == "one\n"

    pulled = run_dvx("exp", "pull", "origin", "odd", cwd=bob)
    assert pulled.code == 0, pulled.output
    applied = run_dvx("exp", "apply", "odd", cwd=bob)
    assert applied.code == 0, applied.output
    assert (bob / name).read_text() == "two\n"
    assert "lr: 0.2" in (bob / "params.yaml").read_text()


def test_pull_takes_an_experiment_of_an_unpushed_baseline_holding_a_nested_dvx_folder(tmp_path):
    """The project tracks in Git a dvx project of its own deeper down (a test fixture's
    `.dvx/config`): that is the project's content, not dvx's own folder. An experiment of a
    commit not pushed yet brings that baseline along, every file of which `exp pull`
    checks: it is pulled as any dvx-made one, and `exp apply` offers to merge its
    baseline."""
    team, alice = _shared_pipeline(tmp_path)
    bob = team.clone("bob")
    write(alice / "tests" / "fixtures" / "proj" / ".dvx" / "config", "[core]\n")
    git(alice, "add", "-A")
    git(alice, "commit", "-qm", "a fixture project, not pushed yet")
    must("exp", "run", "-S", "train.lr=0.2", "-n", "tuned", cwd=alice)
    must("exp", "push", "origin", "tuned", cwd=alice)

    pulled = run_dvx("exp", "pull", "origin", "tuned", cwd=bob)
    assert pulled.code == 0 and "tuned" in pulled.stdout, pulled.output
    assert "/tuned" in git(bob, "for-each-ref", "--format=%(refname)", "refs/exps")
    applied = run_dvx("exp", "apply", "tuned", cwd=bob)
    said = " ".join(applied.stderr.split())
    assert "git merge" in said and "no project's commit" not in said, applied.output


def test_an_experiment_changing_a_fixture_project_s_tracked_cache_and_tmp_pulls_and_applies(
        tmp_path):
    """A fixture project the project tracks whole (its .dvx/cache, tmp and config.local in
    Git) is the project's content: an experiment that regenerates those tracked files is
    recorded by `exp run`, pulled by a teammate and applied, as any tracked file; only an
    experiment adding such a file where its baseline held none is refused."""
    team, alice = _shared_pipeline(tmp_path)
    fixture = alice / "tests" / "fx" / ".dvx"
    kept = {"cache/files/ab/cdef": "obj1\n", "tmp/state": "s1\n", "config.local": "[core]\n"}
    for rel, text in kept.items():
        write(fixture / rel, text)
    git(alice, "add", "-A")
    git(alice, "commit", "-qm", "a fixture project kept whole")
    git(alice, "push", "-q", "origin", "HEAD")
    bob = team.clone("bob")
    for rel in kept:
        write(fixture / rel, "regenerated\n")
    must("exp", "run", "-S", "train.lr=0.2", "-n", "regen", cwd=alice)
    must("exp", "push", "origin", "regen", cwd=alice)
    git(alice, "checkout", "-q", "--", ".")

    applied = run_dvx("exp", "apply", "regen", cwd=alice)
    assert applied.code == 0, applied.output
    assert all((fixture / rel).read_text() == "regenerated\n" for rel in kept)
    pulled = run_dvx("exp", "pull", "origin", "regen", cwd=bob)
    assert pulled.code == 0 and "regen" in pulled.stdout, pulled.output
    must("exp", "apply", "regen", cwd=bob)
    assert (bob / "tests" / "fx" / ".dvx" / "tmp" / "state").read_text() == "regenerated\n"


def test_pull_refuses_an_experiment_whose_baseline_is_not_in_its_history(tmp_path):
    """A ref made by hand may name a baseline its commit does not descend from (none this
    clone has): `exp pull` refuses it, naming it, without storing its ref, so that no
    listing or apply meets a baseline Git does not have."""
    team, alice = _shared_pipeline(tmp_path)
    must("exp", "run", "-S", "train.lr=0.2", "-n", "tuned", cwd=alice)
    must("exp", "push", "origin", "tuned", cwd=alice)
    ref = git(alice, "for-each-ref", "--format=%(refname)", "refs/exps/*/tuned").strip()
    made = git(alice, "commit-tree", f"{ref}^{{tree}}", "-m", "orphan").strip()
    orphan = f"refs/exps/{'1' * 40}/orphan"
    git(alice, "push", "-q", "origin", f"{made}:{orphan}")
    bob = team.clone("bob")

    refused = run_dvx("exp", "pull", "origin", "orphan", cwd=bob)
    assert refused.code == 2, refused.output
    assert f"{orphan}, whose commit {made[:10]} does not descend from its baseline" in \
        refused.stderr, refused.stderr
    assert git(bob, "for-each-ref", "refs/exps") == ""
    everything = run_dvx("exp", "pull", "origin", cwd=bob)
    assert everything.code == 1 and "Pulled 1 experiment: tuned." in everything.stdout, \
        everything.output


def test_an_experiment_whose_baseline_is_no_commit_here_is_listed_as_damaged(tmp_path):
    """Such a ref stored by a plain `git fetch` is a damaged ref: `exp show -A` lists the
    others and says so of it, and `exp apply` refuses it in one paragraph."""
    team, alice = _shared_pipeline(tmp_path)
    must("exp", "run", "-S", "train.lr=0.2", "-n", "tuned", cwd=alice)
    must("exp", "push", "origin", "tuned", cwd=alice)
    ref = git(alice, "for-each-ref", "--format=%(refname)", "refs/exps/*/tuned").strip()
    made = git(alice, "commit-tree", f"{ref}^{{tree}}", "-m", "orphan").strip()
    orphan = f"refs/exps/{'1' * 40}/orphan"
    git(alice, "push", "-q", "origin", f"{made}:{orphan}")
    bob = team.clone("bob")
    git(bob, "fetch", "-q", "origin", "+refs/exps/*:refs/exps/*")

    for args in (["exp", "show", "-A"], ["exp", "show", "-A", "--json"]):
        shown = run_dvx(*args, cwd=bob)
        assert shown.code == 0 and "tuned" in shown.stdout, shown.output
        assert "bad object" not in shown.output and "Traceback" not in shown.output
    refused = run_dvx("exp", "apply", "orphan", cwd=bob)
    assert refused.code == 2 and f"{orphan} names commit {made[:10]}" in refused.stderr, \
        refused.output
    assert "bad object" not in refused.output and "Traceback" not in refused.output
    assert git(bob, "status", "--porcelain") == ""


def test_pull_leaves_out_a_remote_experiment_ref_naming_no_commit_and_takes_the_rest(
        tmp_path):
    """A remote ref where an experiment's goes that names a blob is left out, named (exit
    1), never called a ref the remote moved: the other experiments are pulled."""
    team, alice = _shared_pipeline(tmp_path)
    must("exp", "run", "-S", "train.lr=0.2", "-n", "tuned", cwd=alice)
    must("exp", "push", "origin", "tuned", cwd=alice)
    base = git(alice, "rev-parse", "HEAD").strip()
    blob = _plumbing(alice, ["hash-object", "-w", "--stdin"], b"junk\n")
    git(alice, "push", "-q", "origin", f"{blob}:refs/exps/{base}/broken")
    bob = team.clone("bob")

    pulled = run_dvx("exp", "pull", "origin", cwd=bob)
    assert pulled.code == 1 and "Pulled 1 experiment: tuned." in pulled.stdout, pulled.output
    assert f"refs/exps/{base}/broken, names a blob" in pulled.stderr, pulled.stderr
    assert "Pull again" not in pulled.stderr
    assert git(bob, "for-each-ref", "--format=%(refname)", "refs/exps").split() == \
        [f"refs/exps/{base}/tuned"]
    assert run_dvx("exp", "pull", "origin", "tuned", cwd=bob).code == 0


def test_a_left_out_experiment_s_ref_is_not_stored_by_a_configured_exps_fetch_refspec(
        tmp_path):
    """With `refs/exps/*` in remote.origin.fetch, the fetch of a pull's objects stores no
    ref: an experiment left out stays out."""
    team, alice = _shared_pipeline(tmp_path)
    must("exp", "run", "-S", "train.lr=0.2", "-n", "tuned", cwd=alice)
    must("exp", "push", "origin", "tuned", cwd=alice)
    hook = {".git/hooks/post-commit": ("100755", b"#!/bin/sh\ntouch PWNED\n")}
    ref = _shared_hand_made_experiment(alice, "tuned", hook)
    bob = team.clone("bob")
    git(bob, "config", "--add", "remote.origin.fetch", "+refs/exps/*:refs/exps/*")

    refused = run_dvx("exp", "pull", "origin", "tuned", cwd=bob)
    assert refused.code == 2 and f"Not pulled from 'origin': {ref}" in refused.stderr, \
        refused.output
    assert git(bob, "for-each-ref", "refs/exps") == ""


def _ref_made_during_the_fetch(bob: Path, ref: str, commit: str) -> None:
    """Make Git's second upload-pack for bob's origin (exp pull's fetch, after its listing)
    first create `ref` at `commit` in bob, as an `exp run` or `exp pull` beside it would."""
    wrapper = bob.parent / "upload-pack-then-a-ref"
    count = bob.parent / "upload-packs"
    wrapper.write_text(f"""#!/bin/sh
n=$(cat {count} 2>/dev/null || echo 0); n=$((n+1)); echo $n > {count}
if [ $n = 2 ]; then git -C {bob} update-ref {ref} {commit}; fi
exec git-upload-pack "$@"
""")
    wrapper.chmod(0o755)
    git(bob, "config", "remote.origin.uploadpack", str(wrapper))


@pytest.mark.parametrize("same", [True, False])
def test_a_ref_made_here_during_a_pull_counts_as_pulled_or_fails_the_pull_in_one_paragraph(
        tmp_path, same):
    """An experiment ref made in this clone while `exp pull` fetched: at the commit the pull
    brings, it counts as pulled; at another, nothing is pulled, and one paragraph says why
    and to pull again (never Git's own lock error)."""
    team, alice = _shared_pipeline(tmp_path)
    must("exp", "run", "-S", "train.lr=0.2", "-n", "a", cwd=alice)
    must("exp", "run", "-S", "train.lr=0.3", "-n", "b", cwd=alice)
    must("exp", "push", "origin", cwd=alice)
    ref = git(alice, "for-each-ref", "--format=%(refname)", "refs/exps/*/a").strip()
    bob = team.clone("bob")
    made = git(alice, "rev-parse", ref).strip() if same else git(bob, "rev-parse", "HEAD").strip()
    _ref_made_during_the_fetch(bob, ref, made)

    pulled = run_dvx("exp", "pull", "origin", cwd=bob)
    assert "update-ref" not in pulled.output and "Traceback" not in pulled.output, pulled.output
    if same:
        assert pulled.code == 0 and "Pulled 2 experiments" in pulled.stdout, pulled.output
        ref_b = ref.rsplit("/", 1)[0] + "/b"  # the baseline's hash may hold "/a" too
        assert git(bob, "rev-parse", ref_b) == git(alice, "rev-parse", ref_b)
    else:
        assert pulled.code == 1, pulled.output
        assert f"Nothing was pulled from 'origin': {ref} changed here" in pulled.stderr
        assert "Pull again." in pulled.stderr
        assert git(bob, "for-each-ref", "--format=%(refname)", "refs/exps").split() == [ref]
        assert git(bob, "rev-parse", ref).strip() == made


def _new_baseline(clone: Path) -> str:
    """Commit a change no stage uses, as a teammate's commit pulled would be: the new HEAD."""
    write(clone / "NOTES.md", "notes\n")
    git(clone, "add", "NOTES.md")
    git(clone, "commit", "-qm", "notes")
    return git(clone, "rev-parse", "HEAD").strip()


def test_pull_takes_a_full_ref_and_leaves_out_only_what_would_replace_yours(tmp_path):
    team, alice = _shared_pipeline(tmp_path)
    bob = team.clone("bob")
    first = git(alice, "rev-parse", "HEAD").strip()
    must("exp", "run", "-S", "train.lr=0.2", "-n", "tuned", cwd=alice)
    must("exp", "push", "origin", "tuned", cwd=alice)
    second = _new_baseline(alice)
    must("exp", "run", "-S", "train.lr=0.3", "-n", "tuned", cwd=alice)
    must("exp", "push", "origin", "tuned", cwd=alice)
    must("exp", "run", "-S", "train.lr=0.7", "-n", "tuned", cwd=bob)  # bob's, of the first
    mine, theirs = f"refs/exps/{first}/tuned", f"refs/exps/{second}/tuned"
    bobs = git(bob, "rev-parse", mine).strip()

    by_ref = run_dvx("exp", "pull", "origin", theirs, cwd=bob)
    assert by_ref.code == 0 and "Pulled 1 experiment: tuned." in by_ref.stdout, \
        by_ref.output
    assert git(bob, "rev-parse", theirs) == git(alice, "rev-parse", theirs)
    git(bob, "update-ref", "-d", theirs)

    by_name = run_dvx("exp", "pull", "origin", "tuned", cwd=bob)  # both baselines' tuned
    assert by_name.code == 1 and "Pulled 1 experiment: tuned." in by_name.stdout, \
        by_name.output
    assert f"Not pulled from 'origin': {mine}, of the same baseline" in by_name.stderr
    assert f"`dvx exp pull origin --force {mine}`" in by_name.stderr
    assert git(bob, "rev-parse", mine).strip() == bobs
    assert git(bob, "rev-parse", theirs) == git(alice, "rev-parse", theirs)

    assert run_dvx("exp", "pull", "origin", "--force", mine, cwd=bob).code == 0
    assert git(bob, "rev-parse", mine) == git(alice, "rev-parse", mine)


def test_pull_takes_an_abbreviated_commit_as_git_does_and_refuses_an_ambiguous_one(tmp_path):
    team, alice = _shared_pipeline(tmp_path)
    bob = team.clone("bob")
    must("exp", "run", "-S", "train.lr=0.2", "-n", "tuned", cwd=alice)
    must("exp", "push", "origin", "tuned", cwd=alice)
    baseline = git(alice, "rev-parse", "HEAD").strip()
    ref = f"refs/exps/{baseline}/tuned"
    commit = git(alice, "rev-parse", ref).strip()

    too_short = run_dvx("exp", "pull", "origin", commit[:3], cwd=bob)
    assert too_short.code == 2 and "has no experiment called" in too_short.stderr
    pulled = run_dvx("exp", "pull", "origin", commit[:7].upper(), cwd=bob)
    assert pulled.code == 0 and "Pulled 1 experiment: tuned." in pulled.stdout, pulled.output
    assert git(bob, "rev-parse", ref).strip() == commit

    first, second = _commits_sharing_their_first_4_digits(alice)
    for name, other in (("x1", first), ("x2", second)):
        git(alice, "push", "-q", "origin", f"{other}:refs/exps/{baseline}/{name}")
    refused = run_dvx("exp", "pull", "origin", first[:4], cwd=bob)
    assert refused.code == 2 and "several experiments whose commit starts with" in (
        refused.stderr)
    assert f"refs/exps/{baseline}/x1 ({first[:12]})" in refused.stderr
    assert f"refs/exps/{baseline}/x2 ({second[:12]})" in refused.stderr
    assert "x1" not in git(bob, "for-each-ref", "refs/exps")
    assert run_dvx("exp", "pull", "origin", first[:12], cwd=bob).code == 0
    assert f"refs/exps/{baseline}/x1" in git(bob, "for-each-ref", "refs/exps")

    removed = run_dvx("exp", "remove", "-g", "origin", second[:10], cwd=alice)
    assert removed.code == 0, removed.output
    assert "/x2" not in git(alice, "ls-remote", "origin", "refs/exps/*")


def _commits_sharing_their_first_4_digits(repo: Path) -> tuple[str, str]:
    """Two children of HEAD with its files, written to `repo`, whose ids start with the same
    4 hex digits (a few hundred tries: hashed here, only the two written)."""
    import hashlib

    def written(body: bytes) -> str:
        return subprocess.run(["git", "hash-object", "-t", "commit", "-w", "--stdin"],
                              cwd=repo, input=body, capture_output=True, check=True
                              ).stdout.decode().strip()

    tree = git(repo, "rev-parse", "HEAD^{tree}").strip()
    parent = git(repo, "rev-parse", "HEAD").strip()
    seen: dict[str, bytes] = {}
    for n in range(1 << 17):  # past 65536 tries, two must share their first 4 digits
        body = (f"tree {tree}\nparent {parent}\nauthor T <t@example.com> 0 +0000\n"
                f"committer T <t@example.com> 0 +0000\n\ntry {n}\n").encode()
        prefix = hashlib.sha1(b"commit %d\0" % len(body) + body).hexdigest()[:4]
        if prefix in seen:
            return written(seen[prefix]), written(body)
        seen[prefix] = body
    raise AssertionError("unreachable")


def test_push_without_names_says_how_to_push_the_experiments_of_an_older_head(tmp_path):
    _, alice = _shared_pipeline(tmp_path)
    for lr in ("0.2", "0.3"):
        must("exp", "run", "-S", f"train.lr={lr}", "-n", f"lr{lr}", cwd=alice)
    git(alice, "checkout", "-q", "--", ".")
    head = _new_baseline(alice)  # as a `git pull` moves HEAD

    pushed = run_dvx("exp", "push", "origin", cwd=alice)
    assert pushed.code == 2, pushed.output
    assert f"HEAD ({head[:7]}) has no experiments to push" in pushed.stderr
    assert re.search(r"2 experiments of other baselines: lr0\.\d, lr0\.\d\.", pushed.stderr)
    hinted = re.search(r"`dvx (exp push origin lr0\.\d lr0\.\d)`", pushed.stderr)
    assert hinted, pushed.stderr
    assert run_dvx(*hinted.group(1).split(), cwd=alice).code == 0
    assert git(alice, "ls-remote", "origin", "refs/exps/*").count("/lr0.") == 2


def test_the_push_a_refusal_offers_works_pasted_for_a_git_remote_path_that_is_not_utf_8(
        tmp_path):
    """A Git remote given as a path whose name holds a byte that is not UTF-8: the command
    offered quotes it as `$'...'`, the byte in octal, which the shell turns back into that
    very path (in plain quotes it would be the four characters `\\351` the message shows)."""
    _, alice = _shared_pipeline(tmp_path)
    must("exp", "run", "-S", "train.lr=0.2", "-n", "lr0.2", cwd=alice)
    git(alice, "checkout", "-q", "--", ".")
    _new_baseline(alice)
    bare = os.fsdecode(bytes(tmp_path / "caf") + b"\xe9.git")
    git(tmp_path, "init", "-q", "--bare", bare)

    pushed = run_dvx("exp", "push", bare, cwd=alice)
    assert pushed.code == 2, pushed.output
    hinted = re.search(r"`dvx (exp push \$'[^']*/caf\\351\.git' lr0\.2)`", pushed.stderr)
    assert hinted, pushed.stderr
    subprocess.run(["bash", "-c", f"{sys.executable} -m dvx {hinted.group(1)}"], cwd=alice,
                   check=True, capture_output=True)  # as the user pastes it
    assert "/lr0.2" in git(alice, "ls-remote", bare, "refs/exps/*")


def test_a_queued_experiment_whose_name_a_branch_or_tag_takes_stays_queued_with_its_snapshot(
        project):
    write(project / "NOTES.md", "only in the snapshot\n")
    must("exp", "run", "--queue", "-S", "train.lr=0.5", "-n", "tuned", cwd=project)
    os.unlink(project / "NOTES.md")
    git(project, "branch", "tuned")  # named meanwhile
    started = run_dvx("queue", "start", cwd=project)
    assert started.code == 1 and "'tuned' not started: a branch" in started.stdout, \
        started.output
    assert "`git branch -m tuned NEW-NAME`" in started.stdout
    assert _queue_states(project) == {"tuned": "queued"}
    assert "refs/heads/tuned" in run_dvx("queue", "status", cwd=project).stdout
    git(project, "branch", "-m", "tuned", "tuned-branch")

    # Taken by a tag once the queue looked, before its run did: the run fails, the entry is kept.
    starting = stopped_at("queue.worktree_made", "queue start", project)
    git(project, "tag", "tuned")
    starting.send_signal(signal.SIGCONT)
    out, err = starting.communicate(timeout=120)
    assert starting.returncode == 1 and "'tuned' not recorded: a tag" in out, out + err
    assert "`git tag NEW-NAME tuned && git tag -d tuned`" in out
    assert _queue_states(project) == {"tuned": "queued"}
    snapshot = git(project, "rev-parse", "refs/exps-queue/tuned").strip()
    assert git(project, "show", f"{snapshot}:NOTES.md") == "only in the snapshot\n"

    git(project, "tag", "-d", "tuned")
    assert run_dvx("queue", "start", cwd=project).code == 0
    assert _show(project)["tuned"]["params"]["params.yaml"]["train.lr"] == 0.5
    experiment = git(project, "for-each-ref", "--format=%(objectname)", "refs/exps").strip()
    assert git(project, "show", f"{experiment}:NOTES.md") == "only in the snapshot\n"


def test_pull_leaves_a_queued_experiment_its_name_and_a_taken_name_keeps_it_queued(tmp_path):
    team, alice = _shared_pipeline(tmp_path)
    bob = team.clone("bob")
    write(alice / "NOTES.md", "only in the snapshot\n")
    must("exp", "run", "--queue", "-S", "train.lr=0.5", "-n", "shared", cwd=alice)
    os.unlink(alice / "NOTES.md")
    must("exp", "run", "-S", "train.lr=0.7", "-n", "shared", cwd=bob)
    must("exp", "push", "origin", "shared", cwd=bob)
    ref = f"refs/exps/{git(bob, 'rev-parse', 'HEAD').strip()}/shared"

    for force in ((), ("--force",)):
        pulled = run_dvx("exp", "pull", "origin", *force, cwd=alice)
        assert pulled.code == 2, pulled.output
        assert f"Not pulled from 'origin': {ref}, whose name and baseline a queued " \
               "experiment waits to take" in pulled.stderr
        assert "`dvx queue remove shared`" in pulled.stderr
        assert git(alice, "for-each-ref", "refs/exps") == ""

    git(alice, "fetch", "-q", "origin", f"{ref}:{ref}")  # Git does not ask the queue
    started = run_dvx("queue", "start", cwd=alice)
    assert started.code == 1 and "'shared' not started" in started.stdout, started.output
    assert f"`dvx exp remove {ref}`" in started.stdout
    assert _queue_states(alice) == {"shared": "queued"}
    must("exp", "remove", ref, cwd=alice)

    # Taken once the queue looked, before its run did: the run fails, the entry is kept.
    starting = stopped_at("queue.worktree_made", "queue start", alice)
    git(alice, "fetch", "-q", "origin", f"{ref}:{ref}")
    starting.send_signal(signal.SIGCONT)
    out, err = starting.communicate(timeout=120)
    assert starting.returncode == 1 and "'shared' not recorded" in out, out + err
    assert _queue_states(alice) == {"shared": "queued"}
    snapshot = git(alice, "rev-parse", "refs/exps-queue/shared").strip()
    assert git(alice, "show", f"{snapshot}:NOTES.md") == "only in the snapshot\n"
    assert "See `dvx queue status`" in run_dvx("queue", "logs", "shared", cwd=alice).stdout
    assert "Pick another -n" not in run_dvx("queue", "logs", "shared", cwd=alice).stdout

    must("exp", "remove", ref, cwd=alice)
    assert run_dvx("queue", "start", cwd=alice).code == 0
    assert _show(alice)["shared"]["params"]["params.yaml"]["train.lr"] == 0.5


def _stopped_run(project) -> int:
    """The process of the queued run that `queue start` (with DVX_FAULT, DVX_FAULT_ACTION=stop)
    launched, once it stopped at the fault point."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status = json.loads(run_dvx("queue", "status", "--json", cwd=project).stdout)
        worktree = status[0]["worktree"] if status else None
        for pid, cmdline in _processes_in(worktree).items() if worktree else ():
            with contextlib.suppress(OSError):
                state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
                if "exp\0run" in cmdline and state == "T":
                    return pid
        time.sleep(0.1)
    raise AssertionError("the queued run never stopped at its fault point")


def test_a_queued_run_whose_name_is_taken_while_it_runs_stays_queued_and_loses_nothing(
        tmp_path):
    team, alice = _shared_pipeline(tmp_path)
    bob = team.clone("bob")
    must("exp", "run", "-S", "train.lr=0.7", "-n", "shared", cwd=bob)
    must("exp", "push", "origin", "shared", cwd=bob)
    ref = f"refs/exps/{git(bob, 'rev-parse', 'HEAD').strip()}/shared"
    must("exp", "run", "--queue", "-S", "train.lr=0.5", "-n", "shared", cwd=alice)
    runner = subprocess.Popen([sys.executable, "-m", "dvx", "queue", "start"], cwd=alice,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env={**os.environ, "DVX_FAULT": "repro.after_command",
                                   "DVX_FAULT_ACTION": "stop"})
    try:
        run = _stopped_run(alice)  # its stage has run; it has not recorded yet
        git(alice, "fetch", "-q", "origin", f"{ref}:{ref}")  # Git does not ask the queue
        os.kill(run, signal.SIGCONT)
        out, err = runner.communicate(timeout=120)
    finally:
        if runner.poll() is None:
            runner.kill()
    assert runner.returncode == 1 and "'shared' not recorded" in out, out + err
    assert f"`dvx exp remove {ref}`" in out
    assert _queue_states(alice) == {"shared": "queued"}
    assert _show(alice)["shared"]["params"]["params.yaml"]["train.lr"] == 0.7  # bob's, kept
    log = run_dvx("queue", "logs", "shared", cwd=alice).stdout
    assert "was made while the run went on" in log, log
    must("exp", "branch", ref, "bobs-shared", cwd=alice)
    must("exp", "remove", ref, cwd=alice)
    again = run_dvx("queue", "start", cwd=alice)  # from its snapshot, kept
    assert again.code == 0, again.output
    assert "Restored 'train' from the run-cache" in \
        run_dvx("queue", "logs", "shared", cwd=alice).stdout  # what it ran is not run again
    assert _show(alice)["shared"]["params"]["params.yaml"]["train.lr"] == 0.5


def test_remove_from_the_git_remote_keeps_an_experiment_from_coming_back(tmp_path):
    _, alice = _shared_pipeline(tmp_path)
    must("exp", "run", "-S", "train.lr=0.7", "-n", "bad-idea", cwd=alice)
    must("exp", "run", "-S", "train.lr=0.2", "-n", "good", cwd=alice)
    must("exp", "push", "origin", cwd=alice)
    removed = run_dvx("exp", "remove", "-g", "origin", "bad-idea", cwd=alice)
    head = git(alice, "rev-parse", "HEAD").strip()
    assert removed.code == 0 and removed.stdout == "Removed 1 experiment from 'origin': " \
        f"bad-idea (baseline {head[:7]}).\n", removed.output
    must("exp", "remove", "bad-idea", cwd=alice)
    assert "bad-idea" not in git(alice, "ls-remote", "origin", "refs/exps/*")
    assert run_dvx("exp", "pull", "origin", cwd=alice).code == 0
    assert "bad-idea" not in _show(alice) and "good" in _show(alice)
    missing = run_dvx("exp", "remove", "--git-remote", "origin", "bad-idea", cwd=alice)
    assert missing.code == 2 and "'origin' has no experiment called 'bad-idea'" in \
        missing.stderr

    assert run_dvx("exp", "remove", "-g", "origin", "--all", cwd=alice).code == 0
    assert git(alice, "ls-remote", "origin", "refs/exps/*") == ""
    assert "good" in _show(alice)  # the clone's own copy stays, as in DVC


def test_remove_all_from_the_git_remote_leaves_a_teammates_experiments(tmp_path):
    team, alice = _shared_pipeline(tmp_path)
    bob = team.clone("bob")
    must("pull", cwd=bob)
    must("exp", "run", "-S", "train.lr=0.2", "-n", "alices", cwd=alice)
    must("exp", "push", "origin", cwd=alice)
    must("exp", "run", "-S", "train.lr=0.3", "-n", "bobs", cwd=bob)
    must("exp", "push", "origin", cwd=bob)
    removed = run_dvx("exp", "remove", "-g", "origin", "--all", cwd=bob)
    assert removed.code == 0 and "Removed 1 experiment" in removed.stdout, removed.output
    assert "this clone does not have" in removed.stderr and "alices" in removed.stderr
    left = git(bob, "ls-remote", "origin", "refs/exps/*")
    assert "alices" in left and "bobs" not in left
    refused = run_dvx("exp", "remove", "--force", "--all", cwd=bob)
    assert refused.code == 2 and "goes with -g" in refused.stderr
    assert run_dvx("exp", "remove", "-g", "origin", "--all", "-f", cwd=bob).code == 0
    assert git(bob, "ls-remote", "origin", "refs/exps/*") == ""


def test_remove_by_name_from_the_git_remote_refuses_an_experiment_that_is_not_this_clones(
        tmp_path):
    """Alice's `lo` on the remote is not Bob's `lo` (another commit, never pushed): Bob
    naming his own must not delete hers."""
    team, alice = _shared_pipeline(tmp_path)
    bob = team.clone("bob")
    must("pull", cwd=bob)
    must("exp", "run", "-S", "train.lr=0.2", "-n", "lo", cwd=alice)
    must("exp", "run", "-S", "train.lr=0.5", "-n", "mine", cwd=alice)
    must("exp", "push", "origin", cwd=alice)
    must("exp", "run", "-S", "train.lr=0.3", "-n", "lo", cwd=bob)
    before = git(bob, "ls-remote", "origin", "refs/exps/*")
    alices = git(alice, "for-each-ref", "--format=%(objectname)", "refs/exps/*/lo").strip()
    bobs = git(bob, "for-each-ref", "--format=%(objectname)", "refs/exps/*/lo").strip()

    refused = run_dvx("exp", "remove", "-g", "origin", "lo", cwd=bob)
    assert refused.code == 2, refused.output
    assert f"'lo' there is commit {alices[:7]}" in refused.stderr
    assert f"this clone's 'lo' is commit {bobs[:7]}" in refused.stderr
    assert "`dvx exp remove -g origin --force lo`" in refused.stderr
    never_pulled = run_dvx("exp", "remove", "-g", "origin", "mine", "lo", cwd=bob)
    assert never_pulled.code == 2 and "this clone has no experiment 'mine'" in \
        never_pulled.stderr, never_pulled.output
    assert "--force mine lo`" in never_pulled.stderr
    assert git(bob, "ls-remote", "origin", "refs/exps/*") == before  # nothing removed

    by_commit = run_dvx("exp", "remove", "-g", "origin", alices[:10], cwd=bob)
    assert by_commit.code == 0, by_commit.output  # that one experiment, whoever ran it
    assert "/lo" not in git(bob, "ls-remote", "origin", "refs/exps/*")
    forced = run_dvx("exp", "remove", "-g", "origin", "--force", "mine", cwd=bob)
    assert forced.code == 0 and "Removed 1 experiment" in forced.stdout, forced.output
    assert git(bob, "ls-remote", "origin", "refs/exps/*") == ""


def test_a_pull_before_the_data_came_is_finished_by_the_next_pull(tmp_path):
    team, alice = _shared_pipeline(tmp_path)
    must("exp", "run", "-S", "train.lr=0.01", "-n", "low", cwd=alice)
    git(alice, "push", "-q", "origin", "refs/exps/*:refs/exps/*")  # refs, not their data
    bob = team.clone("bob")
    early = run_dvx("exp", "pull", "origin", cwd=bob)
    assert early.code == 1 and "model.bin" in early.stderr, early.output
    refused = run_dvx("exp", "apply", "low", cwd=bob)
    assert refused.code == 2 and "not in the cache: model.bin" in refused.stderr
    assert "lr: 0.1" in (bob / "params.yaml").read_text()  # nothing was written
    must("exp", "push", "origin", "low", cwd=alice)  # the data follows
    late = run_dvx("exp", "pull", "origin", cwd=bob)
    assert late.code == 0 and "Fetched the data the cache lacked of 1 experiment already " \
        "here: low." in late.stdout, late.output
    assert run_dvx("exp", "apply", "low", cwd=bob).code == 0
    assert (bob / "model.bin").read_text() == "model lr=0.01 epochs=3 rows=3"


def test_a_pull_missing_some_data_still_names_what_it_pulled_and_what_it_left_out(tmp_path):
    """One experiment's data is not on the remote, and another would replace bob's own: the
    pull names the one it took, then the one left out, then the data error, and exits 1."""
    team, alice = _shared_pipeline(tmp_path)
    bob = team.clone("bob")
    must("exp", "run", "-S", "train.lr=0.01", "-n", "nodata", cwd=alice)
    git(alice, "push", "-q", "origin", "refs/exps/*:refs/exps/*")  # refs, not their data
    must("exp", "run", "-S", "train.lr=0.2", "-n", "tuned", cwd=alice)
    must("exp", "push", "origin", "tuned", cwd=alice)
    must("exp", "run", "-S", "train.lr=0.7", "-n", "tuned", cwd=bob)

    pulled = run_dvx("exp", "pull", "origin", cwd=bob)
    assert pulled.code == 1, pulled.output
    assert "Pulled 1 experiment: nodata." in pulled.stdout, pulled.output
    left_out = pulled.stderr.index("Not pulled from 'origin': refs/exps/")
    data_error = pulled.stderr.index("were fetched, but not all of their data")
    assert "/tuned, of the same baseline and name as yours" in pulled.stderr
    assert "model.bin" in pulled.stderr[:left_out] and left_out < data_error
    assert _show(bob)["tuned"]["params"]["params.yaml"]["train.lr"] == 0.7  # bob's, kept


def test_a_pull_names_as_completed_only_the_earlier_experiments_whose_data_was_missing(tmp_path):
    team, alice = _shared_pipeline(tmp_path)
    must("exp", "run", "-S", "train.lr=0.01", "-n", "low", cwd=alice)
    must("exp", "push", "origin", "low", cwd=alice)
    bob = team.clone("bob")
    must("exp", "pull", "origin", cwd=bob)  # low and all of its data
    must("exp", "run", "-S", "train.lr=0.02", "-n", "lower", cwd=alice)
    must("exp", "push", "origin", "lower", cwd=alice)
    second = run_dvx("exp", "pull", "origin", cwd=bob)  # lower's data comes, low's was here
    assert second.code == 0 and "Pulled 1 experiment: lower." in second.stdout, second.output
    assert "already here" not in second.stdout, second.output


def test_a_pull_that_brings_back_the_data_gc_took_of_experiments_run_here_says_so(tmp_path):
    """Experiments run here and pushed, whose data `gc -w` then deleted: the pull that fetches
    it again names them as experiments already here whose data the cache lacked, never as
    pulled before, counted in words."""
    _, alice = _shared_pipeline(tmp_path)
    for lr, name in (("0.01", "low"), ("0.02", "lower"), ("0.03", "latest")):
        must("exp", "run", "-S", f"train.lr={lr}", "-n", name, cwd=alice)
    must("exp", "push", "origin", "low", "lower", cwd=alice)
    must("gc", "-w", "-f", "--grace", "0", cwd=alice)  # keeps latest's, the workspace's
    assert run_dvx("exp", "apply", "low", cwd=alice).code == 2  # its model is gone
    pulled = run_dvx("exp", "pull", "origin", cwd=alice)
    assert pulled.code == 0, pulled.output
    # Named newest first: the two runs may share a second, so either order is right.
    assert any(f"Fetched the data the cache lacked of 2 experiments already here: {names}."
               in pulled.stdout for names in ("low, lower", "lower, low")), pulled.output
    assert "pulled before" not in pulled.stdout and "(s)" not in pulled.stdout.splitlines()[-1]
    assert run_dvx("exp", "apply", "low", cwd=alice).code == 0


def test_the_api_returns_what_exp_show_json_prints(project):
    import dvx.api

    must("exp", "run", "-S", "train.lr=0.01", "-n", "low", cwd=project)
    printed = json.loads(run_dvx("exp", "show", "--json", cwd=project).stdout)
    assert dvx.api.exp_show(repo=str(project)) == printed


def test_queued_experiments_run_on_a_dask_cluster_through_the_remotes(tmp_path):
    distributed = pytest.importorskip("dask.distributed")
    team = Team(tmp_path)
    alice = team.founder()
    _pipeline(alice)
    git(alice, "push", "-q", "origin", "main")
    for lr in ("0.2", "0.3"):
        must("exp", "run", "--queue", "-S", f"train.lr={lr}", "-n", f"d{lr}", cwd=alice)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address="127.0.0.1:0") as cluster:
        started = run_dvx("queue", "start", "--dask", cluster.scheduler_address, cwd=alice)
    assert started.code == 0, started.output
    rows = _show(alice)
    assert rows["d0.2"]["params"]["params.yaml"]["train.lr"] == 0.2
    assert rows["d0.3"]["metrics"]["metrics.json"]["rows"] == 3  # inputs from the remote
    assert "d0.2" in git(alice, "ls-remote", str(team.origin))  # pushed by its worker
    assert "exps-queue" not in git(alice, "ls-remote", str(team.origin))  # cleaned up
    assert run_dvx("exp", "apply", "d0.3", cwd=alice).code == 0  # data came back
    assert (alice / "model.bin").read_text() == "model lr=0.3 epochs=3 rows=3"


def test_a_dask_run_whose_name_the_git_remote_has_stays_queued_with_its_snapshot(tmp_path):
    distributed = pytest.importorskip("dask.distributed")
    team, alice = _shared_pipeline(tmp_path)
    bob = team.clone("bob")
    go = tmp_path / "go"
    for name, lr in (("early", "0.7"), ("late", "0.8")):
        must("exp", "run", "-S", f"train.lr={lr}", "-n", name, cwd=bob)
    must("exp", "push", "origin", "early", cwd=bob)  # before alice's runs: "late" during
    bobs = git(bob, "for-each-ref", "--format=%(objectname)", "refs/exps/*/late").strip()
    for name, lr in (("early", "0.2"), ("late", "0.3")):
        must("exp", "run", "--queue", "-S", f"train.lr={lr}", "-S", f"+train.wait_for={go}",
             "-n", name, cwd=alice)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address="127.0.0.1:0") as cluster:
        runner = subprocess.Popen(
            [sys.executable, "-m", "dvx", "queue", "start", "--dask", cluster.scheduler_address],
            cwd=alice, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 120
            while _queue_states(alice).get("late") != "running":  # submitted: name checked
                assert time.monotonic() < deadline and runner.poll() is None, \
                    runner.communicate()
                time.sleep(0.1)
            must("exp", "push", "origin", "late", cwd=bob)
            go.touch()
            out, err = runner.communicate(timeout=300)
        finally:
            if runner.poll() is None:
                runner.kill()
        assert runner.returncode == 1, out + err
        assert "'early' not started: 'origin' has an experiment of its name and baseline " \
               "already" in out, out
        assert "'late' not recorded: 'origin' has an experiment of its name and baseline " \
               "already" in out, out
        assert "`dvx exp remove -g origin --force refs/exps/" in out
        assert _queue_states(alice) == {"early": "queued", "late": "queued"}
        assert git(alice, "for-each-ref", "--format=%(refname)", "refs/exps-queue").split() == \
            ["refs/exps-queue/early", "refs/exps-queue/late"]  # their snapshots, kept
        assert bobs in git(alice, "ls-remote", "origin", "refs/exps/*/late")  # bob's, kept
        must("exp", "remove", "-g", "origin", "--force", "early", "late", cwd=alice)
        again = run_dvx("queue", "start", "--dask", cluster.scheduler_address, cwd=alice)
    assert again.code == 0, again.output
    rows = _show(alice)
    assert rows["early"]["params"]["params.yaml"]["train.lr"] == 0.2
    assert rows["late"]["params"]["params.yaml"]["train.lr"] == 0.3


def _running_on_dask(project, name: str, address: str,
                     env: dict[str, str] | None = None) -> subprocess.Popen:
    """`dvx queue start --dask address` in a process of its own, once the queued `name` runs
    on the cluster."""
    runner = subprocess.Popen(
        [sys.executable, "-m", "dvx", "queue", "start", "--dask", address], cwd=project,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL,
        env={**os.environ, **(env or {})})
    deadline = time.monotonic() + 120
    while _queue_states(project).get(name) != "running":
        if time.monotonic() > deadline or runner.poll() is not None:
            runner.kill()
            raise AssertionError(runner.communicate())
        time.sleep(0.1)
    return runner


def test_the_same_name_queued_in_two_clones_runs_each_on_one_dask_cluster(tmp_path):
    distributed = pytest.importorskip("dask.distributed")
    team, alice = _shared_pipeline(tmp_path)
    bob = team.clone("bob")
    write(bob / "NOTES.md", "bob's baseline\n")
    git(bob, "add", "NOTES.md")
    git(bob, "commit", "-qm", "notes")
    go = tmp_path / "go"
    must("exp", "run", "--queue", "-S", "train.lr=0.3", "-S", f"+train.wait_for={go}",
         "-n", "tuned", cwd=alice)
    must("exp", "run", "--queue", "-S", "train.lr=0.7", "-n", "tuned", cwd=bob)
    alices = git(alice, "rev-parse", "refs/exps-queue/tuned").strip()
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address="127.0.0.1:0") as cluster:
        runner = _running_on_dask(alice, "tuned", cluster.scheduler_address)
        try:  # alice's task waits for go: bob's must neither get its result nor its snapshot
            bobs = run_dvx_proc("queue", "start", "--dask", cluster.scheduler_address, cwd=bob,
                                timeout=300)
            assert bobs.code == 0 and "'tuned' done." in bobs.stdout, bobs.output
            assert alices in git(alice, "ls-remote", "origin", "refs/exps-queue/*")
            go.touch()
            out, err = runner.communicate(timeout=300)
        finally:
            go.touch()  # no task of a failed test waits on
            if runner.poll() is None:
                runner.kill()
    assert runner.returncode == 0, out + err
    assert _show(alice)["tuned"]["params"]["params.yaml"]["train.lr"] == 0.3
    assert _show(bob)["tuned"]["params"]["params.yaml"]["train.lr"] == 0.7
    assert len(git(alice, "ls-remote", "origin", "refs/exps/*").splitlines()) == 2
    assert "exps-queue" not in git(alice, "ls-remote", "origin")  # cleaned up


def test_an_interrupted_dask_queue_start_is_finished_by_running_it_again(tmp_path):
    distributed = pytest.importorskip("dask.distributed")
    _, alice = _shared_pipeline(tmp_path)
    go = tmp_path / "go"
    must("exp", "run", "--queue", "-S", "train.lr=0.2", "-S", f"+train.wait_for={go}",
         "-n", "slow", cwd=alice)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address="127.0.0.1:0") as cluster:
        runner = _running_on_dask(alice, "slow", cluster.scheduler_address)
        runner.send_signal(signal.SIGINT)  # Ctrl-C
        try:
            out, err = runner.communicate(timeout=120)
            assert runner.returncode == 130 and "run the command again to finish" in err, \
                out + err
            status = run_dvx("queue", "status", cwd=alice).stdout
            assert "slow                 queued" in status and "ended before its task" in status
        finally:
            go.touch()  # the task goes on without its client: let it end
        again = run_dvx_proc("queue", "start", "--dask", cluster.scheduler_address, cwd=alice,
                             timeout=300)
    assert again.code == 0 and "'slow' done" in again.stdout, again.output
    assert _queue_states(alice) == {"slow": "done"}
    assert _show(alice)["slow"]["params"]["params.yaml"]["train.lr"] == 0.2  # pulled
    assert git(alice, "for-each-ref", "refs/exps-queue") == ""
    assert "exps-queue" not in git(alice, "ls-remote", "origin")
    queued = run_dvx("exp", "run", "--queue", "-n", "slow", cwd=alice)  # the name is free
    assert queued.code == 2 and "'slow' of this baseline exists already" in queued.stderr


def test_a_ctrl_c_while_a_dask_outcome_is_recorded_says_it_was_recorded_and_how_to_pull_it(
        tmp_path):
    """A Ctrl-C landing while `queue start --dask` records a task's outcome takes effect once
    the entry says done and its snapshot ref is gone together, never one without the other
    (an entry left running without its snapshot could never be run again), and says that the
    experiment was recorded and how to pull it: running `queue start --dask` again would
    not, the entry being done."""
    distributed = pytest.importorskip("dask.distributed")
    _, alice = _shared_pipeline(tmp_path)
    must("exp", "run", "--queue", "-S", "train.lr=0.2", "-n", "quick", cwd=alice)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address="127.0.0.1:0") as cluster:
        runner = subprocess.Popen(
            [sys.executable, "-m", "dvx", "queue", "start", "--dask", cluster.scheduler_address],
            cwd=alice, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            stdin=subprocess.DEVNULL, env={**os.environ, "DVX_FAULT": "queue.outcome_cleaned_up",
                                           "DVX_FAULT_ACTION": "stop"})
        try:
            deadline = time.monotonic() + 300
            while not _stopped(runner):  # its snapshot ref deleted, the entry not saved yet
                assert runner.poll() is None and time.monotonic() < deadline, \
                    runner.communicate()
                time.sleep(0.05)
            runner.send_signal(signal.SIGINT)  # Ctrl-C
            runner.send_signal(signal.SIGCONT)
            out, err = runner.communicate(timeout=120)
        finally:
            if runner.poll() is None:
                runner.kill()
    said = " ".join(err.split())
    assert runner.returncode == 130, out + err
    assert "'quick' done." in out, out
    ref = f"refs/exps/{git(alice, 'rev-parse', 'HEAD').strip()}/quick"
    assert "Recorded as done before `dvx queue start --dask` stopped: 'quick'" in said, said
    assert f"`dvx exp pull origin {ref}` brings them here" in said, said
    assert "Nothing was left half-written" not in said
    assert _queue_states(alice) == {"quick": "done"}
    assert git(alice, "for-each-ref", "refs/exps-queue") == ""
    assert run_dvx("exp", "pull", "origin", ref, cwd=alice).code == 0
    assert _show(alice)["quick"]["params"]["params.yaml"]["train.lr"] == 0.2


def _stopped_on_dask(alice, name: str, address: str, point: str) -> subprocess.Popen:
    """`dvx queue start --dask address` once the queued `name` runs on the cluster, Ctrl-C'd
    there, then stopped (SIGSTOP) at the fault point `point` on its way out."""
    runner = _running_on_dask(alice, name, address,
                              env={"DVX_FAULT": point, "DVX_FAULT_ACTION": "stop"})
    runner.send_signal(signal.SIGINT)  # Ctrl-C
    deadline = time.monotonic() + 120
    while not _stopped(runner):
        assert runner.poll() is None and time.monotonic() < deadline, runner.communicate()
        time.sleep(0.05)
    return runner


def test_a_dask_queue_start_stopped_by_ctrl_c_deletes_the_snapshots_it_published(tmp_path):
    """The snapshots a stopped `queue start --dask` published to the Git remote for its
    tasks go with the stop (the tasks running fetched theirs as they started): none is left
    there for an entry removed from the queue afterwards, which no later start would take
    up."""
    distributed = pytest.importorskip("dask.distributed")
    _, alice = _shared_pipeline(tmp_path)
    go = tmp_path / "go"
    must("exp", "run", "--queue", "-S", f"+train.wait_for={go}", "-n", "slow", cwd=alice)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address="127.0.0.1:0") as cluster:
        runner = _running_on_dask(alice, "slow", cluster.scheduler_address)
        runner.send_signal(signal.SIGINT)  # Ctrl-C
        try:
            out, err = runner.communicate(timeout=120)
        finally:
            go.touch()  # the task goes on without its client: let it end
    assert runner.returncode == 130, out + err
    assert "exps-queue" not in git(alice, "ls-remote", "origin")
    assert run_dvx("queue", "remove", "slow", cwd=alice).code == 0
    assert git(alice, "for-each-ref", "refs/exps-queue") == ""


def test_removing_entries_a_killed_dask_queue_start_left_deletes_the_snapshots_it_published(
        tmp_path):
    """`queue start --dask` killed (SIGKILL) while its tasks run leaves the snapshots it
    published to the Git remote: `queue remove` of the entries it left deletes them there,
    and names one it cannot delete (the remote out of reach) with the `git push --delete`
    that does, never leaving it unsaid; where the Git remote it was published to is no
    longer one here, it says so, never naming a `git push` of that name, which would fail."""
    distributed = pytest.importorskip("dask.distributed")
    _, alice = _shared_pipeline(tmp_path)
    go = tmp_path / "go"
    for name in ("slow", "late", "last"):
        must("exp", "run", "--queue", "-S", f"+train.wait_for={go}", "-n", name, cwd=alice)
    origin = git(alice, "remote", "get-url", "origin").strip()
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address="127.0.0.1:0") as cluster:
        runner = _running_on_dask(alice, "slow", cluster.scheduler_address)
        try:
            runner.kill()  # SIGKILL: no clean-up of its own
            runner.communicate(timeout=60)
            published = git(alice, "ls-remote", "origin", "refs/exps-queue/*").split()[1::2]
            assert sorted(ref.rpartition("/")[2] for ref in published) == ["last", "late", "slow"]
            removed = run_dvx("queue", "remove", "slow", cwd=alice)
            assert removed.code == 0, removed.output
            left = sorted(git(alice, "ls-remote", "origin", "refs/exps-queue/*").split()[1::2],
                          key=lambda ref: ref.rpartition("/")[2] != "late")
            assert [ref.rpartition("/")[2] for ref in left] == ["late", "last"]

            git(alice, "remote", "set-url", "origin", str(tmp_path / "out-of-reach"))
            removed = run_dvx("queue", "remove", "late", cwd=alice)
            said = " ".join(removed.stderr.split())
            assert removed.code == 0, removed.output
            assert _queue_states(alice) == {"last": "queued"}
            assert f"The snapshots published to 'origin' for the tasks may be there still: " \
                f"{left[0]}." in said, said
            hint = f"`git push origin --delete {left[0]}` deletes them"
            assert hint in said, said
            git(alice, "remote", "set-url", "origin", origin)
            git(alice, "push", "-q", "origin", "--delete", left[0])

            git(alice, "remote", "rename", "origin", "upstream")
            removed = run_dvx("queue", "remove", "last", cwd=alice)
            said = " ".join(removed.stderr.split())
            assert removed.code == 0, removed.output
            assert f"The snapshots published to 'origin' for the tasks may be there still: " \
                f"{left[1]}. 'origin' is no longer a Git remote here" in said, said
            assert f"`git push URL --delete {left[1]}`, URL that of the repository 'origin' " \
                "pointed to, deletes them" in said, said
            assert "git push origin" not in said and _queue_states(alice) == {}, said
            git(alice, "push", "-q", "upstream", "--delete", left[1])
            assert "exps-queue" not in git(alice, "ls-remote", "upstream")
        finally:
            if runner.poll() is None:
                runner.kill()
            go.touch()  # the tasks go on without their client: let them end


def test_a_new_entry_taking_a_finished_ones_name_deletes_the_snapshot_published_for_it(
        tmp_path):
    """An entry a killed `queue start --dask` published a snapshot for, then run here to its
    end, keeps that snapshot on the Git remote until something ends the entry: an `exp run
    --queue -n NAME` taking its name deletes it there."""
    distributed = pytest.importorskip("dask.distributed")
    _, alice = _shared_pipeline(tmp_path)
    go = tmp_path / "go"
    must("exp", "run", "--queue", "-S", f"+train.wait_for={go}", "-n", "slow", cwd=alice)
    must("exp", "run", "--queue", "-S", "train.lr=0.2", "-n", "quick", cwd=alice)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address="127.0.0.1:0") as cluster:
        runner = _running_on_dask(alice, "slow", cluster.scheduler_address)
        try:
            runner.kill()  # SIGKILL: no clean-up of its own; quick waits behind slow, unrun
            runner.communicate(timeout=60)
            published = git(alice, "ls-remote", "origin", "refs/exps-queue/*").split()[1::2]
            assert sorted(ref.rpartition("/")[2] for ref in published) == ["quick", "slow"]
            assert run_dvx("queue", "remove", "slow", cwd=alice).code == 0
            assert run_dvx("queue", "start", cwd=alice).code == 0  # quick runs here
            assert _queue_states(alice) == {"quick": "done"}
            assert [ref.rpartition("/")[2] for ref in git(
                alice, "ls-remote", "origin", "refs/exps-queue/*").split()[1::2]] == ["quick"]
            assert run_dvx("exp", "remove", "quick", cwd=alice).code == 0  # its name free
            queued = run_dvx("exp", "run", "--queue", "-S", "train.lr=0.3", "-n", "quick",
                             cwd=alice)
            assert queued.code == 0, queued.output
            assert "The done queue entry 'quick' and its log are replaced" in queued.stderr
            assert "exps-queue" not in git(alice, "ls-remote", "origin")
            assert _queue_states(alice) == {"quick": "queued"}
        finally:
            if runner.poll() is None:
                runner.kill()
            go.touch()  # the task goes on without its client: let it end


def test_a_second_ctrl_c_cutting_the_deletion_of_published_snapshots_short_names_them(tmp_path):
    """A second Ctrl-C while a stopped `queue start --dask` deletes the snapshots it
    published leaves them on the Git remote: the error names them and the `git push --delete`
    that deletes them."""
    distributed = pytest.importorskip("dask.distributed")
    _, alice = _shared_pipeline(tmp_path)
    go = tmp_path / "go"
    must("exp", "run", "--queue", "-S", f"+train.wait_for={go}", "-n", "slow", cwd=alice)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address="127.0.0.1:0") as cluster:
        runner = _stopped_on_dask(alice, "slow", cluster.scheduler_address, "dask.unpublishing")
        try:
            runner.send_signal(signal.SIGINT)  # an impatient second Ctrl-C
            runner.send_signal(signal.SIGCONT)
            out, err = runner.communicate(timeout=120)
        finally:
            if runner.poll() is None:
                runner.kill()
            go.touch()
    said = " ".join(err.split())
    assert runner.returncode == 130, out + err
    published = git(alice, "ls-remote", "origin", "refs/exps-queue/*").split()[1]
    assert f"The snapshots published to 'origin' for the tasks may be there still: " \
        f"{published}." in said, said
    assert "Nothing was left half-written" not in said, said
    hint = f"`git push origin --delete {published}` deletes them"
    assert hint in said, said
    git(alice, "push", "-q", "origin", "--delete", published)
    assert "exps-queue" not in git(alice, "ls-remote", "origin")


def test_a_ctrl_c_while_a_dask_queue_start_pulls_its_experiments_says_what_the_pull_did(
        tmp_path):
    """A Ctrl-C while `queue start --dask` pulls the experiments it recorded as done keeps
    what the stopped pull said (what it fetched) beside the experiments recorded and the
    `dvx exp pull` that finishes it."""
    distributed = pytest.importorskip("dask.distributed")
    _, alice = _shared_pipeline(tmp_path)
    must("exp", "run", "--queue", "-S", "train.lr=0.2", "-n", "quick", cwd=alice)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address="127.0.0.1:0") as cluster:
        runner = subprocess.Popen(
            [sys.executable, "-m", "dvx", "queue", "start", "--dask", cluster.scheduler_address],
            cwd=alice, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            stdin=subprocess.DEVNULL, env={**os.environ, "DVX_FAULT": "transfer.after_object",
                                           "DVX_FAULT_ACTION": "stop"})
        try:
            deadline = time.monotonic() + 300
            while not _stopped(runner):  # the pull's fetch, part-way
                assert runner.poll() is None and time.monotonic() < deadline, \
                    runner.communicate()
                time.sleep(0.05)
            runner.send_signal(signal.SIGINT)  # Ctrl-C
            runner.send_signal(signal.SIGCONT)
            out, err = runner.communicate(timeout=120)
        finally:
            if runner.poll() is None:
                runner.kill()
    said = " ".join(err.split())
    assert runner.returncode == 130, out + err
    assert "'quick' done." in out, out
    assert re.search(r"ERROR: Interrupted: [0-9]+ of [0-9]+ objects were downloaded before it "
                     r"stopped", said), said
    ref = f"refs/exps/{git(alice, 'rev-parse', 'HEAD').strip()}/quick"
    assert "Recorded as done before `dvx queue start --dask` stopped: 'quick'" in said, said
    assert f"`dvx exp pull origin {ref}` brings them here" in said, said
    assert "exps-queue" not in git(alice, "ls-remote", "origin")
    assert run_dvx("exp", "pull", "origin", ref, cwd=alice).code == 0
    assert _show(alice)["quick"]["params"]["params.yaml"]["train.lr"] == 0.2


def test_a_dask_stop_keeps_what_the_stopped_step_said_and_its_hint_beside_what_it_recorded():
    """What a stopped step of `queue start --dask` said (a pull's Interrupted: what it moved,
    and what to run next) reaches the user beside the experiments recorded as done; only the
    hint that says to run the command again, which would not pull them, gives way."""
    from dvx.errors import NOTHING_HALF_WRITTEN, Interrupted
    from dvx.exps.cluster import _stopped_leaving
    from dvx.exps.queue import DONE, Entry

    done = [Entry("quick", "a" * 40, "b" * 40, state=DONE)]
    ref = f"refs/exps/{'a' * 40}/quick"
    pulled = Interrupted("Interrupted: 1 of 2 objects were downloaded before it stopped.",
                         "`dvx status` names the pull until it is finished.")
    said = _stopped_leaving(pulled, "origin", done, None)
    assert said.message.startswith("Interrupted: 1 of 2 objects were downloaded before it "
                                   "stopped. Recorded as done before"), said.message
    assert said.hint is not None and said.hint.startswith("`dvx status` names the pull")
    assert f"`dvx exp pull origin {ref}` brings them here" in said.hint
    assert said.exit_code == 130
    generic = _stopped_leaving(Interrupted("Interrupted.", NOTHING_HALF_WRITTEN), "origin",
                               done, None)
    assert generic.hint is not None and NOTHING_HALF_WRITTEN not in generic.hint
    assert generic.hint.startswith(f"`dvx exp pull origin {ref}`"), generic.hint


def _dask_process(tmp_path, role: str, *args: str, env: dict[str, str] | None = None
                  ) -> subprocess.Popen:
    """A Dask scheduler or worker (`role`) in a process of its own."""
    log = open(tmp_path / f"{role}.log", "w")  # noqa: SIM115 - the child owns it
    try:
        return subprocess.Popen([sys.executable, "-m", f"distributed.cli.dask_{role}", *args],
                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env={**os.environ, **(env or {})}, cwd=tmp_path)
    finally:
        log.close()


def _scheduler_address(scheduler_file: Path, scheduler: subprocess.Popen) -> str:
    """The address a Dask scheduler listens on, once it says so: it binds a port of its own
    choosing, which no other process can take first as it could a free port picked here."""
    deadline = time.monotonic() + 60
    while True:
        with contextlib.suppress(OSError, ValueError, KeyError):
            return str(json.loads(scheduler_file.read_text())["address"])
        assert time.monotonic() < deadline and scheduler.poll() is None, "no scheduler"
        time.sleep(0.1)


def _stopped(proc: subprocess.Popen) -> bool:
    with open(f"/proc/{proc.pid}/stat") as f:
        return f.read().rpartition(")")[2].split()[0] == "T"


def test_a_dask_run_whose_scheduler_is_lost_after_its_push_is_done_and_pulled(tmp_path):
    distributed = pytest.importorskip("dask.distributed")
    _, alice = _shared_pipeline(tmp_path)
    must("exp", "run", "--queue", "-S", "train.lr=0.4", "-n", "lost", cwd=alice)
    scheduler = _dask_process(tmp_path, "scheduler", "--host", "127.0.0.1", "--port", "0",
                              "--no-dashboard", "--scheduler-file", "scheduler.json")
    address = _scheduler_address(tmp_path / "scheduler.json", scheduler)
    # The worker stops (SIGSTOP) once its task pushed the experiment, before it reports.
    worker = _dask_process(tmp_path, "worker", address, "--no-nanny", "--nthreads", "1",
                           "--host", "127.0.0.1", "--no-dashboard",
                           env={"DVX_FAULT": "dask.pushed", "DVX_FAULT_ACTION": "stop"})
    try:
        with distributed.Client(address, timeout="60s") as client:
            client.wait_for_workers(1, timeout=60)
        runner = _running_on_dask(alice, "lost", address,
                                  env={"DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "3s"})
        deadline = time.monotonic() + 120
        while not _stopped(worker):
            assert time.monotonic() < deadline and runner.poll() is None, runner.communicate()
            time.sleep(0.1)
        scheduler.kill()
        out, err = runner.communicate(timeout=120)
    finally:
        for proc in (scheduler, worker):
            proc.kill()
            proc.wait()
    assert runner.returncode == 0, out + err
    assert "'lost' done: its task pushed its experiment to 'origin', though its outcome " \
           "never came back" in out, out
    assert "distributed" not in err, err  # Dask's own log lines stay out of dvx's output
    assert _queue_states(alice) == {"lost": "done"}
    assert _show(alice)["lost"]["params"]["params.yaml"]["train.lr"] == 0.4  # pulled


def test_a_dask_task_whose_worker_dies_after_its_push_is_done_and_not_run_again(tmp_path):
    distributed = pytest.importorskip("dask.distributed")
    _, alice = _shared_pipeline(tmp_path)
    must("exp", "run", "--queue", "-S", "train.lr=0.6", "-n", "twice", cwd=alice)
    scratch = tmp_path / "worker-tmp"
    scratch.mkdir()
    # The worker is killed once its task pushed the experiment; its nanny starts another,
    # and Dask runs the task again there.
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address="127.0.0.1:0",
                                  env={"DVX_FAULT": "dask.pushed", "TMPDIR": str(scratch)}
                                  ) as cluster:
        started = run_dvx_proc("queue", "start", "--dask", cluster.scheduler_address,
                               cwd=alice, timeout=300)
    assert started.code == 0 and "'twice' done." in started.stdout, started.output
    log = run_dvx("queue", "logs", "twice", cwd=alice).stdout
    assert "by an earlier run of this task: not run again" in log, log
    assert "exp run" not in log
    assert _show(alice)["twice"]["params"]["params.yaml"]["train.lr"] == 0.6
    # the killed worker's clone, with its copy of config.local, went with the next task
    assert not [p for p in os.listdir(scratch) if p.startswith("dvx-dask-")]


def test_a_bad_or_unreachable_dask_address_is_refused_before_anything_is_pushed(tmp_path):
    pytest.importorskip("dask.distributed")
    _, alice = _shared_pipeline(tmp_path)
    must("exp", "run", "--queue", "-S", "train.lr=0.5", "-n", "a1", cwd=alice)
    for address, code, said in (
            ("tcp://127.0.0.1:8786x", 2, "its port '8786x' is not a port number"),
            ("http://127.0.0.1:8787", 2, "Dask knows no scheme 'http'"),
            (f"tcp://127.0.0.1:{free_port()}", 1, "Could not connect to the Dask scheduler")):
        started = run_dvx_proc("queue", "start", "--dask", address, cwd=alice,
                               env={"DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "2s"})
        assert started.code == code and said in started.stderr, started.output
        assert address in started.stderr and "internal error" not in started.stderr
        assert "exps-queue" not in git(alice, "ls-remote", "origin")  # nothing pushed
        assert _queue_states(alice) == {"a1": "queued"}


def test_the_token_of_the_git_remote_s_url_never_lands_in_a_dask_run_s_log(tmp_path):
    distributed = pytest.importorskip("dask.distributed")
    team = Team(tmp_path)
    alice = team.founder()
    _pipeline(alice)
    git(alice, "push", "-q", "origin", "main")
    # The workers clone a URL with a token (a server that is not there: the clone fails);
    # the snapshot is pushed to the origin.
    url = f"http://alice:GITTOKEN-4242@127.0.0.1:{free_port()}/project.git"
    git(alice, "remote", "set-url", "origin", url)
    git(alice, "remote", "set-url", "--push", "origin", str(team.origin))
    must("exp", "run", "--queue", "-S", "train.lr=0.2", "-n", "tok", cwd=alice)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address="127.0.0.1:0") as cluster:
        started = run_dvx("queue", "start", "--dask", cluster.scheduler_address, cwd=alice)
    # never started (the clone failed): kept queued with its snapshot, as on this machine
    assert started.code == 1 and "'tok' not started: its task could not clone" in \
        started.stdout, started.output
    assert _queue_states(alice) == {"tok": "queued"}
    assert git(alice, "for-each-ref", "refs/exps-queue/tok")
    log = run_dvx("queue", "logs", "tok", cwd=alice).stdout
    assert "$ git clone" in log and "http://***@127.0.0.1" in log, log
    assert "GITTOKEN" not in log


def test_new_code_goes_into_an_experiment_and_large_new_files_do_not(project):
    write(project / "src" / "helper.py", "X = 1\n")
    write(project / "big.bin", b"\0" * (2 << 20))
    result = run_dvx("exp", "save", "-n", "with-helper", cwd=project)
    assert result.code == 0 and "big.bin" in result.stderr  # named as left out
    ref = git(project, "for-each-ref", "--format=%(objectname)", "refs/exps").split()[0]
    files = git(project, "ls-tree", "-r", "--name-only", ref).split()
    assert "src/helper.py" in files and "big.bin" not in files
    assert git(project, "status", "--porcelain", "--", "src") == "?? src/\n"  # index untouched


STEPS = """
import json, yaml
n = yaml.safe_load(open("params.yaml"))["train"]["n"]
json.dump({"n": n}, open("m.json", "w"))
with open("steps.csv", "w") as f:  # a per-step log of over 1 MiB
    f.write("step,loss\\n")
    for i in range(80000):
        f.write(f"{i},{n / (i + 1):.12f}\\n")
"""


def test_a_large_uncached_plots_output_goes_into_the_experiment_and_apply_brings_it_back(repo):
    write(repo / "params.yaml", "train:\n  n: 3\n")
    write(repo / "s.py", STEPS)
    write(repo / "dvx.yaml", f"stages:\n  s:\n    cmd: {sys.executable} s.py\n"
          "    deps: [s.py]\n    params: [train.n]\n    metrics: [m.json]\n"
          "    plots:\n    - steps.csv: {x: step, y: loss}\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "the stage, not run yet")  # steps.csv is a new file
    first = run_dvx("exp", "run", "-n", "big1", cwd=repo)
    assert first.code == 0 and "Left out" not in first.stderr, first.output
    must("exp", "run", "-S", "train.n=5", "-n", "big2", cwd=repo)
    for name, n in (("big1", 3), ("big2", 5)):
        ref = git(repo, "for-each-ref", "--format=%(objectname)", f"refs/exps/*/{name}").strip()
        steps = git(repo, "show", f"{ref}:steps.csv")
        assert len(steps) > 1 << 20 and steps.splitlines()[1] == f"0,{n:.12f}", name
    must("exp", "apply", "big1", cwd=repo)
    assert (repo / "steps.csv").read_text().splitlines()[1] == "0,3.000000000000"
    assert run_dvx("status", "-q", cwd=repo).code == 0  # dvx.lock and steps.csv agree


def test_dvx_s_own_files_stay_out_of_experiments_so_apply_and_a_branch_checkout_go_through(
        project):
    must("stage", "add", "-n", "curve", "--plots", "curve.csv",
         "printf 'x,y\\n1,2\\n' > curve.csv", cwd=project)
    must("repro", cwd=project)
    git(project, "add", "-A")
    git(project, "commit", "-qm", "a plot")
    must("install", cwd=project)  # .gitattributes, not committed yet
    must("plots", "show", cwd=project)  # dvx_plots/index.html
    must("exp", "run", "-S", "train.lr=0.2", "-n", "first", cwd=project)
    must("exp", "run", "-S", "train.lr=0.3", "-n", "second", cwd=project)
    for ref in ("refs/exps/*/first", "refs/exps/*/second"):
        commit = git(project, "for-each-ref", "--format=%(objectname)", ref).strip()
        files = git(project, "ls-tree", "-r", "--name-only", commit).split()
        assert ".gitattributes" not in files and "params.yaml" in files, ref
        assert not [f for f in files if f.startswith("dvx_plots/")], ref
    must("plots", "diff", "first", "second", cwd=project)  # the page changes
    must("exp", "apply", "first", cwd=project)  # nothing of dvx's to refuse over
    must("exp", "branch", "first", "from-first", cwd=project)
    git(project, "checkout", "-q", "--", ".")
    git(project, "checkout", "-q", "from-first")  # no untracked file of the branch in the way
    assert "lr: 0.2" in (project / "params.yaml").read_text()
    assert "merge=dvx" in (project / ".gitattributes").read_text()
    assert (project / "dvx_plots" / "index.html").exists()


def test_apply_keeps_the_lines_dvx_install_added_to_a_committed_gitattributes(project):
    """A committed .gitattributes to which `dvx install` added its merge-driver lines: they
    set up this clone, as .dvx/config does, so `exp apply` keeps them, whether or not an
    experiment recorded them, and whether or not the experiment changed the file. They are
    never the user's unsaved changes to keep, or to refuse over, nor a file to set back."""
    write(project / ".gitattributes", "*.png binary\n")
    git(project, "add", ".gitattributes")
    git(project, "commit", "-qm", "attributes")
    must("exp", "run", "-S", "train.lr=0.2", "-n", "plain", cwd=project)
    write(project / ".gitattributes", "*.png binary\n*.bin binary\n")
    must("exp", "run", "-S", "train.lr=0.3", "-n", "binary", cwd=project)
    git(project, "checkout", "-q", "--", ".gitattributes")
    must("install", cwd=project)
    installed = ["*.dvx merge=dvx", "/dvx.lock merge=dvx", ".gitignore merge=dvx"]

    def apply(name: str, names_the_file: bool = False) -> list[str]:
        applied = run_dvx("exp", "apply", name, cwd=project)
        assert applied.code == 0, applied.output
        assert (".gitattributes" in applied.output) == names_the_file, applied.output
        lines = (project / ".gitattributes").read_text().splitlines()
        assert lines[-3:] == installed, lines
        return lines[:-3]

    assert apply("plain") == ["*.png binary"]  # no experiment has install's lines
    assert apply("binary") == ["*.png binary", "*.bin binary"]
    assert apply("plain", names_the_file=True) == ["*.png binary"]  # binary's line set back
    must("exp", "run", "-S", "train.lr=0.4", "-n", "recorded", cwd=project)  # with install's
    assert apply("binary") == ["*.png binary", "*.bin binary"]
    assert apply("plain", names_the_file=True) == ["*.png binary"]
    assert apply("recorded") == ["*.png binary"]
    assert apply("plain") == ["*.png binary"]
    assert run_dvx("status", "-q", cwd=project).code == 0


def test_a_new_file_staged_over_an_ignore_rule_goes_into_experiments_and_snapshots(project):
    write(project / ".gitignore", "*.cfg\n")
    write(project / "extra.cfg", "factor: 2\n")
    git(project, "add", "-f", "extra.cfg")  # tracked now, though a rule matches it
    must("exp", "save", "-n", "with-cfg", cwd=project)
    must("exp", "run", "--queue", "-n", "queued-cfg", cwd=project)
    for ref in ("refs/exps/*/with-cfg", "refs/exps-queue/queued-cfg"):
        commit = git(project, "for-each-ref", "--format=%(objectname)", ref).strip()
        assert git(project, "show", f"{commit}:extra.cfg") == "factor: 2\n", ref
    assert git(project, "status", "--porcelain", "--", "extra.cfg") == "A  extra.cfg\n"


def test_a_file_git_rm_cached_took_out_of_the_index_stays_out_of_experiments(project):
    write(project / "creds.env", "token=CHANGEME\n")
    write(project / "notes.txt", "mine\n")
    git(project, "add", "creds.env", "notes.txt")
    git(project, "commit", "-qm", "creds")
    git(project, "rm", "-q", "--cached", "creds.env", "notes.txt")  # notes.txt: not ignored
    write(project / ".gitignore", "creds.env\n")
    write(project / "creds.env", "token=REAL-SECRET\n")
    write(project / "new.py", "X = 1\n")
    git(project, "add", "-N", "new.py")  # intent to add: tracked, as a staged new file
    must("exp", "save", "-n", "saved", cwd=project)
    must("exp", "run", "--queue", "-n", "queued", cwd=project)
    for ref in ("refs/exps/*/saved", "refs/exps-queue/queued"):
        commit = git(project, "for-each-ref", "--format=%(objectname)", ref).strip()
        files = git(project, "ls-tree", "-r", "--name-only", commit).split()
        assert "creds.env" not in files and "notes.txt" not in files, ref
        assert "new.py" in files and "train.py" in files, ref
    assert git(project, "status", "--porcelain", "--", "creds.env", "new.py") == \
        "D  creds.env\n A new.py\n"


def test_config_local_stays_out_of_experiments_even_where_a_rule_takes_it_back_into_git(
        project):
    """A committed `!/config.local` rule: `git add -A` would stage this clone's credentials,
    yet no experiment, saved, run or queued (its snapshot and its run alike), records them,
    so `exp push` never sends them."""
    write(project / ".dvx" / "config.local", "[remote \"s3r\"]\n    url = s3://b/x\n"
          "    secret_access_key = SUPERSECRET\n")
    write(project / ".dvx" / ".gitignore", "/tmp\n/cache\n!/config.local\n")
    git(project, "commit", "-qam", "a rule taking config.local back into Git")
    must("exp", "run", "-S", "train.lr=0.2", "-n", "ran", cwd=project)
    must("exp", "save", "-n", "saved", cwd=project)
    must("exp", "run", "--queue", "-S", "train.lr=0.3", "-n", "queued", cwd=project)
    snapshot = git(project, "for-each-ref", "--format=%(objectname)", "refs/exps-queue").split()
    must("queue", "start", cwd=project)
    commits = snapshot + [
        git(project, "for-each-ref", "--format=%(objectname)", f"refs/exps/*/{name}").strip()
        for name in ("ran", "saved", "queued")]
    for commit in commits:
        files = git(project, "ls-tree", "-r", "--name-only", commit).split()
        assert "params.yaml" in files and ".dvx/config.local" not in files, files
    assert "SUPERSECRET" in (project / ".dvx" / "config.local").read_text()  # kept


@pytest.mark.parametrize("queued", [False, True], ids=["run", "queued"])
def test_outputs_deleted_before_a_run_are_made_again_and_its_experiment_holds_them(
        project, queued):
    """As a run stopped by Ctrl-C leaves them: a queued run's snapshot lacks them, its run
    makes them again, and its experiment holds them as a plain run's does."""
    (project / "metrics.json").unlink()  # cache: false, Git tracks it
    (project / "model.bin").unlink()  # cached
    must("exp", "run", *["--queue"] * queued, "-S", "train.lr=0.5", "-n", "again", cwd=project)
    if queued:
        must("queue", "start", cwd=project)
    commit = git(project, "for-each-ref", "--format=%(objectname)", "refs/exps/*/again").strip()
    assert json.loads(git(project, "show", f"{commit}:metrics.json"))["accuracy"] == 0.875
    git(project, "checkout", "-q", "--", ".")
    must("checkout", cwd=project)
    must("exp", "apply", "again", cwd=project)
    assert json.loads((project / "metrics.json").read_text())["accuracy"] == 0.875
    assert (project / "model.bin").read_text() == "model lr=0.5 epochs=3 rows=3"
    assert run_dvx("status", "-q", cwd=project).code == 0


def test_a_queued_experiment_runs_on_the_data_the_workspace_had_when_queued(project):
    os.chmod(project / "data" / "raw.csv", 0o644)
    write(project / "data" / "raw.csv", "a\nb\nc\nd\ne\n")  # changed, not yet `dvx add`ed
    must("exp", "run", "--queue", "-n", "more-rows", cwd=project)
    assert run_dvx("status", "-q", "data/raw.csv", cwd=project).code == 0  # recorded, cached
    assert run_dvx("queue", "start", cwd=project).code == 0
    assert _show(project)["more-rows"]["metrics"]["metrics.json"]["rows"] == 5


def _cached(repo, oid: str) -> Path:
    return repo / ".dvx" / "cache" / "files" / "xxh128" / oid[:2] / oid[2:]


def _oid(content: str) -> str:
    import xxhash

    return xxhash.xxh3_128_hexdigest(content.encode())


def test_gc_all_experiments_keeps_on_the_remote_what_pulled_experiments_use(tmp_path):
    team, alice = _shared_pipeline(tmp_path)
    must("exp", "run", "-S", "train.lr=0.01", "-n", "low", cwd=alice)
    must("exp", "push", "origin", "low", cwd=alice)
    model = _oid("model lr=0.01 epochs=3 rows=3")
    bob = team.clone("bob")

    def removed_from_remote(*scope):
        result = run_dvx("gc", *scope, "-c", "shared", "--dry-run", "--grace", "0", "--json",
                         cwd=bob)
        assert result.code == 0, result.output
        return json.loads(result.stdout)[1]["removed_oids"]

    # Experiments this clone has no ref of are outside any scope: pull them first.
    assert model in removed_from_remote("-a", "-T", "--all-experiments")
    must("exp", "pull", "origin", cwd=bob)
    assert model in removed_from_remote("-a", "-T")  # branches and tags only
    assert model not in removed_from_remote("--all-experiments")
    assert model not in removed_from_remote("-A")  # every ref this clone has, exp refs too
    must("gc", "-a", "-T", "--all-experiments", "-c", "shared", "-f", "--grace", "0", cwd=bob)
    carol = team.clone("carol")
    must("exp", "pull", "origin", cwd=carol)
    assert run_dvx("exp", "apply", "low", cwd=carol).code == 0
    assert (carol / "model.bin").read_text() == "model lr=0.01 epochs=3 rows=3"


def test_a_queued_experiments_inputs_stay_in_scope_and_are_fetched_if_the_cache_lost_them(
        tmp_path):
    _, alice = _shared_pipeline(tmp_path)
    os.chmod(alice / "data" / "raw.csv", 0o644)
    write(alice / "data" / "raw.csv", "a\nb\nc\nd\ne\n")  # an input version nothing commits
    must("exp", "run", "--queue", "-n", "more-rows", cwd=alice)
    git(alice, "checkout", "-q", "--", ".")
    must("checkout", "--force", cwd=alice)
    must("push", "-A", cwd=alice)  # the remote holds it, so only the scope keeps it here
    queued_input = _oid("a\nb\nc\nd\ne\n")
    must("gc", "-w", "-f", "--grace", "0", cwd=alice)
    assert _cached(alice, queued_input).exists()  # as a stash's data is kept

    _cached(alice, queued_input).unlink()  # lost all the same: the run fetches it first
    assert run_dvx("queue", "start", cwd=alice).code == 0
    assert _show(alice)["more-rows"]["metrics"]["metrics.json"]["rows"] == 5


_FETCHING = "fetching the data its run needs into the cache"
_BIG_ROWS = "\n".join(f"row{i:07d}" for i in range(120_000)) + "\n"  # over 1 MiB: not packed


@pytest.mark.parametrize("point, step, rows", [
    ("fetch.before_files", _FETCHING, "a\nb\nc\nd\ne\n"),
    ("transfer.after_object", _FETCHING, "a\nb\nc\nd\ne\n"),
    ("transfer.after_object", _FETCHING, _BIG_ROWS),
    ("queue.worktree_made", "making the worktree it runs in and starting its run there",
     "a\nb\nc\nd\ne\n")],
    ids=["before-files", "after-object-packed", "after-object-loose", "worktree-made"])
def test_a_ctrl_c_while_queue_start_readies_a_run_says_it_stays_queued_and_what_goes_on(
        tmp_path, point, step, rows):
    """Ctrl-C while `queue start` fetches the data a queued run needs from the remote (or
    makes its worktree), before the run starts: the error says the entry is still queued with
    its snapshot and names the `dvx queue start` that goes on, after what a stopped fetch
    said (how many objects came), never only to run the command again. Stopped once every
    object came (a loose object, over the pack limit), it fetches nothing more, and never says
    it does. No worktree is left, and that start runs the experiment."""
    _, alice = _shared_pipeline(tmp_path)
    os.chmod(alice / "data" / "raw.csv", 0o644)
    write(alice / "data" / "raw.csv", rows)
    must("exp", "run", "--queue", "-n", "more-rows", cwd=alice)
    git(alice, "checkout", "-q", "--", ".")
    must("checkout", "--force", cwd=alice)
    must("push", "-A", cwd=alice)
    _cached(alice, _oid(rows)).unlink()  # on the remote: queue start fetches it
    runner = stopped_at(point, "queue start", alice)
    try:
        runner.send_signal(signal.SIGINT)  # Ctrl-C
        runner.send_signal(signal.SIGCONT)
        out, err = runner.communicate(timeout=120)
    finally:
        if runner.poll() is None:
            runner.kill()
    said = " ".join(err.split())
    assert runner.returncode == 130, out + err
    every_object_came = point == "transfer.after_object" and rows == _BIG_ROWS
    if every_object_came:
        assert said.startswith("ERROR: Interrupted: every object (1 of 1) was downloaded before "
                               "it stopped."), said
    elif point == "transfer.after_object":
        assert re.search(r"ERROR: Interrupted: [0-9]+ of 1 objects were downloaded before it "
                         r"stopped", said), said
    else:
        assert said.startswith("ERROR: Interrupted. 'more-rows' had not started"), said
    assert f"'more-rows' had not started: `dvx queue start` was {step} when it stopped. It is " \
        "still queued, with its snapshot" in said, said
    fetches_more = step == _FETCHING and not every_object_came
    assert ("`dvx queue start` fetches the rest and runs it" if fetches_more else
            "`dvx queue start` runs it") + ", with the other experiments still queued (`dvx " \
        "queue remove more-rows` drops it)." in said, said
    assert "run the command again" not in said and "goes on running" not in said, said
    assert fetches_more or "fetches the rest" not in said, said
    assert _queue_states(alice) == {"more-rows": "queued"}
    assert "refs/exps-queue/more-rows" in git(alice, "for-each-ref", "refs/exps-queue")
    assert len(git(alice, "worktree", "list").splitlines()) == 1  # none left half-made
    again = run_dvx("queue", "start", cwd=alice)
    assert again.code == 0, again.output
    assert _show(alice)["more-rows"]["metrics"]["metrics.json"]["rows"] == len(rows.split())


def test_a_queued_experiment_whose_inputs_are_nowhere_stays_queued_with_its_snapshot(project):
    os.chmod(project / "data" / "raw.csv", 0o644)
    write(project / "data" / "raw.csv", "a\nb\nc\nd\ne\n")
    must("exp", "run", "--queue", "-n", "more-rows", cwd=project)
    cached = _cached(project, _oid("a\nb\nc\nd\ne\n"))
    aside = project.parent / "aside"
    shutil.move(cached, aside)  # no remote has it either

    started = run_dvx("queue", "start", cwd=project)
    assert started.code == 1
    assert "'more-rows' not started" in started.stdout and "data/raw.csv" in started.stdout
    states = json.loads(run_dvx("queue", "status", "--json", cwd=project).stdout)
    assert [(e["name"], e["state"]) for e in states] == [("more-rows", "queued")]
    assert "refs/exps-queue/more-rows" in git(project, "for-each-ref", "refs/exps-queue")

    shutil.move(aside, cached)  # found again: the next start runs it
    assert run_dvx("queue", "start", cwd=project).code == 0
    assert _show(project)["more-rows"]["metrics"]["metrics.json"]["rows"] == 5


def test_a_queued_run_fetches_only_the_data_its_stages_read_and_runs_without_the_rest(tmp_path):
    """Data tracked with `dvx add` that no stage reads, never pulled into this clone: `queue
    start` neither fetches it nor needs it, so the run starts with the remote unreachable too,
    as `exp run` does; its experiment names that data as the pointers do."""
    team, alice = _shared_pipeline(tmp_path)
    write(alice / "extra" / "notes.txt", "notes\n")
    write(alice / "extra" / "dir" / "a", "a\n")
    must("add", "extra/notes.txt", "extra/dir", cwd=alice)
    share(alice, "data no stage reads")
    bob = team.clone("bob", pull=False)
    must("pull", "data/raw.csv", cwd=bob)  # only what the pipeline reads
    unread = {_oid("notes\n"), _oid("a\n")}

    must("exp", "run", "--queue", "-S", "train.lr=0.5", "-n", "reachable", cwd=bob)
    assert run_dvx("queue", "start", cwd=bob).code == 0
    assert not any(_cached(bob, oid).exists() for oid in unread)  # not fetched
    must("remote", "modify", "--local", "shared", "url", str(tmp_path / "unreachable"), cwd=bob)
    must("exp", "run", "--queue", "-S", "train.lr=0.2", "-n", "offline", cwd=bob)
    started = run_dvx("queue", "start", cwd=bob)
    assert started.code == 0, started.output
    states = json.loads(run_dvx("queue", "status", "--json", cwd=bob).stdout)
    assert {(e["name"], e["state"]) for e in states} == {("reachable", "done"),
                                                          ("offline", "done")}
    rows = _show(bob)
    assert rows["offline"]["metrics"]["metrics.json"]["accuracy"] == 0.95
    ref = git(bob, "for-each-ref", "--format=%(refname)", "refs/exps/*/offline").strip()
    for pointer in ("extra/notes.txt.dvx", "extra/dir.dvx"):
        assert git(bob, "show", f"{ref}:{pointer}") == (bob / pointer).read_text()


# Rewrites its input in place, as pandas' `to_csv` over the CSV `read_csv` read does.
REWRITES_ITS_INPUT = f"""stages:
  clean:
    cmd: >-
      {sys.executable} -c "s = open('data.csv').read(); open('clean.csv', 'w').write(s);
      open('data.csv', 'w').write(s.replace(' ', ''))"
    deps: [data.csv]
    params: [lr]
    outs: [clean.csv]
"""


@pytest.mark.parametrize("link", ["symlink", "hardlink"])
def test_a_queued_run_writing_into_its_input_says_how_the_workspace_gets_its_data_back(
        repo, tmp_path, link):
    """A queued run's worktree links into the cache it shares with the workspace it was
    queued from, so a command rewriting its input in place writes into the very object the
    workspace's file links to. The run fails; its log names that file, in that workspace, and
    how to get its data back there (not a `dvx unprotect` in a worktree already removed),
    where the written bytes went, and what to change before queueing it again."""
    must("config", "cache.type", link, cwd=repo)
    must("remote", "add", "-d", "store", str(tmp_path / "store"), cwd=repo)
    write(repo / "data.csv", "id,v\n1, 2\n")
    write(repo / "params.yaml", "lr: 1\n")
    write(repo / "dvx.yaml", REWRITES_ITS_INPUT)
    must("add", "data.csv", cwd=repo)
    must("push", cwd=repo)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "pipeline")
    must("exp", "run", "--queue", "-S", "lr=2", "-n", "inplace", cwd=repo)

    assert run_dvx("queue", "start", cwd=repo).code == 1
    said = " ".join(run_dvx("queue", "logs", "inplace", cwd=repo).stdout.split())
    [moved] = (repo / ".dvx" / "cache" / "quarantine").iterdir()
    assert moved.read_text() == "id,v\n1,2\n"
    assert f"moved to {moved}, which holds what was written" in said, said
    assert (f"In the worktree {os.path.realpath(repo)}, 'data.csv' linked to it too, and no "
            "longer holds the data its pointer records: there, `dvx pull --force data.csv` "
            "brings it back from a remote that has it.") in said, said
    assert "declare the stage to write a new file" in said, said
    assert "`dvx config cache.type copy`" in said and "unprotect" not in said, said

    assert run_dvx("pull", "--force", "data.csv", cwd=repo).code == 0
    assert (repo / "data.csv").read_text() == "id,v\n1, 2\n"
    assert run_dvx("status", "-q", "data.csv", cwd=repo).code == 0
    assert run_dvx("fsck", cwd=repo).code == 0


def test_apply_of_an_experiment_missing_a_push_false_output_says_to_run_it_again(project):
    local = "outs:\n      - model.bin:\n          push: false"
    write(project / "dvx.yaml", DVX_YAML.replace("outs: [model.bin]", local))
    must("repro", cwd=project)
    git(project, "commit", "-qam", "the model is not pushed")
    must("exp", "run", "-S", "train.lr=0.5", "-n", "half", cwd=project)
    git(project, "checkout", "-q", "--", ".")
    must("checkout", "--force", cwd=project)
    must("gc", "-w", "-f", "--grace", "0", cwd=project)  # push: false: not protected

    applied = run_dvx("exp", "apply", "half", cwd=project)
    assert applied.code == 2 and "model.bin" in applied.stderr
    assert "push: false" in applied.stderr and "dvx exp run" in applied.stderr
    assert "exp pull" not in applied.stderr and "dvx fetch" not in applied.stderr


def test_a_second_exp_run_in_one_workspace_never_sets_params_under_a_run_going_on(project):
    """`exp run -S` holds the repository lock from the params it writes to the experiment it
    records: a second one started meanwhile (another terminal) waits for it before it writes
    its own, so each experiment holds the params it ran with."""
    go = project / "go"

    def exp_run(name: str, *sets: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "dvx", "exp", "run", "-n", name,
             *(arg for each in sets for arg in ("-S", each))], cwd=project,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
            text=True)

    first = exp_run("first", "train.lr=0.4", f"+train.wait_for={go}")
    second = None
    try:
        deadline = time.monotonic() + 60
        holder = project / ".dvx" / "tmp" / "lock.holder"
        while not holder.exists() or '"groups"' not in holder.read_text():  # its stage runs
            assert first.poll() is None and time.monotonic() < deadline, "first never ran"
            time.sleep(0.05)
        second = exp_run("second", "train.lr=0.5")
        assert second.stderr is not None
        assert "Waiting up to" in second.stderr.readline()  # for the lock, params unwritten
        assert "lr: 0.4" in (project / "params.yaml").read_text()
    finally:
        go.write_text("")
        first.communicate(timeout=120)
        if second is not None:
            second.communicate(timeout=120)
    assert first.returncode == 0 and second.returncode == 0
    rows = _show(project)
    assert rows["first"]["params"]["params.yaml"]["train.lr"] == 0.4
    assert rows["second"]["params"]["params.yaml"]["train.lr"] == 0.5


def _one_stage_baseline(repo, name: str, cmd: str, params: str, out: str) -> None:
    """dvx.yaml of one stage `name` reading `params`, run and committed as the baseline."""
    run_and_commit(repo, f"stages:\n  {name}:\n    cmd: {cmd}\n    params: [{params}]\n"
                         f"    outs: [{out}]\n", "baseline")


def test_set_into_a_tracked_folder_s_params_file_is_judged_by_its_record_not_its_pull(
        tmp_path):
    """conf/ is tracked with `dvx add` and a clone has pulled only conf/other.yaml: -S into
    conf/hp.yaml says it is not checked out yet, naming `dvx pull conf/hp.yaml`, which
    places it; a name conf/ does not hold (a typo) is said not to exist, never sent to a
    pull that fails; before anything of conf/ is known here, -S names `dvx pull conf`."""
    team = Team(tmp_path)
    alice = team.founder()
    write(alice / "conf" / "hp.yaml", "lr: 0.1\n")
    write(alice / "conf" / "other.yaml", "k: 1\n")
    must("add", "conf", cwd=alice)
    _one_stage_baseline(alice, "train", "cat conf/hp.yaml > p.txt", "{conf/hp.yaml: [lr]}",
                        "p.txt")
    must("push", cwd=alice)
    git(alice, "push", "-q", "origin", "main")
    bob = team.clone("bob", pull=False)

    unknown = run_dvx("exp", "run", "-S", "conf/typo.yaml:lr=0.5", cwd=bob)
    said = " ".join(unknown.stderr.split())
    assert unknown.code == 2 and "Run `dvx pull conf` to place it" in said, unknown.output
    must("pull", "conf/other.yaml", cwd=bob)
    for queued in ([], ["--queue"]):
        refused = run_dvx("exp", "run", *queued, "-S", "conf/hp.yaml:lr=0.5", cwd=bob)
        said = " ".join(refused.stderr.split())
        assert refused.code == 2, refused.output
        assert "'conf/hp.yaml', which dvx tracks (recorded in 'conf.dvx') but which is not " \
            "checked out here yet" in said, said
        assert "Run `dvx pull conf/hp.yaml` to place it" in said, said
        typo = run_dvx("exp", "run", *queued, "-S", "conf/typo.yaml:lr=0.5", cwd=bob)
        said = " ".join(typo.stderr.split())
        assert typo.code == 2 and "'conf/typo.yaml', which does not exist" in said, said
        assert git(bob, "status", "--porcelain") == ""
    must("pull", "conf/hp.yaml", cwd=bob)
    must("exp", "run", "-S", "conf/hp.yaml:lr=0.5", "-n", "e", cwd=bob)
    assert _show(bob)["e"]["params"]["conf/hp.yaml"]["lr"] == 0.5


def test_a_params_file_tracked_with_dvx_add_keeps_the_value_an_experiment_set(repo):
    """conf.yaml is data (`dvx add`), read as params: `exp run -S` records its new version,
    as a changed input, so applying the experiment brings back the value it ran with."""
    write(repo / "conf.yaml", "lr: 0.1\n")
    must("add", "conf.yaml", cwd=repo)
    _one_stage_baseline(repo, "c", "cat conf.yaml > c.txt", "{conf.yaml: [lr]}", "c.txt")
    must("exp", "run", "-S", "conf.yaml:lr=0.5", "-n", "c1", cwd=repo)
    git(repo, "checkout", "-q", "--", ".")
    must("checkout", "--force", cwd=repo)
    assert (repo / "conf.yaml").read_text() == "lr: 0.1\n"
    must("exp", "apply", "c1", cwd=repo)
    assert (repo / "conf.yaml").read_text() == "lr: 0.5\n"
    assert (repo / "c.txt").read_text() == "lr: 0.5\n"
    assert "up to date" in run_dvx("status", cwd=repo).stdout


def test_exp_run_refuses_before_writing_a_tracked_params_file_whose_new_data_is_not_here(
        tmp_path):
    """A `git pull` moved the pointer of params.yaml (tracked with `dvx add`) to alice's
    version, whose data bob has not checked out: `exp run -S` writes nothing and says to
    pull it while his cache lacks it, to check it out once fetched (never to keep "his"
    version, which is only the older one); once placed, the experiment runs on alice's
    params with bob's -S."""
    team = Team(tmp_path)
    alice = team.founder()
    write(alice / "params.yaml", "train:\n  lr: 0.1\n  epochs: 3\n")
    must("add", "params.yaml", cwd=alice)
    _one_stage_baseline(alice, "train", "cat params.yaml > p.txt", "train", "p.txt")
    must("push", cwd=alice)
    git(alice, "push", "-q", "origin", "main")
    bob = team.clone("bob")
    must("exp", "run", "-S", "train.epochs=5", "-n", "more", cwd=alice)
    must("exp", "apply", "more", cwd=alice)
    share(alice, "five epochs")
    git(bob, "pull", "-q")
    stale = (bob / "params.yaml").read_bytes()
    status = run_dvx("status", cwd=bob).stdout

    for queued in ([], ["--queue"]):
        refused = run_dvx("exp", "run", *queued, "-S", "train.lr=0.25", "-n", "e", cwd=bob)
        assert refused.code != 0 and "pointer moved in Git" in refused.stderr, refused.output
        assert "its data is not checked out" in refused.stderr
        said = " ".join(refused.stderr.split())
        assert "Run `dvx pull params.yaml` to fetch and place the data the pointer names" \
            in said, "a checkout places nothing the cache lacks"
        assert "dvx checkout" not in said and "commit --force" not in said
        assert (bob / "params.yaml").read_bytes() == stale
        assert run_dvx("status", cwd=bob).stdout == status

    must("fetch", "params.yaml", cwd=bob)
    fetched = run_dvx("exp", "run", "-S", "train.lr=0.25", "-n", "e", cwd=bob)
    assert fetched.code != 0 and "Run `dvx checkout params.yaml` (or `dvx pull params.yaml`" \
        in " ".join(fetched.stderr.split()), fetched.output
    must("checkout", "params.yaml", cwd=bob)
    must("exp", "run", "-S", "train.lr=0.25", "-n", "e", cwd=bob)
    assert _show(bob)["e"]["params"]["params.yaml"] == {"train.lr": 0.25, "train.epochs": 5}


def test_exp_show_reads_a_params_file_tracked_with_dvx_add_from_the_cache(repo):
    """The baseline's and the experiment's conf.yaml are in no commit, only their pointers:
    exp show reads each from the cache by the oid its pointer names, and says how to fetch
    one the cache lacks instead of leaving the column empty."""
    write(repo / "conf.yaml", "lr: 0.1\n")
    must("add", "conf.yaml", cwd=repo)
    _one_stage_baseline(repo, "c", "cat conf.yaml > c.txt", "{conf.yaml: [lr]}", "c.txt")
    must("exp", "run", "-S", "conf.yaml:lr=0.5", "-n", "c1", cwd=repo)
    rows = _show(repo)
    assert rows["c1"]["params"]["conf.yaml"] == {"lr": 0.5}
    baseline = next(row for name, row in rows.items() if row["rev"] and name != "c1")
    assert baseline["params"]["conf.yaml"] == {"lr": 0.1}
    shutil.rmtree(repo / ".dvx" / "cache" / "files")
    errors = _show(repo)["c1"]["errors"]
    assert len(errors) == 1 and "the cache lacks its data (`dvx fetch --rev" in errors[0], errors


def test_exp_show_reads_a_cached_metrics_file_of_a_commit_by_its_dvx_lock(repo):
    """m.json is `cache: true`: no commit holds it, only its dvx.lock entry. exp show reads
    the baseline's and the experiment's from the cache by that entry's oid, and names the
    fetch that gets one the cache lacks instead of leaving the column empty."""
    write(repo / "params.yaml", "lr: 0.1\n")
    write(repo / "gen.sh", "sed 's/lr: \\(.*\\)/{\"acc\": \\1}/' params.yaml > m.json\n")
    run_and_commit(repo, "stages:\n  train:\n    cmd: sh gen.sh\n    deps: [gen.sh]\n"
                         "    params: [lr]\n    metrics:\n      - m.json:\n"
                         "          cache: true\n", "baseline")
    must("exp", "run", "-S", "lr=0.5", "-n", "e1", cwd=repo)
    rows = _show(repo)
    assert rows["e1"]["metrics"]["m.json"] == {"acc": 0.5}
    assert rows["main"]["metrics"]["m.json"] == {"acc": 0.1}
    shutil.rmtree(repo / ".dvx" / "cache" / "files")
    rows = _show(repo)
    for name in ("main", "e1"):
        assert "m.json" not in rows[name]["metrics"], rows[name]
        errors = rows[name]["errors"]
        assert len(errors) == 1 and "the cache lacks its data (`dvx fetch --rev" in errors[0]


def test_a_queued_run_killed_while_its_stage_runs_keeps_its_worktree_until_the_stage_ends(
        repo, tmp_path):
    """The queued run's `exp run` killed with SIGKILL (the OOM killer): its guardian gives
    the stage SIGTERM, and the stage takes a second to save a checkpoint in the worktree;
    `queue start` removes the worktree only once the stage has ended, so the save succeeds."""
    started, saved = tmp_path / "started", tmp_path / "saved"
    write(repo / "params.yaml", "lr: 0.1\n")
    write(repo / "dvx.yaml", f"""stages:
  train:
    cmd: >-
      trap 'sleep 1; echo checkpoint > ckpt.txt && touch {saved}; exit 143' TERM;
      echo $$ > {started}; sleep 60 & wait
    params: [lr]
    outs: [ckpt.txt]
""")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "baseline")
    must("exp", "run", "--queue", "-S", "lr=0.2", "-n", "killed", cwd=repo)
    runner = subprocess.Popen([sys.executable, "-m", "dvx", "queue", "start"], cwd=repo,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not started.exists() or not started.read_text():
            assert runner.poll() is None and time.monotonic() < deadline, "never started"
            time.sleep(0.05)
        stage = int(started.read_text())
        run = int(Path(f"/proc/{stage}/stat").read_text().rsplit(")", 1)[1].split()[1])
        while b"exp\0run" not in Path(f"/proc/{run}/cmdline").read_bytes():
            run = int(Path(f"/proc/{run}/stat").read_text().rsplit(")", 1)[1].split()[1])
        holder = Path(os.readlink(f"/proc/{stage}/cwd")) / ".dvx" / "tmp" / "lock.holder"
        while '"groups"' not in holder.read_text():  # the run noted its stage
            assert time.monotonic() < deadline, "the stage was never noted"
            time.sleep(0.05)
        os.kill(run, signal.SIGKILL)
        assert runner.wait(timeout=120) == 1
    finally:
        if runner.poll() is None:
            runner.kill()
    assert saved.exists()  # the worktree was still there for the checkpoint
    assert _queue_states(repo) == {"killed": "failed"}
    assert len(git(repo, "worktree", "list").splitlines()) == 1


def test_apply_writes_nothing_when_an_output_s_object_was_changed_through_a_link(repo):
    """Hardlink mode: the model an experiment made, edited through its link (root), wrote
    that experiment's object: the forced apply of another one, which discards the edit,
    moves the changed object aside, and the apply of that experiment is then refused before
    it writes anything, the workspace left as the previous apply made it."""
    must("config", "cache.type", "hardlink", cwd=repo)
    write(repo / "params.yaml", "lr: 0.1\n")
    _one_stage_baseline(repo, "train", "cp params.yaml model.txt", "lr", "model.txt")
    must("exp", "run", "-S", "lr=0.2", "-n", "e2", cwd=repo)
    must("exp", "run", "-S", "lr=0.3", "-n", "e3", cwd=repo)
    with open(repo / "model.txt", "a") as f:  # through the hard link, into e3's object
        f.write("my edit\n")
    must("exp", "apply", "e2", "--force", cwd=repo)
    refused = run_dvx("exp", "apply", "e3", cwd=repo)
    assert refused.code == 2, refused.output
    assert "Applying 'e3' needs data that is not in the cache: model.txt" \
        in " ".join(refused.stderr.split())
    assert (repo / "params.yaml").read_text() == "lr: 0.2\n"
    assert (repo / "model.txt").read_text() == "lr: 0.2\n"
    assert list((repo / ".dvx" / "cache" / "quarantine").iterdir())


# Two independent stages: `model` writes bytes of its own each run, as training does.
PREPARE_AND_TRAIN = f"""stages:
  prepare:
    cmd: >-
      {sys.executable} -c "import yaml; a = yaml.safe_load(open('params.yaml'))['a'];
      open('prepared.txt', 'w').write(str(a))"
    params: [a]
    outs: [prepared.txt]
  model:
    cmd: {sys.executable} -c "import os; open('model.bin', 'w').write(os.urandom(8).hex())"
    params: [b]
    outs: [model.bin]
"""


def test_a_queued_run_fetches_an_up_to_date_stage_s_output_no_stage_reads_and_never_runs_it_again(
        tmp_path):
    """A final model, which no stage reads, that the cache lacks and the remote holds: `queue
    start` fetches it, as it fetches every output dvx.lock records, so its up-to-date stage is
    not run again (a new model, other results) in the queued run."""
    team = Team(tmp_path)
    alice = team.founder()
    write(alice / "params.yaml", "a: 1\nb: 2\n")
    write(alice / "dvx.yaml", PREPARE_AND_TRAIN)
    must("repro", cwd=alice)
    share(alice, "pipeline")
    bob = team.clone("bob", pull=False)

    must("exp", "run", "--queue", "-S", "a=5", "-n", "q1", cwd=bob)
    started = run_dvx("queue", "start", cwd=bob)
    assert started.code == 0, started.output
    log = run_dvx("queue", "logs", "q1", cwd=bob).output
    assert "Running stage 'prepare'" in log and "Running stage 'model'" not in log, log
    ref = git(bob, "for-each-ref", "--format=%(refname)", "refs/exps/*/q1").strip()
    locks = [yaml.safe_load(git(bob, "show", f"{rev}:dvx.lock")) for rev in (ref, "HEAD")]
    assert locks[0]["stages"]["model"] == locks[1]["stages"]["model"]
    assert locks[0]["stages"]["prepare"] != locks[1]["stages"]["prepare"]


def test_a_queue_entry_names_each_path_its_stages_read_once(repo):
    """Two stages reading the same params file, and a frozen one reading data of its own:
    the queue entry's `reads` names the params file once, and not what only the frozen
    stage reads."""
    write(repo / "params.yaml", "a: 1\nb: 2\n")
    write(repo / "old.csv", "x\n")
    write(repo / "dvx.yaml", PREPARE_AND_TRAIN + "  frozen:\n    cmd: cat old.csv > f.txt\n"
                             "    deps: [old.csv]\n    outs: [f.txt]\n    frozen: true\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "pipeline")
    assert run_dvx("exp", "run", "--queue", "-S", "a=5", "-n", "q1", cwd=repo).code == 0
    entry = json.loads((repo / ".dvx" / "tmp" / "queue" / "q1.json").read_text())
    assert entry["reads"] == ["params.yaml"], entry


@pytest.mark.parametrize("queued", [[], ["--queue"]])
def test_set_into_a_stage_s_output_is_refused_naming_the_stage_and_writes_nothing(repo, queued):
    """gen.yaml is made by `prep` and read as params by `train`: a value -S set there would
    be made again (or restored) by `prep` before `train` read it, so the run is refused
    before anything is written, naming the stage whose own param to set; so is a file
    inside an output folder."""
    write(repo / "params.yaml", "seed: 1\n")
    write(repo / "prep.py", "open('gen.yaml', 'w').write('lr: 0.1\\n')\n")
    write(repo / "conf.py", "import os\nos.makedirs('conf', exist_ok=True)\n"
                            "open('conf/c.yaml', 'w').write('k: 1\\n')\n")
    run_and_commit(repo, f"""stages:
  prep:
    cmd: {sys.executable} prep.py
    params: [seed]
    outs: [{{gen.yaml: {{cache: false}}}}]
  conf:
    cmd: {sys.executable} conf.py
    outs: [conf]
  train:
    cmd: cat gen.yaml conf/c.yaml > m.txt
    params: [{{gen.yaml: [lr]}}, {{conf/c.yaml: [k]}}]
    outs: [m.txt]
""", "baseline")
    for sets, out, stage in (("gen.yaml:lr=0.7", "'gen.yaml', an output", "prep"),
                             ("conf/c.yaml:k=2", "'conf/c.yaml', inside 'conf', an output",
                              "conf")):
        refused = run_dvx("exp", "run", *queued, "-S", sets, "-n", "x", cwd=repo)
        assert refused.code == 2, refused.output
        said = " ".join(refused.stderr.split())
        assert f"-S would set params in {out} of stage '{stage}' in dvx.yaml" in said, said
        assert f"Change what stage '{stage}' reads to make it instead" in said, said
        assert "a run of that stage (this one, or a later one) makes it again" in said, said
        assert "Running stage" not in refused.output
        assert (repo / "gen.yaml").read_text() == "lr: 0.1\n"
        assert (repo / "conf" / "c.yaml").read_text() == "k: 1\n"
        assert git(repo, "status", "--porcelain") == ""
        assert git(repo, "for-each-ref", "refs/exps") == ""


def test_set_into_a_frozen_stage_s_output_in_other_letter_case_is_refused_saying_why(repo):
    """gen.yaml is the output of a frozen stage without params, and the workspace ignores
    letter case: -S into GEN.yaml is refused naming the stage as frozen (no run makes it
    again, but the experiment would record the value as its result), never offering a param
    of it to set; nothing is written."""
    write(repo / "seed.txt", "lr: 0.1\n")
    write(repo / "dvx.yaml", "stages:\n  prep:\n    cmd: cp seed.txt gen.yaml\n"
                             "    outs: [{gen.yaml: {cache: false}}]\n")
    must("repro", cwd=repo)
    write(repo / "dvx.yaml", "stages:\n  prep:\n    cmd: cp seed.txt gen.yaml\n"
                             "    outs: [{gen.yaml: {cache: false}}]\n    frozen: true\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "baseline")
    git(repo, "config", "core.ignorecase", "true")
    refused = run_dvx("exp", "run", "-S", "GEN.yaml:lr=0.7", cwd=repo)
    said = " ".join(refused.stderr.split())
    assert refused.code == 2, refused.output
    assert "an output of the frozen stage 'prep' in dvx.yaml" in said, said
    assert "makes it again, or restores" not in said and "its params:" not in said, said
    assert "Change what stage 'prep' reads to make it instead" in said, said
    assert git(repo, "status", "--porcelain") == ""


@pytest.mark.parametrize("queued", [[], ["--queue"]])
def test_set_into_a_file_the_run_s_params_make_a_stage_s_output_is_refused_and_writes_nothing(
        repo, queued):
    """prep writes `${out}`, a param of paths.yaml (read through `vars`): a run whose -S
    moves that output onto a params file it sets (hp.yaml, new and not in Git yet, or
    paths.yaml itself) would have prep make that file again, as the run resolves dvx.yaml
    with the params set: the value set lost. So it is refused, naming the stage, before
    anything is written."""
    write(repo / "paths.yaml", "out: made.yaml\n")
    write(repo / "hp.yaml", "lr: 0.1\n")
    write(repo / "dvx.yaml", """vars: [paths.yaml]
stages:
  prep:
    cmd: echo made > ${out}
    outs:
      - ${out}
  train:
    cmd: cat hp.yaml > m.txt
    params: [{hp.yaml: [lr]}]
    outs: [m.txt]
""")
    must("repro", cwd=repo)
    git(repo, "add", "-A")
    git(repo, "rm", "-q", "--cached", "hp.yaml")
    git(repo, "commit", "-qm", "baseline")
    for sets, file in ((("paths.yaml:out=hp.yaml", "hp.yaml:lr=0.7"), "hp.yaml"),
                       (("paths.yaml:out=paths.yaml",), "paths.yaml")):
        refused = run_dvx("exp", "run", *queued, *(f"-S{s}" for s in sets), cwd=repo)
        assert refused.code == 2, refused.output
        said = " ".join(refused.stderr.split())
        assert f"-S would set params in '{file}', which the params -S sets make (through " \
            "`${}`) an output of stage 'prep' in dvx.yaml" in said, said
        assert "Change what stage 'prep' reads to make it instead" in said, said
        assert "Running stage" not in refused.output
        assert (repo / "hp.yaml").read_text() == "lr: 0.1\n"
        assert (repo / "paths.yaml").read_text() == "out: made.yaml\n"
        assert git(repo, "status", "--porcelain").strip() == "?? hp.yaml"
        assert git(repo, "for-each-ref", "refs/exps") == ""


def test_set_into_a_tracked_params_file_not_checked_out_says_to_pull_or_check_it_out(tmp_path):
    """In a clone that has not pulled conf/hp.yaml (tracked with `dvx add`), -S says the file
    is not checked out yet and names `dvx pull` for it, or `dvx checkout` once the cache
    holds it (after `dvx fetch`), never that it does not exist; nothing is written."""
    team = Team(tmp_path)
    alice = team.founder()
    write(alice / "conf" / "hp.yaml", "lr: 0.1\n")
    must("add", "conf/hp.yaml", cwd=alice)
    _one_stage_baseline(alice, "train", "cat conf/hp.yaml > p.txt", "{conf/hp.yaml: [lr]}",
                        "p.txt")
    must("push", cwd=alice)
    git(alice, "push", "-q", "origin", "main")
    bob = team.clone("bob", pull=False)
    for fetched, command in ((False, "pull"), (True, "checkout")):
        if fetched:
            must("fetch", cwd=bob)
        for queued in ([], ["--queue"]):
            refused = run_dvx("exp", "run", *queued, "-S", "conf/hp.yaml:lr=0.5", cwd=bob)
            assert refused.code == 2, refused.output
            said = " ".join(refused.stderr.split())
            assert "'conf/hp.yaml', which dvx tracks (recorded in 'conf/hp.yaml.dvx') but " \
                "which is not checked out here yet" in said, said
            assert f"Run `dvx {command} conf/hp.yaml` to place it" in said, said
            assert "does not exist" not in said
            assert not (bob / "conf" / "hp.yaml").exists()
            assert git(bob, "status", "--porcelain") == ""
    must("checkout", "conf/hp.yaml", cwd=bob)
    must("exp", "run", "-S", "conf/hp.yaml:lr=0.5", "-n", "e", cwd=bob)
    assert _show(bob)["e"]["params"]["conf/hp.yaml"]["lr"] == 0.5


@pytest.mark.parametrize("command", [["exp", "run", "-S", "train.lr=0.02"], ["exp", "save"]])
def test_ctrl_c_once_the_experiment_s_ref_is_made_says_it_was_recorded(project, command):
    """A Ctrl-C landing once Git made the experiment's ref, before the command ends, says the
    experiment was recorded, by name and commit, with exit status 130: never that nothing was
    left half-written and a rerun finishes (which would refuse the name, or record it twice),
    and no stopped command is left for status to name."""
    recording = subprocess.Popen(
        [sys.executable, "-m", "dvx", *command, "-n", "late"], cwd=project,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL,
        env={**os.environ, "DVX_FAULT": "exp.ref_made", "DVX_FAULT_ACTION": "stop"})
    try:
        deadline = time.monotonic() + 120
        while Path(f"/proc/{recording.pid}/stat").read_text().rpartition(")")[2].split()[0] \
                != "T":
            assert recording.poll() is None and time.monotonic() < deadline, "never recorded"
            time.sleep(0.05)
        os.kill(recording.pid, signal.SIGINT)
        os.kill(recording.pid, signal.SIGCONT)
        _, stderr = recording.communicate(timeout=60)
    finally:
        if recording.poll() is None:
            recording.kill()
    assert recording.returncode == 130, stderr
    said = " ".join(stderr.split())
    commit = git(project, "rev-parse", f"refs/exps/{git(project, 'rev-parse', 'HEAD').strip()}"
                 "/late").strip()
    assert f"ERROR: Interrupted. The experiment 'late' ({commit[:7]}) was recorded" in said, said
    assert "Nothing was left half-written" not in said
    assert "stopped" not in run_dvx("status", cwd=project).stdout.lower()


def test_set_names_an_integer_yaml_key_as_params_diff_shows_it(repo):
    """`train: {1: one}` is listed as the param `train.1`; -S sets it by that name, the key
    staying the integer 1 (never a second key '1' beside it), and `+train.1` is refused as
    a param the file has, where `+train.2` adds one."""
    write(repo / "params.yaml", "train:\n  1: one\n  lr: 0.1\n")
    run_and_commit(repo, "stages:\n  s:\n    cmd: cat params.yaml > out.txt\n"
                   "    params: [train]\n    outs: [out.txt]\n", "base")
    assert "train.1" in must("params", "diff", "--all", cwd=repo)

    ran = run_dvx("exp", "run", "-S", "train.1=uno", cwd=repo)
    assert ran.code == 0, ran.output
    assert yaml.safe_load((repo / "params.yaml").read_text()) == \
        {"train": {1: "uno", "lr": 0.1}}
    assert (repo / "out.txt").read_text() == "train:\n  1: uno\n  lr: 0.1\n"

    again = run_dvx("exp", "run", "-S", "+train.1=x", cwd=repo)
    assert again.code == 2 and "has that param already" in again.stderr, again.output
    added = run_dvx("exp", "run", "-S", "+train.2=two", "-S", "train.1={a: 1}", cwd=repo)
    assert added.code == 0, added.output
    assert yaml.safe_load((repo / "params.yaml").read_text()) == \
        {"train": {1: {"a": 1}, "lr": 0.1, "2": "two"}}
