"""Connect a chip from a terminal: show its QR code (or pairing code) and wait until the phone is linked."""

from __future__ import annotations

import io
import time

import segno
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.urls import NoReverseMatch, reverse

from chips.lifecycle import OUT_OF_SERVICE, ChipStatus
from chips.models import Chip, ChipSession, SessionState
from chips.sessions import chip_session_connect, chip_session_refresh
from integrations.phones import normalize_phone
from integrations.providers.base import ProviderError
from integrations.providers.registry import provider_class

TRIGGERED_BY = "command:connect_chip"
EXIT_ERROR = 1
EXIT_TIMEOUT = 2
EXIT_OUT_OF_SERVICE = 3
# Waiting between reads of the session row; tests replace it to play the gateway's webhooks.
pause = time.sleep


class Command(BaseCommand):
    help = (
        "Open or refresh a chip's gateway session, print its QR code (or pairing code) and wait until the "
        "phone is linked. Exit status: 0 connected, 1 error, 2 timed out, 3 the chip is banned or cancelled."
    )

    def add_arguments(self, parser):
        parser.add_argument("chip", help="The chip's id or its phone number (E.164, e.g. +5511987654321).")
        parser.add_argument(
            "--pairing-phone",
            default="",
            help="Ask for a pairing code for this number (the chip's own) instead of a QR code.",
        )
        parser.add_argument("--timeout", type=float, default=120, help="Seconds to wait for the phone (default 120).")
        parser.add_argument(
            "--interval", type=float, default=2.0, help="Seconds between reads of the session (default 2)."
        )
        parser.add_argument(
            "--check-every",
            type=float,
            default=10.0,
            help="Seconds between questions to the gateway itself, in case a webhook is lost (default 10).",
        )

    def handle(self, *args, **options):
        chip = _find_chip(options["chip"])
        if chip.status in OUT_OF_SERVICE:
            raise CommandError(
                f"chip {chip.phone} is {chip.status}: it cannot be connected", returncode=EXIT_OUT_OF_SERVICE
            )
        if not provider_class(chip.gateway.kind).sessions_managed:
            raise CommandError(
                f"{chip.gateway.get_kind_display()} numbers have no QR or pairing code to show: "
                "they are connected on the gateway's side",
                returncode=EXIT_ERROR,
            )
        try:
            session = self._start(chip, options["pairing_phone"])
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages), returncode=EXIT_ERROR) from exc
        except ProviderError as exc:
            raise CommandError(f"the gateway did not answer as expected: {exc}", returncode=EXIT_ERROR) from exc
        if session.state == SessionState.CONNECTED:
            self._connected(chip)
            return
        self.stdout.write(f"Chip {chip.phone} on {chip.gateway.name}: session {session.state}")
        self._show_code(chip, session)
        self._wait(chip, session, options)

    def _start(self, chip: Chip, pairing_phone: str) -> ChipSession:
        if chip.status != ChipStatus.PROVISIONED:
            # Already linked (a webhook may have been missed)? Then there is nothing to scan.
            session = chip_session_refresh(chip_id=chip.pk, triggered_by=TRIGGERED_BY)
            if session.state == SessionState.CONNECTED:
                return session
        return chip_session_connect(chip_id=chip.pk, pairing_phone=pairing_phone, triggered_by=TRIGGERED_BY)

    def _wait(self, chip: Chip, session: ChipSession, options: dict) -> None:
        timeout, interval, check_every = options["timeout"], max(options["interval"], 0.01), options["check_every"]
        start = time.monotonic()
        deadline = start + timeout
        next_check = start + check_every
        seen = (session.state, session.qr_code, session.qr_image, session.pairing_code)
        self.stdout.write(f"Waiting up to {timeout:g} s for the phone to link...")
        while time.monotonic() < deadline:
            pause(min(interval, max(deadline - time.monotonic(), 0)))
            if time.monotonic() >= next_check:
                self._ask_gateway(chip)
                next_check = time.monotonic() + check_every
            session = ChipSession.objects.get(chip_id=chip.pk)
            status = Chip.objects.values_list("status", flat=True).get(pk=chip.pk)
            if status in OUT_OF_SERVICE:
                raise CommandError(
                    f"chip {chip.phone} is now {status}: {session.detail or 'see its alerts'}",
                    returncode=EXIT_OUT_OF_SERVICE,
                )
            current = (session.state, session.qr_code, session.qr_image, session.pairing_code)
            if current[0] != seen[0]:
                detail = f" ({session.detail})" if session.detail else ""
                self.stdout.write(f"Session: {seen[0]} → {current[0]}{detail}")
            if session.state == SessionState.CONNECTED:
                self._connected(chip)
                return
            if current[1:] != seen[1:] and any(current[1:]):
                self.stdout.write("The gateway sent a new code:")
                self._show_code(chip, session)
            seen = current
        raise CommandError(
            f"timed out after {timeout:g} s: chip {chip.phone} is not connected (session {seen[0]}). "
            "Run connect_chip again for a new code.",
            returncode=EXIT_TIMEOUT,
        )

    def _ask_gateway(self, chip: Chip) -> None:
        try:
            chip_session_refresh(chip_id=chip.pk, triggered_by=TRIGGERED_BY)
        except ProviderError as exc:
            if exc.permanent:
                raise CommandError(f"the gateway refused the state check: {exc}", returncode=EXIT_ERROR) from exc
            self.stderr.write(f"The gateway did not answer the state check ({exc}); still waiting.")

    def _show_code(self, chip: Chip, session: ChipSession) -> None:
        if session.pairing_code:
            self.stdout.write(
                f"Pairing code: {session.pairing_code}\n"
                "On the phone: WhatsApp → Linked devices → Link a device → Link with phone number instead."
            )
        if session.qr_code:
            buffer = io.StringIO()
            segno.make(session.qr_code, error="l").terminal(out=buffer, compact=True)
            self.stdout.write(buffer.getvalue(), ending="")
            self.stdout.write("Scan it on the phone: WhatsApp → Linked devices → Link a device.")
        elif session.qr_image:
            self.stdout.write(
                f"The gateway sent the QR code only as a picture: open {_connect_screen(chip)} to scan it."
            )
        elif not session.pairing_code:
            self.stdout.write(
                f"No code yet{f' ({session.detail})' if session.detail else ''}; waiting for the gateway."
            )

    def _connected(self, chip: Chip) -> None:
        status = Chip.objects.values_list("status", flat=True).get(pk=chip.pk)
        self.stdout.write(self.style.SUCCESS(f"Connected: chip {chip.phone} is {status}."))


def _find_chip(reference: str) -> Chip:
    reference = reference.strip()
    chip = None
    if reference.isdigit() and len(reference) <= 9:  # an id; phone numbers have 10 digits or more
        chip = Chip.objects.select_related("gateway").filter(pk=int(reference)).first()
    else:
        phone = normalize_phone(reference)
        chip = Chip.objects.select_related("gateway").filter(phone=phone).first() if phone else None
    if chip is None:
        raise CommandError(f"no chip {reference!r}: give its id or its phone number in E.164", returncode=EXIT_ERROR)
    return chip


def _connect_screen(chip: Chip) -> str:
    try:
        return settings.PUBLIC_BASE_URL + reverse("chips_admin:connect", args=[chip.pk])
    except NoReverseMatch:
        return "the chip's connect screen in the admin"
