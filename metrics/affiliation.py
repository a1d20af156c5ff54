"""Affiliation precision, recall and F1 (Huet, Navarro & Rossi, KDD 2022).

Events are half-open intervals: a run of 1 over points i..j is ``[i, j + 1)``; the series spans
``[0, n)`` (TSB-AD's ``Trange``). Each ground-truth event J owns an *affiliation zone* E: the
series cut at the midpoints between consecutive ground-truth events. Predicted intervals are
cut by zone. With X uniform on E:

* precision of a zone: the mean, over the predicted length in it, of ``P(d(X, J) >= d(x, J))``
  at each predicted point x; zones without prediction are left out of the mean (no prediction
  at all: precision undefined);
* recall of a zone: the mean over the points y of J of ``P(|X - y| >= d(y, predictions))``,
  where the nearest prediction is taken within the zone; a zone without prediction scores 0.

Precision and recall are the means over zones; F1 = 2PR / (P + R), 0 when nothing is
predicted (recall is 0 then; TSB-AD adds 1e-15 to the denominator, we do not). The integrals
have closed forms (piecewise linear and quadratic in the position), evaluated here for all
pieces at once; equal to the reference package (ahstat/affiliation-metrics-py, vendored by
TSB-AD) to 1e-9.

``@oracle`` searches a grid of rank-quantile thresholds: 250 by default, every distinct score
with ``oracle(n_thresholds=0)``. The values at every threshold come from one pass
(:func:`_affiliation_curve`, O(n log n) once, then about O(events + anomalous points) per
threshold), equal to evaluating each threshold's predictions on their own.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from tsadbench.metrics.point import events
from tsadbench.metrics.range import grid_oracle
from tsadbench.metrics.thresholds import check_compat, first_flagged, tsbad_grid
from tsadbench.metrics.validation import check_labels_scores, check_predictions
from tsadbench.registry import register_metric

FloatArray = NDArray[np.float64]


def _pieces(
    p_start: FloatArray, p_end: FloatArray, bounds: FloatArray
) -> tuple[NDArray[np.intp], NDArray[np.intp], FloatArray, FloatArray]:
    """Cut intervals ``[p_start, p_end)`` at the sorted zone ``bounds``; return (interval,
    zone, start, end) of every piece of positive length."""
    first = np.searchsorted(bounds, p_start, side="right")
    last = np.searchsorted(bounds, p_end, side="left")
    count = last - first + 1
    owner = np.repeat(np.arange(len(p_start)), count)
    zone = first[owner] + (np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count))
    edges = np.r_[-np.inf, bounds, np.inf]
    start = np.maximum(p_start[owner], edges[zone])
    end = np.minimum(p_end[owner], edges[zone + 1])
    keep = end > start
    return owner[keep], zone[keep], start[keep], end[keep]


def _precision_integral(
    s: FloatArray, e: FloatArray, j0: FloatArray, j1: FloatArray, e0: FloatArray, e1: FloatArray
) -> FloatArray:
    """∫ over [s, e) of P(d(X, J) >= d(x, J)), X ~ U(E), piece by piece."""
    size = e1 - e0
    m = np.minimum(j0 - e0, e1 - j1)
    middle = np.clip(np.minimum(e, j1) - np.maximum(s, j0), 0, None)

    def outside(d_min: FloatArray, d_max: FloatArray) -> FloatArray:
        width = d_max - d_min
        min_piece = (np.minimum(d_max, m) ** 2 - np.minimum(d_min, m) ** 2) / 2 + m * (
            np.maximum(d_max, m) - np.maximum(d_min, m)
        )
        result: FloatArray = (
            width - ((j1 - j0) * width + (d_max**2 - d_min**2) / 2 + min_piece) / size
        )
        return result

    left_end = np.minimum(e, j0)
    left = np.where(s < j0, outside(j0 - left_end, j0 - s), 0.0)
    right_start = np.maximum(s, j1)
    right = np.where(e > j1, outside(right_start - j1, e - j1), 0.0)
    result: FloatArray = middle + left + right
    return result


def _recall_integral(
    a: FloatArray, b: FloatArray, s: FloatArray, e: FloatArray, e0: FloatArray, e1: FloatArray
) -> FloatArray:
    """∫ over y in [a, b) of P(|X - y| >= d(y, [s, e))), X ~ U(E), piece by piece."""
    size = e1 - e0
    overlap = np.clip(np.minimum(b, e) - np.maximum(a, s), 0, None)
    # left of the prediction (pivot s): flat 1 - (s - e0)/|E| up to (e0 + s)/2, then
    # 1 - 2(s - y)/|E|
    l0, l1 = a, np.minimum(b, s)
    c = (e0 + s) / 2
    flat_len = np.clip(np.minimum(l1, c) - l0, 0, None)
    r0 = np.maximum(l0, c)
    ramp_len = np.clip(l1 - r0, 0, None)
    ramp_hi = r0 + ramp_len
    left = (
        flat_len * (1 - (s - e0) / size)
        + ramp_len
        - 2 / size * (s * ramp_len - (ramp_hi**2 - r0**2) / 2)
    )
    left = np.where(a < s, left, 0.0)
    # right of the prediction (pivot e): 1 - 2(y - e)/|E| up to (e + e1)/2, then flat
    q0, q1 = np.maximum(a, e), b
    c2 = (e + e1) / 2
    ramp_len2 = np.clip(np.minimum(q1, c2) - q0, 0, None)
    ramp_hi2 = q0 + ramp_len2
    flat_len2 = np.clip(q1 - np.maximum(q0, c2), 0, None)
    right = (
        ramp_len2
        - 2 / size * ((ramp_hi2**2 - q0**2) / 2 - e * ramp_len2)
        + flat_len2 * (1 - (e1 - e) / size)
    )
    right = np.where(b > e, right, 0.0)
    result: FloatArray = overlap + left + right
    return result


def affiliation_pr(
    labels: Any, predictions: Any, name: str = "affiliation_f1"
) -> tuple[float, float]:
    """(precision, recall); precision is NaN when nothing is predicted."""
    y = np.asarray(labels)
    p = check_predictions(predictions, len(y), name=name)
    y, _ = check_labels_scores(y, p.astype(np.float64), name=name)
    return _affiliation(_zones(y.astype(bool)), p)


Zones = tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]


def _zones(real: NDArray[np.bool_]) -> Zones:
    """Ground-truth events ``[start, end)`` and their affiliation zones (and the cut points)."""
    g_start, g_end = (v.astype(np.float64) for v in events(real.astype(np.int8)))
    bounds = (g_end[:-1] + g_start[1:]) / 2  # zone edges between ground-truth events
    return g_start, g_end, bounds, np.r_[0.0, bounds], np.r_[bounds, float(len(real))]


def _affiliation(zones: Zones, p: NDArray[np.bool_]) -> tuple[float, float]:
    g_start, g_end, bounds, z0, z1 = zones
    p_start, p_end = (v.astype(np.float64) for v in events(p.astype(np.int8)))
    if len(p_start) == 0:
        return float("nan"), 0.0
    _, zone, s, e = _pieces(p_start, p_end, bounds)
    j0, j1, e0, e1 = g_start[zone], g_end[zone], z0[zone], z1[zone]
    k = len(g_start)
    num = np.bincount(zone, weights=_precision_integral(s, e, j0, j1, e0, e1), minlength=k)
    length = np.bincount(zone, weights=e - s, minlength=k)
    has = length > 0
    precision = float(np.mean(num[has] / length[has])) if has.any() else float("nan")
    return precision, _recall(zones, zone, s, e)


def _recall(zones: Zones, zone: NDArray[np.intp], s: FloatArray, e: FloatArray) -> float:
    """The recall of the predicted pieces ``[s, e)`` of each ``zone``, in position order.
    Inside each zone, J is split at the midpoints between consecutive pieces, each part
    measured against its nearest piece: only the pieces that overlap J and the nearest one on
    either side of it count."""
    g_start, g_end, _, z0, z1 = zones
    j0, j1, e0, e1 = g_start[zone], g_end[zone], z0[zone], z1[zone]
    same_next = np.r_[zone[1:] == zone[:-1], False]
    same_prev = np.r_[False, zone[1:] == zone[:-1]]
    sub_lo = np.where(same_prev, (np.r_[0.0, e[:-1]] + s) / 2, e0)
    sub_hi = np.where(same_next, (e + np.r_[s[1:], 0.0]) / 2, e1)
    a, b = np.maximum(j0, sub_lo), np.minimum(j1, sub_hi)
    near = b > a
    part = _recall_integral(a[near], b[near], s[near], e[near], e0[near], e1[near])
    recall_zone = np.bincount(zone[near], weights=part, minlength=len(g_start))
    return float(np.mean(recall_zone / (g_end - g_start)))


def _affiliation_curve(
    zones: Zones, scores: FloatArray, thresholds: FloatArray, strict: bool
) -> tuple[FloatArray, FloatArray]:
    """(precision, recall) of the predictions ``scores >= t`` (``> t`` when ``strict``) at every
    threshold t, equal to :func:`_affiliation` at each, without its O(n) per threshold.

    Precision: a zone's integral is additive over the unit cells ``[i, i + 1)`` of its
    predicted points (a cell cut by a zone edge counts in both zones), so it is computed once
    per cell; sorting each zone's cells by score turns every (zone, threshold) sum into a
    cumulative sum read by binary search. Recall depends only on the predicted points inside
    each ground-truth event and the nearest predicted point on either side of it in its zone
    (a running maximum of the scores walking away from the event finds it for every threshold
    at once); :func:`_recall` of those points' runs equals the recall of all the predictions
    (the runs may be shorter away from the event, a side the recall never reads).
    """
    g_start, g_end, bounds, z0, z1 = zones
    n, k = len(scores), len(g_start)
    cell, zone, cs, ce = _pieces(np.arange(n, dtype=np.float64), np.arange(1.0, n + 1), bounds)
    w = _precision_integral(cs, ce, g_start[zone], g_end[zone], z0[zone], z1[zone])
    uniq, rank = np.unique(scores, return_inverse=True)
    n_ranks = len(uniq)
    desc = (n_ranks - 1 - rank.ravel())[cell]  # 0: the highest score
    order = np.lexsort((desc, zone))
    key = zone[order].astype(np.int64) * n_ranks + desc[order]
    first = np.searchsorted(zone[order], np.arange(k))  # every zone has cells
    ends = np.r_[first[1:], len(order)]
    num, length = w[order], (ce - cs)[order]
    for a, b in zip(first, ends, strict=True):  # cumulative sums inside each zone
        num[a:b], length[a:b] = np.cumsum(num[a:b]), np.cumsum(length[a:b])
    # the cells flagged at t are those of rank >= r_t: desc < n_ranks - r_t
    r_t = np.searchsorted(uniq, thresholds, side="right" if strict else "left")

    g = len(thresholds)
    precision, recall = np.empty(g), np.empty(g)
    inside = np.concatenate(
        [np.arange(int(a), int(b)) for a, b in zip(g_start, g_end, strict=True)]
    )  # the points of the events, in order
    s_inside = scores[inside]
    # nearest flagged point left and right of each event, in its zone (cells that meet it)
    left_seq = [scores[int(np.floor(lo)) : int(j)][::-1] for lo, j in zip(z0, g_start, strict=True)]
    right_seq = [scores[int(j) : int(np.ceil(hi))] for j, hi in zip(g_end, z1, strict=True)]
    step = max(1, 4_000_000 // k)
    for lo in range(0, g, step):
        chunk = slice(lo, min(g, lo + step))
        t, r = thresholds[chunk], r_t[chunk]
        pos = np.searchsorted(key, np.arange(k)[:, None] * n_ranks + (n_ranks - r)[None, :])
        has = pos > first[:, None]
        last = np.where(has, pos - 1, 0)
        ratio = np.where(has, num[last] / np.where(has, length[last], 1.0), 0.0)
        zones_with = has.sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            precision[chunk] = np.where(zones_with > 0, ratio.sum(axis=0) / zones_with, np.nan)
        left = np.full((k, len(t)), -1, dtype=np.intp)
        right = np.full((k, len(t)), -1, dtype=np.intp)
        for z in range(k):
            f = first_flagged(left_seq[z], t, strict)
            left[z] = np.where(f < len(left_seq[z]), int(g_start[z]) - 1 - f, -1)
            f = first_flagged(right_seq[z], t, strict)
            right[z] = np.where(f < len(right_seq[z]), int(g_end[z]) + f, -1)
        for i, ti in enumerate(t):
            flagged = inside[s_inside > ti] if strict else inside[s_inside >= ti]
            q = np.unique(np.r_[flagged, left[:, i], right[:, i]])
            q = q[q >= 0]
            if len(q) == 0:
                recall[lo + i] = 0.0
                continue
            brk = np.flatnonzero(np.diff(q) != 1)
            p_start = q[np.r_[0, brk + 1]].astype(np.float64)
            p_end = q[np.r_[brk, len(q) - 1]].astype(np.float64) + 1
            _, zone_q, s, e = _pieces(p_start, p_end, bounds)
            recall[lo + i] = _recall(zones, zone_q, s, e)
    return precision, recall


def _f1(precision: float, recall: float) -> float:
    if not np.isfinite(precision) or precision + recall == 0:
        return 0.0  # nothing predicted: recall is 0 in every zone
    return 2 * precision * recall / (precision + recall)


def _tsbad_f1(precision: float, recall: float) -> float:
    """TSB-AD's Affiliation-F: + 1e-15 in the denominator, NaN when nothing is predicted."""
    return 2 * precision * recall / (precision + recall + 1e-15)


