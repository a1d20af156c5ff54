"""Reports from stored run records: aggregation, tables, and Markdown / CSV writers."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tsadbench import store

if TYPE_CHECKING:
    import pandas as pd
    from rich.console import Console
    from rich.table import Table

KEYS = ["detector", "config", "dataset", "data"]


def load(results_dir: str | Path) -> pd.DataFrame:
    """One row per run record under ``results_dir`` (see ``store.flatten`` for the columns)."""
    import pandas as pd

    rows = [store.flatten(r) for r in store.iter_records(results_dir)]
    if not rows:
        raise ValueError(f"No run records (record.json) found under {results_dir}.")
    frame: pd.DataFrame = pd.DataFrame(rows)
    return frame


def summarise(runs: pd.DataFrame) -> pd.DataFrame:
    """Per detector configuration × dataset: run counts by status, then the mean of each metric
    and timing over the runs that finished (status ok), across entities and seeds.

    ``config`` (``store.config_id``) separates runs of one detector with different
    hyper-parameters, which must never be averaged together.
    """
    import pandas as pd

    value_cols = [c for c in runs.columns if c.startswith(("metric/", "time/"))]
    ok = runs[runs["status"] == "ok"]
    counts = runs.groupby(KEYS)["status"].agg(
        runs="size",
        ok=lambda s: int((s == "ok").sum()),
        errors=lambda s: int((s == "error").sum()),
    )
    means = ok.groupby(KEYS)[value_cols].mean() if value_cols else None
    table = counts.join(means) if means is not None else counts
    metric_cols = sorted(c for c in table.columns if c.startswith("metric/"))
    time_cols = [c for c in ("time/fit_s", "time/score_s") if c in table.columns]
    table = table[["runs", "ok", "errors", *metric_cols, *time_cols]]
    out: pd.DataFrame = pd.DataFrame(table).reset_index()
    return out


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return "NaN" if math.isnan(value) else f"{value:.4f}"
    return str(value)


def leaderboard_markdown(runs: pd.DataFrame, metrics: Sequence[str]) -> str:
    """The leaderboard: per detector configuration × dataset, each metric averaged over entities
    within a seed, then mean ± std over seeds; the best mean per dataset in bold; beside every
    threshold-dependent column the ``random`` detector's value on the same dataset (how much the
    protocol flatters noise); failed runs listed, never averaged."""
    import numpy as np

    ok = runs[runs["status"] == "ok"]
    cols = [f"metric/{m}" for m in metrics if f"metric/{m}" in runs.columns]
    per_seed = ok.groupby([*KEYS, "seed"])[cols].mean()
    stats = per_seed.groupby(level=KEYS).agg(["mean", "std", "count"])
    counts = runs.groupby(KEYS)["status"].agg(total="size", ok=lambda x: int((x == "ok").sum()))
    random_means = (
        per_seed.reset_index()
        .query("detector == 'random'")
        .groupby(["dataset", "data"])[cols]
        .mean()
    )
    means = stats.xs("mean", axis=1, level=1)
    best = means.groupby(level=["dataset", "data"]).max() if len(stats) else None
    header = ["detector", "config", "dataset", "data", "seeds", "ok / runs"]
    for c in cols:
        name = c.removeprefix("metric/")
        header += [name, f"{name} (random)"] if "@" in name else [name]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]

    def rank(key: Any) -> tuple[str, float]:  # by dataset, then the first metric, best first
        first = stats.loc[key, (cols[0], "mean")] if cols and key in stats.index else np.nan
        return (f"{key[2]} {key[3]}", -first if not np.isnan(first) else np.inf)

    for key in sorted(counts.index, key=rank):
        in_stats = key in stats.index
        seeds = int(stats.loc[key, (cols[0], "count")]) if cols and in_stats else 0
        row = [*map(str, key), str(seeds), f"{counts.loc[key, 'ok']} / {counts.loc[key, 'total']}"]
        for c in cols:
            mean = stats.loc[key, (c, "mean")] if in_stats else np.nan
            if np.isnan(mean):
                text = "NaN"
            else:
                std = stats.loc[key, (c, "std")]
                text = f"{mean:.4f}" + ("" if np.isnan(std) else f" ± {std:.4f}")
                if best is not None and mean == best.loc[key[2:], c]:
                    text = f"**{text}**"
            row.append(text)
            if "@" in c:
                rnd = random_means[c].get(key[2:], np.nan) if len(random_means) else np.nan
                row.append("–" if np.isnan(rnd) else f"{rnd:.4f}")
        lines.append("| " + " | ".join(row) + " |")
    out = "\n".join(lines) + "\n"
    failed = runs[runs["status"] != "ok"]
    if len(failed):
        out += "\n## Runs that did not finish (not averaged)\n\n"
        out += (
            "| detector | dataset | entity | seed | status | reason |\n|---|---|---|---|---|---|\n"
        )
        for r in failed.to_dict("records"):
            reason = str(r.get("error") or "").replace("|", "/").splitlines()
            out += (
                f"| {r['detector']} | {r['dataset']} | {r['entity']} | {r['seed']} | "
                f"{r['status']} | {reason[0] if reason else ''} |\n"
            )
    return out


@dataclass(frozen=True)
class Report:
    summary: pd.DataFrame
    markdown: Path
    csv: Path


def build(results_dir: str | Path, out: str | Path, metrics: Sequence[str] | None = None) -> Report:
    """Load the records, write ``leaderboard.md`` and ``results.csv`` (one row per run) into
    ``out``. ``metrics``: the leaderboard's columns (default: the headline ones present)."""
    runs = load(results_dir)
    summary = summarise(runs)
    present = [c.removeprefix("metric/") for c in runs.columns if c.startswith("metric/")]
    chosen = list(metrics) if metrics else ([m for m in HEADLINE if m in present] or present)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    md = out / "leaderboard.md"
    note = (
        "Each metric is averaged over the entities of a dataset within a seed, then shown as "
        "mean ± std over seeds (runs with status ok only; the others are listed below the "
        "table). Best mean per dataset in bold. `config` identifies the detector's "
        "hyper-parameters and `data` the dataset's settings: runs that differ in either are "
        "never averaged together. `@oracle`: "
        "threshold chosen on the test labels (an upper bound, not a deployable score); the "
        "`(random)` column beside each threshold-dependent metric is the `random` detector on "
        "the same data and protocol (– when no random run exists: "
        "`tsadbench run detector=random ...`).\n\n"
    )
    md.write_text("# tsadbench leaderboard\n\n" + note + leaderboard_markdown(runs, chosen))
    csv = out / "results.csv"
    runs.to_csv(csv, index=False)
    return Report(summary=summary, markdown=md, csv=csv)


