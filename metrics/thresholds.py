"""Threshold protocols: how a threshold-dependent metric turns scores into predictions.

Every value of a threshold-dependent metric carries its protocol's name, ``<metric>@<protocol>``
(ARCHITECTURE.md). Label-free protocols compute one threshold from the scores and predict
``score > threshold``; ``oracle`` searches the threshold on the test labels.

``oracle``
    The threshold that maximises the metric's F1 on the test labels, searched exactly over every
    distinct score value (``score >= t``) in O(n log n). Precision / recall companions report
    their value at the F1-optimal threshold. It uses the labels it is scored on: an upper bound,
    never a deployable number, and labelled ``oracle`` wherever it appears.
``train_quantile(q=0.99)``
    The q-quantile of the detector's scores on the train split: needs neither test labels nor
    test scores.
``test_ratio(r=1.0)``
    Flags the top ``r`` percent of the test scores (VAN-AD's protocol). Label-free, but it reads
    the test distribution and assumes the anomaly ratio: named so.
``train_test_ratio(r=1.0, compat=None)``
    The Anomaly Transformer's protocol: the (100 − r)-th percentile of the train and test scores
    pooled (one score per train point). It reads the test distribution and assumes the anomaly
    ratio (official ratios: SMD 0.5, MSL, SMAP, PSM 1): named so. ``compat="anomaly_transformer"``
    pools what the official code pools instead of the train scores: the energy of every
    position of every training window (``window_energies`` of ``anomaly_transformer`` and
    ``amad``; about 5.8 million values on MSL at stride 1 against 73,729 test values), which is
    what its published numbers rest on.
``pot_train(q=1e-3, level=0.98)``
    Peaks over threshold (Siffer et al., KDD 2017) on the train scores alone: a generalised
    Pareto tail fitted above their ``level``-quantile, the threshold its ``q`` extreme
    quantile. Needs neither test labels nor test scores.
``pot(q=1e-3, level=0.98)``
    OmniAnomaly's procedure: SPOT initialised on the train scores, run over the test scores
    (refitting the tail as scores join it), the mean of its thresholds. It reads the test
    distribution: named so, apart from ``pot_train``.
``fixed(t)``
    A threshold given by the user.
``orion_window(window=0.33, step=0.1, k=4.0, padding=50, min_percent=0.13)``
    Orion's ``find_anomalies`` as its TadGAN pipelines call it: windows over ``window`` of the
    test scores, moved by ``step`` of a window; in each, the points above mean + k·std, padded
    by ``padding`` points each side, make sequences, pruned like Hundman et al. (a sequence is
    kept only while its maximum stands ``min_percent`` above the next one, the largest
    non-flagged score included); the sequences of all windows merged. It predicts intervals,
    not one threshold (points inside them are predicted anomalous; merged intervals never
    touch, so their runs are the intervals). Label-free, but it reads the test distribution:
    named so.

POT fit: the maximum-likelihood generalised Pareto distribution found with Grimshaw's
reduction to one variable, maximised over its whole feasible range (with the exponential
tail, γ = 0, as a candidate). SPOT's reference code finds roots of the same equation from ten
starting points and keeps the best; both are the MLE when the search finds it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from tsadbench.checks import is_int, is_number

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class Protocol:
    """A threshold protocol: its function and what it reads. ``fn`` gives one threshold
    (predictions: ``score > threshold``); ``predict`` gives the predictions themselves."""

    name: str
    fn: Callable[..., float] | None  # (test_scores, train_scores, **params) -> threshold
    defaults: dict[str, Any]
    uses_labels: bool = False
    uses_test_scores: bool = False
    uses_train_scores: bool = False
    description: str = ""
    predict: Callable[..., NDArray[np.bool_]] | None = None  # (test, train, **params) -> bool


def _check_unit(name: str, value: Any, lo: float, hi: float) -> float:
    if not is_number(value) or not lo <= value <= hi:
        raise ValueError(f"The '{name}' parameter must be a number in [{lo}, {hi}]. Got {value!r}.")
    return float(value)


def _need_train(train: FloatArray | None, protocol: str) -> FloatArray:
    if train is None or len(train) == 0:
        raise ValueError(f"The threshold protocol {protocol!r} needs the train scores; none given.")
    if not np.isfinite(train).all():
        raise ValueError(f"The threshold protocol {protocol!r} got non-finite train scores.")
    return train


def train_quantile(test: FloatArray, train: FloatArray | None, *, q: float = 0.99) -> float:
    q = _check_unit("q", q, 0.0, 1.0)
    return float(np.quantile(_need_train(train, "train_quantile"), q))


def test_ratio(test: FloatArray, train: FloatArray | None, *, r: float = 1.0) -> float:
    r = _check_unit("r", r, 0.0, 100.0)
    return float(np.percentile(test, 100.0 - r))


TRAIN_TEST_COMPATS = (None, "anomaly_transformer")


def train_test_ratio(
    test: FloatArray, train: FloatArray | None, *, r: float = 1.0, compat: str | None = None
) -> float:
    """The (100 − r)-th percentile of ``train`` and ``test`` pooled; with
    ``compat="anomaly_transformer"`` the caller passes the detector's window energies as
    ``train`` (``metrics.compute`` does)."""
    r = _check_unit("r", r, 0.0, 100.0)
    check_compat(compat, TRAIN_TEST_COMPATS)
    pooled = np.concatenate([_need_train(train, "train_test_ratio"), test])
    return float(np.percentile(pooled, 100.0 - r))


def _neg_ll_grid(grid: FloatArray, y: FloatArray) -> FloatArray:
    """Grimshaw's profile negative log-likelihood (per peak) at every x of ``grid`` at once."""
    out = np.empty(len(grid))
    step = max(1, 2_000_000 // max(len(y), 1))  # bound the (grid × peaks) block in memory
    for lo in range(0, len(grid), step):
        x = grid[lo : lo + step]
        with np.errstate(divide="ignore", invalid="ignore"):
            gamma = np.log1p(np.outer(x, y)).mean(axis=1)
            sigma = gamma / x
            nll = np.where(sigma > 0, np.log(np.where(sigma > 0, sigma, 1.0)) + gamma + 1, np.inf)
        out[lo : lo + step] = np.where(np.abs(x) < 1e-12, np.log(y.mean()) + 1, nll)
    return out


def gpd_fit(peaks: FloatArray) -> tuple[float, float]:
    """Maximum-likelihood (gamma, sigma) of a generalised Pareto law for ``peaks`` > 0.

    Grimshaw (1993): with x = gamma / sigma, gamma(x) = mean(log(1 + x·Y)), sigma = gamma / x
    and the log-likelihood is -N (log sigma + gamma + 1), a function of x alone on
    x > -1 / max(Y); x = 0 is the exponential law (gamma = 0, sigma = mean(Y)).
    """
    from scipy.optimize import minimize_scalar

    y = np.asarray(peaks, dtype=np.float64)
    y_max, y_mean = float(y.max()), float(y.mean())

    def neg_ll(x: float) -> float:
        if abs(x) < 1e-12:
            return float(np.log(y_mean) + 1)
        gamma = float(np.mean(np.log1p(x * y)))
        sigma = gamma / x
        return float(np.log(sigma) + gamma + 1) if sigma > 0 else np.inf

    lo = -1.0 / y_max * (1 - 1e-9)
    # Grimshaw's upper bound on the root, 2 (mean - min) / min^2, capped for tiny minima
    hi = min(2 * (y_mean - y.min()) / max(y.min(), 1e-12 * y_mean) ** 2, 1e6 / y_mean)
    hi = max(hi, 10.0 / y_mean)
    # coarse grid over the feasible range, then a bounded refinement around the best point
    grid = np.r_[lo * (1 - np.geomspace(1e-6, 1, 80)), 0.0, np.geomspace(1e-6 / y_mean, hi, 160)]
    values = _neg_ll_grid(grid, y)
    i = int(np.argmin(values))
    a, b = grid[max(i - 1, 0)], grid[min(i + 1, len(grid) - 1)]
    best = grid[i]
    if b > a:
        res = minimize_scalar(
            neg_ll,
            bounds=(min(a, b), max(a, b)),
            method="bounded",
            options={"xatol": 1e-12 * max(1.0, abs(best))},
        )
        if res.fun < values[i]:
            best = float(res.x)
    if abs(best) < 1e-12:
        return 0.0, y_mean
    gamma = float(np.mean(np.log1p(best * y)))
    return gamma, gamma / best


def _pot_init(
    train: FloatArray | None, protocol: str, q: float, level: float
) -> tuple[float, FloatArray, int]:
    """SPOT's initialisation on the train scores: (initial threshold, peaks over it, count)."""
    scores = np.sort(_need_train(train, protocol))
    _check_unit("q", q, 0.0, 1.0)
    _check_unit("level", level, 0.0, 1.0)
    init = float(scores[min(int(level * len(scores)), len(scores) - 1)])
    peaks = scores[scores > init] - init
    if len(peaks) < 10:
        raise ValueError(
            f"The threshold protocol {protocol!r} needs at least 10 train scores above their "
            f"{level}-quantile to fit the tail; got {len(peaks)}. Lower 'level' or use more "
            f"train data."
        )
    return init, peaks, len(scores)


def _extreme_quantile(init: float, peaks: FloatArray, n: int, q: float) -> float:
    gamma, sigma = gpd_fit(peaks)
    r = q * n / len(peaks)
    if gamma == 0:
        return init - sigma * float(np.log(r))
    result: float = init + sigma / gamma * (r ** (-gamma) - 1)
    return result


def pot(
    test: FloatArray, train: FloatArray | None, *, q: float = 1e-3, level: float = 0.98
) -> float:
    """OmniAnomaly's POT protocol: SPOT (Siffer et al.) initialised on the train scores, run
    over the test scores (a score above the current threshold is an alarm and leaves the tail
    alone; one between the initial threshold and it joins the tail, which is refitted), and the
    mean of the thresholds it went through."""
    init, peaks, n = _pot_init(train, "pot", q, level)
    tail = list(peaks)
    z = _extreme_quantile(init, peaks, n, q)
    total = 0.0
    for x in np.asarray(test, dtype=np.float64):
        if x > z:
            pass  # an alarm
        elif x > init:
            tail.append(x - init)
            n += 1
            z = _extreme_quantile(init, np.asarray(tail), n, q)
        else:
            n += 1
        total += z
    return total / len(test)


def pot_train(
    test: FloatArray, train: FloatArray | None, *, q: float = 1e-3, level: float = 0.98
) -> float:
    init, peaks, n = _pot_init(train, "pot_train", q, level)
    return _extreme_quantile(init, peaks, n, q)


def fixed(test: FloatArray, train: FloatArray | None, *, t: float | None = None) -> float:
    if not is_number(t) or not np.isfinite(t):
        raise ValueError(
            f"The threshold protocol 'fixed' needs a finite 't', e.g. fixed(t=0.5). Got {t!r}."
        )
    return float(t)


def _dilate(mask: NDArray[np.bool_], radius: int) -> NDArray[np.bool_]:
    """``mask`` with every True spread ``radius`` points each way."""
    if radius <= 0 or not mask.any():
        unchanged: NDArray[np.bool_] = mask.copy()
        return unchanged
    c = np.concatenate([[0], np.cumsum(mask)])
    n = len(mask)
    idx = np.arange(n)
    lo, hi = np.maximum(idx - radius, 0), np.minimum(idx + radius + 1, n)
    result: NDArray[np.bool_] = (c[hi] - c[lo]) > 0
    return result


def _window_sequences(
    window: FloatArray, k: float, padding: int, min_percent: float
) -> list[tuple[int, int]]:
    """Orion's sequences inside one window: flagged, padded, pruned (indices in the window,
    ``stop`` inclusive)."""
    threshold = window.mean() + k * window.std()
    above = _dilate(window > threshold, padding)
    max_below = float(window[~above].max()) if not above.all() else 0.0
    edges = np.diff(np.r_[0, above.astype(np.int8), 0])
    starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1
    if len(starts) == 0:
        return []
    maxima = np.array([window[a : b + 1].max() for a, b in zip(starts, stops, strict=True)])
    # sort the sequence maxima with the largest unflagged score, descending (a stable sort,
    # the unflagged entry first among equals, as Orion's DataFrame sort keeps it)
    values = np.r_[max_below, maxima]
    order = np.argsort(-values, kind="stable")
    ranked = values[order]
    with np.errstate(divide="ignore", invalid="ignore"):
        increase = (ranked[:-1] - ranked[1:]) / ranked[:-1]
    keep = np.flatnonzero(~(increase < min_percent))  # NaN (0 / 0) is not "too small"
    last = int(keep[-1]) if len(keep) else -1
    kept = [int(i) - 1 for i in order[: last + 1] if i > 0]  # drop the unflagged entry
    return [(int(starts[i]), int(stops[i])) for i in kept]


def orion_window(
    test: FloatArray,
    train: FloatArray | None,
    *,
    window: float = 0.33,
    step: float = 0.1,
    k: float = 4.0,
    padding: int = 50,
    min_percent: float = 0.13,
) -> NDArray[np.bool_]:
    """Orion's ``find_anomalies`` (fixed threshold) as predictions; see the module docstring."""
    window = _check_unit("window", window, 1e-9, 1.0)
    step = _check_unit("step", step, 1e-9, 1.0)
    if not is_int(padding) or padding < 0:
        raise ValueError(f"The 'padding' parameter must be an int >= 0. Got {padding!r}.")
    n = len(test)
    size = int(np.ceil(n * window))
    stride = int(np.ceil(size * step))
    spans: list[tuple[int, int]] = []
    start, end = 0, 0
    while end < n:  # Orion's loop: the last window may run past the end (it is cut there)
        end = start + size
        spans += [
            (a + start, b + start)
            for a, b in _window_sequences(test[start:end], float(k), padding, float(min_percent))
        ]
        start += stride
    predicted = np.zeros(n, dtype=bool)
    for a, b in spans:  # merging overlapping or consecutive sequences = their union
        predicted[a : b + 1] = True
    return predicted


PROTOCOLS: dict[str, Protocol] = {
    p.name: p
    for p in (
        Protocol(
            "oracle",
            None,
            {},
            uses_labels=True,
            uses_test_scores=True,
            description="best F1 on the test labels (an upper bound)",
        ),
        Protocol(
            "train_quantile",
            train_quantile,
            {"q": 0.99},
            uses_train_scores=True,
            description="q-quantile of the train scores",
        ),
        Protocol(
            "test_ratio",
            test_ratio,
            {"r": 1.0},
            uses_test_scores=True,
            description="top r percent of the test scores",
        ),
        Protocol(
            "train_test_ratio",
            train_test_ratio,
            {"r": 1.0, "compat": None},
            uses_train_scores=True,
            uses_test_scores=True,
            description="(100 - r)-th percentile of the train and test scores pooled "
            "(the Anomaly Transformer's)",
        ),
        Protocol(
            "pot_train",
            pot_train,
            {"q": 1e-3, "level": 0.98},
            uses_train_scores=True,
            description="peaks-over-threshold extreme quantile of the train scores",
        ),
        Protocol(
            "pot",
            pot,
            {"q": 1e-3, "level": 0.98},
            uses_train_scores=True,
            uses_test_scores=True,
            description="SPOT from the train scores run over the test scores (OmniAnomaly)",
        ),
        Protocol("fixed", fixed, {"t": None}, description="a given threshold t"),
        Protocol(
            "orion_window",
            None,
            {"window": 0.33, "step": 0.1, "k": 4.0, "padding": 50, "min_percent": 0.13},
            uses_test_scores=True,
            description="Orion's sliding-window mean + 4 std, padded and pruned intervals",
            predict=orion_window,
        ),
    )
}


def threshold(protocol: str, test: FloatArray, train: FloatArray | None, **params: Any) -> float:
    """The threshold of a label-free ``protocol``; predictions are ``test > threshold``."""
    p = PROTOCOLS[protocol]
    if p.fn is None:
        raise ValueError(
            f"The protocol {protocol!r} searches a threshold per metric or predicts intervals; "
            f"it has no threshold of its own."
        )
    return p.fn(test, train, **params)


def predictions(
    protocol: str, test: FloatArray, train: FloatArray | None, **params: Any
) -> NDArray[np.bool_]:
    """The predictions of a label-free ``protocol``: its own, or ``test > threshold``."""
    p = PROTOCOLS[protocol]
    if p.predict is not None:
        return p.predict(test, train, **params)
    return test > threshold(protocol, test, train, **params)


# the exact oracle search --------------------------------------------------------------------
def f1_from_counts(tp: FloatArray, fp: FloatArray, n_pos: float) -> FloatArray:
    """Exact F1 = 2TP / (2TP + FP + FN); 0 where there is nothing to count."""
    denom = 2 * tp + fp + (n_pos - tp)
    return np.divide(2 * tp, denom, out=np.zeros_like(denom, dtype=np.float64), where=denom > 0)


def sweep(values: FloatArray, *weights: FloatArray) -> tuple[FloatArray, list[FloatArray]]:
    """Cumulative sums of ``weights`` over ``values`` in descending order, one row per distinct
    value: row j holds the sums over every item with ``value >= thresholds[j]``."""
    order = np.argsort(-values, kind="stable")
    v = values[order]
    last_of_tie = np.r_[v[1:] != v[:-1], True]  # a threshold takes every tied value at once
    sums = [np.cumsum(w[order])[last_of_tie] for w in weights]
    return v[last_of_tie], sums


def best_f1_threshold(anomalous: FloatArray, normal: FloatArray) -> tuple[float, float]:
    """Best F1 over every threshold when anomalous point i counts as detected once the threshold
    reaches ``anomalous[i]`` (its effective score) and normal point j is a false positive once it
    reaches ``normal[j]``. Returns ``(f1, threshold)``; exact, O(n log n)."""
    values = np.r_[anomalous, normal]
    is_pos = np.r_[np.ones(len(anomalous)), np.zeros(len(normal))]
    thresholds, (tp, fp) = sweep(values, is_pos, 1.0 - is_pos)
    f1 = f1_from_counts(tp, fp, float(len(anomalous)))
    i = int(np.argmax(f1))
    return float(f1[i]), float(thresholds[i])


def first_flagged(seq: FloatArray, thresholds: FloatArray, strict: bool) -> NDArray[np.intp]:
    """For each threshold, the index of the first item of ``seq`` flagged (``>= t``; ``> t``
    when ``strict``), ``len(seq)`` where none is: one pass over ``seq`` for every threshold."""
    reached = np.maximum.accumulate(seq)
    return np.searchsorted(reached, thresholds, side="right" if strict else "left")


def flagged_run(seq: FloatArray, thresholds: FloatArray, strict: bool) -> NDArray[np.intp]:
    """For each threshold, how many items at the start of ``seq`` are flagged in a row."""
    if len(seq) == 0:
        return np.zeros(len(thresholds), dtype=np.intp)
    lowest = -np.minimum.accumulate(seq)  # non-decreasing; item k ends the run when lowest > -t
    return np.searchsorted(lowest, -thresholds, side="left" if strict else "right")


# compatibility with TSB-AD's conventions ----------------------------------------------------
COMPATS = (None, "tsbad")


def check_compat(compat: Any, allowed: tuple[str | None, ...] = COMPATS) -> str | None:
    if compat not in allowed:
        raise ValueError(f"The 'compat' parameter must be one of {allowed}. Got {compat!r}.")
    return compat  # type: ignore[no-any-return]


def tsbad_grid(
    scores: FloatArray,
    metric: Callable[[NDArray[np.bool_]], float] | None = None,
    *,
    curve: Callable[[FloatArray, bool], FloatArray] | None = None,
) -> tuple[float, float]:
    """TSB-AD's threshold search: 100 value-uniform thresholds from the minimum to the maximum
    score, predicting ``score > t``; undefined (NaN) values are passed over, as Python's
    ``max`` does there. Not rank-invariant: one outlier score squeezes every other threshold
    together (``metrics.md`` §2.4). ``metric`` takes one prediction, or ``curve(thresholds,
    strict)`` gives the values at every threshold at once. Returns ``(value, threshold)``."""
    grid = np.linspace(scores.min(), scores.max(), 100)
    if curve is not None:
        values = np.asarray(curve(grid, True), dtype=np.float64)
    else:
        assert metric is not None
        values = np.array([metric(scores > t) for t in grid], dtype=np.float64)
    if np.isnan(values).all():
        raise ValueError("undefined at every threshold of TSB-AD's grid (constant scores?)")
    i = int(np.nanargmax(values))
    return float(values[i]), float(grid[i])
