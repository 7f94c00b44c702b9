"""
Tenant scoping fails closed, for every model that belongs to a brand.

The brand-owned models are found by walking the installed models for a chain of
foreign keys that ends at `Brand`, so a new model is covered without being named here.
"""

import uuid
from collections import deque
from datetime import timedelta

import pytest
from django.apps import apps
from django.utils import timezone

from crisis.models import (
    Brand,
    BrandKey,
    DetectionPolicy,
    Invitation,
    Membership,
    Mention,
    Schedule,
    ScheduleLayer,
    ScheduleLayerMember,
    ScheduleOverride,
)
from crisis.tenancy import Principal, TenantManager
from incidents.models import (
    Escalation,
    EscalationPolicy,
    FollowUp,
    Incident,
    MovedDedupKey,
    Notification,
    SlaPolicy,
    Statement,
    StatementDecision,
    StatementRoute,
    StatementVersion,
    StatusUpdate,
    TimelineEvent,
    UpdatesPolicy,
    WaveMention,
    WaveTally,
)
from integrations.chat.models import TelegramChat, TelegramLinkCode, TelegramMessage, TelegramRejectPrompt
from integrations.sources.models import Source
from playbooks.models import ChecklistStep, Playbook, PlaybookStep, ResponseTemplate


def _brand_path(model) -> str | None:
    """The shortest chain of foreign keys from `model` to Brand ("brand", "incident__brand"), if any."""
    queue = deque([(model, [])])
    seen = {model}
    while queue:
        current, path = queue.popleft()
        for field in current._meta.concrete_fields:
            if not field.is_relation or field.related_model is None:
                continue
            if field.related_model is Brand:
                return "__".join([*path, field.name])
            if field.related_model not in seen and len(path) < 3:
                seen.add(field.related_model)
                queue.append((field.related_model, [*path, field.name]))
    return None


BRAND_OWNED = sorted(
    (m for m in apps.get_models() if m is not Brand and _brand_path(m) is not None),
    key=lambda m: m._meta.label,
)


def _brand_of(row, path: str):
    """The brand id a row belongs to, walked in Python along the manager's path (None: shared)."""
    *hops, last = path.split("__")
    for hop in hops:
        row = getattr(row, hop)
    return getattr(row, f"{last}_id")


def test_the_walk_finds_the_brand_owned_models():
    # A floor, not the list: the walk must at least see the models we know of.
    known = {
        BrandKey, DetectionPolicy, Mention, Incident, TimelineEvent, SlaPolicy, FollowUp,
        EscalationPolicy, Escalation, Notification, WaveMention, WaveTally, Playbook, PlaybookStep,
        ChecklistStep, ResponseTemplate, Membership, Invitation,
    }  # fmt: skip
    assert known <= set(BRAND_OWNED)


@pytest.mark.parametrize("model", BRAND_OWNED, ids=lambda m: m._meta.label)
def test_every_brand_owned_model_has_the_fail_closed_manager(model):
    assert isinstance(model.objects, TenantManager), f"{model._meta.label}.objects must be a TenantManager"
    # The default manager is what Django's own machinery (admin, forms) reads: it fails closed too.
    assert model._default_manager is model.objects
    assert not isinstance(model.all_brands, TenantManager)
    # The manager's path to the brand is a real chain of foreign keys ending at Brand.
    target = model
    for hop in model.objects.brand_field.split("__"):
        target = target._meta.get_field(hop).related_model
    assert target is Brand


@pytest.fixture
def world(acme, globex, alice, bob, mallory, file_incident):
    """Rows of every brand-owned model in both brands (and the shared ones the library ships)."""
    now = timezone.now()
    for brand, by in ((acme, alice), (globex, mallory)):
        BrandKey.issue(brand=brand, name="listening")
        DetectionPolicy.objects.create(brand=brand)
        SlaPolicy.objects.create(brand=brand, severity="critical", ack_seconds=300, resolve_seconds=3600)
        EscalationPolicy.objects.create(brand=brand, chain={"levels": []})
        mention = Mention.objects.create(
            brand=brand, platform="vk", external_id="1", sentiment="negative", published_at=now
        )
        playbook = Playbook.objects.create(brand=brand, name="Own", category="other")
        PlaybookStep.objects.create(playbook=playbook, title="Reply")
        ResponseTemplate.objects.create(brand=brand, name="Own", category="other", language="en", body="Hi")
        incident = file_incident(brand=brand, by=by)
        ChecklistStep.objects.create(incident=incident, playbook=playbook, title="Reply", due_at=now)
        FollowUp.objects.create(incident=incident, title="Fix the promo")
        Escalation.objects.create(incident=incident, kind="ack", level=1, due_at=now, fired_at=now)
        Notification.objects.create(
            incident=incident,
            channel="email",
            target="x@example.test",
            reason="escalated",
            subject="s",
            body="b",
            idempotency_key=uuid.uuid4(),
        )
        WaveMention.objects.create(incident=incident, mention=mention)
        WaveTally.all_brands.create(incident=incident, negatives=1)
        MovedDedupKey.objects.create(brand=brand, dedup_key="merged", incident=incident)
        StatusUpdate.objects.create(incident=incident, author=by, audience="team", body="On it.")
        UpdatesPolicy.objects.create(brand=brand, cadence_seconds={}, stakeholder_emails=[])
        StatementRoute.objects.create(brand=brand, hops=[])
        statement = Statement.objects.create(
            incident=incident, author=by, channels=["vk"], language="en", body="Sorry."
        )
        StatementVersion.objects.create(
            statement=statement, number=1, body="Sorry.", channels=["vk"], language="en", author=by
        )
        StatementDecision.objects.create(
            statement=statement, round=1, version=1, hop=0, kind="approved", by=by
        )
        Invitation.issue(
            brand=brand, email="x@example.test", role="viewer", is_executive=False, invited_by=by, now=now
        )
        Source.all_brands.create(brand=brand, kind="talkwalker", name="Talkwalker", query="collector")
        TelegramChat.all_brands.create(
            brand=brand, chat_id=-100 - brand.pk, title="crisis room", linked_by=by
        )
        TelegramLinkCode.all_brands.create(
            digest=uuid.uuid4().hex,
            purpose="group",
            user=by,
            brand=brand,
            expires_at=now + timedelta(minutes=10),
        )
        TelegramMessage.all_brands.create(chat_id=-100 - brand.pk, incident=incident, message_id=7)
        TelegramRejectPrompt.all_brands.create(
            chat_id=brand.pk, message_id=8, user=by, statement=statement, version=1
        )
        schedule = Schedule.all_brands.create(brand=brand, name="Nights", time_zone="UTC")
        layer = ScheduleLayer.all_brands.create(
            schedule=schedule, position=1, name="Rotation", start=now, shift_every=1, shift_unit="days"
        )
        ScheduleLayerMember.all_brands.create(layer=layer, position=0, user=by)
        ScheduleOverride.all_brands.create(
            schedule=schedule, user=by, start=now, end=now + timedelta(hours=1)
        )
        # A notification about the brand, not one of its incidents (an invitation's e-mail).
        Notification.objects.create(
            brand=brand,
            channel="email",
            target="x@example.test",
            reason="invitation",
            subject="s",
            body="b",
            idempotency_key=uuid.uuid4(),
        )


