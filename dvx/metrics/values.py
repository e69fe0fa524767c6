"""Params and metrics values: read per revision, flattened to dotted keys, shown and diffed.

A file that cannot be read (missing, malformed, too large) is one error for that file and
revision; the others are still shown. The JSON documents follow DVC's shapes (see
docs/metrics.md), so scripts written for `dvc metrics show --json` keep working.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from dvx.errors import DvxError, MergeConflictError, OtherAlgorithmError, UsageError
from dvx.history import Scope
from dvx.metrics.declared import Declared, declared
from dvx.metrics.revisions import Reader, Revision, diff_pair
from dvx.pipeline.params import (
    DEFAULT_PARAMS_FILE,
    KeyPath,
    find_param,
    normalize,
    parse_params,
    same_value,
)
from dvx.repo import Repo
from dvx.wording import named_list
from dvx.yamlio import DEFAULT_MAX_BYTES, MAX_INT_DIGITS

PARAMS, METRICS = "params", "metrics"
MISSING_TYPE, INVALID_TYPE = "missing", "invalid"


@dataclass(frozen=True)
class Shadowed:
    """A value of a file left out of its flat view: its dotted name names another one (as
    `a.b: 9` beside `a: {b: 2}`), which is the value the pipeline reads by that name."""
    name: str
    named: KeyPath  # the keys of the value the name names
    left_out: KeyPath

    @property
    def message(self) -> str:
        named, left_out = _keys(self.named), _keys(self.left_out)
        return (f"two values are named '{self.name}' ({named} and {left_out}): dvx reads "
                f"{named} by that name, in the pipeline as here, and leaves {left_out} out. "
                f"Rename {left_out} so that each value has a name of its own.")


def _keys(path: KeyPath) -> str:
    return " > ".join(f"'{key}'" if isinstance(key, str) else str(key) for key in path)


@dataclass(frozen=True)
class Flat:
    values: dict[str, Any]  # dotted name -> value
    shadowed: list[Shadowed] = field(default_factory=list)


def flatten(doc: dict[str, Any]) -> Flat:
    """Nested mappings -> dotted names; lists and scalars are values. Where two values have
    one name, the one `find_param` names is kept, whichever comes first in the file, and the
    other is said to be shadowed."""
    flat = Flat({})
    _flatten_into(flat, doc, doc, "", (), False)
    return flat


def _flatten_into(flat: Flat, doc: dict[str, Any], mapping: dict[str, Any], prefix: str,
                  path: tuple[str, ...], dotted: bool) -> None:
    """Adds the values of `mapping` (at `path` in `doc`) to `flat`. A name of plain keys
    names its own value (it is the first way find_param tries); only one with a key with a
    dot on its path (`dotted`) is asked where it leads."""
    for key, value in mapping.items():
        name, has_dot = prefix + key, dotted or "." in key
        if isinstance(value, dict) and value:
            _flatten_into(flat, doc, value, name + ".", (*path, key), has_dot)
        elif not has_dot:
            flat.values[name] = value
        else:
            found = find_param(doc, name)  # never None: (*path, key) is one way there
            if found is None or found[0] == (*path, key):
                flat.values[name] = value
            else:
                flat.shadowed.append(Shadowed(name, found[0], (*path, key)))


def shadowing_warnings(found: Iterable[tuple[str, str, Shadowed]]) -> list[str]:
    """One line per file and value left out of its flat view, from (revision label, file,
    shadowed) triples, naming the revisions where it is left out."""
    where: dict[tuple[str, Shadowed], list[str]] = {}
    for label, path, shadowed in found:
        labels = where.setdefault((path, shadowed), [])
        if label not in labels:  # `diff A A` reads each file twice
            labels.append(label)
    return [f"{path} at {named_list(labels, most=3)}: {shadowed.message}"
            for (path, shadowed), labels in where.items()]


@dataclass(frozen=True)
class FileValues:
    """One file of one revision: its values (nested, as written), or why there are none."""
    path: str
    data: dict[str, Any] | None = None
    error: str | None = None
    error_type: str | None = None  # MISSING_TYPE or INVALID_TYPE
    # missing though it may be there: dvx tracks it as data and the workspace has not placed
    # it, or the commit's dvx.lock or dvx.yaml cannot be read (see Reader.why_absent and
    # _read_undeclared); never read as an empty file
    may_exist: bool = False
    flat: Flat = field(default_factory=lambda: Flat({}))  # data, flattened

    @classmethod
    def read(cls, path: str, data: dict[str, Any]) -> FileValues:
        return cls(path, data, flat=flatten(data))

    def to_json(self) -> dict[str, Any]:
        if self.data is not None:
            return {"data": self.data}
        return {"error": {"type": self.error_type, "msg": self.error}}


@dataclass
class RevisionValues:
    revision: Revision
    files: list[FileValues] = field(default_factory=list)
    error: str | None = None  # the revision's dvx.yaml could not be read
    param_deps: dict[str, list[str]] = field(default_factory=dict)  # see Declared
    undeclared: list[str] = field(default_factory=list)  # targets its dvx.yaml does not name


@dataclass
class ShowResult:
    kind: str  # PARAMS or METRICS
    revisions: list[RevisionValues]

    def to_json(self) -> dict[str, Any]:
        """{label: {"data": {path: {"data": {...}} | {"error": {...}}}, commit, ...}}"""
        doc: dict[str, Any] = {}
        for rev in self.revisions:
            entry: dict[str, Any] = {"data": {f.path: f.to_json() for f in rev.files}}
            if rev.error:
                entry["error"] = {"type": INVALID_TYPE, "msg": rev.error}
            if rev.revision.commit:
                entry.update(rev.revision.to_json())
            doc[rev.revision.label] = entry
        return doc

    @property
    def warnings(self) -> list[str]:
        return shadowing_warnings((rev.revision.label, f.path, s) for rev in self.revisions
                                  for f in rev.files for s in f.flat.shadowed)


def show(repo: Repo, kind: str, scope: Scope | None = None,
         targets: Iterable[str] = ()) -> ShowResult:
    """The params or metrics of each revision in `scope` (default: the workspace), limited
    to the files `targets` names (repo-relative) if any."""
    wanted = list(targets)
    with Reader(repo) as reader:
        revisions = reader.in_scope(scope or Scope())
        read = [read_revision(reader, r, kind, wanted) for r in revisions]
    refuse_targets_found_nowhere(kind, wanted, read)
    return ShowResult(kind, read)


def read_revision(reader: Reader, revision: Revision, kind: str,
                  targets: list[str] | None = None) -> RevisionValues:
    result = RevisionValues(revision)
    try:
        found = declared(lambda rel: reader.read(revision, rel, DEFAULT_MAX_BYTES),
                         reader.workspace_root(revision))
    except DvxError as exc:
        if revision.commit is None:
            raise  # the workspace's own dvx.yaml: the user can fix it now
        result.error = f"dvx.yaml: {exc.message}"
        found = Declared(params=_root_params(reader, revision) if kind == PARAMS else [])
    files = found.params if kind == PARAMS else found.metrics
    # Files named as targets are read even when this revision's dvx.yaml does not name them.
    result.undeclared = [t for t in targets or [] if t not in files]
    for path in [f for f in files if not targets or f in targets] + result.undeclared:
        result.files.append(read_values(reader, revision, path, kind))
    result.param_deps = found.param_deps
    return result


def _root_params(reader: Reader, revision: Revision) -> list[str]:
    """params.yaml at the root, if `revision` has it: a params file whatever its dvx.yaml
    declares."""
    try:
        data = reader.read(revision, DEFAULT_PARAMS_FILE, DEFAULT_MAX_BYTES)
    except DvxError:
        return [DEFAULT_PARAMS_FILE]  # its row says why it cannot be read
    return [] if data is None else [DEFAULT_PARAMS_FILE]


def _read_undeclared(reader: Reader, side: RevisionValues, other: RevisionValues,
                     kind: str) -> None:
    """When the dvx.yaml of `side` cannot be read, which files it declares is not known:
    read there too the files `other` has, so that one alike on both sides is no change, and
    one `side` lacks is not known to be removed (it may have been written elsewhere), never
    compared as empty."""
    if side.error is None:
        return
    have = {f.path for f in side.files}
    for path in [f.path for f in other.files if f.path not in have]:
        found = read_values(reader, side.revision, path, kind)
        if found.error_type == MISSING_TYPE and not found.may_exist:
            found = replace(found, error=f"{found.error}, and its dvx.yaml, which says which "
                                         f"{kind} files there are, cannot be read",
                            may_exist=True)
        side.files.append(found)


def refuse_targets_found_nowhere(kind: str, targets: list[str],
                                  revisions: list[RevisionValues]) -> None:
    """Refuse a target that no revision read has nor declares (a typo, most likely), as
    `plots show` refuses one: a row saying it is missing everywhere would pass for a result.
    A file missing in some revisions only, or declared where it is missing (its stage has
    not run), keeps its error rows."""
    for target in targets:
        if revisions and all(_found_nowhere(side, target) for side in revisions):
            raise UsageError(f"'{target}' is not in {_either(revisions)}, and no dvx.yaml "
                             f"there declares it as a {kind} file.",
                             "Check the path (a path is from the current directory), or name "
                             "a revision that has it.")


def _either(revisions: list[RevisionValues], most: int = 3) -> str:
    """'HEAD or the workspace'; 'v1, v2, v3 or 4 more'."""
    labels = list(dict.fromkeys("the workspace" if side.revision.commit is None
                                else side.revision.label for side in revisions))
    if len(labels) > most:
        return f"{', '.join(labels[:most])} or {len(labels) - most} more"
    return " or ".join([", ".join(labels[:-1]), labels[-1]] if len(labels) > 1 else labels)


def _found_nowhere(side: RevisionValues, target: str) -> bool:
    """Does `side` lack `target`, undeclared, with nothing else to say of it (no broken
    dvx.yaml that might declare it, no copy it may have after all)?"""
    return side.error is None and target in side.undeclared and any(
        f.path == target and f.error_type == MISSING_TYPE and not f.may_exist for f in side.files)


def read_values(reader: Reader, revision: Revision, path: str, kind: str) -> FileValues:
    """The values of `path` in `revision`."""
    what = "params file" if kind == PARAMS else "metrics file"
    try:
        data = reader.read(revision, path, DEFAULT_MAX_BYTES)
        if data is None:
            return _absent(reader, revision, path)
        return FileValues.read(path, normalize(parse_params(data, path, what,
                                                            reader.workspace_root(revision))))
    # with how to resolve it, the user can do it now: a merge, a setting of core.hash
    except (MergeConflictError, OtherAlgorithmError) as exc:
        return FileValues(path, error=str(exc), error_type=INVALID_TYPE)
    except DvxError as exc:
        return FileValues(path, error=exc.message, error_type=INVALID_TYPE)


def _absent(reader: Reader, revision: Revision, path: str) -> FileValues:
    """A file `revision` does not have: one it may have after all (see Reader.why_absent)
    says why, and is never read as empty."""
    where = "the workspace" if revision.commit is None else revision.label
    why = reader.why_absent(revision, path)
    if why is None:  # not written yet (its stage has not run), or added or removed
        return FileValues(path, error=f"no such file in {where}", error_type=MISSING_TYPE)
    return FileValues(path, error=f"no such file in {where}: {why}", error_type=MISSING_TYPE,
                      may_exist=True)


# -- diff ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Change:
    path: str
    key: str
    old: Any  # None when absent on that side
    new: Any

    @property
    def numbers(self) -> bool:
        return _is_number(self.old) and _is_number(self.new)

    @property
    def diff(self) -> float | int | None:
        """new - old, if both are numbers and it can be written (not a float overflowing to
        infinity, nor an integer longer than any file dvx reads may hold)."""
        if not self.numbers:
            return None
        try:
            return _finite(self.new - self.old)
        except OverflowError:  # a long integer against a float
            return None

    @property
    def rel(self) -> float | None:
        """The change relative to the old value (0.1 is +10%), if both are numbers."""
        if self.diff is None or self.old == 0:
            return None
        try:
            return _finite(self.diff / abs(self.old))
        except OverflowError:
            return None

    def to_json(self) -> dict[str, Any]:
        doc = {"old": self.old, "new": self.new}
        if self.numbers:
            doc["diff"] = self.diff
            doc["rel"] = self.rel
        return doc


@dataclass(frozen=True)
class FileError:
    path: str
    revision: str
    message: str


@dataclass
class DiffResult:
    kind: str
    a: Revision
    b: Revision
    changes: list[Change]
    errors: list[FileError]
    warnings: list[str] = field(default_factory=list)  # values left out (see Shadowed)

    def to_json(self) -> dict[str, Any]:
        """{path: {key: {"old", "new", "diff", "rel"}}}: DVC's shape, plus "rel"."""
        doc: dict[str, Any] = {}
        for change in self.changes:
            doc.setdefault(change.path, {})[change.key] = change.to_json()
        return doc


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


