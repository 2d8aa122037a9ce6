"""CRUD of cameras: /api/cameras."""

from __future__ import annotations

from flask import Blueprint, jsonify
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from server.api.auth import protect
from server.api.errors import ApiError
from server.api.requests import json_object, require_json_body, validate
from server.api.schemas import CameraIn, merged
from server.extensions import db_session
from server.models import Camera

bp = protect(Blueprint("cameras", __name__, url_prefix="/api/cameras"))
bp.before_request(require_json_body)
FIELDS = tuple(CameraIn.model_fields)


def camera_json(camera: Camera) -> dict:
    data = {field: getattr(camera, field) for field in FIELDS}
    data["id"] = camera.id
    data["processors"] = [processor.id for processor in camera.processors]
    return data


def _get(camera_id: int) -> Camera:
    camera = db_session().get(Camera, camera_id)
    if camera is None:
        raise ApiError(f"No camera {camera_id}", 404)
    return camera


def _commit(camera: Camera) -> None:
    session = db_session()
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise ApiError(f"A camera with stream_url {camera.stream_url[:200]!r} exists already", 409) from None


@bp.get("")
def list_cameras():
    cameras = db_session().scalars(select(Camera).order_by(Camera.id)).all()
    return jsonify([camera_json(camera) for camera in cameras])


@bp.post("")
def create_camera():
    values = validate(CameraIn, json_object())
    camera = Camera(**values.model_dump())
    db_session().add(camera)
    _commit(camera)
    return jsonify(camera_json(camera)), 201


@bp.get("/<int(max=2147483647):camera_id>")
def get_camera(camera_id: int):
    return jsonify(camera_json(_get(camera_id)))


@bp.patch("/<int(max=2147483647):camera_id>")
def update_camera(camera_id: int):
    camera = _get(camera_id)
    current = {field: getattr(camera, field) for field in FIELDS}
    values = validate(CameraIn, merged(current, json_object()))
    for field, value in values.model_dump().items():
        setattr(camera, field, value)
    _commit(camera)
    return jsonify(camera_json(camera))


@bp.delete("/<int(max=2147483647):camera_id>")
def delete_camera(camera_id: int):
    """Deletes the camera with its processors and their events (the database cascades)."""
    session = db_session()
    session.delete(_get(camera_id))
    session.commit()
    return jsonify({"err": False, "deleted": camera_id})
