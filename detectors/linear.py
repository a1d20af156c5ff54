"""``dlinear`` and ``nlinear``: the linear forecasters of Zeng et al. (AAAI 2023, "Are
Transformers Effective for Time Series Forecasting?"), scored by forecast error.

Follows the paper: a single linear layer over the look-back window, mapping its ``lookback``
steps to the forecast, shared by the channels (``individual=False``, the paper's default; one
layer per channel with ``individual=True``). DLinear first splits the window into a trend (a
moving average of ``kernel`` steps, the ends padded by repeating the first and last values) and
the remainder, forecasts each with its own linear layer and adds them (computed here as one
folded weight: the same forecast, see ``_DLinearNet``); NLinear subtracts the
window's last value before the layer and adds it back.

Ours, for anomaly detection (the paper forecasts, it does not detect): a one-step forecast
(``window = lookback + 1``), trained with MSE on the train split's windows; the score of a point
is the squared forecast error of the window ending at it, averaged over channels; the first
``lookback`` points, which end no window, take the first window's score (the windows module's
``last`` policy). Defaults (ours): look-back 96, Adam lr 1e-3, 10 epochs, batch 1024.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch
from torch import nn

from tsadbench.detectors.base import DetectorTags, TorchDetector
from tsadbench.registry import register_detector


def moving_average(x: torch.Tensor, kernel: int) -> torch.Tensor:
    """Centred moving average over time of ``x`` (B, T, C), ends padded by repetition."""
    front, back = (kernel - 1) // 2, kernel - 1 - (kernel - 1) // 2
    padded = torch.cat([x[:, :1].expand(-1, front, -1), x, x[:, -1:].expand(-1, back, -1)], 1)
    csum = torch.nn.functional.pad(padded.cumsum(dim=1), (0, 0, 1, 0))
    return (csum[:, kernel:] - csum[:, :-kernel]) / kernel


class _Linear(nn.Module):
    """Look-back (B, L, C) -> one step (B, C): one linear map shared by the channels, or one per
    channel (``individual``); initialised as ``nn.Linear``."""

    def __init__(self, lookback: int, n_channels: int, individual: bool) -> None:
        super().__init__()
        count, bound = (n_channels if individual else 1), 1.0 / math.sqrt(lookback)
        self.weight = nn.Parameter(torch.empty(count, lookback).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(count).uniform_(-bound, bound))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = self.weight.expand(x.shape[2], -1)
        return torch.einsum("blc,cl->bc", x, weight) + self.bias


def moving_average_matrix(length: int, kernel: int) -> torch.Tensor:
    """``A`` (length × length) with ``A @ x == moving_average(x)`` for one channel: the trend is
    linear in the window."""
    front = (kernel - 1) // 2
    a = torch.zeros(length, length, dtype=torch.float64)
    for j in range(length):
        for k in range(kernel):
            a[j, min(max(j - front + k, 0), length - 1)] += 1.0 / kernel
    return a.float()


class _DLinearNet(nn.Module):
    """DLinear's two layers on the trend ``A x`` and the remainder ``(I − A) x``; since both
    are linear in the window, the forward pass folds them into one weight,
    ``W_s + (W_t − W_s) A``, which gives the same forecast without decomposing every window."""

    def __init__(self, lookback: int, n: int, individual: bool, kernel: int) -> None:
        super().__init__()
        self.register_buffer("avg", moving_average_matrix(lookback, kernel))
        self.trend = _Linear(lookback, n, individual)
        self.seasonal = _Linear(lookback, n, individual)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w_s, w_t = self.seasonal.weight, self.trend.weight
        weight = (w_s + (w_t - w_s) @ self.avg).expand(x.shape[2], -1)
        return torch.einsum("blc,cl->bc", x, weight) + self.trend.bias + self.seasonal.bias


class _NLinearNet(nn.Module):
    def __init__(self, lookback: int, n: int, individual: bool) -> None:
        super().__init__()
        self.linear = _Linear(lookback, n, individual)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        last = x[:, -1]
        return self.linear(x - last[:, None]) + last


class _LinearForecaster(TorchDetector):
    """Shared by DLinear and NLinear: one-step forecast, squared error as the score."""

    point_aggregation: ClassVar[str] = "last"
    tags = DetectorTags()
    # look-back 32: the scores shifted by the window must do clearly worse (tsadbench.testing)
    test_params: ClassVar[dict[str, Any]] = {"window": 33, "n_epochs": 2, "batch_size": 64}

    def check_params(self) -> None:
        super().check_params()
        self._check_param("window", self.window >= 2, "an int >= 2 (look-back + 1)")
        self._check_param("individual", isinstance(self.individual, bool), "true or false")

    def _loss(self, module: nn.Module, batch: torch.Tensor) -> torch.Tensor:
        return ((module(batch[:, :-1]) - batch[:, -1]) ** 2).mean()

    def _score_batch(self, module: nn.Module, batch: torch.Tensor) -> torch.Tensor:
        return ((module(batch[:, :-1]) - batch[:, -1]) ** 2).mean(dim=1)


@register_detector(
    "dlinear",
    faithful=False,
    deviations=(
        "A forecaster used as a detector: one-step forecast (look-back 96), squared error as "
        "score. The published anomaly-detection rows (Time-Series-Library, TAB, OracleAD's "
        "baselines) reconstruct a window instead (pred_len = seq_len = 100).",
    ),
)
class DLinear(_LinearForecaster):
    """DLinear: trend / remainder decomposition, a linear forecast of each; score = squared
    one-step forecast error averaged over channels.

    Parameters
    ----------
    window : int
        Look-back + 1 (97): the last step of each window is the forecast target.
    kernel : int
        Moving-average length of the trend (25, the paper's).
    individual : bool
        One linear layer per channel instead of one shared.
    stride, score_stride, n_epochs, batch_size, lr, validation_size, patience, random_state,
    device
        Training settings of :class:`~tsadbench.detectors.base.TorchDetector`.
    """

    def __init__(
        self,
        *,
        window: int = 97,
        kernel: int = 25,
        individual: bool = False,
        stride: int = 1,
        score_stride: int = 1,
        n_epochs: int = 10,
        batch_size: int = 1024,
        lr: float = 1e-3,
        validation_size: float = 0.0,
        patience: int = 0,
        random_state: int | None = None,
        device: str = "auto",
    ) -> None:
        self.window = window
        self.kernel = kernel
        self.individual = individual
        self.stride = stride
        self.score_stride = score_stride
        self.n_epochs = n_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.validation_size = validation_size
        self.patience = patience
        self.random_state = random_state
        self.device = device

    def check_params(self) -> None:
        super().check_params()
        self._check_int("kernel")

    def _build_module(self, n_channels: int) -> nn.Module:
        return _DLinearNet(self.window - 1, n_channels, self.individual, self.kernel)


@register_detector(
    "nlinear",
    faithful=False,
    deviations=(
        "A forecaster used as a detector: one-step forecast (look-back 96), squared error as "
        "score. The published anomaly-detection rows (Time-Series-Library, TAB, OracleAD's "
        "baselines) reconstruct a window instead (pred_len = seq_len = 100).",
    ),
)
class NLinear(_LinearForecaster):
    """NLinear: the window minus its last value, a linear forecast, the last value added back;
    score = squared one-step forecast error averaged over channels.

    Parameters
    ----------
    window : int
        Look-back + 1 (97): the last step of each window is the forecast target.
    individual : bool
        One linear layer per channel instead of one shared.
    stride, score_stride, n_epochs, batch_size, lr, validation_size, patience, random_state,
    device
        Training settings of :class:`~tsadbench.detectors.base.TorchDetector`.
    """

    def __init__(
        self,
        *,
        window: int = 97,
        individual: bool = False,
        stride: int = 1,
        score_stride: int = 1,
        n_epochs: int = 10,
        batch_size: int = 1024,
        lr: float = 1e-3,
        validation_size: float = 0.0,
        patience: int = 0,
        random_state: int | None = None,
        device: str = "auto",
    ) -> None:
        self.window = window
        self.individual = individual
        self.stride = stride
        self.score_stride = score_stride
        self.n_epochs = n_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.validation_size = validation_size
        self.patience = patience
        self.random_state = random_state
        self.device = device

    def _build_module(self, n_channels: int) -> nn.Module:
        return _NLinearNet(self.window - 1, n_channels, self.individual)
