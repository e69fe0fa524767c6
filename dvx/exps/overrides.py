"""`-S [FILE:]KEY=VALUE`: set a param in a params file before an experiment runs. YAML files
are edited in round-trip mode (comments, layout and the text of other params, quotes included,
kept), TOML files through tomlkit (comments, order, quoting and line ends kept; a date or
time set where the file has one stays one; TOML has no null, nor integers beyond 64 bits, so
those are refused), JSON files edited in place (every other value's text, the
indents and the order kept; infinity and NaN, which JSON has no words for, refused); VALUE
is read as YAML 1.2 (core schema: `1e-3` a number, `true` a boolean, `no` a string, `[1, 2]`
a list), as DVC's override grammar reads it, and written so that a YAML 1.1 reader (PyYAML, in a
stage) reads the same value.
KEY must be in the file already (a mistyped name is refused, as in DVC); `[FILE:]+KEY=VALUE`
adds it. A list element is named by its index (`layers.0`, or `layers[0]` as in `${}`), and
must exist."""

from __future__ import annotations

import dataclasses
import io
import json
import os
import posixpath
import stat
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import yaml

from dvx import fsutil
from dvx.errors import ConflictError, PathError, UsageError
from dvx.exps import json_in_place, toml_in_place, yaml_in_place
from dvx.lockfile import PIPELINE_FILE
from dvx.logs import get_logger
from dvx.ops.commit import refuse_if_behind
from dvx.ops.data_places import ignored_by_git
from dvx.ops.manage import linked_object, unprotect_file
from dvx.ops.status import NOT_PULLED, OUTDATED, OutputStatus, output_status
from dvx.outputs import (
    DeclaringStage,
    Output,
    all_outputs,
    load_tree,
    placing_pointer_version,
)
from dvx.paths import (
    check_no_symlinked_parent,
    check_relpath,
    for_command,
    from_here,
    overlaps,
    repo_relpath,
)
from dvx.pipeline.graph import load_dag
from dvx.pipeline.interpolate import parse_reference
from dvx.pipeline.lookups import ParamLookup
from dvx.pipeline.params import (
    DEFAULT_PARAMS_FILE,
    MISSING,
    check_params_file_name,
    find_param,
    is_param_name,
    key_named,
    load_json,
    params_file_bytes,
)
from dvx.pipeline.spec import (
    ParamsSet,
    Stage,
    definition_lookups,
    files_read_as_params,
    stages_declaring,
)
from dvx.repo import Repo
from dvx.scm import git_add_command, ignores_case
from dvx.syncstate import Synced
from dvx.textfile import as_written, encode_like, plain_text, with_bom_like
from dvx.yamlio import (
    DuplicateKeyError,
    UnwritableValueError,
    check_values,
    has_conflict_markers,
    safe_dumper,
    strict_loader,
)

log = get_logger(__name__)


@dataclass(frozen=True)
class Override:
    file: str  # repository-relative (typed relative to the current folder)
    key: str  # dotted
    value: Any
    add: bool = False  # `+KEY=VALUE`: the key may be new
    typed: str = ""  # `file` as named from the current folder, where a hint is pasted

    def __str__(self) -> str:
        return f"{self.file}:{self.key}={json.dumps(self.value)}"

    def setting(self, key: str) -> str:
        """`key` as -S names it in this override's file, typed where the user is: the key
        alone for the params.yaml there (-S's default), else FILE:KEY."""
        name = self.typed or self.file
        return key if name == DEFAULT_PARAMS_FILE else f"{name}:{key}"


def parse(text: str, root: str) -> Override:
    """`text` as typed in the current folder: its FILE (params.yaml there by default) is read
    from there, as every path given to dvx is, and must be inside the repository at `root`."""
    target, sep, raw = text.partition("=")
    if not sep or not target:
        raise UsageError(f"-S {text!r}: expected [FILE:]KEY=VALUE, e.g. -S train.lr=0.01.")
    file, colon, key = target.rpartition(":")
    if target.startswith(("++", "~")) or key.startswith(("++", "~")):
        raise UsageError(f"-S {text!r}: the override forms '++KEY' and '~KEY' are not "
                         "supported.", "Set a param the file has with [FILE:]KEY=VALUE, or add "
                                       "a new one with [FILE:]+KEY=VALUE.")
    # `FILE:+KEY` as DVC writes it, and `+FILE:KEY`
    add = key.startswith("+") or file.startswith("+")
    key = key.removeprefix("+")
    file = file.removeprefix("+")
    if not colon:
        file = DEFAULT_PARAMS_FILE
    key = _dotted(text, key)
    if not is_param_name(key):
        raise UsageError(f"-S {text!r}: {key!r} is not a dotted param name.")
    file = _from_here(root, file, text)
    check_params_file_name(file, f"-S {text}")
    _refuse_the_pipeline_file(root, file, text)
    import yaml

    try:
        value = yaml.load(raw, Loader=strict_loader()) if raw.strip() else ""
        check_values(value)
    except (yaml.YAMLError, DuplicateKeyError, UnwritableValueError):
        raise UsageError(f"-S {text!r}: the value {raw!r} is not valid YAML.",
                         "Quote a string that YAML would misread: -S 'key=\"[x\"'.") from None
    if not _is_plain_data(value):
        raise UsageError(f"-S {text!r}: the value {raw!r} is not plain data: a param is a "
                         "string, number, boolean or null, or a list or mapping of them with "
                         "string keys.",
                         "Drop the YAML tag (!!timestamp, !!set, !!binary...) or quote the "
                         "value to set a string; quote a key that is not a string: {'1': x}.")
    return Override(file, key, value, add, from_here(root, file))


