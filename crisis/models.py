"""Brands (tenants), who belongs to them in which role, invitations to join, and integration keys."""

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext_lazy as _
from rest_framework_api_key.crypto import KeyGenerator

from .tenancy import TenantManager
from .timezones import DEFAULT as DEFAULT_TIME_ZONE
from .timezones import validate_time_zone


class Role(models.TextChoices):
    VIEWER = "viewer", _("Viewer")
    RESPONDER = "responder", _("Responder")
    MANAGER = "manager", _("Manager")


# Roles are ordered: a manager may do whatever a responder may, and so on.
ROLE_RANK = {Role.VIEWER: 1, Role.RESPONDER: 2, Role.MANAGER: 3}


# What kind of crisis, and how bad: shared by incidents, playbooks and detection.
class Severity(models.TextChoices):
    CRITICAL = "critical", _("Critical")
    HIGH = "high", _("High")
    MEDIUM = "medium", _("Medium")
    LOW = "low", _("Low")


# Most severe first; used to sort by severity.
SEVERITY_RANK = {Severity.CRITICAL: 0, Severity.HIGH: 1, Severity.MEDIUM: 2, Severity.LOW: 3}


class Category(models.TextChoices):
    NEGATIVE_WAVE = "negative_wave", _("Wave of negative comments")
    COMPETITOR_ATTACK = "competitor_attack", _("Competitor's black-PR attack")
    FAKE_NEWS = "fake_news", _("Fake story")
    STAFF_MISCONDUCT = "staff_misconduct", _("Staff post gone viral")
    PLATFORM_BLOCK = "platform_block", _("Account blocked by a platform")
    DATA_LEAK = "data_leak", _("Data leak")
    SERVICE_FAILURE = "service_failure", _("Service failure")
    OTHER = "other", _("Other")


class Channel(models.TextChoices):
    VK = "vk", "VK"
    TELEGRAM = "telegram", "Telegram"
    INSTAGRAM = "instagram", "Instagram"
    FACEBOOK = "facebook", "Facebook"
    X = "x", "X"
    YOUTUBE = "youtube", "YouTube"
    TIKTOK = "tiktok", "TikTok"
    OK = "ok", _("Odnoklassniki")
    DZEN = "dzen", _("Dzen")
    REVIEWS = "reviews", _("Review sites")
    MEDIA = "media", _("Media")
    FORUM = "forum", _("Forums")
    OTHER = "other", _("Other")


class Brand(models.Model):
    """A client whose reputation is watched: every incident, key and policy belongs to one."""

    slug = models.SlugField(_("slug"), max_length=50, unique=True)
    name = models.CharField(_("name"), max_length=200)
    # The language of the shared playbooks and templates this brand gets.
    language = models.CharField(_("language"), max_length=8, choices=settings.LANGUAGES, default="en")
    # Where the brand lives: the console shows times in it to members who chose no zone of their own.
    time_zone = models.CharField(
        _("time zone"),
        max_length=64,
        default=DEFAULT_TIME_ZONE,
        db_default=DEFAULT_TIME_ZONE,
        validators=[validate_time_zone],
        help_text=_("An IANA name, such as Europe/Moscow."),
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    # Bumped by every change to what filing reads about the brand (SLA, chain, playbooks):
    # processes cache that setup keyed by this number (incidents/brand_setup.py).
    setup_version = models.PositiveIntegerField(default=0, db_default=0, editable=False)

    class Meta:
        ordering = ["slug"]
        verbose_name = _("brand")
        verbose_name_plural = _("brands")

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        # setup_version only ever moves by an UPDATE … + 1 (incidents/brand_setup.py): a
        # full save of a Brand read earlier (the admin's) must not write an older one back.
        if not self._state.adding and kwargs.get("update_fields") is None:
            kwargs["update_fields"] = [
                f.name for f in self._meta.concrete_fields if not f.primary_key and f.name != "setup_version"
            ]
        super().save(*args, **kwargs)


class Membership(models.Model):
    """A user's role in one brand; no membership means the brand does not exist for them."""

    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(_("role"), max_length=16, choices=Role.choices)
    # A key communicator (SMM lead, PR head, top manager): escalation chains
    # can name "executive" to reach these people whatever their role.
    is_executive = models.BooleanField(_("executive"), default=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    objects = TenantManager()
    all_brands = models.Manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["brand", "user"], name="membership_unique_brand_user"),
        ]
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")

    def __str__(self) -> str:
        return f"{self.user} @ {self.brand.slug} ({self.role})"


