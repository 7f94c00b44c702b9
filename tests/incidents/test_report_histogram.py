"""
The reports' whole-second histograms (incidents/reports.py): percentiles identical to
`percentile_cont` over the floored seconds — held to PostgreSQL's own on random data —,
flooring, merged incidents left out, the days of `tz`.
"""

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crisis.tenancy import Principal
from incidents import command, reports, services
from incidents.models import Incident

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
SINCE, UNTIL = datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 4, tzinfo=UTC)
SEVERITIES = ("critical", "high", "medium", "low")


def add_incidents(brand, rows, *, detected_at=T0):
    """
    Incidents written directly, detected at T0: (severity, time to acknowledge or None[,
    time to the first public statement or None]).
    """
    Incident.all_brands.bulk_create(
        Incident(
            brand=brand,
            title=f"case {i}",
            severity=severity,
            category="other",
            detected_at=detected_at,
            acknowledged_at=None if ack is None else detected_at + ack,
            first_statement_at=None if not statement or statement[0] is None else detected_at + statement[0],
            state="detected" if ack is None else "acknowledged",
            ack_due_at=detected_at + timedelta(minutes=10),
            resolve_due_at=detected_at + timedelta(hours=4),
        )
        for i, (severity, ack, *statement) in enumerate(rows)
    )


def expected(rows, figure=0):
    """What percentile_cont gives over each group's floored seconds, computed here in Python."""
    by_group = {}
    for severity, *times in rows:
        values = by_group.setdefault(severity, [])
        if len(times) > figure and times[figure] is not None:
            values.append(float(times[figure] // timedelta(seconds=1)))  # exact floor of the timedelta
    everything = sorted(v for values in by_group.values() for v in values)
    groups = {
        key: [reports.percentile_cont(sorted(values), f) for f in reports.FRACTIONS]
        for key, values in by_group.items()
    }
    return groups, [reports.percentile_cont(everything, f) for f in reports.FRACTIONS]


def postgres_percentile_cont(brand, column):
    """PostgreSQL's own percentile_cont over the floored seconds, per severity and overall."""
    sql = f"""
        SELECT severity, percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY floor({column}))
        FROM incidents_incident WHERE brand_id = %s GROUP BY GROUPING SETS ((severity), ())
    """  # noqa: S608  # one of two column names of ours
    with connection.cursor() as cursor:
        cursor.execute(sql, [brand.pk])
        rows = cursor.fetchall()
    return {severity: values for severity, values in rows if severity}, next(v for s, v in rows if s is None)


# Seconds to acknowledge: few distinct whole seconds (ties), fractions on both sides of
# the floor, now and then far apart (across the first pass's buckets), or none yet.
fractions = st.sampled_from([0, 1, 1000, 499_999, 500_000, 999_999])
seconds = st.one_of(
    st.none(),
    st.builds(lambda s, us: timedelta(seconds=s, microseconds=us), st.integers(0, 40), fractions),
    st.builds(lambda s, us: timedelta(seconds=s, microseconds=us), st.integers(0, 200_000), fractions),
)
# (severity, time to acknowledge, time to the first public statement): both figures take
# the one histogram path.
datasets = st.lists(st.tuples(st.sampled_from(SEVERITIES), seconds, seconds), min_size=0, max_size=60)


@pytest.mark.postgres
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=datasets)
def test_histogram_percentiles_are_postgres_percentile_cont(rows, acme):
    with transaction.atomic():
        add_incidents(acme, rows)
        groups, total = reports.gathered(
            brand_ids={acme.pk}, since=SINCE, until=UNTIL, group_by="severity", now=UNTIL
        )
        by_postgres = [postgres_percentile_cont(acme, d.seconds) for d in reports.DISTRIBUTIONS]
        transaction.set_rollback(True)
    assert set(groups) == {severity for severity, *_ in rows}
    for figure, (per_group, overall) in enumerate(by_postgres):
        for severity, row in groups.items():
            ours = row["figures"][figure].percentiles()
            theirs = per_group[severity] or [None, None]  # a group with none of this time
            assert ours == theirs, (figure, severity, ours, theirs)  # the same doubles, not merely close
        assert total["figures"][figure].percentiles() == (overall or [None, None])
        assert total["figures"][figure].count == sum(1 for _, *times in rows if times[figure] is not None)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=datasets)
