"""dvx.yaml: loading, interpolating and validating the pipeline into frozen Stage values.

Everything is checked before anything runs, and each problem is one error naming the stage
and the key: unknown keys, wrong types, malformed or undefined `${...}`, paths outside the
repository, in `.git`/`.dvx` or below a symlinked directory, two stages with the same output,
an output inside another output or overlapping data tracked with `dvx add`. (Cycles are found
when the graph is built, see graph.py.)

Paths in a Stage are repository-relative POSIX paths, already joined with the stage's `wdir`.
"""

from __future__ import annotations

import bisect
import contextlib
import itertools
import math
import os
import posixpath
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from dvx import fsutil
from dvx.errors import DvxError, FormatError, PathError, UsageError
from dvx.lockfile import OWN_NAMES, PIPELINE_FILE, PIPELINE_FILES, own_file_problem
from dvx.logs import shell_quote
from dvx.outputs import (
    TEMPORARY_NAME,
    DeclaringStage,
    StagesDeclaring,
    load_output,
    named_like_a_temporary,
    not_read_message,
    pipeline_files_not_read,
    pipeline_outputs,
    pointer_files,
    warn_of_pipeline_files_not_read,
)
from dvx.paths import (
    POINTER_SUFFIX,
    RESERVED_NAMES,
    check_no_symlinked_parent,
    check_relpath,
    folders_above,
    for_command,
    make_readable_hint,
    pipeline_file_is_a_link,
)
from dvx.pipeline.interpolate import interpolate
from dvx.pipeline.lookups import DRAWING_OPTIONS, OUT_KINDS, ParamLookup, param_lookups
from dvx.pipeline.params import (
    DEFAULT_PARAMS_FILE,
    MISSING,
    ParamsReader,
    check_params_file_name,
    get_param,
    is_param_name,
    parse_params,
    read_params,
    refuse_conflicted,
)
from dvx.pointer import data_path_of
from dvx.repo import Repo
from dvx.yamlio import DEFAULT_MAX_BYTES, parse_yaml

TOP_KEYS = ("stages", "vars")
STAGE_KEYS = ("cmd", "wdir", "deps", "params", "outs", "metrics", "plots", "frozen",
              "always_changed", "desc", "meta")
OUT_OPTIONS = ("cache", "persist", "remote", "push", "desc")
PLOT_OPTIONS = (*OUT_OPTIONS, *DRAWING_OPTIONS)
# DVC's template names: simple and smooth draw like linear, bar_horizontal like bar.
PLOT_TEMPLATES = ("linear", "simple", "smooth", "scatter", "bar", "bar_horizontal", "confusion",
                  "confusion_normalized")
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
_SUFFIX = re.compile(r"[A-Za-z0-9_.+-]+")
_REMOTE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
MAX_STAGES = 10_000  # a repository's dvx.yaml cannot make dvx expand a huge matrix


@dataclass(frozen=True)
class PlotOptions:
    """How a `plots` output is drawn (see docs/metrics.md); None: chosen from the data."""
    x: str | None = None
    y: tuple[str, ...] = ()
    template: str = "linear"
    title: str | None = None
    x_label: str | None = None
    y_label: str | None = None
    header: bool = True  # CSV/TSV: the first line names the columns


@dataclass(frozen=True)
class Out:
    path: str
    kind: str = "outs"  # "outs", "metrics" or "plots"
    cache: bool = True
    persist: bool = False
    push: bool = True
    remote: str | None = None
    plot: PlotOptions | None = None  # for kind "plots"


@dataclass(frozen=True)
class ParamDep:
    file: str  # repo-relative
    keys: tuple[str, ...]  # dotted keys; empty means every top-level key of the file


@dataclass(frozen=True)
class Stage:
    name: str
    cmd: tuple[str, ...]
    wdir: str = ""  # repo-relative; "" is the repository root
    deps: tuple[str, ...] = ()
    outs: tuple[Out, ...] = ()
    params: tuple[ParamDep, ...] = ()
    frozen: bool = False
    always_changed: bool = False
    desc: str | None = None
    group: str | None = None  # for stages made by foreach/matrix: the name before '@'

    @property
    def out_paths(self) -> tuple[str, ...]:
        return tuple(o.path for o in self.outs)

    @property
    def inputs(self) -> tuple[str, ...]:
        """The paths the stage reads: its dependencies and params files."""
        return (*self.deps, *(p.file for p in self.params))

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, "cmd": list(self.cmd), "wdir": self.wdir or ".",
                "deps": list(self.deps),
                "outs": [{"path": o.path, "type": o.kind, "cache": o.cache, "persist": o.persist,
                          "push": o.push, "remote": o.remote} for o in self.outs],
                "params": {p.file: list(p.keys) for p in self.params},
                "frozen": self.frozen, "always_changed": self.always_changed,
                "desc": self.desc}


@dataclass(frozen=True)
class Pipeline:
    stages: tuple[Stage, ...]
    # False when dvx.yaml says nothing of stages (an empty file, no `stages`, or `stages:`
    # with nothing under it), which a truncated file says too; `stages: {}` says "none"
    declares_stages: bool = True

    def names(self) -> list[str]:
        return [s.name for s in self.stages]

    def get(self, name: str) -> Stage | None:
        return next((s for s in self.stages if s.name == name), None)


def pipeline_path(repo: Repo) -> str:
    return os.path.join(repo.root, PIPELINE_FILE)


