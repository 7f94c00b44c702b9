"""
`GET|POST /api/v1/brands/{slug}/sources/`, `GET|PATCH|DELETE …/sources/{id}/` (API.md,
"Integrations"): a brand's managers configure its pulled sources. Another brand's source,
or one of a brand the caller is not in, is a 404; a responder or viewer gets 403.
"""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from api.errors import NotFound
from crisis.models import Role
from crisis.permissions import IsUser
from crisis.selectors import brand_for
from crisis.tenancy import Principal

from . import services
from .models import Source
from .serializers import SourceChange, SourceInput, SourceOutput


def _managed_brand(request, slug):
    return brand_for(Principal.from_request(request), slug, minimum_role=Role.MANAGER)


class SourceListView(GenericAPIView):
    permission_classes = [IsUser]
    serializer_class = SourceOutput
    queryset = Source.objects.none()  # for the schema only; rows come through the brand

    @extend_schema(responses={200: SourceOutput(many=True)})
    def get(self, request, slug):
        brand = _managed_brand(request, slug)
        page = self.paginate_queryset(brand.sources.order_by("name", "pk"))
        return self.get_paginated_response(SourceOutput(page, many=True).data)

    @extend_schema(request=SourceInput, responses={201: SourceOutput})
    def post(self, request, slug):
        data = SourceInput(data=request.data)
        data.is_valid(raise_exception=True)
        brand = _managed_brand(request, slug)
        source = services.source_create(brand=brand, **data.validated_data)
        return Response(SourceOutput(source).data, status=status.HTTP_201_CREATED)


class SourceDetailView(GenericAPIView):
    permission_classes = [IsUser]
    serializer_class = SourceOutput
    queryset = Source.objects.none()  # for the schema only; rows come through the brand

    def _source(self, request, slug, pk):
        source = _managed_brand(request, slug).sources.filter(pk=pk).first()
        if source is None:
            raise NotFound()
        return source

    @extend_schema(responses={200: SourceOutput})
    def get(self, request, slug, pk):
        return Response(SourceOutput(self._source(request, slug, pk)).data)

    @extend_schema(request=SourceChange, responses={200: SourceOutput})
    def patch(self, request, slug, pk):
        data = SourceChange(data=request.data)
        data.is_valid(raise_exception=True)
        source = services.source_update(source=self._source(request, slug, pk), **data.validated_data)
        return Response(SourceOutput(source).data)

    @extend_schema(request=None, responses={204: None})
    def delete(self, request, slug, pk):
        services.source_delete(source=self._source(request, slug, pk))
        return Response(status=status.HTTP_204_NO_CONTENT)
