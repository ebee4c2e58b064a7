import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from tests.factories import GatewayFactory

ROOT = Path(__file__).resolve().parents[2]


def _start(env_overrides: dict) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SECRET_KEY", "DJANGO_DEBUG")}
    env.update(env_overrides, RECADO_ENV_FILE="")
    return subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def test_missing_secret_key_outside_debug_stops_startup_with_a_clear_message():
    result = _start({"DJANGO_DEBUG": "0"})
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is not set" in result.stderr


def test_missing_encryption_key_outside_debug_stops_startup_with_a_clear_message():
    result = _start({"DJANGO_DEBUG": "0", "DJANGO_SECRET_KEY": "a-long-production-secret", "FIELD_ENCRYPTION_KEY": ""})
    assert result.returncode != 0
    assert "FIELD_ENCRYPTION_KEY is not set" in result.stderr


def test_debug_starts_without_a_secret_key():
    result = _start({"DJANGO_DEBUG": "1"})
    assert result.returncode == 0, result.stderr


@pytest.mark.django_db
def test_gateway_secrets_are_encrypted_at_rest():
    gateway = GatewayFactory(api_key="plain-api-key-123", webhook_secret="plain-webhook-secret-456")
    with connection.cursor() as cursor:
        cursor.execute("SELECT api_key, webhook_secret FROM chips_gateway WHERE id = %s", [gateway.pk])
        api_key, webhook_secret = cursor.fetchone()
    assert api_key.startswith("fernet:") and "plain-api-key-123" not in api_key
    assert webhook_secret.startswith("fernet:") and "plain-webhook" not in webhook_secret
    gateway.refresh_from_db()
    assert (gateway.api_key, gateway.webhook_secret) == ("plain-api-key-123", "plain-webhook-secret-456")


@pytest.mark.django_db
def test_secrets_survive_key_rotation(settings):
    from cryptography.fernet import Fernet

    old_key = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [old_key]
    gateway = GatewayFactory(api_key="rotate-me")
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), old_key]
    gateway.refresh_from_db()
    assert gateway.api_key == "rotate-me"


@pytest.mark.django_db
def test_a_wrong_key_fails_loudly_instead_of_returning_garbage(settings):
    from cryptography.fernet import Fernet

    gateway = GatewayFactory(api_key="secret")
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(ValueError, match="FIELD_ENCRYPTION_KEY"):
        gateway.refresh_from_db()


def test_every_periodic_task_is_registered():
    from config.celery import app
    from config.schedule import PERIODIC_JOBS

    app.loader.import_default_modules()
    assert {job.task for job in PERIODIC_JOBS} <= set(app.tasks)


def test_every_setting_read_from_the_environment_is_documented():
    import re

    read = set(re.findall(r'env\.\w+\("([A-Z_]+)"', (ROOT / "config" / "settings.py").read_text()))
    documented = set(re.findall(r"^([A-Z_]+)=", (ROOT / ".env.example").read_text(), flags=re.MULTILINE))
    assert read - documented == set()
