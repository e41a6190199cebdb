"""Offboarding through the API: the same confirmation as the page, the same workflow
(operations/offboarding.py) in the background. Poll the org for `offboard_progress`."""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response

from accounts.roles import Perm
from core.api.errors import Conflict
from core.api.schema import error_example
from core.api.views import PortalViewSet
from core.queueing import enqueue_on_commit
from tenants import selectors as tenant_selectors
from tenants import services as tenant_services
from tenants.api.serializers import OffboardSerializer, OrgSerializer
from tenants.api.views import ORG_EXAMPLE, _example
from tenants.models import CustomerOrg

from .. import tasks

Status = CustomerOrg.Status


class OrgOffboardViewSet(PortalViewSet):
    serializer_class = OrgSerializer
    perms = {"offboard": Perm.OPERATE}

    @extend_schema(
        summary="Start offboarding an org",
        description="Operators only. Type the org's name to confirm; its data sources at Webex "
        "are disabled (with the reason as the message) or deleted by a background task, then "
        "its tokens are destroyed. Poll the org: `offboard_progress` shows the steps.",
        tags=["orgs"],
        request=OffboardSerializer,
        responses={202: OrgSerializer},
        examples=[
            _example(
                "offboard",
                {"confirm_name": "Globex Retail", "mode": "disable", "reason": "Contract ended"},
                202,
                response=False,
            ),
            _example("started", ORG_EXAMPLE | {"status": "offboarding"}, 202),
            error_example(
                "invalid",
                "Check the fields: confirm_name.",
                {"confirm_name": ["Type the org's name exactly: Globex Retail"]},
            ),
        ],
    )
    def offboard(self, request, id):
        org = tenant_selectors.org_get_for_user(self.request.user, id)
        if org.status in (Status.OFFBOARDING, Status.OFFBOARDED):
            raise Conflict(
                f"{org.name} is already {org.get_status_display().lower()}.", "already_offboarding"
            )
        serializer = OffboardSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        d = serializer.validated_data
        org = tenant_services.org_offboard_start(
            org=org,
            confirm_name=d["confirm_name"],
            mode=d["mode"],
            reason=d["reason"],
            actor=self.actor(),
        )
        enqueue_on_commit(tasks.offboard_org, org.pk)
        org = tenant_selectors.org_get_for_user(self.request.user, id)
        return Response(OrgSerializer(org).data, status=status.HTTP_202_ACCEPTED)
