"""Reports from stored run records: aggregation, tables, and Markdown / CSV writers."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from tsadbench import store

if TYPE_CHECKING:
    import pandas as pd
    from rich.console import Console
    from rich.table import Table

    from tsadbench.record import RunRecord

KEYS = ["detector", "config", "dataset", "data"]


def load(results_dir: str | Path) -> pd.DataFrame:
    """One row per run record under ``results_dir`` (see ``store.flatten`` for the columns)."""
    import pandas as pd

    rows = [
        {**store.flatten(r), "folder": str(f)}
        for f in store.record_folders(results_dir)
        if (r := store.read(f.parent, f.name)) is not None
    ]
    if not rows:
        raise ValueError(f"No run records (record.json) found under {results_dir}.")
    frame: pd.DataFrame = pd.DataFrame(rows)
    # a reduced run (fewer epochs than the paper's ...) is never mistaken for the full setting:
    # its configuration says so in every table
    reduced = frame["reduced"].notna() & (frame["reduced"].astype(str) != "")
    frame.loc[reduced, "config"] = frame.loc[reduced, "config"] + " (reduced)"
    # nor is a detector that does not follow its paper (a reconstruction, a lite variant)
    unfaithful = frame["faithful"].eq(False)
    frame.loc[unfaithful, "config"] = frame.loc[unfaithful, "config"] + " (not faithful)"
    return frame


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return "NaN" if math.isnan(value) else f"{value:.4f}"
    return str(value)


@dataclass(frozen=True)
class Leaderboard:
    """The leaderboard as text cells: ``header``, ``rows`` (best per dataset marked ``**``),
    ``failed``: the runs that did not finish (detector, dataset, entity, seed, status, reason)."""

    header: list[str]
    rows: list[list[str]]
    failed: list[list[str]]


def leaderboard(runs: pd.DataFrame, metrics: Sequence[str]) -> Leaderboard:
    """Per detector configuration × dataset: each metric averaged over entities within a seed,
    then mean ± std over seeds; the best mean per dataset marked; beside every
    threshold-dependent column the ``random`` detector's value on the same dataset (how much the
    protocol flatters noise); failed runs listed, never averaged. Ranked by the first metric."""
    import numpy as np

    ok = runs[runs["status"] == "ok"]
    cols = [f"metric/{m}" for m in metrics if f"metric/{m}" in runs.columns]
    per_seed = ok.groupby([*KEYS, "seed"])[cols].mean()
    # a metric undefined on one entity (NaN, its reason in the record) leaves that seed's
    # dataset value undefined too: never an average over the entities that happened to work
    undefined = ok[cols].isna().groupby([ok[k] for k in [*KEYS, "seed"]]).any()
    per_seed = per_seed.mask(undefined)
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

    def rank(key: Any) -> tuple[str, float]:  # by dataset, then the first metric, best first
        first = stats.loc[key, (cols[0], "mean")] if cols and key in stats.index else np.nan
        return (f"{key[2]} {key[3]}", -first if not np.isnan(first) else np.inf)

    rows = []
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
        rows.append(row)
    failed = []
    for r in runs[runs["status"] != "ok"].to_dict("records"):
        reason = str(r.get("error") or "").splitlines()
        failed.append(
            [
                str(r["detector"]),
                str(r["dataset"]),
                str(r["entity"]),
                str(r["seed"]),
                str(r["status"]),
                reason[0] if reason else "",
            ]
        )
    return Leaderboard(header, rows, failed)


def leaderboard_markdown(runs: pd.DataFrame, metrics: Sequence[str]) -> str:
    """``leaderboard`` as Markdown: the table, then the runs that did not finish."""
    board = leaderboard(runs, metrics)
    lines = ["| " + " | ".join(board.header) + " |", "|" + "---|" * len(board.header)]
    lines += ["| " + " | ".join(row) + " |" for row in board.rows]
    out = "\n".join(lines) + "\n"
    if board.failed:
        out += "\n## Runs that did not finish (not averaged)\n\n"
        out += (
            "| detector | dataset | entity | seed | status | reason |\n|---|---|---|---|---|---|\n"
        )
        for row in board.failed:
            out += "| " + " | ".join(cell.replace("|", "/") for cell in row) + " |\n"
    return out


@dataclass(frozen=True)
class PublishedCell:
    """One published score beside ours: ``mean`` ± ``std`` over ``n_seeds`` seeds (NaN with
    no finished run) of the ``runs`` (records of the paper's suite, this detector and dataset,
    one ``reduced`` setting), with the ``paper`` block that carries it."""

    detector: str
    dataset: str
    metric: str
    value: float
    mean: float
    std: float
    n_seeds: int
    reduced: str
    paper: Mapping[str, Any]
    runs: pd.DataFrame
    random: float = float("nan")  # the random detector's value in the same suite and data

    @property
    def summed(self) -> bool:
        return str(self.paper.get("aggregation", "mean")) == SUMMED

    @property
    def source(self) -> str:
        text = str(self.paper.get("source", ""))
        if self.paper.get("note"):
            text += f"; {self.paper['note']}"
        if self.summed:
            text += " (ours and theirs: TP, FP, FN summed over the signals, then divided)"
        return text


def paper_blocks(config: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """The ``paper:`` blocks (``detector``, ``source``, ``scores``) a run's config (its suite)
    carried."""
    given = (config or {}).get("paper")
    return [
        p
        for p in (given if isinstance(given, list) else [given])
        if isinstance(p, dict) and p.get("detector") and p.get("scores")
    ]


def published_cells(runs: pd.DataFrame) -> list[PublishedCell]:
    """Every published score that a reproduction suite's config carries (``paper:`` with
    ``detector``, ``source`` and ``scores``: dataset -> metric -> value; a list of such blocks
    for several tables or a baseline's numbers), beside our mean ± std over seeds of the runs of
    that suite, detector and dataset (entities averaged within a seed, or TP / FP / FN summed
    with ``aggregation: summed_counts``). A reduced setting and the full one are separate cells,
    never averaged together; a cell without a finished run has NaN."""
    import numpy as np

    papers: dict[str, dict[str, Any]] = {}
    carried: dict[str, set[str]] = {}  # record folder -> the papers its suite carried
    for folder in runs["folder"].unique():
        record = store.read(Path(folder).parent, Path(folder).name)
        for paper in paper_blocks(record.config) if record is not None else []:
            # two suites may cite one source for different datasets (Orion's NASA and NAB)
            key = json.dumps(paper, sort_keys=True, default=str)
            papers[key] = paper
            carried.setdefault(folder, set()).add(key)
    cells = []
    of_suites = runs[runs["folder"].isin(list(carried))]
    of_suites = of_suites.assign(setting=of_suites["reduced"].fillna("").astype(str))
    for key, paper in papers.items():
        det = str(paper["detector"])
        rule = str(paper.get("aggregation", "mean"))
        if rule not in (SUMMED, "mean"):
            raise ValueError(
                f"The paper block of the {det!r} suite has aggregation {rule!r}; expected "
                f"'mean' (of the entities' values) or {SUMMED!r}."
            )
        # only the runs of this paper's suite: other settings of the same detector never mix in
        mine_all = of_suites[[key in carried[f] for f in of_suites["folder"]]]
        for dataset, scores in sorted(paper["scores"].items()):
            here = mine_all[(mine_all["detector"] == det) & (mine_all["dataset"] == dataset)]
            for reduced in sorted(set(here["setting"])) or [""]:
                group = here[here["setting"] == reduced]
                ok = group[group["status"] == "ok"]
                # what noise scores on the same protocol, where the suite ran `random` too
                noise = mine_all[
                    (mine_all["detector"] == "random")
                    & (mine_all["dataset"] == dataset)
                    & (mine_all["status"] == "ok")
                ]
                for metric, value in sorted(scores.items()):
                    per_seed = _per_seed(ok, metric, rule)
                    rnd = _per_seed(noise, metric, rule)
                    cells.append(
                        PublishedCell(
                            detector=det,
                            dataset=dataset,
                            metric=metric,
                            value=float(value),
                            mean=float(per_seed.mean()) if len(per_seed) else np.nan,
                            std=float(per_seed.std()) if len(per_seed) > 1 else np.nan,
                            n_seeds=len(per_seed),
                            reduced=reduced,
                            paper=paper,
                            runs=group,
                            random=float(rnd.mean()) if len(rnd) else np.nan,
                        )
                    )
    return cells


def _per_seed(runs: pd.DataFrame, metric: str, rule: str) -> pd.Series:
    """A published metric per seed: entities averaged, or their counts summed (``rule``)."""
    import pandas as pd

    col = f"metric/{metric}"
    if rule == SUMMED:
        per_seed = _from_summed_counts(runs, metric)
    else:
        per_seed = runs.groupby("seed")[col].mean() if col in runs else None
    return pd.Series(dtype=float) if per_seed is None else per_seed


def published(runs: pd.DataFrame) -> list[list[str]]:
    """``published_cells`` as the report's rows: "detector, dataset, metric, published, ours,
    ours − published, source"."""
    import numpy as np

    rows = []
    for c in published_cells(runs):
        if np.isnan(c.mean):
            ours, diff = "– (no finished run)", "–"
        else:
            ours = f"{c.mean:.3f}" + ("" if np.isnan(c.std) else f" ± {c.std:.3f}")
            if c.reduced:
                ours += f" (reduced: {c.reduced})"
            diff = f"{c.mean - c.value:+.3f}"
        rows.append([c.detector, c.dataset, c.metric, f"{c.value:.3f}", ours, diff, c.source])
    return rows


