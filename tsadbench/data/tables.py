"""CSV-shaped datasets: ``psm`` (eBay), ``tsbad`` (TSB-AD-U / -M files), ``ucr`` (the UCR / KDD
Cup 2021 anomaly archive) and ``csv`` (any user file).

Common rules: feature columns are read as float; a non-numeric cell is an error naming the file
and line; NaNs follow an explicit policy (``nan``: ``ffill`` = carry the last value forward,
then back-fill leading NaNs, per channel; ``zero``; ``error``) and their count is kept in
``meta["nans_filled"]``, never hidden.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tsadbench.checks import is_number
from tsadbench.data import Dataset, Entity
from tsadbench.data.files import dataset_root, require, select, select_channels, sources
from tsadbench.registry import register_dataset

NAN_POLICIES = ("ffill", "zero", "error")


def _read(path: Path, dataset: str) -> Any:
    import pandas as pd

    try:
        return pd.read_csv(require(path, dataset))
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ValueError(f"Cannot read the {dataset} file {path}: {exc}") from None


_FLOAT32_MAX = float(np.finfo(np.float32).max)


def _numeric(frame: Any, path: Path, columns: Sequence[str]) -> np.ndarray:
    """The ``columns`` of ``frame`` as float64, naming the file and line of a cell that is not a
    number, infinite, or beyond float32 (what detectors compute in); NaN is left to
    ``fill_nans``."""
    import pandas as pd

    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{path} lacks the feature column(s) {', '.join(map(repr, missing))}; its columns: "
            f"{', '.join(map(str, frame.columns))}."
        )
    out = np.empty((len(frame), len(columns)))
    for j, col in enumerate(columns):
        values = pd.to_numeric(frame[col], errors="coerce")
        bad = (values.isna() & frame[col].notna()).to_numpy()
        what = "not a number"
        if not bad.any():
            bad = ~(np.abs(values.to_numpy(dtype=np.float64)) <= _FLOAT32_MAX) & values.notna()
            what = "infinite or beyond float32's range (3.4e38)"
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            cell = frame[col].iloc[i]
            shown = repr(cell) if isinstance(cell, str) else str(cell)
            raise ValueError(f"{path} line {i + 2}: column {col!r} holds {shown}, {what}.")
        out[:, j] = values.to_numpy(dtype=np.float64)
    return out


def fill_nans(arr: np.ndarray, policy: str, where: str) -> tuple[np.ndarray, int]:
    if policy not in NAN_POLICIES:
        raise ValueError(f"The 'nan' parameter must be one of {NAN_POLICIES}. Got {policy!r}.")
    missing = int(np.isnan(arr).sum())
    if not missing:
        return arr, 0
    if policy == "error":
        raise ValueError(f"{where} holds {missing} NaN value(s); choose nan=ffill or nan=zero.")
    if policy == "zero":
        return np.nan_to_num(arr, nan=0.0), missing
    import pandas as pd

    filled = pd.DataFrame(arr).ffill().bfill().to_numpy()
    if np.isnan(filled).any():
        raise ValueError(f"{where} has a channel that is NaN everywhere; nothing to fill from.")
    return filled, missing


def _entity(
    name: str,
    train: np.ndarray,
    test: np.ndarray,
    labels: np.ndarray,
    names: list[str],
    channels: Sequence[int | str] | None,
    dataset: str,
    nan: str,
    **meta: Any,
) -> Entity:
    train, n_train = fill_nans(train, nan, f"The {dataset} train split of {name}")
    test, n_test = fill_nans(test, nan, f"The {dataset} test split of {name}")
    (train, test), kept = select_channels([train, test], channels, names, dataset)
    return Entity(
        name=name,
        train=train.astype(np.float32),
        test=test.astype(np.float32),
        labels=labels.astype(np.int8),
        meta={"channels": kept, "nans_filled": n_train + n_test, **meta},
    )


def _labels(values: np.ndarray, path: Path) -> np.ndarray:
    if not np.isin(values, (0, 1)).all():
        raise ValueError(f"The labels in {path} must be 0 or 1; found {np.unique(values)[:5]}.")
    return values.astype(np.int8)


@register_dataset("psm")
def load_psm(
    data_root: Path | None = None,
    *,
    channels: Sequence[int | str] | None = None,
    nan: str = "ffill",
) -> Dataset:
    """eBay Pooled Server Metrics: one entity, 25 features; train NaNs by the ``nan`` policy."""
    root = dataset_root(data_root, "PSM", "psm")
    frames = {s: _read(root / f"{s}.csv", "psm") for s in ("train", "test", "test_label")}
    features = [c for c in frames["train"].columns if not c.startswith("timestamp")]
    train = _numeric(frames["train"], root / "train.csv", features)
    test = _numeric(frames["test"], root / "test.csv", features)
    labels = _labels(frames["test_label"]["label"].to_numpy(), root / "test_label.csv")
    if len(labels) != len(test):
        raise ValueError(
            f"{root / 'test_label.csv'} has {len(labels)} labels but "
            f"{root / 'test.csv'} has {len(test)} rows."
        )
    entity = _entity(
        "psm",
        train,
        test,
        labels,
        features,
        channels,
        "psm",
        nan,
        sources=sources(*(root / f"{s}.csv" for s in frames)),
    )
    return Dataset(name="psm", entities=[entity])


_TSBAD_TRAIN = re.compile(r"_tr_(\d+)_")


@register_dataset("tsbad")
def load_tsbad(
    data_root: Path | None = None,
    *,
    variant: str = "U",
    entities: Sequence[str] | None = None,
    channels: Sequence[int | str] | None = None,
    nan: str = "error",
) -> Dataset:
    """TSB-AD benchmark files (Liu & Paparrizos, NeurIPS 2024): features + ``Label`` columns,
    the train length ``tr_<n>`` in the name; as TSB-AD, the detector is fit on the first n rows
    and scores the whole series."""
    if variant not in ("U", "M"):
        raise ValueError(f"The 'variant' parameter of tsbad must be 'U' or 'M'. Got {variant!r}.")
    root = dataset_root(data_root, f"TSB-AD-{variant}", "tsbad")
    files = {p.stem: p for p in sorted(root.glob("*.csv"))}
    out = []
    for stem in select(list(files), entities, "file", "tsbad"):
        path = files[stem]
        match = _TSBAD_TRAIN.search(path.name)
        if not match:
            raise ValueError(
                f"The TSB-AD file name {path.name} carries no train length ('_tr_<n>_')."
            )
        frame = _read(path, "tsbad")
        if "Label" not in frame.columns:
            raise ValueError(f"The TSB-AD file {path} has no 'Label' column.")
        features = [c for c in frame.columns if c != "Label"]
        x = _numeric(frame, path, features)
        n_train = int(match.group(1))
        if not 0 < n_train <= len(x):
            raise ValueError(f"{path.name}: train length {n_train} does not fit {len(x)} rows.")
        out.append(
            _entity(
                stem,
                x[:n_train],
                x,
                _labels(frame["Label"].to_numpy(), path),
                [str(f) for f in features],
                channels,
                "tsbad",
                nan,
                train_rows=n_train,
                sources=sources(path),
            )
        )
    return Dataset(name="tsbad", entities=out)


_UCR_NAME = re.compile(r"^(\d+)_UCR_Anomaly_(.+)_(\d+)_(\d+)_(\d+)$")


@register_dataset("ucr")
def load_ucr(data_root: Path | None = None, *, entities: Sequence[str] | None = None) -> Dataset:
    """UCR / KDD Cup 2021 anomaly archive: ``NNN_UCR_Anomaly_<name>_<trainEnd>_<begin>_<end>.txt``
    — train is points 1..trainEnd and the one anomaly spans begin..end (1-based, inclusive, as
    the archive describes its names); test is the rest of the series."""
    root = dataset_root(data_root, "UCR", "ucr")
    files = {p.stem: p for p in sorted(root.glob("*_UCR_Anomaly_*.txt"))}
    out = []
    for stem in select(list(files), entities, "file", "ucr"):
        match = _UCR_NAME.match(stem)
        if not match:
            raise ValueError(
                f"The UCR file name {stem} does not follow "
                f"NNN_UCR_Anomaly_<name>_<trainEnd>_<begin>_<end>."
            )
        train_end, begin, end = (int(match.group(i)) for i in (3, 4, 5))
        try:
            x = np.loadtxt(files[stem], dtype=np.float64).reshape(-1)  # some files: one line
        except ValueError as exc:
            raise ValueError(f"Cannot read the UCR file {files[stem]}: {exc}") from None
        if not 0 < train_end < begin <= end <= len(x):
            raise ValueError(
                f"{stem}: train end {train_end} and anomaly {begin}..{end} do not "
                f"fit {len(x)} points."
            )
        labels = np.zeros(len(x) - train_end, dtype=np.int8)
        labels[begin - 1 - train_end : end - train_end] = 1
        out.append(
            Entity(
                name=stem,
                train=x[:train_end, None].astype(np.float32),
                test=x[train_end:, None].astype(np.float32),
                labels=labels,
                meta={
                    "channels": ["value"],
                    "anomaly": [begin, end],
                    "sources": sources(files[stem]),
                },
            )
        )
    return Dataset(name="ucr", entities=out)


def _user_file(value: str, setting: str, data_root: Path | None) -> Path:
    """``dataset.<setting>=value``: the path as given, else (when relative) under the data root."""
    file = Path(value)
    if file.exists():
        return file
    if file.is_absolute() or data_root is None:
        raise FileNotFoundError(f"dataset.{setting}={value}: no such file.")
    if not (Path(data_root) / file).exists():
        raise FileNotFoundError(
            f"dataset.{setting}={value}: no such file here ({Path.cwd()}) nor under the data "
            f"root {data_root}."
        )
    return Path(data_root) / file


@register_dataset("csv")
def load_csv(
    data_root: Path | None = None,
    *,
    path: str | None = None,
    label_column: str = "label",
    timestamp_column: str | None = None,
    train: float | int = 0.3,
    train_path: str | None = None,
    channels: Sequence[int | str] | None = None,
    nan: str = "error",
) -> Dataset:
    """Any CSV with a header: numeric feature columns and a 0/1 label column. The train split is
    the first ``train`` rows (an int) or fraction (a float in (0, 1)), or a separate file
    ``train_path`` (its label column, if any, is ignored); the test split is the rest."""
    if not path:
        raise ValueError("The csv dataset needs dataset.path=<file.csv>.")
    file = _user_file(path, "path", data_root)
    frame = _read(file, "csv")
    if label_column not in frame.columns:
        raise ValueError(
            f"{file} has no label column {label_column!r}; columns: "
            f"{', '.join(map(str, frame.columns))}."
        )
    drop = {label_column, *([timestamp_column] if timestamp_column else [])}
    features = [str(c) for c in frame.columns if c not in drop]
    x = _numeric(frame, file, features)
    labels = _labels(frame[label_column].to_numpy(), file)
    if train_path:
        tfile = _user_file(train_path, "train_path", data_root)
        x_train, x_test, y_test = _numeric(_read(tfile, "csv"), tfile, features), x, labels
    else:
        if not is_number(train):
            raise ValueError(
                f"The 'train' parameter must be a row count or a fraction. Got {train!r}."
            )
        n = int(train) if isinstance(train, int) else round(train * len(x))
        if not 0 < n < len(x):
            raise ValueError(
                f"The 'train' parameter ({train!r}) leaves no train or no test rows "
                f"of the {len(x)} in {file}."
            )
        x_train, x_test, y_test = x[:n], x[n:], labels[n:]
    entity = _entity(
        file.stem,
        x_train,
        x_test,
        y_test,
        features,
        channels,
        "csv",
        nan,
        sources=sources(file, *([tfile] if train_path else [])),
    )
    return Dataset(name="csv", entities=[entity])
