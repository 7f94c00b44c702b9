"""Playbooks: the shipped library, choosing one, checklists, steps_incomplete, reminders, access."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from crisis.models import Category
from crisis.tenancy import Principal
from incidents import clock, services
from incidents.models import Notification, TimelineEvent
from playbooks.models import ChecklistStep, Playbook

T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)

STEP = {
    "title": "Answer in the thread",
    "description": "",
    "role": "responder",
    "due_after_seconds": 600,
    "required": True,
}


def playbook_body(**overrides):
    return {
        "brand": "acme",
        "name": "Acme wave",
        "category": "negative_wave",
        "severities": [],
        "language": "en",
        "steps": [STEP],
        **overrides,
    }


@pytest.mark.parametrize("category", Category.values)
@pytest.mark.parametrize("language", ["en", "ru"])
def test_every_category_gets_a_shipped_playbook_in_the_brands_language(
    category, language, acme, file_incident
):
    acme.language = language
    acme.save()
    incident = file_incident(category=category)
    steps = list(ChecklistStep.all_brands.filter(incident=incident).order_by("position"))
    shipped = Playbook.all_brands.get(brand=None, category=category, language=language)
    assert [s.title for s in steps] == [s.title for s in shipped.steps.order_by("position")]
    assert steps and any(s.required for s in steps)
    for step, source in zip(steps, shipped.steps.order_by("position"), strict=True):
        assert step.due_at == incident.detected_at + timedelta(seconds=source.due_after_seconds)


def test_russian_library_is_russian(acme, file_incident):
    acme.language = "ru"
    acme.save()
    incident = file_incident(category="platform_block")
    first = ChecklistStep.all_brands.filter(incident=incident).order_by("position").first()
    assert first.title == "Сообщить аудитории через альтернативные каналы"


def test_brand_playbook_wins_and_severity_filter_is_respected(api, alice, file_incident):
    response = api(alice).post("/api/v1/playbooks/", playbook_body(severities=["critical"]), format="json")
    assert response.status_code == 201, response.data
    critical = file_incident(category="negative_wave", severity="critical")
    medium = file_incident(category="negative_wave", severity="medium")
    assert [s.title for s in critical.checklist.all()] == ["Answer in the thread"]
    assert medium.checklist.first().title == "Acknowledge publicly within 15 minutes"


def test_editing_a_playbook_leaves_attached_checklists_alone(api, alice, file_incident):
    created = api(alice).post("/api/v1/playbooks/", playbook_body(), format="json").data
    incident = file_incident(category="negative_wave")
    changed = api(alice).put(
        f"/api/v1/playbooks/{created['id']}/",
        playbook_body(steps=[{**STEP, "title": "Something else"}]),
        format="json",
    )
    assert changed.status_code == 200
    assert changed.data["steps"][0]["title"] == "Something else"
    assert [s.title for s in incident.checklist.all()] == ["Answer in the thread"]
    api(alice).delete(f"/api/v1/playbooks/{created['id']}/")
    assert [s.title for s in incident.checklist.all()] == ["Answer in the thread"]


def test_resolve_refused_while_required_steps_are_open(api, alice, bob, file_incident, incident_in):
    incident = incident_in(file_incident(category="fake_news"), "investigated", manager=alice, responder=bob)
    required = list(incident.checklist.filter(required=True).order_by("position"))
    optional = list(incident.checklist.filter(required=False))
    assert required and optional
    url = f"/api/v1/incidents/{incident.pk}/"
    client = api(bob)
    refused = client.post(url + "resolve/", {"resolution": "done"}, format="json")
    assert refused.status_code == 409
    assert refused.data["code"] == "steps_incomplete"
    assert refused.data["steps"] == [{"id": s.pk, "title": s.title} for s in required]

    for step in required[:-1]:
        done = client.post(url + f"steps/{step.pk}/complete/", {"note": "ok"}, format="json")
        assert done.status_code == 200
    still = client.post(url + "resolve/", {"resolution": "done"}, format="json")
    assert [s["id"] for s in still.data["steps"]] == [required[-1].pk]

    client.post(url + f"steps/{required[-1].pk}/complete/", {}, format="json")
    resolved = client.post(url + "resolve/", {"resolution": "done"}, format="json")
    assert resolved.status_code == 200  # the optional steps are still open and do not block
    assert all(s["completed_at"] is None for s in resolved.data["steps"] if not s["required"])


def test_completing_a_step_is_recorded_once_with_the_actor(api, bob, file_incident):
    incident = file_incident()
    step = incident.checklist.first()
    client = api(bob)
    first = client.post(
        f"/api/v1/incidents/{incident.pk}/steps/{step.pk}/complete/",
        {"note": "Posted in the VK thread"},
        format="json",
    )
    again = client.post(
        f"/api/v1/incidents/{incident.pk}/steps/{step.pk}/complete/", {"note": "twice"}, format="json"
    )
    assert first.status_code == again.status_code == 200
    shown = next(s for s in again.data["steps"] if s["id"] == step.pk)
    assert (shown["completed_by"], shown["note"]) == ("bob", "Posted in the VK thread")
    events = TimelineEvent.all_brands.filter(incident=incident, kind="step_completed")
    assert events.count() == 1
    assert events.get().actor_label == "bob"
    assert events.get().data["title"] == step.title


def test_step_of_another_incident_is_404(api, bob, file_incident):
    one, other = file_incident(), file_incident()
    step = other.checklist.first()
    response = api(bob).post(f"/api/v1/incidents/{one.pk}/steps/{step.pk}/complete/")
    assert response.status_code == 404


def test_overdue_step_sends_exactly_one_reminder_to_the_assignee(bob, file_incident, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    bob.email = "bob@acme.test"
    bob.save()
    with time_machine.travel(T0, tick=False):
        incident = file_incident(category="negative_wave", severity="low")
        services.incident_claim(incident_id=incident.pk, principal=Principal.for_user(bob))
    first = incident.checklist.order_by("position").first()  # due after 900 s
    for seconds in (899, 900, 905, 1000):
        with time_machine.travel(T0 + timedelta(seconds=seconds), tick=False):
            clock.sweep()
    reminders = TimelineEvent.all_brands.filter(incident=incident, kind="step_overdue")
    assert [e.data["step"] for e in reminders] == [first.pk]
    assert reminders.get().data["notified"] == ["bob"]
    assert Notification.all_brands.filter(reason="step_overdue", target="bob@acme.test").count() == 1


def test_completed_step_is_never_reminded(bob, file_incident):
    with time_machine.travel(T0, tick=False):
        incident = file_incident(category="negative_wave")
    step = incident.checklist.order_by("position").first()
    services.incident_step_complete(
        incident_id=incident.pk, step_id=step.pk, principal=Principal.for_user(bob)
    )
    with time_machine.travel(T0 + timedelta(seconds=1000), tick=False):
        clock.sweep()
    assert not TimelineEvent.all_brands.filter(
        incident=incident, kind="step_overdue", data__step=step.pk
    ).exists()


def test_manager_attaches_another_playbook(api, alice, bob, file_incident):
    incident = file_incident(category="negative_wave")
    before = incident.checklist.count()
    extra = Playbook.all_brands.get(brand=None, category="data_leak", language="en")
    assert (
        api(bob)
        .post(f"/api/v1/incidents/{incident.pk}/playbooks/", {"playbook": extra.pk}, format="json")
        .status_code
        == 403
    )
    response = api(alice).post(
        f"/api/v1/incidents/{incident.pk}/playbooks/", {"playbook": extra.pk}, format="json"
    )
    assert response.status_code == 200
    assert len(response.data["steps"]) == before + extra.steps.count()
    assert TimelineEvent.all_brands.filter(incident=incident, kind="playbook_attached").exists()


class TestAccess:
    def test_only_managers_write_their_brands_playbooks(self, api, bob, alice, mallory):
        assert api(bob).post("/api/v1/playbooks/", playbook_body(), format="json").status_code == 403
        assert (
            api(mallory).post("/api/v1/playbooks/", playbook_body(), format="json").status_code == 400
        )  # acme is unknown to her
        assert api(alice).post("/api/v1/playbooks/", playbook_body(), format="json").status_code == 201

    def test_only_superusers_write_shared_ones(self, api, alice, root):
        shared = playbook_body(brand=None)
        assert api(alice).post("/api/v1/playbooks/", shared, format="json").status_code == 403
        created = api(root).post("/api/v1/playbooks/", shared, format="json")
        assert created.status_code == 201
        library = Playbook.all_brands.filter(brand=None).first()
        assert api(alice).delete(f"/api/v1/playbooks/{library.pk}/").status_code == 403

    def test_other_brands_playbooks_are_invisible(self, api, alice, mallory):
        mine = api(alice).post("/api/v1/playbooks/", playbook_body(), format="json").data
        theirs = api(mallory).get("/api/v1/playbooks/?page_size=200").data["results"]
        assert mine["id"] not in [p["id"] for p in theirs]
        assert len(theirs) == 16  # the shared library: 8 categories in 2 languages
        assert api(mallory).get(f"/api/v1/playbooks/{mine['id']}/").status_code == 404
        assert api(mallory).delete(f"/api/v1/playbooks/{mine['id']}/").status_code == 404

    @pytest.mark.parametrize(
        "body",
        [
            {"steps": []} | {"name": ""},
            {"category": "aliens"},
            {"severities": ["apocalyptic"]},
            {"steps": [{**STEP, "role": "ceo"}]},
            {"steps": [{**STEP, "due_after_seconds": -1}]},
            {"steps": "none"},
            {"language": "de"},
            {"brand": "nope"},
        ],
    )
    def test_bad_playbooks_are_400(self, body, api, alice):
        response = api(alice).post("/api/v1/playbooks/", playbook_body(**body), format="json")
        assert response.status_code == 400, response.data
        assert not Playbook.all_brands.filter(brand__isnull=False).exists()
