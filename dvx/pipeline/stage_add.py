"""`dvx stage add`: write or replace one stage in dvx.yaml, keeping the rest of the file (its
comments, order, quoting and indentation) as the user wrote it.

This is the one place dvx edits dvx.yaml, with ruamel.yaml's round-trip mode. The file is first
read with the safe, size-limited parser like every other repository file, and the result is
validated as a whole pipeline before it replaces dvx.yaml atomically.
"""

from __future__ import annotations

import copy
import io
import itertools
import os
import re
from dataclasses import dataclass
from typing import Any

from dvx import fsutil
from dvx.errors import FormatError, PathError, UsageError
from dvx.pipeline.graph import build_dag
from dvx.pipeline.spec import PIPELINE_FILE, parse_pipeline, pipeline_path
from dvx.repo import Repo
from dvx.yamlio import DEFAULT_MAX_BYTES, parse_yaml

_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


@dataclass(frozen=True)
class NewStage:
    name: str
    cmd: str
    deps: tuple[str, ...] = ()
    outs: tuple[str, ...] = ()
    outs_no_cache: tuple[str, ...] = ()
    outs_persist: tuple[str, ...] = ()
    params: tuple[str, ...] = ()  # "key", "key1,key2" or "file.yaml:key1,key2"
    metrics: tuple[str, ...] = ()
    plots: tuple[str, ...] = ()
    wdir: str | None = None
    desc: str | None = None
    always_changed: bool = False


def add_stage(repo: Repo, new: NewStage, force: bool = False) -> bool:
    """Write the stage; True if it replaced an existing one."""
    if not _NAME.fullmatch(new.name):
        raise UsageError(f"'{new.name}' is not a valid stage name.",
                         "Use letters, digits, '_', '.' and '-'.")
    if not new.cmd.strip():
        raise UsageError("The stage has no command.", "Give the command after the options.")
    path = pipeline_path(repo)
    if os.path.islink(path):
        raise PathError(f"Refusing to edit {PIPELINE_FILE}: it is a symbolic link.")
    text = _read(path)
    with repo.lock():
        updated, replaced = _edit(text, new, force)
        parsed = parse_yaml(updated.encode("utf-8"), PIPELINE_FILE)
        build_dag(parse_pipeline(repo, parsed))  # never write a pipeline that cannot load
        fsutil.atomic_write(path, updated.encode("utf-8"), fsync=repo.fsync)
    return replaced


def _read(path: str) -> str:
    try:
        with open(path, "rb") as f:
            data = f.read(DEFAULT_MAX_BYTES + 1)
    except FileNotFoundError:
        return ""
    parse_yaml(data, PIPELINE_FILE)  # safe, limited parse first: refuse what it refuses
    return data.decode("utf-8")


def _yaml(text: str) -> Any:
    from ruamel.yaml import YAML

    yaml = YAML()  # round-trip
    yaml.preserve_quotes = True
    yaml.width = 4096
    mapping, offset = _guess_indent(text)
    yaml.indent(mapping=mapping, sequence=offset + 2, offset=offset)
    return yaml


def _guess_indent(text: str) -> tuple[int, int]:
    """(mapping indent, dash offset) as the file uses them; DVC's style if it shows none."""
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    mapping = next((len(ln) - len(ln.lstrip(" ")) for ln in lines
                    if ln.startswith(" ") and not ln.lstrip().startswith("-")), 2)
    offset = 0
    for before, line in itertools.pairwise(lines):
        if line.lstrip().startswith("- ") and before.rstrip().endswith(":"):
            offset = max(0, (len(line) - len(line.lstrip(" ")))
                         - (len(before) - len(before.lstrip(" "))))
            break
    return max(mapping, 1), offset


