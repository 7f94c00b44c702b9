"""
The console's queue: the API's own FilterSet (same parameters, same incidents), its own
order (unclaimed first, overdue on top; claimed by resolve deadline), a countdown to the
deadline that counts, and a Claim button that comes back to the filtered queue.
"""

import re
from datetime import timedelta
from urllib.parse import quote

import pytest
import time_machine

from crisis import oncall

from .listing import NOW, OPEN, api_ids, console_ids, page_ids

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


def rows_in_order(client, query="") -> list[int]:
    return page_ids(client.get(f"/?{query}", HTTP_HX_REQUEST="true").content.decode())


def test_queue_default_is_open_incidents_unclaimed_first_each_by_its_own_deadline(desk, web, bob):
    with time_machine.travel(NOW + timedelta(minutes=20), tick=False):
        order = rows_in_order(web(bob))
    assert desk["done"].pk not in order
    # Unclaimed: wave (ack due 12:10, overdue). Claimed, by resolve deadline: old (detected
    # two days ago, medium: due a day ago), leak (09:00, high: 21:00), fake (low: in 72 h).
    assert order == [desk["wave"].pk, desk["old"].pk, desk["leak"].pk, desk["fake"].pk]


@pytest.fixture
def mixed(alice, bob, file_incident, incident_in):
    """
    At NOW: claimed incidents whose acknowledge deadlines passed long ago (the old order put
    them on top), unclaimed ones overdue and not yet due, and a claimed one past its resolve
    deadline.
    """
    at = NOW - timedelta(hours=6)
    with time_machine.travel(at, tick=False):
        claimed_late = file_incident(title="claimed, resolve in 6 h", severity="high", detected_at=at)
        claimed_overdue = file_incident(
            title="claimed, resolve 1 h overdue", severity="critical", detected_at=at + timedelta(hours=1)
        )
    with time_machine.travel(at + timedelta(hours=2), tick=False):
        incident_in(claimed_late, "acknowledged", manager=alice, responder=bob)
        incident_in(claimed_overdue, "investigated", manager=alice, responder=bob)
    with time_machine.travel(NOW, tick=False):
        made = {
            "unclaimed_overdue_longest": file_incident(
                title="unclaimed, 1 h overdue", severity="medium", detected_at=NOW - timedelta(hours=2)
            ),
            "unclaimed_overdue": file_incident(
                title="unclaimed, 20 min overdue",
                severity="critical",
                detected_at=NOW - timedelta(minutes=30),
            ),
            "unclaimed_due_later": file_incident(title="unclaimed, due in 4 h", severity="low"),
            "claimed_overdue": claimed_overdue,
            "claimed_late": claimed_late,
        }
    return made


def test_unclaimed_overdue_incidents_come_first_and_claimed_ones_count_to_resolving(mixed, web, bob):
    """Issue 17, item 7: a claimed incident is not sorted by its passed acknowledge deadline."""
    with time_machine.travel(NOW, tick=False):
        order = rows_in_order(web(bob))
        assert order == [i.pk for i in mixed.values()]
        # Every open incident as the API lists it, ordered by its acknowledge deadline, would
        # have put the claimed ones first: the order is the queue's own, not that one.
        assert order[0] != min(mixed.values(), key=lambda i: i.ack_due_at).pk


def test_the_countdown_counts_to_the_deadline_that_counts_and_says_which(mixed, web, bob):
    with time_machine.travel(NOW, tick=False):
        rows = web(bob).get("/", HTTP_HX_REQUEST="true").content.decode()

    def cell(incident):
        row = re.search(rf'<tr [^>]*data-incident="{incident.pk}".*?</tr>', rows, re.S).group(0)
        return row

    unclaimed, claimed = mixed["unclaimed_overdue"], mixed["claimed_late"]
    assert 'data-deadline="ack"' in cell(unclaimed) and "Claim by" in cell(unclaimed)
    assert f'data-due="{unclaimed.ack_due_at.isoformat()}"' in cell(unclaimed)
    assert 'data-deadline="resolve"' in cell(claimed) and "Resolve by" in cell(claimed)
    assert f'data-due="{claimed.resolve_due_at.isoformat()}"' in cell(claimed)
    assert claimed.ack_due_at.isoformat() not in cell(claimed)
    # Unclaimed and past its deadline: marked as the most urgent thing on the screen.
    assert "overdue" in re.search(rf'<tr class="([^"]*)" data-incident="{unclaimed.pk}"', rows).group(1)
    assert "overdue" not in re.search(rf'<tr class="([^"]*)" data-incident="{claimed.pk}"', rows).group(1)


def test_resolved_incidents_asked_for_come_after_open_ones(desk, web, bob):
    with time_machine.travel(NOW + timedelta(minutes=20), tick=False):
        order = rows_in_order(web(bob), "state=detected,resolved")
    assert order == [desk["wave"].pk, desk["done"].pk]


def test_each_unclaimed_row_has_a_claim_button_that_comes_back_to_the_filtered_queue(desk, web, bob, carol):
    query = "severity=critical&assignee=none"
    client = web(bob)
    with time_machine.travel(NOW + timedelta(minutes=20), tick=False):
        rows = client.get(f"/?{query}", HTTP_HX_REQUEST="true").content.decode()
        wave = desk["wave"]
        action = f"/incidents/{wave.pk}/claim/"
        assert f'action="{action}"' in rows
        assert rows.count('data-action="claim"') == 1  # claimed ones have none
        back = re.search(r'name="next" value="([^"]+)"', rows).group(1).replace("&amp;", "&")
        assert back == f"/?{query}"
        response = client.post(action, {"next": back})
    assert response.status_code == 302 and response.url == f"/?{query}"
    wave.refresh_from_db()
    assert wave.state == "acknowledged" and wave.assignee == bob
    # A viewer sees the queue but gets no Claim button.
    carol_rows = web(carol).get("/", HTTP_HX_REQUEST="true").content.decode()
    assert 'data-incident="' in carol_rows and 'data-action="claim"' not in carol_rows


@pytest.mark.parametrize("elsewhere", ["https://evil.example/", "//evil.example/", "javascript:alert(1)"])
def test_the_claim_never_sends_you_off_the_site(elsewhere, web, bob, file_incident):
    incident = file_incident(title="x")
    response = web(bob).post(f"/incidents/{incident.pk}/claim/", {"next": elsewhere})
    assert response.status_code == 302 and response.url == f"/incidents/{incident.pk}/"


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
    oncall.schedule_create(
        brand=alice.memberships.get().brand,
        name="Nights",
        time_zone="UTC",
        layers=[
            {
                "users": ["bob", "dave"],
                "start": NOW - timedelta(days=1),
                "shift": {"every": 1, "unit": "days"},
                "restrictions": [],
            }
        ],
    )
    client = web(bob)
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    # session, user, roles, incidents; the full page also reads the brands for the filter
    # form, the navigation's managed brands and the on-call panel's schedules (four).
    queries = 4 if htmx else 10
    with django_assert_max_num_queries(queries):
        response = client.get("/?assignee=me&severity=critical&q=incident", **headers)
    assert response.status_code == 200
    with django_assert_max_num_queries(queries):
        response = client.get("/", **headers)
    assert response.content.decode().count("data-incident=") == 40
