"""WSGI entry point for gunicorn: ``gunicorn -c gunicorn.conf.py wsgi:app``.

A configuration error (e.g. production without strong secrets) prints one clear
line and exits with status 1 instead of a traceback.
"""

import sys

from taskapi import create_app
from taskapi.config import ConfigurationError

try:
    app = create_app()
except ConfigurationError as error:
    sys.stderr.write(f"taskapi: configuration error: {error}\n")
    raise SystemExit(1) from None
