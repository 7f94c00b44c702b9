"""Input and output shapes of the incident endpoints (API.md, "Incidents")."""

from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.validators import URLValidator
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from api.serializers import FreeText, ModelOutput, StrictInput
from crisis.models import Brand, Schedule
from crisis.serializers import EARLIEST_REPORTED_AT, TimeZoneField, reported_time
from playbooks.serializers import ChecklistStepOutput

from . import chain, messages, reports, sla
from .models import (
    Audience,
    Category,
    Channel,
    ChannelKind,
    ContactChannel,
    FollowUp,
    Incident,
    Severity,
    SourceState,
    StatementState,
    StatusUpdate,
    TimelineEvent,
)
from .selectors import available_actions

TEXT_MAX = 20_000
MAX_STATEMENT_HOPS = 10


class IncidentInput(StrictInput):
    brand = serializers.SlugField(max_length=50, required=False)
    title = FreeText(max_length=200)
    description = FreeText(max_length=TEXT_MAX, required=False, allow_blank=True)
    category = serializers.ChoiceField(choices=Category.choices, default=Category.OTHER)
    severity = serializers.ChoiceField(choices=Severity.choices, default=Severity.MEDIUM)
    channel = serializers.ChoiceField(choices=Channel.choices, required=False, allow_blank=True)
    source_url = serializers.URLField(max_length=2000, required=False, allow_blank=True)
    reach = serializers.IntegerField(min_value=0, max_value=10**15, default=0)
    dedup_key = serializers.CharField(max_length=255, required=False, allow_blank=True)
    detected_at = serializers.DateTimeField(required=False)

    def validate_detected_at(self, value):
        return reported_time(value, timezone.now())

    def validate(self, attrs):
        principal = self.context["principal"]
        slug = attrs.pop("brand", None)
        if principal.key is not None:
            if slug is not None and slug != principal.key.brand.slug:
                raise serializers.ValidationError(
                    {"brand": [_("This integration key belongs to another brand.")]}
                )
            attrs["brand"] = principal.key.brand
            return attrs
        if slug is None:
            raise serializers.ValidationError({"brand": [_("This field is required.")]})
        brand = Brand.objects.filter(slug=slug).first()
        if brand is None or not principal.can_see(brand.pk):
            raise serializers.ValidationError({"brand": [_("Unknown brand.")]})
        attrs["brand"] = brand
        return attrs


class ResolveInput(StrictInput):
    resolution = FreeText(max_length=TEXT_MAX)


class FollowUpInput(StrictInput):
    title = FreeText(max_length=500)
    owner = serializers.CharField(max_length=150, required=False, allow_blank=True)
    due_date = serializers.DateField(required=False, allow_null=True)

    def to_internal_value(self, data):
        # A plain string is accepted as a follow-up with only a title.
        if isinstance(data, str):
            data = {"title": data}
        return super().to_internal_value(data)


class ReviewInput(StrictInput):
    summary = FreeText(max_length=TEXT_MAX)
    root_cause = FreeText(max_length=TEXT_MAX)
    lessons = FreeText(max_length=TEXT_MAX)
    follow_ups = FollowUpInput(many=True, max_length=100)


class ReopenInput(StrictInput):
    reason = FreeText(max_length=TEXT_MAX)


class ReassignInput(StrictInput):
    assignee = serializers.CharField(max_length=150)


class CommentInput(StrictInput):
    body = FreeText(max_length=TEXT_MAX)


# --- Incident command (API.md) -------------------------------------------------------------


class SeverityInput(StrictInput):
    severity = serializers.ChoiceField(choices=Severity.choices)
    reason = FreeText(max_length=TEXT_MAX)


class RoleInput(StrictInput):
    role = serializers.ChoiceField(choices=list(messages.ROLE_COLUMNS))
    username = serializers.CharField(max_length=150, allow_null=True)


class LinkInput(StrictInput):
    incident = serializers.IntegerField(min_value=1, max_value=2**62)
    kind = serializers.ChoiceField(choices=["related"], default="related")


