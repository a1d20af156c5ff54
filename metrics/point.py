"""Point-wise metrics: AUC-ROC, AUC-PR (average precision) and F1.

``auc_pr`` is scikit-learn's step-wise average precision, the definition of TSB-AD, vus'
``basic_metricor`` and tadpak (``../shared/research/metrics.md`` §1), not the trapezoid area,
which flatters constant scores.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from tsadbench.metrics.validation import check_labels_scores, check_predictions
from tsadbench.registry import register_metric


@register_metric("auc_roc")
def auc_roc(labels: Any, scores: Any) -> float:
    """Area under the ROC curve of the point scores (threshold-free)."""
    from sklearn.metrics import roc_auc_score

    y, s = check_labels_scores(labels, scores, name="auc_roc")
    return float(roc_auc_score(y, s))


@register_metric("auc_pr")
def auc_pr(labels: Any, scores: Any) -> float:
    """Area under the precision-recall curve as average precision (threshold-free)."""
    from sklearn.metrics import average_precision_score

    y, s = check_labels_scores(labels, scores, name="auc_pr")
    return float(average_precision_score(y, s))


def f1_from_counts(
    tp: NDArray[np.float64], fp: NDArray[np.float64], n_pos: float
) -> NDArray[np.float64]:
    """Exact F1 = 2TP / (2TP + FP + FN), 0 where nothing is predicted and nothing is found."""
    denom = 2 * tp + fp + (n_pos - tp)
    return np.divide(2 * tp, denom, out=np.zeros_like(denom, dtype=np.float64), where=denom > 0)


def best_threshold(
    values: NDArray[np.float64],
    tp_weight: NDArray[np.float64],
    fp_weight: NDArray[np.float64],
    n_pos: float,
) -> tuple[float, float]:
    """Best F1 over every threshold ``t`` among ``values``, predicting ``value >= t``.

    Each item contributes ``tp_weight`` true positives and ``fp_weight`` false positives once
    its value reaches the threshold. Returns ``(f1, threshold)``; an exact search in
    O(n log n), invariant to any monotone transform of the scores.
    """
    order = np.argsort(-values, kind="stable")
    v = values[order]
    tp = np.cumsum(tp_weight[order])
    fp = np.cumsum(fp_weight[order])
    last_of_tie = np.r_[v[1:] != v[:-1], True]  # a threshold takes every tied value at once
    f1 = f1_from_counts(tp[last_of_tie], fp[last_of_tie], n_pos)
    i = int(np.argmax(f1))
    return float(f1[i]), float(v[last_of_tie][i])


def _best_f1(labels: Any, scores: Any) -> tuple[float, float]:
    y, s = check_labels_scores(labels, scores, name="f1@oracle")
    pos = y.astype(np.float64)
    return best_threshold(s, pos, 1.0 - pos, float(pos.sum()))


@register_metric("f1", needs_threshold=True, oracle=_best_f1)
def f1(labels: Any, predictions: Any) -> float:
    """Point-wise F1 of binary predictions (no adjustment)."""
    y = np.asarray(labels)
    p = check_predictions(predictions, len(y), name="f1")
    y, _ = check_labels_scores(y, p.astype(float), name="f1")
    tp = float((p & (y == 1)).sum())
    return float(f1_from_counts(np.array([tp]), np.array([float(p.sum()) - tp]), y.sum())[0])
