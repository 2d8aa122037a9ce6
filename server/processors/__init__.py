"""Runtime processors: what each processor type does with sampled frames.

``create_runtime(ProcessorSettings.from_model(row), context)`` gives the runtime for
a processor row; ``runtime.process(frames)`` returns its events and
``store_events(session, processor_id, events)`` writes them. See docs/processors.md.
"""

from server.processors.base import (
    RUNTIMES,
    Event,
    Overlay,
    ProcessorContext,
    ProcessorRuntime,
    ProcessorSettings,
    create_runtime,
    register,
)
from server.processors.faces import FaceDetector
from server.processors.frames import Detections, Frame
from server.processors.objects import ObjectsCounter
from server.processors.store import store_events
from server.processors.traffic import TrafficCounter

__all__ = [
    "RUNTIMES",
    "Detections",
    "Event",
    "FaceDetector",
    "Frame",
    "ObjectsCounter",
    "Overlay",
    "ProcessorContext",
    "ProcessorRuntime",
    "ProcessorSettings",
    "TrafficCounter",
    "create_runtime",
    "register",
    "store_events",
]
