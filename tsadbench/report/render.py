"""Reports, third layer: the aggregated numbers as Markdown and as rich terminal tables (the
HTML page: ``report/html.py``; CSV: the runs frame as it is). Every output renders the same
numbers."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from tsadbench import store
from tsadbench.report.aggregate import Leaderboard, Wide, leaderboard, published_cells
from tsadbench.report.load import KEYS, with_marks

if TYPE_CHECKING:
    import pandas as pd
    from rich.table import Table

    from tsadbench.record import RunRecord


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return "NaN" if math.isnan(value) else f"{value:.4f}"
    return str(value)


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


PUBLISHED_HEADER = [
    "detector", "dataset", "metric", "published", "ours", "ours − published", "source",
]  # fmt: skip


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
    "`config` identifies the detector's hyper-parameters (`params`: those that differ from the "
    "detector's defaults) and `data` the dataset's settings: runs "
    "that differ in either are never averaged together. `@oracle`: threshold chosen on the test "
    "labels (an upper bound, not a deployable score); the `(random)` column beside each "
    "threshold-dependent metric is the `random` detector on the same data and protocol (– when "
    "no random run exists).\n\n"
)


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


def leaderboard_table(board: Leaderboard, width: int | None = None) -> Table:
    """The leaderboard for a terminal ``width`` columns wide (None: any): the configuration by
    its parameters (the hashes are in the files), ``data`` only where a dataset was run with
    several settings, and as many metric columns (each with its random floor) as fit without
    breaking a number; the caption says how many more ``leaderboard.md`` holds. The best per
    dataset in bold, failed runs counted."""
    from rich.table import Table

    cells = [dict(zip(board.header, row, strict=True)) for row in board.rows]
    for c in cells:  # the hash is not shown: its marks ("(reduced)", ...) go with the parameters
        c["params"] = with_marks(c["params"], c["config"])
    settings = {(c["dataset"], c["data"]) for c in cells}
    several = len(settings) > len({dataset for dataset, _ in settings})
    fixed = ["detector", "params", "dataset", *(["data"] if several else []), "seeds", "ok / runs"]
    metrics = [h for h in board.header[len(KEYS) + 2 :] if not h.endswith("(random)")]

    def span(column: str) -> int:  # its widest cell or header, plus the border and padding
        widest = max(len(column), *(len(c[column].strip("*")) for c in cells))
        return 3 + (min(widest, 22) if column in ("detector", "params") else widest)  # they fold

    used, shown = 1 + sum(map(span, fixed)), list[str]()
    for m in metrics:
        group = [m, *([f"{m} (random)"] if f"{m} (random)" in board.header else [])]
        need = sum(map(span, group))
        if shown and width is not None and used + need > width:
            break
        used += need
        shown += group
    left_out = len(metrics) - sum(not h.endswith("(random)") for h in shown)
    title = "tsadbench leaderboard" + (
        f" ({len(board.failed)} runs did not finish: see leaderboard.md)" if board.failed else ""
    )
    caption = f"{left_out} more metric(s) in leaderboard.md" if left_out else None
    table = Table(title=title, caption=caption)
    for h in [*fixed, *shown]:
        if h in fixed:
            table.add_column(h, justify="left", overflow="fold")
        else:  # a number is never broken across lines
            style = "dim" if h.endswith("(random)") else None
            header = "random" if h.endswith("(random)") else h
            table.add_column(header, justify="right", style=style, no_wrap=True)
    for c in cells:
        table.add_row(
            *(
                f"[bold]{c[h].strip('*')}[/]" if c[h].startswith("**") else c[h]
                for h in [*fixed, *shown]
            )
        )
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


def markdown(
    table: pd.DataFrame, metrics: Sequence[str], aggregate: str, paper_rows: Sequence[Sequence[str]]
) -> str:
    """``leaderboard.md``: how the numbers were aggregated, the leaderboard of ``table`` ranked
    by ``metrics[0]``, and the published scores beside ours."""
    text = "# tsadbench leaderboard\n\n" + aggregation_note(aggregate, metrics[0]) + "\n\n"
    text += NOTE + leaderboard_markdown(table, metrics)
    if paper_rows:
        text += "\n## Published versus ours\n\n| " + " | ".join(PUBLISHED_HEADER) + " |\n"
        text += "|" + "---|" * len(PUBLISHED_HEADER) + "\n"
        text += "".join("| " + " | ".join(r) + " |\n" for r in paper_rows)
    return text


def _cell(mean: float, std: float) -> str:
    if math.isnan(mean):
        return "–"
    return f"{mean:.3f}" + ("" if math.isnan(std) else f" ± {std:.3f}")


def wide_csv(tables: Sequence[Wide]) -> str:
    """The wide tables as one CSV: a row per metric × detector configuration, the datasets as
    columns, ``mean ± std`` over seeds, the best per dataset in ``**bold**`` (as the Markdown),
    and how each metric's threshold was chosen (``oracle`` said so)."""
    import csv
    import io

    columns = list(dict.fromkeys(c for t in tables for c in t.mean.columns))
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["metric", "threshold", "detector", "params", *columns])
    for t in tables:
        for detector, params in t.mean.index:
            cells = []
            for c in columns:
                if c not in t.mean.columns:
                    cells.append("")
                    continue
                text = _cell(t.mean.loc[(detector, params), c], t.std.loc[(detector, params), c])
                cells.append(f"**{text}**" if t.best.loc[(detector, params), c] else text)
            writer.writerow([t.metric, t.threshold, detector, params, *cells])
    return buf.getvalue()


_LATEX_SPECIAL = {c: "\\" + c for c in "&%$#_{}"} | {"~": r"\textasciitilde{}", "^": r"\^{}",
                                                       "\\": r"\textbackslash{}"}  # fmt: skip


def _tex(text: str) -> str:
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in str(text))


def latex(tables: Sequence[Wide]) -> str:
    """The wide tables as LaTeX (booktabs; ``\\usepackage{booktabs}``): one ``table`` per
    metric, the datasets as columns, ``mean $\\pm$ std`` over seeds, the best per dataset in
    bold, the caption naming the metric and how its threshold was chosen (``oracle`` said so)."""
    out = ["% tsadbench report --format latex: needs \\usepackage{booktabs}"]
    for t in tables:
        columns = list(t.mean.columns)
        out += [
            "\\begin{table}[t]",
            "\\centering",
            f"\\caption{{{_tex(t.metric)} ({_tex(t.threshold)}); mean $\\pm$ std over seeds, "
            "the best per dataset in bold.}",
            f"\\begin{{tabular}}{{ll{'r' * len(columns)}}}",
            "\\toprule",
            " & ".join(["Detector", "Parameters", *map(_tex, columns)]) + " \\\\",
            "\\midrule",
        ]
        for detector, params in t.mean.index:
            cells = []
            for c in columns:
                text = _cell(t.mean.loc[(detector, params), c], t.std.loc[(detector, params), c])
                text = _tex(text).replace(" ± ", " $\\pm$ ").replace("–", "--")
                cells.append(f"\\textbf{{{text}}}" if t.best.loc[(detector, params), c] else text)
            out.append(" & ".join([_tex(detector), _tex(params), *cells]) + " \\\\")
        out += ["\\bottomrule", "\\end{tabular}", "\\end{table}", ""]
    return "\n".join(out)
