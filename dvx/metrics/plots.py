"""Plots: the data of each plots file in each revision, and a Vega-Lite spec per plot.

A plots file is a table (CSV, TSV, or JSON/YAML: a list of records, or a mapping holding one
list of records) or an image (PNG, JPEG, GIF, SVG). A table is drawn by its template, with
every revision's rows overlaid (one colour per revision, and per y field when there are
several); an image is shown once per revision. A file that is missing or malformed in one
revision is an error for that revision; the other revisions are still drawn.

Rows are rewritten to fixed field names (x, y, series, ...) before they go into a spec, so
a column name from a file is only ever a title, never a Vega expression.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, NoReturn

from dvx.errors import (
    DvxError,
    FormatError,
    MergeConflictError,
    OtherAlgorithmError,
    UsageError,
)
from dvx.metrics.declared import Declared, Plot, declared
from dvx.metrics.revisions import Reader, Revision, distinct
from dvx.pipeline.params import load_json, refuse_conflicted
from dvx.pipeline.spec import PlotOptions
from dvx.repo import Repo
from dvx.textfile import plain_text
from dvx.yamlio import (
    DEFAULT_MAX_BYTES,
    MAX_INT_DIGITS,
    DuplicateKeyError,
    UnwritableValueError,
    has_conflict_markers,
    parse_yaml,
)

MAX_PLOT_BYTES = 64 << 20  # training logs can be long; images too
# vl-convert's JavaScript engine has a heap of about 1.4 GB and ends the whole process when
# it is exhausted: a line chart of 1,200,000 values did, a scatter plot of 600,000 (400,000
# were drawn). A chart with more values than this is refused, with a margin.
MAX_CHART_VALUES = 200_000
WIDTH, HEIGHT = 480, 300
INDEX_FIELD = "step"  # DVC's x when none is given: the row's position


@dataclass
class PlotData:
    plot: Plot  # as the newest revision declaring it declares it: the chart's template, titles
    tables: list[tuple[Revision, list[dict[str, Any]]]] = field(default_factory=list)
    images: list[tuple[Revision, bytes]] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)  # (revision label, message)
    overlay: bool = False  # several revisions were asked for: name them in the legend
    # revision label -> the options that revision declares the plot with, whose fields (x,
    # y, header) its own data is read and drawn by: a log's columns change between revisions
    own: dict[str, PlotOptions] = field(default_factory=dict)

    def options_of(self, revision: Revision) -> PlotOptions:
        return self.own.get(revision.label, self.plot.options)

    def to_json(self) -> dict[str, Any]:
        template = None if self.plot.is_image else self.plot.options.template  # none drew it
        return {"path": self.plot.path, "template": template,
                "revisions": [r.label for r, _ in self.tables] + [r.label for r, _ in
                                                                   self.images],
                "errors": [{"rev": rev, "msg": msg} for rev, msg in self.errors]}


def collect(repo: Repo, revs: list[str] | None = None,
            targets: Iterable[str] = ()) -> list[PlotData]:
    """The plots of each revision in `revs` (names; default: the workspace), in the order of
    the first revision that declares each; limited to `targets` (paths or directories). Each
    revision's data is read and drawn by the fields its own dvx.yaml names; the chart takes
    its template and titles from the newest revision declaring it (`_newest`)."""
    wanted = list(targets)
    with Reader(repo) as reader:
        # a revision named twice is read once: twice would count a confusion matrix's rows twice
        revisions = distinct([reader.resolve(r) for r in revs or ["workspace"]])
        # plots file -> the revisions declaring it, each with its own declaration
        declaring: dict[str, list[tuple[Revision, Plot]]] = {}
        unparsable: list[tuple[str, str]] = []  # (revision label, why its dvx.yaml is not read)
        for revision in revisions:
            def read(rel: str, revision: Revision = revision) -> bytes | None:
                return reader.read(revision, rel, DEFAULT_MAX_BYTES)
            try:
                found = declared(read, reader.workspace_root(revision))
            except DvxError as exc:
                if revision.commit is None:
                    raise
                found = Declared()
                unparsable.append((revision.label, f"dvx.yaml: {exc.message}"))
            for plot in found.plots:
                if _selected(plot.path, wanted):
                    declaring.setdefault(plot.path, []).append((revision, plot))
        missing = [t for t in wanted if not any(_selected(p, [t]) for p in declaring)]
        if missing:
            raise UsageError(f"'{missing[0]}' is not a plots file (nor a directory of one) "
                             "that dvx.yaml declares in "
                             + ", ".join(r.label for r in revisions) + ".",
                             "List plots files under a stage's `plots` in dvx.yaml.")
        found_plots = []
        for declared_by in declaring.values():
            data = PlotData(_newest(declared_by), overlay=len(revisions) > 1,
                            own={r.label: plot.options for r, plot in declared_by})
            data.errors += unparsable  # whichever revisions declared the plot, before or after
            for revision, _ in declared_by:  # none before the plot existed
                _read_into(reader, revision, data)
            found_plots.append(data)
    return found_plots


def _newest(declared_by: list[tuple[Revision, Plot]]) -> Plot:
    """The plot as the newest of the revisions declaring it declares it: the workspace, else
    the commit made last (of commits made in one second, the one named last)."""
    ranked = [(revision.commit is None, revision.timestamp or 0, order)
              for order, (revision, _) in enumerate(declared_by)]
    return declared_by[max(range(len(ranked)), key=ranked.__getitem__)][1]


def _selected(path: str, targets: list[str]) -> bool:
    return not targets or any(path == t or path.startswith(t.rstrip("/") + "/")
                              for t in targets)


def _read_into(reader: Reader, revision: Revision, data: PlotData) -> None:
    path = data.plot.path
    try:
        raw = reader.read(revision, path, MAX_PLOT_BYTES)
        if raw is None:
            data.errors.append((revision.label, f"{path} does not exist there"
                                f"{_said(reader.why_absent(revision, path))}"))
        elif has_conflict_markers(raw):
            _refuse_conflicted(reader, revision, raw, path)
        elif data.plot.is_image:
            data.images.append((revision, raw))
        else:
            options = data.options_of(revision)
            drawn = [options.x or INDEX_FIELD, *options.y] if options.y else None
            # a confusion matrix's classes are labels, as written
            confusion = data.plot.options.template.startswith("confusion")
            data.tables.append((revision, parse_rows(raw, path, options.header,
                                                     numbers=not confusion, drawn=drawn)))
    # with how to resolve it, the user can do it now: a merge, a setting of core.hash
    except (MergeConflictError, OtherAlgorithmError) as exc:
        data.errors.append((revision.label, str(exc)))
    except DvxError as exc:
        data.errors.append((revision.label, exc.message))


def _refuse_conflicted(reader: Reader, revision: Revision, raw: bytes, path: str) -> NoReturn:
    """A plots file holding Git's conflict markers is not drawn: its rows would be both
    sides' merged into one line. In the workspace it is a merge to finish; in a commit, a
    file committed so."""
    root = reader.workspace_root(revision)
    if root is not None:
        refuse_conflicted(raw, root, path)
    raise FormatError(f"{path} holds Git's conflict markers (<<<<<<<, =======, >>>>>>>) "
                      "there: it was committed with an unresolved merge conflict, so it is "
                      "not drawn.")


def _said(why: str | None) -> str:
    return f": {why}" if why else ""


def parse_rows(raw: bytes, path: str, header: bool = True, numbers: bool = True,
               drawn: list[str] | None = None) -> list[dict[str, Any]]:
    """The records of a CSV/TSV, JSON or YAML plots file (if `numbers`, a CSV/TSV cell that
    reads as a number becomes one, and an empty cell None: it holds no value). A column or
    field named twice is refused where it is one of `drawn`, the fields x and y name (None:
    y is the last field, so any may be drawn), as dvx will not guess which one is meant."""
    lower = path.lower()
    if lower.endswith((".csv", ".tsv")):
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise FormatError(f"The plots file '{path}' is not valid UTF-8.") from None
        lines = list(csv.reader(io.StringIO(text), delimiter="\t" if lower.endswith(".tsv")
                                else ","))
        lines = [line for line in lines if line]
        if not lines:
            raise FormatError(f"The plots file '{path}' is empty.")
        names = lines[0] if header else [str(i) for i in range(len(lines[0]))]
        _refuse_a_column_named_twice(names, path, drawn)
        cell = _number if numbers else str
        return [{n: cell(v) for n, v in zip(names, line, strict=False)}
                for line in lines[1 if header else 0:]]
    if lower.endswith(".json"):
        try:
            doc = _json_records(plain_text(raw), drawn)  # a byte order mark is skipped
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
            raise FormatError(f"The plots file '{path}' is not valid JSON: {exc}.") from None
        except UnwritableValueError as exc:
            raise FormatError(f"The plots file '{path}' cannot be read: {exc}.") from None
        except DuplicateKeyError as exc:  # as YAML's: x and y must name one field
            raise FormatError(f"The plots file '{path}' has the field '{exc.key}' twice in "
                              "one object; dvx will not guess which one is meant.",
                              "Keep one of them, or rename one.") from None
    else:
        doc = parse_yaml(raw, f"plots file '{path}'", MAX_PLOT_BYTES)
    if isinstance(doc, dict):  # {"train": [...]}: the one list of records it holds
        lists = [v for v in doc.values() if isinstance(v, list)]
        doc = lists[0] if len(lists) == 1 else None
    if not isinstance(doc, list) or not all(isinstance(r, dict) for r in doc):
        raise FormatError(f"The plots file '{path}' is not a list of records (or a mapping "
                          "holding one list of records).")
    # YAML's keys may be numbers (`{1: 0.5}`); field names are text, as in dvx.yaml's x and y
    return [{k if isinstance(k, str) else str(k): v for k, v in r.items()} for r in doc]


def _json_records(text: str, drawn: list[str] | None) -> Any:
    """The JSON document, a key twice in one object refused (DuplicateKeyError) only where it
    is a field that may be drawn: another one is read as JSON reads it, the last kept."""
    try:
        return load_json(text)
    except DuplicateKeyError as exc:
        if drawn is None or exc.key in drawn:
            raise
        return load_json(text, unique_keys=False)


def _refuse_a_column_named_twice(names: list[str], path: str, drawn: list[str] | None
                                 ) -> None:
    """x and y name a column: a header naming one of `drawn` twice (any, where y is the last
    field) is refused, as such a key twice in a YAML or JSON file is, rather than drawing
    whichever column comes last."""
    seen: dict[str, int] = {}
    for number, name in enumerate(names, start=1):
        if name in seen and (drawn is None or name in drawn):
            raise FormatError(f"The plots file '{path}' names two columns '{name}' (columns "
                              f"{seen[name]} and {number}); dvx will not guess which one is "
                              "meant.", "Rename one of them.")
        seen[name] = number


_INT = re.compile(r"[-+]?[0-9]+", re.ASCII)
_FLOAT = re.compile(r"[-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+)?", re.ASCII)


def _number(text: str) -> Any:
    """A cell written as a plain ASCII number (`-3`, `0.5`, `1e-3`, spaces around allowed)
    as that number; an empty one as None (a logger leaves a cell empty in a row where it
    has no value); any other cell as its text: `1_0`, `١٢`, `inf` or a float too large to
    be finite are labels, not numbers as Python's int() and float() would read them."""
    plain = text.strip(" \t")
    if not plain:
        return None
    if _INT.fullmatch(plain) and len(plain) <= MAX_INT_DIGITS:
        return int(plain)
    if _FLOAT.fullmatch(plain):
        number = float(plain)
        if math.isfinite(number):
            return number
    return text


