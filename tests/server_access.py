"""How tests reach a running server: HTTP requests over a kept-alive connection
that never raise on an error status, and direct reads of its database.

A :class:`tests.servers.Server` hands them out (``request``, ``client``,
``database``); nothing here starts a process.
"""

from __future__ import annotations

import http.client
import json
import select
from datetime import UTC, datetime
from typing import Any, NamedTuple

import sqlalchemy as sa

from taskapi.config import normalize_database_uri

REQUEST_TIMEOUT = 30  # seconds; above gunicorn's own 30 s worker timeout


class Response(NamedTuple):
    """``status``; ``headers`` (case-insensitive); ``json``: the parsed body, the text
    when it is not JSON, None when empty."""

    status: int
    headers: http.client.HTTPMessage
    json: Any


class NoResponse(ConnectionError):
    """No complete response arrived: the request may or may not have been applied."""


class Client:
    """One HTTP/1.1 connection kept alive to ``127.0.0.1:port``; one thread uses it.

    A connection the server has closed while idle (keep-alive timeout, a worker
    restart) is noticed before a request is sent and replaced, as urllib3 does.
    """

    def __init__(self, port: int, timeout: float = REQUEST_TIMEOUT):
        self.port, self.timeout = port, timeout
        self._connection: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str, body=None, token: str | None = None,
                headers: dict | None = None) -> Response:
        """Send one request. Any status is returned; :class:`NoResponse` when the
        connection failed before a whole response was read."""
        data = None if body is None else json.dumps(body).encode()
        sent = {"Accept": "application/json"}
        if data is not None:
            sent["Content-Type"] = "application/json"
        if token:
            sent["Authorization"] = f"Bearer {token}"
        sent.update(headers or {})
        connection = self._connect()
        try:
            connection.request(method, path, body=data, headers=sent)
            response = connection.getresponse()
            raw = response.read()
        except (OSError, http.client.HTTPException) as error:
            self.close()
            raise NoResponse(f"{method} {path}: {error!r}") from error
        if response.will_close:
            self.close()
        return Response(response.status, response.headers, _parse(raw))

    def _connect(self) -> http.client.HTTPConnection:
        connection = self._connection
        if connection is not None and connection.sock is not None:
            readable, _, _ = select.select([connection.sock], [], [], 0)
            if readable:  # an idle connection is readable only once the peer closed it
                self.close()
        if self._connection is None:
            self._connection = http.client.HTTPConnection(
                "127.0.0.1", self.port, timeout=self.timeout
            )
        return self._connection

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def _parse(raw: bytes) -> Any:
    if not raw:
        return None
    text = raw.decode("utf-8", errors="replace")
    try:
        return json.loads(text)
    except ValueError:
        return text



def utc(value) -> datetime | None:
    """A datetime from the API (ISO 8601 with offset) or a database (SQLite: naive
    UTC text), as an aware UTC datetime; None stays None."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


TASK_COLUMNS = ("id", "user_id", "title", "description", "completed", "completed_at",
                "priority", "due_at", "created_at", "updated_at", "version")


class Database:
    """Reads on the database at ``url`` with SQLAlchemy, outside the app (no pool)."""

    def __init__(self, url: str):
        self.engine = sa.create_engine(normalize_database_uri(url), poolclass=sa.pool.NullPool)

    def query(self, sql: str, **params) -> list[tuple]:
        """Rows of ``sql`` (``:name`` parameters; a list or tuple value expands)."""
        statement = sa.text(sql).bindparams(*(
            sa.bindparam(name, expanding=True)
            for name, value in params.items() if isinstance(value, list | tuple)
        ))
        with self.engine.connect() as connection:
            return [tuple(row) for row in connection.execute(statement, params)]

    def scalar(self, sql: str, **params):
        rows = self.query(sql, **params)
        return rows[0][0] if rows else None

    def tasks(self, user_ids: list[int]) -> dict[int, dict]:
        """``{id: row}`` of these users' tasks, read in one statement (one snapshot):
        every column (datetimes aware UTC, ``completed`` a bool) and ``tags``, the
        names ordered like the API's."""
        columns = ", ".join(f"tasks.{name}" for name in TASK_COLUMNS)
        rows = self.query(
            f"SELECT {columns}, tags.name FROM tasks "  # noqa: S608 (constant column names)
            "LEFT JOIN task_tags ON task_tags.task_id = tasks.id "
            "LEFT JOIN tags ON tags.id = task_tags.tag_id "
            "WHERE tasks.user_id IN :ids ORDER BY tasks.id, tags.name_key",
            ids=list(user_ids),
        )
        tasks: dict[int, dict] = {}
        for *values, tag in rows:
            task = tasks.get(values[0])
            if task is None:
                task = tasks[values[0]] = dict(zip(TASK_COLUMNS, values, strict=True))
                task["completed"] = bool(task["completed"])
                for name in ("completed_at", "due_at", "created_at", "updated_at"):
                    task[name] = utc(task[name])
                task["tags"] = []
            if tag is not None:
                task["tags"].append(tag)
        return tasks

    def dispose(self) -> None:
        self.engine.dispose()
