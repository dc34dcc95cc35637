"""A client generated from the published OpenAPI document talks to taskapi under gunicorn.

Once per module, ``openapi-python-client`` (a maintained generator, run as
``python -m openapi_python_client``, no post hooks so it needs no ruff) turns
``docs/openapi.json`` into a package in a temporary directory; the generator must
succeed and print no warnings (each one is a part of the document it could not
understand). The tests import that package and use only its own API: the
``AuthenticatedClient``, the ``api.<tag>.<operation>`` modules named from the
operationIds and the models they parse responses into. Against a real gunicorn
(tests/servers.py, SQLite) they register, log in, create tasks, list them with
filters, update with ``If-Match`` (a stale ETag is a 412 and the row keeps its
value), complete, delete (the row is gone), and read errors through the ``Error``
model; and create and list through the Phase II compatibility routes. Two more
tests catch defaults in the document that a generated client sends although the
caller did not: a PATCH of the title must not reopen a completed task, and the
``X-Next-Cursor`` of a page must fetch the next one.
"""

from __future__ import annotations

import datetime
import importlib
import json
import subprocess
import sys
from http import HTTPStatus

import pytest

from tests.helpers import PASSWORD
from tests.servers import REPO_ROOT, Server, sqlite_server

# One xdist worker runs the module: its server (module scope) starts once.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("generated-client")]

SPEC = REPO_ROOT / "docs" / "openapi.json"
PACKAGE = "taskapi_client_pkg"
WARNINGS = "Warning(s) encountered while generating"
TOMORROW = datetime.datetime.now(datetime.UTC).replace(microsecond=0) + datetime.timedelta(days=1)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with sqlite_server(tmp_path_factory, "generated-client") as server:
        yield server


