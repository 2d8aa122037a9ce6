"""ObjectsCounter (``object``): how many objects are in the zones now."""

from __future__ import annotations

import logging

from server.processors.base import Event, Overlay, ProcessorRuntime, register
from server.processors.frames import Frame
from server.processors.geometry import anchor_points, boxes_px

log = logging.getLogger(__name__)


@register
class ObjectsCounter(ProcessorRuntime):
    """Counts the objects whose anchor lies in any zone, frame by frame.

    It writes an event for the first frame it sees and then only when the number
    changes, so the table holds a step function: the count at any time is the
    latest event at or before it, which is what ``POST /objects`` answers.
    """

    type_key = "object"
    last_count: int | None = None

    def _process(self, frame: Frame) -> list[Event]:
        settings = self.settings
        detections = frame.detections.filtered(settings.threshold, settings.classes)
        boxes = boxes_px(detections.boxes_rel, frame.size_wh)
        inside = self.zones_for(frame).contains_px(anchor_points(boxes, settings.anchor))
        count = int(inside.sum())
        self.last_overlay = Overlay(
            boxes_rel=detections.boxes_rel, inside=inside, count=count, label=f"in zone: {count}"
        )
        if count == self.last_count:
            return []
        self.last_count = count
        return [(frame.ts, count)]
