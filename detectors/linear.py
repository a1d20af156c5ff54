"""``dlinear`` and ``nlinear``: the linear models of Zeng et al. (AAAI 2023, "Are Transformers
Effective for Time Series Forecasting?") as the published anomaly-detection rows run them:
reconstructing the window they read (``pred_len = seq_len``).

The paper forecasts; it does not detect. The anomaly-detection numbers that cite these models
(Time-Series-Library's anomaly-detection task, TAB, OracleAD's baselines) come from this
reconstruction use, which tsadbench follows:

* the model: a linear map over time, shared by the channels (``individual=False``, the paper's
  and those codes' default; one map per channel with ``individual=True``), from the window's
  ``window`` steps to the same ``window`` steps. DLinear splits the window into a trend (a
  centred moving average of ``kernel`` = 25 steps, the ends padded by repeating the first and
  last values) and the remainder, maps each with its own layer and adds them (computed here as
  one folded weight: the same output, see ``_DLinearNet``); its weights start at 1/window as in
  Time-Series-Library. NLinear subtracts the window's last value, maps, and adds it back
  (TAB's adapter; PyTorch's default initialisation);
* training: MSE of the reconstruction on stride-1 windows of 100 steps, Adam at lr 1e-4 halved
  after every epoch from the second (the codes' ``type1`` schedule: epochs 1–2 at 1e-4), 10
  epochs, batch 128 (Time-Series-Library's MSL script; TAB uses 64), early stopping with
  patience 3 on the last 20% of train (TAB's split; Time-Series-Library validates on the last
  20% without removing it from training);
* score: per point, the squared reconstruction error averaged over channels, on non-overlapping
  test windows (TAB's scoring).

Deviations (registered with the detectors): Time-Series-Library pools every position of
stride-1 test windows (each point up to 100 times) where tsadbench scores each point once;
the test points after the last whole window take the score of the point before them (TAB pads
them with 0); the scaler is fit on all of train (TAB fits it on the first 80%).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch
from torch import nn

from tsadbench.detectors.base import DetectorTags, TorchDetector, halve_lr
from tsadbench.registry import register_detector


def moving_average(x: torch.Tensor, kernel: int) -> torch.Tensor:
    """Centred moving average over time of ``x`` (B, T, C), ends padded by repetition."""
    front, back = (kernel - 1) // 2, kernel - 1 - (kernel - 1) // 2
    padded = torch.cat([x[:, :1].expand(-1, front, -1), x, x[:, -1:].expand(-1, back, -1)], 1)
    csum = torch.nn.functional.pad(padded.cumsum(dim=1), (0, 0, 1, 0))
    return (csum[:, kernel:] - csum[:, :-kernel]) / kernel


class _Linear(nn.Module):
    """A window (B, L, C) -> (B, L, C): one linear map over time shared by the channels, or
    one per channel (``individual``). Weights ``constant`` (Time-Series-Library's DLinear: 1/L)
    or ``nn.Linear``'s uniform initialisation (None); biases always ``nn.Linear``'s."""

    def __init__(
        self, length: int, n_channels: int, individual: bool, constant: float | None = None
    ) -> None:
        super().__init__()
        count, bound = (n_channels if individual else 1), 1.0 / math.sqrt(length)
        weight = torch.empty(count, length, length)
        if constant is None:
            weight.uniform_(-bound, bound)
        else:
            weight.fill_(constant)
        self.weight = nn.Parameter(weight)
        self.bias = nn.Parameter(torch.empty(count, length).uniform_(-bound, bound))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _apply(x, self.weight, self.bias)


def _apply(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """``out[b, o, c] = Σ_l weight[c, o, l] · x[b, l, c] + bias[c, o]``, the shared map
    (a leading size of 1) broadcast over the channels."""
    c = x.shape[2]
    return torch.einsum("blc,col->boc", x, weight.expand(c, -1, -1)) + bias.expand(c, -1).T


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
    ``W_s + (W_t − W_s) A``, which gives the same output without decomposing every window."""

    avg: torch.Tensor  # the moving average's matrix, a buffer

    def __init__(self, length: int, n: int, individual: bool, kernel: int) -> None:
        super().__init__()
        self.register_buffer("avg", moving_average_matrix(length, kernel))
        self.trend = _Linear(length, n, individual, constant=1.0 / length)
        self.seasonal = _Linear(length, n, individual, constant=1.0 / length)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w_s, w_t = self.seasonal.weight, self.trend.weight
        weight = w_s + (w_t - w_s) @ self.avg
        return _apply(x, weight, self.trend.bias + self.seasonal.bias)


class _NLinearNet(nn.Module):
    def __init__(self, length: int, n: int, individual: bool) -> None:
        super().__init__()
        self.linear = _Linear(length, n, individual)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        last = x[:, -1:]
        result: torch.Tensor = self.linear(x - last) + last
        return result


class _LinearReconstructor(TorchDetector):
    """Shared by DLinear and NLinear: the window reconstructed, its squared error the score."""

    tags = DetectorTags()
    test_params: ClassVar[dict[str, Any]] = {
        "window": 32,
        "kernel": 9,
        "score_stride": 32,
        "n_epochs": 5,
        "batch_size": 64,
        "lr": 1e-3,
        "validation_size": 0.0,
        "patience": 0,
    }

    individual: bool  # set by the subclasses' __init__

    def check_params(self) -> None:
        super().check_params()
        self._check_param("window", self.window >= 2, "an int >= 2")
        self._check_param("individual", isinstance(self.individual, bool), "true or false")

    def _loss(self, module: nn.Module, batch: torch.Tensor) -> torch.Tensor:
        result: torch.Tensor = ((module(batch) - batch) ** 2).mean()
        return result

    def _score_batch(self, module: nn.Module, batch: torch.Tensor) -> torch.Tensor:
        result: torch.Tensor = ((module(batch) - batch) ** 2).mean(dim=2)
        return result

    def _end_epoch(self, epoch: int, optimizer: torch.optim.Optimizer) -> None:
        halve_lr(optimizer, self.lr, epoch)  # the codes' ``type1``


_DEVIATIONS = (
    "Reconstructs the window (pred_len = seq_len), as the published anomaly-detection rows "
    "(Time-Series-Library, TAB, OracleAD's baselines) do; the paper itself only forecasts, so "
    "there is no official anomaly-detection code to follow.",
    "Each test point is scored once, on non-overlapping windows (TAB); Time-Series-Library "
    "pools every position of stride-1 test windows, each point up to 100 times.",
    "Test points after the last whole window take the score of the point before them (TAB "
    "pads them with 0).",
    "Validation on the last 20% of train, left out of training (TAB); Time-Series-Library "
    "validates on it while also training on it. The scaler is fit on all of train (TAB: the "
    "first 80%).",
)


@register_detector("dlinear", faithful=False, deviations=_DEVIATIONS)
class DLinear(_LinearReconstructor):
    """DLinear: trend / remainder decomposition, a linear map of each over the window;
    score = squared reconstruction error averaged over channels.

    Parameters
    ----------
    kernel : int
        Moving-average length of the trend (25).
    individual : bool
        One linear map per channel instead of one shared (False, the codes' default).
    window, stride, score_stride : int
        Window length (100, ``seq_len``); step between training windows (1); between scoring
        windows (100: non-overlapping, one score per point).
    n_epochs, batch_size, lr, validation_size, patience, random_state, device
        Training settings of :class:`~tsadbench.detectors.base.TorchDetector` (10 epochs,
        batch 128, lr 1e-4 halved every epoch after the first, validation on the last 20% of
        train with patience 3).
    """

    def __init__(
        self,
        *,
        window: int = 100,
        kernel: int = 25,
        individual: bool = False,
        stride: int = 1,
        score_stride: int = 100,
        n_epochs: int = 10,
        batch_size: int = 128,
        lr: float = 1e-4,
        validation_size: float = 0.2,
        patience: int = 3,
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
        return _DLinearNet(self.window, n_channels, self.individual, self.kernel)


@register_detector("nlinear", faithful=False, deviations=_DEVIATIONS)
class NLinear(_LinearReconstructor):
    """NLinear: the window minus its last value, a linear map over the window, the last value
    added back; score = squared reconstruction error averaged over channels.

    Parameters
    ----------
    individual : bool
        One linear map per channel instead of one shared (False, the codes' default).
    window, stride, score_stride : int
        Window length (100, ``seq_len``); step between training windows (1); between scoring
        windows (100: non-overlapping, one score per point).
    n_epochs, batch_size, lr, validation_size, patience, random_state, device
        Training settings of :class:`~tsadbench.detectors.base.TorchDetector` (10 epochs,
        batch 128, lr 1e-4 halved every epoch after the first, validation on the last 20% of
        train with patience 3).
    """

    test_params: ClassVar[dict[str, Any]] = {
        k: v for k, v in _LinearReconstructor.test_params.items() if k != "kernel"
    }

    def __init__(
        self,
        *,
        window: int = 100,
        individual: bool = False,
        stride: int = 1,
        score_stride: int = 100,
        n_epochs: int = 10,
        batch_size: int = 128,
        lr: float = 1e-4,
        validation_size: float = 0.2,
        patience: int = 3,
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
        return _NLinearNet(self.window, n_channels, self.individual)
