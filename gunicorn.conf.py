"""gunicorn settings, read from the environment (docs: gunicorn.org, "Settings").

GUNICORN_BIND            default 127.0.0.1:8000
GUNICORN_WORKERS         default one per CPU core, at least 2, at most 8 (taskapi is CPU-bound:
                         more processes than cores only add switching; docs/performance.md)
GUNICORN_WORKER_CLASS    default taskapi.gunicorn_worker.JSONErrorThreadWorker: gthread, whose
                         own error answers (414, 431, 400 before the app) are in the one
                         JSON error shape; "gthread" gives gunicorn's HTML pages instead
GUNICORN_THREADS         default 4 (gthread only)
GUNICORN_LIMIT_REQUEST_LINE  bytes of the request line (method, path, query, version),
                         default and most 8190 (gunicorn's maximum; its default is 4094):
                         a GET /api/v1/tasks with every parameter at its documented
                         maximum (2,048-character cursor, 20 tags of 50 characters,
                         percent-encoded) is about 6,400 bytes. Longer: 414
GUNICORN_TIMEOUT         seconds a worker may stay silent before it is restarted, default 30
GUNICORN_GRACEFUL_TIMEOUT seconds to finish requests on restart, default 30
GUNICORN_KEEPALIVE       seconds, default 5
GUNICORN_MAX_REQUESTS    restart a worker after this many requests, with 10% jitter so
                         workers do not restart together (0 = never), default 1000000:
                         a bound on slow leaks, not a routine (a restart costs about a
                         second of CPU, drops kept-alive connections and empties the
                         process's list cache; at 1,000 requests/s per worker, 10,000
                         meant a restart every 10 s)
GUNICORN_LOG_LEVEL       default info
FORWARDED_ALLOW_IPS      gunicorn's own setting (environment variable of that name):
                         proxies trusted for X-Forwarded-Proto, default 127.0.0.1. The
                         client IP for rate limits comes from TASKAPI_PROXY_FIX_X_FOR.

At start-up the first worker warns when rate limits are counted per worker
(production, RATELIMIT_STORAGE_URI=memory://, more than one worker): see
taskapi.gunicorn_worker.

The access log is the app's own (logger taskapi.access: one line per request with
request id, user and duration, text or JSON), so gunicorn's is off.
"""

import multiprocessing
import os


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = _int("GUNICORN_WORKERS", min(max(multiprocessing.cpu_count(), 2), 8))
worker_class = os.environ.get("GUNICORN_WORKER_CLASS",
                              "taskapi.gunicorn_worker.JSONErrorThreadWorker")
threads = _int("GUNICORN_THREADS", 4)
timeout = _int("GUNICORN_TIMEOUT", 30)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
keepalive = _int("GUNICORN_KEEPALIVE", 5)
max_requests = _int("GUNICORN_MAX_REQUESTS", 1000000)
max_requests_jitter = max_requests // 10
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
# docs/openapi.json's maxLengths fit in it (see above); gunicorn refuses more than 8190.
limit_request_line = min(_int("GUNICORN_LIMIT_REQUEST_LINE", 8190), 8190)
# The app writes one access line per request itself (taskapi.access).
accesslog = None
errorlog = "-"


def post_worker_init(worker):
    from taskapi.gunicorn_worker import warn_per_worker_limits

    warn_per_worker_limits(worker)
