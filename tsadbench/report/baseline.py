"""The CI regression leaderboard: a committed baseline of (detector, dataset) scores with
per-cell tolerances, and the check that fails when a score falls below it.

A cell is one detector × dataset of a results folder (``tsadbench run suite=ci``): each metric's
mean over the cell's entities and seeds, its status, and a hash of the configuration that made it
(detector parameters, dataset settings and data checksums, preprocessing, seeds; not the
tsadbench version), so a check can tell a changed score from a changed experiment.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tsadbench import __version__, store

FORMAT = 1
DEFAULT_TOLERANCE = 0.02


def cells(results_dir: str | Path, metrics: list[str] | None = None) -> dict[str, dict[str, Any]]:
    """The cells of a results folder, keyed ``"<detector> / <dataset>"``."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for record in store.iter_records(results_dir):
        name = f"{record['detector']['name']} / {record['dataset']['name']}"
        grouped.setdefault(name, []).append(record)
    if not grouped:
        raise ValueError(f"No run records (record.json) found under {results_dir}.")
    out = {}
    for name, records in sorted(grouped.items()):
        configs = {_config_hash(r) for r in records if r["dataset"].get("entity") != "*"}
        settings = {
            (
                store.config_id(r["detector"].get("params", {})),
                store.run_key(r["dataset"].get("params", {})),
            )
            for r in records
        }
        if len(settings) > 1:
            raise ValueError(
                f"The results under {results_dir} hold several configurations of {name} (detector "
                "or dataset settings); a leaderboard cell needs exactly one. Use a fresh results "
                "folder for the suite."
            )
        statuses = sorted({str(r.get("status")) for r in records})
        cell: dict[str, Any] = {
            "status": statuses[0] if len(statuses) == 1 else "mixed",
            "runs": len(records),
            "config": store.run_key({"runs": sorted(configs)}),
        }
        if cell["status"] != "ok":
            reasons = sorted(
                {str(r.get("error", "")).splitlines()[0] for r in records if r.get("error")}
            )
            cell["reason"] = "; ".join(reasons)[:300]
        else:
            names = metrics or sorted({m for r in records for m in r.get("metrics", {})})
            cell["scores"] = {
                m: _mean([r.get("metrics", {}).get(m, math.nan) for r in records]) for m in names
            }
        out[name] = cell
    return out


def _mean(values: list[float]) -> float:
    clean = [float(v) for v in values if v is not None]
    return math.fsum(clean) / len(clean) if clean else math.nan


def _config_hash(record: dict[str, Any]) -> str:
    ds = record.get("dataset", {})
    return store.run_key(
        {
            "detector": record.get("detector", {}).get("params", {}),
            "dataset": [ds.get("name"), ds.get("params"), ds.get("entity"), ds.get("checksum")],
            "preprocessing": record.get("preprocessing", {}).get("scaler"),
            "seed": record.get("seed"),
        }
    )


def update(
    results_dir: str | Path,
    baseline: str | Path,
    metrics: list[str] | None = None,
    tolerance: float | None = None,
) -> dict[str, Any]:
    """Write the baseline of ``results_dir`` to ``baseline`` (atomically); return it. Each score
    gets ``tolerance`` when given; when not, a score keeps the tolerance it has in the existing
    baseline (widened by hand for a noisy detector, say) and a new one gets
    ``DEFAULT_TOLERANCE``."""
    if tolerance is not None and not (isinstance(tolerance, (int, float)) and tolerance >= 0):
        raise ValueError(f"The tolerance must be a number >= 0. Got {tolerance!r} instead.")
    found = cells(results_dir, metrics)
    old = load(baseline)["cells"] if Path(baseline).is_file() else {}
    for name, cell in found.items():
        kept = old.get(name, {}).get("scores", {})
        cell["scores"] = {
            m: {
                "value": v,
                "tolerance": tolerance
                if tolerance is not None
                else kept.get(m, {}).get("tolerance", DEFAULT_TOLERANCE),
            }
            for m, v in cell.get("scores", {}).items()
        }
        if not cell["scores"]:
            del cell["scores"]
    data = {
        "format": FORMAT,
        "tsadbench": __version__,
        "config_hash": store.run_key({n: c["config"] for n, c in found.items()}),
        "cells": found,
    }
    text = json.dumps(data, indent=2, sort_keys=True, allow_nan=True) + "\n"
    store.atomic_write(Path(baseline), text.encode())
    return data


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
            f"The baseline {path} is not a tsadbench leaderboard baseline (format {FORMAT} with "
            f"'cells'); got format {data.get('format')!r}."
        )
    return data


@dataclass
class Check:
    """What ``check`` found. ``passed`` when nothing regressed and no cell is missing or new."""

    regressions: list[dict[str, Any]] = field(default_factory=list)  # below value - tolerance
    improvements: list[dict[str, Any]] = field(default_factory=list)  # above value + tolerance
    missing: list[dict[str, Any]] = field(default_factory=list)  # in the baseline, not ok now
    new: list[dict[str, Any]] = field(default_factory=list)  # not in the baseline
    changed: list[dict[str, Any]] = field(default_factory=list)  # same cell, other config
    compared: int = 0

    @property
    def passed(self) -> bool:
        return not (self.regressions or self.missing or self.new or self.changed)


def check(results_dir: str | Path, baseline: str | Path) -> Check:
    """Compare the cells of ``results_dir`` with the baseline, score by score."""
    base = load(baseline)["cells"]
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
        for metric, s in b.get("scores", {}).items():
            value = c.get("scores", {}).get(metric)
            if value is None:
                out.missing.append({"cell": name, "was": metric, "now": "metric absent"})
                continue
            out.compared += 1
            row = {
                "cell": name,
                "metric": metric,
                "baseline": s["value"],
                "now": value,
                "tolerance": s["tolerance"],
            }
            if math.isnan(value) and not math.isnan(s["value"]):
                out.regressions.append(row)
            elif value < s["value"] - s["tolerance"]:
                out.regressions.append(row)
            elif value > s["value"] + s["tolerance"]:
                out.improvements.append(row)
    for name in sorted(set(now) - set(base)):
        out.new.append({"cell": name, "was": "absent", "now": now[name]["status"]})
    return out
