"""A camera: one stream, watched by one watcher."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import Boolean, Float, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.models.base import Base

if TYPE_CHECKING:
    from server.models.processor import Processor


class Camera(Base):
    __tablename__ = "camera"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    stream_url: Mapped[str] = mapped_column(String(1000), unique=True)
    # Frames sampled per second; detection cost scales with it.
    watch_fps: Mapped[float] = mapped_column(Float, default=1.0)
    # Mosaic grid: rows x cols sampled frames go to the detector in one image.
    watch_rows: Mapped[int] = mapped_column(Integer, default=1)
    watch_cols: Mapped[int] = mapped_column(Integer, default=1)
    # Hours from UTC of the camera's local time; metric queries speak local time.
    tz: Mapped[float] = mapped_column(Float, default=0.0)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)

    processors: Mapped[list[Processor]] = relationship(
        back_populates="camera", cascade="all, delete-orphan", passive_deletes=True
    )

    def __repr__(self) -> str:
        return f"<Camera {self.id} {self.name!r}>"
