"""A detector as a library user holds it: the scaler ``tsadbench run`` applies, the detector, and
a label-free threshold protocol, with PyOD's surface (``decision_scores_``, ``threshold_``,
``labels_``, ``decision_function``, ``predict``).

    >>> from tsadbench import Pipeline
    >>> model = Pipeline("iforest", random_state=0).fit(X_train)
    >>> scores = model.decision_function(X_test)      # what `tsadbench run` records
    >>> flags = model.predict(X_test)                  # 1 above the train's 0.99-quantile

The same detector, scaler and data give the same scores here as in a run's record: the scaler is
chosen (:func:`resolve_scaler`) and fitted (``data.scaling.fit_scaler``) by the same functions.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from tsadbench.isolation import torch_threads
from tsadbench.registry import DETECTORS

__all__ = ["Pipeline", "resolve_scaler"]


def resolve_scaler(cls: Any, scaler: str) -> str:
    """The scaler a run of detector class ``cls`` applies: ``auto`` is the detector's own
    (its ``tags.scaler``), anything else must be one of ``data.scaling.SCALERS``."""
    from tsadbench.data.scaling import SCALERS

    chosen = cls.tags.scaler if scaler == "auto" else scaler
    if chosen not in SCALERS:
        raise ValueError(
            f"The 'scaler' setting must be 'auto' or one of {SCALERS}. Got {scaler!r} instead."
        )
    return str(chosen)


class Pipeline:
    """Scaler + detector + threshold protocol, fitted on a train split.

    Parameters
    ----------
    detector : str
        A registered detector's name (``tsadbench list detectors``).
    scaler : str, default "auto"
        ``auto`` (the detector's own scaling, as ``tsadbench run``), ``zscore``, ``robust``,
        ``minmax``, ``minmax_pm1`` or ``none``; fitted on the train split only.
    threshold : str, default "train_quantile"
        A label-free protocol of ``metrics.thresholds.PROTOCOLS`` (never ``oracle``: it needs
        the test labels). ``threshold_params`` are its parameters, e.g. ``{"q": 0.995}``.
    threads : int, optional
        Torch's thread count while fitting and scoring (a torch detector's sums depend on it;
        a record keeps the one its run used). None: torch's current setting.
    **params
        The detector's hyper-parameters.

    Attributes (after ``fit``)
    --------------------------
    detector_ : the fitted detector; scaler_ : the scaler's name
    decision_scores_ : the train split's scores
    threshold_ : the threshold from the train scores (NaN for a protocol that also reads the
        scores being predicted: ``predict`` computes it from them)
    labels_ : the train split's predictions
    """

    def __init__(
        self,
        detector: str,
        *,
        scaler: str = "auto",
        threshold: str = "train_quantile",
        threshold_params: dict[str, Any] | None = None,
        threads: int | None = None,
        **params: Any,
    ) -> None:
        from tsadbench.metrics.thresholds import PROTOCOLS

        self.detector = detector
        self.scaler = scaler
        self.threshold = threshold
        self.threshold_params = dict(threshold_params or {})
        self.threads = threads
        self.params = params
        protocol = PROTOCOLS.get(threshold)
        if protocol is None or protocol.uses_labels:
            label_free = [n for n, p in PROTOCOLS.items() if not p.uses_labels]
            raise ValueError(
                f"The 'threshold' of a Pipeline must be a label-free protocol, one of "
                f"{label_free}. Got {threshold!r}."
            )
        self._protocol = protocol
        self._cls = DETECTORS.get(detector)
        resolve_scaler(self._cls, scaler)  # a bad name fails here, not at fit

    def fit(self, X: Any) -> Pipeline:
        """Fit the scaler and the detector on ``X`` (n_timestamps, n_channels), score it."""
        from tsadbench.data.scaling import fit_scaler
        from tsadbench.metrics.thresholds import threshold

        train = _two_d(X)
        if self._protocol.uses_train_scores and not self._cls.tags.comparable_scores:
            raise ValueError(
                f"The detector {self.detector!r} standardises the scores of each scored series: "
                f"a threshold from its train scores ({self.threshold!r}) means nothing on "
                f"others; choose a protocol that reads only the scored series (test_ratio)."
            )
        self.scaler_ = resolve_scaler(self._cls, self.scaler)
        self._transform = fit_scaler(self.scaler_, train)
        scaled = self._transform(train)
        with torch_threads(self.threads):
            self.detector_ = DETECTORS.create(self.detector, **self.params).fit(scaled)
            self.decision_scores_: NDArray[np.float64] = self.detector_.score(scaled)
        reads_test = self._protocol.uses_test_scores or self._protocol.fn is None
        self.threshold_ = (
            float("nan")
            if reads_test
            else threshold(self.threshold, self.decision_scores_, self.decision_scores_,
                           **self.threshold_params)
        )  # fmt: skip
        self.labels_ = self._predict(self.decision_scores_)
        return self

    def decision_function(self, X: Any) -> NDArray[np.float64]:
        """Anomaly scores of ``X``, higher = more anomalous (``score`` is the same)."""
        self._check_fitted()
        with torch_threads(self.threads):
            result: NDArray[np.float64] = self.detector_.score(self._transform(_two_d(X)))
        return result

    score = decision_function

    def predict(self, X: Any) -> NDArray[np.int8]:
        """1 where ``X`` is anomalous by the threshold protocol, else 0."""
        return self._predict(self.decision_function(X))

    def _predict(self, scores: NDArray[np.float64]) -> NDArray[np.int8]:
        from tsadbench.metrics.thresholds import predictions

        flags = predictions(self.threshold, scores, self.decision_scores_, **self.threshold_params)
        return flags.astype(np.int8)

    def _check_fitted(self) -> None:
        if not hasattr(self, "detector_"):
            raise RuntimeError("This Pipeline is not fitted yet: call fit(X_train) first.")

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return (
            f"Pipeline({self.detector!r}, scaler={self.scaler!r}, threshold={self.threshold!r}"
            + (f", {args}" if args else "")
            + ")"
        )


def _two_d(X: Any) -> NDArray[np.float64]:
    arr = np.asarray(X, dtype=np.float64)
    if arr.ndim == 1:  # one channel given as a vector
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(f"X must be (n_timestamps, n_channels); got shape {arr.shape}.")
    return arr
