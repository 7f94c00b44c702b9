"""Filing incidents: defaults and deadlines, dedup of open incidents, Idempotency-Key."""

import contextlib
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from incidents import filing, idempotency
from incidents.models import Incident, MovedDedupKey, SlaPolicy, TimelineEvent
from tests.conftest import all_at_once

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


@time_machine.travel(NOW, tick=False)
def test_file_computes_deadlines_from_detected_at(api, bob):
    detected = NOW - timedelta(minutes=5)
    response = api(bob).post(
        "/api/v1/incidents/",
        {
            "brand": "acme",
            "title": "Fake story about mould in cups",
            "category": "fake_news",
            "severity": "critical",
            "channel": "telegram",
            "reach": 120000,
            "source_url": "https://t.me/some_channel/123",
            "detected_at": detected.isoformat(),
        },
        format="json",
    )
    assert response.status_code == 201, response.data
    body = response.data
    assert body["state"] == "detected"
    assert body["reported_by"] == "bob"
    assert body["detected_at"] == "2026-11-21T11:55:00Z"
    assert body["created_at"] == "2026-11-21T12:00:00Z"
    assert body["ack_due_at"] == "2026-11-21T12:05:00Z"  # critical: 600 s from detection
    assert body["resolve_due_at"] == "2026-11-21T15:55:00Z"
    assert body["ack_breached"] is False
    assert body["available_transitions"] == ["claim"]
    event = TimelineEvent.all_brands.get(incident_id=body["id"])
    assert (event.kind, event.actor_label, event.to_state) == ("created", "bob", "detected")


def test_brand_sla_policy_applies_to_incidents_filed_afterwards(api, alice, file_incident):
    before = file_incident(severity="high")
    response = api(alice).put(
        "/api/v1/brands/acme/sla/",
        {sev: {"ack_seconds": 120, "resolve_seconds": 3600} for sev in ("critical", "high", "medium", "low")},
        format="json",
    )
    assert response.status_code == 200
    assert response.data["high"] == {"ack_seconds": 120, "resolve_seconds": 3600}
    after = file_incident(severity="high")
    assert (after.ack_due_at - after.detected_at).total_seconds() == 120
    before.refresh_from_db()
    assert (before.ack_due_at - before.detected_at).total_seconds() == 900


def test_sla_put_rejects_out_of_range_and_keeps_the_old_policy(api, alice):
    good = {
        sev: {"ack_seconds": 600, "resolve_seconds": 3600} for sev in ("critical", "high", "medium", "low")
    }
    for bad in (0, -5, 604801, "ten", None, 1.5):
        body = {**good, "critical": {"ack_seconds": bad, "resolve_seconds": 3600}}
        response = api(alice).put("/api/v1/brands/acme/sla/", body, format="json")
        assert response.status_code == 400, bad
        assert "critical" in response.data
    missing = {k: v for k, v in good.items() if k != "low"}
    assert api(alice).put("/api/v1/brands/acme/sla/", missing, format="json").status_code == 400
    assert not SlaPolicy.all_brands.exists()


def test_sla_defaults(api, bob):
    response = api(bob).get("/api/v1/brands/acme/sla/")
    assert {sev: t["ack_seconds"] for sev, t in response.data.items()} == {
        "critical": 600,
        "high": 900,
        "medium": 3600,
        "low": 14400,
    }


def test_integration_key_implies_brand_and_reports_itself(key_client, globex):
    response = key_client.post("/api/v1/incidents/", {"title": "Spike of 1-star reviews"}, format="json")
    assert response.status_code == 201
    assert (response.data["brand"], response.data["reported_by"]) == ("acme", "key:youscan")
    other = key_client.post("/api/v1/incidents/", {"brand": "globex", "title": "x"}, format="json")
    assert other.status_code == 400
    assert "brand" in other.data
    assert Incident.all_brands.filter(brand=globex).count() == 0


