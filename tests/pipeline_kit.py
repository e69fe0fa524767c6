"""A small ML-shaped pipeline for the pipeline tests: prepare -> featurize -> train ->
evaluate, plus an independent `stats` branch. Every stage is a real Python script reading
params.yaml and appending its name to runs.log, so a test can see exactly what ran."""

from __future__ import annotations

import random
import sys
from pathlib import Path

from conftest import git, run_dvx, write

PY = sys.executable

SCRIPTS = {
    "src/common.py": """
import os, sys, yaml
def params(section):
    with open("params.yaml") as f:
        return yaml.safe_load(f)[section]
def ran(name):
    with open("runs.log", "a") as f:
        f.write(name + "\\n")
""",
    "src/prepare.py": """
import csv, os
from common import params, ran
p = params("prepare")
rows = list(csv.reader(open("data/raw.csv")))[1:]
cut = round(len(rows) * (1 - p["split"]))
os.makedirs("data/prepared", exist_ok=True)
for name, part in (("train", rows[:cut]), ("test", rows[cut:])):
    with open(f"data/prepared/{name}.csv", "w") as f:
        f.writelines(",".join(r) + "\\n" for r in part)
ran("prepare")
""",
    "src/featurize.py": """
import os
from common import params, ran
n = params("featurize")["max_features"]
os.makedirs("data/features", exist_ok=True)
for name in ("train", "test"):
    with open(f"data/prepared/{name}.csv") as src, open(f"data/features/{name}.csv", "w") as dst:
        for line in src:
            xs = line.strip().split(",")
            dst.write(",".join(xs[:n] + xs[-1:]) + "\\n")
ran("featurize")
""",
    "src/train.py": """
import json
from common import params, ran
p = params("train")
rows = [list(map(float, l.split(","))) for l in open("data/features/train.csv")]
w = [0.0] * (len(rows[0]) - 1)
for _ in range(p["epochs"]):
    for *x, y in rows:
        err = sum(a * b for a, b in zip(w, x)) - y
        w = [wi - p["lr"] * err * xi / 100 for wi, xi in zip(w, x)]
json.dump({"weights": [round(v, 6) for v in w]}, open("model.json", "w"))
ran("train")
""",
    "src/evaluate.py": """
import json
from common import ran
w = json.load(open("model.json"))["weights"]
rows = [list(map(float, l.split(","))) for l in open("data/features/test.csv")]
mse = sum((sum(a * b for a, b in zip(w, x)) - y) ** 2 for *x, y in rows) / len(rows)
json.dump({"mse": round(mse, 6)}, open("metrics.json", "w"))
ran("evaluate")
""",
    "src/stats.py": """
import json
from common import ran
rows = open("data/raw.csv").read().splitlines()[1:]
json.dump({"rows": len(rows)}, open("stats.json", "w"))
ran("stats")
""",
}

PARAMS = """\
prepare:
  split: 0.25
featurize:
  max_features: 3
train:
  lr: 0.1
  epochs: 5
"""

PIPELINE = f"""\
stages:
  prepare:
    cmd: {PY} src/prepare.py
    deps: [src/prepare.py, data/raw.csv]
    params: [prepare.split]
    outs: [data/prepared]
  featurize:
    cmd: {PY} src/featurize.py
    deps: [src/featurize.py, data/prepared]
    params: [featurize.max_features]
    outs: [data/features]
  train:
    cmd: {PY} src/train.py
    deps: [src/train.py, data/features]
    params: [train.lr, train.epochs]
    outs: [model.json]
  evaluate:
    cmd: {PY} src/evaluate.py
    deps: [src/evaluate.py, model.json, data/features]
    metrics: [metrics.json]
  stats:
    cmd: {PY} src/stats.py
    deps: [src/stats.py, data/raw.csv]
    outs: [stats.json]
"""


def raw_csv(rows: int = 120, seed: int = 7) -> str:
    rng = random.Random(seed)
    lines = ["a,b,c,d,y"]
    for _ in range(rows):
        xs = [rng.randint(0, 9) for _ in range(4)]
        lines.append(",".join(map(str, [*xs, 2 * xs[0] + xs[1]])))
    return "\n".join(lines) + "\n"


def make_ml_repo(root: Path) -> None:
    """Write the scripts, data, params and dvx.yaml into a dvx repository at `root`."""
    for rel, text in SCRIPTS.items():
        write(root / rel, text.lstrip())
    write(root / "data" / "raw.csv", raw_csv())
    write(root / "params.yaml", PARAMS)
    write(root / "dvx.yaml", PIPELINE)
    write(root / ".gitignore", "runs.log\n__pycache__/\n")


def runs(root: Path) -> list[str]:
    log = root / "runs.log"
    return log.read_text().split() if log.exists() else []


def commit_copy_stage(repo: Path, dvx, message: str) -> None:
    """Tracked data/in.txt ("v1") and a stage `s` copying it to out.txt, run and committed."""
    write(repo / "data" / "in.txt", "v1\n")
    assert dvx("add", "data/in.txt").code == 0
    assert dvx("stage", "add", "-n", "s", "-d", "data/in.txt", "-o", "out.txt",
               "cp data/in.txt out.txt").code == 0
    assert dvx("repro").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", message)


def run_and_commit(repo: Path, pipeline: str, message: str) -> None:
    """dvx.yaml as `pipeline`, run (`dvx repro` succeeds), and everything committed."""
    write(repo / "dvx.yaml", pipeline)
    ran = run_dvx("repro", cwd=repo)
    assert ran.code == 0, ran.output
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", message)
