"""The Markdown report: one table per workload, floors, and ratios against the floors."""

from __future__ import annotations

import datetime
import os
import platform
import statistics
from pathlib import Path

from .floors import (
    F_CP,
    F_CPAL,
    F_READ,
    F_WALK,
    F_XXH,
    f_copy_tree,
    f_tar_get,
    f_tar_put,
    f_tar_unpack,
)
from .proc import run
from .workloads import WORKLOADS


def fmt_s(x: float) -> str:
    return f"{x:.3f}" if x < 10 else f"{x:.2f}" if x < 100 else f"{x:.1f}"


def spread(values: list[float]) -> str:
    med = statistics.median(values)
    if len(values) == 1:
        return fmt_s(med)
    return f"{fmt_s(med)} ({fmt_s(min(values))}–{fmt_s(max(values))})"


def aggregate(outcomes: list) -> dict:
    ok = [o for o in outcomes if o.status == "ok"]
    if outcomes and len(ok) == len(outcomes):
        return {"status": "ok", "median": statistics.median(o.seconds for o in ok),
                "cell": spread([o.seconds for o in ok]),
                "rss": f"{max(o.rss_mb for o in ok):.0f}"}
    for status in ("FAILED", "skipped", "n/a"):
        bad = [o for o in outcomes if o.status == status]
        if bad:
            msg = bad[0].message.replace("|", "\\|")[:90]
            several = status == "FAILED" and len(outcomes) > 1
            count = f" in {len(bad)}/{len(outcomes)} runs" if several else ""
            cell = "n/a" if status == "n/a" else f"{status}{count}: {msg}"
            return {"status": status, "median": None, "cell": cell, "rss": "—"}
    return {"status": "none", "median": None, "cell": "—", "rss": "—"}


def ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}×" if a is not None and b else "—"


def machine_info(tools: dict, workdir: Path, args) -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    fs = run(["stat", "-f", "-c", "%T", workdir]).stdout.strip() or "?"
    nproc = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    date = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    dvx, dvc = tools.get("dvx"), tools.get("DVC")
    return (f"nproc {nproc} · {cpu} · Linux {platform.release()} · {fs} · "
            f"Python {platform.python_version()} · dvx {dvx.version if dvx else 'n/a'} · "
            f"DVC {dvc.version if dvc else 'not measured'} · {date} · "
            f"scale {args.scale}, {args.runs} run(s), seed {args.seed}")


def build_report(args, machine: str, tools: dict, results: dict, floors: dict, shown: dict,
                 notes: list[str] = ()) -> str:
    lines = ["# dvx benchmark", "", machine, ""]
    for note in notes:
        lines += [f"> {note}", ""]
    for note in (t.note for t in tools.values() if t.note):
        lines += [f"> {note}", ""]
    if "DVC" not in tools:
        lines += ["> DVC not measured (--skip-dvc or install failed).", ""]
    medians: dict = {}
    for wl, by_tool in results.items():
        lines += [f"## {wl}: {WORKLOADS[wl][1]} (`{WORKLOADS[wl][0]}`)", "",
                  "| step | dvx s, median (min–max) | DVC s, median (min–max) | dvx/DVC "
                  "| dvx peak RSS MB | DVC peak RSS MB |",
                  "|---|---|---|---|---|---|"]
        for step in shown[wl]:
            a = aggregate(by_tool.get("dvx", {}).get(step, []))
            b = aggregate(by_tool.get("DVC", {}).get(step, []))
            medians[(wl, step)] = (a["median"], b["median"])
            lines.append(f"| {step} | {a['cell']} | {b['cell']} | "
                         f"{ratio(a['median'], b['median'])} | {a['rss']} | {b['rss']} |")
        lines.append("")
    lines += ["## Floors (same machine, same run, page cache warm)", "",
              "| floor | seconds, median (min–max) |", "|---|---|"]
    lines += [f"| {name} | {spread(vals)} |" for name, vals in floors.items()]
    lines += ["", "## Against the floors", "",
              "| comparison | floor s | dvx s | dvx/floor | DVC s | DVC/floor |",
              "|---|---|---|---|---|---|"]
    med = {k: statistics.median(v) for k, v in floors.items()}
    # Hashing alone (xxh128sum minus its read) on top of the cheapest placement. Never below
    # the copy itself: the two medians are close, and xxh128sum's 64 KiB reads can beat cat's.
    copy_hash = (med[F_CP] + max(0.0, med[F_XXH] - med[F_READ])
                 if F_CP in med and F_READ in med and F_XXH in med else None)
    for label, key, floor in (
            ("no-change status W3 vs stat walk (subprocess)", ("W3", "status"), med.get(F_WALK)),
            ("add W1 (copy) vs cp W1 + hashing (xxh128sum − cat, at least 0)", ("W1", "add"),
             copy_hash),
            ("add-hardlink W1 vs xxh128sum W1 (one read and the hash)", ("W1", "add-hardlink"),
             med.get(F_XXH)),
            ("checkout-hardlink W3 vs cp -al W3", ("W3", "checkout-hardlink"), med.get(F_CPAL)),
            ("add W2 vs cp -r W2", ("W2", "add"), med.get(f_copy_tree("W2"))),
            ("push-dir W2 vs cp -r W2", ("W2", "push-dir"), med.get(f_copy_tree("W2"))),
            ("add W3 vs cp -r W3", ("W3", "add"), med.get(f_copy_tree("W3"))),
            ("push-dir W3 vs cp -r W3", ("W3", "push-dir"), med.get(f_copy_tree("W3"))),
            ("push-s3 W2 vs W2 as one tar object up", ("W2", "push-s3"), med.get(f_tar_put("W2"))),
            ("clone-pull-s3 W2 vs W2 as one tar object down", ("W2", "clone-pull-s3"),
             med.get(f_tar_get("W2"))),
            ("clone-pull-s3 W2 vs W2 as one tar object down and unpacked",
             ("W2", "clone-pull-s3"), med.get(f_tar_unpack("W2"))),
            ("push-s3 W3 vs W3 as one tar object up", ("W3", "push-s3"), med.get(f_tar_put("W3"))),
            ("clone-pull-s3 W3 vs W3 as one tar object down", ("W3", "clone-pull-s3"),
             med.get(f_tar_get("W3"))),
            ("clone-pull-s3 W3 vs W3 as one tar object down and unpacked",
             ("W3", "clone-pull-s3"), med.get(f_tar_unpack("W3")))):
        a, b = medians.get(key, (None, None))
        lines.append(f"| {label} | {fmt_s(floor) if floor else '—'} | {fmt_s(a) if a else '—'} "
                     f"| {ratio(a, floor)} | {fmt_s(b) if b else '—'} | {ratio(b, floor)} |")
    lines += ["", "Ratios below 1× mean dvx is faster than DVC (or than the floor); "
              "`n/a` means the command does not exist in that tool yet.", ""]
    return "\n".join(lines)
