"""Issue 23: bad settings get one clear line before any data is loaded, errors print as text,
an interrupted run leaves none of its data behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hydra import compose, initialize_config_module
from omegaconf import OmegaConf

from tsadbench.data.files import select, select_channels
from tsadbench.settings import ConfigError, RunSettings, Unavailable, prepare, settings_from_config


def _compose(*overrides: str):
    with initialize_config_module(config_module="tsadbench.conf", version_base=None):
        return compose(config_name="config", overrides=["results_dir=/tmp/x", *overrides])


def test_a_parameter_without_a_default_is_a_config_error_naming_it():
    cfg = _compose("detector=pca")
    OmegaConf.update(cfg, "detector.window", "???")  # what a plug-in's required parameter gives
    with pytest.raises(ConfigError, match=r"'detector\.window' must be given .*detector\.window="):
        settings_from_config(cfg)


def test_a_timeout_without_isolation_is_refused():
    with pytest.raises(ConfigError, match="'timeout_s' setting needs isolate=true"):
        settings_from_config(_compose("isolate=false", "timeout_s=5"))


def _settings(device: str) -> RunSettings:
    return RunSettings(
        detector="ae",
        detector_params={"device": device},
        dataset="synthetic",
        dataset_params={},
        metrics=["auc_pr"],
        seed=0,
        results_dir=Path("/tmp/x"),
        data_root=Path("/tmp/x"),
    )


def test_a_bad_device_is_refused_before_any_data():
    with pytest.raises(ConfigError, match=r"'device'.*'auto', 'cpu' or 'cuda\[:i\]'.*'tpu'"):
        prepare(_settings("tpu"))
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is visible here")
    with pytest.raises(Unavailable, match="device='cuda' was asked for but no CUDA GPU"):
        prepare(_settings("cuda"))


def test_error_text_is_printed_as_text_not_markup(capsys):
    from tsadbench.cli.console import fail

    with pytest.raises(SystemExit) as exit_:
        fail("train_slice must be [start, stop]; got [/b] and [bold]")
    assert exit_.value.code == 1
    err = " ".join(capsys.readouterr().err.split())
    assert "must be [start, stop]; got [/b] and [bold]" in err


def test_one_entity_or_channel_given_alone_is_a_list_of_one():
    names = ["machine-1-1", "machine-1-2"]
    assert select(names, "machine-1-2", "machine", "smd") == ["machine-1-2"]  # not its letters
    with pytest.raises(ValueError, match="no machine 'machine-9-9'"):
        select(names, "machine-9-9", "machine", "smd")
    import numpy as np

    kept, which = select_channels([np.zeros((3, 2))], "c1", ["c0", "c1"], "csv")
    assert which == ["c1"] and kept[0].shape == (3, 1)


PARENT = """
import sys
import numpy as np
from tsadbench.isolation import Job, fit_score_isolated

x = np.random.default_rng(0).normal(size=(3000, 2)).astype(np.float32)
params = {"window": 16, "n_epochs": 10_000, "device": "cpu", "random_state": 0}
fit_score_isolated(Job("ae", params, x, x))
"""


def test_a_killed_run_leaves_no_copy_of_its_data(tmp_path):
    """kill -9 of the process that started a run: the run's folder holds no job.pkl (the
    child removes it once read), and the child does not outlive its parent."""
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    parent = subprocess.Popen([sys.executable, "-c", PARENT], env=env)
    try:
        deadline = time.monotonic() + 120
        while True:  # until the child has read its job: the folder exists, job.pkl is gone
            folders = list(tmp_path.glob("tsadbench-run-*"))
            if folders and not (folders[0] / "job.pkl").exists():
                break
            assert parent.poll() is None and time.monotonic() < deadline, "the run never started"
            time.sleep(0.05)
    finally:
        parent.send_signal(signal.SIGKILL)
        parent.wait()
    assert not list(tmp_path.rglob("job.pkl"))
    deadline = time.monotonic() + 30
    while _children_of(parent.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _children_of(parent.pid)  # the run died with its parent


def _children_of(pid: int) -> list[int]:
    """Processes whose command line names the isolated run and whose parent was ``pid`` (or
    that were re-parented after it died)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if b"tsadbench.isolation" in cmd and str(pid).encode() in cmd:
            found.append(int(proc.name))
    return found


