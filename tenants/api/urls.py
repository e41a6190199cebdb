from django.urls import path

from .views import OrgViewSet, ServiceAppViewSet

urlpatterns = [
    path("service-apps/", ServiceAppViewSet.as_view({"get": "list"}), name="serviceapp-list"),
    path(
        "service-apps/<uuid:id>/",
        ServiceAppViewSet.as_view({"get": "retrieve"}),
        name="serviceapp-detail",
    ),
    path("orgs/", OrgViewSet.as_view({"get": "list", "post": "create"}), name="org-list"),
    path("orgs/<uuid:id>/", OrgViewSet.as_view({"get": "retrieve"}), name="org-detail"),
    path("orgs/<uuid:id>/token/", OrgViewSet.as_view({"get": "token"}), name="org-token"),
    path(
        "orgs/<uuid:id>/token/refresh/",
        OrgViewSet.as_view({"post": "token_refresh"}),
        name="org-token-refresh",
    ),
]
