"""Benchmark taskapi under gunicorn with wrk, side by side with a bare Flask floor.

See bench/README.md. Exit status: 0 when the run completed (missed performance
targets are reported, not failed); 1 when the harness failed (wrk missing,
gunicorn not starting, seeding failing) or, with --smoke, when a scenario had
socket errors or responses outside 2xx other than its expected ones.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from bench import cpu, report, runner, scenarios
from bench.dataset import Sizes
from bench.load import WrkMissing, wrk_path
from bench.server import REPO_ROOT, Settings, gunicorn_defaults

RESULTS = Path(__file__).resolve().parent / "results"
DEFAULTS = {"users": 1000, "tasks_per_user": 100, "big_user_tasks": 100_000,
            "neighbour_tasks": 100_000,
            "duration": 15, "users_duration": 45, "concurrent_users": 1000}
SMOKE = {"users": 20, "tasks_per_user": 20, "big_user_tasks": 1000, "neighbour_tasks": 500,
         "duration": 2, "users_duration": 3, "concurrent_users": 20}


def parser() -> argparse.ArgumentParser:
    conf = gunicorn_defaults()
    p = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__.split("\n\n")[0].removesuffix("."),
        epilog="THE DATABASE GIVEN IS ERASED: on PostgreSQL the harness drops and "
               "re-creates its public schema (every table in it), an SQLite file is "
               "deleted. Give a throwaway database. Needs wrk: apt-get install -y wrk.")
    p.add_argument("--database-url", help="database to benchmark on (ERASED; default: a "
                   "new SQLite file in a temporary folder)")
    p.add_argument("--worker-class", default=conf["worker_class"],
                   help="gunicorn worker class (default: %(default)s)")
    p.add_argument("--workers", type=int, default=conf["workers"],
                   help="gunicorn worker processes (default: %(default)s)")
    p.add_argument("--threads", type=int, default=conf["threads"],
                   help="threads per worker (default: %(default)s)")
    p.add_argument("--users", type=int, help=f"seeded users (default {DEFAULTS['users']:,})")
    p.add_argument("--tasks-per-user", type=int,
                   help=f"tasks per user (default {DEFAULTS['tasks_per_user']})")
    p.add_argument("--big-user-tasks", type=int, help="tasks of the one big user of the deep "
                   f"cursor scenario (default {DEFAULTS['big_user_tasks']:,})")
    p.add_argument("--neighbour-tasks", type=int, help="tasks of the noisy neighbour "
                   "(repeated-a text, 20 tags) of the search_long, tags_20 and noisy "
                   f"scenarios (default {DEFAULTS['neighbour_tasks']:,})")
    p.add_argument("--duration", type=int, help="seconds per scenario (default "
                   f"{DEFAULTS['duration']}; the users scenario {DEFAULTS['users_duration']})")
    p.add_argument("--connections", type=int,
                   help="connections of the throughput scenarios (default workers x threads)")
    p.add_argument("--concurrent-users", type=int, help="users (connections) of the users "
                   f"scenario (default {DEFAULTS['concurrent_users']:,})")
    p.add_argument("--scenarios", default=",".join((*scenarios.ALL, "cpu")),
                   help="comma-separated, from: %(default)s ('cpu': CPU per request in "
                   "process, bench/cpu.py); 'none' for --scale alone")
    p.add_argument("--no-revalidate", action="store_true", help="users scenario: never "
                   "send If-None-Match (by default each user revalidates its GETs with the "
                   "ETag of its last answer, as a browser's HTTP cache does)")
    p.add_argument("--scale", action="store_true", help="also compare list latency on "
                   "1,000 vs 1,000,000 tasks and a deep cursor page vs page 1 of a "
                   "100,000-task user (seeds about 1.1 million tasks, minutes)")
    p.add_argument("--smoke", action="store_true", help="tiny sizes and about 2 s per "
                   "scenario, for CI: fails only on harness errors, socket errors or "
                   "unexpected statuses, never on performance targets")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", type=_setting,
                   help="extra environment variable for the servers, e.g. "
                        "TASKAPI_DB_POOL_SIZE=10 (repeatable)")
    p.add_argument("--out", type=Path, default=RESULTS, help="results folder (default "
                   "bench/results/, git-ignored)")
    p.add_argument("--keep", action="store_true",
                   help="keep the run folder (database, data files, server and wrk logs)")
    return p


def main(argv: list[str] | None = None) -> int:
    options = parser().parse_args(argv)
    names = [n for n in options.scenarios.split(",") if n.strip() and n != "none"]
    unknown = set(names) - {*scenarios.ALL, "cpu"}
    if unknown:
        parser().error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    try:
        wrk = wrk_path()
    except WrkMissing as error:
        print(f"bench: {error}", file=sys.stderr)
        return 1
    given = {k: getattr(options, k, None) for k in DEFAULTS}
    sizes = {k: (SMOKE if options.smoke else DEFAULTS)[k] if v is None else v
             for k, v in given.items()}
    if options.duration:
        sizes["duration"] = sizes["users_duration"] = options.duration
    extra = dict(options.set)
    settings = Settings(options.worker_class, options.workers, options.threads, extra)
    connections = options.connections or options.workers * max(options.threads, 1)
    plan = scenarios.Plan(connections, min(2, connections), sizes["duration"],
                          sizes["users_duration"], sizes["concurrent_users"],
                          login_connections=min(connections, 2) if options.smoke else connections,
                          revalidate=not options.no_revalidate)
    workdir = Path(tempfile.mkdtemp(prefix="taskapi-bench-"))
    url = options.database_url or f"sqlite:///{workdir / 'bench.sqlite3'}"
    run = runner.Run(workdir, url, settings, plan, options.smoke)
    started = datetime.now(UTC)
    try:
        if "floor" in names:
            runner.run_floor(run)
        selected = [n for n in scenarios.ALL if n in names and n != "floor"]
        if selected:
            data = Sizes(sizes["users"], sizes["tasks_per_user"], sizes["big_user_tasks"],
                         sizes["neighbour_tasks"])
            # Tokens for the users scenario's users, and for at least a thousand
            # users (when there are as many) over which the other scenarios spread.
            runner.run_taskapi(run, selected, data, max(sizes["concurrent_users"], 1000))
        if options.scale:
            runner.run_scale(run)
        if "cpu" in names and not options.smoke:
            print("in process: CPU per request (bench/cpu.py)", flush=True)
            run.cpu = cpu.run(list(cpu.SCENARIOS), extra_env=extra)
    except (RuntimeError, OSError, ValueError, SQLAlchemyError) as error:
        print(f"bench: {type(error).__name__}: {error}\nrun folder kept: {workdir}",
              file=sys.stderr)
        return 1
    meta = _meta(options, run, started, wrk, sizes)
    by_name = {r["name"]: r for r in run.results}
    rows = report.checks(by_name, runner.scale_labels(options.smoke) if options.scale else None,
                         run.cpu)
    json_path, md_path = report.write(options.out, meta, run.results, rows, run.cpu)
    print("\n" + report.markdown(meta, run.results, rows, run.cpu))
    print(f"results: {json_path}\n         {md_path}")
    broken = [r["name"] for r in run.results
              if r["socket_errors"] or r["unexpected"] or not r["requests"]]
    if options.keep or (options.smoke and broken):
        print(f"run folder kept: {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    if options.smoke and broken:
        print(f"bench: smoke run failed: errors or unexpected statuses in {', '.join(broken)}",
              file=sys.stderr)
        return 1
    return 0


def _setting(text: str) -> tuple[str, str]:
    """``NAME=VALUE`` of --set, as a pair."""
    name, equals, value = text.partition("=")
    if not equals or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name, value


def _meta(options, run: runner.Run, started: datetime, wrk: str, sizes: dict) -> dict:
    from sqlalchemy.engine import make_url

    from taskapi.config import normalize_database_uri

    url = make_url(normalize_database_uri(run.url))
    database = "PostgreSQL" if url.get_backend_name() == "postgresql" else "SQLite"
    s, plan = run.settings, run.plan
    summary = [
        f"- {database} ({url.render_as_string(hide_password=True)}); gunicorn "
        f"{s.worker_class}, {s.workers} workers x {s.threads} threads; rate limits off; "
        f"access log on (INFO); production argon2id; {_cpus()} CPUs"
        + (f"; extra settings: {', '.join(s.extra)}" if s.extra else ""),
        "- data sets: " + "; ".join(
            f"{tag}: {d['users']:,} users x {d['tasks_per_user']:,} tasks"
            + (f" + 1 user x {d['big_user_tasks']:,}" if d["big_user_tasks"] else "")
            + (f" + a neighbour x {d['neighbour_tasks']:,}" if d.get("neighbour_tasks") else "")
            + f" (prepared in {d['seconds']} s)" for tag, d in run.prepared.items()),
        f"- throughput scenarios: {plan.connections} connections, {plan.duration} s each; "
        f"users scenario: {plan.users_duration} s"
        + ("; SMOKE RUN (tiny sizes, numbers meaningless)" if options.smoke else ""),
        f"- started {started:%Y-%m-%d %H:%M:%S} UTC, took "
        f"{(datetime.now(UTC) - started).total_seconds():.0f} s; latencies from wrk (ms); "
        f"load average (1 min) at the end {os.getloadavg()[0]:.1f}",
    ]
    return {"timestamp": started.strftime("%Y%m%dT%H%M%SZ"), "summary": summary,
            "database": database, "database_url": url.render_as_string(hide_password=True),
            "gunicorn": {"worker_class": s.worker_class, "workers": s.workers,
                         "threads": s.threads, "extra": s.extra},
            "plan": vars(plan), "sizes": sizes, "smoke": options.smoke,
            "scale": options.scale, "data_sets": run.prepared, "cpus": _cpus(),
            "wrk": (_output([wrk, "-v"]).splitlines() or [""])[0],
            "git_commit": _output(["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"]).strip()}


def _cpus() -> int:
    return len(os.sched_getaffinity(0))


def _output(command: list[str]) -> str:
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=10,  # noqa: S603
                              check=False).stdout
    except OSError:
        return ""
