"""What a revision's dvx.yaml declares as params, metrics and plots files.

Each revision is read with its own dvx.yaml, so a metrics file that moved, or a stage added
later, is found where that revision had it. Only what these commands need is taken from it
(the stages' `wdir`, `params`, `metrics` and `plots`, after `foreach`/`matrix` expansion and
`${...}` interpolation with the revision's own params.yaml and `vars`); the keys are checked
as every command checks them (a typo such as `plot:` must not hide a declaration), the rest
of the pipeline by the commands that run it. Paths are checked like every repository path.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dvx.errors import DvxError, FormatError, MergeConflictError
from dvx.paths import check_relpath
from dvx.pipeline.interpolate import interpolate
from dvx.pipeline.lookups import ParamLookup, param_lookups
from dvx.pipeline.params import (
    DEFAULT_PARAMS_FILE,
    check_params_file_name,
    parse_params,
    refuse_conflicted,
)
from dvx.pipeline.spec import (
    PIPELINE_FILE,
    PlotOptions,
    check_stage_keys,
    check_top_keys,
    expand_stage,
    plot_options,
    stage_definitions,
)
from dvx.yamlio import parse_yaml

ReadFile = Callable[[str], bytes | None]  # repo-relative path -> bytes, None if absent

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".svg")


@dataclass(frozen=True)
class Plot:
    path: str
    options: PlotOptions

    @property
    def is_image(self) -> bool:
        return self.path.lower().endswith(IMAGE_SUFFIXES)


@dataclass
class Declared:
    # every params file: those stages name, and params.yaml at the root if it exists (DVC's
    # default params file, shown even when no stage names it)
    params: list[str] = field(default_factory=list)
    # params file -> the keys stages depend on (an empty list: the whole file)
    param_deps: dict[str, list[str]] = field(default_factory=dict)
    metrics: list[str] = field(default_factory=list)
    plots: list[Plot] = field(default_factory=list)


def declared(read: ReadFile, workspace_root: str | None = None) -> Declared:
    """What the dvx.yaml that `read` reads declares; raises FormatError if it cannot be read
    (MergeConflictError if, read from the workspace of the repository at `workspace_root`, it
    or a file it takes values from holds Git's conflict markers)."""
    found = Declared()
    context: dict[str, Any] = {}
    unreadable: DvxError | None = None
    try:
        root_params = read(DEFAULT_PARAMS_FILE)
    except DvxError as exc:  # there, but not to be read (too large, its cached object gone)
        found.params.append(DEFAULT_PARAMS_FILE)
        root_params, unreadable = None, exc
    if root_params is not None:
        found.params.append(DEFAULT_PARAMS_FILE)
        try:
            context.update(parse_params(root_params, DEFAULT_PARAMS_FILE,
                                        workspace_root=workspace_root))
        except (FormatError, MergeConflictError) as exc:  # its row shows the error, unless
            unreadable = exc  # dvx.yaml needs its values
    data = read(PIPELINE_FILE)
    if unreadable is not None and data is not None and b"${" in data:
        raise unreadable
    if workspace_root is not None and data is not None:
        refuse_conflicted(data, workspace_root, PIPELINE_FILE)
    doc = parse_yaml(data, f"pipeline file '{PIPELINE_FILE}'") if data is not None else None
    if doc is None:
        return found
    if not isinstance(doc, dict):
        raise FormatError(f"{PIPELINE_FILE} is not a mapping with a 'stages' mapping.")
    check_top_keys(doc)  # as every command checks them: a typo must not hide a declaration
    definitions = stage_definitions(doc)
    values, sources = _vars(doc.get("vars"), read, workspace_root)
    context.update(values)
    _take_interpolated_vars(found, [lookup for definition in definitions.values()
                                    for lookup in param_lookups(definition, context, sources)])
    for name, definition in definitions.items():
        for full_name, body, ctx, _ in expand_stage(str(name), definition, context):
            _take_stage(found, full_name, body, ctx)
    return found


def _vars(entries: Any, read: ReadFile, workspace_root: str | None
          ) -> tuple[dict[str, Any], dict[str, str]]:
    """The values `vars:` gives `${}`, and the file each top-level name comes from (none for
    a value written in dvx.yaml itself); a later entry overrides an earlier one."""
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, dict):
            values.update({str(k): v for k, v in entry.items()})
            for k in entry:
                sources.pop(str(k), None)
        elif isinstance(entry, str):
            file, _, keys = entry.partition(":")
            rel = _path(file, "", "vars")
            data = read(rel)
            if data is None:
                raise FormatError(f"{PIPELINE_FILE}: vars: '{rel}' does not exist.")
            doc = parse_params(data, rel, workspace_root=workspace_root)
            wanted = [k.strip() for k in keys.split(",") if k.strip()] or list(doc)
            values.update({k: doc[k] for k in wanted if k in doc})
            sources.update({k: rel for k in wanted if k in doc})
    return values, sources


