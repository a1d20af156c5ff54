"""Plots as small SVG documents, written by hand: no plotting library, nothing to install, and a
report that embeds them as data URIs opens offline. Two kinds: stacked line panels (a test
series, its labels and each detector's scores) and the critical-difference diagram."""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

import numpy as np
from numpy.typing import NDArray

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf")
FONT = "font-family='Helvetica,Arial,sans-serif' font-size='11'"


def data_uri(svg: str) -> str:
    """The SVG as a ``data:`` URI for an ``<img src=...>``."""
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


def decimate(
    y: NDArray[np.float64], max_points: int
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """At most ``max_points`` (x, y) pairs that keep every bucket's minimum and maximum, so that
    a spike survives the thinning."""
    n = len(y)
    if n <= max_points:
        return np.arange(n), y
    buckets = np.array_split(np.arange(n), max_points // 2)
    xs = []
    for b in buckets:
        seg = y[b]
        lo, hi = b[np.argmin(seg)], b[np.argmax(seg)]
        xs.extend(sorted({int(lo), int(hi)}))
    x = np.asarray(xs, dtype=np.int64)
    return x, y[x]


def _scale(values: NDArray[np.float64], extra: Sequence[float] = ()) -> tuple[float, float]:
    """The range a panel shows: its finite values (and ``extra``, a threshold it draws)."""
    finite = values[np.isfinite(values)]
    pool = np.concatenate([finite, np.asarray(extra, dtype=float)])
    if not len(pool):
        return 0.0, 1.0
    return float(pool.min()), float(pool.max())


Box = tuple[float, float, float, float]  # left, top, width, height


def _y(values: Any, box: Box, span: tuple[float, float]) -> Any:
    """The vertical position of ``values`` in ``box``, ``span`` (lo, hi) bottom to top."""
    _, top, _, height = box
    lo, hi = span
    return (
        top
        + height
        - (np.where(np.isfinite(values), values, lo) - lo) / ((hi - lo) or 1.0) * height
    )


def _polyline(
    x: NDArray[np.int64], y: NDArray[np.float64], n: int, box: Box, span: tuple[float, float]
) -> str:
    px = box[0] + x / max(n - 1, 1) * box[2]
    return " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(px, _y(y, box, span), strict=True))


#: line styles beyond the palette's colours: more than 8 detectors stay distinguishable
DASHES = ("", "6,3", "2,2")


def style(i: int) -> str:
    """The stroke of the ``i``-th line: a colour, then a dash pattern once the colours repeat."""
    color = PALETTE[i % len(PALETTE)]
    dash = DASHES[(i // len(PALETTE)) % len(DASHES)]
    return f"stroke='{color}'" + (f" stroke-dasharray='{dash}'" if dash else "")


def panels(
    labels: NDArray[np.int8],
    series: Mapping[str, NDArray[np.float64]],
    title: str,
    width: int = 1150,
    panel_height: int = 60,
    max_points: int = 1500,
    thresholds: Mapping[str, float] | None = None,
    threshold_name: str = "",
) -> str:
    """Stacked panels sharing the time axis, one per entry of ``series`` (name -> 1-D values,
    each scaled to its own panel), with the labelled anomalies shaded in every panel and, in
    the panels ``thresholds`` names, the threshold as a dashed line."""
    n = len(labels)
    thresholds = thresholds or {}
    left, gap, top = 130, 8, 24
    height = top + len(series) * (panel_height + gap) + 20
    out = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
        f"viewBox='0 0 {width} {height}' {FONT}>",
        "<rect width='100%' height='100%' fill='white'/>",
        f"<text x='{left}' y='15' font-weight='bold'>{escape(title)}</text>",
    ]
    plot_w = width - left - 10
    # the labelled anomalies: one shaded band per event
    padded = np.concatenate([[0], labels.astype(np.int8), [0]])
    starts = np.flatnonzero(np.diff(padded) == 1)
    ends = np.flatnonzero(np.diff(padded) == -1)
    for i, (name, values) in enumerate(series.items()):
        y0 = top + i * (panel_height + gap)
        for s, e in zip(starts, ends, strict=True):
            x0 = left + s / max(n - 1, 1) * plot_w
            w = max((e - s) / max(n - 1, 1) * plot_w, 1.0)
            out.append(
                f"<rect x='{x0:.1f}' y='{y0}' width='{w:.1f}' height='{panel_height}' "
                "fill='#f4a6a6' fill-opacity='0.45'/>"
            )
        out.append(
            f"<rect x='{left}' y='{y0}' width='{plot_w}' height='{panel_height}' fill='none' "
            "stroke='#bbb'/>"
        )
        y_all = np.asarray(values, dtype=float)
        limit = thresholds.get(name)
        span = _scale(y_all, () if limit is None or not np.isfinite(limit) else (limit,))
        x, y = decimate(y_all, max_points)
        box = (left, y0 + 2, plot_w, panel_height - 4)
        points = _polyline(x, y, n, box, span)
        out.append(f"<polyline points='{points}' fill='none' {style(i)} stroke-width='1'/>")
        if limit is not None and np.isfinite(limit):
            ty = float(_y(limit, box, span))
            out.append(
                f"<line x1='{left}' x2='{left + plot_w}' y1='{ty:.1f}' y2='{ty:.1f}' "
                "stroke='#222' stroke-dasharray='4,3' stroke-width='1'/>"
            )
        out.append(
            f"<text x='{left - 6}' y='{y0 + panel_height / 2 + 4}' text-anchor='end'>"
            f"{escape(name[:22])}</text>"
        )
    legend = "shaded: labelled anomalies" + (
        f"; dashed: the {threshold_name} threshold" if thresholds else ""
    )
    out.append(
        f"<text x='{left}' y='{height - 5}' fill='#555'>0</text>"
        f"<text x='{left + plot_w}' y='{height - 5}' text-anchor='end' fill='#555'>"
        f"{n - 1} (time step; {escape(legend)})</text>"
    )
    out.append("</svg>")
    return "\n".join(out)


def cd_diagram(
    mean_ranks: Mapping[str, float], cd: float, groups: Sequence[Sequence[str]], title: str
) -> str:
    """Demšar's critical-difference diagram: the rank axis (1 = best, on the left), each
    detector at its average rank, bars joining detectors not significantly different, and the
    critical difference drawn to scale."""
    order = sorted(mean_ranks, key=lambda d: mean_ranks[d])
    k = len(order)
    lo, hi = 1, max(k, 2)
    width, left, right = 700, 170, 170
    axis_y, step = 70, 22
    half = (k + 1) // 2
    height = axis_y + 30 + max(half, k - half) * step + len(groups) * 8 + 20

    def x(rank: float) -> float:
        return left + (rank - lo) / (hi - lo) * (width - left - right)

    out = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
        f"viewBox='0 0 {width} {height}' {FONT}>",
        "<rect width='100%' height='100%' fill='white'/>",
        f"<text x='{width / 2}' y='15' text-anchor='middle' font-weight='bold'>"
        f"{escape(title)}</text>",
        f"<line x1='{x(lo)}' y1='{axis_y}' x2='{x(hi)}' y2='{axis_y}' stroke='black'/>",
    ]
    for r in range(lo, hi + 1):
        out.append(
            f"<line x1='{x(r)}' y1='{axis_y - 5}' x2='{x(r)}' y2='{axis_y}' stroke='black'/>"
            f"<text x='{x(r)}' y='{axis_y - 8}' text-anchor='middle'>{r}</text>"
        )
    # the critical difference to scale, above the axis
    out.append(
        f"<line x1='{x(lo)}' y1='32' x2='{x(min(lo + cd, hi))}' y2='32' stroke='black' "
        "stroke-width='2'/>"
        f"<text x='{x(lo)}' y='28'>CD = {cd:.2f}</text>"
    )
    # bars of the groups that are not significantly different, just below the axis
    for i, g in enumerate(groups):
        y = axis_y + 6 + i * 8
        x1, x2 = x(mean_ranks[g[0]]) - 3, x(mean_ranks[g[-1]]) + 3
        out.append(
            f"<line x1='{x1:.1f}' y1='{y}' x2='{x2:.1f}' y2='{y}' stroke='#333' stroke-width='3'/>"
        )
    base = axis_y + 14 + len(groups) * 8
    for i, name in enumerate(order):
        rank = mean_ranks[name]
        on_left = i < half
        row = i if on_left else k - 1 - i
        y = base + row * step
        xe = left - 10 if on_left else width - right + 10
        out.append(
            f"<polyline points='{x(rank):.1f},{axis_y} {x(rank):.1f},{y} {xe:.1f},{y}' "
            "fill='none' stroke='#555'/>"
        )
        anchor, tx = ("end", xe - 4) if on_left else ("start", xe + 4)
        out.append(
            f"<text x='{tx:.1f}' y='{y + 4}' text-anchor='{anchor}'>"
            f"{escape(name)} ({rank:.2f})</text>"
        )
    out.append("</svg>")
    return "\n".join(out)
