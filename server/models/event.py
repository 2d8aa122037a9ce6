"""ProcessorEvent: the only thing processors persist, so metric queries stay cheap."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base, UtcDateTime


class ProcessorEvent(Base):
    __tablename__ = "processor_event"
    __table_args__ = (Index("ix_processor_event_processor_id_ts", "processor_id", "ts"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    processor_id: Mapped[int] = mapped_column(ForeignKey("processor.id", ondelete="CASCADE"))
    # Naive UTC, microsecond precision.
    ts: Mapped[datetime] = mapped_column(UtcDateTime)
    value: Mapped[int] = mapped_column(Integer)

    def __repr__(self) -> str:
        return f"<ProcessorEvent p{self.processor_id} {self.ts} {self.value}>"
