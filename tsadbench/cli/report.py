"""``tsadbench report [RESULTS_DIR]``: leaderboard, statistics and plots from stored runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tsadbench.cli.console import fail

ResultsDirOpt = Annotated[
    Path,
    typer.Argument(
        help="Folder holding run records (searched recursively).",
        envvar="TSADBENCH_RESULTS",
    ),
]

OutOpt = Annotated[
    Path | None,
    typer.Option(
        "--out",
        "-o",
        help="Where to write leaderboard.md, results.csv and report.html (default: RESULTS_DIR).",
    ),
]

MetricOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--metric",
        help="A leaderboard column (repeatable); the first ranks and draws the "
        "critical-difference diagram (default: the headline ones: vus_pr, vus_roc, auc_pr, "
        "auc_roc, f1@oracle, pa_f1@oracle).",
    ),
]

AggregateOpt = Annotated[
    str,
    typer.Option(
        "--aggregate",
        "-a",
        help="How entities make a dataset's value: mean (of the per-entity metrics) or "
        "pooled (the metric on all entities' scores concatenated).",
    ),
]

PlotEntityOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--plot-entity",
        help="An entity to plot in report.html (repeatable) (default: the first two of "
        "each dataset).",
    ),
]

RandomOpt = Annotated[
    bool,
    typer.Option(
        "--random/--no-random",
        help="Run the random detector where a dataset × seed lacks it, so every "
        "threshold-dependent column shows what noise scores.",
    ),
]

FormatOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--format",
        help="What to write (repeatable): md (leaderboard.md), csv (results.csv, one row per "
        "run, and table.csv, datasets as columns), latex (table.tex, booktabs), html "
        "(report.html). Default: all.",
    ),
]


def report(
    results_dir: ResultsDirOpt = Path("results"),
    out: OutOpt = None,
    metric: MetricOpt = None,
    aggregate: AggregateOpt = "mean",
    plot_entity: PlotEntityOpt = None,
    random: RandomOpt = True,
    format: FormatOpt = None,
) -> None:
    """Summarise stored runs: leaderboard.md, results.csv, table.csv, table.tex and a
    self-contained report.html (--format picks).

    Each metric is aggregated over entities within a seed (--aggregate), then mean ± std over
    seeds (runs with status ok; the others are listed, never averaged). Ranked by the first
    metric (default vus_pr). The HTML adds average ranks, a Friedman test with a
    critical-difference diagram, the seed spread, per-entity tables, plots, runtime and memory.
    """
    from tsadbench.cli.console import console
    from tsadbench.report import FORMATS, build, leaderboard_table

    err = console(stderr=True)
    if not results_dir.is_dir():
        fail(f"the results directory {results_dir} does not exist.")
    try:
        result = build(
            results_dir,
            out or results_dir,
            metric,
            aggregate=aggregate,
            random=random,
            log=lambda msg: err.print(msg, highlight=False, markup=False),
            plot_entities=plot_entity or (),
            formats=format or FORMATS,
        )
    except ValueError as exc:
        fail(str(exc))
    screen = console()
    screen.print(leaderboard_table(result.board, width=screen.width))
    err.print(f"wrote {', '.join(map(str, result.files))}", highlight=False)
