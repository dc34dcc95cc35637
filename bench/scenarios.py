"""The scenarios: the request each one sends and the load it runs under.

Throughput scenarios keep ``connections`` connections busy without pause for
``duration`` seconds (closed loop: requests/s is what the server sustains). The
``users`` scenario is ``concurrent_users`` connections, one user each, with a
think time of about 2 s per request (80% reads, 20% writes; bench/lua/users.lua),
and beside it a light probe of bad-token requests that measures the 401 latency
at that load.
"""

from __future__ import annotations

from dataclasses import dataclass

from bench.dataset import PASSWORD
from bench.load import Load
from bench.prepare import Prepared

PAGE = 20
LIST_PATH = f"/api/v1/tasks?page_size={PAGE}"
FILTERED_PATH = f"{LIST_PATH}&tag=work&completed=false&sort=due_at"
#: Text searches on the big user (100,000 tasks): 3 characters matching nothing,
#: a phrase matching about one task in ten thousand (across all users' tasks).
SEARCH_SHORT_PATH = f"{LIST_PATH}&q=zzz"
SEARCH_WORD_PATH = f"{LIST_PATH}&q=Task%2042%20of%20user"
#: The pathological search on the neighbour's tasks of repeated "a": 199 "a" then "b".
SEARCH_LONG_PATH = f"{LIST_PATH}&q={'a' * 199}b"
#: 20 tag filters (the most allowed) on the neighbour: every tag exists, no task
#: carries them all, so every one of its tasks is looked at.
TAGS_PATH = LIST_PATH + "".join(f"&tag=n{j}" for j in range(20))
#: A list in its manual order; ``{list_id}`` is the user's Inbox (bench/lua/common.lua).
POSITION_PATH = f"{LIST_PATH}&list_id={{list_id}}&sort=position"
#: The change feed: one page as large as allowed.
SYNC_PATH = "/api/v1/sync?limit=1000"
#: The throughput scenarios on taskapi, in the order they run.
TASKAPI = ("list", "filtered", "list_position", "get", "post", "patch", "compat_list", "deep",
           "bad_token", "login", "search_short", "search_word", "search_long", "tags_20",
           "position_page1", "deep_position", "sync", "sync_empty")
#: Scenarios that repeat one expensive request: they run on a second server with
#: the list page cache off (``TASKAPI_LIST_CACHE=false``), so every request runs
#: its query, as a client varying its requests would make it.
UNCACHED = frozenset({"search_short", "search_word", "search_long", "tags_20", "noisy",
                      "position_page1", "deep_position"})
#: Scenarios that measure what one request costs: one connection, no other
#: load (the p50 is the latency of a lone request, not of a queue).
LATENCY = frozenset({"search_short", "search_word", "search_long", "tags_20",
                     "position_page1", "deep_position"})
#: One account sending its most expensive requests (NEIGHBOUR_CONNECTIONS loads)
#: while the others list.
NEIGHBOUR_CONNECTIONS = 2
NEIGHBOUR_THINK_MS = (400, 400)  # pause per connection: 2 x at most 2.5 requests/s
ALL = ("floor", *TASKAPI, "noisy", "users")
PROBE_CONNECTIONS = 10  # bad-token probe beside the users scenario
PROBE_THINK_MS = (400, 600)  # its pause between requests: about 20 requests/s in all


@dataclass(frozen=True)
class Plan:
    """Load sizes: connections and wrk threads of a throughput scenario, durations
    in seconds, the users scenario's user count and think time range in ms, and
    the login scenario's connections (a production argon2id hash takes a good
    part of a second of CPU: a smoke run sends fewer at once to get answers)."""

    connections: int
    wrk_threads: int
    duration: int
    users_duration: int
    concurrent_users: int
    login_connections: int
    think_ms: tuple[int, int] = (1500, 2500)
    revalidate: bool = True


def _throughput(name: str, plan: Plan, kind: str, env: dict[str, str], describe: str,
                expected: frozenset[int] = frozenset()) -> Load:
    return Load(name, "requests.lua", plan.connections, plan.wrk_threads, plan.duration,
                {"BENCH_KIND": kind, **env}, expected, describe)


def floor(plan: Plan) -> Load:
    """``GET /`` of bench/floor.py."""
    return _throughput("floor", plan, "fixed", {"BENCH_PATH": "/"},
                       "GET / of bench/floor.py (fixed JSON)")


