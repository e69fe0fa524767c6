"""`dvx stage add` writes stages into dvx.yaml keeping the user's comments and layout, and
`dvx stage list` shows them; `dvx dag` draws the graph as ASCII, Graphviz dot and Mermaid."""

from __future__ import annotations

import json

from conftest import git, write

USER_FILE = """\
# Our pipeline. Keep the stages in data-flow order.
vars:
  - seed: 42

stages:
  prepare:  # split the raw data
    cmd: python prepare.py --seed ${seed}
    deps:
      - data/raw.csv   # from the warehouse
    outs:
      - data/prepared

  # training needs a GPU
  train:
    cmd: python train.py
    deps:
      - data/prepared
    outs:
      - model.pkl
# end of pipeline
"""


def test_stage_add_creates_dvx_yaml(repo, dvx):
    result = dvx("stage", "add", "-n", "prepare", "-d", "data/raw.csv", "-o", "data/prepared",
                 "-p", "prepare.split,prepare.seed", "-p", "conf.json:a.b", "-O", "log.txt",
                 "-m", "metrics.json", "--plots", "roc.csv", "--desc", "Split the data",
                 "python", "prepare.py", "--out", "data prepared")
    assert result.code == 0, result.output
    assert (repo / "dvx.yaml").read_text() == """\
stages:
  prepare:
    cmd: python prepare.py --out 'data prepared'
    deps:
    - data/raw.csv
    params:
    - prepare.split
    - prepare.seed
    - conf.json:
      - a.b
    outs:
    - data/prepared
    - log.txt:
        cache: false
    metrics:
    - metrics.json
    plots:
    - roc.csv
    desc: Split the data
"""
    listed = json.loads(dvx("stage", "list", "--json").stdout)
    assert listed[0]["outs"][1] == {"path": "log.txt", "type": "outs", "cache": False,
                                    "persist": False, "push": True, "remote": None}
    assert listed[0]["outs"][2]["cache"] is False  # metrics: Git tracks them by default
    text = dvx("stage", "list").stdout
    assert "prepare\n    desc:   Split the data\n    cmd:    python prepare.py" in text


def test_stage_add_keeps_comments_and_layout(repo, dvx):
    write(repo / "dvx.yaml", USER_FILE)
    result = dvx("stage", "add", "-n", "evaluate", "-d", "model.pkl", "-m", "metrics.json",
                 "python evaluate.py")
    assert result.code == 0, result.output
    assert (repo / "dvx.yaml").read_text() == USER_FILE.replace("# end of pipeline\n", """\
  evaluate:
    cmd: python evaluate.py
    deps:
      - model.pkl
    metrics:
      - metrics.json
# end of pipeline
""")
    again = dvx("stage", "add", "-n", "prepare", "-o", "x", "true")
    assert again.code == 2 and "already exists" in again.stderr and "-f" in again.stderr
    assert dvx("stage", "add", "-f", "-n", "prepare", "-d", "data/raw.csv", "-o",
               "data/prepared", "python prepare.py --v2").code == 0
    text = (repo / "dvx.yaml").read_text()
    assert text.startswith("# Our pipeline. Keep the stages in data-flow order.\nvars:\n")
    assert "  prepare:  # split the raw data\n    cmd: python prepare.py --v2\n" in text
    assert "      - data/prepared\n\n  # training needs a GPU\n  train:\n" in text
    assert "# from the warehouse" not in text  # the replaced stage's own comment goes with it
    assert text.endswith("      - metrics.json\n# end of pipeline\n")


def test_stage_add_and_remove_keep_windows_line_ends_and_a_byte_order_mark(repo, dvx):
    """A dvx.yaml committed from Windows changes by the lines of the edit only."""
    def windows(text):
        return b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode()

    write(repo / "dvx.yaml", windows(USER_FILE))
    assert dvx("stage", "add", "-n", "evaluate", "-d", "model.pkl", "python evaluate.py"
               ).code == 0
    added = USER_FILE.replace("# end of pipeline\n", """\
  evaluate:
    cmd: python evaluate.py
    deps:
      - model.pkl
# end of pipeline
""")
    assert (repo / "dvx.yaml").read_bytes() == windows(added)
    assert dvx("stage", "remove", "evaluate").code == 0
    assert (repo / "dvx.yaml").read_bytes() == windows(USER_FILE)


def test_stage_add_in_a_subdirectory_sets_wdir(repo, dvx):
    write(repo / "sub" / "in.txt", "x\n")
    assert dvx("stage", "add", "-n", "copy", "-d", "in.txt", "-o", "out.txt", "cp in.txt out.txt",
               cwd=repo / "sub").code == 0
    assert "    wdir: sub\n" in (repo / "dvx.yaml").read_text()
    assert dvx("repro", cwd=repo / "sub").code == 0
    assert (repo / "sub" / "out.txt").read_text() == "x\n"