def _edit(text: str, new: NewStage, force: bool) -> tuple[str, bool]:
    from ruamel.yaml.comments import CommentedMap

    yaml = _yaml(text)
    doc = yaml.load(text) if text.strip() else None
    if doc is None:
        doc = CommentedMap()
    if not isinstance(doc, CommentedMap):
        raise FormatError(f"{PIPELINE_FILE} is not a mapping with a 'stages' key.")
    stages = doc.get("stages")
    if stages is None:
        stages = CommentedMap()
        doc["stages"] = stages
    if not isinstance(stages, CommentedMap):
        raise FormatError(f"'stages' in {PIPELINE_FILE} is not a mapping.")
    replaced = new.name in stages
    if replaced and not force:
        raise UsageError(f"Stage '{new.name}' already exists in {PIPELINE_FILE}.",
                         "Use -f to replace it.")
    body = _body(new)
    if replaced:
        tail = _detach_tail(stages[new.name])
        stages[new.name] = body
    else:
        tail = _detach_tail(stages) if len(stages) else None
        stages[new.name] = body
    if tail is not None:
        _attach_tail(body, tail)
    out = io.StringIO()
    yaml.dump(doc, out)
    return out.getvalue(), replaced


def _body(new: NewStage) -> Any:
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    body = CommentedMap()
    body["cmd"] = new.cmd
    if new.wdir and new.wdir != ".":
        body["wdir"] = new.wdir
    if new.deps:
        body["deps"] = CommentedSeq(dict.fromkeys(new.deps))
    params = _params(new.params)
    if params:
        body["params"] = params
    outs: list[Any] = list(dict.fromkeys(new.outs))
    outs += [CommentedMap({p: CommentedMap({"cache": False})}) for p in new.outs_no_cache]
    outs += [CommentedMap({p: CommentedMap({"persist": True})}) for p in new.outs_persist]
    if outs:
        body["outs"] = CommentedSeq(outs)
    if new.metrics:
        body["metrics"] = CommentedSeq(dict.fromkeys(new.metrics))
    if new.plots:
        body["plots"] = CommentedSeq(dict.fromkeys(new.plots))
    if new.desc:
        body["desc"] = new.desc
    if new.always_changed:
        body["always_changed"] = True
    return body


def _params(values: tuple[str, ...]) -> Any:
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    plain: list[str] = []
    by_file: dict[str, list[str]] = {}
    for value in values:
        file, sep, after = value.rpartition(":")
        names = [k.strip() for k in (after if sep else value).split(",") if k.strip()]
        if sep:
            by_file.setdefault(file, []).extend(names)
        else:
            plain.extend(names)
    items: list[Any] = list(dict.fromkeys(plain))
    for file, keys in by_file.items():
        item = CommentedMap()
        item[file] = CommentedSeq(dict.fromkeys(keys))
        items.append(item)
    return CommentedSeq(items) if items else None


# -- keeping comments that belong to what follows a replaced node ---------------------------
# ruamel attaches the comment lines between two stages to the last value of the first one, so
# replacing (or appending after) that stage would lose or misplace them: move them along.

def _last_slot(node: Any) -> tuple[Any, Any, int] | None:
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    while True:
        if isinstance(node, CommentedMap) and len(node):
            key = list(node.keys())[-1]
            if isinstance(node[key], (CommentedMap, CommentedSeq)) and len(node[key]):
                node = node[key]
                continue
            return node, key, 2
        if isinstance(node, CommentedSeq) and len(node):
            index = len(node) - 1
            if isinstance(node[index], (CommentedMap, CommentedSeq)) and len(node[index]):
                node = node[index]
                continue
            return node, index, 0
        return None


def _detach_tail(node: Any) -> Any:
    slot = _last_slot(node)
    if slot is None:
        return None
    container, key, index = slot
    tokens = container.ca.items.get(key)
    if not tokens or len(tokens) <= index or tokens[index] is None:
        return None
    token = tokens[index]
    first, _, rest = token.value.partition("\n")
    if not rest:
        return None  # only an end-of-line comment: it stays with its line
    if first:
        token.value = first + "\n"
        token = copy.copy(token)
        token.value = "\n" + rest
        return token
    tokens[index] = None
    return token


def _attach_tail(node: Any, token: Any) -> None:
    slot = _last_slot(node)
    if slot is None:
        return
    container, key, index = slot
    tokens = container.ca.items.setdefault(key, [None, None, None, None])
    if tokens[index] is None:
        tokens[index] = token
    else:
        tokens[index].value += token.value[1:]
