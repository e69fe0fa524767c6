"""The repository's hash algorithm (dvx/hash_setting.py, docs/configuration.md): a user's own
core.hash never records data the repository's clones cannot read, and every message about
an algorithm that differs names the `dvx config` (or the commands) that fix it, which work
when pasted."""

import os
import re
import sys
from pathlib import Path

import pytest

from dvx.pipeline.former_algorithm import algorithm_holding
from dvx.repo import Repo
from tests.conftest import git, write
from tests.team import pasted

STAGE = f"""stages:
  copy:
    cmd: {sys.executable} -c "import shutil; shutil.copy('in.txt', 'out.txt')"
    deps: [in.txt]
    outs: [out.txt]
"""


def _committed_pipeline(repo: Path, dvx) -> None:
    """A pipeline run and committed with the default algorithm, xxh128, beside data."""
    write(repo / "data.txt", "data\n")
    write(repo / "in.txt", "1\n")
    write(repo / "dvx.yaml", STAGE)
    assert dvx("add", "data.txt").code == 0
    assert dvx("repro").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "pipeline")


def _files_of(repo: Path) -> dict[str, bytes]:
    """Every file of the workspace but Git's: what a refused command must leave as it was."""
    found = {}
    for folder, dirs, files in os.walk(repo):
        dirs[:] = [d for d in dirs if d != ".git"]
        for name in files:
            path = Path(folder, name)
            found[str(path.relative_to(repo))] = path.read_bytes()
    return found


def test_exp_save_and_a_queued_run_refuse_a_user_s_own_other_algorithm_before_writing(repo, dvx):
    """exp save and exp run --queue record data as exp run does (the changed inputs, the
    other changed data), so a core.hash of this clone's own config that is not the
    repository's makes them refuse as exp run does: exit 2, no experiment, nothing queued,
    no file or cached object written, and the fix named works when pasted."""
    _committed_pipeline(repo, dvx)
    assert dvx("config", "--local", "core.hash", "sha256").code == 0
    write(repo / "in.txt", "2\n")
    write(repo / "data.txt", "changed\n")
    before = _files_of(repo)
    for command in (["exp", "save"], ["exp", "run", "--queue"], ["exp", "run"]):
        refused = dvx(*command)
        said = " ".join(refused.stderr.split())
        assert refused.code == 2, (command, refused.output)
        assert ("This clone's .dvx/config.local sets core.hash to sha256, but this "
                "repository's data is named by xxh128" in said), (command, said)
        assert "`dvx config --local --unset core.hash`" in said, (command, said)
        assert "Traceback" not in refused.output
        assert _files_of(repo) == before, command
    assert git(repo, "for-each-ref", "refs/exps") == ""
    assert dvx("queue", "status").stdout.strip() == "The queue is empty."
    assert dvx("config", "--local", "--unset", "core.hash").code == 0  # pasted
    saved = dvx("exp", "save", "-n", "kept")
    assert saved.code == 0, saved.output
    assert "algo: xxh128" in (repo / "data.txt.dvx").read_text()
    assert git(repo, "for-each-ref", "--format=%(refname:lstrip=-1)", "refs/exps") == "kept\n"


def test_a_revision_read_with_another_algorithm_names_the_fix_that_reads_it(repo, dvx):
    """A commit's pointer file read (diff, metrics at a revision) while dvx hashes with
    another algorithm: where this clone's own setting is what is off, the `dvx config` that
    sets it back; where the commit recorded its data before the repository changed
    algorithm, the `dvx config --local` that reads it, and the one that sets it back."""
    write(repo / "m.json", '{"acc": 1}')
    assert dvx("add", "m.json").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "one")
    write(repo / "m.json", '{"acc": 2}')
    assert dvx("add", "m.json").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "two")
    assert dvx("config", "--local", "core.hash", "sha256").code == 0
    diff = dvx("diff", "HEAD~1", "HEAD")
    said = " ".join(diff.stderr.split())
    assert ":m.json.dvx' uses xxh128, as this repository's data does" in said, said
    assert "`dvx config --local --unset core.hash`" in said, said
    shown = dvx("metrics", "show", "m.json", "--rev", "HEAD~1")
    assert "`dvx config --local --unset core.hash`" in " ".join(shown.stdout.split())
    assert dvx("config", "--local", "--unset", "core.hash").code == 0  # pasted
    diff = dvx("diff", "HEAD~1", "HEAD", "--json")
    assert diff.code == 0 and "uses" not in diff.stderr, diff.output
    assert '"modified"' in diff.stdout, diff.output

    # The repository moves to sha256: the commits before keep their xxh128 pointers.
    assert dvx("config", "core.hash", "sha256").code == 0
    (repo / "m.json.dvx").unlink()
    assert dvx("add", "m.json").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "sha256 from now on")
    shown = dvx("metrics", "show", "m.json", "--rev", "HEAD~1")
    said = " ".join(shown.stdout.split())
    assert ":m.json.dvx' uses xxh128, but this repository's data is named by sha256" in said
    assert ("This clone reads it while it hashes with xxh128: `dvx config --local core.hash "
            "xxh128`, then `dvx config --local --unset core.hash`" in said), said
    assert dvx("config", "--local", "core.hash", "xxh128").code == 0  # pasted: it reads
    shown = dvx("metrics", "show", "m.json", "--rev", "HEAD~1", "--json")
    assert '"acc": 2' in shown.stdout, shown.output
    assert dvx("config", "--local", "--unset", "core.hash").code == 0  # and set back
    write(repo / "new.txt", "new\n")
    assert dvx("add", "new.txt").code == 0
    assert "algo: sha256" in (repo / "new.txt.dvx").read_text()


