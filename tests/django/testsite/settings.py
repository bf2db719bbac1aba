"""Test site settings: Django's minimum plus the guide's mozilla-django-oidc settings."""
import os
import sys
from pathlib import Path

# The guide's files, used as they are.
sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "docs" / "integrations" / "django"))

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "test-only")
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "testsite.urls"
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "mozilla_django_oidc",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.environ["DJANGO_DB"]}}
USE_TZ = True
LOGIN_REDIRECT_URL = "/whoami/"

from settings_mozilla_django_oidc import *  # noqa: E402,F401,F403
