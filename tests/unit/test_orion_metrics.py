"""Orion's evaluation: the ``orion_window`` protocol and the overlapping-segment metrics, on
hand-made interval cases."""

from __future__ import annotations

import numpy as np
import pytest

from tsadbench.metrics import evaluate
from tsadbench.metrics.overlap import (
    best_overlap_f1,
    orion_overlap_f1,
    orion_overlap_precision,
    orion_overlap_recall,
    overlap_counts,
)
from tsadbench.metrics.thresholds import orion_window


def mask(n, *spans):
    m = np.zeros(n, dtype=bool)
    for a, b in spans:  # inclusive spans, like Orion's intervals
        m[a : b + 1] = True
    return m


def runs(m):
    edges = np.diff(np.r_[0, m.astype(int), 0])
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1, strict=True))


@pytest.mark.parametrize(
    ("events", "detections", "counts"),
    [
        ([(10, 20)], [(15, 30)], (1, 0, 0)),  # overlap
        ([(10, 20)], [(21, 30)], (0, 1, 1)),  # touching, not overlapping
        ([(10, 20)], [(20, 20)], (1, 0, 0)),  # one shared point is an overlap
        ([(0, 3)], [(0, 0)], (1, 0, 0)),  # an event at the start
        ([(96, 99)], [(99, 99)], (1, 0, 0)),  # an event at the end
        ([(10, 20), (40, 50)], [], (0, 0, 2)),  # no detection
        ([(10, 20), (40, 50)], [(5, 60)], (2, 0, 0)),  # one detection finds both events
        ([(10, 20)], [(12, 13), (15, 16), (60, 70)], (1, 1, 0)),  # two hits, one false
        ([(10, 20), (40, 50)], [(10, 20), (40, 50)], (2, 0, 0)),  # all detected
    ],
)
def test_overlap_counts_on_hand_cases(events, detections, counts):
    y = mask(100, *events).astype(np.int8)
    p = mask(100, *detections)
    assert overlap_counts(y, p, "t") == counts
    tp, fp, fn = counts
    assert orion_overlap_recall(y, p) == tp / (tp + fn)
    assert orion_overlap_precision(y, p) == (tp / (tp + fp) if tp + fp else 0.0)
    assert orion_overlap_f1(y, p) == pytest.approx(2 * tp / (2 * tp + fp + fn) if tp else 0.0)


def test_the_oracle_is_the_best_over_every_threshold():
    rng = np.random.default_rng(0)
    for _ in range(200):
        n = int(rng.integers(5, 40))
        y = (rng.random(n) < 0.3).astype(np.int8)
        if y.all() or not y.any():
            continue
        s = rng.integers(0, 6, size=n).astype(float)
        best = max(orion_overlap_f1(y, s >= t) for t in np.unique(s))
        value, t = best_overlap_f1(y, s)
        assert value == pytest.approx(best, abs=1e-12)
        assert orion_overlap_f1(y, s >= t) == pytest.approx(value, abs=1e-12)


def test_flagging_everything_scores_one_the_metrics_blind_spot():
    y = mask(100, (10, 20), (50, 60)).astype(np.int8)
    assert orion_overlap_f1(y, np.ones(100, dtype=bool)) == 1.0


def test_orion_window_pads_a_spike_and_finds_it():
    rng = np.random.default_rng(1)
    s = rng.normal(0, 0.1, 1000)
    s[500] = 5.0
    assert runs(orion_window(s, None)) == [(450, 550)]  # padded by 50 each side
    assert runs(orion_window(s, None, padding=3)) == [(497, 503)]


def test_orion_window_at_the_ends_and_on_flat_scores():
    s = np.zeros(1000)
    assert not orion_window(s, None).any()  # nothing above mean + 4 std of a flat series
    s[0] = 5.0
    s[999] = 5.0
    assert runs(orion_window(s, None)) == [(0, 50), (949, 999)]  # padding cut at the ends


def test_orion_window_prunes_a_sequence_too_close_to_the_largest_unflagged_score():
    s = np.full(300, 0.9)  # the largest unflagged score will be 0.9
    s[100] = 10.0
    s[200] = 1.0
    # mean + 0.1 std (about 0.98) flags 100 and 200; ranked maxima 10, 1.0 and the unflagged
    # 0.9: 10 -> 1.0 drops 90% (kept), 1.0 -> 0.9 only 10% (< 13%): the 1.0 is pruned
    assert runs(orion_window(s, None, window=1.0, padding=0, k=0.1)) == [(100, 100)]
    kept = orion_window(s, None, window=1.0, padding=0, k=0.1, min_percent=0.05)
    assert runs(kept) == [(100, 100), (200, 200)]


def test_orion_window_merges_sequences_across_windows():
    s = np.zeros(1000)
    s[300:303] = 5.0
    m = orion_window(s, None)  # several overlapping windows see the same spike
    assert runs(m) == [(250, 352)]


def test_through_evaluate_with_the_protocol_name():
    y = mask(1000, (495, 505)).astype(np.int8)
    s = np.random.default_rng(2).normal(0, 0.1, 1000)
    s[500] = 5.0
    names = ["orion_overlap_f1@orion_window", "f1@orion_window(padding=0)"]
    out = evaluate(y, s, names)
    assert out["orion_overlap_f1@orion_window"] == 1.0
    assert out["f1@orion_window(padding=0)"] == pytest.approx(2 / 12)  # 1 of 11 points
