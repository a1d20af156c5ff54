"""Property-based tests of the one windowing module."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tsadbench.data.windows import n_windows, sliding_windows, windows_to_points

shapes = st.tuples(
    st.integers(1, 60),  # n
    st.integers(1, 12),  # window
    st.integers(1, 15),  # stride
).filter(lambda t: t[1] <= t[0])


def brute_force(values: np.ndarray, n: int, window: int, stride: int, how: str) -> np.ndarray:
    """Reference: collect, for every point, (position in window, value) from each window."""
    if values.ndim == 1:
        values = np.repeat(values[:, None], window, axis=1)
    got: list[list[tuple[int, float]]] = [[] for _ in range(n)]
    for i in range(len(values)):
        for j in range(window):
            got[i * stride + j].append((j, float(values[i, j])))
    out = np.empty(n)
    for t in range(n):
        if not got[t]:
            out[t] = out[t - 1]  # uncovered: the nearest covered point before it
            continue
        vals = [v for _, v in got[t]]
        out[t] = (
            {
                "mean": np.mean,
                "max": np.max,
                "median": np.median,
            }[how](vals)
            if how != "last"
            else max(got[t])[1]
        )
    return out


@given(shapes, st.integers(0, 2**31 - 1))
def test_sliding_windows_is_a_view_with_the_right_content(shape, seed):
    n, window, stride = shape
    x = np.random.default_rng(seed).normal(size=(n, 2))
    w = sliding_windows(x, window, stride)
    assert w.shape == (n_windows(n, window, stride), window, 2)
    assert np.shares_memory(w, x)  # no copy
    assert not w.flags.writeable
    for i in range(len(w)):
        np.testing.assert_array_equal(w[i], x[i * stride : i * stride + window])
    assert (len(w) - 1) * stride + window <= n < len(w) * stride + window


@settings(max_examples=150)
@given(
    shapes,
    st.sampled_from(["mean", "max", "median", "last"]),
    st.booleans(),
    st.integers(0, 2**31 - 1),
)
def test_windows_to_points_matches_brute_force(shape, how, per_position, seed):
    n, window, stride = shape
    rng = np.random.default_rng(seed)
    count = n_windows(n, window, stride)
    values = rng.normal(size=(count, window) if per_position else count)
    got = windows_to_points(values, n, window, stride, how=how)
    assert got.shape == (n,) and got.dtype == np.float64
    np.testing.assert_allclose(got, brute_force(values, n, window, stride, how))


@given(shapes, st.sampled_from(["mean", "max", "median", "last"]), st.integers(0, 2**31 - 1))
def test_windows_of_a_series_map_back_to_the_series(shape, how, seed):
    """Per-position values that agree across windows reconstruct the series exactly."""
    n, window, stride = shape
    x = np.random.default_rng(seed).normal(size=(n, 3))
    back = windows_to_points(sliding_windows(x, window, stride), n, window, stride, how=how)
    covered = np.zeros(n, bool)
    for i in range(n_windows(n, window, stride)):
        covered[i * stride : i * stride + window] = True
    assert back.shape == (n, 3)  # trailing axes are kept
    np.testing.assert_allclose(back[covered], x[covered])
    assert np.isfinite(back).all()


def test_short_series_and_bad_arguments_raise():
    with pytest.raises(ValueError, match="fewer than one window of 10"):
        sliding_windows(np.zeros((5, 1)), 10)
    with pytest.raises(ValueError, match="'stride' parameter must be an int >= 1"):
        sliding_windows(np.zeros((5, 1)), 2, 0)
    with pytest.raises(ValueError, match="'how' parameter"):
        windows_to_points(np.zeros(4), 5, 2, 1, how="sum")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="Expected 4 window values"):
        windows_to_points(np.zeros(3), 5, 2, 1)
    with pytest.raises(ValueError, match=r"\(n_windows, window, \.\.\.\)"):
        windows_to_points(np.zeros((4, 3)), 5, 2, 1)


def _kde_mode_reference(values, n, window, stride):
    """Orion's loop: one scipy gaussian_kde per point over the covering windows' values."""
    from scipy import stats

    count = len(values)
    out = []
    for i in range(n):
        covering = [w for w in range(count - 1, -1, -1) if w * stride <= i < w * stride + window]
        vals = np.asarray([values[w] for w in covering], dtype=float)
        if len(vals) > 1:
            try:
                out.append(vals[np.argmax(stats.gaussian_kde(vals)(vals))])
            except np.linalg.LinAlgError:
                out.append(np.median(vals))
        elif len(vals) == 1:
            out.append(vals[0])
        else:
            out.append(out[-1])
    return np.asarray(out)


@pytest.mark.parametrize(("n", "window", "stride"), [(300, 20, 1), (157, 16, 3), (60, 10, 10)])
def test_kde_mode_equals_one_scipy_fit_per_point(n, window, stride):
    from tsadbench.data.windows import n_windows, windows_to_points

    count = n_windows(n, window, stride)
    values = np.random.default_rng(n).normal(size=count)
    values[5:9] = 1.0  # some ties and a constant stretch
    got = windows_to_points(values, n, window, stride, how="kde_mode")
    np.testing.assert_allclose(got, _kde_mode_reference(values, n, window, stride), atol=1e-6)


def test_kde_mode_takes_one_value_per_window():
    from tsadbench.data.windows import windows_to_points

    with pytest.raises(ValueError, match="one value per window"):
        windows_to_points(np.zeros((5, 4)), 8, 4, 1, how="kde_mode")
