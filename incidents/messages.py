"""
What the desk says: notifications (subjects, the e-mail body, the webhook payload, the
link), the timeline as people read it, and why an escalation level reached no one.

Every text a person receives about an incident, or with an invitation to a brand, is
here, translated in the language active when the notification is written; the clock
decides when to send and whom to tell, the outbox how to deliver. The timeline's
sentences are made here too (`timeline_line`), in the language of the page that shows
them; `selectors.timeline_lines` gathers what they need.
"""

import re
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from crisis.models import Category, Channel, Invitation, Role, Severity

from . import reach
from .chain import LEVEL_ROLE_CHOICES
from .models import ChannelKind, EscalationKind, EventKind, Incident, NotificationStatus, State
from .templatetags.desk import duration

# Keyed by the reason a notification is sent (an event kind, or a finer reason).
SUBJECTS = {
    EventKind.SLA_WARNING: gettext_lazy("[%(brand)s] Unclaimed for too long: %(title)s"),
    EventKind.ESCALATED: gettext_lazy("[%(brand)s] Escalation level %(level)d: %(title)s"),
    "resolve_overdue": gettext_lazy("[%(brand)s] Not resolved in time: %(title)s"),
    EventKind.REVIEW_REMINDER: gettext_lazy("[%(brand)s] Review is due: %(title)s"),
    EventKind.STEP_OVERDUE: gettext_lazy("[%(brand)s] Step overdue: %(step)s (%(title)s)"),
    EventKind.ROLE_ASSIGNED: gettext_lazy("[%(brand)s] You are the %(role)s of: %(title)s"),
    EventKind.REASSIGNED: gettext_lazy("[%(brand)s] Handed to you: %(title)s"),
    EventKind.UPDATE_DUE: gettext_lazy("[%(brand)s] A status update is due: %(title)s"),
    EventKind.STATUS_UPDATE: gettext_lazy("[%(brand)s] Status update: %(title)s"),
    # Public statements (`incidents.statements`; the clock's `statement_overdue`).
    "statement_hop": gettext_lazy("[%(brand)s] A statement awaits your approval (%(hop)s): %(title)s"),
    "statement_rejected": gettext_lazy("[%(brand)s] Your statement was rejected: %(title)s"),
    "statement_approved": gettext_lazy("[%(brand)s] Your statement is approved, ready to publish: %(title)s"),
    "statement_overdue": gettext_lazy("[%(brand)s] A statement is stuck in approval (%(hop)s): %(title)s"),
}

# The incident roles beside the assignee (API.md `roles`), as a sentence names them…
ROLE_NAMES = {
    "commander": gettext_lazy("commander"),
    "comms": gettext_lazy("comms lead"),
    "scribe": gettext_lazy("scribe"),
}
# …and as a label shows them.
ROLE_LABELS = {
    "commander": gettext_lazy("Commander"),
    "comms": gettext_lazy("Comms lead"),
    "scribe": gettext_lazy("Scribe"),
}
# The column of each role on the incident.
ROLE_COLUMNS = {"commander": "commander", "comms": "comms_lead", "scribe": "scribe"}


def role_name(role: str) -> str:
    return str(ROLE_NAMES.get(role, role))


def roles_of(incident: Incident) -> dict[str, str | None]:
    """The incident's roles as the API shows them: role -> username or None."""
    return {
        role: getattr(incident, column).get_username() if getattr(incident, f"{column}_id") else None
        for role, column in ROLE_COLUMNS.items()
    }


# Line breaks and other control characters (Unicode's separators too): a header holding
# one is refused by the mail library, which would block every e-mail about the incident.
_BREAKS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def one_line(text: str) -> str:
    """`text` as one line for a header or a title (an e-mail subject); the incident keeps its own."""
    return " ".join(_BREAKS.sub(" ", text).split())


def subject(reason: str, incident: Incident, **values) -> str:
    """The subject line of a notification about `incident`, sent for `reason`."""
    text = str(SUBJECTS[reason]) % {"brand": incident.brand.name, "title": incident.title, **values}
    return one_line(text)


