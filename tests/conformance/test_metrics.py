"""Every registered metric, through ``evaluate`` with each protocol it accepts."""

from __future__ import annotations

import numpy as np
import pytest

from tsadbench.metrics import PROTOCOLS, evaluate
from tsadbench.registry import METRICS, list_metrics


def full_names(name: str) -> list[str]:
    if METRICS.entry(name).meta.get("needs_threshold"):
        return [f"{name}@{p}" for p in sorted(PROTOCOLS)]
    return [name]


CASES = [full for name in list_metrics() for full in full_names(name)]


@pytest.fixture
def labels() -> np.ndarray:
    y = np.zeros(300, dtype=np.int8)
    y[40:60] = 1
    y[200:203] = 1
    return y


@pytest.mark.parametrize("full", CASES)
def test_perfect_scores_score_one(full, labels):
    assert evaluate(labels, labels * 2.0 + 1.0, [full])[full] == pytest.approx(1.0)


@pytest.mark.parametrize("full", CASES)
def test_values_lie_in_the_unit_interval_and_are_deterministic(full, labels):
    scores = np.random.default_rng(0).normal(size=len(labels))
    value = evaluate(labels, scores, [full])[full]
    assert 0.0 <= value <= 1.0
    assert evaluate(labels, scores, [full])[full] == value


@pytest.mark.parametrize("full", CASES)
def test_inverted_scores_do_worse_than_perfect(full, labels):
    assert evaluate(labels, -labels.astype(float), [full])[full] < 1.0


@pytest.mark.parametrize("full", CASES)
def test_input_validation(full, labels):
    with pytest.raises(ValueError, match="same length"):
        evaluate(labels, np.zeros(len(labels) - 1), [full])
    bad = np.zeros(len(labels))
    bad[5] = np.inf
    with pytest.raises(ValueError, match="finite"):
        evaluate(labels, bad, [full])
    with pytest.raises(ValueError, match="undefined"):
        evaluate(np.zeros_like(labels), np.zeros(len(labels)), [full])


@pytest.mark.parametrize("name", list_metrics())
def test_every_metric_is_described(name):
    assert METRICS.entry(name).description
