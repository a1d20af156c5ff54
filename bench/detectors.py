"""Detector cost on synthetic data: fit and score time, peak memory, parameter count.

Each detector runs in its own fresh process, so its peak resident memory is its own (the
figure includes the interpreter and imports, about what a `tsadbench run` job holds).

    python bench/detectors.py                       # all registered detectors, default settings
    python bench/detectors.py --length 20000 --channels 25 memae iforest
    python bench/detectors.py --dataset smd --entity machine-1-2 vanad_lite   # real data
    python bench/detectors.py --mae-windows 16      # VAN-AD's frozen MAE stage: windows/s

    python bench/detectors.py --vs-orion .venv-orion/bin/python   # TadGAN beside Orion's own
    python bench/detectors.py --dataset smd --entity machine-1-2 oraclead dlinear nlinear
    python bench/detectors.py --oraclead-encoder   # vectorised vs one nn.LSTM per variable
    python bench/detectors.py --oraclead-memory    # peak memory: batch 1024, recompute, 256

Detectors whose defaults are a GPU's or a cluster's run at their bench setting here
(``BENCH_SETTINGS``: OracleAD at stride 5 and 10 epochs instead of the paper's 1 and 80).
``--throughput N`` times the Anomaly Transformer's and AMAD's training steps (windows per second,
paper size and cpu setting). ``--set K=V ...`` changes the detectors' settings, e.g. the
Anomaly Transformer on MSL at the cpu setting:
``--dataset msl_concat --entity msl_concat --set d_model=128 stride=10 n_epochs=3``.
``--oraclead-encoder`` times OracleAD's per-variable encoder (2 LSTM layers, d = 64, 9 steps,
a batch of 1024 windows of SMD's 38 variables), forward and backward, in its two computations
(``batched``: one batched product per step over all variables; ``fused``: PyTorch's fused
kernel per variable on views of the stacked weights; the detector uses ``fused`` on CPU and
``batched`` on a GPU) and as the straightforward version, one ``nn.LSTM`` module per variable
looped in Python (the reference, kept here only), on the same weights, with the largest
difference of each from the reference; on the CPU and, when there is one, on a GPU.

``--oraclead-memory`` trains OracleAD at the paper's batch of 1024 windows on the first 10,240
points of SMD ``machine-1-2`` (all 38 variables; ``--entity`` picks another; 2 epochs, stride
1) and scores 2,048 test points, each setting in a process of its own: as it is, with
``recompute=true`` (activation checkpointing: the same scores, which the line checks) and at
batch 256 (a different training, so different scores): peak resident memory, fit seconds and
the largest score difference from the first.

``--vs-orion`` (``make bench-orion`` builds Orion's environment) runs tsadbench's ``tadgan`` and
Orion's TadGAN (TensorFlow, its JSON defaults) on the same windows of NASA ``M-1`` and ``T-4``
(channel 0) and NAB ``realAWSCloudwatch/ec2_cpu_utilization_24ae8d`` (600 s intervals, whole
series, as Orion's pipeline), at ``--epochs`` (5) each, dtw error and mult combination: fit and
score seconds and peak memory of each, in separate processes; tsadbench's critic density step
alone; and Orion's ``score_anomalies`` on tsadbench's reconstructions and critic values, beside
tsadbench's scoring of the same arrays (largest absolute difference, every error × combination).

The VAN-AD line times VAN-AD's frozen stage with the full-size network (ViT-B/16 encoder, 8 × 512
decoder, random weights: the cost does not depend on them) on windows of 100 steps × 38
channels (an SMD machine), both checkerboard passes, in plain PyTorch fp32 on the CPU (and in
bf16 autocast on a GPU when there is one), then again over the same windows, which the cache
answers without running the network.
"""

from __future__ import annotations

import argparse
import ast
import multiprocessing as mp
import resource
import time
from typing import Any

BENCH_SETTINGS: dict[str, dict[str, Any]] = {
    "oraclead": {"stride": 5, "n_epochs": 10},
    # the official SMD script's (the paper's size; MSL: --set d_model=128 stride=10 n_epochs=3)
    "anomaly_transformer": {"stride": 100, "n_epochs": 10},
    "amad": {"stride": 100, "n_epochs": 10},
}


