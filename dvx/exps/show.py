"""`dvx exp show`: the workspace, the baseline and its experiments side by side, one row each,
with a column per param and per metric (read from Git's objects: no checkout)."""

from __future__ import annotations

import datetime
import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from dvx.errors import UsageError
from dvx.experiment_refs import DamagedRef, Experiment, experiments_and_damaged, git_of
from dvx.logs import shell_quote
from dvx.metrics.revisions import WORKSPACE, Reader, Revision
from dvx.metrics.tables import DEFAULT_PRECISION, Table, format_value
from dvx.metrics.values import (
    METRICS,
    MISSING_TYPE,
    PARAMS,
    FileValues,
    Shadowed,
    read_revision,
    shadowing_warnings,
)
from dvx.repo import Repo
from dvx.scm import Git


@dataclass
class Row:
    name: str  # "workspace", the baseline's branch (or short sha), or the experiment's name
    commit: str | None
    baseline: str | None
    created: int | None
    params: dict[str, dict[str, Any]] = field(default_factory=dict)  # file -> flat values
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    shadowed: list[tuple[str, Shadowed]] = field(default_factory=list)  # (file, value)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "rev": self.commit, "baseline": self.baseline,
                "created": _iso(self.created), "params": self.params, "metrics": self.metrics,
                "errors": self.errors}


def show(repo: Repo, all_baselines: bool = False) -> list[Row]:
    """Rows: the workspace, then for each baseline (HEAD, or with `all_baselines` every
    commit that has experiments) the baseline and its experiments, newest first."""
    git = git_of(repo)
    current = git.head()
    found = experiments_and_damaged(repo, None if all_baselines else current)
    first = [current] if current and not all_baselines else []
    baselines = list(dict.fromkeys(first + [e.baseline for e in found]))  # each once, in order
    names = _branch_names(repo)
    with Reader(repo) as reader:
        rows = [_row(reader, Row(WORKSPACE, None, current, None))]
        for baseline in baselines:
            if baseline is None:
                continue
            rows.append(_baseline_row(reader, git, baseline, names))
            for exp in (e for e in found if e.baseline == baseline):
                rows.append(_row(reader, _exp_row(exp)) if isinstance(exp, Experiment)
                            else _damaged_row(exp))
    return rows


def _baseline_row(reader: Reader, git: Git, baseline: str, names: dict[str, str]) -> Row:
    """The row of `baseline`; one that is no commit here (a ref made by hand names it, and
    its experiments are damaged) has no values and says so."""
    if not git.has_commit(baseline):
        return Row(baseline[:7], None, None, None,
                   errors=[f"The baseline {baseline} is no commit in this repository."])
    when = git.commit_log([baseline])
    return _row(reader, Row(names.get(baseline, baseline[:7]), baseline, None,
                            when[0][1] if when else None))


def _exp_row(exp: Experiment) -> Row:
    return Row(exp.name, exp.commit, exp.baseline, exp.created)


def _damaged_row(ref: DamagedRef) -> Row:
    """A row, with no values, that says what is wrong with the ref and how to remove it."""
    return Row(ref.name, None, ref.baseline, None, errors=[f"{ref.problem} {ref.remedy}"])


def _row(reader: Reader, row: Row) -> Row:
    revision = Revision(row.name, row.commit)
    for kind, into in ((PARAMS, row.params), (METRICS, row.metrics)):
        values = read_revision(reader, revision, kind)
        if values.error:
            row.errors.append(values.error)
        for f in values.files:
            if f.data is not None:
                into[f.path] = f.flat.values
                row.shadowed.extend((f.path, s) for s in f.flat.shadowed)
            elif f.error and _worth_a_warning(f, row):
                row.errors.append(f"{f.path}: {f.error}")
    return row


def warnings(rows: list[Row]) -> list[str]:
    """The values some rows leave out of their columns, each said once (see Shadowed)."""
    return shadowing_warnings((row.name, path, s) for row in rows for path, s in row.shadowed)


def _worth_a_warning(file: FileValues, row: Row) -> bool:
    """A file missing from a row is no error when its stage has not run there yet; one the
    workspace has not pulled (or deleted), or one a commit's unreadable dvx.lock may record,
    is, as is a file that cannot be parsed."""
    return file.error_type != MISSING_TYPE or file.may_exist


def _branch_names(repo: Repo) -> dict[str, str]:
    names: dict[str, str] = {}
    for name, commit in git_of(repo).ref_tips("refs/heads"):
        names.setdefault(commit, name)
    return names


def _iso(when: int | None) -> str | None:
    if when is None:
        return None
    return datetime.datetime.fromtimestamp(when, datetime.timezone.utc).isoformat()


