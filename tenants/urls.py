from django.urls import path

from . import views, views_wizard

app_name = "tenants"

urlpatterns = [
    path("orgs/", views.org_list, name="org_list"),
    path("orgs/onboard/", views.org_onboard, name="org_onboard"),
    path("orgs/<uuid:public_id>/", views.org_detail, name="org_detail"),
    # the onboarding wizard (views_wizard.py): steps 1-2, then per org from the org row
    path("orgs/onboard/wizard/", views_wizard.wizard_app, name="wizard_app"),
    path("orgs/onboard/wizard/<uuid:app_public_id>/", views_wizard.wizard_org, name="wizard_org"),
    path("orgs/<uuid:public_id>/onboarding/", views_wizard.wizard_resume, name="wizard_resume"),
    path(
        "orgs/<uuid:public_id>/onboarding/tokens/",
        views_wizard.wizard_tokens,
        name="wizard_tokens",
    ),
    path(
        "orgs/<uuid:public_id>/onboarding/data-source/",
        views_wizard.wizard_datasource,
        name="wizard_datasource",
    ),
    path(
        "orgs/<uuid:public_id>/onboarding/finish/",
        views_wizard.wizard_finish,
        name="wizard_finish",
    ),
    path("orgs/<uuid:public_id>/tokens/paste/", views.org_tokens_paste, name="org_tokens_paste"),
    path("orgs/<uuid:public_id>/tokens/refresh/", views.org_refresh, name="org_refresh"),
    path("orgs/<uuid:public_id>/offboard/", views.org_offboard, name="org_offboard"),
    path(
        "orgs/<uuid:public_id>/offboard/resume/",
        views.org_offboard_resume,
        name="org_offboard_resume",
    ),
    path(
        "orgs/<uuid:public_id>/offboard/progress/",
        views.org_offboard_progress,
        name="org_offboard_progress",
    ),
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
