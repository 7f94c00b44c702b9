"""Linking and merging incidents (API.md, "Incident command")."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from crisis.models import Mention
from crisis.tenancy import Principal
from incidents import clock, filing
from incidents.models import Incident, MovedDedupKey, TimelineEvent, WaveMention

T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def fresh(incident):
    return Incident.all_brands.get(pk=incident.pk)


def merge(api, user, source, into):
    return api(user).post(f"/api/v1/incidents/{source.pk}/merge/", {"into": into}, format="json")


def mentions_on(acme, incident, count, prefix):
    rows = Mention.all_brands.bulk_create(
        Mention(
            brand=acme,
            platform="vk",
            external_id=f"{prefix}-{i}",
            text="cold coffee",
            sentiment="negative",
            published_at=T0,
        )
        for i in range(count)
    )
    WaveMention.all_brands.bulk_create(WaveMention(incident=incident, mention=m) for m in rows)


@pytest.fixture
def pair(acme, alice, file_incident):
    """A (key "vk-a", two duplicates, three mentions) and B (key "vk-b", one mention)."""
    with time_machine.travel(T0, tick=False):
        a = file_incident(title="Angry comments on VK", dedup_key="vk-a")
        b = file_incident(title="Angry comments on VK and Telegram", dedup_key="vk-b", severity="high")
        for _ in range(2):
            file_incident(title="again", dedup_key="vk-a")
    mentions_on(acme, a, 3, "a")
    mentions_on(acme, b, 1, "b")
    return fresh(a), fresh(b)


def test_merging_a_into_b_moves_filings_mentions_and_the_key(api, acme, alice, pair):
    a, b = pair
    assert a.duplicate_count == 2
    response = merge(api, alice, a, b.pk)
    assert response.status_code == 200, response.data
    assert response.data["state"] == "resolved"
    assert response.data["merged_into"] == b.pk
    assert response.data["resolution"] == f"merged into #{b.pk}"
    assert response.data["available_transitions"] == []  # no review, no reopen

    source, target = fresh(a), fresh(b)
    assert (source.duplicate_count, target.duplicate_count) == (0, 3)  # A and its two duplicates
    assert WaveMention.all_brands.filter(incident=target).count() == 4
    assert not WaveMention.all_brands.filter(incident=source).exists()
    assert source.dedup_key == "" and target.dedup_key == "vk-b"
    assert MovedDedupKey.all_brands.get(dedup_key="vk-a").incident_id == b.pk
    # The target keeps its own clock.
    assert (target.detected_at, target.ack_due_at, target.severity) == (b.detected_at, b.ack_due_at, "high")
    # Every timer of the source stopped.
    assert source.next_escalation_at is source.sla_warning_at is source.review_reminder_at is None

    # A later filing with A's key counts on B.
    again = filing.incident_file(principal=Principal.for_user(alice), brand=acme, title="x", dedup_key="vk-a")
    assert (again.created, again.incident.pk) == (False, b.pk)
    assert fresh(b).duplicate_count == 4

    said = {
        e.incident_id: e.data for e in TimelineEvent.all_brands.filter(kind="merged", incident__in=[a, b])
    }
    assert said[a.pk] == {"into": b.pk, "dedup_key": "vk-a", "filings": 3, "mentions": 3}
    assert said[b.pk] == {"from": a.pk, "dedup_key": "vk-a", "filings": 3, "mentions": 3}
    merged = TimelineEvent.all_brands.get(incident=a, kind="merged")
    assert (merged.from_state, merged.to_state, merged.actor_label) == ("detected", "resolved", "alice")


def test_a_target_without_a_key_takes_the_source_s(api, alice, acme, file_incident):
    a = file_incident(dedup_key="pd:42")
    b = file_incident()
    assert merge(api, alice, a, b.pk).status_code == 200
    assert fresh(b).dedup_key == "pd:42"
    again = filing.incident_file(
        principal=Principal.for_user(alice), brand=acme, title="x", dedup_key="pd:42"
    )
    assert again.incident.pk == b.pk


def test_keys_merged_into_the_source_follow_it(api, alice, acme, file_incident):
    a, b, c = file_incident(dedup_key="a"), file_incident(dedup_key="b"), file_incident(dedup_key="c")
    assert merge(api, alice, a, b.pk).status_code == 200
    assert merge(api, alice, b, c.pk).status_code == 200
    for key in ("a", "b"):
        again = filing.incident_file(
            principal=Principal.for_user(alice), brand=acme, title="x", dedup_key=key
        )
        assert again.incident.pk == c.pk, key
    assert fresh(c).duplicate_count == 2 + 2  # a and b themselves, then the two filings


def test_merging_skips_the_step_gate_from_any_open_state(api, alice, bob, file_incident, incident_in):
    a = incident_in(file_incident(category="negative_wave"), "investigated", manager=alice, responder=bob)
    assert a.checklist.filter(required=True).exists()
    b = file_incident()
    # bob is the assignee of A: he may merge it.
    response = merge(api, bob, a, b.pk)
    assert response.status_code == 200, response.data


@pytest.mark.parametrize("who,expected", [("dave", 403), ("carol", 403), ("mallory", 404)])
def test_who_may_merge(api, alice, bob, carol, dave, mallory, file_incident, incident_in, who, expected):
    a = incident_in(file_incident(), "acknowledged", manager=alice, responder=bob)
    b = file_incident()
    user = {"dave": dave, "carol": carol, "mallory": mallory}[who]
    assert merge(api, user, a, b.pk).status_code == expected
    assert fresh(a).state == "acknowledged"


def test_into_another_brand_s_or_a_closed_incident_is_a_400_on_into(
    api, alice, bob, mallory, globex, file_incident, incident_in
):
    a = file_incident()
    theirs = file_incident(brand=globex, by=mallory)
    closed = incident_in(file_incident(), "resolved", manager=alice, responder=bob)
    reviewed = incident_in(file_incident(), "reviewed", manager=alice, responder=bob)
    for into in (theirs.pk, closed.pk, reviewed.pk, 10**9, a.pk):
        response = merge(api, alice, a, into)
        assert response.status_code == 400, (into, response.data)
        assert list(response.data) == ["into"]
    assert fresh(a).state == "detected" and fresh(a).merged_into_id is None


def test_merging_a_reviewed_or_resolved_incident_is_a_409(api, alice, bob, file_incident, incident_in):
    target = file_incident()
    for state in ("resolved", "reviewed"):
        source = incident_in(file_incident(), state, manager=alice, responder=bob)
        response = merge(api, alice, source, target.pk)
        assert response.status_code == 409, response.data
        assert response.data["code"] == "invalid_transition"


def test_a_merged_incident_cannot_be_reopened_reviewed_or_merged_again(api, alice, file_incident):
    a, b, c = file_incident(), file_incident(), file_incident()
    assert merge(api, alice, a, b.pk).status_code == 200
    client = api(alice)
    reopen = client.post(f"/api/v1/incidents/{a.pk}/reopen/", {"reason": "not the same"}, format="json")
    review = client.post(
        f"/api/v1/incidents/{a.pk}/review/",
        {"summary": "s", "root_cause": "r", "lessons": "l", "follow_ups": []},
        format="json",
    )
    assert (reopen.status_code, review.status_code) == (409, 409)
    assert merge(api, alice, a, c.pk).status_code == 409
    assert fresh(a).state == "resolved" and fresh(a).merged_into_id == b.pk


def test_a_merged_incident_is_never_reminded_of_a_review(alice, file_incident, api, settings):
    settings.REVIEW_REMINDER_SECONDS = 60
    with time_machine.travel(T0, tick=False):
        a, b = file_incident(), file_incident()
        assert merge(api, alice, a, b.pk).status_code == 200
    with time_machine.travel(T0 + timedelta(days=30), tick=False):
        clock.sweep()
    assert not TimelineEvent.all_brands.filter(incident=a, kind="review_reminder").exists()
    assert fresh(a).review_reminder_at is None


def test_merging_back_is_refused_as_a_loop(api, alice, file_incident):
    a, b = file_incident(), file_incident()
    assert merge(api, alice, a, b.pk).status_code == 200
    back = merge(api, alice, b, a.pk)
    assert back.status_code == 400
    assert "loop" in back.data["into"][0]
    itself = merge(api, alice, b, b.pk)
    assert itself.status_code == 400 and list(itself.data) == ["into"]


def test_links_go_both_ways_and_come_undone(api, alice, bob, file_incident, globex, mallory):
    a, b = file_incident(), file_incident()
    response = api(bob).post(f"/api/v1/incidents/{a.pk}/link/", {"incident": b.pk}, format="json")
    assert response.status_code == 200, response.data
    assert response.data["links"] == [{"incident": b.pk, "kind": "related"}]
    assert api(bob).get(f"/api/v1/incidents/{b.pk}/").data["links"] == [{"incident": a.pk, "kind": "related"}]
    # Again: nothing new.
    api(bob).post(f"/api/v1/incidents/{a.pk}/link/", {"incident": b.pk}, format="json")
    assert TimelineEvent.all_brands.filter(kind="linked").count() == 2  # one on each

    theirs = file_incident(brand=globex, by=mallory)
    for other in (theirs.pk, a.pk, 10**9):
        refused = api(bob).post(f"/api/v1/incidents/{a.pk}/link/", {"incident": other}, format="json")
        assert refused.status_code == 400 and list(refused.data) == ["incident"], other

    assert api(bob).delete(f"/api/v1/incidents/{b.pk}/link/{a.pk}/").status_code == 204
    assert fresh(a).links == [] and fresh(b).links == []
    assert api(bob).delete(f"/api/v1/incidents/{b.pk}/link/{a.pk}/").status_code == 404
    assert TimelineEvent.all_brands.filter(kind="unlinked").count() == 2


def test_a_viewer_cannot_link(api, carol, file_incident):
    a, b = file_incident(), file_incident()
    response = api(carol).post(f"/api/v1/incidents/{a.pk}/link/", {"incident": b.pk}, format="json")
    assert response.status_code == 403
