from django.urls import path

from .views import AuditEventViewSet

urlpatterns = [
    path("audit/events/", AuditEventViewSet.as_view({"get": "list"}), name="auditevent-list"),
    path(
        "audit/events/export/",
        AuditEventViewSet.as_view({"get": "export"}),
        name="auditevent-export",
    ),
    path(
        "audit/events/<uuid:id>/",
        AuditEventViewSet.as_view({"get": "retrieve"}),
        name="auditevent-detail",
    ),
]
