"""Rank statistics for comparing detectors over many datasets (Demšar, JMLR 2006).

``ranks`` ranks the detectors within each block (a dataset or an entity; 1 = best, ties share
the mean rank), ``friedman`` tests whether the average ranks differ at all, and ``nemenyi_cd``
gives the critical difference: two detectors whose average ranks differ by less are not
significantly different at level ``alpha``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd


def ranks(table: pd.DataFrame) -> pd.DataFrame:
    """Rank the columns (detectors) within each row (block): 1 for the highest value, ties get
    their mean rank. Rows with a missing value are dropped (a rank needs every detector)."""
    complete = table.dropna(axis=0, how="any")
    out: pd.DataFrame = complete.rank(axis=1, ascending=False, method="average")
    return out


@dataclass(frozen=True)
class Friedman:
    """The Friedman test over ``n_blocks`` blocks and ``n_detectors`` detectors."""

    statistic: float  # chi-square statistic
    p_value: float
    n_blocks: int
    n_detectors: int
    cd: float  # the Nemenyi critical difference at ``alpha``
    alpha: float


#: fewer blocks than this and the test's chi-square approximation and the Nemenyi critical
#: difference say nothing worth drawing (Demšar 2006 asks for more than 10)
MIN_BLOCKS = 5


def friedman(rank_table: pd.DataFrame, alpha: float = 0.05) -> Friedman:
    """Friedman's chi-square test (scipy's, with its correction for ties) on a ranks table
    (blocks × detectors, from ``ranks``) and the Nemenyi critical difference. Needs at least 2
    blocks and 3 detectors (scipy's minimum: two detectors make a sign test)."""
    from scipy import stats

    n, k = rank_table.shape
    if n < 2 or k < 3:
        raise ValueError(
            f"The Friedman test needs at least 2 blocks and 3 detectors with values on every "
            f"block. Got {n} block(s) and {k} detector(s)."
        )
    result = stats.friedmanchisquare(*(rank_table[c].to_numpy(float) for c in rank_table))
    chi2, p_value = float(result.statistic), float(result.pvalue)
    if not np.isfinite(chi2):  # every block a complete tie: no evidence of any difference
        chi2, p_value = 0.0, 1.0
    return Friedman(
        statistic=chi2,
        p_value=p_value,
        n_blocks=n,
        n_detectors=k,
        cd=nemenyi_cd(k, n, alpha),
        alpha=alpha,
    )


def not_meaningful(test: Friedman) -> str | None:
    """Why the test and its critical-difference diagram say nothing here, or None."""
    if test.n_blocks < MIN_BLOCKS:
        return (
            f"{test.n_blocks} blocks are too few for the test's chi-square approximation and the "
            f"Nemenyi critical difference (CD = {test.cd:.2f} on ranks 1 to {test.n_detectors}; "
            f"at least {MIN_BLOCKS} blocks are needed, Demšar 2006 asks for more than 10)"
        )
    return None


def nemenyi_cd(k: int, n: int, alpha: float = 0.05) -> float:
    """Critical difference of the Nemenyi test: q_alpha · sqrt(k (k + 1) / (6 n)), with q_alpha
    the studentized range quantile (infinite degrees of freedom) divided by sqrt(2)."""
    from scipy import stats

    q = float(stats.studentized_range.ppf(1 - alpha, k, np.inf)) / math.sqrt(2)
    return q * math.sqrt(k * (k + 1) / (6 * n))


def cliques(mean_ranks: pd.Series, cd: float) -> list[list[str]]:
    """Maximal groups of detectors (sorted by rank) whose ranks lie within ``cd`` of each other:
    the bars of a critical-difference diagram. Single detectors are not groups."""
    order = mean_ranks.sort_values()
    names, values = list(order.index), order.to_numpy(float)
    groups: list[list[str]] = []
    for i in range(len(names)):
        j = i
        while j + 1 < len(names) and values[j + 1] - values[i] < cd:
            j += 1
        group = names[i : j + 1]
        if len(group) > 1 and not any(set(group) <= set(g) for g in groups):
            groups.append(group)
    return groups
