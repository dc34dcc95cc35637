"""Plugins (taskapi.plugins): loading from entry points, failures that stop
start-up, ``flask plugins list``, task events, and a throwaway plugin package
installed with ``pip install -e`` adding a route, a CLI command and an event hook."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from taskapi import create_app
from taskapi.plugins import GROUP, PluginError, events
from tests.helpers import make_account

TASKS = "/api/v1/tasks"


class Recorder:
    """A plugin object: records every task event of its app."""

    name, version = "recorder", "1.0"
    config = {"RECORDER_PREFIX": ("seen", "Prefix of the recorded events")}

    def init_app(self, app, api):
        app.extensions["recorded"] = []
        for signal in (events.task_created, events.task_updated, events.task_completed,
                       events.task_deleted):
            signal.connect(_record, app)


def _record(app, task, user_id, **_kwargs):
    app.extensions["recorded"].append((app.config["RECORDER_PREFIX"], task["id"],
                                       task["completed"], task["due_at"], user_id))


class Failing:
    name, version = "failing", "0.1"

    def init_app(self, app, api):
        raise RuntimeError("no database for me")


class Raising:
    """A receiver that raises: the request must not notice."""

    name, version = "raising", "0.1"

    def init_app(self, app, api):
        events.task_created.connect(_explode, app)


def _explode(app, task, user_id, **_kwargs):
    raise ValueError("receiver bug")


RECORDER, FAILING, RAISING, NOT_A_PLUGIN = Recorder(), Failing(), Raising(), object()


def fake_entry_points(monkeypatch, **values):
    points = {name: EntryPoint(name=name, value=value, group=GROUP)
              for name, value in values.items()}
    monkeypatch.setattr("taskapi.plugins.installed", lambda: dict(points))


def make_app(app_config, plugins):
    return create_app({**app_config, "PLUGINS": plugins})


@pytest.fixture
def recorder_app(app_config, monkeypatch):
    fake_entry_points(monkeypatch, recorder="tests.test_plugins:RECORDER",
                      raising="tests.test_plugins:RAISING")
    return make_app(app_config, "recorder")


# ---------------------------------------------------------------- loading


def test_the_built_in_plugins_by_default(app):
    assert [(p.name, p.source) for p in app.extensions["taskapi.plugins"]] == [
        ("pat", "taskapi.plugins.pat:plugin"), ("ical", "taskapi.plugins.ical:plugin")]


def test_no_plugin_at_all(app_config):
    app = make_app(app_config, "")
    assert app.extensions["taskapi.plugins"] == []
    assert app.test_client().get("/api/v1/calendar.ics").status_code == 404


def test_plugins_load_in_order_with_their_config_defaults(app_config, monkeypatch):
    fake_entry_points(monkeypatch, recorder="tests.test_plugins:RECORDER",
                      raising="tests.test_plugins:RAISING")
    app = make_app(app_config, " raising, recorder ,raising")
    assert [(p.name, p.version) for p in app.extensions["taskapi.plugins"]] == [
        ("raising", "0.1"), ("recorder", "1.0")]
    assert app.config["RECORDER_PREFIX"] == "seen"
    configured = create_app({**app_config, "PLUGINS": "recorder", "RECORDER_PREFIX": "mine"})
    assert configured.config["RECORDER_PREFIX"] == "mine"
    every = make_app(app_config, "*")
    assert [p.name for p in every.extensions["taskapi.plugins"]] == ["raising", "recorder"]


@pytest.mark.parametrize(("value", "message"), [
    ("tests.no_such_module:plugin", "'broken' (tests.no_such_module:plugin) failed to import"),
    ("tests.test_plugins:NO_SUCH_NAME", "failed to import"),
    ("tests.test_plugins:NOT_A_PLUGIN", "is not a taskapi plugin: it lacks name, version"),
    ("tests.test_plugins:FAILING", "'broken' (tests.test_plugins:FAILING) failed in init_app: "
                                   "RuntimeError: no database for me"),
])
def test_a_broken_plugin_stops_start_up_naming_it(app_config, monkeypatch, value, message):
    fake_entry_points(monkeypatch, broken=value)
    with pytest.raises(PluginError, match="plugin 'broken'") as raised:
        make_app(app_config, "broken")
    assert message in str(raised.value)


def test_a_plugin_not_installed_stops_start_up(app_config, monkeypatch):
    fake_entry_points(monkeypatch, recorder="tests.test_plugins:RECORDER")
    with pytest.raises(PluginError, match="'ghost' is not installed.*installed: recorder"):
        make_app(app_config, "recorder,ghost")


def test_plugins_setting_of_the_wrong_type_is_refused(app_config):
    with pytest.raises(PluginError, match="PLUGINS must be"):
        make_app(app_config, 42)


def test_flask_plugins_list(app_config, monkeypatch):
    fake_entry_points(monkeypatch, recorder="tests.test_plugins:RECORDER",
                      raising="tests.test_plugins:RAISING")
    app = make_app(app_config, "recorder")
    result = app.test_cli_runner().invoke(args=["plugins", "list"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "recorder\t1.0\ttests.test_plugins:RECORDER\tloaded",
        "raising\t-\ttests.test_plugins:RAISING\tinstalled, not loaded"]


# ---------------------------------------------------------------- events


def test_every_task_write_sends_its_event_after_commit(recorder_app):
    client = recorder_app.test_client()
    user = make_account(client, "ada@example.com")
    recorded = recorder_app.extensions["recorded"]
    task = client.post(TASKS, json={"title": "t"}, headers=user.headers).get_json()
    assert recorded == [("seen", task["id"], False, None, user.id)]
    client.patch(f"{TASKS}/{task['id']}", json={"title": "u"}, headers=user.headers)
    client.patch(f"{TASKS}/{task['id']}/complete", headers=user.headers)
    client.post(f"{TASKS}/{task['id']}/move", json={}, headers=user.headers)
    client.delete(f"{TASKS}/{task['id']}", headers=user.headers)
    assert [entry[1:3] for entry in recorded] == [
        (task["id"], False), (task["id"], False), (task["id"], True), (task["id"], True),
        (task["id"], True), (task["id"], True)]
    assert len(recorded) == 6  # created, updated, updated + completed, moved, deleted


def test_a_recurring_task_advanced_is_completed_with_its_next_due_date(recorder_app):
    client = recorder_app.test_client()
    user = make_account(client, "ada@example.com")
    task = client.post(TASKS, json={"title": "t", "due_at": "2026-01-05T09:00:00Z",
                                    "recurrence": {"rule": "FREQ=DAILY"}},
                       headers=user.headers).get_json()
    client.patch(f"{TASKS}/{task['id']}/complete", headers=user.headers)
    assert recorder_app.extensions["recorded"][-1] == (
        "seen", task["id"], False, "2026-01-06T09:00:00+00:00", user.id)


def test_a_batch_sends_its_events_once_committed_and_none_when_it_fails(recorder_app):
    client = recorder_app.test_client()
    user = make_account(client, "ada@example.com")
    recorded = recorder_app.extensions["recorded"]
    failed = client.post("/api/v1/batch", json={"operations": [
        {"method": "POST", "path": TASKS, "body": {"title": "kept?"}},
        {"method": "PATCH", "path": f"{TASKS}/999999", "body": {"title": "x"}}]},
        headers=user.headers)
    assert failed.status_code == 404
    assert recorded == []
    done = client.post("/api/v1/batch", json={"operations": [
        {"method": "POST", "path": TASKS, "body": {"title": "one"}},
        {"method": "POST", "path": TASKS, "body": {"title": "two"}}]}, headers=user.headers)
    assert done.status_code == 200
    ids = [result["body"]["id"] for result in done.get_json()["results"]]
    assert [entry[1] for entry in recorded] == ids


def test_a_failing_receiver_never_breaks_the_request(app_config, monkeypatch, caplog):
    fake_entry_points(monkeypatch, recorder="tests.test_plugins:RECORDER",
                      raising="tests.test_plugins:RAISING")
    app = make_app(app_config, "raising,recorder")
    client = app.test_client()
    user = make_account(client, "ada@example.com")
    with caplog.at_level(logging.ERROR, logger="taskapi.plugins"):
        response = client.post(TASKS, json={"title": "t"}, headers=user.headers)
    assert response.status_code == 201
    assert [entry[1] for entry in app.extensions["recorded"]] == [response.get_json()["id"]]
    assert "plugin event receiver failed: signal=task-created" in caplog.text
    assert client.get(f"{TASKS}/{response.get_json()['id']}",
                      headers=user.headers).status_code == 200


def test_events_of_one_app_do_not_reach_another(recorder_app, app):
    client = app.test_client()
    user = make_account(client, "ada@example.com")
    client.post(TASKS, json={"title": "elsewhere"}, headers=user.headers)
    assert recorder_app.extensions["recorded"] == []


# ---------------------------------------------------- a package from outside

PLUGIN_SOURCE = '''
"""A throwaway taskapi plugin: a route, a CLI command and an event hook."""

import click
from flask.views import MethodView
from flask_jwt_extended import current_user, jwt_required
from flask_smorest import Blueprint

from taskapi.plugins.events import task_created

blp = Blueprint("hello", __name__, url_prefix="/api/v1/hello",
                description="A greeting from a plugin.")


@blp.route("")
class Hello(MethodView):
    decorators = [jwt_required()]

    @blp.response(200)
    def get(self):
        """Greet the current user"""
        from flask import current_app
        return {"hello": current_user.id,
                "greeting": current_app.config["HELLO_GREETING"]}


@click.command("hello")
@click.argument("name")
def hello_command(name):
    """Say hello."""
    click.echo(f"hello {name}")


def remember(app, task, user_id, **_kwargs):
    app.extensions.setdefault("hello_seen", []).append((task["title"], user_id))


class Plugin:
    name = "hello"
    version = "0.3.1"
    config = {"HELLO_GREETING": ("hi", "What GET /api/v1/hello says")}
    cli = [hello_command]

    def init_app(self, app, api):
        api.register_blueprint(blp)
        task_created.connect(remember, app)


plugin = Plugin()
'''

PYPROJECT = '''
[build-system]
requires = ["setuptools>=64"]
build-backend = "setuptools.build_meta"

[project]
name = "taskapi-hello-plugin"
version = "0.3.1"

[project.entry-points."taskapi.plugins"]
hello = "taskapi_hello_plugin:plugin"
'''


@pytest.fixture
def installed_plugin(tmp_path_factory):
    """The throwaway package, installed editable in this interpreter's
    environment for the test, uninstalled after."""
    root = tmp_path_factory.mktemp("hello-plugin")
    (root / "pyproject.toml").write_text(textwrap.dedent(PYPROJECT))
    package = root / "taskapi_hello_plugin"
    package.mkdir()
    (package / "__init__.py").write_text(textwrap.dedent(PLUGIN_SOURCE))
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "install", "--no-deps", "-e", str(root)], check=True, timeout=300)
    sys.path.insert(0, str(root))  # this process: the editable finder is read at start-up
    try:
        yield root
    finally:
        sys.path.remove(str(root))
        sys.modules.pop("taskapi_hello_plugin", None)
        subprocess.run([*pip, "uninstall", "-y", "taskapi-hello-plugin"], check=True,
                       timeout=300)


@pytest.mark.slow
def test_an_installed_package_adds_a_route_a_command_and_an_event_hook(installed_plugin,
                                                                       app_config):
    app = make_app(app_config, "hello")
    client = app.test_client()
    user = make_account(client, "ada@example.com")
    response = client.get("/api/v1/hello", headers=user.headers)
    assert response.status_code == 200
    assert response.get_json() == {"hello": user.id, "greeting": "hi"}
    assert client.get("/api/v1/hello").status_code == 401
    spec = client.get("/api/openapi.json").get_json()
    assert "/api/v1/hello" in spec["paths"]
    assert {"name": "hello", "description": "A greeting from a plugin."} in spec["tags"]
    runner = app.test_cli_runner()
    assert runner.invoke(args=["hello", "world"]).output == "hello world\n"
    listed = runner.invoke(args=["plugins", "list"]).output
    assert "hello\t0.3.1\ttaskapi_hello_plugin:plugin\tloaded" in listed
    client.post(TASKS, json={"title": "Hooked"}, headers=user.headers)
    assert app.extensions["hello_seen"] == [("Hooked", user.id)]
    # In a fresh process too, as gunicorn or the flask command load it.
    script = ("from taskapi import create_app; from tests.helpers import TEST_SECRETS; "
              "app = create_app({'SQLALCHEMY_DATABASE_URI': 'sqlite://', 'PLUGINS': 'hello', "
              "**TEST_SECRETS}); print([p.name for p in app.extensions['taskapi.plugins']])")
    repo = str(Path(__file__).resolve().parent.parent)
    output = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=120, cwd=repo, check=False,
                            env={**os.environ, "PYTHONPATH": repo})
    assert output.stdout.strip() == "['hello']", output.stderr
