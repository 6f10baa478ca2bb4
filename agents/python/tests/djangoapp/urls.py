from django.urls import include, path, re_path

from . import views

api = [
    path("orders/<int:order_id>/", views.OrderView.as_view()),
]

urlpatterns = [
    path("", views.home),
    path("users/<int:user_id>/", views.user_detail),
    path("explode/", views.explode),
    path("api/", include(api)),
    re_path(r"^legacy/(?P<year>[0-9]{4})/$", views.legacy),
    path("async/<int:item_id>/", views.async_view),
]
