"""Pipelines and remotes: outputs recorded in dvx.lock travel with push/pull like any tracked
data, and `--run-cache` shares past runs, so another clone (CI) restores a colleague's run
instead of running it."""

from __future__ import annotations

import json
import re
import shlex
import shutil
from pathlib import Path

import xxhash
from conftest import git, run_dvx_proc, write
from pipeline_kit import make_ml_repo, run_and_commit, runs
from remotes import local_spec, pointer_oid
from servers import free_port

from dvx.lockfile import read_lock

ALL = ["prepare", "featurize", "train", "evaluate", "stats"]


def origin_with_remote(repo: Path, dvx, tmp_path: Path, commit_lock: bool) -> Path:
    """Run the ML pipeline in `repo`, push everything (and the run-cache) to a directory
    remote that the committed config names, and return the remote."""
    make_ml_repo(repo)
    store = tmp_path / "store"
    assert dvx("remote", "add", "-d", "storage", str(store)).code == 0
    assert dvx("repro").code == 0
    if not commit_lock:
        with (repo / ".gitignore").open("a") as f:
            f.write("dvx.lock\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "pipeline")
    assert "model.json" not in git(repo, "ls-files")
    result = dvx("push", "--run-cache")
    assert result.code == 0, result.output
    assert "Pushed 5 run records of the run-cache." in result.stdout
    assert len(list((store / "runs" / "xxh128").glob("*/*"))) == 5
    return store


def cached_oids(repo: Path) -> set[str]:
    return {f"{p.parent.name}{p.name}" for p in (repo / ".dvx" / "cache").rglob("*")
            if p.is_file() and len(p.parent.name) == 2}


def clone(origin: Path, where: Path) -> Path:
    git(origin.parent, "clone", "-q", str(origin), str(where))
    return where


def test_a_clone_restores_a_colleagues_runs_from_the_shared_run_cache(repo, dvx, tmp_path):
    origin_with_remote(repo, dvx, tmp_path, commit_lock=False)
    ci = clone(repo, tmp_path / "ci")
    result = dvx("pull", "--run-cache", cwd=ci)
    assert result.code == 0, result.output
    assert "Fetched 5 run records of the run-cache." in result.stdout
    result = dvx("repro", cwd=ci)
    assert result.code == 0, result.output
    assert runs(ci) == [], "every stage must be restored, none run"
    for name in ALL:
        assert f"Restored '{name}' from the run-cache (never run)." in result.stdout
    for path in ("model.json", "metrics.json", "stats.json", "data/features/train.csv"):
        assert (ci / path).read_bytes() == (repo / path).read_bytes()
    assert (ci / "dvx.lock").read_bytes() == (repo / "dvx.lock").read_bytes()
    assert dvx("status", "-q", cwd=ci).code == 0


def test_repro_pull_fetches_data_and_runs_first(repo, dvx, tmp_path):
    origin_with_remote(repo, dvx, tmp_path, commit_lock=False)
    ci = clone(repo, tmp_path / "ci")
    result = dvx("repro", "--pull", "train", cwd=ci)
    assert result.code == 0, result.output
    assert runs(ci) == []
    assert "Restored 'train' from the run-cache" in result.stdout
    assert not (ci / "stats.json").exists()  # not a target


def test_repro_dry_pull_plans_with_the_data_the_remote_holds_as_the_real_run_does(
        repo, dvx, tmp_path):
    """In a fresh clone, `repro --dry --pull` asks the remote what it holds (downloading
    only the manifests of its directories) and says what the real `repro --pull` does: fetch
    and check out the data, run nothing. So with outputs deleted since. Data the remote lacks
    is refused as the real run refuses it."""
    origin_with_remote(repo, dvx, tmp_path, commit_lock=True)
    ci = clone(repo, tmp_path / "ci")
    dry = dvx("repro", "--dry", "--pull", cwd=ci)
    assert dry.code == 0, dry.output
    assert dry.stdout.startswith("Would fetch from the remote and check out: data/features, "
                                 "data/prepared, stats.json, model.json.\n")
    assert "Would run" not in dry.stdout and "missing" not in dry.output, dry.output
    assert dry.stdout.endswith("No stage would run: every stage is up to date once that data "
                               "is in place.\n")
    assert not (ci / "model.json").exists()
    manifests = {o.oid for lock in read_lock(ci, "xxh128").values() for o in lock.outs
                 if o.is_dir}
    assert cached_oids(ci) == manifests and len(manifests) == 2
    real = dvx("repro", "--pull", cwd=ci)
    assert real.code == 0, real.output
    assert runs(ci) == [] and (ci / "model.json").exists()

    (ci / "model.json").unlink()
    shutil.rmtree(ci / ".dvx" / "cache")
    dry = dvx("repro", "--dry", "--pull", "--json", cwd=ci)
    assert dry.code == 0, dry.output
    planned = json.loads(dry.stdout)
    assert planned["would_pull"] == [{"path": "model.json", "fetched": True}]
    assert {s["outcome"] for s in planned["stages"]} == {"up-to-date"}
    assert "Would run stage 'train': missing outs: model.json\n" in dvx(
        "repro", "--dry", cwd=ci).stdout  # without --pull: it runs

    (tmp_path / "empty").mkdir()
    assert dvx("remote", "add", "--local", "-d", "empty", str(tmp_path / "empty"),
               cwd=ci).code == 0
    refused = dvx("repro", "--dry", "--pull", cwd=ci)
    assert refused.code == 1
    assert refused.stderr.startswith("ERROR: `repro --pull` could not fetch the data of "
                                     "model.json: neither the cache nor the remote holds it")


def _run_push_commit_and_clone(repo: Path, dvx, tmp_path: Path) -> Path:
    """The pipeline run, its data pushed and all committed: a fresh clone of that, as CI
    gets it."""
    assert dvx("repro").code == 0 and dvx("push").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "v1")
    return clone(repo, tmp_path / "ci")


def test_repro_dry_pull_counts_a_tracked_dependency_the_remote_holds_as_there(
        repo, dvx, tmp_path):
    """A `dvx add`ed dependency missing in a fresh clone: the dry run of --pull does not
    refuse it as missing (the real run fetches it first)."""
    assert dvx("remote", "add", "-d", "storage", str(tmp_path / "store")).code == 0
    write(repo / "raw.csv", "hello\n")
    assert dvx("add", "raw.csv").code == 0
    assert dvx("stage", "add", "-n", "prep", "-d", "raw.csv", "-o", "out.txt",
               "cat raw.csv > out.txt").code == 0
    ci = _run_push_commit_and_clone(repo, dvx, tmp_path)
    dry = dvx("repro", "--dry", "--pull", cwd=ci)
    assert dry.code == 0, dry.output
    assert dry.stdout == ("Would fetch from the remote and check out: raw.csv, out.txt.\n"
                          "Stage 'prep' is up to date.\n"
                          "No stage would run: every stage is up to date once that data is in "
                          "place.\n")
    real = dvx("repro", "--pull", cwd=ci)
    assert real.code == 0 and "Stage 'prep' is up to date." in real.stdout, real.output


