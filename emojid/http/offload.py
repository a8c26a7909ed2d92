"""File offload to the front web server: X-Accel-Redirect, the Rack convention.

nginx (deploy/nginx/emojid.conf) sends every proxied request with

    X-Sendfile-Type: X-Accel-Redirect
    X-Accel-Mapping: /var/lib/emojid/=/_emojid_internal/

always overwriting what a client sent. A route that has decided to serve a
file from disk (an emoji file, a static frame, a built archive) then answers
an empty body with its usual headers plus

    X-Accel-Redirect: /_emojid_internal/<path below the mapped root, %-encoded>

and nginx sends the bytes itself from its `internal` location (sendfile,
Range). Only a file whose real path lies below the real path of the mapped
root is offloaded; a malformed mapping, or a request without both headers,
gets the bytes from emojid as before.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from urllib.parse import quote

from starlette.responses import Response

SENDFILE_TYPE = "x-accel-redirect"

# Headers that describe a body emojid does not send when it offloads.
_BODY_HEADERS = frozenset({"content-length", "content-range", "transfer-encoding"})


def wants_offload(headers: Mapping[str, str]) -> bool:
    """The request came through a front server that offers X-Accel-Redirect."""
    return headers.get("x-sendfile-type", "").strip().lower() == SENDFILE_TYPE and bool(
        headers.get("x-accel-mapping", "").strip())


def _clean(part: str) -> bool:
    """An absolute path with no dot segments, no doubled slashes and nothing but printable ASCII."""
    if not part.startswith("/") or "//" in part or any(c in part for c in "?#%\\"):
        return False
    if any(ord(c) < 0x21 or ord(c) > 0x7E for c in part):
        return False
    return not any(seg in (".", "..") for seg in part.split("/"))


def _mappings(value: str) -> list[tuple[str, str]]:
    """`internal=external[, internal=external...]` pairs that pass `_clean`; the rest are ignored."""
    pairs = []
    for item in value.split(","):
        internal, sep, external = item.strip().partition("=")
        internal, external = internal.strip(), external.strip()
        if sep and _clean(internal) and _clean(external) and internal != "/":
            pairs.append((internal, external))
    return pairs


def redirect_target(headers: Mapping[str, str], path: str | os.PathLike[str]) -> str | None:
    """The X-Accel-Redirect URI for the file at `path`, or None to serve it from emojid.

    Blocking (resolves real paths): call off the event loop."""
    if not wants_offload(headers):
        return None
    try:
        real = os.path.realpath(path, strict=True)
    except (OSError, RuntimeError, ValueError):
        return None
    for internal, external in _mappings(headers["x-accel-mapping"]):
        try:
            root = os.path.realpath(internal, strict=True)
        except (OSError, RuntimeError, ValueError):
            continue
        prefix = root.rstrip("/") + "/"
        if not real.startswith(prefix) or not os.path.isfile(real):
            continue
        rel = real[len(prefix):]
        if any(seg in ("", ".", "..") for seg in rel.split("/")):
            continue
        return external.rstrip("/") + "/" + quote(rel, safe="/")
    return None


def offloaded(target: str, media_type: str, headers: Mapping[str, str]) -> Response:
    """An empty answer that hands the file at `target` to the front server, with `headers`
    (ETag, Cache-Control, Content-Disposition...) for it to keep."""
    kept = {k: v for k, v in headers.items() if k.lower() not in _BODY_HEADERS}
    kept["x-accel-redirect"] = target
    return Response(b"", media_type=media_type, headers=kept)
