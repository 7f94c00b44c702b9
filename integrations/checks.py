"""System checks of the integrations app."""

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.security, deploy=True)
def source_credentials_key(app_configs, **kwargs):
    """Without its own key, sources' tokens are sealed under one derived from SECRET_KEY."""
    if getattr(settings, "SOURCE_CREDENTIALS_KEY", ""):
        return []
    return [
        Warning(
            "SOURCE_CREDENTIALS_KEY is not set: pulled sources' API tokens are sealed with a key "
            "derived from SECRET_KEY, so rotating SECRET_KEY makes them unreadable.",
            hint="Set SOURCE_CREDENTIALS_KEY to a Fernet key (see .env.example).",
            id="integrations.W001",
        )
    ]
