"""CPU per request in process: ``python -m bench.cpu``.

No server, no network, no wrk: the app of the benchmark's server (production
settings, the same environment as :func:`bench.prepare.server_settings`) serves
requests through Flask's test client in this process, and each scenario's CPU
time (``time.process_time``) is divided by its request count. Scenarios are run
in interleaved rounds (list, get, ..., then again) and the median round is
reported, in ms of CPU per request. This is the measure of the hot paths' own
cost that the HTTP scenarios cannot isolate (there wrk, gunicorn and the
kernel share the two cores).

Scenarios: ``list`` (GET /api/v1/tasks?page_size=20), ``list_304`` (the same
with the ETag of the previous answer: If-None-Match), ``get``, ``post``,
``patch`` (as the HTTP scenarios), ``complete`` (PATCH .../complete with an
empty body: a toggle) of a task that does not recur, ``complete_recurring``
the same of a daily recurring task (each request moves it to its next
occurrence and records the completion), and ``compat_list``: the original
contract's unpaged ``GET /api/{user_id}/tasks`` of a user with 1,000 tasks;
``sync``: the change feed's delta of 1,000 task changes of that user
(``limit=1000``), and ``sync_empty``: the feed when nothing changed.

``--rate-limits`` serves with the production rate limits on (memory storage),
as a deployment does by default; the HTTP benchmark runs with them off.
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.dataset import Sizes
from bench.prepare import prepare, server_settings
from bench.server import environment

SCENARIOS = ("list", "list_304", "get", "post", "patch", "complete", "complete_recurring",
             "compat_list", "sync", "sync_empty")
#: Users whose recurring task complete_recurring advances (created on first use).
RECURRING_USERS = 10
#: Scenarios whose answer holds 1,000 items: a tenth of the requests per round.
LARGE = frozenset({"compat_list", "sync"})
#: Regular users x tasks, plus one user with 1,000 tasks (the compat list's cap).
SIZES = Sizes(200, 100, 1000)


def _users(path: Path) -> list[tuple[str, list[str]]]:
    """``(token, task ids)`` per line of the users file (``token L<list_id> id ...``;
    the list field is for the load scripts' list_position scenario)."""
    users = []
    for line in path.read_text().splitlines():
        token, *fields = line.split()
        users.append((token, [field for field in fields if not field.startswith("L")]))
    return users


class Scenarios:
    """The requests of each scenario, against one app's test client."""

    def __init__(self, app, users: list[tuple[str, list[str]]], big: tuple[int, str],
                 sync_tokens: tuple[str, str]):
        self.client = app.test_client()
        self.users, self.big, self.sync_tokens = users, big, sync_tokens
        self.sent = 0
        self.etags: dict[str, str] = {}
        self.recurring: list[tuple[str, int]] = []

    def _headers(self, token: str, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}", "Accept": "application/json", **extra}

    def request(self, kind: str) -> int:
        """Send one request of ``kind``; returns its status."""
        token, ids = random.choice(self.users)  # noqa: S311 (load, not secrets)
        task_id = random.choice(ids)  # noqa: S311
        self.sent += 1
        if kind == "list":
            response = self.client.get("/api/v1/tasks?page_size=20",
                                       headers=self._headers(token))
        elif kind == "list_304":
            etag = self.etags.get(token)
            headers = self._headers(token, **({"If-None-Match": etag} if etag else {}))
            response = self.client.get("/api/v1/tasks?page_size=20", headers=headers)
            if response.headers.get("ETag"):
                self.etags[token] = response.headers["ETag"]
        elif kind == "get":
            response = self.client.get(f"/api/v1/tasks/{task_id}",
                                       headers=self._headers(token))
        elif kind == "post":
            response = self.client.post("/api/v1/tasks", headers=self._headers(token), json={
                "title": f"Bench task {self.sent}", "priority": "medium",
                "due_at": "2030-01-31T17:00:00+00:00", "tags": ["Work"]})
        elif kind == "patch":
            response = self.client.patch(f"/api/v1/tasks/{task_id}",
                                         headers=self._headers(token),
                                         json={"title": f"Renamed by the benchmark {self.sent}"})
        elif kind == "complete":
            response = self.client.patch(f"/api/v1/tasks/{task_id}/complete",
                                         headers=self._headers(token))
        elif kind == "complete_recurring":
            if not self.recurring:
                for user_token, _ids in self.users[:RECURRING_USERS]:
                    created = self.client.post("/api/v1/tasks", headers=self._headers(
                        user_token), json={"title": "Daily", "due_at": "2026-01-05T09:00:00Z",
                                           "recurrence": {"rule": "FREQ=DAILY"}})
                    self.recurring.append((user_token, created.get_json()["id"]))
            token, recurring_id = random.choice(self.recurring)  # noqa: S311
            response = self.client.patch(f"/api/v1/tasks/{recurring_id}/complete",
                                         headers=self._headers(token))
            if response.get_json()["completed"] is not False:
                raise RuntimeError("complete_recurring: the task did not advance")
        elif kind == "compat_list":
            user_id, big_token = self.big
            response = self.client.get(f"/api/{user_id}/tasks",
                                       headers=self._headers(big_token))
        elif kind in ("sync", "sync_empty"):
            since = self.sync_tokens[0 if kind == "sync" else 1]
            response = self.client.get(f"/api/v1/sync?limit=1000&since={since}",
                                       headers=self._headers(self.big[1]))
            if kind == "sync" and len(response.get_json()["changes"]) != 1000:
                raise RuntimeError("sync: the delta is not 1,000 changes")
        else:
            raise ValueError(kind)
        return response.status_code


EXPECTED = {"post": {201}, "list_304": {200, 304}}


def measure(scenarios: Scenarios, kind: str, count: int) -> float:
    """ms of CPU per request over ``count`` requests of ``kind``."""
    started = time.process_time()
    for _ in range(count):
        status = scenarios.request(kind)
        if status not in EXPECTED.get(kind, {200}):
            raise RuntimeError(f"{kind}: unexpected status {status}")
    return (time.process_time() - started) * 1000 / count


def run(kinds: list[str], rounds: int = 5, requests: int = 200,
        extra_env: dict[str, str] | None = None) -> dict[str, list[float]]:
    """Seed a temporary SQLite database, build the app, and measure ``kinds`` in
    ``rounds`` interleaved rounds of ``requests`` requests each (compat_list: a
    tenth); returns ms of CPU per request, per round, by scenario."""
    workdir = Path(tempfile.mkdtemp(prefix="taskapi-cpu-"))
    try:
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("TASKAPI_")},
               **server_settings(f"sqlite:///{workdir / 'cpu.sqlite3'}", workdir),
               **(extra_env or {})}
        data = prepare(env, SIZES, SIZES.users, workdir, "cpu")
        from taskapi import create_app

        with environment(env):
            app = create_app()
        # The access log stays on, as in production, written to a file.
        with open(workdir / "app.log", "a") as log_file:
            for handler in logging.getLogger("taskapi").handlers:
                handler.setStream(log_file)
            scenarios = Scenarios(app, _users(data.users_file),
                                  (SIZES.big_user_id, data.big_token), data.sync_tokens)
            for kind in kinds:  # warm-up: imports, compiled caches
                measure(scenarios, kind, 20 if kind not in LARGE else 3)
            results: dict[str, list[float]] = {kind: [] for kind in kinds}
            for _ in range(rounds):
                for kind in kinds:
                    count = requests // 10 if kind in LARGE else requests
                    results[kind].append(measure(scenarios, kind, max(count, 1)))
            for handler in logging.getLogger("taskapi").handlers:
                handler.setStream(sys.stderr)
        return results
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def markdown(results: dict[str, list[float]]) -> str:
    """The results as a Markdown table (median and every round)."""
    lines = ["| In process | CPU ms per request (median) | rounds |", "|---|--:|---|"]
    for kind, values in results.items():
        rounds = ", ".join(f"{v:.2f}" for v in values)
        lines.append(f"| {kind} | {statistics.median(values):.2f} | {rounds} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.cpu", description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    p.add_argument("--requests", type=int, default=200,
                   help="requests per scenario per round (default 200; compat_list: a tenth)")
    p.add_argument("--scenarios", default=",".join(SCENARIOS),
                   help="comma-separated, from: %(default)s")
    p.add_argument("--rate-limits", action="store_true", help="production rate limits on")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                   help="extra environment variable for the app (repeatable)")
    options = p.parse_args(argv)
    kinds = [k for k in options.scenarios.split(",") if k]
    unknown = set(kinds) - set(SCENARIOS)
    if unknown:
        p.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    extra = dict(setting.partition("=")[::2] for setting in options.set)
    if options.rate_limits:
        extra["TASKAPI_RATELIMIT_ENABLED"] = "true"
    print(markdown(run(kinds, options.rounds, options.requests, extra)), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
