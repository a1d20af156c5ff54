"""`tsadbench leaderboard update|check`: the CI regression baseline and its gate."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tsadbench import store
from tsadbench.cli import app
from tsadbench.report.baseline import FLOOR, GATED, MIN_MARGIN
from tsadbench.runner import RunSettings, run

METRICS = ["vus_pr", "vus_roc", "auc_pr", "auc_roc", "f1@oracle"]


def invoke(*args: str):
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def suite(results: Path, detectors=("iforest", "pca", "random")) -> None:
    for det in detectors:
        seeded = det in ("iforest", "random")  # the seed reaches a detector as random_state
        run(
            RunSettings(
                detector=det,
                detector_params={"random_state": 0} if seeded else {},
                dataset="synthetic",
                dataset_params={"length": 600, "n_anomalies": 3, "n_channels": 2},
                metrics=METRICS,
                seed=0,
                results_dir=results,
                data_root=results,
                isolate=False,
            ),
            log=lambda _: None,
        )


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("suite")
    suite(path)
    return path


def update(results: Path, baseline: Path, *extra: str) -> dict:
    done = invoke("leaderboard", "update", str(results), "--baseline", str(baseline), *extra)
    assert done.exit_code == 0, done.stderr
    return json.loads(baseline.read_text())


def check(results: Path, baseline: Path):
    return invoke("leaderboard", "check", str(results), "--baseline", str(baseline))


def set_metric(results: Path, detector: str, metric: str, delta: float) -> None:
    """Move one metric of one detector's records by ``delta``, as a changed detector would."""
    for folder in store.record_folders(results):
        record = store.read(folder.parent, folder.name)
        if record.detector.name == detector:
            record.metrics[metric] += delta
            store.write(folder.parent, record)


def test_update_writes_cells_with_their_margin_over_random_and_the_gate(results, tmp_path):
    data = update(results, tmp_path / "baseline.json")
    assert data["format"] == 2 and data["config_hash"] and data["tsadbench"]
    assert set(data["cells"]) == {"iforest / synthetic", "pca / synthetic", "random / synthetic"}
    cell, floor = data["cells"]["iforest / synthetic"], data["cells"]["random / synthetic"]
    assert cell["status"] == "ok" and cell["config"] and "margin" not in floor
    assert cell["margin"] == pytest.approx(cell["scores"]["vus_pr"] - floor["scores"]["vus_pr"])
    assert cell["margin"] >= MIN_MARGIN
    gate = data["gate"]
    assert gate["metrics"] == list(GATED) and gate["min_margin"] == MIN_MARGIN
    assert gate["tolerance"] == dict.fromkeys(GATED, FLOOR)  # nothing measured yet
    assert "not measured" in gate["noise"]["how"]


def test_an_undamaged_rerun_passes_and_shows_every_margin(results, tmp_path):
    baseline = tmp_path / "baseline.json"
    update(results, baseline)
    rerun = tmp_path / "rerun"
    suite(rerun)  # the same suite again, from scratch
    done = check(rerun, baseline)
    assert done.exit_code == 0, done.stdout
    assert "leaderboard check passed: 12 gated scores within tolerance" in done.stdout
    assert "Margin over random" in done.stdout and "pca / synthetic" in done.stdout


@pytest.mark.parametrize(("delta", "verdict"), [(-1.5, "Regressed"), (1.5, "Improved")])
def test_a_move_just_beyond_the_tolerance_fails_in_either_direction(
    results, tmp_path, delta, verdict
):
    baseline = tmp_path / "baseline.json"
    update(results, baseline)
    moved = tmp_path / "moved"
    shutil.copytree(results, moved)
    set_metric(moved, "pca", "auc_pr", delta * FLOOR)
    done = check(moved, baseline)
    assert done.exit_code == 1
    assert f"{verdict}: " in done.stdout and "pca / synthetic" in done.stdout
    if verdict == "Improved":
        assert "improved: 1 (run `make baseline` and commit" in done.stdout
    else:
        assert "regressed: 1" in done.stdout
    # within the tolerance it passes
    set_metric(moved, "pca", "auc_pr", -delta * FLOOR * 0.6)
    assert check(moved, baseline).exit_code == 0


def test_f1_scores_are_shown_when_they_move_but_never_gated(results, tmp_path):
    baseline = tmp_path / "baseline.json"
    update(results, baseline)
    moved = tmp_path / "moved"
    shutil.copytree(results, moved)
    set_metric(moved, "iforest", "f1@oracle", -0.2)
    done = check(moved, baseline)
    assert done.exit_code == 0, done.stdout
    assert "F1-type scores that moved (shown, not gated)" in done.stdout
    assert "-0.2000" in done.stdout


