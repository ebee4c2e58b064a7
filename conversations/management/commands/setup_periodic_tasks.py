from django.core.management.base import BaseCommand
from django.db import transaction
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from config.schedule import PERIODIC_JOBS

OWNER_PREFIX = "recado: "


class Command(BaseCommand):
    help = "Create or update the beat rows of Recado's periodic jobs (and remove ones no longer declared)."

    def handle(self, *args, **options):
        with transaction.atomic():
            declared = set()
            for job in PERIODIC_JOBS:
                interval, _ = IntervalSchedule.objects.get_or_create(
                    every=job.every_seconds, period=IntervalSchedule.SECONDS
                )
                name = OWNER_PREFIX + job.name
                PeriodicTask.objects.update_or_create(
                    name=name, defaults={"task": job.task, "interval": interval, "crontab": None, "enabled": True}
                )
                declared.add(name)
            stale = PeriodicTask.objects.filter(name__startswith=OWNER_PREFIX).exclude(name__in=declared)
            removed = stale.count()
            stale.delete()
        self.stdout.write(self.style.SUCCESS(f"{len(declared)} periodic job(s) set up, {removed} removed."))
