"""GET /metrics: the fleet in Prometheus' text format, for the on-call team's Prometheus.

Every figure comes from the database, so any web process answers for the whole fleet (workers'
and schedulers' heartbeats, every process's Webex calls as drained by their heartbeats) and the
counters survive restarts. The cost is fixed: aggregates shared with the dashboard (cached for
PORTAL_AGGREGATE_CACHE_SECONDS), index walks for the soonest expiries, and small tables of
counters; nothing reads history. `deploy/prometheus/` holds the scrape config and the alert
rules that use these names.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from alerts.models import Kind, Severity
from alerts.selectors import alert_open_counts_by_kind
from core.cache import cached_aggregate
from datasources.selectors import HEALTH, datasource_health_counts, datasource_soonest_expiry
from stats.counters import rotations_total
from stats.liveness import liveness
from stats.webex_calls import webex_call_counts, webex_latency_buckets
from tenants.models import CustomerOrg
from tenants.selectors import org_status_counts, org_token_soonest_expiry
from webex.metrics import BUCKETS


def bearer_ok(request) -> bool:
    """The request carries `Authorization: Bearer <PORTAL_METRICS_TOKEN>` (compared in
    constant time); never true while the token is unset."""
    token = settings.PORTAL_METRICS_TOKEN
    if not token:
        return False
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(presented.strip(), token)


class FleetCollector:
    """Reads the figures at scrape time (a registry of its own per request: nothing global)."""

    def collect(self) -> Iterator[Metric]:
        now = timezone.now()
        health = cached_aggregate("health", datasource_health_counts)
        family = GaugeMetricFamily(
            "byods_datasources", "Live data sources by health.", labels=["health"]
        )
        for value, _ in HEALTH:
            family.add_metric([value], health[value])
        yield family

        soonest = datasource_soonest_expiry()
        yield from _seconds_until(
            "byods_datasource_soonest_expiry_seconds",
            "Seconds until the first active data source's JWS lapses (negative: one has).",
            soonest,
            now,
        )
        yield from _seconds_until(
            "byods_org_token_soonest_expiry_seconds",
            "Seconds until the first active org's access token lapses (negative: one has).",
            org_token_soonest_expiry(),
            now,
        )

        orgs = cached_aggregate("org-status", org_status_counts)
        family = GaugeMetricFamily("byods_orgs", "Customer orgs by status.", labels=["status"])
        for value, _ in CustomerOrg.Status.choices:
            family.add_metric([value], orgs[value])
        yield family

        open_alerts = alert_open_counts_by_kind()
        family = GaugeMetricFamily(
            "byods_alerts_open", "Open alerts by kind and severity.", labels=["kind", "severity"]
        )
        for kind in Kind:
            for severity in Severity:
                count = open_alerts.get((kind.value, severity.value), 0)
                family.add_metric([kind.value, severity.value], count)
        yield family

        rotations = CounterMetricFamily(
            "byods_rotations", "Rotations that ended, by outcome.", labels=["outcome"]
        )
        for outcome, count in rotations_total().items():
            rotations.add_metric([outcome], count)
        yield rotations

        yield from _webex_calls()
        yield from _liveness(now)


def _seconds_until(name: str, documentation: str, moment, now) -> Iterator[Metric]:
    """A gauge of seconds from now to `moment`; absent when there is no such moment (no
    active data source, no org), which alert rules must treat as "nothing to lapse"."""
    if moment is not None:
        yield GaugeMetricFamily(name, documentation, value=(moment - now).total_seconds())


def _webex_calls() -> Iterator[Metric]:
    calls = webex_call_counts()
    family = CounterMetricFamily(
        "byods_webex_requests",
        "HTTP attempts to Webex by endpoint and status (transport_error: no answer).",
        labels=["endpoint", "status"],
    )
    for endpoint, status, count, _ in calls:
        family.add_metric([endpoint, status], count)
    yield family

    sums: dict[str, float] = {}
    for endpoint, _, _, seconds in calls:
        sums[endpoint] = sums.get(endpoint, 0.0) + seconds
    latency = HistogramMetricFamily(
        "byods_webex_request_duration_seconds",
        "Latency of HTTP attempts to Webex by endpoint.",
        labels=["endpoint"],
    )
    for endpoint, counts in sorted(webex_latency_buckets().items()):
        cumulative, buckets = 0, []
        for bound, count in zip((*map(str, BUCKETS), "+Inf"), counts, strict=True):
            cumulative += count
            buckets.append((bound, float(cumulative)))
        latency.add_metric([endpoint], buckets, sum_value=sums.get(endpoint, 0.0))
    yield latency


def _liveness(now) -> Iterator[Metric]:
    seen = liveness(now=now)
    tick = seen.last_tick
    if tick is not None:
        yield GaugeMetricFamily(
            "byods_scheduler_last_tick_timestamp_seconds",
            "When the scheduler holding the lease last checked in (Unix time).",
            value=tick.timestamp(),
        )
    family = GaugeMetricFamily(
        "byods_worker_last_heartbeat_timestamp_seconds",
        "When each worker last wrote its heartbeat (Unix time), for workers seen in a day.",
        labels=["worker"],
    )
    for worker in seen.workers:
        family.add_metric([worker.name], worker.last_seen_at.timestamp())
    yield family
    yield GaugeMetricFamily(
        "byods_workers_alive",
        f"Workers whose heartbeat is under {settings.PORTAL_WORKER_SILENT_SECONDS} s old.",
        value=len(seen.live_workers),
    )


@require_GET
@never_cache
@login_not_required
def metrics(request):
    """404 while PORTAL_METRICS_TOKEN is unset (the endpoint does not exist), 401 without the
    right bearer token, else the text format."""
    if not settings.PORTAL_METRICS_TOKEN:
        raise Http404
    if not bearer_ok(request):
        response = HttpResponse("401 Unauthorized: send the metrics bearer token\n", status=401)
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        response["Content-Type"] = "text/plain; charset=utf-8"
        return response
    registry = CollectorRegistry(auto_describe=False)
    registry.register(FleetCollector())
    # Format 0.0.4: what every Prometheus 2.x scrapes (our names need none of 1.0.0's UTF-8).
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_PLAIN_0_0_4)
