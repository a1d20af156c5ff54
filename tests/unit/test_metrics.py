"""Golden tests on hand-computed cases, edge cases, and the exact threshold search."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import f1_score

from tsadbench.metrics import evaluate, parse_metric
from tsadbench.metrics.pa import pa_f1, point_adjust

Y = np.array([0, 1, 1, 1, 0, 0, 1, 1, 0, 0])
S = np.array([0.1, 0.2, 0.9, 0.1, 0.3, 0.2, 0.1, 0.25, 0.05, 0.0])


def test_golden_values():
    got = evaluate(Y, S, ["auc_roc", "auc_pr", "f1@oracle", "pa_f1@oracle"])
    # pa_f1@oracle: t = 0.25 hits both events (TP 5) with one false positive (0.3): 10 / 11
    assert got["pa_f1@oracle"] == pytest.approx(10 / 11)
    # f1@oracle: best at t = 0.1 -> TP 5, FP 3 (0.3, 0.2, 0.1), FN 0: 10 / 13
    # (t = 0.2 gives TP 3, FP 2, FN 2: 0.6; t = 0.9 gives 1/3)
    assert got["f1@oracle"] == pytest.approx(10 / 13)
    # auc_roc: P(score_pos > score_neg) with ties counted half, 5 x 5 pairs
    pos, neg = S[Y == 1], S[Y == 0]
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    assert got["auc_roc"] == pytest.approx(wins / 25)


def test_point_adjust_fills_the_whole_event_including_index_0():
    y = np.array([1, 1, 1, 1, 0, 0, 1, 1, 0])
    p = np.array([0, 0, 1, 0, 0, 1, 0, 0, 0])
    np.testing.assert_array_equal(point_adjust(y, p), [1, 1, 1, 1, 0, 1, 0, 0, 0])
    # TP 4, FP 1, FN 2 -> 8 / 11
    assert pa_f1(y, p) == pytest.approx(8 / 11)


@settings(max_examples=60)
@given(st.integers(0, 2**31 - 1), st.integers(20, 200))
def test_oracle_search_is_exact_and_rank_invariant(seed, n):
    rng = np.random.default_rng(seed)
    y = (rng.uniform(size=n) < 0.3).astype(int)
    y[0], y[-1] = 0, 1
    s = np.round(rng.normal(size=n), 1)  # ties on purpose
    best_f1 = max(f1_score(y, s >= t) for t in np.unique(s))
    best_pa = max(pa_f1(y, s >= t) for t in np.unique(s))
    got = evaluate(y, s, ["f1@oracle", "pa_f1@oracle"])
    assert got["f1@oracle"] == pytest.approx(best_f1)
    assert got["pa_f1@oracle"] == pytest.approx(best_pa)
    assert evaluate(y, np.exp(3 * s), ["f1@oracle", "pa_f1@oracle"]) == pytest.approx(got)


def test_degenerate_inputs():
    y = np.array([0, 1, 1, 0, 0])
    const = np.zeros(5)
    got = evaluate(y, const, ["auc_roc", "auc_pr", "f1@oracle", "pa_f1@oracle"])
    assert got["auc_roc"] == 0.5
    assert got["auc_pr"] == pytest.approx(0.4)  # the anomaly ratio
    assert got["f1@oracle"] == pytest.approx(2 * 0.4 / 1.4)  # all predicted: P 0.4, R 1
    perfect = evaluate(y, y.astype(float), ["auc_roc", "auc_pr", "f1@oracle", "pa_f1@oracle"])
    assert all(v == 1.0 for v in perfect.values())
    for labels in (np.zeros(5), np.ones(5)):  # undefined: NaN and the reason, never 0
        got = evaluate(labels, const, ["auc_pr", "f1@oracle"])
        assert all(math.isnan(v) for v in got.values())
        assert "undefined" in got.errors["auc_pr"] and "undefined" in got.errors["f1@oracle"]
        assert got.params["auc_pr"] == {"metric": "auc_pr", "params": {}}


@pytest.mark.parametrize(
    ("labels", "scores", "message"),
    [
        ([0, 1], [0.1, 0.2, 0.3], "same length"),
        ([0, 2, 1], [0.1, 0.2, 0.3], "binary"),
        ([0, 1, 1], [0.1, np.nan, 0.3], "finite"),
        ([], [], "empty"),
    ],
)
def test_bad_input_is_named(labels, scores, message):
    with pytest.raises(ValueError, match=message):
        evaluate(np.array(labels), np.array(scores), ["auc_roc"])


def test_metric_names_follow_the_naming_rule():
    spec = parse_metric("pa_f1@oracle")
    assert (spec.name, spec.metric, spec.protocol) == ("pa_f1@oracle", "pa_f1", "oracle")
    assert parse_metric("auc_pr").name == "auc_pr"
    # defaults are dropped from the name but kept in the spec
    vus = parse_metric("vus_pr(window=100)")
    assert vus.name == "vus_pr" and vus.params == {"window": 100, "n_thresholds": 250}
    spec = parse_metric("pa_k_f1(k=50)@train_quantile(q=0.995)")
    assert spec.name == "pa_k_f1(k=50)@train_quantile(q=0.995)"
    assert spec.params == {"k": 50} and spec.protocol_params == {"q": 0.995}
    assert parse_metric(" f1 @ train_quantile ( q = 0.99 ) ").name == "f1@train_quantile"
    with pytest.raises(ValueError, match="needs a threshold protocol"):
        parse_metric("pa_f1")
    with pytest.raises(ValueError, match="threshold-free"):
        parse_metric("auc_pr@oracle")
    with pytest.raises(ValueError, match="Unknown threshold protocol 'spot'"):
        parse_metric("f1@spot")
    with pytest.raises(ValueError, match="Unknown metric"):
        parse_metric("vus_pr_typo")
    with pytest.raises(ValueError, match="has no parameter"):
        parse_metric("vus_pr(widow=3)")
    with pytest.raises(ValueError, match="needs its threshold"):
        parse_metric("f1@fixed")
    with pytest.raises(ValueError, match="'name=value'"):
        parse_metric("vus_pr(100)")


def test_label_free_protocols():
    y = np.array([0, 0, 0, 0, 1, 1, 0, 0, 0, 0])
    s = np.array([0.1, 0.2, 0.3, 0.4, 0.9, 0.8, 0.5, 0.6, 0.7, 0.0])
    train = np.linspace(0, 1, 101)  # its 0.75-quantile is 0.75
    got = evaluate(
        y,
        s,
        [
            "f1@train_quantile(q=0.75)",
            "f1@test_ratio(r=30.0)",
            "precision@fixed(t=0.55)",
            "recall@fixed(t=0.85)",
        ],
        train_scores=train,
    )
    assert got["f1@train_quantile(q=0.75)"] == pytest.approx(1.0)  # 0.9, 0.8 > 0.75
    # top 30% of the test scores: the 70th percentile is 0.63, so 0.9, 0.8, 0.7 are flagged
    assert got["f1@test_ratio(r=30.0)"] == pytest.approx(2 * 2 / (3 + 2))
    assert got["precision@fixed(t=0.55)"] == pytest.approx(2 / 4)  # 0.9 0.8 0.6 0.7
    assert got["recall@fixed(t=0.85)"] == pytest.approx(1 / 2)
    without = evaluate(y, s, ["f1@train_quantile", "auc_pr"])  # NaN and why; the rest computed
    assert math.isnan(without["f1@train_quantile"]) and without["auc_pr"] > 0
    assert "needs the train scores" in without.errors["f1@train_quantile"]


def test_companions_report_at_the_f1_optimal_threshold():
    got = evaluate(Y, S, ["pa_f1@oracle", "pa_precision@oracle", "pa_recall@oracle"])
    p, r = got["pa_precision@oracle"], got["pa_recall@oracle"]
    assert got["pa_f1@oracle"] == pytest.approx(2 * p * r / (p + r))
    assert (p, r) == (pytest.approx(5 / 6), 1.0)  # t = 0.25: 5 adjusted TPs, 1 FP


def test_pa_variants_match_brute_force():
    rng = np.random.default_rng(3)
    y = np.zeros(200, int)
    for a, b in ((10, 30), (50, 51), (120, 170), (190, 200)):
        y[a:b] = 1
    s = np.round(rng.normal(size=200) + y, 1)

    def brute(adjust):
        best = 0.0
        for t in np.unique(s):
            p = adjust((s >= t).astype(int))
            tp = np.sum(p & (y == 1))
            best = max(best, 2 * tp / (p.sum() + y.sum()))
        return best

    def pa_k(p, k):
        out = p.copy()
        for a, b in ((10, 30), (50, 51), (120, 170), (190, 200)):
            if p[a:b].sum() > k / 100 * (b - a):
                out[a:b] = 1
        return out

    def delay(p, d):
        out = p.copy()
        for a, b in ((10, 30), (50, 51), (120, 170), (190, 200)):
            out[a:b] = 1 if p[a : min(a + d + 1, b)].any() else 0
        return out

    got = evaluate(y, s, ["pa_f1@oracle", "pa_k_f1(k=30)@oracle", "delay_pa_f1(delay=3)@oracle"])
    assert got["pa_f1@oracle"] == pytest.approx(brute(lambda p: pa_k(p, 0)))
    assert got["pa_k_f1(k=30)@oracle"] == pytest.approx(brute(lambda p: pa_k(p, 30)))
    assert got["delay_pa_f1(delay=3)@oracle"] == pytest.approx(brute(lambda p: delay(p, 3)))


def test_pa_k_auc_spans_pa_and_plain_f1():
    # with two K (0 and 100) the area is the mean of PA-F1 and point F1
    got = evaluate(Y, S, ["pa_k_auc(n_k=2)@oracle", "pa_f1@oracle", "f1@oracle"])
    assert got["pa_k_auc(n_k=2)@oracle"] == pytest.approx(
        (got["pa_f1@oracle"] + got["f1@oracle"]) / 2
    )
    pred = (S >= 0.25).astype(float)
    fixed = evaluate(
        Y,
        pred,
        [
            "pa_k_auc(n_k=3)@fixed(t=0.5)",
            "pa_k_f1(k=50)@fixed(t=0.5)",
            "pa_f1@fixed(t=0.5)",
            "f1@fixed(t=0.5)",
        ],
    )
    expected = (
        fixed["pa_f1@fixed(t=0.5)"]
        + 2 * fixed["pa_k_f1(k=50)@fixed(t=0.5)"]
        + fixed["f1@fixed(t=0.5)"]
    ) / 4
    assert fixed["pa_k_auc(n_k=3)@fixed(t=0.5)"] == pytest.approx(expected)


def test_gpd_fit_is_the_maximum_likelihood_fit():
    from scipy.stats import genpareto

    from tsadbench.metrics.thresholds import gpd_fit

    rng = np.random.default_rng(0)
    for shape in (-0.2, 0.0, 0.3, 0.8):
        y = genpareto.rvs(shape, scale=2.0, size=3000, random_state=rng)
        gamma, sigma = gpd_fit(y)
        ref_shape, _, ref_scale = genpareto.fit(y, floc=0)
        ours = genpareto.logpdf(y, gamma, scale=sigma).sum()
        theirs = genpareto.logpdf(y, ref_shape, scale=ref_scale).sum()
        assert ours >= theirs - 1e-6
        assert gamma == pytest.approx(ref_shape, abs=1e-3)


def test_pot_train_threshold():
    from tsadbench.metrics.thresholds import pot_train

    # an exponential tail: the POT quantile of level q is -log(q) for unit rate
    train = np.random.default_rng(2).exponential(size=200_000)
    assert pot_train(None, train, q=1e-4, level=0.95) == pytest.approx(-np.log(1e-4), rel=0.02)
    with pytest.raises(ValueError, match="at least 10 train scores above"):
        pot_train(None, np.arange(100.0), level=0.95)
    y = np.r_[np.zeros(95), np.ones(5)].astype(int)
    s = np.r_[np.random.default_rng(3).exponential(size=95), np.full(5, 50.0)]
    got = evaluate(y, s, ["f1@pot_train"], train_scores=train)
    assert got["f1@pot_train"] == pytest.approx(1.0)


RANK_METRICS = [
    "auc_roc",
    "auc_pr",
    "vus_roc(window=10)",
    "vus_pr(window=10)",
    "r_auc_roc(window=10)",
    "r_auc_pr(window=10)",
]
# not pate: its thresholds are interpolated percentiles of the scores, not score values, so a
# non-linear monotone transform moves them (metrics.md §8)


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 2**31 - 1))
def test_rank_metrics_ignore_monotone_transforms(seed):
    rng = np.random.default_rng(seed)
    n = 300
    y = np.zeros(n, dtype=int)
    for start in rng.choice(n - 20, size=3, replace=False):
        y[start : start + rng.integers(1, 15)] = 1
    s = rng.normal(size=n) + y
    before = evaluate(y, s, RANK_METRICS)
    after = evaluate(y, np.exp(2 * s) + 5, RANK_METRICS)
    assert after == pytest.approx(before, rel=1e-9)


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 2**31 - 1))
def test_shuffled_labels_drive_pa_f1_down(seed):
    rng = np.random.default_rng(seed)
    n = 2000
    y = np.zeros(n, dtype=int)
    for start in (200, 900, 1500):
        y[start : start + 40] = 1
    s = y * 2.0 + rng.normal(size=n)
    good = evaluate(y, s, ["pa_f1@oracle", "vus_pr"])
    shuffled = evaluate(y, rng.permutation(s), ["pa_f1@oracle", "vus_pr"])
    assert shuffled["pa_f1@oracle"] < good["pa_f1@oracle"]
    assert shuffled["vus_pr"] < good["vus_pr"]


def test_pot_runs_spot_over_the_test_scores():
    from tsadbench.metrics.thresholds import pot, pot_train

    train = np.random.default_rng(4).exponential(size=5000)
    start = pot_train(None, train)
    # scores below the initial threshold never touch the tail: the threshold stays put
    assert pot(np.zeros(50), train) == pytest.approx(start)
    # alarms (above the current threshold) do not either
    assert pot(np.full(50, 1e6), train) == pytest.approx(start)
    # scores that join the tail refit it and move the thresholds, whose mean is returned
    joining = np.quantile(train, 0.99) + np.linspace(0, 1, 200)
    assert pot(joining, train) != pytest.approx(start)


def _config_metric_names() -> list[str]:
    """Every metric name with parameters that the shipped configs give (lists and keys)."""
    from pathlib import Path

    from omegaconf import OmegaConf

    def strings(node):
        if isinstance(node, dict):
            for key, value in node.items():
                yield str(key)
                yield from strings(value)
        elif isinstance(node, list):
            for value in node:
                yield from strings(value)
        elif isinstance(node, str):
            yield node

    found = set()
    for path in (Path(__file__).parents[2] / "conf").rglob("*.yaml"):
        for text in strings(OmegaConf.to_container(OmegaConf.load(path))):
            try:
                if "(" in parse_metric(text).name:
                    found.add(text)
            except (ValueError, KeyError):
                continue  # not a metric name
    return sorted(found)


def test_bad_metric_parameter_values_are_refused_before_any_run():
    from tsadbench.metrics import check_params, parse_metric

    for name, message in [
        ("vus_pr(window=-5)", r"vus_pr\(window=-5\): The 'window' parameter must be an int >= 0"),
        ("f1@train_quantile(q=2)", r"f1@train_quantile\(q=2\): The 'q' parameter must be"),
        ("range_f1(bias='up')@oracle", r"The 'bias' parameter must be one of"),
        ("pate(e_buffer=-1)", r"The 'e_buffer' parameter must be an int >= 0"),
        ("delay_pa_f1(delay=-1)@oracle", r"The 'delay' parameter must be an int >= 0"),
    ]:
        with pytest.raises(ValueError, match=message):
            check_params([parse_metric(name)])
    # valid values pass, whatever the made-up series makes of them
    valid = [
        "vus_pr(window=1000)",  # longer than the made-up series
        "f1@train_quantile(q=0.995)",
        "range_f1(bias='back')@oracle",
        "pa_k_f1(k=50)@oracle",
        *_config_metric_names(),
    ]
    assert len(valid) > 6  # the configs' own names were found
    check_params([parse_metric(name) for name in valid])


def _curve_case(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A short series with a few events (at the edges too, one point long, one point apart) and
    tied scores."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 250))
    y = np.zeros(n, dtype=np.int64)
    for _ in range(int(rng.integers(1, 8))):
        a = int(rng.choice([0, n - 1, int(rng.integers(0, n))]))
        y[a : a + int(rng.integers(1, 15))] = 1
    if y.all():
        y[n // 2] = 0
    s = np.round(y * rng.uniform(0, 2) + rng.normal(0, 1, n), int(rng.integers(0, 3)))
    return y, s


@pytest.mark.parametrize("seed", range(60))
def test_the_oracle_curves_equal_each_threshold_on_its_own(seed):
    from tsadbench.metrics import affiliation
    from tsadbench.metrics import range as range_metrics

    y, s = _curve_case(seed)
    real = y.astype(bool)
    rng = np.random.default_rng(seed)
    p_alpha, r_alpha = rng.choice([0.0, 0.2, 1.0], 2)
    card = str(rng.choice(range_metrics.CARDINALITIES))
    bias = str(rng.choice(range_metrics.BIASES))
    zones = affiliation._zones(real)
    thresholds = np.r_[np.unique(s), s.min() - 1, s.max() + 1]
    for strict in (False, True):
        preds = [s > t if strict else s >= t for t in thresholds]
        precision, recall = affiliation._affiliation_curve(zones, s, thresholds, strict)
        each = np.array([affiliation._affiliation(zones, p) for p in preds])
        np.testing.assert_array_equal(np.isnan(precision), np.isnan(each[:, 0]))
        np.testing.assert_allclose(precision, each[:, 0], rtol=0, atol=1e-12)
        np.testing.assert_array_equal(recall, each[:, 1])  # the same pieces, summed alike
        precision, recall = range_metrics._range_curve(
            real, s, thresholds, strict, p_alpha, r_alpha, card, bias
        )
        each = np.array(
            [range_metrics._range_prf(real, p, p_alpha, r_alpha, card, bias)[:2] for p in preds]
        )
        np.testing.assert_allclose(precision, each[:, 0], rtol=0, atol=1e-12)
        np.testing.assert_array_equal(recall, each[:, 1])


@pytest.mark.parametrize("seed", range(10))
@pytest.mark.parametrize("metric", ["range_f1", "affiliation_f1"])
@pytest.mark.parametrize("params", ["", "(n_thresholds=0)", "(n_thresholds=7)", "(compat='tsbad')"])
def test_range_and_affiliation_oracles_are_the_best_fixed_threshold(seed, metric, params):
    """The oracle equals the best of the metric evaluated at each threshold of its grid."""
    from tsadbench.metrics.vus import rank_thresholds

    y, s = _curve_case(100 + seed)
    name = f"{metric}{params}@oracle" if "tsbad" in params else f"{metric}@oracle{params}"
    got = evaluate(y, s, [name])
    value = got[next(iter(got))]
    if "tsbad" in params:
        grid, flag = np.linspace(s.min(), s.max(), 100), (lambda t: s > t)
    else:
        n_thresholds = 250 if not params else int(params.split("=")[1][:-1])
        grid = np.unique(s) if n_thresholds == 0 else np.unique(rank_thresholds(s, n_thresholds))
        flag = lambda t: s >= t  # noqa: E731
    name = f"{metric}(compat='tsbad')" if "tsbad" in params else metric
    each = []
    for t in grid:
        r = evaluate(y, flag(t).astype(float), [f"{name}@fixed(t=0.5)"])
        each.append(r[next(iter(r))])
    assert value == pytest.approx(np.nanmax(each), abs=1e-12)


@pytest.mark.parametrize("seed", range(20))
def test_first_flagged_and_flagged_run_at_every_threshold(seed):
    from tsadbench.metrics.thresholds import first_flagged, flagged_run

    rng = np.random.default_rng(seed)
    seq = np.round(rng.normal(0, 1, int(rng.integers(0, 30))), 1)
    thresholds = np.r_[np.unique(seq), -5.0, 5.0, 0.05]
    for strict in (False, True):
        flagged = [seq > t if strict else seq >= t for t in thresholds]
        first = [int(np.argmax(f)) if f.any() else len(seq) for f in flagged]
        run = [int(np.argmin(f)) if not f.all() else len(seq) for f in flagged]
        if len(seq):
            assert first_flagged(seq, thresholds, strict).tolist() == first
        assert flagged_run(seq, thresholds, strict).tolist() == run
