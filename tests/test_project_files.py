"""The project's top holds its own files only: a stray file (a debugging dump) committed
beside them is caught here, not by a reader of the tree."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

TOP = Path(__file__).resolve().parent.parent
EXPECTED_AT_TOP = {
    ".ci", ".gitignore", "LICENSE", "README.md", "pyproject.toml",
    "dvx", "tests", "docs", "scripts",
}


def test_git_tracks_only_the_project_s_files_at_its_top():
    if not (TOP / ".git").exists():
        pytest.skip("not a Git checkout of the project")
    listed = subprocess.run(["git", "-C", str(TOP), "ls-files", "-z"], capture_output=True,
                            check=True).stdout.decode().split("\0")
    at_top = {name.split("/", 1)[0] for name in listed if name}
    assert at_top <= EXPECTED_AT_TOP, f"unexpected files at the top: {at_top - EXPECTED_AT_TOP}"
