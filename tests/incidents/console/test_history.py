"""
History and search (every incident, the API's filters and ordering, paginated) and a
manager's list of resolved incidents awaiting review.
"""

import re
from datetime import timedelta
from urllib.parse import quote

import pytest
import time_machine

from crisis.tenancy import Principal
from incidents import services
from incidents.console.history import PAGE_SIZE

from .listing import NOW, api_list, page_ids

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
    "q=FORUM",
    "ordering=severity",
    "ordering=-severity",
    "ordering=ack_due_at",
    "ordering=-ack_due_at",
    "ordering=created_at",
    "severity=critical&channel=vk&ordering=ack_due_at",
]


def history(client, query="", status=200) -> str:
    response = client.get(f"/history/?{query}")
    assert response.status_code == status, response.content[:500]
    return response.content.decode()


@pytest.mark.parametrize("query", QUERIES)
def test_history_lists_what_the_api_lists_in_the_same_order(query, desk, web, api, bob):
    with time_machine.travel(NOW + timedelta(minutes=20), tick=False):
        assert page_ids(history(web(bob), query)) == api_list(api(bob), query)


def test_history_lists_every_state_newest_first(desk, web, bob):
    with time_machine.travel(NOW + timedelta(minutes=20), tick=False):
        listed = page_ids(history(web(bob)))
    assert set(listed) == {i.pk for key, i in desk.items() if key != "globex"}
    assert listed == sorted(listed, reverse=True)  # filed one after another: newest first


def test_the_form_shows_the_filters_of_the_url(desk, web, bob):
    page = history(web(bob), "severity=critical&state=resolved&q=wave&ordering=-severity")
    assert '<option value="critical" selected>' in page
    assert '<option value="resolved" selected>' in page
    assert 'name="q" value="wave"' in page
    assert '<option value="-severity" selected>' in page
    assert page_ids(page) == [desk["done"].pk]


def test_an_instant_from_a_bookmark_is_shown_in_the_viewers_zone_and_kept(desk, web, bob):
    # 15:00 at +03:00 is 12:00 UTC, the zone the test viewer has.
    page = history(web(bob), "detected_since=" + quote("2026-11-21T15:00:00+03:00"))
    assert 'name="detected_since" value="2026-11-21T12:00"' in page


@pytest.fixture
def many(bob, file_incident):
    with time_machine.travel(NOW, tick=False):
        return [file_incident(title=f"incident {i}", severity=("critical", "low")[i % 2]) for i in range(120)]


def test_pages_carry_the_filters_and_never_repeat_a_row(many, web, bob):
    client = web(bob)
    first = history(client, "severity=critical&ordering=severity")
    assert "Page 1 of 2" in first
    next_link = re.search(r'<a href="([^"]+)" rel="next">', first).group(1).replace("&amp;", "&")
    assert "severity=critical" in next_link and "ordering=severity" in next_link and "page=2" in next_link
    second = history(client, next_link.split("?", 1)[1])
    # Equal severities: the id breaks the tie, so the pages split the 60 critical ones cleanly.
    seen = page_ids(first) + page_ids(second)
    assert len(page_ids(first)) == PAGE_SIZE
    assert sorted(seen) == sorted(i.pk for i in many if i.severity == "critical")


@pytest.mark.parametrize("page", ["abc", "0", "-1", "999", "1%00"])
def test_a_page_number_out_of_range_shows_a_page_not_an_error(page, many, web, bob):
    assert page_ids(history(web(bob), f"page={page}"))


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("state=bogus", "Unknown state: bogus"),
        ("severity=apocalyptic", "Severity"),
        ("detected_since=yesterday", "Detected from"),
        ("detected_until=%00", "Detected before"),
        ("ordering=-password", "Order"),
        ("q=" + "y" * 500, "Title or description"),
        ("breached=maybe", "Deadline"),
        ("brand=%00", "Brand"),
    ],
)
def test_a_bad_filter_is_a_form_error_on_the_page_and_the_others_still_apply(query, named, desk, web, bob):
    with time_machine.travel(NOW + timedelta(minutes=20), tick=False):
        page = history(web(bob), f"{query}&channel=vk", status=400)
    assert "filter-errors" in page and named in page
    assert set(page_ids(page)) == {desk["wave"].pk, desk["done"].pk}


def test_history_runs_a_fixed_number_of_queries(
    many, web, bob, alice, incident_in, django_assert_max_num_queries
):
    for incident in many[:30]:
        incident_in(incident, "acknowledged", manager=alice, responder=bob)
    client = web(bob)
    # session, user, roles, the count, the page, the brands of the filter form, the managed
    # brands of the navigation; with one spare for a viewer's own settings (time zone).
    with django_assert_max_num_queries(8):
        page = history(client, "q=incident&ordering=severity")
    assert len(page_ids(page)) == PAGE_SIZE
    with django_assert_max_num_queries(8):
        history(client, "page=3")