def test_repro_dry_pull_reads_a_file_inside_a_tracked_directory_of_a_fresh_clone(
        repo, dvx, tmp_path):
    """A dependency inside a `dvx add`ed directory of a fresh clone: the dry run fetches the
    directory's manifest to know the file the real run's pull brings, so it agrees with the
    real run (the stage is up to date), and downloads nothing more."""
    assert dvx("remote", "add", "-d", "storage", str(tmp_path / "store")).code == 0
    write(repo / "raw" / "f1", "a\n")
    write(repo / "raw" / "f2", "b\n")
    assert dvx("add", "raw").code == 0
    assert dvx("stage", "add", "-n", "s", "-d", "raw/f1", "-o", "o.txt",
               "cat raw/f1 > o.txt").code == 0
    ci = _run_push_commit_and_clone(repo, dvx, tmp_path)
    dry = dvx("repro", "--dry", "--pull", cwd=ci)
    assert dry.code == 0, dry.output
    assert dry.stdout == ("Would fetch from the remote and check out: raw, o.txt.\n"
                          "Stage 's' is up to date.\n"
                          "No stage would run: every stage is up to date once that data is in "
                          "place.\n")
    assert cached_oids(ci) == {pointer_oid(ci / "raw.dvx")}
    real = dvx("repro", "--pull", cwd=ci)
    assert real.code == 0 and "Stage 's' is up to date." in real.stdout, real.output


def test_repro_dry_pull_plans_a_directory_pulled_in_part_as_its_checkout_completes_it(
        repo, dvx, tmp_path):
    """An output directory some of whose files were deleted: the real run's pull restores
    them, and runs nothing, so the dry run says so (not that both stages would run)."""
    assert dvx("remote", "add", "-d", "storage", str(tmp_path / "store")).code == 0
    write(repo / "raw" / "f1", "r1\n")
    write(repo / "raw" / "f2", "r2\n")
    assert dvx("add", "raw").code == 0
    assert dvx("stage", "add", "-n", "prep", "-d", "raw", "-o", "feat",
               "mkdir -p feat && cp raw/* feat/").code == 0
    assert dvx("stage", "add", "-n", "train", "-d", "feat", "-o", "model.txt",
               "cat feat/* > model.txt").code == 0
    ci = _run_push_commit_and_clone(repo, dvx, tmp_path)
    assert dvx("pull", "feat", cwd=ci).code == 0
    (ci / "feat" / "f1").unlink()
    dry = dvx("repro", "--dry", "--pull", "--json", cwd=ci)
    assert dry.code == 0, dry.output
    planned = json.loads(dry.stdout)
    assert {"path": "feat", "fetched": False} in planned["would_pull"]
    assert [s["outcome"] for s in planned["stages"]] == ["up-to-date", "up-to-date"]
    real = dvx("repro", "--pull", cwd=ci)
    assert real.code == 0, real.output
    assert runs(ci) == [] and (ci / "feat" / "f1").read_text() == "r1\n"


def test_repro_dry_pull_counts_bytes_one_remote_holds_for_an_output_of_another(
        repo, dvx, tmp_path):
    """An output whose own remote lacks its bytes, which the default remote holds for a
    tracked input with the same content: the real run's fetch from the default remote brings
    them for both, and the dry run, asking each remote in turn, agrees."""
    assert dvx("remote", "add", "-d", "storage", str(tmp_path / "s1")).code == 0
    assert dvx("remote", "add", "archive", str(tmp_path / "s2")).code == 0
    write(repo / "raw.txt", "raw\n")
    assert dvx("add", "raw.txt").code == 0
    write(repo / "dvx.yaml", """\
stages:
  make:
    cmd: cat raw.txt > copy.bin
    deps: [raw.txt]
    outs:
    - copy.bin: {remote: archive}
""")
    assert dvx("repro").code == 0
    assert dvx("push", "-r", "storage", "raw.txt").code == 0  # copy.bin never pushed
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "v1")
    ci = clone(repo, tmp_path / "ci")
    dry = dvx("repro", "--dry", "--pull", cwd=ci)
    assert dry.code == 0, dry.output
    assert dry.stdout == ("Would fetch from the remote and check out: raw.txt, copy.bin.\n"
                          "Stage 'make' is up to date.\n"
                          "No stage would run: every stage is up to date once that data is in "
                          "place.\n")
    real = dvx("repro", "--pull", cwd=ci)
    assert real.code == 0 and "Stage 'make' is up to date." in real.stdout, real.output


def test_repro_pull_and_its_dry_run_ask_every_remote_and_name_together_those_not_read(
        repo, dvx, tmp_path):
    """Outputs on two remotes of their own, both out of reach (servers down): the dry run of
    --pull asks each (for a directory's manifest, for a file's object), and its error names
    both, as `dvx status -c` does, not the first alone; the real run names them too, after
    what its pull did, and runs no stage to make data they may hold. With --allow-missing
    both go on, the stages that make that data run, and the real run names the remotes."""
    assert dvx("remote", "add", "-d", "storage", str(tmp_path / "s0")).code == 0
    write(repo / "raw.txt", "raw\n")
    assert dvx("add", "raw.txt").code == 0
    write(repo / "dvx.yaml", """\
stages:
  x:
    cmd: echo x > x.bin
    outs:
    - x.bin: {remote: xs}
  y:
    cmd: mkdir -p y && echo y > y/f
    outs:
    - y: {remote: ys}
""")
    for name in ("xs", "ys"):
        assert dvx("remote", "add", name, str(tmp_path / name)).code == 0
    ci = _run_push_commit_and_clone(repo, dvx, tmp_path)
    for name in ("xs", "ys"):  # a closed loopback port: refused at once
        for option, value in (("url", f"s3://bucket/{name}"),
                              ("endpointurl", f"http://127.0.0.1:{free_port()}"),
                              ("access_key_id", "key"), ("secret_access_key", "secret"),
                              ("retries", "1")):
            assert dvx("remote", "modify", name, option, value, cwd=ci).code == 0
    dry = dvx("repro", "--dry", "--pull", cwd=ci)
    assert dry.code == 1, dry.output
    assert "the remote 'xs' (s3://bucket/xs)" in dry.stderr, dry.stderr
    assert "the remote 'ys' (s3://bucket/ys)" in dry.stderr, dry.stderr
    assert dry.stderr.count("ERROR:") == 1 and dry.stdout == "", dry.output
    real = dvx("repro", "--pull", cwd=ci)
    assert real.code == 1, real.output
    assert "Not in the cache (not fetched: the remote 'xs' could not be read, below): x.bin." \
        in real.stderr, real.stderr
    error = real.stderr.split("ERROR:")[1]
    assert "the remote 'xs'" in error and "the remote 'ys'" in error, real.stderr
    assert "Running stage" not in real.output and not (ci / "x.bin").exists()
    dry = dvx("repro", "--dry", "--pull", "--allow-missing", "--json", cwd=ci)
    assert dry.code == 0, dry.output  # asked to go on: the stages that make it would run
    assert [s["outcome"] for s in json.loads(dry.stdout)["stages"]] == ["would-run"] * 2
    real = dvx("repro", "--pull", "--allow-missing", cwd=ci)
    assert real.code == 0, real.output
    problem = real.stderr.split("Problem:")[1]
    assert "the remote 'xs'" in problem and "the remote 'ys'" in problem, real.stderr
    assert (ci / "x.bin").read_text() == "x\n"


