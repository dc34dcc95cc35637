"""The report: a Markdown table per run, the targets with PASS/FAIL, and JSON.

Targets (the issue's, measured side by side in one run):

- requests/s of the list page of 20 >= 15% of the floor's; GET one task >= 30%;
  POST a task and PATCH a task >= 8% each;
- the original contract's unpaged list of 1,000 tasks: <= 25 ms of CPU per
  request in process (bench/cpu.py, median of its rounds);
- the change feed (issue 18): a delta of 1,000 changes <= 25 ms of CPU per
  request in process, as the 1,000-task list; a sync with nothing new >= 15% of
  the floor's requests/s, as the list page;
- the concurrent-users scenario: p95 < 500 ms, p99 < 1,000 ms, 0 errors (socket
  errors plus responses outside 2xx);
- a bad token's 401 during the users scenario: p99 < 100 ms;
- with --scale: list p50 latency on 1,000,000 tasks <= 1.2 x on 1,000 tasks, and
  a deep cursor page's p50 <= 1.2 x page 1's, on a 100,000-task user.

A target whose scenarios did not run is "n/a". Latencies are in ms.
"""

from __future__ import annotations

import json
import operator
import statistics
from pathlib import Path

OPERATORS = {">=": operator.ge, "<": operator.lt, "<=": operator.le, "==": operator.eq}


def checks(results: dict[str, dict], scale: tuple[str, str] | None,
           cpu: dict[str, list[float]] | None = None) -> list[dict]:
    """The targets against ``results`` (by scenario name); ``scale`` holds the
    labels of the small and large data sets when --scale ran; ``cpu`` the in
    process measurements (bench/cpu.py) when they ran."""
    rows: list[dict] = []

    def add(name: str, value: float | None, op: str, target: float, unit: str) -> None:
        passed = None if value is None else OPERATORS[op](value, target)
        rows.append({"check": name, "value": value, "target": f"{op} {target:g}{unit}",
                     "unit": unit, "passed": passed})

    def ratio(a: str, b: str, key) -> float | None:
        if a not in results or b not in results or not key(results[b]):
            return None
        return key(results[a]) / key(results[b])

    def p(name: str, percentile: str) -> float | None:
        return results[name]["latency_ms"][percentile] if name in results else None

    rps = operator.itemgetter("rps")
    p50 = lambda r: r["latency_ms"]["p50"]  # noqa: E731
    add("list page of 20 / floor, requests/s", ratio("list", "floor", rps), ">=", 0.15, "x")
    add("list_id + sort=position page of 20 / floor, requests/s",
        ratio("list_position", "floor", rps), ">=", 0.15, "x")
    add("manual order, 100,000-task list: deep cursor p50 / page 1 p50",
        ratio("deep_position", "position_page1", p50), "<=", 1.2, "x")
    add("GET one task / floor, requests/s", ratio("get", "floor", rps), ">=", 0.3, "x")
    add("POST a task / floor, requests/s", ratio("post", "floor", rps), ">=", 0.08, "x")
    add("PATCH a task / floor, requests/s", ratio("patch", "floor", rps), ">=", 0.08, "x")
    compat_cpu = (statistics.median(cpu["compat_list"]) if cpu and cpu.get("compat_list")
                  else None)
    add("unpaged original-contract list of 1,000 tasks: CPU in process", compat_cpu,
        "<=", 25, " ms")
    sync_cpu = statistics.median(cpu["sync"]) if cpu and cpu.get("sync") else None
    add("sync: a delta of 1,000 changes, CPU in process", sync_cpu, "<=", 25, " ms")
    add("sync with nothing new / floor, requests/s", ratio("sync_empty", "floor", rps),
        ">=", 0.15, "x")
    users = results.get("users")
    who = f"{users['connections']:,} users" if users else "users"
    add(f"{who}: p95 latency", p("users", "p95"), "<", 500, " ms")
    add(f"{who}: p99 latency", p("users", "p99"), "<", 1000, " ms")
    add(f"{who}: errors (socket + non-2xx)",
        users["socket_errors"] + users["unexpected"] if users else None, "==", 0, "")
    add(f"401 for a bad token during {who}: p99", p("bad_token_under_load", "p99"),
        "<", 100, " ms")
    for name, what in (("search_short", "q=zzz"), ("search_word", "q=Task 42 of user")):
        add(f"search {what} on the 100,000-task user: p50", p(name, "p50"), "<", 50, " ms")
    add("search q=(199 x a)b over repeated a: p50", p("search_long", "p50"), "<", 200, " ms")
    add("others' list p95 while a neighbour sends its most expensive requests",
        p("noisy", "p95"), "<", 500, " ms")
    if scale:
        small, large = scale
        add(f"list p50 latency on {large[1:]} tasks / on {small[1:]} tasks",
            ratio(f"list{large}", f"list{small}", p50), "<=", 1.2, "x")
        add("deep cursor p50 / page 1 p50, big user",
            ratio(f"deep{large}", f"big_page1{large}", p50), "<=", 1.2, "x")
    return rows


