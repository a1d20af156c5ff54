"""``synthetic``: a seeded multivariate series with labelled anomalies of several kinds.

Every channel mixes two shared seasonal factors (so channels are correlated) with a seasonal
component of its own and Gaussian noise. The train split is normal. The test split continues the
same process and holds non-overlapping anomalies, cycling through six kinds, each touching a
random subset of channels:

``spike``          1-3 points pushed 5-7 standard deviations away;
``level_shift``    the segment moved by 2-3 standard deviations;
``contextual``     the seasonal pattern jumps half a period: every value stays in the normal
                   range, only the context is wrong;
``shape``          the seasonal wave replaced by a square wave of the same amplitude;
``trend``          a ramp from 0 to 3 standard deviations;
``variance``       the noise multiplied by eight.

It is the embedded default dataset: it needs no download and a good detector visibly beats
``random`` on it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tsadbench.checks import is_int, is_number
from tsadbench.data import Dataset, Entity
from tsadbench.registry import register_dataset

KINDS = ("spike", "level_shift", "contextual", "shape", "trend", "variance")


def _check_int(name: str, value: object, minimum: int) -> int:
    if not is_int(value) or value < minimum:
        raise ValueError(
            f"The '{name}' parameter of the synthetic dataset must be an int >= {minimum}. "
            f"Got {value!r} instead."
        )
    return int(value)


def _entity(
    name: str, length: int, n_channels: int, n_anomalies: int, noise: float, seed: int
) -> Entity:
    rng = np.random.default_rng(seed)
    t = np.arange(2 * length, dtype=np.float64)  # train then test, one continuous process
    periods = rng.uniform(20, 120, size=2 + n_channels)
    phases = rng.uniform(0, 2 * np.pi, size=2 + n_channels)

    def seasonal(tt: np.ndarray) -> np.ndarray:
        waves = np.sin(2 * np.pi * tt[:, None] / periods + phases)  # (n, 2 + n_channels)
        return waves[:, :2] @ mixing + 0.5 * waves[:, 2:]

    mixing = rng.normal(0, 1, size=(2, n_channels))
    clean = seasonal(t)
    series = clean + noise * rng.standard_normal(clean.shape)
    train, test = series[:length], series[length:].copy()
    sd = train.std(axis=0)
    labels = np.zeros(length, dtype=np.int8)

    # non-overlapping segments, separated by normal stretches, never at the very start
    lengths = [
        int(rng.integers(1, 4)) if KINDS[i % len(KINDS)] == "spike" else int(rng.integers(20, 60))
        for i in range(n_anomalies)
    ]
    free = length - 100 - sum(lengths) - 20 * n_anomalies
    if free < 0:
        raise ValueError(
            f"The synthetic dataset cannot fit {n_anomalies} anomalies into length={length}; "
            f"use a larger 'length' or fewer 'n_anomalies'."
        )
    gaps = np.diff(np.sort(rng.integers(0, free + 1, size=n_anomalies)), prepend=0)
    pos = 100
    for i, (seg_len, gap) in enumerate(zip(lengths, gaps, strict=True)):
        start = pos + int(gap)
        seg = slice(start, start + seg_len)
        pos = start + seg_len + 20
        kind = KINDS[i % len(KINDS)]
        k = int(rng.integers(1, n_channels + 1))
        ch = rng.choice(n_channels, size=k, replace=False)
        sign = rng.choice([-1.0, 1.0], size=k)
        tt = t[length:][seg]
        if kind == "spike":
            test[seg, ch] += sign * rng.uniform(5, 7, size=k) * sd[ch]
        elif kind == "level_shift":
            test[seg, ch] += sign * rng.uniform(2, 3, size=k) * sd[ch]
        elif kind == "contextual":
            shifted = seasonal(tt + periods[:2].mean() / 2)
            test[seg, ch] += shifted[:, ch] - clean[length:][seg][:, ch]
        elif kind == "shape":
            square = np.sign(np.sin(2 * np.pi * tt / periods[2:3].mean()))[:, None]
            test[seg, ch] = square * sd[ch] * np.sqrt(2) + train[:, ch].mean(axis=0)
        elif kind == "trend":
            ramp = np.linspace(0, 3, seg_len)[:, None]
            test[seg, ch] += sign * ramp * sd[ch]
        else:  # variance
            test[seg, ch] += 7 * noise * rng.standard_normal((seg_len, k))
        labels[seg] = 1

    return Entity(
        name=name,
        train=train.astype(np.float32),
        test=test.astype(np.float32),
        labels=labels,
        meta={"kinds": [KINDS[i % len(KINDS)] for i in range(n_anomalies)]},
    )


@register_dataset("synthetic")
def load_synthetic(
    data_root: Path | None = None,
    *,
    n_entities: int = 1,
    length: int = 2000,
    n_channels: int = 5,
    n_anomalies: int = 12,
    noise: float = 0.1,
    random_state: int = 0,
) -> Dataset:
    """Seeded multivariate series, normal train split, test with six kinds of labelled anomaly.

    Parameters
    ----------
    data_root : ignored (the data is generated).
    n_entities : int
        Number of independent series.
    length : int
        Time steps in each of the train and test splits.
    n_channels : int
    n_anomalies : int
        Anomalous segments per test split, cycling through the six kinds.
    noise : float
        Standard deviation of the Gaussian noise (the seasonal part has unit amplitude).
    random_state : int
        Seed of the generator: the same settings always give the same data.
    """
    n_entities = _check_int("n_entities", n_entities, 1)
    length = _check_int("length", length, 200)
    n_channels = _check_int("n_channels", n_channels, 1)
    n_anomalies = _check_int("n_anomalies", n_anomalies, 1)
    if not is_number(noise) or not np.isfinite(noise) or noise <= 0:
        raise ValueError(
            f"The 'noise' parameter of the synthetic dataset must be a float > 0. Got {noise!r}."
        )
    _check_int("random_state", random_state, 0)
    seeds = np.random.SeedSequence(random_state).spawn(n_entities)
    entities = [
        _entity(
            f"series_{i}",
            length,
            n_channels,
            n_anomalies,
            float(noise),
            int(s.generate_state(1)[0]),
        )
        for i, s in enumerate(seeds)
    ]
    return Dataset(name="synthetic", entities=entities)
