"""gunicorn under the benchmark: taskapi (``wsgi:app``) or the floor (``bench.floor:app``).

Both run as ``gunicorn -c gunicorn.conf.py APP`` from the repository root, so
they share the repository's server settings; the worker class, workers and
threads come in as ``GUNICORN_*`` variables. The server listens on a free port of
127.0.0.1 only; its output (gunicorn's log and taskapi's access log) goes to a
file in the run's folder.
"""

from __future__ import annotations

import http.client
import os
import resource
import runpy
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
STARTUP_SECONDS = 60
STOP_SECONDS = 30
OPEN_FILES = 65536  # file descriptor limit asked for servers and wrk (1,000+ sockets)


@dataclass(frozen=True)
class Settings:
    """How gunicorn runs: worker class, worker processes, threads per worker, and
    extra environment variables (``NAME=VALUE`` from ``--set``)."""

    worker_class: str
    workers: int
    threads: int
    extra: dict[str, str] = field(default_factory=dict)


def gunicorn_defaults() -> dict:
    """``worker_class``, ``workers``, ``threads`` as gunicorn.conf.py sets them when
    no ``GUNICORN_*`` variable is given."""
    with environment({k: v for k, v in os.environ.items() if not k.startswith("GUNICORN_")}):
        conf = runpy.run_path(str(REPO_ROOT / "gunicorn.conf.py"))
    return {name: conf[name] for name in ("worker_class", "workers", "threads")}


@contextmanager
def environment(env: dict[str, str]):
    """Replace ``os.environ`` by ``env`` for the duration of the block."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def raise_open_files() -> None:
    """Raise this process's soft limit on open files towards :data:`OPEN_FILES`
    (used as ``preexec_fn`` of the servers and of wrk)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = OPEN_FILES if hard == resource.RLIM_INFINITY else min(OPEN_FILES, hard)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def base_env(workdir: Path, settings: Settings) -> dict[str, str]:
    """This process's environment without ``TASKAPI_*``, ``GUNICORN_*`` and
    ``DATABASE_URL`` (a benchmark does not inherit the caller's tuning), plus the
    gunicorn settings."""
    env = {name: value for name, value in os.environ.items()
           if not name.startswith(("TASKAPI_", "GUNICORN_")) and name != "DATABASE_URL"}
    env.update(
        GUNICORN_WORKER_CLASS=settings.worker_class,
        GUNICORN_WORKERS=str(settings.workers),
        GUNICORN_THREADS=str(settings.threads),
        # gunicorn's control socket goes to $XDG_RUNTIME_DIR: one per run.
        XDG_RUNTIME_DIR=str(workdir),
    )
    return env


class Gunicorn:
    """``gunicorn -c gunicorn.conf.py app`` with ``env``; a context manager that
    starts it, waits until ``ready_path`` answers 200, and stops it (SIGTERM, then
    SIGKILL to its process group after :data:`STOP_SECONDS`)."""

    def __init__(self, app: str, env: dict[str, str], log_path: Path, ready_path: str):
        self.app, self.log_path, self.ready_path = app, log_path, ready_path
        self.port = free_port()
        self.env = {**env, "GUNICORN_BIND": f"127.0.0.1:{self.port}"}
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> Gunicorn:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 (fixed argument list)
                [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", self.app],
                cwd=REPO_ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True, preexec_fn=raise_open_files,
            )
        try:
            self._wait_until_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *_exc) -> None:
        self.stop()

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn ({self.app}) exited with status "
                                   f"{self.process.returncode}; see {self.log_path}")
            try:
                if self.get(self.ready_path) == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn ({self.app}) not ready after {STARTUP_SECONDS} s; "
                           f"see {self.log_path}")

    def get(self, path: str, headers: dict | None = None) -> int:
        """Status of one ``GET path`` on a new connection."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            connection.request("GET", path, headers=headers or {})
            return connection.getresponse().status
        finally:
            connection.close()

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


def migrate(env: dict[str, str], log_path: Path) -> None:
    """``flask --app wsgi db upgrade`` with ``env``; RuntimeError when it fails."""
    with open(log_path, "ab") as log:
        done = subprocess.run(  # noqa: S603 (fixed argument list)
            [sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"],
            cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, timeout=300,
            check=False)
    if done.returncode:
        raise RuntimeError(f"flask db upgrade failed ({done.returncode}); see {log_path}")