class Profile(models.Model):
    """
    A person's own settings: the console's language and time zone, each empty for "not chosen".

    No row is the same as an empty one; `crisis.services.profile_update` makes it on the
    first change. Not chosen: the language is the browser's, the time zone the brand's
    (`crisis.selectors.viewer_settings` decides which zone a page shows).
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="desk_profile"
    )
    language = models.CharField(_("language"), max_length=8, choices=settings.LANGUAGES, blank=True)
    time_zone = models.CharField(_("time zone"), max_length=64, blank=True, validators=[validate_time_zone])

    class Meta:
        verbose_name = _("personal settings")
        verbose_name_plural = _("personal settings")

    def __str__(self) -> str:
        return str(self.user)


class Invitation(models.Model):
    """
    An offer, e-mailed to an address, to join a brand in a role.

    Only a SHA-256 digest of the token is stored; the plain token travels in the
    e-mailed link alone. One use: `crisis.services.invitation_accept` sets
    `accepted_at` while holding the row's lock.
    """

    VALID_FOR = timedelta(days=7)

    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField(_("e-mail"), max_length=254)
    role = models.CharField(_("role"), max_length=16, choices=Role.choices)
    is_executive = models.BooleanField(_("executive"), default=False)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    expires_at = models.DateTimeField(_("expires at"))
    accepted_at = models.DateTimeField(_("accepted at"), null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)

    objects = TenantManager()
    all_brands = models.Manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["brand", "email"], name="invitation_brand_email")]
        verbose_name = _("invitation")
        verbose_name_plural = _("invitations")

    def __str__(self) -> str:
        return f"{self.email} → {self.brand.slug} ({self.role})"

    @staticmethod
    def digest(token: str) -> str:
        # The token is 256 random bits: a fast digest is enough, nothing is there to guess.
        return hashlib.sha256(token.encode()).hexdigest()

    @classmethod
    def issue(cls, *, brand: Brand, email: str, role: str, is_executive: bool, invited_by, now):
        """Create an invitation; returns the row and the plain token, which is not stored."""
        token = secrets.token_urlsafe(32)
        invitation = cls.objects.create(
            brand=brand,
            email=email,
            role=role,
            is_executive=is_executive,
            token_hash=cls.digest(token),
            invited_by=invited_by,
            created_at=now,
            expires_at=now + cls.VALID_FOR,
        )
        return invitation, token

    @classmethod
    def from_token(cls, token: str) -> "Invitation | None":
        """The invitation `token` was made for, in whatever state, or None."""
        # No caller's brand yet: the token is the credential, as an integration key is.
        return cls.all_brands.select_related("brand").filter(token_hash=cls.digest(token)).first()

    def state(self, now) -> str:
        """The invitation's state at `now`: accepted, revoked, expired or pending."""
        if self.accepted_at is not None:
            return "accepted"
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at <= now:
            return "expired"
        return "pending"


class BrandKeyQuerySet(models.QuerySet):
    def usable(self):
        return self.filter(revoked_at__isnull=True)


