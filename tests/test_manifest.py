"""Pleroma emoji-index manifests: `emojid pack ls-manifest`, `get-packs`, `gen-pack`.

Manifests, files maps and archives are served by a small Starlette stub on
127.0.0.1 (in its own thread, since the commands run their own event loop);
the commands run through click's CliRunner against a real config, store and
SQLite index.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import uvicorn
from click.testing import CliRunner, Result
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from emojid.cli import cli
from tests.helpers import gif_bytes, png_bytes, sha256_upper, tree, zip_bytes

ALLOW_PRIVATE = "[remote]\nallow_private_addresses = true\n"


# -- the stub server ------------------------------------------------------------


@dataclass
class Stub:
    url: str
    files: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    hits: list[str] = field(default_factory=list)

    def put(self, path: str, body: bytes | dict, content_type: str | None = None) -> str:
        """Serve `body` at `path`; the full URL."""
        if isinstance(body, dict):
            body, content_type = json.dumps(body).encode(), "application/json"
        self.files[path.lstrip("/")] = (body, content_type or "application/zip")
        return f"{self.url}/{path.lstrip('/')}"


@pytest.fixture
def stub() -> Iterator[Stub]:
    sock = socket.create_server(("127.0.0.1", 0))
    state = Stub(f"http://127.0.0.1:{sock.getsockname()[1]}")

    async def serve_file(request: Request) -> Response:
        path = request.path_params["path"]
        state.hits.append(path)
        if path not in state.files:
            return Response(b'{"error": "Not found"}', 404, media_type="application/json")
        body, content_type = state.files[path]
        return Response(body, media_type=content_type)

    app = Starlette(routes=[Route("/{path:path}", serve_file)])
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "stub server failed to start"
        time.sleep(0.01)
    try:
        yield state
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


# -- running the command ------------------------------------------------------------


def write_config(root: Path, extra: str = ALLOW_PRIVATE) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    path = root / "emojid.toml"
    path.write_text('[storage]\npacks_dir = "packs"\ndatabase = "emojid.db"\ncache_dir = "cache"\n'
                    f"[watch]\nenabled = false\n{extra}")
    return path


def run(config: Path, *args: str) -> Result:
    env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("EMOJID_")}
    return CliRunner().invoke(cli, ["--config", str(config), *args], env=env, prog_name="emojid")


def ok(result: Result) -> str:
    assert result.exit_code == 0, (result.output, result.exception)
    assert result.stderr == ""
    return result.stdout


def failed(result: Result) -> list[str]:
    """Non-zero exit, one `emojid: ` line per failure on stderr, no traceback; the lines."""
    assert result.exit_code != 0, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert lines and all(line.startswith("emojid: ") for line in lines), result.stderr
    return lines


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write_config(tmp_path / "site")


def packs_dir(config: Path) -> Path:
    return config.parent / "packs"


def store_state(config: Path) -> dict[str, bytes]:
    """Everything under packs_dir and the download cache: to assert nothing was written."""
    state = {}
    for sub in ("packs", "cache/downloads"):
        root = config.parent / sub
        if root.exists():
            state.update({f"{sub}/{k}": v for k, v in tree(root).items()})
    return state


# Pleroma's fixtures: test/fixtures/emoji/packs/manifest.json and default-manifest.json.
BLOBS_ENTRY = {
    "src_sha256": "3a12f3a181678d5b3584a62095411b0d60a335118135910d879920f8ade5a57f",
    "src": "https://git.pleroma.social/pleroma/emoji-index/raw/master/packs/blobs_gg.zip",
    "license": "Apache 2.0",
    "homepage": "https://blobs.gg",
    "files": "blobs_gg.json",
    "description": "Blob Emoji from blobs.gg repacked as apng",
}
FINMOJI_ENTRY = {
    "license": "CC BY-NC-ND 4.0",
    "homepage": "https://finland.fi/emoji/",
    "description": "Finland is the first country in the world to publish its own set of country themed emojis.",
    "src": "https://finland.fi/wp-content/uploads/2017/06/finland-emojis.zip",
    "src_sha256": "384025A1AC6314473863A11AC7AB38A12C01B851A3F82359B89B4D4211D3291D",
    "files": "finmoji.json",
}


def serve_pack(stub: Stub, name: str = "finmoji", entries: dict[str, bytes] | None = None,
               files: dict[str, str] | None = None, sha: str | None = None) -> tuple[str, bytes]:
    """An archive, its files map and a manifest naming them on the stub; (manifest URL, archive bytes)."""
    entries = entries if entries is not None else {"blank.png": png_bytes("white"), "dance.gif": gif_bytes(),
                                                   "readme.txt": b"not an emoji"}
    files = files if files is not None else {"blank": "blank.png", "dance": "dance.gif"}
    archive = zip_bytes(entries)
    src = stub.put(f"archives/{name}.zip", archive)
    stub.put(f"index/{name}.json", files)
    manifest = {name: {"license": "CC BY 4.0", "homepage": "https://example.org/finmoji",
                       "description": "Finnish emotions", "src": src,
                       "src_sha256": sha if sha is not None else sha256_upper(archive).lower(),
                       "files": f"{name}.json"}}
    return stub.put("index/index.json", manifest), archive


# -- ls-manifest ------------------------------------------------------------------


def test_ls_manifest_from_a_file_prints_pleromas_fields(config, tmp_path):
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"blobs.gg": BLOBS_ENTRY, "finmoji": FINMOJI_ENTRY}))
    out = ok(run(config, "pack", "ls-manifest", "--manifest", str(manifest)))
    assert out == (
        "Name: blobs.gg\n"
        "Homepage: https://blobs.gg\n"
        "Description: Blob Emoji from blobs.gg repacked as apng\n"
        "License: Apache 2.0\n"
        "Source: https://git.pleroma.social/pleroma/emoji-index/raw/master/packs/blobs_gg.zip\n"
        "\n"
        "Name: finmoji\n"
        "Homepage: https://finland.fi/emoji/\n"
        f"Description: {FINMOJI_ENTRY['description']}\n"
        "License: CC BY-NC-ND 4.0\n"
        "Source: https://finland.fi/wp-content/uploads/2017/06/finland-emojis.zip\n"
        "\n"
    )
    # Pleroma's short option works too.
    assert ok(run(config, "pack", "ls-manifest", "-m", str(manifest))) == out


def test_ls_manifest_from_a_url(config, stub):
    url = stub.put("emoji-index/index.json", {"finmoji": FINMOJI_ENTRY})
    out = ok(run(config, "pack", "ls-manifest", "--manifest", url))
    assert "Name: finmoji\n" in out
    assert "Source: https://finland.fi/wp-content/uploads/2017/06/finland-emojis.zip\n" in out
    assert stub.hits == ["emoji-index/index.json"]


def test_ls_manifest_errors_are_one_line(config, stub, tmp_path):
    assert "cannot be read" in failed(run(config, "pack", "ls-manifest", "-m", str(tmp_path / "absent.json")))[0]
    (tmp_path / "bad.json").write_text("[1, 2]")
    assert "not a manifest" in failed(run(config, "pack", "ls-manifest", "-m", str(tmp_path / "bad.json")))[0]
    line = failed(run(config, "pack", "ls-manifest", "-m", f"{stub.url}/missing.json"))[0]
    assert "missing.json" in line and "404" in line


# -- get-packs --------------------------------------------------------------------


def test_get_packs_installs_with_the_files_map(config, stub):
    manifest_url, archive = serve_pack(stub)  # the manifest gives the SHA256 in lower case
    out = ok(run(config, "pack", "get-packs", "--manifest", manifest_url, "finmoji"))
    assert out.splitlines() == [
        f"Downloading finmoji from {stub.url}/archives/finmoji.zip",
        "SHA256 of finmoji source file is OK",
        f"Fetching the file list for finmoji from {stub.url}/index/finmoji.json",
        "Unpacking finmoji",
        "Writing pack.json for finmoji",
    ]
    pack = packs_dir(config) / "finmoji"
    # Only the mapped files are unpacked.
    assert sorted(p.name for p in pack.iterdir()) == ["blank.png", "dance.gif", "pack.json"]
    assert (pack / "blank.png").read_bytes() == png_bytes("white")
    doc = json.loads((pack / "pack.json").read_text())
    assert doc["files"] == {"blank": "blank.png", "dance": "dance.gif"}
    assert doc["files_count"] == 2
    assert doc["pack"] == {
        "license": "CC BY 4.0",
        "homepage": "https://example.org/finmoji",
        "description": "Finnish emotions",
        "fallback-src": f"{stub.url}/archives/finmoji.zip",
        "fallback-src-sha256": sha256_upper(archive),
        "share-files": True,
    }
    assert ok(run(config, "pack", "list")).splitlines()[1].split()[:3] == ["finmoji", "2", "shared"]
    shown = json.loads(ok(run(config, "pack", "show", "finmoji", "--json")))
    assert shown["files"] == {"blank": "blank.png", "dance": "dance.gif"}
    # No staging folder or downloaded archive is left behind.
    assert not [p for p in packs_dir(config).iterdir() if p.name.startswith(".staging-")]
    assert not list((config.parent / "cache" / "downloads").iterdir())


def test_get_packs_from_a_local_manifest_with_a_local_archive_and_inline_files(config, tmp_path):
    """Pleroma's "install local emoji pack": a src path and a manifest on disk; files given inline."""
    folder = tmp_path / "local_pack"
    folder.mkdir()
    archive = zip_bytes({"emoji/blank.png": png_bytes()})
    (folder / "blank.png.zip").write_bytes(archive)
    (folder / "manifest.json").write_text(json.dumps({"local": {
        "src_sha256": sha256_upper(archive), "src": "blank.png.zip", "license": "Apache 2.0",
        "homepage": "https://example.com", "files": {"blank": "emoji/blank.png"},
        "description": "Some local pack"}}))
    out = ok(run(config, "pack", "get-packs", "-m", str(folder / "manifest.json"), "local"))
    assert "Writing pack.json for local" in out
    pack = packs_dir(config) / "local"
    assert (pack / "emoji" / "blank.png").read_bytes() == png_bytes()
    doc = json.loads((pack / "pack.json").read_text())
    assert doc["files"] == {"blank": "emoji/blank.png"}
    assert doc["pack"]["description"] == "Some local pack"
    assert "fallback-src" not in doc["pack"]  # a local file is no source for other servers
    assert ok(run(config, "pack", "list")).splitlines()[1].split()[:3] == ["local", "1", "shared"]


