"""``usad``: USAD, UnSupervised Anomaly Detection on multivariate time series (Audibert et al., KDD
2020), faithful to its official code (github.com/manigalati/usad: ``usad.py`` and the SWaT
notebook).

Follows the official code:
  * windows of ``window`` steps × channels, flattened (the notebook: 12 steps, stride 1), scaled
    to [0, 1] by a min-max scaler fitted on train (the detector's scaler, ``minmax``);
  * one encoder E (Linear w → w/2 → w/4 → z, ReLU after each) and two decoders D1, D2
    (Linear z → w/4 → w/2 → w, ReLU, ReLU, sigmoid), with z = window × ``hidden`` (100);
  * the two-phase adversarial training at epoch n (1-based), on every batch: AE1 = D1(E(W)),
    AE2 = D2(E(W)), AE2(AE1) = D2(E(D1(E(W))));
    loss1 = 1/n·mse(W, AE1) + (1 − 1/n)·mse(W, AE2(AE1)), one Adam step on E and D1; then,
    recomputed, loss2 = 1/n·mse(W, AE2) − (1 − 1/n)·mse(W, AE2(AE1)), one Adam step on E and D2;
    each optimiser's gradients are zeroed after its own step only, so that, as in the official
    loop, loss1's gradient on D2 joins loss2's in the second step and loss2's on D1 joins the
    next batch's first;
  * Adam at PyTorch's defaults (lr 1e-3), batches of 7,919 windows in order (no shuffling),
    100 epochs (on one SMD machine, machine-1-2, 2 cores: fit 317 s, vus_pr 0.61);
  * score of a window: α·mse(W, AE1) + β·mse(W, AE2(AE1)), α = β = 0.5.

Ours (tsadbench's choices):
  * a point's score is the mean of the scores of the windows that cover it (the official
    notebook labels each window anomalous when any of its points is, and scores windows);
  * the notebook trains on the first 80 % of the normal windows and only prints the loss on the
    last 20 %; here all of train trains (``validation_size`` > 0 holds some out and keeps the
    epoch with the lowest validation score instead).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
from numpy.typing import NDArray
from torch import nn

from tsadbench.detectors.base import DetectorTags, TorchDetector
from tsadbench.registry import register_detector


def _encoder(w: int, z: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(w, w // 2), nn.ReLU(), nn.Linear(w // 2, w // 4), nn.ReLU(),
        nn.Linear(w // 4, z), nn.ReLU(),
    )  # fmt: skip


def _decoder(z: int, w: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(z, w // 4), nn.ReLU(), nn.Linear(w // 4, w // 2), nn.ReLU(),
        nn.Linear(w // 2, w), nn.Sigmoid(),
    )  # fmt: skip


class USADNet(nn.Module):
    """The encoder and the two decoders over flattened windows."""

    def __init__(self, w: int, z: int) -> None:
        super().__init__()
        self.encoder, self.decoder1, self.decoder2 = _encoder(w, z), _decoder(z, w), _decoder(z, w)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(AE1(W), AE2(W), AE2(AE1(W))) of flattened windows ``x`` (B, w)."""
        z = self.encoder(x)
        w1 = self.decoder1(z)
        return w1, self.decoder2(z), self.decoder2(self.encoder(w1))


class _Optimizers:
    """USAD's two Adam optimisers: E and D1, E and D2."""

    def __init__(self, module: USADNet, lr: float) -> None:
        shared = list(module.encoder.parameters())
        self.first = torch.optim.Adam(shared + list(module.decoder1.parameters()), lr=lr)
        self.second = torch.optim.Adam(shared + list(module.decoder2.parameters()), lr=lr)


