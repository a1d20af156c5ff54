"""Orion's own TadGAN on prepared windows: the reference side of ``bench/detectors.py
--vs-orion``. Runs in Orion's environment only (``make bench-orion``), never imported by
tsadbench.

    <orion-python> bench/orion_tadgan.py IN.npz OUT.json

``IN.npz``: ``train`` and ``test`` (n, 1) float series already scaled to [-1, 1], ``epochs``;
optionally ``y``, ``y_hat``, ``critic`` (windows, reconstructions, critic values from
tsadbench), which Orion's ``score_anomalies`` then scores too, for the equivalence check.
``OUT.json``: fit and score seconds, peak resident memory, and those scores.
"""

from __future__ import annotations

import json
import resource
import sys
import time

import numpy as np


def windows(x: np.ndarray, size: int = 100) -> np.ndarray:
    # Orion's rolling_window_sequences with step 1 leaves the last point out; the benchmark
    # times the same windows on both sides, so it keeps every window here.
    view = np.lib.stride_tricks.sliding_window_view(x, size, axis=0)  # (n - size + 1, C, size)
    return np.ascontiguousarray(view.transpose(0, 2, 1)).astype(np.float64)


def main() -> None:
    from mlblocks import MLBlock
    from orion.primitives.tadgan import score_anomalies

    data = np.load(sys.argv[1])
    out: dict[str, object] = {}
    train, test = windows(data["train"]), windows(data["test"])
    block = MLBlock("orion.primitives.tadgan.TadGAN", epochs=int(data["epochs"]), verbose=False)
    t0 = time.perf_counter()
    block.fit(X=train, y=train)
    t1 = time.perf_counter()
    y_hat, critic = block.produce(X=test, y=test)
    t2 = time.perf_counter()
    index = np.arange(len(test))
    score_anomalies(test, y_hat, critic, index, rec_error_type="dtw", comb="mult")
    t3 = time.perf_counter()
    out.update(fit_s=t1 - t0, predict_s=t2 - t1, score_anomalies_s=t3 - t2)
    if "y_hat" in data:
        for comb in ("mult", "sum", "rec"):
            for error in ("point", "area", "dtw"):
                scores = score_anomalies(
                    data["y"],
                    data["y_hat"],
                    data["critic"],
                    np.arange(len(data["y"])),
                    rec_error_type=error,
                    comb=comb,
                )[0]
                out[f"scores_{error}_{comb}"] = np.asarray(scores, dtype=float).tolist()
    out["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with open(sys.argv[2], "w") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main()