def test_get_packs_wrong_sha_installs_nothing(config, stub):
    manifest_url, _ = serve_pack(stub, sha="00" * 32)
    result = run(config, "pack", "get-packs", "--manifest", manifest_url, "finmoji")
    assert failed(result) == ["emojid: Bad SHA256 for finmoji"]
    assert "SHA256 of finmoji source file is BAD" in result.stdout
    assert store_state(config) == {}
    assert ok(run(config, "pack", "list")) == ""
    # The files map is never fetched for a bad archive.
    assert "index/finmoji.json" not in stub.hits


def test_get_packs_refuses_an_archive_with_a_traversal_entry(config, stub, tmp_path):
    manifest_url, _ = serve_pack(stub, entries={"blank.png": png_bytes(), "../../evil.png": png_bytes()})
    line = failed(run(config, "pack", "get-packs", "--manifest", manifest_url, "finmoji"))
    assert len(line) == 1 and "unsafe entry '../../evil.png'" in line[0]
    assert store_state(config) == {}
    assert not list(tmp_path.rglob("evil.png"))


def test_get_packs_refuses_a_files_map_with_unsafe_paths(config, stub):
    manifest_url, _ = serve_pack(stub, files={"blank": "blank.png", "evil": "../evil.png"})
    [line] = failed(run(config, "pack", "get-packs", "--manifest", manifest_url, "finmoji"))
    assert "unsafe file path '../evil.png'" in line
    assert store_state(config) == {}