class BrandKey(models.Model):
    """
    An integration key of one brand, for monitoring tools.

    Only a SHA-512 digest is stored (djangorestframework-api-key's generator);
    the plain key is shown once, when it is made. The prefix finds the row.
    """

    key_generator = KeyGenerator()

    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="keys")
    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(max_length=8, unique=True, editable=False)
    hashed_key = models.CharField(max_length=150, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = TenantManager.from_queryset(BrandKeyQuerySet)()
    all_brands = BrandKeyQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("integration key")
        verbose_name_plural = _("integration keys")

    def __str__(self) -> str:
        return f"{self.brand.slug}/{self.name} ({self.prefix}…)"

    @classmethod
    def issue(cls, *, brand: Brand, name: str) -> tuple["BrandKey", str]:
        """Create a key; returns the row and the plain key, which is not stored."""
        plain, prefix, hashed = cls.key_generator.generate()
        key = cls.objects.create(brand=brand, name=name, prefix=prefix, hashed_key=hashed)
        return key, plain

    @classmethod
    def from_plain(cls, plain: str) -> "BrandKey | None":
        """The usable key matching `plain`, or None."""
        prefix, _dot, _secret = plain.partition(".")
        # Authentication: no caller yet, so no brand; the prefix finds the row, the digest proves it.
        key = cls.all_brands.usable().select_related("brand").filter(prefix=prefix).first()
        if key is None or not cls.key_generator.verify(plain, key.hashed_key):
            return None
        return key

    # The same credential for senders that carry it in the body as a 32-hex-digit
    # `routing_key`, as PagerDuty's Events API does (API.md, "Brands, members, policies").
    # Derived, not stored: the prefix in hex, then a MAC of the key's stored digest under
    # SECRET_KEY (as Django's password-reset tokens are made). A database dump alone
    # cannot make one, revoking the key revokes it, and there is nothing more to hash.
    _ROUTING_SALT = "crisis.BrandKey.routing_key"

    def routing_key(self) -> str:
        """This key's routing key (shown once, with the key itself)."""
        return self.prefix.encode().hex() + self._routing_mac(settings.SECRET_KEY)

    def _routing_mac(self, secret) -> str:
        value = f"{self.prefix}:{self.hashed_key}"
        return salted_hmac(self._ROUTING_SALT, value, secret=secret, algorithm="sha256").hexdigest()[:16]

    @classmethod
    def from_routing_key(cls, routing_key) -> "BrandKey | None":
        """The usable key whose routing key this is, or None (also for anything not 32 hex digits)."""
        if not isinstance(routing_key, str) or len(routing_key) != 32:
            return None
        routing_key = routing_key.lower()
        try:
            prefix = bytes.fromhex(routing_key[:16]).decode("ascii")
        except (ValueError, UnicodeDecodeError):
            return None
        if not prefix.isalnum():
            return None
        key = cls.all_brands.usable().select_related("brand").filter(prefix=prefix).first()
        if key is None:
            return None
        # SECRET_KEY_FALLBACKS: routing keys outlive a rotation of the secret, as sessions do.
        for secret in [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]:
            if constant_time_compare(routing_key[16:], key._routing_mac(secret)):
                return key
        return None


class Sentiment(models.TextChoices):
    NEGATIVE = "negative", _("Negative")
    NEUTRAL = "neutral", _("Neutral")
    POSITIVE = "positive", _("Positive")


class Mention(models.Model):
    """One post, comment or review about a brand, as a monitoring tool reported it."""

    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="mentions")
    platform = models.CharField(_("platform"), max_length=16, choices=Channel.choices)
    external_id = models.CharField(_("external id"), max_length=255)
    url = models.URLField(max_length=2000, blank=True)
    author = models.CharField(max_length=255, blank=True)
    author_followers = models.PositiveBigIntegerField(default=0)
    text = models.TextField(blank=True)
    sentiment = models.CharField(max_length=16, choices=Sentiment.choices)
    reach = models.PositiveBigIntegerField(default=0)
    published_at = models.DateTimeField()
    received_at = models.DateTimeField(default=timezone.now)
    # When a wave counted this mention (set by whoever attaches it: `crisis.mentions`
    # marks it); detection weighs only mentions no wave has counted, even a resolved one.
    wave_counted_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = TenantManager()
    all_brands = models.Manager()

    class Meta:
        constraints = [
            # A monitoring tool's retry of the same post is a duplicate, not a new mention.
            models.UniqueConstraint(
                fields=["brand", "platform", "external_id"], name="mention_unique_per_brand"
            ),
        ]
        indexes = [
            # Detection counts a brand's negative mentions in time windows.
            models.Index(fields=["brand", "sentiment", "published_at"], name="mention_brand_sentiment_time"),
            # ... and only the negatives no wave has counted yet (`mentions_uncounted_negative`).
            models.Index(
                fields=["brand", "published_at"],
                name="mention_uncounted_negative",
                condition=models.Q(sentiment="negative", wave_counted_at__isnull=True),
            ),
        ]
        verbose_name = _("mention")
        verbose_name_plural = _("mentions")

    def __str__(self) -> str:
        return f"{self.platform}:{self.external_id}"


class DetectionPolicy(models.Model):
    """A brand's wave-detection thresholds (see `crisis.detection`); no row means the defaults."""

    brand = models.OneToOneField(Brand, on_delete=models.CASCADE, related_name="detection")
    enabled = models.BooleanField(default=True)
    window_seconds = models.PositiveIntegerField(default=600)
    baseline_seconds = models.PositiveIntegerField(default=24 * 3600)
    min_count = models.PositiveIntegerField(default=10)
    ratio = models.FloatField(default=3.0)
    follower_threshold = models.PositiveBigIntegerField(default=100_000)

    objects = TenantManager()
    all_brands = models.Manager()

    class Meta:
        verbose_name = _("detection policy")
        verbose_name_plural = _("detection policies")

    def __str__(self) -> str:
        return f"{self.brand.slug} detection"


# --- On-call schedules ---------------------------------------------------------------
# Who is on call when is computed (crisis/shifts.py) from these rows; the services that
# write them and the readers that turn them into shifts are in crisis/oncall.py.


class ShiftUnit(models.TextChoices):
    HOURS = "hours", _("hours")
    DAYS = "days", _("days")
    WEEKS = "weeks", _("weeks")


