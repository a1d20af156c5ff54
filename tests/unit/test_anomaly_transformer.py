"""The Anomaly Transformer's parts (prior association, minimax phases, schedule, score), AMAD's
AutoMask and mixup gate, and the Anomaly Transformer's threshold protocol and adjustment."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from tsadbench.detectors import anomaly_transformer as at
from tsadbench.detectors.amad import AMAD, AutoMaskAttention
from tsadbench.detectors.anomaly_transformer import AnomalyTransformer
from tsadbench.metrics import evaluate, parse_metric
from tsadbench.metrics.pa import best_pa_f1, pa_f1, pa_precision, pa_recall
from tsadbench.metrics.thresholds import train_test_ratio


def _series(n: int = 400, channels: int = 3, seed: int = 0) -> np.ndarray:
    t = np.arange(n)[:, None]
    rng = np.random.default_rng(seed)
    return (np.sin(t / 5 + np.arange(channels)) + 0.1 * rng.normal(size=(n, channels))).astype(
        np.float32
    )


def _tiny(cls: type = AnomalyTransformer, **kw: object) -> AnomalyTransformer:
    return cls(**{**cls.test_params, "random_state": 0, "device": "cpu", **kw})  # type: ignore


# the prior association -----------------------------------------------------------------------
def test_prior_is_a_normalised_gaussian_of_the_distance_per_row():
    torch.manual_seed(0)
    raw = torch.randn(2, 7, 3)  # (B, L, H)
    prior = at.gaussian_prior(raw, 7)
    assert prior.shape == (2, 3, 7, 7)
    torch.testing.assert_close(prior.sum(-1), torch.ones(2, 3, 7))
    b, h, i = 1, 2, 4
    sigma = 3 ** (torch.sigmoid(raw[b, i, h] * 5) + 1e-5) - 1
    dist = torch.arange(7.0) - i
    row = torch.exp(-(dist**2) / (2 * sigma**2)) / (math.sqrt(2 * math.pi) * sigma)
    torch.testing.assert_close(prior[b, h, i], row / row.sum())
    assert int(prior[b, h, i].argmax()) == i  # peaked on the diagonal, symmetric around it
    torch.testing.assert_close(prior[b, h, i, i - 1], prior[b, h, i, i + 1])


def _official_kl(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """The official my_kl_loss, written out as a reference: (B, H, L, L) -> (B, L)."""
    return (p * (torch.log(p + 1e-4) - torch.log(q + 1e-4))).sum(-1).mean(1)


def test_discrepancy_is_the_official_pair_of_kl_terms_with_its_epsilon():
    s = torch.softmax(torch.randn(2, 3, 4, 4), -1)
    p = torch.softmax(torch.randn(2, 3, 4, 4), -1)
    want = _official_kl(s, p) + _official_kl(p, s)
    torch.testing.assert_close(at.discrepancy_rows(s, p), want)
    x, rec = torch.randn(2, 4, 5), torch.randn(2, 4, 5)
    _, phase1, phase2 = at.minimax_losses(x, rec, [s, s], [p, p])
    torch.testing.assert_close(phase1, _official_kl(s, p).mean() + _official_kl(p, s).mean())
    torch.testing.assert_close(phase2, phase1)


# the minimax phases ------------------------------------------------------------------------------
def _grads(module: torch.nn.Module, loss: torch.Tensor) -> dict[str, torch.Tensor]:
    module.zero_grad(set_to_none=True)
    loss.backward(retain_graph=True)
    return {
        n: (p.grad.clone() if p.grad is not None else torch.zeros_like(p))
        for n, p in module.named_parameters()
    }


def test_minimax_phases_send_gradients_only_where_they_should():
    torch.manual_seed(0)
    net = at.AnomalyTransformerNet(3, 8, 8, 1, 8, 0.0, lambda: at.AnomalyAttention(8, 2, 0.0))
    x = torch.randn(4, 8, 3)
    rec, series, priors = net(x)
    _, s_loss, p_loss = at.minimax_losses(x, rec, series, priors)
    # phase 1's discrepancy: the prior is detached, so sigma's projection gets nothing
    g1 = _grads(net, s_loss)
    assert g1["layers.0.attention.sigma.weight"].abs().sum() == 0
    assert g1["layers.0.attention.query.weight"].abs().sum() > 0
    # phase 2's discrepancy: the series is detached, so only sigma's projection (and what
    # feeds it) moves; the query and key projections get nothing
    g2 = _grads(net, p_loss)
    assert g2["layers.0.attention.sigma.weight"].abs().sum() > 0
    assert g2["layers.0.attention.query.weight"].abs().sum() == 0
    assert g2["layers.0.attention.key.weight"].abs().sum() == 0
    assert g2["projection.weight"].abs().sum() == 0  # after the last attention: untouched


def test_one_backward_of_the_sum_equals_the_official_two_backward_calls():
    torch.manual_seed(0)
    det = _tiny()
    net = det._build_module(3)
    x = torch.randn(4, 8, 3)
    loss1, loss2 = det._phase_losses(net, x)
    net.zero_grad(set_to_none=True)
    loss1.backward(retain_graph=True)
    loss2.backward()
    official = {n: p.grad.clone() for n, p in net.named_parameters() if p.grad is not None}
    loss1, loss2 = det._phase_losses(net, x)
    net.zero_grad(set_to_none=True)
    (loss1 + loss2).backward()
    for n, p in net.named_parameters():
        if n in official:
            torch.testing.assert_close(p.grad, official[n], msg=n)


def test_learning_rate_follows_the_official_schedule():
    det = _tiny(lr=1e-3)
    opt = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=1e-3)
    seen = []
    for epoch in range(4):
        seen.append(opt.param_groups[0]["lr"])
        det._end_epoch(epoch, opt)
    assert seen == pytest.approx([1e-3, 1e-3, 5e-4, 2.5e-4])


# the detector ----------------------------------------------------------------------------------
def test_score_is_the_association_weighted_error_on_non_overlapping_windows():
    X = _series(64)
    det = _tiny(score_stride=8, lr=1e-4).fit(X)  # the official protocol and lr
    scores = det.score(X)
    assert scores.shape == (64,) and np.isfinite(scores).all()
    net = det.module_
    with torch.no_grad():
        w = torch.from_numpy(X[8:16][None])
        rec, series, priors = net(w)
        dis = sum(
            _official_kl(s, p) + _official_kl(p, s) for s, p in zip(series, priors, strict=True)
        )
        want = torch.softmax(-dis * 50, -1) * (w - rec).square().mean(-1)
    np.testing.assert_allclose(scores[8:16], want[0].double().numpy(), rtol=1e-5, atol=1e-12)
    energies = det.window_energies(X)  # every position of every training window (stride 1)
    assert energies.shape == ((64 - 8 + 1) * 8,)
    np.testing.assert_allclose(energies[8 * 8 : 9 * 8], scores[8:16], rtol=1e-5, atol=1e-12)


def test_bad_settings_and_short_series_are_clear_errors():
    with pytest.raises(ValueError, match=r"d_model.*multiple of heads"):
        _tiny(d_model=10, heads=4).fit(_series(64))
    with pytest.raises(ValueError, match="at least 100 time steps"):
        _tiny(window=100, score_stride=100).fit(_series(50))


def test_a_non_finite_minimax_loss_stops_training(monkeypatch):
    det = _tiny()

    def nan_losses(module, batch):
        z = sum(p.sum() for p in module.parameters()) * float("nan")
        return z, z

    monkeypatch.setattr(det, "_phase_losses", nan_losses)
    with pytest.raises(FloatingPointError, match="non-finite"):
        det.fit(_series(64))


# AMAD --------------------------------------------------------------------------------------------
def test_amad_masks_stay_in_range_and_the_local_association_is_normalised():
    torch.manual_seed(0)
    attn = AutoMaskAttention(8, 2, 10, (1.0, 3.0, 9.5), 1.0, 0.1, 0.0)
    with torch.no_grad():
        attn.width_logit.uniform_(-20, 20)  # widths pushed to both ends
    masks = attn.masks(10).detach()
    assert masks.shape == (2, 3, 10, 10)
    assert float(masks.min()) >= 0 and float(masks.max()) <= 1
    widths = 10 * torch.sigmoid(attn.width_logit.detach())
    assert float(widths.min()) >= 0 and float(widths.max()) <= 10
    out, glob, local, contrast = attn(torch.randn(3, 10, 8))
    torch.testing.assert_close(local.sum(-1), torch.ones(3, 2, 10))
    torch.testing.assert_close(glob.sum(-1), torch.ones(3, 2, 10))
    assert out.shape == (3, 10, 8) and contrast.ndim == 0 and float(contrast.detach()) > 0


def test_amad_mixup_gate_and_mask_widths_are_trained():
    X = _series(96)
    det = _tiny(AMAD, n_epochs=1)
    torch.manual_seed(0)
    net = det._build_module(3)
    before = {n: p.detach().clone() for n, p in net.named_parameters()}
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    det._train_step(net, torch.from_numpy(X[:32].reshape(4, 8, 3)), opt)
    for name in ("gate.weight", "width_logit", "scale_logit"):
        full = f"layers.0.attention.{name}"
        assert not torch.equal(before[full], dict(net.named_parameters())[full]), full
    scores = det.fit(X).score(X)
    assert np.isfinite(scores).all() and scores.shape == (96,)


def test_amad_is_registered_as_a_reconstruction():
    from tsadbench.registry import DETECTORS

    info = DETECTORS.entry("amad").info
    assert info.faithful is False
    assert "reconstruction" in info.deviations[0]
    assert DETECTORS.entry("amad").description.startswith("AMAD, reconstructed")
    with pytest.raises(ValueError, match="init_widths"):
        _tiny(AMAD, init_widths=[0.0]).fit(_series(64))


# the threshold protocol and the adjustment ------------------------------------------------------
def test_train_test_ratio_on_a_hand_made_case():
    train = np.arange(90, dtype=float)  # 0 .. 89
    test = np.array([100.0, 5, 6, 7, 200, 8, 9, 10, 11, 12])
    # 100 pooled values, r = 2: the 98th percentile lies between 100 and 200 (numpy's linear)
    t = train_test_ratio(test, train, r=2.0)
    assert t == pytest.approx(np.percentile(np.r_[train, test], 98))
    assert 89 < t < 200
    y = np.zeros(10, dtype=int)
    y[4] = 1
    got = evaluate(y, test, ["f1@train_test_ratio(r=2.0)"], train_scores=train)
    assert got["f1@train_test_ratio(r=2.0)"] == pytest.approx(1.0 if t >= 100 else 2 / 3)
    with pytest.raises(ValueError, match="needs the train scores"):
        train_test_ratio(test, None, r=1.0)
    with pytest.raises(ValueError, match="compat"):
        train_test_ratio(test, train, compat="tsbad")


def test_train_test_ratio_compat_pools_the_window_energies():
    spec = parse_metric("pa_f1@train_test_ratio(r=50.0,compat='anomaly_transformer')")
    assert spec.protocol_params == {"r": 50.0, "compat": "anomaly_transformer"}
    from tsadbench.metrics import compute

    y = np.array([0, 0, 1, 1, 0, 0])
    test = np.array([0.0, 0.0, 5.0, 0.0, 0.0, 0.0])
    low = np.zeros(1000)  # pooled with many low energies: the median is 0, 5 > 0 is flagged
    assert compute(spec, y, test, train_scores=np.full(3, 9.0), train_energies=low) == 1.0
    # pooled with the train scores instead, the median would be 9 and nothing flagged
    got = evaluate(y, test, [spec.name], train_scores=np.full(3, 9.0), train_energies=low)
    assert got[spec.name] == 1.0
    clean = parse_metric("pa_f1(compat='anomaly_transformer')@train_test_ratio(r=50.0)")
    assert compute(clean, y, test, train_scores=np.full(1000, 9.0), train_energies=low) == 0.0
    with pytest.raises(ValueError, match="window energies"):
        compute(spec, y, test, train_scores=np.zeros(6))


def _official_adjustment(gt: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """The adjustment loop of the Anomaly Transformer's solver.py, written out as a reference."""
    pred = pred.copy()
    state = False
    for i in range(len(gt)):
        if gt[i] == 1 and pred[i] == 1 and not state:
            state = True
            for j in range(i, 0, -1):
                if gt[j] == 0:
                    break
                pred[j] = 1
            for j in range(i, len(gt)):
                if gt[j] == 0:
                    break
                pred[j] = 1
        elif gt[i] == 0:
            state = False
        if state:
            pred[i] = 1
    return pred


