"""Per-channel scalers, always fit on the train split and applied to train and test."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.floating]

SCALERS: tuple[str, ...] = ("zscore", "robust", "minmax", "minmax_pm1", "none")


def _safe(scale: FloatArray) -> FloatArray:
    # A channel that is constant on train carries no scale; leave it unscaled (as scikit-learn's
    # StandardScaler does) rather than divide by zero.
    return np.where(scale > 0, scale, 1.0)


def fit_scaler(kind: str, train: FloatArray) -> Callable[[FloatArray], NDArray[np.float32]]:
    """Fit the scaler ``kind`` on ``train`` (n_timestamps, n_channels); return the transform.

    ``zscore``: (x - mean) / std. ``robust``: (x - median) / IQR. ``minmax``: to [0, 1].
    ``minmax_pm1``: to [-1, 1] (TadGAN). ``none``: unchanged. Test values outside the train
    range are not clipped.
    """
    if kind not in SCALERS:
        raise ValueError(f"The 'scaler' setting must be one of {SCALERS}. Got {kind!r} instead.")
    x = np.asarray(train, dtype=np.float64)
    if kind == "zscore":
        shift, scale = x.mean(axis=0), _safe(x.std(axis=0))
        lo, span = 0.0, 1.0
    elif kind == "robust":
        q1, median, q3 = np.percentile(x, [25, 50, 75], axis=0)
        shift, scale = median, _safe(q3 - q1)
        lo, span = 0.0, 1.0
    elif kind in ("minmax", "minmax_pm1"):
        shift = x.min(axis=0)
        scale = _safe(x.max(axis=0) - shift)
        lo, span = (0.0, 1.0) if kind == "minmax" else (-1.0, 2.0)
    else:
        shift, scale, lo, span = np.zeros(x.shape[1]), np.ones(x.shape[1]), 0.0, 1.0

    def transform(data: FloatArray) -> NDArray[np.float32]:
        z = (np.asarray(data, dtype=np.float64) - shift) / scale
        out: NDArray[np.float32] = (z * span + lo).astype(np.float32)
        return out

    return transform
