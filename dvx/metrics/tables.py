"""Show and diff results as tables: plain text, Markdown or CSV.

Numbers are rounded to `precision` digits after the decimal point (as DVC's --precision),
but a number that this would show as 0 is shown with `precision` significant digits (1e-07);
JSON output is never rounded. A value a file does not have is shown as "-"; a file that
could not be read gets a row with its error in the last column.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from dataclasses import dataclass
from typing import Any

from dvx.metrics.values import PARAMS, DiffResult, ShowResult

DEFAULT_PRECISION = 5
FORMATS = ("text", "md", "csv")


@dataclass(frozen=True)
class Table:
    headers: list[str]
    rows: list[list[str]]

    def render(self, fmt: str = "text") -> str:
        if fmt == "md":
            return _markdown(self)
        if fmt == "csv":
            return _csv(self)
        return _text(self)


def format_value(value: Any, precision: int = DEFAULT_PRECISION) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _format_float(value, precision)
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    return str(value)


def _format_float(value: float, precision: int) -> str:
    if not math.isfinite(value):
        return str(value)
    rounded = round(value, precision)  # as DVC rounds: to the nearest, a tie to even
    if rounded == 0 and value != 0:  # 1e-7 is not 0.0: keep its significant digits
        return f"{value:.{max(precision, 1)}g}"
    text = str(rounded)  # a large magnitude in exponent form (1e+308), as at any precision
    return str(int(rounded)) if precision == 0 and "e" not in text else text  # no ".0"


def show_table(result: ShowResult, precision: int = DEFAULT_PRECISION,
               with_revision: bool | None = None) -> Table:
    """One row per revision and file, one column per (dotted) key."""
    if with_revision is None:
        with_revision = len(result.revisions) > 1 or any(
            r.revision.commit for r in result.revisions)
    keys: dict[str, None] = {}
    for rev in result.revisions:
        for f in rev.files:
            keys.update(dict.fromkeys(f.flat.values))
    has_errors = any(rev.error or any(f.error for f in rev.files) for rev in result.revisions)
    headers = (["Revision"] if with_revision else []) + ["Path", *keys] + \
        (["Error"] if has_errors else [])
    rows = []
    for rev in result.revisions:
        lead = [rev.revision.label] if with_revision else []
        if rev.error:
            rows.append([*lead, "dvx.yaml", *["-"] * len(keys), rev.error])
        for f in rev.files:
            cells = [format_value(f.flat.values.get(k), precision) for k in keys]
            rows.append([*lead, f.path, *cells] + ([f.error or ""] if has_errors else []))
    return Table(headers, rows)


def diff_table(result: DiffResult, precision: int = DEFAULT_PRECISION,
               with_path: bool = True) -> Table:
    name = "Param" if result.kind == PARAMS else "Metric"
    headers = (["Path"] if with_path else []) + \
        [name, result.a.label, result.b.label, "Change", "Change %"]
    rows = []
    for c in result.changes:
        diff = "-" if c.diff is None else format_value(c.diff, precision)
        rel = "-" if c.rel is None else f"{c.rel:+.1%}"
        rows.append(([c.path] if with_path else []) +
                    [c.key, format_value(c.old, precision), format_value(c.new, precision),
                     diff, rel])
    if result.errors:
        headers.append("Error")
        rows = [[*r, ""] for r in rows]
        for e in result.errors:
            rows.append(([e.path] if with_path else []) + ["-"] * 5 + [f"{e.revision}: "
                                                                       f"{e.message}"])
    return Table(headers, rows)


def _text(table: Table) -> str:
    rows = [[_one_line(cell) for cell in row] for row in [table.headers, *table.rows]]
    widths = [max(len(r[i]) for r in rows) for i in range(len(table.headers))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
             for row in rows]
    return "\n".join(lines) + "\n"


_CONTROL = {code: f"\\x{code:02x}" for code in [*range(32), 127]} | \
    {ord("\n"): "\\n", ord("\r"): "\\r", ord("\t"): "\\t"}


_HAS_CONTROL = re.compile("[\x00-\x1f\x7f]")


def _one_line(cell: str) -> str:
    """`cell` as it fits on one line of a text table: a line break, tab or other control
    character is written escaped (`\\n`), and so is a backslash in such a cell."""
    if not _HAS_CONTROL.search(cell):
        return cell
    return cell.replace("\\", "\\\\").translate(_CONTROL)


def _markdown(table: Table) -> str:
    """A Markdown table: each cell escaped as in a text table (`_one_line`), its `|` too, so
    that every row stays one row (CommonMark ends a line at a lone `\\r` as at `\\n`)."""
    def line(cells: list[str]) -> str:
        return "| " + " | ".join(_one_line(c).replace("|", "\\|") for c in cells) + " |"

    lines = [line(table.headers), "|" + "|".join("---" for _ in table.headers) + "|"]
    return "\n".join(lines + [line(r) for r in table.rows]) + "\n"


def _csv(table: Table) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(table.headers)
    writer.writerows(table.rows)
    return buffer.getvalue()