def test_repro_pull_allow_missing_goes_on_when_the_only_remote_asked_cannot_be_read(
        repo, dvx, tmp_path):
    """The one remote the pull needs (an output's own, its server down) cannot be read, and
    the cache holds every input: --allow-missing goes on as with several remotes, checks out
    the inputs, runs the stage that makes the output and names the remote on a Problem:
    line; without it, the error names the remote and no stage runs."""
    assert dvx("remote", "add", "-d", "storage", str(tmp_path / "s0")).code == 0
    assert dvx("remote", "add", "xs", str(tmp_path / "xs")).code == 0
    write(repo / "a.txt", "a\n")
    assert dvx("add", "a.txt").code == 0
    write(repo / "dvx.yaml", """\
stages:
  s:
    cmd: tr a-z A-Z < a.txt > b.txt
    deps: [a.txt]
    outs:
    - b.txt: {remote: xs}
""")
    ci = _run_push_commit_and_clone(repo, dvx, tmp_path)
    assert dvx("fetch", "a.txt", cwd=ci).code == 0
    assert dvx("remote", "modify", "xs", "url", f"ssh://127.0.0.1:{free_port()}/x",
               cwd=ci).code == 0  # a closed loopback port: refused at once
    refused = dvx("repro", "--pull", cwd=ci)
    assert refused.code != 0 and "the remote 'xs'" in refused.stderr, refused.output
    assert "Running stage" not in refused.output and not (ci / "b.txt").exists()
    real = dvx("repro", "--pull", "--allow-missing", cwd=ci)
    assert real.code == 0, real.output
    assert "the remote 'xs'" in real.stderr.split("Problem:")[1], real.stderr
    assert (ci / "a.txt").read_text() == "a\n" and (ci / "b.txt").read_text() == "A\n"


def test_repro_pull_allow_missing_runs_a_teammate_s_stage_when_the_only_remote_is_gone(
        repo, dvx, tmp_path):
    """A teammate's new run pulled with Git, its outputs not in this cache, and the only
    remote out of reach: --allow-missing runs the stage that makes them (its outputs could
    not be fetched), as when the remote merely lacks them."""
    store = tmp_path / "s0"
    assert dvx("remote", "add", "-d", "storage", str(store)).code == 0
    write(repo / "a.txt", "a\n")
    write(repo / "dvx.yaml", "stages:\n  s:\n    cmd: tr a-z A-Z < a.txt > b.txt\n"
                             "    deps: [a.txt]\n    outs: [b.txt]\n")
    ci = _run_push_commit_and_clone(repo, dvx, tmp_path)
    assert dvx("pull", cwd=ci).code == 0
    write(repo / "a.txt", "c\n")
    assert dvx("repro").code == 0 and dvx("push").code == 0
    git(repo, "commit", "-qam", "v2")
    git(ci, "pull", "-q")
    store.rename(tmp_path / "s0-away")
    ran = dvx("repro", "--pull", "--allow-missing", cwd=ci)
    assert ran.code == 0, ran.output
    assert "its outputs could not be fetched: b.txt" in ran.stdout, ran.output
    assert (ci / "b.txt").read_text() == "C\n"


def _dry_then_real_pull(ci: Path, dvx) -> tuple[dict, dict]:
    """The --json summaries of `repro --dry --pull`, then of the real `repro --pull`."""
    dry = dvx("repro", "--dry", "--pull", "--json", cwd=ci)
    assert dry.code == 0, dry.output
    real = dvx("repro", "--pull", "--json", cwd=ci)
    assert real.code == 0, real.output
    return json.loads(dry.stdout), json.loads(real.stdout)


def _outcomes(summary: dict) -> dict[str, str]:
    return {s["name"]: s["outcome"] for s in summary["stages"]}


def test_repro_dry_pull_commits_no_tracked_directory_its_pull_completes(repo, dvx, tmp_path):
    """A `dvx add`ed directory lacking one of its files: the real run's pull restores the
    file and commits nothing, so the dry run plans that checkout, not a commit of the
    directory as it is."""
    assert dvx("remote", "add", "-d", "storage", str(tmp_path / "store")).code == 0
    write(repo / "data" / "f1", "1\n")
    write(repo / "data" / "f2", "2\n")
    assert dvx("add", "data").code == 0
    assert dvx("stage", "add", "-n", "count", "-d", "data", "-o", "n.txt",
               "ls data | wc -l > n.txt").code == 0
    ci = _run_push_commit_and_clone(repo, dvx, tmp_path)
    assert dvx("pull", cwd=ci).code == 0
    (ci / "data" / "f2").unlink()
    planned, real = _dry_then_real_pull(ci, dvx)
    assert planned["would_pull"] == [{"path": "data", "fetched": False}]
    assert planned["committed_inputs"] == real["committed_inputs"] == []
    assert _outcomes(planned) == _outcomes(real) == {"count": "up-to-date"}
    assert (ci / "data" / "f2").read_text() == "2\n"
    assert git(ci, "status", "--porcelain") == ""


