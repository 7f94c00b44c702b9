"""
Incidents, their append-only timeline, per-brand SLA policy and idempotency records.

The state field is protected: it changes only through the `@transition`
methods below, and those are called only from `incidents.services`. The
transitions set fields and nothing else: no I/O, no saving.
"""

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from crisis.models import SEVERITY_RANK, Brand, BrandKey, Category, Channel, Role, Severity
from crisis.tenancy import Principal, TenantManager

from . import sla

__all__ = ["SEVERITY_RANK", "Category", "Channel", "Severity"]  # kinds of crisis live in crisis/


class State(models.TextChoices):
    DETECTED = "detected", _("Detected")
    ACKNOWLEDGED = "acknowledged", _("Acknowledged")
    INVESTIGATED = "investigated", _("Investigated")
    RESOLVED = "resolved", _("Resolved")
    REVIEWED = "reviewed", _("Reviewed")


OPEN_STATES = (State.DETECTED, State.ACKNOWLEDGED, State.INVESTIGATED)


class SourceState(models.TextChoices):
    """What the sending tool last said about an incident; blank while it is firing (null in the API)."""

    ACKNOWLEDGED = "acknowledged", _("Acknowledged at the source")
    RESOLVED = "resolved", _("Resolved at the source")


# Limits of what people write on an incident (resolutions, reviews, comments, notes),
# checked by the services whichever entry point the text came through.
FREE_TEXT_MAX = 20_000
FOLLOW_UPS_MAX = 100


class SecondsBetween(models.Func):
    """
    `later - earlier` in float seconds; null if either is. What the report columns stored
    before they became whole seconds (migration 0023); kept for the migrations before it.
    """

    output_field = models.FloatField()
    arity = 2

    def as_postgresql(self, compiler, connection, **extra):
        return self.as_sql(
            compiler, connection, template="date_part('epoch', %(expressions)s)", arg_joiner=" - ", **extra
        )

    def as_sqlite(self, compiler, connection, **extra):
        return self.as_sql(
            compiler,
            connection,
            template="(julianday(%(expressions)s)) * 86400.0",
            arg_joiner=") - julianday(",
            **extra,
        )


class WholeSecondsBetween(models.Func):
    """
    Whole seconds from `earlier` to `later`, floored (a second is the finest resolution a
    report shows); null if either is. Immutable, so the database can store it.

    PostgreSQL floors the epoch difference (exact: a difference in microseconds is never
    within rounding of the next second). SQLite's `julianday` keeps milliseconds only, so
    there the difference is made exactly from the stored text ('YYYY-MM-DD HH:MM:SS[.ffffff]'):
    the whole seconds of each, less one when the later fraction is the smaller.
    """

    output_field = models.IntegerField()
    arity = 2

    def as_postgresql(self, compiler, connection, **extra):
        return self.as_sql(
            compiler,
            connection,
            template="floor(date_part('epoch', %(expressions)s))::integer",
            arg_joiner=" - ",
            **extra,
        )

    def as_sqlite(self, compiler, connection, **extra):
        later, later_params = compiler.compile(self.source_expressions[0])
        earlier, earlier_params = compiler.compile(self.source_expressions[1])

        def micros(text):
            return f"CAST(substr(substr({text}, 21) || '000000', 1, 6) AS INTEGER)"

        sql = (
            f"(CAST(round((julianday(substr({later}, 1, 19)) - julianday(substr({earlier}, 1, 19)))"
            f" * 86400) AS INTEGER) - ({micros(later)} < {micros(earlier)}))"
        )
        return sql, (*later_params, *earlier_params, *later_params, *earlier_params)


# --- Transition permissions -----------------------------------------------------
# django-fsm-2 calls these as permission(instance, user); our "user" is always a
# `Principal`. The service checks them (has_transition_perm); the transition
# methods themselves never do.


def _responder_or_manager(incident: "Incident", principal: Principal) -> bool:
    return principal.has_role(incident.brand_id, Role.RESPONDER)


def _assignee_or_manager(incident: "Incident", principal: Principal) -> bool:
    if principal.has_role(incident.brand_id, Role.MANAGER):
        return True
    return (
        principal.has_role(incident.brand_id, Role.RESPONDER)
        and principal.user_id is not None
        and incident.assignee_id == principal.user_id
    )


def _manager(incident: "Incident", principal: Principal) -> bool:
    return principal.has_role(incident.brand_id, Role.MANAGER)