def test_tolerances_are_measured_from_reruns_and_stored_with_how(results, tmp_path):
    baseline = tmp_path / "baseline.json"
    rerun = tmp_path / "rerun"
    shutil.copytree(results, rerun)
    set_metric(rerun, "pca", "vus_pr", 0.004)  # a rerun that moved: noise of 0.004
    data = update(results, baseline, "--noise", str(rerun), "--noise-note", "threads=2")
    gate = data["gate"]
    assert gate["tolerance"]["vus_pr"] == pytest.approx(0.008)  # twice the spread
    assert gate["tolerance"]["auc_pr"] == FLOOR  # no spread: the floor
    assert gate["noise"]["spread"]["vus_pr"] == pytest.approx(0.004)
    assert gate["noise"]["cell"]["vus_pr"] == "pca / synthetic"
    assert "threads=2" in gate["noise"]["how"]
    # a later update without reruns keeps the measured tolerances
    again = update(results, baseline)
    assert again["gate"]["tolerance"] == gate["tolerance"]
    assert again["gate"]["noise"] == gate["noise"]


def test_update_refuses_a_cell_that_does_not_beat_random_unless_excepted(results, tmp_path):
    baseline = tmp_path / "baseline.json"
    done = invoke(
        "leaderboard", "update", str(results), "--baseline", str(baseline), "--min-margin", "0.99"
    )
    assert done.exit_code == 1 and not baseline.exists()
    assert "do not beat random on vus_pr by 0.99" in done.stderr
    assert "iforest / synthetic" in done.stderr and "--exception" in done.stderr
    reasons = ["--exception", "iforest / synthetic=known weak", "--exception", "pca / synthetic=x"]
    data = update(results, baseline, "--min-margin", "0.99", *reasons)
    assert data["cells"]["iforest / synthetic"]["exception"] == "known weak"
    assert check(results, baseline).exit_code == 0  # exceptions pass the margin check
    kept = update(results, baseline)  # exceptions and the margin are kept
    assert kept["cells"]["pca / synthetic"]["exception"] == "x"
    assert kept["gate"]["min_margin"] == 0.99


def test_update_needs_random_on_the_same_data(results, tmp_path):
    partial = tmp_path / "partial"
    suite(partial, detectors=("iforest",))
    done = invoke("leaderboard", "update", str(partial), "--baseline", str(tmp_path / "b.json"))
    assert done.exit_code == 1 and "no ok 'random' run on the data of iforest" in done.stderr


def test_a_cell_that_falls_below_the_margin_fails(results, tmp_path):
    baseline = tmp_path / "baseline.json"
    data = update(results, baseline)
    data["gate"]["tolerance"]["vus_pr"] = 1.0  # even with a tolerance that lets anything pass
    baseline.write_text(json.dumps(data))
    fallen = tmp_path / "fallen"
    shutil.copytree(results, fallen)
    margin = data["cells"]["pca / synthetic"]["margin"]
    set_metric(fallen, "pca", "vus_pr", -margin)
    done = check(fallen, baseline)
    assert done.exit_code == 1
    assert "No longer beats random by the margin" in done.stdout and "pca" in done.stdout


def test_missing_new_and_failed_cells_fail_the_check(results, tmp_path):
    baseline = tmp_path / "baseline.json"
    copy = tmp_path / "results"
    shutil.copytree(results, copy)
    update(copy, baseline)
    suite(copy, detectors=("lof",))  # a cell the baseline does not know
    [pca] = [
        f for f in store.record_folders(copy) if store.read(f.parent, f.name).detector.name == "pca"
    ]
    record = store.read(pca.parent, pca.name)
    record.status, record.error = "error", "ValueError: broken on purpose"
    store.write(pca.parent, record)
    done = check(copy, baseline)
    assert done.exit_code == 1
    assert "1 missing, 1 new" in done.stdout
    assert "broken on purpose" in done.stdout and "lof / synthetic" in done.stdout


def test_bad_exceptions_and_old_baselines_are_named(results, tmp_path):
    baseline = tmp_path / "baseline.json"
    done = invoke(
        "leaderboard", "update", str(results), "--baseline", str(baseline),
        "--exception", "no reason",
    )  # fmt: skip
    assert done.exit_code == 1 and "'CELL=REASON'" in done.stderr
    done = invoke(
        "leaderboard", "update", str(results), "--baseline", str(baseline),
        "--exception", "tadgan / nab=gone",
    )  # fmt: skip
    assert done.exit_code == 1 and "tadgan / nab" in done.stderr
    baseline.write_text(json.dumps({"format": 1, "cells": {}}))
    done = check(results, baseline)
    assert done.exit_code == 1 and "format 2" in done.stderr and "got format 1" in done.stderr


def test_check_without_a_baseline_says_how_to_make_one(results, tmp_path):
    done = check(results, tmp_path / "nope.json")
    assert done.exit_code == 1 and "tsadbench leaderboard update" in done.stderr


def test_update_replaces_a_baseline_of_the_older_format(results, tmp_path):
    baseline = tmp_path / "baseline.json"
    baseline.write_text(json.dumps({"format": 1, "cells": {"x / y": {"status": "ok"}}}))
    data = update(results, baseline)
    assert data["format"] == 2 and "x / y" not in data["cells"]
    baseline.write_text("not json")
    done = invoke("leaderboard", "update", str(results), "--baseline", str(baseline))
    assert done.exit_code == 1 and "not valid JSON" in done.stderr
