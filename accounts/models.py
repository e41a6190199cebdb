from django.db import models

from .roles import CAPABILITIES


class Capability(models.Model):
    """Holds the portal's role permissions; it has no table and no rows.

    Django attaches permissions to a model, and these belong to no single model, so they hang
    here. `accounts.roles` maps roles to them.
    """

    class Meta:
        managed = False
        default_permissions = ()
        permissions = list(CAPABILITIES.items())

    def __str__(self) -> str:
        return "portal capability"
