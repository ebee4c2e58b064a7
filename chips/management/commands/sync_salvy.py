from django.core.management.base import BaseCommand, CommandError

from chips.salvy_sync import salvy_sync


class Command(BaseCommand):
    help = (
        "Bring chips in line with their numbers at Salvy (blocked -> banned, canceled -> cancelled) and fetch "
        "SMS of the last day that no webhook delivered. Beat runs the same every SALVY_SYNC_SECONDS."
    )

    def handle(self, *args, **options):
        report = salvy_sync()
        for error in report.errors:
            self.stderr.write(f"  {error}")
        summary = (
            f"Checked {report.checked} chip(s) at Salvy: {report.changed} changed, {report.sms_recovered} SMS recovered"
        )
        if report.errors:
            raise CommandError(f"{summary}; {len(report.errors)} problem(s), listed above")
        self.stdout.write(self.style.SUCCESS(summary))
