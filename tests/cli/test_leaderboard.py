"""`tsadbench leaderboard update|check`: the CI regression baseline."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tsadbench import store
from tsadbench.cli import app
from tsadbench.runner import RunSettings, run


def invoke(*args: str):
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def suite(results: Path, detectors=("iforest", "pca")) -> None:
    for det in detectors:
        run(
            RunSettings(
                detector=det,
                detector_params={},
                dataset="synthetic",
                dataset_params={"length": 600, "n_anomalies": 3, "n_channels": 2},
                metrics=["vus_pr", "auc_pr", "f1@oracle"],
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


def test_the_real_baseline_passes(results, tmp_path):
    baseline = tmp_path / "baseline.json"
    data = update(results, baseline)
    assert set(data["cells"]) == {"iforest / synthetic", "pca / synthetic"}
    cell = data["cells"]["iforest / synthetic"]
    assert cell["status"] == "ok" and cell["config"] and data["config_hash"] and data["tsadbench"]
    assert cell["scores"]["vus_pr"]["tolerance"] == 0.02
    done = invoke("leaderboard", "check", str(results), "--baseline", str(baseline))
    assert done.exit_code == 0, done.stdout
    assert "leaderboard check passed: 6 scores within tolerance" in done.stdout


def test_a_baseline_higher_than_reality_fails_with_a_table(results, tmp_path):
    baseline = tmp_path / "baseline.json"
    data = update(results, baseline)
    score = data["cells"]["pca / synthetic"]["scores"]["auc_pr"]
    score["value"] += 0.021  # just past the 0.02 tolerance
    baseline.write_text(json.dumps(data))
    done = invoke("leaderboard", "check", str(results), "--baseline", str(baseline))
    assert done.exit_code == 1
    assert "Regressions: below the baseline by more than the tolerance" in done.stdout
    assert "pca / synthetic" in done.stdout and "auc_pr" in done.stdout
    assert "1 regressions, 0 missing, 0 new" in done.stdout
    # within the tolerance it passes
    score["value"] -= 0.002
    baseline.write_text(json.dumps(data))
    assert invoke("leaderboard", "check", str(results), "--baseline", str(baseline)).exit_code == 0


def test_missing_new_and_failed_cells_fail_the_check(results, tmp_path):
    baseline = tmp_path / "baseline.json"
    copy = tmp_path / "results"
    shutil.copytree(results, copy)
    update(copy, baseline)
    suite(copy, detectors=("random",))  # a cell the baseline does not know
    [pca] = [
        f
        for f in store.record_folders(copy)
        if store.read(f.parent, f.name)["detector"]["name"] == "pca"
    ]
    record = store.read(pca.parent, pca.name)
    record.update(status="error", error="ValueError: broken on purpose")
    store.write(pca.parent, record)
    done = invoke("leaderboard", "check", str(copy), "--baseline", str(baseline))
    assert done.exit_code == 1
    assert "0 regressions, 1 missing, 1 new" in done.stdout
    assert "broken on purpose" in done.stdout and "random / synthetic" in done.stdout


def test_update_keeps_hand_set_tolerances(results, tmp_path):
    baseline = tmp_path / "baseline.json"
    data = update(results, baseline)
    data["cells"]["pca / synthetic"]["scores"]["vus_pr"]["tolerance"] = 0.1
    baseline.write_text(json.dumps(data))
    again = update(results, baseline)
    assert again["cells"]["pca / synthetic"]["scores"]["vus_pr"]["tolerance"] == 0.1
    assert again["cells"]["pca / synthetic"]["scores"]["auc_pr"]["tolerance"] == 0.02
    reset = update(results, baseline, "--tolerance", "0.05")
    tolerances = {s["tolerance"] for c in reset["cells"].values() for s in c["scores"].values()}
    assert tolerances == {0.05}


def test_check_without_a_baseline_says_how_to_make_one(results, tmp_path):
    done = invoke("leaderboard", "check", str(results), "--baseline", str(tmp_path / "nope.json"))
    assert done.exit_code == 1 and "tsadbench leaderboard update" in done.stderr
