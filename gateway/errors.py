"""Errors the gateway answers with, and how each maps to an HTTP response.

    GatewayError                 status, generic public message, optional Retry-After
    ├── InvalidRequestError      422: valid JSON that cannot be encoded for the provider
    ├── OverloadedError          503: MAX_CONCURRENCY requests already in flight
    ├── PoolExhaustedError       503: no upstream connection free within the pool timeout
    ├── UpstreamRateLimitedError 429: the provider said 429 (its Retry-After is passed on)
    ├── UpstreamTimeoutError     504: connect or read timeout towards the provider
    └── UpstreamFailedError      502: provider 5xx/401/403, reset connection, unreadable body

Upstream bodies and headers never reach the client: each error carries a fixed public message,
and what was observed upstream is kept in `detail` for the log line only.
"""

from __future__ import annotations

import json

import orjson


class GatewayError(Exception):
    status_code = 500
    public_message = "internal error"

    def __init__(self, detail: str = "", retry_after: int | None = None) -> None:
        self.detail = detail
        self.retry_after = retry_after
        super().__init__(detail or self.public_message)


class InvalidRequestError(GatewayError):
    status_code = 422
    public_message = "request cannot be encoded as JSON for the provider"


def encode_json(value: object, sort_keys: bool = False) -> bytes:
    """JSON bytes for the provider or a cache key.

    orjson is the fast path; what it refuses but JSON allows (integers beyond 64 bits in fields
    passed through to the provider) goes through the standard encoder. What neither can encode
    is the client's error (422), never a crash.
    """
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS if sort_keys else None)
    except orjson.JSONEncodeError:
        pass
    try:
        text = json.dumps(value, sort_keys=sort_keys, separators=(",", ":"), ensure_ascii=False)
        return text.encode()
    except (TypeError, ValueError) as exc:  # UnicodeEncodeError is a ValueError
        raise InvalidRequestError(type(exc).__name__) from exc


class OverloadedError(GatewayError):
    status_code = 503
    public_message = "gateway is at capacity, retry later"


class PoolExhaustedError(GatewayError):
    status_code = 503
    public_message = "no upstream connection available, retry later"


class UpstreamRateLimitedError(GatewayError):
    status_code = 429
    public_message = "upstream provider is rate limiting, retry later"


class UpstreamTimeoutError(GatewayError):
    status_code = 504
    public_message = "upstream provider timed out"


class UpstreamFailedError(GatewayError):
    status_code = 502
    public_message = "upstream provider failed"
