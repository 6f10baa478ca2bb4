from django.db import connection
from django.http import HttpResponse, JsonResponse


def health(request):
    return HttpResponse("ok")


def pay(request, item_id):
    with connection.cursor() as cursor:
        cursor.execute("SELECT %s + 1 AS total, 'payments-literal' AS note", [item_id])  # pay-query
        total = cursor.fetchone()[0]
    return JsonResponse({"item": item_id, "charged": total})
