"""What every key-authenticated adapter view shares: who may call it, and how it is throttled."""

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import extend_schema
from rest_framework.permissions import BasePermission
from rest_framework.views import APIView

from crisis.models import BrandKey
from crisis.tenancy import Principal

from .credentials import AdapterKeyAuthentication


class AdapterSchema(AutoSchema):
    """An adapter is listed twice, with and without `{key}/` in its path: two operation ids."""

    def get_operation_id(self):
        operation_id = super().get_operation_id()
        return f"{operation_id}_key_in_path" if "{key}" in self.path else operation_id


class HasIntegrationKey(BasePermission):
    def has_permission(self, request, view):
        return isinstance(request.auth, BrandKey)


@extend_schema(tags=["integrations"])
class KeyAdapterView(APIView):
    """
    An adapter authenticated by one of the brand's integration keys, in any form the
    sender can give it (`credentials.py`). Each adapter reads its body itself
    (`reading.json_body`, with its own size limit) and ignores query parameters.
    """

    schema = AdapterSchema()
    authentication_classes = [AdapterKeyAuthentication]
    permission_classes = [HasIntegrationKey]
    parser_classes = []  # the adapters read `request.body` themselves
    query_parameters = None  # senders add their own (API.md): none is refused

    @property
    def principal(self) -> Principal:
        return Principal.for_key(self.request.auth)
