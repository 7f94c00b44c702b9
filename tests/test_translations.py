"""The Russian catalogue is complete and the compiled one matches it."""

import re
from pathlib import Path

import polib
import pytest
from django.utils import translation

CATALOGUE = Path(__file__).resolve().parent.parent / "locale/ru/LC_MESSAGES"


def messages(catalogue) -> dict:
    """msgid -> its translation (the plural forms for a plural entry), obsolete entries left out."""
    return {entry.msgid: entry.msgstr_plural or entry.msgstr for entry in catalogue if not entry.obsolete}


def test_every_message_is_translated_and_none_is_fuzzy():
    po = polib.pofile(str(CATALOGUE / "django.po"))
    assert len(po) > 200
    assert [e.msgid for e in po.fuzzy_entries()] == []
    # polib counts a plural entry as untranslated while any of its forms is empty.
    assert [e.msgid for e in po.untranslated_entries()] == []


def test_the_compiled_catalogue_is_up_to_date():
    """`manage.py compilemessages` was run after the last edit of the .po file."""
    po = messages(polib.pofile(str(CATALOGUE / "django.po")))
    mo = messages(polib.mofile(str(CATALOGUE / "django.mo")))
    mo.pop("", None)  # the compiled header
    stale = sorted(msgid for msgid in po.keys() | mo.keys() if po.get(msgid) != mo.get(msgid))
    assert stale == []


def choice_names() -> dict[str, list]:
    """The names people read for roles and timeline events, as the code declares them (lazy)."""
    from crisis.models import Role
    from incidents import messages as desk_messages
    from incidents.chain import LEVEL_ROLE_CHOICES
    from incidents.models import ChannelKind, EscalationKind, EventKind, NotificationStatus
    from playbooks.models import STEP_ROLES

    return {
        "roles": [label for _value, label in Role.choices],
        "escalation level roles": [label for _value, label in LEVEL_ROLE_CHOICES],
        "playbook step roles": [label for _value, label in STEP_ROLES],
        "no one in a role": list(desk_messages.NO_ONE_IN_ROLE.values()),
        "event kinds": [label for _value, label in EventKind.choices],
        "escalation kinds": [label for _value, label in EscalationKind.choices],
        "channel kinds": [label for _value, label in ChannelKind.choices],
        "channel names on the timeline": list(desk_messages.CHANNEL_NAMES.values()),
        "delivery states": [label for _value, label in NotificationStatus.choices],
    }


@pytest.mark.parametrize("group", list(choice_names()))
def test_role_names_and_event_kinds_are_in_the_russian_catalogue(group):
    """
    A role or an event kind added without its Russian name shows up in English (or as a
    raw code) on Russian pages: the catalogue must hold every one, translated.
    """
    catalogue = messages(polib.pofile(str(CATALOGUE / "django.po")))
    missing = []
    for label in choice_names()[group]:
        with translation.override("en"):
            msgid = str(label)
        with translation.override("ru"):
            russian = str(label)
        if not catalogue.get(msgid) or russian == msgid:
            missing.append(msgid)
    assert missing == [], f"{group} without Russian: {missing}"


# The desk's terms and the Russian word each must use, wherever it appears: one thing, one
# name (an executive is a «ключевой коммуникатор» on the settings page, in the timeline and
# in the warnings alike).
GLOSSARY = {
    r"\bexecutives?\b": "ключев",
    r"\bescalat": "эскалац",
    r"\bplaybooks?\b": "плейбук",
    r"\bresponders?\b": "дежурн",
    r"\bmanagers?\b": "руководител",
    r"\bviewers?\b": "наблюдател",
    r"\bfollow-ups?\b": "дальнейш",
    r"\bintegration keys?\b": "ключ",
    r"\bchecklists?\b": "чек-лист",
}


def test_the_same_term_has_the_same_russian_everywhere():
    placeholders = re.compile(r"%\(\w+\)[sd]|\{\w+\}")
    po = polib.pofile(str(CATALOGUE / "django.po"))
    stray = []
    for entry in po:
        if entry.obsolete:
            continue
        english = placeholders.sub("", entry.msgid)
        for term, russian in GLOSSARY.items():
            if not re.search(term, english, re.IGNORECASE):
                continue
            for translated in [entry.msgstr, *entry.msgstr_plural.values()]:
                if translated and russian not in translated.lower():
                    stray.append((entry.msgid, translated))
    assert stray == []
