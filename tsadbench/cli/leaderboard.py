"""``tsadbench leaderboard update|check``: the CI regression baseline."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

app = typer.Typer(
    help="The CI regression leaderboard: write a baseline from a results folder, or check a "
    "results folder against it.",
    no_args_is_help=True,
)

Results = Annotated[Path, typer.Argument(help="Folder holding the suite's run records.")]
Baseline = Annotated[Path, typer.Option("--baseline", "-b", help="The baseline JSON file.")]


@app.command()
def update(
    results_dir: Results,
    baseline: Baseline = Path("leaderboard/baseline.json"),
    metric: Annotated[
        list[str] | None,
        typer.Option("--metric", "-m", help="A metric to keep (repeatable) [default: all]."),
    ] = None,
    tolerance: Annotated[
        float | None,
        typer.Option(
            help="How far a score may fall below its baseline value and still pass, for every "
            "score [default: each score keeps its tolerance in the existing file; new ones 0.02]."
        ),
    ] = None,
) -> None:
    """Write the baseline: each detector × dataset cell's scores with their tolerances, its
    config hash, and the tsadbench version. Tolerances already in the file are kept."""
    from tsadbench.report import console
    from tsadbench.report.baseline import update as write

    err = console(stderr=True)
    try:
        data = write(results_dir, baseline, metric, tolerance)
    except ValueError as exc:
        err.print(f"[bold red]Error:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(code=1) from None
    cells = data["cells"]
    ok = sum(c["status"] == "ok" for c in cells.values())
    err.print(
        f"wrote {baseline}: {len(cells)} cells ({ok} ok, {len(cells) - ok} not: "
        f"{', '.join(n for n, c in cells.items() if c['status'] != 'ok') or 'none'})",
        highlight=False,
    )


@app.command()
def check(results_dir: Results, baseline: Baseline = Path("leaderboard/baseline.json")) -> None:
    """Exit 0 when no detector × dataset × metric cell fell below its baseline by more than its
    tolerance, and no cell is missing, new or made with another configuration; else exit 1 with
    a table of what differs."""
    from rich.table import Table

    from tsadbench.report import console
    from tsadbench.report.baseline import check as compare

    out, err = console(), console(stderr=True)
    try:
        result = compare(results_dir, baseline)
    except ValueError as exc:
        err.print(f"[bold red]Error:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(code=1) from None

    def table(title: str, rows: list[dict[str, Any]]) -> Table:
        t = Table(title=title)
        columns = list(dict.fromkeys(k for r in rows for k in r))
        for c in columns:
            t.add_column(c, justify="left" if c in ("cell", "metric", "was", "now") else "right")
        for r in rows:
            t.add_row(
                *(
                    f"{r[c]:.4f}" if isinstance(r.get(c), float) else str(r.get(c, ""))
                    for c in columns
                )
            )
        return t

    for title, rows in (
        ("Regressions: below the baseline by more than the tolerance", result.regressions),
        ("Cells in the baseline that did not finish or are absent", result.missing),
        ("Cells not in the baseline (update it in the same commit)", result.new),
        ("Cells made with another configuration than the baseline's", result.changed),
        (
            "Improvements beyond the tolerance (update the baseline to keep them)",
            result.improvements,
        ),
    ):
        if rows:
            out.print(table(title, rows))
    if result.passed:
        out.print(
            f"[green]leaderboard check passed[/]: {result.compared} scores within tolerance of "
            f"{baseline}",
            highlight=False,
        )
        return
    out.print(
        f"[bold red]leaderboard check failed[/]: {len(result.regressions)} regressions, "
        f"{len(result.missing)} missing, {len(result.new)} new, {len(result.changed)} changed "
        f"configs (against {baseline}). If the change is intended: tsadbench leaderboard update "
        f"{results_dir} --baseline {baseline}",
        highlight=False,
    )
    raise typer.Exit(code=1)
