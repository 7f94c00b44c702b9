"""The Russian catalogue is complete and the compiled one matches it."""

import gettext
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PO = ROOT / "locale/ru/LC_MESSAGES/django.po"
MO = ROOT / "locale/ru/LC_MESSAGES/django.mo"


def po_entries() -> list[dict]:
    """(flags, msgid, msgid_plural, msgstr…) of each entry, strings joined; enough for our file."""
    entries, entry, key = [], None, None
    for line in [*PO.read_text(encoding="utf-8").splitlines(), ""]:  # "" ends the last entry
        if not line.strip():
            if entry:
                entries.append(entry)
            entry, key = None, None
            continue
        entry = entry if entry is not None else {"flags": ""}
        if line.startswith("#,"):
            entry["flags"] += line
        elif line.startswith("#"):
            continue
        elif match := re.match(r'(msgid|msgid_plural|msgstr(?:\[\d\])?) "(.*)"$', line):
            key = match.group(1)
            entry[key] = match.group(2)
        elif line.startswith('"') and key:
            entry[key] += line[1:-1]
    return [e for e in entries if e.get("msgid")]  # not the header


def test_every_message_is_translated_and_none_is_fuzzy():
    entries = po_entries()
    assert len(entries) > 200
    fuzzy = [e["msgid"] for e in entries if "fuzzy" in e["flags"]]
    untranslated = [e["msgid"] for e in entries
                    if not all(v for k, v in e.items() if k.startswith("msgstr"))]
    assert (fuzzy, untranslated) == ([], [])


def test_the_compiled_catalogue_is_up_to_date():
    """`manage.py compilemessages` was run after the last edit of the .po file."""
    with MO.open("rb") as compiled:
        catalogue = gettext.GNUTranslations(compiled)
    stale = []
    for entry in po_entries():
        msgid = entry["msgid"].encode().decode("unicode_escape").encode("latin-1").decode()
        if "msgid_plural" in entry:
            continue  # plural entries: checked as complete above
        expected = entry["msgstr"].encode().decode("unicode_escape").encode("latin-1").decode()
        if catalogue.gettext(msgid) != expected:
            stale.append(msgid)
    assert stale == []
