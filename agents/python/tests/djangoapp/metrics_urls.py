"""djangoapp's URLs plus a Prometheus /metrics view, as django-prometheus adds it (`path("metrics", ...)`)."""

from django.http import HttpResponse
from django.urls import include, path
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest


def metrics(request):
    return HttpResponse(generate_latest(), content_type=CONTENT_TYPE_LATEST)


urlpatterns = [
    path("metrics", metrics),
    path("", include("djangoapp.urls")),
]
