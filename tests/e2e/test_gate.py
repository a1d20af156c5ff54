"""The CI gate can fail: a results folder of the CI suite, damaged the ways a real regression
damages scores, fails `tsadbench leaderboard check` and names every damaged cell.

`make test` runs it on a small subset of the suite (synthetic data, three detectors) against a
baseline written from it. `make suite` (in `.ci/run`) runs it again on the full suite's results
against the committed baseline: ``TSADBENCH_GATE_RESULTS`` (and ``TSADBENCH_GATE_BASELINE``)
name them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from tsadbench import store
from tsadbench.cli import app
from tsadbench.report import baseline as gate
from tsadbench.testing import shift_scores

SUBSET = [
    "detector=iforest,ae,random", "dataset=synthetic", "isolate=false", "timeout_s=null", "n_jobs=1"
]  # fmt: skip


def invoke(*args: str):
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def suite(results: Path) -> None:
    cmd = [sys.executable, "-m", "tsadbench", "run", "suite=ci", *SUBSET, f"results_dir={results}"]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


@pytest.fixture(scope="module")
def ci(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(results folder of the CI suite, its baseline)."""
    given = os.environ.get("TSADBENCH_GATE_RESULTS")
    if given:
        default = "leaderboard/baseline.json"
        return Path(given), Path(os.environ.get("TSADBENCH_GATE_BASELINE", default))
    root = tmp_path_factory.mktemp("gate")
    suite(root / "results")
    gate.update(root / "results", root / "baseline.json")
    return root / "results", root / "baseline.json"


def damage(results: Path, into: Path, how: str) -> set[str]:
    """Copy ``results`` to ``into`` with every ok non-random cell's scores damaged ``how``,
    re-evaluated with `tsadbench evaluate`; return the damaged cells."""
    shutil.copytree(results, into, ignore=shutil.ignore_patterns(".hydra", ".cache"))
    hit = set()
    for folder in store.record_folders(into):
        record = store.read(folder.parent, folder.name)
        name = record.detector.name
        if record.status != "ok" or name == gate.RANDOM:
            continue
        scores = store.read_scores(folder.parent, folder.name)
        for part in ("test", "train"):
            s = getattr(scores, part)
            if how == "random":  # the detector's scores silently became noise
                rng = np.random.default_rng(zlib.crc32(f"{folder.name}{part}".encode()))
                setattr(scores, part, rng.uniform(size=len(s)))
            elif how == "negated":  # a sign flip
                setattr(scores, part, -s)
            elif how == "shifted":  # window scores mapped to points one window off
                # the detector's window: its setting, or what it chose (window="auto")
                window = record.detector.params.get("window")
                if not isinstance(window, int):
                    window = (record.detector.provenance or {}).get("window") or 32
                window = int(window)
                setattr(scores, part, shift_scores(s, min(window, len(s) - 1)))
        store.write(folder.parent, record, scores)
        hit.add(f"{name} / {record.dataset.name}")
    done = invoke("evaluate", str(into), "--metrics", "ci")
    assert done.exit_code == 0, done.stderr
    return hit


def flagged(result: gate.Check) -> set[str]:
    return {r["cell"] for r in result.regressions + result.improvements + result.below_margin}


@pytest.mark.parametrize("how", ["random", "negated", "shifted"])
def test_damaged_scores_fail_the_check_and_name_every_damaged_cell(ci, tmp_path, how):
    results, baseline = ci
    hit = damage(results, tmp_path / how, how)
    assert hit, "nothing to damage"
    result = gate.check(tmp_path / how, baseline)
    assert not result.passed
    assert hit <= flagged(result), f"not caught: {sorted(hit - flagged(result))}"
    done = invoke("leaderboard", "check", str(tmp_path / how), "--baseline", str(baseline))
    assert done.exit_code == 1 and "leaderboard check failed" in done.stdout
    assert sorted(hit)[0] in done.stdout


def test_a_drop_just_beyond_the_tolerance_fails_every_cell(ci, tmp_path):
    results, baseline = ci
    tolerance = gate.load(baseline)["gate"]["tolerance"]["vus_pr"]
    lowered = tmp_path / "lowered"
    shutil.copytree(results, lowered, ignore=shutil.ignore_patterns(".hydra", ".cache"))
    hit = set()
    for folder in store.record_folders(lowered):
        record = store.read(folder.parent, folder.name)
        if record.status == "ok" and record.detector.name != gate.RANDOM:
            record.metrics["vus_pr"] -= 1.2 * tolerance
            store.write(folder.parent, record)
            hit.add(f"{record.detector.name} / {record.dataset.name}")
    result = gate.check(lowered, baseline)
    assert {r["cell"] for r in result.regressions if r["metric"] == "vus_pr"} == hit


def test_undamaged_scores_re_evaluated_pass(ci, tmp_path):
    results, baseline = ci
    copy = tmp_path / "copy"
    shutil.copytree(results, copy, ignore=shutil.ignore_patterns(".hydra", ".cache"))
    assert invoke("evaluate", str(copy), "--metrics", "ci").exit_code == 0
    result = gate.check(copy, baseline)
    assert result.passed, (result.regressions, result.improvements, result.below_margin)


@pytest.mark.slow  # `make suite` reruns the whole suite against the committed baseline
def test_an_undamaged_rerun_of_the_subset_passes(ci, tmp_path):
    if os.environ.get("TSADBENCH_GATE_RESULTS"):
        pytest.skip("the full suite's rerun is `make suite` itself")
    _, baseline = ci
    suite(tmp_path / "rerun")
    result = gate.check(tmp_path / "rerun", baseline)
    assert result.passed, (result.regressions, result.improvements, result.below_margin)
