"""The runner end to end: detectors beat `random`; availability is checked before data."""

from __future__ import annotations

from pathlib import Path

import pytest

from tsadbench.runner import RunSettings, run


def auc_pr(tmp_path: Path, detector: str, **params: object) -> float:
    settings = RunSettings(
        detector=detector,
        detector_params=params,
        dataset="synthetic",
        dataset_params={},
        metrics=["auc_pr"],
        seed=0,
        results_dir=tmp_path,
        data_root=tmp_path,
    )
    [record] = run(settings, log=lambda _: None)
    assert record["status"] == "ok", record.get("error")
    return float(record["metrics"]["auc_pr"])


@pytest.fixture(scope="module")
def random_auc_pr(tmp_path_factory: pytest.TempPathFactory) -> float:
    return auc_pr(tmp_path_factory.mktemp("random"), "random", random_state=0)


@pytest.mark.parametrize(
    ("detector", "params"),
    [
        ("iforest", {"random_state": 0}),
        ("pca", {}),
        ("ae", {"random_state": 0, "device": "cpu", "n_epochs": 10}),
        # fewer epochs than the default (50) keeps the test short; it only makes the bar harder
        ("memae", {"random_state": 0, "device": "cpu", "n_epochs": 8, "stride": 2}),
    ],
)
def test_beats_random_on_auc_pr(tmp_path, random_auc_pr, detector, params):
    value = auc_pr(tmp_path, detector, **params)
    # the anomaly ratio is about 0.19, which random scores sit at; demand a clear margin
    assert value > random_auc_pr + 0.25, (
        f"{detector}: auc_pr {value:.3f} vs random {random_auc_pr:.3f}"
    )


@pytest.mark.slow
def test_memae_with_its_defaults_beats_random(tmp_path, random_auc_pr):
    value = auc_pr(tmp_path, "memae", random_state=0, device="cpu")
    assert value > random_auc_pr + 0.4, f"memae: auc_pr {value:.3f} vs random {random_auc_pr:.3f}"


def test_an_unavailable_detector_fails_before_loading_data(tmp_path, monkeypatch):
    from tsadbench.detectors.baselines import WindowIForest
    from tsadbench.runner import ConfigError

    def unavailable(cls, n_channels=None):
        return "its pretrained weights are not in the cache"

    loaded = []
    monkeypatch.setattr(WindowIForest, "check_available", classmethod(unavailable))
    monkeypatch.setattr("tsadbench.runner.load_dataset", lambda *a, **k: loaded.append(1))
    with pytest.raises(ConfigError, match="cannot run here: its pretrained weights"):
        auc_pr(tmp_path, "iforest")
    assert loaded == [] and list(tmp_path.iterdir()) == []
