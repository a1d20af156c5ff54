"""Point-wise metrics: AUC-ROC, AUC-PR (average precision), precision, recall and F1.

``auc_pr`` is scikit-learn's step-wise average precision, the definition of TSB-AD, vus'
``basic_metricor`` and tadpak (``../shared/research/metrics.md`` §1), not the trapezoid area,
which flatters constant scores. ``f1@oracle`` is exact: no ``+1e-5`` in the denominator
(TSB-AD's Standard-F1 adds it, so a perfect detector gets 0.999995 there and 1.0 here).
Precision with no predicted point is 0 (scikit-learn's ``zero_division=0``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from tsadbench.metrics.thresholds import best_f1_threshold, check_compat, sweep
from tsadbench.metrics.validation import check_labels_scores, check_predictions
from tsadbench.registry import register_metric


@register_metric("auc_roc")
def auc_roc(labels: Any, scores: Any) -> float:
    """Area under the ROC curve of the point scores."""
    from sklearn.metrics import roc_auc_score

    y, s = check_labels_scores(labels, scores, name="auc_roc")
    return float(roc_auc_score(y, s))


@register_metric("auc_pr")
def auc_pr(labels: Any, scores: Any) -> float:
    """Area under the precision-recall curve as average precision (step-wise)."""
    from sklearn.metrics import average_precision_score

    y, s = check_labels_scores(labels, scores, name="auc_pr")
    return float(average_precision_score(y, s))


def prf(labels: Any, predictions: Any, name: str) -> tuple[float, float, float]:
    """Point-wise (precision, recall, F1) of binary predictions, after validation."""
    y = np.asarray(labels)
    p = check_predictions(predictions, len(y), name=name)
    y, _ = check_labels_scores(y, p.astype(np.float64), name=name)
    pos = y.astype(bool)
    tp = float(np.count_nonzero(p & pos))
    n_pred, n_pos = float(np.count_nonzero(p)), float(np.count_nonzero(pos))
    precision = tp / n_pred if n_pred else 0.0
    recall = tp / n_pos
    f1 = 2 * tp / (n_pred + n_pos)
    return precision, recall, f1


def best_f1(labels: Any, scores: Any, *, compat: str | None = None) -> tuple[float, float]:
    y, s = check_labels_scores(labels, scores, name="f1@oracle")
    if check_compat(compat) != "tsbad":
        return best_f1_threshold(s[y == 1], s[y == 0])
    # TSB-AD's Standard-F1: every distinct score, F = 2PR / (P + R + 1e-5)
    pos = y.astype(np.float64)
    thresholds, (tp, fp) = sweep(s, pos, 1.0 - pos)
    p, r = tp / (tp + fp), tp / pos.sum()
    f = 2 * p * r / (p + r + 1e-5)
    i = int(np.argmax(f))
    return float(f[i]), float(thresholds[i])


@register_metric("f1", needs_threshold=True, oracle=best_f1)
def f1(labels: Any, predictions: Any, *, compat: str | None = None) -> float:
    """Point-wise F1 of the predictions (compat='tsbad': TSB-AD's +1e-5 in the oracle)."""
    check_compat(compat)
    return prf(labels, predictions, "f1")[2]


@register_metric("precision", needs_threshold=True, oracle_of="f1")
def precision(labels: Any, predictions: Any) -> float:
    """Point-wise precision (at oracle: at the F1-optimal threshold)."""
    return prf(labels, predictions, "precision")[0]


@register_metric("recall", needs_threshold=True, oracle_of="f1")
def recall(labels: Any, predictions: Any) -> float:
    """Point-wise recall (at oracle: at the F1-optimal threshold)."""
    return prf(labels, predictions, "recall")[1]


def events(labels: NDArray[Any]) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """Start (inclusive) and end (exclusive) indices of the runs of 1 in ``labels``."""
    edges = np.diff(np.r_[0, np.asarray(labels).astype(np.int8), 0])
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)


def segment_reduce(
    ufunc: np.ufunc, values: NDArray[Any], starts: NDArray[np.intp], ends: NDArray[np.intp]
) -> NDArray[Any]:
    """``ufunc.reduce`` of ``values[starts[i]:ends[i]]`` for each i (non-empty, disjoint,
    sorted segments), in one vectorised call."""
    bounds = np.column_stack([starts, ends]).ravel()
    padded = np.r_[values, values[:1]]  # ends may equal len(values)
    return ufunc.reduceat(padded, bounds)[::2]
