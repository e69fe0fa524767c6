"""Plots rendered with vl-convert (Vega-Lite bundled in a Python wheel, no browser needed):
one self-contained HTML page and one SVG or PNG file per plot.

The page must work offline and years later, so it carries everything it needs: the Vega,
Vega-Lite and vega-embed JavaScript (vl-convert's bundle), every chart's data, and images as
data: URLs. It refers to nothing on the network.
"""

from __future__ import annotations

import base64
import html
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dvx.errors import DvxError, UsageError, install_extra_hint, interruption
from dvx.fsutil import (
    atomic_write,
    describe,
    makedirs,
    remove_leftover_temporaries,
    remove_quietly,
)
from dvx.generated import GENERATOR, IMAGE_NAME, images_listed_by, plots_page_head
from dvx.generated import PLOTS_PAGE as HTML_NAME
from dvx.metrics.plots import PlotData, spec
from dvx.wording import named_list

IMAGE_FORMATS = ("svg", "png")
_MIME = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
         ".gif": "image/gif", ".svg": "image/svg+xml"}


@dataclass
class Rendered:
    html: str  # the page's path
    images: list[str] = field(default_factory=list)  # one per table plot
    errors: list[tuple[str, str, str]] = field(default_factory=list)  # (path, rev, message)


def vl_convert() -> Any:
    try:
        import vl_convert
    except ImportError:
        raise UsageError("Drawing plots needs the vl-convert-python package, which is not "
                         "installed.", install_extra_hint("plots")) from None
    return vl_convert


def render(plots: list[PlotData], out_dir: str, image_format: str = "svg",
           title: str = "dvx plots", force: bool = False) -> Rendered:
    """Write `out_dir`/index.html and one image per table plot; return their paths.

    Files in `out_dir` are replaced only if an earlier run wrote them (its page carries
    GENERATOR and names the images) or with `force`; anything else there is the user's and
    refused before any write."""
    if image_format not in IMAGE_FORMATS:
        raise UsageError(f"Unknown image format {image_format!r} (known: svg, png).")
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise UsageError(f"'{out_dir}' exists and is not a directory.",
                         "Name a directory for the plots with -o.")
    used: set[str] = set()
    image_names = [_unique(_slug(data.plot.path) + "." + image_format, used) for data in plots]
    if not force:
        _refuse_foreign_files(out_dir, [HTML_NAME, *image_names])
    vlc = vl_convert()
    result = Rendered(os.path.join(out_dir, HTML_NAME))
    sections, charts, images = [], [], {}
    for number, (data, name) in enumerate(zip(plots, image_names, strict=True)):
        body, drawn = "", _drawn(vlc, data, image_format)
        if drawn is not None:
            chart, images[name] = drawn
            charts.append((f"chart{number}", chart))
            body = f'<div class="chart" id="chart{number}"></div>'
            result.images.append(os.path.join(out_dir, name))
        errors = list(data.errors)
        result.errors += [(data.plot.path, rev, msg) for rev, msg in errors]
        body += "".join(_figure(data.plot.path, rev.label, raw) for rev, raw in data.images)
        body += "".join(f'<p class="error">{html.escape(rev)}: {html.escape(msg)}</p>'
                        for rev, msg in errors)
        sections.append(f"<section><h2>{html.escape(data.plot.path)}</h2>{body}</section>")
    bundle = vlc.javascript_bundle() if charts else ""
    _publish(out_dir, lambda listed: _page(title, sections, charts, bundle, listed), images)
    return result


