"""``msl``, ``smap`` and their concatenated variants: NASA telemetry (Hundman et al., KDD 2018).

The telemanom layout: ``train/<chan>.npy``, ``test/<chan>.npy`` (float64; column 0 is the
telemetry, the others one-hot commands) and ``labeled_anomalies.csv`` (``chan_id, spacecraft,
anomaly_sequences, class, num_values``; sequences are 0-based, both ends inclusive, into the test
array). The CSV lists both spacecraft, so rows are filtered by ``spacecraft``; channel lists come
from the CSV, never from a directory glob (MSL's ``T-10`` has files but no labels and is left out).

``msl`` / ``smap``: one entity per labelled channel. SMAP's ``P-2`` appears twice in the CSV with
different sequences; its entity takes the union of both (the choice the data README's "with P-2"
figures use).

``msl_concat`` / ``smap_concat``: one entity, built as OmniAnomaly's preprocessing builds what
most papers call MSL and SMAP — the spacecraft's rows sorted by channel id (as strings), ``P-2``
dropped, train and test arrays concatenated in that order. MSL: 58,317 train / 73,729 test points,
55 channels; SMAP: 135,183 / 427,617, 25 channels.
"""

from __future__ import annotations

import ast
import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from tsadbench.data import Dataset, Entity
from tsadbench.data import segment_starts as _starts
from tsadbench.data.files import (
    dataset_root,
    load_array_npy,
    require,
    select,
    select_channels,
    sources,
)
from tsadbench.registry import register_dataset


def _rows(root: Path, spacecraft: str, dataset: str) -> list[tuple[str, list[list[int]]]]:
    path = require(root / "labeled_anomalies.csv", dataset)
    rows = []
    with open(path, newline="") as fh:
        for line_no, row in enumerate(csv.DictReader(fh), 2):
            try:
                if row["spacecraft"] != spacecraft:
                    continue
                rows.append((row["chan_id"], ast.literal_eval(row["anomaly_sequences"])))
            except (KeyError, ValueError, SyntaxError):
                raise ValueError(
                    f"Cannot read {path} line {line_no}: expected the columns "
                    f"chan_id, spacecraft, anomaly_sequences."
                ) from None
    return rows


def _channel_names(width: int) -> list[str]:
    return ["telemetry", *(f"command_{i}" for i in range(1, width))]


def _labels(n: int, sequences: Sequence[Sequence[int]], where: str) -> np.ndarray:
    y = np.zeros(n, dtype=np.int8)
    for start, end in sequences:
        if not 0 <= start <= end < n:
            raise ValueError(
                f"{where}: the anomaly sequence [{start}, {end}] does not fit the {n} test points."
            )
        y[start : end + 1] = 1
    return y


def _files(root: Path, chan: str) -> list[Path]:
    return [
        root / "train" / f"{chan}.npy",
        root / "test" / f"{chan}.npy",
        root / "labeled_anomalies.csv",
    ]


def _load(root: Path, chan: str, dataset: str) -> tuple[np.ndarray, np.ndarray]:
    train = load_array_npy(require(root / "train" / f"{chan}.npy", dataset))
    test = load_array_npy(require(root / "test" / f"{chan}.npy", dataset))
    for split, arr in (("train", train), ("test", test)):
        if arr.ndim != 2 or arr.shape[1] != train.shape[-1]:
            raise ValueError(
                f"The {dataset} {split} values of {chan} must be 2-D with the train split's "
                f"channels; got shape {arr.shape}."
            )
    return train.astype(np.float32), test.astype(np.float32)


def _per_channel(
    data_root: Path | None,
    folder: str,
    spacecraft: str,
    dataset: str,
    entities: Sequence[str] | None,
    channels: Sequence[int | str] | None,
) -> Dataset:
    root = dataset_root(data_root, folder, dataset)
    merged: dict[str, list[list[int]]] = {}
    for chan, seqs in _rows(root, spacecraft, dataset):
        merged.setdefault(chan, []).extend(seqs)  # a channel listed twice: the union (P-2)
    out = []
    for chan in select(list(merged), entities, "channel", dataset):
        train, test = _load(root, chan, dataset)
        (train, test), names = select_channels(
            [train, test], channels, _channel_names(train.shape[1]), dataset
        )
        out.append(
            Entity(
                name=chan,
                train=train,
                test=test,
                labels=_labels(len(test), merged[chan], f"{dataset} {chan}"),
                meta={
                    "channels": names,
                    "sequences": merged[chan],
                    "sources": sources(*_files(root, chan)),
                },
            )
        )
    return Dataset(name=dataset, entities=out)


def _concat(
    data_root: Path | None,
    folder: str,
    spacecraft: str,
    dataset: str,
    channels: Sequence[int | str] | None,
) -> Dataset:
    root = dataset_root(data_root, folder, dataset)
    rows = sorted(
        (r for r in _rows(root, spacecraft, dataset) if r[0] != "P-2"), key=lambda r: r[0]
    )
    trains, tests, labels = [], [], []
    for chan, seqs in rows:
        train, test = _load(root, chan, dataset)
        trains.append(train)
        tests.append(test)
        labels.append(_labels(len(test), seqs, f"{dataset} {chan}"))
    (train, test), names = select_channels(
        [np.concatenate(trains), np.concatenate(tests)],
        channels,
        _channel_names(trains[0].shape[1]),
        dataset,
    )
    entity = Entity(
        name=spacecraft.lower(),
        train=train,
        test=test,
        labels=np.concatenate(labels),
        meta={
            "channels": names,
            "source_channels": [r[0] for r in rows],
            "train_segments": _starts(trains),  # where each channel's train begins
            "sources": sources(*(f for r in rows for f in _files(root, r[0]))),
        },
    )
    return Dataset(name=dataset, entities=[entity])


@register_dataset("msl")
def load_msl(
    data_root: Path | None = None,
    *,
    entities: Sequence[str] | None = None,
    channels: Sequence[int | str] | None = None,
) -> Dataset:
    """NASA MSL telemetry: one entity per labelled channel (27), 55 features."""
    return _per_channel(data_root, "MSL", "MSL", "msl", entities, channels)


@register_dataset("smap")
def load_smap(
    data_root: Path | None = None,
    *,
    entities: Sequence[str] | None = None,
    channels: Sequence[int | str] | None = None,
) -> Dataset:
    """NASA SMAP telemetry: one entity per labelled channel (54), 25 features."""
    return _per_channel(data_root, "SMAP", "SMAP", "smap", entities, channels)


@register_dataset("msl_concat")
def load_msl_concat(
    data_root: Path | None = None, *, channels: Sequence[int | str] | None = None
) -> Dataset:
    """MSL as most papers use it: OmniAnomaly's concatenation of the channels, one entity."""
    return _concat(data_root, "MSL", "MSL", "msl_concat", channels)


@register_dataset("smap_concat")
def load_smap_concat(
    data_root: Path | None = None, *, channels: Sequence[int | str] | None = None
) -> Dataset:
    """SMAP as most papers use it: OmniAnomaly's concatenation (P-2 dropped), one entity."""
    return _concat(data_root, "SMAP", "SMAP", "smap_concat", channels)
