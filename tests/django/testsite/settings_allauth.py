"""The test site with django-allauth instead of mozilla-django-oidc."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "docs" / "integrations" / "django"))

from testsite.settings import *  # noqa: E402,F401,F403

INSTALLED_APPS = [app for app in INSTALLED_APPS if app != "mozilla_django_oidc"] + [  # noqa: F405
    "django.contrib.messages",
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.openid_connect",
]
MIDDLEWARE = MIDDLEWARE + [  # noqa: F405
    "django.contrib.messages.middleware.MessageMiddleware",
    "allauth.account.middleware.AccountMiddleware",
]
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
    }
]
ROOT_URLCONF = "testsite.urls_allauth"

from settings_allauth import *  # noqa: E402,F401,F403
