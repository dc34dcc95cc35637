"""A real-gunicorn harness: taskapi served by ``gunicorn -c gunicorn.conf.py wsgi:app``.

:class:`Server` starts the repository's gunicorn configuration (gthread) with N
worker processes on a free 127.0.0.1 port, on a SQLite file or a PostgreSQL
database that ``flask db upgrade`` migrates, with a temporary instance folder.
Requests go over real HTTP and never raise on an error status (a
:class:`~tests.server_access.Client` keeps one connection alive for one thread);
:attr:`Server.database` reads the rows directly, outside the app.
:meth:`Server.kill` sends SIGKILL to the master and every worker at once (one
process group); :meth:`Server.start` runs it again on the same port and
database. The server's output goes to one log file for all its runs; the part
written during a test is shown when it fails (:func:`log_shown_on_failure`).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.helpers import TEST_SECRETS, postgresql_test_url, reset_database
from tests.server_access import Client, Database, Response

REPO_ROOT = Path(__file__).resolve().parent.parent
STARTUP_SECONDS = 90  # importing the app alone took ~30 s on a loaded 2-core machine
LOG_TAIL = 8000  # characters of the log shown with a failure
NOTABLE = (" WARNING ", " ERROR ", " CRITICAL ", "[WARNING]", "[ERROR]", "[CRITICAL]",
           "Traceback")
GUNICORN = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url(kind: str, directory: Path) -> str:
    """An empty database for a test parametrized by ``kind``: ``"sqlite"`` gives a new
    file in ``directory``; ``"postgresql"`` resets ``TASKAPI_TEST_DATABASE_URL``
    (skipped locally, failed under ``TASKAPI_TEST_REQUIRE_SERVICES=1`` when unset)."""
    if kind == "sqlite":
        return f"sqlite:///{directory / 'taskapi.sqlite3'}"
    url = postgresql_test_url()
    reset_database(url)
    return url


def sqlite_server(tmp_path_factory: pytest.TempPathFactory, name: str, **options) -> Server:
    """A :class:`Server` (not started: use it as a context manager) on a new SQLite
    file in a new temporary folder named after ``name``."""
    directory = tmp_path_factory.mktemp(name)
    return Server(directory, f"sqlite:///{directory / 'taskapi.sqlite3'}", **options)


def server_env(directory: Path, url: str, port: int, *, workers: int, threads: int,
               settings: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a test server: this process's, without any ``TASKAPI_*``,
    ``GUNICORN_*`` or ``DATABASE_URL``, then the test secrets, cheap password
    hashing, the instance folder ``directory / "instance"``, and ``settings`` last."""
    env = {
        name: value for name, value in os.environ.items()
        if not name.startswith(("TASKAPI_", "GUNICORN_")) and name != "DATABASE_URL"
    }
    env.update(
        TASKAPI_INSTANCE_PATH=str(directory / "instance"),
        TASKAPI_SQLALCHEMY_DATABASE_URI=url,
        TASKAPI_SECRET_KEY=TEST_SECRETS["SECRET_KEY"],
        TASKAPI_JWT_SECRET_KEY=TEST_SECRETS["JWT_SECRET_KEY"],
        TASKAPI_PASSWORD_HASH_TIME_COST="1",
        TASKAPI_PASSWORD_HASH_MEMORY_COST="1024",
        TASKAPI_PASSWORD_HASH_PARALLELISM="1",
        GUNICORN_BIND=f"127.0.0.1:{port}",
        GUNICORN_WORKERS=str(workers),
        GUNICORN_THREADS=str(threads),
        GUNICORN_GRACEFUL_TIMEOUT="5",
        PYTHONUNBUFFERED="1",
        # gunicorn's control socket goes to $XDG_RUNTIME_DIR: one per server, not
        # one in $HOME that every server on the machine would share.
        XDG_RUNTIME_DIR=str(directory),
    )
    env.update(settings or {})
    return env