def display_labels() -> dict[str, str]:
    """
    Severity and state labels, translated once for a batch of notifications.

    get_FOO_display() translates every choice again on each call, a real share of a
    large batch's time.
    """
    return {
        **{value: str(label) for value, label in Severity.choices},
        **{value: str(label) for value, label in State.choices},
    }


def body(incident: Incident, labels: dict[str, str]) -> str:
    """The plain-text body of an e-mail about `incident`; who holds its roles, when anyone does."""
    held = [f"{ROLE_LABELS[role]}: {name}" for role, name in roles_of(incident).items() if name]
    return _(
        "%(title)s\n\nBrand: %(brand)s\nSeverity: %(severity)s\nState: %(state)s\n"
        "Detected: %(detected)s\nAcknowledge by: %(ack_due)s\n\n%(link)s"
    ) % {
        "title": incident.title,
        "brand": incident.brand.name,
        "severity": labels[incident.severity],
        "state": labels[incident.state],
        "detected": f"{incident.detected_at:%Y-%m-%d %H:%M:%S} UTC",
        "ack_due": f"{incident.ack_due_at:%Y-%m-%d %H:%M:%S} UTC",
        # The roles' lines, a blank line, then the link.
        "link": "\n".join([*held, "", incident_link(incident)]) if held else incident_link(incident),
    }


def status_update_body(incident: Incident, update, *, for_members: bool) -> str:
    """
    A status update as its readers get it: the text, who wrote it and when, and what the
    incident is; with the console's link for members only (stakeholders have no account).
    """
    text = _(
        "%(body)s\n\n— %(author)s, %(at)s UTC\n#%(id)d %(title)s (%(brand)s) · %(severity)s · %(state)s"
    ) % {
        "body": update.body,
        "author": update.author.get_full_name() or update.author.get_username(),
        "at": f"{update.created_at:%Y-%m-%d %H:%M}",
        "id": incident.pk,
        "title": incident.title,
        "brand": incident.brand.name,
        "severity": incident.get_severity_display(),
        "state": incident.get_state_display(),
    }
    return f"{text}\n{incident_link(incident)}" if for_members else text


def statement_body(statement, *, rejected_by: str = "", comment: str = "") -> str:
    """
    A notification about a public statement: its text as it stands, and where to decide it;
    for its author after a rejection, first who rejected it and why.
    """
    incident = statement.incident
    why = (
        _("Rejected by %(user)s: %(reason)s") % {"user": rejected_by, "reason": comment} + "\n\n"
        if rejected_by
        else ""
    )
    return why + _(
        "Statement, version %(version)d (%(channels)s):\n\n%(body)s\n\n#%(id)d %(title)s\n%(link)s"
    ) % {
        "version": statement.version,
        "channels": ", ".join(str(dict(Channel.choices).get(c, c)) for c in statement.channels),
        "body": statement.body,
        "id": incident.pk,
        "title": incident.title,
        "link": incident_link(incident),
    }


def payload(incident: Incident, reason: str, extra: dict, now: datetime) -> dict:
    """The JSON a webhook receives about `incident`."""
    return {
        "event": reason,
        **extra,
        "incident": {
            "id": incident.pk,
            "brand": incident.brand.slug,
            "title": incident.title,
            "severity": incident.severity,
            "state": incident.state,
            "detected_at": incident.detected_at.isoformat(),
            "ack_due_at": incident.ack_due_at.isoformat(),
            "roles": roles_of(incident),
            "url": incident_link(incident),
            "api_url": incident_api_link(incident),
        },
        "at": now.isoformat(),
    }


def incident_link(incident: Incident) -> str:
    """Where a notification points its reader: the incident's console page, on the configured site."""
    return settings.SITE_URL.rstrip("/") + reverse("console:incident", kwargs={"pk": incident.pk})


def incident_api_link(incident: Incident) -> str:
    """The incident in the API, for the machines a webhook talks to."""
    return settings.SITE_URL.rstrip("/") + f"/api/v1/incidents/{incident.pk}/"


