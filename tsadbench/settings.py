"""The settings of one ``tsadbench run``: read from the composed Hydra config
(:func:`settings_from_config`) and checked once, before any data is loaded (:func:`prepare`).
A bad setting raises :class:`ConfigError` naming it, what was expected and what was found; such
a run writes no record."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from tsadbench.checks import is_int, is_number

if TYPE_CHECKING:
    from tsadbench.metrics import MetricSpec
    from tsadbench.registry import DetectorInfo


class ConfigError(ValueError):
    """A run cannot start: bad settings, unknown names, unavailable detector. No record written."""


class Unavailable(ConfigError):
    """The detector cannot run on this machine (missing weights, no GPU, ...). A single run
    fails with the reason; in a sweep (``record_skips``) the job is recorded as skipped."""


@dataclass
class RunSettings:
    """The resolved settings of one ``tsadbench run`` (from the Hydra config, or built by hand
    in the library: ``RunSettings(detector="pca", dataset="synthetic", ...)``)."""

    detector: str
    detector_params: dict[str, Any]
    dataset: str
    dataset_params: dict[str, Any]
    metrics: list[str]
    seed: int
    results_dir: Path
    data_root: Path
    scaler: str = "auto"
    force: bool = False
    isolate: bool = True
    timeout_s: float | None = None
    threads: int | None = None  # torch threads of each run's fit and score (None: torch's own)
    config: dict[str, Any] | None = None  # the full resolved config, kept in every record
    record_skips: bool = False  # an unavailable detector gives a `skipped` record (sweeps)
    # the registered loader when the dataset config names its data with a ``label`` (e.g. the
    # NAB family ``nab_art`` loaded by ``nab``); ``dataset`` is then the label
    dataset_loader: str | None = None
    # the job's command line (``tsadbench run`` and its overrides), kept in every record
    command: str | None = None
    # where the run's own output goes (what a detector prints): a sweep job's run.log; None:
    # this process's stdout and stderr
    output: Path | None = None
    # keep the detector's train scores although the metric set reads none (a later
    # `tsadbench evaluate` with a label-free protocol); otherwise they are computed only when read
    store_train_scores: bool = False
    # why a run is a reduced version of a paper's setting; marked wherever its numbers appear
    reduced: str | None = None


@dataclass
class RunConfig:
    """The schema of ``conf/config.yaml``'s top level, registered in Hydra's ConfigStore as
    ``tsadbench_schema`` (the first entry of its defaults list): Hydra converts and type-checks
    each setting as it composes (``force=no`` is false, ``seed=abc`` is refused with the key
    named); :func:`settings_from_config` then checks the ranges. ``detector``, ``dataset`` and
    ``metrics`` are their config groups; ``paper`` is what a reproduction suite publishes."""

    detector: Any = None
    dataset: Any = None
    metrics: Any = None
    seed: int = 0
    results_dir: str = "results"
    data_root: Optional[str] = None  # noqa: UP045 (OmegaConf reads typing's Optional)
    device: str = "auto"
    scaler: str = "auto"
    force: bool = False
    isolate: bool = True
    timeout_s: Optional[float] = None  # noqa: UP045
    n_jobs: int = 1
    threads: Any = "auto"  # auto | null | an int > 0
    reduced: Optional[str] = None  # noqa: UP045
    suite: Optional[str] = None  # noqa: UP045
    paper: Any = None
    # detector parameters for every detector that has them (a mixed sweep's n_epochs=3)
    detectors: Any = field(default_factory=dict)
    store_train_scores: bool = False


def register_schema() -> None:
    """Put :class:`RunConfig` into Hydra's ConfigStore (``tsadbench.conf`` does it on import)."""
    from hydra.core.config_store import ConfigStore

    ConfigStore.instance().store(name="tsadbench_schema", node=RunConfig)


def default_data_root() -> Path:
    """``$TSADBENCH_DATA``, else the user cache directory (``$XDG_CACHE_HOME/tsadbench/data``)."""
    from tsadbench.fetch import cache_dir

    env = os.environ.get("TSADBENCH_DATA")
    return Path(env) if env else cache_dir() / "data"


