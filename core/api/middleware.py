"""A body over the limit, refused before anything reads it.

Django refuses a body over `DATA_UPLOAD_MAX_MEMORY_SIZE` only when something reads it, by
raising `RequestDataTooBig`; its answer is the HTML "Bad Request (400)" page and an ERROR with a
traceback in the log. For the API a big body is the client's mistake, not ours: it gets 413 in
the API's JSON error format, naming the limit, and one WARNING line. Other paths keep Django's
behaviour.
"""

import logging

from django.conf import settings
from django.http import JsonResponse

from .errors import body, is_api_path, too_large_message

logger = logging.getLogger(__name__)


class ApiBodyLimitMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None and is_api_path(request):
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            if length > limit:
                logger.warning(
                    "API request body of %s bytes refused (limit %s): %s %s",
                    length,
                    limit,
                    request.method,
                    request.path_info,
                )
                return JsonResponse(body("too_large", too_large_message(limit, length)), status=413)
        return self.get_response(request)
