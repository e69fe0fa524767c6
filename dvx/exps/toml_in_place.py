"""A TOML params file with the values of given keys changed, and the proof that nothing else
changed.

-S edits a TOML file through tomlkit, which keeps what it does not change as written:
comments, the order of keys and tables, the quoting and spelling of every other value, and
each line's end. A value set is written as the TOML type it reads as (an integer, a float,
a boolean, a string, an array, a table), a string in the quotes of the one it replaces
where they can hold it. VALUE is read as YAML 1.2, which has no dates, so a date or time
is a string (in a new key too, as in a YAML or JSON file); where the file has a TOML date
or time in its place, a string spelled as one (`2024-01-01`, `2024-01-01T07:00:00Z`,
`07:00:00`) is written as one (`in_toml_types`), so the file keeps the type its user
wrote. TOML has no null, and its integers are 64-bit, so a null or a bigger integer is
refused, naming the key, rather than written for TOML readers to refuse. The text made is
read back as the pipeline reads the file (`reads_as`), and refused if any param reads
otherwise than before, or a value set otherwise than set."""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterator, Sequence
from typing import Any, Protocol

from dvx.errors import FormatError, UsageError
from dvx.logs import shell_quote
from dvx.paths import from_here
from dvx.pipeline.params import find_param, param_value, parse_params, same_value


class Change(Protocol):
    """A value to set: `key`, a dotted param name, its new `value`, and whether it `add`s
    the key (`+KEY`: it may be new)."""

    @property
    def key(self) -> str: ...

    @property
    def value(self) -> Any: ...

    @property
    def add(self) -> bool: ...


def read_before(text: str, file: str) -> Any:
    """The params of the TOML document `text` as the pipeline reads them; a file it refuses
    is refused here as the run would refuse it, before anything is written."""
    try:
        return _as_the_pipeline_reads(text, file)
    except FormatError as exc:
        raise UsageError(f"-S cannot set params in '{file}': {exc.message} Nothing was "
                         "written.", exc.hint or "Fix the file, then run again.") from None


def document(text: str, file: str) -> Any:
    """The TOML document `text` as tomlkit edits it (a mapping, each value keeping its
    text); `read_before` has read it already, so tomlkit refusing it is a TOML spelling
    tomlkit does not know."""
    import tomlkit
    from tomlkit.exceptions import TOMLKitError

    try:
        return tomlkit.parse(text)
    except TOMLKitError as exc:
        raise UsageError(f"-S cannot set params in '{file}': the TOML editor cannot read it "
                         f"({exc}). Nothing was written.",
                         f"Set the params in '{file}' by hand.") from None


INT_MIN, INT_MAX = -2**63, 2**63 - 1  # TOML's integers: signed 64-bit


def refuse_unwritable(root: str, file: str, changes: Sequence[Change]) -> None:
    """Refuse a change whose value is or holds what TOML cannot hold: a null (TOML has
    none), or an integer beyond signed 64 bits (Python's reader takes it, but TOML's other
    readers refuse the whole file). `file` is repository-relative in the repository at
    `root`; the hint's -S names it from the current folder, where the user runs it."""
    for change in changes:
        found = next((v for v in _scalars(change.value) if v is None or _beyond_64_bits(v)),
                     _NOTHING)
        if found is _NOTHING:
            continue
        if found is None:
            raise UsageError(f"-S cannot set {change.key} in '{file}' to a value holding "
                             "null: TOML has no null, so the file cannot hold it. Nothing "
                             "was written.",
                             "Set another value"
                             f"{_as_string(root, file, change, 'null', 'a string is quoted')}, "
                             "or keep the param in a YAML or JSON file, which can hold null.")
        raise UsageError(f"-S cannot set {change.key} in '{file}' to a value holding the "
                         f"integer {found}: TOML integers are 64-bit ({INT_MIN} to "
                         f"{INT_MAX}), so TOML readers would refuse the file. Nothing "
                         "was written.",
                         "Set a float (1e25) or a string"
                         f"{_as_string(root, file, change, str(found), 'quoted')}, or keep "
                         "the param in a YAML or JSON file, which can hold it.")


_NOTHING = object()  # no scalar found


