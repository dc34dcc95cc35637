"""``GET /api/v1/calendar.ics``: the user's due tasks as RFC 5545 VTODOs or VEVENTs."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import marshmallow as ma
from flask import Response, current_app, request
from flask.views import MethodView
from flask_jwt_extended import current_user, jwt_required
from icalendar import Calendar, Event, Todo, vRecur

from taskapi import __version__
from taskapi.fields import QueryBoolean
from taskapi.models import utcnow
from taskapi.smorest import Blueprint, bearer_auth
from taskapi.tasks import queries
from taskapi.tasks.filters import parse_sort
from taskapi.tasks.schemas import TaskFilterArgsSchema

blp = Blueprint(
    "calendar", __name__, url_prefix="/api/v1",
    description="Your due tasks as an iCalendar feed (RFC 5545) to subscribe to from a "
    "calendar app (built-in plugin `ical`).")
auth_doc = bearer_auth(blp)

#: RFC 5545 section 3.8.1.9: 1 is the highest priority, 9 the lowest, 0 none.
PRIORITY = {"high": 1, "medium": 5, "low": 9}
PRODID = f"-//taskapi//taskapi {__version__}//EN"
MEDIA_TYPE = "text/calendar"


class CalendarArgsSchema(TaskFilterArgsSchema):
    """The task list's filters (open tasks with a due date unless ``completed``
    says otherwise), the kind of component, and the token of apps that cannot
    send headers."""

    class Meta:
        exclude = ("sort", "cursor", "has_due")

    as_ = ma.fields.String(
        data_key="as", load_default="todos", validate=ma.validate.OneOf(("todos", "events")),
        metadata={"description": "todos (VTODO, the default) or events (VEVENT at the due "
                  "time, ICAL_EVENT_MINUTES long, for apps that ignore VTODO)"})
    completed = QueryBoolean(
        load_default=False,
        metadata={"description": "false (the default): open tasks; true: completed ones"})
    token = ma.fields.String(
        validate=ma.validate.Length(min=1, max=200),
        metadata={"description": "A personal access token with calendar:read, for calendar "
                  "apps that subscribe by URL and cannot send Authorization (only tapi_ "
                  "tokens are read here; see the README on the trade-off)"})


def _etag(args: dict, zone: str) -> str:
    """Changes with every write of the user's tasks (``data_version``), the time
    zone, the query (its ``token`` aside) and the settings; with ``overdue``,
    every minute too (it compares with the clock)."""
    query = sorted((k, v) for k, v in request.args.items(multi=True) if k != "token")
    config = current_app.config
    parts = [current_user.id, current_user.data_version, zone, query,
             config["ICAL_UID_DOMAIN"], config["ICAL_EVENT_MINUTES"],
             config["ICAL_MAX_TASKS"], __version__]
    if "overdue" in args:
        parts.append(utcnow().replace(second=0, microsecond=0).isoformat())
    return '"' + hashlib.sha256(repr(parts).encode()).hexdigest()[:32] + '"'


def _moment(text: str, zone: ZoneInfo) -> datetime:
    return datetime.fromisoformat(text).astimezone(zone)


def build_calendar(tasks: list[dict], zone_name: str, *, events: bool) -> bytes:
    """The calendar of ``tasks`` (row dicts of :mod:`taskapi.tasks.rows`) in IANA
    ``zone_name``: times with its TZID and a VTIMEZONE (UTC times for UTC), so
    that a recurring task's RRULE repeats at its local wall time, as taskapi
    computes it. Each component: UID ``task-<id>@ICAL_UID_DOMAIN`` (stable),
    DTSTAMP and LAST-MODIFIED the task's ``updated_at``, CREATED, SUMMARY,
    DESCRIPTION, CATEGORIES (tags), PRIORITY (high 1, medium 5, low 9), and
    RRULE with DTSTART at the due time for a recurring task; a VTODO has DUE
    and STATUS (NEEDS-ACTION, or COMPLETED with COMPLETED), a VEVENT DTSTART
    and DTEND."""
    zone = ZoneInfo(zone_name)
    domain = current_app.config["ICAL_UID_DOMAIN"]
    length = timedelta(minutes=current_app.config["ICAL_EVENT_MINUTES"])
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", "Tasks")
    calendar.add("x-wr-timezone", zone_name)
    for task in tasks:
        component = Event() if events else Todo()
        due = _moment(task["due_at"], zone)
        component.add("uid", f"task-{task['id']}@{domain}")
        component.add("dtstamp", datetime.fromisoformat(task["updated_at"]))
        component.add("created", datetime.fromisoformat(task["created_at"]))
        component.add("last-modified", datetime.fromisoformat(task["updated_at"]))
        component.add("summary", task["title"])
        if task["description"]:
            component.add("description", task["description"])
        if task["tag_names"]:
            component.add("categories", task["tag_names"])
        if task["priority"] in PRIORITY:
            component.add("priority", PRIORITY[task["priority"]])
        if events:
            component.add("dtstart", due)
            component.add("dtend", due + length)
        else:
            component.add("due", due)
            if task["completed"]:
                component.add("status", "COMPLETED")
                component.add("completed", datetime.fromisoformat(task["completed_at"]))
            else:
                component.add("status", "NEEDS-ACTION")
        recurrence = task.get("recurrence")
        if recurrence is not None:
            if not events:
                component.add("dtstart", due)
            component.add("rrule", vRecur.from_ical(recurrence["rule"]))
        calendar.add_component(component)
    if zone_name != "UTC":
        calendar.add_missing_timezones()
    return calendar.to_ical()


@blp.route("/calendar.ics")
class CalendarFeed(MethodView):
    decorators = [jwt_required()]

    @blp.doc(operationId="getCalendarFeed", responses={
        "200": {"description": "An RFC 5545 calendar",
                "content": {MEDIA_TYPE: {"schema": {"type": "string"},
                                         "example": "BEGIN:VCALENDAR\r\nVERSION:2.0\r\n..."}},
                "headers": {"ETag": {"description": "Send it back as If-None-Match",
                                     "schema": {"type": "string"}}}},
        "304": {"description": "Nothing changed since the ETag sent as If-None-Match"}})
    @blp.arguments(CalendarArgsSchema, location="query")
    @auth_doc
    def get(self, args):
        """Your due tasks as an iCalendar feed

        One VTODO per open task with a due date (the task list's filters
        apply; `completed=true` for completed ones), soonest first, at most
        `ICAL_MAX_TASKS`; `as=events` for VEVENTs. Times are in your time zone
        (`timezone` of GET /api/v1/auth/me), with its VTIMEZONE. Subscribe
        with a personal access token with `calendar:read`: as a bearer, or as
        `?token=` for calendar apps that cannot send headers. With
        `If-None-Match` and the last `ETag`, nothing new is a 304.
        """
        zone = current_user.timezone
        etag = _etag(args, zone)
        if request.if_none_match.contains(etag.strip('"')):
            return Response(status=304, headers={"ETag": etag})
        filters = {key: value for key, value in args.items() if key not in ("as_", "token")}
        filters.update(has_due=True, hide_archived=True, sort=parse_sort("due_at"))
        page = queries.list_tasks(current_user.id, filters, zone=zone,
                                  limit=current_app.config["ICAL_MAX_TASKS"])
        body = build_calendar(page.items, zone, events=args["as_"] == "events")
        return Response(body, mimetype=MEDIA_TYPE, headers={
            "ETag": etag, "Cache-Control": "private, no-cache",
            "Content-Disposition": 'inline; filename="tasks.ics"'})
