"""The detector contract, its shared input check, and the one training loop of torch detectors.

Contract (see ARCHITECTURE.md): ``fit(X) -> self`` and ``score(X) -> (n_timestamps,)`` float64,
finite, higher = more anomalous. ``X`` is ``(n_timestamps, n_channels)``, already scaled.
Hyper-parameters are ``__init__`` keywords stored unchanged; learned state ends in ``_``.
"""

from __future__ import annotations

import copy
import inspect
import os
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from tsadbench.checks import is_int, is_number
from tsadbench.data.windows import sliding_windows, windows_to_points

if TYPE_CHECKING:  # torch is imported lazily: the core must not need it to start
    import torch

FloatArray = NDArray[np.floating]


@dataclass(frozen=True)
class DetectorTags:
    """What a detector can take and promises.

    multivariate : accepts more than one channel.
    scaler : the scaling the method requires ("zscore", "minmax_pm1", ...); the runner applies
        it unless the user overrides ``scaler`` explicitly.
    comparable_scores : the scores of different series share one scale. False (TadGAN, whose
        scores are standardised per scored series, as Orion does): a threshold taken from the
        train scores means nothing on the test scores, and the protocols that read train scores
        give NaN with the reason.
    root_cause : ``score_with_channels(X) -> (scores, channels)`` gives, with the scores, each
        channel's part of them, ``(n_timestamps, n_channels)``, higher = more involved (its
        hook: ``_score_with_channels``; torch window detectors: ``_channel_batch``); the runner
        stores the channels beside the scores and computes the root-cause metrics where the
        data has channel labels.
    window_energies : ``window_energies(X)`` gives the energy of every position of every window
        (the Anomaly Transformer's), which ``train_test_ratio(compat='anomaly_transformer')``
        pools from the train split; the runner computes it only for that protocol.
    """

    multivariate: bool = True
    scaler: str = "zscore"
    comparable_scores: bool = True
    root_cause: bool = False
    window_energies: bool = False


def check_series(
    X: Any, *, owner: str, min_length: int = 1, n_channels: int | None = None
) -> NDArray[np.float32]:
    """Validate a series and return it as a C-contiguous float32 array.

    Raises ``ValueError`` naming ``owner`` and what was expected for: a non 2-D array, an empty
    array, non-finite values, fewer than ``min_length`` rows, or a channel count that differs from
    ``n_channels`` (the count seen in ``fit``).
    """
    arr = np.asarray(X)
    if arr.ndim != 2:
        raise ValueError(
            f"{owner} expects a 2-D array of shape (n_timestamps, n_channels). "
            f"Got an array of shape {arr.shape}."
        )
    if arr.size == 0:
        raise ValueError(f"{owner} got an empty array of shape {arr.shape}.")
    if not np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.complexfloating):
        raise ValueError(f"{owner} expects real numbers. Got dtype {arr.dtype}.")
    arr = np.ascontiguousarray(arr, dtype=np.float32)
    if not np.isfinite(arr).all():
        bad = int((~np.isfinite(arr)).sum())
        raise ValueError(
            f"{owner} got {bad} non-finite value(s) (NaN or inf) in an array of shape "
            f"{arr.shape}; impute or drop them before fitting or scoring."
        )
    if arr.shape[0] < min_length:
        raise ValueError(
            f"{owner} needs at least {min_length} time steps (its window). Got {arr.shape[0]}."
        )
    if n_channels is not None and arr.shape[1] != n_channels:
        raise ValueError(f"{owner} was fit on {n_channels} channel(s) but got {arr.shape[1]}.")
    return arr


