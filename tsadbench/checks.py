"""The shared validators of settings and parameters: one definition of "an int" (a bool is not
one, a numpy integer is) and of "a number", used by the run settings, the detectors' and the
metrics' parameter checks and the data loaders."""

from __future__ import annotations

from typing import Any, TypeGuard

import numpy as np


def is_int(value: Any) -> TypeGuard[int]:
    """``value`` is an integer (Python's or numpy's), not a bool."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def is_number(value: Any) -> TypeGuard[float]:
    """``value`` is a real number (int or float, Python's or numpy's), not a bool."""
    return is_int(value) or isinstance(value, (float, np.floating))
