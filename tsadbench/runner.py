"""One run: load -> scale -> fit -> score -> evaluate -> record, for every entity of a dataset.

``run(settings)`` checks everything that can be checked without data first (detector name and
parameters, availability, metric names, data settings): such errors raise ``ConfigError`` and
write no record. Once the entity loop starts, the runner is the one place that catches broadly:
a detector that raises gives a record with status ``error``, its traceback and NaN metrics, and
the loop goes on with the next entity. The settings and their checks live in
:mod:`tsadbench.settings`, the measured fit and score (in a child process) in
:mod:`tsadbench.isolation`, the environment and the code's identity in
:mod:`tsadbench.provenance`, the metrics into the record in :mod:`tsadbench.evaluation`, the
record's schema in :mod:`tsadbench.record`.
"""

from __future__ import annotations

import math
import shutil
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tsadbench import __version__, store
from tsadbench.data import Entity, load_dataset
from tsadbench.data.scaling import fit_scaler
from tsadbench.evaluation import complete_metrics, evaluate_record
from tsadbench.isolation import ChildError, FitScore, Job, RunTimeout, fit_score, output_to
from tsadbench.isolation import fit_score_isolated as isolated
from tsadbench.provenance import code_identity, environment
from tsadbench.record import ALL_ENTITIES, DatasetRef, DetectorRef, RunRecord, Scores
from tsadbench.registry import DETECTORS
from tsadbench.settings import ConfigError, Prepared, RunSettings, Unavailable, prepare

__all__ = ["ConfigError", "RunSettings", "Unavailable", "run"]

Log = Callable[[str], None]


def run(s: RunSettings, log: Log = print, found: list[str] | None = None) -> list[RunRecord]:
    """Run ``s.detector`` on every entity of ``s.dataset``; return the records (new or found).
    The keys of the records found on disk (not re-run) are appended to ``found``."""
    try:
        p = prepare(s)
    except Unavailable as exc:
        if not s.record_skips:
            raise
        return [_skipped(s, str(exc), log)]
    # the detector runs here now: an earlier sweep's "cannot run here" record is out of date
    stale = Path(s.results_dir) / store.run_key(_skip_identity(s))
    if (stale / store.RECORD).is_file():
        shutil.rmtree(stale)
    try:
        dataset = load_dataset(s.dataset_loader or s.dataset, s.data_root, **s.dataset_params)
    except (ValueError, TypeError, OSError) as exc:  # OSError: unreadable files, named
        raise ConfigError(f"Could not load the dataset {s.dataset!r}: {exc}") from None

    records = []
    for entity in dataset.entities:
        record = _new_record(s, p, entity)
        old = None if s.force else _found(s.results_dir, record.key, p, log)
        if old is not None:
            log(
                f"found {s.detector} on {s.dataset}/{entity.name} (seed {s.seed}): "
                f"record {old.key} exists in {s.results_dir}, not re-run; force=true re-runs it"
            )
            records.append(old)
            if found is not None:
                found.append(old.key)
            continue
        in_train = entity.meta.get("anomalies_in_train")
        if in_train:  # the detector learns them as normal: worth knowing beside its scores
            log(
                f"warning: {in_train} labelled anomalous point(s) of {s.dataset}/{entity.name} "
                "lie in its train split; the detector learns them as normal"
            )
        records.append(_run_entity(s, p, entity, record, log))
    return records


def _found(results_dir: Path, key: str, p: Prepared, log: Log) -> RunRecord | None:
    """The finished record under ``key``, its missing metrics computed from its scores; None
    when there is none, when the record or its scores are damaged, or when it kept no train
    scores and the metric set now reads them (the run is made again)."""
    from tsadbench.metrics import reads_train_scores

    try:
        old = store.read(results_dir, key)
        if old is None or old.status != "ok":
            return None
        scores = store.read_scores(results_dir, key)  # missing, truncated, wrong length: redo
        if scores.train is None and any(reads_train_scores(m) for m in p.specs):
            log(
                f"the record {key} kept no train scores (its metric set needed none) and a "
                "label-free protocol now needs them, so the run is made again"
            )
            return None
        return complete_metrics(results_dir, old, p.specs, scores)
    except ValueError as exc:
        log(f"the record {key} in {results_dir} is damaged, so the run is made again: {exc}")
        return None


def _new_record(s: RunSettings, p: Prepared, entity: Entity) -> RunRecord:
    """The record of one entity's run before it runs: what makes its scores (hashed into its
    key), NaN metrics and the environment."""
    from tsadbench.detectors.base import TorchDetector

    det = DETECTORS.create(s.detector, **s.detector_params)
    params = det.get_params()
    dataset: dict[str, Any] = {
        "name": s.dataset,
        **({"loader": s.dataset_loader} if s.dataset_loader else {}),
        "params": s.dataset_params,
        "entity": entity.name,
        "checksum": entity.checksum,
    }
    code = code_identity(p.cls)
    identity: dict[str, Any] = {
        "detector": {"name": s.detector, "params": params},
        "dataset": dataset,
        "preprocessing": {"scaler": p.scaler},
        "seed": s.seed,
        "tsadbench": __version__,
        "code": code,
    }
    torch_run = issubclass(p.cls, TorchDetector)
    if torch_run:  # torch's sums depend on its thread count: part of what makes the scores
        identity["threads"] = s.threads
    return RunRecord(
        key=store.run_key(identity),
        status="error",  # until it finishes
        detector=DetectorRef(
            name=s.detector,
            params=params,
            faithful=p.info.faithful,
            deviations=[*p.info.deviations, *det.setting_deviations()],
            comparable_scores=det.tags.comparable_scores,
        ),
        dataset=DatasetRef(
            **dataset,
            n_train=len(entity.train),
            n_test=len(entity.test),
            n_channels=entity.train.shape[1],
            anomaly_ratio=float(entity.labels.mean()),
        ),
        # who chose the scaler is recorded but not part of the key: the scores depend on the
        # scaler alone
        preprocessing={
            "scaler": p.scaler,
            "chosen_by": "detector (scaler=auto)" if s.scaler == "auto" else "user",
        },
        seed=s.seed,
        threads=s.threads if torch_run else None,
        code=code,
        reduced=s.reduced,
        metrics={m.name: math.nan for m in p.specs},
        metric_params={m.name: m.describe() for m in p.specs},
        environment=environment(),
        config=s.config,
        command=s.command,
        started=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    )


