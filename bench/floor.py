"""The benchmark's floor: a bare Flask app answering one fixed small JSON document.

Served by the same ``gunicorn -c gunicorn.conf.py`` settings as taskapi (worker
class, workers, threads), it measures what gunicorn + Flask cost on this machine
before any of taskapi's work (auth, database, schemas, logging)::

    gunicorn -c gunicorn.conf.py bench.floor:app      # from the repository root

``GET /`` answers 200 with :data:`DOCUMENT` (about 100 bytes); nothing else runs.
"""

from __future__ import annotations

from flask import Flask

#: The fixed response body: roughly the size of one small task.
DOCUMENT = {"id": 1, "title": "A fixed small document", "completed": False,
            "priority": "medium", "tags": ["floor"]}

app = Flask(__name__)


@app.get("/")
def document():
    """The fixed JSON document, 200."""
    return DOCUMENT
