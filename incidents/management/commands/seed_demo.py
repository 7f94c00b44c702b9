"""
Create a demo brand whose escalations reach people, file a first incident, and print the logins.

The demo is set up so that an escalation visibly reaches someone: everyone has an
e-mail, the director is the brand's executive (level 2 of the default chain) and hears
through a channel of their own, and the first incident became public 14 minutes before
seeding, so its acknowledge deadline passes about a minute after `make run` starts: level
1 e-mails the manager then, level 2 the director ten minutes later. Without EMAIL_URL the
e-mails are files under VAR_DIR/mail/ (config/settings.py).
"""

import os
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from crisis.models import Brand, Role
from crisis.tenancy import Principal
from incidents import filing
from incidents.models import Category, ChannelKind, ContactChannel, Incident, Severity

DOMAIN = "demo-coffee.example"

# username, password, role in the demo brand (None: superuser), executive
DEMO_USERS = [
    ("admin", "crisis-admin", None, False),
    ("manager", "crisis-manager", Role.MANAGER, False),
    ("responder", "crisis-responder", Role.RESPONDER, False),
    ("director", "crisis-director", Role.VIEWER, True),
]

# Channels of their own (a user without one gets their account e-mail): the director
# reads the desk's alerts in a mailbox on the phone.
DEMO_CHANNELS = [("director", ChannelKind.EMAIL, f"director.phone@{DOMAIN}")]

# How long before seeding the first incident's complaint became public: its acknowledge
# deadline (high: 15 minutes) passes a minute after the demo starts.
FIRST_INCIDENT_AGE = timedelta(minutes=14)


class Command(BaseCommand):
    help = "Create the demo brand and users for the embedded mode; safe to run again."

    @transaction.atomic
    def handle(self, *args, **options):
        User = get_user_model()
        brand, _ = Brand.objects.get_or_create(slug="demo", defaults={"name": "Demo Coffee Co."})
        for username, password, role, executive in DEMO_USERS:
            user, _ = User.objects.get_or_create(username=username)
            user.set_password(password)
            user.email = f"{username}@{DOMAIN}"
            user.is_staff = True
            user.is_superuser = role is None
            user.save()
            if role:
                brand.memberships.update_or_create(
                    user=user, defaults={"role": role, "is_executive": executive}
                )
        for username, kind, target in DEMO_CHANNELS:
            ContactChannel.objects.get_or_create(
                user=User.objects.get(username=username), kind=kind, target=target
            )
        if not Incident.objects.for_brands([brand.pk]).exists():
            manager = User.objects.get(username="manager")
            filing.incident_file(
                principal=Principal.for_user(manager),
                brand=brand,
                title="Wave of angry comments about cold deliveries",
                description="Dozens of VK comments in the last 10 minutes under the promo post.",
                category=Category.NEGATIVE_WAVE,
                severity=Severity.HIGH,
                channel="vk",
                dedup_key="demo-wave-1",
                detected_at=timezone.now() - FIRST_INCIDENT_AGE,
            )
        port = os.environ.get("PORT", "8000")
        self.stdout.write(self.style.SUCCESS(f"\nCrisis Desk is at http://127.0.0.1:{port}/"))
        self.stdout.write(f"  API docs: http://127.0.0.1:{port}/api/docs/   admin: /admin/")
        for username, password, role, executive in DEMO_USERS:
            who = "executive" if executive else role or "superuser"
            self.stdout.write(f"  {who:10} {username} / {password}")
        if getattr(settings, "EMAIL_FILE_PATH", None) and settings.EMAIL_BACKEND.endswith(
            "filebased.EmailBackend"
        ):
            self.stdout.write(
                f"  E-mail the desk sends is written to {settings.EMAIL_FILE_PATH}/ (one file each)"
            )
