"""REST endpoints: auth tokens, brands, members, invitations, integration keys, on-call schedules (API.md)."""

from urllib.parse import urlencode

from axes.exceptions import AxesBackendPermissionDenied
from django.conf import settings
from django.contrib.auth import authenticate
from django.http import HttpResponse, JsonResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from knox.models import AuthToken
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.permissions import AllowAny, BasePermission
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from api.errors import NotFound

from . import detection, feeds, oncall, services, shifts
from .models import Role, Schedule
from .permissions import IsUser
from .selectors import brand_for, brands_visible_to, invitations_pending, viewer_settings
from .serializers import (
    BrandInput,
    BrandOutput,
    BrandUpdateInput,
    CalendarFeedQuery,
    CalendarTokenOutput,
    DetectionPolicySerializer,
    InvitationInput,
    InvitationOutput,
    IssuedKeyOutput,
    KeyInput,
    KeyOutput,
    LoginInput,
    MeInput,
    MemberInput,
    MemberOutput,
    MeOutput,
    OnCallOutput,
    OnCallQuery,
    OverrideInput,
    OverrideOutput,
    ScheduleInput,
    ScheduleOutput,
    ShiftsOutput,
    ShiftsQuery,
    TokenOutput,
)
from .tenancy import Principal
from .throttling import LoginRateThrottle


def lockout_response(request, *args, **kwargs):
    """django-axes' answer once a username and address are locked out: JSON, 429, Retry-After."""
    return JsonResponse(
        {"detail": str(_("Too many failed logins; try again later.")), "code": "locked_out"},
        status=status.HTTP_429_TOO_MANY_REQUESTS,
        headers={"Retry-After": str(int(settings.AXES_COOLOFF_TIME.total_seconds()))},
    )


