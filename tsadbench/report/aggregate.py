"""Reports, second layer: numbers only, as data frames and plain records — the leaderboard
(mean ± std over seeds), pooled metrics over entities, published cells beside ours. Nothing here
formats or prints."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tsadbench import store
from tsadbench.report.load import KEYS, paper_blocks, with_marks

if TYPE_CHECKING:
    import pandas as pd


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

    cols = [f"metric/{m}" for m in metrics if f"metric/{m}" in runs.columns]
    per_seed = _seed_means(runs, cols)
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
    header = [*KEYS, "seeds", "ok / runs"]
    for c in cols:
        name = c.removeprefix("metric/")
        header += [name, f"{name} (random)"] if "@" in name else [name]

    def rank(key: Any) -> tuple[str, float]:  # by dataset, then the first metric, best first
        first = stats.loc[key, (cols[0], "mean")] if cols and key in stats.index else np.nan
        return (f"{key[-2]} {key[-1]}", -first if not np.isnan(first) else np.inf)

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
                if best is not None and mean == best.loc[key[-2:], c]:
                    text = f"**{text}**"
            row.append(text)
            if "@" in c:
                rnd = random_means[c].get(key[-2:], np.nan) if len(random_means) else np.nan
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


def _seed_means(runs: pd.DataFrame, cols: Sequence[str]) -> pd.DataFrame:
    """Each finished run's metrics averaged over the entities of a configuration × dataset ×
    seed. A metric undefined on one entity (NaN, its reason in the record) leaves that seed's
    dataset value undefined too: never an average over the entities that happened to work."""
    ok = runs[runs["status"] == "ok"]
    per_seed: pd.DataFrame = ok.groupby([*KEYS, "seed"])[list(cols)].mean()
    undefined = ok[list(cols)].isna().groupby([ok[k] for k in [*KEYS, "seed"]]).any()
    masked: pd.DataFrame = per_seed.mask(undefined)
    return masked


@dataclass(frozen=True)
class Wide:
    """One metric as a paper's table: rows are detector configurations (``detector``,
    ``params``), columns the datasets (with the data's hash where a dataset ran with several
    settings); ``mean`` and ``std`` over seeds (NaN: no finished run), ``best`` marks the
    highest mean per dataset. ``threshold`` says how the metric's threshold was chosen."""

    metric: str
    threshold: str
    mean: pd.DataFrame
    std: pd.DataFrame
    best: pd.DataFrame


def threshold_kind(metric: str) -> str:
    """How ``metric``'s threshold is chosen, for a table's caption."""
    from tsadbench.metrics import parse_metric

    protocol = parse_metric(metric).protocol
    if protocol is None:
        return "threshold-free"
    if protocol == "oracle":
        return "oracle: threshold chosen on the test labels (an upper bound)"
    return f"label-free threshold: {protocol}"


def wide(runs: pd.DataFrame, metrics: Sequence[str]) -> list[Wide]:
    """One :class:`Wide` table per metric of ``metrics`` (those the runs hold)."""
    cols = [f"metric/{m}" for m in metrics if f"metric/{m}" in runs.columns]
    per_seed = _seed_means(runs, cols).reset_index()
    several = per_seed.groupby("dataset")["data"].nunique()
    per_seed["column"] = [
        f"{d} [{h}]" if several.get(d, 1) > 1 else str(d)
        for d, h in zip(per_seed["dataset"], per_seed["data"], strict=True)
    ]
    # a reduced or not faithful configuration says so beside its parameters ("(reduced)" ...)
    per_seed["params"] = [
        with_marks(p, c) for p, c in zip(per_seed["params"], per_seed["config"], strict=True)
    ]
    tables = []
    for c in cols:
        grouped = per_seed.groupby(["detector", "params", "column"])[c]
        mean, std = grouped.mean().unstack("column"), grouped.std().unstack("column")
        best = mean.eq(mean.max(axis=0), axis=1) & mean.notna()
        name = c.removeprefix("metric/")
        tables.append(Wide(name, threshold_kind(name), mean, std.reindex_like(mean), best))
    return tables


AGGREGATES = ("mean", "pooled")


def pooled(runs: pd.DataFrame, metrics: Sequence[str]) -> pd.DataFrame:
    """One row per detector configuration × dataset × seed whose metrics are computed on the
    concatenation of its entities' stored scores and labels (train scores too, for the
    label-free protocols), entities in name order. A group with an entity that did not finish,
    or whose scores were not kept (the reproductions' records), cannot be pooled: its row has
    status ``error`` and says why."""
    import numpy as np

    from tsadbench.metrics import evaluate, parse_metric

    specs = [parse_metric(m) for m in metrics]
    rows = []
    for key, group in runs.groupby([*KEYS, "seed"], sort=True):
        row: dict[str, Any] = dict(zip([*KEYS, "seed"], key, strict=True))
        row.update(entity=f"(pooled: {len(group)} entities)", key=None, error=None)
        bad = group[group["status"] != "ok"]
        kept = [Path(f) for f in group["folder"] if not (Path(f) / store.SCORES).is_file()]
        if len(bad) or kept:
            row["status"] = "error"
            row["error"] = (
                f"cannot pool: {len(bad)} of {len(group)} entities did not finish "
                f"({', '.join(map(str, bad['entity']))})"
                if len(bad)
                else f"cannot pool: {len(kept)} record(s) kept without their scores ({kept[0]})"
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


#: the metrics shown on screen by default (all of them go to the files)
HEADLINE = ("vus_pr", "vus_roc", "auc_pr", "auc_roc", "f1@oracle", "pa_f1@oracle")
