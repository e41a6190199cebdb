from django.urls import path

from . import views

app_name = "audit"

urlpatterns = [
    path("", views.audit_log, name="log"),
    path("export.csv", views.audit_export, name="export"),
    path("events/<uuid:public_id>/", views.event_detail, name="event"),
    path("orgs/<uuid:org_id>/", views.org_timeline, name="org_timeline"),
    path(
        "datasources/<uuid:datasource_id>/", views.datasource_timeline, name="datasource_timeline"
    ),
]
