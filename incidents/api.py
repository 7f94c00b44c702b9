"""REST endpoints of the desk (API.md "Incidents", brand SLA policy): parse, call one service, answer."""

import csv
import io
import json
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django.http import StreamingHttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from api.errors import Forbidden, NotFound
from api.renderers import CSVRenderer, csv_cell
from crisis.mention_input import request_schema as mention_request_schema
from crisis.mention_input import validate_mention_batch
from crisis.models import Brand, Role
from crisis.permissions import IsUser, IsUserOrIntegrationKey
from crisis.selectors import brand_for
from crisis.tenancy import Principal
from playbooks.services import templates_visible_to

from . import (
    chain,
    command,
    filing,
    idempotency,
    outbox,
    policies,
    reports,
    selectors,
    services,
    statements,
    waves,
)
from .filters import IncidentFilter
from .models import ContactChannel, State, Statement, TimelineEvent
from .reach import Reacher
from .selectors import (
    checklists_for_display,
    incident_for_display,
    incidents_for_display,
    incidents_visible_to,
    reply_render,
    sla_targets_for,
    timeline_of,
    wave_figures,
)
from .serializers import (
    AttachPlaybookInput,
    CommentInput,
    ContactChannelInput,
    ContactChannelOutput,
    EscalationChainInput,
    IncidentInput,
    IncidentOutput,
    LinkInput,
    MentionIntakeOutput,
    MergeInput,
    ReassignInput,
    RenderInput,
    RenderOutput,
    ReopenInput,
    ReportOutput,
    ReportQuery,
    ResolveInput,
    ReviewInput,
    RoleInput,
    SeverityInput,
    SlaPolicyInput,
    StatementApproveInput,
    StatementDiffOutput,
    StatementDiffQuery,
    StatementEditInput,
    StatementInput,
    StatementOutput,
    StatementPublishInput,
    StatementRejectInput,
    StatementRouteInput,
    StatusUpdateInput,
    StatusUpdateOutput,
    StepCompleteInput,
    TimelineEventOutput,
    UpdatesPolicyInput,
    UpdatesPolicyOutput,
    WaveMentionOutput,
    WaveMentionsOutput,
    WaveMentionsQuery,
    WaveOutput,
    incident_answer,
)
from .sla import SlaTarget

_STATE = "(" + "|".join(State.values) + ")"
STATE_LIST_PATTERN = f"^{_STATE}(,{_STATE})*$"

# What an integration key learns when its dedup_key hits an open incident another filed.
# No additional properties: the whole incident must not pass for it, nor it for the whole.
DUPLICATE_COUNTED = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "state": {"type": "string", "enum": list(State.values)},
        "duplicate_count": {"type": "integer"},
    },
    "required": ["id", "state", "duplicate_count"],
    "additionalProperties": False,
}

IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description="A retry with the same key and body replays the first response.",
)


class IncidentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Incidents of the caller's brands; keys see only what they filed."""

    serializer_class = IncidentOutput
    filterset_class = IncidentFilter
    lookup_value_regex = r"[0-9]{1,18}"
    query_parameters = ()  # the actions that read some declare them

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "state",
                OpenApiTypes.STR,
                OpenApiParameter.QUERY,
                required=False,
                description="Comma-separated states.",
                pattern=STATE_LIST_PATTERN,
            )
        ]
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def get_permissions(self):
        # Integration keys file incidents and read what they filed; nothing else.
        if self.action in ("create", "list", "retrieve", "timeline"):
            return [IsUserOrIntegrationKey()]
        return [IsUser()]

    @property
    def principal(self) -> Principal:
        return Principal.from_request(self.request)

    def get_queryset(self):
        return incidents_for_display(self.principal)

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "principal": self.principal}

    # One incident's answer is built by incident_answer (held to IncidentOutput by a
    # test): DRF's per-instance build of IncidentOutput cost filing its target's margin.
    def _answer(self, incident, status_code=status.HTTP_200_OK) -> Response:
        return Response(
            incident_answer(incident_for_display(incident), principal=self.principal), status=status_code
        )

    def retrieve(self, request, *args, **kwargs):
        return Response(incident_answer(self.get_object(), principal=self.principal))

    @extend_schema(
        request=IncidentInput,
        parameters=[IDEMPOTENCY_HEADER],
        responses={
            201: IncidentOutput,
            200: {"oneOf": [{"$ref": "#/components/schemas/IncidentOutput"}, DUPLICATE_COUNTED]},
        },
    )
    def create(self, request):
        data = IncidentInput(data=request.data, context={"principal": self.principal})
        data.is_valid(raise_exception=True)
        key = request.headers.get("Idempotency-Key")
        if key is None:
            return self._file(data.validated_data)
        if not key or len(key) > idempotency.MAX_KEY_LENGTH:
            raise ValidationError({"Idempotency-Key": [_("Must be 1 to 255 characters.")]})

        def work():
            response = self._file(data.validated_data)
            return response.status_code, response.data

        status_code, body = idempotency.run_once(
            principal=self.principal, key=key, payload=request.data, work=work
        )
        return Response(body, status=status_code)

    def _file(self, fields) -> Response:
        filed = filing.incident_file(principal=self.principal, **fields)
        # The incident the service returns (new, or the open one a duplicate counted
        # on) already holds its brand, assignee and reporter, and a new one the
        # checklist it was filed with: no display query again. A duplicate's checklist
        # is one plain query (Prefetch's machinery costs more than the query itself);
        # follow-ups need none: only reviewed (closed) incidents have them.
        incident = filed.incident
        if not filed.readable:
            return Response(
                {"id": incident.pk, "state": incident.state, "duplicate_count": incident.duplicate_count}
            )
        checklist = filed.checklist
        if checklist is None:
            checklist = list(checklists_for_display(incident.checklist.all()))
        return Response(
            incident_answer(incident, principal=self.principal, checklist=checklist),
            status=status.HTTP_201_CREATED if filed.created else status.HTTP_200_OK,
        )

    @extend_schema(request=None, responses={200: IncidentOutput})
    @action(detail=True, methods=["post"])
    def claim(self, request, pk):
        return self._answer(services.incident_claim(incident_id=pk, principal=self.principal))

    @extend_schema(request=None, responses={200: IncidentOutput})
    @action(detail=True, methods=["post"])
    def investigate(self, request, pk):
        return self._answer(services.incident_investigate(incident_id=pk, principal=self.principal))

    @extend_schema(request=ResolveInput, responses={200: IncidentOutput})
    @action(detail=True, methods=["post"])
    def resolve(self, request, pk):
        data = ResolveInput(data=request.data)
        data.is_valid(raise_exception=True)
        return self._answer(
            services.incident_resolve(incident_id=pk, principal=self.principal, **data.validated_data)
        )

    @extend_schema(request=ReviewInput, responses={200: IncidentOutput})
    @action(detail=True, methods=["post"])
    def review(self, request, pk):
        data = ReviewInput(data=request.data)
        data.is_valid(raise_exception=True)
        return self._answer(
            services.incident_review(incident_id=pk, principal=self.principal, **data.validated_data)
        )

    @extend_schema(request=None, responses={200: IncidentOutput})
    @action(detail=True, methods=["post"], url_path=r"follow-ups/(?P<follow_up_id>[0-9]{1,18})/complete")
    def complete_follow_up(self, request, pk, follow_up_id):
        return self._answer(
            services.incident_follow_up_done(
                incident_id=pk, follow_up_id=follow_up_id, principal=self.principal
            )
        )

    @extend_schema(request=ReopenInput, responses={200: IncidentOutput})
    @action(detail=True, methods=["post"])
    def reopen(self, request, pk):
        data = ReopenInput(data=request.data)
        data.is_valid(raise_exception=True)
        return self._answer(
            services.incident_reopen(incident_id=pk, principal=self.principal, **data.validated_data)
        )

    @extend_schema(request=ReassignInput, responses={200: IncidentOutput})
    @action(detail=True, methods=["post"])
    def reassign(self, request, pk):
        data = ReassignInput(data=request.data)
        data.is_valid(raise_exception=True)
        return self._answer(
            services.incident_reassign(incident_id=pk, principal=self.principal, **data.validated_data)
        )

    @extend_schema(
        request=None,
        responses={
            (200, "application/json"): TimelineEventOutput(many=True),
            (200, "text/csv"): OpenApiTypes.STR,
        },
    )
    @action(
        detail=True,
        methods=["get"],
        filterset_class=None,
        serializer_class=TimelineEventOutput,
        renderer_classes=[JSONRenderer, CSVRenderer],
    )
    def timeline(self, request, pk):
        """The incident's events in order; `?format=csv` exports all of them at once."""
        incident = self.get_object()
        events = timeline_of(incident)
        if request.accepted_renderer.format == "csv":
            self.csv_columns = TIMELINE_COLUMNS
            return Response(TimelineEventOutput(events, many=True).data)
        page = self.paginate_queryset(events)
        return self.get_paginated_response(TimelineEventOutput(page, many=True).data)

    @extend_schema(request=StepCompleteInput, responses={200: IncidentOutput})
    @action(detail=True, methods=["post"], url_path=r"steps/(?P<step_id>[0-9]{1,18})/complete")
    def complete_step(self, request, pk, step_id):
        data = StepCompleteInput(data=request.data)
        data.is_valid(raise_exception=True)
        return self._answer(
            services.incident_step_complete(
                incident_id=pk, step_id=step_id, principal=self.principal, **data.validated_data
            )
        )

    @extend_schema(request=AttachPlaybookInput, responses={200: IncidentOutput})
    @action(detail=True, methods=["post"])
    def playbooks(self, request, pk):
        data = AttachPlaybookInput(data=request.data)
        data.is_valid(raise_exception=True)
        return self._answer(
            services.incident_attach_playbook(
                incident_id=pk, principal=self.principal, playbook_id=data.validated_data["playbook"]
            )
        )

    @extend_schema(request=None, responses={200: WaveOutput})
    @action(detail=True, methods=["get"], filterset_class=None)
    def wave(self, request, pk):
        """The mentions behind the incident, and the negative share before and after the response."""
        return Response(wave_figures(self.get_object(), now=timezone.now()))

    @extend_schema(parameters=[WaveMentionsQuery], responses={200: WaveMentionsOutput})
    @action(
        detail=True,
        methods=["get"],
        filterset_class=None,
        pagination_class=None,
        query_parameters=tuple(WaveMentionsQuery().fields),
    )
    def mentions(self, request, pk):
        """The wave's mentions, highest reach first, a page at a time from a cursor."""
        query = WaveMentionsQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        incident = incidents_visible_to(self.principal).select_related("brand").filter(pk=pk).first()
        if incident is None:
            raise NotFound()
        page = selectors.wave_mentions_page(
            incident,
            cursor=query.validated_data.get("cursor"),
            size=query.validated_data.get("page_size", selectors.WAVE_PAGE_SIZE),
        )

        def link(cursor):
            if cursor is None:
                return None
            params = {"cursor": cursor}
            if "page_size" in query.validated_data:
                params["page_size"] = query.validated_data["page_size"]
            return f"{request.build_absolute_uri(request.path)}?{urlencode(params)}"

        return Response(
            {
                "next": link(page.next),
                "previous": link(page.previous),
                "results": WaveMentionOutput(page.mentions, many=True).data,
            }
        )

    # --- Incident command (API.md) ---------------------------------------------------------

    @extend_schema(request=SeverityInput, responses={200: IncidentOutput})
    @action(detail=True, methods=["post"])
    def severity(self, request, pk):
        data = SeverityInput(data=request.data)
        data.is_valid(raise_exception=True)
        return self._answer(
            command.incident_severity_change(incident_id=pk, principal=self.principal, **data.validated_data)
        )

    @extend_schema(request=RoleInput, responses={200: IncidentOutput})
    @action(detail=True, methods=["post"])
    def roles(self, request, pk):
        data = RoleInput(data=request.data)
        data.is_valid(raise_exception=True)
        return self._answer(
            command.incident_role_set(incident_id=pk, principal=self.principal, **data.validated_data)
        )

    @extend_schema(request=LinkInput, responses={200: IncidentOutput})
    @action(detail=True, methods=["post"])
    def link(self, request, pk):
        data = LinkInput(data=request.data)
        data.is_valid(raise_exception=True)
        return self._answer(
            command.incident_link(
                incident_id=pk,
                principal=self.principal,
                other_id=data.validated_data["incident"],
                kind=data.validated_data["kind"],
            )
        )

    @extend_schema(request=None, responses={204: None})
    @action(detail=True, methods=["delete"], url_path=r"link/(?P<other_id>[0-9]{1,18})")
    def unlink(self, request, pk, other_id):
        command.incident_unlink(incident_id=pk, principal=self.principal, other_id=int(other_id))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=MergeInput, responses={200: IncidentOutput})
    @action(detail=True, methods=["post"])
    def merge(self, request, pk):
        data = MergeInput(data=request.data)
        data.is_valid(raise_exception=True)
        return self._answer(
            command.incident_merge(incident_id=pk, principal=self.principal, **data.validated_data)
        )

    @extend_schema(
        methods=["GET"], request=None, responses={200: StatusUpdateOutput(many=True)}, filters=False
    )
    @extend_schema(methods=["POST"], request=StatusUpdateInput, responses={201: StatusUpdateOutput})
    @action(
        detail=True,
        methods=["get", "post"],
        filterset_class=None,
        serializer_class=StatusUpdateOutput,
    )
    def updates(self, request, pk):
        """The incident's status updates, newest first; POST sends one to the team or the stakeholders."""
        if request.method == "GET":
            # The incident alone (not the display queryset with its checklist and follow-ups).
            incident = incidents_visible_to(self.principal).filter(pk=pk).first()
            if incident is None:
                raise NotFound()
            page = self.paginate_queryset(selectors.status_updates_of(incident))
            return self.get_paginated_response(StatusUpdateOutput(page, many=True).data)
        data = StatusUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        update = command.status_update_post(incident_id=pk, principal=self.principal, **data.validated_data)
        return Response(StatusUpdateOutput(update).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=CommentInput, responses={201: TimelineEventOutput})
    @action(detail=True, methods=["post"])
    def comments(self, request, pk):
        data = CommentInput(data=request.data)
        data.is_valid(raise_exception=True)
        event = services.incident_comment(incident_id=pk, principal=self.principal, **data.validated_data)
        return Response(TimelineEventOutput(event).data, status=status.HTTP_201_CREATED)


