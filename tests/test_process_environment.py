"""What dvx's process starts with, checked through the real `python -m dvx`: a locale whose
encoding is not UTF-8, standard streams that cannot hold every character or that the caller
closed. Names are recorded as UTF-8, and commands work and report as they do anywhere else."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import git, run_dvx_proc, write

ASCII_FILENAMES = {"LC_ALL": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0"}


def _latin1_locale(tmp_path: Path) -> dict[str, str]:
    """An ISO-8859-1 locale, built with localedef in a folder of the test's own."""
    if shutil.which("localedef") is None:
        pytest.skip("localedef is not installed")
    where = tmp_path / "locales"
    where.mkdir()
    subprocess.run(["localedef", "-i", "en_US", "-f", "ISO-8859-1",
                    str(where / "en_US.ISO-8859-1")], capture_output=True)
    if not (where / "en_US.ISO-8859-1").is_dir():
        pytest.skip("localedef cannot build en_US.ISO-8859-1 here")
    return {"LOCPATH": str(where), "LC_ALL": "en_US.ISO-8859-1"}


@pytest.mark.parametrize("locale", ["ascii", "latin1"])
def test_names_are_recorded_as_utf8_in_a_locale_that_is_not(repo, dvx, tmp_path, locale):
    env = ASCII_FILENAMES if locale == "ascii" else _latin1_locale(tmp_path)
    write(repo / "data" / "café.txt", "hello\n")
    write(repo / "data" / "dïr" / "fïle1", "1\n")
    result = run_dvx_proc("add", "data/café.txt", "data/dïr", cwd=repo, env=env)
    assert result.code == 0, result.output
    assert (repo / "data" / ".gitignore").read_bytes() == "/café.txt\n/dïr\n".encode()
    git(repo, "check-ignore", "data/café.txt", "data/dïr")  # fails if Git would add them
    assert (repo / "data" / "café.txt.dvx").is_file() and (repo / "data" / "dïr.dvx").is_file()
    shutil.rmtree(repo / "data" / "dïr")
    assert dvx("checkout").code == 0  # a teammate in a UTF-8 locale gets the same names
    assert os.listdir(repo / "data" / "dïr") == ["fïle1"]


def test_stage_commands_run_outside_dvxs_utf8_mode(repo):
    """Python's UTF-8 mode is dvx's own: a Python stage command runs in the user's locale."""
    write(repo / "dvx.yaml", "stages:\n  s:\n    cmd: >-\n"
          f"      {sys.executable} -c 'import sys; print(sys.flags.utf8_mode)' > mode.txt\n"
          "    outs: [mode.txt]\n")
    result = run_dvx_proc("repro", cwd=repo, env=ASCII_FILENAMES)
    assert result.code == 0, result.output
    assert (repo / "mode.txt").read_text() == "0\n"


def test_output_the_stream_cannot_encode_is_escaped_not_a_crash(repo):
    write(repo / "日本.bin", "x\n")
    write(repo / "params.yaml", 'greeting: "snow ☃"\n')
    env = {"PYTHONIOENCODING": "latin-1"}
    added = run_dvx_proc("add", "日本.bin", cwd=repo, env=env)
    assert added.code == 0, added.output
    assert "Tracked \\u65e5\\u672c.bin" in added.stdout
    shown = run_dvx_proc("params", "show", cwd=repo, env=env)
    assert shown.code == 0 and "snow \\u2603" in shown.stdout, shown.output


def _with_closed(redirect: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`python -m dvx ARGS` with a standard stream closed by the shell (`2>&-`, `<&-`)."""
    return subprocess.run(["sh", "-c", f'exec "$@" {redirect}', "sh", sys.executable, "-m",
                           "dvx", *args], cwd=cwd, capture_output=True, text=True)


def test_commands_work_with_stderr_closed(repo):
    write(repo / "f.txt", "hi\n")
    added = _with_closed("2>&-", "add", "f.txt", cwd=repo)
    assert added.returncode == 0 and "Tracked f.txt" in added.stdout
    assert (repo / "f.txt.dvx").is_file()
    status = _with_closed("2>&-", "status", cwd=repo)
    assert status.returncode == 0 and "up to date" in status.stdout


def test_gc_with_stdin_closed_asks_for_f_as_with_no_terminal(repo):
    write(repo / "a.txt", "a\n")
    assert run_dvx_proc("add", "a.txt", cwd=repo).code == 0
    result = _with_closed("<&-", "gc", "-w", cwd=repo)
    assert result.returncode == 2
    assert "gc deletes data and needs confirmation. Pass -f" in result.stderr
