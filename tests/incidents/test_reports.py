"""Response-time reports with known data, on PostgreSQL and SQLite alike; exports; immutability."""

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection, transaction

from crisis.tenancy import Principal
from incidents import clock, reports, services
from incidents.models import Incident, TimelineEvent
from tests.conftest import complete_required_steps

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
PERIOD = {"since": "2026-11-01T00:00:00Z", "until": "2026-11-03T00:00:00Z"}


def at(seconds):
    return time_machine.travel(T0 + timedelta(seconds=seconds), tick=False)


@pytest.fixture
def known(acme, globex, alice, bob, mallory, file_incident):
    """Five critical incidents (ack SLA 600 s) and one low, all detected at T0."""
    with at(0):
        fast, ok, late, _ignored, resolved = (
            file_incident(severity="critical", title=t, channel="vk")
            for t in ("fast", "ok", "late", "ignored", "resolved")
        )
        quiet = file_incident(severity="low", title="quiet", channel="telegram")
        file_incident(brand=globex, by=mallory, severity="critical", title="not acme's")
    claim = lambda incident: services.incident_claim(  # noqa: E731
        incident_id=incident.pk, principal=Principal.for_user(bob)
    )
    with at(60):
        claim(fast)
    with at(120):
        claim(resolved)
    with at(300):
        claim(ok)
    with at(900):
        claim(late)
    with at(3600):
        services.incident_investigate(incident_id=resolved.pk, principal=Principal.for_user(bob))
        complete_required_steps(resolved, bob)
        services.incident_resolve(
            incident_id=resolved.pk, principal=Principal.for_user(bob), resolution="done"
        )
    with at(7200):
        clock.sweep()  # "ignored" escalates twice (managers, then executives)
    # The first public statement of four of them (what publishing one records on the incident).
    for incident, seconds in ((ok, 600), (fast, 1800), (late, 2400), (quiet, 900)):
        Incident.all_brands.filter(pk=incident.pk).update(first_statement_at=T0 + timedelta(seconds=seconds))
    return {"quiet": quiet}


CRITICAL = {
    "incidents": 5,
    "acknowledged": 4,
    "mtta_seconds": 345.0,
    "ack_p50_seconds": 210.0,
    "ack_p90_seconds": 720.0,
    "mttr_seconds": 3600.0,
    "ack_sla_met": 3,
    "ack_sla_breached": 2,
    "ack_sla_met_ratio": 0.6,
    "escalations": 2,
    "with_statement": 3,
    "statement_mean_seconds": 1600.0,
    "statement_p50_seconds": 1800.0,
    "statement_p90_seconds": 2280.0,
}
LOW = {
    "incidents": 1,
    "acknowledged": 0,
    "mtta_seconds": None,
    "ack_p50_seconds": None,
    "ack_p90_seconds": None,
    "mttr_seconds": None,
    "ack_sla_met": 0,
    "ack_sla_breached": 0,
    "ack_sla_met_ratio": None,
    "escalations": 0,
    "with_statement": 1,
    "statement_mean_seconds": 900.0,
    "statement_p50_seconds": 900.0,
    "statement_p90_seconds": 900.0,
}


def get_report(client, **params):
    with at(7200):
        return client.get("/api/v1/reports/response-times/", {**PERIOD, **params})


def test_known_data_gives_known_figures(api, alice, known):
    response = get_report(api(alice), group_by="severity")
    assert response.status_code == 200, response.content
    assert response.data["groups"] == [{"key": "critical", **CRITICAL}, {"key": "low", **LOW}]
    total = response.data["total"]
    assert (total["incidents"], total["ack_sla_met"], total["ack_sla_breached"]) == (6, 3, 2)
    assert (total["ack_p50_seconds"], total["ack_p90_seconds"]) == (210.0, 720.0)
    # Time to the first public statement: 600, 900, 1800 and 2400 s after detection.
    assert (total["with_statement"], total["statement_mean_seconds"]) == (4, 1425.0)
    assert (total["statement_p50_seconds"], total["statement_p90_seconds"]) == (1350.0, 2220.0)


