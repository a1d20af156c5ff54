"""One generic name -> factory registry, used for detectors, metrics and datasets.

Built-in entries are **discovered**, never listed by hand: a registry reads the source of each
module of its package (``tsadbench.detectors``, ``tsadbench.metrics``, ``tsadbench.data``) and
notes, without importing the module, which names it registers (its ``@register_*("name", ...)``
decorators). Looking a name up imports only the module that registers it (a ``pca`` run never
imports torch); listing names imports nothing built in. Installed packages add entries through
an entry-point group, loaded on the first lookup of a name not built in, or on a listing.

What an entry declares about itself is typed: :class:`DetectorInfo` (fidelity, the behavioural
check's exemption, pretrained weights), :class:`MetricInfo` (threshold protocol, oracle,
root cause).

Examples
--------
>>> @register_detector("iforest", faithful=False, deviations=["sliding windows"])
... class WindowIForest(BaseDetector): ...
>>> create_detector("iforest", window=128)
>>> list_detectors("*forest*")
"""

from __future__ import annotations

import ast
import builtins
import difflib
import fnmatch
import importlib
import pkgutil
import re
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Generic, TypeVar

T = TypeVar("T")
I = TypeVar("I")  # noqa: E741 (the info type)

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class Weights:
    """Pretrained weights a detector loads, declared in its registration (as timm keeps them):
    where they come from, the file's name in the weights folder, its sha256 (verified on
    download; None only where it is not known) and about how big it is."""

    url: str
    file: str
    sha256: str | None
    size: str


@dataclass(frozen=True)
class DetectorInfo:
    """What a detector declares about itself in ``register_detector``.

    ``faithful`` / ``deviations``: its fidelity to the paper or official code; ``behaviour``: why
    it cannot pass the behavioural check (``tsadbench.testing``) at its test settings (None: it
    passes, and the conformance tests hold it to that); ``weights``: the pretrained weights it
    loads, if any.
    """

    faithful: bool = True
    deviations: tuple[str, ...] = ()
    behaviour: str | None = None
    weights: Weights | None = None


@dataclass(frozen=True)
class MetricInfo:
    """What a metric declares about itself in ``register_metric``.

    ``needs_threshold``: it rates 0/1 predictions, so it is written ``<metric>@<protocol>``;
    ``oracle``: ``(labels, scores, **params) -> (value, threshold)``, its best value over
    thresholds; ``oracle_of``: the metric whose best threshold it is reported at (a companion
    such as a precision); ``oracle_grid``: the oracle searches a rank-quantile grid (each
    threshold costs O(n)); ``root_cause``: it rates per-channel scores against channel labels;
    ``count``: a count (TP, FP, FN), with no better or worse direction of its own.
    """

    needs_threshold: bool = False
    oracle: Callable[..., tuple[float, float]] | None = None
    oracle_of: str | None = None
    oracle_grid: bool = False
    root_cause: bool = False
    count: bool = False


@dataclass(frozen=True)
class DatasetInfo:
    """What a dataset loader declares about itself (nothing yet: a place for it)."""


@dataclass(frozen=True)
class Entry(Generic[T, I]):
    """One registered component: its name, the object and what it declares about itself."""

    name: str
    obj: T
    description: str
    info: I

    @property
    def source(self) -> str:
        """Where the object lives, ``module.qualname``."""
        module = getattr(self.obj, "__module__", "?")
        return f"{module}.{getattr(self.obj, '__qualname__', self.name)}"


def _first_line(obj: object) -> str:
    doc = (getattr(obj, "__doc__", None) or "").strip()
    return doc.splitlines()[0].strip() if doc else ""


