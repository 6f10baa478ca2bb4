"""A single-page app's catch-all pattern: /metrics resolves, but to no Prometheus view."""

from django.http import HttpResponse
from django.urls import re_path


def spa(request):
    return HttpResponse("<html></html>")


urlpatterns = [re_path(r"^.*$", spa)]
