"""gunicorn integration: JSON for the errors gunicorn answers itself, and a
start-up warning that needs the worker count.

gunicorn reads the request line and the headers before the app sees a request.
What it refuses there it answers itself, with a small HTML page
(``gunicorn.util.write_error``): 414 for a request line longer than
``limit_request_line`` (gunicorn.conf.py: 8190 bytes, gunicorn's maximum),
431 for more than ``limit_request_fields`` header fields or one longer than
``limit_request_field_size``, 400 for a malformed request line, header or chunk,
and a few rarer ones (403, 417, 501, 500). :class:`JSONErrorThreadWorker`, the
gthread worker that gunicorn.conf.py selects, answers those with the one JSON
error shape of :mod:`taskapi.errors` instead::

    {"code": 414, "status": "Request-URI Too Long",
     "message": "The request line (method, path and query) is longer than 8190 bytes..."}

(``status`` is the phrase of :class:`http.HTTPStatus`, as in taskapi.errors.)

gunicorn still decides the status and logs the refusal as before; only the
body changes (``Content-Type: application/json``, ``Connection: close``).

:func:`warn_per_worker_limits` (gunicorn.conf.py, ``post_worker_init``) logs,
once per start-up, that ``memory://`` rate limits count per worker process.
"""

from __future__ import annotations

import json
import logging
from http import HTTPStatus
from typing import Any

from gunicorn import util
from gunicorn.workers.gthread import ThreadWorker

log = logging.getLogger("taskapi.ratelimits")
#: Limit settings that do not apply to ``memory://`` storage (Flask-Limiter's
#: fallback while a Redis storage is down).
NOT_PER_WORKER = frozenset({"RATELIMIT_IN_MEMORY_FALLBACK"})


def error_messages(cfg: Any) -> dict[int, str]:
    """``message`` of each status gunicorn answers itself, with the limits of
    ``cfg`` (gunicorn's Config) in bytes and fields."""
    return {
        400: "The request is malformed: its request line, a header or the chunked body "
             "does not follow HTTP/1.1 (RFC 9112).",
        403: "The request is refused before it reaches the application (proxy protocol "
             "or TLS).",
        414: f"The request line (method, path and query) is longer than "
             f"{cfg.limit_request_line} bytes; send fewer or shorter query parameters.",
        417: "The Expect header of the request cannot be met.",
        431: f"The request header fields are too many or too large: at most "
             f"{cfg.limit_request_fields} fields of at most {cfg.limit_request_field_size} "
             f"bytes each.",
        500: "Internal server error. The failure was logged.",
        501: "The Transfer-Encoding of the request is not supported.",
    }


def json_error(status: int, message: str | None = None) -> bytes:
    """A whole HTTP/1.1 response: ``status`` in the one JSON error shape, with
    ``Connection: close`` (gunicorn closes the connection after an error)."""
    phrase = HTTPStatus(status).phrase
    body = json.dumps({"code": status, "status": phrase,
                       "message": message or HTTPStatus(status).description}).encode()
    head = (f"HTTP/1.1 {status} {phrase}\r\nConnection: close\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            "X-Content-Type-Options: nosniff\r\n\r\n")
    return head.encode("latin-1") + body


class _ErrorPage:
    """Stands in for the client socket while gunicorn writes its error page: keeps
    the status of the page and sends nothing; everything else goes to the socket."""

    def __init__(self, sock):
        self._sock = sock
        self.status: int | None = None

    def sendall(self, data: bytes) -> None:
        status_line = bytes(data).split(b"\r\n", 1)[0]  # b"HTTP/1.1 414 URI Too Long"
        fields = status_line.split(b" ", 2)
        if len(fields) >= 2 and fields[1].isdigit():
            self.status = int(fields[1])

    def __getattr__(self, name: str):
        return getattr(self._sock, name)


class JSONErrorThreadWorker(ThreadWorker):
    """gunicorn's gthread worker, whose own error answers are in the one JSON
    error shape (``worker_class = "taskapi.gunicorn_worker.JSONErrorThreadWorker"``)."""

    def handle_error(self, req, client, addr, exc):
        # gunicorn chooses the status and logs; its page is caught, not sent.
        page = _ErrorPage(client)
        super().handle_error(req, page, addr, exc)
        if page.status is None:
            return
        message = error_messages(self.cfg).get(page.status)
        try:
            util.write_nonblock(client, json_error(page.status, message))
        except Exception:  # the client may be gone: nothing left to tell it
            self.log.debug("Failed to send error message.")


def _times(limits: str, factor: int) -> str:
    """``"20 per minute; 200 per hour"`` with every amount multiplied by ``factor``."""
    from limits import parse_many

    return "; ".join(
        f"{item.amount * factor} per "
        + (f"{item.multiples} {item.GRANULARITY.name}s" if item.multiples > 1
           else item.GRANULARITY.name)
        for item in parse_many(limits)
    )


def per_worker_limits_warning(config: Any, workers: int) -> str | None:
    """The warning for an app ``config`` served by ``workers`` processes, or None.

    There is one when ``ENV`` is production, rate limits are on, their storage
    is ``memory://`` (each process keeps its own counts, Flask-Limiter docs) and
    there is more than one worker: a client then gets up to ``workers`` times
    each limit. Every ``RATELIMIT_*`` setting that holds limit strings
    (``RATELIMIT_DEFAULT``, ``RATELIMIT_AUTH_PER_IP``, ...) is named with the
    limit a client gets, ``RATELIMIT_DEFAULT`` first.
    """
    if (str(config.get("ENV")) != "production" or not config.get("RATELIMIT_ENABLED")
            or workers < 2
            or not str(config.get("RATELIMIT_STORAGE_URI", "")).startswith("memory://")):
        return None
    effective = []
    for name in sorted(config, key=lambda name: (name != "RATELIMIT_DEFAULT", name)):
        value = config[name]
        if (not name.startswith("RATELIMIT_") or name in NOT_PER_WORKER
                or not isinstance(value, str) or not value):
            continue
        try:
            effective.append(f"{name} {value} is counted per worker: with {workers} "
                             f"workers a client gets up to {_times(value, workers)}.")
        except ValueError:  # not a limit string (the storage URI, a strategy name)
            continue
    if not effective:
        return None
    return " ".join([*effective, "RATELIMIT_STORAGE_URI=memory:// keeps the counts per "
                     "process: set TASKAPI_RATELIMIT_STORAGE_URI=redis://HOST:6379/0 "
                     "(extra taskapi[redis]) so that all workers share them."])


def warn_per_worker_limits(worker: Any) -> None:
    """gunicorn ``post_worker_init`` hook: log :func:`per_worker_limits_warning`
    for the app of ``worker``, from the first worker of this start-up only
    (``worker.age == 1``; workers started later, by a restart, do not repeat it)."""
    app = getattr(worker, "wsgi", None)
    config = getattr(app, "config", None)
    if worker.age != 1 or config is None:
        return
    warning = per_worker_limits_warning(config, worker.cfg.workers)
    if warning:
        log.warning(warning)
