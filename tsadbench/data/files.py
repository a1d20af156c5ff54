"""Reading benchmark files safely: clear errors for missing files, restricted unpickling,
entity and channel selection shared by every loader."""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray


def sources(*paths: Path) -> dict[str, str]:
    """``{file name: sha256}`` of the files an entity was read from (its ``meta["sources"]``)."""
    from tsadbench.fetch import sha256_of

    return {f"{p.parent.name}/{p.name}": sha256_of(p) for p in paths if p.exists()}


def require(path: Path, dataset: str) -> Path:
    """``path`` if it exists, else a ``FileNotFoundError`` naming it and how to fetch it."""
    if not path.exists():
        raise FileNotFoundError(
            f"The {dataset} file {path} is missing. Point TSADBENCH_DATA (or data_root=...) at "
            f"the folder that holds the {dataset.upper()} data, or fetch it with "
            f"`tsadbench data download {dataset}`."
        )
    return path


def dataset_root(data_root: Path | None, folder: str, dataset: str) -> Path:
    if data_root is None:
        raise FileNotFoundError(
            f"No data root for the {dataset} dataset: set TSADBENCH_DATA or data_root=..."
        )
    return require(Path(data_root) / folder, dataset)


class _ArrayOnly(pickle.Unpickler):
    """Rebuilds numpy arrays and nothing else."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in (("numpy", "ndarray"), ("numpy", "dtype")):
            return getattr(np, name)
        if name == "_reconstruct" and module in ("numpy.core.multiarray", "numpy._core.multiarray"):
            import importlib

            # numpy 2 moved numpy.core to numpy._core; pickles name either
            for candidate in ("numpy._core.multiarray", "numpy.core.multiarray"):
                try:
                    return importlib.import_module(candidate)._reconstruct
                except (ImportError, AttributeError):
                    continue
        raise pickle.UnpicklingError(f"refused to rebuild {module}.{name}: only numpy arrays")


def load_array_pickle(path: Path) -> NDArray[Any]:
    """A numpy array from a pickle that holds nothing else; anything else is refused."""
    try:
        with open(path, "rb") as fh:
            obj = _ArrayOnly(fh).load()
    except pickle.UnpicklingError as exc:
        raise ValueError(
            f"The pickle {path} holds something other than a numpy array "
            f"({exc}); refusing to load it."
        ) from None
    if not isinstance(obj, np.ndarray) or obj.dtype.kind not in "fiub":
        raise ValueError(
            f"The pickle {path} must hold a numeric numpy array; it holds {type(obj).__name__}."
        )
    return obj


def select(
    names: Sequence[str], wanted: Sequence[str] | None, what: str, dataset: str
) -> list[str]:
    """The ``wanted`` names (all when None; one name alone is a list of one), each checked
    against the available ``names``."""
    if wanted is None:
        return list(names)
    if isinstance(wanted, str):  # entities=machine-1-2 means that machine, not its letters
        wanted = [wanted]
    missing = [w for w in wanted if w not in names]
    if missing:
        raise ValueError(
            f"The {dataset} dataset has no {what} {', '.join(map(repr, missing))}; "
            f"available here: {', '.join(names)}."
        )
    return list(wanted)


def select_channels(
    arrays: Sequence[NDArray[Any]],
    channels: Sequence[int | str] | None,
    names: Sequence[str],
    dataset: str,
) -> tuple[list[NDArray[Any]], list[str]]:
    """Keep ``channels`` (indices or names; one alone is a list of one) of every array; return
    the arrays and names kept."""
    if channels is None:
        return list(arrays), list(names)
    if isinstance(channels, (str, int)):  # channels=c1 means that channel, not its letters
        channels = [channels]
    idx = []
    for c in channels:
        if isinstance(c, str) and not c.lstrip("-").isdigit():
            if c not in names:
                raise ValueError(
                    f"The {dataset} dataset has no channel {c!r}; channels: {', '.join(names)}."
                )
            idx.append(list(names).index(c))
        else:
            i = int(c)
            if not 0 <= i < len(names):
                raise ValueError(
                    f"Channel index {i} is out of range for the {dataset} dataset "
                    f"({len(names)} channels)."
                )
            idx.append(i)
    return [a[:, idx] for a in arrays], [names[i] for i in idx]
