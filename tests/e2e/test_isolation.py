"""The isolated run's process: forked from a warm server on Linux, a fresh Python elsewhere (or
with TSADBENCH_FORKSERVER=0). Either way a run is its own process and session, with the
parent's environment and folder, its own peak memory and random state, and a timeout kills it
and what it started."""

from __future__ import annotations

import os
import signal
import time

import numpy as np
import pytest

from tsadbench import isolation
from tsadbench.isolation import ChildError, Job, RunTimeout, fit_score_isolated

PROBE = """
import os, subprocess, sys, time
import numpy as np
from tsadbench.detectors import BaseDetector
from tsadbench.registry import register_detector

np.random.random()  # a module that draws at import: the server's global state is set

@register_detector("probe")
class Probe(BaseDetector):
    def __init__(self, *, mb=0, sleep=0.0, spawn=None, fail=False, say=None, warm=0.0):
        self.mb, self.sleep, self.spawn, self.fail, self.say = mb, sleep, spawn, fail, say
        self.warm = warm

    def warm_up(self):  # a JIT compiler's first compilation, say
        time.sleep(self.warm)
        self.warmed_ = True

    def _fit(self, X):
        if self.say:
            print(self.say, "on stdout")
            print(self.say, "on stderr", file=sys.stderr)
        if self.fail:
            raise ValueError("the probe was told to fail")
        if self.mb:
            self.block_ = np.ones(self.mb * 2**17)  # mb MiB, touched
        if self.spawn:  # a process of the detector's own; its pid where the test looks
            child = subprocess.Popen(["sleep", "300"])
            with open(self.spawn, "w") as fh:
                fh.write(str(child.pid))
        time.sleep(self.sleep)

    def _score(self, X):
        return X[:, 0].astype(np.float64)

    def provenance(self):
        return {
            "pid": os.getpid(),
            "sid": os.getsid(0),
            "var": os.environ.get("PROBE_VAR"),
            "omp": os.environ.get("OMP_NUM_THREADS"),
            "cwd": os.getcwd(),
            "draw": float(np.random.random()),
            "warmed": getattr(self, "warmed_", False),
        }
"""

X = np.zeros((64, 1), dtype=np.float32)


@pytest.fixture(params=["server", "fresh"])
def mode(request, tmp_path, monkeypatch):
    """The probe detector registered in every process (sitecustomize), with either way of
    starting a run; each test gets servers of its own."""
    if request.param == "server" and not isolation._use_server():
        pytest.skip("the fork server is Linux's")
    (tmp_path / "probe_mod.py").write_text(PROBE)
    (tmp_path / "sitecustomize.py").write_text("import probe_mod\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("TSADBENCH_FORKSERVER", "1" if request.param == "server" else "0")
    monkeypatch.setattr(isolation._Server, "_servers", {})
    import probe_mod  # noqa: F401  (registers it here too)

    yield request.param
    for server in isolation._Server._servers.values():
        server.close()


def _probe(**params) -> dict:
    return fit_score_isolated(Job("probe", params, X, X)).provenance


def test_each_run_is_a_process_and_session_of_its_own(mode):
    first, second = _probe(), _probe()
    assert first["pid"] != os.getpid() and first["pid"] != second["pid"]
    assert first["sid"] == first["pid"] and second["sid"] == second["pid"]
    assert first["draw"] != second["draw"]  # numpy's global state drawn anew, not inherited


def test_a_run_sees_the_parents_environment_and_folder_as_they_are_now(mode, tmp_path, monkeypatch):
    _probe()  # a server started before the change
    monkeypatch.setenv("PROBE_VAR", "now")
    monkeypatch.chdir(tmp_path)
    got = _probe()
    assert got["var"] == "now" and got["cwd"] == str(tmp_path)
    # and the thread counts of the job's `threads`, which the libraries it loads read
    threaded = fit_score_isolated(Job("probe", {}, X, X, threads=3)).provenance
    assert threaded["omp"] == "3" and threaded["var"] == "now"


def test_a_runs_peak_memory_is_its_own(mode):
    big = fit_score_isolated(Job("probe", {"mb": 300}, X, X)).memory["peak_rss_mb"]
    small = fit_score_isolated(Job("probe", {}, X, X)).memory["peak_rss_mb"]
    assert big >= small + 250  # the 300 MiB block shows in its run and not in the next


def test_a_timeout_kills_the_run_and_what_it_started_and_the_next_run_works(mode, tmp_path):
    pid_file = tmp_path / "spawned.pid"
    with pytest.raises(RunTimeout, match="timeout_s=1"):
        fit_score_isolated(Job("probe", {"sleep": 60, "spawn": str(pid_file)}, X, X), 1)
    spawned = int(pid_file.read_text())
    deadline = time.monotonic() + 10
    while _alive(spawned) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(spawned)
    assert _probe()["pid"] > 0


def test_a_failing_run_reports_its_error_and_the_next_run_works(mode):
    with pytest.raises(ChildError, match="the probe was told to fail"):
        _probe(fail=True)
    assert _probe()["pid"] > 0


def test_a_server_that_died_between_runs_is_replaced(mode):
    _probe()
    if mode == "fresh":
        assert not isolation._Server._servers  # no server where none is used
        return
    (server,) = isolation._Server._servers.values()
    os.kill(server.proc.pid, signal.SIGKILL)
    server.proc.wait()
    assert _probe()["pid"] > 0
    (replacement,) = isolation._Server._servers.values()
    assert replacement is not server


def test_what_a_run_prints_goes_to_its_output_file(mode, tmp_path):
    log = tmp_path / "run.log"
    log.write_text("before\n")
    with pytest.raises(ChildError):
        fit_score_isolated(Job("probe", {"fail": True, "say": "first"}, X, X), output=log)
    fit_score_isolated(Job("probe", {"say": "second"}, X, X), output=log)
    lines = log.read_text().splitlines()
    assert lines[0] == "before"  # appended to, never overwritten
    for line in ("first on stdout", "first on stderr", "second on stdout", "second on stderr"):
        assert line in lines


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split()[2] != "Z"
    except OSError:
        return False


def test_what_a_run_started_ends_with_it(mode, tmp_path):
    pid_file = tmp_path / "spawned.pid"
    _probe(spawn=str(pid_file))
    spawned = int(pid_file.read_text())
    deadline = time.monotonic() + 10
    while _alive(spawned) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(spawned)


def test_a_detectors_warm_up_is_done_before_the_clock_starts(mode):
    """What a first call compiles once per process (stumpy's and PyOD's numba functions) is not
    the run's work: the probe's warm-up sleeps a second, its fit and score take milliseconds."""
    from tsadbench.isolation import fit_score

    for out in (
        fit_score_isolated(Job("probe", {"warm": 1.0}, X, X)),
        fit_score(Job("probe", {"warm": 1.0}, X, X)),
    ):
        assert out.provenance["warmed"] and out.time["fit_s"] + out.time["score_s"] < 0.9
