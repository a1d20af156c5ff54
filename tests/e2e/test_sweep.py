"""Sweeps through Hydra's launchers: every job writes its own record, a re-run skips finished
runs, and a sweep killed midway loses nothing that was finished."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tsadbench import store

# 2 detectors x 2 datasets (two seeded synthetic series) x 2 seeds = 8 jobs of ~1 s each
GRID = [
    "detector=iforest,pca",
    "dataset.random_state=0,1",
    "seed=0,1",
    "dataset.length=1000",
    "dataset.n_anomalies=4",
    "dataset.n_channels=2",
    "metrics.names=[auc_pr,vus_pr,f1@oracle]",
]


def sweep(results: Path, *extra: str, **kwargs):
    cmd = [sys.executable, "-m", "tsadbench", "run", "-m", *GRID, f"results_dir={results}", *extra]
    return subprocess.run(cmd, capture_output=True, text=True, check=False, **kwargs)


def job_files(results: Path) -> list[dict]:
    """The status files of the latest sweep under ``results``."""
    latest = sorted((results / ".hydra" / "multirun").iterdir())[-1]
    return [json.loads(p.read_text()) for p in sorted(latest.glob("*/job.json"))]


def assert_intact(results: Path) -> list[str]:
    """Every record on disk parses and has its complete scores beside it; return the keys."""
    keys = []
    for folder in store.record_folders(results):
        record = store.read(folder.parent, folder.name)
        assert record.status == "ok", record.error
        scores = store.read_scores(folder.parent, folder.name)
        assert scores.test.shape == scores.labels.shape == (record.dataset.n_test,)
        assert np.isfinite(scores.test).all()
        keys.append(folder.name)
    return keys


@pytest.mark.slow  # over 5 s on 2 cores: `make test-slow`
@pytest.mark.parametrize("launcher", ["local", "submitit_local"])
def test_a_2x2x2_sweep_runs_and_a_rerun_skips_all_8(tmp_path, launcher):
    done = sweep(tmp_path, f"hydra/launcher={launcher}", "n_jobs=2")
    assert done.returncode == 0, done.stderr
    assert len(assert_intact(tmp_path)) == 8
    jobs = job_files(tmp_path)
    assert [j["runs"] for j in jobs] == [{"ok": 1}] * 8
    assert "[8/8]" in done.stderr  # one plain progress line per job when not on a terminal

    records = [store.read(f.parent, f.name) for f in store.record_folders(tmp_path)]
    for r in records:  # provenance and resource accounting
        assert r.config["detector"]["name"] == r.detector.name
        assert r.config["seed"] == r.seed
        assert r.environment["cpu"] and r.environment["versions"]["numpy"]
        assert r.environment["versions"]["sklearn"]  # loaded by the run's own process
        assert r.throughput["score_points_per_s"] > 0
        assert r.time["evaluate_s"] >= 0 and r.memory["peak_rss_mb"] > 0

    again = sweep(tmp_path, f"hydra/launcher={launcher}", "n_jobs=2")
    assert again.returncode == 0, again.stderr
    assert [j["runs"] for j in job_files(tmp_path)] == [{"found": 1}] * 8
    assert len(assert_intact(tmp_path)) == 8


# A plug-in detector whose fit waits until the test releases it: the kill lands while a run is
# in progress, at the same point every time, however busy the machine is.
HELD = """
import os, time
from pathlib import Path
import numpy as np
from tsadbench.detectors import BaseDetector, register_detector

@register_detector("held")
class Held(BaseDetector):
    \"\"\"Waits in fit until the file 'release' appears in $TSADBENCH_TEST_HOLD.\"\"\"

    def __init__(self, *, random_state=None):
        self.random_state = random_state

    def _fit(self, X):
        folder = Path(os.environ["TSADBENCH_TEST_HOLD"])
        (folder / "started").touch()
        while not (folder / "release").exists():
            time.sleep(0.02)

    def _score(self, X):
        return np.abs(X).sum(axis=1)
