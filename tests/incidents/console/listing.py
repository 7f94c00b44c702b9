"""Helpers of the console's list tests (queue, history, awaiting review): ids on a page, ids from the API."""

import re
from datetime import UTC, datetime

from incidents.models import OPEN_STATES

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
OPEN = ",".join(OPEN_STATES)


def page_ids(html: str) -> list[int]:
    """The incidents a page lists, in order."""
    return [int(pk) for pk in re.findall(r'data-incident="(\d+)"', html)]


def console_ids(client, query="") -> set[int]:
    response = client.get(f"/?{query}", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    return set(page_ids(response.content.decode()))


def api_ids(client, query) -> set[int]:
    return set(api_list(client, query))


def api_list(client, query) -> list[int]:
    response = client.get(f"/api/v1/incidents/?page_size=200&{query}")
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.data["results"]]