def test_repro_dry_pull_plans_a_teammates_data_that_came_with_git_pull(repo, dvx, tmp_path):
    """After `git pull` brought a teammate's new version of an input, the dry run plans
    fetching and checking it out, as the real run does, instead of refusing it as changed
    in Git since the workspace was synced."""
    assert dvx("remote", "add", "-d", "storage", str(tmp_path / "store")).code == 0
    write(repo / "data.csv", "v1\n")
    assert dvx("add", "data.csv").code == 0
    assert dvx("stage", "add", "-n", "count", "-d", "data.csv", "-o", "n.txt",
               "wc -c data.csv > n.txt").code == 0
    ci = _run_push_commit_and_clone(repo, dvx, tmp_path)
    assert dvx("pull", cwd=ci).code == 0
    write(repo / "data.csv", "v2-longer\n")
    assert dvx("add", "data.csv").code == 0
    assert dvx("repro").code == 0 and dvx("push").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "v2")
    git(ci, "pull", "-q")
    planned, real = _dry_then_real_pull(ci, dvx)
    assert {"path": "data.csv", "fetched": True} in planned["would_pull"]
    assert planned["committed_inputs"] == real["committed_inputs"] == []
    assert _outcomes(planned) == _outcomes(real) == {"count": "up-to-date"}
    assert (ci / "data.csv").read_text() == "v2-longer\n"


def test_repro_dry_pull_checks_out_a_push_false_output_whose_bytes_the_pull_brings(
        repo, dvx, tmp_path):
    """A `push: false` output with the bytes of another output: no remote is asked for it,
    but the fetch of the other puts them in the cache, and the real run's checkout restores
    both; the dry run plans that too, not a run of the stage for a missing output."""
    assert dvx("remote", "add", "-d", "storage", str(tmp_path / "store")).code == 0
    write(repo / "in", "in\n")
    assert dvx("add", "in").code == 0
    write(repo / "dvx.yaml", """\
stages:
  s:
    cmd: cp in scratch && cp in copy
    deps: [in]
    outs: [{scratch: {push: false}}, copy]
""")
    ci = _run_push_commit_and_clone(repo, dvx, tmp_path)
    planned, real = _dry_then_real_pull(ci, dvx)
    assert {"path": "scratch", "fetched": True} in planned["would_pull"]
    assert _outcomes(planned) == _outcomes(real) == {"s": "up-to-date"}
    assert (ci / "scratch").read_text() == "in\n"


def test_an_output_sent_as_data_and_with_its_run_is_counted_once(repo, dvx, tmp_path):
    """With dvx.lock committed, the outputs of the runs are the commit's data too: the
    run-cache's transfer does not count them again, as found already there."""
    make_ml_repo(repo)
    store = tmp_path / "store"
    assert dvx("remote", "add", "-d", "storage", str(store)).code == 0
    assert dvx("repro").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "pipeline")
    pushed = dvx("push", "--run-cache")
    assert pushed.code == 0, pushed.output
    objects = len(local_spec(store, str(store), {}).oids())
    assert f"Pushed {objects} objects (" in pushed.stdout, pushed.stdout
    assert "; 0 already there; 0 failed" in pushed.stdout
    for command in (("repro", "--pull"), ("pull", "--run-cache")):  # into an empty cache
        ci = clone(repo, tmp_path / command[0])
        fetched = dvx(*command, cwd=ci)
        assert fetched.code == 0, fetched.output
        assert "objects (" in fetched.stdout and "; 0 already there; 0 failed" in \
            fetched.stdout, (command, fetched.stdout)
        assert runs(ci) == []


def test_outputs_in_the_lock_are_pushed_and_pulled_like_tracked_data(repo, dvx, tmp_path):
    origin_with_remote(repo, dvx, tmp_path, commit_lock=True)
    ci = clone(repo, tmp_path / "ci")
    assert "model.json: not pulled yet" in dvx("status", cwd=ci).stdout
    result = dvx("pull", cwd=ci)
    assert result.code == 0, result.output
    assert (ci / "model.json").read_bytes() == (repo / "model.json").read_bytes()
    assert (ci / "data" / "features" / "test.csv").exists()
    assert dvx("status", "-q", cwd=ci).code == 0
    assert dvx("repro", cwd=ci).code == 0
    assert runs(ci) == []


def test_push_false_and_per_output_remote(repo, dvx, tmp_path):
    main, models = tmp_path / "main-store", tmp_path / "model-store"
    assert dvx("remote", "add", "-d", "main", str(main)).code == 0
    assert dvx("remote", "add", "models", str(models)).code == 0
    write(repo / "in.txt", "in\n")
    write(repo / "dvx.yaml", """\
stages:
  s:
    cmd: cp in.txt a.txt; echo model > m.bin; echo scratch > tmp.bin
    deps: [in.txt]
    outs:
    - a.txt
    - m.bin: {remote: models}
    - tmp.bin: {push: false}
""")
    assert dvx("repro").code == 0
    assert "tmp.bin" in (repo / "dvx.lock").read_text()
    result = dvx("push")
    assert result.code == 0, result.output
    assert "Pushed 1 object (3 B); 0 already there; 0 failed [remote 'main']." in result.stdout
    assert "Pushed 1 object (6 B); 0 already there; 0 failed [remote 'models']." \
        in result.stdout, result.stdout

    def objects(store: Path) -> int:
        return len(local_spec(store, str(store), {}).oids())

    assert (objects(main), objects(models)) == (1, 1)
    for command in (("push",), ("status", "-c")):  # `remote` joins the names
        doc = json.loads(dvx(*command, "--json").stdout)
        assert (doc["remote"], doc["remotes"]) == ("main, models", ["main", "models"])
    doc = json.loads(dvx("fetch", "--json").stdout)  # the cache holds it all: none asked
    assert (doc["remote"], doc["remotes"], doc["already_there"]) == (None, [], 2)
    assert json.loads(dvx("push", "a.txt", "--json").stdout)["remotes"] == ["main"]
    result = dvx("push", "-r", "main", "m.bin")  # an explicit remote wins
    assert result.code == 0 and objects(main) == 2

    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "stage")
    other = clone(repo, tmp_path / "other")
    result = dvx("pull", cwd=other)
    assert result.code == 0, result.output
    assert (other / "m.bin").read_text() == "model\n"  # from its own remote
    assert not (other / "tmp.bin").exists()  # never pushed, so not pulled
    assert "s: missing outs: tmp.bin" in dvx("status", cwd=other).stdout


