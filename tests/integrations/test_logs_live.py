"""A key in an adapter's path is in no line gunicorn or Django writes, with the production settings."""

import pytest
import requests

from tests.live import BIN, Process, base_env, free_port, wait_for_port

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]


def post(url: str, body: dict) -> int:
    return requests.post(url, json=body, timeout=20).status_code


def test_gunicorns_access_log_and_djangos_log_show_the_path_without_the_key(acme_key, payload, tmp_path):
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
        base = f"http://127.0.0.1:{port}/api/v1/integrations"
        secret = acme_key.plain.partition(".")[2]
        ok = post(f"{base}/youscan/{acme_key.plain}/?topic=1", payload("youscan_mention"))
        refused = post(f"{base}/youscan/{acme_key.prefix}.wrong-secret-value/", payload("youscan_mention"))
        bad = post(f"{base}/alertmanager/{acme_key.plain}/", {"alerts": "none"})
    finally:
        web.stop()
    log = web.log_path.read_text(errors="replace")

    assert (ok, refused, bad) == (200, 401, 400)
    assert "/api/v1/integrations/youscan/{key}/?topic=1" in log  # gunicorn's access line
    assert "Unauthorized: /api/v1/integrations/youscan/{key}/" in log  # Django's warning
    assert secret not in log
    assert "wrong-secret-value" not in log
