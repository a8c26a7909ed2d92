"""emojid.toml: one frozen dataclass per section, one field per key.

A field and its default are the whole definition of a key. `load()` refuses
unknown keys and wrong types with the key's name, applies EMOJID_<SECTION>_<KEY>
overrides, and resolves every relative path against one root: the state
directory systemd gives the unit ($STATE_DIRECTORY), else the config file's
folder (the current one when there is no file).
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from emojid.errors import ConfigError


@dataclass(frozen=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 4000
    base_url: str = ""
    log_level: str = "info"
    # journald stamps every line itself; a terminal or a plain file may want them.
    log_timestamps: bool = False


@dataclass(frozen=True)
class StorageConfig:
    packs_dir: str = "packs"
    database: str = "emojid.db"
    cache_dir: str = "cache"
    media_dir: str = "media"


@dataclass(frozen=True)
class EmojiConfig:
    allowed_extensions: list[str] = field(
        default_factory=lambda: [".png", ".gif", ".webp", ".jpg", ".jpeg"]
    )
    max_file_bytes: int = 1048576
    shortcode_pattern: str = "^[A-Za-z0-9_-]+$"


@dataclass(frozen=True)
class InstanceConfig:
    name: str = "emojid"
    registrations_open: bool = True
    captcha_enabled: bool = False
    captcha_seconds_valid: int = 300
    account_activation_required: bool = False
    account_approval_required: bool = False
    invites_enabled: bool = False
    allow_following_move: bool = True


@dataclass(frozen=True)
class MailConfig:
    """Outgoing mail: an SMTP server, or (smtp_host empty) one file per message in spool_dir."""

    smtp_host: str = ""
    smtp_port: int = 587
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = True
    from_address: str = "emojid@localhost"
    spool_dir: str = "mail"


@dataclass(frozen=True)
class RemoteConfig:
    allow_private_addresses: bool = False
    timeout_seconds: int = 30
    max_download_bytes: int = 104857600


@dataclass(frozen=True)
class WatchConfig:
    enabled: bool = True
    debounce_ms: int = 50


@dataclass(frozen=True)
class BackupsConfig:
    limit_days: int = 7  # Pleroma's User.Backup limit_days: one backup per account per week


@dataclass(frozen=True)
class SyncJob:
    url: str = ""
    packs: list[str] = field(default_factory=lambda: ["*"])
    interval_seconds: int = 21600
    # `as` is a Python keyword: the TOML key is "as", a prefix for local names.
    as_prefix: str = field(default="", metadata={"key": "as"})
    on_conflict: str = "skip"


@dataclass(frozen=True)
class Config:
    server: ServerConfig = field(default_factory=ServerConfig)
    storage: StorageConfig = field(default_factory=StorageConfig)
    emoji: EmojiConfig = field(default_factory=EmojiConfig)
    instance: InstanceConfig = field(default_factory=InstanceConfig)
    remote: RemoteConfig = field(default_factory=RemoteConfig)
    watch: WatchConfig = field(default_factory=WatchConfig)
    mail: MailConfig = field(default_factory=MailConfig)
    backups: BackupsConfig = field(default_factory=BackupsConfig)
    sync: list[SyncJob] = field(default_factory=list)
    # Where relative paths are resolved from ($STATE_DIRECTORY, else the config file's folder).
    root: Path = field(default_factory=Path.cwd, metadata={"internal": True})

    @property
    def packs_dir(self) -> Path:
        return self.root / self.storage.packs_dir

    @property
    def database_path(self) -> Path:
        return self.root / self.storage.database

    @property
    def cache_dir(self) -> Path:
        return self.root / self.storage.cache_dir

    @property
    def media_dir(self) -> Path:
        return self.root / self.storage.media_dir

    @property
    def mail_spool_dir(self) -> Path:
        return self.root / self.mail.spool_dir

    @property
    def public_url(self) -> str:
        if self.server.base_url:
            return self.server.base_url.rstrip("/")
        return f"http://{self.server.host}:{self.server.port}"

    def replace(self, **sections: Any) -> Config:
        return dataclasses.replace(self, **sections)


SECTION_CLASSES = {
    "server": ServerConfig,
    "storage": StorageConfig,
    "emoji": EmojiConfig,
    "instance": InstanceConfig,
    "remote": RemoteConfig,
    "watch": WatchConfig,
    "mail": MailConfig,
    "backups": BackupsConfig,
}
LOG_LEVELS = ("debug", "info", "warning", "error")
# Every configured path: (the key as errors name it, the Config property, created at start).
PATHS = (
    ("[storage].packs_dir", "packs_dir", True),
    ("[storage].database", "database_path", False),
    ("[storage].cache_dir", "cache_dir", True),
    ("[storage].media_dir", "media_dir", False),
    ("[mail].spool_dir", "mail_spool_dir", False),
)
ON_CONFLICT = ("skip", "rename", "replace")


def _key(f: dataclasses.Field) -> str:
    return f.metadata.get("key", f.name)


def _check_type(where: str, value: Any, annotation: str) -> Any:
    if annotation == "bool":
        if isinstance(value, bool):
            return value
    elif annotation == "int":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif annotation == "str":
        if isinstance(value, str):
            return value
    elif annotation == "list[str]":
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return list(value)
    raise ConfigError(f"{where}: expected {annotation.replace('list[str]', 'a list of strings')}, got {value!r}")


def _build(cls: type, table: Any, where: str) -> Any:
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: expected a table")
    fields = {_key(f): f for f in dataclasses.fields(cls)}
    values = {}
    for key, value in table.items():
        f = fields.get(key)
        if f is None:
            raise ConfigError(f"unknown key {where}.{key}")
        values[f.name] = _check_type(f"{where}.{key}", value, str(f.type))
    return cls(**values)


def _validate(config: Config) -> None:
    if config.server.log_level not in LOG_LEVELS:
        raise ConfigError(f"[server].log_level: expected one of {', '.join(LOG_LEVELS)}, got {config.server.log_level!r}")
    if config.backups.limit_days < 0:
        raise ConfigError("[backups].limit_days: must not be negative")
    if not 0 < config.server.port < 65536:
        raise ConfigError(f"[server].port: {config.server.port} is not a TCP port")
    try:
        re.compile(config.emoji.shortcode_pattern)
    except re.error as exc:
        raise ConfigError(f"[emoji].shortcode_pattern: not a regular expression ({exc})") from None
    for ext in config.emoji.allowed_extensions:
        if not re.fullmatch(r"\.[a-z0-9]+", ext):
            raise ConfigError(f"[emoji].allowed_extensions: {ext!r} is not like \".png\"")
    for name in ("max_file_bytes",):
        if getattr(config.emoji, name) <= 0:
            raise ConfigError(f"[emoji].{name}: must be positive")
    if config.remote.max_download_bytes <= 0 or config.remote.timeout_seconds <= 0:
        raise ConfigError("[remote]: timeout_seconds and max_download_bytes must be positive")
    storage = config.storage
    if Path(config.root / storage.cache_dir).resolve().is_relative_to(config.packs_dir.resolve()):
        raise ConfigError("[storage].cache_dir: must not be inside packs_dir")
    seen_urls: dict[str, int] = {}
    for i, job in enumerate(config.sync):
        where = f"[[sync]] #{i + 1}"
        # Job status is kept per URL: one job per remote, naming all its packs.
        if job.url.rstrip("/") in seen_urls:
            raise ConfigError(f"{where}.url: {job.url} is already job #{seen_urls[job.url.rstrip('/')]}; "
                              "list all its packs in one job")
        seen_urls[job.url.rstrip("/")] = i + 1
        if not re.match(r"^https?://", job.url):
            raise ConfigError(f"{where}.url: expected an http(s) URL, got {job.url!r}")
        if job.interval_seconds <= 0:
            raise ConfigError(f"{where}.interval_seconds: must be positive")
        if job.on_conflict not in ON_CONFLICT:
            raise ConfigError(f"{where}.on_conflict: expected one of {', '.join(ON_CONFLICT)}")
        if not job.packs:
            raise ConfigError(f"{where}.packs: must name at least one pack or \"*\"")


def _parse_env_value(name: str, raw: str, annotation: str) -> Any:
    if annotation == "str":
        return raw
    if annotation == "bool":
        lowered = raw.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{name}: expected true or false, got {raw!r}")
    if annotation == "int":
        try:
            return int(raw.strip())
        except ValueError:
            raise ConfigError(f"{name}: expected an integer, got {raw!r}") from None
    # list[str]: a TOML array, or comma-separated words
    if raw.strip().startswith("["):
        try:
            return tomllib.loads(f"v = {raw}")["v"]
        except tomllib.TOMLDecodeError:
            raise ConfigError(f"{name}: expected a TOML list, got {raw!r}") from None
    return [part.strip() for part in raw.split(",") if part.strip()]


def _apply_environ(raw: dict[str, Any], environ: Mapping[str, str]) -> None:
    for name, value in environ.items():
        if not name.startswith("EMOJID_") or name == "EMOJID_CONFIG":
            continue
        rest = name[len("EMOJID_"):].lower()
        section = next((s for s in SECTION_CLASSES if rest.startswith(s + "_")), None)
        if section is None:
            continue  # not config (EMOJID_BIN and the like): only EMOJID_<known section>_<KEY> is
        key = rest[len(section) + 1:]
        fields = {_key(f): f for f in dataclasses.fields(SECTION_CLASSES[section])}
        if key not in fields:
            raise ConfigError(f"{name}: unknown key [{section}].{key}")
        table = raw.setdefault(section, {})
        if not isinstance(table, dict):
            raise ConfigError(f"[{section}]: expected a table")
        table[key] = _parse_env_value(name, value, str(fields[key].type))


def default_path(environ: Mapping[str, str]) -> Path:
    return Path(environ.get("EMOJID_CONFIG") or "emojid.toml")


def load(path: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Read the config file (if any), apply EMOJID_* overrides, check everything.

    `path` None means $EMOJID_CONFIG, else ./emojid.toml, which may be absent
    (then the embedded defaults apply); a path named explicitly must exist.
    """
    environ = os.environ if environ is None else environ
    explicit = path is not None or bool(environ.get("EMOJID_CONFIG"))
    file = Path(path) if path is not None else default_path(environ)
    raw: dict[str, Any] = {}
    if file.is_file():
        try:
            raw = tomllib.loads(file.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{file}: not valid TOML ({exc})") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{file}: cannot be read ({exc})") from None
    elif explicit:
        raise ConfigError(f"{file}: config file not found")
    _apply_environ(raw, environ)

    sections: dict[str, Any] = {}
    for key, table in raw.items():
        if key == "sync":
            if not isinstance(table, list):
                raise ConfigError("sync: expected [[sync]] tables")
            sections["sync"] = [_build(SyncJob, job, f"[[sync]] #{i + 1}") for i, job in enumerate(table)]
        elif key in SECTION_CLASSES:
            sections[key] = _build(SECTION_CLASSES[key], table, f"[{key}]")
        else:
            raise ConfigError(f"unknown section [{key}]")
    state = environ.get("STATE_DIRECTORY", "").split(":")[0]
    root = Path(state) if state else file.resolve().parent if file.is_file() else Path.cwd()
    config = Config(root=root, **sections)
    _validate(config)
    return config


def prepare_paths(config: Config) -> list[Path]:
    """Check every configured path before anything is opened, and create the
    store and cache folders when missing (never their parents). Returns the
    folders created, for the log. Errors name the key:
    "[storage].packs_dir: /srv/x/packs: its folder /srv/x does not exist".
    """
    created: list[Path] = []
    for key, attribute, create in PATHS:
        path: Path = getattr(config, attribute)
        folder = path.parent if attribute == "database_path" else path
        if folder.is_dir():
            if attribute == "database_path" and path.exists() and not path.is_file():
                raise ConfigError(f"{key}: {path} is not a file")
            continue
        if folder.exists() or folder.is_symlink():
            raise ConfigError(f"{key}: {folder} exists and is not a folder")
        if not folder.parent.is_dir():
            raise ConfigError(f"{key}: {path}: its folder {folder.parent} does not exist")
        if create:
            try:
                folder.mkdir()
            except OSError as exc:
                raise ConfigError(f"{key}: cannot create {folder} ({exc.strerror})") from None
            created.append(folder)
    return created
