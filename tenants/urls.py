from django.urls import path

from . import views

app_name = "tenants"

# "org_list" and "org_detail" join this namespace in byods_portal/urls.py: their views read
# data sources and the audit trail, so they live in operations/views_orgs.py.

urlpatterns = [
    path("orgs/onboard/", views.org_onboard, name="org_onboard"),
    path("orgs/suggest/", views.org_suggest, name="org_suggest"),
    path("orgs/<uuid:public_id>/tokens/paste/", views.org_tokens_paste, name="org_tokens_paste"),
    path("orgs/<uuid:public_id>/tokens/refresh/", views.org_refresh, name="org_refresh"),
    path("service-apps/", views.serviceapp_list, name="serviceapp_list"),
    path("service-apps/new/", views.serviceapp_create, name="serviceapp_create"),
    path("service-apps/<uuid:public_id>/", views.serviceapp_detail, name="serviceapp_detail"),
    path(
        "service-apps/<uuid:public_id>/webhooks/",
        views.serviceapp_register_webhooks,
        name="serviceapp_register_webhooks",
    ),
    path(
        "service-apps/<uuid:public_id>/reconcile/",
        views.serviceapp_reconcile,
        name="serviceapp_reconcile",
    ),
]
