"""Helpers for the subtask and manual-order tests: lists, moves, sibling groups
read through the API and straight from the database."""

from __future__ import annotations

from urllib.parse import urlencode

import sqlalchemy as sa

from taskapi.extensions import db
from taskapi.models import Task, TaskList
from tests.helpers import create_task

TASKS = "/api/v1/tasks"
LISTS = "/api/v1/lists"


def new_list(client, account, name: str) -> int:
    """Create a list for ``account``; its id."""
    response = client.post(LISTS, json={"name": name}, headers=account.headers)
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()["id"]


def inbox(app, account) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(TaskList.id).where(
            TaskList.user_id == account.id, TaskList.is_inbox.is_(True)))


def tree(client, account, list_id: int | None = None) -> dict:
    """``{"root": id, "a": id, "b": id, "a1": id, "a2": id}``: a task with two
    subtasks, the first of which has two of its own (3 levels)."""
    where = {"list_id": list_id} if list_id is not None else {}
    root = create_task(client, account, title="root", **where)["id"]
    a = create_task(client, account, title="a", parent_id=root)["id"]
    b = create_task(client, account, title="b", parent_id=root)["id"]
    a1 = create_task(client, account, title="a1", parent_id=a)["id"]
    a2 = create_task(client, account, title="a2", parent_id=a)["id"]
    return {"root": root, "a": a, "b": b, "a1": a1, "a2": a2}


def move(client, account, task_id: int, headers: dict | None = None, **body):
    """POST the move; the response."""
    return client.post(f"{TASKS}/{task_id}/move", json=body,
                       headers={**account.headers, **(headers or {})})


def listed(client, account, **query) -> list[dict]:
    """Every task of GET /api/v1/tasks with ``query`` (one page of up to 100)."""
    query.setdefault("page_size", 100)
    response = client.get(f"{TASKS}?{urlencode(query)}", headers=account.headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def group_ids(client, account, list_id: int, parent_id: int | None) -> list[int]:
    """The ids of one sibling group in API order."""
    if parent_id is None:
        return [t["id"] for t in listed(client, account, list_id=list_id, top_level="true")]
    return [t["id"] for t in listed(client, account, parent_id=parent_id)]


def rows(app, user_id: int) -> dict[int, dict]:
    """``{id: {list_id, parent_id, position, subtask_count, open_subtask_count,
    completed, version}}`` of the user's tasks, read from the database."""
    with app.app_context():
        found = db.session.execute(sa.select(
            Task.id, Task.list_id, Task.parent_id, Task.position, Task.subtask_count,
            Task.open_subtask_count, Task.completed, Task.version,
        ).where(Task.user_id == user_id)).all()
        return {row.id: row._asdict() for row in found}


def db_groups(task_rows: dict[int, dict]) -> dict[tuple, list[int]]:
    """``{(list_id, parent_id): [ids in (position, id) order]}`` from :func:`rows`."""
    groups: dict[tuple, list[tuple]] = {}
    for task_id, row in task_rows.items():
        groups.setdefault((row["list_id"], row["parent_id"]), []).append(
            (row["position"].encode(), task_id))
    return {key: [task_id for _p, task_id in sorted(members)] for key, members in groups.items()}
