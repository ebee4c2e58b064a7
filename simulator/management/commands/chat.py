import json
import logging
import sys

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from integrations.phones import normalize_phone
from simulator.services import sandbox_chip, sandbox_setup
from simulator.terminal import TerminalCustomer

DEFAULT_GATEWAY_URL = "http://127.0.0.1:8000/simulator/gateway"


class Command(BaseCommand):
    help = (
        "Talk to the agent of the sandbox chip: one customer message per line of standard input; "
        "the agent's bubbles are printed. Uses the LLM when one is configured, the offline playbook otherwise."
    )

    def add_arguments(self, parser):
        parser.add_argument("--phone", default="+5511900000002", help="The customer's number (E.164).")
        parser.add_argument("--name", default="", help="The customer's WhatsApp display name.")
        parser.add_argument("--json", action="store_true", help="Print the lead's final state as JSON at the end.")

    def handle(self, *args, **options):
        if options["verbosity"] < 2:
            logging.getLogger().setLevel(logging.WARNING)  # keep the conversation readable
        phone = normalize_phone(options["phone"])
        if phone is None:
            raise CommandError(
                f"{options['phone']!r} is not a valid phone number (expected E.164, e.g. +5511987654321)"
            )
        chip = sandbox_chip()
        if chip is None:
            try:
                chip = sandbox_setup(base_url=DEFAULT_GATEWAY_URL)
            except ValidationError as exc:
                raise CommandError("; ".join(exc.messages)) from exc
        customer = TerminalCustomer(chip=chip, phone=phone, push_name=options["name"])
        interactive = sys.stdin.isatty() and not options["json"]
        if interactive:
            self.stdout.write(f"Talking to the agent of {chip.phone} as {phone}. Ctrl-D to end.")
        for line in sys.stdin:
            text = line.strip()
            if not text:
                continue
            for bubble in customer.say(text):
                self.stdout.write(f"agent> {bubble}" if interactive else bubble)
        if options["json"]:
            self.stdout.write(json.dumps(customer.lead_state(), ensure_ascii=False, default=str))
