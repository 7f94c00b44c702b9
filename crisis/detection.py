"""
Crisis detection: does a brand's stream of mentions amount to a wave?

Two triggers, per brand (`DetectionPolicy`, defaults below):
1. **Volume.** Negative mentions published in the last `window_seconds` (10 min)
   number at least `min_count` (10) *and* at least `ratio` (3×) the brand's own
   baseline: the negative mentions of the previous `baseline_seconds` (24 h),
   scaled to one window. A brand that is always criticised needs a bigger
   spike than a quiet one. The baseline never counts as less than one mention
   per window, so a brand with no history trips at max(min_count, ratio).
2. **Reach.** A single negative mention from an author with at least
   `follower_threshold` (100,000) followers.

Severity of a new wave, from volume and reach:
- critical: ≥ 5 × min_count negatives in the window, or ≥ 1,000,000 total reach;
- high: ≥ 2 × min_count, or ≥ 100,000 reach (the reach trigger lands here at least);
- medium otherwise.

Only mentions no wave has counted yet are weighed (`Mention.wave_counted_at`, set by
`mentions.mentions_mark_counted` when a mention is attached to a wave). This module
decides; the desk acts on the decision (opens or attaches an incident).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Min, Sum

from .mentions import mentions_uncounted_negative
from .models import Brand, DetectionPolicy, Mention, Sentiment

DEFAULTS = DetectionPolicy()  # an unsaved row carries the field defaults


@dataclass(frozen=True)
class Wave:
    reason: str  # "volume" or "reach"
    first_published_at: datetime
    negatives_in_window: int
    reach_in_window: int
    severity: str


def policy_for(brand: Brand) -> DetectionPolicy:
    return DetectionPolicy.objects.for_brands([brand.pk]).first() or DEFAULTS


def severity_for(*, negatives: int, reach: int, policy: DetectionPolicy) -> str:
    if negatives >= 5 * policy.min_count or reach >= 1_000_000:
        return "critical"
    if negatives >= 2 * policy.min_count or reach >= 100_000:
        return "high"
    return "medium"


def detect(*, brand: Brand, fresh: list[Mention], now: datetime) -> Wave | None:
    """A wave if the brand's mentions up to `now` trip a trigger, given the `fresh` ones."""
    policy = policy_for(brand)
    negatives = [m for m in fresh if m.sentiment == Sentiment.NEGATIVE]
    if not policy.enabled or not negatives:
        return None
    window = timedelta(seconds=policy.window_seconds)
    # Mentions already counted in a wave (even one just resolved) do not start another.
    negative = mentions_uncounted_negative(brand=brand)
    in_window = negative.filter(published_at__gt=now - window, published_at__lte=now)
    stats = in_window.aggregate(first=Min("published_at"), reach=Sum("reach"))
    count = in_window.count()
    reach = stats["reach"] or 0

    loud = [
        m
        for m in negatives
        if m.author_followers >= policy.follower_threshold and m.published_at > now - window
    ]
    if loud:
        first = min(m.published_at for m in loud)
        return Wave(
            "reach",
            first,
            count,
            reach,
            severity_for(negatives=count, reach=max(reach, 100_000), policy=policy),
        )

    if count < policy.min_count:
        return None
    baseline_start = now - window - timedelta(seconds=policy.baseline_seconds)
    baseline = negative.filter(published_at__gt=baseline_start, published_at__lte=now - window).count()
    per_window = baseline * policy.window_seconds / policy.baseline_seconds
    if count < policy.ratio * max(per_window, 1.0):
        return None
    return Wave(
        "volume", stats["first"], count, reach, severity_for(negatives=count, reach=reach, policy=policy)
    )
