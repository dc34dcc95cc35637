"""Plugins: capabilities added by installing a package (docs/plugins.md).

A plugin is an object named by an entry point of the group ``taskapi.plugins``
(``[options.entry_points]`` of a package's setup.cfg, or ``[project.entry-points]``
of its pyproject.toml), as Flask finds CLI commands in ``flask.commands``. It has:

- ``name`` (the entry point's name too) and ``version`` (strings);
- ``init_app(app, api)``: called once per app, after the core blueprints; it may
  register blueprints on ``api`` (flask-smorest: they appear in the OpenAPI
  document under their own tag), subscribe to task events
  (:mod:`taskapi.plugins.events`) and read its config;
- optionally ``config``: ``{KEY: (default, "what it does")}``, defaults set
  before ``init_app`` unless the deployment set the key (``TASKAPI_KEY`` in the
  environment, instance/config.py);
- optionally ``cli``: click commands added to ``flask`` (``flask <command>``);
- optionally ``finalize(app, api)``: called once every plugin is initialised and
  every route registered (to document or wrap the routes of all of them).

``create_app`` loads the plugins named in ``PLUGINS`` (``TASKAPI_PLUGINS``:
comma-separated entry point names, ``*`` for every installed one; default
:data:`BUILT_IN`), in that order. A plugin that is not installed, fails to
import, lacks the interface or raises in ``init_app`` stops start-up with a
:class:`PluginError` naming it: an app is never served half-started.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from flask import Flask

log = logging.getLogger("taskapi.plugins")

GROUP = "taskapi.plugins"
#: The plugins that come with taskapi, by name: found without an entry point
#: (a source tree that is not installed has none), and loaded when ``PLUGINS``
#: is not set. An installed entry point cannot take their names.
BUILT_IN: dict[str, str] = {"pat": "taskapi.plugins.pat:plugin",
                            "ical": "taskapi.plugins.ical:plugin"}
EXTENSION = "taskapi.plugins"


class PluginError(RuntimeError):
    """A plugin could not be loaded; ``str()`` names it and says why."""


@dataclass(frozen=True)
class Loaded:
    """A plugin loaded into an app: its entry point's name, the object and where
    it came from (``module:attribute``)."""

    name: str
    version: str
    plugin: Any
    source: str


def installed() -> dict[str, EntryPoint]:
    """The plugins' entry points by name: the built-in ones, then the installed
    ones (first of each name)."""
    found = {name: EntryPoint(name=name, value=value, group=GROUP)
             for name, value in BUILT_IN.items()}
    for entry_point in entry_points(group=GROUP):
        found.setdefault(entry_point.name, entry_point)
    return found


def requested(value: Any) -> list[str]:
    """``PLUGINS`` as a list of names: a comma-separated string (``*``: every
    installed plugin, by name) or a list; duplicates keep their first place."""
    if value is None:
        return list(BUILT_IN)
    if isinstance(value, str):
        names = [name.strip() for name in value.split(",") if name.strip()]
    elif isinstance(value, list | tuple) and all(isinstance(n, str) for n in value):
        names = [name.strip() for name in value]
    else:
        raise PluginError("PLUGINS must be a comma-separated string of plugin names or "
                          "a list of them")
    if "*" in names:
        names = sorted(installed())
    return list(dict.fromkeys(names))


def _load(name: str, entry_point: EntryPoint | None) -> Any:
    if entry_point is None:
        raise PluginError(f"plugin {name!r} is not installed (no entry point {name!r} "
                          f"in group {GROUP!r}); installed: "
                          f"{', '.join(sorted(installed())) or 'none'}")
    try:
        plugin = entry_point.load()
    except Exception as error:
        raise PluginError(f"plugin {name!r} ({entry_point.value}) failed to import: "
                          f"{error.__class__.__name__}: {error}") from error
    missing = [attribute for attribute in ("name", "version", "init_app")
               if not hasattr(plugin, attribute)]
    if missing or not callable(plugin.init_app):
        raise PluginError(f"plugin {name!r} ({entry_point.value}) is not a taskapi plugin: "
                          f"it lacks {', '.join(missing) or 'a callable init_app'}")
    return plugin


def init_plugins(app: Flask, api: Any) -> list[Loaded]:
    """Load the plugins ``app.config["PLUGINS"]`` names into ``app``, in order
    (module docstring); the list is kept as ``app.extensions["taskapi.plugins"]``.
    Raises :class:`PluginError` naming the plugin that failed."""
    names = requested(app.config.get("PLUGINS"))
    # The entry points are read only for a plugin that is not built in (reading
    # them scans every installed distribution).
    available = (installed() if any(name not in BUILT_IN for name in names) else
                 {name: EntryPoint(name=name, value=BUILT_IN[name], group=GROUP)
                  for name in names})
    loaded: list[Loaded] = []
    for name in names:
        entry_point = available.get(name)
        plugin = _load(name, entry_point)
        for key, (default, _doc) in dict(getattr(plugin, "config", None) or {}).items():
            app.config.setdefault(key, default)
        try:
            plugin.init_app(app, api)
        except Exception as error:
            raise PluginError(f"plugin {name!r} ({entry_point.value}) failed in init_app: "
                              f"{error.__class__.__name__}: {error}") from error
        for command in getattr(plugin, "cli", None) or ():
            app.cli.add_command(command)
        loaded.append(Loaded(name, str(plugin.version), plugin, entry_point.value))
        log.info("plugin loaded: name=%s version=%s", name, plugin.version)
    app.extensions[EXTENSION] = loaded
    return loaded


def finalize_plugins(app: Flask, api: Any) -> None:
    """Call ``finalize(app, api)`` of the loaded plugins that have one, in order;
    :class:`PluginError` naming the one that raises."""
    for loaded in loaded_plugins(app):
        finalize = getattr(loaded.plugin, "finalize", None)
        if finalize is None:
            continue
        try:
            finalize(app, api)
        except Exception as error:
            raise PluginError(f"plugin {loaded.name!r} ({loaded.source}) failed in "
                              f"finalize: {error.__class__.__name__}: {error}") from error


def loaded_plugins(app: Flask) -> list[Loaded]:
    """The plugins loaded into ``app`` (empty before :func:`init_plugins`)."""
    return list(app.extensions.get(EXTENSION, []))