@pytest.mark.parametrize("model", BRAND_OWNED, ids=lambda m: m._meta.label)
def test_every_brand_owned_model_fails_closed(model, world, acme, globex, bob, mallory, root, acme_key):
    path = model.objects.brand_field
    rows = list(model.all_brands.all())
    owners = {_brand_of(row, path) for row in rows}
    assert {acme.pk, globex.pk} <= owners, f"add rows of {model._meta.label} to the `world` fixture"

    assert model.objects.count() == 0
    assert list(model.objects.all()) == []
    assert not model.objects.filter(pk__in=[row.pk for row in rows]).exists()

    def expected(*brand_ids):
        wanted = set(brand_ids) | ({None} if model.objects.shared else set())
        return {row.pk for row in rows if _brand_of(row, path) in wanted}

    def seen(principal):
        return set(model.objects.visible_to(principal).values_list("pk", flat=True))

    assert seen(Principal.for_user(bob)) == expected(acme.pk)
    assert seen(Principal.for_user(mallory)) == expected(globex.pk)
    assert seen(Principal.for_key(acme_key)) == expected(acme.pk)
    assert seen(Principal.for_user(root)) == {row.pk for row in rows}
    assert seen(Principal()) == expected()
    assert set(model.objects.for_brands([globex.pk]).values_list("pk", flat=True)) == expected(globex.pk)


def test_through_a_parent_row_gives_that_parents_rows(world, acme):
    incident = Incident.objects.for_brands([acme.pk]).get()
    assert list(incident.checklist.all()) == list(ChecklistStep.all_brands.filter(incident=incident))
    assert incident.follow_ups.count() == 1
    assert incident.events.count() == TimelineEvent.all_brands.filter(incident=incident).count() > 0
    assert {m.brand_id for m in acme.memberships.all()} == {acme.pk}
    assert list(acme.keys.usable()) == list(BrandKey.all_brands.filter(brand=acme))
    # Prefetching through the relation, and reading a row back, use the same path.
    (fetched,) = Incident.objects.for_brands([acme.pk]).prefetch_related("checklist", "follow_ups")
    assert len(fetched.checklist.all()) == incident.checklist.count()
    step = incident.checklist.first()
    step.refresh_from_db()
    assert step.incident == incident


def test_a_users_own_memberships_make_their_roles(bob, mallory, acme, globex):
    assert Principal.for_user(bob).roles == {acme.pk: "responder"}
    assert Principal.for_user(mallory).brand_ids() == {globex.pk}


def test_unscoped_queries_return_nothing(file_incident):
    file_incident()
    assert Incident.objects.count() == 0
    assert list(Incident.objects.all()) == []
    assert Incident.objects.filter(title__icontains="angry").count() == 0
    assert TimelineEvent.objects.count() == 0
    assert Incident.all_brands.count() == 1


def test_scoped_queries_return_only_the_callers_brands(file_incident, globex, mallory, bob, root, acme_key):
    ours = file_incident()
    theirs = file_incident(brand=globex, by=mallory)
    assert list(Incident.objects.visible_to(Principal.for_user(bob))) == [ours]
    assert list(Incident.objects.visible_to(Principal.for_user(mallory))) == [theirs]
    assert set(Incident.objects.visible_to(Principal.for_user(root))) == {ours, theirs}
    assert list(Incident.objects.visible_to(Principal.for_key(acme_key))) == [ours]
    assert list(Incident.objects.visible_to(Principal())) == []
    assert list(TimelineEvent.objects.visible_to(Principal.for_user(mallory))) == list(
        TimelineEvent.all_brands.filter(incident=theirs)
    )


def test_the_managers_reach_the_brand_along_the_declared_path():
    # Models whose brand may be null (shared) say so; the others do not.
    shared = {m for m in BRAND_OWNED if m.objects.shared}
    assert shared == {Playbook, PlaybookStep, ResponseTemplate}
    for model in shared:
        *_, last = model.objects.brand_field.split("__")
        owner = model
        for hop in model.objects.brand_field.split("__")[:-1]:
            owner = owner._meta.get_field(hop).related_model
        assert owner._meta.get_field(last).null