class MergeInput(StrictInput):
    into = serializers.IntegerField(min_value=1, max_value=2**62)


class StatusUpdateInput(StrictInput):
    body = FreeText(max_length=TEXT_MAX)
    audience = serializers.ChoiceField(choices=Audience.choices)


class StatusUpdateOutput(ModelOutput):
    author = serializers.SlugRelatedField(slug_field="username", read_only=True)
    at = serializers.DateTimeField(source="created_at", read_only=True)

    class Meta:
        model = StatusUpdate
        fields = ["id", "incident", "at", "author", "audience", "body"]
        read_only_fields = fields


class CadenceInput(StrictInput):
    critical = serializers.IntegerField(min_value=sla.MIN_SECONDS, max_value=sla.MAX_SECONDS, allow_null=True)
    high = serializers.IntegerField(min_value=sla.MIN_SECONDS, max_value=sla.MAX_SECONDS, allow_null=True)
    medium = serializers.IntegerField(min_value=sla.MIN_SECONDS, max_value=sla.MAX_SECONDS, allow_null=True)
    low = serializers.IntegerField(min_value=sla.MIN_SECONDS, max_value=sla.MAX_SECONDS, allow_null=True)


STAKEHOLDER_EMAILS_MAX = 50


class UpdatesPolicyInput(StrictInput):
    cadence_seconds = CadenceInput()
    stakeholder_emails = serializers.ListField(
        child=serializers.EmailField(max_length=254), max_length=STAKEHOLDER_EMAILS_MAX, default=list
    )

    def validate_stakeholder_emails(self, value):
        # One e-mail per address, whatever its case.
        seen, kept = set(), []
        for email in value:
            if email.lower() not in seen:
                seen.add(email.lower())
                kept.append(email)
        return kept


class UpdatesPolicyOutput(serializers.Serializer):
    cadence_seconds = CadenceInput()
    # The addresses a manager typed: shown to managers only (null for others), as invitations are.
    stakeholder_emails = serializers.ListField(child=serializers.EmailField(), allow_null=True)


class IncidentOutput(ModelOutput):
    """An incident as API.md lists it. Needs `incidents_for_display` rows and a principal."""

    brand = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    assignee = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    # Plain strings in the output: both may be blank, which their input types forbid.
    channel = serializers.CharField(read_only=True)
    source_url = serializers.CharField(read_only=True)
    reported_by = serializers.SerializerMethodField()
    ack_breached = serializers.SerializerMethodField()
    resolve_breached = serializers.SerializerMethodField()
    review = serializers.SerializerMethodField()
    steps = serializers.SerializerMethodField()
    available_transitions = serializers.SerializerMethodField()
    # What a sending tool (PagerDuty, Alertmanager, Grafana) last said: null while firing.
    source_state = serializers.SerializerMethodField()
    source_details = serializers.JSONField(read_only=True)
    roles = serializers.SerializerMethodField()
    links = serializers.SerializerMethodField()
    merged_into = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    next_update_due_at = serializers.DateTimeField(source="update_due_at", read_only=True, allow_null=True)

    class Meta:
        model = Incident
        fields = [
            "id",
            "brand",
            "title",
            "description",
            "category",
            "severity",
            "channel",
            "source_url",
            "reach",
            "dedup_key",
            "duplicate_count",
            "state",
            "assignee",
            "reported_by",
            "detected_at",
            "created_at",
            "acknowledged_at",
            "investigated_at",
            "resolved_at",
            "reviewed_at",
            "ack_due_at",
            "ack_breached",
            "resolve_due_at",
            "resolve_breached",
            "escalation_level",
            "resolution",
            "review",
            "steps",
            "available_transitions",
            "source_state",
            "source_details",
            "roles",
            "links",
            "merged_into",
            "next_update_due_at",
            "last_update_at",
        ]
        read_only_fields = fields

    def _now(self):
        # One "now" per response, so every row of a page is judged at the same instant.
        if "now" not in self.context:
            self.context["now"] = timezone.now()
        return self.context["now"]

    def get_reported_by(self, incident) -> str | None:
        return _reported_by(incident)

    def get_ack_breached(self, incident) -> bool:
        return sla.is_breached(due=incident.ack_due_at, done=incident.acknowledged_at, now=self._now())

    def get_resolve_breached(self, incident) -> bool:
        return sla.is_breached(due=incident.resolve_due_at, done=incident.resolved_at, now=self._now())

    @extend_schema_field(ChecklistStepOutput(many=True))
    def get_steps(self, incident) -> list:
        # A just-filed incident's checklist comes from its filing (context "checklists":
        # incident id -> saved steps in order), not read back.
        steps = self.context.get("checklists", {}).get(incident.pk)
        return ChecklistStepOutput(incident.checklist.all() if steps is None else steps, many=True).data

    @extend_schema_field(serializers.DictField(allow_null=True))
    def get_review(self, incident) -> dict | None:
        return _review(incident)

    def get_available_transitions(self, incident) -> list[str]:
        return available_actions(incident, self.context["principal"])

    @extend_schema_field(
        serializers.ChoiceField(choices=SourceState.choices, allow_null=True, read_only=True)
    )
    def get_source_state(self, incident) -> str | None:
        return incident.source_state or None

    @extend_schema_field(
        {
            "type": "object",
            "properties": {role: {"type": "string", "nullable": True} for role in messages.ROLE_COLUMNS},
        }
    )
    def get_roles(self, incident) -> dict:
        return messages.roles_of(incident)

    @extend_schema_field(
        {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "incident": {"type": "integer"},
                    "kind": {"type": "string", "enum": ["related"]},
                },
            },
        }
    )
    def get_links(self, incident) -> list:
        return list(incident.links)