# -- Vega-Lite specs -------------------------------------------------------------------------

def spec(data: PlotData) -> dict[str, Any] | None:
    """The Vega-Lite spec of a table plot over its revisions (None for images, or when no
    revision could be read); raises FormatError when the rows lack the fields it needs, and
    adds to `data.errors` the revisions that lack the x field (leaving them out of
    `data.tables`, as they are not drawn) or one of the y fields."""
    if data.plot.is_image or not data.tables:
        return None
    options = data.plot.options
    if options.template.startswith("confusion"):
        return _confusion(data)
    fields = {revision.label: _fields(data, revision, rows) for revision, rows in data.tables}
    several_revs = data.overlay or len(data.tables) > 1
    several_ys = any(len(ys) > 1 for _, ys in fields.values())
    data.tables = _with_x(data)
    values = []
    not_numbers: dict[tuple[str, str], list[Any]] = {}  # (revision, y field) -> values
    for revision, rows in data.tables:
        x, ys = fields[revision.label]
        for index, row in enumerate(rows):
            if x == INDEX_FIELD and x not in row:
                x_value = index
            elif row.get(x) is None:
                continue  # a row without x (or with an empty cell) has no place on the axis
            else:
                x_value = _label_or_number(row[x])
            for y in ys:
                if row.get(y) is None:
                    continue  # an empty cell is no point, not a 0
                y_value = _finite_number(row[y])
                if y_value is None:  # Vega would read "0x10" as 16, "" as 0: never guess
                    not_numbers.setdefault((revision.label, y), []).append(row[y])
                    continue
                series = ": ".join([revision.label] * several_revs + [y] * several_ys) \
                    or revision.label
                values.append({"x": x_value, "y": y_value, "rev": revision.label, "field": y,
                               "series": series})
    data.errors += [(rev, _not_numbers_message(y, found)) for (rev, y), found in
                    not_numbers.items()]
    all_xs = list(dict.fromkeys(x for x, _ in fields.values()))
    all_ys = list(dict.fromkeys(y for _, ys in fields.values() for y in ys))
    if not values:
        raise FormatError(f"The plots file '{data.plot.path}' has no rows with a number in "
                          + " or ".join(f"'{y}'" for y in all_ys) + ".")
    _check_drawable(data, len(values))
    for revision, rows in data.tables:  # a field one revision lacks is said, not just left out
        present = {key for row in rows for key in row}
        data.errors += [(revision.label, f"it has no field '{y}' there, so that line is not "
                                         "drawn for it")
                        for y in fields[revision.label][1] if y not in present]
    x_type = "quantitative" if all(_is_number(v["x"]) for v in values) else "nominal"
    y_title = options.y_label or ", ".join(all_ys)
    x_title = options.x_label or ", ".join(all_xs)
    encoding: dict[str, Any] = {
        "x": {"field": "x", "type": x_type, "title": x_title},
        "y": {"field": "y", "type": "quantitative", "title": y_title},
        "color": {"field": "series", "type": "nominal", "title": None},
        "tooltip": [{"field": "rev", "title": "revision"}, {"field": "field", "title": "field"},
                    {"field": "x", "title": x_title}, {"field": "y", "title": y_title}],
    }
    template = options.template
    if template in ("bar", "bar_horizontal"):
        mark: dict[str, Any] = {"type": "bar"}
        encoding["x"]["type"] = "nominal"
        encoding["xOffset"] = {"field": "series"}
        if template == "bar_horizontal":
            encoding["x"], encoding["y"] = encoding["y"], encoding["x"]
            encoding["yOffset"] = encoding.pop("xOffset")
    elif template == "scatter":
        mark = {"type": "point", "filled": True}
    else:  # linear, simple, smooth
        mark = {"type": "line", "point": len(values) <= 200}
    return {"title": options.title or data.plot.path, "width": WIDTH, "height": HEIGHT,
            "data": {"values": values}, "mark": mark, "encoding": encoding}


