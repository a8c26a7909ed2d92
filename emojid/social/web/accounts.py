"""Mastodon account routes: credentials, profiles, relationships, follows, blocks, mutes, pins.

Scopes and error texts are Pleroma's MastodonAPI.AccountController's.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from emojid.auth.callers import require
from emojid.auth.index.accounts import Account
from emojid.context import ctx
from emojid.errors import BadRequest, NotFound
from emojid.http.params import bool_param, bool_value, int_param, read_params, text_param
from emojid.http.responses import JSON
from emojid.http.uploads import CLEAR, image_param
from emojid.social.handles import Naming
from emojid.social.index.relationships import BLOCK, ENDORSEMENT, MUTE
from emojid.social.media import LIMITS
from emojid.social.relationships import MAX_MUTE_SECONDS, Relationships
from emojid.social.web.account_common import account_by_id, optional_account, require_any, run, view

# update_credentials parameter -> profile image slot
IMAGE_PARAMS = {"avatar": "avatar", "header": "header", "pleroma_background_image": "background"}


def _relationships(request: Request) -> Relationships:
    return ctx(request).social.relationships


def _optional_flag(params: dict, name: str) -> bool | None:
    """None when absent: the relationship keeps what it had."""
    return None if params.get(name) in (None, "") else bool_param(params, name)


async def _own(request: Request, account: Account) -> dict:
    return await run(lambda: view(request).account(account, account, with_settings=True))


# -- the caller's own account -------------------------------------------------------


async def verify_credentials(request: Request) -> Response:
    actor = await require(request, "read:accounts")
    return JSON(await _own(request, actor.account))


async def update_credentials(request: Request) -> Response:
    actor = await require(request, "write:accounts")
    params = await read_params(request)
    form = getattr(request.state, "form", None)
    if form is not None and "also_known_as[]" in form:
        params["also_known_as"] = [v for v in form.getlist("also_known_as[]") if isinstance(v, str)]
    profiles = ctx(request).social.profiles
    async with contextlib.AsyncExitStack() as stack:
        images = {}
        for name, slot in IMAGE_PARAMS.items():
            value = await stack.enter_async_context(image_param(request, params, name, LIMITS[slot]))
            if value is not None:
                images[slot] = None if value is CLEAR else value
        await run(profiles.update_credentials, actor.account, params, images)
    return JSON(await _own(request, actor.account))


# -- reading accounts -----------------------------------------------------------------


def _embed(request: Request) -> bool:
    value = request.query_params.get("with_relationships")
    return value is not None and bool_value(value, "with_relationships")


async def show(request: Request) -> Response:
    viewer = await optional_account(request, "read:accounts")
    key = request.path_params["id"]
    index = ctx(request).social.index
    if key.isdigit():
        account = await run(index.account_by_id, key)
    else:  # Pleroma takes a nickname here too
        target = Naming(ctx(request).config).parse(key)
        account = await run(index.account_by_nickname, target.local) if target and target.local else None
    accounts = view(request)
    if account is None or not await run(accounts.visible, account, viewer):
        raise NotFound("Can't find user")
    embed = _embed(request)
    return JSON(await run(lambda: accounts.account(account, viewer, embed_relationship=embed)))


async def lookup(request: Request) -> Response:
    viewer = await optional_account(request, "read:accounts")
    acct = text_param(dict(request.query_params), "acct")
    if not acct:
        raise BadRequest("Missing field: acct.")
    target = Naming(ctx(request).config).parse(acct)
    account = await run(ctx(request).social.index.account_by_nickname, target.local) if target and target.local else None
    accounts = view(request)
    if account is None or not await run(accounts.visible, account, viewer):
        raise NotFound("Can't find user")
    return JSON(await run(accounts.account, account, viewer))


async def relationships(request: Request) -> Response:
    actor = await require(request, "read:follows")
    ids = [*request.query_params.getlist("id[]"), *request.query_params.getlist("id")]
    index = ctx(request).social.index
    targets = await run(index.accounts_by_ids, [i for i in dict.fromkeys(ids) if i.isdigit()])
    accounts = view(request)
    return JSON(await run(lambda: [accounts.relationship(actor.account, t) for t in targets]))


def _listing(followers: bool) -> Callable[[Request], Awaitable[Response]]:
    """GET /accounts/:id/followers or /following; hidden ones show only to their owner."""
    hidden_flag = "hide_followers" if followers else "hide_follows"

    async def handler(request: Request) -> Response:
        viewer = await optional_account(request, "read:accounts")
        account = await account_by_id(request)
        limit = min(int_param(dict(request.query_params), "limit", 40, minimum=1), 80)
        embed = _embed(request)
        accounts = view(request)
        index = accounts.index

        def build() -> list:
            if index.profile(account.id).flag(hidden_flag) and (viewer is None or viewer.id != account.id):
                return []
            ids = index.followers(account.id) if followers else index.following(account.id)
            return accounts.accounts(index.accounts_by_ids(ids[:limit]), viewer, embed_relationship=embed)

        return JSON(await run(build))

    return handler


followers = _listing(followers=True)
following = _listing(followers=False)


# -- acting on another account ------------------------------------------------------------


def _action(scopes: tuple[str, ...], act: Callable[[Relationships, Account, Account, dict], None],
            target_first: bool = False) -> Callable[[Request], Awaitable[Response]]:
    """A POST on /accounts/:id/<verb>: check scopes, do it, answer the new relationship."""

    async def handler(request: Request) -> Response:
        me = await require_any(request, *scopes)
        other = await account_by_id(request)
        params = await read_params(request)
        await run(act, _relationships(request), me, other, params)
        return JSON(await run(view(request).relationship, me, other))

    return handler


def _follow(rel: Relationships, me: Account, other: Account, params: dict) -> None:
    rel.follow(me, other, reblogs=_optional_flag(params, "reblogs"), notify=_optional_flag(params, "notify"))


def _mute(rel: Relationships, me: Account, other: Account, params: dict) -> None:
    fallback = int_param(params, "expires_in", 0, maximum=MAX_MUTE_SECONDS)
    duration = int_param(params, "duration", fallback, maximum=MAX_MUTE_SECONDS)
    rel.mute(me, other, notifications=bool_param(params, "notifications", True), duration=duration)


FOLLOW = ("follow", "write:follows")
follow = _action(FOLLOW, _follow)
unfollow = _action(FOLLOW, lambda rel, me, other, p: rel.unfollow(me, other))
block = _action(("follow", "write:blocks"), lambda rel, me, other, p: rel.block(me, other))
unblock = _action(("follow", "write:blocks"), lambda rel, me, other, p: rel.unblock(me, other))
mute = _action(("follow", "write:mutes"), _mute)
unmute = _action(("follow", "write:mutes"), lambda rel, me, other, p: rel.unmute(me, other))
pin = _action(("write:accounts",), lambda rel, me, other, p: rel.endorse(me, other))
unpin = _action(("write:accounts",), lambda rel, me, other, p: rel.unendorse(me, other))


# -- the caller's lists: endorsements, blocks, mutes, follow requests ------------------------


def _own_list(scopes: tuple[str, ...], kind: str) -> Callable[[Request], Awaitable[Response]]:
    async def handler(request: Request) -> Response:
        me = await require_any(request, *scopes)
        accounts = view(request)
        rel = _relationships(request)

        def build() -> list:
            entries = []
            for other in rel.related(kind, me):
                entry = accounts.account(other, me)
                if kind == MUTE:
                    entry["mute_expires_at"] = rel.mute_expires_at(me, other)
                entries.append(entry)
            return entries

        return JSON(await run(build))

    return handler


endorsements = _own_list(("read:accounts",), ENDORSEMENT)
blocks = _own_list(("follow", "read:blocks"), BLOCK)
mutes = _own_list(("follow", "read:mutes"), MUTE)


async def follow_requests(request: Request) -> Response:
    me = await require_any(request, "read:follows", "follow")
    index = ctx(request).social.index
    accounts = view(request)
    return JSON(await run(lambda: accounts.accounts(
        index.accounts_by_ids(index.followers(me.id, state="pending")), me)))


def answer_follow_request(accept: bool) -> Callable[[Request], Awaitable[Response]]:
    async def handler(request: Request) -> Response:
        me = await require_any(request, *FOLLOW)
        follower = await account_by_id(request)
        rel = _relationships(request)
        done = await run(rel.authorize if accept else rel.reject, me, follower)
        if not done:
            raise NotFound("Record not found")
        return JSON(await run(view(request).relationship, me, follower))

    return handler
