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
    """A 1-D array from ``FILE`` or ``FILE:COLUMN``: ``.npy``, or text with one value per line
    (a header line is allowed), or a CSV / TSV (comma or tab) whose column is named, or which
    has one column. Bad input is named: file, line and what was found."""
    import numpy as np

    path_text, column = spec, ""
    if not Path(spec).exists() and ":" in spec:
        path_text, _, column = spec.rpartition(":")
    path = Path(path_text)
    if path.is_dir():
        raise ValueError(f"The {what} path {path} is a directory; give a file.")
    if not path.is_file():
        raise ValueError(f"The {what} file {path} does not exist.")
    if path.suffix == ".npy":
        if column:
            raise ValueError(f"The {what} file {path} is .npy: it has no column {column!r}.")
        arr = np.load(path, allow_pickle=False)
    else:
        arr = _text_column(path, column, what)
    if np.iscomplexobj(arr):
        raise ValueError(f"The {what} in {path} are complex numbers; expected real values.")
    arr = np.asarray(arr).squeeze()
    if arr.ndim != 1:
        raise ValueError(
            f"The {what} in {path} must be one value per time step; got an array "
            f"of shape {arr.shape}."
        )
    return arr


def _text_column(path: Path, column: str, what: str) -> Any:
    """One column of a text file: comma-, tab- or space-separated, with or without a header."""
    import numpy as np

    lines = [(n, line) for n, line in enumerate(path.read_text().splitlines(), 1) if line.strip()]
    if not lines:
        raise ValueError(f"The {what} file {path} is empty.")
    first = lines[0][1]
    sep = "\t" if "\t" in first else "," if "," in first else None  # None: spaces
    rows = [[cell.strip() for cell in line.split(sep)] for _, line in lines]
    header = not all(_is_number(cell) for cell in rows[0])
    names = rows[0] if header else [str(i) for i in range(len(rows[0]))]
    body = lines[1:] if header else lines
    if column:
        if column not in names:
            raise ValueError(
                f"The {what} file {path} has no column {column!r}; it has {', '.join(names)}."
            )
        index = names.index(column)
    elif len(names) == 1:
        index = 0
    else:
        raise ValueError(
            f"The {what} file {path} has {len(names)} columns; name one as FILE:COLUMN "
            f"({', '.join(names)})."
        )
    values = []
    for (n, line), cells in zip(body, rows[1:] if header else rows, strict=True):
        if len(cells) != len(names):
            raise ValueError(
                f"The {what} file {path}, line {n}: {len(cells)} fields, expected "
                f"{len(names)} ({line.strip()[:60]!r})."
            )
        if not _is_number(cells[index]):
            raise ValueError(
                f"The {what} file {path}, line {n}: {cells[index][:40]!r} is not a number."
            )
        values.append(float(cells[index]))
    if not values:
        raise ValueError(f"The {what} file {path} has a header but no values.")
    return np.asarray(values)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


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
    from tsadbench.store import WriteError

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
        from tsadbench.metrics import parse_metric_set

        specs = parse_metric_set(names)
        y = load_vector(labels, "labels")
        s = load_vector(scores, "scores")
        train = load_vector(train_scores, "train scores") if train_scores else None
        values = compute_set(y, s, specs, train)
        for name, reason in values.errors.items():
            err.print(
                f"[yellow]{escape(name)}:[/] {escape(reason)}", highlight=False, soft_wrap=True
            )
    except (ValueError, WriteError) as exc:
        fail(str(exc))
    if as_json:  # JSON has no NaN: an undefined metric is null (its reason is on stderr)
        typer.echo(json.dumps({k: None if v != v else v for k, v in values.items()}, indent=2))
        return
    from rich.table import Table

    table = Table("metric", "value", title=f"{scores} against {labels}")
    for name, value in values.items():
        table.add_row(name, f"{value:.6f}")
    console().print(table)