class Schedule(models.Model):
    """A brand's on-call schedule: layers of people taking turns in a time zone, and overrides."""

    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="schedules")
    name = models.CharField(_("name"), max_length=100)
    time_zone = models.CharField(_("time zone"), max_length=64, validators=[validate_time_zone])
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now, editable=False)
    # The hand-off clock (incidents/handoffs.py): when the sweeper next looks at who is on
    # call, and whom the hand-off messages last announced ("" nobody). Every write of the
    # schedule or its overrides sets `next_handoff_at` to now: look again at once.
    next_handoff_at = models.DateTimeField(null=True, blank=True, editable=False)
    announced_on_call = models.CharField(max_length=150, blank=True, default="", editable=False)

    objects = TenantManager()
    all_brands = models.Manager()

    class Meta:
        ordering = ["name", "id"]
        indexes = [
            models.Index(
                fields=["next_handoff_at"],
                name="schedule_handoff_due",
                condition=models.Q(next_handoff_at__isnull=False),
            ),
        ]
        constraints = [
            # An escalation level and a console list name a schedule by this name.
            models.UniqueConstraint(fields=["brand", "name"], name="schedule_unique_name_per_brand"),
        ]
        verbose_name = _("on-call schedule")
        verbose_name_plural = _("on-call schedules")

    def __str__(self) -> str:
        return self.name


class ScheduleLayer(models.Model):
    """
    People taking turns from a first hand-off, every N hours, days or weeks; later layers
    (higher `position`) win where they have someone. `restrictions`:
    `[{"days": ["mon", …], "from": "HH:MM", "to": "HH:MM"}]`, local times of the schedule's zone.
    """

    schedule = models.ForeignKey(Schedule, on_delete=models.CASCADE, related_name="layers")
    position = models.PositiveSmallIntegerField()  # 1 = the lowest layer
    name = models.CharField(_("name"), max_length=100)
    start = models.DateTimeField(_("first hand-off"))
    shift_every = models.PositiveIntegerField(_("shift length"))
    shift_unit = models.CharField(_("shift unit"), max_length=8, choices=ShiftUnit.choices)
    restrictions = models.JSONField(_("restrictions"), default=list, blank=True)

    objects = TenantManager(brand_field="schedule__brand")
    all_brands = models.Manager()

    class Meta:
        ordering = ["schedule", "position"]
        constraints = [
            models.UniqueConstraint(fields=["schedule", "position"], name="schedule_layer_unique_position"),
        ]
        verbose_name = _("schedule layer")
        verbose_name_plural = _("schedule layers")

    def __str__(self) -> str:
        return f"{self.schedule} / {self.name}"


class ScheduleLayerMember(models.Model):
    """One place in a layer's rotation; a person may hold several."""

    layer = models.ForeignKey(ScheduleLayer, on_delete=models.CASCADE, related_name="members")
    position = models.PositiveSmallIntegerField()  # 0 = the first turn
    # A deleted account leaves the rotation; one that leaves the brand stays until a
    # manager edits the layer (its turns then reach no one: reach's one rule applies).
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")

    objects = TenantManager(brand_field="layer__schedule__brand")
    all_brands = models.Manager()

    class Meta:
        ordering = ["layer", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["layer", "position"], name="schedule_layer_member_unique_position"
            ),
        ]
        verbose_name = _("place in a rotation")
        verbose_name_plural = _("places in rotations")

    def __str__(self) -> str:
        return f"{self.layer} #{self.position}: {self.user}"


class ScheduleOverride(models.Model):
    """Someone takes [start, end) of a schedule, whoever its layers say; a later override wins."""

    schedule = models.ForeignKey(Schedule, on_delete=models.CASCADE, related_name="overrides")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    start = models.DateTimeField(_("start"))
    end = models.DateTimeField(_("end"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)

    objects = TenantManager(brand_field="schedule__brand")
    all_brands = models.Manager()

    class Meta:
        ordering = ["start", "id"]
        indexes = [models.Index(fields=["schedule", "end"], name="schedule_override_end")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end__gt=models.F("start")), name="schedule_override_ends"
            ),
        ]
        verbose_name = _("override")
        verbose_name_plural = _("overrides")

    def __str__(self) -> str:
        return f"{self.schedule}: {self.user} {self.start:%Y-%m-%d %H:%M}–{self.end:%Y-%m-%d %H:%M}"


class CalendarFeed(models.Model):
    """
    A person's calendar-feed token: calendar apps cannot sign in, so the feed URLs carry it.

    One per person (a new one replaces, so revokes, the old); only a SHA-256 digest is
    stored, as for invitations. It opens the person's own shifts and their brands'
    schedules, read-only, and nothing else.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="calendar_feed"
    )
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("calendar feed")
        verbose_name_plural = _("calendar feeds")

    def __str__(self) -> str:
        return f"{self.user} calendar feed"

    @staticmethod
    def digest(token: str) -> str:
        # 256 random bits, as an invitation's: a fast digest is enough.
        return hashlib.sha256(token.encode()).hexdigest()
