"""
Waves: the desk acting on mentions and on detection's decision.

`crisis.mentions` stores what monitoring tools report and `crisis.detection` decides
whether a wave is on; this module opens the wave's incident (through
`filing.incident_file`, like any other filing) or attaches the new mentions to the
wave already open, or to the incident a mention names. Attaching links the mention
here and marks it counted in `crisis/` in the same transaction, so detection never
weighs it again. At most one detection-opened wave per brand is open at a time: it
carries the dedup key `WAVE_KEY`, and the database allows one open incident per key.
What the negatives attached add to an incident's counters (`wave_tally`) is added in
that transaction too, last; its severity and title follow from them.
"""

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.utils import translation
from django.utils.translation import gettext as _

from api.errors import Forbidden, InvalidInput
from crisis import detection
from crisis import mentions as crisis_mentions
from crisis.models import SEVERITY_RANK, Brand, Mention, Role, Sentiment
from crisis.tenancy import Principal

from . import command, filing, selectors, wave_tally
from .models import OPEN_STATES, Incident

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

    added: dict[int, wave_tally.Figures] = {}
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
            _attach(brand, incident_id, mentions, now, added)
            touched.add(incident_id)
        if loose:
            if wave_id is None:
                decision = detection.detect(brand=brand, fresh=loose, now=now)
                if decision is not None:
                    category = next((i["category"] for i in items if i.get("category")), "negative_wave")
                    wave_id = _file_wave(principal, brand, decision, loose, now, category, added).pk
            if wave_id is not None:
                negatives = [m for m in loose if m.sentiment == Sentiment.NEGATIVE]
                _attach(brand, wave_id, negatives, now, added)
                touched.add(wave_id)
        # Last: each tally's row stays locked from here to the commit.
        tallies = wave_tally.tally_add(added)
    if wave_id in tallies:  # the open wave holds negatives it did not hold before
        _follow_the_wave(brand, wave_id, tallies[wave_id])
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


