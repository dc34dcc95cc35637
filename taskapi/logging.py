"""Logging: dictConfig, the request id, and one access line per request.

Every record carries ``request_id`` (``-`` outside a request). ``LOG_FORMAT=json``
switches to one JSON object per line (python-json-logger). Loggers:
``taskapi.access`` (one line per request), ``taskapi.auth``, ``taskapi.tasks``,
``taskapi.errors``. Passwords and tokens are never logged; ids are.
"""

from __future__ import annotations

import logging
import logging.config
import re
import time
import uuid

from flask import Flask, Response, g, has_request_context, request

REQUEST_ID_HEADER = "X-Request-ID"
#: A client's request id is honoured when it is 1-64 visible, safe characters.
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,64}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

access_log = logging.getLogger("taskapi.access")


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` (and ``user_id`` when known) to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if has_request_context():
            record.request_id = getattr(g, "request_id", "-")
        else:
            record.request_id = "-"
        return True


def configure_logging(app: Flask) -> None:
    """Apply the logging configuration for ``app`` (level ``LOG_LEVEL``)."""
    formatter = (
        {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(request_id)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        }
        if app.config["LOG_FORMAT"] == "json"
        else {
            "format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s",
        }
    )
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "filters": {"request_id": {"()": RequestIdFilter}},
            "formatters": {"default": formatter},
            "handlers": {
                "console": {
                    "class": "logging.StreamHandler",
                    "stream": "ext://sys.stderr",
                    "formatter": "default",
                    "filters": ["request_id"],
                }
            },
            "loggers": {
                "taskapi": {
                    "level": str(app.config["LOG_LEVEL"]).upper(),
                    "handlers": ["console"],
                    "propagate": True,
                }
            },
        }
    )


def init_request_logging(app: Flask) -> None:
    """Assign a request id, echo it, and write the access line for every request."""
    app.before_request(_start_request)
    app.after_request(_finish_request)


def _start_request() -> None:
    g.request_started = time.perf_counter()
    incoming = request.headers.get(REQUEST_ID_HEADER, "")
    g.request_id = incoming if _VALID_REQUEST_ID.match(incoming) else uuid.uuid4().hex


def _finish_request(response: Response) -> Response:
    request_id = getattr(g, "request_id", None) or uuid.uuid4().hex
    response.headers[REQUEST_ID_HEADER] = request_id
    started = getattr(g, "request_started", None)
    duration_ms = (time.perf_counter() - started) * 1000 if started else 0.0
    user_id = getattr(g, "user_id", None)
    # A decoded path can hold CR, LF or NUL (%0A...): escaped, so that a request
    # cannot write a forged line into the log (OWASP: log injection).
    path = _CONTROL.sub(lambda match: f"\\x{ord(match.group()):02x}", request.path)
    access_log.info(
        "%s %s %s %.1fms user=%s",
        request.method,
        path,
        response.status_code,
        duration_ms,
        user_id if user_id is not None else "-",
        extra={
            "method": request.method,
            "path": path,
            "status": response.status_code,
            "duration_ms": round(duration_ms, 1),
            "user_id": user_id,
        },
    )
    return response
