"""The ``tsadbench`` command line: one module per command, joined here.

Nothing heavy is imported at module level (no torch, no Hydra): ``tsadbench --help`` is instant.
"""

from __future__ import annotations

import typer

from tsadbench import __version__
from tsadbench.cli import data as data_cmd
from tsadbench.cli import evaluate as evaluate_cmd
from tsadbench.cli import leaderboard as leaderboard_cmd
from tsadbench.cli import list as list_cmd
from tsadbench.cli import report as report_cmd
from tsadbench.cli import run as run_cmd
from tsadbench.cli import weights as weights_cmd

app = typer.Typer(
    name="tsadbench",
    help="Benchmark time-series anomaly detectors with honest, reproducible numbers.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"tsadbench {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version and exit."
    ),
) -> None:
    """Benchmark time-series anomaly detectors with honest, reproducible numbers."""


app.command(
    "run",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
)(run_cmd.run)
app.add_typer(list_cmd.app, name="list")
app.add_typer(data_cmd.app, name="data")
app.command("evaluate")(evaluate_cmd.evaluate)
app.command("report")(report_cmd.report)
app.add_typer(leaderboard_cmd.app, name="leaderboard")
app.add_typer(weights_cmd.app, name="weights")


def main() -> None:
    app()
