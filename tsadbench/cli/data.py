"""``tsadbench data list|info``: which datasets are present under the data root, and what they
hold."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from tsadbench.cli.console import fail

app = typer.Typer(
    help="Datasets under the data root: list them, describe one.", no_args_is_help=True
)

_ROOT = typer.Option(
    "--data-root",
    help="Folder holding the datasets (default: $TSADBENCH_DATA, else the user cache directory).",
)


def _root(data_root: Path | None) -> Path:
    from tsadbench.settings import default_data_root

    return data_root or default_data_root()


def describe(dataset: Any) -> list[dict[str, Any]]:
    """One row per entity: lengths, channels, anomaly ratio and segments, constant channels."""
    import numpy as np

    from tsadbench.metrics.point import events

    rows = []
    for e in dataset.entities:
        starts, ends = events(e.labels)
        rows.append(
            {
                "entity": e.name,
                "channels": int(e.train.shape[1]),
                "train": len(e.train),
                "test": len(e.test),
                "anomalies": int(e.labels.sum()),
                "anomaly_ratio": float(e.labels.mean()),
                "segments": len(starts),
                "mean_segment": float(np.mean(ends - starts)) if len(starts) else 0.0,
                "constant_in_train": int((e.train.std(axis=0) == 0).sum()),
                "nans": int(np.isnan(e.train).sum() + np.isnan(e.test).sum()),
            }
        )
        if "nans_filled" in e.meta:  # NaNs a loader's policy filled (PSM)
            rows[-1]["nans_filled"] = int(e.meta["nans_filled"])
        if "anomalies_in_train" in e.meta:  # labelled points a split put into train (NAB)
            rows[-1]["anomalies_in_train"] = int(e.meta["anomalies_in_train"])
            whole = len(e.train) + len(e.test)
            rows[-1]["whole_series_ratio"] = int(e.meta["anomalies_whole_series"]) / whole
    return rows


@app.command("list")
def list_(data_root: Annotated[Path | None, _ROOT] = None) -> None:
    """Every dataset: present or not under the data root, and how complete."""
    from rich.table import Table

    from tsadbench.cli.console import console
    from tsadbench.data import load_dataset
    from tsadbench.registry import DATASETS

    root = _root(data_root)
    table = Table("dataset", "status", "entities", "description", title=f"datasets in {root}")
    for entry in DATASETS.entries():
        try:
            ds = load_dataset(entry.name, root)
        except (FileNotFoundError, ValueError) as exc:
            table.add_row(entry.name, "[red]missing[/]", "", f"{entry.description}\n{exc}")
            continue
        total = ds.meta.get("total")
        present = int(ds.meta.get("present", len(ds.entities)))
        status = "partial" if total and present < total else "present"
        count = f"{present}/{total}" if total else str(present)
        table.add_row(entry.name, status, count, entry.description)
    console().print(table)


@app.command("info")
def info(
    name: Annotated[str, typer.Argument(help="A registered dataset, e.g. smd, msl_concat.")],
    data_root: Annotated[Path | None, _ROOT] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
) -> None:
    """Entities, channels, lengths, anomaly ratio and segments, constant channels, NaNs."""
    from rich.table import Table

    from tsadbench.cli.console import console
    from tsadbench.data import load_dataset

    try:
        ds = load_dataset(name, _root(data_root))
    except (FileNotFoundError, ValueError) as exc:
        fail(str(exc))
    rows = describe(ds)
    total = {
        "entities": len(rows),
        "train": sum(r["train"] for r in rows),
        "test": sum(r["test"] for r in rows),
        "anomalies": sum(r["anomalies"] for r in rows),
        "segments": sum(r["segments"] for r in rows),
    }
    total["anomaly_ratio"] = total["anomalies"] / total["test"]
    if rows and "anomalies_in_train" in rows[0]:  # NAB: the ratio over whole series too
        points = total["train"] + total["test"]
        total["whole_series_ratio"] = (
            total["anomalies"] + sum(r["anomalies_in_train"] for r in rows)
        ) / points
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "dataset": name,
                    "total": total,
                    "entities": rows,
                    "meta": {k: v for k, v in ds.meta.items()},
                },
                indent=2,
            )
        )
        return
    table = Table(
        *rows[0].keys(),
        title=f"{name}: {total['entities']} entities, "
        f"train {total['train']:,}, test {total['test']:,}, anomalies "
        f"{total['anomalies']:,} ({100 * total['anomaly_ratio']:.2f}%) in "
        f"{total['segments']} segments",
    )
    for r in rows:
        table.add_row(*(f"{v:.4f}" if isinstance(v, float) else str(v) for v in r.values()))
    console().print(table)


DataRootOpt = Annotated[Path | None, _ROOT]

BaseUrlOpt = Annotated[
    str | None,
    typer.Option("--base-url", help="A mirror of the upstream folder to fetch from instead."),
]


@app.command("download")
def download(
    name: Annotated[
        str,
        typer.Argument(
            help="A downloadable dataset: nab, psm, smd, msl or smap (both), ucr, tsbad_u, "
            "tsbad_m. --base-url for an archive is the archive's own URL."
        ),
    ],
    data_root: DataRootOpt = None,
    base_url: BaseUrlOpt = None,
) -> None:
    """Fetch a dataset's files from upstream into the data root, verified and resumable."""
    from rich.markup import escape

    from tsadbench.cli.console import console
    from tsadbench.data import sources
    from tsadbench.fetch import download as fetch
    from tsadbench.fetch import sha256_of

    err = console(stderr=True)
    if name.removesuffix("_concat") in ("msl", "smap"):
        base = (base_url or "").rstrip("/")
        urls = (base + "/data.zip", base + "/labeled_anomalies.csv") if base_url else ()
        try:
            written = sources.download_nasa(_root(data_root), *urls)
        except (OSError, ValueError) as exc:
            fail(str(exc))
        err.print(f"{len(written)} files of MSL and SMAP in {_root(data_root)}", highlight=False)
        return
    archive_name = {"tsbad": "tsbad_u"}.get(name, name)
    if archive_name in sources.ARCHIVES:
        try:
            written = sources.download_archive(_root(data_root), archive_name, base_url)
        except (OSError, ValueError) as exc:
            fail(str(exc))
        err.print(
            f"{len(written)} files of {name} in {written[0].parent} (checksums recorded, "
            f"unverified)",
            highlight=False,
        )
        return
    try:
        wanted = sources.files_of(name)
    except ValueError as exc:
        fail(str(exc))
    src = sources.SOURCES[name]
    folder = _root(data_root) / src.folder
    base = (base_url or src.base_url).rstrip("/") + "/"
    failed = 0
    for rel, digest in wanted:
        try:
            path = fetch(base + rel, folder / rel, digest)
        except (OSError, ValueError) as exc:
            failed += 1
            err.print(f"[red]failed[/] {escape(f'{rel}: {exc}')}", highlight=False, soft_wrap=True)
            continue
        if digest is None and rel not in sources.recorded(folder):
            sources.record(folder, rel, sha256_of(path))
    err.print(
        f"{len(wanted) - failed} of {len(wanted)} files of {name} in {folder}", highlight=False
    )
    if failed:
        raise typer.Exit(code=1)