# Params files as a command is about to set them (path -> their bytes then), read in place of
# the files: the pipeline a queued `exp run -S` will run, resolved before anything is written.
ParamsSet = Mapping[str, bytes]


def load_pipeline(repo: Repo, removing: str | None = None, params_set: ParamsSet | None = None
                  ) -> Pipeline | None:
    """The validated pipeline of dvx.yaml, or None if the repository has no dvx.yaml.
    `removing`, `params_set`: as in parse_pipeline."""
    path = pipeline_path(repo)
    if not os.path.lexists(path):
        return None
    return parse_pipeline(repo, _read_pipeline_file(path, repo.root), removing, params_set)


def _read_pipeline_file(path: str, root: str) -> Any:
    if os.path.islink(path):
        raise pipeline_file_is_a_link(PIPELINE_FILE)
    try:
        data = fsutil.read_regular(path, DEFAULT_MAX_BYTES + 1, follow_links=False)
    except PermissionError as exc:
        raise FormatError(f"Cannot read {PIPELINE_FILE}: {exc.strerror}.",
                          make_readable_hint(for_command(root, PIPELINE_FILE))) from None
    except OSError as exc:
        raise FormatError(f"Cannot read {PIPELINE_FILE}: {exc.strerror}.") from None
    refuse_conflicted(data, root, PIPELINE_FILE)
    return parse_yaml(data, f"pipeline file '{path}'")


def no_pipeline_error(repo: Repo, message: str, hint: str | None) -> UsageError:
    """The error `message` (there is no dvx.yaml at the root) for a command that needs one:
    where a dvx.yaml below the root is what the user meant, it names that file, which dvx
    does not read, and where its stages go, instead of `hint`."""
    unread = pipeline_files_not_read(repo, search=True)
    if not unread:
        return UsageError(message, hint)
    why, fix = not_read_message(unread)
    return UsageError(f"{message} {why}", fix)


def declared_outputs(repo: Repo) -> dict[str, str] | None:
    """Each output the workspace's dvx.yaml declares, and the stage declaring it; None when
    dvx.yaml cannot be read (what it declares is then unknown)."""
    try:
        pipeline = load_pipeline(repo)
    except DvxError:
        return None
    if pipeline is None:
        return {}
    return {out.path: stage.name for stage in pipeline.stages for out in stage.outs}


def stages_declaring(repo: Repo, params_set: ParamsSet | None = None) -> StagesDeclaring:
    """What the workspace's dvx.yaml declares, each stage read on its own: a stage that
    cannot be read (an unknown key, say) leaves what the others declare known. With each
    output's stage, whether it is frozen and whether dvx.lock records a run of it.
    `params_set`: as in parse_pipeline."""
    path = pipeline_path(repo)
    if not os.path.lexists(path):
        return StagesDeclaring({})
    try:
        doc = _read_pipeline_file(path, repo.root)
        definitions, context = _definitions(repo, doc, params_set or {})
    except DvxError as exc:  # with its fix: the file at fault may be another (params.yaml)
        return StagesDeclaring({}, unreadable=str(exc))
    ran = _stages_run(repo)
    outputs: dict[str, DeclaringStage] = {}
    unread: dict[str, str] = {}
    for name, definition in definitions.items():
        try:
            stages = _defined_stages(repo, name, definition, context)
        except DvxError as exc:
            unread[str(name)] = exc.message
            continue
        outputs.update({out.path: DeclaringStage(stage.name, stage.frozen,
                                                  ran is None or stage.name in ran)
                        for stage in stages for out in stage.outs})
    return StagesDeclaring(outputs, unread)


def files_read_as_params(repo: Repo) -> frozenset[str] | None:
    """The files the workspace's dvx.yaml reads as params, by the strict rules of a params
    file: params.yaml (the context of its `${}`), each file `vars:` names and each file a
    stage names under `params:`; None when dvx.yaml cannot be read (any file may be one)."""
    path = pipeline_path(repo)
    if not os.path.lexists(path):
        return frozenset({DEFAULT_PARAMS_FILE})
    try:
        doc = _read_pipeline_file(path, repo.root)
        stages = _stages(repo, doc)
        entries = doc.get("vars") if isinstance(doc, dict) else None
        vars_files = {_resolve(repo, entry.partition(":")[0], "", "vars", None)
                      for entry in entries or () if isinstance(entry, str)}
    except DvxError:
        return None
    return frozenset({DEFAULT_PARAMS_FILE, *vars_files,
                      *(param.file for stage in stages for param in stage.params)})


def definition_lookups(repo: Repo) -> dict[str, list[ParamLookup]]:
    """The params the `${}` of each stage definition of the workspace's dvx.yaml look up
    (`param_lookups`), by the definition's name (a foreach or matrix stage's `group`, any
    other stage's own name): what a change of makes that stage's command or files another,
    so that it runs again. {} without a dvx.yaml."""
    path = pipeline_path(repo)
    if not os.path.lexists(path):
        return {}
    doc = _read_pipeline_file(path, repo.root)
    if not isinstance(doc, dict):
        return {}
    context, files = _context_and_files(repo, doc.get("vars"), {})
    return {str(name): param_lookups(definition, context, files)
            for name, definition in stage_definitions(doc).items()}


