"""Reading request bodies and query strings into typed values, or a clear 400."""

from __future__ import annotations

from typing import Any, TypeVar

from flask import request
from pydantic import BaseModel, ValidationError

from server.api.errors import ApiError
from server.api.schemas import MAX_ID

M = TypeVar("M", bound=BaseModel)


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
