"""`emojid pack ...`: local packs, through PackService (the API's rules, write path and lock)."""

from __future__ import annotations

import asyncio
import contextlib
import mimetypes
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import click

from emojid.cli.base import CliError, Group, fail, state, with_service
from emojid.cli.output import (
    clip,
    complete_packs,
    echo_fields,
    echo_json,
    echo_table,
    json_option,
)
from emojid.errors import EmojidError

PACK_NAME = click.argument("name", shell_complete=complete_packs)


@click.group(cls=Group)
def pack() -> None:
    """Local packs: list, show, create, edit, delete, download, install.

    The same rules as the API; the server may be running or stopped.
    """


def _state_of(row: Any) -> str:
    if row.shareable:
        return "shared"
    return "incomplete" if row.meta.get("share-files") is True else "private"


@pack.command("list")
@json_option()
@click.pass_context
def pack_list(ctx: click.Context, as_json: bool) -> None:
    """List packs: name, emoji count, state, license, description.

    STATE is shared (offered to other servers), private, incomplete (shared
    but a listed file is missing) or importable (a folder without pack.json,
    served in the global emoji lists; `emojid pack import` makes it a pack).
    """
    def run(service: Any) -> list[dict[str, Any]]:
        rows = [{
            "name": row.name,
            "files_count": row.files_count,
            "state": _state_of(row),
            "license": row.meta.get("license") or "",
            "homepage": row.meta.get("homepage") or "",
            "description": row.meta.get("description") or "",
        } for row in service.index.list_packs(0, 1 << 30)]
        rows += [{"name": name, "files_count": count, "state": "importable", "license": "", "homepage": "",
                  "description": ""} for name, count in service.index.loose_folders()]
        return rows

    rows = with_service(ctx, run)
    if as_json:
        echo_json(rows)
        return
    echo_table(["NAME", "EMOJI", "STATE", "LICENSE", "DESCRIPTION"],
               [[r["name"], r["files_count"], r["state"], clip(r["license"], 24), clip(r["description"])]
                for r in rows])


@pack.command("show")
@PACK_NAME
@json_option("Print the pack as the API shows it (GET /api/v1/pleroma/emoji/pack), as one JSON document.")
@click.pass_context
def pack_show(ctx: click.Context, name: str, as_json: bool) -> None:
    """Show a pack: its metadata, then every emoji (shortcode and file)."""
    from emojid.emoji.web.packs import show_document

    def run(service: Any) -> Any:
        row, files = asyncio.run(service.show(name, 1, 1 << 30))
        emoji = {r.shortcode: r.meta for r in service.index.pack_emoji(row.name, 0, 1 << 30)}
        return row, files, emoji, service.index.origins(row.name)

    row, files, emoji_meta, origins = with_service(ctx, run)
    doc = show_document(row, files)
    if as_json:
        echo_json(doc)
        return
    meta = doc["pack"]
    known = ("share-files", "can-download", "download-sha256", "description", "license", "homepage",
             "fallback-src", "fallback-src-sha256")
    fields: list[tuple[str, Any]] = [
        ("Pack", row.name),
        ("Emoji", row.files_count),
        ("State", _state_of(row)),
        ("Description", meta.get("description") or ""),
        ("License", meta.get("license") or ""),
        ("Homepage", meta.get("homepage") or ""),
    ]
    if meta.get("download-sha256"):
        fields.append(("Download SHA256", meta["download-sha256"]))
    if meta.get("fallback-src"):
        fields.append(("Fallback source", meta["fallback-src"]))
    fields += [(str(key), value) for key, value in meta.items() if key not in known]
    # Where it came from (a mirror download, imports), newest first.
    fields += [("Came from", f"{o.source}{f' ({o.remote_name})' if o.remote_name else ''}, {o.kind} of a {o.format} "
                             f"archive, {o.emoji} emoji, {o.recorded_at}, SHA256 {o.sha256}") for o in origins]
    echo_fields(fields)
    if files and any(emoji_meta.values()):
        click.echo("")
        echo_table(["SHORTCODE", "FILE", "LICENSE", "AUTHOR", "SOURCE"],
                   [[code, file, *(clip(emoji_meta.get(code, {}).get(k), 32) for k in ("license", "author", "source"))]
                    for code, file in sorted(files.items())])
    elif files:
        click.echo("")
        echo_table(["SHORTCODE", "FILE"], sorted(files.items()))