def _stages_run(repo: Repo) -> set[str] | None:
    """The stages dvx.lock records a run of; None when it cannot be read (`repro` refuses
    then, before deleting anything)."""
    try:
        return set(repo.read_lock())
    except DvxError:
        return None


def caching_declared(repo: Repo) -> dict[str, tuple[str, bool]]:
    """Each output the workspace's dvx.yaml declares: the stage declaring it, and whether
    the cache keeps it (else Git does); a DvxError says why dvx.yaml cannot be read. Each
    stage is read as load_pipeline reads it, without the checks across stages, which list the
    pointer files of the whole workspace: the pre-commit hook asks this at every commit."""
    path = pipeline_path(repo)
    if not os.path.lexists(path):
        return {}
    stages = _stages(repo, _read_pipeline_file(path, repo.root))
    return {out.path: (stage.name, out.cache) for stage in stages for out in stage.outs}


def pipeline_bytes(repo: Repo) -> bytes | None:
    """dvx.yaml's bytes as they are now, to tell whether it changed; None without one (or
    with one that cannot be read)."""
    try:
        return fsutil.read_regular(pipeline_path(repo), DEFAULT_MAX_BYTES + 1)
    except OSError:
        return None


def stages_declared(repo: Repo) -> dict[str, Stage] | None:
    """Each stage dvx.yaml declares now, by name, read as caching_declared reads them;
    None when dvx.yaml cannot be read."""
    path = pipeline_path(repo)
    if not os.path.lexists(path):
        return {}
    try:
        return {stage.name: stage
                for stage in _stages(repo, _read_pipeline_file(path, repo.root))}
    except DvxError:
        return None


def parse_pipeline(repo: Repo, doc: Any, removing: str | None = None,
                   params_set: ParamsSet | None = None) -> Pipeline:
    """The validated pipeline of the dvx.yaml document `doc`, its `${}` resolved with the
    params files as `params_set` holds them (the others as they are). A pointer file inside
    an output of the stage `removing` (or of an item of that foreach/matrix stage) is let
    be: `dvx stage remove` is a way out of that overlap (dvx/overlapping.py)."""
    if doc is None:
        return Pipeline((), declares_stages=False)
    pipeline = Pipeline(tuple(_stages(repo, doc, params_set)),
                        declares_stages=isinstance(doc, dict) and doc.get("stages") is not None)
    _check_across_stages(repo, pipeline, removing)  # which lists the pointers, and so any dvx.yaml
    # below the root, whose stages are not these (one inside their outputs is their data)
    warn_of_pipeline_files_not_read(
        repo, stage_outputs=[o.path for s in pipeline.stages for o in s.outs])
    return pipeline


def _stages(repo: Repo, doc: Any, params_set: ParamsSet | None = None) -> list[Stage]:
    """The stages of the dvx.yaml document `doc`, each validated on its own (`params_set`:
    as in parse_pipeline)."""
    definitions, context = _definitions(repo, doc, params_set or {})
    stages: list[Stage] = []
    for name, definition in definitions.items():
        stages += _defined_stages(repo, name, definition, context)
        if len(stages) > MAX_STAGES:
            raise _error(f"{PIPELINE_FILE} defines more than {MAX_STAGES} stages.")
    return stages


def _definitions(repo: Repo, doc: Any, params_set: ParamsSet
                 ) -> tuple[dict[Any, Any], dict[str, Any]]:
    """The stage definitions of the dvx.yaml document `doc` by name, and the context their
    `${}` are resolved in."""
    if doc is None:
        return {}, {}
    if not isinstance(doc, dict):
        raise _error(f"{PIPELINE_FILE} is not a mapping with a 'stages' key.")
    check_top_keys(doc)
    context = _context(repo, doc.get("vars"), params_set)
    return stage_definitions(doc), context


def _defined_stages(repo: Repo, name: Any, definition: Any, context: dict[str, Any]
                    ) -> list[Stage]:
    """The stages the definition `name` makes (more than one for foreach and matrix), each
    validated on its own."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise _error(f"{PIPELINE_FILE}: {name!r} is not a valid stage name.",
                     "Use letters, digits, '_', '.' and '-' ('@' is reserved for stages "
                     "made by foreach and matrix).")
    stages = []
    for full_name, body, ctx, group in expand_stage(name, definition, context):
        stages.append(_build_stage(repo, full_name, body, ctx, group))
        if len(stages) > MAX_STAGES:
            raise _error(f"{PIPELINE_FILE} defines more than {MAX_STAGES} stages.")
    return stages


def stage_definitions(doc: dict[Any, Any]) -> dict[Any, Any]:
    """What `stages` maps stage names to in the dvx.yaml document `doc`; {} when it says
    nothing there (no `stages`, or `stages:` with nothing under it). Any value but a mapping
    is refused, an empty list or `false` too: taken as "no stages", it would make `dvx repro`
    drop every dvx.lock entry."""
    definitions = doc.get("stages")
    if definitions is None:
        return {}
    if not isinstance(definitions, dict):
        raise _error(f"'stages' in {PIPELINE_FILE} is {_described(definitions)}, not a mapping "
                     "of stage names to stages.",
                     f"Fix {PIPELINE_FILE}: under `stages`, each stage's name maps to its "
                     "keys (cmd, deps, outs, ...); `stages: {}` says there are none.")
    return definitions


def _described(value: Any) -> str:
    """A YAML value as a message names it: its kind, and the value itself when short."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "an empty list" if not value else "a list"
    if isinstance(value, str):
        return "an empty string" if not value else "a string"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    return f"a {type(value).__name__}"


