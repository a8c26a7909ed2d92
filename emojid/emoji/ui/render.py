"""Rendering: one Jinja environment, the headers every page sends, and the two
wrappers every handler goes through (`page` for reads, `action` for forms).

Templates are autoescaped: shortcodes, pack names, descriptions and whatever a
remote server sends are text wherever they appear. A request from htmx
(`HX-Request: true`) gets the fragment it swaps in; any other gets a whole page.
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from importlib import resources
from typing import Any
from urllib.parse import quote, urlencode

import jinja2
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

from emojid.auth.callers import CSRF_FIELD, require
from emojid.context import ctx
from emojid.emoji.ui.session import CSRF_HEADER, Viewer, csrf_ok, set_csrf_cookie, viewer_of
from emojid.errors import EmojidError
from emojid.http.params import read_params

log = logging.getLogger("emojid.ui")

Handler = Callable[[Request], Awaitable[Response]]
Action = Callable[[Request, dict[str, Any]], Awaitable[Response]]

# The whole policy is the contract's `default-src 'self'`, tightened: no framing, no
# <base>, no plugins, forms post only here.
CSP = "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"
_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.\-]+(:[0-9]{1,5})?$|^https?://\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$")

STATIC_FILES: dict[str, tuple[bytes, str]] = {}
_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".svg": "image/svg+xml",
          ".LICENSE": "text/plain; charset=utf-8"}


def _load_static() -> str:
    """The static files, read once from the package (so a wheel serves them too);
    their version is a digest of them all."""
    digest = hashlib.sha256()
    for entry in sorted(resources.files("emojid.emoji.ui").joinpath("static").iterdir(), key=lambda e: e.name):
        suffix = next((s for s in _TYPES if entry.name.endswith(s)), None)
        if suffix is None or not entry.is_file():
            continue
        data = entry.read_bytes()
        STATIC_FILES[entry.name] = (data, _TYPES[suffix])
        digest.update(entry.name.encode() + b"\0" + data)
    return digest.hexdigest()[:12]


STATIC_VERSION = _load_static()


def static(name: str) -> str:
    return f"/ui/static/{name}?v={STATIC_VERSION}"


def pack_url(name: str, suffix: str = "", **query: Any) -> str:
    path = f"/ui/packs/{quote(name, safe='')}{suffix}"
    kept = {k: v for k, v in query.items() if v not in (None, "")}
    return path + ("?" + urlencode(kept) if kept else "")


def filesize(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    exponent = min(int(math.log(size, 1024)), 3)
    value = size / 1024**exponent
    return f"{value:.1f} {('B', 'KB', 'MB', 'GB')[exponent]}".replace(".0 ", " ")


def web_link(value: Any) -> str | None:
    """A homepage worth linking to (http or https only); None otherwise."""
    return value if isinstance(value, str) and value.startswith(("https://", "http://")) else None


def page_href(path: str, page: int, query: dict[str, Any]) -> str:
    kept = [(k, str(v)) for k, v in query.items() if v not in (None, "")]
    return path + "?" + urlencode([*kept, ("page", str(page))])


def domid(value: str) -> str:
    """An element id for any text (shortcodes may hold anything a pack.json says)."""
    return "e-" + hashlib.sha256(value.encode("utf-8", "replace")).hexdigest()[:12]


def when(value: str | None) -> str:
    """An ISO timestamp as people read it: 2024-05-01 14:03 UTC."""
    if not value:
        return ""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def duration(seconds: int) -> str:
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'' if count == 1 else 's'}"
    return f"{seconds} seconds"


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader([
            jinja2.PackageLoader("emojid.emoji.ui", "templates"),
            jinja2.PackageLoader("emojid.auth.web", "templates"),  # base.html, shared with the OAuth pages
        ]),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.globals.update(static=static, pack_url=pack_url, web_link=web_link, page_href=page_href)
    env.filters.update(filesize=filesize, domid=domid, when=when, duration=duration,
                       q=lambda value: quote(str(value), safe=""))
    return env


TEMPLATES = Jinja2Templates(env=_environment())


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def headers(img_origin: str | None = None) -> dict[str, str]:
    csp = CSP
    if img_origin and _ORIGIN.match(img_origin):
        csp += f"; img-src 'self' {img_origin}"  # a remote server's previews, on the page that browses it
    return {
        "Content-Security-Policy": csp,
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "same-origin",
        "Cache-Control": "no-cache, private",
        "Vary": "Cookie, HX-Request",
    }


def viewer(request: Request) -> Viewer:
    found: Viewer = request.state.viewer
    return found


def render(request: Request, template: str, context: dict[str, Any] | None = None, status: int = 200,
           img_origin: str | None = None, extra_headers: dict[str, str] | None = None) -> Response:
    seen = viewer(request)
    values: dict[str, Any] = {
        "viewer": seen,
        "csrf_field": CSRF_FIELD,
        "instance_name": ctx(request).config.instance.name,
        "stylesheet": static("style.css"),
        "nav": "",
        "notice": None,
        "flash_error": None,
        "error": None,
        "title": "",
        "path": request.url.path,
    }
    values.update(context or {})
    response = TEMPLATES.TemplateResponse(request, template, values, status_code=status,
                                          headers={**headers(img_origin), **(extra_headers or {})})
    if seen.new_csrf_cookie and f'name="{CSRF_FIELD}"'.encode() in response.body:
        # A pre-login secret goes out only with a form that needs it (the login form).
        set_csrf_cookie(request, response, seen.new_csrf_cookie)
    return response


def redirect(request: Request, location: str) -> Response:
    """After a form: htmx follows HX-Redirect, a plain browser the 303."""
    if is_htmx(request):
        return Response(status_code=204, headers={**headers(), "HX-Redirect": location})
    return RedirectResponse(location, status_code=303, headers=headers())


def error_response(request: Request, status: int, message: str, title: str | None = None) -> Response:
    title = title or _TITLES.get(status, "Something went wrong")
    if is_htmx(request):
        # The fragment goes to the page's message area, whatever the form aimed at.
        return render(request, "_flash.html", {"flash_error": message}, status,
                      extra_headers={"HX-Retarget": "#flash", "HX-Reswap": "innerHTML"})
    return render(request, "error.html", {"title": title, "message": message, "status": status}, status)

_TITLES = {
    400: "That did not work",
    401: "Please log in",
    403: "Not allowed",
    404: "Not found",
    409: "Already there",
    413: "Too large",
    422: "That did not work",
    429: "Too many attempts",
}


def login_url(request: Request) -> str:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return "/ui/login?" + urlencode({"next": target})


def page(handler: Handler) -> Handler:
    """A read: who is looking, HTML errors."""
    async def endpoint(request: Request) -> Response:
        try:
            request.state.viewer = await viewer_of(request)
            return await handler(request)
        except EmojidError as exc:
            return _error(request, exc)
        except Exception:
            log.exception("web UI: %s %s failed", request.method, request.url.path)
            return error_response(request, 500, "Something went wrong on the server; the log says what.")

    return endpoint


def action(handler: Action, admin: bool = True) -> Handler:
    """A form: its CSRF token, then (for edits) an admin session, then the handler."""
    async def checked(request: Request) -> Response:
        params = await read_params(request)
        seen = viewer(request)
        token = params.get(CSRF_FIELD)
        if not csrf_ok(seen, token if isinstance(token, str) else request.headers.get(CSRF_HEADER)):
            return error_response(request, 403, "This form has expired or did not come from this site. "
                                                "Reload the page and try again.", "Form expired")
        if admin and seen.account is None:
            return redirect(request, "/ui/login")
        if admin and not seen.is_admin:
            return error_response(request, 403, "Only admins can change packs.")
        if admin:
            await require(request, "admin:write")  # the API's own check, on the same session
        return await handler(request, params)

    return page(checked)


def _error(request: Request, exc: EmojidError) -> Response:
    response = error_response(request, exc.status, exc.message)
    for key, value in (exc.headers or {}).items():
        response.headers[key] = value
    return response
