"""Reading request bodies and query strings into typed values, or a clear 400."""

from __future__ import annotations

import re
from typing import Any, TypeVar

from flask import request
from pydantic import BaseModel, ValidationError

from server.api.errors import ApiError
from server.api.schemas import MAX_ID

M = TypeVar("M", bound=BaseModel)


# The methods that change something (only POST can come from a cross-site page without a CORS preflight).
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# An integer in a query string: ASCII digits only (int() would also take "1_000" or Arabic-Indic digits).
_QUERY_INT = re.compile(r"-?[0-9]+")


def require_json_body() -> None:
    """A write with a body must declare it application/json (a 415 otherwise).

    Without API tokens, nothing but the content type tells a script's request from
    a cross-site form or simple fetch: those can send text/plain, form-encoded or
    multipart bodies without a CORS preflight, never application/json. A write
    without a body (a DELETE) cannot smuggle anything and passes.
    """
    if request.method not in WRITE_METHODS:
        return
    chunked = "chunked" in request.headers.get("Transfer-Encoding", "").lower()
    if (request.content_length or chunked) and not request.is_json:
        raise ApiError("Content-Type must be application/json", 415)


def json_object() -> dict[str, Any]:
    """The body as a JSON object; anything else is the client's mistake, said plainly."""
    data = request.get_json(silent=True, force=True)
    if not isinstance(data, dict):
        raise ApiError("Request body must be a JSON object")
    return data


def validation_message(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(part) for part in err["loc"]) or "body"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)


def validate(model: type[M], data: dict[str, Any]) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ApiError(validation_message(exc)) from None


def int_field(data: dict[str, Any], key: str) -> int:
    """An id that original clients send as a number (some as a numeric string)."""
    value = data.get(key)
    if isinstance(value, bool):
        raise ApiError(f"{key} must be an integer")
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit() and len(value.strip()) < 19:
        value = int(value)
    if isinstance(value, int):
        if not 0 <= value <= MAX_ID:
            raise ApiError(f"{key} is out of range")
        return value
    if value is None:
        raise ApiError(f"Missing field {key}")
    raise ApiError(f"{key} must be an integer")


def optional_str(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ApiError(f"{key} must be a string")
    return value


def int_arg(key: str) -> int | None:
    """An optional id in the query string: absent is None; not an id the database can hold is a 400.

    Same range as ids in bodies (int_field): a number beyond 32 bits would make
    the database overflow rather than match nothing.
    """
    text = request.args.get(key)
    if text is None:
        return None
    digits = text.strip()
    if not _QUERY_INT.fullmatch(digits):
        raise ApiError(f"{key} must be an integer")
    # The length test first: int() refuses (ValueError) strings of thousands of digits.
    if len(digits) > 20 or not 0 <= int(digits) <= MAX_ID:
        raise ApiError(f"{key} is out of range")
    return int(digits)