def test_get_packs_refuses_files_the_archive_lacks_or_that_are_not_images(config, stub):
    manifest_url, _ = serve_pack(stub, files={"blank": "blank.png", "ghost": "ghost.png"})
    [line] = failed(run(config, "pack", "get-packs", "--manifest", manifest_url, "finmoji"))
    assert "lacks ghost.png" in line
    assert store_state(config) == {}
    manifest_url, _ = serve_pack(stub, entries={"fake.png": b"not a png"}, files={"fake": "fake.png"})
    [line] = failed(run(config, "pack", "get-packs", "--manifest", manifest_url, "finmoji"))
    assert "fake.png" in line and "not a valid image" in line
    assert store_state(config) == {}


def test_get_packs_unknown_name_fails_but_the_others_install(config, stub):
    manifest_url, _ = serve_pack(stub)
    result = run(config, "pack", "get-packs", "--manifest", manifest_url, "not_found", "finmoji")
    assert failed(result) == ['emojid: No pack named "not_found" found']
    assert "Writing pack.json for finmoji" in result.stdout
    assert ok(run(config, "pack", "list")).splitlines()[1].split()[:3] == ["finmoji", "2", "shared"]


def test_get_packs_never_touches_an_existing_pack(config, stub):
    manifest_url, _ = serve_pack(stub)
    ok(run(config, "pack", "create", "finmoji"))
    before = store_state(config)
    [line] = failed(run(config, "pack", "get-packs", "--manifest", manifest_url, "finmoji"))
    assert line == 'emojid: A pack named "finmoji" already exists'
    assert store_state(config) == before
    assert "archives/finmoji.zip" not in stub.hits  # refused before downloading


