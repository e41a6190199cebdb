"""In-process unit tests of the pure helpers (ids, URL rules, lifetimes, the spec validator)."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest

from webex_emulator import ids, validation
from webex_emulator.clock import iso
from webex_emulator.schemas import SCHEMA_DIR, all_schemas

from .openapi import validate


def test_encode_matches_webex_unpadded_base64() -> None:
    org = "96abc2aa-3dcc-11e5-a152-fe34819cdc9a"
    # The spec's example targetOrgId is exactly this org id, unpadded.
    assert ids.encode(ids.ORGANIZATION, org) == (
        "Y2lzY29zcGFyazovL3VzL09SR0FOSVpBVElPTi85NmFiYzJhYS0zZGNjLTExZTUtYTE1Mi1mZTM0ODE5Y2RjOWE"
    )


@pytest.mark.parametrize(
    "encode",
    [
        lambda raw: base64.b64encode(raw).decode(),
        lambda raw: base64.b64encode(raw).decode().rstrip("="),
        lambda raw: base64.urlsafe_b64encode(raw).decode(),
        lambda raw: base64.urlsafe_b64encode(raw).decode().rstrip("="),
    ],
)
def test_decode_accepts_every_base64_variant(encode: object) -> None:
    raw = b"ciscospark://us/APPLICATION/C0123abcdef?>~"
    assert ids.parse_application_id(encode(raw)) == "C0123abcdef?>~"  # type: ignore[operator]


def test_parse_org_id_forms_and_rejections() -> None:
    org = "96abc2aa-3dcc-11e5-a152-fe34819cdc9a"
    assert ids.parse_org_id(org) == org
    assert ids.parse_org_id(org.upper()) == org
    assert ids.parse_org_id(ids.encode(ids.ORGANIZATION, org)) == org
    assert ids.parse_org_id(ids.encode(ids.PEOPLE, org)) is None
    assert ids.parse_org_id(ids.encode(ids.ORGANIZATION, "not-a-uuid")) is None
    assert ids.parse_org_id("%%%") is None


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("cisco.com", True),
        ("www.cisco.com", True),
        ("a.b.cisco.com", True),
        ("cisco.com.evil.io", False),
        ("evilcisco.com", False),
        ("com", False),
    ],
)
def test_host_in_domains(host: str, allowed: bool) -> None:
    assert validation.host_in_domains(host, ["Cisco.com"]) is allowed


@pytest.mark.parametrize(
    ("value", "minutes"),
    [
        (1, 1),
        (1440, 1440),
        (60.0, 60),
        (0, None),
        (1441, None),
        (True, None),
        ("60", None),
        (1.5, None),
        (float("nan"), None),
    ],
)
def test_parse_lifetime(value: object, minutes: int | None) -> None:
    assert validation.parse_lifetime(value)[0] == minutes


def test_iso_has_milliseconds_and_z() -> None:
    assert iso(1_725_500_104.772) == "2024-09-05T01:35:04.772Z"


def test_schema_objects_are_derived_from_the_files() -> None:
    ids_ = [item["id"] for item in all_schemas()]
    assert ids_ == sorted(ids_)
    assert len(ids_) == 4


def test_validator_catches_type_and_required_problems() -> None:
    schema = {
        "type": "object",
        "required": ["a"],
        "properties": {
            "a": {"type": "integer"},
            "b": {"type": "array", "items": {"type": "string"}},
        },
    }
    assert validate({"a": 1, "b": ["x"]}, schema) == []
    assert validate({"b": [1]}, schema) == [
        "$: missing required property 'a'",
        "$.b[0]: expected string, got int",
    ]
    assert validate({"a": True}, schema) == ["$.a: expected integer, got bool"]


# shared/ sits beside the repository (as in CI); resolved from this file, not the cwd.
SHARED = Path(__file__).resolve().parents[3] / "shared" / "webex"


@pytest.mark.skipif(
    not SHARED.is_dir() and os.environ.get("CI", "").lower() not in {"1", "true", "yes"},
    reason="the shared Webex reference is not beside this checkout (required under CI)",
)
def test_bundled_copies_match_the_shared_reference() -> None:
    """The spec copy and the schema files must not drift from the shared originals."""
    bundled_spec = Path(__file__).parent / "data" / "openapi-excerpt.json"
    assert bundled_spec.read_bytes() == (SHARED / "openapi-excerpt.json").read_bytes()
    shared_schemas = sorted((SHARED / "schemas").glob("*.json"))
    assert [path.name for path in shared_schemas] == [
        path.name for path in sorted(SCHEMA_DIR.glob("*.json"))
    ]
    for path in shared_schemas:
        assert (SCHEMA_DIR / path.name).read_bytes() == path.read_bytes()