def _check_drawable(data: PlotData, values: int) -> None:
    if values > MAX_CHART_VALUES:
        raise FormatError(f"The plots file '{data.plot.path}' has {values:,} values to draw "
                          "(one per row, y field and revision), more than the "
                          f"{MAX_CHART_VALUES:,} dvx draws in one chart: log fewer points "
                          "(every n-th step), or compare fewer revisions.")


def _fields(data: PlotData, revision: Revision, rows: list[dict[str, Any]]
            ) -> tuple[str, list[str]]:
    """The x field and the y fields `revision` draws its `rows` by."""
    options = data.options_of(revision)
    first = rows[0] if rows else {}
    x = options.x or INDEX_FIELD
    ys = list(options.y)
    if not ys:  # DVC's default: the last field
        candidates = [k for k in first if k != x]
        if not candidates:
            raise FormatError(f"The plots file '{data.plot.path}' has no field to draw.",
                              "Name the y field in dvx.yaml (`y: loss`).")
        ys = [candidates[-1]]
    return x, ys


def _with_x(data: PlotData) -> list[tuple[Revision, list[dict[str, Any]]]]:
    """The tables that have the x field their revision's dvx.yaml names (see _with_fields)."""
    def named(revision: Revision) -> list[str]:
        x = data.options_of(revision).x
        return [x] if x else []
    return _with_fields(data, named)


