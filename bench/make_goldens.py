"""Write tests/golden/reference.json: the reference packages' values on the shared cases.

Runs in the reference environment (``make goldens`` builds it: TSB-AD, vus, tadpak, ...), never
in tsadbench's own. The tests compare tsadbench with these values.

    .venv-refs/bin/python bench/make_goldens.py
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "golden"))

import cases  # noqa: E402

WINDOWS = (100, 7)
PA_K = (0, 20, 50)
EXHAUSTIVE_MAX_N = 2000  # exhaustive best-PA searches call tadpak once per distinct score
PATE_MAX_N = 2000  # the package's continuous PATE takes minutes on the longer cases


def references(y: np.ndarray, s: np.ndarray) -> dict[str, float]:
    from pate.PATE_metric import PATE
    from prts import ts_precision, ts_recall
    from sklearn.metrics import f1_score, precision_recall_curve
    from tadpak.pak import pak
    from TSB_AD.evaluation.affiliation.generics import convert_vector_to_events
    from TSB_AD.evaluation.affiliation.metrics import pr_from_events
    from TSB_AD.evaluation.basic_metrics import basic_metricor, generate_curve
    from vus.utils.metrics import metricor  # what vus.metrics.get_metrics('range_auc') calls

    grader = basic_metricor()
    out: dict[str, float] = {
        "tsbad.AUC-ROC": grader.metric_ROC(y, s),
        "tsbad.AUC-PR": grader.metric_PR(y, s),
        "tsbad.Standard-F1": grader.metric_PointF1(y, s),
    }
    for w in WINDOWS:
        curve = generate_curve(y, s, w, "opt", 250)
        out[f"tsbad.VUS-ROC.W{w}"], out[f"tsbad.VUS-PR.W{w}"] = curve[-2], curve[-1]
        r = metricor().RangeAUC(labels=y, score=s, window=w, plot_ROC=True)
        out[f"vus.R-AUC-ROC.W{w}"], out[f"vus.R-AUC-PR.W{w}"] = r[0], r[1]

    # exhaustive best point F1 over every distinct score (no epsilon; 0/0 -> 0)
    p, r, _ = precision_recall_curve(y, s)
    f = np.divide(2 * p * r, p + r, out=np.zeros_like(p), where=(p + r) > 0)
    out["exhaustive.best-F1"] = float(f.max())

    pred = cases.top_predictions(s)
    for k in PA_K:
        out[f"tadpak.PA-K{k}-F1@pred"] = f1_score(y, pak(pred, y, 0.5, k=k))
    out["tsbad.Event-F1@pred"] = grader.metric_EventF1PA(y, s, preds=pred)
    out["tsbad.R-based-F1@pred"] = grader.metric_RF1(y, s, preds=pred)
    aff = pr_from_events(convert_vector_to_events(pred), convert_vector_to_events(y), (0, len(y)))
    out["affiliation.precision@pred"] = aff["Affiliation_Precision"]
    out["affiliation.recall@pred"] = aff["Affiliation_Recall"]
    out["tsbad.Affiliation-F@pred"] = grader.metric_Affiliation(y, s, preds=pred)
    for bias in ("flat", "front", "back", "middle"):
        for card in ("one", "reciprocal"):
            key = f"{bias}.{card}"
            out[f"prts.precision.{key}@pred"] = ts_precision(
                y, pred, alpha=0.0, cardinality=card, bias=bias
            )
            out[f"prts.recall.{key}@pred"] = ts_recall(
                y, pred, alpha=0.2, cardinality=card, bias=bias
            )
    out["tsbad.PA-F1@pred"] = grader.metric_PointF1PA(y, s, preds=pred)
    # TSB-AD's own threshold searches (100 value-uniform thresholds), for compat="tsbad"
    out["tsbad.PA-F1"] = grader.metric_PointF1PA(y, s)
    out["tsbad.Event-based-F1"] = grader.metric_EventF1PA(y, s)
    out["tsbad.R-based-F1"] = grader.metric_RF1(y, s)
    out["tsbad.Affiliation-F"] = grader.metric_Affiliation(y, s)

    out["pate.PATE-F1.e100.d100@pred"] = PATE(y, pred, 100, 100, binary_scores=True)
    out["pate.PATE-F1.e7.d30@pred"] = PATE(y, pred, 7, 30, binary_scores=True)
    if len(s) <= PATE_MAX_N:  # the package's continuous PATE is slow (371 s at n = 100,000)
        out["pate.PATE.e100.d100"] = PATE(y, s, 100, 100)
        out["pate.PATE.e20.d5"] = PATE(y, s, 20, 5)

    if len(s) <= EXHAUSTIVE_MAX_N:  # predictions {s > t} over t in {-inf} U distinct scores
        grid = np.r_[-np.inf, np.unique(s)]
        for k in (0, 20):
            best = max(f1_score(y, pak(s, y, t, k=k), zero_division=0) for t in grid)
            out[f"tadpak.best-PA-K{k}-F1-exhaustive"] = best
    return {k: float(v) for k, v in out.items()}


def main() -> None:
    import importlib.metadata as md
    import logging

    warnings.filterwarnings("ignore")
    logging.disable(logging.CRITICAL)  # PATE configures INFO logging when imported
    golden = {
        "generated_by": "bench/make_goldens.py",
        "packages": {
            p: md.version(p) for p in ("TSB-AD", "vus", "tadpak", "numpy", "scikit-learn")
        },
        "cases": {},
    }
    for name, y, s in cases.cases():
        golden["cases"][name] = {"checksum": cases.checksum(y, s), "values": references(y, s)}
        print(name, flush=True)
    path = ROOT / "tests" / "golden" / "reference.json"
    path.write_text(json.dumps(golden, indent=1, sort_keys=True) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
