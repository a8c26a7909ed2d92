"""The `emojid` command: accounts, tokens, packs with the server stopped, reindex, serve."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner, Result

from emojid import __version__
from emojid.auth.accounts import verify_password
from emojid.auth.index import AuthIndex
from emojid.cli import cli
from emojid.config import load
from emojid.emoji.index import EmojiIndex
from emojid.migrations import open_database
from tests import zygote
from tests.helpers import png_bytes, write_pack

ROOT = Path(__file__).resolve().parent.parent
EMOJID = ROOT / ".venv" / "bin" / "emojid"


def clean_env(**extra: str) -> dict[str, str | None]:
    """CliRunner env: every EMOJID_* of the outer environment unset, plus `extra`."""
    env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("EMOJID_")}
    env.update(extra)
    return env


def write_config(root: Path, extra: str = "") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    path = root / "emojid.toml"
    path.write_text(f'[storage]\npacks_dir = "packs"\ndatabase = "emojid.db"\ncache_dir = "cache"\n'
                    f"[watch]\nenabled = false\n{extra}")
    return path


def run(config: Path | None, *args: str, **env: str) -> Result:
    argv = (["--config", str(config)] if config else []) + list(args)
    return CliRunner().invoke(cli, argv, env=clean_env(**env), prog_name="emojid")


def ok(result: Result) -> str:
    assert result.exit_code == 0, (result.output, result.exception)
    assert result.stderr == ""
    return result.stdout


def table(out: str) -> list[list[str]]:
    """An aligned table's rows (header first), cells split on runs of two or more spaces."""
    return [re.split(r"\s{2,}", line.strip()) for line in out.splitlines()]


def failed(result: Result) -> str:
    """A user error: exit != 0, exactly one line on stderr, nothing on stdout, no traceback."""
    assert result.exit_code != 0, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("emojid: ")
    assert "Traceback" not in result.stderr
    return lines[0]


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    return write_config(tmp_path / "site")


def packs_dir(config_path: Path) -> Path:
    return config_path.parent / "packs"


# -- accounts and tokens --------------------------------------------------------


def test_user_create_prints_an_id(config_path):
    out = ok(run(config_path, "user", "create", "alice", "--password", "pw", "--email", "a@example.org"))
    account_id = out.strip()
    assert out == account_id + "\n"
    assert account_id.isdigit() and len(account_id) <= 20
    index = AuthIndex(open_database(load(config_path, environ={}).database_path))
    try:
        account = index.account_by_nickname("alice")
    finally:
        index.close()
    assert account is not None
    assert account.id == account_id
    assert account.email == "a@example.org"
    assert account.is_admin is False
    # Stored as an argon2id hash of the password, never the password itself
    # (a substring test would fail whenever the random salt happens to hold "pw").
    assert account.password_hash.startswith("$argon2id$")
    assert verify_password(account.password_hash, "pw")


def test_user_create_admin_flag(config_path):
    account_id = ok(run(config_path, "user", "create", "root", "--password", "pw", "--admin")).strip()
    index = AuthIndex(open_database(load(config_path, environ={}).database_path))
    try:
        assert index.account_by_id(account_id).is_admin is True
    finally:
        index.close()


def test_duplicate_user_is_one_line(config_path):
    ok(run(config_path, "user", "create", "alice", "--password", "pw"))
    line = failed(run(config_path, "user", "create", "alice", "--password", "other"))
    assert "alice" in line and "taken" in line


def test_bad_nickname_is_one_line(config_path):
    line = failed(run(config_path, "user", "create", "../alice", "--password", "pw"))
    assert "nickname" in line.lower()


def test_token_for_unknown_user_is_one_line(config_path):
    line = failed(run(config_path, "token", "create", "ghost"))
    assert "ghost" in line


def test_token_admin_scopes_need_an_admin(config_path):
    ok(run(config_path, "user", "create", "bob", "--password", "pw"))
    line = failed(run(config_path, "token", "create", "bob", "--scopes", "read write admin"))
    assert "admin" in line


