"""taskapi.jsonprovider.FastJSONProvider: response bodies byte for byte Flask's.

For a corpus of documents, ``app.json.response(doc)`` (orjson when it can) must
give exactly the bytes of Flask's own ``DefaultJSONProvider``; and whole API
responses must be what ``json.dumps`` with Flask's compact settings writes.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from flask.json.provider import DefaultJSONProvider

from taskapi.jsonprovider import FastJSONProvider
from tests.helpers import create_task


@dataclasses.dataclass
class Point:
    x: int
    label: str
    tags: list[str]


def _deep(levels: int):
    doc: object = "bottom"
    for level in range(levels):
        doc = {"level": level, "child": [doc]} if level % 2 else [level, doc]
    return doc


#: name -> document
CORPUS = {
    "ascii": {"title": "Buy milk", "id": 42},
    "non_ascii": {"title": "Café crème — 日本語", "ß": "straße"},
    "emoji": {"title": "party 🎉🎈", "flag": "🇫🇷"},
    "line_separators": {"text": "a\u2028b\u2029c"},
    "control_characters": {"text": "".join(chr(code) for code in range(32))},
    "delete_character": {"text": "before\x7fafter"},
    "quotes_backslashes": {"text": 'say "hi" \\ back\\slash / slash', "\"key\"": "\\"},
    "html_like": {"text": "<script>&amp;</script>'"},
    "nested": {"a": {"b": {"c": [1, 2, {"d": None}]}}, "z": [[], [[]], {}]},
    "empty_dict": {},
    "empty_list": [],
    "empty_string": "",
    "booleans_none": {"t": True, "f": False, "n": None, "list": [True, False, None]},
    "none": None,
    "true": True,
    "int_zero": 0,
    "ints": [1, -1, 2**31, -(2**31), 2**53 + 1, 2**63 - 1, -(2**63)],
    "int_2_64_minus_1": 2**64 - 1,
    "int_2_64": 2**64,
    "int_beyond": [2**64 + 1, 2**100, -(2**63) - 1, -(2**80)],
    "tuple": (1, "two", (3, 4)),
    "datetime_utc": {"at": datetime(2026, 11, 21, 9, 30, 0, 123456, tzinfo=UTC)},
    "datetime_offset": {"at": datetime(2026, 11, 21, 9, 30, tzinfo=timezone(timedelta(hours=2)))},
    "datetime_naive": [datetime(2026, 1, 2, 3, 4, 5)],  # noqa: DTZ001 (naive on purpose)
    "date": {"day": date(2026, 11, 21)},
    "dataclass": Point(1, "Ünï", ["a", "b"]),
    "dataclass_in_list": [Point(2, "p", [])],
    "int_keys": {1: "one", 2: "two", 10: "ten"},
    "unsorted_keys": {"b": 1, "a": 2, "C": 3, "_": 4, "aa": {"z": 1, "y": 2}},
    "non_ascii_keys": {"é": 1, "e": 2, "日": 3, "z": 4},
    "deep": _deep(60),
    "long_string": "x" * 100_000,
    "unicode_escapes": {"text": "\ud7ff\ue000\uffff\U00010000"},
    "lone_surrogate": {"text": "\ud800"},
}


@pytest.fixture
def default_provider(app) -> DefaultJSONProvider:
    return DefaultJSONProvider(app)


def test_the_app_uses_the_fast_provider(app):
    assert isinstance(app.json, FastJSONProvider)


@pytest.mark.parametrize("name", list(CORPUS))
def test_response_bytes_equal_flasks(app, default_provider, name):
    doc = CORPUS[name]
    with app.app_context():
        fast = app.json.response(doc)
        expected = default_provider.response(doc)
    assert fast.get_data() == expected.get_data()
    assert fast.mimetype == expected.mimetype == "application/json"
    assert fast.get_data().endswith(b"\n")


def test_response_with_several_arguments_and_keywords(app, default_provider):
    with app.app_context():
        assert app.json.response(1, "two", 3).get_data() == \
            default_provider.response(1, "two", 3).get_data()
        assert app.json.response(b="x", a="y").get_data() == \
            default_provider.response(b="x", a="y").get_data()


def test_a_type_nobody_serialises_is_still_a_type_error(app, default_provider):
    with app.app_context(), pytest.raises(TypeError):
        default_provider.response({"x": object()})
    with app.app_context(), pytest.raises(TypeError):
        app.json.response({"x": object()})


def test_debug_responses_are_indented_like_flasks(app, default_provider):
    app.debug = True
    doc = CORPUS["nested"]
    with app.app_context():
        assert app.json.response(doc).get_data() == default_provider.response(doc).get_data()
    assert b"\n  " in app.json.response(doc).get_data()


def flask_compact(document) -> bytes:
    """Flask's compact response body for ``document`` (its documented settings)."""
    return (json.dumps(document, ensure_ascii=True, sort_keys=True,
                       separators=(",", ":")) + "\n").encode()


TITLES = ["Café crème", "日本語のタスク", "party 🎉", "line\u2028sep", "plain ascii",
          'quotes " and \\ backslash']


def test_task_list_with_non_ascii_titles(client, user):
    for title in TITLES:
        create_task(client, user, title=title, description=f"{title}\nmore",
                    tags=["Étiquette", "ascii"])
    response = client.get("/api/v1/tasks", headers=user.headers)
    assert response.status_code == 200
    assert sorted(task["title"] for task in response.get_json()) == sorted(TITLES)
    assert response.get_data() == flask_compact(response.get_json())
    assert response.get_data().isascii()


def test_single_task_and_error_responses(client, user):
    task = create_task(client, user, title="Ünï 🎉", tags=["日本"])
    response = client.get(f"/api/v1/tasks/{task['id']}", headers=user.headers)
    assert response.status_code == 200
    assert response.get_data() == flask_compact(response.get_json())
    missing = client.get("/api/v1/tasks/999999", headers=user.headers)
    assert missing.status_code == 404
    assert missing.get_data() == flask_compact(missing.get_json())


@pytest.mark.parametrize("field", ["tïtle", "emoji🎉", "del\x7fete", "ctl\x01"])
def test_validation_error_echoing_a_field_name(client, user, field):
    """422 for an unknown field names it in ``errors``: the body is Flask's too."""
    response = client.post("/api/v1/tasks", json={"title": "ok", field: 1},
                           headers=user.headers)
    assert response.status_code == 422
    assert field in response.get_json()["errors"]["json"]
    assert response.get_data() == flask_compact(response.get_json())
