"""taskapi.serializers: compiled dumps equal marshmallow's own, field by field.

``schema.dump(x)`` (the :class:`~taskapi.serializers.CompiledDump` path) is
compared with ``marshmallow.Schema.dump(schema, x)`` (the library's dump, called
unbound on the same instance) for ORM tasks with every edge value, for lists,
for the row dicts of the read paths (:mod:`taskapi.tasks.rows`) against the ORM
object of the same task, and for schemas that must fall back to marshmallow.
Also ``rows._sqlite_iso`` against ``datetime.isoformat``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import marshmallow as ma
import pytest

from taskapi.compat.schemas import CompatTaskSchema
from taskapi.extensions import db
from taskapi.fields import UTCDateTime
from taskapi.models import PRIORITIES, Tag, Task
from taskapi.serializers import CompiledDump, compile_dumper
from taskapi.tasks import queries
from taskapi.tasks.rows import _sqlite_iso
from taskapi.tasks.schemas import TaskListArgsSchema, TaskSchema

CREATED = datetime(2026, 11, 21, 9, 30, 0, 123456, tzinfo=UTC)
UPDATED = datetime(2026, 11, 21, 10, 5, 12, tzinfo=UTC)
#: 20 tag names (the maximum), unique case-insensitively, mixed case, non-ASCII.
TWENTY_TAGS = [
    "alpha", "Beta", "GAMMA", "délta", "Épsilon", "ζeta", "Ωmega", "日本", "émoji🎉", "zz",
    "Zy", "ß", "Ärger", "ärgerlich", "İstanbul", "naïve", "Ünïcode", "b2", "A1", "mixedCase",
]
DESCRIPTIONS = [None, "", "plain", "Ünïcödé – 日本語 🎉", "line one\nline two\r\n\tindented"]
DUE_AT = [
    None,
    datetime(2026, 12, 31, 17, 0, tzinfo=UTC),
    datetime(2026, 12, 31, 17, 0, 0, 1, tzinfo=UTC),
    datetime(2026, 12, 31, 17, 0, 0, 999999, tzinfo=UTC),
    datetime(2026, 12, 31, 19, 0, 0, 500000, tzinfo=timezone(timedelta(hours=2))),
]
SCHEMAS = [TaskSchema, CompatTaskSchema]


def library_dump(schema: ma.Schema, obj, **kwargs):
    """marshmallow's own dump on the same schema instance, bypassing CompiledDump."""
    return ma.Schema.dump(schema, obj, **kwargs)


def orm_task(**fields) -> Task:
    """A transient Task (not in any session) with every column set."""
    tag_names = fields.pop("tags", ["work"])
    values = {
        "id": 42, "user_id": 7, "title": "Buy milk", "description": "Two litres",
        "completed": False, "completed_at": None, "priority": "high",
        "due_at": datetime(2026, 12, 31, 17, 0, tzinfo=UTC), "created_at": CREATED,
        "updated_at": UPDATED, "version": 3,
    }
    values.update(fields)
    task = Task(**values)
    task.tags = sorted((Tag(user_id=values["user_id"], name=name, name_key=name.lower())
                        for name in tag_names), key=lambda tag: tag.name_key)
    return task


def assert_same_dump(schema: ma.Schema, obj) -> dict:
    compiled = schema.dump(obj)
    assert compiled == library_dump(schema, obj)
    return compiled


# ------------------------------------------------------------------ ORM objects