def _follow_the_wave(brand: Brand, wave_id: int, tally: wave_tally.Figures) -> None:
    """
    The wave grew to `tally` (its figures as this batch left them): its severity follows
    detection's rule over every negative mention it holds (`detection.severity_for`; an
    author with `follower_threshold` followers makes it high at least), raised only,
    through `command.incident_wave_grew`; and its title says how many, over how long,
    once it holds `min_count` negatives.

    The title follows the count by steps, not mention by mention: it is rewritten when
    the count reaches `min_count` and then each of 10, 20, 50, 100, 200, 500, 1,000, …
    above it (1-2-5 in each power of ten), and it names the step reached ("50+ in 20
    min"): at least that many, true until the next step rewrites it (the wave view and
    the API give the exact count). Rewriting it with every mention made each one of a
    storm lock the incident's row, and a title changing under the team's eyes several
    times a second is no help to them. So the incident is read without a lock first,
    and locked only when this batch changes something: a higher severity, or a higher
    step. The figures come from the wave's tally (`wave_tally`), not from re-reading
    every mention the wave holds.
    """
    policy = detection.policy_for(brand)
    count, reach = tally.negatives, tally.reach
    if tally.loudest >= policy.follower_threshold:
        reach = max(reach, 100_000)
    severity = detection.severity_for(negatives=count, reach=reach, policy=policy)
    step = title_step(count, policy.min_count)
    incident = (
        Incident.objects.for_brands([brand.pk])
        .filter(pk=wave_id, state__in=OPEN_STATES)
        .values("detected_at", "severity")
        .first()
    )
    if incident is None:
        return
    raise_severity = SEVERITY_RANK[severity] < SEVERITY_RANK[incident["severity"]] and (
        not command.severity_set_by_a_person(wave_id)
    )
    if not raise_severity and step <= tally.title_step:
        return  # the common case: nothing to write, no lock
    title = None
    with translation.override(brand.language):
        if step > tally.title_step:
            last = tally.last_published_at
            span = (last - incident["detected_at"]).total_seconds() if last else 0
            minutes = max(policy.window_seconds // 60, math.ceil(span / 60))
            title = (
                _("Wave of negative mentions: %(count)d+ in %(minutes)d min")
                % {"count": step, "minutes": minutes}
            )[:200]
        reason = _("The wave grew: %(count)d negative mentions, reach %(reach)d.") % {
            "count": count,
            "reach": tally.reach,
        }
    command.incident_wave_grew(
        incident_id=wave_id,
        severity=severity,
        title=title,
        title_step=step,
        reason=reason,
        data={"automatic": True, "negatives": count, "reach": tally.reach},
    )


def title_step(count: int, min_count: int) -> int:
    """
    The step of a wave's count its title names (`_follow_the_wave`): 0 below `min_count`,
    else the highest of `min_count` and of 1, 2, 5, 10, 20, 50, … not above the count.
    """
    if count < max(min_count, 1):
        return 0
    power = 10 ** (len(str(count)) - 1)
    step = next(power * m for m in (5, 2, 1) if power * m <= count)
    return max(step, min_count)


def _volume_title(count: int, minutes: int) -> str:
    return _("Wave of negative mentions: %(count)d in %(minutes)d min") % {"count": count, "minutes": minutes}


_OPEN_WAVE_SQL = (
    f"SELECT id FROM {Incident._meta.db_table} "  # noqa: S608  # nosec B608 (the model's table name)
    f"WHERE brand_id = %s AND dedup_key = %s AND state IN ({', '.join(['%s'] * len(OPEN_STATES))}) LIMIT 1"
)


def _open_wave_id(brand: Brand) -> int | None:
    """
    The brand's open wave, if any. Not locked: attaching mentions to a wave that is
    being resolved meanwhile is harmless, and two batches that both find none and both
    open one end with one incident and a duplicate count (the dedup key's constraint).
    Locking it made every mention of a storm queue behind the one before.

    SQL, because every mention of a storm asks: building the ORM's query cost more CPU
    than running it (the brand's filter is the tenant scope `for_brands` would add; the
    database keeps at most one open incident per key, so there is no order to ask for).
    """
    with connection.cursor() as cursor:
        cursor.execute(_OPEN_WAVE_SQL, [brand.pk, WAVE_KEY, *map(str, OPEN_STATES)])
        row = cursor.fetchone()
    found = row[0] if row else None
    if found is None:  # merged into an incident that had a key of its own
        found = selectors.moved_key_incident_id(brand.pk, WAVE_KEY)
    return found


def _file_wave(principal, brand, decision: detection.Wave, loose, now, category, added) -> Incident:
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
    if filed.created:
        # A title naming the count names its step: the wave's growth rewrites it at the next.
        policy = detection.policy_for(brand)
        named = decision.negatives_in_window if decision.reason == "volume" else 0
        wave_tally.tally_start(filed.incident.pk, title_step=title_step(named, policy.min_count))
    # The wave began before this batch: the negatives already in the window belong to it.
    window = timedelta(seconds=detection.policy_for(brand).window_seconds)
    earlier = crisis_mentions.mentions_uncounted_negative(brand=brand).filter(
        published_at__gt=now - window, published_at__lte=now
    )
    _attach(brand, filed.incident.pk, list(earlier), now, added)
    return filed.incident


def _attach(
    brand: Brand,
    incident_id: int,
    mentions: list[Mention],
    now: datetime,
    added: dict[int, wave_tally.Figures],
) -> None:
    """
    Link the mentions to the incident and mark them counted; one already linked stays
    where it is. What the negatives linked now add to the incident's tally is summed in
    `added`, for the caller to add at the end of its transaction (`wave_tally.tally_add`).
    """
    # In id order: two batches attaching the same earlier mentions lock them in one order.
    mentions = sorted(mentions, key=lambda m: m.pk)
    linked = wave_tally.link(incident_id, mentions, now)
    uncounted = [m.pk for m in mentions if m.wave_counted_at is None]  # the rest: counted when stored
    crisis_mentions.mentions_mark_counted(brand=brand, ids=uncounted, at=now)
    if linked:
        added[incident_id] = added.get(incident_id, wave_tally.Figures()).plus(wave_tally.figures_of(linked))
