"""The PyOD adapter: PyOD's own scores on points and on windows, its parameters passed through,
the seed followed, contamination kept out of the scores, and without PyOD a clear way to install
it (runs recorded as skipped)."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from typer.testing import CliRunner

from tsadbench.data.windows import sliding_windows, windows_to_points
from tsadbench.registry import create_detector

pyod = pytest.importorskip("pyod", reason="the optional extra tsadbench[pyod]")

rng = np.random.default_rng(0)
TRAIN = rng.normal(size=(300, 3)).astype(np.float32)
TEST = rng.normal(size=(120, 3)).astype(np.float32)


def test_on_points_the_scores_are_pyods_decision_function():
    from pyod.models.ecod import ECOD

    ours = create_detector("pyod_ecod").fit(TRAIN).score(TEST)
    theirs = ECOD().fit(TRAIN).decision_function(TEST)
    np.testing.assert_array_equal(ours, theirs)


def test_on_windows_each_point_takes_the_mean_of_its_windows():
    from pyod.models.pca import PCA

    det = create_detector("pyod_pca", window=8, score_stride=2, random_state=0)
    ours = det.fit(TRAIN).score(TEST)
    flat = lambda x, s: sliding_windows(x, 8, s).reshape(-1, 8 * 3)  # noqa: E731
    model = PCA(random_state=0).fit(flat(TRAIN, 1))
    theirs = windows_to_points(model.decision_function(flat(TEST, 2)), len(TEST), 8, 2, how="mean")
    np.testing.assert_array_equal(ours, theirs)


def test_any_model_by_name_or_path_with_its_parameters_and_the_seed():
    by_name = create_detector("pyod", model="LODA", params={"n_bins": 5}, random_state=3)
    by_path = create_detector("pyod", model="pyod.models.loda.LODA", params={"n_bins": 5})
    by_path.set_params(random_state=3)
    a, b = by_name.fit(TRAIN), by_path.fit(TRAIN)
    assert a.model_.n_bins == 5 and a.model_.random_state == 3
    np.testing.assert_array_equal(a.score(TEST), b.score(TEST))
    other_seed = create_detector("pyod", model="LODA", params={"n_bins": 5}, random_state=4)
    assert not np.array_equal(other_seed.fit(TRAIN).score(TEST), a.score(TEST))


def test_contamination_changes_pyods_threshold_but_never_the_scores():
    low = create_detector("pyod_hbos", params={"contamination": 0.01}).fit(TRAIN)
    high = create_detector("pyod_hbos", params={"contamination": 0.3}).fit(TRAIN)
    assert low.model_.threshold_ != high.model_.threshold_
    np.testing.assert_array_equal(low.score(TEST), high.score(TEST))


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"mode": "strided"}, "'mode' parameter of .* must be one of"),
        ({"params": [1, 2]}, "'params' parameter of .* must be a mapping or null"),
        ({"params": {"random_state": 1}}, "other than random_state"),
    ],
)
def test_bad_settings_are_named(params, message):
    with pytest.raises(ValueError, match=message):
        create_detector("pyod_ecod", **params).check_params()


def test_an_unknown_model_is_unavailable_with_the_reason():
    reason = create_detector("pyod", model="NoSuchModel").check_available()
    assert reason is not None and "PyOD has no model 'NoSuchModel'" in reason


def test_without_pyod_its_detectors_say_how_to_install_and_sweeps_skip_them(tmp_path, monkeypatch):
    from tsadbench.cli import app
    from tsadbench.runner import RunSettings, run

    monkeypatch.setitem(sys.modules, "pyod", None)  # `import pyod` raises ImportError
    det = create_detector("pyod_ecod")
    install = "pip install 'tsadbench[pyod]'"
    assert install in (det.check_available() or "")
    with pytest.raises(ImportError, match=r"tsadbench\[pyod\]"):
        det.fit(TRAIN)
    settings = RunSettings(
        detector="pyod_ecod",
        detector_params={},
        dataset="synthetic",
        dataset_params={},
        metrics=["auc_pr"],
        seed=0,
        results_dir=tmp_path,
        data_root=tmp_path,
        record_skips=True,
    )
    [record] = run(settings, log=lambda _: None)
    assert record.status == "skipped" and install in (record.error or "")
    listed = CliRunner().invoke(app, ["list", "detectors", "pyod*"], env={"COLUMNS": "400"})
    assert listed.exit_code == 0 and listed.output.count("tsadbench[pyod]") >= 11
