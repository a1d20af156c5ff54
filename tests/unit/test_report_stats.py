"""Rank statistics and the SVG helpers of the report."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from tsadbench.report.stats import cliques, friedman, nemenyi_cd, not_meaningful, ranks
from tsadbench.report.svg import cd_diagram, decimate


def test_ranks_are_one_for_the_best_and_share_ties():
    table = pd.DataFrame({"a": [0.9, 0.5, np.nan], "b": [0.1, 0.5, 0.3], "c": [0.5, 0.2, 0.4]})
    r = ranks(table)
    assert r.shape == (2, 3)  # the row with a missing value is left out
    assert r.iloc[0].tolist() == [1.0, 3.0, 2.0]
    assert r.iloc[1].tolist() == [1.5, 1.5, 3.0]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_friedman_matches_scipy_with_and_without_ties(seed):
    rng = np.random.default_rng(seed)
    table = pd.DataFrame(rng.random((10, 4)).round(1), columns=list("abcd"))  # some ties
    ours = friedman(ranks(table))
    ref = stats.friedmanchisquare(*(table[c] for c in table))
    assert ours.statistic == pytest.approx(ref.statistic, rel=1e-9)
    assert ours.p_value == pytest.approx(ref.pvalue, rel=1e-9)


def test_nemenyi_cd_matches_demsar_table():
    # Demšar (2006), Table 5a: q_0.05 for k = 2..6 is 1.960, 2.343, 2.569, 2.728, 2.850
    for k, q in [(2, 1.960), (3, 2.343), (4, 2.569), (5, 2.728), (6, 2.850)]:
        n = 14
        assert nemenyi_cd(k, n) == pytest.approx(q * np.sqrt(k * (k + 1) / (6 * n)), abs=2e-3)


def test_friedman_refuses_too_little_data():
    with pytest.raises(ValueError, match="at least 2 blocks and 3 detectors"):
        friedman(pd.DataFrame({"a": [1.0]}))
    with pytest.raises(ValueError, match="at least 2 blocks and 3 detectors"):
        friedman(pd.DataFrame({"a": [1.0, 2.0], "b": [2.0, 1.0]}))


def test_a_test_on_too_few_blocks_says_why_it_is_not_meaningful():
    rng = np.random.default_rng(0)
    # the CI report's case: 13 detectors on 4 blocks, a CD of 9 on a 1-13 axis
    few = friedman(ranks(pd.DataFrame(rng.random((4, 13)))))
    assert few.cd > 9 and "4 blocks are too few" in not_meaningful(few)
    assert "CD = 9.12 on ranks 1 to 13" in not_meaningful(few)
    enough = friedman(ranks(pd.DataFrame(rng.random((30, 4)))))
    assert not_meaningful(enough) is None


def test_cliques_join_detectors_closer_than_the_cd():
    mean_ranks = pd.Series({"a": 1.0, "b": 1.5, "c": 3.0, "d": 3.2})
    assert cliques(mean_ranks, 1.0) == [["a", "b"], ["c", "d"]]
    assert cliques(mean_ranks, 5.0) == [["a", "b", "c", "d"]]
    assert cliques(mean_ranks, 0.1) == []


def test_decimate_keeps_every_spike():
    y = np.zeros(100_000)
    y[[123, 54_321, 99_999]] = [5.0, -7.0, 3.0]
    x, v = decimate(y, 1000)
    assert len(x) <= 1000 and {123, 54_321, 99_999} <= set(x.tolist())
    assert v.max() == 5.0 and v.min() == -7.0


def test_cd_diagram_places_every_detector():
    picture = cd_diagram({"a<b": 1.2, "c": 2.8}, 1.1, [], "title")
    assert picture.startswith("<svg") and "a&lt;b (1.20)" in picture and "c (2.80)" in picture