def _publish(out_dir: str, page: Callable[[list[str]], str], images: dict[str, bytes]
             ) -> None:
    """Write the page, then the images (all drawn by now: a run stopped while drawing has
    written nothing), then remove the images an earlier run wrote that this one did not (a
    plot that can no longer be drawn, or is no longer declared, leaves no stale chart to be
    published). The page goes first because it marks the directory as dvx's and lists every
    image dvx may have left there: a run stopped at any point leaves files the next run
    replaces or removes, never ones it refuses as a user's, and temporaries of them it
    deletes. `page` makes the page listing the images it is given."""
    index = os.path.join(out_dir, HTML_NAME)
    stale = [n for n in _images_of_dvx(index) if n not in images]
    makedirs(out_dir)
    remove_leftover_temporaries(out_dir, [HTML_NAME, *images, *stale])
    try:
        atomic_write(index, page([*images, *stale]).encode())
        for name, image in images.items():
            atomic_write(os.path.join(out_dir, name), image)
        for name in stale:
            path = os.path.join(out_dir, name)
            if os.path.isfile(path) and not os.path.islink(path):
                remove_quietly(path)
        if stale:
            atomic_write(index, page(list(images)).encode())
    except KeyboardInterrupt as exc:  # Ctrl-C, SIGTERM, SIGHUP
        stopped = interruption(exc, f" while writing the plots into '{out_dir}'.")
        stopped.hint = _HALF_WRITTEN
        raise stopped from None
    except OSError as exc:
        raise DvxError(f"Cannot write the plots into '{out_dir}': {describe(exc)}.",
                       _HALF_WRITTEN) from None


_HALF_WRITTEN = ("Some images there may still be an earlier run's; run the command again to "
                 "write them all.")


def _drawn(vlc: Any, data: PlotData, image_format: str) -> tuple[str, bytes] | None:
    """The chart of a table plot as JSON for the page and as an image, or None (for images,
    or when it cannot be drawn: then the reason is one of the plot's errors, for --json)."""
    try:
        chart = spec(data)
        if chart is None:
            return None
        chart_json = _script_json(chart)
        if image_format == "svg":
            return chart_json, vlc.vegalite_to_svg(chart, allowed_base_urls=[]).encode()
        return chart_json, bytes(vlc.vegalite_to_png(chart, scale=2, allowed_base_urls=[]))
    except DvxError as exc:
        data.errors.append(("all revisions", exc.message))
    except (TypeError, ValueError) as exc:  # a value JSON or Vega cannot hold: one plot's
        data.errors.append(("all revisions", f"it cannot be drawn: {exc}"))  # error only
    return None


def _refuse_foreign_files(out_dir: str, names: list[str]) -> None:
    """Refuse when a file to be written exists and no earlier run of dvx wrote it: only
    dvx's page, and the images it names, are dvx's."""
    page = os.path.join(out_dir, HTML_NAME)
    dvx_page = _written_by_dvx(page)
    ours = ([HTML_NAME] if dvx_page else []) + _images_of_dvx(page)
    existing = [n for n in names if n not in ours and os.path.lexists(os.path.join(out_dir, n))]
    if not existing:
        return
    named = named_list(existing, most=3, name=lambda n: f"'{os.path.join(out_dir, n)}'")
    if dvx_page and images_listed_by(page) is None:
        verb, it = ("exists", "it") if len(existing) == 1 else ("exist", "them")
        raise UsageError(f"{named} already {verb}, and the page there, written by an "
                         f"older dvx, does not show {it} among its images, so nothing was "
                         "written.", f"If an older dvx wrote {it}, pass --force to replace "
                         f"{it}; or name a new directory with -o.")
    verbs = "exists and was" if len(existing) == 1 else "exist and were"
    raise UsageError(f"{named} already {verbs} not written by `dvx plots`, so "
                     "nothing was written.",
                     "Name a new directory with -o, or pass --force to replace them.")


def _written_by_dvx(page: str) -> bool:
    return plots_page_head(page) is not None


def _images_of_dvx(page: str) -> list[str]:
    """The images an earlier run of dvx wrote beside `page`, as far as the page tells: those
    it lists, or for a page from a version that did not list them, those it shows."""
    listed = images_listed_by(page)
    return _images_shown_by_older_page(page) if listed is None else listed


