"""TadGAN's parts: Orion's scoring steps on hand-checkable inputs, the network's sizes against
Orion's Keras layers, training and its failure modes, and bad input.

The equality of the whole scoring step with Orion's own ``score_anomalies`` (on the same
reconstructions and critic values, every error type and combination) is checked by
``python bench/detectors.py --vs-orion`` in Orion's environment (largest difference about
1e-6, float32 reconstructions); the critic's KDE mode against one scipy fit per point is in
test_windows.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from tsadbench.detectors import tadgan as tg
from tsadbench.detectors.tadgan import TadGAN

SMALL = dict(TadGAN.test_params, random_state=0, device="cpu")


# scoring -----------------------------------------------------------------------------------
@pytest.mark.parametrize("window", [1, 2, 5, 10, 11])
def test_rolling_mean_is_pandas_centred_rolling(window):
    x = np.random.default_rng(0).normal(size=37)
    expected = pd.Series(x).rolling(window, center=True, min_periods=window // 2).mean()
    np.testing.assert_allclose(tg.rolling_mean(x, window), expected.to_numpy(), atol=1e-12)


def test_rolling_mean_by_hand():
    # window 4 of point t: [t - 2, t + 1]
    np.testing.assert_allclose(tg.rolling_mean(np.array([0.0, 4, 8, 0]), 4), [2, 4, 3, 4])


def test_area_error_is_the_difference_of_trapezoid_integrals():
    y = np.array([0.0, 1, 2, 3, 4, 5])
    y_hat = np.zeros(6)
    # window 4 of point t: [t - 2, t + 1], min 2 values; trapezoid of unit steps
    expected = [0.5, 2.0, 4.5, 7.5, 10.5, 8.0]  # e.g. t=2: 0..3 -> 0.5+1.5+2.5 = 4.5
    np.testing.assert_allclose(tg.area_error(y, y_hat, 4), expected)
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=50), rng.normal(size=50)
    trapz = lambda v: float(np.sum((v[1:] + v[:-1]) / 2))  # noqa: E731
    ref = (
        pd.Series(a).rolling(10, center=True, min_periods=5).apply(trapz, raw=True)
        - pd.Series(b).rolling(10, center=True, min_periods=5).apply(trapz, raw=True)
    ).abs()
    np.testing.assert_allclose(tg.area_error(a, b, 10), ref.to_numpy(), atol=1e-12)


def _dtw(a: np.ndarray, b: np.ndarray) -> float:
    """Classic DTW with squared point cost, square root of the total (pyts' default)."""
    n, m = len(a), len(b)
    acc = np.full((n + 1, m + 1), np.inf)
    acc[0, 0] = 0.0
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            cost = (a[i - 1] - b[j - 1]) ** 2
            acc[i, j] = cost + min(acc[i - 1, j], acc[i, j - 1], acc[i - 1, j - 1])
    return math.sqrt(acc[n, m])


def test_dtw_error_by_hand_and_against_a_plain_dp():
    # a shifted step costs nothing under warping: [0, 0, 1] against [0, 1, 1]
    assert _dtw(np.array([0.0, 0, 1]), np.array([0.0, 1, 1])) == 0.0
    y = np.array([0.0, 0, 1, 1, 1, 1, 1, 1])
    # window 2: segments of 3 centred on each point, zero-padded; Orion computes n - 3 = 5
    # of them: points 1..5; point 0 and the last two get 0
    got = tg.dtw_error(y, np.roll(y, 1), 2)
    padded_y, padded_h = np.pad(y, 1), np.pad(np.roll(y, 1), 1)
    expected = np.zeros(8)
    for t in range(1, 6):
        expected[t] = _dtw(padded_y[t - 1 : t + 2], padded_h[t - 1 : t + 2])
    np.testing.assert_allclose(got, expected)
    assert got[0] == got[6] == got[7] == 0.0
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=40), rng.normal(size=40)
    got = tg.dtw_error(a, b, 10)
    pa, pb = np.pad(a, 5), np.pad(b, 5)
    for t in (5, 17, 33):  # point t's segment: padded [t, t + 11), i.e. t - 5 .. t + 5
        assert got[t] == pytest.approx(_dtw(pa[t - 5 : t + 6], pb[t - 5 : t + 6]), abs=1e-12)
    assert (got[:5] == 0).all() and (got[-6:] == 0).all()
    assert (tg.dtw_error(a, a, 10) == 0).all()


