"""`tsadbench report` on a small grid: the three files, a well-formed self-contained HTML page,
pooled aggregation, the automatic random baseline, failed runs listed and never averaged."""

from __future__ import annotations

import math
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tsadbench import store
from tsadbench.metrics import compute, parse_metric
from tsadbench.registry import DETECTORS
from tsadbench.report import build, load, pooled
from tsadbench.runner import RunSettings, run

METRICS = ["vus_pr", "auc_pr", "f1@oracle", "f1@train_quantile"]


def grid(results: Path, detectors=("iforest", "pca"), seeds=(0, 1)) -> None:
    """detectors × 2 datasets (seeded synthetic data, 3 entities each) × seeds, in-process."""
    for det in detectors:
        for data_seed in (0, 1):
            for seed in seeds:
                seeded = "random_state" in DETECTORS.get(det)._param_names()
                params = {"random_state": seed} if seeded else {}
                settings = RunSettings(
                    detector=det,
                    detector_params=params,
                    dataset="synthetic",
                    dataset_params={
                        "n_entities": 3,
                        "length": 600,
                        "n_anomalies": 3,
                        "n_channels": 2,
                        "random_state": data_seed,
                    },
                    metrics=METRICS,
                    seed=seed,
                    results_dir=results,
                    data_root=results,
                    isolate=False,
                    config={"data_root": None, "seed": seed},
                )
                run(settings, log=lambda _: None)


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("grid")
    grid(path, detectors=("iforest", "pca", "knn"))
    return path


class Checker(HTMLParser):
    """Balanced tags, and every src / href inside the page (no network, no local files)."""

    VOID = frozenset({"meta", "img", "br", "hr", "link", "input", "col"})

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.images: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("src", "href") and not (value or "").startswith(("data:", "#")):
                self.errors.append(f"<{tag} {name}={value!r}> points outside the page")
        if tag == "img":
            self.images.append(dict(attrs)["src"])
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes <{self.stack[-1] if self.stack else None}>")
        else:
            self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)


def test_report_writes_three_files_and_a_self_contained_page(results, tmp_path):
    report = build(results, tmp_path, METRICS, log=lambda _: None)
    assert {p.name for p in tmp_path.iterdir()} >= {"leaderboard.md", "results.csv", "report.html"}
    page = report.html.read_text()
    checker = Checker()
    checker.feed(page)
    checker.close()
    assert checker.errors == [] and checker.stack == []
    text = " ".join(checker.text)
    for section in (
        "Leaderboard",
        "Average ranks, Friedman test and critical difference",
        "Seed spread",
        "Per entity",
        "Series, labels and scores",
        "Runtime and memory",
    ):
        assert section in text
    assert "Friedman test: χ² =" in text and "critical difference CD =" in text
    # CD diagram + one plot per chosen entity (2 per dataset), all inline SVG
    assert len(checker.images) == 1 + 2 * 2
    assert all(src.startswith("data:image/svg+xml;base64,") for src in checker.images)
    assert "f1@<span class='oracle'>oracle</span>" in page  # oracle marked in the header
    assert "f1@<span class='oracle'>oracle</span> (random)" in page  # noise beside each F1
    md = report.markdown.read_text()
    assert "**Aggregation over entities: mean.**" in md and "Ranked by `vus_pr`" in md


def test_chosen_entities_are_plotted(results, tmp_path):
    report = build(results, tmp_path, METRICS, log=lambda _: None, plot_entities=["series_2"])
    checker = Checker()
    checker.feed(report.html.read_text())
    assert len(checker.images) == 1 + 2  # the CD diagram, series_2 of each dataset
    assert "series_2" in " ".join(checker.text)
    with pytest.raises(ValueError, match="No entity 'nope' in these records"):
        build(results, tmp_path, METRICS, log=lambda _: None, plot_entities=["nope"])


