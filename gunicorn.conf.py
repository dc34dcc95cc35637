"""gunicorn settings, read from the environment (docs: gunicorn.org, "Settings").

GUNICORN_BIND            default 127.0.0.1:8000
GUNICORN_WORKERS         default 2 x CPU cores + 1, at most 8
GUNICORN_WORKER_CLASS    default gthread
GUNICORN_THREADS         default 4 (gthread only)
GUNICORN_TIMEOUT         seconds a worker may stay silent before it is restarted, default 30
GUNICORN_GRACEFUL_TIMEOUT seconds to finish requests on restart, default 30
GUNICORN_KEEPALIVE       seconds, default 5
GUNICORN_MAX_REQUESTS    restart a worker after this many requests (0 = never), default 0
GUNICORN_LOG_LEVEL       default info
"""

import multiprocessing
import os


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = _int("GUNICORN_WORKERS", min(multiprocessing.cpu_count() * 2 + 1, 8))
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gthread")
threads = _int("GUNICORN_THREADS", 4)
timeout = _int("GUNICORN_TIMEOUT", 30)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
keepalive = _int("GUNICORN_KEEPALIVE", 5)
max_requests = _int("GUNICORN_MAX_REQUESTS", 0)
max_requests_jitter = max_requests // 10
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
# The app writes one access line per request itself (taskapi.access).
accesslog = None
errorlog = "-"
