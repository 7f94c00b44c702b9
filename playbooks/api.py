"""REST endpoints for playbooks and response templates. Thin: parse, call one service, answer."""

from django.db.models import Prefetch
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.response import Response

from crisis.permissions import IsUser
from crisis.tenancy import Principal

from . import services
from .models import PlaybookStep
from .serializers import (
    PlaybookInput,
    PlaybookOutput,
    ResponseTemplateInput,
    ResponseTemplateOutput,
)


class _Scoped(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet
):
    permission_classes = [IsUser]
    lookup_value_regex = r"[0-9]{1,18}"
    filterset_fields = ["category", "language"]
    input_class = None

    @property
    def principal(self) -> Principal:
        return Principal.from_request(self.request)

    def _save(self, request, instance):
        data = self.input_class(data=request.data, context={"principal": self.principal})
        data.is_valid(raise_exception=True)
        saved = self.saver(principal=self.principal, **{self.instance_kwarg: instance}, **data.validated_data)
        fresh = self.get_queryset().get(pk=saved.pk)
        return Response(
            self.get_serializer(fresh).data,
            status=status.HTTP_200_OK if instance else status.HTTP_201_CREATED,
        )

    def create(self, request):
        return self._save(request, None)

    def update(self, request, pk):
        return self._save(request, self.get_object())


class PlaybookViewSet(_Scoped):
    """Shared playbooks and the caller's brands' own; managers write their brand's."""

    serializer_class = PlaybookOutput
    input_class = PlaybookInput
    instance_kwarg = "playbook"
    saver = staticmethod(services.playbook_save)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return services.Playbook.objects.none()
        steps = Prefetch(
            "steps", queryset=PlaybookStep.objects.visible_to(self.principal).order_by("position", "id")
        )
        return services.playbooks_visible_to(self.principal).select_related("brand").prefetch_related(steps)

    @extend_schema(request=PlaybookInput, responses={201: PlaybookOutput})
    def create(self, request):
        return super().create(request)

    @extend_schema(request=PlaybookInput, responses={200: PlaybookOutput})
    def update(self, request, pk):
        return super().update(request, pk)

    def destroy(self, request, pk):
        services.playbook_delete(principal=self.principal, playbook=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


class ResponseTemplateViewSet(_Scoped):
    """Reply skeletons per category and language; render one for an incident with `render`."""

    serializer_class = ResponseTemplateOutput
    input_class = ResponseTemplateInput
    instance_kwarg = "template"
    saver = staticmethod(services.template_save)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return services.ResponseTemplate.objects.none()
        return services.templates_visible_to(self.principal).select_related("brand")

    @extend_schema(request=ResponseTemplateInput, responses={201: ResponseTemplateOutput})
    def create(self, request):
        return super().create(request)

    @extend_schema(request=ResponseTemplateInput, responses={200: ResponseTemplateOutput})
    def update(self, request, pk):
        return super().update(request, pk)

    def destroy(self, request, pk):
        services.template_delete(principal=self.principal, template=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)
