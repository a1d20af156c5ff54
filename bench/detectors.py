"""Detector cost on synthetic data: fit and score time, peak memory, parameter count.

Each detector runs in its own fresh process, so its peak resident memory is its own (the
figure includes the interpreter and imports, about what a `tsadbench run` job holds).

    python bench/detectors.py                       # all registered detectors, default settings
    python bench/detectors.py --length 20000 --channels 25 memae iforest
    python bench/detectors.py --dataset smd --entity machine-1-2 vanad_lite   # real data
    python bench/detectors.py --mae-windows 16      # VAN-AD's frozen MAE stage: windows/s

The last one times VAN-AD's frozen stage with the full-size network (ViT-B/16 encoder, 8 × 512
decoder, random weights: the cost does not depend on them) on windows of 100 steps × 38
channels (an SMD machine), both checkerboard passes, in plain PyTorch fp32 on the CPU (and in
bf16 autocast on a GPU when there is one), then again over the same windows, which the cache
answers without running the network.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import time
from typing import Any


def _measure(name: str, length: int, channels: int, source: Any, queue: Any) -> None:
    from tsadbench.data import load_dataset
    from tsadbench.data.scaling import fit_scaler
    from tsadbench.registry import DETECTORS, create_detector

    if source is None:
        entity = load_dataset("synthetic", length=length, n_channels=channels).entities[0]
    else:
        from tsadbench.runner import default_data_root

        root = default_data_root()
        entity = load_dataset(source[0], root, entities=[source[1]]).entities[0]
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
    parser.add_argument("--dataset", help="a real dataset instead (with --entity; $TSADBENCH_DATA)")
    parser.add_argument("--entity", help="the entity of --dataset, e.g. machine-1-2")
    parser.add_argument("--mae-windows", type=int, default=0, help="time VAN-AD's MAE stage")
    args = parser.parse_args()
    if args.mae_windows:
        bench_mae(args.mae_windows)
        return
    names = args.detectors or list_detectors()
    source = (args.dataset, args.entity) if args.dataset else None

    ctx = mp.get_context("spawn")
    if source:
        print(f"{args.dataset} entity {args.entity}")
    else:
        print(
            f"synthetic: {args.length} train + {args.length} test steps, {args.channels} channels"
        )
    print(f"{'detector':<10} {'fit_s':>8} {'score_s':>8} {'peak_MB':>8} {'params':>9}")
    for name in names:
        queue = ctx.Queue()
        proc = ctx.Process(target=_measure, args=(name, args.length, args.channels, source, queue))
        proc.start()
        proc.join()
        if proc.exitcode != 0:
            print(f"{name:<10} failed (exit code {proc.exitcode})")
            continue
        _, fit_s, score_s, peak, n_params = queue.get()
        n_params_txt = "-" if n_params is None else str(n_params)
        print(f"{name:<10} {fit_s:>8.2f} {score_s:>8.2f} {peak:>8.0f} {n_params_txt:>9}")


def bench_mae(n_windows: int) -> None:
    """Windows per second of VAN-AD's frozen stage at full size, then from the cache."""
    import os
    import tempfile

    import numpy as np
    import torch

    from tsadbench.detectors.vanad import MAE, VANAD

    os.environ["TSADBENCH_CACHE"] = tempfile.mkdtemp(prefix="bench-mae-")
    windows = np.random.default_rng(0).normal(size=(n_windows, 100, 38)).astype(np.float32)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    threads = torch.get_num_threads()
    print(f"VAN-AD MAE stage, {n_windows} windows of 100 x 38, two passes, {threads} threads")
    print(f"{'device':<8} {'precision':<10} {'first_s':>8} {'windows/s':>10} {'cached_s':>9}")
    for device in devices:
        precision = "bf16" if device == "cuda" else "fp32"
        det = VANAD(device=device, batch_size=32, precision=precision)
        det.device_ = device
        torch.manual_seed(0)
        det.mae_ = MAE().to(device).eval()
        det.mae_hash_ = f"bench-{device}"
        if device == "cuda":
            det._run_mae(windows[:32])  # warm-up
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        det._reconstruct(windows)
        if device == "cuda":
            torch.cuda.synchronize()
        t1 = time.perf_counter()
        det._reconstruct(windows)
        t2 = time.perf_counter()
        rate = n_windows / (t1 - t0)
        print(f"{device:<8} {precision:<10} {t1 - t0:>8.2f} {rate:>10.1f} {t2 - t1:>9.3f}")


if __name__ == "__main__":
    main()