def _measure(
    name: str, length: int, channels: int, source: Any, queue: Any, overrides: dict[str, Any]
) -> None:
    from tsadbench.data import load_dataset
    from tsadbench.data.scaling import fit_scaler
    from tsadbench.registry import DETECTORS, create_detector

    if source is None:
        entity = load_dataset("synthetic", length=length, n_channels=channels).entities[0]
    else:
        from tsadbench.settings import default_data_root

        root = default_data_root()
        entity = load_dataset(source[0], root, entities=[source[1]]).entities[0]
    transform = fit_scaler("zscore", entity.train)
    train, test = transform(entity.train), transform(entity.test)
    params = {p: 0 for p in ("random_state",) if p in DETECTORS.get(name)._param_names()}
    if "device" in DETECTORS.get(name)._param_names():
        params["device"] = "cpu"
    det = create_detector(name, **{**params, **BENCH_SETTINGS.get(name, {}), **overrides})
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
    parser.add_argument("--vs-orion", metavar="PYTHON", help="Orion's python: TadGAN beside it")
    parser.add_argument("--epochs", type=int, default=5, help="--vs-orion: epochs on each side")
    parser.add_argument("--oraclead-encoder", action="store_true", help="see the docstring")
    parser.add_argument("--oraclead-memory", action="store_true", help="see the docstring")
    parser.add_argument(
        "--set", nargs="+", default=[], metavar="K=V", help="detector settings over the bench's"
    )
    parser.add_argument(
        "--throughput", type=int, default=0, metavar="BATCHES", help="see the docstring"
    )
    args = parser.parse_args()
    if args.oraclead_encoder:
        bench_oraclead_encoder()
        return
    if args.oraclead_memory:
        bench_oraclead_memory(args.entity or "machine-1-2")
        return
    if args.throughput:
        bench_throughput(args.throughput)
        return
    if args.vs_orion:
        bench_vs_orion(args.vs_orion, args.epochs)
        return
    if args.mae_windows:
        bench_mae(args.mae_windows)
        return
    names = args.detectors or list_detectors()
    source = (args.dataset, args.entity) if args.dataset else None
    overrides = {}
    for item in args.set:
        key, _, raw = item.partition("=")
        try:
            overrides[key] = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            overrides[key] = raw

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
        proc = ctx.Process(
            target=_measure, args=(name, args.length, args.channels, source, queue, overrides)
        )
        proc.start()
        proc.join()
        if proc.exitcode != 0:
            print(f"{name:<10} failed (exit code {proc.exitcode})")
            continue
        _, fit_s, score_s, peak, n_params = queue.get()
        n_params_txt = "-" if n_params is None else str(n_params)
        print(f"{name:<10} {fit_s:>8.2f} {score_s:>8.2f} {peak:>8.0f} {n_params_txt:>9}")


THROUGHPUT_SETTINGS = {"paper": {"d_model": 512}, "cpu": {"d_model": 128}}


def bench_throughput(n_batches: int, channels: int = 38, batch: int = 256) -> None:
    """Training windows per second of the Anomaly Transformer and AMAD: full minimax steps
    (forward, both phases' backward, Adam) on batches of 256 random windows of 100 × 38 (an
    SMD machine), at the paper size and at the cpu setting; on the CPU and, when there is one,
    on a GPU (bf16 autocast there, ``amp``)."""
    import torch

    from tsadbench.registry import DETECTORS

    rng = torch.Generator().manual_seed(0)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    print(
        f"minimax training steps, batch {batch} windows of 100 x {channels}, best of "
        f"{n_batches} after one warm-up; torch threads {torch.get_num_threads()}"
    )
    print(f"{'detector':<20} {'setting':<7} {'device':<6} {'s/batch':>8} {'windows/s':>10}")
    for name in ("anomaly_transformer", "amad"):
        for setting, params in THROUGHPUT_SETTINGS.items():
            for device in devices:
                det = DETECTORS.create(name, **params, amp=device == "cuda", device=device)
                torch.manual_seed(0)
                module = det._build_module(channels).to(device)
                opt = det._make_optimizer(module)
                x = torch.randn(batch, 100, channels, generator=rng).to(device)
                best = float("inf")
                for i in range(n_batches + 1):
                    if device == "cuda":
                        torch.cuda.synchronize()
                    t0 = time.perf_counter()
                    det._train_step(module, x, opt)
                    if device == "cuda":
                        torch.cuda.synchronize()
                    if i:  # the first is the warm-up
                        best = min(best, time.perf_counter() - t0)
                print(f"{name:<20} {setting:<7} {device:<6} {best:>8.2f} {batch / best:>10.1f}")


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


