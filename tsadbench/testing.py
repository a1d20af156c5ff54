"""The behavioural check every registered detector passes, public so that a plug-in author runs
the same one: ``check_detector("my_detector")``.

The conformance tests check the contract (shapes, errors, seeding); this module checks that a
detector *detects*. On a seeded synthetic set with clear anomalies (``check_data``), at the
detector's small ``test_params``:

- **detects**: its ``vus_pr`` beats the ``random`` detector's (the mean over
  ``RANDOM_DRAWS`` seeds) by at least ``MIN_MARGIN``;
- **direction**: its negated scores do clearly worse on ``vus_pr`` (by ``MIN_DIRECTION``):
  a sign flip fails;
- **alignment**: its scores shifted by one window, forward or back, do clearly worse on
  ``auc_pr`` (by ``MIN_SHIFT_DROP``): an off-by-a-window mapping of window scores to points fails.
  ``auc_pr`` and not ``vus_pr`` because VUS forgives a shift up to its buffer (100 points).

The thresholds were chosen from measurement (``pytest tests/conformance/test_detectors.py -k
detects -s`` prints each detector's numbers); the README lists them. A detector that cannot
meet them at test settings declares why in its registration
(``register_detector(..., behaviour="...")``); the conformance test then expects the failure,
never skips it.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from tsadbench.checks import is_int
from tsadbench.data import Entity

if TYPE_CHECKING:
    from tsadbench.detectors import BaseDetector

MIN_MARGIN = 0.10
MIN_DIRECTION = 0.10
MIN_SHIFT_DROP = 0.05
MIN_SHIFT = 16  # points: a window shorter than this is shifted by this much
RANDOM_DRAWS = 5


def check_data() -> Entity:
    """The seeded set of the behavioural check: 3 correlated seasonal channels, 1,000 normal
    train points, 1,000 test points holding 6 labelled anomalies (spike, level shift,
    contextual, shape, trend, variance; ``tsadbench.data.synthetic``)."""
    from tsadbench.data import load_dataset

    ds = load_dataset("synthetic", length=1000, n_channels=3, n_anomalies=6, random_state=0)
    return ds.entities[0]


@dataclass(frozen=True)
class Behaviour:
    """What ``check_detector`` measured; ``problems`` lists what failed (empty: passed)."""

    detector: str
    params: dict[str, Any]
    vus_pr: float
    random_vus_pr: float
    negated_vus_pr: float
    auc_pr: float
    shifted_auc_pr: float  # the better of the two shifts
    shift: int
    seconds: float

    @property
    def margin(self) -> float:
        """``vus_pr`` over ``random``'s."""
        return self.vus_pr - self.random_vus_pr

    @property
    def problems(self) -> list[str]:
        out = []
        if not self.margin >= MIN_MARGIN:
            out.append(
                f"it does not detect: vus_pr {self.vus_pr:.3f} beats random's "
                f"{self.random_vus_pr:.3f} by {self.margin:+.3f}, less than {MIN_MARGIN}"
            )
        if not self.vus_pr - self.negated_vus_pr >= MIN_DIRECTION:
            out.append(
                f"its direction is wrong: negated scores reach vus_pr {self.negated_vus_pr:.3f} "
                f"against {self.vus_pr:.3f} (must be lower by {MIN_DIRECTION}); higher scores "
                "must mean more anomalous"
            )
        if not self.auc_pr - self.shifted_auc_pr >= MIN_SHIFT_DROP:
            out.append(
                f"its alignment is doubtful: scores shifted by {self.shift} points reach "
                f"auc_pr {self.shifted_auc_pr:.3f} against {self.auc_pr:.3f} (must be lower by "
                f"{MIN_SHIFT_DROP}); check how window scores map to points"
            )
        return out

    def summary(self) -> str:
        return (
            f"{self.detector}: vus_pr {self.vus_pr:.3f} (random {self.random_vus_pr:.3f}, "
            f"margin {self.margin:+.3f}; negated {self.negated_vus_pr:.3f}), auc_pr "
            f"{self.auc_pr:.3f} (shifted by {self.shift}: {self.shifted_auc_pr:.3f}), "
            f"{self.seconds:.1f} s"
        )