def check_top_keys(doc: dict[Any, Any]) -> None:
    """Refuse a top-level key dvx does not know (every command reading dvx.yaml does: one
    that ignored it would silently miss what it declares)."""
    unknown = [k for k in doc if k not in TOP_KEYS]
    if "plots" in unknown:
        raise _error(f"{PIPELINE_FILE} has a top-level 'plots' section, which dvx does not "
                     "support (DVC's plots made of several files).",
                     "Declare each plots file, with its options (x, y, template, ...), under "
                     "the `plots` of the stage that writes it (see docs/metrics.md).")
    if unknown:
        raise _error(f"{PIPELINE_FILE} has an unknown top-level key '{unknown[0]}' "
                     f"(known: {', '.join(TOP_KEYS)}).")


def check_stage_keys(name: str, body: dict[Any, Any]) -> None:
    """Refuse a key a stage does not have (a typo such as `plot:` or `metric:`)."""
    unknown = [k for k in body if k not in STAGE_KEYS]
    if unknown:
        hint = ("'foreach' needs 'do', and 'matrix' cannot be combined with them."
                if unknown[0] in ("foreach", "do", "matrix") else
                f"The keys of a stage are: {', '.join(STAGE_KEYS)}.")
        raise _error(f"Stage '{name}': unknown key '{unknown[0]}'.", hint)


def _error(message: str, hint: str | None = None) -> FormatError:
    return FormatError(message, hint or f"Fix {PIPELINE_FILE} and run the command again.")


# -- context: vars and params.yaml -----------------------------------------------------------

def _context(repo: Repo, vars_entries: Any, params_set: ParamsSet) -> dict[str, Any]:
    return _context_and_files(repo, vars_entries, params_set)[0]


def _context_and_files(repo: Repo, vars_entries: Any, params_set: ParamsSet
                       ) -> tuple[dict[str, Any], dict[str, str]]:
    """The context `${}` are resolved in, and the params file each of its top-level names
    comes from (params.yaml or a `vars` file; none for a value written in `vars:`)."""
    context: dict[str, Any] = {}
    sources: dict[str, str] = {}
    files: dict[str, str] = {}

    def read(rel: str) -> dict[str, Any]:
        if rel in params_set:
            return parse_params(params_set[rel], rel, workspace_root=repo.root)
        return read_params(repo, rel)

    def merge(values: dict[str, Any], source: str, file: str | None) -> None:
        for key, value in values.items():
            if key in context and source != sources[key]:
                raise _error(f"{PIPELINE_FILE}: vars: '{key}' is defined both in "
                             f"{sources[key]} and in {source}.", "Rename one of them.")
            context[key], sources[key] = value, source
            if file is not None:
                files[key] = file

    if os.path.isfile(os.path.join(repo.root, DEFAULT_PARAMS_FILE)):
        merge(read(DEFAULT_PARAMS_FILE), DEFAULT_PARAMS_FILE, DEFAULT_PARAMS_FILE)
    if vars_entries is None:
        return context, files
    if not isinstance(vars_entries, list):
        raise _error(f"{PIPELINE_FILE}: 'vars' is not a list (of mappings or file names).")
    seen_files = {DEFAULT_PARAMS_FILE}
    for number, entry in enumerate(vars_entries, 1):
        if isinstance(entry, dict):
            # Each mapping is its own place: a name in two of them is defined twice.
            merge({str(k): v for k, v in entry.items()}, f"entry {number} of 'vars'", None)
        elif isinstance(entry, str):
            file, _, keys = entry.partition(":")
            rel = _resolve(repo, file, "", "vars", None)
            check_params_file_name(rel, f"{PIPELINE_FILE}: vars")
            values = read(rel)
            if keys:
                wanted = [k.strip() for k in keys.split(",") if k.strip()]
                missing = [k for k in wanted if k not in values]
                if missing:
                    raise _error(f"{PIPELINE_FILE}: vars: '{missing[0]}' is not in '{rel}'.")
                values = {k: values[k] for k in wanted}
            if rel not in seen_files or keys:
                merge(values, rel, rel)
            seen_files.add(rel)
        else:
            raise _error(f"{PIPELINE_FILE}: an entry of 'vars' is neither a mapping nor a file "
                         "name.")
    return context, files


# -- foreach / matrix ------------------------------------------------------------------------

def expand_stage(name: str, definition: Any, context: dict[str, Any]
                 ) -> Iterator[tuple[str, Any, dict[str, Any], str | None]]:
    """(name, body, context, group) of each stage a definition makes (foreach, matrix)."""
    if not isinstance(definition, dict):
        raise _error(f"Stage '{name}' is not a mapping of keys (cmd, deps, outs, ...).")
    if "foreach" in definition or "do" in definition:
        yield from _expand_foreach(name, definition, context)
    elif "matrix" in definition:
        yield from _expand_matrix(name, definition, context)
    else:
        yield name, definition, context, None


def _suffix(value: Any, fallback: str, name: str, key: str) -> str:
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, (str, int, float)):
        text = str(value)
    else:
        text = fallback
    if not _SUFFIX.fullmatch(text):
        raise _error(f"Stage '{name}', key '{key}': the value {text!r} cannot be part of a "
                     "stage name.", "Use values made of letters, digits, '_', '.', '+' and '-', "
                     "or a mapping whose keys are.")
    return text