def bench_oraclead_encoder(batch: int = 1024, n: int = 38, steps: int = 9) -> None:
    """OracleAD's encoder, both computations against a Python loop over ``nn.LSTM`` modules."""
    import torch

    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    print(
        f"OracleAD encoder: {n} variables, batch {batch}, {steps} steps, 2 layers, d=64; "
        f"forward + backward, best of 3; torch threads {torch.get_num_threads()}"
    )
    print(f"{'device':<7} {'impl':<8} {'seconds':>8} {'vs loop':>8} {'max |diff|':>11}")
    for device in devices:
        times, diffs = _encoder_times(device, batch, n, steps)
        for name, t in times.items():
            print(
                f"{device:<7} {name:<8} {t:>8.3f} {times['loop'] / t:>7.2f}x "
                f"{diffs.get(name, 0.0):>11.1e}"
            )


def bench_oraclead_memory(entity: str, train_points: int = 10_240) -> None:
    """OracleAD's training memory at batch 1024, with recomputed activations, at batch 256."""
    import numpy as np

    from tsadbench.data import load_dataset
    from tsadbench.data.scaling import fit_scaler
    from tsadbench.isolation import Job, fit_score_isolated
    from tsadbench.settings import default_data_root

    data = load_dataset("smd", default_data_root(), entities=[entity]).entities[0]
    transform = fit_scaler("zscore", data.train)
    train, test = transform(data.train)[:train_points], transform(data.test)[:2048]
    base = {"n_epochs": 2, "stride": 1, "random_state": 0, "device": "cpu"}
    print(
        f"OracleAD on SMD {entity}: {len(train)} train points x {train.shape[1]} variables, "
        f"{base['n_epochs']} epochs, stride 1; {len(test)} test points; a process per line"
    )
    print(f"{'setting':<22} {'peak MB':>8} {'fit s':>7} {'max |score diff|':>17}")
    first = None
    for label, extra in (
        ("batch 1024", {"batch_size": 1024}),
        ("batch 1024, recompute", {"batch_size": 1024, "recompute": True}),
        ("batch 256", {"batch_size": 256}),
    ):
        job = Job("oraclead", {**base, **extra}, train, test, train_scores=False)
        out = fit_score_isolated(job)
        first = out.test if first is None else first
        diff = float(np.abs(out.test - first).max())
        print(
            f"{label:<22} {out.memory['peak_rss_mb']:>8.0f} {out.time['fit_s']:>7.1f} {diff:>17.3g}"
        )


def _encoder_times(
    device: str, batch: int, n: int, steps: int, hidden: int = 64, layers: int = 2
) -> tuple[dict[str, float], dict[str, float]]:
    import torch
    from torch import nn

    from tsadbench.detectors.oraclead import VariableLSTM

    torch.manual_seed(0)
    stacked = {
        impl: VariableLSTM(n, 1, hidden, layers, impl=impl).to(device)
        for impl in ("batched", "fused")
    }
    stacked["fused"].load_state_dict(stacked["batched"].state_dict())
    loop = nn.ModuleList(
        nn.LSTM(1, hidden, num_layers=layers, batch_first=True) for _ in range(n)
    ).to(device)
    ref = stacked["batched"]
    with torch.no_grad():  # the same weights
        for i, lstm in enumerate(loop):
            for layer in range(layers):
                getattr(lstm, f"weight_ih_l{layer}").copy_(ref.w_ih[layer][i])
                getattr(lstm, f"weight_hh_l{layer}").copy_(ref.w_hh[layer][i])
                getattr(lstm, f"bias_ih_l{layer}").copy_(ref.b_ih[layer][i])
                getattr(lstm, f"bias_hh_l{layer}").copy_(ref.b_hh[layer][i])
    x = torch.randn(n, batch, steps, 1, device=device)
    zeros = torch.zeros(layers, n, batch, hidden, device=device)
    outputs, best = {}, {}
    for name in ("loop", "batched", "fused"):
        best[name] = float("inf")
        for _ in range(3):
            if device == "cuda":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            if name == "loop":
                out = torch.stack([lstm(x[i])[0] for i, lstm in enumerate(loop)])
            else:
                out = stacked[name](x, steps, (zeros, zeros))
            out.square().mean().backward()
            if device == "cuda":
                torch.cuda.synchronize()
            best[name] = min(best[name], time.perf_counter() - t0)
        outputs[name] = out.detach()
    diffs = {
        name: float((outputs[name] - outputs["loop"]).abs().max()) for name in ("batched", "fused")
    }
    return best, diffs