def _scalars(value: Any) -> Iterator[Any]:
    """The values at the leaves of `value` (itself, unless a mapping or a list), in
    order."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            pending.extend(reversed(list(item.values())))
        elif isinstance(item, list):
            pending.extend(reversed(item))
        else:
            yield item


def _beyond_64_bits(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) \
        and not INT_MIN <= value <= INT_MAX


def _as_string(root: str, file: str, change: Change, text: str, quoted: str) -> str:
    """The way to set `text` as a string in place of the value of `change`: for a scalar,
    the -S to paste where the user is (the file named from there, `+` kept where `change`
    adds the key), after `quoted`; for a mapping or a list none, as that -S would replace
    the whole of it."""
    if isinstance(change.value, (dict, list)):
        return " in its place"
    setting = f"{from_here(root, file)}:{'+' if change.add else ''}{change.key}=\"{text}\""
    return f" ({quoted}: -S {shell_quote(setting)})"


def in_toml_types(doc: Any, change: Change) -> Any:
    """The value `change` sets, each string spelled as a TOML date or time turned into one
    where `doc` has a date or time in its place (`_typed`); any other value as it is."""
    found = find_param(doc, change.key)
    return _typed(change.value, found[1] if found is not None else None)


def _typed(value: Any, old: Any) -> Any:
    """`value` in the place of `old`: a mapping's values in the place of the values of its
    keys in `old`, a list's elements in the place of the element at their index (of the
    last one, where the list grows)."""
    if isinstance(value, dict):
        keyed = old if isinstance(old, dict) else {}
        return {key: _typed(item, keyed.get(key)) for key, item in value.items()}
    if isinstance(value, list):
        listed = old if isinstance(old, list) else []
        return [_typed(item, listed[min(index, len(listed) - 1)] if listed else None)
                for index, item in enumerate(value)]
    if isinstance(value, str) and _is_date_or_time(old):
        return _date_or_time(value, value)
    return value


def _is_date_or_time(value: Any) -> bool:
    return isinstance(value, (datetime.date, datetime.time))  # a datetime is a date


# the letters a TOML date or time is spelled with: no quote, '#', '=' or line end, so the
# text read as one cannot hold a comment or another key
_DATE_OR_TIME = re.compile(r"[0-9][0-9:.+\-TtZz ]*")


def _date_or_time(text: str, otherwise: Any) -> Any:
    """The TOML date, date-time or time `text` spells, read as TOML reads it; `otherwise`
    if it spells none."""
    if not _DATE_OR_TIME.fullmatch(text):
        return otherwise
    try:
        value = parse_params(f"v = {text}".encode(), "value.toml").get("v")
    except FormatError:
        return otherwise
    return value if _is_date_or_time(value) else otherwise


def as_toml(doc: Any, change: Change) -> Any:
    """The value `change` sets, as a TOML item in the style of the value it replaces in
    `doc`, if any: a table written as one (`[name]`) stays one; any other mapping is an
    inline table (one written in a table's place would take the keys after it); a string
    keeps single or double quotes where they can hold it."""
    found = find_param(doc, change.key)
    return _item(change.value, found[1] if found is not None else None)


def _item(value: Any, old: Any) -> Any:
    import tomlkit
    from tomlkit.exceptions import InvalidStringError
    from tomlkit.items import String, Table

    if isinstance(value, dict):
        table = tomlkit.table() if isinstance(old, Table) else tomlkit.inline_table()
        for key, item in value.items():
            table[key] = _item(item, None)
        return table
    if isinstance(value, list):
        array = tomlkit.array()
        array.extend(_item(item, None) for item in value)
        return array
    if isinstance(value, str) and isinstance(old, String):
        try:
            return tomlkit.string(value, literal=old.type.is_literal(),
                                  multiline=old.type.is_multiline())
        except InvalidStringError:  # a quote or a control character literal ones lack
            pass
    return tomlkit.item(value)


def dumps(doc: Any, written: str) -> str:
    """The text of the edited `doc`, whose text was `written` (each line with its own end):
    lines tomlkit adds end as every line of `written` does, where all end in "\r\n"."""
    import tomlkit

    text = tomlkit.dumps(doc)
    if "\r\n" in written and not re.search(r"(?<!\r)\n", written):
        text = re.sub(r"(?<!\r)\n", "\r\n", text)
    return text


def reads_as(text: str, expected: Any, file: str) -> bool:
    """Does `text` read, as the pipeline reads the file, as `expected`, value for value
    and type for type (1, 1.0 and true differ)?"""
    try:
        data = _as_the_pipeline_reads(text, file)
    except FormatError:
        return False
    return same_value(param_value(data), param_value(expected))


def refuse_unlike(file: str, changes: Sequence[Change], text: str, expected: Any) -> None:
    """Refuse the edited `text` unless it reads as `expected` (the params as they were,
    with `changes` set)."""
    if not reads_as(text, expected, file):
        keys = ", ".join(change.key for change in changes)
        raise UsageError(f"-S cannot set {keys} in '{file}': the file edited would not read "
                         "back as the params it had with those set. Nothing was written.",
                         f"Set the params in '{file}' by hand.")


def _as_the_pipeline_reads(text: str, file: str) -> Any:
    return parse_params(text.encode("utf-8"), file)
