"""`emojid pack export` and `emojid pack import-file`: packs to and from Pleroma, Mastodon and
Misskey, as the /api/v1/emojid/packs/export and .../import routes."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import click

from emojid.cli.base import CliError, state, with_service
from emojid.cli.output import echo_json, echo_table, json_option
from emojid.cli.packs import PACK_NAME, pack
from emojid.emoji.interchange import FORMATS, ON_CONFLICT, SOURCE_FORMATS
from emojid.files import make_temp_file


@pack.command("export")
@PACK_NAME
@click.option("--format", "fmt", type=click.Choice(FORMATS), required=True, metavar="F",
              help="pleroma (zip: pack.json + files), mastodon (tar.gz for `tootctl emoji import`) or misskey "
                   "(zip with meta.json, for Misskey's emoji import).")
@click.option("-o", "--output", metavar="PATH", default=None,
              help="Where to write it (`-` for stdout; default: NAME.zip, NAME.tar.gz or NAME-misskey.zip here, "
                   "never over an existing file).")
@click.pass_context
def pack_export(ctx: click.Context, name: str, fmt: str, output: str | None) -> None:
    """Export pack NAME for another server's emoji import; print the file written.

    Shortcodes the target refuses are rewritten (Mastodon: [A-Za-z0-9_]{2,},
    Misskey: [A-Za-z0-9_]+), and each rewrite is named on stderr, as are images
    converted to PNG for Mastodon. Per-emoji licences and authors go into
    Misskey's license field ("CC-BY-4.0 (author)").

    \b
    Examples:
        emojid pack export blobs --format mastodon            # blobs.tar.gz, then: tootctl emoji import blobs.tar.gz
        emojid pack export blobs --format misskey -o /tmp/blobs.zip
        emojid pack export blobs --format pleroma -o - | sha256sum
    """
    from emojid.emoji.interchange.exporting import export_pack

    st = state(ctx)
    target = None if output == "-" else Path(output or f"{name}{_suffix(fmt)}")
    if output is None and target is not None and target.exists():
        raise CliError(f"{target} exists already: give -o PATH to write it there anyway, or elsewhere")
    result = with_service(ctx, lambda service: asyncio.run(export_pack(service, name, fmt, admin=True)))
    with result.fh:
        if not st.quiet:
            for what, report in (("renamed", result.renamed), ("converted", result.converted),
                                 ("left out", result.skipped)):
                for code, detail in report.items():
                    click.echo(f"emojid: {what} {code}: {detail}", err=True)
        if target is None:
            shutil.copyfileobj(result.fh, sys.stdout.buffer, 1 << 20)
            sys.stdout.buffer.flush()
            return
        _write_atomically(result.fh, target)
    click.echo(str(target))


def _suffix(fmt: str) -> str:
    return {"pleroma": ".zip", "mastodon": ".tar.gz", "misskey": "-misskey.zip"}[fmt]


def _write_atomically(source: Any, target: Path) -> None:
    fd, tmp = make_temp_file(dir=target.parent if str(target.parent) else Path("."), prefix=f".{target.name}-")
    try:
        with os.fdopen(fd, "wb") as out:
            shutil.copyfileobj(source, out, 1 << 20)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@pack.command("import-file")
@click.argument("source", metavar="PATH_OR_URL")
@click.option("--name", metavar="N", default=None,
              help="The pack to import into (created if missing; default: from the archive or its file name).")
@click.option("--format", "fmt", type=click.Choice(SOURCE_FORMATS), default="auto", show_default=True, metavar="F",
              help="auto, pleroma, mastodon or misskey.")
@click.option("--dry-run", is_flag=True, help="Report what would happen; write nothing.")
@click.option("--on-conflict", type=click.Choice(ON_CONFLICT), default="skip", show_default=True, metavar="C",
              help="For a shortcode that exists with other bytes: skip, rename (name_2) or replace.")
@json_option("Print the report as one JSON document, as the API answers it.")
@click.pass_context
def pack_import_file(ctx: click.Context, source: str, name: str | None, fmt: str, dry_run: bool,
                     on_conflict: str, as_json: bool) -> None:
    """Import a Pleroma, Mastodon or Misskey emoji archive (a file or an http(s) URL) into a pack.

    Prints what was added, replaced, renamed and skipped (and why). A shortcode
    that exists with the very same bytes is skipped as identical. The archive
    is checked whole first; a failed import changes nothing. On a terminal,
    progress bars show the download and the unpacking.

    \b
    Examples:
        emojid pack import-file export.tar.gz --name blobs --dry-run
        emojid pack import-file custom-emojis-2024-05-01.zip --on-conflict rename
        emojid pack import-file https://pleroma.example/api/v1/pleroma/emoji/packs/archive?name=blobs
    """
    from emojid.emoji.interchange.importing import check_options, import_archive
    from emojid.remote import RemoteClient, RemoteTooLarge

    st = state(ctx)
    options = check_options(name, fmt, dry_run, on_conflict)
    path = Path(source)
    if not path.is_file() and not source.startswith(("http://", "https://")):
        raise CliError(f"{source}: no such file (give a file or an http(s) URL)")

    async def run(service: Any) -> Any:
        with st.bars() as bars:
            if path.is_file():
                return await import_archive(service, path, path.name, options, progress=bars)
            async with RemoteClient(service.config.remote) as client:
                meter = bars(f"Downloading {source}")
                try:
                    got = await client.download(source, service.config.cache_dir / "downloads", progress=meter)
                except RemoteTooLarge as exc:
                    raise CliError(exc.message) from None
                finally:
                    meter.close()
                try:
                    return await import_archive(service, got.path, source, options, progress=bars)
                finally:
                    with contextlib.suppress(OSError):
                        got.path.unlink()

    report = with_service(ctx, lambda service: asyncio.run(run(service)))
    if as_json:
        echo_json(report.document())
        return
    rows = [["added", code, ""] for code in report.added]
    rows += [["replaced", code, ""] for code in report.replaced]
    rows += [["renamed", old, f"as {new}"] for old, new in report.renamed.items()]
    rows += [["skipped", s["shortcode"], s["reason"]] for s in report.skipped]
    echo_table(["RESULT", "SHORTCODE", "DETAIL"], rows)
    click.echo(f"{report.pack} ({report.format}{', dry run: nothing written' if report.dry_run else ''}): "
               f"{len(report.added)} added ({len(report.renamed)} renamed), {len(report.replaced)} replaced, "
               f"{len(report.skipped)} skipped")