def incident_answer(incident: Incident, *, principal, checklist=None, now=None) -> dict:
    """
    `IncidentOutput(incident).data`, built by hand: the answer of filing and of one incident.

    DRF builds and binds a ModelSerializer's ~30 fields for every instance; for filing
    that was the largest part of the answer's cost and the margin of the filing target
    (docs/benchmarks.md). `IncidentOutput` stays the documented shape and the schema's
    source (lists use it); a test holds this function to it. `checklist`: the steps in
    order when the caller has them (a just-filed incident), else they are read.
    """
    now = now or timezone.now()
    steps = incident.checklist.all() if checklist is None else checklist
    return {
        "id": incident.pk,
        "brand": incident.brand.slug,
        "title": incident.title,
        "description": incident.description,
        "category": str(incident.category),
        "severity": str(incident.severity),
        "channel": str(incident.channel),
        "source_url": incident.source_url,
        "reach": incident.reach,
        "dedup_key": incident.dedup_key,
        "duplicate_count": incident.duplicate_count,
        "state": str(incident.state),
        "assignee": incident.assignee.username if incident.assignee_id else None,
        "reported_by": _reported_by(incident),
        "detected_at": _when(incident.detected_at),
        "created_at": _when(incident.created_at),
        "acknowledged_at": _when(incident.acknowledged_at),
        "investigated_at": _when(incident.investigated_at),
        "resolved_at": _when(incident.resolved_at),
        "reviewed_at": _when(incident.reviewed_at),
        "ack_due_at": _when(incident.ack_due_at),
        "ack_breached": sla.is_breached(due=incident.ack_due_at, done=incident.acknowledged_at, now=now),
        "resolve_due_at": _when(incident.resolve_due_at),
        "resolve_breached": sla.is_breached(due=incident.resolve_due_at, done=incident.resolved_at, now=now),
        "escalation_level": incident.escalation_level,
        "resolution": incident.resolution,
        "review": _review(incident),
        "steps": [
            {
                "id": step.pk,
                "title": step.title,
                "description": step.description,
                "role": str(step.role),
                "required": step.required,
                "due_at": _when(step.due_at),
                "completed_at": _when(step.completed_at),
                "completed_by": step.completed_by.username if step.completed_by_id else None,
                "note": step.note,
            }
            for step in steps
        ],
        "available_transitions": available_actions(incident, principal),
        "source_state": incident.source_state or None,
        "source_details": incident.source_details,
        "roles": messages.roles_of(incident),
        "links": list(incident.links),
        "merged_into": incident.merged_into_id,
        "next_update_due_at": _when(incident.update_due_at),
        "last_update_at": _when(incident.last_update_at),
    }


