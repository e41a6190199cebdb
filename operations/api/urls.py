from django.urls import path

from .views import BulkOperationViewSet
from .views_offboarding import OrgOffboardViewSet

urlpatterns = [
    path(
        "orgs/<uuid:id>/offboard/",
        OrgOffboardViewSet.as_view({"post": "offboard"}),
        name="org-offboard",
    ),
    path(
        "bulk-operations/",
        BulkOperationViewSet.as_view({"get": "list", "post": "create"}),
        name="bulkoperation-list",
    ),
    path(
        "bulk-operations/preview/",
        BulkOperationViewSet.as_view({"post": "preview"}),
        name="bulkoperation-preview",
    ),
    path(
        "bulk-operations/<uuid:id>/",
        BulkOperationViewSet.as_view({"get": "retrieve"}),
        name="bulkoperation-detail",
    ),
    path(
        "bulk-operations/<uuid:id>/items/",
        BulkOperationViewSet.as_view({"get": "items"}),
        name="bulkoperation-items",
    ),
    path(
        "bulk-operations/<uuid:id>/retry-failures/",
        BulkOperationViewSet.as_view({"post": "retry_failures"}),
        name="bulkoperation-retry-failures",
    ),
]
