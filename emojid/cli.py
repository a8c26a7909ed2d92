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
from collections.abc import AsyncIterator, Callable
from typing import Any

import click

from emojid import __version__
from emojid.config import Config, load
from emojid.db import Database
from emojid.errors import EmojidError


class CliError(click.ClickException):
    def show(self, file: Any = None) -> None:
        click.echo(f"emojid: {self.format_message()}", err=True)


def _fail(exc: Exception) -> CliError:
    return CliError(str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__)


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
    """Turns EmojidError, OS errors on the store and usage errors into one line on stderr."""

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
        except EmojidError as exc:
            raise _fail(exc) from None
        except OSError as exc:
            raise _fail(exc) from None


def _config(ctx: click.Context) -> Config:
    obj = ctx.find_root().obj
    if "config" not in obj:
        obj["config"] = load(obj["config_path"])
    return obj["config"]


def _database(ctx: click.Context) -> Database:
    from emojid.migrations import open_database

    return open_database(_config(ctx).database_path)


def _with_service(ctx: click.Context, fn: Callable[[Any], Any], reconcile: bool = True) -> Any:
    from emojid.emoji.packs import PackService

    database = _database(ctx)
    try:
        service = PackService.open(_config(ctx), database)
        if reconcile:
            service.reconcile_sync()
        return fn(service)
    finally:
        database.close()


def _with_accounts(ctx: click.Context, fn: Callable[[Any], Any]) -> Any:
    from emojid.auth.accounts import Accounts
    from emojid.auth.index import AuthIndex

    database = _database(ctx)
    try:
        return fn(Accounts(AuthIndex(database)))
    finally:
        database.close()


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
    click.echo(_with_accounts(ctx, lambda accounts: accounts.create_user(name, password, email, admin).id))


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
    click.echo(_with_accounts(ctx, lambda accounts: accounts.token_for_cli(name, scopes)))


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
    from emojid.emoji.web.packs import show_document

    def run(service: Any) -> None:
        row, files = asyncio.run(service.show(name, 1, 1 << 30))
        click.echo(json.dumps(show_document(row, files), indent=2, ensure_ascii=False))

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
    from emojid.emoji.remote_packs import RemotePacks
    from emojid.remote import RemoteClient

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


# -- Pleroma emoji-index manifests (`mix pleroma.emoji`) -----------------------


class _DownloadProgress:
    """Progress of one download on a terminal; shown only once it is a long one (over 1 MiB)."""

    MIN_BYTES = 1 << 20

    def __init__(self, label: str) -> None:
        self.label = label
        self.bar: Any = None
        self.shown = 0
        self.counting = False

    def __call__(self, done: int, total: int | None) -> None:
        if total is not None and total >= self.MIN_BYTES:
            if self.bar is None:
                self.bar = click.progressbar(length=total, label=self.label, file=sys.stdout)
                self.bar.__enter__()
            self.bar.update(done - self.shown)
            self.shown = done
        elif total is None and done >= self.MIN_BYTES:
            # No declared size: a running byte count instead of a bar.
            self.counting = True
            click.echo(f"\r{self.label}: {done / (1 << 20):.1f} MiB", nl=False)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
        elif self.counting:
            click.echo("")


def _download_progress() -> Callable[[str], _DownloadProgress] | None:
    """Progress bars only when stdout is a terminal (never in pipes, logs or tests)."""
    return _DownloadProgress if sys.stdout.isatty() else None


_MANIFEST_HELP = ("A manifest file or http(s) URL (default: Pleroma's emoji index, "
                  "https://git.pleroma.social/pleroma/emoji-index/raw/master/index.json).")


@pack.command("ls-manifest")
@click.option("--manifest", "-m", "manifest", default=None, metavar="PATH_OR_URL", help=_MANIFEST_HELP)
@click.pass_context
def pack_ls_manifest(ctx: click.Context, manifest: str | None) -> None:
    """List the packs of an emoji-index manifest: name, homepage, description, license, source.

    \b
    Example:
        emojid pack ls-manifest --manifest https://example.org/emoji-index/index.json
    """
    from emojid.emoji.manifest import DEFAULT_MANIFEST, describe_lines, load_manifest
    from emojid.remote import RemoteClient

    config = _config(ctx)

    async def run() -> Any:
        async with RemoteClient(config.remote) as client:
            return await load_manifest(client, manifest or DEFAULT_MANIFEST)

    for name, info in asyncio.run(run()).packs.items():
        for param, value in describe_lines(name, info):
            click.echo(f"{click.style(param, bold=True)}: {value}")
        click.echo("")