def invitation_subject(invitation: Invitation) -> str:
    """The subject of the e-mail inviting someone to join a brand."""
    return one_line(_("You are invited to %(brand)s on Crisis Desk") % {"brand": invitation.brand.name})


def invitation_body(invitation: Invitation, token: str) -> str:
    """The e-mail inviting someone to join a brand: who invited them, the role, the link and its expiry."""
    inviter = invitation.invited_by.get_username() if invitation.invited_by else _("An administrator")
    return _(
        "%(inviter)s invites you to join %(brand)s on Crisis Desk as %(role)s.\n\n"
        "Accept here, signed in or by creating an account:\n%(link)s\n\n"
        "The link works once, until %(expires)s UTC. If you did not expect it, ignore this e-mail."
    ) % {
        "inviter": inviter,
        "brand": invitation.brand.name,
        "role": Role(invitation.role).label,
        "link": invitation_link(token),
        "expires": f"{invitation.expires_at:%Y-%m-%d %H:%M}",
    }


def invitation_link(token: str) -> str:
    """The console's page that accepts an invitation; only this link carries the token."""
    return settings.SITE_URL.rstrip("/") + reverse("console:invitation", kwargs={"token": token})


# --- Why a level reached no one ------------------------------------------------------

# "no executive in this brand": a level that names one role and nobody else.
NO_ONE_IN_ROLE = {
    "viewer": gettext_lazy("no viewer in this brand"),
    "responder": gettext_lazy("no responder in this brand"),
    "manager": gettext_lazy("no manager in this brand"),
    "executive": gettext_lazy("no executive in this brand"),
}


def role_names(roles) -> list[str]:
    """The names people read for a level's roles ("Executive", not "executive")."""
    labels = dict(LEVEL_ROLE_CHOICES)
    return [str(labels.get(role, role)) for role in roles]


def nobody_reached_reason(why: dict) -> str:
    """The reason in `data.nobody_reached` as people read it: "no executive in this brand"."""
    roles, users = list(why.get("roles") or []), list(why.get("users") or [])
    reason = why.get("reason")
    if reason == reach.NO_CHANNEL_OR_EMAIL:
        return _("%(people)s: no e-mail and no notification channel") % {
            "people": ", ".join(why.get("unreachable") or users) or "—"
        }
    if reason == reach.NOBODY_ON_CALL:
        names = [schedule_name(found) for found in why.get("on_call") or []]
        return _("nobody on call on %(schedules)s") % {"schedules": ", ".join(names) or "—"}
    # Someone on call who is no longer a member counts as a name the level gave.
    users += [user for found in why.get("on_call") or [] for user in found.get("users") or []]
    if len(roles) == 1 and not users and roles[0] in NO_ONE_IN_ROLE:
        return str(NO_ONE_IN_ROLE[roles[0]])
    if users and not roles:
        return ngettext(
            "%(people)s is not a member of this brand",
            "%(people)s are not members of this brand",
            len(users),
        ) % {"people": ", ".join(users)}
    return _("nobody in this brand holds these roles or names (%(named)s)") % {
        "named": ", ".join([*role_names(roles), *users]) or "—"
    }


def schedule_name(found: dict) -> str:
    """An on-call schedule as a recorded `on_call` entry names it (a deleted one by its number)."""
    return found.get("name") or _("schedule #%(id)s (deleted)") % {"id": found.get("schedule")}


def on_call_text(on_call: list) -> str:
    """Who was on call when a level fired: "On call: Night duty — bob; Weekend — nobody."."""
    parts = [
        _("%(schedule)s — %(people)s")
        % {"schedule": schedule_name(found), "people": ", ".join(found.get("users") or []) or _("nobody")}
        for found in on_call
        if isinstance(found, dict)
    ]
    return _("On call: %(schedules)s.") % {"schedules": "; ".join(parts)}


