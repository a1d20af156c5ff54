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


def require(path: Path, dataset: str, *, folder: bool = False) -> Path:
    """``path`` if it exists (a folder when ``folder``, else a file), else an error naming it
    and how to get it."""
    if not path.exists():
        from tsadbench.data.sources import downloadable

        name = downloadable(dataset)
        fetch = f", or fetch it with `tsadbench data download {name}`" if name else ""
        raise FileNotFoundError(
            f"The {dataset} file {path} is missing. Point TSADBENCH_DATA (or data_root=...) at "
            f"the folder that holds the {dataset.upper()} data{fetch}."
        )
    if path.is_dir() != folder:
        expected, found = ("a folder", "a file") if folder else ("a file", "a folder")
        raise ValueError(f"The {dataset} path {path} is {found}; {expected} is expected there.")
    return path


def dataset_root(data_root: Path | None, folder: str, dataset: str) -> Path:
    if data_root is None:
        raise FileNotFoundError(
            f"No data root for the {dataset} dataset: set TSADBENCH_DATA or data_root=..."
        )
    return require(Path(data_root) / folder, dataset, folder=True)


class _Refused(pickle.UnpicklingError):
    """The pickle asks for something other than a numpy array (never built)."""


def _latin1_bytes(text: str, encoding: str = "latin1") -> bytes:
    """What pickle protocols 0-2 call (``_codecs.encode``) to rebuild an array's raw bytes."""
    if not isinstance(text, str) or encoding != "latin1":
        raise _Refused("refused _codecs.encode other than of text to latin1 bytes")
    return text.encode("latin1")


class _ArrayOnly(pickle.Unpickler):
    """Rebuilds numpy arrays and nothing else, whatever the pickle protocol (0-5)."""

    def find_class(self, module: str, name: str) -> Any:
        import importlib

        if (module, name) in (("numpy", "ndarray"), ("numpy", "dtype")):
            return getattr(np, name)
        if (module, name) == ("_codecs", "encode"):  # protocols 0-2 store bytes as latin1 text
            return _latin1_bytes
        numpy_core = ("numpy.core.multiarray", "numpy._core.multiarray")
        numpy_numeric = ("numpy.core.numeric", "numpy._core.numeric")
        if (name == "_reconstruct" and module in numpy_core) or (
            name == "_frombuffer" and module in numpy_numeric  # protocol 5
        ):
            # numpy 2 moved numpy.core to numpy._core; pickles name either
            for candidate in (module.replace("numpy.core", "numpy._core"), module):
                try:
                    return getattr(importlib.import_module(candidate), name)
                except (ImportError, AttributeError):
                    continue
        raise _Refused(f"refused to rebuild {module}.{name}: only numpy arrays")


def _numeric_array(obj: Any, path: Path, what: str) -> NDArray[Any]:
    if not isinstance(obj, np.ndarray) or obj.dtype.kind not in "fiub":
        found = f"a {obj.dtype} array" if isinstance(obj, np.ndarray) else type(obj).__name__
        raise ValueError(
            f"The {what} {path} must hold a real-valued numpy array; it holds {found}."
        )
    return obj


def load_array_pickle(path: Path) -> NDArray[Any]:
    """A numpy array from a pickle that holds nothing else; anything else is refused."""
    try:
        with open(path, "rb") as fh:
            obj = _ArrayOnly(fh).load()
    except _Refused as exc:
        raise ValueError(
            f"The pickle {path} holds something other than a numpy array "
            f"({exc}); refusing to load it."
        ) from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, KeyError, IndexError,
            AttributeError) as exc:  # fmt: skip
        reason = "it is empty" if path.stat().st_size == 0 else f"{type(exc).__name__}: {exc}"
        raise ValueError(f"The pickle {path} is damaged or not a pickle ({reason}).") from None
    return _numeric_array(obj, path, "pickle")


def load_array_npy(path: Path) -> NDArray[Any]:
    """A numeric array from a ``.npy`` file; pickled objects are refused, never run."""
    try:
        obj = np.load(path, allow_pickle=False)
    except (ValueError, EOFError, OSError) as exc:
        if "allow_pickle" in str(exc):
            raise ValueError(
                f"The .npy file {path} holds pickled Python objects; refusing to load it."
            ) from None
        reason = "it is empty" if path.stat().st_size == 0 else str(exc)
        raise ValueError(
            f"The .npy file {path} is damaged or not a .npy file ({reason})."
        ) from None
    return _numeric_array(obj, path, ".npy file")


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
    channels: Sequence[int | str] | int | str | None,
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
