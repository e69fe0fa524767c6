"""The repository's hash algorithm (dvx/hash_setting.py, docs/configuration.md): a user's own
core.hash never records data the repository's clones cannot read, and every message about
an algorithm that differs names the `dvx config` (or the commands) that fix it, which work
when pasted."""

import os
import sys
from pathlib import Path

from tests.conftest import git, write

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
