"""A calendar feed's token is in no line gunicorn or Django writes, with the production settings."""

import pytest
import requests

from crisis import oncall
from tests.live import BIN, Process, base_env, free_port, wait_for_port

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]


def test_gunicorns_access_log_shows_the_feed_without_its_token(bob, tmp_path):
    token = oncall.calendar_token_issue(user=bob)
    port = free_port()
    # The Procfile's web command with its config (access log on), one worker.
    web = Process(
        "web",
        [str(BIN / "gunicorn"), "-c", "config/gunicorn.py", "config.wsgi", "--bind", f"127.0.0.1:{port}",
         "--workers", "1"],
        base_env(ALLOWED_HOSTS="127.0.0.1", LOG_FORMAT="json"),
        tmp_path,
    )  # fmt: skip
    try:
        wait_for_port(port, web)
        base = f"http://127.0.0.1:{port}/api/v1"
        ok = requests.get(f"{base}/me/calendar.ics", params={"token": token}, timeout=20)
        stranger = requests.get(f"{base}/schedules/1/calendar.ics", params={"token": token}, timeout=20)
        unknown = requests.get(f"{base}/me/calendar.ics", params={"token": token, "x": "1"}, timeout=20)
    finally:
        web.stop()
    log = web.log_path.read_text(errors="replace")

    assert (ok.status_code, stranger.status_code, unknown.status_code) == (200, 404, 400)
    assert ok.text.startswith("BEGIN:VCALENDAR")
    assert "/api/v1/me/calendar.ics?token={token}" in log  # gunicorn's access line
    assert "Not Found: /api/v1/schedules/1/calendar.ics" in log  # Django's warning
    assert token not in log
