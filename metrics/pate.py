"""PATE and PATE-F1 (Ghorbani, Reinders & Tax, KDD 2024), equal to the PATE package 0.1.1.

Each ground-truth event [s, e] (inclusive) gets an early buffer before it and a delay buffer after
it: pre ``[max(0, s - e_buffer, previous post end + 1), s - 1]``, post
``[e + 1, min(e + d_buffer, next start - 1)]``. A predicted point counts:

* inside an event: a true positive (the event is detected);
* in a post buffer, at x: TP ``w = 1 - (x - m) / (post end - m)``, FP ``1 - w``, with m the event's
  centre (the package's ratio of summed distances to the event's points) — even when the event
  itself is missed;
* in a pre buffer: the same with ``w = 1 - (m - x) / (m - pre start)`` when the event is detected,
  otherwise a false positive;
* elsewhere: a false positive.

A missed event adds its length to FN. A partly detected event adds, for each of its missed
points p, 1 if ``p <= s + c`` (c the length of the first detected run in it), else
``1 - (c + 1)(p - s - c/2) / (L (L - 1) / 2)`` (the package's weights, which can be negative).
P = TP / (TP + FP), R = TP / (TP + FN) (0 when a denominator is 0).

``pate`` (continuous scores): the area under that precision-recall curve (trapezoid, (R 0, P 1)
prepended, points whose recall falls below the last kept one dropped), at the package's
thresholds — its distinct score values with the intermediate ones dropped (sklearn's
``drop_intermediate``), then 250 interpolated percentiles of them, predicting ``score >= t`` —
averaged over the buffer grid {0, e_buffer} × {0, d_buffer} (``num_splits_MaxBuffer=1``,
``include_zero=True``). ``pate_f1``: the F1 at given predictions, averaged over the same grid.
Its oracle searches 250 rank-quantile thresholds (every distinct score with
``oracle(n_thresholds=0)``).

Speed: the package loops in Python over thresholds × predicted ranges × events and sums
distances point by point (371 s at n = 100,000). Here every buffer weight is closed form, the
predicted points enter through cumulative sums over the sorted scores, and only the points of
the events themselves are looked at per threshold (for the partial-detection weights).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from tsadbench.checks import is_int
from tsadbench.metrics.point import events
from tsadbench.metrics.range import grid_oracle
from tsadbench.metrics.validation import check_labels_scores, check_predictions
from tsadbench.registry import register_metric

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]


def _check_buffer(value: Any, name: str) -> int:
    if not is_int(value) or value < 0:
        raise ValueError(f"The '{name}' parameter must be an int >= 0. Got {value!r}.")
    return int(value)


def _grid(buffer: int) -> list[int]:
    return [int(v) for v in np.linspace(0, buffer, 2, dtype=int)]


class _Events:
    """Ground-truth events and the per-point layout that does not depend on the buffers."""

    def __init__(self, y: NDArray[np.int8]) -> None:
        starts, stops = events(y)
        self.n = len(y)
        self.s, self.e = starts, stops - 1  # inclusive ends
        self.length = (stops - starts).astype(np.float64)
        self.centre = (self.s + self.e) / 2.0
        self.points = np.flatnonzero(y)  # event points, grouped by event
        self.owner = np.repeat(np.arange(len(starts)), stops - starts)

    def zones(self, e_buf: int, d_buf: int) -> tuple[IntArray, IntArray]:
        """(pre start, post end) of every event for one buffer pair."""
        nxt = np.r_[self.s[1:], self.n]
        post_end = np.minimum(self.e + d_buf, nxt - 1)
        prev_post = np.r_[-1, post_end[:-1]]
        pre_start = np.maximum.reduce([np.zeros_like(self.s), self.s - e_buf, prev_post + 1])
        return pre_start, post_end


def _buffer_weights(
    ev: _Events, e_buf: int, d_buf: int
) -> tuple[IntArray, IntArray, FloatArray, IntArray, FloatArray]:
    """Buffer points: (pre points, their event, their TP weight, post points, their TP weight)."""
    pre_start, post_end = ev.zones(e_buf, d_buf)
    pre_len = ev.s - pre_start
    post_len = post_end - ev.e
    k_pre = np.repeat(np.arange(len(ev.s)), pre_len)
    pre_pts = pre_start[k_pre] + (
        np.arange(pre_len.sum()) - np.repeat(np.cumsum(pre_len) - pre_len, pre_len)
    )
    w_pre = 1 - (ev.centre[k_pre] - pre_pts) / (ev.centre[k_pre] - pre_start[k_pre])
    k_post = np.repeat(np.arange(len(ev.s)), post_len)
    post_pts = (
        ev.e[k_post]
        + 1
        + (np.arange(post_len.sum()) - np.repeat(np.cumsum(post_len) - post_len, post_len))
    )
    w_post = 1 - (post_pts - ev.centre[k_post]) / (post_end[k_post] - ev.centre[k_post])
    return pre_pts, k_pre, w_pre, post_pts, w_post


def _partial_fn(ev: _Events, hit: NDArray[np.bool_]) -> float:
    """FN weight of the missed points of the partly detected events (``hit``: whether each
    event point is predicted, grouped by event)."""
    k = len(ev.s)
    n_hit = np.bincount(ev.owner, weights=hit, minlength=k)
    partly = (n_hit > 0) & (n_hit < ev.length)
    if not partly.any():
        return 0.0
    c = _first_run_length(ev, hit)[ev.owner]
    pos = ev.points - ev.s[ev.owner]  # 0-based position inside the event
    length = ev.length[ev.owner]
    max_d = length * (length - 1) / 2
    far = 1 - (c + 1) * (pos - c / 2) / np.where(max_d > 0, max_d, 1.0)
    weight = np.where(pos <= c, 1.0, far)
    counted = ~hit & partly[ev.owner]
    return float(weight[counted].sum())


def _first_run_length(ev: _Events, hit: NDArray[np.bool_]) -> FloatArray:
    """Length of the first run of predicted points inside each event (0 if none)."""
    k = len(ev.s)
    m = len(hit)
    first_pt = np.r_[0, np.cumsum(ev.length.astype(np.intp))[:-1]]  # index of each event start
    end_pt = first_pt + ev.length.astype(np.intp)
    prev = np.r_[False, hit[:-1]]
    prev[first_pt] = False
    rises = np.flatnonzero(hit & ~prev)
    out = np.zeros(k)
    if len(rises) == 0:
        return out
    owner = ev.owner[rises]
    uniq, at = np.unique(owner, return_index=True)  # rises are sorted: the first per event
    first = rises[at]
    # the next missed point at or after each index (m when none)
    next_miss = np.minimum.accumulate(np.where(hit, m, np.arange(m))[::-1])[::-1]
    out[uniq] = np.minimum(next_miss[first], end_pt[uniq]) - first
    return out


Buffers = tuple[IntArray, IntArray, FloatArray, IntArray, FloatArray]


def _precision_recall(
    ev: _Events, pred: NDArray[np.bool_], buffers: list[Buffers]
) -> list[tuple[float, float]]:
    """PATE (precision, recall) of one binary prediction for each buffer pair's weights."""
    hit = pred[ev.points]
    detected = np.bincount(ev.owner, weights=hit, minlength=len(ev.s)) > 0
    n_hit = float(hit.sum())
    n_pred = float(pred.sum())
    fn = float(ev.length[~detected].sum()) + _partial_fn(ev, hit)  # buffers play no part
    out = []
    for pre_pts, k_pre, w_pre, post_pts, w_post in buffers:
        in_post = pred[post_pts]
        in_pre = pred[pre_pts]
        det_pre = detected[k_pre] & in_pre
        # fixed-order sums over the whole weight vectors (dot products): a masked sum whose
        # length changes with the threshold rounds differently and, one ulp off, made the
        # curve's cleaning drop a point the package keeps
        tp = n_hit + float(w_post @ in_post) + float(w_pre @ det_pre)
        fp = float((1 - w_post) @ in_post) + float((1 - w_pre) @ det_pre)
        fp += float((in_pre & ~detected[k_pre]).sum())
        fp += n_pred - n_hit - float(in_post.sum() + in_pre.sum())  # outside every zone
        precision = tp / (tp + fp) if tp + fp > 0 else 0.0
        recall = tp / (tp + fn) if tp + fn > 0 else 0.0
        out.append((precision, recall))
    return out


