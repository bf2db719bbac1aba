"""mozilla-django-oidc settings for jidconnect; import them from your settings.py.

Tested as is by tests/e2e/integrations.rs (tests/django/).
"""
import os

JIDCONNECT_ISSUER = os.environ["JIDCONNECT_ISSUER"]  # e.g. https://login.example.org

OIDC_RP_CLIENT_ID = os.environ["JIDCONNECT_CLIENT_ID"]
OIDC_RP_CLIENT_SECRET = os.environ["JIDCONNECT_CLIENT_SECRET"]
# jidconnect signs with RS256 by default; mozilla-django-oidc defaults to HS256.
OIDC_RP_SIGN_ALGO = "RS256"
OIDC_OP_JWKS_ENDPOINT = f"{JIDCONNECT_ISSUER}/jwks"
OIDC_OP_AUTHORIZATION_ENDPOINT = f"{JIDCONNECT_ISSUER}/authorize"
OIDC_OP_TOKEN_ENDPOINT = f"{JIDCONNECT_ISSUER}/token"
OIDC_OP_USER_ENDPOINT = f"{JIDCONNECT_ISSUER}/userinfo"
OIDC_OP_LOGOUT_ENDPOINT = f"{JIDCONNECT_ISSUER}/logout"
OIDC_RP_SCOPES = "openid profile"
OIDC_USE_PKCE = True

AUTHENTICATION_BACKENDS = ["jidconnect_backend.JidBackend"]
