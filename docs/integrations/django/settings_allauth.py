"""django-allauth settings for jidconnect; import them from your settings.py.

Tested as is by tests/e2e/integrations.rs (tests/django/).
"""
import os

JIDCONNECT_ISSUER = os.environ["JIDCONNECT_ISSUER"]  # e.g. https://login.example.org

SOCIALACCOUNT_PROVIDERS = {
    "openid_connect": {
        "OAUTH_PKCE_ENABLED": True,
        "APPS": [
            {
                "provider_id": "jidconnect",
                "name": "XMPP",
                "client_id": os.environ["JIDCONNECT_CLIENT_ID"],
                "secret": os.environ["JIDCONNECT_CLIENT_SECRET"],
                "settings": {
                    # allauth reads ISSUER/.well-known/openid-configuration.
                    "server_url": JIDCONNECT_ISSUER,
                    "token_auth_method": "client_secret_basic",
                },
            }
        ],
    }
}
SOCIALACCOUNT_ADAPTER = "jidconnect_allauth.JidAdapter"
# A JID is not a mailbox: no email needed, none to verify.
SOCIALACCOUNT_EMAIL_REQUIRED = False
SOCIALACCOUNT_AUTO_SIGNUP = True
ACCOUNT_EMAIL_VERIFICATION = "none"
