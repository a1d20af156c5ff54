"""Metric speed: tsadbench against the reference implementations, in the same run.

Input (as in ``../shared/research/metrics.md`` §10): n points, 1 % anomalous in 50 equal
segments, scores ``labels + N(0, 0.5)`` (``default_rng(7)``), VUS / R-AUC window 100. Every call
runs in a fresh process, so the peak memory it reports (growth of the process's max RSS during
the call) is its own. tsadbench runs at n = 10^4, 10^5, 10^6; the references at 10^4 and 10^5,
capped at 300 s per call, and at 10^6 only VUS (the others take many minutes there).

    python bench/metrics.py --refs-python .venv-refs/bin/python    # `make bench` does this
    python bench/metrics.py --sizes 10000 --no-refs                # tsadbench only

The references live in their own environment (`make bench-refs`); this script runs in
tsadbench's and calls that one's python for the reference rows.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

# name -> (tsadbench metric names, reference call, note on the comparison)
TASKS: dict[str, tuple[list[str], str, str]] = {
    "auc_roc": (["auc_roc"], "sklearn.roc_auc_score", "same definition"),
    "auc_pr": (["auc_pr"], "sklearn.average_precision_score", "same definition"),
    "vus_roc+vus_pr": (["vus_roc", "vus_pr"], "TSB-AD generate_curve opt", "same definition"),
    "r_auc_roc+r_auc_pr": (["r_auc_roc", "r_auc_pr"], "vus RangeAUC", "same definition"),
    "f1@oracle": (["f1@oracle"], "TSB-AD metric_PointF1", "ref adds 1e-5 to the denominator"),
    "pa_f1@oracle": (
        ["pa_f1@oracle"],
        "TSB-AD metric_PointF1PA",
        "ref: 100-point value grid; ours: exact search",
    ),
    "event_f1@oracle": (
        ["event_f1@oracle"],
        "TSB-AD metric_EventF1PA",
        "ref: 100-point value grid; ours: exact search",
    ),
    "range_f1@oracle": (
        ["range_f1@oracle"],
        "TSB-AD metric_RF1",
        "ref: 100-point value grid; ours: 250 rank-quantile thresholds",
    ),
    "affiliation_f1@oracle": (
        ["affiliation_f1@oracle"],
        "TSB-AD metric_Affiliation",
        "ref: 100-point value grid; ours: 250 rank-quantile thresholds",
    ),
    "pate": (["pate"], "PATE package (e = d = 100)", "same definition"),
    "default set": (
        [],
        "TSB-AD get_metrics (9 metrics)",
        "ours: conf/metrics/default.yaml ({n} metrics)",
    ),
}
REF_SIZES_ALL = (10_000, 100_000)
REF_SIZES_VUS_ONLY = (1_000_000,)
CAP_S = 300

WORKER = r"""
import json, resource, sys, time, warnings
import numpy as np
warnings.filterwarnings("ignore")
task, impl, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
names = json.loads(sys.argv[4])
rng = np.random.default_rng(7)
y = np.zeros(n, dtype=np.int64)
seg = n // 100 // 50
for start in np.linspace(0, n - seg - 1, 50).astype(int):
    y[start:start + seg] = 1
s = y + rng.normal(0, 0.5, n)
train = rng.normal(0, 0.5, n)  # the detector's scores on a normal train split
if impl == "tsadbench":
    from tsadbench.metrics import evaluate
    evaluate(y[:1000], s[:1000], names, train)   # imports and first-call costs out of the timing
    call = lambda: evaluate(y, s, names, train)
