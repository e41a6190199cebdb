"""The admin shows no second-factor devices: staff reset a second factor from the Staff pages
(audited). The authenticator apps' secrets are sealed (`accounts.AuthenticatorApp.key`) and the
recovery codes kept as keyed digests, so neither would be readable there anyway."""

from django.contrib import admin
from django_otp.plugins.otp_static.models import StaticDevice

if admin.site.is_registered(StaticDevice):
    admin.site.unregister(StaticDevice)
