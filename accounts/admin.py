"""The admin shows no second-factor devices: their TOTP secrets and recovery codes are stored
as django-otp keeps them, and staff reset a second factor from the Staff pages (audited)."""

from django.contrib import admin
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

for model in (TOTPDevice, StaticDevice):
    if admin.site.is_registered(model):
        admin.site.unregister(model)
