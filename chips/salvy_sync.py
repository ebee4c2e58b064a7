"""Keeping chips in step with their numbers at Salvy, and giving numbers back.

Salvy's account status drives the chip: `pending` (bought, awaiting Salvy's confirmation) and
`active` change nothing; `blocked` bans the chip; `canceled` cancels it, with an audit row saying
Salvy did it, and removes its gateway session as our own cancel does. The same rules apply to the
periodic sync (which lists every account) and to the `phone-account.*` webhooks, which Salvy warns
may come out of order or twice: they only tell us to fetch the account's current state.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from typing import Any

import structlog
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import DatabaseError, IntegrityError, transaction
from django.utils import timezone

from chips.lifecycle import ChipStatus, can_transition
from chips.models import AlertSeverity, Chip, SalvyDelivery, SmsSource
from chips.notifications import notify
from chips.selectors import chip_address, gateway_config
from chips.services import TransitionNotAllowed, alert_raise, chip_transition
from chips.sms import sms_received_record
from integrations.providers.registry import provider_for
from integrations.salvy import (
    CANCEL_REASONS,
    PhoneAccount,
    ReceivedSms,
    SalvyClient,
    SalvyError,
    SalvyNotConfigured,
    salvy_client_from_settings,
)

log = structlog.get_logger(__name__)

SALVY_BLOCKED_REASON = "Salvy blocked the number"
# Chips whose WhatsApp registration may still be waiting for an SMS code.
SMS_POLL_STATUSES = (ChipStatus.PROVISIONED, ChipStatus.PENDING, ChipStatus.WARMING)
SMS_POLL_WINDOW = timedelta(hours=24)
SMS_POLL_PAGE_SIZE = 50
# Salvy answers this for an account it does not (or no longer) know.
NOT_FOUND = "resource-not-found"


class SalvyRetry(Exception):
    """Salvy could not be reached or was overloaded; the task retries later."""


class CancelFailed(Exception):
    """The number could not be cancelled at Salvy; nothing was changed on our side."""


@dataclass
class SyncReport:
    checked: int = 0
    changed: int = 0
    sms_recovered: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class SalvyEventOutcome:
    """What a webhook delivery did, for the answer and the log."""

    duplicate: bool = False
    sms_code_id: int | None = None
    chip_id: int | None = None
    code_found: bool = False
    refresh_queued: bool = False
    ignored: str = ""


def salvy_client() -> SalvyClient:
    """The Salvy client of the settings; SalvyNotConfigured (a SalvyError) when they cannot make one."""
    try:
        return salvy_client_from_settings()
    except ValueError as exc:  # a SALVY_API_URL that is not an http(s) URL, or another API version
        raise SalvyNotConfigured(f"Salvy is misconfigured: {exc}") from exc


# --- the periodic sync ---------------------------------------------------------------------------


def salvy_sync() -> SyncReport:
    """Apply Salvy's current status to every chip with a Salvy number, and fetch SMS a webhook may have missed."""
    report = SyncReport()
    chips = list(Chip.objects.exclude(salvy_id="").exclude(status=ChipStatus.CANCELLED).order_by("pk"))
    if not chips:
        return report
    try:
        client = salvy_client()
        accounts = {account.id: account for account in client.list()}
    except SalvyError as exc:
        report.errors.append(f"could not list the numbers at Salvy: {exc}")
        log.warning("salvy_sync.list_failed", error=str(exc))
        return report
    for chip in chips:
        account = accounts.get(chip.salvy_id)
        if account is None:  # not in the list: ask for it alone before concluding anything
            try:
                account = client.get(chip.salvy_id)
            except SalvyError as exc:
                report.errors.append(f"chip {chip.phone}: {exc}")
                if exc.code == NOT_FOUND:
                    alert_raise(
                        chip_id=chip.pk,
                        kind="salvy_unknown_account",
                        message=f"Salvy does not know the account {chip.salvy_id} of {chip.phone}",
                    )
                continue
        report.checked += 1
        try:
            if salvy_account_apply(chip_id=chip.pk, account=account, triggered_by="task:sync_salvy"):
                report.changed += 1
        except (TransitionNotAllowed, DatabaseError) as exc:
            report.errors.append(f"chip {chip.phone}: {exc}")
    report.sms_recovered = _poll_sms(client, [chip.pk for chip in chips], report)
    log.info(
        "salvy_sync.done",
        checked=report.checked,
        changed=report.changed,
        sms_recovered=report.sms_recovered,
        errors=len(report.errors),
    )
    return report


