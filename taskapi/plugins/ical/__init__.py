"""Built-in plugin ``ical``: the user's due tasks as an iCalendar feed.

``GET /api/v1/calendar.ics`` answers an RFC 5545 calendar built with the
``icalendar`` package, for calendar apps to subscribe to by URL (Google
Calendar, Apple Calendar, Thunderbird): one VTODO per open task with a due
date, or one VEVENT each with ``?as=events`` for apps that ignore VTODO. It
needs a personal access token with ``calendar:read`` (or an access JWT),
sent as a bearer or, for apps that cannot send headers, as ``?token=``
(:func:`_token_from_query`). ``ETag``/``If-None-Match`` make a poll with
nothing new a 304 that reads no task.
"""

from __future__ import annotations

from flask import Flask, request

from taskapi import __version__

PATH = "/api/v1/calendar.ics"


class Plugin:
    name = "ical"
    version = __version__
    config = {
        "ICAL_MAX_TASKS": (1000, "Most tasks in one calendar feed (soonest due first)"),
        "ICAL_EVENT_MINUTES": (30, "Length of the events of ?as=events, in minutes"),
        "ICAL_UID_DOMAIN": ("taskapi", "Right-hand side of the feed's UIDs "
                            "(task-<id>@<domain>); set it to your host name"),
    }

    def init_app(self, app: Flask, api) -> None:
        from taskapi.plugins.ical.routes import blp
        from taskapi.plugins.pat.scopes import add_route

        api.register_blueprint(blp)
        add_route(app, r"^/api/v1/calendar\.ics$", "calendar:read")
        # First of all before_request functions: the token check then reads it.
        app.before_request_funcs.setdefault(None, []).insert(0, _token_from_query)


def _token_from_query():
    """``?token=tapi_...`` on the feed stands for ``Authorization: Bearer`` when no
    such header is sent: calendar apps subscribe by URL and cannot send one.

    The trade-off: a URL is written where a header is not (the app's settings,
    proxies' logs, browser history; taskapi's own access log keeps the path
    only). So only personal access tokens are taken from the URL, never a
    password session's JWT: make one with the ``calendar:read`` scope alone,
    for the feed only, and revoke it (DELETE /api/v1/auth/tokens/{id}) if the
    URL leaks; it can read the calendar and nothing else."""
    if request.path != PATH or request.environ.get("HTTP_AUTHORIZATION"):
        return
    token = request.args.get("token")
    if token and token.startswith("tapi_"):
        request.environ["HTTP_AUTHORIZATION"] = f"Bearer {token}"


plugin = Plugin()
