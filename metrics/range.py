"""Range-based precision, recall and F1 (Tatbul et al., NeurIPS 2018).

For real ranges R_i and predicted ranges P_j (maximal runs of 1)::

    recall    = mean_i [ α_r · existence(R_i) + (1 − α_r) · γ(R_i) · ω(R_i) ]
    precision = mean_j [ α_p · existence(P_j) + (1 − α_p) · γ(P_j) · ω(P_j) ]

``existence`` is 1 when the range overlaps any range of the other kind; ``ω`` the positional-bias
weighted fraction of the range covered by the other kind (bias δ(t), t = 1..len: ``flat`` 1,
``front`` len − t + 1, ``back`` t, ``middle`` min(t, len − t + 1)); ``γ`` the cardinality factor:
``one`` → 1, ``reciprocal`` → 1 / (number of overlapping ranges) when above 1.

Defaults as TSB-AD's R-based-F1 (``metrics.md`` §4): recall α 0.2, precision α 0, reciprocal
cardinality, flat bias; equal to prts' ``ts_precision`` / ``ts_recall`` for every bias (TSB-AD's
own non-flat biases use the absolute index and are wrong; only flat is comparable there).
Precision with no predicted range is 0 (TSB-AD's convention; prts raises).

``@oracle`` searches a grid of rank-quantile thresholds: 250 by default, every distinct score
with ``oracle(n_thresholds=0)``. The values at every threshold come from one pass
(:func:`_range_curve`: O(n log n) once, then about the real ranges and the flagged runs that
touch them per threshold), equal to evaluating each threshold's predictions on their own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from tsadbench.checks import is_int, is_number
from tsadbench.metrics.point import events
from tsadbench.metrics.thresholds import check_compat, flagged_run, tsbad_grid
from tsadbench.metrics.validation import check_labels_scores, check_predictions
from tsadbench.registry import register_metric

FloatArray = NDArray[np.float64]
BIASES = ("flat", "front", "back", "middle")
CARDINALITIES = ("one", "reciprocal")


def _check(alpha: Any, name: str) -> float:
    if not is_number(alpha) or not 0 <= alpha <= 1:
        raise ValueError(f"The '{name}' parameter must be a number in [0, 1]. Got {alpha!r}.")
    return float(alpha)


Ranges = tuple[NDArray[np.intp], NDArray[np.intp]]


def _rewards(
    ranges_of: NDArray[np.bool_],
    own: Ranges,
    other: NDArray[np.bool_],
    theirs: Ranges,
    alpha: float,
    cardinality: str,
    bias: str,
) -> FloatArray:
    """The reward of each range ``own`` of ``ranges_of`` against the ranges ``theirs`` of
    ``other`` (ranges as (starts, exclusive ends))."""
    starts, ends = own
    lengths = ends - starts
    points = np.flatnonzero(ranges_of)  # grouped by range, in order
    rid = np.repeat(np.arange(len(starts)), lengths)
    covered = other[points]
    if bias == "flat":
        omega = np.bincount(rid, weights=covered, minlength=len(starts)) / lengths
    else:
        t = points - starts[rid] + 1  # 1-based position inside the range
        length = lengths[rid]
        if bias == "front":
            delta = (length - t + 1).astype(np.float64)
        elif bias == "back":
            delta = t.astype(np.float64)
        else:  # middle
            delta = np.where(t <= length / 2.0, t, length - t + 1).astype(np.float64)
        omega = np.bincount(rid, weights=delta * covered, minlength=len(starts)) / np.bincount(
            rid, weights=delta, minlength=len(starts)
        )
    # ranges of `other` overlapping each range: those starting before its end and ending after
    # its start (ranges are sorted and disjoint)
    o_starts, o_ends = theirs
    count = np.searchsorted(o_starts, ends, side="left") - np.searchsorted(
        o_ends, starts, side="right"
    )
    gamma = (
        np.where(count > 1, 1.0 / np.maximum(count, 1), 1.0)
        if cardinality == "reciprocal"
        else np.ones(len(starts))
    )
    existence = (count > 0).astype(np.float64)
    rewards: FloatArray = alpha * existence + (1 - alpha) * gamma * omega
    return rewards


def _side(*args: Any) -> float:
    """The mean reward of :func:`_rewards`; 0 without ranges."""
    rewards = _rewards(*args)
    return float(np.mean(rewards)) if len(rewards) else 0.0


def range_prf(
    labels: Any,
    predictions: Any,
    *,
    p_alpha: float = 0.0,
    r_alpha: float = 0.2,
    cardinality: str = "reciprocal",
    bias: str = "flat",
    name: str = "range_f1",
) -> tuple[float, float, float]:
    """(precision, recall, F1) of binary predictions, range-based."""
    y = np.asarray(labels)
    p = check_predictions(predictions, len(y), name=name)
    y, _ = check_labels_scores(y, p.astype(np.float64), name=name)
    p_alpha, r_alpha = _check(p_alpha, "p_alpha"), _check(r_alpha, "r_alpha")
    if cardinality not in CARDINALITIES:
        raise ValueError(
            f"The 'cardinality' parameter must be one of {CARDINALITIES}. Got {cardinality!r}."
        )
    if bias not in BIASES:
        raise ValueError(f"The 'bias' parameter must be one of {BIASES}. Got {bias!r}.")
    return _range_prf(y.astype(bool), p, p_alpha, r_alpha, cardinality, bias)


def _range_prf(
    real: NDArray[np.bool_],
    p: NDArray[np.bool_],
    p_alpha: float,
    r_alpha: float,
    cardinality: str,
    bias: str,
    real_ranges: Ranges | None = None,
) -> tuple[float, float, float]:
    r_ranges = real_ranges if real_ranges is not None else events(real.astype(np.int8))
    p_ranges = events(p.astype(np.int8))
    recall = _side(real, r_ranges, p, p_ranges, r_alpha, cardinality, bias)
    precision = _side(p, p_ranges, real, r_ranges, p_alpha, cardinality, bias)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return precision, recall, f1


def _range_curve(
    real: NDArray[np.bool_],
    scores: FloatArray,
    thresholds: FloatArray,
    strict: bool,
    p_alpha: float,
    r_alpha: float,
    cardinality: str,
    bias: str,
) -> tuple[FloatArray, FloatArray]:
    """(precision, recall) of the predictions ``scores >= t`` (``> t`` when ``strict``) at every
    threshold t, equal to :func:`_range_prf` at each, without its O(n) per threshold.

    Only the predicted ranges that overlap a real range earn a reward; they lie in a window
    around each real range reaching as far as the flagged points run on either side of it (a
    running minimum of the scores walking away from the range gives that reach for every
    threshold at once). Recall and the precision's sum of rewards are computed on those windows
    alone; the number of predicted ranges, the precision's denominator, is counted for every
    threshold at once: the flagged points less those whose predecessor is flagged too.
    """
    n = len(scores)
    r_start, r_end = events(real.astype(np.int8))
    gap_lo, gap_hi = np.r_[0, r_end[:-1]], np.r_[r_start[1:], n]
    sorted_scores = np.sort(scores)
    with_previous = np.sort(np.minimum(scores[1:], scores[:-1]))  # flagged with the one before
    side: Literal["left", "right"] = "right" if strict else "left"
    n_runs = (np.searchsorted(with_previous, thresholds, side=side) - len(with_previous)) - (
        np.searchsorted(sorted_scores, thresholds, side=side) - n
    )
    precision, recall = np.zeros(len(thresholds)), np.zeros(len(thresholds))
    step = max(1, 4_000_000 // len(r_start))  # bounds the (ranges × thresholds) reaches
    for lo in range(0, len(thresholds), step):
        chunk = thresholds[lo : lo + step]
        reach_left = np.array(
            [
                flagged_run(scores[a:b][::-1], chunk, strict)
                for a, b in zip(gap_lo, r_start, strict=True)
            ]
        )
        reach_right = np.array(
            [flagged_run(scores[a:b], chunk, strict) for a, b in zip(r_end, gap_hi, strict=True)]
        )
        for j, t in enumerate(chunk):
            i = lo + j
            if n_runs[i] == 0:
                continue  # nothing predicted: both 0
            # each real range's window: the flagged runs either side of it and one point more
            start = np.maximum(r_start - reach_left[:, j] - 1, 0)
            stop = np.minimum(r_end + reach_right[:, j] + 1, n)
            new = start > np.r_[-1, np.maximum.accumulate(stop)[:-1]]  # windows' union
            start, stop = start[new], np.maximum.reduceat(stop, np.flatnonzero(new))
            idx = np.repeat(start - np.r_[0, np.cumsum(stop - start)[:-1]], stop - start)
            idx += np.arange(len(idx))
            sub_real = real[idx]
            sub_pred = scores[idx] > t if strict else scores[idx] >= t
            own, theirs = events(sub_real.astype(np.int8)), events(sub_pred.astype(np.int8))
            recall[i] = _side(sub_real, own, sub_pred, theirs, r_alpha, cardinality, bias)
            rewards = _rewards(sub_pred, theirs, sub_real, own, p_alpha, cardinality, bias)
            precision[i] = rewards.sum() / n_runs[i]
    return precision, recall


def grid_oracle(
    labels: Any,
    scores: Any,
    metric: Callable[[NDArray[np.bool_], NDArray[np.bool_]], float] | None,
    n_thresholds: int,
    name: str,
    *,
    curve: Callable[[FloatArray, bool], FloatArray] | None = None,
) -> tuple[float, float]:
    """Best value of ``metric(labels, scores >= t)`` over ``n_thresholds`` rank-quantile
    thresholds (0: every distinct score); ``metric`` takes validated boolean arrays, or
    ``curve(thresholds, strict)`` gives the values at every threshold at once. Returns
    ``(value, threshold)``."""
    from tsadbench.metrics.vus import rank_thresholds

    y, s = check_labels_scores(labels, scores, name=name)
    if not is_int(n_thresholds) or n_thresholds < 0:
        raise ValueError(
            f"The oracle's 'n_thresholds' must be an int >= 0 (0: every distinct "
            f"score). Got {n_thresholds!r}."
        )
    grid = np.unique(s) if n_thresholds == 0 else np.unique(rank_thresholds(s, n_thresholds))
    if curve is not None:
        values = curve(grid, False)
    else:
        assert metric is not None
        real = y.astype(bool)
        values = np.array([metric(real, s >= t) for t in grid])
    i = int(np.argmax(values))
    return float(values[i]), float(grid[i])


def best_range_f1(
    labels: Any,
    scores: Any,
    *,
    n_thresholds: int = 250,
    p_alpha: float = 0.0,
    r_alpha: float = 0.2,
    cardinality: str = "reciprocal",
    bias: str = "flat",
    compat: str | None = None,
) -> tuple[float, float]:
    """Best range F1 over the rank-quantile grid; compat='tsbad': over TSB-AD's 100-point value
    grid instead (``n_thresholds`` is then unused)."""
    y = np.asarray(labels)
    range_f1(
        y,
        y > 0,
        p_alpha=p_alpha,
        r_alpha=r_alpha,
        cardinality=cardinality,
        bias=bias,
        compat=compat,
    )  # validates the parameters once
    tsbad = compat == "tsbad"
    real_y, s = check_labels_scores(labels, scores, name="range_f1@oracle")
    real = real_y.astype(bool)

    def curve(thresholds: FloatArray, strict: bool) -> FloatArray:
        precision, recall = _range_curve(
            real, s, thresholds, strict, p_alpha, r_alpha, cardinality, bias
        )
        denom = precision + recall
        f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(denom), where=denom > 0)
        if tsbad:  # TSB-AD finds no range in an all-ones prediction
            f1[thresholds < s.min() if strict else thresholds <= s.min()] = 0.0
        return f1

    if tsbad:
        return tsbad_grid(s, curve=curve)
    return grid_oracle(real_y, s, None, n_thresholds, "range_f1@oracle", curve=curve)


@register_metric("range_f1", needs_threshold=True, oracle=best_range_f1, oracle_grid=True)
def range_f1(
    labels: Any,
    predictions: Any,
    *,
    p_alpha: float = 0.0,
    r_alpha: float = 0.2,
    cardinality: str = "reciprocal",
    bias: str = "flat",
    compat: str | None = None,
) -> float:
    """Range-based F1 (Tatbul et al., NeurIPS 2018), TSB-AD's R-based-F1 defaults (compat='tsbad':
    TSB-AD's all-ones rule and 100-point value grid)."""
    *_, f = range_prf(
        labels, predictions, p_alpha=p_alpha, r_alpha=r_alpha, cardinality=cardinality, bias=bias
    )
    if check_compat(compat) == "tsbad" and np.asarray(predictions).astype(bool).all():
        return 0.0  # TSB-AD's range_convers_new finds no range in an all-ones prediction
    return f


@register_metric("range_precision", needs_threshold=True, oracle_of="range_f1")
def range_precision(
    labels: Any,
    predictions: Any,
    *,
    p_alpha: float = 0.0,
    cardinality: str = "reciprocal",
    bias: str = "flat",
) -> float:
    """Range-based precision (Tatbul et al.); at oracle: at the best range F1."""
    return range_prf(
        labels,
        predictions,
        p_alpha=p_alpha,
        cardinality=cardinality,
        bias=bias,
        name="range_precision",
    )[0]


@register_metric("range_recall", needs_threshold=True, oracle_of="range_f1")
def range_recall(
    labels: Any,
    predictions: Any,
    *,
    r_alpha: float = 0.2,
    cardinality: str = "reciprocal",
    bias: str = "flat",
) -> float:
    """Range-based recall (Tatbul et al.); at oracle: at the best range F1."""
    return range_prf(
        labels,
        predictions,
        r_alpha=r_alpha,
        cardinality=cardinality,
        bias=bias,
        name="range_recall",
    )[1]