def _not_merged(incident: "Incident") -> bool:
    # A merged incident lives on in its target: it is never reviewed or reopened.
    return incident.merged_into_id is None


# What every report reads of each incident besides its brand, detection time and group.
REPORT_COLUMNS = ["ack_seconds", "resolve_seconds", "acknowledged_at", "ack_due_at", "escalation_count"]


class Incident(ConcurrentTransitionMixin, models.Model):
    """One crisis of one brand, from detection to review."""

    brand = models.ForeignKey(Brand, on_delete=models.PROTECT, related_name="incidents")
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    category = models.CharField(
        _("category"), max_length=32, choices=Category.choices, default=Category.OTHER
    )
    severity = models.CharField(
        _("severity"), max_length=16, choices=Severity.choices, default=Severity.MEDIUM
    )
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices, blank=True)
    source_url = models.URLField(_("source URL"), max_length=2000, blank=True)
    reach = models.PositiveBigIntegerField(_("reach"), default=0)
    dedup_key = models.CharField(_("deduplication key"), max_length=255, blank=True)
    duplicate_count = models.PositiveIntegerField(default=0)

    state = FSMField(_("state"), max_length=16, choices=State.choices, default=State.DETECTED, protected=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="assigned_incidents",
    )
    reported_by_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="reported_incidents",
    )
    reported_by_key = models.ForeignKey(
        BrandKey, null=True, blank=True, on_delete=models.SET_NULL, related_name="incidents"
    )

    # The clock starts when the complaint became public, not when we heard of it.
    detected_at = models.DateTimeField(_("detected at"))
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    investigated_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    reviewed_at = models.DateTimeField(null=True, blank=True)
    ack_due_at = models.DateTimeField()
    resolve_due_at = models.DateTimeField()
    # Response times in whole seconds, kept by the database itself for the reports:
    # aggregating a stored integer is much cheaper over a million rows than computing it
    # from the two timestamps in every report (docs/benchmarks.md, report).
    ack_seconds = models.GeneratedField(
        expression=WholeSecondsBetween("acknowledged_at", "detected_at"),
        output_field=models.IntegerField(),
        db_persist=True,
    )
    resolve_seconds = models.GeneratedField(
        expression=WholeSecondsBetween("resolved_at", "detected_at"),
        output_field=models.IntegerField(),
        db_persist=True,
    )

    # The clock (DESIGN.md, "the database is the clock"). Each column is the
    # next moment a timer is due, or null when nothing is pending; the sweeper
    # finds due rows through partial indexes on exactly the non-null rows.
    escalation_level = models.PositiveSmallIntegerField(default=0)
    # Escalation records of this incident (ack levels and resolve alerts), counted by the
    # clock in the same UPDATE that fires them, so reports need not join escalations.
    escalation_count = models.PositiveIntegerField(default=0, db_default=0)
    escalation_chain = models.JSONField(default=dict, blank=True)  # snapshot taken at filing
    next_escalation_at = models.DateTimeField(null=True, blank=True)
    sla_warning_at = models.DateTimeField(null=True, blank=True)
    resolve_escalation_at = models.DateTimeField(null=True, blank=True)
    review_reminder_at = models.DateTimeField(null=True, blank=True)
    resolution = models.TextField(blank=True)
    # Summary, root cause, lessons and follow-ups written at review; `review` in the API.
    review_notes = models.JSONField(null=True, blank=True)
    # What the tool that filed the incident (PagerDuty, Alertmanager, Grafana) last said
    # about it, and the fields of its payload we have no column for (API.md, Incidents).
    # Written by `services.incident_source_acknowledged/_resolved/_retriggered` only.
    source_state = models.CharField(
        _("state at the source"), max_length=16, choices=SourceState.choices, blank=True, default=""
    )
    source_details = models.JSONField(_("details from the source"), default=dict, blank=True)

    # Incident command (API.md; `incidents.command` writes these). The people beside the
    # assignee, each optional; one person may hold several roles.
    commander = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    comms_lead = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    scribe = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # Related incidents, both ways: `[{"incident": id, "kind": "related"}]` in id order, kept
    # on the row so that showing an incident (filing's answer included) costs no query.
    # The database's default too: bulk loads (bench/) write rows without naming it.
    links = models.JSONField(default=list, db_default=models.Value([], models.JSONField()), blank=True)
    # Set when the incident was merged into another (and so resolved, terminally): reports
    # leave merged incidents out, their filings count on the target.
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="merged_from"
    )
    # Status updates: the last one, and when the next is due on the brand's cadence (a timer
    # of the clock like the others: null when none is pending).
    last_update_at = models.DateTimeField(null=True, blank=True)
    update_due_at = models.DateTimeField(null=True, blank=True)
    # When the brand first said something in public about it (a statement published,
    # `incidents.statements`); kept on the row, with the time it took, for the reports.
    first_statement_at = models.DateTimeField(null=True, blank=True)
    statement_seconds = models.GeneratedField(
        expression=WholeSecondsBetween("first_statement_at", "detected_at"),
        output_field=models.IntegerField(),
        db_persist=True,
    )

    objects = TenantManager()
    all_brands = models.Manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # The database, not a read-then-write in Python, keeps one open
            # incident per dedup key: two monitoring tools racing with the same
            # key cannot both create one.
            models.UniqueConstraint(
                fields=["brand", "dedup_key"],
                condition=Q(state__in=OPEN_STATES) & ~Q(dedup_key=""),
                name="incident_one_open_per_dedup_key",
            ),
        ]
        indexes = [
            models.Index(
                fields=["next_escalation_at"],
                name="incident_escalation_due",
                condition=Q(next_escalation_at__isnull=False),
            ),
            models.Index(
                fields=["sla_warning_at"],
                name="incident_warning_due",
                condition=Q(sla_warning_at__isnull=False),
            ),
            models.Index(
                fields=["resolve_escalation_at"],
                name="incident_resolve_alert_due",
                condition=Q(resolve_escalation_at__isnull=False),
            ),
            models.Index(
                fields=["review_reminder_at"],
                name="incident_review_reminder_due",
                condition=Q(review_reminder_at__isnull=False),
            ),
            models.Index(
                fields=["update_due_at"],
                name="incident_update_due",
                condition=Q(update_due_at__isnull=False),
            ),
            models.Index(fields=["brand", "-created_at"], name="incident_brand_created"),
            # Reports read a brand's incidents by detection time, merged ones left out; on
            # PostgreSQL each of these also carries every column its reports read, so a
            # report over a million rows is an index-only scan instead of a walk over the
            # wide rows. The narrow one serves reports by brand, severity and day; the
            # planner takes it over the other because it is smaller (docs/benchmarks.md,
            # report).
            models.Index(
                fields=["brand", "detected_at"],
                name="incident_report",
                include=[*REPORT_COLUMNS, "severity", "category", "channel", "assignee"],
                condition=Q(merged_into__isnull=True),
            ),
            models.Index(
                fields=["brand", "detected_at"],
                name="incident_report_narrow",
                include=[*REPORT_COLUMNS, "severity"],
                condition=Q(merged_into__isnull=True),
            ),
            models.Index(fields=["brand", "state", "ack_due_at"], name="incident_brand_state_due"),
            # A report's second pass reads only the incidents whose whole seconds fall in the
            # few buckets its percentiles need: ranges of these, one per timed figure, each
            # with what a report filters and groups on. The first pass reads the statement
            # figure from its index too (only the incidents that have one).
            *(
                models.Index(
                    fields=[seconds],
                    name=f"incident_{seconds}",
                    include=["brand", "detected_at", "severity", "category", "channel", "assignee"],
                    condition=Q(**{f"{seconds}__isnull": False}, merged_into__isnull=True),
                )
                for seconds in ("ack_seconds", "statement_seconds")
            ),
        ]
        verbose_name = _("incident")
        verbose_name_plural = _("incidents")

    def __str__(self) -> str:
        return f"#{self.pk} {self.title}"

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    @property
    def ack_breached(self) -> bool:
        return sla.is_breached(due=self.ack_due_at, done=self.acknowledged_at, now=timezone.now())

    @property
    def resolve_breached(self) -> bool:
        return sla.is_breached(due=self.resolve_due_at, done=self.resolved_at, now=timezone.now())

    # --- Transitions: set fields only; services save and record them. ---------

    @transition(state, source=State.DETECTED, target=State.ACKNOWLEDGED, permission=_responder_or_manager)
    def claim(self, *, by, at, update_due_at=None):
        self.assignee = by
        self.acknowledged_at = at
        # Acknowledged: the ack escalation and warning stop; the resolve clock runs on,
        # and so does the status-update cadence (`update_due_at`, from the brand's policy).
        self.next_escalation_at = None
        self.sla_warning_at = None
        self.resolve_escalation_at = self.resolve_due_at
        self.update_due_at = update_due_at

    @transition(state, source=State.ACKNOWLEDGED, target=State.INVESTIGATED, permission=_assignee_or_manager)
    def investigate(self, *, at):
        self.investigated_at = at

    @transition(state, source=State.INVESTIGATED, target=State.RESOLVED, permission=_assignee_or_manager)
    def resolve(self, *, resolution, at):
        self.resolution = resolution
        self.resolved_at = at
        self.resolve_escalation_at = None
        self.update_due_at = None
        # Managers are reminded if the review has not happened by then.
        self.review_reminder_at = at + timedelta(seconds=settings.REVIEW_REMINDER_SECONDS)

    @transition(
        state, source=State.RESOLVED, target=State.REVIEWED, permission=_manager, conditions=[_not_merged]
    )
    def review(self, *, notes, at):
        self.review_notes = notes
        self.reviewed_at = at
        self.review_reminder_at = None

    @transition(
        state,
        source=State.RESOLVED,
        target=State.INVESTIGATED,
        permission=_responder_or_manager,
        conditions=[_not_merged],
    )
    def reopen(self, *, resolve_alert_sent, update_due_at=None):
        # The ack clock is not restarted: acknowledged_at and ack_due_at stay.
        # The resolve deadline still stands; managers hear of it once at most.
        self.resolved_at = None
        self.resolve_escalation_at = None if resolve_alert_sent else self.resolve_due_at
        self.review_reminder_at = None
        self.update_due_at = update_due_at

    @transition(state, source=OPEN_STATES, target=State.RESOLVED, permission=_assignee_or_manager)
    def merge(self, *, into, at):
        # Terminal: resolved into the target, with no step gate, no review and no reminder.
        # Every timer stops; the dedup key moves to the target (`incidents.command`).
        self.merged_into = into
        self.resolution = f"merged into #{into.pk}"
        self.resolved_at = at
        self.dedup_key = ""
        self.next_escalation_at = None
        self.sla_warning_at = None
        self.resolve_escalation_at = None
        self.review_reminder_at = None
        self.update_due_at = None


