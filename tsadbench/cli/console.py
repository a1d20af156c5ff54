"""The command line's console: where every command prints its tables and its errors."""

from __future__ import annotations

from typing import TYPE_CHECKING, NoReturn

if TYPE_CHECKING:
    from rich.console import Console


def console(stderr: bool = False) -> Console:
    """A rich console; piped output gets 160 columns instead of 80, so tables stay readable."""
    import sys

    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    return Console(stderr=stderr, width=None if stream.isatty() else 160)


def fail(message: str) -> NoReturn:
    """Print ``Error: message`` on stderr and exit with status 1 (a bad setting, a bad file)."""
    import typer

    console(stderr=True).print(f"[bold red]Error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code=1)
