from django.apps import AppConfig


class TenantsConfig(AppConfig):
    name = "tenants"
    verbose_name = "Customer orgs and Service Apps"

    def ready(self) -> None:
        # The audit log filters by org name; only this app knows names (audit/lookups.py).
        from audit.lookups import register_org_lookup

        from .selectors import org_public_ids_named

        register_org_lookup(org_public_ids_named)
