"""Bearer-token authentication of the HTTP API (every route but /health)."""

from __future__ import annotations

import hmac

from flask import Blueprint, current_app, request

from server.api.errors import ApiError


def _token_ok(header: str, tokens: list[str]) -> bool:
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        return False
    # Compare against every token in constant time, so timing reveals nothing.
    return any(hmac.compare_digest(token.strip().encode(), known.encode()) for known in tokens)


def require_token() -> None:
    tokens: list[str] = current_app.config["API_TOKENS"]
    if tokens and not _token_ok(request.headers.get("Authorization", ""), tokens):
        raise ApiError("Missing or wrong API token (Authorization: Bearer <token>)", 401)


def protect(blueprint: Blueprint) -> Blueprint:
    blueprint.before_request(require_token)
    return blueprint
