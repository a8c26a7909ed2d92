"""`emojid lint`: what is wrong with the packs, for this instance or a target server."""

from __future__ import annotations

import sys
from typing import Any

import click

from emojid.cli.base import with_service
from emojid.cli.output import clip, complete_packs, echo_json, echo_table, json_option

# emojid.emoji.lint.TARGETS, spelled out so `--help` needs no image library.
TARGETS = ("pleroma", "akkoma", "mastodon", "misskey", "gotosocial")


@click.command("lint")
@click.argument("packs", nargs=-1, metavar="[PACK...]", shell_complete=complete_packs)
@click.option("--target", metavar="T", type=click.Choice(TARGETS, case_sensitive=False), default=None,
              help="Check against that server's limits instead of this instance's: " + ", ".join(TARGETS) + ".")
@json_option("Print the findings as GET /api/v1/emojid/lint answers them, as one JSON document.")
@click.pass_context
def lint(ctx: click.Context, packs: tuple[str, ...], target: str | None, as_json: bool) -> None:
    """Lint packs against this instance's rules or a target server's; exit status 1 on any error.

    Checks every pack and folder without pack.json unless PACKs are named.
    Findings: bad_pack_json, missing_file, unlisted_file, not_an_image,
    wrong_extension, too_large, too_many_pixels, bad_shortcode,
    duplicate_content, duplicate_shortcode; each an error or a warning.
    Without --target the rules are this instance's ([emoji] max_file_bytes,
    shortcode_pattern, allowed_extensions); with one, that software's limits
    as its source code sets them. Reads the index (file facts recorded when
    packs are indexed), never decodes an image.

    \b
    Examples:
        emojid lint
        emojid lint blobs --target mastodon
        emojid lint --json | jq '.findings[] | select(.severity == "error")'
    """
    from emojid.emoji.lint import ERROR
    from emojid.emoji.lint import lint as run_lint

    def run(service: Any) -> list[Any]:
        return run_lint(service.index, service.config, list(packs) or None, target)

    findings = with_service(ctx, run)
    if as_json:
        echo_json({"findings": [f.as_json() for f in findings]})
    else:
        echo_table(["SEVERITY", "CODE", "PACK", "SHORTCODE", "FILE", "MESSAGE"],
                   [[f.severity, f.code, f.pack, f.shortcode or "", f.filename or "", clip(f.message, 120)]
                    for f in findings])
    if any(f.severity == ERROR for f in findings):
        sys.exit(1)