def taskapi(name: str, data: Prepared, plan: Plan, label: str = "") -> Load:
    """The throughput scenario ``name`` (one of :data:`TASKAPI`, or ``big_page1``)
    on the data set ``data``; ``label`` is appended to the load's name."""
    users = {"BENCH_USERS": str(data.users_file)}
    deep = f"{LIST_PATH}&cursor={data.deep_cursor}"
    big_list = POSITION_PATH.replace("{list_id}", str(data.sizes.big_user_id))
    big = data.sizes.big_user_tasks
    before, after = data.sync_tokens or ("", "")
    specs = {
        "sync": ("fixed", {"BENCH_PATH": f"{SYNC_PATH}&since={before}",
                           "BENCH_TOKEN": data.big_token or ""},
                 f"GET {SYNC_PATH}&since=...: a delta of 1,000 task changes of the "
                 f"{big:,}-task user"),
        "sync_empty": ("fixed", {"BENCH_PATH": f"/api/v1/sync?since={after}",
                                 "BENCH_TOKEN": data.big_token or ""},
                       "GET /api/v1/sync?since=...: nothing changed since (a polling "
                       "client's usual answer)"),
        "list": ("list", {**users, "BENCH_PATH": LIST_PATH},
                 f"GET {LIST_PATH}, a random user"),
        "filtered": ("list", {**users, "BENCH_PATH": FILTERED_PATH},
                     f"GET {FILTERED_PATH}, a random user"),
        "list_position": ("list", {**users, "BENCH_PATH": POSITION_PATH},
                          f"GET {POSITION_PATH}, a random user's Inbox"),
        "position_page1": ("fixed", {"BENCH_PATH": big_list, "BENCH_TOKEN": data.big_token or ""},
                           f"GET {big_list}: page 1 of a {big:,}-task list in its manual "
                           "order (with total)"),
        "deep_position": ("fixed", {"BENCH_PATH": f"{big_list}&cursor="
                                    f"{data.deep_position_cursor}",
                                    "BENCH_TOKEN": data.big_token or ""},
                          f"GET {big_list}&cursor=..., page after task {big // 2:,} of "
                          f"{big:,} in manual order"),
        "get": ("get", users, "GET /api/v1/tasks/{id}, a random user's own task"),
        "post": ("post", users, "POST /api/v1/tasks {title, priority, due_at, tags: 1}"),
        "patch": ("patch", users, "PATCH /api/v1/tasks/{id} {title}, own task"),
        "big_page1": ("fixed", {"BENCH_PATH": LIST_PATH, "BENCH_TOKEN": data.big_token or ""},
                      f"GET {LIST_PATH}, the user with "
                      f"{data.sizes.big_user_tasks:,} tasks (page 1, with total)"),
        "compat_list": ("fixed", {"BENCH_PATH": f"/api/{data.sizes.big_user_id}/tasks",
                                  "BENCH_TOKEN": data.big_token or ""},
                        "GET /api/{user_id}/tasks, the original contract's unpaged list "
                        "(1,000 tasks, COMPAT_LIST_CAP)"),
        "deep": ("fixed", {"BENCH_PATH": deep, "BENCH_TOKEN": data.big_token or ""},
                 f"GET {LIST_PATH}&cursor=..., page after task "
                 f"{data.sizes.big_user_tasks // 2:,} of {data.sizes.big_user_tasks:,}"),
        "bad_token": ("fixed", {"BENCH_PATH": LIST_PATH, "BENCH_TOKEN": data.bad_token},
                      f"GET {LIST_PATH}, forged bearer token (401 expected)"),
        "login": ("login", {"BENCH_LOGINS": str(data.logins_file),
                            "BENCH_PASSWORD": PASSWORD},
                  "POST /api/v1/auth/login, a random user (argon2id, production cost)"),
        "search_short": ("fixed", {"BENCH_PATH": SEARCH_SHORT_PATH,
                                   "BENCH_TOKEN": data.big_token or ""},
                         f"GET {SEARCH_SHORT_PATH}, the user with "
                         f"{data.sizes.big_user_tasks:,} tasks (no match)"),
        "search_word": ("fixed", {"BENCH_PATH": SEARCH_WORD_PATH,
                                  "BENCH_TOKEN": data.big_token or ""},
                        f"GET {SEARCH_WORD_PATH}, the user with "
                        f"{data.sizes.big_user_tasks:,} tasks"),
        "search_long": ("fixed", {"BENCH_PATH": SEARCH_LONG_PATH,
                                  "BENCH_TOKEN": data.neighbour_token or ""},
                        f"GET {LIST_PATH}&q=(199 x a)b, the neighbour: "
                        f"{data.sizes.neighbour_tasks:,} tasks of repeated a"),
        "tags_20": ("fixed", {"BENCH_PATH": TAGS_PATH, "BENCH_TOKEN": data.neighbour_token or ""},
                    f"GET {LIST_PATH}&tag=n0..&tag=n19 (20 tags), the neighbour: "
                    f"{data.sizes.neighbour_tasks:,} tasks, none carrying all 20"),
    }
    kind, env, describe = specs[name]
    expected = frozenset({401}) if name == "bad_token" else frozenset()
    result = _throughput(name + label, plan, kind, env, describe, expected)
    if name == "login":
        result.connections = plan.login_connections
        result.threads = min(result.threads, result.connections)
    if name in LATENCY:
        result.connections = result.threads = 1
    return result


