"""Periodic jobs, declared in code; `manage.py setup_periodic_tasks` writes them as beat rows."""

from dataclasses import dataclass

from django.conf import settings


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    task: str
    every_seconds: int


PERIODIC_JOBS = (
    PeriodicJob(name="pipeline sweeper", task="conversations.sweep", every_seconds=10),
    PeriodicJob(name="follow-ups", task="conversations.send_followups", every_seconds=60),
    PeriodicJob(name="chip health check", task="chips.health_check", every_seconds=settings.CHIP_HEALTH_CHECK_SECONDS),
    PeriodicJob(name="salvy sync", task="chips.sync_salvy", every_seconds=settings.SALVY_SYNC_SECONDS),
    PeriodicJob(name="stalled provisioning", task="chips.recover_provisioning", every_seconds=120),
)
