"""Orion's overlapping-segment metrics (``contextual_*`` with ``weighted=False``), the scores of
its TadGAN benchmark.

Events are the runs of 1 in the labels, detections the runs of predicted points. A true event
is found (TP) when any detection overlaps it and missed (FN) otherwise; a detection that
overlaps no event is a false positive (FP). Overlap means sharing at least one time step (Orion
pads each ``[start, stop]`` to ``[start, stop + 1)`` and tests strict overlap: the same).
Precision is Orion's ``TP / (TP + FP)``, which counts found *events* against unmatched
*detections*; recall ``TP / (TP + FN)``; F1 ``2·TP / (2·TP + FP + FN)``. Where Orion gives NaN
(no detection at all: 0 / 0 precision) these give 0, the convention of every F-type metric
here; Orion's benchmark sums TP, FP and FN over signals before dividing, where it never
matters.

``@oracle`` searches the best F1 exactly over every distinct score (``score >= t``) in
O(n log n): TP(t) counts events whose maximum reaches t, FP(t) is a sum of step functions of t
(one per place a run of flagged points can start inside a normal stretch, minus the runs that
reach into an event).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from tsadbench.metrics.point import events, segment_reduce
from tsadbench.metrics.validation import check_labels_scores, check_predictions
from tsadbench.registry import register_metric


def overlap_counts(labels: Any, predictions: Any, name: str) -> tuple[int, int, int]:
    """(TP, FP, FN) of Orion's overlapping-segment evaluation."""
    y = np.asarray(labels)
    p = check_predictions(predictions, len(y), name=name)
    y, _ = check_labels_scores(y, p.astype(np.float64), name=name)
    e_start, e_end = events(y)
    d_start, d_end = events(p)
    flagged = np.r_[0, np.cumsum(p)]
    labelled = np.r_[0, np.cumsum(y.astype(np.int64))]
    tp = int(np.count_nonzero(flagged[e_end] - flagged[e_start]))
    fp = int(np.count_nonzero(labelled[d_end] - labelled[d_start] == 0))
    return tp, fp, len(e_start) - tp


def _f1(tp: float, fp: float, fn: float) -> float:
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def best_overlap_f1(labels: Any, scores: Any) -> tuple[float, float]:
    """The best overlap F1 over every distinct score and its threshold (``score >= t``)."""
    y, s = check_labels_scores(labels, scores, name="orion_overlap_f1@oracle")
    n = len(s)
    e_start, e_end = events(y)
    event_max = segment_reduce(np.maximum, s, e_start, e_end)
    # FP(t) = sum_k c_k [t <= x_k] over the normal stretches [a, b)
    xs: list[NDArray[np.float64]] = []
    cs: list[NDArray[np.float64]] = []
    n_start, n_end = events(1 - y)
    prev = np.r_[-np.inf, s[:-1]]  # s[i-1]
    for a, b in zip(n_start, n_end, strict=True):
        seg = np.arange(a, b)
        # a restricted run starts at i when s_i >= t and (i == a or s_{i-1} < t):
        # [t <= s_i] - [t <= min(s_i, s_{i-1})], the second term never on at i == a
        starts_here = np.where(seg == a, -np.inf, prev[seg])
        xs += [s[seg], np.minimum(s[seg], starts_here)]
        cs += [np.ones(len(seg)), -np.ones(len(seg))]
        left, right = a > 0, b < n
        if left:  # the run starting at a reaches back into the event before
            xs.append(np.array([min(s[a], s[a - 1])]))
            cs.append(np.array([-1.0]))
        if right:  # the run ending at b - 1 reaches on into the event after
            xs.append(np.array([min(s[b - 1], s[b])]))
            cs.append(np.array([-1.0]))
        if left and right:  # one run doing both was taken away twice
            xs.append(np.array([s[a - 1 : b + 1].min()]))
            cs.append(np.array([1.0]))
    x = np.concatenate(xs) if xs else np.zeros(0)
    c = np.concatenate(cs) if cs else np.zeros(0)
    finite = np.isfinite(x)
    x, c = x[finite], c[finite]  # [t <= -inf] is never on
    order = np.argsort(x)
    x_sorted, tail = x[order], np.r_[np.cumsum(c[order][::-1])[::-1], 0.0]
    thresholds = np.unique(s)
    fp = tail[np.searchsorted(x_sorted, thresholds, side="left")]
    tp = len(event_max) - np.searchsorted(np.sort(event_max), thresholds, side="left")
    fn = len(event_max) - tp
    denom = 2 * tp + fp + fn
    f1 = np.divide(2 * tp, denom, out=np.zeros(len(thresholds)), where=tp > 0)
    i = int(np.argmax(f1))
    return float(f1[i]), float(thresholds[i])


@register_metric("orion_overlap_f1", needs_threshold=True, oracle=best_overlap_f1)
def orion_overlap_f1(labels: Any, predictions: Any) -> float:
    """Orion's overlapping-segment F1 (``contextual_f1_score``, ``weighted=False``)."""
    return _f1(*overlap_counts(labels, predictions, "orion_overlap_f1"))


@register_metric("orion_overlap_precision", needs_threshold=True, oracle_of="orion_overlap_f1")
def orion_overlap_precision(labels: Any, predictions: Any) -> float:
    """Orion's overlapping-segment precision: found events / (found events + unmatched
    detections)."""
    tp, fp, _ = overlap_counts(labels, predictions, "orion_overlap_precision")
    return tp / (tp + fp) if tp + fp else 0.0


@register_metric("orion_overlap_recall", needs_threshold=True, oracle_of="orion_overlap_f1")
def orion_overlap_recall(labels: Any, predictions: Any) -> float:
    """Orion's overlapping-segment recall: the share of events any detection overlaps."""
    tp, _, fn = overlap_counts(labels, predictions, "orion_overlap_recall")
    return tp / (tp + fn)


# The counts themselves, so that a report can sum them over signals before dividing, as Orion's
# benchmark does (F1 of the summed TP, FP, FN: ``tsadbench report`` "Published versus ours").
@register_metric("orion_overlap_tp", needs_threshold=True, oracle_of="orion_overlap_f1", count=True)
def orion_overlap_tp(labels: Any, predictions: Any) -> float:
    """Orion's overlapping-segment true positives: the events some detection overlaps."""
    return float(overlap_counts(labels, predictions, "orion_overlap_tp")[0])


@register_metric("orion_overlap_fp", needs_threshold=True, oracle_of="orion_overlap_f1", count=True)
def orion_overlap_fp(labels: Any, predictions: Any) -> float:
    """Orion's overlapping-segment false positives: the detections that overlap no event."""
    return float(overlap_counts(labels, predictions, "orion_overlap_fp")[1])


@register_metric("orion_overlap_fn", needs_threshold=True, oracle_of="orion_overlap_f1", count=True)
def orion_overlap_fn(labels: Any, predictions: Any) -> float:
    """Orion's overlapping-segment false negatives: the events no detection overlaps."""
    return float(overlap_counts(labels, predictions, "orion_overlap_fn")[2])
