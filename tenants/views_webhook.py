"""`POST /webhooks/webex/`: Webex's serviceApp authorization webhooks arrive here."""

import logging

from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from core.queueing import enqueue_on_commit

from .tasks import handle_authorization_webhook
from .webhooks import WebhookRejected, verify_delivery

logger = logging.getLogger(__name__)


@csrf_exempt  # Webex cannot send a CSRF token; the HMAC signature authenticates instead
@login_not_required
@require_POST
def webex_webhook(request):
    try:
        delivery = verify_delivery(request.body, request.headers.get("X-Spark-Signature"))
    except WebhookRejected as exc:
        logger.warning("webhook rejected (%s): %s", exc.status, exc.reason)
        return JsonResponse({"error": exc.reason}, status=exc.status)
    if delivery is None:
        return JsonResponse({"status": "duplicate ignored"})
    enqueue_on_commit(
        handle_authorization_webhook,
        delivery.app.pk,
        delivery.event,
        str(delivery.webex_org_id),
        delivery.org_name,
        delivery.authorized_at,
    )
    return HttpResponse(status=202)