def _with_fields(data: PlotData, names: Callable[[Revision], list[str]]
                 ) -> list[tuple[Revision, list[dict[str, Any]]]]:
    """The tables that have every field their revision `names`, each revision checked on
    its own (a log's columns change between revisions); those without one are errors of
    their revision, or a FormatError when no revision has them."""
    def lacks(revision: Revision, rows: list[dict[str, Any]]) -> str | None:
        return next((n for n in names(revision) if rows and not any(n in row for row in rows)),
                    None)
    lacking = [(r, rows, lacks(r, rows)) for r, rows in data.tables if lacks(r, rows)]
    drawn = [(r, rows) for r, rows in data.tables if not lacks(r, rows)]
    if lacking and not any(rows for _, rows in drawn):
        revision, rows, name = lacking[0]
        key = "x" if name == data.options_of(revision).x else "y"
        raise FormatError(f"The plots file '{data.plot.path}' has no field '{name}' "
                          f"(it has: {', '.join(rows[0])}).", f"Fix '{key}' in dvx.yaml.")
    data.errors += [(r.label, f"it has no field '{name}' there (it has: {', '.join(rows[0])}), "
                              "so it is not drawn") for r, rows, name in lacking]
    return drawn


def _confusion(data: PlotData) -> dict[str, Any]:
    options = data.plot.options

    def classes(revision: Revision) -> list[str]:
        """The fields of the actual and the predicted class, as `revision` names them."""
        own = data.options_of(revision)
        return [own.x or "", own.y[0] if own.y else ""]
    data.tables = _with_fields(data, classes)
    values = [{"actual": str(row.get(actual)), "predicted": str(row.get(predicted)),
               "rev": revision.label}
              for revision, rows in data.tables for actual, predicted in [classes(revision)]
              for row in rows if actual in row and predicted in row]
    named = [classes(revision) for revision, _ in data.tables]
    actual_fields = ", ".join(dict.fromkeys(a for a, _ in named))
    predicted_fields = ", ".join(dict.fromkeys(p for _, p in named))
    if not values:
        raise FormatError(f"The plots file '{data.plot.path}' has no rows with both "
                          f"'{actual_fields}' and '{predicted_fields}'.")
    _check_drawable(data, len(values))
    normalized = options.template == "confusion_normalized"
    transform: list[dict[str, Any]] = [
        {"aggregate": [{"op": "count", "as": "n"}], "groupby": ["rev", "actual", "predicted"]}]
    if normalized:  # each actual class's row sums to 1
        transform += [{"joinaggregate": [{"op": "sum", "field": "n", "as": "total"}],
                       "groupby": ["rev", "actual"]},
                      {"calculate": "datum.n / datum.total", "as": "n"}]
    count = {"field": "n", "type": "quantitative", "title": "share" if normalized else "count"}
    inner = {
        "width": HEIGHT, "height": HEIGHT, "transform": transform,
        "encoding": {"x": {"field": "predicted", "type": "nominal",
                           "title": options.y_label or predicted_fields},
                     "y": {"field": "actual", "type": "nominal",
                           "title": options.x_label or actual_fields}},
        "layer": [{"mark": "rect", "encoding": {"color": count, "tooltip": [
                       {"field": "actual"}, {"field": "predicted"}, count]}},
                  {"mark": {"type": "text"},
                   "encoding": {"text": {**count, "format": ".2f" if normalized else "d"}}}],
    }
    return {"title": options.title or data.plot.path, "data": {"values": values},
            "facet": {"column": {"field": "rev", "type": "nominal", "title": None,
                                 "sort": None}},
            "spec": inner}


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


_EXACT_IN_JAVASCRIPT = 2 ** 53  # larger integers are doubles in Vega (and vl-convert's JSON)


def _finite_number(value: Any) -> int | float | None:
    """`value` as a number Vega draws as it is, or None if it is no finite number (text,
    true/false, an integer too large for a double)."""
    if not _is_number(value):
        return None
    if isinstance(value, int) and abs(value) > _EXACT_IN_JAVASCRIPT:
        try:
            value = float(value)
        except OverflowError:
            return None
    return value if math.isfinite(value) else None


def _label_or_number(value: Any) -> Any:
    """An x value as a finite number, text or true/false; anything else (a YAML date or
    set, an infinite float) as its text, a label on the axis."""
    number = _finite_number(value)
    if number is not None or isinstance(value, (str, bool)):
        return value if number is None else number
    return str(value)


def _not_numbers_message(y: str, found: list[Any]) -> str:
    shown = repr(found[0]) if len(repr(found[0])) <= 40 else repr(found[0])[:37] + "..."
    if len(found) == 1:
        return f"1 value of '{y}' is not a number ({shown}), so it is not drawn"
    return f"{len(found)} values of '{y}' are not numbers (such as {shown}), so they are " \
        "not drawn"