_when = serializers.DateTimeField().to_representation  # ISO 8601 in the current time zone, "Z" for UTC


def _reported_by(incident: Incident) -> str | None:
    if incident.reported_by_key_id:
        return f"key:{incident.reported_by_key.name}"
    if incident.reported_by_user_id:
        return incident.reported_by_user.get_username()
    return None


def _review(incident: Incident) -> dict | None:
    if incident.review_notes is None:
        return None
    return {
        **incident.review_notes,
        "follow_ups": FollowUpOutput(incident.follow_ups.all(), many=True).data,
    }


class FollowUpOutput(ModelOutput):
    owner = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    status = serializers.SerializerMethodField()

    class Meta:
        model = FollowUp
        fields = ["id", "title", "owner", "due_date", "status", "done_at"]
        read_only_fields = fields

    def get_status(self, follow_up) -> str:
        return "done" if follow_up.done_at else "open"


class TimelineEventOutput(ModelOutput):
    actor = serializers.CharField(source="actor_label", read_only=True)

    class Meta:
        model = TimelineEvent
        fields = ["at", "kind", "actor", "from_state", "to_state", "data"]
        read_only_fields = fields


class SlaTargetField(StrictInput):
    ack_seconds = serializers.IntegerField(min_value=sla.MIN_SECONDS, max_value=sla.MAX_SECONDS)
    resolve_seconds = serializers.IntegerField(min_value=sla.MIN_SECONDS, max_value=sla.MAX_SECONDS)


class SlaPolicyInput(StrictInput):
    critical = SlaTargetField()
    high = SlaTargetField()
    medium = SlaTargetField()
    low = SlaTargetField()


class EscalationLevelInput(StrictInput):
    after_seconds = serializers.IntegerField(min_value=0, max_value=sla.MAX_SECONDS)
    roles = serializers.ListField(
        child=serializers.ChoiceField(choices=chain.LEVEL_ROLES), max_length=4, default=list
    )
    users = serializers.ListField(child=serializers.CharField(max_length=150), max_length=50, default=list)
    schedules = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**63 - 1),
        max_length=chain.MAX_SCHEDULES_PER_LEVEL,
        default=list,
        help_text="Ids of the brand's on-call schedules: whoever is on call on them when the level fires.",
    )

    def validate(self, attrs):
        if not attrs["roles"] and not attrs["users"] and not attrs["schedules"]:
            raise serializers.ValidationError(_("A level must name at least one role, user or schedule."))
        attrs["schedules"] = list(dict.fromkeys(attrs["schedules"]))
        return attrs


class EscalationChainInput(StrictInput):
    levels = EscalationLevelInput(many=True, allow_empty=False, max_length=chain.MAX_LEVELS)
    repeat = serializers.IntegerField(min_value=0, max_value=chain.MAX_REPEAT, default=0)

    def validate(self, attrs):
        _named_in_brand(self.context["brand"], attrs["levels"], "levels")
        return attrs


# --- Public statements (API.md, "Public statements") ------------------------------------------


def _named_in_brand(brand: Brand, items: list[dict], field: str) -> None:
    """400 on `field` unless every user named is a member of the brand and every schedule is its own."""
    named = {user for item in items for user in item["users"]}
    known = set(brand.memberships.filter(user__username__in=named).values_list("user__username", flat=True))
    if named - known:
        raise serializers.ValidationError(
            {field: [_("Not members of this brand: %s") % ", ".join(sorted(named - known))[:500]]}
        )
    schedules = {pk for item in items for pk in item["schedules"]}
    found = set(Schedule.objects.for_brands([brand.pk]).filter(pk__in=schedules).values_list("pk", flat=True))
    if schedules - found:
        unknown = ", ".join(str(pk) for pk in sorted(schedules - found))[:500]
        raise serializers.ValidationError({field: [_("Not on-call schedules of this brand: %s") % unknown]})