SLA_SCHEMA = inline_serializer(
    "SlaPolicy",
    {
        sev: inline_serializer(
            f"SlaTarget_{sev}",
            {
                "ack_seconds": serializers.IntegerField(),
                "resolve_seconds": serializers.IntegerField(),
            },
        )
        for sev in ("critical", "high", "medium", "low")
    },
)


class BrandSlaView(APIView):
    """A brand's SLA targets per severity; PUT (managers) applies to incidents filed afterwards."""

    permission_classes = [IsUser]

    @extend_schema(responses={200: SLA_SCHEMA})
    def get(self, request, slug):
        brand = brand_for(Principal.from_request(request), slug)
        return Response(self._render(brand))

    @extend_schema(request=SlaPolicyInput, responses={200: SLA_SCHEMA})
    def put(self, request, slug):
        brand = brand_for(Principal.from_request(request), slug, minimum_role=Role.MANAGER)
        data = SlaPolicyInput(data=request.data)
        data.is_valid(raise_exception=True)
        policies.sla_policy_set(
            brand=brand,
            targets={sev: SlaTarget(**target) for sev, target in data.validated_data.items()},
        )
        return Response(self._render(brand))

    @staticmethod
    def _render(brand) -> dict:
        return {
            severity: {"ack_seconds": t.ack_seconds, "resolve_seconds": t.resolve_seconds}
            for severity, t in sla_targets_for(brand.pk).items()
        }


