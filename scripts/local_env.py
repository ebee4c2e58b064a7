"""Print fresh local keys as an env file (make run keeps them in var/local.env)."""

import base64
import os
import secrets

print("DJANGO_DEBUG=1")
print(f"DJANGO_SECRET_KEY={secrets.token_urlsafe(50)}")
print(f"FIELD_ENCRYPTION_KEY={base64.urlsafe_b64encode(os.urandom(32)).decode()}")
