"""API for bulk operations: preview, start, watch, read the items, retry the failures.

The same rules as the pages (`operations.views`): anyone who may read the portal may watch
operations; starting or retrying one needs the permission of its kind's single-target action
(the `perm` of its class in `operations.kinds`, through `services.bulk_kind_allowed`), checked
after the input names a kind. The work runs in the `operations.run` task, scheduled when the
transaction commits; poll the operation for progress.
"""

from django.core.exceptions import PermissionDenied, ValidationError
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from accounts.roles import Perm
from core.api.errors import Conflict
from core.api.filters import StrictFilterBackend
from core.api.schema import error_example, example
from core.api.serializers import check_unread
from core.api.views import PortalViewSet
from core.queueing import enqueue_on_commit

from .. import selectors, services, tasks
from ..models import BulkItem, BulkOperation
from .filters import OperationFilter
from .serializers import (
    CONFIRM_FIELDS,
    ItemSerializer,
    OperationSerializer,
    PreviewSerializer,
    SelectionSerializer,
    StartSerializer,
    confirm_params,
)

OP_EXAMPLE = {
    "id": "3c9e2d7a-5b14-4f60-9a8e-6d2f1b0c7e93",
    "kind": "disable",
    "target_type": "datasource",
    "state": "running",
    "total": 40,
    "succeeded": 21,
    "failed": 1,
    "skipped": 2,
    "processed": 24,
    "percent": 60,
    "selection": "40 selected data sources",
    "message": "Maintenance until 18:00 UTC",
    "mode": "",
    "reason": "",
    "created_by": "ops@example.com",
    "created_at": "2026-11-23T09:00:00Z",
    "started_at": "2026-11-23T09:00:01Z",
    "finished_at": None,
    "retry_of": None,
}
DONE_EXAMPLE = OP_EXAMPLE | {
    "state": "done",
    "succeeded": 37,
    "processed": 40,
    "percent": 100,
    "finished_at": "2026-11-23T09:00:41Z",
}
ITEM_EXAMPLE = {
    "target_id": "9d4f6b1e-2c3a-4b5d-8e7f-0a1b2c3d4e55",
    "target_label": "Globex Retail · https://rx.byods.example.com/feed",
    "state": "failed",
    "reason": "Webex refused: 500 Injected failure (Webex trackingId: ROUTER_6540A1B2)",
    "attempts": 1,
    "finished_at": "2026-11-23T09:00:12Z",
}
SELECTION_EXAMPLE = {
    "kind": "disable",
    "target_type": "datasource",
    "ids": ["9d4f6b1e-2c3a-4b5d-8e7f-0a1b2c3d4e55"],
}
PREVIEW_EXAMPLE = {
    "kind": "disable",
    "target_type": "datasource",
    "selection": "1 selected data source",
    "total": 1,
    "will_change": 1,
    "skipped_count": 0,
    "skipped": [],
    "sample": ["Globex Retail · https://rx.byods.example.com/feed"],
}
MESSAGE_ERROR = error_example(
    "invalid",
    "Check the fields: message.",
    {"message": ["Disabling needs a message: the customer's admin sees it in Control Hub."]},
)
IDS_ERROR = error_example(
    "invalid",
    "Check the fields: ids.",
    {"ids": ["Select at least one row, or all rows matching the filter."]},
)
KIND_REFUSED = error_example(
    "permission_denied", "Your role may not start this bulk action.", status=403
)