def settings_from_config(cfg: Any) -> RunSettings:
    """Turn the composed config (an OmegaConf DictConfig) into checked ``RunSettings``."""
    from omegaconf import OmegaConf
    from omegaconf.errors import MissingMandatoryValue

    try:
        c = OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)
    except MissingMandatoryValue as exc:  # '???': a parameter without a default, not given
        key = exc.full_key or "?"
        raise ConfigError(
            f"The setting {key!r} must be given (it has no default): add {key}=VALUE."
        ) from None
    assert isinstance(c, dict)
    det, ds = dict(c["detector"]), dict(c["dataset"])
    if "name" not in det or "name" not in ds:
        raise ConfigError("The detector and dataset configs must each have a 'name' key.")
    metrics = c.get("metrics", {}).get("names")
    if not metrics:
        raise ConfigError("The metric set is empty: set metrics.names to a list of metric names.")
    seed = c.get("seed")
    if not is_int(seed) or seed < 0:
        raise ConfigError(f"The 'seed' setting must be an int >= 0. Got {seed!r} instead.")
    loader = ds.pop("name")
    label = ds.pop("label", None)
    if label is not None and (not isinstance(label, str) or not label):
        raise ConfigError(f"The 'dataset.label' setting must be a non-empty string. Got {label!r}.")
    reduced = c.get("reduced")
    if c.get("timeout_s") is not None and c.get("isolate") is False:
        raise ConfigError(
            "The 'timeout_s' setting needs isolate=true: a run in this process cannot be "
            f"stopped. Got timeout_s={c['timeout_s']!r} with isolate=false."
        )
    det.update(_for_every_detector(det["name"], c.get("detectors")))
    return RunSettings(
        detector=det.pop("name"),
        detector_params=det,
        dataset=label or loader,
        dataset_loader=loader if label else None,
        dataset_params=ds,
        metrics=list(metrics),
        seed=int(seed),
        results_dir=Path(c["results_dir"]),
        data_root=Path(c["data_root"]) if c.get("data_root") else default_data_root(),
        scaler=str(c.get("scaler", "auto")),
        force=bool(c.get("force", False)),
        isolate=bool(c.get("isolate", True)),
        store_train_scores=bool(c.get("store_train_scores", False)),
        timeout_s=_timeout(c.get("timeout_s")),
        threads=_threads(c.get("threads", "auto"), c.get("n_jobs", 1)),
        config={str(k): v for k, v in c.items() if k != "hydra"},
        reduced=None if reduced is None else str(reduced),
    )


def _for_every_detector(name: str, shared: Any) -> dict[str, Any]:
    """Of ``detectors.<param>=value`` (parameters for every detector of a run or sweep that has
    them), those that detector ``name`` has; the others do not apply to it."""
    from tsadbench.registry import DETECTORS

    if not shared:
        return {}
    if not isinstance(shared, dict):
        raise ConfigError(
            f"The 'detectors' setting must map parameter names to values (detectors.n_epochs=3). "
            f"Got {shared!r}."
        )
    try:
        has = set(DETECTORS.entry(name).obj._param_names())
    except (KeyError, ValueError) as exc:
        raise ConfigError(str(exc)) from None
    return {k: v for k, v in shared.items() if k in has}


def _check_writable(folder: Path) -> None:
    """``results_dir`` must be a folder this process can write (or create), checked before any
    run computes for nothing."""
    if folder.exists() and not folder.is_dir():
        raise ConfigError(
            f"The 'results_dir' setting names {folder}, which is a file, not a folder."
        )
    existing = next((p for p in (folder, *folder.parents) if p.exists()), Path("/"))
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(
            f"The 'results_dir' folder {folder} cannot be written: {existing} is not writable "
            "by this user."
        )


def _threads(threads: Any, n_jobs: Any) -> int | None:
    """Torch threads per run: ``auto`` shares the cores among the ``n_jobs`` jobs of a sweep, so
    that parallel jobs do not oversubscribe the CPU (and time each other's contention)."""
    if threads == "auto":
        cores = os.cpu_count() or 1
        if is_int(n_jobs) and n_jobs != 0:
            return 1 if n_jobs < 0 else max(1, cores // int(n_jobs))
        raise ConfigError(f"The 'n_jobs' setting must be an int (-1: all cores). Got {n_jobs!r}.")
    if threads is None or (is_int(threads) and threads > 0):
        return None if threads is None else int(threads)
    raise ConfigError(f"The 'threads' setting must be 'auto', null or an int > 0. Got {threads!r}.")


def _timeout(value: Any) -> float | None:
    if value is None:
        return None
    if not is_number(value) or value <= 0:
        raise ConfigError(
            f"The 'timeout_s' setting must be a number of seconds > 0 or null. "
            f"Got {value!r} instead."
        )
    return float(value)


@dataclass
class Prepared:
    """What ``prepare`` checked: the detector's class and registry entry, the scaler, the
    resolved metric set."""

    cls: Any
    info: DetectorInfo
    scaler: str
    specs: list[MetricSpec]


def prepare(s: RunSettings) -> Prepared:
    """Check everything that needs no data (raises ``ConfigError``, or ``Unavailable`` when the
    detector cannot run on this machine)."""
    from tsadbench.metrics import parse_metric_set
    from tsadbench.pipeline import resolve_scaler
    from tsadbench.registry import DETECTORS

    _check_writable(Path(s.results_dir))
    try:
        entry = DETECTORS.entry(s.detector)
        unknown = sorted(set(s.detector_params) - set(entry.obj._param_names()))
        if unknown:
            raise ValueError(
                f"The detector {s.detector!r} ({entry.obj.__name__}) has no parameter(s) "
                f"{', '.join(map(repr, unknown))}; its parameters are "
                f"{', '.join(entry.obj._param_names())}. For only the detectors that have "
                f"one, write detectors.{unknown[0]}=VALUE."
            )
        # rejects unknown parameters (TypeError) and invalid values (ValueError)
        det = DETECTORS.create(s.detector, **s.detector_params)
        det.check_params()
        specs = parse_metric_set(s.metrics)
    except (ValueError, TypeError) as exc:
        raise ConfigError(str(exc)) from None
    reason = det.check_available()
    if reason:
        raise Unavailable(f"The detector {s.detector!r} cannot run here: {reason}")
    try:  # the same choice as the library's Pipeline: the same scores either way
        scaler = resolve_scaler(entry.obj, s.scaler)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    return Prepared(entry.obj, entry.info, scaler, specs)
