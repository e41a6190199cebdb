"""The search page behind the header's search box."""

from django.contrib.auth.decorators import permission_required
from django.shortcuts import render
from django.views.decorators.http import require_GET

from accounts.roles import Perm

from . import search as searching


@require_GET
@permission_required(Perm.VIEW_PORTAL, raise_exception=True)
def search(request):
    """Every role that may use the portal searches orgs and data sources; the audit trail is
    searched only for those who may read it."""
    term = request.GET.get("q", "")
    results = searching.search(term, with_audit=request.user.has_perm(Perm.VIEW_AUDIT))
    return render(
        request,
        "search.html",
        {"results": results, "min_length": searching.MIN_LENGTH, "limit": searching.LIMIT},
    )
