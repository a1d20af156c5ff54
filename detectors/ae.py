"""``ae``: a dense autoencoder on flattened sliding windows, the simplest neural baseline.

Each window (window × n_channels, flattened) is encoded by an MLP down to ``latent`` units and
decoded back; the score of a point is its squared reconstruction error, averaged over channels
and over the windows that cover it. A common TSAD baseline (e.g. the "AE" rows of TSB-AD), not
the reproduction of a specific paper.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

from tsadbench.detectors.base import DetectorTags, TorchDetector
from tsadbench.registry import register_detector


@register_detector("ae")
class WindowAutoencoder(TorchDetector):
    """Dense window autoencoder; score = per-point squared reconstruction error.

    Parameters
    ----------
    window, stride, score_stride : int
        Window length; step between training windows; step between scoring windows.
    hidden : int
        Width of the hidden layer on each side of the bottleneck.
    latent : int
        Width of the bottleneck.
    n_epochs, batch_size, lr, validation_size, patience, random_state, device
        Training settings of :class:`~tsadbench.detectors.base.TorchDetector`.
    """

    tags = DetectorTags(root_cause=True)
    test_params: ClassVar[dict[str, Any]] = {"window": 8, "hidden": 16, "latent": 4, "n_epochs": 2}

    def __init__(
        self,
        *,
        window: int = 32,
        stride: int = 1,
        score_stride: int = 1,
        hidden: int = 64,
        latent: int = 16,
        n_epochs: int = 30,
        batch_size: int = 64,
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
        self.latent = latent
        self.n_epochs = n_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.validation_size = validation_size
        self.patience = patience
        self.random_state = random_state
        self.device = device

    def check_params(self) -> None:
        super().check_params()
        self._check_int("hidden", "latent")

    def _build_module(self, n_channels: int) -> nn.Module:
        d = self.window * n_channels
        return nn.Sequential(
            nn.Flatten(),
            nn.Linear(d, self.hidden),
            nn.ReLU(),
            nn.Linear(self.hidden, self.latent),
            nn.ReLU(),
            nn.Linear(self.latent, self.hidden),
            nn.ReLU(),
            nn.Linear(self.hidden, d),
            nn.Unflatten(1, (self.window, n_channels)),
        )

    def _loss(self, module: nn.Module, batch: torch.Tensor) -> torch.Tensor:
        return torch.mean((module(batch) - batch) ** 2)

    def _channel_batch(self, module: nn.Module, batch: torch.Tensor) -> torch.Tensor:
        result: torch.Tensor = (module(batch) - batch) ** 2  # (B, window, N)
        return result

    def _score_batch(self, module: nn.Module, batch: torch.Tensor) -> torch.Tensor:
        return self._channel_batch(module, batch).mean(dim=2)  # (B, window)
