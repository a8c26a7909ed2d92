"""The `emojid` command: a thin shell over the same library the API uses.

User mistakes (bad config, unknown pack, bad name) print one line on stderr
and exit 1; no traceback.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from typing import Any, Callable

import click

from emojid import __version__
from emojid.config import Config, load
from emojid.errors import EmojidError


class CliError(click.ClickException):
    def show(self, file: Any = None) -> None:
        click.echo(f"emojid: {self.format_message()}", err=True)


def _fail(exc: Exception) -> CliError:
    return CliError(str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__)


class Group(click.Group):
    """Turns EmojidError (and OS errors on the store) into one line on stderr."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except EmojidError as exc:
            raise _fail(exc) from None
        except OSError as exc:
            raise _fail(exc) from None


def _config(ctx: click.Context) -> Config:
    obj = ctx.find_root().obj
    if "config" not in obj:
        obj["config"] = load(obj["config_path"])
    return obj["config"]


def _with_service(ctx: click.Context, fn: Callable[[Any], Any]) -> Any:
    from emojid.packs import PackService

    service = PackService.open(_config(ctx))
    try:
        service.reconcile_sync()
        return fn(service)
    finally:
        service.close()


@click.group(cls=Group)
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
              help="Config file (default: $EMOJID_CONFIG, else ./emojid.toml).")
@click.version_option(__version__, prog_name="emojid")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None) -> None:
    """emojid: emoji packs over the Pleroma API.

    \b
    Example:
        emojid --config /etc/emojid/emojid.toml serve
    """
    ctx.obj = {"config_path": config_path}


@cli.command()
@click.option("--host", default=None, help="Address to listen on (default: [server].host).")
@click.option("--port", type=int, default=None, help="Port to listen on (default: [server].port).")
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None) -> None:
    """Run the HTTP API, the pack-store watcher and the sync scheduler."""
    import uvicorn

    from emojid.app import build_app

    config = _config(ctx)
    server = config.server
    if host or port:
        from dataclasses import replace

        server = replace(server, host=host or server.host, port=port or server.port)
        config = config.replace(server=server)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    uv = uvicorn.Server(uvicorn.Config(build_app(config), host=server.host, port=server.port,
                                       log_level="info", proxy_headers=True, server_header=False))
    uv.run()
    if not uv.started:
        sys.exit(3)


@cli.group(cls=Group)
def user() -> None:
    """Local accounts."""


@user.command("create")
@click.argument("name")
@click.option("--password", required=True, help="The account's password.")
@click.option("--email", default=None)
@click.option("--admin", is_flag=True, help="Give the account admin rights.")
@click.pass_context
def user_create(ctx: click.Context, name: str, password: str, email: str | None, admin: bool) -> None:
    """Create a local account and print its id.

    \b
    Example:
        emojid user create alice --password s3cret --admin
    """
    from emojid.accounts import Accounts
    from emojid.index import Index

    index = Index(_config(ctx).database_path)
    try:
        click.echo(Accounts(index).create_user(name, password, email, admin).id)
    finally:
        index.close()


@cli.group(cls=Group)
def token() -> None:
    """OAuth bearer tokens."""


@token.command("create")
@click.argument("name")
@click.option("--scopes", default="read write follow push", show_default=True)
@click.pass_context
def token_create(ctx: click.Context, name: str, scopes: str) -> None:
    """Mint a bearer token for account NAME and print only the token.

    \b
    Example:
        emojid token create alice --scopes "read write admin"
    """
    from emojid.accounts import Accounts
    from emojid.index import Index

    index = Index(_config(ctx).database_path)
    try:
        click.echo(Accounts(index).token_for_cli(name, scopes))
    finally:
        index.close()


@cli.group(cls=Group)
def pack() -> None:
    """Local pack management (same rules as the API; the server may be stopped)."""


@pack.command("list")
@click.pass_context
def pack_list(ctx: click.Context) -> None:
    """List packs: name, emoji count, shared or not."""
    def run(service: Any) -> None:
        for row in service.index.list_packs(0, 1 << 30):
            click.echo(f"{row.name}\t{row.files_count}\t{'shared' if row.shareable else 'private'}")

    _with_service(ctx, run)


@pack.command("show")
@click.argument("name")
@click.pass_context
def pack_show(ctx: click.Context, name: str) -> None:
    """Print a pack as JSON: its metadata and every file."""
    from emojid.web.emoji_packs import pack_meta

    def run(service: Any) -> None:
        row, files = asyncio.run(service.show(name, 1, 1 << 30))
        click.echo(json.dumps({"files": files, "files_count": row.files_count, "pack": pack_meta(row)},
                              indent=2, ensure_ascii=False))

    _with_service(ctx, run)


@pack.command("create")
@click.argument("name")
@click.pass_context
def pack_create(ctx: click.Context, name: str) -> None:
    """Create an empty pack."""
    _with_service(ctx, lambda service: asyncio.run(service.create(name)))
    click.echo("ok")


@pack.command("delete")
@click.argument("name")
@click.pass_context
def pack_delete(ctx: click.Context, name: str) -> None:
    """Delete a pack and its files."""
    _with_service(ctx, lambda service: asyncio.run(service.delete(name)))
    click.echo("ok")


@pack.command("import")
@click.pass_context
def pack_import(ctx: click.Context) -> None:
    """Write pack.json for folders that lack one (emoji.txt honoured); print their names."""
    for name in _with_service(ctx, lambda service: asyncio.run(service.import_packs())):
        click.echo(name)


@cli.command()
@click.pass_context
def reindex(ctx: click.Context) -> None:
    """Rebuild the SQLite index from the pack store."""
    from emojid.packs import PackService

    service = PackService.open(_config(ctx))
    try:
        count = service.reindex_sync()
    finally:
        service.close()
    click.echo(f"indexed {count} packs")


def main() -> None:
    cli(prog_name="emojid")
