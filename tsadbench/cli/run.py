"""``tsadbench run [OVERRIDES...]``: one Hydra entry point for single runs and sweeps."""

from __future__ import annotations

import sys
from typing import Any

import typer


def run(ctx: typer.Context) -> None:
    """Train and score a detector on a dataset and record the metrics.

    Every argument is a Hydra override, e.g. `detector=memae dataset=synthetic seed=1`,
    `detector.n_epochs=5`, `force=true`; `-m` sweeps comma-separated values
    (`-m detector=iforest,pca seed=0,1`), `--cfg job` prints the composed config, and
    `--hydra-help` lists Hydra's own flags.
    """
    sys.argv = ["tsadbench run", *ctx.args]
    _hydra_main()


def detector_config(name: str) -> dict[str, Any]:
    """The config of a registered detector built from its ``__init__`` defaults (what a YAML in
    ``conf/detector/`` holds); ``random_state`` and ``device`` follow the top-level settings."""
    import inspect

    from tsadbench.registry import DETECTORS

    cfg: dict[str, Any] = {"_target_": "tsadbench.registry.create_detector", "name": name}
    for p in list(inspect.signature(DETECTORS.get(name).__init__).parameters.values())[1:]:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        follows = {"random_state": "${seed}", "device": "${device}"}
        default = "???" if p.default is p.empty else p.default  # ??? = Hydra's "must be set"
        cfg[p.name] = follows.get(p.name, default)
    return cfg


def _store_plugin_configs() -> None:
    """Give Hydra a config for each detector that has no YAML (installed plug-ins), so that
    ``detector=<name>`` works for them as for ours."""
    from importlib.resources import files

    from hydra.core.config_store import ConfigStore

    from tsadbench.registry import DETECTORS

    shipped = files("tsadbench.conf") / "detector"
    for name in DETECTORS.list():
        if not (shipped / f"{name}.yaml").is_file():
            ConfigStore.instance().store(group="detector", name=name, node=detector_config(name))


def _hydra_main() -> None:
    import hydra
    from omegaconf import DictConfig

    _store_plugin_configs()

    @hydra.main(version_base=None, config_path="pkg://tsadbench.conf", config_name="config")
    def task(cfg: DictConfig) -> None:
        execute(cfg)

    task()


def execute(cfg: Any) -> list[dict[str, Any]]:
    """Run the composed config; print the results table; exit 1 with a message on bad settings."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    from tsadbench.report import console, records_table
    from tsadbench.runner import ConfigError, run, settings_from_config

    err = console(stderr=True)
    try:
        records = run(settings_from_config(cfg), log=lambda msg: err.print(msg, highlight=False))
    except ConfigError as exc:
        err.print(f"[bold red]Error:[/] {exc}", highlight=False, soft_wrap=True)
        if HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN:
            return []  # one bad job must not stop the rest of a sweep
        raise SystemExit(1) from None
    console().print(records_table(records))
    return records