def test_damaged_results_are_named_by_every_reader_and_made_again_by_a_rerun(tmp_path):
    from typer.testing import CliRunner

    from tsadbench import store
    from tsadbench.cli import app

    def cli(*args: str):
        return CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})

    results = tmp_path / "results"
    run = ["run", "detector=pca", "dataset.n_entities=2", "dataset.length=300",
           "dataset.n_anomalies=2", "metrics.names=[auc_pr]", f"results_dir={results}"]  # fmt: skip
    assert cli(*run).exit_code == 0
    first, second = store.record_folders(results)
    (first / store.RECORD).write_text('["valid JSON", "of the wrong shape"]')
    stamp = (second / store.RECORD).stat().st_mtime_ns
    for args in (
        ["report", str(results), "--no-random"],
        ["evaluate", str(results), "--metric", "vus_pr"],
        ["leaderboard", "check", str(results)],
    ):
        done = cli(*args)
        assert done.exit_code == 1, (args, done.stderr)
        assert str(first / store.RECORD) in " ".join(done.stderr.split()), (args, done.stderr)
    # evaluate read everything before writing: the good record was not rewritten either
    assert (second / store.RECORD).stat().st_mtime_ns == stamp
    (second / store.SCORES).write_bytes((second / store.SCORES).read_bytes()[:50])  # truncated
    with pytest.raises(ValueError, match=rf"The scores {second / store.SCORES} cannot be read"):
        store.read_scores(second.parent, second.name)
    again = cli(*run)  # a rerun makes both runs again
    assert again.exit_code == 0, again.stderr
    assert again.stderr.count("is damaged, so the run is made again") == 2
    assert all(r.status == "ok" for r in store.iter_records(results))


def test_a_results_dir_that_is_a_file_is_refused_before_any_run(tmp_path):
    taken = tmp_path / "results"
    taken.write_text("not a folder")
    settings = _settings("cpu")
    settings.results_dir = taken
    with pytest.raises(ConfigError, match=r"names .*results, which is a file, not a folder"):
        prepare(settings)


def test_a_results_dir_this_user_cannot_write_is_refused_before_any_run(tmp_path, monkeypatch):
    # the tests run as root here, for whom every folder is writable: the permission is made up
    import tsadbench.settings

    locked = tmp_path / "locked"
    locked.mkdir()
    real = os.access
    monkeypatch.setattr(
        tsadbench.settings.os, "access", lambda p, mode: Path(p) != locked and real(p, mode)
    )
    settings = _settings("cpu")
    settings.results_dir = locked / "results"
    with pytest.raises(ConfigError, match=r"results cannot be written: .*locked is not writable"):
        prepare(settings)


def test_a_plugin_that_exits_on_import_is_warned_about_and_the_rest_goes_on(tmp_path, monkeypatch):
    from tsadbench.registry import DETECTORS

    (tmp_path / "rude_plugin.py").write_text("import sys\nsys.exit('no thanks')\n")
    dist = tmp_path / "rude_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: rude-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[tsadbench.detectors]\nrude = rude_plugin\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(DETECTORS, "_plugins_loaded", False)
    with pytest.warns(
        RuntimeWarning, match="Could not load the detector plug-in 'rude'.*no thanks"
    ):
        names = DETECTORS.list()
    assert "pca" in names and "iforest" in names


BAD_DETECTOR = """
from tsadbench.isolation import Job, fit_score_isolated
from tsadbench.registry import DETECTORS, register_detector
from tsadbench.detectors import BaseDetector
import numpy as np

@register_detector("interrupter")
class Interrupter(BaseDetector):
    def _fit(self, X):
        raise KeyboardInterrupt  # the detector's own, not a user's Ctrl-C
    def _score(self, X):
        return X[:, 0]
"""