def _from_here(root: str, file: str, text: str) -> str:
    """FILE of the -S `text`, named from the current folder, as a repository path."""
    if not file:
        raise UsageError(f"-S {text!r}: {file!r} is not a params file name.")
    rel = repo_relpath(root, file)
    check_relpath(rel, "params file")
    return rel


def _refuse_the_pipeline_file(root: str, file: str, text: str) -> None:
    """dvx.yaml holds the stages, not params: an edit of it changes what runs (a command, a
    dependency), which the run would take for the experiment's param. In any letter case
    where the workspace ignores case (`ignores_case`): DVX.yaml is dvx.yaml there."""
    if _same_path(root, file, PIPELINE_FILE):
        raise UsageError(f"-S {text!r}: {PIPELINE_FILE} is the pipeline, not a params file; "
                         "-S sets params that stages read, never the stages themselves.",
                         f"Edit {PIPELINE_FILE} and commit it, or keep the value in a params "
                         f"file a stage declares (params.yaml) and read it in {PIPELINE_FILE} "
                         "with `${}`.")


def _same_path(root: str, a: str, b: str) -> bool:
    """Are the repository paths `a` and `b` one file in the workspace at `root`: equal, or
    equal but for letter case where it ignores case."""
    return a == b or (a.casefold() == b.casefold() and ignores_case(root))


def rooted(text: str, root: str) -> str:
    """The -S `text` (`parse` has read it) as typed at the top of the repository at `root`:
    what a queued run, which runs there, is given; `text` itself where it names the same
    file from there (typed at the top, say), so that the run names it as typed."""
    change = parse(text, root)
    target, _, raw = text.partition("=")
    file, colon, key = target.rpartition(":")
    typed = file.removeprefix("+") if colon else DEFAULT_PARAMS_FILE
    if posixpath.normpath(typed) == change.file:
        return text
    return f"{change.file}:{'+' if change.add else ''}{key.removeprefix('+')}={raw}"


def _is_plain_data(value: Any) -> bool:
    """Whether `value` is what JSON and a YAML 1.1 reader hold alike; YAML tags make dates,
    sets, bytes and pairs, and a flow mapping can have keys that are not strings."""
    if isinstance(value, dict):
        return all(isinstance(key, str) and _is_plain_data(item) for key, item in value.items())
    if isinstance(value, list):
        return all(_is_plain_data(item) for item in value)
    return value is None or isinstance(value, (str, int, float))  # bool is an int


def as_set_again(text: str) -> str:
    """The -S `text` ([FILE:][+]KEY=VALUE, as `parse` reads it) once the workspace holds it:
    a param it added (`+KEY`, `FILE:+KEY`, `+FILE:KEY`) is there now, so it is set, as
    `FILE:KEY=VALUE` would (adding it again is refused); anything else is as typed."""
    target, sep, raw = text.partition("=")
    file, colon, key = target.rpartition(":")
    if not sep or not (key.startswith("+") or file.startswith("+")) \
            or target.startswith("++") or key.startswith("++"):
        return text
    return f"{file.removeprefix('+')}{colon}{key.removeprefix('+')}={raw}"


def _dotted(text: str, key: str) -> str:
    """`key` with list indexes written as in `${}` (`layers[0]`) in the dotted form params
    keys use (`layers.0`)."""
    if "[" not in key and "]" not in key:
        return key
    try:
        return ".".join(str(part) for part in parse_reference(key))
    except ValueError:
        raise UsageError(f"-S {text!r}: {key!r} is not a dotted param name.",
                         "Name a list element by its index, as in train.layers.0 (or "
                         "train.layers[0]).") from None


