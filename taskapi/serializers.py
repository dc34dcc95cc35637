"""Output serialisers compiled once from marshmallow schemas.

marshmallow stays the source of truth for the documented shapes: a
:class:`CompiledDump` schema dumps with a function built once from its own
``dump_fields`` (names, ``data_key``, ``attribute``, field types), which gives
the same dict as ``marshmallow.Schema.dump`` without its per-field dispatch
(tests/test_serializers.py proves the equality for every field and edge value).
A schema with dump hooks (``pre_dump``/``post_dump``; load hooks do not
matter), a field type not listed in :data:`CONVERTERS` or a field class that
overrides ``_serialize`` is dumped by marshmallow itself, unchanged. A
``Nested`` field (one object, not ``many``) compiles when its schema is a
:class:`CompiledDump` that compiles.

Values are read as marshmallow reads them: ``obj[name]`` for a mapping,
``getattr(obj, name)`` otherwise; a missing value leaves the key out.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC
from typing import Any

import marshmallow as ma

from taskapi.fields import UTCDateTime

_MISSING = object()


def _integer(value):
    return None if value is None else int(value)


def _string(value):
    return None if value is None else str(value)


def _as_is(value):
    # marshmallow's Boolean (like Field) dumps the value unchanged.
    return value


def _datetime(value):
    # Read paths hand over ISO strings already in the output form (taskapi.tasks.rows).
    if value is None or isinstance(value, str):
        return value
    return value.astimezone(UTC).isoformat()


#: Field class -> (the ``_serialize`` it must still have, converter).
CONVERTERS: dict[type, tuple[Callable, Callable]] = {
    UTCDateTime: (UTCDateTime._serialize, _datetime),
    ma.fields.Integer: (ma.fields.Integer._serialize, _integer),
    ma.fields.String: (ma.fields.String._serialize, _string),
    ma.fields.Boolean: (ma.fields.Boolean._serialize, _as_is),
}


def _converter(field: ma.fields.Field) -> Callable | None:
    if field.dump_default is not ma.missing or getattr(field, "as_string", False):
        return None
    for cls, (serialize, convert) in CONVERTERS.items():
        if isinstance(field, cls):
            return convert if type(field)._serialize is serialize else None
    nested_type = ma.fields.Nested
    if isinstance(field, nested_type) and type(field)._serialize is nested_type._serialize \
            and not field.many and isinstance(field.schema, CompiledDump):
        nested = compile_dumper(field.schema)
        if nested is None:
            return None
        return lambda value: None if value is None else nested(value)
    if isinstance(field, ma.fields.List) and type(field)._serialize is ma.fields.List._serialize:
        inner = _converter(field.inner)
        if inner is None:
            return None
        return lambda value: None if value is None else [inner(item) for item in value]
    return None


def compile_dumper(schema: ma.Schema) -> Callable[[Any], dict] | None:
    """A function ``obj -> dict`` equal to ``schema.dump(obj)`` for one object
    (``many`` aside), or None when the schema cannot be compiled (see the module
    docstring)."""
    if any(schema._hooks.get(tag) for tag in ("pre_dump", "post_dump")):
        return None
    plan = []
    for name, field in schema.dump_fields.items():
        convert = _converter(field)
        if convert is None or "." in (field.attribute or ""):
            return None  # marshmallow follows dotted attributes into nested objects
        plan.append((field.data_key or name, field.attribute or name, convert))
    plan = tuple(plan)

    def dump(obj) -> dict:
        out = {}
        if isinstance(obj, Mapping):
            for key, attribute, convert in plan:
                value = obj.get(attribute, _MISSING)
                if value is not _MISSING:
                    out[key] = convert(value)
        else:
            for key, attribute, convert in plan:
                value = getattr(obj, attribute, _MISSING)
                if value is not _MISSING:
                    out[key] = convert(value)
        return out

    return dump


class CompiledDump:
    """Schema mixin: ``dump`` through :func:`compile_dumper`, compiled on first use
    per schema instance (falls back to marshmallow when it cannot compile)."""

    def dump(self, obj, *, many: bool | None = None):
        dumper = self.__dict__.get("_compiled_dumper", _MISSING)
        if dumper is _MISSING:
            dumper = self._compiled_dumper = compile_dumper(self)
        if dumper is None:
            return super().dump(obj, many=many)
        if self.many if many is None else many:
            return [dumper(item) for item in obj]
        return dumper(obj)
