"""Admin forms for cameras and processors, validated by the same rules as the JSON API.

The pydantic models of ``server/api/schemas.py`` are the one definition of a
valid camera or processor (zones: polygons of at least 3 points in 0..1); the
forms only turn HTML inputs into Python values and show pydantic's messages on
the fields they concern.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from flask_wtf import FlaskForm
from pydantic import BaseModel
from pydantic import ValidationError as PydanticError
from wtforms import BooleanField, FloatField, HiddenField, IntegerField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length

from server.api.schemas import CameraIn, ProcessorIn
from server.models import ANCHORS


class JsonField(HiddenField):
    """A value edited by JavaScript (the zone editor) and posted as JSON text."""

    def _value(self) -> str:
        return json.dumps(self.data if self.data is not None else [])

    def process_formdata(self, valuelist: list[str]) -> None:
        if not valuelist:
            return
        try:
            self.data = json.loads(valuelist[0] or "[]")
        except ValueError:
            self.data = None
            raise ValueError("not valid JSON") from None


class IntListField(StringField):
    """COCO class ids typed as "0, 2, 7"."""

    def _value(self) -> str:
        return ", ".join(str(value) for value in self.data or [])

    def process_formdata(self, valuelist: list[str]) -> None:
        if not valuelist:
            return
        parts = [part.strip() for part in valuelist[0].replace(";", ",").split(",") if part.strip()]
        if not all(part.isdigit() for part in parts):
            self.data = None
            raise ValueError("whole numbers separated by commas, e.g. 0, 2")
        self.data = [int(part) for part in parts]


class SchemaForm(FlaskForm):
    """A form whose values are checked by a pydantic model; the checked values land in ``values``."""

    schema: ClassVar[type[BaseModel]]
    values: BaseModel | None = None

    def schema_input(self) -> dict[str, Any]:
        return {name: self[name].data for name in self.schema.model_fields if name in self}

    def validate(self, extra_validators: dict | None = None) -> bool:
        if not super().validate(extra_validators):
            return False
        try:
            self.values = self.schema.model_validate(self.schema_input())
        except PydanticError as exc:
            for error in exc.errors():
                name = str(error["loc"][0]) if error["loc"] else ""
                message = error["msg"].removeprefix("Value error, ")
                (self[name].errors if name in self else self.form_errors).append(message)
            return False
        return True

    def populate_obj(self, obj: Any) -> None:
        """Write the schema-checked values (not the raw inputs) onto the model."""
        assert self.values is not None, "populate_obj before a successful validate"
        for name, value in self.values.model_dump(exclude=self.not_written()).items():
            setattr(obj, name, value)

    def not_written(self) -> set[str]:
        return set()


class CameraForm(SchemaForm):
    schema = CameraIn

    name = StringField("Name", validators=[Length(max=200)])
    stream_url = StringField("Stream URL", validators=[InputRequired(), Length(max=1000)],
                             description="HLS (.m3u8), rtsp://, rtmp://, http:// or a file path")
    watch_fps = FloatField("Frames sampled per second", default=1.0, validators=[InputRequired()])
    watch_rows = IntegerField("Mosaic rows", default=1, validators=[InputRequired()])
    watch_cols = IntegerField("Mosaic columns", default=1, validators=[InputRequired()])
    tz = FloatField("Time zone (hours from UTC)", default=0.0, validators=[InputRequired()])
    enabled = BooleanField("Enabled", default=True)

    def schema_input(self) -> dict[str, Any]:
        values = super().schema_input()
        values["name"] = (values["name"] or "").strip()
        return values


class ProcessorForm(SchemaForm):
    """One form for every processor type; the zones come from the zone editor."""

    schema = ProcessorIn

    camera_id = SelectField("Camera", coerce=int, validators=[InputRequired()])
    type = SelectField("Type", validators=[InputRequired()], default="traffic",
                       description="traffic: entries into the zones; object: how many are in them; "
                                   "face: face crops of people in them")
    threshold = FloatField("Threshold (minimum detection score, 0..1)", default=0.5,
                           validators=[InputRequired()])
    anchor = SelectField("Anchor (the point of a box that must be in a zone)",
                         choices=[SelectChoice(anchor) for anchor in ANCHORS], default="bottom_center")
    classes = IntListField("Classes (COCO ids; 0 is person)", default=[0])
    enabled = BooleanField("Enabled", default=True)
    output_hls = BooleanField("Write an HLS preview", default=False)
    zones = JsonField(default=list)

    def not_written(self) -> set[str]:
        # The type is a polymorphic identity: fixed when the row is made (see ProcessorView.create_model).
        return {"type"}
