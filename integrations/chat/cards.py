"""
What a Telegram message about an incident says, and its buttons.

An incident's card (title, severity, state, assignee, deadline, what happened last)
in the reader's language: a brand's group chat reads the brand's, a person their own
(`Profile.language`, else the brand's). Buttons: Claim and Investigate carry
`<action>:<incident id>` as callback data (Telegram allows 64 bytes; ours stay under
20), Open in console is a link.

A public statement's message (`statement`) shows the version it was written about;
for the people of the statement's current hop its Approve and Reject buttons carry
`<action>:<incident id>:<statement id>:<version>`, so that a press decides exactly the
text the person read (an edit since is refused, as the API refuses it).
"""

from typing import NamedTuple

from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from incidents import messages
from incidents.models import EventKind, Incident, State

from .client import CALLBACK_DATA_MAX_BYTES, MESSAGE_MAX

CLAIM, INVESTIGATE = "claim", "investigate"
APPROVE, REJECT = "approve", "reject"  # a statement's current hop
ACTIONS = {"c": CLAIM, "i": INVESTIGATE, "sa": APPROVE, "sr": REJECT}
CODES = {action: code for code, action in ACTIONS.items()}
STATEMENT_ACTIONS = frozenset({APPROVE, REJECT})


class Press(NamedTuple):
    """What a button's callback data asks for."""

    action: str
    incident_id: int
    statement_id: int | None = None
    version: int | None = None


# The first line of a person's message, by the reason the outbox wrote it for.
HEADLINES = {
    EventKind.ESCALATED: gettext_lazy("Escalation: nobody has claimed this incident yet"),
    EventKind.SLA_WARNING: gettext_lazy("The acknowledge deadline is close"),
    "resolve_overdue": gettext_lazy("Not resolved in time"),
    EventKind.STEP_OVERDUE: gettext_lazy("A playbook step is overdue"),
    EventKind.ROLE_ASSIGNED: gettext_lazy("You have a role in this incident"),
    EventKind.REASSIGNED: gettext_lazy("This incident is assigned to you"),
    EventKind.UPDATE_DUE: gettext_lazy("A status update is due"),
    EventKind.REVIEW_REMINDER: gettext_lazy("A review is due"),
    EventKind.STATUS_UPDATE: gettext_lazy("Status update"),
}

# What a group card says happened last, by timeline event.
HAPPENED = {
    EventKind.CREATED: gettext_lazy("New incident"),
    EventKind.CLAIMED: gettext_lazy("Claimed by %(actor)s"),
    EventKind.INVESTIGATING: gettext_lazy("Investigation started by %(actor)s"),
    EventKind.RESOLVED: gettext_lazy("Resolved by %(actor)s"),
    EventKind.REVIEWED: gettext_lazy("Reviewed by %(actor)s"),
    EventKind.REOPENED: gettext_lazy("Reopened by %(actor)s"),
    EventKind.REASSIGNED: gettext_lazy("Reassigned by %(actor)s"),
    EventKind.ESCALATED: gettext_lazy("Escalated: nobody has claimed it"),
    EventKind.SLA_WARNING: gettext_lazy("The acknowledge deadline is close"),
    EventKind.SEVERITY_CHANGED: gettext_lazy("Severity changed by %(actor)s"),
    EventKind.MERGED: gettext_lazy("Merged"),
    EventKind.SOURCE_ACKNOWLEDGED: gettext_lazy("Acknowledged at the source"),
    EventKind.SOURCE_RESOLVED: gettext_lazy("Resolved at the source"),
}


def callback_data(
    action: str, incident_id: int, statement_id: int | None = None, version: int | None = None
) -> str:
    numbers = (incident_id,) if action not in STATEMENT_ACTIONS else (incident_id, statement_id, version)
    data = ":".join([CODES[action], *map(str, numbers)])
    assert len(data.encode()) <= CALLBACK_DATA_MAX_BYTES
    return data


def parse_callback(data: str) -> Press | None:
    """What a button's data asks for, or None for anything we did not write."""
    code, *numbers = str(data or "")[:CALLBACK_DATA_MAX_BYTES].split(":")
    action = ACTIONS.get(code)
    wanted = 3 if action in STATEMENT_ACTIONS else 1
    if action is None or len(numbers) != wanted:
        return None
    # isdecimal and not isdigit: int() refuses superscripts that isdigit accepts.
    if not all(n.isdecimal() and n.isascii() and len(n) <= 18 for n in numbers):
        return None
    return Press(action, *map(int, numbers))


