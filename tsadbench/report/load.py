"""Reports, first layer: the run records under a folder as one data frame (one row per
run), and the ``random`` runs a report adds where a dataset lacks its floor."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from tsadbench import store

if TYPE_CHECKING:
    import pandas as pd

    from tsadbench.record import RunRecord


#: what a leaderboard row is: a detector configuration (its hash and, readable, the parameters
#: that differ from the detector's defaults) on one dataset's data
KEYS = ["detector", "config", "params", "dataset", "data"]


def describe_params(detector: str, params: Mapping[str, Any]) -> str:
    """The parameters of a configuration that differ from the detector's defaults, as
    ``window=50, power=1.0`` (``defaults`` when none do; every one for a detector not
    registered here). The seed and the device do not make a configuration."""
    import inspect

    from tsadbench.registry import DETECTORS

    try:
        signature = inspect.signature(DETECTORS.get(detector).__init__).parameters
        defaults = {k: p.default for k, p in signature.items() if p.default is not p.empty}
    except (KeyError, ValueError):
        defaults = {}
    changed = [
        f"{k}={v!r}" if isinstance(v, str) else f"{k}={v}"
        for k, v in params.items()
        if k not in store.NOT_CONFIG and (k not in defaults or defaults[k] != v)
    ]
    return ", ".join(changed) or "defaults"


def with_marks(params: str, config: str) -> str:
    """``params`` with the marks ``load`` puts on a configuration ("(reduced)", "(not
    faithful)"), for where the parameters stand without the hash."""
    _, _, marks = config.partition(" ")
    return f"{params} {marks}" if marks else params


def load(results_dir: str | Path) -> pd.DataFrame:
    """One row per run record under ``results_dir`` (see ``store.flatten`` for the columns)."""
    found = [
        (r, str(f))
        for f in store.record_folders(results_dir)
        if (r := store.read(f.parent, f.name)) is not None
    ]
    if not found:
        raise ValueError(f"No run records (record.json) found under {results_dir}.")
    return records_frame(found)


def records_frame(records: Iterable[tuple[RunRecord, str]]) -> pd.DataFrame:
    """One row per (record, the folder it came from, or "")."""
    import pandas as pd

    rows = [
        {
            **store.flatten(r),
            "params": describe_params(r.detector.name, r.detector.params),
            "folder": folder,
        }
        for r, folder in records
    ]
    frame: pd.DataFrame = pd.DataFrame(rows)
    # a reduced run (fewer epochs than the paper's ...) is never mistaken for the full setting:
    # its configuration says so in every table
    reduced = frame["reduced"].notna() & (frame["reduced"].astype(str) != "")
    frame.loc[reduced, "config"] = frame.loc[reduced, "config"] + " (reduced)"
    # nor is a detector that does not follow its paper (a reconstruction, a lite variant)
    unfaithful = frame["faithful"].eq(False)
    frame.loc[unfaithful, "config"] = frame.loc[unfaithful, "config"] + " (not faithful)"
    return frame


def paper_blocks(config: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """The ``paper:`` blocks (``detector``, ``source``, ``scores``) a run's config (its suite)
    carried."""
    given = (config or {}).get("paper")
    return [
        p
        for p in (given if isinstance(given, list) else [given])
        if isinstance(p, dict) and p.get("detector") and p.get("scores")
    ]


def add_random_runs(
    runs: pd.DataFrame, results_dir: str | Path, log: Callable[[str], None] = print
) -> int:
    """Run the ``random`` detector on every dataset × seed of ``runs`` that lacks it (same data
    settings, the union of the metric sets), so that each threshold-dependent column can show
    what noise scores under its protocol. Returns the number of runs made; a dataset that cannot
    be loaded here is logged and skipped."""
    from tsadbench.runner import run
    from tsadbench.settings import ConfigError, RunSettings, default_data_root

    have = set(
        map(tuple, runs.loc[runs["detector"] == "random", ["dataset", "data", "seed"]].values)
    )
    metric_names = [c.removeprefix("metric/") for c in runs.columns if c.startswith("metric/")]
    made = 0
    for key, group in runs.groupby(["dataset", "data", "seed"]):
        dataset, data, seed = cast(tuple[str, str, int], key)
        if (dataset, data, seed) in have:
            continue
        record = store.read(Path(group["folder"].iloc[0]).parent, group["key"].iloc[0])
        if record is None:
            continue
        config = record.config or {}
        settings = RunSettings(
            detector="random",
            detector_params={"random_state": int(seed)},
            dataset=str(dataset),
            dataset_loader=record.dataset.loader,
            dataset_params=dict(record.dataset.params),
            metrics=metric_names,
            seed=int(seed),
            results_dir=Path(results_dir),
            data_root=Path(config["data_root"]) if config.get("data_root") else default_data_root(),
            isolate=False,
        )
        try:
            made += len(run(settings, log=lambda _msg: None))
            log(f"ran the random detector on {dataset} (data {data}, seed {seed})")
        except ConfigError as exc:
            log(f"no random baseline for {dataset} (data {data}, seed {seed}): {exc}")
    return made
