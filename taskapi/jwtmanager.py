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
"""

from __future__ import annotations

from flask import g, has_request_context
from flask_jwt_extended import JWTManager as _JWTManager
from flask_jwt_extended.config import config
from flask_jwt_extended.default_callbacks import default_decode_key_callback
from flask_jwt_extended.tokens import _decode_jwt
from jwt import ExpiredSignatureError, get_unverified_header

_MEMO = "_taskapi_decoded_jwt"


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
