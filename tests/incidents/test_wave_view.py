"""
The wave's mentions and chart figures (API.md, `…/wave/` and `…/mentions/`): loudest
first, keyset-paged, and read in a bounded number of queries and rows however big the
wave is (a 100,000-mention wave here).
"""

import json
import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from crisis.models import Mention
from incidents.console.charts import _label_rows
from incidents.models import WaveMention
from incidents.selectors import WAVE_MAX_POINTS

from .waves import make_wave

# The node types that read a table or an index, and so count as rows read.
SCANS = {"Seq Scan", "Index Scan", "Index Only Scan", "Bitmap Heap Scan"}


def measured(queries) -> dict:
    """
    What PostgreSQL did for each captured SELECT, from EXPLAIN ANALYZE: rows returned to
    us (`fetched`) and rows its scans read from tables and indexes (`read`), in total.
    """
    fetched = read = 0
    with connection.cursor() as cursor:
        for query in queries:
            if not query["sql"].lstrip().upper().startswith("SELECT"):
                continue
            cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + query["sql"])
            raw = cursor.fetchone()[0]
            plan = (json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"]
            fetched += plan["Actual Rows"] * plan["Actual Loops"]
            stack = [plan]
            while stack:
                node = stack.pop()
                if node["Node Type"] in SCANS:
                    loops = node["Actual Loops"]
                    read += (node["Actual Rows"] + node.get("Rows Removed by Filter", 0)) * loops
                stack.extend(node.get("Plans", []))
    return {"fetched": fetched, "read": read}


@pytest.fixture
def big_wave(file_incident):
    return make_wave(
        file_incident,
        count=100_000,
        detected_at=timezone.now() - timedelta(hours=6),
        span=timedelta(hours=5),
    )


def loudest_first(incident, limit):
    return list(
        WaveMention.all_brands.filter(incident=incident)
        .order_by("-reach", "-mention_id")
        .values_list("mention_id", flat=True)[:limit]
    )


def test_a_100k_wave_is_read_a_page_at_a_time(api, bob, big_wave, django_assert_max_num_queries, is_postgres):
    client = api(bob)
    url = f"/api/v1/incidents/{big_wave.pk}/mentions/"
    with django_assert_max_num_queries(8), CaptureQueriesContext(connection) as first_page:
        first = client.get(url)
    assert first.status_code == 200, first.content
    results = first.data["results"]
    assert [m["id"] for m in results] == loudest_first(big_wave, 50)
    assert results[0]["reach"] >= results[-1]["reach"]
    assert first.data["previous"] is None
    assert {"author", "author_followers", "loud", "platform", "text", "url", "published_at"} <= set(
        results[0]
    )

    # Deep in the wave (past 60,000 mentions), a page still costs the same.
    middle = WaveMention.all_brands.filter(incident=big_wave).order_by("-reach", "-mention_id")[60_000]
    deep = f"{url}?cursor=n-{middle.reach}-{middle.mention_id}"
    with django_assert_max_num_queries(8), CaptureQueriesContext(connection) as deep_page:
        page = client.get(deep)
    expected = list(
        WaveMention.all_brands.filter(incident=big_wave)
        .order_by("-reach", "-mention_id")
        .values_list("mention_id", flat=True)[60_001:60_051]
    )
    assert [m["id"] for m in page.data["results"]] == expected
    if is_postgres:
        for queries in (first_page, deep_page):
            cost = measured(queries.captured_queries)
            print("mentions page", cost)  # the README's figures: pytest -s
            # 51 wave rows and their mentions, the incident, the caller, the policy.
            assert cost["fetched"] <= 60, cost
            assert cost["read"] <= 300, cost


def test_paging_on_and_back_covers_the_wave_in_order_without_repeats(api, bob, file_incident):
    wave = make_wave(
        file_incident, count=230, detected_at=timezone.now() - timedelta(hours=1), span=timedelta(minutes=50)
    )
    client = api(bob)
    url, seen, pages = f"/api/v1/incidents/{wave.pk}/mentions/?page_size=50", [], []
    while url:
        answer = client.get(url)
        assert answer.status_code == 200
        pages.append(answer.data)
        seen += [m["id"] for m in answer.data["results"]]
        url = answer.data["next"]
    assert len(pages) == 5
    assert seen == loudest_first(wave, 1000)
    back = client.get(pages[3]["previous"]).data
    assert [m["id"] for m in back["results"]] == [m["id"] for m in pages[2]["results"]]
    assert back["next"] and back["previous"]
    first = client.get(pages[1]["previous"]).data
    assert [m["id"] for m in first["results"]] == [m["id"] for m in pages[0]["results"]]
    assert first["previous"] is None


def test_loud_authors_are_marked(api, bob, file_incident):
    wave = make_wave(
        file_incident, count=100, detected_at=timezone.now() - timedelta(hours=1), span=timedelta(minutes=50)
    )
    results = api(bob).get(f"/api/v1/incidents/{wave.pk}/mentions/?page_size=200").data["results"]
    assert {m["id"] for m in results if m["loud"]} == set(
        Mention.all_brands.filter(author_followers__gte=100_000).values_list("pk", flat=True)
    )


@pytest.mark.parametrize(
    "query",
    [
        "cursor=x",
        "cursor=n-1-",
        "cursor=q-1-2",
        "cursor=n-99999999999999999999-1",
        "page_size=0",
        "page_size=201",
        "page=2",
    ],
)
def test_bad_paging_is_a_400(api, bob, file_incident, query):
    wave = make_wave(
        file_incident, count=3, detected_at=timezone.now() - timedelta(hours=1), span=timedelta(minutes=5)
    )
    answer = api(bob).get(f"/api/v1/incidents/{wave.pk}/mentions/?{query}")
    assert answer.status_code == 400, answer.content


def test_another_brands_wave_is_a_404(api, mallory, file_incident):
    wave = make_wave(
        file_incident, count=3, detected_at=timezone.now() - timedelta(hours=1), span=timedelta(minutes=5)
    )
    assert api(mallory).get(f"/api/v1/incidents/{wave.pk}/mentions/").status_code == 404


def test_the_wave_figures_of_a_100k_wave_fetch_a_bounded_number_of_rows(
    api, bob, big_wave, django_assert_max_num_queries, is_postgres
):
    with django_assert_max_num_queries(12), CaptureQueriesContext(connection) as queries:
        figures = api(bob).get(f"/api/v1/incidents/{big_wave.pk}/wave/").data
    assert figures["mentions"] == 100_000
    assert sum(p["mentions"] for p in figures["series"]) == 100_000
    # Six hours since detection in 5-minute buckets would be 72 points; the cap is a day's.
    assert figures["bucket_seconds"] == 300 and len(figures["series"]) <= WAVE_MAX_POINTS
    first, last = figures["series"][0], figures["series"][-1]
    assert first["negative"] / first["mentions"] > 0.8 > 0.4 > last["negative"] / last["mentions"]
    if is_postgres:
        # Aggregated in the database: the counts come back, not the 100,000 mentions.
        cost = measured(queries.captured_queries)
        print("wave figures", cost)
        assert cost["fetched"] <= WAVE_MAX_POINTS + 20


def test_a_long_wave_gets_wider_buckets(api, bob, file_incident):
    wave = make_wave(
        file_incident, count=2000, detected_at=timezone.now() - timedelta(hours=71), span=timedelta(hours=70)
    )
    figures = api(bob).get(f"/api/v1/incidents/{wave.pk}/wave/").data
    assert figures["bucket_seconds"] == 900  # 71 hours / 288 points, rounded up to 5 minutes
    assert len(figures["series"]) <= WAVE_MAX_POINTS
    assert sum(p["mentions"] for p in figures["series"]) == 2000


def test_the_incident_page_of_a_100k_wave_is_bounded(
    alice, bob, big_wave, incident_in, django_assert_max_num_queries, is_postgres
):
    incident_in(big_wave, "acknowledged", manager=alice, responder=bob)
    client = Client()
    client.force_login(bob)
    url = f"/incidents/{big_wave.pk}/"
    client.get(url)  # warm the per-process caches (brand setup, translations)
    with CaptureQueriesContext(connection) as queries:
        page = client.get(url)
    assert page.status_code == 200
    assert len(queries.captured_queries) <= 30  # the whole page's, whatever the wave's size
    html = page.content.decode()
    first = loudest_first(big_wave, 50)
    rows = re.findall(r'data-mention="(\d+)"', html)
    assert [int(r) for r in rows] == first
    assert 'data-moment="detected"' in html and 'data-moment="claimed"' in html
    assert "100,000" in html  # the wave's size, from its aggregate
    next_link = re.search(r'href="\?mentions=([^"#]+)#wave-mentions" rel="next"', html)[1]
    with django_assert_max_num_queries(len(queries.captured_queries)):
        second = client.get(f"{url}?mentions={next_link}").content.decode()
    assert [int(r) for r in re.findall(r'data-mention="(\d+)"', second)] == loudest_first(big_wave, 100)[50:]
    if is_postgres:
        cost = measured(queries.captured_queries)
        print("incident page", len(queries.captured_queries), "queries", cost)
        assert cost["fetched"] <= WAVE_MAX_POINTS + 200, cost


def test_a_page_without_a_wave_shows_none(web_client_for_bob):
    page = web_client_for_bob.get(f"/incidents/{web_client_for_bob.incident.pk}/").content.decode()
    assert 'id="wave"' not in page


@pytest.fixture
def web_client_for_bob(bob, file_incident):
    client = Client()
    client.force_login(bob)
    client.incident = file_incident()
    return client


def test_moment_labels_close_together_take_rows_of_their_own():
    """Labels that would overlap go to the next free row; one far away shares the first."""
    labels = ["Detected", "Claimed", "Public statement", "Resolved"]
    placed = _label_rows([40, 60, 150, 340], labels, left=34, plot_w=332)
    assert [row for row, _anchor in placed] == [0, 1, 2, 0]
    assert [anchor for _row, anchor in placed] == ["start", "start", "middle", "end"]
    # Far apart, all on one row.
    spread = _label_rows([40, 200, 340], ["Detected", "Public statement", "Resolved"], left=34, plot_w=332)
    assert [row for row, _anchor in spread] == [0, 0, 0]
