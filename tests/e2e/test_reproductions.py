"""docs/reproductions.md: generated from stored records, every published cell listed."""

from __future__ import annotations

from pathlib import Path

import pytest

from tsadbench.report import reproductions
from tsadbench.runner import RunSettings, run

ROOT = Path(__file__).resolve().parents[2]


def suite_run(results: Path, detector: str, paper: dict | None) -> None:
    """``detector`` on a short synthetic series, in a suite carrying ``paper`` (None: no
    suite), as ``tsadbench run suite=paper_x detector=...`` would record it."""
    suite = {"paper": paper, "reduced": "1 entity (paper: 2)"} if paper else {}
    run(
        RunSettings(
            detector=detector,
            detector_params={} if detector == "pca" else {"random_state": 0},
            dataset="synthetic",
            dataset_params={"length": 300, "n_anomalies": 2, "n_channels": 1},
            metrics=["auc_pr", "vus_pr"],
            seed=0,
            results_dir=results,
            data_root=results,
            isolate=False,
            config={"data_root": None, **suite},
            command=f"tsadbench run suite=paper_x detector={detector}" if paper else None,
            reduced=suite.get("reduced"),
        ),
        log=lambda _: None,
    )


def test_the_page_puts_every_published_cell_beside_ours_with_how_it_was_made(tmp_path):
    paper = {
        "source": "Someone et al. (2030), Table 9",
        "detector": "pca",
        "scores": {"synthetic": {"auc_pr": 0.25}, "elsewhere": {"vus_pr": 0.5}},
    }
    results = tmp_path / "results"
    suite_run(results, "pca", paper)
    suite_run(results, "iforest", None)  # a plain run (no paper block) is not collected
    suite_run(results, "random", paper)  # the same suite: what noise scores on its protocol
    records = tmp_path / "docs" / "records"
    assert len(reproductions.collect(results, records)) == 2
    (tmp_path / "docs" / reproductions.NOTES).write_text(
        "'(a table no shipped suite carries now)': {elsewhere: the data is not here}\n"
    )
    page = reproductions.render(records)
    from tsadbench.report import load

    runs = load(records).set_index("detector")
    ours, noise_value = float(runs.loc["pca", "metric/auc_pr"]), runs.loc["random", "metric/auc_pr"]
    row = next(line for line in page.splitlines() if line.startswith("| synthetic | `auc_pr`"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[2] == "0.250" and cells[3] == f"{ours:.3f} (reduced)"
    word = "misses" if ours < 0.25 else "exceeds"
    assert cells[4] == f"{ours - 0.25:+.3f} ({word})"
    assert cells[5] == f"{float(noise_value):.3f}"  # random on the same protocol
    assert cells[6] == "reduced: 1 entity (paper: 2)"
    assert cells[8] == "1 / 1" and "cores" in cells[10]
    # the same runs without a threshold, random's beside (vus_roc was not computed: –)
    vus = float(runs.loc["pca", "metric/vus_pr"])
    noise_vus = float(runs.loc["random", "metric/vus_pr"])
    threshold_free = f"| synthetic | {vus:.3f} ({noise_vus:.3f}) | – | {ours:.3f} ("
    assert threshold_free in page
    assert "| elsewhere | `vus_pr` | 0.500 | not run |" in page
    assert "- elsewhere: the data is not here" in page
    assert "- `tsadbench run suite=paper_x detector=pca`" in page
    assert "Someone et al. (2030), Table 9" in page
    # every shipped suite's published cells are listed, run or not
    assert "| paper_anomaly_transformer | Xu et al., Anomaly Transformer, Table 1 |" in page
    assert page.count("| paper_tadgan_nasa |") == 6


def test_the_committed_page_is_what_the_committed_records_make():
    """docs/reproductions.md is never typed: `make reproductions` regenerates it from
    docs/reproductions/records/ (run it and commit both when either changes)."""
    page = ROOT / reproductions.PAGE
    if not page.is_file():
        pytest.fail(f"{page} is missing: run `make reproductions`.")
    made = reproductions.render(ROOT / reproductions.RECORDS, reproductions.RECORDS.as_posix())
    assert page.read_text() == made, (
        "docs/reproductions.md differs from its records: run `make reproductions`."
    )


def test_the_report_reads_records_kept_without_their_scores(tmp_path):
    """The reproductions keep record.json only: `tsadbench report` on them gives its tables
    and leaves out the score plots it cannot draw."""
    from tsadbench.report import build

    results = tmp_path / "results"
    suite_run(results, "pca", None)
    suite_run(results, "random", None)
    for scores in results.rglob("scores.npz"):
        scores.unlink()
    report = build(results, tmp_path / "out", None, random=False, log=lambda _: None)
    assert "<img alt='synthetic" not in report.html.read_text()  # no scores, no score plot
    assert [row[0] for row in report.board.rows] == ["pca", "random"]
