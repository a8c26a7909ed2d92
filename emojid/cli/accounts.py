"""`emojid user ...` and `emojid token ...`: local accounts and what they log in with,
through the services the API uses (Accounts, Credentials)."""

from __future__ import annotations

from typing import Any

import click

from emojid.cli.base import CliError, Group, People, with_people
from emojid.cli.output import complete_accounts, confirm, echo_json, echo_table, json_option, read_password, yes_no

ACCOUNT_NAME = click.argument("name", shell_complete=complete_accounts)
PASSWORD_HELP = "The password (default: asked twice on a terminal, else one line read from stdin)."


@click.group(cls=Group)
def user() -> None:
    """Local accounts: create, list, delete, change a password."""


def _account_state(people: People, account: Any) -> str:
    if people.index.profile(account.id).deleted_at:
        return "deleted"
    if account.disabled:
        return "disabled"
    reason = people.index.pending_reason(account.id)
    return f"pending {reason}" if reason else "active"


def _live_account(people: People, name: str) -> Any:
    """The account NAME, refused when it was deleted."""
    account = people.accounts.named(name)
    if people.index.profile(account.id).deleted_at:
        raise CliError(f"{account.nickname} was deleted (its nickname stays taken)")
    return account


@user.command("create")
@click.argument("name")
@click.option("--password", metavar="PW", default=None, help=PASSWORD_HELP)
@click.option("--email", metavar="E", default=None, help="The account's email address.")
@click.option("--admin", is_flag=True, help="Give the account admin rights.")
@click.pass_context
def user_create(ctx: click.Context, name: str, password: str | None, email: str | None, admin: bool) -> None:
    """Create a local account and print its id.

    \b
    Examples:
        emojid user create alice --admin                    # asks for the password
        printf '%s\\n' "$PW" | emojid user create alice     # reads it from stdin
    """
    secret = read_password(password)
    click.echo(with_people(ctx, lambda people: people.accounts.create_user(name, secret, email, admin).id))


@user.command("list")
@json_option()
@click.pass_context
def user_list(ctx: click.Context, as_json: bool) -> None:
    """List accounts: id, nickname, email, admin, state, creation time.

    STATE is active, disabled, deleted (the nickname stays taken), or pending
    confirmation/approval (registration with [instance] checks).
    """
    def run(people: People) -> list[dict[str, Any]]:
        return [{
            "id": account.id,
            "nickname": account.nickname,
            "email": account.email,
            "admin": account.is_admin,
            "state": _account_state(people, account),
            "created_at": account.created_at,
        } for account in people.accounts.list_accounts()]

    rows = with_people(ctx, run)
    if as_json:
        echo_json(rows)
        return
    echo_table(["ID", "NICKNAME", "EMAIL", "ADMIN", "STATE", "CREATED"],
               [[r["id"], r["nickname"], r["email"] or "", yes_no(r["admin"]), r["state"], r["created_at"]]
                for r in rows])


@user.command("delete")
@ACCOUNT_NAME
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation on a terminal.")
@click.pass_context
def user_delete(ctx: click.Context, name: str, yes: bool) -> None:
    """Delete account NAME, as the API's account deletion does.

    Its tokens, sessions, MFA, relations, aliases and media go; the row stays
    (disabled) so the nickname is never handed out again.
    """
    def run(people: People) -> None:
        account = _live_account(people, name)
        confirm(f"Delete account {account.nickname} and its data?", yes)
        people.credentials.delete(account)

    with_people(ctx, run)
    click.echo("ok")


@user.command("passwd")
@ACCOUNT_NAME
@click.option("--password", metavar="PW", default=None, help=PASSWORD_HELP)
@click.pass_context
def user_passwd(ctx: click.Context, name: str, password: str | None) -> None:
    """Set a new password for account NAME.

    Tokens already issued stay valid; end them with `emojid token revoke`.
    """
    def account(people: People) -> Any:
        return _live_account(people, name)

    with_people(ctx, account)  # an unknown or deleted account fails before asking
    secret = read_password(password, "New password")

    def run(people: People) -> None:
        error = people.credentials.change_password(_live_account(people, name), secret, secret)
        if error:
            raise CliError(error)

    with_people(ctx, run)
    click.echo("ok")


@click.group(cls=Group)
def token() -> None:
    """OAuth bearer tokens: create, list, revoke."""


@token.command("create")
@ACCOUNT_NAME
@click.option("--scopes", metavar="SCOPES", default="read write follow push", show_default=True,
              help='Space-separated scopes; "admin" needs an admin account.')
@click.pass_context
def token_create(ctx: click.Context, name: str, scopes: str) -> None:
    """Mint a bearer token for account NAME and print only the token.

    \b
    Example:
        emojid token create alice --scopes "read write admin"
    """
    click.echo(with_people(ctx, lambda people: people.accounts.token_for_cli(name, scopes)))


@token.command("list")
@ACCOUNT_NAME
@json_option()
@click.pass_context
def token_list(ctx: click.Context, name: str, as_json: bool) -> None:
    """List the unexpired tokens and browser sessions of account NAME, newest first."""
    def run(people: People) -> list[dict[str, Any]]:
        return [{
            "id": c.id,
            "kind": c.kind,
            "app_name": c.app_name,
            "scopes": c.scopes,
            "created_at": c.created_at,
            "valid_until": c.valid_until,
        } for c in people.accounts.credentials(name)]

    rows = with_people(ctx, run)
    if as_json:
        echo_json(rows)
        return
    echo_table(["ID", "KIND", "APP", "SCOPES", "CREATED", "EXPIRES"],
               [[r["id"], r["kind"], r["app_name"] or ("Web login" if r["kind"] == "session" else "-"),
                 r["scopes"] or "-", r["created_at"], r["valid_until"] or "never"] for r in rows])


@token.command("revoke")
@click.argument("token_id", metavar="ID")
@click.pass_context
def token_revoke(ctx: click.Context, token_id: str) -> None:
    """End the token or browser session ID (as `emojid token list` shows it)."""
    with_people(ctx, lambda people: people.accounts.revoke_id(token_id))
    click.echo("ok")