def buttons(incident: Incident) -> list[list[dict]]:
    """The inline keyboard of an incident's message (in the active language)."""
    rows = []
    if incident.state in (State.DETECTED, State.ACKNOWLEDGED, State.INVESTIGATED):
        rows.append(
            [
                {"text": _("Claim"), "callback_data": callback_data(CLAIM, incident.pk)},
                {"text": _("Investigate"), "callback_data": callback_data(INVESTIGATE, incident.pk)},
            ]
        )
    rows.append([{"text": _("Open in console"), "url": messages.incident_link(incident)}])
    return rows


def card(incident: Incident, *, happened: str = "") -> str:
    """The incident as a message shows it (in the active language), `happened` last."""
    labels = messages.display_labels()
    assignee = incident.assignee.get_username() if incident.assignee_id else "—"
    lines = [
        f"[{incident.brand.name}] {incident.title}",
        _("Severity: %(severity)s · State: %(state)s")
        % {
            "severity": labels[incident.severity],
            "state": labels[incident.state],
        },
        _("Assignee: %(name)s") % {"name": assignee},
    ]
    if incident.state == State.DETECTED:
        lines.append(_("Acknowledge by: %(at)s") % {"at": f"{incident.ack_due_at:%Y-%m-%d %H:%M} UTC"})
    if happened:
        lines.append("")
        lines.append(happened)
    return "\n".join(lines)[:MESSAGE_MAX]


def happened(kind: str, actor: str) -> str:
    text = HAPPENED.get(kind)
    return str(text) % {"actor": actor} if text is not None else ""


def personal(incident: Incident, *, reason: str, language: str) -> tuple[str, list]:
    """A person's message about `incident` (text, buttons), in `language`."""
    with translation.override(language):
        headline = HEADLINES.get(reason)
        text = card(incident)
        if headline is not None:
            text = f"{headline}\n\n{text}"
        return text[:MESSAGE_MAX], buttons(incident)


# The first line of a person's message about a public statement, by the reason it was written for.
STATEMENT_HEADLINES = {
    "statement_hop": gettext_lazy("A statement awaits your approval (%(hop)s)"),
    "statement_overdue": gettext_lazy("A statement is stuck in approval (%(hop)s)"),
    "statement_rejected": gettext_lazy("Your statement was rejected"),
    "statement_approved": gettext_lazy("Your statement is approved: ready to publish"),
}


def statement(
    incident: Incident,
    *,
    statement_id: int,
    version: int,
    body: str,
    channels: list[str],
    reason: str,
    hop: str,
    language: str,
    decide: bool,
    happened: str = "",
    rejected_by: str = "",
    comment: str = "",
) -> tuple[str, list]:
    """
    A person's message about version `version` of a statement (text, buttons) in
    `language`; Approve and Reject when `decide` (its current hop's people are told).
    A rejection tells its author who rejected it and why (`rejected_by`, `comment`).
    """
    with translation.override(language):
        if rejected_by:
            happened = _("Rejected by %(user)s: %(reason)s") % {"user": rejected_by, "reason": comment}
        headline = STATEMENT_HEADLINES.get(reason)
        head = [
            str(headline) % {"hop": hop} if headline is not None else "",
            "",
            f"[{incident.brand.name}] {incident.title}",
            _("Statement #%(id)d, version %(version)d · %(channels)s")
            % {
                "id": statement_id,
                "version": version,
                "channels": ", ".join(str(messages.CHANNEL_LABELS.get(c, c)) for c in channels),
            },
            "",
        ]
        tail = ["", happened] if happened else []
        room = MESSAGE_MAX - len("\n".join(head + tail)) - 2
        text = "\n".join([*head, body if len(body) <= room else body[: room - 1] + "…", *tail])
        rows = []
        if decide:
            rows.append(
                [
                    {
                        "text": _("Approve"),
                        "callback_data": callback_data(APPROVE, incident.pk, statement_id, version),
                    },
                    {
                        "text": _("Reject"),
                        "callback_data": callback_data(REJECT, incident.pk, statement_id, version),
                    },
                ]
            )
        link = f"{messages.incident_link(incident)}#statement-{statement_id}"
        rows.append([{"text": _("Open in console"), "url": link}])
        return text.lstrip("\n")[:MESSAGE_MAX], rows


def group(incident: Incident, *, kind: str, actor: str) -> tuple[str, list]:
    """A group card after the event `kind` by `actor`, in the brand's language."""
    with translation.override(incident.brand.language):
        return card(incident, happened=happened(kind, actor)), buttons(incident)
