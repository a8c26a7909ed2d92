"""The README's command table is the commands' own help; --version; shell completion."""

from __future__ import annotations

import re
from pathlib import Path

from emojid import __version__
from emojid.cli import cli
from emojid.cli.reference import block, readme_block
from tests.helpers import write_pack
from tests.test_cli import ROOT, done, emojid, write_config

README = ROOT / "README.md"


def test_readme_table_is_generated_from_the_commands():
    current = readme_block(README.read_text(encoding="utf-8"))
    assert current is not None, "README.md lost its generated command table"
    assert current == block(cli), "README.md is out of date: run `.venv/bin/python -m emojid.cli.reference --write`"


def _help_tree(path: list[str]) -> list[tuple[list[str], list[str]]]:
    """(command path, its options) for every command under `path`, read from `--help` of the real script."""
    out = done(emojid(None, *path, "--help"))
    options = re.findall(r"^\s+((?:-\w, )?--[\w-]+(?:/--[\w-]+)?)", out, re.M)
    commands = re.findall(r"^  ([a-z][\w-]*)  ", out.split("Commands:")[1], re.M) if "Commands:" in out else []
    found = [(path, options)]
    for name in commands:
        found += _help_tree([*path, name])
    return found


def test_every_command_and_option_of_the_help_is_in_the_readme():
    table = readme_block(README.read_text(encoding="utf-8")) or ""
    rows = [line for line in table.splitlines() if line.startswith("| `emojid")]
    tree = _help_tree([])
    leaves = [(path, options) for path, options in tree if path and not any(
        other[:len(path)] == path and len(other) > len(path) for other, _ in tree)]
    assert len(leaves) >= 23
    [(_root, global_options)] = [(path, options) for path, options in tree if not path]
    [global_row] = [r for r in rows if r.startswith("| `emojid [")]
    for option in global_options:
        assert option.endswith("--help") or option.split(", ")[-1] in global_row, option
    for path, options in leaves:
        command = "emojid " + " ".join(path)
        [row] = [r for r in rows if r.startswith(f"| `{command} ") or r.startswith(f"| `{command}`")]
        for option in options:
            if option.endswith("--help"):
                continue
            long = option.split(", ")[-1]
            assert long in row, (command, option, row)


def test_version():
    assert done(emojid(None, "--version")) == f"emojid, version {__version__}\n"
    assert done(emojid(None, "-V")) == f"emojid, version {__version__}\n"


def test_shell_completion(tmp_path: Path):
    script = done(emojid(None, _EMOJID_COMPLETE="bash_source"))
    assert "_emojid_completion" in script and "complete " in script

    def complete(words: str) -> list[str]:
        out = done(emojid(None, COMP_WORDS=words, COMP_CWORD=str(len(words.split()) - 1 + words.endswith(" ")),
                          _EMOJID_COMPLETE="bash_complete"))
        return [line.split(",", 1)[1] for line in out.splitlines()]

    assert complete("emojid pack sh") == ["show"]
    assert {"add", "rename", "remove", "set"} <= set(complete("emojid pack "))
    config = write_config(tmp_path / "site")
    write_pack(tmp_path / "site" / "packs", "blobs", {"a": "a.png"})
    write_pack(tmp_path / "site" / "packs", "cats", {"c": "c.png"})
    assert complete(f"emojid --config {config} pack show b") == ["blobs"]
    assert complete(f"emojid --config {config} pack delete ") == ["blobs", "cats"]
    done(emojid(config, "user", "create", "alice", "--password", "pw"))
    assert complete(f"emojid --config {config} user passwd al") == ["alice"]
