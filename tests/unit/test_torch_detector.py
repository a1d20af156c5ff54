"""The one training loop: validation carved from the end of train, early stopping, seeding."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from tsadbench.detectors import TorchDetector


class Center(TorchDetector):
    """Learns one number: the mean of the training windows (a probe for the loop)."""

    def __init__(
        self,
        *,
        window=4,
        stride=1,
        score_stride=1,
        n_epochs=200,
        batch_size=16,
        lr=0.5,
        validation_size=0.0,
        patience=0,
        random_state=0,
        device="cpu",
    ):
        self.window = window
        self.stride = stride
        self.score_stride = score_stride
        self.n_epochs = n_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.validation_size = validation_size
        self.patience = patience
        self.random_state = random_state
        self.device = device

    def _build_module(self, n_channels):
        module = nn.Module()
        module.center = nn.Parameter(torch.tensor(10.0))
        return module

    def _make_optimizer(self, module):
        return torch.optim.SGD(module.parameters(), lr=self.lr)

    def _loss(self, module, batch):
        return (module.center - batch.mean()) ** 2

    def _score_batch(self, module, batch):
        return (batch.mean(dim=(1, 2)) - module.center) ** 2


def series() -> np.ndarray:
    # train: level 0 for 80 steps, then level 5 for the last 20 (the validation part)
    x = np.zeros((100, 1), np.float32)
    x[80:] = 5.0
    return x


def test_without_validation_trains_all_epochs_on_all_of_train():
    det = Center(n_epochs=30, lr=0.1).fit(series())
    assert len(det.history_) == 30 and "val_loss" not in det.history_[0]
    # every window of train, levels 0 and 5 mixed: the centre settles near their mean
    assert 0.5 < det.module_.center.item() < 1.5


def test_validation_from_the_end_of_train_stops_early_and_restores_the_best_epoch():
    det = Center(validation_size=0.2, patience=3, lr=0.05).fit(series())
    val = [h["val_loss"] for h in det.history_]
    assert len(det.history_) < 200  # stopped early
    best = int(np.argmin(val))
    assert len(val) == best + 1 + 3  # exactly `patience` epochs without improvement
    # the validation part is level 5: the kept centre is the epoch closest to it
    assert abs(det.module_.center.item() - 5.0) ** 2 == pytest.approx(val[best], rel=1e-4)


def test_bad_training_settings_are_named():
    with pytest.raises(ValueError, match="'validation_size' parameter of Center"):
        Center(validation_size=1.5).fit(series())
    with pytest.raises(ValueError, match="'patience' parameter of Center"):
        Center(patience=-1).fit(series())
    with pytest.raises(ValueError, match="leaves 2 training steps"):
        Center(validation_size=0.98).fit(series())
    with pytest.raises(ValueError, match="leaves 2 validation steps"):  # never silently off
        Center(validation_size=0.02).fit(series())


def test_a_checkpoint_needs_every_validation_loss_to_improve(monkeypatch):
    """Several validation losses (the Anomaly Transformer's two phases): an epoch is kept only
    when all of them improve, the official early stopping's rule (issue 21, item 10)."""
    centres: list[float] = []  # the centre after each epoch's training
    original = Center._build_module

    def build(self, n):
        self.module_under_training = original(self, n)
        return self.module_under_training

    def end_epoch(self, epoch, optimizer):
        centres.append(self.module_under_training.center.item())

    monkeypatch.setattr(Center, "_build_module", build)
    monkeypatch.setattr(Center, "_end_epoch", end_epoch)

    def fit(pairs, patience):
        script = iter(pairs)
        monkeypatch.setattr(
            Center, "_validation_losses", lambda self, m, b: tuple(map(torch.tensor, next(script)))
        )
        centres.clear()
        det = Center(validation_size=0.2, patience=patience, n_epochs=4, lr=0.05, batch_size=64)
        return det.fit(series())

    # epochs 1 and 2 each improve one loss only: not kept; epoch 3 improves both
    det = fit([(5.0, 5.0), (4.0, 6.0), (6.0, 4.0), (4.5, 4.5)], patience=0)
    assert det.best_epoch_ == 3
    assert [h["val_loss"] for h in det.history_] == [5.0, 4.0, 6.0, 4.5]
    assert [h["val_loss2"] for h in det.history_] == [5.0, 6.0, 4.0, 4.5]
    # with patience 2, those two epochs stop the training and epoch 0's weights come back
    det = fit([(5.0, 5.0), (4.0, 6.0), (6.0, 4.0), (1.0, 1.0)], patience=2)
    assert len(det.history_) == 3 and det.best_epoch_ == 0
    assert det.module_.center.item() == pytest.approx(centres[0])
    assert centres[0] != pytest.approx(centres[2])


def test_validation_is_carved_from_every_series_of_a_concatenation():
    """A concatenated train split (two series end to end, ``segments=[0, 60]``): validation
    takes the last 20% of each, so both series train (issue 21, item 1); without the
    segments, the last 20% of the whole, as before."""
    seen: list[np.ndarray] = []

    class Spy(Center):
        def _train_step(self, module, batch, optimizer):
            seen.append(batch.numpy()[:, 0, 0].copy())
            return super()._train_step(module, batch, optimizer)

    x = np.arange(100, dtype=np.float32)[:, None]  # a window's first value is its start
    det = Spy(validation_size=0.2, patience=0, n_epochs=1, window=4, batch_size=200)
    det.fit(x, segments=[0, 60])
    trained = set(np.concatenate(seen).astype(int))
    assert trained == set(range(0, 45)) | set(range(60, 89))  # cuts at 48 and 92
    seen.clear()
    det.fit(x)
    assert set(np.concatenate(seen).astype(int)) == set(range(0, 77))  # cut at 80
    with pytest.raises(ValueError, match="'segments' must be increasing"):
        det.fit(x, segments=[0, 120])


@pytest.mark.parametrize(("name", "clip"), [("oraclead", "norm"), ("vanad_lite", "value")])
def test_the_loop_clips_gradients_as_the_official_steps_did(name, clip):
    """OracleAD (norm, its clip_norm) and VAN-AD (value 1) clip in the one loop, in the order
    their own steps had (backward, clip, step), with the same numbers."""
    from tsadbench.registry import DETECTORS

    cls = DETECTORS.get(name)
    assert "_train_step" not in vars(cls) and all(
        "_train_step" not in vars(b) for b in cls.__mro__[1:-3]
    )
    det = cls(**{**cls.test_params, "device": "cpu", "random_state": 0})
    det.clip_norm = 1e-3 if clip == "norm" else 0
    torch.manual_seed(0)
    module = nn.Linear(4, 1)
    twin = nn.Linear(4, 1)
    twin.load_state_dict(module.state_dict())
    batch = torch.randn(8, 4) * 100

    det._loss = lambda m, b: (m(b) ** 2).mean()  # a loss with large gradients
    opt, opt_twin = (
        torch.optim.SGD(module.parameters(), lr=0.1),
        torch.optim.SGD(twin.parameters(), lr=0.1),
    )
    det._train_step(module, batch, opt)
    loss = (twin(batch) ** 2).mean()
    loss.backward()
    if clip == "norm":
        nn.utils.clip_grad_norm_(twin.parameters(), 1e-3)
    else:
        nn.utils.clip_grad_value_(twin.parameters(), 1.0)
    opt_twin.step()
    for a, b in zip(module.parameters(), twin.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_random_state_none_means_fresh_randomness_as_in_scikit_learn():
    from tsadbench.registry import create_detector

    x = series()
    fast = {"n_epochs": 1, "window": 8, "device": "cpu"}
    a = create_detector("ae", random_state=None, **fast).fit(x)
    b = create_detector("ae", random_state=None, **fast).fit(x)
    assert a.seed_ != b.seed_  # drawn afresh on each fit (was: seed 0, unlike iforest's None)
    assert not np.array_equal(a.score(x), b.score(x))
    again = create_detector("ae", random_state=a.seed_, **fast).fit(x)  # the drawn seed repeats it
    np.testing.assert_array_equal(again.score(x), a.score(x))
    assert create_detector("ae", random_state=7, **fast).fit(x).seed_ == 7


def test_training_progress_moves_per_batch_and_logs_epochs_in_a_sweep(monkeypatch, capsys):
    from tsadbench.detectors import base

    steps = []
    monkeypatch.setattr(base._Progress, "step", lambda self: steps.append(1))
    monkeypatch.setenv(base.PROGRESS_ENV, "lines")  # what a sweep's job sets
    Center(n_epochs=3, batch_size=16).fit(series())
    # 97 windows of 4 in batches of 16: 7 batches an epoch, the bar advanced after each
    assert len(steps) == 3 * 7
    lines = [line for line in capsys.readouterr().err.splitlines() if "epoch" in line]
    assert [line.split(":")[0] for line in lines] == [f"Center epoch {i}/3" for i in (1, 2, 3)]
    assert all("loss" in line for line in lines)
