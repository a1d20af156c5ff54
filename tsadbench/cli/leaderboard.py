"""``tsadbench leaderboard update|check``: the CI regression baseline."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from tsadbench.cli.console import fail

app = typer.Typer(
    help="The CI regression leaderboard: write a baseline from a results folder, or check a "
    "results folder against it.",
    no_args_is_help=True,
)

Results = Annotated[Path, typer.Argument(help="Folder holding the suite's run records.")]
Baseline = Annotated[Path, typer.Option("--baseline", "-b", help="The baseline JSON file.")]


MetricOpt = Annotated[
    list[str] | None,
    typer.Option("--metric", help="A metric to keep (repeatable) (default: all)."),
]

NoiseOpt = Annotated[
    list[Path] | None,
    typer.Option(
        help="A rerun of the same suite that should agree with RESULTS_DIR (repeatable: "
        "other thread counts, the other launcher, a fresh cache); the gated metrics' "
        "tolerances are measured from them (default: keep the baseline's)."
    ),
]

NoiseNoteOpt = Annotated[
    str, typer.Option(help="How the --noise reruns differ, stored with the measurement.")
]

ExceptionOpt = Annotated[
    list[str] | None,
    typer.Option(
        help="'CELL=REASON': a cell allowed below the margin over random, and why "
        "(repeatable; exceptions already in the baseline are kept)."
    ),
]

MinMarginOpt = Annotated[
    float | None,
    typer.Option(help="The vus_pr margin over random each cell must clear (default: kept)."),
]


@app.command()
def update(
    results_dir: Results,
    baseline: Baseline = Path("leaderboard/baseline.json"),
    metric: MetricOpt = None,
    noise: NoiseOpt = None,
    noise_note: NoiseNoteOpt = "",
    exception: ExceptionOpt = None,
    min_margin: MinMarginOpt = None,
) -> None:
    """Write the baseline: each detector × dataset cell's scores, its margin over random and its
    config hash, the gate's per-metric tolerances with how they were measured, and the
    tsadbench version. Refuses (writing nothing) when a cell does not beat random by the
    margin and is not a known exception."""
    from tsadbench.cli.console import console
    from tsadbench.report.baseline import update as write

    err = console(stderr=True)
    try:
        exceptions = {}
        for item in exception or []:
            cell, sep, reason = item.partition("=")
            if not sep or not cell.strip() or not reason.strip():
                raise ValueError(
                    f"An --exception must be 'CELL=REASON' (e.g. 'tadgan / nab=...'). Got {item!r}."
                )
            exceptions[cell.strip()] = reason.strip()
        data = write(
            results_dir,
            baseline,
            metric,
            noise=list(noise or []),
            noise_note=noise_note,
            exceptions=exceptions,
            min_margin=min_margin,
        )
    except ValueError as exc:
        fail(str(exc))
    cells = data["cells"]
    ok = sum(c["status"] == "ok" for c in cells.values())
    tolerance = ", ".join(f"{m} {t:.2g}" for m, t in data["gate"]["tolerance"].items())
    err.print(
        f"wrote {baseline}: {len(cells)} cells ({ok} ok, {len(cells) - ok} not: "
        f"{', '.join(n for n, c in cells.items() if c['status'] != 'ok') or 'none'}); "
        f"tolerances {tolerance}",
        highlight=False,
    )


def _table(title: str, rows: list[dict[str, Any]]) -> Any:
    from rich.table import Table

    t = Table(title=title)
    columns = list(dict.fromkeys(k for r in rows for k in r))
    for c in columns:
        t.add_column(c, justify="left" if c in ("cell", "metric", "was", "now") else "right")
    for r in rows:
        t.add_row(
            *(
                (f"{r[c]:+.4f}" if c == "change" or c.endswith("margin") else f"{r[c]:.4f}")
                if isinstance(r.get(c), float)
                else str(r.get(c, ""))
                for c in columns
            )
        )
    return t


@app.command()
def check(results_dir: Results, baseline: Baseline = Path("leaderboard/baseline.json")) -> None:
    """Exit 0 when every gated (threshold-free) score is within its tolerance of the baseline
    in both directions, every cell still beats random by the margin, and no cell is missing,
    new or made with another configuration; else exit 1 with tables of what differs. Every
    cell's margin over random is shown; F1-type scores that moved are shown, not gated."""
    from tsadbench.cli.console import console
    from tsadbench.report.baseline import check as compare

    out = console()
    try:
        result = compare(results_dir, baseline)
    except ValueError as exc:
        fail(str(exc))

    if result.margins:
        out.print(_table("Margin over random (vus_pr) per cell", result.margins))
    for title, rows in (
        ("F1-type scores that moved (shown, not gated)", result.ungated),
        ("Regressed: below the baseline by more than the tolerance", result.regressions),
        ("Improved: above the baseline by more than the tolerance", result.improvements),
        ("No longer beats random by the margin", result.below_margin),
        ("Cells in the baseline that did not finish or are absent", result.missing),
        ("Cells not in the baseline (update it in the same commit)", result.new),
        ("Cells made with another configuration than the baseline's", result.changed),
    ):
        if rows:
            out.print(_table(title, rows))
    if result.passed:
        out.print(
            f"[green]leaderboard check passed[/]: {result.compared} gated scores within "
            f"tolerance of {baseline}, every cell above the margin over random",
            highlight=False,
        )
        return
    verdicts = []
    if result.regressions or result.below_margin:
        verdicts.append(f"regressed: {len(result.regressions) + len(result.below_margin)}")
    if result.improvements:
        verdicts.append(
            f"improved: {len(result.improvements)} (run `make baseline` and commit the baseline "
            "with the change that improved them)"
        )
    out.print(
        f"[bold red]leaderboard check failed[/]: {'; '.join(verdicts) or 'no score moved'}; "
        f"{len(result.missing)} missing, {len(result.new)} new, {len(result.changed)} changed "
        f"configs (against {baseline}). If the change is intended: tsadbench leaderboard update "
        f"{results_dir} --baseline {baseline}",
        highlight=False,
    )
    raise typer.Exit(code=1)
