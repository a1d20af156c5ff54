"""``tsadbench list detectors|datasets|metrics [PATTERN]``: what is registered, as tables."""

from __future__ import annotations

import typer
from rich.table import Table

from tsadbench.report import console

app = typer.Typer(help="List registered detectors, datasets or metrics.", no_args_is_help=True)

_PATTERN = typer.Argument("*", help="Shell-style wildcard, e.g. '*forest*'.")


@app.command("detectors")
def detectors(pattern: str = _PATTERN) -> None:
    """Registered detectors, their fidelity to the paper and a one-line description."""
    from tsadbench.registry import DETECTORS

    table = Table("name", "faithful", "description", "deviations", title="detectors")
    for e in DETECTORS.entries(pattern):
        devs = e.meta.get("deviations", ())
        table.add_row(
            e.name,
            "yes" if e.meta.get("faithful", True) else "no",
            e.description,
            "\n".join(f"- {d}" for d in devs),
        )
    console().print(table)


@app.command("datasets")
def datasets(pattern: str = _PATTERN) -> None:
    """Registered datasets and a one-line description."""
    from tsadbench.registry import DATASETS

    table = Table("name", "description", title="datasets")
    for e in DATASETS.entries(pattern):
        table.add_row(e.name, e.description)
    console().print(table)


@app.command("metrics")
def metrics(pattern: str = _PATTERN) -> None:
    """Registered metrics: threshold-free, or needing a protocol (`<metric>@<protocol>`)."""
    from tsadbench.metrics import PROTOCOLS
    from tsadbench.registry import METRICS

    table = Table("name", "threshold", "description", title="metrics")
    protocols = ", ".join(f"@{p}" for p in sorted(PROTOCOLS))
    for e in METRICS.entries(pattern):
        kind = protocols if e.meta.get("needs_threshold") else "free"
        table.add_row(e.name, kind, e.description)
    console().print(table)