class EventKind(models.TextChoices):
    CREATED = "created", _("Created")
    DUPLICATE = "duplicate", _("Duplicate reported")
    CLAIMED = "claimed", _("Claimed")
    INVESTIGATING = "investigating", _("Investigating")
    RESOLVED = "resolved", _("Resolved")
    REVIEWED = "reviewed", _("Reviewed")
    REOPENED = "reopened", _("Reopened")
    REASSIGNED = "reassigned", _("Reassigned")
    SLA_WARNING = "sla_warning", _("SLA warning")
    ESCALATED = "escalated", _("Escalated")
    NOTIFIED = "notified", _("Notified")
    STEP_COMPLETED = "step_completed", _("Step completed")
    STEP_OVERDUE = "step_overdue", _("Step overdue")
    REVIEW_REMINDER = "review_reminder", _("Review reminder")
    FOLLOW_UP_DONE = "follow_up_done", _("Follow-up done")
    PLAYBOOK_ATTACHED = "playbook_attached", _("Playbook attached")
    COMMENT = "comment", _("Comment")
    SOURCE_ACKNOWLEDGED = "source_acknowledged", _("Acknowledged at the source")
    SOURCE_RESOLVED = "source_resolved", _("Resolved at the source")
    SEVERITY_CHANGED = "severity_changed", _("Severity changed")
    ROLE_ASSIGNED = "role_assigned", _("Role assigned")
    LINKED = "linked", _("Linked")
    UNLINKED = "unlinked", _("Unlinked")
    MERGED = "merged", _("Merged")
    STATUS_UPDATE = "status_update", _("Status update")
    UPDATE_DUE = "update_due", _("Status update due")
    STATEMENT_DRAFTED = "statement_drafted", _("Statement drafted")
    STATEMENT_EDITED = "statement_edited", _("Statement edited")
    STATEMENT_SUBMITTED = "statement_submitted", _("Statement submitted for approval")
    STATEMENT_APPROVED = "statement_approved", _("Statement approved")
    STATEMENT_REJECTED = "statement_rejected", _("Statement rejected")
    STATEMENT_PUBLISHED = "statement_published", _("Statement published")


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise TypeError("Timeline events are append-only; they cannot be updated.")

    def delete(self):
        raise TypeError("Timeline events are append-only; they cannot be deleted.")


