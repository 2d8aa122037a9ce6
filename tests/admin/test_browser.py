"""The admin site in headless Chromium against a real server: login, cameras, zone editor, preview, chart."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from server.models import Camera, ObjectsCounter, Processor, ProcessorEvent, TrafficCounter
from server.snapshot import SIZE_KEY
from server.timefmt import utc_now
from tests.admin.browser import needs_node_modules, screenshot, wait_until
from tests.admin.conftest import PASSWORD, STREAM_SIZE, USERNAME
from tests.support.servers import free_port

pytestmark = pytest.mark.slow
ZONE = [[0.2, 0.3], [0.8, 0.3], [0.8, 0.9], [0.2, 0.9]]
TRIANGLE = [[0.55, 0.05], [0.95, 0.05], [0.75, 0.25]]


def log_in(browser, url: str) -> None:
    from selenium.webdriver.common.by import By

    browser.get(url + "/admin/login")
    browser.find_element(By.ID, "username").send_keys(USERNAME)
    browser.find_element(By.ID, "password").send_keys(PASSWORD)
    browser.find_element(By.ID, "login-submit").click()
    wait_until(browser, lambda d: d.current_url.endswith("/admin/"), "the admin home after login")


def click_at(browser, canvas, point: list[float]) -> None:
    """A click at a relative point of the canvas (Selenium offsets are from the element's centre)."""
    from selenium.webdriver import ActionChains

    width, height = canvas.size["width"], canvas.size["height"]
    x, y = round(point[0] * width - width / 2), round(point[1] * height - height / 2)
    ActionChains(browser).move_to_element_with_offset(canvas, x, y).click().perform()


def drag(browser, canvas, start: list[float], end: list[float]) -> None:
    from selenium.webdriver import ActionChains

    width, height = canvas.size["width"], canvas.size["height"]
    x, y = round(start[0] * width - width / 2), round(start[1] * height - height / 2)
    dx, dy = round((end[0] - start[0]) * width), round((end[1] - start[1]) * height)
    ActionChains(browser).move_to_element_with_offset(canvas, x, y).click_and_hold().move_by_offset(
        dx // 2, dy // 2).move_by_offset(dx - dx // 2, dy - dy // 2).release().perform()


def assert_zones_close(stored: list, expected: list, tolerance: float = 0.01) -> None:
    assert len(stored) == len(expected), stored
    for zone, wanted in zip(stored, expected, strict=True):
        assert np.allclose(np.array(zone), np.array(wanted), atol=tolerance), (zone, wanted)


def save_form(browser) -> None:
    from selenium.webdriver.common.by import By

    browser.find_element(By.CSS_SELECTOR, "input[type=submit][value=Save]").click()
    wait_until(browser, lambda d: "/new/" not in d.current_url and "/edit/" not in d.current_url,
               "the list after saving")


@pytest.fixture()
def stream_camera(session, test_stream) -> Camera:
    camera = Camera(name="test pattern", stream_url=test_stream.url("stream.m3u8"))
    session.add(camera)
    session.commit()
    return camera


def test_log_in_and_add_a_camera_on_a_test_stream(browser, live_server, session, test_stream, shots):
    from selenium.webdriver.common.by import By

    log_in(browser, live_server.url)
    browser.get(live_server.url + "/admin/camera/new/")
    browser.find_element(By.ID, "name").send_keys("lobby")
    browser.find_element(By.ID, "stream_url").send_keys(test_stream.url("stream.m3u8"))
    save_form(browser)
    camera = session.scalars(select(Camera)).one()
    assert (camera.name, camera.stream_url, camera.enabled) == ("lobby", test_stream.url("stream.m3u8"), True)
    assert "not running" in browser.find_element(By.CSS_SELECTOR, "table.model-list").text
    browser.find_element(By.CSS_SELECTOR, "a[title='Test connection']").click()
    frame = wait_until(browser, lambda d: d.find_element(By.ID, "test-frame"), "the test frame")
    assert browser.execute_script("return arguments[0].naturalWidth", frame) == STREAM_SIZE[0]
    screenshot(browser, shots, "camera-test-connection")


def test_zone_editor_click_drag_add_delete_and_save(browser, live_server, session, stream_camera, shots):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    log_in(browser, live_server.url)
    browser.get(f"{live_server.url}/admin/processor/new/?camera_id={stream_camera.id}")
    editor = browser.find_element(By.ID, "zone-editor")
    wait_until(browser, lambda d: editor.get_attribute("data-state") == "ready", "the camera frame", shots)
    canvas = browser.find_element(By.ID, "zone-canvas")
    ratio = canvas.size["height"] / canvas.size["width"]
    assert abs(ratio - STREAM_SIZE[1] / STREAM_SIZE[0]) < 0.01
    moved = [0.7, 0.15]
    for point in [ZONE[0], moved, ZONE[2], ZONE[3]]:
        click_at(browser, canvas, point)
    drag(browser, canvas, moved, ZONE[1])
    browser.find_element(By.ID, "zone-new").click()
    for point in TRIANGLE:
        click_at(browser, canvas, point)
    browser.find_element(By.ID, "zone-delete").click()
    browser.find_element(By.ID, "zone-new").click()
    for point in TRIANGLE:
        click_at(browser, canvas, point)
    Select(browser.find_element(By.ID, "type")).select_by_value("traffic")
    screenshot(browser, shots, "zone-editor")
    save_form(browser)
    processor = session.scalars(select(Processor)).one()
    assert isinstance(processor, TrafficCounter)
    assert_zones_close(processor.zones, [ZONE, TRIANGLE])

    # The stored zones come back into the editor; deleting one and saving removes it.
    browser.get(f"{live_server.url}/admin/processor/edit/?id={processor.id}")
    wait_until(browser, lambda d: d.find_element(By.ID, "zone-editor").get_attribute("data-state") == "ready",
               "the camera frame on the edit page", shots)
    assert "2 zone(s)" in browser.find_element(By.ID, "zone-status").text
    browser.find_element(By.ID, "zone-delete").click()
    save_form(browser)
    session.expire_all()
    assert_zones_close(session.get(Processor, processor.id).zones, [ZONE])


def test_offline_camera_gets_zones_on_a_canvas_of_its_last_size(browser, live_server, session, redis_client,
                                                                 shots):
    from selenium.webdriver.common.by import By

    camera = Camera(name="dark", stream_url=f"http://127.0.0.1:{free_port()}/offline.m3u8")
    session.add(camera)
    session.commit()
    redis_client.set(SIZE_KEY.format(camera_id=camera.id), "640x480")
    log_in(browser, live_server.url)
    browser.get(f"{live_server.url}/admin/processor/new/?camera_id={camera.id}")
    editor = browser.find_element(By.ID, "zone-editor")
    wait_until(browser, lambda d: editor.get_attribute("data-state") == "offline", "the offline canvas", shots)
    canvas = browser.find_element(By.ID, "zone-canvas")
    assert abs(canvas.size["height"] / canvas.size["width"] - 0.75) < 0.01
    assert "640\N{MULTIPLICATION SIGN}480" in browser.find_element(By.ID, "zone-status").text
    for point in TRIANGLE:
        click_at(browser, canvas, point)
    screenshot(browser, shots, "zone-editor-offline")
    save_form(browser)
    assert_zones_close(session.scalars(select(Processor)).one().zones, [TRIANGLE])


def write_preview(preview_dir: Path, processor_id: int) -> None:
    """A finished preview of 8 s written by the real preview writer (ffmpeg, H.264 HLS)."""
    from server.preview import PreviewOptions, PreviewWriter

    writer = PreviewWriter(processor_id, preview_dir, PreviewOptions(segment_s=1, list_size=20, queue_frames=64))
    start = datetime.now()
    yy, xx = np.mgrid[0:240, 0:320]
    for i in range(32):
        frame = np.full((240, 320, 3), 30, np.uint8)
        frame[((xx - 10 * i) ** 2 + (yy - 120) ** 2) < 400] = (0, 200, 255)
        assert writer.write(frame, start + timedelta(seconds=i / 4), 4)
    writer.close()
    assert (preview_dir / str(processor_id) / "index.m3u8").is_file()


def test_preview_plays_with_the_live_count(browser, live_server, app, session, stream_camera, shots):
    from selenium.webdriver.common.by import By

    needs_node_modules("hls.js")

    processor = ObjectsCounter(camera_id=stream_camera.id, output_hls=True)
    session.add(processor)
    session.commit()
    session.add(ProcessorEvent(processor_id=processor.id, ts=utc_now() - timedelta(seconds=5), value=7))
    session.commit()
    write_preview(Path(app.config["PROCESSORS_PREVIEW_DIR"]), processor.id)
    log_in(browser, live_server.url)
    browser.get(f"{live_server.url}/admin/processor/preview/?id={processor.id}")
    video = browser.find_element(By.ID, "preview-video")
    wait_until(browser, lambda d: d.execute_script("return arguments[0].currentTime", video) > 1.0,
               "the preview to play", shots)
    wait_until(browser, lambda d: d.find_element(By.ID, "live-count").text == "7", "the live count", shots)
    screenshot(browser, shots, "processor-preview")


def test_events_chart_and_tables_render(browser, live_server, session, stream_camera, shots):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    needs_node_modules("chart.js")
    processor = TrafficCounter(camera_id=stream_camera.id)
    session.add(processor)
    session.commit()
    # Three whole hours ago and after, so that the hour buckets are known whatever the time now.
    hour = utc_now().replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)
    session.add_all([ProcessorEvent(processor_id=processor.id, ts=hour + timedelta(minutes=minutes), value=value)
                     for minutes, value in [(10, 4), (70, 2), (130, 5), (140, 1)]])
    session.commit()
    log_in(browser, live_server.url)
    browser.get(f"{live_server.url}/admin/processor/events/?id={processor.id}")
    root = browser.find_element(By.ID, "events")
    wait_until(browser, lambda d: root.get_attribute("data-state") == "rendered", "the chart", shots)
    values = browser.execute_script(
        "return Chart.getChart(document.getElementById('events-chart')).data.datasets[0].data")
    assert values == [4, 2, 6]
    assert len(browser.find_elements(By.CSS_SELECTOR, "#events-table tbody tr")) == 4
    screenshot(browser, shots, "processor-events")
    Select(browser.find_element(By.ID, "events-bucket")).select_by_value("minute")
    browser.find_element(By.CSS_SELECTOR, "#events-form button[type=submit]").click()
    wait_until(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#series-table tbody tr")) == 4,
               "the per-minute table", shots)
