from django.contrib.auth.decorators import login_not_required
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from core.health import run_checks


@require_GET
@never_cache
@login_not_required
def healthz(request):
    """For load balancers and monitors: 200 when the database and broker answer, else 503.

    No login (monitors have none) and no secrets: only names, states and timings.
    """
    checks = run_checks()
    ok = all(c.ok for c in checks)
    body = {"status": "ok" if ok else "down", "checks": {c.name: c.as_dict() for c in checks}}
    return JsonResponse(body, status=200 if ok else 503)
