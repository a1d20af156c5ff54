"""Detector cost on synthetic data: fit and score time, peak memory, parameter count.

Each detector runs in its own fresh process, so its peak resident memory is its own (the
figure includes the interpreter and imports, about what a `tsadbench run` job holds).

    python bench/detectors.py                       # all registered detectors, default settings
    python bench/detectors.py --length 20000 --channels 25 memae iforest
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import time
from typing import Any


def _measure(name: str, length: int, channels: int, queue: Any) -> None:
    from tsadbench.data import load_dataset
    from tsadbench.data.scaling import fit_scaler
    from tsadbench.registry import DETECTORS, create_detector

    entity = load_dataset("synthetic", length=length, n_channels=channels).entities[0]
    transform = fit_scaler("zscore", entity.train)
    train, test = transform(entity.train), transform(entity.test)
    params = {p: 0 for p in ("random_state",) if p in DETECTORS.get(name)._param_names()}
    if "device" in DETECTORS.get(name)._param_names():
        params["device"] = "cpu"
    det = create_detector(name, **params)
    t0 = time.perf_counter()
    det.fit(train)
    t1 = time.perf_counter()
    det.score(test)
    t2 = time.perf_counter()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    queue.put((name, t1 - t0, t2 - t1, peak_mb, det.n_parameters()))


def main() -> None:
    from tsadbench.registry import list_detectors

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("detectors", nargs="*", help="default: every registered detector")
    parser.add_argument("--length", type=int, default=2000, help="train and test length")
    parser.add_argument("--channels", type=int, default=5)
    args = parser.parse_args()
    names = args.detectors or list_detectors()

    ctx = mp.get_context("spawn")
    print(f"synthetic: {args.length} train + {args.length} test steps, {args.channels} channels")
    print(f"{'detector':<10} {'fit_s':>8} {'score_s':>8} {'peak_MB':>8} {'params':>9}")
    for name in names:
        queue = ctx.Queue()
        proc = ctx.Process(target=_measure, args=(name, args.length, args.channels, queue))
        proc.start()
        proc.join()
        if proc.exitcode != 0:
            print(f"{name:<10} failed (exit code {proc.exitcode})")
            continue
        _, fit_s, score_s, peak, n_params = queue.get()
        n_params_txt = "-" if n_params is None else str(n_params)
        print(f"{name:<10} {fit_s:>8.2f} {score_s:>8.2f} {peak:>8.0f} {n_params_txt:>9}")


if __name__ == "__main__":
    main()