def salvy_account_apply(*, chip_id: int, account: PhoneAccount, triggered_by: str) -> bool:
    """Bring one chip in line with its Salvy account's status; True when anything changed."""
    with transaction.atomic():
        chip = Chip.objects.select_for_update().get(pk=chip_id)
        previous = chip.salvy_status
        changed = previous != account.status
        if changed:
            chip.salvy_status = account.status
            chip.save(update_fields=["salvy_status", "updated_at"])
        if account.status == "blocked" and chip.status not in (ChipStatus.BANNED, ChipStatus.CANCELLED):
            from chips.bans import chip_ban

            chip_ban(chip_id=chip.pk, reason=SALVY_BLOCKED_REASON, triggered_by=triggered_by)
            changed = True
        elif account.status == "canceled" and chip.status != ChipStatus.CANCELLED:
            _cancelled_by_salvy(chip, account, triggered_by)
            changed = True
        elif account.status in ("active", "pending") and previous == "blocked" and chip.status == ChipStatus.BANNED:
            alert_raise(
                chip_id=chip.pk,
                kind="salvy_unblocked",
                severity=AlertSeverity.INFO,
                message=f"Salvy unblocked {chip.phone}; the chip stays banned (register the number again to reuse it)",
            )
    if changed:
        log.info("salvy_sync.applied", chip_id=chip_id, salvy_status=account.status, was=previous)
    return changed


def salvy_account_refresh(*, phone_account_id: str, triggered_by: str) -> bool:
    """Fetch one account's current state and apply it (after a `phone-account.*` webhook)."""
    chip_ids = list(Chip.objects.filter(salvy_id=phone_account_id).values_list("pk", flat=True))
    if not chip_ids:
        log.info("salvy_sync.unknown_account", salvy_account_id=phone_account_id)
        return False
    try:
        account = salvy_client().get(phone_account_id)
    except SalvyError as exc:
        if not exc.permanent:
            raise SalvyRetry(str(exc)) from exc
        log.warning("salvy_sync.refresh_failed", salvy_account_id=phone_account_id, error=str(exc))
        return False
    changed = False
    for chip_id in chip_ids:
        changed = salvy_account_apply(chip_id=chip_id, account=account, triggered_by=triggered_by) or changed
    return changed


# --- cancelling ------------------------------------------------------------------------------------


def chip_cancel(*, chip_id: int, reason: str, triggered_by: str) -> Chip:
    """Release a chip's number: cancel it at Salvy (when it has one), then mark the chip cancelled.

    ValidationError for an unknown reason or a chip already cancelled; CancelFailed, with nothing
    changed, when Salvy refuses. The gateway session is logged out afterwards, best effort.
    """
    if reason not in CANCEL_REASONS:
        raise ValidationError(f"unknown cancel reason {reason!r}; use one of: {', '.join(CANCEL_REASONS)}")
    chip = Chip.objects.select_related("gateway").get(pk=chip_id)
    if chip.status == ChipStatus.CANCELLED:
        raise ValidationError(f"chip {chip.phone} is already cancelled")
    if chip.salvy_id and chip.salvy_status != "canceled":
        try:
            salvy_client().cancel(chip.salvy_id, reason=reason)
        except SalvyError as exc:
            if exc.code != NOT_FOUND:
                raise CancelFailed(f"Salvy did not cancel {chip.phone}: {exc}; the chip was left as it was") from exc
            log.info("chip_cancel.unknown_at_salvy", chip_id=chip.pk, salvy_account_id=chip.salvy_id)
        Chip.objects.filter(pk=chip.pk).update(salvy_status="canceled", updated_at=timezone.now())
    where = "released at Salvy" if chip.salvy_id else "no Salvy number"
    _walk_to_cancelled(chip.pk, f"cancelled by {triggered_by} (reason {reason}; {where})", triggered_by)
    _session_end(chip, triggered_by)
    notify("cancelled", f"{chip.phone} cancelled (reason {reason}; {where})")
    chip.refresh_from_db()
    return chip


