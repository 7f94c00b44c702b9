from django.urls import path

from .api import BareIncidentCreate

urlpatterns = [
    path("", BareIncidentCreate.as_view(), name="bench-bare-incident-create"),
]