async def test_token_create_prints_a_working_bearer_token(server):
    config = server.root / "emojid.toml"
    ok(run(config, "user", "create", "carol", "--password", "pw", "--admin"))
    out = ok(run(config, "token", "create", "carol", "--scopes", "read write admin"))
    token = out.strip()
    assert out == token + "\n" and token and " " not in token
    plain = ok(run(config, "token", "create", "carol")).strip()
    assert plain != token

    async with server.client(token) as c:
        r = await c.post("/api/v1/pleroma/emoji/pack", params={"name": "cli_made"})
        assert r.status_code == 200, r.text
        assert r.json() == "ok"
    assert (server.packs_dir / "cli_made" / "pack.json").is_file()

    # The default scopes carry no admin rights.
    async with server.client(plain) as c:
        r = await c.post("/api/v1/pleroma/emoji/pack", params={"name": "not_made"})
        assert r.status_code == 403, r.text
        assert "error" in r.json()
    assert not (server.packs_dir / "not_made").exists()


# -- packs with no server ------------------------------------------------------------


def test_pack_list_and_show_over_an_existing_store(config_path):
    store = packs_dir(config_path)
    write_pack(store, "blobs", {"blobcat": "blobcat.png", "blobfox": "sub/blobfox.png"},
               meta={"share-files": True, "license": "CC0", "description": "blobs"})
    write_pack(store, "private", {"secret": "secret.png"}, meta={"share-files": False})
    assert not (config_path.parent / "emojid.db").exists()

    out = ok(run(config_path, "pack", "list"))
    assert table(out) == [["NAME", "EMOJI", "STATE", "LICENSE", "DESCRIPTION"],
                          ["blobs", "2", "shared", "CC0", "blobs"],
                          ["private", "1", "private"]]
    assert (config_path.parent / "emojid.db").exists()

    shown = json.loads(ok(run(config_path, "pack", "show", "blobs", "--json")))
    assert shown["files"] == {"blobcat": "blobcat.png", "blobfox": "sub/blobfox.png"}
    assert shown["files_count"] == 2
    assert shown["pack"]["license"] == "CC0"
    assert shown["pack"]["description"] == "blobs"
    assert shown["pack"]["can-download"] is True


def test_pack_create_and_delete(config_path):
    store = packs_dir(config_path)
    write_pack(store, "existing", {"a": "a.png"})
    assert ok(run(config_path, "pack", "create", "fresh")) == "ok\n"
    doc = json.loads((store / "fresh" / "pack.json").read_text())
    assert doc["files"] == {}
    assert ["fresh", "0", "private"] in table(ok(run(config_path, "pack", "list")))
    shown = json.loads(ok(run(config_path, "pack", "show", "fresh", "--json")))
    assert shown["files"] == {} and shown["files_count"] == 0

    line = failed(run(config_path, "pack", "create", "fresh"))
    assert "fresh" in line and "already exists" in line

    assert ok(run(config_path, "pack", "delete", "fresh")) == "ok\n"
    assert not (store / "fresh").exists()
    assert table(ok(run(config_path, "pack", "list")))[1:] == [["existing", "1", "private"]]
    assert (store / "existing" / "a.png").is_file()


def test_pack_import(config_path):
    store = packs_dir(config_path)
    write_pack(store, "already", {"x": "x.png"})
    plain = store / "loose"
    (plain / "sub").mkdir(parents=True)
    (plain / "one.png").write_bytes(png_bytes("red"))
    (plain / "sub" / "two.png").write_bytes(png_bytes("blue"))
    (plain / "notes.txt").write_text("not an emoji")
    listed = store / "listed"
    listed.mkdir()
    (listed / "img.png").write_bytes(png_bytes("green"))
    (listed / "emoji.txt").write_text("greenie, img.png, Green\n")

    out = ok(run(config_path, "pack", "import"))
    assert out.splitlines() == ["listed", "loose"]
    loose = json.loads((plain / "pack.json").read_text())
    assert loose["files"] == {"one": "one.png", "two": "sub/two.png"}
    assert json.loads((listed / "pack.json").read_text())["files"] == {"greenie": "img.png"}
    shown = json.loads(ok(run(config_path, "pack", "show", "loose", "--json")))
    assert shown["files"] == {"one": "one.png", "two": "sub/two.png"}
    assert ok(run(config_path, "pack", "import")) == ""  # nothing left to import


