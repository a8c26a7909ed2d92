"""The few HTML pages of the OAuth flow: login + consent, the MFA step, the oob code.

Field names are Pleroma's (`authorization[...]`, `mfa[...]`), so clients that
fill in Pleroma's login form work here too. The pages are Jinja templates in
`templates/`, autoescaped; `base.html` is also the skeleton of the web UI
(`emojid.emoji.ui`), whose stylesheet they share.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import jinja2
from starlette.responses import HTMLResponse

from emojid import __version__

# Served by the web UI (emojid.emoji.ui); a URL, so this part imports nothing of it.
STYLESHEET = f"/ui/static/style.css?v={__version__}"

SCOPE_DESCRIPTIONS = {
    "read": "read your account's data",
    "write": "change your account's data",
    "follow": "follow, block and mute accounts",
    "push": "receive push notifications",
    "admin": "administer this instance",
}

# The pages hold credentials and one-time codes: never cached, never framed
# (no clickjacking of the Approve button), no referrer to the next site.
# No form-action: the form's answer redirects to the app, wherever it is.
HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}

TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("emojid.auth.web", "templates"),
    autoescape=True,
    trim_blocks=True,
    lstrip_blocks=True,
    undefined=jinja2.StrictUndefined,
)


def _describe(scope: str) -> str:
    top, _, rest = scope.partition(":")
    text = SCOPE_DESCRIPTIONS.get(top, scope)
    return f"{text} ({rest.replace(':', ' ')} only)" if rest else text


def page(template: str, title: str, status: int = 200, headers: dict[str, str] | None = None,
         **context: Any) -> HTMLResponse:
    values: dict[str, Any] = {"title": title, "stylesheet": STYLESHEET, "instance_name": None, "error": None}
    html = TEMPLATES.get_template(template).render({**values, **context})
    return HTMLResponse(html, status_code=status, headers={**HEADERS, **(headers or {})})


def authorize_page(
    *,
    app_name: str | None,
    scopes: list[str],
    checked: set[str],
    fields: dict[str, str | None],
    nickname: str | None = None,
    csrf: str | None = None,
    error: str | None = None,
    status: int = 200,
    force_login_url: str | None = None,
) -> HTMLResponse:
    """Log in (or, with a session, just approve) and pick the scopes to grant."""
    return page(
        "oauth_authorize.html", "Authorize", status,
        app_name=app_name, scopes=scopes, checked=checked, fields=fields, nickname=nickname, csrf=csrf,
        error=error, force_login_url=force_login_url, describe=_describe,
    )


def mfa_page(*, mfa_token: str, state: str | None, redirect_uri: str | None, challenge_type: str = "totp",
             error: str | None = None, status: int = 200) -> HTMLResponse:
    """The second step of a login on /oauth/authorize, posting to /oauth/mfa/verify."""
    recovery = challenge_type == "recovery"
    other = "totp" if recovery else "recovery"
    switch_url = "/oauth/mfa?" + urlencode({"challenge_type": other, "mfa_token": mfa_token, "state": state or "",
                                            "redirect_uri": redirect_uri or ""})
    return page(
        "oauth_mfa.html", "Two-factor recovery" if recovery else "Two-factor authentication", status,
        recovery=recovery, prompt="Recovery code" if recovery else "Authentication code",
        mfa_token=mfa_token, state=state, redirect_uri=redirect_uri, error=error, switch_url=switch_url,
        switch_text="Enter a two-factor code" if recovery else "Enter a two-factor recovery code",
    )


def oob_page(code: str, headers: dict[str, str] | None = None) -> HTMLResponse:
    # Pleroma's exact words: clients and people copy the code from after "Token code is".
    return page("oauth_oob.html", "Successfully authorized", headers=headers, code=code)


def error_page(title: str, message: str, status: int) -> HTMLResponse:
    return page("oauth_error.html", title, status, error=message)
