from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CrisisConfig(AppConfig):
    name = "crisis"
    verbose_name = _("Brands and access")

    def ready(self):
        from . import (
            checks,  # noqa: F401 - registers the system checks
            signals,  # noqa: F401 - password changes and deactivations revoke tokens
        )