class TokenView(APIView):
    """Trade a username and password for an expiring API token."""

    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = [LoginRateThrottle]

    @extend_schema(request=LoginInput, responses={200: TokenOutput})
    def post(self, request):
        data = LoginInput(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            # django-axes counts failures per username and address (settings.AXES_*).
            user = authenticate(
                request._request,
                username=data.validated_data["username"],
                password=data.validated_data["password"],
            )
        except AxesBackendPermissionDenied:
            return lockout_response(request)
        if user is None:
            return Response(
                {"detail": _("Invalid username or password."), "code": "authentication_failed"},
                status=status.HTTP_401_UNAUTHORIZED,
                headers={"WWW-Authenticate": "Token"},
            )
        token_row, token = AuthToken.objects.create(user=user)
        return Response(TokenOutput({"token": token, "expiry": token_row.expiry}).data)


class LogoutView(APIView):
    """Revoke the token this request was made with."""

    permission_classes = [IsUser]

    @extend_schema(request=None, responses={204: None})
    def post(self, request):
        if isinstance(request.auth, AuthToken):
            request.auth.delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


class IsSuperuserForCreate(BasePermission):
    def has_permission(self, request, view):
        return view.action != "create" or request.user.is_superuser


class BrandViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Brands the caller belongs to; superusers see and create all."""

    permission_classes = [IsUser, IsSuperuserForCreate]
    serializer_class = BrandOutput
    lookup_field = "slug"
    lookup_value_regex = r"[-a-zA-Z0-9_]+"

    def get_queryset(self):
        return brands_visible_to(self.principal)

    @property
    def principal(self) -> Principal:
        return Principal.from_request(self.request)

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "principal": self.principal}

    def get_object(self):
        return brand_for(self.principal, self.kwargs["slug"])

    @extend_schema(request=BrandInput, responses={201: BrandOutput})
    def create(self, request):
        data = BrandInput(data=request.data)
        data.is_valid(raise_exception=True)
        brand = services.brand_create(**data.validated_data)
        return Response(self.get_serializer(brand).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=BrandUpdateInput, responses={200: BrandOutput})
    def partial_update(self, request, slug):
        """Change the brand's name, language or time zone (managers)."""
        data = BrandUpdateInput(data=request.data)
        # A malformed body is a 400 whoever sends it; a well-formed one needs a manager.
        data.is_valid(raise_exception=True)
        brand = brand_for(self.principal, slug, minimum_role=Role.MANAGER)
        brand = services.brand_update(brand=brand, **data.validated_data)
        return Response(self.get_serializer(brand).data)

    @extend_schema(responses={200: MemberOutput(many=True)})
    @action(detail=True, methods=["get"], serializer_class=MemberOutput)
    def members(self, request, slug):
        brand = brand_for(self.principal, slug)
        rows = brand.memberships.select_related("user").order_by("user__username")
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(MemberOutput(page, many=True).data)

    @extend_schema(request=MemberInput, responses={201: MemberOutput, 200: MemberOutput})
    @members.mapping.post
    def add_member(self, request, slug):
        brand = brand_for(self.principal, slug, minimum_role=Role.MANAGER)
        data = MemberInput(data=request.data)
        data.is_valid(raise_exception=True)
        membership, _created = services.membership_set(
            principal=self.principal, brand=brand, **data.validated_data
        )
        # 201 whether the membership is new or its role changed: API.md names one answer.
        return Response(MemberOutput(membership).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={204: None})
    @action(detail=True, methods=["delete"], url_path=r"members/(?P<username>[\w.@+-]+)")
    def remove_member(self, request, slug, username):
        brand = brand_for(self.principal, slug, minimum_role=Role.MANAGER)
        membership = brand.memberships.filter(user__username=username).first()
        if membership is None:
            raise NotFound()
        services.membership_remove(membership=membership)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(responses={200: InvitationOutput(many=True)})
    @action(detail=True, methods=["get"], serializer_class=InvitationOutput)
    def invitations(self, request, slug):
        """Pending invitations (the addresses a manager typed: managers only)."""
        brand = brand_for(self.principal, slug, minimum_role=Role.MANAGER)
        page = self.paginate_queryset(invitations_pending(brand, now=timezone.now()))
        return self.get_paginated_response(InvitationOutput(page, many=True).data)

    @extend_schema(request=InvitationInput, responses={202: InvitationOutput})
    @invitations.mapping.post
    def invite(self, request, slug):
        """E-mail a one-use link to join the brand; 202: the e-mail is on its way through the outbox."""
        brand = brand_for(self.principal, slug, minimum_role=Role.MANAGER)
        data = InvitationInput(data=request.data)
        data.is_valid(raise_exception=True)
        invitation = services.invitation_create(principal=self.principal, brand=brand, **data.validated_data)
        return Response(InvitationOutput(invitation).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses={204: None})
    @action(detail=True, methods=["delete"], url_path=r"invitations/(?P<invitation_id>[0-9]{1,18})")
    def revoke_invitation(self, request, slug, invitation_id):
        brand = brand_for(self.principal, slug, minimum_role=Role.MANAGER)
        invitation = invitations_pending(brand, now=timezone.now()).filter(pk=invitation_id).first()
        if invitation is None:
            raise NotFound()
        services.invitation_revoke(invitation=invitation)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(responses={200: DetectionPolicySerializer})
    @action(detail=True, methods=["get"], serializer_class=DetectionPolicySerializer)
    def detection(self, request, slug):
        """The brand's wave-detection thresholds (crisis/detection.py)."""
        brand = brand_for(self.principal, slug)
        return Response(DetectionPolicySerializer(detection.policy_for(brand)).data)

    @extend_schema(request=DetectionPolicySerializer, responses={200: DetectionPolicySerializer})
    @detection.mapping.put
    def set_detection(self, request, slug):
        brand = brand_for(self.principal, slug, minimum_role=Role.MANAGER)
        data = DetectionPolicySerializer(data=request.data)
        data.is_valid(raise_exception=True)
        policy = services.detection_policy_set(brand=brand, **data.validated_data)
        return Response(DetectionPolicySerializer(policy).data)

    @extend_schema(responses={200: KeyOutput(many=True)})
    @action(detail=True, methods=["get"], serializer_class=KeyOutput)
    def keys(self, request, slug):
        brand = brand_for(self.principal, slug, minimum_role=Role.MANAGER)
        page = self.paginate_queryset(brand.keys.usable())
        return self.get_paginated_response(KeyOutput(page, many=True).data)

    @extend_schema(request=KeyInput, responses={201: IssuedKeyOutput})
    @keys.mapping.post
    def issue_key(self, request, slug):
        brand = brand_for(self.principal, slug, minimum_role=Role.MANAGER)
        data = KeyInput(data=request.data)
        data.is_valid(raise_exception=True)
        key, plain = services.brand_key_issue(brand=brand, name=data.validated_data["name"])
        key.key = plain
        return Response(IssuedKeyOutput(key).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={204: None})
    @action(detail=True, methods=["delete"], url_path=r"keys/(?P<key_id>[0-9]{1,18})")
    def revoke_key(self, request, slug, key_id):
        brand = brand_for(self.principal, slug, minimum_role=Role.MANAGER)
        key = brand.keys.usable().filter(pk=key_id).first()
        if key is None:
            raise NotFound()
        services.brand_key_revoke(key=key)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(APIView):
    """`GET|PATCH /me/`: the caller's own account and settings. People only: a key is nobody (403)."""

    permission_classes = [IsUser]

    def _answer(self, user):
        chosen = viewer_settings(user)
        return Response(
            MeOutput(
                {
                    "username": user.get_username(),
                    "email": user.email,
                    "language": chosen.language,
                    "time_zone": chosen.time_zone,
                }
            ).data
        )

    @extend_schema(responses={200: MeOutput})
    def get(self, request):
        return self._answer(request.user)

    @extend_schema(request=MeInput, responses={200: MeOutput})
    def patch(self, request):
        data = MeInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.profile_update(user=request.user, **data.validated_data)
        return self._answer(request.user)


class ScheduleViewSet(viewsets.GenericViewSet):
    """
    A brand's on-call schedules (API.md, "On-call schedules"): members read them, managers
    write them; overrides by a manager or by the person taking the shift.
    """

    permission_classes = [IsUser]
    serializer_class = ScheduleOutput
    lookup_value_regex = r"[0-9]{1,18}"
    query_parameters = ()  # the actions that read some declare them
    queryset = Schedule.objects.none()  # for the schema's path parameters; rows come through `_rows`

    @property
    def principal(self) -> Principal:
        return Principal.from_request(self.request)

    def _brand(self, minimum_role=None):
        return brand_for(self.principal, self.kwargs["slug"], minimum_role=minimum_role)

    def _rows(self, brand):
        return oncall.with_rows(oncall.schedules_of(brand), overrides_from=timezone.now())

    def _schedule(self, brand, *, rows: bool = False):
        found = (
            (self._rows(brand) if rows else oncall.schedules_of(brand)).filter(pk=self.kwargs["pk"]).first()
        )
        if found is None:
            raise NotFound()
        return found

    def _answer(self, brand, pk, status_code=status.HTTP_200_OK):
        schedule = self._rows(brand).get(pk=pk)
        return Response(ScheduleOutput(schedule).data, status=status_code)

    @extend_schema(responses={200: ScheduleOutput(many=True)})
    def list(self, request, slug):
        brand = self._brand()
        page = self.paginate_queryset(self._rows(brand))
        return self.get_paginated_response(ScheduleOutput(page, many=True).data)

    @extend_schema(request=ScheduleInput, responses={201: ScheduleOutput})
    def create(self, request, slug):
        brand = self._brand(minimum_role=Role.MANAGER)
        data = ScheduleInput(data=request.data)
        data.is_valid(raise_exception=True)
        schedule = oncall.schedule_create(brand=brand, **data.validated_data)
        return self._answer(brand, schedule.pk, status.HTTP_201_CREATED)

    @extend_schema(responses={200: ScheduleOutput})
    def retrieve(self, request, slug, pk):
        return Response(ScheduleOutput(self._schedule(self._brand(), rows=True)).data)

    @extend_schema(request=ScheduleInput, responses={200: ScheduleOutput})
    def update(self, request, slug, pk):
        brand = self._brand(minimum_role=Role.MANAGER)
        schedule = self._schedule(brand)
        data = ScheduleInput(data=request.data)
        data.is_valid(raise_exception=True)
        oncall.schedule_update(schedule=schedule, **data.validated_data)
        return self._answer(brand, schedule.pk)

    @extend_schema(request=None, responses={204: None})
    def destroy(self, request, slug, pk):
        brand = self._brand(minimum_role=Role.MANAGER)
        oncall.schedule_delete(schedule=self._schedule(brand))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(responses={200: OverrideOutput(many=True)})
    @action(detail=True, methods=["get"], serializer_class=OverrideOutput)
    def overrides(self, request, slug, pk):
        """The schedule's overrides that have not ended, earliest first."""
        schedule = self._schedule(self._brand())
        rows = (
            schedule.overrides.filter(end__gt=timezone.now())
            .select_related("user", "created_by")
            .order_by("start", "id")
        )
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(OverrideOutput(page, many=True).data)

    @extend_schema(request=OverrideInput, responses={201: OverrideOutput})
    @overrides.mapping.post
    def add_override(self, request, slug, pk):
        schedule = self._schedule(self._brand())
        data = OverrideInput(data=request.data)
        data.is_valid(raise_exception=True)
        override = oncall.override_add(
            principal=self.principal,
            schedule=schedule,
            username=data.validated_data["user"],
            start=data.validated_data["start"],
            end=data.validated_data["end"],
            now=timezone.now(),
        )
        return Response(OverrideOutput(override).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={204: None})
    @action(detail=True, methods=["delete"], url_path=r"overrides/(?P<override_id>[0-9]{1,18})")
    def remove_override(self, request, slug, pk, override_id):
        schedule = self._schedule(self._brand())
        override = schedule.overrides.select_related("schedule").filter(pk=override_id).first()
        if override is None:
            raise NotFound()
        oncall.override_remove(principal=self.principal, override=override)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(parameters=[OnCallQuery], responses={200: OnCallOutput})
    @action(detail=True, methods=["get"], url_path="on-call", query_parameters=("at",))
    def on_call(self, request, slug, pk):
        """Who is on call at `at` (default now): one person, or nobody."""
        query = OnCallQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        at = query.validated_data.get("at") or timezone.now()
        schedule = self._schedule(self._brand())
        found = oncall.on_call([schedule.pk], at=at)[schedule.pk]
        return Response(OnCallOutput({"at": at, "users": list(found.users)}).data)

    @extend_schema(parameters=[ShiftsQuery], responses={200: ShiftsOutput})
    @action(detail=True, methods=["get"], query_parameters=("since", "until"))
    def shifts(self, request, slug, pk):
        """The computed shifts within [since, until), overrides applied; a gap means nobody is on call."""
        query = ShiftsQuery(data=request.query_params, context={"now": timezone.now()})
        query.is_valid(raise_exception=True)
        since, until = query.validated_data["since"], query.validated_data["until"]
        schedule = self._schedule(self._brand())
        schedule = oncall.with_rows(
            oncall.schedules_of(schedule.brand), overrides_from=since, until=until
        ).get(pk=schedule.pk)
        computed = shifts.final_shifts(oncall.plan_of(schedule), since, until)
        return Response(
            ShiftsOutput(
                {"since": since, "until": until, "time_zone": schedule.time_zone, "shifts": computed}
            ).data
        )


class FeedNegotiation(BaseContentNegotiation):
    """Calendar apps send whatever `Accept` they like: a feed answers text/calendar, its errors JSON."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


ICS = OpenApiResponse(response=OpenApiTypes.STR, description="An iCalendar (RFC 5545) feed.")


class CalendarFeedView(APIView):
    """A calendar feed: the token in the URL is the credential (calendar apps cannot sign in)."""

    authentication_classes = []
    permission_classes = [AllowAny]
    renderer_classes = [JSONRenderer]
    content_negotiation_class = FeedNegotiation
    query_parameters = ("token",)

    def owner(self, request):
        """The token's owner; a wrong, revoked or missing token is a 404, as a wrong URL is."""
        query = CalendarFeedQuery(data=request.query_params)
        owner = oncall.calendar_feed_owner(query.validated_data["token"] if query.is_valid() else None)
        if owner is None:
            raise NotFound()
        return owner

    @staticmethod
    def answer(body: bytes) -> HttpResponse:
        return HttpResponse(body, content_type="text/calendar; charset=utf-8")


class ScheduleCalendarView(CalendarFeedView):
    @extend_schema(
        parameters=[CalendarFeedQuery],
        operation_id="v1_schedules_calendar_ics_retrieve",
        responses={(200, "text/calendar"): ICS},  # 404 (a wrong or revoked token): the common errors
    )
    def get(self, request, pk):
        """Everyone's shifts on one schedule of the token owner's brands."""
        owner = self.owner(request)
        since, until = feeds.window(timezone.now())
        rows = oncall.with_rows(
            oncall.feed_schedules(owner, schedule_id=pk), overrides_from=since, until=until
        )
        schedule = rows.first()
        if schedule is None:
            raise NotFound()
        return self.answer(feeds.schedule_feed(schedule, owner=owner))


class MyCalendarView(CalendarFeedView):
    @extend_schema(
        parameters=[CalendarFeedQuery],
        operation_id="v1_me_calendar_ics_retrieve",
        responses={(200, "text/calendar"): ICS},  # 404 (a wrong or revoked token): the common errors
    )
    def get(self, request):
        """The token owner's own shifts on every schedule of their brands."""
        owner = self.owner(request)
        since, until = feeds.window(timezone.now())
        rows = oncall.with_rows(oncall.feed_schedules(owner), overrides_from=since, until=until)
        return self.answer(feeds.personal_feed(owner, rows))


class CalendarTokenView(APIView):
    """`POST /me/calendar-token/`: a new feed token (the old one stops working); `DELETE` revokes it."""

    permission_classes = [IsUser]

    @extend_schema(request=None, responses={201: CalendarTokenOutput})
    def post(self, request):
        token = oncall.calendar_token_issue(user=request.user)
        url = request.build_absolute_uri(reverse("my-calendar")) + "?" + urlencode({"token": token})
        return Response(
            CalendarTokenOutput({"token": token, "url": url}).data, status=status.HTTP_201_CREATED
        )

    @extend_schema(request=None, responses={204: None})
    def delete(self, request):
        oncall.calendar_token_revoke(user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
