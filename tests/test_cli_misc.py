"""Smaller things every command is expected to have: completion scripts, --json."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from pipeline_kit import make_ml_repo

from tests.conftest import write


@pytest.mark.parametrize("shell, marker", [
    ("bash", "complete -o nosort -F"), ("zsh", "#compdef dvx"),
    ("fish", "complete --no-files --command dvx")])
def test_completion_scripts_for_each_shell(repo, dvx, shell, marker):
    result = dvx("completion", shell)
    assert result.code == 0 and marker in result.stdout and "_DVX_COMPLETE" in result.stdout


def test_the_completion_script_completes_commands(repo):
    env = {**os.environ, "COMP_WORDS": "dvx sta", "COMP_CWORD": "1",
           "_DVX_COMPLETE": "bash_complete"}
    done = subprocess.run([sys.executable, "-m", "dvx"], env=env, capture_output=True,
                          text=True, cwd=repo)
    assert "plain,stage" in done.stdout and "plain,status" in done.stdout


def test_json_from_remove_move_and_dag(repo, dvx):
    write(repo / "a.txt", "a")
    assert dvx("add", "a.txt").code == 0
    moved = json.loads(dvx("move", "a.txt", "b.txt", "--json").stdout)
    assert (moved["from"], moved["to"]) == ("a.txt", "b.txt") and "b.txt.dvx" in moved["to_stage"]
    removed = json.loads(dvx("remove", "b.txt.dvx", "--json").stdout)
    assert removed["removed"] == ["b.txt"] and removed["deleted_data"] is False
    make_ml_repo(repo)
    graph = json.loads(dvx("dag", "--json").stdout)
    names = [s["name"] for s in graph["stages"]]
    assert names.index("prepare") < names.index("train")
    assert {"from": "prepare", "to": "featurize"} in graph["edges"]
