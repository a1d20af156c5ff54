"""``tsadbench weights download NAME``: pretrained weights into the user cache."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="Pretrained weights that detectors load.", no_args_is_help=True)

#: detector -> (module holding MAE_FILE and MAE_URL, about how big)
WEIGHTS = {"vanad": ("tsadbench.detectors.vanad", "450 MB")}


@app.command()
def download(
    name: Annotated[str, typer.Argument(help=f"Whose weights: {', '.join(WEIGHTS)}.")],
    url: Annotated[
        str | None, typer.Option("--url", help="A mirror to fetch from instead of upstream.")
    ] = None,
    dest: Annotated[
        Path | None,
        typer.Option(
            "--dest",
            help="Where to write the file [default: the user cache, which the "
            "detector reads by default].",
        ),
    ] = None,
) -> None:
    """Fetch a detector's pretrained weights (resumable, with a progress bar) and print their
    sha256. TSADBENCH_OFFLINE=1 forbids the network."""
    import sys

    from tsadbench.cli.console import console
    from tsadbench.fetch import download as fetch
    from tsadbench.fetch import sha256_of

    err = console(stderr=True)
    if name not in WEIGHTS:
        err.print(
            f"[bold red]Error:[/] no weights are known for {name!r}; known: {', '.join(WEIGHTS)}.",
            highlight=False,
        )
        raise typer.Exit(code=1)
    import importlib

    module, size = WEIGHTS[name]
    source = importlib.import_module(module)
    file, upstream = source.MAE_FILE, source.MAE_URL
    target = dest or source.weights_dir() / file
    err.print(f"downloading {url or upstream} (about {size}) to {target}", highlight=False)
    try:
        fetch(url or upstream, target, progress=sys.stderr.isatty(), timeout=15.0)
    except OSError as exc:
        err.print(f"[bold red]Error:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(code=1) from None
    err.print(f"wrote {target} (sha256 {sha256_of(target)})", highlight=False)