SUMMED = "summed_counts"


def _from_summed_counts(runs: pd.DataFrame, metric: str) -> pd.Series | None:
    """Per seed, ``<stem>_f1|precision|recall@<protocol>`` from the ``<stem>_tp|fp|fn`` counts
    summed over the entities (Orion's benchmark rule); None when the counts were not recorded.
    An entity without counts (NaN) makes that seed's value NaN."""
    base, at, protocol = metric.partition("@")
    stem, _, kind = base.rpartition("_")
    cols = [f"metric/{stem}_{c}{at}{protocol}" for c in ("tp", "fp", "fn")]
    if kind not in ("f1", "precision", "recall") or not all(c in runs for c in cols):
        return None
    sums = runs.groupby("seed")[cols].sum()
    sums[runs[cols].isna().any(axis=1).groupby(runs["seed"]).any()] = float("nan")
    tp, fp, fn = (sums[c] for c in cols)
    if kind == "f1":
        return (2 * tp / (2 * tp + fp + fn)).mask(tp == 0, 0.0)
    if kind == "precision":
        return (tp / (tp + fp)).mask(tp + fp == 0, 0.0)
    return tp / (tp + fn)


PUBLISHED_HEADER = [
    "detector", "dataset", "metric", "published", "ours", "ours − published", "source",
]  # fmt: skip


