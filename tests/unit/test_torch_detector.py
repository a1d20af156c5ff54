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
