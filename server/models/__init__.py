"""The data model: cameras, processors, their events, admin users."""

from server.models.base import Base, utcnow
from server.models.camera import Camera
from server.models.event import ProcessorEvent
from server.models.processor import (
    ANCHORS,
    FaceDetector,
    ObjectsCounter,
    Processor,
    TrafficCounter,
    processor_types,
)
from server.models.user import User

__all__ = [
    "ANCHORS",
    "Base",
    "Camera",
    "FaceDetector",
    "ObjectsCounter",
    "Processor",
    "ProcessorEvent",
    "TrafficCounter",
    "User",
    "processor_types",
    "utcnow",
]