def _expand_foreach(name: str, definition: dict[str, Any], context: dict[str, Any]
                    ) -> Iterator[tuple[str, Any, dict[str, Any], str | None]]:
    extra = sorted(set(definition) - {"foreach", "do"})
    if extra or "foreach" not in definition or "do" not in definition:
        raise _error(f"Stage '{name}': a foreach stage has exactly the keys 'foreach' and 'do'"
                     + (f" (found '{extra[0]}')." if extra else "."),
                     "Put the stage's keys (cmd, deps, outs, ...) under 'do'.")
    items = interpolate(definition["foreach"], context, f"Stage '{name}', key 'foreach'")
    if isinstance(items, list):
        pairs = [(_suffix(v, str(i), name, "foreach"), {"item": v}) for i, v in enumerate(items)]
    elif isinstance(items, dict):
        pairs = [(_suffix(k, "", name, "foreach"), {"item": v, "key": k})
                 for k, v in items.items()]
    else:
        raise _error(f"Stage '{name}', key 'foreach': it is not a list or a mapping.")
    if not isinstance(definition["do"], dict):
        raise _error(f"Stage '{name}', key 'do': it is not a mapping of stage keys.")
    yield from _generated(name, "foreach", pairs, definition["do"], context)


def _expand_matrix(name: str, definition: dict[str, Any], context: dict[str, Any]
                   ) -> Iterator[tuple[str, Any, dict[str, Any], str | None]]:
    matrix = interpolate(definition["matrix"], context, f"Stage '{name}', key 'matrix'")
    if not isinstance(matrix, dict) or not matrix:
        raise _error(f"Stage '{name}', key 'matrix': it is not a mapping of names to lists.")
    axes: list[list[tuple[str, Any]]] = []
    for axis, values in matrix.items():
        if not isinstance(values, list) or not values:
            raise _error(f"Stage '{name}', key 'matrix': '{axis}' is not a non-empty list.")
        axes.append([(_suffix(v, f"{axis}{i}", name, "matrix"), v)
                     for i, v in enumerate(values)])
    body = {k: v for k, v in definition.items() if k != "matrix"}
    if math.prod(len(axis) for axis in axes) > MAX_STAGES:
        raise _error(f"Stage '{name}', key 'matrix': it makes more than {MAX_STAGES} stages.")
    pairs = []
    for combo in itertools.product(*axes):
        item = {str(axis): value for axis, (_, value) in zip(matrix, combo, strict=True)}
        pairs.append(("-".join(s for s, _ in combo), {"item": item}))
    yield from _generated(name, "matrix", pairs, body, context)


def _generated(name: str, key: str, pairs: list[tuple[str, dict[str, Any]]], body: Any,
               context: dict[str, Any]
               ) -> Iterator[tuple[str, Any, dict[str, Any], str | None]]:
    seen: set[str] = set()
    for suffix, extra in pairs:
        if suffix in seen:
            raise _error(f"Stage '{name}', key '{key}': two items make the same stage name "
                         f"'{name}@{suffix}'.", "Make the items unique.")
        seen.add(suffix)
        yield f"{name}@{suffix}", body, {**context, **extra}, name


# -- one stage ------------------------------------------------------------------------------

def _build_stage(repo: Repo, name: str, body: dict[str, Any], context: dict[str, Any],
                 group: str | None) -> Stage:
    check_stage_keys(name, body)
    values = {key: interpolate(value, context, f"Stage '{name}', key '{key}'")
              for key, value in body.items() if key != "meta"}
    if "cmd" not in values:
        raise _error(f"Stage '{name}' has no 'cmd'.", "Add the command that produces its "
                     "outputs.")
    cmd = values["cmd"]
    if isinstance(cmd, str):
        cmd = [cmd]
    if (not isinstance(cmd, list) or not cmd
            or not all(isinstance(c, str) and c.strip() for c in cmd)):
        raise _error(f"Stage '{name}', key 'cmd': it is not a command or a list of commands.")
    wdir = values.get("wdir", ".")
    if not isinstance(wdir, str) or not wdir:
        raise _error(f"Stage '{name}', key 'wdir': it is not a directory path.")
    wdir_rel = "" if posixpath.normpath(wdir) == "." else _resolve(repo, wdir, "", "wdir", name)
    if wdir_rel and not os.path.isdir(repo.abspath(wdir_rel)):
        raise PathError(f"Stage '{name}', key 'wdir': '{wdir}' is not a directory.")
    deps = tuple(dict.fromkeys(_resolve(repo, d, wdir_rel, "deps", name)
                               for d in _str_list(values, "deps", name)))
    outs = tuple(out for kind in OUT_KINDS for out in _outs(repo, values, kind, wdir_rel, name))
    params = _params(repo, values.get("params"), wdir_rel, name)
    flags = {}
    for key in ("frozen", "always_changed"):
        flags[key] = values.get(key, False)
        if not isinstance(flags[key], bool):
            raise _error(f"Stage '{name}', key '{key}': it is not true or false.")
    desc = values.get("desc")
    if desc is not None and not isinstance(desc, str):
        raise _error(f"Stage '{name}', key 'desc': it is not a string.")
    _check_within_stage(name, deps, outs)
    return Stage(name, tuple(cmd), wdir_rel, deps, outs, params, flags["frozen"],
                 flags["always_changed"], desc, group)


