"""Where each dataset's files come from upstream, and the checksums tsadbench ships for them.

``checksums.sha256`` lists the sha256 of the files of ``../shared/data`` (relative paths,
``sha256sum`` format). Files nobody here holds (SMD's original text values) have no shipped
checksum: the first download records its hash in ``<folder>/.tsadbench-checksums`` and
``data verify`` reports those files as ``unverified``.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

RECORDED = ".tsadbench-checksums"


@dataclass(frozen=True)
class Source:
    folder: str  # under the data root
    base_url: str  # upstream location of the folder's files
    extra: tuple[str, ...] = ()  # files without a shipped checksum


def shipped_checksums() -> dict[str, str]:
    """Relative path (``SMD/test_label/machine-1-1.txt``) -> sha256."""
    text = (files("tsadbench.data") / "checksums.sha256").read_text()
    out = {}
    for line in text.splitlines():
        if line.strip():
            digest, name = line.split(maxsplit=1)
            out[name.lstrip("*").removeprefix("./")] = digest
    return out


_MACHINES = tuple(f"machine-{g}-{i}" for g, n in ((1, 8), (2, 9), (3, 11)) for i in range(1, n + 1))

SOURCES: dict[str, Source] = {
    "nab": Source(
        "NAB",
        "https://raw.githubusercontent.com/numenta/NAB/ea702d75cc2258d9d7dd35ca8e5e2539d71f3140/",
    ),
    "psm": Source(
        "PSM",
        "https://raw.githubusercontent.com/eBay/RANSynCoders/"
        "948e61eb579815ff2a6bce721332d8220d59ca47/data/",
        extra=("train.csv", "test.csv"),
    ),
    "smd": Source(
        "SMD",
        "https://raw.githubusercontent.com/NetManAIOps/OmniAnomaly/"
        "7fb0e0acf89ea49908896bcc9f9e80fcfff6baf4/ServerMachineDataset/",
        extra=tuple(f"{split}/{m}.txt" for split in ("train", "test") for m in _MACHINES),
    ),
}


def files_of(name: str) -> list[tuple[str, str | None]]:
    """(path relative to the dataset folder, sha256 or None) for every file of ``name``."""
    if name not in SOURCES:
        raise ValueError(
            f"tsadbench cannot download {name!r} yet; downloadable: "
            f"{', '.join(sorted(SOURCES))}. Place its files under the data root."
        )
    src = SOURCES[name]
    prefix = src.folder + "/"
    known = [
        (p.removeprefix(prefix), d)
        for p, d in shipped_checksums().items()
        if p.startswith(prefix) and "/processed/" not in "/" + p.removeprefix(prefix)
    ]
    return sorted(known) + [(p, None) for p in src.extra]


def recorded(folder: Path) -> dict[str, str]:
    path = folder / RECORDED
    if not path.exists():
        return {}
    return dict(line.split(maxsplit=1)[::-1] for line in path.read_text().splitlines() if line)


def record(folder: Path, rel: str, digest: str) -> None:
    entries = recorded(folder)
    entries[rel] = digest
    (folder / RECORDED).write_text("".join(f"{d}  {p}\n" for p, d in sorted(entries.items())))


# the NASA telemetry comes as one archive holding both spacecraft ------------------------------
TELEMANOM_ARCHIVE = "https://s3-us-west-2.amazonaws.com/telemanom/data.zip"
TELEMANOM_LABELS = (
    "https://raw.githubusercontent.com/khundman/telemanom/"
    "2e6c5b6c3558e7835601519b7bdef37c649bdbdc/labeled_anomalies.csv"
)


def download_nasa(
    root: Path, archive_url: str = TELEMANOM_ARCHIVE, labels_url: str = TELEMANOM_LABELS
) -> list[Path]:
    """Fetch telemanom's ``data.zip`` and ``labeled_anomalies.csv``, split the channels into
    ``MSL/`` and ``SMAP/`` by the CSV's ``spacecraft`` column (an unlabelled channel goes where
    its width matches, as MSL's T-10 does), copy the CSV into both, and verify every file against
    the shipped checksums. Returns the files written."""
    import csv
    import shutil
    import tempfile

    import numpy as np

    from tsadbench.fetch import download, extract, verify

    cache = root / ".downloads"
    archive = download(archive_url, cache / "telemanom-data.zip")
    labels = download(
        labels_url,
        cache / "labeled_anomalies.csv",
        shipped_checksums().get("MSL/labeled_anomalies.csv"),
    )
    with open(labels, newline="") as fh:
        craft = {row["chan_id"]: row["spacecraft"] for row in csv.DictReader(fh)}
    width = {"MSL": 55, "SMAP": 25}
    expected = shipped_checksums()
    written = []
    with tempfile.TemporaryDirectory(dir=root) as tmp:
        extract(archive, Path(tmp))
        for npy in sorted(Path(tmp).rglob("*.npy")):
            split = npy.parent.name
            if split not in ("train", "test"):
                continue
            folder = craft.get(npy.stem) or next(
                (k for k, w in width.items() if np.load(npy, mmap_mode="r").shape[1] == w), None
            )
            if folder is None:
                continue
            dest = root / folder / split / npy.name
            dest.parent.mkdir(parents=True, exist_ok=True)
            rel = f"{folder}/{split}/{npy.name}"
            if rel in expected:
                verify(npy, expected[rel])
            shutil.move(str(npy), dest)
            written.append(dest)
    for folder in width:
        dest = root / folder / "labeled_anomalies.csv"
        shutil.copyfile(labels, dest)
        written.append(dest)
    return written


# datasets published as one archive of files ----------------------------------------------------
ARCHIVES: dict[str, tuple[str, str, str]] = {
    # name: (archive URL, folder under the data root, glob of the files kept)
    "ucr": (
        "https://www.cs.ucr.edu/~eamonn/time_series_data_2018/"
        "UCR_TimeSeriesAnomalyDatasets2021.zip",
        "UCR",
        "*_UCR_Anomaly_*.txt",
    ),
    "tsbad_u": ("https://www.thedatum.org/datasets/TSB-AD-U.zip", "TSB-AD-U", "*.csv"),
    "tsbad_m": ("https://www.thedatum.org/datasets/TSB-AD-M.zip", "TSB-AD-M", "*.csv"),
}


def downloadable(dataset: str) -> str | None:
    """The name ``tsadbench data download`` takes for ``dataset``, or None when it fetches none."""
    base = dataset.removesuffix("_concat")
    if base in ("msl", "smap") or base in SOURCES or base in ARCHIVES:
        return base
    return "tsbad_u" if base == "tsbad" else None


def download_archive(root: Path, name: str, url: str | None = None) -> list[Path]:
    """Fetch the archive of ``name``, safely extract it, keep the files matching its glob in its
    folder (flattened), and record their sha256 (``unverified``: nobody here holds them)."""
    import shutil
    import tempfile

    from tsadbench.fetch import download, extract, sha256_of

    default_url, folder_name, pattern = ARCHIVES[name]
    archive = download(url or default_url, root / ".downloads" / Path(default_url).name)
    folder = root / folder_name
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    with tempfile.TemporaryDirectory(dir=root) as tmp:
        extract(archive, Path(tmp))
        for path in sorted(Path(tmp).rglob(pattern)):
            if path.name.startswith("._") or "__MACOSX" in path.parts:
                continue  # macOS archive clutter
            dest = folder / path.name
            shutil.move(str(path), dest)
            record(folder, path.name, sha256_of(dest))
            written.append(dest)
    if not written:
        raise ValueError(f"The archive {archive} holds no file matching {pattern!r}.")
    return written
