"""``tadgan``: TadGAN (Geiger et al., IEEE BigData 2020) as Orion implements it, in PyTorch.

Fidelity (``../shared/research/detectors.md`` §3; Orion's ``orion/primitives/tadgan.py``,
``timeseries_errors.py`` and its verified pipelines):

Follows Orion's code:
  * the four networks with Orion's layer sizes: encoder E (BiLSTM 100 → flatten → dense to a
    (20, N) latent), generator G (dense to (window/2, N) → BiLSTM 64 → upsample ×2 → BiLSTM 64 →
    time-distributed dense N → tanh), critic Cx (4 × [Conv1d 64, kernel 5, valid → LeakyReLU 0.2
    → dropout 0.25] → dense 1), critic Cz (2 × [dense 20 → LeakyReLU 0.2 → dropout 0.2] →
    dense 1);
  * WGAN-GP training: per group of ``n_critic`` (5) mini-batches of ``batch_size`` (64), each
    mini-batch takes one Cx step (``−Cx(x) + Cx(G(z)) + 10·GP``) and one Cz step
    (``−Cz(z) + Cz(E(x)) + 10·GP``) with its own ``z ~ N(0, I)``; then one E/G step on the last
    mini-batch (``−Cx(G(z)) − Cz(E(x)) + 10·MSE(x, G(E(x)))``); three Adam optimisers, lr 5e-4;
    windows shuffled every epoch, the last partial group dropped; window 100, train stride 1;
  * scoring (``score_anomalies``): the per-point reconstruction is the median over the
    overlapping windows; the reconstruction error is ``point`` (|x − x̂|), ``area`` (|difference
    of trapezoid integrals over a centred window of ``score_window``|) or ``dtw`` (DTW distance of
    the segments of ``score_window // 2 * 2 + 1`` points centred on each point, zero-padded; the
    last ``score_window // 2 + 1`` points get 0, as in Orion), smoothed by a centred rolling mean
    over 1% of the windows, z-scored, clipped at 0, plus 1; the critic value of each point is the
    KDE mode of the Cx values of the windows covering it (``kde_mode`` of the windows module),
    then ``|c − mean of c inside its IQR| / std(c) + 1``, smoothed the same way; combined by
    ``mult`` (product), ``sum`` (``(1 − λ)(critic − 1) + λ(rec − 1)``, λ = 0.5) or ``rec``.
    The z-scores use the statistics of the series being scored, as Orion's do.

Deviations, and why:
  * multivariate output: with N > 1 channels the latent is (20, N), the generator's first dense
    layer has (window/2)·N units and its output N channels; Cx reads N channels and Cz a (20, N)
    latent. Orion's output is one channel (its dense sizes only work for N = 1). With N = 1 this
    is exactly Orion's network. The reconstruction error is computed per channel and averaged
    over channels;
  * the generator's LSTM input dropout (0.2) uses one mask per sequence, as Keras does, but
    Keras' recurrent dropout (0.2) is left out: PyTorch's fused LSTM has none;
  * float32 and PyTorch's default initialisation (Orion: float64, Keras' Glorot / orthogonal);
  * during the critic iterations E and G are frozen, so their outputs for the whole group are
    computed in one forward pass (the same computation as five passes, faster);
  * the windows cover the whole series (Orion's ``rolling_window_sequences`` leaves the last
    point out: it also cuts a one-step forecasting target that TadGAN ignores);
  * where a z-score's standard deviation is 0 (a constant error or critic curve) that score is
    taken as having no deviation (z = 0) instead of Orion's NaN.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import NDArray
from torch import nn

from tsadbench.checks import is_number
from tsadbench.data.windows import sliding_windows, windows_to_points
from tsadbench.detectors.base import DetectorTags, TorchDetector
from tsadbench.registry import register_detector

ERRORS = ("point", "area", "dtw")
COMBINATIONS = ("mult", "sum", "rec")


# scoring (numpy; Orion's score_anomalies, vectorised) --------------------------------------------
def rolling_mean(x: NDArray[np.float64], window: int) -> NDArray[np.float64]:
    """Centred rolling mean over ``window`` points, as pandas' ``rolling(window, center=True,
    min_periods=window // 2).mean()`` computes it (the window of point t is
    ``[t - window // 2, t + window - 1 - window // 2]``, cut at the ends)."""
    x = np.asarray(x, dtype=np.float64)
    n = len(x)
    lo, hi = window // 2, window - 1 - window // 2
    t = np.arange(n)
    a, b = np.maximum(t - lo, 0), np.minimum(t + hi, n - 1) + 1
    csum = np.r_[0.0, np.cumsum(x)]
    count = b - a
    out = (csum[b] - csum[a]) / count
    return np.where(count >= max(window // 2, 1), out, np.nan)


def area_error(y: NDArray[np.floating], y_hat: NDArray[np.floating], window: int = 10) -> Any:
    """|trapezoid integral of y − of ŷ| over the centred window of each point (Orion's
    ``_area_error``: ``rolling(window, center=True, min_periods=window // 2).apply(trapz)``)."""

    def integral(v: NDArray[np.float64]) -> NDArray[np.float64]:
        n = len(v)
        lo, hi = window // 2, window - 1 - window // 2
        t = np.arange(n)
        a, b = np.maximum(t - lo, 0), np.minimum(t + hi, n - 1)
        csum = np.r_[0.0, np.cumsum(v)]
        total = csum[b + 1] - csum[a] - (v[a] + v[b]) / 2  # trapezoids of unit width
        return np.where(b - a + 1 >= max(window // 2, 1), total, np.nan)

    return np.abs(integral(np.asarray(y, np.float64)) - integral(np.asarray(y_hat, np.float64)))


def dtw_error(y: NDArray[np.floating], y_hat: NDArray[np.floating], window: int = 10) -> Any:
    """Orion's ``_dtw_error``: the DTW distance (squared point cost, square root of the total,
    pyts' classic ``dtw``) between the true and reconstructed segments of
    ``window // 2 * 2 + 1`` points centred on each point, zero-padded at both ends; Orion
    computes ``n - length`` of them, so the first ``length // 2`` and the last
    ``length // 2 + 1`` points get 0. All segments at once: the DP runs over the segment
    positions, vectorised over the points."""
    y, y_hat = np.asarray(y, np.float64), np.asarray(y_hat, np.float64)
    n = len(y)
    length = (window // 2) * 2 + 1
    half = length // 2
    out = np.zeros(n)
    m = n - length
    if m <= 0:
        return out
    yp, hp = np.pad(y, half), np.pad(y_hat, half)
    seg_y = np.lib.stride_tricks.sliding_window_view(yp, length)[:m]
    seg_h = np.lib.stride_tricks.sliding_window_view(hp, length)[:m]
    cost = (seg_y[:, :, None] - seg_h[:, None, :]) ** 2  # (m, length, length)
    acc = np.empty_like(cost)
    acc[:, 0, 0] = cost[:, 0, 0]
    for j in range(1, length):
        acc[:, 0, j] = acc[:, 0, j - 1] + cost[:, 0, j]
        acc[:, j, 0] = acc[:, j - 1, 0] + cost[:, j, 0]
    for i in range(1, length):
        for j in range(1, length):
            best = np.minimum(np.minimum(acc[:, i - 1, j], acc[:, i, j - 1]), acc[:, i - 1, j - 1])
            acc[:, i, j] = cost[:, i, j] + best
    out[half : half + m] = np.sqrt(acc[:, -1, -1])
    return out


def reconstruction_error(
    y: NDArray[np.floating], y_hat: NDArray[np.floating], kind: str, score_window: int = 10
) -> NDArray[np.float64]:
    """Per-point error of one channel: ``point``, ``area`` or ``dtw`` (Orion's definitions)."""
    if kind == "point":
        return np.abs(np.asarray(y, np.float64) - np.asarray(y_hat, np.float64))
    if kind == "area":
        return np.asarray(area_error(y, y_hat, score_window))
    if kind == "dtw":
        return np.asarray(dtw_error(y, y_hat, score_window))
    raise ValueError(f"The reconstruction error must be one of {ERRORS}. Got {kind!r} instead.")


def _zscore(x: NDArray[np.float64], center: float) -> NDArray[np.float64]:
    std = float(np.std(x))
    return (x - center) / std if std > 0 else np.zeros_like(x)


def critic_score(critic: NDArray[np.float64], smooth_window: int) -> NDArray[np.float64]:
    """Orion's ``_compute_critic_score``: ``|c − mean(c inside [q25, q75])| / std(c) + 1``,
    smoothed by a centred rolling mean over ``smooth_window`` points."""
    c = np.asarray(critic, dtype=np.float64)
    q25, q75 = np.quantile(c, 0.25), np.quantile(c, 0.75)
    center = float(c[(c >= q25) & (c <= q75)].mean())
    return rolling_mean(np.abs(_zscore(c, center)) + 1, smooth_window)


def rec_score(errors: NDArray[np.float64], smooth_window: int) -> NDArray[np.float64]:
    """Smoothed errors z-scored (``scipy.stats.zscore``), clipped at 0, plus 1 (Orion)."""
    smooth = rolling_mean(errors, smooth_window)
    return np.clip(_zscore(smooth, float(np.mean(smooth))), 0, None) + 1


def combine(
    critic: NDArray[np.float64], rec: NDArray[np.float64], comb: str, lambda_rec: float = 0.5
) -> NDArray[np.float64]:
    """Orion's combinations of the critic and reconstruction scores."""
    if comb == "mult":
        return critic * rec
    if comb == "sum":
        return (1 - lambda_rec) * (critic - 1) + lambda_rec * (rec - 1)
    if comb == "rec":
        return rec
    raise ValueError(f"The combination must be one of {COMBINATIONS}. Got {comb!r} instead.")


def score_anomalies(
    x: NDArray[np.floating],
    recs: NDArray[np.floating],
    critics: NDArray[np.floating],
    stride: int = 1,
    error: str = "dtw",
    comb: str = "mult",
    lambda_rec: float = 0.5,
    score_window: int = 10,
    smooth_fraction: float = 0.01,
) -> NDArray[np.float64]:
    """Orion's ``score_anomalies`` for the series ``x`` (n, N), its windows' reconstructions
    ``recs`` (n_windows, window, N) and critic values ``critics`` (n_windows,)."""
    n, window = len(x), recs.shape[1]
    smooth = max(1, math.trunc(len(critics) * smooth_fraction))
    points = windows_to_points(recs, n, window, stride, how="median")  # (n, N)
    errors = np.mean(
        [
            reconstruction_error(x[:, c], points[:, c], error, score_window)
            for c in range(x.shape[1])
        ],
        axis=0,
    )
    rec = rec_score(errors, smooth)
    critic = critic_score(windows_to_points(critics, n, window, stride, how="kde_mode"), smooth)
    return combine(critic, rec, comb, lambda_rec)


# networks --------------------------------------------------------------------------------------
class _SequenceDropout(nn.Module):
    """Dropout with one mask per sequence, shared by all time steps (Keras' LSTM ``dropout``)."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, T, F)
        if not self.training or self.p == 0:
            return x
        keep = torch.empty(x.shape[0], 1, x.shape[2], device=x.device, dtype=x.dtype)
        return x * keep.bernoulli_(1 - self.p) / (1 - self.p)


class TadGANNet(nn.Module):
    """E, G, Cx and Cz of Orion's TadGAN for windows of (window, n_channels)."""

    def __init__(
        self,
        n_channels: int,
        window: int,
        latent_dim: int = 20,
        encoder_units: int = 100,
        generator_units: int = 64,
        critic_x_filters: int = 64,
        critic_z_units: int = 20,
    ) -> None:
        super().__init__()
        n, half = n_channels, window // 2
        self.n_channels, self.window, self.latent_dim = n, window, latent_dim
        self.enc_lstm = nn.LSTM(n, encoder_units, batch_first=True, bidirectional=True)
        self.enc_dense = nn.Linear(window * 2 * encoder_units, latent_dim * n)
        self.gen_dense = nn.Linear(latent_dim * n, half * n)
        self.gen_drop1 = _SequenceDropout(0.2)
        self.gen_lstm1 = nn.LSTM(n, generator_units, batch_first=True, bidirectional=True)
        self.gen_drop2 = _SequenceDropout(0.2)
        self.gen_lstm2 = nn.LSTM(
            2 * generator_units, generator_units, batch_first=True, bidirectional=True
        )
        self.gen_out = nn.Linear(2 * generator_units, n)
        layers: list[nn.Module] = []
        width = n
        for _ in range(4):
            layers += [nn.Conv1d(width, critic_x_filters, 5), nn.LeakyReLU(0.2), nn.Dropout(0.25)]
            width = critic_x_filters
        self.critic_x_net = nn.Sequential(
            *layers, nn.Flatten(), nn.Linear(critic_x_filters * (window - 16), 1)
        )
        self.critic_z_net = nn.Sequential(
            nn.Flatten(),
            nn.Linear(latent_dim * n, critic_z_units),
            nn.LeakyReLU(0.2),
            nn.Dropout(0.2),
            nn.Linear(critic_z_units, critic_z_units),
            nn.LeakyReLU(0.2),
            nn.Dropout(0.2),
            nn.Linear(critic_z_units, 1),
        )

    def encode(self, x: torch.Tensor) -> torch.Tensor:  # (B, window, N) -> (B, latent, N)
        h, _ = self.enc_lstm(x)
        result: torch.Tensor = self.enc_dense(h.flatten(1)).view(
            -1, self.latent_dim, self.n_channels
        )
        return result

    def generate(self, z: torch.Tensor) -> torch.Tensor:  # (B, latent, N) -> (B, window, N)
        h = self.gen_dense(z.flatten(1)).view(-1, self.window // 2, self.n_channels)
        h, _ = self.gen_lstm1(self.gen_drop1(h))
        h = h.repeat_interleave(2, dim=1)  # UpSampling1D(2)
        h, _ = self.gen_lstm2(self.gen_drop2(h))
        return torch.tanh(self.gen_out(h))

    def critic_x(self, x: torch.Tensor) -> torch.Tensor:  # (B, window, N) -> (B,)
        result: torch.Tensor = self.critic_x_net(x.transpose(1, 2))[:, 0]
        return result

    def critic_z(self, z: torch.Tensor) -> torch.Tensor:  # (B, latent, N) -> (B,)
        result: torch.Tensor = self.critic_z_net(z)[:, 0]
        return result


def gradient_penalty(critic: Any, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """``mean((||∇ critic(x̃)||₂ − 1)²)`` at ``x̃ = α·real + (1 − α)·fake``, α uniform per sample."""
    alpha = torch.rand(real.shape[0], *([1] * (real.ndim - 1)), device=real.device)
    mixed = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    (grads,) = torch.autograd.grad(critic(mixed).sum(), mixed, create_graph=True)
    result: torch.Tensor = ((grads.flatten(1).norm(dim=1) - 1) ** 2).mean()
    return result


@contextmanager
def _frozen(*modules: nn.Module) -> Any:
    """No parameter gradients for ``modules`` inside (gradients still flow through them)."""
    params = [p for m in modules for p in m.parameters()]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in params:
            p.requires_grad_(True)


class _Optimizers:
    """Orion's three Adam optimisers: Cx, Cz and E/G together."""

    def __init__(self, module: TadGANNet, lr: float) -> None:
        self.cx = torch.optim.Adam(module.critic_x_net.parameters(), lr=lr)
        self.cz = torch.optim.Adam(module.critic_z_net.parameters(), lr=lr)
        eg = [p for name, p in module.named_parameters() if name.startswith(("enc_", "gen_"))]
        self.eg = torch.optim.Adam(eg, lr=lr)


@register_detector(
    "tadgan",
    faithful=True,
    deviations=(
        "Multivariate output: latent (20, N), generator output N channels (Orion: one channel); "
        "identical to Orion's network for N = 1; the reconstruction error is averaged over "
        "channels.",
        "No recurrent dropout in the generator's LSTMs (PyTorch's fused LSTM has none); input "
        "dropout 0.2 with one mask per sequence as in Keras.",
        "float32 and PyTorch's default initialisation (Orion: float64, Keras initialisers).",
        "The windows cover the last point too (Orion leaves it out).",
        "A z-score over a constant curve is 0 (Orion: NaN).",
        "Adam's epsilon is PyTorch's 1e-8 (Keras: 1e-7), and the error smoothing spans n - 99 "
        "windows where Orion's spans n - 100: both negligible.",
        "The protocols that set a threshold on train scores give NaN: the scores are "
        "standardised per scored series, so train and test scales differ.",
    ),
)
class TadGAN(TorchDetector):
    """TadGAN: a cycle-consistent WGAN-GP over windows, scored by reconstruction and critic.

    Score: Orion's ``score_anomalies`` (reconstruction error of the median per-point
    reconstruction, critic KDE mode, both z-scored and smoothed, combined); higher = more
    anomalous. The module docstring lists where it follows Orion's code and where it deviates.

    Parameters
    ----------
    window : int
        Window length (100); even (the generator upsamples ×2) and at least 18 (Cx's four valid
        convolutions of kernel 5).
    stride, score_stride : int
        Step between training windows (1) and between scoring windows (1, Orion's).
    latent_dim : int
        Rows of the latent (20); the latent is (latent_dim, n_channels).
    encoder_units, generator_units, critic_x_filters, critic_z_units : int
        Orion's layer widths: 100, 64, 64, 20.
    n_critic : int
        Critic iterations (mini-batches) per encoder/generator step (5).
    gp_weight, cycle_weight : float
        Weights of the gradient penalty (10) and of the cycle reconstruction MSE (10).
    error : {"point", "area", "dtw"}
        Reconstruction error type (Orion's ``rec_error_type``).
    comb : {"mult", "sum", "rec"}
        How critic and reconstruction scores combine; ``lambda_rec`` weighs ``sum`` (0.5).
    score_window : int
        Window of the ``area`` and ``dtw`` errors (10).
    smooth_fraction : float
        Smoothing window of both scores as a fraction of the number of windows (0.01).
    n_epochs, batch_size, lr, validation_size, patience, random_state, device
        Training settings of :class:`~tsadbench.detectors.base.TorchDetector`; Orion: 35 epochs
        (70 for NASA), batch 64, lr 5e-4, no validation.
    """

    # scores standardised per scored series (Orion's z-scores): train and test scales differ
    tags = DetectorTags(scaler="minmax_pm1", root_cause=True, comparable_scores=False)
    drop_last: ClassVar[bool] = True
    test_params: ClassVar[dict[str, Any]] = {
        "window": 18,
        "n_epochs": 1,
        "batch_size": 8,
        "n_critic": 2,
        "encoder_units": 8,
        "generator_units": 8,
        "critic_x_filters": 8,
        "error": "point",
    }

    def __init__(
        self,
        *,
        window: int = 100,
        stride: int = 1,
        score_stride: int = 1,
        latent_dim: int = 20,
        encoder_units: int = 100,
        generator_units: int = 64,
        critic_x_filters: int = 64,
        critic_z_units: int = 20,
        n_critic: int = 5,
        gp_weight: float = 10.0,
        cycle_weight: float = 10.0,
        error: str = "dtw",
        comb: str = "mult",
        lambda_rec: float = 0.5,
        score_window: int = 10,
        smooth_fraction: float = 0.01,
        n_epochs: int = 35,
        batch_size: int = 64,
        lr: float = 5e-4,
        validation_size: float = 0.0,
        patience: int = 0,
        random_state: int | None = None,
        device: str = "auto",
    ) -> None:
        self.window = window
        self.stride = stride
        self.score_stride = score_stride
        self.latent_dim = latent_dim
        self.encoder_units = encoder_units
        self.generator_units = generator_units
        self.critic_x_filters = critic_x_filters
        self.critic_z_units = critic_z_units
        self.n_critic = n_critic
        self.gp_weight = gp_weight
        self.cycle_weight = cycle_weight
        self.error = error
        self.comb = comb
        self.lambda_rec = lambda_rec
        self.score_window = score_window
        self.smooth_fraction = smooth_fraction
        self.n_epochs = n_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.validation_size = validation_size
        self.patience = patience
        self.random_state = random_state
        self.device = device

    def check_params(self) -> None:
        super().check_params()
        self._check_int(
            "latent_dim",
            "encoder_units",
            "generator_units",
            "critic_x_filters",
            "critic_z_units",
            "n_critic",
            "score_window",
        )
        c = self._check_param
        w = self.window
        c("window", w >= 18 and w % 2 == 0, "an even int >= 18 (upsampling ×2, Cx's convolutions)")
        for name in ("gp_weight", "cycle_weight"):
            v = getattr(self, name)
            c(name, is_number(v) and v >= 0, "a float >= 0")
        c("error", self.error in ERRORS, f"one of {ERRORS}")
        c("comb", self.comb in COMBINATIONS, f"one of {COMBINATIONS}")
        lam = self.lambda_rec
        c("lambda_rec", is_number(lam) and 0 <= lam <= 1, "a float in [0, 1]")
        f = self.smooth_fraction
        c("smooth_fraction", is_number(f) and 0 <= f <= 1, "a float in [0, 1]")

    # training -------------------------------------------------------------------------------
    def _build_module(self, n_channels: int) -> nn.Module:
        return TadGANNet(
            n_channels,
            self.window,
            self.latent_dim,
            self.encoder_units,
            self.generator_units,
            self.critic_x_filters,
            self.critic_z_units,
        )

    def _make_optimizer(self, module: nn.Module) -> Any:
        assert isinstance(module, TadGANNet)
        return _Optimizers(module, float(self.lr))

    def _train_batch_size(self) -> int:
        return self.batch_size * self.n_critic

    def _loss(self, module: nn.Module, batch: torch.Tensor) -> torch.Tensor:
        """Validation loss: the cycle reconstruction MSE."""
        assert isinstance(module, TadGANNet)
        return F.mse_loss(module.generate(module.encode(batch)), batch)

    def _train_step(self, module: nn.Module, group: torch.Tensor, optimizer: Any) -> float:
        assert isinstance(module, TadGANNet)
        opt: _Optimizers = optimizer
        z_all = torch.randn(group.shape[0], self.latent_dim, module.n_channels, device=group.device)
        with torch.no_grad():  # E and G are frozen during the critic iterations
            fake_x_all = module.generate(z_all)
            fake_z_all = module.encode(group)
        losses: list[torch.Tensor] = []
        parts = range(0, group.shape[0], self.batch_size)
        for lo in parts:
            sl = slice(lo, lo + self.batch_size)
            x, z = group[sl], z_all[sl]
            loss_cx = (
                -module.critic_x(x).mean()
                + module.critic_x(fake_x_all[sl]).mean()
                + self.gp_weight * gradient_penalty(module.critic_x, x, fake_x_all[sl])
            )
            opt.cx.zero_grad(set_to_none=True)
            loss_cx.backward()
            opt.cx.step()
            loss_cz = (
                -module.critic_z(z).mean()
                + module.critic_z(fake_z_all[sl]).mean()
                + self.gp_weight * gradient_penalty(module.critic_z, z, fake_z_all[sl])
            )
            opt.cz.zero_grad(set_to_none=True)
            loss_cz.backward()
            opt.cz.step()
            losses += [loss_cx.detach(), loss_cz.detach()]
        # the encoder / generator step on the last critic mini-batch and its z (Orion)
        with _frozen(module.critic_x_net, module.critic_z_net):
            z_x = module.encode(x)
            loss_eg = (
                -module.critic_x(module.generate(z)).mean()
                - module.critic_z(z_x).mean()
                + self.cycle_weight * F.mse_loss(module.generate(z_x), x)
            )
            opt.eg.zero_grad(set_to_none=True)
            loss_eg.backward()
            opt.eg.step()
        losses.append(loss_eg.detach())
        if not bool(torch.isfinite(torch.stack(losses)).all()):
            return math.nan  # the loop stops with a clear error
        return float(loss_eg.detach())

    # scoring ----------------------------------------------------------------------------------
    def reconstruct(
        self, X: NDArray[np.float32]
    ) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
        """The windows' reconstructions G(E(x)), (n_windows, window, N), and critic values
        Cx(x), (n_windows,), in evaluation mode."""
        windows = sliding_windows(X, self.window, self.score_stride)
        module = self.module_
        assert isinstance(module, TadGANNet)
        module.eval()
        recs, critics = [], []
        with torch.no_grad():
            for batch in self._batches(windows, size=max(self.batch_size, 512)):
                recs.append(module.generate(module.encode(batch)).float().cpu())
                critics.append(module.critic_x(batch).float().cpu())
        return torch.cat(recs).numpy(), torch.cat(critics).numpy()

    def _channel_errors(self, X: NDArray[np.float32], recs: NDArray[Any]) -> NDArray[np.float64]:
        points = windows_to_points(recs, len(X), self.window, self.score_stride, how="median")
        return np.abs(X.astype(np.float64) - points)

    def _score_with_channels(
        self, X: NDArray[np.float32]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """The scores and each channel's ``point`` error of the median reconstruction (the
        per-channel part of the reconstruction score); the networks run once for both."""
        recs, critics = self.reconstruct(X)
        return self._score_anomalies(X, recs, critics), self._channel_errors(X, recs)

    def _score(self, X: NDArray[np.float32]) -> NDArray[np.float64]:
        return self._score_anomalies(X, *self.reconstruct(X))

    def _score_anomalies(
        self, X: NDArray[np.float32], recs: NDArray[Any], critics: NDArray[Any]
    ) -> NDArray[np.float64]:
        return score_anomalies(
            X,
            recs,
            critics,
            self.score_stride,
            self.error,
            self.comb,
            float(self.lambda_rec),
            self.score_window,
            float(self.smooth_fraction),
        )
