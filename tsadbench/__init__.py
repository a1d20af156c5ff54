"""tsadbench: benchmark time-series anomaly detectors with honest, reproducible numbers."""

__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    """``tsadbench.Pipeline`` without importing it (and what it imports) for every command."""
    if name == "Pipeline":
        from tsadbench.pipeline import Pipeline

        return Pipeline
    raise AttributeError(f"module 'tsadbench' has no attribute {name!r}")
