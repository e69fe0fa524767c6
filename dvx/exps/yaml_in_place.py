"""A YAML document's text with the values of given keys changed, and the proof that nothing
else changed.

-S writes a param's new value over the text of its old one (`set_in_place`), so every other
byte of the file stays; where that cannot be done, the document goes through ruamel's round
trip (`round_tripper`), which keeps comments and layout but may respell values. Either way
the text made is read back (`reads_as`) as the pipeline reads the file, and refused
(`refuse_respelled`) if any value it does not set reads otherwise than before."""

from __future__ import annotations

import dataclasses
import functools
import io
import re
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from dvx.errors import FormatError, TooLargeError, UsageError, YamlAnchorsError
from dvx.pipeline.params import find_param, param_value, same_value
from dvx.yamlio import (
    DEFAULT_MAX_BYTES,
    json_scalar,
    parse_yaml,
    round_trip_representer,
    strict_loader,
)


class Change(Protocol):
    """A value to set: `key`, a dotted param name the document has, and its new `value`."""

    @property
    def key(self) -> str: ...

    @property
    def value(self) -> Any: ...


def round_tripper() -> Any:
    from ruamel.yaml import YAML

    yaml = YAML()  # round-trip: comments, order and flow style survive
    yaml.preserve_quotes = True  # `'no'` unquoted is false to the stage's YAML 1.1 reader
    yaml.width = 4096  # a long string is not folded onto a second line
    yaml.Representer = _representer_class()
    return yaml


Reader = Callable[[str], Any]  # a YAML document's text -> its data; FormatError if unreadable


def reader(file: str, read_as_params: bool) -> Reader:
    """How the YAML file `file` is read back after -S: as dvx reads a params file (YAML 1.2,
    strict: no anchors, aliases nor merge keys) where the pipeline reads it so (`params:`,
    `vars:`, params.yaml), since the run would refuse what that refuses; any other file (a
    config a stage reads as a dependency) as ruamel, which edits it, reads it."""
    if read_as_params:
        return functools.partial(_as_the_pipeline_reads, file=file)
    return functools.partial(_as_ruamel_reads, file=file)


def _as_the_pipeline_reads(text: str, file: str) -> Any:
    """The document `text`, read as dvx reads a params file (YAML 1.2, strict)."""
    return parse_yaml(text.encode("utf-8"), f"params file '{file}'")


# How many values a document's aliases may stand for beyond those it writes out: past it,
# an alias bomb ("billion laughs": ten aliases of ten aliases of ...) would take the
# read-back check hours and all memory.
MAX_ALIASED_VALUES = 1_000_000


def _as_ruamel_reads(text: str, file: str) -> Any:
    """The document `text` as ruamel's safe loader reads it: anchors, aliases and merge keys
    resolved to the values they stand for, at most MAX_ALIASED_VALUES more than it writes."""
    from ruamel.yaml import YAML

    try:
        _refuse_alias_bomb(YAML(typ="safe", pure=True).compose(text), file)
        return YAML(typ="safe", pure=True).load(text)
    except FormatError:
        raise
    except RecursionError:
        raise FormatError(f"The file '{file}' is nested too deeply.") from None
    except Exception as exc:  # ruamel's errors share no base class with a useful message
        raise FormatError(f"The file '{file}' cannot be read as YAML: "
                          f"{getattr(exc, 'problem', None) or exc}.") from None


def _refuse_alias_bomb(root: Any, file: str) -> None:
    """Refuse the document whose node graph `root` (an alias is the node it names, shared)
    stands for more than MAX_ALIASED_VALUES values beyond its own nodes, or for endless ones
    (an alias inside the node it names), counting each node once."""
    sizes: dict[int, int] = {}
    if root is not None and _expanded_size(root, sizes) - len(sizes) > MAX_ALIASED_VALUES:
        raise FormatError(f"The file '{file}' uses YAML aliases that stand for more than "
                          f"{MAX_ALIASED_VALUES} values beyond those it writes out, which dvx "
                          "refuses to expand.",
                          "Write the values out, or use fewer aliases of large values.")


