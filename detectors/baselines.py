"""Classic baselines: scikit-learn outlier detectors on flattened sliding windows, and ``random``.

Each window of ``window`` steps × ``n_channels`` channels is one sample (flattened, time-major).
Training windows are cut with ``stride``, scoring windows with ``score_stride``; each point's
score is the mean of the scores of the windows that cover it (``tsadbench.data.windows``).
These are the usual window adaptations of the classic methods (as in TSB-AD and PyOD's
time-series wrappers), not reproductions of a specific paper's numbers.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from tsadbench.checks import is_int
from tsadbench.data.windows import sliding_windows, windows_to_points
from tsadbench.detectors.base import BaseDetector, DetectorTags
from tsadbench.registry import register_detector


class WindowDetector(BaseDetector):
    """Shared machinery of the window baselines: cut, flatten, score, map back to points."""

    window: int
    stride: int
    score_stride: int

    def check_params(self) -> None:
        super().check_params()
        self._check_int("window", "stride", "score_stride")

    def _features(self, X: NDArray[np.float32], stride: int) -> NDArray[np.float32]:
        w = sliding_windows(X, self.window, stride)
        return w.reshape(len(w), -1)  # copies once: the estimator needs a 2-D sample matrix

    def _fit(self, X: NDArray[np.float32]) -> None:
        self._fit_windows(self._features(X, self.stride))

    def _score(self, X: NDArray[np.float32]) -> NDArray[np.float64]:
        values = self._score_windows(self._features(X, self.score_stride))
        return windows_to_points(values, len(X), self.window, self.score_stride, how="mean")

    def _fit_windows(self, F: NDArray[np.float32]) -> None:
        raise NotImplementedError

    def _score_windows(self, F: NDArray[np.float32]) -> NDArray[np.float64]:
        raise NotImplementedError


_WINDOWED = (
    "Applied to sliding windows (each window's window × channels values one sample), the usual "
    "time-series adaptation (TSB-AD, PyOD's time-series detectors); the paper scores "
    "independent points.",
)


@register_detector("iforest", faithful=False, deviations=_WINDOWED)
class WindowIForest(WindowDetector):
    """Isolation Forest (Liu et al., ICDM 2008) on sliding windows; score = -score_samples.

    Parameters
    ----------
    window, stride, score_stride : int
        Window length, step between training windows, step between scoring windows.
    n_estimators : int
        Number of trees.
    max_samples : int or "auto"
        Windows drawn to build each tree ("auto" = min(256, n_windows)).
    random_state : int or None
    """

    test_params: ClassVar[dict[str, Any]] = {"window": 8, "n_estimators": 20}
    lazy_imports: ClassVar[tuple[str, ...]] = ("sklearn.ensemble",)

    def __init__(
        self,
        *,
        window: int = 32,
        stride: int = 1,
        score_stride: int = 1,
        n_estimators: int = 100,
        max_samples: int | str = "auto",
        random_state: int | None = None,
    ) -> None:
        self.window = window
        self.stride = stride
        self.score_stride = score_stride
        self.n_estimators = n_estimators
        self.max_samples = max_samples
        self.random_state = random_state

    def check_params(self) -> None:
        super().check_params()
        self._check_int("n_estimators")
        m = self.max_samples
        self._check_param(
            "max_samples", m == "auto" or (is_int(m) and m >= 1), "'auto' or an int >= 1"
        )

    def _fit_windows(self, F: NDArray[np.float32]) -> None:
        from sklearn.ensemble import IsolationForest

        self.model_ = IsolationForest(
            n_estimators=self.n_estimators,
            max_samples=self.max_samples,
            random_state=self.random_state,
        ).fit(F)

    def _score_windows(self, F: NDArray[np.float32]) -> NDArray[np.float64]:
        return -np.asarray(self.model_.score_samples(F), dtype=np.float64)


@register_detector("pca", faithful=False, deviations=_WINDOWED)
class WindowPCA(WindowDetector):
    """PCA reconstruction error on sliding windows (Shyu et al., 2003 style subspace method).

    Parameters
    ----------
    window, stride, score_stride : int
    n_components : int or float
        Components kept: an int, or a fraction of explained variance in (0, 1).
    """

    test_params: ClassVar[dict[str, Any]] = {"window": 8}
    lazy_imports: ClassVar[tuple[str, ...]] = ("sklearn.decomposition",)

    def __init__(
        self,
        *,
        window: int = 32,
        stride: int = 1,
        score_stride: int = 1,
        n_components: int | float = 0.9,
    ) -> None:
        self.window = window
        self.stride = stride
        self.score_stride = score_stride
        self.n_components = n_components

    def check_params(self) -> None:
        super().check_params()
        n = self.n_components
        self._check_param(
            "n_components",
            (is_int(n) and n >= 1) or (isinstance(n, float) and 0 < n < 1),
            "an int >= 1 or a float in (0, 1)",
        )

    def _fit_windows(self, F: NDArray[np.float32]) -> None:
        from sklearn.decomposition import PCA

        n = self.n_components
        if isinstance(n, int):
            n = min(n, *F.shape)
        self.model_ = PCA(n_components=n, svd_solver="full").fit(F)

    def _score_windows(self, F: NDArray[np.float32]) -> NDArray[np.float64]:
        rec = self.model_.inverse_transform(self.model_.transform(F))
        result: NDArray[np.float64] = np.square(np.asarray(F, dtype=np.float64) - rec).mean(axis=1)
        return result


@register_detector("knn", faithful=False, deviations=_WINDOWED)
class WindowKNN(WindowDetector):
    """Distance to the k-th nearest training window (Ramaswamy et al., SIGMOD 2000).

    Parameters
    ----------
    window, stride, score_stride : int
    n_neighbors : int
        k.
    """

    test_params: ClassVar[dict[str, Any]] = {"window": 8, "n_neighbors": 3}
    lazy_imports: ClassVar[tuple[str, ...]] = ("sklearn.neighbors",)

    def __init__(
        self, *, window: int = 32, stride: int = 1, score_stride: int = 1, n_neighbors: int = 5
    ) -> None:
        self.window = window
        self.stride = stride
        self.score_stride = score_stride
        self.n_neighbors = n_neighbors

    def check_params(self) -> None:
        super().check_params()
        self._check_int("n_neighbors")

    def _fit_windows(self, F: NDArray[np.float32]) -> None:
        from sklearn.neighbors import NearestNeighbors

        k = self.n_neighbors
        if len(F) < k:
            raise ValueError(
                f"WindowKNN needs at least n_neighbors={k} training windows; got {len(F)}."
            )
        self.model_ = NearestNeighbors(n_neighbors=k).fit(F)

    def _score_windows(self, F: NDArray[np.float32]) -> NDArray[np.float64]:
        dist, _ = self.model_.kneighbors(F)
        return np.asarray(dist[:, -1], dtype=np.float64)


@register_detector("lof", faithful=False, deviations=_WINDOWED)
class WindowLOF(WindowDetector):
    """Local Outlier Factor (Breunig et al., SIGMOD 2000), novelty mode, on sliding windows.

    Parameters
    ----------
    window, stride, score_stride : int
    n_neighbors : int
    """

    test_params: ClassVar[dict[str, Any]] = {"window": 8, "n_neighbors": 5}
    lazy_imports: ClassVar[tuple[str, ...]] = ("sklearn.neighbors",)

    def __init__(
        self, *, window: int = 32, stride: int = 1, score_stride: int = 1, n_neighbors: int = 20
    ) -> None:
        self.window = window
        self.stride = stride
        self.score_stride = score_stride
        self.n_neighbors = n_neighbors

    def check_params(self) -> None:
        super().check_params()
        self._check_int("n_neighbors")

    def _fit_windows(self, F: NDArray[np.float32]) -> None:
        from sklearn.neighbors import LocalOutlierFactor

        k = self.n_neighbors
        if len(F) <= k:
            raise ValueError(
                f"WindowLOF needs more than n_neighbors={k} training windows; got {len(F)}."
            )
        self.model_ = LocalOutlierFactor(n_neighbors=k, novelty=True).fit(F)

    def _score_windows(self, F: NDArray[np.float32]) -> NDArray[np.float64]:
        return -np.asarray(self.model_.score_samples(F), dtype=np.float64)


@register_detector(
    "random",
    behaviour="the floor itself: random scores are what the behavioural check measures others by",
)
class RandomDetector(BaseDetector):
    """Uniform random scores: the floor every detector must clear.

    It shows how much a metric flatters noise: with point adjustment, random scores often reach
    a high F1 on long anomaly segments, while AUC-PR stays near the anomaly ratio.

    Parameters
    ----------
    random_state : int or None
    """

    tags = DetectorTags(window_energies=True)

    def __init__(self, *, random_state: int | None = None) -> None:
        self.random_state = random_state

    def _fit(self, X: NDArray[np.float32]) -> None:
        pass

    def _score(self, X: NDArray[np.float32]) -> NDArray[np.float64]:
        return np.random.default_rng(self.random_state).uniform(size=len(X))

    def window_energies(self, X: Any) -> NDArray[np.float64]:
        """Noise for the threshold protocols that pool a windowed detector's train energies
        (the Anomaly Transformer's): one independent uniform value per train point. A pool of
        every position of every window would hold the same distribution, so the threshold,
        a percentile of train and test pooled, is the same."""
        arr = self._validate(X, fitted=True)
        seed = None if self.random_state is None else [self.random_state, 1]
        return np.random.default_rng(seed).uniform(size=len(arr))