@pytest.mark.parametrize(
    "group_by,keys",
    [
        ("brand", ["acme"]),
        ("category", ["other"]),
        ("channel", ["telegram", "vk"]),
        ("assignee", [None, "bob"]),
        ("day", ["2026-11-02"]),
    ],
)
def test_every_grouping(group_by, keys, api, alice, known):
    response = get_report(api(alice), group_by=group_by)
    assert response.status_code == 200, response.content
    assert sorted(g["key"] or "" for g in response.data["groups"]) == sorted(k or "" for k in keys)
    assert sum(g["incidents"] for g in response.data["groups"]) == 6


def test_csv_matches_json(api, alice, known):
    client = api(alice)
    as_json = get_report(client, group_by="severity").data["groups"]
    as_csv = get_report(client, group_by="severity", format="csv")
    assert as_csv["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.content.decode())))
    assert [r["key"] for r in rows] == [g["key"] for g in as_json]
    for row, group in zip(rows, as_json, strict=True):
        for name in reports.METRICS:
            expected = "" if group[name] is None else str(group[name])
            assert row[name] == expected, name


def test_responder_gets_403_and_managers_see_only_their_brands(api, bob, mallory, alice, known):
    assert get_report(api(bob)).status_code == 403
    theirs = get_report(api(mallory), group_by="brand").data
    assert [g["key"] for g in theirs["groups"]] == ["globex"]
    assert get_report(api(alice), brand="globex").status_code == 400
    assert get_report(api(mallory), brand="acme").status_code == 400


@pytest.mark.parametrize(
    "params",
    [
        {"group_by": "planet"},
        {"since": "yesterday"},
        {"since": "2026-11-05T00:00:00Z"},
        {"brand": "x" * 100},
    ],
)
def test_bad_report_queries_are_400(params, api, alice, known):
    assert get_report(api(alice), **params).status_code == 400


def test_percentile_matches_postgres_definition():
    assert reports.percentile_cont([60, 120, 300, 900], 0.5) == 210
    assert reports.percentile_cont([60, 120, 300, 900], 0.9) == pytest.approx(720)
    assert reports.percentile_cont([5], 0.9) == 5
    assert reports.percentile_cont([], 0.5) is None


def test_incident_timeline_exports_as_csv(api, alice, bob, file_incident):
    incident = file_incident()
    services.incident_claim(incident_id=incident.pk, principal=Principal.for_user(bob))
    response = api(alice).get(f"/api/v1/incidents/{incident.pk}/timeline/?format=csv")
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [(r["kind"], r["actor"]) for r in rows] == [("created", "alice"), ("claimed", "bob")]
    assert json.loads(rows[0]["data"])["severity"] == "medium"


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_period_timeline_export(fmt, api, alice, mallory, known):
    with at(7200):
        response = api(alice).get("/api/v1/reports/timeline/", {**PERIOD, "format": fmt})
    assert response.status_code == 200
    body = b"".join(response.streaming_content).decode()
    rows = list(csv.DictReader(io.StringIO(body))) if fmt == "csv" else json.loads(body)
    assert {r["brand"] for r in rows} == {"acme"}
    assert len(rows) == TimelineEvent.all_brands.filter(incident__brand__slug="acme").count()
    kinds = [r["kind"] for r in rows]
    assert kinds.count("escalated") == 2 and kinds.count("created") == 6
    assert api(mallory).get("/api/v1/reports/timeline/", {"brand": "acme"}).status_code == 400


@pytest.mark.postgres
def test_timeline_rows_cannot_be_changed_with_raw_sql(file_incident):
    incident = file_incident()
    event = TimelineEvent.all_brands.get(incident=incident)
    for sql in (
        "UPDATE incidents_timelineevent SET kind = 'comment' WHERE id = %s",
        "DELETE FROM incidents_timelineevent WHERE id = %s",
    ):
        with (
            pytest.raises(Exception, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql, [event.pk])
    assert TimelineEvent.all_brands.get(pk=event.pk).kind == "created"


@pytest.mark.parametrize("params", [{"until": "0001-01-01T00:00:00Z"}, {"since": "9999-12-31T23:59:59Z"}])
def test_absurd_report_periods_are_400(params, api, alice):
    assert api(alice).get("/api/v1/reports/response-times/", params).status_code == 400
    assert api(alice).get("/api/v1/reports/timeline/", params).status_code == 400
