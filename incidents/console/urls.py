"""Console URLs, mounted at the site root."""

from django.contrib.auth import views as auth_views
from django.urls import path, re_path

from . import brand_locale, dashboard, filing, history, me, oncall, queue, statements, views

app_name = "console"

urlpatterns = [
    path("", queue.queue, name="queue"),
    path("history/", history.history, name="history"),
    path("awaiting-review/", history.awaiting_review, name="awaiting-review"),
    path("incidents/new/", filing.file_incident, name="file"),
    path("login/", auth_views.LoginView.as_view(template_name="console/login.html"), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    # "My notifications": the page, and one view per form on it (incidents/console/me.py).
    path("me/", me.page, name="me"),
    path("me/settings/", me.settings_save, name="me-settings"),
    path("me/channels/", me.channel_add, name="me-channel-add"),
    path("me/channels/test/", me.channel_test, name="me-channel-test"),
    path("me/channels/remove/", me.channel_remove, name="me-channel-remove"),
    path("me/tests/", me.tests_fragment, name="me-tests"),
    re_path(r"^incidents/(?P<pk>[0-9]{1,18})/$", views.incident_page, name="incident"),
    re_path(
        r"^incidents/(?P<pk>[0-9]{1,18})/steps/(?P<step_id>[0-9]{1,18})/complete/$",
        views.step_complete,
        name="step-complete",
    ),
    re_path(
        r"^incidents/(?P<pk>[0-9]{1,18})/replies/(?P<template_id>[0-9]{1,18})/preview/$",
        views.reply_preview,
        name="reply-preview",
    ),
    re_path(r"^incidents/(?P<pk>[0-9]{1,18})/severity/$", views.severity_change, name="incident-severity"),
    re_path(
        r"^incidents/(?P<pk>[0-9]{1,18})/statements/new/$", statements.statement_new, name="statement-new"
    ),
    re_path(
        r"^incidents/(?P<pk>[0-9]{1,18})/statements/(?P<statement_id>[0-9]{1,18})/(?P<action>[a-z]{1,20})/$",
        statements.statement_action,
        name="statement-action",
    ),
    re_path(
        r"^incidents/(?P<pk>[0-9]{1,18})/(?P<action>[a-z]{1,20})/$",
        views.incident_action,
        name="incident-action",
    ),
    # The settings page shows every form; each form posts to its own view.
    path("brands/<slug:slug>/settings/", views.brand_settings, name="brand-settings"),
    path("brands/<slug:slug>/settings/sla/", views.brand_sla_save, name="brand-sla"),
    path("brands/<slug:slug>/settings/escalation/", views.brand_escalation_save, name="brand-escalation"),
    path(
        "brands/<slug:slug>/settings/updates/", views.brand_updates_policy_save, name="brand-updates-policy"
    ),
    path(
        "brands/<slug:slug>/settings/statement-route/",
        statements.statement_route_save,
        name="brand-statement-route",
    ),
    path("brands/<slug:slug>/settings/members/", views.brand_member_save, name="brand-member"),
    path(
        "brands/<slug:slug>/settings/members/remove/",
        views.brand_member_remove,
        name="brand-member-remove",
    ),
    path("brands/<slug:slug>/settings/invitations/", views.brand_invitation_create, name="brand-invitation"),
    path(
        "brands/<slug:slug>/settings/invitations/revoke/",
        views.brand_invitation_revoke,
        name="brand-invitation-revoke",
    ),
    path("brands/<slug:slug>/settings/keys/", views.brand_key_issue, name="brand-key"),
    path("brands/<slug:slug>/settings/locale/", brand_locale.brand_locale_save, name="brand-locale"),
    path("brands/<slug:slug>/settings/keys/revoke/", views.brand_key_revoke, name="brand-key-revoke"),
    path("brands/<slug:slug>/dashboard/", dashboard.dashboard, name="dashboard"),
    path("dashboard/", dashboard.choose, name="dashboard-choose"),
    # On call: who is on call on each schedule of my brands; a schedule's two weeks and its forms.
    path("on-call/", oncall.on_call_page, name="on-call"),
    path("brands/<slug:slug>/schedules/new/", oncall.schedule_edit, name="schedule-new"),
    re_path(
        r"^brands/(?P<slug>[-\w]+)/schedules/(?P<pk>[0-9]{1,18})/$", oncall.schedule_page, name="schedule"
    ),
    re_path(
        r"^brands/(?P<slug>[-\w]+)/schedules/(?P<pk>[0-9]{1,18})/edit/$",
        oncall.schedule_edit,
        name="schedule-edit",
    ),
    re_path(
        r"^brands/(?P<slug>[-\w]+)/schedules/(?P<pk>[0-9]{1,18})/delete/$",
        oncall.schedule_delete,
        name="schedule-delete",
    ),
    re_path(
        r"^brands/(?P<slug>[-\w]+)/schedules/(?P<pk>[0-9]{1,18})/take/$",
        oncall.take_shift,
        name="schedule-take",
    ),
    re_path(
        r"^brands/(?P<slug>[-\w]+)/schedules/(?P<pk>[0-9]{1,18})/overrides/$",
        oncall.override_add,
        name="schedule-override",
    ),
    re_path(
        r"^brands/(?P<slug>[-\w]+)/schedules/(?P<pk>[0-9]{1,18})/overrides/remove/$",
        oncall.override_remove,
        name="schedule-override-remove",
    ),
    # The link an invitation e-mail carries (crisis.models.Invitation: 43 URL-safe characters).
    re_path(r"^invitations/(?P<token>[A-Za-z0-9_-]{1,100})/$", views.invitation_page, name="invitation"),
]
