"""The few HTML pages of the OAuth flow: login + consent, the MFA step, the oob code.

Field names are Pleroma's (`authorization[...]`, `mfa[...]`), so clients that
fill in Pleroma's login form work here too. Every value is escaped.
"""

from __future__ import annotations

from html import escape
from urllib.parse import urlencode

from starlette.responses import HTMLResponse

_STYLE = """
body{font-family:system-ui,sans-serif;background:#f4f4f6;color:#222;margin:0}
main{max-width:26rem;margin:3rem auto;background:#fff;padding:1.5rem 2rem;border-radius:8px;
box-shadow:0 1px 4px #0002}
h1,h2{font-size:1.3rem}label{display:block;margin:.6rem 0 .2rem}
input[type=text],input[type=password]{width:100%;box-sizing:border-box;padding:.5rem;font-size:1rem}
button{margin-top:1rem;padding:.5rem 1.2rem;font-size:1rem;cursor:pointer}
.scope{margin:.3rem 0}.scope code{color:#555}.alert{background:#fde8e8;color:#8a1c1c;padding:.6rem;
border-radius:4px}.muted{color:#666;font-size:.9rem}
"""

SCOPE_DESCRIPTIONS = {
    "read": "read your account's data",
    "write": "change your account's data",
    "follow": "follow, block and mute accounts",
    "push": "receive push notifications",
    "admin": "administer this instance",
}

# The pages hold credentials and one-time codes: never cached, never framed
# (no clickjacking of the Approve button), no referrer to the next site.
HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


def page(title: str, body: str, status: int = 200, headers: dict | None = None) -> HTMLResponse:
    html = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><main>\n{body}\n</main></body></html>\n"
    )
    return HTMLResponse(html, status_code=status, headers={**HEADERS, **(headers or {})})


def _hidden(name: str, value: str | None) -> str:
    return f'<input type="hidden" name="{escape(name)}" value="{escape(value or "")}">'


def _alert(error: str | None) -> str:
    return f'<p class="alert alert-danger" role="alert">{escape(error)}</p>\n' if error else ""


def _describe(scope: str) -> str:
    top, _, rest = scope.partition(":")
    text = SCOPE_DESCRIPTIONS.get(top, scope)
    return f"{text} ({rest.replace(':', ' ')} only)" if rest else text


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
    parts = [_alert(error), '<form method="post" action="/oauth/authorize">']
    if app_name:
        parts.append(f"<p>Application <strong>{escape(app_name)}</strong> is requesting access to your account.</p>")
        parts.append('<div class="scopes"><p>The following permissions will be granted</p>')
        # An empty value first, so that unticking every box still sends the field.
        parts.append(_hidden("authorization[scope][]", ""))
        for i, scope in enumerate(scopes):
            tick = " checked" if scope in checked else ""
            parts.append(
                f'<div class="scope"><input type="checkbox" id="scope_{i}" name="authorization[scope][]"'
                f' value="{escape(scope)}"{tick}> <label for="scope_{i}" style="display:inline">'
                f"<code>{escape(scope)}</code> {escape(_describe(scope))}</label></div>"
            )
        parts.append("</div>")
    if nickname:
        parts.append(f'<p>Logged in as <strong>@{escape(nickname)}</strong>.</p>')
        parts.append(_hidden("authorization[csrf]", csrf))
        parts.append('<button type="submit">Approve</button>')
        if force_login_url:
            parts.append(f'<p class="muted"><a href="{escape(force_login_url)}">Log in as someone else</a></p>')
    else:
        parts.append('<label for="name">Username</label>'
                     '<input type="text" id="name" name="authorization[name]" autocomplete="username">')
        parts.append('<label for="password">Password</label>'
                     '<input type="password" id="password" name="authorization[password]"'
                     ' autocomplete="current-password">')
        parts.append('<button type="submit">Log In</button>')
    parts.extend(_hidden(f"authorization[{name}]", value) for name, value in fields.items())
    parts.append("</form>")
    return page("Authorize", "\n".join(parts), status)


def mfa_page(*, mfa_token: str, state: str | None, redirect_uri: str | None, challenge_type: str = "totp",
             error: str | None = None, status: int = 200) -> HTMLResponse:
    """The second step of a login on /oauth/authorize, posting to /oauth/mfa/verify."""
    recovery = challenge_type == "recovery"
    title = "Two-factor recovery" if recovery else "Two-factor authentication"
    prompt = "Recovery code" if recovery else "Authentication code"
    other = "totp" if recovery else "recovery"
    other_text = "Enter a two-factor code" if recovery else "Enter a two-factor recovery code"
    switch = "/oauth/mfa?" + urlencode({"challenge_type": other, "mfa_token": mfa_token, "state": state or "",
                                        "redirect_uri": redirect_uri or ""})
    code_attrs = ' autocomplete="off"' if recovery else ' autocomplete="one-time-code" inputmode="numeric"'
    body = "\n".join([
        _alert(error),
        f"<h2>{title}</h2>",
        '<form method="post" action="/oauth/mfa/verify">',
        f'<label for="code">{prompt}</label>'
        f'<input type="text" id="code" name="mfa[code]" autofocus spellcheck="false"{code_attrs}>',
        _hidden("mfa[mfa_token]", mfa_token),
        _hidden("mfa[state]", state),
        _hidden("mfa[redirect_uri]", redirect_uri),
        _hidden("mfa[challenge_type]", "recovery" if recovery else "totp"),
        '<button type="submit">Verify</button>',
        "</form>",
        f'<p class="muted"><a href="{escape(switch)}">{other_text}</a></p>',
    ])
    return page(title, body, status)


def oob_page(code: str, headers: dict | None = None) -> HTMLResponse:
    # Pleroma's exact words: clients and people copy the code from after "Token code is".
    body = f"<h1>Successfully authorized</h1>\n<h2>Token code is <br>{escape(code)}</h2>"
    return page("Successfully authorized", body, headers=headers)


def error_page(title: str, message: str, status: int) -> HTMLResponse:
    return page(title, f"<h1>{escape(title)}</h1>\n{_alert(message)}", status)
