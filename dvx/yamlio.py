"""Safe YAML reading for untrusted repository files.

Only plain data is accepted: no python tags (safe loader), no anchors or aliases (which allow
exponential "billion laughs" expansion), nesting at most MAX_DEPTH deep, and files at most
`max_bytes` long. Every problem becomes one FormatError naming the file.
"""

from __future__ import annotations

import functools
from typing import Any

from dvx.errors import FormatError

MAX_DEPTH = 64
DEFAULT_MAX_BYTES = 1 << 20


@functools.cache
def _strict_loader() -> Any:
    # PyYAML is imported on first use: its import costs more than a whole no-change status
    # of small repositories, and the files dvx reads most (pointers) rarely need it.
    import yaml

    class StrictLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
        pass

    return StrictLoader


def read_yaml_file(path: str, what: str, max_bytes: int = DEFAULT_MAX_BYTES) -> Any:
    try:
        with open(path, "rb") as f:
            data = f.read(max_bytes + 1)
    except OSError as exc:
        raise FormatError(f"Cannot read {what} '{path}': {exc.strerror}.") from None
    return parse_yaml(data, f"{what} '{path}'", max_bytes)


def parse_yaml(data: bytes, what: str, max_bytes: int = DEFAULT_MAX_BYTES) -> Any:
    if len(data) > max_bytes:
        raise FormatError(f"The {what} is larger than {max_bytes} bytes; refusing to parse it.")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise FormatError(f"The {what} is not valid UTF-8.") from None
    import yaml

    loader = _strict_loader()
    try:
        _check_events(text, what, loader)
        return yaml.load(text, Loader=loader)
    except FormatError:
        raise
    except yaml.YAMLError as exc:
        raise FormatError(f"The {what} is not valid YAML ({_where_and_why(exc)}).") from None
    except RecursionError:
        raise FormatError(f"The {what} is nested too deeply.") from None


def _check_events(text: str, what: str, loader: Any) -> None:
    import yaml

    depth = 0
    for event in yaml.parse(text, Loader=loader):
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise FormatError(f"The {what} uses YAML anchors or aliases, which dvx refuses.")
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
            if depth > MAX_DEPTH:
                raise FormatError(f"The {what} is nested more than {MAX_DEPTH} levels deep.")
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1


def _where_and_why(exc: Exception) -> str:
    """'line 3: found a mapping where none can start', from a PyYAML error, without the
    parser's internals (its context marks and the quoted source)."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or getattr(exc, "context", None) or "unreadable"
    where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "somewhere"
    return f"{where}: {problem}"


def has_conflict_markers(data: bytes) -> bool:
    """Does this file still hold a Git merge conflict (lines <<<<<<<, =======, >>>>>>>)?"""
    lines = data.splitlines()
    return any(line.startswith(b"<<<<<<<") for line in lines) and any(
        line.startswith(b">>>>>>>") for line in lines)