class TimelineManager(TenantManager.from_queryset(AppendOnlyQuerySet)):
    pass


class TimelineEvent(models.Model):
    """One thing that happened to an incident. Written once, never changed or deleted."""

    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="events")
    at = models.DateTimeField(default=timezone.now, db_index=True)
    kind = models.CharField(max_length=32, choices=EventKind.choices)
    # PROTECT: the timeline is append-only (a trigger refuses updates on PostgreSQL), so
    # a user who ever acted is deactivated, not deleted.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # Who it was as the desk saw them then: a username, "key:<name>" or "system".
    actor_label = models.CharField(max_length=160, blank=True)
    from_state = models.CharField(max_length=16, blank=True)
    to_state = models.CharField(max_length=16, blank=True)
    data = models.JSONField(default=dict, blank=True)

    objects = TimelineManager(brand_field="incident__brand")
    all_brands = models.Manager.from_queryset(AppendOnlyQuerySet)()

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["incident", "at", "id"], name="event_incident_at")]
        verbose_name = _("timeline event")
        verbose_name_plural = _("timeline events")

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.kind}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise TypeError("Timeline events are append-only; they cannot be updated.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError("Timeline events are append-only; they cannot be deleted.")


class SlaPolicy(models.Model):
    """A brand's targets for one severity; a missing row means the default in `sla.py`."""

    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="sla_policies")
    severity = models.CharField(max_length=16, choices=Severity.choices)
    ack_seconds = models.PositiveIntegerField()
    resolve_seconds = models.PositiveIntegerField()

    objects = TenantManager()
    all_brands = models.Manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["brand", "severity"], name="sla_policy_unique"),
            models.CheckConstraint(
                condition=Q(ack_seconds__gte=sla.MIN_SECONDS, ack_seconds__lte=sla.MAX_SECONDS)
                & Q(resolve_seconds__gte=sla.MIN_SECONDS, resolve_seconds__lte=sla.MAX_SECONDS),
                name="sla_policy_seconds_in_range",
            ),
        ]
        verbose_name = _("SLA policy")
        verbose_name_plural = _("SLA policies")

    def __str__(self) -> str:
        return f"{self.brand.slug}/{self.severity}"


