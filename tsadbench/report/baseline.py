"""The CI regression leaderboard: a committed baseline of (detector, dataset) cells and the gate
that fails when a cell's scores move.

A cell is one detector × dataset of a results folder (``tsadbench run suite=ci``): each metric's
mean over the cell's entities and seeds, its status, its margin over the ``random`` detector on
the same data, and a hash of the configuration that made it (detector parameters, dataset
settings and data checksums, preprocessing, seeds, torch threads; not the tsadbench version), so
a check can tell a changed score from a changed experiment.

The gate:

- **two-sided**: a gated metric (threshold-free: ``GATED``) that moved beyond its tolerance in
  either direction fails the check: a drop is a regression, a rise an improvement that the
  baseline must record (``make baseline``, committed with the change), so it never drifts;
- **per-metric tolerances from measured noise**: ``update(..., noise=[...])`` measures each
  metric's spread between the results and reruns of the suite that should agree with them
  (other thread counts, the other launcher, a fresh cache) and stores the tolerances with how
  they were measured; F1-type metrics are shown when they move, never gated (their noise is
  far larger);
- **the margin over random**: every ok cell must beat ``random``'s ``vus_pr`` on its data by the
  baseline's ``min_margin``, unless it is a known exception with a reason. ``update`` refuses
  to write a cell that does not; ``check`` fails a cell that no longer does.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tsadbench import __version__, store
from tsadbench.checks import is_number
from tsadbench.record import ALL_ENTITIES, RunRecord

FORMAT = 2
GATED = ("vus_pr", "vus_roc", "auc_pr", "auc_roc")  # threshold-free: the gate's metrics
HEADLINE = "vus_pr"  # the margin over random is taken on it
MIN_MARGIN = 0.05  # default margin over random a cell must clear
FLOOR = 1e-3  # the least tolerance, whatever the noise measured
NOISE_FACTOR = 2.0  # tolerance = max(FLOOR, NOISE_FACTOR x the largest spread measured)
RANDOM = "random"


def cells(results_dir: str | Path, metrics: list[str] | None = None) -> dict[str, dict[str, Any]]:
    """The cells of a results folder, keyed ``"<detector> / <dataset>"``; each ok cell has its
    ``scores`` and, where the folder holds ``random`` on the same dataset, its ``margin``."""
    grouped: dict[str, list[RunRecord]] = {}
    for record in store.iter_records(results_dir):
        name = f"{record.detector.name} / {record.dataset.name}"
        grouped.setdefault(name, []).append(record)
    if not grouped:
        raise ValueError(f"No run records (record.json) found under {results_dir}.")
    out = {}
    for name, records in sorted(grouped.items()):
        configs = {_config_hash(r) for r in records if r.dataset.entity != ALL_ENTITIES}
        settings = {
            (store.config_id(r.detector.params), store.run_key(r.dataset.params)) for r in records
        }
        if len(settings) > 1:
            raise ValueError(
                f"The results under {results_dir} hold several configurations of {name} (detector "
                "or dataset settings); a leaderboard cell needs exactly one. Use a fresh results "
                "folder for the suite."
            )
        statuses = sorted({r.status for r in records})
        cell: dict[str, Any] = {
            "status": statuses[0] if len(statuses) == 1 else "mixed",
            "runs": len(records),
            "config": store.run_key({"runs": sorted(configs)}),
        }
        if cell["status"] != "ok":
            reasons = sorted({r.error.splitlines()[0] for r in records if r.error})
            cell["reason"] = "; ".join(reasons)[:300]
        else:
            names = metrics or sorted({m for r in records for m in r.metrics})
            cell["scores"] = {
                m: _mean([r.metrics.get(m, math.nan) for r in records]) for m in names
            }
        out[name] = cell
    for name, cell in out.items():
        detector, dataset = name.split(" / ", 1)
        floor = out.get(f"{RANDOM} / {dataset}", {}).get("scores", {}).get(HEADLINE)
        if detector != RANDOM and "scores" in cell and floor is not None:
            cell["margin"] = cell["scores"].get(HEADLINE, math.nan) - floor
    return out


def _mean(values: list[float]) -> float:
    clean = [float(v) for v in values if v is not None]
    return math.fsum(clean) / len(clean) if clean else math.nan


def _config_hash(record: RunRecord) -> str:
    ds = record.dataset
    return store.run_key(
        {
            "detector": record.detector.params,
            "dataset": [ds.name, ds.params, ds.entity, ds.checksum],
            "preprocessing": record.preprocessing.get("scaler"),
            "seed": record.seed,
            "threads": record.threads,
        }
    )


def spreads(
    results_dir: str | Path, reruns: list[str | Path]
) -> tuple[dict[str, float], dict[str, str]]:
    """Each metric's largest spread (max - min) over the cells that ``results_dir`` and every
    rerun hold ok, and the cell where it was largest."""
    runs = [cells(results_dir), *(cells(r) for r in reruns)]
    spread: dict[str, float] = {}
    where: dict[str, str] = {}
    for name, cell in runs[0].items():
        if cell["status"] != "ok" or any(run.get(name, {}).get("status") != "ok" for run in runs):
            continue
        for metric in cell["scores"]:
            values = [run[name]["scores"].get(metric, math.nan) for run in runs]
            if any(math.isnan(v) for v in values):
                continue
            s = max(values) - min(values)
            if s >= spread.get(metric, -1.0):
                spread[metric], where[metric] = s, name
    return spread, where


def update(
    results_dir: str | Path,
    baseline: str | Path,
    metrics: list[str] | None = None,
    *,
    noise: list[str | Path] | None = None,
    noise_note: str = "",
    exceptions: dict[str, str] | None = None,
    min_margin: float | None = None,
) -> dict[str, Any]:
    """Write the baseline of ``results_dir`` to ``baseline`` (atomically); return it.

    ``noise``: reruns of the same suite that should agree with ``results_dir`` (described by
    ``noise_note``); the gated metrics' tolerances are measured from them. Without them the
    existing baseline's tolerances and their measurement are kept (a new baseline gets
    ``FLOOR``, marked as not measured). ``exceptions``: cells that may stay below the margin
    over random, with the reason (kept from the existing baseline too). Raises ``ValueError``,
    writing nothing, when an ok cell has no ``random`` to compare with or does not beat it by
    ``min_margin`` without being an exception.
    """
    old = _previous(baseline)
    gate = _gate(old, results_dir, noise, noise_note, min_margin)
    found = cells(results_dir, metrics)
    _check_margins(found, gate["min_margin"], old, exceptions)
    data = {
        "format": FORMAT,
        "tsadbench": __version__,
        "config_hash": store.run_key({n: c["config"] for n, c in found.items()}),
        "gate": gate,
        "cells": found,
    }
    text = json.dumps(data, indent=2, sort_keys=True, allow_nan=True) + "\n"
    store.atomic_write(Path(baseline), text.encode())
    return data


def _gate(
    old: dict[str, Any],
    results_dir: str | Path,
    noise: list[str | Path] | None,
    noise_note: str,
    min_margin: float | None,
) -> dict[str, Any]:
    """The gate's settings: the margin over random, the gated metrics, their tolerances
    (measured from the ``noise`` reruns, else kept from ``old``, else the floor)."""
    gate = dict(old.get("gate", {}))
    if min_margin is not None:
        if not (is_number(min_margin) and min_margin >= 0):
            raise ValueError(f"The min_margin must be a number >= 0. Got {min_margin!r} instead.")
        gate["min_margin"] = float(min_margin)
    gate.setdefault("min_margin", MIN_MARGIN)
    gate["metrics"] = list(GATED)
    if noise:
        spread, where = spreads(results_dir, noise)
        missing = [m for m in GATED if m not in spread]
        if missing:
            raise ValueError(
                f"The reruns {', '.join(map(str, noise))} share no ok cell with {results_dir} "
                f"that has {', '.join(missing)}: no noise to measure."
            )
        gate["tolerance"] = {m: max(FLOOR, NOISE_FACTOR * spread[m]) for m in GATED}
        gate["noise"] = {
            "how": f"largest spread (max - min) of each metric over the cells of {len(noise) + 1} "
            f"runs of the suite that should agree ({noise_note or 'reruns'}); tolerance = "
            f"max({FLOOR}, {NOISE_FACTOR} x spread)",
            "spread": dict(sorted(spread.items())),
            "cell": dict(sorted(where.items())),
        }
    elif "tolerance" not in gate:
        gate["tolerance"] = dict.fromkeys(GATED, FLOOR)
        gate["noise"] = {"how": "not measured: the floor tolerance (make tolerances measures it)"}
    return gate


def _check_margins(
    found: dict[str, dict[str, Any]],
    min_margin: float,
    old: dict[str, Any],
    exceptions: dict[str, str] | None,
) -> None:
    """Mark the known exceptions in ``found``; raise when an ok cell has no random to compare
    with, or beats it by less than ``min_margin`` without being an exception."""
    known = {
        n: c["exception"] for n, c in old.get("cells", {}).items() if c.get("exception")
    } | dict(exceptions or {})
    unknown = sorted(set(known) - set(found))
    if unknown:
        raise ValueError(f"Exceptions name cells the results do not hold: {', '.join(unknown)}.")
    weak = []
    for name, cell in found.items():
        if name in known:
            cell["exception"] = known[name]
        if cell["status"] != "ok" or name.startswith(f"{RANDOM} / "):
            continue
        if "margin" not in cell:
            raise ValueError(
                f"The results hold no ok '{RANDOM}' run on the data of {name}: its margin over "
                "random cannot be measured. Run the suite with every detector."
            )
        if not cell["margin"] >= min_margin and name not in known:
            weak.append(f"{name} ({cell['margin']:+.3f})")
    if weak:
        raise ValueError(
            f"{len(weak)} cell(s) do not beat random on {HEADLINE} by {min_margin}: "
            f"{', '.join(weak)}. Give them settings that learn, or mark each as a known "
            "exception with its reason (--exception 'CELL=REASON')."
        )


def _previous(baseline: str | Path) -> dict[str, Any]:
    """The baseline ``update`` replaces, whose gate and exceptions it keeps: nothing when there
    is none or it has an older format (which had neither)."""
    path = Path(baseline)
    if not path.is_file():
        return {}
    try:
        older = int(json.loads(path.read_text()).get("format", 0)) < FORMAT
    except (ValueError, TypeError, AttributeError):  # not a baseline at all: load says so
        older = False
    return {} if older else load(path)


def load(baseline: str | Path) -> dict[str, Any]:
    path = Path(baseline)
    if not path.is_file():
        raise ValueError(
            f"No baseline at {path}: write one with `tsadbench leaderboard update RESULTS_DIR "
            f"--baseline {path}`."
        )
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"The baseline {path} is not valid JSON: {exc}.") from None
    if data.get("format") != FORMAT or not isinstance(data.get("cells"), dict):
        raise ValueError(
            f"The baseline {path} is not a tsadbench leaderboard baseline of format {FORMAT} "
            f"(with 'gate' and 'cells'); got format {data.get('format')!r}. Rewrite it with "
            f"`tsadbench leaderboard update RESULTS_DIR --baseline {path}`."
        )
    return data


@dataclass
class Check:
    """What ``check`` found. ``passed`` when no gated score moved beyond its tolerance, every
    cell still beats random by the margin, and no cell is missing, new or changed."""

    regressions: list[dict[str, Any]] = field(default_factory=list)  # below value - tolerance
    improvements: list[dict[str, Any]] = field(default_factory=list)  # above value + tolerance
    below_margin: list[dict[str, Any]] = field(default_factory=list)  # no longer beats random
    missing: list[dict[str, Any]] = field(default_factory=list)  # in the baseline, not ok now
    new: list[dict[str, Any]] = field(default_factory=list)  # not in the baseline
    changed: list[dict[str, Any]] = field(default_factory=list)  # same cell, other config
    ungated: list[dict[str, Any]] = field(default_factory=list)  # F1-type moves: shown only
    margins: list[dict[str, Any]] = field(default_factory=list)  # every ok cell's margin
    compared: int = 0

    @property
    def passed(self) -> bool:
        return not (
            self.regressions
            or self.improvements
            or self.below_margin
            or self.missing
            or self.new
            or self.changed
        )


def check(results_dir: str | Path, baseline: str | Path) -> Check:
    """Compare the cells of ``results_dir`` with the baseline (see the module docstring)."""
    data = load(baseline)
    base, gate = data["cells"], data["gate"]
    tolerance: dict[str, float] = gate["tolerance"]
    now = cells(results_dir)
    out = Check()
    for name, b in sorted(base.items()):
        c = now.get(name)
        if c is None:
            out.missing.append({"cell": name, "was": b["status"], "now": "absent"})
            continue
        if b["status"] != c["status"]:
            entry = {
                "cell": name,
                "was": b["status"],
                "now": c["status"],
                "reason": c.get("reason", ""),
            }
            (out.missing if b["status"] == "ok" else out.new).append(entry)
            continue
        if b.get("config") != c["config"]:
            out.changed.append({"cell": name})
        if "margin" in c:
            row = {
                "cell": name,
                HEADLINE: c["scores"].get(HEADLINE, math.nan),
                "random": c["scores"].get(HEADLINE, math.nan) - c["margin"],
                "margin": c["margin"],
                "baseline margin": b.get("margin", math.nan),
            }
            out.margins.append(row)
            if not c["margin"] >= gate["min_margin"] and not b.get("exception"):
                out.below_margin.append({**row, "min margin": gate["min_margin"]})
        for metric, was in b.get("scores", {}).items():
            value = c.get("scores", {}).get(metric)
            if value is None:
                out.missing.append({"cell": name, "was": metric, "now": "metric absent"})
                continue
            row = {"cell": name, "metric": metric, "baseline": was, "now": value}
            if metric not in tolerance:
                if not (value == was or (math.isnan(value) and math.isnan(was))):
                    out.ungated.append({**row, "change": value - was})
                continue
            out.compared += 1
            tol = tolerance[metric]
            row["tolerance"] = tol
            if math.isnan(value) and not math.isnan(was):
                out.regressions.append(row)
            elif value < was - tol:
                out.regressions.append({**row, "change": value - was})
            elif value > was + tol:
                out.improvements.append({**row, "change": value - was})
    for name in sorted(set(now) - set(base)):
        out.new.append({"cell": name, "was": "absent", "now": now[name]["status"]})
    return out
