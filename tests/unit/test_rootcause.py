"""Root-cause metrics on hand-made cases, and their place in a run: stored where the detector
gives per-channel scores and the data has channel labels, absent otherwise (never 0)."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest

from tsadbench.metrics import compute, compute_root_cause, parse_metric
from tsadbench.runner import RunSettings, run

# 4 channels; point 0: true {0, 1}; point 1: true {2}; point 2: normal (no channel)
LABELS = np.array([[1, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 0]])
SCORES = np.array(
    [
        [0.9, 0.1, 0.8, 0.0],  # ranking 0, 2, 1, 3: top-2 holds channel 0 only; top-3 both
        [0.5, 0.1, 0.4, 0.2],  # ranking 0, 2, ...: top-1 misses channel 2, top-1 (150%) too
        [9.0, 9.0, 9.0, 9.0],  # a normal point: not counted
    ]
)


def value(name: str) -> float:
    return compute_root_cause(parse_metric(name), LABELS, SCORES)


def test_hitrate_by_hand():
    # P100: point 0 keeps top 2 -> 1 of 2; point 1 keeps top 1 -> 0 of 1
    assert value("hitrate_p100") == pytest.approx((0.5 + 0.0) / 2)
    # P150: point 0 keeps floor(3) = 3 -> 2 of 2; point 1 keeps floor(1.5) = 1 -> 0
    assert value("hitrate_p150") == pytest.approx((1.0 + 0.0) / 2)


def test_ndcg_by_hand():
    # point 0: k = 2, hits at ranks 1 and -, DCG = 1; ideal = 1 + 1/log2(3)
    # point 1: k = 1, no hit in the top 1: 0
    expected = (1 / (1 + 1 / math.log2(3)) + 0.0) / 2
    assert value("ndcg_p100") == pytest.approx(expected)


def test_perfect_ranking_and_bad_input():
    assert compute_root_cause(parse_metric("ndcg_p100"), LABELS, LABELS * 1.0) == 1.0
    assert compute_root_cause(parse_metric("hitrate_p100"), LABELS, LABELS * 1.0) == 1.0
    with pytest.raises(ValueError, match="one shape"):
        compute_root_cause(parse_metric("hitrate_p100"), LABELS, SCORES[:, :3])
    with pytest.raises(ValueError, match="no point has a labelled channel"):
        compute_root_cause(parse_metric("hitrate_p100"), LABELS * 0, SCORES)
    with pytest.raises(ValueError, match="root-cause metric"):
        compute(parse_metric("hitrate_p100"), np.zeros(3), np.zeros(3))


def _settings(tmp_path, detector: str, params: dict) -> RunSettings:
    return RunSettings(
        detector=detector,
        detector_params=params,
        dataset="synthetic",
        dataset_params={"length": 400, "n_anomalies": 3, "n_channels": 3},
        metrics=["auc_pr", "hitrate_p100", "ndcg_p100"],
        seed=0,
        results_dir=tmp_path,
        data_root=tmp_path,
        isolate=False,
    )


def test_a_run_stores_channel_scores_and_gives_nan_with_the_reason_without_channel_labels(
    tmp_path,
):
    from tsadbench import store

    params = {"window": 16, "n_epochs": 1, "random_state": 0, "device": "cpu"}
    [record] = run(_settings(tmp_path, "ae", params), log=lambda _: None)
    assert record.status == "ok"
    arrays = store.read_scores(tmp_path, record.key)
    assert arrays.channels.shape == (400, 3)  # stored beside the scores
    # synthetic data has no channel labels: NaN with the reason, never 0
    assert math.isnan(record.metrics["hitrate_p100"]) and record.metrics["auc_pr"] > 0
    assert "the dataset has no channel labels" in record.metric_errors["hitrate_p100"]
    [plain] = run(_settings(tmp_path / "b", "pca", {}), log=lambda _: None)
    assert store.read_scores(tmp_path / "b", plain.key).channels is None
    assert math.isnan(plain.metrics["ndcg_p100"])
    assert "the detector gives no per-channel scores" in plain.metric_errors["ndcg_p100"]


@pytest.mark.skipif(not os.environ.get("TSADBENCH_DATA"), reason="needs SMD: set TSADBENCH_DATA")
def test_oraclead_on_an_smd_machine_records_channel_scores_and_hit_rates(tmp_path):
    from tsadbench import store

    settings = RunSettings(
        detector="oraclead",
        detector_params={"hidden": 16, "stride": 8, "n_epochs": 1, "random_state": 0},
        dataset="smd",
        dataset_params={
            "entities": ["machine-1-2"],
            "train_slice": [0, 3000],
            "test_slice": [15000, 18000],
        },
        metrics=["vus_pr", "hitrate_p100", "hitrate_p150", "ndcg_p100"],
        seed=0,
        results_dir=tmp_path,
        data_root=os.environ["TSADBENCH_DATA"],
        isolate=False,
    )
    [record] = run(settings, log=lambda _: None)
    assert record.status == "ok", record.error
    arrays = store.read_scores(tmp_path, record.key)
    assert arrays.channels.shape == arrays.channel_labels.shape == (3000, 38)
    assert arrays.channel_labels.any()  # the cut holds labelled anomalies
    for name in ("hitrate_p100", "hitrate_p150", "ndcg_p100"):
        assert 0.0 <= record.metrics[name] <= 1.0
    assert record.metrics["hitrate_p150"] >= record.metrics["hitrate_p100"]
