"""``tsadbench weights download NAME``: a detector's pretrained weights into the user cache."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tsadbench.cli.console import fail

app = typer.Typer(help="Pretrained weights that detectors load.", no_args_is_help=True)

NameArg = Annotated[
    str,
    typer.Argument(help="A detector that declares pretrained weights (vanad).", show_default=False),
]
UrlOpt = Annotated[
    str | None, typer.Option("--url", help="A mirror to fetch from instead of upstream.")
]
DestOpt = Annotated[
    Path | None,
    typer.Option(
        "--dest",
        help="Where to write the file (default: the weights folder, which the detector reads: "
        "$TSADBENCH_WEIGHTS, else the user cache).",
    ),
]


@app.command()
def download(name: NameArg, url: UrlOpt = None, dest: DestOpt = None) -> None:
    """Fetch a detector's pretrained weights (resumable, with a progress bar), verify them
    against the sha256 the detector declares, and print their sha256. TSADBENCH_OFFLINE=1
    forbids the network."""
    import sys

    from tsadbench.cli.console import console
    from tsadbench.fetch import download as fetch
    from tsadbench.fetch import sha256_of, weights_dir
    from tsadbench.registry import DETECTORS

    try:
        weights = DETECTORS.entry(name).info.weights
    except ValueError as exc:
        fail(str(exc))
    if weights is None:
        have = [e.name for e in DETECTORS.entries() if e.info.weights is not None]
        fail(f"the detector {name!r} loads no pretrained weights; these do: {', '.join(have)}.")
    target = dest or weights_dir() / weights.file
    err = console(stderr=True)
    err.print(f"downloading {url or weights.url} ({weights.size}) to {target}", highlight=False)
    try:
        fetch(
            url or weights.url, target, weights.sha256, progress=sys.stderr.isatty(), timeout=15.0
        )
    except (OSError, ValueError) as exc:
        fail(str(exc))
    err.print(f"wrote {target} (sha256 {sha256_of(target)})", highlight=False)