_ENDLESS = MAX_ALIASED_VALUES * 2  # the size of a node that holds an alias of itself


def _expanded_size(node: Any, sizes: dict[int, int]) -> int:
    """How many values `node` stands for with its aliases expanded (itself, its keys and
    values, its items); `sizes`: those of the nodes counted so far (0 while counting)."""
    known = sizes.get(id(node))
    if known is not None:
        return known or _ENDLESS  # 0: counting it still, so it holds an alias of itself
    sizes[id(node)] = 0
    children = node.value if isinstance(node.value, list) else []
    size = 1
    for child in children:
        for part in child if isinstance(child, tuple) else (child,):
            size = min(size + _expanded_size(part, sizes), _ENDLESS)
    sizes[id(node)] = size
    return size


def read_before(read: Reader, text: str, file: str) -> Any:
    """The document `text` as `read` reads it before -S writes; one it refuses is refused
    here as the run would, before anything is written."""
    try:
        return read(text)
    except FormatError as exc:
        raise UsageError(f"-S cannot set params in '{file}': {exc.message} Nothing was "
                         "written.", exc.hint or _as_params_hint(exc)) from None


def _as_params_hint(exc: FormatError) -> str:
    """What to do about a file the pipeline reads as params and refuses (`exc`), the run
    refusing it too: a way out of that refusal, never of another."""
    said = "The pipeline reads this file as params (under `params:` or `vars:`, or as " \
        "params.yaml)"
    if isinstance(exc, YamlAnchorsError):
        return f"{said}: write each value out in full (no anchors, aliases or merge keys), " \
            "then run again."
    if isinstance(exc, TooLargeError):
        return f"{said}, of at most {DEFAULT_MAX_BYTES >> 20} MiB: keep large values in a " \
            "file of their own, which a stage reads as a dependency, then run again."
    return f"{said}: fix it, then run again."


def reads_as(text: str, expected: Any, read: Reader) -> bool:
    """Does `text` read (by `read`) as `expected`, value for value and type for type (1,
    1.0 and true differ)?"""
    try:
        data = read(text)
    except FormatError:
        return False
    return same_value(param_value(data or {}), param_value(expected))


def set_in_place(text: str, changes: Sequence[Change]) -> str | None:
    """`text` with the text of each value `changes` set replaced by the new value's, and
    nothing else changed; None where a change is not one such replacement (a new key, a
    value written in block style, a new value that takes more than one line). Each is
    found in the text the ones before it made: a later -S of the same value, or of one
    inside it, wins, as in the round trip."""
    for change in changes:
        found = _value_span(text, change.key)
        if found is None:
            return None
        start, end, in_flow = found
        written = _flow_text(change.value, in_flow)
        if written is None:
            return None
        text = text[:start] + written + text[end:]
    return text


def _value_span(text: str, key: str) -> tuple[int, int, bool] | None:
    """Where in `text` the value that the dotted `key` names is written (start and end
    offsets), if in flow style (a scalar not `|` nor `>`, a `[...]` list, a `{...}`
    mapping), and whether it is inside a flow list or mapping; None if it is not, or
    `text` cannot be read so."""
    import yaml

    try:
        loader = strict_loader()(text)
    except yaml.YAMLError:
        return None
    try:
        node = loader.get_single_node()
        found = find_param(loader.construct_document(node), key) if node is not None else None
        if found is None:
            return None
        in_flow = False
        for step in found[0]:
            in_flow = in_flow or bool(node.flow_style)
            node = _child(loader, node, step)
            if node is None:
                return None
        if not (node.style in (None, "", "'", '"') if isinstance(node, yaml.ScalarNode)
                else node.flow_style):
            return None
        start, end = _after_anchor(text, node.start_mark.index), node.end_mark.index
        if start == end and start != node.start_mark.index:
            return None  # an empty value after its properties: no text of its own to replace
        return start, end, in_flow
    except (yaml.YAMLError, ValueError, RecursionError):
        return None
    finally:
        loader.dispose()