class BulkOperationViewSet(PortalViewSet):
    serializer_class = OperationSerializer
    filter_backends = [StrictFilterBackend]
    filterset_class = OperationFilter
    perms = {
        "list": Perm.VIEW_PORTAL,
        "retrieve": Perm.VIEW_PORTAL,
        "items": Perm.VIEW_PORTAL,
        # The least any kind needs; the kind's own permission is checked once it is known.
        "preview": Perm.EDIT_DATASOURCES,
        "create": Perm.EDIT_DATASOURCES,
        "retry_failures": Perm.EDIT_DATASOURCES,
    }

    def get_queryset(self):
        return selectors.bulk_operation_list()

    def _op(self, id) -> BulkOperation:
        return selectors.bulk_operation_get(id)

    def _require_kind(self, kind: str) -> None:
        if not services.bulk_kind_allowed(self.request.user, kind):
            raise PermissionDenied("Your role may not start this bulk action.")

    def _selection(self, serializer_class=SelectionSerializer) -> dict:
        serializer = serializer_class(data=self.request.data)
        serializer.is_valid(raise_exception=True)
        self._require_kind(serializer.validated_data["kind"])
        return serializer.validated_data

    def _starter(self) -> dict:
        """`user` for staff (the operation's `created_by`), `actor` for everyone."""
        user = self.request.user
        return {"user": user if user.pk else None, "actor": self.actor()}

    @extend_schema(
        summary="List bulk operations",
        description="Most recent first; filter by `kind` and `state`.",
        tags=["bulk operations"],
        examples=[example("page", OP_EXAMPLE)],
    )
    def list(self, request):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(
        summary="One bulk operation and its progress",
        description="Poll it while `state` is not `done`: the counters and `percent` move as "
        "items settle (`processed` = succeeded + failed + skipped, of `total`).",
        tags=["bulk operations"],
        examples=[example("running", OP_EXAMPLE), example("done", DONE_EXAMPLE)],
    )
    def retrieve(self, request, id):
        return Response(self.get_serializer(self._op(id)).data)

    @extend_schema(
        summary="The items of a bulk operation",
        description="One per target, with its state and, for failed and skipped ones, the "
        "reason. `state=failed` lists the failures (the report's table).",
        tags=["bulk operations"],
        filters=False,
        parameters=[
            OpenApiParameter(
                "state",
                str,
                enum=BulkItem.State.values,
                description="Only the items in this state.",
            )
        ],
        responses={200: ItemSerializer(many=True)},
        examples=[example("failures", ITEM_EXAMPLE)],
    )
    def items(self, request, id):
        op = self._op(id)
        state = request.query_params.get("state", "")
        if state and state not in BulkItem.State.values:
            raise serializers.ValidationError(
                {"state": [f"Choose one of: {', '.join(BulkItem.State.values)}."]}
            )
        page = self.paginate_queryset(selectors.bulk_items(op, state).order_by("pk"))
        return self.get_paginated_response(ItemSerializer(page, many=True).data)

    @extend_schema(
        summary="Preview a bulk operation",
        description="What starting it now would do: how many targets, which are skipped and "
        "why, and the first that will change. Changes nothing. The same checks as the "
        "start: a role that may not start the kind gets 403. Takes the start's body (the "
        "action's input, if sent, is checked for its shape only).",
        tags=["bulk operations"],
        request=StartSerializer,
        responses={200: PreviewSerializer},
        examples=[
            example("selection", SELECTION_EXAMPLE, response=False),
            example(
                "all matching",
                {
                    "kind": "rotate",
                    "target_type": "datasource",
                    "all": True,
                    "filters": {"status": "active"},
                },
                response=False,
            ),
            example("preview", PREVIEW_EXAMPLE),
            IDS_ERROR,
            KIND_REFUSED,
        ],
    )
    def preview(self, request):
        # The start's body as it will be sent: the action's input is checked for its shape
        # here (the counts it is confirmed against are what this answers).
        data = self._selection(StartSerializer)
        check_unread(request.data, {n: StartSerializer().fields[n] for n in CONFIRM_FIELDS})
        preview = services.bulk_preview(kind=data["kind"], selection=data["selection"])
        return Response(PreviewSerializer(preview).data)

    @extend_schema(
        summary="Start a bulk operation",
        description="Takes the selection as the preview does, plus the action's input: "
        "`message` for disable; `mode`, `reason` and `confirm_count` (the number of orgs the "
        "preview says will be offboarded) for offboard. Answers 202 with the operation; a "
        "worker runs it. Each item is changed, and audited, as by the single-target action. "
        "409 `nothing_matches` when none of the targets named is there any more.",
        tags=["bulk operations"],
        request=StartSerializer,
        responses={202: OperationSerializer},
        examples=[
            example(
                "disable",
                SELECTION_EXAMPLE | {"message": "Maintenance until 18:00 UTC"},
                202,
                response=False,
            ),
            example(
                "started", OP_EXAMPLE | {"state": "pending", "processed": 0, "percent": 0}, 202
            ),
            MESSAGE_ERROR,
            KIND_REFUSED,
        ],
    )
    def create(self, request):
        data = self._selection(StartSerializer)
        kind = data["kind"]
        preview = services.bulk_preview(kind=kind, selection=data["selection"])
        params = confirm_params(request.data, kind=kind, expected=preview.will_change)
        if not preview.total:  # well-formed, but what it named is gone (deleted, offboarded)
            raise Conflict("Nothing matches this selection any more.", "nothing_matches")
        op = services.bulk_operation_start(
            kind=kind, selection=data["selection"], params=params, **self._starter()
        )
        enqueue_on_commit(tasks.run, op.pk)
        return Response(self.get_serializer(self._op(op.public_id)).data, status=202)

    @extend_schema(
        summary="Retry the failures of a finished bulk operation",
        description="A new operation, same action and input, over the failed items only "
        "(whether each still needs the change is decided again). 409 while the operation "
        "runs or when nothing failed.",
        tags=["bulk operations"],
        request=None,
        responses={202: OperationSerializer},
        examples=[
            example(
                "retrying",
                OP_EXAMPLE
                | {
                    "id": "7a1d0e5c-93b2-4c8f-a6e1-2f4b8c0d9e17",
                    "state": "pending",
                    "total": 1,
                    "succeeded": 0,
                    "failed": 0,
                    "skipped": 0,
                    "processed": 0,
                    "percent": 0,
                    "retry_of": OP_EXAMPLE["id"],
                },
                202,
            ),
            error_example("no_failures", "This operation has no failures to retry.", status=409),
        ],
    )
    def retry_failures(self, request, id):
        op = self._op(id)
        self._require_kind(op.kind)
        if op.state != BulkOperation.State.DONE:
            raise Conflict("Wait until the operation is done to retry it.", "not_done")
        try:
            retry = services.bulk_operation_retry_failures(operation=op, **self._starter())
        except ValidationError as exc:
            raise Conflict(" ".join(exc.messages), "no_failures") from None
        enqueue_on_commit(tasks.run, retry.pk)
        return Response(self.get_serializer(self._op(retry.public_id)).data, status=202)