_INT_LIMIT = 10 ** MAX_INT_DIGITS


def _finite(number: float | int) -> float | int | None:
    """`number`, unless JSON cannot hold it (an infinite float) or it has more digits than
    Python writes out."""
    if isinstance(number, float):
        return number if math.isfinite(number) else None
    return number if abs(number) < _INT_LIMIT else None


def diff(repo: Repo, kind: str, a: str | None = None, b: str | None = None,
         targets: Iterable[str] = (), show_all: bool = False,
         deps_only: bool = False) -> DiffResult:
    """What changed in the params or metrics files between revisions A (default HEAD) and
    B (default the workspace). A file missing on one side is compared as empty; a file that
    cannot be read on either side is an error for that file. A metric that is null has no
    value, as a metric one side lacks has none (as in DVC): one going from null to absent is
    no change. A param's null is a value a stage reads (`dvx status` tells it from a param
    that is not there), so that is a change."""
    wanted = list(targets)
    with Reader(repo) as reader:
        rev_a, rev_b = diff_pair(reader, a, b)
        side_a = read_revision(reader, rev_a, kind, wanted)
        side_b = read_revision(reader, rev_b, kind, wanted)
        _read_undeclared(reader, side_a, side_b, kind)
        _read_undeclared(reader, side_b, side_a, kind)
    refuse_targets_found_nowhere(kind, wanted, [side_a, side_b])
    errors = [FileError("dvx.yaml", s.revision.label, s.error)
              for s in (side_a, side_b) if s.error]
    flat_a, flat_b = _flat_files(side_a, errors), _flat_files(side_b, errors)
    deps = {**side_a.param_deps, **side_b.param_deps}
    unreadable = {e.path for e in errors}
    changes = []
    for path in dict.fromkeys(p for p in [*flat_a, *flat_b] if p not in unreadable):
        old, new = flat_a.get(path, {}), flat_b.get(path, {})
        for key in sorted(set(old) | set(new)):
            if deps_only and not _tracked(key, deps.get(path)):
                continue
            changed = not same_value(old.get(key), new.get(key)) or (
                kind == PARAMS and (key in old) != (key in new))
            if show_all or changed:
                changes.append(Change(path, key, old.get(key), new.get(key)))
    return DiffResult(kind, rev_a, rev_b, changes, errors, shadowing_warnings(
        (side.revision.label, f.path, s) for side in (side_a, side_b) for f in side.files
        for s in f.flat.shadowed))


def _flat_files(side: RevisionValues, errors: list[FileError]) -> dict[str, dict[str, Any]]:
    flat = {}
    for f in side.files:
        if f.data is not None:
            flat[f.path] = f.flat.values
        elif f.error_type == MISSING_TYPE and not f.may_exist:
            flat[f.path] = {}  # added or removed between the two revisions
        else:
            errors.append(FileError(f.path, side.revision.label, f.error or ""))
    return flat


def _tracked(key: str, tracked: list[str] | None) -> bool:
    if tracked is None:
        return False  # no stage depends on this file
    return not tracked or any(key == t or key.startswith(t + ".") for t in tracked)
