from django.urls import path

from . import views, views_signin

app_name = "accounts"

urlpatterns = [
    path("", views.staff_list, name="staff_list"),
    path("invite/", views.staff_invite, name="staff_invite"),
    path("invite/<str:token>/", views_signin.invite_accept, name="invite_accept"),
    path("access-review/", views.access_review, name="access_review"),
    path("access-review.csv", views.access_review_csv, name="access_review_csv"),
    path("api-keys/", views.apikey_list, name="apikey_list"),
    path("api-keys/new/", views.apikey_create, name="apikey_create"),
    path("api-keys/<uuid:public_id>/revoke/", views.apikey_revoke, name="apikey_revoke"),
    path("<uuid:public_id>/", views.staff_detail, name="staff_detail"),
    # One confirmation page per action (the reason, and the role for a role change).
    *[
        path(
            f"<uuid:public_id>/{action}/",
            views.staff_action,
            {"action": action},
            name=f"staff_{action.replace('-', '_')}",
        )
        for action in views.STAFF_ACTIONS
    ],
]
