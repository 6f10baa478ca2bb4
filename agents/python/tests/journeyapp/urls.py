from django.urls import path

from . import views

urlpatterns = [
    path("health/", views.health),
    path("pay/<int:item_id>/", views.pay),
]
