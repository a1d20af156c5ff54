"""docs/leaderboard.md: generated from one sweep's stored records, ranked, with its diagram."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tsadbench import store
from tsadbench.report import board, load
from tsadbench.report.stats import ranks
from tsadbench.runner import RunSettings, run

ROOT = Path(__file__).resolve().parents[2]
REDUCED = "the test's settings: 6 short series"


def sweep(results: Path, detector: str, params: dict | None = None, **data) -> None:
    """``detector`` on six short synthetic series, as ``tsadbench run suite=leaderboard`` would
    record it."""
    run(
        RunSettings(
            detector=detector,
            detector_params=params if params is not None else {"random_state": 0},
            dataset="synthetic",
            dataset_params={"length": 300, "n_anomalies": 2, "n_channels": 2, "n_entities": 6}
            | data,
            metrics=["vus_pr", "vus_roc", "f1@oracle", "f1@train_quantile"],
            seed=0,
            results_dir=results,
            data_root=results,
            isolate=False,
            config={"data_root": None, "n_jobs": 3},
            reduced=REDUCED,
        ),
        log=lambda _: None,
    )


@pytest.fixture(scope="module")
def records(tmp_path_factory: pytest.TempPathFactory) -> Path:
    results = tmp_path_factory.mktemp("board") / "results"
    sweep(results, "pca", {})
    sweep(results, "iforest")
    sweep(results, "knn", {"window": 8})
    sweep(results, "random")
    # lof cannot make a window longer than the series: every run errors, and it is not ranked
    sweep(results, "lof", {"window": 5000})
    return results


def test_the_page_ranks_every_detector_with_a_value_on_every_series(records, tmp_path):
    kept = tmp_path / "docs" / "leaderboard" / "records.jsonl.gz"
    other = tmp_path / "other"
    sweep(other, "random", n_entities=2)
    assert len(board.collect(other, kept)) == 2
    assert len(board.collect(records, kept)) == 30  # a board is one sweep: earlier ones go
    runs = load(records)
    # the archive keeps the records whole, and the same records make the same bytes
    archived = store.read_archive(kept)
    assert len(archived) == 30
    for r in archived:
        assert r.to_dict() == store.read(records, r.key).to_dict()
    before = kept.read_bytes()
    board.collect(records, kept)
    assert kept.read_bytes() == before

    page_path = tmp_path / "docs" / "leaderboard.md"
    page = board.render(kept, page_path)
    ok = runs[runs["status"] == "ok"]

    # the ranks, recomputed from the records: average rank of vus_pr within each series
    table = ok.pivot_table(index="entity", columns="config", values="metric/vus_pr")
    names = ok.drop_duplicates("config").set_index("config")["detector"]
    expected = ranks(table).mean().sort_values()
    row = r"^\| (\d+) \| ([^|]+) \| (?:yes|no) \| (?:defaults|board's) \| ([\d.]+) \|"
    rows = re.findall(row, page, flags=re.M)
    shown = {d.strip("* "): float(r) for _, d, r in rows}
    assert shown == {names[c]: round(float(v), 2) for c, v in expected.items()}
    assert [int(p) for p, _, _ in rows] == list(range(1, len(expected) + 1))
    assert list(shown.values()) == sorted(shown.values())  # best (lowest) average rank first
    assert "random" in shown  # ranked with the others: the floor every detector must clear

    # vus_pr first, each F1 naming its protocol, the oracle said to be an upper bound
    header = next(line for line in page.splitlines() if line.startswith("| rank |"))
    assert header.index("vus_pr") < header.index("f1@train_quantile mean")
    assert "f1@oracle mean" in header and "upper" in page
    # the failed configuration is not ranked, and the page says why
    assert "## Not ranked" in page and "0 / 6" in page and "error" in page
    assert "window" in page.split("## Runs that did not finish")[1]
    # date, commit, machine, wall time and the reduction are stated
    assert re.search(r"\*\*Runs:\*\* \d{4}-\d{2}-\d{2}, commit .+, on .+cores", page)
    assert "**Wall time:**" in page and "3 run(s) at" in page and REDUCED in page
    # the critical-difference diagram is written beside the page and linked from it
    diagram = tmp_path / "docs" / "leaderboard" / "cd.svg"
    assert "](leaderboard/cd.svg)" in page
    assert diagram.read_text().startswith("<svg") and "random" in diagram.read_text()
    # regenerating is deterministic
    assert board.render(kept, page_path) == page


def test_a_board_with_fewer_than_five_series_has_no_diagram(tmp_path):
    results = tmp_path / "results"
    for det in ("pca", "iforest", "random"):
        sweep(results, det, {} if det == "pca" else None, n_entities=2)
    board.collect(results, tmp_path / "kept.jsonl.gz")
    page = board.render(tmp_path / "kept.jsonl.gz", tmp_path / "leaderboard.md")
    assert "No Friedman test or diagram" in page
    assert not (tmp_path / "leaderboard" / "cd.svg").exists()


def test_collect_refuses_a_folder_without_records(tmp_path):
    with pytest.raises(ValueError, match="No run records"):
        board.collect(tmp_path, tmp_path / "kept.jsonl.gz")


def test_the_committed_page_is_what_the_committed_records_make(tmp_path):
    """docs/leaderboard.md is never typed: `make leaderboard` regenerates it (and its diagram)
    from docs/leaderboard/records/ (run it and commit all three when any changes)."""
    page = ROOT / board.PAGE
    if not page.is_file():
        pytest.fail(f"{page} is missing: run `make leaderboard`.")
    made = board.render(ROOT / board.RECORDS, tmp_path / "leaderboard.md", board.RECORDS.as_posix())
    assert page.read_text() == made, (
        "docs/leaderboard.md differs from its records: run `make leaderboard`."
    )
    committed = ROOT / "docs" / "leaderboard" / board.DIAGRAM
    assert committed.read_text() == (tmp_path / "leaderboard" / board.DIAGRAM).read_text()
