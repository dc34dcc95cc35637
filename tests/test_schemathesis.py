"""Property-based tests generated from the OpenAPI document (schemathesis v4).

Every operation of /api/openapi.json, v1 and the Phase II contract, is called in
process through WSGI with generated requests: the document's examples, its
boundary values (coverage phase) and random valid and invalid data (fuzzing), as
the test user (register, log in, refresh or log in again after a 401). Every
built-in check runs on every response. A stateful test then follows the
document's links (create -> get, replace, update, complete, delete) so that the
checks that need a history (``use_after_free``, ``ensure_resource_availability``)
have one.

Deterministic: a fixed seed (``TASKAPI_SCHEMATHESIS_SEED``) and a bounded number
of examples per operation (``TASKAPI_SCHEMATHESIS_EXAMPLES``, default 25). The
longer local run is in the README (Development).

What the generator cannot know, and how it is handled (nothing is silenced):

- ``cursor`` (list query) and ``refresh_token`` (logout bodies) are opaque values
  the server signs or issues; a generated string, or the document's example, is
  never one, so positive cases do not send them (they stay in negative cases);
  tests/test_cursors.py and tests/test_auth.py cover real ones.
- Three rules no JSON Schema states: a ``sort`` key appears at most once (positive
  cases keep its first occurrence), ``timezone`` must be a zone the IANA
  database knows (positive cases get one, chosen from the generated text), and
  a password change's ``new_password`` differs from ``current_password``
  (positive cases get one that does). A successful change is remembered, so
  that logging in again after a logout uses the new password.
- A generated ``If-Match`` is a stale precondition, and 412 is its correct answer
  (RFC 9110 section 13.1.1), so ``positive_data_acceptance`` also accepts 412.
- ``Idempotency-Key`` names one request, so positive cases get a fresh key each
  (a reused one is a 422 by design; tests/test_idempotency.py covers replays).
  A batch's operations are requests of their own: positive batches carry one
  valid operation (tests/test_batch.py covers the rest); ``since`` of the sync
  feed is opaque, like ``cursor``.
- A task's ``recurrence`` needs a ``due_at`` with occurrences after it, and
  clearing ``due_at`` of a recurring task needs ``recurrence: null``: positive
  task bodies with a recurrence get a valid rule and due date, and those that
  clear ``due_at`` end the recurrence (tests/test_recurring_tasks.py covers
  every refusal).
- A personal access token's ``expires_in_days`` is bounded by the setting
  ``PAT_MAX_DAYS`` (the document's maximum is the largest a deployment may
  set): positive cases stay within the default.
- The compat routes' ``user_id`` is fixed to the test user; other users' ids are
  tests/test_attack_authz.py's subject.
"""

from __future__ import annotations

import os
import uuid
import zoneinfo

import pytest
import schemathesis
from flask_migrate import stamp
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode

from taskapi import create_app
from taskapi.extensions import db
from tests.helpers import PASSWORD, TEST_SECRETS
from tests.report import record

pytestmark = [pytest.mark.heavy, pytest.mark.usefixtures("restore_logging")]

SEED = int(os.environ.get("TASKAPI_SCHEMATHESIS_SEED", "20261121"))
MAX_EXAMPLES = int(os.environ.get("TASKAPI_SCHEMATHESIS_EXAMPLES", "25"))
STATEFUL_EXAMPLES = int(os.environ.get("TASKAPI_SCHEMATHESIS_STATEFUL_EXAMPLES", "30"))
EMAIL = "ada@example.com"
PLACEHOLDER = "placeholder"
ZONES = sorted(zoneinfo.available_timezones())
USER_ID = 1
#: The deployment's limit on a personal access token's lifetime (the default).
PAT_MAX_DAYS = 365

#: Opaque, server-issued values: (operationId, location, name).
OPAQUE = {("listTasks", "query", "cursor"), ("compatListTasks", "query", "cursor"),
          ("sync", "query", "since"),
          ("logOut", "body", "refresh_token"), ("compatLogOut", "body", "refresh_token")}

