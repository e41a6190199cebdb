"""The four published data exchange schemas, served as Webex schema objects.

The files in ``data/schemas/`` are copies of webex/dataSourceSchemas (b0d751f), named by their
real ids. ``GET /v1/dataSources/schemas`` turns each into the object the OpenAPI excerpt shows:

* ``id``: the file's ``schemaId``; ``appType``: its ``supportedAppType`` (``serviceApp``);
* ``protocol``: its ``protocol`` (``gRPC`` or ``web-socket``);
* ``serviceType``: the service folder of the schema in the repository (``VoiceVirtualAgent``,
  ``AudioForking``...): the files carry no service type, and this is the only stable one;
* ``url``: the repository folder holding the schema definition, at the version the file cites;
* ``description``: the file's ``serviceName``;
* ``createdAt``: the files carry no date; the emulator uses the date of the OpenAPI example
  (``2024-09-05T01:35:04.772Z``) for all four.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

SCHEMA_DIR = Path(__file__).parent / "data" / "schemas"
SCHEMA_CREATED_AT = "2024-09-05T01:35:04.772Z"

_URI_RE = re.compile(
    r"^(?P<repo>https://github\.com/[^/]+/[^/]+)/blob/(?P<ref>[^/]+)/Services/(?P<service>[^/]+)/(?P<id>[^/]+)/"
)


def _first_uri(node: Any) -> str | None:
    if isinstance(node, dict):
        if isinstance(node.get("uri"), str):
            return str(node["uri"])
        for value in node.values():
            found = _first_uri(value)
            if found:
                return found
    return None


def _schema_object(raw: dict[str, Any]) -> dict[str, Any]:
    uri = _first_uri(raw.get("payload", {})) or ""
    match = _URI_RE.match(uri)
    if match:
        service_type = match.group("service")
        repo, ref, schema_id = match.group("repo", "ref", "id")
        url = f"{repo}/tree/{ref}/Services/{service_type}/{schema_id}"
    else:  # pragma: no cover - the four published files all match
        service_type, url = "webService", uri
    return {
        "id": raw["schemaId"],
        "appType": raw.get("supportedAppType", "serviceApp"),
        "createdAt": SCHEMA_CREATED_AT,
        "protocol": raw["protocol"],
        "serviceType": service_type,
        "url": url,
        "description": raw.get("serviceName", ""),
    }


@cache
def all_schemas() -> tuple[dict[str, Any], ...]:
    """Every schema object, sorted by id."""
    objects = [
        _schema_object(json.loads(path.read_text(encoding="utf-8")))
        for path in sorted(SCHEMA_DIR.glob("*.json"))
    ]
    return tuple(sorted(objects, key=lambda item: item["id"]))


def schema_ids() -> list[str]:
    return [item["id"] for item in all_schemas()]


def get_schema(schema_id: str) -> dict[str, Any] | None:
    for item in all_schemas():
        if item["id"] == schema_id:
            return dict(item)
    return None
