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
        user = request.user
        if not (user and user.is_authenticated):
            return False
        action_map = getattr(view, "action_map", None)
        if action_map is not None and request.method.lower() not in action_map:
            return True  # no such action: the view answers 405 Method Not Allowed
        perm = required_perm(view, request)
        return bool(perm and user.has_perm(perm))


class CanReadApiSchema(BasePermission):
    """The schema is for whoever may use the portal's API to read (not the verifier role)."""

    def has_permission(self, request, view) -> bool:
        from accounts.roles import Perm

        user = request.user
        return bool(user and user.is_authenticated and user.has_perm(Perm.VIEW_PORTAL))
