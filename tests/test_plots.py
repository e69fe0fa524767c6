"""plots show/diff: the files written are real images, the HTML page refers to nothing on the
network, and a headless browser with the network off draws every chart in it."""

from __future__ import annotations

import json
import re
import shutil
import signal
import struct
import subprocess
import xml.etree.ElementTree as ET
import zlib
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import git, run_dvx_proc, stopped_at, write
from pipeline_kit import run_and_commit

pytest.importorskip("vl_convert", reason="vl-convert-python (dvx's plots extra) is not installed")

PIPELINE = """\
stages:
  train:
    cmd: "true"
    plots:
    - logs/loss.csv: {x: epoch, y: [train, val], title: Loss, y_label: MSE}
    - eval/preds.json: {template: confusion, x: actual, y: predicted}
    - eval/f1.tsv: {template: bar, x: cls, y: f1}
    - eval/points.yaml: {template: scatter, x: a, y: b}
    - eval/roc.png
"""


def png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A real, minimal PNG of one colour."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + \
            struct.pack(">I", zlib.crc32(kind + body))
    rows = b"".join(b"\0" + bytes(rgb) * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2,
                                                              0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def write_plots(root: Path, scale: float) -> None:
    write(root / "logs" / "loss.csv", "epoch,train,val\n" + "".join(
        f"{e},{scale / (e + 1):.4f},{1.2 * scale / (e + 1):.4f}\n" for e in range(8)))
    classes = "abc"
    write(root / "eval" / "preds.json", json.dumps(
        [{"actual": classes[i % 3], "predicted": classes[(i * int(scale * 10)) % 3]}
         for i in range(30)]))
    write(root / "eval" / "f1.tsv", f"cls\tf1\ncat\t{scale / 2:.2f}\ndog\t0.7\n")
    write(root / "eval" / "points.yaml", f"- {{a: 1, b: {scale}}}\n- {{a: 2, b: 3}}\n")
    write(root / "eval" / "roc.png", png(4, 3, (int(scale * 100) % 256, 0, 0)))


@pytest.fixture
def plotted(repo: Path) -> Path:
    """Three versions of the plots: two commits and a change in the workspace."""
    write(repo / "dvx.yaml", PIPELINE)
    for scale in (1.0, 0.5):
        write_plots(repo, scale)
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", f"scale {scale}")
    write_plots(repo, 0.25)
    return repo


def is_png(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "PNG signature"
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR" and length == 13
    width, height = struct.unpack(">II", data[16:24])
    assert width > 0 and height > 0
    return width, height


def svg_texts(path: Path) -> list[str]:
    root = ET.fromstring(path.read_bytes())
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    return [t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text")]


class _Refs(HTMLParser):
    """Every URL-valued attribute, and the tags, of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self.urls += [v or "" for k, v in attrs if k in ("src", "href", "srcset", "data")]


def test_plots_diff_overlays_three_revisions_in_an_offline_page(plotted, dvx, tmp_path):
    out = tmp_path / "report"
    result = dvx("plots", "diff", "HEAD~1", "HEAD", "workspace", "-o", str(out))
    assert result.code == 0, result.output
    page = out / "index.html"
    assert result.stdout.strip() == str(page)
    assert result.stderr == ""

    refs = _Refs()
    refs.feed(page.read_text())
    assert refs.urls and all(u.startswith("data:") for u in refs.urls), refs.urls
    assert not [t for t, attrs in refs.tags if t in ("link", "iframe", "object", "embed")]
    assert not [a for t, a in refs.tags if t == "script" and "src" in a]
    assert [t for t, a in refs.tags if t == "img"] == ["img"] * 3, "roc.png at each revision"

    svgs = sorted(p.name for p in out.glob("*.svg"))
    assert svgs == ["eval__f1.tsv.svg", "eval__points.yaml.svg", "eval__preds.json.svg",
                    "logs__loss.csv.svg"]
    legend = svg_texts(out / "logs__loss.csv.svg")
    for label in ("HEAD~1: train", "HEAD: val", "workspace: train", "Loss", "MSE", "epoch"):
        assert label in legend
    confusion = svg_texts(out / "eval__preds.json.svg")
    assert {"HEAD~1", "HEAD", "workspace"} <= set(confusion), "one matrix per revision"


def test_plots_show_writes_png_files(plotted, dvx, tmp_path):
    out = tmp_path / "png"
    result = dvx("plots", "show", "eval", "--image-format", "png", "-o", str(out), "--json")
    assert result.code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["html"] == str(out / "index.html")
    assert [p["path"] for p in doc["plots"]] == ["eval/preds.json", "eval/f1.tsv",
                                                 "eval/points.yaml", "eval/roc.png"]
    assert all(p["revisions"] == ["workspace"] and p["errors"] == [] for p in doc["plots"])
    assert doc["plots"][-1]["template"] is None, "an image is shown as it is, by no template"
    assert doc["plots"][0]["template"] == "confusion"
    assert len(doc["images"]) == 3
    for image in doc["images"]:
        width, height = is_png(Path(image).read_bytes())
        assert width >= 100 and height >= 100


def test_default_output_is_dvx_plots_in_the_current_directory(plotted, dvx):
    result = dvx("plots", "show", "logs/loss.csv")
    assert result.code == 0, result.output
    assert result.stdout.strip() == str(plotted / "dvx_plots" / "index.html")
    assert [p.name for p in (plotted / "dvx_plots").glob("*.svg")] == ["logs__loss.csv.svg"]


def test_with_no_plot_declared_nothing_is_written_and_it_says_so(repo, dvx):
    """As DVC ("visualization file will not be created"): exit 0, no page of nothing, no
    path printed for a page that is not there."""
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "dvx")
    for args in (("plots", "show", "-o", "report"), ("plots", "diff", "-o", "report")):
        result = dvx(*args)
        assert result.code == 0, result.output
        assert result.stdout == ""
        assert "No plots declared" in result.stderr and "nothing was written" in result.stderr
        assert not (repo / "report").exists()
    result = dvx("plots", "show", "--json", "-o", "report")
    assert result.code == 0, result.output
    assert json.loads(result.stdout) == {"html": None, "images": [], "plots": []}
    assert not (repo / "report").exists() and not (repo / "dvx_plots").exists()


def test_a_broken_or_missing_plot_is_reported_and_the_rest_drawn(plotted, dvx, tmp_path):
    write(plotted / "logs" / "loss.csv", "")  # empty: not even a header
    (plotted / "eval" / "f1.tsv").unlink()
    write(plotted / "eval" / "points.yaml", "a: [1\n")
    result = dvx("plots", "diff", "-o", str(tmp_path / "out"))
    assert result.code == 0, result.output
    assert "WARNING: eval/f1.tsv at workspace: eval/f1.tsv does not exist there" in \
        result.stderr
    assert "eval/points.yaml at workspace: The plots file 'eval/points.yaml' is not valid " \
           "YAML" in result.stderr
    legend = svg_texts(tmp_path / "out" / "eval__f1.tsv.svg")
    assert "HEAD" in legend and "workspace" not in legend
    assert "The plots file 'logs/loss.csv' is empty." in result.stderr
    assert {"HEAD: train", "HEAD: val"} <= set(svg_texts(tmp_path / "out" /
                                                         "logs__loss.csv.svg"))


def test_a_plots_file_holding_a_merge_conflict_is_named_so_and_not_drawn(repo, dvx, tmp_path):
    """Both sides' rows merged into one line would be a curve no run wrote."""
    write(repo / "dvx.yaml", "stages:\n  ev:\n    cmd: 'true'\n    plots:\n"
                             "    - loss.csv: {x: epoch, y: loss}\n"
                             "    - loss.json: {x: epoch, y: loss}\n")

    def log(lr: float) -> None:
        write(repo / "loss.csv", "epoch,loss\n" + "".join(f"{e},{lr * e}\n" for e in range(3)))
        write(repo / "loss.json", "[\n" + ",\n".join(
            f'{{"epoch": {e}, "loss": {lr * e}}}' for e in range(3)) + "\n]\n")
    log(0.1)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "base")
    git(repo, "checkout", "-qb", "other")
    log(0.3)
    git(repo, "commit", "-qam", "other")
    git(repo, "checkout", "-q", "-")
    log(0.5)
    git(repo, "commit", "-qam", "ours")
    merge = subprocess.run(["git", "merge", "other"], cwd=repo, capture_output=True)
    assert merge.returncode != 0 and b"<<<<<<<" in (repo / "loss.csv").read_bytes()
    result = dvx("plots", "diff", "--json", "-o", str(tmp_path / "out"))
    assert result.code == 0, result.output
    plots = {p["path"]: p for p in json.loads(result.stdout)["plots"]}
    for path, plot in plots.items():
        assert plot["revisions"] == ["HEAD"]
        [error] = plot["errors"]
        assert error["rev"] == "workspace"
        assert error["msg"].startswith(f"{path} holds an unresolved Git merge conflict: both "
                                       "sides changed it.")
        assert f"`git checkout --ours {path}` (or --theirs)" in error["msg"]
    shown = dvx("plots", "show", "-o", str(tmp_path / "shown"))
    assert "WARNING: loss.csv at workspace: loss.csv holds an unresolved Git merge conflict" \
        in shown.stderr
    assert not (tmp_path / "shown" / "loss.csv.svg").exists()

    git(repo, "commit", "-qam", "merged with the markers")  # no merge left to finish
    result = dvx("plots", "diff", "--json", "-o", str(tmp_path / "committed"), "HEAD~1",
                 "HEAD")
    plot = json.loads(result.stdout)["plots"][0]
    assert plot["revisions"] == ["HEAD~1"] and plot["errors"] == [{"rev": "HEAD", "msg": (
        "loss.csv holds Git's conflict markers (<<<<<<<, =======, >>>>>>>) there: it was "
        "committed with an unresolved merge conflict, so it is not drawn.")}]


def test_a_field_one_revision_lacks_is_reported_and_class_labels_stay_text(repo, dvx,
                                                                           tmp_path):
    write(repo / "dvx.yaml", "stages:\n  ev:\n    cmd: 'true'\n    plots:\n"
                             "    - curve.csv: {x: epoch, y: [loss, acc]}\n"
                             "    - preds.csv: {template: confusion, x: actual, y: predicted}\n")
    write(repo / "curve.csv", "epoch,loss,acc\n0,0.9,0.1\n1,0.5,0.6\n")
    write(repo / "preds.csv", "actual,predicted\n007,7\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "v1")
    write(repo / "curve.csv", "epoch,val_loss,acc\n0,0.8,0.2\n1,0.4,0.7\n")
    result = dvx("plots", "diff", "--json", "-o", str(tmp_path / "out"))
    assert result.code == 0, result.output
    curve = next(p for p in json.loads(result.stdout)["plots"] if p["path"] == "curve.csv")
    assert [e["rev"] for e in curve["errors"]] == ["workspace"]
    assert "no field 'loss'" in curve["errors"][0]["msg"]
    page = (tmp_path / "out" / "index.html").read_text()
    assert '"actual": "007", "predicted": "7"' in page  # a wrong prediction stays wrong


def test_a_column_or_field_named_twice_is_reported_and_never_drawn_as_either(repo, dvx,
                                                                           tmp_path):
    write(repo / "dvx.yaml", "stages:\n  ev:\n    cmd: 'true'\n    plots:\n"
                             "    - loss.csv: {x: epoch, y: loss}\n"
                             "    - loss.json: {x: epoch, y: loss}\n")
    write(repo / "loss.csv", "epoch,loss\n0,1.0\n1,0.5\n")
    write(repo / "loss.json", '[{"epoch": 0, "loss": 1.0}, {"epoch": 1, "loss": 0.5}]')
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "v1")
    write(repo / "loss.csv", "epoch,loss,loss\n0,0.9,0.1\n1,0.4,0.2\n")  # a column twice
    write(repo / "loss.json", '[{"epoch": 0, "loss": 0.9, "loss": 0.1}]')
    result = dvx("plots", "diff", "--json", "-o", str(tmp_path / "out"))
    assert result.code == 0, result.output
    plots = {p["path"]: p for p in json.loads(result.stdout)["plots"]}
    assert [p["revisions"] for p in plots.values()] == [["HEAD"], ["HEAD"]]
    assert plots["loss.csv"]["errors"] == [{"rev": "workspace", "msg": (
        "The plots file 'loss.csv' names two columns 'loss' (columns 2 and 3); dvx will not "
        "guess which one is meant.")}]
    assert plots["loss.json"]["errors"] == [{"rev": "workspace", "msg": (
        "The plots file 'loss.json' has the field 'loss' twice in one object; dvx will not "
        "guess which one is meant.")}]


def test_a_column_or_field_named_twice_that_is_not_drawn_leaves_the_plot_drawn(repo, dvx,
                                                                              tmp_path):
    """Excel's export names its empty trailing columns alike, a logger may repeat a note
    column: x and y each name one column, so there is nothing to guess."""
    write(repo / "dvx.yaml", "stages:\n  ev:\n    cmd: 'true'\n    plots:\n"
                             "    - train.csv: {x: epoch, y: loss}\n"
                             "    - excel.csv: {x: epoch, y: loss}\n"
                             "    - log.json: {x: epoch, y: loss}\n")
    write(repo / "train.csv", "epoch,loss,note,note\n0,0.9,a,b\n1,0.5,c,d\n")
    write(repo / "excel.csv", "epoch,loss,,\n0,0.9,,\n1,0.5,,\n")
    write(repo / "log.json", '[{"epoch": 0, "loss": 0.9, "tag": "a", "tag": "b"}]')
    result = dvx("plots", "show", "--json", "-o", str(tmp_path / "out"))
    assert result.code == 0, result.output
    plots = {p["path"]: p for p in json.loads(result.stdout)["plots"]}
    assert {path: p["errors"] for path, p in plots.items()} == {
        "train.csv": [], "excel.csv": [], "log.json": []}
    assert len(json.loads(result.stdout)["images"]) == 3


def test_a_revision_without_the_x_field_is_reported_and_the_others_drawn(repo, dvx, tmp_path):
    write(repo / "dvx.yaml", "stages:\n  ev:\n    cmd: 'true'\n    plots:\n"
                             "    - loss.csv: {x: epoch, y: loss}\n")
    write(repo / "loss.csv", "step,loss\n0,1.0\n1,0.5\n")  # an older log format
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "v1")
    write(repo / "loss.csv", "epoch,loss\n0,0.9\n1,0.4\n")
    for revs in ((), ("workspace", "HEAD")):  # whichever revision comes first
        result = dvx("plots", "diff", *revs, "--json", "-o", str(tmp_path / "out"))
        assert result.code == 0, result.output
        (plot,) = json.loads(result.stdout)["plots"]
        assert plot["revisions"] == ["workspace"]
        assert [(e["rev"], e["msg"]) for e in plot["errors"]] == \
            [("HEAD", "it has no field 'epoch' there (it has: step, loss), so it is not drawn")]
        assert "HEAD" not in svg_texts(tmp_path / "out" / "loss.csv.svg")
        page = (tmp_path / "out" / "index.html").read_text()
        assert '"x": null' not in page and '"x": 1, "y": 0.4' in page


def test_each_revision_is_drawn_by_its_own_fields_in_the_newest_revision_s_chart(
        repo, dvx, tmp_path, monkeypatch):
    """Columns renamed in the data and in dvx.yaml, and a new template and title: each
    revision's data is read by the fields its own dvx.yaml names, whichever revision is named
    first, and the chart is drawn as the newest of them declares it."""
    write(repo / "dvx.yaml", "stages:\n  s:\n    cmd: 'true'\n    plots:\n"
                             "    - p.csv: {x: epoch, y: acc, title: Old}\n")
    write(repo / "p.csv", "epoch,acc\n0,1\n1,2\n")
    git(repo, "add", "-A")
    monkeypatch.setenv("GIT_COMMITTER_DATE", "2020-01-01T00:00:00Z")
    git(repo, "commit", "-qm", "v1")
    write(repo / "dvx.yaml", "stages:\n  s:\n    cmd: 'true'\n    plots:\n"
                             "    - p.csv: {x: ep, y: accuracy, template: bar, title: New}\n")
    write(repo / "p.csv", "ep,accuracy\n0,3\n1,4\n")
    for revs in ((), ("workspace", "HEAD")):
        out = tmp_path / "-".join(revs or ("default",))
        result = dvx("plots", "diff", *revs, "--json", "-o", str(out))
        assert result.code == 0, result.output
        (plot,) = json.loads(result.stdout)["plots"]
        assert (plot["template"], sorted(plot["revisions"]), plot["errors"]) == \
            ("bar", ["HEAD", "workspace"], [])
        page = (out / "index.html").read_text()
        assert '"x": 1, "y": 2, "rev": "HEAD"' in page and \
            '"x": 1, "y": 4, "rev": "workspace"' in page
        assert '"title": "New"' in page and '"title": "Old"' not in page
    git(repo, "add", "-A")
    monkeypatch.setenv("GIT_COMMITTER_DATE", "2020-01-02T00:00:00Z")
    git(repo, "commit", "-qm", "v2")
    result = dvx("plots", "diff", "HEAD", "HEAD~1", "--json", "-o", str(tmp_path / "c"))
    (plot,) = json.loads(result.stdout)["plots"]
    assert (plot["template"], plot["revisions"], plot["errors"]) == \
        ("bar", ["HEAD", "HEAD~1"], []), "the commit made last declares the chart"


def test_a_revision_without_a_confusion_plots_field_is_reported_and_the_others_drawn(
        repo, dvx, tmp_path):
    write(repo / "dvx.yaml", "stages:\n  ev:\n    cmd: 'true'\n    plots:\n"
                             "    - preds.csv: {template: confusion, x: actual, y: predicted}\n")
    write(repo / "preds.csv", "actual,pred\ncat,cat\ndog,cat\n")  # an older column name
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "v1")
    write(repo / "preds.csv", "actual,predicted\ncat,cat\ndog,dog\n")
    result = dvx("plots", "diff", "--json", "-o", str(tmp_path / "out"))
    assert result.code == 0, result.output
    (plot,) = json.loads(result.stdout)["plots"]
    assert plot["revisions"] == ["workspace"]
    assert [(e["rev"], e["msg"]) for e in plot["errors"]] == [
        ("HEAD", "it has no field 'predicted' there (it has: actual, pred), so it is not drawn")]
    result = dvx("plots", "diff", "-o", str(tmp_path / "out"))
    assert "WARNING: preds.csv at HEAD: it has no field 'predicted' there" in result.stderr
    write(repo / "preds.csv", "truth,predicted\ncat,cat\n")  # no revision has `actual`
    result = dvx("plots", "diff", "-o", str(tmp_path / "out"))
    assert "WARNING: preds.csv at all revisions: The plots file 'preds.csv' has no field " \
           "'predicted' (it has: actual, pred)." in result.stderr  # HEAD's, the first's


