"""Runs the documented Django backend for the /auth API, exactly as docs/compat-api.md
prints it.

Usage: documented_auth_backend.py DOC AUTH_URL JID
Prints "user NAME" when the backend logged the person in, "none" when it did not.
"""
import re
import sys

import django
from django.conf import settings

doc, auth_url, jid = sys.argv[1:4]
settings.configure(
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
    INSTALLED_APPS=["django.contrib.auth", "django.contrib.contenttypes"],
    USE_TZ=True,
)
django.setup()
from django.core.management import call_command  # noqa: E402

call_command("migrate", verbosity=0)

text = open(doc, encoding="utf-8").read()
block = next(
    b for b in re.findall(r"```python\n(.*?)```", text, re.S) if "class XmppBackend" in b
)
# The operator's one edit: the client's credentials and jidconnect's address.
block = re.sub(r'JIDCONNECT_AUTH_URL = ".*?"', f"JIDCONNECT_AUTH_URL = {auth_url!r}", block)
namespace = {}
exec(compile(block, doc, "exec"), namespace)
backend = namespace["XmppBackend"]()
code = backend.id_generator()
user = backend.authenticate(None, username=jid, transaction_id=code)
print(f"user {user.username}" if user else "none", flush=True)
