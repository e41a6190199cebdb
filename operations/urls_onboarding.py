"""The onboarding wizard's pages (operations/views_onboarding.py), under /orgs/ beside the
org pages."""

from django.urls import path

from . import views_onboarding as views

app_name = "onboarding"

urlpatterns = [
    # steps 1-2, then per org from the org row
    path("orgs/onboard/wizard/", views.wizard_app, name="wizard_app"),
    path("orgs/onboard/wizard/<uuid:app_public_id>/", views.wizard_org, name="wizard_org"),
    path("orgs/<uuid:public_id>/onboarding/", views.wizard_resume, name="wizard_resume"),
    path("orgs/<uuid:public_id>/onboarding/tokens/", views.wizard_tokens, name="wizard_tokens"),
    path(
        "orgs/<uuid:public_id>/onboarding/data-source/",
        views.wizard_datasource,
        name="wizard_datasource",
    ),
    path("orgs/<uuid:public_id>/onboarding/finish/", views.wizard_finish, name="wizard_finish"),
]