def _str_list(values: dict[str, Any], key: str, name: str) -> list[str]:
    items = values.get(key) or []
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise _error(f"Stage '{name}', key '{key}': it is not a list of paths.")
    return items


def _resolve(repo: Repo, path: Any, wdir: str, key: str, name: str | None) -> str:
    """A path from dvx.yaml, relative to `wdir`, as a checked repository-relative path."""
    where = f"Stage '{name}', key '{key}'" if name else f"{PIPELINE_FILE}: {key}"
    if not isinstance(path, str) or not path:
        raise _error(f"{where}: {path!r} is not a path.")
    if path.startswith("/") or os.path.isabs(path):
        raise PathError(f"{where}: '{path}' is an absolute path.",
                        "Write paths relative to the stage's wdir, inside the repository.")
    if "\\" in path or "\x00" in path:
        raise PathError(f"{where}: '{path}' contains a backslash or NUL byte.")
    rel = posixpath.normpath(posixpath.join(wdir, path) if wdir else path)
    if rel == ".":
        raise PathError(f"{where}: '{path}' is the repository itself.",
                        "Name files or directories inside it.")
    if rel == ".." or rel.startswith("../"):
        raise PathError(f"{where}: '{path}' is outside the repository.",
                        "dvx pipelines only read and write inside the repository.")
    try:
        check_relpath(rel)
    except FormatError as exc:
        reserved = any(part.casefold() in RESERVED_NAMES for part in rel.split("/"))
        raise PathError(f"{where}: {exc.message}",
                        "dvx never reads or writes .git or .dvx from a pipeline." if reserved
                        else "Rename it, and the path in the stage.") from None
    try:
        check_no_symlinked_parent(repo.root, rel)
    except PathError as exc:
        raise PathError(f"{where}: {exc.message}", exc.hint) from None
    return rel


def _outs(repo: Repo, values: dict[str, Any], kind: str, wdir: str, name: str) -> list[Out]:
    items = values.get(kind) or []
    if not isinstance(items, list):
        raise _error(f"Stage '{name}', key '{kind}': it is not a list of paths.")
    allowed = PLOT_OPTIONS if kind == "plots" else OUT_OPTIONS
    outs = []
    for item in items:
        options: Any = {}
        if isinstance(item, dict):
            if len(item) != 1:
                raise _error(f"Stage '{name}', key '{kind}': an entry with options must be "
                             "one path mapped to its options, like '- model.pt: {cache: false}'.")
            item, options = next(iter(item.items()))
            options = options or {}
            if not isinstance(options, dict):
                raise _error(f"Stage '{name}', key '{kind}': the options of '{item}' are not a "
                             "mapping.")
        unknown = [k for k in options if k not in allowed]
        if unknown:
            raise _error(f"Stage '{name}', key '{kind}': '{item}' has an unknown option "
                         f"'{unknown[0]}' (known: {', '.join(allowed)}).")
        for flag in ("cache", "persist", "push"):
            if not isinstance(options.get(flag, True), bool):
                raise _error(f"Stage '{name}', key '{kind}': '{flag}' of '{item}' is not true "
                             "or false.")
        remote = options.get("remote")
        if remote is not None and (not isinstance(remote, str)
                                   or not _REMOTE_NAME.fullmatch(remote)):
            raise _error(f"Stage '{name}', key '{kind}': 'remote' of '{item}' is not a remote "
                         "name.")
        path = _resolve(repo, item, wdir, kind, name)
        cache = options.get("cache", kind == "outs")
        plot = plot_options(options, f"Stage '{name}', key 'plots': '{item}'") \
            if kind == "plots" else None
        outs.append(Out(path, kind, cache, options.get("persist", False),
                        options.get("push", True), remote, plot))
    return outs


def plot_options(options: dict[str, Any], where: str) -> PlotOptions:
    """The drawing options of a plots entry, checked (other keys are left to the caller)."""
    texts = {}
    for key in ("x", "title", "x_label", "y_label"):
        value = options.get(key)
        if value is not None and not (isinstance(value, str) and value):
            raise _error(f"{where}: '{key}' is not a non-empty string.")
        texts[key] = value
    y = options.get("y")
    ys = [y] if isinstance(y, str) else y if y is not None else []
    if not isinstance(ys, list) or not all(isinstance(v, str) and v for v in ys):
        raise _error(f"{where}: 'y' is not a field name or a list of field names.")
    template = options.get("template", "linear")
    if template not in PLOT_TEMPLATES:
        raise _error(f"{where}: 'template' is {template!r}, not one of "
                     f"{', '.join(PLOT_TEMPLATES)}.")
    header = options.get("header", True)
    if not isinstance(header, bool):
        raise _error(f"{where}: 'header' is not true or false.")
    if template.startswith("confusion") and (texts["x"] is None or len(ys) != 1):
        raise _error(f"{where}: a {template} plot needs 'x' (the actual class) and one 'y' "
                     "(the predicted class).", "For example: {template: confusion, x: actual, "
                     "y: predicted}.")
    return PlotOptions(texts["x"], tuple(dict.fromkeys(ys)), template, texts["title"],
                       texts["x_label"], texts["y_label"], header)


