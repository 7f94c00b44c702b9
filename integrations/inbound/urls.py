"""
The adapters' URLs, mounted at `/api/v1/integrations/` by config/urls.py.

A trailing slash is optional (a sender's URL field is copied by hand). The `{key}/`
forms are listed for the schema; at run time `credentials.KeyInPathMiddleware` has
already moved the key out of the path (it must never reach a log), so requests arrive
at the key-less form.
"""

from django.urls import re_path

from .alertmanager import AlertmanagerView
from .grafana import GrafanaView
from .meltwater import MeltwaterView
from .pagerduty import PagerDutyView
from .youscan import YouScanView

app_name = "integrations"

_KEY = r"(?P<key>[^/]+)"

urlpatterns = [
    re_path(r"^youscan/?$", YouScanView.as_view(), name="youscan"),
    re_path(rf"^youscan/{_KEY}/$", YouScanView.as_view(), name="youscan-key"),
    re_path(r"^meltwater/?$", MeltwaterView.as_view(), name="meltwater"),
    re_path(rf"^meltwater/{_KEY}/$", MeltwaterView.as_view(), name="meltwater-key"),
    re_path(r"^pagerduty/v2/enqueue/?$", PagerDutyView.as_view(), name="pagerduty"),
    re_path(r"^alertmanager/?$", AlertmanagerView.as_view(), name="alertmanager"),
    re_path(rf"^alertmanager/{_KEY}/$", AlertmanagerView.as_view(), name="alertmanager-key"),
    re_path(r"^grafana/?$", GrafanaView.as_view(), name="grafana"),
    re_path(rf"^grafana/{_KEY}/$", GrafanaView.as_view(), name="grafana-key"),
]
