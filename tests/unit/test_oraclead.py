"""OracleAD's parts: the vectorised per-variable LSTM against one ``nn.LSTM`` per variable, the
SLS as an epoch mean, the deviation term from the second epoch, the score and root cause; and
the linear window reconstructors DLinear / NLinear."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from tsadbench.detectors import oraclead as oa
from tsadbench.detectors.linear import DLinear, NLinear, moving_average
from tsadbench.detectors.oraclead import OracleAD

SMALL = dict(OracleAD.test_params, random_state=0, device="cpu")


def _series(n: int = 120, channels: int = 3, seed: int = 0) -> np.ndarray:
    t = np.arange(n)[:, None]
    rng = np.random.default_rng(seed)
    return (np.sin(t / 5 + np.arange(channels)) + 0.1 * rng.normal(size=(n, channels))).astype(
        np.float32
    )


@pytest.mark.parametrize("impl", ["batched", "fused"])
def test_vectorised_lstm_equals_one_nn_lstm_per_variable(impl):
    torch.manual_seed(0)
    n, batch, steps, hidden, layers = 4, 5, 7, 6, 2
    stacked = oa.VariableLSTM(n, 1, hidden, layers, impl=impl)
    x = torch.randn(n, batch, steps, 1)
    h0 = torch.randn(layers, n, batch, hidden)
    c0 = torch.randn(layers, n, batch, hidden)
    got = stacked(x, steps, (h0, c0))
    for i in range(n):  # the straightforward version: one nn.LSTM per variable, same weights
        ref = nn.LSTM(1, hidden, num_layers=layers, batch_first=True)
        with torch.no_grad():
            for layer in range(layers):
                getattr(ref, f"weight_ih_l{layer}").copy_(stacked.w_ih[layer][i])
                getattr(ref, f"weight_hh_l{layer}").copy_(stacked.w_hh[layer][i])
                getattr(ref, f"bias_ih_l{layer}").copy_(stacked.b_ih[layer][i])
                getattr(ref, f"bias_hh_l{layer}").copy_(stacked.b_hh[layer][i])
            out, _ = ref(x[i], (h0[:, i].contiguous(), c0[:, i].contiguous()))
        torch.testing.assert_close(got[i], out, atol=1e-5, rtol=1e-5)
    # an all-zero input (the decoder's) is the same as passing zeros
    zero = stacked(None, steps, (h0, c0))
    torch.testing.assert_close(zero, stacked(torch.zeros(n, batch, steps, 1), steps, (h0, c0)))


def test_both_lstm_computations_give_the_same_gradients():
    torch.manual_seed(0)
    n, batch, steps, hidden, layers = 3, 4, 5, 6, 2
    batched = oa.VariableLSTM(n, 2, hidden, layers, impl="batched")
    fused = oa.VariableLSTM(n, 2, hidden, layers, impl="fused")
    fused.load_state_dict(batched.state_dict())
    x = torch.randn(n, batch, steps, 2)
    h0 = torch.randn(layers, n, batch, hidden)
    for module in (batched, fused):
        module(x, steps, (h0, h0)).square().sum().backward()
    for (name, a), b in zip(batched.named_parameters(), fused.parameters(), strict=True):
        assert a.grad is not None and b.grad is not None, name
        assert a.grad.abs().sum() > 0, name
        torch.testing.assert_close(a.grad, b.grad, atol=1e-5, rtol=1e-5, msg=name)
    assert oa.VariableLSTM(n, 1, hidden, layers).impl == "auto"
    with pytest.raises(ValueError, match="impl"):
        oa.VariableLSTM(n, 1, hidden, layers, impl="loop")


@pytest.mark.parametrize("impl", ["batched", "fused"])
def test_recomputed_activations_give_the_same_outputs_and_gradients(impl):
    """recompute=True keeps no activation for the backward pass: the same numbers exactly."""
    torch.manual_seed(0)
    n, batch, steps, hidden, layers = 3, 4, 5, 6, 2
    kept = oa.VariableLSTM(n, 2, hidden, layers, impl=impl)
    recomputed = oa.VariableLSTM(n, 2, hidden, layers, impl=impl, recompute=True)
    recomputed.load_state_dict(kept.state_dict())
    x = torch.randn(n, batch, steps, 2, requires_grad=True)
    h0 = torch.randn(layers, n, batch, hidden)
    outs, grads = [], []
    for module in (kept, recomputed):
        out = module(x, steps, (h0, h0))
        out.square().sum().backward()
        outs.append(out.detach())
        grads.append([p.grad.clone() for p in module.parameters()] + [x.grad.clone()])
        x.grad = None
    assert torch.equal(outs[0], outs[1])
    for a, b in zip(*grads, strict=True):
        assert a.abs().sum() > 0 and torch.equal(a, b)
    # and what the forward pass keeps for the backward pass is a fraction of it
    kept_bytes = []
    for module in (kept, recomputed):
        saved = []

        def pack(t: torch.Tensor, saved: list = saved) -> torch.Tensor:
            saved.append(t.numel() * t.element_size())
            return t

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            module(x, steps, (h0, h0))
        kept_bytes.append(sum(saved))
    assert kept_bytes[1] < kept_bytes[0] / 2, kept_bytes


def test_oraclead_recomputing_its_activations_scores_the_same():
    x = _series(300, 3)
    scores = []
    for recompute in (False, True):
        det = OracleAD(**OracleAD.test_params, recompute=recompute, random_state=0, device="cpu")
        scores.append(det.fit(x).score(x))
    np.testing.assert_array_equal(scores[0], scores[1])


def test_pairwise_distances_by_hand():
    c = torch.tensor([[[0.0, 0.0], [3.0, 4.0], [0.0, 1.0]]])
    l2 = oa.pairwise_distance(c, "l2")[0]
    torch.testing.assert_close(
        l2, torch.tensor([[0.0, 5.0, 1.0], [5.0, 0.0, 18**0.5], [1.0, 18**0.5, 0.0]])
    )
    torch.testing.assert_close(oa.pairwise_distance(c, "sq_l2")[0], l2**2)


class _KnownEmbeddings(nn.Module):
    """A stand-in network whose embeddings of a window are its values: D is known."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(()))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        c_star = x.transpose(1, 2) * self.scale  # (B, N, L): variable i's embedding is x_i
        return x * self.scale, c_star