def _skip_identity(s: RunSettings) -> dict[str, Any]:
    return {
        "detector": {"name": s.detector, "params": s.detector_params},
        "dataset": {"name": s.dataset, "params": s.dataset_params, "entity": ALL_ENTITIES},
        "seed": s.seed,
        "tsadbench": __version__,
    }


def _skipped(s: RunSettings, reason: str, log: Log) -> RunRecord:
    """The record of a job whose detector cannot run here, written before any data is loaded
    (so it covers every entity of the dataset: ``entity`` is ``*``)."""
    identity = _skip_identity(s)
    record = RunRecord(
        key=store.run_key(identity),
        status="skipped",
        detector=DetectorRef(name=s.detector, params=s.detector_params),
        dataset=DatasetRef(name=s.dataset, params=s.dataset_params, entity=ALL_ENTITIES),
        seed=s.seed,
        error=reason,
        metrics=dict.fromkeys(s.metrics, math.nan),
        environment=environment(),
        config=s.config,
        command=s.command,
        started=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    )
    store.write(s.results_dir, record)
    log(f"skipped {s.detector} on {s.dataset}: {reason}")
    return record


def _run_entity(
    s: RunSettings, p: Prepared, entity: Entity, record: RunRecord, log: Log
) -> RunRecord:
    """Fit, score and evaluate one entity into ``record`` and write it; a failure is recorded
    (status ``error`` or ``timeout``, the reason, NaN metrics), never raised."""
    log(f"running {s.detector} on {s.dataset}/{entity.name} (seed {s.seed}) ...")
    t_start = time.perf_counter()
    scores = None
    try:
        reason = DETECTORS.create(s.detector, **s.detector_params).check_available(
            entity.train.shape[1]
        )
        if reason:
            record.status, record.error = "skipped", reason
            log(f"skipped {s.detector} on {entity.name}: {reason}")
            store.write(s.results_dir, record)
            return record
        out = _fit_score(s, p, entity, record)
        scores = Scores(
            test=out.test,
            labels=entity.labels,
            train=out.train,
            channels=out.channels,  # per-channel scores (root cause)
            channel_labels=entity.channel_labels if out.channels is not None else None,
            train_energies=out.train_energies,
        )
        t_eval = time.perf_counter()
        evaluate_record(record, scores, p.specs)
        record.time["evaluate_s"] = time.perf_counter() - t_eval
        record.status = "ok"
    except RunTimeout as exc:
        record.status, record.error = "timeout", str(exc)
        log(f"timeout in {s.detector} on {entity.name}: {exc}")
    except Exception as exc:  # the one broad catch: record the failure, go on
        if isinstance(exc, ChildError):  # already "<Type>: <message>" from the child
            message, tb = str(exc), exc.child_traceback
        else:
            message, tb = f"{type(exc).__name__}: {exc}", traceback.format_exc()
        record.status, record.error, record.traceback = "error", message, tb
        log(f"error in {s.detector} on {entity.name}: {message}")
    record.time["total_s"] = time.perf_counter() - t_start
    store.write(s.results_dir, record, scores)
    return record


def _fit_score(s: RunSettings, p: Prepared, entity: Entity, record: RunRecord) -> FitScore:
    """Scale, then fit and score (isolated or in this process); the costs into ``record``."""
    from tsadbench.metrics import needs_train_energies, reads_train_scores

    # the scaler's rows: train itself, or the part of train a paper fits it on
    fitted_on = entity.train if entity.scaler_train is None else entity.scaler_train
    transform = fit_scaler(p.scaler, fitted_on)
    train, test = transform(entity.train), transform(entity.test)
    job = Job(
        name=s.detector,
        params=record.detector.params,
        train=train,
        test=test,
        # the Anomaly Transformer's threshold pools the detector's window energies on train
        energies=any(needs_train_energies(m) for m in p.specs),
        train_scores=s.store_train_scores or any(reads_train_scores(m) for m in p.specs),
        threads=s.threads,
        # where the series of a concatenated train split begin (a validation split takes from
        # each); when a scaler_slice is in force they still index the train the detector sees
        segments=entity.meta.get("train_segments"),
    )
    if s.isolate:
        out = isolated(job, s.timeout_s, output=s.output)
    else:
        with output_to(s.output):
            out = fit_score(job)
    record.environment["gpu"] = out.gpu
    record.environment["versions"].update(out.versions)
    record.detector.provenance = out.provenance
    record.time.update(out.time)
    record.memory.update(out.memory)
    record.n_parameters = out.n_parameters
    record.throughput = {
        "fit_points_per_s": _rate(len(train), out.time["fit_s"]),
        "score_points_per_s": _rate(len(test), out.time["score_s"]),
    }
    return out


def _rate(points: int, seconds: float) -> float:
    return points / seconds if seconds > 0 else math.nan