def test_the_random_baseline_is_run_when_missing_and_only_then(results, tmp_path):
    build(results, tmp_path, METRICS, log=lambda _: None)
    runs = load(results)
    rnd = runs[runs["detector"] == "random"]
    # one random run per dataset settings × seed × entity: 2 datasets × 2 seeds × 3 entities
    assert len(rnd) == 12 and (rnd["status"] == "ok").all()
    made = []
    build(results, tmp_path, METRICS, log=made.append)
    assert not any("ran the random detector" in m for m in made)


def test_the_random_baseline_loads_a_labelled_dataset_with_its_loader(tmp_path):
    """A dataset config with a ``label`` (the NAB family suites, a user's own config) names its
    data by the label: the random baseline must load it with the recorded loader."""
    run(
        RunSettings(
            detector="pca",
            detector_params={},
            dataset="my_synth",
            dataset_loader="synthetic",
            dataset_params={"length": 300, "n_anomalies": 2},
            metrics=["auc_pr", "f1@oracle"],
            seed=0,
            results_dir=tmp_path,
            data_root=tmp_path,
            isolate=False,
        ),
        log=lambda _: None,
    )
    said = []
    build(tmp_path, tmp_path / "out", ["auc_pr", "f1@oracle"], log=said.append)
    runs = load(tmp_path)
    rnd = runs[runs["detector"] == "random"]
    assert len(rnd) == 1 and rnd["status"].tolist() == ["ok"], said
    assert set(rnd["dataset"]) == {"my_synth"} and set(rnd["data"]) == set(runs["data"])


def test_no_random_means_no_new_runs(tmp_path):
    grid(tmp_path, detectors=("pca",), seeds=(0,))
    build(tmp_path, tmp_path / "out", METRICS, random=False, log=lambda _: None)
    assert set(load(tmp_path)["detector"]) == {"pca"}
    md = (tmp_path / "out" / "leaderboard.md").read_text()
    assert "| – |" in md  # no random value to show: a dash, never a made-up number


def test_pooled_computes_each_metric_on_the_concatenated_entities(results):
    runs = load(results)
    table = pooled(runs, METRICS)
    group = runs[(runs["detector"] == "iforest") & (runs["seed"] == 0)]
    group = group[group["data"] == group["data"].iloc[0]].sort_values("entity")
    parts = [store.read_scores(Path(f).parent, Path(f).name) for f in group["folder"]]
    cat = {k: np.concatenate([getattr(p, k) for p in parts]) for k in ("labels", "test", "train")}
    [row] = table[
        (table["detector"] == "iforest")
        & (table["seed"] == 0)
        & (table["data"] == group["data"].iloc[0])
    ].to_dict("records")
    for name in METRICS:
        expected = compute(parse_metric(name), cat["labels"], cat["test"], cat["train"])
        assert row[f"metric/{name}"] == pytest.approx(expected, abs=1e-12)
    # pooling is not averaging: the two aggregations differ on this data
    mean_auc = group["metric/auc_pr"].mean()
    assert not math.isclose(row["metric/auc_pr"], mean_auc, abs_tol=1e-9)


def test_pooled_refuses_a_group_with_a_failed_entity(results, tmp_path):
    runs = load(results)
    runs.loc[runs.index[0], "status"] = "error"
    table = pooled(runs, ["auc_pr"])
    bad = table[table["status"] == "error"]
    assert len(bad) == 1 and "cannot pool: 1 of 3 entities did not finish" in bad.iloc[0]["error"]
    assert np.isnan(bad.iloc[0].get("metric/auc_pr", np.nan))


