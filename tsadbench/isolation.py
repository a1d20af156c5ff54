"""A run's fit and score, measured, in this process or in a child process of its own.

:func:`fit_score` creates, fits and scores one detector and measures it (time per phase, peak
memory, size). :func:`fit_score_isolated` runs it in a fresh Python process: its peak memory is
its own, a run past ``timeout_s`` is stopped, a crash cannot take the sweep down, and the child
dies with its parent. Isolation, not scheduling: launchers decide what runs where.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext, redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from tsadbench.registry import DETECTORS

THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


class RunTimeout(RuntimeError):
    """A run went past its ``timeout_s`` and was stopped."""


class ChildError(RuntimeError):
    """The run raised in its child process; the child's traceback travels with it."""

    def __init__(self, message: str, child_traceback: str) -> None:
        super().__init__(message)
        self.child_traceback = child_traceback


@dataclass
class FitScore:
    """What :func:`fit_score` gives back: the scores and what the run cost."""

    test: NDArray[np.float64]
    train: NDArray[np.float64] | None  # None when the job asked for none
    channels: NDArray[np.float32] | None
    train_energies: NDArray[np.float32] | None
    time: dict[str, float]
    memory: dict[str, float]
    n_parameters: int | None
    provenance: dict[str, Any]
    gpu: str | None = None
    # the libraries the run loaded (torch is loaded in the child, not in the parent)
    versions: dict[str, Any] = field(default_factory=dict)


@dataclass
class Job:
    """One detector's fit and score: what :func:`fit_score` takes (and a child unpickles)."""

    name: str
    params: dict[str, Any]
    train: NDArray[np.float32]
    test: NDArray[np.float32]
    energies: bool = False  # also the detector's window energies on train
    train_scores: bool = True  # also the detector's scores on train (label-free protocols)
    threads: int | None = None  # torch's thread count for the run; None: torch's own
    segments: list[int] | None = None  # where the series of a concatenated train split begin


def fit_score(job: Job) -> FitScore:
    """Create, fit and score one detector; time per phase, peak memory (and peak CUDA memory
    when the detector used a GPU), size and the GPU's model. The detector's window energies on
    train (float32) when ``job.energies`` and its tags declare ``window_energies``. Torch's
    thread count is set for the run and restored after it."""
    det = DETECTORS.create(job.name, **job.params)  # its module imported: before the clock
    for module in det.lazy_imports:  # and what its first fit would import: not the work either
        importlib.import_module(module)
    det.warm_up()  # nor what a first call compiles or loads once per process
    with torch_threads(job.threads):
        return _fit_score(det, job)


@contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Torch's thread count set to ``threads`` while inside, then restored (a torch detector's
    sums depend on it); nothing when torch is not loaded (a detector's module loads it) or
    ``threads`` is None."""
    torch = sys.modules.get("torch")
    if torch is None or threads is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _fit_score(det: Any, job: Job) -> FitScore:
    cuda = _cuda()
    if cuda is not None:
        cuda.reset_peak_memory_stats()
    with peak_rss() as mem:
        t0 = time.perf_counter()
        det.fit(job.train) if job.segments is None else det.fit(job.train, segments=job.segments)
        t1 = time.perf_counter()
        channels = None
        if det.tags.root_cause:  # per-channel scores too (root cause), in score_s
            test_scores, channels = det.score_with_channels(job.test)
            channels = channels.astype(np.float32)
        else:
            test_scores = det.score(job.test)
        t2 = time.perf_counter()
        # for the label-free threshold protocols, only when the metric set (or the user) asks
        train_scores = det.score(job.train) if job.train_scores else None
        train_energies = None
        if job.energies and det.tags.window_energies:
            train_energies = det.window_energies(job.train).astype(np.float32)
        t3 = time.perf_counter()
    gpu = None
    if cuda is not None and cuda.max_memory_allocated() > 0:  # the run used the GPU
        mem["peak_cuda_mb"] = round(cuda.max_memory_allocated() / 2**20, 1)
        gpu = cuda.get_device_name()
    return FitScore(
        test=test_scores,
        train=train_scores,
        channels=channels,
        train_energies=train_energies,
        time={
            "fit_s": t1 - t0,
            "score_s": t2 - t1,
            **({"score_train_s": t3 - t2} if job.train_scores else {}),
        },
        memory=mem,
        n_parameters=det.n_parameters(),
        provenance=det.provenance(),
        gpu=gpu,
        versions={
            m: getattr(sys.modules[m], "__version__", None)
            for m in ("torch", "sklearn", "timm")
            if m in sys.modules
        },
    )


def _cuda() -> Any:
    """``torch.cuda`` when the detector's module brought torch in and a GPU is there, else None."""
    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_available():
        return None
    return torch.cuda


def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        import resource

        scale = 1 if sys.platform == "darwin" else 1024
        return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * scale


@contextmanager
def peak_rss(interval: float = 0.02) -> Iterator[dict[str, float]]:
    """Sample this process's resident memory while the block runs; yields {'peak_rss_mb': ...}.

    The figure is the process's peak RSS during the block (it includes what the process held
    before it, e.g. the interpreter and the data), sampled every ``interval`` seconds.
    """
    out = {"peak_rss_mb": _rss_bytes() / 2**20}
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(interval):
            out["peak_rss_mb"] = max(out["peak_rss_mb"], _rss_bytes() / 2**20)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield out
    finally:
        stop.set()
        thread.join()
        out["peak_rss_mb"] = round(max(out["peak_rss_mb"], _rss_bytes() / 2**20), 1)


@contextmanager
def output_to(path: Path | None) -> Iterator[None]:
    """Send what this process prints (``sys.stdout``, ``sys.stderr``) to the end of the file
    ``path`` while inside; None: leave it where it goes."""
    if path is None:
        yield
        return
    with (
        open(path, "a", buffering=1) as fh,
        redirect_stdout(fh),
        redirect_stderr(fh),
    ):
        yield


def fit_score_isolated(
    job: Job, timeout_s: float | None = None, output: Path | None = None
) -> FitScore:
    """:func:`fit_score` in a process of its own (raises :class:`RunTimeout` past
    ``timeout_s``, :class:`ChildError` with the child's traceback when the run raised); what
    it prints goes to the end of the file ``output`` (None: where this process's goes).

    On Linux the process is forked from a warm server (:class:`_Server`) that has imported
    tsadbench, numpy and, once a run needed them, the detector's module and what its first fit
    imports: a run starts in milliseconds, not in the second Python takes to start and import.
    Elsewhere (or with ``TSADBENCH_FORKSERVER=0``) it is a fresh ``python -m
    tsadbench.isolation``. Either way the run is its own process and session (its peak memory
    is its own; a timeout or an interrupt kills it and whatever it started), it dies with this
    process, and the job and its result travel as pickle files in a private temporary folder.
    Both work the same inside any launcher's worker (loky, submitit, daemonic pools): neither
    uses ``multiprocessing``.
    """
    import pickle
    import tempfile

    with tempfile.TemporaryDirectory(prefix="tsadbench-run-") as tmp:
        job_file, out = Path(tmp) / "job.pkl", Path(tmp) / "result.pkl"
        job_file.write_bytes(pickle.dumps(job, protocol=5))
        if _use_server():
            code = _Server.get(job.threads).run(job, job_file, out, timeout_s, output)
        else:
            code = _run_fresh(job, job_file, out, timeout_s, output)
        if not out.is_file():
            raise _no_result(code)
        status, *payload = pickle.loads(out.read_bytes())
    if status == "error":
        raise ChildError(payload[0], payload[1])
    result: FitScore = payload[0]
    return result


def _use_server() -> bool:
    return sys.platform.startswith("linux") and os.environ.get("TSADBENCH_FORKSERVER") != "0"


def _thread_env(threads: int | None) -> dict[str, str]:
    """This process's environment, with the BLAS and OpenMP thread counts of ``threads`` (read
    by torch and the BLAS libraries when they load)."""
    env = dict(os.environ)
    if threads is not None:
        env.update(dict.fromkeys(THREAD_VARS, str(threads)))
    return env


def _timed_out(timeout_s: float | None) -> RunTimeout:
    return RunTimeout(f"the run took longer than timeout_s={timeout_s} s and was stopped")


def _no_result(code: int) -> BaseException:
    """What to raise when the run's process ended (exit status ``code``) without a result."""
    import signal

    if code == -signal.SIGINT:  # Ctrl-C reached the run: stop, record nothing
        return KeyboardInterrupt()
    how = (
        f"was killed by signal {signal.Signals(-code).name}"
        if code < 0
        else f"exited with code {code}"
    )
    return RuntimeError(
        f"the run's process {how} without a result"
        + ("; out of memory?" if code == -signal.SIGKILL else "")
    )


def _kill_group(pid: int) -> None:
    """SIGKILL the run's process group (the run and whatever it started) and the run itself."""
    import signal

    for kill in (os.killpg, os.kill):
        try:
            kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass  # gone already


def _run_fresh(
    job: Job, job_file: Path, out: Path, timeout_s: float | None, output: Path | None
) -> int:
    """The run in a fresh ``python -m tsadbench.isolation``; its exit status."""
    cmd = [sys.executable, "-m", __name__, str(job_file), str(out), str(os.getpid())]
    with open(output, "ab") if output else nullcontext() as log:
        proc = subprocess.Popen(
            cmd,
            env=_thread_env(job.threads),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT if log else None,
            start_new_session=True,  # its own process group
        )
    try:
        proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        raise _timed_out(timeout_s) from None
    finally:
        _kill_group(proc.pid)
        proc.wait()
    return proc.returncode


class _Server:
    """A warm process that forks one child per run (``python -m tsadbench.isolation --serve``).

    One in each process that runs jobs, started at its first run (and again when the thread
    count or the ``PYTHON*`` environment, which a Python reads as it starts, changes). It imports
    nothing that starts a thread pool or a GPU context before it forks: numpy, tsadbench, and
    per detector its module and ``lazy_imports`` (torch's import starts neither), so each child
    starts as a fresh process would, less the start-up. Requests and answers are JSON lines on
    a socket pair: the parent sends the run (job and result files, output file, environment,
    working folder), the server answers the child's pid at once and its exit status when it
    ends. The server dies with this process (it reads the socket's end, and Linux kills it when
    its parent dies); each child dies with the server.
    """

    _servers: ClassVar[dict[tuple[tuple[str, str], ...], _Server]] = {}

    def __init__(self, env: dict[str, str], key: tuple[tuple[str, str], ...]) -> None:
        import socket

        ours, theirs = socket.socketpair()
        self.owner = os.getpid()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", __name__, "--serve", str(theirs.fileno()), str(self.owner)],
            env=env,
            stdin=subprocess.DEVNULL,
            pass_fds=[theirs.fileno()],
            start_new_session=True,  # a Ctrl-C at the terminal is the parent's to handle
        )
        theirs.close()
        self.sock = ours
        self.buffer = b""
        self.key = key

    @classmethod
    def get(cls, threads: int | None) -> _Server:
        """This process's server for ``threads`` and the environment Python and the libraries
        read as they start (``PYTHON*``, the thread counts); a new one where it died or was
        inherited from the process this one was forked from."""
        env = _thread_env(threads)
        key = tuple(
            sorted((k, v) for k, v in env.items() if k.startswith("PYTHON") or k in THREAD_VARS)
        )
        server = cls._servers.get(key)
        if server is None or server.owner != os.getpid() or server.proc.poll() is not None:
            for old in cls._servers.values():  # one at a time: the others are not needed now
                if old.owner == os.getpid():
                    old.close()
            cls._servers.clear()
            server = cls._servers[key] = cls(env, key)
        return server

    def close(self) -> None:
        """End the server (and a run it may still have)."""
        self.sock.close()
        _kill_group(self.proc.pid)
        self.proc.wait()

    def _send(self, message: dict[str, Any]) -> None:
        import json

        self.sock.sendall(json.dumps(message).encode() + b"\n")

    def _receive(self, deadline: float | None) -> dict[str, Any] | None:
        """The server's next answer; None past ``deadline`` (a ``time.monotonic()`` time)."""
        import json

        while b"\n" not in self.buffer:
            wait = None if deadline is None else deadline - time.monotonic()
            if wait is not None and wait <= 0:
                return None
            self.sock.settimeout(wait)
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError:
                return None
            if not chunk:
                raise RuntimeError("the run's server process ended without an answer")
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        answer: dict[str, Any] = json.loads(line)
        return answer

    def run(
        self,
        job: Job,
        job_file: Path,
        out: Path,
        timeout_s: float | None,
        output: Path | None,
    ) -> int:
        """Run ``job`` in a child of the server; its exit status."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        pid = None
        done = False
        try:
            self._send(
                {
                    "job": str(job_file),
                    "out": str(out),
                    "output": None if output is None else str(output),
                    "warm": _warm_modules(job),
                    "env": _thread_env(job.threads),
                    "cwd": os.getcwd(),
                }
            )
            started = self._receive(None)
            assert started is not None
            pid = int(started["pid"])
            ended = self._receive(deadline)
            if ended is None:
                raise _timed_out(timeout_s)
            done = True
            return int(ended["status"])
        finally:
            if not done:  # a timeout, an interrupt, a broken server: the run and it go
                if pid is not None:
                    _kill_group(pid)
                self.close()
                self._servers.pop(self.key, None)


def _warm_modules(job: Job) -> list[str]:
    """The modules a run of ``job`` loads before its clock starts: the detector's and its
    ``lazy_imports`` (none where the job's settings are wrong: the run says so)."""
    try:
        det = DETECTORS.create(job.name, **job.params)
        return [type(det).__module__, *det.lazy_imports]
    except Exception:  # reported by the run itself
        return []


def _serve(fd: int, parent: int) -> None:
    """The server's loop: fork one child per request, answer its pid and its exit status."""
    import gc
    import json
    import socket

    _die_with_parent(parent)
    sock = socket.socket(fileno=fd)
    reader = sock.makefile("rb")
    for line in reader:
        request = json.loads(line)
        for module in request["warm"]:  # the detector's module, what its first fit imports
            try:
                importlib.import_module(module)
            except Exception:  # the child meets the error again and reports it
                pass
        sys.stdout.flush()
        sys.stderr.flush()
        gc.freeze()  # the child's collections leave the server's objects (and their pages) be
        pid = os.fork()
        if pid == 0:  # the run
            code = 1
            try:
                reader.close()
                sock.close()
                _child_setup(request)
                _child_main(request["job"], request["out"], os.getppid())
                code = 0
            except BaseException:  # set-up failed: say why where the run prints
                traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        sock.sendall(json.dumps({"pid": pid}).encode() + b"\n")
        os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)  # it ended; its pid still held
        _kill_group(pid)  # what the run started ends with it
        _, status = os.waitpid(pid, 0)
        sock.sendall(json.dumps({"status": os.waitstatus_to_exitcode(status)}).encode() + b"\n")


