"""Safe YAML reading for untrusted repository files.

Only plain data is accepted: no python tags (safe loader), no anchors or aliases (which allow
exponential "billion laughs" expansion), nesting at most MAX_DEPTH deep, and files at most
`max_bytes` long. Every problem becomes one FormatError naming the file.
"""

from __future__ import annotations

from typing import Any

import yaml

from dvx.errors import FormatError

MAX_DEPTH = 64
DEFAULT_MAX_BYTES = 1 << 20

_BaseLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _StrictLoader(_BaseLoader):
    pass


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
    try:
        _check_events(text, what)
        return yaml.load(text, Loader=_StrictLoader)
    except FormatError:
        raise
    except yaml.YAMLError as exc:
        detail = str(exc).replace("\n", " ")
        raise FormatError(f"The {what} is not valid YAML: {detail}") from None
    except RecursionError:
        raise FormatError(f"The {what} is nested too deeply.") from None


def _check_events(text: str, what: str) -> None:
    depth = 0
    for event in yaml.parse(text, Loader=_StrictLoader):
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise FormatError(f"The {what} uses YAML anchors or aliases, which dvx refuses.")
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
            if depth > MAX_DEPTH:
                raise FormatError(f"The {what} is nested more than {MAX_DEPTH} levels deep.")
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1