def test_histogram_percentiles_match_the_definition_on_every_database(rows, acme):
    """On SQLite too: the seconds are floored exactly (not to SQLite's milliseconds)."""
    with transaction.atomic():
        add_incidents(acme, rows)
        groups, total = reports.gathered(
            brand_ids={acme.pk}, since=SINCE, until=UNTIL, group_by="severity", now=UNTIL
        )
        transaction.set_rollback(True)
    for figure in range(len(reports.DISTRIBUTIONS)):
        by_group, overall = expected(rows, figure)
        assert {key: row["figures"][figure].percentiles() for key, row in groups.items()} == {
            key: values if values[0] is not None else [None, None] for key, values in by_group.items()
        }
        assert total["figures"][figure].percentiles() == (overall if overall[0] is not None else [None, None])


# (hours after T0 it was detected, time to acknowledge, time to the first statement): three
# days, so the groups are days and the second pass finds them by their day.
by_day = st.lists(st.tuples(st.integers(-33, 38), seconds, seconds), min_size=1, max_size=40)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=by_day)
def test_day_groups_match_the_definition_on_every_database(rows, acme):
    with transaction.atomic():
        for hours, ack, statement in rows:
            add_incidents(acme, [("high", ack, statement)], detected_at=T0 + timedelta(hours=hours))
        report = reports.response_times(
            brand_ids={acme.pk}, since=SINCE, until=UNTIL, group_by="day", now=UNTIL
        )
        transaction.set_rollback(True)
    days: dict = {}
    for hours, *times in rows:
        days.setdefault((T0 + timedelta(hours=hours)).date().isoformat(), []).append(("high", *times))
    assert [group["key"] for group in report["groups"]] == sorted(days)
    for group in report["groups"]:
        for figure, (p50, p90) in enumerate(
            (("ack_p50_seconds", "ack_p90_seconds"), ("statement_p50_seconds", "statement_p90_seconds"))
        ):
            (values,) = expected(days[group["key"]], figure)[0].values()
            assert [group[p50], group[p90]] == [None if v is None else round(v, 3) for v in values]


def test_one_row_and_empty_groups(acme):
    add_incidents(acme, [("high", timedelta(seconds=42, microseconds=999_999)), ("low", None)])
    report = reports.response_times(
        brand_ids={acme.pk}, since=SINCE, until=UNTIL, group_by="severity", now=UNTIL
    )
    high, low = report["groups"]
    assert (high["key"], high["ack_p50_seconds"], high["ack_p90_seconds"], high["mtta_seconds"]) == (
        "high",
        42.0,
        42.0,
        42.0,
    )
    assert (low["key"], low["acknowledged"], low["ack_p50_seconds"], low["mtta_seconds"]) == (
        "low",
        0,
        None,
        None,
    )
    empty = reports.response_times(
        brand_ids={acme.pk}, since=UNTIL, until=UNTIL + timedelta(days=1), group_by="severity", now=UNTIL
    )
    assert empty["groups"] == [] and empty["total"]["incidents"] == 0
    assert empty["total"]["ack_p50_seconds"] is None


