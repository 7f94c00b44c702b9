"""The console's queue filters through the API's own FilterSet: same parameters, same incidents."""

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest
import time_machine
from django.test import Client

from crisis.tenancy import Principal
from incidents import services
from incidents.models import OPEN_STATES

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
OPEN = ",".join(OPEN_STATES)


@pytest.fixture
def web():
    def _login(user):
        client = Client()
        client.force_login(user)
        return client

    return _login


def console_ids(client, query="") -> set[int]:
    response = client.get(f"/?{query}", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    return {int(pk) for pk in re.findall(r'data-incident="(\d+)"', response.content.decode())}


def api_ids(client, query) -> set[int]:
    response = client.get(f"/api/v1/incidents/?page_size=200&{query}")
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.data["results"]}


@pytest.fixture
def desk(alice, bob, dave, globex, mallory, file_incident, incident_in):
    """A mix of incidents across every filter, filed at NOW and looked at 20 minutes later."""
    with time_machine.travel(NOW, tick=False):
        made = {
            "wave": file_incident(
                title="VK wave", severity="critical", category="negative_wave", channel="vk"
            ),
            "leak": file_incident(
                title="Data leak",
                description="Customer emails on a forum",
                severity="high",
                category="data_leak",
                channel="forum",
                detected_at=NOW - timedelta(hours=3),
            ),
            "fake": file_incident(
                title="Fake news", severity="low", category="fake_news", channel="telegram"
            ),
            "old": file_incident(title="Old story", severity="medium", detected_at=NOW - timedelta(days=2)),
            "done": file_incident(title="Resolved wave", severity="critical", channel="vk"),
            "globex": file_incident(brand=globex, by=mallory, title="Globex wave", severity="critical"),
        }
        incident_in(made["leak"], "acknowledged", manager=alice, responder=bob)
        incident_in(made["fake"], "investigated", manager=alice, responder=dave)
        incident_in(made["done"], "resolved", manager=alice, responder=bob)
    with time_machine.travel(NOW + timedelta(minutes=11), tick=False):
        services.incident_claim(incident_id=made["old"].pk, principal=Principal.for_user(dave))
    return made


QUERIES = [
    "",
    "state=detected",
    "state=acknowledged,investigated",
    "state=resolved",
    "severity=critical",
    "category=fake_news",
    "brand=acme",
    "brand=globex",
    "assignee=me",
    "assignee=none",
    "assignee=dave",
    "breached=true",
    "breached=false",
    "channel=vk",
    f"detected_since={quote((NOW - timedelta(hours=1)).isoformat())}",
    f"detected_until={quote((NOW - timedelta(hours=1)).isoformat())}",
    "q=leak",
    "q=FORUM",  # in the description, any case
    "severity=critical&channel=vk&assignee=none",
]


@pytest.mark.parametrize("query", QUERIES)
def test_queue_and_api_give_the_same_incidents(query, desk, web, api, bob):
    with time_machine.travel(NOW + timedelta(minutes=20), tick=False):
        console = console_ids(web(bob), query)
        # The queue shows open incidents unless a state is asked for; the API lists all.
        api_query = query if "state=" in query else f"{query}&state={OPEN}"
        assert console == api_ids(api(bob), api_query)
        assert desk["globex"].pk not in console


def test_queue_default_is_open_incidents_soonest_deadline_first(desk, web, bob):
    with time_machine.travel(NOW + timedelta(minutes=20), tick=False):
        rows = web(bob).get("/", HTTP_HX_REQUEST="true").content.decode()
    order = [int(pk) for pk in re.findall(r'data-incident="(\d+)"', rows)]
    assert desk["done"].pk not in order
    # ack deadlines: leak (detected 3 h ago, high: +15 min), old (2 days ago), wave, fake.
    assert order == sorted(order, key=lambda pk: {i.pk: i.ack_due_at for i in desk.values()}[pk])
    assert len(order) == 4


def test_ordering_is_the_queues_own(desk, web, bob):
    """`ordering` is an API parameter; the queue keeps its deadline order whatever it says."""
    client = web(bob)

    def order(query):
        rows = client.get(f"/?{query}", HTTP_HX_REQUEST="true").content.decode()
        return re.findall(r'data-incident="(\d+)"', rows)

    assert order("ordering=-created_at") == order("") != []


def test_the_page_url_carries_the_filters_and_the_refresh_sends_them(desk, web, bob):
    client = web(bob)
    page = client.get("/?severity=critical&state=detected,acknowledged&assignee=dave&q=wave").content.decode()
    assert 'id="queue-filters"' in page and 'hx-push-url="true"' in page
    # The rows refresh with whatever the filter form holds now, not the URL the page was loaded with.
    assert re.search(r'<tbody id="queue-rows" hx-get="/" hx-include="#queue-filters"', page)
    assert '<option value="critical" selected>' in page
    assert '<option value="detected,acknowledged" selected>' in page  # a list from a bookmark is kept
    assert '<option value="dave" selected>' in page
    assert 'name="q" value="wave"' in page
    rows = console_ids(client, "severity=critical&state=&assignee=&q=wave")
    assert rows == {desk["wave"].pk}


@pytest.mark.parametrize(
    "query",
    [
        "brand=%00",
        "state=%00",
        "q=%00",
        "assignee=%00",
        "q=%ED%A0%80",
        "brand=%ED%A0%80",
        "assignee=%ED%A0%80",
        "state=%ED%A0%80",
        "detected_since=%00",
        "detected_since=%ED%A0%80",
        "detected_until=yesterday",
        "state=bogus",
        "severity=apocalyptic",
        "channel=%ff",
        "breached=maybe",
        "q=" + "y" * 500,
        "ordering=-password",
        "page=abc",
    ],
)
def test_bad_filter_values_are_ignored_and_named_not_a_500(query, desk, web, bob):
    client = web(bob)
    with time_machine.travel(NOW + timedelta(minutes=20), tick=False):
        page = client.get(f"/?{query}")
        assert page.status_code == 200
        assert client.get(f"/?{query}", HTTP_HX_REQUEST="true").status_code == 200
        if "%ED%A0%80" not in query:  # that one decodes to U+FFFD, a valid value that matches nothing
            # The bad filter is dropped: the queue is what it would be without it.
            assert console_ids(client, query) == console_ids(client, "")


def test_a_bad_filter_is_named_on_the_page(desk, web, bob):
    page = web(bob).get("/?state=bogus&severity=critical").content.decode()
    assert "filter-errors" in page and "Unknown state: bogus" in page
    assert f'data-incident="{desk["wave"].pk}"' in page and f'data-incident="{desk["leak"].pk}"' not in page


@pytest.mark.parametrize("htmx", [False, True])
def test_the_queue_runs_a_fixed_number_of_queries(
    htmx, web, bob, alice, dave, file_incident, incident_in, django_assert_max_num_queries
):
    for i in range(40):
        incident = file_incident(title=f"incident {i}", severity=("critical", "low")[i % 2])
        if i % 3 == 0:
            incident_in(incident, "acknowledged", manager=alice, responder=dave if i % 2 else bob)
    client = web(bob)
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    # session, user, roles, incidents; the full page also reads the brands for the filter
    # form and the navigation's managed brands.
    queries = 4 if htmx else 6
    with django_assert_max_num_queries(queries):
        response = client.get("/?assignee=me&severity=critical&q=incident", **headers)
    assert response.status_code == 200
    with django_assert_max_num_queries(queries):
        response = client.get("/", **headers)
    assert response.content.decode().count("data-incident=") == 40
