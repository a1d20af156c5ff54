"""``matrix_profile``: discords of the Matrix Profile (Yeh et al., ICDM 2016), computed by stumpy
(Law, JOSS 2019), the optional extra ``tsadbench[stumpy]``.

A subsequence's score is its z-normalised Euclidean distance to its nearest neighbour: its Matrix
Profile value. A discord, a subsequence unlike any other, has a high one.

Follows the definition:
  * subsequences of ``window`` steps, z-normalised (stumpy's ``stump``; a constant subsequence is
    at distance 0 from another constant one and sqrt(window) from any other); ``normalize=False``
    is stumpy's non-normalised profile (plain Euclidean distance), which also sees level: a
    z-normalised profile is blind to a burst in a noisy series (NAB's AAPL tweet volume in the
    CI suite: vus_pr 0.09 z-normalised against random's 0.14, 0.57-0.93 not);
  * ``join="train"`` (default): each test subsequence against the train split's (the paper's
    AB-join), the reading of tsadbench's protocol, where the train split is normal: distance to
    the nearest normal pattern;
  * ``join="self"``: the test series against itself, trivial matches (within window / 4)
    excluded: the classic discord, as TSB-AD runs it (it has no train split). Anomalies that
    repeat hide each other there (on the behavioural check's series: vus_pr 0.67 against 0.93
    with ``train``).

Ours (tsadbench's choices):
  * ``window="auto"`` (default): the train split's dominant period
    (``tsadbench.data.windows.dominant_period``: the highest autocorrelation peak up to lag
    400, the median over channels, 100 without one), as TSB-AD sizes its windowed methods (it
    looks at the first channel only and falls back to 125); the window chosen is recorded in
    the run's provenance;
  * several channels: ``multivariate="mean"`` (default) averages the channels' own profiles,
    O(channels · n²); ``multivariate="mstump"`` is stumpy's multi-dimensional profile over all
    channels at once with ``discords=True`` (one neighbour shared by every channel, Yeh et al.,
    ICDM 2017), O(channels · log channels · n²) and self-join only;
  * a point's score is the mean of the profile values of the subsequences that cover it
    (``tsadbench.data.windows``; TSB-AD pads the profile by half a window each side instead).
"""

from __future__ import annotations

import importlib
import math
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from tsadbench.checks import is_int
from tsadbench.data.windows import dominant_period, windows_to_points
from tsadbench.detectors.base import BaseDetector, DetectorTags, cache_numba
from tsadbench.registry import register_detector

INSTALL = "pip install 'tsadbench[stumpy]'"
JOINS = ("self", "train")
MULTIVARIATE = ("mean", "mstump")


