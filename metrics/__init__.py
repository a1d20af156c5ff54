"""Metrics: pure functions registered by name, and ``evaluate`` that applies a metric set.

Naming rule (ARCHITECTURE.md): threshold-free metrics keep their bare name (``auc_pr``);
threshold-dependent ones are always written ``<metric>@<protocol>`` (``pa_f1@oracle``), and the
name travels with the number into the record and the report.

Threshold protocols
-------------------
``oracle``
    the threshold that maximises the metric on the test labels (an exact search over every
    distinct score). It uses the labels it is scored on: an upper bound no deployed detector can
    reach, labelled ``oracle`` wherever it appears.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from tsadbench.registry import METRICS, list_metrics, register_metric

__all__ = ["METRICS", "PROTOCOLS", "evaluate", "list_metrics", "parse_metric", "register_metric"]

#: threshold protocol -> whether it reads the test labels
PROTOCOLS: dict[str, bool] = {"oracle": True}


def parse_metric(full_name: str) -> tuple[str, str | None]:
    """Split ``"pa_f1@oracle"`` into ``("pa_f1", "oracle")`` and check both halves."""
    metric, _, protocol = str(full_name).partition("@")
    entry = METRICS.entry(metric)
    if entry.meta.get("needs_threshold"):
        if not protocol:
            raise ValueError(
                f"The metric {metric!r} needs a threshold protocol: write "
                f"'{metric}@<protocol>' with one of {sorted(PROTOCOLS)} (e.g. '{metric}@oracle')."
            )
        if protocol not in PROTOCOLS:
            raise ValueError(
                f"Unknown threshold protocol {protocol!r} in {full_name!r}. "
                f"Available: {', '.join(sorted(PROTOCOLS))}."
            )
        return metric, protocol
    if protocol:
        raise ValueError(
            f"The metric {metric!r} is threshold-free; write {metric!r}, not {full_name!r}."
        )
    return metric, None


def evaluate(labels: Any, scores: Any, names: Iterable[str]) -> dict[str, float]:
    """Compute every metric in ``names`` on one series; raises on the first failure.

    Parameters
    ----------
    labels : array of shape (n_timestamps,), 0/1
    scores : array of shape (n_timestamps,), higher = more anomalous
    names : metric names following the naming rule

    Returns
    -------
    dict mapping each full name to its float value.
    """
    out: dict[str, float] = {}
    for full in names:
        metric, protocol = parse_metric(full)
        entry = METRICS.entry(metric)
        if protocol == "oracle":
            value, _ = entry.meta["oracle"](labels, scores)
        else:
            value = entry.obj(labels, scores)
        out[full] = float(value)
        if not np.isfinite(out[full]):
            raise FloatingPointError(f"The metric {full!r} gave {out[full]}.")
    return out
