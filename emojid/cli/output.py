"""What commands print and read: aligned tables, one JSON document, passwords,
and shell completion of pack and account names."""

from __future__ import annotations

import json
import sqlite3
import sys
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click
from click.shell_completion import CompletionItem

from emojid.cli.base import CliError, state

JSON_HELP = "Print one JSON document on stdout (for scripts) instead of the table."
F = TypeVar("F", bound=Callable[..., Any])


def json_option(help: str = JSON_HELP) -> Callable[[F], F]:
    return click.option("--json", "as_json", is_flag=True, help=help)


def echo_json(doc: Any) -> None:
    click.echo(json.dumps(doc, indent=2, ensure_ascii=False))


def _width(text: str) -> int:
    from rich.cells import cell_len

    return cell_len(text)


def clip(text: str | None, limit: int = 48) -> str:
    """One line of at most `limit` characters, for a table cell."""
    line = " ".join((text or "").split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def echo_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """An aligned table with a header line; nothing at all when there are no rows."""
    if not rows:
        return
    cells = [[("" if value is None else str(value)) for value in row] for row in rows]
    widths = [max([_width(h)] + [_width(row[i]) for row in cells]) for i, h in enumerate(headers)]

    def line(values: Sequence[str]) -> str:
        return "  ".join(v + " " * (w - _width(v)) for v, w in zip(values, widths, strict=True)).rstrip()

    click.echo(line(list(headers)))
    for row in cells:
        click.echo(line(row))


def echo_fields(fields: Sequence[tuple[str, Any]]) -> None:
    """`Key:  value` lines, the values aligned."""
    width = max(_width(key) for key, _value in fields) + 1
    for key, value in fields:
        click.echo(f"{key + ':':<{width}}  {'' if value is None else value}".rstrip())


def yes_no(value: bool) -> str:
    return "yes" if value else "no"


def read_password(given: str | None, prompt: str = "Password") -> str:
    """--password, else asked twice without echo on a terminal, else one line of stdin."""
    if given is not None:
        return given
    if sys.stdin.isatty():
        value: str = click.prompt(prompt, hide_input=True, confirmation_prompt=f"Repeat {prompt.lower()}",
                                  err=True)
        return value
    line = sys.stdin.readline()
    password = line.rstrip("\r\n")
    if not password:
        raise CliError("no password: pass --password, type it on a terminal, or pipe it as one line on stdin")
    return password


def confirm(question: str, yes: bool) -> None:
    """Ask on a terminal unless --yes; scripts (no terminal) go ahead."""
    if yes or not sys.stdin.isatty():
        return
    if not click.confirm(question, default=False, err=True):
        raise CliError("cancelled")


# -- shell completion ---------------------------------------------------------------


def complete_packs(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """Pack folders in [storage].packs_dir (no database needed)."""
    try:
        packs_dir = state(ctx).config().packs_dir
        names = sorted(p.name for p in packs_dir.iterdir() if p.is_dir() and not p.name.startswith("."))
    except Exception:
        return []
    return [CompletionItem(name) for name in names if name.startswith(incomplete)]


def complete_accounts(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """Nicknames, read from the database without creating or migrating it."""
    try:
        path = state(ctx).config().database_path
        if not path.is_file():
            return []
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            names = [r[0] for r in conn.execute("SELECT nickname FROM accounts ORDER BY nickname")]
        finally:
            conn.close()
    except Exception:
        return []
    return [CompletionItem(name) for name in names if name.startswith(incomplete)]
