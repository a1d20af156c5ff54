"""Sweeps: what a job of ``tsadbench run -m`` tells the sweep, and the sweep's progress display.

Hydra's launchers decide what runs where (joblib workers, submitit processes, SLURM nodes); this
module schedules nothing. Each job writes a small status file, ``job.json``, into its own Hydra
output folder when it starts and when it ends (atomically, so a reader never sees half a file).
``SweepProgress``, a Hydra callback living in the process that launched the sweep, counts those
files: a rich progress display on a terminal (jobs done / failed / remaining, the runs in
progress), one plain line per finished job otherwise. Because it only reads files, it works the
same for every launcher whose jobs share the sweep folder's file system.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hydra.experimental.callback import Callback

if TYPE_CHECKING:
    from tsadbench.record import RunRecord

JOB_FILE = "job.json"
#: jobs of the last sweep of this process that failed (set when it ends): ``tsadbench run -m``
#: then exits 1
FAILED_JOBS = 0


def write_job_status(folder: str | Path, status: Mapping[str, Any]) -> None:
    """Write a job's status file into its output folder, atomically."""
    from tsadbench.store import atomic_write

    atomic_write(Path(folder) / JOB_FILE, json.dumps(dict(status), default=str).encode())


def job_outcome(
    label: str, records: Sequence[RunRecord], seconds: float, found: Sequence[str] = ()
) -> dict[str, Any]:
    """The status file of a finished job: its runs counted by status (``found``: the keys of
    runs that were already recorded and not re-run)."""
    counts: dict[str, int] = {}
    for r in records:
        status = "found" if r.key in found else r.status
        counts[status] = counts.get(status, 0) + 1
    failed = sum(n for s, n in counts.items() if s in ("error", "timeout"))
    return {
        "state": "failed" if failed else "done",
        "label": label,
        "runs": counts,
        "seconds": round(seconds, 1),
    }


def count_jobs(overrides: Sequence[str], params: Mapping[str, Any] | None) -> int | None:
    """The number of jobs the basic sweeper makes of these overrides and ``hydra.sweeper.params``
    (the product of the swept values' counts); None when it cannot be told."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    strings = list(overrides)
    given = {s.split("=", 1)[0].lstrip("+~") for s in strings}
    strings += [f"{k}={v}" for k, v in (params or {}).items() if k.lstrip("+~") not in given]
    try:
        parsed = OverridesParser.create().parse_overrides(strings)
    except Exception:  # a sweeper with its own syntax (Optuna, Ax, ...): no total to show
        return None
    total = 1
    for o in parsed:
        if o.is_sweep_override():
            if o.is_discrete_sweep():
                total *= len(list(o.sweep_string_iterator()))
            else:
                return None
    return total


class SweepProgress(Callback):
    """Hydra callback: the progress of a ``-m`` sweep, read from its jobs' status files."""

    def __init__(self, interval: float = 0.5) -> None:
        self.interval = interval
        self._thread: threading.Thread | None = None

    def __getstate__(self) -> dict[str, Any]:
        # launchers ship the callbacks to their workers: only the settings travel
        return {"interval": self.interval, "_thread": None}

    # Hydra calls these in the launching process
    def on_multirun_start(self, config: Any, **kwargs: Any) -> None:
        from omegaconf import OmegaConf

        self._stop = threading.Event()
        self._seen: dict[str, dict[str, Any]] = {}
        self._reported: set[str] = set()
        self._sweep_dir = Path(config.hydra.sweep.dir)
        try:  # before Hydra's sweeper makes it: a folder that cannot be made is one clear line
            self._sweep_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            from tsadbench.cli.console import fail

            fail(f"Cannot make the sweep's folder {self._sweep_dir} (hydra.sweep.dir): {exc}")
        params = config.hydra.sweeper.get("params")
        params = OmegaConf.to_container(params, resolve=True) if params else {}
        assert isinstance(params, dict)
        self._total = count_jobs(list(config.hydra.overrides.task), params)
        self._t0 = time.perf_counter()
        self._live = sys.stderr.isatty()
        if self._live:
            self._start_display()
        else:
            total = "?" if self._total is None else self._total
            print(f"sweep: {total} jobs, folder {self._sweep_dir}", file=sys.stderr, flush=True)
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def on_multirun_end(self, config: Any, **kwargs: Any) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._poll()
        if self._live:
            self._progress.stop()
        done, failed, _ = self._counts()
        global FAILED_JOBS
        FAILED_JOBS = failed
        print(
            f"sweep finished in {time.perf_counter() - self._t0:.0f} s: {done} jobs, "
            f"{failed} of them with runs that failed; records in {config.results_dir} "
            f"(tsadbench report {config.results_dir})",
            file=sys.stderr,
            flush=True,
        )

    # internals
    def _start_display(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._progress = Progress(
            TextColumn("sweep"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("[red]{task.fields[failed]} failed[/], {task.fields[remaining]} to go"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),  # from the pace of the jobs finished so far
            TextColumn("{task.fields[running]}"),
            # this terminal's stderr, fixed: a run in this process may redirect sys.stderr
            console=Console(file=sys.stderr),
        )
        self._task = self._progress.add_task(
            "sweep", total=self._total, failed=0, remaining=self._total or "?", running=""
        )
        self._progress.start()

    def _watch(self) -> None:
        while not self._stop.wait(self.interval):
            self._poll()

    def _poll(self) -> None:
        for path in self._sweep_dir.glob(f"*/{JOB_FILE}"):
            try:
                self._seen[path.parent.name] = json.loads(path.read_text())
            except (OSError, ValueError):
                continue  # replaced while read: the next poll gets it
        for job, status in sorted(self._seen.items()):
            if status.get("state") in ("done", "failed") and job not in self._reported:
                self._reported.add(job)
                if not self._live:
                    print(self._line(job, status), file=sys.stderr, flush=True)
        if self._live:
            done, failed, _ = self._counts()
            labels = [s.get("label", "?") for s in self._seen.values() if s["state"] == "running"]
            text = f"running: {', '.join(labels[:3])}" + (" ..." if len(labels) > 3 else "")
            remaining = "?" if self._total is None else self._total - done
            self._progress.update(
                self._task,
                completed=done,
                failed=failed,
                remaining=remaining,
                running=text if labels else "",
            )

    def _counts(self) -> tuple[int, int, int]:
        states = [s.get("state") for s in self._seen.values()]
        failed = states.count("failed")
        return failed + states.count("done"), failed, states.count("running")

    def _line(self, job: str, status: Mapping[str, Any]) -> str:
        done = len(self._reported)
        total = "?" if self._total is None else self._total
        runs = ", ".join(f"{n} {s}" for s, n in sorted((status.get("runs") or {}).items()))
        what = status.get("error") or runs
        return (
            f"[{done}/{total}] job {job} {status['state']}: {status.get('label', '?')}: "
            f"{what} ({status.get('seconds', '?')} s){self._eta(done)}"
        )

    def _eta(self, done: int) -> str:
        """``; about N s to go``, from the pace of the jobs finished so far."""
        if self._total is None or not done or done >= self._total:
            return ""
        left = (time.perf_counter() - self._t0) / done * (self._total - done)
        return f"; about {left:.0f} s to go"
