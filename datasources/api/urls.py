from django.urls import path

from .jws import JwsVerifyViewSet
from .views import DataSourceViewSet

urlpatterns = [
    path(
        "datasources/",
        DataSourceViewSet.as_view({"get": "list", "post": "create"}),
        name="datasource-list",
    ),
    path(
        "datasources/<uuid:id>/",
        DataSourceViewSet.as_view(
            {"get": "retrieve", "put": "update", "patch": "partial_update", "delete": "destroy"}
        ),
        name="datasource-detail",
    ),
    path(
        "datasources/<uuid:id>/disable/",
        DataSourceViewSet.as_view({"post": "disable"}),
        name="datasource-disable",
    ),
    path(
        "datasources/<uuid:id>/enable/",
        DataSourceViewSet.as_view({"post": "enable"}),
        name="datasource-enable",
    ),
    path(
        "datasources/<uuid:id>/rotate/",
        DataSourceViewSet.as_view({"post": "rotate"}),
        name="datasource-rotate",
    ),
    path("jws/verify/", JwsVerifyViewSet.as_view({"post": "verify"}), name="jws-verify"),
]
