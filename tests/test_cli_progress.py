"""Progress bars of the long commands, through the console script against a second emojid
server (a subprocess on 127.0.0.1): drawn on a pseudo-terminal, absent in a pipe or with -q;
and the SSRF refusal naming the key that lifts it."""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.helpers import png_bytes, write_pack
from tests.test_cli import EMOJID, clean_env_os, done, emojid, free_port, on_pty, refused, table, write_config

ALLOW_PRIVATE = "[remote]\nallow_private_addresses = true\n"
IMAGES = {f"e{i:02d}.png": png_bytes(color, size=32) for i, color in
          enumerate(["red", "green", "blue", "orange", "white", "black", "pink", "gray"] * 5)}
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@dataclass
class Remote:
    url: str
    config: Path
    proc: subprocess.Popen[bytes]


@pytest.fixture(scope="module")
def remote(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Remote]:
    """Another emojid serving a shared pack `blobs` of 40 images."""
    root = tmp_path_factory.mktemp("remote")
    config = write_config(root)
    write_pack(root / "packs", "blobs", {name[:-4]: name for name in IMAGES},
               meta={"share-files": True, "license": "CC0"}, images=IMAGES)
    port = free_port()
    proc = subprocess.Popen([str(EMOJID), "--config", str(config), "serve", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=clean_env_os())
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            assert time.monotonic() < deadline, "the remote server did not start"
            try:
                listing = httpx.get(f"{url}/api/v1/pleroma/emoji/packs", timeout=2).json()
                if listing["packs"].get("blobs", {}).get("pack", {}).get("download-sha256"):
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        yield Remote(url, config, proc)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stderr:
            proc.stderr.close()


@pytest.fixture
def local(tmp_path: Path) -> Path:
    return write_config(tmp_path / "local", ALLOW_PRIVATE)


def on_terminal(*argv: str, timeout: float = 90) -> tuple[int, str]:
    """The console script with stdin, stdout and stderr on one pseudo-terminal; (status, text without ANSI codes)."""
    code, text = on_pty([str(EMOJID), *argv], clean_env_os() | {"TERM": "xterm-256color", "COLUMNS": "120"},
                        timeout=timeout)
    return code, ANSI.sub("", text)


def bar_lines(text: str, label: str) -> list[str]:
    """The final state of each bar labelled `label` (the terminal redraws lines with \\r)."""
    frames = [part for line in text.splitlines() for part in line.split("\r")]
    return [frame.strip() for frame in frames if frame.strip().startswith(label)]


def test_pack_download_shows_a_progress_bar_on_a_terminal(remote, local):
    code, text = on_terminal("--config", str(local), "pack", "download", remote.url, "blobs", "--as", "on_tty")
    assert code == 0, text
    downloading = bar_lines(text, "Downloading blobs")
    unpacking = bar_lines(text, "Unpacking on_tty")
    assert downloading and unpacking, text
    # Bytes and files, the share done, a rate and an ETA column.
    assert re.search(r"100%\s+[\d.]+ kB/[\d.]+ kB\s+[\d.]+ [kMG]?B/s\s+ETA", downloading[-1]), downloading
    assert re.search(r"100%\s+40/40 files\s+[\d.]+ files/s\s+ETA", unpacking[-1]), unpacking
    assert "━" in downloading[-1]
    assert text.rstrip().splitlines()[-1].strip() == "on_tty"  # the result, after the bars
    assert "Traceback" not in text
    assert sorted(p.name for p in (local.parent / "packs" / "on_tty").iterdir()) == sorted([*IMAGES, "pack.json"])


def test_pack_download_in_a_pipe_prints_only_the_name(remote, local):
    assert done(emojid(local, "pack", "download", remote.url, "blobs", "--as", "piped")) == "piped\n"
    shown = json.loads(done(emojid(local, "pack", "show", "piped", "--json")))
    assert shown["files_count"] == 40 and shown["pack"]["license"] == "CC0"


def test_quiet_silences_the_bars_and_verbose_adds_detail(remote, local):
    code, text = on_terminal("--config", str(local), "-q", "pack", "download", remote.url, "blobs", "--as", "quiet")
    assert code == 0, text
    assert text.strip() == "quiet"
    proc = emojid(local, "-v", "pack", "download", remote.url, "blobs", "--as", "verbose")
    assert proc.returncode == 0 and proc.stdout == "verbose\n", proc.stderr
    assert "Looking up blobs" in proc.stderr and "Installed verbose: 40 emoji" in proc.stderr
    assert "━" not in proc.stderr  # details, never bars, in a pipe


def test_reindex_sync_and_get_packs_show_bars_on_a_terminal_only(remote, local, tmp_path):
    sha = httpx.get(f"{remote.url}/api/v1/pleroma/emoji/packs").json()["packs"]["blobs"]["pack"]["download-sha256"]
    manifest = tmp_path / "index.json"
    manifest.write_text(json.dumps({"fromindex": {
        "src": f"{remote.url}/api/v1/pleroma/emoji/packs/archive?name=blobs", "src_sha256": sha,
        "files": {name[:-4]: name for name in IMAGES}, "license": "CC0"}}))
    code, text = on_terminal("--config", str(local), "pack", "get-packs", "-m", str(manifest), "fromindex")
    assert code == 0, text
    assert bar_lines(text, "Downloading fromindex") and bar_lines(text, "Unpacking fromindex"), text
    assert "SHA256 of fromindex source file is OK" in text

    code, text = on_terminal("--config", str(local), "reindex")
    assert code == 0, text
    [*_, reading] = bar_lines(text, "Reading packs")
    assert "1/1 packs" in reading, text
    assert text.rstrip().splitlines()[-1].strip() == "indexed 1 packs"
    assert done(emojid(local, "reindex")) == "indexed 1 packs\n"

    synced = write_config(tmp_path / "synced", ALLOW_PRIVATE + f'[[sync]]\nurl = "{remote.url}"\nas = "m_"\n')
    code, text = on_terminal("--config", str(synced), "sync", "--once")
    assert code == 0, text
    assert bar_lines(text, "Downloading blobs") and bar_lines(text, "Unpacking m_blobs"), text
    assert f"{remote.url}: ok updated=m_blobs" in text
    # Unchanged now: nothing to download, and in a pipe only the summary line.
    assert done(emojid(synced, "sync", "--once")) == f"{remote.url}: ok\n"
    rows = table(done(emojid(synced, "sync", "--status")))
    assert rows[0][:3] == ["URL", "RESULT", "LAST RUN"] and rows[1][:2] == [remote.url, "ok"]
    [job] = json.loads(done(emojid(synced, "sync", "--status", "--json")))
    assert job["url"] == remote.url and job["result"] == "ok" and job["updated"] == []


def test_a_refused_loopback_url_names_the_setting(remote, tmp_path):
    guarded = write_config(tmp_path / "guarded")
    line = refused(emojid(guarded, "pack", "download", remote.url, "blobs"))
    assert "127.0.0.1" in line and "[remote] allow_private_addresses" in line
    assert not (tmp_path / "guarded" / "packs" / "blobs").exists()


def test_commands_beside_the_running_server_show_in_its_api(remote):
    """`pack set` on the remote's own config while it serves: the API answers the change."""
    assert done(emojid(remote.config, "pack", "set", "blobs", "--description", "set by the CLI")) == "ok\n"
    deadline = time.monotonic() + 10
    while True:
        meta = httpx.get(f"{remote.url}/api/v1/pleroma/emoji/pack", params={"name": "blobs"}).json()["pack"]
        if meta.get("description") == "set by the CLI":
            break
        assert time.monotonic() < deadline, meta
        time.sleep(0.1)
    assert meta["license"] == "CC0" and meta["share-files"] is True
