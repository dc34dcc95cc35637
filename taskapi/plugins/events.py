"""Task events for plugins: blinker signals sent after the write committed.

Each signal is sent with the Flask app as sender and two keyword arguments:
``task`` (the task's JSON as ``GET /api/v1/tasks/{id}`` shows it; for
``task_deleted``, as it was before the deletion) and ``user_id``::

    from taskapi.plugins.events import task_completed

    def on_completed(app, task, user_id):
        ...

    def init_app(app, api):
        task_completed.connect(on_completed, app)

Connect with the app as sender (each app has its own receivers: several apps
may live in one process, as in tests), and a module-level function or
``weak=False``: blinker keeps weak references to receivers.

``task_created``, ``task_updated`` (every change, completion included),
``task_completed`` (a task marked completed, or a recurring task advanced to its
next occurrence: ``task["due_at"]`` is then the new one) and ``task_deleted``
(once per task deleted by a request, its subtasks not included).

Receivers run in the request's thread after the commit: what they do cannot
undo the write, and an exception they raise is logged on ``taskapi.plugins``
and swallowed, so a receiver never changes the response. A receiver that
needs a database session of its own opens one (the request's has committed).
With no receiver connected, sending costs nothing: the task is not even dumped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextvars import ContextVar, Token
from typing import Any

from blinker import Namespace
from flask import current_app

log = logging.getLogger("taskapi.plugins")

signals = Namespace()
task_created = signals.signal("task-created", doc="A task was created.")
task_updated = signals.signal("task-updated", doc="A task was changed.")
task_completed = signals.signal("task-completed", doc="A task was completed or advanced.")
task_deleted = signals.signal("task-deleted", doc="A task was deleted.")
#: Events of a batch (POST /api/v1/batch, one transaction): kept until it commits.
_deferred: ContextVar[list | None] = ContextVar("taskapi_deferred_events", default=None)


def send(signal: Any, task: Any, user_id: int, dump: Callable[[Any], dict] | None = None
         ) -> None:
    """Send ``signal`` for ``task`` (ORM object or JSON dict) of ``user_id`` to its
    receivers for the current app, each in turn; an exception of one is logged
    and the next still runs. ``dump`` turns the task into JSON (default: the
    v1 task schema's)."""
    if not signal.receivers:
        return
    app = current_app._get_current_object()
    receivers = list(signal.receivers_for(app))
    if not receivers:
        return
    if not isinstance(task, dict) or dump is not None:
        task = (dump or _task_json)(task)
    pending = _deferred.get()
    if pending is not None:
        pending.append((signal, task, user_id))
        return
    _deliver(app, signal, receivers, task, user_id)


def defer() -> Token:
    """Keep the events sent from now on (a batch's operations) until
    :func:`release`: the batch commits once, after all of them."""
    return _deferred.set([])


def release(token: Token, *, deliver: bool) -> None:
    """Stop keeping events; send those kept when ``deliver`` (the batch
    committed), drop them otherwise (it rolled back)."""
    pending = _deferred.get() or []
    _deferred.reset(token)
    if not deliver:
        return
    app = current_app._get_current_object()
    for signal, task, user_id in pending:
        _deliver(app, signal, list(signal.receivers_for(app)), task, user_id)


def _deliver(app, signal, receivers, task: dict, user_id: int) -> None:
    for receiver in receivers:
        try:
            receiver(app, task=task, user_id=user_id)
        except Exception:
            log.exception("plugin event receiver failed: signal=%s receiver=%s",
                          signal.name, getattr(receiver, "__qualname__", receiver))


def snapshot(signal: Any, task: Any) -> dict | None:
    """The task's JSON now, when ``signal`` has receivers (for ``task_deleted``,
    sent once the row is gone); None otherwise."""
    return _task_json(task) if signal.receivers else None


def _task_json(task: Any) -> dict:
    from taskapi.tasks.schemas import TaskSchema

    return TaskSchema().dump(task)
