"""Flask's JSON provider with orjson for responses, byte for byte the same output.

Flask's default provider writes responses with ``json.dumps(obj,
ensure_ascii=True, sort_keys=True, separators=(",", ":"))`` and a final newline
(Flask docs, "JSON" / ``DefaultJSONProvider``). For the same document orjson
(https://github.com/ijl/orjson) with ``OPT_SORT_KEYS`` writes the same bytes
while they are ASCII, several times faster. So a response body is written by
orjson and kept when it is ASCII without DEL (0x7f); anything else (non-ASCII text, which the
standard encoder escapes as ``\\uXXXX``; integers past 64 bits; non-string
keys) goes through the standard encoder as before. taskapi's documents hold no
floats; should one appear, orjson spells large exponents ``1e16`` where the
standard encoder writes ``1e+16`` (the same number), and writes the non-JSON
``NaN``/``Infinity`` as ``null``. Types orjson would serialise its own way
(datetimes, dataclasses) are handed to Flask's ``default`` first, as
``json.dumps`` does. Parsing (``request.get_json``) is unchanged.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
from flask import Flask, Response
from flask.json.provider import DefaultJSONProvider

_OPTIONS = (orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATETIME
            | orjson.OPT_PASSTHROUGH_DATACLASS)


class FastJSONProvider(DefaultJSONProvider):
    """:class:`DefaultJSONProvider` whose compact responses are written by orjson
    when that gives the same bytes (see the module docstring)."""

    def dumps_compact(self, obj: Any) -> bytes:
        """``obj`` as the default provider's compact response body, without the
        final newline."""
        if self.sort_keys and self.ensure_ascii:
            try:
                data = orjson.dumps(obj, default=self.default, option=_OPTIONS)
            except TypeError:
                data = None  # a type orjson refuses: the standard encoder decides
            # The standard encoder also escapes DEL (0x7f), which orjson writes as is.
            if data is not None and data.isascii() and b"\x7f" not in data:
                return data
        return json.dumps(obj, default=self.default, ensure_ascii=self.ensure_ascii,
                          sort_keys=self.sort_keys, separators=(",", ":")).encode()

    def response(self, *args: Any, **kwargs: Any) -> Response:
        if (self.compact is None and self._app.debug) or self.compact is False:
            return super().response(*args, **kwargs)
        obj = self._prepare_response_obj(args, kwargs)
        return self._app.response_class(self.dumps_compact(obj) + b"\n", mimetype=self.mimetype)


def init_json(app: Flask) -> None:
    """Install :class:`FastJSONProvider` on ``app``."""
    app.json = FastJSONProvider(app)