def test_failed_runs_are_listed_and_never_averaged(tmp_path):
    grid(tmp_path, detectors=("pca",), seeds=(0,))
    settings = RunSettings(
        detector="knn",
        detector_params={"n_neighbors": 5000},  # more than the training windows: fit raises
        dataset="synthetic",
        dataset_params={"n_entities": 1, "length": 600, "n_anomalies": 3, "n_channels": 2},
        metrics=METRICS,
        seed=0,
        results_dir=tmp_path,
        data_root=tmp_path,
        isolate=False,
    )
    run(settings, log=lambda _: None)
    report = build(tmp_path, tmp_path / "out", METRICS, random=False, log=lambda _: None)
    [knn] = [
        dict(zip(report.board.header, r, strict=True)) for r in report.board.rows if r[0] == "knn"
    ]
    assert knn["ok / runs"] == "0 / 1" and knn[METRICS[0]] == "NaN"
    assert [f[0] for f in report.board.failed] == ["knn"]
    page = report.html.read_text()
    assert "Runs that did not finish (not averaged)" in page and "WindowKNN" in page


def test_published_scores_stand_beside_ours(tmp_path):
    paper = {
        "source": "A paper, Table 1",
        "detector": "pca",
        "scores": {"synthetic": {"auc_pr": 0.5, "vus_pr": 0.9}},
    }
    settings = RunSettings(
        detector="pca",
        detector_params={},
        dataset="synthetic",
        dataset_params={"length": 600, "n_anomalies": 3, "n_channels": 2},
        metrics=METRICS,
        seed=0,
        results_dir=tmp_path,
        data_root=tmp_path,
        isolate=False,
        config={"paper": paper, "data_root": None},
    )
    [record] = run(settings, log=lambda _: None)
    report = build(tmp_path, tmp_path / "out", METRICS, random=False, log=lambda _: None)
    md = report.markdown.read_text()
    assert "## Published versus ours" in md
    ours = record.metrics["auc_pr"]
    row = f"| pca | synthetic | auc_pr | 0.500 | {ours:.3f} | {ours - 0.5:+.3f} | A paper, Table 1"
    assert row in md
    assert "Published versus ours" in report.html.read_text()


def test_a_metric_undefined_on_one_entity_is_not_averaged_away(results):
    from tsadbench.report import leaderboard

    runs = load(results)
    first = runs.index[(runs["detector"] == "pca") & (runs["status"] == "ok")][0]
    runs.loc[first, "metric/auc_pr"] = float("nan")  # as a record with an undefined metric
    board = leaderboard(runs, ["auc_pr"])
    data = runs.loc[first, "data"]
    cells = [dict(zip(board.header, r, strict=True)) for r in board.rows]
    [row] = [r for r in cells if r["detector"] == "pca" and r["data"] == data]
    # the seed with the undefined entity has no dataset value: one seed left, not two
    assert row["seeds"] == "1" and "±" not in row["auc_pr"]


