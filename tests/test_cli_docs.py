"""The CLI reference (docs/cli.md) is generated from `--help` and kept current, and every
command's help works and shows an example."""

from __future__ import annotations

import runpy
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "gen-cli-docs"

# The generator is a script without a .py suffix: load its functions without writing bytecode.
GEN: dict[str, Any] = runpy.run_path(str(SCRIPT), run_name="gen_cli_docs")
CLI = GEN["load_cli"]()
COMMANDS: list[tuple[str, ...]] = GEN["command_paths"](CLI)


def _name(path: tuple[str, ...]) -> str:
    return " ".join(("dvx", *path))


def test_cli_reference_is_current() -> None:
    current = GEN["OUTPUT"].read_text(encoding="utf-8")
    assert current == GEN["render"](), GEN["STALE_MESSAGE"]


def test_every_command_is_found() -> None:
    names = {_name(p) for p in COMMANDS}
    assert {"dvx add", "dvx status", "dvx remote", "dvx remote add", "dvx push"} <= names


def test_top_level_help_shows_the_everyday_flow() -> None:
    text = GEN["help_text"](CLI, ())
    assert text.startswith("Usage: dvx ")
    assert "Example" in text and "dvx add" in text


@pytest.mark.parametrize("path", COMMANDS, ids=_name)
def test_help_works_and_has_examples(path: tuple[str, ...]) -> None:
    text = GEN["help_text"](CLI, path)  # raises unless the exit status is 0
    assert text.startswith(f"Usage: {_name(path)} ")
    assert "Examples:" in text
    examples = text.split("Examples:", 1)[1]
    assert f"dvx {path[0]}" in examples, "the examples should show the command in use"


@pytest.mark.parametrize("path", COMMANDS, ids=_name)
def test_command_is_in_the_reference(path: tuple[str, ...]) -> None:
    reference = GEN["OUTPUT"].read_text(encoding="utf-8")
    assert f"\n## {_name(path)}\n" in reference


def test_check_mode_reports_a_stale_file_and_writing_fixes_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main = GEN["main"]
    stale = tmp_path / "cli.md"
    stale.write_text("old\n", encoding="utf-8")
    assert main(["--check"], output=stale) == 1
    assert GEN["STALE_MESSAGE"] in capsys.readouterr().err
    assert stale.read_text(encoding="utf-8") == "old\n", "--check must not write"
    assert main([], output=stale) == 0
    assert main(["--check"], output=stale) == 0


def test_every_test_the_docs_name_exists() -> None:
    """docs/guarantees.md names the test of each guarantee (other pages name some too): a
    renamed or removed test must not leave a guarantee pointing at nothing."""
    import re

    named = {(path, name) for page in (ROOT / "docs").glob("*.md")
             for path, name in re.findall(r"(tests/[\w/]+\.py)::(\w+)", page.read_text())}
    assert len(named) > 100  # the pattern still finds them
    missing = sorted(f"{path}::{name}" for path, name in named
                     if not (ROOT / path).is_file() or not re.search(
                         rf"^\s*(async )?def {name}\(", (ROOT / path).read_text(), re.M))
    assert missing == [], "docs name tests that do not exist: " + ", ".join(missing)


def _pypi_dvx_installs(text: str) -> list[str]:
    """The `pip install` commands in `text` that name dvx with no source (`dvx`, `'dvx[gs]'`):
    pip takes those from PyPI, whose `dvx` is another project."""
    import re
    import shlex

    found = []
    for command in re.findall(r"pip install[^`\n]*", text):
        try:
            words = shlex.split(command)
        except ValueError:  # an unbalanced quote: split on blanks
            words = command.split()
        if any(re.fullmatch(r"dvx(\[[\w,\s]*\])?", word) for word in words[2:]):
            found.append(command)
    return found


def test_the_docs_never_install_dvx_from_pypi() -> None:
    """Every install line of the docs and README installs this project from its source (a
    checkout, or a Git URL pinned to a tag): `pip install dvx` would run PyPI's unrelated `dvx`,
    in a CI recipe with the job's secrets."""
    assert _pypi_dvx_installs("run `pip install dvx` or `pip install 'dvx[gs]'`\n"
                              "- pip install -U \"dvx[s3,gs]\"\n") == [
        "pip install dvx", "pip install 'dvx[gs]'", 'pip install -U "dvx[s3,gs]"']  # it finds them
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    wrong = {page.name: found for page in pages
             if (found := _pypi_dvx_installs(page.read_text(encoding="utf-8")))}
    assert wrong == {}
    quickstart = (ROOT / "docs" / "quickstart.md").read_text(encoding="utf-8")
    assert "the package named `dvx` on PyPI is another\nproject" in quickstart
