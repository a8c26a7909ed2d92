"""Where emojid meets the operating system: start-up refusals, SIGHUP, paths, env, systemd."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from emojid.config import load, prepare_paths
from emojid.errors import ConfigError
from tests.test_cli import EMOJID, clean_env_os, free_port, run, write_config

ROOT = Path(__file__).resolve().parent.parent


def start(config: Path, port: int) -> subprocess.Popen[str]:
    return subprocess.Popen([str(EMOJID), "--config", str(config), "serve", "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=clean_env_os())


def wait_healthy(proc: subprocess.Popen[str], port: int) -> dict:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[1]
        try:
            r = httpx.get(f"http://127.0.0.1:{port}/api/v1/pleroma/healthcheck", timeout=2)
            if r.status_code == 200:
                return r.json()
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError("server did not become healthy")


def stop(proc: subprocess.Popen[str]) -> str:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.communicate()[1]


def refused(config: Path, port: int) -> str:
    """A serve that must stop at once: exit != 0 and one line on stderr."""
    proc = subprocess.run([str(EMOJID), "--config", str(config), "serve", "--port", str(port)],
                          capture_output=True, text=True, timeout=60, env=clean_env_os())
    assert proc.returncode != 0
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("emojid: "), proc.stderr
    return lines[0]


def test_port_in_use_is_one_line_before_any_indexing(tmp_path):
    config = write_config(tmp_path / "a")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        line = refused(config, port)
    assert line == f"emojid: [server].port: {port} on 127.0.0.1 is already in use"
    assert not (tmp_path / "a" / "emojid.db").exists()
    assert not (tmp_path / "a" / "packs").exists()


def test_second_serve_on_the_same_database_is_refused(tmp_path):
    config = write_config(tmp_path)
    port = free_port()
    first = start(config, port)
    try:
        wait_healthy(first, port)
        line = refused(config, free_port())
        assert line == f"emojid: another emojid serve is already running on {tmp_path / 'emojid.db'}"
        # The CLI still works beside the running server.
        assert run(config, "pack", "list").exit_code == 0
        assert httpx.get(f"http://127.0.0.1:{port}/api/v1/pleroma/healthcheck").status_code == 200
    finally:
        stop(first)


def test_sighup_reloads_sync_jobs_and_log_level(tmp_path):
    config = write_config(tmp_path)
    port = free_port()
    proc = start(config, port)
    try:
        assert wait_healthy(proc, port)["job_queue_stats"]["sync_jobs"] == 0
        config.write_text(config.read_text() + '[server]\nlog_level = "warning"\n'
                          '[[sync]]\nurl = "https://pleroma.example"\ninterval_seconds = 3600\n')
        proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while wait_healthy(proc, port)["job_queue_stats"]["sync_jobs"] != 1:
            assert time.monotonic() < deadline, "the sync job was not picked up"
            time.sleep(0.1)
        # A broken file is refused and the server keeps running as it was.
        config.write_text(config.read_text() + "[nonsense]\n")
        proc.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        assert wait_healthy(proc, port)["job_queue_stats"]["sync_jobs"] == 1
    finally:
        stderr = stop(proc)
    assert proc.returncode == 0, stderr
    assert "SIGHUP: config not reloaded: unknown section [nonsense]" in stderr
    assert "Traceback" not in stderr
    # One format for every logger, emojid's and uvicorn's: "LEVEL name: message".
    for line in stderr.splitlines():
        assert line.split(" ", 1)[0] in ("DEBUG", "INFO", "WARNING", "ERROR"), line
        assert ": " in line, line
    # After the reload, log_level = "warning": uvicorn's shutdown lines (INFO) are gone.
    tail = stderr[stderr.index("SIGHUP"):]
    assert "INFO uvicorn" not in tail


def test_unrelated_emojid_variables_are_ignored(tmp_path):
    config = write_config(tmp_path)
    assert run(config, "pack", "list", EMOJID_BIN="/usr/bin/emojid").exit_code == 0
    assert load(config, environ={"EMOJID_BIN": "x", "EMOJID_SERVER_PORT": "4100"}).server.port == 4100
    with pytest.raises(ConfigError, match=r"EMOJID_SERVER_NOPE: unknown key \[server\].nope"):
        load(config, environ={"EMOJID_SERVER_NOPE": "1"})


def test_relative_paths_resolve_against_the_state_directory(tmp_path):
    etc, state = tmp_path / "etc", tmp_path / "state"
    etc.mkdir()
    state.mkdir()
    path = etc / "emojid.toml"
    path.write_text('[storage]\nmedia_dir = "media"\n[mail]\nspool_dir = "mail"\n')
    under_unit = load(path, environ={"STATE_DIRECTORY": str(state)})
    for where in (under_unit.packs_dir, under_unit.database_path, under_unit.cache_dir,
                  under_unit.media_dir, under_unit.mail_spool_dir):
        assert where.parent == state
    assert load(path, environ={}).media_dir == etc / "media"


def test_missing_paths_name_their_key(tmp_path):
    nested = write_config(tmp_path / "n")
    nested.write_text('[storage]\npacks_dir = "missing/packs"\n')
    with pytest.raises(ConfigError) as exc:
        prepare_paths(load(nested, environ={}))
    assert str(exc.value) == (f"[storage].packs_dir: {tmp_path / 'n' / 'missing' / 'packs'}: "
                              f"its folder {tmp_path / 'n' / 'missing'} does not exist")
    assert not (tmp_path / "n" / "missing").exists()
    blocked = write_config(tmp_path / "b")
    blocked.write_text('[storage]\ncache_dir = "cache"\n')
    (tmp_path / "b" / "cache").write_text("a file")
    with pytest.raises(ConfigError, match=r"^\[storage\].cache_dir: .* exists and is not a folder$"):
        prepare_paths(load(blocked, environ={}))
    line = run(blocked, "pack", "list")
    assert line.exit_code != 0 and "[storage].cache_dir" in line.stderr


def test_packs_dir_is_created_when_its_parent_exists(tmp_path):
    config = load(write_config(tmp_path), environ={})
    assert set(prepare_paths(config)) == {tmp_path / "packs", tmp_path / "cache"}
    assert prepare_paths(config) == []


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze (Debian package systemd)")
def test_systemd_unit_verifies_clean(tmp_path):
    unit = (ROOT / "systemd" / "emojid.service").read_text()
    assert "DynamicUser" not in unit and "User=emojid" in unit
    unit = unit.replace("/opt/emojid/.venv/bin/emojid", str(EMOJID))
    (tmp_path / "emojid.service").write_text(unit)
    proc = subprocess.run(["systemd-analyze", "verify", str(tmp_path / "emojid.service")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    assert not (ROOT / "systemd" / "emojid-sync.timer").exists()  # sync runs inside serve, once