@register_detector(
    "usad",
    deviations=(
        "A point's score is the mean of the scores of the windows that cover it (the official "
        "code scores windows).",
        "All of train trains (the official notebook trains on the first 80 % of the windows and "
        "only prints the loss on the rest).",
    ),
)
class USAD(TorchDetector):
    """USAD (Audibert et al., KDD 2020): two autoencoders sharing an encoder, trained
    adversarially; score = α·reconstruction error + β·error of the second decoding the first's.

    Parameters
    ----------
    window, stride, score_stride : int
        Window length (12), step between training windows, step between scoring windows.
    hidden : int
        The latent size is ``window × hidden`` (100, the official notebook's).
    alpha, beta : float
        Weights of the two errors in the score (0.5, 0.5).
    n_epochs, batch_size, lr, validation_size, patience, random_state, device
        Training settings of :class:`~tsadbench.detectors.base.TorchDetector`; the official
        code: 100 epochs, batch 7,919, Adam's default lr 1e-3.
    """

    tags = DetectorTags(scaler="minmax")
    shuffle: ClassVar[bool] = False  # the official loader keeps the windows in order
    test_params: ClassVar[dict[str, Any]] = {
        "window": 8,
        "hidden": 4,
        "n_epochs": 10,
        "batch_size": 64,
    }

    def __init__(
        self,
        *,
        window: int = 12,
        stride: int = 1,
        score_stride: int = 1,
        hidden: int = 100,
        alpha: float = 0.5,
        beta: float = 0.5,
        n_epochs: int = 100,
        batch_size: int = 7919,
        lr: float = 1e-3,
        validation_size: float = 0.0,
        patience: int = 0,
        random_state: int | None = None,
        device: str = "auto",
    ) -> None:
        self.window = window
        self.stride = stride
        self.score_stride = score_stride
        self.hidden = hidden
        self.alpha = alpha
        self.beta = beta
        self.n_epochs = n_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.validation_size = validation_size
        self.patience = patience
        self.random_state = random_state
        self.device = device

    def check_params(self) -> None:
        super().check_params()
        self._check_int("hidden")
        for name in ("alpha", "beta"):
            v = getattr(self, name)
            self._check_param(name, isinstance(v, (int, float)) and v >= 0, "a float >= 0")

    def _build_module(self, n_channels: int) -> nn.Module:
        w = self.window * n_channels
        if w < 4:
            raise ValueError(
                f"USAD: a window holds {w} values (window {self.window} x {n_channels} channels); "
                "its encoder halves that twice and needs at least 4."
            )
        return USADNet(w, self.window * self.hidden)

    def _make_optimizer(self, module: nn.Module) -> Any:
        assert isinstance(module, USADNet)
        return _Optimizers(module, float(self.lr))

    def _fit(self, X: NDArray[np.float32]) -> None:
        self._epoch = 1  # n, 1-based, in the losses' weights
        super()._fit(X)
        del self._epoch

    def _end_epoch(self, epoch: int, optimizer: Any) -> None:
        self._epoch = epoch + 2

    def _losses(self, module: USADNet, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        n = self._epoch
        w1, w2, w3 = module(x)
        err3 = torch.mean((x - w3) ** 2)
        loss1 = 1 / n * torch.mean((x - w1) ** 2) + (1 - 1 / n) * err3
        loss2 = 1 / n * torch.mean((x - w2) ** 2) - (1 - 1 / n) * err3
        return loss1, loss2

    def _train_step(self, module: nn.Module, batch: torch.Tensor, optimizer: Any) -> float:
        assert isinstance(module, USADNet)
        opt: _Optimizers = optimizer
        x = batch.flatten(1)
        loss1, _ = self._losses(module, x)  # AE1's phase
        loss1.backward()
        opt.first.step()
        opt.first.zero_grad()
        _, loss2 = self._losses(module, x)  # AE2's phase, recomputed after AE1's step
        loss2.backward()
        opt.second.step()
        opt.second.zero_grad()
        return float(loss1.detach())

    def _loss(self, module: nn.Module, batch: torch.Tensor) -> torch.Tensor:
        """Validation loss (``validation_size`` > 0): the mean window score."""
        return self._score_batch(module, batch).mean()

    def _score_batch(self, module: nn.Module, batch: torch.Tensor) -> torch.Tensor:
        x = batch.flatten(1)
        w1, _, w3 = module(x)
        return self.alpha * torch.mean((x - w1) ** 2, dim=1) + self.beta * torch.mean(
            (x - w3) ** 2, dim=1
        )
