from django.contrib.auth.decorators import login_not_required
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from accounts.roles import Perm
from core.health import run_checks
from operations.health import deep_health

from .metrics import bearer_ok


@require_GET
@never_cache
@login_not_required
def healthz(request):
    """For load balancers and monitors: 200 when the database and broker answer, else 503.

    `?deep=1` adds the heartbeats (each worker, the scheduler's last tick) and Webex's last
    five minutes, and is 503 also when the scheduler or every worker is silent. The plain check
    needs no login (load balancers have none) and shows only names, states and timings; the
    deep one names hosts, so it wants the metrics bearer token or a signed-in staff member.
    """
    if request.GET.get("deep") not in (None, "", "0"):
        if not (bearer_ok(request) or request.user.has_perm(Perm.VIEW_PORTAL)):
            return JsonResponse(
                {
                    "error": "the deep check needs the metrics bearer token "
                    "(PORTAL_METRICS_TOKEN) or a signed-in session"
                },
                status=401,
                headers={"WWW-Authenticate": 'Bearer realm="health"'},
            )
        report = deep_health()
        return JsonResponse(report.as_dict(), status=200 if report.ok else 503)
    checks = run_checks()
    ok = all(c.ok for c in checks)
    body = {"status": "ok" if ok else "down", "checks": {c.name: c.as_dict() for c in checks}}
    return JsonResponse(body, status=200 if ok else 503)