class Registry(Generic[T, I]):
    """A name -> object table whose built-in entries are discovered in a package.

    Parameters
    ----------
    kind : str
        What the registry holds, used in messages ("detector").
    package : str or None
        The package whose modules register the built-in entries (discovered statically: see
        the module docstring). None: entries come from ``register`` calls and plug-ins only.
    entry_point_group : str or None
        The ``importlib.metadata`` entry-point group of plug-ins. Loading an entry point
        imports its module, which registers its entries.
    info : type
        The dataclass of what an entry declares (``register``'s keywords build it).
    decorator : str
        The name of the function whose calls register into this registry in the package's
        source (``register_detector``).
    """

    def __init__(
        self,
        kind: str,
        package: str | None = None,
        entry_point_group: str | None = None,
        *,
        info: Callable[..., I],
        decorator: str = "register",
    ) -> None:
        self.kind = kind
        self._package = package
        self._entry_point_group = entry_point_group
        self._info = info
        self._decorator = decorator
        self._entries: dict[str, Entry[T, I]] = {}
        self._index: dict[str, str] | None = None  # built-in name -> its module
        self._plugins_loaded = False

    # registration -------------------------------------------------------------------------
    def register(
        self, name: str, *, description: str | None = None, **info: Any
    ) -> Callable[[T], T]:
        """Decorator that registers ``obj`` under ``name``; the keywords are its info."""
        if not isinstance(name, str) or not _NAME.match(name):
            raise ValueError(
                f"A {self.kind} name must be lowercase snake_case (letters, digits, '_'). "
                f"Got {name!r} instead."
            )
        declared = self._info(**info)  # an unknown keyword is a TypeError naming it

        def decorator(obj: T) -> T:
            if name in self._entries:
                raise ValueError(
                    f"The {self.kind} name {name!r} is already registered by "
                    f"{self._entries[name].source}; names must be unique."
                )
            desc = description if description is not None else _first_line(obj)
            self._entries[name] = Entry(name=name, obj=obj, description=desc, info=declared)
            return obj

        return decorator

    # discovery ---------------------------------------------------------------------------
    def builtin(self) -> dict[str, str]:
        """Built-in name -> the module that registers it, read from the package's sources
        (nothing is imported)."""
        if self._index is None:
            self._index = {}
            # the package itself (light: its __init__), for its folders (__path__)
            package = importlib.import_module(self._package) if self._package else None
            for folder in getattr(package, "__path__", []):
                for module in pkgutil.iter_modules([folder]):
                    path = Path(folder) / f"{module.name}.py"
                    if path.is_file():
                        for name in self._declared(path.read_text(encoding="utf-8")):
                            self._index.setdefault(name, f"{self._package}.{module.name}")
        return self._index

    def _declared(self, source: str) -> list[str]:
        """The names a module's source registers: ``@<decorator>("name", ...)`` on its
        classes and functions."""
        names = []
        for node in ast.walk(ast.parse(source)):
            if not isinstance(node, (ast.ClassDef, ast.FunctionDef)):
                continue
            for deco in node.decorator_list:
                if (
                    isinstance(deco, ast.Call)
                    and getattr(deco.func, "id", getattr(deco.func, "attr", None))
                    == self._decorator
                    and deco.args
                    and isinstance(deco.args[0], ast.Constant)
                    and isinstance(deco.args[0].value, str)
                ):
                    names.append(deco.args[0].value)
        return names

    def _load_plugins(self) -> None:
        if self._plugins_loaded or self._entry_point_group is None:
            return
        self._plugins_loaded = True
        for ep in entry_points(group=self._entry_point_group):
            try:
                ep.load()
            except (Exception, SystemExit) as exc:  # a broken plug-in (even one that calls
                # sys.exit on import) must not hide the built-ins or silence the command
                warnings.warn(
                    f"Could not load the {self.kind} plug-in {ep.name!r} ({ep.value}) from the "
                    f"entry-point group {self._entry_point_group!r}: "
                    f"{type(exc).__name__}: {exc}",
                    RuntimeWarning,
                    stacklevel=3,
                )

    # lookup ------------------------------------------------------------------------------
    def entry(self, name: str) -> Entry[T, I]:
        """The registered entry for ``name`` (importing only the module that registers it);
        unknown names raise with the closest names."""
        if name not in self._entries and name in self.builtin():
            importlib.import_module(self.builtin()[name])
        if name not in self._entries:
            self._load_plugins()
        try:
            return self._entries[name]
        except KeyError:
            close = difflib.get_close_matches(str(name), self.list(), n=3, cutoff=0.5)
            hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
            raise ValueError(
                f"Unknown {self.kind} {name!r}.{hint} "
                f"Available: {', '.join(self.list()) or 'none'}."
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
        """Sorted names matching the shell-style wildcard ``pattern`` (built-in ones without
        importing them; plug-ins are loaded)."""
        self._load_plugins()
        names = set(self.builtin()) | set(self._entries)
        return sorted(n for n in names if fnmatch.fnmatchcase(n, pattern))

    def entries(self, pattern: str = "*") -> builtins.list[Entry[T, I]]:
        """The entries matching ``pattern``, each module imported (for what they declare)."""
        return [self.entry(n) for n in self.list(pattern)]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self.list()


DETECTORS: Registry[Any, DetectorInfo] = Registry(
    "detector",
    "tsadbench.detectors",
    "tsadbench.detectors",
    info=DetectorInfo,
    decorator="register_detector",
)
METRICS: Registry[Any, MetricInfo] = Registry(
    "metric", "tsadbench.metrics", "tsadbench.metrics", info=MetricInfo, decorator="register_metric"
)
DATASETS: Registry[Any, DatasetInfo] = Registry(
    "dataset",
    "tsadbench.data",
    "tsadbench.datasets",
    info=DatasetInfo,
    decorator="register_dataset",
)


def register_detector(
    name: str,
    *,
    faithful: bool = True,
    deviations: Iterable[str] = (),
    behaviour: str | None = None,
    weights: Weights | None = None,
) -> Callable[[T], T]:
    """Register a detector class with what it declares (:class:`DetectorInfo`)."""
    return DETECTORS.register(
        name,
        faithful=faithful,
        deviations=tuple(deviations),
        behaviour=behaviour,
        weights=weights,
    )


def create_detector(name: str, **params: Any) -> Any:
    return DETECTORS.create(name, **params)


def list_detectors(pattern: str = "*") -> list[str]:
    return DETECTORS.list(pattern)


def register_metric(name: str, **info: Any) -> Callable[[T], T]:
    """Register a metric function with what it declares (:class:`MetricInfo`)."""
    return METRICS.register(name, **info)


def list_metrics(pattern: str = "*") -> list[str]:
    return METRICS.list(pattern)


def register_dataset(name: str) -> Callable[[T], T]:
    """Register a dataset loader ``(data_root, **params) -> Dataset``."""
    return DATASETS.register(name)


def list_datasets(pattern: str = "*") -> list[str]:
    return DATASETS.list(pattern)
