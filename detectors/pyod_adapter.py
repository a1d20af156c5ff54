"""PyOD's detectors (Zhao, Nasrullah & Li, JMLR 2019) through one adapter, as TSB-AD (Liu &
Paparrizos, NeurIPS 2024) runs them on time series: on points or on sliding windows.

``mode="points"``: each time step is one sample (its channels the features; every ``stride``-th
step of the train split is a training sample). ``mode="windows"``:
each window of ``window`` steps × channels, flattened time-major, is one sample (training windows
cut with ``stride``, scoring windows with ``score_stride``), and each point's score is the mean of
the scores of the windows that cover it (``tsadbench.data.windows``, as the window baselines).
A point's score is PyOD's ``decision_function`` (higher = more anomalous), nothing else.

PyOD's own parameters pass through ``params`` (``detector.params="{n_bins: 20}"``);
``random_state`` follows the seed wherever the PyOD model takes one (its determinism is an open
thread upstream: yzhao062/pyod#430, #686). PyOD's ``contamination`` is left at its default: it
sets only PyOD's ``threshold_`` and ``labels_``, which tsadbench never reads (its threshold
protocols decide, from the scores).

Registered: ``pyod`` (any PyOD model by name: ``detector.model=LODA`` or a dotted path
``detector.model=pyod.models.loda.LODA``) and, with their settings, the models the published
benchmarks use: HBOS, OCSVM, MCD, CBLOF (k-means clustering), COPOD, ECOD on points, and PyOD's
IForest, LOF, KNN, PCA on windows of 32, the setting of tsadbench's own ``iforest``, ``lof``,
``knn``, ``pca``, so that the two implementations compare. PyOD is an optional extra: without it
these detectors say ``pip install 'tsadbench[pyod]'`` and sweeps record them as skipped.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from tsadbench.data.windows import sliding_windows, windows_to_points
from tsadbench.detectors.base import BaseDetector, cache_numba
from tsadbench.registry import register_detector

INSTALL = "pip install 'tsadbench[pyod]'"
MODES = ("points", "windows")
# PyOD class -> its module under pyod.models, for the names a user types most
MODULES = {
    "ABOD": "abod",
    "CBLOF": "cblof",
    "COF": "cof",
    "COPOD": "copod",
    "ECOD": "ecod",
    "GMM": "gmm",
    "HBOS": "hbos",
    "IForest": "iforest",
    "INNE": "inne",
    "KDE": "kde",
    "KNN": "knn",
    "KPCA": "kpca",
    "LMDD": "lmdd",
    "LODA": "loda",
    "LOF": "lof",
    "MCD": "mcd",
    "OCSVM": "ocsvm",
    "PCA": "pca",
    "QMCD": "qmcd",
    "ROD": "rod",
    "SOD": "sod",
    "SOS": "sos",
}
_POINTS = (
    "Run on points (each time step one sample), as TSB-AD's point-based runs of the model; the "
    "paper scores independent samples.",
)
_WINDOWS = (
    "Run on sliding windows of 32 (each window one sample), as TSB-AD's subsequence runs and "
    "tsadbench's own window baselines; the paper scores independent samples.",
)


@register_detector("pyod", faithful=False, deviations=_POINTS)
class PyOD(BaseDetector):
    """Any PyOD detector by name, on points or on sliding windows.

    Parameters
    ----------
    model : str
        A PyOD class: its name (``"LODA"``, ``"HBOS"``, ...; looked up in ``pyod.models``) or a
        dotted path (``"pyod.models.loda.LODA"``).
    mode : {"points", "windows"}
        Each time step one sample, or each flattened window one sample.
    window, stride, score_stride : int
        Window length, step between training samples (windows or points), step between scoring
        windows (``window`` and ``score_stride``: ``mode="windows"`` only).
    params : dict or None
        The PyOD model's own parameters.
    random_state : int or None
        Passed to the model when it takes one.
    """

    model_name: ClassVar[str | None] = None  # a registered model's PyOD class (None: `model`)
    test_params: ClassVar[dict[str, Any]] = {"window": 8}

    def __init__(
        self,
        *,
        model: str = "IForest",
        mode: str = "points",
        window: int = 32,
        stride: int = 1,
        score_stride: int = 1,
        params: dict[str, Any] | None = None,
        random_state: int | None = None,
    ) -> None:
        self.model = model
        self.mode = mode
        self.window = window
        self.stride = stride
        self.score_stride = score_stride
        self.params = params
        self.random_state = random_state

    # settings -------------------------------------------------------------------------------
    def _model(self) -> str:
        return self.model_name or self.model

    @property
    def lazy_imports(self) -> tuple[str, ...]:  # type: ignore[override]
        module, _ = _locate(self._model())
        return (module,)

    @property
    def min_length(self) -> int:
        return self.window if self.mode == "windows" else 1

    def check_params(self) -> None:
        super().check_params()
        self._check_int("window", "stride", "score_stride")
        c = self._check_param
        c("mode", self.mode in MODES, f"one of {MODES}")
        if self.mode == "points":  # every point is scored
            c("score_stride", self.score_stride == 1, "1 on points (every point is scored)")
        c("params", self.params is None or isinstance(self.params, dict), "a mapping or null")
        model = self._model()
        c("model", isinstance(model, str) and bool(model), "a PyOD class name")
        clash = sorted(set(self.params or {}) & {"random_state"})
        c("params", not clash, "PyOD's parameters other than random_state (the seed sets it)")

    def check_available(self, n_channels: int | None = None) -> str | None:
        try:
            importlib.import_module("pyod")
        except ImportError:
            return f"PyOD is not installed here; {INSTALL} adds it."
        try:
            _load(self._model())
        except (ImportError, AttributeError) as exc:
            return f"PyOD has no model {self._model()!r} ({exc})."
        return super().check_available(n_channels)

    def warm_up(self) -> None:
        """A fit and a score of the model on 64 made-up samples: PyOD's numba functions (HBOS',
        ...) compile or load from numba's cache here, before a run's clock starts. A failure
        here is left to the real fit to meet and report."""
        if self.check_available():
            return
        cls = _load(self._model())
        cache_numba("pyod")
        sample = np.random.default_rng(0).normal(size=(64, 4))
        try:
            cls(**dict(self.params or {})).fit(sample).decision_function(sample)
        except Exception:
            return

    # fit and score ---------------------------------------------------------------------------
    def _samples(self, X: NDArray[np.float32], stride: int) -> NDArray[np.float32]:
        if self.mode == "points":
            return X[::stride]
        w = sliding_windows(X, self.window, stride)
        return w.reshape(len(w), -1)

    def _fit(self, X: NDArray[np.float32]) -> None:
        reason = self.check_available()
        if reason:
            raise ImportError(reason)
        cls = _load(self._model())
        params = dict(self.params or {})
        if "random_state" in inspect.signature(cls.__init__).parameters:
            params["random_state"] = self.random_state
        self.model_ = cls(**params).fit(self._samples(X, self.stride))

    def _score(self, X: NDArray[np.float32]) -> NDArray[np.float64]:
        stride = self.score_stride
        values = np.asarray(
            self.model_.decision_function(self._samples(X, stride)), dtype=np.float64
        )
        if self.mode == "points":
            return values
        return windows_to_points(values, len(X), self.window, stride, how="mean")


def _locate(model: str) -> tuple[str, str]:
    """(module, class) of a PyOD model given by name or dotted path."""
    if "." in model:
        module, _, name = model.rpartition(".")
        return module, name
    return f"pyod.models.{MODULES.get(model, model.lower())}", model


def _load(model: str) -> Any:
    module, name = _locate(model)
    return getattr(importlib.import_module(module), name)


class _Registered(PyOD):
    """A registered PyOD model: ``model`` is fixed by the class."""

    def __init__(
        self,
        *,
        mode: str = "points",
        window: int = 32,
        stride: int = 1,
        score_stride: int = 1,
        params: dict[str, Any] | None = None,
        random_state: int | None = None,
    ) -> None:
        super().__init__(
            model=str(self.model_name),
            mode=mode,
            window=window,
            stride=stride,
            score_stride=score_stride,
            params=params,
            random_state=random_state,
        )


class _OnWindows(_Registered):
    def __init__(
        self,
        *,
        mode: str = "windows",
        window: int = 32,
        stride: int = 1,
        score_stride: int = 1,
        params: dict[str, Any] | None = None,
        random_state: int | None = None,
    ) -> None:
        super().__init__(
            mode=mode,
            window=window,
            stride=stride,
            score_stride=score_stride,
            params=params,
            random_state=random_state,
        )


@register_detector("pyod_hbos", faithful=False, deviations=_POINTS)
class PyODHBOS(_Registered):
    """PyOD's HBOS (Goldstein & Dengel, 2012), histograms per feature, on points.

    The score sums the log inverse heights of the sample's bins. Parameters: see :class:`PyOD`
    (``model`` fixed)."""

    model_name = "HBOS"


@register_detector("pyod_ocsvm", faithful=False, deviations=_POINTS)
class PyODOCSVM(_Registered):
    """PyOD's one-class SVM (Schölkopf et al., 2001), RBF kernel, on points.

    scikit-learn's libsvm underneath: the fit grows with the square of the samples.
    Parameters: see :class:`PyOD` (``model`` fixed)."""

    model_name = "OCSVM"


@register_detector("pyod_mcd", faithful=False, deviations=_POINTS)
class PyODMCD(_Registered):
    """PyOD's minimum covariance determinant (Rousseeuw, 1984), on points.

    The score is the robust Mahalanobis distance. Parameters: see :class:`PyOD` (``model``
    fixed)."""

    model_name = "MCD"


@register_detector("pyod_cblof", faithful=False, deviations=_POINTS)
class PyODCBLOF(_Registered):
    """PyOD's cluster-based LOF (He et al., 2003), k-means clustering, on points.

    The clusters are split into large and small; the score is the distance to the nearest
    large cluster. Parameters: see :class:`PyOD` (``model`` fixed)."""

    model_name = "CBLOF"


@register_detector("pyod_copod", faithful=False, deviations=_POINTS)
class PyODCOPOD(_Registered):
    """PyOD's COPOD (Li et al., ICDM 2020), copula tail probabilities, on points.

    Parameter-free. Parameters: see :class:`PyOD` (``model`` fixed)."""

    model_name = "COPOD"


@register_detector("pyod_ecod", faithful=False, deviations=_POINTS)
class PyODECOD(_Registered):
    """PyOD's ECOD (Li et al., TKDE 2022), empirical distribution tails, on points.

    Parameter-free. Parameters: see :class:`PyOD` (``model`` fixed)."""

    model_name = "ECOD"


@register_detector("pyod_iforest", faithful=False, deviations=_WINDOWS)
class PyODIForest(_OnWindows):
    """PyOD's Isolation Forest (Liu et al., ICDM 2008) on windows of 32.

    Beside tsadbench's own ``iforest``. Parameters: see :class:`PyOD` (``model`` fixed)."""

    model_name = "IForest"


@register_detector("pyod_lof", faithful=False, deviations=_WINDOWS)
class PyODLOF(_OnWindows):
    """PyOD's local outlier factor (Breunig et al., SIGMOD 2000) on windows of 32.

    Beside tsadbench's own ``lof``. Parameters: see :class:`PyOD` (``model`` fixed)."""

    model_name = "LOF"


@register_detector("pyod_knn", faithful=False, deviations=_WINDOWS)
class PyODKNN(_OnWindows):
    """PyOD's k-nearest-neighbour distance (Ramaswamy et al., 2000) on windows of 32.

    Beside tsadbench's own ``knn``. Parameters: see :class:`PyOD` (``model`` fixed)."""

    model_name = "KNN"


@register_detector("pyod_pca", faithful=False, deviations=_WINDOWS)
class PyODPCA(_OnWindows):
    """PyOD's PCA (Shyu et al., 2003) on windows of 32.

    Beside tsadbench's own ``pca``. Parameters: see :class:`PyOD` (``model`` fixed)."""

    model_name = "PCA"
