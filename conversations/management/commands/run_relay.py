import signal
import threading

from django.core.management.base import BaseCommand

from conversations.relay import relay_forever


class Command(BaseCommand):
    help = "Hand stored inbound messages to the workers (run one or more alongside the workers)."

    def add_arguments(self, parser):
        parser.add_argument("--poll", type=float, default=None, help="Seconds between polls when idle.")

    def handle(self, *args, **options):
        stop = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
        relay_forever(stop=stop, poll_seconds=options["poll"])
