"""Admin commands: ``flask users ...``, ``flask tokens prune``, ``flask sync prune``,
``flask plugins list`` and the shell context.

Every command exits non-zero with a message on stderr when it cannot do what
was asked (unknown email, duplicate account, invalid input).
"""

from __future__ import annotations

import sys

import click
import marshmallow as ma
import sqlalchemy as sa
from flask import Flask
from flask.cli import AppGroup

from taskapi import plugins
from taskapi.accounts import delete_account
from taskapi.auth.passwords import hash_password
from taskapi.auth.schemas import PASSWORD_MAX, PASSWORD_MIN, RegisterSchema
from taskapi.auth.tokens import prune_expired_tokens, revoke_all_tokens
from taskapi.extensions import db
from taskapi.models import IssuedToken, Task, User
from taskapi.sync.feed import prune_tombstones
from taskapi.sync.idempotency import prune_keys

users_cli = AppGroup("users", help="Manage user accounts.")
tokens_cli = AppGroup("tokens", help="Maintain the issued-token table.")
sync_cli = AppGroup("sync", help="Maintain the change feed's tombstones and idempotency keys.")
plugins_cli = AppGroup("plugins", help="Show the plugins (taskapi.plugins).")

_register_schema = RegisterSchema()


def register_cli(app: Flask) -> None:
    """Add the command groups and the ``flask shell`` context to ``app``."""
    app.cli.add_command(users_cli)
    app.cli.add_command(tokens_cli)
    app.cli.add_command(sync_cli)
    app.cli.add_command(plugins_cli)
    app.shell_context_processor(
        lambda: {"db": db, "sa": sa, "User": User, "Task": Task, "IssuedToken": IssuedToken}
    )


def _fail(message: str) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(1)


def _user_or_fail(email: str) -> User:
    user = db.session.scalars(
        sa.select(User).where(User.email == email.strip().lower())
    ).first()
    if user is None:
        _fail(f"no user with email {email.strip().lower()!r}.")
    return user


def _read_password(password_stdin: bool) -> str:
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        _fail(f"the password must be {PASSWORD_MIN}-{PASSWORD_MAX} characters.")
    return password


@users_cli.command("create")
@click.argument("email")
@click.option("--name", required=True, help="Display name, 1-255 characters.")
@click.option("--admin", is_flag=True, help="Give the account admin rights.")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
def create_user(email: str, name: str, admin: bool, password_stdin: bool) -> None:
    """Create an account (the password is asked twice unless --password-stdin)."""
    password = _read_password(password_stdin)
    try:
        data = _register_schema.load({"email": email, "name": name, "password": password})
    except ma.ValidationError as error:
        fields = "; ".join(f"{k}: {' '.join(v)}" for k, v in error.messages.items())
        _fail(f"invalid input: {fields}")
    if db.session.scalars(sa.select(User.id).where(User.email == data["email"])).first():
        _fail(f"a user with email {data['email']!r} already exists.")
    user = User(
        email=data["email"], name=data["name"], is_admin=admin,
        password_hash=hash_password(data["password"]),
    )
    db.session.add(user)
    db.session.commit()
    click.echo(f"Created user {user.id} <{user.email}>{' (admin)' if admin else ''}.")


@users_cli.command("list")
def list_users() -> None:
    """List accounts: id, email, name, active, admin, created."""
    users = db.session.scalars(sa.select(User).order_by(User.id)).all()
    click.echo(f"{'id':>6}  {'email':<40} {'name':<24} active admin created")
    for user in users:
        click.echo(
            f"{user.id:>6}  {user.email:<40} {user.name[:24]:<24} "
            f"{'yes' if user.is_active else 'no':<6} {'yes' if user.is_admin else 'no':<5} "
            f"{user.created_at:%Y-%m-%d}"
        )


def _set_active(email: str, active: bool) -> None:
    user = _user_or_fail(email)
    user.is_active = active
    if not active:
        revoke_all_tokens(user.id, "deactivated")
    db.session.commit()
    click.echo(f"User {user.id} <{user.email}> {'activated' if active else 'deactivated'}.")


@users_cli.command("deactivate")
@click.argument("email")
def deactivate_user(email: str) -> None:
    """Deactivate an account: it cannot log in and its tokens stop working."""
    _set_active(email, False)


@users_cli.command("activate")
@click.argument("email")
def activate_user(email: str) -> None:
    """Re-activate an account."""
    _set_active(email, True)


@users_cli.command("set-password")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
def set_password(email: str, password_stdin: bool) -> None:
    """Set a new password and revoke the account's tokens."""
    user = _user_or_fail(email)
    user.password_hash = hash_password(_read_password(password_stdin))
    revoke_all_tokens(user.id, "password_changed")
    db.session.commit()
    click.echo(f"Password changed for user {user.id} <{user.email}>; its tokens were revoked.")


@users_cli.command("delete")
@click.argument("email")
@click.option("--yes", is_flag=True, help="Delete without asking for confirmation.")
def delete_user(email: str, yes: bool) -> None:
    """Delete an account with its tasks, tags and token records (asks first
    unless --yes). Tasks go in batches of 1,000, one transaction each, so the
    API keeps serving other users meanwhile; if interrupted, the account stays
    deactivated and running the command again finishes."""
    user = _user_or_fail(email)
    user_id, address = user.id, user.email
    if not yes:
        tasks = db.session.scalar(
            sa.select(sa.func.count()).select_from(Task).where(Task.user_id == user_id))
        db.session.rollback()  # no read transaction held open while the prompt waits
        click.confirm(f"Delete user {user_id} <{address}> and its {tasks} task(s)? "
                      "This cannot be undone", abort=True)
    db.session.rollback()  # delete_account starts its own transactions
    deleted = delete_account(user_id)
    click.echo(f"Deleted user {user_id} <{address}>: {deleted.tasks} task(s), "
               f"{deleted.tags} tag(s), {deleted.lists} list(s), {deleted.tokens} token record(s).")


@tokens_cli.command("prune")
def prune_tokens() -> None:
    """Delete token records whose expiry has passed."""
    count = prune_expired_tokens()
    db.session.commit()
    click.echo(f"Pruned {count} expired token record(s).")


@sync_cli.command("prune")
@click.option("--days", type=click.IntRange(min=0), default=None,
              help="Keep tombstones this many days (default: SYNC_TOMBSTONE_DAYS).")
def prune_sync(days: int | None) -> None:
    """Delete tombstones older than SYNC_TOMBSTONE_DAYS and expired idempotency keys.

    Sync tokens older than a pruned tombstone are answered 410 afterwards (the
    client syncs in full); run it daily, beside ``flask tokens prune``."""
    tombstones = prune_tombstones(days)
    keys = prune_keys()
    db.session.commit()
    click.echo(f"Pruned {tombstones} tombstone(s) and {keys} expired idempotency key(s).")


@plugins_cli.command("list")
def list_plugins() -> None:
    """The plugins loaded (name, version, entry point), then those installed
    but not loaded (PLUGINS does not name them)."""
    from flask import current_app

    loaded = plugins.loaded_plugins(current_app)
    for plugin in loaded:
        click.echo(f"{plugin.name}\t{plugin.version}\t{plugin.source}\tloaded")
    names = {plugin.name for plugin in loaded}
    for name, entry_point in sorted(plugins.installed().items()):
        if name not in names:
            click.echo(f"{name}\t-\t{entry_point.value}\tinstalled, not loaded")
    if not loaded:
        click.echo("No plugin loaded (PLUGINS names none).", err=True)
