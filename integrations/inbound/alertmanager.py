"""
Prometheus Alertmanager's webhook receiver (`webhook_configs`, payload `version` "4").

In `alertmanager.yml`: `url: https://desk.example/api/v1/integrations/alertmanager/` with
`http_config: {authorization: {type: Api-Key, credentials: <key>}}` (or `basic_auth`
with the key as the password, or the key at the end of the URL), `send_resolved: true`.
Each alert of a group is one incident with the dedup key `am:<fingerprint>`
(`alerts.py` has the rules); the answer is 200 `{"incidents": [ids]}`.
"""

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response

from . import alerts, reading
from .base import KeyAdapterView

PREFIX = "am"
BODY_LIMIT = 2 * 1024 * 1024

GROUP_ANSWER = inline_serializer(
    "AlertGroupAnswer", {"incidents": serializers.ListField(child=serializers.IntegerField())}
)


class AlertmanagerView(KeyAdapterView):
    """`POST /integrations/alertmanager/[{key}/]`: an Alertmanager alert group → 200."""

    @extend_schema(request={"application/json": {"type": "object"}}, responses={200: GROUP_ANSWER})
    def post(self, request, key=None):
        group = reading.json_body(request, limit=BODY_LIMIT)
        return Response(
            alerts.receive_group(
                principal=self.principal, brand=request.auth.brand, group=group, prefix=PREFIX
            )
        )
