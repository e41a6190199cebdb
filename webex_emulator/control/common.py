"""What the control handlers share: the JSON body and its fields, and finding an app or an org."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

from .. import ids, schemas
from ..api.common import emulator_of
from ..errors import WebexError
from ..state import Org, ServiceApp
from ..validation import domain_problem


async def read_body(request: Request) -> dict[str, Any]:
    """JSON object body; an empty body is ``{}``."""
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        raise WebexError(400, "The request body is not valid JSON.", [str(exc)]) from exc
    if not isinstance(data, dict):
        raise WebexError(400, "The request body must be a JSON object.")
    return data


def string_list(body: dict[str, Any], name: str, default: list[str] | None = None) -> list[str]:
    value = body.get(name, default)
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        raise WebexError(400, f"{name} must be a list of non-empty strings")
    return list(value)


def number(body: dict[str, Any], name: str, *, minimum: float | None = None) -> float:
    value = body.get(name)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise WebexError(400, f"{name} must be a number")
    if minimum is not None and value < minimum:
        raise WebexError(400, f"{name} must be >= {minimum}")
    return float(value)


def parse_domains(body: dict[str, Any]) -> list[str]:
    domains = string_list(body, "validDomains")
    for domain in domains:
        problem = domain_problem(domain)
        if problem:
            raise WebexError(400, f"validDomains: {domain!r} {problem}")
    return [domain.lower() for domain in domains]


def parse_schema_ids(body: dict[str, Any]) -> list[str]:
    chosen = string_list(body, "dataSourceSchemaIds")
    known = set(schemas.schema_ids())
    unknown = [item for item in chosen if item not in known]
    if unknown:
        raise WebexError(400, f"dataSourceSchemaIds: unknown schema id(s) {', '.join(unknown)}")
    return chosen


def find_app(request: Request, raw: Any) -> ServiceApp:
    """A Service App by ``applicationId`` (any base64 form) or plain client id; 404 otherwise."""
    if not isinstance(raw, str) or not raw:
        raise WebexError(400, "applicationId is required")
    store = emulator_of(request).store
    client_id = ids.parse_application_id(raw) or raw
    app = store.get_app(client_id)
    if app is None:
        raise WebexError(404, f"Service App {raw} not found")
    return app


def find_org(request: Request, raw: Any) -> Org:
    if not isinstance(raw, str) or not raw:
        raise WebexError(400, "orgId is required")
    org_id = ids.parse_org_id(raw)
    org = emulator_of(request).store.get_org(org_id) if org_id else None
    if org is None:
        raise WebexError(404, f"Org {raw} not found")
    return org
