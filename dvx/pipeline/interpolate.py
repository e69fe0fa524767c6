"""`${...}` interpolation in dvx.yaml.

An expression names a value in the context (top-level `vars`, params.yaml, and `item`/`key`
inside `foreach` and `matrix`): `${name}`, `${train.lr}`, `${layers[0]}` or `${layers.0}`.
A string that is exactly one expression takes the value with its type (so `foreach: ${models}`
can name a list); inside a longer string the value must be a scalar and is written as text
(`true`/`false` for booleans). `\\${` is a literal `${`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from dvx.errors import FormatError

# `\${` alone, closed or not, is a literal `${` (group 1 is None); else an expression.
_EXPR = re.compile(r"\\\$\{|\$\{([^{}]*)\}")
_PART = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*|[0-9]+")
_INDEX = re.compile(r"\[([0-9]+)\]")


class InterpolationError(FormatError):
    pass


def references(text: str) -> list[str]:
    """The names the `${...}` expressions of `text` look up, dotted as params keys are
    (`layers[0]` -> `layers.0`); a malformed one is left out (interpolation refuses it)."""
    found = []
    for match in _EXPR.finditer(text):
        if match.group(1) is None:  # a literal `${`
            continue
        try:
            found.append(".".join(str(part) for part in parse_reference(match.group(1))))
        except ValueError:
            continue
    return found


def references_in(value: Any) -> list[str]:
    """The names the `${...}` expressions of every string of a YAML value look up (mapping
    keys included, as `interpolate` resolves them too), as `references` names them."""
    if isinstance(value, str):
        return references(value)
    if isinstance(value, list):
        return [name for item in value for name in references_in(item)]
    if isinstance(value, dict):
        return [name for key, item in value.items() for name in (*references_in(key),
                                                                  *references_in(item))]
    return []


def parse_reference(text: str) -> list[str | int]:
    """`train.layers[0]` -> ['train', 'layers', 0]; raises ValueError if malformed."""
    parts: list[str | int] = []
    for dotted in text.strip().split("."):
        head, _, tail = dotted.partition("[")
        if not _PART.fullmatch(head):
            raise ValueError(text)
        parts.append(int(head) if head.isdigit() else head)
        if tail:
            tail = "[" + tail
            pos = 0
            while pos < len(tail):
                match = _INDEX.match(tail, pos)
                if match is None:
                    raise ValueError(text)
                parts.append(int(match.group(1)))
                pos = match.end()
    if not parts or isinstance(parts[0], int):
        raise ValueError(text)
    return parts


def lookup(context: Mapping[str, Any], text: str, where: str) -> Any:
    try:
        parts = parse_reference(text)
    except ValueError:
        raise InterpolationError(f"{where}: '${{{text}}}' is not a valid reference.",
                                 "Write names separated by dots, like ${train.lr} or "
                                 "${layers[0]}.") from None
    value: Any = context
    for i, part in enumerate(parts):
        found, value = _step(value, part)
        if not found:
            shown = ".".join(str(p) for p in parts[: i + 1])
            raise InterpolationError(
                f"{where}: '${{{text.strip()}}}' is not defined ('{shown}' is not in vars or "
                "params.yaml).", "Define it under `vars:` in dvx.yaml or in params.yaml.")
    return value


def _step(value: Any, part: str | int) -> tuple[bool, Any]:
    if isinstance(value, Mapping):
        if part in value:
            return True, value[part]
        if isinstance(part, int) and str(part) in value:
            return True, value[str(part)]
        return False, None
    if isinstance(value, list) and isinstance(part, int) and part < len(value):
        return True, value[part]
    return False, None


def _as_text(value: Any, expr: str, where: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    kind = "nothing" if value is None else type(value).__name__
    raise InterpolationError(f"{where}: '{expr}' is {kind}, which cannot be written into a "
                             "string.", "Refer to a single value (a string or a number).")


def interpolate_string(text: str, context: Mapping[str, Any], where: str) -> Any:
    if "${" not in text:
        return text
    _check_balanced(text, where)
    whole = _EXPR.fullmatch(text)
    if whole is not None and whole.group(1) is not None:
        return lookup(context, whole.group(1), where)

    def replace(match: re.Match[str]) -> str:
        if match.group(1) is None:
            return "${"
        return _as_text(lookup(context, match.group(1), where), match.group(0), where)

    return _EXPR.sub(replace, text)


def _check_balanced(text: str, where: str) -> None:
    pos = 0
    while True:
        start = text.find("${", pos)
        if start < 0:
            return
        if start > 0 and text[start - 1] == "\\":
            pos = start + 2
            continue
        end = text.find("}", start)
        if end < 0 or "${" in text[start + 2:end] or "{" in text[start + 2:end]:
            raise InterpolationError(f"{where}: malformed interpolation in {text!r}: a '${{' "
                                     "has no matching '}'.",
                                     "Close it, like ${name}, or write \\${ for a literal.")
        pos = end + 1


def interpolate(value: Any, context: Mapping[str, Any], where: str) -> Any:
    """Interpolate every string (mapping keys included) in a YAML value."""
    if isinstance(value, str):
        return interpolate_string(value, context, where)
    if isinstance(value, list):
        return [interpolate(v, context, where) for v in value]
    if isinstance(value, dict):
        result: dict[Any, Any] = {}
        for k, v in value.items():
            key = interpolate(k, context, where) if isinstance(k, str) else k
            if not isinstance(key, (str, int, float, bool)) or key is None:
                raise InterpolationError(f"{where}: the key {k!r} interpolates to a "
                                         f"{type(key).__name__}, not a string.")
            result[key] = interpolate(v, context, where)
        return result
    return value