def test_an_output_s_own_remote_is_asked_only_for_data_the_cache_lacks(repo, dvx, tmp_path):
    """A pull needing only the default remote's data pulls it while the output's own remote
    is out of reach: m.bin, which that remote holds, is in the cache."""
    main, models = tmp_path / "main-store", tmp_path / "model-store"
    assert dvx("remote", "add", "-d", "main", str(main)).code == 0
    assert dvx("remote", "add", "models", str(models)).code == 0
    write(repo / "dvx.yaml", """\
stages:
  s:
    cmd: echo a > a.txt; echo model > m.bin
    outs:
    - a.txt
    - m.bin: {remote: models}
""")
    assert dvx("repro").code == 0
    assert dvx("push").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "stage")
    other = clone(repo, tmp_path / "other")
    assert dvx("pull", cwd=other).code == 0
    models.rename(tmp_path / "model-store-offline")
    oid = xxhash.xxh3_128_hexdigest(b"a\n")
    (other / ".dvx" / "cache" / "files" / "xxh128" / oid[:2] / oid[2:]).unlink()
    (other / "a.txt").unlink()
    (other / "m.bin").unlink()
    result = dvx("pull", cwd=other)
    assert result.code == 0, result.output
    assert "Fetched 1 object (2 B); 0 already there; 0 failed [remote 'main']." \
        in result.stdout
    assert "models" not in result.output
    assert (other / "a.txt").read_text() == "a\n" and (other / "m.bin").read_text() == "model\n"


def test_repro_pull_of_data_the_cache_holds_runs_without_a_remote(repo, dvx, tmp_path):
    """No remote configured: `repro --pull` checks out what the cache holds; the pipeline,
    up to date, runs nothing, and nothing is said of past runs, which it did not need. A stale
    stage runs, and the past runs that could not be fetched for it are named."""
    write(repo / "in.txt", "in\n")
    assert dvx("add", "in.txt").code == 0
    write(repo / "dvx.yaml", "stages:\n  s:\n    cmd: cp in.txt out.txt\n    deps: [in.txt]\n"
                             "    outs: [out.txt]\n")
    assert dvx("repro").code == 0
    (repo / "in.txt").unlink()
    (repo / "out.txt").unlink()
    result = dvx("repro", "--pull")
    assert result.code == 0, result.output
    assert "Stage 's' is up to date." in result.stdout
    assert "Problem" not in result.output
    assert (repo / "out.txt").read_text() == "in\n"
    write(repo / "in.txt", "new\n")
    result = dvx("repro", "--pull")
    assert result.code == 0, result.output
    assert "Problem: past runs of the stages were not fetched, so stale ones run: No remote " \
        "given" in result.stderr
    assert (repo / "out.txt").read_text() == "new\n"


def _a_model_on_its_own_remote(repo, dvx, main, models):
    """A repository whose default remote is `main` and whose stage's output m.bin goes to the
    remote `models`, run; a.txt added, for `main`."""
    assert dvx("remote", "add", "-d", "main", str(main)).code == 0
    assert dvx("remote", "add", "models", str(models)).code == 0
    write(repo / "dvx.yaml", """\
stages:
  s:
    cmd: echo model > m.bin
    outs:
    - m.bin: {remote: models}
""")
    assert dvx("repro").code == 0
    write(repo / "a.txt", "a\n")
    assert dvx("add", "a.txt").code == 0


def test_a_push_split_over_two_remotes_reports_each_when_the_second_cannot_be_used(
        repo, dvx, tmp_path):
    """The first remote got its objects: that is reported (and in --json, beside the
    failure), and the error names the remote that failed."""
    main = tmp_path / "main-store"
    (tmp_path / "a-file").write_text("not a folder\n")
    _a_model_on_its_own_remote(repo, dvx, main, tmp_path / "a-file" / "store")
    pushed = dvx("push")
    assert pushed.code == 1, pushed.output
    assert "Pushed 1 object (2 B); 0 already there; 0 failed [remote 'main']." in pushed.stdout
    assert "[remote 'models']" not in pushed.stdout
    assert pushed.stderr.startswith("ERROR: Cannot create the folder of the remote 'models' "), \
        pushed.stderr
    assert "Not a directory" in pushed.stderr
    shutil.rmtree(main)
    as_json = dvx("push", "--json")
    assert as_json.code == 1, as_json.output
    doc = json.loads(as_json.stdout)
    assert doc["transferred"] == 1
    assert (doc["remote"], doc["remotes"]) == ("main, models", ["main", "models"])
    assert [e["remote"] for e in doc["remote_errors"]] == ["models"]
    assert "Cannot create the folder of the remote 'models'" in doc["remote_errors"][0]["error"]

    (tmp_path / "a-file").unlink()  # a remote that is not there: named by fetch
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "data")
    ci = clone(repo, tmp_path / "ci")
    fetched = dvx("fetch", cwd=ci)
    assert fetched.code == 1, fetched.output
    assert "Fetched 1 object (2 B); 0 already there; 0 failed [remote 'main']." \
        in fetched.stdout
    assert "ERROR: Could not fetch from the remote 'models': The remote directory " \
        in fetched.stderr, fetched.stderr
    assert (ci / ".dvx" / "cache").exists()


def test_a_pull_names_data_left_unfetched_by_a_remote_it_could_not_read_as_such(
        repo, dvx, tmp_path):
    """An output's own remote out of reach (a share not mounted): what the pull could not
    place for it is named as not fetched from that remote, whose error follows once, never as
    data the remote lacks; data another remote lacks is still named so."""
    models = tmp_path / "model-store"
    _a_model_on_its_own_remote(repo, dvx, tmp_path / "main-store", models)
    assert dvx("push").code == 0
    write(repo / "b.txt", "never pushed\n")
    assert dvx("add", "b.txt").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "data")
    ci = clone(repo, tmp_path / "ci")
    models.rename(tmp_path / "model-store.offline")
    pulled = dvx("pull", cwd=ci)
    assert pulled.code == 1, pulled.output
    assert "Fetched 1 object (2 B); 0 already there; 1 failed [remote 'main']." \
        in pulled.stdout
    assert "Not in the cache (not fetched: the remote 'models' could not be read, below): " \
        "m.bin." in pulled.stderr, pulled.stderr
    assert "Not in the cache (the download failed, above): b.txt." in pulled.stderr
    assert pulled.stderr.count("the remote 'models'") == 2  # the line above, and its error
    assert pulled.stderr.count("ERROR: Could not fetch from the remote 'models': The remote "
                               f"directory '{models}' does not exist.") == 1
    assert "m.bin" not in pulled.stderr.split("ERROR:")[1]
    assert (ci / "a.txt").read_text() == "a\n" and not (ci / "m.bin").exists()


