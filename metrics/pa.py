"""Point adjustment and its variants: PA, PA%K and delay-aware PA.

PA (Xu et al., WWW 2018; OmniAnomaly; the Anomaly Transformer's protocol): if any point of a
ground-truth event is predicted, the whole event counts as predicted; predictions outside events
are unchanged; then point-wise precision / recall / F1. We fill the whole event, as tadpak does
with K=0 — not OmniAnomaly's / TSB-AD's loop, which leaves index 0 unfilled when an event that
starts there is first hit later (``metrics.md`` §2.1). ``compat="tsbad"`` and
``compat="anomaly_transformer"`` reproduce that loop (the Anomaly Transformer's ``solver.py``
has the same one: its backward fill stops at index 1); ``tsbad`` also searches its oracle
threshold over TSB-AD's grid, ``anomaly_transformer`` exactly.

PA%K (Kim et al., AAAI 2022; tadpak ``pak``): an event is filled only when more than K percent of
its points are predicted (strict ``>``); otherwise its predictions stay as they are. K=0 is PA,
K=100 no adjustment.

Delay-aware PA (SR-CNN, KDD 2019; ts2vec ``get_range_proba``): an event counts as detected, and is
filled, only when a point among its first ``delay + 1`` is predicted; otherwise **all** its points
become undetected (late hits are erased).

``pa_k_auc`` is the area under F1(K) for K = 0, 10, ..., 100 (``n_k`` points, trapezoid,
divided by 100), the summary Kim et al. recommend and tadpak does not implement. At ``oracle``
each K takes its own best threshold (the curve of best F1s); at a label-free protocol all K
share the protocol's threshold.

Exact oracle search. Each anomalous point has an *effective score*: the lowest threshold at which
it counts as detected. For PA it is its event's maximum; for PA%K ``max(own score, the
(floor(K/100·len) + 1)-th largest score of its event)``; for delay-aware PA the maximum over the
event's first ``delay + 1`` points. Sorting the effective and the normal scores once gives the
F1 at every distinct threshold in O(n log n) (``thresholds.best_f1_threshold``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from tsadbench.checks import is_int, is_number
from tsadbench.metrics.point import events, prf, segment_reduce
from tsadbench.metrics.thresholds import best_f1_threshold, check_compat, tsbad_grid
from tsadbench.metrics.validation import check_labels_scores, check_predictions
from tsadbench.registry import register_metric


def _check_k(k: Any) -> float:
    if not is_number(k) or not 0 <= k <= 100:
        raise ValueError(f"The 'k' parameter of PA%K must be a percentage in [0, 100]. Got {k!r}.")
    return float(k)


def _check_delay(delay: Any) -> int:
    if not is_int(delay) or delay < 0:
        raise ValueError(f"The 'delay' parameter must be an int >= 0. Got {delay!r}.")
    return int(delay)


def point_adjust(labels: Any, predictions: Any, *, k: float = 0.0) -> NDArray[np.bool_]:
    """Predictions with every event holding more than ``k`` percent predicted points filled
    (``k=0``: at least one point)."""
    y = np.asarray(labels).astype(np.int8)
    p = check_predictions(predictions, len(y), name="point_adjust").copy()
    k = _check_k(k)
    starts, ends = events(y)
    csum = np.r_[0, np.cumsum(p)]
    hit = (csum[ends] - csum[starts]) > k / 100 * (ends - starts)
    for s, e in zip(starts[hit], ends[hit], strict=True):
        p[s:e] = True
    result: NDArray[np.bool_] = p
    return result


def delay_adjust(labels: Any, predictions: Any, *, delay: int = 7) -> NDArray[np.bool_]:
    """Events hit within their first ``delay + 1`` points are filled, all others emptied."""
    y = np.asarray(labels).astype(np.int8)
    p = check_predictions(predictions, len(y), name="delay_adjust").copy()
    delay = _check_delay(delay)
    starts, ends = events(y)
    csum = np.r_[0, np.cumsum(p)]
    hit = (csum[np.minimum(starts + delay + 1, ends)] - csum[starts]) > 0
    for s, e, h in zip(starts, ends, hit, strict=True):
        p[s:e] = h
    result: NDArray[np.bool_] = p
    return result


def _effective_pa_k(s: NDArray[np.float64], y: NDArray[np.int8], k: float) -> NDArray[np.float64]:
    starts, ends = events(y)
    lengths = ends - starts
    need = np.floor(k / 100 * lengths).astype(np.intp) + 1  # predicted points that fill it
    out = s.copy()
    for a, b, m in zip(starts, ends, need, strict=True):
        if m <= b - a:  # the m-th largest score of the event fills it
            v = np.partition(s[a:b], (b - a) - m)[(b - a) - m]
            out[a:b] = np.maximum(s[a:b], v)
    result: NDArray[np.float64] = out[y == 1]
    return result


def _effective_delay(
    s: NDArray[np.float64], y: NDArray[np.int8], delay: int
) -> NDArray[np.float64]:
    starts, ends = events(y)
    first = segment_reduce(np.maximum, s, starts, np.minimum(starts + delay + 1, ends))
    return np.repeat(first, ends - starts)


def _tsbad_adjust(y: NDArray[np.int8], p: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """TSB-AD's / OmniAnomaly's adjustment: like ours, except that an event starting at index 0
    and first hit later keeps index 0 unpredicted (their backward fill stops at index 1)."""
    out = point_adjust(y, p)
    if y[0] == 1 and not p[0]:
        out[0] = False
    return out


PA_COMPATS = (None, "tsbad", "anomaly_transformer")


def _adjust(y: NDArray[np.int8], p: NDArray[np.bool_], compat: str | None) -> NDArray[np.bool_]:
    if check_compat(compat, PA_COMPATS) is None:
        return point_adjust(y, p)
    return _tsbad_adjust(y, p)


def best_pa_f1(labels: Any, scores: Any, *, compat: str | None = None) -> tuple[float, float]:
    y, s = check_labels_scores(labels, scores, name="pa_f1@oracle")
    compat = check_compat(compat, PA_COMPATS)
    if compat == "tsbad":
        return tsbad_grid(s, lambda p: prf(y, _tsbad_adjust(y, p), "pa_f1")[2])
    starts, ends = events(y)
    effective = np.repeat(segment_reduce(np.maximum, s, starts, ends), ends - starts)
    if compat == "anomaly_transformer" and y[0] == 1:
        effective[0] = s[0]  # index 0 counts only when it is itself predicted
    return best_f1_threshold(effective, s[y == 0])


def best_pa_k_f1(labels: Any, scores: Any, *, k: float = 20.0) -> tuple[float, float]:
    y, s = check_labels_scores(labels, scores, name="pa_k_f1@oracle")
    return best_f1_threshold(_effective_pa_k(s, y, _check_k(k)), s[y == 0])


def best_delay_pa_f1(labels: Any, scores: Any, *, delay: int = 7) -> tuple[float, float]:
    y, s = check_labels_scores(labels, scores, name="delay_pa_f1@oracle")
    return best_f1_threshold(_effective_delay(s, y, _check_delay(delay)), s[y == 0])


@register_metric("pa_f1", needs_threshold=True, oracle=best_pa_f1)
def pa_f1(labels: Any, predictions: Any, *, compat: str | None = None) -> float:
    """Point-adjusted F1: a hit anywhere in an event counts the whole event (compat='tsbad':
    TSB-AD's index-0 rule and 100-point value grid; 'anomaly_transformer': its loop, the same
    index-0 rule)."""
    return _pa_prf(labels, predictions, compat, "pa_f1")[2]


def _pa_prf(
    labels: Any, predictions: Any, compat: str | None, name: str
) -> tuple[float, float, float]:
    y = np.asarray(labels).astype(np.int8)
    return prf(y, _adjust(y, check_predictions(predictions, len(y), name=name), compat), name)


@register_metric("pa_precision", needs_threshold=True, oracle_of="pa_f1")
def pa_precision(labels: Any, predictions: Any, *, compat: str | None = None) -> float:
    """Point-adjusted precision (at oracle: at the PA-F1-optimal threshold)."""
    return _pa_prf(labels, predictions, compat, "pa_precision")[0]


@register_metric("pa_recall", needs_threshold=True, oracle_of="pa_f1")
def pa_recall(labels: Any, predictions: Any, *, compat: str | None = None) -> float:
    """Point-adjusted recall (at oracle: at the PA-F1-optimal threshold)."""
    return _pa_prf(labels, predictions, compat, "pa_recall")[1]


@register_metric("pa_k_f1", needs_threshold=True, oracle=best_pa_k_f1)
def pa_k_f1(labels: Any, predictions: Any, *, k: float = 20.0) -> float:
    """PA%K F1 (Kim et al., AAAI 2022): events with more than k% predicted points are filled."""
    return prf(labels, point_adjust(labels, predictions, k=k), "pa_k_f1")[2]


@register_metric("delay_pa_f1", needs_threshold=True, oracle=best_delay_pa_f1)
def delay_pa_f1(labels: Any, predictions: Any, *, delay: int = 7) -> float:
    """Delay-aware PA F1 (SR-CNN, KDD 2019): only hits in an event's first delay+1 points count."""
    return prf(labels, delay_adjust(labels, predictions, delay=delay), "delay_pa_f1")[2]


