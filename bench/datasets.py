"""Dataset loading time and memory: every registered real dataset present under the data root.

TSADBENCH_DATA=../shared/data python bench/datasets.py
"""

from __future__ import annotations

import resource
import time

from tsadbench.data import load_dataset
from tsadbench.registry import list_datasets
from tsadbench.settings import default_data_root


def main() -> None:
    root = default_data_root()
    print(f"data root: {root}")
    print(f"{'dataset':<12} {'entities':>8} {'seconds':>8} {'array MB':>9} {'RSS growth MB':>14}")
    for name in list_datasets():
        if name in ("synthetic", "csv"):  # generated, or needs a user file
            continue
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        start = time.perf_counter()
        try:
            ds = load_dataset(name, root)
        except FileNotFoundError:
            print(f"{name:<12} not under the data root")
            continue
        seconds = time.perf_counter() - start
        size = sum(e.train.nbytes + e.test.nbytes + e.labels.nbytes for e in ds.entities)
        growth = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
        print(
            f"{name:<12} {len(ds.entities):>8} {seconds:>8.2f} {size / 2**20:>9.1f} {growth:>14.1f}"
        )
        del ds


if __name__ == "__main__":
    main()