def noisy(data: Prepared, plan: Plan) -> tuple[Load, ...]:
    """Others list (``list``, on the connections left) while the neighbour sends
    the pathological search and the 20-tag filter, one connection each, with a
    pause of :data:`NEIGHBOUR_THINK_MS` after each answer: together at most 5
    requests/s, the default per-user limit (``RATELIMIT_DEFAULT``, 300 per
    minute), which the benchmark's server does not enforce itself."""
    others = max(plan.connections - NEIGHBOUR_CONNECTIONS, 1)
    main = Load("noisy", "requests.lua", others, min(plan.wrk_threads, others), plan.duration,
                {"BENCH_KIND": "list", "BENCH_USERS": str(data.users_file),
                 "BENCH_PATH": LIST_PATH}, frozenset(),
                f"GET {LIST_PATH}, a random user, {others} connections, while the "
                "neighbour sends search_long and tags_20 on one connection each")
    neighbours = tuple(
        Load(f"noisy_{name}", "requests.lua", 1, 1, plan.duration,
             {"BENCH_KIND": "fixed", "BENCH_PATH": path,
              "BENCH_TOKEN": data.neighbour_token or "", **_think(*NEIGHBOUR_THINK_MS, 1)},
             frozenset({503}), f"the neighbour's {name} beside noisy, 1 connection, "
             f"{NEIGHBOUR_THINK_MS[0]} ms pause")
        for name, path in (("search_long", SEARCH_LONG_PATH), ("tags_20", TAGS_PATH)))
    return (main, *neighbours)


def users(data: Prepared, plan: Plan) -> tuple[Load, Load]:
    """The concurrent-users load and the bad-token probe that runs beside it.

    Both run one connection per wrk thread (see bench/lua/common.lua), their
    starts spread over one mean think time. With ``plan.revalidate`` each user
    sends the ``ETag`` of its last answer for the same URL as ``If-None-Match``,
    as a browser's HTTP cache does (a 304 is then expected)."""
    count = min(plan.concurrent_users, data.users)
    low, high = plan.think_ms
    main = Load("users", "users.lua", count, count, plan.users_duration,
                {"BENCH_USERS": str(data.users_file), "BENCH_PATH": LIST_PATH,
                 "BENCH_REVALIDATE": "1" if plan.revalidate else "0",
                 **_think(low, high, count)},
                frozenset({304}) if plan.revalidate else frozenset(),
                describe=f"{count:,} users, one connection and token each, think time "
                         f"{low / 1000:g}-{high / 1000:g} s; 40% list, 40% get one, "
                         "10% POST, 10% PATCH"
                         + ("; GETs revalidated with If-None-Match, as a browser does"
                            if plan.revalidate else "; no revalidation"))
    low, high = PROBE_THINK_MS
    probe = Load("bad_token_under_load", "requests.lua", PROBE_CONNECTIONS, PROBE_CONNECTIONS,
                 plan.users_duration,
                 {"BENCH_KIND": "fixed", "BENCH_PATH": LIST_PATH,
                  "BENCH_TOKEN": data.bad_token, **_think(low, high, PROBE_CONNECTIONS)},
                 frozenset({401}),
                 f"GET {LIST_PATH}, forged token, {PROBE_CONNECTIONS} connections x "
                 f"1 per {(low + high) / 2000:g} s, during the users scenario")
    return main, probe


def _think(low: int, high: int, connections: int) -> dict[str, str]:
    """wrk script variables: think time ``low``-``high`` ms, starts staggered."""
    stagger_us = (low + high) // 2 * 1000 // connections
    return {"BENCH_THINK_MIN_MS": str(low), "BENCH_THINK_MAX_MS": str(high),
            "BENCH_STAGGER_US": str(stagger_us)}
