"""Admin CLI: ``flask users ...``, ``flask tokens prune`` and the shell context."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask.cli import shell_command

import taskapi.accounts as accounts
from taskapi.auth.passwords import verify_password
from taskapi.extensions import db
from taskapi.models import IssuedToken, Tag, Task, TaskList, User, task_tags, utcnow
from tests.helpers import (
    PASSWORD,
    assert_error,
    create_task,
    is_postgresql,
    login,
    make_account,
    register,
)

NEW_PASSWORD = "a brand new passphrase"


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def get_user(app, email: str) -> User | None:
    with app.app_context():
        user = db.session.scalars(sa.select(User).where(User.email == email)).first()
        if user is not None:
            db.session.expunge(user)
        return user


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def create(runner, email="admin@example.com", *extra, password=PASSWORD):
    return runner.invoke(
        args=["users", "create", email, "--name", "Admin", "--password-stdin", *extra],
        input=f"{password}\n",
    )


# --- users create --------------------------------------------------------------


def test_create_with_password_stdin(app, runner, client):
    result = create(runner, "Grace@Example.com ")

    assert result.exit_code == 0, result.output
    assert "grace@example.com" in result.stdout
    user = get_user(app, "grace@example.com")
    assert user is not None
    assert user.name == "Admin"
    assert user.is_active is True
    assert user.is_admin is False
    assert user.password_hash != PASSWORD
    with app.app_context():
        assert verify_password(user.password_hash, PASSWORD)
    assert login(client, "grace@example.com").status_code == 200


def test_create_admin(app, runner):
    result = create(runner, "root@example.com", "--admin")

    assert result.exit_code == 0, result.output
    assert "admin" in result.stdout
    assert get_user(app, "root@example.com").is_admin is True


def test_create_prompts_twice_without_stdin_flag(app, runner, client):
    result = runner.invoke(
        args=["users", "create", "prompt@example.com", "--name", "Prompted"],
        input=f"{PASSWORD}\n{PASSWORD}\n",
    )

    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output  # hidden input is not echoed
    assert get_user(app, "prompt@example.com").name == "Prompted"
    assert login(client, "prompt@example.com").status_code == 200


def test_create_prompt_mismatch_asks_again(app, runner):
    result = runner.invoke(
        args=["users", "create", "retry@example.com", "--name", "Retry"],
        input=f"{PASSWORD}\nsomething else\n{PASSWORD}\n{PASSWORD}\n",
    )

    assert result.exit_code == 0, result.output
    assert "do not match" in result.output.lower() or "don't match" in result.output.lower()
    assert get_user(app, "retry@example.com") is not None


def test_create_duplicate_email_fails(app, runner):
    assert create(runner, "dup@example.com").exit_code == 0

    result = create(runner, "DUP@example.com")

    assert result.exit_code != 0
    assert "already exists" in result.stderr
    assert "dup@example.com" in result.stderr
    assert count(app, User) == 1


def test_create_too_short_password_fails(app, runner):
    result = create(runner, "short@example.com", password="seven77")

    assert result.exit_code != 0
    assert "password" in result.stderr.lower()
    assert "8" in result.stderr
    assert count(app, User) == 0


def test_create_invalid_email_fails(app, runner):
    result = create(runner, "not-an-email")

    assert result.exit_code != 0
    assert "email" in result.stderr.lower()
    assert count(app, User) == 0


def test_create_requires_name(app, runner):
    result = runner.invoke(
        args=["users", "create", "noname@example.com", "--password-stdin"],
        input=f"{PASSWORD}\n",
    )

    assert result.exit_code != 0
    assert "--name" in result.output
    assert count(app, User) == 0


# --- users list ----------------------------------------------------------------


def test_list_shows_users(app, runner):
    create(runner, "first@example.com")
    create(runner, "second@example.com", "--admin")
    runner.invoke(args=["users", "deactivate", "first@example.com"])

    result = runner.invoke(args=["users", "list"])

    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 3  # header + two users
    first = next(line for line in lines if "first@example.com" in line)
    second = next(line for line in lines if "second@example.com" in line)
    assert first.split()[-3:-1] == ["no", "no"]  # inactive, not admin
    assert second.split()[-3:-1] == ["yes", "yes"]  # active, admin
    assert lines.index(first) < lines.index(second)


def test_list_with_no_users_prints_only_the_header(runner):
    result = runner.invoke(args=["users", "list"])

    assert result.exit_code == 0
    assert len(result.stdout.strip().splitlines()) == 1


# --- users deactivate / activate -------------------------------------------------


def test_deactivate_flips_flag_and_revokes_tokens(app, runner, client, user):
    assert client.get("/api/v1/auth/me", headers=user.headers).status_code == 200

    result = runner.invoke(args=["users", "deactivate", user.email])

    assert result.exit_code == 0, result.output
    assert get_user(app, user.email).is_active is False
    assert_error(client.get("/api/v1/auth/me", headers=user.headers), 401)
    refreshed = client.post(
        "/api/v1/auth/refresh", headers={"Authorization": f"Bearer {user.refresh_token}"}
    )
    assert_error(refreshed, 401)
    with app.app_context():
        live = db.session.scalar(
            sa.select(sa.func.count()).select_from(IssuedToken).where(
                IssuedToken.user_id == user.id, IssuedToken.revoked_at.is_(None)
            )
        )
    assert live == 0
    assert_error(login(client, user.email), 401)


def test_activate_flips_flag_back_and_allows_login(app, runner, client, user):
    assert runner.invoke(args=["users", "deactivate", user.email]).exit_code == 0

    result = runner.invoke(args=["users", "activate", user.email.upper()])

    assert result.exit_code == 0, result.output
    assert get_user(app, user.email).is_active is True
    # Tokens revoked by the deactivation stay revoked.
    assert_error(client.get("/api/v1/auth/me", headers=user.headers), 401)
    response = login(client, user.email)
    assert response.status_code == 200
    token = response.get_json()["access_token"]
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200


# --- users set-password ----------------------------------------------------------


def test_set_password_changes_hash_and_revokes_tokens(app, runner, client, user):
    old_hash = get_user(app, user.email).password_hash

    result = runner.invoke(
        args=["users", "set-password", user.email, "--password-stdin"],
        input=f"{NEW_PASSWORD}\n",
    )

    assert result.exit_code == 0, result.output
    assert get_user(app, user.email).password_hash != old_hash
    assert_error(client.get("/api/v1/auth/me", headers=user.headers), 401)
    assert_error(login(client, user.email, PASSWORD), 401)
    assert login(client, user.email, NEW_PASSWORD).status_code == 200


def test_set_password_with_prompt(app, runner, client, user):
    result = runner.invoke(
        args=["users", "set-password", user.email],
        input=f"{NEW_PASSWORD}\n{NEW_PASSWORD}\n",
    )

    assert result.exit_code == 0, result.output
    assert NEW_PASSWORD not in result.output
    assert login(client, user.email, NEW_PASSWORD).status_code == 200


def test_set_password_too_short_keeps_old_password(app, runner, client, user):
    old_hash = get_user(app, user.email).password_hash

    result = runner.invoke(
        args=["users", "set-password", user.email, "--password-stdin"], input="short\n"
    )

    assert result.exit_code != 0
    assert "password" in result.stderr.lower()
    assert get_user(app, user.email).password_hash == old_hash
    assert client.get("/api/v1/auth/me", headers=user.headers).status_code == 200


# --- users delete ------------------------------------------------------------------


def owned(app, user_id: int) -> dict[str, int]:
    """How many rows of each kind belong to the user (task_tags through its tasks)."""
    with app.app_context():
        def rows(query):
            return db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery()))
        return {
            "users": rows(sa.select(User.id).where(User.id == user_id)),
            "tasks": rows(sa.select(Task.id).where(Task.user_id == user_id)),
            "tags": rows(sa.select(Tag.id).where(Tag.user_id == user_id)),
            "task_tags": rows(sa.select(task_tags.c.task_id).join(
                Task, Task.id == task_tags.c.task_id).where(Task.user_id == user_id)),
            "lists": rows(sa.select(TaskList.id).where(TaskList.user_id == user_id)),
            "tokens": rows(sa.select(IssuedToken.id).where(IssuedToken.user_id == user_id)),
        }


def write_from_another_connection(url: str, user_id: int) -> None:
    """Write the user's row on a connection of its own, waiting at most 1 s for a
    lock (SQLite: the database's; PostgreSQL: the row's); raises if it cannot."""
    if is_postgresql(url):
        engine = sa.create_engine(url, poolclass=sa.pool.NullPool,
                                  connect_args={"options": "-c lock_timeout=1000"})
    else:
        engine = sa.create_engine(url, poolclass=sa.pool.NullPool, connect_args={"timeout": 1})
    try:
        with engine.begin() as connection:
            connection.execute(sa.text("UPDATE users SET name = name WHERE id = :id"),
                               {"id": user_id})
    finally:
        engine.dispose()


def test_delete_with_yes_removes_the_account_in_batches(app, runner, client, user, other_user,
                                                        monkeypatch):
    for n in range(25):
        create_task(client, user, title=f"t{n}", tags=["work", f"n{n % 3}"])
    theirs = create_task(client, other_user, title="theirs", tags=["work"])
    kept = owned(app, other_user.id)
    assert owned(app, user.id) == {"users": 1, "tasks": 25, "tags": 4, "task_tags": 50,
                                   "lists": 1, "tokens": 2}
    monkeypatch.setattr(accounts, "BATCH_SIZE", 10)
    real_end_batch, between = accounts.end_batch, []

    def end_batch_and_look():
        real_end_batch()
        # Committed and visible to others; no lock held: another writer gets in.
        between.append(owned(app, user.id)["tasks"])
        write_from_another_connection(app.config["SQLALCHEMY_DATABASE_URI"], user.id)

    monkeypatch.setattr(accounts, "end_batch", end_batch_and_look)
    commits: list[int] = []
    with app.app_context():
        sa.event.listen(db.engine, "commit", lambda _conn: commits.append(1))

    result = runner.invoke(args=["users", "delete", "ADA@example.com", "--yes"])

    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == (
        f"Deleted user {user.id} <ada@example.com>: 25 task(s), 4 tag(s), 1 list(s), "
        "2 token record(s).")
    # Deactivation, then batches of 10, 10 and 5 (the last with tags, tokens, user).
    assert between == [25, 15, 5]
    assert len(commits) == 4
    assert owned(app, user.id) == dict.fromkeys(("users", "tasks", "tags", "task_tags",
                                                 "lists", "tokens"), 0)
    assert owned(app, other_user.id) == kept
    assert client.get(f"/api/v1/tasks/{theirs['id']}",
                      headers=other_user.headers).get_json()["tags"] == ["work"]
    assert_error(client.get("/api/v1/tasks", headers=user.headers), 401)
    assert_error(login(client, user.email), 401)
    # The address is free again.
    assert register(client, user.email).status_code == 201


def test_delete_counts_subtasks_and_lists_and_batches_by_top_level_task(
        app, runner, client, user, monkeypatch):
    work = client.post("/api/v1/lists", json={"name": "Work"}, headers=user.headers)
    assert work.status_code == 201
    for n in range(3):  # 3 trees of 4: a parent, 2 children, 1 grandchild
        parent = create_task(client, user, title=f"p{n}", list_id=work.get_json()["id"])
        child = create_task(client, user, title=f"c{n}", parent_id=parent["id"])
        create_task(client, user, title=f"d{n}", parent_id=parent["id"])
        create_task(client, user, title=f"g{n}", parent_id=child["id"])
    create_task(client, user, title="alone")
    assert owned(app, user.id)["tasks"] == 13
    monkeypatch.setattr(accounts, "BATCH_SIZE", 2)
    real_end_batch, between = accounts.end_batch, []

    def end_batch_and_look():
        real_end_batch()
        between.append(owned(app, user.id)["tasks"])

    monkeypatch.setattr(accounts, "end_batch", end_batch_and_look)
    result = runner.invoke(args=["users", "delete", user.email, "--yes"])

    assert result.exit_code == 0, result.output
    assert "13 task(s), 0 tag(s), 2 list(s), 2 token record(s)" in result.stdout
    # Deactivation; then 2 top-level tasks with their subtrees per batch: 4 + 4,
    # then 4 + 1; a full batch is followed by one more look, which finds none.
    assert between == [13, 5, 0]
    assert owned(app, user.id) == dict.fromkeys(("users", "tasks", "tags", "task_tags",
                                                 "lists", "tokens"), 0)


def test_delete_asks_first(app, runner, client, user):
    create_task(client, user, title="a")
    create_task(client, user, title="b")

    refused = runner.invoke(args=["users", "delete", user.email], input="n\n")

    assert refused.exit_code == 1
    assert f"Delete user {user.id} <{user.email}> and its 2 task(s)?" in refused.output
    assert "Aborted" in refused.output
    assert owned(app, user.id)["tasks"] == 2
    assert client.get("/api/v1/tasks", headers=user.headers).status_code == 200

    no_answer = runner.invoke(args=["users", "delete", user.email])
    assert no_answer.exit_code == 1
    assert owned(app, user.id)["users"] == 1

    confirmed = runner.invoke(args=["users", "delete", user.email], input="y\n")
    assert confirmed.exit_code == 0, confirmed.output
    assert owned(app, user.id) == dict.fromkeys(("users", "tasks", "tags", "task_tags",
                                                 "lists", "tokens"), 0)


def test_an_interrupted_delete_is_finished_by_running_it_again(app, runner, client, user,
                                                               monkeypatch):
    for n in range(25):
        create_task(client, user, title=f"t{n}", tags=["x"])
    monkeypatch.setattr(accounts, "BATCH_SIZE", 10)
    real_end_batch, calls = accounts.end_batch, []

    def die_after_the_first_batch():
        real_end_batch()
        calls.append(1)
        if len(calls) == 2:  # the deactivation, then one batch of tasks
            raise ConnectionError("the database went away")

    monkeypatch.setattr(accounts, "end_batch", die_after_the_first_batch)
    failed = runner.invoke(args=["users", "delete", user.email, "--yes"])

    assert failed.exit_code != 0
    assert owned(app, user.id) == {"users": 1, "tasks": 15, "tags": 1, "task_tags": 15,
                                   "lists": 1, "tokens": 2}
    assert get_user(app, user.email).is_active is False  # its tokens and logins refused
    assert_error(client.get("/api/v1/tasks", headers=user.headers), 401)

    monkeypatch.setattr(accounts, "end_batch", real_end_batch)
    again = runner.invoke(args=["users", "delete", user.email, "--yes"])

    assert again.exit_code == 0, again.output
    assert "15 task(s), 1 tag(s), 1 list(s), 2 token record(s)" in again.stdout
    assert owned(app, user.id)["users"] == 0


def test_delete_keeps_other_accounts(app, runner, client, user):
    other = make_account(client, "carol@example.com", name="Carol")
    create_task(client, other, title="carol's", tags=["mine"])
    before = owned(app, other.id)

    assert runner.invoke(args=["users", "delete", user.email, "--yes"]).exit_code == 0

    assert owned(app, other.id) == before
    assert client.get("/api/v1/tags", headers=other.headers).get_json() == [
        {"name": "mine", "task_count": 1}]


# --- unknown email -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "stdin"),
    [
        (["users", "deactivate", "ghost@example.com"], None),
        (["users", "activate", "ghost@example.com"], None),
        (["users", "set-password", "ghost@example.com", "--password-stdin"], f"{PASSWORD}\n"),
        (["users", "delete", "ghost@example.com", "--yes"], None),
    ],
)
def test_unknown_email_fails_with_clear_message(app, runner, user, args, stdin):
    result = runner.invoke(args=args, input=stdin)

    assert result.exit_code != 0
    assert "ghost@example.com" in result.stderr
    assert "no user" in result.stderr.lower()
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert get_user(app, user.email).is_active is True


# --- tokens prune --------------------------------------------------------------------


def test_tokens_prune_removes_only_expired_rows(app, runner, client, user):
    now = utcnow()
    with app.app_context():
        for n, expires_at in enumerate(
            (now - timedelta(days=1), now - timedelta(seconds=1), now + timedelta(days=1))
        ):
            db.session.add(
                IssuedToken(
                    jti=f"prune-test-{n}", token_type="access", user_id=user.id,
                    issued_at=now - timedelta(days=2), expires_at=expires_at,
                    session_id=f"prune-test-{n}",
                )
            )
        db.session.commit()
    before = count(app, IssuedToken)

    result = runner.invoke(args=["tokens", "prune"])

    assert result.exit_code == 0, result.output
    assert "2" in result.stdout
    assert count(app, IssuedToken) == before - 2
    with app.app_context():
        jtis = set(db.session.scalars(sa.select(IssuedToken.jti)))
    assert "prune-test-0" not in jtis
    assert "prune-test-1" not in jtis
    assert "prune-test-2" in jtis
    # The user's real, live tokens still work.
    assert client.get("/api/v1/auth/me", headers=user.headers).status_code == 200


# --- shell ---------------------------------------------------------------------------


def test_shell_context(app):
    with app.app_context():  # `flask shell` builds its context inside one
        context = app.make_shell_context()

    assert context["db"] is db
    assert context["User"] is User
    assert context["Task"] is Task
    assert context["IssuedToken"] is IssuedToken
    assert context["sa"] is sa
    assert context["app"] is app


def test_flask_shell_session_can_query_with_preloaded_names(app, runner, user):
    script = (
        "print('USERS', [u.email for u in db.session.scalars(sa.select(User))])\n"
        "print('TASKS', db.session.scalar(sa.select(sa.func.count()).select_from(Task)))\n"
    )

    result = runner.invoke(shell_command, input=script)

    assert result.exit_code == 0, result.output
    assert f"USERS ['{user.email}']" in result.output
    assert "TASKS 0" in result.output
    assert "Error" not in result.output