@pack.command("create")
@click.argument("name")
@click.pass_context
def pack_create(ctx: click.Context, name: str) -> None:
    """Create an empty pack (not shared until `emojid pack set NAME --share-files`)."""
    with_service(ctx, lambda service: asyncio.run(service.create(name)))
    click.echo("ok")


@pack.command("delete")
@PACK_NAME
@click.pass_context
def pack_delete(ctx: click.Context, name: str) -> None:
    """Delete a pack and its files."""
    with_service(ctx, lambda service: asyncio.run(service.delete(name)))
    click.echo("ok")


@pack.command("set")
@PACK_NAME
@click.option("--share-files/--no-share-files", "share", default=None,
              help="Offer the pack to other servers (download-sha256, archive), or stop.")
@click.option("--license", "license_", metavar="L", default=None, help="License text (\"\" clears it).")
@click.option("--description", metavar="D", default=None, help="Description (\"\" clears it).")
@click.option("--homepage", metavar="U", default=None, help="Homepage URL (\"\" clears it).")
@click.option("--emoji", metavar="S", default=None,
              help="Set emoji S's own metadata instead: --license, --author, --source, --tags.")
@click.option("--author", metavar="A", default=None, help="With --emoji: who made it (\"\" clears it).")
@click.option("--source", metavar="U", default=None, help="With --emoji: where it comes from (\"\" clears it).")
@click.option("--tags", metavar="T", default=None, help="With --emoji: comma-separated tags (\"\" clears them).")
@click.pass_context
def pack_set(ctx: click.Context, name: str, share: bool | None, license_: str | None, description: str | None,
             homepage: str | None, emoji: str | None, author: str | None, source: str | None,
             tags: str | None) -> None:
    """Change a pack's metadata; what is not given stays as it is.

    With --emoji S, the license, author, source and tags of that one emoji
    (kept in pack.json, so they travel with archives and mirrors).

    \b
    Examples:
        emojid pack set blobs --share-files --license CC-BY-4.0 --description "Blob emoji"
        emojid pack set blobs --emoji blobcat --license CC-BY-4.0 --author Feuerfuchs --tags cat,blob
    """
    if emoji is not None:
        if share is not None or description is not None or homepage is not None:
            raise click.UsageError("--share-files, --description and --homepage are the pack's: not with --emoji")
        _set_emoji(ctx, name, emoji, {key: value for key, value in (
            ("license", license_), ("author", author), ("source", source), ("tags", tags)) if value is not None})
        click.echo("ok")
        return
    if author is not None or source is not None or tags is not None:
        raise click.UsageError("--author, --source and --tags belong to one emoji: give --emoji S")
    changes: dict[str, Any] = {key: value for key, value in (
        ("share-files", share), ("license", license_), ("description", description), ("homepage", homepage),
    ) if value is not None}
    if not changes:
        raise CliError("nothing to change: give --share-files/--no-share-files, --license, --description "
                       "or --homepage")

    def run(service: Any) -> None:
        from emojid.emoji.names import check_pack_name

        current = service.store.load(check_pack_name(name))
        asyncio.run(service.update_metadata(name, {**current.meta, **changes}))

    with_service(ctx, run)
    click.echo("ok")


def _set_emoji(ctx: click.Context, name: str, shortcode: str, given: dict[str, str]) -> None:
    """As PATCH /api/v1/emojid/packs/emoji: the same checks, the same write path."""
    if not given:
        raise CliError("nothing to change: give --license, --author, --source or --tags with --emoji")

    def run(service: Any) -> None:
        asyncio.run(service.update_emoji_meta(name, shortcode, given))

    with_service(ctx, run)


def _upload(path: Path) -> Any:
    from emojid.http.uploads import Upload

    return Upload(path, path.name, mimetypes.guess_type(path.name)[0], path.stat().st_size)


@pack.command("add")
@PACK_NAME
@click.argument("files", nargs=-1, required=True, metavar="FILE...",
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--shortcode", metavar="S", default=None,
              help="Shortcode of the emoji (default: the file name without extension); one image only.")
