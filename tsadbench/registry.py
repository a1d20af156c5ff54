"""One generic name -> factory registry, used for detectors, metrics and datasets.

Each registry knows the built-in modules that register into it and an entry-point group
through which installed packages add their own entries. Both are imported on first lookup,
never at import time, so importing the registry stays cheap (no torch).

Examples
--------
>>> @register_detector("iforest")
... class WindowIForest(BaseDetector): ...
>>> create_detector("iforest", window=128)
>>> list_detectors("*forest*")
"""

from __future__ import annotations

import builtins
import difflib
import fnmatch
import importlib
import re
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, Generic, TypeVar

T = TypeVar("T")

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class Entry(Generic[T]):
    """One registered component: its name, the object and what it declares about itself."""

    name: str
    obj: T
    description: str
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def source(self) -> str:
        """Where the object lives, ``module.qualname``."""
        module = getattr(self.obj, "__module__", "?")
        return f"{module}.{getattr(self.obj, '__qualname__', self.name)}"


def _first_line(obj: object) -> str:
    doc = (getattr(obj, "__doc__", None) or "").strip()
    return doc.splitlines()[0].strip() if doc else ""


class Registry(Generic[T]):
    """A name -> object table with lazy loading of built-in and plug-in modules.

    Parameters
    ----------
    kind : str
        What the registry holds, used in messages ("detector").
    builtin_modules : iterable of str
        Modules imported on first lookup; they register their entries when imported.
    entry_point_group : str or None
        The ``importlib.metadata`` entry-point group scanned on first lookup. Loading an entry
        point imports its module, which registers its entries.
    """

    def __init__(
        self, kind: str, builtin_modules: Iterable[str], entry_point_group: str | None = None
    ) -> None:
        self.kind = kind
        self._pending = list(builtin_modules)  # built-in modules not imported yet
        self._entry_point_group = entry_point_group
        self._entries: dict[str, Entry[T]] = {}
        self._loaded = False

    # registration -------------------------------------------------------------------------
    def register(
        self, name: str, *, description: str | None = None, **meta: Any
    ) -> Callable[[T], T]:
        """Decorator that registers ``obj`` under ``name``; extra keywords are stored as meta."""
        if not isinstance(name, str) or not _NAME.match(name):
            raise ValueError(
                f"A {self.kind} name must be lowercase snake_case (letters, digits, '_'). "
                f"Got {name!r} instead."
            )

        def decorator(obj: T) -> T:
            if name in self._entries:
                raise ValueError(
                    f"The {self.kind} name {name!r} is already registered by "
                    f"{self._entries[name].source}; names must be unique."
                )
            desc = description if description is not None else _first_line(obj)
            self._entries[name] = Entry(name=name, obj=obj, description=desc, meta=dict(meta))
            return obj

        return decorator

    # lookup ------------------------------------------------------------------------------
    def _load(self, until: str | None = None) -> None:
        """Import the built-in modules in order, then the plug-ins; with ``until``, stop as soon
        as that name is registered (a run of ``pca`` never imports the torch detectors)."""
        while self._pending:
            if until is not None and until in self._entries:
                return
            importlib.import_module(self._pending.pop(0))
        if self._loaded or (until is not None and until in self._entries):
            return
        self._loaded = True
        if self._entry_point_group is None:
            return
        for ep in entry_points(group=self._entry_point_group):
            try:
                ep.load()
            except Exception as exc:  # a broken plug-in must not hide the built-ins
                warnings.warn(
                    f"Could not load the {self.kind} plug-in {ep.name!r} ({ep.value}) from the "
                    f"entry-point group {self._entry_point_group!r}: "
                    f"{type(exc).__name__}: {exc}",
                    RuntimeWarning,
                    stacklevel=2,
                )

    def entry(self, name: str) -> Entry[T]:
        """The registered entry for ``name``; unknown names raise with the closest names."""
        self._load(until=name)
        try:
            return self._entries[name]
        except KeyError:
            self._load()
            close = difflib.get_close_matches(str(name), self._entries, n=3, cutoff=0.5)
            hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
            raise ValueError(
                f"Unknown {self.kind} {name!r}.{hint} "
                f"Available: {', '.join(sorted(self._entries)) or 'none'}."
            ) from None

    def get(self, name: str) -> T:
        return self.entry(name).obj

    def create(self, name: str, **params: Any) -> Any:
        """Call the registered factory (a class or a function) with ``params``."""
        factory = self.get(name)
        if not callable(factory):
            raise TypeError(f"The {self.kind} {name!r} is not callable: {factory!r}.")
        return factory(**params)

    def list(self, pattern: str = "*") -> builtins.list[str]:
        """Sorted registered names matching the shell-style wildcard ``pattern``."""
        self._load()
        return sorted(n for n in self._entries if fnmatch.fnmatchcase(n, pattern))

    def entries(self, pattern: str = "*") -> builtins.list[Entry[T]]:
        return [self._entries[n] for n in self.list(pattern)]

    def __contains__(self, name: object) -> bool:
        self._load()
        return name in self._entries


