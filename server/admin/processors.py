"""Processors of every type in one view: settings, the zone editor, the preview, the events."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from flask import Response, flash, redirect, request, url_for
from flask_admin import expose
from flask_admin.actions import action
from flask_admin.babel import gettext
from flask_admin.model.template import EndpointLinkRowAction
from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError
from wtforms.fields.choices import SelectChoice

from server.admin.base import SecureModelView, id_arg, row_ids
from server.admin.forms import ProcessorForm
from server.extensions import db_session
from server.models import Camera, Processor, processor_types
from server.timefmt import utc_now

log = logging.getLogger(__name__)

PREVIEW_URL = "/videos/{processor_id}/index.m3u8"
INPUT_MINUTES = "%Y-%m-%dT%H:%M"  # what <input type="datetime-local"> shows


def _zones_cell(_view: Any, _context: Any, model: Processor, _name: str) -> str:
    return f"{len(model.zones)} zone(s)" if model.zones else "whole frame"


def _camera_cell(_view: Any, _context: Any, model: Processor, _name: str) -> str:
    return f"{model.camera_id}: {model.camera.name or model.camera.stream_url}"


class ProcessorView(SecureModelView):
    form = ProcessorForm
    create_template = "hypersight/processor_create.html"
    edit_template = "hypersight/processor_edit.html"
    column_list = ("id", "camera", "type", "zones", "threshold", "anchor", "classes", "enabled", "output_hls")
    column_labels = {"output_hls": "Preview"}
    column_sortable_list = ("id", "type", "threshold", "enabled", ("camera", "camera_id"))
    column_default_sort = "id"
    column_formatters = {"zones": _zones_cell, "camera": _camera_cell}
    column_extra_row_actions = [
        EndpointLinkRowAction("fa fa-play", ".preview_view", title="Preview and live count"),
        EndpointLinkRowAction("fa fa-bar-chart", ".events_view", title="Events"),
    ]

    # --- forms ------------------------------------------------------------------
    def _fill_choices(self, form: ProcessorForm, model: Processor | None) -> ProcessorForm:
        cameras = db_session().execute(select(Camera.id, Camera.name, Camera.stream_url).order_by(Camera.id))
        form.camera_id.choices = [SelectChoice(cid, f"{cid}: {name or url}") for cid, name, url in cameras]
        if model is None:
            form.type.choices = [SelectChoice(name) for name in sorted(processor_types())]
        else:
            # The type is the row's polymorphic identity: shown, never changed (make a new processor).
            form.type.choices = [SelectChoice(model.type)]
            form.type.data, form.type.raw_data = model.type, [model.type]
            form.type.render_kw = {"disabled": True}
        return form

    def create_form(self, obj: Any = None) -> ProcessorForm:
        form = self._fill_choices(super().create_form(obj), None)
        camera_id = request.args.get("camera_id", type=int)
        if request.method == "GET" and camera_id is not None:
            form.camera_id.data = camera_id
        return form

    def edit_form(self, obj: Processor | None = None) -> ProcessorForm:
        return self._fill_choices(super().edit_form(obj), obj)

    def create_model(self, form: ProcessorForm) -> Processor | bool:
        """Instantiate the subclass of the chosen type, so that the row gets its polymorphic identity."""
        session = db_session()
        try:
            model = processor_types()[form.values.type]()
            form.populate_obj(model)
            session.add(model)
            session.commit()
        except SQLAlchemyError as exc:
            session.rollback()
            log.exception("could not create a processor")
            flash(gettext("Failed to create record. %(error)s", error=str(exc)), "error")
            return False
        log.info("processor %s (%s) created on camera %s", model.id, model.type, model.camera_id)
        self.after_model_change(form, model, True)
        return model

    def render(self, template: str, **kwargs: Any) -> str:
        """Pages with a zone editor also get where to fetch frames from."""
        kwargs.setdefault("frame_base", url_for("camera.frame_view", camera_id=0)[:-1])
        return super().render(template, **kwargs)

    # --- bulk actions ---------------------------------------------------------------
    @action("enable", "Enable", "Enable the selected processors?")
    def action_enable(self, ids: list[str]) -> None:
        self._set_enabled(ids, True)

    @action("disable", "Disable", "Disable the selected processors?")
    def action_disable(self, ids: list[str]) -> None:
        self._set_enabled(ids, False)

    def _set_enabled(self, ids: list[str], enabled: bool) -> None:
        processor_ids = row_ids(ids)
        session = db_session()
        session.execute(update(Processor).where(Processor.id.in_(processor_ids)).values(enabled=enabled))
        session.commit()
        flash(f"{'Enabled' if enabled else 'Disabled'} {len(processor_ids)} processor(s).", "success")

    # --- preview and events pages -----------------------------------------------
    def _processor_or_back(self) -> Processor | None:
        processor = db_session().get(Processor, id_arg())
        if processor is None:
            flash("No such processor.", "error")
        return processor

    @expose("/preview/")
    def preview_view(self) -> str | Response:
        """The processor's HLS preview playing, with its live count beside it."""
        processor = self._processor_or_back()
        if processor is None:
            return redirect(url_for(".index_view"))
        return self.render("hypersight/processor_preview.html", processor=processor,
                           preview_url=PREVIEW_URL.format(processor_id=processor.id))

    @expose("/events/")
    def events_view(self) -> str | Response:
        """A chart and a table of the processor's events over a range chosen in camera-local time."""
        processor = self._processor_or_back()
        if processor is None:
            return redirect(url_for(".index_view"))
        local_now = utc_now() + timedelta(hours=processor.camera.tz)
        stop = (local_now + timedelta(minutes=1)).strftime(INPUT_MINUTES)
        start = (local_now - timedelta(days=1)).strftime(INPUT_MINUTES)
        default_agg = "sum" if processor.type == "traffic" else "max"
        return self.render("hypersight/processor_events.html", processor=processor, start=start, stop=stop,
                           default_agg=default_agg)