def warn_undeclared(repo: Repo, overrides: list[Override], targets: tuple[str, ...] = (),
                    again: Callable[[tuple[str, ...]], str] | None = None) -> None:
    """Warn of each override that no stage of a run of `targets` declares (`undeclared`):
    setting it runs no stage again, so a stage that reads it anyway keeps results made with
    the old value, which the experiment then records beside the new one. DVC sets it
    without a word; it is not refused, as a run of other params may set it on purpose.
    Where a stage the run leaves out declares or `${}`-reads it, that stage is named with
    the run that includes it: `again` gives that command for a run of the stages it is
    given."""
    missing = undeclared(repo, overrides, targets)
    if not missing:
        return
    wdirs = _wdirs_of_run(repo, targets)
    for override in missing:
        named = override.setting(override.key)  # -S names its file from here
        outside = _reading_outside_run(repo, override, targets)
        if outside:
            run = f"`{again((*targets, *outside))}`" if again else \
                "`dvx exp run` with them among its stage names"
            hint = (f"{_stages_named(outside)}, which this run leaves out, "
                    f"{'reads' if len(outside) == 1 else 'read'} it: run "
                    f"{'it' if len(outside) == 1 else 'them'} too, with {run}, or every "
                    "stage, with no stage names.")
        else:
            listed = f"`{_declaration(override, wdirs[0])}`" if len(wdirs) == 1 else \
                ", ".join(f"`{_declaration(override, wdir)}` in a stage "
                          f"{f'with wdir: {wdir}' if wdir else 'at the top'}"
                          for wdir in wdirs)
            hint = (f"If a stage reads it, declare it there ({listed}), so that a change of "
                    "it runs the stage.")
        log.warning("WARNING: -S %s sets a param that no stage of this run declares (under "
                    "`params:` or as a dependency in %s, nor in a `${}` a run reads (a "
                    "`desc` or a plot's `title` is not one)): no stage runs "
                    "again for it, so the experiment's results may not reflect it. %s",
                    named, PIPELINE_FILE, hint)


def _stages_named(names: list[str]) -> str:
    quoted = [f"'{name}'" for name in names]
    return f"Stage {quoted[0]}" if len(quoted) == 1 else \
        f"Stages {', '.join(quoted[:-1])} and {quoted[-1]}"


def _reading_outside_run(repo: Repo, override: Override, targets: tuple[str, ...]
                         ) -> list[str]:
    """The stages a run of `targets` leaves out that declare the param `override` sets or
    look it up with `${}` (`_reads`), in the pipeline's order: a foreach or matrix stage
    by its group's name where all of its stages do, as a target names them all."""
    dag = load_dag(repo)
    if dag is None or not targets:
        return []
    run = set(dag.select(targets, False, False))
    lookups = definition_lookups(repo)
    reading = [name for name in dag.order() if name not in run
               and _reads(dag.stages[name], override, lookups)]
    named = []
    for name in reading:
        group = dag.stages[name].group
        whole = group is not None and all(
            other in reading for other, stage in dag.stages.items() if stage.group == group)
        named.append(group if whole and group is not None else name)
    return list(dict.fromkeys(named))


def _wdirs_of_run(repo: Repo, targets: tuple[str, ...]) -> list[str]:
    """The folders the stages of a run of `targets` run in ("" the top), each once."""
    dag = load_dag(repo)
    if dag is None:
        return [""]
    names = dag.select(targets, False, False)
    return list(dict.fromkeys(dag.stages[name].wdir for name in names)) or [""]


def _declaration(override: Override, wdir: str) -> str:
    """How a stage running in `wdir` declares the param `override` sets: its `params:`
    name their files from there."""
    file = posixpath.relpath(override.file, wdir) if wdir else override.file
    declared: list[Any] = [override.key] if file == DEFAULT_PARAMS_FILE \
        else [{file: [override.key]}]
    # YAML's own writing, so that a key read as another type (`1`, `null`) or holding a `,`
    # is quoted and the line works as pasted
    written = yaml.dump({"params": declared}, Dumper=safe_dumper(), default_flow_style=True,
                        width=float("inf"), allow_unicode=True)
    return written.strip()[1:-1]


def undeclared(repo: Repo, overrides: list[Override], targets: tuple[str, ...] = ()
               ) -> list[Override]:
    """Those of `overrides` that no stage of a run of `targets` (with the stages they depend
    on; every stage, none named) reads (`_reads`); none without a dvx.yaml (the run refuses
    that)."""
    dag = load_dag(repo)
    if dag is None:
        return []
    stages = [dag.stages[name] for name in dag.select(targets, False, False)]
    lookups = definition_lookups(repo)
    return [override for override in overrides
            if not any(_reads(stage, override, lookups) for stage in stages)]


