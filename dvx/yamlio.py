"""Safe YAML reading for untrusted repository files.

Only plain data is accepted: no python tags (safe loader), no anchors or aliases (which allow
exponential "billion laughs" expansion), nesting at most MAX_DEPTH deep, and files at most
`max_bytes` long, and no key twice in one mapping. Every problem becomes one FormatError
naming the file.

Plain scalars are read by the YAML 1.2 core schema, as DVC (ruamel.yaml) reads its files
(without ruamel's extras: `1_000`, `0b101` and dates stay strings): `1e-3` is a number, `no`,
`off` and `2024-01-01` are strings. dvx.lock and pointer files, which
PyYAML writes, are read back by the YAML 1.1 rules it writes them by (`YAML_1_1`).
"""

from __future__ import annotations

import functools
import math
import re
import unicodedata
from typing import Any

from dvx import fsutil
from dvx.errors import FormatError, TooLargeError, YamlAnchorsError

MAX_DEPTH = 64
# Longer integers are refused, in every format: Python converts at most this many digits
# (its guard against slow conversions), and no param or metric needs more.
MAX_INT_DIGITS = 4300
DEFAULT_MAX_BYTES = 1 << 20
YAML_1_2, YAML_1_1 = "1.2", "1.1"

# The YAML 1.2 core schema's plain scalars (https://yaml.org/spec/1.2.2/#1032-tag-resolution);
# every other plain scalar is a string (no `yes`/`no` booleans, dates, 1:30 sexagesimals or
# `1_000` underscores). `<<` stays a merge key, as ruamel.yaml reads it. An empty plain scalar
# (`key:`) is null, as in the core schema and PyYAML: its first character is '' for the resolver.
_CORE_SCHEMA = (
    ("tag:yaml.org,2002:null", r"null|Null|NULL|~|", ("n", "N", "~", "")),
    ("tag:yaml.org,2002:bool", r"true|True|TRUE|false|False|FALSE", "tTfF"),
    ("tag:yaml.org,2002:int", r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+", "-+0123456789"),
    ("tag:yaml.org,2002:float", r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?"
                                r"|[-+]?\.(inf|Inf|INF)|\.(nan|NaN|NAN)", "-+.0123456789"),
    ("tag:yaml.org,2002:merge", r"<<", "<"),
)


class UnwritableValueError(ValueError):
    """A value a file may hold but dvx cannot write out again (to dvx.lock, a run-cache key,
    JSON output), so refuses on reading it (`check_values`)."""


class TooLongIntError(UnwritableValueError):
    """An integer of more than MAX_INT_DIGITS digits."""

    def __init__(self, digits: int) -> None:
        super().__init__(f"it has an integer of {digits} digits (dvx reads at most "
                         f"{MAX_INT_DIGITS})")


def check_int_digits(text: str) -> str:
    """`text`, an integer as written, if it is short enough to convert; else TooLongIntError."""
    digits = len(text.lstrip("+-"))
    if digits > MAX_INT_DIGITS:
        raise TooLongIntError(digits)
    return text


class NotUnicodeTextError(UnwritableValueError):
    """Text holding half of a UTF-16 surrogate pair (JSON's `"\\ud800"`), which is no
    character: UTF-8 cannot write it. `path`: the keys leading to the text (or to the
    mapping that has it as a key, if `is_key`)."""

    def __init__(self, text: str, path: tuple[str, ...], is_key: bool) -> None:
        surrogate = next(c for c in text if "\ud800" <= c <= "\udfff")
        dotted = ".".join(path)
        if is_key:
            where = f"the key '{_escaped(text)}'" + (f" in '{dotted}'" if path else "")
        else:
            where = "the text" + (f" at '{dotted}'" if path else "")
        super().__init__(f"{where} holds {_escaped(surrogate)}, half of a UTF-16 surrogate "
                         "pair, which is no character (UTF-8 cannot write it)")


def _escaped(text: str) -> str:
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


_INT_LIMIT = 10 ** MAX_INT_DIGITS  # the smallest integer of MAX_INT_DIGITS + 1 digits


def check_values(doc: Any) -> None:
    """Refuse what a parsed document may hold but dvx cannot write out again, at any depth:
    an integer of more than MAX_INT_DIGITS digits (a few thousand hex digits, `0xfff...`,
    which TOML and YAML read without Python's limit on decimal digits, make one), and text
    or a key that is not Unicode (`NotUnicodeTextError`). Every params, metrics, plots and
    YAML file is checked so, whatever its format: nothing later meets such a value."""
    stack: list[tuple[Any, tuple[str, ...]]] = [(doc, ())]
    while stack:
        value, path = stack.pop()
        if isinstance(value, dict):
            for key in value:
                _check_scalar(key, path, is_key=True)
            stack.extend((v, (*path, str(k))) for k, v in reversed(value.items()))
        elif isinstance(value, list):
            stack.extend((v, (*path, str(i))) for i, v in reversed(list(enumerate(value))))
        else:
            _check_scalar(value, path, is_key=False)


def _check_scalar(value: Any, path: tuple[str, ...], is_key: bool) -> None:
    if isinstance(value, int) and abs(value) >= _INT_LIMIT:
        raise TooLongIntError(_decimal_digits(value))
    if isinstance(value, str) and not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise NotUnicodeTextError(value, path, is_key) from None


def _decimal_digits(number: int) -> int:
    """How many decimal digits `number` has, counted without writing it out (Python refuses
    to, past MAX_INT_DIGITS): its bit length gives the count or one less."""
    number = abs(number)
    digits = int((number.bit_length() - 1) * math.log10(2)) + 1
    return digits + (number >= 10 ** digits)


class DuplicateKeyError(ValueError):
    """A mapping that has one key twice (PyYAML and `json.loads` would keep the last and
    drop the first); the lines are 1-based, when known. `spellings` are the two keys as
    written, when they differ (`1` and `"1"`) but read as text are the same key."""

    def __init__(self, key: Any, first_line: int | None = None, line: int | None = None,
                 spellings: tuple[str, str] | None = None) -> None:
        super().__init__(f"the key {key!r} is twice in one mapping")
        self.key, self.first_line, self.line = key, first_line, line
        self.spellings = spellings


@functools.cache
def strict_loader(version: str = YAML_1_2) -> Any:
    """PyYAML's safe loader (its C parser when built) resolving plain scalars by `version`'s
    rules and refusing a key twice in one mapping."""
    # PyYAML is imported on first use: its import costs more than a whole no-change status
    # of small repositories, and the files dvx reads most (pointers) rarely need it.
    import yaml

    class StrictLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
        def flatten_mapping(self, node: Any) -> None:
            # Before merge keys (`<<`) are spliced in: a merged key may be set again.
            _check_unique_keys(self, node)
            super().flatten_mapping(node)

    if version == YAML_1_2:
        # Its own table of resolvers: SafeLoader's YAML 1.1 ones are not inherited.
        StrictLoader.yaml_implicit_resolvers = {}
        for tag, pattern, first in _CORE_SCHEMA:
            StrictLoader.add_implicit_resolver(tag, re.compile(f"^(?:{pattern})$"), list(first))
        StrictLoader.add_constructor("tag:yaml.org,2002:int", _construct_core_int)
    return StrictLoader


def _check_unique_keys(loader: Any, node: Any) -> None:
    import yaml

    first_lines: dict[Any, int] = {}
    # Params, vars and stages are named by their keys' text: `1:` and `"1":` would be one.
    by_text: dict[str, tuple[int, str]] = {}
    for key_node, _ in node.value:
        if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = loader.construct_object(key_node)
        line = key_node.start_mark.line + 1
        if key in first_lines:
            raise DuplicateKeyError(key, first_lines[key], line)
        spelling = _as_written(key_node)
        if str(key) in by_text:
            first_line, first_spelling = by_text[str(key)]
            raise DuplicateKeyError(key, first_line, line, (first_spelling, spelling))
        first_lines[key] = line
        by_text[str(key)] = line, spelling


def _as_written(node: Any) -> str:
    quote = node.style if node.style in ("'", '"') else ""
    return f"{quote}{node.value}{quote}"


def _construct_core_int(loader: Any, node: Any) -> int:
    text = check_int_digits(loader.construct_scalar(node))
    if text[:2] in ("0o", "0x"):
        return int(text, 0)
    return int(text)  # decimal even with leading zeros: 017 is 17, not YAML 1.1's octal 15


def read_yaml_file(path: str, what: str, max_bytes: int = DEFAULT_MAX_BYTES) -> Any:
    try:
        data = fsutil.read_regular(path, max_bytes + 1)
    except OSError as exc:
        raise FormatError(f"Cannot read {what} '{path}': {exc.strerror}.") from None
    return parse_yaml(data, f"{what} '{path}'", max_bytes)


# A path to values in a document: mapping keys, "*" for any key or any item of a sequence.
TextPath = tuple[str, ...]


def parse_yaml(data: bytes, what: str, max_bytes: int = DEFAULT_MAX_BYTES,
               version: str = YAML_1_2, text_at: tuple[TextPath, ...] = ()) -> Any:
    """The document `data`, with every scalar at a path of `text_at` read as the text it is
    written as (`as_text`)."""
    if len(data) > max_bytes:
        raise TooLargeError(f"The {what} is larger than {max_bytes} bytes; refusing to parse it.")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise FormatError(f"The {what} is not valid UTF-8.") from None
    import yaml

    loader = strict_loader(version)
    try:
        _check_events(text, what, loader)
        return _load(text, loader, text_at)
    except FormatError:
        raise
    except DuplicateKeyError as exc:
        written = (f", written {exc.spellings[0]} and {exc.spellings[1]}, which dvx reads as "
                   "the same name" if exc.spellings else "")
        raise FormatError(f"The {what} has the key '{exc.key}' twice in one mapping (on line "
                          f"{exc.first_line} and on line {exc.line}{written}); dvx will not "
                          "guess which one is meant.", "Keep one of them, or rename one: a "
                          "Git merge of two branches that each added that key leaves both."
                          ) from None
    except ValueError as exc:  # UnwritableValueError, or Python refusing a YAML 1.1 integer
        raise FormatError(f"The {what} cannot be read: {exc}.") from None
    except yaml.YAMLError as exc:
        raise FormatError(f"The {what} is not valid YAML ({_where_and_why(exc, text)}).") from None
    except RecursionError:
        raise FormatError(f"The {what} is nested too deeply.") from None


def _load(text: str, loader_class: Any, text_at: tuple[TextPath, ...]) -> Any:
    """yaml.load, with the scalars at `text_at` made strings before they are constructed."""
    loader = loader_class(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        for path in text_at:
            as_text(node, path)
        doc = loader.construct_document(node)
        check_values(doc)
        return doc
    finally:
        loader.dispose()


def as_text(node: Any, path: TextPath) -> None:
    """Read every scalar at `path` below `node` as a string: the text it is written as. An
    object id is text, whatever YAML would make of it: `oid: 01234567012345670123456701234567`
    (decimal digits only) is no integer, and `oid: 00000000000000000000000000000012` no
    YAML 1.1 octal 10. Any other node there (a mapping, a list) is left as it is, for the
    reader to refuse."""
    import yaml

    if not path:
        if isinstance(node, yaml.ScalarNode):
            node.tag = "tag:yaml.org,2002:str"
        return
    key, rest = path[0], path[1:]
    if isinstance(node, yaml.SequenceNode) and key == "*":
        for item in node.value:
            as_text(item, rest)
    elif isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: {oid: ...}` sets keys too
                as_text(value_node, path)
            elif isinstance(key_node, yaml.ScalarNode) and key in ("*", key_node.value):
                as_text(value_node, rest)


def _check_events(text: str, what: str, loader: Any) -> None:
    import yaml

    depth = 0
    for event in yaml.parse(text, Loader=loader):
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise YamlAnchorsError(f"The {what} uses YAML anchors or aliases, which dvx refuses.")
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
            if depth > MAX_DEPTH:
                raise FormatError(f"The {what} is nested more than {MAX_DEPTH} levels deep.")
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1


def _where_and_why(exc: Exception, text: str) -> str:
    """'line 3: found a mapping where none can start', from a PyYAML error in `text`, without
    the parser's internals (its context marks and the quoted source)."""
    import yaml

    if isinstance(exc, yaml.reader.ReaderError):
        return _forbidden_character(exc.character, text)
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or getattr(exc, "context", None) or "unreadable"
    where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "somewhere"
    return f"{where}: {problem}"


def _forbidden_character(code: int, text: str) -> str:
    """Where and what the character YAML forbids is (an ESC pasted from a terminal's colours,
    a NUL). PyYAML names it by its offset, in characters or (its C reader) in bytes: the
    first such character is the one it stopped at, as it reads from the start."""
    character = chr(code)
    offset = text.find(character)
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    kind = "control character" if unicodedata.category(character) == "Cc" else "character"
    escape = f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"
    where = f"line {line}, column {column}: " if offset >= 0 else ""
    return (f"{where}the {kind} U+{code:04X} is not allowed: remove it, or write {escape} "
            "in a double-quoted string")


def has_conflict_markers(data: bytes) -> bool:
    """Does this file still hold a Git merge conflict (lines <<<<<<<, =======, >>>>>>>)?"""
    lines = data.splitlines()
    return any(line.startswith(b"<<<<<<<") for line in lines) and any(
        line.startswith(b">>>>>>>") for line in lines)


# Characters YAML 1.1 (PyYAML, which reads dvx's files) takes for line breaks besides "\n" and
# "\r". Emitters let them stand as breaks inside a quoted scalar, and a reader folds a break
# there to a space: a name holding one would read back as another name. Written as escapes
# (`\N`, `\L`, `\P`) in a double-quoted scalar, they read back as themselves.
YAML_1_1_BREAKS = "\x85\u2028\u2029"


def represent_str(representer: Any, text: str) -> Any:
    """A string as PyYAML's and ruamel.yaml's representers write it, but double-quoted (so
    escaped) when it holds one of YAML_1_1_BREAKS."""
    style = '"' if any(c in text for c in YAML_1_1_BREAKS) else None
    return representer.represent_scalar("tag:yaml.org,2002:str", text, style=style)


@functools.cache
def safe_dumper() -> Any:
    """PyYAML's safe dumper, writing strings by `represent_str`."""
    import yaml

    class SafeDumper(yaml.SafeDumper):
        pass

    SafeDumper.add_representer(str, represent_str)
    return SafeDumper


@functools.cache
def round_trip_representer() -> Any:
    """ruamel.yaml's round-trip representer, writing new strings by `represent_str`."""
    from ruamel.yaml.representer import RoundTripRepresenter

    class Representer(RoundTripRepresenter):
        pass

    Representer.add_representer(str, represent_str)
    return Representer


def json_scalar(value: Any) -> str:
    """`value` as JSON, which YAML reads as the same value, with YAML_1_1_BREAKS escaped."""
    import json

    text = json.dumps(value, ensure_ascii=False)
    for c in YAML_1_1_BREAKS:
        text = text.replace(c, f"\\u{ord(c):04x}")
    return text
