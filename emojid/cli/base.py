"""The root `emojid` group, its global options, and what every command shares:
one-line errors, the config, the services over the database, progress bars.

User mistakes (bad config, unknown pack, bad name, a refused URL) print one
line on stderr, naming what to change where that is known, and exit 1
(usage mistakes exit 2); no traceback.
"""

from __future__ import annotations

import logging
import sqlite3
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import click

from emojid import __version__
from emojid.config import PATHS, Config, load
from emojid.db import Database
from emojid.errors import EmojidError
from emojid.progress import Bars, EchoHandler

T = TypeVar("T")


class CliError(click.ClickException):
    def show(self, file: Any = None) -> None:
        click.echo(f"emojid: {self.format_message()}", err=True)


def one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else exc.__class__.__name__


def _hint(exc: BaseException, config: Config | None) -> str:
    """What to change, when the error alone does not say."""
    from emojid.remote import AddressRefused

    if isinstance(exc, AddressRefused):
        return "; to allow private and loopback addresses, set [remote] allow_private_addresses = true"
    if isinstance(exc, OSError) and config is not None and exc.filename:
        for key, attribute, _created in PATHS:
            root = getattr(config, attribute)
            if str(exc.filename) == str(root) or str(exc.filename).startswith(f"{root}/"):
                return f" (under {key} = {root})"
    return ""


def fail(exc: BaseException, ctx: click.Context | None = None) -> CliError:
    config = None
    if ctx is not None:
        obj = ctx.find_root().obj
        config = obj.loaded if isinstance(obj, State) else None
    return CliError(one_line(exc) + _hint(exc, config))


# `emojid` or `emojid pack` alone prints the help: not an error to shorten.
_HELP = getattr(click.exceptions, "NoArgsIsHelpError", ())


def _usage(exc: click.UsageError) -> click.ClickException:
    """A usage mistake (missing argument, bad option value) as one line too."""
    if isinstance(exc, _HELP):
        return exc
    hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx else ""
    error = CliError(exc.format_message() + hint)
    error.exit_code = exc.exit_code
    return error


class Group(click.Group):
    """Turns EmojidError, OS and database errors and usage errors into one line on stderr."""

    def make_context(self, info_name: str | None, args: list[str], parent: click.Context | None = None,
                     **extra: Any) -> click.Context:
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except click.UsageError as exc:
            raise _usage(exc) from None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            raise _usage(exc) from None
        except (EmojidError, OSError) as exc:
            raise fail(exc, ctx) from None
        except sqlite3.Error as exc:
            raise CliError(f"the database ([storage].database): {one_line(exc)}") from None


@dataclass
class State:
    """The root context's object: global options, and the config once loaded."""

    config_path: str | None
    quiet: bool = False
    verbose: int = 0
    loaded: Config | None = None

    def config(self) -> Config:
        if self.loaded is None:
            self.loaded = load(self.config_path)
        return self.loaded

    def database(self) -> Database:
        from emojid.config import prepare_paths
        from emojid.migrations import open_database

        config = self.config()
        prepare_paths(config)
        return open_database(config.database_path)

    def bars(self) -> Bars:
        """Progress bars on stderr: only on a terminal, and not with -q."""
        return Bars(enabled=not self.quiet and sys.stderr.isatty())

    def say(self, text: str) -> None:
        """A progress line on stdout (get-packs' Pleroma lines); -q silences it."""
        if not self.quiet:
            click.echo(text)

    def note(self, text: str) -> None:
        """A detail line on stderr, shown with -v."""
        if self.verbose and not self.quiet:
            click.echo(text, err=True)


def state(ctx: click.Context) -> State:
    obj = ctx.find_root().obj
    if not isinstance(obj, State):  # shell completion: the root callback has not run
        obj = State(ctx.find_root().params.get("config_path"))
    return obj


def with_service(ctx: click.Context, fn: Callable[[Any], T], reconcile: bool = True) -> T:
    """`fn(PackService)` over the configured store and database (the API's write path and lock)."""
    from emojid.emoji.packs import PackService

    st = state(ctx)
    database = st.database()
    try:
        service = PackService.open(st.config(), database)
        if reconcile:
            service.reconcile_sync()
        return fn(service)
    finally:
        database.close()


@dataclass
class People:
    """The account services the API uses, over one database."""

    index: Any  # SocialIndex: the auth tables and the social ones an account deletion scrubs
    accounts: Any  # Accounts
    credentials: Any  # Credentials (password changes, deletion)


def with_people(ctx: click.Context, fn: Callable[[People], T]) -> T:
    from emojid.auth.accounts import Accounts
    from emojid.social.credentials import Credentials
    from emojid.social.index import SocialIndex

    st = state(ctx)
    database = st.database()
    try:
        index = SocialIndex(database)
        people = People(index, Accounts(index, pending_reason=index.pending_reason),
                        Credentials(index, st.config()))
        return fn(people)
    finally:
        database.close()


def _configure_logging(quiet: bool, verbose: int) -> None:
    """One-shot commands: warnings and errors on stderr; -q errors only; -v info; -vv debug."""
    level = logging.ERROR if quiet else (logging.WARNING, logging.INFO, logging.DEBUG)[min(verbose, 2)]
    root = logging.getLogger()
    if not any(isinstance(h, EchoHandler) for h in root.handlers):
        root.addHandler(EchoHandler())
    root.setLevel(level)
    logging.getLogger("watchfiles").setLevel(max(level, logging.WARNING))
    logging.getLogger("httpx").setLevel(max(level, logging.WARNING))


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None, metavar="FILE",
              help="Config file (default: $EMOJID_CONFIG, else ./emojid.toml).")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars or progress lines; errors only.")
@click.option("-v", "--verbose", count=True, help="More detail on stderr (-vv: debug logs).")
@click.version_option(__version__, "-V", "--version", prog_name="emojid")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, quiet: bool, verbose: int) -> None:
    """emojid: emoji packs over the Pleroma API.

    Global options go before the command. Every command works with the
    server running or stopped. Lists print aligned tables; --json prints one
    JSON document instead. Progress bars go to stderr, on a terminal only.

    \b
    Examples:
        emojid --config /etc/emojid/emojid.toml serve
        emojid pack list --json
        eval "$(_EMOJID_COMPLETE=bash_source emojid)"   # shell completion
    """
    ctx.obj = State(config_path, quiet, verbose)
    if ctx.invoked_subcommand != "serve":  # serve sets up its own log format and level
        _configure_logging(quiet, verbose)