def markdown(meta: dict, results: list[dict], rows: list[dict],
             cpu: dict[str, list[float]] | None = None) -> str:
    """The run as Markdown: a header, the scenario table, the in-process CPU table
    (when measured) and the targets table."""
    lines = [f"# taskapi benchmark {meta['timestamp']}", "", *meta["summary"], "",
             "| Scenario | Request | Conn. | Requests | Req/s | p50 ms | p95 ms | p99 ms "
             "| Non-2xx | Socket errors | Worker boots | wrk CPU s |",
             "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"]
    for r in results:
        latency = r["latency_ms"]
        expected = sum(r["statuses"].get(code, 0) for code in r["expected_statuses"])
        non2xx = f"{r['unexpected']:,}" + (
            f" (+{expected:,} expected {'/'.join(map(str, r['expected_statuses']))})"
            if r["expected_statuses"] else "")
        lines.append(
            f"| {r['name']} | {r['request']} | {r['connections']:,} | {r['requests']:,} "
            f"| {r['rps']:,.1f} | {latency['p50']:,.1f} | {latency['p95']:,.1f} "
            f"| {latency['p99']:,.1f} | {non2xx} | {_socket_errors(r)} "
            f"| {r['worker_boots']} | {r['client_cpu_s']:.1f} |")
    if cpu:
        from bench.cpu import markdown as cpu_markdown

        lines += ["", cpu_markdown(cpu).rstrip("\n")]
    lines += ["", "| Target | Measured | Target | Result |", "|---|--:|--:|---|"]
    for row in rows:
        value = row["value"]
        shown = "-" if value is None else (
            f"{value:.2f}x" if row["unit"] == "x" else f"{value:,.1f}{row['unit']}"
            if isinstance(value, float) else f"{value:,}")
        result = {True: "PASS", False: "FAIL", None: "n/a"}[row["passed"]]
        lines.append(f"| {row['check']} | {shown} | {row['target']} | {result} |")
    return "\n".join(lines) + "\n"


def _socket_errors(result: dict) -> str:
    """``0``, or the total with its kinds: ``41 (read 41)``."""
    kinds = [f"{name} {result['errors'][name]:,}" for name in
             ("connect", "read", "write", "timeout") if result["errors"][name]]
    return f"{result['socket_errors']:,}" + (f" ({', '.join(kinds)})" if kinds else "")


def write(out: Path, meta: dict, results: list[dict], rows: list[dict],
          cpu: dict[str, list[float]] | None = None) -> tuple[Path, Path]:
    """Write ``<timestamp>.json`` and ``<timestamp>.md`` into ``out``; returns both
    paths."""
    out.mkdir(parents=True, exist_ok=True)
    stem = out / meta["timestamp"]
    json_path, md_path = stem.with_suffix(".json"), stem.with_suffix(".md")
    document = {**meta, "scenarios": results, "checks": rows, "cpu_ms": cpu or {}}
    json_path.write_text(json.dumps(document, indent=2, default=str) + "\n")
    md_path.write_text(markdown(meta, results, rows, cpu))
    return json_path, md_path