@pack.command("get-packs")
@click.option("--manifest", "-m", "manifest", default=None, metavar="PATH_OR_URL", help=_MANIFEST_HELP)
@click.argument("names", nargs=-1, required=True)
@click.pass_context
def pack_get_packs(ctx: click.Context, manifest: str | None, names: tuple[str, ...]) -> None:
    """Download, verify (src_sha256) and install packs NAMES from a manifest.

    Each pack is installed whole or not at all; a failed pack prints one line on
    stderr, the others go on, and the exit status is non-zero if any failed.

    \b
    Example:
        emojid pack get-packs --manifest ./index.json finmoji blobs.gg
    """
    from emojid.emoji.manifest import DEFAULT_MANIFEST, ManifestInstaller, load_manifest

    async def run(service: Any) -> list[str]:
        async with _remote(service) as remote_packs:
            loaded = await load_manifest(remote_packs.remote, manifest or DEFAULT_MANIFEST)
            installer = ManifestInstaller(service, remote_packs.remote, say=click.echo,
                                          progress=_download_progress())
            failed = []
            for name in names:
                try:
                    await installer.install(loaded, name)
                except (EmojidError, OSError) as exc:
                    message = _fail(exc).format_message()
                    click.echo(f"emojid: {message if name in message else f'{name}: {message}'}", err=True)
                    failed.append(name)
            return failed

    if _with_service(ctx, lambda service: asyncio.run(run(service))):
        sys.exit(1)


@pack.command("gen-pack")
@click.argument("url")
@click.option("--name", default=None, help="Pack name (default: the archive's file name without extension).")
@click.option("--license", "license_", default=None, help="License (default: empty).")
@click.option("--homepage", default=None, help="Homepage (default: empty).")
@click.option("--description", default=None, help="Description (default: empty).")
@click.option("--files", "files", default=None, type=click.Path(dir_okay=False),
              help="Where to save the file list (default: NAME_files.json).")
@click.option("--extensions", default=None,
              help='Emoji file extensions, separated by spaces or commas (default: ".png .gif").')
@click.option("--manifest-out", default=None, type=click.Path(dir_okay=False),
              help="Manifest to create or update (default: NAME.json).")
@click.pass_context
def pack_gen_pack(ctx: click.Context, url: str, name: str | None, license_: str | None, homepage: str | None,
                  description: str | None, files: str | None, extensions: str | None,
                  manifest_out: str | None) -> None:
    """Make a manifest entry and a file list for the pack archive at URL.

    Downloads the archive, computes its SHA256 and lists the emoji in it
    (shortcode = file name without extension). Missing options are asked for
    when stdin is a terminal; otherwise their defaults are used.

    \b
    Example:
        emojid pack gen-pack https://example.org/blobs.zip --name blobs \\
            --license "Apache 2.0" --homepage https://blobs.gg --description "Blobs"
    """
    from emojid.emoji.manifest import DEFAULT_EXTENSIONS, gen_pack, parse_extensions, proposed_name
    from emojid.remote import RemoteClient

    config = _config(ctx)
    interactive = sys.stdin.isatty()

    def ask(value: str | None, question: str, default: str) -> str:
        if value is not None:
            return value
        if interactive:
            return click.prompt(question, default=default, show_default=bool(default))
        return default

    name = ask(name, "Pack name", proposed_name(url))
    license_ = ask(license_, "License", "")
    homepage = ask(homepage, "Homepage", "")
    description = ask(description, "Description", "")
    files = ask(files, "Save file list to", f"{name}_files.json")
    exts = parse_extensions(ask(extensions, "Emoji file extensions (separated with spaces)",
                                " ".join(DEFAULT_EXTENSIONS)))
    manifest_path = manifest_out or f"{name}.json"
    click.echo(f"Using {' '.join(exts)} extensions")

    async def run() -> Any:
        async with RemoteClient(config.remote) as client:
            return await gen_pack(config, client, url, name, license_, homepage, description, files, exts,
                                  manifest_path, say=click.echo, progress=_download_progress())

    result = asyncio.run(run())
    if result.duplicates:
        click.echo(f"emojid: warning: shortcodes already taken, not listed: {', '.join(result.duplicates)}",
                   err=True)
    click.echo(f"\n{files} has been created and contains the list of all found emojis in the pack.\n"
               "Please review the files in the pack and remove those not needed.\n")
    click.echo(f"{manifest_path} has been {'created' if result.created else 'updated'} with the {result.name} pack")


@cli.command()
@click.option("--once", is_flag=True, help="Run every job once and exit (non-zero if any failed).")
@click.option("--status", "show_status", is_flag=True, help="Print each job's last result and exit.")
@click.pass_context
def sync(ctx: click.Context, once: bool, show_status: bool) -> None:
    """Run the [[sync]] mirror jobs of the config: forever, or --once (for a systemd timer)."""
    from emojid.emoji.sync import Syncer

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
    count = _with_service(ctx, lambda service: service.reindex_sync(), reconcile=False)
    click.echo(f"indexed {count} packs")


def main() -> None:
    cli(prog_name="emojid")
