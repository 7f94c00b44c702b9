"""Console URLs, mounted at the site root."""

from django.contrib.auth import views as auth_views
from django.urls import path, re_path

from . import views

app_name = "console"

urlpatterns = [
    path("", views.queue, name="queue"),
    path("login/", auth_views.LoginView.as_view(template_name="console/login.html"), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    re_path(r"^incidents/(?P<pk>[0-9]{1,18})/$", views.incident_page, name="incident"),
    re_path(
        r"^incidents/(?P<pk>[0-9]{1,18})/steps/(?P<step_id>[0-9]{1,18})/complete/$",
        views.step_complete,
        name="step-complete",
    ),
    re_path(
        r"^incidents/(?P<pk>[0-9]{1,18})/(?P<action>[a-z]{1,20})/$",
        views.incident_action,
        name="incident-action",
    ),
    path("brands/<slug:slug>/settings/", views.brand_settings, name="brand-settings"),
    path("brands/<slug:slug>/dashboard/", views.dashboard, name="dashboard"),
]