# A node's properties, its anchor (`&name`) and tag (`!!float`, `!local`), in either order
_PROPERTIES = re.compile(r"(?:[&!][^\s,\[\]{}]*[ \t]*){1,2}")


def _after_anchor(text: str, start: int) -> int:
    """Where a value written at `start` begins after its anchor and tag, which stay."""
    properties = _PROPERTIES.match(text, start)
    return properties.end() if properties else start


def _child(loader: Any, node: Any, step: str | int) -> Any:
    """The node below `node` at `step` (a key of a mapping, an index of a list), None if
    it has none written there: an alias is the anchored node, written before it, whose
    text is not this key's, and a key a merge `<<` brings in is written in the anchored
    mapping (the document is constructed by then, which splices them into the mapping,
    before its own: the last one is the value read). Replacing either's text would set
    the anchored value for every alias and merge of it, where this key alone is set."""
    import yaml

    if isinstance(node, yaml.SequenceNode) and isinstance(step, int):
        after = node.value[step - 1].end_mark.index if step else node.start_mark.index
        item = node.value[step]
        return item if item.start_mark.index >= after else None
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in reversed(node.value):
            if isinstance(key_node, yaml.ScalarNode) \
                    and loader.construct_object(key_node) == step:
                inside = node.start_mark.index <= key_node.start_mark.index \
                    and value_node.end_mark.index <= node.end_mark.index
                after_key = value_node.start_mark.index >= key_node.end_mark.index
                return value_node if inside and after_key else None
    return None


def _flow_text(value: Any, in_flow: bool = False) -> str | None:
    """`value` as the round trip writes it after a key, lists and mappings in flow style,
    `in_flow`: as an element of a flow list, quoted where a `,` `[` `]` `{` `}` would end
    it there; null as `null`. None if that takes more than one line."""
    out = io.StringIO()
    round_tripper().dump({"k": _in_flow_style(for_yaml_1_1([value] if in_flow else value))},
                          out)
    written = out.getvalue()
    if value is None and not in_flow:
        return "null"  # the round trip writes a key with no value after it
    if not written.startswith("k: ") or written.count("\n") != 1:
        return None
    written = written[len("k: "):].rstrip("\n")
    if in_flow:
        if not (written.startswith("[") and written.endswith("]")):
            return None
        written = written[1:-1]
    return written


def _in_flow_style(value: Any) -> Any:
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    if isinstance(value, dict):
        flow: Any = CommentedMap((key, _in_flow_style(item)) for key, item in value.items())
    elif isinstance(value, list):
        flow = CommentedSeq(_in_flow_style(item) for item in value)
    else:
        return value
    flow.fa.set_flow_style()
    return flow


def refuse_respelled(file: str, changes: Sequence[Change], edited: str, expected: Any,
                     read: Reader) -> None:
    """Refuse a round trip into `edited` after which a param reads (by `read`) otherwise
    than `expected` (the params as they were, with those `changes` set)."""
    if reads_as(edited, expected, read):
        return
    try:
        after = read(edited) or {}
    except FormatError as exc:
        raise UsageError(f"-S cannot set {', '.join(c.key for c in changes)} in '{file}': "
                         f"the file rewritten would not read back ({exc.message}). Nothing "
                         "was written.", f"Set the params in '{file}' by hand.") from None
    keys = ", ".join(change.key for change in changes)
    found = _first_difference(expected, after, {change.key for change in changes})
    if found is None:  # a value set that would not read back as set
        raise UsageError(f"-S cannot set {keys} in '{file}': the file rewritten would not "
                         "read back as set. Nothing was written.",
                         f"Set the params in '{file}' by hand.")
    changed, old, new = found
    raise UsageError(f"-S cannot set {keys} in '{file}' without "
                     f"changing a param it does not set: '{changed}' would read "
                     f"{json_scalar(new)} instead of {json_scalar(old)}: a value set could "
                     "not replace the old one's text alone, so the file must be rewritten "
                     "whole, which respells its text. Nothing was written.",
                     f"Quote the value of '{changed}' in '{file}' (a string) or write it as a "
                     "plain number, or set the params by hand.")


