"""The landing page: the fleet at a glance (orgs, data source health, deadlines, alerts)."""

from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.decorators import permission_required
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from accounts.roles import Perm
from alerts.selectors import alert_open_count, alerts_open
from core.cache import cached_aggregate
from datasources.selectors import HEALTH, datasource_health_counts
from tenants.models import CustomerOrg
from tenants.selectors import org_status_counts

from . import dashboard as dashboard_reads
from .health import deep_health


@require_GET
@permission_required(Perm.VIEW_PORTAL, raise_exception=True)
def dashboard(request):
    """The landing page. A fixed number of queries whatever the number of orgs and data
    sources (a test counts them): aggregates (cached), LIMITed lists, a capped count and two
    chart reads."""
    now = timezone.now()
    # Both fleet-wide counts scan every org or live data source: shared for a few seconds.
    counts = cached_aggregate("org-status", org_status_counts)
    health = cached_aggregate("health", datasource_health_counts)
    alert_count, alert_count_capped = alert_open_count()
    ds_list = reverse("datasources:list")
    return render(
        request,
        "dashboard.html",
        {
            "now": now,
            "default_owner": settings.ALERT_DEFAULT_OWNER,
            "checks": deep_health(now=now).checks,
            "org_counts": [
                (value, label, counts[value]) for value, label in CustomerOrg.Status.choices
            ],
            "org_total": sum(counts.values()),
            "attention": dashboard_reads.needs_attention(now=now, limit=10),
            # Each count links to the list it counts (the list pages take these filters).
            "attention_counts": [
                (
                    f"{health['expired']} lapsed JWS",
                    health["expired"],
                    f"{ds_list}?{urlencode({'health': 'expired'})}",
                ),
                (
                    f"{health['at_risk']} JWS at risk",
                    health["at_risk"],
                    f"{ds_list}?{urlencode({'health': 'at_risk'})}",
                ),
                (
                    _count_words(
                        counts[CustomerOrg.Status.REAUTHORIZATION_REQUIRED], "org", "to reauthorize"
                    ),
                    counts[CustomerOrg.Status.REAUTHORIZATION_REQUIRED],
                    f"{reverse('tenants:org_list')}?status=reauthorization_required",
                ),
                (
                    _count_words(alert_count, "open alert", "", capped=alert_count_capped),
                    alert_count,
                    reverse("alerts:list"),
                ),
            ],
            "health_counts": [
                (value, label, health[value], f"?{urlencode({'health': value})}")
                for value, label in HEALTH
            ],
            "datasource_total": sum(health.values()),
            "deadlines": dashboard_reads.soonest_deadlines(now=now),
            "alerts": alerts_open(limit=10),
            "alert_count": alert_count,
            "alert_count_capped": alert_count_capped,
            "expiry_chart": cached_aggregate(
                "expiry-chart", lambda: dashboard_reads.token_expiry_chart(now=now)
            ),
            "aggregate_seconds": settings.PORTAL_AGGREGATE_CACHE_SECONDS,
            "rotation_chart": dashboard_reads.rotation_chart(now=now),
        },
    )


def _count_words(n: int, noun: str, rest: str, *, capped: bool = False) -> str:
    """ "1 org to reauthorize", "3 orgs to reauthorize", "100+ open alerts"."""
    plural = "" if n == 1 and not capped else "s"
    return " ".join(part for part in (f"{n}{'+' if capped else ''} {noun}{plural}", rest) if part)
