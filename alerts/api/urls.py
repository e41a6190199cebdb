from django.urls import path

from .views import AlertChannelViewSet, AlertViewSet

urlpatterns = [
    path("alerts/", AlertViewSet.as_view({"get": "list"}), name="alert-list"),
    path(
        "alerts/incidents/",
        AlertViewSet.as_view({"post": "incident_raise"}),
        name="alert-incident-raise",
    ),
    path("alerts/<uuid:id>/", AlertViewSet.as_view({"get": "retrieve"}), name="alert-detail"),
    path(
        "alerts/<uuid:id>/acknowledge/",
        AlertViewSet.as_view({"post": "acknowledge"}),
        name="alert-acknowledge",
    ),
    path(
        "alerts/<uuid:id>/snooze/",
        AlertViewSet.as_view({"post": "snooze"}),
        name="alert-snooze",
    ),
    path(
        "alerts/<uuid:id>/silence/",
        AlertViewSet.as_view({"post": "silence"}),
        name="alert-silence",
    ),
    path(
        "alerts/<uuid:id>/wake/",
        AlertViewSet.as_view({"post": "wake"}),
        name="alert-wake",
    ),
    path(
        "alerts/<uuid:id>/resolve/",
        AlertViewSet.as_view({"post": "resolve"}),
        name="alert-resolve",
    ),
    path(
        "alerts/channels/<uuid:id>/test/",
        AlertChannelViewSet.as_view({"post": "test"}),
        name="alertchannel-test",
    ),
]
