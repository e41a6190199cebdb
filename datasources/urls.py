from django.urls import path

from . import views

app_name = "datasources"

urlpatterns = [
    path("datasources/", views.datasource_list, name="list"),
    path("datasources/<uuid:public_id>/", views.datasource_detail, name="detail"),
    path("datasources/<uuid:public_id>/edit/", views.datasource_edit, name="edit"),
    path("datasources/<uuid:public_id>/disable/", views.datasource_disable, name="disable"),
    path("datasources/<uuid:public_id>/enable/", views.datasource_enable, name="enable"),
    path("datasources/<uuid:public_id>/delete/", views.datasource_delete, name="delete"),
    path(
        "datasources/<uuid:public_id>/maintenance/",
        views.datasource_maintenance,
        name="maintenance",
    ),
    path("datasources/<uuid:public_id>/rotate/", views.datasource_rotate, name="rotate"),
    path(
        "orgs/<uuid:org_public_id>/datasources/new/",
        views.datasource_register,
        name="register",
    ),
    path("orgs/<uuid:org_public_id>/drift/", views.drift_list, name="drift_list"),
    path("orgs/<uuid:org_public_id>/drift/check/", views.drift_check, name="drift_check"),
    path("drift/<uuid:public_id>/resolve/", views.drift_resolve, name="drift_resolve"),
]