def test_anomaly_transformer_adjustment_equals_the_official_loop():
    rng = np.random.default_rng(0)
    for _ in range(200):
        n = int(rng.integers(5, 40))
        gt = (rng.random(n) < 0.4).astype(int)
        gt[0] = 1 if rng.random() < 0.5 else gt[0]
        pred = (rng.random(n) < 0.3).astype(int)
        adj = _official_adjustment(gt, pred)
        tp = int(((adj == 1) & (gt == 1)).sum())
        if gt.all() or not gt.any():
            continue
        p = tp / adj.sum() if adj.sum() else 0.0
        r = tp / gt.sum()
        f = 2 * p * r / (p + r) if p + r else 0.0
        kw = {"compat": "anomaly_transformer"}
        assert pa_f1(gt, pred, **kw) == pytest.approx(f)
        assert pa_precision(gt, pred, **kw) == pytest.approx(p)
        assert pa_recall(gt, pred, **kw) == pytest.approx(r)
    # the index-0 case by hand: an event at 0..2 first hit at 2 leaves index 0 out
    gt, pred = np.array([1, 1, 1, 0, 0]), np.array([0, 0, 1, 0, 0])
    assert pa_recall(gt, pred, compat="anomaly_transformer") == pytest.approx(2 / 3)
    assert pa_recall(gt, pred) == 1.0