def nobody_reached_text(why: dict, *, level: int | None, ahead: bool = False) -> str:
    """
    The loud sentence for a level that reached no one (`ahead`: would reach no one if it
    fired now), and whom the desk told instead. `level` None: the resolve-overdue alert.
    """
    values = {"level": level, "reason": nobody_reached_reason(why)}
    if level is None and ahead:
        said = _("The resolve-overdue alert would reach no one today: %(reason)s.") % values
    elif level is None:
        said = _("The resolve-overdue alert reached no one: %(reason)s.") % values
    elif ahead:
        said = _("Level %(level)d would reach no one today: %(reason)s.") % values
    else:
        said = _("Level %(level)d reached no one: %(reason)s.") % values
    if "instead" not in why:  # the managers' own alert: there is no one else to tell
        return said
    instead = why["instead"]
    if instead and ahead:
        told = _("The brand's managers would be told instead: %(people)s.") % {"people": ", ".join(instead)}
    elif instead:
        told = _("The brand's managers were told instead: %(people)s.") % {"people": ", ".join(instead)}
    elif ahead:
        told = _("No manager could be told instead: nobody would hear of it.")
    else:
        told = _("No manager could be told instead: nobody heard of it.")
    return f"{said} {told}"


def unreachable_text(people, *, level: int | None = None) -> str:
    """Named people a level could not reach (others it could): said quietly."""
    values = {"level": level, "people": ", ".join(people)}
    if level is None:
        return _("Not reached (no e-mail and no notification channel): %(people)s.") % values
    return _("Level %(level)d cannot reach (no e-mail and no notification channel): %(people)s.") % values


# --- The timeline as people read it ----------------------------------------------------


@dataclass
class Delivery:
    """One notification an event caused: to whom, through what, and how it went."""

    who: str
    channel: str
    status: str
    state: str  # "sent", "pending" or "failed": the page colours it


@dataclass
class TimelineLine:
    """One event of the timeline, said in words: who, what, and for alerts whom it reached."""

    at: datetime
    kind: str  # the event kind, for the page's markup (never shown)
    actor: str  # who did it: a person, an integration key, or the desk itself
    title: str  # what happened, in a few words
    text: str = ""  # the details, as a sentence
    quote: str = ""  # what a person wrote: a comment, a step's note, the resolution, a reason
    deliveries: list[Delivery] = field(default_factory=list)
    alarm: str = ""  # said loudly: a level that reached no one
    notice: str = ""  # said quietly: people it named and could not reach
    links: list[tuple[str, str]] = field(default_factory=list)  # (channel, URL): where a statement was posted


# The social channels (where complaints and statements appear), by the names people read.
CHANNEL_LABELS = dict(Channel.choices)

# Channels by the short names a timeline line uses.
CHANNEL_NAMES = {
    ChannelKind.EMAIL: gettext_lazy("e-mail"),
    ChannelKind.WEBHOOK: gettext_lazy("webhook"),
    ChannelKind.APPRISE: gettext_lazy("chat"),
    ChannelKind.TELEGRAM: gettext_lazy("Telegram"),
}


def actor_name(label: str) -> str:
    """Who acted, as the timeline names them: a username, an integration key, or the desk."""
    if not label or label == "system":
        return _("Crisis Desk")
    if label.startswith("key:"):
        return _("integration key “%(name)s”") % {"name": label[4:]}
    return label


def delivery_status(*, status: str, attempts: int) -> str:
    """How a notification went, from its outbox row."""
    if status == NotificationStatus.SENT:
        return _("delivered")
    if status == NotificationStatus.FAILED:
        return ngettext(
            "not delivered: gave up after %(count)d attempt",
            "not delivered: gave up after %(count)d attempts",
            attempts,
        ) % {"count": attempts}
    if attempts:
        return ngettext(
            "not delivered yet: retrying after %(count)d attempt",
            "not delivered yet: retrying after %(count)d attempts",
            attempts,
        ) % {"count": attempts}
    return _("sending")


# What a `notified` event's outcome says, when its cause is not on the page to hold it.
OUTCOMES = {
    "sent": (gettext_lazy("delivered"), "sent"),
    "retry": (gettext_lazy("not delivered, will retry"), "pending"),
    "failed": (gettext_lazy("not delivered"), "failed"),
}