class StatementHopInput(StrictInput):
    name = FreeText(max_length=100)
    roles = serializers.ListField(
        child=serializers.ChoiceField(choices=chain.LEVEL_ROLES), max_length=4, default=list
    )
    users = serializers.ListField(child=serializers.CharField(max_length=150), max_length=50, default=list)
    schedules = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**63 - 1),
        max_length=chain.MAX_SCHEDULES_PER_LEVEL,
        default=list,
        help_text="Ids of the brand's on-call schedules: whoever is on call on them may decide the hop.",
    )
    within_seconds = serializers.IntegerField(min_value=1, max_value=sla.MAX_SECONDS)

    def validate(self, attrs):
        if not attrs["roles"] and not attrs["users"] and not attrs["schedules"]:
            raise serializers.ValidationError(_("A hop must name at least one role, user or schedule."))
        attrs["schedules"] = list(dict.fromkeys(attrs["schedules"]))
        return attrs


class StatementRouteInput(StrictInput):
    hops = StatementHopInput(many=True, allow_empty=True, max_length=MAX_STATEMENT_HOPS)

    def validate(self, attrs):
        _named_in_brand(self.context["brand"], attrs["hops"], "hops")
        return attrs


class StatementInput(StrictInput):
    channels = serializers.ListField(
        child=serializers.ChoiceField(choices=Channel.choices), min_length=1, max_length=len(Channel.values)
    )
    language = serializers.ChoiceField(choices=settings.LANGUAGES, required=False)
    body = FreeText(max_length=TEXT_MAX, required=False, allow_blank=True)
    template = serializers.IntegerField(min_value=1, max_value=2**62, required=False)
    values = serializers.DictField(
        child=FreeText(max_length=2000), required=False, help_text="Placeholder values for the template."
    )

    def validate(self, attrs):
        if not attrs.get("body") and not attrs.get("template"):
            raise serializers.ValidationError({"body": [_("Write the statement, or start from a template.")]})
        return attrs


class StatementEditInput(StrictInput):
    channels = serializers.ListField(
        child=serializers.ChoiceField(choices=Channel.choices), min_length=1, max_length=len(Channel.values)
    )
    language = serializers.ChoiceField(choices=settings.LANGUAGES, required=False)
    body = FreeText(max_length=TEXT_MAX)


def _decided_version():
    return serializers.IntegerField(
        min_value=1,
        max_value=2**31 - 1,
        required=False,
        help_text="The version the decision is about (the one the person read): "
        "if the statement has been edited since, 409 and nothing is decided.",
    )


class StatementApproveInput(StrictInput):
    comment = FreeText(max_length=TEXT_MAX, required=False, allow_blank=True, default="")
    version = _decided_version()


class StatementRejectInput(StrictInput):
    comment = FreeText(max_length=TEXT_MAX)
    version = _decided_version()


class StatementPublishInput(StrictInput):
    links = serializers.DictField(
        child=serializers.URLField(max_length=2000, validators=[URLValidator(schemes=["http", "https"])]),
        help_text="Where it was posted: one URL for each channel of the statement.",
    )

    def validate_links(self, value):
        # The keys are not echoed: they are whatever the caller sent.
        if any(name not in Channel.values for name in value):
            raise serializers.ValidationError(
                _("Links are given per channel: %s.") % ", ".join(Channel.values)
            )
        return value


class StatementDiffQuery(StrictInput):
    # `from` is a Python keyword: the field is named in `fields` below.
    to = serializers.IntegerField(min_value=1, max_value=2**31 - 1)

    def get_fields(self):
        return {"from": serializers.IntegerField(min_value=1, max_value=2**31 - 1), **super().get_fields()}


class StatementDiffOutput(serializers.Serializer):
    to = serializers.IntegerField()
    diff = serializers.CharField()

    def get_fields(self):
        return {"from": serializers.IntegerField(), **super().get_fields()}


