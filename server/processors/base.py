"""The runtime side of processors: settings snapshots, the base class and the registry.

ORM rows (``server.models.processor``) hold what an operator configured. A watcher
turns each row into a frozen :class:`ProcessorSettings` snapshot, so that the
runtime never touches a session, and hands it to the runtime class registered
under the row's polymorphic identity. The runtime keeps its state (tracks, the
last count) for as long as the watcher runs; :meth:`ProcessorRuntime.update_settings`
swaps the configuration between segments without losing it.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import numpy as np

from server.processors.frames import Frame
from server.processors.geometry import ANCHOR_BOTTOM_CENTER, ANCHORS, ZoneSet, validate_zones

if TYPE_CHECKING:
    from server.models.processor import Processor

log = logging.getLogger(__name__)

Event = tuple[datetime, int]
PERSON_CLASS = 0


@dataclass(frozen=True)
class ProcessorSettings:
    """A frozen, validated copy of one processor's configuration."""

    id: int
    camera_id: int
    type: str
    zones: tuple[tuple[tuple[float, float], ...], ...] = ()
    threshold: float = 0.5
    anchor: str = ANCHOR_BOTTOM_CENTER
    classes: tuple[int, ...] = (PERSON_CLASS,)
    enabled: bool = True
    output_hls: bool = False

    def __post_init__(self) -> None:
        zones = validate_zones([list(zone) for zone in self.zones])
        object.__setattr__(self, "zones", tuple(tuple((x, y) for x, y in zone) for zone in zones))
        if self.anchor not in ANCHORS:
            raise ValueError(f"processor {self.id}: anchor must be one of {ANCHORS}, got {self.anchor!r}")
        if not 0 <= self.threshold <= 1:
            raise ValueError(f"processor {self.id}: threshold must be between 0 and 1, got {self.threshold}")
        object.__setattr__(self, "classes", tuple(int(c) for c in self.classes))

    @classmethod
    def from_model(cls, processor: Processor) -> ProcessorSettings:
        """Snapshot an ORM row; ValueError names the key that is wrong."""
        return cls(
            id=processor.id,
            camera_id=processor.camera_id,
            type=processor.type,
            zones=tuple(tuple(map(tuple, zone)) for zone in (processor.zones or [])),
            threshold=float(0.5 if processor.threshold is None else processor.threshold),
            anchor=processor.anchor or ANCHOR_BOTTOM_CENTER,
            classes=tuple(processor.classes if processor.classes is not None else (PERSON_CLASS,)),
            enabled=bool(processor.enabled),
            output_hls=bool(processor.output_hls),
        )


class FaceDetectorLike(Protocol):
    """What ``detector_client.FaceDetectorClient`` offers."""

    def detect_faces(self, crop: np.ndarray) -> Sequence[Any]: ...


@dataclass(frozen=True)
class ProcessorContext:
    """What a runtime needs from the world beyond its frames, injected so tests can pass real parts."""

    camera_url: str = ""
    # Hours from UTC of the camera's local time (``camera.tz``): face messages speak local time.
    camera_tz: float = 0.0
    face_detector: FaceDetectorLike | None = None
    publish_faces: Callable[[dict[str, Any]], None] | None = None


@dataclass
class Overlay:
    """What the preview writer draws for the last frame processed (relative coordinates)."""

    boxes_rel: np.ndarray = field(default_factory=lambda: np.zeros((0, 4)))
    inside: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    track_ids: list[int] | None = None
    tails_rel: dict[int, list[tuple[float, float]]] = field(default_factory=dict)
    faces_rel: np.ndarray = field(default_factory=lambda: np.zeros((0, 4)))
    count: int = 0
    label: str = ""


class ProcessorRuntime(ABC):
    """Base of every runtime processor: one subclass per polymorphic identity.

    Subclasses set ``type_key`` and implement :meth:`_process`; they register with
    :func:`register`. ``process()`` is pure (no database): it returns the events, and
    :func:`server.processors.store.store_events` writes them.
    """

    type_key: ClassVar[str]

    def __init__(self, settings: ProcessorSettings, context: ProcessorContext | None = None) -> None:
        self.settings = settings
        self.context = context or ProcessorContext()
        self.last_overlay = Overlay()
        self._zone_cache: dict[tuple[int, int], ZoneSet] = {}

    def update_settings(self, settings: ProcessorSettings) -> None:
        """Take a new configuration between segments; state such as tracks is kept."""
        if settings.id != self.settings.id or settings.type != self.type_key:
            raise ValueError(f"settings of processor {settings.id} ({settings.type}) given to {self!r}")
        if settings != self.settings:
            log.info("processor %s: settings changed", settings.id)
            self._zone_cache.clear()
        self.settings = settings

    def process(self, frames: Sequence[Frame]) -> list[Event]:
        """Events ``(naive UTC ts, value)`` for a batch of frames in time order."""
        if not self.settings.enabled:
            return []
        events: list[Event] = []
        for frame in sorted(frames, key=lambda f: f.ts):
            events.extend(self._process(frame))
        return events

    @abstractmethod
    def _process(self, frame: Frame) -> list[Event]:
        """Events for one frame; also updates ``last_overlay``."""

    def zones_for(self, frame: Frame) -> ZoneSet:
        """The zones scaled to this frame's size, cached since a camera's size rarely changes."""
        size = frame.size_wh
        if size not in self._zone_cache:
            self._zone_cache[size] = ZoneSet(self.settings.zones, size)
        return self._zone_cache[size]

    def __repr__(self) -> str:
        return f"<{type(self).__name__} processor={self.settings.id}>"


RUNTIMES: dict[str, type[ProcessorRuntime]] = {}


def register(cls: type[ProcessorRuntime]) -> type[ProcessorRuntime]:
    """Class decorator: make a runtime available under its ``type_key`` (the ORM identity)."""
    if cls.type_key in RUNTIMES and RUNTIMES[cls.type_key] is not cls:
        raise ValueError(f"two runtimes for processor type {cls.type_key!r}")
    RUNTIMES[cls.type_key] = cls
    return cls


def create_runtime(settings: ProcessorSettings, context: ProcessorContext | None = None) -> ProcessorRuntime:
    """The runtime for a processor's type; KeyError names the type when none is registered."""
    import server.processors  # noqa: F401  (registers the built-in types)

    try:
        cls = RUNTIMES[settings.type]
    except KeyError:
        raise KeyError(f"no runtime for processor type {settings.type!r}; known: {sorted(RUNTIMES)}") from None
    return cls(settings, context)