@pytest.mark.parametrize("schema_cls", SCHEMAS)
class TestOrmTasks:
    def test_both_schemas_compile(self, schema_cls):
        assert compile_dumper(schema_cls()) is not None

    @pytest.mark.parametrize("description", DESCRIPTIONS)
    def test_description(self, app, schema_cls, description):
        with app.app_context():
            dumped = assert_same_dump(schema_cls(), orm_task(description=description))
        assert dumped["description"] == description

    @pytest.mark.parametrize("priority", [None, *PRIORITIES])
    def test_priority(self, app, schema_cls, priority):
        with app.app_context():
            dumped = assert_same_dump(schema_cls(), orm_task(priority=priority))
        assert dumped["priority"] == priority

    @pytest.mark.parametrize("due_at", DUE_AT, ids=repr)
    def test_due_at(self, app, schema_cls, due_at):
        with app.app_context():
            dumped = assert_same_dump(schema_cls(), orm_task(due_at=due_at))
        key = "due_at" if schema_cls is TaskSchema else "due_date"
        expected = None if due_at is None else due_at.astimezone(UTC).isoformat()
        assert dumped[key] == expected

    @pytest.mark.parametrize("completed_at", [
        None, datetime(2026, 11, 22, 8, 0, tzinfo=UTC),
        datetime(2026, 11, 22, 8, 0, 0, 42, tzinfo=UTC),
    ], ids=repr)
    @pytest.mark.parametrize("completed", [True, False])
    def test_completed(self, app, schema_cls, completed, completed_at):
        with app.app_context():
            dumped = assert_same_dump(
                schema_cls(), orm_task(completed=completed, completed_at=completed_at))
        assert dumped["completed"] is completed

    @pytest.mark.parametrize("tags", [[], ["Work"], TWENTY_TAGS], ids=["0", "1", "20"])
    def test_tags(self, app, schema_cls, tags):
        with app.app_context():
            dumped = assert_same_dump(schema_cls(), orm_task(tags=tags))
        if schema_cls is TaskSchema:
            assert dumped["tags"] == sorted(tags, key=str.lower)

    def test_unicode_title_and_every_edge_at_once(self, app, schema_cls):
        with app.app_context():
            task = orm_task(title="Café ☕ — 日本 \u2028", description=None, priority=None,
                            due_at=None, completed=True, completed_at=CREATED,
                            tags=TWENTY_TAGS)
            assert_same_dump(schema_cls(), task)

    def test_many(self, app, schema_cls):
        with app.app_context():
            tasks = [orm_task(id=n, priority=([None, *PRIORITIES])[n % 4],
                              due_at=DUE_AT[n % len(DUE_AT)],
                              description=DESCRIPTIONS[n % len(DESCRIPTIONS)],
                              tags=TWENTY_TAGS[:n]) for n in range(1, 8)]
            many = schema_cls(many=True)
            assert many.dump(tasks) == library_dump(many, tasks)
            one = schema_cls()
            assert one.dump(tasks, many=True) == library_dump(one, tasks, many=True)
            assert many.dump([]) == library_dump(many, []) == []

    def test_only_and_exclude_are_honoured(self, app, schema_cls):
        with app.app_context():
            task = orm_task()
            only = schema_cls(only=("id", "title", "priority"))
            assert only.dump(task) == library_dump(only, task) == {
                "id": 42, "title": "Buy milk", "priority": "high"}
            excluded = schema_cls(exclude=("title",))
            dumped = assert_same_dump(excluded, task)
            assert "title" not in dumped


# ---------------------------------------------------- row dicts of the read paths


#: Task bodies for the API: every kind of value, one task each.
BODIES = [
    {"title": "Plain"},
    {"title": "Café ☕ 日本", "description": "Ünïcödé\nsecond line\r\n\tthird",
     "priority": "low", "due_at": "2026-11-21T09:30:00Z", "tags": ["Work"]},
    {"title": "Micro", "priority": "medium", "due_at": "2026-11-21T09:30:00.123456+02:00",
     "tags": TWENTY_TAGS},
    {"title": "Done", "priority": "high", "due_at": "2026-11-21T09:30:00.000001Z",
     "completed": True, "tags": ["zz", "AA", "mm"]},
    {"title": "Shared tags", "description": None, "tags": ["beta", "ALPHA", "日本"]},
    {"title": "Recurring", "due_at": "2026-11-21T09:30:00.5Z",
     "recurrence": {"rule": "FREQ=MONTHLY;BYDAY=-1FR;COUNT=3", "from": "completion"}},
]


@pytest.fixture
def api_tasks(client, user) -> list[int]:
    """Tasks created over HTTP (one completed through /complete too); their ids."""
    ids = []
    for body in BODIES:
        response = client.post("/api/v1/tasks", json=body, headers=user.headers)
        assert response.status_code == 201, response.get_data(as_text=True)
        ids.append(response.get_json()["id"])
    response = client.patch(f"/api/v1/tasks/{ids[0]}/complete", headers=user.headers)
    assert response.status_code == 200
    assert response.get_json()["completed"] is True
    return ids


@pytest.mark.parametrize("schema_cls", SCHEMAS)
def test_row_dict_dumps_like_the_orm_object(app, user, api_tasks, schema_cls):
    schema = schema_cls()
    with app.app_context():
        for task_id in api_tasks:
            row = queries.get_task(user.id, task_id)
            task = db.session.get(Task, task_id)
            assert schema.dump(row) == library_dump(schema, task), task_id


