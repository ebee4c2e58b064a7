"""The Celery application. Configuration comes from Django settings (CELERY_* names, see celery_settings)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("recado")
app.config_from_object("config.celery_settings:CELERY", namespace="CELERY")
app.autodiscover_tasks()