def console(stderr: bool = False) -> Console:
    """A rich console; piped output gets 160 columns instead of 80, so tables stay readable."""
    import sys

    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    return Console(stderr=stderr, width=None if stream.isatty() else 160)


def _rich(columns: Iterable[str], rows: Iterable[Iterable[Any]], title: str) -> Table:
    from rich.table import Table

    table = Table(title=title)
    for c in columns:
        left = c in (*KEYS, "entity", "status", "")
        # the group prefix is implied on screen: "metric/auc_pr" shows as "auc_pr"
        table.add_column(c.split("/", 1)[-1], justify="left" if left else "right", overflow="fold")
    for row in rows:
        table.add_row(*(_fmt(v) for v in row))
    return table


#: the metrics shown on screen by default (all of them go to the files)
HEADLINE = ("vus_pr", "vus_roc", "auc_pr", "auc_roc", "f1@oracle", "pa_f1@oracle")


def summary_table(summary: pd.DataFrame, metrics: Sequence[str] | None = None) -> Table:
    """The summary for the terminal: run counts, the chosen metrics (default: the headline
    ones present, else the first six), fit time."""
    present = [c.removeprefix("metric/") for c in summary.columns if c.startswith("metric/")]
    if metrics:
        missing = sorted(set(metrics) - set(present))
        if missing:
            raise ValueError(
                f"No metric {', '.join(map(repr, missing))} in these records; "
                f"they hold: {', '.join(present)}."
            )
        chosen = list(metrics)
    else:
        chosen = [m for m in HEADLINE if m in present] or present[:6]
    cols = [*KEYS, "runs", "ok", "errors", *(f"metric/{m}" for m in chosen)]
    cols += [c for c in ("time/fit_s",) if c in summary.columns]
    return _rich(cols, summary[cols].itertuples(index=False), "tsadbench report")


def _label(column: str) -> str:
    return column.removeprefix("metric/")


def records_table(records: Sequence[Mapping[str, Any]]) -> Table:
    """The records of one ``tsadbench run``: one row per metric, one column per entity (the
    mean and range over entities when there are more than four)."""
    rows = [store.flatten(r) for r in records]
    first = rows[0] if rows else {}
    title = f"{first.get('detector')} on {first.get('dataset')} (seed {first.get('seed')})"
    values = [
        c for c in dict.fromkeys(k for r in rows for k in r) if c.startswith(("metric/", "time/"))
    ]
    if len(rows) <= 4:
        columns = ["", *(str(r["entity"]) for r in rows)]
        body = [["status", *(r["status"] for r in rows)]]
        body += [[_label(c), *(r.get(c, math.nan) for r in rows)] for c in values]
    else:
        import numpy as np

        ok = sum(r["status"] == "ok" for r in rows)
        columns = ["", f"mean of {len(rows)} entities", "min", "max"]
        body = [["status", f"{ok} ok, {len(rows) - ok} not", "", ""]]
        for c in values:
            v = np.array([r.get(c, math.nan) for r in rows], dtype=float)
            body.append(
                [
                    _label(c),
                    *(
                        float(f(v)) if np.isfinite(v).any() else math.nan
                        for f in (np.nanmean, np.nanmin, np.nanmax)
                    ),
                ]
            )
    return _rich(columns, body, title)