def _child_setup(request: dict[str, Any]) -> None:
    """A forked run starts as a fresh process would: its own session, the parent's
    environment and folder, its output where the parent wants it, numpy's global random state
    drawn anew (a fork copies the server's)."""
    os.setsid()
    os.environ.clear()
    os.environ.update(request["env"])
    os.chdir(request["cwd"])
    if request["output"] is not None:
        fd = os.open(request["output"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.close(fd)
    np.random.seed()  # noqa: NPY002 - the legacy global state is what a fork copies


def _child_main(job: str, out: str, parent: int) -> None:
    """The isolated process: run ``fit_score`` on the pickled job, write the pickled result."""
    import pickle

    _die_with_parent(parent)
    data = Path(job).read_bytes()
    Path(job).unlink()  # the job's data leaves no copy on disk once read
    try:
        result: tuple[Any, ...] = ("ok", fit_score(pickle.loads(data)))
    except (Exception, SystemExit, KeyboardInterrupt) as exc:
        # KeyboardInterrupt too: the run is its own process group, so a user's Ctrl-C never
        # reaches it (the parent kills the group); one raised here is the detector's own error
        result = ("error", f"{type(exc).__name__}: {exc}", traceback.format_exc())
    tmp = Path(out).with_suffix(".tmp")
    tmp.write_bytes(pickle.dumps(result, protocol=5))
    os.replace(tmp, out)


def _die_with_parent(parent: int) -> None:
    """On Linux, ask for SIGKILL when the parent dies (a killed sweep leaves no orphan run)."""
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            return
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)


if __name__ == "__main__":  # the isolated process or the server of ``fit_score_isolated``
    # through the module's imported name, so that what it pickles is
    # ``tsadbench.isolation.FitScore``, which the parent can load, not ``__main__.FitScore``
    from tsadbench import isolation

    if sys.argv[1] == "--serve":
        isolation._serve(int(sys.argv[2]), int(sys.argv[3]))
    else:
        isolation._child_main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
