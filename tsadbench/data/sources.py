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
