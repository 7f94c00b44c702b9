"""
The per-process cache of what filing reads about a brand (incidents/brand_setup.py).

Filing must never use an old SLA, chain or playbook: whatever writes them, in this
process or another, the next incident filed gets the new one.
"""

from django.db.models import F

from crisis.models import Brand
from incidents.models import SlaPolicy
from playbooks.models import Playbook, PlaybookStep


def ack_window(incident):
    return (incident.ack_due_at - incident.detected_at).total_seconds()


def test_the_cache_saves_queries_on_the_next_filing(api, bob, django_assert_max_num_queries):
    client = api(bob)
    body = {
        "brand": "acme",
        "title": "Staff video went viral",
        "severity": "high",
        "category": "staff_misconduct",
        "dedup_key": "viral-1",
    }
    assert client.post("/api/v1/incidents/", body, format="json").status_code == 201
    # token, roles, brand, dedup lookup, savepoint, insert, checklist, timeline, checklist
    # read for the response (+ transaction statements); SLA, chain and playbook are cached.
    with django_assert_max_num_queries(13):
        response = client.post("/api/v1/incidents/", {**body, "dedup_key": "viral-2"}, format="json")
    assert response.status_code == 201
    assert response.data["steps"], "the cached playbook still gives the incident its checklist"


def test_a_policy_changed_in_this_process_applies_at_once(acme, alice, file_incident):
    assert ack_window(file_incident(severity="high")) == 900  # fills the cache
    SlaPolicy.objects.create(brand=acme, severity="high", ack_seconds=300, resolve_seconds=3600)
    # `acme` is the Brand read before the change: its old version must not win.
    assert ack_window(file_incident(severity="high")) == 300


def test_a_change_made_by_another_process_is_seen_through_the_brand_row(acme, file_incident):
    assert ack_window(file_incident(severity="high")) == 900
    # Another process's write: no signal here, only its version bump in the database.
    SlaPolicy.objects.bulk_create(
        [SlaPolicy(brand=acme, severity="high", ack_seconds=240, resolve_seconds=3600)]
    )
    assert ack_window(file_incident(severity="high")) == 900  # nothing told us yet
    Brand.objects.filter(pk=acme.pk).update(setup_version=F("setup_version") + 1)
    fresh = Brand.objects.get(pk=acme.pk)  # as every request reads it
    assert ack_window(file_incident(brand=fresh, severity="high")) == 240


def test_editing_a_shared_playbook_step_reaches_the_next_incident(acme, file_incident):
    first = file_incident(category="data_leak", severity="critical")
    playbook = first.checklist.first().playbook
    assert playbook.brand_id is None  # the shared library's
    step = PlaybookStep.all_brands.filter(playbook=playbook).order_by("position").first()
    step.title = "Call the DPO first"
    step.save()
    second = file_incident(category="data_leak", severity="critical")
    assert second.checklist.order_by("position").first().title == "Call the DPO first"
    assert first.checklist.order_by("position").first().title != "Call the DPO first"


def test_deleting_the_brand_playbook_falls_back_to_the_shared_one(acme, alice, file_incident):
    own = Playbook.objects.create(brand=acme, name="Ours", category="fake_news", language="en")
    PlaybookStep.objects.create(playbook=own, position=0, title="Our own first step", due_after_seconds=60)
    assert file_incident(category="fake_news").checklist.first().title == "Our own first step"
    own.delete()
    assert file_incident(category="fake_news").checklist.first().playbook.brand_id is None


def test_a_shared_playbook_taken_over_by_one_brand_leaves_the_others(acme, globex, file_incident):
    shared = file_incident(category="data_leak", severity="critical").checklist.first().playbook
    assert shared.brand_id is None
    shared.brand = globex  # what a superuser may do through the API or the admin
    shared.save()
    again = file_incident(category="data_leak", severity="critical")  # acme, `acme` not re-read
    assert all(step.playbook_id != shared.pk for step in again.checklist.all())


def test_saving_a_brand_does_not_write_back_an_old_setup_version(acme):
    stale = Brand.objects.get(pk=acme.pk)
    SlaPolicy.objects.create(brand=acme, severity="low", ack_seconds=600, resolve_seconds=7200)
    stale.name = "Acme Coffee Roasters"
    stale.save()  # as the admin saves a brand it read before the policy changed
    fresh = Brand.objects.get(pk=acme.pk)
    assert fresh.name == "Acme Coffee Roasters"
    assert fresh.setup_version == stale.setup_version + 1
