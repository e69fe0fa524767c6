"""Smaller things every command is expected to have: completion scripts, --json."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from pipeline_kit import make_ml_repo

from tests.conftest import git, make_git_repo, write


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


def test_doctor_reports_the_cache_link_types_and_remotes_without_changing_anything(
        repo, dvx, tmp_path):
    store = tmp_path / "store"
    assert dvx("remote", "add", "-d", "storage", str(store)).code == 0
    before = sorted(p.relative_to(repo) for p in repo.rglob("*") if ".git" not in p.parts)
    found = json.loads(dvx("doctor", "--json").stdout)
    about = found["repository"]
    assert about["root"] == str(repo) and about["git"] is True
    assert about["cache"] == str(repo / ".dvx" / "cache")
    assert about["link_types"]["copy"] is True and about["link_types"]["hardlink"] is True
    assert about["remotes"] == [{"name": "storage", "url": str(store), "default": True}]
    assert "local" in found["supports"] and found["dvx"]
    assert sorted(p.relative_to(repo) for p in repo.rglob("*")
                  if ".git" not in p.parts) == before  # the probe's files are gone
    shown = dvx("version")
    assert shown.code == 0 and "link types here: " in shown.stdout
    assert "remote: storage" in shown.stdout and "(default)" in shown.stdout


def test_version_outside_a_repository_says_so(tmp_path, dvx_proc):
    shown = dvx_proc("version", cwd=tmp_path)
    assert shown.code == 0 and "dvx: " in shown.stdout
    assert "repository: none" in shown.stdout and "supports: " in shown.stdout


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


def test_git_variables_naming_another_repository_are_refused_and_nothing_is_deleted(
        repo, dvx, dvx_proc, tmp_path):
    other = make_git_repo(tmp_path / "dotfiles")
    assert dvx("config", "cache.type", "symlink").code == 0
    write(repo / "model.bin", "model weights v1\n")
    assert dvx("add", "model.bin").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "data")
    os.unlink(repo / ".dvx" / "tmp" / "synced.json")  # no record: Git's listing decides
    elsewhere = {"GIT_DIR": str(other / ".git"), "GIT_WORK_TREE": str(other)}
    for args in (("status",), ("gc", "-w", "-f", "--grace", "0")):
        refused = dvx_proc(*args, cwd=repo, env=elsewhere)
        assert refused.code == 2 and "GIT_DIR=" in refused.stderr, refused.output
        assert "unset GIT_DIR GIT_WORK_TREE" in refused.stderr
    assert (repo / "model.bin").read_text() == "model weights v1\n"
    assert dvx("status").stdout == "Data and pointers are up to date.\n"


def test_dvx_works_on_its_repository_with_the_variables_git_gives_its_hooks(
        repo, dvx, dvx_proc, tmp_path):
    write(repo / "model.bin", "v1\n")
    assert dvx("add", "model.bin").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "data")
    linked = tmp_path / "linked"
    git(repo, "worktree", "add", "-q", str(linked), "-b", "exp")
    git_dir = git(linked, "rev-parse", "--absolute-git-dir").strip()
    os.unlink(repo / ".dvx" / "tmp" / "synced.json")
    for cwd, env in ((repo, {"GIT_DIR": ".git"}),
                     (linked, {"GIT_DIR": git_dir, "GIT_INDEX_FILE": f"{git_dir}/index"}),
                     (linked, {"GIT_INDEX_FILE": str(tmp_path / "no-such-index")})):
        pulled = dvx_proc("checkout", cwd=cwd, env=env)
        assert pulled.code == 0, pulled.output
        assert (cwd / "model.bin").read_text() == "v1\n"
        listed = dvx_proc("status", "--json", cwd=cwd, env=env)
        assert listed.code == 0 and '"changed": false' in listed.stdout, listed.output
        assert "model.bin" in dvx_proc("ls", ".", cwd=cwd, env=env).stdout


def test_names_that_are_not_utf8_come_out_as_json_escapes_and_as_git_quotes_them(repo):
    latin1 = os.fsdecode(b"legacy-\xe9.txt")
    write(repo / latin1, "x\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "a Latin-1 name")

    def run(*args: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run([sys.executable, "-m", "dvx", *args], cwd=repo,
                              capture_output=True)

    listed = run("ls", ".", "--json")
    paths = [e["path"] for e in json.loads(listed.stdout.decode("utf-8"))]
    assert latin1 in paths and b"\\udce9" in listed.stdout  # valid UTF-8; fsencode round-trips
    checked = run("check-ignore", "--json", latin1)
    assert json.loads(checked.stdout.decode("utf-8"))[0]["path"] == latin1
    assert b"legacy-\\351.txt" in run("ls", ".").stdout
    refused = run("ls", latin1)
    assert refused.returncode != 0 and b"'legacy-\\351.txt'" in refused.stderr, refused.stderr


def _hook(repo, name, body):
    hook = write(repo / ".git" / "hooks" / name, f"#!/bin/sh\nset -e\n{body}\n")
    os.chmod(hook, 0o755)


def test_a_pre_commit_hook_stages_into_the_index_git_commits_from(repo, dvx):
    """`git commit -a` and `git commit PATH` commit from a temporary index (GIT_INDEX_FILE)
    and hold the real one locked: what dvx stages in their pre-commit hook goes into it."""
    assert dvx("config", "core.autostage", "true").code == 0
    write(repo / "data.txt", "a\n")
    write(repo / "code.py", "v1\n")
    assert dvx("add", "data.txt").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "init")
    _hook(repo, "pre-commit", f"'{sys.executable}' -m dvx add -q data.txt")
    for version, commit in (("2", ("-a",)), ("3", ("--", "code.py"))):
        write(repo / "data.txt", f"data v{version}\n")
        write(repo / "code.py", f"v{version}\n")
        git(repo, "commit", "-qm", f"v{version}", *commit)
        committed = git(repo, "show", "--name-only", "--format=", "HEAD").split()
        assert sorted(committed) == ["code.py", "data.txt.dvx"]
        pointer = (repo / "data.txt.dvx").read_text()
        assert git(repo, "show", "HEAD:data.txt.dvx") == pointer


def test_dvx_run_by_git_from_a_subfolder_of_a_linked_worktree_works_on_it(repo, dvx, dvx_proc,
                                                                         tmp_path):
    """Git gives its hooks and `git rebase --exec` lines GIT_DIR, which in a linked worktree
    names its own Git directory: dvx run from a subfolder there (where Git would take the
    subfolder for its work tree) works on that worktree, as from a shell."""
    write(repo / "sub" / "d.txt", "a\n")
    assert dvx("add", "sub/d.txt").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "data")
    linked = tmp_path / "linked"
    git(repo, "worktree", "add", "-q", str(linked), "-b", "exp")
    assert dvx("checkout", cwd=linked).code == 0
    status = f"cd sub && '{sys.executable}' -m dvx status -q"
    _hook(repo, "pre-commit", status)
    write(linked / "code.py", "v1\n")
    git(linked, "add", "code.py")
    git(linked, "commit", "-qm", "code")  # check=True: the hook's dvx exited 0
    git(linked, "rebase", "-q", "--exec", status, "HEAD~1")
    from_sub = dvx_proc("status", "-q", cwd=repo / "sub", env={"GIT_DIR": "../.git"})
    assert from_sub.code == 0, from_sub.output
    git_dir = git(linked, "rev-parse", "--absolute-git-dir").strip()
    for elsewhere in ({"GIT_DIR": str(repo / ".git")},  # the main worktree's
                      {"GIT_DIR": git_dir, "GIT_WORK_TREE": str(repo)}):
        refused = dvx_proc("status", "-q", cwd=linked / "sub", env=elsewhere)
        assert refused.code == 2 and "GIT_DIR=" in refused.stderr, refused.output


def test_quiet_means_the_same_on_every_command_and_a_report_is_still_printed(repo, dvx,
                                                                             tmp_path):
    """One definition of -q's help, true of every command: no messages but errors; a command
    run for its report prints the report (status -q and diff -q, gates, say so themselves)."""
    import click

    from dvx.cli.common import QUIET_HELP
    from dvx.cli.main import cli

    def options(command: click.Command, path: str) -> list[tuple[str, str | None]]:
        found = [(path, p.help) for p in command.params
                 if isinstance(p, click.Option) and "-q" in p.opts]
        if isinstance(command, click.Group):
            for name, sub in command.commands.items():
                found += options(sub, f"{path} {name}")
        return found

    helps = options(cli, "dvx")
    assert len(helps) > 60 and {h for _, h in helps} == {QUIET_HELP}, helps
    assert dvx("remote", "add", "-d", "storage", str(tmp_path / "s")).code == 0
    listed = dvx("remote", "list", "-q")
    assert listed.code == 0 and listed.stdout.startswith("storage\t"), listed.output
