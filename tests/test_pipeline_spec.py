"""dvx.yaml: vars and params interpolation, foreach and matrix, params from YAML/JSON/TOML
files, and validation before anything runs: each problem is one clear error naming the stage
and the key, and nothing runs or is written."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from conftest import dvx_unprivileged, git, run_dvx_proc, write
from pipeline_kit import run_and_commit

from dvx.errors import FormatError
from dvx.pipeline.interpolate import interpolate


def test_interpolation_rules():
    ctx = {"train": {"lr": 0.1, "layers": [64, 32], "on": True}, "name": "m", "models": ["a"]}
    assert interpolate("lr=${train.lr} l=${train.layers[1]} ${train.layers.0}", ctx, "w") == \
        "lr=0.1 l=32 64"
    assert interpolate("${models}", ctx, "w") == ["a"]  # a whole string keeps the type
    assert interpolate("${ name }-${train.on}", ctx, "w") == "m-true"
    assert interpolate("\\${name} ${name}", ctx, "w") == "${name} m"
    # \${ is a literal ${ whether or not a } closes it
    assert interpolate("a\\${X", ctx, "w") == "a${X"
    assert interpolate("\\${", ctx, "w") == "${"
    assert interpolate("\\${a{b}} ${name}", ctx, "w") == "${a{b}} m"
    assert interpolate({"${name}.pt": ["${name}"]}, ctx, "w") == {"m.pt": ["m"]}
    for bad, message in (("${train.lr", "malformed"), ("${}", "not a valid reference"),
                         ("${train..lr}", "not a valid reference"),
                         ("${train.nope}", "'train.nope' is not in vars"),
                         ("x ${train}", "cannot be written into a string")):
        with pytest.raises(FormatError, match=message):
            interpolate(bad, ctx, "Stage 's', key 'cmd'")


def test_vars_params_foreach_and_matrix(repo, dvx):
    write(repo / "params.yaml", "train:\n  lr: 0.5\nregions: [us, eu]\n")
    write(repo / "conf" / "extra.json", json.dumps({"size": 3}))
    write(repo / "conf" / "model.toml", "[model]\ndepth = 4\n")
    write(repo / "dvx.yaml", """\
vars:
  - prefix: out
  - conf/extra.json
stages:
  train:
    cmd: echo lr=${train.lr} size=${size} > ${prefix}/train.txt
    params:
      - train.lr
      - conf/model.toml: [model.depth]
    outs: [out/train.txt]
  build:
    foreach: ${regions}
    do:
      cmd: echo ${item} > ${prefix}/${item}.txt
      outs: ["out/${item}.txt"]
  ship:
    foreach:
      small: {n: 1}
      large: {n: 2}
    do:
      cmd: echo ${key} ${item.n} > ship-${key}.txt
      outs: ["ship-${key}.txt"]
  grid:
    matrix:
      model: [cnn, mlp]
      lr: [0.1, 0.01]
    cmd: echo ${item.model} ${item.lr} > grid-${item.model}-${item.lr}.txt
    outs: ["grid-${item.model}-${item.lr}.txt"]
