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


def _hydra_main() -> None:
    import hydra
    from omegaconf import DictConfig

    @hydra.main(version_base=None, config_path="pkg://tsadbench.conf", config_name="config")
    def task(cfg: DictConfig) -> None:
        execute(cfg)

    task()


def execute(cfg: Any) -> list[dict[str, Any]]:
    """Run the composed config; print the results table; exit 1 with a message on bad settings."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode
    from rich.console import Console

    from tsadbench.report import records_table
    from tsadbench.runner import ConfigError, run, settings_from_config

    err = Console(stderr=True)
    try:
        records = run(settings_from_config(cfg), log=lambda msg: err.print(msg, highlight=False))
    except ConfigError as exc:
        err.print(f"[bold red]Error:[/] {exc}", highlight=False)
        if HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN:
            return []  # one bad job must not stop the rest of a sweep
        raise SystemExit(1) from None
    Console().print(records_table(records))
    return records