def _params(repo: Repo, items: Any, wdir: str, name: str) -> tuple[ParamDep, ...]:
    if items is None:
        return ()
    if not isinstance(items, list):
        raise _error(f"Stage '{name}', key 'params': it is not a list.")
    default = posixpath.join(wdir, DEFAULT_PARAMS_FILE) if wdir else DEFAULT_PARAMS_FILE
    by_file: dict[str, list[str]] = {}
    for item in items:
        if isinstance(item, str):
            by_file.setdefault(default, []).append(_param_key(item, name))
        elif isinstance(item, dict):
            for file, keys in item.items():
                rel = _resolve(repo, file, wdir, "params", name)
                check_params_file_name(rel, f"Stage '{name}', key 'params'")
                if keys is None:
                    keys = []
                if not isinstance(keys, list):
                    raise _error(f"Stage '{name}', key 'params': the keys of '{file}' are not "
                                 "a list.")
                by_file.setdefault(rel, []).extend(_param_key(k, name) for k in keys)
        else:
            raise _error(f"Stage '{name}', key 'params': {item!r} is neither a key nor a "
                         "mapping of a file to keys.")
    return tuple(ParamDep(f, tuple(dict.fromkeys(keys))) for f, keys in by_file.items())


def _param_key(key: Any, name: str) -> str:
    if not isinstance(key, str) or not is_param_name(key):
        raise _error(f"Stage '{name}', key 'params': {key!r} is not a params key.",
                     "Write dotted keys with no empty part, like train.lr.")
    return key


# -- across stages ---------------------------------------------------------------------------

def _check_within_stage(name: str, deps: tuple[str, ...], outs: tuple[Out, ...]) -> None:
    """No dependency is, contains or lies inside an output of the same stage (the first
    dependency that does is named). Each path's folders are looked up rather than every pair
    compared: a stage may list thousands of each."""
    first_dep: dict[str, int] = {}  # a dependency -> its first place
    first_at_or_below: dict[str, int] = {}  # a dependency or a folder above one -> first place
    for i, dep in enumerate(deps):
        first_dep.setdefault(dep, i)
        for path in (dep, *folders_above(dep)):
            first_at_or_below.setdefault(path, i)
    for out in outs:
        found = [first_dep[folder] for folder in folders_above(out.path) if folder in first_dep]
        if out.path in first_at_or_below:
            found.append(first_at_or_below[out.path])
        if found:
            dep = deps[min(found)]
            raise _error(f"Stage '{name}' depends on its own output: dependency '{dep}' and "
                         f"output '{out.path}' overlap (a cycle).",
                         "A stage cannot read what it writes; split it into two stages.")


def _check_across_stages(repo: Repo, pipeline: Pipeline, removing: str | None = None
                         ) -> None:
    owner: dict[str, str] = {}
    for stage in pipeline.stages:
        for out in stage.outs:
            if out.path in owner:
                other = owner[out.path]
                where = f"both stage '{other}' and stage '{stage.name}'" if other != \
                    stage.name else f"stage '{stage.name}' twice"
                raise _error(f"'{out.path}' is an output of {where}.",
                             "Each output must be produced by exactly one stage.")
            owner[out.path] = stage.name
    for path, name in owner.items():
        parent = path.rpartition("/")[0]
        while parent:
            if parent in owner:
                raise _error(f"Stage '{name}': output '{path}' is inside '{parent}', an output "
                             f"of stage '{owner[parent]}'.",
                             "Outputs cannot be nested; make one stage write both, or use "
                             "separate directories.")
            parent = parent.rpartition("/")[0]
    for path, name in owner.items():
        if named_like_a_temporary(path):
            raise _error(f"Stage '{name}': output '{path}' {TEMPORARY_NAME}.",
                         "Choose another output path.")
    for path, name in owner.items():
        own = _own_file_under(path)
        if own is not None:
            raise _error(f"Stage '{name}': output '{path}' is or holds '{own}', a file that "
                         "describes the project to dvx or Git; a stage deletes its outputs "
                         "before it runs.", "Choose another output path.")
    for path, name in owner.items():
        problem = own_file_problem(path)
        if problem is not None:  # dvx.lock could not record it: every command would skip it
            raise _error(f"Stage '{name}': output '{path}' {problem}, so it cannot be a "
                         "stage's output.", "Choose another output path.")
    # A pointer file inside an output tracks data there: named as that overlap, with the
    # `dvx remove` that ends it (a Git merge may have brought the pointer).
    tracked = sorted(data_path_of(p) for p in pointer_files(repo))
    tracked_set = set(tracked)
    for path, name in owner.items():
        data = _overlap_in(path, tracked, tracked_set)
        if data is not None and removing not in (name, name.partition("@")[0]):
            raise _overlap_error(repo, name, path, data)


