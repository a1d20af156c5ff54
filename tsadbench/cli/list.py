"""``tsadbench list detectors|datasets|metrics [PATTERN]``: what is registered, as tables."""

from __future__ import annotations

import typer
from rich.table import Column, Table

from tsadbench.cli.console import console

app = typer.Typer(help="List registered detectors, datasets or metrics.", no_args_is_help=True)

_PATTERN = typer.Argument("*", help="Shell-style wildcard, e.g. '*forest*'.")


@app.command("detectors")
def detectors(pattern: str = _PATTERN) -> None:
    """Registered detectors, their fidelity to the paper, a one-line description, and whether
    they can run here with their defaults (if not, why: an optional extra to install, weights)."""
    from rich.markup import escape

    from tsadbench.registry import DETECTORS

    table = Table(
        Column("name", no_wrap=True),
        "faithful",
        "description",
        "deviations",
        Column("here", max_width=30),
        title="detectors",
    )
    for e in DETECTORS.entries(pattern):
        devs = e.info.deviations
        try:
            reason = e.obj().check_available()
        except Exception as exc:  # a detector that cannot even say: say that
            reason = f"{type(exc).__name__}: {exc}"
        table.add_row(
            e.name,
            "yes" if e.info.faithful else "no",
            e.description,
            "\n".join(f"- {d}" for d in devs),
            "runs" if reason is None else f"[red]{escape(reason)}[/red]",
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
    """Registered metrics with their parameters, and the threshold protocols.

    Threshold-dependent metrics are written `<metric>@<protocol>`; parameters other than the
    defaults go in parentheses: `vus_pr(window=50)`, `pa_k_f1(k=50)@train_quantile(q=0.995)`.
    """
    from tsadbench.metrics import PROTOCOLS, metric_defaults
    from tsadbench.registry import METRICS

    def params(values: dict[str, object]) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in values.items())

    table = Table("name", "threshold", "parameters", "description", title="metrics")
    for e in METRICS.entries(pattern):
        if e.info.oracle_of:
            kind = f"protocol (oracle: at the best {e.info.oracle_of})"
        else:
            kind = "protocol" if e.info.needs_threshold else "free"
        table.add_row(e.name, kind, params(metric_defaults(e.name)), e.description)
    console().print(table)

    protocols = Table(
        "protocol",
        "parameters",
        "reads",
        "description",
        title="threshold protocols (`<metric>@<protocol>`)",
    )
    for p in PROTOCOLS.values():
        reads = [
            w
            for w, used in (
                ("test labels", p.uses_labels),
                ("test scores", p.uses_test_scores),
                ("train scores", p.uses_train_scores),
            )
            if used
        ]
        protocols.add_row(p.name, params(p.defaults), ", ".join(reads) or "nothing", p.description)
    console().print(protocols)