class BrandEscalationView(APIView):
    """A brand's escalation chain; PUT (managers) applies to incidents filed afterwards."""

    permission_classes = [IsUser]

    @extend_schema(responses={200: EscalationChainInput})
    def get(self, request, slug):
        brand = brand_for(Principal.from_request(request), slug)
        return Response(chain.as_shown(selectors.chain_for(brand.pk)))

    @extend_schema(request=EscalationChainInput, responses={200: EscalationChainInput})
    def put(self, request, slug):
        brand = brand_for(Principal.from_request(request), slug, minimum_role=Role.MANAGER)
        data = EscalationChainInput(data=request.data, context={"brand": brand})
        data.is_valid(raise_exception=True)
        policies.escalation_policy_set(brand=brand, chain=data.validated_data)
        return Response(chain.as_shown(selectors.chain_for(brand.pk)))


class BrandUpdatesPolicyView(APIView):
    """A brand's status-update cadence per severity and stakeholders' addresses; PUT by managers."""

    permission_classes = [IsUser]

    @extend_schema(responses={200: UpdatesPolicyOutput})
    def get(self, request, slug):
        principal = Principal.from_request(request)
        return Response(self._render(brand_for(principal, slug), principal))

    @extend_schema(request=UpdatesPolicyInput, responses={200: UpdatesPolicyOutput})
    def put(self, request, slug):
        principal = Principal.from_request(request)
        brand = brand_for(principal, slug, minimum_role=Role.MANAGER)
        data = UpdatesPolicyInput(data=request.data)
        data.is_valid(raise_exception=True)
        policies.updates_policy_set(brand=brand, **data.validated_data)
        return Response(self._render(brand, principal))

    @staticmethod
    def _render(brand, principal) -> dict:
        policy = selectors.updates_policy_for(brand.pk)
        if not principal.has_role(brand.pk, Role.MANAGER):
            policy["stakeholder_emails"] = None
        return policy


