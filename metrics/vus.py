"""Range-AUC and VUS (Paparrizos et al., VLDB 2022), numerically equal to the references.

``vus_roc`` / ``vus_pr`` follow TSB-AD's and vus' ``RangeAUC_volume_opt`` (``metrics.md`` §7.1),
the definition TSB-AD reports as VUS-ROC / VUS-PR:

* ``window`` W is the *maximum* buffer: the surfaces average the range curves of every buffer
  w = 0..W. Buffer w extends ``w // 2`` points on each side of each event with soft labels
  ``sqrt(1 - d / w)`` at distance d (they fall to about 0.707 at the buffer edge), clipped to 1.
* ``n_thresholds`` rank-quantile thresholds: the scores at ranks ``linspace(0, n-1, 250)`` of the
  descending order, predictions ``score >= t``.
* A buffer point counts (as a true positive and as a label) only where it is predicted;
  existence is counted over the widened events merged when their zones overlap.
* ROC by the trapezoid with (0, 0) and (1, 1) added; PR step-wise (the precision of each point,
  (1, 1) excluded).

``r_auc_roc`` / ``r_auc_pr`` follow vus' ``RangeAUC`` (``metrics.md`` §6): one buffer of
``window // 2`` points with the same soft labels, which count wherever they are — even on an
event point only when predicted — existence over the runs of non-zero soft labels, the PR
curve by the trapezoid in precision.

Speed: the references loop in Python over thresholds × events × buffers (12.5 s for VUS at
n = 100,000). Here the scores are sorted once; a point outside the widened events enters only
through the count of predicted points, and each buffer's soft labels are summed over the points
at or above every threshold with one cumulative sum, so the cost is O(n log n + (W + 1) · m)
with m the number of points inside the widened events.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from tsadbench.checks import is_int
from tsadbench.metrics.point import events, segment_reduce
from tsadbench.metrics.validation import check_labels_scores
from tsadbench.registry import register_metric

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]


def _check(window: Any, n_thresholds: Any) -> tuple[int, int]:
    if not is_int(window) or window < 0:
        raise ValueError(f"The 'window' parameter must be an int >= 0. Got {window!r}.")
    if not is_int(n_thresholds) or n_thresholds < 1:
        raise ValueError(f"The 'n_thresholds' parameter must be an int >= 1. Got {n_thresholds!r}.")
    return int(window), int(n_thresholds)


def rank_thresholds(scores: FloatArray, n_thresholds: int) -> FloatArray:
    """The scores at ranks ``linspace(0, n - 1, n_thresholds)`` of the descending order."""
    desc = np.sort(scores)[::-1]
    result: FloatArray = desc[np.linspace(0, len(scores) - 1, n_thresholds).astype(int)]
    return result


def _count_ge(sorted_values: FloatArray, thresholds: FloatArray) -> FloatArray:
    return (len(sorted_values) - np.searchsorted(sorted_values, thresholds, side="left")).astype(
        np.float64
    )


def _sum_ge(
    sorted_values: FloatArray, sorted_weights: FloatArray, thresholds: FloatArray
) -> FloatArray:
    """Sum of the weights of the items whose value is >= each threshold (items sorted by value)."""
    suffix = np.r_[np.cumsum(sorted_weights[::-1])[::-1], 0.0]
    result: FloatArray = suffix[np.searchsorted(sorted_values, thresholds, side="left")]
    return result


def _merged_zones(starts: IntArray, ends: IntArray, half: int, n: int) -> tuple[IntArray, IntArray]:
    """Events ``[starts, ends]`` (inclusive) widened by ``half`` on each side, clipped to the
    series, merged where the widened zones overlap (TSB-AD's ``new_sequence``)."""
    split = (ends[:-1] + half) < (starts[1:] - half)
    zone_starts = np.r_[max(starts[0] - half, 0), starts[1:][split] - half]
    zone_ends = np.r_[ends[:-1][split] + half, min(ends[-1] + half, n - 1)]
    return zone_starts.astype(np.intp), zone_ends.astype(np.intp)


def _buffer_weights(
    starts: IntArray, ends: IntArray, w: int, n: int, position: IntArray, size: int
) -> FloatArray:
    """Soft labels of buffer ``w`` summed over the events (before clipping), at compact
    positions: ``position[i]`` maps event i's start to its compact index (its end follows)."""
    half = w // 2
    out = np.zeros(size)
    if half == 0:
        return out
    d = np.arange(1, half + 1)
    value = np.broadcast_to(np.sqrt(1 - d / w), (len(starts), half))
    ok = ends[:, None] + d <= n - 1  # after each event, inside the series
    after = (position + ends - starts)[:, None] + d
    out += np.bincount(after[ok], weights=value[ok], minlength=size)
    ok = starts[:, None] - d >= 0  # before each event
    before = position[:, None] - d
    out += np.bincount(before[ok], weights=value[ok], minlength=size)
    return out


def _prepare(
    labels: Any, scores: Any, name: str
) -> tuple[NDArray[np.int8], FloatArray, IntArray, IntArray]:
    y, s = check_labels_scores(labels, scores, name=name)
    starts, stops = events(y)
    return y, s, starts, stops - 1  # inclusive ends, as the reference writes them


def _curves(
    tpr: FloatArray, fpr: FloatArray, prec: FloatArray, trapezoid_pr: bool
) -> tuple[float, float]:
    """Area under ROC (trapezoid, with (0,0) and (1,1)) and under PR (step or trapezoid)."""
    t = np.r_[0.0, tpr, 1.0]
    f = np.r_[0.0, fpr, 1.0]
    roc = float(np.dot(np.diff(f), (t[1:] + t[:-1]) / 2))
    p = np.r_[1.0, prec]
    height = (p[1:] + p[:-1]) / 2 if trapezoid_pr else p[1:]
    pr = float(np.dot(np.diff(t[:-1]), height))
    return roc, pr


def vus(
    labels: Any, scores: Any, *, window: int = 100, n_thresholds: int = 250
) -> tuple[float, float]:
    """(VUS-ROC, VUS-PR) as TSB-AD's ``RangeAUC_volume_opt``; see the module docstring."""
    window, n_thresholds = _check(window, n_thresholds)
    y, s, starts, ends = _prepare(labels, scores, "vus")
    n = len(s)
    thresholds = rank_thresholds(s, n_thresholds)
    n_pred = _count_ge(np.sort(s), thresholds)
    is_event = y.astype(bool)
    n_pos = float(is_event.sum())
    tp_event = _count_ge(np.sort(s[is_event]), thresholds)

    # the widest zone: every buffer of every w lies inside it; index its points compactly
    z_starts, z_ends = _merged_zones(starts, ends, window // 2, n)
    z_len = z_ends - z_starts + 1
    z_offset = np.r_[0, np.cumsum(z_len)[:-1]]
    compact = np.concatenate([np.arange(a, b + 1) for a, b in zip(z_starts, z_ends, strict=True)])
    zone_of_event = np.searchsorted(z_starts, starts, side="right") - 1
    position = z_offset[zone_of_event] + (starts - z_starts[zone_of_event])
    event_mask = is_event[compact]
    order = np.argsort(s[compact], kind="stable")
    zone_scores = s[compact][order]

    rocs, prs = [], []
    for w in range(window + 1):
        soft = np.minimum(_buffer_weights(starts, ends, w, n, position, len(compact)), 1.0)
        soft[event_mask] = 0.0  # events always count 1, through tp_event
        buffer_tp = _sum_ge(zone_scores, soft[order], thresholds)
        l_starts, l_ends = _merged_zones(starts, ends, w // 2, n)
        zone_max = np.sort(segment_reduce(np.maximum, s, l_starts, l_ends + 1))
        existence = _count_ge(zone_max, thresholds) / len(l_starts)
        tp = tp_event + buffer_tp
        p_new = n_pos + buffer_tp / 2
        tpr = np.minimum(tp / p_new, 1.0) * existence
        fpr = (n_pred - tp) / (n - p_new)
        roc, pr = _curves(tpr, fpr, tp / n_pred, trapezoid_pr=False)
        rocs.append(roc)
        prs.append(pr)
    return float(np.mean(rocs)), float(np.mean(prs))


def range_auc(
    labels: Any, scores: Any, *, window: int = 100, n_thresholds: int = 250
) -> tuple[float, float]:
    """(R-AUC-ROC, R-AUC-PR) as vus' ``RangeAUC(window=W)``; see the module docstring."""
    window, n_thresholds = _check(window, n_thresholds)
    y, s, starts, ends = _prepare(labels, scores, "range_auc")
    n = len(s)
    soft = y.astype(np.float64)
    half = window // 2
    for a, b in zip(starts, ends, strict=True):  # buffers of each event, then clipped
        right = np.arange(b + 1, min(b + half + 1, n))
        soft[right] += np.sqrt(1 - (right - b) / window)
        left = np.arange(max(a - half, 0), a)
        soft[left] += np.sqrt(1 - (a - left) / window)
    soft = np.minimum(soft, 1.0)
    thresholds = rank_thresholds(s, n_thresholds)
    n_pred = _count_ge(np.sort(s), thresholds)
    inside = soft > 0
    order = np.argsort(s[inside], kind="stable")
    tp = _sum_ge(s[inside][order], soft[inside][order], thresholds)
    r_starts, r_stops = events(inside.astype(np.int8))
    run_max = np.sort(segment_reduce(np.maximum, s, r_starts, r_stops))
    existence = _count_ge(run_max, thresholds) / len(r_starts)
    p_new = (y.sum() + soft.sum()) / 2
    tpr = np.minimum(tp / p_new, 1.0) * existence
    fpr = (n_pred - tp) / (n - p_new)
    return _curves(tpr, fpr, tp / n_pred, trapezoid_pr=True)


_last: dict[str, tuple[bytes, tuple[float, float]]] = {}


def _shared(
    fn: Callable[..., tuple[float, float]], labels: Any, scores: Any, window: int, n_thresholds: int
) -> tuple[float, float]:
    """``fn``'s (ROC, PR) pair, computed once when both halves are asked for the same input
    (the usual case: a metric set holds vus_roc and vus_pr). One entry per function."""
    y, s = np.ascontiguousarray(labels), np.ascontiguousarray(scores)
    h = hashlib.blake2b(digest_size=16)
    for part in (y, s):
        h.update(f"{part.dtype.str}{part.shape}".encode())
        h.update(part.tobytes())
    h.update(f"{window},{n_thresholds}".encode())
    key = h.digest()
    cached = _last.get(fn.__name__)
    if cached is None or cached[0] != key:
        cached = (key, fn(y, s, window=window, n_thresholds=n_thresholds))
        _last[fn.__name__] = cached
    return cached[1]


@register_metric("vus_roc")
def vus_roc(labels: Any, scores: Any, *, window: int = 100, n_thresholds: int = 250) -> float:
    """Volume under the range-ROC surface over buffers 0..window (TSB-AD's VUS-ROC)."""
    return _shared(vus, labels, scores, window, n_thresholds)[0]


@register_metric("vus_pr")
def vus_pr(labels: Any, scores: Any, *, window: int = 100, n_thresholds: int = 250) -> float:
    """Volume under the range-PR surface over buffers 0..window (TSB-AD's VUS-PR)."""
    return _shared(vus, labels, scores, window, n_thresholds)[1]


@register_metric("r_auc_roc")
def r_auc_roc(labels: Any, scores: Any, *, window: int = 100, n_thresholds: int = 250) -> float:
    """Range-AUC-ROC with a buffer of window // 2 points per side (vus' RangeAUC)."""
    return _shared(range_auc, labels, scores, window, n_thresholds)[0]


@register_metric("r_auc_pr")
def r_auc_pr(labels: Any, scores: Any, *, window: int = 100, n_thresholds: int = 250) -> float:
    """Range-AUC-PR with a buffer of window // 2 points per side (vus' RangeAUC)."""
    return _shared(range_auc, labels, scores, window, n_thresholds)[1]