def test_sls_is_the_epoch_mean_and_the_deviation_term_starts_in_epoch_two(monkeypatch):
    x = _series(40, 3)
    det = OracleAD(**{**SMALL, "n_epochs": 2, "batch_size": 7, "lr": 1e-9})
    seen: list[torch.Tensor | None] = []
    original = OracleAD._loss

    def spy(self, module, batch):
        seen.append(None if self.sls_ is None else self.sls_.clone())
        return original(self, module, batch)

    monkeypatch.setattr(OracleAD, "_build_module", lambda self, n: _KnownEmbeddings())
    monkeypatch.setattr(OracleAD, "_loss", spy)
    monkeypatch.setattr(OracleAD, "shuffle", False)
    det.fit(x)
    windows = np.lib.stride_tricks.sliding_window_view(x, 6, axis=0)  # (35, N, L)
    emb = torch.from_numpy(np.ascontiguousarray(windows))
    expected = oa.pairwise_distance(emb, "l2").mean(dim=0)  # every window of the epoch
    torch.testing.assert_close(det.sls_, expected, atol=1e-5, rtol=1e-5)
    per_epoch = len(seen) // 2
    assert all(s is None for s in seen[:per_epoch])  # epoch 1: no SLS, no deviation term
    assert all(s is not None for s in seen[per_epoch:])


def test_score_is_prediction_error_times_deviation_and_names_root_causes():
    x = _series()
    det = OracleAD(**SMALL).fit(x)
    scores = det.score(x)
    assert scores.shape == (120,) and np.isfinite(scores).all() and (scores >= 0).all()
    window = det.window
    assert (scores[: window - 1] == scores[window - 1]).all()  # the first window's score
    channels = det.score_with_channels(x)[1]
    assert channels.shape == (120, 3) and np.isfinite(channels).all()
    # by hand for the last window
    batch = torch.from_numpy(x[-window:][None])
    with torch.no_grad():
        out, c_star = det.module_(batch)
        dev = (oa.pairwise_distance(c_star, "l2") - det.sls_).abs()[0]
        p = (out[0, -1] - batch[0, -1]).abs().mean()
    assert scores[-1] == pytest.approx(float(p * torch.linalg.matrix_norm(dev)), rel=1e-4)
    np.testing.assert_allclose(channels[-1], dev.sum(dim=1).numpy(), rtol=1e-4)


def test_one_variable_is_unavailable_and_a_constant_channel_is_fine():
    det = OracleAD(**SMALL)
    assert "needs at least 2" in det.check_available(1)
    assert det.check_available(3) is None
    with pytest.raises(ValueError, match="needs at least 2"):
        det.fit(_series(60, 1))
    x = _series(80, 3)
    x[:, 1] = 0.0  # a constant channel, as z-scoring leaves it
    assert np.isfinite(OracleAD(**SMALL).fit(x).score(x)).all()


def test_oraclead_settings_are_checked():
    with pytest.raises(ValueError, match="'distance' parameter"):
        OracleAD(distance="l1").check_params()
    with pytest.raises(ValueError, match="'hidden' parameter of OracleAD must be a multiple"):
        OracleAD(hidden=10, heads=4).check_params()


# DLinear / NLinear ---------------------------------------------------------------------------
def test_moving_average_pads_by_repetition():
    x = torch.tensor([[1.0, 2.0, 6.0]])[..., None]
    # kernel 3: [1,1,2] [1,2,6] [2,6,6]
    torch.testing.assert_close(moving_average(x, 3)[0, :, 0], torch.tensor([4 / 3, 3.0, 14 / 3]))
    torch.testing.assert_close(moving_average(x, 1), x)