class ContactChannelViewSet(
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """The caller's own notification channels: e-mail, signed webhooks, Apprise chat URLs."""

    permission_classes = [IsUser]
    serializer_class = ContactChannelOutput
    lookup_value_regex = r"[0-9]{1,18}"

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            return ContactChannel.objects.none()
        return ContactChannel.objects.filter(user=self.request.user)

    @extend_schema(request=ContactChannelInput, responses={201: ContactChannelOutput})
    def create(self, request):
        data = ContactChannelInput(data=request.data)
        data.is_valid(raise_exception=True)
        channel = outbox.contact_channel_add(user=request.user, **data.validated_data)
        return Response(ContactChannelOutput(channel).data, status=status.HTTP_201_CREATED)


class RenderTemplateView(APIView):
    """`POST /response-templates/{id}/render/`: a reply for one incident, to be edited before use."""

    permission_classes = [IsUser]

    @extend_schema(request=RenderInput, responses={200: RenderOutput})
    def post(self, request, pk):
        principal = Principal.from_request(request)
        template = templates_visible_to(principal).filter(pk=pk).first()
        if template is None:
            raise NotFound()
        data = RenderInput(data=request.data)
        data.is_valid(raise_exception=True)
        incident = (
            incidents_visible_to(principal)
            .select_related("brand", "assignee")
            .filter(pk=data.validated_data["incident"])
            .first()
        )
        if incident is None or (template.brand_id not in (None, incident.brand_id)):
            raise ValidationError({"incident": [_("Unknown incident.")]})
        return Response(
            reply_render(template=template, incident=incident, values=data.validated_data["values"])
        )


TIMELINE_COLUMNS = ["at", "kind", "actor", "from_state", "to_state", "data"]


def _manager_brand_ids(principal: Principal, slug: str | None) -> set[int]:
    """The brands whose reports the caller may read: those they manage (all, for superusers)."""
    if slug:
        brand = Brand.objects.filter(slug=slug).first()
        if brand is None or not principal.can_see(brand.pk):
            raise ValidationError({"brand": [_("Unknown brand.")]})
        if not principal.has_role(brand.pk, Role.MANAGER):
            raise Forbidden(_("Reports are for the brand's managers."))
        return {brand.pk}
    if principal.is_superuser:
        return set(Brand.objects.values_list("pk", flat=True))
    managed = {pk for pk, role in principal.roles.items() if role == Role.MANAGER}
    if not managed:
        raise Forbidden(_("Reports are for the brand's managers."))
    return managed


class ResponseTimeReportView(APIView):
    """`GET /reports/response-times/`: MTTA, percentiles, MTTR and SLA counts per group."""

    permission_classes = [IsUser]
    renderer_classes = [JSONRenderer, CSVRenderer]
    query_parameters = tuple(ReportQuery().fields)
    csv_columns = ["key", *reports.METRICS]

    @extend_schema(
        parameters=[ReportQuery],
        responses={(200, "application/json"): ReportOutput, (200, "text/csv"): OpenApiTypes.STR},
    )
    def get(self, request):
        query = ReportQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        q = query.validated_data
        principal = Principal.from_request(request)
        report = reports.response_times(
            brand_ids=_manager_brand_ids(principal, q.get("brand")),
            since=q["since"],
            until=q["until"],
            group_by=q["group_by"],
            now=timezone.now(),
            tz=q["tz"],
        )
        if request.accepted_renderer.format == "csv":
            return Response(report["groups"])
        return Response(ReportOutput(report).data)


class TimelineExportView(APIView):
    """`GET /reports/timeline/`: every event of the managed brands' incidents in a period."""

    permission_classes = [IsUser]
    renderer_classes = [JSONRenderer, CSVRenderer]
    query_parameters = tuple(ReportQuery().fields)

    @extend_schema(
        parameters=[ReportQuery],
        responses={
            (200, "application/json"): TimelineEventOutput(many=True),
            (200, "text/csv"): OpenApiTypes.STR,
        },
    )
    def get(self, request):
        query = ReportQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        q = query.validated_data
        brand_ids = _manager_brand_ids(Principal.from_request(request), q.get("brand"))
        events = (
            TimelineEvent.objects.for_brands(brand_ids)
            .filter(at__gte=q["since"], at__lt=q["until"])
            .select_related("incident__brand")
            .order_by("at", "id")
        )
        as_csv = request.accepted_renderer.format == "csv"
        zone = ZoneInfo(q["tz"])
        # Streamed: a year of a busy brand's events must not be built in memory.
        response = StreamingHttpResponse(
            _stream_csv(events, zone) if as_csv else _stream_json(events, zone),
            content_type="text/csv; charset=utf-8" if as_csv else "application/json",
        )
        response["Content-Disposition"] = f'attachment; filename="timeline.{"csv" if as_csv else "json"}"'
        return response


EXPORT_COLUMNS = ["incident", "brand", *TIMELINE_COLUMNS]


def _export_row(event, tz) -> dict:
    return {
        "incident": event.incident_id,
        "brand": event.incident.brand.slug,
        # In the zone asked for (`tz`, UTC by default), with its offset: the same instant,
        # read as the people who export it read their clocks.
        "at": event.at.astimezone(tz).isoformat(),
        "kind": event.kind,
        "actor": event.actor_label,
        "from_state": event.from_state,
        "to_state": event.to_state,
        "data": event.data,
    }


def _stream_csv(events, tz):
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(EXPORT_COLUMNS)
    for event in events.iterator(chunk_size=2000):
        row = _export_row(event, tz)
        writer.writerow([csv_cell(row[c]) for c in EXPORT_COLUMNS])
        if buffer.tell() > 65536:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _stream_json(events, tz):
    yield "["
    for i, event in enumerate(events.iterator(chunk_size=2000)):
        yield ("," if i else "") + json.dumps(_export_row(event, tz), ensure_ascii=False)
    yield "]"


class MentionIntakeView(APIView):
    """`POST /mentions/`: one mention or up to 1,000; stored once, detection runs on them."""

    permission_classes = [IsUserOrIntegrationKey]

    @extend_schema(
        request={"application/json": mention_request_schema()}, responses={202: MentionIntakeOutput}
    )
    def post(self, request):
        payload = request.data
        validated = validate_mention_batch(payload if isinstance(payload, list) else [payload])
        principal = Principal.from_request(request)
        brand = _mention_brand(principal, validated)
        items = [{k: v for k, v in item.items() if k != "brand"} for item in validated]
        intake = waves.mentions_receive(principal=principal, brand=brand, items=items, now=timezone.now())
        return Response(
            {"accepted": intake.accepted, "duplicates": intake.duplicates, "incidents": intake.incidents},
            status=status.HTTP_202_ACCEPTED,
        )


def _mention_brand(principal: Principal, items: list[dict]) -> Brand:
    """One brand per batch: the key's, or the one every item names."""
    slugs = {item.get("brand") for item in items}
    if principal.key is not None:
        if slugs - {None, principal.key.brand.slug}:
            raise ValidationError({"brand": [_("This integration key belongs to another brand.")]})
        return principal.key.brand
    if len(slugs) != 1 or None in slugs:
        raise ValidationError({"brand": [_("Name one brand, the same in every mention.")]})
    brand = Brand.objects.filter(slug=slugs.pop()).first()
    if brand is None or not principal.can_see(brand.pk):
        raise ValidationError({"brand": [_("Unknown brand.")]})
    return brand


# --- Public statements (API.md, "Public statements") -------------------------------------------


class StatementViewSet(viewsets.GenericViewSet):
    """An incident's public statements: drafts, versions, the approval route, publication."""

    permission_classes = [IsUser]
    serializer_class = StatementOutput
    queryset = Statement.objects.none()  # for the schema; every action reads through `statements`
    lookup_value_regex = r"[0-9]{1,18}"
    query_parameters = ()

    @property
    def principal(self) -> Principal:
        return Principal.from_request(self.request)

    def _visible(self, incident_pk, pk=None) -> None:
        """404 first, before the body is read: another brand's statement is not there at all."""
        if pk is None:
            statements.visible_incident(incident_pk, self.principal)
        else:
            statements.statement_of(incident_id=incident_pk, statement_id=pk, principal=self.principal)

    def _answer(self, incident_pk, pk, status_code=status.HTTP_200_OK) -> Response:
        statement = statements.statement_of(
            incident_id=incident_pk, statement_id=pk, principal=self.principal
        )
        return Response(statements.statement_answer(statement, who=Reacher()), status=status_code)

    @extend_schema(responses={200: StatementOutput(many=True)})
    def list(self, request, incident_pk):
        incident = statements.visible_incident(incident_pk, self.principal)
        page = self.paginate_queryset(statements.statements_of(incident))
        who, route = Reacher(), statements.route_of(incident.brand_id)
        return self.get_paginated_response(
            [statements.statement_answer(s, who=who, brand_route=route, versions=False) for s in page]
        )

    @extend_schema(request=StatementInput, responses={201: StatementOutput})
    def create(self, request, incident_pk):
        self._visible(incident_pk)
        data = StatementInput(data=request.data)
        data.is_valid(raise_exception=True)
        statement = statements.statement_create(
            incident_id=incident_pk, principal=self.principal, **data.validated_data
        )
        return self._answer(incident_pk, statement.pk, status.HTTP_201_CREATED)

    @extend_schema(responses={200: StatementOutput})
    def retrieve(self, request, incident_pk, pk):
        return self._answer(incident_pk, pk)

    @extend_schema(request=StatementEditInput, responses={200: StatementOutput})
    def update(self, request, incident_pk, pk):
        self._visible(incident_pk, pk)
        data = StatementEditInput(data=request.data)
        data.is_valid(raise_exception=True)
        statements.statement_edit(
            incident_id=incident_pk, statement_id=pk, principal=self.principal, **data.validated_data
        )
        return self._answer(incident_pk, pk)

    @extend_schema(request=None, responses={200: StatementOutput})
    @action(detail=True, methods=["post"])
    def submit(self, request, incident_pk, pk):
        statements.statement_submit(incident_id=incident_pk, statement_id=pk, principal=self.principal)
        return self._answer(incident_pk, pk)

    @extend_schema(request=StatementApproveInput, responses={200: StatementOutput})
    @action(detail=True, methods=["post"])
    def approve(self, request, incident_pk, pk):
        self._visible(incident_pk, pk)
        data = StatementApproveInput(data=request.data)
        data.is_valid(raise_exception=True)
        statements.statement_decide(
            incident_id=incident_pk,
            statement_id=pk,
            principal=self.principal,
            approve=True,
            **data.validated_data,
        )
        return self._answer(incident_pk, pk)

    @extend_schema(request=StatementRejectInput, responses={200: StatementOutput})
    @action(detail=True, methods=["post"])
    def reject(self, request, incident_pk, pk):
        self._visible(incident_pk, pk)
        data = StatementRejectInput(data=request.data)
        data.is_valid(raise_exception=True)
        statements.statement_decide(
            incident_id=incident_pk,
            statement_id=pk,
            principal=self.principal,
            approve=False,
            **data.validated_data,
        )
        return self._answer(incident_pk, pk)

    @extend_schema(request=StatementPublishInput, responses={200: StatementOutput})
    @action(detail=True, methods=["post"])
    def publish(self, request, incident_pk, pk):
        self._visible(incident_pk, pk)
        data = StatementPublishInput(data=request.data)
        data.is_valid(raise_exception=True)
        statements.statement_publish(
            incident_id=incident_pk, statement_id=pk, principal=self.principal, **data.validated_data
        )
        return self._answer(incident_pk, pk)

    @extend_schema(parameters=[StatementDiffQuery], request=None, responses={200: StatementDiffOutput})
    @action(detail=True, methods=["get"], query_parameters=("from", "to"), pagination_class=None)
    def diff(self, request, incident_pk, pk):
        """A unified text diff of two versions: `?from=1&to=3`."""
        query = StatementDiffQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        older, newer = query.validated_data["from"], query.validated_data["to"]
        statement = statements.statement_of(
            incident_id=incident_pk, statement_id=pk, principal=self.principal
        )
        return Response(
            {
                "from": older,
                "to": newer,
                "diff": statements.statement_diff(statement, older=older, newer=newer),
            }
        )


class BrandStatementRouteView(APIView):
    """A brand's approval route for public statements; PUT by managers (running approvals keep theirs)."""

    permission_classes = [IsUser]

    @extend_schema(responses={200: StatementRouteInput})
    def get(self, request, slug):
        brand = brand_for(Principal.from_request(request), slug)
        return Response({"hops": statements.route_of(brand.pk)})

    @extend_schema(request=StatementRouteInput, responses={200: StatementRouteInput})
    def put(self, request, slug):
        brand = brand_for(Principal.from_request(request), slug, minimum_role=Role.MANAGER)
        data = StatementRouteInput(data=request.data, context={"brand": brand})
        data.is_valid(raise_exception=True)
        return Response(
            {"hops": statements.statement_route_set(brand=brand, hops=data.validated_data["hops"])}
        )
