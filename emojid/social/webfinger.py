"""WebFinger lookups of remote accounts, through the SSRF-guarded remote client.

`finger("bob@example.org")` asks https://example.org/.well-known/webfinger and
checks that the answer is about an account on that host (as Pleroma does).
Plain http is tried after https only when `[remote] allow_private_addresses`
is on, a development setting; RFC 7033 wants https.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from emojid.errors import EmojidError
from emojid.remote import RemoteClient, RemoteError

MAX_BYTES = 1 << 20
SUBSCRIBE_REL = "http://ostatus.org/schema/1.0/subscribe"
AP_TYPES = ("application/activity+json", 'application/ld+json; profile="https://www.w3.org/ns/activitystreams"')


class WebFingerError(EmojidError):
    """The account could not be found or its documents made no sense."""

    status = 404


@dataclass(frozen=True)
class RemoteAccount:
    handle: str  # nick@host
    ap_id: str
    also_known_as: list[str]


async def get_json(remote: RemoteClient, url: str, accept: str) -> Any:
    """A bounded JSON GET through the guarded client; RemoteError on any failure."""
    return await remote.get_json(url, max_bytes=MAX_BYTES, accept=accept)


def _split(account: str) -> tuple[str, str]:
    """(resource, domain) for `nick@host` or a profile URL."""
    account = account.strip().removeprefix("@")
    if account.startswith(("http://", "https://")):
        try:
            netloc = urlsplit(account).netloc
        except ValueError:
            netloc = ""
        if not netloc:
            raise WebFingerError("Couldn't find user")
        return account, netloc.lower()
    nick, at, domain = account.rpartition("@")
    if not at or not nick or not domain or "/" in domain:
        raise WebFingerError("Couldn't find user")
    return f"acct:{nick}@{domain}", domain.lower()


async def finger(remote: RemoteClient, account: str, allow_http: bool = False) -> dict:
    """The JRD of `account`; WebFingerError when it cannot be found."""
    resource, domain = _split(account)
    schemes = ("https", "http") if allow_http else ("https",)
    document: Any = None
    for scheme in schemes:
        url = f"{scheme}://{domain}/.well-known/webfinger?resource={quote(resource, safe='@:')}"
        try:
            document = await get_json(remote, url, "application/jrd+json, application/json")
            break
        except RemoteError as exc:
            if exc.remote_status is not None or scheme == schemes[-1]:
                raise WebFingerError("Couldn't find user") from None
        except EmojidError:  # refused by the SSRF guard, or not a fetchable URL
            raise WebFingerError("Couldn't find user") from None
    if not isinstance(document, dict):
        raise WebFingerError("Couldn't find user")
    subject = document.get("subject")
    if isinstance(subject, str) and subject.startswith("acct:"):
        if subject.rpartition("@")[2].lower() != domain:
            raise WebFingerError("Couldn't find user")
    return document


def _links(document: dict) -> list[dict]:
    links = document.get("links")
    return [link for link in links if isinstance(link, dict)] if isinstance(links, list) else []


def subscribe_template(document: dict) -> str | None:
    for link in _links(document):
        if link.get("rel") == SUBSCRIBE_REL and isinstance(link.get("template"), str):
            return link["template"]
    return None


def actor_url(document: dict) -> str | None:
    for link in _links(document):
        if link.get("rel") == "self" and link.get("type") in AP_TYPES and isinstance(link.get("href"), str):
            return link["href"]
    return None


async def resolve(remote: RemoteClient, account: str, allow_http: bool = False) -> RemoteAccount:
    """Webfinger, then the ActivityPub actor it points at: the account's id and aliases."""
    document = await finger(remote, account, allow_http)
    href = actor_url(document)
    if href is None:
        raise WebFingerError("Couldn't find user")
    try:
        actor = await get_json(remote, href, AP_TYPES[0])
    except EmojidError:
        raise WebFingerError("Couldn't find user") from None
    if not isinstance(actor, dict) or not isinstance(actor.get("id"), str):
        raise WebFingerError("Couldn't find user")
    try:
        same_host = urlsplit(actor["id"]).netloc.lower() == urlsplit(href).netloc.lower()
    except ValueError:
        same_host = False
    if not same_host:
        raise WebFingerError("Couldn't find user")
    aka = actor.get("alsoKnownAs") or []
    aka = [aka] if isinstance(aka, str) else [a for a in aka if isinstance(a, str)] if isinstance(aka, list) else []
    subject = document.get("subject")
    if isinstance(subject, str) and subject.startswith("acct:"):
        handle = subject.removeprefix("acct:")
    else:
        name = actor.get("preferredUsername") or account
        handle = f"{name}@{urlsplit(actor['id']).netloc}"
    nick, _, host = handle.rpartition("@")
    return RemoteAccount(f"{nick}@{host.lower()}", actor["id"], aka)
