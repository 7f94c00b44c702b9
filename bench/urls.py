"""The product's URLs and the bare comparison endpoint that `bench/filing.py` measures against."""

from django.urls import include, path

from config.urls import handler400, handler404, handler500  # noqa: F401  (a URLconf's error views)

urlpatterns = [
    path("bench/bare/incidents/", include("bench.bare.urls")),
    path("", include("config.urls")),
]