AGGREGATES = ("mean", "pooled")


def pooled(runs: pd.DataFrame, metrics: Sequence[str]) -> pd.DataFrame:
    """One row per detector configuration × dataset × seed whose metrics are computed on the
    concatenation of its entities' stored scores and labels (train scores too, for the
    label-free protocols), entities in name order. A group with an entity that did not finish
    cannot be pooled: its row has status ``error`` and says which."""
    import numpy as np

    from tsadbench.metrics import evaluate, parse_metric

    specs = [parse_metric(m) for m in metrics]
    rows = []
    for key, group in runs.groupby([*KEYS, "seed"], sort=True):
        row: dict[str, Any] = dict(zip([*KEYS, "seed"], key, strict=True))
        row.update(entity=f"(pooled: {len(group)} entities)", key=None, error=None)
        bad = group[group["status"] != "ok"]
        if len(bad):
            row["status"] = "error"
            row["error"] = (
                f"cannot pool: {len(bad)} of {len(group)} entities did not finish "
                f"({', '.join(map(str, bad['entity']))})"
            )
            rows.append(row)
            continue
        group = group.sort_values("entity")  # entities in name order, as documented
        parts = [store.read_scores(Path(f).parent, Path(f).name) for f in group["folder"]]
        labels, test = (np.concatenate([getattr(p, k) for p in parts]) for k in ("labels", "test"))
        trains = [p.train for p in parts if p.train is not None]
        train = np.concatenate(trains) if len(trains) == len(parts) else None
        values = evaluate(labels, test, specs, train)
        row["status"] = "ok"
        row.update({f"metric/{name}": value for name, value in values.items()})
        if values.errors:  # undefined on the pooled data: NaN, and the reasons
            row["error"] = "; ".join(f"{n}: {e}" for n, e in values.errors.items())
        rows.append(row)
    import pandas as pd

    table: pd.DataFrame = pd.DataFrame(rows)
    return table