"""


@pytest.fixture
def held(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """The 'held' plug-in installed into a folder of its own; the environment that loads it."""
    plugins, hold = tmp_path / "plugins", tmp_path / "hold"
    (plugins / "tsadbench_held-0.dist-info").mkdir(parents=True)
    hold.mkdir()
    (plugins / "tsadbench_held.py").write_text(HELD)
    (plugins / "tsadbench_held-0.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: tsadbench-held\nVersion: 0\n"
    )
    (plugins / "tsadbench_held-0.dist-info" / "entry_points.txt").write_text(
        "[tsadbench.detectors]\nheld = tsadbench_held\n"
    )
    path = os.pathsep.join(filter(None, [str(plugins), os.environ.get("PYTHONPATH")]))
    return hold, {**os.environ, "PYTHONPATH": path, "TSADBENCH_TEST_HOLD": str(hold)}


@pytest.mark.slow  # over 5 s on 2 cores: `make test-slow`
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["SIGKILL", "SIGINT"])
def test_a_sweep_killed_midway_keeps_every_finished_record_and_resumes(tmp_path, held, sig):
    # 4 iforest jobs, then 4 of the held detector: the first held run waits for the signal
    hold, env = held
    results = tmp_path / "results"
    grid = ["detector=iforest,held", *GRID[1:], f"results_dir={results}"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "tsadbench", "run", "-m", *grid],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: the kill reaches workers and runs
        env=env,
    )
    try:
        deadline = time.monotonic() + 120
        while not (hold / "started").exists():
            assert proc.poll() is None, "the sweep ended before the held run started"
            assert time.monotonic() < deadline, "the held run did not start"
            time.sleep(0.02)
    finally:
        os.killpg(proc.pid, sig)  # the whole group, as a terminal's Ctrl-C or a kill -9 of a job
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            pytest.fail(f"the sweep was still running 60 s after {sig.name}")
    if sig == signal.SIGINT:
        assert proc.returncode == 130  # Ctrl-C: the sweep stops at once and says so
    time.sleep(0.5)  # a run the kill did not stop would write its record now
    finished = assert_intact(results)
    assert len(finished) == 4, "the four iforest runs, and nothing of the interrupted one"
    stamps = {k: (results / k / "record.json").stat().st_mtime_ns for k in finished}

    (hold / "release").touch()
    done = subprocess.run(
        [sys.executable, "-m", "tsadbench", "run", "-m", *grid, "n_jobs=2"],
        capture_output=True, text=True, check=False, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    runs = [j["runs"] for j in job_files(results)]
    assert runs.count({"found": 1}) == 4 and runs.count({"ok": 1}) == 4
    assert len(assert_intact(results)) == 8
    # the finished records were read, not rewritten
    assert {k: (results / k / "record.json").stat().st_mtime_ns for k in finished} == stamps


def test_a_failing_job_does_not_stop_the_sweep(tmp_path):
    # knn with more neighbours than training windows raises in fit: status error, sweep goes on
    cmd = [
        sys.executable, "-m", "tsadbench", "run", "-m", "detector=knn,iforest",
        "++detector.n_neighbors=5000", f"results_dir={tmp_path}", "dataset.length=1000",
        "dataset.n_anomalies=4", "metrics.names=[auc_pr]",
    ]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert done.returncode == 1, done.stderr  # the sweep ran on, and its status says it failed
    jobs = {j["label"].split()[0]: j for j in job_files(tmp_path)}
    assert jobs["knn"]["state"] == "failed" and jobs["knn"]["runs"] == {"error": 1}
    assert jobs["iforest"]["state"] == "failed"  # iforest has no n_neighbors: a config error
    assert "has no parameter" in jobs["iforest"]["error"]
    assert "1 of them" not in done.stderr and "2 of them with runs that failed" in done.stderr


def test_count_jobs_matches_sweeper_keys_given_with_a_plus():
    from tsadbench.sweep import count_jobs

    assert count_jobs([], {"+suite/x/family": "a,b,c", "seed": "0,1"}) == 6
    # the command line names the same key: it replaces the swept values
    assert count_jobs(["+suite/x/family=a"], {"+suite/x/family": "a,b,c"}) == 1


def _descendants(pid: int) -> set[int]:
    """Every living process below ``pid`` (read from /proc)."""
    children: dict[int, list[int]] = {}
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(proc.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _alive(pids: set[int]) -> set[int]:
    alive = set()
    for pid in pids:
        try:
            state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":  # a zombie has ended; only its parent's wait is missing
            alive.add(pid)
    return alive


@pytest.mark.slow  # over 5 s on 2 cores: `make test-slow`
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
@pytest.mark.parametrize("launcher", ["local", "submitit_local"])
def test_killing_only_the_sweeps_process_ends_every_job_and_run(tmp_path, held, sig, launcher):
    """kill -9 or kill -TERM of the sweep's own process (not its group): its workers (joblib's
    or submitit's local processes) and their runs end within 10 s instead of running queued
    jobs for no one; a rerun completes exactly the missing runs."""
    hold, env = held
    results = tmp_path / "results"
    grid = ["detector=held,iforest", *GRID[1:], f"results_dir={results}", "n_jobs=2"]
    grid.append(f"hydra/launcher={launcher}")
    proc = subprocess.Popen(
        [sys.executable, "-m", "tsadbench", "run", "-m", *grid],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not (hold / "started").exists():
            assert proc.poll() is None, "the sweep ended before the held run started"
            assert time.monotonic() < deadline, "the held run did not start"
            time.sleep(0.02)
        below = _descendants(proc.pid)
        assert below, "the sweep has workers"
    finally:
        proc.send_signal(sig)
        proc.wait(timeout=60)
    if sig == signal.SIGTERM:
        assert proc.returncode == 130  # the Ctrl-C path
    deadline = time.monotonic() + 10
    while _alive(below) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(below), "processes of the killed sweep still running 10 s later"
    (hold / "release").touch()
    done = subprocess.run(
        [sys.executable, "-m", "tsadbench", "run", "-m", *grid],
        capture_output=True, text=True, check=False, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert len(assert_intact(results)) == 8


def test_a_sweep_over_datasets_takes_the_common_dataset_settings(tmp_path):
    # `dataset.channels=[0]` across datasets: Hydra composes the default dataset (synthetic,
    # which lists no channels) first; every dataset takes the common settings all the same
    root = tmp_path / "data" / "PSM"
    root.mkdir(parents=True)
    rng = np.random.default_rng(0)
    header = "timestamp_(min)," + ",".join(f"feature_{i}" for i in range(3))
    for split, n in (("train", 300), ("test", 200)):
        rows = [f"{i}," + ",".join(f"{v:.4f}" for v in rng.normal(size=3)) for i in range(n)]
        (root / f"{split}.csv").write_text("\n".join([header, *rows]) + "\n")
    labels = ["1" if 120 <= i < 130 else "0" for i in range(200)]
    (root / "test_label.csv").write_text("timestamp_(min),label\n" + "\n".join(
        f"{i},{y}" for i, y in enumerate(labels)) + "\n")  # fmt: skip
    cmd = [
        sys.executable, "-m", "tsadbench", "run", "-m", "detector=iforest",
        "dataset=synthetic,psm", "dataset.channels=[0]", "dataset.nan=zero",
        "metrics.names=[auc_pr]", f"data_root={tmp_path / 'data'}", f"results_dir={tmp_path}",
    ]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    records = {r.dataset.name: r for r in store.iter_records(tmp_path)}
    assert set(records) == {"synthetic", "psm"}
    assert all(r.status == "ok" and r.dataset.n_channels == 1 for r in records.values())
    assert records["psm"].dataset.params["channels"] == [0]


@pytest.mark.slow  # over 5 s on 2 cores: `make test-slow`
def test_a_mixed_sweep_sets_few_epochs_for_the_detectors_that_train(tmp_path):
    cmd = [
        sys.executable, "-m", "tsadbench", "run", "-m", "detector=iforest,ae",
        "detectors.n_epochs=1", "dataset.length=600", "dataset.n_anomalies=3",
        "metrics.names=[auc_pr]", f"results_dir={tmp_path}",
    ]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    params = {r.detector.name: r.detector.params for r in store.iter_records(tmp_path)}
    assert params["ae"]["n_epochs"] == 1 and "n_epochs" not in params["iforest"]


def test_the_sweeps_plain_lines_give_an_eta_from_the_finished_jobs():
    from tsadbench.sweep import SweepProgress

    progress = SweepProgress()
    progress._total, progress._t0 = 4, time.perf_counter() - 10.0  # 2 jobs done in 10 s
    progress._reported = {"0", "1"}
    line = progress._line("1", {"state": "done", "label": "pca on msl (seed 0)", "seconds": 5})
    assert line.startswith("[2/4] job 1 done: pca on msl (seed 0)")
    assert line.endswith("; about 10 s to go")
    progress._reported = {"0", "1", "2", "3"}
    assert "to go" not in progress._line("3", {"state": "done", "label": "x", "seconds": 1})