def test_a_dvx_lock_of_another_algorithm_names_what_records_it_again(repo, dvx):
    """A dvx.lock recorded with another algorithm than the repository's data has: repro
    (with --force too) names `rm dvx.lock` and `dvx repro`, which work, never a `repro
    --force` that fails the same way; where the user's own setting is what is off, the
    message names the `dvx config` that sets it back instead. From a subfolder, the commands
    name dvx.lock from there, and work pasted there."""
    _committed_pipeline(repo, dvx)
    assert dvx("config", "--local", "core.hash", "sha256").code == 0
    status = dvx("status")
    said = " ".join(status.stderr.split())
    assert "dvx.lock uses xxh128, as this repository's data does" in said, said
    assert "`dvx config --local --unset core.hash`" in said and "rm dvx.lock" not in said
    assert dvx("config", "--local", "--unset", "core.hash").code == 0

    # The repository moves to sha256, its data added again; dvx.lock is still xxh128.
    assert dvx("config", "core.hash", "sha256").code == 0
    git(repo, "rm", "-q", "--cached", "data.txt.dvx")
    (repo / "data.txt.dvx").unlink()
    assert dvx("add", "data.txt").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "sha256 from now on")
    for args in ([], ["--force"]):
        refused = dvx("repro", *args)
        said = " ".join(refused.stderr.split())
        assert refused.code == 1 and "Traceback" not in refused.output, refused.output
        assert ("dvx.lock uses xxh128, but this repository's data is named by sha256" in said
                and "`rm dvx.lock`" in said and "then `dvx repro`" in said), said
        assert "repro --force" not in said, said
    # From a subfolder the commands name dvx.lock from there, and work pasted there.
    (repo / "sub").mkdir()
    refused = dvx("repro", cwd=repo / "sub")
    said = " ".join(refused.stderr.split())
    assert refused.code == 1 and "commit the new ../dvx.lock" in said, said
    removal = re.search(r"`(rm [^`]*)`", said)
    assert removal is not None and removal[1] == "rm ../dvx.lock", said
    pasted(removal[1], repo / "sub")
    ran = dvx("repro", cwd=repo / "sub")
    assert ran.code == 0, ran.output
    assert "algo: sha256" in (repo / "dvx.lock").read_text()
    assert (repo / "out.txt").read_text() == "1\n"
    assert dvx("status").code == 0