def test_stage_add_refuses_what_would_break_the_pipeline(repo, dvx):
    write(repo / "dvx.yaml", "stages:\n  a:\n    cmd: x\n    outs: [model.pkl]\n")
    before = (repo / "dvx.yaml").read_bytes()
    for args, message in ((("-n", "b", "-o", "model.pkl", "y"), "output of both stage"),
                          (("-n", "b", "-d", "../up", "y"), "outside the repository"),
                          (("-n", "b@1", "y"), "not a valid stage name"),
                          (("-n", "c", "-d", "model.pkl", "-o", "model.pkl", "y"),
                           "depends on its own output"),
                          (("-n", "d", "-o", "", "y"), "value given to -o/--outs is empty"),
                          (("-n", "d", "-d", " ", "y"), "value given to -d/--deps is empty"),
                          *((("-n", "e", option, "report.dvx", "y"), "ends in '.dvx'")
                            for option in ("-o", "-O", "-m", "--plots"))):
        result = dvx("stage", "add", *args)
        assert result.code != 0 and message in " ".join(result.stderr.split()), args
        assert (repo / "dvx.yaml").read_bytes() == before


PIPELINE = """\
stages:
  prepare: {cmd: x, deps: [raw.csv], outs: [prepared]}
  featurize: {cmd: x, deps: [prepared], outs: [features]}
  train: {cmd: x, deps: [features], outs: [model]}
  evaluate: {cmd: x, deps: [model, features], outs: [metrics]}
  stats: {cmd: x, deps: [raw.csv], outs: [stats]}
"""


def test_an_output_a_replaced_stage_drops_stays_ignored_by_git_once_repro_records_it(
        repo, dvx):
    write(repo / "raw.txt", "r\n")
    assert dvx("stage", "add", "-n", "a", "-d", "raw.txt", "-o", "old.txt",
               "cp raw.txt old.txt").code == 0
    assert dvx("repro").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "v1")
    assert dvx("stage", "add", "-f", "-n", "a", "-d", "raw.txt", "-o", "new.txt",
               "cp raw.txt new.txt").code == 0
    status = dvx("status").stdout
    assert "a: changed command; missing outs: new.txt; dropped outs: old.txt" in status
    result = dvx("repro")
    assert result.code == 0, result.output
    assert ("No stage outputs old.txt any longer: it stays in the workspace, still ignored by "
            "Git, so `git add -A` leaves it out (delete it, or remove its line from .gitignore "
            "to let Git see it).") in result.stdout
    assert "git add .gitignore dvx.lock" in result.stdout  # new.txt's entry
    assert (repo / ".gitignore").read_text().split() == ["/old.txt", "/new.txt"]
    assert git(repo, "status", "--short", "old.txt") == ""  # no git add -A commits the data
    assert "old.txt" not in dvx("status").output
    assert dvx("checkout").code == 0 and (repo / "old.txt").exists()


def test_dag_ascii_dot_and_mermaid(repo, dvx):
    write(repo / "dvx.yaml", PIPELINE)
    text = dvx("dag").stdout
    assert text == """\
 +---------+   +-------+
 | prepare |   | stats |
 +---------+   +-------+
      |
      v
+-----------+
| featurize |
+-----------+
      |
      +-------+
      v       |
  +-------+   |
  | train |   |
  +-------+   |
      |       |
      +---+---+
          v
    +----------+
    | evaluate |
    +----------+
"""
    assert dvx("dag", "--dot", "train").stdout == """\
strict digraph {
  "prepare";
  "featurize";
  "train";
  "prepare" -> "featurize";
  "featurize" -> "train";
}
"""
    assert dvx("dag", "--mermaid").stdout == """\
flowchart TD
  n0["prepare"]
  n1["featurize"]
  n2["train"]
  n3["evaluate"]
  n4["stats"]
  n0 --> n1
  n1 --> n2
  n1 --> n3
  n2 --> n3
"""


def test_dag_without_stages_prints_the_empty_graph_in_the_format_asked(repo, dvx):
    for pipeline in (None, "stages: {}\n"):  # no dvx.yaml, then one without stages
        if pipeline is not None:
            write(repo / "dvx.yaml", pipeline)
        dot = dvx("dag", "--dot")
        assert dot.code == 0 and dot.stdout == "strict digraph {\n}\n", dot.output
        assert "No stages yet" in dot.stderr
        mermaid = dvx("dag", "--mermaid", "-q")
        assert mermaid.code == 0 and mermaid.stdout == "flowchart TD\n"
        assert mermaid.stderr == ""
        ascii_ = dvx("dag")
        assert ascii_.code == 0 and "No stages yet" in ascii_.stdout
        assert dvx("dag", "-q").stdout == ""
        missing = dvx("dag", "nosuchstage")
        assert missing.code == 2 and "no stage named 'nosuchstage'" in missing.stderr, (
            missing.output)


def test_names_with_yaml_1_1_line_breaks_run_and_are_recorded_as_written(repo, dvx):
    """NEL, U+2028 and U+2029 are line breaks to YAML 1.1, folded to a space inside a quoted
    scalar: dvx.yaml and dvx.lock hold them escaped, so the stage writes the name asked for."""
    names = ["nel\x85x", "ls\u2028x", "ps\u2029x"]
    args = [arg for name in names for arg in ("-o", name)]
    command = " && ".join(f"echo o > '{name}'" for name in names)
    added = dvx("stage", "add", "-n", "s", *args, "--desc", "a\x85b", command)
    assert added.code == 0, added.output
    ran = dvx("repro")
    assert ran.code == 0, ran.output
    for name in names:
        assert (repo / name).read_text() == "o\n"
    assert not any(" x" in p.name for p in repo.iterdir())
    listed = json.loads(dvx("stage", "list", "--json").stdout)
    assert listed[0]["desc"] == "a\x85b" and [o["path"] for o in listed[0]["outs"]] == names
    assert dvx("status", "-q").code == 0