def _reads(stage: Stage, override: Override, lookups: dict[str, list[ParamLookup]]) -> bool:
    """Does `stage` declare the param `override` sets (`_declares`), or its definition look
    it up with `${}` (`lookups`, by definition name), in the file it sets: a change of it
    then runs the stage again. A `${}` of another stage does not: it changes that stage
    alone; nor does one of the same key in another file (params.yaml's `k` for a `${k}`
    that a `vars` file gives), nor a foreach or matrix stage's `${item}` or `${key}`."""
    looked_up = lookups.get(stage.group or stage.name, [])
    return _declares(stage, override) or any(
        lookup.file == override.file and _related(override.key, lookup.key)
        for lookup in looked_up)


def _declares(stage: Stage, override: Override) -> bool:
    if any(overlaps(dep, override.file) for dep in stage.deps):
        return True
    return any(param.file == override.file
               and (not param.keys or any(_related(override.key, key) for key in param.keys))
               for param in stage.params)


def _related(key: str, other: str) -> bool:
    """Whether the dotted keys name the same value or one holds the other."""
    return key == other or key.startswith(other + ".") or other.startswith(key + ".")


def check(repo: Repo, overrides: list[Override]) -> None:
    """Refuse the overrides that `apply` would refuse (a queued run's, when it is queued),
    those a stage would make again (`refuse_stage_outputs`) and those no experiment could
    record (`refuse_ignored_by_git`), without writing anything."""
    refuse_stage_outputs(repo, overrides)
    params_set = apply(repo, overrides, write=False)
    refuse_stage_outputs(repo, overrides, params_set)
    refuse_ignored_by_git(repo, overrides)


def refuse_stage_outputs(repo: Repo, overrides: list[Override],
                         params_set: ParamsSet | None = None) -> None:
    """Refuse -S into (a folder that is) an output a stage of dvx.yaml declares, whether the
    run's targets hold that stage or not: dvx.lock records the file as that stage's result,
    so a run of it (this one or a later one) makes it again, or restores it from the
    run-cache, and the value set would be gone while the experiment ran as if it had been
    set; a frozen stage's would be recorded as the stage's result it is not. What the stage
    reads is the thing to set. Each stage is read on its own (`stages_declaring`), its `${}`
    resolved with the params files as `params_set` holds them (what the run's -S sets, as
    the run reads them: an output `${}` names may move onto the file); in any letter case
    where the workspace ignores case."""
    declared = stages_declaring(repo, params_set).outputs
    for override in overrides:
        for out, stage in declared.items():
            if _overlapping(repo.root, out, override.file):
                raise UsageError(*_set_in_stage_output(override.file, out, stage,
                                                       moved=params_set is not None))


def _overlapping(root: str, a: str, b: str) -> bool:
    """`overlaps`, in any letter case where the workspace at `root` ignores case."""
    return overlaps(a, b) or (overlaps(a.casefold(), b.casefold()) and ignores_case(root))


def _set_in_stage_output(file: str, out: str, stage: DeclaringStage, moved: bool = False
                         ) -> tuple[str, str]:
    """The refusal of -S into `file`, at or inside `out`, an output of `stage`, and its hint;
    `moved`: `out` is where the params -S sets put that output."""
    inside = "" if out == file else f"inside '{out}', "
    if moved:
        inside += "which the params -S sets make (through `${}`) "
    if stage.frozen:
        why = (f"of the frozen stage '{stage.name}' in {PIPELINE_FILE}: the experiment would "
               "record the value set as a result of that stage, which it never made, and its "
               "next run once unfrozen makes it again")
    else:
        why = (f"of stage '{stage.name}' in {PIPELINE_FILE}: a run of that stage (this one, or "
               "a later one) makes it again, or restores it from the cache, so the value set "
               "would be lost")
    return (f"-S would set params in '{file}', {inside}an output {why}. Nothing was written.",
            f"Change what stage '{stage.name}' reads to make it instead (its params or "
            "dependencies), or keep the value in a params file no stage writes.")


def refuse_ignored_by_git(repo: Repo, overrides: list[Override]) -> None:
    """Refuse -S into a params file Git ignores and does not track (a machine's own
    `local.yaml`): an experiment's commit holds only what Git would commit, so the value set
    would be in no experiment (nor in a queued run's snapshot, which would find no such
    file), while its metrics would. A file dvx tracks (`dvx add`, a stage's output) is
    recorded by its pointer or dvx.lock, and one staged with `git add -f` is tracked."""
    files = sorted({o.file for o in overrides})
    outputs = [output.path for output in all_outputs(repo)]
    untracked_data = [f for f in files if not any(overlaps(path, f) for path in outputs)]
    ignored = ignored_by_git(repo, untracked_data)
    if ignored:
        file, rule = next(iter(ignored.items()))
        raise UsageError(
            f"-S would set params in '{file}', which Git ignores (rule {rule}) and does not "
            "track: an experiment records only what Git would commit, so it would hold the "
            "metrics of the value set but not the value. Nothing was written.",
            f"Let Git track it (`{git_add_command(repo.root, [file], force=True)}`, or remove "
            "that rule), or keep the params experiments change in a file Git tracks.")


