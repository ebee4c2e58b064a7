"""The Celery application. Configuration comes from Django settings (CELERY_* names, see celery_settings)."""

import os

from celery import Celery, signals
from django.db import close_old_connections

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("recado")
app.config_from_object("config.celery_settings:CELERY", namespace="CELERY")
app.autodiscover_tasks()


@signals.task_prerun.connect
@signals.task_postrun.connect
def _connections_looked_after(sender=None, **kwargs) -> None:
    # What Django does around every request: drop a connection that broke or outlived CONN_MAX_AGE,
    # keep the others (the fixup no longer closes them, see CELERY_DB_REUSE_MAX). An eager task runs
    # inside its caller, whose connection is the caller's business.
    if not getattr(getattr(sender, "request", None), "is_eager", False):
        close_old_connections()
