"""Deterministic metric test cases shared by the golden-value generator and the tests.

Only numpy is used, so the generator can run in the reference packages' own environment
(``make goldens``). Each case records a sha256 of its arrays in the golden file; the tests check
it, so a change of numpy's random streams is caught instead of comparing different inputs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator

import numpy as np

Case = tuple[np.ndarray, np.ndarray]


def _labels(n: int, segments: list[tuple[int, int]]) -> np.ndarray:
    y = np.zeros(n, dtype=np.int64)
    for start, length in segments:
        y[start : start + length] = 1
    return y


def _spread(n: int, count: int, length: int, seed: int) -> list[tuple[int, int]]:
    """``count`` non-overlapping events of ``length`` points at seeded positions."""
    rng = np.random.default_rng(seed)
    slots = np.sort(rng.choice(n // (length * 3), size=count, replace=False))
    return [(int(s) * length * 3 + length, length) for s in slots]


LABELS: dict[str, Callable[[], np.ndarray]] = {
    "points_100": lambda: _labels(100, [(20, 1), (70, 1)]),
    "segments_1000": lambda: _labels(1000, [(100, 40), (400, 10), (800, 120)]),
    "first_last_500": lambda: _labels(500, [(0, 15), (200, 5), (490, 10)]),
    "last_point_300": lambda: _labels(300, [(50, 10), (299, 1)]),
    "close_2000": lambda: _labels(2000, [(500, 20), (540, 5), (560, 30), (1500, 3)]),
    "many_5000": lambda: _labels(5000, _spread(5000, 25, 12, seed=1)),
    "long_20000": lambda: _labels(20000, _spread(20000, 20, 100, seed=2)),
}


def _scores(kind: str, y: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = len(y)
    if kind == "random":
        return rng.uniform(size=n)
    if kind == "perfect":
        return y.astype(np.float64)
    if kind == "noisy":
        return y + rng.normal(0, 0.5, n)
    if kind == "constant":
        return np.full(n, 0.3)
    if kind == "tied":
        return np.round(y + rng.normal(0, 0.6, n), 1)
    if kind in ("early", "late"):  # a bump shortly before (after) each event, noise elsewhere
        s = rng.normal(0, 0.3, n)
        idx = np.flatnonzero(y)
        shift = -8 if kind == "early" else 8
        s[np.clip(idx + shift, 0, n - 1)] += 2.0
        return s
    raise ValueError(kind)


KINDS = ("random", "perfect", "noisy", "constant", "tied", "early", "late")


def cases() -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    """(name, labels, scores) for every labels pattern × score kind."""
    for i, (lname, make) in enumerate(LABELS.items()):
        y = make()
        for j, kind in enumerate(KINDS):
            yield f"{lname}/{kind}", y, _scores(kind, y, seed=100 * i + j)


def checksum(labels: np.ndarray, scores: np.ndarray) -> str:
    h = hashlib.sha256(np.ascontiguousarray(labels, dtype=np.int64).tobytes())
    h.update(np.ascontiguousarray(scores, dtype=np.float64).tobytes())
    return h.hexdigest()[:16]


def top_predictions(scores: np.ndarray, ratio: float = 0.05) -> np.ndarray:
    """Fixed 0/1 predictions for the threshold-dependent metrics: the top ``ratio`` of scores
    (ties included), at least one point."""
    t = np.sort(scores)[::-1][max(int(len(scores) * ratio) - 1, 0)]
    return (scores >= t).astype(np.int64)