class BaseDetector:
    """Base class of every detector: parameter handling, validation and the score contract."""

    tags: ClassVar[DetectorTags] = DetectorTags()
    # Small settings for the conformance tests; every detector declares its own.
    test_params: ClassVar[dict[str, Any]] = {}
    # modules the detector imports lazily (in ``_fit``, say): a run loads them before its clock
    # starts, so that fit_s measures the work, not Python's imports
    lazy_imports: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def test_fixture(cls, folder: Path) -> dict[str, Any]:
        """Parameters the tests add to ``test_params`` after writing what they need into
        ``folder`` (e.g. a small pretrained checkpoint); none by default."""
        return {}

    # parameters ---------------------------------------------------------------------------
    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [
            p.name
            for p in sig.parameters.values()
            if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        ]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The ``__init__`` parameters and their values (scikit-learn's convention: ``deep``
        would add nested estimators' parameters; a detector holds none)."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> BaseDetector:
        valid = self._param_names()
        for key, value in params.items():
            if key not in valid:
                raise ValueError(f"{type(self).__name__} has no parameter {key!r}; has {valid}.")
            setattr(self, key, value)
        return self

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    def setting_deviations(self) -> list[str]:
        """Deviations from the paper or official code that these settings add to the ones the
        registration declares (e.g. a flag that turns off a quirk); none by default."""
        return []

    def warm_up(self) -> None:
        """What the first fit in a process pays once and no later run does (a JIT compiler's
        first compilation, a cache to load), done before a run's clock starts so that fit_s and
        score_s measure the work; nothing by default. It must not need the data."""

    def provenance(self) -> dict[str, Any]:
        """What a fitted detector adds to the run record's provenance (e.g. the sha256 of the
        pretrained weights it loaded); nothing by default."""
        return {}

    # availability -------------------------------------------------------------------------
    def check_available(self, n_channels: int | None = None) -> str | None:
        """Why this detector, with these settings, cannot run here, or None. Called before any
        data is loaded (``n_channels`` None) and again per entity; override for weights,
        devices, etc."""
        if n_channels is not None and n_channels > 1 and not self.tags.multivariate:
            return f"{type(self).__name__} is univariate but the data has {n_channels} channels."
        return None

    # contract -----------------------------------------------------------------------------
    @property
    def min_length(self) -> int:
        """Fewest time steps ``fit`` and ``score`` accept (the window for windowed methods)."""
        return int(getattr(self, "window", 1))

    def check_params(self) -> None:
        """Raise ``ValueError`` naming any invalid hyper-parameter.

        Called by ``fit`` and by the runner before any data is loaded, so a bad setting fails
        at once. Subclasses extend it (calling ``super().check_params()``).
        """

    def _check_int(self, *names: str, minimum: int = 1) -> None:
        for name in names:
            v = getattr(self, name)
            self._check_param(
                name,
                is_int(v) and v >= minimum,
                f"an int >= {minimum}",
            )

    def _check_param(self, name: str, ok: bool, expected: str) -> None:
        if not ok:
            raise ValueError(
                f"The '{name}' parameter of {type(self).__name__} must be {expected}. "
                f"Got {getattr(self, name)!r} instead."
            )

    def _validate(self, X: Any, fitted: bool) -> NDArray[np.float32]:
        owner = f"{type(self).__name__}.{'score' if fitted else 'fit'}"
        if fitted and not hasattr(self, "n_channels_"):
            raise RuntimeError(f"{type(self).__name__} is not fitted yet; call fit first.")
        return check_series(
            X,
            owner=owner,
            min_length=self.min_length,
            n_channels=self.n_channels_ if fitted else None,
        )

    def fit(self, X: Any, y: Any = None, *, segments: Any = None) -> BaseDetector:
        """Learn from the (normal) series ``X`` of shape (n_timestamps, n_channels).

        ``segments``: where each series starts when ``X`` concatenates several (a
        ``_concat`` dataset's entities), ``[0, start_2, ...]``; a detector that holds out a
        validation split takes it from every series, so none is left out of training."""
        self.check_params()
        arr = self._validate(X, fitted=False)
        self.train_segments_ = _check_segments(segments, len(arr))
        self.n_channels_ = arr.shape[1]
        self._fit(arr)
        return self

    def score(self, X: Any) -> NDArray[np.float64]:
        """Anomaly score per time step, shape (n_timestamps,), float64, higher = more anomalous."""
        arr = self._validate(X, fitted=True)
        return self._checked(self._score(arr), len(arr))

    def score_with_channels(self, X: Any) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """``score(X)`` and each channel's part of it, ``(n_timestamps, n_channels)``, for a
        detector whose tags declare ``root_cause`` (root-cause metrics)."""
        arr = self._validate(X, fitted=True)
        if not self.tags.root_cause:
            raise NotImplementedError(f"{type(self).__name__} gives no per-channel scores.")
        scores, given = self._score_with_channels(arr)
        channels: NDArray[np.float64] = np.asarray(given, dtype=np.float64)
        if channels.shape != arr.shape:
            raise ValueError(
                f"{type(self).__name__} gave per-channel scores of shape {channels.shape} for "
                f"data of shape {arr.shape}; expected the same shape."
            )
        return self._checked(scores, len(arr)), channels

    def _score_with_channels(self, X: NDArray[np.float32]) -> tuple[FloatArray, FloatArray]:
        """The hook of ``score_with_channels`` (validated input, fitted detector)."""
        raise NotImplementedError(f"{type(self).__name__} gives no per-channel scores.")

    def window_energies(self, X: Any) -> NDArray[np.float64]:
        """The energy of every position of every window of ``X``, flattened, for a detector
        whose tags declare ``window_energies``."""
        raise NotImplementedError(f"{type(self).__name__} gives no window energies.")

    def _checked(self, scores: Any, n: int) -> NDArray[np.float64]:
        scores = np.asarray(scores, dtype=np.float64)
        if scores.shape != (n,):
            raise RuntimeError(
                f"{type(self).__name__} returned scores of shape {scores.shape}; expected ({n},)."
            )
        if not np.isfinite(scores).all():
            raise FloatingPointError(
                f"{type(self).__name__} produced {int((~np.isfinite(scores)).sum())} "
                f"non-finite score(s); the model diverged or the input is degenerate."
            )
        result: NDArray[np.float64] = scores
        return result

    def n_parameters(self) -> int | None:
        """Number of learned parameters, where the notion applies (neural networks)."""
        return None

    def _fit(self, X: NDArray[np.float32]) -> None:
        raise NotImplementedError

    def _score(self, X: NDArray[np.float32]) -> FloatArray:
        raise NotImplementedError


def _check_segments(segments: Any, n: int) -> tuple[int, ...]:
    if segments is None:
        return (0,)
    starts = tuple(int(v) for v in segments)
    if (
        not starts
        or starts[0] != 0
        or any(b <= a for a, b in pairwise(starts))
        or (starts[-1] >= n)
    ):
        raise ValueError(
            f"'segments' must be increasing start indices beginning at 0 and below the series "
            f"length {n}. Got {list(segments)!r}."
        )
    return starts


def halve_lr(optimizer: torch.optim.Optimizer, lr: float, epoch: int) -> None:
    """The schedule the Anomaly Transformer, VAN-AD and Time-Series-Library share (``type1``):
    after epoch e (0-based) the rate becomes ``lr · 0.5^e``: lr, lr, lr/2, lr/4, ..."""
    for group in optimizer.param_groups:
        group["lr"] = lr * 0.5**epoch


_NUMBA_CACHED: set[str] = set()


def cache_numba(package: str) -> None:
    """Set every numba-compiled function of the (imported) ``package`` to use numba's on-disk
    cache, once per process: a library that compiles on its first call (stumpy: about 20 s,
    PyOD's HBOS: 2 s) then compiles in the first process only, and each later one loads."""
    if package in _NUMBA_CACHED:
        return
    import numba
    from numba.core.dispatcher import Dispatcher

    if "NUMBA_THREADING_LAYER" not in os.environ:
        # numba's default layer (OpenMP here) lets idle threads spin: on a busy machine a
        # 1,000-point Matrix Profile took 1.1 s instead of 0.05 s; the workqueue layer does not
        numba.config.THREADING_LAYER = "workqueue"  # type: ignore[attr-defined]

    for name, module in list(sys.modules.items()):
        if name == package or name.startswith(package + "."):
            for value in list(vars(module).values()):
                if isinstance(value, Dispatcher):
                    value.enable_caching()
    _NUMBA_CACHED.add(package)


def resolve_device(device: str) -> str:
    """'auto' -> 'cuda' when a GPU is visible, else 'cpu'; other values pass through checked."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device={device!r} was asked for but no CUDA device is visible.")
    if device != "cpu" and not device.startswith("cuda"):
        raise ValueError(
            f"The 'device' setting must be 'auto', 'cpu' or 'cuda[:i]'. Got {device!r}."
        )
    return device


def draw_seed(random_state: int | None) -> int:
    """``random_state``, or for None (scikit-learn's meaning: fresh randomness) a seed drawn from
    the operating system's entropy."""
    if random_state is None:
        return int(np.random.SeedSequence().generate_state(1)[0])
    return int(random_state)


class TorchDetector(BaseDetector):
    """Base of torch window detectors: owns the loop, device, seeding and early stopping.

    Subclasses implement ``_build_module(n_channels)``, ``_loss(module, batch)`` (one scalar loss
    per batch) and ``_score_batch(module, batch)`` (per-window or per-position scores, shape
    ``(B,)`` or ``(B, window)``). A method whose training is not one loss per batch overrides
    ``_train_step`` (and ``_train_batch_size`` to get a group of mini-batches per step, with
    ``drop_last``: TadGAN's critic iterations), never the loop. Batches are
    ``(B, window, n_channels)`` float32 tensors.

    Shared parameters (stored by the subclass ``__init__``): ``window``, ``stride`` (between
    training windows), ``score_stride`` (between scoring windows), ``n_epochs``, ``batch_size``,
    ``lr``, ``validation_size`` (fraction of train held out for early stopping, from the end
    of every series that ``fit``'s ``segments`` name; 0 = off, train on all of it; a
    checkpoint is kept when every ``_validation_losses`` improves), ``patience`` (epochs
    without improvement before stopping; 0 = off), ``random_state``, ``device``.
    """

    window: int
    stride: int
    score_stride: int
    n_epochs: int
    batch_size: int
    lr: float
    validation_size: float
    patience: int
    random_state: int | None
    device: str
    point_aggregation: ClassVar[str] = "mean"
    # torch's first optimizer step imports torch._dynamo (about 1 s): not the detector's work
    lazy_imports: ClassVar[tuple[str, ...]] = ("torch._dynamo",)
    shuffle: ClassVar[bool] = True  # a new order of the training windows every epoch
    # drop each epoch's last, partial training batch (unless it is the only one)
    drop_last: ClassVar[bool] = False
    # step between validation windows; None: the training stride
    validation_stride: ClassVar[int | None] = 1
    # clip each gradient value to this before every step (None: no clipping; VAN-AD: 1)
    clip_grad_value: ClassVar[float | None] = None

    # hooks --------------------------------------------------------------------------------
    def _build_module(self, n_channels: int) -> torch.nn.Module:
        raise NotImplementedError

    def _loss(self, module: torch.nn.Module, batch: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _score_batch(self, module: torch.nn.Module, batch: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _make_optimizer(self, module: torch.nn.Module) -> torch.optim.Optimizer:
        import torch

        return torch.optim.Adam(module.parameters(), lr=self.lr)

    def _train_step(
        self, module: torch.nn.Module, batch: torch.Tensor, optimizer: torch.optim.Optimizer
    ) -> float:
        """One optimiser step on ``_loss``. Before the step, the gradients' norm is clipped for
        a detector with a ``clip_norm`` hyper-parameter (OracleAD; 0: off), and their values
        for a detector whose class sets ``clip_grad_value`` (VAN-AD's official 1)."""
        import torch

        optimizer.zero_grad(set_to_none=True)
        loss = self._loss(module, batch)
        loss.backward()
        clip = getattr(self, "clip_norm", 0)
        if clip:
            torch.nn.utils.clip_grad_norm_(module.parameters(), float(clip))
        if self.clip_grad_value is not None:
            torch.nn.utils.clip_grad_value_(module.parameters(), self.clip_grad_value)
        optimizer.step()
        return float(loss.detach())

    def _train_batch_size(self) -> int:
        """Windows per ``_train_step`` call: ``batch_size``, or e.g. one group of mini-batches
        for a method that takes several steps per group (TadGAN's critic iterations)."""
        return self.batch_size

    def _training_windows(self, windows: NDArray[np.float32]) -> NDArray[np.float32]:
        """What the loop trains on, made from the training (and validation) windows: the
        windows themselves, or e.g. a frozen network's outputs over them (VAN-AD)."""
        return windows

    def _end_epoch(self, epoch: int, optimizer: torch.optim.Optimizer) -> None:
        """Called after each epoch's training steps (0-based), before its validation, e.g. for
        a learning-rate schedule or state that the epoch's weights go with (OracleAD's SLS)."""

    def _validation_losses(
        self, module: torch.nn.Module, batch: torch.Tensor
    ) -> tuple[torch.Tensor, ...]:
        """The validation losses of a batch: ``(_loss,)``, or several when the method keeps a
        checkpoint only when all of them improve (the Anomaly Transformer's two phases)."""
        return (self._loss(module, batch),)

    def _checkpoint_state(self) -> Any:
        """State outside the module that the epoch's weights go with, saved and restored with
        them when validation selects an epoch (OracleAD's SLS); None: nothing."""
        return None

    def _restore_checkpoint_state(self, state: Any) -> None:
        """Restore what ``_checkpoint_state`` saved."""

    # the loop -----------------------------------------------------------------------------
    def check_params(self) -> None:
        super().check_params()
        self._check_int("window", "stride", "score_stride", "n_epochs", "batch_size")
        c = self._check_param
        c("lr", is_number(self.lr) and self.lr > 0, "a float > 0")
        v = self.validation_size
        c("validation_size", is_number(v) and 0 <= v < 1, "a float in [0, 1)")
        p = self.patience
        c("patience", is_int(p) and p >= 0, "an int >= 0 (0 = off)")
        d = self.device
        c(
            "device",
            isinstance(d, str) and re.fullmatch(r"auto|cpu|cuda(:\d+)?", d) is not None,
            "'auto', 'cpu' or 'cuda[:i]'",
        )

    def check_available(self, n_channels: int | None = None) -> str | None:
        """Also: ``device=cuda`` needs a visible CUDA GPU (checked before any data is loaded)."""
        import torch

        if str(self.device).startswith("cuda") and not torch.cuda.is_available():
            return f"device={self.device!r} was asked for but no CUDA GPU is visible here."
        return super().check_available(n_channels)

    def _batches(
        self,
        windows: NDArray[np.float32],
        order: NDArray[np.intp] | None = None,
        size: int | None = None,
        drop_last: bool = False,
    ) -> Any:
        import torch

        idx = np.arange(len(windows)) if order is None else order
        size = size or self.batch_size
        stop = len(idx) - len(idx) % size if drop_last and len(idx) >= size else len(idx)
        for lo in range(0, stop, size):
            chunk = np.ascontiguousarray(windows[idx[lo : lo + size]])
            yield torch.from_numpy(chunk).to(self.device_)

    def _fit(self, X: NDArray[np.float32]) -> None:
        import torch

        self.device_ = resolve_device(self.device)
        # random_state=None means what it means in scikit-learn: fresh randomness on each fit;
        # the seed drawn is kept (seed_), so that the fit can be repeated
        self.seed_ = draw_seed(self.random_state)
        torch.manual_seed(self.seed_)
        rng = np.random.default_rng(self.seed_)

        train, train_idx, val, val_idx = self._split(X)
        module = self._build_module(X.shape[1]).to(self.device_)
        optimizer = self._make_optimizer(module)
        best: tuple[Any, Any] | None = None  # the selected epoch's weights and extra state
        best_losses: list[float] | None = None
        bad_epochs = 0
        self.history_: list[dict[str, float]] = []
        self.best_epoch_: int | None = None
        size = self._train_batch_size()
        per_epoch = (
            len(train_idx) // size
            if self.drop_last and len(train_idx) >= size
            else -(-len(train_idx) // size)
        )
        progress = _Progress(type(self).__name__, self.n_epochs, per_epoch)
        try:
            for epoch in range(self.n_epochs):
                module.train()
                order = train_idx[rng.permutation(len(train_idx))] if self.shuffle else train_idx
                losses = []
                for batch in self._batches(train, order, size, self.drop_last):
                    losses.append(self._train_step(module, batch, optimizer))
                    progress.step()
                record = {"epoch": float(epoch), "train_loss": float(np.mean(losses))}
                if not np.isfinite(record["train_loss"]):
                    raise FloatingPointError(
                        f"{type(self).__name__}: the training loss became non-finite at epoch "
                        f"{epoch}; lower 'lr' or check the input scaling."
                    )
                self._end_epoch(epoch, optimizer)
                if val is not None:
                    module.eval()
                    with torch.no_grad():
                        per_batch = [
                            [float(v) for v in self._validation_losses(module, b)]
                            for b in self._batches(val, val_idx)
                        ]
                    vl = [float(v) for v in np.mean(per_batch, axis=0)]
                    record["val_loss"] = vl[0]
                    record.update({f"val_loss{i + 1}": v for i, v in enumerate(vl[1:], 1)})
                    # a checkpoint only when every validation loss improves (the official
                    # early stopping of the Anomaly Transformer; one loss: the usual rule)
                    if best_losses is None or all(
                        v < b for v, b in zip(vl, best_losses, strict=True)
                    ):
                        best_losses, bad_epochs, self.best_epoch_ = vl, 0, epoch
                        best = (
                            copy.deepcopy(module.state_dict()),
                            copy.deepcopy(self._checkpoint_state()),
                        )
                    else:
                        bad_epochs += 1
                self.history_.append(record)
                progress.advance(record)
                if self.patience and val is not None and bad_epochs >= self.patience:
                    break
        finally:
            progress.close()
        if best is not None:
            module.load_state_dict(best[0])
            self._restore_checkpoint_state(best[1])
        module.eval()
        self.module_ = module

    def _split(
        self, X: NDArray[np.float32]
    ) -> tuple[NDArray[np.float32], NDArray[np.intp], Any, NDArray[np.intp]]:
        """The training windows and which of them to train on, and the validation windows and
        which of them to validate on (None and empty without validation).

        ``validation_size`` is carved from the end of every series in ``train_segments_``
        (one, unless ``fit`` was told where the series of a concatenation start), so every
        series keeps its training windows; a series too short to give both a training and a
        validation window trains whole. Windows never cross from one part into another."""
        n_val_total = round(len(X) * self.validation_size)
        if not n_val_total:
            windows = self._training_windows(sliding_windows(X, self.window, self.stride))
            return windows, np.arange(len(windows)), None, np.arange(0)
        train_starts, val_starts = [], []
        v_stride = self.validation_stride or self.stride
        for a, cut, b in self._carve(len(X)):
            train_starts.append(np.arange(a, cut - self.window + 1, self.stride))
            val_starts.append(np.arange(cut, b - self.window + 1, v_stride))
        train_idx, val_idx = np.concatenate(train_starts), np.concatenate(val_starts)
        for part, idx, steps in (
            ("training", train_idx, len(X) - n_val_total),
            ("validation", val_idx, n_val_total),
        ):
            if not len(idx):
                raise ValueError(
                    f"{type(self).__name__}: validation_size={self.validation_size} of "
                    f"{len(X)} steps leaves {steps} {part} steps, fewer than one window "
                    f"({self.window})."
                )
        windows = self._training_windows(sliding_windows(X, self.window, 1))
        return windows, train_idx, windows, val_idx

    def _carve(self, n: int) -> list[tuple[int, int, int]]:
        """(start, cut, end) of every series in ``train_segments_``: rows ``[start, cut)`` train
        and ``[cut, end)`` validate (``cut == end``: a series of a concatenation too short to
        give both a training and a validation window trains whole)."""
        bounds = [*getattr(self, "train_segments_", (0,)), n]
        parts = []
        for a, b in pairwise(bounds):
            cut = b - round((b - a) * self.validation_size)
            if len(bounds) > 2 and (cut - a < self.window or b - cut < self.window):
                cut = b  # too short to split: all of it trains
            parts.append((a, cut, b))
        return parts

    def _window_values(
        self,
        X: NDArray[np.float32],
        stride: int,
        batch_fn: Callable[[torch.nn.Module, torch.Tensor], torch.Tensor],
    ) -> NDArray[np.float64]:
        """``batch_fn(module, batch)`` over every window of ``X`` at ``stride``, in eval mode
        without gradients, concatenated over the batches (float64, on the CPU)."""
        import torch

        windows = sliding_windows(X, self.window, stride)
        self.module_.eval()
        with torch.no_grad():
            parts = [batch_fn(self.module_, b).double().cpu() for b in self._batches(windows)]
        values: NDArray[np.float64] = torch.cat(parts).numpy()
        return values

    def _to_points(self, values: NDArray[np.float64], n: int) -> NDArray[np.float64]:
        return windows_to_points(
            values,
            n,
            self.window,
            self.score_stride,
            how=self.point_aggregation,  # type: ignore[arg-type]
        )

    def _score(self, X: NDArray[np.float32]) -> NDArray[np.float64]:
        values = self._window_values(X, self.score_stride, self._score_batch)
        return self._to_points(values, len(X))

    def _channel_batch(self, module: torch.nn.Module, batch: torch.Tensor) -> torch.Tensor:
        """Per-position, per-channel scores ``(B, window, n_channels)`` of a batch, for a
        detector whose tags declare ``root_cause``; mapped to points like the scores."""
        raise NotImplementedError(f"{type(self).__name__} gives no per-channel scores.")

    def _score_with_channels(self, X: NDArray[np.float32]) -> tuple[FloatArray, FloatArray]:
        channels = self._window_values(X, self.score_stride, self._channel_batch)
        return self._score(X), self._to_points(channels, len(X))

    def n_parameters(self) -> int | None:
        module = getattr(self, "module_", None)
        return None if module is None else int(sum(p.numel() for p in module.parameters()))

    def __getstate__(self) -> dict[str, Any]:
        # keep pickles device-free: a detector fit on a GPU unpickles on a CPU machine
        state = self.__dict__.copy()
        if "module_" in state:
            state["module_"] = copy.deepcopy(state["module_"]).cpu()
            state["device_"] = "cpu"
        return state


#: set (to ``lines``) for a sweep's jobs: training progress as one plain line per epoch on
#: stderr, which a sweep sends to the job's run.log
PROGRESS_ENV = "TSADBENCH_PROGRESS"


class _Progress:
    """Training progress: a rich bar on stderr when it is a terminal, advanced per batch (it
    moves within seconds, not once an epoch); one line per epoch when ``TSADBENCH_PROGRESS`` is
    ``lines`` (a sweep's job: its run.log); nothing otherwise."""

    def __init__(self, name: str, epochs: int, batches: int) -> None:
        self._bar: Any = None
        self._name, self._epochs = name, epochs
        self._lines = os.environ.get(PROGRESS_ENV) == "lines"
        self._t0 = time.perf_counter()
        if sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
            )

            self._bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("batches"),
                TimeRemainingColumn(),
                transient=True,
                console=Console(stderr=True),
            )
            self._bar.start()
            self._task = self._bar.add_task(f"{name} epoch 1/{epochs}", total=epochs * batches)

    def step(self) -> None:
        """One training batch done."""
        if self._bar is not None:
            self._bar.update(self._task, advance=1)

    def advance(self, record: dict[str, float]) -> None:
        """One epoch done (``record``: its losses)."""
        loss = record.get("val_loss", record["train_loss"])
        epoch = int(record["epoch"]) + 1
        if self._bar is not None:
            text = (
                f"{self._name} epoch {min(epoch + 1, self._epochs)}/{self._epochs} loss {loss:.4g}"
            )
            self._bar.update(self._task, description=text)
        if self._lines:
            print(
                f"{self._name} epoch {epoch}/{self._epochs}: loss {loss:.4g} "
                f"({time.perf_counter() - self._t0:.1f} s)",
                file=sys.stderr,
                flush=True,
            )

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
