"""The Webex surface: ``/v1`` routes and the JWKS under ``/idb``.

Behaviour follows ``../shared/webex/README.md`` and, where public sources are silent, its
"where the emulator must choose" table. Route-specific choices are in each handler's docstring.

This module is the route table; the handlers live beside it: ``data_sources`` (and the JWKS),
``tokens`` (Service App tokens, refresh, the Service App object), ``webhooks``, and ``common``
(what they share).
"""

from __future__ import annotations

from .common import by_method
from .data_sources import (
    delete_data_source,
    get_data_source,
    get_schema,
    list_data_sources,
    list_schemas,
    register_data_source,
    update_data_source,
    verification_jwks,
)
from .tokens import create_app_token, get_application, refresh_access_token
from .webhooks import create_webhook, delete_webhook, get_webhook, list_webhooks, update_webhook

routes = [
    by_method("/v1/dataSources", post=register_data_source, get=list_data_sources),
    by_method("/v1/dataSources/", get=list_data_sources),
    by_method("/v1/dataSources/schemas", get=list_schemas),
    by_method("/v1/dataSources/schemas/{schemaId}", get=get_schema),
    by_method(
        "/v1/dataSources/{dataSourceId}",
        get=get_data_source,
        put=update_data_source,
        delete=delete_data_source,
    ),
    # ``:path`` so a standard-base64 id containing "/" (raw or %2F-encoded) still matches.
    by_method("/v1/applications/{applicationId:path}/token", post=create_app_token),
    by_method("/v1/applications/{applicationId:path}", get=get_application),
    by_method("/v1/access_token", post=refresh_access_token),
    by_method("/v1/webhooks", post=create_webhook, get=list_webhooks),
    by_method(
        "/v1/webhooks/{webhookId}", get=get_webhook, put=update_webhook, delete=delete_webhook
    ),
    by_method("/idb/oauth2/v2/keys/verificationjwk", get=verification_jwks),
]