def test_times_are_floored_to_whole_seconds_before_aggregating(acme):
    """59.999999 s is 59 s (SQLite's julianday alone would round it to 60)."""
    close_calls = [
        timedelta(seconds=59, microseconds=999_999),
        timedelta(seconds=60),
        timedelta(microseconds=500_000),
        timedelta(seconds=61, microseconds=1),
    ]
    add_incidents(acme, [("high", ack, ack + timedelta(seconds=600)) for ack in close_calls])
    report = reports.response_times(
        brand_ids={acme.pk}, since=SINCE, until=UNTIL, group_by="severity", now=UNTIL
    )
    (high,) = report["groups"]
    # Whole seconds 0, 59, 60, 61: mean 45, p50 59.5, p90 at rank 2.7 → 60.7; the
    # statements 600 s later: 600, 659, 660, 661.
    assert (high["mtta_seconds"], high["ack_p50_seconds"], high["ack_p90_seconds"]) == (45.0, 59.5, 60.7)
    assert (high["with_statement"], high["statement_mean_seconds"]) == (4, 645.0)
    assert (high["statement_p50_seconds"], high["statement_p90_seconds"]) == (659.5, 660.7)


def test_the_total_of_a_large_spread_is_exact(acme):
    """Values far apart land in different first-pass buckets; the total reads across them."""
    rows = [("critical", timedelta(seconds=s)) for s in (5, 300, 301, 7_000, 90_000)]
    rows += [
        ("low", timedelta(seconds=s, microseconds=250_000)) for s in (1, 255, 256, 257, 100_000, 100_000)
    ]
    add_incidents(acme, rows)
    report = reports.response_times(
        brand_ids={acme.pk}, since=SINCE, until=UNTIL, group_by="severity", now=UNTIL
    )
    by_group, overall = expected(rows)
    for group in report["groups"]:
        assert [group["ack_p50_seconds"], group["ack_p90_seconds"]] == [
            round(v, 3) for v in by_group[group["key"]]
        ]
    assert [report["total"]["ack_p50_seconds"], report["total"]["ack_p90_seconds"]] == [
        round(v, 3) for v in overall
    ]


def test_many_needed_buckets_take_several_second_passes(acme, monkeypatch):
    """More groups than one statement's row values: the second pass is split, the figures unchanged."""
    rows = [
        (severity, timedelta(seconds=s * 97 + i)) for i, severity in enumerate(SEVERITIES) for s in range(30)
    ]
    add_incidents(acme, rows)
    whole = reports.response_times(
        brand_ids={acme.pk}, since=SINCE, until=UNTIL, group_by="severity", now=UNTIL
    )
    monkeypatch.setattr(reports, "NEEDED_PER_PASS", 1)
    split = reports.response_times(
        brand_ids={acme.pk}, since=SINCE, until=UNTIL, group_by="severity", now=UNTIL
    )
    assert split == whole


def test_merged_incidents_are_not_counted(api, alice, bob, file_incident):
    target = file_incident(title="the crisis", severity="high")
    duplicate = file_incident(title="the same crisis, filed again", severity="high")
    services.incident_claim(incident_id=duplicate.pk, principal=Principal.for_user(bob))
    command.incident_merge(incident_id=duplicate.pk, principal=Principal.for_user(alice), into=target.pk)
    response = api(alice).get("/api/v1/reports/response-times/", {"group_by": "severity"})
    assert response.status_code == 200, response.content
    (high,) = response.data["groups"]
    assert (high["incidents"], high["acknowledged"], high["ack_p50_seconds"]) == (1, 0, None)
    assert response.data["total"]["incidents"] == 1


@pytest.mark.parametrize(
    "tz,days",
    [
        ("UTC", {"2026-11-01": 2, "2026-11-02": 2}),
        # 22:30 UTC is 01:30 the next day in Moscow.
        ("Europe/Moscow", {"2026-11-01": 1, "2026-11-02": 2, "2026-11-03": 1}),
        # New York leaves daylight time on 1 November 2026: that day has 25 hours.
        ("America/New_York", {"2026-10-31": 1, "2026-11-01": 2, "2026-11-02": 1}),
    ],
)
def test_tz_sets_the_days(tz, days, api, alice, acme):
    for moment in (
        "2026-11-01T03:30:00Z",
        "2026-11-01T22:30:00Z",
        "2026-11-02T04:30:00Z",
        "2026-11-02T22:30:00Z",
    ):
        add_incidents(acme, [("high", timedelta(seconds=30))], detected_at=datetime.fromisoformat(moment))
    params = {"since": "2026-10-30T00:00:00Z", "until": "2026-11-05T00:00:00Z", "group_by": "day", "tz": tz}
    response = api(alice).get("/api/v1/reports/response-times/", params)
    assert response.status_code == 200, response.content
    assert {g["key"]: g["incidents"] for g in response.data["groups"]} == days
    as_csv = api(alice).get("/api/v1/reports/response-times/", {**params, "format": "csv"})
    rows = list(csv.DictReader(io.StringIO(as_csv.content.decode())))
    assert {r["key"]: int(r["incidents"]) for r in rows} == days


