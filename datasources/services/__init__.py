"""Writes for data sources: registration, edits, status changes and the rotation engine.

Webex calls happen outside transactions. Each change is bracketed by short transactions that
lock the row, re-check its state, and record the audit event with the change. A rotation writes
its nonce first (`pending_nonce`, with a `NonceRecord`) and only then calls Webex, so a crash or
a lost response is retried with the same nonce instead of a second, different rotation.

The package's rooms, each importing only from those listed before it:
- `_common`: the errors (`DataSourceError`, `DataSourceBusy`), the nonce, the payload sent to
  Webex, the audit snapshot and event;
- `calls`: how a call reaches Webex: the org's access token with one refresh on 401
  (`AccessTokens` shares it across a batch), and the in-flight lease (`_take_lease`, `_push`);
- `rotation`: the rotation engine (`datasource_claim_due`, `datasource_rotate`, and
  `datasources_rotate_many`, the same steps pipelined for a batch) and
  `_apply_remote` with the fields it assigns (`APPLIED_FIELDS`);
- `lifecycle`: register, edit, disable, enable, delete, maintenance windows, and the write
  paths the others share (`_change`, `_delete`, `_mark_deleted`);
- `drift`: reconciliation and the resolvers of its findings;
- `offboarding`: the data sources' side of an org's offboarding.

Callers import from here (`from datasources import services`); the names below are the API.
Call a service through the package (`services.datasource_rotate(...)`), as the tasks do, where
a test may replace it there.
"""

from audit.context import Actor

from ._common import DataSourceBusy, DataSourceError, new_nonce
from .calls import AccessTokens
from .drift import COMPARED, DriftReport, datasources_reconcile_org, drift_resolve
from .lifecycle import (
    datasource_apply_maintenance,
    datasource_delete,
    datasource_disable,
    datasource_enable,
    datasource_register,
    datasource_schedule_maintenance,
    datasource_update,
)
from .offboarding import (
    OffboardFailure,
    OffboardReport,
    datasource_offboard,
    datasources_close_org,
    datasources_offboard_org,
)
from .rotation import (
    APPLIED_FIELDS,
    RotationResult,
    _apply_remote,  # the rotation cost test checks it against APPLIED_FIELDS
    datasource_claim_due,
    datasource_rotate,
    datasources_rotate_many,
)

__all__ = [
    "APPLIED_FIELDS",
    "COMPARED",
    "AccessTokens",
    "Actor",  # the actor type the services take, as callers have named it from here
    "DataSourceBusy",
    "DataSourceError",
    "DriftReport",
    "OffboardFailure",
    "OffboardReport",
    "RotationResult",
    "_apply_remote",
    "datasource_apply_maintenance",
    "datasource_claim_due",
    "datasource_delete",
    "datasource_disable",
    "datasource_enable",
    "datasource_offboard",
    "datasource_register",
    "datasource_rotate",
    "datasources_rotate_many",
    "datasource_schedule_maintenance",
    "datasource_update",
    "datasources_close_org",
    "datasources_offboard_org",
    "datasources_reconcile_org",
    "drift_resolve",
    "new_nonce",
]