def best_affiliation_f1(
    labels: Any, scores: Any, *, n_thresholds: int = 250, compat: str | None = None
) -> tuple[float, float]:
    """Best affiliation F1 over the rank-quantile grid; compat='tsbad': over TSB-AD's
    100-point value grid instead (``n_thresholds`` is then unused)."""
    y, s = check_labels_scores(labels, scores, name="affiliation_f1@oracle")
    zones = _zones(y.astype(bool))
    tsbad = check_compat(compat) == "tsbad"

    def curve(thresholds: FloatArray, strict: bool) -> FloatArray:
        precision, recall = _affiliation_curve(zones, s, thresholds, strict)
        f1 = _tsbad_f1 if tsbad else _f1
        return np.array([f1(p, r) for p, r in zip(precision, recall, strict=True)])

    if tsbad:
        return tsbad_grid(s, curve=curve)
    return grid_oracle(y, s, None, n_thresholds, "affiliation_f1@oracle", curve=curve)


@register_metric(
    "affiliation_f1", needs_threshold=True, oracle=best_affiliation_f1, oracle_grid=True
)
def affiliation_f1(labels: Any, predictions: Any, *, compat: str | None = None) -> float:
    """Affiliation F1 (Huet et al., KDD 2022); 0 when nothing is predicted (compat='tsbad':
    TSB-AD's +1e-15, undefined when nothing is predicted, 100-point value grid)."""
    pr = affiliation_pr(labels, predictions)
    if check_compat(compat) != "tsbad":
        return _f1(*pr)
    if not np.isfinite(pr[0]):
        raise ValueError("affiliation_f1(compat='tsbad') is undefined: nothing is predicted.")
    return _tsbad_f1(*pr)


@register_metric("affiliation_precision", needs_threshold=True, oracle_of="affiliation_f1")
def affiliation_precision(labels: Any, predictions: Any) -> float:
    """Affiliation precision; undefined (an error, recorded as NaN) when nothing is predicted."""
    precision, _ = affiliation_pr(labels, predictions, "affiliation_precision")
    if not np.isfinite(precision):
        raise ValueError("affiliation_precision is undefined: nothing is predicted.")
    return precision


@register_metric("affiliation_recall", needs_threshold=True, oracle_of="affiliation_f1")
def affiliation_recall(labels: Any, predictions: Any) -> float:
    """Affiliation recall (0 in a zone without prediction)."""
    return affiliation_pr(labels, predictions, "affiliation_recall")[1]