def _take_interpolated_vars(found: Declared, looked_up: list[ParamLookup]) -> None:
    """A key of a vars file that a stage's `${}` looks up (`looked_up`, none in `meta`, nor a
    foreach or matrix stage's own `${item}`) is a param that stage depends on (a change of it
    changes the command): shown and diffed as a param, as DVC records the vars values it
    interpolates."""
    for lookup in looked_up:
        _depend(found, lookup.file, [lookup.key])


def _take_stage(found: Declared, name: str, body: Any, context: dict[str, Any]) -> None:
    if not isinstance(body, dict):
        raise FormatError(f"Stage '{name}' is not a mapping of keys.")
    check_stage_keys(name, body)
    where = f"Stage '{name}'"
    wanted = {k: interpolate(body[k], context, f"{where}, key '{k}'")
              for k in ("wdir", "params", "metrics", "plots") if k in body}
    wdir = wanted.get("wdir") or "."
    if not isinstance(wdir, str):
        raise FormatError(f"{where}, key 'wdir': it is not a directory path.")
    wdir = "" if posixpath.normpath(wdir) == "." else _path(wdir, "", f"{where}, key 'wdir'")
    for path, _ in _entries(wanted.get("metrics"), wdir, f"{where}, key 'metrics'"):
        if path not in found.metrics:
            found.metrics.append(path)
    for path, options in _entries(wanted.get("plots"), wdir, f"{where}, key 'plots'"):
        if all(p.path != path for p in found.plots):
            found.plots.append(Plot(path, plot_options(options, f"{where}, key 'plots': "
                                                                f"'{path}'")))
    _take_params(found, wanted.get("params"), wdir, f"{where}, key 'params'")


def _entries(items: Any, wdir: str, where: str) -> list[tuple[str, dict[str, Any]]]:
    """(path, options) of each item of an outs-like list."""
    if items is None:
        return []
    if not isinstance(items, list):
        raise FormatError(f"{where}: it is not a list of paths.")
    found = []
    for item in items:
        options: Any = {}
        if isinstance(item, dict) and len(item) == 1:
            item, options = next(iter(item.items()))
        if not isinstance(options, dict):
            options = {}
        found.append((_path(item, wdir, where), options))
    return found


def _take_params(found: Declared, items: Any, wdir: str, where: str) -> None:
    default = posixpath.join(wdir, DEFAULT_PARAMS_FILE) if wdir else DEFAULT_PARAMS_FILE
    for item in items if isinstance(items, list) else []:
        if isinstance(item, str):
            _depend(found, default, [item])
        elif isinstance(item, dict):
            for file, keys in item.items():
                rel = _path(file, wdir, where)
                check_params_file_name(rel, where)
                listed = [k for k in keys if isinstance(k, str)] if isinstance(keys, list) else []
                _depend(found, rel, listed)


def _depend(found: Declared, file: str, keys: list[str]) -> None:
    if file not in found.params:
        found.params.append(file)
    tracked = found.param_deps.get(file)
    if tracked is None:
        found.param_deps[file] = list(keys)
    elif tracked and keys:  # an empty list already means the whole file
        tracked += [k for k in keys if k not in tracked]
    else:
        tracked.clear()


def _path(path: Any, wdir: str, where: str) -> str:
    if not isinstance(path, str) or not path or path.startswith("/"):
        raise FormatError(f"{where}: {path!r} is not a relative path.")
    rel = posixpath.normpath(posixpath.join(wdir, path) if wdir else path)
    try:
        return check_relpath(rel)
    except DvxError as exc:
        raise FormatError(f"{where}: {exc.message}") from None

