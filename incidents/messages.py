"""
What the desk's notifications say: subjects, the e-mail body, the webhook payload, the link.

Every text a person receives about an incident, or with an invitation to a brand, is
here, translated in the language active when the notification is written; the clock
decides when to send and whom to tell, the outbox how to deliver.
"""

import re
from datetime import datetime

from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from crisis.models import Invitation, Role, Severity

from .models import EventKind, Incident, State

# Keyed by the reason a notification is sent (an event kind, or a finer reason).
SUBJECTS = {
    EventKind.SLA_WARNING: gettext_lazy("[%(brand)s] Unclaimed for too long: %(title)s"),
    EventKind.ESCALATED: gettext_lazy("[%(brand)s] Escalation level %(level)d: %(title)s"),
    "resolve_overdue": gettext_lazy("[%(brand)s] Not resolved in time: %(title)s"),
    EventKind.REVIEW_REMINDER: gettext_lazy("[%(brand)s] Review is due: %(title)s"),
    EventKind.STEP_OVERDUE: gettext_lazy("[%(brand)s] Step overdue: %(step)s (%(title)s)"),
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
    """The plain-text body of an e-mail about `incident`."""
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
