"""One run: load -> scale -> fit -> score -> evaluate -> record, for every entity of a dataset.

``run(cfg)`` takes the composed Hydra config. Everything that can be checked without data is
checked first (detector name and parameters, availability, metric names, data settings): such
errors raise ``ConfigError`` and write no record. Once the entity loop starts, the runner is the
one place that catches broadly: a detector that raises gives a record with status ``error``, its
traceback and NaN metrics, and the loop goes on with the next entity.
"""

from __future__ import annotations

import functools
import os
import platform
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tsadbench import __version__, store
from tsadbench.data import Entity, load_dataset
from tsadbench.data.scaling import SCALERS, fit_scaler
from tsadbench.registry import DETECTORS

if TYPE_CHECKING:
    from tsadbench.metrics import MetricSpec


class ConfigError(ValueError):
    """A run cannot start: bad settings, unknown names, unavailable detector. No record written."""


class Unavailable(ConfigError):
    """The detector cannot run on this machine (missing weights, no GPU, ...). A single run
    fails with the reason; in a sweep (``record_skips``) the job is recorded as skipped."""


@dataclass
class RunSettings:
    """The resolved settings of one ``tsadbench run`` (from the Hydra config)."""

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


def default_data_root() -> Path:
    """``$TSADBENCH_DATA``, else the user cache directory (``$XDG_CACHE_HOME/tsadbench/data``)."""
    from tsadbench.fetch import cache_dir

    env = os.environ.get("TSADBENCH_DATA")
    return Path(env) if env else cache_dir() / "data"


def settings_from_config(cfg: Any) -> RunSettings:
    """Turn the composed config (an OmegaConf DictConfig) into checked ``RunSettings``."""
    from omegaconf import OmegaConf

    c = OmegaConf.to_container(cfg, resolve=True)
    assert isinstance(c, dict)
    det = dict(c["detector"])
    det.pop("_target_", None)
    ds = dict(c["dataset"])
    ds.pop("_target_", None)
    if "name" not in det or "name" not in ds:
        raise ConfigError("The detector and dataset configs must each have a 'name' key.")
    metrics = c.get("metrics", {}).get("names")
    if not metrics:
        raise ConfigError("The metric set is empty: set metrics.names to a list of metric names.")
    seed = c.get("seed")
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ConfigError(f"The 'seed' setting must be an int >= 0. Got {seed!r} instead.")
    loader = ds.pop("name")
    label = ds.pop("label", None)
    if label is not None and (not isinstance(label, str) or not label):
        raise ConfigError(f"The 'dataset.label' setting must be a non-empty string. Got {label!r}.")
    return RunSettings(
        detector=det.pop("name"),
        detector_params=det,
        dataset=label or loader,
        dataset_loader=loader if label else None,
        dataset_params=ds,
        metrics=list(metrics),
        seed=seed,
        results_dir=Path(c["results_dir"]),
        data_root=Path(c["data_root"]) if c.get("data_root") else default_data_root(),
        scaler=str(c.get("scaler", "auto")),
        force=bool(c.get("force", False)),
        isolate=bool(c.get("isolate", True)),
        timeout_s=_timeout(c.get("timeout_s")),
        threads=_threads(c.get("threads", "auto"), c.get("n_jobs", 1)),
        config={str(k): v for k, v in c.items() if k != "hydra"},
    )