# -- the table --------------------------------------------------------------------------------

def columns(rows: list[Row]) -> list[tuple[str, str, str]]:
    """(kind, file, key) of every value column: params first, then metrics, each in the order
    first met."""
    found: dict[tuple[str, str, str], None] = {}
    for kind in (PARAMS, METRICS):
        for row in rows:
            for file, values in getattr(row, kind).items():
                found.update(dict.fromkeys((kind, file, key) for key in values))
    return list(found)


def table(rows: list[Row], only_changed: bool = False, sort_by: str | None = None,
          descending: bool = False, precision: int = DEFAULT_PRECISION,
          indent: bool = True) -> Table:
    """The rows as a table; with `indent`, for people to read, each experiment's name is
    indented under its baseline's (a table for programs, as CSV, keeps names plain)."""
    cols = columns(rows)
    if sort_by is not None:  # before --only-changed: a column it hides still orders the rows
        rows = _sorted(rows, cols, _titles(cols), sort_by, descending)
    if only_changed:
        cols = [c for c in cols if len({repr(_value(r, c)) for r in rows}) > 1]
    titles = _titles(cols)
    headers = ["Experiment", "Created", *titles]
    body = [[("  " if indent and r.baseline and r.name != WORKSPACE else "") + r.name,
             _short_time(r.created), *(format_value(_value(r, c), precision) for c in cols)]
            for r in rows]
    return Table(headers, body)


def _titles(cols: list[tuple[str, str, str]]) -> list[str]:
    """Each column's header: its key, or FILE:KEY where two files share the key."""
    counts = Counter(c[2] for c in cols)
    return [key if counts[key] == 1 else f"{file}:{key}" for _, file, key in cols]


def _value(row: Row, column: tuple[str, str, str]) -> Any:
    kind, file, key = column
    return getattr(row, kind).get(file, {}).get(key)


def _sorted(rows: list[Row], cols: list[tuple[str, str, str]], titles: list[str], by: str,
            descending: bool) -> list[Row]:
    """The workspace and baselines stay where they are; each baseline's experiments are
    sorted by the column `by` (a title, a key, or FILE:KEY): numbers, then other values by
    their text, then rows without it, the order reversed within numbers and within text."""
    column = _sort_column(cols, titles, by)
    out: list[Row] = []
    group: list[Row] = []

    def flush() -> None:
        kinds: dict[str, list[Row]] = {"number": [], "text": [], "absent": []}
        for row in group:
            kinds[_sort_kind(_value(row, column))].append(row)
        for kind in ("number", "text"):
            out.extend(sorted(kinds[kind], key=lambda r: _sort_key(_value(r, column)),
                              reverse=descending))
        out.extend(kinds["absent"])
        group.clear()

    for row in rows:
        if row.baseline is None or row.name == WORKSPACE:  # the workspace or a baseline
            flush()
            out.append(row)
        else:
            group.append(row)
    flush()
    return out


def _sort_kind(value: Any) -> str:
    """Numbers sort by size; true/false, names and lists by the text the table shows (a NaN
    has no place among numbers)."""
    if value is None:
        return "absent"
    if isinstance(value, (int, float)) and not isinstance(value, bool) \
            and not (isinstance(value, float) and math.isnan(value)):
        return "number"
    return "text"


def _sort_key(value: Any) -> Any:
    return value if _sort_kind(value) == "number" else format_value(value)


def _sort_column(cols: list[tuple[str, str, str]], titles: list[str], by: str
                 ) -> tuple[str, str, str]:
    """The one column `by` names; a key several files have (or a param and a metric) is
    refused, as in DVC, rather than sorting by whichever column comes first."""
    matches = [c for c, t in zip(cols, titles, strict=True)
               if by in (t, c[2], f"{c[1]}:{c[2]}")]
    if not matches:
        raise UsageError(f"No column {by!r} to sort by.", "Use a param or metric name that "
                         "`dvx exp show` lists.")
    # one file read both as params and as metrics is one column twice: the same values
    names = list(dict.fromkeys(f"{file}:{key}" for _, file, key in matches))
    if len(names) > 1:
        raise UsageError(f"--sort-by {by!r} names {len(names)} columns: "
                         f"{', '.join(names)}.", "Name the one to sort by as FILE:KEY, "
                         f"e.g. --sort-by {shell_quote(names[0])}.")
    return matches[0]


def _short_time(when: int | None) -> str:
    if when is None:
        return "-"
    return datetime.datetime.fromtimestamp(when).strftime("%Y-%m-%d %H:%M")
