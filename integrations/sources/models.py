"""A brand's pulled source: which tool, what to read, its sealed credentials, cursor and timer."""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crisis.models import Brand
from crisis.tenancy import TenantManager


class SourceKind(models.TextChoices):
    """The tools the desk can poll; each has a module in `pollers/`."""

    BRAND_ANALYTICS = "brand_analytics", "Brand Analytics"
    TALKWALKER = "talkwalker", "Talkwalker"
    JSON_FEED = "json_feed", _("JSON feed")


class SourceStatus(models.TextChoices):
    """What the console and the API show at a glance (computed, not stored)."""

    DISABLED = "disabled", _("Disabled")
    PENDING = "pending", _("Not polled yet")
    OK = "ok", _("OK")
    FAILING = "failing", _("Failing")


class Source(models.Model):
    """
    A tool the desk polls for one brand's mentions.

    The poll is a timer like the clock's (DESIGN.md rule 7): `next_poll_at` is a due
    column with a partial index, claimed by the sweeper with a compare-and-set that moves
    it one lease ahead and writes a fresh `poll_token`; only the task holding that token
    may store a page or the outcome, so two sweepers, a redelivered task or a poll that
    outlived its lease never store the same page twice. `last_cursor` moves only in the
    transaction that stores the mentions read after it.
    """

    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="sources")
    kind = models.CharField(_("tool"), max_length=32, choices=SourceKind.choices)
    name = models.CharField(_("name"), max_length=100)
    # What to read: Brand Analytics' theme id, Talkwalker's collector id, the feed's URL.
    query = models.CharField(_("query"), max_length=2000)
    # The tool's API token, sealed (credentials.py); never shown anywhere.
    credentials = models.TextField(blank=True, editable=False)
    interval_seconds = models.PositiveIntegerField(_("poll every (seconds)"), default=300)
    enabled = models.BooleanField(_("enabled"), default=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)

    # The timer and its claim.
    next_poll_at = models.DateTimeField(_("next poll at"), null=True, blank=True, editable=False)
    poll_token = models.CharField(max_length=32, blank=True, editable=False)

    # What the polls did.
    last_polled_at = models.DateTimeField(_("last polled at"), null=True, blank=True, editable=False)
    last_success_at = models.DateTimeField(_("last success at"), null=True, blank=True, editable=False)
    last_cursor = models.CharField(_("cursor"), max_length=1000, blank=True, editable=False)
    last_error = models.TextField(_("last error"), blank=True, editable=False)
    last_error_at = models.DateTimeField(_("last error at"), null=True, blank=True, editable=False)
    failures = models.PositiveIntegerField(_("failures in a row"), default=0, editable=False)
    mentions_received = models.PositiveBigIntegerField(_("mentions received"), default=0, editable=False)
    mentions_skipped = models.PositiveBigIntegerField(_("messages skipped"), default=0, editable=False)

    objects = TenantManager()
    all_brands = models.Manager()

    class Meta:
        ordering = ["name", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["brand", "name"], name="source_unique_brand_name"),
        ]
        indexes = [
            # The sweeper's claim: a range scan over the enabled sources' timers only.
            models.Index(
                fields=["next_poll_at"],
                name="source_next_poll_due",
                condition=models.Q(next_poll_at__isnull=False),
            ),
        ]
        verbose_name = _("pulled source")
        verbose_name_plural = _("pulled sources")

    def __str__(self) -> str:
        return f"{self.brand.slug}/{self.name} ({self.kind})"

    @property
    def status(self) -> str:
        if not self.enabled:
            return SourceStatus.DISABLED
        if self.failures:
            return SourceStatus.FAILING
        if self.last_success_at is None:
            return SourceStatus.PENDING
        return SourceStatus.OK

    @property
    def has_credentials(self) -> bool:
        return bool(self.credentials)