ORION_INPUTS = (
    ("msl", "M-1", {"channels": [0]}),
    ("msl", "T-4", {"channels": [0]}),
    ("nab", "realAWSCloudwatch/ec2_cpu_utilization_24ae8d", {"split": "none", "interval": 600}),
)


def _tadgan_side(path: str, epochs: int, queue: Any) -> None:
    import numpy as np

    from tsadbench.data.windows import windows_to_points
    from tsadbench.detectors.tadgan import COMBINATIONS, ERRORS, TadGAN, score_anomalies

    data = np.load(path)
    det = TadGAN(n_epochs=epochs, random_state=0, device="cpu", error="dtw", comb="mult")
    t0 = time.perf_counter()
    det.fit(data["train"])
    t1 = time.perf_counter()
    det.score(data["test"])
    t2 = time.perf_counter()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    test = data["test"]
    recs, critics = det.reconstruct(test)
    t3 = time.perf_counter()
    windows_to_points(critics, len(test), det.window, 1, how="kde_mode")
    kde_s = time.perf_counter() - t3
    ours = {
        f"scores_{e}_{c}": score_anomalies(test, recs, critics, error=e, comb=c)
        for c in COMBINATIONS
        for e in ERRORS
    }
    y = np.lib.stride_tricks.sliding_window_view(test, det.window, axis=0).transpose(0, 2, 1)
    np.savez(path, **data, y=y, y_hat=recs, critic=critics[:, None], **ours)
    queue.put((t1 - t0, t2 - t1, kde_s, peak_mb))


def bench_vs_orion(orion_python: str, epochs: int) -> None:
    """tsadbench's tadgan beside Orion's TadGAN on the same inputs (see the module docstring)."""
    import json
    import subprocess
    import tempfile

    import numpy as np

    from tsadbench.data import load_dataset
    from tsadbench.data.scaling import fit_scaler
    from tsadbench.settings import default_data_root

    ctx = mp.get_context("spawn")
    folder = tempfile.mkdtemp(prefix="bench-orion-")
    rows, diffs = [], []
    for dataset, entity, params in ORION_INPUTS:
        e = load_dataset(dataset, default_data_root(), entities=[entity], **params).entities[0]
        scale = fit_scaler("minmax_pm1", e.train)
        path = f"{folder}/{dataset}-{entity.replace('/', '_')}.npz"
        np.savez(path, train=scale(e.train), test=scale(e.test), epochs=epochs)
        queue = ctx.Queue()
        proc = ctx.Process(target=_tadgan_side, args=(path, epochs, queue))
        proc.start()
        proc.join()
        if proc.exitcode != 0:
            raise SystemExit(f"tsadbench's tadgan failed on {entity} (exit code {proc.exitcode})")
        fit_s, score_s, kde_s, peak = queue.get()
        out = path.replace(".npz", ".json")
        done = subprocess.run(
            [orion_python, "bench/orion_tadgan.py", path, out],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise SystemExit(f"Orion's TadGAN failed on {entity}:\n{done.stderr[-3000:]}")
        ref = json.loads(open(out).read())
        ref_score = ref["predict_s"] + ref["score_anomalies_s"]
        ours_total, ref_total = fit_s + score_s, ref["fit_s"] + ref_score
        n_test = len(e.test)
        rows.append(
            f"{entity[-28:]:<28} {len(e.train):>6} {n_test:>6} | {fit_s:>7.1f} {score_s:>6.1f} "
            f"{peak:>6.0f} | {ref['fit_s']:>7.1f} {ref_score:>6.1f} {ref['peak_mb']:>6.0f} | "
            f"{ref_total / ours_total:>5.1f}x | {kde_s * 10_000 / n_test:>6.3f}"
        )
        mine = np.load(path)
        worst = max(
            float(np.max(np.abs(mine[k] - np.asarray(ref[k]))))
            for k in ref
            if k.startswith("scores_")
        )
        diffs.append(f"{entity}: {worst:.2e}")
    print(f"TadGAN, {epochs} epochs, window 100, dtw / mult, CPU threads: torch default")
    print(
        f"{'input':<28} {'train':>6} {'test':>6} | {'ours: fit_s':>7} {'score':>6} {'MB':>6} | "
        f"{'Orion: fit_s':>7} {'score':>6} {'MB':>6} | {'ratio':>6} | kde_s/10k"
    )
    print("\n".join(rows))
    print("largest |tsadbench - Orion score_anomalies| on the same arrays (9 combinations):")
    print("  " + "; ".join(diffs))


if __name__ == "__main__":
    main()