@pytest.fixture(scope="module")
def gen(tmp_path_factory):
    """``gen("api.tasks.create_task")``: a module of the generated client package."""
    tmp = tmp_path_factory.mktemp("client")
    config = tmp / "config.json"
    config.write_text(json.dumps({"post_hooks": []}))
    done = subprocess.run(
        [sys.executable, "-m", "openapi_python_client", "generate", "--path", str(SPEC),
         "--output-path", str(tmp / PACKAGE), "--meta", "none", "--config", str(config)],
        capture_output=True, text=True, timeout=120,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"openapi-python-client failed:\n{output}"
    assert WARNINGS not in output, f"the generator did not understand {SPEC}:\n{output}"
    sys.path.insert(0, str(tmp))
    try:
        yield lambda name: importlib.import_module(f"{PACKAGE}.{name}")
    finally:
        sys.path.remove(str(tmp))
        for name in [name for name in sys.modules if name.split(".")[0] == PACKAGE]:
            del sys.modules[name]


def authenticated(gen, server: Server, email: str):
    """Register ``email`` and log in through the generated client: (user, client)."""
    client_module, models = gen("client"), gen("models")
    anonymous = client_module.Client(base_url=server.base_url)
    created = gen("api.auth.register_user").sync_detailed(
        client=anonymous, body=models.Register(email=email, password=PASSWORD, name="Gen"))
    assert created.status_code == 201, created.content
    assert isinstance(created.parsed, models.User) and created.parsed.email == email
    logged_in = gen("api.auth.log_in").sync_detailed(
        client=anonymous, body=models.Login(email=email, password=PASSWORD))
    assert logged_in.status_code == 200, logged_in.content
    assert isinstance(logged_in.parsed, models.Token) and logged_in.parsed.token_type == "Bearer"
    return created.parsed, client_module.AuthenticatedClient(
        base_url=server.base_url, token=logged_in.parsed.access_token)


def assert_error(gen, response, status: int):
    """The response is ``status`` with the documented body, parsed as ``Error``."""
    assert response.status_code == status, response.content
    error = response.parsed
    assert isinstance(error, gen("models").Error), response.content
    assert (error.code, error.status) == (status, HTTPStatus(status).phrase) and error.message
    return error


def test_scenario_through_the_generated_client(gen, server):
    models, tasks = gen("models"), "api.tasks."
    Priority = models.TaskPriorityType1
    user, client = authenticated(gen, server, "generated@example.com")

    anonymous = gen("client").Client(base_url=server.base_url)
    assert_error(gen, gen(tasks + "list_tasks").sync_detailed(client=anonymous), 401)
    invalid = gen(tasks + "create_task").sync_detailed(client=client,
                                                       body=models.TaskCreate(title="   "))
    assert "title" in assert_error(gen, invalid, 422).errors.additional_properties["json"]

    created = {}
    for title, tags, priority, due, completed in [
        ("Write report", ["work"], Priority.HIGH, TOMORROW, False),
        ("Review PR", ["code", "work"], Priority.MEDIUM, TOMORROW + datetime.timedelta(1), False),
        ("Old report", ["work"], Priority.HIGH, None, True),
        ("Buy milk", ["errands"], Priority.HIGH, TOMORROW, False),
        ("Tidy desk", ["work"], Priority.LOW, None, False),
    ]:
        body = models.TaskCreate(title=title, tags=tags, priority=priority, due_at=due,
                                 completed=completed)
        response = gen(tasks + "create_task").sync_detailed(client=client, body=body)
        assert response.status_code == 201, response.content
        task = response.parsed
        assert isinstance(task, models.Task) and isinstance(task.id, int)
        assert (task.title, task.tags, task.priority, task.due_at, task.completed) == (
            title, tags, priority, due, completed)
        created[title] = task

    listed = gen(tasks + "list_tasks").sync_detailed(
        client=client, tag=["WORK"], completed=False, sort="due_at",
        priority=[models.ListTasksPriorityItem.HIGH, models.ListTasksPriorityItem.MEDIUM])
    assert listed.status_code == 200, listed.content
    assert [task.id for task in listed.parsed] == [
        created["Write report"].id, created["Review PR"].id]
    assert listed.parsed[0] == created["Write report"]  # a Task, equal field by field

    task_id = created["Write report"].id
    read = gen(tasks + "get_task").sync_detailed(task_id, client=client)
    assert read.status_code == 200 and read.parsed == created["Write report"]
    etag = read.headers["ETag"]
    update = gen(tasks + "update_task")
    updated = update.sync_detailed(task_id, client=client, if_match=etag,
                                   body=models.TaskPatch(title="Write the report"))
    assert updated.status_code == 200, updated.content
    assert updated.parsed.title == "Write the report" and updated.parsed.tags == ["work"]
    assert updated.headers["ETag"] != etag
    stale = update.sync_detailed(task_id, client=client, if_match=etag,
                                 body=models.TaskPatch(title="Lost update"))
    assert_error(gen, stale, 412)
    assert server.database.scalar("SELECT title FROM tasks WHERE id = :id",
                                  id=task_id) == "Write the report"

    completed = gen(tasks + "complete_task").sync_detailed(
        task_id, client=client, if_match=updated.headers["ETag"],
        body=models.TaskComplete(completed=True))
    assert completed.status_code == 200, completed.content
    assert completed.parsed.completed is True
    assert isinstance(completed.parsed.completed_at, datetime.datetime)

    deleted = gen(tasks + "delete_task").sync_detailed(
        task_id, client=client, if_match=completed.headers["ETag"])
    assert deleted.status_code == 204, deleted.content
    assert_error(gen, gen(tasks + "get_task").sync_detailed(task_id, client=client), 404)
    assert server.database.scalar("SELECT count(*) FROM tasks WHERE id = :id", id=task_id) == 0
    assert server.database.scalar(
        "SELECT count(*) FROM tasks WHERE user_id = :id", id=user.id) == len(created) - 1


def test_compat_contract_through_the_generated_client(gen, server):
    models, compat = gen("models"), "api.phase_ii_contract."
    anonymous = gen("client").Client(base_url=server.base_url)
    registered = gen(compat + "compat_register").sync_detailed(
        client=anonymous,
        body=models.Register(email="compat@example.com", password=PASSWORD, name="Compat"))
    assert registered.status_code == 201, registered.content
    assert isinstance(registered.parsed, models.CompatAuth)
    user_id, token = registered.parsed.user.id, registered.parsed.token
    client = gen("client").AuthenticatedClient(base_url=server.base_url, token=token)

    body = models.CompatTask(title="Compat task", due_date=TOMORROW,
                             priority=models.CompatTaskPriorityType1.LOW)
    created = gen(compat + "compat_create_task").sync_detailed(user_id, client=client, body=body)
    assert created.status_code == 201, created.content
    assert isinstance(created.parsed, models.CompatTask)
    assert (created.parsed.user_id, created.parsed.title, created.parsed.due_date) == (
        user_id, "Compat task", TOMORROW)

    listed = gen(compat + "compat_list_tasks").sync_detailed(user_id, client=client)
    assert listed.status_code == 200, listed.content
    assert listed.parsed == [created.parsed]
    other = gen(compat + "compat_list_tasks").sync_detailed(user_id + 1000, client=client)
    assert_error(gen, other, 403)


def test_a_patch_changes_only_what_it_sets(gen, server):
    """A documented default would be sent: ``completed: false`` reopened the task."""
    models, tasks = gen("models"), "api.tasks."
    _, client = authenticated(gen, server, "patch@example.com")
    task = gen(tasks + "create_task").sync_detailed(
        client=client, body=models.TaskCreate(title="Done", completed=True)).parsed
    patch = models.TaskPatch(title="Done, renamed")
    patched = gen(tasks + "update_task").sync_detailed(task.id, client=client, body=patch)
    assert patched.status_code == 200, patched.content
    assert patched.parsed.completed is True, patch.to_dict()


def test_cursor_pages(gen, server):
    """A documented default would be sent: ``page=1`` with a cursor was a 422."""
    models, list_tasks = gen("models"), gen("api.tasks.list_tasks")
    _, client = authenticated(gen, server, "cursor@example.com")
    for title in ("One", "Two"):
        gen("api.tasks.create_task").sync_detailed(client=client,
                                                   body=models.TaskCreate(title=title))
    first = list_tasks.sync_detailed(client=client, sort="title", page_size=1)
    assert [task.title for task in first.parsed] == ["One"]
    after = list_tasks.sync_detailed(client=client, sort="title", page_size=1,
                                     cursor=first.headers["X-Next-Cursor"])
    assert after.status_code == 200, after.content
    assert [task.title for task in after.parsed] == ["Two"]
