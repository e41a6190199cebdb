from django.apps import AppConfig


class CoreConfig(AppConfig):
    """The shared floor every app stands on: the timing policy, the error base, the Webex
    adapter. It imports no app above it."""

    name = "core"

    def ready(self) -> None:
        from django.core.signals import setting_changed

        from .policy import forget_policy

        setting_changed.connect(forget_policy, dispatch_uid="core.policy.forget")
