"""Detectors: the base classes and one module per detector family.

Importing this package does not import torch; the registry imports the detector modules on
first lookup (``tsadbench.registry.DETECTORS``).
"""

from tsadbench.detectors.base import (
    BaseDetector,
    DetectorTags,
    TorchDetector,
    check_series,
)
from tsadbench.registry import DETECTORS, create_detector, list_detectors, register_detector

__all__ = [
    "DETECTORS",
    "BaseDetector",
    "DetectorTags",
    "TorchDetector",
    "check_series",
    "create_detector",
    "list_detectors",
    "register_detector",
]
