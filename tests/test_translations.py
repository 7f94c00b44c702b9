"""The Russian catalogue is complete and the compiled one matches it."""

from pathlib import Path

import polib

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
