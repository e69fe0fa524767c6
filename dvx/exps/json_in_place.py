"""A JSON document's text with the values of given keys changed, every other byte as
written: the text of each value set is replaced, a key added goes after the last member of
its object, indented as that member is. Other values keep their spelling (`1.50`, `1E400`,
`"\\u00e9"`), the keys their order, the file its indents and its end.

A value set is written as strict JSON: infinity and NaN, which JSON has no words for (only
Python's reader takes `Infinity`), are refused, nothing written."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from dvx.errors import UsageError
from dvx.pipeline.params import find_param, load_json, param_value, same_value

# Reads any value only to find where it ends: numbers kept as text, so that no digit limit
# or float conversion applies to a file load_json has read already.
_SPAN_DECODER = json.JSONDecoder(parse_int=str, parse_float=str)
_WHITESPACE = " \t\n\r"

KeyPath = tuple[str | int, ...]


def set_in_place(text: str, doc: Any, file: str, key: str) -> str:
    """`text` with the value the dotted `key` names in `doc` (where -S has just set it)
    written in, in place of the text of the value it replaces, or as a new member of the
    deepest object `text` has on its path."""
    found = find_param(doc, key)
    assert found is not None, key  # set in `doc` just before
    steps = found[0]
    at, depth = _skip(text, 0), 0
    while depth < len(steps):
        inner = _child_start(text, at, steps[depth])
        if inner is None:
            break
        at, depth = inner, depth + 1
    if depth == len(steps):
        end = _value_end(text, at)
        return text[:at] + _strict(_at(doc, steps), file, key) + text[end:]
    added = _strict(_at(doc, steps[:depth + 1]), file, key)
    return _add_member(text, at, str(steps[depth]), added)


def refuse_unlike(file: str, keys: Sequence[str], text: str, expected: Any) -> None:
    """Refuse an edit after which the file would not read as `expected` (the params as they
    were, with the values set): the last guard that nothing else changed."""
    try:
        after = load_json(text)
    except (ValueError, RecursionError):
        after = None
    if after is None or not same_value(param_value(after), param_value(expected)):
        raise UsageError(f"-S cannot set {', '.join(keys)} in '{file}': the file edited would "
                         "not read back as the params with those values set. Nothing was "
                         "written.", f"Set the params in '{file}' by hand.")


def _strict(value: Any, file: str, key: str) -> str:
    try:
        return json.dumps(value, ensure_ascii=False, allow_nan=False)
    except ValueError:
        raise UsageError(f"-S cannot set {key} in '{file}' to {json.dumps(value)}: JSON has no "
                         "infinity or NaN, and strict readers (JavaScript's, Go's, Rust's) "
                         "refuse a file holding `Infinity` or `NaN`. Nothing was written.",
                         "Set a finite number (1e308), or keep the param in a YAML file, "
                         "where `.inf` is a float.") from None


def _at(doc: Any, steps: KeyPath) -> Any:
    for step in steps:
        doc = doc[step]
    return doc


def _skip(text: str, at: int) -> int:
    while at < len(text) and text[at] in _WHITESPACE:
        at += 1
    return at


def _value_end(text: str, at: int) -> int:
    return _SPAN_DECODER.raw_decode(text, at)[1]


def _members(text: str, at: int) -> list[tuple[Any, int, int]]:
    """The members of the object or list whose text starts at `at`: each one's key (its
    index in a list), where its text starts (its key's quote in an object) and where its
    value starts."""
    members: list[tuple[Any, int, int]] = []
    closing = "}" if text[at] == "{" else "]"
    at = _skip(text, at + 1)
    while text[at] != closing:
        start = at
        if closing == "}":
            name, at = json.decoder.scanstring(text, at + 1)  # type: ignore[attr-defined]
            at = _skip(text, _skip(text, at) + 1)  # past the ':'
        else:
            name = len(members)
        members.append((name, start, at))
        at = _skip(text, _value_end(text, at))
        if text[at] == ",":
            at = _skip(text, at + 1)
    return members


def _child_start(text: str, at: int, step: str | int) -> int | None:
    """Where the value `step` names in the object or list written at `at` starts; None if
    it has none (a member -S adds), or the value there holds no members."""
    if text[at] not in "{[":
        return None
    for name, _, value in _members(text, at):
        if name == step:
            return value
    return None


def _add_member(text: str, at: int, name: str, value: str) -> str:
    """`text` with `"name": value` added to the object written at `at`: after its last
    member, indented as that one is (on its own line if it is), or alone in `{}`."""
    members = _members(text, at)
    member = f"{json.dumps(name, ensure_ascii=False)}: {value}"
    if not members:
        return text[:at + 1] + member + text[at + 1:]
    _, last_start, last_value = members[-1]
    before = members[-2][2] if len(members) > 1 else at + 1
    if len(members) > 1:
        before = _skip(text, _value_end(text, before)) + 1  # past the ','
    indent = text[before:last_start]
    end = _value_end(text, last_value)
    return text[:end] + "," + (indent or " ") + member + text[end:]
