"""Where a run's numbers come from: the machine and library versions (kept in every record) and
the identity of the code that made the scores (part of every run's key).

Code identity: a run's key holds a hash of the source of the code that can move its scores, so
that resume never reuses a record that older code made. :func:`code_identity` hashes the
detector's module, the modules of its base classes, the modules its module takes names from
within tsadbench or its own package (one hop: ``tsadbench.data.windows``, a shared network ...)
and the ``tsadbench.data`` package (loading, scaling, windows). Editing any of them gives new
keys: the next run computes afresh instead of reusing records. The metric code is not in the
key (metrics are recomputed from stored scores): a record keeps :func:`metrics_identity`, and a
re-run that finds a record made under other metric code recomputes its metrics.
"""

from __future__ import annotations

import functools
import hashlib
import os
import platform
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from tsadbench import __version__


@functools.cache  # one `git` call per process, not one per run
def git_commit() -> str | None:
    try:
        res = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return res.stdout.strip() or None if res.returncode == 0 else None


@functools.cache
def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment() -> dict[str, Any]:
    """The machine and the versions of the libraries loaded in this process."""
    versions: dict[str, Any] = {
        "tsadbench": __version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
    }
    for mod in ("torch", "sklearn", "pandas"):
        if mod in sys.modules:
            versions[mod] = getattr(sys.modules[mod], "__version__", None)
    return {
        "versions": versions,
        "git_commit": git_commit(),
        "host": platform.node(),
        "platform": platform.platform(),
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
    }


def code_identity(cls: type) -> str:
    """16 hex digits naming the code that makes ``cls``'s scores (see the module docstring)."""
    module = sys.modules[cls.__module__]
    roots = {"tsadbench", cls.__module__.partition(".")[0]}
    names = {c.__module__ for c in cls.__mro__} | _imported_from(module)
    names = {n for n in names if n.partition(".")[0] in roots}
    files = {_file_of(n) for n in names} | _package_files("tsadbench.data")
    return _hash_files(tuple(sorted(files)))


def metrics_identity() -> str:
    """16 hex digits naming the metric code (every module of ``tsadbench.metrics``)."""
    return _hash_files(tuple(sorted(_package_files("tsadbench.metrics"))))


def _package_files(package: str) -> set[str]:
    """The source files of a package (all of them, imported or not: the identity must not
    depend on what this process happened to import)."""
    return {str(p) for p in Path(_file_of(package)).parent.glob("*.py")}


def _imported_from(module: ModuleType) -> set[str]:
    """The modules whose names ``module`` holds: imported modules and imported objects'."""
    out = set()
    for value in vars(module).values():
        if isinstance(value, ModuleType):
            out.add(value.__name__)
        elif isinstance(getattr(value, "__module__", None), str):
            out.add(value.__module__)
    return out


def _file_of(name: str) -> str:
    import importlib

    file = getattr(importlib.import_module(name), "__file__", None)
    if file is None:
        raise RuntimeError(f"Cannot name the code of the run: module {name!r} has no file.")
    return str(file)


def _hash_files(files: tuple[str, ...]) -> str:
    digest = hashlib.sha256()
    for file in files:
        # the file's name within its package, not its path: the same code in two clones
        # (or a normal and an editable install) has the same identity
        label = f"{Path(file).parent.name}/{Path(file).name}"
        digest.update(label.encode() + b"\0" + Path(file).read_bytes() + b"\0")
    return digest.hexdigest()[:16]