def apply(repo: Repo, overrides: list[Override], write: bool = True) -> dict[str, bytes]:
    """Set the params `overrides` name in their files (`write`: else only what would be
    written is made, and refused where it would be); each file's bytes with them set."""
    by_file: dict[str, list[Override]] = {}
    for override in overrides:
        by_file.setdefault(override.file, []).append(override)
    tracked = [output.path for output in all_outputs(repo)]
    for file in by_file:
        # Written in place, a link would be replaced by the file it leads to, maybe from
        # outside the repository: refused, but for a tracked file the cache links into the
        # workspace, which gets a copy of its own first, as `dvx unprotect` gives it.
        check_no_symlinked_parent(repo.root, file)
        linked = _linked_from_cache(repo, file, tracked)
        if linked is not None:
            if write or not os.path.exists(linked):
                unprotect_file(repo, file)  # an object gone is refused, before any write
            continue
        if write and _hard_linked_from_cache(repo, file, tracked):
            unprotect_file(repo, file)  # its own copy, not the object's read-only mode
        if os.path.islink(repo.abspath(file)):
            target = os.readlink(repo.abspath(file))
            raise PathError(f"-S would change the params file '{file}', which is a symbolic "
                            f"link (to '{target}'): dvx never writes through a link, since "
                            "writing it in place would replace the link by a file.",
                            "Set the params in the file the link leads to, named as the "
                            "pipeline names it, or replace the link with that file.")
        if not os.path.lexists(repo.abspath(file)):  # any other file: params_file_bytes
            _refuse_data_not_checked_out(repo, file)
            raise UsageError(f"-S names the params file '{file}', which does not exist.",
                             "Set params of an existing YAML, JSON or TOML file, named from the "
                             "current folder (params.yaml there when no file is named; from a "
                             "subfolder, `-S ../params.yaml:KEY=VALUE` names the top one).")
    edited = {}
    read_as_params = files_read_as_params(repo)
    for file, changes in by_file.items():
        full = repo.abspath(file)
        data = params_file_bytes(repo.root, file, whole=True)
        if file.lower().endswith(".toml"):
            edited[file] = _edit_toml(repo.root, full, data, changes, write)
        elif file.lower().endswith(".json"):
            edited[file] = _edit_json(full, data, changes, write)
        else:
            strict = read_as_params is None or any(
                _same_path(repo.root, file, params) for params in read_as_params)
            edited[file] = _edit_yaml(full, data, changes, write, strict)
    return edited


def _refuse_data_not_checked_out(repo: Repo, file: str) -> None:
    """Refuse -S into a params file dvx tracks that this workspace lacks (a clone that has
    not pulled it, or pulled other files of its folder): it exists, in the cache or on the
    remote, and a checkout places it. Decided from what dvx records (the output's status
    and its directory's manifest), never from what the workspace holds: a name the manifest
    lacks is no file dvx tracks, whatever was pulled."""
    if os.path.lexists(repo.abspath(file)):  # a folder, say: no data of its own to place
        return
    for output in all_outputs(repo):
        if output.path != file and not file.startswith(output.path + "/"):
            continue
        placing = _command_placing(repo, output, output_status(repo, output), file)
        if placing is None:
            continue
        recorded = f"recorded in {output.recorded_in}"
        if placing == LIST_UNKNOWN:
            raise UsageError(
                f"-S names the params file '{file}', which may be a file of the folder "
                f"'{output.path}' dvx tracks ({recorded}), not pulled here: which files it "
                "holds is known once its list of files is fetched.",
                f"Run `dvx pull {for_command(repo.root, output.path)}` to place it, then run "
                "the experiment again.")
        raise UsageError(f"-S names the params file '{file}', which dvx tracks ({recorded}) "
                         "but which is not checked out here yet.",
                         f"Run `dvx {placing} {for_command(repo.root, file)}` to place it, "
                         "then run the experiment again.")


LIST_UNKNOWN = "unknown"  # a folder never pulled whose manifest the cache lacks


