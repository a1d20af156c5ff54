"""``nab``: the Numenta Anomaly Benchmark (Lavin & Ahmad, 2015), univariate, one entity per series.

Layout: ``NAB/data/<family>/<name>.csv`` (``timestamp,value``) and
``NAB/labels/combined_windows.json`` (the official anomaly windows per ``<family>/<name>.csv``,
``[start, end]`` timestamps, both ends inclusive). A point is anomalous when its timestamp lies in
a window.

NAB is a streaming benchmark with no train split. ``split="probationary"`` (default) trains on
NAB's probationary period, ``min(floor(0.15 n), 750)`` points (NAB's ``getProbationaryLength``),
and scores the rest; window points inside it are counted in ``meta["anomalies_in_train"]`` and
shown by ``data info``, not hidden. ``split="none"`` trains and scores on the whole series, as
Orion does. ``interval`` (seconds) aggregates each series first, as Orion's
``time_segments_aggregate`` does: consecutive intervals from the first timestamp, the mean value
of each (an interval with no sample takes the mean of the others, Orion's mean imputation), and an
interval is labelled anomalous when its time span overlaps a window (a gap in the samples
never splits an event: Orion compares detections with the windows' time ranges).

Six series have no window at all (NAB's ``artificialNoAnomaly`` family and one AWS
series): their threshold metrics are undefined and recorded as NaN with the reason.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tsadbench.checks import is_int
from tsadbench.data import Dataset, Entity
from tsadbench.data.files import dataset_root, require, select, sources
from tsadbench.registry import register_dataset

SPLITS = ("probationary", "none")


def probationary_length(n: int) -> int:
    return int(min(np.floor(0.15 * n), 0.15 * 5000))


def _series(path: Path) -> tuple[np.ndarray, np.ndarray]:
    import pandas as pd

    try:
        frame = pd.read_csv(path)
        stamps = pd.to_datetime(frame["timestamp"]).to_numpy()
        values = frame["value"].to_numpy(dtype=np.float64)
    except (KeyError, ValueError) as exc:
        raise ValueError(
            f"Cannot read the NAB series {path}: expected the columns timestamp,value ({exc})."
        ) from None
    if not np.isfinite(values).all():
        raise ValueError(f"The NAB series {path} has non-finite values.")
    return stamps, values


def aggregate_interval(
    stamps: np.ndarray, values: np.ndarray, windows: list[tuple[Any, Any]], interval: int
) -> tuple[np.ndarray, np.ndarray, int]:
    """Mean value per ``interval`` seconds from the first timestamp, and a label per interval:
    1 when its time span overlaps an anomaly window (so a gap in the samples never splits an
    event). Returns (values, labels, number of empty intervals filled with the others' mean)."""
    seconds = (stamps - stamps[0]) / np.timedelta64(1, "s")
    if (np.diff(seconds) < 0).any():
        raise ValueError("the timestamps are not sorted")
    bins = (seconds // interval).astype(np.int64)
    n = int(bins[-1]) + 1
    count = np.bincount(bins, minlength=n)
    total = np.bincount(bins, weights=values, minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / count
    empty = count == 0
    mean[empty] = mean[~empty].mean()
    starts = stamps[0] + np.arange(n) * np.timedelta64(interval, "s")
    labels = np.zeros(n, dtype=np.int8)
    for a, b in windows:  # interval [s, s + interval) overlaps the window [a, b]
        labels[(starts <= b) & (starts + np.timedelta64(interval, "s") > a)] = 1
    return mean, labels, int(empty.sum())


@register_dataset("nab")
def load_nab(
    data_root: Path | None = None,
    *,
    families: Sequence[str] | None = None,
    entities: Sequence[str] | None = None,
    split: str = "probationary",
    interval: int | None = None,
) -> Dataset:
    """Numenta Anomaly Benchmark: one univariate entity per series, window labels."""
    import pandas as pd

    if split not in SPLITS:
        raise ValueError(
            f"The 'split' parameter of the nab dataset must be one of {SPLITS}. Got {split!r}."
        )
    if interval is not None and (not is_int(interval) or interval < 1):
        raise ValueError(
            "The 'interval' parameter of the nab dataset must be null or an int >= 1 "
            f"(seconds). Got {interval!r} instead."
        )
    root = dataset_root(data_root, "NAB", "nab")
    windows_file = require(root / "labels" / "combined_windows.json", "nab")
    try:
        windows = json.loads(windows_file.read_text())
    except ValueError as exc:
        raise ValueError(f"Cannot read the NAB labels {windows_file}: {exc}") from None
    present = sorted(k for k in windows if (root / "data" / k).exists())
    all_families = sorted({k.split("/")[0] for k in present})
    chosen_families = select(all_families, families, "family", "nab")
    keys = [k for k in present if k.split("/")[0] in chosen_families]
    names = [k.removesuffix(".csv") for k in keys]
    out = []
    for name in select(names, entities, "series", "nab"):
        stamps, values = _series(root / "data" / f"{name}.csv")
        spans = [
            (np.datetime64(pd.Timestamp(a)), np.datetime64(pd.Timestamp(b)))
            for a, b in windows[f"{name}.csv"]
        ]
        labels = np.zeros(len(values), dtype=np.int8)
        for start, end in spans:
            labels[(stamps >= start) & (stamps <= end)] = 1
        filled = 0
        if interval is not None:
            try:
                values, labels, filled = aggregate_interval(stamps, values, spans, interval)
            except ValueError as exc:
                raise ValueError(f"Cannot aggregate the NAB series {name}: {exc}.") from None
        x = values.astype(np.float32)[:, None]
        cut = probationary_length(len(x)) if split == "probationary" else 0
        train = x[:cut] if cut else x
        out.append(
            Entity(
                name=name,
                train=train,
                test=x[cut:],
                labels=labels[cut:],
                meta={
                    "channels": ["value"],
                    "anomalies_in_train": int(labels[:cut].sum()),
                    "anomalies_whole_series": int(labels.sum()),
                    "n_windows": len(windows[f"{name}.csv"]),
                    "interval_s": interval,
                    "empty_intervals_filled": filled,
                    "sources": sources(root / "data" / f"{name}.csv"),
                },
            )
        )
    return Dataset(name="nab", entities=out, meta={"split": split, "interval_s": interval})
