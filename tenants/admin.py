"""Django admin for operators: names, states and expiry times; never a secret's value.

Encrypted fields are excluded from every form and list: the admin cannot show or edit them
(secrets change through the portal's services, which audit the change).
"""

from django.contrib import admin

from accounts.roles import Perm
from core.encryption import EncryptedTextField

from .models import CustomerOrg, OrgToken, ServiceApp, WebhookEvent


def _secret_fields(model) -> list[str]:
    return [f.name for f in model._meta.fields if isinstance(f, EncryptedTextField)]


class NoSecretsAdmin(admin.ModelAdmin):
    """Read-only admin without the model's encrypted fields."""

    def get_exclude(self, request, obj=None):
        return _secret_fields(self.model)

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields if f.name not in _secret_fields(self.model)]

    def has_module_permission(self, request):
        return request.user.has_perm(Perm.OPERATE)

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm(Perm.OPERATE)

    def has_change_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ServiceApp)
class ServiceAppAdmin(NoSecretsAdmin):
    list_display = ("name", "client_id", "region", "integration_token_expires_at")
    search_fields = ("name", "client_id")


@admin.register(CustomerOrg)
class CustomerOrgAdmin(NoSecretsAdmin):
    list_display = ("name", "status", "region", "service_app", "owner", "status_changed_at")
    list_filter = ("status", "region", "service_app")
    search_fields = ("name", "webex_org_id")


@admin.register(OrgToken)
class OrgTokenAdmin(NoSecretsAdmin):
    list_display = (
        "org",
        "access_expires_at",
        "refresh_expires_at",
        "next_refresh_at",
        "consecutive_failures",
    )


@admin.register(WebhookEvent)
class WebhookEventAdmin(NoSecretsAdmin):
    list_display = ("event_id", "resource", "event", "webex_org_id", "received_at")
