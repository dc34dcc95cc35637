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

for the default order and for ``sort=due_at``, and prints medians in ms and
the deep/near ratio plus the database's plan for the deep cursor query.
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
from taskapi.tasks import cursors, queries
from taskapi.tasks.filters import apply_filters, order_by, parse_sort

PAGE = 20
SECRETS = {"SECRET_KEY": "bench-" + "s" * 40, "JWT_SECRET_KEY": "bench-" + "j" * 40}


def build(url: str, tasks: int):
    from flask_migrate import upgrade

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "LOG_LEVEL": "WARNING",
                      "RATELIMIT_ENABLED": False, **SECRETS})
    sizes = dataset.Sizes(users=0, tasks_per_user=0, big_user_tasks=tasks)
    with app.app_context():
        upgrade()
        dataset.seed(sizes)
        token = dataset.issue_access_tokens([sizes.big_user_id])[sizes.big_user_id]
    return app, app.test_client(), {"Authorization": f"Bearer {token}"}, sizes.big_user_id


def cursor_at(app, user_id: int, sort_text: str, position: int) -> str:
    with app.app_context():
        return dataset.cursor_at(user_id, sort_text, position)


def explain(app, user_id: int, sort_text: str, token: str) -> str:
    sort = parse_sort(sort_text)
    with app.app_context():
        _, values = cursors.decode_cursor(token, sort)
        query = (apply_filters(queries.owned_tasks(user_id), user_id, {}, "UTC")
                 .where(cursors.after(sort, values)).order_by(*order_by(sort))
                 .limit(PAGE + 1))
        sql = query.compile(db.engine, compile_kwargs={"literal_binds": True})
        prefix = ("EXPLAIN (ANALYZE, COSTS OFF)" if db.engine.dialect.name == "postgresql"
                  else "EXPLAIN QUERY PLAN")
        rows = db.session.execute(sa.text(f"{prefix} {sql}")).all()
        return "\n".join("  " + " | ".join(str(c) for c in row) for row in rows)


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
    for sort_text in ("-created_at", "due_at"):
        near = cursor_at(app, user_id, sort_text, PAGE)
        middle = cursor_at(app, user_id, sort_text, options.tasks // 2)
        deep = cursor_at(app, user_id, sort_text, options.tasks - PAGE)
        base = f"/api/v1/tasks?page_size={PAGE}&sort={sort_text}"
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
        print(f"\nsort={sort_text}")
        for name, value in medians.items():
            print(f"  {name:14} {value:8.2f} ms")
        print(f"  deep cursor / cursor page 2 = "
              f"{medians['deep cursor'] / medians['cursor page 2']:.2f}")
        print(f"  deep cursor / offset page 1 = "
              f"{medians['deep cursor'] / medians['offset page 1']:.2f}")
        print(f"  middle cursor / cursor page 2 = "
              f"{medians['middle cursor'] / medians['cursor page 2']:.2f}")
        for name, token in (("cursor page 2", near), ("middle cursor", middle),
                            ("deep cursor", deep)):
            print(f"  plan of the {name} query:")
            print(explain(app, user_id, sort_text, token))
    return 0


if __name__ == "__main__":
    sys.exit(main())