class StatementHopOutput(serializers.Serializer):
    number = serializers.IntegerField()
    name = serializers.CharField()
    roles = serializers.ListField(child=serializers.CharField())
    users = serializers.ListField(child=serializers.CharField())
    schedules = serializers.ListField(child=serializers.IntegerField())
    within_seconds = serializers.IntegerField()
    state = serializers.ChoiceField(choices=["pending", "current", "approved", "rejected"])
    decision = serializers.ChoiceField(choices=["approved", "rejected"], allow_null=True)
    by = serializers.CharField(allow_null=True)
    at = serializers.DateTimeField(allow_null=True)
    comment = serializers.CharField(allow_blank=True)
    started_at = serializers.DateTimeField(allow_null=True)
    due_at = serializers.DateTimeField(allow_null=True)
    escalated_at = serializers.DateTimeField(allow_null=True)
    people = serializers.ListField(
        child=serializers.CharField(), allow_null=True, help_text="Who may decide the current hop now."
    )


class StatementVersionOutput(serializers.Serializer):
    number = serializers.IntegerField()
    author = serializers.CharField()
    created_at = serializers.DateTimeField()
    body = serializers.CharField()
    channels = serializers.ListField(child=serializers.CharField())
    language = serializers.CharField()


class StatementOutput(serializers.Serializer):
    """A statement as `statements.statement_answer` builds it."""

    id = serializers.IntegerField()
    incident = serializers.IntegerField()
    state = serializers.ChoiceField(choices=StatementState.choices)
    version = serializers.IntegerField()
    body = serializers.CharField()
    channels = serializers.ListField(child=serializers.CharField())
    language = serializers.CharField()
    author = serializers.CharField()
    template = serializers.IntegerField(allow_null=True)
    created_at = serializers.DateTimeField()
    submitted_at = serializers.DateTimeField(allow_null=True)
    approved_at = serializers.DateTimeField(allow_null=True)
    published_at = serializers.DateTimeField(allow_null=True)
    current_hop = serializers.IntegerField(allow_null=True)
    hops = StatementHopOutput(many=True)
    links = serializers.DictField(child=serializers.CharField())
    versions = StatementVersionOutput(many=True, required=False)


class ContactChannelInput(StrictInput):
    kind = serializers.ChoiceField(choices=ChannelKind.choices)
    target = serializers.CharField(max_length=2000)

    def validate(self, attrs):
        # The shape only: where the desk may send is the service's rule
        # (`outbox.contact_channel_add`, and the transport again at each delivery).
        kind, target = attrs["kind"], attrs["target"]
        try:
            if kind == ChannelKind.EMAIL:
                serializers.EmailField().run_validation(target)
            elif kind == ChannelKind.WEBHOOK:
                serializers.URLField().run_validation(target)
        except serializers.ValidationError as exc:
            raise serializers.ValidationError({"target": exc.detail}) from None
        return attrs


class ContactChannelOutput(serializers.ModelSerializer):
    class Meta:
        model = ContactChannel
        fields = ["id", "kind", "target", "secret", "is_active", "created_at"]
        read_only_fields = fields


class StepCompleteInput(StrictInput):
    note = FreeText(max_length=TEXT_MAX, required=False, allow_blank=True, default="")


class AttachPlaybookInput(StrictInput):
    playbook = serializers.IntegerField(min_value=1, max_value=2**62)


class RenderInput(StrictInput):
    incident = serializers.IntegerField(min_value=1, max_value=2**62)
    values = serializers.DictField(
        child=serializers.CharField(max_length=5000, allow_blank=True), required=False, default=dict
    )

    def validate_values(self, value):
        if len(value) > 50:
            raise serializers.ValidationError(_("At most 50 values."))
        return value


class RenderOutput(serializers.Serializer):
    text = serializers.CharField()
    placeholders = serializers.ListField(child=serializers.CharField())
    filled_from_incident = serializers.ListField(child=serializers.CharField())
    filled_from_values = serializers.ListField(child=serializers.CharField())