def timeline_line(event, notifications: dict) -> TimelineLine:
    """
    One timeline event in words. `notifications`: outbox rows by id ({"status", "attempts"}),
    for the deliveries of the alerts on the page.
    """
    data = event.data if isinstance(event.data, dict) else {}
    labels = dict(EventKind.choices)
    line = TimelineLine(
        at=event.at,
        kind=event.kind,
        actor=actor_name(event.actor_label),
        title=str(labels.get(event.kind, event.kind.replace("_", " ").capitalize())),
    )
    say = _SAYINGS.get(event.kind)
    if say is not None:
        say(line, data)
    line.deliveries = _deliveries(data, notifications)
    if "recipients" in data and not (line.alarm or line.notice):
        # People an alert was meant for who have no channel and no e-mail: nothing was sent them.
        reached = {sent.get("username") for sent in data["recipients"] if isinstance(sent, dict)}
        missed = [name for name in data.get("notified") or [] if name not in reached]
        if missed:
            line.notice = unreachable_text(missed)
    return line


def _deliveries(data: dict, notifications: dict) -> list[Delivery]:
    found = []
    for sent in data.get("recipients") or []:
        row = notifications.get(sent.get("notification"))
        if row is None:  # written before outbox rows were named, or deleted with its brand
            status, state = _("unknown"), "pending"
        else:
            status = delivery_status(status=row["status"], attempts=row["attempts"])
            state = row["status"] if row["status"] != NotificationStatus.PENDING else "pending"
        found.append(
            Delivery(
                # No username: an address without an account (a stakeholder's).
                who=sent.get("username") or _("stakeholder"),
                channel=str(CHANNEL_NAMES.get(sent.get("channel"), sent.get("channel") or "—")),
                status=status,
                state=state,
            )
        )
    return found


def _told_without_rows(line: TimelineLine, data: dict) -> None:
    """Events from before `recipients`: only who was told is known."""
    if "recipients" not in data and data.get("notified"):
        line.notice = _("Told: %(people)s.") % {"people": ", ".join(data["notified"])}


def _created(line, data):
    facts = [
        str(dict(Severity.choices).get(data.get("severity"), "")),
        str(dict(Category.choices).get(data.get("category"), "")),
        str(dict(Channel.choices).get(data.get("channel"), "")),
    ]
    if data.get("playbook"):
        facts.append(_("playbook “%(name)s”") % {"name": data["playbook"]})
    line.text = " · ".join(fact for fact in facts if fact)


def _duplicate(line, data):
    line.text = _("Reports so far: %(count)s.") % {"count": data.get("duplicate_count", "—")}


def _claimed(line, data):
    if data.get("ack_seconds") is None:
        return
    values = {"duration": duration(data["ack_seconds"])}
    if data.get("ack_breached"):
        line.text = _("%(duration)s after detection, past the deadline.") % values
    else:
        line.text = _("%(duration)s after detection, in time.") % values


def _resolved(line, data):
    line.quote = data.get("resolution") or ""


def _reviewed(line, data):
    line.quote = data.get("summary") or ""
    count = data.get("follow_ups") or 0
    if count:
        line.text = ngettext("%(count)d follow-up agreed.", "%(count)d follow-ups agreed.", count) % {
            "count": count
        }


def _reopened(line, data):
    line.quote = data.get("reason") or ""


def _reassigned(line, data):
    if data.get("from"):
        line.text = _("From %(from)s to %(to)s.") % {"from": data["from"], "to": data.get("to") or "—"}
    else:
        line.text = _("To %(to)s.") % {"to": data.get("to") or "—"}


def _sla_warning(line, data):
    if data.get("seconds_left"):
        line.text = _("Not claimed yet: %(left)s left to acknowledge.") % {
            "left": duration(data["seconds_left"])
        }
    else:  # the clock caught up late (workers were down): the deadline is already past
        line.text = _("Not claimed yet, and the acknowledge deadline has passed.")
    _told_without_rows(line, data)