def add_random_runs(
    runs: pd.DataFrame, results_dir: str | Path, log: Callable[[str], None] = print
) -> int:
    """Run the ``random`` detector on every dataset × seed of ``runs`` that lacks it (same data
    settings, the union of the metric sets), so that each threshold-dependent column can show
    what noise scores under its protocol. Returns the number of runs made; a dataset that cannot
    be loaded here is logged and skipped."""
    from tsadbench.runner import run
    from tsadbench.settings import ConfigError, RunSettings, default_data_root

    have = set(
        map(tuple, runs.loc[runs["detector"] == "random", ["dataset", "data", "seed"]].values)
    )
    metric_names = [c.removeprefix("metric/") for c in runs.columns if c.startswith("metric/")]
    made = 0
    for key, group in runs.groupby(["dataset", "data", "seed"]):
        dataset, data, seed = cast(tuple[str, str, int], key)
        if (dataset, data, seed) in have:
            continue
        record = store.read(Path(group["folder"].iloc[0]).parent, group["key"].iloc[0])
        if record is None:
            continue
        config = record.config or {}
        settings = RunSettings(
            detector="random",
            detector_params={"random_state": int(seed)},
            dataset=str(dataset),
            dataset_loader=record.dataset.loader,
            dataset_params=dict(record.dataset.params),
            metrics=metric_names,
            seed=int(seed),
            results_dir=Path(results_dir),
            data_root=Path(config["data_root"]) if config.get("data_root") else default_data_root(),
            isolate=False,
        )
        try:
            made += len(run(settings, log=lambda _msg: None))
            log(f"ran the random detector on {dataset} (data {data}, seed {seed})")
        except ConfigError as exc:
            log(f"no random baseline for {dataset} (data {data}, seed {seed}): {exc}")
    return made


@dataclass(frozen=True)
class Report:
    board: Leaderboard
    markdown: Path
    csv: Path
    html: Path


