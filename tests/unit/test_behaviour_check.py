"""tsadbench.testing.check_detector fails a detector that does not detect, whose direction is
flipped or whose scores are off by a window, and passes a good one."""

from __future__ import annotations

import numpy as np
import pytest

from tsadbench.detectors.baselines import WindowPCA
from tsadbench.testing import MIN_MARGIN, check_detector, shift_scores

PARAMS = {"window": 16}


class Flipped(WindowPCA):
    """PCA whose scores lost their sign: lower = more anomalous."""

    def _score(self, X):
        return -super()._score(X)


class OffByAWindow(WindowPCA):
    """PCA whose window scores land one window later than the points they describe."""

    def _score(self, X):
        return shift_scores(super()._score(X), self.window)


class Noise(WindowPCA):
    """Fits, then scores at random: detects nothing."""

    def _score(self, X):
        return np.random.default_rng(3).uniform(size=len(X))


def test_a_good_detector_passes_with_its_numbers():
    found = check_detector(WindowPCA, PARAMS)
    assert found.problems == [] and found.margin >= MIN_MARGIN
    assert found.detector == "WindowPCA" and found.shift == 16
    assert "margin" in found.summary()


@pytest.mark.parametrize(
    ("cls", "problem"),
    [(Flipped, "direction is wrong"), (OffByAWindow, "alignment"), (Noise, "does not detect")],
)
def test_a_broken_detector_fails_and_the_message_says_how(cls, problem):
    with pytest.raises(AssertionError, match=problem) as caught:
        check_detector(cls, PARAMS)
    assert f"{cls.__name__} fails the behavioural check" in str(caught.value)
    found = check_detector(cls, PARAMS, strict=False)
    assert any(problem in p for p in found.problems)


def test_a_registered_name_uses_its_test_params_and_fixture():
    found = check_detector("vanad")  # the tiny MAE checkpoint its test_fixture writes
    assert found.problems == [] and found.params["weights_path"].endswith(".pth")
