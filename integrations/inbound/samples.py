"""
One event per tool in its documented shape, for the console's "send a test event": it
goes through the same adapter code as the tool's own posts, marked as a test (its
title, ids and `source_details` say so). An alert is sent firing and then resolved, so
the test incident stops its own escalation and waits in the queue for a person to close.
"""

import uuid
from datetime import datetime

from django.utils.translation import gettext as _

TEST_MARK = "crisis-desk-test"


def youscan(now: datetime) -> dict:
    return {
        "topicId": 0,
        "topicName": TEST_MARK,
        "mentionId": uuid.uuid4().int % 10**15,
        "published": now.isoformat(),
        "sourceName": "crisis-desk.test",
        "postType": "post",
        "resourceType": "other",
        "text": _("Test mention from Crisis Desk: the YouScan adapter works."),
        "sentiment": "neutral",
    }


def meltwater(now: datetime) -> dict:
    return {
        "request": {"company_id": TEST_MARK, "hook_id": TEST_MARK, "inputs": []},
        "documents": [
            {
                "id": f"{TEST_MARK}-{uuid.uuid4().hex}",
                "published_date": now.isoformat(),
                "source": {"information_type": "other", "name": "Crisis Desk"},
                "content": {"opening_text": _("Test mention from Crisis Desk: the Meltwater adapter works.")},
                "enrichments": {"sentiment": "neutral"},
            }
        ],
    }


def pagerduty(now: datetime, *, action: str, dedup_key: str) -> dict:
    return {
        "event_action": action,
        "dedup_key": dedup_key,
        "payload": {
            "summary": _("Test event from Crisis Desk: the PagerDuty adapter works"),
            "source": TEST_MARK,
            "severity": "info",
            "timestamp": now.isoformat(),
            "custom_details": {"test": True},
        },
    }


def alert_group(now: datetime, *, tool: str, status: str, fingerprint: str) -> dict:
    return {
        "version": "4" if tool == "alertmanager" else "1",
        "status": status,
        "receiver": TEST_MARK,
        "groupLabels": {"alertname": "CrisisDeskTest"},
        "alerts": [
            {
                "status": status,
                "labels": {"alertname": "CrisisDeskTest", "severity": "low", "test": "true"},
                "annotations": {
                    "summary": _("Test alert from Crisis Desk: the %(tool)s adapter works") % {"tool": tool},
                },
                "startsAt": now.isoformat(),
                "endsAt": now.isoformat() if status == "resolved" else "0001-01-01T00:00:00Z",
                "fingerprint": fingerprint,
            }
        ],
    }
