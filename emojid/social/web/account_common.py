"""What the account routes share: who is calling, which account a path names, the services."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import anyio.to_thread
from starlette.requests import Request

from emojid.auth.callers import Actor, client_address
from emojid.auth.index.accounts import Account
from emojid.context import ctx
from emojid.errors import Forbidden, NotFound, Unauthorized
from emojid.social.entities.accounts import AccountView

T = TypeVar("T")


async def run(fn: Callable[..., T], *args: Any) -> T:
    """Blocking work (SQLite, argon2, Pillow) off the event loop."""
    return await anyio.to_thread.run_sync(fn, *args)


async def require_any(request: Request, *scopes: str) -> Account:
    """The caller's account if its token holds one of `scopes` (Pleroma's `follow | write:follows`)."""
    actor: Actor | None = await ctx(request).auth.actor(request)
    if actor is None or actor.account is None:
        raise Unauthorized("Invalid credentials")
    if not any(actor.has_scope(scope) for scope in scopes):
        raise Forbidden(f"Insufficient permissions: {' | '.join(scopes)}.")
    return actor.account


async def optional_account(request: Request, scope: str) -> Account | None:
    """The caller, when it has `scope`; anonymous otherwise (Pleroma's proceed_unauthenticated)."""
    actor: Actor | None = await ctx(request).auth.actor(request)
    if actor is None or actor.account is None or not actor.has_scope(scope):
        return None
    return actor.account


async def account_by_id(request: Request, message: str = "Record not found") -> Account:
    """The account the path's {id} names (404 otherwise); deleted accounts are gone."""
    account_id = request.path_params["id"]
    index = ctx(request).social.index
    account = await run(index.account_by_id, account_id) if account_id.isdigit() else None
    if account is None or (await run(index.profile, account.id)).deleted_at:
        raise NotFound(message)
    return account


async def password_ok(request: Request, account: Account, password: str | None) -> bool:
    """The current password, throttled like every password check (429 after too many failures)."""
    return await ctx(request).auth.oauth.confirm_password(account, password, client_address(request))


def view(request: Request) -> AccountView:
    return ctx(request).social.account_view()