@app.command("verify")
def verify(
    name: Annotated[str, typer.Argument(help="A dataset with shipped checksums: nab, smd, ...")],
    data_root: Annotated[Path | None, _ROOT] = None,
) -> None:
    """Re-check the sha256 of a dataset's files on disk: ok, MISMATCH, missing, unverified."""
    from tsadbench.cli.console import console
    from tsadbench.data import sources
    from tsadbench.fetch import sha256_of

    folders = {
        "msl": "MSL",
        "smap": "SMAP",
        "psm": "PSM",
        "nab": "NAB",
        "smd": "SMD",
        "ucr": "UCR",
        "tsbad_u": "TSB-AD-U",
        "tsbad_m": "TSB-AD-M",
    }
    folder_name = folders.get(name.removesuffix("_concat"))
    if folder_name is None:
        fail(f"no checksums for {name!r}; known: {', '.join(sorted(folders))}.")
    folder = _root(data_root) / folder_name
    counts = {"ok": 0, "MISMATCH": 0, "missing": 0, "unverified": 0}
    out = console()
    expected = {
        p.removeprefix(folder_name + "/"): d
        for p, d in sources.shipped_checksums().items()
        if p.startswith(folder_name + "/")
    }
    for rel, digest in sorted(expected.items()):
        path = folder / rel
        status = (
            "missing" if not path.exists() else ("ok" if sha256_of(path) == digest else "MISMATCH")
        )
        counts[status] += 1
        if status != "ok":
            out.print(f"{status:<10} {path}", highlight=False)
    for rel, digest in sorted(sources.recorded(folder).items()):
        path = folder / rel
        if rel in expected or not path.exists():
            continue
        counts["unverified" if sha256_of(path) == digest else "MISMATCH"] += 1
    out.print(f"{name}: " + ", ".join(f"{v} {k}" for k, v in counts.items()), highlight=False)
    if counts["MISMATCH"]:
        raise typer.Exit(code=1)