def chip_cancel_at_salvy(*, chip_id: int, reason: str) -> bool:
    """Cancel a chip's number at Salvy (after a ban, say), mark the chip cancelled where allowed and
    end its gateway session (best effort, as `chip_cancel` does).

    True when the number was released; SalvyRetry on transient failures; a refusal opens a
    critical alert (the number keeps being billed) and returns False.
    """
    chip = Chip.objects.filter(pk=chip_id).first()
    if chip is None or not chip.salvy_id or chip.salvy_status == "canceled":
        return False
    try:
        salvy_client().cancel(chip.salvy_id, reason=reason)
    except SalvyError as exc:
        if exc.code != NOT_FOUND:
            if not exc.permanent:
                raise SalvyRetry(str(exc)) from exc
            alert_raise(
                chip_id=chip.pk,
                kind="salvy_cancel_failed",
                severity=AlertSeverity.CRITICAL,
                message=f"could not cancel {chip.phone} at Salvy ({exc}): cancel it on the Salvy dashboard",
                details={"salvy_account_id": chip.salvy_id, "reason": reason},
            )
            return False
    cancelled = False
    with transaction.atomic():
        Chip.objects.filter(pk=chip.pk).update(salvy_status="canceled", updated_at=timezone.now())
        status = Chip.objects.select_for_update().values_list("status", flat=True).get(pk=chip.pk)
        if can_transition(status, ChipStatus.CANCELLED):
            cancelled = bool(
                chip_transition(
                    chip_id=chip.pk,
                    to_status=ChipStatus.CANCELLED,
                    reason=f"released at Salvy (reason {reason})",
                    triggered_by="task:cancel_at_salvy",
                )
            )
    if cancelled:
        _session_end(chip, "task:cancel_at_salvy")  # like any cancel: the gateway instance goes too
    notify("cancelled", f"{chip.phone} released at Salvy (reason {reason})")
    return True


# --- webhook deliveries ----------------------------------------------------------------------------


def salvy_event_record(
    *,
    svix_id: str,
    event_type: str,
    payload: Mapping[str, Any],
    sms: ReceivedSms | None = None,
    phone_account_id: str = "",
) -> SalvyEventOutcome:
    """Record one verified webhook delivery, once per `svix-id` (Svix keeps it on redeliveries).

    An SMS is stored; an account event queues a fetch of the account's current state; other event
    types are kept as deliveries and otherwise ignored.
    """
    with transaction.atomic():
        try:
            with transaction.atomic():
                SalvyDelivery.objects.create(svix_id=svix_id, event_type=event_type[:64], payload=dict(payload))
        except IntegrityError:
            return SalvyEventOutcome(duplicate=True)
        if sms is not None:
            record, created = sms_received_record(sms=sms, source=SmsSource.WEBHOOK)
            return SalvyEventOutcome(
                duplicate=not created, sms_code_id=record.pk, chip_id=record.chip_id, code_found=bool(record.code)
            )
        if phone_account_id:
            transaction.on_commit(lambda: _enqueue_refresh(phone_account_id))
            return SalvyEventOutcome(refresh_queued=True)
        return SalvyEventOutcome(ignored=f"event type {event_type!r} is not used")


# --- helpers ---------------------------------------------------------------------------------------


