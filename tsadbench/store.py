"""Run records on disk: content keys, atomic writes, lookup for resume, loading for reports.

Layout: ``<results_dir>/<key>/record.json`` and ``<results_dir>/<key>/scores.npz``. The key is a
hash of what determines the scores (detector and resolved parameters, dataset, entity, data
checksum, preprocessing, seed, tsadbench version), never of the metric set. Each file is written
under a temporary name and renamed into place, scores first and the record last, so a record on
disk always has complete scores beside it and an interrupted run leaves no half-written record.
A published page keeps the records it is made from in one archive (``write_archive``).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import math
import os
import shutil
import tempfile
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from tsadbench.record import RunRecord, Scores

RECORD = "record.json"
SCORES = "scores.npz"


def _canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def run_key(spec: Mapping[str, Any]) -> str:
    """Stable 16-hex-digit key of a run specification (a JSON-serialisable mapping)."""
    return hashlib.sha256(_canonical(spec).encode()).hexdigest()[:16]


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` whole or not at all."""
    os.replace(_staged(path, data), path)


def _staged(path: Path, data: bytes) -> Path:
    """``data`` written and synced to a temporary file beside ``path`` (removed on failure)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes it private; results are shared (cluster, reports)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp)


def npz_bytes(arrays: Mapping[str, NDArray[Any]]) -> bytes:
    """An .npz archive with fixed timestamps and order: the same arrays give the same bytes
    (``np.savez`` stamps the current time into the zip)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name in sorted(arrays):
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            member = io.BytesIO()
            np.lib.format.write_array(
                member, np.ascontiguousarray(arrays[name]), allow_pickle=False
            )
            zf.writestr(info, member.getvalue())
    return buf.getvalue()


class WriteError(OSError):
    """A record could not be written (a full disk, a lost permission): none of it was kept
    half-written, and the records written before it are intact."""


def write(results_dir: str | Path, record: RunRecord, scores: Scores | None = None) -> Path:
    """Write ``record`` (and its ``scores``) under ``results_dir/<record.key>/``, atomically;
    raise :class:`WriteError` naming the folder when the disk refuses."""
    folder = Path(results_dir) / record.key
    text = json.dumps(record.to_dict(), indent=2, sort_keys=True, allow_nan=True)
    new = not folder.exists()
    staged: list[tuple[Path, Path]] = []
    try:  # both files written in full first, then both renamed into place: a full disk can
        # never leave new scores beside an old record (renames take no space)
        if scores is not None:
            staged.append((_staged(folder / SCORES, npz_bytes(scores.arrays())), folder / SCORES))
        staged.append((_staged(folder / RECORD, text.encode()), folder / RECORD))
        for tmp, path in staged:
            os.replace(tmp, path)
    except OSError as exc:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
        if new:
            shutil.rmtree(folder, ignore_errors=True)
        raise WriteError(
            f"Cannot write the record of {record.detector.name} on {record.dataset.name}/"
            f"{record.dataset.entity} to {folder}: {exc.strerror or exc}. Nothing of it was "
            f"kept; the records written before it are intact."
        ) from None
    return folder


def read(results_dir: str | Path, key: str) -> RunRecord | None:
    """The record stored under ``key``, or None when there is none."""
    path = Path(results_dir) / key / RECORD
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"The run record {path} is not valid JSON: {exc}.") from None
    if not isinstance(data, dict):
        raise ValueError(f"The run record {path} must hold a JSON object; found {data!r:.40}.")
    return RunRecord.from_dict(data, where=f"The run record {path}")


def read_scores(results_dir: str | Path, key: str) -> Scores:
    """The scores stored under ``key``; a missing, truncated or malformed file raises
    ``ValueError`` naming it."""
    path = Path(results_dir) / key / SCORES
    try:
        with np.load(path, allow_pickle=False) as npz:
            scores = Scores.from_arrays({name: npz[name] for name in npz.files}, where=str(path))
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise ValueError(f"The scores {path} cannot be read: {type(exc).__name__}: {exc}") from None
    if len(scores.test) != len(scores.labels):
        raise ValueError(
            f"The scores {path} hold {len(scores.test)} test scores for {len(scores.labels)} "
            "labels; they must have the same length."
        )
    return scores


def record_folders(results_dir: str | Path) -> list[Path]:
    """The folders of every record under ``results_dir`` (any depth), in path order."""
    root = Path(results_dir)
    return [
        path.parent
        for path in sorted(root.rglob(RECORD))
        # Hydra's own folders and temporary files start with a dot
        if not any(part.startswith(".") for part in path.relative_to(root).parts[:-1])
    ]


def iter_records(results_dir: str | Path) -> Iterator[RunRecord]:
    """Every record under ``results_dir`` (any depth), in path order."""
    for folder in record_folders(results_dir):
        record = read(folder.parent, folder.name)
        if record is not None:
            yield record


def write_archive(path: str | Path, records: Iterable[RunRecord]) -> None:
    """Keep ``records`` in one gzip-compressed file, a JSON record per line in key order (the
    same records make the same bytes): how a published page keeps the runs it is made from."""
    lines = sorted(json.dumps(r.to_dict(), sort_keys=True) for r in records)
    data = gzip.compress(("\n".join(lines) + "\n").encode(), mtime=0)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    atomic_write(Path(path), data)


def read_archive(path: str | Path) -> list[RunRecord]:
    """The records ``write_archive`` kept in ``path``."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"No record archive at {path}.")
    records = []
    for number, line in enumerate(gzip.decompress(path.read_bytes()).decode().splitlines(), 1):
        where = f"Record {number} of {path}"
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{where} is not valid JSON: {exc}.") from None
        if not isinstance(data, dict):
            raise ValueError(f"{where} must be a JSON object; found {data!r:.40}.")
        records.append(RunRecord.from_dict(data, where=where))
    return records


#: parameters that vary between seeds or machines without changing the method
NOT_CONFIG = ("random_state", "device")


def config_id(params: Mapping[str, Any]) -> str:
    """8 hex digits naming a detector configuration: runs that differ only in seed (or device)
    share it, so a report averages over seeds but never over different hyper-parameters."""
    return run_key({k: v for k, v in params.items() if k not in NOT_CONFIG})[:8]


def flatten(record: RunRecord) -> dict[str, Any]:
    """One row per record: identity columns, then ``metric/<name>``, ``time/<phase>_s``, ..."""
    row: dict[str, Any] = {
        "key": record.key,
        "status": record.status,
        "detector": record.detector.name,
        "config": config_id(record.detector.params),
        "dataset": record.dataset.name,
        # the dataset's settings (length, entities, channels, split ...): different data is
        # never averaged together either
        "data": run_key(record.dataset.params)[:8],
        "entity": record.dataset.entity,
        "seed": record.seed,
        "threads": record.threads,  # torch runs: the thread count their key holds
        "faithful": record.detector.faithful,
        "reduced": record.reduced,
    }
    for prefix, values in (
        ("metric", record.metrics),
        ("time", record.time),
        ("memory", record.memory),
        ("throughput", record.throughput),
    ):
        for name, value in values.items():
            row[f"{prefix}/{name}"] = math.nan if value is None else value
    row["n_parameters"] = record.n_parameters
    row["error"] = record.error  # why a run did not finish (status error / skipped)
    return row
