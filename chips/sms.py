"""SMS received by our Salvy numbers: kept for audit, WhatsApp codes put in front of the operators.

The webhook and the polling fallback both land in `sms_received_record`, deduplicated on Salvy's
SMS id (both sources carry the same one). Every SMS is kept, spam included; one with a WhatsApp code
opens an alert and notifies Slack, and for a Cloud API number the code is also submitted to Meta's
registration endpoint by the `chips.submit_code` task.
"""

from __future__ import annotations

import secrets

import structlog
from django.db import IntegrityError, transaction
from django.utils import timezone

from chips.lifecycle import OUT_OF_SERVICE
from chips.models import AlertSeverity, Chip, ChipAlert, GatewayKind, SmsCode
from chips.notifications import notify
from chips.selectors import chip_address, gateway_config
from chips.services import alert_raise
from integrations.phones import normalize_phone
from integrations.providers.base import ProviderError
from integrations.providers.registry import provider_for
from integrations.salvy import ReceivedSms

log = structlog.get_logger(__name__)

SMS_CODE_ALERT = "sms_code"
CODE_SUBMIT_ALERT = "code_submit_failed"
# WhatsApp codes are six digits; anything longer than the column is not a code we could use.
MAX_CODE_LENGTH = SmsCode._meta.get_field("code").max_length


class CodeSubmitRetry(Exception):
    """The gateway could not take the code now (network, 5xx, rate limit); the task retries later."""


def sms_received_record(*, sms: ReceivedSms, source: str) -> tuple[SmsCode, bool]:
    """Store one SMS (once, whatever the source); returns it and whether it is new.

    The chip is the one holding Salvy's phone account id, else the one with the destination number;
    an SMS for a number we do not know is still stored (chip empty) so nothing sent to us is lost.
    """
    existing = SmsCode.objects.filter(salvy_sms_id=sms.id).first()
    if existing is not None:
        return existing, False
    chip = _chip_for(sms)
    code = sms.whatsapp_code if len(sms.whatsapp_code) <= MAX_CODE_LENGTH else ""
    try:
        with transaction.atomic():
            record = SmsCode.objects.create(
                chip=chip,
                salvy_sms_id=sms.id,
                salvy_account_id=sms.phone_account_id,
                origin=sms.origin[:32],
                destination=normalize_phone(sms.destination) or sms.destination[:20],
                text=sms.message,
                code=code,
                source=source,
                received_at=sms.received_at,
            )
    except IntegrityError:
        # The webhook and the poll brought the same SMS at the same moment: the other one stored it.
        return SmsCode.objects.get(salvy_sms_id=sms.id), False
    log.info("sms.recorded", sms_code_id=record.pk, chip_id=chip.pk if chip else None, source=source, code=bool(code))
    if code:
        _announce_code(record, chip)
    return record, True


def sms_code_submit(*, sms_code_id: int) -> bool:
    """Give a Cloud API number its WhatsApp code: verify it, then register the number with its PIN.

    True when the number was registered. The code counts as used once Meta accepted it, so a retry
    after a failed registration does not submit a spent code again. Transient gateway errors raise
    CodeSubmitRetry; permanent ones open an alert and return False.
    """
    record = SmsCode.objects.select_related("chip__gateway").filter(pk=sms_code_id).first()
    if record is None or not record.code or record.chip is None:
        return False
    chip = record.chip
    if chip.gateway.kind != GatewayKind.CLOUDAPI or chip.status in OUT_OF_SERVICE:
        return False
    provider = provider_for(gateway_config(chip.gateway))
    address = chip_address(chip)
    step = "verifying the code"
    try:
        if record.used_at is None:
            provider.submit_verification_code(address, record.code)
            sms_code_mark_used(sms_code_id=record.pk, by="task:submit_code")
        step = "registering the number"
        provider.register_number(address, _registration_pin(chip))
    except ProviderError as exc:
        if not exc.permanent:
            raise CodeSubmitRetry(f"{step} for {chip.phone}: {exc}") from exc
        alert_raise(
            chip_id=chip.pk,
            kind=CODE_SUBMIT_ALERT,
            severity=AlertSeverity.WARNING,
            message=f"Meta refused {step} for {chip.phone}: {exc}",
            details={"sms_code_id": record.pk},
        )
        log.warning("sms.code_refused", chip_id=chip.pk, sms_code_id=record.pk, step=step, error=str(exc))
        return False
    log.info("sms.code_submitted", chip_id=chip.pk, sms_code_id=record.pk)
    return True