def _command_placing(repo: Repo, output: Output, status: OutputStatus, file: str
                     ) -> str | None:
    """The command that places `file`, the output `output` or a file of its directory
    that dvx records and never placed here (NOT_PULLED, or among `status.not_pulled`):
    "checkout" when the cache holds it, else "pull"; LIST_UNKNOWN for a folder never pulled
    whose manifest the cache lacks; None if `file` is no such file."""
    if output.path == file:
        if status.workspace != NOT_PULLED:
            return None
        return "checkout" if status.in_cache else "pull"
    name = file[len(output.path) + 1:]
    if status.workspace != NOT_PULLED and name not in status.not_pulled:
        return None
    tree = load_tree(repo, output.pointer, output.recorded_in)
    if tree is None:
        return LIST_UNKNOWN
    entry = tree.get(name)
    if entry is None:
        return None
    return "checkout" if repo.cache.exists(entry.oid) else "pull"


def _linked_from_cache(repo: Repo, file: str, tracked: list[str]) -> str | None:
    """The cache object `file` links to, if it is (inside) an output dvx tracks and a
    symbolic link into the cache: its data, linked there by `cache.type` symlink."""
    if not any(overlaps(path, file) for path in tracked):
        return None
    return linked_object(repo, repo.abspath(file))


def _hard_linked_from_cache(repo: Repo, file: str, tracked: list[str]) -> bool:
    """Is `file` (inside) an output dvx tracks (`tracked`) and a hard link of a cache object
    (cache.type hardlink): a file with more than one link, as `dvx unprotect` tells it."""
    if not any(overlaps(path, file) for path in tracked):
        return False
    try:
        st = os.lstat(repo.abspath(file))
    except OSError:
        return False
    return stat.S_ISREG(st.st_mode) and st.st_nlink > 1


@dataclass(frozen=True)
class Before:
    """The params files the overrides change, as they were before -S (for `restore`), and
    the pointers of the data tracked with `dvx add` that holds them, with Git's index entry
    for each ((mode, object id), None if it had none): repro records an input -S changed
    before its stages start, and a run refused before any started puts all of it back.
    `synced`: what the workspace was last synced to for each of that data, by its path (as
    repro names an input it records): put back with its pointer, or the next command would
    take the pointer put back for one Git moved. `modes`: the permissions of each of those
    files, put back with it (None: a link, or no file)."""
    files: dict[str, bytes]
    pointers: dict[str, bytes]
    index: dict[str, tuple[str, str] | None]
    synced: dict[str, Synced | None] = dataclasses.field(default_factory=dict)
    modes: dict[str, int | None] = dataclasses.field(default_factory=dict)

    @property
    def data(self) -> tuple[str, ...]:
        return tuple(self.synced)


def contents(repo: Repo, overrides: list[Override]) -> Before:
    """The params files the overrides change, and the pointers holding them, as they are
    now (for `restore`)."""
    files = {file: params_file_bytes(repo.root, file, whole=True)
             for file in dict.fromkeys(o.file for o in overrides)}
    outputs = all_outputs(repo)
    holding = [output for output in outputs
               if output.stage is None and any(overlaps(output.path, f) for f in files)]
    pointers = {output.pointer_path: fsutil.read_regular(repo.abspath(output.pointer_path))
                for output in holding}
    entries = repo.git.index_entries(list(pointers)) if pointers and repo.git else {}
    tracked = [output.path for output in outputs]
    modes = {path: _mode_to_put_back(repo, path, tracked) for path in (*files, *pointers)}
    return Before(files, pointers, {path: entries.get(path) for path in pointers},
                  {output.path: repo.syncstate.get(output.path) for output in holding}, modes)


def _mode_to_put_back(repo: Repo, file: str, tracked: list[str]) -> int | None:
    """The permissions `restore` gives `file` back: its own, but the default (None) for a
    file of the data dvx tracks (`tracked`) that is a hard link of a cache object
    (cache.type hardlink), whose read-only mode is the object's, not the user's: put back,
    it is a copy of its own, writable as `dvx unprotect` makes it."""
    if _hard_linked_from_cache(repo, file, tracked):
        return None
    return fsutil.regular_file_mode(repo.abspath(file))


def restore(repo: Repo, before: Before) -> None:
    """Put back the params files, their pointers, what the workspace was synced to for
    their data and Git's index entries for those pointers as `before` read them, each file
    with the permissions it had."""
    for file, data in {**before.files, **before.pointers}.items():
        fsutil.rewrite(repo.abspath(file), data, mode=before.modes.get(file))
    for path, synced in before.synced.items():
        if synced is None:
            repo.syncstate.forget(path)
        else:
            repo.syncstate.record(path, synced)
    if before.synced:
        repo.syncstate.flush()
    if repo.git is not None and before.index:  # core.autostage staged the pointers
        repo.git.set_index_entries(before.index)