""")
    os.makedirs(repo / "out")
    listed = json.loads(dvx("stage", "list", "--json").stdout)
    names = [s["name"] for s in listed]
    assert names == ["train", "build@us", "build@eu", "ship@small", "ship@large",
                     "grid@cnn-0.1", "grid@cnn-0.01", "grid@mlp-0.1", "grid@mlp-0.01"]
    assert listed[0]["params"] == {"params.yaml": ["train.lr"], "conf/model.toml": ["model.depth"]}
    assert listed[0]["cmd"] == ["echo lr=0.5 size=3 > out/train.txt"]
    result = dvx("repro", "build")  # a foreach group by its name
    assert result.code == 0, result.output
    assert (repo / "out" / "eu.txt").read_text() == "eu\n"
    assert not (repo / "out" / "train.txt").exists()
    assert dvx("repro").code == 0
    assert (repo / "ship-large.txt").read_text() == "large 2\n"
    assert (repo / "grid-mlp-0.01.txt").read_text() == "mlp 0.01\n"
    lock = (repo / "dvx.lock").read_text()
    assert "conf/model.toml:\n        model.depth: 4" in lock
    write(repo / "conf" / "model.toml", "[model]\ndepth = 5\n")
    assert "train: changed params: model.depth" in dvx("status").stdout


def test_params_and_vars_are_read_by_yaml_1_2_as_dvc_reads_them(repo, dvx):
    """YAML 1.1 (PyYAML's) would read `1e-3` as a string and `NO`, `off` as false."""
    write(repo / "params.yaml", "lr: 1e-3\nregion: NO\nmode: off\nsize: 017\n"
                                "day: 2024-01-02\ntag: '1e3'\n")
    write(repo / "dvx.yaml", "vars:\n  - scale: .5\n" + stage(
        "cmd: echo ${lr} ${region} ${mode} ${size} ${day} ${tag} ${scale} > o.txt\n"
        "params: [lr, region, mode, size, day, tag]\nouts: [o.txt]"))
    assert dvx("repro").code == 0
    assert (repo / "o.txt").read_text() == "0.001 NO off 17 2024-01-02 1e3 0.5\n"
    assert "lr: 0.001\n" in (repo / "dvx.lock").read_text()
    assert dvx("status", "-q").code == 0  # every value reads back from dvx.lock as recorded
    write(repo / "params.yaml", "lr: 0.001\nregion: 'NO'\nmode: \"off\"\nsize: 17\n"
                                "day: '2024-01-02'\ntag: '1e3'\n")
    assert dvx("status", "-q").code == 0  # the same values, written otherwise
    write(repo / "params.yaml", "lr: 1e-3\nregion: NO\nmode: false\nsize: 17\n"
                                "day: 2024-01-02\ntag: 1e3\n")
    assert "changed params: mode, tag" in dvx("status").stdout


def test_an_empty_value_is_null_as_dvc_and_the_stages_pyyaml_read_it(repo, dvx):
    """`key:` is null in the YAML 1.2 core schema and in PyYAML; -S writes null so."""
    write(repo / "params.yaml", "opt:\nlr: 1\nseed: ~\n")
    write(repo / "dvx.yaml", "vars:\n" + stage("cmd: echo hi > o.txt\n"
                                               "params: [opt, lr, seed]\nouts: [o.txt]"))
    assert dvx("repro").code == 0
    assert "opt: null\n" in (repo / "dvx.lock").read_text()
    write(repo / "params.yaml", "opt: null\nlr: 1\nseed:\n")
    assert dvx("status", "-q").code == 0  # the same values, written otherwise
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "base")
    assert dvx("exp", "run", "-S", "lr=null").code == 0
    assert json.loads(dvx("params", "diff", "--json").stdout) == \
        {"params.yaml": {"lr": {"old": 1, "new": None}}}


def test_json_files_an_editor_began_with_a_byte_order_mark_are_read_as_yaml_ones_are(
        repo, dvx, tmp_path):
    """A Windows editor may begin a JSON file with a byte order mark and end its lines with
    CRLF (and -S keeps both): stage params, metrics and plots read it as they read YAML."""
    def windows(doc):
        return b"\xef\xbb\xbf" + json.dumps(doc, indent=2).replace("\n", "\r\n").encode()

    write(repo / "p.json", windows({"wd": 0.5}))
    write(repo / "m.src", windows({"acc": 0.9}))  # what the stage writes
    write(repo / "curve.src", windows([{"step": 1, "loss": 0.5}, {"step": 2, "loss": 0.25}]))
    write(repo / "dvx.yaml", "vars: [p.json]\n" + stage("cmd: echo ${wd} > o.txt; "
                                                       "cp m.src m.json; cp curve.src curve.json\n"
                                                       "params: [{p.json: [wd]}]\n"
                                                       "outs: [o.txt]\n"
                                                       "metrics: [{m.json: {cache: false}}]\n"
                                                       "plots: [{curve.json: {x: step}}]"))
    ran = dvx("repro")
    assert ran.code == 0, ran.output
    assert (repo / "o.txt").read_text() == "0.5\n"
    assert "wd: 0.5" in (repo / "dvx.lock").read_text()
    assert json.loads(dvx("params", "show", "--json").stdout)["workspace"]["data"][
        "p.json"]["data"] == {"wd": 0.5}
    assert json.loads(dvx("metrics", "show", "--json").stdout)["workspace"]["data"][
        "m.json"]["data"] == {"acc": 0.9}
    plots = dvx("plots", "show", "-o", str(tmp_path / "plots"))
    assert plots.code == 0 and "curve.json" not in plots.stderr, plots.output