def _threads(threads: Any, n_jobs: Any) -> int | None:
    """Torch threads per run: ``auto`` shares the cores among the ``n_jobs`` jobs of a sweep, so
    that parallel jobs do not oversubscribe the CPU (and time each other's contention)."""
    if threads == "auto":
        cores = os.cpu_count() or 1
        if isinstance(n_jobs, int) and not isinstance(n_jobs, bool) and n_jobs != 0:
            return 1 if n_jobs < 0 else max(1, cores // n_jobs)
        raise ConfigError(f"The 'n_jobs' setting must be an int (-1: all cores). Got {n_jobs!r}.")
    if threads is None or (
        isinstance(threads, int) and not isinstance(threads, bool) and threads > 0
    ):
        return threads
    raise ConfigError(f"The 'threads' setting must be 'auto', null or an int > 0. Got {threads!r}.")


def _timeout(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ConfigError(
            f"The 'timeout_s' setting must be a number of seconds > 0 or null. "
            f"Got {value!r} instead."
        )
    return float(value)


# measurement -------------------------------------------------------------------------------
def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        import resource

        scale = 1 if sys.platform == "darwin" else 1024
        return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * scale


@contextmanager
def peak_rss(interval: float = 0.02) -> Iterator[dict[str, float]]:
    """Sample this process's resident memory while the block runs; yields {'peak_rss_mb': ...}.

    The figure is the process's peak RSS during the block (it includes what the process held
    before it, e.g. the interpreter and the data), sampled every ``interval`` seconds.
    """
    out = {"peak_rss_mb": _rss_bytes() / 2**20}
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(interval):
            out["peak_rss_mb"] = max(out["peak_rss_mb"], _rss_bytes() / 2**20)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield out
    finally:
        stop.set()
        thread.join()
        out["peak_rss_mb"] = round(max(out["peak_rss_mb"], _rss_bytes() / 2**20), 1)


@functools.cache  # one `git` call per process, not one per run
def _git_commit() -> str | None:
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
def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment() -> dict[str, Any]:
    versions = {
        "tsadbench": __version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
    }
    for mod in ("torch", "sklearn", "pandas"):
        if mod in sys.modules:
            versions[mod] = getattr(sys.modules[mod], "__version__", None)
    return {
        "versions": versions,
        "git_commit": _git_commit(),
        "host": platform.node(),
        "platform": platform.platform(),
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
    }


# the run -----------------------------------------------------------------------------------
def _evaluate(
    specs: list[MetricSpec], arrays: dict[str, np.ndarray], record: dict[str, Any]
) -> None:
    """Compute each metric into ``record`` on its own: an undefined metric gets NaN and a reason
    (in ``metric_errors``), not a lost run; its parameters go to ``metric_params``."""
    from tsadbench.metrics import compute, compute_root_cause, is_root_cause, reads_train_scores

    for group in ("metrics", "metric_errors", "metric_params"):
        record.setdefault(group, {})
    incomparable = record.get("detector", {}).get("comparable_scores") is False
    for spec in specs:
        try:
            if incomparable and reads_train_scores(spec):
                raise ValueError(
                    f"{record['detector']['name']} standardises the scores of each series it "
                    "scores (comparable_scores=False): a threshold taken from its train scores "
                    "means nothing on its test scores"
                )
            if is_root_cause(spec):
                if "channels" not in arrays or "channel_labels" not in arrays:
                    # no channel labels here, or a detector without per-channel scores: the
                    # metric is absent from the record, never 0
                    record["metrics"].pop(spec.name, None)
                    record["metric_params"].pop(spec.name, None)
                    continue
                value = compute_root_cause(spec, arrays["channel_labels"], arrays["channels"])
            else:
                value = compute(
                    spec,
                    arrays["labels"],
                    arrays["test"],
                    arrays.get("train"),
                    arrays.get("train_energies"),
                )
            if not np.isfinite(value):
                raise FloatingPointError(f"the value is {value}")
            record["metrics"][spec.name] = value
            record["metric_errors"].pop(spec.name, None)
        except Exception as exc:
            record["metrics"][spec.name] = float("nan")
            record["metric_errors"][spec.name] = f"{type(exc).__name__}: {exc}"
        record["metric_params"][spec.name] = spec.describe()


def prepare(s: RunSettings) -> tuple[dict[str, Any], str, list[MetricSpec]]:
    """Check everything that needs no data; return the detector's registry meta, the scaler and
    the resolved metric set."""
    from tsadbench.metrics import parse_metric

    try:
        entry = DETECTORS.entry(s.detector)
        unknown = sorted(set(s.detector_params) - set(entry.obj._param_names()))
        if unknown:
            raise ValueError(
                f"The detector {s.detector!r} ({entry.obj.__name__}) has no parameter(s) "
                f"{', '.join(map(repr, unknown))}; its parameters are "
                f"{', '.join(entry.obj._param_names())}."
            )
        # rejects unknown parameters (TypeError) and invalid values (ValueError)
        det = DETECTORS.create(s.detector, **s.detector_params)
        det.check_params()
        specs = [parse_metric(name) for name in s.metrics]
    except (ValueError, TypeError) as exc:
        raise ConfigError(str(exc)) from None
    cls = entry.obj
    reason = det.check_available()
    if reason:
        raise Unavailable(f"The detector {s.detector!r} cannot run here: {reason}")
    scaler = cls.tags.scaler if s.scaler == "auto" else s.scaler
    if scaler not in SCALERS:
        raise ConfigError(
            f"The 'scaler' setting must be 'auto' or one of {SCALERS}. Got {s.scaler!r} instead."
        )
    return dict(entry.meta), scaler, specs


def run(
    s: RunSettings, log: Callable[[str], None] = print, found: list[str] | None = None
) -> list[dict[str, Any]]:
    """Run ``s.detector`` on every entity of ``s.dataset``; return the records (new or found).
    The keys of the records found on disk (not re-run) are appended to ``found``."""
    try:
        meta, scaler, specs = prepare(s)
    except Unavailable as exc:
        if not s.record_skips:
            raise
        return [_skipped(s, str(exc), log)]
    # the detector runs here now: an earlier sweep's "cannot run here" record is out of date
    stale = Path(s.results_dir) / store.run_key(_skip_spec(s))
    if (stale / store.RECORD).is_file():
        import shutil

        shutil.rmtree(stale)
    try:
        dataset = load_dataset(s.dataset_loader or s.dataset, s.data_root, **s.dataset_params)
    except (ValueError, TypeError, FileNotFoundError) as exc:
        raise ConfigError(f"Could not load the dataset {s.dataset!r}: {exc}") from None

    from tsadbench.detectors.base import TorchDetector

    torch_run = issubclass(DETECTORS.get(s.detector), TorchDetector)
    records = []
    for entity in dataset.entities:
        det = DETECTORS.create(s.detector, **s.detector_params)
        spec = {
            "detector": {"name": s.detector, "params": det.get_params()},
            "dataset": {
                "name": s.dataset,
                **({"loader": s.dataset_loader} if s.dataset_loader else {}),
                "params": s.dataset_params,
                "entity": entity.name,
                "checksum": entity.checksum,
            },
            "preprocessing": {"scaler": scaler},
            "seed": s.seed,
            "tsadbench": __version__,
        }
        if torch_run:  # torch's sums depend on its thread count: part of what makes the scores
            spec["threads"] = s.threads
        key = store.run_key(spec)
        record = None if s.force else store.read(s.results_dir, key)
        if record is not None and record.get("status") == "ok":
            log(
                f"skipped {s.detector} on {s.dataset}/{entity.name} (seed {s.seed}): "
                f"record {key} exists in {s.results_dir}; force=true re-runs it"
            )
            records.append(_complete_metrics(s, key, record, specs))
            if found is not None:
                found.append(key)
            continue
        records.append(_run_entity(s, det, entity, key, spec, meta, scaler, specs, log))
    return records


def _skip_spec(s: RunSettings) -> dict[str, Any]:
    return {
        "detector": {"name": s.detector, "params": s.detector_params},
        "dataset": {"name": s.dataset, "params": s.dataset_params, "entity": "*"},
        "seed": s.seed,
        "tsadbench": __version__,
    }


def _skipped(s: RunSettings, reason: str, log: Callable[[str], None]) -> dict[str, Any]:
    """The record of a job whose detector cannot run here, written before any data is loaded
    (so it covers every entity of the dataset: ``entity`` is ``*``)."""
    spec = _skip_spec(s)
    record = {
        **spec,
        "key": store.run_key(spec),
        "status": "skipped",
        "error": reason,
        "metrics": dict.fromkeys(s.metrics, float("nan")),
        "environment": environment(),
        "config": s.config,
        **({"command": s.command} if s.command else {}),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    store.write(s.results_dir, record)
    log(f"skipped {s.detector} on {s.dataset}: {reason}")
    return record


def _complete_metrics(
    s: RunSettings, key: str, record: dict[str, Any], specs: list[MetricSpec]
) -> dict[str, Any]:
    """Compute from the stored scores any requested metric the record lacks."""
    missing = [m for m in specs if m.name not in (record.get("metrics") or {})]
    if not missing:
        return record
    _evaluate(missing, store.read_scores(s.results_dir, key), record)
    store.write(s.results_dir, record)
    return record


def _run_entity(
    s: RunSettings,
    det: Any,
    entity: Entity,
    key: str,
    spec: dict[str, Any],
    meta: dict[str, Any],
    scaler: str,
    specs: list[MetricSpec],
    log: Callable[[str], None],
) -> dict[str, Any]:
    record: dict[str, Any] = {
        "key": key,
        "detector": {
            **spec["detector"],
            "faithful": meta.get("faithful", True),
            "deviations": [*meta.get("deviations", ()), *det.setting_deviations()],
            **({} if det.tags.comparable_scores else {"comparable_scores": False}),
        },
        "dataset": {
            **spec["dataset"],
            "n_train": len(entity.train),
            "n_test": len(entity.test),
            "n_channels": entity.train.shape[1],
            "anomaly_ratio": float(entity.labels.mean()),
        },
        # who chose the scaler is recorded but not part of the key: the scores depend on the
        # scaler alone
        "preprocessing": {
            **spec["preprocessing"],
            "chosen_by": "detector (scaler=auto)" if s.scaler == "auto" else "user",
        },
        "seed": s.seed,
        **({"threads": spec["threads"]} if "threads" in spec else {}),
        # why this run is a reduced version of a paper's setting (fewer epochs, signals ...);
        # the report marks it wherever the run's numbers appear
        "reduced": (s.config or {}).get("reduced"),
        "metrics": {m.name: float("nan") for m in specs},
        "metric_params": {m.name: m.describe() for m in specs},
        "time": {},
        "memory": {},
        "n_parameters": None,
        "environment": environment(),
        "config": s.config,
        **({"command": s.command} if s.command else {}),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    log(f"running {s.detector} on {s.dataset}/{entity.name} (seed {s.seed}) ...")
    t_start = time.perf_counter()
    arrays: dict[str, np.ndarray] | None = None
    try:
        reason = det.check_available(entity.train.shape[1])
        if reason:
            record.update(status="skipped", error=reason)
            log(f"skipped {s.detector} on {entity.name}: {reason}")
            store.write(s.results_dir, record)
            return record
        # the scaler's rows: train itself, or the part of train a paper fits it on
        fitted_on = entity.train if entity.scaler_train is None else entity.scaler_train
        transform = fit_scaler(scaler, fitted_on)
        train, test = transform(entity.train), transform(entity.test)
        params = spec["detector"]["params"]
        from tsadbench.metrics import needs_train_energies

        # the Anomaly Transformer's threshold pools the detector's window energies on train
        energies = any(needs_train_energies(m) for m in specs)
        # where the series of a concatenated train split begin (a validation split takes from
        # each); when a scaler_slice is in force they still index the train the detector sees
        segments = entity.meta.get("train_segments")
        if s.isolate:
            out = _isolated(
                s.detector, params, train, test, s.timeout_s, s.threads, energies, segments
            )
        else:
            out = fit_score(s.detector, params, train, test, energies, s.threads, segments)
        test_scores, train_scores = out.pop("test"), out.pop("train")
        channels, train_energies = out.pop("channels"), out.pop("train_energies")
        record["environment"]["gpu"] = out.pop("gpu")
        record["environment"]["versions"].update(out.pop("versions"))
        record["detector"]["provenance"] = out.pop("provenance")
        record.update(out)
        record["throughput"] = {
            "fit_points_per_s": _rate(len(train), record["time"]["fit_s"]),
            "score_points_per_s": _rate(len(test), record["time"]["score_s"]),
        }
        arrays = {"test": test_scores, "train": train_scores, "labels": entity.labels}
        if channels is not None:  # per-channel scores (root cause), stored beside the scores
            arrays["channels"] = channels
            if entity.channel_labels is not None:
                arrays["channel_labels"] = entity.channel_labels
        if train_energies is not None:
            arrays["train_energies"] = train_energies
        t_eval = time.perf_counter()
        _evaluate(specs, arrays, record)
        record["time"]["evaluate_s"] = time.perf_counter() - t_eval
        record["status"] = "ok"
    except RunTimeout as exc:
        record.update(status="timeout", error=str(exc))
        log(f"timeout in {s.detector} on {entity.name}: {exc}")
    except Exception as exc:  # the one broad catch: record the failure, go on
        if isinstance(exc, ChildError):  # already "<Type>: <message>" from the child
            message, tb = str(exc), exc.child_traceback
        else:
            message, tb = f"{type(exc).__name__}: {exc}", traceback.format_exc()
        record.update(status="error", error=message, traceback=tb)
        log(f"error in {s.detector} on {entity.name}: {message}")
    record["time"]["total_s"] = time.perf_counter() - t_start
    store.write(s.results_dir, record, arrays)
    return record


def _rate(points: int, seconds: float) -> float:
    return points / seconds if seconds > 0 else float("nan")


# isolation: each run's fit and score in a child process -----------------------------------
class RunTimeout(RuntimeError):
    """A run went past its ``timeout_s`` and was stopped."""


class ChildError(RuntimeError):
    """The run raised in its child process; the child's traceback travels with it."""

    def __init__(self, message: str, child_traceback: str) -> None:
        super().__init__(message)
        self.child_traceback = child_traceback


def fit_score(
    name: str,
    params: dict[str, Any],
    train: np.ndarray,
    test: np.ndarray,
    energies: bool = False,
    threads: int | None = None,
    segments: list[int] | None = None,
) -> dict[str, Any]:
    """Create, fit and score one detector; returns scores, timings, peak memory (and peak CUDA
    memory when the detector used a GPU), size and the GPU's model. ``energies``: also the
    detector's window energies on train (float32), where it has ``window_energies``.
    ``threads``: torch's thread count for the run (restored after it), None: torch's own.
    ``segments``: where the series of a concatenated train split begin (``fit``'s)."""
    det = DETECTORS.create(name, **params)
    torch = sys.modules.get("torch")  # loaded by the detector's module, if it uses torch
    if torch is None or threads is None:
        return _fit_score(det, train, test, energies, segments)
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return _fit_score(det, train, test, energies, segments)
    finally:
        torch.set_num_threads(before)


def _fit_score(
    det: Any, train: np.ndarray, test: np.ndarray, energies: bool, segments: list[int] | None
) -> dict[str, Any]:
    cuda = _cuda()
    if cuda is not None:
        cuda.reset_peak_memory_stats()
    with peak_rss() as mem:
        t0 = time.perf_counter()
        det.fit(train) if segments is None else det.fit(train, segments=segments)
        t1 = time.perf_counter()
        channels = None
        if det.tags.root_cause:  # per-channel scores too (root cause), in score_s
            test_scores, channels = det.score_with_channels(test)
            channels = channels.astype(np.float32)
        else:
            test_scores = det.score(test)
        t2 = time.perf_counter()
        train_scores = det.score(train)  # for the label-free threshold protocols
        train_energies = None
        if energies and callable(getattr(det, "window_energies", None)):
            train_energies = det.window_energies(train).astype(np.float32)
        t3 = time.perf_counter()
    gpu = None
    if cuda is not None and cuda.max_memory_allocated() > 0:  # the run used the GPU
        mem["peak_cuda_mb"] = round(cuda.max_memory_allocated() / 2**20, 1)
        gpu = cuda.get_device_name()
    return {
        "test": test_scores,
        "train": train_scores,
        "channels": channels,
        "train_energies": train_energies,
        "time": {"fit_s": t1 - t0, "score_s": t2 - t1, "score_train_s": t3 - t2},
        "memory": mem,
        "n_parameters": det.n_parameters(),
        "provenance": det.provenance(),
        "gpu": gpu,
        # the libraries the run loaded (torch is loaded in this process, not the parent's)
        "versions": {
            m: getattr(sys.modules[m], "__version__", None)
            for m in ("torch", "sklearn", "timm")
            if m in sys.modules
        },
    }


def _cuda() -> Any:
    """``torch.cuda`` when the detector's module brought torch in and a GPU is there, else None."""
    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_available():
        return None
    return torch.cuda


THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def _isolated(
    name: str,
    params: dict[str, Any],
    train: np.ndarray,
    test: np.ndarray,
    timeout_s: float | None,
    threads: int | None = None,
    energies: bool = False,
    segments: list[int] | None = None,
) -> dict[str, Any]:
    """``fit_score`` in a fresh Python process: its peak memory is its own, and a run past
    ``timeout_s`` is stopped. Isolation, not scheduling: launchers decide what runs where.

    A plain subprocess (``python -m tsadbench.runner``), not ``multiprocessing``: it works the
    same inside any launcher's worker (loky, submitit, daemonic pools). The job and its result
    travel as pickle files in a private temporary folder.
    """
    import pickle
    import signal
    import tempfile

    env = dict(os.environ)
    if threads is not None:  # read by torch and the BLAS libraries when they load
        env.update(dict.fromkeys(THREAD_VARS, str(threads)))
    with tempfile.TemporaryDirectory(prefix="tsadbench-run-") as tmp:
        job, out = Path(tmp) / "job.pkl", Path(tmp) / "result.pkl"
        job.write_bytes(
            pickle.dumps((name, params, train, test, energies, threads, segments), protocol=5)
        )
        cmd = [sys.executable, "-m", "tsadbench.runner", str(job), str(out), str(os.getpid())]
        proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL)
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            raise RunTimeout(
                f"the run took longer than timeout_s={timeout_s} s and was stopped"
            ) from None
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        if not out.is_file():
            code = proc.returncode
            if code == -signal.SIGINT:  # Ctrl-C reached the run: stop, record nothing
                raise KeyboardInterrupt
            how = (
                f"was killed by signal {signal.Signals(-code).name}"
                if code < 0
                else f"exited with code {code}"
            )
            raise RuntimeError(
                f"the run's process {how} without a result"
                + ("; out of memory?" if code == -signal.SIGKILL else "")
            )
        status, *payload = pickle.loads(out.read_bytes())
    if status == "error":
        raise ChildError(payload[0], payload[1])
    result: dict[str, Any] = payload[0]
    return result


def _child_main(job: str, out: str, parent: int) -> None:
    """The isolated process: run ``fit_score`` on the pickled job, write the pickled result."""
    import pickle

    _die_with_parent(parent)
    try:
        result: tuple[Any, ...] = ("ok", fit_score(*pickle.loads(Path(job).read_bytes())))
    except (Exception, SystemExit) as exc:  # not KeyboardInterrupt: Ctrl-C ends with no result
        result = ("error", f"{type(exc).__name__}: {exc}", traceback.format_exc())
    tmp = Path(out).with_suffix(".tmp")
    tmp.write_bytes(pickle.dumps(result, protocol=5))
    os.replace(tmp, out)


def _die_with_parent(parent: int) -> None:
    """On Linux, ask for SIGKILL when the parent dies (a killed sweep leaves no orphan run)."""
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            return
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)


def evaluate_stored(
    results_dir: str | Path, names: list[str], log: Callable[[str], None] = print
) -> list[dict[str, Any]]:
    """Recompute ``names`` for every finished run under ``results_dir`` from its stored scores
    (nothing is re-trained) and rewrite each record atomically; return the records."""
    from tsadbench.metrics import parse_metric

    try:
        specs = [parse_metric(name) for name in names]
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    updated = []
    for folder in store.record_folders(results_dir):
        record = store.read(folder.parent, folder.name)
        if record is None or record.get("status") != "ok":
            continue
        _evaluate(specs, store.read_scores(folder.parent, folder.name), record)
        store.write(folder.parent, record)
        updated.append(record)
    log(f"re-evaluated {len(updated)} run(s) under {results_dir}")
    return updated


if __name__ == "__main__":  # the isolated process of ``_isolated``
    _child_main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