class IdempotencyRecord(models.Model):
    """
    The first response to a request sent with an `Idempotency-Key`.

    `status_code` is null while the first request is still running.
    """

    scope = models.CharField(max_length=64)  # whose key: "user:<id>" or "key:<id>"
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)  # SHA-256 of the canonical request body
    status_code = models.PositiveSmallIntegerField(null=True)
    response = models.JSONField(null=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["scope", "key"], name="idempotency_unique_key"),
        ]

    def __str__(self) -> str:
        return f"{self.scope} {self.key}"


class FollowUp(models.Model):
    """An action agreed at review, with an owner and a due date, tracked until done."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="follow_ups")
    position = models.PositiveSmallIntegerField(default=0)
    title = models.CharField(_("title"), max_length=500)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="follow_ups"
    )
    due_date = models.DateField(null=True, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = TenantManager("incident__brand")
    all_brands = models.Manager()

    class Meta:
        ordering = ["incident", "position", "id"]
        verbose_name = _("follow-up")
        verbose_name_plural = _("follow-ups")

    def __str__(self) -> str:
        return self.title


class EscalationPolicy(models.Model):
    """A brand's escalation chain (see `incidents.chain`); no row means `chain.DEFAULT_CHAIN`."""

    brand = models.OneToOneField(Brand, on_delete=models.CASCADE, related_name="escalation_policy")
    chain = models.JSONField()
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantManager()
    all_brands = models.Manager()

    class Meta:
        verbose_name = _("escalation policy")
        verbose_name_plural = _("escalation policies")

    def __str__(self) -> str:
        return f"{self.brand.slug} escalation"


class EscalationKind(models.TextChoices):
    ACK = "ack", _("Not acknowledged in time")
    RESOLVE = "resolve", _("Not resolved in time")


