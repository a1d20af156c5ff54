"""Every registered detector, checked without anyone listing it (STYLE.md, Tests)."""

from __future__ import annotations

import inspect
import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from tsadbench.detectors import BaseDetector
from tsadbench.registry import DETECTORS, create_detector, list_detectors
from tsadbench.testing import check_detector

NAMES = list_detectors()
FIXTURES = Path(os.environ["TSADBENCH_CACHE"]) / "fixtures"  # the session's own (conftest)


def settings(name: str) -> dict[str, object]:
    """The detector's ``test_params`` with what its ``test_fixture`` writes (a checkpoint)."""
    cls = DETECTORS.get(name)
    return {**cls.test_params, **cls.test_fixture(FIXTURES)}


def make(name: str, **extra: object) -> BaseDetector:
    cls = DETECTORS.get(name)
    params = {**settings(name), **extra}
    if "random_state" in cls._param_names():
        params.setdefault("random_state", 0)
    if "device" in cls._param_names():
        params.setdefault("device", "cpu")
    det = create_detector(name, **params)
    assert isinstance(det, BaseDetector)
    reason = det.check_available()
    if reason:  # e.g. pretrained weights nobody has here; such detectors have their own tests
        pytest.skip(f"{name} cannot run here: {reason}")
    return det


@pytest.mark.parametrize("name", NAMES)
def test_default_construction_keeps_params_unchanged(name):
    cls = DETECTORS.get(name)
    det = cls()
    sig = inspect.signature(cls.__init__)
    for p in list(sig.parameters.values())[1:]:
        assert p.kind == p.KEYWORD_ONLY, f"{name}: {p.name} must be keyword-only"
        assert getattr(det, p.name) == p.default
    assert det.get_params() == {p: getattr(det, p) for p in cls._param_names()}
    det.check_params()  # the defaults are valid
    assert DETECTORS.entry(name).description, f"{name} needs a docstring"


@pytest.mark.parametrize("name", NAMES)
def test_fit_score_contract(name, small_entity):
    det = make(name)
    before = det.get_params()
    assert det.fit(small_entity.train) is det
    assert det.get_params() == before  # fit never changes hyper-parameters
    s = det.score(small_entity.test)
    assert s.shape == (len(small_entity.test),) and s.dtype == np.float64
    assert np.isfinite(s).all()
    assert det.score(small_entity.test[:50]).shape == (50,)


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_scores_and_refit_replaces(name, small_entity):
    a = make(name).fit(small_entity.train).score(small_entity.test)
    det = make(name)
    det.fit(small_entity.test)  # fit on something else first: refitting must replace
    b = det.fit(small_entity.train).score(small_entity.test)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", NAMES)
def test_univariate_input(name, small_entity):
    det = make(name)
    reason = det.check_available(1)
    if reason:  # e.g. a method of the structure between variables
        pytest.skip(reason)
    det.fit(small_entity.train[:, :1])
    assert det.score(small_entity.test[:, :1]).shape == (len(small_entity.test),)


@pytest.mark.parametrize("name", NAMES)
def test_clear_errors_on_bad_input(name, small_entity):
    det = make(name)
    bad = small_entity.train.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        det.fit(bad)
    with pytest.raises(ValueError, match="empty"):
        det.fit(np.zeros((0, 3)))
    with pytest.raises(ValueError, match="2-D array"):
        det.fit(small_entity.train[:, 0])
    with pytest.raises(RuntimeError, match="not fitted"):
        make(name).score(small_entity.test)
    det.fit(small_entity.train)
    with pytest.raises(ValueError, match="fit on 3 channel"):
        det.score(small_entity.test[:, :2])
    if det.min_length > 1:
        with pytest.raises(ValueError, match=f"at least {det.min_length} time steps"):
            det.score(small_entity.test[: det.min_length - 1])


@pytest.mark.parametrize("name", NAMES)
def test_invalid_hyper_parameters_are_named(name):
    det = DETECTORS.get(name)()
    params = det.get_params()
    key = "window" if "window" in params else None
    if key is None:
        pytest.skip("no window parameter")
    det.set_params(window=0)
    with pytest.raises(ValueError, match=r"'window' parameter of .* must be .*an int >= \d"):
        det.check_params()


@pytest.mark.parametrize("name", NAMES)
def test_pickle_roundtrip(name, small_entity):
    det = make(name).fit(small_entity.train)
    clone = pickle.loads(pickle.dumps(det))
    np.testing.assert_array_equal(clone.score(small_entity.test), det.score(small_entity.test))


@pytest.mark.parametrize("name", NAMES)
def test_root_cause_scores_have_one_column_per_channel(name, small_entity):
    det = make(name)
    if not det.tags.root_cause:
        pytest.skip("gives no per-channel scores")
    det.fit(small_entity.train)
    scores, channels = det.score_with_channels(small_entity.test)
    assert channels.shape == small_entity.test.shape
    assert np.isfinite(channels).all() and (channels >= 0).all()
    # the scores that come with the channels are the detector's scores
    np.testing.assert_allclose(scores, det.score(small_entity.test), rtol=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_it_detects_with_the_right_direction_and_alignment(name):
    """tsadbench.testing's behavioural check: beats random on vus_pr, negated scores and
    scores shifted by a window do clearly worse. A detector that cannot says why in its
    registration, and the check must then fail for it (strict xfail)."""
    make(name)  # skipped where it cannot run here (an optional extra not installed)
    why = DETECTORS.entry(name).info.behaviour
    if why:
        with pytest.raises(AssertionError, match="fails the behavioural check"):
            check_detector(name, folder=FIXTURES)
        pytest.xfail(why)
    found = check_detector(name, folder=FIXTURES)  # its test_params and test_fixture
    print(found.summary())


@pytest.mark.parametrize("name", NAMES)
def test_declared_window_energies_are_given_and_undeclared_ones_refused(name, small_entity):
    """The ``window_energies`` capability is a declared tag with one hook: a detector that
    declares it gives finite energies, one that does not refuses by name."""
    det = make(name).fit(small_entity.train)
    if det.tags.window_energies:
        energies = det.window_energies(small_entity.train)
        assert energies.ndim == 1 and len(energies) > 0 and np.isfinite(energies).all()
    else:
        with pytest.raises(NotImplementedError, match="gives no window energies"):
            det.window_energies(small_entity.train)


@pytest.mark.parametrize("name", NAMES)
def test_scikit_learns_parameter_conventions(name, small_entity):
    """get_params(deep), set_params and sklearn.base.clone: a clone is unfitted, with the same
    parameters, and scores as the original after the same fit."""
    from sklearn.base import clone

    det = make(name)
    assert det.get_params(deep=True) == det.get_params(deep=False) == det.get_params()
    fitted = det.fit(small_entity.train)
    twin = clone(fitted)
    assert type(twin) is type(det) and twin.get_params() == det.get_params()
    assert not any(k.endswith("_") and not k.startswith("_") for k in vars(twin))  # unfitted
    np.testing.assert_array_equal(
        twin.fit(small_entity.train).score(small_entity.test), fitted.score(small_entity.test)
    )
    first = DETECTORS.get(name)._param_names()[0]
    assert det.set_params(**{first: det.get_params()[first]}) is det
    with pytest.raises(ValueError, match="has no parameter 'nosuch'"):
        det.set_params(nosuch=1)
