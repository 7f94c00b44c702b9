"""`{% inbound_adapters brand as adapters %}`: what the settings page shows of each adapter."""

from django import template
from django.conf import settings
from django.urls import reverse

register = template.Library()

# Each adapter: how its tool can present the key, in the order the page lists them.
ADAPTERS = (
    # (tool, label, the tool can set only a URL: the key goes in the path)
    ("youscan", "YouScan", True),
    ("meltwater", "Meltwater", True),
    ("pagerduty", "PagerDuty Events API v2", False),
    ("alertmanager", "Prometheus Alertmanager", False),
    ("grafana", "Grafana alerting", False),
)


@register.simple_tag
def inbound_adapters(brand) -> list[dict]:
    """The adapters with the URL to paste into each tool (`{key}` stands for the key), for `brand`."""
    site = settings.SITE_URL.rstrip("/")
    base = f"{site}/api/v1/integrations"
    paths = {
        "youscan": f"{base}/youscan/",
        "meltwater": f"{base}/meltwater/",
        "pagerduty": f"{base}/pagerduty/v2/enqueue",
        "alertmanager": f"{base}/alertmanager/",
        "grafana": f"{base}/grafana/",
    }
    return [
        {
            "tool": tool,
            "label": label,
            "url": paths[tool] + ("{key}/" if key_in_path else ""),
            "key_in_path": key_in_path,
            "test_url": reverse("integration-test-event", kwargs={"slug": brand.slug, "tool": tool}),
            "doc": f"docs/integrations/{tool}.md",
        }
        for tool, label, key_in_path in ADAPTERS
    ]