@register_detector(
    "matrix_profile",
    faithful=False,
    deviations=(
        "window='auto' takes the train split's dominant period over all channels (TSB-AD: the "
        "first channel's, 125 without one; ours: 100).",
        "Several channels: the mean of the channels' profiles by default (mstump on request).",
        "join='train' by default: the test series against the (normal) train split; TSB-AD, "
        "without a train split, self-joins the series (join='self').",
        "A point's score is the mean of the profile values of the subsequences covering it "
        "(TSB-AD pads the profile by half a window each side).",
    ),
)
class MatrixProfile(BaseDetector):
    """Matrix Profile discords (Yeh et al., ICDM 2016) by stumpy: distance to the nearest
    neighbour subsequence.

    Parameters
    ----------
    window : int or "auto"
        Subsequence length; "auto": the train split's dominant period (module docstring).
    join : {"train", "self"}
        Nearest neighbour among the train split's subsequences, or within the test series (the
        classic discord).
    normalize : bool
        z-normalise the subsequences (the Matrix Profile's definition: shape only) or not
        (stumpy's non-normalised profile: shape and level, which sees a burst of a size the
        train split never had).
    multivariate : {"mean", "mstump"}
        Several channels: the mean of their profiles, or stumpy's multi-dimensional profile
        (self-join only).
    """

    tags = DetectorTags(multivariate=True)
    test_params: ClassVar[dict[str, Any]] = {"window": 16}
    lazy_imports: ClassVar[tuple[str, ...]] = ("stumpy",)

    def __init__(
        self,
        *,
        window: int | str = "auto",
        join: str = "train",
        normalize: bool = True,
        multivariate: str = "mean",
    ) -> None:
        self.window = window
        self.join = join
        self.normalize = normalize
        self.multivariate = multivariate

    # settings -------------------------------------------------------------------------------
    def check_params(self) -> None:
        super().check_params()
        c = self._check_param
        w = self.window
        c("window", w == "auto" or (is_int(w) and w >= 3), "'auto' or an int >= 3")
        c("join", self.join in JOINS, f"one of {JOINS}")
        c("multivariate", self.multivariate in MULTIVARIATE, f"one of {MULTIVARIATE}")
        c("normalize", isinstance(self.normalize, bool), "true or false")
        if self.multivariate == "mstump":
            c("join", self.join == "self", "'self' with multivariate='mstump'")

    def check_available(self, n_channels: int | None = None) -> str | None:
        try:
            importlib.import_module("stumpy")
        except ImportError:
            return f"stumpy is not installed here; {INSTALL} adds it."
        return super().check_available(n_channels)

    def _window(self) -> int:
        return int(getattr(self, "window_", 0) or (self.window if is_int(self.window) else 3))

    @property
    def min_length(self) -> int:
        """One subsequence with a non-trivial neighbour in the test series itself (self-join:
        more than twice the exclusion zone of window / 4 beyond the window)."""
        m = self._window()
        return m + 2 * math.ceil(m / 4) + 1 if self.join == "self" else m

    def warm_up(self) -> None:
        """stumpy's functions are compiled by numba on their first call (about 20 s), once
        into numba's cache; later processes load them (about 0.2 s), before a run's clock."""
        stumpy = _stumpy()
        series = np.sin(np.arange(64.0))
        stumpy.stump(series, 8, normalize=self.normalize)
        stumpy.stump(series, 8, series, ignore_trivial=False, normalize=self.normalize)
        if self.multivariate == "mstump":
            stumpy.mstump(np.vstack([series, series]), 8, discords=True, normalize=self.normalize)

    def provenance(self) -> dict[str, Any]:
        return {"window": self._window()} if self.window == "auto" else {}

    # fit and score ---------------------------------------------------------------------------
    def _fit(self, X: NDArray[np.float32]) -> None:
        reason = self.check_available()
        if reason:
            raise ImportError(reason)
        self.window_ = dominant_period(X) if self.window == "auto" else int(self.window)
        if len(X) < self.window_:
            raise ValueError(
                f"MatrixProfile: the train split has {len(X)} time steps, fewer than the window "
                f"of {self.window_}."
            )
        # channel-major and contiguous: each channel's series is a C-contiguous float64 array,
        # the type warm_up compiled stumpy for (a strided column is another numba signature,
        # compiled or loaded on the first real call, inside the clock)
        self.train_ = np.ascontiguousarray(X.T, dtype=np.float64) if self.join == "train" else None

    def _score(self, X: NDArray[np.float32]) -> NDArray[np.float64]:
        stumpy = _stumpy()
        m = self.window_
        data = np.ascontiguousarray(X.T, dtype=np.float64)  # (channels, n), as in _fit
        if len(data) > 1 and self.multivariate == "mstump":
            profile = stumpy.mstump(data, m, discords=True, normalize=self.normalize)[0][-1]
        else:
            columns = []
            for c in range(len(data)):
                if self.join == "self":
                    result = stumpy.stump(data[c], m, normalize=self.normalize)
                else:
                    assert self.train_ is not None
                    train = self.train_[c]
                    result = stumpy.stump(
                        data[c], m, train, ignore_trivial=False, normalize=self.normalize
                    )
                columns.append(np.asarray(result[:, 0], dtype=np.float64))
            profile = np.mean(columns, axis=0)
        if not np.isfinite(profile).all():
            raise ValueError(
                f"MatrixProfile: {int((~np.isfinite(profile)).sum())} subsequence(s) of "
                f"{m} steps found no neighbour; the series is too short for this window."
            )
        return windows_to_points(profile, len(X), m, 1, how="mean")


def _stumpy() -> Any:
    """stumpy, its numba functions set to use numba's on-disk cache: they compile on their
    first call in the first process only."""
    stumpy = importlib.import_module("stumpy")
    cache_numba("stumpy")
    return stumpy