def build(
    results_dir: str | Path,
    out: str | Path,
    metrics: Sequence[str] | None = None,
    aggregate: str = "mean",
    random: bool = True,
    log: Callable[[str], None] = print,
    plot_entities: Sequence[str] = (),
) -> Report:
    """Load the records (running the ``random`` baseline where it is missing, unless
    ``random=False``), write ``leaderboard.md``, ``results.csv`` (one row per run) and
    ``report.html`` into ``out``. ``metrics``: the leaderboard's columns, ranked by the first
    (default: the headline ones present, ``vus_pr`` first). ``aggregate``: ``mean`` of the
    per-entity values, or ``pooled`` (each metric on the concatenated entities)."""
    from tsadbench.report.html import render

    if aggregate not in AGGREGATES:
        raise ValueError(f"--aggregate must be one of {AGGREGATES}. Got {aggregate!r}.")
    runs = load(results_dir)
    present = [c.removeprefix("metric/") for c in runs.columns if c.startswith("metric/")]
    if metrics:  # every check before anything is run or written
        missing = sorted(set(metrics) - set(present))
        if missing:
            raise ValueError(
                f"No metric {', '.join(map(repr, missing))} in these records; "
                f"they hold: {', '.join(present)}."
            )
    if plot_entities and not set(plot_entities) & set(runs["entity"]):
        raise ValueError(
            f"No entity {', '.join(map(repr, plot_entities))} in these records; they hold: "
            f"{', '.join(sorted(map(str, runs['entity'].unique()))[:20])}."
        )
    if random and add_random_runs(runs, results_dir, log):
        runs = load(results_dir)
    chosen = list(metrics) if metrics else ([m for m in HEADLINE if m in present] or present)
    table = pooled(runs, chosen) if aggregate == "pooled" else runs
    board = leaderboard(table, chosen)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paper_rows = published(runs)
    text = "# tsadbench leaderboard\n\n" + aggregation_note(aggregate, chosen[0]) + "\n\n"
    text += NOTE + leaderboard_markdown(table, chosen)
    if paper_rows:
        text += "\n## Published versus ours\n\n| " + " | ".join(PUBLISHED_HEADER) + " |\n"
        text += "|" + "---|" * len(PUBLISHED_HEADER) + "\n"
        text += "".join("| " + " | ".join(r) + " |\n" for r in paper_rows)
    md = out / "leaderboard.md"
    md.write_text(text)
    csv = out / "results.csv"
    runs.drop(columns=["folder"]).to_csv(csv, index=False)
    html = out / "report.html"
    html.write_text(
        render(runs, table, board, chosen, aggregate, str(results_dir), plot_entities, paper_rows)
    )
    return Report(board=board, markdown=md, csv=csv, html=html)


def aggregation_note(aggregate: str, ranked_by: str) -> str:
    how = (
        "Each metric is computed on the concatenation of a dataset's entities (pooled) within "
        "a seed"
        if aggregate == "pooled"
        else "Each metric is averaged over the entities of a dataset within a seed"
    )
    return (
        f"**Aggregation over entities: {aggregate}.** {how}, then shown as mean ± std over "
        f"seeds (runs with status ok only; the others are listed below the table). Ranked by "
        f"`{ranked_by}`; best mean per dataset in bold."
    )


NOTE = (
    "`config` identifies the detector's hyper-parameters and `data` the dataset's settings: runs "
    "that differ in either are never averaged together. `@oracle`: threshold chosen on the test "
    "labels (an upper bound, not a deployable score); the `(random)` column beside each "
    "threshold-dependent metric is the `random` detector on the same data and protocol (– when "
    "no random run exists).\n\n"
)


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


def leaderboard_table(board: Leaderboard) -> Table:
    """The leaderboard for the terminal (the best per dataset in bold, failed runs counted)."""
    from rich.table import Table

    title = "tsadbench leaderboard" + (
        f" ({len(board.failed)} runs did not finish: see leaderboard.md)" if board.failed else ""
    )
    table = Table(title=title)
    for h in board.header:
        left = h in (*KEYS, "seeds", "ok / runs")
        style = "dim" if h.endswith("(random)") else None
        table.add_column(h, justify="left" if left else "right", style=style, overflow="fold")
    for row in board.rows:
        table.add_row(*(f"[bold]{c.strip('*')}[/]" if c.startswith("**") else c for c in row))
    return table


def _label(column: str) -> str:
    return column.removeprefix("metric/")


def records_table(records: Sequence[RunRecord]) -> Table:
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
