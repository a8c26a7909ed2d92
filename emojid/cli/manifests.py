"""Pleroma emoji-index manifests, as `mix pleroma.emoji`: `emojid pack ls-manifest`,
`get-packs`, `gen-pack`."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import click

from emojid.cli.base import fail, state, with_service
from emojid.cli.packs import pack, remote_packs
from emojid.errors import EmojidError

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

    config = state(ctx).config()

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
    On a terminal, progress bars show each download and unpacking.

    \b
    Example:
        emojid pack get-packs --manifest ./index.json finmoji blobs.gg
    """
    from emojid.emoji.manifest import DEFAULT_MANIFEST, ManifestInstaller, load_manifest

    st = state(ctx)

    async def run(service: Any) -> list[str]:
        async with remote_packs(service) as remote:
            loaded = await load_manifest(remote.remote, manifest or DEFAULT_MANIFEST)
            failed = []
            with st.bars() as bars:
                installer = ManifestInstaller(service, remote.remote, say=st.say, progress=bars)
                for name in names:
                    try:
                        await installer.install(loaded, name)
                    except (EmojidError, OSError) as exc:
                        message = fail(exc, ctx).format_message()
                        click.echo(f"emojid: {message if name in message else f'{name}: {message}'}", err=True)
                        failed.append(name)
            return failed

    if with_service(ctx, lambda service: asyncio.run(run(service))):
        sys.exit(1)


@pack.command("gen-pack")
@click.argument("url")
@click.option("--name", metavar="N", default=None, help="Pack name (default: the archive's file name without extension).")
@click.option("--license", "license_", metavar="L", default=None, help="License (default: empty).")
@click.option("--homepage", metavar="U", default=None, help="Homepage (default: empty).")
@click.option("--description", metavar="D", default=None, help="Description (default: empty).")
@click.option("--files", "files", default=None, metavar="PATH", type=click.Path(dir_okay=False),
              help="Where to save the file list (default: NAME_files.json).")
@click.option("--extensions", metavar="EXTS", default=None,
              help='Emoji file extensions, separated by spaces or commas (default: ".png .gif").')
@click.option("--manifest-out", metavar="PATH", default=None, type=click.Path(dir_okay=False),
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

    st = state(ctx)
    config = st.config()
    interactive = sys.stdin.isatty()

    def ask(value: str | None, question: str, default: str) -> str:
        if value is not None:
            return value
        if interactive:
            answer: str = click.prompt(question, default=default, show_default=bool(default))
            return answer
        return default

    name = ask(name, "Pack name", proposed_name(url))
    license_ = ask(license_, "License", "")
    homepage = ask(homepage, "Homepage", "")
    description = ask(description, "Description", "")
    files = ask(files, "Save file list to", f"{name}_files.json")
    exts = parse_extensions(ask(extensions, "Emoji file extensions (separated with spaces)",
                                " ".join(DEFAULT_EXTENSIONS)))
    manifest_path = manifest_out or f"{name}.json"
    st.say(f"Using {' '.join(exts)} extensions")

    async def run() -> Any:
        async with RemoteClient(config.remote) as client:
            with st.bars() as bars:
                return await gen_pack(config, client, url, name, license_, homepage, description, files, exts,
                                      manifest_path, say=st.say, progress=bars)

    result = asyncio.run(run())
    if result.duplicates:
        click.echo(f"emojid: warning: shortcodes already taken, not listed: {', '.join(result.duplicates)}",
                   err=True)
    st.say(f"\n{files} has been created and contains the list of all found emojis in the pack.\n"
           "Please review the files in the pack and remove those not needed.\n")
    click.echo(f"{manifest_path} has been {'created' if result.created else 'updated'} with the {result.name} pack")