class TestDedup:
    def test_same_key_while_open_counts_a_duplicate(self, api, bob):
        client = api(bob)
        body = {"brand": "acme", "title": "Wave on VK", "dedup_key": "vk-wave-42"}
        first = client.post("/api/v1/incidents/", body, format="json")
        second = client.post("/api/v1/incidents/", {**body, "title": "again"}, format="json")
        third = client.post("/api/v1/incidents/", body, format="json")
        assert (first.status_code, second.status_code, third.status_code) == (201, 200, 200)
        assert first.data["id"] == second.data["id"] == third.data["id"]
        assert (second.data["duplicate_count"], third.data["duplicate_count"]) == (1, 2)
        assert second.data["title"] == "Wave on VK"
        kinds = list(
            TimelineEvent.all_brands.filter(incident_id=first.data["id"]).values_list("kind", flat=True)
        )
        assert kinds == ["created", "duplicate", "duplicate"]

    def test_a_duplicate_reads_back_the_incident_as_the_orm_does(
        self, acme, globex, alice, bob, mallory, file_incident, incident_in
    ):
        """
        A duplicate is counted and read back by one `UPDATE … RETURNING`: the incident
        `incident_file` answers with must have every column as an ORM read gives it
        (dates, JSON, generated columns, the state), on SQLite and on PostgreSQL.
        """
        from crisis.tenancy import Principal

        incident = file_incident(
            dedup_key="leak",
            category="data_leak",
            severity="critical",
            channel="vk",
            source_url="https://vk.com/wall-1_7",
            reach=9000,
        )
        incident_in(incident, "investigated", manager=alice, responder=bob)
        theirs = file_incident(brand=globex, by=mallory, dedup_key="leak")  # same key, other brand

        again = filing.incident_file(
            principal=Principal.for_user(bob), brand=acme, title="t", dedup_key="leak"
        )

        stored = Incident.all_brands.get(pk=incident.pk)
        assert (again.created, type(again.incident), stored.duplicate_count) == (False, Incident, 1)
        for field in Incident._meta.concrete_fields:
            assert getattr(again.incident, field.attname) == getattr(stored, field.attname), field.name
        assert stored.ack_seconds is not None and stored.escalation_chain, "compared filled columns"
        assert stored.state == "investigated" and stored.assignee_id == bob.pk
        assert Incident.all_brands.get(pk=theirs.pk).duplicate_count == 0
        theirs_again = filing.incident_file(
            principal=Principal.for_user(mallory), brand=globex, title="t", dedup_key="leak"
        )
        assert (theirs_again.created, theirs_again.incident.pk) == (False, theirs.pk)
        assert Incident.all_brands.get(pk=incident.pk).duplicate_count == 1

    def test_a_duplicates_answer_shows_the_assignee_and_another_reporter(
        self, key_client, api, acme, alice, bob, dave, incident_in, django_assert_max_num_queries
    ):
        body = {"title": "Fake story about the founder", "dedup_key": "fake-1"}
        first = key_client.post("/api/v1/incidents/", body, format="json")
        incident_in(
            Incident.all_brands.get(pk=first.data["id"]), "acknowledged", manager=alice, responder=dave
        )
        client = api(bob)
        # token, roles, brand, count (+ transaction statements), timeline, checklist, and
        # the two people shown that are not the caller: the assignee, the reporter key.
        with django_assert_max_num_queries(10):
            second = client.post("/api/v1/incidents/", {**body, "brand": "acme"}, format="json")
        assert second.status_code == 200, second.data
        assert (second.data["id"], second.data["duplicate_count"]) == (first.data["id"], 1)
        assert second.data["assignee"] == "dave"
        assert second.data["reported_by"] == first.data["reported_by"] == "key:youscan"
        assert second.data["available_transitions"] == []  # dave's incident, bob a responder
        assert second.data["steps"] == first.data["steps"]

    def test_a_key_that_did_not_file_the_incident_learns_only_its_count(
        self, api, bob, acme, key_client, acme_key
    ):
        """A guessed dedup_key must not read another filer's incident (API.md: the short shape)."""
        from rest_framework.test import APIClient

        from crisis.models import BrandKey

        body = {"title": "Leak of the price list", "dedup_key": "leak-7"}
        filed = api(bob).post("/api/v1/incidents/", {**body, "brand": "acme"}, format="json")
        hit = key_client.post("/api/v1/incidents/", {**body, "title": "guess"}, format="json")
        assert hit.status_code == 200, hit.data
        assert hit.json() == {"id": filed.data["id"], "state": "detected", "duplicate_count": 1}

        # The filing key itself keeps the whole answer; another key of the brand does not.
        own = key_client.post("/api/v1/incidents/", {"title": "Spike", "dedup_key": "spike"}, format="json")
        _other, plain = BrandKey.issue(brand=acme, name="brand-analytics")
        other = APIClient()
        other.credentials(HTTP_AUTHORIZATION=f"Api-Key {plain}")
        again = key_client.post("/api/v1/incidents/", {"title": "Spike", "dedup_key": "spike"}, format="json")
        theirs = other.post("/api/v1/incidents/", {"title": "Spike", "dedup_key": "spike"}, format="json")
        assert (own.status_code, again.status_code, theirs.status_code) == (201, 200, 200)
        assert again.data["title"] == "Spike" and again.data["duplicate_count"] == 1
        assert theirs.json() == {"id": own.data["id"], "state": "detected", "duplicate_count": 2}
        kinds = TimelineEvent.all_brands.filter(incident_id=own.data["id"]).values_list("kind", flat=True)
        assert list(kinds) == ["created", "duplicate", "duplicate"]

    def test_a_duplicate_holds_its_people_before_commit(
        self, acme, alice, bob, dave, acme_key, incident_in, django_assert_num_queries
    ):
        """Read under the row lock, not after: a key or user deleted after commit cannot 500."""
        from crisis.tenancy import Principal

        first = filing.incident_file(
            principal=Principal.for_key(acme_key), brand=acme, title="Fake story", dedup_key="fake-2"
        ).incident
        incident_in(first, "acknowledged", manager=alice, responder=dave)
        again = filing.incident_file(
            principal=Principal.for_user(bob), brand=acme, title="Fake story", dedup_key="fake-2"
        )
        with django_assert_num_queries(0):
            shown = (
                again.incident.assignee.username,
                again.incident.reported_by_key.name,
                again.incident.brand.slug,
            )
        assert (again.created, shown) == (False, ("dave", "youscan", "acme"))

    def test_a_duplicate_from_its_own_reporter_reads_no_one_else(self, api, bob, django_assert_num_queries):
        client = api(bob)
        body = {"brand": "acme", "title": "Wave on VK", "dedup_key": "vk-wave-7"}
        assert client.post("/api/v1/incidents/", body, format="json").status_code == 201
        # token, roles, brand, BEGIN, count, timeline, COMMIT, checklist: the reporter is the
        # caller, nobody is assigned, the brand is the one just read.
        with django_assert_num_queries(8):
            again = client.post("/api/v1/incidents/", body, format="json")
        assert (again.status_code, again.data["reported_by"], again.data["assignee"]) == (200, "bob", None)

    def test_a_new_incident_with_a_key_looks_for_a_moved_key_in_the_same_statement(
        self, api, bob, django_assert_num_queries
    ):
        """The look-up of a key a merge moved is part of the counting UPDATE, not a query of its own."""
        client = api(bob)
        # The brand's policies and playbooks are read once, then kept (`brand_setup`).
        client.post(
            "/api/v1/incidents/", {"brand": "acme", "title": "First", "dedup_key": "fresh-0"}, format="json"
        )
        # token, roles, brand, SAVEPOINT, count (none), insert, checklist, timeline, RELEASE.
        with django_assert_num_queries(9):
            created = client.post(
                "/api/v1/incidents/", {"brand": "acme", "title": "New", "dedup_key": "fresh-1"}, format="json"
            )
        assert created.status_code == 201, created.data

    def test_a_key_moved_by_a_merge_counts_on_its_open_target(self, api, bob, acme, file_incident):
        target = file_incident(title="The crisis")
        MovedDedupKey.all_brands.create(brand=acme, dedup_key="moved-1", incident=target)
        again = api(bob).post(
            "/api/v1/incidents/", {"brand": "acme", "title": "Again", "dedup_key": "moved-1"}, format="json"
        )
        assert (again.status_code, again.data["id"], again.data["duplicate_count"]) == (200, target.pk, 1)
        # Once the target is closed, the key files a new incident of its own.
        Incident.all_brands.filter(pk=target.pk).update(state="resolved")
        later = api(bob).post(
            "/api/v1/incidents/", {"brand": "acme", "title": "Later", "dedup_key": "moved-1"}, format="json"
        )
        assert later.status_code == 201 and later.data["id"] != target.pk
        assert Incident.all_brands.get(pk=target.pk).duplicate_count == 1

    def test_an_open_incident_s_own_key_comes_before_a_moved_one(self, api, bob, acme, file_incident):
        own = file_incident(title="Own", dedup_key="both-1")
        other = file_incident(title="Other")
        MovedDedupKey.all_brands.create(brand=acme, dedup_key="both-1", incident=other)
        again = api(bob).post(
            "/api/v1/incidents/", {"brand": "acme", "title": "Again", "dedup_key": "both-1"}, format="json"
        )
        assert (again.status_code, again.data["id"]) == (200, own.pk)
        assert Incident.all_brands.get(pk=other.pk).duplicate_count == 0

    @pytest.mark.parametrize("inside_a_transaction", [False, True])
    def test_a_filer_that_loses_the_insert_race_counts_a_duplicate(
        self, monkeypatch, acme, alice, file_incident, inside_a_transaction
    ):
        """
        The race of two first reports, forced on any database: our count finds no open
        incident (the other filer has not committed yet), then our INSERT meets theirs.
        Inside a caller's transaction (Idempotency-Key, mention intake) only the filing's
        savepoint is rolled back.
        """
        from django.db import transaction

        from crisis.tenancy import Principal

        theirs = file_incident(dedup_key="fake-story")
        real_count, calls = filing._count_duplicate, []

        def count_after_a_miss(*args):
            calls.append(args)
            return None if len(calls) == 1 else real_count(*args)

        monkeypatch.setattr(filing, "_count_duplicate", count_after_a_miss)
        with transaction.atomic() if inside_a_transaction else contextlib.nullcontext():
            filed = filing.incident_file(
                principal=Principal.for_user(alice), brand=acme, title="Fake story", dedup_key="fake-story"
            )
            assert Incident.all_brands.filter(brand=acme).count() == 1  # still usable
        assert (filed.created, filed.incident.pk, len(calls)) == (False, theirs.pk, 2)
        assert Incident.all_brands.get(pk=theirs.pk).duplicate_count == 1
        kinds = TimelineEvent.all_brands.filter(incident=theirs).values_list("kind", flat=True)
        assert sorted(kinds) == ["created", "duplicate"]

    def test_after_resolve_the_same_key_opens_a_new_incident(self, api, bob, alice, incident_in):
        client = api(bob)
        body = {"brand": "acme", "title": "Wave on VK", "dedup_key": "vk-wave-42"}
        first = client.post("/api/v1/incidents/", body, format="json")
        incident_in(Incident.all_brands.get(pk=first.data["id"]), "resolved", manager=alice, responder=bob)
        second = client.post("/api/v1/incidents/", body, format="json")
        assert second.status_code == 201
        assert second.data["id"] != first.data["id"]
        assert second.data["duplicate_count"] == 0

    def test_reopening_while_another_holds_the_key_is_409(self, api, bob, alice, incident_in):
        client = api(bob)
        body = {"brand": "acme", "title": "Wave on VK", "dedup_key": "vk-wave-42"}
        first = client.post("/api/v1/incidents/", body, format="json")
        incident_in(Incident.all_brands.get(pk=first.data["id"]), "resolved", manager=alice, responder=bob)
        client.post("/api/v1/incidents/", body, format="json")
        response = client.post(
            f"/api/v1/incidents/{first.data['id']}/reopen/", {"reason": "back"}, format="json"
        )
        assert response.status_code == 409
        assert response.data["code"] == "conflict"
        assert Incident.all_brands.get(pk=first.data["id"]).state == "resolved"

    def test_same_key_in_another_brand_is_separate(self, api, bob, mallory):
        a = api(bob).post(
            "/api/v1/incidents/", {"brand": "acme", "title": "x", "dedup_key": "k"}, format="json"
        )
        b = api(mallory).post(
            "/api/v1/incidents/", {"brand": "globex", "title": "x", "dedup_key": "k"}, format="json"
        )
        assert (a.status_code, b.status_code) == (201, 201)

    def test_database_refuses_two_open_incidents_with_one_key(self, file_incident, acme):
        from django.db import IntegrityError, transaction

        incident = file_incident(dedup_key="k")
        clone = Incident.all_brands.get(pk=incident.pk)
        clone.pk = None
        with pytest.raises(IntegrityError), transaction.atomic():
            clone.save(force_insert=True)