def test_dvx_config_of_the_user_s_own_core_hash_warns_where_this_repository_refuses_it(
        repo, dvx):
    """`dvx config --global` or `--local` core.hash set inside a repository whose data has
    another algorithm says that commands recording data will refuse here, and why, with the
    fix; a global one that a level above overrides here is said to be ignored here; one that
    agrees with the data says nothing."""
    global_config = Path(os.environ["XDG_CONFIG_HOME"]) / "dvx" / "config"
    write(repo / "a.txt", "a\n")
    assert dvx("add", "a.txt").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "a")
    set_global = dvx("config", "--global", "core.hash", "sha256")
    said = " ".join(set_global.stderr.split())
    assert set_global.code == 0, set_global.output
    assert (f"Your global config ({global_config}) sets core.hash to sha256 now, but this "
            "repository's data is named by xxh128 (as 'a.txt.dvx' records): add, commit, "
            "repro and every other command recording data here refuse while it is in "
            "effect" in said), said
    assert ("`dvx config --local core.hash xxh128` or `dvx config --global --unset "
            "core.hash`" in said), said
    set_local = dvx("config", "--local", "core.hash", "sha256")
    said = " ".join(set_local.stderr.split())
    assert ("This clone's .dvx/config.local sets core.hash to sha256 now, but this "
            "repository's data is named by xxh128" in said), said
    assert dvx("config", "--local", "core.hash", "xxh128").stderr == ""  # agrees: no word
    ignored = dvx("config", "--global", "core.hash", "sha256")
    said = " ".join(ignored.stderr.split())
    assert ("sets core.hash to sha256 now, which this repository does not read: this "
            "clone's .dvx/config.local sets core.hash to xxh128" in said), said
    write(repo / "b.txt", "b\n")
    assert dvx("add", "b.txt").code == 0  # as the warning said: this clone hashes as its data


def test_queue_start_refuses_a_user_s_own_other_algorithm_before_starting_a_run(repo, dvx):
    """A core.hash of this clone's own config set after a run was queued: `queue start`
    refuses as `exp run` does, before it starts anything (exit 2), and the entry stays
    queued; once the setting is unset as said, it runs."""
    _committed_pipeline(repo, dvx)
    write(repo / "in.txt", "2\n")
    assert dvx("exp", "run", "--queue", "-n", "q2").code == 0
    assert dvx("config", "--local", "core.hash", "sha256").code == 0
    refused = dvx("queue", "start")
    said = " ".join(refused.stderr.split())
    assert refused.code == 2, refused.output
    assert ("This clone's .dvx/config.local sets core.hash to sha256, but this "
            "repository's data is named by xxh128" in said), said
    assert "Started" not in refused.output and "Traceback" not in refused.output
    assert re.search(r"^q2 +queued", dvx("queue", "status").stdout, re.M)
    assert dvx("config", "--local", "--unset", "core.hash").code == 0  # pasted
    started = dvx("queue", "start")
    assert started.code == 0, started.output
    assert re.search(r"^q2 +done", dvx("queue", "status").stdout, re.M), \
        dvx("queue", "status").stdout


def test_queue_start_dask_refuses_a_user_s_own_other_algorithm_before_anything_else(repo, dvx):
    """`queue start --dask` hands this clone's config.local to every task: a core.hash of
    it that the repository's data is not named by is refused as plain `queue start` refuses
    it (exit 2, the `dvx config` that fixes it), before the Git remote or the cluster is
    asked for anything, and the entry stays queued."""
    pytest.importorskip("distributed")
    _committed_pipeline(repo, dvx)
    write(repo / "in.txt", "2\n")
    assert dvx("exp", "run", "--queue", "-n", "q2").code == 0
    assert dvx("config", "--local", "core.hash", "sha256").code == 0
    refused = dvx("queue", "start", "--dask", "tcp://127.0.0.1:1")  # no cluster, no remote
    said = " ".join(refused.stderr.split())
    assert refused.code == 2, refused.output
    assert ("This clone's .dvx/config.local sets core.hash to sha256, but this "
            "repository's data is named by xxh128" in said), said
    assert "`dvx config --local --unset core.hash`" in said, said
    assert "Git remote" not in said and "Traceback" not in refused.output
    assert re.search(r"^q2 +queued", dvx("queue", "status").stdout, re.M)


def test_exp_apply_under_a_user_s_own_core_hash_names_that_setting_as_checkout_does(repo, dvx):
    """An experiment's dvx.lock records the repository's algorithm, and the user's global
    config sets another: exp apply, from a subfolder too, refuses before writing anything,
    naming that config and the `dvx config` that sets it back, as checkout does, never an
    `rm dvx.lock` that repro then refuses; pasted, the fix lets the apply through."""
    _committed_pipeline(repo, dvx)
    write(repo / "in.txt", "2\n")
    assert dvx("exp", "run", "-n", "two").code == 0
    git(repo, "checkout", "-q", "--", ".")
    assert dvx("checkout").code == 0
    (repo / "sub").mkdir()
    assert dvx("config", "--global", "core.hash", "sha256").code == 0
    global_config = Path(os.environ["XDG_CONFIG_HOME"]) / "dvx" / "config"
    checkout = " ".join(dvx("checkout").stderr.split())
    before = _files_of(repo)
    refused = dvx("exp", "apply", "two", cwd=repo / "sub")
    said = " ".join(refused.stderr.split())
    assert refused.code != 0 and "Traceback" not in refused.output, refused.output
    assert ("dvx.lock' uses xxh128, as this repository's data does" in said
            and f"but your global config ({global_config}) sets core.hash to sha256" in said
            and "`dvx config --local core.hash xxh128` or `dvx config --global --unset "
            "core.hash`" in said), said
    assert f"your global config ({global_config}) sets core.hash to sha256" in checkout
    assert "rm " not in said and "dvx repro" not in said, said
    assert _files_of(repo) == before
    pasted("dvx config --global --unset core.hash", repo / "sub")
    applied = dvx("exp", "apply", "two", cwd=repo / "sub")
    assert applied.code == 0, applied.output
    assert (repo / "out.txt").read_text() == "2\n"


