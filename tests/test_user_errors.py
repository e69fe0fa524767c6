"""User errors (SPEC §2): every mistake ends with a non-zero exit and one clear paragraph that
starts with "ERROR:", never a traceback, and changes nothing in the repository."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from conftest import git, make_git_repo, run_dvx, write


def prepare(base: Path) -> Path:
    """A repository with a bit of everything a user can get wrong."""
    repo = make_git_repo(base / "repo")
    assert run_dvx("init", cwd=repo).code == 0
    write(base / "outside/outside.txt", "not in the repository\n")
    write(repo / "README.md", "# project\n")
    write(repo / "docs/guide.md", "guide\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "code")
    write(repo / "data/a.csv", "x\n1\n")
    write(repo / "data/gone.csv", "deleted after tracking\n")
    for i in range(2):
        write(repo / f"data/images/{i}.png", f"image {i}")
    assert run_dvx("add", "data/a.csv", "data/gone.csv", "data/images", cwd=repo).code == 0
    os.unlink(repo / "data/gone.csv")
    assert run_dvx("remote", "add", "store", str(base / "store"), cwd=repo).code == 0
    assert run_dvx("remote", "add", "vanished", str(base / "no-such-dir"), cwd=repo).code == 0
    os.symlink(base / "outside/outside.txt", repo / "link-out")
    os.symlink(base / "outside", repo / "linkdir")
    write(repo / "withlink/real.txt", "real\n")
    os.symlink(base / "outside/outside.txt", repo / "withlink/escape.txt")
    os.mkfifo(repo / "pipe")
    (base / "plain").mkdir()
    make_git_repo(base / "gitonly")
    (base / "gitonly/sub").mkdir()
    return repo


# (id, arguments, where to run: repo | plain | gitonly/sub, words the message must contain)
CASES = [
    ("add missing path", ["add", "missing.txt"], "repo", "does not exist"),
    ("add relative path outside", ["add", "../outside/outside.txt"], "repo",
     "outside the repository"),
    ("add absolute path outside", ["add", "{base}/outside/outside.txt"], "repo",
     "outside the repository"),
    ("add the root itself", ["add", "."], "repo", "the repository"),
    ("add inside .git", ["add", ".git/config"], "repo", "'.git'"),
    ("add inside .dvx", ["add", ".dvx/config"], "repo", "'.dvx'"),
    ("add a pointer file", ["add", "data/a.csv.dvx"], "repo", "pointer file"),
    ("add a git-tracked file", ["add", "README.md"], "repo", "tracked by Git"),
    ("add a dir with git-tracked files", ["add", "docs"], "repo", "tracked by Git"),
    ("add inside a tracked dir", ["add", "data/images/0.png"], "repo", "already tracks"),
    ("add around tracked data", ["add", "data"], "repo", "already tracks on its own"),
    ("add a symlink to outside", ["add", "link-out"], "repo", "symbolic link"),
    ("add through a symlinked dir", ["add", "linkdir/outside.txt"], "repo", "symbolic link"),
    ("add a dir holding a symlink", ["add", "withlink"], "repo", "symbolic link"),
    ("add a fifo", ["add", "pipe"], "repo", "not a regular file"),
    # An empty argument (an unset variable in a script) never means the current directory.
    ("remove an empty path", ["remove", "--outs", ""], "repo/data", "empty path"),
    ("add an empty path", ["add", ""], "repo/data", "empty path"),
    ("checkout an empty path", ["checkout", "--force", ""], "repo/data", "empty path"),
    ("move an empty path", ["move", "", "elsewhere"], "repo/data", "empty path"),
    ("import-url an empty url", ["import-url", ""], "repo/data", "empty path"),
    ("status of untracked path", ["status", "nothere.txt"], "repo", "not tracked by dvx"),
    ("checkout of a git file", ["checkout", "README.md"], "repo", "not tracked by dvx"),
    ("commit deleted data", ["commit", "data/gone.csv"], "repo", "missing from the workspace"),
    ("remove part of a dir", ["remove", "data/images/0.png"], "repo", "whole tracked paths"),
    ("move onto a file", ["move", "data/a.csv", "README.md"], "repo", "already exists"),
    ("move into itself", ["move", "data/images", "data/images/sub"], "repo", "into itself"),
    ("unprotect deleted data", ["unprotect", "data/gone.csv"], "repo", "not in the workspace"),
    ("push without a default", ["push"], "repo", "No remote given"),
    ("push to unknown remote", ["push", "-r", "nope"], "repo", "no remote named 'nope'"),
    ("pull from unknown remote", ["pull", "-r", "nope"], "repo", "no remote named 'nope'"),
    # The data is all in the cache: only the run-cache is asked of the remote.
    ("fetch from missing dir", ["fetch", "-r", "vanished", "--run-cache"], "repo",
     "does not exist"),
    ("config unknown key", ["config", "nope"], "repo", "Unknown config key"),
    ("config unknown option", ["config", "core.nope", "1"], "repo", "Unknown config option"),
    ("config bad link type", ["config", "cache.type", "teleport"], "repo", "Invalid value"),
    ("config bad hash", ["config", "core.hash", "md5"], "repo", "Invalid value"),
    ("config bad number", ["config", "core.lock_wait", "soon"], "repo", "Invalid value"),
    ("config negative number", ["config", "core.lock_wait", "--", "-1"], "repo", "Invalid value"),
    ("config bad boolean", ["config", "core.autostage", "maybe"], "repo", "Invalid value"),
    ("config read unset", ["config", "core.remote"], "repo", "is not set"),
    # Options that contradict each other, or would be ignored: refused, never passed over
    ("config list with a key", ["config", "--list", "cache.type"], "repo",
     "--list lists every option: give it no KEY"),
    ("config unset with a value", ["config", "-u", "cache.type", "copy"], "repo",
     "-u (--unset) removes KEY: give it no VALUE"),
    ("quiet and verbose", ["status", "-q", "-v"], "repo",
     "-q (--quiet) and -v (--verbose) cannot be used together"),
    ("quiet and verbose apart", ["-v", "add", "-q", "data/a.csv"], "repo",
     "-q (--quiet) and -v (--verbose) cannot be used together"),
    ("remove force without outs", ["remove", "-f", "data/a.csv"], "repo",
     "-f (--force) goes with --outs"),
    *[(name, args, "repo", words) for name, args, words in [
        ("stage remove force without outs", ["stage", "remove", "s", "-f"],
         "-f (--force) goes with --outs"),
        ("config list and unset", ["config", "--list", "--unset"],
         "--list lists every option and -u (--unset) removes one"),
        ("config set showing the origin", ["config", "--show-origin", "core.autostage", "true"],
         "--show-origin goes with --list"),
        ("config unset showing the origin", ["config", "--show-origin", "-u", "core.remote"],
         "--show-origin goes with --list"),
        ("remote default named and unset", ["remote", "default", "store", "--unset"],
         "give it no NAME (store)"),
    ]],
    ("config read unknown option", ["config", "core.jobs"], "repo",
     "Unknown config option 'jobs' in section [core]"),
    ("config unknown flag", ["config", "--system", "cache.type"], "repo",
     "No such option '--system'. See `dvx config --help`"),
    ("get-url onto a file", ["get-url", "{base}/outside/outside.txt", "README.md"], "repo",
     "already exists. Choose another OUT, or --force"),
    ("config unset unset", ["config", "--unset", "core.remote"], "repo", "is not set"),
    ("remote bad name", ["remote", "add", "bad name!", "/x"], "repo", "Invalid remote name"),
    ("remote url with dash", ["remote", "add", "s", "--", "-oProxyCommand=x"], "repo",
     "must not start with '-'"),
    ("remote duplicate", ["remote", "add", "store", "/y"], "repo", "already exists"),
    ("remote modify unknown", ["remote", "modify", "nope", "url", "/x"], "repo",
     "no remote named 'nope'"),
    ("remote modify bad jobs", ["remote", "modify", "store", "jobs", "--", "-3"], "repo",
     "Invalid value"),
    ("remote modify negative jobs", ["remote", "modify", "store", "jobs", "-3"], "repo",
     "Invalid value '-3'"),
    ("remote modify bad option", ["remote", "modify", "store", "colour", "red"], "repo",
     "'colour'"),
    ("remote modify dash url", ["remote", "modify", "store", "url", "--", "-x"], "repo",
     "must not start with '-'"),
    ("remote remove unknown", ["remote", "remove", "nope"], "repo", "no remote named 'nope'"),
    ("remote rename unknown", ["remote", "rename", "nope", "new"], "repo",
     "no remote named 'nope'"),
    ("remote rename onto existing", ["remote", "rename", "store", "vanished"], "repo",
     "already exists"),
    ("remote add in a cache", ["remote", "add", "c", ".dvx/cache"], "repo",
     "a repository's private directory"),
    ("remote add in .git", ["remote", "add", "c", "file://{base}/repo/.git/x"], "repo",
     "a repository's private directory"),
    ("remote default unknown", ["remote", "default", "nope"], "repo", "no remote named 'nope'"),
    ("remote default unset", ["remote", "default"], "repo", "No default remote"),
    ("config two levels", ["config", "--global", "--local", "core.autostage", "true"], "repo",
     "--global and --local cannot be used together"),
    ("remote add two levels", ["remote", "add", "--local", "--project", "s2", "/x"], "repo",
     "--project and --local cannot be used together"),
    ("diff two formats", ["diff", "--json", "--md"], "repo", "--json and --md cannot be used"),
    ("exp show three formats", ["exp", "show", "--md", "--csv", "--json"], "repo",
     "--json and --csv cannot be used"),
    ("metrics show two formats", ["metrics", "show", "--csv", "--md"], "repo",
     "--md and --csv cannot be used"),
    ("dag two formats", ["dag", "--json", "--dot"], "repo", "--dot and --json cannot be used"),
    ("status outside any repo", ["status"], "plain", "not inside a dvx repository"),
    ("add outside any repo", ["add", "x"], "plain", "not inside a dvx repository"),
    ("local config outside any repo", ["config", "--local", "core.remote", "x"], "plain",
     "not inside a dvx repository"),
    # Mistakes on the command line itself: the same one paragraph, not click's usage block
    ("add without paths", ["add"], "repo", "Missing argument 'PATHS...'. See `dvx add --help`"),
    ("an unknown option", ["push", "--bogus"], "repo", "No such option '--bogus'"),
    ("an option out of range", ["gc", "-w", "--grace", "-1"], "repo",
     "Invalid value for '--grace'"),
    ("an option without its value", ["push", "-j"], "repo",
     "Option '-j' requires an argument. See `dvx push --help`"),
    ("a missing choice", ["completion"], "repo", "Choose from: bash, zsh, fish. See `dvx "
     "completion --help`"),
    ("an option taken for a remote's name", ["gc", "-a", "-r", "--dry-run"], "repo",
     "it needs a remote's name, and '--dry-run' is an option"),
    ("an unknown subcommand", ["remote", "bogus"], "repo",
     "No such command 'bogus'. See `dvx remote --help`"),
    ("init without git", ["init"], "plain", "not inside a Git repository"),
    ("init below the git root", ["init"], "gitonly/sub", "not the top of its Git repository"),
]


# The same mistake exits with the same status whatever command meets it: 2, a bad argument.
SAME_MISTAKE = [
    ["push", "-r", "nope"], ["pull", "-r", "nope"], ["fetch", "-r", "nope"],
    ["status", "-c", "-r", "nope"], ["fsck", "--remote", "nope"], ["gc", "-w", "-c", "nope", "-f"],
    ["status", "--remote", "nope"], ["remote", "default", "nope"],
    ["remote", "modify", "nope", "url", "/x"], ["config", "remote.nope.jobs", "3"],
    ["push", "--rev", "nope"], ["gc", "--rev", "nope", "-f"], ["diff", "nope"],
    ["stage", "add", "-n", "s", "-o", "data/a.csv", "echo"],
]


@pytest.mark.parametrize("args", SAME_MISTAKE, ids=" ".join)
def test_an_unknown_remote_or_revision_exits_2_from_every_command(args, tmp_path):
    prepare(tmp_path)
    before = snapshot(tmp_path)
    result = run_dvx(*args, cwd=tmp_path / "repo")
    assert result.code == 2, result.output
    assert result.stderr.startswith("ERROR:") and "Traceback" not in result.output
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("args", [
    ["stage", "remove", "s", "-f"], ["config", "--list", "--unset"],
    ["config", "--show-origin", "core.autostage", "true"],
    ["remote", "default", "store", "--unset"], ["remove", "-f", "data/a.csv"],
], ids=" ".join)
def test_options_that_contradict_or_would_be_ignored_exit_2_and_change_nothing(args, tmp_path):
    prepare(tmp_path)
    before = snapshot(tmp_path)
    result = run_dvx(*args, cwd=tmp_path / "repo")
    assert result.code == 2 and result.stderr.startswith("ERROR:"), result.output
    assert snapshot(tmp_path) == before


IGNORED_OPTIONS = [
    (["status", "-j", "4"], "-j sets how many checks of a remote run at once"),
    (["fsck", "-j", "4"], "-j, --fast, -a, -T, -A, --rev and -n only apply to --remote"),
    (["metrics", "show", "--precision", "2", "--json"], "--precision rounds the numbers"),
    (["metrics", "diff", "--json", "--precision", "2"], "--precision rounds the numbers"),
    (["params", "show", "--json", "--precision", "5"], "--precision rounds the numbers"),
    (["params", "diff", "--precision", "0", "--json"], "--precision rounds the numbers"),
    (["exp", "show", "--json", "--precision", "3"], "--precision rounds the numbers"),
]


@pytest.mark.parametrize("args, words", IGNORED_OPTIONS,
                         ids=[" ".join(args) for args, _ in IGNORED_OPTIONS])
def test_an_option_the_command_would_ignore_is_refused_naming_what_it_goes_with(args, words,
                                                                              tmp_path):
    """-j of status and fsck paces the checks of a remote, and --precision rounds a table
    (JSON is never rounded): given where they do nothing, they are refused, not passed over."""
    prepare(tmp_path)
    before = snapshot(tmp_path)
    result = run_dvx(*args, cwd=tmp_path / "repo")
    assert result.code == 2 and result.stderr.startswith(f"ERROR: {words}"), result.output
    assert result.stderr.count("\n") == 1 and result.stdout == ""
    assert snapshot(tmp_path) == before


def test_dvc_s_recursive_option_is_refused_saying_a_directory_covers_what_is_below(tmp_path):
    prepare(tmp_path)
    for command in ("push", "status", "add", "commit", "checkout", "remove"):
        for flag in ("-R", "--recursive"):
            refused = run_dvx(command, flag, "data", cwd=tmp_path / "repo")
            assert refused.code == 2
            assert refused.stderr == (
                f"ERROR: No such option '{flag}'. A directory given as a target covers "
                "everything below it, so DVC's -R is not needed: name the directory. See "
                f"`dvx {command} --help`.\n")


def test_dvc_s_recursive_option_on_stages_or_commands_without_targets_names_no_directory(
        tmp_path):
    """repro and exp run take stage names: -R there is answered with what runs every stage,
    and other commands say no more than that the option does not exist."""
    prepare(tmp_path)
    for command in (["repro"], ["exp", "run"]):
        refused = run_dvx(*command, "-R", "data", cwd=tmp_path / "repo")
        shown = " ".join(["dvx", *command])
        assert refused.code == 2
        assert refused.stderr == (
            f"ERROR: No such option '-R'. The targets of `{shown}` are stages, not "
            "directories. DVC's -R ran the pipelines of every dvc.yaml below a directory; dvx "
            f"has one dvx.yaml, and `{shown}` without targets runs all of its stages (name "
            f"stages to run only them and what they depend on). See `{shown} --help`.\n")
    for command in (["gc", "-w"], ["init"], ["remote", "list"], ["metrics", "show"], ["dag"]):
        refused = run_dvx(*command, "-R", cwd=tmp_path / "repo")
        shown = " ".join(["dvx", *[w for w in command if not w.startswith("-")]])
        assert refused.code == 2
        assert refused.stderr == f"ERROR: No such option '-R'. See `{shown} --help`.\n"


def snapshot(base: Path) -> dict[str, bytes]:
    """Everything a failed command must leave alone (the stat cache may be refreshed)."""
    found = {}
    for path in sorted(base.rglob("*")):
        rel = path.relative_to(base).as_posix()
        if "/.dvx/tmp" in "/" + rel or path.is_symlink() or not path.is_file():
            continue
        if path.name == "pipe":
            continue
        found[rel] = path.read_bytes()
    return found


@pytest.mark.parametrize("name, args, where, words", CASES, ids=[c[0] for c in CASES])
def test_user_error_is_one_clear_paragraph_and_changes_nothing(name, args, where, words,
                                                               tmp_path):
    prepare(tmp_path)
    before = snapshot(tmp_path)
    result = run_dvx(*[a.replace("{base}", str(tmp_path)) for a in args], cwd=tmp_path / where)
    assert result.code in (1, 2, 3), f"exit {result.code}: {result.output}"
    assert result.stderr.startswith("ERROR:"), result.output
    assert "Traceback" not in result.output and "Unexpected internal error" not in result.output
    message = " ".join(result.stderr.split())
    assert words.lower() in message.lower(), message
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("config, words", [
    ("[core\nremote = x\n", "Cannot parse"),
    ("[core]\nfsync = maybe\n", "core.fsync"),
    ("[cache]\ntype = teleport\n", "cache.type"),
    ("[core]\nhash = md5\n", "hash"),
])
def test_a_broken_config_file_is_a_clear_error(config, words, tmp_path):
    repo = make_git_repo(tmp_path / "repo")
    assert run_dvx("init", cwd=repo).code == 0
    write(repo / "data.csv", "x\n")
    write(repo / ".dvx/config.local", config)
    result = run_dvx("add", "data.csv", cwd=repo)
    assert result.code in (1, 2) and result.stderr.startswith("ERROR:"), result.output
    assert "Traceback" not in result.output and words in result.stderr
    assert not (repo / "data.csv.dvx").exists()


def test_errors_are_clean_in_a_real_process_too(tmp_path, dvx_proc):
    prepare(tmp_path)
    result = dvx_proc("add", "link-out", cwd=tmp_path / "repo")
    assert result.code == 2
    assert result.stderr.startswith("ERROR:") and "Traceback" not in result.output
    assert len(result.stderr.strip().split("\n\n")) == 1  # one paragraph
    usage = dvx_proc("push", "--bogus", cwd=tmp_path / "repo")
    assert usage.code == 2 and usage.stdout == ""
    assert usage.stderr.startswith("ERROR: No such option") and "Usage:" not in usage.stderr


def test_an_argument_that_is_not_utf_8_is_named_as_such_and_changes_nothing(repo, dvx_proc):
    write(repo / "params.yaml", "lr: 1\n")
    bad = os.fsdecode(b"caf\xe9")  # as Python receives a Latin-1 byte in an argument
    before = {name: (repo / name).read_bytes() for name in (".dvx/config", "params.yaml")}
    for args in (("remote", "add", "s", f"/tmp/{bad}"),
                 ("remote", "modify", "s", "url", f"/tmp/{bad}"),
                 ("config", "cache.type", bad),
                 ("exp", "run", "-S", f"lr={bad}"),
                 ("stage", "add", "-n", "b", f"echo {bad}")):
        result = dvx_proc(*args, cwd=repo)
        assert result.code == 2, (args, result.output)
        assert result.stderr.startswith("ERROR:") and "Traceback" not in result.output, args
        assert "caf\\xe9' is not valid UTF-8" in result.stderr, (args, result.stderr)
        assert "dvx.yaml" not in result.stderr, result.stderr
    assert {name: (repo / name).read_bytes() for name in before} == before
    assert not (repo / "dvx.yaml").exists()


def test_a_path_inside_a_tracked_directory_that_it_lacks_is_refused_by_every_command(
        repo, dvx, tmp_path):
    """A typo inside a tracked directory (`dvx push data/imgs/typo` in CI) is refused as
    checkout refuses it, never a success that did nothing; a folder the manifest holds, a
    file new in the workspace, and one a manifest not yet fetched may hold, still go."""
    write(repo / "imgs/a", "a")
    write(repo / "imgs/sub/b", "b")
    assert dvx("add", "imgs").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "imgs")
    assert dvx("remote", "add", "-d", "store", str(tmp_path / "store")).code == 0
    assert dvx("push").code == 0
    before = snapshot(repo)
    for args in (["status"], ["status", "-c"], ["push"], ["fetch"], ["pull"], ["commit"],
                 ["unprotect"], ["checkout"]):
        refused = dvx(*args, "imgs/typo")
        assert refused.code == 2, (args, refused.output)
        assert refused.stderr == ("ERROR: 'imgs/typo' is not in the tracked directory 'imgs'. "
                                  "`dvx ls -R . imgs` lists what it holds.\n"), args
    assert snapshot(repo) == before
    warned = dvx("diff", "--targets", "imgs/typo")
    assert "'imgs/typo' names nothing dvx tracks in HEAD or workspace." in warned.stderr
    assert dvx("status", "imgs/sub").code == 0 and dvx("push", "imgs/sub").code == 0
    assert "names nothing" not in dvx("diff", "--targets", "imgs/sub").stderr
    write(repo / "imgs/new", "new")
    assert "added: new" in dvx("status", "imgs/new").stdout
    assert dvx("commit", "imgs/new").code == 0
    assert "imgs/new" in dvx("diff", "--targets", "imgs/new").stdout
    git(repo, "checkout", "--", "imgs.dvx")
    shutil.rmtree(repo / ".dvx/cache")
    shutil.rmtree(repo / "imgs")
    assert dvx("fetch", "imgs/typo").code == 0  # the manifest was not here to tell


EMPTY_VALUES = [
    ["fsck", "--remote", ""], ["fsck", "--remote", "", "--fast"], ["push", "-r", ""],
    ["status", "-c", "-r", ""], ["gc", "-w", "-f", "--remote", ""], ["gc", "-w", "-f", "-c", ""],
    ["exp", "push", "-r", "", "origin"], ["exp", "pull", "", "-r", "store"],
    ["exp", "remove", "-g", "", "e1"], ["queue", "start", "--dask", ""],
    ["queue", "start", "--dask", "tcp://scheduler:8786", "--git-remote", ""],
    ["diff", ""], ["diff", "HEAD", ""], ["params", "diff", ""], ["diff", "--targets", ""],
    ["plots", "show", "-o", ""], ["stage", "add", "-n", "s", "-w", "", "echo"],
    ["move", "data/a.csv", ""], ["move", "", "data/b.csv"], ["remote", "default", ""],
    ["dag", ""], ["update", "--rev", ""], ["ls", ".", ""], ["du", ".", ""], ["get", ".", ""],
    ["import", ".", ""],
]


def test_an_empty_value_an_unset_variable_gives_is_refused_never_read_as_no_option(tmp_path):
    """`fsck --remote "$R"` with R unset checks no remote, `queue start --dask "$A"` runs
    here, `gc -c ""` cleans the default remote, `plots show -o ""` writes into the current
    folder: each is refused (exit 2), as an empty path is, and nothing changes."""
    repo = prepare(tmp_path)
    assert run_dvx("remote", "default", "store", cwd=repo).code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "data")
    before = snapshot(tmp_path)
    for args in EMPTY_VALUES:
        refused = run_dvx(*args, cwd=repo)
        assert refused.code == 2, (args, refused.output)
        assert refused.stderr.startswith("ERROR:"), (args, refused.output)
        assert "empty" in refused.stderr or "Unknown revision ''" in refused.stderr, args
    assert snapshot(tmp_path) == before


def test_queue_start_refuses_jobs_with_dask_as_they_run_on_the_cluster(repo, dvx):
    refused = dvx("queue", "start", "--dask", "tcp://scheduler:8786", "-j", "2")
    assert refused.code == 2
    assert refused.stderr.startswith("ERROR: -j (--jobs) is how many experiments run at once "
                                     "on this machine")
