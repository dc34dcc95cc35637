"""The phases of a benchmark run: the floor, taskapi's scenarios, the scale comparisons.

Each phase starts its own gunicorn (and, for taskapi, prepares its own database
first: see :mod:`bench.prepare`), runs its loads one after the other (the
concurrent-users load together with its bad-token probe), and stops the server.
Results are dicts from :func:`bench.load.summarise`, plus ``worker_boots``: how
many gunicorn workers started during the load (restarts after
``GUNICORN_MAX_REQUESTS`` show up here).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench import load, prepare, scenarios
from bench.dataset import Sizes
from bench.server import Gunicorn, Settings, base_env

WARMUP_SECONDS = 2
SETTLE_SECONDS = 3
#: --scale: 1,000 tasks vs 1,000,000 (10,000 users x 100) plus a 100,000-task user.
SCALE = (Sizes(10, 100), Sizes(10_000, 100, 100_000))
SMOKE_SCALE = (Sizes(10, 10), Sizes(100, 10, 2_000))


@dataclass
class Run:
    """One benchmark run: where it works, how the server runs, the load sizes,
    and what it measured so far (``results``; ``prepared``: per data set, its
    sizes and the seconds its preparation took)."""

    workdir: Path
    url: str
    settings: Settings
    plan: scenarios.Plan
    smoke: bool
    results: list[dict] = field(default_factory=list)
    prepared: dict[str, dict] = field(default_factory=dict)
    cpu: dict[str, list[float]] = field(default_factory=dict)  # bench/cpu.py, by scenario

    def taskapi_env(self) -> dict[str, str]:
        return {**base_env(self.workdir, self.settings),
                **prepare.server_settings(self.url, self.workdir), **self.settings.extra}

    def measure(self, server: Gunicorn, *loads: load.Load) -> None:
        """Run ``loads`` side by side against ``server`` and keep their results,
        after :data:`SETTLE_SECONDS` for the server to finish the previous load's
        queued requests (a login queue takes seconds)."""
        if not self.smoke:
            time.sleep(SETTLE_SECONDS)
        offset = server.log_path.stat().st_size
        began = os.getloadavg()[0]
        started = [(item, *load.start(item, server.base_url, self.workdir)) for item in loads]
        for item, process, result in started:
            numbers = load.finish(item, process, result)
            numbers["worker_boots"] = _boots(server, offset)
            numbers["loadavg_1min"] = [began, os.getloadavg()[0]]
            self.results.append(numbers)
            print(f"  {item.name}: {numbers['rps']:.1f} req/s, p50 "
                  f"{numbers['latency_ms']['p50']:.1f} ms, p99 "
                  f"{numbers['latency_ms']['p99']:.1f} ms", flush=True)

    def warm_up(self, server: Gunicorn, warmup: load.Load) -> None:
        if not self.smoke:
            warmup.name, warmup.duration = f"warmup-{warmup.name}", WARMUP_SECONDS
            load.run(warmup, server.base_url, self.workdir)


def run_floor(run: Run) -> None:
    """The floor scenario on bench/floor.py."""
    print("floor: bench.floor:app", flush=True)
    env = {**base_env(run.workdir, run.settings), **run.settings.extra}
    with Gunicorn("bench.floor:app", env, run.workdir / "floor.log", "/") as server:
        run.warm_up(server, scenarios.floor(run.plan))
        run.measure(server, scenarios.floor(run.plan))


def run_taskapi(run: Run, names: list[str], sizes: Sizes, load_users: int,
                label: str = "") -> None:
    """Prepare a database of ``sizes`` and run the scenarios ``names`` on it (in
    :data:`bench.scenarios.ALL` order); ``label`` names this data set."""
    tag = label or "main"
    print(f"taskapi [{tag}]: seeding {sizes.users:,} users x {sizes.tasks_per_user:,} tasks"
          + (f" + 1 user x {sizes.big_user_tasks:,} tasks" if sizes.big_user_tasks else ""),
          flush=True)
    env = run.taskapi_env()
    data = prepare.prepare(env, sizes, load_users, run.workdir, tag)
    run.prepared[tag] = {"users": sizes.users, "tasks_per_user": sizes.tasks_per_user,
                         "big_user_tasks": sizes.big_user_tasks,
                         "neighbour_tasks": sizes.neighbour_tasks,
                         "seconds": round(data.seconds, 1)}
    print(f"  prepared in {data.seconds:.1f} s", flush=True)
    cached = [name for name in names if name not in scenarios.UNCACHED]
    uncached = [name for name in names if name in scenarios.UNCACHED]
    for group, extra in ((cached, {}), (uncached, {"TASKAPI_LIST_CACHE": "false"})):
        if not group:
            continue
        log = f"taskapi-{tag}.log" if not extra else f"taskapi-{tag}-uncached.log"
        with Gunicorn("wsgi:app", {**env, **extra}, run.workdir / log, "/ready") as server:
            _preflight(server, data, group)
            run.warm_up(server, scenarios.taskapi("list", data, run.plan))
            for name in group:
                if name == "users":
                    run.measure(server, *scenarios.users(data, run.plan))
                elif name == "noisy":
                    run.measure(server, *scenarios.noisy(data, run.plan))
                else:
                    run.measure(server, scenarios.taskapi(name, data, run.plan, label))


def run_scale(run: Run) -> None:
    """List latency on 1,000 vs 1,000,000 tasks; deep cursor vs page 1 of a
    100,000-task user (tiny sizes with --smoke)."""
    small, large = SMOKE_SCALE if run.smoke else SCALE
    users = max(run.plan.concurrent_users, 1000)
    run_taskapi(run, ["list"], small, users, label=f"@{_count(small)}")
    run_taskapi(run, ["list", "big_page1", "deep"], large, users, label=f"@{_count(large)}")


def scale_labels(smoke: bool) -> tuple[str, str]:
    """The labels of the small and the large scale data sets."""
    small, large = SMOKE_SCALE if smoke else SCALE
    return f"@{_count(small)}", f"@{_count(large)}"


def _count(sizes: Sizes) -> str:
    """Regular tasks of ``sizes``, short: 1000 -> "1k", 1000000 -> "1M"."""
    n = sizes.users * sizes.tasks_per_user
    for unit, size in (("M", 1_000_000), ("k", 1_000)):
        if n >= size:
            return f"{n / size:g}{unit}"
    return str(n)


def _preflight(server: Gunicorn, data: prepare.Prepared, names: list[str]) -> None:
    """One request of each kind that needs a token, so that a harness mistake is
    a clear error here rather than a run full of 401s."""
    token = data.users_file.read_text().split(maxsplit=1)[0] if data.users else None
    checks = [(scenarios.LIST_PATH, token, 200), (scenarios.LIST_PATH, data.bad_token, 401)]
    if data.big_token and {"deep", "big_page1"} & set(names):
        checks.append((f"{scenarios.LIST_PATH}&cursor={data.deep_cursor}", data.big_token, 200))
    if data.big_token and {"position_page1", "deep_position"} & set(names):
        big_list = scenarios.POSITION_PATH.replace("{list_id}", str(data.sizes.big_user_id))
        checks.append((f"{big_list}&cursor={data.deep_position_cursor}", data.big_token, 200))
    if data.big_token and data.sync_tokens and {"sync", "sync_empty"} & set(names):
        checks.append((f"{scenarios.SYNC_PATH}&since={data.sync_tokens[0]}", data.big_token,
                       200))
    if data.big_token and {"search_short", "search_word"} & set(names):
        checks.append((scenarios.SEARCH_WORD_PATH, data.big_token, 200))
    if data.neighbour_token and {"search_long", "tags_20", "noisy"} & set(names):
        checks.append((scenarios.TAGS_PATH, data.neighbour_token, 200))
    for path, bearer, expected in checks:
        if bearer is None:
            continue
        status = server.get(path, {"Authorization": f"Bearer {bearer}"})
        if status != expected:
            raise RuntimeError(f"preflight: GET {path[:60]} answered {status}, not "
                               f"{expected}; see {server.log_path}")


def _boots(server: Gunicorn, offset: int) -> int:
    """Worker starts that ``server`` logged after byte ``offset`` of its log."""
    with open(server.log_path, "rb") as log:
        log.seek(offset)
        return log.read().count(b"Booting worker")
