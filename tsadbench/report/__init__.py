"""Reports from stored run records, in three layers: :mod:`~tsadbench.report.load` (records
-> one data frame), :mod:`~tsadbench.report.aggregate` (numbers only: leaderboard, pooled,
published versus ours) and the renderers (:mod:`~tsadbench.report.render`: Markdown and terminal
tables; :mod:`~tsadbench.report.html`: the page). :func:`build` joins them for ``tsadbench
report``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from tsadbench.report.aggregate import (
    AGGREGATES,
    HEADLINE,
    Leaderboard,
    PublishedCell,
    leaderboard,
    pooled,
    published_cells,
    wide,
)
from tsadbench.report.html import render
from tsadbench.report.load import KEYS, add_random_runs, load, paper_blocks
from tsadbench.report.render import (
    latex,
    leaderboard_table,
    markdown,
    published,
    records_table,
    wide_csv,
)

__all__ = [
    "FORMATS",
    "KEYS",
    "Leaderboard",
    "PublishedCell",
    "Report",
    "add_random_runs",
    "build",
    "leaderboard",
    "leaderboard_table",
    "load",
    "paper_blocks",
    "pooled",
    "published",
    "published_cells",
    "records_table",
]


#: what ``tsadbench report --format`` writes: ``md`` leaderboard.md, ``csv`` results.csv (one row
#: per run) and table.csv (wide: datasets as columns), ``latex`` table.tex (booktabs), ``html``
#: report.html
FORMATS = ("md", "csv", "latex", "html")


@dataclass(frozen=True)
class Report:
    board: Leaderboard
    files: list[Path]  # what was written

    def _named(self, name: str) -> Path:
        return next(f for f in self.files if f.name == name)

    @property
    def markdown(self) -> Path:
        return self._named("leaderboard.md")

    @property
    def csv(self) -> Path:
        return self._named("results.csv")

    @property
    def html(self) -> Path:
        return self._named("report.html")


def build(
    results_dir: str | Path,
    out: str | Path,
    metrics: Sequence[str] | None = None,
    aggregate: str = "mean",
    random: bool = True,
    log: Callable[[str], None] = print,
    plot_entities: Sequence[str] = (),
    formats: Sequence[str] = FORMATS,
) -> Report:
    """Load the records (running the ``random`` baseline where it is missing, unless
    ``random=False``), write ``leaderboard.md``, ``results.csv`` (one row per run) and
    ``report.html`` into ``out``. ``metrics``: the leaderboard's columns, ranked by the first
    (default: the headline ones present, ``vus_pr`` first). ``aggregate``: ``mean`` of the
    per-entity values, or ``pooled`` (each metric on the concatenated entities)."""
    if aggregate not in AGGREGATES:
        raise ValueError(f"--aggregate must be one of {AGGREGATES}. Got {aggregate!r}.")
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown or not formats:
        raise ValueError(f"--format must be among {', '.join(FORMATS)}. Got {', '.join(unknown)}.")
    runs = load(results_dir)
    present = [c.removeprefix("metric/") for c in runs.columns if c.startswith("metric/")]
    if metrics:  # every check before anything is run or written
        missing = sorted(set(metrics) - set(present))
        if missing:
            raise ValueError(
                f"No metric {', '.join(map(repr, missing))} in these records; "
                f"they hold: {', '.join(present)}."
            )
    if plot_entities and not set(plot_entities) & set(runs["entity"]):
        raise ValueError(
            f"No entity {', '.join(map(repr, plot_entities))} in these records; they hold: "
            f"{', '.join(sorted(map(str, runs['entity'].unique()))[:20])}."
        )
    if random and add_random_runs(runs, results_dir, log):
        runs = load(results_dir)
    chosen = list(metrics) if metrics else ([m for m in HEADLINE if m in present] or present)
    table = pooled(runs, chosen) if aggregate == "pooled" else runs
    board = leaderboard(table, chosen)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paper_rows = published(runs)
    files = []
    if "md" in formats:
        files.append(out / "leaderboard.md")
        files[-1].write_text(markdown(table, chosen, aggregate, paper_rows))
    tables = wide(table, chosen) if {"csv", "latex"} & set(formats) else []
    if "csv" in formats:
        files += [out / "results.csv", out / "table.csv"]
        runs.drop(columns=["folder"]).to_csv(files[-2], index=False)
        files[-1].write_text(wide_csv(tables))
    if "latex" in formats:
        files.append(out / "table.tex")
        files[-1].write_text(latex(tables))
    if "html" in formats:
        files.append(out / "report.html")
        files[-1].write_text(
            render(
                runs, table, board, chosen, aggregate, str(results_dir), plot_entities, paper_rows
            )
        )
    return Report(board=board, files=files)