def test_a_detectors_own_keyboard_interrupt_is_its_error_not_the_users(tmp_path, monkeypatch):
    """The run is its own process group, so a KeyboardInterrupt inside it is the detector's
    error: recorded as such, and the sweep goes on (a user's Ctrl-C stops the parent)."""
    import numpy as np

    from tsadbench.isolation import ChildError, Job, fit_score_isolated

    (tmp_path / "interrupter_mod.py").write_text(BAD_DETECTOR)
    (tmp_path / "sitecustomize.py").write_text("import interrupter_mod\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    monkeypatch.syspath_prepend(str(tmp_path))
    import interrupter_mod  # noqa: F401  (registers it in this process too)

    x = np.zeros((50, 1), dtype=np.float32)
    with pytest.raises(ChildError, match="KeyboardInterrupt"):
        fit_score_isolated(Job("interrupter", {}, x, x))


def _tsadbench(*args: str, **kwargs) -> subprocess.CompletedProcess:
    """``tsadbench ARGS`` as a user runs it: its exit status and what it printed."""
    return subprocess.run(
        [sys.executable, "-m", "tsadbench", *args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "COLUMNS": "300"},
        **kwargs,
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-m", "--cfg", "job"], "takes one of --cfg, -m at a time (--cfg prints one job's"),
        (["detector=iforest,pca", "--cfg", "job", "-m"], "takes one of --cfg, -m at a time"),
        (["-m", "seed=0,1", "--info"], "takes one of --info, -m at a time"),
        (["-m", "hydra.sweep.dir=/proc/no/such"], "Cannot make the sweep's folder /proc/no/such"),
    ],
)
def test_hydras_own_failures_are_one_line(tmp_path, args, message):
    done = _tsadbench("run", *args, f"results_dir={tmp_path}")
    assert done.returncode == 1
    assert message in done.stderr
    # the hint about --cfg only where --cfg was given with -m
    assert ("--cfg prints one job's config" in done.stderr) == ("--cfg" in args and "-m" in args)
    assert "Traceback" not in done.stderr + done.stdout


def test_hydras_flags_may_come_after_the_overrides(tmp_path):
    # argparse stops reading overrides at a flag: seed=3 after --cfg job was "unrecognized"
    done = _tsadbench("run", "detector=pca", "--cfg", "job", "seed=3", f"results_dir={tmp_path}")
    assert done.returncode == 0, done.stderr
    assert "seed: 3" in done.stdout and "name: pca" in done.stdout
    done = _tsadbench("run", "detector=pca", "--info", "defaults", f"results_dir={tmp_path}")
    assert done.returncode == 0, done.stderr
    assert "detector/pca" in done.stdout  # the schema config.yaml names is registered here too


def test_two_sweeps_started_together_get_a_folder_each(tmp_path):
    # each sweep's folder carries its launching process's id, so two sweeps in the same second
    # (started here at once) never share one: their logs and job files stay apart
    grid = ["dataset.length=600", "dataset.n_anomalies=3", "metrics.names=[auc_pr]"]
    grid.append(f"results_dir={tmp_path}")
    cmd = [sys.executable, "-m", "tsadbench", "run", "-m", "detector=random"]
    procs = [
        subprocess.Popen([*cmd, f"seed={seed}", *grid], stderr=subprocess.PIPE, text=True)
        for seed in (0, 1)
    ]
    for proc in procs:
        assert proc.wait(timeout=120) == 0, proc.stderr.read() if proc.stderr else ""
    folders = sorted((tmp_path / ".hydra" / "multirun").iterdir())
    assert sorted(f.name.rsplit("_", 1)[1] for f in folders) == sorted(str(p.pid) for p in procs)
    for folder, proc in zip(folders, sorted(procs, key=lambda p: str(p.pid)), strict=True):
        [job] = folder.glob("*/run.log")
        assert folder.name.endswith(f"_{proc.pid}")
        assert "random" in job.read_text()


CHATTY = """
import sys
import numpy as np
from tsadbench.detectors import BaseDetector
from tsadbench.registry import register_detector

@register_detector("chatty")
class Chatty(BaseDetector):
    def __init__(self, *, power: float = 1.0):
        self.power = power
    def _fit(self, X):
        print("CHATTY-FIT on stdout")
        print("CHATTY-FIT on stderr", file=sys.stderr)
        self.mean_ = X.mean(axis=0)
    def _score(self, X):
        print("CHATTY-SCORE", flush=True)
        return np.abs(X - self.mean_).sum(axis=1) ** self.power
"""


@pytest.mark.parametrize("isolate", ["true", "false"])
def test_what_a_detector_prints_in_a_sweep_goes_to_its_jobs_log(tmp_path, isolate):
    # a plug-in (an entry point found on PYTHONPATH) that prints while it fits and scores
    (tmp_path / "chatty_plugin.py").write_text(CHATTY)
    dist = tmp_path / "chatty_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: chatty-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[tsadbench.detectors]\nchatty = chatty_plugin\n")
    done = subprocess.run(
        [sys.executable, "-m", "tsadbench", "run", "-m", "detector=chatty", "seed=0,1",
         f"isolate={isolate}", "dataset.length=600", "dataset.n_anomalies=3",
         "metrics.names=[auc_pr]", f"results_dir={tmp_path / 'results'}"],
        capture_output=True, text=True, check=False,
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "CHATTY" not in done.stdout + done.stderr  # the sweep's display stays its own
    logs = sorted((tmp_path / "results" / ".hydra" / "multirun").glob("*/*/run.log"))
    assert len(logs) == 2
    for log in logs:
        text = log.read_text()
        assert "CHATTY-FIT on stdout" in text and "CHATTY-FIT on stderr" in text
        assert "CHATTY-SCORE" in text


def test_a_full_disk_ends_the_run_with_one_line_and_keeps_earlier_records(tmp_path, monkeypatch):
    import errno

    from typer.testing import CliRunner

    from tsadbench import store
    from tsadbench.cli import app

    args = ["run", "detector=random", "dataset.length=600", "dataset.n_anomalies=3",
            "metrics.names=[auc_pr]", "isolate=false", f"results_dir={tmp_path}"]  # fmt: skip
    assert CliRunner().invoke(app, [*args, "seed=0"]).exit_code == 0
    [earlier] = store.record_folders(tmp_path)
    kept = (earlier / store.RECORD).read_bytes()

    def full(path, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(store, "_staged", full)
    done = CliRunner().invoke(app, [*args, "seed=1"])
    assert done.exit_code == 1
    assert "Error: Cannot write the record of random on synthetic/" in done.stderr
    assert "No space left on device. Nothing of it was kept" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert store.record_folders(tmp_path) == [earlier]
    assert (earlier / store.RECORD).read_bytes() == kept


def test_parameters_for_every_detector_apply_only_where_a_detector_has_them():
    from tsadbench.cli.run import hydra_argv

    # the CLI sets or adds them (the composed config lists none)
    assert hydra_argv(["detector=ae", "detectors.n_epochs=3", "dataset.channels=[0]"]) == [
        "detector=ae", "++detectors.n_epochs=3", "++dataset.channels=[0]",
    ]  # fmt: skip
    ae = settings_from_config(_compose("detector=ae", "++detectors.n_epochs=3"))
    assert ae.detector_params["n_epochs"] == 3
    iforest = settings_from_config(_compose("detector=iforest", "++detectors.n_epochs=3"))
    assert "n_epochs" not in iforest.detector_params
    assert iforest.config is not None and iforest.config["detectors"] == {"n_epochs": 3}
    with pytest.raises(ConfigError, match="For only the detectors that have one, write detectors"):
        prepare(settings_from_config(_compose("detector=iforest", "+detector.n_epochs=3")))


def test_labelled_anomalies_in_the_train_split_are_warned_about(tmp_path):
    from tsadbench.runner import run

    rows = "".join(f"{i % 7},{int(i in (3, 40))}\n" for i in range(60))
    (tmp_path / "mine.csv").write_text("value,label\n" + rows)
    said: list[str] = []
    settings = RunSettings(
        detector="pca",
        detector_params={"window": 4},
        dataset="csv",
        dataset_params={"path": str(tmp_path / "mine.csv"), "train": 20},
        metrics=["auc_pr"],
        seed=0,
        results_dir=tmp_path / "results",
        data_root=tmp_path,
        isolate=False,
    )
    [record] = run(settings, log=said.append)
    assert record.status == "ok"
    assert any(
        "warning: 1 labelled anomalous point(s) of csv/mine lie in its train" in m for m in said
    )