class Server:
    """taskapi under gunicorn on ``url``; a context manager that starts and stops it.

    ``settings`` are extra environment variables (``TASKAPI_*``, ``GUNICORN_*``).
    With ``migrate``, ``flask db upgrade`` runs first, in the same environment.
    """

    def __init__(self, directory: Path, url: str, *, workers: int = 2, threads: int = 4,
                 settings: dict[str, str] | None = None, migrate: bool = True,
                 name: str = "gunicorn"):
        directory.mkdir(parents=True, exist_ok=True)
        self.url, self.migrate = url, migrate
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = directory / f"{name}.log"
        self.env = server_env(directory, url, self.port, workers=workers, threads=threads,
                              settings=settings)
        self.process: subprocess.Popen | None = None
        self.starts = 0
        self._database: Database | None = None

    def __enter__(self) -> Server:
        try:
            if self.migrate:
                self.upgrade()
            self.start()
        except BaseException:
            self.stop()  # __exit__ does not run when __enter__ fails: no leaked gunicorn
            raise
        return self

    def __exit__(self, *_exc) -> None:
        self.stop()
        if self._database is not None:
            self._database.dispose()

    @property
    def database(self) -> Database:
        """Direct access to the server's database."""
        if self._database is None:
            self._database = Database(self.url)
        return self._database

    def upgrade(self) -> None:
        """``flask --app wsgi db upgrade`` on the server's database."""
        done = subprocess.run(
            [sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"],
            cwd=REPO_ROOT, env=self.env, capture_output=True, text=True, timeout=120,
        )
        assert done.returncode == 0, done.stdout + done.stderr

    def start(self) -> None:
        """Start gunicorn (again, after :meth:`kill`: same port, same database) and
        wait until a worker answers; the test fails with the log otherwise."""
        self.launch()
        self.wait_until_ready()

    def launch(self) -> None:
        """Start gunicorn without waiting (see :meth:`wait_until_ready`)."""
        self.starts += 1
        with open(self.log_path, "ab") as log:
            log.write(f"--- harness: start {self.starts} ---\n".encode())
            log.flush()
            # A session of its own: the master and its workers form one process group.
            self.process = subprocess.Popen(
                GUNICORN, cwd=REPO_ROOT, env=self.env, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True,
            )

    def wait_until_ready(self) -> None:
        """Return once a worker answers ``GET /api/openapi.json`` with 200."""
        assert self.process is not None
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"gunicorn exited with {self.process.returncode}:\n{self.log()}")
            try:
                if self.request("GET", "/api/openapi.json").status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        pytest.fail(f"gunicorn not ready after {STARTUP_SECONDS}s:\n{self.log()}")

    def worker_pids(self) -> list[int]:
        """Process ids of the master's children (its workers)."""
        assert self.process is not None
        return children(self.process.pid)

    def kill(self) -> list[int]:
        """``kill -9`` the master and all its workers at the same instant; returns
        their pids, once every one of them is gone."""
        assert self.process is not None and self.process.poll() is None
        pids = [self.process.pid, *self.worker_pids()]
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        deadline = time.monotonic() + 10
        while any(alive(pid) for pid in pids):
            assert time.monotonic() < deadline, f"still running after SIGKILL: {pids}"
            time.sleep(0.05)
        return pids

    def stop(self) -> None:
        """Graceful stop (SIGTERM); SIGKILL to the process group after 15 s."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=5)

    def request(self, method: str, path: str, body=None, token: str | None = None,
                headers: dict | None = None) -> Response:
        """One request on a new connection (see :meth:`Client.request`)."""
        client = Client(self.port)
        try:
            return client.request(method, path, body, token, headers)
        finally:
            client.close()

    def client(self) -> Client:
        """A keep-alive connection for one thread."""
        return Client(self.port)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_size(self) -> int:
        return len(self.log())


def children(pid: int) -> list[int]:
    """Pids whose parent is ``pid`` (from ``/proc/*/stat``)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def serve(request: pytest.FixtureRequest, directory: Path, **options) -> Iterator[Server]:
    """The body of a fixture parametrized by database kind (``request.param``, see
    :func:`database_url`): yields a :class:`Server` (``options``) running on it."""
    with Server(directory, database_url(request.param, directory), **options) as server:
        yield server


@contextmanager
def log_shown_on_failure(request: pytest.FixtureRequest, *servers: Server) -> Iterator[None]:
    """Wrap a test (in a fixture): when it fails, print what each server logged
    meanwhile, its warnings and errors first (pytest shows it under "Captured
    stderr teardown")."""
    offsets, failed = [server.log_size() for server in servers], request.session.testsfailed
    yield
    if request.session.testsfailed > failed:
        for server, offset in zip(servers, offsets, strict=True):
            written = server.log()[offset:]
            notable = [line for line in written.splitlines()
                       if any(mark in line for mark in NOTABLE)]
            sys.stderr.write(
                f"--- {server.log_path}, during the test: {len(notable)} warnings and "
                "errors (first 100) ---\n" + "\n".join(notable[:100])
                + f"\n--- its last {LOG_TAIL} characters ---\n{written[-LOG_TAIL:]}\n"
            )
