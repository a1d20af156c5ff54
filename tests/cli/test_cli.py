"""The command line, end to end on the synthetic dataset."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from tsadbench import __version__, store
from tsadbench.cli import app
from tsadbench.provenance import code_identity
from tsadbench.record import RunRecord

FAST_MEMAE = [
    "detector=memae",
    "detector.n_epochs=2",
    "detector.window=16",
    "dataset.length=400",
    "dataset.n_anomalies=4",
]


def invoke(*args: str):
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def records(results: Path) -> list[RunRecord]:
    return list(store.iter_records(results))


def test_help_is_fast_and_does_not_import_torch():
    code = (
        "import sys; from tsadbench.cli import main; sys.argv = ['tsadbench', '--help']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "assert 'torch' not in sys.modules, 'torch imported by --help'\n"
        "assert 'hydra' not in sys.modules, 'hydra imported by --help'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "run" in done.stdout and "report" in done.stdout and "list" in done.stdout


def test_version():
    assert invoke("--version").stdout.strip() == f"tsadbench {__version__}"


@pytest.mark.parametrize(
    ("what", "expected"),
    [
        ("detectors", ["memae", "iforest", "random", "faithful"]),
        ("datasets", ["synthetic"]),
        (
            "metrics",
            [
                "vus_pr",
                "window=100",
                "pa_k_f1",
                "k=20.0",
                "train_quantile",
                "q=0.99",
                "oracle",
                "test labels",
            ],
        ),
    ],
)
def test_list(what, expected):
    result = invoke("list", what)
    assert result.exit_code == 0
    for word in expected:
        assert word in result.stdout


@pytest.mark.slow  # over 5 s on 2 cores: `make test-slow`
def test_run_records_skips_and_force_reproduces_bytes(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    result = invoke("run", *FAST_MEMAE, "seed=1", f"results_dir={first}")
    assert result.exit_code == 0, result.stderr
    assert "memae on synthetic (seed 1)" in result.stdout and "auc_pr" in result.stdout
    [record] = records(first)
    assert record.status == "ok" and record.seed == 1
    assert {"vus_pr", "auc_pr", "f1@oracle", "pa_f1@oracle", "f1@train_quantile"} <= set(
        record.metrics
    )
    assert record.metric_params["vus_pr"] == {
        "metric": "vus_pr",
        "params": {"window": 100, "n_thresholds": 250},
    }
    assert record.metric_params["f1@train_quantile"]["protocol_params"] == {"q": 0.99}
    assert record.n_parameters > 0 and record.memory["peak_rss_mb"] > 0
    assert record.detector.faithful is False and record.detector.deviations
    assert record.preprocessing == {"scaler": "zscore", "chosen_by": "detector (scaler=auto)"}
    assert {"fit_s", "score_s", "total_s"} <= set(record.time)

    again = invoke("run", *FAST_MEMAE, "seed=1", f"results_dir={first}")
    assert again.exit_code == 0 and "not re-run" in again.stderr
    assert len(records(first)) == 1

    forced = invoke("run", *FAST_MEMAE, "seed=1", "force=true", f"results_dir={second}")
    assert forced.exit_code == 0, forced.stderr
    key = record.key
    assert (first / key / "scores.npz").read_bytes() == (second / key / "scores.npz").read_bytes()


def test_rerun_adds_missing_metrics_from_stored_scores(tmp_path):
    base = [
        "detector=iforest",
        "detector.n_estimators=10",
        "dataset.length=400",
        "dataset.n_anomalies=4",
        f"results_dir={tmp_path}",
    ]
    assert invoke("run", *base, "metrics.names=[auc_roc]").exit_code == 0
    assert set(records(tmp_path)[0].metrics) == {"auc_roc"}
    assert invoke("run", *base, "metrics.names=[auc_roc,pa_f1@oracle]").exit_code == 0
    [record] = records(tmp_path)
    assert set(record.metrics) == {"auc_roc", "pa_f1@oracle"}


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("detector=nosuch", "Could not find 'detector/nosuch'"),
        ("dataset.length=-5", "'length' parameter of the synthetic dataset must be an int >= 200"),
        ("detector.window=0", "'window' parameter of WindowIForest must be an int >= 1"),
        ("+detector.nosuch=1", "has no parameter(s) 'nosuch'"),
        ("metrics.names=[pa_f1]", "needs a threshold protocol"),
        ("metrics.names=['vus_pr(window=-5)']", "vus_pr(window=-5): The 'window' parameter"),
    ],
)
def test_bad_settings_fail_cleanly_without_a_record(tmp_path, override, message):
    # a subprocess: what the user sees on the terminal, exit status included
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "from tsadbench.cli import main; main()",
            "run",
            override,
            f"results_dir={tmp_path}",
        ],
        capture_output=True,
        text=True,
        check=False,
        env={"COLUMNS": "300", "PATH": "/usr/bin"},
    )
    assert done.returncode != 0
    assert message in done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert records(tmp_path) == []


def test_a_failing_detector_gives_an_error_record_and_the_run_goes_on(tmp_path):
    # 369 training windows but 2000 neighbours asked for: fit raises on every entity
    result = invoke(
        "run",
        "detector=knn",
        "detector.n_neighbors=2000",
        "dataset.n_entities=2",
        "dataset.length=400",
        "dataset.n_anomalies=4",
        f"results_dir={tmp_path}",
    )
    # the runs are recorded, and the exit status says they did not finish (issue 23)
    assert result.exit_code == 1
    assert "2 of 2 run(s) did not finish (2 error); their records say why." in result.stderr
    recs = records(tmp_path)
    assert len(recs) == 2
    for r in recs:
        assert r.status == "error" and "n_neighbors=2000" in r.error
        assert "Traceback" in r.traceback
        assert all(v != v for v in r.metrics.values())  # NaN, never 0
        assert not (tmp_path / r.key / "scores.npz").exists()
        # the command that made the record, for whoever reads it later (the reproductions)
        assert r.command.startswith("tsadbench run detector=knn detector.n_neighbors=2000")


def test_report_prints_and_writes(tmp_path):
    for det in ("iforest", "random"):
        assert (
            invoke(
                "run",
                f"detector={det}",
                "dataset.length=400",
                "dataset.n_anomalies=4",
                "dataset.n_entities=2",
                f"results_dir={tmp_path}",
            ).exit_code
            == 0
        )
    out = tmp_path / "report"
    result = invoke("report", str(tmp_path), "--out", str(out))
    assert result.exit_code == 0, result.stderr
    assert "iforest" in result.stdout and "random" in result.stdout
    md = (out / "leaderboard.md").read_text()
    assert "| detector | config | params | dataset | data | seeds | ok / runs |" in md
    assert "| pa_f1@oracle | pa_f1@oracle (random) |" in md  # noise's value beside each F1
    lines = [line for line in md.splitlines() if line.startswith("| iforest")]
    assert len(lines) == 1 and "**" in lines[0]  # iforest beats random: best in bold
    csv = (out / "results.csv").read_text().splitlines()
    assert len(csv) == 1 + 4  # header + 2 detectors x 2 entities
    assert "params" in csv[0].split(",")  # every output names the configuration's parameters


def test_report_on_an_empty_folder_fails_clearly(tmp_path):
    result = invoke("report", str(tmp_path))
    assert result.exit_code == 1 and "No run records" in result.stderr


def test_report_never_averages_different_hyper_parameters(tmp_path):
    base = [
        "detector=iforest",
        "dataset.length=400",
        "dataset.n_anomalies=4",
        f"results_dir={tmp_path}",
    ]
    for extra in (["seed=0"], ["seed=1"], ["seed=0", "detector.window=8"]):
        assert invoke("run", *base, *extra).exit_code == 0
    result = invoke("report", str(tmp_path))
    assert result.exit_code == 0
    summary = (tmp_path / "leaderboard.md").read_text().splitlines()
    header = next(line for line in summary if line.startswith("| detector |")).split(" | ")
    rows = [
        dict(zip(header, line.split(" | "), strict=True))
        for line in summary
        if line.startswith("| iforest |")
    ]
    # two configurations: window 32 (two seeds averaged) and window 8 (one seed), each named
    # by the parameters that differ from the detector's defaults
    assert sorted((r["params"], r["seeds"]) for r in rows) == [("defaults", "2"), ("window=8", "1")]


def test_evaluate_recomputes_stored_runs_without_retraining(tmp_path):
    base = [
        "detector=iforest",
        "detector.n_estimators=10",
        "dataset.length=400",
        "dataset.n_anomalies=4",
        f"results_dir={tmp_path}",
        "metrics.names=[auc_roc]",
    ]
    assert invoke("run", *base).exit_code == 0
    [before] = records(tmp_path)
    result = invoke(
        "evaluate", str(tmp_path), "--metric", "vus_pr(window=20)", "--metric", "pa_f1@oracle"
    )
    assert result.exit_code == 0, result.stderr
    assert "re-evaluated 1 run" in result.stderr
    [after] = records(tmp_path)
    assert set(after.metrics) == {"auc_roc", "vus_pr(window=20)", "pa_f1@oracle"}
    assert after.metrics["auc_roc"] == before.metrics["auc_roc"]
    assert after.time == before.time  # nothing was re-run
    assert after.metric_params["vus_pr(window=20)"]["params"]["window"] == 20


def test_evaluate_your_own_scores(tmp_path):
    import numpy as np

    y = np.zeros(200, dtype=int)
    y[50:60] = 1
    s = np.random.default_rng(0).normal(size=200) + 3 * y
    (tmp_path / "labels.csv").write_text(
        "time,label\n" + "".join(f"{i},{v}\n" for i, v in enumerate(y))
    )
    np.save(tmp_path / "scores.npy", s)
    result = invoke(
        "evaluate",
        "--labels",
        f"{tmp_path / 'labels.csv'}:label",
        "--scores",
        str(tmp_path / "scores.npy"),
        "--metric",
        "auc_pr",
        "--metric",
        "pa_f1@oracle",
        "--json",
    )
    assert result.exit_code == 0, result.stderr
    got = json.loads(result.stdout)
    from tsadbench.metrics import evaluate

    assert got == evaluate(y, s, ["auc_pr", "pa_f1@oracle"])

    missing = invoke(
        "evaluate",
        "--labels",
        str(tmp_path / "labels.csv"),
        "--scores",
        str(tmp_path / "scores.npy"),
    )
    assert missing.exit_code == 1 and "has 2 columns; name one as FILE:COLUMN" in missing.stderr
    short = invoke(
        "evaluate",
        "--labels",
        f"{tmp_path / 'labels.csv'}:label",
        "--scores",
        str(tmp_path / "scores.npy"),
        "--metric",
        "auc_pr",
    )
    assert short.exit_code == 0
    np.save(tmp_path / "short.npy", s[:10])
    bad = invoke(
        "evaluate",
        "--labels",
        f"{tmp_path / 'labels.csv'}:label",
        "--scores",
        str(tmp_path / "short.npy"),
        "--metric",
        "auc_pr",
        "--json",
    )
    # bad input is an error (exit 1, named), not a table of nulls
    assert bad.exit_code == 1 and "same length" in bad.stderr and not bad.stdout.strip()
    labels_only_normal = tmp_path / "normal.npy"
    np.save(labels_only_normal, np.zeros(200, dtype=int))
    undefined = invoke(
        "evaluate", "--labels", str(labels_only_normal), "--scores", str(tmp_path / "scores.npy"),
        "--metric", "auc_pr", "--metric", "vus_pr", "--json",
    )  # fmt: skip
    # a metric undefined on good input: null in JSON (never 0), its reason on stderr
    assert json.loads(undefined.stdout) == {"auc_pr": None, "vus_pr": None}
    assert "auc_pr:" in undefined.stderr and "undefined" in undefined.stderr


def test_leaderboard_shows_seed_spread_and_lists_failed_runs(tmp_path):
    base = [
        "dataset.length=400",
        "dataset.n_anomalies=4",
        f"results_dir={tmp_path}",
        "metrics.names=[auc_pr,f1@oracle]",
    ]
    for seed in ("seed=0", "seed=1"):
        assert (
            invoke("run", "detector=iforest", "detector.n_estimators=10", seed, *base).exit_code
            == 0
        )
    assert invoke("run", "detector=knn", "detector.n_neighbors=5000", *base).exit_code == 1
    result = invoke(
        "report", str(tmp_path), "--metric", "auc_pr", "--metric", "f1@oracle", "--no-random"
    )
    assert result.exit_code == 0, result.stderr
    md = (tmp_path / "leaderboard.md").read_text()
    [iforest] = [line for line in md.splitlines() if line.startswith("| iforest")]
    assert "| 2 | 2 / 2 |" in iforest and " ± " in iforest  # two seeds: mean ± std
    assert "| f1@oracle (random) |" in md and "| – |" in iforest  # no random run here
    assert "## Runs that did not finish (not averaged)" in md
    assert "| knn | synthetic | series_0 | 0 | error | ValueError: WindowKNN needs" in md
    [knn] = [line for line in md.splitlines() if line.startswith("| knn") and "/" in line]
    assert "| 0 / 1 |" in knn and "NaN" in knn  # listed, never averaged as 0


def test_a_users_dataset_config_picks_up_a_papers_per_dataset_settings(tmp_path):
    # a TAB file brought as CSV under the name VAN-AD's config uses: its settings apply
    (tmp_path / "dataset").mkdir()
    (tmp_path / "dataset" / "gecco.yaml").write_text("defaults:\n  - csv\npath: /x/GECCO.csv\n")
    done = subprocess.run(
        [sys.executable, "-m", "tsadbench", "run", "--config-dir", str(tmp_path),
         "detector=vanad", "dataset=gecco", "--cfg", "job"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "window: 50" in done.stdout and "lambda_nf: 0.05" in done.stdout
    assert "path: /x/GECCO.csv" in done.stdout


def test_a_pca_run_never_imports_torch(tmp_path):
    """``python -X importtime`` over a ``pca`` run (its parent and, through the inherited
    PYTHONPROFILEIMPORTTIME, its isolated child): no torch anywhere; the registry imports only
    the module that registers pca."""
    import os
    import re

    env = {**os.environ, "PYTHONPROFILEIMPORTTIME": "1"}
    args = [
        "detector=pca",
        "dataset.length=300",
        "dataset.n_anomalies=2",
        f"results_dir={tmp_path}",
    ]
    done = subprocess.run(
        [sys.executable, "-m", "tsadbench", "run", *args],
        capture_output=True, text=True, env=env, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    modules = [line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if "|" in line]
    assert modules.count("tsadbench.isolation") == 2  # the parent's and the child's imports
    # the child's work is in the output (its lazy import, through importlib, shows as the
    # package's submodules: -X importtime times only the import statement's own top module)
    assert any(m.startswith("sklearn.decomposition.") for m in modules)
    assert not [m for m in modules if re.match(r"(torch|timm|torchvision)(\.|$)", m)]
    probe = (
        "import sys; from tsadbench.registry import DETECTORS; DETECTORS.create('pca'); "
        "print(sorted(m for m in sys.modules if m.startswith(('torch', 'tsadbench.detectors.'))))"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert loaded.stdout.strip() == "['tsadbench.detectors.base', 'tsadbench.detectors.baselines']"


THROWAWAY = '''
"""Distance to the train mean: a throwaway detector, added in one module and one YAML."""

import numpy as np

from tsadbench.detectors import BaseDetector
from tsadbench.registry import register_detector


@register_detector("throwaway_mean", faithful=False, deviations=["a test's detector"])
class ThrowawayMean(BaseDetector):
    """Distance of each point to the train mean."""

    def __init__(self, *, power: float = 2.0):
        self.power = power

    def _fit(self, X):
        self.mean_ = X.mean(axis=0)

    def _score(self, X):
        return (np.abs(X - self.mean_) ** self.power).sum(axis=1)
'''


def test_a_detector_is_added_with_one_module_and_one_yaml(tmp_path, monkeypatch):
    """The contributor guide's steps, for real: a module in the detectors package (here a
    folder the package also searches) and its YAML; no list, registry or config to edit."""
    import tsadbench.detectors
    from tsadbench.registry import DETECTORS

    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "throwaway.py").write_text(THROWAWAY)
    (tmp_path / "conf" / "detector").mkdir(parents=True)
    (tmp_path / "conf" / "detector" / "throwaway_mean.yaml").write_text(
        "name: throwaway_mean\npower: 2.0\n"
    )
    monkeypatch.setattr(tsadbench.detectors, "__path__", [*tsadbench.detectors.__path__])
    tsadbench.detectors.__path__.append(str(tmp_path / "src"))
    monkeypatch.setattr(DETECTORS, "_index", None)  # discovered afresh
    monkeypatch.setattr(DETECTORS, "_entries", dict(DETECTORS._entries))
    assert "throwaway_mean" in DETECTORS.list()
    result = invoke(
        "run", "--config-dir", str(tmp_path / "conf"), "detector=throwaway_mean",
        "detector.power=1.0", "isolate=false", "dataset.length=300", "dataset.n_anomalies=2",
        f"results_dir={tmp_path / 'results'}",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    [record] = records(tmp_path / "results")
    assert record.status == "ok" and record.detector.name == "throwaway_mean"
    assert record.detector.params == {"power": 1.0} and record.detector.faithful is False
    assert record.code == code_identity(DETECTORS.get("throwaway_mean"))


@pytest.mark.parametrize(
    ("name", "text", "column"),
    [
        ("ints.txt", "0\n0\n1\n1\n0\n", ""),  # one value per line: the README's format
        ("header.txt", "label\n0\n0\n1\n1\n0\n", ""),
        ("floats.csv", "0.0\n0.0\n1.0\n1.0\n0.0\n", ""),
        ("named.csv", "time,label\n0,0\n1,0\n2,1\n3,1\n4,0\n", "label"),
        ("named.tsv", "time\tlabel\n0\t0\n1\t0\n2\t1\n3\t1\n4\t0\n", "label"),
        ("spaces.txt", "0 0\n1 0\n2 1\n3 1\n4 0\n", "1"),
    ],
)
def test_evaluate_reads_one_value_per_line_csv_and_tsv(tmp_path, name, text, column):
    from tsadbench.cli.evaluate import load_vector

    (tmp_path / name).write_text(text)
    spec = f"{tmp_path / name}:{column}" if column else str(tmp_path / name)
    np.testing.assert_array_equal(load_vector(spec, "labels"), [0, 0, 1, 1, 0])


@pytest.mark.parametrize(
    ("content", "column", "message"),
    [
        ("", "", "is empty"),
        ("a,b\n1,2\n", "", "has 2 columns; name one as FILE:COLUMN (a, b)"),
        ("a,b\n1,2\n", "c", "has no column 'c'; it has a, b"),
        ("0\n1\nx\n", "", "line 3: 'x' is not a number"),
        ("a,b\n1,2\n3\n", "b", "line 3: 1 fields, expected 2"),
        ("label\n", "", "has a header but no values"),
    ],
)
def test_evaluate_names_the_file_and_line_of_bad_input(tmp_path, content, column, message):
    from tsadbench.cli.evaluate import load_vector

    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(ValueError, match=re.escape(message)):
        load_vector(f"{path}:{column}" if column else str(path), "labels")
    with pytest.raises(ValueError, match="is a directory"):
        load_vector(str(tmp_path), "labels")
    np.save(tmp_path / "c.npy", np.array([1 + 2j, 0j]))
    with pytest.raises(ValueError, match="complex numbers"):
        load_vector(str(tmp_path / "c.npy"), "scores")


@pytest.mark.parametrize("detector", ["iforest", "pca", "tadgan"])
def test_the_library_pipeline_gives_the_scores_a_run_records(tmp_path, detector):
    """The same detector, parameters and data: the same scores from `tsadbench run` (scaled
    by the detector's own scaler: TadGAN's is min-max to [-1, 1]) and from Pipeline."""
    from tsadbench import Pipeline
    from tsadbench.data import load_dataset

    data = ["dataset.length=600", "dataset.n_anomalies=3", "dataset.n_channels=2"]
    fast = ["detector.n_epochs=1"] if detector == "tadgan" else []
    result = invoke(
        "run", f"detector={detector}", *data, *fast, "metrics.names=[auc_pr]", "seed=3",
        "store_train_scores=true", f"results_dir={tmp_path}",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    [record] = records(tmp_path)
    stored = store.read_scores(tmp_path, record.key)
    [entity] = load_dataset("synthetic", length=600, n_anomalies=3, n_channels=2).entities
    threshold = "test_ratio" if detector == "tadgan" else "train_quantile"
    model = Pipeline(
        detector, threshold=threshold, threads=record.threads, **record.detector.params
    ).fit(entity.train)
    assert model.scaler_ == record.preprocessing["scaler"]
    np.testing.assert_array_equal(model.decision_function(entity.test), stored.test)
    np.testing.assert_array_equal(model.decision_scores_, stored.train)
    assert model.predict(entity.test).dtype == np.int8


def test_the_readmes_python_examples_run(tmp_path):
    """Every ```python block of the README's "From Python" section runs as written."""
    import re

    readme = (Path(__file__).parents[2] / "README.md").read_text()
    section = readme.split("### From Python", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert blocks
    for block in blocks:
        done = subprocess.run(
            [sys.executable, "-c", block], capture_output=True, text=True, check=False,
            cwd=tmp_path,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert "vus_pr" in done.stdout


def test_the_terminal_leaderboard_fits_100_columns_without_breaking_numbers(tmp_path):
    metrics = "metrics.names=[vus_pr,vus_roc,auc_pr,auc_roc,f1@oracle,pa_f1@oracle]"
    for det in ("iforest", "pca"):
        args = ["run", f"detector={det}", "dataset.length=400", "dataset.n_anomalies=4", metrics]
        assert invoke(*args, f"results_dir={tmp_path}").exit_code == 0
    result = CliRunner().invoke(
        app, ["report", str(tmp_path), "--out", str(tmp_path / "out")], env={"COLUMNS": "100"}
    )
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines and max(map(len, lines)) <= 100
    rows = [line for line in lines if line.startswith("│ ")]
    assert {r.split("│")[1].strip() for r in rows} >= {"iforest", "pca", "random"}
    numbers = [cell.strip() for r in rows for cell in r.split("│")[6:-1]]
    assert numbers and all(re.fullmatch(r"(\d\.\d{4}|NaN|–)", n) for n in numbers), numbers
    assert "more metric(s) in leaderboard.md" in result.stdout  # the rest are in the file
    assert "defaults (not faithful)" in result.stdout  # the config's marks stay on screen
    assert "pa_f1@oracle" in (tmp_path / "out" / "leaderboard.md").read_text()