def _set(doc: Any, change: Override) -> None:
    found = find_param(doc, change.key)
    if found is not None:  # the value the pipeline reads by this name, whatever its keys
        _refuse_adding_what_exists(change)
        *steps, last = found[0]
        for step in steps:
            doc = doc[step]
        doc[last] = change.value
        return
    parts = change.key.split(".")
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        if isinstance(doc, list):
            index = _index(doc, change, parts, depth)
            if last:
                _refuse_adding_what_exists(change)
                doc[index] = change.value
            else:
                doc = doc[index]
            continue
        if not isinstance(doc, dict):
            raise UsageError(f"-S {change.file}:{change.key}: '{'.'.join(parts[:depth])}' is "
                             f"not a mapping or a list in '{change.file}'.")
        key = _existing_key(doc, part)
        if key not in doc and not change.add:
            adding = change.setting(f"+{change.key}")
            raise UsageError(f"-S {change.file}:{change.key}: '{change.file}' has no param "
                             f"'{'.'.join(parts[:depth + 1])}'.",
                             f"Check the name; to add a new param, write -S '{adding}=...'.")
        if last:
            if change.add and key in doc:
                _refuse_adding_what_exists(change)
            doc[key] = change.value
        else:
            doc = doc.setdefault(key, {})


def _existing_key(mapping: dict[Any, Any], part: str) -> Any:
    """The key of `mapping` that `part` names (YAML's `1:` by '1'), so that its value is set
    in place of adding the key again; `part` itself when it names none."""
    key = key_named(mapping, part)
    return part if key is MISSING else key


def _index(items: list[Any], change: Override, parts: list[str], depth: int) -> int:
    """The element of the list `items` (at `parts[:depth]`) that `parts[depth]` names by its
    index; a list never grows or shrinks by -S (set the whole list for that)."""
    where, part = ".".join(parts[:depth]), parts[depth]
    if not part.isdigit():
        raise UsageError(f"-S {change.file}:{change.key}: '{where}' is a list in "
                         f"'{change.file}'; name an element by its index, as {where}.0.")
    if int(part) >= len(items):
        whole = change.setting(where)  # the whole list, in the same file
        raise UsageError(f"-S {change.file}:{change.key}: '{where}' has {len(items)} "
                         f"element(s) in '{change.file}', so there is no element {part}.",
                         f"Set an element it has (0 to {len(items) - 1}), or the whole list: "
                         f"-S '{whole}=[...]'." if items else
                         f"Set the whole list: -S '{whole}=[...]'.")
    return int(part)


def _refuse_adding_what_exists(change: Override) -> None:
    if change.add:
        raise UsageError(f"-S {change.file}:+{change.key}: '{change.file}' has that "
                         "param already.", "Drop the '+' to set it.")


def _edit_yaml(full: str, data: bytes, changes: list[Override], write: bool,
               read_as_params: bool) -> bytes:
    """Set `changes` in the YAML file `full`, which holds `data`. Each value the file has is
    replaced in its own text, so every other byte stays; where that cannot be done (a param
    added, a value written in block style replaced, a multi-line string), the document goes
    through ruamel's round trip, which keeps comments and layout but may respell values
    (`1_000.5`, `~`, long floats). Either way the result is read back by `read`: every param
    -S does not set must read as before, or nothing is written (`yaml_in_place`); in a
    config read only as a dependency, a value set under an anchor is read so by each alias
    and merge of it too."""
    from dvx.pipeline.editor import guess_indent

    file = changes[0].file
    yaml = yaml_in_place.round_tripper()
    doc: Any = {}
    try:
        text = plain_text(data)
        mapping, offset = guess_indent(text)  # the file's own indents, not ruamel's
        yaml.indent(mapping=mapping, sequence=offset + 2, offset=offset)
        doc = yaml.load(text) or {}
    except Exception as exc:  # ruamel's errors share no base class with a useful message
        raise _unreadable(file, data, exc) from None
    if not isinstance(doc, dict):
        raise UsageError(f"'{file}' is not a mapping of params.")
    for change in changes:
        _set(doc, dataclasses.replace(change, value=yaml_in_place.for_yaml_1_1(change.value)))
    read = yaml_in_place.reader(file, read_as_params)
    expected = yaml_in_place.read_before(read, text, file) or {}
    if not read_as_params:
        expected = yaml_in_place.expected_in_dependency(text, file, changes) or {}
    for change in changes:
        if read_as_params or find_param(expected, change.key) is None:
            _set(expected, change)
    # In place, in the text as written: each line keeps its own end, in a file mixing them
    in_place = yaml_in_place.set_in_place(as_written(data), changes)
    if in_place is not None and yaml_in_place.reads_as(in_place, expected, read):
        edited = with_bom_like(in_place, data)
    else:
        out = io.StringIO()
        yaml.dump(doc, out)
        if not read_as_params and not yaml_in_place.reads_as(out.getvalue(), expected, read):
            yaml_in_place.refuse_anchored_rewritten(text, file, changes)
        yaml_in_place.refuse_respelled(file, changes, out.getvalue(), expected, read)
        edited = encode_like(out.getvalue(), data)
    if write:
        _write(full, edited)
    return edited