def sms_code_mark_used(*, sms_code_id: int, by: str) -> bool:
    """Record that a code was used (typed by an operator or submitted for us); False if it already was.

    The chip's open "code received" alert is resolved with it: nothing is left to do about it.
    """
    now = timezone.now()
    marked = SmsCode.objects.filter(pk=sms_code_id, used_at__isnull=True).update(used_at=now) == 1
    if marked:
        chip_id = SmsCode.objects.filter(pk=sms_code_id).values_list("chip_id", flat=True).first()
        if chip_id is not None:
            ChipAlert.objects.filter(chip_id=chip_id, kind=SMS_CODE_ALERT, resolved_at__isnull=True).update(
                resolved_at=now
            )
        log.info("sms.code_used", sms_code_id=sms_code_id, by=by)
    return marked


def _chip_for(sms: ReceivedSms) -> Chip | None:
    chips = Chip.objects.select_related("gateway")
    if sms.phone_account_id:
        chip = chips.filter(salvy_id=sms.phone_account_id).order_by("-pk").first()
        if chip is not None:
            return chip
    phone = normalize_phone(sms.destination)
    return chips.filter(phone=phone).first() if phone else None


def _announce_code(record: SmsCode, chip: Chip | None) -> None:
    where = f"chip {chip.phone}" if chip else f"{record.destination or 'a number'} (no chip has this number)"
    alert_raise(
        chip_id=chip.pk if chip else None,
        kind=SMS_CODE_ALERT,
        severity=AlertSeverity.INFO,
        message=f"WhatsApp code {record.code} received for {where}",
        details={"sms_code_id": record.pk, "code": record.code, "origin": record.origin},
    )
    notify("code_received", f"WhatsApp code {record.code} received for {where}")
    if chip is not None and chip.gateway.kind == GatewayKind.CLOUDAPI and chip.status not in OUT_OF_SERVICE:
        sms_code_id = record.pk
        transaction.on_commit(lambda: _enqueue_submit(sms_code_id))


def _enqueue_submit(sms_code_id: int) -> None:
    from chips.tasks import submit_code

    try:
        submit_code.apply_async(args=[sms_code_id], retry=False)
    except Exception as exc:  # the broker is down: the code is stored and shown; an operator can use it
        log.error("sms.submit_not_queued", sms_code_id=sms_code_id, error=exc.__class__.__name__)
        alert_raise(
            chip_id=SmsCode.objects.filter(pk=sms_code_id).values_list("chip_id", flat=True).first(),
            kind=CODE_SUBMIT_ALERT,
            severity=AlertSeverity.WARNING,
            message="a WhatsApp code arrived but could not be queued for submission: submit it by hand",
            details={"sms_code_id": sms_code_id},
        )


def _registration_pin(chip: Chip) -> str:
    """The number's two-step verification PIN, which Meta's register call sets or checks.

    A Cloud API chip has no per-instance token, so the PIN is kept there (encrypted at rest): the
    one given at registration, else a random one created now and stored before it is ever used.
    """
    with transaction.atomic():
        locked = Chip.objects.select_for_update().get(pk=chip.pk)
        pin = locked.instance_token or ""
        if not pin:
            pin = f"{secrets.randbelow(10**6):06d}"
            locked.instance_token = pin
            locked.save(update_fields=["instance_token", "updated_at"])
    return pin
