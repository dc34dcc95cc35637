"""gunicorn's own limits and answers (taskapi/gunicorn_worker.py, gunicorn.conf.py).

Over a real gunicorn in production mode with 2 workers and ``memory://`` rate
limits (tests/servers.py):

* the request line limit is 8190 bytes: a ``GET /api/v1/tasks`` built from the
  documented maxima of its parameters (the OpenAPI document the server serves)
  reaches the app, one byte over the limit is a 414;
* what gunicorn refuses before the app (414, 431, 400) has the one JSON error
  shape and ``Content-Type: application/json``;
* the first worker warns once that each worker counts the rate limits alone,
  naming the limit a client really gets.

The warning's rules are also checked in process (:func:`per_worker_limits_warning`,
:func:`warn_per_worker_limits`: only the first worker of a start-up warns).
"""

from __future__ import annotations

import json
import logging
import socket
import time
from http import HTTPStatus
from types import SimpleNamespace
from urllib.parse import urlencode

import pytest

from taskapi.config import Defaults
from taskapi.gunicorn_worker import per_worker_limits_warning, warn_per_worker_limits
from taskapi.tasks.filters import SORT_KEYS
from tests.helpers import PASSWORD
from tests.servers import log_shown_on_failure, sqlite_server

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("gunicorn-limits")]

LIMIT = 8190  # gunicorn's maximum request line, gunicorn.conf.py's value
WARNING = "is counted per worker"
#: Longest form of each value kind the list accepts, as a client encodes it.
DATE_TIME = "2026-11-21T10:00:00.123456+05:30"  # RFC 3339 with microseconds and offset
URL_SAFE_CHARACTER = "A"  # cursors are itsdangerous URL-safe tokens: never escaped
ESCAPED_CHARACTER = "%"  # a character every text parameter accepts, sent as %25
FILTER_VALUES = 20  # at most 20 tag and 20 priority values (taskapi/tasks/schemas.py)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    settings = {"TASKAPI_ENV": "production", "TASKAPI_RATELIMIT_DEFAULT": "300 per minute",
                "TASKAPI_RATELIMIT_AUTH_PER_IP": "20 per minute; 200 per hour"}
    with sqlite_server(tmp_path_factory, "gunicorn-limits", workers=2,
                       settings=settings) as server:
        yield server


@pytest.fixture(autouse=True)
def shown_log(request, server):
    with log_shown_on_failure(request, server):
        yield


