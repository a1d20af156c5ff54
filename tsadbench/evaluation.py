"""Metrics into run records: after a run, on resume (a requested metric the record lacks, or
every metric when the metric code changed) and on demand (``tsadbench evaluate RESULTS``),
always from the stored scores, nothing re-trained, through the one metric-set function
(:func:`tsadbench.metrics.evaluate`: NaN and the reason wherever a metric is undefined)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tsadbench import store
from tsadbench.provenance import metrics_identity
from tsadbench.settings import ConfigError

if TYPE_CHECKING:
    from tsadbench.metrics import MetricSpec
    from tsadbench.record import RunRecord, Scores


def evaluate_record(record: RunRecord, scores: Scores, specs: list[Any]) -> None:
    """The metrics ``specs`` (names or ``MetricSpec``s) of ``scores`` into ``record``, with their
    parameters and the reason of each NaN. The record's ``metrics_code`` names this metric
    code once every metric it holds was computed by it."""
    from tsadbench.metrics import evaluate

    incomparable = None
    if scores.train is None:
        incomparable = (
            "this run kept no train scores (its metric set read none); run it again with "
            "store_train_scores=true, or with this metric in its metric set"
        )
    if not record.detector.comparable_scores:
        incomparable = (
            f"{record.detector.name} standardises the scores of each series it scores "
            "(comparable_scores=False): a threshold taken from its train scores means nothing "
            "on its test scores"
        )
    values = evaluate(
        scores.labels,
        scores.test,
        specs,
        scores.train,
        scores.train_energies,
        channel_labels=scores.channel_labels,
        channel_scores=scores.channels,
        incomparable=incomparable,
    )
    current = metrics_identity()
    fresh = record.metrics_code == current or set(record.metrics) <= set(values)
    record.metrics.update(values)
    record.metric_params.update(values.params)
    for name in values:
        record.metric_errors.pop(name, None)
    record.metric_errors.update(values.errors)
    if fresh:
        record.metrics_code = current


def complete_metrics(
    results_dir: str | Path,
    record: RunRecord,
    specs: list[MetricSpec],
    scores: Scores | None = None,
) -> RunRecord:
    """Compute from the stored scores (``scores``, when the caller has read them already) any
    requested metric the record lacks; all of them, and those it holds, when its metrics were
    made by other metric code. Rewrites it if needed."""
    if record.metrics_code == metrics_identity():
        todo: list[Any] = [m for m in specs if m.name not in record.metrics]
    else:
        todo = [*specs, *(n for n in record.metrics if n not in {m.name for m in specs})]
    if todo:
        evaluate_record(record, scores or store.read_scores(results_dir, record.key), todo)
        store.write(results_dir, record)
    return record


def evaluate_stored(
    results_dir: str | Path, names: list[str], log: Callable[[str], None] = print
) -> list[RunRecord]:
    """Recompute ``names`` for every finished run under ``results_dir`` from its stored scores
    and rewrite each record atomically; return the records."""
    from tsadbench.metrics import parse_metric_set

    try:
        specs = parse_metric_set(names)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    # every record and its scores are read (and refused, named, when damaged) before anything
    # is rewritten: a damaged run never leaves the folder half re-evaluated
    finished = []
    for folder in store.record_folders(results_dir):
        record = store.read(folder.parent, folder.name)
        if record is not None and record.status == "ok":
            finished.append((folder, record, store.read_scores(folder.parent, folder.name)))
    updated = []
    for folder, record, scores in finished:
        evaluate_record(record, scores, specs)
        store.write(folder.parent, record)
        updated.append(record)
    log(f"re-evaluated {len(updated)} run(s) under {results_dir}")
    return updated