def _cancelled_by_salvy(chip: Chip, account: PhoneAccount, triggered_by: str) -> None:
    why = f" (reason {account.cancel_reason})" if account.cancel_reason else ""
    _walk_to_cancelled(chip.pk, f"Salvy canceled the number{why}", triggered_by)
    # The number is gone: its gateway instance goes too, as on our own cancel (after commit: the
    # gateway calls must not run under the chip's row lock, nor for a rolled-back change; a failure
    # there is logged and must not stop the sync of the other chips).
    transaction.on_commit(partial(_session_end, chip, triggered_by), robust=True)
    alert_raise(
        chip_id=chip.pk,
        kind="salvy_canceled",
        message=f"Salvy canceled {chip.phone}{why}; the chip is cancelled",
        details={"salvy_account_id": account.id},
    )
    notify("cancelled", f"{chip.phone} was canceled at Salvy{why}; the chip is cancelled")


def _walk_to_cancelled(chip_id: int, reason: str, triggered_by: str) -> None:
    """Cancel a chip through the lifecycle: a ready or active chip goes through `degraded` first."""
    status = Chip.objects.values_list("status", flat=True).get(pk=chip_id)
    if not can_transition(status, ChipStatus.CANCELLED) and can_transition(status, ChipStatus.DEGRADED):
        chip_transition(chip_id=chip_id, to_status=ChipStatus.DEGRADED, reason=reason, triggered_by=triggered_by)
    chip_transition(chip_id=chip_id, to_status=ChipStatus.CANCELLED, reason=reason, triggered_by=triggered_by)


def _session_end(chip: Chip, triggered_by: str) -> None:
    """Log the number out of its gateway and remove its instance there, best effort.

    The number is released whatever the gateway says; a gateway that has no sessions (Cloud API)
    or is unreachable leaves a line in the log, not a failed cancel.
    """
    from chips.sessions import chip_session_logout

    try:
        chip_session_logout(chip_id=chip.pk, triggered_by=triggered_by)
    except Exception as exc:
        log.warning("chip_cancel.logout_failed", chip_id=chip.pk, error=f"{exc.__class__.__name__}: {exc}")
    provider = provider_for(gateway_config(chip.gateway), timeout=settings.GATEWAY_HTTP_TIMEOUT)
    if not provider.sessions_managed:
        return
    try:
        provider.session_delete(chip_address(chip))
    except Exception as exc:
        log.warning("chip_cancel.delete_failed", chip_id=chip.pk, error=f"{exc.__class__.__name__}: {exc}")


def _poll_sms(client: SalvyClient, chip_ids: list[int], report: SyncReport) -> int:
    """Store SMS of the last day that no webhook brought (deduplicated on Salvy's SMS id)."""
    since = timezone.now() - SMS_POLL_WINDOW
    recovered = 0
    for chip in Chip.objects.filter(pk__in=chip_ids, status__in=SMS_POLL_STATUSES).exclude(salvy_id=""):
        try:
            messages = client.sms_messages(chip.salvy_id, page=1, page_size=SMS_POLL_PAGE_SIZE, received_from=since)
        except SalvyError as exc:
            report.errors.append(f"SMS of {chip.phone}: {exc}")
            continue
        for sms in messages:
            try:
                _, created = sms_received_record(sms=sms, source=SmsSource.POLL)
            except DatabaseError as exc:
                report.errors.append(f"SMS {sms.id} of {chip.phone}: {exc.__class__.__name__}")
                continue
            recovered += created
    return recovered


def _enqueue_refresh(phone_account_id: str) -> None:
    from chips.tasks import salvy_account_refresh

    try:
        salvy_account_refresh.apply_async(args=[phone_account_id], retry=False)
    except Exception as exc:  # the broker is down: the periodic sync applies the same state later
        log.error("salvy_sync.refresh_not_queued", salvy_account_id=phone_account_id, error=exc.__class__.__name__)