def _overlap_error(repo: Repo, stage: str, path: str, data: str) -> DvxError:
    """The error for `stage`'s output `path` overlapping `data`, which a pointer file tracks.
    An import is named as one, and the way out offered keeps its source: `dvx remove` of its
    pointer would end the import, so it is offered only with what it drops. A stray file
    named like a pointer (`_pointer_kind`) is no data to stop tracking: it is named with `rm`."""
    pointer = data + POINTER_SUFFIX
    take_out = ("take the stage out (`dvx stage remove "
                f"{shell_quote(stage.partition('@')[0])}`, which leaves its outputs in the "
                "workspace)")
    kind = _pointer_kind(repo, pointer)
    if kind == _STRAY:
        return _error(f"Stage '{stage}': output '{path}' holds '{pointer}', which is named "
                      "like a dvx pointer file but is not a valid one (left by a run of the "
                      "stage?), and Git does not track it: dvx takes every *.dvx file for a "
                      "pointer, so no output may hold one.",
                      f"Delete it (`rm -- {for_command(repo.root, pointer)}`) and keep the "
                      "stage's command from writing *.dvx files, or move the file out of "
                      f"'{path}'.")
    if kind == _ADDED:
        return _error(f"Stage '{stage}': output '{path}' overlaps '{data}', which is tracked "
                      f"by the pointer file '{pointer}' (dvx add).",
                      f"Stop tracking it first (`dvx remove {for_command(repo.root, pointer)}`), "
                      f"choose another output path, or {take_out}.")
    return _error(f"Stage '{stage}': output '{path}' overlaps '{data}', an import (dvx import) "
                  f"whose pointer file '{pointer}' records its source.",
                  "Choose another output path (the stage may read the import as a "
                  f"dependency), move the import (`dvx move {for_command(repo.root, data)} "
                  f"NEW-PATH`, which keeps its source), or {take_out}. `dvx remove "
                  f"{for_command(repo.root, pointer)}` would end the import, its source no "
                  "longer recorded.")


# What a *.dvx file inside a stage's output is (`_pointer_kind`)
_ADDED, _IMPORTED, _STRAY = "added", "imported", "stray"


def _pointer_kind(repo: Repo, pointer: str) -> str:
    """What the file `pointer` is: an import's pointer (it records a source), one of data
    `dvx add` tracks, or a stray file named like one, which cannot be read and which Git does
    not track (a stage's command wrote it). One Git tracks that cannot be read (a merge's
    conflict markers) is taken for `dvx add`'s: the overlap is refused all the same."""
    try:
        return _IMPORTED if load_output(repo, pointer).pointer.source_info is not None \
            else _ADDED
    except DvxError:
        if repo.git is not None and repo.git.tracked_under([pointer]):
            return _ADDED
        return _STRAY


OWN_FILES = PIPELINE_FILES


def _own_file_under(path: str) -> str | None:
    """dvx.yaml, dvx.lock, or an ignore file, at or below `path`."""
    if path.rpartition("/")[2] in OWN_NAMES:
        return path
    for own in OWN_FILES:
        if own == path or own.startswith(path + "/"):
            return own
    return None


def _overlap_in(path: str, paths: list[str], path_set: set[str]) -> str | None:
    """A path of `paths` (sorted; `path_set` holds the same) that is `path`, contains it or is
    inside it: what `overlaps` finds, by looking up the folders above `path` and bisecting for
    those below it, rather than comparing with each path."""
    current = path
    while current:
        if current in path_set:
            return current
        current = current.rpartition("/")[0]
    i = bisect.bisect_left(paths, path + "/")
    if i < len(paths) and paths[i].startswith(path + "/"):
        return paths[i]
    return None


def check_params(repo: Repo, pipeline: Pipeline, reader: ParamsReader | None = None) -> None:
    """Every params key exists, in files that no stage writes (those are read when used)."""
    produced = sorted({o.path for s in pipeline.stages for o in s.outs})
    produced_set = set(produced)
    reader = reader or ParamsReader(repo)
    for stage in pipeline.stages:
        for dep in stage.params:
            if _overlap_in(dep.file, produced, produced_set) is not None:
                continue
            where = f"Stage '{stage.name}', key 'params'"
            try:
                doc = reader.doc(dep.file)
            except FormatError as exc:
                raise FormatError(f"{where}: {exc.message}", exc.hint) from None
            for key in dep.keys:
                if get_param(doc, key) is MISSING:
                    raise _error(f"{where}: '{key}' is not in '{dep.file}'.",
                                 f"Add it to {dep.file}, or remove it from the stage.")


def stage_target(target: str) -> str:
    """A stage named as in DVC, `dvx.yaml:NAME` (or `./dvx.yaml:NAME`), as its plain NAME;
    any other target as given. A stage name has no ':', so nothing else is read this way."""
    file, colon, name = target.rpartition(":")
    if not colon or not name or posixpath.basename(file) != PIPELINE_FILE:
        return target
    if file not in (PIPELINE_FILE, f"./{PIPELINE_FILE}"):
        raise UsageError(f"'{target}': dvx reads one {PIPELINE_FILE}, at the repository root, "
                         f"not '{file}'.", f"Name the stage as {name} or {PIPELINE_FILE}:{name}.")
    return name


def outputs_sent_to(repo: Repo, remote: str) -> list[str]:
    """The outputs that dvx.yaml, or dvx.lock (which records it when the stage runs), sends to
    the remote `remote` (`remote:`), as "PATH (stage 'NAME')". A file that cannot be read is
    passed over: this serves a warning, which must not fail the command it follows."""
    named: dict[str, None] = {}
    with contextlib.suppress(DvxError):
        pipeline = load_pipeline(repo)
        for stage in pipeline.stages if pipeline is not None else ():
            named.update({f"{o.path} (stage '{stage.name}')": None for o in stage.outs
                          if o.remote == remote})
    with contextlib.suppress(DvxError):
        named.update({f"{o.path} (stage '{o.stage}')": None for o in pipeline_outputs(repo)
                      if o.remote == remote})
    return list(named)
