"""The one place that cuts series into windows and maps window values back to points.

Conventions
-----------
Windows start at ``0, stride, 2*stride, ...`` while they fit: window ``i`` covers the points
``[i*stride, i*stride + window)``. A series shorter than one window raises ``ValueError``.

``windows_to_points`` takes either one value per window, shape ``(n_windows,)``, or one value per
window position, shape ``(n_windows, window, ...)`` (per-position reconstructions, errors, or
per-channel errors with a trailing channel axis). A per-window value belongs to every point its
window covers. Each point then aggregates the values it received:

``mean`` / ``max`` / ``median``
    over all windows that cover the point;
``last``
    the value from the window in which the point sits at the latest position, i.e. where the
    model had seen the most context before it. With stride 1 and per-window values this is the
    window that ends at the point (forecasting semantics); the first ``window - 1`` points, which
    end no window, take the value of the first window.
``kde_mode`` (per-window values only)
    Orion's critic mapping (TadGAN): among the values of the windows covering the point, the one
    where their Gaussian kernel density (scipy's ``gaussian_kde`` with its default Scott
    bandwidth) is highest, the first among equals in the order of the latest window first; the
    median where the density is degenerate (one window, or all values equal). Computed for all
    points in batched arrays, equal to one scipy fit per point.

Points no window covers (the tail when ``(n - window) % stride != 0``, and the gaps between
windows when ``stride > window``) take the value of the nearest covered point before them, so
every point gets a finite value. Point 0 is always covered.

``dominant_period`` picks a window from the data (a detector's ``window="auto"``): the series'
dominant period from its autocorrelation, as TSB-AD sizes its windowed methods.
"""

from __future__ import annotations

from typing import Literal, TypeVar

import numpy as np
from numpy.typing import NDArray

from tsadbench.checks import is_int

Aggregation = Literal["mean", "max", "median", "last", "kde_mode"]
AGGREGATIONS: tuple[str, ...] = ("mean", "max", "median", "last", "kde_mode")


def _check_window(n: int, window: int, stride: int) -> None:
    if not is_int(window) or window < 1:
        raise ValueError(f"The 'window' parameter must be an int >= 1. Got {window!r} instead.")
    if not is_int(stride) or stride < 1:
        raise ValueError(f"The 'stride' parameter must be an int >= 1. Got {stride!r} instead.")
    if n < window:
        raise ValueError(
            f"The series has {n} time steps, fewer than one window of {window}; "
            f"use a smaller 'window' or a longer series."
        )


def n_windows(n: int, window: int, stride: int = 1) -> int:
    """Number of windows of length ``window`` cut from ``n`` points with ``stride``."""
    _check_window(n, window, stride)
    return (n - window) // stride + 1


Scalar = TypeVar("Scalar", bound=np.generic)


def sliding_windows(x: NDArray[Scalar], window: int, stride: int = 1) -> NDArray[Scalar]:
    """Read-only strided view of the windows of ``x``, without copying.

    Parameters
    ----------
    x : ndarray of shape (n_timestamps, ...)
    window, stride : int

    Returns
    -------
    ndarray of shape (n_windows, window, ...)
        A view into ``x``; copy it (``np.ascontiguousarray``) before writing.
    """
    x = np.asarray(x)
    if x.ndim < 1:
        raise ValueError(f"sliding_windows expects an array with a time axis. Got shape {x.shape}.")
    count = n_windows(x.shape[0], window, stride)
    shape = (count, window, *x.shape[1:])
    strides = (x.strides[0] * stride, *x.strides)
    view: NDArray[Scalar] = np.lib.stride_tricks.as_strided(
        x, shape=shape, strides=strides, writeable=False
    )
    return view


def windows_to_points(
    values: NDArray[np.generic],
    n: int,
    window: int,
    stride: int = 1,
    how: Aggregation = "mean",
) -> NDArray[np.float64]:
    """Map window values back to one value per time point.

    Parameters
    ----------
    values : ndarray of shape (n_windows,) or (n_windows, window, ...)
        One value per window, or one per window position (optionally with trailing axes).
    n : int
        Length of the series the windows were cut from.
    window, stride : int
        As given to :func:`sliding_windows`.
    how : {"mean", "max", "median", "last"}
        How a point aggregates the values of the windows covering it (see module docstring).

    Returns
    -------
    ndarray of shape (n,) or (n, ...)
        float64; trailing axes of per-position ``values`` are kept.
    """
    if how not in AGGREGATIONS:
        raise ValueError(f"The 'how' parameter must be one of {AGGREGATIONS}. Got {how!r}.")
    count = n_windows(n, window, stride)
    arr: Floats = np.asarray(values, dtype=np.float64)
    if arr.ndim == 0 or arr.shape[0] != count:
        raise ValueError(
            f"Expected {count} window values for n={n}, window={window}, stride={stride}; "
            f"got an array of shape {arr.shape}."
        )
    if how == "kde_mode":
        if arr.ndim != 1:
            raise ValueError(
                f"'kde_mode' maps one value per window; got values of shape {arr.shape}."
            )
        return _kde_mode(arr, n, window, stride)
    if arr.ndim == 1:
        arr = np.broadcast_to(arr[:, None], (count, window))
    elif arr.shape[1] != window:
        raise ValueError(
            f"Per-position values must have shape (n_windows, window, ...) = "
            f"({count}, {window}, ...); got {arr.shape}."
        )
    starts = np.arange(count) * stride
    hits = np.zeros(n, dtype=np.intp)
    for j in range(window):
        hits[starts + j] += 1  # indices are unique within one position j
    out = _AGGREGATE[how](arr, starts, hits)

    if not hits.all():  # gaps (stride > window) and the tail: copy the last covered value
        source = np.maximum.accumulate(np.where(hits > 0, np.arange(n), 0))
        out = out[source]
    return out


