"""Marshmallow fields shared by the auth and tasks schemas."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import marshmallow as ma

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_CONTROL_OR_NEWLINE = re.compile(r"[\x00-\x1f\x7f]")


class TrimmedString(ma.fields.String):
    """A string stripped of surrounding whitespace, then length-checked.

    Control characters are refused (NUL cannot be stored in PostgreSQL text);
    ``multiline=True`` allows tab, LF and CR. ``lower=True`` lower-cases.
    """

    def __init__(
        self, *, min_length: int = 0, max_length: int, multiline: bool = False,
        lower: bool = False, **kwargs,
    ):
        super().__init__(**kwargs)
        self.min_length = min_length
        self.max_length = max_length
        self.lower = lower
        self.forbidden = _CONTROL if multiline else _CONTROL_OR_NEWLINE
        self.metadata.setdefault("minLength", min_length)
        self.metadata.setdefault("maxLength", max_length)
        self.metadata.setdefault("pattern", _pattern(multiline, nonblank=min_length > 0))

    def _deserialize(self, value, attr, data, **kwargs):
        raw = super()._deserialize(value, attr, data, **kwargs)
        # The maximum holds for the text as sent (the OpenAPI maxLength); the minimum
        # and the control-character rule hold after trimming.
        if len(raw) > self.max_length:
            raise ma.ValidationError(f"Must be at most {self.max_length} characters.")
        text = raw.strip()
        if self.forbidden.search(text):
            raise ma.ValidationError("Must not contain control characters.")
        if self.min_length and len(text) < self.min_length:
            raise ma.ValidationError(
                "Must not be blank." if not text
                else f"Must be at least {self.min_length} characters."
            )
        return text.lower() if self.lower else text


def _pattern(multiline: bool, *, nonblank: bool, also: str = "") -> str:
    """The JSON Schema ``pattern`` of :class:`TrimmedString`: once surrounding
    whitespace is trimmed, no control characters (tab, LF and CR allowed when
    ``multiline``) and, with ``nonblank``, at least one character. ``\\s`` stands for
    what Python's ``str.strip`` removes; ``also`` lists more forbidden characters."""
    control = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f" if multiline else r"\x00-\x1f\x7f"
    control += also
    core = f"[^{control}]*"
    if nonblank:
        core = f"{core}[^\\s{control}]{core}"
    return f"^\\s*{core}\\s*$"


#: Longest datetime text accepted: ``2025-01-31T09:00:00.123456+02:00`` is 32
#: characters; Python would otherwise parse any number of fraction digits.
MAX_DATETIME_LENGTH = 40


class UTCDateTime(ma.fields.AwareDateTime):
    """ISO 8601 datetime that must carry an offset; loaded and dumped as UTC.

    ``2025-01-31T09:00:00+02:00`` loads as ``2025-01-31T07:00:00+00:00``; a value
    without an offset is a validation error (422).
    """

    default_error_messages = {
        "naive": "Must include a UTC offset, e.g. 2025-01-31T09:00:00Z or +02:00.",
        "range": "Must be between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z in UTC.",
    }

    def __init__(self, **kwargs):
        kwargs["metadata"] = {"maxLength": MAX_DATETIME_LENGTH, **kwargs.get("metadata", {})}
        super().__init__(format="iso", default_timezone=None, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str) and len(value) > MAX_DATETIME_LENGTH:
            raise self.make_error("invalid", input=value, obj_type="datetime")
        loaded = super()._deserialize(value, attr, data, **kwargs)
        try:
            return loaded.astimezone(UTC)
        except OverflowError:  # e.g. 9999-12-31T23:59:59-12:00 is in year 10000 in UTC
            raise self.make_error("range") from None

    def _serialize(self, value: datetime | None, attr, obj, **kwargs):
        # datetime.isoformat is marshmallow's "iso" format, without its dispatch
        # (a list page dumps 80 of these).
        return None if value is None else value.astimezone(UTC).isoformat()


class StrictBoolean(ma.fields.Boolean):
    """A JSON boolean: ``true`` or ``false`` only (not ``"true"``, ``1`` or ``"yes"``)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if value is True or value is False:
            return value
        raise self.make_error("invalid", input=value)


class QueryBoolean(ma.fields.Boolean):
    """A query-string boolean: exactly ``true`` or ``false``."""

    def __init__(self, **kwargs):
        super().__init__(truthy={"true"}, falsy={"false"}, **kwargs)


class TagName(TrimmedString):
    """A tag: 1-50 characters after trimming, no commas or control characters."""

    def __init__(self, **kwargs):
        super().__init__(min_length=1, max_length=50, **kwargs)
        self.metadata["pattern"] = _pattern(False, nonblank=True, also=",")

    def _deserialize(self, value, attr, data, **kwargs):
        name = super()._deserialize(value, attr, data, **kwargs)
        if "," in name:
            raise ma.ValidationError("Must not contain commas.")
        return name