def _all_buffers(ev: _Events, e_buffer: int, d_buffer: int) -> list[Buffers]:
    """The buffer weights of every (early, delay) pair of the grid {0, e} × {0, d}."""
    return [_buffer_weights(ev, e, d) for e in _grid(e_buffer) for d in _grid(d_buffer)]


def _thresholds(y: NDArray[np.int8], s: FloatArray, n_thresholds: int) -> FloatArray:
    """The package's thresholds: distinct scores (descending) with sklearn's intermediate
    points dropped, then ``n_thresholds`` interpolated percentiles from 100 to 0."""
    order = np.argsort(-s, kind="mergesort")
    v = s[order]
    last = np.r_[np.flatnonzero(np.diff(v)), len(v) - 1]
    tps = np.cumsum(y[order])[last]
    thr = v[last]
    if len(tps) > 2:
        keep = np.r_[True, np.logical_or(np.diff(tps[:-1]), np.diff(tps[1:])), True]
        thr = thr[keep]
    return np.percentile(thr, np.linspace(100, 0, n_thresholds))


def _auc(recall: FloatArray, precision: FloatArray) -> float:
    """sklearn's ``auc`` (trapezoid) of the curve with (R 0, P 1) prepended, after dropping the
    points whose recall falls below the last kept one (the package's cleaning)."""
    r = np.r_[0.0, recall]
    p = np.r_[1.0, precision]
    kept = np.zeros(len(r), dtype=bool)
    last = -1.0
    for i, ri in enumerate(r):
        if ri >= last:
            kept[i] = True
            last = ri
    r_k, p_k = r[kept], p[kept]
    return float(np.sum(np.diff(r_k) * (p_k[1:] + p_k[:-1]) / 2))


