"""Load generation: wrk (Debian package ``wrk``) in a process of its own.

A :class:`Load` says which script of bench/lua/ runs, with how many connections
and wrk threads, for how long (wrk ``-d``: every run stops by itself), and with
which ``BENCH_*`` variables. The script's ``done()`` writes the result as JSON
(see bench/lua/common.lua), so wrk's text output is never parsed; it is kept in
the run folder. Latencies are wrk's, in ms, after its own correction for
coordinated omission; wrk's request timeout is :data:`TIMEOUT_SECONDS`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.server import raise_open_files

LUA_DIR = Path(__file__).resolve().parent / "lua"
TIMEOUT_SECONDS = 10  # wrk --timeout: slower responses count as timeout errors
INSTALL_HINT = "apt-get install -y wrk"


class WrkMissing(RuntimeError):
    """wrk is not installed."""


def wrk_path() -> str:
    """The wrk executable; :class:`WrkMissing` naming the install command if none."""
    found = shutil.which("wrk")
    if found is None:
        raise WrkMissing(f"wrk is not installed (not on PATH). Install it with: "
                         f"{INSTALL_HINT}   (Debian package 'wrk', as root)")
    return found


@dataclass
class Load:
    """One wrk run. ``expected``: statuses outside 2xx that are this load's correct
    answer (401 for a bad token), not failures."""

    name: str
    script: str  # file name in bench/lua/
    connections: int
    threads: int
    duration: int  # seconds
    env: dict[str, str] = field(default_factory=dict)
    expected: frozenset[int] = frozenset()
    describe: str = ""  # the request, for the report


def start(load: Load, base_url: str, workdir: Path) -> tuple[subprocess.Popen, Path]:
    """Start wrk for ``load`` against ``base_url``; returns the process and the path
    its JSON result will be written to."""
    result = workdir / f"wrk-{load.name}.json"
    result.unlink(missing_ok=True)
    env = {**os.environ, **load.env, "BENCH_LUA_DIR": str(LUA_DIR), "BENCH_RESULT": str(result)}
    command = [wrk_path(), "-t", str(load.threads), "-c", str(load.connections),
               "-d", f"{load.duration}s", "--timeout", f"{TIMEOUT_SECONDS}s",
               "-s", str(LUA_DIR / load.script), base_url]
    with open(workdir / f"wrk-{load.name}.txt", "wb") as output:
        process = subprocess.Popen(command, env=env, stdout=output,  # noqa: S603
                                   stderr=subprocess.STDOUT, preexec_fn=raise_open_files)
    return process, result


def finish(load: Load, process: subprocess.Popen, result: Path) -> dict:
    """Wait for wrk (its duration plus a minute at most) and return the measured
    numbers of ``load`` (see :func:`summarise`), with ``client_cpu_s``: the CPU
    seconds wrk itself used (user + system), which the server did not get."""
    deadline = time.monotonic() + load.duration + 60
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            process.returncode = os.waitstatus_to_exitcode(status)
            break
        if time.monotonic() > deadline:
            process.kill()
            process.wait()
            raise RuntimeError(f"wrk did not stop after {load.duration + 60} s ({load.name})")
        time.sleep(0.1)
    if process.returncode or not result.exists():
        log = result.with_suffix(".txt").read_text(errors="replace")[-2000:]
        raise RuntimeError(f"wrk failed for {load.name} (status {process.returncode}):\n{log}")
    numbers = summarise(load, json.loads(result.read_text()))
    numbers["client_cpu_s"] = round(usage.ru_utime + usage.ru_stime, 2)
    return numbers


def run(load: Load, base_url: str, workdir: Path) -> dict:
    """Run ``load`` to its end and return its numbers."""
    process, result = start(load, base_url, workdir)
    return finish(load, process, result)


def summarise(load: Load, raw: dict) -> dict:
    """wrk's result plus ``rps`` (requests/s), ``unexpected`` (responses outside
    2xx and ``load.expected``), ``server_errors`` (5xx) and ``socket_errors``
    (connect, read, write, timeout)."""
    statuses = {int(code): count for code, count in raw["statuses"].items()}
    errors = raw["errors"]
    return {
        "name": load.name,
        "request": load.describe,
        "connections": load.connections,
        "wrk_threads": load.threads,
        "duration_s": raw["duration_s"],
        "requests": raw["requests"],
        "rps": raw["requests"] / raw["duration_s"] if raw["duration_s"] else 0.0,
        "latency_ms": raw["latency_ms"],
        "statuses": statuses,
        "expected_statuses": sorted(load.expected),
        "unexpected": sum(count for code, count in statuses.items()
                          if not 200 <= code < 300 and code not in load.expected),
        "server_errors": sum(count for code, count in statuses.items() if code >= 500),
        "socket_errors": sum(errors[name] for name in ("connect", "read", "write", "timeout")),
        "errors": errors,
        "kinds": raw["kinds"],
    }