@pytest.mark.parametrize("tz", ["Mars/Olympus", "", "x" * 100, "../etc/passwd"])
def test_unknown_zone_is_400(tz, api, alice):
    response = api(alice).get("/api/v1/reports/response-times/", {"group_by": "day", "tz": tz})
    assert response.status_code == 400
    assert "tz" in response.json()


def test_report_runs_a_fixed_number_of_queries(api, alice, acme, django_assert_max_num_queries):
    client = api(alice)
    yesterday = timezone.now() - timedelta(days=1)
    for count in (1, 40):
        rows = [(SEVERITIES[i % 4], timedelta(seconds=i * 31)) for i in range(count)]
        add_incidents(acme, rows, detected_at=yesterday)
        for group_by in reports.GROUP_BY:
            with django_assert_max_num_queries(8):
                assert (
                    client.get("/api/v1/reports/response-times/", {"group_by": group_by}).status_code == 200
                )


@pytest.mark.django_db(transaction=True)
def test_both_passes_share_one_snapshot_outside_a_transaction(acme, bob, file_incident):
    """
    Called outside any transaction (as the API is): PostgreSQL's repeatable read, SQLite's
    deferred read transaction, closed afterwards so writers are not held up.
    """
    add_incidents(acme, [("high", timedelta(seconds=s)) for s in (10, 20, 30)])
    assert not connection.in_atomic_block
    report = reports.response_times(
        brand_ids={acme.pk}, since=SINCE, until=UNTIL, group_by="severity", now=UNTIL
    )
    assert (report["total"]["acknowledged"], report["total"]["ack_p50_seconds"]) == (3, 20.0)
    assert not connection.in_atomic_block
    incident = file_incident(title="filed after the report")
    services.incident_claim(incident_id=incident.pk, principal=Principal.for_user(bob))


@pytest.mark.postgres
def test_the_planner_knows_how_many_buckets_the_first_pass_makes(acme):
    """
    The migration's statistics are on the very expressions the first pass groups by: the
    planner's estimate of its groups follows the data's buckets, not the number of rows
    (the guess that kept the aggregate from running in parallel workers first).
    """
    # Distinct times (the columns' own statistics see 600), in few buckets.
    rows = [
        (SEVERITIES[i % 4], timedelta(milliseconds=900 * i + 1), timedelta(milliseconds=1300 * i + 1))
        for i in range(600)
    ]
    add_incidents(acme, rows)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE incidents_incident")
        where = {
            "brand_ids": {acme.pk},
            "since": SINCE,
            "until": UNTIL,
            "group_by": "severity",
            "starts": [],
            "zone": reports.ZoneInfo("UTC"),
            "now": UNTIL,
        }
        sql, params = reports._buckets_sql(**where)
        cursor.execute("EXPLAIN (FORMAT JSON) " + sql, params)
        plan = cursor.fetchone()[0][0]["Plan"]
    branches = plan["Plans"]  # one aggregate per figure under the Append
    assert len(branches) == len(reports.DISTRIBUTIONS)
    for branch in branches:
        # 4 severities x 3 (acknowledge) or 4 (statement) buckets; without the statistics
        # the estimate is about the rows themselves.
        assert branch["Plan Rows"] <= 4 * 4, branch
