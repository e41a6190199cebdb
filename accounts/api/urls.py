from django.urls import path

from .views import StaffViewSet

urlpatterns = [
    path("staff/", StaffViewSet.as_view({"get": "list"}), name="staff-list"),
    path(
        "staff/access-review/",
        StaffViewSet.as_view({"get": "access_review"}),
        name="staff-access-review",
    ),
    path("staff/invitations/", StaffViewSet.as_view({"post": "invite"}), name="staff-invite"),
    path("staff/<uuid:id>/", StaffViewSet.as_view({"get": "retrieve"}), name="staff-detail"),
]
for _action in (
    "role",
    "deactivate",
    "reactivate",
    "unlock",
    "reset_second_factor",
    "revoke_sessions",
):
    urlpatterns.append(
        path(
            f"staff/<uuid:id>/{_action.replace('_', '-')}/",
            StaffViewSet.as_view({"post": _action}),
            name=f"staff-{_action.replace('_', '-')}",
        )
    )
