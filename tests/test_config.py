"""emojid.toml, --config / EMOJID_CONFIG and EMOJID_<SECTION>_<KEY> overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from emojid.config import Config, load
from emojid.errors import ConfigError

FULL = """
[server]
host = "0.0.0.0"
port = 4321
base_url = "https://emoji.example"

[storage]
packs_dir = "store/packs"
database = "state/index.db"
cache_dir = "state/cache"

[emoji]
allowed_extensions = [".png", ".gif"]
max_file_bytes = 2048
shortcode_pattern = "^[a-z]+$"

[instance]
name = "Blob land"
registrations_open = false

[remote]
allow_private_addresses = true
timeout_seconds = 7
max_download_bytes = 4096

[watch]
enabled = false

[[sync]]
url = "https://remote.example"
packs = ["*"]
interval_seconds = 600

[[sync]]
url = "http://other.example:4000"
packs = ["blobs", "cats"]
interval_seconds = 60
as = "other-"
on_conflict = "rename"
"""


def write(tmp_path: Path, text: str, name: str = "emojid.toml") -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def refused(path: Path | None, environ: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as info:
        load(path, environ=environ or {})
    message = str(info.value)
    assert "\n" not in message, message
    return message


def test_defaults_without_a_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = load(None, environ={})
    assert config == Config(root=tmp_path)
    assert (config.server.host, config.server.port, config.server.base_url) == ("127.0.0.1", 4000, "")
    assert config.public_url == "http://127.0.0.1:4000"
    assert config.packs_dir == tmp_path / "packs"
    assert config.database_path == tmp_path / "emojid.db"
    assert config.cache_dir == tmp_path / "cache"
    assert config.emoji.allowed_extensions == [".png", ".gif", ".webp", ".jpg", ".jpeg"]
    assert config.emoji.max_file_bytes == 1048576
    assert config.emoji.shortcode_pattern == "^[A-Za-z0-9_-]+$"
    assert config.instance.name == "emojid"
    assert config.instance.registrations_open is True
    assert config.remote.allow_private_addresses is False
    assert config.remote.timeout_seconds == 30
    assert config.remote.max_download_bytes == 104857600
    assert config.watch.enabled is True
    assert config.sync == []
    # Loading created nothing on disk.
    assert list(tmp_path.iterdir()) == []


def test_an_empty_file_means_the_defaults(tmp_path):
    config = load(write(tmp_path, ""), environ={})
    assert config == Config(root=tmp_path)


def test_the_shipped_emojid_toml_loads_with_the_defaults():
    shipped = Path(__file__).resolve().parent.parent / "emojid.toml"
    if not shipped.exists():
        pytest.skip("no emojid.toml at the repository root yet")
    config = load(shipped, environ={})
    assert config.replace(sync=[]) == Config(root=shipped.parent)


def test_every_interface_key(tmp_path):
    config = load(write(tmp_path, FULL), environ={})
    assert config.server.host == "0.0.0.0"
    assert config.server.port == 4321
    assert config.server.base_url == "https://emoji.example"
    assert config.public_url == "https://emoji.example"
    assert config.storage.packs_dir == "store/packs"
    assert config.storage.database == "state/index.db"
    assert config.storage.cache_dir == "state/cache"
    assert config.emoji.allowed_extensions == [".png", ".gif"]
    assert config.emoji.max_file_bytes == 2048
    assert config.emoji.shortcode_pattern == "^[a-z]+$"
    assert config.instance.name == "Blob land"
    assert config.instance.registrations_open is False
    assert config.remote.allow_private_addresses is True
    assert config.remote.timeout_seconds == 7
    assert config.remote.max_download_bytes == 4096
    assert config.watch.enabled is False


def test_sync_tables(tmp_path):
    config = load(write(tmp_path, FULL), environ={})
    assert len(config.sync) == 2
    first, second = config.sync
    assert (first.url, first.packs, first.interval_seconds) == ("https://remote.example", ["*"], 600)
    assert first.as_prefix == ""
    assert first.on_conflict == "skip"
    assert second.url == "http://other.example:4000"
    assert second.packs == ["blobs", "cats"]
    assert second.interval_seconds == 60
    assert second.as_prefix == "other-"
    assert second.on_conflict == "rename"


def test_sync_defaults_and_errors(tmp_path):
    config = load(write(tmp_path, '[[sync]]\nurl = "https://a.example"\n'), environ={})
    assert config.sync[0].packs == ["*"]
    assert config.sync[0].interval_seconds == 21600
    message = refused(write(tmp_path, '[[sync]]\nurl = "https://a.example"\nurll = "x"\n'))
    assert "[[sync]] #1.urll" in message
    message = refused(write(tmp_path, '[[sync]]\nurl = "https://a.example"\non_conflict = "explode"\n'))
    assert "on_conflict" in message
    message = refused(write(tmp_path, '[[sync]]\nurl = "ftp://a.example"\n'))
    assert "url" in message
    message = refused(write(tmp_path, '[[sync]]\nurl = "https://a.example"\ninterval_seconds = "often"\n'))
    assert "interval_seconds" in message
    message = refused(write(tmp_path, '[sync]\nurl = "https://a.example"\n'))
    assert "sync" in message


def test_relative_paths_resolve_against_the_config_folder(tmp_path, monkeypatch):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    etc = tmp_path / "etc" / "emojid"
    config = load(write(etc, FULL), environ={})
    assert config.root == etc.resolve()
    assert config.packs_dir == etc.resolve() / "store" / "packs"
    assert config.database_path == etc.resolve() / "state" / "index.db"
    assert config.cache_dir == etc.resolve() / "state" / "cache"
    # A path named relative to the working directory still resolves against the file's folder.
    config = load(Path("..") / "etc" / "emojid" / "emojid.toml", environ={})
    assert config.packs_dir == etc.resolve() / "store" / "packs"


def test_absolute_paths_stay_absolute(tmp_path):
    store = tmp_path / "srv" / "packs"
    config = load(write(tmp_path / "etc", f'[storage]\npacks_dir = "{store}"\n'), environ={})
    assert config.packs_dir == store


def test_emojid_config_names_the_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "[server]\nport = 1111\n")  # ./emojid.toml, must lose to EMOJID_CONFIG
    other = write(tmp_path / "other", "[server]\nport = 2222\n")
    assert load(None, environ={}).server.port == 1111
    assert load(None, environ={"EMOJID_CONFIG": str(other)}).server.port == 2222
    assert load(None, environ={"EMOJID_CONFIG": str(other)}).root == other.parent.resolve()
    # An explicit path beats EMOJID_CONFIG.
    assert load(tmp_path / "emojid.toml", environ={"EMOJID_CONFIG": str(other)}).server.port == 1111


def test_a_named_file_must_exist(tmp_path):
    assert "nope.toml" in refused(tmp_path / "nope.toml")
    assert "gone.toml" in refused(None, {"EMOJID_CONFIG": str(tmp_path / "gone.toml")})


def test_env_overrides_port(tmp_path):
    path = write(tmp_path, "[server]\nport = 4000\n")
    config = load(path, environ={"EMOJID_SERVER_PORT": "4100"})
    assert config.server.port == 4100
    assert config.public_url == "http://127.0.0.1:4100"
    # Other keys of the section are untouched.
    assert config.server.host == "127.0.0.1"


def test_env_overrides_without_a_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = load(None, environ={"EMOJID_SERVER_PORT": "4100", "EMOJID_INSTANCE_NAME": "env name"})
    assert config.server.port == 4100
    assert config.instance.name == "env name"


@pytest.mark.parametrize("raw, expected", [
    ("true", True), ("1", True), ("yes", True), ("On", True),
    ("false", False), ("0", False), ("no", False), ("OFF", False),
])
def test_env_bools(tmp_path, raw, expected):
    config = load(write(tmp_path, ""), environ={
        "EMOJID_WATCH_ENABLED": raw,
        "EMOJID_REMOTE_ALLOW_PRIVATE_ADDRESSES": raw,
        "EMOJID_INSTANCE_REGISTRATIONS_OPEN": raw,
    })
    assert config.watch.enabled is expected
    assert config.remote.allow_private_addresses is expected
    assert config.instance.registrations_open is expected


def test_env_ints_strings_and_lists(tmp_path):
    config = load(write(tmp_path, FULL), environ={
        "EMOJID_EMOJI_MAX_FILE_BYTES": " 5000 ",
        "EMOJID_REMOTE_TIMEOUT_SECONDS": "3",
        "EMOJID_SERVER_BASE_URL": "https://env.example",
        "EMOJID_STORAGE_PACKS_DIR": "env-packs",
        "EMOJID_EMOJI_ALLOWED_EXTENSIONS": ".png, .webp",
    })
    assert config.emoji.max_file_bytes == 5000
    assert config.remote.timeout_seconds == 3
    assert config.server.base_url == "https://env.example"
    assert config.packs_dir == tmp_path.resolve() / "env-packs"
    assert config.emoji.allowed_extensions == [".png", ".webp"]
    # Keys of the file not overridden stay as written.
    assert config.remote.max_download_bytes == 4096
    config = load(write(tmp_path, ""), environ={"EMOJID_EMOJI_ALLOWED_EXTENSIONS": '[".gif", ".jpg"]'})
    assert config.emoji.allowed_extensions == [".gif", ".jpg"]


def test_unknown_key_is_named(tmp_path):
    message = refused(write(tmp_path, "[server]\nprot = 4000\n"))
    assert "[server].prot" in message


def test_unknown_section_is_named(tmp_path):
    message = refused(write(tmp_path, "[servre]\nport = 4000\n"))
    assert "servre" in message
    assert "section" in message


def test_section_must_be_a_table(tmp_path):
    assert "[server]" in refused(write(tmp_path, "server = 4000\n"))


@pytest.mark.parametrize("text, key", [
    ('[server]\nport = "x"\n', "[server].port"),
    ("[server]\nhost = 127\n", "[server].host"),
    ("[instance]\nregistrations_open = 1\n", "[instance].registrations_open"),
    ('[watch]\nenabled = "yes"\n', "[watch].enabled"),
    ("[emoji]\nmax_file_bytes = 1.5\n", "[emoji].max_file_bytes"),
    ("[remote]\ntimeout_seconds = true\n", "[remote].timeout_seconds"),
    ('[emoji]\nallowed_extensions = ".png"\n', "[emoji].allowed_extensions"),
    ("[emoji]\nallowed_extensions = [1, 2]\n", "[emoji].allowed_extensions"),
    ("[server]\nport = 70000\n", "[server].port"),
    ('[emoji]\nshortcode_pattern = "(["\n', "[emoji].shortcode_pattern"),
    ('[storage]\ncache_dir = "packs/cache"\n', "[storage].cache_dir"),
])
def test_wrong_values_name_the_key(tmp_path, text, key):
    assert key in refused(write(tmp_path, text))


def test_invalid_toml_is_one_line(tmp_path):
    message = refused(write(tmp_path, "[server\nport = 1\n"))
    assert "emojid.toml" in message


@pytest.mark.parametrize("name, value", [
    ("EMOJID_SERVER_PORT", "abc"),
    ("EMOJID_SERVER_PORT", "70000"),
    ("EMOJID_WATCH_ENABLED", "maybe"),
    ("EMOJID_EMOJI_MAX_FILE_BYTES", "1.5"),
    ("EMOJID_EMOJI_ALLOWED_EXTENSIONS", "[.png"),
    ("EMOJID_SERVER_PROT", "1"),
])
def test_bad_env_values_name_the_variable_or_key(tmp_path, name, value):
    message = refused(write(tmp_path, ""), {name: value})
    if name == "EMOJID_SERVER_PORT" and value == "70000":
        assert "[server].port" in message
    else:
        assert name in message


def test_variables_of_no_known_section_are_not_config(tmp_path):
    from emojid.config import load

    config = load(write(tmp_path, ""), environ={"EMOJID_NOPE_PORT": "1", "EMOJID_BIN": "/x", "EMOJID_SERVER_PORT": "4100"})
    assert config.server.port == 4100


def test_two_sync_jobs_on_one_url_are_refused(tmp_path):
    from emojid.config import load
    from emojid.errors import ConfigError

    path = tmp_path / "emojid.toml"
    path.write_text('[[sync]]\nurl = "https://a.example"\npacks = ["x"]\n\n[[sync]]\nurl = "https://a.example/"\npacks = ["y"]\n')
    with pytest.raises(ConfigError, match=r"\[\[sync\]\] #2.url: .* already job #1"):
        load(path, environ={})
