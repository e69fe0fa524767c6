"""params show/diff and metrics show/diff, over real commits: what a user reads in the tables
and what scripts get from --json and dvx.api."""

from __future__ import annotations

import base64
import csv
import io
import json
import os
import re
import shutil
import stat
import sys
from pathlib import Path

import pytest
from conftest import dvx_unprivileged, git, run_dvx_proc, write
from pipeline_kit import make_ml_repo, run_and_commit

from dvx import api
from tests.team import Team, edit, must, share


def commit(root: Path, message: str) -> str:
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message)
    return git(root, "rev-parse", "HEAD").strip()


def set_lr(root: Path, lr: float) -> None:
    params = root / "params.yaml"
    params.write_text(params.read_text().replace(
        next(line for line in params.read_text().splitlines() if "lr:" in line),
        f"  lr: {lr}"))


@pytest.fixture
def trained(repo: Path, dvx) -> dict[str, float]:
    """The ML pipeline trained three times with a different learning rate, one commit each,
    then a fourth run left uncommitted in the workspace; returns lr -> mse."""
    make_ml_repo(repo)
    mse = {}
    for lr in (0.1, 0.05, 0.02, 0.01):
        set_lr(repo, lr)
        result = dvx("repro", "-q")
        assert result.code == 0, result.output
        mse[lr] = json.loads((repo / "metrics.json").read_text())["mse"]
        if lr != 0.01:
            commit(repo, f"lr {lr}")
    assert len(set(mse.values())) == 4, "each learning rate gives its own mse"
    return mse


def test_metrics_show_all_commits_is_the_history_newest_first(trained, dvx):
    result = dvx("metrics", "show", "-A", "--json")
    assert result.code == 0, result.output
    doc = json.loads(result.stdout)
    labels = list(doc)
    assert labels[0] == "workspace" and len(labels) == 4
    history = [doc[label]["data"]["metrics.json"]["data"]["mse"] for label in labels]
    assert history == [trained[0.01], trained[0.02], trained[0.05], trained[0.1]]
    assert [doc[label]["message"] for label in labels[1:]] == ["lr 0.02", "lr 0.05", "lr 0.1"]

    table = dvx("metrics", "show", "-A").stdout.splitlines()
    assert table[0].split() == ["Revision", "Path", "mse"]
    assert table[1].split()[:2] == ["workspace", "metrics.json"]
    assert [float(line.split()[2]) for line in table[1:]] == \
        [round(v, 5) for v in history]


def test_all_commits_leaves_out_a_queued_run_s_snapshot_and_a_stash_entry(trained, repo, dvx):
    """Workspaces put aside, not commits of the history: a queued run's snapshot holds the
    metrics of the workspace it was queued from, which no run made."""
    must("exp", "run", "--queue", "-S", "train.lr=0.5", "-n", "queued", cwd=repo)
    git(repo, "stash", "-q")  # the uncommitted run of lr 0.01
    kept = git(repo, "for-each-ref", "--format=%(refname)", "refs/exps-queue", "refs/stash")
    assert kept.split() == ["refs/exps-queue/queued", "refs/stash"]
    for kind in ("metrics", "params"):
        result = dvx(kind, "show", "-A", "--json")
        assert result.code == 0, result.output
        doc = json.loads(result.stdout)
        assert [doc[label]["message"] for label in list(doc)[1:]] == \
            ["lr 0.02", "lr 0.05", "lr 0.1"], kind


def test_params_diff_names_the_changed_param_with_its_change(trained, dvx):
    result = dvx("params", "diff", "HEAD~2", "HEAD")
    assert result.code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["Path", "Param", "HEAD~2", "HEAD", "Change", "Change", "%"]
    assert lines[1].split() == ["params.yaml", "train.lr", "0.1", "0.02", "-0.08", "-80.0%"]
    assert len(lines) == 2, "unchanged params are left out without --all"

    every = dvx("params", "diff", "HEAD~2", "HEAD", "--all", "--json")
    doc = json.loads(every.stdout)["params.yaml"]
    assert set(doc) == {"prepare.split", "featurize.max_features", "train.lr", "train.epochs"}
    assert doc["train.epochs"] == {"old": 5, "new": 5, "diff": 0, "rel": 0.0}


def test_metrics_diff_defaults_to_head_against_the_workspace(trained, dvx):
    result = dvx("metrics", "diff", "--json")
    assert result.code == 0, result.output
    change = json.loads(result.stdout)["metrics.json"]["mse"]
    assert change["old"] == trained[0.02] and change["new"] == trained[0.01]
    assert change["diff"] == pytest.approx(trained[0.01] - trained[0.02])
    assert change["rel"] == pytest.approx((trained[0.01] - trained[0.02]) / trained[0.02])

    text = dvx("metrics", "diff", "--precision", "3").stdout.splitlines()
    assert text[0].split()[:4] == ["Path", "Metric", "HEAD", "workspace"]
    assert text[1].split()[:4] == ["metrics.json", "mse", str(round(trained[0.02], 3)),
                                   str(round(trained[0.01], 3))]
    assert text[1].split()[-1].endswith("%")


def test_reading_revisions_never_touches_the_workspace(trained, repo, dvx):
    before = {p: (repo / p).read_bytes() for p in ("params.yaml", "metrics.json")}
    status = git(repo, "status", "--porcelain")
    assert dvx("metrics", "show", "-A").code == 0
    assert dvx("params", "diff", "HEAD~2").code == 0
    assert {p: (repo / p).read_bytes() for p in before} == before
    assert git(repo, "status", "--porcelain") == status


def test_markdown_and_csv_tables(trained, dvx):
    md = dvx("metrics", "show", "--rev", "HEAD", "--md").stdout.splitlines()
    assert md[0] == "| Revision | Path | mse |"
    assert md[1] == "|---|---|---|"
    assert md[2].startswith("| workspace | metrics.json | ")
    assert md[3].startswith("| HEAD | metrics.json | ")
    rows = list(csv.reader(io.StringIO(dvx("params", "show", "-n", "2", "--csv").stdout)))
    assert rows[0] == ["Revision", "Path", "prepare.split", "featurize.max_features",
                       "train.lr", "train.epochs"]
    assert [r[4] for r in rows[1:]] == ["0.01", "0.02", "0.05"]



def test_csv_and_markdown_with_nothing_to_show_are_a_header_alone(trained, repo, dvx):
    commit(repo, "lr 0.01")
    for kind, name in (("params", "Param"), ("metrics", "Metric")):
        empty = dvx(kind, "diff", "--csv")
        assert empty.code == 0 and list(csv.reader(io.StringIO(empty.stdout))) == \
            [["Path", name, "HEAD", "workspace", "Change", "Change %"]], empty.output
        assert f"No {kind} changed between HEAD and workspace." in empty.stderr
        assert dvx(kind, "diff", "--md").stdout.splitlines() == [
            f"| Path | {name} | HEAD | workspace | Change | Change % |", "|---" * 6 + "|"]
        assert dvx(kind, "diff").stdout == f"No {kind} changed between HEAD and workspace.\n"
    (repo / "dvx.yaml").unlink()
    (repo / "params.yaml").unlink()
    nothing = dvx("metrics", "show", "--csv")
    assert nothing.code == 0 and nothing.stdout == "Path\n" and "No metrics files" in nothing.stderr
    assert dvx("params", "show", "--md").stdout == "| Path |\n|---|\n"

