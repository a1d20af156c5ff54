"""``report.html``: one self-contained page (inline CSS, plots as SVG data URIs, no script, no
network) with the leaderboard, average ranks with a Friedman test and a critical-difference
diagram, the seed spread, per-entity tables, plots of chosen entities, runtime and memory, and
the runs that did not finish."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from tsadbench import __version__, store
from tsadbench.report import svg
from tsadbench.report.render import NOTE, PUBLISHED_HEADER, aggregation_note
from tsadbench.report.stats import cliques, friedman, not_meaningful, ranks

if TYPE_CHECKING:
    import pandas as pd

    from tsadbench.report.aggregate import Leaderboard

CSS = """
body { font-family: Helvetica, Arial, sans-serif; margin: 2em auto; max-width: 1200px;
       color: #222; line-height: 1.4; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; margin-top: 2em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.85em; }
th, td { border: 1px solid #ddd; padding: 3px 7px; text-align: right; white-space: nowrap; }
th { background: #f3f3f3; white-space: normal; vertical-align: bottom; }
div.wide { overflow-x: auto; } td.l, th.l { text-align: left; }
td.rnd { color: #888; } .oracle { color: #a33; font-weight: bold; }
.note { color: #555; font-size: 0.9em; max-width: 60em; }
.bad { color: #a33; }
img { display: block; margin: 0.5em 0; max-width: 100%; }
img.plot { width: 100%; height: auto; }
td.below { background: #fde2e2; }
"""

LEFT = {"detector", "config", "params", "dataset", "data", "entity", "status", "reason", "seeds"}


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """An HTML table; a cell written ``**x**`` is bold, ``(random)`` columns are greyed, and an
    ``@oracle`` column header is marked."""
    out = ["<div class='wide'><table><tr>"]
    for h in header:
        cls = "l" if h in LEFT else ""
        label = escape(str(h))
        if "@oracle" in str(h):
            label = label.replace("@oracle", "@<span class='oracle'>oracle</span>")
        out.append(f"<th class='{cls}'>{label}</th>")
    out.append("</tr>")
    for row in rows:
        out.append("<tr>")
        cells = dict(zip(header, row, strict=True))
        for h, cell in cells.items():
            text = _fmt(cell)
            bold = text.startswith("**") and text.endswith("**")
            body = escape(text.strip("*") if bold else text)
            cls = "l" if h in LEFT else ("rnd" if str(h).endswith("(random)") else "")
            if _below_random(text, cells.get(f"{h} (random)")):
                cls = "below"
            out.append(f"<td class='{cls}'>{'<b>' + body + '</b>' if bold else body}</td>")
        out.append("</tr>")
    out.append("</table></div>")
    return "".join(out)


def _below_random(text: str, random: Any) -> bool:
    """A leaderboard cell (``mean ± std``) whose mean is below the random detector's."""
    try:
        return float(text.strip("*").split(" ")[0]) < float(str(random))
    except (TypeError, ValueError):
        return False


def _fmt(value: Any) -> str:
    """One format for every number of a column's kind: no ``6.9e-05`` beside ``2.3e+05``."""
    if isinstance(value, (float, np.floating)):
        if math.isnan(value):
            return "–"
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        return f"{value:.3f}" if abs(value) >= 1 or value == 0 else f"{value:.4f}"
    return str(value)


def detector_labels(runs: pd.DataFrame) -> pd.Series:
    """``detector``, or ``detector [its parameters]`` where one detector ran with several
    configurations (``[config]`` where the parameters alone do not tell them apart)."""
    n_configs = runs.groupby("detector")["config"].transform("nunique")
    n_params = runs.groupby("detector")["params"].transform("nunique")
    which = runs["params"].where(n_params == n_configs, runs["config"])
    labels: pd.Series = runs["detector"].where(
        n_configs == 1, runs["detector"] + " [" + which + "]"
    )
    return labels


def render(
    runs: pd.DataFrame,
    table: pd.DataFrame,
    board: Leaderboard,
    metrics: Sequence[str],
    aggregate: str,
    source: str,
    plot_entities: Sequence[str] = (),
    paper_rows: Sequence[Sequence[str]] = (),
) -> str:
    """The page. ``runs``: one row per record; ``table``: what the leaderboard aggregated (the
    runs, or their pooled rows); ``metrics[0]`` ranks; ``plot_entities``: the entities to plot
    (default: the first two of each dataset)."""
    metric = metrics[0]
    col = f"metric/{metric}"
    runs = runs.assign(label=detector_labels(runs))
    ok = runs[runs["status"] == "ok"]
    n_ok = len(ok)
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>tsadbench report: {escape(source)}</title><style>{CSS}</style></head><body>",
        "<h1>tsadbench report</h1>",
        f"<p class='note'>{len(runs)} runs ({n_ok} ok, {len(runs) - n_ok} did not finish) "
        f"from <code>{escape(source)}</code>; generated {time.strftime('%Y-%m-%d %H:%M')} by "
        f"tsadbench {__version__}. Ranked by <code>{escape(metric)}</code>.</p>",
        "<h2>Leaderboard</h2>",
        f"<p class='note'>{_md(aggregation_note(aggregate, metric))} {_md(NOTE)}</p>",
        _table(board.header, board.rows),
        "<p class='note'>A shaded cell is below the <code>random</code> detector's value on the "
        "same data and protocol.</p>",
    ]
    if paper_rows:
        parts.append("<h2>Published versus ours</h2>")
        parts.append(
            "<p class='note'>The scores a reproduction suite's paper published, beside ours "
            "(mean ± std over seeds) on the same detector and dataset.</p>"
        )
        parts.append(_table(PUBLISHED_HEADER, paper_rows))
    parts += _ranks_section(ok, col, metric)
    parts += _seed_section(ok, col, metric)
    parts += _entity_section(ok, col, metric)
    held = [c.removeprefix("metric/") for c in runs.columns if c.startswith("metric/")]
    parts += _plots_section(ok, plot_entities, [*metrics, *held])  # the chosen protocol first
    parts += _runtime_section(ok)
    if board.failed:
        parts.append("<h2>Runs that did not finish (not averaged)</h2>")
        parts.append(
            _table(["detector", "dataset", "entity", "seed", "status", "reason"], board.failed)
        )
    parts.append("</body></html>")
    return "\n".join(parts)


def _md(text: str) -> str:
    """The few Markdown marks of the notes (``**bold**``, ```code```) as HTML."""
    import re

    text = escape(text.strip())
    text = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", text)
    return re.sub(r"`(.+?)`", r"<code>\1</code>", text)


def _block_table(ok: pd.DataFrame, col: str, by: str) -> pd.DataFrame:
    """Blocks (datasets or dataset/entity pairs) × detectors: the metric's mean over seeds."""
    keys = ["dataset", "data"] if by == "dataset" else ["dataset", "data", "entity"]
    if by == "dataset":  # mean over entities within a seed, then over seeds
        per_seed = ok.groupby([*keys, "label", "seed"])[col].mean()
        values = per_seed.groupby(level=[*keys, "label"]).mean()
    else:
        values = ok.groupby([*keys, "label"])[col].mean()
    wide: pd.DataFrame = values.unstack("label")
    return wide


def _ranks_section(ok: pd.DataFrame, col: str, metric: str) -> list[str]:
    out = ["<h2>Average ranks, Friedman test and critical difference</h2>"]
    if col not in ok.columns or ok.empty:
        return [*out, "<p class='bad'>No finished runs hold this metric.</p>"]
    n_datasets = ok.groupby(["dataset", "data"]).ngroups
    by = "dataset" if n_datasets >= 5 else "entity"
    wide = _block_table(ok, col, by).drop(columns=["random"], errors="ignore")
    ranked = ranks(wide)
    blocks = "datasets" if by == "dataset" else "entities (dataset/entity)"
    out.append(
        f"<p class='note'>Detectors ranked on <code>{escape(metric)}</code> within each of "
        f"{len(ranked)} {blocks} where every ranked detector has a value (1 = best; seeds "
        "averaged first). Blocks are datasets when there are at least 5, else entities. The "
        "<code>random</code> baseline is not ranked. Ranks, seed spread and per-entity tables "
        "use the per-entity values, whatever the leaderboard's aggregation.</p>"
    )
    left_out = [
        f"{' / '.join(map(str, block if isinstance(block, tuple) else (block,)))} (no value "
        f"for {', '.join(map(str, row.index[row.isna()]))})"
        for block, row in wide.iterrows()
        if row.isna().any()
    ]
    if left_out:
        out.append(
            f"<p class='note'>Left out of the ranking ({len(left_out)} block(s)): "
            f"{escape('; '.join(left_out))}.</p>"
        )
    if ranked.shape[1] < 2 or len(ranked) < 2:
        return [*out, "<p class='bad'>A rank comparison needs at least 2 detectors on 2 blocks."]
    mean_ranks = ranked.mean().sort_values()
    out.append(
        _table(
            ["detector", "average rank", "blocks won"],
            [[d, r, int((ranked[d] == 1).sum())] for d, r in mean_ranks.items()],
        )
    )
    if ranked.shape[1] < 3:
        return [*out, "<p class='bad'>No Friedman test: it needs at least 3 ranked detectors "
                "(two make a sign test).</p>"]  # fmt: skip
    test = friedman(ranked)
    why = not_meaningful(test)
    if why:
        return [*out, f"<p class='bad'>No Friedman test or critical-difference diagram: "
                f"{escape(why)}. The average ranks above are descriptive only.</p>"]  # fmt: skip
    verdict = (
        "the detectors differ significantly"
        if test.p_value < test.alpha
        else "no significant difference between the detectors"
    )
    out.append(
        f"<p>Friedman test: χ² = {test.statistic:.3f}, p = {test.p_value:.3g} over "
        f"{test.n_blocks} blocks and {test.n_detectors} detectors: {verdict} at α = "
        f"{test.alpha}. Nemenyi critical difference CD = {test.cd:.3f}: detectors joined by a "
        "bar are not significantly different.</p>"
    )
    diagram = svg.cd_diagram(
        {str(k): float(v) for k, v in mean_ranks.items()},
        test.cd,
        cliques(mean_ranks, test.cd),
        f"Critical difference ({metric}, α = {test.alpha})",
    )
    out.append(f"<img alt='critical-difference diagram' src='{svg.data_uri(diagram)}'>")
    return out


def _seed_section(ok: pd.DataFrame, col: str, metric: str) -> list[str]:
    out = [
        "<h2>Seed spread</h2>",
        f"<p class='note'><code>{escape(metric)}</code> per seed (mean over entities), and "
        "its range over seeds.</p>",
    ]
    if col not in ok.columns or ok.empty:
        return out
    per_seed = ok.groupby(["label", "dataset", "data", "seed"])[col].mean().unstack("seed")
    seeds = list(per_seed.columns)
    rows = []
    for key, values in per_seed.iterrows():
        det, ds, data = cast(tuple[str, str, str], key)
        v = values.to_numpy(float)
        finite = v[np.isfinite(v)]
        spread = float(finite.max() - finite.min()) if len(finite) else math.nan
        rows.append([det, ds, data, *v, len(finite), spread])
    header = ["detector", "dataset", "data", *(f"seed {s}" for s in seeds), "seeds", "max − min"]
    out.append(_table(header, rows))
    return out


def _entity_section(ok: pd.DataFrame, col: str, metric: str) -> list[str]:
    out = [
        "<h2>Per entity</h2>",
        f"<p class='note'><code>{escape(metric)}</code> per entity, mean over seeds.</p>",
    ]
    if col not in ok.columns or ok.empty:
        return out
    for (dataset, data), group in ok.groupby(["dataset", "data"]):
        wide = group.groupby(["entity", "label"])[col].mean().unstack("label")
        out.append(f"<h3>{escape(str(dataset))} <small>(data {escape(str(data))})</small></h3>")
        rows = [[entity, *values.to_numpy(float)] for entity, values in wide.iterrows()]
        out.append(_table(["entity", *map(str, wide.columns)], rows))
    return out


def _plot_protocol(metrics: Sequence[str]) -> tuple[str, Any] | None:
    """The first label-free threshold protocol among ``metrics`` (name, metric spec) whose
    threshold the plots draw; None when there is none (``oracle`` is chosen per metric)."""
    from tsadbench.metrics import parse_metric
    from tsadbench.metrics.thresholds import PROTOCOLS

    for name in metrics:
        spec = parse_metric(name)
        protocol = PROTOCOLS.get(spec.protocol or "")
        if protocol is not None and protocol.fn is not None and not protocol.uses_labels:
            return name, spec
    return None


def _plots_section(
    ok: pd.DataFrame, chosen: Sequence[str], metrics: Sequence[str] = ()
) -> list[str]:
    from tsadbench.metrics.thresholds import threshold

    which = (
        f"The entities {', '.join(chosen)}"
        if chosen
        else "The first 2 entities of each dataset (--plot-entity chooses others)"
    )
    drawn = _plot_protocol(metrics)
    line = (
        f"; the dashed line is the threshold of <code>{escape(drawn[0])}</code> (where its "
        "value is defined)"
        if drawn
        else ""
    )
    out = [
        "<h2>Series, labels and scores</h2>",
        f"<p class='note'>{escape(which)}, lowest seed: the first test channels that are not "
        "constant (when the data can be loaded here), then each detector's test scores, each "
        f"panel scaled to its own range; labelled anomalies shaded{line}.</p>",
    ]
    for (dataset, _), group in ok.groupby(["dataset", "data"]):
        names = sorted(group["entity"].unique())
        for entity in [e for e in names if e in chosen] if chosen else names[:2]:
            rows = group[group["entity"] == entity]
            rows = rows[rows["seed"] == rows["seed"].min()].sort_values("label")
            panels: dict[str, Any] = {}
            limits: dict[str, float] = {}
            labels = None
            first = rows.iloc[0]
            test = _test_series(first)
            if test is not None:  # a constant channel draws a flat line: nothing to see
                varying = [c for c in range(test.shape[1]) if np.ptp(test[:, c]) > 0]
                for c in varying[:3]:
                    panels[f"channel {c}"] = test[:, c]
            for _, r in rows.iterrows():
                if not (Path(r["folder"]) / store.SCORES).is_file():
                    continue  # a record kept without its scores (docs/reproductions/records)
                scores = store.read_scores(Path(r["folder"]).parent, Path(r["folder"]).name)
                labels = scores.labels
                panels[str(r["label"])] = scores.test
                value = r.get(f"metric/{drawn[0]}") if drawn else None
                if drawn and scores.train is not None and value is not None and value == value:
                    spec = drawn[1]  # defined for this run (not NaN): its threshold is too
                    limits[str(r["label"])] = threshold(
                        spec.protocol, scores.test, scores.train, **spec.protocol_params
                    )
            if labels is None:
                continue
            picture = svg.panels(
                labels,
                panels,
                f"{dataset} / {entity} (seed {first['seed']})",
                thresholds=limits,
                threshold_name=drawn[0] if drawn else "",
            )
            out.append(
                f"<img class='plot' alt='{escape(f'{dataset} {entity}')}' "
                f"src='{svg.data_uri(picture)}'>"
            )
    return out


def _test_series(row: Any) -> np.ndarray | None:
    """The scaled test split of a run's entity, loaded as the run loaded it; None when the data
    is not available here."""
    from tsadbench.data import load_dataset
    from tsadbench.data.scaling import fit_scaler
    from tsadbench.settings import default_data_root

    record = store.read(Path(row["folder"]).parent, Path(row["folder"]).name)
    if record is None:
        return None
    ds = record.dataset
    try:
        root = (record.config or {}).get("data_root") or default_data_root()
        loader = ds.loader or ds.name
        try:
            dataset = load_dataset(loader, root, **dict(ds.params, entities=[ds.entity]))
        except TypeError:  # a loader without entity selection: load them all
            dataset = load_dataset(loader, root, **ds.params)
        entity = next(e for e in dataset.entities if e.name == ds.entity)
        scaler = record.preprocessing.get("scaler", "none")
        fitted_on = entity.train if entity.scaler_train is None else entity.scaler_train
        test: np.ndarray = fit_scaler(scaler, fitted_on)(entity.test)
        return test
    except Exception:  # the report goes on without the series
        return None


def _runtime_section(ok: pd.DataFrame) -> list[str]:
    out = [
        "<h2>Runtime and memory</h2>",
        "<p class='note'>Mean per run over entities and seeds. Peak RSS is the peak resident "
        "memory of the run's own process; peak CUDA memory only for runs on a GPU.</p>",
    ]
    cols = {
        "time/fit_s": "fit s",
        "time/score_s": "score s",
        "time/evaluate_s": "evaluate s",
        "memory/peak_rss_mb": "peak RSS MB",
        "memory/peak_cuda_mb": "peak CUDA MB",
        "throughput/fit_points_per_s": "fit points/s",
        "throughput/score_points_per_s": "score points/s",
        "n_parameters": "parameters",
    }
    present = [c for c in cols if c in ok.columns]
    if not present or ok.empty:
        return out
    import pandas as pd

    numbers = ok[present].apply(pd.to_numeric, errors="coerce")  # None (no torch model): NaN
    table = numbers.groupby([ok["label"], ok["dataset"], ok["data"]]).mean()
    rows = [[*cast(tuple[str, str, str], key), *v.to_numpy(float)] for key, v in table.iterrows()]
    out.append(_table(["detector", "dataset", "data", *(cols[c] for c in present)], rows))
    return out