def _first_difference(before: Any, after: Any, skipped: set[str], prefix: str = ""
                      ) -> tuple[str, Any, Any] | None:
    """The dotted name of the first value that differs between `before` and `after`, those
    named in `skipped` (and what they hold) aside, with its two values; None if none."""
    if prefix in skipped:
        return None
    if isinstance(before, dict) and isinstance(after, dict):
        for key in before:
            name = f"{prefix}.{key}".lstrip(".")
            found = _first_difference(before[key], after[key], skipped, name) \
                if key in after else (name, before[key], None)
            if found:
                return found
        return None
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        for index, (one, other) in enumerate(zip(before, after, strict=True)):
            found = _first_difference(one, other, skipped, f"{prefix}.{index}".lstrip("."))
            if found:
                return found
        return None
    return None if same_value(param_value(before), param_value(after)) \
        else (prefix, before, after)


class _Float(float):
    """A float -S sets, written as YAML 1.1 reads a float too."""


def _float_text(value: float) -> str:
    """`value` as a literal both YAML 1.1 (which wants a '.' and a signed exponent: 1.0e-05)
    and YAML 1.2 read as this float."""
    if value != value:
        return ".nan"
    if value in (float("inf"), float("-inf")):
        return ".inf" if value > 0 else "-.inf"
    text = repr(value)
    mantissa, e, exponent = text.partition("e")
    if e and "." not in mantissa:
        text = f"{mantissa}.0e{exponent}"
    return text


def for_yaml_1_1(value: Any) -> Any:
    """`value` (from -S) ready for the round-trip dumper, which writes by YAML 1.2's rules: a
    string YAML 1.1 reads as something else (`no`, `on`, `1:30`) is quoted, a mapping's keys
    as its values, a float is a `_Float`."""
    from ruamel.yaml.scalarstring import SingleQuotedScalarString

    if isinstance(value, dict):
        return {for_yaml_1_1(key): for_yaml_1_1(item) for key, item in value.items()}
    if isinstance(value, list):
        return [for_yaml_1_1(item) for item in value]
    if isinstance(value, float):
        return _Float(value)
    if isinstance(value, str) and _yaml_1_1_reads_as_other(value):
        return SingleQuotedScalarString(value)
    return value


def _yaml_1_1_reads_as_other(text: str) -> bool:
    import yaml

    resolved = yaml.resolver.Resolver().resolve(yaml.ScalarNode, text, (True, False))
    return bool(resolved != "tag:yaml.org,2002:str")


@functools.cache
def _representer_class() -> Any:
    class Representer(round_trip_representer()):  # type: ignore[misc]
        pass

    Representer.add_representer(_Float, lambda representer, value: representer.represent_scalar(
        "tag:yaml.org,2002:float", _float_text(value)))
    return Representer



# Anchors, aliases and merge keys in a config a stage reads only as a dependency. A value is
# set where it is written: set under its anchor, it changes every alias and every mapping
# merging it, as the file says; a key whose whole value is an alias, or which a mapping
# merges in, is set for that key alone (the alias replaced, the merged key written in the
# merging mapping); a key inside an alias or a merged value is refused, since setting it
# would change the anchored value for every other key reading it.

