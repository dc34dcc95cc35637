"""List ETags and cached list pages, keyed by the user's data version.

A list response depends only on the user's tasks and tags, the user's time
zone (``due_on``), the request's URL and query, and the server's settings. All
but the last are in the key of a list page; the first is summed up by the
user's ``data_version`` (:mod:`taskapi.data_version`), which the token check
has already read. So, for ``GET /api/v1/tasks`` and the original contract's
list:

- every 200 carries a strong ``ETag`` derived from that key, and a request whose
  ``If-None-Match`` matches it (weak comparison, RFC 9110 section 13.1.2) is a
  304 with no body, before any task is read;
- the rendered page (body and headers) is kept in the list cache
  (Flask-Caching: ``CACHE_TYPE``, ``SimpleCache`` per process by default,
  ``RedisCache`` to share it between processes and machines) for
  ``CACHE_DEFAULT_TIMEOUT`` seconds, and served from there while the version
  is the same. Bodies over ``LIST_CACHE_MAX_BYTES`` are not kept.

Any write of the user's data moves the version, so neither can serve a stale
page: a reader that saw version ``v`` reads data at least as new as ``v``. A
list filtered with ``overdue`` depends on the clock too and is never cached or
tagged. Revocation is unaffected: the token check runs before any of this.
"""

from __future__ import annotations

import functools
import hashlib

from flask import Response, current_app, g, request
from flask_jwt_extended import current_user

from taskapi.extensions import cache

#: Part of every key: bump it when a release changes what a list page holds (its
#: fields, its default order), so that no ETag or kept page of the previous
#: release matches. 2: the original contract's lists gained ``dueDate`` and
#: creation order.
PAGE_FORMAT = 2
#: Set in ``g`` by a request that runs inside another's open transaction (an
#: operation of a batch): its pages are neither read from nor kept in the cache.
IN_TRANSACTION = "taskapi.in_outer_transaction"
#: Headers of a list page that are kept with its body.
KEPT_HEADERS = ("X-Pagination", "X-Next-Cursor", "Link", "ETag")


def list_etag(endpoint: str) -> str | None:
    """The ETag of the list this request asks for (hex SHA-1 of the page's key),
    or None when the list depends on the clock (``overdue``)."""
    if "overdue" in request.args:
        return None
    user = current_user
    # The path, not the URL: pages hold no host, and a forged Host header must
    # not multiply the kept pages. The raw query string: escaping and the order
    # of repeated values intact.
    query = request.query_string.decode("latin-1")
    key = (f"{PAGE_FORMAT}\n{endpoint}\n{user.id}\n{user.data_version}\n{user.timezone}\n"
           f"{request.path}\n{query}")
    return hashlib.sha1(key.encode("utf-8", "surrogatepass")).hexdigest()  # noqa: S324 (a key, not a secret)


def _not_modified(etag: str) -> Response:
    return Response(status=304, headers={"ETag": f'"{etag}"'})


def cached_list(view):
    """Decorator of a list view (outermost, so it runs after ``jwt_required`` and
    before argument parsing): 304 on a matching ``If-None-Match``, the cached page
    when there is one, else the view's response, tagged and kept."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        etag = list_etag(request.endpoint)
        if etag is None:
            return view(*args, **kwargs)
        # A list ETag is only ever issued for a valid query, so a match is a 304
        # before parsing; "*" matches any query, so it waits for the view's
        # validation (a 422 stays a 422) and turns its 200 into the 304.
        star = request.if_none_match.star_tag
        if not star and request.if_none_match.contains_weak(etag):
            return _not_modified(etag)
        key = f"taskapi:list:{etag}"
        # Not inside a batch (taskapi.sync.batch): its transaction may still roll
        # back, and a page of its uncommitted data must not outlive it.
        keep = current_app.config["LIST_CACHE"] and not g.get(IN_TRANSACTION)
        kept = cache.get(key) if keep else None
        if kept is not None:
            if star:  # the kept page proves the query valid
                return _not_modified(etag)
            body, headers = kept
            return current_app.response_class(body, status=200, headers=headers,
                                              mimetype="application/json")
        response = view(*args, **kwargs)
        if star and isinstance(response, Response) and response.status_code == 200:
            return _not_modified(etag)
        if isinstance(response, Response) and response.status_code == 200:
            response.headers["ETag"] = f'"{etag}"'
            body = response.get_data()
            if keep and len(body) <= current_app.config["LIST_CACHE_MAX_BYTES"]:
                headers = [(name, response.headers[name]) for name in KEPT_HEADERS
                           if name in response.headers]
                cache.set(key, (body, headers))
        return response

    # For the OpenAPI document: taskapi.smorest.Blueprint adds If-None-Match.
    wrapper._apidoc = {**getattr(wrapper, "_apidoc", {}), "list_etag": True}
    return wrapper
