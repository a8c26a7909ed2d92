"""The `emojid` command: a thin shell over the services the API uses.

    base       the root group, global options (--config, -q, -v, --version),
               one-line errors, the services over the configured database
    output     tables, --json, password prompts, shell completion
    packs      emojid pack ...        manifests  pack ls-manifest/get-packs/gen-pack
    accounts   emojid user/token ...  daemon     serve, sync, reindex
    lint       emojid lint

Progress bars come from emojid.progress (rich, on stderr, terminals only).
"""

from __future__ import annotations

from emojid.cli import interchange as _interchange  # noqa: F401  (adds export, import-file to `pack`)
from emojid.cli import manifests as _manifests  # noqa: F401  (adds its commands to `pack`)
from emojid.cli.accounts import token, user
from emojid.cli.base import CliError, Group, State, cli
from emojid.cli.daemon import reindex, serve, sync
from emojid.cli.lint import lint
from emojid.cli.packs import pack

for _command in (serve, user, token, pack, sync, reindex, lint):
    cli.add_command(_command)


def main() -> None:
    cli(prog_name="emojid")


__all__ = ["CliError", "Group", "State", "cli", "main"]