def _images_shown_by_older_page(page: str) -> list[str]:
    """The images beside a page of dvx's from a version that did not list them: it has a
    section per plot, in order, headed by the plot's path, and a chart in it for each plot it
    wrote an image of, named as `render` names it. The page does not say in which format, so
    only a name of which the other format is absent is taken: when both are there, one may be
    the user's (or an earlier run's of another format), and neither is replaced unasked."""
    try:
        with open(page, encoding="utf-8", errors="replace") as f:
            text = f.read()
    except OSError:
        return []
    out_dir, images = os.path.dirname(page), []
    used: dict[str, set[str]] = {fmt: set() for fmt in IMAGE_FORMATS}
    for path, chart in _OLDER_SECTION.findall(text):
        names = [_unique(_slug(html.unescape(path)) + "." + fmt, used[fmt])
                 for fmt in IMAGE_FORMATS]
        there = [n for n in names if os.path.lexists(os.path.join(out_dir, n))]
        if chart and len(there) == 1 and IMAGE_NAME.fullmatch(there[0]):
            images += there
    return images


# A plot's section on a page: its path (escaped, so holding no "<") and the chart, if drawn.
_OLDER_SECTION = re.compile(r'<section><h2>([^<]*)</h2>(<div class="chart" id="chart\d+">)?')


def _figure(path: str, rev: str, raw: bytes) -> str:
    mime = _MIME[os.path.splitext(path.lower())[1]]
    # An <img> never runs an SVG's scripts, so an untrusted SVG is safe to show this way.
    url = f"data:{mime};base64,{base64.b64encode(raw).decode()}"
    return (f'<figure><img src="{url}" alt="{html.escape(path)} at {html.escape(rev)}">'
            f"<figcaption>{html.escape(rev)}</figcaption></figure>")


def _script_json(value: Any) -> str:
    """JSON that cannot end the <script> element it is written into."""
    return json.dumps(value, allow_nan=False).replace("<", "\\u003c").replace(">", "\\u003e") \
        .replace("&", "\\u0026")


def _page(title: str, sections: list[str], charts: list[tuple[str, str]], bundle: str,
          images: list[str]) -> str:
    """The page; `charts` are (element id, the chart's spec as _script_json wrote it),
    `images` the names of the image files dvx writes beside it (images_listed_by). Pages
    of older versions do not list them; _images_shown_by_older_page reads their sections."""
    embeds = "\n".join(
        f"vegaEmbed('#{name}', {chart}, {{renderer: 'svg', actions: false}})"
        f".catch(function (e) {{ var el = document.getElementById('{name}'); "
        f"el.setAttribute('data-failed', 'yes'); "
        f"el.textContent = 'This chart could not be drawn: ' + e; }});"
        for name, chart in charts)
    # A script element ends at the first "</script", wherever it is.
    safe_bundle = bundle.replace("</script", "<\\/script")
    scripts = f"<script>{safe_bundle}</script>\n<script>\n{embeds}\n</script>" \
        if charts else ""
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
{GENERATOR}
<meta name="dvx-plots-images" content="{html.escape(" ".join(images))}">
<title>{html.escape(title)}</title>
<style>
body {{ font-family: sans-serif; margin: 2em; }}
section {{ margin-bottom: 2.5em; }}
h2 {{ font-size: 1.1em; font-family: monospace; }}
figure {{ display: inline-block; margin: 0 1em 1em 0; }}
figure img {{ max-width: 480px; }}
.error {{ color: #b00020; }}
</style>
</head>
<body>
<h1>{html.escape(title)}</h1>
{"".join(sections) or "<p>No plots.</p>"}
{scripts}
</body>
</html>
"""


def _slug(path: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", path.replace("/", "__")).strip("._") or "plot"


def _unique(name: str, used: set[str]) -> str:
    stem, dot, ext = name.rpartition(".")
    candidate, n = name, 1
    while candidate in used:
        n += 1
        candidate = f"{stem}-{n}{dot}{ext}"
    used.add(candidate)
    return candidate