def test_counts_summed_over_signals_a_label_and_a_reduced_run(tmp_path):
    """Orion's rule: F1 from TP / FP / FN summed over the signals, not a mean of per-signal F1;
    a dataset ``label`` names the data in records and report; a reduced run says so."""
    counts = ["orion_overlap_tp@fixed(t=2.0)", "orion_overlap_fp@fixed(t=2.0)"]
    counts.append("orion_overlap_fn@fixed(t=2.0)")
    f1 = "orion_overlap_f1@fixed(t=2.0)"
    paper = {
        "source": "Orion",
        "detector": "pca",
        "aggregation": "summed_counts",
        "scores": {"synth_a": {f1: 0.5}},
    }
    settings = RunSettings(
        detector="pca",
        detector_params={},
        dataset="synth_a",
        dataset_loader="synthetic",
        dataset_params={"n_entities": 3, "length": 600, "n_anomalies": 3, "n_channels": 2},
        metrics=[f1, *counts],
        seed=0,
        results_dir=tmp_path,
        data_root=tmp_path,
        isolate=False,
        config={"paper": paper, "data_root": None, "reduced": "2 epochs (paper: 70)"},
        reduced="2 epochs (paper: 70)",
    )
    records = run(settings, log=lambda _: None)
    assert {r.dataset.name for r in records} == {"synth_a"}
    assert {r.dataset.loader for r in records} == {"synthetic"}
    assert {r.reduced for r in records} == {"2 epochs (paper: 70)"}
    tp, fp, fn = (sum(r.metrics[c] for r in records) for c in counts)
    summed = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
    mean_f1 = float(np.mean([r.metrics[f1] for r in records]))
    report = build(tmp_path, tmp_path / "out", [f1], random=False, log=lambda _: None)
    md = report.markdown.read_text()
    row = next(line for line in md.splitlines() if line.startswith("| pca | synth_a | orion"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[4].startswith(f"{summed:.3f} (reduced: 2 epochs (paper: 70))")
    assert "summed over the signals" in cells[6]
    assert round(summed, 3) != round(mean_f1, 3)  # the two rules differ on these signals
    assert any("(reduced)" in r[1] for r in report.board.rows)


def test_an_unknown_published_aggregation_is_an_error(tmp_path):
    from tsadbench.report import published

    runs = load_one_run(tmp_path, {"source": "x", "detector": "pca", "aggregation": "median",
                                   "scores": {"synthetic": {"auc_pr": 0.5}}})  # fmt: skip
    with pytest.raises(ValueError, match="aggregation 'median'"):
        published(runs)


def load_one_run(path: Path, paper: dict) -> object:
    settings = RunSettings(
        detector="pca",
        detector_params={},
        dataset="synthetic",
        dataset_params={"length": 300, "n_anomalies": 2, "n_channels": 1},
        metrics=["auc_pr"],
        seed=0,
        results_dir=path,
        data_root=path,
        isolate=False,
        config={"paper": paper, "data_root": None},
    )
    run(settings, log=lambda _: None)
    return load(path)


def test_two_suites_citing_one_source_keep_both_tables(tmp_path):
    from tsadbench.report import published

    def block(dataset: str) -> dict:
        return {"source": "Orion", "detector": "pca", "scores": {dataset: {"auc_pr": 0.5}}}

    load_one_run(tmp_path / "a", block("synthetic"))
    runs = load_one_run(tmp_path / "b", block("elsewhere"))
    import pandas as pd

    both = pd.concat([load(tmp_path / "a"), runs])
    rows = published(both)
    assert {r[1] for r in rows} == {"synthetic", "elsewhere"}


def test_a_reconstruction_is_marked_and_the_official_threshold_pools_window_energies(tmp_path):
    """amad (faithful: false) on synthetic data with the Anomaly Transformer's protocol: the
    runner stores the window energies the compat threshold pools, and the report marks the row."""
    at_f1 = "pa_f1(compat='anomaly_transformer')@train_test_ratio(compat='anomaly_transformer')"
    metrics = [at_f1, "pa_f1@train_test_ratio", "auc_pr"]
    params = {**DETECTORS.get("amad").test_params, "random_state": 0, "device": "cpu"}
    settings = RunSettings(
        detector="amad",
        detector_params=params,
        dataset="synthetic",
        dataset_params={"n_entities": 1, "length": 400, "n_anomalies": 3, "n_channels": 2},
        metrics=metrics,
        seed=0,
        results_dir=tmp_path,
        data_root=tmp_path,
        isolate=False,
        config={"data_root": None},
    )
    [record] = run(settings, log=lambda _: None)
    assert record.status == "ok", record.error
    assert record.detector.faithful is False
    assert all(math.isfinite(record.metrics[m]) for m in metrics)
    arrays = store.read_scores(tmp_path, record.key)
    n_train = record.dataset.n_train
    window, stride = params["window"], 1
    assert arrays.train_energies.shape == (((n_train - window) // stride + 1) * window,)
    spec = parse_metric(at_f1)
    again = compute(spec, arrays.labels, arrays.test, arrays.train, arrays.train_energies)
    assert again == record.metrics[at_f1]
    frame = load(tmp_path)
    assert frame["config"].str.endswith("(not faithful)").all()


def test_pooled_says_why_records_kept_without_scores_cannot_be_pooled(tmp_path):
    """The reproductions keep record.json only: --aggregate pooled names that, not a crash."""
    from tsadbench.report.reproductions import RECORDS

    runs = load(Path(__file__).resolve().parents[2] / RECORDS)
    table = pooled(runs, ["auc_pr"])
    assert (table["status"] == "error").all()
    assert table["error"].str.contains("kept without their scores").all()


def _ranking(blocks: int, detectors: list[str], missing: tuple[str, str] | None = None) -> str:
    """The HTML ranks section on ``blocks`` datasets (one entity each) of made-up values."""
    from tsadbench.report.html import _ranks_section

    rng = np.random.default_rng(0)
    rows = [
        {"dataset": f"set{b}", "data": "d0", "entity": "e", "seed": 0, "label": det,
         "metric/vus_pr": float(rng.random())}
        for b in range(blocks)
        for det in detectors
        if (f"set{b}", det) != missing
    ]  # fmt: skip
    return "".join(_ranks_section(pd.DataFrame(rows), "metric/vus_pr", "vus_pr"))


def test_a_rank_test_on_too_few_blocks_says_so_and_draws_no_diagram():
    many = [f"det{i}" for i in range(13)]
    few = _ranking(4, many)  # the CI report's case: 13 detectors on 4 blocks
    assert "No Friedman test or critical-difference diagram: 4 blocks are too few" in few
    assert "critical-difference diagram'" not in few and "average rank" in few
    assert "No Friedman test: it needs at least 3 ranked detectors" in _ranking(6, ["a", "b"])
    enough = _ranking(12, ["a", "b", "c"])
    assert "Friedman test: χ² =" in enough and "critical-difference diagram'" in enough


def test_a_block_where_a_detector_did_not_run_is_named_when_left_out():
    # oraclead cannot run on univariate NAB: the block leaves the ranking, and the page says so
    text = _ranking(8, ["iforest", "pca", "oraclead"], missing=("set3", "oraclead"))
    assert "within each of 7 datasets where every ranked detector has a value" in text
    assert "Left out of the ranking (1 block(s)): set3 / d0 (no value for oraclead)" in text


def _balanced(tex: str) -> None:
    """A LaTeX-free check: every \\begin{env} closed by its \\end{env}, in order; braces
    balanced on every line; each tabular row as many cells as its column spec says."""
    import re

    stack = []
    for kind, env in re.findall(r"\\(begin|end)\{(\w+)\}", tex):
        if kind == "begin":
            stack.append(env)
        else:
            assert stack and stack.pop() == env, f"\\end{{{env}}} closes nothing open"
    assert not stack, f"unclosed: {stack}"
    for line in tex.splitlines():
        unescaped = re.sub(r"\\[{}]", "", line)
        assert unescaped.count("{") == unescaped.count("}"), line
    for spec, body in re.findall(r"\\begin\{tabular\}\{(\w+)\}(.*?)\\end\{tabular\}", tex, re.S):
        rows = [r for r in body.split("\\\\") if "&" in r]
        assert rows and all(len(re.split(r"(?<!\\)&", r)) == len(spec) for r in rows)


def test_paper_ready_tables_in_latex_and_wide_csv(results, tmp_path):
    import csv

    report = build(results, tmp_path, METRICS, log=lambda _: None, formats=["latex", "csv"])
    assert sorted(f.name for f in report.files) == ["results.csv", "table.csv", "table.tex"]
    tex = (tmp_path / "table.tex").read_text()
    _balanced(tex)
    assert tex.count("\\begin{table}") == len(METRICS) and "\\toprule" in tex
    assert "f1@oracle (oracle: threshold chosen on the test labels" in tex
    assert "\\textbf{" in tex and "$\\pm$" in tex and "vus\\_pr" in tex
    rows = list(csv.DictReader((tmp_path / "table.csv").open()))
    datasets = [c for c in rows[0] if c not in ("metric", "threshold", "detector", "params")]
    assert len(datasets) == 2  # one synthetic dataset run with two data settings: both named
    assert {r["metric"] for r in rows} == set(METRICS)
    oracle = [r for r in rows if r["metric"] == "f1@oracle"]
    assert all(r["threshold"].startswith("oracle") for r in oracle)
    for d in datasets:  # the best per dataset in bold, exactly one per metric (no ties here)
        for m in METRICS:
            cells = [r[d] for r in rows if r["metric"] == m]
            assert sum(c.startswith("**") for c in cells) >= 1
            assert all(re.fullmatch(r"\**\d\.\d{3}( ± \d\.\d{3})?\**", c) for c in cells), cells
    with pytest.raises(ValueError, match="--format must be among md, csv, latex, html"):
        build(results, tmp_path, METRICS, log=lambda _: None, formats=["pdf"])


def test_the_latex_table_compiles_where_pdflatex_is_installed(results, tmp_path):
    import shutil
    import subprocess

    if shutil.which("pdflatex") is None:
        pytest.skip("no pdflatex here (the balanced-environment check above still runs)")
    build(results, tmp_path, METRICS, log=lambda _: None, formats=["latex"])
    (tmp_path / "doc.tex").write_text(
        "\\documentclass{article}\n\\usepackage{booktabs}\n\\begin{document}\n"
        "\\input{table.tex}\n\\end{document}\n"
    )
    done = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "doc.tex"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:]
    assert (tmp_path / "doc.pdf").stat().st_size > 0


def test_the_page_marks_cells_below_random_and_formats_numbers_one_way():
    from tsadbench.report.html import _fmt, _table

    page = _table(
        ["detector", "f1@oracle", "f1@oracle (random)"],
        [["a", "0.4000 ± 0.0100", "0.5000"], ["b", "**0.7000**", "0.5000"]],
    )
    assert page.count("class='below'") == 1 and "<td class='below'>0.4000 ± 0.0100" in page
    assert [_fmt(v) for v in (6.912e-05, 0.5, 12.3456, 229_200.0, float("nan"))] == [
        "0.0001", "0.5000", "12.346", "229,200", "–",
    ]  # fmt: skip


def test_plots_draw_the_threshold_and_keep_many_detectors_apart():
    from tsadbench.report import svg

    labels = np.zeros(100, dtype=np.int8)
    labels[40:45] = 1
    series = {f"det{i}": np.sin(np.arange(100) / (i + 1)) for i in range(12)}
    picture = svg.panels(labels, series, "t", thresholds={"det0": 0.5}, threshold_name="f1@q")
    assert picture.count("<line ") == 1 and "dashed: the f1@q threshold" in picture
    styles = [svg.style(i) for i in range(12)]
    assert len(set(styles)) == 12  # colours, then dash patterns: twelve lines, twelve looks


def test_plots_leave_out_constant_channels(tmp_path):
    # synthetic series with a constant first channel: the plot shows the channels that vary
    settings = RunSettings(
        detector="pca",
        detector_params={},
        dataset="csv",
        dataset_params={"path": str(tmp_path / "flat.csv"), "train": 100},
        metrics=["auc_pr", "f1@train_quantile"],
        seed=0,
        results_dir=tmp_path / "results",
        data_root=tmp_path,
        isolate=False,
        config={"data_root": str(tmp_path)},
    )
    rng = np.random.default_rng(0)
    rows = "".join(f"1.0,{rng.normal():.4f},{int(150 <= i < 155)}\n" for i in range(300))
    (tmp_path / "flat.csv").write_text("flat,wavy,label\n" + rows)
    run(settings, log=lambda _: None)
    report = build(tmp_path / "results", tmp_path / "out", None, random=False, log=lambda _: None)
    page = report.html.read_text()
    import base64

    [uri] = [s for s in re.findall(r"src='data:image/svg\+xml;base64,([^']+)'", page)
             if "channel" in base64.b64decode(s).decode()]  # fmt: skip
    svg_text = base64.b64decode(uri).decode()
    assert ">channel 1<" in svg_text and ">channel 0<" not in svg_text
    assert "dashed: the f1@train_quantile threshold" in svg_text