def test_dlinear_folded_weight_equals_decomposing_the_window():
    from tsadbench.detectors.linear import _DLinearNet

    torch.manual_seed(0)
    net = _DLinearNet(20, 3, individual=True, kernel=5)
    with torch.no_grad():  # the two layers start equal (1 / seq_len): make them differ
        net.trend.weight.normal_()
        net.seasonal.weight.normal_()
    x = torch.randn(4, 20, 3)
    trend = moving_average(x, 5)
    explicit = net.trend(trend) + net.seasonal(x - trend)
    torch.testing.assert_close(net(x), explicit, atol=1e-5, rtol=1e-5)


def test_linear_reconstructors_learn_a_wave_and_score_a_spike():
    t = np.arange(400, dtype=np.float32)
    x = np.stack([np.sin(t / 5), np.cos(t / 7)], axis=1)
    common = dict(
        window=20, score_stride=20, n_epochs=40, lr=1e-2, batch_size=32, validation_size=0.0
    )
    for det in (
        DLinear(kernel=5, random_state=0, device="cpu", **common),
        NLinear(random_state=0, device="cpu", **common),
    ):
        det.fit(x)
        assert det.history_[-1]["train_loss"] < 5e-2, type(det).__name__
        test = x.copy()
        test[305, 0] += 3.0  # a spike inside a scored window: not what a wave looks like
        s = det.score(test)
        assert s.shape == (400,)
        assert int(np.argmax(s)) == 305, type(det).__name__
        assert np.median(s) < 0.05 * s[305], type(det).__name__


def test_linear_reconstructors_follow_the_codes_initialisation_and_schedule():
    from tsadbench.detectors.linear import _DLinearNet

    net = _DLinearNet(10, 3, individual=False, kernel=3)
    assert torch.equal(net.trend.weight, torch.full((1, 10, 10), 0.1))  # 1 / seq_len
    det = DLinear(window=10, kernel=3, n_epochs=3, validation_size=0.0, device="cpu")
    det.fit(np.random.default_rng(0).normal(size=(60, 2)).astype(np.float32))
    optimizer = torch.optim.Adam(det.module_.parameters(), lr=det.lr)
    rates = []
    for epoch in range(3):
        det._end_epoch(epoch, optimizer)
        rates.append(optimizer.param_groups[0]["lr"])
    assert rates == pytest.approx([1e-4, 5e-5, 2.5e-5])  # epochs 2, 3, 4 (1-based) next


def test_linear_reconstructors_default_to_the_published_setting():
    for cls in (DLinear, NLinear):
        det = cls()
        assert (det.window, det.score_stride, det.lr, det.batch_size) == (100, 100, 1e-4, 128)
        assert (det.validation_size, det.patience, det.n_epochs) == (0.2, 3, 10)


def test_validation_pairs_each_epoch_with_its_own_sls_and_restores_both():
    """With validation on (off by default), every epoch's validation loss, epoch 0's too,
    carries the deviation term from that epoch's own SLS, and the kept weights come back with
    the SLS they built: the restored detector reproduces its selected validation loss exactly
    (issue 21, item 9)."""
    from tsadbench.data.windows import sliding_windows

    x = _series(240, 3)
    det = OracleAD(**{**SMALL, "n_epochs": 4, "validation_size": 0.25, "patience": 0, "lr": 0.2})
    det.fit(x)
    val = [h["val_loss"] for h in det.history_]
    best = int(np.argmin(val))
    n_val = round(len(x) * 0.25)
    windows = sliding_windows(x[len(x) - n_val :], det.window, 1)
    with torch.no_grad():
        again = np.mean([float(det._loss(det.module_, b)) for b in det._batches(windows)])
    assert again == pytest.approx(val[best], rel=1e-5)
    assert det.best_epoch_ == best


def test_the_kept_epoch_brings_back_its_own_sls(monkeypatch):
    """Validation selects epoch 1 of 3: the SLS after fitting is epoch 1's, not the last
    epoch's (issue 21, item 9)."""
    sls = []
    script = iter([3.0, 1.0, 2.0])
    original = OracleAD._end_epoch

    def end_epoch(self, epoch, optimizer):
        original(self, epoch, optimizer)
        sls.append(self.sls_.clone())

    monkeypatch.setattr(OracleAD, "_end_epoch", end_epoch)
    monkeypatch.setattr(
        OracleAD, "_validation_losses", lambda self, m, b: (torch.tensor(next(script)),)
    )
    x = _series(240, 3)
    det = OracleAD(
        **{**SMALL, "n_epochs": 3, "validation_size": 0.1, "patience": 0, "batch_size": 4096}
    )
    det.fit(x)
    assert next(script, None) is None  # one validation batch per epoch, one loss each
    assert det.best_epoch_ == 1
    assert not torch.equal(sls[1], sls[2])
    torch.testing.assert_close(det.sls_, sls[1])
