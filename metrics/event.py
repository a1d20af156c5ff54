"""Event-based F1: the composite F-score of Garg et al. (2021), TSB-AD's "Event-based-F1".

Recall is event-wise (the fraction of ground-truth events with at least one predicted point),
precision point-wise (not adjusted); F = 2·R·P / (R + P). Events are the runs of 1 in the
labels, the last one included when the series ends inside it — TSB-AD's ``_get_events`` drops
that event's last point, so a one-point anomaly at the last index can never be detected there
(``metrics.md`` §3); we count it. TSB-AD also adds 1e-15 to the denominator; we do not.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from tsadbench.metrics.point import events, segment_reduce
from tsadbench.metrics.thresholds import check_compat, sweep, tsbad_grid
from tsadbench.metrics.validation import check_labels_scores, check_predictions
from tsadbench.registry import register_metric


def _composite(event_recall: Any, point_precision: Any) -> Any:
    r, p = np.asarray(event_recall, float), np.asarray(point_precision, float)
    denom = r + p
    return np.divide(2 * r * p, denom, out=np.zeros_like(denom), where=denom > 0)


def best_event_f1(labels: Any, scores: Any, *, compat: str | None = None) -> tuple[float, float]:
    """Exact best composite F over every distinct score (``score >= t``)."""
    y, s = check_labels_scores(labels, scores, name="event_f1@oracle")
    if check_compat(compat) == "tsbad":
        return tsbad_grid(s, lambda p: _event_f1(y, p, tsbad=True))
    starts, ends = events(y)
    event_max = segment_reduce(np.maximum, s, starts, ends)
    # items: every point (counts predictions and true positives) and every event (its maximum)
    values = np.r_[s, event_max]
    n = len(s)
    is_point = np.r_[np.ones(n), np.zeros(len(event_max))]
    is_tp = np.r_[y.astype(np.float64), np.zeros(len(event_max))]
    is_event = 1.0 - is_point
    thresholds, (n_pred, tp, hit) = sweep(values, is_point, is_tp, is_event)
    precision = np.divide(tp, n_pred, out=np.zeros_like(tp), where=n_pred > 0)
    f = _composite(hit / len(starts), precision)
    i = int(np.argmax(f))
    return float(f[i]), float(thresholds[i])


def _event_f1(y: NDArray[np.int8], p: NDArray[np.bool_], tsbad: bool) -> float:
    starts, ends = events(y)
    if tsbad and y[-1] == 1:
        ends = ends.copy()
        ends[-1] -= 1  # TSB-AD's _get_events drops the last point of an event ending the series
    csum = np.r_[0, np.cumsum(p)]
    recall = float(np.mean((csum[ends] - csum[starts]) > 0))
    n_pred = int(p.sum())
    precision = float(np.count_nonzero(p & (y == 1)) / n_pred) if n_pred else 0.0
    if tsbad:
        return 2 * recall * precision / (recall + precision + 1e-15)
    return float(_composite(recall, precision))


@register_metric("event_f1", needs_threshold=True, oracle=best_event_f1)
def event_f1(labels: Any, predictions: Any, *, compat: str | None = None) -> float:
    """Composite F (Garg et al. 2021): event-wise recall × point-wise precision (compat='tsbad':
    TSB-AD's event-end drop, +1e-15 and 100-point value grid)."""
    y = np.asarray(labels)
    p = check_predictions(predictions, len(y), name="event_f1")
    y, _ = check_labels_scores(y, p.astype(np.float64), name="event_f1")
    return _event_f1(y, p, tsbad=check_compat(compat) == "tsbad")