Floats = NDArray[np.float64]
Ints = NDArray[np.intp]


def _median(values: Floats, starts: Ints, hits: Ints) -> Floats:
    """Each point's median over the windows covering it (NaN-padded stack, one slot per hit)."""
    n, window, rest = len(hits), values.shape[1], values.shape[2:]
    stack = np.full((n, int(hits.max()), *rest), np.nan)
    slot = np.zeros(n, dtype=np.intp)
    for j in range(window):
        idx = starts + j
        stack[idx, slot[idx]] = values[:, j]
        slot[idx] += 1
    out = np.zeros((n, *rest))
    covered = hits > 0
    out[covered] = np.nanmedian(stack[covered], axis=1)
    return out


def _mean(values: Floats, starts: Ints, hits: Ints) -> Floats:
    n, window, rest = len(hits), values.shape[1], values.shape[2:]
    out = np.zeros((n, *rest))
    for j in range(window):
        out[starts + j] += values[:, j]
    out /= np.maximum(hits, 1).reshape(-1, *([1] * len(rest)))
    return out


def _max(values: Floats, starts: Ints, hits: Ints) -> Floats:
    n, window, rest = len(hits), values.shape[1], values.shape[2:]
    out = np.full((n, *rest), -np.inf)
    for j in range(window):
        idx = starts + j
        out[idx] = np.maximum(out[idx], values[:, j])
    return out


def _last(values: Floats, starts: Ints, hits: Ints) -> Floats:
    """Later positions overwrite earlier ones."""
    n, window, rest = len(hits), values.shape[1], values.shape[2:]
    out = np.zeros((n, *rest))
    for j in range(window):
        out[starts + j] = values[:, j]
    return out


_AGGREGATE = {"median": _median, "mean": _mean, "max": _max, "last": _last}


def _kde_mode(values: NDArray[np.float64], n: int, window: int, stride: int) -> NDArray[np.float64]:
    """The ``kde_mode`` mapping, in chunks of points: for each, the covering windows' values
    (latest window first), a Gaussian density with Scott's bandwidth evaluated at each of them,
    the value where it peaks."""
    count = len(values)
    i = np.arange(n)
    hi = np.minimum(count - 1, i // stride)  # the latest window covering i
    lo = np.maximum(0, -((window - 1 - i) // stride))  # ceil((i - window + 1) / stride)
    m = np.maximum(hi - lo + 1, 0)
    out = np.zeros(n)
    width = int(m.max())
    k = np.arange(width)
    chunk = max(1, 2_000_000 // max(width * width, 1))
    for a in range(0, n, chunk):
        b = min(n, a + chunk)
        mm = m[a:b]
        valid = k[None, :] < mm[:, None]
        v = values[np.clip(hi[a:b, None] - k[None, :], 0, count - 1)]
        v = np.where(valid, v, np.nan)
        mean = np.nanmean(v, axis=1, keepdims=True) if width else v
        with np.errstate(invalid="ignore", divide="ignore"):
            var = np.nansum((v - mean) ** 2, axis=1) / (mm - 1)
            bw2 = var * mm ** (-2.0 / 5.0)  # Scott's factor squared times the covariance
            d2 = (v[:, :, None] - v[:, None, :]) ** 2
            dens = np.nansum(np.exp(-d2 / (2 * bw2[:, None, None])), axis=2)
        dens = np.where(valid, dens, -np.inf)
        pick = np.take_along_axis(v, np.argmax(dens, axis=1)[:, None], axis=1)[:, 0]
        degenerate = (mm <= 1) | ~(var > 0)
        median = np.nanmedian(np.where(valid, v, np.nan), axis=1) if width else pick
        out[a:b] = np.where(degenerate, median, pick)
    covered = m > 0
    if not covered.all():  # gaps and the tail: the last covered value, as for the others
        source = np.maximum.accumulate(np.where(covered, np.arange(n), 0))
        out = out[source]
    return out


def dominant_period(
    x: NDArray[np.floating], *, shortest: int = 3, longest: int = 400, default: int = 100
) -> int:
    """The dominant period of the series ``x`` (n,) or (n, channels), in time steps.

    Per channel (its first 20,000 points, z-scored; constant channels left out): the lag, between
    ``shortest`` and ``min(longest, n // 2)``, of the highest local maximum of the
    autocorrelation (computed by FFT) where that maximum is above 0.1; the median over the
    channels that have one, rounded. ``default`` where none has (no periodic structure). TSB-AD
    sizes its windowed detectors the same way (the highest autocorrelation peak up to lag 400,
    125 without one) on the first channel; this looks at all of them.
    """
    data = np.asarray(x, dtype=np.float64)
    data = data.reshape(len(data), -1)[:20_000]
    n = len(data)
    top = min(longest, n // 2)
    periods = []
    for column in data.T:
        sd = column.std()
        if top <= shortest or not np.isfinite(sd) or sd == 0:
            continue
        z = (column - column.mean()) / sd
        spectrum = np.fft.rfft(z, 2 * n)
        acf = np.fft.irfft(spectrum * np.conj(spectrum))[: top + 2] / n
        lags = np.arange(shortest, top + 1)
        peak = (acf[lags] > acf[lags - 1]) & (acf[lags] >= acf[lags + 1]) & (acf[lags] > 0.1)
        if peak.any():
            candidates = lags[peak]
            periods.append(int(candidates[np.argmax(acf[candidates])]))
    return round(float(np.median(periods))) if periods else default
