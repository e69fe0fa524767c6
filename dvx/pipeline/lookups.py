"""The params a stage definition of dvx.yaml looks up with `${}`.

A reference names a param by its file and key: its top-level name is looked up in the context,
where params.yaml or one `vars` file defines it (two never both do, see spec.py), so `${k}`
read from other.yaml is never params.yaml's `k`. A name foreach or matrix binds (`item`, and
`key` for a mapping) hides the context's for the stages it makes, and a value written in
`vars:` itself comes from no file: neither is a param. Only what a run reads looks a param up:
`meta` is never interpolated, and a stage's or an output's `desc` and a plot's drawing options
(`title`, `x`, ...) only describe it, so a change of a param they name runs nothing again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dvx.errors import DvxError
from dvx.pipeline.interpolate import interpolate, references_in

# What a stage's run never reads: a change of it leaves the stage as it was (docs/pipelines.md)
UNREAD_STAGE_KEYS = frozenset({"meta", "desc"})
OUT_KINDS = ("outs", "metrics", "plots")
# How a plot is drawn (dvx.yaml's plot options beside those of any output, spec.PLOT_OPTIONS)
DRAWING_OPTIONS = ("x", "y", "template", "title", "x_label", "y_label", "header")
UNREAD_OUT_OPTIONS = frozenset({"desc", *DRAWING_OPTIONS})
FOREACH_NAMES = frozenset({"item", "key"})  # `key` only for a mapping's items
MATRIX_NAMES = frozenset({"item"})


@dataclass(frozen=True)
class ParamLookup:
    file: str  # the repository-relative params file the value comes from
    key: str  # dotted, as `params:` and -S name it (`layers[0]` is `layers.0`)


def param_lookups(definition: Any, context: Mapping[str, Any], files: Mapping[str, str]
                  ) -> list[ParamLookup]:
    """The params the `${}` of the stage definition `definition` look up, each once, in the
    order written: its `foreach` or `matrix` value in the `context` every stage has, its body
    where foreach or matrix binds names of its own. `files`: the params file each top-level
    name of `context` comes from (none for a value written in `vars:`)."""
    if not isinstance(definition, dict):
        return []
    if "foreach" in definition or "do" in definition:
        generator, body = definition.get("foreach"), definition.get("do")
        bound = _foreach_names(generator, context)
    elif "matrix" in definition:
        generator = definition["matrix"]
        body = {key: value for key, value in definition.items() if key != "matrix"}
        bound = MATRIX_NAMES
    else:
        generator, body, bound = None, definition, frozenset()
    names = [*references_in(generator),
             *(name for name in references_in(_read_by_run(body))
               if _top(name) not in bound)]
    return list(dict.fromkeys(ParamLookup(files[_top(name)], name) for name in names
                              if _top(name) in files))


def _foreach_names(items: Any, context: Mapping[str, Any]) -> frozenset[str]:
    """The names a foreach over `items` binds: `item`, and `key` where they are a mapping."""
    try:
        resolved = interpolate(items, context, "foreach")
    except DvxError:  # the pipeline refuses it: both are taken as bound, neither as a param
        return FOREACH_NAMES
    return FOREACH_NAMES if isinstance(resolved, dict) else frozenset({"item"})


def _read_by_run(body: Any) -> Any:
    """`body` without what a run of its stage never reads (UNREAD_STAGE_KEYS, and the
    UNREAD_OUT_OPTIONS of each output written as a path mapped to its options)."""
    if not isinstance(body, dict):
        return body
    return {key: [_out_read_by_run(item) for item in value]
            if key in OUT_KINDS and isinstance(value, list) else value
            for key, value in body.items() if key not in UNREAD_STAGE_KEYS}


def _out_read_by_run(item: Any) -> Any:
    if not isinstance(item, dict):
        return item
    return {path: {key: value for key, value in options.items()
                   if key not in UNREAD_OUT_OPTIONS} if isinstance(options, dict) else options
            for path, options in item.items()}


def _top(name: str) -> str:
    return name.partition(".")[0]