def test_push_run_cache_sends_a_run_only_where_all_its_outputs_may_go(repo, dvx, tmp_path):
    """A run record is restored only with all its outputs, so a remote gets it (and its
    objects) only if every output may go there: never a `push: false` output, and an output
    with its own remote only to that one (or to a remote named with -r, as a plain push)."""
    main, models = tmp_path / "main-store", tmp_path / "model-store"
    assert dvx("remote", "add", "-d", "main", str(main)).code == 0
    assert dvx("remote", "add", "models", str(models)).code == 0
    write(repo / "in.txt", "in\n")
    write(repo / "dvx.yaml", """\
stages:
  plain:
    cmd: cat in.txt > a.txt
    deps: [in.txt]
    outs: [a.txt]
  model:
    cmd: echo model > m.bin; echo m | cat in.txt - > m.txt
    deps: [in.txt]
    outs: [m.txt, {m.bin: {remote: models}}]
  scratch:
    cmd: echo scratch > tmp.bin; echo s | cat in.txt - > s.txt
    deps: [in.txt]
    outs: [s.txt, {tmp.bin: {push: false}}]
""")
    assert dvx("repro").code == 0
    oids = {o.path: o.oid for lock in read_lock(str(repo), "xxh128").values() for o in lock.outs}

    def stored(store: Path) -> tuple[int, set[str]]:
        records = len(list((store / "runs" / "xxh128").glob("*/*")))
        held = {path for path, oid in oids.items()
                if oid in local_spec(store, str(store), {}).oids()}
        return records, held

    pushed = dvx("push", "--run-cache")
    assert pushed.code == 0, pushed.output
    assert "Pushed 1 run record of the run-cache." in pushed.stdout, pushed.stdout
    assert "Kept 2 run records off the remote" in pushed.stdout
    assert stored(main) == (1, {"a.txt", "m.txt", "s.txt"})  # those of the plain push
    assert dvx("push", "--run-cache", "-r", "models").code == 0
    assert stored(models) == (2, {"a.txt", "m.txt", "m.bin", "s.txt"})  # all but tmp.bin
    assert dvx("push", "--run-cache").code == 0
    assert stored(main)[0] == 1


def test_status_and_fsck_of_a_remote_check_what_belongs_on_it(repo, dvx, tmp_path):
    """As push sends it: an output with its own remote is compared with that remote, and a
    `push: false` output with none; a remote named (-r, fsck --remote) is checked for all
    that `dvx push -r NAME` uploads there, whatever remote a plain push sends it to."""
    assert dvx("remote", "add", "-d", "main", str(tmp_path / "main-store")).code == 0
    assert dvx("remote", "add", "archive", str(tmp_path / "archive-store")).code == 0
    for store in ("main-store", "archive-store"):
        (tmp_path / store).mkdir()  # empty remotes: nothing pushed there yet
    write(repo / "dvx.yaml", """\
stages:
  s:
    cmd: echo a > a.bin; echo big > big.bin; echo scratch > s.bin
    outs:
    - a.bin
    - big.bin: {remote: archive}
    - s.bin: {push: false}
""")
    assert dvx("repro").code == 0
    before = dvx("status", "--remote")
    assert before.code == 0 and "a.bin" in before.stdout and "big.bin" in before.stdout
    assert "s.bin" not in before.stdout, before.stdout
    assert dvx("push").code == 0
    status = dvx("status", "--remote")
    assert status.code == 0 and "are in sync" in status.stdout, status.stdout
    assert dvx("status", "--remote", "-q").code == 0
    for name, elsewhere, sent_to in (("main", "big.bin", "its own remote archive (`remote:` "
                                                         "in dvx.yaml)"),
                                     ("archive", "a.bin", "the default remote main")):
        named = dvx("status", "--remote", "-r", name)
        assert f"(`dvx push -r {name}`):\n    {elsewhere}\n" in named.stdout, named.stdout
        assert "s.bin" not in named.stdout
        fsck = dvx("fsck", "--remote", name)  # on the other remote: not lost, not sent here
        assert fsck.code == 1 and "s.bin" not in fsck.stderr, fsck.output
        assert f"{elsewhere} needs it, and the remote {name} does not have it: `dvx push` " \
               f"sends it to {sent_to}, where it may be; `dvx push -r {name}` uploads it " \
               "here." in fsck.stderr, fsck.stderr
        as_json = json.loads(dvx("fsck", "--remote", name, "--json").stdout)
        other = "archive" if name == "main" else "main"
        assert [(m["path"], m["pushed_to"]) for m in as_json["missing"]] == [(elsewhere,
                                                                             other)]
        assert dvx("push", "-r", name).code == 0  # what status -r NAME listed
        assert dvx("fsck", "--remote", name).code == 0
        assert "in sync" in dvx("status", "--remote", "-r", name).stdout


def test_an_output_naming_the_default_remote_goes_with_the_others(repo, dvx, tmp_path):
    """`remote: main` where main is the default remote: one push to main, named once."""
    assert dvx("remote", "add", "-d", "main", str(tmp_path / "main-store")).code == 0
    write(repo / "dvx.yaml", """\
stages:
  s:
    cmd: echo a > a.bin; echo b > b.bin
    outs:
    - a.bin: {remote: main}
    - b.bin
""")
    assert dvx("repro").code == 0
    pushed = dvx("push")
    assert pushed.code == 0 and "Pushed 2 objects" in pushed.stdout, pushed.output
    assert "[remote 'main']" in pushed.stdout, pushed.stdout
    shutil.rmtree(repo / ".dvx" / "cache")  # a fetch asks a remote for what the cache lacks
    assert dvx("fetch").stdout.count("[remote 'main']") == 1


def test_renaming_or_removing_a_remote_a_stage_sends_to_warns_and_push_names_the_stage(
        repo, dvx, tmp_path):
    assert dvx("remote", "add", "-d", "main", str(tmp_path / "main-store")).code == 0
    assert dvx("remote", "add", "archive", str(tmp_path / "archive-store")).code == 0
    assert dvx("remote", "add", "spare", str(tmp_path / "spare-store")).code == 0
    write(repo / "dvx.yaml", """\
stages:
  mk:
    cmd: echo big > big.bin; echo small > small.bin
    outs:
    - big.bin: {remote: archive}
    - small.bin
""")
    assert dvx("repro").code == 0
    renamed = dvx("remote", "rename", "archive", "cold")
    assert renamed.code == 0, renamed.output
    assert "dvx.yaml sends big.bin (stage 'mk') to the remote 'archive'" in renamed.stderr
    assert "Change those `remote:` entries to 'cold'" in renamed.stderr, renamed.stderr
    assert "remote: archive" in (repo / "dvx.yaml").read_text()  # dvx.yaml is the user's
    quiet = dvx("remote", "rename", "spare", "extra")  # no output names it: nothing to say
    assert quiet.code == 0 and quiet.stderr == ""
    oid = xxhash.xxh3_128_hexdigest(b"big\n")  # a fetch asks only for what the cache lacks
    (repo / ".dvx" / "cache" / "files" / "xxh128" / oid[:2] / oid[2:]).unlink()
    for command in (("push",), ("status", "-c"), ("fetch",)):
        failed = dvx(*command)
        assert failed.code != 0, (command, failed.output)
        assert "There is no remote named 'archive', which dvx.yaml sends outputs to " \
               in failed.stderr, (command, failed.stderr)
        assert "stage 'mk' sends 'big.bin'." in failed.stderr, (command, failed.stderr)
        assert "(`dvx repro mk`)" in failed.stderr
        assert "Traceback" not in failed.output
    assert dvx("push", "small.bin").code == 0  # data sent to the default remote still goes
    assert dvx("remote", "rename", "cold", "archive").code == 0
    removed = dvx("remote", "remove", "archive")
    assert removed.code == 0 and "'archive'" in removed.stderr, removed.output
    assert "to another remote, or remove them" in removed.stderr