def _escalated(line, data):
    level = data.get("level")
    if data.get("reason") == "statement_overdue":
        line.title = _("Statement out of time")
        line.text = _(
            "Hop %(hop)s (%(name)s) did not decide version %(version)s in time:"
            " the brand's managers are alerted."
        ) % {
            "hop": data.get("hop", "—"),
            "name": data.get("hop_name") or "—",
            "version": data.get("version", "—"),
        }
        if data.get("nobody_reached"):
            line.alarm = nobody_reached_text(data["nobody_reached"], level=None)
        _told_without_rows(line, data)
        return
    if level is None or data.get("reason") == "resolve_overdue":
        line.title = str(EscalationKind.RESOLVE.label)
        if not data.get("nobody_reached"):
            line.text = _("The brand's managers are alerted.")
        level = None
    else:
        line.title = _("Escalation, level %(level)d") % {"level": level}
        line.text = str(EscalationKind.ACK.label) + "."
        if data.get("on_call"):  # who was on duty on the level's schedules when it fired
            line.text += " " + on_call_text(data["on_call"])
    if data.get("nobody_reached"):
        line.alarm = nobody_reached_text(data["nobody_reached"], level=level)
    elif data.get("unreachable"):
        line.notice = unreachable_text(data["unreachable"])
    _told_without_rows(line, data)


def _notified(line, data):
    said, _state = OUTCOMES.get(data.get("outcome"), (gettext_lazy("not delivered"), "failed"))
    text = _("%(who)s · %(channel)s: %(outcome)s") % {
        "who": data.get("recipient") or "—",
        "channel": CHANNEL_NAMES.get(data.get("channel"), data.get("channel") or "—"),
        "outcome": said,
    }
    error = str(data.get("error") or "")
    if error.startswith("answered "):
        text += " " + _("(the receiver answered %(code)s)") % {"code": error.removeprefix("answered ")}
    line.text = text


def _step_completed(line, data):
    values = {"title": data.get("title") or "—"}
    line.text = (_("“%(title)s”, late.") if data.get("late") else _("“%(title)s”.")) % values
    line.quote = data.get("note") or ""


def _step_overdue(line, data):
    line.text = _("“%(title)s” is past its due time.") % {"title": data.get("title") or "—"}
    _told_without_rows(line, data)


def _review_reminder(line, data):
    line.text = _("The review is due: the brand's managers are reminded.")
    _told_without_rows(line, data)


def _follow_up_done(line, data):
    line.text = _("“%(title)s”.") % {"title": data.get("title") or "—"}


def _playbook_attached(line, data):
    line.text = _("playbook “%(name)s”") % {"name": data.get("name") or "—"}


def _comment(line, data):
    line.quote = data.get("body") or ""


def _severity_changed(line, data):
    names = dict(Severity.choices)
    line.text = _("From %(from)s to %(to)s.") % {
        "from": names.get(data.get("from"), data.get("from") or "—"),
        "to": names.get(data.get("to"), data.get("to") or "—"),
    }
    line.quote = data.get("reason") or ""


def _role_assigned(line, data):
    role = ROLE_NAMES.get(data.get("role"), data.get("role") or "—")
    if data.get("username"):
        line.text = _("%(person)s is the %(role)s.") % {"person": data["username"], "role": role}
    else:
        line.text = _("Nobody is the %(role)s any more.") % {"role": role}


def _linked(line, data):
    line.text = _("Related to #%(incident)s.") % {"incident": data.get("incident", "—")}


def _unlinked(line, data):
    line.text = _("No longer related to #%(incident)s.") % {"incident": data.get("incident", "—")}


def _merged(line, data):
    values = {"filings": data.get("filings", 0), "mentions": data.get("mentions", 0)}
    if data.get("into"):
        values["incident"] = data["into"]
        line.text = (
            _(
                "Merged into #%(incident)s: its filings (%(filings)s) and mentions (%(mentions)s)"
                " count there now."
            )
            % values
        )
    else:
        values["incident"] = data.get("from", "—")
        line.text = (
            _(
                "#%(incident)s was merged into this one: its filings (%(filings)s)"
                " and mentions (%(mentions)s) count here now."
            )
            % values
        )


