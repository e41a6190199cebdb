"""Navigation shown to the signed-in user: only the pages their role may open."""

from django.urls import NoReverseMatch, reverse

from .roles import Perm, user_role

# (label, url name, permission). A page a role may not use is hidden here and answers 403.
# Kept short enough for one line at 1280 px: API keys are reached from the Staff page.
NAV_ITEMS: list[tuple[str, str, str]] = [
    ("Dashboard", "dashboard", Perm.VIEW_PORTAL),
    ("Orgs", "tenants:org_list", Perm.VIEW_PORTAL),
    ("Data sources", "datasources:list", Perm.VIEW_PORTAL),
    ("Service Apps", "tenants:serviceapp_list", Perm.VIEW_PORTAL),
    ("Bulk actions", "operations:list", Perm.VIEW_PORTAL),
    ("Alerts", "alerts:list", Perm.VIEW_PORTAL),
    ("Audit trail", "audit:log", Perm.VIEW_AUDIT),
    # Operators manage staff; auditors read the list and the access review.
    ("Staff", "accounts:staff_list", Perm.VIEW_AUDIT),
]


def navigation(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": [], "user_role": None}
    match = getattr(request, "resolver_match", None)
    if match is not None and match.url_name in ("second_factor", "second_factor_enrol"):
        return {"nav_items": [], "user_role": None}  # half signed in: nothing to navigate to
    items = []
    for label, url_name, perm in NAV_ITEMS:
        if not user.has_perm(perm):
            continue
        try:
            url = reverse(url_name)
        except NoReverseMatch:
            continue
        active = request.path == url if url == "/" else request.path.startswith(url)
        items.append({"label": label, "url": url, "active": active})
    return {"nav_items": items, "user_role": user_role(user)}
