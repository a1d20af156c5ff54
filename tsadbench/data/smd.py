"""``smd`` and ``smd_concat``: the Server Machine Dataset (Su et al., KDD 2019; OmniAnomaly).

28 machines (entities), 38 channels each. Two layouts are read, per machine:

* OmniAnomaly's preprocessed pickles ``processed/machine-X-Y_{train,test}.pkl`` (one float32
  array each), loaded with an unpickler that rebuilds numpy arrays and refuses anything else;
* the original text layout ``train/machine-X-Y.txt``, ``test/machine-X-Y.txt`` (comma-separated
  floats, 38 columns, no header).

Labels come from ``test_label/machine-X-Y.txt`` (one 0/1 per line); the interpretation labels
(``interpretation_label/``: ``start-end:d1,d2,...`` with 1-based channels) are exposed in each
entity's ``meta["interpretation"]`` as (start, end, 0-based channels) for root-cause metrics;
``test_label`` stays the ground truth (the two disagree on a few segments, data README).
Machines whose values are on disk are used; ``entities=[...]`` selects some.
``smd_concat`` concatenates the machines present in name order into one entity and says in its
meta when fewer than 28 are present.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from tsadbench.data import Dataset, Entity
from tsadbench.data import segment_starts as _starts
from tsadbench.data.files import (
    dataset_root,
    load_array_pickle,
    require,
    select,
    select_channels,
    sources,
)
from tsadbench.registry import register_dataset

N_MACHINES = 28
CHANNELS = [f"metric_{i}" for i in range(1, 39)]


_MACHINE = re.compile(r"machine-(\d+)-(\d+)")


def _machine_key(name: str) -> tuple[int, ...]:
    return tuple(int(p) for p in name.removeprefix("machine-").split("-"))


def available(root: Path) -> list[str]:
    """Machines (``machine-<group>-<index>``) whose train and test values are on disk (either
    layout), in name order; other files in those folders are not machines and are left alone."""
    names = set()
    for path in (root / "processed").glob("machine-*_train.pkl"):
        if path.with_name(path.name.replace("_train", "_test")).exists():
            names.add(path.name.removesuffix("_train.pkl"))
    for path in (root / "train").glob("machine-*.txt"):
        if (root / "test" / path.name).exists():
            names.add(path.stem)
    return sorted((n for n in names if _MACHINE.fullmatch(n)), key=_machine_key)


def _read_text(path: Path) -> np.ndarray:
    try:
        return np.loadtxt(path, delimiter=",", dtype=np.float32, ndmin=2)
    except ValueError as exc:
        raise ValueError(f"Cannot read the SMD file {path}: {exc}") from None


def _values(root: Path, machine: str, split: str) -> np.ndarray:
    pkl = root / "processed" / f"{machine}_{split}.pkl"
    if pkl.exists():
        arr = load_array_pickle(pkl)
    else:
        arr = _read_text(require(root / split / f"{machine}.txt", "smd"))
    if arr.ndim != 2:
        raise ValueError(f"The SMD {split} values of {machine} must be 2-D; got {arr.shape}.")
    return np.ascontiguousarray(arr, dtype=np.float32)


def _interpretation(root: Path, machine: str) -> list[tuple[int, int, list[int]]]:
    path = root / "interpretation_label" / f"{machine}.txt"
    if not path.exists():
        return []
    out = []
    for line_no, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            span, dims = line.split(":")
            start, end = (int(v) for v in span.split("-"))
            out.append((start, end, [int(d) - 1 for d in dims.split(",")]))
        except ValueError:
            raise ValueError(
                f"Cannot read {path} line {line_no}: {line!r}; expected 'start-end:d1,d2,...'."
            ) from None
    return out


def _entity(root: Path, machine: str, channels: Sequence[int | str] | None) -> Entity:
    train, test = _values(root, machine, "train"), _values(root, machine, "test")
    label_path = require(root / "test_label" / f"{machine}.txt", "smd")
    try:
        labels = np.loadtxt(label_path, dtype=np.int8, ndmin=1)
    except ValueError as exc:
        raise ValueError(f"Cannot read the SMD labels {label_path}: {exc}") from None
    if len(labels) != len(test):
        raise ValueError(
            f"The SMD labels {label_path} have {len(labels)} lines but the test "
            f"values of {machine} have {len(test)} rows."
        )
    interpretation = _interpretation(root, machine)
    # interpretation ranges are 0-based, half-open [a, b) slices of test_label (data README)
    per_channel = np.zeros(test.shape, dtype=np.int8)
    for start, end, dims in interpretation:
        per_channel[start:end, [d for d in dims if d < test.shape[1]]] = 1
    (train, test, per_channel), names = select_channels(
        [train, test, per_channel], channels, CHANNELS[: train.shape[1]], "smd"
    )
    files = [root / "processed" / f"{machine}_{split}.pkl" for split in ("train", "test")]
    files += [root / split / f"{machine}.txt" for split in ("train", "test")]
    files += [label_path, root / "interpretation_label" / f"{machine}.txt"]
    return Entity(
        name=machine,
        train=train,
        test=test,
        labels=labels,
        channel_labels=per_channel,
        meta={"channels": names, "interpretation": interpretation, "sources": sources(*files)},
    )


@register_dataset("smd")
def load_smd(
    data_root: Path | None = None,
    *,
    entities: Sequence[str] | None = None,
    channels: Sequence[int | str] | None = None,
) -> Dataset:
    """Server Machine Dataset: one entity per machine, 38 channels (pickles or text layout)."""
    root = dataset_root(data_root, "SMD", "smd")
    present = available(root)
    if not present:
        raise FileNotFoundError(
            f"No SMD machine values under {root} (processed/*.pkl or "
            f"train/ + test/ text files); fetch them with "
            f"`tsadbench data download smd`."
        )
    chosen = select(present, entities, "machine", "smd")
    return Dataset(
        name="smd",
        entities=[_entity(root, m, channels) for m in chosen],
        meta={"present": len(present), "total": N_MACHINES},
    )


@register_dataset("smd_concat")
def load_smd_concat(
    data_root: Path | None = None, *, channels: Sequence[int | str] | None = None
) -> Dataset:
    """SMD as one series: the machines present, concatenated in name order."""
    ds = load_smd(data_root, channels=channels)
    parts = ds.entities
    entity = Entity(
        name="smd",
        train=np.concatenate([e.train for e in parts]),
        test=np.concatenate([e.test for e in parts]),
        labels=np.concatenate([e.labels for e in parts]),
        channel_labels=np.concatenate([e.channel_labels for e in parts]),
        meta={
            "machines": [e.name for e in parts],
            "train_segments": _starts([e.train for e in parts]),  # each machine's train start
            "channels": parts[0].meta["channels"],
            "partial": len(parts) < N_MACHINES,
            "sources": {k: v for e in parts for k, v in e.meta["sources"].items()},
        },
    )
    return Dataset(name="smd_concat", entities=[entity], meta=ds.meta)
