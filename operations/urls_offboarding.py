"""Offboarding's pages (operations/views_offboarding.py), under /orgs/ beside the org pages."""

from django.urls import path

from . import views_offboarding as views

app_name = "offboarding"

urlpatterns = [
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
]