class ReportQuery(serializers.Serializer):
    """Query parameters of the reports; the period defaults to the last 30 days."""

    brand = serializers.SlugField(max_length=50, required=False)
    since = serializers.DateTimeField(required=False)
    until = serializers.DateTimeField(required=False)
    group_by = serializers.ChoiceField(choices=reports.GROUP_BY, default="brand")
    # The zone whose calendar days `group_by=day` counts.
    tz = TimeZoneField(default="UTC")
    format = serializers.ChoiceField(choices=["json", "csv"], required=False)

    def validate(self, attrs):
        for name in ("since", "until"):
            if attrs.get(name) and not EARLIEST_REPORTED_AT <= attrs[name] <= datetime(
                2100, 1, 1, tzinfo=UTC
            ):
                raise serializers.ValidationError({name: [_("Must be between 2000 and 2100.")]})
        until = attrs.get("until") or timezone.now()
        since = attrs.get("since") or until - timedelta(days=30)
        if since >= until:
            raise serializers.ValidationError({"since": [_("Must be before until.")]})
        attrs["since"], attrs["until"] = since, until
        return attrs


class ReportRow(serializers.Serializer):
    incidents = serializers.IntegerField()
    acknowledged = serializers.IntegerField()
    mtta_seconds = serializers.FloatField(allow_null=True)
    ack_p50_seconds = serializers.FloatField(allow_null=True)
    ack_p90_seconds = serializers.FloatField(allow_null=True)
    mttr_seconds = serializers.FloatField(allow_null=True)
    ack_sla_met = serializers.IntegerField()
    ack_sla_breached = serializers.IntegerField()
    ack_sla_met_ratio = serializers.FloatField(allow_null=True)
    escalations = serializers.IntegerField()
    # Time to the first published statement (from `detected_at`), over the incidents that have one.
    with_statement = serializers.IntegerField()
    statement_mean_seconds = serializers.FloatField(allow_null=True)
    statement_p50_seconds = serializers.FloatField(allow_null=True)
    statement_p90_seconds = serializers.FloatField(allow_null=True)


class ReportGroup(ReportRow):
    key = serializers.CharField(allow_null=True)


class ReportOutput(serializers.Serializer):
    since = serializers.DateTimeField()
    until = serializers.DateTimeField()
    total = ReportRow()
    groups = ReportGroup(many=True)


class MentionIntakeOutput(serializers.Serializer):
    accepted = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    incidents = serializers.ListField(child=serializers.IntegerField())


class WaveShare(serializers.Serializer):
    mentions = serializers.IntegerField()
    negative = serializers.IntegerField()
    negative_share = serializers.FloatField(allow_null=True)


class WavePoint(serializers.Serializer):
    at = serializers.DateTimeField()
    mentions = serializers.IntegerField()
    negative = serializers.IntegerField()


class WaveOutput(serializers.Serializer):
    mentions = serializers.IntegerField()
    total_reach = serializers.IntegerField()
    negative_share = serializers.FloatField(allow_null=True)
    before_claim = WaveShare(allow_null=True)
    after_claim = WaveShare(allow_null=True)
    after_resolve = WaveShare(allow_null=True)
    bucket_seconds = serializers.IntegerField(help_text="The width of each point of `series`: 300 s or more.")
    series = WavePoint(many=True)


class WaveMentionsQuery(serializers.Serializer):
    """`?cursor=&page_size=` of a wave's mentions (keyset paging; no `page`: see API.md)."""

    cursor = serializers.CharField(max_length=50, required=False)
    page_size = serializers.IntegerField(min_value=1, max_value=200, required=False)


class WaveMentionOutput(serializers.Serializer):
    id = serializers.IntegerField()
    platform = serializers.CharField()
    url = serializers.CharField()
    author = serializers.CharField()
    author_followers = serializers.IntegerField()
    loud = serializers.BooleanField(
        help_text="The author has at least the brand's follower_threshold followers."
    )
    text = serializers.CharField()
    sentiment = serializers.CharField()
    reach = serializers.IntegerField()
    published_at = serializers.DateTimeField()


class WaveMentionsOutput(serializers.Serializer):
    next = serializers.CharField(allow_null=True)
    previous = serializers.CharField(allow_null=True)
    results = WaveMentionOutput(many=True)
