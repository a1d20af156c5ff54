"""``tsadbench run [OVERRIDES...]``: one Hydra entry point for single runs and sweeps."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from tsadbench.record import RunRecord


def run(ctx: typer.Context) -> None:
    """Train and score a detector on a dataset and record the metrics.

    Every argument is a Hydra override, e.g. `detector=memae dataset=synthetic seed=1`,
    `detector.n_epochs=5`, `force=true`; `-m` sweeps comma-separated values
    (`-m detector=iforest,pca seed=0,1`), `--cfg job` prints the composed config, and
    `--hydra-help` lists Hydra's own flags.
    """
    import os
    import signal

    sys.argv = ["tsadbench run", *hydra_argv(ctx.args)]
    # the process every job of a sweep belongs to: a job whose sweep is gone ends itself (set,
    # not defaulted: this process may have inherited another sweep's, e.g. a test runner's)
    os.environ[SWEEP_PARENT] = str(os.getpid())
    # SIGTERM takes the Ctrl-C path: the sweep stops, says so, and ends its jobs and runs
    signal.signal(signal.SIGTERM, _interrupt)
    _hydra_main()


#: Hydra's modes: one per command
_MODES = {"--run": "--run", "-r": "--run", "--multirun": "-m", "-m": "-m", "--cfg": "--cfg",
          "-c": "--cfg", "--info": "--info", "-i": "--info", "--shell-completion": "-sc",
          "-sc": "-sc"}  # fmt: skip


def hydra_argv(args: list[str]) -> list[str]:
    """``args`` with Hydra's flags (and their values) first and the overrides after them, as
    Hydra's parser needs (``detector=x -m seed=0,1`` would lose ``seed=0,1``); two modes at
    once (``-m --cfg job``) are refused in one line."""
    from hydra._internal.utils import get_args_parser

    from tsadbench.cli.console import fail

    takes = {
        opt: (action.nargs, action.choices)
        for action in get_args_parser()._actions
        for opt in action.option_strings
    }
    flags: list[str] = []
    overrides: list[str] = []
    i = 0
    while i < len(args):
        option, has_value = args[i].split("=", 1)[0], "=" in args[i]
        if not args[i].startswith("-") or option not in takes:
            overrides.append(args[i])
            i += 1
            continue
        flags.append(args[i])
        nargs, choices = takes[option]
        follows = args[i + 1] if i + 1 < len(args) and not has_value else None
        if follows is not None and (nargs is None or (nargs == "?" and follows in (choices or ()))):
            flags.append(follows)
            i += 1
        i += 1
    modes = sorted({_MODES[f.split("=", 1)[0]] for f in flags if f.split("=", 1)[0] in _MODES})
    if len(modes) > 1:
        cfg = "-m" in modes and "--cfg" in modes
        hint = " (--cfg prints one job's config: drop -m and the comma lists)" if cfg else ""
        fail(f"tsadbench run takes one of {', '.join(modes)} at a time{hint}.")
    return flags + [_set_or_add(o) for o in overrides]


def _set_or_add(override: str) -> str:
    """``dataset.channels=[0]`` as ``++dataset.channels=[0]`` (set or add) for the settings
    every dataset takes (``data.COMMON_SETTINGS``), and ``detectors.<param>=...`` likewise:
    Hydra would refuse a key that the config composed first (the default dataset, in a sweep)
    does not list."""
    from tsadbench.data import COMMON_SETTINGS

    key, equals, _ = override.partition("=")
    common = key.startswith("dataset.") and key.removeprefix("dataset.") in COMMON_SETTINGS
    if equals and (common or key.startswith("detectors.")):
        return "++" + override
    return override


#: the environment variable holding the pid of the process a sweep's jobs belong to
SWEEP_PARENT = "TSADBENCH_SWEEP_PARENT"


_WATCHING = False  # this process watches its sweep's process already


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _ancestors(depth: int = 4) -> list[int]:
    """This process's parent, grandparent, ... (``depth`` of them, Linux's /proc)."""
    import os

    chain, pid = [], os.getpid()
    for _ in range(depth):
        try:
            pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
        chain.append(pid)
    return chain


def _end_with_the_sweep() -> None:
    """In a sweep's local worker process, end this process as soon as the sweep's own process is
    gone (killed, even with SIGKILL), instead of running queued jobs for no one; the run it may
    be in dies with it (its parent-death signal). A local worker is a direct child of the
    sweep's process (joblib's), or a job of submitit's local executor (``SUBMITIT_EXECUTOR=local``,
    a few processes below the sweep's); such a job that starts after its sweep ended ends at once.
    """
    import os
    import threading

    global _WATCHING
    parent = int(os.environ.get(SWEEP_PARENT) or 0)
    # a job on a cluster (SLURM) runs under the scheduler, on another node: the pid it inherited
    # means nothing there, and it must not take that for its sweep ending
    local = os.environ.get("SUBMITIT_EXECUTOR") == "local"
    if not parent or _WATCHING or not (local or os.getppid() == parent):
        return

    def sweep_alive() -> bool:
        return parent in (_ancestors() if local else [os.getppid()])

    if not sweep_alive():
        os._exit(1)
    _WATCHING = True

    def watch() -> None:
        while sweep_alive():
            threading.Event().wait(0.5)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="tsadbench-sweep-watch").start()


def detector_config(name: str) -> dict[str, Any]:
    """The config of a registered detector built from its ``__init__`` defaults (what a YAML in
    ``conf/detector/`` holds); ``random_state`` and ``device`` follow the top-level settings."""
    import inspect

    from tsadbench.registry import DETECTORS

    cfg: dict[str, Any] = {"name": name}
    for p in list(inspect.signature(DETECTORS.get(name).__init__).parameters.values())[1:]:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        follows = {"random_state": "${seed}", "device": "${device}"}
        default = "???" if p.default is p.empty else p.default  # ??? = Hydra's "must be set"
        cfg[p.name] = follows.get(p.name, default)
    return cfg


def _store_plugin_configs() -> None:
    """Give Hydra a config for each installed plug-in detector (built from its ``__init__``:
    plug-ins ship no YAML), so that ``detector=<name>`` works for them as for ours. Built-in
    detectors each have their YAML (a test checks it) and are not imported here."""
    from hydra.core.config_store import ConfigStore

    from tsadbench.registry import DETECTORS

    for name in sorted(set(DETECTORS.list()) - set(DETECTORS.builtin())):
        ConfigStore.instance().store(group="detector", name=name, node=detector_config(name))


def _hydra_main() -> None:
    import importlib
    import os

    import hydra
    from omegaconf import DictConfig

    from tsadbench import sweep

    importlib.import_module("tsadbench.conf")  # registers the schema config.yaml names (--info)
    _store_plugin_configs()
    register_resolvers()
    sweep.FAILED_JOBS = 0

    @hydra.main(version_base="1.3", config_path="pkg://tsadbench.conf", config_name="config")
    def task(cfg: DictConfig) -> None:
        execute(cfg)

    try:
        task()
    except Exception as exc:  # Hydra's own failures (the task's are reported by Hydra itself)
        if os.environ.get("HYDRA_FULL_ERROR") == "1":
            raise
        from tsadbench.cli.console import fail

        fail(f"Hydra could not start: {exc} (HYDRA_FULL_ERROR=1 shows where)")
    if sweep.FAILED_JOBS:  # a sweep in which a job failed (SweepProgress counted them)
        raise SystemExit(1)


def register_resolvers() -> None:
    """``${tsadbench.detectors:}``: every registered detector, comma-separated (a suite's sweep
    over all of them)."""
    from omegaconf import OmegaConf

    if not OmegaConf.has_resolver("tsadbench.detectors"):
        OmegaConf.register_new_resolver("tsadbench.detectors", _registered_detectors)


def _registered_detectors() -> str:
    from tsadbench.registry import DETECTORS

    return ",".join(DETECTORS.list())


def execute(cfg: Any) -> list[RunRecord]:
    """Run the composed config; print the results table; exit 1 with a message on bad settings.

    In a ``-m`` sweep a job prints nothing (the sweep shows its progress): it logs to ``run.log``
    in its Hydra output folder and writes its status file (``tsadbench.sweep``) there.
    """
    import time

    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    from tsadbench.cli.console import console
    from tsadbench.report import records_table
    from tsadbench.runner import ConfigError, run
    from tsadbench.settings import settings_from_config
    from tsadbench.store import WriteError
    from tsadbench.sweep import job_outcome, write_job_status

    multirun = HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN
    if multirun:
        import os

        from tsadbench.detectors.base import PROGRESS_ENV

        _end_with_the_sweep()
        os.environ[PROGRESS_ENV] = "lines"  # training progress as lines in the job's run.log
    err = console(stderr=True)
    data = cfg.dataset.get("label") or cfg.dataset.name
    label = f"{cfg.detector.name} on {data} (seed {cfg.seed})"
    t0 = time.perf_counter()
    if multirun:
        folder = Path(HydraConfig.get().runtime.output_dir)
        write_job_status(folder, {"state": "running", "label": label})
        logfile = (folder / "run.log").open("a")

        def log(msg: str) -> None:
            print(msg, file=logfile, flush=True)
    else:

        def log(msg: str) -> None:
            err.print(msg, highlight=False, markup=False)

    found: list[str] = []
    try:
        settings = settings_from_config(cfg)
        settings.record_skips = bool(multirun)  # a sweep records what cannot run here
        if multirun:  # what the detector prints goes to the job's log, not over the display
            settings.output = folder / "run.log"
        if HydraConfig.initialized():  # this job's own overrides (a sweep's: one job's)
            settings.command = " ".join(["tsadbench run", *HydraConfig.get().overrides.task])
        records = run(settings, log=log, found=found)
    except Exception as exc:
        if not multirun:
            if not isinstance(exc, (ConfigError, WriteError)):
                raise
            from tsadbench.cli.console import fail

            fail(str(exc))
        # one bad job must not stop the rest of a sweep, nor look as if it still ran
        message = (
            str(exc)
            if isinstance(exc, (ConfigError, WriteError))
            else f"{type(exc).__name__}: {exc}"
        )
        log(f"Error: {message}")
        write_job_status(folder, {"state": "failed", "label": label, "error": message})
        return []
    finally:
        if multirun:
            logfile.close()
    if multirun:
        write_job_status(folder, job_outcome(label, records, time.perf_counter() - t0, found))
        return records
    console().print(records_table(records))
    unfinished = [r for r in records if r.status in ("error", "timeout")]
    if unfinished:  # a script's `tsadbench run ... && tsadbench report` stops here
        counts = ", ".join(
            f"{sum(r.status == s for r in unfinished)} {s}"
            for s in ("error", "timeout")
            if any(r.status == s for r in unfinished)
        )
        err.print(
            f"{len(unfinished)} of {len(records)} run(s) did not finish ({counts}); "
            "their records say why.",
            highlight=False,
            markup=False,
        )
        raise SystemExit(1)
    return records