@register_metric("pate")
def pate(
    labels: Any, scores: Any, *, e_buffer: int = 100, d_buffer: int = 100, n_thresholds: int = 250
) -> float:
    """PATE (Ghorbani et al., KDD 2024): buffer-weighted area under the PR curve."""
    y, s = check_labels_scores(labels, scores, name="pate")
    e_buffer, d_buffer = _check_buffer(e_buffer, "e_buffer"), _check_buffer(d_buffer, "d_buffer")
    ev = _Events(y)
    buffers = _all_buffers(ev, e_buffer, d_buffer)
    thresholds = _thresholds(y, s, int(n_thresholds))
    curves = np.array([_precision_recall(ev, s >= t, buffers) for t in thresholds])
    # curves: (threshold, buffer pair, (precision, recall))
    areas = [_auc(curves[:, j, 1], curves[:, j, 0]) for j in range(len(buffers))]
    return float(np.mean(areas))


def _pate_f1(ev: _Events, pred: NDArray[np.bool_], buffers: list[Buffers]) -> float:
    f1s = [
        2 * p * r / (p + r) if p + r > 0 else 0.0 for p, r in _precision_recall(ev, pred, buffers)
    ]
    return float(np.mean(f1s))


def best_pate_f1(
    labels: Any, scores: Any, *, e_buffer: int = 100, d_buffer: int = 100, n_thresholds: int = 250
) -> tuple[float, float]:
    y, _ = check_labels_scores(labels, scores, name="pate_f1@oracle")
    e_buffer, d_buffer = _check_buffer(e_buffer, "e_buffer"), _check_buffer(d_buffer, "d_buffer")
    ev = _Events(y)
    buffers = _all_buffers(ev, e_buffer, d_buffer)
    return grid_oracle(
        labels,
        scores,
        lambda real, pred: _pate_f1(ev, pred, buffers),
        n_thresholds,
        "pate_f1@oracle",
    )


@register_metric("pate_f1", needs_threshold=True, oracle=best_pate_f1, oracle_grid=True)
def pate_f1(labels: Any, predictions: Any, *, e_buffer: int = 100, d_buffer: int = 100) -> float:
    """PATE-F1 (Ghorbani et al., KDD 2024): buffer-weighted F1, averaged over the buffer grid."""
    y = np.asarray(labels)
    p = check_predictions(predictions, len(y), name="pate_f1")
    y, _ = check_labels_scores(y, p.astype(np.float64), name="pate_f1")
    e_buffer, d_buffer = _check_buffer(e_buffer, "e_buffer"), _check_buffer(d_buffer, "d_buffer")
    ev = _Events(y)
    return _pate_f1(ev, p, _all_buffers(ev, e_buffer, d_buffer))