STATEFUL = (("createTask", "body", ("list_id", "parent_id")),
            ("moveTask", "body", ("list_id", "parent_id", "after_id")),
            ("updateList", "body", ("name", "archived")),
            ("moveList", "body", ("after_id",)),
            ("deleteList", "query", ("tasks", "to")))
_names: list[str] = []

SPEC_APP = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite://", **TEST_SECRETS})
CONFIG = schemathesis.Config.from_dict({
    "seed": SEED,
    "generation": {"max-examples": MAX_EXAMPLES},
    "parameters": {"user_id": USER_ID},
    "checks": {
        "positive_data_acceptance": {
            "expected-statuses": ["2xx", "3xx", "401", "403", "404", "409", "412", "429"],
        },
    },
})
schema = schemathesis.openapi.from_wsgi("/api/openapi.json", SPEC_APP, config=CONFIG)


class Session:
    """The test user in the current test's app (``app`` is None between tests)."""

    app = None
    access_token = ""
    refresh_token = ""
    password = PASSWORD
    stale = False

    @classmethod
    def start(cls, app) -> None:
        """Empty the database, stamp it at head (so /ready is 200), register and log in."""
        with app.app_context():
            db.drop_all()
            db.create_all()
            stamp()
        client = app.test_client()
        response = client.post("/api/v1/auth/register",
                               json={"email": EMAIL, "password": PASSWORD, "name": "Ada"})
        assert response.status_code == 201 and response.get_json()["id"] == USER_ID
        cls.app, cls.refresh_token, cls.password = app, "", PASSWORD
        cls.renew()

    @classmethod
    def renew(cls) -> str:
        """A new access token: refresh (rotation), else log in again (after a logout)."""
        client = cls.app.test_client()
        response = client.post("/api/v1/auth/refresh",
                               headers={"Authorization": f"Bearer {cls.refresh_token}"})
        if response.status_code != 200:
            response = client.post("/api/v1/auth/login",
                                   json={"email": EMAIL, "password": cls.password})
        body = response.get_json()
        cls.access_token, cls.refresh_token = body["access_token"], body["refresh_token"]
        cls.stale = False
        return cls.access_token

    @classmethod
    def token(cls) -> str:
        return cls.renew() if cls.stale else cls.access_token


@schema.auth(refresh_interval=None)
class TokenAuth:
    """The test user's bearer token, asked for every case: renewed after a logout.

    Examples are generated at collection, before any app exists: they carry
    ``PLACEHOLDER``, replaced with the real token just before the call.
    """

    def get(self, case, context):
        return Session.token() if Session.app is not None else PLACEHOLDER

    def set(self, case, data, context):
        case.headers = case.headers or {}
        case.headers["Authorization"] = f"Bearer {data}"


@schemathesis.hook("before_call")
def fill_placeholder(context, case, kwargs):
    if case.headers and case.headers.get("Authorization") == f"Bearer {PLACEHOLDER}":
        case.headers["Authorization"] = f"Bearer {Session.token()}"
    # The examples phase does not pass its cases through map_case: same rules here.
    make_positive_cases_valid(context, case)


@schema.hook("after_call")
def note_logout(context, case, response):
    """A successful logout revoked the access token (and maybe the refresh token);
    a successful password change set the password used to log in again."""
    operation_id = case.operation.definition.raw.get("operationId")
    if operation_id in ("logOut", "compatLogOut") and response.status_code < 300:
        Session.stale = True
    if operation_id == "changePassword" and response.status_code < 300:
        Session.password = case.body["new_password"]


