"""Periodic jobs, declared in code; `manage.py setup_periodic_tasks` writes them as beat rows."""

from dataclasses import dataclass


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    task: str
    every_seconds: int


PERIODIC_JOBS = (PeriodicJob(name="pipeline sweeper", task="conversations.sweep", every_seconds=10),)
