"""
The console's side of the adapters: "send a test event" on a brand's settings page.

The partial `console/_integrations.html` (included by brand_settings.html) lists the
adapters with the URL to paste into each tool; its buttons post here. A test event runs
through the adapter's own code (not its HTTP view: the console has no key to send, only
the manager signed in, who files it), so what a real post would store, a test stores.
"""

import uuid

import msgspec
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from api.errors import Forbidden, NotFound
from crisis.models import Role
from crisis.selectors import brand_for
from crisis.tenancy import Principal

from . import alerts, meltwater, pagerduty, samples, youscan

TOOLS = ("youscan", "meltwater", "pagerduty", "alertmanager", "grafana")


@login_required
@require_POST
def send_test_event(request, slug, tool):
    """Send one test event of `tool` for the brand (its managers), then back to the settings page."""
    if tool not in TOOLS:
        raise Http404
    principal = Principal.for_user(request.user)
    try:
        brand = brand_for(principal, slug, minimum_role=Role.MANAGER)
    except NotFound:
        raise Http404 from None
    except Forbidden as error:
        raise PermissionDenied(str(error.detail)) from None
    now = timezone.now()
    with transaction.atomic():
        if tool == "youscan":
            answer = youscan.receive(principal=principal, brand=brand, doc=samples.youscan(now))
            done = _("YouScan test mention stored (%(accepted)d new).") % answer
        elif tool == "meltwater":
            answer = meltwater.receive(
                principal=principal,
                brand=brand,
                batch=msgspec.convert(samples.meltwater(now), meltwater.Batch),
            )
            done = _("Meltwater test mention stored (%(accepted)d new).") % answer
        elif tool == "pagerduty":
            key = f"{samples.TEST_MARK}-{uuid.uuid4().hex[:12]}"
            for action in ("trigger", "resolve"):
                pagerduty.receive(
                    principal=principal,
                    brand=brand,
                    event=samples.pagerduty(now, action=action, dedup_key=key),
                )
            done = _("PagerDuty test incident filed and resolved at the source (dedup key %(key)s).") % {
                "key": key
            }
        else:
            prefix = "am" if tool == "alertmanager" else "grafana"
            fingerprint = f"{samples.TEST_MARK}-{uuid.uuid4().hex[:12]}"
            for status in ("firing", "resolved"):
                group = samples.alert_group(now, tool=tool, status=status, fingerprint=fingerprint)
                answer = alerts.receive_group(principal=principal, brand=brand, group=group, prefix=prefix)
            done = _("%(tool)s test incident filed and resolved at the source (#%(id)s).") % {
                "tool": tool.capitalize(),
                "id": ", #".join(map(str, answer["incidents"])),
            }
    messages.success(request, done)
    return redirect("console:brand-settings", slug=brand.slug)