class Escalation(models.Model):
    """
    One level of escalation that fired. Unique per (incident, kind, level): the
    database refuses a second record even if two workers raced past every other check.
    """

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="escalations")
    kind = models.CharField(max_length=16, choices=EscalationKind.choices)
    level = models.PositiveSmallIntegerField()
    due_at = models.DateTimeField()
    fired_at = models.DateTimeField()
    notified = models.JSONField(default=list)  # usernames

    objects = TenantManager(brand_field="incident__brand")
    all_brands = models.Manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["incident", "kind", "level"], name="escalation_once_per_level"),
        ]

    def __str__(self) -> str:
        return f"#{self.incident_id} {self.kind} L{self.level}"


class ChannelKind(models.TextChoices):
    EMAIL = "email", _("E-mail")
    WEBHOOK = "webhook", _("Signed webhook")
    APPRISE = "apprise", _("Chat (Apprise URL: Telegram, Slack, …)")
    # Delivered by the adapter integrations/ plugs in (settings.NOTIFICATION_CHANNELS).
    TELEGRAM = "telegram", _("Telegram")


class ContactChannel(models.Model):
    """Where a user wants to hear about incidents. Without any, their account e-mail is used."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="contact_channels"
    )
    kind = models.CharField(max_length=16, choices=ChannelKind.choices)
    target = models.CharField(max_length=2000)  # address, URL or Apprise URL
    # Webhooks are signed with HMAC-SHA256 under this secret (shown to the owner).
    secret = models.CharField(max_length=64, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.user} {self.kind}"


class NotificationStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")


class Notification(models.Model):
    """
    The outbox: one message to one recipient over one channel.

    Written in the same transaction as the event that caused it; delivered by
    a task after commit (`incidents/delivery.py`). `next_attempt_at` is when the
    sweeper (re)publishes it if it is still pending; `leased_until` keeps two workers
    from sending it at once; `not_before` keeps every worker from sending it before a
    retry's backoff, a target's Retry-After or a rate limit's window has passed.
    Delivery is at least once; receivers dedupe on `idempotency_key`.

    Every notification belongs to a brand; most are about one of its incidents,
    some are not (an invitation to join; shift hand-offs, stakeholder updates and
    statement hops as they come). `recipient` is empty for an address that has no
    account (an invitation's).
    """

    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="notifications")
    incident = models.ForeignKey(
        Incident, null=True, blank=True, on_delete=models.CASCADE, related_name="notifications"
    )
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    channel = models.CharField(max_length=16, choices=ChannelKind.choices)
    target = models.CharField(max_length=2000)
    secret = models.CharField(max_length=64, blank=True)
    reason = models.CharField(max_length=32)  # the event kind that caused it
    subject = models.CharField(max_length=300)
    body = models.TextField()
    payload = models.JSONField(default=dict)  # what a webhook receives
    idempotency_key = models.UUIDField(unique=True)
    status = models.CharField(
        max_length=16, choices=NotificationStatus.choices, default=NotificationStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True)
    leased_until = models.DateTimeField(null=True)
    not_before = models.DateTimeField(null=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True)

    objects = TenantManager()
    all_brands = models.Manager()

    class Meta:
        indexes = [
            models.Index(fields=["next_attempt_at"], name="notification_due", condition=Q(status="pending")),
        ]

    def __str__(self) -> str:
        return f"{self.channel} → {self.target} ({self.status})"

    def save(self, *args, **kwargs):
        # A notification about an incident belongs to the incident's brand.
        if self.brand_id is None and self.incident is not None:
            self.brand_id = self.incident.brand_id
        super().save(*args, **kwargs)


class ClockHeartbeat(models.Model):
    """When a periodic job last ran; `/readyz` fails when the sweeper's is stale."""

    name = models.CharField(max_length=32, primary_key=True)
    beat_at = models.DateTimeField()
    duration_seconds = models.FloatField(default=0)

    def __str__(self) -> str:
        return f"{self.name} {self.beat_at:%H:%M:%S}"


class WaveMention(models.Model):
    """A mention counted as part of an incident's wave (attached by `incidents.mentions`)."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="wave")
    mention = models.OneToOneField("crisis.Mention", on_delete=models.CASCADE, related_name="wave_link")
    attached_at = models.DateTimeField(default=timezone.now)
    # The mention's reach, copied when it is attached (a stored mention never changes), so
    # that a wave's mentions are read loudest first from one index, a page at a time,
    # however many the wave holds (`selectors.wave_mentions_page`).
    reach = models.PositiveBigIntegerField(default=0)

    objects = TenantManager("incident__brand")
    all_brands = models.Manager()

    class Meta:
        indexes = [
            models.Index(fields=["incident", "attached_at"], name="wave_incident"),
            models.Index(fields=["incident", "reach", "mention"], name="wave_by_reach"),
        ]

    def __str__(self) -> str:
        return f"#{self.incident_id} ← {self.mention_id}"


class WaveTally(models.Model):
    """
    The running figures of the negative mentions attached to an incident (`waves`), kept
    as counters: each batch that attaches some adds what it linked in one UPDATE, so a
    wave's growth is followed without re-reading every mention it holds. A merge recounts
    the target's (`waves.tally_recount`). `title_step`: the count the wave's title last
    named (the desk rewrites it only when the count reaches a higher step).
    """

    incident = models.OneToOneField(Incident, on_delete=models.CASCADE, primary_key=True, related_name="+")
    negatives = models.PositiveIntegerField(default=0)
    reach = models.PositiveBigIntegerField(default=0)
    loudest = models.PositiveBigIntegerField(default=0)  # the most followers of one negative's author
    last_published_at = models.DateTimeField(null=True, blank=True)
    title_step = models.PositiveIntegerField(default=0)

    objects = TenantManager("incident__brand")
    all_brands = models.Manager()

    def __str__(self) -> str:
        return f"#{self.incident_id}: {self.negatives}"


class MovedDedupKey(models.Model):
    """
    A dedup key that came to an incident by a merge (`command.incident_merge`): a later
    filing with it counts on that incident while it is open (`filing`), and what its
    source says later (acknowledged, resolved, firing again) lands there too
    (`selectors.open_incident_with_key`). The row is the key's own record on the
    incident: who filed it (only they speak for it, as for an incident's own key), what
    its source last said and the last firing's fields. A key moved onto a target that
    had none becomes the target's `dedup_key` and has its row too, which then speaks for it.
    """

    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="+")
    dedup_key = models.CharField(max_length=255)
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="moved_keys")
    # The filer of the incident the key was filed with (a key, or a person).
    reported_by_key = models.ForeignKey(
        BrandKey, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reported_by_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # As `Incident.source_state` and `source_details`, for this key alone; written by
    # `services.incident_source_*` under the incident's row lock.
    source_state = models.CharField(max_length=16, choices=SourceState.choices, blank=True, default="")
    source_details = models.JSONField(default=dict, blank=True)

    objects = TenantManager()
    all_brands = models.Manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["brand", "dedup_key"], name="moved_dedup_key_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.dedup_key} → #{self.incident_id}"


class Audience(models.TextChoices):
    TEAM = "team", _("The team")
    STAKEHOLDERS = "stakeholders", _("Stakeholders")


class StatusUpdate(models.Model):
    """A message about an incident to its team or its brand's stakeholders, sent through the outbox."""

    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="status_updates")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    audience = models.CharField(_("audience"), max_length=16, choices=Audience.choices)
    body = models.TextField(_("update"))
    created_at = models.DateTimeField(default=timezone.now)

    objects = TenantManager("incident__brand")
    all_brands = models.Manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["incident", "-created_at"], name="status_update_incident")]
        verbose_name = _("status update")
        verbose_name_plural = _("status updates")

    def __str__(self) -> str:
        return f"#{self.incident_id} {self.audience} {self.created_at:%Y-%m-%d %H:%M}"