@pytest.mark.parametrize(
    ("typed", "found"),
    [
        ("отзыв", True),
        ("ОТЗЫВ", True),
        ("Отзыв", True),
        ("éclair", True),
        ("ÉCLAIR", True),
        ("a_b", True),
        ("50%", True),
        ("ab", False),
        ("60%", False),
        ("(", False),
        (".*", False),
    ],
)
def test_q_is_case_insensitive_in_every_script_on_every_database(typed, found, web, api, bob, file_incident):
    """API.md: `q` is case-insensitive, the same on PostgreSQL and SQLite (whose LIKE folds ASCII only)."""
    incident = file_incident(title="Плохой Отзыв на форуме", description="Éclair: a_b 50%")
    expected = [incident.pk] if found else []
    assert api_list(api(bob), f"q={quote(typed)}") == expected
    assert page_ids(history(web(bob), f"q={quote(typed)}")) == expected


def test_channel_filters_the_same_way_in_history_and_the_api(desk, web, api, bob):
    assert (
        page_ids(history(web(bob), "channel=forum"))
        == api_list(api(bob), "channel=forum")
        == [desk["leak"].pk]
    )


# Awaiting review --------------------------------------------------------------------------


@pytest.fixture
def resolved(alice, bob, globex, mallory, file_incident, incident_in):
    """Resolved incidents of two brands, one reviewed, resolved at different times."""
    made = {}
    for hours_ago, name, state in (
        (30, "oldest", "resolved"),
        (3, "newest", "resolved"),
        (10, "middle", "resolved"),
        (20, "reviewed", "reviewed"),
    ):
        with time_machine.travel(NOW - timedelta(hours=hours_ago), tick=False):
            made[name] = incident_in(
                file_incident(title=f"resolved {name}"), state, manager=alice, responder=bob
            )
    with time_machine.travel(NOW - timedelta(hours=1), tick=False):
        made["open"] = file_incident(title="still open")
        made["globex"] = incident_in(
            file_incident(brand=globex, by=mallory, title="globex resolved"),
            "resolved",
            manager=mallory,
            responder=mallory,
        )
    return made


def awaiting(client, status=200) -> str:
    response = client.get("/awaiting-review/")
    assert response.status_code == status
    return response.content.decode()


def test_awaiting_review_lists_resolved_unreviewed_incidents_of_my_brands_oldest_first(resolved, web, alice):
    with time_machine.travel(NOW, tick=False):
        page = awaiting(web(alice))
    assert page_ids(page) == [resolved["oldest"].pk, resolved["middle"].pk, resolved["newest"].pk]
    # How long each has waited, as people say it; and a link to its review form.
    assert "1 d 6 h" in page and "10 h" in page and "3 h" in page
    assert f'href="/incidents/{resolved["oldest"].pk}/#review-form"' in page


def test_one_that_waited_past_the_reminder_says_the_managers_were_reminded(resolved, web, alice, settings):
    settings.REVIEW_REMINDER_SECONDS = 24 * 3600
    with time_machine.travel(NOW, tick=False):
        page = awaiting(web(alice))
    reminded = re.findall(r'<tr class="[^"]*reminded[^"]*" data-incident="(\d+)"', page)
    assert reminded == [str(resolved["oldest"].pk)]


def test_a_review_takes_the_incident_off_the_list(resolved, web, alice):
    services.incident_review(
        incident_id=resolved["oldest"].pk,
        principal=Principal.for_user(alice),
        summary="s",
        root_cause="r",
        lessons="l",
        follow_ups=[],
    )
    assert resolved["oldest"].pk not in page_ids(awaiting(web(alice)))


def test_awaiting_review_is_for_managers(resolved, web, bob, mallory, root):
    page = awaiting(web(bob), status=403)
    assert page_ids(page) == [] and "for brand managers" in page
    assert page_ids(awaiting(web(mallory))) == [resolved["globex"].pk]
    assert set(page_ids(awaiting(web(root)))) == {
        resolved[name].pk for name in ("oldest", "middle", "newest", "globex")
    }


def test_awaiting_review_runs_a_fixed_number_of_queries(
    alice, bob, file_incident, incident_in, web, django_assert_max_num_queries
):
    for i in range(25):
        incident_in(file_incident(title=f"r{i}"), "resolved", manager=alice, responder=bob)
    client = web(alice)
    # session, user, roles, count, page, managed brands (navigation); one spare (time zone).
    with django_assert_max_num_queries(7):
        page = awaiting(client)
    assert len(page_ids(page)) == 25