def _k_grid(n_k: Any) -> NDArray[np.float64]:
    if not is_int(n_k) or n_k < 2:
        raise ValueError(f"The 'n_k' parameter must be an int >= 2. Got {n_k!r}.")
    return np.linspace(0.0, 100.0, int(n_k))


def _area(ks: NDArray[np.float64], f1s: list[float]) -> float:
    """Area under F1(K) for K in [0, 100], normalised to [0, 1] (trapezoid)."""
    f = np.asarray(f1s)
    return float(np.sum(np.diff(ks) * (f[1:] + f[:-1]) / 2) / 100.0)


def best_pa_k_auc(labels: Any, scores: Any, *, n_k: int = 11) -> tuple[float, float]:
    """Area under the best PA%K F1 (each K at its own oracle threshold); the threshold returned
    is that of K = 0 (PA), for the companions' sake."""
    ks = _k_grid(n_k)
    best = [best_pa_k_f1(labels, scores, k=float(k)) for k in ks]
    return _area(ks, [b[0] for b in best]), best[0][1]


@register_metric("pa_k_auc", needs_threshold=True, oracle=best_pa_k_auc)
def pa_k_auc(labels: Any, predictions: Any, *, n_k: int = 11) -> float:
    """Area under the PA%K F1 curve over K in [0, 100] (Kim et al., AAAI 2022), in [0, 1]."""
    ks = _k_grid(n_k)
    return _area(ks, [pa_k_f1(labels, predictions, k=float(k)) for k in ks])
