"""What the generated documentation pages (``docs/reproductions.md``, ``docs/leaderboard.md``)
share: the lines that say where their runs were made, and their command line (``collect`` a
sweep's records, ``render`` the page from the kept records)."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from tsadbench.record import RunRecord


def unique(values: Iterable[Any]) -> list[str]:
    """The non-empty values as text, each once, in first-seen order."""
    return list(dict.fromkeys(str(v) for v in values if v))


def dates(records: Sequence[RunRecord]) -> str:
    days = sorted({r.started[:10] for r in records if r.started})
    return "–" if not days else days[0] if len(days) == 1 else f"{days[0]} – {days[-1]}"


def machines(records: Sequence[RunRecord]) -> str:
    def one(env: dict[str, Any]) -> str:
        text = f"{env.get('cpu', '?')}, {env.get('cpu_count', '?')} cores"
        return text + (f", {env['gpu']}" if env.get("gpu") else ", no GPU")

    return "; ".join(unique(one(r.environment) for r in records)) or "–"


def commits(records: Sequence[RunRecord]) -> str:
    return ", ".join(unique(str(r.environment.get("git_commit") or "")[:7] for r in records)) or "–"


def main(
    prog: str,
    collect: Callable[[Path, Path], list[str]],
    render: Callable[[Path, Path], str],
    records: Path,
    page: Path,
    argv: Sequence[str] | None = None,
) -> None:
    """``prog collect RESULTS_DIR [--records R]`` keeps a sweep's records in ``records``;
    ``prog render [--records R] [--out PAGE]`` writes the page from them."""
    parser = argparse.ArgumentParser(prog=prog)
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("collect", help=f"keep the records of a sweep in {records}")
    c.add_argument("results_dir", type=Path)
    c.add_argument("--records", type=Path, default=records)
    r = sub.add_parser("render", help=f"write the page from {records}")
    r.add_argument("--records", type=Path, default=records)
    r.add_argument("--out", type=Path, default=page)
    args = parser.parse_args(argv)
    if args.command == "collect":
        if not args.results_dir.is_dir():
            parser.error(f"the results directory {args.results_dir} does not exist")
        keys = collect(args.results_dir, args.records)
        print(f"copied {len(keys)} record(s) into {args.records}")
    else:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(render(args.records, args.out))
        print(f"wrote {args.out}")
