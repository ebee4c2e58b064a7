"""A WhatsApp ban: the chip leaves service at once, operators are told, and the number may be released.

Ban signals come from the gateway (close codes such as 401/403 that the adapters flag as a ban)
and from Salvy (`blocked`). Routing reads the chip's status fresh for every send and every
proactive choice, so the committed status is what stops traffic; the per-process webhook route
cache is cleared too so nothing in this process keeps the old status. Webhooks for a banned chip
are still accepted and recorded: we never lose what the contact wrote.
"""

from __future__ import annotations

from functools import partial

import structlog
from django.conf import settings
from django.db import transaction

from chips.lifecycle import ChipStatus
from chips.models import AlertSeverity, Chip, ChipTransition
from chips.notifications import notify
from chips.selectors import forget_routes
from chips.services import alert_raise, chip_transition

log = structlog.get_logger(__name__)

# The reason Salvy's cancel endpoint takes for a number WhatsApp banned.
SALVY_BAN_REASON = "whatsapp-ban"


def chip_ban(*, chip_id: int, reason: str, triggered_by: str) -> ChipTransition | None:
    """Move the chip to `banned` (from any status but cancelled), with a critical alert and a notification.

    Idempotent: a chip already banned is left as it is and None is returned, so repeated ban
    signals raise one alert and one notification. A cancelled chip raises TransitionNotAllowed,
    as the lifecycle table says (its number is already released).
    """
    with transaction.atomic():
        chip = Chip.objects.select_for_update().get(pk=chip_id)
        if chip.status == ChipStatus.BANNED:
            return None
        transition = chip_transition(
            chip_id=chip.pk, to_status=ChipStatus.BANNED, reason=reason[:255], triggered_by=triggered_by
        )
        release = bool(chip.salvy_id) and (chip.cancel_on_ban or settings.CHIP_CANCEL_ON_BAN)
        alert_raise(
            chip_id=chip.pk,
            kind="banned",
            severity=AlertSeverity.CRITICAL,
            # The ban may come from WhatsApp, from Salvy or from an operator: the reason says which.
            message=f"{chip.phone} is banned: {reason}. The chip no longer sends or receives routed traffic.",
            details={
                "reason": reason,
                "from_status": transition.from_status if transition else "",
                "triggered_by": triggered_by,
                "salvy_cancel": release,
            },
        )
        suffix = " The number is being released at Salvy." if release else ""
        notify("banned", f"Chip {chip.phone} ({chip.instance_name}) was banned: {reason}.{suffix}")
        if release:
            transaction.on_commit(partial(_enqueue_salvy_cancel, chip.pk))
        transaction.on_commit(forget_routes)
    log.warning("chip.banned", chip_id=chip_id, reason=reason, triggered_by=triggered_by, salvy_cancel=release)
    return transition


def _enqueue_salvy_cancel(chip_id: int) -> None:
    from chips.tasks import cancel_at_salvy

    try:
        cancel_at_salvy.apply_async(args=[chip_id, SALVY_BAN_REASON], retry=False)
    except Exception as exc:  # the broker is down: the operator must release the number by hand
        log.error("chip.salvy_cancel_not_queued", chip_id=chip_id, error=exc.__class__.__name__)
        alert_raise(
            chip_id=chip_id,
            kind="salvy_cancel_not_queued",
            severity=AlertSeverity.CRITICAL,
            message="The banned number could not be queued for release at Salvy: "
            f"run `cancel_chip {chip_id} --reason {SALVY_BAN_REASON}`.",
        )
