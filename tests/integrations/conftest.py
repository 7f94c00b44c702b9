"""Fixtures of the adapters' tests: payloads in each tool's documented shape, and a sender."""

import base64
import copy
import json
from pathlib import Path

import pytest
from rest_framework.test import APIClient

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def payload():
    """`payload("youscan_mention")` → a fresh copy of tests/integrations/fixtures/youscan_mention.json."""

    def load(name: str):
        return copy.deepcopy(json.loads((FIXTURES / f"{name}.json").read_text()))

    return load


# Every way API.md lets a sender present its key: (form, how the request carries it).
AUTH_FORMS = ("api-key", "basic", "path", "bearer")


def send(
    path: str,
    body,
    *,
    key: str | None,
    form: str = "api-key",
    method: str = "post",
    raw: bytes | None = None,
    **headers,
):
    """POST (or PUT) `body` as JSON to an adapter at `path` (ending in '/'), the key given as `form`."""
    client = APIClient()
    if key is not None and form == "api-key":
        headers["HTTP_AUTHORIZATION"] = f"Api-Key {key}"
    elif key is not None and form == "bearer":
        headers["HTTP_AUTHORIZATION"] = f"Bearer {key}"
    elif key is not None and form == "basic":
        headers["HTTP_AUTHORIZATION"] = "Basic " + base64.b64encode(f"youscan:{key}".encode()).decode()
    elif key is not None and form == "path":
        path = f"{path}{key}/"
    data = raw if raw is not None else json.dumps(body)
    return getattr(client, method)(path, data=data, content_type="application/json", **headers)
