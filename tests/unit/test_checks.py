"""The shared validators: a bool is not a number anywhere a setting or parameter is checked."""

from __future__ import annotations

import numpy as np
import pytest

from tsadbench.checks import is_int, is_number
from tsadbench.metrics import evaluate
from tsadbench.registry import create_detector


def test_a_bool_is_neither_an_int_nor_a_number():
    assert is_int(3) and is_int(np.int64(3)) and not is_int(True) and not is_int(np.bool_(True))
    assert not is_int(3.0) and is_number(3.0) and is_number(np.float32(0.5))
    assert not is_number(False) and not is_number("1") and not is_number(None)


@pytest.mark.parametrize(
    ("name", "params", "what"),
    [
        ("ae", {"lr": True}, "'lr'"),  # was accepted: True >= 0
        ("ae", {"patience": True}, "'patience'"),
        ("memae", {"shrink_threshold": False}, "'shrink_threshold'"),
        ("tadgan", {"lambda_rec": True}, "'lambda_rec'"),
    ],
)
def test_detectors_refuse_a_bool_where_a_number_belongs(name, params, what):
    with pytest.raises(ValueError, match=what):
        create_detector(name, **params).check_params()


def test_metrics_refuse_a_bool_where_a_number_belongs():
    y, s = np.r_[np.zeros(20), np.ones(5)], np.linspace(0, 1, 25)
    got = evaluate(y, s, ["vus_pr(window=True)", "pa_k_f1(k=False)@oracle"])
    assert all(np.isnan(v) for v in got.values())
    assert "'window' parameter must be an int" in got.errors["vus_pr(window=True)"]
    assert "'k' parameter of PA%K" in got.errors["pa_k_f1(k=False)@oracle"]
