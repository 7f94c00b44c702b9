"""The console's URLs for pulled sources, under a brand's settings (namespace `sources`)."""

from django.urls import path

from . import console

app_name = "sources"

urlpatterns = [
    path("brands/<slug:slug>/settings/sources/add/", console.source_add, name="add"),
    path("brands/<slug:slug>/settings/sources/<int:pk>/", console.source_edit, name="edit"),
    path("brands/<slug:slug>/settings/sources/<int:pk>/toggle/", console.source_toggle, name="toggle"),
    path("brands/<slug:slug>/settings/sources/<int:pk>/delete/", console.source_delete, name="delete"),
]