@pytest.mark.parametrize("name", ["..", "../evil", ".hidden", "a/b", "a\\b"])
def test_bad_pack_name_is_one_line(config_path, name):
    store = packs_dir(config_path)
    store.mkdir(parents=True)
    failed(run(config_path, "pack", "create", name))
    assert list(store.iterdir()) == []
    assert sorted(p.name for p in config_path.parent.parent.iterdir()) == ["site"]


def test_unknown_pack_is_one_line(config_path):
    line = failed(run(config_path, "pack", "show", "nope"))
    assert "nope" in line and "does not exist" in line
    line = failed(run(config_path, "pack", "delete", "nope"))
    assert "nope" in line


def test_bad_config_key_is_one_line(tmp_path):
    config = write_config(tmp_path, "[server]\nprot = 4000\n")
    line = failed(run(config, "pack", "list"))
    assert "[server].prot" in line
    assert not (tmp_path / "emojid.db").exists()


def test_bad_env_value_is_one_line(config_path):
    line = failed(run(config_path, "pack", "list", EMOJID_SERVER_PORT="many"))
    assert "EMOJID_SERVER_PORT" in line


def test_missing_config_file_is_one_line(tmp_path):
    line = failed(run(tmp_path / "absent.toml", "pack", "list"))
    assert "absent.toml" in line


@pytest.mark.parametrize("args", [
    ["pack", "show"],
    ["no-such-command"],
    ["user", "create"],
    ["pack", "add", "blobs"],
    ["sync", "--json"],
    ["serve", "--port", "abc"],
    ["pack", "create", "a", "b"],
])
def test_usage_errors_are_one_line(config_path, args):
    result = run(config_path, *args)
    assert result.exit_code == 2
    failed(result)
    assert not (config_path.parent / "emojid.db").exists()


def test_help_still_prints(config_path):
    out = ok(run(config_path, "pack", "--help"))
    assert "create" in out and "import" in out
    result = run(config_path, "pack")
    assert "Usage:" in result.output


def test_emojid_config_variable_and_flag(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    a = write_config(tmp_path / "a")
    b = write_config(tmp_path / "b")
    write_pack(packs_dir(a), "from_a", {"x": "x.png"})
    write_pack(packs_dir(b), "from_b", {"y": "y.png"})
    assert table(ok(run(None, "pack", "list", EMOJID_CONFIG=str(a))))[1][0] == "from_a"
    # --config wins over EMOJID_CONFIG.
    assert table(ok(run(b, "pack", "list", EMOJID_CONFIG=str(a))))[1][0] == "from_b"
    # Neither: ./emojid.toml, here absent, means the defaults under the working directory.
    write_pack(tmp_path / "packs", "from_cwd", {"z": "z.png"})
    assert table(ok(run(None, "pack", "list")))[1][0] == "from_cwd"


def test_reindex_rebuilds_a_deleted_database(config_path):
    store = packs_dir(config_path)
    write_pack(store, "blobs", {"blobcat": "blobcat.png", "blobfox": "blobfox.png"}, meta={"share-files": True})
    write_pack(store, "cats", {"cat": "cat.png"})
    ok(run(config_path, "pack", "list"))
    db = config_path.parent / "emojid.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)

    assert ok(run(config_path, "reindex")) == "indexed 2 packs\n"
    assert db.exists()
    index = EmojiIndex(open_database(db))
    try:
        assert sorted(index.pack_names()) == ["blobs", "cats"]
        assert index.pack_files("blobs", 0, 100) == {"blobcat": "blobcat.png", "blobfox": "blobfox.png"}
        assert index.pack_files("cats", 0, 100) == {"cat": "cat.png"}
    finally:
        index.close()

    # A pack removed by hand disappears on the next reindex.
    shutil.rmtree(store / "cats")
    assert ok(run(config_path, "reindex")) == "indexed 1 packs\n"
    index = EmojiIndex(open_database(db))
    try:
        assert index.pack_names() == ["blobs"]
    finally:
        index.close()


# -- real processes -------------------------------------------------------------------


def clean_env_os() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("EMOJID_")}


def _argv(config: Path | None, args: tuple[str, ...]) -> list[str]:
    return [str(EMOJID), *(["--config", str(config)] if config else []), *args]