def _status_update(line, data):
    if data.get("audience") == "stakeholders":
        line.text = _("To the stakeholders.")
    else:
        line.text = _("To the team.")
    line.quote = data.get("body") or ""


def _statement_hop(data) -> dict:
    return {
        "hop": data.get("hop", "—"),
        "name": data.get("hop_name") or "—",
        "version": data.get("version", "—"),
    }


def _statement_drafted(line, data):
    channels = ", ".join(str(CHANNEL_LABELS.get(c, c)) for c in data.get("channels") or [])
    line.text = _("Version 1, for %(channels)s.") % {"channels": channels or "—"}


def _statement_edited(line, data):
    if data.get("restarted"):
        line.text = _("Version %(version)s: the approval starts again at the first hop.") % {
            "version": data.get("version", "—")
        }
    else:
        line.text = _("Version %(version)s.") % {"version": data.get("version", "—")}


def _statement_submitted(line, data):
    line.text = _("Version %(version)s goes to hop %(hop)s (%(name)s).") % _statement_hop(data)


def _statement_approved(line, data):
    if data.get("approved"):
        line.text = _(
            "Hop %(hop)s (%(name)s) approved version %(version)s: ready to publish."
        ) % _statement_hop(data)
    else:
        line.text = _("Hop %(hop)s (%(name)s) approved version %(version)s.") % _statement_hop(data)
    line.quote = data.get("comment") or ""


def _statement_rejected(line, data):
    line.text = _("Hop %(hop)s (%(name)s) rejected version %(version)s: back to draft.") % _statement_hop(
        data
    )
    line.quote = data.get("comment") or ""


def _statement_published(line, data):
    links = data.get("links") if isinstance(data.get("links"), dict) else {}
    line.text = _("Version %(version)s, posted on %(channels)s.") % {
        "version": data.get("version", "—"),
        "channels": ", ".join(str(CHANNEL_LABELS.get(c, c)) for c in links) or "—",
    }
    line.links = [(str(CHANNEL_LABELS.get(c, c)), url) for c, url in links.items() if isinstance(url, str)]


def _update_due(line, data):
    line.text = _("No status update this beat: the %(who)s is reminded.") % {
        "who": ROLE_NAMES["comms"] if data.get("reminded") == "comms" else _("assignee")
    }
    _told_without_rows(line, data)


# What each kind of event says beyond its title; kinds not here show their title alone.
_SAYINGS = {
    EventKind.CREATED: _created,
    EventKind.DUPLICATE: _duplicate,
    EventKind.CLAIMED: _claimed,
    EventKind.RESOLVED: _resolved,
    EventKind.REVIEWED: _reviewed,
    EventKind.REOPENED: _reopened,
    EventKind.REASSIGNED: _reassigned,
    EventKind.SLA_WARNING: _sla_warning,
    EventKind.ESCALATED: _escalated,
    EventKind.NOTIFIED: _notified,
    EventKind.STEP_COMPLETED: _step_completed,
    EventKind.STEP_OVERDUE: _step_overdue,
    EventKind.REVIEW_REMINDER: _review_reminder,
    EventKind.FOLLOW_UP_DONE: _follow_up_done,
    EventKind.PLAYBOOK_ATTACHED: _playbook_attached,
    EventKind.COMMENT: _comment,
    EventKind.SEVERITY_CHANGED: _severity_changed,
    EventKind.ROLE_ASSIGNED: _role_assigned,
    EventKind.LINKED: _linked,
    EventKind.UNLINKED: _unlinked,
    EventKind.MERGED: _merged,
    EventKind.STATUS_UPDATE: _status_update,
    EventKind.UPDATE_DUE: _update_due,
    EventKind.STATEMENT_DRAFTED: _statement_drafted,
    EventKind.STATEMENT_EDITED: _statement_edited,
    EventKind.STATEMENT_SUBMITTED: _statement_submitted,
    EventKind.STATEMENT_APPROVED: _statement_approved,
    EventKind.STATEMENT_REJECTED: _statement_rejected,
    EventKind.STATEMENT_PUBLISHED: _statement_published,
}


