"""The command line's console: where every command prints its tables and its errors."""

from __future__ import annotations

from typing import TYPE_CHECKING, NoReturn

if TYPE_CHECKING:
    from rich.console import Console


def console(stderr: bool = False) -> Console:
    """A rich console; piped output gets 160 columns instead of 80, so tables stay readable
    (``COLUMNS`` set says otherwise)."""
    import os
    import sys

    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    given = stream.isatty() or bool(os.environ.get("COLUMNS"))
    return Console(stderr=stderr, width=None if given else 160)


def fail(message: str) -> NoReturn:
    """Print ``Error: message`` on stderr and exit with status 1 (a bad setting, a bad file)."""
    from rich.markup import escape

    # the message is text, not markup: '[start, stop]' is kept and '[/b]' cannot crash the printer
    text = f"[bold red]Error:[/] {escape(message)}"
    console(stderr=True).print(text, highlight=False, soft_wrap=True)
    raise SystemExit(1)  # not typer.Exit: it also ends a Hydra task (tsadbench run) cleanly