def test_list_rows_dump_like_the_orm_objects(app, user, api_tasks):
    schema = TaskSchema(many=True)
    with app.app_context():
        args = TaskListArgsSchema().load({})
        page = queries.list_tasks(user.id, args, zone="UTC", limit=100)
        assert sorted(row["id"] for row in page.items) == sorted(api_tasks)
        tasks = [db.session.get(Task, row["id"]) for row in page.items]
        assert schema.dump(page.items) == library_dump(schema, tasks)


def test_http_responses_equal_the_library_dump(app, client, user, api_tasks):
    listed = client.get("/api/v1/tasks", headers=user.headers)
    assert listed.status_code == 200
    by_id = {task["id"]: task for task in listed.get_json()}
    for task_id in api_tasks:
        response = client.get(f"/api/v1/tasks/{task_id}", headers=user.headers)
        assert response.status_code == 200
        with app.app_context():
            expected = library_dump(TaskSchema(), db.session.get(Task, task_id))
        assert response.get_json() == expected
        assert by_id[task_id] == expected


def test_compat_http_responses_equal_the_library_dump(app, client, user, api_tasks):
    """The original contract's task JSON, ``dueDate`` included, from a list and a get."""
    base = f"/api/{user.id}/tasks"
    listed = client.get(base, headers=user.headers)
    assert listed.status_code == 200
    assert [task["id"] for task in listed.get_json()] == sorted(api_tasks)  # creation order
    by_id = {task["id"]: task for task in listed.get_json()}
    for task_id in api_tasks:
        response = client.get(f"{base}/{task_id}", headers=user.headers)
        assert response.status_code == 200
        with app.app_context():
            expected = library_dump(CompatTaskSchema(), db.session.get(Task, task_id))
        assert response.get_json() == by_id[task_id] == expected
        assert expected["dueDate"] == expected["due_date"]
    assert any(task["dueDate"] for task in by_id.values())


# ------------------------------------------------------------- generic schemas


class Thing:
    def __init__(self, **values):
        self.__dict__.update(values)


class Plain(CompiledDump, ma.Schema):
    number = ma.fields.Integer()
    text = ma.fields.String(data_key="label")
    flag = ma.fields.Boolean(attribute="is_on")
    when = UTCDateTime()
    names = ma.fields.List(ma.fields.String())


PLAIN_INPUTS = [
    Thing(number=1, text="a", is_on=True, when=CREATED, names=["x", "Ÿ"]),
    Thing(number=None, text=None, is_on=None, when=None, names=None),
    Thing(number="12", text=5, is_on=False, when=UPDATED, names=[]),
    Thing(),  # every attribute missing: every key left out
    {"number": 3, "text": "dict", "is_on": True, "when": CREATED, "names": ["n"]},
    {"number": 4},
    {},
]


@pytest.mark.parametrize("obj", PLAIN_INPUTS, ids=[f"input{n}" for n in range(len(PLAIN_INPUTS))])
def test_supported_fields_dump_like_marshmallow(obj):
    schema = Plain()
    assert compile_dumper(schema) is not None
    assert schema.dump(obj) == library_dump(schema, obj)


def test_missing_values_leave_the_key_out():
    schema = Plain()
    assert schema.dump(Thing(number=1)) == {"number": 1}
    assert schema.dump({"text": "t"}) == {"label": "t"}


def test_dotted_attribute_dumps_like_marshmallow():
    """marshmallow follows ``attribute="owner.name"`` into nested objects; a compiled
    dump must give the same value or the schema must fall back."""

    class Dotted(CompiledDump, ma.Schema):
        owner_name = ma.fields.String(attribute="owner.name")

    schema = Dotted()
    obj = Thing(owner=Thing(name="Ada"))
    assert library_dump(schema, obj) == {"owner_name": "Ada"}
    assert schema.dump(obj) == library_dump(schema, obj)


class WithPostDump(TaskSchema):
    @ma.post_dump
    def shout(self, data, **kwargs):
        return {**data, "title": data["title"].upper()}


class WithPreDump(TaskSchema):
    @ma.pre_dump
    def rename(self, obj, **kwargs):
        return {"id": obj.id, "title": f"pre {obj.title}"}


class WithLoadHooks(TaskSchema):
    """Load hooks (the lenient compat schemas have one) do not change a dump."""

    @ma.pre_load
    def strip_unknown(self, data, **kwargs):
        return data

    @ma.post_load
    def mark(self, data, **kwargs):
        return data

    @ma.validates_schema
    def check(self, data, **kwargs):
        pass