# --- A test of a person's channel ("My notifications") --------------------------------


def channel_test_subject(brand) -> str:
    """The subject of a test message a person sends themselves."""
    return one_line(_("[%(brand)s] Test message from Crisis Desk") % {"brand": brand.name})


def channel_test_body(*, user, brand, now: datetime) -> str:
    """A test message's text: what it is, who asked for it, and where to change it."""
    return _(
        "This is a test message from Crisis Desk, sent at %(at)s UTC because %(user)s asked "
        "for one on their notifications page. If you are reading it, escalations and "
        "reminders about %(brand)s reach you here.\n\n%(link)s"
    ) % {
        "at": f"{now:%Y-%m-%d %H:%M:%S}",
        "user": user.get_username(),
        "brand": brand.name,
        "link": my_notifications_link(),
    }


def channel_test_payload(*, user, brand, now: datetime) -> dict:
    """The JSON a webhook receives for a test: no incident, only who asked and when."""
    return {"event": "channel_test", "brand": brand.slug, "user": user.get_username(), "at": now.isoformat()}


def my_notifications_link() -> str:
    """The console page where a person manages their own channels."""
    return settings.SITE_URL.rstrip("/") + reverse("console:me")


# --- Shift hand-offs (incidents/handoffs.py) ------------------------------------------------


def handoff_subject(schedule) -> str:
    """The subject of the message the incoming person gets at a hand-off."""
    return one_line(
        _("[%(brand)s] You are on call now: %(schedule)s")
        % {"brand": schedule.brand.name, "schedule": schedule.name}
    )


def handoff_body(*, schedule, until, zone, incidents: list, total: int, labels: dict[str, str]) -> str:
    """
    The hand-off message: which schedule, until when (`until` None: beyond the next two
    weeks), in the person's zone, then the brand's open incidents, most urgent first.
    """
    if until is None:
        head = _("You are on call on %(schedule)s (%(brand)s) from now.")
    else:
        head = _("You are on call on %(schedule)s (%(brand)s) from now until %(until)s.")
    lines = [
        head
        % {
            "schedule": schedule.name,
            "brand": schedule.brand.name,
            "until": _local(until, zone) if until else "",
        },
        "",
    ]
    if not incidents:
        lines.append(_("%(brand)s has no open incidents right now.") % {"brand": schedule.brand.name})
    else:
        lines.append(
            ngettext(
                "%(brand)s has %(count)d open incident, the most urgent first:",
                "%(brand)s has %(count)d open incidents, the most urgent first:",
                total,
            )
            % {"brand": schedule.brand.name, "count": total}
        )
        lines += [
            f"- #{i.pk} {i.title} · {labels[i.severity]} · {labels[i.state]}\n  {incident_link(i)}"
            for i in incidents
        ]
        if total > len(incidents):
            more = total - len(incidents)
            lines.append(_("…and %(count)d more.") % {"count": more})
    lines += ["", settings.SITE_URL.rstrip("/") + reverse("console:queue")]
    return "\n".join(lines)


def handoff_payload(*, schedule, user, start, until, incidents: list, total: int) -> dict:
    """The JSON a webhook receives at a hand-off: no incident of its own, the brand's open ones."""
    return {
        "event": "handoff",
        "brand": schedule.brand.slug,
        "schedule": {"id": schedule.pk, "name": schedule.name},
        "user": user.get_username(),
        "start": start.isoformat(),
        "until": until.isoformat() if until else None,
        "open_incidents": [
            {"id": i.pk, "title": i.title, "severity": i.severity, "state": i.state, "url": incident_link(i)}
            for i in incidents
        ],
        "open_incidents_total": total,
    }


def _local(instant: datetime, zone) -> str:
    local = instant.astimezone(zone)
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()}"
