import base64
import uuid

import pytest

from webex import ids


def test_application_id_is_base64_of_the_ciscospark_uri():
    assert base64.b64decode(ids.application_id("C123")) == b"ciscospark://us/APPLICATION/C123"


def test_org_ids_round_trip_in_both_encodings():
    org = uuid.uuid4()
    standard = ids.org_webex_id(org)
    urlsafe_unpadded = base64.urlsafe_b64encode(base64.b64decode(standard)).decode().rstrip("=")
    assert ids.org_uuid(standard) == org
    assert ids.org_uuid(urlsafe_unpadded) == org
    assert ids.org_uuid(str(org)) == org


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "not base64!",
        base64.b64encode(b"https://us/ORGANIZATION/x").decode(),
        ids.encode("PEOPLE", str(uuid.uuid4())),
        ids.encode("ORGANIZATION", "not-a-uuid"),
    ],
)
def test_org_uuid_rejects_what_is_not_an_org_id(bad):
    with pytest.raises(ValueError):
        ids.org_uuid(bad)
