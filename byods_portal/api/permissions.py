"""The one permission class of the API: each view names the `Perm` every action needs."""

from rest_framework.permissions import BasePermission


def required_perm(view, request) -> str | None:
    """The `Perm` for this request: `view.perms[action]` (viewsets) or `[method]` (views).
    None, and so a refusal, for anything a view did not list."""
    perms = getattr(view, "perms", {})
    key = getattr(view, "action", None) or request.method.lower()
    return perms.get(key)


class HasPortalPerm(BasePermission):
    """Signed-in staff through Django's permissions, API keys through their role: both answer
    `has_perm` for the same `Perm` names the pages check."""

    message = "Your role does not allow this."

    def has_permission(self, request, view) -> bool:
        perm = required_perm(view, request)
        user = request.user
        return bool(perm and user and user.is_authenticated and user.has_perm(perm))


class CanReadApiSchema(BasePermission):
    """The schema is for whoever may use the portal's API to read (not the verifier role)."""

    def has_permission(self, request, view) -> bool:
        from accounts.roles import Perm

        user = request.user
        return bool(user and user.is_authenticated and user.has_perm(Perm.VIEW_PORTAL))