def expected_in_dependency(text: str, file: str, changes: Sequence[Change]) -> Any:
    """The document `text` as ruamel reads it once `changes` are set by the rule above,
    refused (UsageError) for a key inside an alias or a merged value. Changes naming no
    value the file has (a param added) are left to the caller."""
    from ruamel.yaml.representer import SafeRepresenter

    root = _composed(text)
    if root is None:
        return {}
    data = _constructed(_composed(text))  # merges are spliced into the nodes constructed
    for change in changes:
        found = find_param(data, change.key)
        if found is None:
            continue
        place = _locate(root, found[0], file, change.key)
        new = SafeRepresenter().represent_data(change.value)
        if place.own:  # every alias and merge of it reads the new value
            _replace_node(root, place.node, new, set())
        elif place.key_node is None:
            place.parent.value[place.slot] = new
        elif place.slot is None:  # merged in: the mapping gets a key of its own
            place.parent.value.append((place.key_node, new))
        else:
            place.parent.value[place.slot] = (place.key_node, new)
    return _constructed(root)


def refuse_anchored_rewritten(text: str, file: str, changes: Sequence[Change]) -> None:
    """Refuse a value set under an anchor where the file is rewritten whole (a value in
    block style): the round trip writes the new value without the anchor, so its aliases
    and merges would keep reading the old one."""
    data = _constructed(_composed(text))
    for change in changes:
        found = find_param(data, change.key)
        if found is None:
            continue
        place = _locate(_composed(text), found[0], file, change.key)
        anchor = getattr(place.node, "anchor", None)
        if place.own and anchor:
            raise UsageError(f"-S cannot set {change.key} in '{file}': its value, anchored "
                             f"as &{anchor}, is written in block style, so the file must be "
                             "rewritten whole, which would drop the anchor: each alias and "
                             "merge of it would keep reading the old value. Nothing was "
                             "written.",
                             f"Set the values inside it one by one (-S {file}:{change.key}."
                             "KEY=...), or write it in flow style ({...} or [...]) to set it "
                             "whole.")


def _composed(text: str) -> Any:
    from ruamel.yaml import YAML

    return YAML(typ="safe", pure=True).compose(text)


def _constructed(root: Any) -> Any:
    from ruamel.yaml import YAML

    return YAML(typ="safe", pure=True).constructor.construct_document(root)


@dataclasses.dataclass(frozen=True)
class _Place:
    """Where a key's value is: the mapping or list node holding it (`parent`), the index
    of its pair or element there (`slot`, None where a merge brings it in), its key's node
    (None in a list), its node, and whether it is written there (`own`: not an alias, not
    merged in)."""

    parent: Any
    slot: int | None
    key_node: Any
    node: Any
    own: bool


def _locate(root: Any, steps: Sequence[str | int], file: str, key: str) -> _Place:
    """Where the value at `steps` (of the dotted `key`) is in the node graph `root`;
    refused where a step before the last goes through an alias or a merge."""
    node, place = root, None
    for depth, step in enumerate(steps):
        place = _step(node, step)
        if place is None:
            break
        if not place.own and depth < len(steps) - 1:
            _refuse_through_alias(root, steps, depth, place, file, key)
        node = place.node
    if place is None:
        raise UsageError(f"-S cannot set {key} in '{file}': dvx cannot tell where its value "
                         "is written. Nothing was written.", f"Set it in '{file}' by hand.")
    return place


def _step(node: Any, step: str | int) -> _Place | None:
    """The value of `node` at `step`: its own (the last pair of that key), else one a merge
    key (`<<`) brings in, the first merged mapping having it winning, as YAML reads it."""
    from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode

    if isinstance(node, SequenceNode) and isinstance(step, int) and step < len(node.value):
        item = node.value[step]
        after = node.value[step - 1] if step else None
        return _Place(node, step, None, item, _written_after(item, after, node))
    if not isinstance(node, MappingNode):
        return None
    for slot in reversed(range(len(node.value))):
        key_node, value = node.value[slot]
        if isinstance(key_node, ScalarNode) and not _is_merge(key_node) \
                and _key(key_node) == step:
            return _Place(node, slot, key_node, value, _written_after(value, key_node))
    for key_node, value in node.value:
        if _is_merge(key_node):
            for merged in value.value if isinstance(value, SequenceNode) else [value]:
                found = _step(merged, step)
                if found is not None:
                    return _Place(node, None, found.key_node, found.node, False)
    return None


