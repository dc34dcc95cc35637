"""Page 1 vs a deep cursor page on one user with many tasks (keyset pagination check).

Usage::

    python -m bench.deep_pages [--database-url URL] [--tasks 100000] [--repeat 31]

Builds a fresh schema (migrations) in ``URL`` (default: a temporary SQLite file;
for PostgreSQL give an empty throwaway database), bulk-inserts ``--tasks`` tasks
for one user (:mod:`bench.dataset`), then times, interleaved in one run,
GET /api/v1/tasks through the WSGI test client (auth, query, serialisation; no network):

- ``offset page 1``: the first request of a walk (no cursor; counts the total),
- ``cursor page 2``: the page after the first 20 tasks,
- ``middle cursor``: the page after the first ``tasks / 2`` tasks,
- ``deep cursor``: the page after the first ``tasks - 20`` tasks,
- ``deep offset``: the same position by ``page=`` (OFFSET), for contrast,

for the default order, for ``sort=due_at`` and for a list in its manual order
(``list_id=<the Inbox>&sort=position``), and prints medians in ms and the
deep/near ratio plus the database's plan of the statements those requests ran
(PostgreSQL: ``EXPLAIN (ANALYZE, BUFFERS)``). The list page cache is off: every
request runs its query.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

import sqlalchemy as sa

from bench import dataset
from taskapi import create_app
from taskapi.extensions import db

PAGE = 20
SECRETS = {"SECRET_KEY": "bench-" + "s" * 40, "JWT_SECRET_KEY": "bench-" + "j" * 40}


def build(url: str, tasks: int):
    from flask_migrate import upgrade

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "LOG_LEVEL": "WARNING",
                      "RATELIMIT_ENABLED": False, "LIST_CACHE": False, **SECRETS})
    sizes = dataset.Sizes(users=0, tasks_per_user=0, big_user_tasks=tasks)
    with app.app_context():
        upgrade()
        dataset.seed(sizes)
        token = dataset.issue_access_tokens([sizes.big_user_id])[sizes.big_user_id]
    return app, app.test_client(), {"Authorization": f"Bearer {token}"}, sizes.big_user_id


def cursor_at(app, user_id: int, sort_text: str, position: int,
              list_id: int | None = None) -> str:
    with app.app_context():
        return dataset.cursor_at(user_id, sort_text, position, list_id=list_id)


def explain(app, client, headers, url: str) -> str:
    """The plan of the page statement that ``GET url`` runs (caught as it is
    sent, then explained with the same parameters)."""
    seen: list = []

    def catch(_conn, _cursor, statement, parameters, _context, _many):
        if "FROM tasks" in statement and "ORDER BY" in statement:
            seen.append((statement, parameters))

    with app.app_context():
        sa.event.listen(db.engine, "before_cursor_execute", catch)
        try:
            assert client.get(url, headers=headers).status_code == 200
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", catch)
        statement, parameters = seen[-1]
        postgresql = db.engine.dialect.name == "postgresql"
        prefix = "EXPLAIN (ANALYZE, BUFFERS)" if postgresql else "EXPLAIN QUERY PLAN"
        raw = db.engine.raw_connection()
        try:
            cursor = raw.cursor()
            cursor.execute(f"{prefix} {statement}", parameters)
            rows = cursor.fetchall()
        finally:
            raw.close()
    return "\n".join("    " + (row[0] if postgresql else str(row[-1])) for row in rows)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url")
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=31)
    options = parser.parse_args(argv)
    url = options.database_url or "sqlite:///" + os.path.join(
        tempfile.mkdtemp(prefix="taskapi-bench-"), "bench.sqlite3")
    app, client, headers, user_id = build(url, options.tasks)
    print(f"{url.split(':')[0]}: "
          f"{options.tasks} tasks for one user, page_size {PAGE}, "
          f"median of {options.repeat} interleaved runs")
    for sort_text, list_id in (("-created_at", None), ("due_at", None),
                               ("position", dataset.inbox_id(user_id))):
        near = cursor_at(app, user_id, sort_text, PAGE, list_id)
        middle = cursor_at(app, user_id, sort_text, options.tasks // 2, list_id)
        deep = cursor_at(app, user_id, sort_text, options.tasks - PAGE, list_id)
        base = f"/api/v1/tasks?page_size={PAGE}&sort={sort_text}"
        if list_id is not None:
            base += f"&list_id={list_id}"
        urls = {
            "offset page 1": base,
            "cursor page 2": f"{base}&cursor={near}",
            "middle cursor": f"{base}&cursor={middle}",
            "deep cursor": f"{base}&cursor={deep}",
            "deep offset": f"{base}&page={options.tasks // PAGE}",
        }
        times = {name: [] for name in urls}
        for _ in range(options.repeat):
            for name, url_ in urls.items():
                began = time.perf_counter()
                response = client.get(url_, headers=headers)
                times[name].append((time.perf_counter() - began) * 1000)
                assert response.status_code == 200 and len(response.get_json()) == PAGE
        medians = {name: statistics.median(values) for name, values in times.items()}
        print(f"\nsort={sort_text}" + (f"&list_id={list_id}" if list_id else ""))
        for name, value in medians.items():
            print(f"  {name:14} {value:8.2f} ms")
        print(f"  deep cursor / cursor page 2 = "
              f"{medians['deep cursor'] / medians['cursor page 2']:.2f}")
        print(f"  deep cursor / offset page 1 = "
              f"{medians['deep cursor'] / medians['offset page 1']:.2f}")
        print(f"  middle cursor / cursor page 2 = "
              f"{medians['middle cursor'] / medians['cursor page 2']:.2f}")
        for name in ("offset page 1", "middle cursor", "deep cursor"):
            print(f"  plan of the {name} statement:")
            print(explain(app, client, headers, urls[name]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