def _edit_json(full: str, data: bytes, changes: list[Override], write: bool) -> bytes:
    """Set `changes` in the JSON file `full`, which holds `data`, each value's text replaced (or
    a key added) in place, so every other byte stays (`json_in_place`)."""
    doc: Any = {}
    try:
        doc = load_json(plain_text(data))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError, DuplicateKeyError,
            UnwritableValueError) as exc:
        raise _unreadable(changes[0].file, data, exc) from None
    if not isinstance(doc, dict):
        raise UsageError(f"'{changes[0].file}' is not a mapping of params.")
    text = as_written(data)
    for change in changes:
        _set(doc, change)
        text = json_in_place.set_in_place(text, doc, change.file, change.key)
    json_in_place.refuse_unlike(changes[0].file, [change.key for change in changes],
                                text, doc)
    edited = with_bom_like(text, data)
    if write:
        _write(full, edited)
    return edited


def _edit_toml(root: str, full: str, data: bytes, changes: list[Override], write: bool
               ) -> bytes:
    """Set `changes` in the TOML file `full` of the repository at `root`, which holds `data`,
    each value replaced or added through tomlkit, so every other line stays as written; the
    result is read back as the pipeline reads it, and refused unless each param -S does not
    set reads as before (`toml_in_place`)."""
    from tomlkit.exceptions import TOMLKitError

    file = changes[0].file
    try:
        written = as_written(data)
    except UnicodeDecodeError as exc:
        raise _unreadable(file, data, exc) from None
    toml_in_place.refuse_unwritable(root, file, changes)
    # as the run reads the file: a byte order mark too, which TOML does not allow
    expected = toml_in_place.read_before(data.decode("utf-8"), file)
    doc = toml_in_place.document(written, file)
    for change in changes:
        change = dataclasses.replace(change, value=toml_in_place.in_toml_types(doc, change))
        _set(expected, change)
        try:
            _set(doc, dataclasses.replace(change, value=toml_in_place.as_toml(doc, change)))
        except TOMLKitError as exc:
            raise UsageError(f"-S cannot set {change.key} in '{file}': {exc}. Nothing was "
                             "written.", f"Set the params in '{file}' by hand.") from None
    text = toml_in_place.dumps(doc, written)
    toml_in_place.refuse_unlike(file, changes, text, expected)
    edited = with_bom_like(text, data)
    if write:
        _write(full, edited)
    return edited


def _unreadable(file: str, data: bytes, exc: BaseException) -> UsageError:
    conflicted = has_conflict_markers(data)
    problem = getattr(exc, "problem", None)  # a YAML error's own words, without its context
    why = "it still holds Git's conflict markers" if conflicted else str(problem) if problem \
        else (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return UsageError(f"-S cannot set params in '{file}': {why}. Nothing was written.",
                      "Fix the file (resolve the merge, if any) and run again.")


def _write(full: str, data: bytes) -> None:
    os.makedirs(os.path.dirname(full), exist_ok=True)
    fsutil.rewrite(full, data)  # an executable or private params file stays so


def refuse_behind(repo: Repo, changes: list[Override], again: str = "exp run") -> None:
    """Before -S writes anything: a params file tracked with `dvx add` whose pointer moved
    in Git since the workspace was synced is refused, as `repro` refuses such an input. Once
    written, the file would hold data neither side has, and the refusal would take the -S
    edit for the user's own change to keep. `again`: the command as typed (without `dvx`),
    which the refusal says to run again."""
    files = {change.file for change in changes}
    for output in all_outputs(repo):
        if output.stage is not None or not any(overlaps(output.path, f) for f in files):
            continue
        status = output_status(repo, output)
        if status.pointer_moved and status.workspace == OUTDATED \
                and status.pointer_oid != status.synced_oid:
            typed = for_command(repo.root, output.path)
            has_remote = repo.has_default_remote
            raise ConflictError(
                f"-S would set params in '{output.path}', whose pointer moved "
                f"{status.moved_since_synced} (it now names "
                f"{status.pointer_oid}) while its data is not checked out: the workspace "
                f"still holds {status.synced_oid}, the version before. Nothing was written.",
                f"{placing_pointer_version(typed, status.in_cache, has_remote)}, then run "
                f"`dvx {again}` again.")
        refuse_if_behind(repo.root, status, force=False, own_force=False, command=again)

