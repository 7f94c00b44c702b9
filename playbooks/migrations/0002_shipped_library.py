"""Load the shared playbook and template library (playbooks/library/v1.json), in English and Russian."""

import json
from pathlib import Path

from django.db import migrations

LIBRARY = Path(__file__).resolve().parent.parent / "library" / "v1.json"


def load(apps, schema_editor):
    Playbook = apps.get_model("playbooks", "Playbook")
    PlaybookStep = apps.get_model("playbooks", "PlaybookStep")
    ResponseTemplate = apps.get_model("playbooks", "ResponseTemplate")
    library = json.loads(LIBRARY.read_text(encoding="utf-8"))
    for category, spec in library["playbooks"].items():
        for language in ("en", "ru"):
            playbook = Playbook.objects.create(
                brand=None, name=spec[language], category=category, severities=[],
                language=language,
            )
            for position, step in enumerate(spec["steps"]):
                if isinstance(step, str):
                    step = library["common"][step]
                title, description = step[language]
                PlaybookStep.objects.create(
                    playbook=playbook, position=position, title=title, description=description,
                    role=step["role"], due_after_seconds=step["due"], required=step["required"],
                )
    for category, spec in library["templates"].items():
        for language in ("en", "ru"):
            name, body = spec[language]
            ResponseTemplate.objects.create(brand=None, name=name, category=category,
                                            language=language, body=body)


def unload(apps, schema_editor):
    apps.get_model("playbooks", "Playbook").objects.filter(brand=None).delete()
    apps.get_model("playbooks", "ResponseTemplate").objects.filter(brand=None).delete()


class Migration(migrations.Migration):
    dependencies = [("playbooks", "0001_initial")]
    operations = [migrations.RunPython(load, unload)]
