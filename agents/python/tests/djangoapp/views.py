import logging

from django.http import HttpResponse, JsonResponse
from django.views import View
from django.views.decorators.http import require_GET

import routelens

log = logging.getLogger("djangoapp.views")


@require_GET
def user_detail(request, user_id):
    with routelens.span("db.query", {"db.system": "sqlite"}):
        pass
    log.warning("looked up user %s", user_id)
    return JsonResponse({"id": user_id})


def explode(request):
    raise RuntimeError("django view failed")  # raise-here


def home(request):
    return HttpResponse("home")


def legacy(request, year):
    return HttpResponse(year)


class OrderView(View):
    def get(self, request, order_id):
        return JsonResponse({"order": order_id})

    def post(self, request, order_id):
        return JsonResponse({"created": order_id}, status=201)


async def async_view(request, item_id):
    with routelens.span("async.work"):
        pass
    return JsonResponse({"item": item_id})
