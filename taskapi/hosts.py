"""The ``Host`` header: never reflected in an answer, optionally checked.

A client chooses the ``Host`` header it sends. An absolute URL built from it
(``http://<Host>/...``) and sent back in ``Location`` or ``Link`` would point
wherever that client, or a cache or proxy in between, said: so taskapi sends
relative references only (RFC 3986 section 4.2), which ``Location`` (RFC 9110
section 10.2.2) and ``Link`` (RFC 8288 section 3.2) allow and which the client
resolves against the URL it asked for.

- ``Location`` of a 201 and of the ``/docs`` redirect: ``url_for`` without
  ``_external``, already relative.
- ``Link`` of a list page: a path and query (:mod:`taskapi.tasks.listing`).
- Werkzeug's own routing redirects (``/api//v1/tasks`` to ``/api/v1/tasks``,
  308) carry an absolute URL built from ``Host``; :func:`init_hosts` answers
  them here with the same status and a relative ``Location``.

Operators who want the ``Host`` header checked too set ``TRUSTED_HOSTS``
(``TASKAPI_TRUSTED_HOSTS``, Flask 3.1): a request for another host is then a
400 in the one JSON error shape (:mod:`taskapi.errors`). ``SERVER_NAME`` is not
needed: taskapi builds no absolute URL.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from flask import Flask, Response, redirect, request
from werkzeug.routing import RequestRedirect


def relative_reference(url: str) -> str:
    """``url`` without its scheme and authority: ``http://h/a?b`` -> ``/a?b``.

    The path starts with exactly one slash: ``//h/a`` would be a network-path
    reference (RFC 3986 section 4.2), another host again.
    """
    parts = urlsplit(url)
    return urlunsplit(("", "", "/" + parts.path.lstrip("/"), parts.query, parts.fragment))


def _relative_routing_redirect() -> Response | None:
    error = request.routing_exception
    if isinstance(error, RequestRedirect):
        return redirect(relative_reference(error.new_url), error.code)
    return None


def init_hosts(app: Flask) -> None:
    """Answer Werkzeug's routing redirects with a relative ``Location`` (same
    status: 308, or 301 for a rule's ``redirect_to``) before the view would."""
    app.before_request(_relative_routing_redirect)