def test_a_nested_compiled_schema_compiles_and_a_plain_one_does_not():
    assert compile_dumper(TaskSchema()) is not None  # recurrence: Nested(RecurrenceSchema)
    plain = _with(first_tag=ma.fields.Nested(
        type("TagOut", (ma.Schema,), {"name": ma.fields.String()})))
    assert compile_dumper(plain()) is None


def test_load_hooks_keep_the_compiled_dump(app):
    schema = WithLoadHooks()
    assert compile_dumper(schema) is not None
    with app.app_context():
        task = orm_task(title="Loaded", tags=["b", "A"])
        assert_same_dump(schema, task)


class CustomString(ma.fields.String):
    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else f"<{value}>"


def _with(**fields) -> type[ma.Schema]:
    return type("Extended", (TaskSchema,), fields)


FALLBACK_SCHEMAS = {
    "post_dump": WithPostDump,
    "pre_dump": WithPreDump,
    "method": _with(shout=ma.fields.Method("get_shout"),
                    get_shout=lambda self, obj: obj.title.upper()),
    "function": _with(length=ma.fields.Function(lambda obj: len(obj.title))),
    "nested": _with(first_tag=ma.fields.Nested(
        type("TagOut", (ma.Schema,), {"name": ma.fields.String()}),
        attribute="first_tag_obj")),
    "float": _with(score=ma.fields.Float(attribute="version")),
    "integer_as_string": _with(version=ma.fields.Integer(as_string=True)),
    "dump_default": _with(extra=ma.fields.String(dump_default="fallback")),
    "custom_serialize": _with(title=CustomString()),
    "list_of_custom": _with(tags=ma.fields.List(CustomString(), attribute="tag_names")),
}


@pytest.mark.parametrize("name", list(FALLBACK_SCHEMAS))
def test_uncompilable_schema_falls_back_to_marshmallow(app, name):
    schema = FALLBACK_SCHEMAS[name]()
    assert compile_dumper(schema) is None
    with app.app_context():
        task = orm_task(title="Hook me", tags=["b", "A"])
        task.first_tag_obj = task.tags[0]
        dumped = schema.dump(task)
        assert dumped == library_dump(schema, task)
        assert schema.dump([task, task], many=True) == [dumped, dumped]
    expected = {
        "post_dump": ("title", "HOOK ME"),
        "pre_dump": ("title", "pre Hook me"),
        "method": ("shout", "HOOK ME"),
        "function": ("length", 7),
        "nested": ("first_tag", {"name": "A"}),
        "float": ("score", 3.0),
        "integer_as_string": ("version", "3"),
        "dump_default": ("extra", "fallback"),
        "custom_serialize": ("title", "<Hook me>"),
        "list_of_custom": ("tags", ["<A>", "<b>"]),
    }[name]
    assert dumped[expected[0]] == expected[1]


# ------------------------------------------------------------ rows._sqlite_iso


SQLITE_TEXTS = [
    "2026-11-21 09:30:00.123456",
    "2026-11-21 09:30:00.000000",
    "2026-11-21 09:30:00.000001",
    "2026-11-21 09:30:00.100000",
    "2026-11-21 09:30:00.999999",
    "2026-01-01 00:00:00.000000",
    "1999-12-31 23:59:59.500000",
    "2026-11-21 09:30:00",
    "2026-11-21T09:30:00",
    "2026-11-21T09:30:00.123456",
    "2026-11-21 09:30:00.123",
    "2026-11-21 09:30",
    "2026-11-21",
]


@pytest.mark.parametrize("text", SQLITE_TEXTS)
def test_sqlite_iso_equals_isoformat(text):
    expected = datetime.fromisoformat(text).replace(tzinfo=UTC).isoformat()
    assert _sqlite_iso(text) == expected


@pytest.mark.parametrize("text", ["2026-11-21 11:30:00+02:00", "2026-11-21T09:30:00Z",
                                  "2026-11-21 04:30:00.250000-05:00"])
def test_sqlite_iso_converts_an_offset_to_utc(text):
    expected = datetime.fromisoformat(text).astimezone(UTC).isoformat()
    assert _sqlite_iso(text) == expected
    assert _sqlite_iso(text).endswith("+00:00")


def test_sqlite_iso_none():
    assert _sqlite_iso(None) is None
