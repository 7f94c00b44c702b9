"""Create a demo brand with a manager and a responder (and a first incident), and print the logins."""

import os

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from crisis.models import Brand, Role
from crisis.tenancy import Principal
from incidents import filing
from incidents.models import Category, Incident, Severity

DEMO_USERS = [
    # username, password, role in the demo brand (None: superuser)
    ("admin", "crisis-admin", None),
    ("manager", "crisis-manager", Role.MANAGER),
    ("responder", "crisis-responder", Role.RESPONDER),
]


class Command(BaseCommand):
    help = "Create the demo brand and users for the embedded mode; safe to run again."

    @transaction.atomic
    def handle(self, *args, **options):
        User = get_user_model()
        brand, _ = Brand.objects.get_or_create(slug="demo", defaults={"name": "Demo Coffee Co."})
        for username, password, role in DEMO_USERS:
            user, _ = User.objects.get_or_create(username=username)
            user.set_password(password)
            user.is_staff = True
            user.is_superuser = role is None
            user.save()
            if role:
                brand.memberships.update_or_create(user=user, defaults={"role": role})
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
            )
        port = os.environ.get("PORT", "8000")
        self.stdout.write(self.style.SUCCESS(f"\nCrisis Desk is at http://127.0.0.1:{port}/"))
        self.stdout.write(f"  API docs: http://127.0.0.1:{port}/api/docs/   admin: /admin/")
        for username, password, role in DEMO_USERS:
            self.stdout.write(f"  {role or 'superuser':10} {username} / {password}")