def test_the_repro_a_missing_remote_names_gives_each_stage_as_one_word_to_paste(
        repo, dvx, tmp_path):
    """A dvx.lock (a clone's, edited) whose stage sending data to a remote that does not
    exist has a name a shell would expand or split (`$`, `?`, a blank): the `dvx repro` the
    refusal names quotes it, so pasted it names that stage and runs nothing it holds."""
    assert dvx("remote", "add", "-d", "main", str(tmp_path / "main-store")).code == 0
    write(repo / "dvx.yaml", "stages:\n  mk:\n    cmd: echo big > big.bin\n"
                             "    outs:\n    - big.bin: {remote: archive}\n")
    assert dvx("repro").code == 0
    lock = repo / "dvx.lock"
    lock.write_text(lock.read_text().replace("\n  mk:\n", "\n  'a b$(touch x)?':\n"))
    refused = dvx("push")
    assert refused.code != 0, refused.output
    said = " ".join(refused.stderr.split())
    rerun = re.search(r"\(`(dvx repro [^`]*)`\)", said)
    assert rerun is not None, said
    assert shlex.split(rerun.group(1)) == ["dvx", "repro", "a b$(touch x)?"], said


def test_after_a_rename_older_commits_sending_data_to_the_old_name_go_to_the_default_remote(
        repo, dvx, tmp_path):
    """The documented way out of a rename (change `remote:`, `dvx repro`, commit) leaves the
    older commits' dvx.lock naming the old remote for good: -A sends their data to the
    default remote, with a warning naming the commit, instead of failing for ever; gc's
    advice (`dvx push -A`) then works."""
    main, cloud = tmp_path / "main-store", tmp_path / "cloud-store"
    assert dvx("remote", "add", "-d", "main", str(main)).code == 0
    assert dvx("remote", "add", "cloud", str(cloud)).code == 0
    write(repo / "dvx.yaml", """\
stages:
  mk:
    cmd: cp in.txt big.bin
    deps: [in.txt]
    outs:
    - big.bin: {remote: cloud}
""")
    write(repo / "in.txt", "one\n")
    assert dvx("repro").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "v1")
    v1 = git(repo, "rev-parse", "--short", "HEAD").strip()
    assert dvx("remote", "rename", "cloud", "archive").code == 0
    write(repo / "dvx.yaml", (repo / "dvx.yaml").read_text().replace("cloud", "archive"))
    write(repo / "in.txt", "two\n")
    assert dvx("repro").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "v2")

    main.mkdir()  # two empty remotes: nothing pushed there yet
    cloud.mkdir()
    status = dvx("status", "-c", "-A")
    assert status.code == 0, status.output
    pushed = dvx("push", "-A", "--json")
    assert pushed.code == 0, pushed.output
    assert (f"Other commits' dvx.lock sends 'big.bin' (stage 'mk', commit {v1}) to the remote "
            "'cloud', which no longer exists") in pushed.stderr, pushed.stderr
    assert "use the default remote 'main' for that data instead" in pushed.stderr
    assert json.loads(pushed.stdout)["transferred"] == 2  # v1's to 'main', v2's to 'archive'
    assert len(local_spec(main, "", {}).oids()) == 1  # v1's
    assert len(local_spec(cloud, "", {}).oids()) == 1  # v2's, through 'archive'
    assert dvx("status", "-c", "-A", "-q").code == 0
    kept = dvx("gc", "-w", "--grace", "0", "--dry-run")
    assert kept.code == 0 and "no remote" not in kept.stderr, kept.output
    shutil.rmtree(repo / ".dvx" / "cache")
    fetched = dvx("fetch", "-A")
    assert fetched.code == 0, fetched.output
    for remote in ("main", "archive"):
        assert f"Fetched 1 object (4 B); 0 already there; 0 failed [remote '{remote}']." \
            in fetched.stdout, fetched.stdout

    # The workspace's own dvx.lock naming a remote that is gone is still refused.
    assert dvx("remote", "rename", "archive", "cold").code == 0
    refused = dvx("push", "-A")
    assert refused.code == 1 and "There is no remote named 'archive'" in refused.stderr


def test_outputs_of_several_stages_sent_to_a_removed_remote_are_named_by_stage(
        repo, dvx, tmp_path):
    """Each stage is named with its own outputs (never one stage with the others' counted
    as its own), and the rerun hint names every stage."""
    assert dvx("remote", "add", "-d", "main", str(tmp_path / "main-store")).code == 0
    assert dvx("remote", "add", "other", str(tmp_path / "other-store")).code == 0
    write(repo / "dvx.yaml", """\
stages:
  mk:
    foreach: [a, b]
    do:
      cmd: echo ${item} > out_${item}.txt; echo ${item} > more_${item}.txt
      outs:
      - out_${item}.txt: {remote: other}
      - more_${item}.txt: {remote: other}
""")
    assert dvx("repro").code == 0
    assert dvx("remote", "remove", "other").code == 0
    shutil.rmtree(repo / ".dvx" / "cache")  # a fetch asks only for what the cache lacks
    for command in (("push",), ("fetch",)):
        failed = dvx(*command)
        assert failed.code == 1, failed.output
        assert ("stage 'mk@a' sends 'more_a.txt', 'out_a.txt'; stage 'mk@b' sends "
                "'more_b.txt', 'out_b.txt'.") in failed.stderr, failed.stderr
        assert "other output" not in failed.stderr
        assert "(`dvx repro mk@a mk@b`)" in failed.stderr


def _commit_a_run_making_a_directory(repo, dvx) -> None:
    """A stage `make` whose output is the folder `out`, run and committed (dvx.lock, which
    the run-cache alone is to bring to a clone, kept out of Git)."""
    write(repo / "in.txt", "in\n")
    write(repo / ".gitignore", "dvx.lock\n")
    assert dvx("stage", "add", "-n", "make", "-d", "in.txt", "-o", "out",
               "mkdir -p out && cp in.txt out/a").code == 0
    assert dvx("repro").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "pipeline")


