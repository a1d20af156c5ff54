"""The run record: one typed, versioned schema that every writer builds and every reader loads.

A record is what one run of one detector on one entity of a dataset left behind: what made the
scores (:class:`DetectorRef`, :class:`DatasetRef`, preprocessing, seed, the code's identity),
what came of it (status, metrics, each NaN metric's reason), and what it cost (time, memory).
Its scores travel beside it as :class:`Scores`. ``store.write`` / ``store.read`` put both on disk
(``record.json``, ``scores.npz``); nothing else builds or parses them.

Format versions (``format`` in the JSON):

1. the untyped records of tsadbench before the schema (no ``format`` key); read and migrated:
   the fields are the same, ``code`` is unknown (None) and a job-level skip's top-level
   ``tsadbench`` version moves into its environment;
2. this schema.

A record of a newer format than this tsadbench knows is refused with a clear message, never
guessed at.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, Literal, get_args

import numpy as np
from numpy.typing import NDArray

FORMAT = 2
Status = Literal["ok", "error", "timeout", "skipped"]
STATUSES: tuple[str, ...] = get_args(Status)
#: the ``entity`` of a job-level record (a detector that cannot run here, recorded before any
#: data is loaded): it stands for every entity of the dataset
ALL_ENTITIES = "*"


@dataclass
class DetectorRef:
    """The detector of a run: its name, resolved parameters and fidelity."""

    name: str
    params: dict[str, Any]
    faithful: bool | None = None  # None: not known (a job-level skip)
    deviations: list[str] = field(default_factory=list)
    # False: scores standardised per scored series (the train-score protocols give NaN)
    comparable_scores: bool = True
    provenance: dict[str, Any] = field(default_factory=dict)  # e.g. the weights' sha256


@dataclass
class DatasetRef:
    """The data of a run: the dataset's name (its ``label`` where the config gives one) and
    settings, the entity, the data's checksum and shape."""

    name: str
    params: dict[str, Any]
    entity: str
    loader: str | None = None  # the registered loader, when ``name`` is a label
    checksum: str | None = None
    n_train: int | None = None
    n_test: int | None = None
    n_channels: int | None = None
    anomaly_ratio: float | None = None


@dataclass
class RunRecord:
    """One run's record. ``metrics`` holds NaN wherever a value could not be computed, with the
    reason in ``metric_errors``; ``error`` / ``traceback`` say why a run did not finish."""

    key: str
    status: Status
    detector: DetectorRef
    dataset: DatasetRef
    seed: int
    started: str
    preprocessing: dict[str, Any] = field(default_factory=dict)  # scaler, chosen_by
    threads: int | None = None  # torch runs: the thread count their key holds
    code: str | None = None  # the identity of the code that made the scores (in the key)
    metrics_code: str | None = None  # the identity of the metric code that made the metrics
    reduced: str | None = None  # why the run is a reduced version of a paper's setting
    metrics: dict[str, float] = field(default_factory=dict)
    metric_errors: dict[str, str] = field(default_factory=dict)
    metric_params: dict[str, Any] = field(default_factory=dict)
    time: dict[str, float] = field(default_factory=dict)  # seconds per phase
    memory: dict[str, float] = field(default_factory=dict)  # peak_rss_mb, peak_cuda_mb
    throughput: dict[str, float] = field(default_factory=dict)
    n_parameters: int | None = None
    environment: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] | None = None  # the full resolved config
    command: str | None = None  # the job's command line
    error: str | None = None
    traceback: str | None = None
    format: int = FORMAT

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(
                f"A run record's status must be one of {STATUSES}. Got {self.status!r}."
            )

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready form (numpy scalars become Python ones; NaN stays NaN)."""
        return _plain(dataclasses.asdict(self))  # type: ignore[no-any-return]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "a run record") -> RunRecord:
        """Load a record of format 1 (migrated) or 2; ``where`` names it in errors."""
        data = dict(data)
        version = data.get("format", 1)
        if not isinstance(version, int) or version > FORMAT:
            raise ValueError(
                f"{where} has format {version!r}; this tsadbench reads formats 1 to {FORMAT}. "
                "It was written by a newer tsadbench: upgrade to read it."
            )
        if version == 1:
            data = _migrate_v1(data)
        record: RunRecord = _build(cls, data, where)
        return record


def _migrate_v1(data: dict[str, Any]) -> dict[str, Any]:
    version = data.pop("tsadbench", None)  # a job-level skip kept its version at the top
    if version is not None:
        versions = data.setdefault("environment", {}).setdefault("versions", {})
        versions.setdefault("tsadbench", version)
    for name in ("metrics", "time", "memory", "throughput"):  # a v1 skip wrote null for some
        if data.get(name) is None:
            data[name] = {}
    return {**data, "format": FORMAT}


_NESTED = {"detector": DetectorRef, "dataset": DatasetRef}


def _build(cls: Any, data: Mapping[str, Any], where: str) -> Any:
    """``cls(**data)``, its nested parts built too; an unknown or missing field raises, named."""
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(
            f"{where} has field(s) {', '.join(map(repr, unknown))} that the record schema "
            f"(format {FORMAT}) does not know; it knows {', '.join(sorted(known))}."
        )
    required = [
        f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING
    ]
    missing = [name for name in required if name not in data]
    if missing:
        raise ValueError(f"{where} lacks the field(s) {', '.join(map(repr, missing))}.")
    parts = {
        name: _build(_NESTED[name], value, f"{where}: {name}")
        for name, value in data.items()
        if cls is RunRecord and name in _NESTED
    }
    return cls(**{**data, **parts})


def _plain(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


@dataclass
class Scores:
    """The arrays of one run, stored beside its record (``scores.npz``).

    ``test`` and ``labels``: one value per test point; ``train``: the detector's scores on its
    train split (the label-free protocols read them); ``channels``: per-channel scores
    (root cause) and ``channel_labels`` where the dataset has them; ``train_energies``: the
    detector's per-window-position train energies (the Anomaly Transformer's threshold).
    """

    test: NDArray[Any]
    labels: NDArray[Any]
    train: NDArray[Any] | None = None
    channels: NDArray[Any] | None = None
    channel_labels: NDArray[Any] | None = None
    train_energies: NDArray[Any] | None = None

    def arrays(self) -> dict[str, NDArray[Any]]:
        """The arrays that are present, by field name (what ``scores.npz`` holds)."""
        return {f.name: v for f in fields(self) if (v := getattr(self, f.name)) is not None}

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, NDArray[Any]], where: str = "scores") -> Scores:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(arrays) - known)
        missing = sorted({"test", "labels"} - set(arrays))
        if unknown or missing:
            raise ValueError(
                f"{where} must hold the arrays test and labels (and any of "
                f"{', '.join(sorted(known - {'test', 'labels'}))}); "
                + (f"it lacks {', '.join(missing)}" if missing else "")
                + ("; " if missing and unknown else "")
                + (f"it has unknown {', '.join(unknown)}" if unknown else "")
                + "."
            )
        return cls(**dict(arrays))


def nan_metrics(names: list[str]) -> dict[str, float]:
    """Every metric NaN: the values of a run that gave no scores."""
    return dict.fromkeys(names, math.nan)