DETECTORS: Registry[Any] = Registry(
    "detector",
    builtin_modules=(
        "tsadbench.detectors.baselines",
        "tsadbench.detectors.ae",
        "tsadbench.detectors.memae",
        "tsadbench.detectors.vanad",
        "tsadbench.detectors.tadgan",
        "tsadbench.detectors.oraclead",
        "tsadbench.detectors.linear",
        "tsadbench.detectors.anomaly_transformer",
        "tsadbench.detectors.amad",
    ),
    entry_point_group="tsadbench.detectors",
)
METRICS: Registry[Any] = Registry(
    "metric",
    builtin_modules=(
        "tsadbench.metrics.point",
        "tsadbench.metrics.pa",
        "tsadbench.metrics.event",
        "tsadbench.metrics.range",
        "tsadbench.metrics.affiliation",
        "tsadbench.metrics.pate",
        "tsadbench.metrics.vus",
        "tsadbench.metrics.overlap",
        "tsadbench.metrics.rootcause",
    ),
    entry_point_group="tsadbench.metrics",
)
DATASETS: Registry[Any] = Registry(
    "dataset",
    builtin_modules=(
        "tsadbench.data.synthetic",
        "tsadbench.data.smd",
        "tsadbench.data.nasa",
        "tsadbench.data.nab",
        "tsadbench.data.tables",
    ),
    entry_point_group="tsadbench.datasets",
)


def register_detector(
    name: str,
    *,
    faithful: bool = True,
    deviations: Iterable[str] = (),
    behaviour: str | None = None,
    **meta: Any,
) -> Callable[[T], T]:
    """Register a detector class; ``faithful`` / ``deviations`` state its fidelity to the paper,
    ``behaviour`` why it cannot pass the behavioural check (``tsadbench.testing``) at its test
    settings (None: it passes, and the conformance tests hold it to that)."""
    return DETECTORS.register(
        name, faithful=faithful, deviations=tuple(deviations), behaviour=behaviour, **meta
    )


def create_detector(name: str, **params: Any) -> Any:
    return DETECTORS.create(name, **params)


def list_detectors(pattern: str = "*") -> list[str]:
    return DETECTORS.list(pattern)


def register_metric(name: str, *, needs_threshold: bool = False, **meta: Any) -> Callable[[T], T]:
    return METRICS.register(name, needs_threshold=needs_threshold, **meta)


def list_metrics(pattern: str = "*") -> list[str]:
    return METRICS.list(pattern)


def register_dataset(name: str, **meta: Any) -> Callable[[T], T]:
    return DATASETS.register(name, **meta)


def list_datasets(pattern: str = "*") -> list[str]:
    return DATASETS.list(pattern)
