"""tsadbench: benchmark time-series anomaly detectors with honest, reproducible numbers."""

__version__ = "0.1.0"