class UpdatesPolicy(models.Model):
    """A brand's status-update cadence per severity and its stakeholders' addresses; no row: the defaults."""

    brand = models.OneToOneField(Brand, on_delete=models.CASCADE, related_name="updates_policy")
    # {"critical": seconds or null, …}: null means no cadence for that severity.
    cadence_seconds = models.JSONField()
    # People outside the desk who hear stakeholder updates by e-mail (no accounts needed).
    stakeholder_emails = models.JSONField(default=list)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantManager()
    all_brands = models.Manager()

    class Meta:
        verbose_name = _("status-update policy")
        verbose_name_plural = _("status-update policies")

    def __str__(self) -> str:
        return f"{self.brand.slug} updates"


# --- Public statements (API.md, "Public statements"; written by `incidents.statements`) ---


class StatementState(models.TextChoices):
    DRAFT = "draft", _("Draft")
    IN_APPROVAL = "in_approval", _("In approval")
    APPROVED = "approved", _("Approved")
    PUBLISHED = "published", _("Published")


class StatementRoute(models.Model):
    """
    A brand's approval route for public statements: ordered hops, each
    `{"name", "roles", "users", "schedules", "within_seconds"}`. No row: no route (submit is a 409).
    """

    brand = models.OneToOneField(Brand, on_delete=models.CASCADE, related_name="statement_route")
    hops = models.JSONField(default=list)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantManager()
    all_brands = models.Manager()

    class Meta:
        verbose_name = _("statement approval route")
        verbose_name_plural = _("statement approval routes")

    def __str__(self) -> str:
        return f"{self.brand.slug} statement route"