def test_a_run_record_goes_to_the_remote_only_with_the_manifest_of_its_directory(
        repo, dvx, tmp_path):
    """A directory output whose file failed in the push of data has its manifest held back:
    the push of the run-cache that follows in the same command tries both again, so the
    record reaches the remote only with every object it needs, and a clone restores it."""
    store = tmp_path / "store"
    assert dvx("remote", "add", "-d", "main", str(store)).code == 0
    assert dvx("remote", "modify", "main", "pack_threshold", "0").code == 0
    _commit_a_run_making_a_directory(repo, dvx)
    pushed = run_dvx_proc("push", "--run-cache", "-j", "1", cwd=repo, env={
        "DVX_FAULT": "transfer.after_object", "DVX_FAULT_ACTION": "enospc"})  # out/a fails
    assert "out: its manifest was not pushed" in pushed.stderr, pushed.output
    assert "Pushed 1 run record of the run-cache." in pushed.stdout, pushed.output
    manifest = read_lock(repo, "xxh128")["make"].outs[0].oid
    assert manifest in local_spec(store, str(store), {}).oids()
    ci = clone(repo, tmp_path / "ci")
    pulled = dvx("pull", "--run-cache", cwd=ci)
    assert "Fetched 1 run record of the run-cache." in pulled.stdout, pulled.output
    restored = dvx("repro", cwd=ci)
    assert restored.code == 0, restored.output
    assert "Restored 'make' from the run-cache (never run)." in restored.stdout
    assert (ci / "out" / "a").read_text() == "in\n"


def test_a_colleagues_run_of_a_cached_directory_is_not_restored_once_git_tracks_it(
        repo, dvx, tmp_path):
    """The colleague's run was recorded while `out` was cached; here dvx.yaml has Git track it
    (`cache: false`), which the run-cache cannot give back for a directory: the stage runs,
    and `out` is there, not deleted and called restored."""
    store = tmp_path / "store"
    assert dvx("remote", "add", "-d", "main", str(store)).code == 0
    _commit_a_run_making_a_directory(repo, dvx)
    assert dvx("push", "--run-cache").code == 0
    ci = clone(repo, tmp_path / "ci")
    write(ci / "dvx.yaml", (ci / "dvx.yaml").read_text().replace(
        "- out\n", "- out:\n        cache: false\n"))
    assert "cache: false" in (ci / "dvx.yaml").read_text()
    pulled = dvx("pull", "--run-cache", cwd=ci)
    assert "Fetched 1 run record of the run-cache." in pulled.stdout, pulled.output
    result = dvx("repro", cwd=ci)
    assert result.code == 0, result.output
    assert "Restored" not in result.output and "Running stage 'make'" in result.stdout
    assert (ci / "out" / "a").read_text() == "in\n"
    assert dvx("status", "-q", cwd=ci).code == 0


def test_a_run_whose_outputs_gc_took_from_the_remote_is_no_record_and_runs(repo, dvx,
                                                                          tmp_path):
    """`gc --remote` deletes the run records that need an object it deletes (first: a store
    holds a record only with all its objects); a record whose objects a remote lacks anyway
    (a gc by an older dvx) is no record: pull succeeds, and repro --pull runs the stage."""
    store = tmp_path / "store"
    assert dvx("remote", "add", "-d", "main", str(store)).code == 0
    write(repo / "params.yaml", "lr: 0.1\n")
    write(repo / "raw.txt", "raw\n")
    run_and_commit(repo, """\
stages:
  train:
    cmd: cat raw.txt > model.bin && echo ${lr} >> model.bin
    deps: [raw.txt]
    params: [lr]
    outs: [model.bin]
""", "lr 0.1")
    write(repo / "params.yaml", "lr: 0.2\n")  # an experiment, shared and then dropped
    assert dvx("repro").code == 0
    assert dvx("push", "--run-cache").code == 0
    records = store / "runs" / "xxh128"
    before = tmp_path / "records-before-gc"
    shutil.copytree(records, before)
    assert len(list(records.glob("*/*"))) == 2
    git(repo, "checkout", "-q", "params.yaml")
    assert dvx("repro").code == 0
    planned = dvx("gc", "-w", "-c", "main", "--dry-run", "--grace", "0")
    assert "Would remove 1 run record of the run-cache from the remote 'main'" in planned.stdout
    assert len(list(records.glob("*/*"))) == 2
    collected = dvx("gc", "-w", "-c", "main", "-f", "--grace", "0")
    assert collected.code == 0, collected.output
    assert "Removed 1 run record of the run-cache from the remote 'main'" in collected.stdout
    again = dvx("gc", "-w", "-c", "main", "-f", "--grace", "0")  # nothing to delete
    assert again.code == 0 and "run record" not in again.stdout, again.output
    assert len(list(records.glob("*/*"))) == 1

    shutil.copytree(before, records, dirs_exist_ok=True)  # as an older dvx's gc left it
    bob = clone(repo, tmp_path / "bob")
    write(bob / "params.yaml", "lr: 0.2\n")
    pulled = dvx("pull", "--run-cache", cwd=bob)
    assert pulled.code == 0, pulled.output
    assert "Fetched 0 run records of the run-cache." in pulled.stdout
    assert "0 failed" in pulled.stdout
    ran = dvx("repro", "--pull", cwd=bob)
    assert ran.code == 0, ran.output
    assert "Running stage 'train'" in ran.stdout
    assert (bob / "model.bin").read_text() == "raw\n0.2\n"


def test_a_remote_run_record_whose_output_size_disagrees_with_its_object_is_refused(
        repo, dvx, tmp_path):
    """A run record from a remote is untrusted: one giving an output a size its object denies
    is not kept (restoring it would put that size into dvx.lock), and pull says which."""
    store = tmp_path / "store"
    assert dvx("remote", "add", "-d", "main", str(store)).code == 0
    write(repo / "raw.txt", "raw\n")
    run_and_commit(repo, "stages:\n  train:\n    cmd: cat raw.txt > model.bin\n"
                         "    deps: [raw.txt]\n    outs: [model.bin]\n", "train")
    assert dvx("push", "--run-cache").code == 0
    [record] = (store / "runs" / "xxh128").glob("*/*")
    record.write_text(record.read_text().replace('"size":4', '"size":99'))  # still its name

    bob = clone(repo, tmp_path / "bob")
    pulled = dvx("pull", "--run-cache", cwd=bob)
    assert pulled.code == 1, pulled.output
    assert f"run record {record.name} on remote 'main' refused: it gives 99 bytes as the " \
           "size of the output 'model.bin'" in pulled.output
    assert "Fetched 0 run records of the run-cache." in pulled.stdout
    assert not list((bob / ".dvx" / "cache" / "runs").glob("*/*/*"))