def test_critic_score_uses_the_interquartile_mean_and_the_full_std():
    c = np.array([1.0, 2, 3, 4, 100])
    center = 3.0  # mean of the values inside [q25, q75] = [2, 4]
    expected = np.abs(c - center) / np.std(c) + 1
    np.testing.assert_allclose(tg.critic_score(c, 1), expected)
    np.testing.assert_allclose(tg.critic_score(np.full(6, 0.3), 1), np.ones(6))  # no deviation


def test_rec_score_z_scores_clips_and_adds_one():
    e = np.array([1.0, 1.0, 1.0, 5.0])
    z = (e - e.mean()) / e.std()
    np.testing.assert_allclose(tg.rec_score(e, 1), np.clip(z, 0, None) + 1)
    assert tg.rec_score(e, 1)[:3].tolist() == [1.0, 1.0, 1.0]


def test_combinations():
    critic, rec = np.array([1.0, 2.0, 3.0]), np.array([2.0, 1.0, 4.0])
    np.testing.assert_allclose(tg.combine(critic, rec, "mult"), [2, 2, 12])
    np.testing.assert_allclose(tg.combine(critic, rec, "sum", 0.5), [0.5, 0.5, 2.5])
    np.testing.assert_allclose(tg.combine(critic, rec, "sum", 0.0), critic - 1)
    np.testing.assert_allclose(tg.combine(critic, rec, "rec"), rec)
    with pytest.raises(ValueError, match="combination must be one of"):
        tg.combine(critic, rec, "max")


def test_reconstruction_error_types():
    y, y_hat = np.array([0.0, 1.0, -1.0]), np.array([0.5, 1.0, 1.0])
    np.testing.assert_allclose(tg.reconstruction_error(y, y_hat, "point"), [0.5, 0.0, 2.0])
    with pytest.raises(ValueError, match="must be one of"):
        tg.reconstruction_error(y, y_hat, "mse")


def test_score_anomalies_of_a_perfect_reconstruction_is_the_critic_alone():
    x = np.sin(np.linspace(0, 6, 60))[:, None]
    recs = np.lib.stride_tricks.sliding_window_view(x, 20, axis=0).transpose(0, 2, 1)
    critics = np.linspace(0, 1, len(recs))
    got = tg.score_anomalies(x, recs, critics, error="point", comb="rec")
    np.testing.assert_allclose(got, np.ones(60))  # zero error everywhere: z = 0, plus 1
    both = tg.score_anomalies(x, recs, critics, error="point", comb="mult")
    np.testing.assert_allclose(both, tg.score_anomalies(x, recs, critics, comb="sum") * 2 + 1)


# the network -------------------------------------------------------------------------------
def _keras_parameters() -> int:
    """Orion's TadGAN for one channel, window 100, counted from its Keras layers."""

    def lstm(units: int, inputs: int) -> int:  # Keras: one bias vector per gate
        return 4 * (units * (inputs + units) + units)

    encoder = 2 * lstm(100, 1) + (100 * 200 * 20 + 20)
    generator = (20 * 50 + 50) + 2 * lstm(64, 1) + 2 * lstm(64, 128) + (128 + 1)
    critic_x = (5 * 1 * 64 + 64) + 3 * (5 * 64 * 64 + 64) + (84 * 64 + 1)
    critic_z = (20 * 20 + 20) * 2 + 21
    return encoder + generator + critic_x + critic_z


def test_one_channel_network_has_orions_layer_sizes():
    net = tg.TadGANNet(1, 100)
    # PyTorch's LSTM carries two bias vectors per gate: 4 * units more per direction
    extra = 2 * 4 * (100 + 64 + 64)
    assert sum(p.numel() for p in net.parameters()) == _keras_parameters() + extra
    x = torch.zeros(3, 100, 1)
    z = net.encode(x)
    assert z.shape == (3, 20, 1)
    assert net.generate(z).shape == (3, 100, 1)
    assert net.critic_x(x).shape == (3,) and net.critic_z(z).shape == (3,)


def test_multivariate_head_reconstructs_every_channel():
    net = tg.TadGANNet(4, 100)
    z = net.encode(torch.zeros(2, 100, 4))
    assert z.shape == (2, 20, 4) and net.generate(z).shape == (2, 100, 4)
    x = np.random.default_rng(0).uniform(-1, 1, size=(120, 3)).astype(np.float32)
    det = TadGAN(**SMALL).fit(x)
    assert det.reconstruct(x)[0].shape == (120 - 18 + 1, 18, 3)
    assert det.score(x).shape == (120,)


