"""``tsadbench report [RESULTS_DIR]``: tables from the stored run records."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def report(
    results_dir: Annotated[
        Path,
        typer.Argument(
            help="Folder holding run records (searched recursively).",
            envvar="TSADBENCH_RESULTS",
        ),
    ] = Path("results"),
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="Where to write leaderboard.md and results.csv [default: RESULTS_DIR].",
        ),
    ] = None,
    metric: Annotated[
        list[str] | None,
        typer.Option(
            "--metric",
            "-m",
            help="A metric to show on screen (repeatable) [default: the "
            "headline ones: vus_pr, vus_roc, auc_pr, auc_roc, f1@oracle, pa_f1@oracle].",
        ),
    ] = None,
) -> None:
    """Summarise stored runs: a leaderboard per detector configuration and dataset.

    Each metric is averaged over entities within a seed, then mean ± std over seeds (runs with
    status ok; the others are listed). Ranked by the first metric (default vus_pr). Writes
    leaderboard.md and results.csv (one row per run), prints the table.
    """
    from tsadbench.report import build, console, summary_table

    err = console(stderr=True)
    if not results_dir.is_dir():
        err.print(f"[bold red]Error:[/] the results directory {results_dir} does not exist.")
        raise typer.Exit(code=1)
    try:
        result = build(results_dir, out or results_dir, metric)
        table = summary_table(result.summary, metric)
    except ValueError as exc:
        err.print(f"[bold red]Error:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(code=1) from None
    console().print(table)
    err.print(f"wrote {result.markdown} and {result.csv}", highlight=False)
