"""The CI recipe of docs/ci.md, run as written in a fresh clone against a directory remote."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from pipeline_kit import make_ml_repo

from tests.conftest import git, run_dvx
from tests.remotes import local_spec
from tests.team import Team, must, share

DOCS = Path(__file__).resolve().parent.parent / "docs" / "ci.md"


def ci_steps() -> str:
    block = re.search(r"```sh\n(# ci-steps:.*?)```", DOCS.read_text(), re.S)
    assert block, "docs/ci.md has no ```sh block starting with '# ci-steps:'"
    return block.group(1)


def run_ci(clone: Path) -> subprocess.CompletedProcess[str]:
    """The steps in bash, with this test's dvx first on PATH, as a CI runner has it."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run(["bash", "-c", ci_steps()], cwd=clone, env=env, text=True,
                          capture_output=True, timeout=300)


def _project(tmp_path: Path) -> tuple[Team, Path]:
    team = Team(tmp_path)
    alice = team.founder()
    make_ml_repo(alice)
    must("add", "data/raw.csv", cwd=alice)
    must("repro", cwd=alice)
    must("push", "--run-cache", cwd=alice)
    share(alice, "a pipeline")
    return team, alice


def test_the_recipe_passes_on_a_commit_that_reproduces(tmp_path):
    team, _ = _project(tmp_path)
    runner = team.clone("runner", pull=False)
    result = run_ci(runner)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Restored" in result.stdout or "up to date" in result.stdout


def test_the_gate_fails_when_the_pipeline_changed_without_repro(tmp_path):
    team, alice = _project(tmp_path)
    params = alice / "params.yaml"
    params.write_text(params.read_text().replace("epochs: 5", "epochs: 7"))
    git(alice, "commit", "-qam", "more epochs, repro forgotten")
    git(alice, "push", "-q", "origin", "main")
    runner = team.clone("runner", pull=False)
    result = run_ci(runner)
    assert result.returncode != 0
    assert "dvx.lock" in result.stdout  # git diff shows what the commit failed to record


def test_data_that_was_never_pushed_fails_the_job_naming_it(tmp_path):
    team, alice = _project(tmp_path)
    with (alice / "data/raw.csv").open("a") as f:
        f.write("1,1,1,1,3\n")
    must("repro", cwd=alice)
    git(alice, "add", "-A")
    git(alice, "commit", "-qm", "new rows, never pushed")
    git(alice, "push", "-q", "origin", "main")
    runner = team.clone("runner", pull=False)
    result = run_ci(runner)
    assert result.returncode != 0
    assert "data/raw.csv" in result.stderr and "Traceback" not in result.stderr
    repro = run_dvx("repro", "--pull", cwd=runner)
    assert repro.code == 1 and "could not fetch the data of" in repro.stderr
    assert "data/raw.csv" in repro.stderr and "--allow-missing" in repro.stderr


def test_allow_missing_runs_the_stages_whose_outputs_could_not_be_fetched(tmp_path):
    import shutil

    team, alice = _project(tmp_path)
    shutil.rmtree(team.store / "runs")  # no past runs to restore from
    prepared = alice / "data" / "prepared.dvx"
    assert not prepared.exists()  # a pipeline output: its oid is in dvx.lock
    lock = (alice / "dvx.lock").read_text()
    oid = re.search(r"path: data/prepared\n\s+oid: (\w+)", lock)
    oid = oid or re.search(r"oid: (\w+)\n\s+path: data/prepared", lock)
    assert oid, lock
    holder = team.store / local_spec(team.store, "", {}).stored_at(oid.group(1))
    holder.unlink()  # its manifest is gone from the remote (with its pack)
    runner = team.clone("runner", pull=False)
    refused = run_dvx("repro", "--pull", cwd=runner)
    assert refused.code == 1 and "data/prepared" in refused.stderr
    ran = run_dvx("repro", "--pull", "--allow-missing", cwd=runner)
    assert ran.code == 0, ran.output
    assert "its outputs could not be fetched: data/prepared" in ran.stdout
    assert ran.stdout.index("Fetched") < ran.stdout.index("Running stage")


def test_with_an_always_changed_stage_the_data_gate_is_status_of_dot(repo):
    """docs/ci.md: `dvx status -q` never passes with an always_changed stage; `dvx status -q .`
    checks the data alone, and still fails on data that changed."""
    (repo / "in.txt").write_text("in\n")
    must("add", "in.txt", cwd=repo)
    must("stage", "add", "-n", "ext", "--always-changed", "-o", "ext.txt", "echo same > ext.txt",
         cwd=repo)
    must("repro", cwd=repo)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "v1")
    must("repro", cwd=repo)
    assert git(repo, "status", "--porcelain") == ""
    assert run_dvx("status", "-q", cwd=repo).code == 1
    assert run_dvx("status", "-q", ".", cwd=repo).code == 0
    os.chmod(repo / "in.txt", 0o644)
    (repo / "in.txt").write_text("changed\n")
    assert run_dvx("status", "-q", ".", cwd=repo).code == 1
