"""Root URLs: the API under /api/v1/, its schema and docs, probes and the admin."""

from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from crisis.api import (
    BrandViewSet,
    CalendarTokenView,
    LogoutView,
    MeView,
    MyCalendarView,
    ScheduleCalendarView,
    ScheduleViewSet,
    TokenView,
)
from incidents.api import (
    BrandEscalationView,
    BrandSlaView,
    BrandStatementRouteView,
    BrandUpdatesPolicyView,
    ContactChannelViewSet,
    IncidentViewSet,
    MentionIntakeView,
    RenderTemplateView,
    ResponseTimeReportView,
    StatementViewSet,
    TimelineExportView,
)
from integrations.chat.api import (
    BrandChatDetailView,
    BrandChatLinkView,
    BrandChatListView,
    MyTelegramLinkView,
    TelegramWebhookView,
)
from integrations.inbound.console import send_test_event
from integrations.sources.api import SourceDetailView, SourceListView
from playbooks.api import PlaybookViewSet, ResponseTemplateViewSet

from .health import healthz, readyz
from .observability import metrics

router = DefaultRouter()
router.register("brands", BrandViewSet, basename="brand")
router.register(r"brands/(?P<slug>[-a-zA-Z0-9_]+)/schedules", ScheduleViewSet, basename="schedule")
router.register("incidents", IncidentViewSet, basename="incident")
router.register(r"incidents/(?P<incident_pk>[0-9]{1,18})/statements", StatementViewSet, basename="statement")
router.register("me/channels", ContactChannelViewSet, basename="contact-channel")
router.register("playbooks", PlaybookViewSet, basename="playbook")
router.register("response-templates", ResponseTemplateViewSet, basename="response-template")

api_v1 = [
    path("auth/token/", TokenView.as_view(), name="auth-token"),
    path("auth/logout/", LogoutView.as_view(), name="auth-logout"),
    path("brands/<slug:slug>/sla/", BrandSlaView.as_view(), name="brand-sla"),
    path("brands/<slug:slug>/escalation/", BrandEscalationView.as_view(), name="brand-escalation"),
    path("brands/<slug:slug>/updates-policy/", BrandUpdatesPolicyView.as_view(), name="brand-updates-policy"),
    path(
        "brands/<slug:slug>/statement-route/", BrandStatementRouteView.as_view(), name="brand-statement-route"
    ),
    path("brands/<slug:slug>/sources/", SourceListView.as_view(), name="brand-sources"),
    re_path(
        r"^brands/(?P<slug>[-a-zA-Z0-9_]+)/sources/(?P<pk>[0-9]{1,18})/$",
        SourceDetailView.as_view(),
        name="brand-source",
    ),
    re_path(
        r"^response-templates/(?P<pk>[0-9]{1,18})/render/$",
        RenderTemplateView.as_view(),
        name="response-template-render",
    ),
    path("reports/response-times/", ResponseTimeReportView.as_view(), name="report-response-times"),
    path("reports/timeline/", TimelineExportView.as_view(), name="report-timeline"),
    path("mentions/", MentionIntakeView.as_view(), name="mentions"),
    path("integrations/telegram/webhook/", TelegramWebhookView.as_view(), name="telegram-webhook"),
    path("integrations/", include("integrations.inbound.urls")),
    path("me/channels/telegram/link/", MyTelegramLinkView.as_view(), name="my-telegram-link"),
    path("brands/<slug:slug>/chats/link/", BrandChatLinkView.as_view(), name="brand-chat-link"),
    path("brands/<slug:slug>/chats/", BrandChatListView.as_view(), name="brand-chats"),
    re_path(
        r"^brands/(?P<slug>[-a-zA-Z0-9_]+)/chats/(?P<id>[0-9]{1,18})/$",
        BrandChatDetailView.as_view(),
        name="brand-chat",
    ),
    path("me/", MeView.as_view(), name="me"),
    # Calendar feeds (crisis/feeds.py): the token in the query is the credential.
    path("me/calendar-token/", CalendarTokenView.as_view(), name="my-calendar-token"),
    path("me/calendar.ics", MyCalendarView.as_view(), name="my-calendar"),
    re_path(
        r"^schedules/(?P<pk>[0-9]{1,18})/calendar\.ics$",
        ScheduleCalendarView.as_view(),
        name="schedule-calendar",
    ),
    path("", include(router.urls)),
]

urlpatterns = [
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The docs' init script is served apart from the page, so that the CSP allows no inline script.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("metrics", metrics, name="metrics"),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    # The console's "send a test event" of each adapter (integrations/ is above the console).
    path(
        "brands/<slug:slug>/settings/integrations/<str:tool>/test/",
        send_test_event,
        name="integration-test-event",
    ),
    # Pulled sources' console pages (under a brand's settings), then the console itself.
    path("", include("integrations.sources.console_urls")),
    path("", include("integrations.chat.console_urls")),
    path("", include("incidents.console.urls")),
]

# API paths answer errors in JSON even when no view was reached.
handler400 = "api.views.bad_request"
handler404 = "api.views.not_found"
handler500 = "api.views.server_error"
