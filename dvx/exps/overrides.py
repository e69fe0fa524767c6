"""`-S [FILE:]KEY=VALUE`: set a param in a params file before an experiment runs. YAML files
are edited in round-trip mode (comments and layout kept), JSON files rewritten with two-space
indents; VALUE is read as YAML (`0.1` a number, `true` a boolean, `[1, 2]` a list)."""

from __future__ import annotations

import io
import json
import os
from dataclasses import dataclass
from typing import Any

from dvx.errors import UsageError
from dvx.paths import check_relpath
from dvx.pipeline.params import DEFAULT_PARAMS_FILE, check_params_file_name
from dvx.repo import Repo


@dataclass(frozen=True)
class Override:
    file: str  # repository-relative
    key: str  # dotted
    value: Any

    def __str__(self) -> str:
        return f"{self.file}:{self.key}={json.dumps(self.value)}"


def parse(text: str) -> Override:
    target, sep, raw = text.partition("=")
    if not sep or not target:
        raise UsageError(f"-S {text!r}: expected [FILE:]KEY=VALUE, e.g. -S train.lr=0.01.")
    file, colon, key = target.rpartition(":")
    if not colon:
        file, key = DEFAULT_PARAMS_FILE, target
    if not key or any(part == "" for part in key.split(".")):
        raise UsageError(f"-S {text!r}: {key!r} is not a dotted param name.")
    check_relpath(file, "params file")
    check_params_file_name(file, f"-S {text}")
    import yaml

    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        raise UsageError(f"-S {text!r}: the value {raw!r} is not valid YAML.",
                         "Quote a string that YAML would misread: -S 'key=\"[x\"'.") from None
    return Override(file, key, value)


def apply(repo: Repo, overrides: list[Override]) -> None:
    by_file: dict[str, list[Override]] = {}
    for override in overrides:
        by_file.setdefault(override.file, []).append(override)
    for file in by_file:
        if not os.path.isfile(repo.abspath(file)):
            raise UsageError(f"-S names the params file '{file}', which does not exist.",
                             "Set params of an existing YAML or JSON file (params.yaml when "
                             "no file is named).")
    for file, changes in by_file.items():
        full = repo.abspath(file)
        if file.lower().endswith(".toml"):
            raise UsageError(f"-S cannot edit the TOML file '{file}' yet.",
                             "Keep the params experiments change in a YAML or JSON file.")
        if file.lower().endswith(".json"):
            _edit_json(full, changes)
        else:
            _edit_yaml(full, changes)


def _set(doc: Any, key: str, value: Any, file: str) -> None:
    parts = key.split(".")
    for part in parts[:-1]:
        if part not in doc:
            doc[part] = {}
        doc = doc[part]
        if not isinstance(doc, dict):
            raise UsageError(f"-S {file}:{key}: '{part}' is not a mapping in '{file}'.")
    doc[parts[-1]] = value


def _edit_yaml(full: str, changes: list[Override]) -> None:
    from ruamel.yaml import YAML

    yaml = YAML()  # round-trip: comments, order and quoting survive
    doc: Any = {}
    if os.path.exists(full):
        with open(full, encoding="utf-8") as f:
            doc = yaml.load(f) or {}
    if not isinstance(doc, dict):
        raise UsageError(f"'{changes[0].file}' is not a mapping of params.")
    for change in changes:
        _set(doc, change.key, change.value, change.file)
    out = io.StringIO()
    yaml.dump(doc, out)
    _write(full, out.getvalue())


def _edit_json(full: str, changes: list[Override]) -> None:
    doc: Any = {}
    if os.path.exists(full):
        with open(full, encoding="utf-8") as f:
            doc = json.load(f)
    if not isinstance(doc, dict):
        raise UsageError(f"'{changes[0].file}' is not a mapping of params.")
    for change in changes:
        _set(doc, change.key, change.value, change.file)
    _write(full, json.dumps(doc, indent=2) + "\n")


def _write(full: str, text: str) -> None:
    from dvx import fsutil

    os.makedirs(os.path.dirname(full), exist_ok=True)
    fsutil.atomic_write(full, text.encode("utf-8"))
