"""``tsadbench evaluate``: metrics from stored scores, or from any scores a user brings."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from tsadbench.cli.console import fail

_METRIC = typer.Option(
    "--metric",
    help="A metric name (repeatable), e.g. 'vus_pr' or 'pa_f1@oracle'; overrides --metrics.",
)


def metric_set(name: str) -> list[str]:
    """The names in ``conf/metrics/<name>.yaml``."""
    from importlib.resources import files

    import yaml

    folder = files("tsadbench.conf") / "metrics"
    path = folder / f"{name}.yaml"
    if not path.is_file():
        sets = sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml"))
        raise ValueError(f"Unknown metric set {name!r}. Available: {', '.join(sets)}.")
    names: list[str] = yaml.safe_load(path.read_text())["names"]
    return names


def load_vector(spec: str, what: str) -> Any:
    """A 1-D array from ``FILE`` or ``FILE:COLUMN`` (.npy, or CSV / text: one value per line,
    or a named column of a CSV with a header)."""
    import numpy as np
    import pandas as pd

    path_text, _, column = spec.partition(":") if not Path(spec).exists() else (spec, "", "")
    path = Path(path_text)
    if not path.is_file():
        raise ValueError(f"The {what} file {path} does not exist.")
    if path.suffix == ".npy":
        arr = np.load(path, allow_pickle=False)
        if column:
            raise ValueError(f"The {what} file {path} is .npy: it has no column {column!r}.")
    else:
        frame = pd.read_csv(path, header=None, sep=None, engine="python")
        if not all(pd.api.types.is_number(v) for v in frame.iloc[0]):
            frame = pd.read_csv(path, sep=None, engine="python")  # the first row is a header
        if column:
            if column not in frame.columns:
                raise ValueError(
                    f"The {what} file {path} has no column {column!r}; it has "
                    f"{', '.join(map(str, frame.columns))}."
                )
            frame = frame[[column]]
        if frame.shape[1] != 1:
            raise ValueError(
                f"The {what} file {path} has {frame.shape[1]} columns; name one "
                f"as FILE:COLUMN ({', '.join(map(str, frame.columns))})."
            )
        arr = frame.iloc[:, 0].to_numpy()
    arr = np.asarray(arr).squeeze()
    if arr.ndim != 1:
        raise ValueError(
            f"The {what} in {path} must be one value per time step; got an array "
            f"of shape {arr.shape}."
        )
    return arr


ResultsDirOpt = Annotated[
    Path | None,
    typer.Argument(help="Re-evaluate the stored runs under this folder (nothing re-trained)."),
]

MetricsOpt = Annotated[str, typer.Option("--metrics", help="A metric set in conf/metrics/.")]

MetricOpt = Annotated[list[str] | None, _METRIC]

LabelsOpt = Annotated[
    str | None, typer.Option(help="Labels file (0/1): .npy, or CSV/text, FILE[:COLUMN].")
]

ScoresOpt = Annotated[
    str | None, typer.Option(help="Scores file, higher = more anomalous, FILE[:COLUMN].")
]

TrainScoresOpt = Annotated[
    str | None,
    typer.Option(
        help="The detector's scores on its train split (for train_quantile), FILE[:COLUMN]."
    ),
]

AsJsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def evaluate(
    results_dir: ResultsDirOpt = None,
    metrics: MetricsOpt = "default",
    metric: MetricOpt = None,
    labels: LabelsOpt = None,
    scores: ScoresOpt = None,
    train_scores: TrainScoresOpt = None,
    as_json: AsJsonOpt = False,
) -> None:
    """Compute metrics from stored runs' scores, or from your own labels and scores.

    `tsadbench evaluate results/` recomputes the metric set for every finished run from its
    scores.npz and rewrites the records atomically. `tsadbench evaluate --labels y.csv
    --scores s.npy` scores anything you bring.
    """
    import json

    from rich.markup import escape

    from tsadbench.cli.console import console

    err = console(stderr=True)
    try:
        names = list(metric) if metric else metric_set(metrics)
        if results_dir is not None:
            if labels or scores:
                raise ValueError("Give either RESULTS_DIR or --labels/--scores, not both.")
            from tsadbench.evaluation import evaluate_stored

            evaluate_stored(
                results_dir, names, log=lambda m: err.print(m, highlight=False, markup=False)
            )
            return
        if not (labels and scores):
            raise ValueError("Give RESULTS_DIR, or both --labels and --scores.")
        from tsadbench.metrics import evaluate as compute_set

        y = load_vector(labels, "labels")
        s = load_vector(scores, "scores")
        train = load_vector(train_scores, "train scores") if train_scores else None
        values = compute_set(y, s, names, train)
        for name, reason in values.errors.items():
            err.print(
                f"[yellow]{escape(name)}:[/] {escape(reason)}", highlight=False, soft_wrap=True
            )
    except ValueError as exc:
        fail(str(exc))
    if as_json:  # JSON has no NaN: an undefined metric is null (its reason is on stderr)
        typer.echo(json.dumps({k: None if v != v else v for k, v in values.items()}, indent=2))
        return
    from rich.table import Table

    table = Table("metric", "value", title=f"{scores} against {labels}")
    for name, value in values.items():
        table.add_row(name, f"{value:.6f}")
    console().print(table)
