"""Point-adjusted F1 (Xu et al., WWW 2018; OmniAnomaly; the Anomaly Transformer's protocol).

If any point of a ground-truth anomalous event is predicted, the whole event counts as
predicted; predictions outside events are unchanged; then point-wise F1. We fill the whole
event, as tadpak does with K=0 — not the reference loop of OmniAnomaly / TSB-AD, which leaves
index 0 unfilled when an event starting there is first hit later (``metrics.md`` §2.1).

The ``oracle`` protocol searches every distinct score value exactly (``score >= t``), so the
result is invariant to monotone transforms of the scores and to outliers — TSB-AD's 100-point
value grid is not (``metrics.md`` §2.4).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from tsadbench.metrics.point import best_threshold, f1
from tsadbench.metrics.validation import check_labels_scores, check_predictions
from tsadbench.registry import register_metric


def events(labels: NDArray[np.int8]) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """Start (inclusive) and end (exclusive) indices of the runs of 1 in ``labels``."""
    edges = np.diff(np.r_[0, labels.astype(np.int8), 0])
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)


def point_adjust(labels: Any, predictions: Any) -> NDArray[np.bool_]:
    """Predictions with every event that holds at least one predicted point filled in."""
    y = np.asarray(labels).astype(np.int8)
    p = check_predictions(predictions, len(y), name="point_adjust").copy()
    starts, ends = events(y)
    csum = np.r_[0, np.cumsum(p)]
    hit = (csum[ends] - csum[starts]) > 0
    for s, e in zip(starts[hit], ends[hit], strict=True):
        p[s:e] = True
    return p


def _best_pa_f1(labels: Any, scores: Any) -> tuple[float, float]:
    y, s = check_labels_scores(labels, scores, name="pa_f1@oracle")
    starts, ends = events(y)
    # reduce over [start, end) and [end, next start) alternately; keep the event slices
    bounds = np.column_stack([starts, ends]).ravel()
    event_max = np.maximum.reduceat(np.r_[s, -np.inf], bounds)[::2]
    normal = s[y == 0]
    values = np.r_[normal, event_max]
    tp_w = np.r_[np.zeros(len(normal)), (ends - starts).astype(np.float64)]
    fp_w = np.r_[np.ones(len(normal)), np.zeros(len(starts))]
    return best_threshold(values, tp_w, fp_w, float(y.sum()))


@register_metric("pa_f1", needs_threshold=True, oracle=_best_pa_f1)
def pa_f1(labels: Any, predictions: Any) -> float:
    """Point-adjusted F1 of binary predictions: a hit anywhere in an event counts the event."""
    return f1(labels, point_adjust(labels, predictions))
