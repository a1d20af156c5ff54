from __future__ import annotations

import numpy as np
import pytest

from tsadbench.data import Entity, load_dataset
from tsadbench.data.scaling import fit_scaler
from tsadbench.data.synthetic import KINDS


def test_synthetic_is_seeded_and_well_formed():
    a = load_dataset("synthetic", n_entities=2, length=600, n_channels=4, n_anomalies=6)
    b = load_dataset("synthetic", n_entities=2, length=600, n_channels=4, n_anomalies=6)
    assert [e.checksum for e in a.entities] == [e.checksum for e in b.entities]
    assert a.entities[0].checksum != a.entities[1].checksum
    e = a.entities[0]
    assert e.train.shape == e.test.shape == (600, 4) and e.train.dtype == np.float32
    assert set(np.unique(e.labels)) == {0, 1}
    assert e.meta["kinds"] == list(KINDS)
    other = load_dataset("synthetic", length=600, n_channels=4, n_anomalies=6, random_state=1)
    assert other.entities[0].checksum != e.checksum


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"length": -5}, "'length' parameter of the synthetic dataset must be an int >= 200"),
        ({"n_channels": 0}, "'n_channels'"),
        ({"noise": -1.0}, "'noise'"),
        ({"length": 200, "n_anomalies": 50}, "cannot fit 50 anomalies"),
    ],
)
def test_synthetic_rejects_bad_settings(params, message):
    with pytest.raises(ValueError, match=message):
        load_dataset("synthetic", **params)


def test_entity_validates_shapes():
    ok = np.zeros((10, 2), np.float32)
    with pytest.raises(ValueError, match="expected 10 test labels"):
        Entity("e", ok, ok, np.zeros(9, np.int8))
    with pytest.raises(ValueError, match="train has 2 channels but test has 3"):
        Entity("e", ok, np.zeros((10, 3), np.float32), np.zeros(10, np.int8))


@pytest.mark.parametrize("kind", ["zscore", "minmax", "minmax_pm1", "none"])
def test_scalers_are_fit_on_train_only(kind):
    rng = np.random.default_rng(0)
    train = rng.normal(3, 2, size=(500, 3))
    train[:, 2] = 7.0  # a constant channel stays finite
    transform = fit_scaler(kind, train)
    z = transform(train)
    assert z.dtype == np.float32 and np.isfinite(z).all()
    if kind == "zscore":
        np.testing.assert_allclose(z[:, :2].mean(axis=0), 0, atol=1e-5)
        np.testing.assert_allclose(z[:, :2].std(axis=0), 1, atol=1e-5)
        # test data outside the train range: train statistics, no clipping
        expected = (train[:, :2] + 100 - train[:, :2].mean(0)) / train[:, :2].std(0)
        np.testing.assert_allclose(transform(train + 100)[:, :2], expected, rtol=1e-5)
    elif kind == "minmax_pm1":
        np.testing.assert_allclose(z[:, :2].min(axis=0), -1, atol=1e-6)
        np.testing.assert_allclose(z[:, :2].max(axis=0), 1, atol=1e-6)
        assert transform(train + 100)[:, :2].min() > 1
    with pytest.raises(ValueError, match="'scaler' setting"):
        fit_scaler("quantile", train)


def test_robust_scaler_uses_median_and_iqr():
    train = np.array([[1.0], [2.0], [3.0], [4.0], [100.0]])
    z = fit_scaler("robust", train)(train)
    # median 3, IQR 4 - 2 = 2: the outlier does not move the centre or the scale
    np.testing.assert_allclose(z[:, 0], [-1.0, -0.5, 0.0, 0.5, 48.5])


def test_slices_cut_every_entity_and_change_its_checksum():
    from tsadbench.data import load_dataset

    whole = load_dataset("synthetic", None, n_entities=2)
    cut = load_dataset("synthetic", None, n_entities=2, train_slice=[0, 500], test_slice=[100, 900])
    for w, c in zip(whole.entities, cut.entities, strict=True):
        assert np.array_equal(c.train, w.train[:500]) and np.array_equal(c.test, w.test[100:900])
        assert np.array_equal(c.labels, w.labels[100:900]) and c.checksum != w.checksum
    with pytest.raises(ValueError, match=r"'test_slice' setting must be \[start, stop\]"):
        load_dataset("synthetic", None, test_slice=[5])
    with pytest.raises(ValueError, match=r"series_0.*test must be a non-empty"):
        load_dataset("synthetic", None, test_slice=[5000, 6000])
