"""A mozilla-django-oidc backend for jidconnect: one Django user per JID.

mozilla-django-oidc matches users by email by default. A JID is not a mailbox, so key
users on `sub` (the bare JID) instead, and use it as the username.
"""
from mozilla_django_oidc.auth import OIDCAuthenticationBackend


class JidBackend(OIDCAuthenticationBackend):
    def verify_claims(self, claims):
        return bool(claims.get("sub"))

    def filter_users_by_claims(self, claims):
        return self.UserModel.objects.filter(username=claims["sub"])

    def create_user(self, claims):
        return self.UserModel.objects.create_user(
            username=claims["sub"], first_name=claims.get("name", "")
        )

    def update_user(self, user, claims):
        user.first_name = claims.get("name", user.first_name)
        user.save()
        return user
