"""Datasets, windowing and scaling.

A dataset is a list of entities; an entity is one independent series with its own train split,
test split and test labels (SMD machine, NASA channel, NAB file, synthetic series).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from tsadbench.checks import is_int
from tsadbench.registry import DATASETS, list_datasets, register_dataset

__all__ = ["Dataset", "Entity", "list_datasets", "load_dataset", "register_dataset"]


@dataclass(frozen=True)
class Entity:
    """One series: ``train`` and ``test`` of shape (n, n_channels) float32, ``labels`` (n_test,).

    ``channel_labels`` (n_test, n_channels), optional: which channels each anomaly touches (SMD's
    interpretation labels), for root-cause metrics. ``scaler_train`` (n, n_channels), optional:
    the rows the scaler is fitted on when they are not ``train`` itself (a paper that fits its
    scaler on the whole train split and trains on a part of it). ``meta["sources"]`` maps each
    file read to its sha256.
    """

    name: str
    train: NDArray[np.float32]
    test: NDArray[np.float32]
    labels: NDArray[np.int8]
    meta: dict[str, Any] = field(default_factory=dict)
    channel_labels: NDArray[np.int8] | None = None
    scaler_train: NDArray[np.float32] | None = None

    def __post_init__(self) -> None:
        for split in ("train", "test"):
            arr = getattr(self, split)
            if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
                raise ValueError(
                    f"Entity {self.name!r}: {split} must be a non-empty 2-D array "
                    f"(n_timestamps, n_channels). Got shape {arr.shape}."
                )
        if self.train.shape[1] != self.test.shape[1]:
            raise ValueError(
                f"Entity {self.name!r}: train has {self.train.shape[1]} channels but test has "
                f"{self.test.shape[1]}."
            )
        if self.labels.shape != (self.test.shape[0],):
            raise ValueError(
                f"Entity {self.name!r}: expected {self.test.shape[0]} test labels, "
                f"got shape {self.labels.shape}."
            )
        if not np.isin(self.labels, (0, 1)).all():
            raise ValueError(f"Entity {self.name!r}: labels must be 0 or 1.")
        if self.channel_labels is not None and self.channel_labels.shape != self.test.shape:
            raise ValueError(
                f"Entity {self.name!r}: channel labels must have the test shape {self.test.shape}; "
                f"got {self.channel_labels.shape}."
            )

    @property
    def checksum(self) -> str:
        """sha256 of the train, test and label arrays: identifies the data in run keys."""
        h = hashlib.sha256()
        extra = () if self.scaler_train is None else (self.scaler_train,)
        for arr in (self.train, self.test, self.labels, *extra):
            a = np.ascontiguousarray(arr)
            h.update(f"{a.dtype.str}{a.shape}".encode())
            h.update(a.tobytes())
        return h.hexdigest()


@dataclass(frozen=True)
class Dataset:
    name: str
    entities: Sequence[Entity]
    meta: dict[str, Any] = field(default_factory=dict)


#: the settings every dataset takes (``dataset.<key>=...`` works whichever dataset is chosen,
#: in a sweep over several too); a loader that has no parameter of that name gets it applied
#: here, after loading
COMMON_SETTINGS = ("entities", "channels", "nan", "train_slice", "test_slice", "scaler_slice")


def load_dataset(
    name: str,
    data_root: str | Path | None = None,
    *,
    entities: Sequence[str] | str | None = None,
    channels: Sequence[int | str] | int | str | None = None,
    nan: str | None = None,
    train_slice: Sequence[int | None] | None = None,
    test_slice: Sequence[int | None] | None = None,
    scaler_slice: Sequence[int | None] | None = None,
    **params: Any,
) -> Dataset:
    """Load the registered dataset ``name``; ``params`` go to its loader.

    The common settings (:data:`COMMON_SETTINGS`) work for every dataset: ``entities`` (names)
    and ``channels`` (indices or names) keep some of them; ``nan`` (``ffill``, ``zero``,
    ``error``) handles missing values (unset: the loader's own policy, where it has one).
    ``train_slice`` / ``test_slice``: ``[start, stop]`` (Python slice bounds, null for open)
    keep a part of every entity's train / test split (labels follow the test split), e.g. a
    short cut of a real series for a quick suite. ``scaler_slice``: the part of the whole train
    split (before ``train_slice``) that the scaler is fitted on; unset, the scaler is fitted on
    the train the detector learns from. All of them change the data, so its checksum and the
    run keys too.
    """
    import inspect

    loader = DATASETS.get(name)
    takes = inspect.signature(loader).parameters
    common = {"entities": entities, "channels": channels, "nan": nan}
    params.update({k: v for k, v in common.items() if v is not None and k in takes})
    ds = loader(data_root=Path(data_root) if data_root is not None else None, **params)
    if not isinstance(ds, Dataset) or not ds.entities:
        raise ValueError(f"The dataset loader {name!r} returned no entities.")
    left: dict[str, Any] = {k: v for k, v in common.items() if v is not None and k not in takes}
    if left:  # the loader has no such parameter: applied here, to what it loaded
        ds = _common(ds, name, **left)
    if train_slice is None and test_slice is None and scaler_slice is None:
        return ds
    train_cut, test_cut = _slice(train_slice, "train_slice"), _slice(test_slice, "test_slice")
    scaler_cut = None if scaler_slice is None else _slice(scaler_slice, "scaler_slice")
    cuts = {"train_slice": train_slice, "test_slice": test_slice, "scaler_slice": scaler_slice}
    cut = []
    for e in ds.entities:
        scaler_train = None if scaler_cut is None else e.train[scaler_cut]
        if scaler_train is not None and len(scaler_train) == 0:
            raise ValueError(
                f"Entity {e.name!r}: scaler_slice={list(scaler_slice or ())} keeps no row of "
                f"its {len(e.train)} train rows."
            )
        cut.append(
            Entity(
                name=e.name,
                train=e.train[train_cut],
                test=e.test[test_cut],
                labels=e.labels[test_cut],
                meta=dict(
                    e.meta,
                    **{k: v for k, v in cuts.items() if v is not None},
                    **(
                        {
                            "train_segments": _cut_segments(
                                e.meta["train_segments"], train_cut, len(e.train)
                            )
                        }
                        if "train_segments" in e.meta
                        else {}
                    ),
                ),
                channel_labels=None if e.channel_labels is None else e.channel_labels[test_cut],
                scaler_train=scaler_train,
            )
        )  # an empty train / test cut fails in Entity's own check, which names the split
    return Dataset(ds.name, cut, ds.meta)


def _common(
    ds: Dataset,
    name: str,
    entities: Sequence[str] | str | None = None,
    channels: Sequence[int | str] | int | str | None = None,
    nan: str | None = None,
) -> Dataset:
    """``entities``, ``channels`` and ``nan`` applied to a loaded dataset."""
    from tsadbench.data.files import select, select_channels
    from tsadbench.data.tables import fill_nans

    chosen = ds.entities
    if entities is not None:
        wanted = select([e.name for e in chosen], entities, "entity", name)
        chosen = [next(e for e in chosen if e.name == w) for w in wanted]
    out = []
    for e in chosen:
        train, test, per_channel = e.train, e.test, e.channel_labels
        meta = dict(e.meta)
        if channels is not None:
            names = [str(c) for c in e.meta.get("channels", range(train.shape[1]))]
            arrays: list[NDArray[Any]] = [train, test]
            arrays += [] if per_channel is None else [per_channel]
            arrays, meta["channels"] = select_channels(arrays, channels, names, name)
            train, test = arrays[0], arrays[1]
            per_channel = None if per_channel is None else arrays[2]
        if nan is not None:
            train, n_train = fill_nans(train, nan, f"The {name} train split of {e.name}")
            test, n_test = fill_nans(test, nan, f"The {name} test split of {e.name}")
            meta["nans_filled"] = meta.get("nans_filled", 0) + n_train + n_test
        out.append(
            Entity(
                name=e.name,
                train=np.ascontiguousarray(train, dtype=np.float32),
                test=np.ascontiguousarray(test, dtype=np.float32),
                labels=e.labels,
                meta=meta,
                channel_labels=per_channel,
                scaler_train=e.scaler_train,
            )
        )
    return Dataset(ds.name, out, ds.meta)


def segment_starts(parts: Sequence[Any]) -> list[int]:
    """Where each of ``parts`` begins in their concatenation: ``[0, len(p0), ...]``, kept in
    a concatenated entity's ``meta["train_segments"]`` (a validation split leaves none out)."""
    return [int(v) for v in np.cumsum([0, *(len(p) for p in parts[:-1])])]


def _cut_segments(starts: Sequence[int], cut: slice, n: int) -> list[int]:
    """The segment starts of ``starts`` (of a series of length ``n``) inside ``cut``."""
    lo, hi, _ = cut.indices(n)
    return [0, *(s - lo for s in starts if lo < s < hi)]


def _slice(bounds: Sequence[int | None] | None, what: str) -> slice:
    if bounds is None:
        return slice(None)
    if (
        isinstance(bounds, (str, bytes))
        or len(bounds) != 2
        or not all(b is None or is_int(b) for b in bounds)
    ):
        raise ValueError(
            f"The {what!r} setting must be [start, stop] (ints or null). Got {bounds!r} instead."
        )
    return slice(bounds[0], bounds[1])