def test_anomaly_transformer_oracle_is_exact_with_the_index_zero_rule():
    rng = np.random.default_rng(1)
    for _ in range(30):
        n = 30
        gt = (rng.random(n) < 0.3).astype(int)
        gt[:3] = 1
        s = rng.random(n)
        best = max(pa_f1(gt, s >= t, compat="anomaly_transformer") for t in np.unique(s))
        got, thr = best_pa_f1(gt, s, compat="anomaly_transformer")
        assert got == pytest.approx(best)
        assert pa_f1(gt, s >= thr, compat="anomaly_transformer") == pytest.approx(got)


@pytest.mark.parametrize("cls", [AnomalyTransformer, AMAD])
def test_training_reaches_every_entity_of_a_concatenated_train_split(cls):
    """With its default settings the detector trains on all of train: a concatenated dataset's
    last entity (here the second series) is trained on (issue 21, item 1)."""
    seen = []

    class Spy(cls):  # type: ignore[misc, valid-type]
        def _training_windows(self, windows):
            seen.append(np.asarray(windows))
            return windows

    X = np.concatenate([_series(120, seed=0), _series(80, seed=1)])  # two entities end to end
    default = cls().validation_size
    Spy(**{**cls.test_params, "validation_size": default, "random_state": 0, "device": "cpu"}).fit(
        X
    )
    window = cls.test_params["window"]
    np.testing.assert_array_equal(seen[0][-1], X[-window:])  # the last training window ends train


