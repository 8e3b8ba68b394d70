#!/usr/bin/env python3
"""The `report` bench's charts drawn with matplotlib (Agg), the way a matplotlib user would.

The bench writes the data of its charts to a JSON file (the same points sim's `reports` crate
draws); this script draws the equivalent charts at 960x480 px (figsize 9.6 x 4.8 in, dpi 100)
with the Agg backend and times each render with ``time.perf_counter``:

- ``timeseries``: ``Axes.plot``, one line per series;
- ``cdf``: ``Axes.ecdf``, one step line per set of samples (sorting them is part of the render,
  as it is in sim's);
- ``gantt``: ``Axes.broken_barh``, one call per (row, item), items coloured and in the legend;
- ``timeline``: ``broken_barh`` per (row, class) for the spans, ``axvspan`` (alpha 0.25) for the
  bands across all rows and ``broken_barh`` (alpha 0.25) for the bands on one row, ``axvline``
  (dashed) plus a text label for each marker; no text inside the spans (sim's draws a span's label
  only where it fits, and at this density none does);
- ``bars``: ``Axes.bar``, one call per series, side by side in each category.

Every chart has its title, axis labels and, with more than one entry, a legend outside the axes
on the right (as sim's has its own strip). One repetition builds a new ``Figure``, draws, and
saves into an in-memory buffer: ``svg`` with ``svg.fonttype = "none"`` (text as ``<text>``
elements, as sim's SVGs have), ``svg_paths`` with matplotlib's default ``"path"`` (each glyph
as a path), and ``png``. One warm-up repetition of each is not counted.

Usage: charts_matplotlib.py DATA.json [REPS]   (REPS default 7; kinds missing from DATA are skipped)

Prints one JSON line: ``matplotlib_version``, ``python_version``, ``reps`` and ``charts``:
``{kind: {format: {"median_ms", "min_ms", "max_ms", "bytes"}}}``.
Exit code 3: matplotlib (or numpy) is not installed.
"""

import io
import json
import platform
import statistics
import sys
import time

try:
    import matplotlib

    matplotlib.use("Agg")
    import numpy as np
    from matplotlib.figure import Figure
except ImportError:
    print("matplotlib is not installed (pip install matplotlib)", file=sys.stderr)
    sys.exit(3)

WIDTH_IN, HEIGHT_IN, DPI = 9.6, 4.8, 100
# sim's lines are 2 px wide: 2 px at 100 dpi is 1.44 pt.
LINE_PT = 2 * 72 / DPI
PALETTE = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
]
# The fixed colours sim gives Raft roles and bands (reports/src/chart.rs).
CLASS_COLOURS = {"leader": PALETTE[2], "follower": PALETTE[0], "candidate": PALETTE[1]}
BAND_COLOURS = {"partition": "#505050", "crashed": "#c80000", "paused": "#6e28aa"}


def label(axis):
    return f"{axis['name']} ({axis['unit']})" if axis.get("unit") else axis["name"]


def new_axes(title):
    fig = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI)
    ax = fig.subplots()
    # Room on the right for the legend, as sim's legend strip.
    fig.subplots_adjust(left=0.08, right=0.80, top=0.90, bottom=0.12)
    ax.set_title(title)
    return fig, ax


def legend(ax):
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, fontsize="small")


def draw_timeseries(d):
    fig, ax = new_axes(d["title"])
    for s in d["series"]:
        ax.plot(s["x"], s["y"], linewidth=LINE_PT, label=s["name"])
    ax.set_xlabel(label(d["x"]))
    ax.set_ylabel(label(d["y"]))
    legend(ax)
    return fig


def draw_cdf(d):
    fig, ax = new_axes(d["title"])
    for s in d["samples"]:
        ax.ecdf(s["values"], linewidth=LINE_PT, label=s["name"])
    ax.set_xlabel(label(d["x"]))
    ax.set_ylabel("fraction of samples at or below")
    legend(ax)
    return fig


def draw_gantt(d):
    fig, ax = new_axes(d["title"])
    rows, items = d["rows"], d["items"]
    labelled = set()
    for (r, i), ranges in d["groups"]:
        lab = items[i] if i not in labelled else None
        labelled.add(i)
        y = len(rows) - 1 - r
        ax.broken_barh(ranges, (y - 0.35, 0.7), facecolors=PALETTE[i % len(PALETTE)], label=lab)
    ax.set_yticks(range(len(rows)), list(reversed(rows)))
    ax.set_ylim(-0.5, len(rows) - 0.5)
    ax.set_xlabel(label(d["x"]))
    ax.set_ylabel(d["row_axis"])
    legend(ax)
    return fig


