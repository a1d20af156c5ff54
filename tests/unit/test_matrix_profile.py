"""The Matrix Profile detector against a brute-force profile, the window it picks from the data,
and what it says without stumpy."""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest

from tsadbench.data.windows import dominant_period, windows_to_points
from tsadbench.registry import create_detector

rng = np.random.default_rng(0)
T = np.arange(400)
TRAIN = np.c_[np.sin(2 * np.pi * T / 25), np.cos(2 * np.pi * T / 25)] + 0.05 * rng.normal(
    size=(400, 2)
)
TEST = TRAIN[:200].copy()
TEST[120:126, 0] += 2.0  # a bump in channel 0


def _znorm_distance(a: np.ndarray, b: np.ndarray) -> float:
    za, zb = (a - a.mean()) / a.std(), (b - b.mean()) / b.std()
    return float(np.sqrt(((za - zb) ** 2).sum()))


def _profile(test: np.ndarray, m: int, train: np.ndarray | None) -> np.ndarray:
    """Each test subsequence's distance to its nearest neighbour, by brute force."""
    subs = [test[i : i + m] for i in range(len(test) - m + 1)]
    if train is None:  # self-join: trivial matches within ceil(m / 4) left out
        zone = math.ceil(m / 4)
        return np.array(
            [
                min(_znorm_distance(a, b) for j, b in enumerate(subs) if abs(i - j) > zone)
                for i, a in enumerate(subs)
            ]
        )
    others = [train[j : j + m] for j in range(len(train) - m + 1)]
    return np.array([min(_znorm_distance(a, b) for b in others) for a in subs])


@pytest.mark.parametrize("join", ["train", "self"])
def test_the_scores_are_the_mean_of_the_channels_profiles_spread_to_points(join):
    pytest.importorskip("stumpy")
    m = 12
    det = create_detector("matrix_profile", window=m, join=join).fit(TRAIN[:150])
    got = det.score(TEST[:80])
    train = None if join == "self" else TRAIN[:150]
    profile = np.mean(
        [_profile(TEST[:80, c], m, None if train is None else train[:, c]) for c in range(2)],
        axis=0,
    )
    np.testing.assert_allclose(got, windows_to_points(profile, 80, m, 1, how="mean"), atol=1e-6)


def test_the_bump_scores_highest_and_auto_takes_the_period_and_records_it():
    pytest.importorskip("stumpy")
    det = create_detector("matrix_profile").fit(TRAIN)
    assert det.window_ == 25 and det.provenance() == {"window": 25}
    scores = det.score(TEST)
    assert 100 <= int(np.argmax(scores)) <= 145
    assert create_detector("matrix_profile", window=20).fit(TRAIN).provenance() == {}


def test_mstump_is_the_joint_profile_and_needs_the_self_join():
    stumpy = pytest.importorskip("stumpy")
    det = create_detector("matrix_profile", window=12, join="self", multivariate="mstump")
    got = det.fit(TRAIN).score(TEST)
    profile = stumpy.mstump(TEST.T.astype(np.float64), 12, discords=True)[0][-1]
    np.testing.assert_allclose(
        got, windows_to_points(profile, len(TEST), 12, 1, how="mean"), atol=1e-6
    )
    with pytest.raises(ValueError, match=r"'join' parameter of .* must be 'self' with"):
        create_detector("matrix_profile", multivariate="mstump").check_params()


def test_dominant_period():
    t = np.arange(3000)
    assert dominant_period(np.sin(2 * np.pi * t / 48)) == 48
    noise = np.random.default_rng(1).normal(size=3000)
    assert dominant_period(noise) == 100  # no period: the default
    assert dominant_period(noise, default=7) == 7
    both = np.c_[np.sin(2 * np.pi * t / 30), np.ones(3000), np.sin(2 * np.pi * t / 34), noise]
    assert dominant_period(both) == 32  # the median of 30 and 34; constant and noise left out
    assert dominant_period(np.sin(2 * np.pi * t / 48), longest=40) == 100  # beyond the search
    assert dominant_period(np.sin(2 * np.pi * t[:10] / 4)) == 4
    assert dominant_period(np.sin(2 * np.pi * t[:6] / 4)) == 100  # too short to tell


def test_without_stumpy_it_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "stumpy", None)
    det = create_detector("matrix_profile")
    assert "pip install 'tsadbench[stumpy]'" in (det.check_available() or "")
    with pytest.raises(ImportError, match=r"tsadbench\[stumpy\]"):
        det.fit(TRAIN)
