"""What isolation costs: one sweep over many series, run three ways side by side — in this
process (``isolate=false``), each run forked from the warm server (``isolate=true``, the default
on Linux) and each run in a fresh Python (``TSADBENCH_FORKSERVER=0``, the way elsewhere). It
prints the wall time, the detector's work summed over the runs (fit + score, which must agree
across the three) and the overhead per run: (wall - in-process wall) / runs.

TSADBENCH_DATA=../shared/data python bench/isolation.py            # iforest, every NAB series
TSADBENCH_DATA=../shared/data python bench/isolation.py ae nab realKnownCause
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

from tsadbench.runner import RunSettings, run
from tsadbench.settings import default_data_root

MODES = {  # name: (isolate, TSADBENCH_FORKSERVER)
    "in-process": (False, "1"),
    "fork server": (True, "1"),
    "fresh python": (True, "0"),
}


def measure(detector: str, dataset: str, family: str | None, mode: str) -> dict[str, float]:
    isolate, server = MODES[mode]
    os.environ["TSADBENCH_FORKSERVER"] = server
    params = {"n_epochs": 2} if detector in ("ae", "memae", "dlinear", "nlinear") else {}
    with tempfile.TemporaryDirectory() as results:
        settings = RunSettings(
            detector=detector,
            detector_params=params,
            dataset=dataset,
            dataset_params={"families": [family]} if family else {},
            metrics=["auc_pr"],
            seed=0,
            results_dir=Path(results),
            data_root=default_data_root(),
            isolate=isolate,
        )
        start = time.perf_counter()
        records = run(settings, log=lambda _msg: None)
        wall = time.perf_counter() - start
    return {
        "runs": len(records),
        "wall_s": wall,
        "work_s": sum(r.time["fit_s"] + r.time["score_s"] for r in records),
        "peak_mb": max(r.memory["peak_rss_mb"] for r in records),
    }


def main() -> None:
    detector, dataset, family = [*sys.argv[1:], "iforest", "nab", None][:3]
    where = f"{dataset}" + (f" ({family})" if family else "")
    print(f"{detector} on {where}: one sweep each way, 2 cores")
    print(
        f"{'mode':<13} {'runs':>5} {'wall s':>8} {'work s':>8} {'overhead/run s':>15} "
        f"{'max peak MB':>12}"
    )
    base = None
    for mode in MODES:
        m = measure(detector, dataset, family, mode)
        base = m["wall_s"] if base is None else base
        overhead = (m["wall_s"] - base) / m["runs"]
        print(
            f"{mode:<13} {m['runs']:>5.0f} {m['wall_s']:>8.2f} {m['work_s']:>8.2f} "
            f"{overhead:>15.3f} {m['peak_mb']:>12.1f}"
        )


if __name__ == "__main__":
    main()