def test_gradient_penalty_by_hand():
    # a linear critic w·x has gradient w everywhere: penalty (|w| - 1)^2
    w = torch.tensor([3.0, 4.0])
    gp = tg.gradient_penalty(lambda v: v @ w, torch.zeros(5, 2), torch.ones(5, 2))
    assert float(gp) == pytest.approx(16.0)


# training ----------------------------------------------------------------------------------
def test_fit_is_deterministic_and_declares_its_scaler():
    x = np.sin(np.linspace(0, 20, 200))[:, None].astype(np.float32)
    a = TadGAN(**SMALL).fit(x).score(x)
    b = TadGAN(**SMALL).fit(x).score(x)
    np.testing.assert_array_equal(a, b)
    assert np.isfinite(a).all()
    assert TadGAN.tags.scaler == "minmax_pm1"


def test_each_group_makes_one_generator_step_and_drops_the_partial_group(monkeypatch):
    steps: list[int] = []
    original = TadGAN._train_step

    def counting(self, module, group, optimizer):
        steps.append(group.shape[0])
        return original(self, module, group, optimizer)

    monkeypatch.setattr(TadGAN, "_train_step", counting)
    x = np.random.default_rng(0).uniform(-1, 1, size=(18 + 40, 1)).astype(np.float32)
    TadGAN(**SMALL).fit(x)  # 41 windows, groups of 2 x 8 = 16: two groups, 9 windows dropped
    assert steps == [16, 16]
    steps.clear()
    TadGAN(**SMALL).fit(x[:30])  # 13 windows, fewer than one group: trained on, not dropped
    assert steps == [13]


def test_diverging_training_stops_with_an_error(monkeypatch):
    monkeypatch.setattr(tg, "gradient_penalty", lambda *a: torch.tensor(float("nan")))
    x = np.random.default_rng(0).uniform(-1, 1, size=(60, 1)).astype(np.float32)
    with pytest.raises(FloatingPointError, match="non-finite at epoch 0"):
        TadGAN(**SMALL).fit(x)


# bad input ---------------------------------------------------------------------------------
def test_bad_input_and_settings_are_clear_errors():
    det = TadGAN(**SMALL)
    with pytest.raises(ValueError, match="needs at least 18 time steps"):
        det.fit(np.zeros((10, 1)))
    nan = np.zeros((50, 1))
    nan[3] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        det.fit(nan)
    with pytest.raises(ValueError, match="'window' parameter of TadGAN must be an even int"):
        TadGAN(window=99).fit(np.zeros((200, 1)))
    with pytest.raises(ValueError, match="'error' parameter"):
        TadGAN(error="mse").check_params()
    with pytest.raises(ValueError, match="'comb' parameter"):
        TadGAN(comb="max").check_params()
    fitted = TadGAN(**SMALL).fit(np.random.default_rng(0).uniform(-1, 1, (60, 2)))
    with pytest.raises(ValueError, match="needs at least 18 time steps"):
        fitted.score(np.zeros((5, 2)))


def test_a_constant_channel_gives_finite_scores():
    # the min-max scaler maps a constant train channel to a constant; nothing divides by zero
    x = np.random.default_rng(0).uniform(-1, 1, size=(80, 2)).astype(np.float32)
    x[:, 1] = -1.0
    scores = TadGAN(**SMALL).fit(x).score(x)
    assert np.isfinite(scores).all()
    flat = np.full((80, 1), 0.5, dtype=np.float32)
    assert np.isfinite(TadGAN(**SMALL).fit(flat).score(flat)).all()


def test_train_based_thresholds_give_nan_with_the_reason_never_a_number(tmp_path):
    """TadGAN's scores are standardised per scored series: a threshold from its train scores
    means nothing on its test scores (issue 21, item 6)."""

    from tsadbench.runner import RunSettings, run

    settings = RunSettings(
        detector="tadgan",
        detector_params=SMALL,
        dataset="synthetic",
        dataset_params={"length": 300, "n_anomalies": 2, "n_channels": 2},
        metrics=["auc_pr", "f1@oracle", "f1@train_quantile", "f1@pot_train", "f1@test_ratio"],
        seed=0,
        results_dir=tmp_path,
        data_root=tmp_path,
        isolate=False,
    )
    [record] = run(settings, log=lambda _: None)
    assert record.status == "ok", record.error
    assert record.detector.comparable_scores is False
    metrics, errors = record.metrics, record.metric_errors
    for name in ("f1@train_quantile", "f1@pot_train"):
        assert math.isnan(metrics[name]) and "comparable_scores=False" in errors[name]
    for name in ("auc_pr", "f1@oracle", "f1@test_ratio"):  # what reads the test scores only
        assert math.isfinite(metrics[name]) and name not in errors
