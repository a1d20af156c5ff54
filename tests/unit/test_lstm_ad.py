"""LSTM-AD's error vectors, Gaussian and score against the definitions, point by point."""

from __future__ import annotations

import numpy as np
import torch
from scipy.stats import multivariate_normal

from tsadbench.detectors.lstm_ad import LSTMAD

rng = np.random.default_rng(0)
T = np.arange(300)
X = (np.c_[np.sin(T / 4), np.cos(T / 6)] + 0.05 * rng.normal(size=(300, 2))).astype(np.float32)


def _fitted(**params: object) -> LSTMAD:
    settings = {"window": 8, "horizon": 3, "hidden": 6, "n_epochs": 3, "random_state": 0}
    return LSTMAD(**{**settings, **params, "device": "cpu"}).fit(X)  # type: ignore[arg-type]


def test_each_point_gets_the_errors_of_its_l_predictions():
    det = _fitted()
    vectors = det._error_vectors(X)
    history, horizon = 5, 3
    assert vectors.shape == (300 - 8 - 3 + 2, 3 * 2)
    with torch.no_grad():
        for row, t in [(0, 7), (50, 57), (len(vectors) - 1, 297)]:
            for j in range(horizon):  # x(t) as predicted from the history ending at t - 1 - j
                start = t - history - j
                past = torch.from_numpy(X[start : start + history][None])
                predicted = det.module_(past)[0, j].double().numpy()
                np.testing.assert_allclose(
                    vectors[row].reshape(horizon, 2)[j], X[t] - predicted, rtol=1e-5, atol=1e-6
                )


def test_the_gaussian_is_fitted_on_the_held_out_end_and_scores_are_its_log_likelihood():
    det = _fitted(validation_size=0.25)
    held_out = det._error_vectors(X[225:])
    np.testing.assert_allclose(det.mean_, held_out.mean(axis=0), rtol=1e-10)
    scores = det.score(X)
    vectors = det._error_vectors(X)
    cov = np.linalg.inv(det.precision_)
    log_p = multivariate_normal(det.mean_, cov).logpdf(vectors)
    # the score is -2 log p up to one constant
    np.testing.assert_allclose(scores[7 : 7 + len(vectors)] + 2 * log_p, (scores[7] + 2 * log_p[0]))
    # points without all their predictions take the nearest full point's score
    assert (scores[:7] == scores[7]).all() and (scores[-2:] == scores[-3]).all()


def test_without_a_held_out_part_the_train_errors_fit_the_gaussian():
    det = _fitted(validation_size=0.0, patience=0)
    np.testing.assert_allclose(det.mean_, det._error_vectors(X).mean(axis=0), rtol=1e-10)