@click.pass_context
def pack_add(ctx: click.Context, name: str, files: tuple[Path, ...], shortcode: str | None) -> None:
    """Add image files to a pack; a zip adds every image in it (as the API does).

    The shortcode is the file name without its extension. Prints what was
    added; a file that cannot be added prints one line on stderr, the others
    go on, and the exit status is non-zero if any failed.

    \b
    Examples:
        emojid pack add blobs blobcat.png blobfox.gif
        emojid pack add blobs ~/Downloads/cat.png --shortcode blobcat
        emojid pack add blobs more-blobs.zip
    """
    if shortcode is not None and len(files) != 1:
        raise click.UsageError("--shortcode names one emoji: give exactly one FILE with it")
    st = state(ctx)

    def run(service: Any) -> tuple[list[tuple[str, str]], list[str]]:
        from emojid.emoji.names import check_pack_name

        before = service.store.load(check_pack_name(name)).sorted_files()  # an unknown pack fails here, once
        added: list[tuple[str, str]] = []
        failed: list[str] = []
        for path in files:
            try:
                after = asyncio.run(service.add_file(name, _upload(path), shortcode, None))
            except (EmojidError, OSError) as exc:
                message = fail(exc, ctx).format_message()
                click.echo(f"emojid: {path}: {message}", err=True)
                failed.append(str(path))
                continue
            new = [(code, filename) for code, filename in after.items() if before.get(code) != filename]
            if not new:
                click.echo(f"emojid: {path}: nothing added (its shortcodes or file names are taken, "
                           f"or it holds no image)", err=True)
                failed.append(str(path))
            for code, filename in new:
                st.note(f"{path}: added {code} as {filename}")
            added += new
            before = after
        return added, failed

    added, failed = with_service(ctx, run)
    echo_table(["SHORTCODE", "FILE"], added)
    if failed:
        sys.exit(1)


@pack.command("rename")
@PACK_NAME
@click.argument("old")
@click.argument("new")
@click.option("--filename", metavar="F", default=None,
              help="Also move the image to this path in the pack (default: it stays where it is).")
@click.option("--force", is_flag=True, help="Take NEW even if another pack has it (that emoji is replaced).")
@click.pass_context
def pack_rename(ctx: click.Context, name: str, old: str, new: str, filename: str | None, force: bool) -> None:
    """Rename emoji OLD of pack NAME to NEW.

    \b
    Example:
        emojid pack rename blobs blob_cat blobcat
    """
    def run(service: Any) -> None:
        from emojid.emoji.names import check_pack_name

        current = service.store.load(check_pack_name(name))
        if old not in current.files:
            raise CliError(f'Emoji "{old}" does not exist in pack {name}')
        asyncio.run(service.update_file(name, old, new, filename or current.files[old], force))

    with_service(ctx, run)
    click.echo("ok")


@pack.command("remove")
@PACK_NAME
@click.argument("shortcode")
@click.pass_context
def pack_remove(ctx: click.Context, name: str, shortcode: str) -> None:
    """Remove emoji SHORTCODE (and its image) from pack NAME."""
    with_service(ctx, lambda service: asyncio.run(service.remove_file(name, shortcode)))
    click.echo("ok")


@pack.command("import")
@click.pass_context
def pack_import(ctx: click.Context) -> None:
    """Write pack.json for folders that lack one (emoji.txt honoured); print their names.

    Files left out (a stem that is not a valid shortcode, ...) are named on stderr."""
    imported, skipped = with_service(ctx, lambda service: asyncio.run(service.import_packs()))
    for name in imported:
        click.echo(name)
    for skip in skipped:
        click.echo(str(skip), err=True)


@contextlib.asynccontextmanager
async def remote_packs(service: Any) -> AsyncIterator[Any]:
    """RemotePacks over a guarded RemoteClient, as the server has them."""
    from emojid.emoji.remote_packs import RemotePacks
    from emojid.remote import RemoteClient

    async with RemoteClient(service.config.remote) as client:
        remote = RemotePacks(service, client)
        service.fallback_checker = remote.fallback_sha256
        yield remote


@pack.command("download")
@click.argument("url")
@click.argument("name")
@click.option("--as", "as_name", metavar="LOCAL", default=None, help="Local name for the pack (default: NAME).")
@click.pass_context
def pack_download(ctx: click.Context, url: str, name: str, as_name: str | None) -> None:
    """Download pack NAME from the instance at URL, verify its SHA256, install it.

    Prints the local name. On a terminal, a progress bar shows the download
    (bytes) and the unpacking (files).

    \b
    Example:
        emojid pack download https://pleroma.example blobs --as blobs_mirror
    """
    st = state(ctx)

    async def run(service: Any) -> str:
        async with remote_packs(service) as remote:
            st.note(f"Looking up {name} on {url}")
            with st.bars() as bars:
                local: str = await remote.download(url, name, as_name, progress=bars)
            row = service.index.get_pack(local)
            if row is not None:
                st.note(f"Installed {local}: {row.files_count} emoji")
            return local

    click.echo(with_service(ctx, lambda service: asyncio.run(run(service))))