class TestIdempotency:
    BODY = {"brand": "acme", "title": "Staff post went viral", "category": "staff_misconduct"}

    def test_retry_replays_the_first_response(self, api, bob):
        client = api(bob)
        first = client.post("/api/v1/incidents/", self.BODY, format="json", HTTP_IDEMPOTENCY_KEY="retry-1")
        again = client.post("/api/v1/incidents/", self.BODY, format="json", HTTP_IDEMPOTENCY_KEY="retry-1")
        assert first.status_code == again.status_code == 201
        assert first.json() == again.json()
        assert Incident.all_brands.count() == 1
        assert TimelineEvent.all_brands.count() == 1

    def test_replay_of_a_dedup_hit_replays_its_200(self, api, bob):
        client = api(bob)
        body = {**self.BODY, "dedup_key": "d"}
        client.post("/api/v1/incidents/", body, format="json")
        hit = client.post("/api/v1/incidents/", body, format="json", HTTP_IDEMPOTENCY_KEY="r")
        replay = client.post("/api/v1/incidents/", body, format="json", HTTP_IDEMPOTENCY_KEY="r")
        assert hit.status_code == replay.status_code == 200
        assert Incident.all_brands.get().duplicate_count == 1

    def test_replay_of_a_key_s_dedup_hit_on_another_s_incident_stays_short(self, api, bob, key_client):
        body = {"title": "Wave on VK", "dedup_key": "d"}
        api(bob).post("/api/v1/incidents/", {**body, "brand": "acme"}, format="json")
        hit = key_client.post("/api/v1/incidents/", body, format="json", HTTP_IDEMPOTENCY_KEY="r")
        replay = key_client.post("/api/v1/incidents/", body, format="json", HTTP_IDEMPOTENCY_KEY="r")
        assert hit.status_code == replay.status_code == 200
        short = {"id": hit.json()["id"], "state": "detected", "duplicate_count": 1}
        assert hit.json() == replay.json() == short
        assert Incident.all_brands.get().duplicate_count == 1

    def test_same_key_different_body_is_422(self, api, bob):
        client = api(bob)
        client.post("/api/v1/incidents/", self.BODY, format="json", HTTP_IDEMPOTENCY_KEY="k")
        response = client.post(
            "/api/v1/incidents/", {**self.BODY, "title": "other"}, format="json", HTTP_IDEMPOTENCY_KEY="k"
        )
        assert response.status_code == 422
        assert response.data["code"] == "idempotency_mismatch"
        assert Incident.all_brands.count() == 1

    def test_keys_are_per_caller(self, api, bob, dave):
        api(bob).post("/api/v1/incidents/", self.BODY, format="json", HTTP_IDEMPOTENCY_KEY="k")
        response = api(dave).post("/api/v1/incidents/", self.BODY, format="json", HTTP_IDEMPOTENCY_KEY="k")
        assert response.status_code == 201
        assert Incident.all_brands.count() == 2

    def test_while_the_first_is_running_a_retry_is_409(self, api, bob):
        from crisis.tenancy import Principal

        client, retries = api(bob), []

        def first_request_still_running():
            retries.append(
                client.post("/api/v1/incidents/", self.BODY, format="json", HTTP_IDEMPOTENCY_KEY="k")
            )
            return 201, {"first": True}

        first = idempotency.run_once(
            principal=Principal.for_user(bob), key="k", payload=self.BODY, work=first_request_still_running
        )
        (retry,) = retries
        assert retry.status_code == 409, retry.data
        assert retry.data["code"] == "conflict"
        assert Incident.all_brands.count() == 0
        # Once the first has finished, a retry replays its answer.
        assert first == (201, {"first": True})
        replay = client.post("/api/v1/incidents/", self.BODY, format="json", HTTP_IDEMPOTENCY_KEY="k")
        assert (replay.status_code, replay.json()) == (201, {"first": True})

    def test_a_failed_first_attempt_frees_the_key(self, api, carol, bob):
        # carol is a viewer: her request is refused (403) and must not keep the key.
        response = api(carol).post("/api/v1/incidents/", self.BODY, format="json", HTTP_IDEMPOTENCY_KEY="k")
        assert response.status_code == 403
        assert not idempotency.IdempotencyRecord.objects.exists()

    def test_invalid_key_header(self, api, bob):
        response = api(bob).post(
            "/api/v1/incidents/", self.BODY, format="json", HTTP_IDEMPOTENCY_KEY="x" * 256
        )
        assert response.status_code == 400
        assert "Idempotency-Key" in response.data

    @pytest.mark.postgres
    @pytest.mark.django_db(transaction=True)
    def test_concurrent_requests_with_one_key_create_one_incident(self, api, bob):
        clients = [api(bob) for _ in range(8)]

        def send(client):
            response = client.post(
                "/api/v1/incidents/", self.BODY, format="json", HTTP_IDEMPOTENCY_KEY="same"
            )
            return response.status_code, response.json()

        results = all_at_once(send, clients)
        codes = sorted(code for code, _ in results)
        assert Incident.all_brands.count() == 1
        assert codes.count(201) >= 1
        assert set(codes) <= {201, 409}
        assert all(body["code"] == "conflict" for code, body in results if code == 409)
        ids = {body["id"] for code, body in results if code == 201}
        assert len(ids) == 1
