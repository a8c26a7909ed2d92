"""The `emojid` command: a thin shell over the same library the API uses.

User mistakes (bad config, unknown pack, bad name) print one line on stderr
and exit 1; no traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import sys
from typing import Any, AsyncIterator, Callable

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

    def stopped(signum: int, frame: Any) -> None:
        # uvicorn handles SIGINT/SIGTERM itself while serving, then re-raises the
        # signal once shutdown is complete; that graceful stop is a success (exit 0),
        # not a death by signal. Before uvicorn takes over, a signal just exits.
        if not uv.should_exit:
            raise SystemExit(0)

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, stopped)
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


@contextlib.asynccontextmanager
async def _remote(service: Any) -> AsyncIterator[Any]:
    from emojid.remote import RemoteClient
    from emojid.remote_packs import RemotePacks

    async with RemoteClient(service.config.remote) as client:
        remote_packs = RemotePacks(service, client)
        service.fallback_checker = remote_packs.fallback_sha256
        yield remote_packs


@pack.command("download")
@click.argument("url")
@click.argument("name")
@click.option("--as", "as_name", default=None, help="Local name for the pack (default: NAME).")
@click.pass_context
def pack_download(ctx: click.Context, url: str, name: str, as_name: str | None) -> None:
    """Download pack NAME from the instance at URL, verifying its SHA256.

    \b
    Example:
        emojid pack download https://pleroma.example blobs --as blobs_mirror
    """
    async def run(service: Any) -> str:
        async with _remote(service) as remote_packs:
            return await remote_packs.download(url, name, as_name)

    click.echo(_with_service(ctx, lambda service: asyncio.run(run(service))))


@cli.command()
@click.option("--once", is_flag=True, help="Run every job once and exit (non-zero if any failed).")
@click.option("--status", "show_status", is_flag=True, help="Print each job's last result and exit.")
@click.pass_context
def sync(ctx: click.Context, once: bool, show_status: bool) -> None:
    """Run the [[sync]] mirror jobs of the config: forever, or --once (for a systemd timer)."""
    from emojid.sync import Syncer

    config = _config(ctx)
    if not config.sync:
        raise CliError("no [[sync]] jobs are configured")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    async def run(service: Any) -> bool:
        async with _remote(service) as remote_packs:
            syncer = Syncer(service, remote_packs, config.sync)
            if show_status:
                for st in syncer.statuses():
                    click.echo(json.dumps(st.as_json(), ensure_ascii=False))
                return True
            if once:
                statuses = await syncer.run_once()
                for st in statuses:
                    line = f"{st.url}: {st.result}"
                    if st.updated:
                        line += f" updated={','.join(st.updated)}"
                    if st.conflicts:
                        line += f" conflict={','.join(st.conflicts)}"
                    if st.error:
                        line += f" error={st.error}"
                    click.echo(line)
                return all(st.result in ("ok", "conflict") for st in statuses)
            await syncer.run_forever(asyncio.Event())
            return True

    if not _with_service(ctx, lambda service: asyncio.run(run(service))):
        sys.exit(1)


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