def test_the_api_returns_what_json_prints(trained, repo, dvx, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the repo argument, not the current directory, is used
    doc = dvx_show_json(dvx, repo, "metrics", "--rev", "HEAD", "--rev", "HEAD~1",
                        "--no-workspace")
    assert api.metrics_show(repo=str(repo), revs=["HEAD", "HEAD~1"]) == doc
    params = api.params_show(repo=str(repo))
    assert params == dvx_show_json(dvx, repo, "params")
    assert params["workspace"]["data"]["params.yaml"]["data"]["train"]["lr"] == 0.01
    assert {"metrics_show", "params_show"} <= set(api.__all__)


def dvx_show_json(run, repo: Path, kind: str, *args: str) -> dict:
    result = run(kind, "show", "--json", *args, cwd=repo)
    assert result.code == 0, result.output
    return json.loads(result.stdout)


# -- files in many formats, and files that cannot be read ------------------------------------

PIPELINE = """\
stages:
  evaluate:
    cmd: "true"
    params:
    - train.lr
    - config/model.toml: [model.depth]
    metrics:
    - metrics.json
    - eval/scores.yaml
    - eval/extra.toml
"""


@pytest.fixture
def formats(repo: Path) -> Path:
    write(repo / "params.yaml", "train:\n  lr: 0.1\n  epochs: 3\nseed: 7\n")
    write(repo / "config" / "model.toml", "[model]\ndepth = 4\nwidth = 16\n")
    write(repo / "dvx.yaml", PIPELINE)
    write(repo / "metrics.json", json.dumps({"loss": 0.5, "acc": {"top1": 0.8, "top5": 0.95}}))
    write(repo / "eval" / "scores.yaml", "f1: 0.7\nper_class:\n  cat: 0.6\n  dog: 0.8\n")
    write(repo / "eval" / "extra.toml", "auc = 0.9\n")
    commit(repo, "v1")
    return repo


def test_nested_keys_of_yaml_json_and_toml_are_flattened_with_dots(formats, dvx):
    doc = dvx_show_json(dvx, formats, "metrics")["workspace"]["data"]
    assert doc["metrics.json"]["data"] == {"loss": 0.5, "acc": {"top1": 0.8, "top5": 0.95}}
    header = dvx("metrics", "show").stdout.splitlines()[0].split()
    assert header == ["Path", "loss", "acc.top1", "acc.top5", "f1", "per_class.cat",
                      "per_class.dog", "auc"]
    params = dvx("params", "show").stdout
    assert "config/model.toml" in params and "model.width" in params


def test_a_missing_or_malformed_file_is_an_error_in_its_row(formats, dvx):
    (formats / "eval" / "scores.yaml").unlink()
    write(formats / "metrics.json", '{"loss": 0.4,')
    result = dvx("metrics", "show")
    assert result.code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split()[-1] == "Error"
    rows = {line.split()[0]: line for line in lines[1:]}
    assert "not valid JSON" in rows["metrics.json"]
    assert "no such file" in rows["eval/scores.yaml"]
    assert rows["eval/extra.toml"].split()[-1] == "0.9", "the readable file is still shown"
    doc = dvx_show_json(dvx, formats, "metrics")["workspace"]["data"]
    assert doc["metrics.json"]["error"]["type"] == "invalid"
    assert doc["eval/scores.yaml"]["error"]["type"] == "missing"

    diff = dvx("metrics", "diff")
    assert diff.code == 0, diff.output
    assert "metrics.json" in diff.stdout and "workspace: " in diff.stdout
    assert "f1" in diff.stdout, "a removed file's metrics are shown as removed"


def test_a_target_no_revision_has_nor_declares_is_refused_as_plots_show_refuses_one(formats,
                                                                                   dvx):
    """A typo must not pass for a result ("No params changed", a row of errors, exit 0): in
    every command, as `plots show` refuses a plot no dvx.yaml declares. A target missing in
    some of the revisions only, or declared where missing, keeps its error rows."""
    for args in (("params", "diff", "--targets", "nope.yaml"),
                 ("params", "diff", "HEAD", "HEAD", "--targets", "nope.yaml"),
                 ("metrics", "diff", "--targets", "nope.json"),
                 ("params", "show", "nope.yaml", "params.yaml"),
                 ("metrics", "show", "nope.json", "-A"),
                 ("plots", "show", "nope.csv")):
        refused = dvx(*args)
        assert refused.code == 2 and refused.stderr.startswith("ERROR: 'nope."), refused.output
        assert refused.stdout == ""
    refused = dvx("params", "diff", "--targets", "nope.yaml")
    assert "'nope.yaml' is not in HEAD or the workspace, and no dvx.yaml there declares " \
        "it as a params file" in " ".join(refused.stderr.split())
    write(formats / "new.json", '{"x": 1}')  # only in the workspace
    some = dvx("metrics", "show", "new.json", "--rev", "HEAD")
    assert some.code == 0 and "no such file in HEAD" in some.stdout, some.output
    assert dvx("metrics", "diff", "--targets", "new.json").code == 0
    (formats / "eval" / "scores.yaml").unlink()  # declared: a stage has yet to write it
    missing = dvx("metrics", "show", "eval/scores.yaml")
    assert missing.code == 0 and "no such file in the workspace" in missing.stdout


def test_a_half_edited_params_yaml_is_an_error_row_unless_dvx_yaml_needs_it(repo, dvx):
    write(repo / "m.json", '{"acc": 0.9}')
    write(repo / "dvx.yaml", "stages:\n  ev:\n    cmd: cp m.json out.json\n"
                             "    deps: [m.json]\n    metrics: [out.json]\n")
    assert dvx("repro").code == 0
    write(repo / "params.yaml", "lr: [0.1\n")
    metrics = dvx("metrics", "show")
    assert metrics.code == 0 and "0.9" in metrics.stdout, metrics.output
    params = dvx("params", "show")
    assert params.code == 0 and "not valid YAML" in params.stdout, params.output
    write(repo / "dvx.yaml", (repo / "dvx.yaml").read_text().replace("cp m.json",
                                                                      "echo ${lr}; cp m.json"))
    needed = dvx("metrics", "show")
    assert needed.code != 0 and "params.yaml" in needed.stderr


def test_params_diff_deps_keeps_only_what_stages_depend_on(formats, dvx):
    write(formats / "params.yaml", "train:\n  lr: 0.2\n  epochs: 4\nseed: 8\n")
    write(formats / "config" / "model.toml", "[model]\ndepth = 5\nwidth = 32\n")
    changed = dvx("params", "diff", "--json").stdout
    assert set(json.loads(changed)["params.yaml"]) == {"train.lr", "train.epochs", "seed"}
    deps = json.loads(dvx("params", "diff", "--deps", "--json").stdout)
    assert deps == {"params.yaml": {"train.lr": {"old": 0.1, "new": 0.2, "diff": 0.1,
                                                 "rel": pytest.approx(1.0)}},
                    "config/model.toml": {"model.depth": {"old": 4, "new": 5, "diff": 1,
                                                          "rel": 0.25}}}


@pytest.mark.parametrize("params", ["a:\n  b: 2\na.b: 9\n", "a.b: 9\na:\n  b: 2\n"])
def test_a_dotted_key_beside_the_nested_one_is_left_out_by_name_as_the_pipeline_does(
        repo, dvx, params):
    write(repo / "dvx.yaml", "stages:\n  s:\n    cmd: 'true'\n    params: [a.b]\n")
    write(repo / "params.yaml", "a:\n  b: 2\n")
    assert dvx("repro", "-q").code == 0
    commit(repo, "v1")
    write(repo / "params.yaml", params)  # in either order, a.b names the nested 2
    assert dvx("status").stdout == "Data, pointers and pipelines are up to date.\n"
    warning = ("WARNING: params.yaml at workspace: two values are named 'a.b' ('a' > 'b' and "
               "'a.b'): dvx reads 'a' > 'b' by that name")
    diff = dvx("params", "diff", "--json")
    assert (diff.code, json.loads(diff.stdout)) == (0, {})
    assert warning in diff.stderr and "leaves 'a.b' out" in diff.stderr
    shown = dvx("params", "show")
    assert shown.stdout.splitlines() == ["Path         a.b", "params.yaml  2"]
    assert warning in shown.stderr
    quiet = dvx("params", "diff", "--all", "HEAD", "HEAD")  # no such file: no warning
    assert quiet.stderr == "" and "2     2" in quiet.stdout


def test_a_dotted_key_alone_is_its_name_for_the_pipeline_and_the_tables(repo, dvx):
    write(repo / "dvx.yaml", "stages:\n  s:\n    cmd: 'true'\n    params: [opt.lr]\n"
                             "  ev:\n    cmd: 'true'\n    metrics: [m.json]\n")
    write(repo / "params.yaml", "opt.lr: 0.1\nopt:\n  momentum: 0.9\n")
    write(repo / "m.json", '{"val.loss": 0.3, "val": {"acc": 0.8}}')
    result = dvx("repro", "-q", "s")
    assert result.code == 0, result.output
    assert "opt.lr: 0.1" in (repo / "dvx.lock").read_text()
    commit(repo, "v1")
    write(repo / "params.yaml", "opt.lr: 0.2\nopt:\n  momentum: 0.9\n")
    assert "changed params: opt.lr" in dvx("status").stdout
    diff = json.loads(dvx("params", "diff", "--json").stdout)
    assert list(diff["params.yaml"]) == ["opt.lr"]
    metrics = dvx("metrics", "show", "--csv")
    assert metrics.stdout.splitlines() == ["Path,val.loss,val.acc", "m.json,0.3,0.8"]
    assert metrics.stderr == ""


def test_a_metric_two_keys_name_is_shown_once_with_a_warning_naming_both(repo, dvx):
    write(repo / "dvx.yaml", "stages:\n  ev:\n    cmd: 'true'\n    metrics: [m.json]\n")
    write(repo / "m.json", '{"acc.top1": 0.1, "acc": {"top1": 0.8, "top5": 0.9}}')
    commit(repo, "v1")
    write(repo / "m.json", '{"acc.top1": 0.2, "acc": {"top1": 0.7, "top5": 0.9}}')
    shown = dvx("metrics", "show", "-a", "--csv")
    assert shown.stdout.splitlines() == ["Revision,Path,acc.top1,acc.top5",
                                         "workspace,m.json,0.7,0.9", "main,m.json,0.8,0.9"]
    assert shown.stderr.count("WARNING: ") == 1  # one line for both revisions
    assert ("WARNING: m.json at workspace, main: two values are named 'acc.top1' ('acc' > "
            "'top1' and 'acc.top1')") in shown.stderr
    diff = dvx("metrics", "diff", "--json")
    assert json.loads(diff.stdout)["m.json"]["acc.top1"]["new"] == 0.7
    assert "m.json at HEAD, workspace: two values are named 'acc.top1'" in diff.stderr


def test_each_revision_is_read_with_its_own_dvx_yaml(formats, dvx):
    os.rename(formats / "metrics.json", formats / "eval" / "main.json")
    write(formats / "dvx.yaml", PIPELINE.replace("- metrics.json", "- eval/main.json"))
    commit(formats, "move the metrics")
    doc = dvx_show_json(dvx, formats, "metrics", "-A")
    old, new = (doc[label]["data"] for label in list(doc)[1:])
    assert "eval/main.json" in old and "metrics.json" not in old
    assert "metrics.json" in new and "eval/main.json" not in new
    assert new["metrics.json"]["data"]["loss"] == 0.5


def test_a_broken_dvx_yaml_in_history_is_one_error_row(formats, dvx):
    write(formats / "dvx.yaml", "stages: [oops\n")
    commit(formats, "broken")
    write(formats / "dvx.yaml", PIPELINE)
    commit(formats, "fixed")
    result = dvx("metrics", "show", "-A")
    assert result.code == 0, result.output
    broken = [line for line in result.stdout.splitlines() if "not valid YAML" in line]
    assert len(broken) == 1 and broken[0].split()[1] == "dvx.yaml"

    write(formats / "dvx.yaml", "stages: [oops\n")
    now = dvx("metrics", "show")
    assert now.code == 1 and now.stderr.startswith("ERROR: ") and "Traceback" not in now.output


def test_a_commit_whose_dvx_yaml_cannot_be_read_is_diffed_by_its_files_never_as_empty(
        repo, dvx):
    """Which files a commit with a broken dvx.yaml declares is not known: its params.yaml
    and the files the other side declares are read there all the same, so a file alike on
    both sides is no change, and one it lacks is an error row, never shown as removed."""
    write(repo / "dvx.yaml", "stages:\n  s:\n    cmd: echo\n    params: [lr]\n"
                             "    metrics: [m.json, gone.json]\n")
    write(repo / "params.yaml", "lr: 1\n")
    write(repo / "m.json", '{"v": 1}')
    write(repo / "gone.json", '{"w": 1}')
    commit(repo, "one")
    write(repo / "dvx.yaml", (repo / "dvx.yaml").read_text() + "  bad: [\n")
    (repo / "gone.json").unlink()
    commit(repo, "a dvx.yaml that does not parse")
    params = dvx("params", "diff", "HEAD~1", "HEAD", "--json")
    assert params.code == 0 and json.loads(params.stdout) == {}, params.output
    shown = dvx_show_json(dvx, repo, "params", "--rev", "HEAD", "--no-workspace")["HEAD"]
    assert shown["data"] == {"params.yaml": {"data": {"lr": 1}}} and "error" in shown
    metrics = dvx("metrics", "diff", "HEAD~1", "HEAD", "--json")
    assert metrics.code == 0 and json.loads(metrics.stdout) == {}, metrics.output
    assert "WARNING: gone.json at HEAD: no such file in HEAD, and its dvx.yaml, which says " \
        "which metrics files there are, cannot be read" in metrics.stderr
    table = dvx("metrics", "diff", "HEAD~1", "HEAD")
    assert "m.json" not in table.stdout and "gone.json" in table.stdout, table.output


def test_bad_revisions_and_flags_are_one_error_paragraph(formats, dvx):
    result = dvx("metrics", "diff", "nope")
    assert result.code == 2
    assert result.stderr.startswith("ERROR: Unknown revision 'nope'.")
    assert "Traceback" not in result.output
    assert dvx("metrics", "show", "--no-workspace").code == 2
    assert dvx("params", "diff", "--precision", "-1").code == 2


def test_a_range_an_exclusion_or_a_blob_is_named_so_by_params_metrics_and_plots_diff(formats,
                                                                                     dvx):
    """Text naming no one commit, nor any experiment, is refused as `gc --rev` refuses it,
    not called an unknown revision."""
    for rev, why in (("HEAD..HEAD", "it names a range or an exclusion of commits"),
                     ("^HEAD", "it names a range or an exclusion of commits"),
                     ("HEAD:params.yaml", "it names a Git blob, not a commit")):
        for command in ("params", "metrics", "plots"):
            result = dvx(command, "diff", rev)
            assert result.code == 2, result.output
            assert result.stderr.startswith(f"ERROR: Invalid revision '{rev}': {why}"), \
                result.output


def test_an_experiment_name_is_a_revision_to_params_metrics_and_plots(repo, dvx, tmp_path):
    write(repo / "train.py", "import json, yaml\nlr = yaml.safe_load(open('params.yaml'))['lr']\n"
                             "json.dump({'acc': 1 - lr}, open('metrics.json', 'w'))\n"
                             "open('loss.csv', 'w').write(f'step,loss\\n0,{lr}\\n')\n")
    write(repo / "params.yaml", "lr: 0.1\n")
    run_and_commit(repo, f"stages:\n  train:\n    cmd: {sys.executable} train.py\n"
                         "    deps: [train.py]\n    params: [lr]\n"
                         "    metrics: [metrics.json]\n    plots: [loss.csv]\n", "baseline")
    assert dvx("exp", "run", "-q", "-S", "lr=0.5", "-n", "lr5").code == 0
    metrics = dvx("metrics", "diff", "HEAD", "lr5", "--json")
    assert metrics.code == 0, metrics.output
    assert json.loads(metrics.stdout)["metrics.json"]["acc"]["new"] == 0.5
    params = json.loads(dvx("params", "diff", "HEAD", "lr5", "--json").stdout)
    assert params["params.yaml"]["lr"] == {"old": 0.1, "new": 0.5, "diff": 0.4,
                                           "rel": pytest.approx(4.0)}
    plots = dvx("plots", "diff", "HEAD", "lr5", "--json", "-o", str(tmp_path / "out"))
    assert plots.code == 0, plots.output
    assert "lr5" in (tmp_path / "out" / "index.html").read_text()
    shown = json.loads(dvx("metrics", "show", "--rev", "lr5", "--json").stdout)
    assert shown["lr5"]["data"]["metrics.json"]["data"]["acc"] == 0.5
    # The same name of two other baselines: which one is meant cannot be guessed.
    commit(repo, "lr 0.5")
    assert dvx("exp", "run", "-q", "-S", "lr=0.7", "-n", "lr5").code == 0
    commit(repo, "lr 0.7")
    refs = git(repo, "for-each-ref", "--format=%(refname)", "refs/exps").split()
    ambiguous = dvx("metrics", "diff", "HEAD", "lr5")
    assert ambiguous.code == 2 and "Several experiments are called 'lr5'" in ambiguous.stderr
    assert len(refs) == 2 and all(ref in ambiguous.stderr for ref in refs)
    by_ref = dvx("params", "diff", "HEAD", refs[0], "--json")
    assert by_ref.code == 0, by_ref.output


def test_a_symlink_leading_outside_is_not_read(formats, tmp_path, dvx):
    secret = write(tmp_path / "secret.json", '{"password": 1234}')
    (formats / "metrics.json").unlink()
    os.symlink(secret, formats / "metrics.json")
    result = dvx("metrics", "show", "--json")
    doc = json.loads(result.stdout)["workspace"]["data"]["metrics.json"]
    assert "outside the repository" in doc["error"]["msg"]
    assert "password" not in result.output  # the path may hold 1234


def test_a_symlink_into_git_or_dvx_is_not_read(formats, tmp_path, dvx):
    """A committed link to `.dvx/config.local` (the clone's credentials) or into `.git` is no
    file of the repository: metrics, params and plots refuse it as they refuse a link leading
    outside, and no page, table or JSON shows what it holds (docs/guarantees.md)."""
    write(formats / ".dvx" / "config.local",
          "['remote \"s\"']\nsecret_access_key = VERY-SECRET-KEY\n")
    for rel, target in (("metrics.json", ".dvx/config.local"),
                        ("eval/scores.yaml", "../.git/config"),
                        ("config/model.toml", "../.dvx/config.local"),
                        ("logs/loss.svg", "../.dvx/config.local")):
        (formats / rel).unlink(missing_ok=True)
        (formats / rel).parent.mkdir(exist_ok=True)
        os.symlink(target, formats / rel)
    write(formats / "dvx.yaml", PIPELINE + "    plots:\n    - logs/loss.svg: {cache: false}\n")
    metrics = dvx("metrics", "show", "--json")
    errors = {rel: doc["error"]["msg"] for rel, doc in
              json.loads(metrics.stdout)["workspace"]["data"].items() if "error" in doc}
    assert "'.dvx', which holds Git's or dvx's own files" in errors["metrics.json"], errors
    assert "'.git', which holds Git's or dvx's own files" in errors["eval/scores.yaml"], errors
    params = dvx("params", "show")
    assert "config/model.toml" in params.output and "refusing to read it" in params.output
    plots = dvx("plots", "show", "-o", str(tmp_path / "out"))
    assert "'logs/loss.svg' is a symbolic link to a file in '.dvx'" in plots.stderr, \
        plots.output
    page = (tmp_path / "out" / "index.html").read_text()
    secret = (formats / ".dvx" / "config.local").read_bytes()
    assert base64.b64encode(secret).decode() not in page and "VERY-SECRET" not in page
    for shown in (metrics, params, plots):
        # .git/config's own line, not the [core] a config warning may name
        assert "VERY-SECRET" not in shown.output and "repositoryformatversion" not in shown.output


@pytest.mark.parametrize("elsewhere", [False, True], ids=["cache-in-dvx", "cache-dir-elsewhere"])
def test_outputs_placed_as_links_into_the_cache_are_read(repo, dvx, tmp_path, elsewhere):
    """With cache.type symlink, a cache: true metrics, params or plots output is a link to
    its cache object: data dvx placed, read as any output is (not refused as a link into
    `.dvx` or outside the repository), wherever the cache is."""
    if elsewhere:
        assert dvx("config", "cache.dir", str(tmp_path / "cache")).code == 0
    assert dvx("config", "cache.type", "symlink").code == 0
    write(repo / "gen.py", "import json\n"
          "open('p.csv', 'w').write('x,y\\n1,2\\n2,3\\n')\n"
          "json.dump({'acc': 0.9}, open('m.json', 'w'))\n"
          "open('hp.yaml', 'w').write('lr: 0.1\\n')\n")
    write(repo / "dvx.yaml", f"""\
stages:
  train:
    cmd: {sys.executable} gen.py
    deps: [gen.py]
    outs: [hp.yaml]
    metrics: [{{m.json: {{cache: true}}}}]
    plots: [{{p.csv: {{cache: true}}}}]
""" + ("" if elsewhere else """\
  use:
    cmd: echo used > used.txt
    params: [{hp.yaml: [lr]}]
    outs: [used.txt]
"""))
    ran = dvx("repro")
    assert ran.code == 0, ran.output
    assert os.path.islink(repo / "m.json") and os.path.islink(repo / "hp.yaml")
    shown = json.loads(dvx("metrics", "show", "--json").stdout)["workspace"]["data"]
    assert shown["m.json"]["data"] == {"acc": 0.9}
    plots = json.loads(dvx("plots", "show", "--json", "-o", str(tmp_path / "out")).stdout)
    assert [p["errors"] for p in plots["plots"]] == [[]]
    if not elsewhere:  # a params file read through a link to a cache elsewhere: refused
        params = dvx("params", "show")
        assert "0.1" in params.output and "refusing" not in params.output


def test_a_symlink_inside_the_repository_is_followed_in_every_revision(formats, dvx):
    (formats / "metrics.json").unlink()
    write(formats / "results" / "m.json", '{"loss": 0.5}')
    os.symlink("m.json", formats / "results" / "latest.json")
    os.symlink("results/latest.json", formats / "metrics.json")  # a link to a link
    first = commit(formats, "linked")
    write(formats / "results" / "m.json", '{"loss": 0.25}')
    second = commit(formats, "better")
    shown = dvx_show_json(dvx, formats, "metrics", "--rev", first, "--rev", second)
    assert [shown[rev]["data"]["metrics.json"]["data"] for rev in (first, second)] == \
        [{"loss": 0.5}, {"loss": 0.25}]
    diff = json.loads(dvx("metrics", "diff", first, second, "--json").stdout)
    assert (diff["metrics.json"]["loss"]["old"], diff["metrics.json"]["loss"]["new"]) == \
        (0.5, 0.25)

    for target, error in (("../secret.json", "outside the repository"),
                          (".git/config", "no file of the repository"),
                          (".dvx/config", "no file of the repository")):
        (formats / "metrics.json").unlink()
        os.symlink(target, formats / "metrics.json")
        rev = commit(formats, f"a link to {target}")
        shown = dvx_show_json(dvx, formats, "metrics", "--rev", rev)
        assert error in shown[rev]["data"]["metrics.json"]["error"]["msg"]


def test_plots_never_write_into_git_or_the_cache_through_a_symlink(repo, dvx):
    # refused before anything is drawn: no vl-convert needed
    write(repo / "dvx.yaml", "stages:\n  s:\n    cmd: 'true'\n    plots: [loss.csv]\n")
    write(repo / "loss.csv", "step,loss\n0,1\n1,0.5\n")
    commit(repo, "plots")
    os.symlink(".git", repo / "gitlink")
    os.symlink(os.path.join(".dvx", "cache"), repo / "cachelink")
    before = sorted(os.listdir(repo / ".git")), sorted(os.listdir(repo / ".dvx" / "cache"))
    for out, owner in ((".git/report", "'.git'"), ("gitlink", "'.git'"),
                       ("cachelink", "'.dvx'")):
        for command in (("plots", "show"), ("plots", "diff", "HEAD")):
            result = dvx(*command, "-o", out, "--force")
            assert result.code == 2 and f"inside {owner}" in result.stderr, result.output
    assert (sorted(os.listdir(repo / ".git")), sorted(os.listdir(repo / ".dvx" / "cache"))) \
        == before


def test_plots_never_write_out_of_the_repository_through_a_link_it_holds(repo, dvx, tmp_path):
    """A committed `dvx_plots -> ../other/dvx_plots` (the default folder) would have the run
    write and delete in another project's plots folder: refused, as any -o inside the
    repository leading out through a link; a folder outside named as such is written."""
    write(repo / "dvx.yaml", "stages:\n  s:\n    cmd: 'true'\n    plots: [loss.csv]\n")
    write(repo / "loss.csv", "step,loss\n0,1\n1,0.5\n")
    other = tmp_path / "other" / "dvx_plots"
    write(other / "mine.csv.svg", "<svg/>")
    write(other / "index.html", "the other project's page")
    os.symlink(os.path.join("..", "other", "dvx_plots"), repo / "dvx_plots")
    os.symlink(os.path.join("..", "other"), repo / "otherlink")
    commit(repo, "plots")
    before = {p.name: p.read_bytes() for p in other.iterdir()}
    for out in (None, "dvx_plots", "otherlink/dvx_plots", "otherlink/new"):
        for command in (("plots", "show"), ("plots", "diff", "HEAD")):
            result = dvx(*command, *(("-o", out) if out else ()), "--force")
            assert result.code == 2, result.output
            assert "leads outside the repository" in result.stderr, result.output
            assert "Traceback" not in result.output
    assert {p.name: p.read_bytes() for p in other.iterdir()} == before
    assert not (tmp_path / "other" / "new").exists()
    named = tmp_path / "report"
    assert dvx("plots", "show", "-o", str(named)).code == 0
    assert (named / "index.html").exists()


def test_plots_refuse_a_link_leading_out_also_when_dir_is_spelt_through_a_link_to_the_repo(
        repo, dvx, tmp_path):
    """A repository reached through a linked parent folder (every /tmp path on macOS): an
    absolute -o through that spelling, or through a link to a folder of the repository, is
    inside the repository as typed, and its link leading out is refused all the same."""
    write(repo / "dvx.yaml", "stages:\n  s:\n    cmd: 'true'\n    plots: [loss.csv]\n")
    write(repo / "loss.csv", "step,loss\n0,1\n1,0.5\n")
    (tmp_path / "other").mkdir()
    os.makedirs(repo / "sub")
    os.symlink(os.path.join("..", "other"), repo / "dvx_plots")
    os.symlink(os.path.join("..", "..", "other"), repo / "sub" / "out")
    commit(repo, "plots")
    spelt = tmp_path / "alias"
    os.symlink(repo, spelt)
    os.symlink(repo / "sub", tmp_path / "subalias")
    for out, link in ((spelt / "dvx_plots", "dvx_plots"),
                      (spelt / "dvx_plots" / "new", "dvx_plots"),
                      (spelt / "sub" / "out", "sub/out"),
                      (tmp_path / "subalias" / "out", "sub/out")):
        for command in (("plots", "show"), ("plots", "diff", "HEAD")):
            result = dvx(*command, "-o", str(out), "--force", cwd=spelt)
            assert result.code == 2, result.output
            assert f"through a symbolic link in it ('{link}')" in result.stderr, result.output
    assert os.listdir(tmp_path / "other") == []


def test_a_multi_line_value_stays_on_its_row_of_a_text_table(formats, dvx):
    write(formats / "params.yaml", "note: |\n  line1\n  line2\nlr: 1\n")
    commit(formats, "a note")
    write(formats / "params.yaml", "note: new\nlr: 2\n")
    header, _, note = dvx("params", "diff").stdout.splitlines()  # one line per row
    assert "line1\\nline2\\n" in note
    assert note.index("new") == header.index("workspace")  # the columns still line up
    shown = dvx("params", "show", "-A").stdout.splitlines()
    assert any("line1\\nline2\\n" in line for line in shown)
    assert not any(line.startswith("line2") for line in shown)
    assert json.loads(dvx("params", "diff", "--json").stdout)["params.yaml"]["note"]["old"] \
        == "line1\nline2\n"


def test_a_value_with_a_line_break_or_control_character_stays_on_its_markdown_row(formats,
                                                                                  dvx):
    """CommonMark ends a line at a lone carriage return: raw, it would split the row."""
    write(formats / "params.yaml", 'note: "ok\\rthen\\ttab\\x1b[0m|bar\\nnext"\nlr: 1\n')
    for command in (("params", "show"), ("params", "diff", "--all")):
        table = dvx(*command, "--md").stdout
        assert not re.search("[\x00-\x09\x0b-\x1f\x7f]", table), table
        rows = table.splitlines()[2:]
        assert all(row.startswith("| ") and row.endswith(" |") for row in rows), rows
        [note] = [row for row in rows if "then" in row]
        assert "| ok\\rthen\\ttab\\x1b[0m\\|bar\\nnext |" in note


def test_a_metric_going_from_null_to_absent_is_no_change_and_a_params_is(formats, dvx):
    """null is no value, shown as `-` like a value a file lacks (DVC compares them so): no
    row whose old and new read alike. A param's null is one a stage reads."""
    write(formats / "metrics.json", json.dumps({"loss": 0.5, "note": None, "gone": None}))
    write(formats / "params.yaml", "train:\n  lr: 0.1\n  epochs: 3\nseed: 7\nopt: null\n")
    commit(formats, "nulls")
    write(formats / "metrics.json", json.dumps({"loss": 0.5, "note": 1, "new": None}))
    write(formats / "params.yaml", "train:\n  lr: 0.1\n  epochs: 3\nseed: 7\n")
    doc = json.loads(dvx("metrics", "diff", "--json").stdout)
    assert doc["metrics.json"] == {"note": {"old": None, "new": 1}}
    rows = dvx("metrics", "diff").stdout.splitlines()
    assert [row.split()[:2] for row in rows[1:]] == [["metrics.json", "note"]]
    assert list(json.loads(dvx("params", "diff", "--json").stdout)["params.yaml"]) == ["opt"]


def test_a_metric_or_param_that_is_no_finite_number_is_its_text_in_strict_json(formats, dvx):
    """JSON has no NaN: `--json` stays readable by strict parsers, the value its text."""
    def strict(text: str) -> object:
        def refuse(constant: str) -> None:
            raise AssertionError(f"bare {constant} in --json output")
        return json.loads(text, parse_constant=refuse)
    write(formats / "metrics.json", '{"loss": NaN, "best": Infinity, "worst": -Infinity}')
    write(formats / "eval" / "scores.yaml", "f1: .nan\n")
    write(formats / "params.yaml", "train:\n  lr: .inf\n  epochs: 3\nseed: 7\n")
    commit(formats, "not finite")
    shown = strict(dvx("metrics", "show", "--json").stdout)["workspace"]["data"]
    assert shown["metrics.json"]["data"] == {"loss": "nan", "best": "inf", "worst": "-inf"}
    assert shown["eval/scores.yaml"]["data"] == {"f1": "nan"}
    params = strict(dvx("params", "show", "--json").stdout)["workspace"]["data"]
    assert params["params.yaml"]["data"]["train"]["lr"] == "inf"
    assert "nan" in dvx("metrics", "show").stdout
    write(formats / "metrics.json", '{"loss": NaN, "best": 0.5, "worst": -Infinity}')
    assert strict(dvx("metrics", "diff", "--json").stdout) == {  # NaN stays NaN: no change
        "metrics.json": {"best": {"old": "inf", "new": 0.5}}}


def test_a_small_number_is_not_shown_as_0(formats, dvx):
    """--precision rounds after the decimal point; a number that would round to 0 keeps
    --precision significant digits instead."""
    write(formats / "params.yaml", "train:\n  lr: 1e-7\n  decay: 0.123456\n")
    commit(formats, "small lr")
    write(formats / "params.yaml", "train:\n  lr: -1.234567e-7\n  decay: 0.5\n")
    rows = {line.split()[1]: line.split()[2:] for line in
            dvx("params", "diff").stdout.splitlines()[1:]}
    assert rows["train.lr"][:3] == ["1e-07", "-1.2346e-07", "-2.2346e-07"]
    assert rows["train.decay"][:2] == ["0.12346", "0.5"]
    assert "-1.2e-07" in dvx("params", "show", "--precision", "2").stdout.split()
    assert "-1.2346e-07" in dvx("exp", "show").stdout.split()


def test_no_metrics_declared_says_how_to_declare_them(repo, dvx):
    result = dvx("metrics", "show")
    assert result.code == 0
    assert "declare them in dvx.yaml" in result.stdout
    assert json.loads(dvx("metrics", "show", "--json").stdout) == {"workspace": {"data": {}}}


def test_foreach_wdir_and_interpolated_paths_are_followed(repo, dvx):
    write(repo / "params.yaml", "out_dir: results\n")
    write(repo / "dvx.yaml", """\
stages:
  evaluate:
    foreach: [cnn, mlp]
    do:
      cmd: "true"
      metrics: ["${out_dir}/${item}.json"]
  report:
    cmd: "true"
    wdir: sub
    metrics: [m.toml]
""")
    write(repo / "results" / "cnn.json", '{"acc": 0.9}')
    write(repo / "results" / "mlp.json", '{"acc": 0.8}')
    write(repo / "sub" / "m.toml", "acc = 0.7\n")
    commit(repo, "v1")
    doc = dvx_show_json(dvx, repo, "metrics", "--rev", "HEAD")
    for label in ("workspace", "HEAD"):
        data = doc[label]["data"]
        assert {p: f["data"]["acc"] for p, f in data.items()} == \
            {"results/cnn.json": 0.9, "results/mlp.json": 0.8, "sub/m.toml": 0.7}


def test_a_change_from_1_to_true_or_1_0_is_a_change_as_status_says(repo, dvx):
    write(repo / "dvx.yaml", "stages:\n  s:\n    cmd: 'true'\n    params: [use_gpu, dropout, lr]\n"
                             "  ev:\n    cmd: 'true'\n    metrics: [m.json]\n")
    write(repo / "params.yaml", "use_gpu: 1\ndropout: 0\nlr: 1\n")
    write(repo / "m.json", '{"converged": 1, "loss": 1e-3}')
    assert dvx("repro", "-q", "s").code == 0
    commit(repo, "v1")
    write(repo / "params.yaml", "use_gpu: true\ndropout: false\nlr: 1.0\n")
    write(repo / "m.json", '{"converged": true, "loss": 0.001}')
    assert "changed params: dropout, lr, use_gpu" in dvx("status").stdout
    params = json.loads(dvx("params", "diff", "--json").stdout)["params.yaml"]
    assert params == {"use_gpu": {"old": 1, "new": True}, "dropout": {"old": 0, "new": False},
                      "lr": {"old": 1, "new": 1.0, "diff": 0.0, "rel": 0.0}}
    metrics = json.loads(dvx("metrics", "diff", "--json").stdout)
    assert metrics == {"m.json": {"converged": {"old": 1, "new": True}}}, \
        "1e-3 and 0.001 are one value"


def test_a_branch_named_workspace_never_replaces_the_workspace(repo, dvx):
    write(repo / "dvx.yaml", "stages:\n  ev:\n    cmd: 'true'\n    metrics: [m.json]\n")
    write(repo / "m.json", '{"acc": 1}')
    commit(repo, "v1")
    git(repo, "branch", "workspace")
    write(repo / "m.json", '{"acc": 2}')
    commit(repo, "v2")
    write(repo / "m.json", '{"acc": 3}')  # the workspace's own value

    def accs(doc: dict) -> dict:
        return {label: entry["data"]["m.json"]["data"]["acc"] for label, entry in doc.items()}
    assert accs(dvx_show_json(dvx, repo, "metrics", "-a")) == \
        {"workspace": 3, "main": 2, "heads/workspace": 1}
    rows = [line.split()[0] for line in dvx("metrics", "show", "-a").stdout.splitlines()[1:]]
    assert rows == ["workspace", "main", "heads/workspace"]
    assert accs(dvx_show_json(dvx, repo, "metrics", "--rev", "workspace", "--rev", "HEAD",
                              "--no-workspace")) == {"workspace": 3, "HEAD": 2}
    assert accs(api.metrics_show(repo=str(repo), revs=["workspace", "heads/workspace"])) == \
        {"workspace": 3, "heads/workspace": 1}
    diff = json.loads(dvx("metrics", "diff", "HEAD", "workspace", "--json").stdout)
    assert diff["m.json"]["acc"]["new"] == 3


def test_a_huge_number_is_an_error_row_or_a_change_json_can_hold(repo, dvx):
    write(repo / "dvx.yaml", "stages:\n  ev:\n    cmd: 'true'\n"
                             "    metrics: [m.json, far.json, other.json]\n")
    write(repo / "m.json", '{"seed": 1.5}')
    write(repo / "far.json", '{"max": 1e308}')
    write(repo / "other.json", '{"f1": 0.7}')
    commit(repo, "v1")
    write(repo / "m.json", '{"seed": ' + "9" * 400 + "}")
    write(repo / "far.json", '{"max": -1e308}')
    result = dvx("metrics", "diff", "--json")
    assert result.code == 0, result.output
    doc = json.loads(result.stdout)  # no Infinity: JSON has none
    assert doc["m.json"]["seed"] == {"old": 1.5, "new": int("9" * 400), "diff": None,
                                     "rel": None}
    assert doc["far.json"]["max"] == {"old": 1e308, "new": -1e308, "diff": None, "rel": None}
    assert dvx("metrics", "diff").code == 0

    too_long = "9" * 5000
    for name, text in (("m.json", f'{{"seed": {too_long}}}'),
                       ("params.yaml", f"seed: {too_long}\n"), ("p.toml", f"seed = {too_long}\n")):
        write(repo / name, text)
    shown = dvx("metrics", "show")
    assert shown.code == 0, shown.output
    rows = {line.split()[0]: line for line in shown.stdout.splitlines()[1:]}
    assert "cannot be read: it has an integer of 5000 digits (dvx reads at most 4300)" in \
        rows["m.json"]
    assert rows["other.json"].split()[1:] == ["-", "0.7"]
    params = dvx("params", "show", "params.yaml", "p.toml")
    assert params.code == 0, params.output
    assert "params.yaml' cannot be read: it has an integer of 5000 digits" in params.stdout
    assert "p.toml' cannot be read: it has an integer of more than 4300 digits" in params.stdout


def test_a_long_hex_integer_or_a_lone_surrogate_is_refused_by_name_in_every_format(repo, dvx):
    # Valid TOML, YAML and JSON, but dvx could not write these values to dvx.lock: a
    # 4817-digit integer in 4002 characters, and half of a UTF-16 surrogate pair.
    write(repo / "dvx.yaml", "stages:\n  s:\n"
                             "    cmd: for m in m.yaml k.json ok.json; do cp f1.json $m; done\n"
                             "    params: [{p.toml: [seed]}, {p.json: [name]}]\n"
                             "    metrics: [m.yaml, k.json, ok.json]\n")
    write(repo / "p.toml", "seed = 1\n")
    write(repo / "p.json", '{"name": "a"}')
    write(repo / "f1.json", '{"f1": 0.7}')
    assert dvx("repro").code == 0
    commit(repo, "v1")
    hex_digits = "f" * 4000  # 16 ** 4000 - 1: 4817 digits
    write(repo / "p.toml", f"seed = 0x{hex_digits}\n")
    write(repo / "m.yaml", f"acc: 0x{hex_digits}\n")
    write(repo / "p.json", '{"name": "x\\ud800y"}')
    write(repo / "k.json", '{"run": {"a\\udfffb": 1}}')
    too_long = "cannot be read: it has an integer of 4817 digits (dvx reads at most 4300)."
    not_unicode = "holds \\ud800, half of a UTF-16 surrogate pair, which is no character"
    for command in ("status", "repro"):
        result = dvx(command)
        assert result.code == 1 and "Unexpected" not in result.output, result.output
        assert f"The params file 'p.toml' {too_long}" in result.stderr
    write(repo / "p.toml", "seed = 1\n")
    result = dvx("repro")
    assert result.code == 1, result.output
    assert f"The params file 'p.json' cannot be read: the text at 'name' {not_unicode}" \
        in result.stderr
    write(repo / "p.toml", f"seed = 0x{hex_digits}\n")
    params = dvx("params", "show")
    assert params.code == 0, params.output
    rows = {line.split()[0]: line for line in params.stdout.splitlines()[1:]}
    assert too_long in rows["p.toml"] and not_unicode in rows["p.json"]
    metrics = dvx("metrics", "show")
    assert metrics.code == 0, metrics.output
    rows = {line.split()[0]: line for line in metrics.stdout.splitlines()[1:]}
    assert f"The metrics file 'm.yaml' {too_long}" in rows["m.yaml"]
    assert "cannot be read: the key 'a\\udfffb' in 'run' holds \\udfff" in rows["k.json"]
    assert rows["ok.json"].split() == ["ok.json", "0.7"]


def test_a_file_nested_too_deeply_is_an_error_row_in_every_format(repo, dvx):
    write(repo / "dvx.yaml", "stages:\n  s:\n    cmd: 'true'\n    params: [{cfg.json: [a]}]\n"
                             "    metrics: [m.json, m.toml, ok.json]\n")
    write(repo / "ok.json", '{"acc": 0.9}')
    write(repo / "m.json", '{"a":' * 500 + "1" + "}" * 500)
    write(repo / "m.toml", "a = " + "[" * 100 + "]" * 100 + "\n")
    write(repo / "cfg.json", '{"a":' * 65 + "1" + "}" * 65)
    shown = dvx("metrics", "show")
    assert shown.code == 0, shown.output
    rows = {line.split()[0]: line for line in shown.stdout.splitlines()[1:]}
    assert "The metrics file 'm.json' is nested more than 64 levels deep." in rows["m.json"]
    assert "The metrics file 'm.toml' is nested more than 64 levels deep." in rows["m.toml"]
    assert rows["ok.json"].split()[1] == "0.9"
    assert "nested more than 64 levels deep" in dvx("params", "show").stdout
    status = dvx("status")
    assert status.code == 1 and "'cfg.json' is nested more than 64 levels deep" in \
        status.stderr and "Traceback" not in status.output
    write(repo / "cfg.json", '{"a":' * 64 + "1" + "}" * 64)  # as deep as YAML may be
    assert "nested" not in dvx("params", "show").stdout


def test_a_cached_output_is_read_in_past_commits_by_their_dvx_lock(repo, dvx, tmp_path):
    """Files a stage writes as cached outputs (a plain `outs:` file, a file of an `outs:`
    directory, a `cache: true` metrics or plots file) are in no commit's tree: each commit's
    dvx.lock names their data, read from the cache, never taken for a file added since."""
    write(repo / "gen.py", "import os, sys\nv = open('v.txt').read().strip()\n"
          "os.makedirs('res', exist_ok=True)\n"
          "for name in ('out.json', 'res/m.json', 'm.json'):\n"
          "    open(name, 'w').write('{\"acc\": %s}' % v)\n"
          "open('loss.csv', 'w').write('step,loss\\n0,%s\\n' % v)\n")
    write(repo / "dvx.yaml", f"""\
stages:
  train:
    cmd: {sys.executable} gen.py
    deps: [gen.py, v.txt]
    outs: [out.json, res]
    metrics:
    - m.json: {{cache: true}}
    plots:
    - loss.csv: {{cache: true}}
""")
    files = ["out.json", "res/m.json", "m.json"]
    targets = [arg for f in files for arg in ("--targets", f)]
    for v in (1, 2, 3):
        write(repo / "v.txt", f"{v}\n")
        assert dvx("repro", "-q").code == 0
        if v < 3:
            commit(repo, f"v{v}")
    shown = dvx_show_json(dvx, repo, "metrics", "-A", *files)
    assert [{f: e["data"][f]["data"]["acc"] for f in files} for e in shown.values()] == \
        [dict.fromkeys(files, v) for v in (3, 2, 1)]
    for rev in (["HEAD"], ["HEAD~1", "HEAD"]):
        diff = json.loads(dvx("metrics", "diff", *rev, "--json", *targets).stdout)
        old, new = (1, 2) if len(rev) == 2 else (2, 3)
        assert diff == {f: {"acc": {"old": old, "new": new, "diff": 1, "rel": 1 / old}}
                        for f in files}
    plots = json.loads(dvx("plots", "diff", "HEAD~1", "HEAD", "--json",
                           "-o", str(tmp_path / "out")).stdout)["plots"]
    assert [(p["revisions"], p["errors"]) for p in plots] == [(["HEAD~1", "HEAD"], [])]

    git(tmp_path, "clone", "-q", str(repo), "fresh")  # a clone with an empty cache
    head = git(repo, "rev-parse", "HEAD").strip()[:10]
    lacked = dvx("metrics", "diff", "HEAD~1", "HEAD", *targets, cwd=tmp_path / "fresh")
    assert lacked.code == 0 and "No metrics changed" not in lacked.output, lacked.output
    assert f"dvx tracks 'out.json' in commit {head}, and the cache lacks its data " \
        f"(`dvx fetch --rev {head}` fetches it)" in lacked.stdout
    assert f"dvx tracks 'res' in commit {head}, and the cache lacks its manifest" in \
        lacked.stdout

    write(repo / "dvx.lock", (repo / "dvx.lock").read_text() + "broken: [\n")
    commit(repo, "a dvx.lock that does not parse")
    unknown = dvx_show_json(dvx, repo, "metrics", "--rev", "HEAD", "--no-workspace", "out.json")
    assert unknown["HEAD"]["data"]["out.json"]["error"]["msg"].startswith(
        "no such file in HEAD: its dvx.lock, which may record it, cannot be read: ")


def test_a_cached_metrics_file_not_pulled_is_an_error_never_an_empty_file(repo, dvx, tmp_path):
    write(repo / "src.json", '{"acc": 0.9}')
    commit(repo, "before the stage")
    write(repo / "dvx.yaml", "stages:\n  train:\n    cmd: cp src.json m.json && cp src.json "
                             "p.json\n    metrics:\n    - m.json: {cache: true}\n"
                             "    plots:\n    - p.json: {cache: true}\n")
    assert dvx("repro", "-q").code == 0
    commit(repo, "v1")
    git(tmp_path, "clone", "-q", str(repo), "fresh")
    fresh = tmp_path / "fresh"
    why = "no such file in the workspace: it is not pulled yet (`dvx pull m.json` fetches it)"
    assert why in dvx("metrics", "show", cwd=fresh).stdout
    diff = dvx("metrics", "diff", "HEAD~1", cwd=fresh)
    assert diff.code == 0 and why in diff.stdout, diff.output
    assert "No metrics changed" not in diff.output, "an absent file is no empty one"
    as_json = dvx("metrics", "diff", "HEAD~1", "--json", cwd=fresh)
    assert f"WARNING: m.json at workspace: {why}" in as_json.stderr
    (workspace, *_) = json.loads(dvx("exp", "show", "--json", cwd=fresh).stdout)
    assert workspace["errors"] == [f"m.json: {why}"]
    plots = dvx("plots", "show", "-o", str(tmp_path / "out"), cwd=fresh)
    assert "p.json does not exist there: it is not pulled yet (`dvx pull p.json` fetches " \
           "it)" in plots.stderr
    (repo / "m.json").unlink()  # placed here, then deleted
    assert "it was deleted since it was placed (`dvx checkout m.json` puts it back)" in \
        dvx("metrics", "diff", "HEAD~1").stdout
    write(repo / "dvx.yaml", "stages:\n  train:\n    cmd: cp src.json m.json\n"
                             "    metrics:\n    - n.json: {cache: true}\n")
    unrun = dvx("metrics", "diff", "--json")
    assert "n.json" not in unrun.output, \
        "a stage not run yet has written nothing: no error"


def test_a_metrics_file_a_git_pull_left_outdated_is_named_never_shown_as_the_workspace_s(
        tmp_path, dvx):
    """Bob `git pull`s Alice's run but not its data: m.json (`cache: true`) and eval/s.json
    (in a directory tracked with `dvx add`) still hold the data placed before. Their rows say
    so, with the command that brings the new data, and are never the workspace's values;
    eval/f.json, which Alice left alone, reads as before."""
    team = Team(tmp_path)
    alice = team.founder()
    write(alice / "params.yaml", "lr: 0.1\n")
    write(alice / "train.py", "import json, yaml\nlr = yaml.safe_load(open('params.yaml'))"
                              "['lr']\njson.dump({'acc': 1 - lr}, open('m.json', 'w'))\n")
    write(alice / "dvx.yaml", "stages:\n  train:\n    cmd: python3 train.py\n    deps: "
                              "[train.py]\n    params: [lr]\n    metrics:\n"
                              "    - m.json: {cache: true}\n")
    write(alice / "eval" / "s.json", '{"f1": 0.5}')
    write(alice / "eval" / "f.json", '{"fpr": 0.25}')
    must("add", "eval", cwd=alice)
    must("repro", cwd=alice)
    share(alice, "lr 0.1")
    bob = team.clone("bob")
    write(alice / "params.yaml", "lr: 0.25\n")
    must("repro", cwd=alice)
    edit(alice, "eval/s.json", '{"f1": 0.7}')
    must("add", "eval", cwd=alice)
    share(alice, "lr 0.25")
    git(bob, "pull", "-q", "origin", "main")

    outdated = ("'m.json' in the workspace is outdated: dvx.lock (stage 'train') changed in "
                "Git since it was placed here, and it still holds the data from before "
                "(`dvx pull m.json` fetches and places the new data).")
    shown = dvx("metrics", "show", cwd=bob)
    assert shown.code == 0 and outdated in shown.stdout, shown.output
    assert "0.9" not in shown.stdout, "lr 0.1's acc is not the workspace's"
    synced = bob / ".dvx" / "tmp" / "synced.json"
    kept = synced.read_bytes()
    synced.unlink()  # no record (.dvx/tmp deleted): what HEAD recorded lately stands for it
    assert outdated in dvx("metrics", "show", cwd=bob).stdout
    synced.write_bytes(kept)
    diff = dvx("metrics", "diff", cwd=bob)
    assert outdated in diff.stdout and "No metrics changed" not in diff.output, diff.output
    (workspace, *_) = json.loads(dvx("exp", "show", "--json", cwd=bob).stdout)
    assert workspace["params"]["params.yaml"] == {"lr": 0.25}
    assert workspace["errors"] == [f"m.json: {outdated}"], "not paired with lr 0.1's acc"
    files = dvx_show_json(dvx, bob, "metrics", "eval/s.json", "eval/f.json")["workspace"]["data"]
    for rel in ("eval/s.json", "eval/f.json"):  # which of them changed is not known yet
        assert f"'{rel}' in the workspace may be outdated: 'eval.dvx' changed in Git since it " \
            "was placed here, and the cache lacks the new manifest of its directory" in \
            files[rel]["error"]["msg"]

    must("fetch", cwd=bob)
    assert "(`dvx checkout m.json` places the new data)" in dvx("metrics", "show", cwd=bob).stdout
    files = dvx_show_json(dvx, bob, "metrics", "eval/s.json", "eval/f.json")["workspace"]["data"]
    assert files["eval/s.json"]["error"]["msg"] == (
        "'eval/s.json' in the workspace is outdated: 'eval.dvx' changed in Git since it was "
        "placed here, and it still holds the data from before (`dvx checkout eval/s.json` "
        "places the new data).")
    assert files["eval/f.json"] == {"data": {"fpr": 0.25}}, "unchanged in Git: still true"
    must("checkout", cwd=bob)
    assert dvx("metrics", "show", cwd=bob).stdout.split()[-1] == "0.75"
    assert dvx_show_json(dvx, bob, "metrics", "eval/s.json")["workspace"]["data"] == \
        {"eval/s.json": {"data": {"f1": 0.7}}}


def test_a_metrics_file_the_recorded_version_of_its_directory_no_longer_holds_is_named_so(
        repo, dvx):
    """eval/m.json was placed with a version of eval/ its pointer no longer names, whose
    manifest (cached) lists no such file: its row says the file is gone from that version and
    names the checkout of the directory, which removes it, never a pull or checkout of the
    file itself, which the pointer no longer names."""
    write(repo / "eval" / "m.json", '{"acc": 0.5}')
    write(repo / "eval" / "f.json", '{"fpr": 0.25}')
    assert dvx("add", "eval").code == 0
    commit(repo, "with m.json")
    (repo / "eval" / "m.json").unlink()
    assert dvx("add", "eval").code == 0
    commit(repo, "without m.json")
    git(repo, "checkout", "-q", "HEAD~1", "--", "eval.dvx")
    assert dvx("checkout", "eval").code == 0  # m.json placed again
    git(repo, "checkout", "-q", "HEAD", "--", "eval.dvx")

    gone = ("'eval/m.json' in the workspace is outdated: 'eval.dvx' changed in Git since it "
            "was placed here, and the version it records no longer holds this file (`dvx "
            "checkout eval` places that version, without it).")
    shown = dvx_show_json(dvx, repo, "metrics", "eval/m.json")["workspace"]["data"]
    assert shown["eval/m.json"]["error"]["msg"] == gone
    assert "dvx pull eval/m.json" not in dvx("metrics", "diff", "--targets", "eval/m.json").output
    assert dvx("checkout", "eval").code == 0
    assert not (repo / "eval" / "m.json").exists(), "the command named does what it says"


def test_a_metrics_file_of_a_directory_tracked_with_dvx_add_is_read_in_every_revision(
        repo, dvx):
    """eval/ is tracked with `dvx add`: a commit holds eval.dvx, not eval/m.json, whose bytes
    are read from the cache by the oid the commit's manifest names for it."""
    write(repo / "eval" / "m.json", '{"acc": 0.5}')
    assert dvx("add", "eval").code == 0
    commit(repo, "one")
    write(repo / "eval" / "m.json", '{"acc": 0.6}')
    assert dvx("add", "eval").code == 0
    commit(repo, "two")
    shown = dvx_show_json(dvx, repo, "metrics", "eval/m.json", "-A", "--no-workspace")
    assert [entry["data"]["eval/m.json"]["data"]["acc"] for entry in shown.values()] == \
        [0.6, 0.5]
    diff = dvx("metrics", "diff", "HEAD~1", "HEAD", "--targets", "eval/m.json")
    assert diff.code == 0 and diff.stdout.splitlines()[1].split() == \
        ["eval/m.json", "acc", "0.5", "0.6", "0.1", "+20.0%"], diff.output
    missing = dvx("metrics", "show", "eval/x.json", "--rev", "HEAD")
    assert missing.code == 2 and "'eval/x.json' is not in the workspace or HEAD" in \
        missing.stderr, missing.output
    shutil.rmtree(repo / ".dvx" / "cache" / "files")
    gone = dvx("metrics", "show", "eval/m.json", "--rev", "HEAD", "--no-workspace")
    assert gone.code == 0 and "the cache lacks its manifest (`dvx fetch --rev" in gone.stdout, \
        gone.output


def test_a_path_a_tracked_directory_s_manifest_does_not_list_is_absent_as_any_file(
        repo, dvx, tmp_path):
    """A path under a directory tracked with `dvx add` that its manifest does not list (a
    typo, or a file removed from the directory and recorded) is no data dvx tracks: it is
    absent as any file is, its old value shown gone, never called deleted since it was placed
    with a `dvx checkout` that cannot place it. Only while the cache lacks the manifest may
    such a path be data not pulled yet, and is said to be."""
    write(repo / "d" / "a.json", '{"acc": 1}')
    write(repo / "d" / "m.json", '{"acc": 2}')
    assert dvx("add", "d").code == 0
    commit(repo, "v1")
    (repo / "d" / "m.json").unlink()
    assert dvx("add", "d").code == 0
    commit(repo, "m.json removed")

    typo = dvx("metrics", "show", "d/typo.json")
    assert typo.code == 2 and "'d/typo.json' is not in the workspace, and no dvx.yaml there " \
        "declares it as a metrics file" in typo.stderr, typo.output
    diff = dvx("metrics", "diff", "HEAD~1", "--targets", "d/m.json")
    assert diff.code == 0 and diff.stdout.splitlines()[1].split() == \
        ["d/m.json", "acc", "2", "-", "-", "-"], diff.output
    assert "deleted since it was placed" not in diff.output

    git(tmp_path, "clone", "-q", str(repo), "fresh")  # a clone with an empty cache
    unknown = dvx("metrics", "show", "d/typo.json", cwd=tmp_path / "fresh")
    assert unknown.code == 0 and "no such file in the workspace: it is not pulled yet " \
        "(`dvx pull d/typo.json` fetches it)" in unknown.stdout, unknown.output


def test_a_folder_inside_a_tracked_directory_is_named_a_directory_in_a_commit_as_in_the_workspace(
        repo, dvx):
    """eval/ is tracked with `dvx add`: eval/sub, a folder of its files, is one error
    naming it a directory, in a commit as in the workspace, never a file missing there."""
    write(repo / "eval" / "sub" / "m.json", '{"acc": 0.5}')
    assert dvx("add", "eval").code == 0
    commit(repo, "one")
    head = git(repo, "rev-parse", "HEAD")[:10]
    shown = dvx("metrics", "show", "-A", "eval/sub")
    assert shown.code == 0, shown.output
    rows = [line.split(None, 2) for line in shown.stdout.splitlines()[1:]]
    assert rows == [["workspace", "eval/sub", "'eval/sub' is a directory, not a file."],
                    [head[:7], "eval/sub",
                     f"'eval/sub' is a directory dvx tracks in commit {head}, not a file."]], \
        shown.output


def test_a_params_file_tracked_with_dvx_add_not_checked_out_is_an_error_never_empty(
        repo, dvx, tmp_path):
    """A clone that has not checked out params.yaml (tracked with `dvx add`) compares no
    empty file with HEAD's: its row says the file is not pulled, or not checked out, and how
    to bring it."""
    assert dvx("remote", "add", "-d", "store", str(tmp_path / "store")).code == 0
    write(repo / "params.yaml", "train:\n  lr: 0.1\n")
    write(repo / "dvx.yaml", "stages:\n  train:\n    cmd: 'true'\n    params: [train.lr]\n")
    assert dvx("add", "params.yaml").code == 0
    assert dvx("push").code == 0
    commit(repo, "params")
    git(tmp_path, "clone", "-q", str(repo), "fresh")
    fresh = tmp_path / "fresh"
    assert "no such file in the workspace: it is not pulled yet (`dvx pull params.yaml` " \
           "fetches it)" in dvx("params", "show", cwd=fresh).stdout
    assert dvx("fetch", cwd=fresh).code == 0
    diff = dvx("params", "diff", cwd=fresh)
    assert diff.code == 0 and "workspace: no such file in the workspace: it is not checked " \
        "out yet (`dvx checkout params.yaml` places it)" in diff.stdout, diff.output
    assert "0.1" not in diff.stdout, "not compared as an empty file"
    (workspace, *_) = json.loads(dvx("exp", "show", "--json", cwd=fresh).stdout)
    assert workspace["errors"] == ["params.yaml: no such file in the workspace: it is not "
                                   "checked out yet (`dvx checkout params.yaml` places it)"]
    assert dvx("checkout", "params.yaml", cwd=fresh).code == 0
    assert dvx("params", "diff", cwd=fresh).stdout.strip() == \
        "No params changed between HEAD and workspace."


def test_precision_rounds_as_dvc_and_0_digits_show_no_point(repo, dvx):
    write(repo / "dvx.yaml", "stages:\n  s:\n    cmd: 'true'\n    metrics: [m.json]\n")
    write(repo / "m.json", '{"a": 0.125, "b": 0.375, "c": 2.5, "d": 3.5, "e": -2.7}')
    assert dvx("metrics", "show", "--precision", "2").stdout.split()[-5:] == \
        ["0.12", "0.38", "2.5", "3.5", "-2.7"]  # DVC's round(): a tie goes to the even digit
    assert dvx("metrics", "show", "--precision", "0").stdout.split()[-5:] == \
        ["0.1", "0.4", "2", "4", "-3"]
    write(repo / "m.json", '{"big": 1e308, "b20": -1.5e20, "b15": 1e15}')
    for precision in ("0", "5"):  # a large float in exponent form, never all its digits
        assert dvx("metrics", "show", "--precision", precision).stdout.split()[-3:] == \
            ["1e+308", "-1.5e+20", "1000000000000000" + (".0" if precision == "5" else "")]


def test_metrics_in_git_are_shown_when_a_params_file_tracked_with_dvx_add_cannot_be_read(
        repo, dvx):
    """params.yaml tracked with `dvx add`, its object not in the cache (a teammate's clone
    before `dvx pull`), and a workspace params.yaml too large to read: dvx.yaml takes no
    values from it, so the metrics, which Git holds, are shown all the same, exit status 0."""
    write(repo / "params.yaml", "train:\n  lr: 0.1\n")
    assert dvx("add", "params.yaml").code == 0
    write(repo / "mk.sh", "echo '{\"acc\": 0.9}' > m.json\n")
    run_and_commit(repo, "stages:\n  train:\n    cmd: sh mk.sh\n    deps: [mk.sh]\n"
                         "    params: [train.lr]\n    metrics: [m.json]\n", "run")
    shutil.rmtree(repo / ".dvx" / "cache" / "files")
    shown = dvx("metrics", "show", "--rev", "HEAD", "--no-workspace")
    assert shown.code == 0 and "0.9" in shown.stdout, shown.output
    os.chmod(repo / "params.yaml", 0o644)
    write(repo / "params.yaml", "train:\n  lr: 0.1\n" + "".join(
        f"k{i}: {i}\n" for i in range(150_000)))  # over the 1 MiB a params file may take
    shown = dvx("metrics", "show")
    assert shown.code == 0 and "0.9" in shown.stdout, shown.output



def _params_and_metrics_committed(repo: Path) -> None:
    """A stage reading `lr` of params.yaml and writing metrics.json (Git's), run and
    committed."""
    write(repo / "params.yaml", "lr: 0.1\n")
    write(repo / "train.py", "import json\njson.dump({'acc': 0.9}, open('metrics.json', 'w'))\n")
    run_and_commit(repo, f"stages:\n  train:\n    cmd: {sys.executable} train.py\n"
                   "    params: [lr]\n    metrics:\n      - metrics.json:\n"
                   "          cache: false\n", "trained")


NOT_REGULAR = "'params.yaml': not a regular file (a FIFO, socket or device)"


@pytest.mark.parametrize("command, told", [
    (["status"], NOT_REGULAR), (["params", "show"], NOT_REGULAR),
    (["repro", "--dry"], NOT_REGULAR), (["exp", "show"], NOT_REGULAR),
    (["exp", "run", "-S", "lr=0.2"], NOT_REGULAR),
    (["metrics", "show"], "metrics.json  0.9"),  # needs no params
])
def test_a_params_file_that_is_a_fifo_is_refused_at_once_by_every_command_reading_it(
        repo, dvx, command, told):
    """A FIFO opened to be read waits for a writer for ever (Ctrl-C aside): each command
    reading params names the file as no regular file at once, as it names a FIFO dvx.lock,
    and changes nothing."""
    _params_and_metrics_committed(repo)
    (repo / "params.yaml").unlink()
    os.mkfifo(repo / "params.yaml")
    result = run_dvx_proc(*command, cwd=repo, timeout=60)  # a regression fails, never hangs
    assert told in result.output, result.output
    assert "Traceback" not in result.output
    assert git(repo, "for-each-ref", "refs/exps") == ""
    assert stat.S_ISFIFO(os.lstat(repo / "params.yaml").st_mode)
    assert git(repo, "status", "--porcelain", "--", ":!params.yaml") == ""


def test_a_metrics_file_that_is_a_fifo_is_named_at_once_never_waited_on(repo, dvx):
    _params_and_metrics_committed(repo)
    (repo / "metrics.json").unlink()
    os.mkfifo(repo / "metrics.json")
    for command in (["metrics", "show"], ["metrics", "diff"], ["exp", "show"]):
        result = run_dvx_proc(*command, cwd=repo, timeout=60)
        assert "Cannot read 'metrics.json': not a regular file (a FIFO, socket or device)" \
            in result.output, (command, result.output)
        assert "Traceback" not in result.output


@pytest.mark.parametrize("unreadable", ["dvx.yaml", "v.yaml"])
def test_params_metrics_and_exp_show_name_the_chmod_of_a_pipeline_file_they_may_not_read(
        tmp_path, unreadable):
    """A dvx.yaml or vars file this user may not read stops params diff, metrics show and
    exp show naming `chmod u+r` of it, as status and repro do, never a bare error."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    must("init", cwd=repo)
    write(repo / "params.yaml", "lr: 1\n")
    write(repo / "v.yaml", "name: x\n")
    run_and_commit(repo, "vars: [v.yaml]\nstages:\n  train:\n"
                   "    cmd: cp params.yaml m.yaml && echo ${name}\n    params: [lr]\n"
                   "    metrics: [{m.yaml: {cache: false}}]\n", "v1")
    (repo / unreadable).chmod(0)
    try:
        told = {command: dvx_unprivileged(repo, *command.split())
                for command in ("params diff", "metrics show", "exp show")}
    finally:
        (repo / unreadable).chmod(0o644)
    for command, result in told.items():
        said = " ".join(result.stderr.split())
        assert result.returncode != 0 and "Traceback" not in said, (command, said)
        assert f"Make it readable (`chmod u+r {unreadable}`" in said, (command, said)