def test_the_threshold_pool_follows_the_official_stride_not_the_training_one():
    """A reduced setting that trains at stride 10 still pools every stride-1 window's energies,
    as the official loader does (issue 21, item 2)."""
    X = _series(64)
    det = _tiny(stride=10, energy_stride=1).fit(X)
    window = det.window
    assert det.window_energies(X).shape == ((64 - window + 1) * window,)
    default = _tiny(stride=10).fit(X).window_energies(X)  # None: the training stride
    assert default.shape == (((64 - window) // 10 + 1) * window,)


def test_random_has_window_energies_so_the_official_protocol_scores_noise_too(tmp_path):
    """`random` beside the Anomaly Transformer on its official protocol: the pooled threshold
    needs train energies; random gives iid noise there too, and its number is what point
    adjustment grants noise (close to the clean pooling's, the same distribution)."""
    from tsadbench.runner import RunSettings, run

    official = "pa_f1(compat='anomaly_transformer')@train_test_ratio(compat='anomaly_transformer')"
    settings = RunSettings(
        detector="random",
        detector_params={"random_state": 0},
        dataset="synthetic",
        dataset_params={"n_entities": 1, "length": 2000, "n_anomalies": 6},
        metrics=[official, "pa_f1@train_test_ratio"],
        seed=0,
        results_dir=tmp_path,
        data_root=tmp_path,
        isolate=False,
    )
    [record] = run(settings, log=lambda _: None)
    got, clean = record.metrics[official], record.metrics["pa_f1@train_test_ratio"]
    assert math.isfinite(got) and 0 < got <= 1
    assert got == pytest.approx(clean, abs=0.15)
