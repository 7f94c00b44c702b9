"""
Waves: the desk acting on mentions and on detection's decision.

`crisis.mentions` stores what monitoring tools report and `crisis.detection` decides
whether a wave is on; this module opens the wave's incident (through
`filing.incident_file`, like any other filing) or attaches the new mentions to the
wave already open, or to the incident a mention names. Attaching links the mention
here and marks it counted in `crisis/` in the same transaction, so detection never
weighs it again. At most one detection-opened wave per brand is open at a time: it
carries the dedup key `WAVE_KEY`, and the database allows one open incident per key.
"""

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Count, Max, Sum
from django.utils import translation
from django.utils.translation import gettext as _

from api.errors import Forbidden, InvalidInput
from crisis import detection
from crisis import mentions as crisis_mentions
from crisis.models import Brand, Mention, Role, Sentiment
from crisis.tenancy import Principal

from . import command, filing, selectors
from .models import OPEN_STATES, Incident, WaveMention

WAVE_KEY = "mention-wave"


@dataclass(frozen=True)
class Intake:
    accepted: int
    duplicates: int
    incidents: list[int]


def mentions_receive(*, principal: Principal, brand: Brand, items: list[dict], now: datetime) -> Intake:
    """Store new mentions (a retry of a stored one is a duplicate), then detect and attach."""
    if principal.key is None and not principal.has_role(brand.pk, Role.RESPONDER):
        raise Forbidden(_("Viewers cannot report mentions."))
    if not items:  # an empty batch: nothing to look up (an empty filter would match all)
        return Intake(0, 0, [])
    named = _named_incidents(brand, items)
    wave_id = _open_wave_id(brand)

    def target(item):
        return named.get(item.get("incident")) or named.get(("key", item.get("dedup_key")))

    def attached_now(item) -> bool:
        # What this transaction will attach, known before storing: mentions naming an
        # incident, and the negatives of a wave already open.
        return target(item) is not None or (wave_id is not None and item["sentiment"] == Sentiment.NEGATIVE)

    grown = False
    with transaction.atomic():
        stored = crisis_mentions.mentions_store(brand=brand, items=items, now=now, counted=attached_now)
        touched: set[int] = set()
        by_target: dict[int, list[Mention]] = {}
        loose = []
        for mention, item in stored.fresh:
            incident = target(item)
            if incident is not None:
                by_target.setdefault(incident.pk, []).append(mention)
            else:
                loose.append(mention)
        for incident_id, mentions in by_target.items():
            _attach(brand, incident_id, mentions, now)
            touched.add(incident_id)
        if loose:
            if wave_id is None:
                decision = detection.detect(brand=brand, fresh=loose, now=now)
                if decision is not None:
                    category = next((i["category"] for i in items if i.get("category")), "negative_wave")
                    wave_id = _file_wave(principal, brand, decision, loose, now, category).pk
            if wave_id is not None:
                negatives = [m for m in loose if m.sentiment == Sentiment.NEGATIVE]
                _attach(brand, wave_id, negatives, now)
                touched.add(wave_id)
                grown = bool(negatives)
    if loose and wave_id is not None and grown:
        _follow_the_wave(brand, wave_id)
    return Intake(len(stored.fresh), stored.duplicates, sorted(touched))


def _named_incidents(brand: Brand, items: list[dict]) -> dict:
    """Open incidents that items name by id or dedup key; a named id that is not one is a 400."""
    ids = {item["incident"] for item in items if item.get("incident")}
    keys = {item["dedup_key"] for item in items if item.get("dedup_key")}
    found = {}
    if ids:
        rows = Incident.objects.for_brands([brand.pk]).filter(pk__in=ids, state__in=OPEN_STATES)
        found.update({i.pk: i for i in rows})
        missing = sorted(ids - set(found))
        if missing:
            raise InvalidInput(
                _("Not an open incident of this brand: %s") % ", ".join(map(str, missing))[:300],
                field="incident",
            )
    if keys:
        rows = Incident.objects.for_brands([brand.pk]).filter(dedup_key__in=keys, state__in=OPEN_STATES)
        found.update({("key", i.dedup_key): i for i in rows})
        # A key merged into another incident names that one, as a filing with it counts there.
        unfound = keys - {name[1] for name in found if isinstance(name, tuple)}
        if unfound:
            moved = selectors.moved_keys(brand.pk, unfound).select_related("incident")
            found.update({("key", row.dedup_key): row.incident for row in moved})
    return found


