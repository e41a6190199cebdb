from django.contrib import admin

from .models import BulkItem, BulkOperation


@admin.register(BulkOperation)
class BulkOperationAdmin(admin.ModelAdmin):
    list_display = (
        "public_id",
        "kind",
        "target_type",
        "state",
        "total",
        "succeeded",
        "failed",
        "skipped",
        "created_by",
        "created_at",
    )
    list_filter = ("kind", "state")
    readonly_fields = [f.name for f in BulkOperation._meta.fields]

    def has_add_permission(self, request):  # operations start from the list pages only
        return False


@admin.register(BulkItem)
class BulkItemAdmin(admin.ModelAdmin):
    list_display = ("target_label", "state", "reason", "finished_at")
    list_filter = ("state",)
    readonly_fields = [f.name for f in BulkItem._meta.fields]
    list_select_related = ("operation",)

    def has_add_permission(self, request):
        return False
