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


#: label columns recognised when ``label_column=auto`` (tsadbench's, TimeEval's, TSB-AD's, NAB
#: style), matched without regard to case
LABEL_COLUMNS = ("label", "is_anomaly", "anomaly", "labels", "is_anomalous")
#: a first column with one of these names is the time, not a feature (``timestamp_column=auto``)
TIME_COLUMNS = ("timestamp", "time", "date", "datetime")


def _pick_label(frame: Any, file: Path, label_column: str) -> str:
    columns = [str(c) for c in frame.columns]
    if label_column != "auto":
        if label_column not in columns:
            raise ValueError(
                f"{file} has no label column {label_column!r}; its columns: "
                f"{', '.join(columns)}. Set dataset.label_column=<one of them>."
            )
        return label_column
    found = [c for c in columns if c.lower() in LABEL_COLUMNS]
    if len(found) != 1:
        what = "no label column" if not found else f"several label columns ({', '.join(found)})"
        raise ValueError(
            f"{file} has {what} among {', '.join(columns)} (recognised: "
            f"{', '.join(LABEL_COLUMNS)}). Set dataset.label_column=<the 0/1 column>."
        )
    return found[0]


def _pick_time(frame: Any, file: Path, timestamp_column: str | None) -> str | None:
    columns = [str(c) for c in frame.columns]
    if timestamp_column is None:
        return None
    if timestamp_column != "auto":
        if timestamp_column not in columns:
            raise ValueError(
                f"{file} has no timestamp column {timestamp_column!r}; its columns: "
                f"{', '.join(columns)}."
            )
        return timestamp_column
    return columns[0] if columns and columns[0].lower() in TIME_COLUMNS else None


def _csv_entity(
    file: Path,
    tfile: Path | None,
    *,
    label_column: str,
    timestamp_column: str | None,
    train: float | int,
    channels: Sequence[int | str] | None,
    nan: str,
) -> Entity:
    frame = _read(file, "csv")
    label = _pick_label(frame, file, label_column)
    time = _pick_time(frame, file, timestamp_column)
    features = [str(c) for c in frame.columns if str(c) not in (label, time)]
    if not features:
        raise ValueError(f"{file} has no feature column besides {label!r}.")
    try:
        x = _numeric(frame, file, features)
    except ValueError as exc:
        first_not_numbers = f"column {features[0]!r}" in str(exc) and "not a number" in str(exc)
        hint = (
            f" If {features[0]!r} is the time, set dataset.timestamp_column={features[0]}."
            if first_not_numbers
            else ""
        )
        raise ValueError(f"{exc}{hint}") from None
    labels = _labels(frame[label].to_numpy(), file)
    if tfile is not None:
        tframe = _read(tfile, "csv")
        x_train, x_test, y_test = _numeric(tframe, tfile, features), x, labels
        labelled = label in map(str, tframe.columns)
        in_train = int(_labels(tframe[label].to_numpy(), tfile).sum()) if labelled else 0
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
        in_train = int(labels[:n].sum())
    return _entity(
        file.stem,
        x_train,
        x_test,
        y_test,
        features,
        channels,
        "csv",
        nan,
        label_column=label,
        timestamp_column=time,
        # labelled anomalies the detector trains on: counted, and the runner warns
        anomalies_in_train=in_train,
        sources=sources(file, *([tfile] if tfile is not None else [])),
    )


@register_dataset("csv")
def load_csv(
    data_root: Path | None = None,
    *,
    path: str | None = None,
    label_column: str = "auto",
    timestamp_column: str | None = "auto",
    train: float | int = 0.3,
    train_path: str | None = None,
    channels: Sequence[int | str] | None = None,
    nan: str = "error",
) -> Dataset:
    """Your own data as CSV files with a header: numeric feature columns and a 0/1 label
    column. ``path`` is one file, or a folder whose ``*.csv`` files are the entities (in name
    order). ``label_column=auto`` finds the label among the usual names (``label``,
    ``is_anomaly`` (TimeEval), ``Label`` (TSB-AD), ...); ``timestamp_column=auto`` drops a first
    column named ``timestamp``, ``time``, ``date`` or ``datetime`` (null: none). The train split
    is the first ``train`` rows (an int) or fraction (a float in (0, 1)) of each file, or a
    separate file ``train_path`` (a folder for a folder: the files of the same names); its label
    column, if any, only counts the anomalies it holds. Labelled anomalies inside the train split
    are counted in ``meta["anomalies_in_train"]`` and the runner warns about them."""
    if not path:
        raise ValueError("The csv dataset needs dataset.path=<file.csv or a folder of them>.")
    where = _user_file(path, "path", data_root)
    twhere = _user_file(train_path, "train_path", data_root) if train_path else None
    if where.is_dir():
        files = sorted(where.glob("*.csv"))
        if not files:
            raise ValueError(f"dataset.path={path}: the folder {where} holds no .csv file.")
        if twhere is not None and not twhere.is_dir():
            raise ValueError(
                f"dataset.train_path={train_path} must be a folder (with files named as those "
                f"in {where}) when dataset.path is one."
            )
        pairs = [(f, None if twhere is None else require(twhere / f.name, "csv")) for f in files]
    else:
        pairs = [(where, twhere)]
    entities = [
        _csv_entity(
            f,
            t,
            label_column=label_column,
            timestamp_column=timestamp_column,
            train=train,
            channels=channels,
            nan=nan,
        )
        for f, t in pairs
    ]
    return Dataset(name="csv", entities=entities)
