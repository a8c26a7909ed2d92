"""Names of accounts: local nicknames, `nick@host` handles and ActivityPub ids.

A local account is `nick`, `@nick`, `nick@<our host>` or `<base_url>/users/nick`;
anything else that looks like `nick@host` or an http(s) URL is remote.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from emojid.config import Config

_NICK = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_DOMAIN = re.compile(r"^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$")


@dataclass(frozen=True)
class Target:
    """What a name points at: a local nickname, or a remote handle/URL (exactly one is set)."""

    local: str | None = None
    remote: str | None = None


class Naming:
    def __init__(self, config: Config) -> None:
        self.base_url = config.public_url
        parts = urlsplit(self.base_url)
        self.host = parts.hostname or "localhost"
        self.netloc = parts.netloc.lower()
        self._our_domains = {self.host.lower(), self.netloc}

    def ap_id(self, nickname: str) -> str:
        return f"{self.base_url}/users/{nickname}"

    def full(self, nickname: str) -> str:
        return f"{nickname}@{self.host}"

    def parse(self, text: str) -> Target | None:
        """The account `text` names, or None when it names nothing sensible."""
        text = (text or "").strip()
        if text.startswith(("http://", "https://")):
            try:
                parts = urlsplit(text)
                parts.port  # noqa: B018 - raises on a bad port
            except ValueError:
                return None
            if parts.netloc.lower() in self._our_domains:
                match = re.fullmatch(r"/users/([^/]+)/?", parts.path)
                nick = unquote(match.group(1)) if match else ""
                return Target(local=nick) if _NICK.match(nick) else None
            return Target(remote=text) if parts.hostname else None
        text = text.removeprefix("@")
        nick, at, domain = text.partition("@")
        if not _NICK.match(nick):
            return None
        if not at:
            return Target(local=nick)
        if not _DOMAIN.match(domain):
            return None
        if domain.lower() in self._our_domains:
            return Target(local=nick)
        return Target(remote=f"{nick}@{domain.lower()}")