def shift_scores(scores: NDArray[np.float64], by: int) -> NDArray[np.float64]:
    """``scores`` moved ``by`` points later (earlier when negative), the edge value repeated."""
    if by > 0:
        return np.concatenate([np.full(by, scores[0]), scores[:-by]])
    return np.concatenate([scores[-by:], np.full(-by, scores[-1])])


def _fit_score(det: BaseDetector, name: str) -> tuple[Any, Any, float]:
    """``det`` fitted on ``check_data()``'s train split (its first channel for a univariate
    method): its scores on the test split, the test labels and the seconds both took."""
    from tsadbench.data.scaling import fit_scaler

    entity = check_data()
    reason = det.check_available(entity.train.shape[1])
    train, test = entity.train, entity.test
    if reason and det.check_available(1) is None:  # a univariate method: the first channel
        train, test = train[:, :1], test[:, :1]
    elif reason:
        raise RuntimeError(f"{name} cannot run the behavioural check here: {reason}")
    scale = fit_scaler(det.tags.scaler, train)
    t0 = time.perf_counter()
    scores = det.fit(scale(train)).score(scale(test))
    return scores, entity.labels, time.perf_counter() - t0


def check_detector(
    detector: str | type[BaseDetector],
    params: dict[str, Any] | None = None,
    *,
    folder: str | Path | None = None,
    strict: bool = True,
) -> Behaviour:
    """Fit the registered ``detector`` on ``check_data()``'s train split and check that it
    detects, that its direction and its alignment are right.

    Parameters
    ----------
    detector : str or BaseDetector subclass
        A registered detector name (built-in or plug-in), or a detector class.
    params : dict or None
        Its settings; None: its class's ``test_params`` (plus ``test_fixture(folder)``'s, e.g.
        a small checkpoint it writes), ``random_state=0`` and ``device="cpu"``.
    folder : path or None
        Where ``test_fixture`` may write files; a temporary folder when None.
    strict : bool
        Raise ``AssertionError`` naming every problem (True), or return the measurements.
    """
    import tempfile

    from tsadbench.registry import DETECTORS, METRICS

    cls = DETECTORS.get(detector) if isinstance(detector, str) else detector
    name = detector if isinstance(detector, str) else cls.__name__
    if params is None:  # the test settings, with what the detector's fixture writes
        with tempfile.TemporaryDirectory(prefix="tsadbench-check-") as tmp:
            fixture = cls.test_fixture(Path(folder or tmp))
            return check_detector(detector, {**cls.test_params, **fixture}, strict=strict)
    names = cls._param_names()
    params = dict(params)
    if "random_state" in names:
        params.setdefault("random_state", 0)
    if "device" in names:
        params.setdefault("device", "cpu")
    det = cls(**params)
    scores, labels, seconds = _fit_score(det, name)
    vus_pr, auc_pr = METRICS.get("vus_pr"), METRICS.get("auc_pr")
    noise = [
        vus_pr(labels, np.random.default_rng(seed).uniform(size=len(labels)))
        for seed in range(RANDOM_DRAWS)
    ]
    # the window it used: its setting, or what it chose from the data (window="auto")
    window = getattr(det, "window_", getattr(det, "window", 1))
    shift = max(int(window) if is_int(window) else 1, MIN_SHIFT)
    found = Behaviour(
        detector=name,
        params=params,
        vus_pr=float(vus_pr(labels, scores)),
        random_vus_pr=math.fsum(noise) / len(noise),
        negated_vus_pr=float(vus_pr(labels, -scores)),
        auc_pr=float(auc_pr(labels, scores)),
        shifted_auc_pr=max(float(auc_pr(labels, shift_scores(scores, s))) for s in (shift, -shift)),
        shift=shift,
        seconds=seconds,
    )
    if strict and found.problems:
        raise AssertionError(
            f"{name} fails the behavioural check: " + "; ".join(found.problems) + ". "
            f"Measured: {found.summary()}."
        )
    return found