def emojid(config: Path | None, *args: str, input: str | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    """The command in a process of its own, forked off tests.zygote (the console script's
    imports done once): stdin `input` or empty, stdout and stderr captured."""
    return zygote.runner().run(_argv(config, args), clean_env_os() | env, input=input)


def console_script(config: Path | None, *args: str) -> subprocess.CompletedProcess[str]:
    """The installed console script itself, in a fresh interpreter (what emojid() stands in for)."""
    return subprocess.run(_argv(config, args), stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120,
                          env=clean_env_os())


def on_pty(argv: list[str], env: dict[str, str], answers: list[tuple[bytes, bytes]] | None = None,
           timeout: float = 60) -> tuple[int, str]:
    """Run `argv` with stdin, stdout and stderr on one pseudo-terminal, typing each answer
    once its prompt shows; (status, all output)."""
    answers = list(answers or [])
    primary, secondary = pty.openpty()
    proc = subprocess.Popen(argv, stdin=secondary, stdout=secondary, stderr=secondary, env=env, close_fds=True)
    os.close(secondary)
    output = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if answers and answers[0][0] in output:
                os.write(primary, answers.pop(0)[1])
                output = output.replace(b":", b";")  # each prompt answered once
            ready, _, _ = select.select([primary], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(primary, 65536)
                except OSError:  # EIO: the child is gone and the terminal drained
                    break
                if not chunk:
                    break
                output += chunk
            elif proc.poll() is not None:
                break
        return proc.wait(timeout=10), output.decode(errors="replace")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(primary)


def done(proc: subprocess.CompletedProcess[str]) -> str:
    """Success: exit 0, nothing on stderr; stdout."""
    assert proc.returncode == 0, (proc.stdout, proc.stderr)
    assert proc.stderr == "", proc.stderr
    return proc.stdout


def refused(proc: subprocess.CompletedProcess[str], code: int | None = None) -> str:
    """A user error: exit != 0, exactly one `emojid: ` line on stderr, nothing on stdout; the line."""
    assert proc.returncode != 0, (proc.stdout, proc.stderr)
    if code is not None:
        assert proc.returncode == code, (proc.returncode, proc.stderr)
    assert proc.stdout == "", proc.stdout
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("emojid: "), proc.stderr
    return lines[0]


def test_the_console_script_itself(tmp_path):
    """What emojid() forks off the zygote, run as installed: an answer, and an error with
    no traceback."""
    assert done(console_script(None, "--version")) == f"emojid, version {__version__}\n"
    config = write_config(tmp_path, '[server]\nport = "x"\n')
    proc = console_script(config, "pack", "list")
    assert proc.returncode != 0
    assert proc.stdout == ""
    assert proc.stderr.splitlines() == [proc.stderr.strip()]
    assert "[server].port" in proc.stderr
    assert "Traceback" not in proc.stderr


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_answers_and_stops_cleanly_on_sigterm(tmp_path):
    config = write_config(tmp_path)
    config.write_text(config.read_text().replace("enabled = false", "enabled = true"))
    write_pack(packs_dir(config), "blobs", {"blobcat": "blobcat.png"})
    port = free_port()
    proc = subprocess.Popen([str(EMOJID), "--config", str(config), "serve", "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=clean_env_os())
    try:
        deadline = time.monotonic() + 30
        body = None
        while time.monotonic() < deadline:
            assert proc.poll() is None, proc.communicate()[1].decode()
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/api/v1/pleroma/healthcheck", timeout=2)
                if r.status_code == 200:
                    body = r.json()
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        assert body is not None, "server did not become healthy"
        assert body["healthy"] is True
        assert body["watcher"] == "alive"
        r = httpx.get(f"http://127.0.0.1:{port}/api/v1/pleroma/emoji/packs")
        assert r.status_code == 200
        assert list(r.json()["packs"]) == ["blobs"]

        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=10)
        stderr = proc.stderr.read().decode()
        assert code == 0, stderr
        assert "Traceback" not in stderr
        with pytest.raises(httpx.TransportError):
            httpx.get(f"http://127.0.0.1:{port}/api/v1/pleroma/healthcheck", timeout=2)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()