@schema.hook("map_case")
def make_positive_cases_valid(context, case):
    """Positive cases: drop opaque values, and keep to the rules a JSON Schema
    cannot state (module docstring)."""
    if case.meta is None or case.meta.generation.mode != GenerationMode.POSITIVE:
        return case
    operation_id = case.operation.definition.raw.get("operationId")
    for op, location, name in OPAQUE:
        if op != operation_id:
            continue
        if location == "query" and case.query:
            case.query.pop(name, None)
        elif location == "body" and isinstance(case.body, dict):
            case.body.pop(name, None)
    # Lists and placement refer to the database's state, which a schema cannot
    # state: names unique per user, the Inbox's rules, ids of existing rows.
    for op, location, names in STATEFUL:
        if op == operation_id:
            target = case.query if location == "query" else case.body
            if isinstance(target, dict):
                for name in names:
                    target.pop(name, None)
    if operation_id == "createList" and isinstance(case.body, dict) \
            and isinstance(case.body.get("name"), str):
        _names.append(case.body["name"])
        case.body["name"] = f"{case.body['name'][:90]} {len(_names)}"
    if operation_id in ("createTask", "replaceTask", "updateTask") \
            and isinstance(case.body, dict):
        # A rule's occurrences depend on due_at, which a schema cannot tie to it:
        # a recurrence goes with a due date that has occurrences after it, and a
        # due date cleared ends a recurrence the task may have.
        if case.body.get("recurrence") is not None:
            case.body["recurrence"] = {"rule": "FREQ=WEEKLY;BYDAY=MO", "from": "due"}
            case.body["due_at"] = "2030-01-07T09:00:00Z"
        elif "due_at" in case.body and case.body["due_at"] is None:
            case.body["recurrence"] = None
    if operation_id == "createPersonalAccessToken" and isinstance(case.body, dict) \
            and isinstance(case.body.get("expires_in_days"), int) \
            and case.body["expires_in_days"] > PAT_MAX_DAYS:
        case.body["expires_in_days"] = PAT_MAX_DAYS
    if case.query and isinstance(case.query.get("sort"), str):
        case.query["sort"] = _first_of_each_key(case.query["sort"])
    if case.headers and "Idempotency-Key" in case.headers:
        # A key names one request: another generated request with the same
        # generated key is a (correct) 422, so each positive case has its own.
        case.headers["Idempotency-Key"] = str(uuid.uuid4())
    if operation_id == "batch" and isinstance(case.body, dict):
        # Each operation is a request of its own, answered as the API answers
        # it: a generated path or body is a 404 or 422 of that operation.
        case.body["operations"] = [{"method": "GET", "path": "/api/v1/lists"}]
    if operation_id == "updateCurrentUser" and isinstance(case.body, dict) \
            and isinstance(case.body.get("timezone"), str):
        generated = case.body["timezone"]
        case.body["timezone"] = ZONES[sum(map(ord, generated)) % len(ZONES)]
    if operation_id == "changePassword" and isinstance(case.body, dict) \
            and isinstance(case.body.get("new_password"), str) \
            and case.body["new_password"] == case.body.get("current_password"):
        case.body["new_password"] = _another_password(case.body["new_password"])
    return case


def _another_password(password: str) -> str:
    """A password of the same length (8-128, no control characters) that differs."""
    changed = "b" if password[-1:] == "a" else "a"
    return password[:-1] + changed


def _first_of_each_key(sort: str) -> str:
    """``title,-title,id`` -> ``title,id``: each sort key once, as the API requires."""
    kept, seen = [], set()
    for part in sort.split(","):
        key = part.strip().lstrip("-")
        if key not in seen:
            seen.add(key)
            kept.append(part)
    return ",".join(kept)


@schema.hook("after_validate")
def tally(context, case, response, results):
    for result in results:
        record("schemathesis", f"{result.name} checks", 1)


@pytest.fixture
def api(app):
    """The test's app with the test user logged in."""
    Session.start(app)
    yield app
    Session.app = None


@schema.parametrize()
@settings(deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                 HealthCheck.function_scoped_fixture])
def test_operation(case, api):
    record("schemathesis", "generated cases", 1)
    case.call_and_validate(app=api)


class Workflow(schema.as_state_machine()):
    """Sequences along the document's links, in the current test's app."""

    def setup(self):
        # Every scenario starts from the same database, so that a failing one
        # replays (and shrinks) the same way.
        Session.start(Session.app)

    def get_call_kwargs(self, case):
        return {"app": Session.app}

    def step(self, input):
        record("schemathesis", "stateful steps", 1)
        if input.transition is not None:
            record("schemathesis", "stateful steps along a link", 1)
        return super().step(input)


def test_stateful_workflows(api):
    Workflow.run(settings=settings(
        max_examples=STATEFUL_EXAMPLES, derandomize=True, deadline=None,
        stateful_step_count=8,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    ))