def raw_request(port: int, data: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send ``data`` as it is and read the whole answer (gunicorn closes after an
    error): status, headers (lower-case names), body."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(data)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status_line.split(" ")[1]), headers, body


def assert_json_error(status: int, headers: dict[str, str], body: bytes, code: int) -> dict:
    assert status == code, body
    assert headers["content-type"] == "application/json"
    assert int(headers["content-length"]) == len(body)
    error = json.loads(body)
    assert set(error) == {"code", "status", "message"}
    assert error["code"] == code
    assert error["status"] == HTTPStatus(code).phrase
    assert isinstance(error["message"], str) and error["message"]
    return error


def get(path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\n\r\n".encode()


def maximal_list_query(spec: dict) -> list[tuple[str, str]]:
    """Query pairs of ``GET /api/v1/tasks`` with every query parameter at its
    documented maximum (``page`` left out: it cannot come with ``cursor``)."""
    pairs = []
    for parameter in spec["paths"]["/api/v1/tasks"]["get"]["parameters"]:
        name, schema = parameter["name"], parameter.get("schema", {})
        if parameter["in"] != "query" or name == "page":
            continue
        if schema.get("type") == "array":
            items = schema["items"]
            value = (max(items["enum"], key=len) if "enum" in items
                     else ESCAPED_CHARACTER * items["maxLength"])
            pairs += [(name, value)] * schema.get("maxItems", FILTER_VALUES)
        elif name == "cursor":
            pairs.append((name, URL_SAFE_CHARACTER * schema["maxLength"]))
        elif schema.get("format") == "date-time":
            # Valid, padded to the documented maximum with fraction digits
            # (Python keeps the first six); "+" percent-encoded.
            padding = schema["maxLength"] - len(DATE_TIME)
            pairs.append((name, DATE_TIME.replace(".", "." + "0" * padding, 1)
                          if "." in DATE_TIME else DATE_TIME))
        elif "maxLength" in schema:
            pairs.append((name, ESCAPED_CHARACTER * schema["maxLength"]))
        elif schema.get("type") == "boolean":
            pairs.append((name, "false"))
        elif schema.get("type") == "integer":
            pairs.append((name, str(schema["maximum"])))
        elif schema.get("format") == "date-time":
            pairs.append((name, DATE_TIME))
        elif schema.get("format") == "date":
            pairs.append((name, "2026-11-21"))
        elif name == "sort":
            pairs.append((name, ",".join(f"-{key}" for key in SORT_KEYS)))
        else:
            pytest.fail(f"no maximum known for the list parameter {name}: {schema}")
    return pairs


def test_documented_maxima_fit_in_the_request_line(server):
    _, _, spec = server.request("GET", "/api/openapi.json")
    server.request("POST", "/api/v1/auth/register",
                   {"email": "limits@example.com", "password": PASSWORD, "name": "L"})
    _, _, tokens = server.request("POST", "/api/v1/auth/login",
                                  {"email": "limits@example.com", "password": PASSWORD})
    pairs = maximal_list_query(spec)
    path = f"/api/v1/tasks?{urlencode(pairs)}"
    line = f"GET {path} HTTP/1.1"
    print(f"\nmaximal GET /api/v1/tasks request line: {len(line)} of {LIMIT} bytes")
    assert len(line) <= LIMIT
    assert f"up to {LIMIT} bytes" in spec["info"]["description"]  # and documented
    assert sum(name == "tag" for name, _ in pairs) == FILTER_VALUES

    status, _, body = server.request("GET", path, token=tokens["access_token"])

    # The app answered: every parameter valid but the made-up cursor.
    assert status == 422, body
    assert body["errors"] == {"query": {"cursor": body["errors"]["query"]["cursor"]}}


def test_request_line_at_the_limit_reaches_the_app(server):
    path = "/api/v1/tasks?q=" + "a" * (LIMIT - len("GET /api/v1/tasks?q= HTTP/1.1"))
    status, headers, body = raw_request(server.port, get(path))

    error = assert_json_error(status, headers, body, 401)  # the app's: no token
    assert "x-request-id" in headers, error


def test_request_line_over_the_limit_is_a_json_414(server):
    path = "/api/v1/tasks?q=" + "a" * (LIMIT + 1 - len("GET /api/v1/tasks?q= HTTP/1.1"))
    status, headers, body = raw_request(server.port, get(path))

    error = assert_json_error(status, headers, body, 414)
    assert str(LIMIT) in error["message"]
    assert headers["connection"] == "close"


def test_too_long_uri_over_http_client_is_a_json_414(server):
    status, headers, body = server.request("GET", "/api/v1/tasks?cursor=" + "x" * 9000)

    assert status == 414
    assert headers["Content-Type"] == "application/json"
    assert body["code"] == 414 and body["status"] == HTTPStatus(414).phrase
    assert body["message"]


def test_header_field_over_the_limit_is_a_json_431(server):
    data = get("/health").replace(b"\r\n\r\n", b"\r\nX-Big: " + b"b" * 9000 + b"\r\n\r\n")
    error = assert_json_error(*raw_request(server.port, data), 431)
    assert "8190" in error["message"]


def test_too_many_header_fields_is_a_json_431(server):
    fields = b"".join(b"X-F%d: 1\r\n" % n for n in range(150))
    data = get("/health").replace(b"\r\n\r\n", b"\r\n" + fields + b"\r\n")
    assert_json_error(*raw_request(server.port, data), 431)


@pytest.mark.parametrize("data", [
    b"NOT A REQUEST LINE\r\n\r\n",
    b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nNo colon here\r\n\r\n",
], ids=["request-line", "header"])
def test_malformed_request_is_a_json_400(server, data):
    assert_json_error(*raw_request(server.port, data), 400)


def warnings_in(log: str) -> list[str]:
    return [line for line in log.splitlines() if WARNING in line]


def test_per_worker_limits_are_warned_about_once(server):
    deadline = time.monotonic() + 60
    while not warnings_in(server.log()):
        assert time.monotonic() < deadline, "no warning after 60 s"
        time.sleep(0.2)
    # Both workers serve by now (each accepts only after its post_worker_init).
    for _ in range(40):
        assert server.request("GET", "/health").status == 200
    time.sleep(1)

    (warning,) = warnings_in(server.log())
    assert " WARNING taskapi.ratelimits " in warning
    assert ("RATELIMIT_DEFAULT 300 per minute is counted per worker: with 2 workers a "
            "client gets up to 600 per minute.") in warning
    assert "RATELIMIT_AUTH_PER_IP 20 per minute; 200 per hour" in warning
    assert "up to 40 per minute; 400 per hour" in warning
    assert "RATELIMIT_STORAGE_URI=redis://" in warning


# --- the warning's rules, in process ------------------------------------------------


def limit_settings(**changes) -> dict:
    """The default rate-limit settings in production, with two limits fixed here."""
    settings = {name: getattr(Defaults, name) for name in dir(Defaults)
                if name.startswith("RATELIMIT_")}
    return {**settings, "ENV": "production", "RATELIMIT_DEFAULT": "300 per minute",
            "RATELIMIT_AUTH_PER_ACCOUNT": "10 per minute; 50 per hour", **changes}


@pytest.mark.parametrize("changes, workers", [
    ({}, 1),
    ({"ENV": "development"}, 4),
    ({"RATELIMIT_STORAGE_URI": "redis://redis.internal:6379/0"}, 4),
    ({"RATELIMIT_ENABLED": False}, 4),
], ids=["one-worker", "development", "redis", "disabled"])
def test_no_warning_when_counts_are_not_split(changes, workers):
    assert per_worker_limits_warning(limit_settings(**changes), workers) is None


def test_warning_multiplies_every_limit_by_the_workers():
    warning = per_worker_limits_warning(
        limit_settings(RATELIMIT_DEFAULT="100/10 seconds; 1000 per day",
                       RATELIMIT_STRATEGY="fixed-window", RATELIMIT_KEY_PREFIX=""), 4)

    assert warning.startswith("RATELIMIT_DEFAULT 100/10 seconds; 1000 per day is counted "
                              "per worker: with 4 workers a client gets up to 400 per 10 "
                              "seconds; 4000 per day.")
    assert "RATELIMIT_AUTH_PER_ACCOUNT 10 per minute; 50 per hour" in warning
    assert "up to 40 per minute; 200 per hour" in warning
    assert "RATELIMIT_STORAGE_URI" in warning and "memory://" in warning
    assert "RATELIMIT_STRATEGY" not in warning and "RATELIMIT_ENABLED" not in warning
    # Every other limit setting is named too, each with its own multiplied limit.
    for name in dir(Defaults):
        if name.startswith("RATELIMIT_") and " per " in str(getattr(Defaults, name)):
            assert f"{name} " in warning, name


@pytest.mark.parametrize(("age", "warned"), [(1, True), (2, False), (3, False)])
def test_only_the_first_worker_of_a_start_up_warns(caplog, age, warned):
    worker = SimpleNamespace(age=age, cfg=SimpleNamespace(workers=2),
                             wsgi=SimpleNamespace(config=limit_settings()))
    with caplog.at_level(logging.WARNING, logger="taskapi.ratelimits"):
        warn_per_worker_limits(worker)

    assert any(WARNING in record.getMessage() for record in caplog.records) is warned