else:
    from sklearn.metrics import average_precision_score, roc_auc_score
    from TSB_AD.evaluation.basic_metrics import basic_metricor, generate_curve
    from TSB_AD.evaluation.metrics import get_metrics
    from vus.utils.metrics import metricor
    g = basic_metricor()
    call = {
        "auc_roc": lambda: roc_auc_score(y, s),
        "auc_pr": lambda: average_precision_score(y, s),
        "vus_roc+vus_pr": lambda: generate_curve(y, s, 100, "opt", 250)[-2:],
        "r_auc_roc+r_auc_pr": lambda: metricor().RangeAUC(y, s, window=100, plot_ROC=True)[:2],
        "f1@oracle": lambda: g.metric_PointF1(y, s),
        "pa_f1@oracle": lambda: g.metric_PointF1PA(y, s),
        "event_f1@oracle": lambda: g.metric_EventF1PA(y, s),
        "range_f1@oracle": lambda: g.metric_RF1(y, s),
        "affiliation_f1@oracle": lambda: g.metric_Affiliation(y, s),
        "default set": lambda: get_metrics(s, y, slidingWindow=100),
        "pate": lambda: __import__("pate.PATE_metric", fromlist=["PATE"]).PATE(y, s, 100, 100),
    }[task]
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t0 = time.perf_counter()
call()
seconds = time.perf_counter() - t0
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": seconds, "peak_mb": (after - before) / 1024}))
"""


def measure(python: str, task: str, impl: str, n: int, names: list[str]) -> dict[str, float] | str:
    try:
        done = subprocess.run(
            [python, "-c", WORKER, task, impl, str(n), json.dumps(names)],
            capture_output=True,
            text=True,
            timeout=CAP_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return f"> {CAP_S} s"
    if done.returncode != 0:
        return "failed: " + (done.stderr.strip().splitlines() or ["?"])[-1][:60]
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--refs-python",
        default=".venv-refs/bin/python",
        help="python of the reference environment (make bench-refs)",
    )
    parser.add_argument("--no-refs", action="store_true", help="time tsadbench only")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--tasks", nargs="+", choices=list(TASKS), help="default: all")
    args = parser.parse_args()
    if not args.no_refs and not Path(args.refs_python).exists():
        sys.exit(
            f"No reference environment at {args.refs_python}: run `make bench-refs` "
            f"or pass --no-refs."
        )

    from importlib.resources import files

    import yaml

    default_yaml = files("tsadbench.conf") / "metrics" / "default.yaml"
    default_set = yaml.safe_load(default_yaml.read_text())["names"]
    header = (
        f"{'metric':<20} {'n':>9} {'tsadbench s':>12} {'MB':>6} {'reference s':>12} "
        f"{'MB':>6} {'speed-up':>9}  reference / note"
    )
    print(header)
    print("-" * len(header))
    for task, (names, ref_name, note) in TASKS.items():
        if args.tasks and task not in args.tasks:
            continue
        names = names or default_set
        note = note.format(n=len(names))
        for n in args.sizes:
            ours = measure(sys.executable, task, "tsadbench", n, names)
            run_ref = not args.no_refs and (
                n in REF_SIZES_ALL or (n in REF_SIZES_VUS_ONLY and task == "vus_roc+vus_pr")
            )
            ref = measure(args.refs_python, task, "reference", n, names) if run_ref else None
            o_s = f"{ours['seconds']:.3f}" if isinstance(ours, dict) else ours
            o_m = f"{ours['peak_mb']:.0f}" if isinstance(ours, dict) else ""
            if isinstance(ref, dict):
                r_s, r_m = f"{ref['seconds']:.3f}", f"{ref['peak_mb']:.0f}"
                ratio = f"{ref['seconds'] / ours['seconds']:.0f}x" if isinstance(ours, dict) else ""
            else:
                r_s, r_m, ratio = (ref or "not run"), "", ""
            if isinstance(ref, str) and isinstance(ours, dict) and ref.startswith(">"):
                ratio = f"> {CAP_S / ours['seconds']:.0f}x"
            print(
                f"{task:<20} {n:>9} {o_s:>12} {o_m:>6} {r_s:>12} {r_m:>6} {ratio:>9}  "
                f"{ref_name}; {note}",
                flush=True,
            )


if __name__ == "__main__":
    main()
