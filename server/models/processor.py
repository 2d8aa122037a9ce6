"""Processor configuration rows; one polymorphic identity per processor type.

These classes hold what an operator configures. What a processor *does* with
frames lives in ``server/processors/`` (one runtime class per identity), so that
the models import without OpenCV and tracking state never touches the session.
A new type adds a subclass here (its own table only if it needs columns) and a
runtime class there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.models.base import Base

if TYPE_CHECKING:
    from server.models.camera import Camera

ANCHORS = ("bottom_center", "center")
PERSON_CLASS = 0


def _default_classes() -> list[int]:
    return [PERSON_CLASS]


class Processor(Base):
    __tablename__ = "processor"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    camera_id: Mapped[int] = mapped_column(ForeignKey("camera.id", ondelete="CASCADE"), index=True)
    type: Mapped[str] = mapped_column(String(50))
    # List of polygons, each a list of [x, y] in 0..1 of the frame; empty: the whole frame.
    zones: Mapped[list[Any]] = mapped_column(JSON, default=list)
    threshold: Mapped[float] = mapped_column(Float, default=0.5)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    output_hls: Mapped[bool] = mapped_column(Boolean, default=False)
    # The point of a box that must lie inside a zone.
    anchor: Mapped[str] = mapped_column(String(20), default="bottom_center")
    # Detector class ids counted (COCO; 0 is person).
    classes: Mapped[list[int]] = mapped_column(JSON, default=_default_classes)

    camera: Mapped[Camera] = relationship(back_populates="processors")

    __mapper_args__ = {"polymorphic_on": "type", "polymorphic_identity": "processor"}

    def __repr__(self) -> str:
        return f"<Processor {self.id} {self.type} camera={self.camera_id}>"


class ObjectsCounter(Processor):
    """How many objects are in the zones now; an event whenever the number changes."""

    __mapper_args__ = {"polymorphic_identity": "object"}


class TrafficCounter(Processor):
    """How many tracked objects entered a zone; an event per batch of entries."""

    __mapper_args__ = {"polymorphic_identity": "traffic"}


class FaceDetector(Processor):
    """Faces of objects in the zones, published live; stores no events of its own."""

    __mapper_args__ = {"polymorphic_identity": "face"}


def processor_types() -> dict[str, type[Processor]]:
    """Every concrete identity and its class, from the mapper (so new subclasses register themselves)."""
    mapping = Processor.__mapper__.polymorphic_map
    return {
        identity: mapper.class_
        for identity, mapper in mapping.items()
        if identity != "processor"
    }