def test_get_packs_with_the_default_guard_refuses_a_loopback_src(tmp_path, stub):
    config = write_config(tmp_path / "guarded", extra="")
    archive = zip_bytes({"blank.png": png_bytes()})
    src = stub.put("blank.zip", archive)
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"finmoji": {"src": src, "src_sha256": sha256_upper(archive),
                                                "files": {"blank": "blank.png"}}}))
    [line] = failed(run(config, "pack", "get-packs", "--manifest", str(manifest), "finmoji"))
    assert "Refusing to connect to 127.0.0.1" in line
    assert stub.hits == []
    assert store_state(config) == {}
    # The manifest itself cannot be fetched from a loopback URL either.
    [line] = failed(run(config, "pack", "ls-manifest", "--manifest", stub.put("index.json", {})))
    assert "Refusing to connect to 127.0.0.1" in line
    assert stub.hits == []


def test_get_packs_needs_a_name(config, tmp_path):
    result = run(config, "pack", "get-packs", "--manifest", str(tmp_path / "m.json"))
    assert result.exit_code == 2 and "Traceback" not in result.stderr


# -- gen-pack ----------------------------------------------------------------------


GEN_FLAGS = ("--license", "license", "--homepage", "homepage", "--description", "description")


def test_gen_pack_writes_pleromas_manifest_entry_and_file_list(config, stub, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    archive = zip_bytes({"blank.png": png_bytes(), "sub/dance.gif": gif_bytes(), "anim.webp": b"x",
                         "readme.txt": b"hello"})
    url = stub.put("wp-content/uploads/finland-emojis.zip", archive)
    out = ok(run(config, "pack", "gen-pack", url, "--name", "pack1", *GEN_FLAGS,
                 "--files", "pack1_file.json", "--extensions", ".png .gif"))
    assert "Using .png .gif extensions" in out
    assert f"SHA256 is {sha256_upper(archive)}" in out
    assert "pack1_file.json has been created and contains the list of all found emojis in the pack." in out
    assert out.rstrip().endswith("pack1.json has been created with the pack1 pack")

    assert json.loads((tmp_path / "pack1_file.json").read_text()) == {"blank": "blank.png", "dance": "sub/dance.gif"}
    assert json.loads((tmp_path / "pack1.json").read_text()) == {"pack1": {
        "description": "description",
        "files": "pack1_file.json",
        "homepage": "homepage",
        "license": "license",
        "src": url,
        "src_sha256": sha256_upper(archive),
    }}
    # Pretty JSON as Jason writes it.
    assert (tmp_path / "pack1_file.json").read_text().startswith('{\n  "blank": "blank.png",\n')


def test_gen_pack_custom_extensions_update_the_manifest_and_defaults(config, stub, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    archive = zip_bytes({"a.png": png_bytes(), "b.jpeg": b"jpeg", "c.gif": gif_bytes()})
    url = stub.put("packs/pack2.zip", archive)
    (tmp_path / "pack2.json").write_text(json.dumps({"other": FINMOJI_ENTRY, "pack2": {"src": "old"}}))
    out = ok(run(config, "pack", "gen-pack", url, *GEN_FLAGS, "--extensions", " .png   .gif    .jpeg "))
    assert "Using .png .gif .jpeg extensions" in out
    # Non-interactive: the name comes from the URL, the file list from the name.
    assert "pack2.json has been updated with the pack2 pack" in out
    assert json.loads((tmp_path / "pack2_files.json").read_text()) == {"a": "a.png", "b": "b.jpeg", "c": "c.gif"}
    manifest = json.loads((tmp_path / "pack2.json").read_text())
    assert manifest["other"] == FINMOJI_ENTRY
    assert manifest["pack2"]["src_sha256"] == sha256_upper(archive)
    assert manifest["pack2"]["files"] == "pack2_files.json"
    # Commas work too; every other answer defaults to empty.
    ok(run(config, "pack", "gen-pack", url, "--name", "p3", "--extensions", ".png,.gif"))
    assert json.loads((tmp_path / "p3_files.json").read_text()) == {"a": "a.png", "c": "c.gif"}
    assert json.loads((tmp_path / "p3.json").read_text())["p3"]["license"] == ""


def test_gen_pack_output_installs_with_get_packs(config, stub, tmp_path):
    archive = zip_bytes({"emoji/blank.png": png_bytes(), "emoji/dance.gif": gif_bytes()})
    url = stub.put("blobs.zip", archive)
    out_dir = tmp_path / "index"
    ok(run(config, "pack", "gen-pack", url, "--name", "blobs", *GEN_FLAGS,
           "--files", str(out_dir / "blobs_files.json"), "--manifest-out", str(out_dir / "index.json")))
    assert json.loads((out_dir / "index.json").read_text())["blobs"]["files"] == "blobs_files.json"
    # Served next to each other, as an emoji index is.
    manifest_url = stub.put("index/index.json", json.loads((out_dir / "index.json").read_text()))
    stub.put("index/blobs_files.json", json.loads((out_dir / "blobs_files.json").read_text()))
    ok(run(config, "pack", "get-packs", "-m", manifest_url, "blobs"))
    assert ok(run(config, "pack", "list")).splitlines()[1].split()[:3] == ["blobs", "2", "shared"]
    assert (packs_dir(config) / "blobs" / "emoji" / "dance.gif").read_bytes() == gif_bytes()


def test_gen_pack_refuses_unsafe_archives_and_writes_nothing(config, stub, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    url = stub.put("evil.zip", zip_bytes({"ok.png": png_bytes()}, symlinks={"link.png": "/etc/passwd"}))
    [line] = failed(run(config, "pack", "gen-pack", url, "--name", "evil"))
    assert "symlink entry 'link.png'" in line
    assert not (tmp_path / "evil.json").exists() and not (tmp_path / "evil_files.json").exists()


def test_gen_pack_with_the_default_guard_refuses_loopback(tmp_path, stub, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = write_config(tmp_path / "guarded", extra="")
    url = stub.put("pack.zip", zip_bytes({"a.png": png_bytes()}))
    [line] = failed(run(config, "pack", "gen-pack", url, "--name", "pack"))
    assert "Refusing to connect to 127.0.0.1" in line
    assert stub.hits == []
    assert not (tmp_path / "pack.json").exists()
