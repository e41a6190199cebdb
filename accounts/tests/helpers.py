"""Signing a test client in the way the portal would after the password and the second factor."""


def verified_login(client, user):
    """`client.force_login(user)`, and, when the user must give a second factor, mark the
    session as having given it (as `django_otp.login` does after a good code), with a confirmed
    authenticator device made for them if they have none."""
    from django_otp import DEVICE_ID_SESSION_KEY

    from accounts.models import AuthenticatorApp
    from accounts.selectors import mfa_required

    client.force_login(user)
    if not mfa_required(user):
        return client
    device = AuthenticatorApp.objects.filter(user=user, confirmed=True).first()
    if device is None:
        device = AuthenticatorApp.objects.create(user=user, name="test device", confirmed=True)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client