def test_a_key_twice_in_a_yaml_or_json_file_is_refused(repo, dvx):
    """Two branches that each add a stage 'evaluate' merge cleanly into a dvx.yaml that has
    it twice; read last-one-wins, one of the stages would silently be gone."""
    write(repo / "dvx.yaml", "stages:\n  prepare: {cmd: echo p > p.txt, outs: [p.txt]}\n"
                             "  train: {cmd: cat p.txt > m.txt, deps: [p.txt], outs: [m.txt]}\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "base")
    git(repo, "checkout", "-qb", "alice")
    text = (repo / "dvx.yaml").read_text()
    write(repo / "dvx.yaml", text.replace("  train:", "  evaluate: {cmd: cat p.txt > a.json}\n"
                                                      "  train:"))
    git(repo, "commit", "-qam", "alice adds evaluate")
    git(repo, "checkout", "-q", "-")
    write(repo / "dvx.yaml", text + "  evaluate: {cmd: cat m.txt > b.json}\n")
    git(repo, "commit", "-qam", "bob adds evaluate")
    git(repo, "merge", "-q", "alice", "-m", "merge")  # clean: the two hunks do not touch
    for command in (("stage", "list"), ("status",), ("repro",)):
        result = dvx(*command)
        assert result.code == 1 and "Traceback" not in result.output
        assert "has the key 'evaluate' twice in one mapping (on line 3 and on line 5)" in \
            " ".join(result.stderr.split()), command
    write(repo / "dvx.yaml", stage("cmd: echo ${lr} > o.txt\nparams: [lr]\nouts: [o.txt]"))
    write(repo / "params.yaml", "lr: 0.1\nepochs: 3\nlr: 0.5\n")
    refused = " ".join(dvx("repro").stderr.split())
    assert "'params.yaml' has the key 'lr' twice in one mapping (on line 1 and on line 3)" \
        in refused
    write(repo / "params.yaml", "lr: 0.1\nsteps:\n  1: 10\n  '1': 20\n")  # both are param 'steps.1'
    refused = " ".join(dvx("repro").stderr.split())
    assert "has the key '1' twice in one mapping (on line 3 and on line 4, written 1 and '1', " \
        "which dvx reads as the same name)" in refused
    write(repo / "params.yaml", "lr: 0.1\n")
    assert dvx("repro").code == 0
    lock = (repo / "dvx.lock").read_text()
    write(repo / "dvx.lock", lock.replace("  s:\n", "  s:\n    cmd: echo 0.2 > o.txt\n", 1))
    assert "has the key 'cmd' twice" in " ".join(dvx("status").stderr.split())
    write(repo / "dvx.lock", lock)
    write(repo / "p.json", '{"lr": 0.1, "lr": 0.5}')
    write(repo / "dvx.yaml", stage("cmd: echo > o.txt\nparams:\n- p.json: [lr]\nouts: [o.txt]"))
    assert "'p.json' has the key 'lr' twice in one object" in " ".join(dvx("repro").stderr.split())
    assert (repo / "dvx.lock").read_text() == lock


def test_wdir_runs_the_command_there_and_paths_are_relative_to_it(repo, dvx):
    write(repo / "sub" / "in.txt", "hello\n")
    write(repo / "sub" / "params.yaml", "k: 1\n")
    write(repo / "dvx.yaml", "stages:\n  s:\n    wdir: sub\n    cmd: cp in.txt out.txt\n"
                             "    deps: [in.txt]\n    params: [k]\n    outs: [out.txt]\n")
    assert dvx("repro").code == 0
    assert (repo / "sub" / "out.txt").read_text() == "hello\n"
    assert "path: sub/out.txt" in (repo / "dvx.lock").read_text()
    assert "sub/params.yaml" in (repo / "dvx.lock").read_text()


def stage(body: str, name: str = "s") -> str:
    return f"stages:\n  {name}:\n" + "".join(f"    {line}\n" for line in body.splitlines())


OK_STAGE = "cmd: echo ran >> runs.log; cp in.txt out.txt\ndeps: [in.txt]\nouts: [out.txt]"

INVALID = [
    ("unknown top-level key", "stage:\n  s: {cmd: x}\n", ["unknown top-level key 'stage'"]),
    ("unknown stage key", stage(OK_STAGE + "\ndep: [x]"), ["Stage 's'", "unknown key 'dep'"]),
    ("unknown out option", stage("cmd: x\nouts:\n- o: {cache: false, cahce: true}"),
     ["Stage 's', key 'outs'", "unknown option 'cahce'"]),
    ("no cmd", stage("deps: [in.txt]"), ["Stage 's' has no 'cmd'"]),
    ("cmd not a string", stage("cmd: 3"), ["Stage 's', key 'cmd'"]),
    ("malformed interpolation", stage("cmd: echo ${oops\nouts: [o]"),
     ["Stage 's', key 'cmd'", "malformed interpolation"]),
    ("undefined variable", stage("cmd: echo ${nope.x}"), ["Stage 's', key 'cmd'",
                                                          "'${nope.x}' is not defined"]),
    ("bad stage name", "stages:\n  a/b: {cmd: x}\n", ["'a/b' is not a valid stage name"]),
    ("foreach without do", stage("foreach: [a]\ncmd: x"), ["Stage 's'", "foreach"]),
    ("duplicate foreach items", stage("foreach: [a, a]\ndo: {cmd: x}"),
     ["same stage name 's@a'"]),
    ("cycle", "stages:\n  a: {cmd: x, deps: [b.txt], outs: [a.txt]}\n"
              "  b: {cmd: x, deps: [a.txt], outs: [b.txt]}\n", ["cycle: a -> b -> a"]),
    ("depends on itself", stage("cmd: x\ndeps: [d]\nouts: [d/o]"),
     ["Stage 's' depends on its own output"]),
    ("reads inside its output", stage("cmd: x\ndeps: [ab, a/b/c]\nouts: [a]"),
     ["dependency 'a/b/c' and output 'a' overlap"]),
    ("reads its output", stage("cmd: x\ndeps: [z, o, d/o]\nouts: [p, o]"),
     ["dependency 'o' and output 'o' overlap"]),
    ("same output twice", "stages:\n  a: {cmd: x, outs: [o.txt]}\n  b: {cmd: x, outs: [o.txt]}\n",
     ["'o.txt' is an output of both stage 'a' and stage 'b'"]),
    ("nested outputs", "stages:\n  a: {cmd: x, outs: [d]}\n  b: {cmd: x, outs: [d/e.txt]}\n",
     ["Stage 'b': output 'd/e.txt' is inside 'd', an output of stage 'a'"]),
    ("output tracked by dvx add", stage("cmd: x\nouts: [tracked.csv]"),
     ["output 'tracked.csv' overlaps 'tracked.csv'", "tracked.csv.dvx"]),
    ("output is dvx.yaml", stage("cmd: x\nouts: [dvx.yaml]"),
     ["output 'dvx.yaml' is or holds 'dvx.yaml'", "deletes its outputs"]),
    ("output is dvx.lock", stage("cmd: x\nouts: [dvx.lock]"), ["is or holds 'dvx.lock'"]),
    ("output is a pointer file", stage("cmd: x\nouts: [tracked.csv.dvx]"),
     ["output 'tracked.csv.dvx' ends in '.dvx'"]),
    ("output is .gitignore", stage("cmd: x\nouts: [.gitignore]"), ["is or holds '.gitignore'"]),
    ("output named like a pointer file", stage("cmd: x\nouts: [report.dvx]"),
     ["output 'report.dvx' ends in '.dvx', as dvx's pointer files do"]),
    ("dep outside the repository", stage("cmd: x\ndeps: [../secret]"),
     ["Stage 's', key 'deps'", "outside the repository"]),
    ("absolute dep", stage("cmd: x\ndeps: [/etc/passwd]"), ["absolute path"]),
    ("output in .git", stage("cmd: x\nouts: [.git/hooks/post-checkout]"),
     ["Stage 's', key 'outs'", "'.git'"]),
    ("dep in .dvx", stage("cmd: x\ndeps: [.dvx/config]"), ["Stage 's', key 'deps'", "'.dvx'"]),
    ("wdir escaping", stage("cmd: x\nwdir: ..\n"), ["key 'wdir'", "outside the repository"]),
    ("through a symlinked parent", stage("cmd: x\ndeps: [elsewhere/x]"),
     ["Stage 's', key 'deps'", "symbolic link"]),
    ("params key with an empty part", stage("cmd: x\nparams: ['train..lr']"),
     ["Stage 's', key 'params': 'train..lr' is not a params key"]),
    ("missing params key", stage("cmd: x\nparams: [train.lrr]"),
     ["Stage 's', key 'params'", "'train.lrr' is not in 'params.yaml'"]),
    ("params file of unknown type", stage("cmd: x\nparams:\n- conf.ini: [a]"),
     ["not a YAML, JSON or TOML file"]),
    ("missing dependency", stage("cmd: x\ndeps: [nowhere.csv]"),
     ["Stage 's': the dependency 'nowhere.csv' does not exist"]),
    ("anchors", "x: &a {cmd: y}\nstages:\n  s: *a\n", ["anchors or aliases"]),
    ("huge matrix", stage("matrix:\n  a: ${big}\n  b: ${big}\ncmd: x"),
     ["key 'matrix'", "more than 10000 stages"]),
    ("not a mapping", "- just\n- a list\n", ["not a mapping"]),
    ("a terminal's colour code", stage("cmd: echo \x1b[31mred"),
     ["not valid YAML (line 3, column 15: the control character U+001B is not allowed: "
      "remove it, or write \\x1b in a double-quoted string)"]),
    ("a NUL", stage("cmd: x\0"), ["(line 3, column 11: the control character U+0000 is not"]),
    ("a long hex integer", "vars:\n- seed: 0x" + "f" * 4000 + "\n" + stage("cmd: echo ${seed}"),
     ["cannot be read: it has an integer of 4817 digits (dvx reads at most 4300)"]),
    ("a stage twice", "stages:\n  s: {cmd: x}\n  t: {cmd: y}\n  s: {cmd: z}\n",
     ["has the key 's' twice in one mapping (on line 2 and on line 4)"]),
    ("a key twice in a stage", stage("cmd: x\nouts: [a.txt]\nouts: [b.txt]"),
     ["has the key 'outs' twice in one mapping (on line 4 and on line 5)"]),
    ("a var in two mappings", "vars:\n  - n: 1\n  - n: 2\n" + stage("cmd: echo ${n}"),
     ["'n' is defined both in entry 1 of 'vars' and in entry 2 of 'vars'"]),
    ("a var mapping in two mappings", "vars:\n  - m: {a: 1}\n  - m: {b: 2}\n"
     + stage("cmd: echo ${m.a}"), ["'m' is defined both in entry 1 of 'vars' and in entry 2"]),
]


@pytest.mark.parametrize("body,expected", [(b, e) for _, b, e in INVALID],
                         ids=[i for i, _, _ in INVALID])
def test_invalid_pipelines_are_refused_before_anything_runs(repo, dvx, tmp_path, body,
                                                            expected):
    write(repo / "in.txt", "x\n")
    write(repo / "params.yaml", "train:\n  lr: 1\nbig: [" + ",".join(map(str, range(1000)))
          + "]\n")
    write(repo / "tracked.csv", "a\n")
    assert dvx("add", "tracked.csv").code == 0
    outside = tmp_path / "outside"
    outside.mkdir()
    (repo / "elsewhere").symlink_to(outside)
    write(repo / "dvx.yaml", body)
    commands = [("repro",), ("repro", "--dry"), ("dag",), ("stage", "list")]
    if any("does not exist" in e or "is not in 'params.yaml'" in e for e in expected):
        commands = [("repro",)]  # only matters when running
    for command in commands:
        result = dvx(*command)
        assert result.code != 0, (command, result.output)
        assert result.stderr.startswith("ERROR: ") and "Traceback" not in result.output
        assert result.stderr.count("ERROR") == 1
        text = " ".join(result.stderr.split())
        for part in expected:
            assert part in text, (command, text)
    assert not (repo / "runs.log").exists() and not (repo / "dvx.lock").exists()
    assert not (repo / "out.txt").exists()


def test_stages_holding_anything_but_a_mapping_is_refused_before_dvx_lock_changes(repo, dvx):
    """`stages: false`, `0`, `''` or `[]` is no pipeline without stages (`stages: {}` is): each
    is refused as `stages: 5` is, by every command reading dvx.yaml, rather than taken as
    none, which would make repro and exp run drop every dvx.lock entry."""
    run_and_commit(repo, stage("cmd: echo hi > o.txt\nouts: [o.txt]"), "base")
    lock = (repo / "dvx.lock").read_bytes()
    for value, named in (("false", "false"), ("0", "the number 0"),
                         ("''", "an empty string"), ("[]", "an empty list"),
                         ("[s]", "a list"), ("5", "the number 5")):
        write(repo / "dvx.yaml", f"stages: {value}\n")
        for args in (["repro"], ["repro", "--dry"], ["exp", "run"], ["status"],
                     ["metrics", "show"], ["stage", "list"]):
            refused = dvx(*args)
            assert refused.code == 1, (value, args, refused.output)
            assert refused.stderr.count("ERROR") == 1 and "Traceback" not in refused.output
            message = " ".join(refused.stderr.split())
            assert (f"'stages' in dvx.yaml is {named}, not a mapping of stage names to stages."
                    in message and "`stages: {}` says there are none" in message), message
            assert (repo / "dvx.lock").read_bytes() == lock
            assert git(repo, "status", "--porcelain", "--", ":!dvx.yaml") == ""
    assert git(repo, "for-each-ref", "refs/exps") == ""


_RUN_AND_GIT_ADDED = """stages:
  s:
    cmd: mkdir -p out && cat in.txt > out/a && echo s >> runs.log
    deps: [in.txt]
    outs: [out]
  p:
    cmd: mkdir -p pout && cat in.txt >> pout/a && echo p >> runs.log
    deps: [in.txt]
    outs:
      - pout:
          persist: true
  f:
    foreach: [x, y]
    do:
      cmd: mkdir -p fo-${item} && cat in.txt > fo-${item}/a && echo f >> runs.log
      deps: [in.txt]
      outs: ["fo-${item}"]
"""


@pytest.mark.parametrize("args", [(), ("--force",), ("-s", "s"), ("--force", "-s", "s"),
                                  ("p",), ("--force", "p"), ("f@x",), ("-s", "f")])
def test_a_file_git_adds_into_a_run_stage_s_output_is_never_deleted_by_repro(repo, dvx, args):
    """Stages run and committed, then a file put in Git (`git add -f`) inside each cached
    output and edited: whatever stages repro selects (--force, -s, a foreach item, a
    persistent output), it refuses before any command runs, and Git's files keep the edit.
    The refusal of the persistent one alone says the run would record them as its data."""
    write(repo / "in.txt", "1\n")
    run_and_commit(repo, _RUN_AND_GIT_ADDED, "run")
    for folder in ("out", "pout", "fo-x"):
        write(repo / folder / "code.py", "print(1)\n")
        git(repo, "add", "-f", f"{folder}/code.py")
    git(repo, "commit", "-qm", "code in the outputs")
    for folder in ("out", "pout", "fo-x"):
        write(repo / folder / "code.py", "print(1)\nprint(2)  # my uncommitted edit\n")
    write(repo / "in.txt", "2\n")
    runs = (repo / "runs.log").read_text()
    refused = dvx("repro", *args)
    assert refused.code != 0 and "Traceback" not in refused.output, refused.output
    why = ("a run keeps a persistent output (persist: true) and records all it holds as the "
           "stage's data, Git's files too" if args[-1:] == ("p",)
           else "a stage deletes its outputs before it runs")
    assert f"is in the Git index), and {why}, so nothing was run" in \
        " ".join(refused.stderr.split()), refused.output
    assert (repo / "runs.log").read_text() == runs
    for folder in ("out", "pout", "fo-x"):
        assert (repo / folder / "code.py").read_text() == \
            "print(1)\nprint(2)  # my uncommitted edit\n"
        assert (repo / folder / "a").is_file()


def test_an_output_git_tracks_is_refused_before_anything_is_deleted(repo, dvx):
    write(repo / "src" / "model.py", "print('mine')\n")
    git(repo, "add", "src/model.py")
    git(repo, "commit", "-qm", "code")
    write(repo / "dvx.yaml", stage("cmd: echo ran > runs.log\nouts: [src]"))
    result = dvx("repro")
    assert result.code != 0 and "Traceback" not in result.output
    text = " ".join(result.stderr.split())
    assert "output 'src' is tracked by Git ('src/model.py'" in text and "git rm -r --cached" in text
    assert (repo / "src/model.py").read_text() == "print('mine')\n"
    assert not (repo / "runs.log").exists()


def test_status_and_repro_without_a_pipeline(repo, dvx):
    result = dvx("repro")
    assert result.code == 2 and "There is no dvx.yaml" in result.stderr
    assert dvx("status", "-q").code == 0
    assert "No stages yet" in dvx("stage", "list").stdout


def test_a_dvx_yaml_below_the_root_is_named_as_not_read(repo, dvx):
    write(repo / "sub" / "dvx.yaml", stage("cmd: echo hi > o.txt\nouts: [o.txt]"))
    for cwd in (repo / "sub", repo):  # found where the user is, or by asking Git
        missing = dvx("repro", cwd=cwd)
        assert missing.code == 2 and "There is no dvx.yaml in" in missing.stderr
        assert "sub/dvx.yaml is not read: dvx reads one dvx.yaml per repository" in (
            missing.stderr) and "`wdir: sub`" in missing.stderr
    assert "sub/dvx.yaml is not read" in dvx("status").stderr

    write(repo / "dvx.yaml", stage("cmd: echo r > r.txt\nouts: [r.txt]", "r"))
    for cwd in (repo / "sub", repo):
        ran = dvx("repro", cwd=cwd)
        assert ran.code == 0 and ran.stderr.count("WARNING: sub/dvx.yaml is not read") == 1
        status = dvx("status", cwd=cwd)
        assert status.stderr.count("WARNING: sub/dvx.yaml is not read") == 1
    assert (repo / "r.txt").exists() and not (repo / "sub" / "o.txt").exists()
    (repo / "sub" / "dvx.yaml").unlink()
    assert "WARNING" not in dvx("repro").stderr


# A stage writing a folder of project templates: its dvx.yaml is the stage's data.
TEMPLATES_STAGE = stage("""cmd: "mkdir -p out/tmpl && printf 'stages: {}\\n' > out/tmpl/dvx.yaml"
outs: [out]""", "gen")


def test_a_dvx_yaml_that_is_data_is_not_named_as_not_read(repo, tmp_path, dvx):
    """Inside a folder `dvx add` tracks, a stage's output or a folder Git ignores (a
    virtualenv's), a dvx.yaml is data, not a pipeline file: no warning, wherever dvx runs."""
    write(repo / "templates" / "proj1" / "dvx.yaml", "stages: {}\n")
    assert dvx("add", "templates").code == 0
    write(repo / "venv" / "lib" / "pkg" / "dvx.yaml", "stages: {}\n")
    with open(repo / ".gitignore", "a") as f:
        f.write("venv/\n")
    write(repo / "dvx.yaml", TEMPLATES_STAGE)
    assert dvx("repro").code == 0 and (repo / "out" / "tmpl" / "dvx.yaml").exists()
    for cwd in (repo, repo / "templates" / "proj1", repo / "out" / "tmpl",
                repo / "venv" / "lib" / "pkg"):
        status = dvx("status", cwd=cwd)
        assert status.code == 0 and "not read" not in status.stderr, (cwd, status.stderr)
    assert "not read" not in dvx("repro", cwd=repo / "out" / "tmpl").stderr

    plain = tmp_path / "plain"  # without Git, every command walks the workspace
    plain.mkdir()
    assert dvx("init", "--no-scm", cwd=plain).code == 0
    write(plain / "dvx.yaml", TEMPLATES_STAGE)
    assert dvx("repro", cwd=plain).code == 0
    for cwd in (plain, plain / "out" / "tmpl"):
        status = dvx("status", cwd=cwd)
        assert status.code == 0 and "not read" not in status.stderr, (cwd, status.stderr)
    write(plain / "sub" / "dvx.yaml", "stages: {}\n")  # one meant for the pipeline still is
    assert "WARNING: sub/dvx.yaml is not read" in dvx("status", cwd=plain).stderr


def test_a_hostile_lock_file_is_refused(repo: Path, dvx):
    write(repo / "dvx.yaml", stage("cmd: x\nouts: [o.txt]"))
    write(repo / "dvx.lock", "dvx: 1\nalgo: xxh128\nstages:\n  s:\n    cmd: x\n    outs:\n"
                             "    - path: ../../etc/passwd\n      oid: " + "0" * 32 +
                             "\n      size: 1\n")
    for command in (("status",), ("checkout",), ("repro",)):
        result = dvx(*command)
        assert result.code != 0
        assert "dvx.lock (stage 's') is invalid" in result.stderr, command
    write(repo / "dvx.lock", "dvx: 2\nstages: {}\n")
    assert "newer dvx" in dvx("status").stderr


@pytest.mark.parametrize("version", ["1.0", "!!float 1", "true"])
def test_a_lock_file_version_that_is_not_the_integer_1_is_refused(repo: Path, dvx, version):
    """formats.md: `dvx` is the integer 1; Python calls 1.0 and true equal to it."""
    write(repo / "dvx.yaml", stage("cmd: echo hi > o.txt\nouts: [o.txt]"))
    assert dvx("repro").code == 0
    text = (repo / "dvx.lock").read_text()
    write(repo / "dvx.lock", text.replace("\ndvx: 1\n", f"\ndvx: {version}\n"))
    result = dvx("status")
    assert result.code != 0 and "no valid 'dvx: 1' line" in result.stderr, result.output


@pytest.mark.parametrize("where", ["top", "stage", "output"])
def test_unknown_keys_in_the_lock_file_ask_for_a_newer_dvx_not_a_deletion(repo: Path, dvx,
                                                                          where):
    """A newer dvx may have written them: deleting dvx.lock would drop what it recorded."""
    write(repo / "dvx.yaml", stage("cmd: echo hi > o.txt\nouts: [o.txt]"))
    assert dvx("repro").code == 0
    text = (repo / "dvx.lock").read_text()
    anchor = {"top": "stages:", "stage": "    cmd:", "output": "      oid:"}[where]
    indent = anchor[:len(anchor) - len(anchor.lstrip())]
    write(repo / "dvx.lock", text.replace(anchor, f"{indent}future_key: 1\n{anchor}", 1))
    for command in (("status",), ("repro",)):
        result = dvx(*command)
        message = " ".join(result.stderr.split())
        assert result.code != 0, command
        assert "unknown keys: future_key" in message, message
        assert "may come from a newer dvx; upgrade dvx" in message, message
        assert "restore it from Git" in message and "delete" not in message, message


def test_a_lock_output_below_a_symlinked_directory_is_never_written(repo, dvx, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (repo / "link").symlink_to(outside)
    write(repo / "x.txt", "payload\n")
    assert dvx("add", "x.txt").code == 0  # the object is in the cache
    oid = (repo / "x.txt.dvx").read_text().split("oid: ")[1].split()[0]
    write(repo / "dvx.lock", f"dvx: 1\nalgo: xxh128\nstages:\n  s:\n    cmd: x\n    outs:\n"
                             f"    - path: link/evil.txt\n      oid: {oid}\n      size: 8\n")
    for command in (("checkout",), ("pull",), ("status",)):
        result = dvx(*command)
        assert result.code != 0 and "symbolic link" in result.stderr, command
    assert list(outside.iterdir()) == []


def test_a_file_named_like_a_pointer_left_in_an_output_by_its_stage_is_named_with_rm(repo, dvx):
    """A stage whose command wrote a `*.dvx` file into its output folder fails, as dvx takes
    the file for a pointer; once the command no longer writes it, the file left there is no
    pointer of `dvx add` to remove but a file to delete: named so, with `rm`, and then
    the stage runs."""
    write(repo / "dvx.yaml", "stages:\n  gen:\n    cmd: mkdir -p out && echo a > out/a.txt"
                             " && echo b > out/b.dvx\n    outs: [out]\n")
    assert dvx("repro").code == 1
    write(repo / "dvx.yaml", "stages:\n  gen:\n    cmd: mkdir -p out && echo a > out/a.txt\n"
                             "    outs: [out]\n")
    refused = dvx("repro")
    said = " ".join(refused.stderr.split())
    assert refused.code == 1, refused.output
    assert ("Stage 'gen': output 'out' holds 'out/b.dvx', which is named like a dvx pointer "
            "file but is not a valid one (left by a run of the stage?)") in said, said
    assert "`rm -- out/b.dvx`" in said and "dvx remove" not in said and "(dvx add)" not in said
    assert (repo / "out" / "b.dvx").exists()
    (repo / "out" / "b.dvx").unlink()
    ran = dvx("repro")
    assert ran.code == 0, ran.output


@pytest.mark.parametrize("command", [["status"], ["stage", "list"], ["repro", "--dry"],
                                     ["stage", "add", "-n", "t", "true"]])
def test_a_dvx_yaml_that_is_a_fifo_is_refused_at_once(repo, command):
    """dvx.yaml as a FIFO would hold the command until some process wrote to it: it is
    refused as no regular file, as a FIFO dvx.lock is, and left as it is."""
    os.mkfifo(repo / "dvx.yaml")
    result = run_dvx_proc(*command, cwd=repo, timeout=60)  # a regression fails, never hangs
    assert result.code != 0
    assert "Cannot read dvx.yaml: not a regular file (a FIFO, socket or device)." \
        in result.stderr, result.output
    assert "Traceback" not in result.output



@pytest.mark.parametrize(("name", "command", "here"), [
    ("dvx.yaml", "status", "."), ("dvx.lock", "repro", "."), (".dvx/config", "status", "."),
    ("dvx.yaml", "status", "sub"), (".dvx/config", "status", "sub")])
def test_an_unreadable_pipeline_or_config_file_is_named_from_here_with_the_fix(
        repo, dvx, name, command, here):
    assert dvx("stage", "add", "-n", "s", "-o", "o.txt", "echo 1 > o.txt").code == 0
    assert dvx("repro").code == 0
    (repo / "sub").mkdir()
    (repo / name).chmod(0)
    try:
        result = dvx_unprivileged(repo / here, command)
    finally:
        (repo / name).chmod(0o644)
    typed = os.path.relpath(repo / name, repo / here)
    assert result.returncode != 0, result.stderr
    said = " ".join(result.stderr.split())
    assert "Permission denied." in said, said
    assert f"Make it readable (`chmod u+r {typed}`, as its owner, or fix the folder holding " \
        "it) and run the command again." in said, said
    assert "Traceback" not in result.stderr


def test_add_beside_an_unreadable_params_file_blames_that_file_with_its_fix(repo, dvx):
    write(repo / "params.yaml", "lr: 0.1\n")
    assert dvx("stage", "add", "-n", "s", "-p", "lr", "-o", "o.txt", "echo > o.txt").code == 0
    write(repo / "model.bin", "m\n")
    (repo / "params.yaml").chmod(0)
    try:
        result = dvx_unprivileged(repo, "add", "model.bin")
    finally:
        (repo / "params.yaml").chmod(0o644)
    said = " ".join(result.stderr.split())
    assert result.returncode == 0, said
    assert "Did not check 'model.bin' against the outputs dvx.yaml declares, since what it " \
        "declares cannot be known: Cannot read the params file 'params.yaml': Permission " \
        "denied. Make it readable (`chmod u+r params.yaml`" in said, said
    assert "since it cannot be read" not in said


def test_an_unreadable_params_file_is_named_with_the_fix(repo, dvx):
    write(repo / "params.yaml", "lr: 0.1\n")
    assert dvx("stage", "add", "-n", "s", "-p", "lr", "-o", "o.txt", "echo > o.txt").code == 0
    (repo / "params.yaml").chmod(0)
    try:
        result = dvx_unprivileged(repo, "repro")
    finally:
        (repo / "params.yaml").chmod(0o644)
    assert result.returncode == 1, result.stderr
    assert result.stderr == "ERROR: Cannot read the params file " \
        "'params.yaml': Permission denied. Make it readable (`chmod u+r params.yaml`, as its " \
        "owner, or fix the folder holding it) and run the command again.\n"