def _written_after(node: Any, before: Any, parent: Any = None) -> bool:
    """Is `node` written after the end of the node `before` (or the start of `parent`, with
    no `before`), so its own text, not an alias of a node written earlier? A node with no
    marks is a value an earlier -S set there: its own, for a later -S of it to win."""
    if node.start_mark is None:
        return True
    mark = before.end_mark if before is not None else parent.start_mark
    return mark is None or node.start_mark.index >= mark.index


def _key(key_node: Any) -> Any:
    """The key a scalar node reads as (a string as written, with no loader to build)."""
    if str(key_node.tag) == "tag:yaml.org,2002:str":
        return key_node.value
    return _constructed(key_node)


def _is_merge(key_node: Any) -> bool:
    return str(key_node.tag) == "tag:yaml.org,2002:merge"


def _replace_node(node: Any, old: Any, new: Any, seen: set[int]) -> None:
    """Put `new` wherever the node graph under `node` holds `old` (each alias of it)."""
    from ruamel.yaml.nodes import MappingNode, SequenceNode

    if id(node) in seen:
        return
    seen.add(id(node))
    if isinstance(node, SequenceNode):
        node.value = [new if item is old else item for item in node.value]
        for item in node.value:
            _replace_node(item, old, new, seen)
    elif isinstance(node, MappingNode):
        node.value = [(key, new if value is old else value) for key, value in node.value]
        for _key, value in node.value:
            _replace_node(value, old, new, seen)


def _refuse_through_alias(root: Any, steps: Sequence[str | int], depth: int, place: _Place,
                          file: str, key: str) -> None:
    """Refuse setting `key`, whose step `depth` (`place`) is an alias or merged in."""
    at = _dotted(steps[:depth + 1])
    written = _written_at(root).get(id(place.node))
    anchor = getattr(place.node, "anchor", None)
    named = f" (&{anchor})" if anchor else ""
    how = (f"'{at}' is merged in by a merge key (<<) from the value{named} written at "
           f"'{written}'" if place.slot is None else
           f"'{at}' is an alias of the value{named} written at '{written}'")
    if written is None:
        raise UsageError(f"-S cannot set {key} in '{file}': '{at}' is an alias or merged "
                         "in, so setting it would change the anchored value and every "
                         "other alias of it. Nothing was written.",
                         f"Write the value of '{at}' out in full to set it there alone.")
    instead = _dotted([written, *steps[depth + 1:]])
    raise UsageError(f"-S cannot set {key} in '{file}': {how}, so setting it would change "
                     f"{instead} too, and every other alias or merge of it. Nothing was "
                     "written.",
                     f"Set -S {file}:{instead}=... to change it wherever it is read, or write "
                     f"the value of '{at}' out in full to set it there alone.")


def _dotted(steps: Sequence[str | int]) -> str:
    return ".".join(str(step) for step in steps)


def _written_at(root: Any) -> dict[int, str]:
    """The dotted name each node of the graph `root` is written at (not an alias of it)."""
    from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode

    names: dict[int, str] = {}
    pending: list[tuple[Any, list[str | int]]] = [(root, [])]
    while pending:
        node, path = pending.pop()
        children: list[tuple[str | int, Any, bool]] = []
        if isinstance(node, SequenceNode):
            children = [(index, item, _written_after(item, node.value[index - 1] if index
                                                     else None, node))
                        for index, item in enumerate(node.value)]
        elif isinstance(node, MappingNode):
            children = [(_key(key), value, _written_after(value, key))
                        for key, value in node.value
                        if isinstance(key, ScalarNode) and not _is_merge(key)]
        for step, child, written in children:
            if written and id(child) not in names:
                names[id(child)] = _dotted([*path, step])
                pending.append((child, [*path, step]))
    return names
