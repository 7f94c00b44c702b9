"""
Grafana alerting's webhook contact point.

In Grafana: Alerting → Contact points → Add contact point → Webhook, URL
`https://desk.example/api/v1/integrations/grafana/`, and under Optional settings either
Authorization header scheme `Api-Key` with the key as its credentials, or Basic
authentication with the key as the password (or the key at the end of the URL). Its
HTTP method may be POST or PUT; both are taken. The body is Alertmanager's shape with
Grafana's additions (`orgId`, `state`, `title`, `message`, per alert `silenceURL`,
`dashboardURL`, `panelURL`, `values`, `imageURL`); each alert is one incident with the
dedup key `grafana:<fingerprint>` (`alerts.py`).
"""

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from . import alerts, reading
from .alertmanager import GROUP_ANSWER
from .base import KeyAdapterView

PREFIX = "grafana"
BODY_LIMIT = 2 * 1024 * 1024


class GrafanaView(KeyAdapterView):
    """`POST` (or `PUT`) `/integrations/grafana/[{key}/]`: a Grafana alert group → 200."""

    @extend_schema(request={"application/json": {"type": "object"}}, responses={200: GROUP_ANSWER})
    def post(self, request, key=None):
        group = reading.json_body(request, limit=BODY_LIMIT)
        return Response(
            alerts.receive_group(
                principal=self.principal, brand=request.auth.brand, group=group, prefix=PREFIX
            )
        )

    @extend_schema(request={"application/json": {"type": "object"}}, responses={200: GROUP_ANSWER})
    def put(self, request, key=None):
        return self.post(request, key)
