"""Input checks shared by every metric."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray


def check_labels_scores(
    labels: Any, scores: Any, *, name: str, need_both_classes: bool = True
) -> tuple[NDArray[np.int8], NDArray[np.float64]]:
    """Return ``labels`` as int8 0/1 and ``scores`` as float64, or raise a clear ``ValueError``."""
    y = np.asarray(labels)
    s = np.asarray(scores, dtype=np.float64)
    if y.ndim != 1 or s.ndim != 1:
        raise ValueError(
            f"{name}: labels and scores must be 1-D. Got shapes {y.shape} and {s.shape}."
        )
    if y.shape != s.shape:
        raise ValueError(
            f"{name}: labels and scores must have the same length. "
            f"Got {y.shape[0]} labels and {s.shape[0]} scores."
        )
    if y.size == 0:
        raise ValueError(f"{name}: got empty labels and scores.")
    if not np.isin(y, (0, 1)).all():
        raise ValueError(f"{name}: labels must be binary (0 or 1). Got values {np.unique(y)[:5]}.")
    if not np.isfinite(s).all():
        raise ValueError(
            f"{name}: scores must be finite. Got {int((~np.isfinite(s)).sum())} NaN/inf value(s)."
        )
    y = y.astype(np.int8)
    if need_both_classes and (y.all() or not y.any()):
        which = "no anomaly" if not y.any() else "only anomalies"
        raise ValueError(f"{name} is undefined: the labels contain {which}.")
    return y, s


def check_predictions(predictions: Any, n: int, *, name: str) -> NDArray[np.bool_]:
    p = np.asarray(predictions)
    if p.shape != (n,):
        raise ValueError(f"{name}: expected {n} predictions. Got shape {p.shape}.")
    if not np.isin(p, (0, 1)).all():
        raise ValueError(f"{name}: predictions must be binary (0/1 or bool).")
    return p.astype(bool)