def draw_timeline(d):
    fig, ax = new_axes(d["title"])
    rows, classes = d["rows"], d["classes"]
    n = len(rows)
    labelled = set()
    for (r, c), ranges in d["groups"]:
        name = classes[c]
        lab = name if name not in labelled else None
        labelled.add(name)
        y = n - 1 - r
        ax.broken_barh(ranges, (y - 0.35, 0.7), facecolors=CLASS_COLOURS.get(name, PALETTE[c]), label=lab)
    for b in d["bands"]:
        colour = BAND_COLOURS.get(b["label"], "#505050")
        lab = b["label"] if b["label"] not in labelled else None
        labelled.add(b["label"])
        if b["row"] is None:
            ax.axvspan(b["start"], b["end"], color=colour, alpha=0.25, linewidth=0, label=lab)
        else:
            y = n - 1 - b["row"]
            ax.broken_barh([(b["start"], b["end"] - b["start"])], (y - 0.5, 1.0),
                           facecolors=colour, alpha=0.25, label=lab)
    for m in d["markers"]:
        ax.axvline(m["at"], color="#3c3c3c", linestyle="--", linewidth=0.72)
        ax.text(m["at"], n - 0.45, m["label"], fontsize=8.6, ha="center", va="bottom", clip_on=False)
    ax.set_yticks(range(n), list(reversed(rows)))
    ax.set_ylim(-0.5, n - 0.5)
    ax.set_xlabel(label(d["x"]))
    ax.set_ylabel(d["row_axis"])
    legend(ax)
    return fig


def draw_bars(d):
    fig, ax = new_axes(d["title"])
    cats, series = d["categories"], d["series"]
    width = 0.8 / len(series)
    x = np.arange(len(cats))
    for k, s in enumerate(series):
        ax.bar(x - 0.4 + width * (k + 0.5), s["values"], width, label=s["name"])
    ax.set_xticks(x, cats)
    ax.set_xlabel(d["x"])
    ax.set_ylabel(label(d["y"]))
    legend(ax)
    return fig


def prepare(data):
    """Lists to numpy arrays and bars grouped per call, before any timing (not part of a render,
    as sim's charts hold their data in memory too)."""
    for s in data.get("timeseries", {}).get("series", []):
        s["x"] = np.asarray(s["x"], dtype=float)
        s["y"] = np.asarray(s["y"], dtype=float)
    for s in data.get("cdf", {}).get("samples", []):
        s["values"] = np.asarray(s["values"], dtype=float)
    for kind, key in (("gantt", "bars"), ("timeline", "spans")):
        if kind not in data:
            continue
        d = data[kind]
        groups = {}
        for row, start, end, k in d[key]:
            groups.setdefault((row, k), []).append((start, end - start))
        d["groups"] = sorted(groups.items())
    return data


DRAW = {
    "timeseries": draw_timeseries,
    "cdf": draw_cdf,
    "gantt": draw_gantt,
    "timeline": draw_timeline,
    "bars": draw_bars,
}
FORMATS = {
    "svg": ("svg", "none"),
    "svg_paths": ("svg", "path"),
    "png": ("png", "none"),
}


def render(draw, d, fmt, fonttype):
    matplotlib.rcParams["svg.fonttype"] = fonttype
    buf = io.BytesIO()
    fig = draw(d)
    fig.savefig(buf, format=fmt, dpi=DPI)
    return buf.getbuffer().nbytes


def main(argv):
    if len(argv) < 2:
        print("usage: charts_matplotlib.py DATA.json [REPS]", file=sys.stderr)
        return 2
    try:
        reps = int(argv[2]) if len(argv) > 2 else 7
    except ValueError:
        reps = 0
    if reps <= 0:
        print("REPS must be a positive whole number", file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8") as f:
        data = prepare(json.load(f))
    out = {}
    for kind, draw in DRAW.items():
        if kind not in data:
            continue
        d = data[kind]
        out[kind] = {}
        for name, (fmt, fonttype) in FORMATS.items():
            size = render(draw, d, fmt, fonttype)  # warm-up, not counted
            times = []
            for _ in range(reps):
                started = time.perf_counter()
                size = render(draw, d, fmt, fonttype)
                times.append((time.perf_counter() - started) * 1e3)
            out[kind][name] = {
                "median_ms": statistics.median(times),
                "min_ms": min(times),
                "max_ms": max(times),
                "bytes": size,
            }
    print(json.dumps({
        "matplotlib_version": matplotlib.__version__,
        "python_version": platform.python_version(),
        "reps": reps,
        "charts": out,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
