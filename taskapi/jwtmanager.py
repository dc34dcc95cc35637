"""Flask-JWT-Extended's ``JWTManager``, decoding each token once per request.

The library parses a token three times to check it: an unverified decode and an
unverified header read (to hand both to a ``decode_key_loader`` callback), then
the verified decode. taskapi registers no such callback (one HS256 key,
``JWT_SECRET_KEY``), so the first two are skipped and only the verified decode
runs, with the library's own claim checks (``flask_jwt_extended.tokens``). Its
result, or its error, is also kept for the rest of the request: the rate
limiter's key function (:func:`taskapi.ratelimits.client_key`) and
``jwt_required`` then share one decode. With a ``decode_key_loader`` registered
the library's own path runs. Errors and their messages are the library's.

The ``Authorization`` header has one reading, :func:`bearer_token`: the rate
limiter takes the token from it, and the token check
(:func:`taskapi.auth.tokens.init_jwt`) hands Flask-JWT-Extended that same token
and nothing else, so a header cannot authenticate as a user while being counted
as an anonymous client, or the reverse.
"""

from __future__ import annotations

import re

from flask import g, has_request_context
from flask_jwt_extended import JWTManager as _JWTManager
from flask_jwt_extended.config import config
from flask_jwt_extended.default_callbacks import default_decode_key_callback
from flask_jwt_extended.tokens import _decode_jwt
from jwt import ExpiredSignatureError, get_unverified_header

_MEMO = "_taskapi_decoded_jwt"

#: Longest ``Authorization`` header that names the Bearer scheme, in characters.
#: Tokens issued here are about 400; gunicorn refuses header lines over 8190 bytes.
MAX_AUTHORIZATION_LENGTH = 8192
#: RFC 6750 section 2.1: ``credentials = "Bearer" 1*SP b64token``; the scheme is
#: case-insensitive (RFC 9110 section 11.1).
_BEARER_CREDENTIALS = re.compile(r"(?i:bearer) +([A-Za-z0-9\-._~+/]+=*)")


def bearer_elements(header: str) -> list[str]:
    """The elements of an ``Authorization`` header value that name the Bearer
    scheme, stripped: the header read as a comma-separated list (RFC 9110
    section 5.6.1; Flask-JWT-Extended reads it so), an element's scheme being
    its first word in any case. ``"Basic eA==, bearer t"`` -> ``["bearer t"]``."""
    elements = (element.strip() for element in header.split(","))
    return [element for element in elements
            if element and element.split(None, 1)[0].lower() == "bearer"]


def bearer_token(header: str | None) -> str | None:
    """The bearer token of an ``Authorization`` header value, or None.

    The one reading of the header, used by the rate limiter
    (:func:`taskapi.ratelimits.client_key`) and by the token check. A token is
    read when exactly one element of the header (:func:`bearer_elements`) names
    the Bearer scheme and that element is ``Bearer`` (any case), one or more
    spaces and a b64token (RFC 6750 section 2.1); elements of other schemes are
    ignored (``Bearer <t>, Basic eA==`` is the token ``<t>``). None for no such
    element, several, another separator (a tab), characters outside b64token,
    or a header longer than :data:`MAX_AUTHORIZATION_LENGTH`.
    """
    if not header or len(header) > MAX_AUTHORIZATION_LENGTH:
        return None
    elements = bearer_elements(header)
    if len(elements) != 1:
        return None
    match = _BEARER_CREDENTIALS.fullmatch(elements[0])
    return match.group(1) if match else None


class JWTManager(_JWTManager):
    """``JWTManager`` with one verified decode per token and request."""

    def _decode_jwt_from_config(self, encoded_token: str, csrf_value=None,
                                allow_expired: bool = False) -> dict:
        key = (encoded_token, csrf_value, allow_expired)
        memo = g.get(_MEMO) if has_request_context() else None
        if memo is not None and memo[0] == key:
            if isinstance(memo[1], Exception):
                raise memo[1]
            return dict(memo[1])
        try:
            claims = self._decode_once(encoded_token, csrf_value, allow_expired)
        except Exception as error:
            if has_request_context():
                setattr(g, _MEMO, (key, error))
            raise
        if has_request_context():
            setattr(g, _MEMO, (key, dict(claims)))
        return claims

    def _decode_once(self, encoded_token: str, csrf_value, allow_expired: bool) -> dict:
        if self._decode_key_callback is not default_decode_key_callback:
            return super()._decode_jwt_from_config(encoded_token, csrf_value, allow_expired)
        kwargs = {
            "algorithms": config.decode_algorithms,
            "audience": config.decode_audience,
            "csrf_value": csrf_value,
            "encoded_token": encoded_token,
            "identity_claim_key": config.identity_claim_key,
            "issuer": config.decode_issuer,
            "leeway": config.leeway,
            "secret": config.decode_key,
            "verify_aud": config.decode_audience is not None,
            "verify_sub": config.verify_sub,
        }
        try:
            return _decode_jwt(**kwargs, allow_expired=allow_expired)
        except ExpiredSignatureError as error:
            # As the library does: the expired-token callback gets header and claims.
            error.jwt_header = get_unverified_header(encoded_token)
            error.jwt_data = _decode_jwt(**kwargs, allow_expired=True)
            raise
