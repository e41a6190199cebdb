from django.contrib import admin

from accounts.roles import Perm

from .models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: the trail is append-only, in the admin too."""

    list_display = ("occurred_at", "actor", "action", "target_type", "target_label", "outcome")
    list_filter = ("outcome", "actor_type", "action")
    search_fields = ("actor", "target_id", "tracking_id")

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_module_permission(self, request):
        return request.user.has_perm(Perm.OPERATE)

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm(Perm.OPERATE)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
