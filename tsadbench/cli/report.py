"""``tsadbench report [RESULTS_DIR]``: tables from the stored run records."""

from __future__ import annotations

from pathlib import Path

import typer


def report(
    results_dir: Path = typer.Argument(
        Path("results"), help="Folder holding run records (searched recursively)."
    ),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="Where to write leaderboard.md and results.csv "
        "(default: RESULTS_DIR)."
    ),
) -> None:
    """Summarise stored runs: mean metrics per detector and dataset.

    Averages each metric over entities and seeds (runs with status ok), prints the table and
    writes leaderboard.md (the summary) and results.csv (one row per run).
    """
    from rich.console import Console

    from tsadbench.report import build, summary_table

    err = Console(stderr=True)
    if not results_dir.is_dir():
        err.print(f"[bold red]Error:[/] the results directory {results_dir} does not exist.")
        raise typer.Exit(code=1)
    try:
        result = build(results_dir, out or results_dir)
    except ValueError as exc:
        err.print(f"[bold red]Error:[/] {exc}", highlight=False)
        raise typer.Exit(code=1) from None
    Console().print(summary_table(result.summary))
    err.print(f"wrote {result.markdown} and {result.csv}", highlight=False)
