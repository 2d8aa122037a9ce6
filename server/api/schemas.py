"""What the CRUD API accepts for cameras and processors, validated with pydantic.

Strict types: a JSON string is not silently taken for a number or a boolean,
and unknown fields are refused, so a client's typo is reported, not ignored.
Strings with NUL characters are refused too: PostgreSQL cannot store them.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from server.models import ANCHORS, processor_types

Point = Annotated[list[float], Field(min_length=2, max_length=2)]
MAX_ZONES = 32
MAX_POINTS = 200
# Ids are 32-bit integers on every database; a larger number cannot name anything.
MAX_ID = 2**31 - 1


class StrictIn(BaseModel):
    """What every input model shares: strict types, no unknown fields, no NUL in any string."""

    model_config = ConfigDict(strict=True, extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        # PostgreSQL refuses "\x00" in text (a DataError at commit); SQLite would store it. Say which field.
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("must not contain NUL characters")
        return value


class CameraIn(StrictIn):
    name: str = Field("", max_length=200)
    stream_url: str = Field(min_length=1, max_length=1000)
    watch_fps: float = Field(1.0, gt=0, le=30)
    watch_rows: int = Field(1, ge=1, le=8)
    watch_cols: int = Field(1, ge=1, le=8)
    tz: float = Field(0.0, ge=-12, le=14)
    enabled: bool = True

    @field_validator("stream_url")
    @classmethod
    def _no_blank_url(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()


class ProcessorIn(StrictIn):
    camera_id: int = Field(ge=1, le=MAX_ID)
    type: str
    zones: list[list[Point]] = Field(default_factory=list, max_length=MAX_ZONES)
    threshold: float = Field(0.5, ge=0, le=1)
    enabled: bool = True
    output_hls: bool = False
    anchor: Literal[ANCHORS] = "bottom_center"  # type: ignore[valid-type]
    classes: list[Annotated[int, Field(ge=0, le=999)]] = Field(default_factory=lambda: [0], max_length=100)

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        known = sorted(processor_types())
        if value not in known:
            raise ValueError(f"unknown processor type {value[:40]!r}; known: {', '.join(known)}")
        return value

    @field_validator("zones")
    @classmethod
    def _valid_zones(cls, zones: list[list[list[float]]]) -> list[list[list[float]]]:
        for index, polygon in enumerate(zones):
            if not 3 <= len(polygon) <= MAX_POINTS:
                raise ValueError(f"zone {index} must have 3 to {MAX_POINTS} points, has {len(polygon)}")
            for x, y in polygon:
                if not (math.isfinite(x) and math.isfinite(y) and 0 <= x <= 1 and 0 <= y <= 1):
                    raise ValueError(f"zone {index}: point [{x}, {y}] is outside 0..1")
        return zones


def merged(current: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """A PATCH is validated as the whole object it would produce."""
    return {**current, **patch}