def test_a_revision_whose_dvx_yaml_is_broken_is_reported_whichever_comes_first(repo, dvx,
                                                                                tmp_path):
    pipeline = "stages:\n  s:\n    cmd: 'true'\n    plots:\n    - loss.csv\n"
    write(repo / "dvx.yaml", pipeline + "   bad: [\n")
    write(repo / "loss.csv", "step,loss\n0,1\n1,0.5\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "broken dvx.yaml")
    write(repo / "dvx.yaml", pipeline)
    for revs in (("HEAD", "workspace"), ("workspace", "HEAD")):
        out = tmp_path / "-".join(revs)
        result = dvx("plots", "diff", *revs, "-o", str(out))
        assert result.code == 0, result.output
        assert "WARNING: loss.csv at HEAD: dvx.yaml: The pipeline file 'dvx.yaml' is not " \
               "valid YAML" in result.stderr
        assert "HEAD: dvx.yaml: The pipeline file" in (out / "index.html").read_text()
        (plot,) = json.loads(dvx("plots", "diff", *revs, "--json", "-o", str(out)).stdout)[
            "plots"]
        assert [e["rev"] for e in plot["errors"]] == ["HEAD"]


def test_only_plain_ascii_numbers_in_a_csv_are_drawn_as_numbers(repo, dvx, tmp_path):
    write(repo / "dvx.yaml", "stages:\n  s:\n    cmd: 'true'\n    plots:\n"
                             "    - runs.csv: {x: run, y: score, template: bar}\n")
    write(repo / "runs.csv", "run,score\n1_0,0.5\n10, 0.7\n2023_01,1e-1\n\u0661\u0662,-.5\n"
                             "inf,1\n1e999,2\n")
    result = dvx("plots", "show", "-o", str(tmp_path / "out"))
    assert result.code == 0, result.output
    page = (tmp_path / "out" / "index.html").read_text()
    pairs = ['"x": "1_0", "y": 0.5', '"x": 10, "y": 0.7', '"x": "2023_01", "y": 0.1',
             '"x": "\\u0661\\u0662", "y": -0.5', '"x": "inf", "y": 1', '"x": "1e999", "y": 2']
    assert [pair in page for pair in pairs] == [True] * len(pairs)


def drawn_points(markup: str) -> set[tuple[str, str, str]]:
    """(x, y, series) of every point Vega drew, from the points' aria-labels."""
    return set(re.findall(r'aria-label="\w+: ([^;]*); [^:]*: ([^;]*); series: ([^;"]*)',
                          markup))


def test_an_empty_or_text_cell_on_the_y_axis_is_no_point(repo, dvx, tmp_path):
    # A logger writes val_loss every other step and leaves the other cells empty.
    write(repo / "dvx.yaml", "stages:\n  s:\n    cmd: 'true'\n    plots:\n"
                             "    - log.csv: {x: step, y: [train, val]}\n")
    write(repo / "log.csv", "step,train,val\n0,0.9,\n1,0.8,0.85\n2,0.7, \n3,0.6,0.65\n"
                            "4,0.5,0x10\n5,0.4,Infinity\n")
    out = tmp_path / "out"
    result = dvx("plots", "show", "-o", str(out))
    assert result.code == 0, result.output
    assert "WARNING: log.csv at workspace: 2 values of 'val' are not numbers (such as " \
           "'0x10'), so they are not drawn" in result.stderr
    val = {("1", "0.85", "val"), ("3", "0.65", "val")}
    points = drawn_points((out / "log.csv.svg").read_text())
    assert {p for p in points if p[2] == "val"} == val
    assert len(points) == 8
    dom = offline_dom(out / "index.html", tmp_path / "profile")  # the page draws the same
    assert {p for p in drawn_points(dom) if p[2] == "val"} == val


def test_a_revision_named_twice_is_drawn_once(repo, dvx, tmp_path):
    write(repo / "dvx.yaml", "stages:\n  s:\n    cmd: 'true'\n    plots:\n"
                             "    - preds.csv: {template: confusion, x: actual, y: predicted}\n")
    write(repo / "preds.csv", "actual,predicted\ncat,cat\ndog,dog\ndog,cat\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "v1")
    git(repo, "tag", "v1")
    for revs, drawn in ((["workspace"], ["workspace"]), (["HEAD", "HEAD"], ["HEAD"]),
                        (["HEAD", "v1", "workspace"], ["HEAD, v1", "workspace"])):
        out = tmp_path / "-".join(revs)
        result = dvx("plots", "diff", *revs, "--json", "-o", str(out))
        assert result.code == 0, result.output
        assert json.loads(result.stdout)["plots"][0]["revisions"] == drawn
        counts = re.findall(r'aria-label="predicted: [^"]*count: (\d+)"',
                            (out / "preds.csv.svg").read_text())
        assert counts and set(counts) == {"1"}, counts  # each row counted once


def test_values_json_cannot_hold_are_one_plots_error(repo, dvx, tmp_path):
    write(repo / "dvx.yaml", "stages:\n  s:\n    cmd: 'true'\n    plots:\n"
                             "    - good.csv: {x: step, y: loss}\n"
                             "    - ids.csv: {x: sample_id, y: score}\n"
                             "    - odd.yaml: {x: step, y: loss}\n"
                             "    - keys.yaml\n")
    write(repo / "good.csv", "step,loss\n0,1\n1,0.5\n")
    write(repo / "ids.csv", f"sample_id,score\n{2**64},0.5\n{2**64 + 1},{2**64}\n")
    write(repo / "odd.yaml", "- {step: 0, loss: !!binary aGVsbG8=}\n"
                             "- {step: !!set {a}, loss: 2}\n")
    write(repo / "keys.yaml", "- {1: 0, 2: 0.5}\n- {1: 1, 2: 0.25}\n")
    out = tmp_path / "out"
    result = dvx("plots", "show", "-o", str(out))
    assert result.code == 0, result.output
    assert "WARNING: odd.yaml at workspace: 1 value of 'loss' is not a number (b'hello')" \
        in result.stderr
    assert "Traceback" not in result.output
    assert sorted(p.name for p in out.iterdir()) == [
        "good.csv.svg", "ids.csv.svg", "index.html", "keys.yaml.svg", "odd.yaml.svg"]
    assert "18,446,744,073,709,551,616" in svg_texts(out / "ids.csv.svg")
    assert '"x": "{\'a\'}", "y": 2' in (out / "index.html").read_text()


def test_a_plots_file_dvx_could_not_write_out_is_one_plots_error(repo, dvx, tmp_path):
    # Valid JSON and YAML: a 5001-digit integer, half of a UTF-16 surrogate pair, and a
    # 4817-digit integer in 4002 characters.
    write(repo / "dvx.yaml", "stages:\n  s:\n    cmd: 'true'\n    plots:\n"
                             "    - good.csv: {x: step, y: loss}\n"
                             "    - long.json: {x: step, y: loss}\n"
                             "    - text.json: {x: step, y: loss}\n"
                             "    - hex.yaml: {x: step, y: loss}\n")
    write(repo / "good.csv", "step,loss\n0,1\n1,0.5\n")
    write(repo / "long.json", '[{"step": 0, "loss": 1' + "0" * 5000 + "}]")
    write(repo / "text.json", '[{"step": 0, "loss": 1, "note": "x\\ud800"}]')
    write(repo / "hex.yaml", "- {step: 0, loss: 0x" + "f" * 4000 + "}\n")
    out = tmp_path / "out"
    result = dvx("plots", "show", "-o", str(out))
    assert result.code == 0 and "Unexpected" not in result.output, result.output
    assert "WARNING: long.json at workspace: The plots file 'long.json' cannot be read: it " \
           "has an integer of 5001 digits (dvx reads at most 4300)." in result.stderr
    assert "WARNING: text.json at workspace: The plots file 'text.json' cannot be read: the " \
           "text at '0.note' holds \\ud800" in result.stderr
    assert "The plots file 'hex.yaml' cannot be read: it has an integer of 4817 digits" \
        in result.stderr
    assert (out / "good.csv.svg").exists()


def test_a_chart_with_more_values_than_can_be_drawn_is_refused_and_the_others_drawn(
        plotted, dvx, tmp_path):
    # 100,001 rows of two y fields: 200,002 values, past what dvx draws in one chart (more
    # would exhaust the memory of the JavaScript engine vl-convert runs, ending dvx).
    write(plotted / "logs" / "loss.csv", "epoch,train,val\n" + "".join(
        f"{e},0.5,0.25\n" for e in range(100_001)))
    out = tmp_path / "out"
    result = dvx("plots", "show", "-o", str(out))
    assert result.code == 0, result.output
    assert "WARNING: logs/loss.csv at all revisions: The plots file 'logs/loss.csv' has " \
           "200,002 values to draw (one per row, y field and revision), more than the " \
           "200,000 dvx draws in one chart" in result.stderr
    assert sorted(p.name for p in out.glob("*.svg")) == [
        "eval__f1.tsv.svg", "eval__points.yaml.svg", "eval__preds.json.svg"]
    assert "has 200,002 values to draw" in (out / "index.html").read_text()


def test_bad_plot_options_are_refused_by_every_command(plotted, dvx):
    write(plotted / "dvx.yaml", PIPELINE.replace("template: bar", "template: pie"))
    for args in (("plots", "show"), ("status",)):
        result = dvx(*args)
        assert result.code == 1, result.output
        assert "'template' is 'pie', not one of linear, simple" in result.stderr
        assert "Traceback" not in result.output
    write(plotted / "dvx.yaml", PIPELINE.replace("x: actual, ", ""))
    result = dvx("plots", "show")
    assert "a confusion plot needs 'x' (the actual class) and one 'y'" in result.stderr


def test_a_dvx_yaml_status_refuses_is_refused_by_plots_and_metrics_too(repo, dvx):
    write(repo / "loss.csv", "epoch,loss\n0,1\n1,0.5\n")
    typo = "stages:\n  s:\n    cmd: 'true'\n    plot:\n    - loss.csv\n"
    top_level = "stages:\n  s:\n    cmd: 'true'\nplots:\n- loss.csv: {x: epoch, y: loss}\n"
    for pipeline, error in ((typo, "ERROR: Stage 's': unknown key 'plot'."),
                            (top_level, "ERROR: dvx.yaml has a top-level 'plots' section, "
                                        "which dvx does not support")):
        write(repo / "dvx.yaml", pipeline)
        for args in (("status",), ("plots", "show"), ("metrics", "show"), ("params", "show")):
            result = dvx(*args)
            assert result.code == 1, result.output
            assert result.stderr.startswith(error), result.stderr
    assert not (repo / "dvx_plots").exists()


def test_unknown_targets_and_outputs_are_user_errors(plotted, dvx):
    result = dvx("plots", "show", "nope.csv")
    assert result.code == 2
    assert result.stderr.startswith("ERROR: 'nope.csv' is not a plots file")
    write(plotted / "taken", "x")
    assert dvx("plots", "show", "-o", "taken").code == 2


def test_files_an_earlier_run_did_not_write_are_never_replaced(plotted, dvx):
    site = plotted / "site"
    write(site / "index.html", "<h1>mine</h1>\n")
    write(site / "logs__loss.csv.svg", "my logo\n")
    result = dvx("plots", "show", "logs/loss.csv", "-o", "site")
    assert result.code == 2 and "not written by `dvx plots`" in result.stderr, result.output
    assert (site / "index.html").read_text() == "<h1>mine</h1>\n"
    assert (site / "logs__loss.csv.svg").read_text() == "my logo\n"
    # Only an image in the way, beside no page of dvx's: refused too, before any write.
    (site / "index.html").unlink()
    assert dvx("plots", "show", "logs/loss.csv", "-o", "site").code == 2
    assert sorted(p.name for p in site.iterdir()) == ["logs__loss.csv.svg"]
    # Git's and dvx's own folders are never written to, even with --force.
    for reserved in (".git/plots", ".dvx/plots"):
        assert dvx("plots", "show", "-o", reserved, "--force").code == 2
        assert not (plotted / reserved).exists()
    # --force replaces; a later run replaces its own files without being asked.
    assert dvx("plots", "show", "logs/loss.csv", "-o", "site", "--force").code == 0
    assert (site / "logs__loss.csv.svg").read_text().startswith("<svg")
    assert dvx("plots", "show", "logs/loss.csv", "-o", "site").code == 0
    assert dvx("plots", "diff", "HEAD", "--targets", "logs/loss.csv", "-o", "site").code == 0


def test_a_file_put_beside_dvxs_page_is_neither_replaced_nor_removed(plotted, dvx):
    site = plotted / "site"
    assert dvx("plots", "show", "logs/loss.csv", "-o", "site").code == 0
    write(site / "eval__f1.tsv.svg", "my own diagram\n")  # the name a plot declared later gets
    result = dvx("plots", "show", "logs/loss.csv", "eval/f1.tsv", "-o", "site")
    assert result.code == 2 and "'site/eval__f1.tsv.svg' already exists and was not written " \
        "by `dvx plots`" in result.stderr, result.output
    assert (site / "eval__f1.tsv.svg").read_text() == "my own diagram\n"
    # Never on a page's list, it is left alone when the plot is gone again.
    assert dvx("plots", "show", "logs/loss.csv", "-o", "site").code == 0
    assert (site / "eval__f1.tsv.svg").read_text() == "my own diagram\n"
    # --force replaces it; from then on the page lists it as dvx's.
    assert dvx("plots", "show", "logs/loss.csv", "eval/f1.tsv", "-o", "site",
               "--force").code == 0
    assert (site / "eval__f1.tsv.svg").read_text().startswith("<svg")
    assert dvx("plots", "show", "logs/loss.csv", "-o", "site").code == 0
    assert sorted(p.name for p in site.iterdir()) == ["index.html", "logs__loss.csv.svg"]


def page_of_an_older_dvx(charted: list[str], shown: list[str]) -> str:
    """index.html as a dvx that did not list its images wrote it (render._page up to 25ad713):
    no dvx-plots-images, a section per plot, holding a chart for each plot in `charted` (it
    wrote an image of those) and an image as a data: URL for those in `shown`."""
    charts = "".join(f'<section><h2>{path}</h2><div class="chart" id="chart{number}"></div>'
                     "</section>" for number, path in enumerate(charted))
    figures = "".join(f'<section><h2>{path}</h2><figure><img src="data:image/png;base64,iVBO" '
                      f'alt="{path} at workspace"><figcaption>workspace</figcaption></figure>'
                      "</section>" for path in shown)
    return ('<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            '<meta name="generator" content="dvx plots">\n<title>dvx plots</title>\n'
            "<style>\nbody { font-family: sans-serif; margin: 2em; }\n</style>\n</head>\n"
            f"<body>\n<h1>dvx plots</h1>\n{charts}{figures}\n<script>\n</script>\n</body>\n"
            "</html>\n")


def test_the_images_an_older_dvxs_page_shows_are_replaced_and_only_those(plotted, dvx):
    site = plotted / "site"
    write(site / "index.html", page_of_an_older_dvx(["logs/loss.csv", "eval/f1.tsv"],
                                                    ["eval/roc.png"]))
    write(site / "logs__loss.csv.svg", "<svg>an older chart</svg>\n")
    write(site / "eval__f1.tsv.svg", "<svg>an older chart</svg>\n")
    write(site / "eval__points.yaml.svg", "my own diagram\n")  # no chart of the page's
    # The page shows no chart of eval/points.yaml: that file is yours, and refused.
    result = dvx("plots", "show", "logs/loss.csv", "eval/points.yaml", "-o", "site")
    assert result.code == 2 and "'site/eval__points.yaml.svg' already exists, and the page " \
        "there, written by an older dvx, does not show it among its images" in result.stderr, \
        result.output
    assert (site / "logs__loss.csv.svg").read_text() == "<svg>an older chart</svg>\n"
    # Its own charts are replaced unasked, or removed when no longer drawn; yours stays.
    result = dvx("plots", "show", "logs/loss.csv", "eval/roc.png", "-o", "site")
    assert result.code == 0, result.output
    assert sorted(p.name for p in site.iterdir()) == [
        "eval__points.yaml.svg", "index.html", "logs__loss.csv.svg"]
    assert "<svg>an older chart</svg>" not in (site / "logs__loss.csv.svg").read_text()
    assert (site / "eval__points.yaml.svg").read_text() == "my own diagram\n"
    # The page does not say in which format it drew: with both there, neither is taken.
    write(site / "index.html", page_of_an_older_dvx(["logs/loss.csv"], []))
    write(site / "logs__loss.csv.png", "my own picture\n")
    assert dvx("plots", "show", "logs/loss.csv", "-o", "site").code == 2
    assert (site / "logs__loss.csv.png").read_text() == "my own picture\n"


def test_images_of_plots_no_longer_drawn_are_removed_and_only_those(plotted, dvx, tmp_path):
    out = tmp_path / "out"
    assert dvx("plots", "show", "-o", str(out)).code == 0
    write(out / "mine.svg", "<svg/>\n")  # the user's, beside dvx's
    write(out / "notes.txt", "mine\n")
    write(plotted / "logs" / "loss.csv", "epoch,val_loss\n0,9\n1,8\n")  # no `train` nor `val`
    write(plotted / "dvx.yaml", PIPELINE.replace("    - eval/f1.tsv: {template: bar, x: cls, "
                                                 "y: f1}\n", ""))
    result = dvx("plots", "show", "-o", str(out), "--json")
    assert result.code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == [
        "eval__points.yaml.svg", "eval__preds.json.svg", "index.html", "mine.svg", "notes.txt"]
    # A run killed before it removed them leaves them listed: the next run removes them.
    assert dvx("plots", "show", "-o", str(out), "--image-format", "png").code == 0
    write(plotted / "logs" / "loss.csv", "epoch,train,val\n0,1,2\n")
    killed = run_dvx_proc("plots", "show", "-o", str(out), cwd=plotted,
                          env={"DVX_FAULT": "atomic_write.before_rename:4"})  # the last svg
    assert killed.code == -signal.SIGKILL, killed.output
    assert "eval__points.yaml.png" in (p.name for p in out.iterdir())
    assert dvx("plots", "show", "-o", str(out)).code == 0
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == [
        "eval__points.yaml.svg", "eval__preds.json.svg", "index.html", "logs__loss.csv.svg",
        "mine.svg", "notes.txt"]


def test_a_run_killed_at_any_write_leaves_files_the_next_run_replaces(plotted, dvx, tmp_path):
    out = tmp_path / "out"
    expected = ["eval__f1.tsv.svg", "eval__points.yaml.svg", "eval__preds.json.svg",
                "index.html", "logs__loss.csv.svg"]
    for write_number in range(1, len(expected) + 1):  # the page, then each image
        shutil.rmtree(out, ignore_errors=True)
        killed = run_dvx_proc("plots", "show", "-o", str(out), cwd=plotted,
                              env={"DVX_FAULT": f"atomic_write.before_rename:{write_number}"})
        assert killed.code == -signal.SIGKILL, killed.output
        assert any(p.name.endswith(".tmp") for p in out.iterdir()), "killed while writing"
        (out / ".index.html.mine").write_text("a file of the user's, named alike")
        result = dvx("plots", "show", "-o", str(out))
        assert result.code == 0, result.output
        assert sorted(p.name for p in out.iterdir()) == [".index.html.mine", *expected], \
            "the killed run's temporary is gone, the user's file stays"


def test_ctrl_c_while_writing_says_some_images_may_be_an_earlier_runs(plotted, tmp_path):
    out = tmp_path / "out"
    proc = stopped_at("atomic_write.before_rename:2", f"plots show -o {out}", plotted)
    proc.send_signal(signal.SIGINT)
    proc.send_signal(signal.SIGCONT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert f"ERROR: Interrupted while writing the plots into '{out}'. Some images there may " \
           "still be an earlier run's" in stderr
    assert "Nothing was left half-written" not in stderr


# -- in a real browser, offline ---------------------------------------------------------------

class _Charts(HTMLParser):
    """How many chart containers hold a drawn SVG (vega-embed draws into the div)."""

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0  # > 0 inside a chart div
        self.charts: list[int] = []  # marks drawn, per chart

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "div" and (values.get("id") or "").startswith("chart"):
            self.depth = 1
            self.charts.append(0)
        elif self.depth and tag == "div":
            self.depth += 1
        elif self.depth and tag in ("path", "rect"):
            self.charts[-1] += 1

    def handle_endtag(self, tag: str) -> None:
        if self.depth and tag == "div":
            self.depth -= 1


def offline_dom(page: Path, profile: Path) -> str:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("chromium is not installed (apt-get install chromium)")
    proc = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--no-first-run", f"--user-data-dir={profile}",
         # the network is off: no proxy answers and no name resolves
         "--proxy-server=127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND",
         "--virtual-time-budget=20000", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def test_the_page_draws_every_chart_in_a_browser_with_the_network_off(plotted, dvx,
                                                                       tmp_path):
    out = tmp_path / "report"
    assert dvx("plots", "diff", "HEAD~1", "HEAD", "workspace", "-o", str(out)).code == 0
    dom = offline_dom(out / "index.html", tmp_path / "profile")
    charts = _Charts()
    charts.feed(dom)
    assert len(charts.charts) == 4
    assert all(marks > 3 for marks in charts.charts), charts.charts
    assert 'data-failed="yes"' not in dom
    assert 'class="marks"' in dom


def test_a_plots_directory_is_named_a_directory_in_a_commit_as_in_the_workspace(repo, dvx,
                                                                               tmp_path):
    """A plot declared on a directory (`cache: true`, so the commit's dvx.lock records it, or
    `cache: false`, so Git holds its files) is one error naming it a directory, at HEAD as in
    the workspace, never a file missing there."""
    run_and_commit(
        repo,
        "stages:\n  s:\n    cmd: mkdir -p pl pg && printf 'step,loss\\n0,1\\n' > pl/loss.csv"
        " && cp pl/loss.csv pg/\n    plots:\n    - pl: {cache: true, x: step, y: loss}\n"
        "    - pg: {cache: false, x: step, y: loss}\n",
        "plots")
    result = dvx("plots", "diff", "HEAD", "-o", str(tmp_path / "out"), cwd=repo)
    assert result.code == 0, result.output
    assert "does not exist" not in result.stderr
    commit = git(repo, "rev-parse", "HEAD")[:10]
    for path in ("pl", "pg"):
        assert f"WARNING: {path} at workspace: '{path}' is a directory, not a file." \
            in result.stderr
    assert f"WARNING: pl at HEAD: 'pl' is a directory dvx tracks in commit {commit}, not a " \
        "file." in result.stderr
    assert f"WARNING: pg at HEAD: 'pg' is a tree in commit {commit}, not a file." \
        in result.stderr
