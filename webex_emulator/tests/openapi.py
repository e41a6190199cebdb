"""A validator for the JSON-Schema subset that ``openapi-excerpt.json`` uses.

Supported: ``$ref`` (local ``#/...``), ``type`` (object, array, string, number, integer, boolean),
``properties``, ``required``, ``items``, ``enum``. Unknown keywords (``format``, ``example``,
``description``) are ignored. Extra properties are allowed, as in the spec.

``data/openapi-excerpt.json`` is a verbatim copy of ``../shared/webex/openapi-excerpt.json``.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import requests

SPEC_PATH = Path(__file__).parent / "data" / "openapi-excerpt.json"
ERROR_REF = {"$ref": "#/components/schemas/Error"}


@cache
def spec() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SPEC_PATH.read_text(encoding="utf-8"))
    return data


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        ref = schema["$ref"]
        assert ref.startswith("#/"), ref
        node: Any = spec()
        for part in ref[2:].split("/"):
            node = node[part]
        schema = node
    return schema


_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "number": (int, float),
    "integer": (int,),
    "boolean": (bool,),
}


def validate(instance: Any, schema: dict[str, Any], where: str = "$") -> list[str]:
    """Problems of ``instance`` against ``schema`` (empty when it conforms)."""
    schema = _resolve(schema)
    problems: list[str] = []
    expected = schema.get("type")
    if expected is not None:
        ok = isinstance(instance, _TYPES[expected])
        if expected in ("number", "integer") and isinstance(instance, bool):
            ok = False
        if not ok:
            return [f"{where}: expected {expected}, got {type(instance).__name__}"]
    if "enum" in schema and instance not in schema["enum"]:
        problems.append(f"{where}: {instance!r} not in enum")
    if isinstance(instance, dict):
        for name in schema.get("required", []):
            if name not in instance:
                problems.append(f"{where}: missing required property {name!r}")
        for name, subschema in schema.get("properties", {}).items():
            if name in instance:
                problems.extend(validate(instance[name], subschema, f"{where}.{name}"))
    if isinstance(instance, list) and "items" in schema:
        for index, item in enumerate(instance):
            problems.extend(validate(item, schema["items"], f"{where}[{index}]"))
    return problems


def operation(method: str, template: str) -> dict[str, Any]:
    op: dict[str, Any] = spec()["paths"][template][method.lower()]
    return op


def response_schema(method: str, template: str, status: int) -> dict[str, Any] | None:
    """The JSON schema of a documented response; error responses use the ``Error`` schema
    (the README's "errors everywhere" convention) when the spec gives none."""
    responses = operation(method, template)["responses"]
    assert str(status) in responses, f"{method} {template}: status {status} is not in the spec"
    content = responses[str(status)].get("content", {}).get("application/json")
    if content and "schema" in content:
        schema: dict[str, Any] = content["schema"]
        return schema
    if status >= 400:
        return ERROR_REF
    return None


def assert_conforms(response: requests.Response, method: str, template: str) -> None:
    """The response's status is documented for the operation and its body matches the spec."""
    schema = response_schema(method, template, response.status_code)
    if schema is None:
        assert response.content == b"", f"expected an empty body, got {response.text[:200]}"
        return
    problems = validate(response.json(), schema)
    assert not problems, f"{method} {template} {response.status_code}: {problems}"
    if response.status_code >= 400:
        assert_error_body(response)


def assert_error_body(response: requests.Response) -> dict[str, Any]:
    """A Webex error: the Error schema, at least one description, trackingId body == header."""
    body: dict[str, Any] = response.json()
    problems = validate(body, ERROR_REF)
    assert not problems, problems
    assert isinstance(body.get("message"), str) and body["message"]
    assert body.get("errors") and all(isinstance(e.get("description"), str) for e in body["errors"])
    assert body["trackingId"] == response.headers["trackingId"]
    return body
