from django.urls import path

from . import views

app_name = "alerts"

urlpatterns = [
    path("alerts/", views.alert_list, name="list"),
    path("alerts/incident/", views.incident_raise, name="incident_raise"),
    path("alerts/<uuid:public_id>/", views.alert_detail, name="detail"),
    path("alerts/<uuid:public_id>/snooze/", views.alert_snooze, name="snooze"),
    path("alerts/<uuid:public_id>/silence/", views.alert_silence, name="silence"),
    path("alerts/<uuid:public_id>/wake/", views.alert_wake, name="wake"),
    path("alerts/<uuid:public_id>/acknowledge/", views.alert_acknowledge, name="acknowledge"),
    path("alerts/<uuid:public_id>/resolve/", views.alert_resolve, name="resolve"),
    path("alerts/channels/", views.channel_list, name="channel_list"),
    path("alerts/channels/new/", views.channel_create, name="channel_create"),
    path("alerts/channels/<uuid:public_id>/", views.channel_edit, name="channel_edit"),
    path("alerts/channels/<uuid:public_id>/delete/", views.channel_delete, name="channel_delete"),
    path("alerts/channels/<uuid:public_id>/test/", views.channel_test, name="channel_test"),
]
