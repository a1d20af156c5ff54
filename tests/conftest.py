from __future__ import annotations

import numpy as np
import pytest

from tsadbench.data import Entity, load_dataset


@pytest.fixture(scope="session")
def small_entity() -> Entity:
    """A short synthetic series (3 channels) for fast detector checks."""
    ds = load_dataset("synthetic", length=300, n_channels=3, n_anomalies=3)
    return ds.entities[0]


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)
