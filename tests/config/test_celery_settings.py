"""Celery's configuration is the CELERY_* Django settings, read from a plain copy."""

from __future__ import annotations

from django.conf import settings

from config.celery import app
from config.celery_settings import CELERY


def test_every_celery_setting_of_django_reaches_celery():
    names = [name for name in dir(settings) if name.startswith("CELERY_")]

    assert names and sorted(CELERY) == sorted(names)
    for name in names:
        assert app.conf[name.removeprefix("CELERY_").lower()] == getattr(settings, name)


def test_the_delivery_guarantees_are_on():
    # Late acknowledgement and reject-on-worker-loss are what make a killed worker's turn run again.
    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is True
    assert app.conf.worker_prefetch_multiplier == 1
    assert app.conf.broker_url == settings.CELERY_BROKER_URL


def test_celery_falls_back_to_its_own_default_for_a_setting_django_does_not_set():
    assert "CELERY_TASK_DEFAULT_QUEUE" not in CELERY
    assert app.conf.task_default_queue == "celery"