def _follow_the_wave(brand: Brand, wave_id: int) -> None:
    """
    The wave grew: its severity follows detection's rule over every negative mention it
    holds (`detection.severity_for`; an author with `follower_threshold` followers makes it
    high at least), raised only, through `command.incident_wave_grew`; and once it holds
    `min_count` negatives its title says how many, over how long.
    """
    policy = detection.policy_for(brand)
    figures = (
        WaveMention.objects.for_brands([brand.pk])
        .filter(incident_id=wave_id, mention__sentiment=Sentiment.NEGATIVE)
        .aggregate(
            count=Count("pk"),
            reach=Sum("mention__reach"),
            loudest=Max("mention__author_followers"),
            last=Max("mention__published_at"),
        )
    )
    count, reach = figures["count"], figures["reach"] or 0
    if (figures["loudest"] or 0) >= policy.follower_threshold:
        reach = max(reach, 100_000)
    severity = detection.severity_for(negatives=count, reach=reach, policy=policy)
    incident = Incident.objects.for_brands([brand.pk]).filter(pk=wave_id).values("detected_at").first()
    if incident is None:
        return
    title = None
    with translation.override(brand.language):
        if count >= policy.min_count:
            span = (figures["last"] - incident["detected_at"]).total_seconds() if figures["last"] else 0
            minutes = max(policy.window_seconds // 60, math.ceil(span / 60))
            title = _volume_title(count, minutes)[:200]
        reason = _("The wave grew: %(count)d negative mentions, reach %(reach)d.") % {
            "count": count,
            "reach": figures["reach"] or 0,
        }
    command.incident_wave_grew(
        incident_id=wave_id,
        severity=severity,
        title=title,
        reason=reason,
        data={"automatic": True, "negatives": count, "reach": figures["reach"] or 0},
    )


def _volume_title(count: int, minutes: int) -> str:
    return _("Wave of negative mentions: %(count)d in %(minutes)d min") % {"count": count, "minutes": minutes}


def _open_wave_id(brand: Brand) -> int | None:
    """
    The brand's open wave, if any. Not locked: attaching mentions to a wave that is
    being resolved meanwhile is harmless, and two batches that both find none and both
    open one end with one incident and a duplicate count (the dedup key's constraint).
    Locking it made every mention of a storm queue behind the one before.
    """
    found = (
        Incident.objects.for_brands([brand.pk])
        .filter(dedup_key=WAVE_KEY, state__in=OPEN_STATES)
        .values_list("pk", flat=True)
        .first()
    )
    if found is None:  # merged into an incident that had a key of its own
        found = selectors.moved_key_incident_id(brand.pk, WAVE_KEY)
    return found


def _file_wave(principal, brand, decision: detection.Wave, loose, now, category) -> Incident:
    first = min((m for m in loose if m.sentiment == Sentiment.NEGATIVE), key=lambda m: m.published_at)
    # The title is stored, so it is written in the brand's language, not in whatever
    # language the monitoring tool's request happened to ask for.
    with translation.override(brand.language):
        title = (
            _volume_title(decision.negatives_in_window, detection.policy_for(brand).window_seconds // 60)
            if decision.reason == "volume"
            else _("Negative post by %(author)s (%(followers)d followers)")
            % {"author": first.author or "?", "followers": first.author_followers}
        )
    filed = filing.incident_file(
        principal=principal,
        brand=brand,
        title=title[:200],
        description=(first.text or "")[:20000],
        category=category,
        severity=decision.severity,
        channel=first.platform,
        source_url=first.url,
        reach=decision.reach_in_window,
        dedup_key=WAVE_KEY,
        detected_at=min(decision.first_published_at, now),
        now=now,
    )
    # The wave began before this batch: the negatives already in the window belong to it.
    window = timedelta(seconds=detection.policy_for(brand).window_seconds)
    earlier = crisis_mentions.mentions_uncounted_negative(brand=brand).filter(
        published_at__gt=now - window, published_at__lte=now
    )
    _attach(brand, filed.incident.pk, list(earlier), now)
    return filed.incident


def _attach(brand: Brand, incident_id: int, mentions: list[Mention], now: datetime) -> None:
    """Link the mentions to the incident and mark them counted; one already linked stays where it is."""
    # In id order: two batches attaching the same earlier mentions lock them in one order.
    mentions = sorted(mentions, key=lambda m: m.pk)
    WaveMention.objects.bulk_create(
        [WaveMention(incident_id=incident_id, mention=m, attached_at=now, reach=m.reach) for m in mentions],
        ignore_conflicts=True,
    )
    uncounted = [m.pk for m in mentions if m.wave_counted_at is None]  # the rest: counted when stored
    crisis_mentions.mentions_mark_counted(brand=brand, ids=uncounted, at=now)