class Statement(models.Model):
    """
    What the brand says in public about an incident: a body per version, approved hop by hop
    along the route snapshot taken at submission, then published with its links.

    `state` changes only in `incidents.statements`, each change one conditional UPDATE or a
    save of a row held locked. `round` counts the runs of the route (each submission and each
    edit that restarts it): the decisions of the current run are those of its round.
    """

    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="statements")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    state = models.CharField(
        _("state"), max_length=16, choices=StatementState.choices, default=StatementState.DRAFT
    )
    version = models.PositiveIntegerField(default=1)
    channels = models.JSONField(default=list)
    language = models.CharField(_("language"), max_length=8, choices=settings.LANGUAGES)
    body = models.TextField(_("statement"))
    template = models.ForeignKey(
        "playbooks.ResponseTemplate", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    route = models.JSONField(default=list)  # the brand's hops when the route was last (re)started
    round = models.PositiveIntegerField(default=0)
    hop = models.PositiveSmallIntegerField(default=0)  # 0-based index of the current hop
    hop_started_at = models.DateTimeField(null=True, blank=True)
    # The clock's timer: when the current hop runs out of time (null: nothing pending).
    hop_due_at = models.DateTimeField(null=True, blank=True)
    links = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)
    submitted_at = models.DateTimeField(null=True, blank=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)

    objects = TenantManager("incident__brand")
    all_brands = models.Manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["incident", "-created_at"], name="statement_incident"),
            models.Index(
                fields=["hop_due_at"], name="statement_hop_due", condition=Q(hop_due_at__isnull=False)
            ),
        ]
        verbose_name = _("statement")
        verbose_name_plural = _("statements")

    def __str__(self) -> str:
        return f"#{self.incident_id} statement {self.pk} v{self.version}"


class StatementVersion(models.Model):
    """One version of a statement's text, as its author left it. Never changed."""

    statement = models.ForeignKey(Statement, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    body = models.TextField()
    channels = models.JSONField(default=list)
    language = models.CharField(max_length=8)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    objects = TenantManager("statement__incident__brand")
    all_brands = models.Manager()

    class Meta:
        ordering = ["statement", "number"]
        constraints = [
            models.UniqueConstraint(fields=["statement", "number"], name="statement_version_unique"),
        ]

    def __str__(self) -> str:
        return f"statement {self.statement_id} v{self.number}"


class DecisionKind(models.TextChoices):
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")
    ESCALATED = "escalated", _("Out of time: escalated to the managers")


class StatementDecision(models.Model):
    """
    What happened at one hop of one run of the route: a person approved or rejected it, or
    its time ran out and the clock escalated it. The database keeps the escalation of a hop
    to once per version (`statement_hop_escalated_once`), however many workers race.
    """

    statement = models.ForeignKey(Statement, on_delete=models.CASCADE, related_name="decisions")
    round = models.PositiveIntegerField()
    version = models.PositiveIntegerField()
    hop = models.PositiveSmallIntegerField()
    kind = models.CharField(max_length=16, choices=DecisionKind.choices)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    comment = models.TextField(blank=True)
    at = models.DateTimeField(default=timezone.now)
    notified = models.JSONField(default=list)  # usernames (an escalation's)

    objects = TenantManager("statement__incident__brand")
    all_brands = models.Manager()

    class Meta:
        ordering = ["statement", "at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["statement", "version", "hop"],
                condition=Q(kind="escalated"),
                name="statement_hop_escalated_once",
            ),
            models.UniqueConstraint(
                fields=["statement", "round", "hop"],
                condition=~Q(kind="escalated"),
                name="statement_hop_decided_once",
            ),
        ]

    def __str__(self) -> str:
        return f"statement {self.statement_id} r{self.round} hop {self.hop} {self.kind}"