def test_an_output_a_run_recorded_with_the_former_algorithm_is_named_so_and_the_fix_works(
        repo, dvx):
    """The repository moved to sha256 (dvx.lock recorded again, committed) while this clone
    ran the stage with xxh128 on another input: its output, which the sha256 dvx.lock does
    not record, is held in the cache under its xxh128 name only. status and repro (which
    refuses to run over it) say so, never calling it files of the user's own that no cache
    has, and name the forced run that records it with sha256, which works pasted; the xxh128
    copy stays."""
    _committed_pipeline(repo, dvx)
    assert dvx("config", "core.hash", "sha256").code == 0
    (repo / "dvx.lock").unlink()
    (repo / "data.txt.dvx").unlink()
    assert dvx("add", "data.txt").code == 0
    assert dvx("repro").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "sha256 from now on")
    # This clone's own run, made before it took the switch: xxh128, on in.txt 2.
    recorded = (".dvx/config", "dvx.lock", "data.txt.dvx")
    git(repo, "checkout", "-q", "HEAD~1", "--", *recorded)
    write(repo / "in.txt", "2\n")
    assert dvx("repro").code == 0
    xxh128_copies = {p.name for p in (repo / ".dvx" / "cache").rglob("*") if p.is_file()}
    git(repo, "checkout", "-q", "HEAD", "--", *recorded)
    status = " ".join(dvx("status").stdout.split())
    assert ("copy: changed deps: in.txt; outputs holding data of a former hash algorithm: "
            "out.txt (recorded with xxh128 before this repository moved to sha256" in status
            and "(stage 'copy': `dvx repro --force copy` runs the stage over it and records it "
            "with sha256; the xxh128 copy stays in the cache)" in status), status
    assert "no cache" not in status, status
    refused = dvx("repro")
    said = " ".join(refused.stderr.split())
    assert refused.code == 1 and "Traceback" not in refused.output, refused.output
    assert ("Its output out.txt: not what dvx.lock records, and holding data dvx recorded "
            "with xxh128, as this repository named its data before it moved to sha256" in said
            ), said
    assert "files of your own" not in said and "no cache or remote holds" not in said, said
    forced = re.search(r"`dvx (repro --force [^`]*)`", said)
    assert forced is not None and forced[1] == "repro --force copy", said
    pasted(f"dvx {forced[1]}", repo)
    assert (repo / "out.txt").read_text() == "2\n"
    assert "algo: sha256" in (repo / "dvx.lock").read_text()
    assert xxh128_copies <= {p.name for p in (repo / ".dvx" / "cache").rglob("*")
                             if p.is_file()}


def test_an_output_holding_more_than_files_the_former_algorithm_s_cache_has_is_not_its_data(
        repo, dvx):
    """An output folder is data a run made with the former algorithm only when the cache
    holds every file of it under that algorithm's names, and holds nothing else: one with a
    symbolic link or a FIFO in it, which no cache holds, is never offered to a `repro
    --force` that deletes it."""
    _committed_pipeline(repo, dvx)
    assert dvx("config", "core.hash", "sha256").code == 0
    folder = repo / "res"
    folder.mkdir()
    (repo / "data.txt").rename(folder / "data.txt")  # its xxh128 object is in the cache
    here = Repo(str(repo))
    assert here.algo == "sha256" and algorithm_holding(here, "res") == "xxh128"
    os.symlink("data.txt", folder / "link")
    assert algorithm_holding(here, "res") is None
    os.unlink(folder / "link")
    os.mkfifo(folder / "pipe")
    assert algorithm_holding(here, "res") is None
