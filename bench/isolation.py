"""What isolation costs: the same runs in a child process each (``isolate=true``, the default)
and in this process, side by side — the recorded ``fit_s`` / ``score_s`` (the detector's work,
which must agree) and the wall time per run (where the child's start-up shows).

TSADBENCH_DATA=../shared/data python bench/isolation.py        # iforest on NAB's realKnownCause
TSADBENCH_DATA=../shared/data python bench/isolation.py ae nab realAWSCloudwatch
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from tsadbench.runner import RunSettings, run
from tsadbench.settings import default_data_root


def measure(detector: str, dataset: str, family: str, isolate: bool) -> dict[str, float]:
    params = {"n_epochs": 2} if detector in ("ae", "memae", "dlinear", "nlinear") else {}
    with tempfile.TemporaryDirectory() as results:
        settings = RunSettings(
            detector=detector,
            detector_params=params,
            dataset=dataset,
            dataset_params={"families": [family]} if dataset == "nab" else {},
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
        "fit_s": statistics.median(r.time["fit_s"] for r in records),
        "score_s": statistics.median(r.time["score_s"] for r in records),
        "wall_per_run_s": wall / len(records),
    }


def main() -> None:
    defaults = ["iforest", "nab", "realKnownCause"]
    detector, dataset, family = [*sys.argv[1:], *defaults[len(sys.argv) - 1 :]][:3]
    print(f"{detector} on {dataset} ({family}), medians per run")
    print(f"{'isolate':<8} {'runs':>5} {'fit_s':>8} {'score_s':>8} {'wall/run s':>11}")
    for isolate in (False, True):
        m = measure(detector, dataset, family, isolate)
        print(
            f"{str(isolate).lower():<8} {m['runs']:>5.0f} {m['fit_s']:>8.3f} {m['score_s']:>8.3f} "
            f"{m['wall_per_run_s']:>11.3f}"
        )


if __name__ == "__main__":
    main()
